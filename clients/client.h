/*
 * client: the ZeroMQ side of every carehub client (carehub-pub, carehubctl,
 * bench-ingest).
 *
 * A client owns one ZeroMQ context and one DEALER socket connected to the
 * daemon's API endpoint.  Requests go out as two frames, an empty delimiter
 * and the JSON body, so that the daemon answers with the same shape; replies
 * are handed back as the body alone.  Nothing here logs: failures are
 * negative errno codes, and client_open() also describes them in a buffer the
 * caller supplies.  A client is used from one thread.
 */
#ifndef CAREHUB_CLIENT_H
#define CAREHUB_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

/* The environment variable naming the endpoint when no option does. */
#define CLIENT_ENDPOINT_ENV "CAREHUB_ENDPOINT"

/* client_open() flag: also watch the connection (client_monitor_socket()). */
#define CLIENT_MONITOR 0x1u
/*
 * client_open() flag: queue requests only on a connection that is up
 * (client_send() says -EAGAIN otherwise), and discard those not yet written
 * when it drops (ZMQ_IMMEDIATE), so that no stale copy goes out on the next
 * connection.  For callers that resend whatever is unanswered themselves
 * when CLIENT_LINK_CONNECTED comes.
 */
#define CLIENT_IMMEDIATE 0x2u

/* What client_monitor_event() reports. */
enum client_link_event {
    CLIENT_LINK_OTHER = 0,
    CLIENT_LINK_CONNECTED, /* a connection is ready to carry requests */
    CLIENT_LINK_DISCONNECTED,
};

struct client;

/*
 * The endpoint to use: option when it is non-NULL and not empty, otherwise
 * the value of CAREHUB_ENDPOINT when that is set and not empty, otherwise
 * NULL (the caller reports a usage error).  The result is borrowed from the
 * arguments or the environment.
 */
const char *client_endpoint(const char *option);

/*
 * Creates a ZeroMQ context and a DEALER socket connected to endpoint, and
 * stores the new client in *out.  The socket discards unsent messages when
 * closed (ZMQ_LINGER 0), reconnects 100 ms after losing the daemon, backing
 * off to 1 s, and queues without a high-water mark: callers bound what they
 * send themselves.  Connecting is asynchronous, so a daemon that is not
 * running yet is not an error here; requests wait for it (but see
 * CLIENT_IMMEDIATE).  With CLIENT_MONITOR in flags the connection is also
 * watched, see client_monitor_socket().  Returns 0, or a negative errno code (-EINVAL for
 * an endpoint ZeroMQ does not accept) with a sentence for a person in err.
 */
int client_open(struct client **out, const char *endpoint, unsigned flags, char *err,
                size_t err_size);

/* Closes the socket and the context; pending messages are dropped.  NULL is fine. */
void client_close(struct client *client);

/* The endpoint given to client_open(), borrowed for the client's lifetime. */
const char *client_endpoint_of(const struct client *client);

/* The DEALER socket, borrowed, for zmq_poll() with ZMQ_POLLIN. */
void *client_socket(const struct client *client);

/*
 * The socket carrying connection events, borrowed, for zmq_poll() with
 * ZMQ_POLLIN; NULL unless the client was opened with CLIENT_MONITOR.
 */
void *client_monitor_socket(const struct client *client);

/*
 * Reads one pending connection event into *event without waiting.  Returns
 * 0, -EAGAIN when none is pending, -EINVAL without CLIENT_MONITOR, or
 * another negative errno code.
 */
int client_monitor_event(struct client *client, enum client_link_event *event);

/*
 * Queues the len bytes at body as one request, ["", body], without waiting.
 * The bytes are copied.  Returns 0, or a negative errno code (-EAGAIN when
 * ZeroMQ cannot take the message now).
 */
int client_send(struct client *client, const void *body, size_t len);

/*
 * Takes one reply without waiting: skips the empty delimiter frame and
 * stores the body, NUL-terminated, in a new buffer *body (the caller's, to
 * free()) of *len bytes.  Returns 0; -EAGAIN when no reply is waiting;
 * -EPROTO when a message did not have the shape ["", body] or [body] (it is
 * consumed and dropped); or another negative errno code.
 */
int client_receive(struct client *client, char **body, size_t *len);

/*
 * Sends request (which should carry an "id") and waits up to timeout_ms for
 * its reply: the reply with the same id, or an error reply whose id is null
 * (the daemon could not read the request's id).  Replies with other ids,
 * left from earlier requests that timed out, and replies that are not JSON
 * are dropped.  On success *reply is the parsed reply, the caller's to
 * cJSON_Delete(), whatever its "ok" says.  Returns 0; -ETIMEDOUT when no
 * reply came in time; -ENOMEM; or another negative errno code.
 */
int client_request(struct client *client, const cJSON *request, int timeout_ms, cJSON **reply);

/* Milliseconds on the monotonic clock, for deadlines and intervals. */
int64_t client_now_ms(void);

#endif

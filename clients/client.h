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
 *
 * A follower (client_follower_*) follows the daemon's notifications without
 * missing any: it subscribes to the notification (PUB) socket first, then
 * catches up through the API, and fetches through the API whatever the PUB
 * socket announces or loses (docs/protocol.md, "Following notifications
 * without missing any").
 */
#ifndef CAREHUB_CLIENT_H
#define CAREHUB_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

/* The environment variable naming the endpoint when no option does. */
#define CLIENT_ENDPOINT_ENV "CAREHUB_ENDPOINT"
/* The environment variable naming the notification endpoint when no option does. */
#define CLIENT_NOTIFY_ENDPOINT_ENV "CAREHUB_NOTIFY_ENDPOINT"

/* The environment variables naming a client's CURVE keys when no option does. */
#define CLIENT_KEY_FILE_ENV "CAREHUB_KEY_FILE"
#define CLIENT_SERVER_KEY_ENV "CAREHUB_SERVER_KEY"

/*
 * A client's CURVE credentials: the daemon's public key and the client's
 * own key pair (see common/keyfile.h), all Z85.  curve false: plain
 * connections (a daemon without CURVE, for local development).
 */
struct client_security {
    bool curve;
    char server_key[41];
    char public_key[41];
    char secret_key[41];
};

/*
 * Reads a client's credentials: its key-pair file from key_file (an option;
 * when NULL or empty, CAREHUB_KEY_FILE), and the daemon's public key from
 * server_key (an option, else CAREHUB_SERVER_KEY: 40 characters of Z85, or
 * a public-key file).  Neither given: curve false, plain.  One without the
 * other, or a file that cannot be read: a negative errno code with a
 * sentence in err.
 */
int client_security_load(struct client_security *out, const char *key_file, const char *server_key,
                         char *err, size_t err_size);

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

/* The same for the notification endpoint, from CAREHUB_NOTIFY_ENDPOINT. */
const char *client_notify_endpoint(const char *option);

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

/*
 * client_open() with CURVE credentials (security may be NULL, or curve
 * false: plain).  A follower opened on this client uses them too.
 */
int client_open_secure(struct client **out, const char *endpoint, unsigned flags,
                       const struct client_security *security, char *err, size_t err_size);

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

/*
 * Blocks SIGINT and SIGTERM and returns a descriptor that becomes readable
 * when one arrives, for zmq_poll(); or a negative errno code.  Call it
 * before any ZeroMQ context exists, so that ZeroMQ's threads inherit the
 * blocked signals and every one of them waits for the descriptor.
 */
int client_open_signal_fd(void);

/* Milliseconds on the monotonic clock, for deadlines and intervals. */
int64_t client_now_ms(void);

/*
 * Sends request and waits for its reply as client_request() does, and
 * checks that the reply says "ok": true.  Returns 0 with *reply the caller's;
 * -EREMOTEIO when the daemon answered with an error (*reply is still set, for
 * callers that show it); -EPROTO when the reply is not a carehub reply
 * (*reply set too); -ETIMEDOUT, -ENOMEM or another negative errno code with
 * *reply NULL.  In every case a sentence for a person goes into err:
 * "MESSAGE (CODE)" for a daemon's error, "no reply from ENDPOINT within N s"
 * for a timeout.
 */
int client_call(struct client *client, const cJSON *request, int timeout_ms, cJSON **reply,
                char *err, size_t err_size);

/* ---- Following notifications ---- */

/* client_follower_start(): start after the latest notification sent so far. */
#define CLIENT_FOLLOW_NEW (-1)

struct client_follower;

/*
 * Subscribes to the notification socket at notify_endpoint: to every
 * notification when recipient_id is NULL, else to the topics
 * "reminder.<recipient_id>", "escalation.<recipient_id>" and "alert." (a KPI
 * alert's topic names the team); because ZeroMQ matches topic prefixes, and
 * for alerts, only those whose body names exactly that recipient are taken.  Waits up to timeout_ms
 * for the connection to be made, so that client_follower_start() catches up only once new
 * notifications can reach the subscription; a readable stop_fd (a signalfd,
 * say; -1 for none) cuts the wait short.  api is borrowed: the follower asks
 * it ("notifications" op) for the full records, and must not outlive it.
 * recipient_id is copied.  Returns 0 with *out the caller's (free it with
 * client_follower_close()), or a negative errno code (-ETIMEDOUT when no
 * connection was made in time, -EINTR when stop_fd became readable) with a
 * sentence for a person in err.
 */
int client_follower_open(struct client_follower **out, struct client *api,
                         const char *notify_endpoint, const char *recipient_id, int timeout_ms,
                         int stop_fd, char *err, size_t err_size);

void client_follower_close(struct client_follower *follower);

/*
 * Sets where to start: the first notification taken will be the first after
 * sequence number after (0: every notification kept), or, with
 * CLIENT_FOLLOW_NEW, the first sent after this call (it asks the daemon for
 * the latest sequence number).  Call it once, after client_follower_open().
 * Returns 0 or a negative errno code as client_call() does, with
 * client_follower_error() saying why.
 */
int client_follower_start(struct client_follower *follower, int64_t after);

/* The subscription socket, borrowed, for zmq_poll() with ZMQ_POLLIN. */
void *client_follower_socket(const struct client_follower *follower);

/*
 * Reads every message waiting on the subscription socket, without waiting,
 * and notes which of them call for a fetch through the API: any announcing a
 * sequence number not yet taken (the next one, or a later one, which means
 * some were lost), and any it cannot read.  Returns 0 or a negative errno
 * code.
 */
int client_follower_receive(struct client_follower *follower);

/*
 * Asks the API again at the next client_follower_next(), whatever the
 * subscription said.  Call it after a quiet spell: PUB drops messages for a
 * subscriber that is slow or (re)connecting, and a lost message is otherwise
 * noticed only when the next one arrives.
 */
void client_follower_recheck(struct client_follower *follower);

/*
 * Takes the next notification, in sequence order, each once: the full record
 * as the "notifications" op gives it, the caller's to cJSON_Delete().  Asks
 * the API for a page of them when none is held and the subscription (or
 * client_follower_recheck()) says there may be more.  Returns 1 with *out
 * set; 0 when there is nothing more for now (poll the socket and call
 * client_follower_receive()); or a negative errno code as client_call()
 * returns, with client_follower_error() saying why.
 */
int client_follower_next(struct client_follower *follower, cJSON **out);

/* The sequence number of the last notification taken (or the starting point). */
int64_t client_follower_last_seq(const struct client_follower *follower);

/* A sentence for a person about the last failure, borrowed; "" when none. */
const char *client_follower_error(const struct client_follower *follower);

#endif

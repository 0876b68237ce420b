#include "client.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zmq.h>

/* Reconnect quickly after a daemon restart, then back off so a daemon that
 * stays down is not hammered. */
#define CLIENT_RECONNECT_MS 100
#define CLIENT_RECONNECT_MAX_MS 1000

/* Replies larger than this are not from a carehub daemon; refusing them keeps
 * a wrong endpoint from exhausting memory. */
#define CLIENT_MAX_REPLY_BYTES (256LL * 1024 * 1024)

struct client {
    void *context;
    void *socket;
    void *monitor; /* PAIR socket receiving the DEALER's events, or NULL */
    char *endpoint;
};

const char *
client_endpoint(const char *option)
{
    const char *env;

    if (option != NULL && option[0] != '\0')
        return option;
    env = getenv(CLIENT_ENDPOINT_ENV);
    if (env != NULL && env[0] != '\0')
        return env;
    return NULL;
}

static int
set_int_option(void *socket, int option, int value)
{
    return zmq_setsockopt(socket, option, &value, sizeof(value)) == 0 ? 0 : -zmq_errno();
}

static int
configure_socket(void *socket, unsigned flags)
{
    int64_t max_reply = CLIENT_MAX_REPLY_BYTES;
    int r;

    if ((r = set_int_option(socket, ZMQ_LINGER, 0)) < 0 ||
        (r = set_int_option(socket, ZMQ_IMMEDIATE, (flags & CLIENT_IMMEDIATE) ? 1 : 0)) < 0 ||
        (r = set_int_option(socket, ZMQ_RECONNECT_IVL, CLIENT_RECONNECT_MS)) < 0 ||
        (r = set_int_option(socket, ZMQ_RECONNECT_IVL_MAX, CLIENT_RECONNECT_MAX_MS)) < 0 ||
        (r = set_int_option(socket, ZMQ_SNDHWM, 0)) < 0 ||
        (r = set_int_option(socket, ZMQ_RCVHWM, 0)) < 0)
        return r;
    if (zmq_setsockopt(socket, ZMQ_MAXMSGSIZE, &max_reply, sizeof(max_reply)) != 0)
        return -zmq_errno();
    return 0;
}

/*
 * Starts the monitor before connecting so that no connection event is
 * missed.  A connection counts once its handshake is done: only then does a
 * ZMQ_IMMEDIATE socket take messages for it.
 */
static int
start_monitor(struct client *client, char *err, size_t err_size)
{
    char address[64];
    int r;

    snprintf(address, sizeof(address), "inproc://carehub-client-monitor-%p", (void *)client);
    if (zmq_socket_monitor(client->socket, address,
                           ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED) != 0)
        goto fail;
    client->monitor = zmq_socket(client->context, ZMQ_PAIR);
    if (client->monitor == NULL)
        goto fail;
    if (set_int_option(client->monitor, ZMQ_LINGER, 0) < 0 ||
        zmq_connect(client->monitor, address) != 0)
        goto fail;
    return 0;
fail:
    r = zmq_errno();
    snprintf(err, err_size, "cannot watch the connection: %s", zmq_strerror(r));
    return -r;
}

int
client_open(struct client **out, const char *endpoint, unsigned flags, char *err, size_t err_size)
{
    struct client *client;
    int r;

    *out = NULL;
    client = calloc(1, sizeof(*client));
    if (client == NULL || (client->endpoint = strdup(endpoint)) == NULL) {
        snprintf(err, err_size, "out of memory");
        r = -ENOMEM;
        goto fail;
    }
    client->context = zmq_ctx_new();
    if (client->context == NULL) {
        r = -zmq_errno();
        snprintf(err, err_size, "cannot create a ZeroMQ context: %s", zmq_strerror(-r));
        goto fail;
    }
    client->socket = zmq_socket(client->context, ZMQ_DEALER);
    if (client->socket == NULL) {
        r = -zmq_errno();
        snprintf(err, err_size, "cannot create a socket: %s", zmq_strerror(-r));
        goto fail;
    }
    r = configure_socket(client->socket, flags);
    if (r < 0) {
        snprintf(err, err_size, "cannot configure the socket: %s", zmq_strerror(-r));
        goto fail;
    }
    if ((flags & CLIENT_MONITOR) && (r = start_monitor(client, err, err_size)) < 0)
        goto fail;
    if (zmq_connect(client->socket, endpoint) != 0) {
        r = -zmq_errno();
        snprintf(err, err_size, "cannot connect to %s: %s", endpoint, zmq_strerror(-r));
        goto fail;
    }
    *out = client;
    return 0;
fail:
    client_close(client);
    return r;
}

void
client_close(struct client *client)
{
    if (client == NULL)
        return;
    if (client->monitor != NULL)
        zmq_close(client->monitor);
    if (client->socket != NULL)
        zmq_close(client->socket);
    if (client->context != NULL)
        zmq_ctx_term(client->context);
    free(client->endpoint);
    free(client);
}

const char *
client_endpoint_of(const struct client *client)
{
    return client->endpoint;
}

void *
client_socket(const struct client *client)
{
    return client->socket;
}

void *
client_monitor_socket(const struct client *client)
{
    return client->monitor;
}

/* Receives and drops the remaining frames of a message. */
static void
drop_rest(void *socket)
{
    int more = 1;
    size_t size = sizeof(more);
    zmq_msg_t frame;

    while (zmq_getsockopt(socket, ZMQ_RCVMORE, &more, &size) == 0 && more) {
        zmq_msg_init(&frame);
        if (zmq_msg_recv(&frame, socket, 0) < 0) {
            zmq_msg_close(&frame);
            return;
        }
        zmq_msg_close(&frame);
    }
}

int
client_monitor_event(struct client *client, enum client_link_event *event)
{
    zmq_msg_t frame;
    uint16_t number;

    *event = CLIENT_LINK_OTHER;
    if (client->monitor == NULL)
        return -EINVAL;
    zmq_msg_init(&frame);
    if (zmq_msg_recv(&frame, client->monitor, ZMQ_DONTWAIT) < 0) {
        int r = -zmq_errno();

        zmq_msg_close(&frame);
        return r;
    }
    /* First frame: 16-bit event number then a 32-bit value; second: the address. */
    if (zmq_msg_size(&frame) >= sizeof(number)) {
        memcpy(&number, zmq_msg_data(&frame), sizeof(number));
        if (number == ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
            *event = CLIENT_LINK_CONNECTED;
        else if (number == ZMQ_EVENT_DISCONNECTED)
            *event = CLIENT_LINK_DISCONNECTED;
    }
    zmq_msg_close(&frame);
    drop_rest(client->monitor);
    return 0;
}

int
client_send(struct client *client, const void *body, size_t len)
{
    if (zmq_send(client->socket, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
        return -zmq_errno();
    /* A DEALER queues the delimiter and the body atomically, so once the
     * first frame is taken the second cannot fail for lack of room. */
    if (zmq_send(client->socket, body, len, ZMQ_DONTWAIT) < 0)
        return -zmq_errno();
    return 0;
}

/* Copies a frame into a new NUL-terminated buffer. */
static int
copy_frame(zmq_msg_t *frame, char **body, size_t *len)
{
    size_t size = zmq_msg_size(frame);
    char *copy = malloc(size + 1);

    if (copy == NULL)
        return -ENOMEM;
    memcpy(copy, zmq_msg_data(frame), size);
    copy[size] = '\0';
    *body = copy;
    *len = size;
    return 0;
}

int
client_receive(struct client *client, char **body, size_t *len)
{
    zmq_msg_t frame;
    bool more;
    int r;

    *body = NULL;
    *len = 0;
    zmq_msg_init(&frame);
    if (zmq_msg_recv(&frame, client->socket, ZMQ_DONTWAIT) < 0) {
        r = -zmq_errno();
        goto out;
    }
    more = zmq_msg_more(&frame);
    if (zmq_msg_size(&frame) == 0 && more) {
        /* The delimiter; the body follows. */
        zmq_msg_close(&frame);
        zmq_msg_init(&frame);
        if (zmq_msg_recv(&frame, client->socket, ZMQ_DONTWAIT) < 0) {
            r = -zmq_errno();
            goto out;
        }
        more = zmq_msg_more(&frame);
    }
    if (more || zmq_msg_size(&frame) == 0) {
        drop_rest(client->socket);
        r = -EPROTO;
        goto out;
    }
    r = copy_frame(&frame, body, len);
out:
    zmq_msg_close(&frame);
    return r;
}

/*
 * Whether reply answers the request with the given id.  An error reply whose
 * id is null also does: the daemon could not read the id (a message too large
 * to parse, for one), and the request would otherwise wait for nothing.
 */
static bool
reply_matches(const cJSON *reply, const cJSON *id)
{
    const cJSON *reply_id = cJSON_GetObjectItemCaseSensitive(reply, "id");

    if (id == NULL || cJSON_Compare(reply_id, id, true))
        return true;
    return (reply_id == NULL || cJSON_IsNull(reply_id)) &&
           cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(reply, "ok"));
}

int
client_request(struct client *client, const cJSON *request, int timeout_ms, cJSON **reply)
{
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(request, "id");
    int64_t deadline = client_now_ms() + timeout_ms;
    char *text;
    int r;

    *reply = NULL;
    text = cJSON_PrintUnformatted(request);
    if (text == NULL)
        return -ENOMEM;
    r = client_send(client, text, strlen(text));
    free(text);
    if (r < 0)
        return r;
    for (;;) {
        zmq_pollitem_t item = {.socket = client->socket, .events = ZMQ_POLLIN};
        int64_t left = deadline - client_now_ms();
        char *body;
        size_t len;
        cJSON *parsed;

        if (left <= 0)
            return -ETIMEDOUT;
        if (zmq_poll(&item, 1, (long)left) < 0) {
            if (zmq_errno() == EINTR)
                continue;
            return -zmq_errno();
        }
        for (;;) {
            r = client_receive(client, &body, &len);
            if (r == -EAGAIN)
                break;
            if (r == -EPROTO)
                continue;
            if (r < 0)
                return r;
            parsed = cJSON_ParseWithLength(body, len);
            free(body);
            if (parsed == NULL)
                continue;
            if (!reply_matches(parsed, id)) {
                cJSON_Delete(parsed);
                continue;
            }
            *reply = parsed;
            return 0;
        }
    }
}

int64_t
client_now_ms(void)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

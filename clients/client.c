#include "client.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>

#include <zmq.h>

#include "keyfile.h"
#include "wire.h"

/* Reconnect quickly after a daemon restart, then back off so a daemon that
 * stays down is not hammered. */
#define CLIENT_RECONNECT_MS 100
#define CLIENT_RECONNECT_MAX_MS 1000

/* Replies larger than this are not from a carehub daemon; refusing them keeps
 * a wrong endpoint from exhausting memory. */
#define CLIENT_MAX_REPLY_BYTES (256LL * 1024 * 1024)

/* Notifications asked for in one "notifications" request while following. */
#define CLIENT_FOLLOW_PAGE 500
/* Bounds on the subscription: messages queued, and the size of one (a body is ~150 bytes). */
#define CLIENT_FOLLOW_HWM 10000
#define CLIENT_FOLLOW_MAX_MESSAGE_BYTES 65536
/* The largest sequence number the "notifications" op accepts (2^53). */
#define CLIENT_SEQ_MAX 9007199254740992LL

struct client {
    void *context;
    void *socket;
    void *monitor; /* PAIR socket receiving the DEALER's events, or NULL */
    char *endpoint;
    struct client_security security; /* curve false: plain */
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

const char *
client_notify_endpoint(const char *option)
{
    const char *env;

    if (option != NULL && option[0] != '\0')
        return option;
    env = getenv(CLIENT_NOTIFY_ENDPOINT_ENV);
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
client_security_load(struct client_security *out, const char *key_file, const char *server_key,
                     char *err, size_t err_size)
{
    int r;

    memset(out, 0, sizeof(*out));
    if (key_file == NULL || key_file[0] == '\0')
        key_file = getenv(CLIENT_KEY_FILE_ENV);
    if (server_key == NULL || server_key[0] == '\0')
        server_key = getenv(CLIENT_SERVER_KEY_ENV);
    if (key_file != NULL && key_file[0] == '\0')
        key_file = NULL;
    if (server_key != NULL && server_key[0] == '\0')
        server_key = NULL;
    if (key_file == NULL && server_key == NULL)
        return 0;
    if (key_file == NULL || server_key == NULL) {
        snprintf(err, err_size,
                 "CURVE needs both the client's key file (--key-file or " CLIENT_KEY_FILE_ENV
                 ") and the daemon's public key (--server-key or " CLIENT_SERVER_KEY_ENV ")");
        return -EINVAL;
    }
    if ((r = keyfile_read_pair(key_file, out->public_key, out->secret_key, err, err_size)) < 0 ||
        (r = keyfile_read_public(server_key, out->server_key, err, err_size)) < 0) {
        explicit_bzero(out, sizeof(*out));
        return r;
    }
    out->curve = true;
    return 0;
}

/* Makes socket a CURVE client of the daemon when security says so. */
static int
apply_security(void *socket, const struct client_security *security)
{
    if (security == NULL || !security->curve)
        return 0;
    if (zmq_setsockopt(socket, ZMQ_CURVE_SERVERKEY, security->server_key, 41) != 0 ||
        zmq_setsockopt(socket, ZMQ_CURVE_PUBLICKEY, security->public_key, 41) != 0 ||
        zmq_setsockopt(socket, ZMQ_CURVE_SECRETKEY, security->secret_key, 41) != 0)
        return -zmq_errno();
    return 0;
}

int
client_open(struct client **out, const char *endpoint, unsigned flags, char *err, size_t err_size)
{
    return client_open_secure(out, endpoint, flags, NULL, err, err_size);
}

int
client_open_secure(struct client **out, const char *endpoint, unsigned flags,
                   const struct client_security *security, char *err, size_t err_size)
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
    if (security != NULL)
        client->security = *security;
    r = configure_socket(client->socket, flags);
    if (r == 0)
        r = apply_security(client->socket, &client->security);
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
    explicit_bzero(&client->security, sizeof(client->security));
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

int
client_call(struct client *client, const cJSON *request, int timeout_ms, cJSON **reply, char *err,
            size_t err_size)
{
    const char *code, *message;
    int r = client_request(client, request, timeout_ms, reply);

    if (r == -ETIMEDOUT) {
        snprintf(err, err_size, "no reply from %s within %g s", client->endpoint,
                 timeout_ms / 1000.0);
        return r;
    }
    if (r < 0) {
        snprintf(err, err_size, "%s: %s", client->endpoint, strerror(-r));
        return r;
    }
    r = wire_reply_status(*reply, &code, &message);
    if (r == -EREMOTEIO) {
        snprintf(err, err_size, "%s (%s)", message != NULL ? message : "the daemon gave no reason",
                 code != NULL ? code : "error");
        return r;
    }
    if (r < 0) {
        snprintf(err, err_size, "the reply from %s is not a carehub reply", client->endpoint);
        return -EPROTO;
    }
    err[0] = '\0';
    return 0;
}

/* ---- Following notifications ---- */

struct client_follower {
    struct client *api; /* borrowed */
    void *context;
    void *socket;       /* SUB */
    char *recipient_id; /* NULL: every recipient */
    int timeout_ms;
    int64_t fetched_seq; /* the highest sequence number fetched (held or taken) */
    int64_t taken_seq;
    bool fetch;  /* ask the API at the next client_follower_next() */
    cJSON *held; /* fetched, not yet taken, in sequence order */
    double request_id;
    char error[512];
};

/* Subscribes to one topic prefix: "<type>.<id>", or everything when type is NULL. */
static int
subscribe(void *socket, const char *type, const char *id)
{
    char topic[320];
    int size = 0;

    if (type != NULL)
        size = snprintf(topic, sizeof(topic), "%s.%s", type, id);
    if (size < 0 || (size_t)size >= sizeof(topic))
        return -EINVAL;
    return zmq_setsockopt(socket, ZMQ_SUBSCRIBE, topic, (size_t)size) == 0 ? 0 : -zmq_errno();
}

static int
configure_subscriber(struct client_follower *follower)
{
    int64_t max_size = CLIENT_FOLLOW_MAX_MESSAGE_BYTES;
    void *socket = follower->socket;
    int r;

    if ((r = set_int_option(socket, ZMQ_LINGER, 0)) < 0 ||
        (r = set_int_option(socket, ZMQ_RCVHWM, CLIENT_FOLLOW_HWM)) < 0 ||
        (r = set_int_option(socket, ZMQ_RECONNECT_IVL, CLIENT_RECONNECT_MS)) < 0 ||
        (r = set_int_option(socket, ZMQ_RECONNECT_IVL_MAX, CLIENT_RECONNECT_MAX_MS)) < 0)
        return r;
    if (zmq_setsockopt(socket, ZMQ_MAXMSGSIZE, &max_size, sizeof(max_size)) != 0)
        return -zmq_errno();
    if (follower->recipient_id == NULL)
        return subscribe(socket, NULL, NULL);
    /*
     * A KPI alert's topic names the team, not the recipient ("alert.T12"):
     * every alert is taken, and receive_announcement() skips those whose
     * body names someone else.
     */
    if ((r = subscribe(socket, "reminder", follower->recipient_id)) < 0 ||
        (r = subscribe(socket, "escalation", follower->recipient_id)) < 0 ||
        (r = subscribe(socket, "alert", "")) < 0)
        return r;
    return 0;
}

/*
 * Connects and waits up to timeout_ms for the handshake, watching the socket
 * through a monitor that is stopped again afterwards.  A subscription made
 * before the connection is up would miss what is published meanwhile, after
 * the catch-up through the API has looked.
 */
static int
connect_and_wait(struct client_follower *follower, const char *endpoint, int stop_fd, char *err,
                 size_t err_size)
{
    char address[80];
    void *monitor = NULL;
    int64_t deadline = client_now_ms() + follower->timeout_ms;
    int r = 0;

    snprintf(address, sizeof(address), "inproc://carehub-follower-monitor-%p", (void *)follower);
    if (zmq_socket_monitor(follower->socket, address, ZMQ_EVENT_HANDSHAKE_SUCCEEDED) != 0 ||
        (monitor = zmq_socket(follower->context, ZMQ_PAIR)) == NULL ||
        set_int_option(monitor, ZMQ_LINGER, 0) < 0 || zmq_connect(monitor, address) != 0) {
        r = -zmq_errno();
        snprintf(err, err_size, "cannot watch the connection: %s", zmq_strerror(-r));
        goto out;
    }
    if (zmq_connect(follower->socket, endpoint) != 0) {
        r = -zmq_errno();
        snprintf(err, err_size, "cannot connect to %s: %s", endpoint, zmq_strerror(-r));
        goto out;
    }
    for (;;) {
        zmq_pollitem_t items[2] = {{.socket = monitor, .events = ZMQ_POLLIN},
                                   {.fd = stop_fd, .events = ZMQ_POLLIN}};
        int64_t left = deadline - client_now_ms();
        zmq_msg_t frame;
        uint16_t number = 0;

        if (left <= 0) {
            r = -ETIMEDOUT;
            snprintf(err, err_size, "no connection to the notification socket %s within %g s",
                     endpoint, follower->timeout_ms / 1000.0);
            goto out;
        }
        if (zmq_poll(items, stop_fd >= 0 ? 2 : 1, (long)left) < 0) {
            if (zmq_errno() == EINTR)
                continue;
            r = -zmq_errno();
            snprintf(err, err_size, "cannot wait for %s: %s", endpoint, zmq_strerror(-r));
            goto out;
        }
        if (stop_fd >= 0 && (items[1].revents & ZMQ_POLLIN)) {
            r = -EINTR;
            snprintf(err, err_size, "interrupted while connecting to %s", endpoint);
            goto out;
        }
        if (!(items[0].revents & ZMQ_POLLIN))
            continue;
        zmq_msg_init(&frame);
        if (zmq_msg_recv(&frame, monitor, ZMQ_DONTWAIT) >= 0 &&
            zmq_msg_size(&frame) >= sizeof(number))
            memcpy(&number, zmq_msg_data(&frame), sizeof(number));
        zmq_msg_close(&frame);
        drop_rest(monitor);
        if (number == ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
            break;
    }
out:
    zmq_socket_monitor(follower->socket, NULL, 0);
    if (monitor != NULL)
        zmq_close(monitor);
    return r;
}

int
client_follower_open(struct client_follower **out, struct client *api, const char *notify_endpoint,
                     const char *recipient_id, int timeout_ms, int stop_fd, char *err,
                     size_t err_size)
{
    struct client_follower *follower;
    int r;

    *out = NULL;
    follower = calloc(1, sizeof(*follower));
    if (follower == NULL || (follower->held = cJSON_CreateArray()) == NULL ||
        (recipient_id != NULL && (follower->recipient_id = strdup(recipient_id)) == NULL)) {
        snprintf(err, err_size, "out of memory");
        r = -ENOMEM;
        goto fail;
    }
    follower->api = api;
    follower->timeout_ms = timeout_ms;
    follower->context = zmq_ctx_new();
    if (follower->context == NULL ||
        (follower->socket = zmq_socket(follower->context, ZMQ_SUB)) == NULL) {
        r = -zmq_errno();
        snprintf(err, err_size, "cannot create a socket: %s", zmq_strerror(-r));
        goto fail;
    }
    r = configure_subscriber(follower);
    if (r == 0)
        r = apply_security(follower->socket, &api->security);
    if (r < 0) {
        snprintf(err, err_size, "cannot subscribe: %s", zmq_strerror(-r));
        goto fail;
    }
    r = connect_and_wait(follower, notify_endpoint, stop_fd, err, err_size);
    if (r < 0)
        goto fail;
    *out = follower;
    return 0;
fail:
    client_follower_close(follower);
    return r;
}

void
client_follower_close(struct client_follower *follower)
{
    if (follower == NULL)
        return;
    if (follower->socket != NULL)
        zmq_close(follower->socket);
    if (follower->context != NULL)
        zmq_ctx_term(follower->context);
    cJSON_Delete(follower->held);
    free(follower->recipient_id);
    free(follower);
}

void *
client_follower_socket(const struct client_follower *follower)
{
    return follower->socket;
}

int64_t
client_follower_last_seq(const struct client_follower *follower)
{
    return follower->taken_seq;
}

const char *
client_follower_error(const struct client_follower *follower)
{
    return follower->error;
}

void
client_follower_recheck(struct client_follower *follower)
{
    follower->fetch = true;
}

/* A whole sequence number from a JSON member, or -1. */
static int64_t
seq_of(const cJSON *object)
{
    const cJSON *seq = cJSON_GetObjectItemCaseSensitive(object, "seq");

    if (!cJSON_IsNumber(seq) || !(seq->valuedouble >= 1) || seq->valuedouble > CLIENT_SEQ_MAX ||
        seq->valuedouble != (double)(int64_t)seq->valuedouble)
        return -1;
    return (int64_t)seq->valuedouble;
}

/*
 * One "notifications" request: those after sequence number after, at most
 * limit, for the follower's recipient if it has one; the reply's "last_seq"
 * (the latest number the daemon has given) goes into *last_seq.  With keep,
 * those after fetched_seq are held, in order, and another page is asked for
 * next time when this one was full.
 */
static int
fetch_page(struct client_follower *follower, int64_t after, int limit, bool keep, int64_t *last_seq)
{
    cJSON *request = wire_request_new("notifications", ++follower->request_id);
    cJSON *reply = NULL;
    const cJSON *last;
    cJSON *list;
    int count = 0;
    int r = -ENOMEM;

    if (request == NULL || cJSON_AddNumberToObject(request, "after", (double)after) == NULL ||
        cJSON_AddNumberToObject(request, "limit", limit) == NULL ||
        (follower->recipient_id != NULL &&
         cJSON_AddStringToObject(request, "recipient_id", follower->recipient_id) == NULL)) {
        snprintf(follower->error, sizeof(follower->error), "out of memory");
        goto out;
    }
    r = client_call(follower->api, request, follower->timeout_ms, &reply, follower->error,
                    sizeof(follower->error));
    if (r < 0)
        goto out;
    list = cJSON_GetObjectItemCaseSensitive(reply, "notifications");
    last = cJSON_GetObjectItemCaseSensitive(reply, "last_seq");
    if (!cJSON_IsArray(list) || !cJSON_IsNumber(last) || !(last->valuedouble >= 0) ||
        last->valuedouble > CLIENT_SEQ_MAX) {
        snprintf(follower->error, sizeof(follower->error),
                 "the reply from %s to \"notifications\" has no list of notifications",
                 client_endpoint_of(follower->api));
        r = -EPROTO;
        goto out;
    }
    *last_seq = (int64_t)last->valuedouble;
    while (list->child != NULL) {
        cJSON *notification = cJSON_DetachItemViaPointer(list, list->child);
        int64_t seq = seq_of(notification);

        count++;
        if (keep && seq > follower->fetched_seq) {
            cJSON_AddItemToArray(follower->held, notification);
            follower->fetched_seq = seq;
        } else {
            cJSON_Delete(notification);
        }
    }
    /* A full page: there may be more after it. */
    follower->fetch = keep && count >= limit;
    r = 0;
out:
    cJSON_Delete(reply);
    cJSON_Delete(request);
    return r;
}

int
client_follower_start(struct client_follower *follower, int64_t after)
{
    int64_t last_seq;
    int r;

    if (after != CLIENT_FOLLOW_NEW) {
        follower->fetched_seq = follower->taken_seq = after;
        follower->fetch = true;
        return 0;
    }
    /* Nothing is after the largest number there can be: the reply carries only last_seq. */
    r = fetch_page(follower, CLIENT_SEQ_MAX, 1, false, &last_seq);
    if (r < 0)
        return r;
    follower->fetched_seq = follower->taken_seq = last_seq;
    return 0;
}

/* Takes one message off the subscription socket; -EAGAIN when none is waiting. */
static int
receive_announcement(struct client_follower *follower)
{
    zmq_msg_t frame;
    cJSON *body = NULL;
    const char *recipient;
    int64_t seq;
    int r = 0;

    zmq_msg_init(&frame);
    if (zmq_msg_recv(&frame, follower->socket, ZMQ_DONTWAIT) < 0) {
        r = -zmq_errno();
        zmq_msg_close(&frame);
        return r;
    }
    /* The topic frame; the body follows. */
    if (zmq_msg_more(&frame)) {
        zmq_msg_close(&frame);
        zmq_msg_init(&frame);
        if (zmq_msg_recv(&frame, follower->socket, ZMQ_DONTWAIT) >= 0)
            body = cJSON_ParseWithLength(zmq_msg_data(&frame), zmq_msg_size(&frame));
        if (zmq_msg_more(&frame))
            drop_rest(follower->socket);
    }
    zmq_msg_close(&frame);
    seq = seq_of(body);
    recipient = wire_get_string(body, "recipient_id");
    if (seq < 0) {
        follower->fetch = true; /* cannot tell what it was: ask */
    } else if (follower->recipient_id != NULL && recipient != NULL &&
               strcmp(recipient, follower->recipient_id) != 0) {
        /* Someone whose id starts with ours ("M10" for "M1"). */
    } else if (seq > follower->fetched_seq) {
        /*
         * The next one, or a later one (some were lost on the way).  Either
         * way the full record comes from the API, from the last one fetched.
         */
        follower->fetch = true;
    }
    cJSON_Delete(body);
    return 0;
}

int
client_follower_receive(struct client_follower *follower)
{
    int r;

    while ((r = receive_announcement(follower)) == 0)
        ;
    return r == -EAGAIN || r == -EINTR ? 0 : r;
}

int
client_follower_next(struct client_follower *follower, cJSON **out)
{
    int64_t last_seq;
    int r;

    *out = NULL;
    if (follower->held->child == NULL && follower->fetch) {
        r = fetch_page(follower, follower->fetched_seq, CLIENT_FOLLOW_PAGE, true, &last_seq);
        if (r < 0)
            return r;
    }
    if (follower->held->child == NULL)
        return 0;
    *out = cJSON_DetachItemViaPointer(follower->held, follower->held->child);
    follower->taken_seq = seq_of(*out);
    return 1;
}

int
client_open_signal_fd(void)
{
    sigset_t signals;
    int fd;

    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    if (sigprocmask(SIG_BLOCK, &signals, NULL) < 0)
        return -errno;
    fd = signalfd(-1, &signals, SFD_NONBLOCK | SFD_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

#include "zap.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* A draft option in libzmq 4.3 (zmq.h shows it only with ZMQ_BUILD_DRAFT_API). */
#ifndef ZMQ_ZAP_ENFORCE_DOMAIN
#define ZMQ_ZAP_ENFORCE_DOMAIN 93
#endif

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"

static void log_refusal(struct zap *zap, const char *verb, const char *address, const char *text);

/* Why a handshake failed, from the value of ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL. */
static const char *
protocol_failure(uint32_t value)
{
    if (value == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH)
        return "its security mechanism does not match (a client without CURVE keys, or with "
               "them against a daemon without CURVE)";
    if (value == ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC)
        return "a cryptographic error (a client with the wrong server key?)";
    if ((value & 0xff000000u) == ZMQ_PROTOCOL_ERROR_ZMTP_UNSPECIFIED)
        return "it does not speak ZeroMQ's protocol (garbage, or another program)";
    return "a protocol error";
}

/* Notes connection fd (only a log line is lost when memory runs out). */
static void
connection_add(struct zap *zap, int fd)
{
    if (zap->open_count == zap->open_capacity) {
        int capacity = zap->open_capacity ? zap->open_capacity * 2 : 64;
        struct zap_connection *grown = realloc(zap->open, (size_t)capacity * sizeof(*grown));
        if (grown == NULL)
            return;
        zap->open = grown;
        zap->open_capacity = capacity;
    }
    zap->open[zap->open_count].fd = fd;
    zap->open[zap->open_count].handshakes_ended = zap->handshakes_ended;
    zap->open_count++;
}

/*
 * Forgets connection fd; true when no handshake at all ended while it was
 * open, so that its own cannot have: libzmq dropped it in its handshake
 * without saying why (bytes that are not ZMTP, or a ZMTP 1.0 peer).  The
 * handshake events do not name their connection, hence this count.
 */
static bool
connection_remove(struct zap *zap, int fd)
{
    for (int i = zap->open_count - 1; i >= 0; i--) {
        if (zap->open[i].fd == fd) {
            bool silent = zap->open[i].handshakes_ended == zap->handshakes_ended;
            zap->open[i] = zap->open[--zap->open_count];
            return silent;
        }
    }
    return false;
}

/*
 * Handles one event of a watched socket: first is its first frame (event
 * number, then a 32-bit value), address its second (the endpoint) or NULL.
 * Connections are counted; failed handshakes are logged (those the handler
 * refused were logged when it refused them).
 */
static void
handle_event(struct zap *zap, zmq_msg_t *first, zmq_msg_t *address)
{
    uint16_t number;
    uint32_t value = 0;
    char where[128] = "";

    if (zmq_msg_size(first) < sizeof(number))
        return;
    memcpy(&number, zmq_msg_data(first), sizeof(number));
    if (zmq_msg_size(first) >= sizeof(number) + sizeof(value))
        memcpy(&value, (const char *)zmq_msg_data(first) + sizeof(number), sizeof(value));
    if (address != NULL)
        snprintf(where, sizeof(where), "%.*s", (int)zmq_msg_size(address),
                 (const char *)zmq_msg_data(address));
    /*
     * ACCEPTED and DISCONNECTED carry the descriptor; the handshake events do
     * not, but a failure comes just before the DISCONNECTED of its connection.
     */
    if (number == ZMQ_EVENT_ACCEPTED) {
        zap->connections++;
        connection_add(zap, (int)value);
    } else if (number == ZMQ_EVENT_DISCONNECTED) {
        if (zap->connections > 0)
            zap->connections--;
        if (connection_remove(zap, (int)value) && !zap->last_failed) {
            zap->refused++;
            log_refusal(zap, "dropped", where,
                        "it sent what is not ZeroMQ's protocol (or closed) before its handshake "
                        "completed");
        }
    } else if (number == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
        zap->handshakes_ended++;
    } else if (number == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
        zap->handshakes_ended++; /* the handler logged why */
    } else if (number == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL) {
        zap->handshakes_ended++;
        zap->refused++;
        log_refusal(zap, "dropped", where, protocol_failure(value));
    } else if (number == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) {
        zap->handshakes_ended++;
        zap->refused++;
        log_refusal(zap, "dropped", where,
                    "its handshake did not complete (limits.handshake_timeout_ms passed, or "
                    "the client went away)");
    }
    zap->last_failed = number == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH ||
                       number == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL ||
                       number == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL;
}

static void
on_watch_event(struct bus *bus, struct bus_message *message)
{
    struct zap_watch *watch = bus->data;

    if (message->count > 0)
        handle_event(watch->zap, &message->frames[0],
                     message->count > 1 ? &message->frames[1] : NULL);
}

/*
 * Reads the events the watched sockets have sent but the loop has not
 * handled yet, so that the count includes the connection being decided.
 */
static void
drain_watches(struct zap *zap)
{
    for (int i = 0; i < zap->watch_count; i++) {
        void *socket = zap->watches[i].socket;
        for (int n = 0; n < BUS_BUDGET; n++) {
            zmq_msg_t first, second;
            bool two = false;
            int more;
            zmq_msg_init(&first);
            if (zmq_msg_recv(&first, socket, ZMQ_DONTWAIT) < 0) {
                zmq_msg_close(&first);
                break;
            }
            more = zmq_msg_more(&first);
            zmq_msg_init(&second);
            if (more && zmq_msg_recv(&second, socket, ZMQ_DONTWAIT) >= 0) {
                two = true;
                more = zmq_msg_more(&second);
            }
            handle_event(zap, &first, two ? &second : NULL);
            zmq_msg_close(&first);
            zmq_msg_close(&second);
            while (more) {
                zmq_msg_t rest;
                zmq_msg_init(&rest);
                more = zmq_msg_recv(&rest, socket, ZMQ_DONTWAIT) >= 0 && zmq_msg_more(&rest);
                zmq_msg_close(&rest);
            }
        }
    }
}

/*
 * Logs a refusal, at most ZAP_LOG_PER_SECOND a second: a client refused
 * again and again (a loop of unknown keys) must not fill the disk.  The
 * refusals left out are counted and summed up in the next line logged.
 */
static void
log_refusal(struct zap *zap, const char *verb, const char *address, const char *text)
{
    uint64_t second = uv_now(zap->bus.poll.loop) / 1000;

    if (second != zap->log_second) {
        zap->log_second = second;
        zap->logged_this_second = 0;
    }
    if (zap->logged_this_second >= ZAP_LOG_PER_SECOND) {
        zap->suppressed++;
        return;
    }
    zap->logged_this_second++;
    if (zap->suppressed > 0) {
        log_warning("refused or dropped %lu more connections not logged one by one (over %d a "
                    "second)",
                    zap->suppressed, ZAP_LOG_PER_SECOND);
        zap->suppressed = 0;
    }
    log_warning("%s a connection %s %s: %s", verb, strcmp(verb, "refused") == 0 ? "from" : "to",
                address[0] ? address : "a local client", text);
}

static void
on_request(struct bus *bus, struct bus_message *message)
{
    struct zap *zap = bus->data;
    const void *frames[BUS_FRAMES_MAX];
    size_t sizes[BUS_FRAMES_MAX];
    char status[4], text[200], user_id[AUTH_KEY_Z85 + 1], address[64];
    const struct auth_key *key;
    enum auth_role role;

    for (int i = 0; i < message->count; i++) {
        frames[i] = zmq_msg_data(&message->frames[i]);
        sizes[i] = zmq_msg_size(&message->frames[i]);
    }
    role = auth_zap_decide(*zap->keys, ZAP_DOMAIN, zap->curve, frames, sizes,
                           message->truncated ? BUS_FRAMES_MAX + 1 : message->count, status, text,
                           sizeof(text), user_id, &key);
    snprintf(address, sizeof(address), "%.*s", message->count > 3 ? (int)sizes[3] : 0,
             message->count > 3 ? (const char *)frames[3] : "");
    drain_watches(zap);
    if (role != AUTH_NONE && zap->max_connections != NULL &&
        zap->connections > *zap->max_connections) {
        /* Counted at accept, so the one being decided is among them. */
        role = AUTH_NONE;
        key = NULL;
        user_id[0] = '\0';
        memcpy(status, "400", 4);
        snprintf(text, sizeof(text), "too many connections (%d open, limits.max_connections is %d)",
                 zap->connections, *zap->max_connections);
    }
    if (role == AUTH_NONE) {
        zap->refused++;
        log_refusal(zap, "refused", address, text);
    } else {
        zap->admitted++;
        if (key != NULL)
            log_info("admitted %s (%s) from %s", key->name, auth_role_name(role),
                     address[0] ? address : "a local client");
    }
    {
        const void *reply[6] = {"1.0", message->count > 1 ? frames[1] : "", status, text, user_id,
                                ""};
        size_t reply_sizes[6] = {
            3, message->count > 1 ? sizes[1] : 0, 3, strlen(text), strlen(user_id), 0};
        int r = bus_send(bus, reply, reply_sizes, 6);
        if (r < 0)
            log_error("cannot answer a ZAP request: %s", zmq_strerror(-r));
    }
}

int
zap_open(struct zap *zap, uv_loop_t *loop, void *context, const struct auth_keys *const *keys,
         bool curve, const int *max_connections, char *err, size_t err_size)
{
    int linger = 0;
    int r;

    memset(zap, 0, sizeof(*zap));
    zap->keys = keys;
    zap->curve = curve;
    zap->max_connections = max_connections;
    zap->context = context;
    zap->socket = zmq_socket(context, ZMQ_REP);
    if (zap->socket == NULL) {
        r = -zmq_errno();
        snprintf(err, err_size, "cannot create the ZAP handler's socket: %s", zmq_strerror(-r));
        return r;
    }
    zmq_setsockopt(zap->socket, ZMQ_LINGER, &linger, sizeof(linger));
    if (zmq_bind(zap->socket, ZAP_ENDPOINT) != 0) {
        r = -zmq_errno();
        snprintf(err, err_size, "cannot bind the ZAP handler at %s: %s", ZAP_ENDPOINT,
                 zmq_strerror(-r));
        return r;
    }
    r = bus_init(&zap->bus, loop, zap->socket, on_request, zap);
    if (r < 0) {
        snprintf(err, err_size, "cannot watch the ZAP handler's socket: %s", uv_strerror(r));
        return r;
    }
    return 0;
}

int
zap_watch(struct zap *zap, void *socket, char *err, size_t err_size)
{
    struct zap_watch *watch;
    char address[64];
    int zero = 0, r;

    if (zap->watch_count == ZAP_WATCH_MAX) {
        snprintf(err, err_size, "cannot count the connections of more than %d sockets",
                 ZAP_WATCH_MAX);
        return -ENOSPC;
    }
    watch = &zap->watches[zap->watch_count];
    watch->zap = zap;
    snprintf(address, sizeof(address), "inproc://carehub-zap-watch-%d", zap->watch_count);
    if (zmq_socket_monitor(socket, address,
                           ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED |
                               ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
                               ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL) != 0)
        goto fail;
    watch->socket = zmq_socket(zap->context, ZMQ_PAIR);
    if (watch->socket == NULL)
        goto fail;
    zap->watch_count++; /* zap_free() closes it from here on */
    /* No high-water mark: a lost event would leave the count wrong for good. */
    if (zmq_setsockopt(watch->socket, ZMQ_RCVHWM, &zero, sizeof(zero)) != 0 ||
        zmq_setsockopt(watch->socket, ZMQ_LINGER, &zero, sizeof(zero)) != 0 ||
        zmq_connect(watch->socket, address) != 0)
        goto fail;
    r = bus_init(&watch->bus, zap->bus.poll.loop, watch->socket, on_watch_event, watch);
    if (r < 0) {
        snprintf(err, err_size, "cannot watch the connections: %s", uv_strerror(r));
        return r;
    }
    watch->open = true;
    return 0;
fail:
    r = -zmq_errno();
    snprintf(err, err_size, "cannot count the connections: %s", zmq_strerror(-r));
    return r;
}

static void
on_handle_closed(struct zap *zap)
{
    if (--zap->closing == 0 && zap->on_closed != NULL)
        zap->on_closed(zap);
}

static void
on_zap_bus_closed(struct bus *bus)
{
    on_handle_closed(bus->data);
}

static void
on_watch_bus_closed(struct bus *bus)
{
    struct zap_watch *watch = bus->data;

    watch->open = false;
    on_handle_closed(watch->zap);
}

void
zap_close(struct zap *zap, void (*on_closed)(struct zap *zap))
{
    zap->on_closed = on_closed;
    zap->closing = 1;
    for (int i = 0; i < zap->watch_count; i++)
        if (zap->watches[i].open)
            zap->closing++;
    bus_close(&zap->bus, on_zap_bus_closed);
    for (int i = 0; i < zap->watch_count; i++)
        if (zap->watches[i].open)
            bus_close(&zap->watches[i].bus, on_watch_bus_closed);
}

void
zap_free(struct zap *zap)
{
    for (int i = 0; i < zap->watch_count; i++) {
        if (zap->watches[i].socket != NULL)
            zmq_close(zap->watches[i].socket);
        zap->watches[i].socket = NULL;
    }
    zap->watch_count = 0;
    free(zap->open);
    zap->open = NULL;
    zap->open_count = zap->open_capacity = 0;
    if (zap->socket != NULL)
        zmq_close(zap->socket);
    zap->socket = NULL;
}

int
zap_require(void *socket, char *err, size_t err_size)
{
    int on = 1, value = 0;
    size_t size = sizeof(value);

    if (zmq_setsockopt(socket, ZMQ_ZAP_DOMAIN, ZAP_DOMAIN, strlen(ZAP_DOMAIN)) != 0 ||
        zmq_setsockopt(socket, ZMQ_ZAP_ENFORCE_DOMAIN, &on, sizeof(on)) != 0) {
        int r = -zmq_errno();
        snprintf(err, err_size,
                 "this libzmq does not take ZMQ_ZAP_ENFORCE_DOMAIN (%s): without it a client "
                 "with an unknown key could connect, so carehubd will not start",
                 zmq_strerror(-r));
        return r;
    }
    if (zmq_getsockopt(socket, ZMQ_ZAP_ENFORCE_DOMAIN, &value, &size) != 0 || value != 1) {
        snprintf(err, err_size,
                 "ZMQ_ZAP_ENFORCE_DOMAIN did not hold on the socket: without it a client with "
                 "an unknown key could connect, so carehubd will not start");
        return -ENOTSUP;
    }
    return 0;
}

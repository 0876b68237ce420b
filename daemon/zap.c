#include "zap.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "log.h"

/* A draft option in libzmq 4.3 (zmq.h shows it only with ZMQ_BUILD_DRAFT_API). */
#ifndef ZMQ_ZAP_ENFORCE_DOMAIN
#define ZMQ_ZAP_ENFORCE_DOMAIN 93
#endif

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"

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
    role = auth_zap_decide(*zap->keys, ZAP_DOMAIN, frames, sizes,
                           message->truncated ? BUS_FRAMES_MAX + 1 : message->count, status, text,
                           sizeof(text), user_id, &key);
    snprintf(address, sizeof(address), "%.*s", message->count > 3 ? (int)sizes[3] : 0,
             message->count > 3 ? (const char *)frames[3] : "");
    if (role == AUTH_NONE) {
        zap->refused++;
        log_warning("refused a connection from %s: %s", address[0] ? address : "a local client",
                    text);
    } else {
        zap->admitted++;
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
         char *err, size_t err_size)
{
    int linger = 0;
    int r;

    memset(zap, 0, sizeof(*zap));
    zap->keys = keys;
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

void
zap_close(struct zap *zap, void (*on_closed)(struct bus *bus))
{
    bus_close(&zap->bus, on_closed);
}

void
zap_free(struct zap *zap)
{
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

/*
 * zap: carehubd's ZAP handler (ZeroMQ RFC 27), driven by the libuv loop.
 *
 * libzmq asks the handler, over inproc://zeromq.zap.01 in the daemon's
 * context, whether each new connection to a socket with a ZAP domain may
 * complete its handshake.  The handler answers from the authorised keys the
 * daemon holds at that moment (auth_zap_decide()): a CURVE client whose key
 * is listed is admitted, with its key as the connection's User-Id; anything
 * else is refused, and the refusal is logged with the peer's address.  It
 * must be bound before any socket that uses it, and the sockets must set
 * ZMQ_ZAP_ENFORCE_DOMAIN, so that a missing handler refuses everyone
 * instead of admitting everyone.
 */
#ifndef CAREHUB_ZAP_H
#define CAREHUB_ZAP_H

#include <uv.h>

#include "auth.h"
#include "bus.h"

/* The ZAP domain of carehubd's sockets. */
#define ZAP_DOMAIN "carehub"

struct zap {
    struct bus bus;
    void *socket;
    const struct auth_keys *const *keys; /* borrowed: the daemon's current keys, read per request */
    unsigned long admitted;
    unsigned long refused;
};

/*
 * Binds the handler's socket in context and starts answering on loop.
 * keys points at the daemon's pointer to its current keys (which a reload
 * replaces).  Returns 0, or a negative errno code with a sentence in err.
 */
int zap_open(struct zap *zap, uv_loop_t *loop, void *context, const struct auth_keys *const *keys,
             char *err, size_t err_size);

/* Stops answering; on_closed is called once the loop has let go; then zap_free(). */
void zap_close(struct zap *zap, void (*on_closed)(struct bus *bus));

/* Closes the socket (after zap_close() completed, or when zap_open() failed). */
void zap_free(struct zap *zap);

/*
 * Sets the options that make socket ask the handler: the ZAP domain and
 * ZMQ_ZAP_ENFORCE_DOMAIN, read back to check that this libzmq honours it.
 * Returns 0 or a negative errno code with a sentence in err.
 */
int zap_require(void *socket, char *err, size_t err_size);

#endif

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

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "auth.h"
#include "bus.h"

/* The ZAP domain of carehubd's sockets. */
#define ZAP_DOMAIN "carehub"

/* Sockets whose connections the handler counts (the API and notification sockets). */
#define ZAP_WATCH_MAX 2

/* Refusals logged per second; the rest are counted and summed up in one line. */
#define ZAP_LOG_PER_SECOND 20

/* A connection accepted, and how many handshakes had ended then. */
struct zap_connection {
    int fd;
    unsigned long handshakes_ended;
};

struct zap_watch {
    struct zap *zap;
    struct bus bus;
    void *socket; /* PAIR socket receiving a watched socket's events */
    bool open;
};

struct zap {
    struct bus bus;
    void *socket;
    void *context;
    const struct auth_keys *const *keys; /* borrowed: the daemon's current keys, read per request */
    bool curve;                          /* CURVE required: NULL refused (see auth_zap_decide()) */
    const int *max_connections;          /* borrowed: the limit in force, read per request */
    int connections;                     /* open connections to the watched sockets */
    struct zap_connection *open;         /* the connections counted, by descriptor */
    int open_count;
    int open_capacity;
    unsigned long handshakes_ended; /* handshakes that succeeded or failed, so far */
    bool last_failed;               /* the last event was a failed handshake */
    struct zap_watch watches[ZAP_WATCH_MAX];
    int watch_count;
    int closing; /* handles still to close in zap_close() */
    void (*on_closed)(struct zap *zap);
    uint64_t log_second;      /* uv_now() / 1000 of the last refusal logged */
    int logged_this_second;   /* refusals logged in that second */
    unsigned long suppressed; /* refusals not logged since the last summary */
    unsigned long admitted;
    unsigned long refused;
};

/*
 * Binds the handler's socket in context and starts answering on loop.
 * keys points at the daemon's pointer to its current keys (which a reload
 * replaces); curve says whether only CURVE clients are admitted;
 * max_connections points at the limit in force (a reload changes it).
 * Returns 0, or a negative errno code with a sentence in err.
 */
int zap_open(struct zap *zap, uv_loop_t *loop, void *context, const struct auth_keys *const *keys,
             bool curve, const int *max_connections, char *err, size_t err_size);

/*
 * Counts the connections of socket (a socket of the same context, with
 * zap_require() set): a new handshake is refused while the watched sockets
 * together have more than *max_connections.  Handshakes that fail before
 * the handler is asked (a mechanism that does not match, bytes that are not
 * ZMTP, a handshake that stalls past ZMQ_HANDSHAKE_IVL) are logged too, at
 * most ZAP_LOG_PER_SECOND lines a second with the handler's refusals.
 * Returns 0 or a negative errno code with a sentence in err.
 */
int zap_watch(struct zap *zap, void *socket, char *err, size_t err_size);

/* Stops answering; on_closed is called once the loop has let go; then zap_free(). */
void zap_close(struct zap *zap, void (*on_closed)(struct zap *zap));

/* Closes the socket (after zap_close() completed, or when zap_open() failed). */
void zap_free(struct zap *zap);

/*
 * Sets the options that make socket ask the handler: the ZAP domain and
 * ZMQ_ZAP_ENFORCE_DOMAIN, read back to check that this libzmq honours it.
 * Returns 0 or a negative errno code with a sentence in err.
 */
int zap_require(void *socket, char *err, size_t err_size);

#endif

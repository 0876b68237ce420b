/*
 * bus: a ZeroMQ socket driven by the libuv loop.
 *
 * The socket's ZMQ_FD is watched with a uv_poll_t.  That descriptor only
 * signals that the socket's state may have changed (it is edge-triggered), so
 * the socket's ZMQ_EVENTS is read again after every receive and every send,
 * and while messages remain a uv_idle_t keeps the loop turning without
 * blocking.  At most BUS_BUDGET messages are handled per loop iteration so
 * that timers and other handles always get their turn; when nothing is
 * pending no handle is active but the poll, so an idle daemon sleeps.
 */
#ifndef CAREHUB_BUS_H
#define CAREHUB_BUS_H

#include <stdbool.h>
#include <stddef.h>

#include <uv.h>
#include <zmq.h>

/* Messages handled per loop iteration. */
#define BUS_BUDGET 256

/* Frames kept of one message; a message with more is marked truncated. */
#define BUS_FRAMES_MAX 8

struct bus_message {
    zmq_msg_t frames[BUS_FRAMES_MAX];
    int count;      /* frames kept */
    bool truncated; /* the message had more than BUS_FRAMES_MAX frames */
};

struct bus;

/* Called for each message received; the frames are closed when it returns. */
typedef void (*bus_message_cb)(struct bus *bus, struct bus_message *message);

struct bus {
    void *socket;
    void *data; /* the owner's */
    bus_message_cb on_message;
    uv_poll_t poll;
    uv_idle_t idle;
    bool paused;
    int open_handles;
    void (*on_closed)(struct bus *bus);
    unsigned long sends_dropped; /* replies the peer was not there or not reading for */
};

/*
 * Starts watching socket (borrowed; the caller closes it after bus_close()
 * completes).  on_message may be NULL for a send-only socket.  Returns 0 or a
 * negative errno-style code.
 */
int bus_init(struct bus *bus, uv_loop_t *loop, void *socket, bus_message_cb on_message, void *data);

/* Stops taking messages (they wait in ZeroMQ's queue) until bus_resume(). */
void bus_pause(struct bus *bus);
void bus_resume(struct bus *bus);

/*
 * Sends a multipart message without blocking.  Returns 0; -EAGAIN when the
 * peer's queue is full; -EHOSTUNREACH when the peer is gone (ROUTER sockets
 * with ZMQ_ROUTER_MANDATORY); another negative code on failure.  Either way
 * the socket is checked again for pending input.
 */
int bus_send(struct bus *bus, const void *const *parts, const size_t *sizes, int count);

/*
 * Where a reply to a ROUTER socket goes: the peer's routing id and whether it
 * put an empty delimiter frame before its body (REQ sockets do; DEALER
 * sockets may).  A reply is sent back in the same shape.
 */
struct bus_route {
    unsigned char id[255];
    size_t id_size;
    bool delimiter;
};

/*
 * Reads the route of a message received on a ROUTER socket into *route and
 * sets *body to its first body frame.  Returns the number of body frames
 * (exactly 1 in a well-formed request; the caller rejects others), or -EPROTO
 * when the message has no routing id at all.
 */
int bus_route_parse(struct bus_message *message, struct bus_route *route, zmq_msg_t **body);

/* Sends body to the peer at route; the result is that of bus_send(). */
int bus_reply(struct bus *bus, const struct bus_route *route, const char *body, size_t size);

/* Stops the handles; on_closed runs once both are closed. */
void bus_close(struct bus *bus, void (*on_closed)(struct bus *bus));

#endif

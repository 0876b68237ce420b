#include "bus.h"

#include <errno.h>
#include <string.h>

/* Re-reads ZMQ_EVENTS: this also lets libzmq process its commands, consuming the edge. */
static int
socket_events(struct bus *bus)
{
    int events = 0;
    size_t size = sizeof(events);

    if (zmq_getsockopt(bus->socket, ZMQ_EVENTS, &events, &size) < 0)
        return 0;
    return events;
}

/* Receives one whole message; frames past BUS_FRAMES_MAX are read and dropped. */
static int
receive_message(struct bus *bus, struct bus_message *message)
{
    int more = 1;
    size_t size = sizeof(more);

    message->count = 0;
    message->truncated = false;
    while (more) {
        zmq_msg_t scratch;
        zmq_msg_t *frame =
            message->count < BUS_FRAMES_MAX ? &message->frames[message->count] : &scratch;

        zmq_msg_init(frame);
        if (zmq_msg_recv(frame, bus->socket, ZMQ_DONTWAIT) < 0) {
            int r = -zmq_errno();
            zmq_msg_close(frame);
            for (int i = 0; i < message->count; i++)
                zmq_msg_close(&message->frames[i]);
            message->count = 0;
            return r;
        }
        if (zmq_getsockopt(bus->socket, ZMQ_RCVMORE, &more, &size) < 0)
            more = 0;
        if (frame == &scratch) {
            message->truncated = true;
            zmq_msg_close(&scratch);
        } else {
            message->count++;
        }
    }
    return 0;
}

static void on_idle(uv_idle_t *idle);

static void
dispatch(struct bus *bus)
{
    int handled = 0;

    while (!bus->paused && handled < BUS_BUDGET && (socket_events(bus) & ZMQ_POLLIN)) {
        struct bus_message message;

        if (receive_message(bus, &message) < 0)
            break;
        handled++;
        bus->on_message(bus, &message);
        for (int i = 0; i < message.count; i++)
            zmq_msg_close(&message.frames[i]);
    }
    if (!bus->paused && (socket_events(bus) & ZMQ_POLLIN))
        uv_idle_start(&bus->idle, on_idle);
    else
        uv_idle_stop(&bus->idle);
}

static void
on_idle(uv_idle_t *idle)
{
    dispatch(idle->data);
}

static void
on_poll(uv_poll_t *poll, int status, int events)
{
    (void)status;
    (void)events;
    dispatch(poll->data);
}

/* Lets the loop look at the socket again on its next turn. */
static void
kick(struct bus *bus)
{
    if (bus->on_message && !bus->paused && bus->open_handles == 2)
        uv_idle_start(&bus->idle, on_idle);
}

int
bus_init(struct bus *bus, uv_loop_t *loop, void *socket, bus_message_cb on_message, void *data)
{
    int fd;
    size_t size = sizeof(fd);
    int r;

    memset(bus, 0, sizeof(*bus));
    bus->socket = socket;
    bus->data = data;
    bus->on_message = on_message;
    if (zmq_getsockopt(socket, ZMQ_FD, &fd, &size) < 0)
        return -zmq_errno();
    r = uv_poll_init(loop, &bus->poll, fd);
    if (r < 0)
        return r;
    bus->open_handles++;
    r = uv_idle_init(loop, &bus->idle);
    if (r < 0)
        return r;
    bus->open_handles++;
    bus->poll.data = bus;
    bus->idle.data = bus;
    if (on_message) {
        r = uv_poll_start(&bus->poll, UV_READABLE, on_poll);
        if (r < 0)
            return r;
        kick(bus);
    }
    return 0;
}

/*
 * While paused the poll is stopped too: the descriptor stays readable until
 * ZMQ_EVENTS is read, and a level-triggered poll left running would wake the
 * loop on every turn.
 */
void
bus_pause(struct bus *bus)
{
    bus->paused = true;
    uv_idle_stop(&bus->idle);
    if (bus->open_handles == 2)
        uv_poll_stop(&bus->poll);
}

void
bus_resume(struct bus *bus)
{
    bus->paused = false;
    if (bus->on_message && bus->open_handles == 2)
        uv_poll_start(&bus->poll, UV_READABLE, on_poll);
    kick(bus);
}

int
bus_send(struct bus *bus, const void *const *parts, const size_t *sizes, int count)
{
    int r = 0;

    for (int i = 0; i < count; i++) {
        int flags = ZMQ_DONTWAIT | (i + 1 < count ? ZMQ_SNDMORE : 0);
        if (zmq_send(bus->socket, parts[i], sizes[i], flags) < 0) {
            r = -zmq_errno();
            bus->sends_dropped++;
            break;
        }
    }
    kick(bus);
    return r;
}

static void
on_handle_closed(uv_handle_t *handle)
{
    struct bus *bus = handle->data;

    if (--bus->open_handles == 0 && bus->on_closed)
        bus->on_closed(bus);
}

void
bus_close(struct bus *bus, void (*on_closed)(struct bus *bus))
{
    bus->on_closed = on_closed;
    bus->paused = true;
    if (bus->open_handles == 0) {
        if (on_closed)
            on_closed(bus);
        return;
    }
    /* bus_init() initialises the poll first, then the idle: close what it got to. */
    if (!uv_is_closing((uv_handle_t *)&bus->poll))
        uv_close((uv_handle_t *)&bus->poll, on_handle_closed);
    if (bus->open_handles == 2 && !uv_is_closing((uv_handle_t *)&bus->idle))
        uv_close((uv_handle_t *)&bus->idle, on_handle_closed);
}

int
bus_route_parse(struct bus_message *message, struct bus_route *route, zmq_msg_t **body)
{
    int first = 1;
    size_t id_size;

    *body = NULL;
    if (message->count < 1)
        return -EPROTO;
    id_size = zmq_msg_size(&message->frames[0]);
    if (id_size == 0 || id_size > sizeof(route->id))
        return -EPROTO;
    memcpy(route->id, zmq_msg_data(&message->frames[0]), id_size);
    route->id_size = id_size;
    route->delimiter = message->count > 1 && zmq_msg_size(&message->frames[1]) == 0;
    if (route->delimiter)
        first = 2;
    if (first < message->count)
        *body = &message->frames[first];
    if (message->truncated)
        return BUS_FRAMES_MAX;
    return message->count - first;
}

int
bus_reply(struct bus *bus, const struct bus_route *route, const char *body, size_t size)
{
    const void *parts[3];
    size_t sizes[3];
    int count = 0;

    parts[count] = route->id;
    sizes[count++] = route->id_size;
    if (route->delimiter) {
        parts[count] = "";
        sizes[count++] = 0;
    }
    parts[count] = body;
    sizes[count++] = size;
    return bus_send(bus, parts, sizes, count);
}

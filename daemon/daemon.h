/*
 * daemon: the one context of a running carehubd, reached from every handle
 * through loop->data or handle->data.  No module keeps state elsewhere.
 */
#ifndef CAREHUB_DAEMON_H
#define CAREHUB_DAEMON_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "bus.h"
#include "clock.h"
#include "config.h"
#include "ingest.h"
#include "store.h"

struct daemon {
    uv_loop_t *loop;
    struct config config;
    void *zmq;
    void *api_socket;
    void *notify_socket;
    struct bus api;
    bool api_open;
    bool input_paused; /* too many events waiting: ZeroMQ holds the rest */
    struct store *writer;
    struct store *reader;
    struct store *checkpointer;
    struct ingest *ingest;
    uv_signal_t sigterm;
    uv_signal_t sigint;
    uv_signal_t sighup;
    struct clock clock; /* real, or a test clock (--test-clock) */
    uint64_t started_loop_ms;
    int64_t started_wall_ms;
    bool stopping;
    unsigned long requests_refused; /* request-level errors since start */
};

#endif

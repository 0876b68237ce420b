/*
 * daemon: the one context of a running carehubd, reached from every handle
 * through loop->data or handle->data.  No module keeps state elsewhere.
 */
#ifndef CAREHUB_DAEMON_H
#define CAREHUB_DAEMON_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "auth.h"
#include "bus.h"
#include "clock.h"
#include "config.h"
#include "ingest.h"
#include "store.h"
#include "zap.h"

struct backup;

struct daemon {
    uv_loop_t *loop;
    struct config config; /* the one in force; a reload replaces it whole (main.c) */
    void *zmq;
    void *api_socket;
    void *notify_socket;
    struct bus api;
    bool api_open;
    struct zap zap;                /* the ZAP handler: keys with CURVE, and max_connections */
    bool zap_open;                 /* its handles are open (closed when stopping) */
    struct auth_keys *keys;        /* the authorised keys in force (CURVE); a reload swaps them */
    struct auth_keys *reload_keys; /* the keys read with daemon->reload, swapped in with it */
    uint64_t auth_log_second;      /* refused requests: the second of the last line logged, */
    int auth_logged;               /* the lines logged in it, */
    unsigned long auth_suppressed; /* and those left out since (api_auth.c) */
    bool input_paused;             /* too many events waiting: ZeroMQ holds the rest */
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
    struct backup *backup_running;  /* the backup op under way (api_admin.c), or NULL */

    /* Reloading (SIGHUP): see reload_start() in main.c. */
    struct config *reload;         /* the configuration being switched to; NULL when none */
    bool reload_again;             /* SIGHUP during a reload: read the file again after it */
    bool reload_refused;           /* the last reload was refused (STATUS= says so) */
    int64_t config_loaded_wall_ms; /* when the configuration in force was swapped in */

    /* systemd's notification socket (sd_notify): nothing is sent without NOTIFY_SOCKET. */
    bool timers_open;          /* status_timer and watchdog_timer are initialized */
    uv_timer_t status_timer;   /* STATUS= every STATUS_INTERVAL_MS */
    uv_timer_t watchdog_timer; /* WATCHDOG=1 at half of WatchdogSec=, when it is set */
    uint64_t status_loop_ms;   /* uv_now() at the last STATUS=, and the events stored then */
    int64_t status_events;
};

#endif

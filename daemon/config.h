/*
 * config: carehubd.conf (libconfig syntax), read into a fresh struct and
 * checked completely before anything uses it.
 *
 * Every key, its type, range and default is listed in one table in config.c
 * and documented in conf/carehubd.conf and docs/configuration.md.  A file is
 * either valid as a whole or refused with every error it holds.  On SIGHUP
 * carehubd reads its file again into a fresh struct, which replaces the one
 * in force as a whole or not at all (see main.c).
 */
#ifndef CAREHUB_CONFIG_H
#define CAREHUB_CONFIG_H

#include <stdbool.h>

#include "kinds.h"
#include "metrics.h"
#include "retention.h"

struct config {
    char *path;            /* the file read, as given */
    char *state_dir;       /* state_dir: where the database lives */
    char *api_endpoint;    /* api.endpoint: the ROUTER socket */
    char *notify_endpoint; /* notify.endpoint: the PUB socket */
    char *timezone;        /* timezone: the organisation's IANA zone */
    int log_level;         /* log.level as a syslog level */
    long long max_message_bytes;
    int max_batch_events;
    int max_queued_events;
    int max_pending_replies;
    int commit_max_events;
    int commit_max_delay_ms;
    int cache_mb;
    int checkpoint_pages;     /* storage.checkpoint_pages */
    bool durable;             /* storage.durable: false only for benchmarks */
    int handshake_timeout_ms; /* limits.*: the sockets' libzmq options */
    int heartbeat_ivl_ms;     /* 0: no heartbeats */
    int heartbeat_timeout_ms;
    int send_hwm;                      /* the notification socket's queue per subscriber */
    int receive_hwm;                   /* the API socket's queue per client */
    int max_connections;               /* connections to the API socket at once */
    bool curve;                        /* security.curve */
    char *server_key_file;             /* security.server_key_file: the daemon's key pair */
    char *authorised_keys;             /* security.authorised_keys: read again on every reload */
    char *ipc_mode_text;               /* security.ipc_mode as written */
    int ipc_mode;                      /* ... as a mode for chmod() */
    struct kinds kinds;                /* the "schedule", "kinds" and "courses" sections */
    struct metrics metrics;            /* the "kpi" and "metrics" sections */
    struct retention_policy retention; /* the "retention" group */
};

/* At most this many errors are kept; the count goes on past it. */
#define CONFIG_MAX_ERRORS 32

/* The errors found in one file, each "file:line: key: reason". */
struct config_errors {
    int count;
    char text[CONFIG_MAX_ERRORS][320];
};

/*
 * Adds one error, "file:line: " (or "file: " when line is 0) followed by the
 * formatted text, to errors; past CONFIG_MAX_ERRORS only the count grows.
 * For the modules that check a section of the file (kinds.c, metrics.c).
 */
void config_add_error(struct config_errors *errors, const char *file, int line, const char *fmt,
                      ...) __attribute__((format(printf, 4, 5)));

/*
 * Reads and checks the file at path into *out, which the caller must later
 * release with config_free().  Returns 0 when the file is valid; otherwise
 * -EINVAL with every problem in *errors and *out left empty.
 */
int config_load(const char *path, struct config *out, struct config_errors *errors);

/* How a libconfig value type reads in a message: "a string", "an integer", ... */
const char *config_type_name(int type);

/*
 * Compares the keys that only a restart can change (state_dir, timezone,
 * api.endpoint, notify.endpoint, limits.max_message_bytes,
 * limits.max_pending_replies, the sockets' other limits, security.curve,
 * security.server_key_file, security.ipc_mode and storage.*; see the key
 * table in config.c)
 * between the configuration running and a freshly loaded next one.  Adds one
 * error per key that differs, "FILE: key: the file says X but carehubd runs
 * with Y ...", to errors (cleared first; FILE is next's path) and returns how
 * many differ, 0 when a reload may swap next in.  Pure.
 */
int config_restart_changes(const struct config *running, const struct config *next,
                           struct config_errors *errors);

/* Releases what config_load() filled in; accepts a zeroed or half-built struct. */
void config_free(struct config *config);

#endif

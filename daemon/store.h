/*
 * store: the daemon's SQLite database, and the only module that speaks SQL.
 *
 * One file, <state_dir>/carehub.db, in WAL mode.  The writer connection is
 * used by one thread at a time (the ingest worker) and holds every write in a
 * BEGIN IMMEDIATE transaction; a reader connection serves queries on the event
 * loop while the writer commits.  Every statement is prepared once.
 *
 * Errors are 0 or a negative errno-style code; SQLite's codes are mapped here
 * and store_error() gives the last message for the log.
 */
#ifndef CAREHUB_STORE_H
#define CAREHUB_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "directory.h"
#include "event.h"

/* The schema version this build writes (PRAGMA user_version). */
#define STORE_SCHEMA_VERSION 1

/* "CARE": PRAGMA application_id of a carehub database. */
#define STORE_APPLICATION_ID 0x43415245

struct store;

struct store_options {
    bool writer;  /* false: a query-only connection to an existing database */
    bool durable; /* synchronous=FULL; false only for benchmarks */
    int cache_mb;
    /*
     * Writer: leave checkpoints to a checkpointer connection instead of
     * running them inside commits.  Not a writer: be that checkpointer.
     */
    bool separate_checkpoints;
};

/* The running totals kept in the database. */
struct store_counters {
    int64_t events_stored;
    int64_t events_duplicate;
    int64_t events_rejected;
    int64_t staff_active;
    int64_t staff_left;
    int64_t teams;
};

/*
 * Process-wide SQLite settings; call once before the first store_open().
 * Turns off SQLite's memory statistics, which take a global mutex on every
 * allocation.
 */
void store_global_init(void);

/*
 * Opens (the writer also creates, checks and migrates) the database in
 * state_dir.  On failure returns a negative code and writes a sentence for the
 * administrator into message: a state_dir that cannot be written, a file that
 * is not a carehub database, one written by a newer version.
 */
int store_open(struct store **out, const char *state_dir, const struct store_options *options,
               char *message, size_t message_size);

/* Frames in the write-ahead log after the writer's last commit. */
int store_wal_frames(const struct store *store);

/*
 * Copies what it can of the write-ahead log into the database without
 * waiting for the writer or readers (a PASSIVE checkpoint).  Runs on the
 * checkpointer connection, on its own thread, while the writer goes on.
 */
int store_checkpoint(struct store *store);

/* Closes the connection; accepts NULL. */
void store_close(struct store *store);

/* SQLite's last error message on this connection (borrowed). */
const char *store_error(struct store *store);

/* The database file's path (borrowed). */
const char *store_path(struct store *store);

int store_begin(struct store *store);
int store_commit(struct store *store);
void store_rollback(struct store *store);

/* Calls visit for every stored event's (seq, identity hash), in seq order. */
int store_events_each(struct store *store, int (*visit)(void *context, int64_t seq, uint64_t hash),
                      void *context);

/* 1 when event seq has this source and id, 0 when not, or a negative code. */
int store_event_matches(struct store *store, int64_t seq, const char *source, const char *id);

/* Appends an event; body is its JSON text, size bytes.  Sets *seq to its sequence number. */
int store_event_insert(struct store *store, uint64_t hash, const struct event *event,
                       int64_t received_ms, const char *body, size_t size, int64_t *seq);

/* Directory records: 0, -ENOENT, or an error. */
int store_staff_get(struct store *store, const char *staff_id, struct dir_staff *out);
/*
 * How store_staff_put() writes: a new record; an update of every field; or
 * an update that keeps team_id and manager_id (cheaper: their indexes are
 * untouched), which fails with -ESTALE if they did change.
 */
enum store_put { STORE_PUT_NEW, STORE_PUT_UPDATE, STORE_PUT_DETAILS };

int store_staff_put(struct store *store, const struct dir_staff *staff, int64_t seq,
                    enum store_put how);
/*
 * Writes only the fields named in fields (enum dir_field bits, never team or
 * manager) of patch onto the stored record patch->staff_id, without reading
 * it first.  Returns 0, or -ENOENT when there is no such record.
 */
int store_staff_patch(struct store *store, const struct dir_staff *patch, unsigned fields,
                      int64_t seq);

/* Removes the event just inserted (seq), when what it says turns out not to apply. */
int store_event_delete(struct store *store, int64_t seq);

int store_team_get(struct store *store, const char *team_id, struct dir_team *out);
int store_team_put(struct store *store, const struct dir_team *team, int64_t seq);

/* A directory_source reading through this connection. */
void store_directory_source(struct store *store, struct directory_source *out);

/* Adds to (writer) or reads (any) the totals. */
int store_counters_add(struct store *store, const struct store_counters *delta);
int store_counters_get(struct store *store, struct store_counters *out);

/* Query helpers: visit each match; a non-zero return from visit stops and is returned. */
typedef int (*store_staff_visit)(void *context, const struct dir_staff *staff);
typedef int (*store_team_visit)(void *context, const struct dir_team *team);
int store_staff_in_team(struct store *store, const char *team_id, store_staff_visit visit,
                        void *context);
int store_staff_with_manager(struct store *store, const char *manager_id, store_staff_visit visit,
                             void *context);
int store_teams_with_parent(struct store *store, const char *team_id, store_team_visit visit,
                            void *context);
int store_teams_with_manager(struct store *store, const char *manager_id, store_team_visit visit,
                             void *context);

/* Bytes on disk of the database and its write-ahead log. */
int64_t store_size_bytes(struct store *store);

#endif

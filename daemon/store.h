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
#define STORE_SCHEMA_VERSION 4

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

/* What a backup holds: the snapshot store_backup() copied. */
struct store_backup_info {
    int64_t pages;                  /* pages in the copy */
    int64_t last_event_seq;         /* the last event in it; 0 when none */
    int64_t last_notification_seq;  /* the last notification in it; 0 when none */
    struct store_counters counters; /* the totals in it, as "status" gives them */
    bool target_failed;             /* on failure: writing the copy failed, not reading */
};

/*
 * Called after each step of a backup with the pages still to copy and the
 * pages in all; a non-zero return abandons the backup.
 */
typedef int (*store_backup_progress)(void *context, int remaining, int total);

/*
 * Copies the database that store reads into target_path, an empty file the
 * caller has created, with SQLite's online backup API.  store must be a
 * connection of its own (not the writer's, nor one the loop queries on):
 * the whole copy runs inside one read transaction on it, so the copy is the
 * database as it was at the last commit before the call however many
 * commits other connections make meanwhile (SQLite would otherwise restart
 * a backup whenever another connection writes), and *info describes that
 * same snapshot.  The copy is left in rollback-journal mode, one
 * self-contained file that opens read-only anywhere; store_open() puts it
 * back in WAL mode.  Nothing is synced to disk: that is the caller's.
 *
 * Returns 0; -ECANCELED when progress asked to stop; another negative code
 * with a sentence in message and info->target_failed set when the copy
 * could not be written.  On failure target_path holds a partial copy, and
 * may have -wal and -shm companions, for the caller to remove.
 */
int store_backup(struct store *store, const char *target_path, store_backup_progress progress,
                 void *context, struct store_backup_info *info, char *message, size_t size);

/* ---- The audit trail and retention (store.c) ---- */

/* What retention writes in place of removed text. */
#define STORE_REMOVED "[removed]"

/*
 * Sets the cause recorded with the audit rows written from now on: an
 * event's source and id (cause_id) with its own time when has_event_ms, or
 * "schedule", "reload", "retention", "api" with cause_id NULL; applied_ms is
 * the daemon's clock.  The strings are copied.  The next event stored with
 * store_event_insert() becomes the rows' event_seq.
 */
void store_audit_cause(struct store *store, const char *cause, const char *cause_id,
                       bool has_event_ms, int64_t event_ms, int64_t applied_ms);

/*
 * Appends an audit row under the current cause: what changed ("staff.hired",
 * "obligation.completed", ...), about staff_id (NULL for a team or KPI row,
 * then team_id), details a JSON object as text (NULL: "{}").  Writer only,
 * inside the transaction that makes the change.
 */
int store_audit(struct store *store, const char *what, const char *staff_id, const char *team_id,
                const char *details);

/* One audit row; the strings are borrowed for the visit only. */
struct store_audit_row {
    int64_t seq;
    int64_t applied_ms;
    bool has_event_ms;
    int64_t event_ms;
    const char *staff_id; /* NULL for a team or KPI row */
    const char *team_id;  /* NULL when not recorded */
    const char *what;
    const char *details;
    const char *cause;
    const char *cause_id; /* NULL when the cause is not an event */
    int64_t event_seq;    /* 0 when no event was stored */
};

typedef int (*store_audit_visit)(void *context, const struct store_audit_row *row);

/*
 * Visits the audit rows after seq after, oldest first, at most limit: a
 * staff member's (staff_id), or else a team's rows that are about no one
 * (team_id).
 */
int store_audit_of(struct store *store, const char *staff_id, const char *team_id, int64_t after,
                   int limit, store_audit_visit visit, void *context);

/*
 * Visits at most limit staff who left before left_before ("YYYY-MM-DD") and
 * whose personal data is still held, in staff_id order.
 */
int store_retention_staff_due(struct store *store, const char *left_before, int limit,
                              int (*visit)(void *context, const char *staff_id), void *context);

/*
 * Removes a staff member's personal data: name (STORE_REMOVED), email and
 * registration; the kinds of their absences; their obligations' titles and
 * reasons; their concerns' outcomes; the texts of notifications about them;
 * the details of their audit rows.  *rows counts the rows changed.
 */
int store_retention_remove_staff(struct store *store, const char *staff_id, int64_t *rows);

/*
 * Empties the payload of the stored events with seq in (after, through]:
 * those whose time (or, without one, arrival) is before before_ms, or with
 * removed_staff those about a staff member whose data was removed.  The
 * de-duplication keys (source, id) and the type and times stay.  KPI
 * observations not yet in the stored figures are left alone.  *blanked
 * counts the events emptied.
 */
int store_retention_events(struct store *store, bool removed_staff, int64_t after, int64_t through,
                           int64_t before_ms, int64_t *blanked);

/* The last event's seq (0 when none). */
int store_events_last_seq(struct store *store, int64_t *seq);

/*
 * Writer: with whole_pages, pages freed from now on are zeroed too (the
 * retention job); otherwise only deleted text within pages (the default).
 */
int store_secure_delete(struct store *store, bool whole_pages);

/* Copies the whole write-ahead log into the database and empties it; 0 when busy. */
int store_truncate_log(struct store *store);

/* ---- Obligations, notifications, absences, concerns (store_obligations.c) ---- */

/* A day that is not set (days are counted from 1970-01-01 and may be negative). */
#define STORE_NO_DAY INT64_MIN

enum obligation_state {
    OBLIGATION_OPEN = 0,
    OBLIGATION_COMPLETED = 1,
    OBLIGATION_WAIVED = 2,
    OBLIGATION_CANCELLED = 3,
    OBLIGATION_PAUSED = 4, /* the person is absent and the kind pauses */
    OBLIGATION_MISSED = 5  /* a milestone already long past when its plan started */
};

/* "open", "completed", ... */
const char *store_obligation_state_name(int state);

/* One obligation: someone (staff_id) must have something (kind) done by a date. */
struct obligation {
    int64_t id;
    char staff_id[DIR_ID_SIZE];
    char kind[DIR_ID_SIZE];
    char item[DIR_ID_SIZE];    /* course, action id, concern id or absence id; "" for recurring */
    char step[DIR_ID_SIZE];    /* a milestone plan's step; "" otherwise */
    char title[DIR_TEXT_SIZE]; /* an assigned action's title; "" otherwise */
    char responsible_id[DIR_ID_SIZE]; /* "" means the line manager */
    int occurrence;                   /* 1, 2, ... for a recurring kind */
    int64_t due_day;
    int64_t booked_day; /* STORE_NO_DAY when not booked */
    int64_t booked_ms;  /* the booking event's time, to order bookings */
    int64_t target_day; /* the earlier of due and booked */
    int state;
    int64_t closed_day; /* STORE_NO_DAY while open */
    char reason[DIR_TEXT_SIZE];
    int64_t paused_day; /* STORE_NO_DAY unless paused */
    int generation;     /* rises when the due date is moved by an absence: reminders start again */
    unsigned reminders_done;
    int escalations_done;
    int64_t next_ms; /* the next action's moment; 0 when none */
    int64_t created_seq;
    int64_t updated_seq;
};

/* One notification in the outbox. */
struct notification {
    int64_t seq;
    int64_t created_ms;
    int64_t planned_ms;
    char type[16]; /* "reminder" or "escalation" */
    char recipient_id[DIR_ID_SIZE];
    int64_t obligation_id;
    int action; /* 1000 * generation + (reminder i: i; escalation n: 100 + n) */
    char staff_id[DIR_ID_SIZE];
    char kind[DIR_ID_SIZE];
    char item[DIR_ID_SIZE];
    char step[DIR_ID_SIZE];
    int64_t due_day;
    int64_t booked_day;
    int days_overdue;
    int level; /* 0 for a reminder; the escalation ladder's step, from 1 */
    char text[1024];
    char policy[512];
    int64_t acked_ms; /* 0 when not acknowledged */
    char acked_by[DIR_ID_SIZE];
    int arises; /* not stored: the kind's enum kind_arises, which words the text's request */
};

struct absence {
    char absence_id[DIR_ID_SIZE];
    char staff_id[DIR_ID_SIZE];
    char kind[DIR_TEXT_SIZE];
    int64_t start_day;
    int64_t end_day; /* STORE_NO_DAY while it goes on */
};

struct concern {
    char concern_id[DIR_ID_SIZE];
    char staff_id[DIR_ID_SIZE];
    int64_t opened_day;
    int64_t closed_day; /* STORE_NO_DAY while open */
};

typedef int (*store_obligation_visit)(void *context, const struct obligation *obligation);
typedef int (*store_notification_visit)(void *context, const struct notification *notification);

/* Writes a new obligation and sets obligation->id. */
int store_obligation_insert(struct store *store, struct obligation *obligation);
/* Writes every changeable field of an existing obligation. */
int store_obligation_update(struct store *store, const struct obligation *obligation);
int store_obligation_get(struct store *store, int64_t id, struct obligation *out);

/*
 * Visits a staff member's obligations, earliest due first: all of them, or
 * only those still to do (open or paused) when pending_only.  kind and item
 * narrow the search when not NULL.
 */
int store_obligations_of(struct store *store, const char *staff_id, const char *kind,
                         const char *item, bool pending_only, store_obligation_visit visit,
                         void *context);

/* Obligations whose next action is due at or before now_ms, earliest first, at most limit. */
int store_obligations_due(struct store *store, int64_t now_ms, int limit,
                          store_obligation_visit visit, void *context);

/* The earliest next action of any obligation into *out_ms; 0 when there is none. */
int store_obligations_next_ms(struct store *store, int64_t *out_ms);

/* Open obligations whose target day is before today, oldest first, at most limit. */
int store_obligations_overdue(struct store *store, int64_t today, int limit,
                              store_obligation_visit visit, void *context);

/* Pending obligations someone is named responsible for (assigned actions). */
int store_obligations_responsible(struct store *store, const char *responsible_id,
                                  store_obligation_visit visit, void *context);

/* Adds a notification to the outbox and sets its seq; -EEXIST when that action was already sent. */
int store_notification_insert(struct store *store, struct notification *notification);
/* Notifications after seq, oldest first, at most limit, for one recipient unless NULL. */
int store_notifications_after(struct store *store, int64_t after, int limit,
                              const char *recipient_id, store_notification_visit visit,
                              void *context);
/* Marks notification seq acknowledged: 0, or -ENOENT. */
int store_notification_ack(struct store *store, int64_t seq, int64_t acked_ms, const char *by);
/* The last sequence number given (0 when none) and the actions recorded as missed. */
int store_notifications_summary(struct store *store, int64_t *last_seq, int64_t *missed);

/* Records an action that was too old to send when it came up. */
int store_missed_insert(struct store *store, int64_t obligation_id, int action, int64_t planned_ms,
                        int64_t recorded_ms, const char *reason);

int store_absence_get(struct store *store, const char *absence_id, struct absence *out);
int store_absence_put(struct store *store, const struct absence *absence);
/* 1 when the staff member has another absence overlapping [start_day, end_day], else 0. */
int store_absence_overlaps(struct store *store, const char *staff_id, const char *absence_id,
                           int64_t start_day, int64_t end_day);
/* Visits the staff member's absences, latest first. */
int store_absences_of(struct store *store, const char *staff_id,
                      int (*visit)(void *context, const struct absence *absence), void *context);

int store_concern_get(struct store *store, const char *concern_id, struct concern *out);
int store_concern_put(struct store *store, const struct concern *concern, const char *outcome);

/* The obligation an action id was assigned as: 0 with *obligation_id set, or -ENOENT. */
int store_action_get(struct store *store, const char *action_id, int64_t *obligation_id);
int store_action_put(struct store *store, const char *action_id, int64_t obligation_id);

/*
 * Active staff with this role, at most limit of them.  This reads the whole
 * staff table (an index on role would cost every role change a write), so
 * callers keep what it found for the rest of their transaction.
 */
int store_staff_with_role(struct store *store, const char *role, int limit, store_staff_visit visit,
                          void *context);

/* ---- KPI figures (store_kpi.c) ---- */

/* One stored figure: a team's running totals for one metric and period; strings borrowed. */
struct store_kpi_cell {
    const char *metric;
    const char *team_id;
    int period; /* enum period_type */
    int64_t start_day;
    int64_t count;
    double sum, min, max, last;
    int64_t last_ms, last_seq;
    const void *sketch; /* NULL when none */
    size_t sketch_size;
};

/* A team's red/amber/green state for one metric and period, as last judged. */
struct store_kpi_state {
    const char *metric;
    const char *team_id;
    int period;
    int64_t start_day;
    int state;
    bool has_value;
    double value;
    int64_t count; /* kpi_alerts only: the observations judged */
    int64_t seq;   /* the event that changed it (0: a daily record) */
    int64_t changed_ms;
};

typedef int (*store_kpi_cell_visit)(void *context, const struct store_kpi_cell *cell);
typedef int (*store_kpi_state_visit)(void *context, const struct store_kpi_state *state);

/* The one cell (metric, period, start_day, team_id) to visit: 0, -ENOENT, or an error. */
int store_kpi_cell_get(struct store *store, const char *metric, int period, int64_t start_day,
                       const char *team_id, store_kpi_cell_visit visit, void *context);
/* Writes a cell, replacing what was there. */
int store_kpi_cell_put(struct store *store, const struct store_kpi_cell *cell);
/* Every team's cells of a metric and period type starting from first_day to last_day. */
int store_kpi_cells(struct store *store, const char *metric, int period, int64_t first_day,
                    int64_t last_day, store_kpi_cell_visit visit, void *context);
/* Removes the cells and states of periods of this type starting before before_day. */
int store_kpi_prune(struct store *store, int period, int64_t before_day);

/* A stored state: 0 with *out filled (strings not), -ENOENT, or an error. */
int store_kpi_state_get(struct store *store, const char *metric, int period, int64_t start_day,
                        const char *team_id, struct store_kpi_state *out);
int store_kpi_state_put(struct store *store, const struct store_kpi_state *state);
int store_kpi_states(struct store *store, const char *metric, int period, int64_t first_day,
                     int64_t last_day, store_kpi_state_visit visit, void *context);
/* Records a change of state; *id is its number (alerts use it to stay unique in the outbox). */
int store_kpi_alert_insert(struct store *store, const struct store_kpi_state *change,
                           int from_state, int64_t *id);

/* The last event included in the stored figures, and the last day recorded for derived ones. */
int store_kpi_progress_get(struct store *store, int64_t *applied_seq, int64_t *snapshot_day);
int store_kpi_progress_put(struct store *store, int64_t applied_seq, int64_t snapshot_day);

/* Stored events of one type after seq, in order, at most limit: visit(context, seq, body, size). */
int store_events_of_type_after(struct store *store, const char *type, int64_t after, int limit,
                               int (*visit)(void *context, int64_t seq, const char *body,
                                            size_t size),
                               void *context);

/* Every team. */
int store_teams_all(struct store *store, store_team_visit visit, void *context);

/* One pending (open or paused) obligation of someone still working here, with their team. */
struct store_pending {
    const char *staff_id;
    const char *team_id;
    const char *kind;
    int state;
    int64_t target_day;
};

/* Every pending obligation of active staff, grouped by staff member. */
int store_pending_obligations(struct store *store,
                              int (*visit)(void *context, const struct store_pending *pending),
                              void *context);

#endif

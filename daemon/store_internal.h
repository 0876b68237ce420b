/*
 * store_internal: what the files of the store module share (store.c, the
 * directory and events; store_obligations.c, obligations and notifications).
 * Nothing outside the store module includes this header.
 */
#ifndef CAREHUB_STORE_INTERNAL_H
#define CAREHUB_STORE_INTERNAL_H

#include <sqlite3.h>

#include "directory.h"

/* Statements prepared on first use, by store_lazy(): store_obligations.c's slots, then
 * store_kpi.c's. */
#define STORE_LAZY_MAX 80
#define STORE_LAZY_OBLIGATIONS 0
#define STORE_LAZY_KPI 32
#define STORE_LAZY_RETENTION 64

struct store {
    int lock_fd;    /* the writer's lock on state_dir, or -1 */
    int wal_frames; /* from the WAL hook, after each commit */
    sqlite3 *db;
    char *path;
    char *wal_path;
    sqlite3_stmt *statements[32];
    /* store_staff_patch()'s statements, one per set of fields, prepared when first needed. */
    sqlite3_stmt *patches[DIR_FIELD_REGISTRATION << 1];
    sqlite3_stmt *lazy[STORE_LAZY_MAX];
    /* What the audit rows written now record as their cause (store_audit_cause()). */
    char cause[EVENT_ATTRIBUTE_MAX + 1];
    char cause_id[EVENT_ATTRIBUTE_MAX + 1];
    int64_t cause_seq;      /* the event stored under this cause, 0 until then */
    int64_t cause_event_ms; /* the event's own time; INT64_MIN when it has none */
    int64_t cause_applied_ms;
};

/* SQLite's result code as 0 or a negative errno-style code. */
int store_map_error(int code);

/*
 * Steps a bound statement, handing each row to on_row until it returns
 * non-zero, which is then returned (0 when the rows ran out, or the mapped
 * error); the statement is reset and its bindings cleared.
 */
typedef int (*store_row_cb)(sqlite3_stmt *stmt, void *context);
int store_step_rows(sqlite3_stmt *stmt, store_row_cb on_row, void *context);

/* Binds text, or NULL for NULL or an empty string (an unset optional field). */
void store_bind_optional(sqlite3_stmt *stmt, int index, const char *text);

/* Copies a text column into a record's field of size bytes ("" for NULL). */
void store_column_copy(sqlite3_stmt *stmt, int column, char *field, size_t size);

/* The statement in slot, prepared from sql the first time it is needed; NULL if that failed. */
sqlite3_stmt *store_lazy(struct store *store, int slot, const char *sql);

/* Runs a statement that returns no rows, then resets it and clears its bindings. */
int store_step_done(sqlite3_stmt *stmt);

#endif

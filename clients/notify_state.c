#include "notify_state.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

struct notify_state {
    sqlite3 *db;
    int64_t cursor;       /* as committed (or about to be, inside a batch) */
    int64_t saved_cursor; /* as committed, restored by a rollback */
    char digest_day[16];
    char saved_digest_day[16];
    char round_day[16]; /* the day of the round under way (or done); "" when none */
    int64_t round_seq;  /* that round covers notifications up to here */
    char error[512];
};

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS progress ("
    "  id INTEGER PRIMARY KEY CHECK (id = 1),"
    "  cursor INTEGER NOT NULL,"
    "  digest_day TEXT NOT NULL,"
    "  round_day TEXT NOT NULL DEFAULT '',"
    "  round_seq INTEGER NOT NULL DEFAULT 0);"
    "INSERT OR IGNORE INTO progress (id, cursor, digest_day) VALUES (1, 0, '');"
    "CREATE TABLE IF NOT EXISTS digest_queue ("
    "  seq INTEGER PRIMARY KEY,"
    "  recipient_id TEXT NOT NULL,"
    "  notification TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS digest_by_recipient ON digest_queue (recipient_id, seq);"
    "CREATE TABLE IF NOT EXISTS undeliverable ("
    "  seq INTEGER PRIMARY KEY,"
    "  recipient_id TEXT NOT NULL,"
    "  reason TEXT NOT NULL,"
    "  notification TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS deliveries ("
    "  id INTEGER PRIMARY KEY,"
    "  message_id TEXT NOT NULL,"
    "  address TEXT NOT NULL,"
    "  subject TEXT NOT NULL,"
    "  what TEXT NOT NULL,"
    "  first_seq INTEGER NOT NULL,"
    "  last_seq INTEGER NOT NULL,"
    "  at_ms INTEGER NOT NULL);";

static int
fail(struct notify_state *state, const char *doing)
{
    int code = sqlite3_errcode(state->db);

    snprintf(state->error, sizeof(state->error), "%s: %s", doing, sqlite3_errmsg(state->db));
    return code == SQLITE_BUSY || code == SQLITE_LOCKED ? -EBUSY
           : code == SQLITE_NOMEM                       ? -ENOMEM
                                                        : -EIO;
}

/* Runs one statement with up to two text and two integer parameters, bound in that order. */
static int
run(struct notify_state *state, const char *sql, const char *text1, const char *text2,
    const char *text3, int64_t int1, int64_t int2, const char *doing)
{
    sqlite3_stmt *stmt = NULL;
    int index = 1;
    int r;

    if (sqlite3_prepare_v2(state->db, sql, -1, &stmt, NULL) != SQLITE_OK)
        return fail(state, doing);
    if (text1 != NULL)
        sqlite3_bind_text(stmt, index++, text1, -1, SQLITE_TRANSIENT);
    if (text2 != NULL)
        sqlite3_bind_text(stmt, index++, text2, -1, SQLITE_TRANSIENT);
    if (text3 != NULL)
        sqlite3_bind_text(stmt, index++, text3, -1, SQLITE_TRANSIENT);
    if (index <= sqlite3_bind_parameter_count(stmt))
        sqlite3_bind_int64(stmt, index++, int1);
    if (index <= sqlite3_bind_parameter_count(stmt))
        sqlite3_bind_int64(stmt, index++, int2);
    r = sqlite3_step(stmt);
    if (r != SQLITE_DONE && r != SQLITE_ROW) {
        r = fail(state, doing);
        sqlite3_finalize(stmt);
        return r;
    }
    sqlite3_finalize(stmt);
    return 0;
}

int
notify_state_open(struct notify_state **out, const char *path, char *err, size_t err_size)
{
    struct notify_state *state = calloc(1, sizeof(*state));
    sqlite3_stmt *stmt = NULL;
    int r;

    *out = NULL;
    if (state == NULL)
        return -ENOMEM;
    if (sqlite3_open_v2(path, &state->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        snprintf(err, err_size, "cannot open the state file %s: %s", path,
                 state->db ? sqlite3_errmsg(state->db) : "out of memory");
        r = -EIO;
        goto fail;
    }
    sqlite3_busy_timeout(state->db, 5000);
    if (sqlite3_exec(state->db,
                     "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;",
                     NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(state->db, schema, NULL, NULL, NULL) != SQLITE_OK) {
        snprintf(err, err_size, "cannot set up the state file %s: %s", path,
                 sqlite3_errmsg(state->db));
        r = -EIO;
        goto fail;
    }
    if (sqlite3_prepare_v2(state->db,
                           "SELECT cursor, digest_day, round_day, round_seq FROM progress "
                           "WHERE id = 1",
                           -1, &stmt, NULL) != SQLITE_OK ||
        sqlite3_step(stmt) != SQLITE_ROW) {
        snprintf(err, err_size, "cannot read the state file %s: %s", path,
                 sqlite3_errmsg(state->db));
        sqlite3_finalize(stmt);
        r = -EIO;
        goto fail;
    }
    state->cursor = sqlite3_column_int64(stmt, 0);
    snprintf(state->digest_day, sizeof(state->digest_day), "%s",
             (const char *)sqlite3_column_text(stmt, 1));
    snprintf(state->round_day, sizeof(state->round_day), "%s",
             (const char *)sqlite3_column_text(stmt, 2));
    state->round_seq = sqlite3_column_int64(stmt, 3);
    sqlite3_finalize(stmt);
    state->saved_cursor = state->cursor;
    memcpy(state->saved_digest_day, state->digest_day, sizeof(state->digest_day));
    *out = state;
    return 0;
fail:
    notify_state_close(state);
    return r;
}

void
notify_state_close(struct notify_state *state)
{
    if (state == NULL)
        return;
    sqlite3_close(state->db);
    free(state);
}

const char *
notify_state_error(const struct notify_state *state)
{
    return state->error;
}

int64_t
notify_state_cursor(const struct notify_state *state)
{
    return state->cursor;
}

const char *
notify_state_digest_day(const struct notify_state *state)
{
    return state->digest_day;
}

int
notify_state_begin(struct notify_state *state)
{
    return run(state, "BEGIN IMMEDIATE", NULL, NULL, NULL, 0, 0, "starting a transaction");
}

int
notify_state_commit(struct notify_state *state)
{
    int r = run(state, "COMMIT", NULL, NULL, NULL, 0, 0, "committing");

    if (r < 0) {
        notify_state_rollback(state);
        return r;
    }
    state->saved_cursor = state->cursor;
    memcpy(state->saved_digest_day, state->digest_day, sizeof(state->digest_day));
    return 0;
}

void
notify_state_rollback(struct notify_state *state)
{
    if (!sqlite3_get_autocommit(state->db))
        sqlite3_exec(state->db, "ROLLBACK", NULL, NULL, NULL);
    state->cursor = state->saved_cursor;
    memcpy(state->digest_day, state->saved_digest_day, sizeof(state->digest_day));
}

int
notify_state_set_cursor(struct notify_state *state, int64_t seq)
{
    int r;

    if (seq <= state->cursor)
        return 0;
    r = run(state, "UPDATE progress SET cursor = ? WHERE id = 1", NULL, NULL, NULL, seq, 0,
            "moving the cursor");
    if (r == 0)
        state->cursor = seq;
    return r;
}

static int
queue(struct notify_state *state, const char *sql, const cJSON *notification, const char *reason)
{
    const cJSON *seq = cJSON_GetObjectItemCaseSensitive(notification, "seq");
    const cJSON *recipient = cJSON_GetObjectItemCaseSensitive(notification, "recipient_id");
    char *text;
    int r;

    if (!cJSON_IsNumber(seq) || !cJSON_IsString(recipient)) {
        snprintf(state->error, sizeof(state->error), "a notification without seq or recipient_id");
        return -EINVAL;
    }
    text = cJSON_PrintUnformatted(notification);
    if (text == NULL)
        return -ENOMEM;
    r = run(state, sql, recipient->valuestring, reason != NULL ? reason : text,
            reason != NULL ? text : NULL, (int64_t)seq->valuedouble, 0, "queueing a notification");
    free(text);
    return r;
}

int
notify_state_queue_digest(struct notify_state *state, const cJSON *notification)
{
    return queue(state,
                 "INSERT OR REPLACE INTO digest_queue (recipient_id, notification, seq) "
                 "VALUES (?, ?, ?)",
                 notification, NULL);
}

int
notify_state_queue_undeliverable(struct notify_state *state, const cJSON *notification,
                                 const char *reason)
{
    return queue(state,
                 "INSERT OR REPLACE INTO undeliverable (recipient_id, reason, notification, seq) "
                 "VALUES (?, ?, ?, ?)",
                 notification, reason);
}

int
notify_state_set_digest_day(struct notify_state *state, const char *day)
{
    int r = run(state, "UPDATE progress SET digest_day = ? WHERE id = 1", day, NULL, NULL, 0, 0,
                "recording the digest day");

    if (r == 0)
        snprintf(state->digest_day, sizeof(state->digest_day), "%s", day);
    return r;
}

int
notify_state_start_round(struct notify_state *state, const char *today, int64_t *round_seq)
{
    int r;

    if (strcmp(state->round_day, today) != 0) {
        r = run(state, "UPDATE progress SET round_day = ?, round_seq = cursor WHERE id = 1", today,
                NULL, NULL, 0, 0, "starting the day's round");
        if (r < 0)
            return r;
        snprintf(state->round_day, sizeof(state->round_day), "%s", today);
        state->round_seq = state->cursor;
    }
    *round_seq = state->round_seq;
    return 0;
}

int
notify_state_log_delivery(struct notify_state *state, const char *message_id, const char *address,
                          const char *subject, const char *what, int64_t first_seq,
                          int64_t last_seq, int64_t at_ms)
{
    sqlite3_stmt *stmt = NULL;
    int r;

    if (sqlite3_prepare_v2(state->db,
                           "INSERT INTO deliveries (message_id, address, subject, what, "
                           "first_seq, last_seq, at_ms) VALUES (?, ?, ?, ?, ?, ?, ?)",
                           -1, &stmt, NULL) != SQLITE_OK)
        return fail(state, "logging a delivery");
    sqlite3_bind_text(stmt, 1, message_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 2, address, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 3, subject, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 4, what, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(stmt, 5, first_seq);
    sqlite3_bind_int64(stmt, 6, last_seq);
    sqlite3_bind_int64(stmt, 7, at_ms);
    r = sqlite3_step(stmt) == SQLITE_DONE ? 0 : fail(state, "logging a delivery");
    sqlite3_finalize(stmt);
    return r;
}

/*
 * Runs a query whose rows are (text, text[, text]) and builds an array: of
 * the first column's strings when build is 0; of parsed notifications when
 * 1; of {"reason", "notification"} objects when 2.
 */
static int
select_array(struct notify_state *state, const char *sql, const char *param, int64_t limit1,
             int64_t limit2, int build, cJSON **out)
{
    sqlite3_stmt *stmt = NULL;
    cJSON *array = cJSON_CreateArray();
    int r = 0;

    *out = NULL;
    if (array == NULL)
        return -ENOMEM;
    if (sqlite3_prepare_v2(state->db, sql, -1, &stmt, NULL) != SQLITE_OK) {
        cJSON_Delete(array);
        return fail(state, "reading the queue");
    }
    {
        int index = 1;
        if (param != NULL)
            sqlite3_bind_text(stmt, index++, param, -1, SQLITE_TRANSIENT);
        if (index <= sqlite3_bind_parameter_count(stmt))
            sqlite3_bind_int64(stmt, index++, limit1);
        if (index <= sqlite3_bind_parameter_count(stmt))
            sqlite3_bind_int64(stmt, index++, limit2);
    }
    while ((r = sqlite3_step(stmt)) == SQLITE_ROW) {
        const char *first = (const char *)sqlite3_column_text(stmt, 0);
        cJSON *item;
        if (build == 0) {
            item = cJSON_CreateString(first);
        } else if (build == 1) {
            item = cJSON_Parse(first);
        } else {
            cJSON *notification = cJSON_Parse((const char *)sqlite3_column_text(stmt, 1));
            item = cJSON_CreateObject();
            if (item == NULL || notification == NULL ||
                cJSON_AddStringToObject(item, "reason", first) == NULL) {
                cJSON_Delete(notification);
                cJSON_Delete(item);
                item = NULL;
            } else {
                cJSON_AddItemToObject(item, "notification", notification);
            }
        }
        if (item == NULL) {
            /* A row that is not JSON cannot come from this program: the file was edited. */
            snprintf(state->error, sizeof(state->error), "a queued notification is not JSON");
            sqlite3_finalize(stmt);
            cJSON_Delete(array);
            return -EIO;
        }
        cJSON_AddItemToArray(array, item);
    }
    if (r != SQLITE_DONE) {
        r = fail(state, "reading the queue");
        sqlite3_finalize(stmt);
        cJSON_Delete(array);
        return r;
    }
    sqlite3_finalize(stmt);
    *out = array;
    return 0;
}

int
notify_state_digest_recipients(struct notify_state *state, int64_t max_seq, cJSON **out)
{
    return select_array(state,
                        "SELECT recipient_id FROM digest_queue WHERE seq <= ? "
                        "GROUP BY recipient_id ORDER BY MIN(seq)",
                        NULL, max_seq, 0, 0, out);
}

int
notify_state_digest_items(struct notify_state *state, const char *recipient, int64_t max_seq,
                          cJSON **out)
{
    return select_array(state,
                        "SELECT notification FROM digest_queue WHERE recipient_id = ? "
                        "AND seq <= ? ORDER BY seq",
                        recipient, max_seq, 0, 1, out);
}

int
notify_state_digest_done(struct notify_state *state, const char *recipient, int64_t seq)
{
    return run(state, "DELETE FROM digest_queue WHERE recipient_id = ? AND seq <= ?", recipient,
               NULL, NULL, seq, 0, "removing sent digest items");
}

int
notify_state_undeliverable(struct notify_state *state, int64_t max_seq, int limit, cJSON **out)
{
    return select_array(state,
                        "SELECT reason, notification FROM undeliverable WHERE seq <= ? "
                        "ORDER BY seq LIMIT ?",
                        NULL, max_seq, limit, 2, out);
}

int
notify_state_undeliverable_done(struct notify_state *state, int64_t seq)
{
    return run(state, "DELETE FROM undeliverable WHERE seq <= ?", NULL, NULL, NULL, seq, 0,
               "removing reported notifications");
}

int64_t
notify_state_delivered(struct notify_state *state, const char *what)
{
    sqlite3_stmt *stmt = NULL;
    int64_t count = -1;

    if (sqlite3_prepare_v2(state->db,
                           what != NULL ? "SELECT COUNT(*) FROM deliveries WHERE what = ?"
                                        : "SELECT COUNT(*) FROM deliveries",
                           -1, &stmt, NULL) != SQLITE_OK)
        return fail(state, "counting deliveries");
    if (what != NULL)
        sqlite3_bind_text(stmt, 1, what, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(stmt) == SQLITE_ROW)
        count = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    return count;
}

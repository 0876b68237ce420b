/*
 * The store module's third file: KPI figures (cells), their states and the
 * record of state changes, where the stored figures stand, and the reads the
 * KPI logic needs from the rest of the database.  Statements are prepared on
 * first use on each connection.
 */
#include "store.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "store_internal.h"

enum lazy {
    K_CELL_GET,
    K_CELL_PUT,
    K_CELLS,
    K_PRUNE_CELLS,
    K_PRUNE_STATES,
    K_STATE_GET,
    K_STATE_PUT,
    K_STATES,
    K_ALERT_INSERT,
    K_PROGRESS_GET,
    K_PROGRESS_PUT,
    K_EVENTS_AFTER,
    K_PENDING,
    K_COUNT
};

_Static_assert(K_COUNT <= STORE_LAZY_MAX - STORE_LAZY_KPI, "the lazy slots of store_kpi.c");

#define CELL_COLUMNS                                                                               \
    "metric, period, start_day, team_id, count, sum, min, max, last, last_ms, last_seq, sketch"
#define STATE_COLUMNS "metric, period, start_day, team_id, state, value, seq, changed_ms"

static const char *const lazy_sql[K_COUNT] = {
    [K_CELL_GET] = "SELECT " CELL_COLUMNS " FROM kpi_cells WHERE metric = ?1 AND period = ?2 AND "
                   "start_day = ?3 AND team_id = ?4",
    /* An update in place when the figure exists (a replace would delete and insert it). */
    [K_CELL_PUT] = "INSERT INTO kpi_cells (" CELL_COLUMNS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, "
                   "?8, ?9, ?10, ?11, ?12) ON CONFLICT (metric, period, start_day, team_id) DO "
                   "UPDATE SET count = ?5, sum = ?6, min = ?7, max = ?8, last = ?9, "
                   "last_ms = ?10, last_seq = ?11, sketch = ?12",
    [K_CELLS] = "SELECT " CELL_COLUMNS " FROM kpi_cells WHERE metric = ?1 AND period = ?2 AND "
                "start_day BETWEEN ?3 AND ?4 ORDER BY start_day, team_id",
    [K_PRUNE_CELLS] = "DELETE FROM kpi_cells WHERE period = ?1 AND start_day < ?2",
    [K_PRUNE_STATES] = "DELETE FROM kpi_states WHERE period = ?1 AND start_day < ?2",
    [K_STATE_GET] = "SELECT " STATE_COLUMNS " FROM kpi_states WHERE metric = ?1 AND period = ?2 "
                    "AND start_day = ?3 AND team_id = ?4",
    [K_STATE_PUT] = "INSERT OR REPLACE INTO kpi_states (" STATE_COLUMNS ") VALUES (?1, ?2, ?3, "
                    "?4, ?5, ?6, ?7, ?8)",
    [K_STATES] = "SELECT " STATE_COLUMNS " FROM kpi_states WHERE metric = ?1 AND period = ?2 AND "
                 "start_day BETWEEN ?3 AND ?4 ORDER BY start_day, team_id",
    [K_ALERT_INSERT] = "INSERT INTO kpi_alerts (metric, period, start_day, team_id, from_state, "
                       "to_state, value, count, seq, at_ms) VALUES (?1, ?2, ?3, ?4, ?9, ?5, ?6, "
                       "?10, ?7, ?8)",
    [K_PROGRESS_GET] = "SELECT applied_seq, snapshot_day FROM kpi_progress WHERE id = 1",
    [K_PROGRESS_PUT] = "UPDATE kpi_progress SET applied_seq = ?1, snapshot_day = ?2 WHERE id = 1",
    [K_EVENTS_AFTER] = "SELECT seq, body FROM events WHERE seq > ?2 AND type = ?1 ORDER BY seq "
                       "LIMIT ?3",
    [K_PENDING] = "SELECT o.staff_id, s.team_id, o.kind, o.state, o.target_day FROM staff s "
                  "JOIN obligations o ON o.staff_id = s.staff_id WHERE s.left_date IS NULL AND "
                  "o.state IN (0, 4) ORDER BY s.staff_id",
};

static sqlite3_stmt *
lazy(struct store *store, enum lazy which)
{
    return store_lazy(store, STORE_LAZY_KPI + which, lazy_sql[which]);
}

static void
bind_key(sqlite3_stmt *stmt, const char *metric, int period, int64_t start_day, const char *team_id)
{
    sqlite3_bind_text(stmt, 1, metric, -1, SQLITE_STATIC);
    sqlite3_bind_int(stmt, 2, period);
    sqlite3_bind_int64(stmt, 3, start_day);
    sqlite3_bind_text(stmt, 4, team_id, -1, SQLITE_STATIC);
}

/* Binds a metric's figures (or states) of one period type from first_day to last_day. */
static void
bind_range(sqlite3_stmt *stmt, const char *metric, int period, int64_t first_day, int64_t last_day)
{
    sqlite3_bind_text(stmt, 1, metric, -1, SQLITE_STATIC);
    sqlite3_bind_int(stmt, 2, period);
    sqlite3_bind_int64(stmt, 3, first_day);
    sqlite3_bind_int64(stmt, 4, last_day);
}

static double
column_double_or(sqlite3_stmt *stmt, int column, double otherwise)
{
    return sqlite3_column_type(stmt, column) == SQLITE_NULL ? otherwise
                                                            : sqlite3_column_double(stmt, column);
}

struct cell_visitor {
    store_kpi_cell_visit visit;
    void *context;
    bool seen;
};

static int
cell_row(sqlite3_stmt *stmt, void *context)
{
    struct cell_visitor *visitor = context;
    struct store_kpi_cell cell;

    cell.metric = (const char *)sqlite3_column_text(stmt, 0);
    cell.period = sqlite3_column_int(stmt, 1);
    cell.start_day = sqlite3_column_int64(stmt, 2);
    cell.team_id = (const char *)sqlite3_column_text(stmt, 3);
    cell.count = sqlite3_column_int64(stmt, 4);
    cell.sum = sqlite3_column_double(stmt, 5);
    cell.min = column_double_or(stmt, 6, 0);
    cell.max = column_double_or(stmt, 7, 0);
    cell.last = column_double_or(stmt, 8, 0);
    cell.last_ms = sqlite3_column_int64(stmt, 9);
    cell.last_seq = sqlite3_column_int64(stmt, 10);
    cell.sketch = sqlite3_column_blob(stmt, 11);
    cell.sketch_size = (size_t)sqlite3_column_bytes(stmt, 11);
    if (cell.metric == NULL || cell.team_id == NULL)
        return -EIO;
    visitor->seen = true;
    return visitor->visit(visitor->context, &cell);
}

int
store_kpi_cell_get(struct store *store, const char *metric, int period, int64_t start_day,
                   const char *team_id, store_kpi_cell_visit visit, void *context)
{
    sqlite3_stmt *stmt = lazy(store, K_CELL_GET);
    struct cell_visitor visitor = {visit, context, false};
    int r;

    if (stmt == NULL)
        return -EIO;
    bind_key(stmt, metric, period, start_day, team_id);
    r = store_step_rows(stmt, cell_row, &visitor);
    return r == 0 && !visitor.seen ? -ENOENT : r;
}

int
store_kpi_cell_put(struct store *store, const struct store_kpi_cell *cell)
{
    sqlite3_stmt *stmt = lazy(store, K_CELL_PUT);

    if (stmt == NULL)
        return -EIO;
    bind_key(stmt, cell->metric, cell->period, cell->start_day, cell->team_id);
    sqlite3_bind_int64(stmt, 5, cell->count);
    sqlite3_bind_double(stmt, 6, cell->sum);
    if (cell->count > 0) {
        sqlite3_bind_double(stmt, 7, cell->min);
        sqlite3_bind_double(stmt, 8, cell->max);
        sqlite3_bind_double(stmt, 9, cell->last);
        sqlite3_bind_int64(stmt, 10, cell->last_ms);
        sqlite3_bind_int64(stmt, 11, cell->last_seq);
    }
    if (cell->sketch != NULL && cell->sketch_size > 0)
        sqlite3_bind_blob(stmt, 12, cell->sketch, (int)cell->sketch_size, SQLITE_STATIC);
    return store_step_done(stmt);
}

int
store_kpi_cells(struct store *store, const char *metric, int period, int64_t first_day,
                int64_t last_day, store_kpi_cell_visit visit, void *context)
{
    sqlite3_stmt *stmt = lazy(store, K_CELLS);
    struct cell_visitor visitor = {visit, context, false};

    if (stmt == NULL)
        return -EIO;
    bind_range(stmt, metric, period, first_day, last_day);
    return store_step_rows(stmt, cell_row, &visitor);
}

int
store_kpi_prune(struct store *store, int period, int64_t before_day)
{
    enum lazy which[] = {K_PRUNE_CELLS, K_PRUNE_STATES};

    for (size_t i = 0; i < sizeof(which) / sizeof(which[0]); i++) {
        sqlite3_stmt *stmt = lazy(store, which[i]);
        if (stmt == NULL)
            return -EIO;
        sqlite3_bind_int(stmt, 1, period);
        sqlite3_bind_int64(stmt, 2, before_day);
        int r = store_step_done(stmt);
        if (r < 0)
            return r;
    }
    return 0;
}

static void
read_state(sqlite3_stmt *stmt, struct store_kpi_state *out)
{
    out->metric = (const char *)sqlite3_column_text(stmt, 0);
    out->period = sqlite3_column_int(stmt, 1);
    out->start_day = sqlite3_column_int64(stmt, 2);
    out->team_id = (const char *)sqlite3_column_text(stmt, 3);
    out->state = sqlite3_column_int(stmt, 4);
    out->has_value = sqlite3_column_type(stmt, 5) != SQLITE_NULL;
    out->value = sqlite3_column_double(stmt, 5);
    out->count = 0;
    out->seq = sqlite3_column_int64(stmt, 6);
    out->changed_ms = sqlite3_column_int64(stmt, 7);
}

static int
copy_state_row(sqlite3_stmt *stmt, void *context)
{
    struct store_kpi_state *out = context;

    read_state(stmt, out);
    out->metric = out->team_id = NULL; /* they die with the row */
    return 1;
}

int
store_kpi_state_get(struct store *store, const char *metric, int period, int64_t start_day,
                    const char *team_id, struct store_kpi_state *out)
{
    sqlite3_stmt *stmt = lazy(store, K_STATE_GET);
    int r;

    if (stmt == NULL)
        return -EIO;
    bind_key(stmt, metric, period, start_day, team_id);
    r = store_step_rows(stmt, copy_state_row, out);
    return r == 1 ? 0 : r == 0 ? -ENOENT : r;
}

static void
bind_state(sqlite3_stmt *stmt, const struct store_kpi_state *state)
{
    bind_key(stmt, state->metric, state->period, state->start_day, state->team_id);
    sqlite3_bind_int(stmt, 5, state->state);
    if (state->has_value)
        sqlite3_bind_double(stmt, 6, state->value);
    else
        sqlite3_bind_null(stmt, 6);
    sqlite3_bind_int64(stmt, 7, state->seq);
    sqlite3_bind_int64(stmt, 8, state->changed_ms);
}

int
store_kpi_state_put(struct store *store, const struct store_kpi_state *state)
{
    sqlite3_stmt *stmt = lazy(store, K_STATE_PUT);

    if (stmt == NULL)
        return -EIO;
    bind_state(stmt, state);
    return store_step_done(stmt);
}

struct state_visitor {
    store_kpi_state_visit visit;
    void *context;
};

static int
state_row(sqlite3_stmt *stmt, void *context)
{
    struct state_visitor *visitor = context;
    struct store_kpi_state state;

    read_state(stmt, &state);
    if (state.metric == NULL || state.team_id == NULL)
        return -EIO;
    return visitor->visit(visitor->context, &state);
}

int
store_kpi_states(struct store *store, const char *metric, int period, int64_t first_day,
                 int64_t last_day, store_kpi_state_visit visit, void *context)
{
    sqlite3_stmt *stmt = lazy(store, K_STATES);
    struct state_visitor visitor = {visit, context};

    if (stmt == NULL)
        return -EIO;
    bind_range(stmt, metric, period, first_day, last_day);
    return store_step_rows(stmt, state_row, &visitor);
}

int
store_kpi_alert_insert(struct store *store, const struct store_kpi_state *change, int from_state,
                       int64_t *id)
{
    sqlite3_stmt *stmt = lazy(store, K_ALERT_INSERT);
    int r;

    if (stmt == NULL)
        return -EIO;
    bind_state(stmt, change);
    sqlite3_bind_int(stmt, 9, from_state);
    sqlite3_bind_int64(stmt, 10, change->count);
    r = store_step_done(stmt);
    if (r == 0)
        *id = sqlite3_last_insert_rowid(store->db);
    return r;
}

static int
progress_row(sqlite3_stmt *stmt, void *context)
{
    int64_t *out = context;

    out[0] = sqlite3_column_int64(stmt, 0);
    out[1] =
        sqlite3_column_type(stmt, 1) == SQLITE_NULL ? STORE_NO_DAY : sqlite3_column_int64(stmt, 1);
    return 1;
}

int
store_kpi_progress_get(struct store *store, int64_t *applied_seq, int64_t *snapshot_day)
{
    sqlite3_stmt *stmt = lazy(store, K_PROGRESS_GET);
    int64_t values[2];
    int r;

    if (stmt == NULL)
        return -EIO;
    r = store_step_rows(stmt, progress_row, values);
    if (r == 0)
        return -ENOENT;
    if (r < 0)
        return r;
    *applied_seq = values[0];
    *snapshot_day = values[1];
    return 0;
}

int
store_kpi_progress_put(struct store *store, int64_t applied_seq, int64_t snapshot_day)
{
    sqlite3_stmt *stmt = lazy(store, K_PROGRESS_PUT);

    if (stmt == NULL)
        return -EIO;
    sqlite3_bind_int64(stmt, 1, applied_seq);
    if (snapshot_day != STORE_NO_DAY)
        sqlite3_bind_int64(stmt, 2, snapshot_day);
    return store_step_done(stmt);
}

struct event_visitor {
    int (*visit)(void *context, int64_t seq, const char *body, size_t size);
    void *context;
};

static int
event_row(sqlite3_stmt *stmt, void *context)
{
    struct event_visitor *visitor = context;
    const char *body = (const char *)sqlite3_column_text(stmt, 1);

    if (body == NULL)
        return -EIO;
    return visitor->visit(visitor->context, sqlite3_column_int64(stmt, 0), body,
                          (size_t)sqlite3_column_bytes(stmt, 1));
}

int
store_events_of_type_after(struct store *store, const char *type, int64_t after, int limit,
                           int (*visit)(void *context, int64_t seq, const char *body, size_t size),
                           void *context)
{
    sqlite3_stmt *stmt = lazy(store, K_EVENTS_AFTER);
    struct event_visitor visitor = {visit, context};

    if (stmt == NULL)
        return -EIO;
    sqlite3_bind_text(stmt, 1, type, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 2, after);
    sqlite3_bind_int(stmt, 3, limit);
    return store_step_rows(stmt, event_row, &visitor);
}

struct pending_visitor {
    int (*visit)(void *context, const struct store_pending *pending);
    void *context;
};

static int
pending_row(sqlite3_stmt *stmt, void *context)
{
    struct pending_visitor *visitor = context;
    struct store_pending pending;

    pending.staff_id = (const char *)sqlite3_column_text(stmt, 0);
    pending.team_id = (const char *)sqlite3_column_text(stmt, 1);
    pending.kind = (const char *)sqlite3_column_text(stmt, 2);
    pending.state = sqlite3_column_int(stmt, 3);
    pending.target_day = sqlite3_column_int64(stmt, 4);
    if (pending.staff_id == NULL || pending.team_id == NULL || pending.kind == NULL)
        return -EIO;
    return visitor->visit(visitor->context, &pending);
}

int
store_pending_obligations(struct store *store,
                          int (*visit)(void *context, const struct store_pending *pending),
                          void *context)
{
    sqlite3_stmt *stmt = lazy(store, K_PENDING);
    struct pending_visitor visitor = {visit, context};

    if (stmt == NULL)
        return -EIO;
    return store_step_rows(stmt, pending_row, &visitor);
}

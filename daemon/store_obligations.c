/*
 * The store module's second file: obligations, the notification outbox,
 * absences, concerns and actions.  Statements are prepared on first use on
 * each connection (the reader never needs the writer's).
 */
#include "store.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "store_internal.h"

enum lazy {
    L_OB_INSERT,
    L_OB_UPDATE,
    L_OB_GET,
    L_OB_OF_ALL,
    L_OB_OF_PENDING,
    L_OB_DUE,
    L_OB_NEXT,
    L_OB_OVERDUE,
    L_OB_RESPONSIBLE,
    L_NOTE_INSERT,
    L_NOTE_AFTER,
    L_NOTE_AFTER_FOR,
    L_NOTE_ACK,
    L_NOTE_LAST,
    L_MISSED_COUNT,
    L_MISSED_INSERT,
    L_ABSENCE_GET,
    L_ABSENCE_PUT,
    L_ABSENCE_OVERLAPS,
    L_ABSENCES_OF,
    L_CONCERN_GET,
    L_CONCERN_PUT,
    L_ACTION_GET,
    L_ACTION_PUT,
    L_COUNT
};

_Static_assert(L_COUNT <= STORE_LAZY_KPI - STORE_LAZY_OBLIGATIONS,
               "the lazy slots of store_obligations.c");

#define OB_COLUMNS                                                                                 \
    "id, staff_id, kind, item, step, title, responsible_id, occurrence, due_day, booked_day, "     \
    "booked_ms, target_day, state, closed_day, reason, paused_day, reminders_done, "               \
    "escalations_done, next_ms, created_seq, updated_seq, generation"
#define NOTE_COLUMNS                                                                               \
    "seq, created_ms, planned_ms, type, recipient_id, obligation_id, action, staff_id, kind, "     \
    "item, step, due_day, booked_day, days_overdue, level, text, policy, acked_ms, acked_by"
static const char *const lazy_sql[L_COUNT] = {
    [L_OB_INSERT] = "INSERT INTO obligations (" OB_COLUMNS ") VALUES (NULL, ?2, ?3, ?4, ?5, ?6, "
                    "?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22)",
    [L_OB_UPDATE] = "UPDATE obligations SET title = ?6, responsible_id = ?7, due_day = ?9, "
                    "booked_day = ?10, booked_ms = ?11, target_day = ?12, state = ?13, "
                    "closed_day = ?14, reason = ?15, paused_day = ?16, reminders_done = ?17, "
                    "escalations_done = ?18, next_ms = ?19, updated_seq = ?21, generation = ?22 "
                    "WHERE id = ?1",
    [L_OB_GET] = "SELECT " OB_COLUMNS " FROM obligations WHERE id = ?1",
    [L_OB_OF_ALL] = "SELECT " OB_COLUMNS " FROM obligations WHERE staff_id = ?1 AND "
                    "(?2 IS NULL OR kind = ?2) AND (?3 IS NULL OR item = ?3) "
                    "ORDER BY due_day, id",
    [L_OB_OF_PENDING] = "SELECT " OB_COLUMNS " FROM obligations WHERE staff_id = ?1 AND "
                        "(?2 IS NULL OR kind = ?2) AND (?3 IS NULL OR item = ?3) AND "
                        "state IN (0, 4) ORDER BY due_day, id",
    [L_OB_DUE] = "SELECT " OB_COLUMNS " FROM obligations WHERE next_ms IS NOT NULL AND "
                 "next_ms <= ?1 ORDER BY next_ms, id LIMIT ?2",
    [L_OB_NEXT] = "SELECT min(next_ms) FROM obligations WHERE next_ms IS NOT NULL",
    [L_OB_OVERDUE] = "SELECT " OB_COLUMNS " FROM obligations WHERE state = 0 AND "
                     "target_day < ?1 ORDER BY target_day, id LIMIT ?2",
    [L_OB_RESPONSIBLE] = "SELECT " OB_COLUMNS " FROM obligations WHERE responsible_id = ?1 AND "
                         "state IN (0, 4) ORDER BY due_day, id",
    [L_NOTE_INSERT] = "INSERT INTO notifications (created_ms, planned_ms, type, recipient_id, "
                      "obligation_id, action, staff_id, kind, item, step, due_day, booked_day, "
                      "days_overdue, level, text, policy) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, "
                      "?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
    [L_NOTE_AFTER] = "SELECT " NOTE_COLUMNS " FROM notifications WHERE seq > ?1 ORDER BY seq "
                     "LIMIT ?2",
    [L_NOTE_AFTER_FOR] = "SELECT " NOTE_COLUMNS " FROM notifications WHERE recipient_id = ?3 AND "
                         "seq > ?1 ORDER BY seq LIMIT ?2",
    [L_NOTE_ACK] = "UPDATE notifications SET acked_ms = coalesce(acked_ms, ?2), "
                   "acked_by = coalesce(acked_by, ?3) WHERE seq = ?1",
    [L_NOTE_LAST] = "SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = "
                    "'notifications'), 0)",
    /* Rows are never deleted, so the highest id is the count, read from the index's end. */
    [L_MISSED_COUNT] = "SELECT coalesce(max(id), 0) FROM missed",
    [L_MISSED_INSERT] = "INSERT INTO missed (obligation_id, action, planned_ms, recorded_ms, "
                        "reason) VALUES (?1, ?2, ?3, ?4, ?5)",
    [L_ABSENCE_GET] = "SELECT absence_id, staff_id, kind, start_day, end_day FROM absences "
                      "WHERE absence_id = ?1",
    [L_ABSENCE_PUT] = "INSERT OR REPLACE INTO absences (absence_id, staff_id, kind, start_day, "
                      "end_day) VALUES (?1, ?2, ?3, ?4, ?5)",
    [L_ABSENCE_OVERLAPS] = "SELECT 1 FROM absences WHERE staff_id = ?1 AND absence_id != ?2 AND "
                           "start_day <= ?4 AND coalesce(end_day, 9223372036854775807) >= ?3 "
                           "LIMIT 1",
    [L_ABSENCES_OF] = "SELECT absence_id, staff_id, kind, start_day, end_day FROM absences "
                      "WHERE staff_id = ?1 ORDER BY start_day DESC",
    [L_CONCERN_GET] = "SELECT concern_id, staff_id, opened_day, closed_day FROM concerns "
                      "WHERE concern_id = ?1",
    [L_CONCERN_PUT] = "INSERT OR REPLACE INTO concerns (concern_id, staff_id, opened_day, "
                      "closed_day, outcome) VALUES (?1, ?2, ?3, ?4, ?5)",
    [L_ACTION_GET] = "SELECT obligation_id FROM actions WHERE action_id = ?1",
    [L_ACTION_PUT] = "INSERT OR REPLACE INTO actions (action_id, obligation_id) VALUES (?1, ?2)",
};

static sqlite3_stmt *
lazy(struct store *store, enum lazy which)
{
    return store_lazy(store, STORE_LAZY_OBLIGATIONS + which, lazy_sql[which]);
}

const char *
store_obligation_state_name(int state)
{
    static const char *const names[] = {"open",      "completed", "waived",
                                        "cancelled", "paused",    "missed"};

    return state >= 0 && state < (int)(sizeof(names) / sizeof(names[0])) ? names[state] : "unknown";
}

static void
bind_day(sqlite3_stmt *stmt, int index, int64_t day)
{
    if (day == STORE_NO_DAY)
        sqlite3_bind_null(stmt, index);
    else
        sqlite3_bind_int64(stmt, index, day);
}

static int64_t
column_day(sqlite3_stmt *stmt, int column)
{
    return sqlite3_column_type(stmt, column) == SQLITE_NULL ? STORE_NO_DAY
                                                            : sqlite3_column_int64(stmt, column);
}

static void
bind_obligation(sqlite3_stmt *stmt, const struct obligation *o)
{
    sqlite3_bind_int64(stmt, 1, o->id);
    sqlite3_bind_text(stmt, 2, o->staff_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 3, o->kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 4, o->item, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 5, o->step, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 6, o->title, -1, SQLITE_STATIC);
    store_bind_optional(stmt, 7, o->responsible_id);
    sqlite3_bind_int(stmt, 8, o->occurrence);
    sqlite3_bind_int64(stmt, 9, o->due_day);
    bind_day(stmt, 10, o->booked_day);
    sqlite3_bind_int64(stmt, 11, o->booked_ms);
    sqlite3_bind_int64(stmt, 12, o->target_day);
    sqlite3_bind_int(stmt, 13, o->state);
    bind_day(stmt, 14, o->closed_day);
    store_bind_optional(stmt, 15, o->reason);
    bind_day(stmt, 16, o->paused_day);
    sqlite3_bind_int64(stmt, 17, o->reminders_done);
    sqlite3_bind_int(stmt, 18, o->escalations_done);
    if (o->next_ms == 0)
        sqlite3_bind_null(stmt, 19);
    else
        sqlite3_bind_int64(stmt, 19, o->next_ms);
    sqlite3_bind_int64(stmt, 20, o->created_seq);
    sqlite3_bind_int64(stmt, 21, o->updated_seq);
    sqlite3_bind_int(stmt, 22, o->generation);
}

static void
read_obligation(sqlite3_stmt *stmt, struct obligation *o)
{
    o->id = sqlite3_column_int64(stmt, 0);
    store_column_copy(stmt, 1, o->staff_id, sizeof(o->staff_id));
    store_column_copy(stmt, 2, o->kind, sizeof(o->kind));
    store_column_copy(stmt, 3, o->item, sizeof(o->item));
    store_column_copy(stmt, 4, o->step, sizeof(o->step));
    store_column_copy(stmt, 5, o->title, sizeof(o->title));
    store_column_copy(stmt, 6, o->responsible_id, sizeof(o->responsible_id));
    o->occurrence = sqlite3_column_int(stmt, 7);
    o->due_day = sqlite3_column_int64(stmt, 8);
    o->booked_day = column_day(stmt, 9);
    o->booked_ms = sqlite3_column_int64(stmt, 10);
    o->target_day = sqlite3_column_int64(stmt, 11);
    o->state = sqlite3_column_int(stmt, 12);
    o->closed_day = column_day(stmt, 13);
    store_column_copy(stmt, 14, o->reason, sizeof(o->reason));
    o->paused_day = column_day(stmt, 15);
    o->reminders_done = (unsigned)sqlite3_column_int64(stmt, 16);
    o->escalations_done = sqlite3_column_int(stmt, 17);
    o->next_ms = sqlite3_column_type(stmt, 18) == SQLITE_NULL ? 0 : sqlite3_column_int64(stmt, 18);
    o->created_seq = sqlite3_column_int64(stmt, 19);
    o->updated_seq = sqlite3_column_int64(stmt, 20);
    o->generation = sqlite3_column_int(stmt, 21);
}

int
store_obligation_insert(struct store *store, struct obligation *obligation)
{
    sqlite3_stmt *stmt = lazy(store, L_OB_INSERT);
    int r;

    if (stmt == NULL)
        return -EIO;
    bind_obligation(stmt, obligation);
    r = store_step_done(stmt);
    if (r == 0)
        obligation->id = sqlite3_last_insert_rowid(store->db);
    return r;
}

int
store_obligation_update(struct store *store, const struct obligation *obligation)
{
    sqlite3_stmt *stmt = lazy(store, L_OB_UPDATE);
    int r;

    if (stmt == NULL)
        return -EIO;
    bind_obligation(stmt, obligation);
    r = store_step_done(stmt);
    if (r == 0 && sqlite3_changes(store->db) != 1)
        r = -ESTALE;
    return r;
}

/* Hands one obligation row to the caller's visitor. */
struct obligation_visitor {
    store_obligation_visit visit;
    void *context;
};

static int
obligation_row(sqlite3_stmt *stmt, void *context)
{
    struct obligation_visitor *visitor = context;
    struct obligation obligation;

    read_obligation(stmt, &obligation);
    return visitor->visit(visitor->context, &obligation);
}

/* Steps stmt (already bound), visiting each obligation until visit returns non-zero. */
static int
visit_obligations(sqlite3_stmt *stmt, store_obligation_visit visit, void *context)
{
    struct obligation_visitor visitor = {visit, context};

    return store_step_rows(stmt, obligation_row, &visitor);
}

static int
copy_obligation(void *out, const struct obligation *obligation)
{
    *(struct obligation *)out = *obligation;
    return 1;
}

int
store_obligation_get(struct store *store, int64_t id, struct obligation *out)
{
    sqlite3_stmt *stmt = lazy(store, L_OB_GET);
    int r;

    if (stmt == NULL)
        return -EIO;
    sqlite3_bind_int64(stmt, 1, id);
    r = visit_obligations(stmt, copy_obligation, out);
    return r == 1 ? 0 : r == 0 ? -ENOENT : r;
}

int
store_obligations_of(struct store *store, const char *staff_id, const char *kind, const char *item,
                     bool pending_only, store_obligation_visit visit, void *context)
{
    sqlite3_stmt *stmt = lazy(store, pending_only ? L_OB_OF_PENDING : L_OB_OF_ALL);

    if (stmt == NULL)
        return -EIO;
    sqlite3_bind_text(stmt, 1, staff_id, -1, SQLITE_STATIC);
    if (kind)
        sqlite3_bind_text(stmt, 2, kind, -1, SQLITE_STATIC);
    if (item)
        sqlite3_bind_text(stmt, 3, item, -1, SQLITE_STATIC);
    return visit_obligations(stmt, visit, context);
}

int
store_obligations_due(struct store *store, int64_t now_ms, int limit, store_obligation_visit visit,
                      void *context)
{
    sqlite3_stmt *stmt = lazy(store, L_OB_DUE);

    if (stmt == NULL)
        return -EIO;
    sqlite3_bind_int64(stmt, 1, now_ms);
    sqlite3_bind_int(stmt, 2, limit);
    return visit_obligations(stmt, visit, context);
}

int
store_obligations_next_ms(struct store *store, int64_t *out_ms)
{
    sqlite3_stmt *stmt = lazy(store, L_OB_NEXT);
    int rc;

    if (stmt == NULL)
        return -EIO;
    rc = sqlite3_step(stmt);
    *out_ms = rc == SQLITE_ROW && sqlite3_column_type(stmt, 0) != SQLITE_NULL
                  ? sqlite3_column_int64(stmt, 0)
                  : 0;
    sqlite3_reset(stmt);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : store_map_error(rc);
}

int
store_obligations_overdue(struct store *store, int64_t today, int limit,
                          store_obligation_visit visit, void *context)
{
    sqlite3_stmt *stmt = lazy(store, L_OB_OVERDUE);

    if (stmt == NULL)
        return -EIO;
    sqlite3_bind_int64(stmt, 1, today);
    sqlite3_bind_int(stmt, 2, limit);
    return visit_obligations(stmt, visit, context);
}

int
store_obligations_responsible(struct store *store, const char *responsible_id,
                              store_obligation_visit visit, void *context)
{
    sqlite3_stmt *stmt = lazy(store, L_OB_RESPONSIBLE);

    if (stmt == NULL)
        return -EIO;
    sqlite3_bind_text(stmt, 1, responsible_id, -1, SQLITE_STATIC);
    return visit_obligations(stmt, visit, context);
}

int
store_notification_insert(struct store *store, struct notification *n)
{
    sqlite3_stmt *stmt = lazy(store, L_NOTE_INSERT);
    int r;

    if (stmt == NULL)
        return -EIO;
    sqlite3_bind_int64(stmt, 1, n->created_ms);
    sqlite3_bind_int64(stmt, 2, n->planned_ms);
    sqlite3_bind_text(stmt, 3, n->type, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 4, n->recipient_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 5, n->obligation_id);
    sqlite3_bind_int(stmt, 6, n->action);
    sqlite3_bind_text(stmt, 7, n->staff_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 8, n->kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 9, n->item, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 10, n->step, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 11, n->due_day);
    bind_day(stmt, 12, n->booked_day);
    sqlite3_bind_int(stmt, 13, n->days_overdue);
    sqlite3_bind_int(stmt, 14, n->level);
    sqlite3_bind_text(stmt, 15, n->text, -1, SQLITE_STATIC);
    store_bind_optional(stmt, 16, n->policy);
    r = store_step_done(stmt);
    if (r == 0)
        n->seq = sqlite3_last_insert_rowid(store->db);
    return r;
}

static void
read_notification(sqlite3_stmt *stmt, struct notification *n)
{
    n->seq = sqlite3_column_int64(stmt, 0);
    n->created_ms = sqlite3_column_int64(stmt, 1);
    n->planned_ms = sqlite3_column_int64(stmt, 2);
    store_column_copy(stmt, 3, n->type, sizeof(n->type));
    store_column_copy(stmt, 4, n->recipient_id, sizeof(n->recipient_id));
    n->obligation_id = sqlite3_column_int64(stmt, 5);
    n->action = sqlite3_column_int(stmt, 6);
    store_column_copy(stmt, 7, n->staff_id, sizeof(n->staff_id));
    store_column_copy(stmt, 8, n->kind, sizeof(n->kind));
    store_column_copy(stmt, 9, n->item, sizeof(n->item));
    store_column_copy(stmt, 10, n->step, sizeof(n->step));
    n->due_day = sqlite3_column_int64(stmt, 11);
    n->booked_day = column_day(stmt, 12);
    n->days_overdue = sqlite3_column_int(stmt, 13);
    n->level = sqlite3_column_int(stmt, 14);
    store_column_copy(stmt, 15, n->text, sizeof(n->text));
    store_column_copy(stmt, 16, n->policy, sizeof(n->policy));
    n->acked_ms = sqlite3_column_type(stmt, 17) == SQLITE_NULL ? 0 : sqlite3_column_int64(stmt, 17);
    store_column_copy(stmt, 18, n->acked_by, sizeof(n->acked_by));
}

struct notification_visitor {
    store_notification_visit visit;
    void *context;
};

static int
notification_row(sqlite3_stmt *stmt, void *context)
{
    struct notification_visitor *visitor = context;
    struct notification notification;

    read_notification(stmt, &notification);
    return visitor->visit(visitor->context, &notification);
}

int
store_notifications_after(struct store *store, int64_t after, int limit, const char *recipient_id,
                          store_notification_visit visit, void *context)
{
    sqlite3_stmt *stmt = lazy(store, recipient_id ? L_NOTE_AFTER_FOR : L_NOTE_AFTER);
    struct notification_visitor visitor = {visit, context};

    if (stmt == NULL)
        return -EIO;
    sqlite3_bind_int64(stmt, 1, after);
    sqlite3_bind_int(stmt, 2, limit);
    if (recipient_id)
        sqlite3_bind_text(stmt, 3, recipient_id, -1, SQLITE_STATIC);
    return store_step_rows(stmt, notification_row, &visitor);
}

int
store_notification_ack(struct store *store, int64_t seq, int64_t acked_ms, const char *by)
{
    sqlite3_stmt *stmt = lazy(store, L_NOTE_ACK);
    int r;

    if (stmt == NULL)
        return -EIO;
    sqlite3_bind_int64(stmt, 1, seq);
    sqlite3_bind_int64(stmt, 2, acked_ms);
    store_bind_optional(stmt, 3, by);
    r = store_step_done(stmt);
    if (r == 0 && sqlite3_changes(store->db) == 0)
        r = -ENOENT;
    return r;
}

/* Runs a one-integer query. */
static int
single_integer(struct store *store, enum lazy which, int64_t *out)
{
    sqlite3_stmt *stmt = lazy(store, which);
    int rc;

    if (stmt == NULL)
        return -EIO;
    rc = sqlite3_step(stmt);
    *out = rc == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : 0;
    sqlite3_reset(stmt);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : store_map_error(rc);
}

int
store_notifications_summary(struct store *store, int64_t *last_seq, int64_t *missed)
{
    int r = single_integer(store, L_NOTE_LAST, last_seq);

    if (r == 0)
        r = single_integer(store, L_MISSED_COUNT, missed);
    return r;
}

int
store_missed_insert(struct store *store, int64_t obligation_id, int action, int64_t planned_ms,
                    int64_t recorded_ms, const char *reason)
{
    sqlite3_stmt *stmt = lazy(store, L_MISSED_INSERT);

    if (stmt == NULL)
        return -EIO;
    sqlite3_bind_int64(stmt, 1, obligation_id);
    sqlite3_bind_int(stmt, 2, action);
    sqlite3_bind_int64(stmt, 3, planned_ms);
    sqlite3_bind_int64(stmt, 4, recorded_ms);
    sqlite3_bind_text(stmt, 5, reason, -1, SQLITE_STATIC);
    return store_step_done(stmt);
}

/* Reads the one row keyed by the text key into out with copy_row: 0, -ENOENT, or an error. */
static int
get_by_text(struct store *store, enum lazy which, const char *key, store_row_cb copy_row, void *out)
{
    sqlite3_stmt *stmt = lazy(store, which);
    int r;

    if (stmt == NULL)
        return -EIO;
    sqlite3_bind_text(stmt, 1, key, -1, SQLITE_STATIC);
    r = store_step_rows(stmt, copy_row, out);
    return r == 1 ? 0 : r == 0 ? -ENOENT : r;
}

static void
read_absence(sqlite3_stmt *stmt, struct absence *out)
{
    store_column_copy(stmt, 0, out->absence_id, sizeof(out->absence_id));
    store_column_copy(stmt, 1, out->staff_id, sizeof(out->staff_id));
    store_column_copy(stmt, 2, out->kind, sizeof(out->kind));
    out->start_day = sqlite3_column_int64(stmt, 3);
    out->end_day = column_day(stmt, 4);
}

static int
copy_absence_row(sqlite3_stmt *stmt, void *out)
{
    read_absence(stmt, out);
    return 1;
}

int
store_absence_get(struct store *store, const char *absence_id, struct absence *out)
{
    return get_by_text(store, L_ABSENCE_GET, absence_id, copy_absence_row, out);
}

int
store_absence_put(struct store *store, const struct absence *absence)
{
    sqlite3_stmt *stmt = lazy(store, L_ABSENCE_PUT);

    if (stmt == NULL)
        return -EIO;
    sqlite3_bind_text(stmt, 1, absence->absence_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, absence->staff_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 3, absence->kind, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 4, absence->start_day);
    bind_day(stmt, 5, absence->end_day);
    return store_step_done(stmt);
}

static int
found_row(sqlite3_stmt *stmt, void *context)
{
    (void)stmt;
    (void)context;
    return 1;
}

int
store_absence_overlaps(struct store *store, const char *staff_id, const char *absence_id,
                       int64_t start_day, int64_t end_day)
{
    sqlite3_stmt *stmt = lazy(store, L_ABSENCE_OVERLAPS);

    if (stmt == NULL)
        return -EIO;
    sqlite3_bind_text(stmt, 1, staff_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, absence_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 3, start_day);
    sqlite3_bind_int64(stmt, 4, end_day == STORE_NO_DAY ? INT64_MAX : end_day);
    return store_step_rows(stmt, found_row, NULL);
}

struct absence_visitor {
    int (*visit)(void *context, const struct absence *absence);
    void *context;
};

static int
absence_row(sqlite3_stmt *stmt, void *context)
{
    struct absence_visitor *visitor = context;
    struct absence absence;

    read_absence(stmt, &absence);
    return visitor->visit(visitor->context, &absence);
}

int
store_absences_of(struct store *store, const char *staff_id,
                  int (*visit)(void *context, const struct absence *absence), void *context)
{
    sqlite3_stmt *stmt = lazy(store, L_ABSENCES_OF);
    struct absence_visitor visitor = {visit, context};

    if (stmt == NULL)
        return -EIO;
    sqlite3_bind_text(stmt, 1, staff_id, -1, SQLITE_STATIC);
    return store_step_rows(stmt, absence_row, &visitor);
}

static int
copy_concern_row(sqlite3_stmt *stmt, void *context)
{
    struct concern *out = context;

    store_column_copy(stmt, 0, out->concern_id, sizeof(out->concern_id));
    store_column_copy(stmt, 1, out->staff_id, sizeof(out->staff_id));
    out->opened_day = sqlite3_column_int64(stmt, 2);
    out->closed_day = column_day(stmt, 3);
    return 1;
}

int
store_concern_get(struct store *store, const char *concern_id, struct concern *out)
{
    return get_by_text(store, L_CONCERN_GET, concern_id, copy_concern_row, out);
}

int
store_concern_put(struct store *store, const struct concern *concern, const char *outcome)
{
    sqlite3_stmt *stmt = lazy(store, L_CONCERN_PUT);

    if (stmt == NULL)
        return -EIO;
    sqlite3_bind_text(stmt, 1, concern->concern_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, concern->staff_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 3, concern->opened_day);
    bind_day(stmt, 4, concern->closed_day);
    store_bind_optional(stmt, 5, outcome);
    return store_step_done(stmt);
}

static int
copy_action_row(sqlite3_stmt *stmt, void *out)
{
    *(int64_t *)out = sqlite3_column_int64(stmt, 0);
    return 1;
}

int
store_action_get(struct store *store, const char *action_id, int64_t *obligation_id)
{
    return get_by_text(store, L_ACTION_GET, action_id, copy_action_row, obligation_id);
}

int
store_action_put(struct store *store, const char *action_id, int64_t obligation_id)
{
    sqlite3_stmt *stmt = lazy(store, L_ACTION_PUT);

    if (stmt == NULL)
        return -EIO;
    sqlite3_bind_text(stmt, 1, action_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 2, obligation_id);
    return store_step_done(stmt);
}

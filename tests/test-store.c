/*
 * Unit tests of daemon/store: the database file, events, directory records,
 * counters and queries, and the files and directories it must refuse.
 *
 * Each test works in its own mkdtemp() directory under /tmp, removed by the
 * teardown.  The file's header fields are checked with SQLite directly, not
 * through the module under test.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "store.h"

struct fixture {
    char dir[64];
    char db_path[128];
    struct store *writer;
    struct store *reader;
    char message[512];
};

static const struct store_options writer_options = {true, true, 8, false};
static const struct store_options reader_options = {false, true, 8, false};

static int
setup(void **state)
{
    struct fixture *fixture = calloc(1, sizeof(*fixture));

    if (fixture == NULL)
        return -1;
    snprintf(fixture->dir, sizeof(fixture->dir), "/tmp/carehub-test-store-XXXXXX");
    if (mkdtemp(fixture->dir) == NULL) {
        free(fixture);
        return -1;
    }
    snprintf(fixture->db_path, sizeof(fixture->db_path), "%s/carehub.db", fixture->dir);
    *state = fixture;
    return 0;
}

static int
remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (flag == FTW_DP || flag == FTW_D)
        chmod(path, 0700); /* a test may have taken the permission away */
    return remove(path);
}

static int
teardown(void **state)
{
    struct fixture *fixture = *state;

    store_close(fixture->reader);
    store_close(fixture->writer);
    chmod(fixture->dir, 0700);
    nftw(fixture->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(fixture);
    return 0;
}

static void
open_writer(struct fixture *fixture)
{
    int r = store_open(&fixture->writer, fixture->dir, &writer_options, fixture->message,
                       sizeof(fixture->message));

    if (r != 0)
        fail_msg("store_open (writer) failed with %d: %s", r, fixture->message);
    assert_non_null(fixture->writer);
}

static void
open_reader(struct fixture *fixture)
{
    int r = store_open(&fixture->reader, fixture->dir, &reader_options, fixture->message,
                       sizeof(fixture->message));

    if (r != 0)
        fail_msg("store_open (reader) failed with %d: %s", r, fixture->message);
    assert_non_null(fixture->reader);
}

/* Runs sql on the database file with SQLite directly; returns the integer it yields. */
static int64_t
query_int(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *stmt = NULL;
    int64_t value;

    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
    value = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return value;
}

/* Runs sql (several statements) on path with SQLite directly, creating the file. */
static void
exec_sql(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    char *error = NULL;

    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    if (sqlite3_exec(db, sql, NULL, NULL, &error) != SQLITE_OK)
        fail_msg("%s: %s", sql, error);
    sqlite3_close(db);
}

/* Expects message to contain needle. */
static void
expect_message(const char *message, const char *needle)
{
    if (strstr(message, needle) == NULL)
        fail_msg("expected \"%s\" in the message \"%s\"", needle, message);
}

static void
test_open_creates_database(void **state)
{
    struct fixture *fixture = *state;
    struct store_counters counters;
    struct stat st;

    open_writer(fixture);
    assert_string_equal(store_path(fixture->writer), fixture->db_path);
    assert_int_equal(stat(fixture->db_path, &st), 0);
    assert_true(store_size_bytes(fixture->writer) > 0);
    assert_int_equal(store_counters_get(fixture->writer, &counters), 0);
    assert_int_equal(counters.events_stored, 0);
    assert_int_equal(counters.teams, 0);
    store_close(fixture->writer);
    fixture->writer = NULL;

    assert_int_equal(query_int(fixture->db_path, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
    assert_int_equal(query_int(fixture->db_path, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
    assert_int_equal(query_int(fixture->db_path, "PRAGMA application_id"), STORE_APPLICATION_ID);
    assert_int_equal(query_int(fixture->db_path, "PRAGMA application_id"), 0x43415245);
    /* WAL is recorded in the file header (read and write version 2). */
    assert_int_equal(query_int(fixture->db_path, "SELECT count(*) FROM pragma_journal_mode WHERE "
                                                 "journal_mode = 'wal'"),
                     1);
}

static void
test_open_creates_missing_state_dir(void **state)
{
    struct fixture *fixture = *state;
    char nested[128];
    struct stat st;
    int r;

    snprintf(nested, sizeof(nested), "%s/state", fixture->dir);
    r = store_open(&fixture->writer, nested, &writer_options, fixture->message,
                   sizeof(fixture->message));
    if (r != 0)
        fail_msg("store_open failed with %d: %s", r, fixture->message);
    assert_int_equal(stat(nested, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
}

struct event_list {
    int count;
    int64_t seq[16];
    uint64_t hash[16];
    int stop_after; /* visit returns 7 after this many; 0 never */
};

static int
collect_event(void *context, int64_t seq, uint64_t hash)
{
    struct event_list *list = context;

    assert_true(list->count < 16);
    list->seq[list->count] = seq;
    list->hash[list->count] = hash;
    list->count++;
    return list->stop_after && list->count >= list->stop_after ? 7 : 0;
}

static int64_t
insert_event(struct store *store, uint64_t hash, const char *source, const char *id,
             enum event_type type, bool has_time, const char *body)
{
    struct event event;
    int64_t seq = -1;

    memset(&event, 0, sizeof(event));
    event.type = type;
    event.source = source;
    event.id = id;
    event.has_time = has_time;
    event.time_ms = INT64_C(1774774800000);
    assert_int_equal(
        store_event_insert(store, hash, &event, INT64_C(1774774801234), body, strlen(body), &seq),
        0);
    return seq;
}

static void
test_events_round_trip(void **state)
{
    struct fixture *fixture = *state;
    struct event_list list = {0};
    const uint64_t hashes[3] = {UINT64_C(0x0123456789abcdef), UINT64_C(0xffffffffffffffff),
                                UINT64_C(0x8000000000000000)};
    int64_t seq[3];

    open_writer(fixture);
    assert_int_equal(store_events_each(fixture->writer, collect_event, &list), 0);
    assert_int_equal(list.count, 0);

    assert_int_equal(store_begin(fixture->writer), 0);
    seq[0] = insert_event(fixture->writer, hashes[0], "/hr/acme", "e-1", EVENT_STAFF_HIRED, true,
                          "{\"n\":1}");
    seq[1] = insert_event(fixture->writer, hashes[1], "/hr/acme", "e-2", EVENT_TEAM_CHANGED, false,
                          "{\"n\":2}");
    seq[2] = insert_event(fixture->writer, hashes[2], "/hr/other", "e-1", EVENT_STAFF_LEFT, true,
                          "{\"n\":3}");
    assert_int_equal(store_commit(fixture->writer), 0);
    assert_true(seq[0] < seq[1] && seq[1] < seq[2]);

    assert_int_equal(store_events_each(fixture->writer, collect_event, &list), 0);
    assert_int_equal(list.count, 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(list.seq[i], seq[i]);
        assert_true(list.hash[i] == hashes[i]); /* all 64 bits, the top one included */
    }

    assert_int_equal(store_event_matches(fixture->writer, seq[0], "/hr/acme", "e-1"), 1);
    assert_int_equal(store_event_matches(fixture->writer, seq[2], "/hr/other", "e-1"), 1);
    assert_int_equal(store_event_matches(fixture->writer, seq[0], "/hr/acme", "e-2"), 0);
    assert_int_equal(store_event_matches(fixture->writer, seq[0], "/hr/other", "e-1"), 0);
    assert_int_equal(store_event_matches(fixture->writer, seq[2] + 100, "/hr/acme", "e-1"), 0);

    /* A visit that returns non-zero stops the walk with its value. */
    memset(&list, 0, sizeof(list));
    list.stop_after = 2;
    assert_int_equal(store_events_each(fixture->writer, collect_event, &list), 7);
    assert_int_equal(list.count, 2);

    store_close(fixture->writer);
    fixture->writer = NULL;
    char sql[256];
    snprintf(sql, sizeof(sql), "SELECT time_ms IS NULL FROM events WHERE seq = %lld",
             (long long)seq[1]);
    assert_int_equal(query_int(fixture->db_path, sql), 1);
    snprintf(sql, sizeof(sql),
             "SELECT time_ms = 1774774800000 AND received_ms = 1774774801234 AND type = "
             "'staff.hired' AND body = '{\"n\":1}' FROM events WHERE seq = %lld",
             (long long)seq[0]);
    assert_int_equal(query_int(fixture->db_path, sql), 1);
}

static void
test_rollback_discards(void **state)
{
    struct fixture *fixture = *state;
    struct event_list list = {0};

    open_writer(fixture);
    store_rollback(fixture->writer); /* outside a transaction: harmless */
    assert_int_equal(store_begin(fixture->writer), 0);
    insert_event(fixture->writer, 1, "s", "a", EVENT_STAFF_HIRED, false, "{}");
    store_rollback(fixture->writer);
    assert_int_equal(store_events_each(fixture->writer, collect_event, &list), 0);
    assert_int_equal(list.count, 0);
    assert_int_equal(store_begin(fixture->writer), 0);
    insert_event(fixture->writer, 2, "s", "b", EVENT_STAFF_HIRED, false, "{}");
    assert_int_equal(store_commit(fixture->writer), 0);
    assert_int_equal(store_events_each(fixture->writer, collect_event, &list), 0);
    assert_int_equal(list.count, 1);
}

static void
test_reopen_keeps_data(void **state)
{
    struct fixture *fixture = *state;
    struct event_list list = {0};
    int64_t seq;

    open_writer(fixture);
    assert_int_equal(store_begin(fixture->writer), 0);
    seq = insert_event(fixture->writer, 42, "/hr", "kept", EVENT_STAFF_HIRED, false, "{}");
    assert_int_equal(store_commit(fixture->writer), 0);
    store_close(fixture->writer);
    fixture->writer = NULL;

    open_writer(fixture);
    assert_int_equal(store_events_each(fixture->writer, collect_event, &list), 0);
    assert_int_equal(list.count, 1);
    assert_int_equal(list.seq[0], seq);
    assert_int_equal(list.hash[0], 42);
    assert_int_equal(store_event_matches(fixture->writer, seq, "/hr", "kept"), 1);
    store_close(fixture->writer);
    fixture->writer = NULL;
    assert_int_equal(query_int(fixture->db_path, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
}

static struct dir_staff
make_staff(const char *id, const char *name, const char *team, const char *manager,
           const char *left)
{
    struct dir_staff staff;

    memset(&staff, 0, sizeof(staff));
    snprintf(staff.staff_id, sizeof(staff.staff_id), "%s", id);
    snprintf(staff.name, sizeof(staff.name), "%s", name);
    snprintf(staff.role, sizeof(staff.role), "Carer");
    snprintf(staff.team_id, sizeof(staff.team_id), "%s", team);
    snprintf(staff.manager_id, sizeof(staff.manager_id), "%s", manager);
    snprintf(staff.start_date, sizeof(staff.start_date), "2024-01-01");
    snprintf(staff.left_date, sizeof(staff.left_date), "%s", left);
    return staff;
}

static struct dir_team
make_team(const char *id, const char *name, const char *parent, const char *manager)
{
    struct dir_team team;

    memset(&team, 0, sizeof(team));
    snprintf(team.team_id, sizeof(team.team_id), "%s", id);
    snprintf(team.name, sizeof(team.name), "%s", name);
    snprintf(team.parent_id, sizeof(team.parent_id), "%s", parent);
    snprintf(team.manager_id, sizeof(team.manager_id), "%s", manager);
    return team;
}

static void
expect_same_staff(const struct dir_staff *got, const struct dir_staff *want)
{
    assert_string_equal(got->staff_id, want->staff_id);
    assert_string_equal(got->name, want->name);
    assert_string_equal(got->role, want->role);
    assert_string_equal(got->team_id, want->team_id);
    assert_string_equal(got->manager_id, want->manager_id);
    assert_string_equal(got->start_date, want->start_date);
    assert_string_equal(got->email, want->email);
    assert_string_equal(got->registration_body, want->registration_body);
    assert_string_equal(got->registration_number, want->registration_number);
    assert_string_equal(got->registration_renewal, want->registration_renewal);
    assert_string_equal(got->left_date, want->left_date);
}

static void
test_staff_round_trip(void **state)
{
    struct fixture *fixture = *state;
    struct dir_staff staff, got;

    open_writer(fixture);
    memset(&got, 'x', sizeof(got));
    assert_int_equal(store_staff_get(fixture->writer, "S2", &got), -ENOENT);

    staff = make_staff("S2", "Ada Jones", "T1", "S1", "");
    snprintf(staff.role, sizeof(staff.role), "Nurse");
    snprintf(staff.start_date, sizeof(staff.start_date), "2024-02-29");
    snprintf(staff.email, sizeof(staff.email), "ada@example.org");
    snprintf(staff.registration_body, sizeof(staff.registration_body), "NMC");
    snprintf(staff.registration_number, sizeof(staff.registration_number), "12A3456B");
    snprintf(staff.registration_renewal, sizeof(staff.registration_renewal), "2027-01-31");
    assert_int_equal(store_begin(fixture->writer), 0);
    assert_int_equal(store_staff_put(fixture->writer, &staff, 1, STORE_PUT_NEW), 0);
    assert_int_equal(store_commit(fixture->writer), 0);
    assert_int_equal(store_staff_get(fixture->writer, "S2", &got), 0);
    expect_same_staff(&got, &staff);

    /* A full update replaces the record; unset optional fields come back empty. */
    staff = make_staff("S2", "Ada Smith", "T2", "", "2026-04-30");
    assert_int_equal(store_staff_put(fixture->writer, &staff, 2, STORE_PUT_DETAILS), -ESTALE);
    assert_int_equal(store_staff_put(fixture->writer, &staff, 2, STORE_PUT_UPDATE), 0);
    memset(&got, 'x', sizeof(got));
    assert_int_equal(store_staff_get(fixture->writer, "S2", &got), 0);
    assert_string_equal(got.name, "Ada Smith");
    assert_string_equal(got.team_id, "T2");
    assert_string_equal(got.manager_id, "");
    assert_string_equal(got.email, "");
    assert_string_equal(got.registration_body, "");
    assert_string_equal(got.registration_number, "");
    assert_string_equal(got.registration_renewal, "");
    assert_string_equal(got.left_date, "2026-04-30");
    assert_int_equal(store_staff_get(fixture->writer, "s2", &got), -ENOENT);
}

static void
test_team_round_trip(void **state)
{
    struct fixture *fixture = *state;
    struct dir_team team, got;

    open_writer(fixture);
    assert_int_equal(store_team_get(fixture->writer, "T1", &got), -ENOENT);
    team = make_team("T1", "Riverside ward", "T0", "S1");
    assert_int_equal(store_team_put(fixture->writer, &team, 1), 0);
    memset(&got, 'x', sizeof(got));
    assert_int_equal(store_team_get(fixture->writer, "T1", &got), 0);
    assert_string_equal(got.team_id, "T1");
    assert_string_equal(got.name, "Riverside ward");
    assert_string_equal(got.parent_id, "T0");
    assert_string_equal(got.manager_id, "S1");

    team = make_team("T1", "Riverside", "", "");
    assert_int_equal(store_team_put(fixture->writer, &team, 2), 0);
    memset(&got, 'x', sizeof(got));
    assert_int_equal(store_team_get(fixture->writer, "T1", &got), 0);
    assert_string_equal(got.name, "Riverside");
    assert_string_equal(got.parent_id, "");
    assert_string_equal(got.manager_id, "");
}

/* The longest ids and texts an event may carry survive a round trip whole. */
static void
test_longest_values_round_trip(void **state)
{
    struct fixture *fixture = *state;
    struct dir_staff staff, got;

    open_writer(fixture);
    memset(&staff, 0, sizeof(staff));
    memset(staff.staff_id, 'i', EVENT_ID_MAX);
    memset(staff.name, 'n', EVENT_TEXT_MAX);
    memset(staff.role, 'r', EVENT_TEXT_MAX);
    memset(staff.team_id, 't', EVENT_ID_MAX);
    memset(staff.manager_id, 'm', EVENT_ID_MAX);
    snprintf(staff.start_date, sizeof(staff.start_date), "2024-01-01");
    memset(staff.email, 'e', EVENT_EMAIL_MAX);
    staff.email[1] = '@';
    memset(staff.registration_body, 'b', EVENT_TEXT_MAX);
    memset(staff.registration_number, 'u', EVENT_TEXT_MAX);
    assert_int_equal(store_staff_put(fixture->writer, &staff, 1, STORE_PUT_NEW), 0);
    assert_int_equal(store_staff_get(fixture->writer, staff.staff_id, &got), 0);
    expect_same_staff(&got, &staff);
}

static void
test_counters(void **state)
{
    struct fixture *fixture = *state;
    struct store_counters delta = {5, 1, 2, 3, 0, 4};
    struct store_counters back = {-1, 1, -1, -2, 1, 0};
    struct store_counters got;

    open_writer(fixture);
    memset(&got, 0xff, sizeof(got));
    assert_int_equal(store_counters_get(fixture->writer, &got), 0);
    assert_int_equal(got.events_stored, 0);
    assert_int_equal(got.events_duplicate, 0);
    assert_int_equal(got.events_rejected, 0);
    assert_int_equal(got.staff_active, 0);
    assert_int_equal(got.staff_left, 0);
    assert_int_equal(got.teams, 0);

    assert_int_equal(store_begin(fixture->writer), 0);
    assert_int_equal(store_counters_add(fixture->writer, &delta), 0);
    assert_int_equal(store_counters_add(fixture->writer, &delta), 0);
    assert_int_equal(store_counters_add(fixture->writer, &back), 0);
    assert_int_equal(store_commit(fixture->writer), 0);
    assert_int_equal(store_counters_get(fixture->writer, &got), 0);
    assert_int_equal(got.events_stored, 9);
    assert_int_equal(got.events_duplicate, 3);
    assert_int_equal(got.events_rejected, 3);
    assert_int_equal(got.staff_active, 4);
    assert_int_equal(got.staff_left, 1);
    assert_int_equal(got.teams, 8);

    /* Kept across a reopen. */
    store_close(fixture->writer);
    fixture->writer = NULL;
    open_writer(fixture);
    memset(&got, 0, sizeof(got));
    assert_int_equal(store_counters_get(fixture->writer, &got), 0);
    assert_int_equal(got.events_stored, 9);
    assert_int_equal(got.teams, 8);
}

struct id_list {
    int count;
    char ids[16][DIR_ID_SIZE];
    int stop_after;
};

static int
collect_staff(void *context, const struct dir_staff *staff)
{
    struct id_list *list = context;

    assert_true(list->count < 16);
    snprintf(list->ids[list->count++], DIR_ID_SIZE, "%s", staff->staff_id);
    return list->stop_after && list->count >= list->stop_after ? 9 : 0;
}

static int
collect_team(void *context, const struct dir_team *team)
{
    struct id_list *list = context;

    assert_true(list->count < 16);
    snprintf(list->ids[list->count++], DIR_ID_SIZE, "%s", team->team_id);
    return list->stop_after && list->count >= list->stop_after ? 9 : 0;
}

/* Checks list holds exactly the ids given (a NULL-terminated list), in order. */
static void
expect_ids(const struct id_list *list, ...)
{
    va_list ap;
    const char *id;
    int i = 0;

    va_start(ap, list);
    while ((id = va_arg(ap, const char *)) != NULL) {
        if (i >= list->count)
            fail_msg("expected %s at position %d; only %d ids", id, i, list->count);
        if (strcmp(list->ids[i], id) != 0)
            fail_msg("expected %s at position %d, got %s", id, i, list->ids[i]);
        i++;
    }
    va_end(ap);
    if (i != list->count)
        fail_msg("expected %d ids, got %d (next: %s)", i, list->count, list->ids[i]);
}

static void
put_organisation(struct store *store)
{
    struct dir_staff staff[] = {
        make_staff("S1", "Zoe Brown", "T1", "M", ""),
        make_staff("S2", "Adam Ali", "T1", "", ""),
        make_staff("S3", "Sam Cole", "T1", "M", ""),
        make_staff("S4", "Mary Leaver", "T1", "M", "2025-12-31"),
        make_staff("S5", "Bob Other", "T2", "M", ""),
        make_staff("S0", "Sam Cole", "T1", "", ""),
        make_staff("M", "Mo Manager", "T0", "", ""),
    };
    struct dir_team teams[] = {
        make_team("T0", "Trust", "", "M"),
        make_team("T2", "Aspen ward", "T0", ""),
        make_team("T1", "Willow ward", "T0", "M"),
        make_team("T3", "Birch ward", "T0", "X"),
    };

    assert_int_equal(store_begin(store), 0);
    for (size_t i = 0; i < sizeof(staff) / sizeof(staff[0]); i++)
        assert_int_equal(store_staff_put(store, &staff[i], (int64_t)i + 1, STORE_PUT_NEW), 0);
    for (size_t i = 0; i < sizeof(teams) / sizeof(teams[0]); i++)
        assert_int_equal(store_team_put(store, &teams[i], (int64_t)i + 100), 0);
    assert_int_equal(store_commit(store), 0);
}

static void
test_queries(void **state)
{
    struct fixture *fixture = *state;
    struct id_list list;

    open_writer(fixture);
    put_organisation(fixture->writer);

    /* Members of a team, by name then id, without those who left. */
    memset(&list, 0, sizeof(list));
    assert_int_equal(store_staff_in_team(fixture->writer, "T1", collect_staff, &list), 0);
    expect_ids(&list, "S2", "S0", "S3", "S1", NULL);

    memset(&list, 0, sizeof(list));
    assert_int_equal(store_staff_with_manager(fixture->writer, "M", collect_staff, &list), 0);
    expect_ids(&list, "S5", "S3", "S1", NULL);

    memset(&list, 0, sizeof(list));
    assert_int_equal(store_teams_with_parent(fixture->writer, "T0", collect_team, &list), 0);
    expect_ids(&list, "T2", "T3", "T1", NULL);

    memset(&list, 0, sizeof(list));
    assert_int_equal(store_teams_with_manager(fixture->writer, "M", collect_team, &list), 0);
    expect_ids(&list, "T0", "T1", NULL);

    /* Nothing matches. */
    memset(&list, 0, sizeof(list));
    assert_int_equal(store_staff_in_team(fixture->writer, "T9", collect_staff, &list), 0);
    assert_int_equal(store_staff_with_manager(fixture->writer, "S2", collect_staff, &list), 0);
    assert_int_equal(store_teams_with_parent(fixture->writer, "T1", collect_team, &list), 0);
    assert_int_equal(store_teams_with_manager(fixture->writer, "S2", collect_team, &list), 0);
    /* An empty key is "not set", not a value that matches unset fields. */
    assert_int_equal(store_teams_with_parent(fixture->writer, "", collect_team, &list), 0);
    assert_int_equal(store_staff_with_manager(fixture->writer, "", collect_staff, &list), 0);
    assert_int_equal(list.count, 0);

    /* A visit's non-zero return stops the query and is returned. */
    memset(&list, 0, sizeof(list));
    list.stop_after = 1;
    assert_int_equal(store_staff_in_team(fixture->writer, "T1", collect_staff, &list), 9);
    assert_int_equal(list.count, 1);
    memset(&list, 0, sizeof(list));
    list.stop_after = 2;
    assert_int_equal(store_teams_with_parent(fixture->writer, "T0", collect_team, &list), 9);
    assert_int_equal(list.count, 2);

    /* The statement was reset: the same query runs again in full. */
    memset(&list, 0, sizeof(list));
    assert_int_equal(store_staff_in_team(fixture->writer, "T1", collect_staff, &list), 0);
    expect_ids(&list, "S2", "S0", "S3", "S1", NULL);
}

static void
test_directory_source(void **state)
{
    struct fixture *fixture = *state;
    struct directory_source source;
    struct dir_staff staff;
    char manager_id[DIR_ID_SIZE];
    enum dir_via via;

    open_writer(fixture);
    put_organisation(fixture->writer);
    store_directory_source(fixture->writer, &source);
    assert_int_equal(source.get_staff(source.context, "S2", &staff), 0);
    assert_int_equal(directory_manager_of(&source, &staff, manager_id, &via), 0);
    assert_string_equal(manager_id, "M");
    assert_int_equal(via, DIR_VIA_TEAM);
    assert_int_equal(source.get_staff(source.context, "NOBODY", &staff), -ENOENT);
    assert_int_equal(directory_check_chain(&source, "S1"), 0);
}

static void
test_reader_on_fresh_database(void **state)
{
    struct fixture *fixture = *state;
    struct store_counters counters, delta = {1, 0, 0, 1, 0, 0};
    struct dir_staff staff = make_staff("S1", "Ada", "T1", "", "");
    struct dir_staff got;
    struct id_list list;

    open_writer(fixture);
    open_reader(fixture);
    assert_int_equal(store_counters_get(fixture->reader, &counters), 0);
    assert_int_equal(counters.events_stored, 0);
    assert_int_equal(store_staff_get(fixture->reader, "S1", &got), -ENOENT);

    /* What the writer commits, the reader sees. */
    assert_int_equal(store_begin(fixture->writer), 0);
    assert_int_equal(store_staff_put(fixture->writer, &staff, 1, STORE_PUT_NEW), 0);
    assert_int_equal(store_counters_add(fixture->writer, &delta), 0);
    assert_int_equal(store_commit(fixture->writer), 0);
    assert_int_equal(store_staff_get(fixture->reader, "S1", &got), 0);
    assert_string_equal(got.name, "Ada");
    assert_int_equal(store_counters_get(fixture->reader, &counters), 0);
    assert_int_equal(counters.events_stored, 1);
    memset(&list, 0, sizeof(list));
    assert_int_equal(store_staff_in_team(fixture->reader, "T1", collect_staff, &list), 0);
    expect_ids(&list, "S1", NULL);

    /* The reader cannot write. */
    assert_true(store_counters_add(fixture->reader, &delta) < 0);
    assert_int_equal(store_counters_get(fixture->writer, &counters), 0);
    assert_int_equal(counters.events_stored, 1);
}

static void
test_reader_needs_a_database(void **state)
{
    struct fixture *fixture = *state;
    struct stat st;
    int r;

    fixture->message[0] = '\0';
    r = store_open(&fixture->reader, fixture->dir, &reader_options, fixture->message,
                   sizeof(fixture->message));
    assert_true(r < 0);
    assert_null(fixture->reader);
    assert_true(fixture->message[0] != '\0');
    assert_int_equal(stat(fixture->db_path, &st), -1); /* and creates none */
}

static void
test_store_close_accepts_null(void **state)
{
    (void)state;
    store_close(NULL);
}

/* Opens a writer that must fail; checks the message and that nothing was opened. */
static void
expect_refusal(struct fixture *fixture, const char *state_dir, const char *needle)
{
    int r;

    fixture->message[0] = '\0';
    r = store_open(&fixture->writer, state_dir, &writer_options, fixture->message,
                   sizeof(fixture->message));
    if (r >= 0)
        fail_msg("store_open of %s succeeded; expected a refusal with \"%s\"", state_dir, needle);
    assert_null(fixture->writer);
    expect_message(fixture->message, needle);
}

/* Reads the whole file at path into buf; returns its length. */
static size_t
read_file(const char *path, unsigned char *buf, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n;

    assert_true(fd >= 0);
    n = read(fd, buf, size);
    assert_true(n >= 0);
    close(fd);
    return (size_t)n;
}

static void
test_refuses_random_bytes(void **state)
{
    struct fixture *fixture = *state;
    unsigned char junk[4096], after[8192];
    uint32_t x = 2463534242u;
    int fd;

    for (size_t i = 0; i < sizeof(junk); i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        junk[i] = (unsigned char)x;
    }
    fd = open(fixture->db_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
    close(fd);

    expect_refusal(fixture, fixture->dir, "not a carehub database");
    expect_message(fixture->message, fixture->db_path);
    /* The file is left as it was. */
    assert_int_equal(read_file(fixture->db_path, after, sizeof(after)), sizeof(junk));
    assert_memory_equal(after, junk, sizeof(junk));
}

static void
test_refuses_text_file(void **state)
{
    struct fixture *fixture = *state;
    const char text[] = "This is not a database, just some notes somebody left here.\n"
                        "Lots of notes. More than one hundred bytes of them, to fill a header.\n";
    int fd = open(fixture->db_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, sizeof(text) - 1), (ssize_t)sizeof(text) - 1);
    close(fd);
    expect_refusal(fixture, fixture->dir, "not a carehub database");
}

static void
test_refuses_other_application(void **state)
{
    struct fixture *fixture = *state;

    exec_sql(fixture->db_path, "CREATE TABLE recipes (name TEXT, steps TEXT);"
                               "INSERT INTO recipes VALUES ('soup', 'boil');");
    assert_int_equal(query_int(fixture->db_path, "PRAGMA application_id"), 0);
    expect_refusal(fixture, fixture->dir, "another application");
    expect_message(fixture->message, "not a carehub database");
    /* Left untouched: no carehub tables, no carehub id. */
    assert_int_equal(query_int(fixture->db_path, "PRAGMA application_id"), 0);
    assert_int_equal(query_int(fixture->db_path, "PRAGMA user_version"), 0);
    assert_int_equal(query_int(fixture->db_path, "SELECT count(*) FROM sqlite_master"), 1);
}

static void
test_refuses_other_application_id(void **state)
{
    struct fixture *fixture = *state;

    exec_sql(fixture->db_path, "PRAGMA application_id = 305419896;");
    expect_refusal(fixture, fixture->dir, "another application");
}

static void
test_refuses_newer_schema(void **state)
{
    struct fixture *fixture = *state;

    open_writer(fixture);
    store_close(fixture->writer);
    fixture->writer = NULL;
    exec_sql(fixture->db_path, "PRAGMA user_version = 999;");
    expect_refusal(fixture, fixture->dir, "newer");
    expect_message(fixture->message, "999");
    assert_int_equal(query_int(fixture->db_path, "PRAGMA user_version"), 999);

    /* A reader refuses it too. */
    fixture->message[0] = '\0';
    assert_true(store_open(&fixture->reader, fixture->dir, &reader_options, fixture->message,
                           sizeof(fixture->message)) < 0);
    assert_null(fixture->reader);
    assert_true(fixture->message[0] != '\0');
}

static void
test_refuses_newer_schema_fresh_file(void **state)
{
    struct fixture *fixture = *state;

    exec_sql(fixture->db_path, "PRAGMA application_id = 1128354373; PRAGMA user_version = 999;");
    expect_refusal(fixture, fixture->dir, "newer");
}

static void
test_refuses_state_dir_under_a_file(void **state)
{
    struct fixture *fixture = *state;
    char file[128], state_dir[160];
    int fd;

    snprintf(file, sizeof(file), "%s/plain-file", fixture->dir);
    fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    close(fd);
    snprintf(state_dir, sizeof(state_dir), "%s/state", file);
    expect_refusal(fixture, state_dir, "cannot be created");
    expect_message(fixture->message, state_dir);
}

static void
test_refuses_state_dir_that_is_a_file(void **state)
{
    struct fixture *fixture = *state;
    char file[128];
    int fd;

    snprintf(file, sizeof(file), "%s/plain-file", fixture->dir);
    fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    close(fd);
    expect_refusal(fixture, file, "not a directory");
}

static void
test_refuses_unwritable_state_dir(void **state)
{
    struct fixture *fixture = *state;
    char state_dir[128];
    struct stat st;

    /* Root bypasses permission bits, so the refusal cannot be seen as root. */
    if (geteuid() == 0)
        skip();
    snprintf(state_dir, sizeof(state_dir), "%s/locked", fixture->dir);
    assert_int_equal(mkdir(state_dir, 0500), 0);
    expect_refusal(fixture, state_dir, "cannot be written");
    assert_int_equal(stat(fixture->db_path, &st), -1);

    /* A missing state_dir under a directory that cannot be written. */
    snprintf(state_dir, sizeof(state_dir), "%s/locked/state", fixture->dir);
    expect_refusal(fixture, state_dir, "cannot be created");
}

/* A patch writes exactly the fields it names, and only onto a record that exists. */
static void
test_staff_patch_writes_only_its_fields(void **state)
{
    struct fixture *fixture = *state;
    struct dir_staff staff = make_staff("S1", "Ann Lee", "T1", "S9", "");
    struct dir_staff patch, got;

    open_writer(fixture);
    snprintf(staff.email, sizeof(staff.email), "ann@example.org");
    assert_int_equal(store_begin(fixture->writer), 0);
    assert_int_equal(store_staff_put(fixture->writer, &staff, 1, STORE_PUT_NEW), 0);

    memset(&patch, 0, sizeof(patch));
    snprintf(patch.staff_id, sizeof(patch.staff_id), "S1");
    snprintf(patch.role, sizeof(patch.role), "Nurse");
    /* email left empty and named: cleared; team and manager named: never written here. */
    assert_int_equal(
        store_staff_patch(fixture->writer, &patch,
                          DIR_FIELD_ROLE | DIR_FIELD_EMAIL | DIR_FIELD_TEAM | DIR_FIELD_MANAGER, 2),
        0);
    assert_int_equal(store_staff_get(fixture->writer, "S1", &got), 0);
    assert_string_equal(got.role, "Nurse");
    assert_string_equal(got.email, "");
    assert_string_equal(got.name, "Ann Lee");
    assert_string_equal(got.team_id, "T1");
    assert_string_equal(got.manager_id, "S9");

    snprintf(patch.registration_body, sizeof(patch.registration_body), "NMC");
    snprintf(patch.registration_number, sizeof(patch.registration_number), "12A");
    snprintf(patch.registration_renewal, sizeof(patch.registration_renewal), "2027-01-31");
    snprintf(patch.name, sizeof(patch.name), "Ann Lee-Smith");
    assert_int_equal(
        store_staff_patch(fixture->writer, &patch, DIR_FIELD_REGISTRATION | DIR_FIELD_NAME, 3), 0);
    assert_int_equal(store_staff_get(fixture->writer, "S1", &got), 0);
    assert_string_equal(got.name, "Ann Lee-Smith");
    assert_string_equal(got.registration_body, "NMC");
    assert_string_equal(got.registration_renewal, "2027-01-31");
    assert_string_equal(got.role, "Nurse");

    snprintf(patch.staff_id, sizeof(patch.staff_id), "S404");
    assert_int_equal(store_staff_patch(fixture->writer, &patch, DIR_FIELD_ROLE, 4), -ENOENT);
    assert_int_equal(store_commit(fixture->writer), 0);
}

/*
 * A database written by the first release (schema 1: events and directory
 * only) is brought up to date in place: its data stays and the obligation
 * tables appear.
 */
static void
test_migrates_schema_1(void **state)
{
    struct fixture *fixture = *state;
    struct dir_staff staff;

    open_writer(fixture);
    memset(&staff, 0, sizeof(staff));
    snprintf(staff.staff_id, sizeof(staff.staff_id), "S1");
    snprintf(staff.name, sizeof(staff.name), "Amy Jones");
    snprintf(staff.role, sizeof(staff.role), "carer");
    snprintf(staff.team_id, sizeof(staff.team_id), "T1");
    snprintf(staff.start_date, sizeof(staff.start_date), "2024-01-08");
    assert_int_equal(store_begin(fixture->writer), 0);
    assert_int_equal(store_staff_put(fixture->writer, &staff, 1, STORE_PUT_NEW), 0);
    assert_int_equal(store_commit(fixture->writer), 0);
    store_close(fixture->writer);
    fixture->writer = NULL;
    /* Back to what release 1 wrote. */
    exec_sql(fixture->db_path, "DROP TABLE obligations; DROP TABLE notifications; "
                               "DROP TABLE missed; DROP TABLE absences; DROP TABLE concerns; "
                               "DROP TABLE actions; DROP TABLE kpi_cells; DROP TABLE kpi_states; "
                               "DROP TABLE kpi_alerts; DROP TABLE kpi_progress; DROP TABLE audit; "
                               "DELETE FROM sqlite_sequence; PRAGMA user_version = 1;");
    assert_int_equal(query_int(fixture->db_path, "SELECT count(*) FROM sqlite_master WHERE name "
                                                 "= 'obligations'"),
                     0);

    open_writer(fixture);
    assert_int_equal(query_int(fixture->db_path, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
    assert_int_equal(query_int(fixture->db_path, "SELECT count(*) FROM obligations"), 0);
    assert_int_equal(store_staff_get(fixture->writer, "S1", &staff), 0);
    assert_string_equal(staff.name, "Amy Jones");
}

/*
 * Schema 2 (issue 3's release) to 3: the KPI tables appear, and the figures
 * count as complete up to the last event stored (kpi.observed was refused
 * before), so nothing is applied again at the first start.
 */
static void
test_migrates_schema_2(void **state)
{
    struct fixture *fixture = *state;
    int64_t applied = -1, snapshot = 0;

    open_writer(fixture);
    store_close(fixture->writer);
    fixture->writer = NULL;
    exec_sql(fixture->db_path,
             "INSERT INTO events VALUES (41, 1, 's', 'e41', 'staff.hired', NULL, 0, '{}');"
             "INSERT INTO events VALUES (42, 2, 's', 'e42', 'team.changed', NULL, 0, '{}');"
             "DROP TABLE kpi_cells; DROP TABLE kpi_states; DROP TABLE kpi_alerts; "
             "DROP TABLE kpi_progress; DROP TABLE audit; PRAGMA user_version = 2;");
    open_writer(fixture);
    assert_int_equal(query_int(fixture->db_path, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
    assert_int_equal(query_int(fixture->db_path, "SELECT count(*) FROM kpi_cells"), 0);
    assert_int_equal(store_kpi_progress_get(fixture->writer, &applied, &snapshot), 0);
    assert_int_equal(applied, 42);
    assert_true(snapshot == STORE_NO_DAY);
}

/*
 * Schema 3 (issue 4's release) to 4: the audit trail appears, empty, and
 * what was there stays.
 */
static void
test_migrates_schema_3(void **state)
{
    struct fixture *fixture = *state;
    struct dir_staff staff;

    open_writer(fixture);
    store_close(fixture->writer);
    fixture->writer = NULL;
    exec_sql(fixture->db_path,
             "INSERT INTO staff (staff_id, name, role, team_id, start_date, updated_seq) "
             "VALUES ('S1', 'Amy Jones', 'carer', 'T1', '2024-01-08', 1);"
             "DROP TABLE audit; PRAGMA user_version = 3;");
    assert_int_equal(query_int(fixture->db_path, "SELECT count(*) FROM sqlite_master WHERE name "
                                                 "= 'audit'"),
                     0);
    open_writer(fixture);
    assert_int_equal(query_int(fixture->db_path, "PRAGMA user_version"), 4);
    assert_int_equal(query_int(fixture->db_path, "SELECT count(*) FROM audit"), 0);
    assert_int_equal(query_int(fixture->db_path, "SELECT count(*) FROM sqlite_master WHERE name "
                                                 "IN ('audit_by_staff', 'audit_by_team')"),
                     2);
    assert_int_equal(store_staff_get(fixture->writer, "S1", &staff), 0);
    assert_string_equal(staff.name, "Amy Jones");
}

struct audit_list {
    int count;
    int64_t seq[8];
    char what[8][32];
    char details[8][128];
    char cause[8][32];
    int64_t event_seq[8];
    bool has_event_ms[8];
};

static int
collect_audit(void *context, const struct store_audit_row *row)
{
    struct audit_list *list = context;

    if (list->count < 8) {
        list->seq[list->count] = row->seq;
        snprintf(list->what[list->count], 32, "%s", row->what);
        snprintf(list->details[list->count], 128, "%s", row->details);
        snprintf(list->cause[list->count], 32, "%s/%s", row->cause,
                 row->cause_id ? row->cause_id : "-");
        list->event_seq[list->count] = row->event_seq;
        list->has_event_ms[list->count] = row->has_event_ms;
    }
    list->count++;
    return 0;
}

/* Audit rows carry the cause set before them, and are listed per person or per team. */
static void
test_audit_rows(void **state)
{
    struct fixture *fixture = *state;
    struct audit_list list;
    int64_t seq;

    open_writer(fixture);
    assert_int_equal(store_begin(fixture->writer), 0);
    store_audit_cause(fixture->writer, "/hr/acme", "e-1", true, 1000, 2000);
    seq = insert_event(fixture->writer, 1, "/hr/acme", "e-1", EVENT_STAFF_HIRED, true, "{}");
    assert_int_equal(store_audit(fixture->writer, "staff.hired", "S1", "T1", "{\"name\":\"A\"}"),
                     0);
    store_audit_cause(fixture->writer, "schedule", NULL, false, 0, 3000);
    assert_int_equal(store_audit(fixture->writer, "notification.sent", "S1", NULL, NULL), 0);
    assert_int_equal(store_audit(fixture->writer, "kpi.alert", NULL, "T1", "{}"), 0);
    assert_int_equal(store_audit(fixture->writer, "staff.hired", "S2", "T1", "{}"), 0);
    assert_int_equal(store_commit(fixture->writer), 0);

    open_reader(fixture);
    memset(&list, 0, sizeof(list));
    assert_int_equal(store_audit_of(fixture->reader, "S1", NULL, 0, 100, collect_audit, &list), 0);
    assert_int_equal(list.count, 2);
    assert_string_equal(list.what[0], "staff.hired");
    assert_string_equal(list.details[0], "{\"name\":\"A\"}");
    assert_string_equal(list.cause[0], "/hr/acme/e-1");
    assert_int_equal(list.event_seq[0], seq);
    assert_true(list.has_event_ms[0]);
    assert_string_equal(list.what[1], "notification.sent");
    assert_string_equal(list.details[1], "{}");
    assert_string_equal(list.cause[1], "schedule/-");
    assert_int_equal(list.event_seq[1], 0);
    assert_false(list.has_event_ms[1]);
    /* Paging. */
    int64_t first = list.seq[0];
    memset(&list, 0, sizeof(list));
    assert_int_equal(store_audit_of(fixture->reader, "S1", NULL, first, 1, collect_audit, &list),
                     0);
    assert_int_equal(list.count, 1);
    assert_string_equal(list.what[0], "notification.sent");
    /* A team's rows are those about no one. */
    memset(&list, 0, sizeof(list));
    assert_int_equal(store_audit_of(fixture->reader, NULL, "T1", 0, 100, collect_audit, &list), 0);
    assert_int_equal(list.count, 1);
    assert_string_equal(list.what[0], "kpi.alert");
}

static int
collect_id(void *context, const char *staff_id)
{
    snprintf(context, DIR_ID_SIZE, "%s", staff_id);
    return 0;
}

/*
 * Retention removes a leaver's details everywhere they are kept, and empties
 * the payloads of their events and of old ones, keeping the de-duplication
 * keys.
 */
static void
test_retention_removes(void **state)
{
    struct fixture *fixture = *state;
    struct dir_staff staff;
    struct obligation obligation;
    struct notification n;
    char found[DIR_ID_SIZE] = "";
    int64_t rows = 0, blanked = 0, last = 0, seq[3];

    open_writer(fixture);
    memset(&staff, 0, sizeof(staff));
    snprintf(staff.staff_id, sizeof(staff.staff_id), "S1");
    snprintf(staff.name, sizeof(staff.name), "Amy Jones");
    snprintf(staff.role, sizeof(staff.role), "carer");
    snprintf(staff.team_id, sizeof(staff.team_id), "T1");
    snprintf(staff.start_date, sizeof(staff.start_date), "2019-01-07");
    snprintf(staff.email, sizeof(staff.email), "amy@example.org");
    snprintf(staff.left_date, sizeof(staff.left_date), "2020-03-31");
    assert_int_equal(store_begin(fixture->writer), 0);
    assert_int_equal(store_staff_put(fixture->writer, &staff, 1, STORE_PUT_NEW), 0);
    snprintf(staff.staff_id, sizeof(staff.staff_id), "S2");
    snprintf(staff.name, sizeof(staff.name), "Bo Li");
    staff.left_date[0] = '\0';
    assert_int_equal(store_staff_put(fixture->writer, &staff, 1, STORE_PUT_NEW), 0);
    seq[0] = insert_event(fixture->writer, 1, "/hr", "e-1", EVENT_STAFF_HIRED, true,
                          "{\"data\":{\"staff_id\":\"S1\",\"name\":\"Amy Jones\"}}");
    seq[1] = insert_event(fixture->writer, 2, "/hr", "e-2", EVENT_STAFF_HIRED, true,
                          "{\"data\":{\"staff_id\":\"S2\",\"name\":\"Bo Li\"}}");
    seq[2] = insert_event(fixture->writer, 3, "/hr", "e-3", EVENT_STAFF_HIRED, false,
                          "{\"data\":{\"staff_id\":\"S2\",\"name\":\"Bo Li\"}}");
    memset(&obligation, 0, sizeof(obligation));
    snprintf(obligation.staff_id, sizeof(obligation.staff_id), "S1");
    snprintf(obligation.kind, sizeof(obligation.kind), "supervision");
    snprintf(obligation.reason, sizeof(obligation.reason), "Amy was on leave");
    obligation.booked_day = obligation.closed_day = obligation.paused_day = STORE_NO_DAY;
    obligation.state = OBLIGATION_WAIVED;
    assert_int_equal(store_obligation_insert(fixture->writer, &obligation), 0);
    memset(&n, 0, sizeof(n));
    snprintf(n.type, sizeof(n.type), "reminder");
    snprintf(n.recipient_id, sizeof(n.recipient_id), "M1");
    snprintf(n.staff_id, sizeof(n.staff_id), "S1");
    snprintf(n.text, sizeof(n.text), "Amy Jones's supervision is due");
    n.obligation_id = obligation.id;
    n.booked_day = STORE_NO_DAY;
    assert_int_equal(store_notification_insert(fixture->writer, &n), 0);
    store_audit_cause(fixture->writer, "/hr", "e-1", false, 0, 0);
    assert_int_equal(
        store_audit(fixture->writer, "staff.hired", "S1", "T1", "{\"name\":\"Amy Jones\"}"), 0);
    assert_int_equal(store_commit(fixture->writer), 0);

    assert_int_equal(store_begin(fixture->writer), 0);
    /* Left on 2020-03-31: not before 2020-03-31, but before 2020-04-01. */
    assert_int_equal(
        store_retention_staff_due(fixture->writer, "2020-03-31", 10, collect_id, found), 0);
    assert_string_equal(found, "");
    assert_int_equal(
        store_retention_staff_due(fixture->writer, "2020-04-01", 10, collect_id, found), 0);
    assert_string_equal(found, "S1");
    assert_int_equal(store_retention_remove_staff(fixture->writer, "S1", &rows), 0);
    assert_int_equal(rows, 4); /* staff, obligation, notification, audit */
    /* Done once: not found again. */
    found[0] = '\0';
    assert_int_equal(
        store_retention_staff_due(fixture->writer, "2020-04-01", 10, collect_id, found), 0);
    assert_string_equal(found, "");
    assert_int_equal(store_events_last_seq(fixture->writer, &last), 0);
    assert_int_equal(last, seq[2]);
    /* The removed person's events, whatever their age; then those older than a time. */
    assert_int_equal(store_retention_events(fixture->writer, true, 0, last, 0, &blanked), 0);
    assert_int_equal(blanked, 1);
    assert_int_equal(
        store_retention_events(fixture->writer, false, 0, seq[1], INT64_C(1774774800001), &blanked),
        0);
    assert_int_equal(blanked, 1); /* e-2 only: e-1 was empty, e-3 is past the range */
    assert_int_equal(store_commit(fixture->writer), 0);

    assert_int_equal(store_staff_get(fixture->writer, "S1", &staff), 0);
    assert_string_equal(staff.name, STORE_REMOVED);
    assert_string_equal(staff.email, "");
    assert_string_equal(staff.left_date, "2020-03-31");
    assert_int_equal(store_staff_get(fixture->writer, "S2", &staff), 0);
    assert_string_equal(staff.name, "Bo Li");
    assert_int_equal(query_int(fixture->db_path, "SELECT count(*) FROM events WHERE body = '{}'"),
                     2);
    assert_int_equal(query_int(fixture->db_path, "SELECT count(*) FROM events"), 3);
    /* The keys stay: a re-sent event is still found. */
    assert_int_equal(store_event_matches(fixture->writer, seq[0], "/hr", "e-1"), 1);
    assert_int_equal(query_int(fixture->db_path, "SELECT count(*) FROM obligations WHERE reason = "
                                                 "'[removed]' AND state = 2"),
                     1);
    assert_int_equal(query_int(fixture->db_path, "SELECT count(*) FROM notifications WHERE text = "
                                                 "'[removed]'"),
                     1);
    assert_int_equal(query_int(fixture->db_path, "SELECT count(*) FROM audit WHERE details = '{}' "
                                                 "AND cause_id = 'e-1'"),
                     1);
}

#define TEST(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(test_open_creates_database),
        TEST(test_open_creates_missing_state_dir),
        TEST(test_events_round_trip),
        TEST(test_rollback_discards),
        TEST(test_staff_patch_writes_only_its_fields),
        TEST(test_migrates_schema_1),
        TEST(test_migrates_schema_2),
        TEST(test_migrates_schema_3),
        TEST(test_audit_rows),
        TEST(test_retention_removes),
        TEST(test_reopen_keeps_data),
        TEST(test_staff_round_trip),
        TEST(test_team_round_trip),
        TEST(test_longest_values_round_trip),
        TEST(test_counters),
        TEST(test_queries),
        TEST(test_directory_source),
        TEST(test_reader_on_fresh_database),
        TEST(test_reader_needs_a_database),
        TEST(test_store_close_accepts_null),
        TEST(test_refuses_random_bytes),
        TEST(test_refuses_text_file),
        TEST(test_refuses_other_application),
        TEST(test_refuses_other_application_id),
        TEST(test_refuses_newer_schema),
        TEST(test_refuses_newer_schema_fresh_file),
        TEST(test_refuses_state_dir_under_a_file),
        TEST(test_refuses_state_dir_that_is_a_file),
        TEST(test_refuses_unwritable_state_dir),
    };

    return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}

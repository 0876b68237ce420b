/*
 * Unit tests of clients/notify_state: carehub-notify's own SQLite database.
 * The cursor (forward only, kept across a reopen, restored by a rollback),
 * the digest queue, the undeliverable queue, the digest day, the log of
 * deliveries, and the failures: a notification without seq, a path that
 * cannot be opened, a file that is not a database.
 *
 * Each test works in a fresh directory made with mkdtemp() under /tmp; the
 * teardown removes it.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "notify_state.h"

struct fixture {
    char dir[64];
    char path[128]; /* the database, dir/state.db */
    struct notify_state *state;
};

static void
remove_file(const struct fixture *fixture, const char *suffix)
{
    char path[192];

    snprintf(path, sizeof(path), "%s%s", fixture->path, suffix);
    unlink(path);
}

static int
setup(void **state)
{
    struct fixture *fixture = calloc(1, sizeof(*fixture));

    if (fixture == NULL)
        return -1;
    snprintf(fixture->dir, sizeof(fixture->dir), "/tmp/carehub-state-test-XXXXXX");
    if (mkdtemp(fixture->dir) == NULL) {
        free(fixture);
        return -1;
    }
    snprintf(fixture->path, sizeof(fixture->path), "%s/state.db", fixture->dir);
    *state = fixture;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *fixture = *state;

    notify_state_close(fixture->state);
    remove_file(fixture, "");
    remove_file(fixture, "-wal");
    remove_file(fixture, "-shm");
    remove_file(fixture, "-journal");
    rmdir(fixture->dir);
    free(fixture);
    return 0;
}

#define TEST(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

/* Opens (or reopens) the fixture's database, which must succeed. */
static void
open_state(struct fixture *fixture)
{
    char err[512] = "";
    int r;

    notify_state_close(fixture->state);
    fixture->state = NULL;
    r = notify_state_open(&fixture->state, fixture->path, err, sizeof(err));
    if (r != 0)
        fail_msg("cannot open %s (%d): %s", fixture->path, r, err);
    assert_non_null(fixture->state);
}

/* Asserts that r is 0, showing the state's error otherwise. */
static void
assert_ok(const struct fixture *fixture, int r)
{
    if (r != 0)
        fail_msg("failed (%d): %s", r, notify_state_error(fixture->state));
}

/* A notification as the daemon's "notifications" op gives it; the caller's. */
static cJSON *
notification(int64_t seq, const char *recipient, const char *kind)
{
    char text[1024];
    cJSON *out;

    snprintf(text, sizeof(text),
             "{\"seq\": %lld, \"type\": \"reminder\", \"recipient_id\": \"%s\", \"staff_id\": "
             "\"S005\", \"kind\": \"%s\", \"item\": null, \"step\": null, \"due\": "
             "\"2026-03-21\", \"booked\": null, \"days_overdue\": 0, \"level\": 0, "
             "\"obligation_id\": %lld, \"text\": \"Supervision for Marek Nowak is due.\", "
             "\"policy\": null, \"acked_at\": null}",
             (long long)seq, recipient, kind, 100 + (long long)seq);
    out = cJSON_Parse(text);
    assert_non_null(out);
    return out;
}

/* Queues a fresh notification for a digest, in its own batch. */
static void
queue_digest(struct fixture *fixture, int64_t seq, const char *recipient)
{
    cJSON *n = notification(seq, recipient, "supervision");

    assert_ok(fixture, notify_state_begin(fixture->state));
    assert_ok(fixture, notify_state_queue_digest(fixture->state, n));
    assert_ok(fixture, notify_state_set_cursor(fixture->state, seq));
    assert_ok(fixture, notify_state_commit(fixture->state));
    cJSON_Delete(n);
}

/* Asserts that the array holds the strings of expected (count of them), in order. */
static void
assert_strings(const cJSON *array, const char *const *expected, int count)
{
    assert_true(cJSON_IsArray(array));
    assert_int_equal(cJSON_GetArraySize(array), count);
    for (int i = 0; i < count; i++) {
        const cJSON *item = cJSON_GetArrayItem(array, i);
        assert_true(cJSON_IsString(item));
        assert_string_equal(item->valuestring, expected[i]);
    }
}

/* The seq of each notification in array (at most 8), as a count. */
static int
seqs_of(const cJSON *array, int64_t *seqs)
{
    int count = 0;
    const cJSON *item;

    cJSON_ArrayForEach(item, array)
    {
        const cJSON *seq = cJSON_GetObjectItemCaseSensitive(item, "seq");
        assert_true(count < 8);
        assert_true(cJSON_IsNumber(seq));
        seqs[count++] = (int64_t)seq->valuedouble;
    }
    return count;
}

static void
test_open_creates_the_file(void **state)
{
    struct fixture *fixture = *state;
    cJSON *recipients = NULL, *undeliverable = NULL;

    assert_int_equal(access(fixture->path, F_OK), -1);
    open_state(fixture);
    assert_int_equal(access(fixture->path, F_OK), 0);
    assert_int_equal(notify_state_cursor(fixture->state), 0);
    assert_string_equal(notify_state_digest_day(fixture->state), "");
    assert_int_equal(notify_state_delivered(fixture->state, NULL), 0);
    assert_ok(fixture, notify_state_digest_recipients(fixture->state, INT64_MAX, &recipients));
    assert_int_equal(cJSON_GetArraySize(recipients), 0);
    assert_ok(fixture, notify_state_undeliverable(fixture->state, INT64_MAX, 1000, &undeliverable));
    assert_int_equal(cJSON_GetArraySize(undeliverable), 0);
    cJSON_Delete(recipients);
    cJSON_Delete(undeliverable);
}

static void
test_cursor_moves_only_forward_and_survives_reopen(void **state)
{
    struct fixture *fixture = *state;

    open_state(fixture);
    assert_ok(fixture, notify_state_begin(fixture->state));
    assert_ok(fixture, notify_state_set_cursor(fixture->state, 5));
    assert_int_equal(notify_state_cursor(fixture->state), 5);
    assert_ok(fixture, notify_state_commit(fixture->state));
    assert_int_equal(notify_state_cursor(fixture->state), 5);

    /* Backwards, or to where it is, is no move and no error. */
    assert_ok(fixture, notify_state_begin(fixture->state));
    assert_ok(fixture, notify_state_set_cursor(fixture->state, 3));
    assert_ok(fixture, notify_state_set_cursor(fixture->state, 5));
    assert_int_equal(notify_state_cursor(fixture->state), 5);
    assert_ok(fixture, notify_state_commit(fixture->state));

    open_state(fixture);
    assert_int_equal(notify_state_cursor(fixture->state), 5);

    assert_ok(fixture, notify_state_begin(fixture->state));
    assert_ok(fixture, notify_state_set_cursor(fixture->state, 9007199254740992LL));
    assert_ok(fixture, notify_state_commit(fixture->state));
    open_state(fixture);
    assert_int_equal(notify_state_cursor(fixture->state), 9007199254740992LL);
}

static void
test_rollback_restores_cursor_day_and_queues(void **state)
{
    struct fixture *fixture = *state;
    cJSON *n = notification(12, "S002", "supervision");
    cJSON *recipients = NULL, *undeliverable = NULL;

    open_state(fixture);
    assert_ok(fixture, notify_state_begin(fixture->state));
    assert_ok(fixture, notify_state_set_cursor(fixture->state, 10));
    assert_ok(fixture, notify_state_set_digest_day(fixture->state, "2026-03-08"));
    assert_ok(fixture, notify_state_commit(fixture->state));

    assert_ok(fixture, notify_state_begin(fixture->state));
    assert_ok(fixture, notify_state_set_cursor(fixture->state, 12));
    assert_ok(fixture, notify_state_set_digest_day(fixture->state, "2026-03-09"));
    assert_ok(fixture, notify_state_queue_digest(fixture->state, n));
    assert_ok(fixture, notify_state_queue_undeliverable(fixture->state, n, "no address"));
    assert_ok(fixture, notify_state_log_delivery(fixture->state, "<m@x>", "tom@example.org", "S",
                                                 "digest", 12, 12, 1000));
    assert_int_equal(notify_state_cursor(fixture->state), 12);
    assert_string_equal(notify_state_digest_day(fixture->state), "2026-03-09");
    notify_state_rollback(fixture->state);

    assert_int_equal(notify_state_cursor(fixture->state), 10);
    assert_string_equal(notify_state_digest_day(fixture->state), "2026-03-08");
    assert_ok(fixture, notify_state_digest_recipients(fixture->state, INT64_MAX, &recipients));
    assert_int_equal(cJSON_GetArraySize(recipients), 0);
    assert_ok(fixture, notify_state_undeliverable(fixture->state, INT64_MAX, 1000, &undeliverable));
    assert_int_equal(cJSON_GetArraySize(undeliverable), 0);
    assert_int_equal(notify_state_delivered(fixture->state, NULL), 0);

    /* The file agrees. */
    open_state(fixture);
    assert_int_equal(notify_state_cursor(fixture->state), 10);
    assert_string_equal(notify_state_digest_day(fixture->state), "2026-03-08");

    /* A rollback outside a batch changes nothing. */
    notify_state_rollback(fixture->state);
    assert_int_equal(notify_state_cursor(fixture->state), 10);
    cJSON_Delete(recipients);
    cJSON_Delete(undeliverable);
    cJSON_Delete(n);
}

static void
test_digest_queue(void **state)
{
    struct fixture *fixture = *state;
    static const char *const both[] = {"S002", "S003"};
    static const char *const s003[] = {"S003"};
    cJSON *recipients = NULL, *items = NULL;
    cJSON *expected = notification(5, "S002", "supervision");
    int64_t seqs[8];

    open_state(fixture);
    queue_digest(fixture, 3, "S002");
    queue_digest(fixture, 4, "S003");
    queue_digest(fixture, 5, "S002");
    assert_int_equal(notify_state_cursor(fixture->state), 5);

    /* Recipients in the order of their first queued notification. */
    assert_ok(fixture, notify_state_digest_recipients(fixture->state, INT64_MAX, &recipients));
    assert_strings(recipients, both, 2);
    cJSON_Delete(recipients);

    assert_ok(fixture, notify_state_digest_items(fixture->state, "S002", INT64_MAX, &items));
    assert_int_equal(seqs_of(items, seqs), 2);
    assert_int_equal(seqs[0], 3);
    assert_int_equal(seqs[1], 5);
    /* Each notification comes back whole. */
    assert_true(cJSON_Compare(cJSON_GetArrayItem(items, 1), expected, true));
    cJSON_Delete(items);

    /* Done up to 3: 5 stays. */
    assert_ok(fixture, notify_state_begin(fixture->state));
    assert_ok(fixture, notify_state_digest_done(fixture->state, "S002", 3));
    assert_ok(fixture, notify_state_commit(fixture->state));
    assert_ok(fixture, notify_state_digest_items(fixture->state, "S002", INT64_MAX, &items));
    assert_int_equal(seqs_of(items, seqs), 1);
    assert_int_equal(seqs[0], 5);
    cJSON_Delete(items);

    /* Done up to 5, for S002 only: S003's stays, though its seq is lower. */
    assert_ok(fixture, notify_state_begin(fixture->state));
    assert_ok(fixture, notify_state_digest_done(fixture->state, "S002", 5));
    assert_ok(fixture, notify_state_commit(fixture->state));
    assert_ok(fixture, notify_state_digest_recipients(fixture->state, INT64_MAX, &recipients));
    assert_strings(recipients, s003, 1);
    cJSON_Delete(recipients);
    assert_ok(fixture, notify_state_digest_items(fixture->state, "S002", INT64_MAX, &items));
    assert_int_equal(cJSON_GetArraySize(items), 0);
    cJSON_Delete(items);

    /* The queue survives a reopen. */
    open_state(fixture);
    assert_ok(fixture, notify_state_digest_items(fixture->state, "S003", INT64_MAX, &items));
    assert_int_equal(seqs_of(items, seqs), 1);
    assert_int_equal(seqs[0], 4);
    cJSON_Delete(items);
    cJSON_Delete(expected);
}

static void
test_round_covers_what_was_queued_when_it_began(void **state)
{
    struct fixture *fixture = *state;
    static const char *const s002[] = {"S002"};
    cJSON *recipients = NULL, *items = NULL, *undeliverable = NULL;
    cJSON *late = notification(7, "S002", "supervision");
    int64_t round_seq = -1, seqs[8];

    open_state(fixture);
    queue_digest(fixture, 3, "S002");
    queue_digest(fixture, 4, "S002");
    assert_ok(fixture, notify_state_start_round(fixture->state, "2026-03-02", &round_seq));
    assert_int_equal(round_seq, 4);
    /* Queued after the round began: not in it, even when it is taken up again. */
    queue_digest(fixture, 6, "S003");
    assert_ok(fixture, notify_state_begin(fixture->state));
    assert_ok(fixture, notify_state_queue_undeliverable(fixture->state, late, "left"));
    assert_ok(fixture, notify_state_set_cursor(fixture->state, 7));
    assert_ok(fixture, notify_state_commit(fixture->state));
    assert_ok(fixture, notify_state_start_round(fixture->state, "2026-03-02", &round_seq));
    assert_int_equal(round_seq, 4);
    assert_ok(fixture, notify_state_digest_recipients(fixture->state, round_seq, &recipients));
    assert_strings(recipients, s002, 1);
    cJSON_Delete(recipients);
    assert_ok(fixture, notify_state_digest_items(fixture->state, "S003", round_seq, &items));
    assert_int_equal(cJSON_GetArraySize(items), 0);
    cJSON_Delete(items);
    assert_ok(fixture, notify_state_undeliverable(fixture->state, round_seq, 100, &undeliverable));
    assert_int_equal(cJSON_GetArraySize(undeliverable), 0);
    cJSON_Delete(undeliverable);
    /* The next day's round takes everything handled by then. */
    assert_ok(fixture, notify_state_start_round(fixture->state, "2026-03-03", &round_seq));
    assert_int_equal(round_seq, 7);
    assert_ok(fixture, notify_state_digest_items(fixture->state, "S003", round_seq, &items));
    assert_int_equal(seqs_of(items, seqs), 1);
    assert_int_equal(seqs[0], 6);
    cJSON_Delete(items);
    /* A limit on the undeliverable ones listed. */
    assert_ok(fixture, notify_state_undeliverable(fixture->state, round_seq, 0, &undeliverable));
    assert_int_equal(cJSON_GetArraySize(undeliverable), 0);
    cJSON_Delete(undeliverable);
    assert_ok(fixture, notify_state_undeliverable(fixture->state, round_seq, 1, &undeliverable));
    assert_int_equal(cJSON_GetArraySize(undeliverable), 1);
    cJSON_Delete(undeliverable);
    cJSON_Delete(late);
}

static void
test_round_survives_a_restart(void **state)
{
    struct fixture *fixture = *state;
    int64_t round_seq = -1;

    open_state(fixture);
    queue_digest(fixture, 3, "S002");
    assert_ok(fixture, notify_state_start_round(fixture->state, "2026-03-02", &round_seq));
    queue_digest(fixture, 5, "S002");
    notify_state_close(fixture->state);
    fixture->state = NULL;
    open_state(fixture);
    assert_ok(fixture, notify_state_start_round(fixture->state, "2026-03-02", &round_seq));
    assert_int_equal(round_seq, 3);
}

static void
test_queueing_the_same_notification_twice_keeps_one(void **state)
{
    struct fixture *fixture = *state;
    cJSON *items = NULL;

    open_state(fixture);
    queue_digest(fixture, 7, "S002");
    queue_digest(fixture, 7, "S002");
    assert_ok(fixture, notify_state_digest_items(fixture->state, "S002", INT64_MAX, &items));
    assert_int_equal(cJSON_GetArraySize(items), 1);
    cJSON_Delete(items);
}

static void
test_undeliverable_queue(void **state)
{
    struct fixture *fixture = *state;
    cJSON *first = notification(21, "S010", "supervision");
    cJSON *second = notification(22, "S011", "training");
    cJSON *list = NULL;
    const cJSON *entry;

    open_state(fixture);
    assert_ok(fixture, notify_state_begin(fixture->state));
    assert_ok(fixture, notify_state_queue_undeliverable(fixture->state, second, "no address"));
    assert_ok(fixture,
              notify_state_queue_undeliverable(fixture->state, first, "the relay refused it"));
    assert_ok(fixture, notify_state_set_cursor(fixture->state, 22));
    assert_ok(fixture, notify_state_commit(fixture->state));

    /* seq rising, whatever the order they were queued in. */
    assert_ok(fixture, notify_state_undeliverable(fixture->state, INT64_MAX, 1000, &list));
    assert_int_equal(cJSON_GetArraySize(list), 2);
    entry = cJSON_GetArrayItem(list, 0);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(entry, "reason")->valuestring,
                        "the relay refused it");
    assert_true(
        cJSON_Compare(cJSON_GetObjectItemCaseSensitive(entry, "notification"), first, true));
    entry = cJSON_GetArrayItem(list, 1);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(entry, "reason")->valuestring,
                        "no address");
    assert_true(
        cJSON_Compare(cJSON_GetObjectItemCaseSensitive(entry, "notification"), second, true));
    cJSON_Delete(list);

    assert_ok(fixture, notify_state_begin(fixture->state));
    assert_ok(fixture, notify_state_undeliverable_done(fixture->state, 21));
    assert_ok(fixture, notify_state_commit(fixture->state));
    assert_ok(fixture, notify_state_undeliverable(fixture->state, INT64_MAX, 1000, &list));
    assert_int_equal(cJSON_GetArraySize(list), 1);
    assert_true(
        cJSON_Compare(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(list, 0), "notification"),
                      second, true));
    cJSON_Delete(list);

    assert_ok(fixture, notify_state_begin(fixture->state));
    assert_ok(fixture, notify_state_undeliverable_done(fixture->state, 22));
    assert_ok(fixture, notify_state_commit(fixture->state));
    assert_ok(fixture, notify_state_undeliverable(fixture->state, INT64_MAX, 1000, &list));
    assert_int_equal(cJSON_GetArraySize(list), 0);
    cJSON_Delete(list);
    cJSON_Delete(first);
    cJSON_Delete(second);
}

static void
test_digest_day_persists(void **state)
{
    struct fixture *fixture = *state;

    open_state(fixture);
    assert_ok(fixture, notify_state_begin(fixture->state));
    assert_ok(fixture, notify_state_set_digest_day(fixture->state, "2026-03-09"));
    assert_ok(fixture, notify_state_commit(fixture->state));
    assert_string_equal(notify_state_digest_day(fixture->state), "2026-03-09");
    open_state(fixture);
    assert_string_equal(notify_state_digest_day(fixture->state), "2026-03-09");

    assert_ok(fixture, notify_state_begin(fixture->state));
    assert_ok(fixture, notify_state_set_digest_day(fixture->state, "2026-03-10"));
    assert_ok(fixture, notify_state_commit(fixture->state));
    open_state(fixture);
    assert_string_equal(notify_state_digest_day(fixture->state), "2026-03-10");
}

static void
test_deliveries_are_logged_and_counted(void **state)
{
    struct fixture *fixture = *state;

    open_state(fixture);
    assert_ok(fixture, notify_state_begin(fixture->state));
    assert_ok(fixture,
              notify_state_log_delivery(fixture->state, "<carehub.digest.S002.5@example.org>",
                                        "tom@example.org", "Staff reviews", "digest", 3, 5, 1000));
    assert_ok(fixture, notify_state_log_delivery(
                           fixture->state, "<carehub.digest.S003.4@example.org>",
                           "priya@example.org", "Staff reviews", "digest", 4, 4, 2000));
    assert_ok(fixture, notify_state_log_delivery(fixture->state, "<carehub.n.6@example.org>",
                                                 "tom@example.org", "Overdue: Supervision",
                                                 "immediate", 6, 6, 3000));
    assert_ok(fixture, notify_state_log_delivery(fixture->state, "<carehub.test.1@example.org>",
                                                 "hr@example.org", "Test", "test", 0, 0, 4000));
    assert_ok(fixture, notify_state_commit(fixture->state));

    assert_int_equal(notify_state_delivered(fixture->state, "digest"), 2);
    assert_int_equal(notify_state_delivered(fixture->state, "immediate"), 1);
    assert_int_equal(notify_state_delivered(fixture->state, "test"), 1);
    assert_int_equal(notify_state_delivered(fixture->state, "fallback"), 0);
    assert_int_equal(notify_state_delivered(fixture->state, NULL), 4);

    open_state(fixture);
    assert_int_equal(notify_state_delivered(fixture->state, NULL), 4);
}

static void
test_notification_without_seq_or_recipient(void **state)
{
    struct fixture *fixture = *state;
    cJSON *no_seq = notification(1, "S002", "supervision");
    cJSON *no_recipient = notification(2, "S002", "supervision");
    cJSON *items = NULL;

    cJSON_DeleteItemFromObjectCaseSensitive(no_seq, "seq");
    cJSON_DeleteItemFromObjectCaseSensitive(no_recipient, "recipient_id");
    open_state(fixture);
    assert_ok(fixture, notify_state_begin(fixture->state));
    assert_int_equal(notify_state_queue_digest(fixture->state, no_seq), -EINVAL);
    assert_string_equal(notify_state_error(fixture->state),
                        "a notification without seq or recipient_id");
    assert_int_equal(notify_state_queue_digest(fixture->state, no_recipient), -EINVAL);
    assert_int_equal(notify_state_queue_undeliverable(fixture->state, no_seq, "no address"),
                     -EINVAL);
    assert_int_equal(notify_state_queue_undeliverable(fixture->state, no_recipient, "no address"),
                     -EINVAL);
    assert_string_equal(notify_state_error(fixture->state),
                        "a notification without seq or recipient_id");
    assert_ok(fixture, notify_state_commit(fixture->state));
    assert_ok(fixture, notify_state_digest_items(fixture->state, "S002", INT64_MAX, &items));
    assert_int_equal(cJSON_GetArraySize(items), 0);
    cJSON_Delete(items);
    cJSON_Delete(no_seq);
    cJSON_Delete(no_recipient);
}

static void
test_commit_without_begin_fails_with_a_message(void **state)
{
    struct fixture *fixture = *state;

    open_state(fixture);
    assert_int_equal(notify_state_commit(fixture->state), -EIO);
    assert_string_equal(notify_state_error(fixture->state),
                        "committing: cannot commit - no transaction is active");
}

static void
test_open_where_the_file_cannot_be_created(void **state)
{
    struct fixture *fixture = *state;
    struct notify_state *opened = (struct notify_state *)&opened; /* not NULL, to see it reset */
    char path[192], err[512] = "", expected[512];

    snprintf(path, sizeof(path), "%s/no-such-dir/state.db", fixture->dir);
    assert_int_equal(notify_state_open(&opened, path, err, sizeof(err)), -EIO);
    assert_null(opened);
    snprintf(expected, sizeof(expected),
             "cannot open the state file %s: unable to open database file", path);
    assert_string_equal(err, expected);
}

static void
test_open_on_a_file_that_is_not_a_database(void **state)
{
    struct fixture *fixture = *state;
    struct notify_state *opened = NULL;
    char err[512] = "", expected[512];
    FILE *f = fopen(fixture->path, "w");

    assert_non_null(f);
    for (int i = 0; i < 64; i++)
        fputs("This is not an SQLite database, just some text.\n", f);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(notify_state_open(&opened, fixture->path, err, sizeof(err)), -EIO);
    assert_null(opened);
    snprintf(expected, sizeof(expected), "cannot set up the state file %s: file is not a database",
             fixture->path);
    assert_string_equal(err, expected);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(test_open_creates_the_file),
        TEST(test_cursor_moves_only_forward_and_survives_reopen),
        TEST(test_rollback_restores_cursor_day_and_queues),
        TEST(test_digest_queue),
        TEST(test_round_covers_what_was_queued_when_it_began),
        TEST(test_round_survives_a_restart),
        TEST(test_queueing_the_same_notification_twice_keeps_one),
        TEST(test_undeliverable_queue),
        TEST(test_digest_day_persists),
        TEST(test_deliveries_are_logged_and_counted),
        TEST(test_notification_without_seq_or_recipient),
        TEST(test_commit_without_begin_fails_with_a_message),
        TEST(test_open_where_the_file_cannot_be_created),
        TEST(test_open_on_a_file_that_is_not_a_database),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

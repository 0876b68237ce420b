/*
 * Unit tests of daemon/retention (when the daily run is due, the run_at
 * setting) and daemon/audit (the details of audit rows as JSON).  The SQL
 * of both is tested in test-store.c and the whole job end to end in
 * tests/e2e/test_retention.py.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "audit.h"
#include "retention.h"
#include "schedule.h"

#define MS_PER_MINUTE INT64_C(60000)

static void
test_parse_time(void **state)
{
    int minutes = -1;

    (void)state;
    assert_int_equal(retention_parse_time("02:30", &minutes), 0);
    assert_int_equal(minutes, 150);
    assert_int_equal(retention_parse_time("00:00", &minutes), 0);
    assert_int_equal(minutes, 0);
    assert_int_equal(retention_parse_time("23:59", &minutes), 0);
    assert_int_equal(minutes, 1439);
    const char *bad[] = {"24:00", "12:60", "2:30",  "02:3",   "02-30",
                         "0230",  "",      "ab:cd", "02:30 ", NULL};
    for (int i = 0; bad[i]; i++)
        assert_int_equal(retention_parse_time(bad[i], &minutes), -EINVAL);
    assert_int_equal(retention_parse_time(NULL, &minutes), -EINVAL);
}

/* Due once a day at run_at; at start as soon as today's run_at has passed. */
static void
test_next_run(void **state)
{
    struct retention retention;
    struct retention_policy policy = {10, 30, NULL, 150};
    int64_t day = 20458; /* 2026-01-05 */
    int64_t run = schedule_local_ms(day, 150);

    (void)state;
    retention_init(&retention);
    assert_int_equal(retention_next_ms(&retention, &policy, run - MS_PER_MINUTE), run);
    assert_int_equal(retention_next_ms(&retention, &policy, run + MS_PER_MINUTE), run);
    /* Once run today, tomorrow's. */
    retention.last_day = day;
    assert_int_equal(retention_next_ms(&retention, &policy, run + MS_PER_MINUTE),
                     schedule_local_ms(day + 1, 150));
    /* A run under way wants the writer at once. */
    retention.phase = RETENTION_EVENTS;
    assert_int_equal(retention_next_ms(&retention, &policy, run + 5), run + 5);
    /* Nothing to remove: never. */
    policy.left_staff_days = policy.event_days = 0;
    assert_int_equal(retention_next_ms(&retention, &policy, run), 0);
}

static void
test_details_escaping(void **state)
{
    struct audit_details details;
    cJSON *parsed;

    (void)state;
    audit_details_init(&details);
    assert_string_equal(audit_details_text(&details), "{}");
    audit_details_init(&details);
    audit_details_string(&details, "name", "A \"quoted\" \\ name\n\x01");
    audit_details_string(&details, "email", "");
    audit_details_int(&details, "n", -42);
    audit_details_day(&details, "due", 20458);
    audit_details_day(&details, "closed", STORE_NO_DAY);
    audit_details_change(&details, "role", "carer", NULL);
    parsed = cJSON_Parse(audit_details_text(&details));
    assert_non_null(parsed);
    assert_string_equal(cJSON_GetObjectItem(parsed, "name")->valuestring,
                        "A \"quoted\" \\ name\n\x01");
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(parsed, "email")));
    assert_int_equal((int)cJSON_GetObjectItem(parsed, "n")->valuedouble, -42);
    assert_string_equal(cJSON_GetObjectItem(parsed, "due")->valuestring, "2026-01-05");
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(parsed, "closed")));
    cJSON *role = cJSON_GetObjectItem(parsed, "role");
    assert_string_equal(cJSON_GetObjectItem(role, "from")->valuestring, "carer");
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(role, "to")));
    cJSON_Delete(parsed);
}

static void
test_details_staff(void **state)
{
    struct audit_details details;
    struct dir_staff before, after;

    (void)state;
    memset(&before, 0, sizeof(before));
    snprintf(before.staff_id, sizeof(before.staff_id), "S1");
    snprintf(before.name, sizeof(before.name), "Amy");
    snprintf(before.role, sizeof(before.role), "carer");
    after = before;
    snprintf(after.name, sizeof(after.name), "Amy Jones");
    snprintf(after.email, sizeof(after.email), "amy@example.org");
    audit_details_init(&details);
    assert_int_equal(audit_details_staff(&details, &before, &after), 2);
    assert_string_equal(audit_details_text(&details),
                        "{\"name\":{\"from\":\"Amy\",\"to\":\"Amy Jones\"},"
                        "\"email\":{\"from\":null,\"to\":\"amy@example.org\"}}");
    /* A new record: the fields set. */
    audit_details_init(&details);
    assert_int_equal(audit_details_staff(&details, NULL, &before), 2);
    assert_string_equal(audit_details_text(&details), "{\"name\":\"Amy\",\"role\":\"carer\"}");
}

/* Details too large for the buffer become a marker, never a cut-off object. */
static void
test_details_overflow(void **state)
{
    struct audit_details details;
    char text[DIR_TEXT_SIZE];

    (void)state;
    memset(text, '"', sizeof(text) - 1);
    text[sizeof(text) - 1] = '\0';
    audit_details_init(&details);
    for (int i = 0; i < 100; i++)
        audit_details_string(&details, "k", text);
    assert_string_equal(audit_details_text(&details), "{\"truncated\":true}");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_time),       cmocka_unit_test(test_next_run),
        cmocka_unit_test(test_details_escaping), cmocka_unit_test(test_details_staff),
        cmocka_unit_test(test_details_overflow),
    };

    setenv("TZ", "UTC", 1);
    tzset();
    return cmocka_run_group_tests_name("retention", tests, NULL, NULL);
}

/*
 * Unit tests of daemon/schedule: period arithmetic, working days, local time
 * across daylight-saving changes, and the order and days of an obligation's
 * reminders and escalations.
 *
 * Expected days were worked out by hand from a 2026 calendar (weekdays
 * checked with `date -d DATE +%a`) and are written as dates; expected
 * instants were checked with `zdump -v` for each zone.  The calendar is
 * England's: Monday to Friday, 09:00, with the 2026 bank holidays closed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "schedule.h"
#include "timefmt.h"

#define DAY(y, m, d) timefmt_days_from_civil((y), (m), (d))
/* A UTC instant in milliseconds. */
#define UTC(y, m, d, hour, minute)                                                                 \
    ((DAY((y), (m), (d)) * 86400 + (hour)*3600 + (minute)*60) * (int64_t)1000)

#define MONDAY_TO_FRIDAY 0x1fu
#define NINE_AM 540

static void
use_zone(const char *zone)
{
    setenv("TZ", zone, 1);
    tzset();
}

/* England and Wales bank holidays in 2026, sorted. */
static void
england_2026(struct work_calendar *calendar, int64_t closures[8])
{
    closures[0] = DAY(2026, 1, 1);   /* Thu, New Year's Day */
    closures[1] = DAY(2026, 4, 3);   /* Fri, Good Friday */
    closures[2] = DAY(2026, 4, 6);   /* Mon, Easter Monday */
    closures[3] = DAY(2026, 5, 4);   /* Mon, early May */
    closures[4] = DAY(2026, 5, 25);  /* Mon, spring */
    closures[5] = DAY(2026, 8, 31);  /* Mon, summer */
    closures[6] = DAY(2026, 12, 25); /* Fri, Christmas Day */
    closures[7] = DAY(2026, 12, 28); /* Mon, Boxing Day (substitute) */
    *calendar = (struct work_calendar){.send_minute = NINE_AM,
                                       .working_days = MONDAY_TO_FRIDAY,
                                       .closure_count = 8,
                                       .closures = closures,
                                       .missed_after_days = 30};
}

/* Reminders 14, 3 and 0 days before; escalations 1, 7 and 14 days overdue, then every 7 days. */
static void
supervision(struct kind *kind)
{
    memset(kind, 0, sizeof(*kind));
    strcpy(kind->name, "supervision");
    kind->reminder_count = 3;
    kind->reminders[0] = 14;
    kind->reminders[1] = 3;
    kind->reminders[2] = 0;
    kind->escalation_count = 3;
    kind->escalations[0].after_days = 1;
    kind->escalations[1].after_days = 7;
    kind->escalations[2].after_days = 14;
    kind->repeat_days = 7;
}

static struct period
period_of(int count, enum period_unit unit)
{
    return (struct period){.count = count, .unit = unit};
}

static void
expect_add(int64_t from, int count, enum period_unit unit, int64_t expected)
{
    struct period period = period_of(count, unit);
    int64_t got = schedule_add_period(from, &period);

    if (got != expected) {
        struct civil_date a, b, c;

        timefmt_civil_from_days(from, &a);
        timefmt_civil_from_days(expected, &b);
        timefmt_civil_from_days(got, &c);
        fail_msg("%04d-%02d-%02d + %d (unit %d): expected %04d-%02d-%02d, got %04d-%02d-%02d",
                 a.year, a.month, a.day, count, (int)unit, b.year, b.month, b.day, c.year, c.month,
                 c.day);
    }
}

static void
test_add_period_days_and_weeks(void **state)
{
    (void)state;

    expect_add(DAY(2026, 6, 15), 0, PERIOD_DAYS, DAY(2026, 6, 15));
    expect_add(DAY(2026, 6, 15), 1, PERIOD_DAYS, DAY(2026, 6, 16));
    expect_add(DAY(2026, 12, 31), 1, PERIOD_DAYS, DAY(2027, 1, 1));
    expect_add(DAY(2024, 2, 28), 1, PERIOD_DAYS, DAY(2024, 2, 29));
    expect_add(DAY(2026, 2, 28), 1, PERIOD_DAYS, DAY(2026, 3, 1));
    expect_add(DAY(2026, 1, 1), 365, PERIOD_DAYS, DAY(2027, 1, 1));
    expect_add(DAY(1969, 12, 31), 1, PERIOD_DAYS, DAY(1970, 1, 1));
    expect_add(DAY(2026, 3, 20), 6, PERIOD_WEEKS, DAY(2026, 5, 1));
    expect_add(DAY(2026, 12, 21), 2, PERIOD_WEEKS, DAY(2027, 1, 4));
    expect_add(DAY(2026, 6, 15), 0, PERIOD_WEEKS, DAY(2026, 6, 15));
    expect_add(DAY(2024, 2, 15), 2, PERIOD_WEEKS, DAY(2024, 2, 29));
}

static void
test_add_period_months_keep_or_clamp_the_day(void **state)
{
    (void)state;

    expect_add(DAY(2026, 1, 15), 1, PERIOD_MONTHS, DAY(2026, 2, 15));
    expect_add(DAY(2026, 1, 31), 1, PERIOD_MONTHS, DAY(2026, 2, 28));
    expect_add(DAY(2024, 1, 31), 1, PERIOD_MONTHS, DAY(2024, 2, 29));
    expect_add(DAY(2026, 1, 30), 1, PERIOD_MONTHS, DAY(2026, 2, 28));
    expect_add(DAY(2026, 1, 28), 1, PERIOD_MONTHS, DAY(2026, 2, 28));
    expect_add(DAY(2026, 3, 31), 1, PERIOD_MONTHS, DAY(2026, 4, 30));
    expect_add(DAY(2026, 5, 31), 1, PERIOD_MONTHS, DAY(2026, 6, 30));
    expect_add(DAY(2026, 2, 28), 1, PERIOD_MONTHS, DAY(2026, 3, 28)); /* not the month's end */
    expect_add(DAY(2026, 12, 15), 1, PERIOD_MONTHS, DAY(2027, 1, 15));
    expect_add(DAY(2026, 10, 31), 4, PERIOD_MONTHS, DAY(2027, 2, 28));
    expect_add(DAY(2026, 11, 30), 3, PERIOD_MONTHS, DAY(2027, 2, 28));
    expect_add(DAY(2026, 8, 31), 6, PERIOD_MONTHS, DAY(2027, 2, 28));
    expect_add(DAY(2026, 8, 31), 18, PERIOD_MONTHS, DAY(2028, 2, 29));
    expect_add(DAY(2026, 12, 31), 12, PERIOD_MONTHS, DAY(2027, 12, 31));
    expect_add(DAY(2026, 7, 31), 0, PERIOD_MONTHS, DAY(2026, 7, 31));
    expect_add(DAY(2026, 1, 31), 25, PERIOD_MONTHS, DAY(2028, 2, 29));
    expect_add(DAY(1900, 1, 31), 1, PERIOD_MONTHS, DAY(1900, 2, 28)); /* 1900 is not leap */
    expect_add(DAY(2000, 1, 31), 1, PERIOD_MONTHS, DAY(2000, 2, 29)); /* 2000 is */
    expect_add(DAY(1969, 12, 31), 2, PERIOD_MONTHS, DAY(1970, 2, 28));
}

static void
test_add_period_years_and_leap_days(void **state)
{
    (void)state;

    expect_add(DAY(2026, 6, 15), 1, PERIOD_YEARS, DAY(2027, 6, 15));
    expect_add(DAY(2024, 2, 29), 1, PERIOD_YEARS, DAY(2025, 2, 28));
    expect_add(DAY(2024, 2, 29), 3, PERIOD_YEARS, DAY(2027, 2, 28));
    expect_add(DAY(2024, 2, 29), 4, PERIOD_YEARS, DAY(2028, 2, 29));
    expect_add(DAY(2096, 2, 29), 4, PERIOD_YEARS, DAY(2100, 2, 28)); /* 2100 is not leap */
    expect_add(DAY(1996, 2, 29), 4, PERIOD_YEARS, DAY(2000, 2, 29));
    expect_add(DAY(2023, 2, 28), 1, PERIOD_YEARS, DAY(2024, 2, 28)); /* stays the 28th */
    expect_add(DAY(2026, 12, 31), 3, PERIOD_YEARS, DAY(2029, 12, 31));
    expect_add(DAY(2026, 3, 1), 0, PERIOD_YEARS, DAY(2026, 3, 1));
    expect_add(DAY(2024, 2, 29), 12, PERIOD_MONTHS, DAY(2025, 2, 28));
}

static void
test_weekday(void **state)
{
    (void)state;

    assert_int_equal(schedule_weekday(DAY(1970, 1, 1)), 3);   /* Thursday */
    assert_int_equal(schedule_weekday(DAY(1969, 12, 31)), 2); /* Wednesday */
    assert_int_equal(schedule_weekday(DAY(1969, 12, 29)), 0); /* Monday */
    assert_int_equal(schedule_weekday(DAY(1969, 12, 28)), 6); /* Sunday */
    assert_int_equal(schedule_weekday(DAY(1900, 1, 1)), 0);   /* Monday */
    assert_int_equal(schedule_weekday(DAY(2000, 1, 1)), 5);   /* Saturday */
    assert_int_equal(schedule_weekday(DAY(2024, 2, 29)), 3);  /* Thursday */
    assert_int_equal(schedule_weekday(DAY(2026, 6, 15)), 0);  /* Monday */
    assert_int_equal(schedule_weekday(DAY(2026, 6, 20)), 5);  /* Saturday */
    assert_int_equal(schedule_weekday(DAY(2026, 6, 21)), 6);  /* Sunday */
    assert_int_equal(schedule_weekday(DAY(2026, 12, 25)), 4); /* Friday */

    /* Every day from 1900 to 2200 follows the day before it. */
    for (int64_t day = DAY(1900, 1, 2); day <= DAY(2200, 12, 31); day++) {
        int weekday = schedule_weekday(day);

        assert_in_range(weekday, 0, 6);
        assert_int_equal(weekday, (schedule_weekday(day - 1) + 1) % 7);
    }
}

static void
test_working_days_and_closures(void **state)
{
    (void)state;
    struct work_calendar calendar;
    int64_t closures[8];

    england_2026(&calendar, closures);
    assert_true(schedule_is_working_day(&calendar, DAY(2026, 6, 15)));  /* Mon */
    assert_true(schedule_is_working_day(&calendar, DAY(2026, 6, 19)));  /* Fri */
    assert_false(schedule_is_working_day(&calendar, DAY(2026, 6, 20))); /* Sat */
    assert_false(schedule_is_working_day(&calendar, DAY(2026, 6, 21))); /* Sun */
    /* Every closure, including the first and the last of the array. */
    for (int i = 0; i < 8; i++)
        assert_false(schedule_is_working_day(&calendar, closures[i]));
    assert_true(schedule_is_working_day(&calendar, DAY(2026, 1, 2)));   /* Fri after the 1st */
    assert_true(schedule_is_working_day(&calendar, DAY(2026, 12, 24))); /* Thu */
    assert_true(schedule_is_working_day(&calendar, DAY(2026, 12, 29))); /* Tue */
    assert_true(schedule_is_working_day(&calendar, DAY(2025, 12, 31))); /* before the first */
    assert_true(schedule_is_working_day(&calendar, DAY(2027, 1, 1)));   /* not in the list */
    assert_true(schedule_is_working_day(&calendar, DAY(2025, 12, 25))); /* another year's */

    /* A care home open Monday to Saturday, without closures. */
    calendar.working_days = 0x3fu;
    calendar.closure_count = 0;
    calendar.closures = NULL;
    assert_true(schedule_is_working_day(&calendar, DAY(2026, 6, 20)));  /* Sat */
    assert_false(schedule_is_working_day(&calendar, DAY(2026, 6, 21))); /* Sun */
    assert_true(schedule_is_working_day(&calendar, DAY(2026, 12, 25))); /* no closures */

    /* Weekends only. */
    calendar.working_days = 0x60u;
    assert_false(schedule_is_working_day(&calendar, DAY(2026, 6, 19)));
    assert_true(schedule_is_working_day(&calendar, DAY(2026, 6, 20)));
    assert_true(schedule_is_working_day(&calendar, DAY(2026, 6, 21)));
}

static void
test_working_day_on_or_before_and_after(void **state)
{
    (void)state;
    struct work_calendar calendar;
    int64_t closures[8];

    england_2026(&calendar, closures);
    /* A working day is its own answer. */
    assert_int_equal(schedule_working_day_on_or_before(&calendar, DAY(2026, 6, 17)),
                     DAY(2026, 6, 17));
    assert_int_equal(schedule_working_day_on_or_after(&calendar, DAY(2026, 6, 17)),
                     DAY(2026, 6, 17));
    /* Weekends. */
    assert_int_equal(schedule_working_day_on_or_before(&calendar, DAY(2026, 6, 20)),
                     DAY(2026, 6, 19));
    assert_int_equal(schedule_working_day_on_or_before(&calendar, DAY(2026, 6, 21)),
                     DAY(2026, 6, 19));
    assert_int_equal(schedule_working_day_on_or_after(&calendar, DAY(2026, 6, 20)),
                     DAY(2026, 6, 22));
    assert_int_equal(schedule_working_day_on_or_after(&calendar, DAY(2026, 6, 21)),
                     DAY(2026, 6, 22));
    /* Christmas: Fri 25 and Mon 28 closed, with the weekend between. */
    assert_int_equal(schedule_working_day_on_or_before(&calendar, DAY(2026, 12, 28)),
                     DAY(2026, 12, 24));
    assert_int_equal(schedule_working_day_on_or_before(&calendar, DAY(2026, 12, 25)),
                     DAY(2026, 12, 24));
    assert_int_equal(schedule_working_day_on_or_before(&calendar, DAY(2026, 12, 29)),
                     DAY(2026, 12, 29));
    assert_int_equal(schedule_working_day_on_or_after(&calendar, DAY(2026, 12, 25)),
                     DAY(2026, 12, 29));
    assert_int_equal(schedule_working_day_on_or_after(&calendar, DAY(2026, 12, 24)),
                     DAY(2026, 12, 24));
    /* Easter: Good Friday 3 April to Easter Monday 6 April. */
    assert_int_equal(schedule_working_day_on_or_before(&calendar, DAY(2026, 4, 6)),
                     DAY(2026, 4, 2));
    assert_int_equal(schedule_working_day_on_or_after(&calendar, DAY(2026, 4, 3)), DAY(2026, 4, 7));
    /* New Year's Day on a Thursday, across the year end. */
    assert_int_equal(schedule_working_day_on_or_before(&calendar, DAY(2026, 1, 1)),
                     DAY(2025, 12, 31));
    assert_int_equal(schedule_working_day_on_or_after(&calendar, DAY(2026, 1, 1)), DAY(2026, 1, 2));

    /* A calendar with no working day at all gives the day back. */
    calendar.working_days = 0;
    assert_int_equal(schedule_working_day_on_or_before(&calendar, DAY(2026, 6, 17)),
                     DAY(2026, 6, 17));
    assert_int_equal(schedule_working_day_on_or_after(&calendar, DAY(2026, 6, 17)),
                     DAY(2026, 6, 17));
}

static void
expect_local_ms(int64_t day, int minute, int64_t expected)
{
    int64_t got = schedule_local_ms(day, minute);

    if (got != expected) {
        char want[32], have[32];
        struct civil_date date;

        timefmt_civil_from_days(day, &date);
        timefmt_format_rfc3339(expected, want, sizeof(want));
        timefmt_format_rfc3339(got, have, sizeof(have));
        fail_msg("%04d-%02d-%02d %02d:%02d local: expected %s, got %s", date.year, date.month,
                 date.day, minute / 60, minute % 60, want, have);
    }
}

static void
test_local_ms_london_spring_forward(void **state)
{
    (void)state;

    use_zone("Europe/London");
    /* Saturday 28 March: GMT all day. */
    expect_local_ms(DAY(2026, 3, 28), 0, UTC(2026, 3, 28, 0, 0));
    expect_local_ms(DAY(2026, 3, 28), 90, UTC(2026, 3, 28, 1, 30));
    expect_local_ms(DAY(2026, 3, 28), NINE_AM, UTC(2026, 3, 28, 9, 0));
    expect_local_ms(DAY(2026, 3, 28), 1439, UTC(2026, 3, 28, 23, 59));
    /* Sunday 29 March: at 01:00 GMT the clocks go to 02:00 BST. */
    expect_local_ms(DAY(2026, 3, 29), 0, UTC(2026, 3, 29, 0, 0));
    expect_local_ms(DAY(2026, 3, 29), 59, UTC(2026, 3, 29, 0, 59));
    expect_local_ms(DAY(2026, 3, 29), 60, UTC(2026, 3, 29, 1, 0));  /* 01:00 skipped: 02:00 */
    expect_local_ms(DAY(2026, 3, 29), 90, UTC(2026, 3, 29, 1, 30)); /* 01:30 skipped: 02:30 */
    expect_local_ms(DAY(2026, 3, 29), 119, UTC(2026, 3, 29, 1, 59));
    expect_local_ms(DAY(2026, 3, 29), 120, UTC(2026, 3, 29, 1, 0)); /* 02:00 BST */
    expect_local_ms(DAY(2026, 3, 29), 150, UTC(2026, 3, 29, 1, 30));
    expect_local_ms(DAY(2026, 3, 29), NINE_AM, UTC(2026, 3, 29, 8, 0));
    expect_local_ms(DAY(2026, 3, 29), 1439, UTC(2026, 3, 29, 22, 59));
    /* Monday 30 March: BST all day. */
    expect_local_ms(DAY(2026, 3, 30), 0, UTC(2026, 3, 29, 23, 0));
    expect_local_ms(DAY(2026, 3, 30), 90, UTC(2026, 3, 30, 0, 30));
    expect_local_ms(DAY(2026, 3, 30), NINE_AM, UTC(2026, 3, 30, 8, 0));
}

static void
test_local_ms_london_fall_back(void **state)
{
    (void)state;

    use_zone("Europe/London");
    /* Saturday 24 October: BST all day. */
    expect_local_ms(DAY(2026, 10, 24), 90, UTC(2026, 10, 24, 0, 30));
    expect_local_ms(DAY(2026, 10, 24), NINE_AM, UTC(2026, 10, 24, 8, 0));
    /* Sunday 25 October: at 02:00 BST the clocks go back to 01:00 GMT. */
    expect_local_ms(DAY(2026, 10, 25), 0, UTC(2026, 10, 24, 23, 0));
    expect_local_ms(DAY(2026, 10, 25), 59, UTC(2026, 10, 24, 23, 59));
    expect_local_ms(DAY(2026, 10, 25), 60, UTC(2026, 10, 25, 0, 0));  /* first 01:00, BST */
    expect_local_ms(DAY(2026, 10, 25), 90, UTC(2026, 10, 25, 0, 30)); /* first 01:30, BST */
    expect_local_ms(DAY(2026, 10, 25), 119, UTC(2026, 10, 25, 0, 59));
    expect_local_ms(DAY(2026, 10, 25), 120, UTC(2026, 10, 25, 2, 0)); /* 02:00 GMT */
    expect_local_ms(DAY(2026, 10, 25), NINE_AM, UTC(2026, 10, 25, 9, 0));
    expect_local_ms(DAY(2026, 10, 25), 1439, UTC(2026, 10, 25, 23, 59));
    /* Monday 26 October: GMT all day. */
    expect_local_ms(DAY(2026, 10, 26), 0, UTC(2026, 10, 26, 0, 0));
    expect_local_ms(DAY(2026, 10, 26), 90, UTC(2026, 10, 26, 1, 30));
    expect_local_ms(DAY(2026, 10, 26), NINE_AM, UTC(2026, 10, 26, 9, 0));
}

/*
 * Zones whose changes are not a one-hour daylight-saving step: Lord Howe
 * Island moves by 30 minutes, and Samoa skipped the whole of 30 December 2011
 * while staying on "daylight" time on both sides of the change.
 */
static void
test_local_ms_other_zones(void **state)
{
    (void)state;

    use_zone("Australia/Lord_Howe");
    /* 4 October 2026: 02:00 +10:30 becomes 02:30 +11. */
    expect_local_ms(DAY(2026, 10, 4), 90, UTC(2026, 10, 3, 15, 0));
    expect_local_ms(DAY(2026, 10, 4), 135, UTC(2026, 10, 3, 15, 45)); /* 02:15 skipped: 02:45 */
    expect_local_ms(DAY(2026, 10, 4), 150, UTC(2026, 10, 3, 15, 30));
    expect_local_ms(DAY(2026, 10, 4), NINE_AM, UTC(2026, 10, 3, 22, 0));
    /* 5 April 2026: 02:00 +11 becomes 01:30 +10:30; 01:45 happens twice. */
    expect_local_ms(DAY(2026, 4, 5), 105, UTC(2026, 4, 4, 14, 45));
    expect_local_ms(DAY(2026, 4, 5), NINE_AM, UTC(2026, 4, 4, 22, 30));

    use_zone("Pacific/Apia");
    /* 23:59:59 on 29 December 2011 at -10 was followed by 00:00 on the 31st at +14. */
    expect_local_ms(DAY(2011, 12, 29), NINE_AM, UTC(2011, 12, 29, 19, 0));
    expect_local_ms(DAY(2011, 12, 30), NINE_AM, UTC(2011, 12, 30, 19, 0)); /* the 31st 09:00 */
    expect_local_ms(DAY(2011, 12, 31), NINE_AM, UTC(2011, 12, 30, 19, 0));
    assert_int_equal(schedule_local_day(UTC(2011, 12, 30, 9, 59) + 59999), DAY(2011, 12, 29));
    assert_int_equal(schedule_local_day(UTC(2011, 12, 30, 10, 0)), DAY(2011, 12, 31));

    use_zone("UTC");
    expect_local_ms(DAY(2026, 3, 29), 90, UTC(2026, 3, 29, 1, 30));
    expect_local_ms(DAY(1969, 12, 31), NINE_AM, UTC(1969, 12, 31, 9, 0));
    use_zone("Europe/London");
}

static void
test_local_day_london(void **state)
{
    (void)state;

    use_zone("Europe/London");
    /* Midnight in GMT. */
    assert_int_equal(schedule_local_day(UTC(2026, 1, 15, 0, 0)), DAY(2026, 1, 15));
    assert_int_equal(schedule_local_day(UTC(2026, 1, 15, 0, 0) - 1), DAY(2026, 1, 14));
    /* Midnight in BST is 23:00 UTC the day before. */
    assert_int_equal(schedule_local_day(UTC(2026, 6, 30, 23, 0)), DAY(2026, 7, 1));
    assert_int_equal(schedule_local_day(UTC(2026, 6, 30, 23, 0) - 1), DAY(2026, 6, 30));
    assert_int_equal(schedule_local_day(UTC(2026, 6, 30, 22, 30)), DAY(2026, 6, 30));
    assert_int_equal(schedule_local_day(UTC(2026, 7, 1, 0, 30)), DAY(2026, 7, 1));
    /* Around the spring change: Sunday 29 March is 23 hours long. */
    assert_int_equal(schedule_local_day(UTC(2026, 3, 28, 23, 59)), DAY(2026, 3, 28));
    assert_int_equal(schedule_local_day(UTC(2026, 3, 29, 0, 0)), DAY(2026, 3, 29));
    assert_int_equal(schedule_local_day(UTC(2026, 3, 29, 1, 30)), DAY(2026, 3, 29));
    assert_int_equal(schedule_local_day(UTC(2026, 3, 29, 23, 0) - 1), DAY(2026, 3, 29));
    assert_int_equal(schedule_local_day(UTC(2026, 3, 29, 23, 0)), DAY(2026, 3, 30));
    /* Around the autumn change: Sunday 25 October is 25 hours long. */
    assert_int_equal(schedule_local_day(UTC(2026, 10, 24, 23, 0) - 1), DAY(2026, 10, 24));
    assert_int_equal(schedule_local_day(UTC(2026, 10, 24, 23, 0)), DAY(2026, 10, 25));
    assert_int_equal(schedule_local_day(UTC(2026, 10, 25, 0, 30)), DAY(2026, 10, 25));
    assert_int_equal(schedule_local_day(UTC(2026, 10, 25, 1, 30)), DAY(2026, 10, 25));
    assert_int_equal(schedule_local_day(UTC(2026, 10, 26, 0, 0) - 1), DAY(2026, 10, 25));
    assert_int_equal(schedule_local_day(UTC(2026, 10, 26, 0, 0)), DAY(2026, 10, 26));
    /* Before 1970 (London kept UTC+1 all year from 1968 to 1971); milliseconds round down. */
    assert_int_equal(schedule_local_day(-3600001), DAY(1969, 12, 31));
    assert_int_equal(schedule_local_day(-3600000), DAY(1970, 1, 1));
    assert_int_equal(schedule_local_day(0), DAY(1970, 1, 1));
}

/*
 * Every day from 2020 to 2030 in London: each send time falls on its own
 * day, and days are 24 hours long but for one of 23 and one of 25 a year.
 */
static void
test_local_ms_round_trip_london(void **state)
{
    (void)state;
    static const int minutes[] = {0, 60, 90, 119, 120, NINE_AM, 1439};
    int short_days = 0;
    int long_days = 0;

    use_zone("Europe/London");
    for (int64_t day = DAY(2020, 1, 1); day <= DAY(2030, 12, 31); day++) {
        int64_t length = schedule_local_ms(day + 1, 0) - schedule_local_ms(day, 0);

        for (size_t i = 0; i < sizeof(minutes) / sizeof(minutes[0]); i++)
            assert_int_equal(schedule_local_day(schedule_local_ms(day, minutes[i])), day);
        if (length == 23 * 3600000)
            short_days++;
        else if (length == 25 * 3600000)
            long_days++;
        else
            assert_int_equal(length, 24 * 3600000);
    }
    assert_int_equal(short_days, 11);
    assert_int_equal(long_days, 11);
}

/* One obligation being followed through its actions. */
struct sequence {
    const struct kind *kind;
    const struct work_calendar *calendar;
    int64_t target;
    struct schedule_progress progress;
};

/*
 * Asks for the next action, checks it against the expected one, then records
 * it as sent the way the daemon will.
 */
static void
expect_next(struct sequence *sequence, const struct schedule_action *expected, int line)
{
    struct schedule_action got;

    memset(&got, 0x5a, sizeof(got));
    schedule_next(sequence->kind, sequence->calendar, sequence->target, &sequence->progress, &got);
    if (got.type != expected->type || got.index != expected->index || got.step != expected->step ||
        got.day != expected->day || got.at_ms != expected->at_ms ||
        got.lead_days != expected->lead_days || got.days_overdue != expected->days_overdue) {
        struct civil_date want, have;

        timefmt_civil_from_days(expected->day, &want);
        timefmt_civil_from_days(got.day, &have);
        fail_msg("line %d: expected type %d index %d step %d %04d-%02d-%02d at %lld lead %d "
                 "overdue %d; got type %d index %d step %d %04d-%02d-%02d at %lld lead %d "
                 "overdue %d",
                 line, expected->type, expected->index, expected->step, want.year, want.month,
                 want.day, (long long)expected->at_ms, expected->lead_days, expected->days_overdue,
                 got.type, got.index, got.step, have.year, have.month, have.day,
                 (long long)got.at_ms, got.lead_days, got.days_overdue);
    }
    if (got.type == SCHEDULE_REMINDER)
        sequence->progress.reminders_done |= 1u << got.index;
    else if (got.type == SCHEDULE_ESCALATION)
        sequence->progress.escalations_done = got.index + 1;
}

#define EXPECT_REMINDER(sequence, index, lead, day, at)                                            \
    expect_next((sequence),                                                                        \
                &(struct schedule_action){SCHEDULE_REMINDER, (index), 0, (day), (at), (lead), 0},  \
                __LINE__)
#define EXPECT_ESCALATION(sequence, n, step, day, at, overdue)                                     \
    expect_next(                                                                                   \
        (sequence),                                                                                \
        &(struct schedule_action){SCHEDULE_ESCALATION, (n), (step), (day), (at), 0, (overdue)},    \
        __LINE__)
#define EXPECT_NOTHING(sequence)                                                                   \
    expect_next((sequence), &(struct schedule_action){SCHEDULE_NONE, 0, 0, 0, 0, 0, 0}, __LINE__)

/* Due on Monday 15 June 2026: nothing moves until the summer bank holiday. */
static void
test_next_due_on_a_monday(void **state)
{
    (void)state;
    struct work_calendar calendar;
    int64_t closures[8];
    struct kind kind;
    struct sequence s = {&kind, &calendar, DAY(2026, 6, 15), {0, 0}};

    use_zone("Europe/London");
    england_2026(&calendar, closures);
    supervision(&kind);
    EXPECT_REMINDER(&s, 0, 14, DAY(2026, 6, 1), UTC(2026, 6, 1, 8, 0));
    EXPECT_REMINDER(&s, 1, 3, DAY(2026, 6, 12), UTC(2026, 6, 12, 8, 0));
    EXPECT_REMINDER(&s, 2, 0, DAY(2026, 6, 15), UTC(2026, 6, 15, 8, 0));
    assert_int_equal(s.progress.reminders_done, 7);
    EXPECT_ESCALATION(&s, 0, 0, DAY(2026, 6, 16), UTC(2026, 6, 16, 8, 0), 1);
    EXPECT_ESCALATION(&s, 1, 1, DAY(2026, 6, 22), UTC(2026, 6, 22, 8, 0), 7);
    EXPECT_ESCALATION(&s, 2, 2, DAY(2026, 6, 29), UTC(2026, 6, 29, 8, 0), 14);
    EXPECT_ESCALATION(&s, 3, 2, DAY(2026, 7, 6), UTC(2026, 7, 6, 8, 0), 21);
    EXPECT_ESCALATION(&s, 4, 2, DAY(2026, 7, 13), UTC(2026, 7, 13, 8, 0), 28);
    EXPECT_ESCALATION(&s, 5, 2, DAY(2026, 7, 20), UTC(2026, 7, 20, 8, 0), 35);
    EXPECT_ESCALATION(&s, 6, 2, DAY(2026, 7, 27), UTC(2026, 7, 27, 8, 0), 42);
    EXPECT_ESCALATION(&s, 7, 2, DAY(2026, 8, 3), UTC(2026, 8, 3, 8, 0), 49);
    EXPECT_ESCALATION(&s, 8, 2, DAY(2026, 8, 10), UTC(2026, 8, 10, 8, 0), 56);
    EXPECT_ESCALATION(&s, 9, 2, DAY(2026, 8, 17), UTC(2026, 8, 17, 8, 0), 63);
    EXPECT_ESCALATION(&s, 10, 2, DAY(2026, 8, 24), UTC(2026, 8, 24, 8, 0), 70);
    /* Monday 31 August is the summer bank holiday: the Friday before. */
    EXPECT_ESCALATION(&s, 11, 2, DAY(2026, 8, 28), UTC(2026, 8, 28, 8, 0), 74);
    EXPECT_ESCALATION(&s, 12, 2, DAY(2026, 9, 7), UTC(2026, 9, 7, 8, 0), 84);
    /* Across the autumn change: 09:00 BST, then 09:00 GMT. */
    s.progress.escalations_done = 18;
    EXPECT_ESCALATION(&s, 18, 2, DAY(2026, 10, 19), UTC(2026, 10, 19, 8, 0), 126);
    EXPECT_ESCALATION(&s, 19, 2, DAY(2026, 10, 26), UTC(2026, 10, 26, 9, 0), 133);
    assert_int_equal(s.progress.reminders_done, 7);
}

/* Due on Saturday 20 June 2026: reminders move back to Friday, escalations never onto the due date.
 */
static void
test_next_due_on_a_saturday(void **state)
{
    (void)state;
    struct work_calendar calendar;
    int64_t closures[8];
    struct kind kind;
    struct sequence s = {&kind, &calendar, DAY(2026, 6, 20), {0, 0}};

    use_zone("Europe/London");
    england_2026(&calendar, closures);
    supervision(&kind);
    EXPECT_REMINDER(&s, 0, 14, DAY(2026, 6, 5), UTC(2026, 6, 5, 8, 0));  /* Sat 6 -> Fri 5 */
    EXPECT_REMINDER(&s, 1, 3, DAY(2026, 6, 17), UTC(2026, 6, 17, 8, 0)); /* Wed */
    EXPECT_REMINDER(&s, 2, 0, DAY(2026, 6, 19), UTC(2026, 6, 19, 8, 0)); /* Sat 20 -> Fri 19 */
    /* Sun 21: the Friday before is before the due date, so Monday 22. */
    EXPECT_ESCALATION(&s, 0, 0, DAY(2026, 6, 22), UTC(2026, 6, 22, 8, 0), 2);
    EXPECT_ESCALATION(&s, 1, 1, DAY(2026, 6, 26), UTC(2026, 6, 26, 8, 0), 6);  /* Sat 27 */
    EXPECT_ESCALATION(&s, 2, 2, DAY(2026, 7, 3), UTC(2026, 7, 3, 8, 0), 13);   /* Sat 4 */
    EXPECT_ESCALATION(&s, 3, 2, DAY(2026, 7, 10), UTC(2026, 7, 10, 8, 0), 20); /* Sat 11 */
    EXPECT_ESCALATION(&s, 4, 2, DAY(2026, 7, 17), UTC(2026, 7, 17, 8, 0), 27); /* Sat 18 */
}

/*
 * Due on the early May bank holiday, Monday 4 May 2026: the "due today"
 * reminder moves back to Friday 1 May, where the 3-day reminder already is,
 * so only the later of the two goes out.
 */
static void
test_next_due_on_a_bank_holiday(void **state)
{
    (void)state;
    struct work_calendar calendar;
    int64_t closures[8];
    struct kind kind;
    struct sequence s = {&kind, &calendar, DAY(2026, 5, 4), {0, 0}};

    use_zone("Europe/London");
    england_2026(&calendar, closures);
    supervision(&kind);
    EXPECT_REMINDER(&s, 0, 14, DAY(2026, 4, 20), UTC(2026, 4, 20, 8, 0));
    assert_int_equal(s.progress.reminders_done, 1);
    EXPECT_REMINDER(&s, 2, 0, DAY(2026, 5, 1), UTC(2026, 5, 1, 8, 0));
    assert_int_equal(s.progress.reminders_done, 7); /* reminder 1 passed over */
    EXPECT_ESCALATION(&s, 0, 0, DAY(2026, 5, 5), UTC(2026, 5, 5, 8, 0), 1);
    EXPECT_ESCALATION(&s, 1, 1, DAY(2026, 5, 11), UTC(2026, 5, 11, 8, 0), 7);
    EXPECT_ESCALATION(&s, 2, 2, DAY(2026, 5, 18), UTC(2026, 5, 18, 8, 0), 14);
    /* Monday 25 May is the spring bank holiday. */
    EXPECT_ESCALATION(&s, 3, 2, DAY(2026, 5, 22), UTC(2026, 5, 22, 8, 0), 18);
    EXPECT_ESCALATION(&s, 4, 2, DAY(2026, 6, 1), UTC(2026, 6, 1, 8, 0), 28);
}

/*
 * Due on Thursday 2 April 2026, before Easter: the first escalation's day,
 * Good Friday, is closed and the working day before is the due date, so it
 * waits for Tuesday 7 April, after Easter Monday.
 */
static void
test_next_over_easter(void **state)
{
    (void)state;
    struct work_calendar calendar;
    int64_t closures[8];
    struct kind kind;
    struct sequence s = {&kind, &calendar, DAY(2026, 4, 2), {0, 0}};

    use_zone("Europe/London");
    england_2026(&calendar, closures);
    supervision(&kind);
    EXPECT_REMINDER(&s, 0, 14, DAY(2026, 3, 19), UTC(2026, 3, 19, 9, 0)); /* GMT */
    EXPECT_REMINDER(&s, 1, 3, DAY(2026, 3, 30), UTC(2026, 3, 30, 8, 0));  /* BST */
    EXPECT_REMINDER(&s, 2, 0, DAY(2026, 4, 2), UTC(2026, 4, 2, 8, 0));
    EXPECT_ESCALATION(&s, 0, 0, DAY(2026, 4, 7), UTC(2026, 4, 7, 8, 0), 5);
    EXPECT_ESCALATION(&s, 1, 1, DAY(2026, 4, 9), UTC(2026, 4, 9, 8, 0), 7);
    EXPECT_ESCALATION(&s, 2, 2, DAY(2026, 4, 16), UTC(2026, 4, 16, 8, 0), 14);
    EXPECT_ESCALATION(&s, 3, 2, DAY(2026, 4, 23), UTC(2026, 4, 23, 8, 0), 21);
}

/*
 * Due on Monday 30 March 2026, the day after the clocks go forward: the
 * reminders before it go at 09:00 GMT, the rest at 09:00 BST; the second
 * escalation's Easter Monday moves back to Thursday 2 April (after the due
 * date, so allowed).
 */
static void
test_next_across_spring_change(void **state)
{
    (void)state;
    struct work_calendar calendar;
    int64_t closures[8];
    struct kind kind;
    struct sequence s = {&kind, &calendar, DAY(2026, 3, 30), {0, 0}};

    use_zone("Europe/London");
    england_2026(&calendar, closures);
    supervision(&kind);
    EXPECT_REMINDER(&s, 0, 14, DAY(2026, 3, 16), UTC(2026, 3, 16, 9, 0));
    EXPECT_REMINDER(&s, 1, 3, DAY(2026, 3, 27), UTC(2026, 3, 27, 9, 0));
    EXPECT_REMINDER(&s, 2, 0, DAY(2026, 3, 30), UTC(2026, 3, 30, 8, 0));
    EXPECT_ESCALATION(&s, 0, 0, DAY(2026, 3, 31), UTC(2026, 3, 31, 8, 0), 1);
    EXPECT_ESCALATION(&s, 1, 1, DAY(2026, 4, 2), UTC(2026, 4, 2, 8, 0), 3);
    EXPECT_ESCALATION(&s, 2, 2, DAY(2026, 4, 13), UTC(2026, 4, 13, 8, 0), 14);
}

/* Due Monday 15 June 2026 with 5 days' grace: overdue from Saturday 20 June. */
static void
test_next_with_grace(void **state)
{
    (void)state;
    struct work_calendar calendar;
    int64_t closures[8];
    struct kind kind;
    struct sequence s = {&kind, &calendar, DAY(2026, 6, 15), {0, 0}};

    use_zone("Europe/London");
    england_2026(&calendar, closures);
    supervision(&kind);
    kind.grace_days = 5;
    EXPECT_REMINDER(&s, 0, 14, DAY(2026, 6, 1), UTC(2026, 6, 1, 8, 0));
    EXPECT_REMINDER(&s, 1, 3, DAY(2026, 6, 12), UTC(2026, 6, 12, 8, 0));
    EXPECT_REMINDER(&s, 2, 0, DAY(2026, 6, 15), UTC(2026, 6, 15, 8, 0));
    /* Sun 21: Fri 19 is within the grace period, so Mon 22. */
    EXPECT_ESCALATION(&s, 0, 0, DAY(2026, 6, 22), UTC(2026, 6, 22, 8, 0), 7);
    EXPECT_ESCALATION(&s, 1, 1, DAY(2026, 6, 26), UTC(2026, 6, 26, 8, 0), 11); /* Sat 27 */
    EXPECT_ESCALATION(&s, 2, 2, DAY(2026, 7, 3), UTC(2026, 7, 3, 8, 0), 18);   /* Sat 4 */
    EXPECT_ESCALATION(&s, 3, 2, DAY(2026, 7, 10), UTC(2026, 7, 10, 8, 0), 25); /* Sat 11 */

    /* With 4 days' grace it is overdue from Friday 19: an escalation may not go out on it. */
    kind.grace_days = 4;
    s.progress = (struct schedule_progress){7, 0};
    EXPECT_ESCALATION(&s, 0, 0, DAY(2026, 6, 22), UTC(2026, 6, 22, 8, 0), 7); /* Sat 20 */
    EXPECT_ESCALATION(&s, 1, 1, DAY(2026, 6, 26), UTC(2026, 6, 26, 8, 0), 11);
}

/* Reminders 2 and 1 days before Monday 15 June 2026 both fall on Friday 12 June. */
static void
test_next_reminders_on_one_day(void **state)
{
    (void)state;
    struct work_calendar calendar;
    int64_t closures[8];
    struct kind kind;
    struct sequence s = {&kind, &calendar, DAY(2026, 6, 15), {0, 0}};

    use_zone("Europe/London");
    england_2026(&calendar, closures);
    supervision(&kind);
    kind.reminder_count = 2;
    kind.reminders[0] = 2;
    kind.reminders[1] = 1;
    EXPECT_REMINDER(&s, 1, 1, DAY(2026, 6, 12), UTC(2026, 6, 12, 8, 0));
    assert_int_equal(s.progress.reminders_done, 3);
    EXPECT_ESCALATION(&s, 0, 0, DAY(2026, 6, 16), UTC(2026, 6, 16, 8, 0), 1);

    /* Three on one Friday (3, 2 and 1 days before), then the Monday one. */
    kind.reminder_count = 4;
    kind.reminders[0] = 3;
    kind.reminders[1] = 2;
    kind.reminders[2] = 1;
    kind.reminders[3] = 0;
    s.progress = (struct schedule_progress){0, 0};
    EXPECT_REMINDER(&s, 2, 1, DAY(2026, 6, 12), UTC(2026, 6, 12, 8, 0));
    assert_int_equal(s.progress.reminders_done, 7);
    EXPECT_REMINDER(&s, 3, 0, DAY(2026, 6, 15), UTC(2026, 6, 15, 8, 0));
    EXPECT_ESCALATION(&s, 0, 0, DAY(2026, 6, 16), UTC(2026, 6, 16, 8, 0), 1);

    /* A reminder already marked done does not hide the one before it. */
    s.progress = (struct schedule_progress){1u << 2, 0};
    EXPECT_REMINDER(&s, 1, 2, DAY(2026, 6, 12), UTC(2026, 6, 12, 8, 0));
    assert_int_equal(s.progress.reminders_done, 7);
}

/*
 * Due Wednesday 23 December 2026, escalations 1 and 2 days overdue, then
 * daily: Thursday 24 is the last working day until Tuesday 29, so the
 * escalations for the 24th to the 28th all land on the 24th and only the last
 * of them goes out.
 */
static void
test_next_escalations_on_one_day(void **state)
{
    (void)state;
    struct work_calendar calendar;
    int64_t closures[8];
    struct kind kind;
    struct sequence s = {&kind, &calendar, DAY(2026, 12, 23), {0, 0}};

    use_zone("Europe/London");
    england_2026(&calendar, closures);
    supervision(&kind);
    kind.reminder_count = 0;
    kind.escalation_count = 2;
    kind.escalations[0].after_days = 1;
    kind.escalations[1].after_days = 2;
    kind.repeat_days = 1;
    EXPECT_ESCALATION(&s, 4, 1, DAY(2026, 12, 24), UTC(2026, 12, 24, 9, 0), 1);
    EXPECT_ESCALATION(&s, 5, 1, DAY(2026, 12, 29), UTC(2026, 12, 29, 9, 0), 6);
    EXPECT_ESCALATION(&s, 6, 1, DAY(2026, 12, 30), UTC(2026, 12, 30, 9, 0), 7);
    EXPECT_ESCALATION(&s, 7, 1, DAY(2026, 12, 31), UTC(2026, 12, 31, 9, 0), 8);

    /* Without the repeat, step 1 on the 24th and then nothing. */
    kind.repeat_days = 0;
    s.progress = (struct schedule_progress){0, 0};
    EXPECT_ESCALATION(&s, 1, 1, DAY(2026, 12, 24), UTC(2026, 12, 24, 9, 0), 1);
    EXPECT_NOTHING(&s);
}

static void
test_next_without_a_ladder(void **state)
{
    (void)state;
    struct work_calendar calendar;
    int64_t closures[8];
    struct kind kind;
    struct sequence s = {&kind, &calendar, DAY(2026, 6, 15), {0, 0}};

    use_zone("Europe/London");
    england_2026(&calendar, closures);
    supervision(&kind);
    kind.reminder_count = 1;
    kind.reminders[0] = 7;
    kind.escalation_count = 0;
    kind.repeat_days = 7; /* a repeat of no ladder is nothing */
    EXPECT_REMINDER(&s, 0, 7, DAY(2026, 6, 8), UTC(2026, 6, 8, 8, 0));
    EXPECT_NOTHING(&s);
    EXPECT_NOTHING(&s);

    /* Neither reminders nor escalations. */
    kind.reminder_count = 0;
    s.progress = (struct schedule_progress){0, 0};
    EXPECT_NOTHING(&s);
    assert_int_equal(s.progress.reminders_done, 0);
    assert_int_equal(s.progress.escalations_done, 0);
}

static void
test_next_without_repeat_ends(void **state)
{
    (void)state;
    struct work_calendar calendar;
    int64_t closures[8];
    struct kind kind;
    struct sequence s = {&kind, &calendar, DAY(2026, 6, 15), {7, 0}};

    use_zone("Europe/London");
    england_2026(&calendar, closures);
    supervision(&kind);
    kind.repeat_days = 0;
    EXPECT_ESCALATION(&s, 0, 0, DAY(2026, 6, 16), UTC(2026, 6, 16, 8, 0), 1);
    EXPECT_ESCALATION(&s, 1, 1, DAY(2026, 6, 22), UTC(2026, 6, 22, 8, 0), 7);
    EXPECT_ESCALATION(&s, 2, 2, DAY(2026, 6, 29), UTC(2026, 6, 29, 8, 0), 14);
    EXPECT_NOTHING(&s);
    s.progress.escalations_done = 10;
    EXPECT_NOTHING(&s);
}

/* Once an escalation has gone out, reminders still pending are passed over. */
static void
test_next_reminders_after_an_escalation(void **state)
{
    (void)state;
    struct work_calendar calendar;
    int64_t closures[8];
    struct kind kind;
    struct sequence s = {&kind, &calendar, DAY(2026, 6, 15), {1, 1}};

    use_zone("Europe/London");
    england_2026(&calendar, closures);
    supervision(&kind);
    EXPECT_ESCALATION(&s, 1, 1, DAY(2026, 6, 22), UTC(2026, 6, 22, 8, 0), 7);
    assert_int_equal(s.progress.reminders_done, 7);
}

/* The send time comes from the calendar, on every action. */
static void
test_next_uses_send_minute(void **state)
{
    (void)state;
    struct work_calendar calendar;
    int64_t closures[8];
    struct kind kind;
    struct sequence s = {&kind, &calendar, DAY(2026, 10, 26), {0, 0}};

    use_zone("Europe/London");
    england_2026(&calendar, closures);
    calendar.send_minute = 8 * 60 + 30;
    supervision(&kind);
    EXPECT_REMINDER(&s, 0, 14, DAY(2026, 10, 12), UTC(2026, 10, 12, 7, 30)); /* BST */
    EXPECT_REMINDER(&s, 1, 3, DAY(2026, 10, 23), UTC(2026, 10, 23, 7, 30));  /* BST */
    EXPECT_REMINDER(&s, 2, 0, DAY(2026, 10, 26), UTC(2026, 10, 26, 8, 30));  /* GMT */
}

static void
expect_skip(const struct kind *kind, const struct work_calendar *calendar, int64_t target,
            int64_t now_ms, struct schedule_progress from, unsigned reminders_done,
            int escalations_done, int line)
{
    struct schedule_progress progress = from;

    schedule_skip_passed(kind, calendar, target, now_ms, &progress);
    if (progress.reminders_done != reminders_done || progress.escalations_done != escalations_done)
        fail_msg("line %d: expected reminders_done %#x escalations_done %d, got %#x and %d", line,
                 reminders_done, escalations_done, progress.reminders_done,
                 progress.escalations_done);
}

#define EXPECT_SKIP(kind, calendar, target, now, from_reminders, from_escalations, reminders,      \
                    escalations)                                                                   \
    expect_skip((kind), (calendar), (target), (now),                                               \
                (struct schedule_progress){(from_reminders), (from_escalations)}, (reminders),     \
                (escalations), __LINE__)

/*
 * Recorded on Monday 15 June 2026 at 10:00 BST, due Wednesday 17: the 14-day
 * reminder (Wed 3 June) and the 3-day one (Sun 14, so Fri 12) have passed;
 * only the later goes out.
 */
static void
test_skip_passed_two_days_before(void **state)
{
    (void)state;
    struct work_calendar calendar;
    int64_t closures[8];
    struct kind kind;
    struct sequence s = {&kind, &calendar, DAY(2026, 6, 17), {0, 0}};

    use_zone("Europe/London");
    england_2026(&calendar, closures);
    supervision(&kind);
    schedule_skip_passed(&kind, &calendar, s.target, UTC(2026, 6, 15, 9, 0), &s.progress);
    assert_int_equal(s.progress.reminders_done, 1);
    assert_int_equal(s.progress.escalations_done, 0);
    EXPECT_REMINDER(&s, 1, 3, DAY(2026, 6, 12), UTC(2026, 6, 12, 8, 0));
    EXPECT_REMINDER(&s, 2, 0, DAY(2026, 6, 17), UTC(2026, 6, 17, 8, 0));

    /* Recorded well ahead: nothing is passed over. */
    EXPECT_SKIP(&kind, &calendar, DAY(2026, 6, 17), UTC(2026, 1, 5, 12, 0), 0, 0, 0, 0);
    /* Exactly at the 14-day reminder's moment: it has passed, and it is the latest. */
    EXPECT_SKIP(&kind, &calendar, DAY(2026, 6, 17), UTC(2026, 6, 3, 8, 0), 0, 0, 0, 0);
}

/* Recorded on the due date, Monday 15 June 2026, around 09:00 BST (08:00 UTC). */
static void
test_skip_passed_on_the_due_day(void **state)
{
    (void)state;
    struct work_calendar calendar;
    int64_t closures[8];
    struct kind kind;
    struct sequence s = {&kind, &calendar, DAY(2026, 6, 15), {0, 0}};

    use_zone("Europe/London");
    england_2026(&calendar, closures);
    supervision(&kind);
    schedule_skip_passed(&kind, &calendar, s.target, UTC(2026, 6, 15, 8, 0), &s.progress);
    assert_int_equal(s.progress.reminders_done, 3);
    assert_int_equal(s.progress.escalations_done, 0);
    EXPECT_REMINDER(&s, 2, 0, DAY(2026, 6, 15), UTC(2026, 6, 15, 8, 0));
    EXPECT_ESCALATION(&s, 0, 0, DAY(2026, 6, 16), UTC(2026, 6, 16, 8, 0), 1);

    /*
     * A millisecond before 09:00 the due-day reminder is still to come, later
     * today: the passed 3-day one is not sent at once as well.
     */
    EXPECT_SKIP(&kind, &calendar, DAY(2026, 6, 15), UTC(2026, 6, 15, 8, 0) - 1, 0, 0, 3, 0);
    /* The evening before, the 3-day reminder is the one kept (the next is tomorrow). */
    EXPECT_SKIP(&kind, &calendar, DAY(2026, 6, 15), UTC(2026, 6, 14, 19, 0), 0, 0, 1, 0);
    /* Already done stays done. */
    EXPECT_SKIP(&kind, &calendar, DAY(2026, 6, 15), UTC(2026, 6, 15, 8, 0), 4, 0, 7, 0);
}

/* Due Monday 15 June 2026, recorded on Sunday 5 July: 20 days overdue. */
static void
test_skip_passed_twenty_days_overdue(void **state)
{
    (void)state;
    struct work_calendar calendar;
    int64_t closures[8];
    struct kind kind;
    struct sequence s = {&kind, &calendar, DAY(2026, 6, 15), {0, 0}};

    use_zone("Europe/London");
    england_2026(&calendar, closures);
    supervision(&kind);
    schedule_skip_passed(&kind, &calendar, s.target, UTC(2026, 7, 5, 11, 0), &s.progress);
    assert_int_equal(s.progress.reminders_done, 7);
    assert_int_equal(s.progress.escalations_done, 2);
    EXPECT_ESCALATION(&s, 2, 2, DAY(2026, 6, 29), UTC(2026, 6, 29, 8, 0), 14);
    EXPECT_ESCALATION(&s, 3, 2, DAY(2026, 7, 6), UTC(2026, 7, 6, 8, 0), 21);

    /* The first repeat, Monday 6 July 09:00 BST, and a millisecond before it. */
    EXPECT_SKIP(&kind, &calendar, DAY(2026, 6, 15), UTC(2026, 7, 6, 8, 0), 0, 0, 7, 3);
    /* Just before: the 29 June step would go at once, but the repeat goes later today. */
    EXPECT_SKIP(&kind, &calendar, DAY(2026, 6, 15), UTC(2026, 7, 6, 8, 0) - 1, 0, 0, 7, 3);
    /* The evening before, the 29 June step is the one kept. */
    EXPECT_SKIP(&kind, &calendar, DAY(2026, 6, 15), UTC(2026, 7, 5, 19, 0), 0, 0, 7, 2);
    /* The first escalation only: Tuesday 16 June. */
    EXPECT_SKIP(&kind, &calendar, DAY(2026, 6, 15), UTC(2026, 6, 16, 12, 0), 0, 0, 7, 0);
    /* Saturday 25 July: repeats on 6, 13 and 20 July have passed. */
    EXPECT_SKIP(&kind, &calendar, DAY(2026, 6, 15), UTC(2026, 7, 25, 12, 0), 0, 0, 7, 5);
    /* Progress is never undone. */
    EXPECT_SKIP(&kind, &calendar, DAY(2026, 6, 15), UTC(2026, 7, 5, 11, 0), 7, 5, 7, 5);
    /* Without a repeat the ladder's last step is as far as it goes. */
    kind.repeat_days = 0;
    EXPECT_SKIP(&kind, &calendar, DAY(2026, 6, 15), UTC(2026, 7, 25, 12, 0), 0, 0, 7, 2);
    /* Without a ladder the due-day reminder is kept. */
    kind.escalation_count = 0;
    EXPECT_SKIP(&kind, &calendar, DAY(2026, 6, 15), UTC(2026, 7, 25, 12, 0), 0, 0, 3, 0);
}

/*
 * Due Monday 1 January 2024, imported on Monday 15 June 2026 at 13:00 BST.
 * The ladder ends on Monday 15 January 2024; 15 June 2026 is 882 days (126
 * weeks) later, so its repeat is escalation 2 + 126 = 128, 896 days overdue.
 * The 2026 bank holidays move some earlier repeats but add none.
 */
static void
test_skip_passed_years_overdue(void **state)
{
    (void)state;
    struct work_calendar calendar;
    int64_t closures[8];
    struct kind kind;
    struct sequence s = {&kind, &calendar, DAY(2024, 1, 1), {0, 0}};

    use_zone("Europe/London");
    england_2026(&calendar, closures);
    supervision(&kind);
    schedule_skip_passed(&kind, &calendar, s.target, UTC(2026, 6, 15, 12, 0), &s.progress);
    assert_int_equal(s.progress.reminders_done, 7);
    assert_int_equal(s.progress.escalations_done, 128);
    EXPECT_ESCALATION(&s, 128, 2, DAY(2026, 6, 15), UTC(2026, 6, 15, 8, 0), 896);
    EXPECT_ESCALATION(&s, 129, 2, DAY(2026, 6, 22), UTC(2026, 6, 22, 8, 0), 903);
    /* Easter Monday 2026, 116 weeks after 15 January 2024, is closed (Good Friday too): Thu 2. */
    s.progress.escalations_done = 118;
    EXPECT_ESCALATION(&s, 118, 2, DAY(2026, 4, 2), UTC(2026, 4, 2, 8, 0), 822);
}

static void
test_mark_done(void **state)
{
    struct schedule_progress progress = {0, 0};
    struct schedule_action reminder = {.type = SCHEDULE_REMINDER, .index = 2};
    struct schedule_action escalation = {.type = SCHEDULE_ESCALATION, .index = 4};
    struct schedule_action none = {.type = SCHEDULE_NONE, .index = 7};

    (void)state;
    schedule_mark_done(&progress, &reminder);
    assert_int_equal(progress.reminders_done, 4); /* bit 2 */
    schedule_mark_done(&progress, &escalation);
    assert_int_equal(progress.escalations_done, 5); /* 0 .. 4 went out */
    schedule_mark_done(&progress, &none);
    assert_int_equal(progress.reminders_done, 4);
    assert_int_equal(progress.escalations_done, 5);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_period_days_and_weeks),
        cmocka_unit_test(test_add_period_months_keep_or_clamp_the_day),
        cmocka_unit_test(test_add_period_years_and_leap_days),
        cmocka_unit_test(test_weekday),
        cmocka_unit_test(test_working_days_and_closures),
        cmocka_unit_test(test_working_day_on_or_before_and_after),
        cmocka_unit_test(test_local_ms_london_spring_forward),
        cmocka_unit_test(test_local_ms_london_fall_back),
        cmocka_unit_test(test_local_ms_other_zones),
        cmocka_unit_test(test_local_day_london),
        cmocka_unit_test(test_local_ms_round_trip_london),
        cmocka_unit_test(test_next_due_on_a_monday),
        cmocka_unit_test(test_next_due_on_a_saturday),
        cmocka_unit_test(test_next_due_on_a_bank_holiday),
        cmocka_unit_test(test_next_over_easter),
        cmocka_unit_test(test_next_across_spring_change),
        cmocka_unit_test(test_next_with_grace),
        cmocka_unit_test(test_next_reminders_on_one_day),
        cmocka_unit_test(test_next_escalations_on_one_day),
        cmocka_unit_test(test_next_without_a_ladder),
        cmocka_unit_test(test_next_without_repeat_ends),
        cmocka_unit_test(test_next_reminders_after_an_escalation),
        cmocka_unit_test(test_next_uses_send_minute),
        cmocka_unit_test(test_skip_passed_two_days_before),
        cmocka_unit_test(test_skip_passed_on_the_due_day),
        cmocka_unit_test(test_skip_passed_twenty_days_overdue),
        cmocka_unit_test(test_skip_passed_years_overdue),
        cmocka_unit_test(test_mark_done),
    };

    use_zone("Europe/London");
    return cmocka_run_group_tests_name("schedule", tests, NULL, NULL);
}

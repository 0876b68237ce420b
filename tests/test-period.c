/*
 * Unit tests of daemon/period: the first day, the next and previous period,
 * the last day and the label of days, weeks (starting on each weekday),
 * months, quarters and years, and reading labels back.
 *
 * Expected days are written as dates (checked with `cal` and
 * `date -d DATE +%a`).  The sweeps check every day of 1890 to 2110 against
 * facts computed independently of the module: the weekday by Sakamoto's
 * method, the first day of a month from the civil date.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "period.h"
#include "timefmt.h"

#define DAY(y, m, d) timefmt_days_from_civil((y), (m), (d))

static const char *const weekday_names[7] = {"Monday", "Tuesday",  "Wednesday", "Thursday",
                                             "Friday", "Saturday", "Sunday"};

/* The weekday (0 Monday ... 6 Sunday) of a date of year 0 or later, by Sakamoto's method. */
static int
weekday_of(int year, int month, int day)
{
    static const int month_offsets[12] = {0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4};
    int y = (month < 3 ? year - 1 : year) + 400; /* the same weekdays 400 years on */
    int sunday_first = (y + y / 4 - y / 100 + y / 400 + month_offsets[month - 1] + day) % 7;

    return (sunday_first + 6) % 7;
}

static int
weekday_of_day(int64_t day)
{
    struct civil_date date;

    timefmt_civil_from_days(day, &date);
    return weekday_of(date.year, date.month, date.day);
}

static void
assert_label(enum period_type type, int64_t start, const char *expected)
{
    char label[PERIOD_LABEL_SIZE];

    period_label(type, start, label, sizeof(label));
    assert_string_equal(label, expected);
}

/* start, next, previous, end and label of the period of type (weeks: from Monday) holding day. */
static void
assert_period(enum period_type type, int64_t day, int64_t start, int64_t next, int64_t previous,
              const char *label)
{
    assert_int_equal(period_start(type, 0, day), start);
    assert_int_equal(period_next(type, start), next);
    assert_int_equal(period_previous(type, 0, start), previous);
    assert_int_equal(period_end(type, start), next - 1);
    assert_label(type, start, label);
}

static void
test_type_names(void **state)
{
    (void)state;
    static const char *const names[PERIOD_TYPE_COUNT] = {"day", "week", "month", "quarter", "year"};

    for (int type = 0; type < PERIOD_TYPE_COUNT; type++) {
        assert_string_equal(period_type_name((enum period_type)type), names[type]);
        assert_int_equal(period_type_parse(names[type]), type);
    }
    assert_null(period_type_name((enum period_type)PERIOD_TYPE_COUNT));
    assert_int_equal(period_type_parse("Day"), -1);
    assert_int_equal(period_type_parse("days"), -1);
    assert_int_equal(period_type_parse("weekly"), -1);
    assert_int_equal(period_type_parse(""), -1);
    assert_int_equal(period_type_parse(NULL), -1);
}

static void
test_days_around_a_year_end(void **state)
{
    (void)state;
    assert_period(PERIOD_DAY, DAY(2026, 12, 31), DAY(2026, 12, 31), DAY(2027, 1, 1),
                  DAY(2026, 12, 30), "2026-12-31");
    assert_period(PERIOD_DAY, DAY(2027, 1, 1), DAY(2027, 1, 1), DAY(2027, 1, 2), DAY(2026, 12, 31),
                  "2027-01-01");
    assert_period(PERIOD_DAY, DAY(2024, 2, 29), DAY(2024, 2, 29), DAY(2024, 3, 1), DAY(2024, 2, 28),
                  "2024-02-29");
    assert_period(PERIOD_DAY, 0, 0, 1, -1, "1970-01-01");
    assert_period(PERIOD_DAY, -1, -1, 0, -2, "1969-12-31");
}

static void
test_weeks_from_monday(void **state)
{
    (void)state;
    /* 2026-11-22 is a Sunday: its Monday week began on the 16th. */
    assert_period(PERIOD_WEEK, DAY(2026, 11, 22), DAY(2026, 11, 16), DAY(2026, 11, 23),
                  DAY(2026, 11, 9), "2026-11-16");
    assert_period(PERIOD_WEEK, DAY(2026, 11, 16), DAY(2026, 11, 16), DAY(2026, 11, 23),
                  DAY(2026, 11, 9), "2026-11-16");
    /* A week across a year end: Thursday 2026-12-31 is in the week of Monday the 28th. */
    assert_period(PERIOD_WEEK, DAY(2027, 1, 3), DAY(2026, 12, 28), DAY(2027, 1, 4),
                  DAY(2026, 12, 21), "2026-12-28");
    /* Day 0, Thursday 1970-01-01, is in the week of Monday 1969-12-29. */
    assert_period(PERIOD_WEEK, 0, DAY(1969, 12, 29), DAY(1970, 1, 5), DAY(1969, 12, 22),
                  "1969-12-29");
    assert_int_equal(DAY(1969, 12, 29), -3);
}

static void
test_weeks_from_each_weekday(void **state)
{
    (void)state;
    /* Sunday 2026-11-22 lies in the week that began on the last such weekday. */
    static const int expected_day[7] = {16, 17, 18, 19, 20, 21, 22};

    for (int week_start = 0; week_start < 7; week_start++) {
        int64_t start = period_start(PERIOD_WEEK, week_start, DAY(2026, 11, 22));
        assert_int_equal(start, DAY(2026, 11, expected_day[week_start]));
        assert_int_equal(period_previous(PERIOD_WEEK, week_start, start), start - 7);
        assert_int_equal(period_next(PERIOD_WEEK, start), start + 7);
        assert_int_equal(period_end(PERIOD_WEEK, start), start + 6);
    }
    /* Weeks starting on Sunday, across the 1969/1970 year end (negative days). */
    assert_int_equal(period_start(PERIOD_WEEK, 6, DAY(1970, 1, 3)), DAY(1969, 12, 28));
    assert_int_equal(period_start(PERIOD_WEEK, 6, DAY(1970, 1, 4)), DAY(1970, 1, 4));
    assert_int_equal(period_start(PERIOD_WEEK, 3, 0), 0);
    assert_int_equal(period_start(PERIOD_WEEK, 4, 0), -6);
    /* week_start is read modulo 7: 7 is Monday again, -1 Sunday. */
    assert_int_equal(period_start(PERIOD_WEEK, 7, DAY(2026, 11, 22)), DAY(2026, 11, 16));
    assert_int_equal(period_start(PERIOD_WEEK, -1, DAY(2026, 11, 21)), DAY(2026, 11, 15));
}

static void
test_months_and_leap_years(void **state)
{
    (void)state;
    assert_period(PERIOD_MONTH, DAY(2024, 2, 29), DAY(2024, 2, 1), DAY(2024, 3, 1), DAY(2024, 1, 1),
                  "2024-02");
    assert_int_equal(period_end(PERIOD_MONTH, DAY(2024, 2, 1)), DAY(2024, 2, 29));
    assert_int_equal(period_end(PERIOD_MONTH, DAY(2023, 2, 1)), DAY(2023, 2, 28));
    /* 2100 is not a leap year (divisible by 100), 2000 is (by 400). */
    assert_int_equal(period_end(PERIOD_MONTH, DAY(2100, 2, 1)), DAY(2100, 2, 28));
    assert_int_equal(period_end(PERIOD_MONTH, DAY(2000, 2, 1)), DAY(2000, 2, 29));
    assert_int_equal(period_end(PERIOD_YEAR, DAY(2100, 1, 1)) - DAY(2100, 1, 1) + 1, 365);
    assert_int_equal(period_end(PERIOD_YEAR, DAY(2000, 1, 1)) - DAY(2000, 1, 1) + 1, 366);
    assert_period(PERIOD_MONTH, DAY(2026, 12, 31), DAY(2026, 12, 1), DAY(2027, 1, 1),
                  DAY(2026, 11, 1), "2026-12");
    assert_period(PERIOD_MONTH, DAY(2027, 1, 1), DAY(2027, 1, 1), DAY(2027, 2, 1), DAY(2026, 12, 1),
                  "2027-01");
    assert_period(PERIOD_MONTH, -1, DAY(1969, 12, 1), 0, DAY(1969, 11, 1), "1969-12");
    assert_period(PERIOD_MONTH, 0, 0, DAY(1970, 2, 1), DAY(1969, 12, 1), "1970-01");
}

static void
test_quarter_boundaries(void **state)
{
    (void)state;
    static const char *const labels[4] = {"2026-Q1", "2026-Q2", "2026-Q3", "2026-Q4"};

    for (int quarter = 0; quarter < 4; quarter++) {
        int first_month = quarter * 3 + 1;
        int64_t start = DAY(2026, first_month, 1);
        int64_t next = quarter == 3 ? DAY(2027, 1, 1) : DAY(2026, first_month + 3, 1);
        int64_t previous = quarter == 0 ? DAY(2025, 10, 1) : DAY(2026, first_month - 3, 1);

        /* The first day, the last day and a middle day of the quarter. */
        assert_period(PERIOD_QUARTER, start, start, next, previous, labels[quarter]);
        assert_period(PERIOD_QUARTER, next - 1, start, next, previous, labels[quarter]);
        assert_period(PERIOD_QUARTER, DAY(2026, first_month + 1, 15), start, next, previous,
                      labels[quarter]);
    }
    assert_int_equal(period_end(PERIOD_QUARTER, DAY(2026, 1, 1)), DAY(2026, 3, 31));
    assert_int_equal(period_end(PERIOD_QUARTER, DAY(2024, 1, 1)) - DAY(2024, 1, 1) + 1, 91);
    assert_int_equal(period_end(PERIOD_QUARTER, DAY(2026, 1, 1)) - DAY(2026, 1, 1) + 1, 90);
    assert_period(PERIOD_QUARTER, -1, DAY(1969, 10, 1), 0, DAY(1969, 7, 1), "1969-Q4");
}

static void
test_years(void **state)
{
    (void)state;
    assert_period(PERIOD_YEAR, DAY(2026, 11, 22), DAY(2026, 1, 1), DAY(2027, 1, 1), DAY(2025, 1, 1),
                  "2026");
    assert_period(PERIOD_YEAR, DAY(2026, 12, 31), DAY(2026, 1, 1), DAY(2027, 1, 1), DAY(2025, 1, 1),
                  "2026");
    assert_period(PERIOD_YEAR, -1, -365, 0, DAY(1968, 1, 1), "1969");
    assert_period(PERIOD_YEAR, DAY(1968, 2, 29), DAY(1968, 1, 1), -365, DAY(1967, 1, 1), "1968");
    assert_period(PERIOD_YEAR, DAY(2000, 12, 31), DAY(2000, 1, 1), DAY(2001, 1, 1), DAY(1999, 1, 1),
                  "2000");
}

/* Checks the period of type holding day against what is known of it independently. */
static void
check_period_holding(enum period_type type, int week_start, int64_t day)
{
    int64_t start = period_start(type, week_start, day);
    int64_t next = period_next(type, start);
    struct civil_date date, start_date;
    char label[PERIOD_LABEL_SIZE];
    int64_t parsed = INT64_MIN;

    if (start > day || day >= next)
        fail_msg("%s of day %lld: %lld .. %lld", period_type_name(type), (long long)day,
                 (long long)start, (long long)next);
    assert_int_equal(period_start(type, week_start, start), start);
    assert_int_equal(period_start(type, week_start, next), next);
    assert_int_equal(period_start(type, week_start, next - 1), start);
    assert_int_equal(period_previous(type, week_start, next), start);
    assert_int_equal(period_end(type, start), next - 1);

    timefmt_civil_from_days(day, &date);
    timefmt_civil_from_days(start, &start_date);
    switch (type) {
    case PERIOD_DAY:
        assert_int_equal(start, day);
        break;
    case PERIOD_WEEK:
        assert_int_equal(next - start, 7);
        if (weekday_of(start_date.year, start_date.month, start_date.day) != week_start)
            fail_msg("week of %04d-%02d-%02d from %s starts on a %s", date.year, date.month,
                     date.day, weekday_names[week_start], weekday_names[weekday_of_day(start)]);
        break;
    case PERIOD_MONTH:
        assert_int_equal(start_date.year, date.year);
        assert_int_equal(start_date.month, date.month);
        assert_int_equal(start_date.day, 1);
        assert_int_equal(next - start, timefmt_days_in_month(date.year, date.month));
        break;
    case PERIOD_QUARTER:
        assert_int_equal(start_date.year, date.year);
        assert_int_equal(start_date.month, (date.month - 1) / 3 * 3 + 1);
        assert_int_equal(start_date.day, 1);
        break;
    case PERIOD_YEAR:
        assert_int_equal(start_date.year, date.year);
        assert_int_equal(start_date.month, 1);
        assert_int_equal(start_date.day, 1);
        assert_int_equal(next - start, timefmt_is_leap(date.year) ? 366 : 365);
        break;
    }

    /* The label reads back to the start, and so does the day itself written as a date. */
    period_label(type, start, label, sizeof(label));
    assert_int_equal(period_parse_label(type, week_start, label, &parsed), 0);
    assert_int_equal(parsed, start);
    snprintf(label, sizeof(label), "%04d-%02d-%02d", date.year, date.month, date.day);
    parsed = INT64_MIN;
    assert_int_equal(period_parse_label(type, week_start, label, &parsed), 0);
    assert_int_equal(parsed, start);
}

/* Every day of 1890 to 2110 (1900 and 2100 not leap years, 2000 one; days before 1970). */
static void
test_every_day_of_two_centuries(void **state)
{
    (void)state;
    for (int64_t day = DAY(1890, 1, 1); day <= DAY(2110, 12, 31); day++) {
        for (int type = 0; type < PERIOD_TYPE_COUNT; type++)
            if (type != PERIOD_WEEK)
                check_period_holding((enum period_type)type, 0, day);
        for (int week_start = 0; week_start < 7; week_start++)
            check_period_holding(PERIOD_WEEK, week_start, day);
    }
}

/* Labels of every four-digit year read back: a sample of days from 0000 to 9999. */
static void
test_labels_of_four_digit_years(void **state)
{
    (void)state;
    /* From February: a week of January 0000 may begin in the year -1, written "-001-12-27". */
    for (int64_t day = DAY(0, 2, 1); day <= DAY(9999, 12, 31); day += 37) {
        for (int type = 0; type < PERIOD_TYPE_COUNT; type++)
            if (type != PERIOD_WEEK)
                check_period_holding((enum period_type)type, 0, day);
        check_period_holding(PERIOD_WEEK, (int)(day % 7 + 7) % 7, day);
    }
    assert_label(PERIOD_DAY, DAY(0, 3, 1), "0000-03-01");
    assert_label(PERIOD_QUARTER, DAY(9999, 12, 31), "9999-Q4");
    assert_label(PERIOD_YEAR, DAY(476, 9, 4), "0476");
}

static void
test_parse_labels(void **state)
{
    (void)state;
    int64_t start = 0;

    assert_int_equal(period_parse_label(PERIOD_DAY, 0, "2026-11-22", &start), 0);
    assert_int_equal(start, DAY(2026, 11, 22));
    assert_int_equal(period_parse_label(PERIOD_WEEK, 0, "2026-11-22", &start), 0);
    assert_int_equal(start, DAY(2026, 11, 16));
    assert_int_equal(period_parse_label(PERIOD_WEEK, 6, "2026-11-22", &start), 0);
    assert_int_equal(start, DAY(2026, 11, 22));
    assert_int_equal(period_parse_label(PERIOD_MONTH, 0, "2026-11", &start), 0);
    assert_int_equal(start, DAY(2026, 11, 1));
    assert_int_equal(period_parse_label(PERIOD_MONTH, 0, "2024-02-29", &start), 0);
    assert_int_equal(start, DAY(2024, 2, 1));
    assert_int_equal(period_parse_label(PERIOD_QUARTER, 0, "2026-Q4", &start), 0);
    assert_int_equal(start, DAY(2026, 10, 1));
    assert_int_equal(period_parse_label(PERIOD_QUARTER, 0, "2026-Q1", &start), 0);
    assert_int_equal(start, DAY(2026, 1, 1));
    assert_int_equal(period_parse_label(PERIOD_QUARTER, 0, "2026-06-30", &start), 0);
    assert_int_equal(start, DAY(2026, 4, 1));
    assert_int_equal(period_parse_label(PERIOD_YEAR, 0, "2026", &start), 0);
    assert_int_equal(start, DAY(2026, 1, 1));
    assert_int_equal(period_parse_label(PERIOD_YEAR, 0, "1969-12-31", &start), 0);
    assert_int_equal(start, -365);
    assert_int_equal(period_parse_label(PERIOD_DAY, 0, "2000-02-29", &start), 0);
    assert_int_equal(start, DAY(2000, 2, 29));
}

static void
test_parse_rejects(void **state)
{
    (void)state;
    /* Not a label of any type. */
    static const char *const never[] = {
        "",
        "2026-02-30",
        "2023-02-29",
        "2100-02-29",
        "2026-04-31",
        "2026-13",
        "2026-00",
        "2026-11-00",
        "2026-11-32",
        "2026-Q0",
        "2026-Q5",
        "2026-Q",
        "2026-q4",
        "2026-Q4x",
        "2026-Q44",
        "2026-11-22x",
        "2026-11-22 ",
        " 2026",
        "2026 ",
        "26-11-22",
        "2026-1-5",
        "2026-11-2",
        "2026/11/22",
        "2026-11-",
        "2026-",
        "+026",
        "-026",
        "20266",
        "2026-11-22T00:00",
        "202",
        "2026-11-220",
        "x",
        "2026-W47",
        "2026--11",
        "2026-+1",
        "2026-Q+1",
    };
    /* Labels of another type. */
    static const struct {
        enum period_type type;
        const char *text;
    } wrong_type[] = {
        {PERIOD_DAY, "2026"},        {PERIOD_DAY, "2026-11"},   {PERIOD_DAY, "2026-Q4"},
        {PERIOD_WEEK, "2026"},       {PERIOD_WEEK, "2026-11"},  {PERIOD_WEEK, "2026-Q4"},
        {PERIOD_MONTH, "2026"},      {PERIOD_MONTH, "2026-Q4"}, {PERIOD_QUARTER, "2026"},
        {PERIOD_QUARTER, "2026-11"}, {PERIOD_YEAR, "2026-11"},  {PERIOD_YEAR, "2026-Q4"},
    };

    for (size_t i = 0; i < sizeof(never) / sizeof(never[0]); i++) {
        for (int type = 0; type < PERIOD_TYPE_COUNT; type++) {
            int64_t start = 12345;
            int r = period_parse_label((enum period_type)type, 0, never[i], &start);
            if (r != -EINVAL)
                fail_msg("%s label \"%s\" read: %d", period_type_name((enum period_type)type),
                         never[i], r);
            assert_int_equal(start, 12345);
        }
    }
    for (size_t i = 0; i < sizeof(wrong_type) / sizeof(wrong_type[0]); i++) {
        int64_t start = 12345;
        if (period_parse_label(wrong_type[i].type, 0, wrong_type[i].text, &start) != -EINVAL)
            fail_msg("%s label \"%s\" read", period_type_name(wrong_type[i].type),
                     wrong_type[i].text);
        assert_int_equal(start, 12345);
    }
    int64_t start = 12345;
    assert_int_equal(period_parse_label(PERIOD_DAY, 0, NULL, &start), -EINVAL);
    assert_int_equal(period_parse_label((enum period_type)PERIOD_TYPE_COUNT, 0, "2026", &start),
                     -EINVAL);
    assert_int_equal(start, 12345);
}

/* A buffer shorter than PERIOD_LABEL_SIZE gets a cut, terminated label. */
static void
test_label_in_a_short_buffer(void **state)
{
    (void)state;
    char buf[8];

    memset(buf, 'x', sizeof(buf));
    period_label(PERIOD_DAY, DAY(2026, 11, 22), buf, 5);
    assert_string_equal(buf, "2026");
    assert_int_equal(buf[5], 'x');
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_type_names),
        cmocka_unit_test(test_days_around_a_year_end),
        cmocka_unit_test(test_weeks_from_monday),
        cmocka_unit_test(test_weeks_from_each_weekday),
        cmocka_unit_test(test_months_and_leap_years),
        cmocka_unit_test(test_quarter_boundaries),
        cmocka_unit_test(test_years),
        cmocka_unit_test(test_every_day_of_two_centuries),
        cmocka_unit_test(test_labels_of_four_digit_years),
        cmocka_unit_test(test_parse_labels),
        cmocka_unit_test(test_parse_rejects),
        cmocka_unit_test(test_label_in_a_short_buffer),
    };

    return cmocka_run_group_tests_name("period", tests, NULL, NULL);
}

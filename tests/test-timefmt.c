/*
 * Unit tests of common/timefmt: calendar arithmetic, date and RFC 3339
 * parsing, and RFC 3339 formatting.  Expected instants were computed
 * independently with `date -u -d TEXT +%s`.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "timefmt.h"

#define MS(seconds) ((int64_t)(seconds)*1000)

/* Walks every day from 1900-01-01 to 2200-12-31: consecutive days, and back again. */
static void
test_days_round_trip_1900_to_2200(void **state)
{
    (void)state;
    int64_t expected = timefmt_days_from_civil(1900, 1, 1);
    int64_t count = 0;

    assert_int_equal(expected, -25567); /* 1900-01-01 is 25567 days before the epoch */
    for (int year = 1900; year <= 2200; year++) {
        for (int month = 1; month <= 12; month++) {
            int last = timefmt_days_in_month(year, month);
            for (int day = 1; day <= last; day++) {
                struct civil_date date = {0, 0, 0};
                int64_t days = timefmt_days_from_civil(year, month, day);

                assert_int_equal(days, expected);
                timefmt_civil_from_days(days, &date);
                assert_int_equal(date.year, year);
                assert_int_equal(date.month, month);
                assert_int_equal(date.day, day);
                expected++;
                count++;
            }
        }
    }
    /* 301 years of which 73 are leap years (1900, 2100 and 2200 are not). */
    assert_int_equal(count, 301 * 365 + 73);
}

static void
test_days_known_anchors(void **state)
{
    (void)state;
    struct civil_date date;

    assert_int_equal(timefmt_days_from_civil(1970, 1, 1), 0);
    assert_int_equal(timefmt_days_from_civil(1969, 12, 31), -1);
    assert_int_equal(timefmt_days_from_civil(2000, 3, 1), 11017);
    assert_int_equal(timefmt_days_from_civil(2024, 2, 29), 1709208000 / 86400);
    assert_int_equal(timefmt_days_from_civil(9999, 12, 31), 253402300799 / 86400);
    timefmt_civil_from_days(-1, &date);
    assert_int_equal(date.year, 1969);
    assert_int_equal(date.month, 12);
    assert_int_equal(date.day, 31);
    timefmt_civil_from_days(253402300799 / 86400, &date);
    assert_int_equal(date.year, 9999);
    assert_int_equal(date.month, 12);
    assert_int_equal(date.day, 31);
}

static void
test_leap_years(void **state)
{
    (void)state;

    assert_false(timefmt_is_leap(1900));
    assert_true(timefmt_is_leap(2000));
    assert_true(timefmt_is_leap(2024));
    assert_false(timefmt_is_leap(2023));
    assert_false(timefmt_is_leap(2100));
    assert_true(timefmt_is_leap(2400));

    assert_int_equal(timefmt_days_in_month(1900, 2), 28);
    assert_int_equal(timefmt_days_in_month(2000, 2), 29);
    assert_int_equal(timefmt_days_in_month(2024, 2), 29);
    assert_int_equal(timefmt_days_in_month(2023, 2), 28);
    assert_int_equal(timefmt_days_in_month(2024, 1), 31);
    assert_int_equal(timefmt_days_in_month(2024, 4), 30);
    assert_int_equal(timefmt_days_in_month(2024, 12), 31);
    assert_int_equal(timefmt_days_in_month(2024, 0), 0);
    assert_int_equal(timefmt_days_in_month(2024, 13), 0);
}

static void
expect_date(const char *text, int year, int month, int day)
{
    struct civil_date date = {0, 0, 0};

    if (timefmt_parse_date(text, &date) != 0)
        fail_msg("\"%s\" was refused", text);
    assert_int_equal(date.year, year);
    assert_int_equal(date.month, month);
    assert_int_equal(date.day, day);
}

static void
test_parse_date_accepts_real_dates(void **state)
{
    (void)state;

    expect_date("2024-02-29", 2024, 2, 29);
    expect_date("2000-02-29", 2000, 2, 29);
    expect_date("2024-04-30", 2024, 4, 30);
    expect_date("2024-12-31", 2024, 12, 31);
    expect_date("1900-01-01", 1900, 1, 1);
    expect_date("9999-12-31", 9999, 12, 31);
    expect_date("2026-03-09", 2026, 3, 9);
}

static void
test_parse_date_rejects(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "2023-02-29",           /* not a leap year */
        "1900-02-29",           /* century, not a leap year */
        "2024-04-31",           /* April has 30 days */
        "2024-13-01",           /* no month 13 */
        "2024-00-10",           /* no month 0 */
        "2024-01-00",           /* no day 0 */
        "2024-01-32",           /* no day 32 */
        "2024-1-01",            /* month not two digits */
        "2024-01-1",            /* day not two digits */
        "24-01-01",             /* year not four digits */
        "1899-12-31",           /* before 1900 */
        "2024-01-01x",          /* trailing garbage */
        "2024-01-01 ",          /* trailing space */
        "2024-01-01T00:00:00Z", /* a timestamp, not a date */
        " 2024-01-01",          /* leading space */
        "2024/01/01",           /* wrong separator */
        "20240101",             /* no separators */
        "2024-0a-01",           /* not a digit */
        "-024-01-01",           /* sign */
        "",                     /* empty */
    };
    struct civil_date date;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int r = timefmt_parse_date(bad[i], &date);
        if (r != -EINVAL)
            fail_msg("\"%s\" gave %d, expected -EINVAL", bad[i], r);
    }
    assert_int_equal(timefmt_parse_date(NULL, &date), -EINVAL);
}

static void
expect_instant(const char *text, int64_t unix_ms)
{
    int64_t value = 0;
    int r = timefmt_parse_rfc3339(text, &value);

    if (r != 0)
        fail_msg("\"%s\" was refused (%d)", text, r);
    if (value != unix_ms)
        fail_msg("\"%s\" gave %lld, expected %lld", text, (long long)value, (long long)unix_ms);
}

static void
test_parse_rfc3339_utc(void **state)
{
    (void)state;

    expect_instant("1970-01-01T00:00:00Z", 0);
    expect_instant("2026-03-29T01:30:00Z", MS(1774747800));
    expect_instant("2024-02-29T12:00:00Z", MS(1709208000));
    expect_instant("1900-01-01T00:00:00Z", MS(-2208988800));
    expect_instant("9999-12-31T23:59:59Z", MS(253402300799));
    /* Lowercase separators and a space instead of T (RFC 3339, section 5.6 NOTE). */
    expect_instant("2026-03-29t01:30:00z", MS(1774747800));
    expect_instant("2026-03-29 01:30:00Z", MS(1774747800));
}

static void
test_parse_rfc3339_offsets(void **state)
{
    (void)state;

    expect_instant("2026-03-29T02:30:00+01:00", MS(1774747800));
    expect_instant("2026-03-29T02:30:00.250+01:00", MS(1774747800) + 250);
    expect_instant("2024-01-01T00:00:00-05:30", MS(1704087000));
    expect_instant("2024-01-01T05:30:00+00:00", MS(1704087000));
    expect_instant("2024-01-01T05:30:00-00:00", MS(1704087000));
    /* An offset that crosses midnight and a month boundary. */
    expect_instant("2024-03-01T01:00:00+02:00", MS(1709208000) + MS(11 * 3600));
    expect_instant("2024-02-29T23:00:00-12:00", MS(1709208000) + MS(23 * 3600));
}

static void
test_parse_rfc3339_fractions(void **state)
{
    (void)state;
    const int64_t base = MS(1774747800);

    expect_instant("2026-03-29T01:30:00.1Z", base + 100);
    expect_instant("2026-03-29T01:30:00.12Z", base + 120);
    expect_instant("2026-03-29T01:30:00.123Z", base + 123);
    expect_instant("2026-03-29T01:30:00.1234Z", base + 123);
    expect_instant("2026-03-29T01:30:00.12345Z", base + 123);
    expect_instant("2026-03-29T01:30:00.123456Z", base + 123);
    expect_instant("2026-03-29T01:30:00.1234567Z", base + 123);
    expect_instant("2026-03-29T01:30:00.12345678Z", base + 123);
    expect_instant("2026-03-29T01:30:00.123456789Z", base + 123);
    expect_instant("2026-03-29T01:30:00.999999999Z", base + 999);
    expect_instant("2026-03-29T01:30:00.000Z", base);
    expect_instant("2026-03-29T01:30:00.05-01:00", base + MS(3600) + 50);
}

static void
test_parse_rfc3339_leap_second(void **state)
{
    (void)state;
    const int64_t last_second = MS(1483228799); /* 2016-12-31T23:59:59Z */

    expect_instant("2016-12-31T23:59:60Z", last_second + 999);
    expect_instant("2016-12-31T23:59:60.5Z", last_second + 999);
    expect_instant("2017-01-01T00:59:60+01:00", last_second + 999);
}

static void
test_parse_rfc3339_rejects(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "2026-03-29T01:30:00",        /* no offset */
        "2026-03-29T24:00:00Z",       /* hour 24 */
        "2026-03-29T01:60:00Z",       /* minute 60 */
        "2026-03-29T01:30:61Z",       /* second 61 */
        "2026-03-29T1:30:00Z",        /* one-digit hour */
        "2026-03-29T01:3:00Z",        /* one-digit minute */
        "2026-03-29T01:30Z",          /* no seconds */
        "2026-03-29T01:30:00+24:00",  /* offset hour 24 */
        "2026-03-29T01:30:00+01:60",  /* offset minute 60 */
        "2026-03-29T01:30:00+0100",   /* offset without colon */
        "2026-03-29T01:30:00+01",     /* offset without minutes */
        "2026-03-29T01:30:00+1:00",   /* one-digit offset hour */
        "2026-03-29T01:30:00 +01:00", /* space before offset */
        "2026-03-29T01:30:00.Z",      /* fraction without digits */
        "2026-03-29T01:30:00,5Z",     /* comma fraction */
        "2026-03-29T01:30:00ZZ",      /* trailing garbage */
        "2026-03-29T01:30:00Z ",      /* trailing space */
        "2026-03-29T01:30:00+01:00x", /* trailing garbage after an offset */
        "2026-03-29_01:30:00Z",       /* wrong separator */
        "2026-03-2901:30:00Z",        /* no separator */
        "2023-02-29T00:00:00Z",       /* impossible date */
        "2024-04-31T00:00:00Z",       /* impossible date */
        "2026-03-29",                 /* a date alone */
        "2026-03-29T",                /* a date and nothing */
        "",                           /* empty */
    };
    int64_t value;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int r = timefmt_parse_rfc3339(bad[i], &value);
        if (r != -EINVAL)
            fail_msg("\"%s\" gave %d, expected -EINVAL", bad[i], r);
    }
    assert_int_equal(timefmt_parse_rfc3339(NULL, &value), -EINVAL);
}

static void
expect_format(int64_t unix_ms, const char *text)
{
    char buf[64];

    memset(buf, 'x', sizeof(buf));
    assert_int_equal(timefmt_format_rfc3339(unix_ms, buf, sizeof(buf)), 0);
    assert_string_equal(buf, text);
}

static void
test_format_rfc3339_known(void **state)
{
    (void)state;

    expect_format(0, "1970-01-01T00:00:00.000Z");
    expect_format(MS(1774747800) + 250, "2026-03-29T01:30:00.250Z");
    expect_format(MS(1709208000) + 1, "2024-02-29T12:00:00.001Z");
    expect_format(-1, "1969-12-31T23:59:59.999Z");
    expect_format(-1000, "1969-12-31T23:59:59.000Z");
    expect_format(-1001, "1969-12-31T23:59:58.999Z");
    expect_format(MS(-2208988800), "1900-01-01T00:00:00.000Z");
    expect_format(MS(253402300799) + 999, "9999-12-31T23:59:59.999Z");
}

/* Every day from 1900 to 2200, at a time of day that changes from day to day. */
static void
test_format_parse_round_trip(void **state)
{
    (void)state;
    int64_t first = timefmt_days_from_civil(1900, 1, 1);
    int64_t last = timefmt_days_from_civil(2200, 12, 31);
    char buf[25];

    for (int64_t day = first; day <= last; day++) {
        int64_t unix_ms = day * 86400000 + (day - first) * 7919 % 86400000;
        int64_t parsed = 0;

        assert_int_equal(timefmt_format_rfc3339(unix_ms, buf, sizeof(buf)), 0);
        assert_int_equal(strlen(buf), 24);
        if (timefmt_parse_rfc3339(buf, &parsed) != 0)
            fail_msg("formatted \"%s\" does not parse", buf);
        if (parsed != unix_ms)
            fail_msg("\"%s\": %lld became %lld", buf, (long long)unix_ms, (long long)parsed);
    }
}

static void
test_format_rfc3339_no_space(void **state)
{
    (void)state;
    char buf[25];

    memset(buf, 'x', sizeof(buf));
    assert_int_equal(timefmt_format_rfc3339(0, buf, 24), -ENOSPC);
    assert_int_equal(timefmt_format_rfc3339(0, buf, 0), -ENOSPC);
    assert_int_equal(buf[0], 'x'); /* nothing written when refused */
    assert_int_equal(timefmt_format_rfc3339(0, buf, 25), 0);
    assert_string_equal(buf, "1970-01-01T00:00:00.000Z");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_days_round_trip_1900_to_2200),
        cmocka_unit_test(test_days_known_anchors),
        cmocka_unit_test(test_leap_years),
        cmocka_unit_test(test_parse_date_accepts_real_dates),
        cmocka_unit_test(test_parse_date_rejects),
        cmocka_unit_test(test_parse_rfc3339_utc),
        cmocka_unit_test(test_parse_rfc3339_offsets),
        cmocka_unit_test(test_parse_rfc3339_fractions),
        cmocka_unit_test(test_parse_rfc3339_leap_second),
        cmocka_unit_test(test_parse_rfc3339_rejects),
        cmocka_unit_test(test_format_rfc3339_known),
        cmocka_unit_test(test_format_parse_round_trip),
        cmocka_unit_test(test_format_rfc3339_no_space),
    };

    return cmocka_run_group_tests_name("timefmt", tests, NULL, NULL);
}

#include "period.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "timefmt.h"

static const char *const type_names[PERIOD_TYPE_COUNT] = {"day", "week", "month", "quarter",
                                                          "year"};

const char *
period_type_name(enum period_type type)
{
    if ((unsigned)type >= PERIOD_TYPE_COUNT)
        return NULL;
    return type_names[type];
}

int
period_type_parse(const char *name)
{
    if (name == NULL)
        return -1;
    for (int type = 0; type < PERIOD_TYPE_COUNT; type++)
        if (strcmp(name, type_names[type]) == 0)
            return type;
    return -1;
}

/* a mod 7 in 0..6, also for negative a (C's % keeps the sign of a). */
static int64_t
floor_mod7(int64_t a)
{
    int64_t r = a % 7;

    return r < 0 ? r + 7 : r;
}

/* 0 Monday ... 6 Sunday.  Day 0, 1970-01-01, was a Thursday (3). */
static int64_t
weekday(int64_t day)
{
    return floor_mod7(day + 3);
}

/* The first month (1, 4, 7 or 10) of the quarter holding month. */
static int
quarter_first_month(int month)
{
    return (month - 1) / 3 * 3 + 1;
}

int64_t
period_start(enum period_type type, int week_start, int64_t day)
{
    struct civil_date date;

    switch (type) {
    case PERIOD_DAY:
        return day;
    case PERIOD_WEEK:
        return day - floor_mod7(weekday(day) - week_start);
    case PERIOD_MONTH:
        timefmt_civil_from_days(day, &date);
        return timefmt_days_from_civil(date.year, date.month, 1);
    case PERIOD_QUARTER:
        timefmt_civil_from_days(day, &date);
        return timefmt_days_from_civil(date.year, quarter_first_month(date.month), 1);
    case PERIOD_YEAR:
        timefmt_civil_from_days(day, &date);
        return timefmt_days_from_civil(date.year, 1, 1);
    }
    return day;
}

/* The first day of the month months after the month holding day. */
static int64_t
month_after(int64_t day, int months)
{
    struct civil_date date;

    timefmt_civil_from_days(day, &date);
    int month0 = date.month - 1 + months; /* months counted from January of date.year */
    return timefmt_days_from_civil(date.year + month0 / 12, month0 % 12 + 1, 1);
}

int64_t
period_next(enum period_type type, int64_t start)
{
    switch (type) {
    case PERIOD_DAY:
        return start + 1;
    case PERIOD_WEEK:
        return start + 7;
    case PERIOD_MONTH:
        return month_after(start, 1);
    case PERIOD_QUARTER:
        return month_after(start, 3);
    case PERIOD_YEAR:
        return month_after(start, 12);
    }
    return start + 1;
}

int64_t
period_previous(enum period_type type, int week_start, int64_t start)
{
    return period_start(type, week_start, start - 1);
}

int64_t
period_end(enum period_type type, int64_t start)
{
    return period_next(type, start) - 1;
}

void
period_label(enum period_type type, int64_t start, char *buf, size_t size)
{
    struct civil_date date;

    timefmt_civil_from_days(start, &date);
    switch (type) {
    case PERIOD_DAY:
    case PERIOD_WEEK:
        snprintf(buf, size, "%04d-%02d-%02d", date.year, date.month, date.day);
        return;
    case PERIOD_MONTH:
        snprintf(buf, size, "%04d-%02d", date.year, date.month);
        return;
    case PERIOD_QUARTER:
        snprintf(buf, size, "%04d-Q%d", date.year, (date.month - 1) / 3 + 1);
        return;
    case PERIOD_YEAR:
        snprintf(buf, size, "%04d", date.year);
        return;
    }
    snprintf(buf, size, "?");
}

/*
 * The pieces of a label: "YYYY", "YYYY-MM", "YYYY-Qn" or "YYYY-MM-DD", with
 * the fields a label does not have left 0.  Years are 0000 to 9999, so that
 * every label period_label() writes for such a year reads back (unlike
 * timefmt_parse_date(), which starts at 1900).
 */
struct label_fields {
    int year, quarter, month, day;
};

static int
split_label(const char *text, struct label_fields *out)
{
    const char *p = text;

    *out = (struct label_fields){0};
    out->year = timefmt_read_digits(&p, 4);
    if (out->year < 0)
        return -EINVAL;
    if (*p == '\0')
        return 0;
    if (*p++ != '-')
        return -EINVAL;
    if (*p == 'Q') {
        p++;
        out->quarter = timefmt_read_digits(&p, 1);
        if (out->quarter < 1 || out->quarter > 4 || *p != '\0')
            return -EINVAL;
        return 0;
    }
    out->month = timefmt_read_digits(&p, 2);
    if (out->month < 1 || out->month > 12)
        return -EINVAL;
    if (*p == '\0')
        return 0;
    if (*p++ != '-')
        return -EINVAL;
    out->day = timefmt_read_digits(&p, 2);
    if (out->day < 1 || out->day > timefmt_days_in_month(out->year, out->month) || *p != '\0')
        return -EINVAL;
    return 0;
}

int
period_parse_label(enum period_type type, int week_start, const char *text, int64_t *start)
{
    struct label_fields fields;

    if (text == NULL || (unsigned)type >= PERIOD_TYPE_COUNT || split_label(text, &fields) < 0)
        return -EINVAL;
    if (fields.day != 0) {
        /* A full date names the period of any type that holds it. */
        *start = period_start(type, week_start,
                              timefmt_days_from_civil(fields.year, fields.month, fields.day));
        return 0;
    }
    if (type == PERIOD_MONTH && fields.month != 0) {
        *start = timefmt_days_from_civil(fields.year, fields.month, 1);
        return 0;
    }
    if (type == PERIOD_QUARTER && fields.quarter != 0) {
        *start = timefmt_days_from_civil(fields.year, (fields.quarter - 1) * 3 + 1, 1);
        return 0;
    }
    if (type == PERIOD_YEAR && fields.month == 0 && fields.quarter == 0) {
        *start = timefmt_days_from_civil(fields.year, 1, 1);
        return 0;
    }
    return -EINVAL;
}

#include "timefmt.h"

#include <errno.h>
#include <stdio.h>

bool
timefmt_is_leap(int year)
{
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

int
timefmt_days_in_month(int year, int month)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

    if (month < 1 || month > 12)
        return 0;
    if (month == 2 && timefmt_is_leap(year))
        return 29;
    return days[month - 1];
}

/*
 * Howard Hinnant's days-from-civil algorithm: shift the year to start in
 * March so that the leap day falls at the end, then count whole 400-year eras.
 */
int64_t
timefmt_days_from_civil(int year, int month, int day)
{
    int64_t y = (int64_t)year - (month <= 2);
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t year_of_era = y - era * 400;
    int64_t shifted_month = month > 2 ? month - 3 : month + 9;
    int64_t day_of_year = (153 * shifted_month + 2) / 5 + day - 1;
    int64_t day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;

    return era * 146097 + day_of_era - 719468;
}

void
timefmt_civil_from_days(int64_t days, struct civil_date *out)
{
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t day_of_era = z - era * 146097;
    int64_t year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
    int64_t day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    int64_t shifted_month = (5 * day_of_year + 2) / 153;
    int64_t month = shifted_month < 10 ? shifted_month + 3 : shifted_month - 9;

    out->day = (int)(day_of_year - (153 * shifted_month + 2) / 5 + 1);
    out->month = (int)month;
    out->year = (int)(year_of_era + era * 400 + (month <= 2));
}

int
timefmt_read_digits(const char **p, int n)
{
    int value = 0;

    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9')
            return -1;
        value = value * 10 + (c - '0');
    }
    *p += n;
    return value;
}

/* Parses YYYY-MM-DD at *p, advancing it past the date. */
static int
parse_date_at(const char **p, struct civil_date *out)
{
    int year = timefmt_read_digits(p, 4);
    if (year < 1900 || **p != '-')
        return -EINVAL;
    (*p)++;
    int month = timefmt_read_digits(p, 2);
    if (month < 1 || month > 12 || **p != '-')
        return -EINVAL;
    (*p)++;
    int day = timefmt_read_digits(p, 2);
    if (day < 1 || day > timefmt_days_in_month(year, month))
        return -EINVAL;
    out->year = year;
    out->month = month;
    out->day = day;
    return 0;
}

int
timefmt_parse_date(const char *text, struct civil_date *out)
{
    const char *p = text;
    struct civil_date date;

    if (text == NULL || parse_date_at(&p, &date) < 0 || *p != '\0')
        return -EINVAL;
    *out = date;
    return 0;
}

int
timefmt_parse_rfc3339(const char *text, int64_t *unix_ms)
{
    const char *p = text;
    struct civil_date date;
    int millis = 0;
    int offset_minutes = 0;

    if (text == NULL || parse_date_at(&p, &date) < 0)
        return -EINVAL;
    if (*p != 'T' && *p != 't' && *p != ' ')
        return -EINVAL;
    p++;
    int hour = timefmt_read_digits(&p, 2);
    if (hour < 0 || hour > 23 || *p++ != ':')
        return -EINVAL;
    int minute = timefmt_read_digits(&p, 2);
    if (minute < 0 || minute > 59 || *p++ != ':')
        return -EINVAL;
    int second = timefmt_read_digits(&p, 2);
    if (second < 0 || second > 60)
        return -EINVAL;
    if (*p == '.') {
        p++;
        int digits = 0;
        while (*p >= '0' && *p <= '9') {
            if (digits < 3)
                millis = millis * 10 + (*p - '0');
            digits++;
            p++;
        }
        if (digits == 0)
            return -EINVAL;
        for (; digits < 3; digits++)
            millis *= 10;
    }
    if (second == 60) {
        second = 59;
        millis = 999;
    }
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1;
        p++;
        int off_hour = timefmt_read_digits(&p, 2);
        if (off_hour < 0 || off_hour > 23 || *p++ != ':')
            return -EINVAL;
        int off_minute = timefmt_read_digits(&p, 2);
        if (off_minute < 0 || off_minute > 59)
            return -EINVAL;
        offset_minutes = sign * (off_hour * 60 + off_minute);
    } else {
        return -EINVAL;
    }
    if (*p != '\0')
        return -EINVAL;

    int64_t days = timefmt_days_from_civil(date.year, date.month, date.day);
    int64_t seconds = days * 86400 + hour * 3600 + minute * 60 + second - offset_minutes * 60;
    *unix_ms = seconds * 1000 + millis;
    return 0;
}

int
timefmt_format_rfc3339(int64_t unix_ms, char *buf, size_t size)
{
    int64_t seconds = unix_ms >= 0 ? unix_ms / 1000 : (unix_ms - 999) / 1000;
    int millis = (int)(unix_ms - seconds * 1000);
    int64_t days = seconds >= 0 ? seconds / 86400 : (seconds - 86399) / 86400;
    int second_of_day = (int)(seconds - days * 86400);
    struct civil_date date;

    if (size < 25)
        return -ENOSPC;
    timefmt_civil_from_days(days, &date);
    snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", date.year % 10000, date.month,
             date.day, second_of_day / 3600, second_of_day / 60 % 60, second_of_day % 60, millis);
    return 0;
}

void
timefmt_format_day_long(int64_t day, char *buf, size_t size)
{
    static const char *const weekdays[] = {"Monday", "Tuesday",  "Wednesday", "Thursday",
                                           "Friday", "Saturday", "Sunday"};
    static const char *const months[] = {"January",   "February", "March",    "April",
                                         "May",       "June",     "July",     "August",
                                         "September", "October",  "November", "December"};
    struct civil_date date;
    /* 1970-01-01 was a Thursday (3, counting Monday as 0). */
    int weekday = (int)(((day % 7) + 7 + 3) % 7);

    timefmt_civil_from_days(day, &date);
    snprintf(buf, size, "%s %d %s %d", weekdays[weekday], date.day, months[date.month - 1],
             date.year);
}

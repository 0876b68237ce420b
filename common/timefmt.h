/*
 * timefmt: calendar dates and RFC 3339 timestamps, as pure functions.
 *
 * Shared by the daemon and the clients.  Nothing here reads the clock, the
 * environment or the time-zone database: every function maps its arguments
 * to its result, so each is unit-tested exhaustively.
 */
#ifndef CAREHUB_TIMEFMT_H
#define CAREHUB_TIMEFMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A date on the proleptic Gregorian calendar, month and day counted from 1. */
struct civil_date {
    int year;
    int month;
    int day;
};

/* True when year is a Gregorian leap year. */
bool timefmt_is_leap(int year);

/* Days in the month (28 to 31); 0 when month is not 1 to 12. */
int timefmt_days_in_month(int year, int month);

/* Days since 1970-01-01 of the given date; the date is not checked. */
int64_t timefmt_days_from_civil(int year, int month, int day);

/* The inverse of timefmt_days_from_civil(). */
void timefmt_civil_from_days(int64_t days, struct civil_date *out);

/* Reads exactly n decimal digits at *p, advancing past them; -1 (and *p unmoved) if one is not a
 * digit. */
int timefmt_read_digits(const char **p, int n);

/*
 * Parses a calendar date written exactly as YYYY-MM-DD (years 1900 to 9999)
 * into *out.  Returns 0, or -EINVAL when the text is not of that form or names
 * a day that does not exist (2023-02-29, 2024-04-31).
 */
int timefmt_parse_date(const char *text, struct civil_date *out);

/*
 * Parses an RFC 3339 date-time ("2026-03-29T01:30:00Z",
 * "2026-03-29T02:30:00.250+01:00") into milliseconds since the Unix epoch.
 * Fractions beyond milliseconds are truncated; a leap second (:60) is read as
 * the last millisecond of its minute.  Returns 0, or -EINVAL when the text is
 * not RFC 3339 or names an impossible date or time.
 */
int timefmt_parse_rfc3339(const char *text, int64_t *unix_ms);

/*
 * Writes unix_ms as an RFC 3339 UTC timestamp with milliseconds
 * ("2026-11-21T22:10:24.000Z") into buf.  Returns 0, or -ENOSPC when buf is
 * shorter than 25 bytes.
 */
int timefmt_format_rfc3339(int64_t unix_ms, char *buf, size_t size);

/*
 * Writes a day (days since 1970-01-01) the way people write it in a letter,
 * "Monday 9 March 2026", into buf of size bytes (cut short when too small).
 */
void timefmt_format_day_long(int64_t day, char *buf, size_t size);

#endif

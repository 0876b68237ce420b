/*
 * period: the calendar periods KPIs are kept for (day, week, month, quarter,
 * year), as pure functions over local days.
 *
 * A local day is a whole number of days since 1970-01-01 in the
 * organisation's time zone (as in schedule.h).  A period is named by its type
 * and its first day; it runs to the day before the next period's first day.
 * Weeks start on the configured day (0 Monday ... 6 Sunday); months,
 * quarters and years are the calendar's.
 *
 * Labels, as the API and carehubctl show them:
 *   day      2026-11-22
 *   week     2026-11-16       (the week's first day: weeks need not start on Monday)
 *   month    2026-11
 *   quarter  2026-Q4
 *   year     2026
 *
 * Everything here is calendar arithmetic on the proleptic Gregorian calendar
 * (timefmt.h): no clock, no time zone.  Days before 1970 are negative.  The
 * functions are exact for any day of the years -1,000,000 to 1,000,000 and
 * nothing checks that range; labels read back (period_parse_label) for the
 * years 0000 to 9999, the years they are written with four digits.
 *
 * week_start is read modulo 7, so a value outside 0 to 6 names a weekday
 * rather than being an error: checking it is the configuration's job.
 */
#ifndef CAREHUB_PERIOD_H
#define CAREHUB_PERIOD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum period_type { PERIOD_DAY, PERIOD_WEEK, PERIOD_MONTH, PERIOD_QUARTER, PERIOD_YEAR };

#define PERIOD_TYPE_COUNT 5
#define PERIOD_LABEL_SIZE 16

/* "day", "week", "month", "quarter", "year" (static strings); NULL for any other value. */
const char *period_type_name(enum period_type type);

/* The type named name (exactly, in lower case), or -1 for any other name or NULL. */
int period_type_parse(const char *name);

/* The first day of the period of this type that holds day. */
int64_t period_start(enum period_type type, int week_start, int64_t day);

/*
 * The first day of the period after the one starting on start.  start must be
 * a period's first day: for a week, next is simply start + 7; for a month,
 * quarter or year any day of it gives the next one's first day.
 */
int64_t period_next(enum period_type type, int64_t start);

/* The first day of the period before the one starting on start (the one holding start - 1). */
int64_t period_previous(enum period_type type, int week_start, int64_t start);

/* The period's last day: period_next(type, start) - 1. */
int64_t period_end(enum period_type type, int64_t start);

/*
 * Writes the period's label (see above) into buf, of size bytes: with
 * PERIOD_LABEL_SIZE it is never cut short.  Years outside 0 to 9999 are
 * written as printf's "%04d" writes them ("-001", "10000").
 */
void period_label(enum period_type type, int64_t start, char *buf, size_t size);

/*
 * Reads a label of the given type back into its first day: a day
 * "YYYY-MM-DD" (for a week: any day of it), "YYYY-MM", "YYYY-Qn" (n 1 to 4)
 * or "YYYY".  For a month, quarter or year a full date "YYYY-MM-DD" is also
 * read, as the period that holds it.  Years are 0000 to 9999.  Returns 0, or
 * -EINVAL when text is not such a label (a day that does not exist such as
 * 2026-02-30, another type's label, anything after the label, an empty
 * string, NULL); *start is then unchanged.
 */
int period_parse_label(enum period_type type, int week_start, const char *text, int64_t *start);

#endif

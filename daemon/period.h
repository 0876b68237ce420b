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
 */
#ifndef CAREHUB_PERIOD_H
#define CAREHUB_PERIOD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum period_type { PERIOD_DAY, PERIOD_WEEK, PERIOD_MONTH, PERIOD_QUARTER, PERIOD_YEAR };

#define PERIOD_TYPE_COUNT 5
#define PERIOD_LABEL_SIZE 16

/* "day", "week", "month", "quarter", "year". */
const char *period_type_name(enum period_type type);

/* The type named name, or -1. */
int period_type_parse(const char *name);

/* The first day of the period of this type that holds day. */
int64_t period_start(enum period_type type, int week_start, int64_t day);

/* The first day of the period after the one starting on start (start must be a period's first day). */
int64_t period_next(enum period_type type, int64_t start);

/* The first day of the period before the one starting on start. */
int64_t period_previous(enum period_type type, int week_start, int64_t start);

/* The period's last day. */
int64_t period_end(enum period_type type, int64_t start);

/* Writes the period's label (see above) into buf, which holds PERIOD_LABEL_SIZE bytes. */
void period_label(enum period_type type, int64_t start, char *buf, size_t size);

/*
 * Reads a label of the given type back into its first day: a day
 * "YYYY-MM-DD" (for a week: any day of it), "YYYY-MM", "YYYY-Qn" or "YYYY".
 * Returns 0, or -EINVAL when text is not such a label.
 */
int period_parse_label(enum period_type type, int week_start, const char *text, int64_t *start);

#endif

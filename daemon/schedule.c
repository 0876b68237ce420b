#include "schedule.h"

#include <limits.h>
#include <stdio.h>
#include <time.h>

#include "timefmt.h"

#define SECONDS_PER_DAY 86400

/* How far the working-day searches look before giving up (a calendar with no working days). */
#define WORKING_DAY_SEARCH 366

/* Floor division, so that days and seconds before 1970 round towards the past. */
static int64_t
floor_div(int64_t a, int64_t b)
{
    int64_t quotient = a / b;

    return (a % b != 0 && (a < 0) != (b < 0)) ? quotient - 1 : quotient;
}

int64_t
schedule_add_period(int64_t day, const struct period *period)
{
    struct civil_date date;
    int64_t months;
    int64_t year;
    int month;
    int last;

    switch (period->unit) {
    case PERIOD_DAYS:
        return day + period->count;
    case PERIOD_WEEKS:
        return day + (int64_t)period->count * 7;
    case PERIOD_MONTHS:
        months = period->count;
        break;
    case PERIOD_YEARS:
        months = (int64_t)period->count * 12;
        break;
    default:
        return day;
    }
    timefmt_civil_from_days(day, &date);
    months += (int64_t)date.year * 12 + (date.month - 1);
    year = floor_div(months, 12);
    month = (int)(months - year * 12) + 1;
    last = timefmt_days_in_month((int)year, month);
    return timefmt_days_from_civil((int)year, month, date.day < last ? date.day : last);
}

int
schedule_weekday(int64_t day)
{
    int64_t from_monday = day + 3; /* 1970-01-01 was a Thursday */

    return (int)(from_monday - floor_div(from_monday, 7) * 7);
}

/* True when day is in the sorted closures array. */
static bool
is_closed(const struct work_calendar *calendar, int64_t day)
{
    int low = 0;
    int high = calendar->closure_count;

    while (low < high) {
        int middle = low + (high - low) / 2;

        if (calendar->closures[middle] == day)
            return true;
        if (calendar->closures[middle] < day)
            low = middle + 1;
        else
            high = middle;
    }
    return false;
}

bool
schedule_is_working_day(const struct work_calendar *calendar, int64_t day)
{
    if (!(calendar->working_days & (1u << schedule_weekday(day))))
        return false;
    return !is_closed(calendar, day);
}

int64_t
schedule_working_day_on_or_before(const struct work_calendar *calendar, int64_t day)
{
    for (int back = 0; back <= WORKING_DAY_SEARCH; back++)
        if (schedule_is_working_day(calendar, day - back))
            return day - back;
    return day;
}

int64_t
schedule_working_day_on_or_after(const struct work_calendar *calendar, int64_t day)
{
    for (int ahead = 0; ahead <= WORKING_DAY_SEARCH; ahead++)
        if (schedule_is_working_day(calendar, day + ahead))
            return day + ahead;
    return day;
}

/*
 * The zone's offset from UTC, in seconds, at the Unix time t: the local wall
 * clock read as if it were UTC, minus t.  Only localtime_r() is used, so the
 * result does not depend on how a C library's mktime() treats tm_isdst.
 */
static int64_t
offset_at(int64_t t)
{
    time_t when = (time_t)t;
    struct tm local;

    if (localtime_r(&when, &local) == NULL)
        return 0;
    return timefmt_days_from_civil(local.tm_year + 1900, local.tm_mon + 1, local.tm_mday) *
               SECONDS_PER_DAY +
           local.tm_hour * 3600 + local.tm_min * 60 + local.tm_sec - t;
}

/*
 * A wall-clock time maps to at most two instants: one with the offset in
 * force before a nearby change, one with the offset after it.  The offsets a
 * day either side of the wall-clock time are those two (no zone changes twice
 * within two days).  A candidate is real when the zone has that offset at that
 * instant; when both are, the time happens twice and the earlier instant is
 * the first; when neither is, the time was skipped, and reading it with the
 * offset from before the change puts it as far after the change as it is
 * after the start of the gap.
 */
int64_t
schedule_local_ms(int64_t day, int minute)
{
    int64_t wall = day * SECONDS_PER_DAY + (int64_t)minute * 60;
    int64_t offset_before = offset_at(wall - SECONDS_PER_DAY);
    int64_t offset_after = offset_at(wall + SECONDS_PER_DAY);
    int64_t instant_before = wall - offset_before;
    int64_t instant_after = wall - offset_after;
    bool before_real = offset_at(instant_before) == offset_before;
    bool after_real = offset_at(instant_after) == offset_after;
    int64_t instant;

    if (before_real && after_real)
        instant = instant_before < instant_after ? instant_before : instant_after;
    else if (after_real)
        instant = instant_after;
    else
        instant = instant_before;
    return instant * 1000;
}

int64_t
schedule_local_day(int64_t unix_ms)
{
    time_t when = (time_t)floor_div(unix_ms, 1000);
    struct tm local;

    if (localtime_r(&when, &local) == NULL)
        return floor_div(unix_ms, (int64_t)SECONDS_PER_DAY * 1000);
    return timefmt_days_from_civil(local.tm_year + 1900, local.tm_mon + 1, local.tm_mday);
}

void
schedule_format_local_time(int64_t unix_ms, char *buf, size_t size)
{
    time_t when = (time_t)floor_div(unix_ms, 1000);
    struct tm local;

    if (localtime_r(&when, &local) == NULL) {
        int64_t minute = floor_div(unix_ms, 60000) % (24 * 60);
        snprintf(buf, size, "%02d:%02d", (int)(minute / 60), (int)(minute % 60));
        return;
    }
    snprintf(buf, size, "%02d:%02d", local.tm_hour, local.tm_min);
}

/* The counts the configuration bounds, bounded again so that no array is read past its end. */
static int
reminder_count(const struct kind *kind)
{
    return kind->reminder_count < KIND_MAX_REMINDERS ? kind->reminder_count : KIND_MAX_REMINDERS;
}

static int
ladder_length(const struct kind *kind)
{
    return kind->escalation_count < KIND_MAX_ESCALATIONS ? kind->escalation_count
                                                         : KIND_MAX_ESCALATIONS;
}

static bool
reminder_is_done(const struct schedule_progress *progress, int index)
{
    return (progress->reminders_done & (1u << index)) != 0;
}

/* The day reminder index goes out: its lead before the target, on a working day. */
static int64_t
reminder_day(const struct kind *kind, const struct work_calendar *calendar, int64_t target_day,
             int index)
{
    return schedule_working_day_on_or_before(calendar, target_day - kind->reminders[index]);
}

/*
 * Sets *day to the day escalation n goes out and returns true, or returns
 * false when the kind has no escalation n (no ladder, or past the ladder
 * without a repeat).
 */
static bool
escalation_day(const struct kind *kind, const struct work_calendar *calendar, int64_t target_day,
               int64_t n, int64_t *day)
{
    int count = ladder_length(kind);
    int64_t overdue_from = target_day + kind->grace_days;
    int64_t nominal;
    int64_t before;

    if (count <= 0 || n < 0)
        return false;
    if (n < count) {
        nominal = overdue_from + kind->escalations[n].after_days;
    } else {
        if (kind->repeat_days <= 0)
            return false;
        nominal = overdue_from + kind->escalations[count - 1].after_days +
                  (n - count + 1) * kind->repeat_days;
    }
    before = schedule_working_day_on_or_before(calendar, nominal);
    *day = before > overdue_from ? before : schedule_working_day_on_or_after(calendar, nominal);
    return true;
}

/*
 * Sets *day to the day of the first action after reminder index that is still
 * pending (a later reminder not done, else the next escalation); false when
 * there is none.
 */
static bool
day_after_reminder(const struct kind *kind, const struct work_calendar *calendar,
                   int64_t target_day, const struct schedule_progress *progress, int index,
                   int64_t *day)
{
    for (int later = index + 1; later < reminder_count(kind); later++) {
        if (!reminder_is_done(progress, later)) {
            *day = reminder_day(kind, calendar, target_day, later);
            return true;
        }
    }
    return escalation_day(kind, calendar, target_day, progress->escalations_done, day);
}

static void
set_action(struct schedule_action *out, enum schedule_action_type type, int index, int64_t day,
           int minute)
{
    *out = (struct schedule_action){.type = type, .index = index, .day = day};
    out->at_ms = schedule_local_ms(day, minute);
}

void
schedule_next(const struct kind *kind, const struct work_calendar *calendar, int64_t target_day,
              struct schedule_progress *progress, struct schedule_action *out)
{
    int reminders = reminder_count(kind);
    int64_t day;
    int64_t later_day;
    int n;

    *out = (struct schedule_action){.type = SCHEDULE_NONE};
    if (progress->escalations_done < 0)
        progress->escalations_done = 0;

    /* Reminders come before escalations: once one escalation went out, none is left. */
    for (int index = 0; index < reminders; index++) {
        if (reminder_is_done(progress, index))
            continue;
        if (progress->escalations_done > 0) {
            progress->reminders_done |= 1u << index;
            continue;
        }
        day = reminder_day(kind, calendar, target_day, index);
        if (day_after_reminder(kind, calendar, target_day, progress, index, &later_day) &&
            later_day <= day) {
            progress->reminders_done |= 1u << index;
            continue;
        }
        set_action(out, SCHEDULE_REMINDER, index, day, calendar->send_minute);
        out->lead_days = kind->reminders[index];
        return;
    }

    /*
     * Escalation days never go backwards (see schedule.h), so a run of
     * escalations on one day ends within the longest stretch of non-working
     * days; WORKING_DAY_SEARCH bounds the searches that make up each day.
     */
    for (n = progress->escalations_done;; n++) {
        if (!escalation_day(kind, calendar, target_day, n, &day))
            return;
        if (n == INT_MAX || !escalation_day(kind, calendar, target_day, n + 1, &later_day) ||
            later_day > day)
            break;
        progress->escalations_done = n + 1;
    }
    set_action(out, SCHEDULE_ESCALATION, n, day, calendar->send_minute);
    out->step = n < ladder_length(kind) ? n : ladder_length(kind) - 1;
    out->days_overdue = (int)(day - target_day);
}

/* True when escalation n exists and its moment is at or before now_ms. */
static bool
escalation_passed(const struct kind *kind, const struct work_calendar *calendar, int64_t target_day,
                  int64_t n, int64_t now_ms)
{
    int64_t day;

    if (!escalation_day(kind, calendar, target_day, n, &day))
        return false;
    return schedule_local_ms(day, calendar->send_minute) <= now_ms;
}

/*
 * The number of escalations whose moment is at or before now_ms.  Their
 * moments never go backwards, so this is a binary search for the first one
 * still to come, bounded by an escalation whose nominal day is so far past
 * today that moving it to a working day cannot bring it back to today.
 */
static int64_t
escalations_passed(const struct kind *kind, const struct work_calendar *calendar,
                   int64_t target_day, int64_t now_ms)
{
    int count = ladder_length(kind);
    int64_t low = 0;
    int64_t high = count;

    if (count <= 0)
        return 0;
    if (kind->repeat_days > 0) {
        int64_t last = target_day + kind->grace_days + kind->escalations[count - 1].after_days;
        int64_t far = schedule_local_day(now_ms) + WORKING_DAY_SEARCH + 1;
        int64_t repeats = far > last ? (far - last) / kind->repeat_days + 1 : 1;

        high = count - 1 + repeats;
        if (high > INT_MAX)
            high = INT_MAX;
    }
    while (low < high) {
        int64_t middle = low + (high - low) / 2;

        if (escalation_passed(kind, calendar, target_day, middle, now_ms))
            low = middle + 1;
        else
            high = middle;
    }
    return low;
}

static void
skip_passed_actions(const struct kind *kind, const struct work_calendar *calendar,
                    int64_t target_day, int64_t now_ms, struct schedule_progress *progress)
{
    int reminders = reminder_count(kind);
    int64_t escalations = escalations_passed(kind, calendar, target_day, now_ms);
    int latest = -1;

    if (escalations > 0) {
        /* The latest passed escalation is the next one; it supersedes every reminder. */
        if (progress->escalations_done < escalations - 1)
            progress->escalations_done = (int)(escalations - 1);
        for (int index = 0; index < reminders; index++)
            progress->reminders_done |= 1u << index;
        return;
    }
    for (int index = 0; index < reminders; index++) {
        int64_t at_ms = schedule_local_ms(reminder_day(kind, calendar, target_day, index),
                                          calendar->send_minute);

        if (at_ms > now_ms)
            continue;
        if (latest >= 0)
            progress->reminders_done |= 1u << latest;
        latest = index;
    }
}

void
schedule_skip_passed(const struct kind *kind, const struct work_calendar *calendar,
                     int64_t target_day, int64_t now_ms, struct schedule_progress *progress)
{
    struct schedule_progress after;
    struct schedule_action kept, following;

    skip_passed_actions(kind, calendar, target_day, now_ms, progress);
    /*
     * The passed action kept would go out at once; when the one after it
     * goes out later today anyway (recorded at 07:00, due today), only that
     * one is sent.
     */
    schedule_next(kind, calendar, target_day, progress, &kept);
    if (kept.type == SCHEDULE_NONE || kept.at_ms > now_ms)
        return;
    after = *progress;
    schedule_mark_done(&after, &kept);
    schedule_next(kind, calendar, target_day, &after, &following);
    if (following.type != SCHEDULE_NONE && following.day <= schedule_local_day(now_ms))
        *progress = after;
}

void
schedule_mark_done(struct schedule_progress *progress, const struct schedule_action *action)
{
    if (action->type == SCHEDULE_REMINDER)
        progress->reminders_done |= 1u << action->index;
    else if (action->type == SCHEDULE_ESCALATION)
        progress->escalations_done = action->index + 1;
}

/*
 * schedule: when an obligation's reminders and escalations go out, as pure
 * functions.
 *
 * Dates are whole days since 1970-01-01 in the organisation's time zone
 * ("local days").  Nothing here reads the clock; only schedule_local_ms() and
 * schedule_local_day() consult the time-zone database, through the C
 * library's local time (the daemon sets TZ to the configured zone once at
 * start, before any thread runs).
 *
 * The actions of one obligation, in the order they go out:
 *
 *   reminder i (0 <= i < reminder_count): reminders[i] days before the target
 *     date (the due date, or the booked date when that is earlier), moved to
 *     the working day before when it falls on a non-working day;
 *   escalation n (n >= 0): for n < escalation_count, step n goes out
 *     grace_days + after_days days after the target date; past the last step,
 *     the last step again every repeat_days (n = escalation_count - 1 + r for
 *     the r-th repeat), when repeat_days > 0.  An escalation that falls on a
 *     non-working day goes out on the working day before, but never on or
 *     before the day the obligation became overdue (target + grace_days): then
 *     it goes out on the next working day instead.
 *
 * Every action goes out at the calendar's send time on its day.  When two
 * actions of one obligation fall on the same day, only the later one goes
 * out: the earlier counts as done without a notification.
 *
 * Precisely: the actions are ordered reminder 0 .. reminder_count-1, then
 * escalation 0, 1, 2 ...; an action is pending when progress does not mark it
 * done.  The first pending action goes out unless the pending action after it
 * falls on the same day (or, which the rules above never produce, earlier):
 * then it is marked done (a reminder's bit is set, escalations_done is raised
 * past the escalation) and the test repeats with the next one.  So two
 * reminders moved onto one Friday send only the one with the shorter lead, and
 * escalations 0 to 4 all landing on Christmas Eve send only escalation 4.  Reminder
 * days never go backwards (leads fall), escalation days never go backwards
 * (moving back stops after the overdue day, moving forward stops at the first
 * working day), and with grace_days >= 0 every escalation falls after the
 * target date, so the rule only ever joins neighbours.
 */
#ifndef CAREHUB_SCHEDULE_H
#define CAREHUB_SCHEDULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kinds.h"

/* Adds period to day: months and years keep the day of the month, or use the month's last day. */
int64_t schedule_add_period(int64_t day, const struct period *period);

/* 0 Monday ... 6 Sunday. */
int schedule_weekday(int64_t day);

/* True when day is one of the calendar's working days and not a closure. */
bool schedule_is_working_day(const struct work_calendar *calendar, int64_t day);

/*
 * The latest working day on or before day (the earliest on or after it with
 * schedule_working_day_on_or_after()).  If none is found within 366 days (a
 * calendar with no working days), day itself.
 */
int64_t schedule_working_day_on_or_before(const struct work_calendar *calendar, int64_t day);
int64_t schedule_working_day_on_or_after(const struct work_calendar *calendar, int64_t day);

/*
 * The Unix time in milliseconds of minute (after local midnight) on local day,
 * in the process's time zone.  A time that does not exist (skipped by a
 * daylight-saving change) is read as the same distance after the change; a
 * time that happens twice is the first of the two.  In London 01:30 on
 * 2026-03-29 is 01:30 UTC (02:30 BST) and 01:30 on 2026-10-25 is 00:30 UTC
 * (01:30 BST).  Only localtime_r() is consulted (the offsets a day either side
 * of the time, checked at each candidate instant), never mktime(), whose
 * tm_isdst handling differs between C libraries; so zones whose changes are
 * not one-hour daylight-saving steps (Lord Howe's half hour, Samoa's skipped
 * day) follow the same two rules.
 */
int64_t schedule_local_ms(int64_t day, int minute);

/* The local day that contains the Unix time unix_ms. */
int64_t schedule_local_day(int64_t unix_ms);

/*
 * Writes the local time of day at the Unix time unix_ms into buf, as
 * "HH:MM" on the 24-hour clock (what the organisation's clocks show then).
 */
void schedule_format_local_time(int64_t unix_ms, char *buf, size_t size);

/* What an obligation has already had. */
struct schedule_progress {
    unsigned reminders_done; /* bit i: reminder i went out or was passed over */
    int escalations_done;    /* escalations 0 .. escalations_done-1 went out */
};

enum schedule_action_type { SCHEDULE_NONE, SCHEDULE_REMINDER, SCHEDULE_ESCALATION };

/* One action: what, when, and (for escalations) which ladder step names whom to tell. */
struct schedule_action {
    enum schedule_action_type type;
    int index;        /* reminder index, or escalation number n */
    int step;         /* escalation: the ladder step (n capped at escalation_count - 1) */
    int64_t day;      /* the local day it goes out */
    int64_t at_ms;    /* the moment it goes out */
    int lead_days;    /* reminder: days before the target date it was meant for */
    int days_overdue; /* escalation: day - target, as of the day it goes out */
};

/* Records action (as schedule_next() gave it) as done in *progress. */
void schedule_mark_done(struct schedule_progress *progress, const struct schedule_action *action);

/*
 * The next action of an obligation with this target date and progress, into
 * *out (type SCHEDULE_NONE when nothing is left: no more reminders and no
 * escalation ladder, or the ladder done and no repeat).  Actions whose turn
 * is taken by a later action on the same day are added to *progress as done
 * (see the top of this file), and so are reminders still pending once an
 * escalation has gone out (escalations_done > 0).  The action may be in the
 * past: the caller sends it at once.  Fields that do not apply to the type
 * (step and days_overdue of a reminder, lead_days of an escalation, all of
 * SCHEDULE_NONE's) are 0.
 */
void schedule_next(const struct kind *kind, const struct work_calendar *calendar,
                   int64_t target_day, struct schedule_progress *progress,
                   struct schedule_action *out);

/*
 * Marks as done what an obligation that has just been created, or whose
 * target date has just changed, has no use for any more: of the reminders
 * whose moment is at or before now_ms only the latest stays, and of the
 * escalations whose moment is at or before now_ms only the latest stays.  So
 * a supervision recorded two days before it is due gets one "due in 2 days"
 * reminder, not three at once, and a review imported three weeks overdue gets
 * the escalation step it has reached, not every step before it.
 *
 * When an escalation has passed, escalations_done becomes the number of the
 * latest passed one (so it is the next action) and every reminder is marked
 * done: the escalation supersedes them.  Nothing already done is undone
 * (escalations_done never decreases).  "Moment" is the send time on the day
 * the rules above give, so 09:00 on the due date counts as passed from 09:00.
 * Cost: one pass over the reminders and a binary search over escalations, so
 * an obligation imported years overdue costs only a few steps more than one a
 * week late.
 *
 * Last, when the passed action kept would go out at once but the action
 * after it goes out later the same local day (recorded at 07:00, due today),
 * the kept one is marked done too: only today's goes out.
 */
void schedule_skip_passed(const struct kind *kind, const struct work_calendar *calendar,
                          int64_t target_day, int64_t now_ms, struct schedule_progress *progress);

#endif

/*
 * kinds: the organisation's review kinds, course catalogue and working
 * calendar, read from the configuration file.
 *
 * Every obligation carehubd schedules (supervision, appraisal, induction
 * check-ins, probation reviews, training renewals, concern-process steps,
 * return-to-work conversations, assigned actions) belongs to one kind.  A
 * kind says who it applies to, how its obligations arise, when line managers
 * are reminded, and who is told, step by step, once one is overdue.  Nothing
 * about any kind is built in: all of it comes from the "kinds", "courses" and
 * "schedule" sections of carehubd.conf (see docs/reviews.md).
 *
 * kinds_load() reads those sections of an already parsed libconfig file into
 * a fresh struct kinds and checks all of it, adding one "file:line: key:
 * reason" error per problem; the struct is used only when there are none.
 */
#ifndef CAREHUB_KINDS_H
#define CAREHUB_KINDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libconfig.h>

struct config_errors;

/* Bounds on one kind; the configuration is refused beyond them. */
#define KINDS_MAX 64            /* kinds, and courses, in one file */
#define KIND_MAX_REMINDERS 8    /* reminder lead times of one kind */
#define KIND_MAX_ESCALATIONS 8  /* steps of one escalation ladder */
#define KIND_MAX_TARGETS 4      /* whom one escalation step tells */
#define KIND_MAX_STEPS 16       /* steps of one milestone plan */
#define KIND_MAX_FILTERS 32     /* roles, teams or absence kinds in one list */
#define KIND_NAME_MAX 64        /* bytes in a kind, step, course or role name */
#define KINDS_MAX_CLOSURES 1000 /* closure dates in the schedule */

/* A length of time as written in the configuration: "6 weeks", "12 months". */
enum period_unit { PERIOD_DAYS, PERIOD_WEEKS, PERIOD_MONTHS, PERIOD_YEARS };

struct period {
    int count; /* 0 or more; 0 only where a period may be zero (a step at "0 days") */
    enum period_unit unit;
};

/* How the obligations of a kind arise. */
enum kind_arises {
    KIND_RECURRING, /* every period, the first at an offset from the start date */
    KIND_MILESTONE, /* steps at offsets from a triggering event */
    KIND_ASSIGNED,  /* one-off, the due date comes with action.assigned */
    KIND_TRAINING   /* renewals of the courses in the catalogue */
};

/* The event that starts a milestone plan. */
enum kind_trigger {
    TRIGGER_STAFF_HIRED,    /* "staff.hired": offsets from start_date */
    TRIGGER_CONCERN_OPENED, /* "concern.opened": offsets from the concern's date */
    TRIGGER_ABSENCE_ENDED   /* "absence.ended": offsets from the end_date */
};

/* What happens to a kind's open obligations while the person is absent. */
enum absence_rule {
    ABSENCE_CONTINUE, /* "continue": nothing pauses */
    ABSENCE_SHIFT,    /* "shift": paused; on return the due date moves on by the absence */
    ABSENCE_RESTART   /* "restart": paused; on return a recurring kind starts again */
};

/* Whom an escalation step tells. */
enum target_type {
    TARGET_MANAGER,    /* "manager": whoever is responsible (the line manager) */
    TARGET_MANAGER_UP, /* "manager+1", "manager+2": that many levels above them */
    TARGET_ROLE,       /* "role:registered_manager": the nearest holder up the chain, else all */
    TARGET_STAFF       /* "staff:S0001": one staff member */
};

struct escalation_target {
    enum target_type type;
    int levels;                   /* TARGET_MANAGER_UP: 1 or 2 */
    char name[KIND_NAME_MAX + 1]; /* TARGET_ROLE: the role; TARGET_STAFF: the staff id */
};

struct escalation_step {
    int after_days; /* days overdue (after the grace period) when this step goes out; >= 1 */
    int target_count;
    struct escalation_target targets[KIND_MAX_TARGETS];
};

struct milestone_step {
    char name[KIND_NAME_MAX + 1]; /* "week1", "welfare_check" */
    char *title;                  /* "Week 1 check-in" */
    struct period at;             /* offset from the triggering date */
};

/* Who a kind (or a course) applies to: everyone when both lists are empty. */
struct applies_to {
    int role_count;
    char *roles[KIND_MAX_FILTERS];
    int team_count; /* a listed team includes its sub-teams */
    char *teams[KIND_MAX_FILTERS];
};

struct kind {
    char name[KIND_NAME_MAX + 1]; /* as used in events: "supervision" */
    char *title;                  /* plain English: "Supervision" */
    char *policy;                 /* link to the organisation's policy; NULL when none */
    int line;                     /* where it is defined, for messages */
    struct applies_to applies;
    enum kind_arises arises;

    /* KIND_RECURRING */
    struct period every; /* count >= 1 */
    struct period first; /* from the start date (or the change that made it apply) */

    /* KIND_MILESTONE */
    enum kind_trigger trigger;
    int step_count;
    struct milestone_step steps[KIND_MAX_STEPS];
    int absence_kind_count; /* TRIGGER_ABSENCE_ENDED: which absences; none listed = all */
    char *absence_kinds[KIND_MAX_FILTERS];

    /* Reminders: days before the due date, largest first, no repeats. */
    int reminder_count;
    int reminders[KIND_MAX_REMINDERS];
    int grace_days; /* days after the due date before it counts as overdue */
    int escalation_count;
    struct escalation_step escalations[KIND_MAX_ESCALATIONS]; /* after_days rising */
    int repeat_days; /* the last step again every this many days; 0: once */
    enum absence_rule during_absence;
};

struct course {
    char name[KIND_NAME_MAX + 1]; /* as used in training.completed: "safeguarding" */
    char *title;
    int line;
    struct applies_to applies;
    struct period valid; /* a completion is good for this long; count >= 1 */
    bool has_first;
    struct period first; /* first due this long after the start date, when set */
};

/* The "schedule" section: when reminders and escalations go out. */
struct work_calendar {
    int send_minute;       /* minutes after local midnight ("09:00" is 540) */
    unsigned working_days; /* bit 0 Monday ... bit 6 Sunday */
    int closure_count;
    int64_t *closures;     /* days since 1970-01-01, sorted, no repeats */
    int missed_after_days; /* actions older than this when they would go out are recorded as missed
                            */
};

struct kinds {
    int kind_count;
    struct kind *kinds;
    int course_count;
    struct course *courses;
    const struct kind *training; /* the one KIND_TRAINING kind; NULL when none */
    struct work_calendar calendar;
};

/*
 * Reads the "schedule", "kinds" and "courses" sections under root (the
 * parsed file's root setting; each section may be absent) into *out, which
 * the caller later frees with kinds_free().  file names the file for
 * messages.  Adds an error for every problem (unknown keys, wrong types,
 * periods of zero, reminders or escalation steps out of order, an escalation
 * target that is not one of the forms above, a training kind without courses
 * or courses without a training kind, closure dates that are not dates, two
 * kinds or courses with one name) and returns -EINVAL if there were any,
 * else 0; -ENOMEM (with an "out of memory" error) when memory ran out.
 * Each error names the setting by its path, entries of a list by their name
 * or by their position counted from 1: "kinds.supervision.reminders[2]".
 */
int kinds_load(config_setting_t *root, const char *file, struct kinds *out,
               struct config_errors *errors);

/* Releases what kinds_load() filled in; accepts a zeroed or half-built struct. */
void kinds_free(struct kinds *kinds);

/* The kind or course with this name, or NULL. */
const struct kind *kinds_find(const struct kinds *kinds, const char *name);
const struct course *kinds_find_course(const struct kinds *kinds, const char *name);

/* Writes "6 weeks" / "1 month" into buf. */
void kinds_format_period(const struct period *period, char *buf, size_t size);

#endif

#include "obligations.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "schedule.h"
#include "timefmt.h"

#define MS_PER_DAY 86400000LL

/* Obligations read per index query by the scheduler. */
#define DUE_CHUNK 256

/* The most people one role target of an escalation reaches. */
#define ROLE_RECIPIENTS_MAX 16
#define RECIPIENTS_MAX 32

/* Everyone holding one role, as found once in a transaction. */
struct role_holders {
    char role[KIND_NAME_MAX + 1];
    int count;
    char ids[ROLE_RECIPIENTS_MAX][DIR_ID_SIZE];
};

struct obligations {
    struct store *writer;
    struct role_holders roles[KIND_MAX_TARGETS * KIND_MAX_ESCALATIONS];
    int role_count; /* roles looked up in this transaction */
    const struct kinds *kinds;
    const struct directory_source *directory;
    int64_t now_ms;
    int64_t today;
    int64_t seq;
    struct obligations_notice *notices;
    size_t notice_count, notice_capacity;
    uint64_t sent, missed;
};

int
obligations_new(struct obligations **out, struct store *writer, const struct kinds *kinds,
                const struct directory_source *directory)
{
    struct obligations *obligations = calloc(1, sizeof(*obligations));

    *out = NULL;
    if (obligations == NULL)
        return -ENOMEM;
    obligations->writer = writer;
    obligations->kinds = kinds;
    obligations->directory = directory;
    *out = obligations;
    return 0;
}

void
obligations_free(struct obligations *obligations)
{
    if (obligations == NULL)
        return;
    free(obligations->notices);
    free(obligations);
}

void
obligations_set_kinds(struct obligations *obligations, const struct kinds *kinds)
{
    obligations->kinds = kinds;
    obligations->role_count = 0; /* role lookups are per transaction; start afresh anyway */
}

void
obligations_begin(struct obligations *obligations, int64_t now_ms)
{
    obligations->now_ms = now_ms;
    obligations->today = schedule_local_day(now_ms);
    obligations->notice_count = 0;
    obligations->role_count = 0; /* the directory may change between transactions */
    /* A big catch-up's list is not kept for ever. */
    if (obligations->notice_capacity > 4096) {
        free(obligations->notices);
        obligations->notices = NULL;
        obligations->notice_capacity = 0;
    }
}

const struct obligations_notice *
obligations_notices(const struct obligations *obligations, size_t *count)
{
    *count = obligations->notice_count;
    return obligations->notices;
}

void
obligations_counts(const struct obligations *obligations, uint64_t *sent, uint64_t *missed)
{
    *sent = obligations->sent;
    *missed = obligations->missed;
}

bool
obligations_depend_on_role(const struct kinds *kinds)
{
    for (int i = 0; i < kinds->kind_count; i++)
        if (kinds->kinds[i].applies.role_count > 0)
            return true;
    for (int i = 0; i < kinds->course_count; i++)
        if (kinds->courses[i].applies.role_count > 0)
            return true;
    return false;
}

bool
obligations_interested(enum event_type type)
{
    return type != EVENT_TEAM_CHANGED && type != EVENT_KPI_OBSERVED;
}

/* ---- Small helpers ---- */

static const char *
data_text(const cJSON *data, const char *name)
{
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(data, name));
}

static int64_t
data_day(const cJSON *data, const char *name)
{
    struct civil_date date;
    const char *text = data_text(data, name);

    if (text == NULL || timefmt_parse_date(text, &date) < 0)
        return STORE_NO_DAY;
    return timefmt_days_from_civil(date.year, date.month, date.day);
}

static int64_t
text_day(const char *text)
{
    struct civil_date date;

    if (text == NULL || timefmt_parse_date(text, &date) < 0)
        return STORE_NO_DAY;
    return timefmt_days_from_civil(date.year, date.month, date.day);
}

/* Rejects the event being applied: *error says why, and obligations_apply() returns 1. */
#define reject(...) (event_reject(__VA_ARGS__), 1)

static int
staff_get(struct obligations *obligations, const char *staff_id, struct dir_staff *out)
{
    return obligations->directory->get_staff(obligations->directory->context, staff_id, out);
}

/* True when the team or one of the teams above it is listed. */
static bool
team_listed(struct obligations *obligations, const char *team_id, const struct applies_to *applies)
{
    char current[DIR_ID_SIZE];
    struct dir_team team;

    directory_copy_text(current, sizeof(current), team_id);
    for (int depth = 0; current[0] != '\0' && depth <= DIR_DEPTH_MAX; depth++) {
        for (int i = 0; i < applies->team_count; i++)
            if (strcmp(applies->teams[i], current) == 0)
                return true;
        if (obligations->directory->get_team(obligations->directory->context, current, &team) < 0)
            break;
        directory_copy_text(current, sizeof(current), team.parent_id);
    }
    return false;
}

static bool
applies_to(struct obligations *obligations, const struct applies_to *applies,
           const struct dir_staff *staff)
{
    if (staff == NULL || staff->left_date[0] != '\0')
        return false;
    if (applies->role_count > 0) {
        bool found = false;
        for (int i = 0; i < applies->role_count && !found; i++)
            found = strcmp(applies->roles[i], staff->role) == 0;
        if (!found)
            return false;
    }
    return applies->team_count == 0 || team_listed(obligations, staff->team_id, applies);
}

/* The kind an obligation belongs to; NULL when the configuration no longer has it. */
static const struct kind *
kind_of(struct obligations *obligations, const struct obligation *obligation)
{
    return kinds_find(obligations->kinds, obligation->kind);
}

/*
 * Works out an open obligation's next action.  fresh: it was just created or
 * its target date moved, so actions already past are passed over (only the
 * latest is kept) instead of all going out at once.
 */
static void
plan(struct obligations *obligations, struct obligation *obligation, bool fresh)
{
    const struct kind *kind = kind_of(obligations, obligation);
    struct schedule_progress progress;
    struct schedule_action action;

    obligation->target_day = obligation->due_day;
    if (obligation->booked_day != STORE_NO_DAY && obligation->booked_day < obligation->due_day)
        obligation->target_day = obligation->booked_day;
    obligation->next_ms = 0;
    if (kind == NULL || obligation->state != OBLIGATION_OPEN)
        return;
    progress.reminders_done = obligation->reminders_done;
    progress.escalations_done = obligation->escalations_done;
    if (fresh)
        schedule_skip_passed(kind, &obligations->kinds->calendar, obligation->target_day,
                             obligations->now_ms, &progress);
    schedule_next(kind, &obligations->kinds->calendar, obligation->target_day, &progress, &action);
    obligation->reminders_done = progress.reminders_done;
    obligation->escalations_done = progress.escalations_done;
    if (action.type != SCHEDULE_NONE)
        obligation->next_ms = action.at_ms;
}

static void
obligation_init(struct obligations *obligations, struct obligation *obligation,
                const char *staff_id, const struct kind *kind, int64_t due_day)
{
    memset(obligation, 0, sizeof(*obligation));
    directory_copy_text(obligation->staff_id, sizeof(obligation->staff_id), staff_id);
    directory_copy_text(obligation->kind, sizeof(obligation->kind), kind->name);
    obligation->occurrence = 1;
    obligation->due_day = due_day;
    obligation->booked_day = STORE_NO_DAY;
    obligation->closed_day = STORE_NO_DAY;
    obligation->paused_day = STORE_NO_DAY;
    obligation->state = OBLIGATION_OPEN;
    obligation->created_seq = obligations->seq;
    obligation->updated_seq = obligations->seq;
}

/*
 * Records a change of an obligation in the audit trail, in the transaction
 * that writes it: what ("obligation.created", ...), its identity and state,
 * and the reason or day when given.
 */
static int
audit_obligation(struct obligations *obligations, const char *what,
                 const struct obligation *obligation, const char *day_key, int64_t day)
{
    struct audit_details details;

    audit_details_init(&details);
    audit_details_obligation(&details, obligation);
    if (day_key != NULL)
        audit_details_day(&details, day_key, day);
    if (obligation->reason[0] != '\0')
        audit_details_string(&details, "reason", obligation->reason);
    if (obligation->title[0] != '\0')
        audit_details_string(&details, "title", obligation->title);
    if (obligation->responsible_id[0] != '\0')
        audit_details_string(&details, "responsible_id", obligation->responsible_id);
    return store_audit(obligations->writer, what, obligation->staff_id, NULL,
                       audit_details_text(&details));
}

/* The audit code of an obligation closed or created in state: "obligation.completed", ... */
static const char *
audit_code(int state)
{
    switch (state) {
    case OBLIGATION_COMPLETED:
        return "obligation.completed";
    case OBLIGATION_WAIVED:
        return "obligation.waived";
    case OBLIGATION_CANCELLED:
        return "obligation.cancelled";
    case OBLIGATION_MISSED:
        return "obligation.missed";
    case OBLIGATION_PAUSED:
        return "obligation.paused";
    default:
        return "obligation.created";
    }
}

/*
 * Writes a new open obligation.  A milestone step already past by more than
 * the missed horizon when its plan starts (someone imported years after
 * they started) is recorded as missed instead of being chased.
 */
static int
create(struct obligations *obligations, struct obligation *obligation, bool absent)
{
    const struct kind *kind = kind_of(obligations, obligation);
    int horizon = obligations->kinds->calendar.missed_after_days;

    if (kind && kind->arises == KIND_MILESTONE &&
        obligation->due_day < obligations->today - horizon) {
        obligation->state = OBLIGATION_MISSED;
        obligation->closed_day = obligations->today;
        snprintf(obligation->reason, sizeof(obligation->reason),
                 "already more than %d days past when the plan started", horizon);
    } else if (absent && kind && kind->during_absence != ABSENCE_CONTINUE) {
        obligation->state = OBLIGATION_PAUSED;
        obligation->paused_day = obligations->today;
    }
    plan(obligations, obligation, true);
    int r = store_obligation_insert(obligations->writer, obligation);
    if (r == 0)
        r = audit_obligation(obligations, "obligation.created", obligation, NULL, 0);
    return r;
}

/* Closes an obligation with a state, a day and a reason, and writes it. */
static int
close_obligation(struct obligations *obligations, struct obligation *obligation, int state,
                 int64_t day, const char *reason)
{
    obligation->state = state;
    obligation->closed_day = day;
    obligation->next_ms = 0;
    obligation->paused_day = STORE_NO_DAY;
    directory_copy_text(obligation->reason, sizeof(obligation->reason), reason);
    obligation->updated_seq = obligations->seq;
    int r = store_obligation_update(obligations->writer, obligation);
    if (r == 0)
        r = audit_obligation(obligations, audit_code(state), obligation, "day", day);
    return r;
}

/* Collects a staff member's obligations into a growing array. */
struct collected {
    struct obligation *items;
    size_t count, capacity;
};

static int
collect(void *context, const struct obligation *obligation)
{
    struct collected *list = context;

    if (list->count == list->capacity) {
        size_t capacity = list->capacity ? list->capacity * 2 : 16;
        struct obligation *items = realloc(list->items, capacity * sizeof(*items));
        if (items == NULL)
            return -ENOMEM;
        list->items = items;
        list->capacity = capacity;
    }
    list->items[list->count++] = *obligation;
    return 0;
}

static int
collect_of(struct obligations *obligations, const char *staff_id, const char *kind,
           const char *item, bool pending_only, struct collected *out)
{
    memset(out, 0, sizeof(*out));
    return store_obligations_of(obligations->writer, staff_id, kind, item, pending_only, collect,
                                out);
}

/* Is the person absent now?  Sets *absent. */
static int absence_now(struct obligations *obligations, const char *staff_id, bool *absent);

/* ---- Creating plans ---- */

/* The first occurrence of a recurring kind, due `first` after from_day. */
static int
start_recurring(struct obligations *obligations, const struct dir_staff *staff,
                const struct kind *kind, int64_t from_day, bool absent)
{
    struct obligation obligation;

    obligation_init(obligations, &obligation, staff->staff_id, kind,
                    schedule_add_period(from_day, &kind->first));
    return create(obligations, &obligation, absent);
}

static int
start_course(struct obligations *obligations, const struct dir_staff *staff,
             const struct course *course, int64_t from_day, bool absent)
{
    struct obligation obligation;

    if (obligations->kinds->training == NULL || !course->has_first)
        return 0;
    obligation_init(obligations, &obligation, staff->staff_id, obligations->kinds->training,
                    schedule_add_period(from_day, &course->first));
    directory_copy_text(obligation.item, sizeof(obligation.item), course->name);
    return create(obligations, &obligation, absent);
}

/* Every step of a milestone plan, due at offsets from from_day; item names what started it. */
static int
start_milestones(struct obligations *obligations, const char *staff_id, const struct kind *kind,
                 int64_t from_day, const char *item, bool absent)
{
    for (int i = 0; i < kind->step_count; i++) {
        struct obligation obligation;
        int r;

        obligation_init(obligations, &obligation, staff_id, kind,
                        schedule_add_period(from_day, &kind->steps[i].at));
        directory_copy_text(obligation.item, sizeof(obligation.item), item);
        directory_copy_text(obligation.step, sizeof(obligation.step), kind->steps[i].name);
        r = create(obligations, &obligation, absent);
        if (r < 0)
            return r;
    }
    return 0;
}

/* Cancels every pending obligation in list (all of them, or only those of kind and item). */
static int
cancel_all(struct obligations *obligations, struct collected *list, const char *reason)
{
    for (size_t i = 0; i < list->count; i++) {
        int r = close_obligation(obligations, &list->items[i], OBLIGATION_CANCELLED,
                                 obligations->today, reason);
        if (r < 0)
            return r;
    }
    return 0;
}

static int
staff_hired(struct obligations *obligations, const struct dir_staff *staff)
{
    const struct kinds *kinds = obligations->kinds;
    int64_t start = text_day(staff->start_date);
    int r = 0;

    /* Someone hired again after leaving has nothing open: staff.left cancelled it all. */
    for (int i = 0; r == 0 && i < kinds->kind_count; i++) {
        const struct kind *kind = &kinds->kinds[i];
        if (!applies_to(obligations, &kind->applies, staff))
            continue;
        if (kind->arises == KIND_RECURRING)
            r = start_recurring(obligations, staff, kind, start, false);
        else if (kind->arises == KIND_MILESTONE && kind->trigger == TRIGGER_STAFF_HIRED)
            r = start_milestones(obligations, staff->staff_id, kind, start, "", false);
    }
    for (int i = 0; r == 0 && i < kinds->course_count; i++)
        if (applies_to(obligations, &kinds->courses[i].applies, staff))
            r = start_course(obligations, staff, &kinds->courses[i], start, false);
    return r;
}

/* Cancels what a staff member still has to do of (kind, item), which no longer applies. */
static int
cancel_no_longer_applying(struct obligations *obligations, const char *staff_id, const char *kind,
                          const char *item)
{
    struct collected pending;
    int r = collect_of(obligations, staff_id, kind, item, true, &pending);

    if (r == 0)
        r = cancel_all(obligations, &pending, "no longer applies after a change of role or team");
    free(pending.items);
    return r;
}

/* A new role or team: obligations that no longer apply end, new ones start from today. */
static int
staff_changed(struct obligations *obligations, const struct dir_staff *before,
              const struct dir_staff *after)
{
    const struct kinds *kinds = obligations->kinds;
    bool absent = false, absence_known = false;
    int r = 0;

    /*
     * Most changes (a new name, email, manager) change no plan, and make no
     * query; whether the person is away is asked only when a plan starts.
     */
    for (int i = 0; r == 0 && i < kinds->kind_count + kinds->course_count; i++) {
        const struct kind *kind = i < kinds->kind_count ? &kinds->kinds[i] : kinds->training;
        const struct course *course =
            i < kinds->kind_count ? NULL : &kinds->courses[i - kinds->kind_count];
        const struct applies_to *applies = course ? &course->applies : &kind->applies;
        bool was = applies_to(obligations, applies, before);
        bool now = applies_to(obligations, applies, after);
        bool planned = course != NULL || kind->arises == KIND_RECURRING ||
                       (kind->arises == KIND_MILESTONE && kind->trigger == TRIGGER_STAFF_HIRED);
        if (kind == NULL || !planned || was == now)
            continue;
        if (was) {
            r = cancel_no_longer_applying(obligations, after->staff_id, kind->name,
                                          course ? course->name : NULL);
            continue;
        }
        if (course == NULL && kind->arises != KIND_RECURRING)
            continue; /* a plan from staff.hired starts only with the hire */
        if (!absence_known)
            r = absence_now(obligations, after->staff_id, &absent);
        absence_known = true;
        if (r == 0 && course)
            r = start_course(obligations, after, course, obligations->today, absent);
        else if (r == 0)
            r = start_recurring(obligations, after, kind, obligations->today, absent);
    }
    return r;
}

static int
staff_left(struct obligations *obligations, const struct dir_staff *staff)
{
    struct collected pending;
    char reason[64];
    int r = collect_of(obligations, staff->staff_id, NULL, NULL, true, &pending);

    snprintf(reason, sizeof(reason), "left on %s", staff->left_date);
    if (r == 0)
        r = cancel_all(obligations, &pending, reason);
    free(pending.items);
    return r;
}

/* ---- Review events ---- */

/* The staff member an event is about, who must exist. */
static int
subject(struct obligations *obligations, const char *staff_id, struct dir_staff *staff,
        struct event_error *error)
{
    int r = staff_get(obligations, staff_id, staff);

    if (r == -ENOENT)
        return reject(error, "unknown_staff",
                      "no staff member \"%.80s\" has been hired; send staff.hired first", staff_id);
    return r;
}

static int
review_kind(struct obligations *obligations, const char *name, const struct kind **out,
            struct event_error *error)
{
    *out = kinds_find(obligations->kinds, name);
    if (*out == NULL)
        return reject(error, "unknown_kind", "\"%.60s\" is not a review kind in the configuration",
                      name);
    if ((*out)->arises == KIND_TRAINING)
        return reject(error, "wrong_event",
                      "\"%.60s\" is the training kind: send training.completed with the course",
                      name);
    if ((*out)->arises == KIND_ASSIGNED)
        return reject(error, "wrong_event",
                      "\"%.60s\" is a kind of assigned action: send action.completed with the "
                      "action_id",
                      name);
    return 0;
}

/* The pending obligation a review event is about: the step named, or the earliest due. */
static struct obligation *
pick_pending(struct collected *list, const char *step)
{
    for (size_t i = 0; i < list->count; i++)
        if (step == NULL || strcmp(list->items[i].step, step) == 0)
            return &list->items[i];
    return NULL;
}

/* The latest day a completion of (kind, item) was recorded, in *day (STORE_NO_DAY: none). */
static void
last_completion(const struct collected *all, int64_t *day, bool *same_day_exists, int64_t on_day)
{
    *day = STORE_NO_DAY;
    *same_day_exists = false;
    for (size_t i = 0; i < all->count; i++) {
        const struct obligation *o = &all->items[i];
        if (o->state != OBLIGATION_COMPLETED)
            continue;
        if (o->closed_day != STORE_NO_DAY && (*day == STORE_NO_DAY || o->closed_day > *day))
            *day = o->closed_day;
        if (o->closed_day == on_day)
            *same_day_exists = true;
    }
}

/* Writes a completed occurrence of (kind, item) on day into the history. */
static int
record_completed(struct obligations *obligations, const char *staff_id, const struct kind *kind,
                 const char *item, int occurrence, int64_t day, const char *reason)
{
    struct obligation obligation;

    obligation_init(obligations, &obligation, staff_id, kind, day);
    directory_copy_text(obligation.item, sizeof(obligation.item), item);
    obligation.occurrence = occurrence;
    obligation.state = OBLIGATION_COMPLETED;
    obligation.closed_day = day;
    obligation.target_day = day;
    directory_copy_text(obligation.reason, sizeof(obligation.reason), reason);
    int r = store_obligation_insert(obligations->writer, &obligation);
    if (r == 0)
        r = audit_obligation(obligations, "obligation.completed", &obligation, "day", day);
    return r;
}

/*
 * A completion of a recurring kind (or a course, item naming it) on day:
 * closes the open occurrence and schedules the next, every after the
 * completion.  One dated on or before the latest recorded completion is
 * history only, so completions arriving in any order, or twice, leave the
 * same open obligation.
 */
static int
complete_recurring(struct obligations *obligations, const struct dir_staff *staff,
                   const struct kind *kind, const char *item, const struct period *every,
                   bool still_applies, int64_t day, const char *outcome)
{
    struct collected all;
    struct obligation *open = NULL;
    int64_t last;
    bool same;
    int occurrence = 0;
    int r = collect_of(obligations, staff->staff_id, kind->name, item, false, &all);

    if (r < 0)
        goto done;
    last_completion(&all, &last, &same, day);
    for (size_t i = 0; i < all.count; i++) {
        if (all.items[i].occurrence > occurrence)
            occurrence = all.items[i].occurrence;
        if (all.items[i].state == OBLIGATION_OPEN || all.items[i].state == OBLIGATION_PAUSED)
            open = &all.items[i];
    }
    if (same)
        goto done; /* the same completion again */
    if (last != STORE_NO_DAY && day <= last) {
        /* Arrived after a later one: kept in the history, changing nothing else. */
        r = record_completed(obligations, staff->staff_id, kind, item, 0, day,
                             "recorded late: an earlier completion than one already recorded");
        goto done;
    }
    if (open) {
        r = close_obligation(obligations, open, OBLIGATION_COMPLETED, day,
                             outcome ? outcome : "completed");
        if (r < 0)
            goto done;
    } else {
        /* Nothing was open (the kind did not apply): the completion is still kept. */
        r = record_completed(obligations, staff->staff_id, kind, item, ++occurrence, day,
                             outcome ? outcome : "completed");
        if (r < 0)
            goto done;
    }
    if (still_applies) {
        struct obligation next;
        bool absent = false;
        r = absence_now(obligations, staff->staff_id, &absent);
        if (r < 0)
            goto done;
        obligation_init(obligations, &next, staff->staff_id, kind, schedule_add_period(day, every));
        directory_copy_text(next.item, sizeof(next.item), item);
        next.occurrence = (open ? open->occurrence : occurrence) + 1;
        r = create(obligations, &next, absent);
    }
done:
    free(all.items);
    return r;
}

static int
review_completed(struct obligations *obligations, const cJSON *data, struct event_error *error)
{
    struct dir_staff staff;
    const struct kind *kind;
    const char *step = data_text(data, "step");
    const char *outcome = data_text(data, "outcome");
    int64_t day = data_day(data, "date");
    int r = subject(obligations, data_text(data, "staff_id"), &staff, error);

    if (r == 0)
        r = review_kind(obligations, data_text(data, "kind"), &kind, error);
    if (r != 0)
        return r;
    if (day < text_day(staff.start_date))
        return reject(error, "bad_date", "the review is dated %s, before %.80s started (%s)",
                      data_text(data, "date"), staff.name, staff.start_date);
    if (day > obligations->today + 1)
        return reject(error, "bad_date",
                      "the review is dated %s, in the future: record it once it has happened",
                      data_text(data, "date"));
    if (kind->arises == KIND_RECURRING)
        return complete_recurring(obligations, &staff, kind, "", &kind->every,
                                  applies_to(obligations, &kind->applies, &staff), day, outcome);

    /*
     * A milestone step: the one named, or the earliest still to do.  Without
     * a step, a completion dated the same day as one already recorded is the
     * same completion sent again, and closes nothing more.
     */
    struct collected all;
    r = collect_of(obligations, staff.staff_id, kind->name, NULL, false, &all);
    if (r == 0) {
        struct obligation *open = NULL;
        bool again = false;
        for (size_t i = 0; i < all.count; i++) {
            struct obligation *o = &all.items[i];
            bool pending = o->state == OBLIGATION_OPEN || o->state == OBLIGATION_PAUSED;
            if (step == NULL && o->state == OBLIGATION_COMPLETED && o->closed_day == day)
                again = true;
            if (pending && open == NULL && (step == NULL || strcmp(o->step, step) == 0))
                open = o;
        }
        if (open && !again)
            r = close_obligation(obligations, open, OBLIGATION_COMPLETED, day,
                                 outcome ? outcome : "completed");
    }
    free(all.items);
    return r;
}

static int
review_booked(struct obligations *obligations, const struct event *event, struct event_error *error)
{
    const cJSON *data = event->data;
    struct dir_staff staff;
    const struct kind *kind;
    struct collected all;
    struct obligation *open = NULL;
    const char *step = data_text(data, "step");
    int64_t day = data_day(data, "date");
    int64_t at = event->has_time ? event->time_ms : obligations->now_ms;
    int64_t last;
    bool same;
    int r = subject(obligations, data_text(data, "staff_id"), &staff, error);

    if (r == 0)
        r = review_kind(obligations, data_text(data, "kind"), &kind, error);
    if (r != 0)
        return r;
    r = collect_of(obligations, staff.staff_id, kind->name, NULL, false, &all);
    if (r < 0)
        goto done;
    last_completion(&all, &last, &same, day);
    for (size_t i = 0; i < all.count && open == NULL; i++) {
        struct obligation *o = &all.items[i];
        if ((o->state == OBLIGATION_OPEN || o->state == OBLIGATION_PAUSED) &&
            (step == NULL || strcmp(o->step, step) == 0))
            open = o;
    }
    /*
     * A booking for an occurrence already completed, or older than the
     * booking already recorded, changes nothing: bookings arriving late or
     * out of order end as if they had come in order.
     */
    if (open == NULL || (kind->arises == KIND_RECURRING && last != STORE_NO_DAY && day <= last) ||
        (open->booked_day != STORE_NO_DAY && at < open->booked_ms))
        goto done;
    if (open->booked_day == day)
        goto done;
    open->booked_day = day;
    open->booked_ms = at;
    open->updated_seq = obligations->seq;
    plan(obligations, open, true);
    r = store_obligation_update(obligations->writer, open);
    if (r == 0)
        r = audit_obligation(obligations, "obligation.booked", open, "booked", day);
done:
    free(all.items);
    return r;
}

static int
review_waived(struct obligations *obligations, const cJSON *data, struct event_error *error)
{
    struct dir_staff staff;
    const struct kind *kind;
    struct collected pending;
    struct obligation *open;
    const char *step = data_text(data, "step");
    int r = subject(obligations, data_text(data, "staff_id"), &staff, error);

    if (r == 0)
        r = review_kind(obligations, data_text(data, "kind"), &kind, error);
    if (r != 0)
        return r;
    r = collect_of(obligations, staff.staff_id, kind->name, NULL, true, &pending);
    if (r < 0)
        goto done;
    open = pick_pending(&pending, step);
    if (open == NULL) {
        r = reject(error, "nothing_open", "%.80s has no %s%s%s still to do that could be waived",
                   staff.name, kind->title, step ? " step " : "", step ? step : "");
        goto done;
    }
    r = close_obligation(obligations, open, OBLIGATION_WAIVED, obligations->today,
                         data_text(data, "reason"));
    if (r == 0 && kind->arises == KIND_RECURRING &&
        applies_to(obligations, &kind->applies, &staff)) {
        /* The waived occurrence is skipped: the next falls one interval after it. */
        struct obligation next;
        bool absent = false;
        r = absence_now(obligations, staff.staff_id, &absent);
        if (r == 0) {
            obligation_init(obligations, &next, staff.staff_id, kind,
                            schedule_add_period(open->due_day, &kind->every));
            next.occurrence = open->occurrence + 1;
            r = create(obligations, &next, absent);
        }
    }
done:
    free(pending.items);
    return r;
}

/* ---- Actions, training, concerns ---- */

static int
action_assigned(struct obligations *obligations, const cJSON *data, struct event_error *error)
{
    const char *action_id = data_text(data, "action_id");
    const char *kind_name = data_text(data, "kind");
    const char *responsible = data_text(data, "responsible_id");
    const struct kind *kind = NULL;
    struct dir_staff staff;
    struct obligation obligation;
    int64_t existing;
    int r = subject(obligations, data_text(data, "staff_id"), &staff, error);

    if (r != 0)
        return r;
    if (kind_name) {
        kind = kinds_find(obligations->kinds, kind_name);
        if (kind == NULL || kind->arises != KIND_ASSIGNED)
            return reject(error, "unknown_kind",
                          "\"%.60s\" is not a kind of assigned action in the configuration",
                          kind_name);
    } else {
        for (int i = 0; i < obligations->kinds->kind_count && kind == NULL; i++)
            if (obligations->kinds->kinds[i].arises == KIND_ASSIGNED)
                kind = &obligations->kinds->kinds[i];
        if (kind == NULL)
            return reject(error, "unknown_kind",
                          "the configuration has no kind of assigned action (a kind with "
                          "assigned = true)");
    }
    if (staff.left_date[0] != '\0')
        return reject(error, "staff_left", "%.80s left on %s; actions cannot be assigned to them",
                      staff.name, staff.left_date);
    r = store_action_get(obligations->writer, action_id, &existing);
    if (r == 0) {
        /* Assigned again: a new title, due date or responsible person for the same action. */
        r = store_obligation_get(obligations->writer, existing, &obligation);
        if (r < 0)
            return r;
        if (strcmp(obligation.staff_id, staff.staff_id) != 0)
            return reject(error, "conflict", "action \"%.80s\" was assigned to someone else",
                          action_id);
        if (obligation.state != OBLIGATION_OPEN && obligation.state != OBLIGATION_PAUSED)
            return 0;
        directory_copy_text(obligation.title, sizeof(obligation.title), data_text(data, "title"));
        directory_copy_text(obligation.responsible_id, sizeof(obligation.responsible_id),
                            responsible);
        if (obligation.due_day != data_day(data, "due_date")) {
            /* A new due date: its reminders and escalations start again. */
            obligation.due_day = data_day(data, "due_date");
            obligation.generation++;
            obligation.reminders_done = 0;
            obligation.escalations_done = 0;
            plan(obligations, &obligation, true);
        }
        obligation.updated_seq = obligations->seq;
        r = store_obligation_update(obligations->writer, &obligation);
        if (r == 0)
            r = audit_obligation(obligations, "action.changed", &obligation, NULL, 0);
        return r;
    }
    if (r != -ENOENT)
        return r;
    bool absent = false;
    r = absence_now(obligations, staff.staff_id, &absent);
    if (r < 0)
        return r;
    obligation_init(obligations, &obligation, staff.staff_id, kind, data_day(data, "due_date"));
    directory_copy_text(obligation.item, sizeof(obligation.item), action_id);
    directory_copy_text(obligation.title, sizeof(obligation.title), data_text(data, "title"));
    directory_copy_text(obligation.responsible_id, sizeof(obligation.responsible_id), responsible);
    r = create(obligations, &obligation, absent);
    if (r == 0)
        r = store_action_put(obligations->writer, action_id, obligation.id);
    if (r == 0)
        r = audit_obligation(obligations, "action.assigned", &obligation, NULL, 0);
    return r;
}

static int
action_completed(struct obligations *obligations, const cJSON *data, struct event_error *error)
{
    const char *action_id = data_text(data, "action_id");
    struct obligation obligation;
    int64_t id;
    int r = store_action_get(obligations->writer, action_id, &id);

    if (r == -ENOENT)
        return reject(error, "unknown_action",
                      "no action \"%.80s\" has been assigned; send action.assigned first",
                      action_id);
    if (r == 0)
        r = store_obligation_get(obligations->writer, id, &obligation);
    if (r < 0)
        return r;
    if (data_day(data, "date") > obligations->today + 1)
        return reject(error, "bad_date",
                      "the action is dated %s, in the future: record it once it is done",
                      data_text(data, "date"));
    if (obligation.state != OBLIGATION_OPEN && obligation.state != OBLIGATION_PAUSED)
        return 0; /* completed already (or cancelled): the same outcome */
    return close_obligation(obligations, &obligation, OBLIGATION_COMPLETED, data_day(data, "date"),
                            "completed");
}

static int
training_completed(struct obligations *obligations, const cJSON *data, struct event_error *error)
{
    const char *name = data_text(data, "course");
    const struct course *course = kinds_find_course(obligations->kinds, name);
    int64_t day = data_day(data, "date");
    struct dir_staff staff;
    int r = subject(obligations, data_text(data, "staff_id"), &staff, error);

    if (r != 0)
        return r;
    if (course == NULL || obligations->kinds->training == NULL)
        return reject(error, "unknown_course",
                      "\"%.60s\" is not a course in the configuration's course catalogue", name);
    if (day < text_day(staff.start_date))
        return reject(error, "bad_date", "the training is dated %s, before %.80s started (%s)",
                      data_text(data, "date"), staff.name, staff.start_date);
    if (day > obligations->today + 1)
        return reject(error, "bad_date",
                      "the training is dated %s, in the future: record it once it has happened",
                      data_text(data, "date"));
    return complete_recurring(obligations, &staff, obligations->kinds->training, course->name,
                              &course->valid, applies_to(obligations, &course->applies, &staff),
                              day, "completed");
}

/* Records a concern opened or closed in the audit trail. */
static int
audit_concern(struct obligations *obligations, const char *what, const struct concern *concern,
              const char *outcome)
{
    struct audit_details details;

    audit_details_init(&details);
    audit_details_string(&details, "concern_id", concern->concern_id);
    audit_details_day(&details, "opened", concern->opened_day);
    if (concern->closed_day != STORE_NO_DAY)
        audit_details_day(&details, "closed", concern->closed_day);
    if (outcome != NULL && outcome[0] != '\0')
        audit_details_string(&details, "outcome", outcome);
    return store_audit(obligations->writer, what, concern->staff_id, NULL,
                       audit_details_text(&details));
}

/* Records an absence started or ended in the audit trail. */
static int
audit_absence(struct obligations *obligations, const char *what, const struct absence *absence)
{
    struct audit_details details;

    audit_details_init(&details);
    audit_details_string(&details, "absence_id", absence->absence_id);
    audit_details_string(&details, "kind", absence->kind);
    audit_details_day(&details, "start", absence->start_day);
    if (absence->end_day != STORE_NO_DAY)
        audit_details_day(&details, "end", absence->end_day);
    return store_audit(obligations->writer, what, absence->staff_id, NULL,
                       audit_details_text(&details));
}

static int
concern_opened(struct obligations *obligations, const cJSON *data, struct event_error *error)
{
    struct concern concern;
    struct dir_staff staff;
    const char *concern_id = data_text(data, "concern_id");
    bool absent = false;
    int r = subject(obligations, data_text(data, "staff_id"), &staff, error);

    if (r != 0)
        return r;
    r = store_concern_get(obligations->writer, concern_id, &concern);
    if (r == 0) {
        if (strcmp(concern.staff_id, staff.staff_id) != 0)
            return reject(error, "conflict", "concern \"%.80s\" was opened about someone else",
                          concern_id);
        return 0; /* opened already */
    }
    if (r != -ENOENT)
        return r;
    memset(&concern, 0, sizeof(concern));
    directory_copy_text(concern.concern_id, sizeof(concern.concern_id), concern_id);
    directory_copy_text(concern.staff_id, sizeof(concern.staff_id), staff.staff_id);
    concern.opened_day = data_day(data, "date");
    concern.closed_day = STORE_NO_DAY;
    r = store_concern_put(obligations->writer, &concern, NULL);
    if (r == 0)
        r = audit_concern(obligations, "concern.opened", &concern, NULL);
    if (r == 0)
        r = absence_now(obligations, staff.staff_id, &absent);
    for (int i = 0; r == 0 && i < obligations->kinds->kind_count; i++) {
        const struct kind *kind = &obligations->kinds->kinds[i];
        if (kind->arises == KIND_MILESTONE && kind->trigger == TRIGGER_CONCERN_OPENED &&
            applies_to(obligations, &kind->applies, &staff))
            r = start_milestones(obligations, staff.staff_id, kind, concern.opened_day, concern_id,
                                 absent);
    }
    return r;
}

static int
concern_closed(struct obligations *obligations, const cJSON *data, struct event_error *error)
{
    const char *concern_id = data_text(data, "concern_id");
    struct concern concern;
    struct collected pending;
    char reason[64];
    int r = store_concern_get(obligations->writer, concern_id, &concern);

    if (r == -ENOENT)
        return reject(error, "unknown_concern",
                      "no concern \"%.80s\" has been opened; send concern.opened first",
                      concern_id);
    if (r < 0)
        return r;
    if (concern.closed_day != STORE_NO_DAY)
        return 0;
    concern.closed_day = data_day(data, "date");
    if (concern.closed_day < concern.opened_day)
        return reject(error, "bad_date", "the concern is closed before it was opened");
    r = store_concern_put(obligations->writer, &concern, data_text(data, "outcome"));
    if (r == 0)
        r = audit_concern(obligations, "concern.closed", &concern, data_text(data, "outcome"));
    if (r < 0)
        return r;
    snprintf(reason, sizeof(reason), "the concern was closed on %s", data_text(data, "date"));
    r = collect_of(obligations, concern.staff_id, NULL, concern_id, true, &pending);
    if (r == 0)
        r = cancel_all(obligations, &pending, reason);
    free(pending.items);
    return r;
}

/* ---- Absences ---- */

struct absence_probe {
    int64_t today;
    bool absent;
};

static int
probe_absence(void *context, const struct absence *absence)
{
    struct absence_probe *probe = context;

    if (absence->end_day == STORE_NO_DAY && absence->start_day <= probe->today) {
        probe->absent = true;
        return 1;
    }
    return 0;
}

static int
absence_now(struct obligations *obligations, const char *staff_id, bool *absent)
{
    struct absence_probe probe = {obligations->today, false};
    int r = store_absences_of(obligations->writer, staff_id, probe_absence, &probe);

    *absent = probe.absent;
    return r < 0 ? r : 0;
}

static int
absence_started(struct obligations *obligations, const cJSON *data, struct event_error *error)
{
    struct absence absence, existing;
    struct dir_staff staff;
    struct collected pending;
    int r = subject(obligations, data_text(data, "staff_id"), &staff, error);

    if (r != 0)
        return r;
    memset(&absence, 0, sizeof(absence));
    directory_copy_text(absence.absence_id, sizeof(absence.absence_id),
                        data_text(data, "absence_id"));
    directory_copy_text(absence.staff_id, sizeof(absence.staff_id), staff.staff_id);
    directory_copy_text(absence.kind, sizeof(absence.kind), data_text(data, "kind"));
    absence.start_day = data_day(data, "start_date");
    absence.end_day = STORE_NO_DAY;
    r = store_absence_get(obligations->writer, absence.absence_id, &existing);
    if (r == 0) {
        if (strcmp(existing.staff_id, staff.staff_id) != 0)
            return reject(error, "conflict", "absence \"%.80s\" belongs to someone else",
                          absence.absence_id);
        if (existing.start_day != absence.start_day || strcmp(existing.kind, absence.kind) != 0)
            return reject(error, "conflict",
                          "absence \"%.80s\" was recorded with another kind or start date; "
                          "carehub does not change a recorded absence (send a new absence_id)",
                          absence.absence_id);
        return 0; /* the same start, sent again */
    }
    if (r != -ENOENT)
        return r;
    r = store_absence_overlaps(obligations->writer, staff.staff_id, absence.absence_id,
                               absence.start_day, STORE_NO_DAY);
    if (r < 0)
        return r;
    if (r == 1)
        return reject(error, "overlapping_absence",
                      "%.80s already has an absence that overlaps one starting %s; end it first",
                      staff.name, data_text(data, "start_date"));
    r = store_absence_put(obligations->writer, &absence);
    if (r == 0)
        r = audit_absence(obligations, "absence.started", &absence);
    if (r < 0)
        return r;
    r = collect_of(obligations, staff.staff_id, NULL, NULL, true, &pending);
    for (size_t i = 0; r == 0 && i < pending.count; i++) {
        struct obligation *o = &pending.items[i];
        const struct kind *kind = kind_of(obligations, o);
        if (o->state != OBLIGATION_OPEN || kind == NULL || kind->during_absence == ABSENCE_CONTINUE)
            continue;
        o->state = OBLIGATION_PAUSED;
        o->paused_day = absence.start_day;
        o->next_ms = 0;
        o->updated_seq = obligations->seq;
        r = store_obligation_update(obligations->writer, o);
        if (r == 0)
            r = audit_obligation(obligations, "obligation.paused", o, "day", o->paused_day);
    }
    free(pending.items);
    return r;
}

static bool
absence_kind_listed(const struct kind *kind, const char *absence_kind)
{
    if (kind->absence_kind_count == 0)
        return true;
    for (int i = 0; i < kind->absence_kind_count; i++)
        if (strcmp(kind->absence_kinds[i], absence_kind) == 0)
            return true;
    return false;
}

static int
absence_ended(struct obligations *obligations, const cJSON *data, struct event_error *error)
{
    const char *absence_id = data_text(data, "absence_id");
    struct absence absence;
    struct dir_staff staff;
    struct collected pending;
    int64_t end = data_day(data, "end_date");
    int r = subject(obligations, data_text(data, "staff_id"), &staff, error);

    if (r != 0)
        return r;
    r = store_absence_get(obligations->writer, absence_id, &absence);
    if (r == -ENOENT)
        return reject(error, "unknown_absence",
                      "no absence \"%.80s\" has started; send absence.started first", absence_id);
    if (r < 0)
        return r;
    if (strcmp(absence.staff_id, staff.staff_id) != 0)
        return reject(error, "conflict", "absence \"%.80s\" belongs to someone else", absence_id);
    if (absence.end_day != STORE_NO_DAY) {
        if (absence.end_day != end)
            return reject(error, "conflict",
                          "absence \"%.80s\" was already recorded as ended on another day; "
                          "carehub does not change a recorded end date",
                          absence_id);
        return 0; /* the same end, sent again */
    }
    if (end < absence.start_day)
        return reject(error, "bad_date", "the absence ends (%s) before it started",
                      data_text(data, "end_date"));
    r = store_absence_overlaps(obligations->writer, staff.staff_id, absence_id, absence.start_day,
                               end);
    if (r < 0)
        return r;
    if (r == 1)
        return reject(error, "overlapping_absence",
                      "ending on %s, this absence would overlap another of %.80s's absences",
                      data_text(data, "end_date"), staff.name);
    absence.end_day = end;
    r = store_absence_put(obligations->writer, &absence);
    if (r == 0)
        r = audit_absence(obligations, "absence.ended", &absence);
    if (r < 0)
        return r;
    r = collect_of(obligations, staff.staff_id, NULL, NULL, true, &pending);
    for (size_t i = 0; r == 0 && i < pending.count; i++) {
        struct obligation *o = &pending.items[i];
        const struct kind *kind = kind_of(obligations, o);
        if (o->state != OBLIGATION_PAUSED)
            continue;
        if (kind && kind->during_absence == ABSENCE_RESTART && kind->arises == KIND_RECURRING) {
            struct obligation next;
            r = close_obligation(obligations, o, OBLIGATION_CANCELLED, end + 1,
                                 "started again after an absence");
            if (r < 0)
                break;
            obligation_init(obligations, &next, staff.staff_id, kind,
                            schedule_add_period(end + 1, &kind->first));
            directory_copy_text(next.item, sizeof(next.item), o->item);
            next.occurrence = o->occurrence + 1;
            r = create(obligations, &next, false);
            continue;
        }
        /*
         * Shift: the due date moves on by the length of the absence (its
         * first to its last day) and a booking is void.  Reminders start
         * again for the new date (a new generation, so none is confused with
         * one already sent).
         */
        o->due_day += end - absence.start_day + 1;
        o->booked_day = STORE_NO_DAY;
        o->generation++;
        o->reminders_done = 0;
        o->escalations_done = 0;
        o->state = OBLIGATION_OPEN;
        o->paused_day = STORE_NO_DAY;
        o->updated_seq = obligations->seq;
        plan(obligations, o, true);
        r = store_obligation_update(obligations->writer, o);
        if (r == 0)
            r = audit_obligation(obligations, "obligation.resumed", o, "due", o->due_day);
    }
    free(pending.items);
    for (int i = 0; r == 0 && i < obligations->kinds->kind_count; i++) {
        const struct kind *kind = &obligations->kinds->kinds[i];
        if (kind->arises == KIND_MILESTONE && kind->trigger == TRIGGER_ABSENCE_ENDED &&
            absence_kind_listed(kind, absence.kind) &&
            applies_to(obligations, &kind->applies, &staff))
            r = start_milestones(obligations, staff.staff_id, kind, end + 1, absence_id, false);
    }
    return r;
}

int
obligations_apply(struct obligations *obligations, const struct event *event, int64_t seq,
                  const struct dir_staff *before, const struct dir_staff *after,
                  struct event_error *error)
{
    const cJSON *data = event->data;

    obligations->seq = seq;
    switch (event->type) {
    case EVENT_STAFF_HIRED:
        if (before != NULL && before->left_date[0] == '\0')
            return staff_changed(obligations, before, after); /* sent again while employed */
        return staff_hired(obligations, after);
    case EVENT_STAFF_CHANGED:
        if (before == NULL || after->left_date[0] != '\0')
            return 0;
        return staff_changed(obligations, before, after);
    case EVENT_STAFF_LEFT:
        return staff_left(obligations, after);
    case EVENT_REVIEW_BOOKED:
        return review_booked(obligations, event, error);
    case EVENT_REVIEW_COMPLETED:
        return review_completed(obligations, data, error);
    case EVENT_REVIEW_WAIVED:
        return review_waived(obligations, data, error);
    case EVENT_ACTION_ASSIGNED:
        return action_assigned(obligations, data, error);
    case EVENT_ACTION_COMPLETED:
        return action_completed(obligations, data, error);
    case EVENT_TRAINING_COMPLETED:
        return training_completed(obligations, data, error);
    case EVENT_CONCERN_OPENED:
        return concern_opened(obligations, data, error);
    case EVENT_CONCERN_CLOSED:
        return concern_closed(obligations, data, error);
    case EVENT_ABSENCE_STARTED:
        return absence_started(obligations, data, error);
    case EVENT_ABSENCE_ENDED:
        return absence_ended(obligations, data, error);
    default:
        return 0;
    }
}

/* ---- The scheduler's step ---- */

struct recipients {
    int count;
    char ids[RECIPIENTS_MAX][DIR_ID_SIZE];
};

static void
add_recipient(struct recipients *list, const char *id, const char *subject_id)
{
    if (id[0] == '\0' || strcmp(id, subject_id) == 0 || list->count == RECIPIENTS_MAX)
        return;
    for (int i = 0; i < list->count; i++)
        if (strcmp(list->ids[i], id) == 0)
            return;
    directory_copy_text(list->ids[list->count], sizeof(list->ids[0]), id);
    list->count++;
}

/* The line manager of staff_id into out ("" when none). */
static int
manager_above(struct obligations *obligations, const char *staff_id, char out[DIR_ID_SIZE])
{
    struct dir_staff staff;
    enum dir_via via;
    int r;

    out[0] = '\0';
    r = staff_get(obligations, staff_id, &staff);
    if (r == -ENOENT)
        return 0;
    if (r == 0)
        r = directory_manager_of(obligations->directory, &staff, out, &via);
    if (r == -ENOENT || r == -ELOOP) {
        out[0] = '\0';
        return 0;
    }
    return r;
}

/* The first manager above staff_id (not staff_id themself) whose role is role, into out. */
static int
nearest_with_role(struct obligations *obligations, const char *staff_id, const char *role,
                  char out[DIR_ID_SIZE])
{
    char current[DIR_ID_SIZE];
    struct dir_staff staff;

    out[0] = '\0';
    directory_copy_text(current, sizeof(current), staff_id);
    for (int depth = 0; depth < DIR_DEPTH_MAX; depth++) {
        char above[DIR_ID_SIZE];
        int r = manager_above(obligations, current, above);
        if (r < 0)
            return r;
        memcpy(current, above, sizeof(current));
        if (current[0] == '\0' || strcmp(current, staff_id) == 0)
            return 0;
        r = staff_get(obligations, current, &staff);
        if (r == -ENOENT)
            return 0;
        if (r < 0)
            return r;
        if (staff.left_date[0] == '\0' && strcmp(staff.role, role) == 0) {
            directory_copy_text(out, DIR_ID_SIZE, current);
            return 0;
        }
    }
    return 0;
}

/* An active staff member with this id? */
static bool
active(struct obligations *obligations, const char *staff_id)
{
    struct dir_staff staff;

    return staff_id[0] != '\0' && staff_get(obligations, staff_id, &staff) == 0 &&
           staff.left_date[0] == '\0';
}

/* Whoever answers for an obligation: its named responsible person, else the line manager. */
static int
responsible_for(struct obligations *obligations, const struct obligation *obligation,
                char out[DIR_ID_SIZE])
{
    if (strcmp(obligation->responsible_id, obligation->staff_id) != 0 &&
        active(obligations, obligation->responsible_id)) {
        directory_copy_text(out, DIR_ID_SIZE, obligation->responsible_id);
        return 0;
    }
    return manager_above(obligations, obligation->staff_id, out);
}

static int
add_role_holder(void *context, const struct dir_staff *staff)
{
    struct role_holders *holders = context;

    if (holders->count < ROLE_RECIPIENTS_MAX)
        directory_copy_text(holders->ids[holders->count++], DIR_ID_SIZE, staff->staff_id);
    return 0;
}

/* Everyone with the role (at most ROLE_RECIPIENTS_MAX), read once per transaction. */
static int
role_holders(struct obligations *obligations, const char *role, const struct role_holders **out)
{
    struct role_holders *holders;
    int max = (int)(sizeof(obligations->roles) / sizeof(obligations->roles[0]));
    int r;

    for (int i = 0; i < obligations->role_count; i++) {
        if (strcmp(obligations->roles[i].role, role) == 0) {
            *out = &obligations->roles[i];
            return 0;
        }
    }
    if (obligations->role_count == max)
        obligations->role_count = 0; /* more roles than any configuration names: start again */
    holders = &obligations->roles[obligations->role_count];
    memset(holders, 0, sizeof(*holders));
    directory_copy_text(holders->role, sizeof(holders->role), role);
    r = store_staff_with_role(obligations->writer, role, ROLE_RECIPIENTS_MAX, add_role_holder,
                              holders);
    if (r < 0)
        return r;
    obligations->role_count++;
    *out = holders;
    return 0;
}

/*
 * Whom an action tells.  A target that names nobody (no manager two levels
 * up, a role nobody holds, someone who left) passes to the next person up
 * the chain, so an escalation always reaches someone when anyone is there.
 */
static int
resolve_recipients(struct obligations *obligations, const struct obligation *obligation,
                   const struct kind *kind, const struct schedule_action *action,
                   struct recipients *out)
{
    char responsible[DIR_ID_SIZE];
    int r = responsible_for(obligations, obligation, responsible);

    out->count = 0;
    if (r < 0)
        return r;
    if (action->type == SCHEDULE_REMINDER) {
        add_recipient(out, responsible, obligation->staff_id);
        return 0;
    }
    const struct escalation_step *step = &kind->escalations[action->step];
    for (int t = 0; t < step->target_count; t++) {
        const struct escalation_target *target = &step->targets[t];
        int before = out->count;
        bool named = false; /* the target names someone, even someone already told */
        char person[DIR_ID_SIZE];
        switch (target->type) {
        case TARGET_MANAGER:
            named = responsible[0] != '\0';
            add_recipient(out, responsible, obligation->staff_id);
            break;
        case TARGET_MANAGER_UP:
            directory_copy_text(person, sizeof(person), responsible);
            for (int level = 0; r == 0 && level < target->levels && person[0] != '\0'; level++) {
                char above[DIR_ID_SIZE];
                r = manager_above(obligations, person, above);
                if (r == 0 && above[0] == '\0')
                    break; /* the top of the chain: tell the highest there is */
                if (r == 0)
                    directory_copy_text(person, sizeof(person), above);
            }
            if (r < 0)
                return r;
            named = person[0] != '\0' && strcmp(person, obligation->staff_id) != 0;
            add_recipient(out, person, obligation->staff_id);
            break;
        case TARGET_ROLE: {
            /*
             * The nearest person up the management chain who holds the role
             * (the registered manager of this person's service); only when
             * nobody in the chain does, everyone who holds it.
             */
            r = nearest_with_role(obligations, obligation->staff_id, target->name, person);
            if (r < 0)
                return r;
            if (person[0] != '\0') {
                named = true;
                add_recipient(out, person, obligation->staff_id);
                break;
            }
            const struct role_holders *holders;
            r = role_holders(obligations, target->name, &holders);
            if (r < 0)
                return r;
            for (int h = 0; h < holders->count; h++) {
                if (strcmp(holders->ids[h], obligation->staff_id) != 0)
                    named = true;
                add_recipient(out, holders->ids[h], obligation->staff_id);
            }
            break;
        }
        case TARGET_STAFF:
            named = active(obligations, target->name) &&
                    strcmp(target->name, obligation->staff_id) != 0;
            if (named)
                add_recipient(out, target->name, obligation->staff_id);
            break;
        }
        if (!named && out->count == before && responsible[0] != '\0') {
            /* Nobody there: the person above the responsible manager instead. */
            r = manager_above(obligations, responsible, person);
            if (r < 0)
                return r;
            add_recipient(out, person[0] ? person : responsible, obligation->staff_id);
        }
    }
    return 0;
}

void
obligations_describe(const struct kinds *kinds, const struct obligation *obligation, char *buf,
                     size_t size)
{
    const struct kind *kind = kinds_find(kinds, obligation->kind);

    if (obligation->title[0] != '\0') {
        snprintf(buf, size, "%s", obligation->title);
        return;
    }
    if (kind == NULL) {
        snprintf(buf, size, "%s", obligation->kind);
        return;
    }
    if (kind->arises == KIND_TRAINING) {
        const struct course *course = kinds_find_course(kinds, obligation->item);
        snprintf(buf, size, "%s training renewal", course ? course->title : obligation->item);
        return;
    }
    for (int i = 0; i < kind->step_count; i++) {
        if (strcmp(kind->steps[i].name, obligation->step) == 0) {
            snprintf(buf, size, "%s", kind->steps[i].title);
            return;
        }
    }
    snprintf(buf, size, "%s", kind->title);
}

void
obligations_text(const struct notification *n, const char *subject_name, const char *what,
                 int64_t today, char *buf, size_t size)
{
    char due[48], booked[48];
    int64_t target = n->due_day;
    size_t used;

    timefmt_format_day_long(n->due_day, due, sizeof(due));
    if (n->booked_day != STORE_NO_DAY) {
        timefmt_format_day_long(n->booked_day, booked, sizeof(booked));
        if (n->booked_day < target)
            target = n->booked_day;
    }
    if (strcmp(n->type, "reminder") == 0) {
        int64_t days = (n->booked_day != STORE_NO_DAY ? n->booked_day : n->due_day) - today;
        const char *ask = n->arises == KIND_TRAINING
                              ? "Please make sure they have a place on the course, and that it "
                                "is recorded when they have done it."
                          : n->arises == KIND_ASSIGNED
                              ? "Please check that it is on track, and record it when it is done."
                              : "Please book a time with them if you have not already, and "
                                "record it when it is done.";
        char when[64];
        if (days < 0)
            snprintf(when, sizeof(when), "%lld day%s ago", (long long)-days, days == -1 ? "" : "s");
        else if (days == 0)
            snprintf(when, sizeof(when), "today");
        else if (days == 1)
            snprintf(when, sizeof(when), "tomorrow");
        else
            snprintf(when, sizeof(when), "in %lld days", (long long)days);
        if (n->booked_day != STORE_NO_DAY && n->booked_day > n->due_day)
            snprintf(buf, size,
                     "%s for %s is booked for %s (%s), which is after the date it is due, %s. "
                     "Please make sure it goes ahead, and record it when it is done.",
                     what, subject_name, booked, when, due);
        else if (n->booked_day != STORE_NO_DAY)
            snprintf(buf, size,
                     "%s for %s is booked for %s (%s). It is due by %s. Please make sure it "
                     "goes ahead, and record it when it is done.",
                     what, subject_name, booked, when, due);
        else
            snprintf(buf, size, "%s for %s is due on %s (%s). %s", what, subject_name, due, when,
                     ask);
    } else {
        const char *ask = n->level <= 1
                              ? "Please arrange it as soon as you can, and record it when it is "
                                "done."
                              : "It has been passed to you because it is still not done. Please "
                                "check with their line manager that it happens soon.";
        if (n->booked_day != STORE_NO_DAY && n->booked_day < n->due_day)
            snprintf(buf, size,
                     "%s for %s is %d day%s overdue: it was booked for %s and has "
                     "not been recorded as done. %s",
                     what, subject_name, n->days_overdue, n->days_overdue == 1 ? "" : "s", booked,
                     ask);
        else if (n->booked_day != STORE_NO_DAY)
            snprintf(buf, size,
                     "%s for %s is %d day%s overdue: it was due on %s and is booked for %s. %s",
                     what, subject_name, n->days_overdue, n->days_overdue == 1 ? "" : "s", due,
                     booked, ask);
        else
            snprintf(buf, size, "%s for %s is %d day%s overdue: it was due on %s. %s", what,
                     subject_name, n->days_overdue, n->days_overdue == 1 ? "" : "s", due, ask);
    }
    used = strlen(buf);
    if (n->policy[0] != '\0' && used < size)
        snprintf(buf + used, size - used, "%s%s", OBLIGATIONS_POLICY_LEAD, n->policy);
}

static int
remember_notice(struct obligations *obligations, const struct notification *n)
{
    struct obligations_notice *notice;

    if (obligations->notice_count == obligations->notice_capacity) {
        size_t capacity = obligations->notice_capacity ? obligations->notice_capacity * 2 : 64;
        struct obligations_notice *grown = realloc(obligations->notices, capacity * sizeof(*grown));
        if (grown == NULL)
            return -ENOMEM;
        obligations->notices = grown;
        obligations->notice_capacity = capacity;
    }
    notice = &obligations->notices[obligations->notice_count++];
    notice->seq = n->seq;
    directory_copy_text(notice->type, sizeof(notice->type), n->type);
    directory_copy_text(notice->recipient_id, sizeof(notice->recipient_id), n->recipient_id);
    directory_copy_text(notice->kind, sizeof(notice->kind), n->kind);
    directory_copy_text(notice->item, sizeof(notice->item), n->item);
    directory_copy_text(notice->step, sizeof(notice->step), n->step);
    notice->level = n->level;
    return 0;
}

/*
 * An action's number within its obligation, unique for exactly-once: the
 * reminder or escalation, and the generation (a due date moved by an
 * absence starts its reminders again).
 */
static int
action_code(const struct obligation *obligation, const struct schedule_action *action)
{
    return 1000 * obligation->generation +
           (action->type == SCHEDULE_REMINDER ? action->index : 100 + action->index);
}

/*
 * Records a notification written to the outbox: about staff_id (a reminder
 * or escalation), or a team's KPI alert (team_id).
 */
static int
audit_notification(struct obligations *obligations, const struct notification *n,
                   const char *staff_id, const char *team_id)
{
    struct audit_details details;

    audit_details_init(&details);
    audit_details_int(&details, "notification", n->seq);
    audit_details_string(&details, "type", n->type);
    audit_details_string(&details, "recipient_id", n->recipient_id);
    if (n->obligation_id != 0)
        audit_details_int(&details, "obligation", n->obligation_id);
    audit_details_string(&details, staff_id ? "kind" : "metric", n->kind);
    if (team_id != NULL) {
        audit_details_string(&details, "period", n->step);
        audit_details_int(&details, "level", n->level);
    } else {
        audit_details_int(&details, "level", n->level);
    }
    return store_audit(obligations->writer, staff_id ? "notification.sent" : "kpi.alert", staff_id,
                       team_id, audit_details_text(&details));
}

/* Writes the notifications of one action, one per recipient. */
static int
send_action(struct obligations *obligations, const struct obligation *obligation,
            const struct kind *kind, const struct schedule_action *action)
{
    struct recipients recipients;
    struct notification n;
    struct dir_staff subject_record;
    char what[DIR_TEXT_SIZE + 32];
    int code = action_code(obligation, action);
    int r = resolve_recipients(obligations, obligation, kind, action, &recipients);

    if (r < 0)
        return r;
    if (recipients.count == 0) {
        obligations->missed++;
        return store_missed_insert(obligations->writer, obligation->id, code, action->at_ms,
                                   obligations->now_ms,
                                   "nobody to tell: no line manager or escalation target");
    }
    if (staff_get(obligations, obligation->staff_id, &subject_record) < 0)
        snprintf(subject_record.name, sizeof(subject_record.name), "%s", obligation->staff_id);
    obligations_describe(obligations->kinds, obligation, what, sizeof(what));
    memset(&n, 0, sizeof(n));
    n.created_ms = obligations->now_ms;
    n.planned_ms = action->at_ms;
    snprintf(n.type, sizeof(n.type), "%s",
             action->type == SCHEDULE_REMINDER ? "reminder" : "escalation");
    n.obligation_id = obligation->id;
    n.action = code;
    directory_copy_text(n.staff_id, sizeof(n.staff_id), obligation->staff_id);
    directory_copy_text(n.kind, sizeof(n.kind), obligation->kind);
    directory_copy_text(n.item, sizeof(n.item), obligation->item);
    directory_copy_text(n.step, sizeof(n.step), obligation->step);
    n.due_day = obligation->due_day;
    n.booked_day = obligation->booked_day;
    /* Counted as of the day it goes out, which is later than planned after a catch-up. */
    n.days_overdue = action->type == SCHEDULE_ESCALATION
                         ? (int)(obligations->today - obligation->target_day)
                         : 0;
    n.arises = (int)kind->arises;
    n.level = action->type == SCHEDULE_ESCALATION ? action->step + 1 : 0;
    directory_copy_text(n.policy, sizeof(n.policy), kind->policy);
    obligations_text(&n, subject_record.name, what, obligations->today, n.text, sizeof(n.text));
    for (int i = 0; i < recipients.count; i++) {
        directory_copy_text(n.recipient_id, sizeof(n.recipient_id), recipients.ids[i]);
        r = store_notification_insert(obligations->writer, &n);
        if (r == -EEXIST)
            continue; /* this action already went to this person */
        if (r == 0)
            r = remember_notice(obligations, &n);
        if (r == 0)
            r = audit_notification(obligations, &n, n.staff_id, NULL);
        if (r < 0)
            return r;
        obligations->sent++;
    }
    return 0;
}

/* Takes one obligation's due action: sends it (or records it missed) and plans the next. */
static int
take_action(struct obligations *obligations, struct obligation *obligation)
{
    const struct kind *kind = kind_of(obligations, obligation);
    int64_t horizon = (int64_t)obligations->kinds->calendar.missed_after_days * MS_PER_DAY;
    struct schedule_progress progress;
    struct schedule_action action;
    int r = 0;

    if (kind == NULL || obligation->state != OBLIGATION_OPEN) {
        obligation->next_ms = 0; /* its kind left the configuration: nothing more to send */
        return store_obligation_update(obligations->writer, obligation);
    }
    progress.reminders_done = obligation->reminders_done;
    progress.escalations_done = obligation->escalations_done;
    schedule_next(kind, &obligations->kinds->calendar, obligation->target_day, &progress, &action);
    if (action.type != SCHEDULE_NONE && action.at_ms <= obligations->now_ms) {
        /*
         * When the action after this one is due too (a catch-up after the
         * daemon was down or the clock jumped), this one is passed over:
         * people get the latest news once, not a run of messages about one
         * review.
         */
        struct schedule_progress after = progress;
        struct schedule_action following;
        schedule_mark_done(&after, &action);
        schedule_next(kind, &obligations->kinds->calendar, obligation->target_day, &after,
                      &following);
        bool superseded = following.type != SCHEDULE_NONE && following.at_ms <= obligations->now_ms;
        if (superseded) {
            /* Nothing to send: recorded below as done. */
        } else if (obligations->now_ms - action.at_ms > horizon) {
            obligations->missed++;
            r = store_missed_insert(
                obligations->writer, obligation->id, action_code(obligation, &action), action.at_ms,
                obligations->now_ms, "older than schedule.missed_after_days when it came up");
        } else {
            r = send_action(obligations, obligation, kind, &action);
        }
        if (r < 0)
            return r;
        schedule_mark_done(&progress, &action);
        schedule_next(kind, &obligations->kinds->calendar, obligation->target_day, &progress,
                      &action);
    }
    obligation->reminders_done = progress.reminders_done;
    obligation->escalations_done = progress.escalations_done;
    obligation->next_ms = action.type == SCHEDULE_NONE ? 0 : action.at_ms;
    return store_obligation_update(obligations->writer, obligation);
}

/* Orders obligations by their next action's moment, then by id. */
static bool
sooner(const struct obligation *a, const struct obligation *b)
{
    return a->next_ms < b->next_ms || (a->next_ms == b->next_ms && a->id < b->id);
}

static void
heap_down(struct obligation *heap, size_t count, size_t at)
{
    for (;;) {
        size_t least = at, left = 2 * at + 1, right = left + 1;
        if (left < count && sooner(&heap[left], &heap[least]))
            least = left;
        if (right < count && sooner(&heap[right], &heap[least]))
            least = right;
        if (least == at)
            return;
        struct obligation swap = heap[at];
        heap[at] = heap[least];
        heap[least] = swap;
        at = least;
    }
}

static void
heap_up(struct obligation *heap, size_t at)
{
    while (at > 0 && sooner(&heap[at], &heap[(at - 1) / 2])) {
        struct obligation swap = heap[at];
        heap[at] = heap[(at - 1) / 2];
        heap[(at - 1) / 2] = swap;
        at = (at - 1) / 2;
    }
}

/*
 * Actions go out strictly oldest first, across obligations: a chunk of the
 * earliest due obligations is read through the index and kept in a heap; an
 * obligation whose next action is also due goes back into the heap.  Only
 * what is no later than the chunk's last (the boundary) is taken before the
 * index is read again, since unread obligations may come before anything
 * later than that.
 */
int
obligations_run_due(struct obligations *obligations, int limit, bool *more)
{
    int done = 0;
    int r = 0;

    *more = false;
    for (;;) {
        struct collected due;
        int64_t boundary;
        memset(&due, 0, sizeof(due));
        r = store_obligations_due(obligations->writer, obligations->now_ms, DUE_CHUNK, collect,
                                  &due);
        if (r < 0 || due.count == 0) {
            free(due.items);
            return r;
        }
        /* Read in order, the chunk is already a heap. */
        boundary = due.count == DUE_CHUNK ? due.items[due.count - 1].next_ms : INT64_MAX;
        while (r == 0 && due.count > 0 && due.items[0].next_ms <= boundary) {
            struct obligation current = due.items[0];
            due.items[0] = due.items[--due.count];
            heap_down(due.items, due.count, 0);
            r = take_action(obligations, &current);
            if (r == 0 && current.next_ms != 0 && current.next_ms <= obligations->now_ms) {
                due.items[due.count++] = current; /* room: it was just taken out */
                heap_up(due.items, due.count - 1);
            }
            if (r == 0 && ++done >= limit) {
                *more = true;
                break;
            }
        }
        free(due.items);
        if (r < 0 || *more)
            return r;
    }
}

int
obligations_next_ms(struct obligations *obligations, int64_t *out_ms)
{
    return store_obligations_next_ms(obligations->writer, out_ms);
}

/*
 * A KPI alert about a team goes to the team's manager and, for each role
 * named, to the nearest holder of it from that manager up the chain (the
 * manager themself included), else to everyone who holds it.  With nobody
 * there, the manager of the nearest team above that has one.
 */
int
obligations_alert(struct obligations *obligations, const char *team_id,
                  const char (*roles)[KIND_NAME_MAX + 1], int role_count, struct notification *n)
{
    struct recipients recipients;
    struct dir_team team;
    char manager[DIR_ID_SIZE] = "";
    char current[DIR_ID_SIZE];
    int r;

    recipients.count = 0;
    directory_copy_text(current, sizeof(current), team_id);
    for (int depth = 0; depth < DIR_DEPTH_MAX && current[0] != '\0' && manager[0] == '\0';
         depth++) {
        r = obligations->directory->get_team(obligations->directory->context, current, &team);
        if (r == -ENOENT)
            break;
        if (r < 0)
            return r;
        if (team.manager_id[0] != '\0' && active(obligations, team.manager_id))
            directory_copy_text(manager, sizeof(manager), team.manager_id);
        directory_copy_text(current, sizeof(current), team.parent_id);
    }
    add_recipient(&recipients, manager, "");
    for (int i = 0; i < role_count; i++) {
        char person[DIR_ID_SIZE] = "";
        struct dir_staff staff;
        if (manager[0] != '\0') {
            r = staff_get(obligations, manager, &staff);
            if (r < 0 && r != -ENOENT)
                return r;
            if (r == 0 && strcmp(staff.role, roles[i]) == 0)
                directory_copy_text(person, sizeof(person), manager);
            else if ((r = nearest_with_role(obligations, manager, roles[i], person)) < 0)
                return r;
        }
        if (person[0] != '\0') {
            add_recipient(&recipients, person, "");
            continue;
        }
        const struct role_holders *holders;
        r = role_holders(obligations, roles[i], &holders);
        if (r < 0)
            return r;
        for (int h = 0; h < holders->count; h++)
            add_recipient(&recipients, holders->ids[h], "");
    }
    n->created_ms = obligations->now_ms;
    snprintf(n->type, sizeof(n->type), "alert");
    for (int i = 0; i < recipients.count; i++) {
        directory_copy_text(n->recipient_id, sizeof(n->recipient_id), recipients.ids[i]);
        r = store_notification_insert(obligations->writer, n);
        if (r == -EEXIST)
            continue;
        if (r == 0)
            r = remember_notice(obligations, n);
        if (r == 0)
            r = audit_notification(obligations, n, NULL, team_id);
        if (r < 0)
            return r;
    }
    return recipients.count;
}

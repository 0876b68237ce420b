#include "retention.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "audit.h"
#include "schedule.h"
#include "timefmt.h"

void
retention_init(struct retention *retention)
{
    memset(retention, 0, sizeof(*retention));
    retention->phase = RETENTION_IDLE;
    retention->last_day = STORE_NO_DAY;
}

int
retention_parse_time(const char *text, int *minutes)
{
    if (text == NULL || strlen(text) != 5 || text[2] != ':')
        return -EINVAL;
    for (int i = 0; i < 5; i++)
        if (i != 2 && (text[i] < '0' || text[i] > '9'))
            return -EINVAL;
    int hours = (text[0] - '0') * 10 + (text[1] - '0');
    int mins = (text[3] - '0') * 10 + (text[4] - '0');
    if (hours > 23 || mins > 59)
        return -EINVAL;
    *minutes = hours * 60 + mins;
    return 0;
}

int64_t
retention_next_ms(const struct retention *retention, const struct retention_policy *policy,
                  int64_t now_ms)
{
    int64_t today = schedule_local_day(now_ms);

    if (policy->left_staff_days == 0 && policy->event_days == 0)
        return 0;
    if (retention->phase != RETENTION_IDLE)
        return now_ms;
    if (retention->last_day == STORE_NO_DAY || retention->last_day < today)
        return schedule_local_ms(today, policy->run_at);
    return schedule_local_ms(today + 1, policy->run_at);
}

static void
format_day(int64_t day, char *out, size_t size)
{
    struct civil_date date;

    timefmt_civil_from_days(day, &date);
    snprintf(out, size, "%04d-%02d-%02d", date.year, date.month, date.day);
}

/* Starts a run: works out the cut-off day and time, and how far the events go. */
static int
start_run(struct retention *retention, const struct retention_policy *policy, struct store *writer,
          int64_t today)
{
    retention->last_day = today;
    retention->staff_removed = 0;
    retention->events_blanked = 0;
    retention->events_after = 0;
    retention->left_before[0] = '\0';
    if (policy->left_staff_days > 0)
        format_day(today - policy->left_staff_days, retention->left_before,
                   sizeof(retention->left_before));
    retention->events_before_ms =
        policy->event_days > 0 ? schedule_local_ms(today - policy->event_days, 0) : INT64_MIN;
    retention->phase = RETENTION_STAFF;
    return store_events_last_seq(writer, &retention->events_last);
}

struct due_list {
    char ids[RETENTION_STAFF_PER_STEP][DIR_ID_SIZE];
    int count;
};

static int
collect_due(void *context, const char *staff_id)
{
    struct due_list *list = context;

    if (list->count < RETENTION_STAFF_PER_STEP)
        directory_copy_text(list->ids[list->count++], DIR_ID_SIZE, staff_id);
    return 0;
}

/* Removes the details of the next staff members due; moves on when none are left. */
static int
staff_step(struct retention *retention, struct store *writer, int64_t *removed)
{
    struct due_list list;
    int r;

    list.count = 0;
    if (retention->left_before[0] == '\0') {
        retention->phase = RETENTION_EVENTS;
        return 0;
    }
    r = store_retention_staff_due(writer, retention->left_before, RETENTION_STAFF_PER_STEP,
                                  collect_due, &list);
    for (int i = 0; r == 0 && i < list.count; i++) {
        struct audit_details details;
        int64_t rows = 0;
        r = store_retention_remove_staff(writer, list.ids[i], &rows);
        if (r < 0)
            break;
        audit_details_init(&details);
        audit_details_string(&details, "left_before", retention->left_before);
        audit_details_int(&details, "rows", rows);
        r = store_audit(writer, "retention.removed", list.ids[i], NULL,
                        audit_details_text(&details));
    }
    if (r < 0)
        return r;
    *removed = list.count;
    retention->staff_removed += list.count;
    if (list.count < RETENTION_STAFF_PER_STEP)
        retention->phase = RETENTION_EVENTS;
    return 0;
}

/* Empties the payloads of the next events that are too old or about someone removed. */
static int
events_step(struct retention *retention, struct store *writer)
{
    int64_t through = retention->events_after + RETENTION_EVENTS_PER_STEP;
    int64_t blanked = 0;
    int r = 0;

    if (through > retention->events_last)
        through = retention->events_last;
    if (retention->events_before_ms != INT64_MIN)
        r = store_retention_events(writer, false, retention->events_after, through,
                                   retention->events_before_ms, &blanked);
    retention->events_blanked += blanked;
    /* Events about someone removed in an earlier run were emptied then. */
    if (r == 0 && retention->staff_removed > 0)
        r = store_retention_events(writer, true, retention->events_after, through, 0, &blanked);
    if (r < 0)
        return r;
    retention->events_blanked += blanked;
    retention->events_after = through;
    if (through >= retention->events_last ||
        (retention->events_before_ms == INT64_MIN && retention->staff_removed == 0))
        retention->phase = RETENTION_IDLE;
    return 0;
}

int
retention_step(struct retention *retention, const struct retention_policy *policy,
               struct store *writer, int64_t now_ms, int64_t *removed, bool *more, bool *finished)
{
    struct retention saved = *retention;
    int64_t next = retention_next_ms(retention, policy, now_ms);
    int r = 0;

    *removed = 0;
    *more = false;
    *finished = false;
    if (next == 0 || next > now_ms)
        return 0;
    store_audit_cause(writer, "retention", NULL, false, 0, now_ms);
    /* Pages this step frees are zeroed as well, not only the text within pages. */
    r = store_secure_delete(writer, true);
    if (r == 0 && retention->phase == RETENTION_IDLE)
        r = start_run(retention, policy, writer, schedule_local_day(now_ms));
    if (r == 0 && retention->phase == RETENTION_STAFF)
        r = staff_step(retention, writer, removed);
    else if (r == 0 && retention->phase == RETENTION_EVENTS)
        r = events_step(retention, writer);
    int restored = store_secure_delete(writer, false);
    if (r == 0)
        r = restored;
    if (r < 0) {
        *retention = saved; /* the transaction is rolled back: this step runs again */
        *removed = 0;
        return r;
    }
    *more = retention->phase != RETENTION_IDLE;
    *finished = !*more;
    return 0;
}

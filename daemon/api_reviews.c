/*
 * The api module's ops about review obligations: due, overdue, person,
 * notifications, ack and the test clock (docs/protocol.md).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_internal.h"
#include "log.h"
#include "obligations.h"
#include "schedule.h"
#include "timefmt.h"
#include "wire.h"

/* The most obligations or notifications one reply lists. */
#define LIST_LIMIT_DEFAULT 200
#define LIST_LIMIT_MAX 10000

static int64_t
today(struct daemon *daemon)
{
    return schedule_local_day(clock_now_ms(&daemon->clock));
}

static void
format_day(int64_t day, char buf[16])
{
    struct civil_date date;

    timefmt_civil_from_days(day, &date);
    snprintf(buf, 16, "%04d-%02d-%02d", date.year % 10000, date.month, date.day);
}

void
api_add_day(cJSON *object, const char *name, int64_t day)
{
    char text[16];

    if (day == STORE_NO_DAY) {
        cJSON_AddNullToObject(object, name);
        return;
    }
    format_day(day, text);
    cJSON_AddStringToObject(object, name, text);
}

/*
 * Reads an optional integer field into *out (default when absent).  Replies
 * bad_request and returns false when it is not a whole number in [min, max].
 */
bool
api_optional_integer(struct daemon *daemon, const struct bus_route *route, const cJSON *request,
                     const cJSON *id, const char *name, long long min, long long max,
                     long long *out)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(request, name);
    char message[160];

    if (item == NULL)
        return true;
    if (cJSON_IsNumber(item) && isfinite(item->valuedouble) && item->valuedouble >= (double)min &&
        item->valuedouble <= (double)max && item->valuedouble == floor(item->valuedouble)) {
        *out = (long long)item->valuedouble;
        return true;
    }
    snprintf(message, sizeof(message), "\"%s\" must be a whole number from %lld to %lld", name, min,
             max);
    api_send_error(daemon, route, id, WIRE_E_BAD_REQUEST, message);
    return false;
}

/* An optional id field: NULL when absent; replies bad_request and sets *bad when malformed. */
const char *
api_optional_id(struct daemon *daemon, const struct bus_route *route, const cJSON *request,
                const cJSON *id, const char *name, bool *bad)
{
    if (cJSON_GetObjectItemCaseSensitive(request, name) == NULL)
        return NULL;
    const char *value = api_required_id(daemon, route, request, id, name);
    *bad = value == NULL;
    return value;
}

/* Overdue: open, and past its date by more than its kind's grace period. */
static bool
is_overdue(struct daemon *daemon, const struct obligation *o, int64_t now)
{
    const struct kind *kind = kinds_find(&daemon->config.kinds, o->kind);

    return o->state == OBLIGATION_OPEN && o->target_day + (kind ? kind->grace_days : 0) < now;
}

/* One obligation as the API shows it. */
static cJSON *
obligation_json(struct daemon *daemon, const struct obligation *o, const char *name, int64_t now)
{
    cJSON *object = cJSON_CreateObject();
    char what[DIR_TEXT_SIZE + 32];

    obligations_describe(&daemon->config.kinds, o, what, sizeof(what));
    cJSON_AddNumberToObject(object, "obligation_id", (double)o->id);
    cJSON_AddStringToObject(object, "staff_id", o->staff_id);
    if (name)
        cJSON_AddStringToObject(object, "name", name);
    cJSON_AddStringToObject(object, "kind", o->kind);
    cJSON_AddStringToObject(object, "what", what);
    {
        const struct kind *kind = kinds_find(&daemon->config.kinds, o->kind);
        if (kind != NULL && kind->policy != NULL)
            cJSON_AddStringToObject(object, "policy", kind->policy);
        else
            cJSON_AddNullToObject(object, "policy");
    }
    api_add_optional(object, "item", o->item);
    api_add_optional(object, "step", o->step);
    api_add_day(object, "due", o->due_day);
    api_add_day(object, "booked", o->booked_day);
    cJSON_AddStringToObject(object, "state", store_obligation_state_name(o->state));
    /* Days overdue count from the due (or booked) date; within a grace period they are not yet. */
    if (is_overdue(daemon, o, now))
        cJSON_AddNumberToObject(object, "days_overdue", (double)(now - o->target_day));
    else if (o->state == OBLIGATION_OPEN)
        cJSON_AddNumberToObject(object, "days_until_due", (double)(o->target_day - now));
    api_add_optional(object, "responsible_id", o->responsible_id);
    api_add_day(object, "closed", o->closed_day);
    api_add_optional(object, "reason", o->reason);
    if (o->next_ms != 0) {
        char when[32];
        timefmt_format_rfc3339(o->next_ms, when, sizeof(when));
        cJSON_AddStringToObject(object, "next_notification_at", when);
    } else {
        cJSON_AddNullToObject(object, "next_notification_at");
    }
    return object;
}

/* The state of a due or overdue listing. */
struct listing {
    struct daemon *daemon;
    cJSON *array;
    int64_t today;
    int64_t until; /* due: the last day included */
    bool overdue;  /* overdue: open and past its target; else due from today to until */
    const char *name;
    long long limit;
    long long count;
    int error;
};

static int
list_obligation(void *context, const struct obligation *o)
{
    struct listing *listing = context;
    bool overdue = is_overdue(listing->daemon, o, listing->today);
    bool wanted = listing->overdue
                      ? overdue
                      : o->state == OBLIGATION_OPEN && !overdue && o->target_day <= listing->until;
    struct dir_staff staff;
    const char *name = listing->name;

    if (!wanted)
        return 0;
    listing->count++;
    /*
     * One past the limit is enough to say the list was cut short: the walk
     * stops there (a positive return ends it), so asking about the whole
     * organisation costs what the limit costs, not what it holds.
     */
    if (listing->count > listing->limit)
        return 1;
    if (name == NULL && store_staff_get(listing->daemon->reader, o->staff_id, &staff) == 0)
        name = staff.name;
    cJSON_AddItemToArray(listing->array, obligation_json(listing->daemon, o, name, listing->today));
    return 0;
}

static int
list_person(void *context, const struct dir_staff *staff, enum dir_via via)
{
    struct listing *listing = context;
    int r;

    (void)via;
    listing->name = staff->name;
    r = store_obligations_of(listing->daemon->reader, staff->staff_id, NULL, NULL, true,
                             list_obligation, listing);
    listing->name = NULL;
    return r;
}

/* An action the manager answers for, unless it was listed already as one of their reports'. */
static int
list_responsible(void *context, const struct obligation *o)
{
    struct listing *listing = context;
    struct directory_source source;
    struct dir_staff staff;
    char manager_id[DIR_ID_SIZE];
    enum dir_via via;

    store_directory_source(listing->daemon->reader, &source);
    if (store_staff_get(listing->daemon->reader, o->staff_id, &staff) == 0 &&
        directory_manager_of(&source, &staff, manager_id, &via) == 0 &&
        strcmp(manager_id, o->responsible_id) == 0)
        return 0;
    return list_obligation(listing, o);
}

/* Lists the obligations of the manager's reports, and those the manager is named responsible for.
 */
static int
list_for_manager(struct listing *listing, const char *manager_id)
{
    int r = api_reports_of(listing->daemon, manager_id, list_person, listing);

    if (r == 0)
        r = store_obligations_responsible(listing->daemon->reader, manager_id, list_responsible,
                                          listing);
    return r;
}

static void
reply_listing(struct daemon *daemon, const struct bus_route *route, const cJSON *id, cJSON *reply,
              struct listing *listing, int r)
{
    /* r > 0: the walk stopped one past the limit ("truncated"). */
    if (r < 0) {
        cJSON_Delete(reply);
        api_reply_store_failure(daemon, route, id, r);
        return;
    }
    cJSON_AddNumberToObject(reply, "count", (double)listing->count);
    cJSON_AddBoolToObject(reply, "truncated", listing->count > listing->limit);
    api_send_reply(daemon, route, reply);
}

static cJSON *
listing_reply(struct daemon *daemon, const cJSON *id, struct listing *listing)
{
    cJSON *reply = wire_reply_ok(id);

    listing->daemon = daemon;
    listing->today = today(daemon);
    api_add_day(reply, "today", listing->today);
    listing->array = cJSON_AddArrayToObject(reply, "obligations");
    return reply;
}

void
api_op_due(struct daemon *daemon, const struct bus_route *route, const cJSON *request,
           const cJSON *id)
{
    const char *manager_id = api_required_id(daemon, route, request, id, "manager_id");
    long long days = 14, limit = LIST_LIMIT_DEFAULT;
    struct listing listing;
    cJSON *reply;

    if (manager_id == NULL ||
        !api_optional_integer(daemon, route, request, id, "days", 0, 366, &days) ||
        !api_optional_integer(daemon, route, request, id, "limit", 1, LIST_LIMIT_MAX, &limit))
        return;
    memset(&listing, 0, sizeof(listing));
    listing.limit = limit;
    reply = listing_reply(daemon, id, &listing);
    listing.until = listing.today + days;
    cJSON_AddStringToObject(reply, "manager_id", manager_id);
    cJSON_AddNumberToObject(reply, "days", (double)days);
    reply_listing(daemon, route, id, reply, &listing, list_for_manager(&listing, manager_id));
}

struct team_walk {
    struct listing *listing;
    struct id_set_like {
        char (*ids)[DIR_ID_SIZE];
        size_t count, capacity;
    } teams;
};

static int
queue_sub_team(void *context, const struct dir_team *team)
{
    struct team_walk *walk = context;

    for (size_t i = 0; i < walk->teams.count; i++)
        if (strcmp(walk->teams.ids[i], team->team_id) == 0)
            return 0;
    if (walk->teams.count == walk->teams.capacity) {
        size_t capacity = walk->teams.capacity ? walk->teams.capacity * 2 : 16;
        void *ids = realloc(walk->teams.ids, capacity * DIR_ID_SIZE);
        if (ids == NULL)
            return -ENOMEM;
        walk->teams.ids = ids;
        walk->teams.capacity = capacity;
    }
    directory_copy_text(walk->teams.ids[walk->teams.count++], DIR_ID_SIZE, team->team_id);
    return 0;
}

static int
list_member(void *context, const struct dir_staff *staff)
{
    return list_person(context, staff, DIR_VIA_NONE);
}

/* Lists the obligations of everyone in team_id and its sub-teams. */
static int
list_for_team(struct listing *listing, const char *team_id)
{
    struct team_walk walk = {listing, {NULL, 0, 0}};
    struct dir_team first;
    int r;

    memset(&first, 0, sizeof(first));
    directory_copy_text(first.team_id, sizeof(first.team_id), team_id);
    r = queue_sub_team(&walk, &first);
    for (size_t i = 0; r == 0 && i < walk.teams.count; i++) {
        char current[DIR_ID_SIZE];
        memcpy(current, walk.teams.ids[i], DIR_ID_SIZE);
        r = store_staff_in_team(listing->daemon->reader, current, list_member, listing);
        if (r == 0)
            r = store_teams_with_parent(listing->daemon->reader, current, queue_sub_team, &walk);
    }
    free(walk.teams.ids);
    return r;
}

void
api_op_overdue(struct daemon *daemon, const struct bus_route *route, const cJSON *request,
               const cJSON *id)
{
    bool bad = false;
    const char *manager_id = api_optional_id(daemon, route, request, id, "manager_id", &bad);
    const char *team_id = bad ? NULL : api_optional_id(daemon, route, request, id, "team_id", &bad);
    long long limit = LIST_LIMIT_DEFAULT;
    struct listing listing;
    cJSON *reply;
    int r;

    if (bad ||
        !api_optional_integer(daemon, route, request, id, "limit", 1, LIST_LIMIT_MAX, &limit))
        return;
    if (manager_id && team_id) {
        api_send_error(daemon, route, id, WIRE_E_BAD_REQUEST,
                       "give manager_id or team_id (or neither, for the whole organisation), "
                       "not both");
        return;
    }
    memset(&listing, 0, sizeof(listing));
    listing.overdue = true;
    listing.limit = limit;
    reply = listing_reply(daemon, id, &listing);
    if (manager_id) {
        cJSON_AddStringToObject(reply, "manager_id", manager_id);
        r = list_for_manager(&listing, manager_id);
    } else if (team_id) {
        struct dir_team team;
        cJSON_AddStringToObject(reply, "team_id", team_id);
        r = store_team_get(daemon->reader, team_id, &team);
        if (r == -ENOENT) {
            cJSON_Delete(reply);
            api_send_error(daemon, route, id, WIRE_E_NOT_FOUND, "no team has that id");
            return;
        }
        if (r == 0)
            r = list_for_team(&listing, team_id);
    } else {
        /* The whole organisation, oldest first, straight from the index of open obligations. */
        listing.limit = limit;
        r = store_obligations_overdue(daemon->reader, listing.today, (int)limit + 1,
                                      list_obligation, &listing);
    }
    reply_listing(daemon, route, id, reply, &listing, r);
}

struct person_listing {
    struct daemon *daemon;
    cJSON *array;
    int64_t today;
};

static int
add_person_obligation(void *context, const struct obligation *o)
{
    struct person_listing *listing = context;

    cJSON_AddItemToArray(listing->array, obligation_json(listing->daemon, o, NULL, listing->today));
    return 0;
}

static int
add_absence(void *context, const struct absence *absence)
{
    cJSON *object = cJSON_CreateObject();

    cJSON_AddStringToObject(object, "absence_id", absence->absence_id);
    cJSON_AddStringToObject(object, "kind", absence->kind);
    api_add_day(object, "start", absence->start_day);
    api_add_day(object, "end", absence->end_day);
    cJSON_AddItemToArray(context, object);
    return 0;
}

void
api_op_person(struct daemon *daemon, const struct bus_route *route, const cJSON *request,
              const cJSON *id)
{
    const char *staff_id = api_required_id(daemon, route, request, id, "staff_id");
    struct person_listing listing;
    struct dir_staff staff;
    cJSON *reply, *person;
    int r;

    if (staff_id == NULL)
        return;
    r = store_staff_get(daemon->reader, staff_id, &staff);
    if (r == -ENOENT) {
        api_send_error(daemon, route, id, WIRE_E_NOT_FOUND, "no staff member has that id");
        return;
    }
    if (r < 0) {
        api_reply_store_failure(daemon, route, id, r);
        return;
    }
    reply = wire_reply_ok(id);
    listing.daemon = daemon;
    listing.today = today(daemon);
    api_add_day(reply, "today", listing.today);
    person = cJSON_AddObjectToObject(reply, "staff");
    cJSON_AddStringToObject(person, "staff_id", staff.staff_id);
    cJSON_AddStringToObject(person, "name", staff.name);
    cJSON_AddStringToObject(person, "role", staff.role);
    cJSON_AddStringToObject(person, "team_id", staff.team_id);
    cJSON_AddStringToObject(person, "start_date", staff.start_date);
    api_add_optional(person, "left_date", staff.left_date);
    listing.array = cJSON_AddArrayToObject(reply, "obligations");
    r = store_obligations_of(daemon->reader, staff_id, NULL, NULL, false, add_person_obligation,
                             &listing);
    if (r == 0)
        r = store_absences_of(daemon->reader, staff_id, add_absence,
                              cJSON_AddArrayToObject(reply, "absences"));
    if (r < 0) {
        cJSON_Delete(reply);
        api_reply_store_failure(daemon, route, id, r);
        return;
    }
    api_send_reply(daemon, route, reply);
}

/*
 * "message": the text without the closing sentence that gives the policy
 * link, for delivery tools that show the link apart (an HTML link, say).
 */
static void
add_message(cJSON *object, const struct notification *n)
{
    size_t length = strlen(n->text);
    size_t suffix = n->policy[0] != '\0' ? strlen(OBLIGATIONS_POLICY_LEAD) + strlen(n->policy) : 0;

    if (suffix != 0 && suffix <= length &&
        strncmp(n->text + length - suffix, OBLIGATIONS_POLICY_LEAD,
                strlen(OBLIGATIONS_POLICY_LEAD)) == 0 &&
        strcmp(n->text + length - strlen(n->policy), n->policy) == 0)
        length -= suffix;
    char *message = strndup(n->text, length);
    if (message == NULL)
        return; /* cJSON's own allocations fail the reply alike; it goes without */
    cJSON_AddStringToObject(object, "message", message);
    free(message);
}

static int
add_notification(void *context, const struct notification *n)
{
    cJSON *object = cJSON_CreateObject();
    char when[32];

    cJSON_AddNumberToObject(object, "seq", (double)n->seq);
    cJSON_AddStringToObject(object, "type", n->type);
    cJSON_AddStringToObject(object, "recipient_id", n->recipient_id);
    api_add_optional(object, "staff_id", n->staff_id); /* null for a KPI alert */
    cJSON_AddStringToObject(object, "kind", n->kind);
    api_add_optional(object, "item", n->item);
    api_add_optional(object, "step", n->step);
    api_add_day(object, "due", n->due_day);
    api_add_day(object, "booked", n->booked_day);
    cJSON_AddNumberToObject(object, "days_overdue", n->days_overdue);
    cJSON_AddNumberToObject(object, "level", n->level);
    timefmt_format_rfc3339(n->planned_ms, when, sizeof(when));
    cJSON_AddStringToObject(object, "planned_at", when);
    timefmt_format_rfc3339(n->created_ms, when, sizeof(when));
    cJSON_AddStringToObject(object, "created_at", when);
    cJSON_AddStringToObject(object, "text", n->text);
    add_message(object, n);
    api_add_optional(object, "policy", n->policy);
    if (n->obligation_id > 0)
        cJSON_AddNumberToObject(object, "obligation_id", (double)n->obligation_id);
    else
        cJSON_AddNullToObject(object, "obligation_id"); /* a KPI alert */
    if (n->acked_ms != 0) {
        timefmt_format_rfc3339(n->acked_ms, when, sizeof(when));
        cJSON_AddStringToObject(object, "acked_at", when);
        api_add_optional(object, "acked_by", n->acked_by);
    } else {
        cJSON_AddNullToObject(object, "acked_at");
    }
    cJSON_AddItemToArray(context, object);
    return 0;
}

void
api_op_notifications(struct daemon *daemon, const struct bus_route *route, const cJSON *request,
                     const cJSON *id)
{
    long long after = 0, limit = 100;
    bool bad = false;
    const char *recipient = api_optional_id(daemon, route, request, id, "recipient_id", &bad);
    int64_t last_seq = 0, missed = 0;
    cJSON *reply;
    int r;

    if (bad || !api_optional_integer(daemon, route, request, id, "after", 0, 1LL << 53, &after) ||
        !api_optional_integer(daemon, route, request, id, "limit", 1, LIST_LIMIT_MAX, &limit))
        return;
    reply = wire_reply_ok(id);
    r = store_notifications_after(daemon->reader, after, (int)limit, recipient, add_notification,
                                  cJSON_AddArrayToObject(reply, "notifications"));
    if (r == 0)
        r = store_notifications_summary(daemon->reader, &last_seq, &missed);
    if (r < 0) {
        cJSON_Delete(reply);
        api_reply_store_failure(daemon, route, id, r);
        return;
    }
    /* A subscriber compares last_seq with what it has to know whether to ask again. */
    cJSON_AddNumberToObject(reply, "last_seq", (double)last_seq);
    api_send_reply(daemon, route, reply);
}

/* Hands a request that the writer must see to ingest; the reply comes from api_job_done(). */
void
api_submit_job(struct daemon *daemon, const struct bus_route *route, cJSON *request,
               const cJSON *id, struct ingest_request *job)
{
    job->route = *route;
    job->root = request;
    job->id = id;
    ingest_submit(daemon->ingest, job);
}

bool
api_op_ack(struct daemon *daemon, const struct bus_route *route, cJSON *request, const cJSON *id)
{
    long long seq = -1;
    bool bad = false;
    const char *by = api_optional_id(daemon, route, request, id, "by", &bad);
    struct ingest_request *job;

    if (bad || !api_optional_integer(daemon, route, request, id, "seq", 1, 1LL << 53, &seq))
        return false;
    if (seq < 0) {
        api_send_error(daemon, route, id, WIRE_E_BAD_REQUEST,
                       "this op needs \"seq\", the sequence number of the notification");
        return false;
    }
    job = ingest_request_new(0);
    if (job == NULL) {
        api_send_error(daemon, route, id, WIRE_E_UNAVAILABLE, "the daemon is out of memory");
        return false;
    }
    job->job = INGEST_ACK;
    job->ack_seq = seq;
    directory_copy_text(job->ack_by, sizeof(job->ack_by), by);
    api_submit_job(daemon, route, request, id, job);
    return true;
}

static void
reply_clock(struct daemon *daemon, const struct bus_route *route, const cJSON *id)
{
    cJSON *reply = wire_reply_ok(id);
    int64_t now = clock_now_ms(&daemon->clock);
    int64_t next = ingest_next_action_ms(daemon->ingest);
    char when[32];

    timefmt_format_rfc3339(now, when, sizeof(when));
    cJSON_AddStringToObject(reply, "now", when);
    cJSON_AddBoolToObject(reply, "test_clock", daemon->clock.test);
    api_add_day(reply, "today", schedule_local_day(now));
    schedule_format_local_time(now, when, sizeof(when));
    cJSON_AddStringToObject(reply, "local_time", when);
    cJSON_AddBoolToObject(
        reply, "working_day",
        schedule_is_working_day(&daemon->config.kinds.calendar, schedule_local_day(now)));
    cJSON_AddStringToObject(reply, "timezone", daemon->config.timezone);
    if (next != 0) {
        timefmt_format_rfc3339(next, when, sizeof(when));
        cJSON_AddStringToObject(reply, "next_action_at", when);
    } else {
        cJSON_AddNullToObject(reply, "next_action_at");
    }
    api_send_reply(daemon, route, reply);
}

bool
api_op_clock(struct daemon *daemon, const struct bus_route *route, cJSON *request, const cJSON *id)
{
    const cJSON *set = cJSON_GetObjectItemCaseSensitive(request, "set");
    long long advance = -1;
    struct ingest_request *job;
    int64_t target;

    if (set == NULL && cJSON_GetObjectItemCaseSensitive(request, "advance_seconds") == NULL) {
        reply_clock(daemon, route, id); /* only asking the time */
        return false;
    }
    if (!daemon->clock.test) {
        api_send_error(daemon, route, id, "no_test_clock",
                       "this daemon runs on the real clock; only a daemon started with "
                       "--test-clock (for tests) lets its clock be set");
        return false;
    }
    if (set && cJSON_GetObjectItemCaseSensitive(request, "advance_seconds")) {
        api_send_error(daemon, route, id, WIRE_E_BAD_REQUEST,
                       "give \"set\" or \"advance_seconds\", not both");
        return false;
    }
    if (set) {
        if (!cJSON_IsString(set) || timefmt_parse_rfc3339(set->valuestring, &target) < 0) {
            api_send_error(daemon, route, id, WIRE_E_BAD_REQUEST,
                           "\"set\" must be an RFC 3339 time such as 2026-01-05T08:00:00Z");
            return false;
        }
    } else {
        if (!api_optional_integer(daemon, route, request, id, "advance_seconds", 0,
                                  400LL * 86400 * 366, &advance))
            return false;
        target = clock_now_ms(&daemon->clock) + advance * 1000;
    }
    if (clock_set(&daemon->clock, target) < 0) {
        api_send_error(daemon, route, id, WIRE_E_BAD_REQUEST,
                       "the test clock only moves forward; it is already later than that");
        return false;
    }
    /* Answered once everything due by the new time has been sent and committed. */
    job = ingest_request_new(0);
    if (job == NULL) {
        api_send_error(daemon, route, id, WIRE_E_UNAVAILABLE, "the daemon is out of memory");
        return false;
    }
    job->job = INGEST_CATCH_UP;
    api_submit_job(daemon, route, request, id, job);
    return true;
}

void
api_job_done(struct daemon *daemon, struct ingest_request *request)
{
    if (request->failed < 0) {
        log_error("a transaction failed: %s", ingest_last_error(daemon->ingest));
        api_send_error(daemon, &request->route, request->id, WIRE_E_UNAVAILABLE,
                       "the database could not be written; try again");
        return;
    }
    if (request->job == INGEST_CATCH_UP) {
        reply_clock(daemon, &request->route, request->id);
        return;
    }
    if (request->job == INGEST_KPI_WRITE) {
        api_kpi_answer(daemon, &request->route, request->root, request->id);
        return;
    }
    if (request->job_result == -ENOENT) {
        api_send_error(daemon, &request->route, request->id, WIRE_E_NOT_FOUND,
                       "no notification has that sequence number");
        return;
    }
    cJSON *reply = wire_reply_ok(request->id);
    cJSON_AddNumberToObject(reply, "seq", (double)request->ack_seq);
    cJSON_AddBoolToObject(reply, "acked", true);
    api_send_reply(daemon, &request->route, reply);
}

/* Adds one audit row to the reply's array (context). */
static int
add_audit_row(void *context, const struct store_audit_row *row)
{
    cJSON *item = cJSON_CreateObject();
    cJSON *details = row->details ? cJSON_Parse(row->details) : NULL;
    char when[32];

    if (item == NULL) {
        cJSON_Delete(details);
        return -ENOMEM;
    }
    cJSON_AddNumberToObject(item, "seq", (double)row->seq);
    timefmt_format_rfc3339(row->applied_ms, when, sizeof(when));
    cJSON_AddStringToObject(item, "applied", when);
    if (row->has_event_ms) {
        timefmt_format_rfc3339(row->event_ms, when, sizeof(when));
        cJSON_AddStringToObject(item, "time", when);
    } else {
        cJSON_AddNullToObject(item, "time");
    }
    api_add_optional(item, "staff_id", row->staff_id);
    api_add_optional(item, "team_id", row->team_id);
    cJSON_AddStringToObject(item, "what", row->what ? row->what : "");
    if (details != NULL)
        cJSON_AddItemToObject(item, "details", details);
    else
        cJSON_AddObjectToObject(item, "details");
    cJSON_AddStringToObject(item, "cause", row->cause ? row->cause : "");
    api_add_optional(item, "cause_id", row->cause_id);
    if (row->event_seq > 0)
        cJSON_AddNumberToObject(item, "event_seq", (double)row->event_seq);
    else
        cJSON_AddNullToObject(item, "event_seq");
    cJSON_AddItemToArray(context, item);
    return 0;
}

void
api_op_audit(struct daemon *daemon, const struct bus_route *route, const cJSON *request,
             const cJSON *id)
{
    long long after = 0, limit = 100;
    bool bad = false;
    const char *staff_id = api_optional_id(daemon, route, request, id, "staff_id", &bad);
    const char *team_id = bad ? NULL : api_optional_id(daemon, route, request, id, "team_id", &bad);
    cJSON *reply, *rows;
    int r;

    if (bad || !api_optional_integer(daemon, route, request, id, "after", 0, 1LL << 53, &after) ||
        !api_optional_integer(daemon, route, request, id, "limit", 1, LIST_LIMIT_MAX, &limit))
        return;
    if ((staff_id == NULL) == (team_id == NULL)) {
        api_send_error(daemon, route, id, WIRE_E_BAD_REQUEST,
                       "this op needs either \"staff_id\" (a person's changes) or \"team_id\" "
                       "(a team's changes and KPI alerts), not both");
        return;
    }
    reply = wire_reply_ok(id);
    rows = cJSON_AddArrayToObject(reply, "audit");
    r = store_audit_of(daemon->reader, staff_id, team_id, after, (int)limit, add_audit_row, rows);
    if (r < 0) {
        cJSON_Delete(reply);
        api_reply_store_failure(daemon, route, id, r);
        return;
    }
    /* The next page starts after the last row given (or where this one started). */
    int count = cJSON_GetArraySize(rows);
    const cJSON *last = count > 0 ? cJSON_GetArrayItem(rows, count - 1) : NULL;
    cJSON_AddNumberToObject(reply, "last_seq",
                            last ? cJSON_GetNumberValue(cJSON_GetObjectItem(last, "seq"))
                                 : (double)after);
    api_send_reply(daemon, route, reply);
}

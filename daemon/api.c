#include "api.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_internal.h"
#include "directory.h"
#include "log.h"
#include "timefmt.h"
#include "wire.h"

/* Serialises and sends a reply, then frees it. */
void
api_send_reply(struct daemon *daemon, const struct bus_route *route, cJSON *reply)
{
    char *text;
    int r;

    if (reply == NULL) {
        log_error("out of memory building a reply");
        return;
    }
    text = cJSON_PrintUnformatted(reply);
    cJSON_Delete(reply);
    if (text == NULL) {
        log_error("out of memory serialising a reply");
        return;
    }
    r = bus_reply(&daemon->api, route, text, strlen(text));
    if (r < 0)
        log_debug("reply not delivered: %s", zmq_strerror(-r));
    free(text);
}

void
api_send_error(struct daemon *daemon, const struct bus_route *route, const cJSON *id,
               const char *code, const char *message)
{
    daemon->requests_refused++;
    api_send_reply(daemon, route, wire_reply_error(id, code, message));
}

void
api_add_optional(cJSON *object, const char *name, const char *text)
{
    if (text == NULL || text[0] == '\0')
        cJSON_AddNullToObject(object, name);
    else
        cJSON_AddStringToObject(object, name, text);
}

static cJSON *
status_pair(int64_t since_start, int64_t total)
{
    cJSON *pair = cJSON_CreateObject();

    cJSON_AddNumberToObject(pair, "since_start", (double)since_start);
    cJSON_AddNumberToObject(pair, "total", (double)total);
    return pair;
}

/* The scheduler's part of status: what was sent, what was missed, what comes next. */
static void
add_schedule_status(struct daemon *daemon, cJSON *reply)
{
    cJSON *notifications = cJSON_AddObjectToObject(reply, "notifications");
    int64_t last_seq = 0, missed_total = 0, next = ingest_next_action_ms(daemon->ingest);
    uint64_t sent, missed;
    char when[32];

    ingest_schedule_counts(daemon->ingest, &sent, &missed);
    if (store_notifications_summary(daemon->reader, &last_seq, &missed_total) < 0)
        log_warning("cannot read the notification totals: %s", store_error(daemon->reader));
    cJSON_AddNumberToObject(notifications, "last_seq", (double)last_seq);
    cJSON_AddNumberToObject(notifications, "sent_since_start", (double)sent);
    cJSON_AddItemToObject(notifications, "missed", status_pair((int64_t)missed, missed_total));
    if (next != 0) {
        timefmt_format_rfc3339(next, when, sizeof(when));
        cJSON_AddStringToObject(notifications, "next_at", when);
    } else {
        cJSON_AddNullToObject(notifications, "next_at");
    }
    /* KPI figures: as of the last transaction (the worker owns them while it writes). */
    uint64_t observations, alerts;
    size_t series, bytes;
    cJSON *kpi = cJSON_AddObjectToObject(reply, "kpi");
    ingest_kpi_counts(daemon->ingest, &observations, &alerts, &series, &bytes);
    cJSON_AddNumberToObject(kpi, "observations_since_start", (double)observations);
    cJSON_AddNumberToObject(kpi, "alerts_since_start", (double)alerts);
    cJSON_AddNumberToObject(kpi, "series_in_memory", (double)series);
    cJSON_AddNumberToObject(kpi, "memory_bytes", (double)bytes);
    timefmt_format_rfc3339(clock_now_ms(&daemon->clock), when, sizeof(when));
    cJSON_AddStringToObject(reply, "clock", daemon->clock.test ? "test" : "real");
    cJSON_AddStringToObject(reply, "now", when);
}

static void
op_status(struct daemon *daemon, const struct bus_route *route, const cJSON *request,
          const cJSON *id)
{
    const struct store_counters *totals = ingest_totals(daemon->ingest);
    const struct store_counters *since = ingest_since_start(daemon->ingest);
    cJSON *reply = wire_reply_ok(id);
    cJSON *events, *staff, *queue;
    char started[32];

    (void)request;
    if (reply == NULL)
        return;
    timefmt_format_rfc3339(daemon->started_wall_ms, started, sizeof(started));
    cJSON_AddStringToObject(reply, "version", CAREHUB_VERSION);
    cJSON_AddNumberToObject(reply, "uptime_s",
                            (double)(uv_now(daemon->loop) - daemon->started_loop_ms) / 1000.0);
    cJSON_AddStringToObject(reply, "started_at", started);
    events = cJSON_AddObjectToObject(reply, "events");
    cJSON_AddItemToObject(events, "stored",
                          status_pair(since->events_stored, totals->events_stored));
    cJSON_AddItemToObject(events, "duplicate",
                          status_pair(since->events_duplicate, totals->events_duplicate));
    cJSON_AddItemToObject(events, "rejected",
                          status_pair(since->events_rejected, totals->events_rejected));
    staff = cJSON_AddObjectToObject(reply, "staff");
    cJSON_AddNumberToObject(staff, "active", (double)totals->staff_active);
    cJSON_AddNumberToObject(staff, "left", (double)totals->staff_left);
    cJSON_AddNumberToObject(reply, "teams", (double)totals->teams);
    cJSON_AddNumberToObject(reply, "database_bytes", (double)store_size_bytes(daemon->reader));
    queue = cJSON_AddObjectToObject(reply, "queue");
    cJSON_AddNumberToObject(queue, "waiting_events", (double)ingest_waiting_events(daemon->ingest));
    cJSON_AddNumberToObject(queue, "in_flight_events",
                            (double)ingest_in_flight_events(daemon->ingest));
    cJSON_AddNumberToObject(reply, "requests_refused", (double)daemon->requests_refused);
    cJSON_AddNumberToObject(reply, "transactions", (double)ingest_transactions(daemon->ingest));
    add_schedule_status(daemon, reply);
    api_send_reply(daemon, route, reply);
}

/* Reads a required string field of a request; replies bad_request and returns NULL when absent. */
const char *
api_required_id(struct daemon *daemon, const struct bus_route *route, const cJSON *request,
                const cJSON *id, const char *name)
{
    const char *value = wire_get_string(request, name);
    char message[128];

    if (value != NULL && value[0] != '\0' && strlen(value) <= EVENT_ID_MAX)
        return value;
    snprintf(message, sizeof(message),
             "this op needs \"%s\", a non-empty string of at most %d "
             "bytes",
             name, EVENT_ID_MAX);
    api_send_error(daemon, route, id, WIRE_E_BAD_REQUEST, message);
    return NULL;
}

static cJSON *
staff_json(const struct dir_staff *staff, const char *manager_id, enum dir_via via)
{
    cJSON *object = cJSON_CreateObject();

    cJSON_AddStringToObject(object, "staff_id", staff->staff_id);
    cJSON_AddStringToObject(object, "name", staff->name);
    cJSON_AddStringToObject(object, "role", staff->role);
    cJSON_AddStringToObject(object, "team_id", staff->team_id);
    cJSON_AddStringToObject(object, "start_date", staff->start_date);
    api_add_optional(object, "email", staff->email);
    api_add_optional(object, "manager_id", manager_id);
    if (directory_via_name(via))
        cJSON_AddStringToObject(object, "manager_via", directory_via_name(via));
    else
        cJSON_AddNullToObject(object, "manager_via");
    api_add_optional(object, "left_date", staff->left_date);
    cJSON_AddStringToObject(object, "status", staff->left_date[0] ? "left" : "active");
    if (staff->registration_body[0]) {
        cJSON *registration = cJSON_AddObjectToObject(object, "registration");
        cJSON_AddStringToObject(registration, "body", staff->registration_body);
        cJSON_AddStringToObject(registration, "number", staff->registration_number);
        cJSON_AddStringToObject(registration, "renewal_date", staff->registration_renewal);
    } else {
        cJSON_AddNullToObject(object, "registration");
    }
    return object;
}

void
api_reply_store_failure(struct daemon *daemon, const struct bus_route *route, const cJSON *id,
                        int r)
{
    log_error("query failed: %s", store_error(daemon->reader));
    api_send_error(daemon, route, id, WIRE_E_UNAVAILABLE,
                   r == -EBUSY ? "the database is busy; try again"
                               : "the database could not be read");
}

static void
op_staff(struct daemon *daemon, const struct bus_route *route, const cJSON *request,
         const cJSON *id)
{
    const char *staff_id = api_required_id(daemon, route, request, id, "staff_id");
    struct directory_source source;
    struct dir_staff staff, current;
    char manager_id[DIR_ID_SIZE];
    char seen[DIR_DEPTH_MAX + 1][DIR_ID_SIZE];
    enum dir_via via;
    cJSON *reply, *chain;
    int r, depth = 0;

    if (staff_id == NULL)
        return;
    store_directory_source(daemon->reader, &source);
    r = store_staff_get(daemon->reader, staff_id, &staff);
    if (r == -ENOENT) {
        api_send_error(daemon, route, id, WIRE_E_NOT_FOUND, "no staff member has that id");
        return;
    }
    if (r < 0) {
        api_reply_store_failure(daemon, route, id, r);
        return;
    }
    r = directory_manager_of(&source, &staff, manager_id, &via);
    if (r < 0)
        manager_id[0] = '\0';
    reply = wire_reply_ok(id);
    cJSON_AddItemToObject(reply, "staff", staff_json(&staff, manager_id, via));
    chain = cJSON_AddArrayToObject(reply, "chain");
    current = staff;
    memcpy(seen[depth++], staff.staff_id, DIR_ID_SIZE);
    while (manager_id[0] != '\0' && depth <= DIR_DEPTH_MAX) {
        cJSON *link = cJSON_CreateObject();
        cJSON_AddItemToArray(chain, link);
        cJSON_AddStringToObject(link, "staff_id", manager_id);
        r = store_staff_get(daemon->reader, manager_id, &current);
        if (r < 0) {
            cJSON_AddFalseToObject(link, "known");
            break;
        }
        cJSON_AddStringToObject(link, "name", current.name);
        cJSON_AddStringToObject(link, "role", current.role);
        cJSON_AddStringToObject(link, "team_id", current.team_id);
        cJSON_AddTrueToObject(link, "known");
        for (int i = 0; i < depth; i++)
            if (strcmp(seen[i], current.staff_id) == 0)
                manager_id[0] = '\0'; /* cannot happen: loops are refused on the way in */
        if (manager_id[0] == '\0')
            break;
        memcpy(seen[depth++], current.staff_id, DIR_ID_SIZE);
        if (directory_manager_of(&source, &current, manager_id, &via) < 0)
            break;
    }
    api_send_reply(daemon, route, reply);
}

/* The state of one "team" query. */
struct team_listing {
    struct directory_source source;
    cJSON *members;
};

static int
add_member(void *context, const struct dir_staff *staff)
{
    struct team_listing *listing = context;
    cJSON *member = cJSON_CreateObject();
    char manager_id[DIR_ID_SIZE];
    enum dir_via via;

    if (directory_manager_of(&listing->source, staff, manager_id, &via) < 0) {
        manager_id[0] = '\0';
        via = DIR_VIA_NONE;
    }
    cJSON_AddStringToObject(member, "staff_id", staff->staff_id);
    cJSON_AddStringToObject(member, "name", staff->name);
    cJSON_AddStringToObject(member, "role", staff->role);
    api_add_optional(member, "manager_id", manager_id);
    api_add_optional(member, "manager_via", via == DIR_VIA_NONE ? "" : directory_via_name(via));
    cJSON_AddItemToArray(listing->members, member);
    return 0;
}

static int
add_sub_team(void *context, const struct dir_team *team)
{
    cJSON *sub = cJSON_CreateObject();

    cJSON_AddStringToObject(sub, "team_id", team->team_id);
    cJSON_AddStringToObject(sub, "name", team->name);
    api_add_optional(sub, "manager_id", team->manager_id);
    cJSON_AddItemToArray(context, sub);
    return 0;
}

static void
op_team(struct daemon *daemon, const struct bus_route *route, const cJSON *request, const cJSON *id)
{
    const char *team_id = api_required_id(daemon, route, request, id, "team_id");
    struct dir_team team;
    cJSON *reply, *object, *members, *subs;
    int r;

    if (team_id == NULL)
        return;
    r = store_team_get(daemon->reader, team_id, &team);
    if (r < 0 && r != -ENOENT) {
        api_reply_store_failure(daemon, route, id, r);
        return;
    }
    reply = wire_reply_ok(id);
    object = cJSON_AddObjectToObject(reply, "team");
    members = cJSON_AddArrayToObject(reply, "members");
    subs = cJSON_AddArrayToObject(reply, "sub_teams");
    if (r == -ENOENT)
        memset(&team, 0, sizeof(team));
    cJSON_AddStringToObject(object, "team_id", team_id);
    api_add_optional(object, "name", team.name);
    api_add_optional(object, "parent_id", team.parent_id);
    api_add_optional(object, "manager_id", team.manager_id);
    cJSON_AddBoolToObject(object, "known", r == 0);
    struct team_listing listing = {.members = members};
    store_directory_source(daemon->reader, &listing.source);
    int q = store_staff_in_team(daemon->reader, team_id, add_member, &listing);
    if (q == 0)
        q = store_teams_with_parent(daemon->reader, team_id, add_sub_team, subs);
    if (q < 0) {
        cJSON_Delete(reply);
        api_reply_store_failure(daemon, route, id, q);
        return;
    }
    if (r == -ENOENT && cJSON_GetArraySize(members) == 0 && cJSON_GetArraySize(subs) == 0) {
        cJSON_Delete(reply);
        api_send_error(daemon, route, id, WIRE_E_NOT_FOUND, "no team has that id");
        return;
    }
    api_send_reply(daemon, route, reply);
}

/* A set of ids (open addressing), so a walk never takes one person or team twice. */
struct id_set {
    char (*slots)[DIR_ID_SIZE]; /* "" marks an empty slot */
    size_t capacity, count;
};

/* Adds id; returns 1 when it was new, 0 when already there, -ENOMEM. */
static int
id_set_add(struct id_set *set, const char *id)
{
    uint64_t hash = 0xcbf29ce484222325ULL;

    if ((set->count + 1) * 2 > set->capacity) {
        struct id_set bigger = {NULL, set->capacity ? set->capacity * 2 : 64, 0};
        bigger.slots = calloc(bigger.capacity, DIR_ID_SIZE);
        if (bigger.slots == NULL)
            return -ENOMEM;
        for (size_t i = 0; i < set->capacity; i++)
            if (set->slots[i][0] != '\0')
                id_set_add(&bigger, set->slots[i]);
        free(set->slots);
        *set = bigger;
    }
    for (const unsigned char *p = (const unsigned char *)id; *p; p++)
        hash = (hash ^ *p) * 0x100000001b3ULL;
    for (size_t slot = hash & (set->capacity - 1);; slot = (slot + 1) & (set->capacity - 1)) {
        if (set->slots[slot][0] == '\0') {
            directory_copy_text(set->slots[slot], DIR_ID_SIZE, id);
            set->count++;
            return 1;
        }
        if (strcmp(set->slots[slot], id) == 0)
            return 0;
    }
}

/* The state of one "reports" query: the manager, what was found, and teams to visit. */
struct reports_walk {
    struct daemon *daemon;
    struct directory_source source;
    const char *manager_id;
    api_report_visit visit;
    void *context;
    struct id_set seen_staff;
    struct id_set seen_teams;
    char (*teams)[DIR_ID_SIZE];
    size_t team_count, team_capacity;
};

/* Adds staff when their line manager, by the directory's rule, is the one asked about. */
static int
consider_staff(void *context, const struct dir_staff *staff)
{
    struct reports_walk *walk = context;
    char manager_id[DIR_ID_SIZE];
    enum dir_via via;

    if (staff->left_date[0] != '\0')
        return 0;
    int r = id_set_add(&walk->seen_staff, staff->staff_id);
    if (r <= 0)
        return r;
    r = directory_manager_of(&walk->source, staff, manager_id, &via);
    if (r == -ENOENT || r == -ELOOP || strcmp(manager_id, walk->manager_id) != 0)
        return 0;
    if (r < 0)
        return r;
    return walk->visit(walk->context, staff, via);
}

static int
queue_team(struct reports_walk *walk, const char *team_id)
{
    int r = id_set_add(&walk->seen_teams, team_id);

    if (r <= 0)
        return r;
    if (walk->team_count == walk->team_capacity) {
        size_t capacity = walk->team_capacity ? walk->team_capacity * 2 : 16;
        void *teams = realloc(walk->teams, capacity * sizeof(*walk->teams));
        if (teams == NULL)
            return -ENOMEM;
        walk->teams = teams;
        walk->team_capacity = capacity;
    }
    snprintf(walk->teams[walk->team_count++], DIR_ID_SIZE, "%s", team_id);
    return 0;
}

static int
queue_managed_team(void *context, const struct dir_team *team)
{
    return queue_team(context, team->team_id);
}

/*
 * A sub-team without a manager inherits its parent's, so it is visited too;
 * the manager of a sub-team with one may report to the manager asked about.
 */
static int
visit_sub_team(void *context, const struct dir_team *team)
{
    struct reports_walk *walk = context;
    struct dir_staff staff;

    if (team->manager_id[0] == '\0')
        return queue_team(walk, team->team_id);
    int r = store_staff_get(walk->daemon->reader, team->manager_id, &staff);
    if (r == -ENOENT)
        return 0;
    if (r < 0)
        return r;
    return consider_staff(walk, &staff);
}

int
api_reports_of(struct daemon *daemon, const char *manager_id, api_report_visit visit, void *context)
{
    struct reports_walk walk;
    int r;

    memset(&walk, 0, sizeof(walk));
    walk.daemon = daemon;
    walk.manager_id = manager_id;
    walk.visit = visit;
    walk.context = context;
    store_directory_source(daemon->reader, &walk.source);
    /* People who name the manager themselves, then the teams the manager runs, breadth first. */
    r = store_staff_with_manager(daemon->reader, manager_id, consider_staff, &walk);
    if (r == 0)
        r = store_teams_with_manager(daemon->reader, manager_id, queue_managed_team, &walk);
    for (size_t i = 0; r == 0 && i < walk.team_count; i++) {
        char team_id[DIR_ID_SIZE];
        memcpy(team_id, walk.teams[i], DIR_ID_SIZE);
        r = store_staff_in_team(daemon->reader, team_id, consider_staff, &walk);
        if (r == 0)
            r = store_teams_with_parent(daemon->reader, team_id, visit_sub_team, &walk);
    }
    free(walk.teams);
    free(walk.seen_staff.slots);
    free(walk.seen_teams.slots);
    return r;
}

static int
add_report(void *context, const struct dir_staff *staff, enum dir_via via)
{
    cJSON *entry = cJSON_CreateObject();

    cJSON_AddStringToObject(entry, "staff_id", staff->staff_id);
    cJSON_AddStringToObject(entry, "name", staff->name);
    cJSON_AddStringToObject(entry, "role", staff->role);
    cJSON_AddStringToObject(entry, "team_id", staff->team_id);
    cJSON_AddStringToObject(entry, "via", directory_via_name(via));
    cJSON_AddItemToArray(context, entry);
    return 0;
}

static void
op_reports(struct daemon *daemon, const struct bus_route *route, const cJSON *request,
           const cJSON *id)
{
    const char *manager_id = api_required_id(daemon, route, request, id, "manager_id");
    struct dir_staff manager;
    cJSON *reply, *object, *reports;
    int r;

    if (manager_id == NULL)
        return;
    reply = wire_reply_ok(id);
    object = cJSON_AddObjectToObject(reply, "manager");
    reports = cJSON_AddArrayToObject(reply, "reports");
    cJSON_AddStringToObject(object, "staff_id", manager_id);
    r = store_staff_get(daemon->reader, manager_id, &manager);
    if (r == 0)
        cJSON_AddStringToObject(object, "name", manager.name);
    cJSON_AddBoolToObject(object, "known", r == 0);
    r = r == -ENOENT ? 0 : r;
    if (r == 0)
        r = api_reports_of(daemon, manager_id, add_report, reports);
    if (r < 0) {
        cJSON_Delete(reply);
        api_reply_store_failure(daemon, route, id, r);
        return;
    }
    api_send_reply(daemon, route, reply);
}

static void
pause_if_full(struct daemon *daemon)
{
    size_t queued = ingest_waiting_events(daemon->ingest) + ingest_in_flight_events(daemon->ingest);

    if (!daemon->input_paused && queued >= (size_t)daemon->config.max_queued_events) {
        daemon->input_paused = true;
        bus_pause(&daemon->api);
    }
}

/*
 * Each event is stored as it was written, not as cJSON would print it again:
 * the request's text is kept with it and each item's body points at the
 * event's own text there.  Items whose text cannot be found (a member name
 * written with escapes) keep body NULL and are printed by prepare_item().
 */
static void
find_event_texts(struct ingest_request *pending, const char *text, size_t size, bool array)
{
    struct wire_span member, *spans;
    int found;

    pending->text = malloc(size);
    if (pending->text == NULL)
        return;
    memcpy(pending->text, text, size);
    if (wire_find_member(pending->text, size, array ? "events" : "event", &member) < 0)
        return;
    if (!array) {
        pending->items[0].body = pending->text + member.offset;
        pending->items[0].body_size = member.size;
        return;
    }
    spans = malloc((size_t)pending->count * sizeof(*spans));
    if (spans == NULL)
        return;
    found = wire_array_elements(pending->text, member, spans, pending->count);
    for (int i = 0; found == pending->count && i < found; i++) {
        pending->items[i].body = pending->text + spans[i].offset;
        pending->items[i].body_size = spans[i].size;
    }
    free(spans);
}

/* Validates one event of a publish request and makes sure its body is at hand. */
static void
prepare_item(struct ingest_item *item, const cJSON *event)
{
    if (event_validate(event, &item->event, &item->error) < 0) {
        item->status = INGEST_REJECTED;
        return;
    }
    item->hash = event_identity_hash(item->event.source, item->event.id);
    if (item->body != NULL)
        return;
    item->printed = cJSON_PrintUnformatted(event);
    if (item->printed == NULL) {
        item->status = INGEST_REJECTED;
        item->error.code = WIRE_E_UNAVAILABLE;
        snprintf(item->error.message, sizeof(item->error.message), "out of memory");
        return;
    }
    item->body = item->printed;
    item->body_size = strlen(item->printed);
}

/* Returns true when the request was queued and its tree taken over. */
static bool
op_publish(struct daemon *daemon, const struct bus_route *route, cJSON *request, const cJSON *id,
           const char *text, size_t size)
{
    const cJSON *events = cJSON_GetObjectItemCaseSensitive(request, "events");
    const cJSON *single = cJSON_GetObjectItemCaseSensitive(request, "event");
    struct ingest_request *pending;
    int count, i = 0;
    const cJSON *event;

    if (events != NULL && single != NULL) {
        api_send_error(daemon, route, id, WIRE_E_BAD_REQUEST,
                       "give either \"events\" (an array) or \"event\", not both");
        return false;
    }
    if (events == NULL && single == NULL) {
        api_send_error(daemon, route, id, WIRE_E_BAD_REQUEST,
                       "publish needs \"events\" (an array of events) or \"event\"");
        return false;
    }
    if (events != NULL && !cJSON_IsArray(events)) {
        api_send_error(daemon, route, id, WIRE_E_BAD_REQUEST, "\"events\" must be an array");
        return false;
    }
    count = events ? cJSON_GetArraySize(events) : 1;
    if (count == 0) {
        api_send_error(daemon, route, id, WIRE_E_EMPTY_BATCH, "the batch holds no events");
        return false;
    }
    if (count > daemon->config.max_batch_events) {
        char message[128];
        snprintf(message, sizeof(message), "a batch may hold at most %d events; this one holds %d",
                 daemon->config.max_batch_events, count);
        api_send_error(daemon, route, id, WIRE_E_BATCH_TOO_LARGE, message);
        return false;
    }
    pending = ingest_request_new(count);
    if (pending == NULL) {
        api_send_error(daemon, route, id, WIRE_E_UNAVAILABLE, "the daemon is out of memory");
        return false;
    }
    pending->count = count;
    pending->route = *route;
    find_event_texts(pending, text, size, events != NULL);
    event = events ? events->child : single;
    for (i = 0; i < count; i++, event = event->next)
        prepare_item(&pending->items[i], event);
    /* The events borrow from the request's tree: the pending request owns it from here. */
    pending->root = request;
    pending->id = id;
    ingest_submit(daemon->ingest, pending);
    pause_if_full(daemon);
    return true;
}

/* A growable text buffer for replies built without a cJSON tree. */
struct text {
    char *data;
    size_t length, capacity;
    bool failed;
};

static void
text_append(struct text *text, const char *bytes, size_t length)
{
    if (text->failed)
        return;
    if (text->length + length + 1 > text->capacity) {
        size_t capacity = (text->length + length + 1) * 2;
        char *data = realloc(text->data, capacity);
        if (data == NULL) {
            text->failed = true;
            return;
        }
        text->data = data;
        text->capacity = capacity;
    }
    memcpy(text->data + text->length, bytes, length);
    text->length += length;
    text->data[text->length] = '\0';
}

static void
text_append_json(struct text *text, cJSON *value)
{
    char *printed = value ? cJSON_PrintUnformatted(value) : NULL;

    if (printed == NULL)
        text->failed = true;
    else
        text_append(text, printed, strlen(printed));
    free(printed);
    cJSON_Delete(value);
}

#define TEXT_LITERAL(text, literal) text_append(text, literal, sizeof(literal) - 1)

/*
 * The publish reply is written directly as text: it is the hot path's one
 * reply, and almost every result in it is the same short constant.
 */
static void
reply_results(struct daemon *daemon, const struct ingest_request *request)
{
    struct text text = {NULL, 0, 0, false};

    TEXT_LITERAL(&text, "{\"id\":");
    text_append_json(&text, request->id ? cJSON_Duplicate(request->id, true) : cJSON_CreateNull());
    TEXT_LITERAL(&text, ",\"ok\":true,\"results\":[");
    for (int i = 0; i < request->count; i++) {
        const struct ingest_item *item = &request->items[i];
        if (i > 0)
            TEXT_LITERAL(&text, ",");
        switch (item->status) {
        case INGEST_STORED:
            TEXT_LITERAL(&text, "{\"status\":\"stored\"}");
            break;
        case INGEST_DUPLICATE:
            TEXT_LITERAL(&text, "{\"status\":\"duplicate\"}");
            break;
        default:
            TEXT_LITERAL(&text, "{\"status\":\"rejected\",\"error\":");
            text_append_json(&text, wire_error_object(item->error.code, item->error.message));
            TEXT_LITERAL(&text, "}");
            break;
        }
    }
    TEXT_LITERAL(&text, "]}");
    if (text.failed) {
        log_error("out of memory building a publish reply");
    } else {
        int r = bus_reply(&daemon->api, &request->route, text.data, text.length);
        if (r < 0)
            log_debug("reply not delivered: %s", zmq_strerror(-r));
    }
    free(text.data);
}

void
api_publish_done(void *data, struct ingest_request *request)
{
    struct daemon *daemon = data;

    if (request->job != INGEST_PUBLISH) {
        api_job_done(daemon, request);
        ingest_request_free(request);
        return;
    }
    if (request->failed < 0) {
        char message[384];
        snprintf(message, sizeof(message),
                 "the events could not be stored (%s); none of this batch was acknowledged, "
                 "send it again",
                 ingest_last_error(daemon->ingest));
        log_error("a transaction failed: %s", ingest_last_error(daemon->ingest));
        api_send_error(daemon, &request->route, request->id, WIRE_E_UNAVAILABLE, message);
    } else {
        reply_results(daemon, request);
    }
    ingest_request_free(request);

    if (daemon->input_paused && !daemon->stopping &&
        ingest_waiting_events(daemon->ingest) + ingest_in_flight_events(daemon->ingest) <
            (size_t)daemon->config.max_queued_events / 2) {
        daemon->input_paused = false;
        bus_resume(&daemon->api);
    }
}

typedef void (*op_handler)(struct daemon *daemon, const struct bus_route *route,
                           const cJSON *request, const cJSON *id);

static const struct {
    const char *name;
    op_handler handler;
} ops[] = {
    {"status", op_status},     {"staff", op_staff},
    {"team", op_team},         {"reports", op_reports},
    {"due", api_op_due},       {"overdue", api_op_overdue},
    {"person", api_op_person}, {"notifications", api_op_notifications},
    {"audit", api_op_audit},
};

/* Parses a frame that must hold one JSON value and nothing after it but white space. */
static cJSON *
parse_whole(const char *text, size_t size)
{
    const char *end = NULL;
    cJSON *value = cJSON_ParseWithLengthOpts(text, size, &end, false);

    if (value == NULL)
        return NULL;
    for (; end < text + size; end++) {
        if (*end != ' ' && *end != '\t' && *end != '\n' && *end != '\r') {
            cJSON_Delete(value);
            return NULL;
        }
    }
    return value;
}

void
api_on_message(struct bus *bus, struct bus_message *message)
{
    struct daemon *daemon = bus->data;
    struct bus_route route;
    zmq_msg_t *body;
    const char *text, *op;
    size_t size;
    cJSON *request;
    const cJSON *id;
    int frames = bus_route_parse(message, &route, &body);

    if (frames < 0)
        return; /* no routing id: nobody to answer */
    if (frames != 1) {
        api_send_error(daemon, &route, NULL, WIRE_E_BAD_FRAMES,
                       "a request is exactly one frame holding a JSON object (after an optional "
                       "empty delimiter frame)");
        return;
    }
    size = zmq_msg_size(body);
    text = zmq_msg_data(body);
    if (size > (size_t)daemon->config.max_message_bytes) {
        char reason[160];
        snprintf(reason, sizeof(reason), "the request is %zu bytes; the limit is %lld bytes", size,
                 daemon->config.max_message_bytes);
        api_send_error(daemon, &route, NULL, WIRE_E_TOO_LARGE, reason);
        return;
    }
    if (!wire_utf8_valid(text, size)) {
        api_send_error(daemon, &route, NULL, WIRE_E_BAD_UTF8, "the request is not valid UTF-8");
        return;
    }
    if (wire_has_nul_escape(text, size)) {
        api_send_error(daemon, &route, NULL, WIRE_E_BAD_JSON,
                       "the request holds \\u0000 (the NUL character) in a string, which carehub "
                       "does not accept");
        return;
    }
    request = parse_whole(text, size);
    if (request == NULL) {
        api_send_error(daemon, &route, NULL, WIRE_E_BAD_JSON,
                       "the request is not well-formed JSON");
        return;
    }
    id = cJSON_GetObjectItemCaseSensitive(request, "id");
    if (!cJSON_IsObject(request)) {
        api_send_error(daemon, &route, NULL, WIRE_E_NOT_OBJECT, "a request must be a JSON object");
        cJSON_Delete(request);
        return;
    }
    if (daemon->stopping) {
        api_send_error(daemon, &route, id, WIRE_E_UNAVAILABLE, "the daemon is shutting down");
        cJSON_Delete(request);
        return;
    }
    op = wire_get_string(request, "op");
    if (op == NULL) {
        api_send_error(daemon, &route, id, WIRE_E_BAD_REQUEST, "the request has no \"op\" string");
        cJSON_Delete(request);
        return;
    }
    /* Per request, from the key that sent it (never from the routing id). */
    if (!api_authorise(daemon, &route, body, request, id, op)) {
        cJSON_Delete(request);
        return;
    }
    if (strcmp(op, "publish") == 0) {
        if (!op_publish(daemon, &route, request, id, text, size))
            cJSON_Delete(request);
        return;
    }
    /* Answered once the copy is written, from a worker thread: the request travels with it. */
    if (strcmp(op, "backup") == 0) {
        if (!api_op_backup(daemon, &route, request, id))
            cJSON_Delete(request);
        return;
    }
    /* Ops answered once the writer has done their part: the request travels with them. */
    if (strcmp(op, "ack") == 0 || strcmp(op, "clock") == 0 || strcmp(op, "kpi") == 0) {
        bool kept = strcmp(op, "ack") == 0     ? api_op_ack(daemon, &route, request, id)
                    : strcmp(op, "clock") == 0 ? api_op_clock(daemon, &route, request, id)
                                               : api_op_kpi(daemon, &route, request, id);
        if (!kept)
            cJSON_Delete(request);
        return;
    }
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
        if (strcmp(op, ops[i].name) == 0) {
            ops[i].handler(daemon, &route, request, id);
            cJSON_Delete(request);
            return;
        }
    }
    char reason[160];
    snprintf(reason, sizeof(reason), "\"%.60s\" is not an op this daemon knows", op);
    api_send_error(daemon, &route, id, WIRE_E_UNKNOWN_OP, reason);
    cJSON_Delete(request);
}

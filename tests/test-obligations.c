/*
 * Unit tests of daemon/obligations: what each event means for someone's
 * review obligations, and the scheduler's step that sends reminders and
 * escalations.
 *
 * Each test has its own mkdtemp() directory under /tmp holding a real SQLite
 * store and a configuration file read with config_load(), removed by the
 * teardown.  The module is driven as ingest drives it: per event one
 * transaction of store_begin(), obligations_begin(), obligations_apply(),
 * obligations_run_due() and store_commit(), with events parsed from JSON and
 * checked by event_validate().  Staff records are written with
 * store_staff_put() and read back through store_directory_source().
 *
 * Every expected date was worked out by hand from a 2026 calendar (weekdays
 * checked with `date -d DATE +%a`) and is written as a date, with its weekday
 * in a comment.  The process runs in Europe/London; in January and February
 * 09:00 there is 09:00 UTC, in June it is 08:00 UTC.
 *
 * The organisation (teams and managers written directly, so they have no
 * obligations of their own):
 *
 *   T0 Head office (manager M3)
 *    +- T1 Riverside (manager M1)
 *    |   +- T1A Riverside nights (no manager: M1 through T1)
 *    +- T2 Kitchen (manager M2)
 *   T9 Bank staff (no parent, no manager)
 *
 *   M1 team_leader, reports to M2; M2 deputy_manager, reports to M3;
 *   M3 registered_manager, at the top; R2 registered_manager, reports to M3.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "config.h"
#include "directory.h"
#include "event.h"
#include "kinds.h"
#include "obligations.h"
#include "schedule.h"
#include "store.h"
#include "notification_list.h"
#include "timefmt.h"

#define DAY(y, m, d) timefmt_days_from_civil((y), (m), (d))
/* A UTC instant in milliseconds. */
#define UTC(y, m, d, hour, minute)                                                                 \
    ((DAY((y), (m), (d)) * 86400 + (hour)*3600 + (minute)*60) * (int64_t)1000)

#define POLICY "https://intranet.example.org/policies/supervision"

/*
 * supervision: care staff in Riverside (and its sub-teams), every 6 weeks,
 * the first 4 weeks after the start; escalated after 1 day to the manager,
 * after 7 days to manager+1, every registered manager and Q1, after 14 days
 * to manager+2 and a role nobody holds; then every 7 days.
 * appraisal: everyone, yearly, the first after 6 months, restarts after an absence.
 * induction: care workers, week 1 and week 4 after the start; carries on during absences.
 * concern: two steps after concern.opened.  return_to_work: after sickness only.
 * action: assigned actions.  training: renewals of safeguarding (care
 * workers, first 12 weeks after the start) and fire safety (everyone, no first).
 */
static const char config_format[] =
    "state_dir = \"%s\";\n"
    "api = { endpoint = \"tcp://127.0.0.1:7420\"; };\n"
    "notify = { endpoint = \"tcp://127.0.0.1:7421\"; };\n"
    "timezone = \"Europe/London\";\n"
    "schedule = {\n"
    "    send_time = \"09:00\";\n"
    "    working_days = [\"Mon\", \"Tue\", \"Wed\", \"Thu\", \"Fri\"];\n"
    "    missed_after_days = 14;\n"
    "};\n"
    "kinds = (\n"
    "    { name = \"supervision\"; title = \"Supervision\"; policy = \"" POLICY "\";\n"
    "      applies_to = { roles = [\"care_worker\", \"senior_care_worker\", "
    "\"registered_manager\"];\n"
    "                     teams = [\"T1\"]; };\n"
    "      recurring = { every = \"6 weeks\"; first = \"4 weeks\"; };\n"
    "      reminders = [14, 3, 0];\n"
    "      escalation = (\n"
    "          { after_days = 1; notify = [\"manager\"]; },\n"
    "          { after_days = 7; notify = [\"manager+1\", \"role:registered_manager\", "
    "\"staff:Q1\"]; },\n"
    "          { after_days = 14; notify = [\"manager+2\", \"role:night_coordinator\"]; }\n"
    "      );\n"
    "      repeat_days = 7;\n"
    "      during_absence = \"shift\"; },\n"
    "    { name = \"appraisal\"; title = \"Appraisal\";\n"
    "      recurring = { every = \"1 year\"; first = \"6 months\"; };\n"
    "      reminders = [14]; during_absence = \"restart\"; },\n"
    "    { name = \"induction\"; title = \"Induction check-in\";\n"
    "      applies_to = { roles = [\"care_worker\"]; };\n"
    "      milestones = { after = \"staff.hired\"; steps = (\n"
    "          { name = \"week1\"; title = \"Week 1 check-in\"; at = \"1 week\"; },\n"
    "          { name = \"week4\"; title = \"Week 4 check-in\"; at = \"4 weeks\"; } ); };\n"
    "      reminders = [0]; during_absence = \"continue\"; },\n"
    "    { name = \"concern\"; title = \"Concern\";\n"
    "      milestones = { after = \"concern.opened\"; steps = (\n"
    "          { name = \"welfare_check\"; title = \"Welfare check\"; at = \"2 days\"; },\n"
    "          { name = \"review\"; title = \"Concern review\"; at = \"4 weeks\"; } ); };\n"
    "      during_absence = \"continue\"; },\n"
    "    { name = \"return_to_work\"; title = \"Return-to-work conversation\";\n"
    "      milestones = { after = \"absence.ended\"; absence_kinds = [\"sickness\"]; steps = (\n"
    "          { name = \"talk\"; title = \"Return-to-work talk\"; at = \"3 days\"; } ); };\n"
    "      during_absence = \"continue\"; },\n"
    "    { name = \"action\"; title = \"Agreed action\"; assigned = true; reminders = [7, 0];\n"
    "      escalation = ( { after_days = 1; notify = [\"manager\"]; } ); },\n"
    "    { name = \"training\"; title = \"Training renewal\"; training = true; reminders = [30]; "
    "}\n"
    ");\n"
    "courses = (\n"
    "    { name = \"safeguarding\"; title = \"Safeguarding adults\"; valid = \"3 years\";\n"
    "      first = \"12 weeks\"; applies_to = { roles = [\"care_worker\"]; }; },\n"
    "    { name = \"fire_safety\"; title = \"Fire safety\"; valid = \"1 year\"; }\n"
    ");\n";

struct fixture {
    char dir[64];
    bool made_dir;
    char config_path[128];
    struct config config;
    struct store *store;
    struct directory_source directory;
    struct obligations *obligations;
    int64_t now_ms;
    int64_t seq;
    int event_number;
    struct event_error error;
    size_t notices; /* obligations_notices() count of the last transaction */
};

static const struct store_options writer_options = {true, true, 8, false};

/* ---- The directory ---- */

static void
put_team(struct fixture *f, const char *team_id, const char *name, const char *parent_id,
         const char *manager_id)
{
    struct dir_team team;

    memset(&team, 0, sizeof(team));
    directory_copy_text(team.team_id, sizeof(team.team_id), team_id);
    directory_copy_text(team.name, sizeof(team.name), name);
    directory_copy_text(team.parent_id, sizeof(team.parent_id), parent_id);
    directory_copy_text(team.manager_id, sizeof(team.manager_id), manager_id);
    assert_int_equal(store_team_put(f->store, &team, ++f->seq), 0);
}

/* A staff member written straight to the store: no event, so no obligations. */
static void
put_staff(struct fixture *f, const char *staff_id, const char *name, const char *role,
          const char *team_id, const char *manager_id)
{
    struct dir_staff staff;

    memset(&staff, 0, sizeof(staff));
    directory_copy_text(staff.staff_id, sizeof(staff.staff_id), staff_id);
    directory_copy_text(staff.name, sizeof(staff.name), name);
    directory_copy_text(staff.role, sizeof(staff.role), role);
    directory_copy_text(staff.team_id, sizeof(staff.team_id), team_id);
    directory_copy_text(staff.manager_id, sizeof(staff.manager_id), manager_id);
    directory_copy_text(staff.start_date, sizeof(staff.start_date), "2020-01-06");
    assert_int_equal(store_staff_put(f->store, &staff, ++f->seq, STORE_PUT_NEW), 0);
}

static void
build_directory(struct fixture *f)
{
    assert_int_equal(store_begin(f->store), 0);
    put_team(f, "T0", "Head office", NULL, "M3");
    put_team(f, "T1", "Riverside", "T0", "M1");
    put_team(f, "T1A", "Riverside nights", "T1", NULL);
    put_team(f, "T2", "Kitchen", "T0", "M2");
    put_team(f, "T9", "Bank staff", NULL, NULL);
    put_staff(f, "M3", "Morag Reid", "registered_manager", "T0", NULL);
    put_staff(f, "M2", "Priya Shah", "deputy_manager", "T0", "M3");
    put_staff(f, "M1", "Tom Baker", "team_leader", "T1", "M2");
    put_staff(f, "R2", "Rita Okafor", "registered_manager", "T2", "M3");
    assert_int_equal(store_commit(f->store), 0);
}

/* ---- Set-up ---- */

static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    char text[sizeof(config_format) + 64];
    char message[512];
    FILE *file;

    if (f == NULL)
        return -1;
    *state = f;
    snprintf(f->dir, sizeof(f->dir), "/tmp/carehub-test-obligations-XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    f->made_dir = true;
    snprintf(f->config_path, sizeof(f->config_path), "%s/carehubd.conf", f->dir);
    snprintf(text, sizeof(text), config_format, f->dir);
    file = fopen(f->config_path, "w");
    if (file == NULL)
        return -1;
    fputs(text, file);
    fclose(file);
    struct config_errors errors;
    memset(&errors, 0, sizeof(errors));
    if (config_load(f->config_path, &f->config, &errors) != 0) {
        for (int i = 0; i < errors.count && i < CONFIG_MAX_ERRORS; i++)
            print_message("  %s\n", errors.text[i]);
        return -1;
    }
    if (store_open(&f->store, f->dir, &writer_options, message, sizeof(message)) != 0) {
        print_message("store_open: %s\n", message);
        return -1;
    }
    store_directory_source(f->store, &f->directory);
    if (obligations_new(&f->obligations, f->store, &f->config.kinds, &f->directory) != 0)
        return -1;
    build_directory(f);
    f->now_ms = UTC(2026, 1, 5, 7, 0); /* Monday 5 January 2026, 07:00 */
    return 0;
}

static int
remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int
teardown(void **state)
{
    struct fixture *f = *state;

    if (f == NULL)
        return 0;
    obligations_free(f->obligations);
    store_close(f->store);
    config_free(&f->config);
    if (f->made_dir)
        nftw(f->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

/* ---- Driving the module ---- */

/* Parses text with ' standing for ". */
static cJSON *
parse(const char *text)
{
    char *copy = strdup(text);
    cJSON *json;

    assert_non_null(copy);
    for (char *p = copy; *p; p++)
        if (*p == '\'')
            *p = '"';
    json = cJSON_Parse(copy);
    if (json == NULL)
        fail_msg("test JSON does not parse: %s", copy);
    free(copy);
    return json;
}

static const char *
data_text(const cJSON *data, const char *name)
{
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(data, name));
}

/*
 * Writes a staff event's record as ingest does and applies the event with the
 * record before (NULL when new or left) and after.
 */
static int
apply_staff_event(struct fixture *f, const struct event *event, int64_t seq)
{
    const char *staff_id = data_text(event->data, "staff_id");
    struct dir_staff existing, record;
    bool had = store_staff_get(f->store, staff_id, &existing) == 0;
    enum store_put how = had ? STORE_PUT_UPDATE : STORE_PUT_NEW;

    if (event->type == EVENT_STAFF_HIRED) {
        memset(&record, 0, sizeof(record));
        directory_staff_apply(&record, event->data);
    } else {
        if (!had)
            fail_msg("%s for %s, who was never hired", event_type_name(event->type), staff_id);
        record = existing;
        if (event->type == EVENT_STAFF_CHANGED)
            directory_staff_apply(&record, event->data);
        else
            directory_copy_text(record.left_date, sizeof(record.left_date),
                                data_text(event->data, "leave_date"));
    }
    assert_int_equal(store_staff_put(f->store, &record, seq, how), 0);
    return obligations_apply(f->obligations, event, seq,
                             had && existing.left_date[0] == '\0' ? &existing : NULL, &record,
                             &f->error);
}

/* Sends everything due at now_ms, inside the current transaction. */
static void
run_due_now(struct fixture *f)
{
    bool more = true;

    assert_int_equal(obligations_run_due(f->obligations, 10000, &more), 0);
    assert_false(more);
    (void)obligations_notices(f->obligations, &f->notices);
}

/*
 * One event in one transaction at f->now_ms: type, an RFC 3339 time or NULL,
 * and the data object (printf format, ' for ").  Returns what
 * obligations_apply() returned; the rejection is in f->error.
 */
static int
vapply(struct fixture *f, const char *type, const char *time, const char *format, va_list ap)
{
    char data[1024], text[1536];
    struct event event;
    struct event_error error = {NULL, ""};
    cJSON *json;
    int64_t seq = ++f->seq;
    int r;

    vsnprintf(data, sizeof(data), format, ap);
    snprintf(text, sizeof(text),
             "{'specversion': '1.0', 'id': 'e-%d', 'source': '/test', 'type': '%s', "
             "%s%s%s'data': %s}",
             ++f->event_number, type, time ? "'time': '" : "", time ? time : "", time ? "', " : "",
             data);
    json = parse(text);
    if (event_validate(json, &event, &error) != 0)
        fail_msg("test event is not valid (%s: %s): %s", error.code, error.message, text);
    memset(&f->error, 0, sizeof(f->error));
    assert_int_equal(store_begin(f->store), 0);
    obligations_begin(f->obligations, f->now_ms);
    if (event.type == EVENT_STAFF_HIRED || event.type == EVENT_STAFF_CHANGED ||
        event.type == EVENT_STAFF_LEFT)
        r = apply_staff_event(f, &event, seq);
    else
        r = obligations_apply(f->obligations, &event, seq, NULL, NULL, &f->error);
    if (r >= 0)
        run_due_now(f);
    assert_int_equal(store_commit(f->store), 0);
    cJSON_Delete(json);
    return r;
}

/* Applies an event that must be accepted. */
static void __attribute__((format(printf, 4, 5)))
apply_ok(struct fixture *f, const char *type, const char *time, const char *format, ...)
{
    va_list ap;
    int r;

    va_start(ap, format);
    r = vapply(f, type, time, format, ap);
    va_end(ap);
    if (r != 0)
        fail_msg("%s: expected 0, got %d (%s: %s)", type, r, f->error.code ? f->error.code : "",
                 f->error.message);
}

/* Applies an event that must be rejected with code. */
static void __attribute__((format(printf, 4, 5)))
apply_rejected(struct fixture *f, const char *code, const char *type, const char *format, ...)
{
    va_list ap;
    int r;

    va_start(ap, format);
    r = vapply(f, type, NULL, format, ap);
    va_end(ap);
    if (r != 1)
        fail_msg("%s: expected rejection %s, got %d", type, code, r);
    if (f->error.code == NULL || strcmp(f->error.code, code) != 0)
        fail_msg("%s: expected %s, got %s (%s)", type, code, f->error.code ? f->error.code : "NULL",
                 f->error.message);
    if (f->error.message[0] == '\0')
        fail_msg("%s: %s without a message", type, code);
}

/* staff.hired with the line manager found through the team. */
static void
hire(struct fixture *f, const char *staff_id, const char *name, const char *role,
     const char *team_id, const char *start_date)
{
    apply_ok(f, "staff.hired", NULL,
             "{'staff_id': '%s', 'name': '%s', 'role': '%s', 'team_id': '%s', "
             "'start_date': '%s'}",
             staff_id, name, role, team_id, start_date);
}

/* The scheduler's transaction at now_ms. */
static void
run_at(struct fixture *f, int64_t now_ms)
{
    f->now_ms = now_ms;
    assert_int_equal(store_begin(f->store), 0);
    obligations_begin(f->obligations, now_ms);
    run_due_now(f);
    assert_int_equal(store_commit(f->store), 0);
}

/* Runs the scheduler at each pending action's moment up to until_ms, as the daemon's timer does. */
static void
advance_to(struct fixture *f, int64_t until_ms)
{
    for (int guard = 0; guard < 10000; guard++) {
        int64_t next_ms;
        assert_int_equal(obligations_next_ms(f->obligations, &next_ms), 0);
        if (next_ms == 0 || next_ms > until_ms)
            break;
        run_at(f, next_ms);
    }
    run_at(f, until_ms);
}

/* ---- Reading results ---- */

/* What to look for: NULL (or -1 for state) matches anything. */
struct match {
    const char *kind;
    const char *item;
    const char *step;
    int state;
    int count;
    struct obligation found;
};

static int
match_one(void *context, const struct obligation *obligation)
{
    struct match *m = context;

    if ((m->kind && strcmp(obligation->kind, m->kind) != 0) ||
        (m->item && strcmp(obligation->item, m->item) != 0) ||
        (m->step && strcmp(obligation->step, m->step) != 0) ||
        (m->state >= 0 && obligation->state != m->state))
        return 0;
    if (m->count++ == 0)
        m->found = *obligation;
    return 0;
}

/* How many of staff_id's obligations match. */
static int
count_matching(struct fixture *f, const char *staff_id, const char *kind, const char *item,
               const char *step, int state)
{
    struct match m = {kind, item, step, state, 0, {0}};

    assert_int_equal(store_obligations_of(f->store, staff_id, NULL, NULL, false, match_one, &m), 0);
    return m.count;
}

/* The one obligation of staff_id that matches; fails unless there is exactly one. */
static struct obligation
the_obligation(struct fixture *f, const char *staff_id, const char *kind, const char *item,
               const char *step, int state)
{
    struct match m = {kind, item, step, state, 0, {0}};

    assert_int_equal(store_obligations_of(f->store, staff_id, NULL, NULL, false, match_one, &m), 0);
    if (m.count != 1)
        fail_msg("%s: expected one %s/%s/%s in state %d, found %d", staff_id, kind ? kind : "*",
                 item ? item : "*", step ? step : "*", state, m.count);
    return m.found;
}

/* The one completed obligation of kind closed on day. */
struct closed_match {
    int64_t day;
    int count;
    struct obligation found;
};

static int
match_closed(void *context, const struct obligation *obligation)
{
    struct closed_match *m = context;

    if (obligation->state == OBLIGATION_COMPLETED && obligation->closed_day == m->day &&
        m->count++ == 0)
        m->found = *obligation;
    return 0;
}

static struct obligation
completed_on(struct fixture *f, const char *staff_id, const char *kind, int64_t day)
{
    struct closed_match m = {day, 0, {0}};

    assert_int_equal(store_obligations_of(f->store, staff_id, kind, NULL, false, match_closed, &m),
                     0);
    if (m.count != 1)
        fail_msg("%s: expected one %s completed on day %lld, found %d", staff_id, kind,
                 (long long)day, m.count);
    return m.found;
}

static int
count_all(struct fixture *f, const char *staff_id, bool pending_only)
{
    struct match m = {NULL, NULL, NULL, -1, 0, {0}};

    assert_int_equal(
        store_obligations_of(f->store, staff_id, NULL, NULL, pending_only, match_one, &m), 0);
    return m.count;
}

static int64_t
last_seq(struct fixture *f)
{
    int64_t seq, missed;

    assert_int_equal(store_notifications_summary(f->store, &seq, &missed), 0);
    return seq;
}

static int64_t
missed_count(struct fixture *f)
{
    int64_t seq, missed;

    assert_int_equal(store_notifications_summary(f->store, &seq, &missed), 0);
    return missed;
}

/* The one notification about kind after seq; fails unless there is exactly one. */
static struct notification
the_notification(struct fixture *f, int64_t after, const char *kind)
{
    struct notification_list list;
    struct notification found;
    int count = 0;

    notifications_after(f->store, after, &list);
    for (size_t i = 0; i < list.count; i++)
        if (strcmp(list.items[i].kind, kind) == 0 && count++ == 0)
            found = list.items[i];
    free(list.items);
    if (count != 1)
        fail_msg("expected one %s notification after seq %lld, found %d", kind, (long long)after,
                 count);
    return found;
}

static void
expect_contains(const char *text, const char *needle)
{
    if (strstr(text, needle) == NULL)
        fail_msg("expected \"%s\" in \"%s\"", needle, text);
}

/* Expects list to hold exactly the recipients named (in this order), each once. */
static void
expect_recipients(const struct notification_list *list, const char *const *ids, size_t count)
{
    if (list->count != count) {
        for (size_t i = 0; i < list->count; i++)
            print_message("  got %s (%s level %d)\n", list->items[i].recipient_id,
                          list->items[i].type, list->items[i].level);
        fail_msg("expected %zu notifications, got %zu", count, list->count);
    }
    for (size_t i = 0; i < count; i++)
        assert_string_equal(list->items[i].recipient_id, ids[i]);
}

#define EXPECT_RECIPIENTS(list, ...)                                                               \
    do {                                                                                           \
        const char *const ids_[] = {__VA_ARGS__};                                                  \
        expect_recipients(list, ids_, sizeof(ids_) / sizeof(ids_[0]));                             \
    } while (0)

/* ---- staff.hired ---- */

static void
test_hired_creates_plans(void **state)
{
    struct fixture *f = *state;
    struct obligation o;

    /* Sam, a care worker in T1A (a sub-team of T1), starts Monday 5 January 2026. */
    hire(f, "S1", "Sam Carter", "care_worker", "T1A", "2026-01-05");
    assert_int_equal(count_all(f, "S1", false), 5);

    o = the_obligation(f, "S1", "supervision", "", "", OBLIGATION_OPEN);
    assert_int_equal(o.occurrence, 1);
    assert_int_equal(o.due_day, DAY(2026, 2, 2)); /* Mon: start + 4 weeks */
    assert_int_equal(o.target_day, DAY(2026, 2, 2));
    assert_true(o.booked_day == STORE_NO_DAY);
    assert_true(o.closed_day == STORE_NO_DAY);
    assert_int_equal(o.next_ms, UTC(2026, 1, 19, 9, 0)); /* Mon: 14 days before, 09:00 GMT */

    o = the_obligation(f, "S1", "appraisal", "", "", OBLIGATION_OPEN);
    assert_int_equal(o.due_day, DAY(2026, 7, 5)); /* Sun: start + 6 months */
    /* 14 days before is Sunday 21 June: Friday 19 June, 09:00 BST. */
    assert_int_equal(o.next_ms, UTC(2026, 6, 19, 8, 0));

    o = the_obligation(f, "S1", "induction", "", "week1", OBLIGATION_OPEN);
    assert_int_equal(o.due_day, DAY(2026, 1, 12)); /* Mon: start + 1 week */
    o = the_obligation(f, "S1", "induction", "", "week4", OBLIGATION_OPEN);
    assert_int_equal(o.due_day, DAY(2026, 2, 2)); /* Mon: start + 4 weeks */

    o = the_obligation(f, "S1", "training", "safeguarding", "", OBLIGATION_OPEN);
    assert_int_equal(o.due_day, DAY(2026, 3, 30)); /* Mon: start + 12 weeks */
    assert_int_equal(count_matching(f, "S1", "training", "fire_safety", NULL, -1),
                     0); /* no first */
    assert_int_equal(count_matching(f, "S1", "concern", NULL, NULL, -1), 0);
    assert_int_equal(count_matching(f, "S1", "return_to_work", NULL, NULL, -1), 0);
    assert_int_equal(count_matching(f, "S1", "action", NULL, NULL, -1), 0);

    /* A cook in T1: the team is right, the role is not: only the appraisal. */
    hire(f, "S2", "Chris Dunn", "cook", "T1", "2026-01-05");
    assert_int_equal(count_all(f, "S2", false), 1);
    assert_int_equal(count_matching(f, "S2", "appraisal", NULL, NULL, OBLIGATION_OPEN), 1);

    /* A care worker in T2: the role is right, the team is not: no supervision. */
    hire(f, "S3", "Dee Evans", "care_worker", "T2", "2026-01-05");
    assert_int_equal(count_matching(f, "S3", "supervision", NULL, NULL, -1), 0);
    assert_int_equal(count_matching(f, "S3", "induction", NULL, NULL, OBLIGATION_OPEN), 2);
    assert_int_equal(count_matching(f, "S3", "training", "safeguarding", NULL, OBLIGATION_OPEN), 1);
    assert_int_equal(count_matching(f, "S3", "appraisal", NULL, NULL, OBLIGATION_OPEN), 1);
    assert_int_equal(count_all(f, "S3", false), 4);

    /* A senior care worker in T1 itself, starting Thursday 15 January. */
    hire(f, "S4", "Eli Ford", "senior_care_worker", "T1", "2026-01-15");
    o = the_obligation(f, "S4", "supervision", "", "", OBLIGATION_OPEN);
    assert_int_equal(o.due_day, DAY(2026, 2, 12)); /* Thu: start + 4 weeks */
    assert_int_equal(count_all(f, "S4", false), 2);
}

static void
test_hired_long_ago_records_old_milestones_missed(void **state)
{
    struct fixture *f = *state;
    struct obligation o;

    /* Imported on 5 January 2026, started Monday 3 November 2025. */
    hire(f, "S1", "Sam Carter", "care_worker", "T1A", "2025-11-03");
    o = the_obligation(f, "S1", "induction", "", "week1", -1);
    assert_int_equal(o.state, OBLIGATION_MISSED); /* due 10 November: far past */
    assert_int_equal(o.due_day, DAY(2025, 11, 10));
    assert_int_equal(o.next_ms, 0);
    o = the_obligation(f, "S1", "induction", "", "week4", -1);
    assert_int_equal(o.state, OBLIGATION_MISSED); /* due 1 December */
    /* A recurring kind is chased however late: due Monday 1 December 2025. */
    o = the_obligation(f, "S1", "supervision", "", "", -1);
    assert_int_equal(o.state, OBLIGATION_OPEN);
    assert_int_equal(o.due_day, DAY(2025, 12, 1));
}

/* ---- review.completed ---- */

static void
complete_supervision(struct fixture *f, const char *staff_id, const char *date)
{
    apply_ok(f, "review.completed", NULL,
             "{'staff_id': '%s', 'kind': 'supervision', 'date': '%s', 'by': 'M1', "
             "'outcome': 'Agreed three goals'}",
             staff_id, date);
}

static void
test_completed_recurring_opens_next(void **state)
{
    struct fixture *f = *state;
    struct obligation first, open, again;

    hire(f, "S1", "Sam Carter", "senior_care_worker", "T1", "2026-01-05");
    f->now_ms = UTC(2026, 1, 30, 7, 0);
    complete_supervision(f, "S1", "2026-01-30"); /* Fri */

    first = the_obligation(f, "S1", "supervision", "", "", OBLIGATION_COMPLETED);
    assert_int_equal(first.occurrence, 1);
    assert_int_equal(first.due_day, DAY(2026, 2, 2));
    assert_int_equal(first.closed_day, DAY(2026, 1, 30));
    assert_string_equal(first.reason, "Agreed three goals");
    assert_int_equal(first.next_ms, 0);
    open = the_obligation(f, "S1", "supervision", "", "", OBLIGATION_OPEN);
    assert_int_equal(open.occurrence, 2);
    assert_int_equal(open.due_day, DAY(2026, 3, 13)); /* Fri: 30 January + 6 weeks */

    /* The same completion again changes nothing. */
    complete_supervision(f, "S1", "2026-01-30");
    assert_int_equal(count_matching(f, "S1", "supervision", NULL, NULL, -1), 2);
    again = the_obligation(f, "S1", "supervision", "", "", OBLIGATION_OPEN);
    assert_int_equal(again.id, open.id);
    assert_int_equal(again.due_day, open.due_day);
    assert_int_equal(again.updated_seq, open.updated_seq);
}

static void
test_completed_out_of_order_is_history(void **state)
{
    struct fixture *f = *state;
    struct obligation open_a, open_b, open_c, before, history;

    /* A gets 30 Jan, 10 Mar, then the late 20 Feb; B only 30 Jan and 10 Mar; C all in order. */
    hire(f, "SA", "Ann Able", "senior_care_worker", "T1", "2026-01-05");
    hire(f, "SB", "Ben Best", "senior_care_worker", "T1", "2026-01-05");
    hire(f, "SC", "Cal Cole", "senior_care_worker", "T1", "2026-01-05");
    f->now_ms = UTC(2026, 3, 16, 7, 0);
    complete_supervision(f, "SA", "2026-01-30");
    complete_supervision(f, "SA", "2026-03-10");
    before = the_obligation(f, "SA", "supervision", "", "", OBLIGATION_OPEN);
    complete_supervision(f, "SA", "2026-02-20");
    complete_supervision(f, "SB", "2026-01-30");
    complete_supervision(f, "SB", "2026-03-10");
    complete_supervision(f, "SC", "2026-01-30");
    complete_supervision(f, "SC", "2026-02-20");
    complete_supervision(f, "SC", "2026-03-10");

    open_a = the_obligation(f, "SA", "supervision", "", "", OBLIGATION_OPEN);
    open_b = the_obligation(f, "SB", "supervision", "", "", OBLIGATION_OPEN);
    open_c = the_obligation(f, "SC", "supervision", "", "", OBLIGATION_OPEN);
    assert_int_equal(open_b.due_day, DAY(2026, 4, 21)); /* Tue: 10 March + 6 weeks */
    assert_int_equal(open_a.due_day, open_b.due_day);
    assert_int_equal(open_c.due_day, open_b.due_day);
    /* The late one left the open obligation as it was. */
    assert_int_equal(open_a.id, before.id);
    assert_int_equal(open_a.updated_seq, before.updated_seq);
    assert_int_equal(open_a.occurrence, 3);

    /* ... and is kept as history: a completed record of 20 February, outside the occurrences. */
    assert_int_equal(count_matching(f, "SA", "supervision", NULL, NULL, OBLIGATION_COMPLETED), 3);
    history = completed_on(f, "SA", "supervision", DAY(2026, 2, 20));
    assert_int_equal(history.occurrence, 0);
    assert_int_equal(history.next_ms, 0);
    assert_string_equal(history.reason,
                        "recorded late: an earlier completion than one already recorded");
    assert_int_equal(completed_on(f, "SA", "supervision", DAY(2026, 3, 10)).occurrence, 2);
    assert_int_equal(completed_on(f, "SC", "supervision", DAY(2026, 2, 20)).occurrence, 2);
}

static void
test_completed_rejections(void **state)
{
    struct fixture *f = *state;

    hire(f, "S1", "Sam Carter", "care_worker", "T1A", "2026-01-05");
    int before = count_all(f, "S1", false);
    apply_rejected(f, "bad_date", "review.completed",
                   "{'staff_id': 'S1', 'kind': 'supervision', 'date': '2026-01-04'}");
    apply_rejected(f, "unknown_kind", "review.completed",
                   "{'staff_id': 'S1', 'kind': 'yoga', 'date': '2026-01-20'}");
    apply_rejected(f, "wrong_event", "review.completed",
                   "{'staff_id': 'S1', 'kind': 'training', 'date': '2026-01-20'}");
    apply_rejected(f, "wrong_event", "review.completed",
                   "{'staff_id': 'S1', 'kind': 'action', 'date': '2026-01-20'}");
    apply_rejected(f, "unknown_staff", "review.completed",
                   "{'staff_id': 'S99', 'kind': 'supervision', 'date': '2026-01-20'}");
    assert_int_equal(count_all(f, "S1", false), before);
    assert_int_equal(count_matching(f, "S1", NULL, NULL, NULL, OBLIGATION_COMPLETED), 0);
}

static void
test_completed_milestone_step(void **state)
{
    struct fixture *f = *state;
    struct obligation o;

    hire(f, "S1", "Sam Carter", "care_worker", "T1A", "2026-01-05");
    f->now_ms = UTC(2026, 1, 12, 7, 0); /* completions are recorded once they have happened */
    /* The step named: week4, though week1 is earlier. */
    apply_ok(f, "review.completed", NULL,
             "{'staff_id': 'S1', 'kind': 'induction', 'date': '2026-01-09', 'step': 'week4'}");
    o = the_obligation(f, "S1", "induction", "", "week4", -1);
    assert_int_equal(o.state, OBLIGATION_COMPLETED);
    assert_int_equal(o.closed_day, DAY(2026, 1, 9));
    assert_int_equal(the_obligation(f, "S1", "induction", "", "week1", -1).state, OBLIGATION_OPEN);
    /* No step: the earliest still to do. */
    apply_ok(f, "review.completed", NULL,
             "{'staff_id': 'S1', 'kind': 'induction', 'date': '2026-01-12'}");
    o = the_obligation(f, "S1", "induction", "", "week1", -1);
    assert_int_equal(o.state, OBLIGATION_COMPLETED);
    assert_int_equal(o.closed_day, DAY(2026, 1, 12));
    assert_string_equal(o.reason, "completed");
    /* A completion dated after tomorrow has not happened yet. */
    apply_rejected(f, "bad_date", "review.completed",
                   "{'staff_id': 'S1', 'kind': 'supervision', 'date': '2026-01-14'}");
    apply_rejected(f, "bad_date", "training.completed",
                   "{'staff_id': 'S1', 'course': 'safeguarding', 'date': '2026-02-01'}");
}

/* ---- review.booked ---- */

static void
test_booked(void **state)
{
    struct fixture *f = *state;
    struct obligation o;

    hire(f, "S1", "Sam Carter", "care_worker", "T1A", "2026-01-05");
    f->now_ms = UTC(2026, 1, 10, 10, 0);
    apply_ok(f, "review.booked", "2026-01-10T10:00:00Z",
             "{'staff_id': 'S1', 'kind': 'supervision', 'date': '2026-01-28'}");
    o = the_obligation(f, "S1", "supervision", "", "", OBLIGATION_OPEN);
    assert_int_equal(o.booked_day, DAY(2026, 1, 28)); /* Wed */
    assert_int_equal(o.booked_ms, UTC(2026, 1, 10, 10, 0));
    assert_int_equal(o.due_day, DAY(2026, 2, 2));
    assert_int_equal(o.target_day, DAY(2026, 1, 28));
    assert_int_equal(o.next_ms, UTC(2026, 1, 14, 9, 0)); /* Wed: 14 days before the booking */

    /* An older booking (event time 9 January) arriving later changes nothing. */
    apply_ok(f, "review.booked", "2026-01-09T10:00:00Z",
             "{'staff_id': 'S1', 'kind': 'supervision', 'date': '2026-01-20'}");
    o = the_obligation(f, "S1", "supervision", "", "", OBLIGATION_OPEN);
    assert_int_equal(o.booked_day, DAY(2026, 1, 28));
    assert_int_equal(o.target_day, DAY(2026, 1, 28));

    /* A newer booking after the due date: the target stays the due date. */
    apply_ok(f, "review.booked", "2026-01-11T10:00:00Z",
             "{'staff_id': 'S1', 'kind': 'supervision', 'date': '2026-02-10'}");
    o = the_obligation(f, "S1", "supervision", "", "", OBLIGATION_OPEN);
    assert_int_equal(o.booked_day, DAY(2026, 2, 10)); /* Tue */
    assert_int_equal(o.target_day, DAY(2026, 2, 2));

    /* A milestone step is booked by name. */
    apply_ok(f, "review.booked", "2026-01-11T11:00:00Z",
             "{'staff_id': 'S1', 'kind': 'induction', 'date': '2026-01-30', 'step': 'week4'}");
    o = the_obligation(f, "S1", "induction", "", "week4", OBLIGATION_OPEN);
    assert_int_equal(o.booked_day, DAY(2026, 1, 30));
    assert_int_equal(o.target_day, DAY(2026, 1, 30));
    o = the_obligation(f, "S1", "induction", "", "week1", OBLIGATION_OPEN);
    assert_true(o.booked_day == STORE_NO_DAY);

    /* Completed on Friday 30 January; a booking for 29 January sent afterwards changes nothing. */
    f->now_ms = UTC(2026, 1, 31, 10, 0);
    complete_supervision(f, "S1", "2026-01-30");
    apply_ok(f, "review.booked", "2026-01-31T10:00:00Z",
             "{'staff_id': 'S1', 'kind': 'supervision', 'date': '2026-01-29'}");
    o = the_obligation(f, "S1", "supervision", "", "", OBLIGATION_OPEN);
    assert_int_equal(o.occurrence, 2);
    assert_int_equal(o.due_day, DAY(2026, 3, 13));
    assert_true(o.booked_day == STORE_NO_DAY);
    o = the_obligation(f, "S1", "supervision", "", "", OBLIGATION_COMPLETED);
    assert_int_equal(o.booked_day, DAY(2026, 2, 10));
}

/* ---- review.waived ---- */

static void
test_waived(void **state)
{
    struct fixture *f = *state;
    struct obligation o;

    hire(f, "S1", "Sam Carter", "care_worker", "T1A", "2026-01-05");
    f->now_ms = UTC(2026, 1, 20, 7, 0);
    apply_ok(f, "review.waived", NULL,
             "{'staff_id': 'S1', 'kind': 'supervision', 'reason': 'On secondment'}");
    o = the_obligation(f, "S1", "supervision", "", "", OBLIGATION_WAIVED);
    assert_int_equal(o.occurrence, 1);
    assert_string_equal(o.reason, "On secondment");
    assert_int_equal(o.closed_day, DAY(2026, 1, 20));
    assert_int_equal(o.next_ms, 0);
    o = the_obligation(f, "S1", "supervision", "", "", OBLIGATION_OPEN);
    assert_int_equal(o.occurrence, 2);
    assert_int_equal(o.due_day, DAY(2026, 3, 16)); /* Mon: waived due 2 February + 6 weeks */

    /* A milestone step by name: only that step, and nothing follows it. */
    apply_ok(f, "review.waived", NULL,
             "{'staff_id': 'S1', 'kind': 'induction', 'reason': 'Transferred', 'step': 'week4'}");
    assert_int_equal(the_obligation(f, "S1", "induction", "", "week4", -1).state,
                     OBLIGATION_WAIVED);
    assert_int_equal(the_obligation(f, "S1", "induction", "", "week1", -1).state, OBLIGATION_OPEN);
    assert_int_equal(count_matching(f, "S1", "induction", NULL, NULL, -1), 2);

    apply_rejected(f, "nothing_open", "review.waived",
                   "{'staff_id': 'S1', 'kind': 'induction', 'reason': 'Again', 'step': 'week4'}");
    apply_rejected(f, "nothing_open", "review.waived",
                   "{'staff_id': 'S1', 'kind': 'concern', 'reason': 'None'}");
    apply_rejected(f, "wrong_event", "review.waived",
                   "{'staff_id': 'S1', 'kind': 'training', 'reason': 'None'}");
}

/* ---- action.assigned, action.completed ---- */

static void
test_actions(void **state)
{
    struct fixture *f = *state;
    struct obligation o, again;
    struct notification_list list;
    char what[300];

    hire(f, "S1", "Sam Carter", "care_worker", "T1A", "2026-01-05");
    apply_ok(f, "action.assigned", NULL,
             "{'action_id': 'X1', 'staff_id': 'S1', 'title': 'Finish the falls course', "
             "'due_date': '2026-02-20'}");
    o = the_obligation(f, "S1", "action", "X1", "", OBLIGATION_OPEN);
    assert_string_equal(o.title, "Finish the falls course");
    assert_string_equal(o.responsible_id, "");
    assert_int_equal(o.due_day, DAY(2026, 2, 20));       /* Fri */
    assert_int_equal(o.next_ms, UTC(2026, 2, 13, 9, 0)); /* Fri: 7 days before */
    obligations_describe(&f->config.kinds, &o, what, sizeof(what));
    assert_string_equal(what, "Finish the falls course");

    /* Assigned again: a new title, due date and responsible person on the same obligation. */
    apply_ok(f, "action.assigned", NULL,
             "{'action_id': 'X1', 'staff_id': 'S1', 'title': 'Finish the falls course, part 2', "
             "'due_date': '2026-03-06', 'responsible_id': 'M2'}");
    again = the_obligation(f, "S1", "action", "X1", "", OBLIGATION_OPEN);
    assert_int_equal(again.id, o.id);
    assert_string_equal(again.title, "Finish the falls course, part 2");
    assert_string_equal(again.responsible_id, "M2");
    assert_int_equal(again.due_day, DAY(2026, 3, 6));        /* Fri */
    assert_int_equal(again.next_ms, UTC(2026, 2, 27, 9, 0)); /* Fri: 7 days before */

    hire(f, "S2", "Chris Dunn", "cook", "T1", "2026-01-05");
    apply_rejected(f, "conflict", "action.assigned",
                   "{'action_id': 'X1', 'staff_id': 'S2', 'title': 'Someone else', "
                   "'due_date': '2026-03-06'}");
    apply_rejected(f, "unknown_kind", "action.assigned",
                   "{'action_id': 'X2', 'staff_id': 'S1', 'title': 'Wrong kind', "
                   "'due_date': '2026-03-06', 'kind': 'supervision'}");
    apply_rejected(f, "unknown_action", "action.completed",
                   "{'action_id': 'X9', 'date': '2026-03-01'}");

    /* The reminder goes to the responsible person, not the line manager. */
    int64_t seq = last_seq(f);
    advance_to(f, UTC(2026, 2, 27, 9, 0));
    memset(&list, 0, sizeof(list));
    assert_int_equal(
        store_notifications_after(f->store, seq, 10000, NULL, collect_notification, &list), 0);
    int reminders = 0;
    for (size_t i = 0; i < list.count; i++) {
        if (strcmp(list.items[i].kind, "action") != 0)
            continue;
        reminders++;
        assert_string_equal(list.items[i].recipient_id, "M2");
        assert_string_equal(list.items[i].item, "X1");
        expect_contains(list.items[i].text, "Finish the falls course, part 2 for Sam Carter is "
                                            "due on Friday 6 March 2026 (in 7 days)");
    }
    assert_int_equal(reminders, 1);
    free(list.items);

    f->now_ms = UTC(2026, 3, 1, 12, 0);
    apply_ok(f, "action.completed", NULL, "{'action_id': 'X1', 'date': '2026-03-01'}");
    o = the_obligation(f, "S1", "action", "X1", "", -1);
    assert_int_equal(o.state, OBLIGATION_COMPLETED);
    assert_int_equal(o.closed_day, DAY(2026, 3, 1));
    assert_int_equal(o.next_ms, 0);
    /* Completed again: the same outcome, nothing changes. */
    apply_ok(f, "action.completed", NULL, "{'action_id': 'X1', 'date': '2026-03-02'}");
    again = the_obligation(f, "S1", "action", "X1", "", -1);
    assert_int_equal(again.closed_day, DAY(2026, 3, 1));
    assert_int_equal(again.updated_seq, o.updated_seq);
}

/* ---- training.completed ---- */

static void
test_training(void **state)
{
    struct fixture *f = *state;
    struct obligation o;
    char what[300];

    hire(f, "S1", "Sam Carter", "care_worker", "T1A", "2026-01-05");
    f->now_ms = UTC(2026, 2, 10, 7, 0);
    apply_ok(f, "training.completed", NULL,
             "{'staff_id': 'S1', 'course': 'safeguarding', 'date': '2026-02-10'}");
    o = the_obligation(f, "S1", "training", "safeguarding", "", OBLIGATION_COMPLETED);
    assert_int_equal(o.due_day, DAY(2026, 3, 30));
    assert_int_equal(o.closed_day, DAY(2026, 2, 10));
    o = the_obligation(f, "S1", "training", "safeguarding", "", OBLIGATION_OPEN);
    assert_int_equal(o.due_day, DAY(2029, 2, 10)); /* Sat: + 3 years */
    obligations_describe(&f->config.kinds, &o, what, sizeof(what));
    assert_string_equal(what, "Safeguarding adults training renewal");

    /* A course with no first due date: the completion is recorded, the renewal follows. */
    apply_ok(f, "training.completed", NULL,
             "{'staff_id': 'S1', 'course': 'fire_safety', 'date': '2026-02-11'}");
    o = the_obligation(f, "S1", "training", "fire_safety", "", OBLIGATION_COMPLETED);
    assert_int_equal(o.closed_day, DAY(2026, 2, 11));
    o = the_obligation(f, "S1", "training", "fire_safety", "", OBLIGATION_OPEN);
    assert_int_equal(o.due_day, DAY(2027, 2, 11)); /* Thu: + 1 year */

    apply_rejected(f, "unknown_course", "training.completed",
                   "{'staff_id': 'S1', 'course': 'basket_weaving', 'date': '2026-02-11'}");
    apply_rejected(f, "bad_date", "training.completed",
                   "{'staff_id': 'S1', 'course': 'fire_safety', 'date': '2025-12-01'}");
    assert_int_equal(count_matching(f, "S1", "training", NULL, NULL, -1), 4);
}

/* ---- concern.opened, concern.closed ---- */

static void
test_concerns(void **state)
{
    struct fixture *f = *state;
    struct obligation o;

    hire(f, "S1", "Sam Carter", "care_worker", "T1A", "2026-01-05");
    f->now_ms = UTC(2026, 1, 7, 7, 0);
    apply_ok(f, "concern.opened", NULL,
             "{'concern_id': 'C1', 'staff_id': 'S1', 'date': '2026-01-07'}");
    o = the_obligation(f, "S1", "concern", "C1", "welfare_check", OBLIGATION_OPEN);
    assert_int_equal(o.due_day, DAY(2026, 1, 9)); /* Fri: + 2 days */
    o = the_obligation(f, "S1", "concern", "C1", "review", OBLIGATION_OPEN);
    assert_int_equal(o.due_day, DAY(2026, 2, 4)); /* Wed: + 4 weeks */
    /* Opened again: nothing more. */
    apply_ok(f, "concern.opened", NULL,
             "{'concern_id': 'C1', 'staff_id': 'S1', 'date': '2026-01-07'}");
    assert_int_equal(count_matching(f, "S1", "concern", NULL, NULL, -1), 2);

    f->now_ms = UTC(2026, 1, 9, 10, 0);
    apply_ok(f, "review.completed", NULL,
             "{'staff_id': 'S1', 'kind': 'concern', 'date': '2026-01-09', "
             "'step': 'welfare_check'}");
    f->now_ms = UTC(2026, 1, 20, 7, 0);
    apply_ok(f, "concern.closed", NULL,
             "{'concern_id': 'C1', 'date': '2026-01-20', 'outcome': 'Resolved informally'}");
    o = the_obligation(f, "S1", "concern", "C1", "review", -1);
    assert_int_equal(o.state, OBLIGATION_CANCELLED);
    assert_string_equal(o.reason, "the concern was closed on 2026-01-20");
    assert_int_equal(o.next_ms, 0);
    o = the_obligation(f, "S1", "concern", "C1", "welfare_check", -1);
    assert_int_equal(o.state, OBLIGATION_COMPLETED);
    /* Nothing else was touched. */
    assert_int_equal(count_matching(f, "S1", "supervision", NULL, NULL, OBLIGATION_OPEN), 1);

    apply_rejected(f, "unknown_concern", "concern.closed",
                   "{'concern_id': 'C9', 'date': '2026-01-20'}");
    apply_rejected(f, "unknown_staff", "concern.opened",
                   "{'concern_id': 'C2', 'staff_id': 'S99', 'date': '2026-01-20'}");
    apply_ok(f, "concern.opened", NULL,
             "{'concern_id': 'C3', 'staff_id': 'S1', 'date': '2026-01-20'}");
    apply_rejected(f, "bad_date", "concern.closed", "{'concern_id': 'C3', 'date': '2026-01-19'}");
    assert_int_equal(count_matching(f, "S1", "concern", "C3", NULL, OBLIGATION_OPEN), 2);
}

/* ---- absence.started, absence.ended ---- */

static void
test_absences(void **state)
{
    struct fixture *f = *state;
    struct obligation o;
    struct notification n;
    int64_t seq;

    /* Supervision shifts, appraisal restarts, induction continues, training shifts (default). */
    hire(f, "S1", "Sam Carter", "care_worker", "T1A", "2026-01-05");
    f->now_ms = UTC(2026, 1, 10, 10, 0);
    apply_ok(f, "review.booked", "2026-01-10T10:00:00Z",
             "{'staff_id': 'S1', 'kind': 'supervision', 'date': '2026-01-30'}");

    /* Friday 16 January: the reminder 14 days before the booking. */
    seq = last_seq(f);
    run_at(f, UTC(2026, 1, 16, 9, 0));
    n = the_notification(f, seq, "supervision");
    assert_int_equal(n.action, 0);
    expect_contains(n.text, "is booked for Friday 30 January 2026 (in 14 days)");

    f->now_ms = UTC(2026, 1, 19, 7, 0);
    apply_ok(f, "absence.started", NULL,
             "{'staff_id': 'S1', 'absence_id': 'A1', 'kind': 'sickness', "
             "'start_date': '2026-01-19'}");
    o = the_obligation(f, "S1", "supervision", "", "", -1);
    assert_int_equal(o.state, OBLIGATION_PAUSED);
    assert_int_equal(o.paused_day, DAY(2026, 1, 19));
    assert_int_equal(o.next_ms, 0);
    assert_int_equal(the_obligation(f, "S1", "appraisal", "", "", -1).state, OBLIGATION_PAUSED);
    assert_int_equal(the_obligation(f, "S1", "training", "safeguarding", "", -1).state,
                     OBLIGATION_PAUSED);
    assert_int_equal(the_obligation(f, "S1", "induction", "", "week4", -1).state, OBLIGATION_OPEN);

    apply_rejected(f, "overlapping_absence", "absence.started",
                   "{'staff_id': 'S1', 'absence_id': 'A2', 'kind': 'annual_leave', "
                   "'start_date': '2026-01-25'}");
    apply_rejected(f, "unknown_absence", "absence.ended",
                   "{'staff_id': 'S1', 'absence_id': 'A9', 'end_date': '2026-02-09'}");
    apply_rejected(f, "bad_date", "absence.ended",
                   "{'staff_id': 'S1', 'absence_id': 'A1', 'end_date': '2026-01-18'}");
    assert_int_equal(the_obligation(f, "S1", "supervision", "", "", -1).state, OBLIGATION_PAUSED);

    /* The last day off is Sunday 8 February, back on Monday 9 February: 21 days. */
    f->now_ms = UTC(2026, 2, 9, 7, 0);
    apply_ok(f, "absence.ended", NULL,
             "{'staff_id': 'S1', 'absence_id': 'A1', 'end_date': '2026-02-08'}");
    o = the_obligation(f, "S1", "supervision", "", "", -1);
    assert_int_equal(o.state, OBLIGATION_OPEN);
    assert_int_equal(o.due_day, DAY(2026, 2, 23)); /* Mon: 2 February + 21 days */
    assert_true(o.booked_day == STORE_NO_DAY);     /* the booking is void */
    assert_int_equal(o.target_day, DAY(2026, 2, 23));
    assert_true(o.paused_day == STORE_NO_DAY);
    /* Its reminders start again (a new generation): 14 days before, Monday 9 February. */
    assert_int_equal(o.generation, 1);
    assert_int_equal(o.reminders_done, 0);
    assert_int_equal(o.escalations_done, 0);
    assert_int_equal(o.next_ms, UTC(2026, 2, 9, 9, 0));
    seq = last_seq(f);
    run_at(f, UTC(2026, 2, 9, 9, 0));
    n = the_notification(f, seq, "supervision");
    assert_string_equal(n.recipient_id, "M1");
    assert_int_equal(n.action, 1000);
    expect_contains(n.text, "Supervision for Sam Carter is due on Monday 23 February 2026 (in 14 "
                            "days)");
    o = the_obligation(f, "S1", "training", "safeguarding", "", OBLIGATION_OPEN);
    assert_int_equal(o.due_day, DAY(2026, 4, 20)); /* Mon: 30 March + 21 days */

    o = the_obligation(f, "S1", "appraisal", "", "", OBLIGATION_CANCELLED);
    assert_string_equal(o.reason, "started again after an absence");
    assert_int_equal(o.closed_day, DAY(2026, 2, 9));
    o = the_obligation(f, "S1", "appraisal", "", "", OBLIGATION_OPEN);
    assert_int_equal(o.occurrence, 2);
    assert_int_equal(o.due_day, DAY(2026, 8, 9)); /* Sun: 9 February + 6 months */

    o = the_obligation(f, "S1", "return_to_work", "A1", "talk", OBLIGATION_OPEN);
    assert_int_equal(o.due_day, DAY(2026, 2, 12)); /* Thu: + 3 days */
    o = the_obligation(f, "S1", "induction", "", "week4", -1);
    assert_int_equal(o.due_day, DAY(2026, 2, 2)); /* "continue": untouched */

    /* Ended again: nothing more; ended again on another day: refused, not silently kept. */
    apply_ok(f, "absence.ended", NULL,
             "{'staff_id': 'S1', 'absence_id': 'A1', 'end_date': '2026-02-08'}");
    apply_rejected(f, "conflict", "absence.ended",
                   "{'staff_id': 'S1', 'absence_id': 'A1', 'end_date': '2026-02-10'}");
    assert_int_equal(count_matching(f, "S1", "return_to_work", NULL, NULL, -1), 1);
    assert_int_equal(the_obligation(f, "S1", "supervision", "", "", -1).due_day, DAY(2026, 2, 23));

    /* Annual leave, Monday 16 to Friday 20 February (5 days), and no return-to-work talk. */
    f->now_ms = UTC(2026, 2, 16, 7, 0);
    apply_ok(f, "absence.started", NULL,
             "{'staff_id': 'S1', 'absence_id': 'A3', 'kind': 'annual_leave', "
             "'start_date': '2026-02-16'}");
    assert_int_equal(the_obligation(f, "S1", "return_to_work", "A1", "talk", -1).state,
                     OBLIGATION_OPEN); /* "continue" */
    f->now_ms = UTC(2026, 2, 20, 7, 0);
    apply_ok(f, "absence.ended", NULL,
             "{'staff_id': 'S1', 'absence_id': 'A3', 'end_date': '2026-02-20'}");
    assert_int_equal(count_matching(f, "S1", "return_to_work", "A3", NULL, -1), 0);
    o = the_obligation(f, "S1", "supervision", "", "", OBLIGATION_OPEN);
    assert_int_equal(o.due_day, DAY(2026, 2, 28)); /* Sat: 23 February + 5 days */
    o = the_obligation(f, "S1", "appraisal", "", "", OBLIGATION_OPEN);
    assert_int_equal(o.occurrence, 3);
    assert_int_equal(o.due_day, DAY(2026, 8, 21)); /* Fri: back 21 February + 6 months */

    /* An absence overlapping one that has ended is refused too. */
    apply_rejected(f, "overlapping_absence", "absence.started",
                   "{'staff_id': 'S1', 'absence_id': 'A4', 'kind': 'sickness', "
                   "'start_date': '2026-02-05'}");
}

static void
test_absence_pauses_what_is_created_during_it(void **state)
{
    struct fixture *f = *state;
    struct obligation o;

    hire(f, "S1", "Sam Carter", "senior_care_worker", "T1", "2026-01-05");
    f->now_ms = UTC(2026, 1, 19, 7, 0);
    apply_ok(f, "absence.started", NULL,
             "{'staff_id': 'S1', 'absence_id': 'A1', 'kind': 'sickness', "
             "'start_date': '2026-01-19'}");
    /* A supervision recorded during the absence: the next one waits for the return. */
    complete_supervision(f, "S1", "2026-01-16");
    assert_int_equal(
        the_obligation(f, "S1", "supervision", "", "", OBLIGATION_COMPLETED).occurrence, 1);
    o = the_obligation(f, "S1", "supervision", "", "", OBLIGATION_PAUSED);
    assert_int_equal(o.occurrence, 2);
    assert_int_equal(o.due_day, DAY(2026, 2, 27)); /* Fri: 16 January + 6 weeks */
    assert_int_equal(o.next_ms, 0);
    /* An action assigned during it: paused too (actions shift by default). */
    apply_ok(f, "action.assigned", NULL,
             "{'action_id': 'X1', 'staff_id': 'S1', 'title': 'Read the policy', "
             "'due_date': '2026-02-06'}");
    assert_int_equal(the_obligation(f, "S1", "action", "X1", "", -1).state, OBLIGATION_PAUSED);
}

/* ---- staff.changed, staff.left ---- */

static void
test_staff_changed_and_left(void **state)
{
    struct fixture *f = *state;
    struct obligation o;

    hire(f, "S1", "Sam Carter", "care_worker", "T1A", "2026-01-05");

    /* Now a cook: supervision, induction and safeguarding no longer apply. */
    f->now_ms = UTC(2026, 1, 7, 7, 0);
    apply_ok(f, "staff.changed", NULL, "{'staff_id': 'S1', 'role': 'cook'}");
    o = the_obligation(f, "S1", "supervision", "", "", -1);
    assert_int_equal(o.state, OBLIGATION_CANCELLED);
    assert_string_equal(o.reason, "no longer applies after a change of role or team");
    assert_int_equal(o.closed_day, DAY(2026, 1, 7));
    assert_int_equal(o.next_ms, 0);
    assert_int_equal(count_matching(f, "S1", "induction", NULL, NULL, OBLIGATION_CANCELLED), 2);
    assert_int_equal(the_obligation(f, "S1", "training", "safeguarding", "", -1).state,
                     OBLIGATION_CANCELLED);
    assert_int_equal(the_obligation(f, "S1", "appraisal", "", "", -1).state, OBLIGATION_OPEN);
    assert_int_equal(count_all(f, "S1", true), 1);

    /* A care worker again on Monday 9 March: first due from today. */
    f->now_ms = UTC(2026, 3, 9, 7, 0);
    apply_ok(f, "staff.changed", NULL, "{'staff_id': 'S1', 'role': 'care_worker'}");
    o = the_obligation(f, "S1", "supervision", "", "", OBLIGATION_OPEN);
    assert_int_equal(o.due_day, DAY(2026, 4, 6)); /* Mon: 9 March + 4 weeks */
    o = the_obligation(f, "S1", "training", "safeguarding", "", OBLIGATION_OPEN);
    assert_int_equal(o.due_day, DAY(2026, 6, 1)); /* Mon: 9 March + 12 weeks */
    /* Milestone plans start only with staff.hired. */
    assert_int_equal(count_matching(f, "S1", "induction", NULL, NULL, OBLIGATION_OPEN), 0);
    /* A change that changes nothing about who it applies to: nothing new. */
    apply_ok(f, "staff.changed", NULL, "{'staff_id': 'S1', 'name': 'Samantha Carter'}");
    assert_int_equal(count_all(f, "S1", true), 3);

    /* Moved to the kitchen (T2, not under T1): supervision ends, safeguarding does not. */
    f->now_ms = UTC(2026, 3, 16, 7, 0);
    apply_ok(f, "staff.changed", NULL, "{'staff_id': 'S1', 'team_id': 'T2'}");
    assert_int_equal(count_matching(f, "S1", "supervision", NULL, NULL, OBLIGATION_OPEN), 0);
    assert_int_equal(count_matching(f, "S1", "supervision", NULL, NULL, OBLIGATION_CANCELLED), 2);
    assert_int_equal(count_matching(f, "S1", "training", "safeguarding", NULL, OBLIGATION_OPEN), 1);

    /* Leaving cancels everything still open. */
    f->now_ms = UTC(2026, 3, 20, 7, 0);
    apply_ok(f, "staff.left", NULL, "{'staff_id': 'S1', 'leave_date': '2026-04-30'}");
    assert_int_equal(count_all(f, "S1", true), 0);
    o = the_obligation(f, "S1", "appraisal", "", "", -1);
    assert_int_equal(o.state, OBLIGATION_CANCELLED);
    assert_string_equal(o.reason, "left on 2026-04-30");
    assert_int_equal(
        count_matching(f, "S1", "training", "safeguarding", NULL, OBLIGATION_CANCELLED), 2);
    /* Five from the hiring, two from the return to care work; none deleted. */
    assert_int_equal(count_matching(f, "S1", NULL, NULL, NULL, -1), 7);

    /* Hired again on Monday 1 June: a new plan from the new start date. */
    f->now_ms = UTC(2026, 6, 1, 7, 0);
    hire(f, "S1", "Sam Carter", "care_worker", "T1A", "2026-06-01");
    assert_int_equal(count_all(f, "S1", true), 5);
    o = the_obligation(f, "S1", "supervision", "", "", OBLIGATION_OPEN);
    assert_int_equal(o.due_day, DAY(2026, 6, 29)); /* Mon: + 4 weeks */
    o = the_obligation(f, "S1", "induction", "", "week1", OBLIGATION_OPEN);
    assert_int_equal(o.due_day, DAY(2026, 6, 8)); /* Mon: + 1 week */
}

/* ---- The scheduler ---- */

static void
test_reminder_sent_exactly_once(void **state)
{
    struct fixture *f = *state;
    struct notification_list list;
    const struct obligations_notice *notices;
    int64_t next_ms;
    size_t count;

    hire(f, "S5", "Sam Carter", "senior_care_worker", "T1", "2026-01-05");
    assert_int_equal(obligations_next_ms(f->obligations, &next_ms), 0);
    assert_int_equal(next_ms, UTC(2026, 1, 19, 9, 0)); /* Mon 19 January, 14 days before */

    run_at(f, UTC(2026, 1, 19, 8, 59));
    assert_int_equal(last_seq(f), 0);

    run_at(f, UTC(2026, 1, 19, 9, 0));
    notifications_after(f->store, 0, &list);
    assert_int_equal(list.count, 1);
    const struct notification *n = &list.items[0];
    assert_string_equal(n->type, "reminder");
    assert_string_equal(n->recipient_id, "M1"); /* T1's manager */
    assert_string_equal(n->staff_id, "S5");
    assert_string_equal(n->kind, "supervision");
    assert_int_equal(n->action, 0);
    assert_int_equal(n->level, 0);
    assert_int_equal(n->days_overdue, 0);
    assert_int_equal(n->due_day, DAY(2026, 2, 2));
    assert_true(n->booked_day == STORE_NO_DAY);
    assert_int_equal(n->planned_ms, UTC(2026, 1, 19, 9, 0));
    assert_int_equal(n->created_ms, UTC(2026, 1, 19, 9, 0));
    assert_string_equal(n->policy, POLICY);
    assert_string_equal(n->text,
                        "Supervision for Sam Carter is due on Monday 2 February 2026 (in 14 "
                        "days). Please book a time with them if you have not already, and record "
                        "it when it is done. Your organisation's guidance: " POLICY);
    notices = obligations_notices(f->obligations, &count);
    assert_int_equal(count, 1);
    assert_int_equal(notices[0].seq, n->seq);
    assert_string_equal(notices[0].type, "reminder");
    assert_string_equal(notices[0].recipient_id, "M1");
    assert_string_equal(notices[0].kind, "supervision");
    assert_int_equal(notices[0].level, 0);
    free(list.items);

    /* Again at the same moment, and a little later: nothing more. */
    run_at(f, UTC(2026, 1, 19, 9, 0));
    assert_int_equal(f->notices, 0);
    run_at(f, UTC(2026, 1, 20, 9, 0));
    assert_int_equal(last_seq(f), 1);
    assert_int_equal(missed_count(f), 0);
    assert_int_equal(obligations_next_ms(f->obligations, &next_ms), 0);
    assert_int_equal(next_ms, UTC(2026, 1, 30, 9, 0)); /* Fri: 3 days before */
    uint64_t sent, missed;
    obligations_counts(f->obligations, &sent, &missed);
    assert_int_equal(sent, 1);
    assert_int_equal(missed, 0);
}

static void
test_escalation_ladder(void **state)
{
    struct fixture *f = *state;
    struct notification_list list;
    int64_t seq;

    assert_int_equal(store_begin(f->store), 0);
    put_staff(f, "Q1", "Quinn Lee", "quality_lead", "T0", "M3");
    assert_int_equal(store_commit(f->store), 0);
    hire(f, "S5", "Sam Carter", "senior_care_worker", "T1", "2026-01-05");

    /* Friday 30 January and Monday 2 February: the other reminders, to M1. */
    advance_to(f, UTC(2026, 1, 30, 9, 0));
    notifications_after(f->store, 0, &list);
    EXPECT_RECIPIENTS(&list, "M1", "M1");
    expect_contains(list.items[1].text, "is due on Monday 2 February 2026 (in 3 days)");
    free(list.items);
    seq = last_seq(f);
    advance_to(f, UTC(2026, 2, 2, 9, 0));
    notifications_after(f->store, seq, &list);
    EXPECT_RECIPIENTS(&list, "M1");
    expect_contains(list.items[0].text, "is due on Monday 2 February 2026 (today)");
    free(list.items);

    /* Tuesday 3 February, 1 day overdue: level 1 to the manager. */
    seq = last_seq(f);
    advance_to(f, UTC(2026, 2, 3, 9, 0));
    notifications_after(f->store, seq, &list);
    EXPECT_RECIPIENTS(&list, "M1");
    assert_string_equal(list.items[0].type, "escalation");
    assert_int_equal(list.items[0].level, 1);
    assert_int_equal(list.items[0].action, 100);
    assert_int_equal(list.items[0].days_overdue, 1);
    expect_contains(list.items[0].text, "Supervision for Sam Carter is 1 day overdue: it was due "
                                        "on Monday 2 February 2026. Please arrange it");
    free(list.items);

    /*
     * Monday 9 February, 7 days: manager+1 (M2), the registered manager up
     * Sam's chain (M3; not R2, who runs another part of the organisation),
     * and Q1.
     */
    seq = last_seq(f);
    advance_to(f, UTC(2026, 2, 9, 9, 0));
    notifications_after(f->store, seq, &list);
    EXPECT_RECIPIENTS(&list, "M2", "M3", "Q1");
    for (size_t i = 0; i < list.count; i++) {
        assert_int_equal(list.items[i].level, 2);
        assert_int_equal(list.items[i].days_overdue, 7);
        expect_contains(list.items[i].text, "is 7 days overdue");
        expect_contains(list.items[i].text, "It has been passed to you");
    }
    free(list.items);

    /* Monday 16 February, 14 days: manager+2 (M3); nobody holds the role, so M1's manager M2. */
    seq = last_seq(f);
    advance_to(f, UTC(2026, 2, 16, 9, 0));
    notifications_after(f->store, seq, &list);
    EXPECT_RECIPIENTS(&list, "M3", "M2");
    assert_int_equal(list.items[0].level, 3);
    assert_int_equal(list.items[0].days_overdue, 14);
    free(list.items);

    /* Then every 7 days: Monday 23 February, the last step again. */
    seq = last_seq(f);
    advance_to(f, UTC(2026, 2, 23, 9, 0));
    notifications_after(f->store, seq, &list);
    EXPECT_RECIPIENTS(&list, "M3", "M2");
    assert_int_equal(list.items[0].level, 3);
    assert_int_equal(list.items[0].days_overdue, 21);
    assert_int_equal(list.items[0].action, 103);
    free(list.items);
    assert_int_equal(missed_count(f), 0);

    /* Completed: nothing more. */
    f->now_ms = UTC(2026, 2, 24, 7, 0);
    complete_supervision(f, "S5", "2026-02-24");
    seq = last_seq(f);
    advance_to(f, UTC(2026, 3, 2, 9, 0));
    assert_int_equal(last_seq(f), seq);
}

static void
test_escalation_never_to_the_subject(void **state)
{
    struct fixture *f = *state;
    struct notification_list list;
    int64_t seq;

    /* R3, a registered manager in T1A, and Q1 (named by staff:Q1) both have supervision. */
    hire(f, "R3", "Rose Hill", "registered_manager", "T1A", "2026-01-05");
    hire(f, "Q1", "Quinn Lee", "senior_care_worker", "T1", "2026-01-05");
    advance_to(f, UTC(2026, 2, 3, 9, 0));
    seq = last_seq(f);
    advance_to(f, UTC(2026, 2, 9, 9, 0));

    memset(&list, 0, sizeof(list));
    assert_int_equal(
        store_notifications_after(f->store, seq, 10000, NULL, collect_notification, &list), 0);
    for (size_t i = 0; i < list.count; i++)
        assert_string_not_equal(list.items[i].recipient_id, list.items[i].staff_id);
    free(list.items);

    /* R3's: the registered manager above R3 (M3); Q1 is still told about R3. */
    struct notification_list r3 = {0}, q1 = {0};
    notifications_after(f->store, seq, &list);
    for (size_t i = 0; i < list.count; i++) {
        assert_int_equal(list.items[i].level, 2);
        collect_notification(strcmp(list.items[i].staff_id, "R3") == 0 ? &r3 : &q1, &list.items[i]);
    }
    free(list.items);
    EXPECT_RECIPIENTS(&r3, "M2", "M3", "Q1");
    /*
     * Q1's: the registered manager above Q1 is M3 (R3 is in T1A, not above
     * Q1); staff:Q1 names only Q1, so that target falls back to M1's manager,
     * M2, told already.
     */
    EXPECT_RECIPIENTS(&q1, "M2", "M3");
    free(r3.items);
    free(q1.items);
}

static void
test_too_old_is_missed(void **state)
{
    struct fixture *f = *state;
    struct notification_list list;
    uint64_t sent, missed;

    hire(f, "S5", "Sam Carter", "care_worker", "T1", "2026-01-05");
    /*
     * The next run is on Tuesday 3 February at 09:00 (the daemon was down).
     * Supervision (due Monday 2 February): its 14-, 3- and 0-day reminders and
     * its first escalation are all due; only the latest, the escalation, goes
     * out.  Induction week 4 (due Monday 2 February): its one reminder is a
     * day old and goes out.  Induction week 1 (due Monday 12 January): its one
     * reminder is 22 days old, past missed_after_days, with nothing after it:
     * recorded as missed.
     */
    run_at(f, UTC(2026, 2, 3, 9, 0));
    assert_int_equal(missed_count(f), 1);
    notifications_after(f->store, 0, &list);
    assert_int_equal(list.count, 2);
    assert_string_equal(list.items[0].kind, "induction");
    assert_string_equal(list.items[0].step, "week4");
    expect_contains(list.items[0].text, "is due on Monday 2 February 2026 (1 day ago)");
    assert_string_equal(list.items[1].kind, "supervision");
    assert_int_equal(list.items[1].action, 100);
    assert_string_equal(list.items[1].type, "escalation");
    expect_contains(list.items[1].text, "is 1 day overdue");
    for (size_t i = 0; i < list.count; i++)
        assert_string_equal(list.items[i].recipient_id, "M1");
    free(list.items);
    obligations_counts(f->obligations, &sent, &missed);
    assert_int_equal(sent, 2);
    assert_int_equal(missed, 1);

    /* Nothing is sent or recorded twice. */
    run_at(f, UTC(2026, 2, 3, 9, 0));
    assert_int_equal(missed_count(f), 1);
    assert_int_equal(last_seq(f), 2);
}

static void
test_run_due_oldest_first_within_limit(void **state)
{
    struct fixture *f = *state;
    struct notification_list list;
    bool more;

    /* Supervision reminders 14 days before: S2 Mon 19, S3 Tue 20, S1 Wed 21 January. */
    hire(f, "S1", "Ann Able", "senior_care_worker", "T1", "2026-01-07");
    hire(f, "S2", "Ben Best", "senior_care_worker", "T1", "2026-01-05");
    hire(f, "S3", "Cal Cole", "senior_care_worker", "T1", "2026-01-06");
    f->now_ms = UTC(2026, 1, 21, 9, 0);
    for (int round = 0; round < 2; round++) {
        assert_int_equal(store_begin(f->store), 0);
        obligations_begin(f->obligations, f->now_ms);
        assert_int_equal(obligations_run_due(f->obligations, 1, &more), 0);
        assert_true(more);
        assert_int_equal(store_commit(f->store), 0);
        assert_int_equal(last_seq(f), round + 1);
    }
    assert_int_equal(store_begin(f->store), 0);
    obligations_begin(f->obligations, f->now_ms);
    assert_int_equal(obligations_run_due(f->obligations, 10, &more), 0);
    assert_false(more);
    assert_int_equal(store_commit(f->store), 0);
    notifications_after(f->store, 0, &list);
    assert_int_equal(list.count, 3);
    assert_string_equal(list.items[0].staff_id, "S2");
    assert_string_equal(list.items[1].staff_id, "S3");
    assert_string_equal(list.items[2].staff_id, "S1");
    /* Counted from the day they go out, Wednesday 21 January. */
    expect_contains(list.items[0].text, "Ben Best is due on Monday 2 February 2026 (in 12 days)");
    expect_contains(list.items[2].text,
                    "Ann Able is due on Wednesday 4 February 2026 (in 14 days)");
    free(list.items);
}

static void
test_nobody_to_tell_is_missed(void **state)
{
    struct fixture *f = *state;

    /* A cook in the bank team, which has no manager: only an appraisal, and nobody to remind. */
    hire(f, "X1", "Xan Young", "cook", "T9", "2026-01-05");
    advance_to(f, UTC(2026, 6, 19, 8, 0)); /* Fri 19 June, 09:00 BST */
    assert_int_equal(last_seq(f), 0);
    assert_int_equal(missed_count(f), 1);
}

/* ---- Pure functions ---- */

static void
test_format_day(void **state)
{
    char buf[64];

    (void)state;
    timefmt_format_day_long(DAY(2026, 2, 2), buf, sizeof(buf));
    assert_string_equal(buf, "Monday 2 February 2026");
    timefmt_format_day_long(DAY(2024, 2, 29), buf, sizeof(buf));
    assert_string_equal(buf, "Thursday 29 February 2024");
    timefmt_format_day_long(DAY(2026, 12, 31), buf, sizeof(buf));
    assert_string_equal(buf, "Thursday 31 December 2026");
    timefmt_format_day_long(0, buf, sizeof(buf));
    assert_string_equal(buf, "Thursday 1 January 1970");
    timefmt_format_day_long(DAY(2026, 7, 5), buf, sizeof(buf));
    assert_string_equal(buf, "Sunday 5 July 2026");
    timefmt_format_day_long(DAY(2026, 2, 2), buf, 7);
    assert_string_equal(buf, "Monday");
}

static void
reminder(struct notification *n)
{
    memset(n, 0, sizeof(*n));
    snprintf(n->type, sizeof(n->type), "reminder");
    n->due_day = DAY(2026, 2, 2);
    n->booked_day = STORE_NO_DAY;
}

static void
test_text_reminder(void **state)
{
    struct notification n;
    char buf[1024];

    (void)state;
    reminder(&n);
    obligations_text(&n, "Sam Carter", "Supervision", DAY(2026, 1, 19), buf, sizeof(buf));
    assert_string_equal(buf, "Supervision for Sam Carter is due on Monday 2 February 2026 (in 14 "
                             "days). Please book a time with them if you have not already, and "
                             "record it when it is done.");
    obligations_text(&n, "Sam Carter", "Supervision", DAY(2026, 1, 30), buf, sizeof(buf));
    expect_contains(buf, "is due on Monday 2 February 2026 (in 3 days).");
    obligations_text(&n, "Sam Carter", "Supervision", DAY(2026, 2, 1), buf, sizeof(buf));
    expect_contains(buf, "is due on Monday 2 February 2026 (tomorrow).");
    obligations_text(&n, "Sam Carter", "Supervision", DAY(2026, 2, 2), buf, sizeof(buf));
    expect_contains(buf, "is due on Monday 2 February 2026 (today).");

    /* Booked before the due date: the booking is what counts. */
    n.booked_day = DAY(2026, 1, 28);
    obligations_text(&n, "Sam Carter", "Week 4 check-in", DAY(2026, 1, 19), buf, sizeof(buf));
    assert_string_equal(buf, "Week 4 check-in for Sam Carter is booked for Wednesday 28 January "
                             "2026 (in 9 days). It is due by Monday 2 February 2026. Please make "
                             "sure it goes ahead, and record it when it is done.");
    obligations_text(&n, "Sam Carter", "Week 4 check-in", DAY(2026, 1, 27), buf, sizeof(buf));
    expect_contains(buf, "booked for Wednesday 28 January 2026 (tomorrow)");

    /* The policy link goes at the end. */
    reminder(&n);
    snprintf(n.policy, sizeof(n.policy), "%s", POLICY);
    obligations_text(&n, "Sam Carter", "Supervision", DAY(2026, 1, 19), buf, sizeof(buf));
    assert_string_equal(buf, "Supervision for Sam Carter is due on Monday 2 February 2026 (in 14 "
                             "days). Please book a time with them if you have not already, and "
                             "record it when it is done. Your organisation's guidance: " POLICY);

    /* A small buffer is cut short, always terminated. */
    char small[24];
    obligations_text(&n, "Sam Carter", "Supervision", DAY(2026, 1, 19), small, sizeof(small));
    assert_string_equal(small, "Supervision for Sam Car");
}

static void
test_text_escalation(void **state)
{
    struct notification n;
    char buf[1024];

    (void)state;
    reminder(&n);
    snprintf(n.type, sizeof(n.type), "escalation");
    n.level = 1;
    n.days_overdue = 1;
    obligations_text(&n, "Sam Carter", "Supervision", DAY(2026, 2, 3), buf, sizeof(buf));
    assert_string_equal(buf, "Supervision for Sam Carter is 1 day overdue: it was due on Monday 2 "
                             "February 2026. Please arrange it as soon as you can, and record it "
                             "when it is done.");
    n.level = 2;
    n.days_overdue = 7;
    obligations_text(&n, "Sam Carter", "Supervision", DAY(2026, 2, 9), buf, sizeof(buf));
    assert_string_equal(buf, "Supervision for Sam Carter is 7 days overdue: it was due on Monday "
                             "2 February 2026. It has been passed to you because it is still not "
                             "done. Please check with their line manager that it happens soon.");

    /* Booked before the due date and missed. */
    n.level = 1;
    n.days_overdue = 6;
    n.booked_day = DAY(2026, 1, 28);
    snprintf(n.policy, sizeof(n.policy), "%s", POLICY);
    obligations_text(&n, "Sam Carter", "Supervision", DAY(2026, 2, 3), buf, sizeof(buf));
    assert_string_equal(buf, "Supervision for Sam Carter is 6 days overdue: it was booked for "
                             "Wednesday 28 January 2026 and has not been recorded as done. Please "
                             "arrange it as soon as you can, and record it when it is done. Your "
                             "organisation's guidance: " POLICY);
}

static void
test_interested_and_depend_on_role(void **state)
{
    struct fixture *f = *state;
    struct kinds none;

    assert_false(obligations_interested(EVENT_TEAM_CHANGED));
    assert_false(obligations_interested(EVENT_KPI_OBSERVED));
    assert_true(obligations_interested(EVENT_STAFF_CHANGED));
    assert_true(obligations_interested(EVENT_REVIEW_COMPLETED));
    assert_true(obligations_depend_on_role(&f->config.kinds));
    memset(&none, 0, sizeof(none));
    assert_false(obligations_depend_on_role(&none));
}

/* ---- A new configuration (a reload) ---- */

/* text with every occurrence of from replaced by to (the caller frees it). */
static char *
replaced(const char *text, const char *from, const char *to)
{
    size_t size = strlen(text) + 1;
    char *out, *at;

    for (const char *p = strstr(text, from); p; p = strstr(p + 1, from))
        size += strlen(to);
    out = calloc(1, size);
    assert_non_null(out);
    at = out;
    for (const char *p = text;;) {
        const char *found = strstr(p, from);
        if (found == NULL) {
            strcpy(at, p);
            break;
        }
        memcpy(at, p, (size_t)(found - p));
        at += found - p;
        strcpy(at, to);
        at += strlen(to);
        p = found + strlen(from);
    }
    return out;
}

/*
 * obligations_set_kinds() between transactions, as a reload does: the send
 * time moves from 09:00 to 14:00, the induction kind is removed and a
 * "wellbeing" kind (care workers, every 4 weeks, the first after 1 week) is
 * added.  Someone hired afterwards gets the new kind at the new time and no
 * induction; someone hired before keeps what was planned, gets no
 * wellbeing, and hears nothing more of the removed induction; a reminder
 * planned for 09:00 comes up then, is worked out again and goes out at 14:00.
 */
static void
test_set_kinds_between_transactions(void **state)
{
    struct fixture *f = *state;
    char path[160], *text, *step;
    struct config next;
    struct config_errors errors;
    struct notification n;
    struct obligation o;
    FILE *file;

    hire(f, "S1", "Sam Doyle", "care_worker", "T1", "2026-01-05");
    o = the_obligation(f, "S1", "supervision", "", "", OBLIGATION_OPEN);
    assert_int_equal(o.next_ms, UTC(2026, 1, 19, 9, 0)); /* 14 days before Mon 2 February */
    o = the_obligation(f, "S1", "induction", "", "week1", OBLIGATION_OPEN);
    assert_int_equal(o.next_ms, UTC(2026, 1, 12, 9, 0));

    snprintf(path, sizeof(path), "%s/next.conf", f->dir);
    text = calloc(1, sizeof(config_format) + 64);
    assert_non_null(text);
    snprintf(text, sizeof(config_format) + 64, config_format, f->dir);
    step = replaced(text, "send_time = \"09:00\"", "send_time = \"14:00\"");
    free(text);
    text = replaced(step, "name = \"induction\"", "name = \"wellbeing\"");
    free(step);
    step = replaced(text,
                    "milestones = { after = \"staff.hired\"; steps = (\n"
                    "          { name = \"week1\"; title = \"Week 1 check-in\"; at = \"1 week\"; "
                    "},\n"
                    "          { name = \"week4\"; title = \"Week 4 check-in\"; at = \"4 weeks\"; "
                    "} ); };",
                    "recurring = { every = \"4 weeks\"; first = \"1 week\"; };");
    free(text);
    file = fopen(path, "w");
    assert_non_null(file);
    fputs(step, file);
    fclose(file);
    free(step);
    if (config_load(path, &next, &errors) != 0) {
        for (int i = 0; i < errors.count && i < CONFIG_MAX_ERRORS; i++)
            print_message("  %s\n", errors.text[i]);
        fail_msg("the second file was refused");
    }
    assert_null(kinds_find(&next.kinds, "induction"));
    assert_non_null(kinds_find(&next.kinds, "wellbeing"));
    obligations_set_kinds(f->obligations, &next.kinds);

    /* Nothing stored is rewritten by the change itself. */
    o = the_obligation(f, "S1", "supervision", "", "", OBLIGATION_OPEN);
    assert_int_equal(o.next_ms, UTC(2026, 1, 19, 9, 0));
    hire(f, "S2", "Kim Ahn", "care_worker", "T1", "2026-01-05");
    assert_int_equal(count_matching(f, "S2", "induction", NULL, NULL, -1), 0);
    assert_int_equal(count_matching(f, "S1", "wellbeing", NULL, NULL, -1), 0);
    o = the_obligation(f, "S2", "wellbeing", "", "", OBLIGATION_OPEN);
    assert_int_equal(o.due_day, DAY(2026, 1, 12));
    assert_int_equal(o.next_ms, UTC(2026, 1, 12, 14, 0));
    o = the_obligation(f, "S2", "supervision", "", "", OBLIGATION_OPEN);
    assert_int_equal(o.next_ms, UTC(2026, 1, 19, 14, 0));

    /* Monday 12 January: S1's induction step comes up at 09:00 and sends nothing. */
    advance_to(f, UTC(2026, 1, 12, 13, 59));
    assert_int_equal(last_seq(f), 0);
    o = the_obligation(f, "S1", "induction", "", "week1", OBLIGATION_OPEN);
    assert_int_equal(o.next_ms, 0);
    advance_to(f, UTC(2026, 1, 12, 14, 0));
    n = the_notification(f, 0, "wellbeing");
    assert_string_equal(n.staff_id, "S2");
    assert_string_equal(n.recipient_id, "M1");
    assert_int_equal(n.planned_ms, UTC(2026, 1, 12, 14, 0));
    assert_int_equal(last_seq(f), 1);

    /* Monday 19 January: S1's reminder planned for 09:00 goes out at 14:00, with S2's. */
    advance_to(f, UTC(2026, 1, 19, 9, 0));
    assert_int_equal(last_seq(f), 1);
    o = the_obligation(f, "S1", "supervision", "", "", OBLIGATION_OPEN);
    assert_int_equal(o.next_ms, UTC(2026, 1, 19, 14, 0));
    advance_to(f, UTC(2026, 1, 19, 14, 0));
    struct notification_list list;
    notifications_after(f->store, 1, &list);
    assert_int_equal(list.count, 2);
    for (size_t i = 0; i < list.count; i++) {
        assert_string_equal(list.items[i].kind, "supervision");
        assert_int_equal(list.items[i].planned_ms, UTC(2026, 1, 19, 14, 0));
    }
    assert_true(strcmp(list.items[0].staff_id, list.items[1].staff_id) != 0);
    free(list.items);
    assert_int_equal(missed_count(f), 0);

    obligations_set_kinds(f->obligations, &f->config.kinds);
    config_free(&next);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_hired_creates_plans, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hired_long_ago_records_old_milestones_missed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_completed_recurring_opens_next, setup, teardown),
        cmocka_unit_test_setup_teardown(test_completed_out_of_order_is_history, setup, teardown),
        cmocka_unit_test_setup_teardown(test_completed_rejections, setup, teardown),
        cmocka_unit_test_setup_teardown(test_completed_milestone_step, setup, teardown),
        cmocka_unit_test_setup_teardown(test_booked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_waived, setup, teardown),
        cmocka_unit_test_setup_teardown(test_actions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_training, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concerns, setup, teardown),
        cmocka_unit_test_setup_teardown(test_absences, setup, teardown),
        cmocka_unit_test_setup_teardown(test_absence_pauses_what_is_created_during_it, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_staff_changed_and_left, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reminder_sent_exactly_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_escalation_ladder, setup, teardown),
        cmocka_unit_test_setup_teardown(test_escalation_never_to_the_subject, setup, teardown),
        cmocka_unit_test_setup_teardown(test_too_old_is_missed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_due_oldest_first_within_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nobody_to_tell_is_missed, setup, teardown),
        cmocka_unit_test(test_format_day),
        cmocka_unit_test(test_text_reminder),
        cmocka_unit_test(test_text_escalation),
        cmocka_unit_test_setup_teardown(test_interested_and_depend_on_role, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_kinds_between_transactions, setup, teardown),
    };

    setenv("TZ", "Europe/London", 1);
    tzset();
    store_global_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}

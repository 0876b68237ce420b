/*
 * Unit tests of clients/notify_compose: what carehub-notify's messages say.
 * Which notifications go out at once; the digest's lists (categories,
 * grouping by team and person, the latest notification per obligation, what
 * is no longer open left out, alerts apart, people the directory does not
 * know); the data of a single reminder, escalation or alert; the fallback
 * report grouped by recipient; dates in words; Message-IDs.
 *
 * The staff directory is a JSON fixture answered by a lookup function, as
 * the daemon's "person" and "team" ops would answer it.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "notify_compose.h"
#include "notify_config.h"

/* The directory: the replies of the person op by staff id, and of the team op by team id. */
static const char directory_json[] =
    "{\"person\": {"
    "  \"S002\": {\"staff\": {\"staff_id\": \"S002\", \"name\": \"Tom Reilly\","
    "             \"team_id\": \"T-DAY\"}, \"obligations\": []},"
    "  \"S004\": {\"staff\": {\"staff_id\": \"S004\", \"name\": \"Ellen Hughes\","
    "             \"team_id\": \"T-DAY\"},"
    "             \"obligations\": [{\"obligation_id\": 114, \"what\": \"Supervision\","
    "                                \"state\": \"open\"}]},"
    "  \"S005\": {\"staff\": {\"staff_id\": \"S005\", \"name\": \"Marek Nowak\","
    "             \"team_id\": \"T-DAY\"},"
    "             \"obligations\": [{\"obligation_id\": 115, \"what\": \"Supervision\","
    "                                \"state\": \"open\"},"
    "                               {\"obligation_id\": 120, \"what\": \"Appraisal\","
    "                                \"state\": \"completed\"},"
    "                               {\"obligation_id\": 139,"
    "                                \"what\": \"Moving and handling training renewal\","
    "                                \"state\": \"open\"}]},"
    "  \"S006\": {\"staff\": {\"staff_id\": \"S006\", \"name\": \"Aisha Bello\","
    "             \"team_id\": \"T-DAY\"},"
    "             \"obligations\": [{\"obligation_id\": 151, \"what\": \"Fire safety training "
    "renewal\", \"state\": \"open\"},"
    "                               {\"obligation_id\": 152, \"what\": \"Probation review\","
    "                                \"state\": \"waived\"}]},"
    "  \"S007\": {\"staff\": {\"staff_id\": \"S007\", \"name\": \"Sam Carter\","
    "             \"team_id\": \"T-NIGHT\"},"
    "             \"obligations\": [{\"obligation_id\": 69, \"what\": \"Supervision\","
    "                                \"state\": \"open\"},"
    "                               {\"obligation_id\": 72, \"what\": \"Week 4 check-in\","
    "                                \"state\": \"cancelled\"}]},"
    "  \"S010\": {\"staff\": {\"staff_id\": \"S010\", \"name\": \"Nina Brown\","
    "             \"team_id\": \"T-KITCHEN\"}, \"obligations\": []}"
    " },"
    " \"team\": {"
    "  \"T-DAY\": {\"team\": {\"team_id\": \"T-DAY\", \"name\": \"Day team\"}},"
    "  \"T-NIGHT\": {\"team\": {\"team_id\": \"T-NIGHT\", \"name\": \"Night team\"}},"
    "  \"T-NEW\": {\"team\": {\"team_id\": \"T-NEW\", \"name\": null, \"known\": false}}"
    " }}";

/* The recipient of the messages: the staff op's "staff" object. */
static const char recipient_json[] =
    "{\"staff_id\": \"S002\", \"name\": \"Tom Reilly\", \"role\": \"deputy manager\","
    " \"team_id\": \"T-DAY\", \"email\": \"tom@example.org\"}";

struct directory {
    cJSON *root;
    const char *fail_key; /* a key whose lookup fails with fail_code; NULL: none */
    int fail_code;
    int lookups;
};

struct fixture {
    struct directory directory;
    struct notify_lookup lookup;
    cJSON *recipient;
    struct notify_envelope envelope;
    cJSON *items; /* the notifications of a test */
    cJSON *out;
};

static int
lookup_fixture(void *context, const char *op, const char *key, const cJSON **reply)
{
    struct directory *directory = context;
    const cJSON *found;

    directory->lookups++;
    if (directory->fail_key != NULL && strcmp(key, directory->fail_key) == 0)
        return directory->fail_code;
    found = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(directory->root, op),
                                             key);
    if (found == NULL)
        return -ENOENT;
    *reply = found;
    return 0;
}

static int
setup(void **state)
{
    struct fixture *fixture = calloc(1, sizeof(*fixture));

    if (fixture == NULL)
        return -1;
    fixture->directory.root = cJSON_Parse(directory_json);
    fixture->recipient = cJSON_Parse(recipient_json);
    fixture->items = cJSON_CreateArray();
    if (fixture->directory.root == NULL || fixture->recipient == NULL || fixture->items == NULL)
        return -1;
    fixture->lookup.fn = lookup_fixture;
    fixture->lookup.context = &fixture->directory;
    fixture->envelope.organisation = "Riverside Care";
    fixture->envelope.today = "2026-03-09";
    fixture->envelope.recipient = fixture->recipient;
    *state = fixture;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *fixture = *state;

    cJSON_Delete(fixture->directory.root);
    cJSON_Delete(fixture->recipient);
    cJSON_Delete(fixture->items);
    cJSON_Delete(fixture->out);
    free(fixture);
    return 0;
}

#define TEST(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

/* A reminder (level 0) or escalation (level 1...) as the notifications op gives it. */
static cJSON *
obligation_notification(int seq, const char *staff_id, int obligation_id, int level,
                        const char *due)
{
    char text[2048];
    cJSON *out;

    snprintf(text, sizeof(text),
             "{\"seq\": %d, \"type\": \"%s\", \"recipient_id\": \"S002\", \"staff_id\": \"%s\","
             " \"kind\": \"supervision\", \"item\": null, \"step\": null, \"due\": \"%s\","
             " \"booked\": null, \"days_overdue\": %d, \"level\": %d,"
             " \"planned_at\": \"2026-03-09T09:00:00.000Z\","
             " \"created_at\": \"2026-03-09T09:00:00.000Z\","
             " \"text\": \"Item %d for %s. Your organisation's guidance: https://example.org/p\","
             " \"message\": \"Item %d for %s.\", \"policy\": \"https://example.org/p\","
             " \"obligation_id\": %d, \"acked_at\": null}",
             seq, level == 0 ? "reminder" : "escalation", staff_id, due, level == 0 ? 0 : 3 * level,
             level, obligation_id, staff_id, obligation_id, staff_id, obligation_id);
    out = cJSON_Parse(text);
    assert_non_null(out);
    return out;
}

/* A KPI alert: kind the metric, item the team, step the period, level the new state. */
static cJSON *
alert_notification(int seq, const char *team_id, const char *period, int level)
{
    char text[1024];
    cJSON *out;

    snprintf(text, sizeof(text),
             "{\"seq\": %d, \"type\": \"alert\", \"recipient_id\": \"S002\", \"staff_id\": null,"
             " \"kind\": \"readmissions_30d\", \"item\": \"%s\", \"step\": \"%s\","
             " \"due\": \"%s-01\", \"booked\": null, \"days_overdue\": 0, \"level\": %d,"
             " \"text\": \"Readmissions for %s is now level %d for %s.\", \"policy\": null,"
             " \"obligation_id\": null, \"acked_at\": null}",
             seq, team_id, period, period, level, team_id, level, period);
    out = cJSON_Parse(text);
    assert_non_null(out);
    return out;
}

static void
add_item(struct fixture *fixture, cJSON *notification)
{
    cJSON_AddItemToArray(fixture->items, notification);
}

/* Composes the digest of the fixture's items, which must succeed. */
static const cJSON *
compose_digest(struct fixture *fixture)
{
    int r;

    cJSON_Delete(fixture->out);
    fixture->out = NULL;
    r = notify_compose_digest(fixture->items, &fixture->envelope, false, &fixture->lookup,
                              &fixture->out);
    assert_int_equal(r, 0);
    assert_non_null(fixture->out);
    return fixture->out;
}

static const cJSON *
get(const cJSON *object, const char *key)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, key);

    if (item == NULL)
        fail_msg("no \"%s\"", key);
    return item;
}

static const char *
string_at(const cJSON *object, const char *key)
{
    const cJSON *item = get(object, key);

    if (!cJSON_IsString(item))
        fail_msg("\"%s\" is not a string", key);
    return item->valuestring;
}

static int
int_at(const cJSON *object, const char *key)
{
    const cJSON *item = get(object, key);

    if (!cJSON_IsNumber(item))
        fail_msg("\"%s\" is not a number", key);
    return (int)item->valuedouble;
}

static bool
bool_at(const cJSON *object, const char *key)
{
    const cJSON *item = get(object, key);

    if (!cJSON_IsBool(item))
        fail_msg("\"%s\" is not a boolean", key);
    return cJSON_IsTrue(item);
}

/* Asserts the digest's counts. */
static void
assert_counts(const cJSON *data, int due_soon, int overdue, int escalated, int alerts)
{
    const cJSON *counts = get(data, "counts");

    assert_int_equal(int_at(counts, "due_soon"), due_soon);
    assert_int_equal(int_at(counts, "overdue"), overdue);
    assert_int_equal(int_at(counts, "escalated"), escalated);
    assert_int_equal(int_at(counts, "alerts"), alerts);
    assert_int_equal(int_at(counts, "total"), due_soon + overdue + escalated + alerts);
    assert_int_equal(cJSON_GetArraySize(get(data, "alerts")), alerts);
}

/*
 * Describes a category's list as one line, "TEAM[PERSON(OBLIGATION,...),...];...",
 * with team and person by name, to compare grouping and order at a glance.
 */
static void
describe_list(const cJSON *list, char *buf, size_t size)
{
    const cJSON *team, *person, *item;
    size_t used = 0;

    buf[0] = '\0';
    cJSON_ArrayForEach(team, list)
    {
        used += (size_t)snprintf(buf + used, size - used, "%s%s[", used ? ";" : "",
                                 string_at(team, "team_name"));
        cJSON_ArrayForEach(person, get(team, "people"))
        {
            bool first = true;
            used += (size_t)snprintf(buf + used, size - used, "%s%s(",
                                     person == get(team, "people")->child ? "" : ",",
                                     string_at(person, "name"));
            cJSON_ArrayForEach(item, get(person, "items"))
            {
                used += (size_t)snprintf(buf + used, size - used, "%s%s", first ? "" : ",",
                                         string_at(item, "message"));
                first = false;
            }
            used += (size_t)snprintf(buf + used, size - used, ")");
        }
        used += (size_t)snprintf(buf + used, size - used, "]");
        assert_true(used < size);
    }
}

static void
assert_list(const cJSON *data, const char *category, const char *expected)
{
    char described[2048];

    describe_list(get(data, category), described, sizeof(described));
    assert_string_equal(described, expected);
}

/* ---- notify_compose_is_immediate ---- */

static void
test_is_immediate(void **state)
{
    struct notify_config config;
    cJSON *reminder = obligation_notification(1, "S005", 115, 0, "2026-03-21");
    cJSON *first = obligation_notification(2, "S005", 115, 1, "2026-03-21");
    cJSON *second = obligation_notification(3, "S005", 115, 2, "2026-03-21");
    cJSON *third = obligation_notification(4, "S005", 115, 3, "2026-03-21");
    cJSON *alert = alert_notification(5, "T-DAY", "2026-03", 2);
    cJSON *odd = cJSON_Parse("{\"seq\": 6, \"type\": \"memo\", \"level\": 9}");

    (void)state;
    assert_non_null(odd);
    memset(&config, 0, sizeof(config));

    /* Digest on, nothing immediate: everything waits. */
    config.digest_enabled = true;
    config.immediate_escalation_level = 0;
    config.immediate_alerts = false;
    assert_false(notify_compose_is_immediate(&config, reminder));
    assert_false(notify_compose_is_immediate(&config, first));
    assert_false(notify_compose_is_immediate(&config, third));
    assert_false(notify_compose_is_immediate(&config, alert));
    assert_false(notify_compose_is_immediate(&config, odd));

    /* Escalations from level 2 up go out at once; reminders and alerts wait. */
    config.immediate_escalation_level = 2;
    assert_false(notify_compose_is_immediate(&config, reminder));
    assert_false(notify_compose_is_immediate(&config, first));
    assert_true(notify_compose_is_immediate(&config, second));
    assert_true(notify_compose_is_immediate(&config, third));
    assert_false(notify_compose_is_immediate(&config, alert));

    /* Level 1: every escalation. */
    config.immediate_escalation_level = 1;
    assert_true(notify_compose_is_immediate(&config, first));
    assert_false(notify_compose_is_immediate(&config, reminder));

    /* Alerts at once; escalations wait again. */
    config.immediate_escalation_level = 0;
    config.immediate_alerts = true;
    assert_true(notify_compose_is_immediate(&config, alert));
    assert_false(notify_compose_is_immediate(&config, second));
    assert_false(notify_compose_is_immediate(&config, reminder));

    /* Digest off: everything goes out on its own. */
    config.digest_enabled = false;
    config.immediate_alerts = false;
    assert_true(notify_compose_is_immediate(&config, reminder));
    assert_true(notify_compose_is_immediate(&config, first));
    assert_true(notify_compose_is_immediate(&config, alert));
    assert_true(notify_compose_is_immediate(&config, odd));

    cJSON_Delete(reminder);
    cJSON_Delete(first);
    cJSON_Delete(second);
    cJSON_Delete(third);
    cJSON_Delete(alert);
    cJSON_Delete(odd);
}

/* ---- The digest ---- */

static void
test_digest_envelope(void **state)
{
    struct fixture *fixture = *state;
    const cJSON *data, *recipient;

    add_item(fixture, obligation_notification(1, "S005", 115, 0, "2026-03-21"));
    assert_int_equal(notify_compose_digest(fixture->items, &fixture->envelope, true,
                                           &fixture->lookup, &fixture->out),
                     0);
    data = fixture->out;
    assert_string_equal(string_at(data, "organisation"), "Riverside Care");
    assert_string_equal(string_at(data, "today"), "Monday 9 March 2026");
    assert_true(bool_at(data, "calendar_attached"));
    recipient = get(data, "recipient");
    assert_string_equal(string_at(recipient, "id"), "S002");
    assert_string_equal(string_at(recipient, "name"), "Tom Reilly");
    assert_string_equal(string_at(recipient, "first_name"), "Tom");
    assert_string_equal(string_at(recipient, "email"), "tom@example.org");
}

static void
test_digest_categories(void **state)
{
    struct fixture *fixture = *state;
    const cJSON *data, *item;

    add_item(fixture, obligation_notification(1, "S005", 139, 0, "2026-03-29"));
    add_item(fixture, obligation_notification(2, "S004", 114, 1, "2026-03-02"));
    add_item(fixture, obligation_notification(3, "S006", 151, 2, "2026-02-20"));
    add_item(fixture, obligation_notification(4, "S007", 69, 5, "2026-01-20"));
    data = compose_digest(fixture);

    assert_counts(data, 1, 1, 2, 0);
    assert_list(data, "due_soon", "Day team[Marek Nowak(Item 139 for S005.)]");
    assert_list(data, "overdue", "Day team[Ellen Hughes(Item 114 for S004.)]");
    assert_list(data, "escalated",
                "Day team[Aisha Bello(Item 151 for S006.)];Night team[Sam Carter(Item 69 for "
                "S007.)]");

    /* A reminder's fields, with what it is from the directory. */
    item = get(data, "due_soon")->child;
    assert_string_equal(string_at(item, "team_id"), "T-DAY");
    item = get(item, "people")->child;
    assert_string_equal(string_at(item, "staff_id"), "S005");
    item = get(item, "items")->child;
    assert_string_equal(string_at(item, "type"), "reminder");
    assert_string_equal(string_at(item, "what"), "Moving and handling training renewal");
    assert_string_equal(string_at(item, "kind"), "supervision");
    assert_string_equal(string_at(item, "message"), "Item 139 for S005.");
    assert_string_equal(string_at(item, "text"),
                        "Item 139 for S005. Your organisation's guidance: https://example.org/p");
    assert_string_equal(string_at(item, "policy"), "https://example.org/p");
    assert_string_equal(string_at(item, "due"), "2026-03-29");
    assert_string_equal(string_at(item, "due_text"), "Sunday 29 March 2026");
    assert_true(cJSON_IsNull(get(item, "booked")));
    assert_int_equal(int_at(item, "days_overdue"), 0);
    assert_int_equal(int_at(item, "level"), 0);
    assert_true(bool_at(item, "reminder"));
    assert_false(bool_at(item, "overdue"));
    assert_false(bool_at(item, "escalated"));

    /* A first escalation is overdue, not escalated. */
    item = get(get(get(data, "overdue")->child, "people")->child, "items")->child;
    assert_string_equal(string_at(item, "type"), "escalation");
    assert_int_equal(int_at(item, "level"), 1);
    assert_int_equal(int_at(item, "days_overdue"), 3);
    assert_false(bool_at(item, "reminder"));
    assert_true(bool_at(item, "overdue"));
    assert_false(bool_at(item, "escalated"));

    /* A second one is both. */
    item = get(get(get(data, "escalated")->child, "people")->child, "items")->child;
    assert_int_equal(int_at(item, "level"), 2);
    assert_true(bool_at(item, "overdue"));
    assert_true(bool_at(item, "escalated"));
}

static void
test_digest_groups_by_team_then_person(void **state)
{
    struct fixture *fixture = *state;
    const cJSON *data, *team;

    /* Queued in an order that is none of the sorted ones. */
    add_item(fixture, obligation_notification(1, "S007", 69, 0, "2026-03-17"));
    add_item(fixture, obligation_notification(2, "S404", 500, 0, "2026-03-12"));
    add_item(fixture, obligation_notification(3, "S005", 139, 0, "2026-03-29"));
    add_item(fixture, obligation_notification(4, "S004", 114, 0, "2026-03-20"));
    add_item(fixture, obligation_notification(5, "S005", 115, 0, "2026-03-21"));
    add_item(fixture, obligation_notification(6, "S006", 151, 0, "2026-03-25"));
    data = compose_digest(fixture);

    assert_counts(data, 6, 0, 0, 0);
    /* Teams by name, people by name within a team, items by due date within a person. */
    assert_list(data, "due_soon",
                "Day team[Aisha Bello(Item 151 for S006.),Ellen Hughes(Item 114 for S004.),"
                "Marek Nowak(Item 115 for S005.,Item 139 for S005.)];"
                "Night team[Sam Carter(Item 69 for S007.)];"
                "Not in the staff directory[S404(Item 500 for S404.)]");
    team = cJSON_GetArrayItem(get(data, "due_soon"), 2);
    assert_string_equal(string_at(team, "team_id"), "");
    assert_string_equal(string_at(get(team, "people")->child, "staff_id"), "S404");
    assert_list(data, "overdue", "");
    assert_list(data, "escalated", "");
}

static void
test_digest_team_without_name(void **state)
{
    struct fixture *fixture = *state;
    cJSON *ellen = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(fixture->directory.root, "person"), "S004");
    const cJSON *data;

    /* Nina's team is unknown to the directory; Ellen moves to one that has no name yet. */
    assert_non_null(ellen);
    cJSON_ReplaceItemInObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(ellen, "staff"),
                                           "team_id", cJSON_CreateString("T-NEW"));
    add_item(fixture, obligation_notification(1, "S010", 300, 0, "2026-03-17"));
    add_item(fixture, obligation_notification(2, "S004", 114, 0, "2026-03-17"));
    data = compose_digest(fixture);
    assert_list(
        data, "due_soon",
        "T-KITCHEN[Nina Brown(Item 300 for S010.)];T-NEW[Ellen Hughes(Item 114 for S004.)]");
}

static void
test_digest_keeps_the_latest_notification_per_obligation(void **state)
{
    struct fixture *fixture = *state;
    const cJSON *data, *item;

    add_item(fixture, obligation_notification(1, "S005", 115, 0, "2026-03-21"));
    add_item(fixture, obligation_notification(2, "S004", 114, 0, "2026-03-20"));
    add_item(fixture, obligation_notification(3, "S005", 115, 1, "2026-03-21"));
    add_item(fixture, obligation_notification(4, "S004", 114, 1, "2026-03-20"));
    add_item(fixture, obligation_notification(5, "S004", 114, 2, "2026-03-20"));
    data = compose_digest(fixture);

    assert_counts(data, 0, 1, 1, 0);
    assert_list(data, "overdue", "Day team[Marek Nowak(Item 115 for S005.)]");
    assert_list(data, "escalated", "Day team[Ellen Hughes(Item 114 for S004.)]");
    item = get(get(get(data, "escalated")->child, "people")->child, "items")->child;
    assert_int_equal(int_at(item, "level"), 2);
}

static void
test_digest_leaves_out_what_is_no_longer_open(void **state)
{
    struct fixture *fixture = *state;
    const cJSON *data;

    add_item(fixture, obligation_notification(1, "S005", 120, 0, "2026-03-21")); /* completed */
    add_item(fixture, obligation_notification(2, "S006", 152, 1, "2026-03-01")); /* waived */
    add_item(fixture, obligation_notification(3, "S007", 72, 2, "2026-02-01"));  /* cancelled */
    add_item(fixture, obligation_notification(4, "S005", 115, 0, "2026-03-21")); /* open */
    data = compose_digest(fixture);

    assert_counts(data, 1, 0, 0, 0);
    assert_list(data, "due_soon", "Day team[Marek Nowak(Item 115 for S005.)]");
    assert_list(data, "overdue", "");
    assert_list(data, "escalated", "");
}

static void
test_digest_total_is_zero_when_everything_is_left_out(void **state)
{
    struct fixture *fixture = *state;
    const cJSON *data;

    add_item(fixture, obligation_notification(1, "S005", 120, 0, "2026-03-21"));
    add_item(fixture, obligation_notification(2, "S006", 152, 1, "2026-03-01"));
    data = compose_digest(fixture);
    assert_counts(data, 0, 0, 0, 0);
    assert_int_equal(int_at(get(data, "counts"), "total"), 0);
    assert_list(data, "due_soon", "");
    assert_list(data, "overdue", "");

    /* Nothing at all, likewise. */
    cJSON_Delete(fixture->items);
    fixture->items = cJSON_CreateArray();
    data = compose_digest(fixture);
    assert_int_equal(int_at(get(data, "counts"), "total"), 0);
}

static void
test_digest_lists_alerts_apart(void **state)
{
    struct fixture *fixture = *state;
    const cJSON *data, *alerts, *alert;

    add_item(fixture, alert_notification(1, "T-DAY", "2026-02", 0));
    add_item(fixture, obligation_notification(2, "S005", 115, 0, "2026-03-21"));
    add_item(fixture, alert_notification(3, "T-NIGHT", "2026-02", 1));
    add_item(fixture, alert_notification(4, "T-NEW", "2026-02", 2));
    add_item(fixture, alert_notification(5, "T-GONE", "2026-02", 2));
    data = compose_digest(fixture);

    assert_counts(data, 1, 0, 0, 4);
    assert_list(data, "due_soon", "Day team[Marek Nowak(Item 115 for S005.)]");
    alerts = get(data, "alerts");
    alert = cJSON_GetArrayItem(alerts, 0);
    assert_string_equal(string_at(alert, "team_id"), "T-DAY");
    assert_string_equal(string_at(alert, "team_name"), "Day team");
    assert_string_equal(string_at(alert, "metric"), "readmissions_30d");
    assert_string_equal(string_at(alert, "period"), "2026-02");
    assert_string_equal(string_at(alert, "state"), "green");
    assert_string_equal(string_at(alert, "message"),
                        "Readmissions for T-DAY is now level 0 for 2026-02.");
    assert_string_equal(string_at(alert, "text"),
                        "Readmissions for T-DAY is now level 0 for 2026-02.");
    alert = cJSON_GetArrayItem(alerts, 1);
    assert_string_equal(string_at(alert, "team_name"), "Night team");
    assert_string_equal(string_at(alert, "state"), "amber");
    /* A team without a name, and one the directory does not know: their ids. */
    alert = cJSON_GetArrayItem(alerts, 2);
    assert_string_equal(string_at(alert, "team_name"), "T-NEW");
    assert_string_equal(string_at(alert, "state"), "red");
    alert = cJSON_GetArrayItem(alerts, 3);
    assert_string_equal(string_at(alert, "team_name"), "T-GONE");
}

static void
test_digest_keeps_the_latest_alert_per_team_figure_and_period(void **state)
{
    struct fixture *fixture = *state;
    const cJSON *data, *alerts;

    add_item(fixture, alert_notification(1, "T-DAY", "2026-02", 1));
    add_item(fixture, alert_notification(2, "T-DAY", "2026-03", 1));
    add_item(fixture, alert_notification(3, "T-NIGHT", "2026-02", 1));
    add_item(fixture, alert_notification(4, "T-DAY", "2026-02", 2));
    data = compose_digest(fixture);

    assert_counts(data, 0, 0, 0, 3);
    alerts = get(data, "alerts");
    assert_string_equal(string_at(cJSON_GetArrayItem(alerts, 0), "period"), "2026-03");
    assert_string_equal(string_at(cJSON_GetArrayItem(alerts, 1), "team_id"), "T-NIGHT");
    assert_string_equal(string_at(cJSON_GetArrayItem(alerts, 2), "period"), "2026-02");
    assert_string_equal(string_at(cJSON_GetArrayItem(alerts, 2), "state"), "red");
}

static void
test_digest_person_not_in_the_directory(void **state)
{
    struct fixture *fixture = *state;
    const cJSON *data, *team, *person, *item;

    add_item(fixture, obligation_notification(1, "S404", 500, 1, "2026-03-01"));
    data = compose_digest(fixture);

    assert_counts(data, 0, 1, 0, 0);
    team = get(data, "overdue")->child;
    assert_string_equal(string_at(team, "team_name"), "Not in the staff directory");
    assert_string_equal(string_at(team, "team_id"), "");
    person = get(team, "people")->child;
    assert_string_equal(string_at(person, "staff_id"), "S404");
    assert_string_equal(string_at(person, "name"), "S404");
    /* What it is: the kind, as the directory cannot say. */
    item = get(person, "items")->child;
    assert_string_equal(string_at(item, "what"), "supervision");
}

/* Composes the digest of the fixture's items with key's lookup failing: it must fail alike. */
static void
expect_digest_failure(struct fixture *fixture, const char *key)
{
    cJSON *out = (cJSON *)fixture; /* not NULL, to see it reset */

    fixture->directory.fail_key = key;
    fixture->directory.fail_code = -EAGAIN;
    assert_int_equal(
        notify_compose_digest(fixture->items, &fixture->envelope, false, &fixture->lookup, &out),
        -EAGAIN);
    assert_null(out);
}

static void
test_digest_lookup_failure_is_passed_on(void **state)
{
    struct fixture *fixture = *state;

    add_item(fixture, obligation_notification(1, "S005", 115, 0, "2026-03-21"));
    add_item(fixture, alert_notification(2, "T-NIGHT", "2026-02", 1));
    add_item(fixture, obligation_notification(3, "S004", 114, 0, "2026-03-20"));
    expect_digest_failure(fixture, "S005");    /* a person */
    expect_digest_failure(fixture, "T-DAY");   /* a person's team */
    expect_digest_failure(fixture, "T-NIGHT"); /* an alert's team */
}

/* ---- Single messages ---- */

static void
test_single_escalation(void **state)
{
    struct fixture *fixture = *state;
    cJSON *n = obligation_notification(7, "S005", 115, 2, "2026-03-01");
    const cJSON *data, *item, *staff;

    assert_int_equal(notify_compose_single(n, &fixture->envelope, &fixture->lookup, &fixture->out),
                     0);
    data = fixture->out;
    assert_string_equal(string_at(data, "organisation"), "Riverside Care");
    assert_string_equal(string_at(data, "today"), "Monday 9 March 2026");
    assert_string_equal(string_at(get(data, "recipient"), "first_name"), "Tom");
    assert_null(cJSON_GetObjectItemCaseSensitive(data, "alert"));

    item = get(data, "notification");
    assert_string_equal(string_at(item, "type"), "escalation");
    assert_string_equal(string_at(item, "what"), "Supervision");
    assert_string_equal(string_at(item, "kind"), "supervision");
    assert_string_equal(string_at(item, "message"), "Item 115 for S005.");
    assert_string_equal(string_at(item, "policy"), "https://example.org/p");
    assert_string_equal(string_at(item, "due"), "2026-03-01");
    assert_string_equal(string_at(item, "due_text"), "Sunday 1 March 2026");
    assert_int_equal(int_at(item, "days_overdue"), 6);
    assert_int_equal(int_at(item, "level"), 2);
    assert_false(bool_at(item, "reminder"));
    assert_true(bool_at(item, "overdue"));
    assert_true(bool_at(item, "escalated"));

    staff = get(data, "staff");
    assert_string_equal(string_at(staff, "staff_id"), "S005");
    assert_string_equal(string_at(staff, "name"), "Marek Nowak");
    assert_string_equal(string_at(staff, "team_id"), "T-DAY");
    assert_string_equal(string_at(staff, "team_name"), "Day team");
    cJSON_Delete(n);
}

static void
test_single_reminder_without_policy(void **state)
{
    struct fixture *fixture = *state;
    cJSON *n = obligation_notification(7, "S007", 69, 0, "2026-03-17");
    const cJSON *item;

    cJSON_ReplaceItemInObjectCaseSensitive(n, "policy", cJSON_CreateNull());
    cJSON_DeleteItemFromObjectCaseSensitive(n, "message");
    assert_int_equal(notify_compose_single(n, &fixture->envelope, &fixture->lookup, &fixture->out),
                     0);
    item = get(fixture->out, "notification");
    assert_true(bool_at(item, "reminder"));
    assert_false(bool_at(item, "overdue"));
    assert_false(bool_at(item, "escalated"));
    assert_true(cJSON_IsNull(get(item, "policy")));
    /* Without "message" (an older daemon), the text stands in. */
    assert_string_equal(string_at(item, "message"),
                        "Item 69 for S007. Your organisation's guidance: https://example.org/p");
    assert_string_equal(string_at(get(fixture->out, "staff"), "team_name"), "Night team");
    cJSON_Delete(n);
}

static void
test_single_for_a_person_not_in_the_directory(void **state)
{
    struct fixture *fixture = *state;
    cJSON *n = obligation_notification(7, "S404", 500, 1, "2026-03-01");
    const cJSON *staff;

    assert_int_equal(notify_compose_single(n, &fixture->envelope, &fixture->lookup, &fixture->out),
                     0);
    staff = get(fixture->out, "staff");
    assert_string_equal(string_at(staff, "staff_id"), "S404");
    assert_string_equal(string_at(staff, "name"), "S404");
    assert_string_equal(string_at(staff, "team_id"), "");
    assert_string_equal(string_at(staff, "team_name"), "Not in the staff directory");
    cJSON_Delete(n);
}

static void
test_single_alert(void **state)
{
    struct fixture *fixture = *state;
    cJSON *n = alert_notification(9, "T-NIGHT", "2026-11", 1);
    const cJSON *alert;

    assert_int_equal(notify_compose_single(n, &fixture->envelope, &fixture->lookup, &fixture->out),
                     0);
    assert_null(cJSON_GetObjectItemCaseSensitive(fixture->out, "notification"));
    assert_null(cJSON_GetObjectItemCaseSensitive(fixture->out, "staff"));
    alert = get(fixture->out, "alert");
    assert_string_equal(string_at(alert, "team_id"), "T-NIGHT");
    assert_string_equal(string_at(alert, "team_name"), "Night team");
    assert_string_equal(string_at(alert, "metric"), "readmissions_30d");
    assert_string_equal(string_at(alert, "period"), "2026-11");
    assert_string_equal(string_at(alert, "state"), "amber");
    assert_string_equal(string_at(alert, "message"),
                        "Readmissions for T-NIGHT is now level 1 for 2026-11.");
    assert_string_equal(string_at(get(fixture->out, "recipient"), "name"), "Tom Reilly");
    cJSON_Delete(n);
}

static void
test_single_lookup_failure_is_passed_on(void **state)
{
    struct fixture *fixture = *state;
    cJSON *reminder = obligation_notification(7, "S005", 115, 0, "2026-03-21");
    cJSON *alert = alert_notification(8, "T-DAY", "2026-03", 2);
    cJSON *out = (cJSON *)fixture;

    fixture->directory.fail_key = "S005";
    fixture->directory.fail_code = -EAGAIN;
    assert_int_equal(notify_compose_single(reminder, &fixture->envelope, &fixture->lookup, &out),
                     -EAGAIN);
    assert_null(out);
    fixture->directory.fail_key = "T-DAY";
    out = (cJSON *)fixture;
    assert_int_equal(notify_compose_single(reminder, &fixture->envelope, &fixture->lookup, &out),
                     -EAGAIN);
    assert_null(out);
    out = (cJSON *)fixture;
    assert_int_equal(notify_compose_single(alert, &fixture->envelope, &fixture->lookup, &out),
                     -EAGAIN);
    assert_null(out);
    cJSON_Delete(reminder);
    cJSON_Delete(alert);
}

/* ---- The fallback report ---- */

static cJSON *
undeliverable_entry(cJSON *notification, const char *recipient, const char *reason)
{
    cJSON *entry = cJSON_CreateObject();

    assert_non_null(entry);
    cJSON_ReplaceItemInObjectCaseSensitive(notification, "recipient_id",
                                           cJSON_CreateString(recipient));
    cJSON_AddStringToObject(entry, "reason", reason);
    cJSON_AddItemToObject(entry, "notification", notification);
    return entry;
}

static void
test_fallback_groups_by_recipient_with_the_latest_reason(void **state)
{
    struct fixture *fixture = *state;
    const cJSON *data, *people, *person, *line;

    fixture->envelope.recipient = NULL;
    add_item(fixture, undeliverable_entry(obligation_notification(1, "S005", 115, 0, "2026-03-21"),
                                          "S010", "has no email address in the staff directory"));
    add_item(fixture, undeliverable_entry(alert_notification(2, "T-DAY", "2026-03", 2), "S404",
                                          "is not in the staff directory"));
    add_item(fixture, undeliverable_entry(obligation_notification(3, "S004", 114, 1, "2026-03-20"),
                                          "S010", "the relay refused the address"));
    assert_int_equal(notify_compose_fallback(fixture->items, &fixture->envelope, &fixture->lookup,
                                             &fixture->out),
                     0);
    data = fixture->out;
    assert_string_equal(string_at(data, "organisation"), "Riverside Care");
    assert_string_equal(string_at(data, "today"), "Monday 9 March 2026");
    assert_null(cJSON_GetObjectItemCaseSensitive(data, "recipient"));
    assert_int_equal(int_at(data, "count"), 3);
    assert_int_equal(int_at(data, "people_count"), 2);

    people = get(data, "people");
    assert_int_equal(cJSON_GetArraySize(people), 2);
    person = cJSON_GetArrayItem(people, 0);
    assert_string_equal(string_at(person, "recipient_id"), "S010");
    assert_string_equal(string_at(person, "name"), "Nina Brown");
    assert_string_equal(string_at(person, "reason"), "the relay refused the address");
    assert_int_equal(cJSON_GetArraySize(get(person, "notifications")), 2);
    line = cJSON_GetArrayItem(get(person, "notifications"), 0);
    assert_string_equal(string_at(line, "type"), "reminder");
    assert_string_equal(string_at(line, "text"),
                        "Item 115 for S005. Your organisation's guidance: https://example.org/p");
    line = cJSON_GetArrayItem(get(person, "notifications"), 1);
    assert_string_equal(string_at(line, "type"), "escalation");

    /* Someone the directory does not know: their id as their name. */
    person = cJSON_GetArrayItem(people, 1);
    assert_string_equal(string_at(person, "recipient_id"), "S404");
    assert_string_equal(string_at(person, "name"), "S404");
    assert_string_equal(string_at(person, "reason"), "is not in the staff directory");
    line = get(person, "notifications")->child;
    assert_string_equal(string_at(line, "type"), "alert");
}

static void
test_fallback_lookup_failure_is_passed_on(void **state)
{
    struct fixture *fixture = *state;
    cJSON *out = (cJSON *)fixture;

    fixture->envelope.recipient = NULL;
    add_item(fixture, undeliverable_entry(obligation_notification(1, "S005", 115, 0, "2026-03-21"),
                                          "S010", "no address"));
    fixture->directory.fail_key = "S010";
    fixture->directory.fail_code = -EAGAIN;
    assert_int_equal(
        notify_compose_fallback(fixture->items, &fixture->envelope, &fixture->lookup, &out),
        -EAGAIN);
    assert_null(out);
}

static void
test_fallback_of_nothing(void **state)
{
    struct fixture *fixture = *state;

    fixture->envelope.recipient = NULL;
    assert_int_equal(notify_compose_fallback(fixture->items, &fixture->envelope, &fixture->lookup,
                                             &fixture->out),
                     0);
    assert_int_equal(int_at(fixture->out, "count"), 0);
    assert_int_equal(int_at(fixture->out, "people_count"), 0);
    assert_int_equal(fixture->directory.lookups, 0);
}

/* ---- Samples ---- */

static void
test_samples_fill_every_list(void **state)
{
    cJSON *digest = notify_compose_sample(NOTIFY_DIGEST);
    cJSON *immediate = notify_compose_sample(NOTIFY_IMMEDIATE);
    cJSON *alert = notify_compose_sample(NOTIFY_ALERT);
    cJSON *fallback = notify_compose_sample(NOTIFY_FALLBACK);

    (void)state;
    assert_non_null(digest);
    assert_non_null(immediate);
    assert_non_null(alert);
    assert_non_null(fallback);
    assert_counts(digest, 1, 1, 1, 1);
    assert_true(bool_at(digest, "calendar_attached"));
    assert_non_null(get(immediate, "notification"));
    assert_non_null(get(immediate, "staff"));
    assert_non_null(get(alert, "alert"));
    assert_int_equal(int_at(fallback, "count"), 1);
    assert_int_equal(cJSON_GetArraySize(get(fallback, "people")), 1);
    assert_null(notify_compose_sample(NOTIFY_MESSAGE_COUNT));
    cJSON_Delete(digest);
    cJSON_Delete(immediate);
    cJSON_Delete(alert);
    cJSON_Delete(fallback);
}

static void
test_message_names(void **state)
{
    (void)state;
    assert_string_equal(notify_message_name(NOTIFY_DIGEST), "digest");
    assert_string_equal(notify_message_name(NOTIFY_IMMEDIATE), "immediate");
    assert_string_equal(notify_message_name(NOTIFY_ALERT), "alert");
    assert_string_equal(notify_message_name(NOTIFY_FALLBACK), "fallback");
    assert_string_equal(notify_message_name(NOTIFY_MESSAGE_COUNT), "?");
}

/* ---- Days and Message-IDs ---- */

static void
assert_day(const char *day, const char *expected)
{
    char buf[64];

    notify_compose_format_day(day, buf, sizeof(buf));
    assert_string_equal(buf, expected);
}

static void
test_format_day(void **state)
{
    char small[8];

    (void)state;
    assert_day("2026-03-09", "Monday 9 March 2026");
    assert_day("2026-03-21", "Saturday 21 March 2026");
    assert_day("2026-12-31", "Thursday 31 December 2026");
    assert_day("2024-02-29", "Thursday 29 February 2024");
    assert_day("2000-02-29", "Tuesday 29 February 2000");
    assert_day("1970-01-01", "Thursday 1 January 1970");
    assert_day("1969-12-31", "Wednesday 31 December 1969");
    /* What is not a date passes through. */
    assert_day("2026-02-29", "2026-02-29");
    assert_day("2026-13-01", "2026-13-01");
    assert_day("next week", "next week");
    assert_day("", "");
    assert_day(NULL, "");
    /* A short buffer holds the start. */
    notify_compose_format_day("2026-03-09", small, sizeof(small));
    assert_string_equal(small, "Monday ");
}

static void
test_message_id(void **state)
{
    char buf[256], again[256];

    (void)state;
    notify_compose_message_id(buf, sizeof(buf), "example.org", "n", "42", NULL);
    assert_string_equal(buf, "<carehub.n.42@example.org>");
    notify_compose_message_id(buf, sizeof(buf), "example.org", "digest", "S002", "17");
    assert_string_equal(buf, "<carehub.digest.S002.17@example.org>");
    notify_compose_message_id(buf, sizeof(buf), "example.org", "fallback", "2026-03-09", "31");
    assert_string_equal(buf, "<carehub.fallback.2026-03-09.31@example.org>");
    /* Anything but letters, digits, '-' and '_' becomes '_', byte by byte. */
    notify_compose_message_id(buf, sizeof(buf), "example.org", "digest", "S 0/2<x>@y.z\xc3\xa9",
                              "1");
    assert_string_equal(buf, "<carehub.digest.S_0_2_x__y_z__.1@example.org>");
    /* An empty middle part leaves no empty dot-separated part. */
    notify_compose_message_id(buf, sizeof(buf), "example.org", "test", "", "5");
    assert_string_equal(buf, "<carehub.test.5@example.org>");
    /* The same parts give the same id. */
    notify_compose_message_id(again, sizeof(again), "example.org", "digest", "S 0/2<x>@y.z\xc3\xa9",
                              "1");
    notify_compose_message_id(buf, sizeof(buf), "example.org", "digest", "S 0/2<x>@y.z\xc3\xa9",
                              "1");
    assert_string_equal(buf, again);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_is_immediate),
        TEST(test_digest_envelope),
        TEST(test_digest_categories),
        TEST(test_digest_groups_by_team_then_person),
        TEST(test_digest_team_without_name),
        TEST(test_digest_keeps_the_latest_notification_per_obligation),
        TEST(test_digest_leaves_out_what_is_no_longer_open),
        TEST(test_digest_total_is_zero_when_everything_is_left_out),
        TEST(test_digest_lists_alerts_apart),
        TEST(test_digest_keeps_the_latest_alert_per_team_figure_and_period),
        TEST(test_digest_person_not_in_the_directory),
        TEST(test_digest_lookup_failure_is_passed_on),
        TEST(test_single_escalation),
        TEST(test_single_reminder_without_policy),
        TEST(test_single_for_a_person_not_in_the_directory),
        TEST(test_single_alert),
        TEST(test_single_lookup_failure_is_passed_on),
        TEST(test_fallback_groups_by_recipient_with_the_latest_reason),
        TEST(test_fallback_lookup_failure_is_passed_on),
        TEST(test_fallback_of_nothing),
        cmocka_unit_test(test_samples_fill_every_list),
        cmocka_unit_test(test_message_names),
        cmocka_unit_test(test_format_day),
        cmocka_unit_test(test_message_id),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

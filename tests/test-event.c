/*
 * Unit tests of daemon/event: CloudEvents validation and the identity hash.
 *
 * Events are written with single quotes for readability; parse() turns them
 * into double quotes before handing the text to cJSON.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "event.h"

#define TEAM_CHANGED                                                                               \
    "{'specversion': '1.0', 'id': 'e-team-1', 'source': '/hr/acme', 'type': 'team.changed', "      \
    "'data': {'team_id': 'T1', 'name': 'Riverside ward', 'parent_id': 'T0', 'manager_id': 'S1'}}"
#define STAFF_HIRED                                                                                \
    "{'specversion': '1.0', 'id': 'e-hire-2', 'source': '/hr/acme', 'type': 'staff.hired', "       \
    "'time': '2026-03-29T09:00:00Z', "                                                             \
    "'data': {'staff_id': 'S2', 'name': 'Ada Jones', 'role': 'Nurse', 'team_id': 'T1', "           \
    "'start_date': '2024-02-29', 'manager_id': 'S1', 'email': 'ada.jones@example.org', "           \
    "'registration': {'body': 'NMC', 'number': '12A3456B', 'renewal_date': '2027-01-31'}}}"
#define STAFF_CHANGED                                                                              \
    "{'specversion': '1.0', 'id': 'e-change-3', 'source': '/hr/acme', 'type': 'staff.changed', "   \
    "'data': {'staff_id': 'S2', 'role': 'Senior nurse'}}"
#define STAFF_LEFT                                                                                 \
    "{'specversion': '1.0', 'id': 'e-left-4', 'source': '/hr/acme', 'type': 'staff.left', "        \
    "'data': {'staff_id': 'S2', 'leave_date': '2026-04-30'}}"

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

/* The data object of an event, for editing. */
static cJSON *
data_of(cJSON *event)
{
    cJSON *data = cJSON_GetObjectItemCaseSensitive(event, "data");

    assert_non_null(data);
    return data;
}

/* Sets (replacing) member name of object to value, which object takes over. */
static void
set_member(cJSON *object, const char *name, cJSON *value)
{
    assert_non_null(value);
    cJSON_DeleteItemFromObjectCaseSensitive(object, name);
    cJSON_AddItemToObject(object, name, value);
}

/* A string of n copies of c. */
static char *
repeat(char c, size_t n)
{
    char *text = malloc(n + 1);

    assert_non_null(text);
    memset(text, c, n);
    text[n] = '\0';
    return text;
}

static void
expect_valid_json(cJSON *json, const char *what)
{
    struct event event;
    struct event_error error = {NULL, ""};
    int r = event_validate(json, &event, &error);

    if (r != 0)
        fail_msg("%s: rejected with %d %s: %s", what, r, error.code ? error.code : "(no code)",
                 error.message);
}

/* Checks json is rejected with code and a message; takes json over. */
static void
expect_code_json(cJSON *json, const char *code, const char *what)
{
    struct event event;
    struct event_error error = {NULL, ""};
    int r = event_validate(json, &event, &error);

    if (r != -EINVAL)
        fail_msg("%s: expected %s, got %d", what, code, r);
    if (error.code == NULL || strcmp(error.code, code) != 0)
        fail_msg("%s: expected %s, got %s (%s)", what, code, error.code ? error.code : "NULL",
                 error.message);
    if (error.message[0] == '\0')
        fail_msg("%s: %s without a message", what, code);
    cJSON_Delete(json);
}

static void
expect_valid(const char *text)
{
    cJSON *json = parse(text);

    expect_valid_json(json, text);
    cJSON_Delete(json);
}

static void
expect_code(const char *text, const char *code)
{
    expect_code_json(parse(text), code, text);
}

static void
test_valid_examples(void **state)
{
    (void)state;
    struct event event;
    struct event_error error = {NULL, ""};
    cJSON *json;

    json = parse(TEAM_CHANGED);
    assert_int_equal(event_validate(json, &event, &error), 0);
    assert_int_equal(event.type, EVENT_TEAM_CHANGED);
    assert_string_equal(event.id, "e-team-1");
    assert_string_equal(event.source, "/hr/acme");
    assert_false(event.has_time);
    assert_ptr_equal(event.data, cJSON_GetObjectItemCaseSensitive(json, "data"));
    cJSON_Delete(json);

    json = parse(STAFF_HIRED);
    assert_int_equal(event_validate(json, &event, &error), 0);
    assert_int_equal(event.type, EVENT_STAFF_HIRED);
    assert_string_equal(event.id, "e-hire-2");
    assert_true(event.has_time);
    assert_int_equal(event.time_ms, INT64_C(1774774800000)); /* 2026-03-29T09:00:00Z */
    assert_ptr_equal(event.data, cJSON_GetObjectItemCaseSensitive(json, "data"));
    cJSON_Delete(json);

    json = parse(STAFF_CHANGED);
    assert_int_equal(event_validate(json, &event, &error), 0);
    assert_int_equal(event.type, EVENT_STAFF_CHANGED);
    cJSON_Delete(json);

    json = parse(STAFF_LEFT);
    assert_int_equal(event_validate(json, &event, &error), 0);
    assert_int_equal(event.type, EVENT_STAFF_LEFT);
    assert_string_equal(event.id, "e-left-4");
    cJSON_Delete(json);
}

static void
test_valid_minimal_and_optional(void **state)
{
    (void)state;

    /* Only the required fields. */
    expect_valid("{'specversion': '1.0', 'id': 'a', 'source': 's', 'type': 'team.changed', "
                 "'data': {'team_id': 'T1', 'name': 'Ward'}}");
    expect_valid("{'specversion': '1.0', 'id': 'a', 'source': 's', 'type': 'staff.hired', "
                 "'data': {'staff_id': 'S1', 'name': 'N', 'role': 'R', 'team_id': 'T1', "
                 "'start_date': '2000-02-29'}}");
    /* Optional fields may be null (no manager, no parent, no registration). */
    expect_valid("{'specversion': '1.0', 'id': 'a', 'source': 's', 'type': 'team.changed', "
                 "'data': {'team_id': 'T1', 'name': 'Ward', 'parent_id': null, "
                 "'manager_id': null}}");
    expect_valid("{'specversion': '1.0', 'id': 'a', 'source': 's', 'type': 'staff.hired', "
                 "'data': {'staff_id': 'S1', 'name': 'N', 'role': 'R', 'team_id': 'T1', "
                 "'start_date': '2024-01-01', 'manager_id': null, 'email': null, "
                 "'registration': null}}");
    /* Non-ASCII text is not a control character. */
    expect_valid("{'specversion': '1.0', 'id': 'a', 'source': 's', 'type': 'team.changed', "
                 "'data': {'team_id': 'T1', 'name': 'Z\xC3\xBCrich \xE2\x82\xAC'}}");
    /* Time with an offset and a fraction; extension attributes are allowed. */
    expect_valid("{'specversion': '1.0', 'id': 'a', 'source': 's', 'type': 'staff.left', "
                 "'time': '2026-03-29T02:30:00.250+01:00', 'datacontenttype': 'application/json', "
                 "'data': {'staff_id': 'S1', 'leave_date': '2026-03-29'}}");
}

static void
test_staff_changed_fields(void **state)
{
    (void)state;
    static const char *const changes[] = {
        "'name': 'New Name'",
        "'role': 'Carer'",
        "'team_id': 'T9'",
        "'start_date': '2020-02-29'",
        "'manager_id': 'S7'",
        "'email': 'x@y.z'",
        "'registration': {'body': 'HCPC', 'number': 'PA1', 'renewal_date': '2026-12-31'}",
        /* null clears an optional field, and counts as a change. */
        "'manager_id': null",
        "'email': null",
        "'registration': null",
    };
    char text[512];

    for (size_t i = 0; i < sizeof(changes) / sizeof(changes[0]); i++) {
        snprintf(text, sizeof(text),
                 "{'specversion': '1.0', 'id': 'a', 'source': 's', 'type': 'staff.changed', "
                 "'data': {'staff_id': 'S1', %s}}",
                 changes[i]);
        expect_valid(text);
    }
}

/* A field every staff record must have can be changed but never removed with null. */
static void
test_null_only_for_optional_fields(void **state)
{
    (void)state;
    static const char *const required[] = {"name", "role", "team_id", "start_date"};
    char text[512];

    for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
        snprintf(text, sizeof(text),
                 "{'specversion': '1.0', 'id': 'a', 'source': 's', 'type': 'staff.changed', "
                 "'data': {'staff_id': 'S1', '%s': null}}",
                 required[i]);
        expect_code(text, "bad_field");
    }
    expect_code("{'specversion': '1.0', 'id': 'a', 'source': 's', 'type': 'team.changed', "
                "'data': {'team_id': 'T1', 'name': null}}",
                "bad_field");
    expect_valid("{'specversion': '1.0', 'id': 'a', 'source': 's', 'type': 'team.changed', "
                 "'data': {'team_id': 'T1', 'name': 'Ward', 'parent_id': null, "
                 "'manager_id': null}}");
    expect_code("{'specversion': '1.0', 'id': 'a', 'source': 's', 'type': 'staff.left', "
                "'data': {'staff_id': 'S1', 'leave_date': null}}",
                "bad_field");
}

static void
test_staff_changed_needs_a_change(void **state)
{
    (void)state;

    expect_code("{'specversion': '1.0', 'id': 'a', 'source': 's', 'type': 'staff.changed', "
                "'data': {'staff_id': 'S1'}}",
                "missing_field");
    /* A field carehub does not know is not a change. */
    expect_code("{'specversion': '1.0', 'id': 'a', 'source': 's', 'type': 'staff.changed', "
                "'data': {'staff_id': 'S1', 'nickname': 'Al'}}",
                "missing_field");
    expect_code("{'specversion': '1.0', 'id': 'a', 'source': 's', 'type': 'staff.changed', "
                "'data': {'role': 'Carer'}}",
                "missing_field");
    /* The key cannot be cleared. */
    expect_code("{'specversion': '1.0', 'id': 'a', 'source': 's', 'type': 'staff.changed', "
                "'data': {'staff_id': null, 'role': 'Carer'}}",
                "bad_field");
}

static void
test_not_object(void **state)
{
    (void)state;
    struct event event;
    struct event_error error = {NULL, ""};

    expect_code("[" STAFF_LEFT "]", "not_object");
    expect_code("'staff.left'", "not_object");
    expect_code("42", "not_object");
    expect_code("null", "not_object");
    expect_code("true", "not_object");
    assert_int_equal(event_validate(NULL, &event, &error), -EINVAL);
    assert_string_equal(error.code, "not_object");
}

static void
test_missing_attribute(void **state)
{
    (void)state;
    static const char *const attributes[] = {"specversion", "id", "source", "type", "data"};

    for (size_t i = 0; i < sizeof(attributes) / sizeof(attributes[0]); i++) {
        cJSON *json = parse(STAFF_HIRED);
        cJSON_DeleteItemFromObjectCaseSensitive(json, attributes[i]);
        expect_code_json(json, "missing_attribute", attributes[i]);
    }
    /* Names are case-sensitive: "ID" is not "id". */
    expect_code("{'specversion': '1.0', 'ID': 'a', 'source': 's', 'type': 'staff.left', "
                "'data': {'staff_id': 'S1', 'leave_date': '2026-03-29'}}",
                "missing_attribute");
}

static void
test_bad_attribute(void **state)
{
    (void)state;
    static const char *const attributes[] = {"specversion", "id", "source", "type"};

    for (size_t i = 0; i < sizeof(attributes) / sizeof(attributes[0]); i++) {
        char what[64];
        cJSON *json = parse(STAFF_LEFT);
        set_member(json, attributes[i], cJSON_CreateNumber(1));
        snprintf(what, sizeof(what), "%s as a number", attributes[i]);
        expect_code_json(json, "bad_attribute", what);

        json = parse(STAFF_LEFT);
        set_member(json, attributes[i], cJSON_CreateNull());
        snprintf(what, sizeof(what), "%s as null", attributes[i]);
        expect_code_json(json, "bad_attribute", what);

        json = parse(STAFF_LEFT);
        set_member(json, attributes[i], cJSON_CreateString(""));
        snprintf(what, sizeof(what), "%s empty", attributes[i]);
        expect_code_json(json, "bad_attribute", what);
    }
    /* data must be an object. */
    expect_code("{'specversion': '1.0', 'id': 'a', 'source': 's', 'type': 'staff.left', "
                "'data': 'S1 left'}",
                "bad_attribute");
    expect_code("{'specversion': '1.0', 'id': 'a', 'source': 's', 'type': 'staff.left', "
                "'data': [{'staff_id': 'S1', 'leave_date': '2026-03-29'}]}",
                "bad_attribute");
}

static void
test_attribute_length(void **state)
{
    (void)state;
    static const char *const attributes[] = {"id", "source", "type"};
    char *longest = repeat('a', EVENT_ATTRIBUTE_MAX);
    char *too_long = repeat('a', EVENT_ATTRIBUTE_MAX + 1);

    for (size_t i = 0; i < sizeof(attributes) / sizeof(attributes[0]); i++) {
        cJSON *json = parse(STAFF_LEFT);
        set_member(json, attributes[i], cJSON_CreateString(too_long));
        expect_code_json(json, "bad_attribute", attributes[i]);
    }
    cJSON *json = parse(STAFF_LEFT);
    set_member(json, "id", cJSON_CreateString(longest));
    set_member(json, "source", cJSON_CreateString(longest));
    expect_valid_json(json, "id and source of exactly EVENT_ATTRIBUTE_MAX bytes");
    cJSON_Delete(json);
    free(longest);
    free(too_long);
}

static void
test_bad_specversion(void **state)
{
    (void)state;
    static const char *const versions[] = {"0.3", "1", "1.0 ", "1.0.0", "2.0", "v1.0"};

    for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
        cJSON *json = parse(STAFF_LEFT);
        set_member(json, "specversion", cJSON_CreateString(versions[i]));
        expect_code_json(json, "bad_specversion", versions[i]);
    }
}

static void
test_unknown_type(void **state)
{
    (void)state;
    static const char *const names[] = {"staff.fired",    "Staff.Hired",       "staff",
                                        "staff.hired.v2", "com.example.thing", "unknown"};

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        cJSON *json = parse(STAFF_LEFT);
        set_member(json, "type", cJSON_CreateString(names[i]));
        expect_code_json(json, "unknown_type", names[i]);
    }
}

/*
 * kpi.observed: a metric, a team, a finite number, and a time (the moment the value refers to).
 * Every type is handled now: data of the wrong shape is a missing field, not an unsupported type.
 */
static void
test_kpi_observed(void **state)
{
    (void)state;

    expect_valid("{'specversion': '1.0', 'id': 'k1', 'source': 's', 'type': 'kpi.observed', "
                 "'time': '2026-03-29T00:00:00Z', "
                 "'data': {'metric': 'sickness_rate', 'team_id': 'T1', 'value': 0.04}}");
    expect_valid("{'specversion': '1.0', 'id': 'k1', 'source': 's', 'type': 'kpi.observed', "
                 "'time': '2026-03-29T00:00:00Z', "
                 "'data': {'metric': 'los', 'team_id': 'T1', 'value': -3, 'staff_id': 'S1'}}");
    expect_code("{'specversion': '1.0', 'id': 'k2', 'source': 's', 'type': 'kpi.observed', "
                "'data': {'metric': 'sickness_rate', 'team_id': 'T1', 'value': 0.04}}",
                "missing_time");
    expect_code("{'specversion': '1.0', 'id': 'k2', 'source': 's', 'type': 'kpi.observed', "
                "'time': '2026-03-29T00:00:00Z', "
                "'data': {'metric': 'sickness_rate', 'team_id': 'T1', 'value': '0.04'}}",
                "bad_field");
    expect_code("{'specversion': '1.0', 'id': 'k2', 'source': 's', 'type': 'kpi.observed', "
                "'time': '2026-03-29T00:00:00Z', "
                "'data': {'metric': 'sickness_rate', 'team_id': 'T1', 'value': 1e999}}",
                "not_finite");
    expect_code("{'specversion': '1.0', 'id': 'k2', 'source': 's', 'type': 'kpi.observed', "
                "'time': '2026-03-29T00:00:00Z', "
                "'data': {'metric': 'sickness_rate', 'team_id': 'T1', 'value': -1e999}}",
                "not_finite");
    expect_code("{'specversion': '1.0', 'id': 'k2', 'source': 's', 'type': 'kpi.observed', "
                "'time': '2026-03-29T00:00:00Z', 'data': {'team_id': 'T1', 'value': 1}}",
                "missing_field");
    expect_code("{'specversion': '1.0', 'id': 'k2', 'source': 's', 'type': 'kpi.observed', "
                "'time': '2026-03-29T00:00:00Z', 'data': {'metric': 'm', 'value': 1}}",
                "missing_field");
    expect_code("{'specversion': '1.0', 'id': 'k2', 'source': 's', 'type': 'kpi.observed', "
                "'time': '2026-03-29T00:00:00Z', 'data': {'metric': 'm', 'team_id': 'T1'}}",
                "missing_field");
    expect_code("{'specversion': '1.0', 'id': 'k2', 'source': 's', 'type': 'kpi.observed', "
                "'time': '2026-03-29T00:00:00Z', "
                "'data': {'metric': '', 'team_id': 'T1', 'value': 1}}",
                "bad_field");
    /* The other types are handled now: data of the wrong shape is a missing field, not an
     * unsupported type. */
    for (int type = EVENT_ABSENCE_STARTED; type < EVENT_KPI_OBSERVED; type++) {
        cJSON *json = parse(STAFF_LEFT);
        set_member(json, "type", cJSON_CreateString(event_type_name((enum event_type)type)));
        set_member(data_of(json), "staff_id", cJSON_CreateString("S1"));
        cJSON_DeleteItemFromObjectCaseSensitive(data_of(json), "leave_date");
        expect_code_json(json, "missing_field", event_type_name((enum event_type)type));
    }
}

/*
 * The review-obligation events: a valid example of each (with every optional
 * field), its required fields, its date fields and its optional fields that
 * may be null.  Field lists end with NULL.
 */
struct review_event_case {
    enum event_type type;
    const char *text;
    const char *fields[8];   /* every field of the example */
    const char *required[8]; /* of which required */
    const char *dates[4];    /* of which dates */
    const char *nullable[4]; /* of which may be null */
};

static const struct review_event_case review_cases[] = {
    {EVENT_ABSENCE_STARTED,
     "{'specversion': '1.0', 'id': 'ab1', 'source': '/hr', 'type': 'absence.started', "
     "'data': {'staff_id': 'S2', 'absence_id': 'A1', 'kind': 'sickness', "
     "'start_date': '2026-02-02'}}",
     {"staff_id", "absence_id", "kind", "start_date", NULL},
     {"staff_id", "absence_id", "kind", "start_date", NULL},
     {"start_date", NULL},
     {NULL}},
    {EVENT_ABSENCE_ENDED,
     "{'specversion': '1.0', 'id': 'ab2', 'source': '/hr', 'type': 'absence.ended', "
     "'data': {'staff_id': 'S2', 'absence_id': 'A1', 'end_date': '2026-02-20'}}",
     {"staff_id", "absence_id", "end_date", NULL},
     {"staff_id", "absence_id", "end_date", NULL},
     {"end_date", NULL},
     {NULL}},
    {EVENT_REVIEW_BOOKED,
     "{'specversion': '1.0', 'id': 'rb1', 'source': '/hr', 'type': 'review.booked', "
     "'data': {'staff_id': 'S2', 'kind': 'supervision', 'date': '2026-03-02', "
     "'step': 'week4'}}",
     {"staff_id", "kind", "date", "step", NULL},
     {"staff_id", "kind", "date", NULL},
     {"date", NULL},
     {NULL}},
    {EVENT_REVIEW_COMPLETED,
     "{'specversion': '1.0', 'id': 'rc1', 'source': '/hr', 'type': 'review.completed', "
     "'data': {'staff_id': 'S2', 'kind': 'supervision', 'date': '2026-03-02', 'by': 'S1', "
     "'outcome': 'Agreed three goals', 'step': 'week4'}}",
     {"staff_id", "kind", "date", "by", "outcome", "step", NULL},
     {"staff_id", "kind", "date", NULL},
     {"date", NULL},
     {"by", "outcome", NULL}},
    {EVENT_REVIEW_WAIVED,
     "{'specversion': '1.0', 'id': 'rw1', 'source': '/hr', 'type': 'review.waived', "
     "'data': {'staff_id': 'S2', 'kind': 'supervision', 'reason': 'On secondment', "
     "'step': 'week4'}}",
     {"staff_id", "kind", "reason", "step", NULL},
     {"staff_id", "kind", "reason", NULL},
     {NULL},
     {NULL}},
    {EVENT_ACTION_ASSIGNED,
     "{'specversion': '1.0', 'id': 'aa1', 'source': '/hr', 'type': 'action.assigned', "
     "'data': {'action_id': 'X1', 'staff_id': 'S2', 'title': 'Finish the falls course', "
     "'due_date': '2026-04-30', 'responsible_id': 'S1', 'kind': 'objective'}}",
     {"action_id", "staff_id", "title", "due_date", "responsible_id", "kind", NULL},
     {"action_id", "staff_id", "title", "due_date", NULL},
     {"due_date", NULL},
     {"responsible_id", NULL}},
    {EVENT_ACTION_COMPLETED,
     "{'specversion': '1.0', 'id': 'ac1', 'source': '/hr', 'type': 'action.completed', "
     "'data': {'action_id': 'X1', 'date': '2026-04-28'}}",
     {"action_id", "date", NULL},
     {"action_id", "date", NULL},
     {"date", NULL},
     {NULL}},
    {EVENT_TRAINING_COMPLETED,
     "{'specversion': '1.0', 'id': 'tc1', 'source': '/hr', 'type': 'training.completed', "
     "'data': {'staff_id': 'S2', 'course': 'moving_handling', 'date': '2026-01-15'}}",
     {"staff_id", "course", "date", NULL},
     {"staff_id", "course", "date", NULL},
     {"date", NULL},
     {NULL}},
    {EVENT_CONCERN_OPENED,
     "{'specversion': '1.0', 'id': 'co1', 'source': '/hr', 'type': 'concern.opened', "
     "'data': {'concern_id': 'C1', 'staff_id': 'S2', 'date': '2026-02-10'}}",
     {"concern_id", "staff_id", "date", NULL},
     {"concern_id", "staff_id", "date", NULL},
     {"date", NULL},
     {NULL}},
    {EVENT_CONCERN_CLOSED,
     "{'specversion': '1.0', 'id': 'cc1', 'source': '/hr', 'type': 'concern.closed', "
     "'data': {'concern_id': 'C1', 'date': '2026-03-10', 'outcome': 'Resolved informally'}}",
     {"concern_id", "date", "outcome", NULL},
     {"concern_id", "date", NULL},
     {"date", NULL},
     {"outcome", NULL}},
};

#define REVIEW_CASE_COUNT (sizeof(review_cases) / sizeof(review_cases[0]))

static bool
listed(const char *const *list, const char *name)
{
    for (; *list; list++)
        if (strcmp(*list, name) == 0)
            return true;
    return false;
}

/* Parses a review case, sets (or with value NULL, deletes) one data field, and checks. */
static void
expect_review_field(const struct review_event_case *c, const char *field, cJSON *value,
                    const char *code, const char *what)
{
    char label[160];
    cJSON *json = parse(c->text);

    snprintf(label, sizeof(label), "%s: %s: %s", event_type_name(c->type), field, what);
    if (value)
        set_member(data_of(json), field, value);
    else
        cJSON_DeleteItemFromObjectCaseSensitive(data_of(json), field);
    if (code == NULL) {
        expect_valid_json(json, label);
        cJSON_Delete(json);
    } else {
        expect_code_json(json, code, label);
    }
}

static void
test_review_events_valid(void **state)
{
    (void)state;

    for (size_t i = 0; i < REVIEW_CASE_COUNT; i++) {
        const struct review_event_case *c = &review_cases[i];
        struct event event;
        struct event_error error = {NULL, ""};
        cJSON *json = parse(c->text);

        if (event_validate(json, &event, &error) != 0)
            fail_msg("%s: rejected with %s: %s", event_type_name(c->type), error.code,
                     error.message);
        assert_int_equal(event.type, c->type);
        assert_ptr_equal(event.data, cJSON_GetObjectItemCaseSensitive(json, "data"));
        cJSON_Delete(json);

        /* Only the required fields. */
        json = parse(c->text);
        for (size_t k = 0; c->fields[k]; k++)
            if (!listed(c->required, c->fields[k]))
                cJSON_DeleteItemFromObjectCaseSensitive(data_of(json), c->fields[k]);
        expect_valid_json(json, event_type_name(c->type));
        cJSON_Delete(json);

        /* Optional fields that may be null. */
        for (size_t k = 0; c->nullable[k]; k++)
            expect_review_field(c, c->nullable[k], cJSON_CreateNull(), NULL, "null");
        /* Fields carehub does not know are ignored. */
        expect_review_field(c, "comment", cJSON_CreateString("extra"), NULL, "unknown field");
    }
    /* A leap day is a date. */
    expect_review_field(&review_cases[3], "date", cJSON_CreateString("2024-02-29"), NULL,
                        "leap day");
}

static void
test_review_events_missing_fields(void **state)
{
    (void)state;

    for (size_t i = 0; i < REVIEW_CASE_COUNT; i++) {
        const struct review_event_case *c = &review_cases[i];
        for (size_t k = 0; c->required[k]; k++)
            expect_review_field(c, c->required[k], NULL, "missing_field", "removed");
        /* No data at all. */
        cJSON *json = parse(c->text);
        cJSON_DeleteItemFromObjectCaseSensitive(json, "data");
        expect_code_json(json, "missing_attribute", event_type_name(c->type));
        json = parse(c->text);
        set_member(json, "data", cJSON_CreateObject());
        expect_code_json(json, "missing_field", event_type_name(c->type));
    }
}

static void
test_review_events_bad_dates(void **state)
{
    (void)state;
    static const char *const dates[] = {"2023-02-29",           "2026-04-31", "2026-13-01",
                                        "2026-00-10",           "2026-1-01",  "25/12/2026",
                                        "2026-03-02T09:00:00Z", "tomorrow",   ""};

    for (size_t i = 0; i < REVIEW_CASE_COUNT; i++) {
        const struct review_event_case *c = &review_cases[i];
        for (size_t k = 0; c->dates[k]; k++) {
            for (size_t d = 0; d < sizeof(dates) / sizeof(dates[0]); d++)
                expect_review_field(c, c->dates[k], cJSON_CreateString(dates[d]), "bad_date",
                                    dates[d]);
            /* Not a string at all: the wrong type of field. */
            expect_review_field(c, c->dates[k], cJSON_CreateNumber(20260302), "bad_field",
                                "date as a number");
            expect_review_field(c, c->dates[k], cJSON_CreateNull(), "bad_field", "date as null");
        }
    }
}

static void
test_review_events_bad_field_types(void **state)
{
    (void)state;
    char *id_long = repeat('i', EVENT_ID_MAX + 1);
    char *text_long = repeat('t', EVENT_TEXT_MAX + 1);

    for (size_t i = 0; i < REVIEW_CASE_COUNT; i++) {
        const struct review_event_case *c = &review_cases[i];
        for (size_t k = 0; c->fields[k]; k++) {
            const char *field = c->fields[k];
            expect_review_field(c, field, cJSON_CreateNumber(12), "bad_field", "number");
            expect_review_field(c, field, cJSON_CreateTrue(), "bad_field", "true");
            expect_review_field(c, field, cJSON_CreateObject(), "bad_field", "object");
            expect_review_field(c, field, cJSON_CreateArray(), "bad_field", "array");
            if (!listed(c->nullable, field))
                expect_review_field(c, field, cJSON_CreateNull(), "bad_field", "null");
            if (listed(c->dates, field))
                continue;
            expect_review_field(c, field, cJSON_CreateString(""), "bad_field", "empty");
            expect_review_field(c, field, cJSON_CreateString("a\nb"), "bad_field", "newline");
            expect_review_field(c, field, cJSON_CreateString("del\x7f"), "bad_field", "DEL");
            /* Both ids and text have a length limit. */
            expect_review_field(c, field, cJSON_CreateString(text_long), "bad_field",
                                "longer than any field");
        }
    }
    /* Ids hold at most EVENT_ID_MAX bytes. */
    static const struct {
        size_t index;
        const char *field;
    } ids[] = {{0, "staff_id"},  {0, "absence_id"}, {2, "kind"},           {3, "by"},
               {3, "step"},      {5, "action_id"},  {5, "responsible_id"}, {7, "course"},
               {8, "concern_id"}};
    char *id = repeat('i', EVENT_ID_MAX);
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        expect_review_field(&review_cases[ids[i].index], ids[i].field, cJSON_CreateString(id), NULL,
                            "longest id");
        expect_review_field(&review_cases[ids[i].index], ids[i].field, cJSON_CreateString(id_long),
                            "bad_field", "id too long");
    }
    /* Text (a title, a reason, an outcome) may be longer than an id. */
    char *text = repeat('t', EVENT_TEXT_MAX);
    expect_review_field(&review_cases[5], "title", cJSON_CreateString(text), NULL, "longest title");
    expect_review_field(&review_cases[4], "reason", cJSON_CreateString(text), NULL,
                        "longest reason");
    expect_review_field(&review_cases[0], "kind", cJSON_CreateString(text), NULL,
                        "longest absence kind");
    free(id);
    free(id_long);
    free(text);
    free(text_long);
}

static void
test_type_names(void **state)
{
    (void)state;
    static const char *const handled[] = {
        [EVENT_TEAM_CHANGED] = "team.changed",
        [EVENT_STAFF_HIRED] = "staff.hired",
        [EVENT_STAFF_CHANGED] = "staff.changed",
        [EVENT_STAFF_LEFT] = "staff.left",
    };

    for (int type = 0; type < EVENT_TYPE_COUNT; type++) {
        const char *name = event_type_name((enum event_type)type);
        assert_non_null(name);
        assert_string_not_equal(name, "unknown");
        if (type < 4)
            assert_string_equal(name, handled[type]);
        for (int other = 0; other < type; other++)
            assert_string_not_equal(name, event_type_name((enum event_type)other));
    }
    assert_string_equal(event_type_name(EVENT_KPI_OBSERVED), "kpi.observed");
    assert_string_equal(event_type_name(EVENT_TYPE_COUNT), "unknown");
}

static void
test_bad_time(void **state)
{
    (void)state;
    static const char *const times[] = {"yesterday",
                                        "2026-03-29",
                                        "2026-03-29T09:00:00",
                                        "2026-03-29T25:00:00Z",
                                        "2023-02-29T09:00:00Z",
                                        ""};

    for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
        cJSON *json = parse(STAFF_LEFT);
        set_member(json, "time", cJSON_CreateString(times[i]));
        expect_code_json(json, "bad_time", times[i]);
    }
    cJSON *json = parse(STAFF_LEFT);
    set_member(json, "time", cJSON_CreateNumber(1774774800));
    expect_code_json(json, "bad_time", "time as a number");
}

static void
test_missing_required_fields(void **state)
{
    (void)state;
    static const struct {
        const char *event;
        const char *field;
    } cases[] = {
        {TEAM_CHANGED, "team_id"},   {TEAM_CHANGED, "name"},      {STAFF_HIRED, "staff_id"},
        {STAFF_HIRED, "name"},       {STAFF_HIRED, "role"},       {STAFF_HIRED, "team_id"},
        {STAFF_HIRED, "start_date"}, {STAFF_CHANGED, "staff_id"}, {STAFF_LEFT, "staff_id"},
        {STAFF_LEFT, "leave_date"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cJSON *json = parse(cases[i].event);
        cJSON_DeleteItemFromObjectCaseSensitive(data_of(json), cases[i].field);
        expect_code_json(json, "missing_field", cases[i].field);
    }
    /* Each part of a registration is required. */
    static const char *const parts[] = {"body", "number", "renewal_date"};
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
        cJSON *json = parse(STAFF_HIRED);
        cJSON *registration = cJSON_GetObjectItemCaseSensitive(data_of(json), "registration");
        cJSON_DeleteItemFromObjectCaseSensitive(registration, parts[i]);
        expect_code_json(json, "missing_field", parts[i]);
    }
}

/* Sets field of STAFF_HIRED's data (or of its registration) to value and expects code. */
static void
expect_hired_field(const char *field, cJSON *value, const char *code, const char *what)
{
    cJSON *json = parse(STAFF_HIRED);
    cJSON *object = data_of(json);

    if (strncmp(field, "registration.", 13) == 0) {
        object = cJSON_GetObjectItemCaseSensitive(object, "registration");
        field += 13;
    }
    set_member(object, field, value);
    if (code == NULL) {
        expect_valid_json(json, what);
        cJSON_Delete(json);
    } else {
        expect_code_json(json, code, what);
    }
}

static void
test_bad_field_types(void **state)
{
    (void)state;
    static const char *const fields[] = {"staff_id",
                                         "name",
                                         "role",
                                         "team_id",
                                         "start_date",
                                         "manager_id",
                                         "email",
                                         "registration.body",
                                         "registration.number",
                                         "registration.renewal_date"};

    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        expect_hired_field(fields[i], cJSON_CreateNumber(12), "bad_field", fields[i]);
        expect_hired_field(fields[i], cJSON_CreateTrue(), "bad_field", fields[i]);
        expect_hired_field(fields[i], cJSON_CreateObject(), "bad_field", fields[i]);
        expect_hired_field(fields[i], cJSON_CreateArray(), "bad_field", fields[i]);
    }
    /* A required field cannot be null. */
    expect_hired_field("name", cJSON_CreateNull(), "bad_field", "required name null");
    expect_hired_field("registration.body", cJSON_CreateNull(), "bad_field",
                       "registration body null");
    /* registration must be an object. */
    expect_hired_field("registration", cJSON_CreateString("NMC 12A3456B"), "bad_field",
                       "registration as a string");
    expect_hired_field("registration", cJSON_CreateArray(), "bad_field",
                       "registration as an array");
    expect_hired_field("registration", cJSON_CreateNumber(1), "bad_field",
                       "registration as a number");
}

static void
test_bad_field_text(void **state)
{
    (void)state;
    static const char *const fields[] = {
        "staff_id",           "name", "role", "team_id", "manager_id", "registration.body",
        "registration.number"};
    static const char *const controls[] = {"a\nb", "tab\there", "\x01", "del\x7f", "end\r"};

    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        expect_hired_field(fields[i], cJSON_CreateString(""), "bad_field", fields[i]);
        for (size_t k = 0; k < sizeof(controls) / sizeof(controls[0]); k++)
            expect_hired_field(fields[i], cJSON_CreateString(controls[k]), "bad_field", fields[i]);
    }
    /* Ids hold at most EVENT_ID_MAX bytes, text at most EVENT_TEXT_MAX. */
    char *id = repeat('i', EVENT_ID_MAX);
    char *id_long = repeat('i', EVENT_ID_MAX + 1);
    char *text = repeat('t', EVENT_TEXT_MAX);
    char *text_long = repeat('t', EVENT_TEXT_MAX + 1);
    expect_hired_field("staff_id", cJSON_CreateString(id), NULL, "longest staff_id");
    expect_hired_field("staff_id", cJSON_CreateString(id_long), "bad_field", "staff_id too long");
    expect_hired_field("team_id", cJSON_CreateString(id_long), "bad_field", "team_id too long");
    expect_hired_field("manager_id", cJSON_CreateString(id_long), "bad_field",
                       "manager_id too long");
    expect_hired_field("name", cJSON_CreateString(text), NULL, "longest name");
    expect_hired_field("name", cJSON_CreateString(text_long), "bad_field", "name too long");
    expect_hired_field("role", cJSON_CreateString(text_long), "bad_field", "role too long");
    free(id);
    free(id_long);
    free(text);
    free(text_long);
}

static void
test_email(void **state)
{
    (void)state;
    static const char *const good[] = {"a@b", "ada.jones@example.org", "x+tag@nhs.net"};
    static const char *const bad[] = {"nobody",      "@example.org", "ada@", "a@b@c",
                                      "ada jones@x", "ada@ex ample", "",     "a\n@b"};

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        expect_hired_field("email", cJSON_CreateString(good[i]), NULL, good[i]);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_hired_field("email", cJSON_CreateString(bad[i]), "bad_field", bad[i]);
    char *local = repeat('e', EVENT_EMAIL_MAX - 2);
    char address[EVENT_EMAIL_MAX + 8];
    snprintf(address, sizeof(address), "%s@x", local);
    expect_hired_field("email", cJSON_CreateString(address), NULL, "longest email");
    snprintf(address, sizeof(address), "%se@x", local);
    expect_hired_field("email", cJSON_CreateString(address), "bad_field", "email too long");
    free(local);
}

static void
test_bad_date(void **state)
{
    (void)state;
    static const char *const dates[] = {"2023-02-29",          "2024-04-31", "2024-13-01",
                                        "2024-00-10",          "2024-1-01",  "01/02/2024",
                                        "2024-01-01T00:00:00Z"};

    for (size_t i = 0; i < sizeof(dates) / sizeof(dates[0]); i++) {
        expect_hired_field("start_date", cJSON_CreateString(dates[i]), "bad_date", dates[i]);
        expect_hired_field("registration.renewal_date", cJSON_CreateString(dates[i]), "bad_date",
                           dates[i]);
    }
    expect_code("{'specversion': '1.0', 'id': 'a', 'source': 's', 'type': 'staff.left', "
                "'data': {'staff_id': 'S1', 'leave_date': '2023-02-29'}}",
                "bad_date");
    expect_code("{'specversion': '1.0', 'id': 'a', 'source': 's', 'type': 'staff.changed', "
                "'data': {'staff_id': 'S1', 'start_date': '2023-02-29'}}",
                "bad_date");
    expect_hired_field("start_date", cJSON_CreateString("2024-02-29"), NULL, "leap day");
}

static void
test_bad_field_in_team_changed(void **state)
{
    (void)state;

    expect_code("{'specversion': '1.0', 'id': 'a', 'source': 's', 'type': 'team.changed', "
                "'data': {'team_id': 'T1', 'name': ''}}",
                "bad_field");
    expect_code("{'specversion': '1.0', 'id': 'a', 'source': 's', 'type': 'team.changed', "
                "'data': {'team_id': 'T1', 'name': 'W', 'parent_id': 7}}",
                "bad_field");
    expect_code("{'specversion': '1.0', 'id': 'a', 'source': 's', 'type': 'team.changed', "
                "'data': {'team_id': 'T1', 'name': 'W', 'manager_id': ''}}",
                "bad_field");
}

static void
test_identity_hash(void **state)
{
    (void)state;
    char source[16], id[16];

    /* The boundary between source and id is part of the identity. */
    assert_int_not_equal(event_identity_hash("ab", "c"), event_identity_hash("a", "bc"));
    assert_int_not_equal(event_identity_hash("", "abc"), event_identity_hash("abc", ""));
    assert_int_not_equal(event_identity_hash("a", "b"), event_identity_hash("b", "a"));
    /* Stable: the same pair gives the same hash, whatever memory holds it. */
    snprintf(source, sizeof(source), "%s", "/hr/acme");
    snprintf(id, sizeof(id), "%s", "e-1");
    assert_int_equal(event_identity_hash("/hr/acme", "e-1"), event_identity_hash(source, id));
    assert_int_equal(event_identity_hash(source, id), event_identity_hash(source, id));
}

static int
compare_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

/* Similar ids, as HR systems send them, give distinct hashes. */
static void
test_identity_hash_spreads(void **state)
{
    (void)state;
    enum { N = 20000 };
    uint64_t *hashes = calloc(N, sizeof(*hashes));
    char id[32];

    assert_non_null(hashes);
    for (int i = 0; i < N; i++) {
        snprintf(id, sizeof(id), "evt-%08d", i);
        hashes[i] = event_identity_hash(i % 2 ? "/hr/a" : "/hr/b", id);
    }
    qsort(hashes, N, sizeof(*hashes), compare_u64);
    for (int i = 1; i < N; i++)
        assert_int_not_equal(hashes[i - 1], hashes[i]);
    free(hashes);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_examples),
        cmocka_unit_test(test_valid_minimal_and_optional),
        cmocka_unit_test(test_staff_changed_fields),
        cmocka_unit_test(test_null_only_for_optional_fields),
        cmocka_unit_test(test_staff_changed_needs_a_change),
        cmocka_unit_test(test_not_object),
        cmocka_unit_test(test_missing_attribute),
        cmocka_unit_test(test_bad_attribute),
        cmocka_unit_test(test_attribute_length),
        cmocka_unit_test(test_bad_specversion),
        cmocka_unit_test(test_unknown_type),
        cmocka_unit_test(test_kpi_observed),
        cmocka_unit_test(test_review_events_valid),
        cmocka_unit_test(test_review_events_missing_fields),
        cmocka_unit_test(test_review_events_bad_dates),
        cmocka_unit_test(test_review_events_bad_field_types),
        cmocka_unit_test(test_type_names),
        cmocka_unit_test(test_bad_time),
        cmocka_unit_test(test_missing_required_fields),
        cmocka_unit_test(test_bad_field_types),
        cmocka_unit_test(test_bad_field_text),
        cmocka_unit_test(test_email),
        cmocka_unit_test(test_bad_date),
        cmocka_unit_test(test_bad_field_in_team_changed),
        cmocka_unit_test(test_identity_hash),
        cmocka_unit_test(test_identity_hash_spreads),
    };

    return cmocka_run_group_tests_name("event", tests, NULL, NULL);
}

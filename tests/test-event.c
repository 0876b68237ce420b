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

/* Types of later releases are recognised and refused as such, whatever their data. */
static void
test_unsupported_types(void **state)
{
    (void)state;

    expect_code("{'specversion': '1.0', 'id': 'k1', 'source': 's', 'type': 'kpi.observed', "
                "'time': '2026-03-29T00:00:00Z', "
                "'data': {'metric': 'sickness_rate', 'team_id': 'T1', 'value': 0.04}}",
                "unsupported_type");
    for (int type = EVENT_ABSENCE_STARTED; type < EVENT_TYPE_COUNT; type++) {
        cJSON *json = parse(STAFF_LEFT);
        set_member(json, "type", cJSON_CreateString(event_type_name((enum event_type)type)));
        expect_code_json(json, "unsupported_type", event_type_name((enum event_type)type));
    }
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
        cmocka_unit_test(test_unsupported_types),
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

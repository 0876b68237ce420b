#include "event.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "timefmt.h"

enum field_kind { FIELD_ID, FIELD_TEXT, FIELD_DATE, FIELD_EMAIL, FIELD_REGISTRATION, FIELD_NUMBER };

struct field_spec {
    const char *name;
    enum field_kind kind;
    bool required;
    bool nullable; /* null clears it (or, in a whole record, means "none") */
};

#define FIELDS_MAX 9

struct type_spec {
    const char *name;
    bool any_of; /* staff.changed: every field but the first is optional, one is needed */
    struct field_spec fields[FIELDS_MAX];
};

static const struct type_spec types[EVENT_TYPE_COUNT] = {
    [EVENT_TEAM_CHANGED] = {"team.changed",
                            false,
                            {{"team_id", FIELD_ID, true, false},
                             {"name", FIELD_TEXT, true, false},
                             {"parent_id", FIELD_ID, false, true},
                             {"manager_id", FIELD_ID, false, true}}},
    [EVENT_STAFF_HIRED] = {"staff.hired",
                           false,
                           {{"staff_id", FIELD_ID, true, false},
                            {"name", FIELD_TEXT, true, false},
                            {"role", FIELD_TEXT, true, false},
                            {"team_id", FIELD_ID, true, false},
                            {"start_date", FIELD_DATE, true, false},
                            {"manager_id", FIELD_ID, false, true},
                            {"email", FIELD_EMAIL, false, true},
                            {"registration", FIELD_REGISTRATION, false, true}}},
    [EVENT_STAFF_CHANGED] = {"staff.changed",
                             true,
                             {{"staff_id", FIELD_ID, true, false},
                              {"name", FIELD_TEXT, false, false},
                              {"role", FIELD_TEXT, false, false},
                              {"team_id", FIELD_ID, false, false},
                              {"start_date", FIELD_DATE, false, false},
                              {"manager_id", FIELD_ID, false, true},
                              {"email", FIELD_EMAIL, false, true},
                              {"registration", FIELD_REGISTRATION, false, true}}},
    [EVENT_STAFF_LEFT] = {"staff.left",
                          false,
                          {{"staff_id", FIELD_ID, true, false},
                           {"leave_date", FIELD_DATE, true, false}}},
    [EVENT_ABSENCE_STARTED] = {"absence.started",
                               false,
                               {{"staff_id", FIELD_ID, true, false},
                                {"absence_id", FIELD_ID, true, false},
                                {"kind", FIELD_TEXT, true, false},
                                {"start_date", FIELD_DATE, true, false}}},
    [EVENT_ABSENCE_ENDED] = {"absence.ended",
                             false,
                             {{"staff_id", FIELD_ID, true, false},
                              {"absence_id", FIELD_ID, true, false},
                              {"end_date", FIELD_DATE, true, false}}},
    [EVENT_REVIEW_BOOKED] = {"review.booked",
                             false,
                             {{"staff_id", FIELD_ID, true, false},
                              {"kind", FIELD_ID, true, false},
                              {"date", FIELD_DATE, true, false},
                              {"step", FIELD_ID, false, false}}},
    [EVENT_REVIEW_COMPLETED] = {"review.completed",
                                false,
                                {{"staff_id", FIELD_ID, true, false},
                                 {"kind", FIELD_ID, true, false},
                                 {"date", FIELD_DATE, true, false},
                                 {"by", FIELD_ID, false, true},
                                 {"outcome", FIELD_TEXT, false, true},
                                 {"step", FIELD_ID, false, false}}},
    [EVENT_REVIEW_WAIVED] = {"review.waived",
                             false,
                             {{"staff_id", FIELD_ID, true, false},
                              {"kind", FIELD_ID, true, false},
                              {"reason", FIELD_TEXT, true, false},
                              {"step", FIELD_ID, false, false}}},
    [EVENT_ACTION_ASSIGNED] = {"action.assigned",
                               false,
                               {{"action_id", FIELD_ID, true, false},
                                {"staff_id", FIELD_ID, true, false},
                                {"title", FIELD_TEXT, true, false},
                                {"due_date", FIELD_DATE, true, false},
                                {"responsible_id", FIELD_ID, false, true},
                                {"kind", FIELD_ID, false, false}}},
    [EVENT_ACTION_COMPLETED] = {"action.completed",
                                false,
                                {{"action_id", FIELD_ID, true, false},
                                 {"date", FIELD_DATE, true, false}}},
    [EVENT_TRAINING_COMPLETED] = {"training.completed",
                                  false,
                                  {{"staff_id", FIELD_ID, true, false},
                                   {"course", FIELD_ID, true, false},
                                   {"date", FIELD_DATE, true, false}}},
    [EVENT_CONCERN_OPENED] = {"concern.opened",
                              false,
                              {{"concern_id", FIELD_ID, true, false},
                               {"staff_id", FIELD_ID, true, false},
                               {"date", FIELD_DATE, true, false}}},
    [EVENT_CONCERN_CLOSED] = {"concern.closed",
                              false,
                              {{"concern_id", FIELD_ID, true, false},
                               {"date", FIELD_DATE, true, false},
                               {"outcome", FIELD_TEXT, false, true}}},
    [EVENT_KPI_OBSERVED] = {"kpi.observed",
                            false,
                            {{"metric", FIELD_ID, true, false},
                             {"team_id", FIELD_ID, true, false},
                             {"value", FIELD_NUMBER, true, false},
                             {"staff_id", FIELD_ID, false, false}}},
};

int
event_reject(struct event_error *error, const char *code, const char *fmt, ...)
{
    va_list ap;

    error->code = code;
    va_start(ap, fmt);
    vsnprintf(error->message, sizeof(error->message), fmt, ap);
    va_end(ap);
    return -EINVAL;
}

const char *
event_type_name(enum event_type type)
{
    return type < EVENT_TYPE_COUNT ? types[type].name : "unknown";
}

/* FNV-1a over source, a separator that cannot occur in either, and id; then a final mix. */
uint64_t
event_identity_hash(const char *source, const char *id)
{
    uint64_t hash = 0xcbf29ce484222325ULL;

    for (const unsigned char *p = (const unsigned char *)source; *p; p++)
        hash = (hash ^ *p) * 0x100000001b3ULL;
    hash = (hash ^ 0xFF) * 0x100000001b3ULL;
    for (const unsigned char *p = (const unsigned char *)id; *p; p++)
        hash = (hash ^ *p) * 0x100000001b3ULL;
    hash ^= hash >> 33;
    hash *= 0xff51afd7ed558ccdULL;
    hash ^= hash >> 33;
    hash *= 0xc4ceb9fe1a85ec53ULL;
    hash ^= hash >> 33;
    return hash;
}

static bool
has_control_characters(const char *text)
{
    for (const unsigned char *p = (const unsigned char *)text; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return true;
    return false;
}

/* Checks one string attribute of the envelope: present, a string, not empty, bounded. */
static int
check_attribute(const cJSON *json, const char *name, const char **out, struct event_error *error)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(json, name);

    if (item == NULL)
        return event_reject(error, "missing_attribute", "the event has no \"%s\" attribute", name);
    if (!cJSON_IsString(item))
        return event_reject(error, "bad_attribute", "\"%s\" must be a string", name);
    if (item->valuestring[0] == '\0')
        return event_reject(error, "bad_attribute", "\"%s\" must not be empty", name);
    if (strlen(item->valuestring) > EVENT_ATTRIBUTE_MAX)
        return event_reject(error, "bad_attribute", "\"%s\" is longer than %d bytes", name,
                            EVENT_ATTRIBUTE_MAX);
    *out = item->valuestring;
    return 0;
}

static int
check_date_text(const char *type, const char *name, const cJSON *item, struct event_error *error)
{
    struct civil_date date;

    if (!cJSON_IsString(item))
        return event_reject(error, "bad_field", "%s: \"%s\" must be a date written YYYY-MM-DD",
                            type, name);
    if (timefmt_parse_date(item->valuestring, &date) < 0)
        return event_reject(error, "bad_date",
                            "%s: \"%s\" is \"%.40s\", which is not a real date "
                            "written YYYY-MM-DD",
                            type, name, item->valuestring);
    return 0;
}

static int
check_text(const char *type, const char *name, const cJSON *item, size_t max,
           struct event_error *error)
{
    if (!cJSON_IsString(item))
        return event_reject(error, "bad_field", "%s: \"%s\" must be a string", type, name);
    if (item->valuestring[0] == '\0')
        return event_reject(error, "bad_field", "%s: \"%s\" must not be empty", type, name);
    if (strlen(item->valuestring) > max)
        return event_reject(error, "bad_field", "%s: \"%s\" is longer than %zu bytes", type, name,
                            max);
    if (has_control_characters(item->valuestring))
        return event_reject(error, "bad_field", "%s: \"%s\" contains control characters", type,
                            name);
    return 0;
}

static int
check_field(const char *type, const struct field_spec *field, const cJSON *item,
            struct event_error *error)
{
    switch (field->kind) {
    case FIELD_ID:
        return check_text(type, field->name, item, EVENT_ID_MAX, error);
    case FIELD_TEXT:
        return check_text(type, field->name, item, EVENT_TEXT_MAX, error);
    case FIELD_DATE:
        return check_date_text(type, field->name, item, error);
    case FIELD_NUMBER:
        if (!cJSON_IsNumber(item))
            return event_reject(error, "bad_field", "%s: \"%s\" must be a number", type,
                                field->name);
        if (!isfinite(item->valuedouble))
            return event_reject(error, "not_finite",
                                "%s: \"%s\" is too large to be a number (it is not finite)", type,
                                field->name);
        return 0;
    case FIELD_EMAIL: {
        int r = check_text(type, field->name, item, EVENT_EMAIL_MAX, error);
        if (r < 0)
            return r;
        const char *at = strchr(item->valuestring, '@');
        if (at == NULL || at == item->valuestring || at[1] == '\0' || strchr(at + 1, '@') ||
            strchr(item->valuestring, ' '))
            return event_reject(error, "bad_field", "%s: \"email\" is not an email address", type);
        return 0;
    }
    case FIELD_REGISTRATION: {
        static const struct field_spec parts[] = {{"body", FIELD_TEXT, true, false},
                                                  {"number", FIELD_TEXT, true, false},
                                                  {"renewal_date", FIELD_DATE, true, false}};
        if (!cJSON_IsObject(item))
            return event_reject(error, "bad_field",
                                "%s: \"registration\" must be an object with body, number and "
                                "renewal_date",
                                type);
        for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
            const cJSON *part = cJSON_GetObjectItemCaseSensitive(item, parts[i].name);
            if (part == NULL)
                return event_reject(error, "missing_field", "%s: \"registration\" has no \"%s\"",
                                    type, parts[i].name);
            int r = check_field(type, &parts[i], part, error);
            if (r < 0)
                return r;
        }
        return 0;
    }
    }
    return 0;
}

static int
check_data(const struct type_spec *spec, const cJSON *data, struct event_error *error)
{
    int changes = 0;

    if (!cJSON_IsObject(data))
        return event_reject(error, "bad_attribute", "\"data\" must be a JSON object");
    for (int i = 0; i < FIELDS_MAX && spec->fields[i].name; i++) {
        const struct field_spec *field = &spec->fields[i];
        const cJSON *item = cJSON_GetObjectItemCaseSensitive(data, field->name);

        if (item == NULL) {
            if (field->required)
                return event_reject(error, "missing_field", "%s: data has no \"%s\"", spec->name,
                                    field->name);
            continue;
        }
        if (cJSON_IsNull(item)) {
            if (!field->nullable)
                return event_reject(error, "bad_field",
                                    "%s: \"%s\" cannot be null: every record must have one",
                                    spec->name, field->name);
            changes++; /* null clears an optional field */
            continue;
        }
        int r = check_field(spec->name, field, item, error);
        if (r < 0)
            return r;
        if (i > 0)
            changes++;
    }
    if (spec->any_of && changes == 0)
        return event_reject(error, "missing_field", "%s: data names no field to change",
                            spec->name);
    return 0;
}

int
event_validate(const cJSON *json, struct event *out, struct event_error *error)
{
    const char *specversion, *type_name;
    const cJSON *time;
    int r;

    if (!cJSON_IsObject(json))
        return event_reject(error, "not_object", "an event must be a JSON object");
    if ((r = check_attribute(json, "specversion", &specversion, error)) < 0)
        return r;
    if (strcmp(specversion, "1.0") != 0)
        return event_reject(error, "bad_specversion",
                            "\"specversion\" is \"%.20s\"; this daemon speaks CloudEvents \"1.0\"",
                            specversion);
    if ((r = check_attribute(json, "id", &out->id, error)) < 0 ||
        (r = check_attribute(json, "source", &out->source, error)) < 0 ||
        (r = check_attribute(json, "type", &type_name, error)) < 0)
        return r;

    out->type = EVENT_TYPE_COUNT;
    for (int i = 0; i < EVENT_TYPE_COUNT; i++)
        if (strcmp(types[i].name, type_name) == 0)
            out->type = (enum event_type)i;
    if (out->type == EVENT_TYPE_COUNT)
        return event_reject(error, "unknown_type", "\"%.60s\" is not an event type carehub knows",
                            type_name);

    out->has_time = false;
    time = cJSON_GetObjectItemCaseSensitive(json, "time");
    if (time != NULL) {
        if (!cJSON_IsString(time) || timefmt_parse_rfc3339(time->valuestring, &out->time_ms) < 0)
            return event_reject(error, "bad_time",
                                "\"time\" must be an RFC 3339 timestamp such as "
                                "\"2026-03-29T09:00:00Z\"");
        out->has_time = true;
    }

    out->data = cJSON_GetObjectItemCaseSensitive(json, "data");
    if (out->data == NULL)
        return event_reject(error, "missing_attribute", "the event has no \"data\" attribute");
    r = check_data(&types[out->type], out->data, error);
    if (r == 0 && out->type == EVENT_KPI_OBSERVED && !out->has_time)
        return event_reject(error, "missing_time",
                            "kpi.observed: the event needs a \"time\": the moment its value "
                            "refers to");
    return r;
}

#include "audit.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "timefmt.h"

void
audit_details_init(struct audit_details *details)
{
    details->text[0] = '{';
    details->length = 1;
    details->members = false;
    details->overflow = false;
}

/* Appends size bytes; past the buffer only the overflow mark is set. */
static void
append(struct audit_details *details, const char *bytes, size_t size)
{
    /* Room is kept for the closing brace and the terminator. */
    if (details->overflow || details->length + size + 2 > sizeof(details->text)) {
        details->overflow = true;
        return;
    }
    memcpy(details->text + details->length, bytes, size);
    details->length += size;
}

static void
append_string(struct audit_details *details, const char *value)
{
    static const char hex[] = "0123456789abcdef";

    append(details, "\"", 1);
    for (const unsigned char *c = (const unsigned char *)value; *c; c++) {
        char escaped[6] = {'\\', 'u', '0', '0', hex[*c >> 4], hex[*c & 15]};
        if (*c == '"' || *c == '\\') {
            char pair[2] = {'\\', (char)*c};
            append(details, pair, 2);
        } else if (*c < 0x20) {
            append(details, escaped, 6);
        } else {
            append(details, (const char *)c, 1);
        }
    }
    append(details, "\"", 1);
}

static void
append_key(struct audit_details *details, const char *key)
{
    if (details->members)
        append(details, ",", 1);
    details->members = true;
    append_string(details, key);
    append(details, ":", 1);
}

static void
append_value(struct audit_details *details, const char *value)
{
    if (value == NULL || value[0] == '\0')
        append(details, "null", 4);
    else
        append_string(details, value);
}

void
audit_details_string(struct audit_details *details, const char *key, const char *value)
{
    append_key(details, key);
    append_value(details, value);
}

void
audit_details_int(struct audit_details *details, const char *key, int64_t value)
{
    char number[32];
    int n = snprintf(number, sizeof(number), "%" PRId64, value);

    append_key(details, key);
    append(details, number, (size_t)n);
}

void
audit_details_day(struct audit_details *details, const char *key, int64_t day)
{
    struct civil_date civil;
    char date[32];

    if (day == STORE_NO_DAY) {
        audit_details_string(details, key, NULL);
        return;
    }
    timefmt_civil_from_days(day, &civil);
    snprintf(date, sizeof(date), "%04d-%02d-%02d", civil.year, civil.month, civil.day);
    audit_details_string(details, key, date);
}

void
audit_details_change(struct audit_details *details, const char *key, const char *before,
                     const char *after)
{
    append_key(details, key);
    append(details, "{\"from\":", 8);
    append_value(details, before);
    append(details, ",\"to\":", 6);
    append_value(details, after);
    append(details, "}", 1);
}

int
audit_details_staff(struct audit_details *details, const struct dir_staff *before,
                    const struct dir_staff *after)
{
#define FIELD(name)                                                                                \
    {                                                                                              \
#name, offsetof(struct dir_staff, name)                                                    \
    }
    static const struct {
        const char *key;
        size_t offset;
    } fields[] = {
        FIELD(name),
        FIELD(role),
        FIELD(team_id),
        FIELD(manager_id),
        FIELD(start_date),
        FIELD(email),
        FIELD(registration_body),
        FIELD(registration_number),
        FIELD(registration_renewal),
        FIELD(left_date),
    };
#undef FIELD
    int changed = 0;

    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        const char *now = (const char *)after + fields[i].offset;
        const char *was = before ? (const char *)before + fields[i].offset : "";
        if (strcmp(was, now) == 0)
            continue;
        if (before == NULL)
            audit_details_string(details, fields[i].key, now);
        else
            audit_details_change(details, fields[i].key, was, now);
        changed++;
    }
    return changed;
}

void
audit_details_obligation(struct audit_details *details, const struct obligation *obligation)
{
    audit_details_int(details, "obligation", obligation->id);
    audit_details_string(details, "kind", obligation->kind);
    if (obligation->item[0] != '\0')
        audit_details_string(details, "item", obligation->item);
    if (obligation->step[0] != '\0')
        audit_details_string(details, "step", obligation->step);
    audit_details_day(details, "due", obligation->due_day);
    audit_details_string(details, "state", store_obligation_state_name(obligation->state));
}

const char *
audit_details_text(struct audit_details *details)
{
    if (details->overflow) {
        snprintf(details->text, sizeof(details->text), "{\"truncated\":true}");
        return details->text;
    }
    details->text[details->length] = '}';
    details->text[details->length + 1] = '\0';
    return details->text;
}

#include "notify_compose.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "notify_config.h"
#include "timefmt.h"

/* The three lists of a digest, in the order the default templates show them. */
enum category { DUE_SOON = 0, OVERDUE, ESCALATED, CATEGORY_COUNT };

static const char *const category_names[CATEGORY_COUNT] = {"due_soon", "overdue", "escalated"};

static const char *const message_names[NOTIFY_MESSAGE_COUNT] = {"digest", "immediate", "alert",
                                                                "fallback"};

const char *
notify_message_name(enum notify_message message)
{
    return message < NOTIFY_MESSAGE_COUNT ? message_names[message] : "?";
}

/* The string at key in object, or fallback when it is absent or not a string. */
static const char *
text_of(const cJSON *object, const char *key, const char *fallback)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, key);

    return cJSON_IsString(item) ? item->valuestring : fallback;
}

static double
number_of(const cJSON *object, const char *key)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, key);

    return cJSON_IsNumber(item) ? item->valuedouble : 0;
}

bool
notify_compose_is_immediate(const struct notify_config *config, const cJSON *notification)
{
    const char *type = text_of(notification, "type", "");

    if (!config->digest_enabled)
        return true;
    if (strcmp(type, "alert") == 0)
        return config->immediate_alerts;
    if (strcmp(type, "escalation") == 0)
        return config->immediate_escalation_level > 0 &&
               number_of(notification, "level") >= config->immediate_escalation_level;
    return false;
}

void
notify_compose_format_day(const char *day, char *buf, size_t size)
{
    struct civil_date date;

    if (day == NULL || timefmt_parse_date(day, &date) < 0) {
        snprintf(buf, size, "%s", day != NULL ? day : "");
        return;
    }
    timefmt_format_day_long(timefmt_days_from_civil(date.year, date.month, date.day), buf, size);
}

static void
clean_part(char *out, size_t size, const char *part)
{
    size_t n = 0;

    for (; part != NULL && *part != '\0' && n + 1 < size; part++) {
        char c = *part;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_';
        out[n++] = ok ? c : '_';
    }
    out[n] = '\0';
}

void
notify_compose_message_id(char *buf, size_t size, const char *domain, const char *part1,
                          const char *part2, const char *part3)
{
    char a[96], b[96], c[96];

    clean_part(a, sizeof(a), part1);
    clean_part(b, sizeof(b), part2);
    clean_part(c, sizeof(c), part3);
    snprintf(buf, size, "<carehub.%s%s%s%s%s@%s>", a, b[0] ? "." : "", b, c[0] ? "." : "", c,
             domain);
}

/* Adds key: a copy of text (or null when text is NULL); false when memory ran out. */
static bool
add_text(cJSON *object, const char *key, const char *text)
{
    return (text != NULL ? cJSON_AddStringToObject(object, key, text)
                         : cJSON_AddNullToObject(object, key)) != NULL;
}

/* {"id", "name", "first_name", "email"} for a staff op's "staff" object (or just an id). */
static cJSON *
person_object(const cJSON *staff, const char *fallback_id)
{
    cJSON *out = cJSON_CreateObject();
    const char *name = text_of(staff, "name", fallback_id);
    char first[128];

    snprintf(first, sizeof(first), "%s", name != NULL ? name : "");
    first[strcspn(first, " ")] = '\0';
    if (out == NULL || !add_text(out, "id", text_of(staff, "staff_id", fallback_id)) ||
        !add_text(out, "name", name) || !add_text(out, "first_name", first) ||
        !add_text(out, "email", text_of(staff, "email", NULL))) {
        cJSON_Delete(out);
        return NULL;
    }
    return out;
}

static cJSON *
envelope_object(const struct notify_envelope *envelope)
{
    cJSON *out = cJSON_CreateObject();
    char today[64];

    notify_compose_format_day(envelope->today, today, sizeof(today));
    if (out == NULL || !add_text(out, "organisation", envelope->organisation) ||
        !add_text(out, "today", today)) {
        cJSON_Delete(out);
        return NULL;
    }
    if (envelope->recipient != NULL) {
        cJSON *recipient = person_object(envelope->recipient, NULL);
        if (recipient == NULL) {
            cJSON_Delete(out);
            return NULL;
        }
        cJSON_AddItemToObject(out, "recipient", recipient);
    }
    return out;
}

/* The team's name from the directory, or a plain description when it has none. */
static int
team_name(const struct notify_lookup *lookup, const char *team_id, const char **out)
{
    const cJSON *reply = NULL;
    int r;

    *out = "Not in the staff directory";
    if (team_id == NULL || team_id[0] == '\0')
        return 0;
    *out = team_id;
    r = lookup->fn(lookup->context, "team", team_id, &reply);
    if (r == -ENOENT)
        return 0;
    if (r < 0)
        return r;
    *out = text_of(cJSON_GetObjectItemCaseSensitive(reply, "team"), "name", team_id);
    return 0;
}

static const char *const state_words[] = {"green", "amber", "red"};

static const char *
state_word(const cJSON *notification)
{
    int level = (int)number_of(notification, "level");

    return level >= 0 && level <= 2 ? state_words[level] : "unknown";
}

/* One digest line, or one reminder or escalation on its own. */
struct entry {
    const cJSON *notification;
    enum category category;
    double obligation_id;
    const char *staff_id;
    const char *name;
    const char *team_id;
    const char *team_name;
    const char *what;
    const char *due;
    bool dropped;
};

/*
 * Fills what the directory says about n's person and obligation into e.
 * e->dropped is set when the obligation is no longer open.
 */
static int
resolve_entry(const struct notify_lookup *lookup, const cJSON *n, struct entry *e)
{
    const cJSON *reply = NULL;
    const cJSON *staff, *obligations, *obligation;
    int level = (int)number_of(n, "level");
    int r;

    memset(e, 0, sizeof(*e));
    e->notification = n;
    e->category = strcmp(text_of(n, "type", ""), "reminder") == 0 ? DUE_SOON
                  : level <= 1                                    ? OVERDUE
                                                                  : ESCALATED;
    e->obligation_id = number_of(n, "obligation_id");
    e->staff_id = text_of(n, "staff_id", "");
    e->name = e->staff_id;
    e->what = text_of(n, "kind", "");
    e->due = text_of(n, "due", "");
    e->team_id = "";
    if (e->staff_id[0] == '\0') /* nobody to look up: shown as not in the directory */
        return team_name(lookup, NULL, &e->team_name);
    r = lookup->fn(lookup->context, "person", e->staff_id, &reply);
    if (r == -ENOENT)
        return team_name(lookup, NULL, &e->team_name);
    if (r < 0)
        return r;
    staff = cJSON_GetObjectItemCaseSensitive(reply, "staff");
    e->name = text_of(staff, "name", e->staff_id);
    e->team_id = text_of(staff, "team_id", "");
    obligations = cJSON_GetObjectItemCaseSensitive(reply, "obligations");
    cJSON_ArrayForEach(obligation, obligations)
    {
        if (number_of(obligation, "obligation_id") != e->obligation_id)
            continue;
        e->what = text_of(obligation, "what", e->what);
        e->dropped = strcmp(text_of(obligation, "state", ""), "open") != 0;
        break;
    }
    return team_name(lookup, e->team_id, &e->team_name);
}

/* The obligation's fields a template shows, from its notification. */
static cJSON *
item_object(const struct entry *e)
{
    const cJSON *n = e->notification;
    cJSON *out = cJSON_CreateObject();
    const char *type = text_of(n, "type", "");
    char due[64];

    notify_compose_format_day(text_of(n, "due", ""), due, sizeof(due));
    if (out == NULL || !add_text(out, "type", type) || !add_text(out, "what", e->what) ||
        !add_text(out, "kind", text_of(n, "kind", "")) ||
        !add_text(out, "message", text_of(n, "message", text_of(n, "text", ""))) ||
        !add_text(out, "text", text_of(n, "text", "")) ||
        !add_text(out, "policy", text_of(n, "policy", NULL)) ||
        !add_text(out, "due", text_of(n, "due", NULL)) || !add_text(out, "due_text", due) ||
        !add_text(out, "booked", text_of(n, "booked", NULL)) ||
        cJSON_AddNumberToObject(out, "days_overdue", number_of(n, "days_overdue")) == NULL ||
        cJSON_AddNumberToObject(out, "level", number_of(n, "level")) == NULL ||
        cJSON_AddBoolToObject(out, "reminder", strcmp(type, "reminder") == 0) == NULL ||
        cJSON_AddBoolToObject(out, "overdue", strcmp(type, "escalation") == 0) == NULL ||
        cJSON_AddBoolToObject(out, "escalated", e->category == ESCALATED) == NULL) {
        cJSON_Delete(out);
        return NULL;
    }
    return out;
}

static cJSON *
alert_object(const cJSON *n, const char *team)
{
    cJSON *out = cJSON_CreateObject();

    if (out == NULL || !add_text(out, "team_id", text_of(n, "item", "")) ||
        !add_text(out, "team_name", team) || !add_text(out, "metric", text_of(n, "kind", "")) ||
        !add_text(out, "period", text_of(n, "step", "")) ||
        !add_text(out, "state", state_word(n)) ||
        !add_text(out, "message", text_of(n, "message", text_of(n, "text", ""))) ||
        !add_text(out, "text", text_of(n, "text", ""))) {
        cJSON_Delete(out);
        return NULL;
    }
    return out;
}

static int
compare_entries(const void *a, const void *b)
{
    const struct entry *x = a, *y = b;
    int c = strcmp(x->team_name, y->team_name);

    if (c == 0)
        c = strcmp(x->team_id, y->team_id);
    if (c == 0)
        c = strcmp(x->name, y->name);
    if (c == 0)
        c = strcmp(x->staff_id, y->staff_id);
    if (c == 0)
        c = strcmp(x->due, y->due);
    if (c == 0) {
        double sx = number_of(x->notification, "seq"), sy = number_of(y->notification, "seq");
        c = sx < sy ? -1 : sx > sy ? 1 : 0;
    }
    return c;
}

/* Appends the entries of one category, sorted, grouped by team and then person, to list. */
static int
add_groups(cJSON *list, struct entry *entries, size_t count)
{
    cJSON *team = NULL, *people = NULL, *person = NULL, *items = NULL;

    qsort(entries, count, sizeof(*entries), compare_entries);
    for (size_t i = 0; i < count; i++) {
        struct entry *e = &entries[i];
        bool new_team = i == 0 || strcmp(e->team_id, entries[i - 1].team_id) != 0 ||
                        strcmp(e->team_name, entries[i - 1].team_name) != 0;
        bool new_person = new_team || strcmp(e->staff_id, entries[i - 1].staff_id) != 0;
        cJSON *item;

        if (new_team) {
            team = cJSON_CreateObject();
            if (team == NULL)
                return -ENOMEM;
            cJSON_AddItemToArray(list, team);
            if (!add_text(team, "team_id", e->team_id) ||
                !add_text(team, "team_name", e->team_name) ||
                (people = cJSON_AddArrayToObject(team, "people")) == NULL)
                return -ENOMEM;
        }
        if (new_person) {
            person = cJSON_CreateObject();
            if (person == NULL)
                return -ENOMEM;
            cJSON_AddItemToArray(people, person);
            if (!add_text(person, "staff_id", e->staff_id) || !add_text(person, "name", e->name) ||
                (items = cJSON_AddArrayToObject(person, "items")) == NULL)
                return -ENOMEM;
        }
        item = item_object(e);
        if (item == NULL)
            return -ENOMEM;
        cJSON_AddItemToArray(items, item);
    }
    return 0;
}

/* True when two notifications are about the same thing: one obligation, or one team's figure. */
static bool
same_subject(const cJSON *a, const cJSON *b)
{
    if (strcmp(text_of(a, "type", ""), "alert") == 0 ||
        strcmp(text_of(b, "type", ""), "alert") == 0)
        return strcmp(text_of(a, "type", ""), text_of(b, "type", "")) == 0 &&
               strcmp(text_of(a, "kind", ""), text_of(b, "kind", "")) == 0 &&
               strcmp(text_of(a, "item", ""), text_of(b, "item", "")) == 0 &&
               strcmp(text_of(a, "step", ""), text_of(b, "step", "")) == 0;
    /* Without an obligation id (a daemon older than this client) nothing is merged. */
    return number_of(a, "obligation_id") > 0 &&
           number_of(a, "obligation_id") == number_of(b, "obligation_id");
}

int
notify_compose_digest(const cJSON *items, const struct notify_envelope *envelope,
                      bool calendar_attached, const struct notify_lookup *lookup, cJSON **out)
{
    int count = cJSON_GetArraySize(items);
    struct entry *entries = calloc((size_t)(count > 0 ? count : 1), sizeof(*entries));
    struct entry *sorted = calloc((size_t)(count > 0 ? count : 1), sizeof(*entries));
    cJSON *data = envelope_object(envelope);
    cJSON *alerts = NULL, *counts = NULL;
    int totals[CATEGORY_COUNT] = {0};
    int alert_count = 0;
    int r = -ENOMEM;

    *out = NULL;
    if (entries == NULL || sorted == NULL || data == NULL)
        goto done;
    if ((counts = cJSON_AddObjectToObject(data, "counts")) == NULL ||
        (alerts = cJSON_AddArrayToObject(data, "alerts")) == NULL ||
        cJSON_AddBoolToObject(data, "calendar_attached", calendar_attached) == NULL)
        goto done;
    {
        /* The items as an array, so that finding later ones is not a walk of a list. */
        int i = 0;
        const cJSON *item;
        cJSON_ArrayForEach(item, items) entries[i++].notification = item;
    }
    for (int i = 0; i < count; i++) {
        const cJSON *n = entries[i].notification;
        bool superseded = false;

        /* Only the latest notification about each thing is shown. */
        for (int j = i + 1; j < count && !superseded; j++)
            superseded = same_subject(n, entries[j].notification);
        if (superseded) {
            entries[i].dropped = true;
            continue;
        }
        if (strcmp(text_of(n, "type", ""), "alert") == 0) {
            const char *team;
            cJSON *alert;
            entries[i].dropped = true; /* listed apart */
            r = team_name(lookup, text_of(n, "item", ""), &team);
            if (r < 0)
                goto done;
            if ((alert = alert_object(n, team)) == NULL) {
                r = -ENOMEM;
                goto done;
            }
            cJSON_AddItemToArray(alerts, alert);
            alert_count++;
            continue;
        }
        r = resolve_entry(lookup, n, &entries[i]);
        if (r < 0)
            goto done;
    }
    r = -ENOMEM;
    for (int c = 0; c < CATEGORY_COUNT; c++) {
        size_t n = 0;
        cJSON *list = cJSON_AddArrayToObject(data, category_names[c]);
        if (list == NULL)
            goto done;
        for (int i = 0; i < count; i++)
            if (!entries[i].dropped && entries[i].category == (enum category)c)
                sorted[n++] = entries[i];
        r = add_groups(list, sorted, n);
        if (r < 0)
            goto done;
        totals[c] = (int)n;
        r = -ENOMEM;
        if (cJSON_AddNumberToObject(counts, category_names[c], n) == NULL)
            goto done;
    }
    if (cJSON_AddNumberToObject(counts, "alerts", alert_count) == NULL ||
        cJSON_AddNumberToObject(counts, "total",
                                totals[DUE_SOON] + totals[OVERDUE] + totals[ESCALATED] +
                                    alert_count) == NULL)
        goto done;
    *out = data;
    data = NULL;
    r = 0;
done:
    free(entries);
    free(sorted);
    cJSON_Delete(data);
    return r;
}

int
notify_compose_single(const cJSON *notification, const struct notify_envelope *envelope,
                      const struct notify_lookup *lookup, cJSON **out)
{
    cJSON *data = envelope_object(envelope);
    cJSON *part = NULL;
    int r = -ENOMEM;

    *out = NULL;
    if (data == NULL)
        return -ENOMEM;
    if (strcmp(text_of(notification, "type", ""), "alert") == 0) {
        const char *team;
        r = team_name(lookup, text_of(notification, "item", ""), &team);
        if (r < 0)
            goto done;
        r = -ENOMEM;
        if ((part = alert_object(notification, team)) == NULL)
            goto done;
        cJSON_AddItemToObject(data, "alert", part);
    } else {
        struct entry e;
        cJSON *staff;
        r = resolve_entry(lookup, notification, &e);
        if (r < 0)
            goto done;
        r = -ENOMEM;
        if ((part = item_object(&e)) == NULL)
            goto done;
        cJSON_AddItemToObject(data, "notification", part);
        if ((staff = cJSON_AddObjectToObject(data, "staff")) == NULL ||
            !add_text(staff, "staff_id", e.staff_id) || !add_text(staff, "name", e.name) ||
            !add_text(staff, "team_id", e.team_id) || !add_text(staff, "team_name", e.team_name))
            goto done;
    }
    *out = data;
    data = NULL;
    r = 0;
done:
    cJSON_Delete(data);
    return r;
}

int
notify_compose_fallback(const cJSON *undeliverable, const struct notify_envelope *envelope,
                        const struct notify_lookup *lookup, cJSON **out)
{
    cJSON *data = envelope_object(envelope);
    cJSON *people = NULL;
    const cJSON *entry;
    int count = 0;
    int r = -ENOMEM;

    *out = NULL;
    if (data == NULL || (people = cJSON_AddArrayToObject(data, "people")) == NULL)
        goto done;
    cJSON_ArrayForEach(entry, undeliverable)
    {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(entry, "notification");
        const char *recipient = text_of(n, "recipient_id", "");
        cJSON *person = NULL, *list, *line;

        cJSON_ArrayForEach(person, people)
        {
            if (strcmp(text_of(person, "recipient_id", ""), recipient) == 0)
                break;
        }
        if (person == NULL) {
            const cJSON *reply = NULL;
            const char *name = recipient;
            r = lookup->fn(lookup->context, "person", recipient, &reply);
            if (r < 0 && r != -ENOENT)
                goto done;
            if (r == 0)
                name = text_of(cJSON_GetObjectItemCaseSensitive(reply, "staff"), "name", recipient);
            r = -ENOMEM;
            if ((person = cJSON_CreateObject()) == NULL)
                goto done;
            cJSON_AddItemToArray(people, person);
            if (!add_text(person, "recipient_id", recipient) || !add_text(person, "name", name) ||
                !add_text(person, "reason", text_of(entry, "reason", "")) ||
                cJSON_AddArrayToObject(person, "notifications") == NULL)
                goto done;
        } else {
            /* The latest reason is the one that holds now. */
            cJSON_ReplaceItemInObjectCaseSensitive(
                person, "reason", cJSON_CreateString(text_of(entry, "reason", "")));
        }
        list = cJSON_GetObjectItemCaseSensitive(person, "notifications");
        if ((line = cJSON_CreateObject()) == NULL)
            goto done;
        cJSON_AddItemToArray(list, line);
        if (!add_text(line, "type", text_of(n, "type", "")) ||
            !add_text(line, "text", text_of(n, "text", "")))
            goto done;
        count++;
    }
    {
        int people_count = cJSON_GetArraySize(people);
        char summary[64];
        snprintf(summary, sizeof(summary), "%d for %d %s", count, people_count,
                 people_count == 1 ? "person" : "people");
        if (cJSON_AddNumberToObject(data, "count", count) == NULL ||
            cJSON_AddNumberToObject(data, "people_count", people_count) == NULL ||
            !add_text(data, "summary", summary))
            goto done;
    }
    *out = data;
    data = NULL;
    r = 0;
done:
    cJSON_Delete(data);
    return r;
}

/* ---- Sample data ---- */

static const char sample_person[] =
    "{\"staff\": {\"staff_id\": \"S005\", \"name\": \"Marek Nowak\", \"team_id\": \"T-DAY\"},"
    " \"obligations\": [{\"obligation_id\": 115, \"what\": \"Supervision\", \"state\": \"open\"}]}";
static const char sample_team[] = "{\"team\": {\"team_id\": \"T-DAY\", \"name\": \"Day team\"}}";

static int
sample_lookup(void *context, const char *op, const char *key, const cJSON **reply)
{
    cJSON **replies = context;

    (void)key;
    *reply = strcmp(op, "team") == 0 ? replies[1] : replies[0];
    return 0;
}

static cJSON *
sample_notification(const char *type, int level)
{
    char text[1024];

    snprintf(text, sizeof(text),
             "{\"seq\": %d, \"type\": \"%s\", \"recipient_id\": \"S002\", \"staff_id\": "
             "\"S005\", \"kind\": \"%s\", \"item\": %s, \"step\": %s, \"due\": \"2026-03-21\","
             " \"booked\": null, \"days_overdue\": %d, \"level\": %d, \"obligation_id\": %d,"
             " \"text\": \"Supervision for Marek Nowak is due. Your organisation's guidance: "
             "https://example.org/p\", \"message\": \"Supervision for Marek Nowak is due.\","
             " \"policy\": \"https://example.org/p\"}",
             100 + level, type,
             strcmp(type, "alert") == 0 ? "sickness_absence_rate" : "supervision",
             strcmp(type, "alert") == 0 ? "\"T-DAY\"" : "null",
             strcmp(type, "alert") == 0 ? "\"2026-03\"" : "null", level, level,
             strcmp(type, "alert") == 0 ? 0 : 115 + level);
    return cJSON_Parse(text);
}

cJSON *
notify_compose_sample(enum notify_message message)
{
    cJSON *replies[2] = {cJSON_Parse(sample_person), cJSON_Parse(sample_team)};
    cJSON *recipient = cJSON_Parse("{\"staff_id\": \"S002\", \"name\": \"Tom Reilly\", "
                                   "\"email\": \"tom@example.org\"}");
    struct notify_lookup lookup = {sample_lookup, replies};
    struct notify_envelope envelope = {"Riverside Care", "2026-03-09", recipient};
    cJSON *items = cJSON_CreateArray();
    cJSON *out = NULL;

    if (replies[0] == NULL || replies[1] == NULL || recipient == NULL || items == NULL)
        goto done;
    /* Each obligation id appears once, so nothing is superseded; every list has an entry. */
    cJSON_AddItemToArray(items, sample_notification("reminder", 0));
    cJSON_AddItemToArray(items, sample_notification("escalation", 1));
    cJSON_AddItemToArray(items, sample_notification("escalation", 2));
    cJSON_AddItemToArray(items, sample_notification("alert", 1));
    switch (message) {
    case NOTIFY_DIGEST:
        /* The sample's obligations are all "open" under the ids the lookup knows. */
        cJSON_ReplaceItemInObjectCaseSensitive(
            replies[0], "obligations",
            cJSON_Parse("[{\"obligation_id\": 115, \"what\": \"Supervision\", \"state\": "
                        "\"open\"}, {\"obligation_id\": 116, \"what\": \"Supervision\", "
                        "\"state\": \"open\"}, {\"obligation_id\": 117, \"what\": "
                        "\"Supervision\", \"state\": \"open\"}]"));
        notify_compose_digest(items, &envelope, true, &lookup, &out);
        break;
    case NOTIFY_IMMEDIATE:
        notify_compose_single(cJSON_GetArrayItem(items, 1), &envelope, &lookup, &out);
        break;
    case NOTIFY_ALERT:
        notify_compose_single(cJSON_GetArrayItem(items, 3), &envelope, &lookup, &out);
        break;
    case NOTIFY_FALLBACK: {
        cJSON *undeliverable = cJSON_CreateArray();
        cJSON *entry = cJSON_CreateObject();
        if (undeliverable != NULL && entry != NULL) {
            cJSON_AddStringToObject(entry, "reason", "has no email address in the staff directory");
            cJSON_AddItemToObject(entry, "notification",
                                  cJSON_Duplicate(cJSON_GetArrayItem(items, 0), true));
            cJSON_AddItemToArray(undeliverable, entry);
            entry = NULL;
            envelope.recipient = NULL;
            notify_compose_fallback(undeliverable, &envelope, &lookup, &out);
        }
        cJSON_Delete(entry);
        cJSON_Delete(undeliverable);
        break;
    }
    default:
        break;
    }
done:
    cJSON_Delete(items);
    cJSON_Delete(recipient);
    cJSON_Delete(replies[0]);
    cJSON_Delete(replies[1]);
    return out;
}

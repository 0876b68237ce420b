/*
 * calendar: a manager's upcoming reviews as an iCalendar file (RFC 5545).
 *
 * The obligations are checked and turned into plain records first
 * (calendar_entry), so that every error is found before libical is called;
 * libical then builds the components and writes the text: CRLF line ends,
 * TEXT escaping and line folding at 75 octets are its work, not ours.
 */
#include "calendar.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libical/ical.h>

#include "timefmt.h"
#include "wire.h"

#ifndef CAREHUB_VERSION
#define CAREHUB_VERSION "0"
#endif

/* The product identifier (RFC 5545, 3.7.3): who made the file. */
#define CALENDAR_PRODID "-//carehub//carehub " CAREHUB_VERSION "//EN"
/* The largest obligation_id taken: every whole number up to it is exact in a double. */
#define CALENDAR_ID_MAX 9007199254740992.0 /* 2^53 */

static const char *const month_names[] = {"January",   "February", "March",    "April",
                                          "May",       "June",     "July",     "August",
                                          "September", "October",  "November", "December"};
static const char *const weekday_names[] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                            "Thursday", "Friday", "Saturday"};

/* One obligation as the calendar needs it; the strings are borrowed from the JSON. */
struct calendar_entry {
    double obligation_id;
    size_t position; /* in the input array, from 0: first copies win */
    const char *staff_id;
    const char *name; /* staff_id when the element has no name */
    const char *what;
    const char *policy; /* NULL when none */
    struct civil_date due;
    struct civil_date booked;
    bool is_booked;
    bool is_overdue;
    bool skipped; /* a later copy of an obligation listed before */
};

static void
set_error(char *err, size_t err_size, const char *format, ...)
{
    va_list args;

    if (err == NULL || err_size == 0)
        return;
    va_start(args, format);
    vsnprintf(err, err_size, format, args);
    va_end(args);
}

/* A new string from a printf format, the caller's to free(); NULL when memory runs out. */
static char *
text_printf(const char *format, ...)
{
    va_list args;
    char *text;
    int length;

    va_start(args, format);
    length = vsnprintf(NULL, 0, format, args);
    va_end(args);
    if (length < 0)
        return NULL;
    text = malloc((size_t)length + 1);
    if (text == NULL)
        return NULL;
    va_start(args, format);
    vsnprintf(text, (size_t)length + 1, format, args);
    va_end(args);
    return text;
}

/* The length of the UTF-8 sequence that lead starts; 0 when no sequence starts with it. */
static size_t
utf8_sequence_length(unsigned char lead)
{
    if (lead < 0x80)
        return 1;
    if (lead >= 0xC2 && lead <= 0xDF)
        return 2;
    if (lead >= 0xE0 && lead <= 0xEF)
        return 3;
    if (lead >= 0xF0 && lead <= 0xF4)
        return 4;
    return 0;
}

/*
 * A copy of text fit for an iCalendar TEXT value on one line (the caller's to
 * free(), NULL when memory runs out): control characters, line breaks
 * included, become spaces, since names and titles come from HR systems; bytes
 * that are not well-formed UTF-8 become '?', since RFC 5545 text is UTF-8;
 * spaces at either end go.
 */
static char *
clean_text(const char *text)
{
    size_t length = strlen(text);
    char *copy = malloc(length + 1);
    size_t used = 0, start;

    if (copy == NULL)
        return NULL;
    for (size_t i = 0; i < length;) {
        unsigned char byte = (unsigned char)text[i];
        size_t n = utf8_sequence_length(byte);

        if (byte < 0x20 || byte == 0x7F) {
            copy[used++] = ' ';
            i++;
        } else if (n == 0 || i + n > length || !wire_utf8_valid(text + i, n)) {
            copy[used++] = '?';
            i++;
        } else {
            memcpy(copy + used, text + i, n);
            used += n;
            i += n;
        }
    }
    /* Spaces at either end (a line break that ended a name, say) would only be lost. */
    while (used > 0 && copy[used - 1] == ' ')
        used--;
    copy[used] = '\0';
    start = strspn(copy, " ");
    memmove(copy, copy + start, used - start + 1);
    return copy;
}

/* "Saturday 21 March 2026". */
static void
format_long_date(const struct civil_date *date, char *buf, size_t size)
{
    int64_t days = timefmt_days_from_civil(date->year, date->month, date->day);
    int weekday = (int)(((days % 7) + 7 + 4) % 7); /* 1970-01-01 was a Thursday */

    snprintf(buf, size, "%s %d %s %d", weekday_names[weekday], date->day,
             month_names[date->month - 1], date->year);
}

static struct icaltimetype
ical_date(const struct civil_date *date)
{
    struct icaltimetype value = icaltime_null_date();

    value.year = date->year;
    value.month = date->month;
    value.day = date->day;
    return value;
}

/* The day after date. */
static struct civil_date
next_day(const struct civil_date *date)
{
    struct civil_date next;

    timefmt_civil_from_days(timefmt_days_from_civil(date->year, date->month, date->day) + 1, &next);
    return next;
}

/* ---- reading the obligations ---- */

/*
 * Reads a date member: 1 with *out set when it is a valid YYYY-MM-DD, 0 when
 * it is absent or null and optional, -EINVAL otherwise (with a sentence).
 */
static int
read_date(const cJSON *element, const char *member, bool optional, struct civil_date *out,
          const char *where, char *err, size_t err_size)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(element, member);

    if (optional && (item == NULL || cJSON_IsNull(item)))
        return 0;
    if (!cJSON_IsString(item)) {
        set_error(err, err_size, "%s has no \"%s\" date", where, member);
        return -EINVAL;
    }
    if (timefmt_parse_date(item->valuestring, out) < 0) {
        set_error(err, err_size, "%s: \"%s\" is not a date written YYYY-MM-DD: \"%.40s\"", where,
                  member, item->valuestring);
        return -EINVAL;
    }
    return 1;
}

/* A member that must be a string that is not empty, or NULL with a sentence in err. */
static const char *
read_text(const cJSON *element, const char *member, const char *where, char *err, size_t err_size)
{
    const char *text = wire_get_string(element, member);

    if (text == NULL || text[0] == '\0')
        set_error(err, err_size, "%s has no \"%s\"", where, member);
    return text != NULL && text[0] != '\0' ? text : NULL;
}

/*
 * Reads one element of the obligations.  Returns 1 with *entry filled, 0 when
 * the obligation is not open (left out), or -EINVAL with a sentence in err.
 */
static int
read_entry(const cJSON *element, size_t position, struct calendar_entry *entry, char *err,
           size_t err_size)
{
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(element, "obligation_id");
    const cJSON *state = cJSON_GetObjectItemCaseSensitive(element, "state");
    const char *name;
    char where[96];
    int r;

    if (!cJSON_IsObject(element)) {
        set_error(err, err_size, "item %zu of the obligations is not an object", position + 1);
        return -EINVAL;
    }
    if (!cJSON_IsNumber(id) || id->valuedouble < 1 || id->valuedouble > CALENDAR_ID_MAX ||
        id->valuedouble != (double)(int64_t)id->valuedouble) {
        set_error(err, err_size,
                  "item %zu of the obligations has no \"obligation_id\" (a whole "
                  "number from 1)",
                  position + 1);
        return -EINVAL;
    }
    snprintf(where, sizeof(where), "obligation %.0f (item %zu of the obligations)", id->valuedouble,
             position + 1);
    if (state != NULL && !cJSON_IsNull(state) && !cJSON_IsString(state)) {
        set_error(err, err_size, "%s: \"state\" is not a string", where);
        return -EINVAL;
    }
    *entry = (struct calendar_entry){.obligation_id = id->valuedouble, .position = position};
    if ((entry->staff_id = read_text(element, "staff_id", where, err, err_size)) == NULL ||
        (entry->what = read_text(element, "what", where, err, err_size)) == NULL)
        return -EINVAL;
    if ((r = read_date(element, "due", false, &entry->due, where, err, err_size)) < 0)
        return r;
    if ((r = read_date(element, "booked", true, &entry->booked, where, err, err_size)) < 0)
        return r;
    entry->is_booked = r == 1;
    if (entry->is_booked && entry->booked.year == 9999 && entry->booked.month == 12 &&
        entry->booked.day == 31) {
        set_error(err, err_size, "%s: \"booked\" is too late for a calendar", where);
        return -EINVAL;
    }
    name = wire_get_string(element, "name");
    entry->name = name != NULL && name[0] != '\0' ? name : entry->staff_id;
    entry->policy = wire_get_string(element, "policy");
    if (entry->policy != NULL && entry->policy[0] == '\0')
        entry->policy = NULL;
    entry->is_overdue = cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(element, "days_overdue"));
    /* Without a state the element is taken as the due and overdue ops mean it: open. */
    if (cJSON_IsString(state) && strcmp(state->valuestring, "open") != 0)
        return 0;
    return 1;
}

static int
compare_entries(const void *a, const void *b)
{
    const struct calendar_entry *x = *(const struct calendar_entry *const *)a;
    const struct calendar_entry *y = *(const struct calendar_entry *const *)b;

    if (x->obligation_id != y->obligation_id)
        return x->obligation_id < y->obligation_id ? -1 : 1;
    return x->position < y->position ? -1 : x->position > y->position;
}

/* Marks every copy of an obligation but the first as skipped: in O(n log n), for long lists. */
static int
mark_duplicates(struct calendar_entry *entries, size_t count)
{
    struct calendar_entry **sorted;

    if (count < 2)
        return 0;
    sorted = malloc(count * sizeof(*sorted));
    if (sorted == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < count; i++)
        sorted[i] = &entries[i];
    qsort(sorted, count, sizeof(*sorted), compare_entries);
    for (size_t i = 1; i < count; i++)
        if (sorted[i]->obligation_id == sorted[i - 1]->obligation_id)
            sorted[i]->skipped = true;
    free(sorted);
    return 0;
}

/* ---- building the components ---- */

/* Adds property to component; -ENOMEM when libical could not make it (property is NULL). */
static int
add_property(icalcomponent *component, icalproperty *property)
{
    if (property == NULL)
        return -ENOMEM;
    icalcomponent_add_property(component, property);
    return 0;
}

/*
 * The DESCRIPTION: what to do, in plain English, then the policy link.
 * name and what are already clean.  The caller's to free(); NULL when memory
 * runs out.
 */
static char *
describe(const struct calendar_entry *entry, const char *name, const char *what, const char *policy)
{
    char due[64], booked[64], status[256];

    format_long_date(&entry->due, due, sizeof(due));
    if (entry->is_booked) {
        format_long_date(&entry->booked, booked, sizeof(booked));
        if (entry->is_overdue)
            snprintf(status, sizeof(status),
                     "It was booked for %s, was due by %s, and is now overdue: if it has not "
                     "happened, arrange it as soon as you can.",
                     booked, due);
        else
            snprintf(status, sizeof(status), "It is booked for %s, and must be done by %s.", booked,
                     due);
    } else if (entry->is_overdue) {
        snprintf(status, sizeof(status),
                 "It was due by %s and is overdue: arrange it as soon as you can.", due);
    } else {
        snprintf(status, sizeof(status),
                 "It must be done by %s. It is not booked yet: choose a date before then.", due);
    }
    return text_printf("%s for %s (%s).\n%s\nOnce it is done, record it as usual, and the "
                       "reminders about it stop.%s%s",
                       what, name, entry->staff_id, status,
                       policy != NULL ? "\nYour organisation's policy: " : "",
                       policy != NULL ? policy : "");
}

/* True when text can stand as a URI value: no spaces or control characters. */
static bool
is_uri_text(const char *text)
{
    for (const unsigned char *p = (const unsigned char *)text; *p != '\0'; p++)
        if (*p <= 0x20 || *p == 0x7F)
            return false;
    return true;
}

/*
 * Adds the VEVENT (booked) or VTODO (not booked) of one obligation to
 * calendar.  Returns 0 or -ENOMEM.
 */
static int
add_entry(icalcomponent *calendar, const struct calendar_entry *entry, const char *uid_domain,
          struct icaltimetype stamp)
{
    icalcomponent *component =
        icalcomponent_new(entry->is_booked ? ICAL_VEVENT_COMPONENT : ICAL_VTODO_COMPONENT);
    char *name = clean_text(entry->name);
    char *what = clean_text(entry->what);
    char *policy = entry->policy != NULL ? clean_text(entry->policy) : NULL;
    char *uid = text_printf("carehub-obligation-%.0f@%s", entry->obligation_id, uid_domain);
    char *summary = NULL, *description = NULL;
    int r = -ENOMEM;

    if (component == NULL || name == NULL || what == NULL || uid == NULL ||
        (entry->policy != NULL && policy == NULL))
        goto out;
    summary = text_printf("%s: %s", what, name);
    description = describe(entry, name, what, policy);
    if (summary == NULL || description == NULL)
        goto out;
    if ((r = add_property(component, icalproperty_new_uid(uid))) < 0 ||
        (r = add_property(component, icalproperty_new_dtstamp(stamp))) < 0)
        goto out;
    if (entry->is_booked) {
        struct civil_date end = next_day(&entry->booked);

        /* An all-day event: from the booked day to the next, not taking up the day's time. */
        if ((r = add_property(component, icalproperty_new_dtstart(ical_date(&entry->booked)))) <
                0 ||
            (r = add_property(component, icalproperty_new_dtend(ical_date(&end)))) < 0 ||
            (r = add_property(component, icalproperty_new_transp(ICAL_TRANSP_TRANSPARENT))) < 0)
            goto out;
    } else {
        if ((r = add_property(component, icalproperty_new_due(ical_date(&entry->due)))) < 0 ||
            (r = add_property(component, icalproperty_new_status(ICAL_STATUS_NEEDSACTION))) < 0)
            goto out;
    }
    if ((r = add_property(component, icalproperty_new_summary(summary))) < 0 ||
        (r = add_property(component, icalproperty_new_description(description))) < 0)
        goto out;
    if (policy != NULL && is_uri_text(policy) &&
        (r = add_property(component, icalproperty_new_url(policy))) < 0)
        goto out;
    icalcomponent_add_component(calendar, component);
    component = NULL;
    r = 0;
out:
    if (component != NULL)
        icalcomponent_free(component);
    free(description);
    free(summary);
    free(uid);
    free(policy);
    free(what);
    free(name);
    return r;
}

/* The VCALENDAR with its own properties; NULL when memory runs out. */
static icalcomponent *
new_calendar(const char *manager_name)
{
    icalcomponent *calendar = icalcomponent_new(ICAL_VCALENDAR_COMPONENT);
    char *clean = manager_name != NULL ? clean_text(manager_name) : NULL;
    char *title = NULL;
    icalproperty *name = NULL;
    int r = -ENOMEM;

    if (calendar == NULL || (manager_name != NULL && clean == NULL))
        goto out;
    title = clean != NULL && clean[0] != '\0' ? text_printf("Reviews to arrange: %s", clean)
                                              : text_printf("Reviews to arrange");
    if (title == NULL)
        goto out;
    if ((r = add_property(calendar, icalproperty_new_prodid(CALENDAR_PRODID))) < 0 ||
        (r = add_property(calendar, icalproperty_new_version("2.0"))) < 0 ||
        (r = add_property(calendar, icalproperty_new_calscale("GREGORIAN"))) < 0)
        goto out;
    /*
     * The name calendar programs show for an imported or subscribed file (a
     * de facto extension).  libical writes an x-property's value escaping
     * backslashes and line breaks but not commas, as the programs that read
     * it expect.
     */
    name = icalproperty_new_x(title);
    if (name == NULL) {
        r = -ENOMEM;
        goto out;
    }
    icalproperty_set_x_name(name, "X-WR-CALNAME");
    icalcomponent_add_property(calendar, name);
out:
    free(title);
    free(clean);
    if (r < 0 && calendar != NULL) {
        icalcomponent_free(calendar);
        calendar = NULL;
    }
    return calendar;
}

int
calendar_build(const cJSON *obligations, const char *manager_name, int64_t now_ms,
               const char *uid_domain, char **out, int *count, char *err, size_t err_size)
{
    struct calendar_entry *entries = NULL;
    icalcomponent *calendar = NULL;
    struct icaltimetype stamp;
    size_t total, kept = 0, position = 0;
    const cJSON *element;
    char *text = NULL;
    int r;

    if (out == NULL || count == NULL) {
        set_error(err, err_size, "nowhere to put the calendar");
        return -EINVAL;
    }
    *out = NULL;
    *count = 0;
    if (!cJSON_IsArray(obligations)) {
        set_error(err, err_size, "the obligations are not a list");
        return -EINVAL;
    }
    if (uid_domain == NULL || uid_domain[0] == '\0' || !is_uri_text(uid_domain)) {
        set_error(err, err_size, "the domain of the UIDs is empty or holds spaces");
        return -EINVAL;
    }
    if (now_ms < 0) {
        set_error(err, err_size, "the time is before 1970");
        return -EINVAL;
    }

    total = (size_t)cJSON_GetArraySize(obligations);
    entries = calloc(total > 0 ? total : 1, sizeof(*entries));
    if (entries == NULL) {
        r = -ENOMEM;
        goto out;
    }
    cJSON_ArrayForEach(element, obligations)
    {
        r = read_entry(element, position++, &entries[kept], err, err_size);
        if (r < 0)
            goto out;
        kept += (size_t)r;
    }
    if ((r = mark_duplicates(entries, kept)) < 0)
        goto out;

    calendar = new_calendar(manager_name);
    if (calendar == NULL) {
        r = -ENOMEM;
        goto out;
    }
    stamp =
        icaltime_from_timet_with_zone((time_t)(now_ms / 1000), 0, icaltimezone_get_utc_timezone());
    for (size_t i = 0; i < kept; i++) {
        if (entries[i].skipped)
            continue;
        if ((r = add_entry(calendar, &entries[i], uid_domain, stamp)) < 0)
            goto out;
        (*count)++;
    }

    text = icalcomponent_as_ical_string_r(calendar);
    if (text == NULL) {
        r = -ENOMEM;
        goto out;
    }
    /* The caller frees with free(), whatever allocator libical was built with. */
    *out = strdup(text);
    icalmemory_free_buffer(text);
    r = *out != NULL ? 0 : -ENOMEM;
out:
    if (r == -ENOMEM)
        set_error(err, err_size, "out of memory");
    if (r < 0)
        *count = 0;
    if (calendar != NULL)
        icalcomponent_free(calendar);
    free(entries);
    return r;
}

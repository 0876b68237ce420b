/*
 * Unit tests of clients/calendar: every calendar is read back with libical's
 * own parser (icalparser_parse_string) and each property checked; the raw
 * text is checked for what the parser hides (CRLF line ends, folding at 75
 * octets, VALUE=DATE).
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
#include <libical/ical.h>

#include "calendar.h"
#include "wire.h"

#define DOMAIN "rosewood.example"
/* Monday 2026-03-09 09:00:00.250 UTC. */
#define NOW_MS 1773046800250LL
#define NOW_STAMP "20260309T090000Z"

/* ---- building input ---- */

/* An open obligation as the due op lists it; booked may be NULL. */
static cJSON *
obligation(double id, const char *staff_id, const char *name, const char *what, const char *due,
           const char *booked)
{
    cJSON *o = cJSON_CreateObject();

    assert_non_null(o);
    assert_non_null(cJSON_AddNumberToObject(o, "obligation_id", id));
    assert_non_null(cJSON_AddStringToObject(o, "staff_id", staff_id));
    if (name != NULL)
        assert_non_null(cJSON_AddStringToObject(o, "name", name));
    assert_non_null(cJSON_AddStringToObject(o, "kind", "supervision"));
    assert_non_null(cJSON_AddStringToObject(o, "what", what));
    assert_non_null(cJSON_AddNullToObject(o, "item"));
    assert_non_null(cJSON_AddNullToObject(o, "step"));
    assert_non_null(cJSON_AddStringToObject(o, "due", due));
    if (booked != NULL)
        assert_non_null(cJSON_AddStringToObject(o, "booked", booked));
    else
        assert_non_null(cJSON_AddNullToObject(o, "booked"));
    assert_non_null(cJSON_AddStringToObject(o, "state", "open"));
    assert_non_null(cJSON_AddNumberToObject(o, "days_until_due", 5));
    assert_non_null(cJSON_AddNullToObject(o, "responsible_id"));
    return o;
}

/* The same, overdue: days_overdue instead of days_until_due. */
static cJSON *
overdue_obligation(double id, const char *staff_id, const char *name, const char *what,
                   const char *due, const char *booked, double days_overdue)
{
    cJSON *o = obligation(id, staff_id, name, what, due, booked);

    cJSON_DeleteItemFromObjectCaseSensitive(o, "days_until_due");
    assert_non_null(cJSON_AddNumberToObject(o, "days_overdue", days_overdue));
    return o;
}

static cJSON *
list_of(cJSON *first, ...)
{
    cJSON *list = cJSON_CreateArray();
    va_list args;

    assert_non_null(list);
    va_start(args, first);
    for (cJSON *item = first; item != NULL; item = va_arg(args, cJSON *))
        cJSON_AddItemToArray(list, item);
    va_end(args);
    return list;
}

static void
set_string(cJSON *object, const char *member, const char *value)
{
    cJSON_DeleteItemFromObjectCaseSensitive(object, member);
    assert_non_null(cJSON_AddStringToObject(object, member, value));
}

/* ---- reading output ---- */

/* A successful calendar_build(): the text, its count in *count. */
static char *
build(const cJSON *list, const char *manager_name, int64_t now_ms, int *count)
{
    char err[256] = "", *text = NULL;
    int r = calendar_build(list, manager_name, now_ms, DOMAIN, &text, count, err, sizeof(err));

    if (r != 0)
        fail_msg("calendar_build: %d: %s", r, err);
    assert_non_null(text);
    return text;
}

/* The text parsed by libical: a VCALENDAR, the caller's to icalcomponent_free(). */
static icalcomponent *
parse(const char *text)
{
    icalcomponent *calendar = icalparser_parse_string(text);

    assert_non_null(calendar);
    assert_int_equal(icalcomponent_isa(calendar), ICAL_VCALENDAR_COMPONENT);
    return calendar;
}

static int
count_properties(icalcomponent *component, icalproperty_kind kind)
{
    int n = 0;

    for (icalproperty *p = icalcomponent_get_first_property(component, kind); p != NULL;
         p = icalcomponent_get_next_property(component, kind))
        n++;
    return n;
}

/* The one property of that kind; fails unless there is exactly one. */
static icalproperty *
only_property(icalcomponent *component, icalproperty_kind kind)
{
    assert_int_equal(count_properties(component, kind), 1);
    return icalcomponent_get_first_property(component, kind);
}

/* The component (VEVENT or VTODO) with that UID, or NULL. */
static icalcomponent *
find_uid(icalcomponent *calendar, const char *uid)
{
    for (icalcomponent *c = icalcomponent_get_first_component(calendar, ICAL_ANY_COMPONENT);
         c != NULL; c = icalcomponent_get_next_component(calendar, ICAL_ANY_COMPONENT)) {
        icalproperty *p = icalcomponent_get_first_property(c, ICAL_UID_PROPERTY);

        if (p != NULL && strcmp(icalproperty_get_uid(p), uid) == 0)
            return c;
    }
    return NULL;
}

static void
assert_date(struct icaltimetype value, int year, int month, int day)
{
    assert_true(value.is_date);
    assert_int_equal(value.year, year);
    assert_int_equal(value.month, month);
    assert_int_equal(value.day, day);
}

/* The X-WR-CALNAME's value. */
static const char *
calendar_name(icalcomponent *calendar)
{
    for (icalproperty *p = icalcomponent_get_first_property(calendar, ICAL_X_PROPERTY); p != NULL;
         p = icalcomponent_get_next_property(calendar, ICAL_X_PROPERTY))
        if (strcmp(icalproperty_get_x_name(p), "X-WR-CALNAME") == 0)
            return icalproperty_get_x(p);
    return NULL;
}

/* True when text holds needle as a whole line (CRLF-ended). */
static bool
has_line(const char *text, const char *line)
{
    size_t length = strlen(line);
    size_t size = strlen(text);

    /* Offsets rather than pointers: gcc 12 at -O2 takes a moving pointer for a dangling one. */
    for (size_t at = 0; at + length + 2 <= size; at++)
        if ((at == 0 || text[at - 1] == '\n') && memcmp(text + at, line, length) == 0 &&
            memcmp(text + at + length, "\r\n", 2) == 0)
            return true;
    return false;
}

/* text with the folding undone (RFC 5545, 3.1: CRLF and one space or tab), the caller's. */
static char *
unfold(const char *text)
{
    char *copy = strdup(text);
    size_t used = 0;

    assert_non_null(copy);
    for (const char *p = text; *p != '\0'; p++) {
        if (p[0] == '\r' && p[1] == '\n' && (p[2] == ' ' || p[2] == '\t')) {
            p += 2;
            continue;
        }
        copy[used++] = *p;
    }
    copy[used] = '\0';
    return copy;
}

/* Every line ends CRLF, holds no bare CR or LF, and is at most 75 octets. */
static void
assert_lines_well_formed(const char *text)
{
    const char *line = text;

    assert_true(strlen(text) >= 2);
    assert_memory_equal(text + strlen(text) - 2, "\r\n", 2);
    while (*line != '\0') {
        const char *end = strstr(line, "\r\n");

        assert_non_null(end);
        for (const char *p = line; p < end; p++)
            assert_true(*p != '\r' && *p != '\n');
        if (end - line > 75)
            fail_msg("a line of %d octets: %.*s", (int)(end - line), (int)(end - line), line);
        assert_true(wire_utf8_valid(line, (size_t)(end - line))); /* not cut inside a character */
        line = end + 2;
    }
}

static int
count_components(icalcomponent *calendar, icalcomponent_kind kind)
{
    return icalcomponent_count_components(calendar, kind);
}

/* ---- tests ---- */

static void
test_calendar_properties(void **state)
{
    (void)state;
    cJSON *list = list_of(NULL, NULL);
    int count = -1;
    char *text = build(list, "Tom Reilly", NOW_MS, &count);
    icalcomponent *calendar = parse(text);

    assert_int_equal(count, 0);
    assert_string_equal(icalproperty_get_version(only_property(calendar, ICAL_VERSION_PROPERTY)),
                        "2.0");
    assert_string_equal(icalproperty_get_prodid(only_property(calendar, ICAL_PRODID_PROPERTY)),
                        "-//carehub//carehub " CAREHUB_VERSION "//EN");
    assert_string_equal(icalproperty_get_calscale(only_property(calendar, ICAL_CALSCALE_PROPERTY)),
                        "GREGORIAN");
    assert_string_equal(calendar_name(calendar), "Reviews to arrange: Tom Reilly");
    assert_int_equal(count_components(calendar, ICAL_ANY_COMPONENT), 0);
    assert_memory_equal(text, "BEGIN:VCALENDAR\r\n", 17);
    assert_true(has_line(text, "VERSION:2.0"));
    assert_true(has_line(text, "END:VCALENDAR"));
    assert_lines_well_formed(text);
    icalcomponent_free(calendar);
    free(text);

    /* No manager name: a name all the same. */
    text = build(list, NULL, NOW_MS, &count);
    calendar = parse(text);
    assert_string_equal(calendar_name(calendar), "Reviews to arrange");
    icalcomponent_free(calendar);
    free(text);
    cJSON_Delete(list);
}

static void
test_booked_is_an_all_day_event(void **state)
{
    (void)state;
    cJSON *list = list_of(
        obligation(115, "S005", "Marek Nowak", "Supervision", "2026-03-21", "2026-03-14"), NULL);
    int count = -1;
    char *text = build(list, "Tom Reilly", NOW_MS, &count);
    icalcomponent *calendar = parse(text);
    icalcomponent *event;

    assert_int_equal(count, 1);
    assert_int_equal(count_components(calendar, ICAL_VEVENT_COMPONENT), 1);
    assert_int_equal(count_components(calendar, ICAL_VTODO_COMPONENT), 0);
    event = find_uid(calendar, "carehub-obligation-115@" DOMAIN);
    assert_non_null(event);
    assert_int_equal(icalcomponent_isa(event), ICAL_VEVENT_COMPONENT);
    assert_date(icalproperty_get_dtstart(only_property(event, ICAL_DTSTART_PROPERTY)), 2026, 3, 14);
    assert_date(icalproperty_get_dtend(only_property(event, ICAL_DTEND_PROPERTY)), 2026, 3, 15);
    assert_int_equal(count_properties(event, ICAL_DUE_PROPERTY), 0);
    assert_int_equal(count_properties(event, ICAL_URL_PROPERTY), 0);
    assert_int_equal(icalproperty_get_transp(only_property(event, ICAL_TRANSP_PROPERTY)),
                     ICAL_TRANSP_TRANSPARENT);
    assert_string_equal(icalproperty_get_summary(only_property(event, ICAL_SUMMARY_PROPERTY)),
                        "Supervision: Marek Nowak");
    assert_string_equal(
        icalproperty_get_description(only_property(event, ICAL_DESCRIPTION_PROPERTY)),
        "Supervision for Marek Nowak (S005).\n"
        "It is booked for Saturday 14 March 2026, and must be done by Saturday 21 March 2026.\n"
        "Once it is done, record it as usual, and the reminders about it stop.");
    assert_string_equal(icaltime_as_ical_string(
                            icalproperty_get_dtstamp(only_property(event, ICAL_DTSTAMP_PROPERTY))),
                        NOW_STAMP);
    assert_true(icaltime_is_utc(
        icalproperty_get_dtstamp(icalcomponent_get_first_property(event, ICAL_DTSTAMP_PROPERTY))));

    /* The text itself: all-day values say so, and DTSTAMP is UTC. */
    assert_true(has_line(text, "DTSTART;VALUE=DATE:20260314"));
    assert_true(has_line(text, "DTEND;VALUE=DATE:20260315"));
    assert_true(has_line(text, "DTSTAMP:" NOW_STAMP));
    assert_true(has_line(text, "UID:carehub-obligation-115@" DOMAIN));
    assert_true(has_line(text, "BEGIN:VEVENT"));
    assert_lines_well_formed(text);
    icalcomponent_free(calendar);
    free(text);
    cJSON_Delete(list);
}

/* DTEND is the next day across month, year and leap-day ends. */
static void
test_event_ends_the_next_day(void **state)
{
    (void)state;
    static const struct {
        const char *booked;
        int year, month, day;
    } cases[] = {
        {"2026-12-31", 2027, 1, 1}, {"2028-02-28", 2028, 2, 29}, {"2028-02-29", 2028, 3, 1},
        {"2027-02-28", 2027, 3, 1}, {"2026-04-30", 2026, 5, 1},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cJSON *list = list_of(
            obligation(7, "S1", "Cara Jones", "Appraisal", "2030-01-01", cases[i].booked), NULL);
        int count;
        char *text = build(list, NULL, NOW_MS, &count);
        icalcomponent *calendar = parse(text);
        icalcomponent *event = icalcomponent_get_first_component(calendar, ICAL_VEVENT_COMPONENT);

        assert_non_null(event);
        assert_date(icalproperty_get_dtend(only_property(event, ICAL_DTEND_PROPERTY)),
                    cases[i].year, cases[i].month, cases[i].day);
        icalcomponent_free(calendar);
        free(text);
        cJSON_Delete(list);
    }
}

static void
test_unbooked_is_a_todo(void **state)
{
    (void)state;
    cJSON *list = list_of(
        obligation(139, "S004", "Ellen Hughes", "Fire safety training renewal", "2026-03-14", NULL),
        NULL);
    int count = -1;
    char *text = build(list, "Tom Reilly", NOW_MS, &count);
    icalcomponent *calendar = parse(text);
    icalcomponent *todo = find_uid(calendar, "carehub-obligation-139@" DOMAIN);

    assert_int_equal(count, 1);
    assert_int_equal(count_components(calendar, ICAL_VEVENT_COMPONENT), 0);
    assert_int_equal(count_components(calendar, ICAL_VTODO_COMPONENT), 1);
    assert_non_null(todo);
    assert_int_equal(icalcomponent_isa(todo), ICAL_VTODO_COMPONENT);
    assert_date(icalproperty_get_due(only_property(todo, ICAL_DUE_PROPERTY)), 2026, 3, 14);
    assert_int_equal(count_properties(todo, ICAL_DTSTART_PROPERTY), 0);
    assert_int_equal(count_properties(todo, ICAL_DTEND_PROPERTY), 0);
    assert_int_equal(icalproperty_get_status(only_property(todo, ICAL_STATUS_PROPERTY)),
                     ICAL_STATUS_NEEDSACTION);
    assert_string_equal(icalproperty_get_summary(only_property(todo, ICAL_SUMMARY_PROPERTY)),
                        "Fire safety training renewal: Ellen Hughes");
    assert_string_equal(
        icalproperty_get_description(only_property(todo, ICAL_DESCRIPTION_PROPERTY)),
        "Fire safety training renewal for Ellen Hughes (S004).\n"
        "It must be done by Saturday 14 March 2026. It is not booked yet: choose a date before "
        "then.\n"
        "Once it is done, record it as usual, and the reminders about it stop.");
    assert_string_equal(icaltime_as_ical_string(
                            icalproperty_get_dtstamp(only_property(todo, ICAL_DTSTAMP_PROPERTY))),
                        NOW_STAMP);
    assert_true(has_line(text, "DUE;VALUE=DATE:20260314"));
    assert_true(has_line(text, "BEGIN:VTODO"));
    assert_lines_well_formed(text);
    icalcomponent_free(calendar);
    free(text);
    cJSON_Delete(list);
}

/* Overdue and not booked: a to-do still, due on its due date (shown late); booked: an event. */
static void
test_overdue(void **state)
{
    (void)state;
    cJSON *list = list_of(
        overdue_obligation(114, "S004", "Ellen Hughes", "Supervision", "2026-03-01", NULL, 8),
        overdue_obligation(120, "S006", "Aisha Bello", "Appraisal", "2026-03-05", "2026-03-02", 7),
        NULL);
    int count = -1;
    char *text = build(list, "Tom Reilly", NOW_MS, &count);
    icalcomponent *calendar = parse(text);
    icalcomponent *todo = find_uid(calendar, "carehub-obligation-114@" DOMAIN);
    icalcomponent *event = find_uid(calendar, "carehub-obligation-120@" DOMAIN);

    assert_int_equal(count, 2);
    assert_non_null(todo);
    assert_non_null(event);
    assert_int_equal(icalcomponent_isa(todo), ICAL_VTODO_COMPONENT);
    assert_int_equal(icalcomponent_isa(event), ICAL_VEVENT_COMPONENT);
    assert_date(icalproperty_get_due(only_property(todo, ICAL_DUE_PROPERTY)), 2026, 3, 1);
    assert_string_equal(
        icalproperty_get_description(only_property(todo, ICAL_DESCRIPTION_PROPERTY)),
        "Supervision for Ellen Hughes (S004).\n"
        "It was due by Sunday 1 March 2026 and is overdue: arrange it as soon as you can.\n"
        "Once it is done, record it as usual, and the reminders about it stop.");
    assert_date(icalproperty_get_dtstart(only_property(event, ICAL_DTSTART_PROPERTY)), 2026, 3, 2);
    assert_string_equal(
        icalproperty_get_description(only_property(event, ICAL_DESCRIPTION_PROPERTY)),
        "Appraisal for Aisha Bello (S006).\n"
        "It was booked for Monday 2 March 2026, was due by Thursday 5 March 2026, and is now "
        "overdue: if it has not happened, arrange it as soon as you can.\n"
        "Once it is done, record it as usual, and the reminders about it stop.");
    icalcomponent_free(calendar);
    free(text);
    cJSON_Delete(list);
}

/* Only open obligations; an element without a state is taken as open. */
static void
test_not_open_left_out(void **state)
{
    (void)state;
    static const char *const closed[] = {"completed", "waived", "cancelled", "missed", "paused"};
    cJSON *list =
        list_of(obligation(1, "S1", "Cara Jones", "Supervision", "2026-03-20", NULL), NULL);
    cJSON *stateless = obligation(2, "S2", "Dev Patel", "Supervision", "2026-03-21", NULL);
    int count = -1;
    char *text;
    icalcomponent *calendar;

    for (size_t i = 0; i < sizeof(closed) / sizeof(closed[0]); i++) {
        cJSON *o = obligation(10 + (double)i, "S3", "Eve Adams", "Supervision", "2026-03-22",
                              i % 2 ? "2026-03-15" : NULL);

        set_string(o, "state", closed[i]);
        cJSON_AddItemToArray(list, o);
    }
    cJSON_DeleteItemFromObjectCaseSensitive(stateless, "state");
    cJSON_AddItemToArray(list, stateless);

    text = build(list, NULL, NOW_MS, &count);
    calendar = parse(text);
    assert_int_equal(count, 2);
    assert_int_equal(count_components(calendar, ICAL_ANY_COMPONENT), 2);
    assert_non_null(find_uid(calendar, "carehub-obligation-1@" DOMAIN));
    assert_non_null(find_uid(calendar, "carehub-obligation-2@" DOMAIN));
    assert_null(strstr(text, "Eve Adams"));
    icalcomponent_free(calendar);
    free(text);
    cJSON_Delete(list);
}

/* An obligation listed twice (due and overdue merged, say) appears once: the first copy. */
static void
test_duplicates_once(void **state)
{
    (void)state;
    cJSON *list = list_of(
        obligation(5, "S1", "Cara Jones", "Supervision", "2026-03-20", NULL),
        obligation(6, "S2", "Dev Patel", "Supervision", "2026-03-21", "2026-03-18"),
        obligation(5, "S1", "Cara Jones (second copy)", "Supervision", "2026-03-20", NULL),
        obligation(6, "S2", "Dev Patel", "Supervision", "2026-03-21", "2026-03-18"),
        obligation(5, "S1", "Cara Jones (third copy)", "Supervision", "2026-03-20", NULL), NULL);
    int count = -1;
    char *text = build(list, NULL, NOW_MS, &count);
    icalcomponent *calendar = parse(text);
    icalcomponent *first = find_uid(calendar, "carehub-obligation-5@" DOMAIN);

    assert_int_equal(count, 2);
    assert_int_equal(count_components(calendar, ICAL_VTODO_COMPONENT), 1);
    assert_int_equal(count_components(calendar, ICAL_VEVENT_COMPONENT), 1);
    assert_non_null(first);
    assert_string_equal(icalproperty_get_summary(only_property(first, ICAL_SUMMARY_PROPERTY)),
                        "Supervision: Cara Jones");
    assert_null(strstr(text, "copy"));
    icalcomponent_free(calendar);
    free(text);
    cJSON_Delete(list);
}

/* A long list with many repeats: each once, in the order first given. */
static void
test_many_duplicates(void **state)
{
    (void)state;
    cJSON *list = cJSON_CreateArray();
    int count = -1;
    char *text;
    icalcomponent *calendar;
    const char *previous;

    assert_non_null(list);
    for (int i = 0; i < 3000; i++)
        cJSON_AddItemToArray(list, obligation(1000 - (i % 1000), "S1", "Cara Jones", "Supervision",
                                              "2026-03-20", NULL));
    text = build(list, NULL, NOW_MS, &count);
    calendar = parse(text);
    assert_int_equal(count, 1000);
    assert_int_equal(count_components(calendar, ICAL_VTODO_COMPONENT), 1000);
    /* The input's order: 1000, 999, ... 1. */
    previous = strstr(text, "UID:carehub-obligation-1000@");
    assert_non_null(previous);
    assert_true(strstr(text, "UID:carehub-obligation-999@") > previous);
    icalcomponent_free(calendar);
    free(text);
    cJSON_Delete(list);
}

/* The UID depends on the obligation alone: not on the time, the order, the others or booking. */
static void
test_uid_stable(void **state)
{
    (void)state;
    cJSON *before =
        list_of(obligation(42, "S1", "Cara Jones", "Supervision", "2026-03-20", NULL),
                obligation(43, "S2", "Dev Patel", "Appraisal", "2026-04-01", NULL), NULL);
    cJSON *after = list_of(
        obligation(44, "S3", "Eve Adams", "Supervision", "2026-03-25", NULL),
        obligation(43, "S2", "Dev Patel", "Appraisal", "2026-04-01", NULL),
        obligation(42, "S1", "Cara Jones", "Supervision", "2026-03-20", "2026-03-16"), NULL);
    int count;
    char *text1 = build(before, "Tom Reilly", NOW_MS, &count);
    char *text2 = build(after, "Tom Reilly", NOW_MS + 7 * 86400000LL, &count);
    icalcomponent *calendar1 = parse(text1), *calendar2 = parse(text2);
    icalcomponent *c;

    /* Booked since: the to-do has become an event with the same UID, so it is replaced. */
    c = find_uid(calendar1, "carehub-obligation-42@" DOMAIN);
    assert_non_null(c);
    assert_int_equal(icalcomponent_isa(c), ICAL_VTODO_COMPONENT);
    c = find_uid(calendar2, "carehub-obligation-42@" DOMAIN);
    assert_non_null(c);
    assert_int_equal(icalcomponent_isa(c), ICAL_VEVENT_COMPONENT);
    assert_non_null(find_uid(calendar1, "carehub-obligation-43@" DOMAIN));
    assert_non_null(find_uid(calendar2, "carehub-obligation-43@" DOMAIN));
    assert_non_null(find_uid(calendar2, "carehub-obligation-44@" DOMAIN));
    assert_null(find_uid(calendar1, "carehub-obligation-44@" DOMAIN));
    /* The same input at the same time gives the same text, byte for byte. */
    free(text2);
    text2 = build(before, "Tom Reilly", NOW_MS, &count);
    assert_string_equal(text1, text2);
    icalcomponent_free(calendar1);
    icalcomponent_free(calendar2);
    free(text1);
    free(text2);
    cJSON_Delete(before);
    cJSON_Delete(after);
}

/* Builds from list and expects -EINVAL with a message holding needle, and nothing out. */
static void
assert_refused(const cJSON *list, const char *domain, const char *needle)
{
    char err[256] = "", *text = (char *)"untouched";
    int count = 99;
    int r = calendar_build(list, "Tom Reilly", NOW_MS, domain, &text, &count, err, sizeof(err));

    assert_int_equal(r, -EINVAL);
    assert_null(text);
    assert_int_equal(count, 0);
    if (strstr(err, needle) == NULL)
        fail_msg("the message \"%s\" does not say \"%s\"", err, needle);
}

static void
test_missing_fields(void **state)
{
    (void)state;
    static const char *const required[] = {"obligation_id", "staff_id", "what", "due"};

    for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
        cJSON *list =
            list_of(obligation(1, "S1", "Cara Jones", "Supervision", "2026-03-20", NULL),
                    obligation(2, "S2", "Dev Patel", "Supervision", "2026-03-21", NULL), NULL);

        cJSON_DeleteItemFromObjectCaseSensitive(cJSON_GetArrayItem(list, 1), required[i]);
        assert_refused(list, DOMAIN, required[i]);
        assert_refused(list, DOMAIN, "item 2");
        /* null, empty or of the wrong type is as bad as missing. */
        cJSON_AddItemToObject(cJSON_GetArrayItem(list, 1), required[i],
                              i == 0 ? cJSON_CreateString("2") : cJSON_CreateString(""));
        assert_refused(list, DOMAIN, required[i]);
        cJSON_DeleteItemFromObjectCaseSensitive(cJSON_GetArrayItem(list, 1), required[i]);
        cJSON_AddItemToObject(cJSON_GetArrayItem(list, 1), required[i], cJSON_CreateNull());
        assert_refused(list, DOMAIN, required[i]);
        cJSON_Delete(list);
    }
}

static void
test_malformed_input(void **state)
{
    (void)state;
    static const char *const bad_dates[] = {
        "2026-02-30", "2026-3-01", "20260301", "tomorrow", "2026-03-01T00:00:00Z", ""};
    static const double bad_ids[] = {0, -3, 1.5, 1e300};
    cJSON *list;
    cJSON *object = cJSON_CreateObject();
    char *text = NULL;
    int count = 0;

    for (size_t i = 0; i < sizeof(bad_dates) / sizeof(bad_dates[0]); i++) {
        list = list_of(obligation(3, "S1", "Cara Jones", "Supervision", bad_dates[i], NULL), NULL);
        assert_refused(list, DOMAIN, "\"due\"");
        cJSON_Delete(list);
        list = list_of(obligation(3, "S1", "Cara Jones", "Supervision", "2026-03-01", bad_dates[i]),
                       NULL);
        assert_refused(list, DOMAIN, "\"booked\"");
        assert_refused(list, DOMAIN, "obligation 3");
        cJSON_Delete(list);
    }
    for (size_t i = 0; i < sizeof(bad_ids) / sizeof(bad_ids[0]); i++) {
        list = list_of(
            obligation(bad_ids[i], "S1", "Cara Jones", "Supervision", "2026-03-01", NULL), NULL);
        assert_refused(list, DOMAIN, "obligation_id");
        cJSON_Delete(list);
    }
    /* booked must be a date or null. */
    list = list_of(obligation(3, "S1", "Cara Jones", "Supervision", "2026-03-01", NULL), NULL);
    cJSON_DeleteItemFromObjectCaseSensitive(cJSON_GetArrayItem(list, 0), "booked");
    cJSON_AddNumberToObject(cJSON_GetArrayItem(list, 0), "booked", 20260301);
    assert_refused(list, DOMAIN, "\"booked\"");
    cJSON_Delete(list);
    /* A state that is not a string. */
    list = list_of(obligation(3, "S1", "Cara Jones", "Supervision", "2026-03-01", NULL), NULL);
    cJSON_DeleteItemFromObjectCaseSensitive(cJSON_GetArrayItem(list, 0), "state");
    cJSON_AddTrueToObject(cJSON_GetArrayItem(list, 0), "state");
    assert_refused(list, DOMAIN, "\"state\"");
    cJSON_Delete(list);
    /* Not a list; an element that is not an object; no domain. */
    assert_refused(object, DOMAIN, "not a list");
    assert_refused(NULL, DOMAIN, "not a list");
    list = list_of(cJSON_CreateString("S1"), NULL);
    assert_refused(list, DOMAIN, "item 1 of the obligations is not an object");
    cJSON_Delete(list);
    list = list_of(NULL, NULL);
    assert_refused(list, "", "domain");
    assert_refused(list, NULL, "domain");
    assert_refused(list, "two words", "domain");
    /* No error buffer: still refused, nothing written. */
    assert_int_equal(calendar_build(object, NULL, NOW_MS, DOMAIN, &text, &count, NULL, 0), -EINVAL);
    assert_null(text);
    assert_int_equal(calendar_build(list, NULL, -1, DOMAIN, &text, &count, NULL, 0), -EINVAL);
    assert_int_equal(calendar_build(list, NULL, NOW_MS, DOMAIN, NULL, &count, NULL, 0), -EINVAL);
    cJSON_Delete(list);
    cJSON_Delete(object);
}

/* The last day a calendar can hold: an event on it would end in year 10000. */
static void
test_booked_on_the_last_day(void **state)
{
    (void)state;
    cJSON *list =
        list_of(obligation(3, "S1", "Cara Jones", "Supervision", "9999-12-31", "9999-12-31"), NULL);

    assert_refused(list, DOMAIN, "too late");
    cJSON_Delete(list);
}

/* CRLF everywhere; long lines folded at 75 octets and unfolded back to the same text. */
static void
test_crlf_and_folding(void **state)
{
    (void)state;
    static const char long_what[] =
        "Agree a written plan for the safe use of the new ceiling hoist in every room of the "
        "east wing, with the physiotherapist and the night team";
    static const char escaped_line[] =
        "SUMMARY:Agree a written plan for the safe use of the new ceiling hoist in every room of "
        "the east wing\\, with the physiotherapist and the night team: Cara Jones";
    cJSON *list = list_of(obligation(77, "S1", "Cara Jones", long_what, "2026-03-20", NULL), NULL);
    int count;
    char *text = build(list, "Tom Reilly", NOW_MS, &count);
    char *unfolded = unfold(text);
    icalcomponent *calendar = parse(text);
    icalcomponent *todo = icalcomponent_get_first_component(calendar, ICAL_VTODO_COMPONENT);
    char expected[512];

    assert_lines_well_formed(text);
    /* Folded, and whole again when unfolded (with its comma escaped). */
    assert_false(has_line(text, escaped_line));
    assert_true(has_line(unfolded, escaped_line));
    assert_non_null(strstr(text, "\r\n ")); /* a continuation line */
    snprintf(expected, sizeof(expected), "%s: Cara Jones", long_what);
    assert_string_equal(icalproperty_get_summary(only_property(todo, ICAL_SUMMARY_PROPERTY)),
                        expected);
    icalcomponent_free(calendar);
    free(unfolded);
    free(text);
    cJSON_Delete(list);
}

/* Names in any script survive, also when a fold falls among multi-byte characters. */
static void
test_utf8_names(void **state)
{
    (void)state;
    static const char *const names[] = {
        "Zoë Łukasz-Żółć",
        "山田 太郎",
        "Siobhán Ní Bhriain",
        "Ångström Ødegård Æsir ÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅ",
        "😀 emoji-named 😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀",
    };

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        cJSON *list =
            list_of(obligation(9, "S9", names[i], "Supervision", "2026-03-20", "2026-03-18"), NULL);
        int count;
        char *text = build(list, names[i], NOW_MS, &count);
        icalcomponent *calendar = parse(text);
        icalcomponent *event = icalcomponent_get_first_component(calendar, ICAL_VEVENT_COMPONENT);
        char expected[512];

        assert_lines_well_formed(text);
        snprintf(expected, sizeof(expected), "Supervision: %s", names[i]);
        assert_string_equal(icalproperty_get_summary(only_property(event, ICAL_SUMMARY_PROPERTY)),
                            expected);
        snprintf(expected, sizeof(expected), "Reviews to arrange: %s", names[i]);
        assert_string_equal(calendar_name(calendar), expected);
        snprintf(expected, sizeof(expected), "Supervision for %s (S9).", names[i]);
        assert_non_null(
            strstr(icalproperty_get_description(only_property(event, ICAL_DESCRIPTION_PROPERTY)),
                   expected));
        icalcomponent_free(calendar);
        free(text);
        cJSON_Delete(list);
    }
}

/*
 * TEXT's special characters are escaped by libical and read back as they
 * were; control characters (a line break in a name from an HR system) become
 * spaces, and bytes that are not UTF-8 become '?'.
 */
static void
test_text_is_escaped_and_cleaned(void **state)
{
    (void)state;
    cJSON *list = list_of(
        obligation(8, "S8", "O'Neil, Mary; \"Mo\" \\ Jr", "Week 4 check-in", "2026-03-20", NULL),
        obligation(9, "S9",
                   "Line\nbreak\r\tand\x01"
                   "bell\x7f",
                   "Supervision", "2026-03-20", NULL),
        obligation(10, "S10", "Bad \xC3 byte \xFF\xFE end", "Supervision", "2026-03-20", NULL),
        NULL);
    int count;
    char *text = build(list, "Tom, Reilly\nII", NOW_MS, &count);
    icalcomponent *calendar = parse(text);

    assert_lines_well_formed(text);
    assert_non_null(strstr(text, "SUMMARY:Week 4 check-in: O'Neil\\, Mary\\; \"Mo\" \\\\ Jr\r\n"));
    assert_string_equal(
        icalproperty_get_summary(only_property(find_uid(calendar, "carehub-obligation-8@" DOMAIN),
                                               ICAL_SUMMARY_PROPERTY)),
        "Week 4 check-in: O'Neil, Mary; \"Mo\" \\ Jr");
    assert_string_equal(
        icalproperty_get_summary(only_property(find_uid(calendar, "carehub-obligation-9@" DOMAIN),
                                               ICAL_SUMMARY_PROPERTY)),
        "Supervision: Line break  and bell");
    assert_string_equal(
        icalproperty_get_summary(only_property(find_uid(calendar, "carehub-obligation-10@" DOMAIN),
                                               ICAL_SUMMARY_PROPERTY)),
        "Supervision: Bad ? byte ?? end");
    assert_string_equal(calendar_name(calendar), "Reviews to arrange: Tom, Reilly II");
    icalcomponent_free(calendar);
    free(text);
    cJSON_Delete(list);
}

/* The kind's policy link: a URL property and the description's last line. */
static void
test_policy_link(void **state)
{
    (void)state;
    cJSON *with = obligation(21, "S1", "Cara Jones", "Supervision", "2026-03-20", NULL);
    cJSON *spaced = obligation(22, "S2", "Dev Patel", "Supervision", "2026-03-20", "2026-03-19");
    cJSON *list;
    int count;
    char *text;
    icalcomponent *calendar, *c;
    const char *description;

    set_string(with, "policy", "https://intranet.rosewood.example/policies/supervision.pdf");
    set_string(spaced, "policy", "see the staff handbook");
    list = list_of(with, spaced, NULL);
    text = build(list, NULL, NOW_MS, &count);
    calendar = parse(text);

    c = find_uid(calendar, "carehub-obligation-21@" DOMAIN);
    assert_string_equal(icalproperty_get_url(only_property(c, ICAL_URL_PROPERTY)),
                        "https://intranet.rosewood.example/policies/supervision.pdf");
    description = icalproperty_get_description(only_property(c, ICAL_DESCRIPTION_PROPERTY));
    assert_non_null(strstr(description,
                           "\nYour organisation's policy: "
                           "https://intranet.rosewood.example/policies/supervision.pdf"));
    /* Not a link: no URL, but still said in the description. */
    c = find_uid(calendar, "carehub-obligation-22@" DOMAIN);
    assert_int_equal(count_properties(c, ICAL_URL_PROPERTY), 0);
    description = icalproperty_get_description(only_property(c, ICAL_DESCRIPTION_PROPERTY));
    assert_non_null(strstr(description, "\nYour organisation's policy: see the staff handbook"));
    assert_lines_well_formed(text);
    icalcomponent_free(calendar);
    free(text);
    cJSON_Delete(list);
}

/* No name: the staff id stands in for it. */
static void
test_name_missing(void **state)
{
    (void)state;
    cJSON *list = list_of(obligation(31, "S031", NULL, "Supervision", "2026-03-20", NULL), NULL);
    int count;
    char *text = build(list, NULL, NOW_MS, &count);
    icalcomponent *calendar = parse(text);
    icalcomponent *todo = icalcomponent_get_first_component(calendar, ICAL_VTODO_COMPONENT);

    assert_string_equal(icalproperty_get_summary(only_property(todo, ICAL_SUMMARY_PROPERTY)),
                        "Supervision: S031");
    icalcomponent_free(calendar);
    free(text);
    cJSON_Delete(list);
}

/* A mixed list: counts and kinds, every component with each property it must have once. */
static void
test_mixed_list(void **state)
{
    (void)state;
    cJSON *list = list_of(
        obligation(1, "S1", "Cara Jones", "Supervision", "2026-03-20", "2026-03-16"),
        obligation(2, "S2", "Dev Patel", "Week 4 check-in", "2026-03-21", NULL),
        overdue_obligation(3, "S3", "Eve Adams", "Supervision", "2026-03-01", NULL, 8),
        obligation(4, "S4", "Femi Adeyemi", "Appraisal", "2026-03-30", "2026-03-27"),
        obligation(5, "S5", "Gus Hill", "Moving and handling training renewal", "2026-04-02", NULL),
        NULL);
    int count;
    char *text = build(list, "Tom Reilly", NOW_MS, &count);
    icalcomponent *calendar = parse(text);

    assert_int_equal(count, 5);
    assert_int_equal(count_components(calendar, ICAL_VEVENT_COMPONENT), 2);
    assert_int_equal(count_components(calendar, ICAL_VTODO_COMPONENT), 3);
    for (icalcomponent *c = icalcomponent_get_first_component(calendar, ICAL_ANY_COMPONENT);
         c != NULL; c = icalcomponent_get_next_component(calendar, ICAL_ANY_COMPONENT)) {
        bool event = icalcomponent_isa(c) == ICAL_VEVENT_COMPONENT;

        assert_int_equal(count_properties(c, ICAL_UID_PROPERTY), 1);
        assert_int_equal(count_properties(c, ICAL_DTSTAMP_PROPERTY), 1);
        assert_int_equal(count_properties(c, ICAL_SUMMARY_PROPERTY), 1);
        assert_int_equal(count_properties(c, ICAL_DESCRIPTION_PROPERTY), 1);
        assert_int_equal(count_properties(c, ICAL_DTSTART_PROPERTY), event ? 1 : 0);
        assert_int_equal(count_properties(c, ICAL_DTEND_PROPERTY), event ? 1 : 0);
        assert_int_equal(count_properties(c, ICAL_DUE_PROPERTY), event ? 0 : 1);
        assert_int_equal(count_properties(c, ICAL_STATUS_PROPERTY), event ? 0 : 1);
        assert_int_equal(icalcomponent_count_errors(c), 0);
    }
    assert_int_equal(icalcomponent_count_errors(calendar), 0);
    assert_lines_well_formed(text);
    icalcomponent_free(calendar);
    free(text);
    cJSON_Delete(list);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_calendar_properties),
        cmocka_unit_test(test_booked_is_an_all_day_event),
        cmocka_unit_test(test_event_ends_the_next_day),
        cmocka_unit_test(test_unbooked_is_a_todo),
        cmocka_unit_test(test_overdue),
        cmocka_unit_test(test_not_open_left_out),
        cmocka_unit_test(test_duplicates_once),
        cmocka_unit_test(test_many_duplicates),
        cmocka_unit_test(test_uid_stable),
        cmocka_unit_test(test_missing_fields),
        cmocka_unit_test(test_malformed_input),
        cmocka_unit_test(test_booked_on_the_last_day),
        cmocka_unit_test(test_crlf_and_folding),
        cmocka_unit_test(test_utf8_names),
        cmocka_unit_test(test_text_is_escaped_and_cleaned),
        cmocka_unit_test(test_policy_link),
        cmocka_unit_test(test_name_missing),
        cmocka_unit_test(test_mixed_list),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

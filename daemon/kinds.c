#include "kinds.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "confread.h"
#include "timefmt.h"

/*
 * Messages name the setting by its path in the file, the way config.c names
 * its keys ("schedule.send_time").  An entry of "kinds" or "courses", or a
 * step of a milestone plan, is named by its own name once that name is
 * valid ("kinds.supervision.reminders"); anything else in a list is named by
 * its position, counted from 1 as people count ("kinds[3].name",
 * "kinds.supervision.escalation[2].notify[1]").
 */

/* The longest team id or absence kind in a list (an id in events may be 128 bytes). */
#define FILTER_TEXT_MAX 128

/* The most days, weeks, months or years in one length of time. */
#define PERIOD_MAX_COUNT 1000

/* The keys each group may hold; any other is an unknown key. */
static const char *const schedule_keys[] = {"send_time", "working_days", "closures",
                                            "missed_after_days", NULL};
static const char *const kind_keys[] = {"name",           "title",      "policy",     "applies_to",
                                        "recurring",      "milestones", "assigned",   "training",
                                        "reminders",      "grace_days", "escalation", "repeat_days",
                                        "during_absence", NULL};
static const char *const applies_keys[] = {"roles", "teams", NULL};
static const char *const recurring_keys[] = {"every", "first", NULL};
static const char *const milestone_keys[] = {"after", "absence_kinds", "steps", NULL};
static const char *const step_keys[] = {"name", "title", "at", NULL};
static const char *const escalation_keys[] = {"after_days", "notify", NULL};
static const char *const course_keys[] = {"name", "title", "valid", "first", "applies_to", NULL};

/* The four ways a kind's obligations arise, as written in a kind. */
static const char *const way_keys[] = {"recurring", "milestones", "assigned", "training"};

static const char *const month_names[12] = {"January",   "February", "March",    "April",
                                            "May",       "June",     "July",     "August",
                                            "September", "October",  "November", "December"};

static const struct {
    const char *singular;
    const char *plural;
    enum period_unit unit;
} period_units[] = {{"day", "days", PERIOD_DAYS},
                    {"week", "weeks", PERIOD_WEEKS},
                    {"month", "months", PERIOD_MONTHS},
                    {"year", "years", PERIOD_YEARS}};

static const struct {
    const char *name;
    enum kind_trigger trigger;
} triggers[] = {{"staff.hired", TRIGGER_STAFF_HIRED},
                {"concern.opened", TRIGGER_CONCERN_OPENED},
                {"absence.ended", TRIGGER_ABSENCE_ENDED}};

static const struct {
    const char *name;
    enum absence_rule rule;
} absence_rules[] = {
    {"continue", ABSENCE_CONTINUE}, {"shift", ABSENCE_SHIFT}, {"restart", ABSENCE_RESTART}};

/* A name as events use it: 1 to KIND_NAME_MAX bytes of a-z, 0-9 and _. */
static bool
is_valid_name(const char *text)
{
    size_t length = strlen(text);

    if (length == 0 || length > KIND_NAME_MAX)
        return false;
    for (const char *p = text; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
            return false;
    return true;
}

/*
 * Reads the required "name" of the entry group (path, such as "kinds[2]")
 * into name.  Returns the name setting when the name is valid, else NULL
 * (reported).
 */
static config_setting_t *
read_name(struct confread *reader, config_setting_t *group, const char *group_path,
          char name[KIND_NAME_MAX + 1])
{
    char path[CONFREAD_PATH_SIZE];
    config_setting_t *setting =
        confread_member(reader, group, group_path, "name", true, path, sizeof(path));
    const char *text;

    if (setting == NULL)
        return NULL;
    text = confread_text(reader, setting, path);
    if (text == NULL)
        return NULL;
    if (!is_valid_name(text)) {
        confread_fail(reader, setting, path,
                      "\"%s\" is not a valid name (use 1 to %d of a-z, 0-9 and _, like \"week_1\")",
                      text, KIND_NAME_MAX);
        return NULL;
    }
    memcpy(name, text, strlen(text) + 1);
    return setting;
}

/* Reads the required "title" (plain English) of group into *title. */
static void
read_title(struct confread *reader, config_setting_t *group, const char *group_path, char **title)
{
    char path[CONFREAD_PATH_SIZE];
    config_setting_t *setting =
        confread_member(reader, group, group_path, "title", true, path, sizeof(path));
    const char *text;

    if (setting != NULL && (text = confread_text(reader, setting, path)) != NULL)
        *title = confread_copy_text(reader, text);
}

/*
 * Reads a list of strings (roles, teams, absence kinds), each 1 to max_bytes
 * long, at most KIND_MAX_FILTERS of them, into items and *count.
 */
static void
read_text_list(struct confread *reader, const config_setting_t *setting, const char *path,
               size_t max_bytes, char *items[KIND_MAX_FILTERS], int *count)
{
    int length;

    length = confread_list_length(reader, setting, path, "a list of strings like [\"a\", \"b\"]",
                                  KIND_MAX_FILTERS, "entries");
    if (length < 0)
        return;
    for (int i = 0; i < length; i++) {
        const config_setting_t *item = config_setting_get_elem(setting, (unsigned)i);
        char item_path[CONFREAD_PATH_SIZE];
        const char *text;

        snprintf(item_path, sizeof(item_path), "%s[%d]", path, i + 1);
        text = confread_text(reader, item, item_path);
        if (text == NULL)
            continue;
        if (strlen(text) > max_bytes) {
            confread_fail(reader, item, item_path, "\"%s\" is longer than %zu bytes", text,
                          max_bytes);
            continue;
        }
        items[*count] = confread_copy_text(reader, text);
        if (items[*count] != NULL)
            (*count)++;
    }
}

/* Reads an "applies_to" group: roles and teams, both optional. */
static void
read_applies_to(struct confread *reader, config_setting_t *setting, const char *path,
                struct applies_to *applies)
{
    char member_path[CONFREAD_PATH_SIZE];
    config_setting_t *member;

    if (!confread_check_type(reader, setting, path, CONFIG_TYPE_GROUP, "a group { ... }"))
        return;
    confread_check_keys(reader, setting, path, applies_keys);
    member =
        confread_member(reader, setting, path, "roles", false, member_path, sizeof(member_path));
    if (member != NULL)
        read_text_list(reader, member, member_path, KIND_NAME_MAX, applies->roles,
                       &applies->role_count);
    member =
        confread_member(reader, setting, path, "teams", false, member_path, sizeof(member_path));
    if (member != NULL)
        read_text_list(reader, member, member_path, FILTER_TEXT_MAX, applies->teams,
                       &applies->team_count);
}

static void
read_applies_member(struct confread *reader, config_setting_t *group, const char *group_path,
                    struct applies_to *applies)
{
    char path[CONFREAD_PATH_SIZE];
    config_setting_t *setting =
        confread_member(reader, group, group_path, "applies_to", false, path, sizeof(path));

    if (setting != NULL)
        read_applies_to(reader, setting, path, applies);
}

enum period_reading { PERIOD_READ, PERIOD_UNREADABLE, PERIOD_NEGATIVE, PERIOD_TOO_LONG };

/* Parses "<N> <unit>" (unit in the singular or plural, any case) into *out. */
static enum period_reading
parse_period(const char *text, struct period *out)
{
    const char *p = text;
    bool negative = false;
    long count = 0;
    const char *unit;
    size_t unit_length;

    while (*p == ' ' || *p == '\t')
        p++;
    if (*p == '-') {
        negative = true;
        p++;
    }
    if (*p < '0' || *p > '9')
        return PERIOD_UNREADABLE;
    for (; *p >= '0' && *p <= '9'; p++)
        if (count <= PERIOD_MAX_COUNT)
            count = count * 10 + (*p - '0');
    if (*p != ' ' && *p != '\t')
        return PERIOD_UNREADABLE;
    while (*p == ' ' || *p == '\t')
        p++;
    unit = p;
    while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z'))
        p++;
    unit_length = (size_t)(p - unit);
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p != '\0' || unit_length == 0)
        return PERIOD_UNREADABLE;
    for (size_t i = 0; i < sizeof(period_units) / sizeof(period_units[0]); i++) {
        if ((strlen(period_units[i].singular) == unit_length &&
             strncasecmp(unit, period_units[i].singular, unit_length) == 0) ||
            (strlen(period_units[i].plural) == unit_length &&
             strncasecmp(unit, period_units[i].plural, unit_length) == 0)) {
            if (negative)
                return PERIOD_NEGATIVE;
            if (count > PERIOD_MAX_COUNT)
                return PERIOD_TOO_LONG;
            out->count = (int)count;
            out->unit = period_units[i].unit;
            return PERIOD_READ;
        }
    }
    return PERIOD_UNREADABLE;
}

/*
 * Reads a length of time into *out.  Zero ("0 days") is accepted only when
 * zero_allowed.  Returns false (reported) when the setting is not one.
 */
static bool
read_period(struct confread *reader, const config_setting_t *setting, const char *path,
            bool zero_allowed, struct period *out)
{
    const char *text;
    struct period period;

    if (!confread_check_type(reader, setting, path, CONFIG_TYPE_STRING,
                             "a length of time in quotes, like \"6 weeks\""))
        return false;
    text = config_setting_get_string(setting);
    switch (parse_period(text, &period)) {
    case PERIOD_UNREADABLE:
        confread_fail(reader, setting, path,
                      "\"%s\" is not a length of time (write it like \"6 weeks\" or \"12 months\")",
                      text);
        return false;
    case PERIOD_NEGATIVE:
        confread_fail(reader, setting, path,
                      "\"%s\" is negative (write a length of time like \"6 weeks\")", text);
        return false;
    case PERIOD_TOO_LONG:
        confread_fail(reader, setting, path,
                      "\"%s\" is too long (at most %d days, weeks, months or years)", text,
                      PERIOD_MAX_COUNT);
        return false;
    case PERIOD_READ:
        break;
    }
    if (period.count == 0 && !zero_allowed) {
        confread_fail(reader, setting, path,
                      "\"%s\" is no time at all (it must be at least \"1 day\")", text);
        return false;
    }
    *out = period;
    return true;
}

/*
 * A period's nominal length in 48ths of a day, so that lengths written in
 * different units can be put in order: a month counts 30.4375 days (1461/48),
 * which makes 12 months exactly a year and puts 4 weeks before a month.
 */
static long long
period_nominal(const struct period *period)
{
    switch (period->unit) {
    case PERIOD_DAYS:
        return (long long)period->count * 48;
    case PERIOD_WEEKS:
        return (long long)period->count * 7 * 48;
    case PERIOD_MONTHS:
        return (long long)period->count * 1461;
    case PERIOD_YEARS:
        return (long long)period->count * 12 * 1461;
    }
    return 0;
}

/* Parses "HH:MM" (or "H:MM") on the 24-hour clock into minutes after midnight. */
static bool
parse_time_of_day(const char *text, int *minute)
{
    const char *p = text;
    int hours = 0, minutes;
    int digits = 0;

    for (; *p >= '0' && *p <= '9' && digits < 2; p++, digits++)
        hours = hours * 10 + (*p - '0');
    if (digits == 0 || *p != ':' || p[1] < '0' || p[1] > '9' || p[2] < '0' || p[2] > '9' ||
        p[3] != '\0')
        return false;
    minutes = (p[1] - '0') * 10 + (p[2] - '0');
    if (hours > 23 || minutes > 59)
        return false;
    *minute = hours * 60 + minutes;
    return true;
}

/* Why text, which timefmt_parse_date() refused, is not a date: a hint for the reader. */
static void
explain_bad_date(const char *text, char *why, size_t size)
{
    int year, month, day;
    bool shaped = strlen(text) == 10 && text[4] == '-' && text[7] == '-';

    for (int i = 0; shaped && i < 10; i++)
        if (i != 4 && i != 7 && (text[i] < '0' || text[i] > '9'))
            shaped = false;
    if (!shaped) {
        snprintf(why, size, "write it as YYYY-MM-DD, like \"2026-12-25\"");
        return;
    }
    year = atoi(text);
    month = atoi(text + 5);
    day = atoi(text + 8);
    if (year < 1900)
        snprintf(why, size, "years go from 1900 to 9999");
    else if (month < 1 || month > 12)
        snprintf(why, size, "months go from 01 to 12");
    else if (day < 1 || day > timefmt_days_in_month(year, month))
        snprintf(why, size, "%s %d has %d days", month_names[month - 1], year,
                 timefmt_days_in_month(year, month));
    else
        snprintf(why, size, "write it as YYYY-MM-DD, like \"2026-12-25\"");
}

static int
compare_days(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return (x > y) - (x < y);
}

static void
read_working_days(struct confread *reader, const config_setting_t *setting, const char *path,
                  struct work_calendar *calendar)
{
    unsigned days = 0;
    int length;
    bool all_valid = true;

    if (!confread_check_sequence(reader, setting, path, "a list like [\"Mon\", \"Tue\", \"Wed\"]"))
        return;
    length = config_setting_length(setting);
    if (length == 0) {
        confread_fail(reader, setting, path, "must name at least one working day, like [\"Mon\"]");
        return;
    }
    for (int i = 0; i < length; i++) {
        const config_setting_t *item = config_setting_get_elem(setting, (unsigned)i);
        char item_path[CONFREAD_PATH_SIZE];
        const char *text;
        int day;

        snprintf(item_path, sizeof(item_path), "%s[%d]", path, i + 1);
        text = confread_text(reader, item, item_path);
        if (text == NULL) {
            all_valid = false;
            continue;
        }
        day = confread_weekday(text);
        if (day < 0) {
            confread_fail(
                reader, item, item_path,
                "\"%s\" is not a day of the week (write Mon, Tue, Wed, Thu, Fri, Sat or Sun)",
                text);
            all_valid = false;
        } else if (days & (1u << day)) {
            confread_fail(reader, item, item_path, "\"%s\" is listed twice (%s)", text,
                          confread_weekday_name(day));
            all_valid = false;
        } else {
            days |= 1u << day;
        }
    }
    if (all_valid)
        calendar->working_days = days;
}

static void
read_closures(struct confread *reader, const config_setting_t *setting, const char *path,
              struct work_calendar *calendar)
{
    int length, count = 0;
    int64_t *days;

    length = confread_list_length(reader, setting, path,
                                  "a list of dates like [\"2026-12-25\", \"2026-12-28\"]",
                                  KINDS_MAX_CLOSURES, "dates");
    if (length <= 0)
        return;
    days = calloc((size_t)length, sizeof(*days));
    if (days == NULL) {
        reader->out_of_memory = true;
        return;
    }
    for (int i = 0; i < length; i++) {
        const config_setting_t *item = config_setting_get_elem(setting, (unsigned)i);
        char item_path[CONFREAD_PATH_SIZE], why[128];
        struct civil_date date;
        const char *text;

        snprintf(item_path, sizeof(item_path), "%s[%d]", path, i + 1);
        if (!confread_check_type(reader, item, item_path, CONFIG_TYPE_STRING,
                                 "a date in quotes, like \"2026-12-25\""))
            continue;
        text = config_setting_get_string(item);
        if (timefmt_parse_date(text, &date) < 0) {
            explain_bad_date(text, why, sizeof(why));
            confread_fail(reader, item, item_path, "\"%s\" is not a date (%s)", text, why);
            continue;
        }
        days[count++] = timefmt_days_from_civil(date.year, date.month, date.day);
    }
    qsort(days, (size_t)count, sizeof(*days), compare_days);
    calendar->closure_count = 0;
    for (int i = 0; i < count; i++)
        if (calendar->closure_count == 0 || days[calendar->closure_count - 1] != days[i])
            days[calendar->closure_count++] = days[i];
    calendar->closures = days;
}

static void
read_schedule(struct confread *reader, config_setting_t *schedule, struct work_calendar *calendar)
{
    char path[CONFREAD_PATH_SIZE];
    config_setting_t *setting;
    const char *text;

    if (!confread_check_type(reader, schedule, "schedule", CONFIG_TYPE_GROUP, "a group { ... }"))
        return;
    confread_check_keys(reader, schedule, "schedule", schedule_keys);
    setting = confread_member(reader, schedule, "schedule", "send_time", false, path, sizeof(path));
    if (setting != NULL && (text = confread_text(reader, setting, path)) != NULL &&
        !parse_time_of_day(text, &calendar->send_minute))
        confread_fail(
            reader, setting, path,
            "\"%s\" is not a time of day (write HH:MM on the 24-hour clock, from \"00:00\" to "
            "\"23:59\", like \"09:00\")",
            text);
    setting =
        confread_member(reader, schedule, "schedule", "working_days", false, path, sizeof(path));
    if (setting != NULL)
        read_working_days(reader, setting, path, calendar);
    setting = confread_member(reader, schedule, "schedule", "closures", false, path, sizeof(path));
    if (setting != NULL)
        read_closures(reader, setting, path, calendar);
    confread_int_member(reader, schedule, "schedule", "missed_after_days", 1, 366,
                        &calendar->missed_after_days);
}

static void
read_recurring(struct confread *reader, config_setting_t *setting, const char *path,
               struct kind *kind)
{
    char member_path[CONFREAD_PATH_SIZE];
    config_setting_t *member;
    bool have_every = false;

    confread_check_keys(reader, setting, path, recurring_keys);
    member =
        confread_member(reader, setting, path, "every", true, member_path, sizeof(member_path));
    if (member != NULL)
        have_every = read_period(reader, member, member_path, false, &kind->every);
    member =
        confread_member(reader, setting, path, "first", false, member_path, sizeof(member_path));
    if (member != NULL)
        read_period(reader, member, member_path, false, &kind->first);
    else if (have_every)
        kind->first = kind->every;
}

static void
read_steps(struct confread *reader, config_setting_t *setting, const char *path, struct kind *kind)
{
    int length;
    const config_setting_t *name_settings[KIND_MAX_STEPS] = {NULL};
    const struct period *latest_at = NULL; /* of the steps so far in order */

    length = confread_list_length(reader, setting, path, "a list of steps ( { ... }, { ... } )",
                                  KIND_MAX_STEPS, "steps");
    if (length < 0)
        return;
    if (length == 0) {
        confread_fail(reader, setting, path, "must have at least one step");
        return;
    }
    for (int i = 0; i < length; i++) {
        config_setting_t *entry = config_setting_get_elem(setting, (unsigned)i);
        struct milestone_step *step = &kind->steps[kind->step_count];
        char step_path[CONFREAD_PATH_SIZE], member_path[CONFREAD_PATH_SIZE];
        config_setting_t *at;
        const config_setting_t *name;

        confread_entry_path(entry, path, i, is_valid_name, step_path, sizeof(step_path));
        if (!confread_check_type(reader, entry, step_path, CONFIG_TYPE_GROUP, "a group { ... }"))
            continue;
        kind->step_count++;
        confread_check_keys(reader, entry, step_path, step_keys);
        name = read_name(reader, entry, step_path, step->name);
        for (int j = 0; name != NULL && j < i; j++) {
            if (name_settings[j] != NULL &&
                strcmp(config_setting_get_string(name_settings[j]), step->name) == 0) {
                confread_path_join(member_path, sizeof(member_path), step_path, "name");
                confread_fail(reader, name, member_path,
                              "\"%s\" is already the name of the step on line %d", step->name,
                              confread_line(config_setting_parent(name_settings[j])));
                name = NULL;
                break;
            }
        }
        name_settings[i] = name;
        read_title(reader, entry, step_path, &step->title);
        at =
            confread_member(reader, entry, step_path, "at", true, member_path, sizeof(member_path));
        if (at != NULL && read_period(reader, at, member_path, true, &step->at)) {
            if (latest_at != NULL && period_nominal(&step->at) < period_nominal(latest_at)) {
                char later[32];
                kinds_format_period(latest_at, later, sizeof(later));
                confread_fail(
                    reader, at, member_path,
                    "\"%s\" is earlier than a step above it (\"%s\"); list the steps in the "
                    "order they fall due",
                    config_setting_get_string(at), later);
            } else {
                latest_at = &step->at;
            }
        }
    }
}

static void
read_milestones(struct confread *reader, config_setting_t *setting, const char *path,
                struct kind *kind)
{
    char member_path[CONFREAD_PATH_SIZE];
    config_setting_t *member;
    const char *text;
    bool trigger_known = false;

    confread_check_keys(reader, setting, path, milestone_keys);
    member =
        confread_member(reader, setting, path, "after", true, member_path, sizeof(member_path));
    if (member != NULL && (text = confread_text(reader, member, member_path)) != NULL) {
        for (size_t i = 0; i < sizeof(triggers) / sizeof(triggers[0]) && !trigger_known; i++) {
            if (strcmp(text, triggers[i].name) == 0) {
                kind->trigger = triggers[i].trigger;
                trigger_known = true;
            }
        }
        if (!trigger_known)
            confread_fail(reader, member, member_path,
                          "\"%s\" is not an event that starts a plan (write \"staff.hired\", "
                          "\"concern.opened\" or \"absence.ended\")",
                          text);
    }
    member = confread_member(reader, setting, path, "absence_kinds", false, member_path,
                             sizeof(member_path));
    if (member != NULL) {
        if (trigger_known && kind->trigger != TRIGGER_ABSENCE_ENDED)
            confread_fail(reader, member, member_path,
                          "only a plan with after = \"absence.ended\" can list absence kinds");
        else
            read_text_list(reader, member, member_path, FILTER_TEXT_MAX, kind->absence_kinds,
                           &kind->absence_kind_count);
    }
    member =
        confread_member(reader, setting, path, "steps", true, member_path, sizeof(member_path));
    if (member != NULL)
        read_steps(reader, member, member_path, kind);
}

/* Parses one escalation target ("manager", "manager+1", "role:NAME", "staff:ID"). */
static bool
parse_target(const char *text, struct escalation_target *target)
{
    const char *rest = NULL;

    memset(target, 0, sizeof(*target));
    if (strcmp(text, "manager") == 0) {
        target->type = TARGET_MANAGER;
        return true;
    }
    if (strcmp(text, "manager+1") == 0 || strcmp(text, "manager+2") == 0) {
        target->type = TARGET_MANAGER_UP;
        target->levels = text[8] - '0';
        return true;
    }
    if (strncmp(text, "role:", 5) == 0) {
        target->type = TARGET_ROLE;
        rest = text + 5;
    } else if (strncmp(text, "staff:", 6) == 0) {
        target->type = TARGET_STAFF;
        rest = text + 6;
    }
    if (rest == NULL || rest[0] == '\0' || strlen(rest) > KIND_NAME_MAX)
        return false;
    for (const char *p = rest; *p; p++)
        if (*p == ' ' || *p == '\t')
            return false;
    memcpy(target->name, rest, strlen(rest) + 1);
    return true;
}

static void
read_notify(struct confread *reader, const config_setting_t *setting, const char *path,
            struct escalation_step *step)
{
    int length;

    length = confread_list_length(reader, setting, path, "a list like [\"manager\", \"manager+1\"]",
                                  KIND_MAX_TARGETS, "entries");
    if (length < 0)
        return;
    if (length == 0) {
        confread_fail(reader, setting, path,
                      "must name at least one person to tell, like [\"manager\"]");
        return;
    }
    for (int i = 0; i < length; i++) {
        const config_setting_t *item = config_setting_get_elem(setting, (unsigned)i);
        char item_path[CONFREAD_PATH_SIZE];
        const char *text;

        snprintf(item_path, sizeof(item_path), "%s[%d]", path, i + 1);
        text = confread_text(reader, item, item_path);
        if (text == NULL)
            continue;
        if (!parse_target(text, &step->targets[step->target_count])) {
            confread_fail(reader, item, item_path,
                          "\"%s\" is not someone to tell (write \"manager\", \"manager+1\", "
                          "\"manager+2\", \"role:NAME\" or \"staff:ID\")",
                          text);
            continue;
        }
        step->target_count++;
    }
}

static void
read_escalation(struct confread *reader, config_setting_t *setting, const char *path,
                struct kind *kind)
{
    int length;
    int previous_after = 0;

    length = confread_list_length(reader, setting, path, "a list of steps ( { ... }, { ... } )",
                                  KIND_MAX_ESCALATIONS, "steps");
    if (length < 0)
        return;
    for (int i = 0; i < length; i++) {
        config_setting_t *entry = config_setting_get_elem(setting, (unsigned)i);
        struct escalation_step *step = &kind->escalations[kind->escalation_count];
        char step_path[CONFREAD_PATH_SIZE], member_path[CONFREAD_PATH_SIZE];
        config_setting_t *member;

        snprintf(step_path, sizeof(step_path), "%s[%d]", path, i + 1);
        if (!confread_check_type(reader, entry, step_path, CONFIG_TYPE_GROUP, "a group { ... }"))
            continue;
        kind->escalation_count++;
        confread_check_keys(reader, entry, step_path, escalation_keys);
        member = confread_member(reader, entry, step_path, "after_days", true, member_path,
                                 sizeof(member_path));
        if (member != NULL &&
            confread_int(reader, member, member_path, 1, 3660, &step->after_days)) {
            if (step->after_days <= previous_after)
                confread_fail(reader, member, member_path,
                              "%d is not later than the step before (%d); each step must come more "
                              "days after the due date than the one before",
                              step->after_days, previous_after);
            else
                previous_after = step->after_days;
        }
        member = confread_member(reader, entry, step_path, "notify", true, member_path,
                                 sizeof(member_path));
        if (member != NULL)
            read_notify(reader, member, member_path, step);
    }
}

static void
read_reminders(struct confread *reader, const config_setting_t *setting, const char *path,
               struct kind *kind)
{
    int length;
    int previous = -1;

    length = confread_list_length(reader, setting, path, "a list like [14, 3, 0]",
                                  KIND_MAX_REMINDERS, "reminders");
    if (length < 0)
        return;
    for (int i = 0; i < length; i++) {
        const config_setting_t *item = config_setting_get_elem(setting, (unsigned)i);
        char item_path[CONFREAD_PATH_SIZE];
        int days;

        snprintf(item_path, sizeof(item_path), "%s[%d]", path, i + 1);
        if (!confread_int(reader, item, item_path, 0, 366, &days))
            continue;
        if (previous >= 0 && days >= previous) {
            confread_fail(
                reader, item, item_path,
                "%d comes after %d; list the days before from the most to the fewest, each "
                "once, like [14, 3, 0]",
                days, previous);
            continue;
        }
        previous = days;
        kind->reminders[kind->reminder_count++] = days;
    }
}

static void
read_kind(struct confread *reader, config_setting_t *setting, int index, struct kind *kind)
{
    char path[CONFREAD_PATH_SIZE], member_path[CONFREAD_PATH_SIZE];
    config_setting_t *member;
    const char *text;
    const char *given[4];
    int given_count = 0;
    bool ways_usable = true;

    kind->line = confread_line(setting);
    kind->during_absence = ABSENCE_SHIFT;
    confread_entry_path(setting, "kinds", index, is_valid_name, path, sizeof(path));
    if (!confread_check_type(reader, setting, path, CONFIG_TYPE_GROUP, "a group { ... }"))
        return;
    read_name(reader, setting, path, kind->name);
    confread_check_keys(reader, setting, path, kind_keys);
    read_title(reader, setting, path, &kind->title);
    member =
        confread_member(reader, setting, path, "policy", false, member_path, sizeof(member_path));
    if (member != NULL && (text = confread_text(reader, member, member_path)) != NULL)
        kind->policy = confread_copy_text(reader, text);
    read_applies_member(reader, setting, path, &kind->applies);

    /* Exactly one of the four ways; assigned = false and training = false count as absent. */
    for (int way = 0; way < 4; way++) {
        member = confread_member(reader, setting, path, way_keys[way], false, member_path,
                                 sizeof(member_path));
        if (member == NULL)
            continue;
        if (way == KIND_ASSIGNED || way == KIND_TRAINING) {
            if (!confread_check_type(reader, member, member_path, CONFIG_TYPE_BOOL,
                                     "true or false")) {
                ways_usable = false;
                given[given_count++] = way_keys[way];
                continue;
            }
            if (!config_setting_get_bool(member))
                continue;
        } else if (!confread_check_type(reader, member, member_path, CONFIG_TYPE_GROUP,
                                        "a group { ... }")) {
            ways_usable = false;
            given[given_count++] = way_keys[way];
            continue;
        }
        if (given_count == 0)
            kind->arises = (enum kind_arises)way;
        given[given_count++] = way_keys[way];
        if (way == KIND_RECURRING)
            read_recurring(reader, member, member_path, kind);
        else if (way == KIND_MILESTONE)
            read_milestones(reader, member, member_path, kind);
    }
    if (given_count == 0) {
        confread_fail(
            reader, setting, path,
            "needs one of recurring, milestones, assigned = true or training = true, to say "
            "how its reviews fall due");
        ways_usable = false;
    } else if (given_count > 1) {
        char list[96];
        confread_join_words(given, given_count, list, sizeof(list));
        confread_fail(
            reader, setting, path,
            "has %s; give only one of recurring, milestones, assigned = true or training = true",
            list);
        ways_usable = false;
    }

    member = confread_member(reader, setting, path, "reminders", false, member_path,
                             sizeof(member_path));
    if (member != NULL)
        read_reminders(reader, member, member_path, kind);
    confread_int_member(reader, setting, path, "grace_days", 0, 366, &kind->grace_days);
    member = confread_member(reader, setting, path, "escalation", false, member_path,
                             sizeof(member_path));
    if (member != NULL)
        read_escalation(reader, member, member_path, kind);
    member = confread_member(reader, setting, path, "repeat_days", false, member_path,
                             sizeof(member_path));
    if (member != NULL && confread_int(reader, member, member_path, 0, 366, &kind->repeat_days) &&
        kind->repeat_days > 0 && kind->escalation_count == 0)
        confread_fail(
            reader, member, member_path,
            "%d needs escalation steps to repeat (add escalation, or set repeat_days = 0)",
            kind->repeat_days);
    member = confread_member(reader, setting, path, "during_absence", false, member_path,
                             sizeof(member_path));
    if (member != NULL && (text = confread_text(reader, member, member_path)) != NULL) {
        bool known = false;
        for (size_t i = 0; i < sizeof(absence_rules) / sizeof(absence_rules[0]) && !known; i++) {
            if (strcmp(text, absence_rules[i].name) == 0) {
                kind->during_absence = absence_rules[i].rule;
                known = true;
            }
        }
        if (!known)
            confread_fail(reader, member, member_path,
                          "\"%s\" is not a choice (write \"continue\", \"shift\" or \"restart\")",
                          text);
        else if (kind->during_absence == ABSENCE_RESTART && ways_usable &&
                 kind->arises != KIND_RECURRING)
            confread_fail(
                reader, member, member_path,
                "\"restart\" is only for kinds with recurring = { ... } (use \"shift\" or "
                "\"continue\")");
    }
}

static void
read_course(struct confread *reader, config_setting_t *setting, int index, struct course *course)
{
    char path[CONFREAD_PATH_SIZE], member_path[CONFREAD_PATH_SIZE];
    config_setting_t *member;

    course->line = confread_line(setting);
    confread_entry_path(setting, "courses", index, is_valid_name, path, sizeof(path));
    if (!confread_check_type(reader, setting, path, CONFIG_TYPE_GROUP, "a group { ... }"))
        return;
    read_name(reader, setting, path, course->name);
    confread_check_keys(reader, setting, path, course_keys);
    read_title(reader, setting, path, &course->title);
    member =
        confread_member(reader, setting, path, "valid", true, member_path, sizeof(member_path));
    if (member != NULL)
        read_period(reader, member, member_path, false, &course->valid);
    member =
        confread_member(reader, setting, path, "first", false, member_path, sizeof(member_path));
    if (member != NULL)
        course->has_first = read_period(reader, member, member_path, false, &course->first);
    read_applies_member(reader, setting, path, &course->applies);
}

/*
 * Reports each entry of list (the setting named list_name) whose name an
 * earlier entry already has; name_of(entries, i) is entry i's name, "" when
 * it has no valid one.
 */
static void
check_unique_names(struct confread *reader, config_setting_t *list, const char *list_name,
                   const char *what, const char *(*name_of)(const void *, int), const void *entries,
                   int count)
{
    for (int i = 1; i < count; i++) {
        const char *name = name_of(entries, i);
        if (name[0] == '\0')
            continue;
        for (int j = 0; j < i; j++) {
            if (strcmp(name, name_of(entries, j)) == 0) {
                config_setting_t *entry = config_setting_get_elem(list, (unsigned)i);
                char path[CONFREAD_PATH_SIZE];
                snprintf(path, sizeof(path), "%s.%s.name", list_name, name);
                confread_fail(reader, config_setting_get_member(entry, "name"), path,
                              "\"%s\" is already the name of the %s on line %d", name, what,
                              confread_line(config_setting_get_elem(list, (unsigned)j)));
                break;
            }
        }
    }
}

static const char *
kind_name_at(const void *entries, int i)
{
    return ((const struct kind *)entries)[i].name;
}

static const char *
course_name_at(const void *entries, int i)
{
    return ((const struct course *)entries)[i].name;
}

/* How to read the entries of one top-level list ("kinds" or "courses"). */
struct list_reader {
    const char *key;      /* "kinds"; also the plural in messages */
    const char *what;     /* "kind", for messages */
    const char *expected; /* what the list should look like */
    size_t entry_size;
    void (*read_entry)(struct confread *reader, config_setting_t *setting, int index, void *entry);
    const char *(*name_at)(const void *entries, int i);
};

/* Reads a list of groups into a new array of entries; *count is how many it holds. */
static void *
read_list(struct confread *reader, config_setting_t *list, const struct list_reader *list_reader,
          int *count)
{
    int length;
    char *entries;

    *count = 0;
    length = confread_list_length(reader, list, list_reader->key, list_reader->expected, KINDS_MAX,
                                  list_reader->key);
    if (length <= 0)
        return NULL;
    entries = calloc((size_t)length, list_reader->entry_size);
    if (entries == NULL) {
        reader->out_of_memory = true;
        return NULL;
    }
    *count = length;
    for (int i = 0; i < length; i++)
        list_reader->read_entry(reader, config_setting_get_elem(list, (unsigned)i), i,
                                entries + (size_t)i * list_reader->entry_size);
    check_unique_names(reader, list, list_reader->key, list_reader->what, list_reader->name_at,
                       entries, length);
    return entries;
}

static void
read_kind_entry(struct confread *reader, config_setting_t *setting, int index, void *entry)
{
    read_kind(reader, setting, index, entry);
}

static void
read_course_entry(struct confread *reader, config_setting_t *setting, int index, void *entry)
{
    read_course(reader, setting, index, entry);
}

/* Reads the "kinds" list into out->kinds. */
static void
read_kinds(struct confread *reader, config_setting_t *list, struct kinds *out)
{
    static const struct list_reader list_reader = {
        "kinds",         "kind",      "a list of kinds ( { ... }, { ... } )", sizeof(struct kind),
        read_kind_entry, kind_name_at};

    out->kinds = read_list(reader, list, &list_reader, &out->kind_count);
}

/* Reads the "courses" list into out->courses. */
static void
read_courses(struct confread *reader, config_setting_t *list, struct kinds *out)
{
    static const struct list_reader list_reader = {"courses",
                                                   "course",
                                                   "a list of courses ( { ... }, { ... } )",
                                                   sizeof(struct course),
                                                   read_course_entry,
                                                   course_name_at};

    out->courses = read_list(reader, list, &list_reader, &out->course_count);
}

/*
 * One training kind, and courses exactly when there is one: the courses
 * are what the training kind reminds people about.
 */
static void
check_training(struct confread *reader, config_setting_t *kinds_list,
               config_setting_t *courses_list, struct kinds *out)
{
    int courses_written = 0;

    if (courses_list != NULL &&
        (config_setting_is_list(courses_list) || config_setting_is_array(courses_list)))
        courses_written = config_setting_length(courses_list);
    for (int i = 0; i < out->kind_count; i++) {
        const struct kind *kind = &out->kinds[i];
        config_setting_t *entry = config_setting_get_elem(kinds_list, (unsigned)i);
        config_setting_t *training;
        char path[CONFREAD_PATH_SIZE];

        if (!config_setting_is_group(entry))
            continue;
        training = config_setting_get_member(entry, "training");
        if (training == NULL || config_setting_type(training) != CONFIG_TYPE_BOOL ||
            !config_setting_get_bool(training))
            continue;
        confread_entry_path(entry, "kinds", i, is_valid_name, path, sizeof(path));
        if (out->training != NULL) {
            char training_path[CONFREAD_PATH_SIZE + 16];
            snprintf(training_path, sizeof(training_path), "%s.training", path);
            confread_fail(
                reader, training, training_path,
                "only one kind may have training = true, and \"%s\" on line %d already has it",
                out->training->name, out->training->line);
            continue;
        }
        out->training = kind;
        if (courses_written == 0)
            confread_fail(
                reader, entry, path,
                "training = true needs courses to remind people about; list them in courses");
    }
    if (out->training == NULL && courses_written > 0)
        confread_fail(
            reader, courses_list, "courses",
            "no kind has training = true, so nobody would be reminded to renew these courses; "
            "add a kind with training = true");
}

int
kinds_load(config_setting_t *root, const char *file, struct kinds *out,
           struct config_errors *errors)
{
    struct confread reader = {file, errors, 0, false};
    config_setting_t *schedule = config_setting_get_member(root, "schedule");
    config_setting_t *kinds_list = config_setting_get_member(root, "kinds");
    config_setting_t *courses_list = config_setting_get_member(root, "courses");

    memset(out, 0, sizeof(*out));
    out->calendar.send_minute = 9 * 60;
    out->calendar.working_days = 0x1f; /* Monday to Friday */
    out->calendar.missed_after_days = 14;

    if (schedule != NULL)
        read_schedule(&reader, schedule, &out->calendar);
    if (kinds_list != NULL)
        read_kinds(&reader, kinds_list, out);
    if (courses_list != NULL)
        read_courses(&reader, courses_list, out);
    if (!reader.out_of_memory)
        check_training(&reader, kinds_list, courses_list, out);
    return confread_result(&reader);
}

static void
free_applies(struct applies_to *applies)
{
    for (int i = 0; i < applies->role_count; i++)
        free(applies->roles[i]);
    for (int i = 0; i < applies->team_count; i++)
        free(applies->teams[i]);
}

void
kinds_free(struct kinds *kinds)
{
    if (kinds == NULL)
        return;
    for (int i = 0; kinds->kinds != NULL && i < kinds->kind_count; i++) {
        struct kind *kind = &kinds->kinds[i];
        free(kind->title);
        free(kind->policy);
        free_applies(&kind->applies);
        for (int s = 0; s < kind->step_count; s++)
            free(kind->steps[s].title);
        for (int a = 0; a < kind->absence_kind_count; a++)
            free(kind->absence_kinds[a]);
    }
    for (int i = 0; kinds->courses != NULL && i < kinds->course_count; i++) {
        free(kinds->courses[i].title);
        free_applies(&kinds->courses[i].applies);
    }
    free(kinds->kinds);
    free(kinds->courses);
    free(kinds->calendar.closures);
    memset(kinds, 0, sizeof(*kinds));
}

const struct kind *
kinds_find(const struct kinds *kinds, const char *name)
{
    for (int i = 0; i < kinds->kind_count; i++)
        if (strcmp(kinds->kinds[i].name, name) == 0)
            return &kinds->kinds[i];
    return NULL;
}

const struct course *
kinds_find_course(const struct kinds *kinds, const char *name)
{
    for (int i = 0; i < kinds->course_count; i++)
        if (strcmp(kinds->courses[i].name, name) == 0)
            return &kinds->courses[i];
    return NULL;
}

void
kinds_format_period(const struct period *period, char *buf, size_t size)
{
    const char *unit = "days";

    for (size_t i = 0; i < sizeof(period_units) / sizeof(period_units[0]); i++)
        if (period_units[i].unit == period->unit)
            unit = period->count == 1 ? period_units[i].singular : period_units[i].plural;
    snprintf(buf, size, "%d %s", period->count, unit);
}

/*
 * carehubctl: asks carehubd about itself, its staff directory and the
 * reviews it keeps track of, and follows its notifications.
 *
 * One request per run, except watch, which follows the notification socket
 * until it is interrupted.  By default the reply is laid out for a person (a
 * line manager checking a team, an administrator checking the daemon); with
 * --json the reply itself is printed, pretty, for programs (watch prints
 * each notification as one line of JSON).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <zmq.h>

#include "client.h"
#include "timefmt.h"
#include "wire.h"

#define CTL_DEFAULT_TIMEOUT_S 10.0
#define CTL_TABLE_MAX_COLUMNS 6
/* Width of the key column of key-value output. */
#define CTL_KEY_WIDTH 18
/* Where notification texts are wrapped, and how far they are indented. */
#define CTL_WRAP_COLUMN 78
#define CTL_TEXT_INDENT 4
/* The daemon's ranges (docs/protocol.md), checked here too so that a mistake is a usage error. */
#define CTL_DAYS_MAX 366
#define CTL_LIMIT_MAX 10000
#define CTL_SEQ_MAX 9007199254740992LL /* 2^53 */
/* watch: how long one wait lasts, and after how long a quiet spell the API is asked again. */
#define CTL_WATCH_POLL_MS 1000
#define CTL_WATCH_RECHECK_MS 5000

enum exit_status {
    EXIT_OK = 0,
    EXIT_DAEMON_ERROR = 1, /* the daemon answered with an error */
    EXIT_FAILURE_LOCAL = 2 /* usage, connection or timeout */
};

/* Options that belong to some commands only. */
enum command_option {
    OPT_DAYS = 1u << 0,
    OPT_LIMIT = 1u << 1,
    OPT_MANAGER = 1u << 2,
    OPT_TEAM = 1u << 3,
    OPT_AFTER = 1u << 4,
    OPT_RECIPIENT = 1u << 5,
    OPT_BY = 1u << 6,
    OPT_SET = 1u << 7,
    OPT_ADVANCE = 1u << 8,
    OPT_COUNT = 1u << 9,
};

struct options {
    const char *endpoint;
    const char *notify_endpoint;
    bool json;
    int timeout_ms;
    unsigned given; /* the command options given (enum command_option) */
    long long days, limit, after, count, advance;
    const char *manager_id, *team_id, *recipient_id, *by, *set;
};

static void
usage(FILE *out)
{
    fprintf(out,
            "usage: carehubctl [-e ENDPOINT] [-n ENDPOINT] [--json] [--timeout SECONDS]\n"
            "                  COMMAND [ARGUMENT] [COMMAND OPTIONS]\n"
            "\n"
            "Asks carehubd about itself, the staff directory and the reviews it keeps\n"
            "track of (supervisions, appraisals, training renewals, actions...).\n"
            "\n"
            "Commands:\n"
            "  status       the daemon's version, uptime, event counts and queue\n"
            "  staff ID     a staff member, with their line manager and management chain\n"
            "  team ID      a team, with its members and sub-teams\n"
            "  reports ID   the people whose line manager is staff member ID\n"
            "  due MANAGER_ID [--days N] [--limit N]\n"
            "               what is due for the manager's people (and the actions the\n"
            "               manager sees through) from today to N days ahead\n"
            "               (N from 0 to %d, default 14)\n"
            "  overdue [--manager ID | --team ID] [--limit N]\n"
            "               what is past its date: for a manager's people, for a team and\n"
            "               its sub-teams, or, with neither, for the whole organisation\n"
            "  person STAFF_ID\n"
            "               a staff member's reviews and actions, still to do and done,\n"
            "               and their absences\n"
            "  notifications [--after SEQ] [--limit N] [--recipient ID]\n"
            "               the reminders and escalations sent, oldest first: those\n"
            "               numbered after SEQ (default 0), at most N (1 to %d,\n"
            "               default 100), only those sent to ID\n"
            "  ack SEQ [--by STAFF_ID]\n"
            "               record that notification SEQ has been seen (and by whom)\n"
            "  watch [--recipient ID] [--after SEQ] [--count N]\n"
            "               print notifications as they are sent, until interrupted\n"
            "               (or after N of them): every one, or only those sent to ID;\n"
            "               with --after, first those numbered after SEQ\n"
            "  clock [--set TIME | --advance SECONDS]\n"
            "               the daemon's time; for tests only, set it (an RFC 3339 time)\n"
            "               or move it on, on a daemon started with --test-clock\n"
            "\n"
            "Options:\n"
            "  -e, --endpoint ENDPOINT  the daemon's API socket (default: $%s)\n"
            "  -n, --notify ENDPOINT    the daemon's notification socket, for watch\n"
            "                           (default: $%s)\n"
            "      --json               print the daemon's reply as JSON (watch: each\n"
            "                           notification as one line of JSON)\n"
            "      --timeout SECONDS    how long to wait for each reply (default %g)\n"
            "  -h, --help               print this help\n"
            "\n"
            "Exit status: 0 success (watch: also when stopped by SIGINT or SIGTERM),\n"
            "1 the daemon answered with an error (such as not_found), 2 usage or\n"
            "connection error, or no reply in time.\n",
            CTL_DAYS_MAX, CTL_LIMIT_MAX, CLIENT_ENDPOINT_ENV, CLIENT_NOTIFY_ENDPOINT_ENV,
            CTL_DEFAULT_TIMEOUT_S);
}

/*
 * What a command's printer uses besides the reply: the options, the argument
 * and the connection, for the look-ups that put names to ids.
 */
struct session {
    const struct options *options;
    struct client *client;
    const char *argument; /* the command's argument, NULL when it takes none */
    double next_id;       /* the id of the next request */
};

/* ---- text helpers ---- */

/* Columns a UTF-8 string takes on a terminal, counting one per code point. */
static size_t
display_width(const char *text)
{
    size_t width = 0;

    for (const unsigned char *p = (const unsigned char *)text; *p != '\0'; p++)
        if ((*p & 0xC0) != 0x80)
            width++;
    return width;
}

/* Writes text with control characters replaced: names come from HR systems,
 * and must not be able to send escape sequences to a terminal. */
static void
put_text(const char *text)
{
    for (const unsigned char *p = (const unsigned char *)text; *p != '\0'; p++)
        putchar(*p < 0x20 || *p == 0x7f ? '?' : *p);
}

static void
put_padding(size_t count)
{
    while (count-- > 0)
        putchar(' ');
}

/*
 * The member name of object as text in buf: strings as they are, numbers,
 * booleans as "yes"/"no"; fallback when missing or null.
 */
static const char *
field_text(const cJSON *object, const char *name, const char *fallback, char *buf, size_t size)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, name);

    if (cJSON_IsString(item))
        return item->valuestring;
    if (cJSON_IsNumber(item)) {
        if (item->valuedouble == (double)(int64_t)item->valuedouble)
            snprintf(buf, size, "%lld", (long long)item->valuedouble);
        else
            snprintf(buf, size, "%g", item->valuedouble);
        return buf;
    }
    if (cJSON_IsBool(item))
        return cJSON_IsTrue(item) ? "yes" : "no";
    return fallback;
}

static const char *
string_or(const cJSON *object, const char *name, const char *fallback)
{
    const char *text = wire_get_string(object, name);

    return text != NULL && text[0] != '\0' ? text : fallback;
}

static double
number_or(const cJSON *object, const char *name, double fallback)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, name);

    return cJSON_IsNumber(item) ? item->valuedouble : fallback;
}

/* Prints "Key               value". */
static void
put_key_value(const char *key, const char *value)
{
    size_t width = display_width(key);

    fputs(key, stdout);
    put_padding(width < CTL_KEY_WIDTH ? CTL_KEY_WIDTH - width : 1);
    put_text(value);
    putchar('\n');
}

/* "S7  Bob Smith", "S7", or the name alone. */
static void
format_person(const char *id, const char *name, char *buf, size_t size)
{
    if (id != NULL && name != NULL)
        snprintf(buf, size, "%s  %s", id, name);
    else
        snprintf(buf, size, "%s", id != NULL ? id : name != NULL ? name : "-");
}

/* ---- tables ---- */

struct table {
    size_t columns;
    const char *headers[CTL_TABLE_MAX_COLUMNS];
    bool right_aligned[CTL_TABLE_MAX_COLUMNS];
    char **cells; /* rows * columns, each the table's own */
    size_t rows;
    size_t cap;
};

static void
table_free(struct table *table)
{
    for (size_t i = 0; i < table->rows * table->columns; i++)
        free(table->cells[i]);
    free(table->cells);
    table->cells = NULL;
    table->rows = 0;
}

/* Adds a row of table->columns values (NULL prints as "-").  Returns 0 or -ENOMEM. */
static int
table_add(struct table *table, const char *const *values)
{
    if (table->rows == table->cap) {
        size_t cap = table->cap ? table->cap * 2 : 16;
        char **grown = realloc(table->cells, cap * table->columns * sizeof(*grown));

        if (grown == NULL)
            return -ENOMEM;
        table->cells = grown;
        table->cap = cap;
    }
    for (size_t c = 0; c < table->columns; c++) {
        char *copy = strdup(values[c] != NULL ? values[c] : "-");

        if (copy == NULL) {
            for (size_t k = 0; k < c; k++)
                free(table->cells[table->rows * table->columns + k]);
            return -ENOMEM;
        }
        table->cells[table->rows * table->columns + c] = copy;
    }
    table->rows++;
    return 0;
}

static void
put_cell(const char *text, size_t width, bool right_aligned, bool last)
{
    size_t used = display_width(text);
    size_t pad = used < width ? width - used : 0;

    if (right_aligned)
        put_padding(pad);
    put_text(text);
    if (!right_aligned && !last)
        put_padding(pad);
    if (!last)
        fputs("  ", stdout);
}

/* Prints the headers and rows, indented, each column as wide as its widest cell. */
static void
table_print(const struct table *table)
{
    size_t width[CTL_TABLE_MAX_COLUMNS];

    for (size_t c = 0; c < table->columns; c++) {
        width[c] = display_width(table->headers[c]);
        for (size_t r = 0; r < table->rows; r++) {
            size_t w = display_width(table->cells[r * table->columns + c]);

            if (w > width[c])
                width[c] = w;
        }
    }
    fputs("  ", stdout);
    for (size_t c = 0; c < table->columns; c++)
        put_cell(table->headers[c], width[c], table->right_aligned[c], c + 1 == table->columns);
    putchar('\n');
    for (size_t r = 0; r < table->rows; r++) {
        fputs("  ", stdout);
        for (size_t c = 0; c < table->columns; c++)
            put_cell(table->cells[r * table->columns + c], width[c], table->right_aligned[c],
                     c + 1 == table->columns);
        putchar('\n');
    }
}

/* Prints "Title (N)" and the table, or "Title: none". */
static void
put_section(const char *title, const struct table *table, const char *none)
{
    putchar('\n');
    if (table->rows == 0) {
        printf("%s: %s\n", title, none);
        return;
    }
    printf("%s (%zu)\n", title, table->rows);
    table_print(table);
}

/* ---- status ---- */

static void
format_duration(double seconds, char *buf, size_t size)
{
    long long s = (long long)seconds;

    if (seconds < 60)
        snprintf(buf, size, "%.1f s", seconds);
    else if (s < 3600)
        snprintf(buf, size, "%lld min %lld s", s / 60, s % 60);
    else if (s < 86400)
        snprintf(buf, size, "%lld h %lld min", s / 3600, s % 3600 / 60);
    else
        snprintf(buf, size, "%lld d %lld h", s / 86400, s % 86400 / 3600);
}

static void
format_bytes(double bytes, char *buf, size_t size)
{
    static const char *const units[] = {"bytes", "KiB", "MiB", "GiB", "TiB"};
    double value = bytes;
    size_t unit = 0;

    while (value >= 1024 && unit + 1 < sizeof(units) / sizeof(units[0])) {
        value /= 1024;
        unit++;
    }
    if (unit == 0)
        snprintf(buf, size, "%.0f bytes", bytes);
    else
        snprintf(buf, size, "%.1f %s (%.0f bytes)", value, units[unit], bytes);
}

/* The daemon's clock and notifications, from a daemon that keeps reviews. */
static void
print_status_schedule(const cJSON *reply)
{
    const cJSON *notifications = cJSON_GetObjectItemCaseSensitive(reply, "notifications");
    const cJSON *missed = cJSON_GetObjectItemCaseSensitive(notifications, "missed");
    const char *clock = wire_get_string(reply, "clock");
    char a[32], b[32], c[32], line[256];

    if (clock != NULL) {
        snprintf(line, sizeof(line), "%s (%s clock)", string_or(reply, "now", "-"),
                 strcmp(clock, "test") == 0 ? "a test" : "the real");
        put_key_value("Clock", line);
    }
    if (!cJSON_IsObject(notifications))
        return;
    snprintf(line, sizeof(line), "up to number %s, %s sent since start",
             field_text(notifications, "last_seq", "-", a, sizeof(a)),
             field_text(notifications, "sent_since_start", "-", b, sizeof(b)));
    put_key_value("Notifications", line);
    snprintf(line, sizeof(line), "%s since start, %s in all",
             field_text(missed, "since_start", "-", a, sizeof(a)),
             field_text(missed, "total", "-", c, sizeof(c)));
    put_key_value("Missed", line);
    put_key_value("Next notification", string_or(notifications, "next_at", "none planned"));
}

static int
print_status(struct session *session, const cJSON *reply)
{
    static const char *const kinds[][2] = {
        {"stored", "Stored"}, {"duplicate", "Duplicate"}, {"rejected", "Rejected"}};
    const cJSON *events = cJSON_GetObjectItemCaseSensitive(reply, "events");
    const cJSON *staff = cJSON_GetObjectItemCaseSensitive(reply, "staff");
    const cJSON *queue = cJSON_GetObjectItemCaseSensitive(reply, "queue");
    struct table table = {.columns = 3,
                          .headers = {"Events", "Since start", "Total"},
                          .right_aligned = {false, true, true}};
    char a[64], b[64], line[256];
    int r = 0;

    (void)session;
    printf("carehubd %s\n", string_or(reply, "version", "(version unknown)"));
    format_duration(number_or(reply, "uptime_s", 0), a, sizeof(a));
    snprintf(line, sizeof(line), "%s (up %s)", string_or(reply, "started_at", "-"), a);
    put_key_value("Started", line);
    snprintf(line, sizeof(line), "%s active, %s left", field_text(staff, "active", "-", a, 32),
             field_text(staff, "left", "-", b, 32));
    put_key_value("Staff", line);
    put_key_value("Teams", field_text(reply, "teams", "-", a, sizeof(a)));
    format_bytes(number_or(reply, "database_bytes", 0), line, sizeof(line));
    put_key_value("Database size", line);
    snprintf(line, sizeof(line), "%s events waiting, %s in flight",
             field_text(queue, "waiting_events", "-", a, 32),
             field_text(queue, "in_flight_events", "-", b, 32));
    put_key_value("Queue", line);
    put_key_value("Transactions", field_text(reply, "transactions", "-", a, sizeof(a)));
    put_key_value("Requests refused", field_text(reply, "requests_refused", "-", a, sizeof(a)));
    print_status_schedule(reply);

    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]) && r == 0; i++) {
        const cJSON *kind = cJSON_GetObjectItemCaseSensitive(events, kinds[i][0]);
        const char *row[3] = {kinds[i][1], field_text(kind, "since_start", "-", a, 32),
                              field_text(kind, "total", "-", b, 32)};

        r = table_add(&table, row);
    }
    putchar('\n');
    table_print(&table);
    table_free(&table);
    return r;
}

/* ---- staff ---- */

static const char *
manager_via_text(const char *via)
{
    if (via == NULL)
        return "";
    if (strcmp(via, "explicit") == 0)
        return " (set on their record)";
    if (strcmp(via, "team") == 0)
        return " (through their team)";
    return "";
}

static int
print_staff(struct session *session, const cJSON *reply)
{
    const cJSON *staff = cJSON_GetObjectItemCaseSensitive(reply, "staff");
    const cJSON *chain = cJSON_GetObjectItemCaseSensitive(reply, "chain");
    const cJSON *registration = cJSON_GetObjectItemCaseSensitive(staff, "registration");
    const cJSON *first = cJSON_GetArrayItem(chain, 0);
    const char *manager_id = wire_get_string(staff, "manager_id");
    const char *manager_name = NULL;
    const char *left_date = wire_get_string(staff, "left_date");
    const cJSON *link;
    struct table table = {.columns = 5,
                          .headers = {"Level", "Staff ID", "Name", "Role", "Team"},
                          .right_aligned = {true}};
    char line[512], person[300], level[24];
    size_t depth = 0;
    int r = 0;

    (void)session;

    format_person(wire_get_string(staff, "staff_id"), wire_get_string(staff, "name"), line,
                  sizeof(line));
    put_key_value("Staff member", line);
    put_key_value("Role", string_or(staff, "role", "-"));
    put_key_value("Team", string_or(staff, "team_id", "-"));
    if (left_date != NULL) {
        snprintf(line, sizeof(line), "left on %s", left_date);
        put_key_value("Status", line);
    } else {
        put_key_value("Status", string_or(staff, "status", "-"));
    }
    put_key_value("Start date", string_or(staff, "start_date", "-"));
    put_key_value("Email", string_or(staff, "email", "none"));
    if (manager_id != NULL) {
        if (first != NULL && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(first, "known")) &&
            strcmp(string_or(first, "staff_id", ""), manager_id) == 0)
            manager_name = wire_get_string(first, "name");
        format_person(manager_id, manager_name, person, sizeof(person));
        snprintf(line, sizeof(line), "%s%s", person,
                 manager_via_text(wire_get_string(staff, "manager_via")));
        put_key_value("Line manager", line);
    } else {
        put_key_value("Line manager", "none");
    }
    if (cJSON_IsObject(registration)) {
        snprintf(line, sizeof(line), "%s %s, renewal due %s", string_or(registration, "body", "-"),
                 string_or(registration, "number", "-"),
                 string_or(registration, "renewal_date", "-"));
        put_key_value("Registration", line);
    } else {
        put_key_value("Registration", "none");
    }

    cJSON_ArrayForEach(link, chain)
    {
        bool known = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(link, "known"));
        const char *row[5];

        snprintf(level, sizeof(level), "%zu", ++depth);
        row[0] = level;
        row[1] = wire_get_string(link, "staff_id");
        row[2] = known ? wire_get_string(link, "name") : "(not known yet)";
        row[3] = wire_get_string(link, "role");
        row[4] = wire_get_string(link, "team_id");
        if ((r = table_add(&table, row)) < 0)
            break;
    }
    if (r == 0)
        put_section("Management chain", &table, "none (no line manager)");
    table_free(&table);
    return r;
}

/* ---- team ---- */

static int
print_team(struct session *session, const cJSON *reply)
{
    const cJSON *team = cJSON_GetObjectItemCaseSensitive(reply, "team");
    const cJSON *item;
    struct table members = {.columns = 4, .headers = {"Staff ID", "Name", "Role", "Line manager"}};
    struct table sub_teams = {.columns = 3, .headers = {"Team ID", "Name", "Manager"}};
    char line[512];
    int r = 0;

    (void)session;

    format_person(wire_get_string(team, "team_id"), wire_get_string(team, "name"), line,
                  sizeof(line));
    put_key_value("Team", line);
    put_key_value("Parent team", string_or(team, "parent_id", "none"));
    put_key_value("Team manager", string_or(team, "manager_id", "none"));
    if (cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(team, "known")))
        put_key_value("Note", "no team.changed event has described this team yet");

    cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(reply, "members"))
    {
        const char *manager_id = wire_get_string(item, "manager_id");
        char manager[300];
        const char *row[4] = {wire_get_string(item, "staff_id"), wire_get_string(item, "name"),
                              wire_get_string(item, "role"), manager};

        snprintf(manager, sizeof(manager), "%s%s", manager_id != NULL ? manager_id : "-",
                 manager_id != NULL ? manager_via_text(wire_get_string(item, "manager_via")) : "");

        if ((r = table_add(&members, row)) < 0)
            goto out;
    }
    cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(reply, "sub_teams"))
    {
        const char *row[3] = {wire_get_string(item, "team_id"), wire_get_string(item, "name"),
                              wire_get_string(item, "manager_id")};

        if ((r = table_add(&sub_teams, row)) < 0)
            goto out;
    }
    put_section("Team members", &members, "none");
    put_section("Sub-teams", &sub_teams, "none");
out:
    table_free(&members);
    table_free(&sub_teams);
    return r;
}

/* ---- reports ---- */

static int
print_reports(struct session *session, const cJSON *reply)
{
    const cJSON *manager = cJSON_GetObjectItemCaseSensitive(reply, "manager");
    const cJSON *item;
    struct table reports = {.columns = 5,
                            .headers = {"Staff ID", "Name", "Role", "Team", "Managed"}};
    char line[512];
    int r = 0;

    (void)session;

    if (cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(manager, "known")))
        snprintf(line, sizeof(line), "%s  (not known yet)", string_or(manager, "staff_id", "-"));
    else
        format_person(wire_get_string(manager, "staff_id"), wire_get_string(manager, "name"), line,
                      sizeof(line));
    put_key_value("Line manager", line);

    cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(reply, "reports"))
    {
        const char *via = wire_get_string(item, "via");
        const char *row[5] = {wire_get_string(item, "staff_id"), wire_get_string(item, "name"),
                              wire_get_string(item, "role"), wire_get_string(item, "team_id"),
                              via == NULL                    ? NULL
                              : strcmp(via, "explicit") == 0 ? "directly"
                              : strcmp(via, "team") == 0     ? "through the team"
                                                             : via};

        if ((r = table_add(&reports, row)) < 0)
            goto out;
    }
    put_section("Reports", &reports, "none");
out:
    table_free(&reports);
    return r;
}

/* ---- reviews: shared pieces ---- */

/* "2026-01-19 09:00 UTC" from "2026-01-19T09:00:00.000Z"; anything else as it is. */
static void
format_time(const char *rfc3339, char *buf, size_t size)
{
    size_t len = rfc3339 != NULL ? strlen(rfc3339) : 0;

    if (rfc3339 == NULL)
        snprintf(buf, size, "-");
    else if (len >= 17 && rfc3339[10] == 'T' && rfc3339[len - 1] == 'Z')
        snprintf(buf, size, "%.10s %.5s UTC", rfc3339, rfc3339 + 11);
    else
        snprintf(buf, size, "%s", rfc3339);
}

/* "Cara Jones (S1)", or the id alone. */
static void
format_named(const char *id, const char *name, char *buf, size_t size)
{
    if (name != NULL && id != NULL)
        snprintf(buf, size, "%s (%s)", name, id);
    else
        snprintf(buf, size, "%s", id != NULL ? id : name != NULL ? name : "-");
}

/* What an obligation is, in plain words: "Supervision", "Week 4 check-in (CON-7)". */
static void
format_what(const cJSON *obligation, char *buf, size_t size)
{
    const char *what = string_or(obligation, "what", string_or(obligation, "kind", "-"));
    const char *item = wire_get_string(obligation, "item");

    if (item != NULL && item[0] != '\0')
        snprintf(buf, size, "%s (%s)", what, item);
    else
        snprintf(buf, size, "%s", what);
}

/* "today", "tomorrow", "in 5 days", "3 days overdue", "paused (absent)"... */
static void
format_when(const cJSON *obligation, char *buf, size_t size)
{
    const cJSON *until = cJSON_GetObjectItemCaseSensitive(obligation, "days_until_due");
    const cJSON *overdue = cJSON_GetObjectItemCaseSensitive(obligation, "days_overdue");
    const char *state = string_or(obligation, "state", "");

    if (cJSON_IsNumber(overdue))
        snprintf(buf, size, "%.0f day%s overdue", overdue->valuedouble,
                 overdue->valuedouble == 1 ? "" : "s");
    else if (cJSON_IsNumber(until) && until->valuedouble == 0)
        snprintf(buf, size, "today");
    else if (cJSON_IsNumber(until) && until->valuedouble == 1)
        snprintf(buf, size, "tomorrow");
    else if (cJSON_IsNumber(until))
        snprintf(buf, size, "in %.0f days", until->valuedouble);
    else if (strcmp(state, "paused") == 0)
        snprintf(buf, size, "paused while absent");
    else
        snprintf(buf, size, "-");
}

/* A closed obligation's state in plain words. */
static const char *
state_text(const char *state)
{
    static const char *const names[][2] = {
        {"completed", "done"}, {"waived", "waived"}, {"cancelled", "cancelled"},
        {"missed", "missed"},  {"open", "to do"},    {"paused", "paused"},
    };

    for (size_t i = 0; state != NULL && i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(state, names[i][0]) == 0)
            return names[i][1];
    return state;
}

/*
 * The name of a staff member or a team, for a heading: asks the daemon with
 * op ("staff" or "team") and returns a copy of the name (the caller's to
 * free), or NULL when it is not known.  A failed look-up only leaves the
 * name out.
 */
static char *
look_up_name(struct session *session, const char *op, const char *field, const char *id)
{
    cJSON *request = wire_request_new(op, ++session->next_id);
    cJSON *reply = NULL;
    const char *name;
    char *copy = NULL;
    char err[256];

    if (request == NULL || id == NULL || cJSON_AddStringToObject(request, field, id) == NULL)
        goto out;
    if (client_call(session->client, request, session->options->timeout_ms, &reply, err,
                    sizeof(err)) < 0)
        goto out;
    name = wire_get_string(cJSON_GetObjectItemCaseSensitive(reply, op), "name");
    if (name != NULL)
        copy = strdup(name);
out:
    cJSON_Delete(reply);
    cJSON_Delete(request);
    return copy;
}

/* Prints a heading line, its names and ids made safe for a terminal. */
static void
put_line(const char *text)
{
    put_text(text);
    putchar('\n');
}

/* The note under a listing cut short by its limit. */
static void
put_truncated(const cJSON *reply, size_t shown)
{
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(reply, "truncated")))
        printf("\nOnly the first %zu are shown; use --limit to see more.\n", shown);
}

/*
 * Adds one row per obligation of a due or overdue listing: Person, What,
 * Due, Booked, then the days until it is due or the days it is overdue.
 */
static int
add_listing_rows(struct table *table, const cJSON *reply, const char *days_field)
{
    const cJSON *obligation;
    int r = 0;

    cJSON_ArrayForEach(obligation, cJSON_GetObjectItemCaseSensitive(reply, "obligations"))
    {
        char person[300], what[400], days[32];
        const char *row[5] = {person, what, wire_get_string(obligation, "due"),
                              wire_get_string(obligation, "booked"),
                              field_text(obligation, days_field, "-", days, sizeof(days))};

        format_named(wire_get_string(obligation, "staff_id"), wire_get_string(obligation, "name"),
                     person, sizeof(person));
        format_what(obligation, what, sizeof(what));
        if ((r = table_add(table, row)) < 0)
            break;
    }
    return r;
}

/*
 * Prints the heading with the count, then the table when it has rows.  A
 * listing cut short counts only one past the limit, so it says "more than"
 * the limit.
 */
static void
put_listing(const char *heading, const cJSON *reply, const struct table *table)
{
    bool truncated = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(reply, "truncated"));
    char line[700];

    snprintf(line, sizeof(line), "%s: %s%.0f", heading, truncated ? "more than " : "",
             number_or(reply, "count", 0) - (truncated ? 1 : 0));
    put_line(line);
    if (table->rows == 0)
        return;
    putchar('\n');
    table_print(table);
    put_truncated(reply, table->rows);
}

/* ---- due ---- */

static int
print_due(struct session *session, const cJSON *reply)
{
    const char *manager_id = string_or(reply, "manager_id", session->argument);
    char *manager_name = look_up_name(session, "staff", "staff_id", manager_id);
    double days = number_or(reply, "days", 14);
    struct table table = {.columns = 5,
                          .headers = {"Person", "What", "Due", "Booked", "In (days)"},
                          .right_aligned = {false, false, false, false, true}};
    char who[300], period[64], heading[500];
    int r = add_listing_rows(&table, reply, "days_until_due");

    if (manager_name != NULL)
        snprintf(who, sizeof(who), "%s (%s)", manager_id, manager_name);
    else
        snprintf(who, sizeof(who), "%s", manager_id);
    if (days == 0)
        snprintf(period, sizeof(period), "today");
    else
        snprintf(period, sizeof(period), "in the next %.0f day%s", days, days == 1 ? "" : "s");
    snprintf(heading, sizeof(heading), "Due for %s %s, as of %s", who, period,
             string_or(reply, "today", "-"));
    if (r == 0)
        put_listing(heading, reply, &table);
    table_free(&table);
    free(manager_name);
    return r;
}

/* ---- overdue ---- */

static int
print_overdue(struct session *session, const cJSON *reply)
{
    const char *manager_id = wire_get_string(reply, "manager_id");
    const char *team_id = wire_get_string(reply, "team_id");
    char *name = NULL;
    struct table table = {.columns = 5,
                          .headers = {"Person", "What", "Due", "Booked", "Overdue (days)"},
                          .right_aligned = {false, false, false, false, true}};
    char who[300], heading[500];
    int r = add_listing_rows(&table, reply, "days_overdue");

    if (manager_id != NULL) {
        name = look_up_name(session, "staff", "staff_id", manager_id);
        if (name != NULL)
            snprintf(who, sizeof(who), "for %s (%s)", manager_id, name);
        else
            snprintf(who, sizeof(who), "for %s", manager_id);
    } else if (team_id != NULL) {
        name = look_up_name(session, "team", "team_id", team_id);
        if (name != NULL)
            snprintf(who, sizeof(who), "in team %s (%s) and its sub-teams", team_id, name);
        else
            snprintf(who, sizeof(who), "in team %s and its sub-teams", team_id);
    } else {
        snprintf(who, sizeof(who), "in the whole organisation");
    }
    snprintf(heading, sizeof(heading), "Overdue %s, as of %s", who, string_or(reply, "today", "-"));
    if (r == 0)
        put_listing(heading, reply, &table);
    table_free(&table);
    free(name);
    return r;
}

/* ---- person ---- */

static int
print_person(struct session *session, const cJSON *reply)
{
    const cJSON *staff = cJSON_GetObjectItemCaseSensitive(reply, "staff");
    const char *left_date = wire_get_string(staff, "left_date");
    const cJSON *item;
    struct table to_do = {.columns = 5,
                          .headers = {"What", "Due", "Booked", "When", "Next notification"}};
    struct table history = {.columns = 5, .headers = {"What", "Due", "Outcome", "On", "Note"}};
    struct table absences = {.columns = 4, .headers = {"Absence", "Kind", "From", "To"}};
    char line[512];
    int r = 0;

    (void)session;
    format_person(wire_get_string(staff, "staff_id"), wire_get_string(staff, "name"), line,
                  sizeof(line));
    put_key_value("Staff member", line);
    put_key_value("Role", string_or(staff, "role", "-"));
    put_key_value("Team", string_or(staff, "team_id", "-"));
    put_key_value("Start date", string_or(staff, "start_date", "-"));
    if (left_date != NULL) {
        snprintf(line, sizeof(line), "left on %s", left_date);
        put_key_value("Status", line);
    } else {
        put_key_value("Status", "active");
    }
    put_key_value("As of", string_or(reply, "today", "-"));

    cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(reply, "obligations"))
    {
        const char *state = string_or(item, "state", "");
        char what[400], when[64], next[64];

        format_what(item, what, sizeof(what));
        if (strcmp(state, "open") == 0 || strcmp(state, "paused") == 0) {
            const char *row[5] = {what, wire_get_string(item, "due"),
                                  wire_get_string(item, "booked"), when, next};

            format_when(item, when, sizeof(when));
            format_time(wire_get_string(item, "next_notification_at"), next, sizeof(next));
            r = table_add(&to_do, row);
        } else {
            const char *row[5] = {what, wire_get_string(item, "due"), state_text(state),
                                  wire_get_string(item, "closed"), wire_get_string(item, "reason")};

            r = table_add(&history, row);
        }
        if (r < 0)
            goto out;
    }
    cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(reply, "absences"))
    {
        const char *end = wire_get_string(item, "end");
        const char *row[4] = {wire_get_string(item, "absence_id"), wire_get_string(item, "kind"),
                              wire_get_string(item, "start"), end != NULL ? end : "not ended yet"};

        if ((r = table_add(&absences, row)) < 0)
            goto out;
    }
    put_section("Still to do", &to_do, "nothing");
    put_section("Done and closed", &history, "nothing yet");
    put_section("Absences", &absences, "none");
out:
    table_free(&to_do);
    table_free(&history);
    table_free(&absences);
    return r;
}

/* ---- notifications ---- */

/* Writes text wrapped at CTL_WRAP_COLUMN, each line indented by indent spaces. */
static void
put_wrapped(const char *text, size_t indent)
{
    const char *p = text;
    size_t column = 0;

    while (*p != '\0') {
        const char *end;
        size_t len, width;
        char word[512];

        while (*p == ' ')
            p++;
        if (*p == '\0')
            break;
        end = strchr(p, ' ');
        len = end != NULL ? (size_t)(end - p) : strlen(p);
        snprintf(word, sizeof(word), "%.*s", (int)(len < sizeof(word) ? len : sizeof(word) - 1), p);
        width = display_width(word);
        if (column > 0 && column + 1 + width > CTL_WRAP_COLUMN) {
            putchar('\n');
            column = 0;
        }
        if (column == 0) {
            put_padding(indent);
            column = indent;
        } else {
            putchar(' ');
            column++;
        }
        put_text(word);
        column += width;
        p += len;
    }
    if (column > 0)
        putchar('\n');
}

/*
 * One notification for a person:
 *   #12  Reminder to M1, sent 2026-01-19 09:00 UTC
 *        Supervision for Cara Jones is due on ...
 */
static void
print_notification(const cJSON *notification)
{
    const char *type = string_or(notification, "type", "notification");
    const char *acked_at = wire_get_string(notification, "acked_at");
    char seq[32], level[32], sent[64], line[600];

    field_text(notification, "seq", "?", seq, sizeof(seq));
    if (strcmp(type, "escalation") == 0)
        snprintf(level, sizeof(level), "Escalation (level %.0f)",
                 number_or(notification, "level", 0));
    else if (strcmp(type, "reminder") == 0)
        snprintf(level, sizeof(level), "Reminder");
    else
        snprintf(level, sizeof(level), "%s", type);
    format_time(wire_get_string(notification, "created_at"), sent, sizeof(sent));
    snprintf(line, sizeof(line), "#%s  %s to %s, sent %s", seq, level,
             string_or(notification, "recipient_id", "-"), sent);
    put_line(line);
    put_wrapped(string_or(notification, "text", "(no text)"), CTL_TEXT_INDENT);
    if (acked_at != NULL) {
        const char *by = wire_get_string(notification, "acked_by");

        format_time(acked_at, sent, sizeof(sent));
        snprintf(line, sizeof(line), "Acknowledged %s%s%s", sent, by != NULL ? " by " : "",
                 by != NULL ? by : "");
        put_padding(CTL_TEXT_INDENT);
        put_line(line);
    }
}

static int
print_notifications(struct session *session, const cJSON *reply)
{
    const struct options *options = session->options;
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(reply, "notifications");
    const cJSON *notification;
    int count = cJSON_GetArraySize(list);
    int64_t last_shown = options->after;
    char last[32], heading[400];

    snprintf(heading, sizeof(heading),
             "Notifications after number %lld%s%s: %d (the latest sent "
             "is number %s)",
             options->after, options->recipient_id != NULL ? " sent to " : "",
             options->recipient_id != NULL ? options->recipient_id : "", count,
             field_text(reply, "last_seq", "-", last, sizeof(last)));
    put_line(heading);
    cJSON_ArrayForEach(notification, list)
    {
        putchar('\n');
        print_notification(notification);
        last_shown = (int64_t)number_or(notification, "seq", (double)last_shown);
    }
    if (count > 0 && count >= ((options->given & OPT_LIMIT) ? options->limit : 100))
        printf("\nThere may be more: carehubctl notifications --after %lld\n",
               (long long)last_shown);
    return 0;
}

/* ---- ack, clock ---- */

static int
print_ack(struct session *session, const cJSON *reply)
{
    char seq[32];

    (void)session;
    printf("Notification %s is acknowledged.\n", field_text(reply, "seq", "?", seq, sizeof(seq)));
    return 0;
}

static int
print_clock(struct session *session, const cJSON *reply)
{
    char line[128];

    (void)session;
    snprintf(line, sizeof(line), "%s (%s)", string_or(reply, "now", "-"),
             cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(reply, "test_clock"))
                 ? "a test clock"
                 : "the real clock");
    put_key_value("Now", line);
    put_key_value("Today", string_or(reply, "today", "-"));
    put_key_value("Next action", string_or(reply, "next_action_at", "none planned"));
    return 0;
}

/* ---- requests ---- */

static int
add_number(cJSON *request, const char *name, long long value)
{
    return cJSON_AddNumberToObject(request, name, (double)value) != NULL ? 0 : -ENOMEM;
}

static int
add_string(cJSON *request, const char *name, const char *value)
{
    return cJSON_AddStringToObject(request, name, value) != NULL ? 0 : -ENOMEM;
}

static int
build_due(const struct session *session, cJSON *request)
{
    const struct options *options = session->options;
    int r = add_string(request, "manager_id", session->argument);

    if (r == 0 && (options->given & OPT_DAYS))
        r = add_number(request, "days", options->days);
    if (r == 0 && (options->given & OPT_LIMIT))
        r = add_number(request, "limit", options->limit);
    return r;
}

static int
build_overdue(const struct session *session, cJSON *request)
{
    const struct options *options = session->options;
    int r = 0;

    if (options->given & OPT_MANAGER)
        r = add_string(request, "manager_id", options->manager_id);
    if (r == 0 && (options->given & OPT_TEAM))
        r = add_string(request, "team_id", options->team_id);
    if (r == 0 && (options->given & OPT_LIMIT))
        r = add_number(request, "limit", options->limit);
    return r;
}

static int
build_notifications(const struct session *session, cJSON *request)
{
    const struct options *options = session->options;
    int r = 0;

    if (options->given & OPT_AFTER)
        r = add_number(request, "after", options->after);
    if (r == 0 && (options->given & OPT_LIMIT))
        r = add_number(request, "limit", options->limit);
    if (r == 0 && (options->given & OPT_RECIPIENT))
        r = add_string(request, "recipient_id", options->recipient_id);
    return r;
}

static int
build_ack(const struct session *session, cJSON *request)
{
    /* The argument was checked to be a whole number by check_argument(). */
    int r = add_number(request, "seq", strtoll(session->argument, NULL, 10));

    if (r == 0 && (session->options->given & OPT_BY))
        r = add_string(request, "by", session->options->by);
    return r;
}

static int
build_clock(const struct session *session, cJSON *request)
{
    const struct options *options = session->options;

    if (options->given & OPT_SET)
        return add_string(request, "set", options->set);
    if (options->given & OPT_ADVANCE)
        return add_number(request, "advance_seconds", options->advance);
    return 0;
}

/* ---- watch ---- */

/*
 * Blocks SIGINT and SIGTERM and returns a descriptor that becomes readable
 * when one arrives, for zmq_poll(); or a negative errno code.  Called before
 * any ZeroMQ context exists, so that ZeroMQ's threads inherit the blocked
 * signals and every one of them waits for the descriptor.
 */
static int
open_signal_fd(void)
{
    sigset_t signals;
    int fd;

    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    if (sigprocmask(SIG_BLOCK, &signals, NULL) < 0)
        return -errno;
    fd = signalfd(-1, &signals, SFD_NONBLOCK | SFD_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

/* Prints one followed notification and flushes it, so that a reader sees it at once. */
static int
print_watched(const struct options *options, const cJSON *notification)
{
    if (options->json) {
        char *text = cJSON_PrintUnformatted(notification);

        if (text == NULL)
            return -ENOMEM;
        puts(text);
        free(text);
    } else {
        print_notification(notification);
        putchar('\n');
    }
    return fflush(stdout) == 0 ? 0 : -errno;
}

/*
 * Follows notifications until a signal comes (or --count are printed):
 * subscribes first, then catches up through the API, then takes what the
 * subscription announces, fetching each full record through the API
 * (client_follower_*).  After a quiet spell it asks the API again, in case
 * the last message before it was lost.  Returns an exit status.
 */
static int
run_watch(struct session *session, const char *notify_endpoint, int signal_fd)
{
    const struct options *options = session->options;
    struct client_follower *follower = NULL;
    long long printed = 0;
    int64_t quiet_since;
    char err[512];
    int status = EXIT_FAILURE_LOCAL;
    int r;

    r = client_follower_open(&follower, session->client, notify_endpoint,
                             (options->given & OPT_RECIPIENT) ? options->recipient_id : NULL,
                             options->timeout_ms, signal_fd, err, sizeof(err));
    if (r == -EINTR)
        return EXIT_OK; /* stopped by a signal before it started */
    if (r < 0) {
        fprintf(stderr, "carehubctl: %s\n", err);
        return EXIT_FAILURE_LOCAL;
    }
    r = client_follower_start(follower,
                              (options->given & OPT_AFTER) ? options->after : CLIENT_FOLLOW_NEW);
    if (r < 0)
        goto failed;
    quiet_since = client_now_ms();
    for (;;) {
        zmq_pollitem_t items[2] = {
            {.socket = client_follower_socket(follower), .events = ZMQ_POLLIN},
            {.fd = signal_fd, .events = ZMQ_POLLIN},
        };
        cJSON *notification;

        while ((r = client_follower_next(follower, &notification)) == 1) {
            r = print_watched(options, notification);
            cJSON_Delete(notification);
            if (r < 0) {
                fprintf(stderr, "carehubctl: cannot write the output: %s\n", strerror(-r));
                goto out;
            }
            printed++;
            if ((options->given & OPT_COUNT) && printed >= options->count) {
                status = EXIT_OK;
                goto out;
            }
        }
        if (r < 0)
            goto failed;
        if (zmq_poll(items, 2, CTL_WATCH_POLL_MS) < 0 && zmq_errno() != EINTR) {
            fprintf(stderr, "carehubctl: cannot wait for notifications: %s\n",
                    zmq_strerror(zmq_errno()));
            goto out;
        }
        if (items[1].revents & ZMQ_POLLIN) {
            status = EXIT_OK; /* SIGINT or SIGTERM: a normal way to stop */
            goto out;
        }
        if (items[0].revents & ZMQ_POLLIN) {
            r = client_follower_receive(follower);
            if (r < 0) {
                fprintf(stderr, "carehubctl: cannot read notifications: %s\n", zmq_strerror(-r));
                goto out;
            }
            quiet_since = client_now_ms();
        } else if (client_now_ms() - quiet_since >= CTL_WATCH_RECHECK_MS) {
            client_follower_recheck(follower);
            quiet_since = client_now_ms();
        }
    }
failed:
    fprintf(stderr, "carehubctl: %s\n", client_follower_error(follower));
    status = r == -EREMOTEIO ? EXIT_DAEMON_ERROR : EXIT_FAILURE_LOCAL;
out:
    client_follower_close(follower);
    return status;
}

/* ---- command line ---- */

struct command {
    const char *name;
    const char *synopsis; /* as in usage() */
    const char *argument; /* what its one argument is ("MANAGER_ID"); NULL: it takes none */
    const char *id_field; /* the request field the argument goes in; NULL: build() puts it */
    unsigned options;     /* the command options it takes */
    int (*build)(const struct session *session, cJSON *request); /* NULL: nothing more */
    int (*print)(struct session *session, const cJSON *reply);   /* NULL: watch */
};

static const struct command commands[] = {
    {"status", "status", NULL, NULL, 0, NULL, print_status},
    {"staff", "staff ID", "ID", "staff_id", 0, NULL, print_staff},
    {"team", "team ID", "ID", "team_id", 0, NULL, print_team},
    {"reports", "reports ID", "ID", "manager_id", 0, NULL, print_reports},
    {"due", "due MANAGER_ID [--days N] [--limit N]", "MANAGER_ID", "manager_id",
     OPT_DAYS | OPT_LIMIT, build_due, print_due},
    {"overdue", "overdue [--manager ID | --team ID] [--limit N]", NULL, NULL,
     OPT_MANAGER | OPT_TEAM | OPT_LIMIT, build_overdue, print_overdue},
    {"person", "person STAFF_ID", "STAFF_ID", "staff_id", 0, NULL, print_person},
    {"notifications", "notifications [--after SEQ] [--limit N] [--recipient ID]", NULL, NULL,
     OPT_AFTER | OPT_LIMIT | OPT_RECIPIENT, build_notifications, print_notifications},
    {"ack", "ack SEQ [--by STAFF_ID]", "SEQ", NULL, OPT_BY, build_ack, print_ack},
    {"watch", "watch [--recipient ID] [--after SEQ] [--count N]", NULL, NULL,
     OPT_RECIPIENT | OPT_AFTER | OPT_COUNT, NULL, NULL},
    {"clock", "clock [--set TIME | --advance SECONDS]", NULL, NULL, OPT_SET | OPT_ADVANCE,
     build_clock, print_clock},
};

/* getopt_long() codes of the options without a short form. */
enum long_option {
    LONG_JSON = 256,
    LONG_TIMEOUT,
    LONG_DAYS,
    LONG_LIMIT,
    LONG_MANAGER,
    LONG_TEAM,
    LONG_AFTER,
    LONG_RECIPIENT,
    LONG_BY,
    LONG_SET,
    LONG_ADVANCE,
    LONG_COUNT,
};

static const struct {
    unsigned bit;
    const char *name;
} option_names[] = {
    {OPT_DAYS, "--days"},   {OPT_LIMIT, "--limit"}, {OPT_MANAGER, "--manager"},
    {OPT_TEAM, "--team"},   {OPT_AFTER, "--after"}, {OPT_RECIPIENT, "--recipient"},
    {OPT_BY, "--by"},       {OPT_SET, "--set"},     {OPT_ADVANCE, "--advance"},
    {OPT_COUNT, "--count"},
};

static int
parse_seconds_ms(const char *text, int *out_ms)
{
    char *end;
    double value;

    errno = 0;
    value = strtod(text, &end);
    if (errno != 0 || end == text || *end != '\0' || !(value > 0) || value > 86400)
        return -EINVAL;
    *out_ms = (int)(value * 1000.0 + 0.5);
    if (*out_ms == 0)
        *out_ms = 1;
    return 0;
}

/* A whole number written in decimal digits, from min to max. */
static int
parse_whole(const char *text, long long min, long long max, long long *out)
{
    char *end;
    long long value;

    if (text[0] < '0' || text[0] > '9')
        return -EINVAL;
    errno = 0;
    value = strtoll(text, &end, 10);
    if (errno != 0 || *end != '\0' || value < min || value > max)
        return -EINVAL;
    *out = value;
    return 0;
}

static int
parse_number_option(const char *name, const char *text, long long min, long long max,
                    long long *out)
{
    if (parse_whole(text, min, max, out) == 0)
        return 0;
    fprintf(stderr, "carehubctl: %s wants a whole number from %lld to %lld, not \"%s\"\n", name,
            min, max, text);
    return -EINVAL;
}

static int
parse_id_option(const char *name, const char *text, const char **out)
{
    if (text[0] == '\0') {
        fprintf(stderr, "carehubctl: %s wants an id, not an empty string\n", name);
        return -EINVAL;
    }
    *out = text;
    return 0;
}

/* Reads one command option into options. */
static int
parse_command_option(int code, const char *arg, struct options *options)
{
    int64_t unix_ms;

    switch (code) {
    case LONG_DAYS:
        options->given |= OPT_DAYS;
        return parse_number_option("--days", arg, 0, CTL_DAYS_MAX, &options->days);
    case LONG_LIMIT:
        options->given |= OPT_LIMIT;
        return parse_number_option("--limit", arg, 1, CTL_LIMIT_MAX, &options->limit);
    case LONG_AFTER:
        options->given |= OPT_AFTER;
        return parse_number_option("--after", arg, 0, CTL_SEQ_MAX, &options->after);
    case LONG_COUNT:
        options->given |= OPT_COUNT;
        return parse_number_option("--count", arg, 1, CTL_SEQ_MAX, &options->count);
    case LONG_ADVANCE:
        options->given |= OPT_ADVANCE;
        return parse_number_option("--advance", arg, 0, CTL_SEQ_MAX, &options->advance);
    case LONG_MANAGER:
        options->given |= OPT_MANAGER;
        return parse_id_option("--manager", arg, &options->manager_id);
    case LONG_TEAM:
        options->given |= OPT_TEAM;
        return parse_id_option("--team", arg, &options->team_id);
    case LONG_RECIPIENT:
        options->given |= OPT_RECIPIENT;
        return parse_id_option("--recipient", arg, &options->recipient_id);
    case LONG_BY:
        options->given |= OPT_BY;
        return parse_id_option("--by", arg, &options->by);
    case LONG_SET:
        options->given |= OPT_SET;
        if (timefmt_parse_rfc3339(arg, &unix_ms) < 0) {
            fprintf(stderr,
                    "carehubctl: --set wants an RFC 3339 time such as 2026-01-05T08:00:00Z, "
                    "not \"%s\"\n",
                    arg);
            return -EINVAL;
        }
        options->set = arg;
        return 0;
    }
    return -EINVAL;
}

static int
parse_options(int argc, char **argv, struct options *options)
{
    static const struct option long_options[] = {
        {"endpoint", required_argument, NULL, 'e'},
        {"notify", required_argument, NULL, 'n'},
        {"json", no_argument, NULL, LONG_JSON},
        {"timeout", required_argument, NULL, LONG_TIMEOUT},
        {"help", no_argument, NULL, 'h'},
        {"days", required_argument, NULL, LONG_DAYS},
        {"limit", required_argument, NULL, LONG_LIMIT},
        {"manager", required_argument, NULL, LONG_MANAGER},
        {"team", required_argument, NULL, LONG_TEAM},
        {"after", required_argument, NULL, LONG_AFTER},
        {"recipient", required_argument, NULL, LONG_RECIPIENT},
        {"by", required_argument, NULL, LONG_BY},
        {"set", required_argument, NULL, LONG_SET},
        {"advance", required_argument, NULL, LONG_ADVANCE},
        {"count", required_argument, NULL, LONG_COUNT},
        {NULL, 0, NULL, 0},
    };
    int c;

    options->timeout_ms = (int)(CTL_DEFAULT_TIMEOUT_S * 1000);
    while ((c = getopt_long(argc, argv, "e:n:h", long_options, NULL)) != -1) {
        switch (c) {
        case 'e':
            options->endpoint = optarg;
            break;
        case 'n':
            options->notify_endpoint = optarg;
            break;
        case LONG_JSON:
            options->json = true;
            break;
        case LONG_TIMEOUT:
            if (parse_seconds_ms(optarg, &options->timeout_ms) < 0) {
                fprintf(stderr, "carehubctl: --timeout wants a number of seconds above 0\n");
                return -EINVAL;
            }
            break;
        case 'h':
            usage(stdout);
            exit(EXIT_OK);
        case '?':
            usage(stderr);
            return -EINVAL;
        default:
            if (parse_command_option(c, optarg, options) < 0)
                return -EINVAL;
            break;
        }
    }
    return 0;
}

/* Checks the command's argument: present when it needs one, and well formed. */
static int
check_argument(const struct command *command, int count, char **arguments)
{
    long long seq;

    if (command->argument != NULL && count == 0) {
        fprintf(stderr, "carehubctl: %s needs %s (usage: carehubctl %s)\n", command->name,
                command->argument, command->synopsis);
        return -EINVAL;
    }
    if (count > (command->argument != NULL ? 1 : 0)) {
        fprintf(stderr, "carehubctl: too many arguments for %s (usage: carehubctl %s)\n",
                command->name, command->synopsis);
        return -EINVAL;
    }
    if (command->argument == NULL)
        return 0;
    if (arguments[0][0] == '\0') {
        fprintf(stderr, "carehubctl: the %s must not be empty\n", command->argument);
        return -EINVAL;
    }
    if (command->id_field == NULL && parse_whole(arguments[0], 1, CTL_SEQ_MAX, &seq) < 0) {
        fprintf(stderr, "carehubctl: %s wants %s as a whole number from 1, not \"%s\"\n",
                command->name, command->argument, arguments[0]);
        return -EINVAL;
    }
    return 0;
}

/* Checks that every command option given belongs to the command, and that they go together. */
static int
check_command_options(const struct command *command, const struct options *options)
{
    for (size_t i = 0; i < sizeof(option_names) / sizeof(option_names[0]); i++) {
        if ((options->given & option_names[i].bit) && !(command->options & option_names[i].bit)) {
            fprintf(stderr, "carehubctl: %s does not go with %s (usage: carehubctl %s)\n",
                    option_names[i].name, command->name, command->synopsis);
            return -EINVAL;
        }
    }
    if ((options->given & OPT_MANAGER) && (options->given & OPT_TEAM)) {
        fprintf(stderr, "carehubctl: give --manager or --team (or neither, for the whole "
                        "organisation), not both\n");
        return -EINVAL;
    }
    if ((options->given & OPT_SET) && (options->given & OPT_ADVANCE)) {
        fprintf(stderr, "carehubctl: give --set or --advance, not both\n");
        return -EINVAL;
    }
    return 0;
}

/* Finds the command named by the arguments left after the options, and checks its arguments. */
static const struct command *
parse_command(int argc, char **argv, const struct options *options)
{
    const struct command *command = NULL;

    if (argc - optind < 1) {
        fprintf(stderr, "carehubctl: no command given\n");
        usage(stderr);
        return NULL;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(argv[optind], commands[i].name) == 0)
            command = &commands[i];
    if (command == NULL) {
        fprintf(stderr, "carehubctl: unknown command: %s\n", argv[optind]);
        usage(stderr);
        return NULL;
    }
    if (check_argument(command, argc - optind - 1, argv + optind + 1) < 0 ||
        check_command_options(command, options) < 0)
        return NULL;
    return command;
}

/* Builds the request of a command; NULL when memory runs out. */
static cJSON *
build_request(const struct command *command, struct session *session)
{
    cJSON *request = wire_request_new(command->name, ++session->next_id);

    if (request == NULL)
        return NULL;
    if ((command->id_field != NULL &&
         cJSON_AddStringToObject(request, command->id_field, session->argument) == NULL) ||
        (command->build != NULL && command->build(session, request) < 0)) {
        cJSON_Delete(request);
        return NULL;
    }
    return request;
}

/* Sends the command's request and prints the reply.  Returns an exit status. */
static int
run_request(const struct command *command, struct session *session)
{
    cJSON *request = build_request(command, session);
    cJSON *reply = NULL;
    char err[512];
    int status = EXIT_FAILURE_LOCAL;
    int r;

    if (request == NULL) {
        fprintf(stderr, "carehubctl: out of memory\n");
        return EXIT_FAILURE_LOCAL;
    }
    r = client_call(session->client, request, session->options->timeout_ms, &reply, err,
                    sizeof(err));
    if (session->options->json && (r == 0 || r == -EREMOTEIO)) {
        char *text = cJSON_Print(reply);

        if (text == NULL) {
            fprintf(stderr, "carehubctl: out of memory\n");
            goto out;
        }
        puts(text);
        free(text);
    }
    if (r < 0) {
        fprintf(stderr, "carehubctl: %s\n", err);
        status = r == -EREMOTEIO ? EXIT_DAEMON_ERROR : EXIT_FAILURE_LOCAL;
        goto out;
    }
    if (!session->options->json && command->print(session, reply) < 0) {
        fprintf(stderr, "carehubctl: out of memory\n");
        goto out;
    }
    status = EXIT_OK;
out:
    cJSON_Delete(reply);
    cJSON_Delete(request);
    return status;
}

int
main(int argc, char **argv)
{
    struct options options = {0};
    struct session session = {&options, NULL, NULL, 0};
    const struct command *command;
    const char *endpoint, *notify_endpoint = NULL;
    int signal_fd = -1;
    char err[256];
    int status = EXIT_FAILURE_LOCAL;

    if (parse_options(argc, argv, &options) < 0 ||
        (command = parse_command(argc, argv, &options)) == NULL)
        goto out;
    if (command->argument != NULL)
        session.argument = argv[optind + 1];
    endpoint = client_endpoint(options.endpoint);
    if (endpoint == NULL) {
        fprintf(stderr, "carehubctl: no endpoint: use -e ENDPOINT or set %s\n",
                CLIENT_ENDPOINT_ENV);
        goto out;
    }
    if (command->print == NULL) {
        notify_endpoint = client_notify_endpoint(options.notify_endpoint);
        if (notify_endpoint == NULL) {
            fprintf(stderr, "carehubctl: no notification endpoint: use -n ENDPOINT or set %s\n",
                    CLIENT_NOTIFY_ENDPOINT_ENV);
            goto out;
        }
        signal_fd = open_signal_fd();
        if (signal_fd < 0) {
            fprintf(stderr, "carehubctl: cannot watch for signals: %s\n", strerror(-signal_fd));
            goto out;
        }
    }
    if (client_open(&session.client, endpoint, 0, err, sizeof(err)) < 0) {
        fprintf(stderr, "carehubctl: %s\n", err);
        goto out;
    }
    if (command->print == NULL)
        status = run_watch(&session, notify_endpoint, signal_fd);
    else
        status = run_request(command, &session);
out:
    client_close(session.client);
    if (signal_fd >= 0)
        close(signal_fd);
    if (fflush(stdout) != 0 && status == EXIT_OK)
        status = EXIT_FAILURE_LOCAL;
    return status;
}

/*
 * carehubctl: asks carehubd about itself, its staff directory, the reviews
 * it keeps track of and the KPI figures of its teams, and follows its
 * notifications.
 *
 * One request per run, except watch, which follows the notification socket
 * until it is interrupted.  By default the reply is laid out for a person (a
 * line manager checking a team, an administrator checking the daemon); with
 * --json the reply itself is printed, pretty, for programs (watch prints
 * each notification as one line of JSON).  kpi also writes CSV and the
 * Prometheus text format, from pure formatting functions (sparklines, CSV
 * quoting, label escaping, rounding) kept apart from the printing.
 * calendar writes a manager's reviews as an iCalendar file (clients/calendar.h)
 * from three requests, instead of printing one reply.  backup has the daemon
 * write a copy of its database to a file.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <zmq.h>

#include "calendar.h"
#include "client.h"
#include "keyfile.h"
#include "timefmt.h"
#include "wire.h"

#define CTL_DEFAULT_TIMEOUT_S 10.0
#define CTL_TABLE_MAX_COLUMNS 8
/* Width of the key column of key-value output. */
#define CTL_KEY_WIDTH 18
/* Where notification texts are wrapped, and how far they are indented. */
#define CTL_WRAP_COLUMN 78
#define CTL_TEXT_INDENT 4
/* The daemon's ranges (docs/protocol.md), checked here too so that a mistake is a usage error. */
#define CTL_DAYS_MAX 366
#define CTL_LIMIT_MAX 10000
#define CTL_SEQ_MAX 9007199254740992LL /* 2^53 */
#define CTL_PERIODS_MAX 60             /* periods of one kpi request */
#define CTL_DEPTH_MAX 64               /* the deepest team tree (events.md, team_cycle) */
/* watch: how long one wait lasts, and after how long a quiet spell the API is asked again. */
#define CTL_WATCH_POLL_MS 1000
#define CTL_WATCH_RECHECK_MS 5000
/* calendar: how far ahead it looks by default, and what ends its UIDs by default. */
#define CTL_CALENDAR_DAYS 28
#define CTL_CALENDAR_DOMAIN "carehub.invalid"
#define CTL_DOMAIN_MAX 253 /* the longest DNS name */
/* backup: how long the copy is waited for without --timeout (a large database takes a while). */
#define CTL_BACKUP_TIMEOUT_S 3600

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
    OPT_METRIC = 1u << 10,
    OPT_PERIOD = 1u << 11,
    OPT_AT = 1u << 12,
    OPT_PERIODS = 1u << 13,
    OPT_DEPTH = 1u << 14,
    OPT_CSV = 1u << 15,
    OPT_PROMETHEUS = 1u << 16,
    OPT_OUTPUT = 1u << 17,
    OPT_DOMAIN = 1u << 18,
    OPT_OVERWRITE = 1u << 19,
    OPT_DIR = 1u << 20,
};

struct options {
    const char *endpoint;
    const char *notify_endpoint;
    bool json;
    int timeout_ms;
    bool timeout_given; /* --timeout: backup waits that long instead of CTL_BACKUP_TIMEOUT_S */
    unsigned given;     /* the command options given (enum command_option) */
    long long days, limit, after, count, advance, periods, depth;
    const char *manager_id, *team_id, *recipient_id, *by, *set, *metric, *period, *at;
    const char *output, *domain;
    const char *dir;        /* keygen --dir */
    const char *key_file;   /* --key-file, else $CAREHUB_KEY_FILE */
    const char *server_key; /* --server-key, else $CAREHUB_SERVER_KEY */
};

static void
usage(FILE *out)
{
    fprintf(out,
            "usage: carehubctl [-e ENDPOINT] [-n ENDPOINT] [--key-file FILE]\n"
            "                  [--server-key KEY] [--json] [--timeout SECONDS]\n"
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
            "  calendar --manager ID [--days N] [--output FILE] [--domain DOMAIN]\n"
            "               the manager's reviews as an iCalendar file, to import into\n"
            "               Outlook, Google Calendar or Thunderbird: booked ones as\n"
            "               all-day events, the others (overdue ones too) as to-dos;\n"
            "               those due from today to N days ahead (0 to %d, default %d)\n"
            "               and every overdue one; written to FILE (default: standard\n"
            "               output), with UIDs ending in @DOMAIN (default %s)\n"
            "  person STAFF_ID\n"
            "               a staff member's reviews and actions, still to do and done,\n"
            "               and their absences\n"
            "  notifications [--after SEQ] [--limit N] [--recipient ID]\n"
            "               the reminders, escalations and KPI alerts sent, oldest\n"
            "               first: those numbered after SEQ (default 0), at most N (1 to\n"
            "               %d, default 100), only those sent to ID\n"
            "  audit STAFF_ID [--after SEQ] [--limit N]\n"
            "               the changes carehubd made to a staff member's records,\n"
            "               oldest first, each with its cause (an event, the schedule,\n"
            "               retention): those numbered after SEQ (default 0), at most\n"
            "               N (1 to 10000, default 100)\n"
            "  ack SEQ [--by STAFF_ID]\n"
            "               record that notification SEQ has been seen (and by whom)\n"
            "  watch [--recipient ID] [--after SEQ] [--count N]\n"
            "               print notifications as they are sent, until interrupted\n"
            "               (or after N of them): every one, or only those sent to ID;\n"
            "               with --after, first those numbered after SEQ\n"
            "  kpi [--team ID] [--metric NAME] [--period PERIOD] [--at LABEL]\n"
            "      [--periods N] [--depth N] [--csv | --prometheus]\n"
            "               KPI figures against their targets and benchmarks, with their\n"
            "               status (green, amber, red) and trend over the periods:\n"
            "               --team ID      a team and its sub-teams (default: the whole\n"
            "                              organisation)\n"
            "               --depth N      only N levels of sub-teams (default: all)\n"
            "               --metric NAME  one metric (default: all)\n"
            "               --period PERIOD  day, week, month, quarter or year\n"
            "                              (default: each metric's alert period)\n"
            "               --at LABEL     the latest period: the one holding a date\n"
            "                              (2026-11-22), or, for that kind of period, a\n"
            "                              month (2026-11), a quarter (2026-Q4) or a year\n"
            "                              (2026); default today\n"
            "               --periods N    how many periods up to it (1 to %d, default 6)\n"
            "               --csv          every period as CSV (RFC 4180)\n"
            "               --prometheus   the latest period in the Prometheus text\n"
            "                              format, for node_exporter's textfile collector\n"
            "  clock [--set TIME | --advance SECONDS]\n"
            "               the daemon's time; for tests only, set it (an RFC 3339 time)\n"
            "               or move it on, on a daemon started with --test-clock\n"
            "  backup FILE [--overwrite]\n"
            "               a consistent copy of the daemon's database, taken while it\n"
            "               goes on working, written to FILE by the daemon itself: the\n"
            "               user carehubd runs as must be able to write there, and a\n"
            "               relative FILE is taken from the current directory; an\n"
            "               existing FILE is replaced only with --overwrite\n"
            "  keygen NAME [--dir DIR]\n"
            "               make a CURVE key pair for a client (or for carehubd): writes\n"
            "               DIR/NAME.key (the pair, mode 0600: keep it secret) and\n"
            "               DIR/NAME.pub (the public key), never over existing files,\n"
            "               and prints the line to add to the authorised-keys file\n"
            "               (DIR: default the current directory; needs no daemon)\n"
            "\n"
            "Options:\n"
            "  -e, --endpoint ENDPOINT  the daemon's API socket (default: $%s)\n"
            "  -n, --notify ENDPOINT    the daemon's notification socket, for watch\n"
            "                           (default: $%s)\n"
            "      --key-file FILE      this client's CURVE key pair, made with keygen\n"
            "                           (default: $%s)\n"
            "      --server-key KEY     the daemon's public key: 40 characters of Z85 or a\n"
            "                           file holding it (default: $%s); with --key-file,\n"
            "                           every connection (watch's too) uses CURVE\n"
            "      --json               print the daemon's reply as JSON (watch: each\n"
            "                           notification as one line of JSON; not with\n"
            "                           calendar)\n"
            "      --timeout SECONDS    how long to wait for each reply (default %g;\n"
            "                           for the copy of backup, %d)\n"
            "  -h, --help               print this help\n"
            "\n"
            "Exit status: 0 success (watch: also when stopped by SIGINT or SIGTERM),\n"
            "1 the daemon answered with an error (such as not_found), 2 usage or\n"
            "connection error, no reply in time, or (calendar) the file cannot be written.\n",
            CTL_DAYS_MAX, CTL_DAYS_MAX, CTL_CALENDAR_DAYS, CTL_CALENDAR_DOMAIN, CTL_LIMIT_MAX,
            CTL_PERIODS_MAX, CLIENT_ENDPOINT_ENV, CLIENT_NOTIFY_ENDPOINT_ENV, CLIENT_KEY_FILE_ENV,
            CLIENT_SERVER_KEY_ENV, CTL_DEFAULT_TIMEOUT_S, CTL_BACKUP_TIMEOUT_S);
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
    /*
     * The terminal colour (an SGR escape sequence) to show a cell in, or
     * NULL for none; a NULL function colours nothing.  Headers are never
     * coloured.
     */
    const char *(*colour)(size_t column, const char *cell);
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

/* The escape sequence that ends a colour. */
#define CTL_COLOUR_RESET "\033[0m"

/* Prints one cell padded to width; colour (an SGR sequence, or NULL) covers the text only. */
static void
put_cell(const char *text, size_t width, bool right_aligned, bool last, const char *colour)
{
    size_t used = display_width(text);
    size_t pad = used < width ? width - used : 0;

    if (right_aligned)
        put_padding(pad);
    if (colour != NULL)
        fputs(colour, stdout);
    put_text(text);
    if (colour != NULL)
        fputs(CTL_COLOUR_RESET, stdout);
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
        put_cell(table->headers[c], width[c], table->right_aligned[c], c + 1 == table->columns,
                 NULL);
    putchar('\n');
    for (size_t r = 0; r < table->rows; r++) {
        fputs("  ", stdout);
        for (size_t c = 0; c < table->columns; c++) {
            const char *cell = table->cells[r * table->columns + c];

            put_cell(cell, width[c], table->right_aligned[c], c + 1 == table->columns,
                     table->colour != NULL ? table->colour(c, cell) : NULL);
        }
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

/* What a KPI alert's level says: the team's new state. */
static const char *
alert_level_text(double level)
{
    if (level == 0)
        return "back to green";
    if (level == 1)
        return "amber";
    if (level == 2)
        return "red";
    return "?";
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
    else if (strcmp(type, "alert") == 0)
        snprintf(level, sizeof(level), "KPI alert (%s)",
                 alert_level_text(number_or(notification, "level", -1)));
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

/* ---- audit ---- */

static int
print_audit(struct session *session, const cJSON *reply)
{
    const struct options *options = session->options;
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(reply, "audit");
    const cJSON *row;
    int count = cJSON_GetArraySize(list);
    char heading[400], line[600], seq[32], event_seq[32];

    snprintf(heading, sizeof(heading), "Changes to the records of %s after number %lld: %d",
             session->argument, options->after, count);
    put_line(heading);
    cJSON_ArrayForEach(row, list)
    {
        const char *cause = string_or(row, "cause", "?");
        const char *cause_id = string_or(row, "cause_id", NULL);
        char *details = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(row, "details"));

        putchar('\n');
        snprintf(line, sizeof(line), "%s  %s  %s", field_text(row, "seq", "?", seq, sizeof(seq)),
                 string_or(row, "applied", "?"), string_or(row, "what", "?"));
        put_line(line);
        if (cause_id != NULL)
            snprintf(line, sizeof(line), "cause: event %s from %s (stored as number %s, dated %s)",
                     cause_id, cause,
                     field_text(row, "event_seq", "-", event_seq, sizeof(event_seq)),
                     string_or(row, "time", "-"));
        else
            snprintf(line, sizeof(line), "cause: %s", cause);
        put_padding(CTL_TEXT_INDENT);
        put_line(line);
        if (details != NULL && strcmp(details, "{}") != 0) {
            put_padding(CTL_TEXT_INDENT);
            fputs("details: ", stdout);
            put_line(details);
        }
        cJSON_free(details);
    }
    if (count > 0 && count >= ((options->given & OPT_LIMIT) ? options->limit : 100))
        printf("\nThere may be more: carehubctl audit %s --after %s\n", session->argument,
               field_text(reply, "last_seq", "?", seq, sizeof(seq)));
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

/* ---- kpi: pure formatting ---- */

/* The bars of a sparkline, lowest first. */
static const char *const spark_bars[] = {"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
#define CTL_SPARK_LEVELS 8
#define CTL_SPARK_MIDDLE 3 /* ▄: every figure of the row is the same */
/* A bar is three bytes of UTF-8. */
#define CTL_SPARK_BYTES (3 * CTL_PERIODS_MAX + 1)
/* The column of the kpi table holding the status word, the one coloured. */
#define CTL_KPI_STATUS_COLUMN 6

/*
 * Writes into buf a sparkline of count figures, oldest first: one bar per
 * figure, scaled between the least and the greatest of those present (the
 * middle bar for all of them when these are equal), and a space where
 * present[i] is false.  The line is cut short, between bars, when buf is too
 * small; CTL_SPARK_BYTES is enough for CTL_PERIODS_MAX figures.
 */
static void
format_sparkline(const double *values, const bool *present, size_t count, char *buf, size_t size)
{
    double least = 0, greatest = 0;
    bool any = false;
    size_t used = 0;

    for (size_t i = 0; i < count; i++) {
        if (!present[i])
            continue;
        if (!any || values[i] < least)
            least = values[i];
        if (!any || values[i] > greatest)
            greatest = values[i];
        any = true;
    }
    buf[0] = '\0';
    for (size_t i = 0; i < count; i++) {
        const char *bar = " ";
        size_t len;

        if (present[i] && greatest > least) {
            double scaled = (values[i] - least) / (greatest - least) * (CTL_SPARK_LEVELS - 1);
            int level = (int)(scaled + 0.5);

            bar = spark_bars[level < 0                   ? 0
                             : level >= CTL_SPARK_LEVELS ? CTL_SPARK_LEVELS - 1
                                                         : level];
        } else if (present[i]) {
            bar = spark_bars[CTL_SPARK_MIDDLE];
        }
        len = strlen(bar);
        if (used + len >= size)
            break;
        memcpy(buf + used, bar, len + 1);
        used += len;
    }
}

/* True when value is a whole number small enough to print exactly as one. */
static bool
is_whole(double value)
{
    return fabs(value) < 1e15 && value == trunc(value);
}

/*
 * How many decimals the table shows a figure with: none for counts, one for
 * means, percentiles and percentages; for the other aggregates (sum, min,
 * max, last) none when the figure is whole, else one.
 */
static int
figure_decimals(const char *aggregate, const char *unit, double value)
{
    if (strcmp(aggregate, "count") == 0)
        return 0;
    if (strcmp(aggregate, "mean") == 0 || aggregate[0] == 'p' || strcmp(unit, "%") == 0)
        return 1;
    return is_whole(value) ? 0 : 1;
}

/* A figure rounded for the table ("5.2"), never "-0.0". */
static void
format_figure(double value, int decimals, char *buf, size_t size)
{
    double scale = decimals > 0 ? 10.0 : 1.0;

    if (round(value * scale) == 0)
        value = 0; /* -0.04 would print as "-0.0" */
    snprintf(buf, size, "%.*f", decimals, value);
}

/* A figure with its unit: "5.2 days", "91.5%", "40" (no unit). */
static void
format_with_unit(const char *figure, const char *unit, char *buf, size_t size)
{
    if (unit[0] == '\0')
        snprintf(buf, size, "%s", figure);
    else if (unit[0] == '%')
        snprintf(buf, size, "%s%s", figure, unit);
    else
        snprintf(buf, size, "%s %s", figure, unit);
}

/*
 * The shortest decimal text that reads back as exactly value, for programs
 * (CSV, Prometheus): "5.2", "40", "1e-07".
 */
static void
format_exact(double value, char *buf, size_t size)
{
    if (is_whole(value)) {
        snprintf(buf, size, "%.0f", value == 0 ? 0.0 : value);
        return;
    }
    for (int precision = 1; precision <= 17; precision++) {
        snprintf(buf, size, "%.*g", precision, value);
        if (strtod(buf, NULL) == value)
            return;
    }
}

/* True when an RFC 4180 field must be quoted: it holds a comma, a double quote, CR or LF. */
static bool
csv_needs_quotes(const char *field)
{
    return strpbrk(field, ",\"\r\n") != NULL;
}

/* Writes one CSV field (RFC 4180): quoted when it needs to be, each double quote doubled. */
static void
put_csv_field(const char *field)
{
    if (!csv_needs_quotes(field)) {
        fputs(field, stdout);
        return;
    }
    putchar('"');
    for (const char *p = field; *p != '\0'; p++) {
        if (*p == '"')
            putchar('"');
        putchar(*p);
    }
    putchar('"');
}

/*
 * Writes a label value of the Prometheus text format (0.0.4): a backslash,
 * a double quote and a line feed are escaped as \\, \" and \n.
 */
static void
put_prometheus_label_value(const char *value)
{
    for (const char *p = value; *p != '\0'; p++) {
        if (*p == '\\')
            fputs("\\\\", stdout);
        else if (*p == '"')
            fputs("\\\"", stdout);
        else if (*p == '\n')
            fputs("\\n", stdout);
        else
            putchar(*p);
    }
}

/* ---- kpi: the reply ---- */

/* A member that is a number, or false (absent, null or not a number). */
static bool
get_number(const cJSON *object, const char *name, double *out)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, name);

    if (!cJSON_IsNumber(item))
        return false;
    *out = item->valuedouble;
    return true;
}

/* "GREEN", "AMBER", "RED", or "-" for none. */
static const char *
status_word(const char *status)
{
    if (status == NULL)
        return "-";
    if (strcmp(status, "green") == 0)
        return "GREEN";
    if (strcmp(status, "amber") == 0)
        return "AMBER";
    if (strcmp(status, "red") == 0)
        return "RED";
    return "-";
}

/* The Prometheus carehub_kpi_status number of a status, or -1 for none. */
static int
status_number(const char *status)
{
    static const char *const states[] = {"green", "amber", "red"};

    for (int i = 0; status != NULL && i < 3; i++)
        if (strcmp(status, states[i]) == 0)
            return i;
    return -1;
}

/* The table's colour for a status word, when colours are on. */
static const char *
kpi_status_colour(size_t column, const char *cell)
{
    if (column != CTL_KPI_STATUS_COLUMN)
        return NULL;
    if (strcmp(cell, "GREEN") == 0)
        return "\033[32m";
    if (strcmp(cell, "AMBER") == 0)
        return "\033[33m";
    if (strcmp(cell, "RED") == 0)
        return "\033[1;31m";
    return NULL;
}

/* Colour only on a terminal, and not when NO_COLOR is set and not empty (https://no-color.org). */
static bool
use_colour(void)
{
    const char *no_colour = getenv("NO_COLOR");

    return isatty(STDOUT_FILENO) && (no_colour == NULL || no_colour[0] == '\0');
}

/* One row's figure as the table shows it: rounded, with its unit; "-" when there is none. */
static void
format_row_figure(const cJSON *row, const char *name, char *buf, size_t size)
{
    const char *aggregate = string_or(row, "aggregate", "");
    const char *unit = string_or(row, "unit", "");
    char figure[64];
    double value;

    if (!get_number(row, name, &value)) {
        snprintf(buf, size, "-");
        return;
    }
    format_figure(value, figure_decimals(aggregate, unit, value), figure, sizeof(figure));
    format_with_unit(figure, unit, buf, size);
}

/* "≤ 5.0 days" for a lower-is-better target, "≥ 95.0%" for a higher one; "-" when none. */
static void
format_target(const cJSON *row, char *buf, size_t size)
{
    const char *direction = string_or(row, "direction", "");
    char figure[128];

    if (!cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(row, "target"))) {
        snprintf(buf, size, "-");
        return;
    }
    format_row_figure(row, "target", figure, sizeof(figure));
    snprintf(buf, size, "%s%s",
             strcmp(direction, "lower") == 0    ? "≤ "
             : strcmp(direction, "higher") == 0 ? "≥ "
                                                : "",
             figure);
}

/* "regional 5.5, national 5.8" from a benchmarks object; "-" when it has none. */
static void
format_benchmarks(const cJSON *row, char *buf, size_t size)
{
    const cJSON *benchmark;
    const char *aggregate = string_or(row, "aggregate", "");
    const char *unit = string_or(row, "unit", "");
    size_t used = 0;

    buf[0] = '\0';
    cJSON_ArrayForEach(benchmark, cJSON_GetObjectItemCaseSensitive(row, "benchmarks"))
    {
        char figure[64];
        int n;

        if (!cJSON_IsNumber(benchmark) || benchmark->string == NULL)
            continue;
        format_figure(benchmark->valuedouble,
                      figure_decimals(aggregate, unit, benchmark->valuedouble), figure,
                      sizeof(figure));
        n = snprintf(buf + used, size - used, "%s%s %s", used > 0 ? ", " : "", benchmark->string,
                     figure);
        if (n < 0 || (size_t)n >= size - used)
            break;
        used += (size_t)n;
    }
    if (used == 0)
        snprintf(buf, size, "-");
}

/* The row's sparkline over its periods, oldest first, then its trend word. */
static void
format_trend(const cJSON *row, char *buf, size_t size)
{
    const cJSON *period;
    double values[CTL_PERIODS_MAX];
    bool present[CTL_PERIODS_MAX];
    size_t count = 0;
    char line[CTL_SPARK_BYTES];

    cJSON_ArrayForEach(period, cJSON_GetObjectItemCaseSensitive(row, "periods"))
    {
        if (count == CTL_PERIODS_MAX)
            break;
        present[count] = get_number(period, "value", &values[count]);
        count++;
    }
    format_sparkline(values, present, count, line, sizeof(line));
    snprintf(buf, size, "%s%s%s", line, count > 0 ? " " : "", string_or(row, "trend", "none"));
}

/* The latest period's label ("2026-11"), or the row's period type when it lists none. */
static const char *
latest_label(const cJSON *row)
{
    const cJSON *periods = cJSON_GetObjectItemCaseSensitive(row, "periods");
    int count = cJSON_GetArraySize(periods);

    if (count > 0)
        return string_or(cJSON_GetArrayItem(periods, count - 1), "label", "-");
    return string_or(row, "period", "-");
}

/*
 * Adds one table line for a row: the team (indented two spaces per level, and
 * only on the team's first line), the KPI, the latest period, its figure, the
 * target, the benchmarks, the status and the trend.
 */
static int
add_kpi_line(struct table *table, const cJSON *row, bool first_of_team)
{
    char team[400], named[300], value[128], target[160], benchmarks[512], trend[600];
    double level = number_or(row, "level", 0);
    size_t indent = level > 0 && level <= CTL_DEPTH_MAX ? 2 * (size_t)level : 0;
    const char *line[8] = {team,
                           string_or(row, "title", string_or(row, "metric", "-")),
                           latest_label(row),
                           value,
                           target,
                           benchmarks,
                           status_word(wire_get_string(row, "status")),
                           trend};

    team[0] = '\0';
    if (first_of_team) {
        format_named(wire_get_string(row, "team_id"), wire_get_string(row, "team_name"), named,
                     sizeof(named));
        snprintf(team, sizeof(team), "%*s%s", (int)indent, "", named);
    }
    format_row_figure(row, "value", value, sizeof(value));
    format_target(row, target, sizeof(target));
    format_benchmarks(row, benchmarks, sizeof(benchmarks));
    format_trend(row, trend, sizeof(trend));
    return table_add(table, line);
}

static int
print_kpi_table(const struct options *options, const cJSON *reply, const cJSON *rows)
{
    struct table table = {
        .columns = 8,
        .headers = {"Team", "KPI", "Period", "Value", "Target", "Benchmarks", "Status", "Trend"},
        .right_aligned = {false, false, false, true, true}};
    const cJSON *row, *first = cJSON_GetArrayItem(rows, 0);
    const char *previous_team = NULL;
    char who[400], named[300], heading[600];
    int periods, r = 0;

    if (options->given & OPT_TEAM) {
        const char *name =
            first != NULL && strcmp(string_or(first, "team_id", ""), options->team_id) == 0
                ? wire_get_string(first, "team_name")
                : NULL;

        format_named(options->team_id, name, named, sizeof(named));
        snprintf(who, sizeof(who), "%s%s", named,
                 (options->given & OPT_DEPTH) && options->depth == 0 ? "" : " and its sub-teams");
    } else {
        snprintf(who, sizeof(who), "the whole organisation");
    }
    snprintf(heading, sizeof(heading), "KPIs for %s, as of %s", who,
             string_or(reply, "today", "-"));
    put_line(heading);
    if (first == NULL) {
        puts("No KPI figures to show.");
        return 0;
    }
    periods = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(first, "periods"));
    if (periods == 1)
        puts("Each trend shows the latest period only.\n");
    else
        printf("Each trend shows the last %d periods, oldest first.\n\n", periods);
    if (use_colour())
        table.colour = kpi_status_colour;
    cJSON_ArrayForEach(row, rows)
    {
        const char *team_id = string_or(row, "team_id", "");

        r = add_kpi_line(&table, row, previous_team == NULL || strcmp(previous_team, team_id) != 0);
        if (r < 0)
            break;
        previous_team = team_id;
    }
    if (r == 0)
        table_print(&table);
    table_free(&table);
    return r;
}

/*
 * Adds to names (a JSON array of strings) every benchmark name of every
 * period of every row not already in it, in the order they first appear.
 */
static int
collect_benchmark_names(const cJSON *rows, cJSON *names)
{
    const cJSON *row, *period, *benchmark, *known;

    cJSON_ArrayForEach(row, rows)
    {
        cJSON_ArrayForEach(period, cJSON_GetObjectItemCaseSensitive(row, "periods"))
        {
            cJSON_ArrayForEach(benchmark, cJSON_GetObjectItemCaseSensitive(period, "benchmarks"))
            {
                bool seen = false;

                if (benchmark->string == NULL)
                    continue;
                cJSON_ArrayForEach(known, names)
                {
                    if (strcmp(known->valuestring, benchmark->string) == 0)
                        seen = true;
                }
                if (!seen && !cJSON_AddItemToArray(names, cJSON_CreateString(benchmark->string)))
                    return -ENOMEM;
            }
        }
    }
    return 0;
}

/* The CSV columns before the benchmarks, and the member of the row or of the period each shows. */
static const struct {
    const char *header;
    bool from_period; /* a member of the period, else of the row */
    const char *member;
} csv_columns[] = {
    {"team_id", false, "team_id"},     {"team_name", false, "team_name"},
    {"parent_id", false, "parent_id"}, {"level", false, "level"},
    {"metric", false, "metric"},       {"title", false, "title"},
    {"unit", false, "unit"},           {"aggregate", false, "aggregate"},
    {"direction", false, "direction"}, {"derived", false, "derived"},
    {"period", false, "period"},       {"label", true, "label"},
    {"start", true, "start"},          {"end", true, "end"},
    {"value", true, "value"},          {"count", true, "count"},
    {"status", true, "status"},        {"target", false, "target"},
    {"warning", false, "warning"},     {"critical", false, "critical"},
};

/*
 * A member as a CSV field: a string as it is, a number exactly, true or
 * false; "" when it is absent or null.
 */
static const char *
csv_text(const cJSON *object, const char *name, char *buf, size_t size)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, name);

    if (cJSON_IsString(item))
        return item->valuestring;
    if (cJSON_IsNumber(item)) {
        format_exact(item->valuedouble, buf, size);
        return buf;
    }
    if (cJSON_IsBool(item))
        return cJSON_IsTrue(item) ? "true" : "false";
    return "";
}

/*
 * CSV (RFC 4180, lines ending CRLF): a header row, then one row per team x
 * metric x period, oldest period first; one column per benchmark name found
 * ("benchmark_regional"), empty where a period has none.
 */
static int
print_kpi_csv(const cJSON *rows)
{
    cJSON *names = cJSON_CreateArray();
    const cJSON *row, *period, *name;
    char buf[64], header[300];
    size_t columns = sizeof(csv_columns) / sizeof(csv_columns[0]);

    if (names == NULL || collect_benchmark_names(rows, names) < 0) {
        cJSON_Delete(names);
        return -ENOMEM;
    }
    for (size_t c = 0; c < columns; c++) {
        if (c > 0)
            putchar(',');
        put_csv_field(csv_columns[c].header);
    }
    cJSON_ArrayForEach(name, names)
    {
        snprintf(header, sizeof(header), "benchmark_%s", name->valuestring);
        putchar(',');
        put_csv_field(header);
    }
    fputs("\r\n", stdout);
    cJSON_ArrayForEach(row, rows)
    {
        cJSON_ArrayForEach(period, cJSON_GetObjectItemCaseSensitive(row, "periods"))
        {
            const cJSON *benchmarks = cJSON_GetObjectItemCaseSensitive(period, "benchmarks");

            for (size_t c = 0; c < columns; c++) {
                if (c > 0)
                    putchar(',');
                put_csv_field(csv_text(csv_columns[c].from_period ? period : row,
                                       csv_columns[c].member, buf, sizeof(buf)));
            }
            cJSON_ArrayForEach(name, names)
            {
                putchar(',');
                put_csv_field(csv_text(benchmarks, name->valuestring, buf, sizeof(buf)));
            }
            fputs("\r\n", stdout);
        }
    }
    cJSON_Delete(names);
    return 0;
}

/* The gauge families of --prometheus, in the order they are written. */
enum prometheus_family {
    FAMILY_VALUE,
    FAMILY_OBSERVATIONS,
    FAMILY_TARGET,
    FAMILY_WARNING,
    FAMILY_CRITICAL,
    FAMILY_BENCHMARK,
    FAMILY_STATUS,
};

static const struct {
    const char *name;
    const char *member; /* the row's member holding the sample's value */
    const char *help;
} prometheus_families[] = {
    [FAMILY_VALUE] = {"carehub_kpi_value", "value",
                      "The figure of a KPI for its latest period, per team."},
    [FAMILY_OBSERVATIONS] = {"carehub_kpi_observations", "count",
                             "How many observations the latest period's figure comes from."},
    [FAMILY_TARGET] = {"carehub_kpi_target", "target", "The target of a KPI."},
    [FAMILY_WARNING] = {"carehub_kpi_warning", "warning", "The figure at which a KPI turns amber."},
    [FAMILY_CRITICAL] = {"carehub_kpi_critical", "critical",
                         "The figure at which a KPI turns red."},
    [FAMILY_BENCHMARK] = {"carehub_kpi_benchmark", "benchmarks",
                          "A benchmark figure for a KPI's latest period (regional, national...)."},
    [FAMILY_STATUS] = {"carehub_kpi_status", "status",
                       "The state of a KPI for its latest period: 0 green, 1 amber, 2 red."},
};

/*
 * Writes one sample: NAME{metric="...",team="...",period="..."[,benchmark="..."]} VALUE.
 * Writes the family's # HELP and # TYPE lines first when *started is false.
 */
static void
put_prometheus_sample(enum prometheus_family family, bool *started, const cJSON *row,
                      const char *benchmark, double value)
{
    char number[64];

    if (!*started) {
        printf("# HELP %s %s\n# TYPE %s gauge\n", prometheus_families[family].name,
               prometheus_families[family].help, prometheus_families[family].name);
        *started = true;
    }
    printf("%s{metric=\"", prometheus_families[family].name);
    put_prometheus_label_value(string_or(row, "metric", ""));
    fputs("\",team=\"", stdout);
    put_prometheus_label_value(string_or(row, "team_id", ""));
    fputs("\",period=\"", stdout);
    put_prometheus_label_value(string_or(row, "period", ""));
    if (benchmark != NULL) {
        fputs("\",benchmark=\"", stdout);
        put_prometheus_label_value(benchmark);
    }
    format_exact(value, number, sizeof(number));
    printf("\"} %s\n", number);
}

/* Writes one family's samples, every row's latest period; nothing when it has none. */
static void
put_prometheus_family(enum prometheus_family family, const cJSON *rows)
{
    const char *member = prometheus_families[family].member;
    const cJSON *row, *benchmark;
    bool started = false;
    double value;

    cJSON_ArrayForEach(row, rows)
    {
        if (family == FAMILY_BENCHMARK) {
            cJSON_ArrayForEach(benchmark, cJSON_GetObjectItemCaseSensitive(row, member))
            {
                if (cJSON_IsNumber(benchmark) && benchmark->string != NULL)
                    put_prometheus_sample(family, &started, row, benchmark->string,
                                          benchmark->valuedouble);
            }
        } else if (family == FAMILY_STATUS) {
            int status = status_number(wire_get_string(row, member));

            if (status >= 0)
                put_prometheus_sample(family, &started, row, NULL, status);
        } else if (get_number(row, member, &value)) {
            put_prometheus_sample(family, &started, row, NULL, value);
        }
    }
}

/*
 * The Prometheus text exposition format 0.0.4, as node_exporter's textfile
 * collector reads it: gauges of every row's latest period, one family after
 * another, with no timestamps; a figure that is null is left out.
 */
static int
print_kpi_prometheus(const cJSON *rows)
{
    for (size_t f = 0; f < sizeof(prometheus_families) / sizeof(prometheus_families[0]); f++)
        put_prometheus_family((enum prometheus_family)f, rows);
    return 0;
}

static int
print_kpi(struct session *session, const cJSON *reply)
{
    const struct options *options = session->options;
    const cJSON *rows = cJSON_GetObjectItemCaseSensitive(reply, "rows");

    if (options->given & OPT_CSV)
        return print_kpi_csv(rows);
    if (options->given & OPT_PROMETHEUS)
        return print_kpi_prometheus(rows);
    return print_kpi_table(options, reply, rows);
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

/* --after and --limit, for the ops that list by sequence number (notifications, audit). */
static int
build_paging(const struct session *session, cJSON *request)
{
    const struct options *options = session->options;
    int r = 0;

    if (options->given & OPT_AFTER)
        r = add_number(request, "after", options->after);
    if (r == 0 && (options->given & OPT_LIMIT))
        r = add_number(request, "limit", options->limit);
    return r;
}

static int
build_notifications(const struct session *session, cJSON *request)
{
    int r = build_paging(session, request);

    if (r == 0 && (session->options->given & OPT_RECIPIENT))
        r = add_string(request, "recipient_id", session->options->recipient_id);
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
build_kpi(const struct session *session, cJSON *request)
{
    const struct options *options = session->options;
    int r = 0;

    if (options->given & OPT_TEAM)
        r = add_string(request, "team", options->team_id);
    if (r == 0 && (options->given & OPT_METRIC))
        r = add_string(request, "metric", options->metric);
    if (r == 0 && (options->given & OPT_PERIOD))
        r = add_string(request, "period", options->period);
    if (r == 0 && (options->given & OPT_AT))
        r = add_string(request, "at", options->at);
    if (r == 0 && (options->given & OPT_PERIODS))
        r = add_number(request, "periods", options->periods);
    if (r == 0 && (options->given & OPT_DEPTH))
        r = add_number(request, "depth", options->depth);
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

/* ---- calendar ---- */

/*
 * Sends request and waits for its reply, as run_request() does, but prints
 * nothing but a failure.  Returns EXIT_OK with *reply the caller's, or the
 * exit status of the failure.
 */
static int
call_quietly(struct session *session, cJSON *request, cJSON **reply)
{
    char err[512];
    int r;

    *reply = NULL;
    if (request == NULL) {
        fprintf(stderr, "carehubctl: out of memory\n");
        return EXIT_FAILURE_LOCAL;
    }
    r = client_call(session->client, request, session->options->timeout_ms, reply, err,
                    sizeof(err));
    cJSON_Delete(request);
    if (r == 0)
        return EXIT_OK;
    fprintf(stderr, "carehubctl: %s\n", err);
    cJSON_Delete(*reply);
    *reply = NULL;
    return r == -EREMOTEIO ? EXIT_DAEMON_ERROR : EXIT_FAILURE_LOCAL;
}

/* A request for op about the manager, with limit (0: none) and days (-1: none); NULL: no memory. */
static cJSON *
manager_request(struct session *session, const char *op, long long days, long long limit)
{
    cJSON *request = wire_request_new(op, ++session->next_id);

    if (request == NULL || add_string(request, "manager_id", session->options->manager_id) < 0 ||
        (days >= 0 && add_number(request, "days", days) < 0) ||
        (limit > 0 && add_number(request, "limit", limit) < 0)) {
        cJSON_Delete(request);
        return NULL;
    }
    return request;
}

/*
 * Moves the obligations of a due or overdue reply to the end of list, and
 * says on stderr when the daemon listed only some of them.  Returns 0 or
 * -ENOMEM.
 */
static int
take_obligations(cJSON *list, cJSON *reply, const char *what)
{
    cJSON *obligations = cJSON_GetObjectItemCaseSensitive(reply, "obligations");
    cJSON *item;

    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(reply, "truncated")))
        fprintf(stderr,
                "carehubctl: warning: more than %d obligations are %s; the calendar holds the "
                "first %d\n",
                CTL_LIMIT_MAX, what, CTL_LIMIT_MAX);
    if (!cJSON_IsArray(obligations))
        return 0; /* calendar_build() says what is wrong with what it is given */
    while ((item = cJSON_DetachItemFromArray(obligations, 0)) != NULL)
        if (!cJSON_AddItemToArray(list, item)) {
            cJSON_Delete(item);
            return -ENOMEM;
        }
    return 0;
}

/* How many VEVENTs text holds: a line that begins one cannot occur inside a value. */
static int
count_events(const char *text)
{
    static const char line[] = "\r\nBEGIN:VEVENT\r\n";
    int count = 0;

    for (const char *p = strstr(text, line); p != NULL; p = strstr(p + 1, line))
        count++;
    return count;
}

/*
 * Writes the len bytes of data to path so that readers see the old file or
 * the new one whole, never a part: into a new file beside it, flushed to
 * disk, then renamed over it.  The file gets the usual permissions (0666
 * less the umask).  Returns 0 or a negative errno code; the new file is
 * removed when anything fails.
 */
static int
write_file_atomically(const char *path, const char *data, size_t len)
{
    size_t size = strlen(path) + sizeof(".XXXXXX");
    char *temp = malloc(size);
    bool created = false;
    mode_t mask;
    int fd = -1, r = 0;

    if (temp == NULL)
        return -ENOMEM;
    snprintf(temp, size, "%s.XXXXXX", path);
    fd = mkstemp(temp);
    if (fd < 0) {
        r = -errno;
        goto out;
    }
    created = true;
    mask = umask(0);
    umask(mask);
    if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0 || fchmod(fd, 0666 & ~mask) < 0) {
        r = -errno;
        goto out;
    }
    for (size_t done = 0; done < len;) {
        ssize_t n = write(fd, data + done, len - done);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            r = -errno;
            goto out;
        }
        done += (size_t)n;
    }
    if (fsync(fd) < 0) {
        r = -errno;
        goto out;
    }
    r = close(fd) < 0 ? -errno : 0;
    fd = -1;
    if (r == 0 && rename(temp, path) < 0)
        r = -errno;
out:
    if (fd >= 0)
        close(fd);
    if (r < 0 && created)
        unlink(temp);
    free(temp);
    return r;
}

/* Writes the calendar to standard output, or to --output with a summary on stderr. */
static int
put_calendar(const struct options *options, const char *text, int count)
{
    int events = count_events(text);
    int to_dos = count - events;
    int r;

    if (!(options->given & OPT_OUTPUT)) {
        if (fwrite(text, 1, strlen(text), stdout) != strlen(text) || fflush(stdout) != 0) {
            fprintf(stderr, "carehubctl: cannot write the calendar: %s\n", strerror(errno));
            return EXIT_FAILURE_LOCAL;
        }
        return EXIT_OK;
    }
    r = write_file_atomically(options->output, text, strlen(text));
    if (r < 0) {
        fprintf(stderr, "carehubctl: cannot write %s: %s\n", options->output, strerror(-r));
        return EXIT_FAILURE_LOCAL;
    }
    fprintf(stderr, "wrote %d %s (%d %s, %d %s) to %s\n", count, count == 1 ? "entry" : "entries",
            events, events == 1 ? "event" : "events", to_dos, to_dos == 1 ? "to-do" : "to-dos",
            options->output);
    return EXIT_OK;
}

/*
 * calendar: asks the daemon its time (clock), what is due (due) and what is
 * overdue (overdue) for the manager, and the manager's name (staff; the id
 * when the daemon does not know it), then writes the iCalendar file.
 * Returns an exit status.
 */
static int
run_calendar(struct session *session)
{
    const struct options *options = session->options;
    const char *manager_id = options->manager_id;
    cJSON *clock = NULL, *due = NULL, *overdue = NULL, *list = cJSON_CreateArray();
    char *name = NULL, *text = NULL;
    int64_t now_ms;
    int count = 0, r, status;
    char err[512];

    if (list == NULL) {
        fprintf(stderr, "carehubctl: out of memory\n");
        return EXIT_FAILURE_LOCAL;
    }
    status = call_quietly(session, wire_request_new("clock", ++session->next_id), &clock);
    if (status != EXIT_OK)
        goto out;
    if (wire_get_string(clock, "now") == NULL ||
        timefmt_parse_rfc3339(wire_get_string(clock, "now"), &now_ms) < 0) {
        fprintf(stderr, "carehubctl: the daemon's clock reply has no time (\"now\")\n");
        status = EXIT_FAILURE_LOCAL;
        goto out;
    }
    status = call_quietly(
        session,
        manager_request(session, "due",
                        (options->given & OPT_DAYS) ? options->days : CTL_CALENDAR_DAYS,
                        CTL_LIMIT_MAX),
        &due);
    if (status != EXIT_OK)
        goto out;
    status =
        call_quietly(session, manager_request(session, "overdue", -1, CTL_LIMIT_MAX), &overdue);
    if (status != EXIT_OK)
        goto out;
    status = EXIT_FAILURE_LOCAL;
    /* Overdue first: the order the file lists them in, for a person reading it. */
    if (take_obligations(list, overdue, "overdue") < 0 || take_obligations(list, due, "due") < 0) {
        fprintf(stderr, "carehubctl: out of memory\n");
        goto out;
    }
    name = look_up_name(session, "staff", "staff_id", manager_id);
    r = calendar_build(list, name != NULL ? name : manager_id, now_ms,
                       (options->given & OPT_DOMAIN) ? options->domain : CTL_CALENDAR_DOMAIN, &text,
                       &count, err, sizeof(err));
    if (r < 0) {
        fprintf(stderr, "carehubctl: cannot make the calendar: %s\n", err);
        goto out;
    }
    status = put_calendar(options, text, count);
out:
    free(text);
    free(name);
    cJSON_Delete(list);
    cJSON_Delete(overdue);
    cJSON_Delete(due);
    cJSON_Delete(clock);
    return status;
}

/* ---- backup ---- */

/*
 * file as an absolute path in a new string (the caller's), for the daemon,
 * which writes it and does not know this process's directory: a relative
 * one is taken from the current directory.  0 or a negative errno code.
 */
static int
absolute_path(const char *file, char **out)
{
    char *directory;
    size_t size;

    *out = NULL;
    if (file[0] == '/') {
        *out = strdup(file);
        return *out != NULL ? 0 : -ENOMEM;
    }
    while (file[0] == '.' && file[1] == '/')
        file += 2;
    directory = getcwd(NULL, 0);
    if (directory == NULL)
        return -errno;
    size = strlen(directory) + strlen(file) + 2;
    *out = malloc(size);
    if (*out != NULL)
        snprintf(*out, size, "%s%s%s", directory,
                 directory[strlen(directory) - 1] == '/' ? "" : "/", file);
    free(directory);
    return *out != NULL ? 0 : -ENOMEM;
}

static int
print_backup(struct session *session, const cJSON *reply)
{
    const cJSON *events = cJSON_GetObjectItemCaseSensitive(reply, "events");
    const cJSON *notifications = cJSON_GetObjectItemCaseSensitive(reply, "notifications");
    char bytes[64], pages[32], event_seq[32], notification_seq[32];

    (void)session;
    format_bytes(number_or(reply, "bytes", 0), bytes, sizeof(bytes));
    printf("Backup written to %s: %s, %s pages, events up to %s, notifications up to %s, in "
           "%.3f s.\n",
           string_or(reply, "path", "?"), bytes,
           field_text(reply, "pages", "?", pages, sizeof(pages)),
           field_text(events, "last_seq", "?", event_seq, sizeof(event_seq)),
           field_text(notifications, "last_seq", "?", notification_seq, sizeof(notification_seq)),
           number_or(reply, "duration_s", 0));
    return 0;
}

/*
 * Asks the daemon for a backup to the argument, made absolute.  A status
 * request goes first, with the usual timeout: a daemon that is not there is
 * noticed at once, not after the long wait a copy is given.
 */
static int
run_backup(struct session *session)
{
    const struct options *options = session->options;
    int timeout_ms = options->timeout_given ? options->timeout_ms : CTL_BACKUP_TIMEOUT_S * 1000;
    cJSON *request = NULL, *reply = NULL;
    char *path = NULL, err[512];
    int status, r;

    r = absolute_path(session->argument, &path);
    if (r < 0) {
        fprintf(stderr, "carehubctl: cannot make %s an absolute path: %s\n", session->argument,
                strerror(-r));
        return EXIT_FAILURE_LOCAL;
    }
    status = call_quietly(session, wire_request_new("status", ++session->next_id), &reply);
    cJSON_Delete(reply);
    reply = NULL;
    if (status != EXIT_OK)
        goto out;
    status = EXIT_FAILURE_LOCAL;
    request = wire_request_new("backup", ++session->next_id);
    if (request == NULL || add_string(request, "path", path) < 0 ||
        ((options->given & OPT_OVERWRITE) && cJSON_AddTrueToObject(request, "overwrite") == NULL)) {
        fprintf(stderr, "carehubctl: out of memory\n");
        goto out;
    }
    r = client_call(session->client, request, timeout_ms, &reply, err, sizeof(err));
    if (options->json && (r == 0 || r == -EREMOTEIO)) {
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
    if (!options->json)
        print_backup(session, reply);
    status = EXIT_OK;
out:
    cJSON_Delete(reply);
    cJSON_Delete(request);
    free(path);
    return status;
}

/* ---- keygen ---- */

/* A key's name: what the authorised-keys file accepts, so also a safe file name. */
static bool
key_name_valid(const char *name)
{
    size_t length = strlen(name);

    if (length == 0 || length > 64 || name[0] == '.')
        return false;
    for (size_t i = 0; i < length; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

/*
 * Makes a key pair NAME in --dir (default "."): NAME.key (0600) and NAME.pub.
 * Needs no daemon.  Prints the public key and the authorised-keys line.
 */
static int
run_keygen(struct session *session)
{
    const struct options *options = session->options;
    const char *dir = options->dir != NULL ? options->dir : ".";
    const char *name = session->argument;
    char secret_path[4096], public_path[4096], public_key[KEYFILE_Z85 + 1], err[512];
    int r;

    if (!key_name_valid(name)) {
        fprintf(stderr,
                "carehubctl: keygen: \"%s\" is not a key name (1 to 64 letters, digits, '.', "
                "'_' or '-', not starting with '.')\n",
                name);
        return EXIT_FAILURE_LOCAL;
    }
    if (snprintf(secret_path, sizeof(secret_path), "%s/%s.key", dir, name) >=
            (int)sizeof(secret_path) ||
        snprintf(public_path, sizeof(public_path), "%s/%s.pub", dir, name) >=
            (int)sizeof(public_path)) {
        fprintf(stderr, "carehubctl: keygen: the directory name is too long\n");
        return EXIT_FAILURE_LOCAL;
    }
    r = keyfile_generate(secret_path, public_path, name, public_key, err, sizeof(err));
    if (r < 0) {
        fprintf(stderr, "carehubctl: keygen: %s\n", err);
        return EXIT_FAILURE_LOCAL;
    }
    if (options->json) {
        cJSON *out = cJSON_CreateObject();
        char *text;
        cJSON_AddStringToObject(out, "name", name);
        cJSON_AddStringToObject(out, "public_key", public_key);
        cJSON_AddStringToObject(out, "key_file", secret_path);
        cJSON_AddStringToObject(out, "public_key_file", public_path);
        text = cJSON_Print(out);
        cJSON_Delete(out);
        if (text == NULL) {
            fprintf(stderr, "carehubctl: out of memory\n");
            return EXIT_FAILURE_LOCAL;
        }
        puts(text);
        free(text);
        return EXIT_OK;
    }
    printf("public key: %s\n"
           "key pair:   %s (keep it secret: --key-file of the client, or\n"
           "            security.server_key_file of carehubd)\n"
           "public key: %s (--server-key of the clients, for carehubd's key)\n"
           "\n"
           "For a client, add this line to carehubd's authorised-keys file, with the\n"
           "role it needs (publisher, reader or admin; a reader may add team=TEAM_ID),\n"
           "then reload carehubd (systemctl reload carehubd):\n"
           "\n"
           "%s reader %s\n",
           public_key, secret_path, public_path, public_key, name);
    return EXIT_OK;
}

/* ---- command line ---- */

struct command {
    const char *name;
    const char *synopsis; /* as in usage() */
    const char *argument; /* what its one argument is ("MANAGER_ID"); NULL: it takes none */
    const char *id_field; /* the request field the argument goes in; NULL: build() puts it */
    unsigned options;     /* the command options it takes */
    int (*build)(const struct session *session, cJSON *request); /* NULL: nothing more */
    int (*print)(struct session *session, const cJSON *reply);   /* NULL: watch or run */
    int (*run)(struct session *session); /* a command of several requests; NULL: one */
};

static const struct command commands[] = {
    {"status", "status", NULL, NULL, 0, NULL, print_status, NULL},
    {"staff", "staff ID", "ID", "staff_id", 0, NULL, print_staff, NULL},
    {"team", "team ID", "ID", "team_id", 0, NULL, print_team, NULL},
    {"reports", "reports ID", "ID", "manager_id", 0, NULL, print_reports, NULL},
    {"due", "due MANAGER_ID [--days N] [--limit N]", "MANAGER_ID", "manager_id",
     OPT_DAYS | OPT_LIMIT, build_due, print_due, NULL},
    {"overdue", "overdue [--manager ID | --team ID] [--limit N]", NULL, NULL,
     OPT_MANAGER | OPT_TEAM | OPT_LIMIT, build_overdue, print_overdue, NULL},
    {"person", "person STAFF_ID", "STAFF_ID", "staff_id", 0, NULL, print_person, NULL},
    {"notifications", "notifications [--after SEQ] [--limit N] [--recipient ID]", NULL, NULL,
     OPT_AFTER | OPT_LIMIT | OPT_RECIPIENT, build_notifications, print_notifications, NULL},
    {"audit", "audit STAFF_ID [--after SEQ] [--limit N]", "STAFF_ID", "staff_id",
     OPT_AFTER | OPT_LIMIT, build_paging, print_audit, NULL},
    {"ack", "ack SEQ [--by STAFF_ID]", "SEQ", NULL, OPT_BY, build_ack, print_ack, NULL},
    {"watch", "watch [--recipient ID] [--after SEQ] [--count N]", NULL, NULL,
     OPT_RECIPIENT | OPT_AFTER | OPT_COUNT, NULL, NULL, NULL},
    {"clock", "clock [--set TIME | --advance SECONDS]", NULL, NULL, OPT_SET | OPT_ADVANCE,
     build_clock, print_clock, NULL},
    {"kpi",
     "kpi [--team ID] [--metric NAME] [--period PERIOD] [--at LABEL] [--periods N] "
     "[--depth N] [--csv | --prometheus]",
     NULL, NULL,
     OPT_TEAM | OPT_METRIC | OPT_PERIOD | OPT_AT | OPT_PERIODS | OPT_DEPTH | OPT_CSV |
         OPT_PROMETHEUS,
     build_kpi, print_kpi, NULL},
    {"calendar", "calendar --manager ID [--days N] [--output FILE] [--domain DOMAIN]", NULL, NULL,
     OPT_MANAGER | OPT_DAYS | OPT_OUTPUT | OPT_DOMAIN, NULL, NULL, run_calendar},
    {"backup", "backup FILE [--overwrite]", "FILE", "path", OPT_OVERWRITE, NULL, NULL, run_backup},
    {"keygen", "keygen NAME [--dir DIR]", "NAME", "name", OPT_DIR, NULL, NULL, run_keygen},
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
    LONG_METRIC,
    LONG_PERIOD,
    LONG_AT,
    LONG_PERIODS,
    LONG_DEPTH,
    LONG_CSV,
    LONG_PROMETHEUS,
    LONG_OUTPUT,
    LONG_DOMAIN,
    LONG_OVERWRITE,
    LONG_DIR,
    LONG_KEY_FILE,
    LONG_SERVER_KEY,
};

static const struct {
    unsigned bit;
    const char *name;
} option_names[] = {
    {OPT_DAYS, "--days"},
    {OPT_LIMIT, "--limit"},
    {OPT_MANAGER, "--manager"},
    {OPT_TEAM, "--team"},
    {OPT_AFTER, "--after"},
    {OPT_RECIPIENT, "--recipient"},
    {OPT_BY, "--by"},
    {OPT_SET, "--set"},
    {OPT_ADVANCE, "--advance"},
    {OPT_COUNT, "--count"},
    {OPT_METRIC, "--metric"},
    {OPT_PERIOD, "--period"},
    {OPT_AT, "--at"},
    {OPT_PERIODS, "--periods"},
    {OPT_DEPTH, "--depth"},
    {OPT_CSV, "--csv"},
    {OPT_PROMETHEUS, "--prometheus"},
    {OPT_OUTPUT, "--output"},
    {OPT_DOMAIN, "--domain"},
    {OPT_OVERWRITE, "--overwrite"},
    {OPT_DIR, "--dir"},
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

/*
 * A domain name for calendar UIDs: letters, digits, dots and hyphens, as a
 * DNS name has, so that it needs no escaping in the file.
 */
static int
parse_domain_option(const char *text, const char **out)
{
    size_t length = strlen(text);

    if (length > 0 && length <= CTL_DOMAIN_MAX &&
        strspn(text, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") ==
            length) {
        *out = text;
        return 0;
    }
    fprintf(stderr,
            "carehubctl: --domain wants a domain name such as rosewood.example (letters, "
            "digits, dots and hyphens, at most %d), not \"%s\"\n",
            CTL_DOMAIN_MAX, text);
    return -EINVAL;
}

/* The period types of the kpi op, as --period takes them. */
static const char *const period_names[] = {"day", "week", "month", "quarter", "year"};

static int
parse_period_option(const char *text, const char **out)
{
    for (size_t i = 0; i < sizeof(period_names) / sizeof(period_names[0]); i++) {
        if (strcmp(text, period_names[i]) == 0) {
            *out = text;
            return 0;
        }
    }
    fprintf(stderr, "carehubctl: --period wants day, week, month, quarter or year, not \"%s\"\n",
            text);
    return -EINVAL;
}

/* True when the n characters at text are all decimal digits. */
static bool
all_digits(const char *text, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (text[i] < '0' || text[i] > '9')
            return false;
    return true;
}

/*
 * What text names as the kpi op's "at" takes it: "day" for a date
 * YYYY-MM-DD (which suits a period of any kind), "month" for YYYY-MM,
 * "quarter" for YYYY-Qn (n from 1 to 4), "year" for YYYY; years 1900 to
 * 9999.  NULL when it is none of these.
 */
static const char *
period_label_kind(const char *text)
{
    struct civil_date date;
    size_t len = strlen(text);

    if (timefmt_parse_date(text, &date) == 0)
        return "day";
    if ((len != 4 && len != 7) || !all_digits(text, 4) || text[0] == '0' ||
        (text[0] == '1' && text[1] < '9'))
        return NULL;
    if (len == 4)
        return "year";
    if (text[4] != '-')
        return NULL;
    if (text[5] == 'Q')
        return text[6] >= '1' && text[6] <= '4' ? "quarter" : NULL;
    if (all_digits(text + 5, 2) &&
        ((text[5] == '0' && text[6] >= '1') || (text[5] == '1' && text[6] <= '2')))
        return "month";
    return NULL;
}

/*
 * With --period, --at must be a date or a label of that kind of period (the
 * daemon would refuse it otherwise); without it, the daemon checks it
 * against each metric's own period.
 */
static int
check_at_for_period(const char *at, const char *period)
{
    static const char *const wanted[][2] = {
        {"day", "a date (2026-11-22)"},
        {"week", "a date, any day of the week (2026-11-22)"},
        {"month", "a date (2026-11-22) or a month (2026-11)"},
        {"quarter", "a date (2026-11-22) or a quarter (2026-Q4)"},
        {"year", "a date (2026-11-22) or a year (2026)"},
    };
    const char *kind = period_label_kind(at);

    if (strcmp(kind, "day") == 0 || strcmp(kind, period) == 0)
        return 0;
    for (size_t i = 0; i < sizeof(wanted) / sizeof(wanted[0]); i++)
        if (strcmp(period, wanted[i][0]) == 0)
            fprintf(stderr, "carehubctl: with --period %s, --at wants %s, not \"%s\"\n", period,
                    wanted[i][1], at);
    return -EINVAL;
}

static int
parse_at_option(const char *text, const char **out)
{
    if (period_label_kind(text) != NULL) {
        *out = text;
        return 0;
    }
    fprintf(stderr,
            "carehubctl: --at wants a date (2026-11-22), a month (2026-11), a quarter "
            "(2026-Q4) or a year (2026), not \"%s\"\n",
            text);
    return -EINVAL;
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
    case LONG_METRIC:
        options->given |= OPT_METRIC;
        return parse_id_option("--metric", arg, &options->metric);
    case LONG_PERIOD:
        options->given |= OPT_PERIOD;
        return parse_period_option(arg, &options->period);
    case LONG_AT:
        options->given |= OPT_AT;
        return parse_at_option(arg, &options->at);
    case LONG_PERIODS:
        options->given |= OPT_PERIODS;
        return parse_number_option("--periods", arg, 1, CTL_PERIODS_MAX, &options->periods);
    case LONG_DEPTH:
        options->given |= OPT_DEPTH;
        return parse_number_option("--depth", arg, 0, CTL_DEPTH_MAX, &options->depth);
    case LONG_CSV:
        options->given |= OPT_CSV;
        return 0;
    case LONG_PROMETHEUS:
        options->given |= OPT_PROMETHEUS;
        return 0;
    case LONG_OUTPUT:
        options->given |= OPT_OUTPUT;
        if (arg[0] == '\0') {
            fprintf(stderr, "carehubctl: --output wants a file name, not an empty string\n");
            return -EINVAL;
        }
        options->output = arg;
        return 0;
    case LONG_OVERWRITE:
        options->given |= OPT_OVERWRITE;
        return 0;
    case LONG_DIR:
        options->given |= OPT_DIR;
        options->dir = arg;
        return 0;
    case LONG_DOMAIN:
        options->given |= OPT_DOMAIN;
        return parse_domain_option(arg, &options->domain);
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
        {"metric", required_argument, NULL, LONG_METRIC},
        {"period", required_argument, NULL, LONG_PERIOD},
        {"at", required_argument, NULL, LONG_AT},
        {"periods", required_argument, NULL, LONG_PERIODS},
        {"depth", required_argument, NULL, LONG_DEPTH},
        {"csv", no_argument, NULL, LONG_CSV},
        {"prometheus", no_argument, NULL, LONG_PROMETHEUS},
        {"output", required_argument, NULL, LONG_OUTPUT},
        {"domain", required_argument, NULL, LONG_DOMAIN},
        {"overwrite", no_argument, NULL, LONG_OVERWRITE},
        {"dir", required_argument, NULL, LONG_DIR},
        {"key-file", required_argument, NULL, LONG_KEY_FILE},
        {"server-key", required_argument, NULL, LONG_SERVER_KEY},
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
            options->timeout_given = true;
            break;
        case LONG_KEY_FILE:
            options->key_file = optarg;
            break;
        case LONG_SERVER_KEY:
            options->server_key = optarg;
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
    if (((options->given & OPT_CSV) != 0) + ((options->given & OPT_PROMETHEUS) != 0) +
            options->json >
        1) {
        fprintf(stderr, "carehubctl: give one of --json, --csv and --prometheus, not two\n");
        return -EINVAL;
    }
    if ((options->given & OPT_AT) && (options->given & OPT_PERIOD))
        return check_at_for_period(options->at, options->period);
    if (command->run == run_calendar && !(options->given & OPT_MANAGER)) {
        fprintf(stderr, "carehubctl: calendar needs --manager ID (usage: carehubctl %s)\n",
                command->synopsis);
        return -EINVAL;
    }
    if (command->run == run_calendar && options->json) {
        fprintf(stderr,
                "carehubctl: --json does not go with calendar, which writes iCalendar "
                "(usage: carehubctl %s)\n",
                command->synopsis);
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
    struct client_security security;
    char err[512];
    int status = EXIT_FAILURE_LOCAL;

    if (parse_options(argc, argv, &options) < 0 ||
        (command = parse_command(argc, argv, &options)) == NULL)
        goto out;
    if (command->argument != NULL)
        session.argument = argv[optind + 1];
    if (command->run == run_keygen) {
        status = command->run(&session);
        goto out;
    }
    endpoint = client_endpoint(options.endpoint);
    if (endpoint == NULL) {
        fprintf(stderr, "carehubctl: no endpoint: use -e ENDPOINT or set %s\n",
                CLIENT_ENDPOINT_ENV);
        goto out;
    }
    if (command->print == NULL && command->run == NULL) {
        notify_endpoint = client_notify_endpoint(options.notify_endpoint);
        if (notify_endpoint == NULL) {
            fprintf(stderr, "carehubctl: no notification endpoint: use -n ENDPOINT or set %s\n",
                    CLIENT_NOTIFY_ENDPOINT_ENV);
            goto out;
        }
        signal_fd = client_open_signal_fd();
        if (signal_fd < 0) {
            fprintf(stderr, "carehubctl: cannot watch for signals: %s\n", strerror(-signal_fd));
            goto out;
        }
    }
    /* The follower of watch takes the same credentials from the client. */
    if (client_security_load(&security, options.key_file, options.server_key, err, sizeof(err)) <
            0 ||
        client_open_secure(&session.client, endpoint, 0, &security, err, sizeof(err)) < 0) {
        explicit_bzero(&security, sizeof(security));
        fprintf(stderr, "carehubctl: %s\n", err);
        goto out;
    }
    explicit_bzero(&security, sizeof(security));
    if (command->run != NULL)
        status = command->run(&session);
    else if (command->print == NULL)
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

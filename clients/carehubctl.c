/*
 * carehubctl: asks carehubd about itself and its staff directory.
 *
 * One request per run.  By default the reply is laid out for a person (a line
 * manager checking a team, an administrator checking the daemon); with --json
 * the reply itself is printed, pretty, for programs.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "client.h"
#include "wire.h"

#define CTL_DEFAULT_TIMEOUT_S 10.0
#define CTL_TABLE_MAX_COLUMNS 6
/* Width of the key column of key-value output. */
#define CTL_KEY_WIDTH 18

enum exit_status {
    EXIT_OK = 0,
    EXIT_DAEMON_ERROR = 1, /* the daemon answered with an error */
    EXIT_FAILURE_LOCAL = 2 /* usage, connection or timeout */
};

struct options {
    const char *endpoint;
    bool json;
    int timeout_ms;
};

static void
usage(FILE *out)
{
    fprintf(out,
            "usage: carehubctl [-e ENDPOINT] [--json] [--timeout SECONDS] COMMAND\n"
            "\n"
            "Asks carehubd about itself and the staff directory.\n"
            "\n"
            "Commands:\n"
            "  status       the daemon's version, uptime, event counts and queue\n"
            "  staff ID     a staff member, with their line manager and management chain\n"
            "  team ID      a team, with its members and sub-teams\n"
            "  reports ID   the people whose line manager is staff member ID\n"
            "\n"
            "Options:\n"
            "  -e, --endpoint ENDPOINT  the daemon's API socket (default: $%s)\n"
            "      --json               print the daemon's reply as JSON\n"
            "      --timeout SECONDS    how long to wait for the reply (default %g)\n"
            "  -h, --help               print this help\n"
            "\n"
            "Exit status: 0 success, 1 the daemon answered with an error (such as\n"
            "not_found), 2 usage or connection error, or no reply in time.\n",
            CLIENT_ENDPOINT_ENV, CTL_DEFAULT_TIMEOUT_S);
}

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

static int
print_status(const cJSON *reply)
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
print_staff(const cJSON *reply)
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
print_team(const cJSON *reply)
{
    const cJSON *team = cJSON_GetObjectItemCaseSensitive(reply, "team");
    const cJSON *item;
    struct table members = {.columns = 4, .headers = {"Staff ID", "Name", "Role", "Line manager"}};
    struct table sub_teams = {.columns = 3, .headers = {"Team ID", "Name", "Manager"}};
    char line[512];
    int r = 0;

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
print_reports(const cJSON *reply)
{
    const cJSON *manager = cJSON_GetObjectItemCaseSensitive(reply, "manager");
    const cJSON *item;
    struct table reports = {.columns = 5,
                            .headers = {"Staff ID", "Name", "Role", "Team", "Managed"}};
    char line[512];
    int r = 0;

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

/* ---- command line ---- */

struct command {
    const char *name;
    const char *id_field; /* NULL: takes no argument */
    int (*print)(const cJSON *reply);
};

static const struct command commands[] = {
    {"status", NULL, print_status},
    {"staff", "staff_id", print_staff},
    {"team", "team_id", print_team},
    {"reports", "manager_id", print_reports},
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

static int
parse_options(int argc, char **argv, struct options *options)
{
    static const struct option long_options[] = {
        {"endpoint", required_argument, NULL, 'e'},
        {"json", no_argument, NULL, 'j'},
        {"timeout", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;

    options->timeout_ms = (int)(CTL_DEFAULT_TIMEOUT_S * 1000);
    while ((c = getopt_long(argc, argv, "e:h", long_options, NULL)) != -1) {
        switch (c) {
        case 'e':
            options->endpoint = optarg;
            break;
        case 'j':
            options->json = true;
            break;
        case 't':
            if (parse_seconds_ms(optarg, &options->timeout_ms) < 0) {
                fprintf(stderr, "carehubctl: --timeout wants a number of seconds above 0\n");
                return -EINVAL;
            }
            break;
        case 'h':
            usage(stdout);
            exit(EXIT_OK);
        default:
            usage(stderr);
            return -EINVAL;
        }
    }
    return 0;
}

/* Finds the command named by the arguments left after the options. */
static const struct command *
parse_command(int argc, char **argv)
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
    if (argc - optind != (command->id_field != NULL ? 2 : 1)) {
        if (command->id_field != NULL)
            fprintf(stderr, "carehubctl: usage: carehubctl %s ID\n", command->name);
        else
            fprintf(stderr, "carehubctl: %s takes no argument\n", command->name);
        return NULL;
    }
    if (command->id_field != NULL && argv[optind + 1][0] == '\0') {
        fprintf(stderr, "carehubctl: the ID must not be empty\n");
        return NULL;
    }
    return command;
}

int
main(int argc, char **argv)
{
    struct options options = {0};
    const struct command *command;
    const char *endpoint;
    struct client *client = NULL;
    cJSON *request = NULL;
    cJSON *reply = NULL;
    const char *code;
    const char *message;
    char err[256];
    int status = EXIT_FAILURE_LOCAL;
    int r;

    if (parse_options(argc, argv, &options) < 0 || (command = parse_command(argc, argv)) == NULL)
        goto out;
    endpoint = client_endpoint(options.endpoint);
    if (endpoint == NULL) {
        fprintf(stderr, "carehubctl: no endpoint: use -e ENDPOINT or set %s\n",
                CLIENT_ENDPOINT_ENV);
        goto out;
    }
    request = wire_request_new(command->name, 1);
    if (request == NULL ||
        (command->id_field != NULL &&
         cJSON_AddStringToObject(request, command->id_field, argv[optind + 1]) == NULL)) {
        fprintf(stderr, "carehubctl: out of memory\n");
        goto out;
    }
    if (client_open(&client, endpoint, 0, err, sizeof(err)) < 0) {
        fprintf(stderr, "carehubctl: %s\n", err);
        goto out;
    }
    r = client_request(client, request, options.timeout_ms, &reply);
    if (r == -ETIMEDOUT) {
        fprintf(stderr, "carehubctl: no reply from %s within %g s\n", endpoint,
                options.timeout_ms / 1000.0);
        goto out;
    } else if (r < 0) {
        fprintf(stderr, "carehubctl: %s: %s\n", endpoint, strerror(-r));
        goto out;
    }

    r = wire_reply_status(reply, &code, &message);
    if (options.json) {
        char *text = cJSON_Print(reply);

        if (text == NULL) {
            fprintf(stderr, "carehubctl: out of memory\n");
            goto out;
        }
        puts(text);
        free(text);
    }
    if (r == -EREMOTEIO) {
        fprintf(stderr, "carehubctl: %s: %s\n", code != NULL ? code : "error",
                message != NULL ? message : "the daemon gave no reason");
        status = EXIT_DAEMON_ERROR;
        goto out;
    } else if (r < 0) {
        fprintf(stderr, "carehubctl: the reply from %s is not a carehub reply\n", endpoint);
        goto out;
    }
    if (!options.json && command->print(reply) < 0) {
        fprintf(stderr, "carehubctl: out of memory\n");
        goto out;
    }
    status = EXIT_OK;
out:
    cJSON_Delete(reply);
    cJSON_Delete(request);
    client_close(client);
    if (fflush(stdout) != 0 && status == EXIT_OK)
        status = EXIT_FAILURE_LOCAL;
    return status;
}

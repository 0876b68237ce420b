#include "config.h"

#include <errno.h>
#include <libconfig.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conffile.h"

enum key_kind { KEY_GROUP, KEY_STRING, KEY_INT, KEY_BOOL, KEY_TIMEZONE, KEY_LOG_LEVEL };

/* One configuration key: its dotted path, kind, range or default, and where it goes. */
struct key_spec {
    const char *path;
    enum key_kind kind;
    bool required;
    long long min;
    long long max;
    long long default_number;
    const char *default_text;
    size_t offset;
    size_t size;  /* of the integer field: sizeof(int) or sizeof(long long) */
    bool restart; /* a reload cannot change it: only a restart applies a new value */
};

#define FIELD(name) offsetof(struct config, name), sizeof(((struct config *)0)->name)

/*
 * Keys marked RESTART shape what start-up made and a reload cannot remake:
 * the database and its connections (state_dir, storage.*), the bound sockets
 * and their libzmq options (api.endpoint, notify.endpoint,
 * limits.max_message_bytes, limits.max_pending_replies, the handshake,
 * heartbeat and high-water-mark limits, security.curve,
 * security.server_key_file, security.ipc_mode), and the C library's local
 * time zone, set once before any thread starts (timezone).  The authorised
 * keys (security.authorised_keys) and limits.max_connections are read at
 * each use, so a reload applies them at once.
 */
#define RESTART true
#define LIVE false

static const struct key_spec keys[] = {
    {"state_dir", KEY_STRING, true, 0, 0, 0, NULL, FIELD(state_dir), RESTART},
    {"timezone", KEY_TIMEZONE, false, 0, 0, 0, "UTC", FIELD(timezone), RESTART},
    {"api", KEY_GROUP, true, 0, 0, 0, NULL, 0, 0, LIVE},
    {"api.endpoint", KEY_STRING, true, 0, 0, 0, NULL, FIELD(api_endpoint), RESTART},
    {"notify", KEY_GROUP, true, 0, 0, 0, NULL, 0, 0, LIVE},
    {"notify.endpoint", KEY_STRING, true, 0, 0, 0, NULL, FIELD(notify_endpoint), RESTART},
    {"limits", KEY_GROUP, false, 0, 0, 0, NULL, 0, 0, LIVE},
    {"limits.max_message_bytes", KEY_INT, false, 1024, 64LL << 20, 1 << 20, NULL,
     FIELD(max_message_bytes), RESTART},
    {"limits.max_batch_events", KEY_INT, false, 1, 100000, 10000, NULL, FIELD(max_batch_events),
     LIVE},
    {"limits.max_queued_events", KEY_INT, false, 1000, 10000000, 100000, NULL,
     FIELD(max_queued_events), LIVE},
    {"limits.max_pending_replies", KEY_INT, false, 100, 1000000, 10000, NULL,
     FIELD(max_pending_replies), RESTART},
    {"limits.handshake_timeout_ms", KEY_INT, false, 100, 600000, 5000, NULL,
     FIELD(handshake_timeout_ms), RESTART},
    {"limits.heartbeat_ivl_ms", KEY_INT, false, 0, 3600000, 10000, NULL, FIELD(heartbeat_ivl_ms),
     RESTART},
    {"limits.heartbeat_timeout_ms", KEY_INT, false, 100, 3600000, 30000, NULL,
     FIELD(heartbeat_timeout_ms), RESTART},
    {"limits.send_hwm", KEY_INT, false, 100, 1000000, 10000, NULL, FIELD(send_hwm), RESTART},
    {"limits.receive_hwm", KEY_INT, false, 100, 1000000, 10000, NULL, FIELD(receive_hwm), RESTART},
    {"limits.max_connections", KEY_INT, false, 1, 100000, 1024, NULL, FIELD(max_connections), LIVE},
    {"security", KEY_GROUP, false, 0, 0, 0, NULL, 0, 0, LIVE},
    {"security.curve", KEY_BOOL, false, 0, 0, 0, NULL, FIELD(curve), RESTART},
    {"security.server_key_file", KEY_STRING, false, 0, 0, 0, NULL, FIELD(server_key_file), RESTART},
    {"security.authorised_keys", KEY_STRING, false, 0, 0, 0, NULL, FIELD(authorised_keys), LIVE},
    {"security.ipc_mode", KEY_STRING, false, 0, 0, 0, "0660", FIELD(ipc_mode_text), RESTART},
    {"commit", KEY_GROUP, false, 0, 0, 0, NULL, 0, 0, LIVE},
    {"commit.max_events", KEY_INT, false, 1, 100000, 4096, NULL, FIELD(commit_max_events), LIVE},
    {"commit.max_delay_ms", KEY_INT, false, 0, 1000, 0, NULL, FIELD(commit_max_delay_ms), LIVE},
    {"storage", KEY_GROUP, false, 0, 0, 0, NULL, 0, 0, LIVE},
    {"storage.durable", KEY_BOOL, false, 0, 0, 1, NULL, FIELD(durable), RESTART},
    {"storage.cache_mb", KEY_INT, false, 1, 4096, 64, NULL, FIELD(cache_mb), RESTART},
    {"storage.checkpoint_pages", KEY_INT, false, 100, 1000000, 1000, NULL, FIELD(checkpoint_pages),
     RESTART},
    {"retention", KEY_GROUP, false, 0, 0, 0, NULL, 0, 0, LIVE},
    {"retention.left_staff_days", KEY_INT, false, 0, 36500, 2555, NULL,
     FIELD(retention.left_staff_days), LIVE},
    {"retention.event_days", KEY_INT, false, 0, 36500, 400, NULL, FIELD(retention.event_days),
     LIVE},
    {"retention.run_at", KEY_STRING, false, 0, 0, 0, "02:30", FIELD(retention.run_at_text), LIVE},
    {"log", KEY_GROUP, false, 0, 0, 0, NULL, 0, 0, LIVE},
    {"log.level", KEY_LOG_LEVEL, false, 0, 0, 0, "info", FIELD(log_level), LIVE},
};

static const struct {
    const char *name;
    int level;
} log_levels[] = {{"error", LOG_ERR},
                  {"warning", LOG_WARNING},
                  {"notice", LOG_NOTICE},
                  {"info", LOG_INFO},
                  {"debug", LOG_DEBUG}};

static void __attribute__((format(printf, 4, 5)))
add_error(struct config_errors *errors, const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    char *slot;
    size_t size;
    int used;

    errors->count++;
    if (errors->count > CONFIG_MAX_ERRORS)
        return;
    slot = errors->text[errors->count - 1];
    size = sizeof(errors->text[0]);
    if (line > 0)
        used = snprintf(slot, size, "%s:%d: ", file, line);
    else
        used = snprintf(slot, size, "%s: ", file);
    if (used < 0 || (size_t)used >= size)
        return;
    va_start(ap, fmt);
    vsnprintf(slot + used, size - (size_t)used, fmt, ap);
    va_end(ap);
}

void
config_add_error(struct config_errors *errors, const char *file, int line, const char *fmt, ...)
{
    char text[sizeof(errors->text[0])];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    add_error(errors, file, line, "%s", text);
}

static const struct key_spec *
find_key(const char *path)
{
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        if (strcmp(keys[i].path, path) == 0)
            return &keys[i];
    return NULL;
}

/*
 * A time zone is valid when the system's time-zone database has it.  Names are
 * checked before they touch the file system so that "../../etc/passwd" is not
 * a zone.
 */
static bool
timezone_exists(const char *name)
{
    const char *dir = getenv("TZDIR");
    char path[512];
    struct stat st;

    if (name[0] == '\0' || name[0] == '/' || strstr(name, "..") != NULL)
        return false;
    for (const char *p = name; *p; p++)
        if (!(*p == '/' || *p == '_' || *p == '-' || *p == '+' || (*p >= '0' && *p <= '9') ||
              (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z')))
            return false;
    snprintf(path, sizeof(path), "%s/%s", dir ? dir : "/usr/share/zoneinfo", name);
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, R_OK) == 0;
}

const char *
config_type_name(int type)
{
    switch (type) {
    case CONFIG_TYPE_GROUP:
        return "a group";
    case CONFIG_TYPE_INT:
    case CONFIG_TYPE_INT64:
        return "an integer";
    case CONFIG_TYPE_FLOAT:
        return "a number with a fraction";
    case CONFIG_TYPE_STRING:
        return "a string";
    case CONFIG_TYPE_BOOL:
        return "true or false";
    case CONFIG_TYPE_ARRAY:
        return "an array";
    case CONFIG_TYPE_LIST:
        return "a list";
    default:
        return "an unknown kind of value";
    }
}

static const char *
expected_name(enum key_kind kind)
{
    switch (kind) {
    case KEY_GROUP:
        return "a group { ... }";
    case KEY_INT:
        return "an integer";
    case KEY_BOOL:
        return "true or false";
    default:
        return "a string";
    }
}

static int
expected_type(enum key_kind kind)
{
    switch (kind) {
    case KEY_GROUP:
        return CONFIG_TYPE_GROUP;
    case KEY_INT:
        return CONFIG_TYPE_INT;
    case KEY_BOOL:
        return CONFIG_TYPE_BOOL;
    default:
        return CONFIG_TYPE_STRING;
    }
}

static void
store_value(struct config *out, const struct key_spec *spec, config_setting_t *setting,
            const char *file, struct config_errors *errors)
{
    char *field = (char *)out + spec->offset;
    int line = (int)config_setting_source_line(setting);

    if (config_setting_source_file(setting) != NULL)
        file = config_setting_source_file(setting); /* an @include'd file */
    switch (spec->kind) {
    case KEY_GROUP:
        break;
    case KEY_STRING:
    case KEY_TIMEZONE: {
        const char *text = config_setting_get_string(setting);
        if (text[0] == '\0') {
            add_error(errors, file, line, "%s: must not be empty", spec->path);
            return;
        }
        if (spec->kind == KEY_TIMEZONE && !timezone_exists(text)) {
            add_error(errors, file, line,
                      "%s: unknown time zone \"%s\" (use an IANA name such as "
                      "\"Europe/London\")",
                      spec->path, text);
            return;
        }
        free(*(char **)field);
        *(char **)field = strdup(text);
        break;
    }
    case KEY_LOG_LEVEL: {
        const char *text = config_setting_get_string(setting);
        for (size_t i = 0; i < sizeof(log_levels) / sizeof(log_levels[0]); i++) {
            if (strcmp(text, log_levels[i].name) == 0) {
                *(int *)field = log_levels[i].level;
                return;
            }
        }
        add_error(errors, file, line,
                  "%s: \"%s\" is not a level (error, warning, notice, info, debug)", spec->path,
                  text);
        break;
    }
    case KEY_INT: {
        long long value = config_setting_get_int64(setting);
        const char *name = strrchr(spec->path, '.') ? strrchr(spec->path, '.') + 1 : spec->path;
        if (!conffile_integer_as_written(file, line, name, value)) {
            add_error(errors, file, line, "%s: the number is too large (%lld to %lld)", spec->path,
                      spec->min, spec->max);
            return;
        }
        if (value < spec->min || value > spec->max) {
            add_error(errors, file, line, "%s: %lld is out of range (%lld to %lld)", spec->path,
                      value, spec->min, spec->max);
            return;
        }
        if (spec->size == sizeof(int))
            *(int *)field = (int)value;
        else
            *(long long *)field = value;
        break;
    }
    case KEY_BOOL:
        *(bool *)field = config_setting_get_bool(setting) != 0;
        break;
    }
}

/* Checks every setting under group, recursively, against the key table. */
static void
check_group(struct config *out, config_setting_t *group, const char *prefix, const char *file,
            struct config_errors *errors)
{
    int count = config_setting_length(group);

    for (int i = 0; i < count; i++) {
        config_setting_t *setting = config_setting_get_elem(group, (unsigned)i);
        const char *name = config_setting_name(setting);
        int line = (int)config_setting_source_line(setting);
        const char *where =
            config_setting_source_file(setting) ? config_setting_source_file(setting) : file;
        char path[256];
        const struct key_spec *spec;
        int type = config_setting_type(setting);

        snprintf(path, sizeof(path), "%s%s%s", prefix, prefix[0] ? "." : "", name ? name : "?");
        if (prefix[0] == '\0' && name != NULL &&
            (strcmp(name, "schedule") == 0 || strcmp(name, "kinds") == 0 ||
             strcmp(name, "courses") == 0))
            continue; /* checked by kinds_load() */
        if (prefix[0] == '\0' && name != NULL &&
            (strcmp(name, "kpi") == 0 || strcmp(name, "metrics") == 0))
            continue; /* checked by metrics_load() */
        spec = find_key(path);
        if (spec == NULL) {
            add_error(errors, where, line, "%s: unknown key", path);
            continue;
        }
        if (type == CONFIG_TYPE_INT64)
            type = CONFIG_TYPE_INT;
        if (type != expected_type(spec->kind)) {
            add_error(errors, where, line, "%s: must be %s, not %s", path,
                      expected_name(spec->kind), config_type_name(config_setting_type(setting)));
            continue;
        }
        if (spec->kind == KEY_GROUP)
            check_group(out, setting, path, file, errors);
        else
            store_value(out, spec, setting, file, errors);
    }
}

static void
set_defaults(struct config *out)
{
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        const struct key_spec *spec = &keys[i];
        char *field = (char *)out + spec->offset;

        switch (spec->kind) {
        case KEY_INT:
            if (spec->size == sizeof(int))
                *(int *)field = (int)spec->default_number;
            else
                *(long long *)field = spec->default_number;
            break;
        case KEY_BOOL:
            *(bool *)field = spec->default_number != 0;
            break;
        case KEY_STRING:
        case KEY_TIMEZONE:
            if (spec->default_text)
                *(char **)field = strdup(spec->default_text);
            break;
        case KEY_LOG_LEVEL:
            *(int *)field = LOG_INFO;
            break;
        case KEY_GROUP:
            break;
        }
    }
}

/* The line of the setting at key in parsed, or 0 when it is not there. */
static int
line_of(config_t *parsed, const char *key)
{
    config_setting_t *setting = config_lookup(parsed, key);

    return setting != NULL ? (int)config_setting_source_line(setting) : 0;
}

/*
 * The checks of the security group that span keys: CURVE needs both files,
 * and ipc_mode is an octal mode.
 */
static void
check_security(config_t *parsed, struct config *out, const char *path, struct config_errors *errors)
{
    const char *text = out->ipc_mode_text;
    char *end = NULL;
    long mode = -1;

    if (text != NULL && text[0] >= '0' && text[0] <= '7' && strlen(text) <= 4 &&
        strspn(text, "01234567") == strlen(text))
        mode = strtol(text, &end, 8);
    if (mode < 0 || mode > 0777 || (mode & 0600) != 0600)
        add_error(errors, path, line_of(parsed, "security.ipc_mode"),
                  "security.ipc_mode: \"%s\" is not an octal file mode from \"0600\" to "
                  "\"0777\" that lets the owner read and write (such as \"0660\")",
                  text ? text : "");
    else
        out->ipc_mode = (int)mode;
    if (!out->curve)
        return;
    if (out->server_key_file == NULL)
        add_error(errors, path, line_of(parsed, "security.curve"),
                  "security.server_key_file: required when security.curve is true (the "
                  "daemon's key pair, made with carehubctl keygen)");
    if (out->authorised_keys == NULL)
        add_error(errors, path, line_of(parsed, "security.curve"),
                  "security.authorised_keys: required when security.curve is true (the file of "
                  "the clients' public keys and roles)");
}

/* Why a file libconfig could not read cannot be read (libconfig keeps no errno). */
static const char *
read_failure(const char *path)
{
    struct stat st;

    if (stat(path, &st) < 0)
        return strerror(errno);
    if (S_ISDIR(st.st_mode))
        return strerror(EISDIR);
    if (access(path, R_OK) < 0)
        return strerror(errno);
    return "it could not be read";
}

int
config_load(const char *path, struct config *out, struct config_errors *errors)
{
    config_t parsed;

    memset(out, 0, sizeof(*out));
    errors->count = 0;
    config_init(&parsed);
    if (config_read_file(&parsed, path) != CONFIG_TRUE) {
        if (config_error_type(&parsed) == CONFIG_ERR_FILE_IO)
            add_error(errors, path, 0, "cannot read the file: %s", read_failure(path));
        else
            add_error(errors, path, config_error_line(&parsed), "syntax error: %s",
                      config_error_text(&parsed));
        config_destroy(&parsed);
        return -EINVAL;
    }

    set_defaults(out);
    check_group(out, config_root_setting(&parsed), "", path, errors);
    if (kinds_load(config_root_setting(&parsed), path, &out->kinds, errors) == -ENOMEM) {
        config_destroy(&parsed);
        config_free(out);
        return -ENOMEM;
    }
    if (metrics_load(config_root_setting(&parsed), path, &out->kinds, &out->metrics, errors) ==
        -ENOMEM) {
        config_destroy(&parsed);
        config_free(out);
        return -ENOMEM;
    }
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        if (keys[i].required && config_lookup(&parsed, keys[i].path) == NULL) {
            /* A missing member of a missing group is reported once, at the group. */
            const char *dot = strrchr(keys[i].path, '.');
            if (dot) {
                char group[64];
                snprintf(group, sizeof(group), "%.*s", (int)(dot - keys[i].path), keys[i].path);
                config_setting_t *parent = config_lookup(&parsed, group);
                if (parent == NULL || !config_setting_is_group(parent))
                    continue;
            }
            add_error(errors, path, 0, "%s: required key is missing", keys[i].path);
        }
    }
    check_security(&parsed, out, path, errors);
    if (retention_parse_time(out->retention.run_at_text, &out->retention.run_at) < 0)
        add_error(errors, path, line_of(&parsed, "retention.run_at"),
                  "retention.run_at: \"%s\" is not a time of day written \"HH:MM\" (00:00 to "
                  "23:59)",
                  out->retention.run_at_text ? out->retention.run_at_text : "");
    config_destroy(&parsed);
    if (errors->count > 0) {
        config_free(out);
        return -EINVAL;
    }
    out->path = strdup(path);
    if (out->path == NULL || out->timezone == NULL) {
        add_error(errors, path, 0, "out of memory");
        config_free(out);
        return -ENOMEM;
    }
    return 0;
}

void
config_free(struct config *config)
{
    if (config == NULL)
        return;
    free(config->path);
    free(config->state_dir);
    free(config->api_endpoint);
    free(config->notify_endpoint);
    free(config->timezone);
    free(config->server_key_file);
    free(config->authorised_keys);
    free(config->ipc_mode_text);
    free(config->retention.run_at_text);
    kinds_free(&config->kinds);
    metrics_free(&config->metrics);
    memset(config, 0, sizeof(*config));
}

/* Writes the value of a key's field in config into buf, as the file would write it. */
static void
format_value(const struct config *config, const struct key_spec *spec, char *buf, size_t size)
{
    const char *field = (const char *)config + spec->offset;

    switch (spec->kind) {
    case KEY_STRING:
    case KEY_TIMEZONE:
        snprintf(buf, size, "\"%s\"", *(char *const *)field ? *(char *const *)field : "");
        break;
    case KEY_INT:
        snprintf(buf, size, "%lld",
                 spec->size == sizeof(int) ? (long long)*(const int *)field
                                           : *(const long long *)field);
        break;
    case KEY_BOOL:
        snprintf(buf, size, "%s", *(const bool *)field ? "true" : "false");
        break;
    default:
        snprintf(buf, size, "?");
        break;
    }
}

int
config_restart_changes(const struct config *running, const struct config *next,
                       struct config_errors *errors)
{
    const char *file = next->path ? next->path : "(configuration)";
    int changed = 0;

    errors->count = 0;
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        const struct key_spec *spec = &keys[i];
        char now[160], wanted[160];

        if (!spec->restart)
            continue;
        format_value(running, spec, now, sizeof(now));
        format_value(next, spec, wanted, sizeof(wanted));
        if (strcmp(now, wanted) == 0)
            continue;
        changed++;
        add_error(errors, file, 0,
                  "%s: the file says %s but carehubd runs with %s, and only a restart can apply "
                  "a change to this key",
                  spec->path, wanted, now);
    }
    return changed;
}

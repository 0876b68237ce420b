#include "notify_config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include <libconfig.h>

#include "conffile.h"

/* What a key must hold. */
enum key_type { KEY_GROUP, KEY_STRING, KEY_INT, KEY_BOOL };

struct key {
    const char *path;
    enum key_type type;
};

/* Every key the file may hold; anything else is a mistake worth reporting. */
static const struct key keys[] = {
    {"api", KEY_GROUP},
    {"api.endpoint", KEY_STRING},
    {"api.key_file", KEY_STRING},
    {"api.server_key", KEY_STRING},
    {"notify", KEY_GROUP},
    {"notify.endpoint", KEY_STRING},
    {"state_file", KEY_STRING},
    {"templates", KEY_STRING},
    {"organisation", KEY_STRING},
    {"log", KEY_GROUP},
    {"log.level", KEY_STRING},
    {"clock_poll_ms", KEY_INT},
    {"request_timeout_ms", KEY_INT},
    {"smtp", KEY_GROUP},
    {"smtp.url", KEY_STRING},
    {"smtp.tls", KEY_STRING},
    {"smtp.username", KEY_STRING},
    {"smtp.password_file", KEY_STRING},
    {"smtp.ca_file", KEY_STRING},
    {"smtp.verify", KEY_BOOL},
    {"smtp.timeout_seconds", KEY_INT},
    {"smtp.helo", KEY_STRING},
    {"mail", KEY_GROUP},
    {"mail.from", KEY_STRING},
    {"mail.from_name", KEY_STRING},
    {"mail.fallback", KEY_STRING},
    {"mail.message_id_domain", KEY_STRING},
    {"digest", KEY_GROUP},
    {"digest.enabled", KEY_BOOL},
    {"digest.time", KEY_STRING},
    {"digest.immediate_escalation_level", KEY_INT},
    {"digest.immediate_alerts", KEY_BOOL},
    {"digest.attach_calendar", KEY_BOOL},
    {"digest.calendar_days", KEY_INT},
    {"retry", KEY_GROUP},
    {"retry.first_seconds", KEY_INT},
    {"retry.max_seconds", KEY_INT},
    {"retry.give_up_seconds", KEY_INT},
};

/* One load's file and error list. */
struct reader {
    const char *file;
    config_t *parsed;
    struct notify_config_errors *errors;
    bool out_of_memory;
};

static void add_error(struct reader *reader, const config_setting_t *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
add_error(struct reader *reader, const config_setting_t *at, const char *fmt, ...)
{
    struct notify_config_errors *errors = reader->errors;
    const char *file = reader->file;
    int line = 0;
    va_list args;

    if (at != NULL) {
        line = (int)config_setting_source_line(at);
        if (config_setting_source_file(at) != NULL)
            file = config_setting_source_file(at);
    }
    if (errors->count < NOTIFY_CONFIG_MAX_ERRORS) {
        char *text = errors->text[errors->count];
        size_t size = sizeof(errors->text[0]);
        int used = line > 0 ? snprintf(text, size, "%s:%d: ", file, line)
                            : snprintf(text, size, "%s: ", file);
        if (used > 0 && (size_t)used < size) {
            va_start(args, fmt);
            vsnprintf(text + used, size - (size_t)used, fmt, args);
            va_end(args);
        }
    }
    errors->count++;
}

static const struct key *
find_key(const char *path)
{
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        if (strcmp(keys[i].path, path) == 0)
            return &keys[i];
    return NULL;
}

static const char *
type_name(enum key_type type)
{
    switch (type) {
    case KEY_GROUP:
        return "a group { ... }";
    case KEY_INT:
        return "a whole number";
    case KEY_BOOL:
        return "true or false";
    default:
        return "a string in double quotes";
    }
}

static bool
type_matches(enum key_type type, int libconfig_type)
{
    switch (type) {
    case KEY_GROUP:
        return libconfig_type == CONFIG_TYPE_GROUP;
    case KEY_INT:
        return libconfig_type == CONFIG_TYPE_INT || libconfig_type == CONFIG_TYPE_INT64;
    case KEY_BOOL:
        return libconfig_type == CONFIG_TYPE_BOOL;
    default:
        return libconfig_type == CONFIG_TYPE_STRING;
    }
}

/* Reports every key the table does not know, and every key of the wrong type. */
static void
check_keys(struct reader *reader, const config_setting_t *group, const char *prefix)
{
    int count = config_setting_length(group);

    for (int i = 0; i < count; i++) {
        const config_setting_t *setting = config_setting_get_elem(group, (unsigned)i);
        const char *name = config_setting_name(setting);
        char path[256];
        const struct key *key;

        snprintf(path, sizeof(path), "%s%s%s", prefix, prefix[0] ? "." : "",
                 name != NULL ? name : "?");
        key = find_key(path);
        if (key == NULL) {
            add_error(reader, setting, "%s: unknown key", path);
            continue;
        }
        if (!type_matches(key->type, config_setting_type(setting))) {
            add_error(reader, setting, "%s: must be %s", path, type_name(key->type));
            continue;
        }
        if (key->type == KEY_GROUP)
            check_keys(reader, setting, path);
    }
}

/* The setting at path when it exists with the right type (check_keys() reported the rest). */
static const config_setting_t *
setting_at(struct reader *reader, const char *path)
{
    const config_setting_t *setting = config_lookup(reader->parsed, path);
    const struct key *key = find_key(path);

    if (setting == NULL || key == NULL || !type_matches(key->type, config_setting_type(setting)))
        return NULL;
    return setting;
}

/*
 * A copy of the string at path into *out: the default (copied; may be NULL)
 * when absent.  An empty string is an error.
 */
static void
read_string(struct reader *reader, const char *path, const char *fallback, bool required,
            char **out)
{
    const config_setting_t *setting = setting_at(reader, path);
    const char *text = fallback;

    if (setting != NULL) {
        text = config_setting_get_string(setting);
        if (text[0] == '\0') {
            add_error(reader, setting, "%s: must not be empty", path);
            return;
        }
    } else if (required && config_lookup(reader->parsed, path) == NULL) {
        add_error(reader, NULL, "%s: missing (it is required)", path);
        return;
    }
    if (text == NULL)
        return;
    *out = strdup(text);
    if (*out == NULL)
        reader->out_of_memory = true;
}

static void
read_int(struct reader *reader, const char *path, int fallback, int min, int max, int *out)
{
    const config_setting_t *setting = setting_at(reader, path);
    long long value;

    *out = fallback;
    if (setting == NULL)
        return;
    value = config_setting_get_int64(setting);
    {
        const char *file = config_setting_source_file(setting) != NULL
                               ? config_setting_source_file(setting)
                               : reader->file;
        const char *name = strrchr(path, '.') != NULL ? strrchr(path, '.') + 1 : path;
        if (!conffile_integer_as_written(file, (int)config_setting_source_line(setting), name,
                                         value)) {
            add_error(reader, setting, "%s: the number is too large (%d to %d)", path, min, max);
            return;
        }
    }
    if (value < min || value > max) {
        add_error(reader, setting, "%s: %lld is out of range (%d to %d)", path, value, min, max);
        return;
    }
    *out = (int)value;
}

static void
read_bool(struct reader *reader, const char *path, bool fallback, bool *out)
{
    const config_setting_t *setting = setting_at(reader, path);

    *out = setting != NULL ? config_setting_get_bool(setting) != 0 : fallback;
}

/*
 * True for an address carehub-notify can put in an envelope and a header:
 * one '@' between a non-empty local part and a domain with a dot or
 * "localhost", no spaces, no control characters, no angle brackets, quotes,
 * commas or semicolons.
 */
static bool
address_valid(const char *address)
{
    const char *at = strchr(address, '@');

    if (at == NULL || at == address || at[1] == '\0' || strchr(at + 1, '@') != NULL)
        return false;
    if (strlen(address) > 254)
        return false;
    for (const char *p = address; *p != '\0'; p++) {
        unsigned char c = (unsigned char)*p;
        if (c <= ' ' || c == 0x7f || strchr("<>()[]\\,;:\"", c) != NULL)
            return false;
    }
    return strchr(at + 1, '.') != NULL || strcmp(at + 1, "localhost") == 0;
}

static void
check_address(struct reader *reader, const char *path, const char *address)
{
    if (address != NULL && !address_valid(address))
        add_error(reader, setting_at(reader, path),
                  "%s: \"%s\" is not an email address (write it as name@example.org, "
                  "without a display name)",
                  path, address);
}

/* True for a header value: no control characters (CR and LF above all). */
static bool
header_text_valid(const char *text)
{
    for (const char *p = text; *p != '\0'; p++)
        if ((unsigned char)*p < ' ' || *p == 0x7f)
            return false;
    return true;
}

static void
read_log_level(struct reader *reader, struct notify_config *out)
{
    static const struct {
        const char *name;
        int level;
    } levels[] = {{"error", LOG_ERR},
                  {"warning", LOG_WARNING},
                  {"notice", LOG_NOTICE},
                  {"info", LOG_INFO},
                  {"debug", LOG_DEBUG}};
    const config_setting_t *setting = setting_at(reader, "log.level");

    out->log_level = LOG_INFO;
    if (setting == NULL)
        return;
    for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
        if (strcmp(config_setting_get_string(setting), levels[i].name) == 0) {
            out->log_level = levels[i].level;
            return;
        }
    }
    add_error(reader, setting,
              "log.level: \"%s\" is not a level (error, warning, notice, info, debug)",
              config_setting_get_string(setting));
}

static void
read_smtp(struct reader *reader, struct notify_config *out)
{
    const config_setting_t *tls = setting_at(reader, "smtp.tls");
    const config_setting_t *password_file = setting_at(reader, "smtp.password_file");
    bool implicit_url, url_valid;

    read_string(reader, "smtp.url", NULL, true, &out->smtp_url);
    read_string(reader, "smtp.username", NULL, false, &out->smtp_username);
    read_string(reader, "smtp.ca_file", NULL, false, &out->smtp_ca_file);
    read_string(reader, "smtp.helo", NULL, false, &out->smtp_helo);
    read_bool(reader, "smtp.verify", true, &out->smtp_verify);
    read_int(reader, "smtp.timeout_seconds", 30, 1, 600, &out->smtp_timeout_seconds);
    /* Without a usable url smtp.tls cannot be judged; the other keys still are. */
    implicit_url = out->smtp_url != NULL && strncmp(out->smtp_url, "smtps://", 8) == 0;
    url_valid =
        implicit_url || (out->smtp_url != NULL && strncmp(out->smtp_url, "smtp://", 7) == 0);
    if (out->smtp_url != NULL && !url_valid)
        add_error(reader, setting_at(reader, "smtp.url"),
                  "smtp.url: \"%s\" must start with smtp:// (port 25 or 587) or smtps:// "
                  "(port 465)",
                  out->smtp_url);
    out->smtp_tls = implicit_url ? MAIL_TLS_IMPLICIT : MAIL_TLS_STARTTLS;
    if (tls != NULL && url_valid) {
        const char *mode = config_setting_get_string(tls);
        if (strcmp(mode, "starttls") == 0 && !implicit_url)
            out->smtp_tls = MAIL_TLS_STARTTLS;
        else if (strcmp(mode, "tls") == 0 && implicit_url)
            out->smtp_tls = MAIL_TLS_IMPLICIT;
        else if (strcmp(mode, "none") == 0 && !implicit_url)
            out->smtp_tls = MAIL_TLS_NONE;
        else if (strcmp(mode, "starttls") == 0 || strcmp(mode, "none") == 0)
            add_error(reader, tls,
                      "smtp.tls: \"%s\" does not go with an smtps:// url (use \"tls\")", mode);
        else if (strcmp(mode, "tls") == 0)
            add_error(reader, tls,
                      "smtp.tls: \"tls\" needs an smtps:// url (for smtp:// use \"starttls\")");
        else
            add_error(reader, tls, "smtp.tls: \"%s\" is not one of \"starttls\", \"tls\", \"none\"",
                      mode);
    }
    if (out->smtp_username != NULL && password_file == NULL)
        add_error(reader, setting_at(reader, "smtp.username"),
                  "smtp.username: needs smtp.password_file (the file holding the password)");
    if (password_file != NULL && out->smtp_username == NULL)
        add_error(reader, password_file, "smtp.password_file: needs smtp.username");
    if (password_file != NULL && out->smtp_username != NULL) {
        const char *path = config_setting_get_string(password_file);
        FILE *f = fopen(path, "re");
        char line[1024];
        if (f == NULL) {
            add_error(reader, password_file, "smtp.password_file: cannot read \"%s\": %s", path,
                      strerror(errno));
            return;
        }
        if (fgets(line, sizeof(line), f) == NULL) {
            /* A directory opens but cannot be read: that is not an empty file. */
            int read_error = ferror(f) ? errno : 0;
            line[0] = '\0';
            if (read_error != 0) {
                fclose(f);
                add_error(reader, password_file, "smtp.password_file: cannot read \"%s\": %s", path,
                          strerror(read_error));
                return;
            }
        }
        fclose(f);
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] == '\0') {
            add_error(reader, password_file,
                      "smtp.password_file: \"%s\" is empty (its first line is the password)", path);
            return;
        }
        out->smtp_password = strdup(line);
        explicit_bzero(line, sizeof(line));
        if (out->smtp_password == NULL)
            reader->out_of_memory = true;
    }
}

static void
read_mail(struct reader *reader, struct notify_config *out)
{
    read_string(reader, "mail.from", NULL, true, &out->from);
    read_string(reader, "mail.from_name", "Care reviews", false, &out->from_name);
    read_string(reader, "mail.fallback", NULL, false, &out->fallback);
    read_string(reader, "mail.message_id_domain", NULL, false, &out->message_id_domain);
    check_address(reader, "mail.from", out->from);
    check_address(reader, "mail.fallback", out->fallback);
    if (out->from_name != NULL && !header_text_valid(out->from_name))
        add_error(reader, setting_at(reader, "mail.from_name"),
                  "mail.from_name: must be one line without control characters");
    if (out->message_id_domain != NULL &&
        (strspn(out->message_id_domain,
                "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") !=
         strlen(out->message_id_domain)))
        add_error(reader, setting_at(reader, "mail.message_id_domain"),
                  "mail.message_id_domain: \"%s\" is not a domain name", out->message_id_domain);
    if (out->message_id_domain == NULL && out->from != NULL && address_valid(out->from)) {
        out->message_id_domain = strdup(strchr(out->from, '@') + 1);
        if (out->message_id_domain == NULL)
            reader->out_of_memory = true;
    }
}

static void
read_digest(struct reader *reader, struct notify_config *out)
{
    const config_setting_t *time = setting_at(reader, "digest.time");

    read_bool(reader, "digest.enabled", true, &out->digest_enabled);
    read_int(reader, "digest.immediate_escalation_level", 0, 0, 99,
             &out->immediate_escalation_level);
    read_bool(reader, "digest.immediate_alerts", false, &out->immediate_alerts);
    read_bool(reader, "digest.attach_calendar", false, &out->attach_calendar);
    read_int(reader, "digest.calendar_days", 28, 1, 366, &out->calendar_days);
    out->digest_minute = 9 * 60 + 30;
    if (time != NULL) {
        const char *text = config_setting_get_string(time);
        int hours, minutes;
        char extra;
        /* Digits only: sscanf alone would take " 9:00" and "+9:00". */
        if (strlen(text) != 5 || strspn(text, "0123456789") != 2 ||
            strspn(text + 3, "0123456789") != 2 ||
            sscanf(text, "%2d:%2d%c", &hours, &minutes, &extra) != 2 || text[2] != ':' ||
            hours < 0 || hours > 23 || minutes < 0 || minutes > 59)
            add_error(reader, time,
                      "digest.time: \"%s\" is not a time of day (\"00:00\" to \"23:59\")", text);
        else
            out->digest_minute = hours * 60 + minutes;
    }
    snprintf(out->digest_time, sizeof(out->digest_time), "%02d:%02d", out->digest_minute / 60,
             out->digest_minute % 60);
}

int
notify_config_load(const char *path, struct notify_config *out, struct notify_config_errors *errors)
{
    config_t parsed;
    struct reader reader = {path, &parsed, errors, false};
    int r;

    memset(out, 0, sizeof(*out));
    errors->count = 0;
    config_init(&parsed);
    out->path = strdup(path);
    if (out->path == NULL) {
        r = -ENOMEM;
        goto done;
    }
    if (config_read_file(&parsed, path) != CONFIG_TRUE) {
        if (config_error_type(&parsed) == CONFIG_ERR_FILE_IO) {
            FILE *f = fopen(path, "re");
            add_error(&reader, NULL, "cannot read the file: %s",
                      f == NULL ? strerror(errno) : "it could not be read");
            if (f != NULL)
                fclose(f);
        } else {
            struct notify_config_errors *e = errors;
            if (e->count < NOTIFY_CONFIG_MAX_ERRORS)
                snprintf(e->text[e->count], sizeof(e->text[0]), "%s:%d: syntax error: %s",
                         config_error_file(&parsed) ? config_error_file(&parsed) : path,
                         config_error_line(&parsed), config_error_text(&parsed));
            e->count++;
        }
        r = -EINVAL;
        goto done;
    }
    check_keys(&reader, config_root_setting(&parsed), "");
    read_string(&reader, "api.endpoint", NULL, true, &out->api_endpoint);
    read_string(&reader, "notify.endpoint", NULL, true, &out->notify_endpoint);
    read_string(&reader, "api.key_file", NULL, false, &out->api_key_file);
    read_string(&reader, "api.server_key", NULL, false, &out->api_server_key);
    if ((out->api_key_file == NULL) != (out->api_server_key == NULL))
        add_error(&reader,
                  setting_at(&reader, out->api_key_file ? "api.key_file" : "api.server_key"),
                  "api.key_file and api.server_key go together: CURVE needs both this "
                  "service's key pair and carehubd's public key");
    read_string(&reader, "state_file", "/var/lib/carehub/carehub-notify.db", false,
                &out->state_file);
    read_string(&reader, "templates", NULL, false, &out->templates);
    read_string(&reader, "organisation", "", false, &out->organisation);
    read_log_level(&reader, out);
    read_int(&reader, "clock_poll_ms", 1000, 50, 60000, &out->clock_poll_ms);
    read_int(&reader, "request_timeout_ms", 10000, 100, 600000, &out->request_timeout_ms);
    read_smtp(&reader, out);
    read_mail(&reader, out);
    read_digest(&reader, out);
    read_int(&reader, "retry.first_seconds", 30, 1, 3600, &out->retry_first_seconds);
    read_int(&reader, "retry.max_seconds", 1800, 1, 86400, &out->retry_max_seconds);
    read_int(&reader, "retry.give_up_seconds", 86400, 1, 30 * 86400, &out->retry_give_up_seconds);
    if (out->retry_max_seconds < out->retry_first_seconds)
        add_error(&reader, setting_at(&reader, "retry.max_seconds"),
                  "retry.max_seconds: %d is less than retry.first_seconds (%d)",
                  out->retry_max_seconds, out->retry_first_seconds);
    if (reader.out_of_memory)
        r = -ENOMEM;
    else
        r = errors->count > 0 ? -EINVAL : 0;
done:
    config_destroy(&parsed);
    return r;
}

void
notify_config_free(struct notify_config *config)
{
    if (config == NULL)
        return;
    free(config->path);
    free(config->api_endpoint);
    free(config->notify_endpoint);
    free(config->api_key_file);
    free(config->api_server_key);
    free(config->state_file);
    free(config->templates);
    free(config->organisation);
    free(config->smtp_url);
    free(config->smtp_username);
    if (config->smtp_password != NULL) {
        explicit_bzero(config->smtp_password, strlen(config->smtp_password));
        free(config->smtp_password);
    }
    free(config->smtp_ca_file);
    free(config->smtp_helo);
    free(config->from);
    free(config->from_name);
    free(config->fallback);
    free(config->message_id_domain);
    memset(config, 0, sizeof(*config));
}

/*
 * Unit tests of clients/notify_config: carehub-notify.conf read into a fresh
 * struct notify_config.  The minimal file and its defaults, every key read,
 * the reference file, and every mistake with its exact message
 * "FILE:LINE: key: reason" (or "FILE: key: reason" when the mistake has no
 * line, such as a missing key), several in one file.
 *
 * Each test writes its files with mkstemp() under /tmp; the teardown removes
 * them.
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
#include <syslog.h>
#include <unistd.h>

#include <cmocka.h>

#include "notify_config.h"

/* The required keys, one group a line, so that a test can replace one. */
#define API_LINE "api = { endpoint = \"tcp://127.0.0.1:7420\"; };\n"
#define NOTIFY_LINE "notify = { endpoint = \"tcp://127.0.0.1:7421\"; };\n"
#define SMTP_LINE "smtp = { url = \"smtp://mail.example.org:587\"; };\n"
#define MAIL_LINE "mail = { from = \"carehub@example.org\"; };\n"
#define MINIMAL API_LINE NOTIFY_LINE SMTP_LINE MAIL_LINE

struct fixture {
    char path[64];     /* the configuration file; "" when there is none to remove */
    char password[64]; /* a password file; "" when there is none */
    struct notify_config config;
    struct notify_config_errors errors;
};

static int
setup(void **state)
{
    struct fixture *fixture = calloc(1, sizeof(*fixture));

    if (fixture == NULL)
        return -1;
    *state = fixture;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *fixture = *state;

    notify_config_free(&fixture->config);
    if (fixture->path[0] != '\0')
        unlink(fixture->path);
    if (fixture->password[0] != '\0')
        unlink(fixture->password);
    free(fixture);
    return 0;
}

#define TEST(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

/* Writes len bytes of text to a fresh temporary file, whose name goes to path. */
static void
write_temp_file(char *path, size_t size, const char *text, size_t len)
{
    int fd;

    snprintf(path, size, "/tmp/carehub-notify-test-XXXXXX");
    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    assert_int_equal(close(fd), 0);
}

static void
print_errors(const struct notify_config_errors *errors)
{
    for (int i = 0; i < errors->count && i < NOTIFY_CONFIG_MAX_ERRORS; i++)
        print_message("  error %d: %s\n", i, errors->text[i]);
}

/* Writes text as the configuration file (replacing the last) and loads it. */
static int
load_text(struct fixture *fixture, const char *text)
{
    notify_config_free(&fixture->config);
    if (fixture->path[0] != '\0')
        unlink(fixture->path);
    write_temp_file(fixture->path, sizeof(fixture->path), text, strlen(text));
    return notify_config_load(fixture->path, &fixture->config, &fixture->errors);
}

/* Loads text, which must be valid. */
static void
load_valid(struct fixture *fixture, const char *text)
{
    if (load_text(fixture, text) != 0) {
        print_errors(&fixture->errors);
        fail_msg("a valid file was refused");
    }
    assert_int_equal(fixture->errors.count, 0);
}

/* The line (from 1) of the first line of text that holds marker. */
static int
line_of(const char *text, const char *marker)
{
    const char *found = strstr(text, marker);
    int line = 1;

    if (found == NULL)
        fail_msg("marker \"%s\" is not in the file", marker);
    for (const char *p = text; p < found; p++)
        if (*p == '\n')
            line++;
    return line;
}

/* One expected error: at the line holding marker (no line when NULL), the text what. */
struct expected {
    const char *marker;
    const char *what;
};

/* True when the errors hold exactly "PATH:LINE: what" (or "PATH: what" when line is 0). */
static bool
has_error(const struct fixture *fixture, int line, const char *what)
{
    char expected[512];

    if (line > 0)
        snprintf(expected, sizeof(expected), "%s:%d: %s", fixture->path, line, what);
    else
        snprintf(expected, sizeof(expected), "%s: %s", fixture->path, what);
    for (int i = 0; i < fixture->errors.count && i < NOTIFY_CONFIG_MAX_ERRORS; i++)
        if (strcmp(fixture->errors.text[i], expected) == 0)
            return true;
    return false;
}

/* Loads text, which must be refused (-EINVAL) with exactly the expected errors. */
static void
expect_errors(struct fixture *fixture, const char *text, const struct expected *expected, int count)
{
    bool as_expected;
    int r = load_text(fixture, text);

    if (r == 0)
        fail_msg("the file was accepted");
    if (r != -EINVAL)
        print_errors(&fixture->errors);
    assert_int_equal(r, -EINVAL);
    as_expected = fixture->errors.count == count;
    for (int i = 0; i < count; i++) {
        int line = expected[i].marker ? line_of(text, expected[i].marker) : 0;
        if (!has_error(fixture, line, expected[i].what)) {
            print_message("  missing: line %d: %s\n", line, expected[i].what);
            as_expected = false;
        }
    }
    if (!as_expected) {
        print_errors(&fixture->errors);
        fail_msg("expected exactly %d errors, got %d", count, fixture->errors.count);
    }
}

/* Loads text, which must be refused with exactly one error, at the line holding marker. */
static void
expect_one_error(struct fixture *fixture, const char *text, const char *marker, const char *what)
{
    const struct expected expected[] = {{marker, what}};

    expect_errors(fixture, text, expected, 1);
}

/* ---- Valid files ---- */

static void
test_minimal_file_gives_defaults(void **state)
{
    struct fixture *fixture = *state;
    const struct notify_config *config = &fixture->config;

    load_valid(fixture, MINIMAL);
    assert_string_equal(config->path, fixture->path);
    assert_string_equal(config->api_endpoint, "tcp://127.0.0.1:7420");
    assert_string_equal(config->notify_endpoint, "tcp://127.0.0.1:7421");
    assert_string_equal(config->state_file, "/var/lib/carehub/carehub-notify.db");
    assert_null(config->templates);
    assert_string_equal(config->organisation, "");
    assert_int_equal(config->log_level, LOG_INFO);
    assert_int_equal(config->clock_poll_ms, 1000);
    assert_int_equal(config->request_timeout_ms, 10000);

    assert_string_equal(config->smtp_url, "smtp://mail.example.org:587");
    assert_int_equal(config->smtp_tls, MAIL_TLS_STARTTLS);
    assert_null(config->smtp_username);
    assert_null(config->smtp_password);
    assert_null(config->smtp_ca_file);
    assert_true(config->smtp_verify);
    assert_int_equal(config->smtp_timeout_seconds, 30);
    assert_null(config->smtp_helo);

    assert_string_equal(config->from, "carehub@example.org");
    assert_string_equal(config->from_name, "Care reviews");
    assert_null(config->fallback);
    assert_string_equal(config->message_id_domain, "example.org");

    assert_true(config->digest_enabled);
    assert_int_equal(config->digest_minute, 9 * 60 + 30);
    assert_string_equal(config->digest_time, "09:30");
    assert_int_equal(config->immediate_escalation_level, 0);
    assert_false(config->immediate_alerts);
    assert_false(config->attach_calendar);
    assert_int_equal(config->calendar_days, 28);

    assert_int_equal(config->retry_first_seconds, 30);
    assert_int_equal(config->retry_max_seconds, 1800);
}

static void
test_every_key_is_read(void **state)
{
    struct fixture *fixture = *state;
    const struct notify_config *config = &fixture->config;
    char text[2048];

    write_temp_file(fixture->password, sizeof(fixture->password), "s3cret pass\nsecond line\n",
                    strlen("s3cret pass\nsecond line\n"));
    snprintf(text, sizeof(text),
             "api = { endpoint = \"ipc:///run/carehub/api.sock\"; };\n"
             "notify = { endpoint = \"ipc:///run/carehub/notify.sock\"; };\n"
             "state_file = \"/tmp/notify-state.db\";\n"
             "templates = \"/etc/carehub/my.templates\";\n"
             "organisation = \"Riverside Care\";\n"
             "log = { level = \"debug\"; };\n"
             "clock_poll_ms = 250;\n"
             "request_timeout_ms = 2500;\n"
             "smtp = {\n"
             "  url = \"smtps://mail.example.org:465\";\n"
             "  tls = \"tls\";\n"
             "  username = \"carehub\";\n"
             "  password_file = \"%s\";\n"
             "  ca_file = \"/etc/ssl/relay.pem\";\n"
             "  verify = false;\n"
             "  timeout_seconds = 45;\n"
             "  helo = \"notify.example.org\";\n"
             "};\n"
             "mail = {\n"
             "  from = \"care-reviews@example.org\";\n"
             "  from_name = \"Riverside reviews\";\n"
             "  fallback = \"hr-lead@example.org\";\n"
             "  message_id_domain = \"notify.example.net\";\n"
             "};\n"
             "digest = {\n"
             "  enabled = false;\n"
             "  time = \"07:05\";\n"
             "  immediate_escalation_level = 2;\n"
             "  immediate_alerts = true;\n"
             "  attach_calendar = true;\n"
             "  calendar_days = 60;\n"
             "};\n"
             "retry = { first_seconds = 10; max_seconds = 600; };\n",
             fixture->password);
    load_valid(fixture, text);

    assert_string_equal(config->api_endpoint, "ipc:///run/carehub/api.sock");
    assert_string_equal(config->notify_endpoint, "ipc:///run/carehub/notify.sock");
    assert_string_equal(config->state_file, "/tmp/notify-state.db");
    assert_string_equal(config->templates, "/etc/carehub/my.templates");
    assert_string_equal(config->organisation, "Riverside Care");
    assert_int_equal(config->log_level, LOG_DEBUG);
    assert_int_equal(config->clock_poll_ms, 250);
    assert_int_equal(config->request_timeout_ms, 2500);

    assert_string_equal(config->smtp_url, "smtps://mail.example.org:465");
    assert_int_equal(config->smtp_tls, MAIL_TLS_IMPLICIT);
    assert_string_equal(config->smtp_username, "carehub");
    assert_string_equal(config->smtp_password, "s3cret pass");
    assert_string_equal(config->smtp_ca_file, "/etc/ssl/relay.pem");
    assert_false(config->smtp_verify);
    assert_int_equal(config->smtp_timeout_seconds, 45);
    assert_string_equal(config->smtp_helo, "notify.example.org");

    assert_string_equal(config->from, "care-reviews@example.org");
    assert_string_equal(config->from_name, "Riverside reviews");
    assert_string_equal(config->fallback, "hr-lead@example.org");
    assert_string_equal(config->message_id_domain, "notify.example.net");

    assert_false(config->digest_enabled);
    assert_int_equal(config->digest_minute, 7 * 60 + 5);
    assert_string_equal(config->digest_time, "07:05");
    assert_int_equal(config->immediate_escalation_level, 2);
    assert_true(config->immediate_alerts);
    assert_true(config->attach_calendar);
    assert_int_equal(config->calendar_days, 60);

    assert_int_equal(config->retry_first_seconds, 10);
    assert_int_equal(config->retry_max_seconds, 600);
}

static void
test_log_levels(void **state)
{
    struct fixture *fixture = *state;
    static const struct {
        const char *name;
        int level;
    } levels[] = {{"error", LOG_ERR},
                  {"warning", LOG_WARNING},
                  {"notice", LOG_NOTICE},
                  {"info", LOG_INFO},
                  {"debug", LOG_DEBUG}};

    for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
        char text[512];
        snprintf(text, sizeof(text), MINIMAL "log = { level = \"%s\"; };\n", levels[i].name);
        load_valid(fixture, text);
        assert_int_equal(fixture->config.log_level, levels[i].level);
    }
}

static void
test_tls_modes_that_go_with_the_url(void **state)
{
    struct fixture *fixture = *state;

    load_valid(fixture,
               API_LINE NOTIFY_LINE MAIL_LINE "smtp = { url = \"smtps://mail.example.org\"; };\n");
    assert_int_equal(fixture->config.smtp_tls, MAIL_TLS_IMPLICIT);
    load_valid(fixture, API_LINE NOTIFY_LINE MAIL_LINE
               "smtp = { url = \"smtp://mail.example.org\"; tls = \"starttls\"; };\n");
    assert_int_equal(fixture->config.smtp_tls, MAIL_TLS_STARTTLS);
    load_valid(fixture, API_LINE NOTIFY_LINE MAIL_LINE
               "smtp = { url = \"smtp://127.0.0.1:2525\"; tls = \"none\"; };\n");
    assert_int_equal(fixture->config.smtp_tls, MAIL_TLS_NONE);
}

static void
test_digest_times_at_the_edges(void **state)
{
    struct fixture *fixture = *state;

    load_valid(fixture, MINIMAL "digest = { time = \"00:00\"; };\n");
    assert_int_equal(fixture->config.digest_minute, 0);
    assert_string_equal(fixture->config.digest_time, "00:00");
    load_valid(fixture, MINIMAL "digest = { time = \"23:59\"; };\n");
    assert_int_equal(fixture->config.digest_minute, 23 * 60 + 59);
    assert_string_equal(fixture->config.digest_time, "23:59");
}

static void
test_ints_at_the_edges_of_their_range(void **state)
{
    struct fixture *fixture = *state;

    load_valid(fixture,
               MINIMAL "clock_poll_ms = 50;\nrequest_timeout_ms = 600000;\n"
                       "digest = { immediate_escalation_level = 99; calendar_days = 1; };\n"
                       "retry = { first_seconds = 3600; max_seconds = 3600; };\n");
    assert_int_equal(fixture->config.clock_poll_ms, 50);
    assert_int_equal(fixture->config.request_timeout_ms, 600000);
    assert_int_equal(fixture->config.immediate_escalation_level, 99);
    assert_int_equal(fixture->config.calendar_days, 1);
    assert_int_equal(fixture->config.retry_first_seconds, 3600);
    assert_int_equal(fixture->config.retry_max_seconds, 3600);

    /* A 64-bit number in range is a whole number too. */
    load_valid(fixture, MINIMAL "clock_poll_ms = 2000L;\n");
    assert_int_equal(fixture->config.clock_poll_ms, 2000);
}

static void
test_localhost_address(void **state)
{
    struct fixture *fixture = *state;

    load_valid(fixture, API_LINE NOTIFY_LINE SMTP_LINE
               "mail = { from = \"carehub@localhost\"; fallback = \"root@localhost\"; };\n");
    assert_string_equal(fixture->config.from, "carehub@localhost");
    assert_string_equal(fixture->config.fallback, "root@localhost");
    assert_string_equal(fixture->config.message_id_domain, "localhost");
}

static void
test_message_id_domain_defaults_to_from_domain(void **state)
{
    struct fixture *fixture = *state;

    load_valid(fixture, API_LINE NOTIFY_LINE SMTP_LINE
               "mail = { from = \"reviews@care.example.co.uk\"; };\n");
    assert_string_equal(fixture->config.message_id_domain, "care.example.co.uk");
}

static void
test_password_is_the_first_line(void **state)
{
    struct fixture *fixture = *state;
    char text[1024];

    /* A CRLF file too: the CR is not part of the password. */
    write_temp_file(fixture->password, sizeof(fixture->password), "pa ss\r\nnot this\n",
                    strlen("pa ss\r\nnot this\n"));
    snprintf(text, sizeof(text),
             API_LINE NOTIFY_LINE MAIL_LINE
             "smtp = { url = \"smtp://mail.example.org\"; username = \"u\"; password_file = "
             "\"%s\"; };\n",
             fixture->password);
    load_valid(fixture, text);
    assert_string_equal(fixture->config.smtp_username, "u");
    assert_string_equal(fixture->config.smtp_password, "pa ss");

    /* A file without a final newline. */
    unlink(fixture->password);
    write_temp_file(fixture->password, sizeof(fixture->password), "only", 4);
    snprintf(text, sizeof(text),
             API_LINE NOTIFY_LINE MAIL_LINE
             "smtp = { url = \"smtp://mail.example.org\"; username = \"u\"; password_file = "
             "\"%s\"; };\n",
             fixture->password);
    load_valid(fixture, text);
    assert_string_equal(fixture->config.smtp_password, "only");
}

static void
test_reference_file_is_valid(void **state)
{
    struct fixture *fixture = *state;
    const char *source_dir = getenv("CAREHUB_SOURCE_DIR");
    char path[4096];

    if (source_dir == NULL)
        skip();
    snprintf(path, sizeof(path), "%s/conf/carehub-notify.conf", source_dir);
    if (access(path, F_OK) != 0)
        skip();
    if (notify_config_load(path, &fixture->config, &fixture->errors) != 0) {
        print_errors(&fixture->errors);
        fail_msg("%s was refused", path);
    }
    assert_string_equal(fixture->config.from, "care-reviews@example.org");
    assert_string_equal(fixture->config.organisation, "Riverside Care");
    assert_int_equal(fixture->config.immediate_escalation_level, 2);
}

/* ---- Keys and types ---- */

static void
test_unknown_top_level_key(void **state)
{
    struct fixture *fixture = *state;

    expect_one_error(fixture, MINIMAL "colour = \"blue\";\n", "colour", "colour: unknown key");
}

static void
test_unknown_nested_key(void **state)
{
    struct fixture *fixture = *state;

    expect_one_error(fixture,
                     API_LINE NOTIFY_LINE MAIL_LINE
                     "smtp = {\n  url = \"smtp://mail.example.org\";\n  port = 25;\n};\n",
                     "port", "smtp.port: unknown key");
    expect_one_error(fixture, MINIMAL "digest = {\n  weekly = true;\n};\n", "weekly",
                     "digest.weekly: unknown key");
}

static void
test_wrong_types(void **state)
{
    struct fixture *fixture = *state;
    const char text[] = MINIMAL "organisation = 5;\n"
                                "clock_poll_ms = \"1000\";\n"
                                "request_timeout_ms = 2.5;\n"
                                "log = \"info\";\n"
                                "digest = {\n"
                                "  enabled = \"yes\";\n"
                                "  calendar_days = true;\n"
                                "};\n"
                                "retry = { first_seconds = [1, 2]; };\n";
    const struct expected expected[] = {
        {"organisation", "organisation: must be a string in double quotes"},
        {"clock_poll_ms", "clock_poll_ms: must be a whole number"},
        {"request_timeout_ms", "request_timeout_ms: must be a whole number"},
        {"log =", "log: must be a group { ... }"},
        {"enabled", "digest.enabled: must be true or false"},
        {"calendar_days", "digest.calendar_days: must be a whole number"},
        {"first_seconds", "retry.first_seconds: must be a whole number"},
    };

    expect_errors(fixture, text, expected, sizeof(expected) / sizeof(expected[0]));
}

static void
test_required_group_of_wrong_type(void **state)
{
    struct fixture *fixture = *state;
    const char text[] = "api = \"tcp://127.0.0.1:7420\";\n" NOTIFY_LINE SMTP_LINE MAIL_LINE;
    const struct expected expected[] = {
        {"api =", "api: must be a group { ... }"},
        {NULL, "api.endpoint: missing (it is required)"},
    };

    expect_errors(fixture, text, expected, 2);
}

static void
test_empty_strings(void **state)
{
    struct fixture *fixture = *state;
    const char text[] = "api = {\n  endpoint = \"\";\n};\n" NOTIFY_LINE SMTP_LINE
                        "mail = {\n  from = \"carehub@example.org\";\n  from_name = \"\";\n};\n"
                        "templates = \"\";\n"
                        "state_file = \"\";\n";
    const struct expected expected[] = {
        {"endpoint = \"\"", "api.endpoint: must not be empty"},
        {"from_name", "mail.from_name: must not be empty"},
        {"templates", "templates: must not be empty"},
        {"state_file", "state_file: must not be empty"},
    };

    expect_errors(fixture, text, expected, sizeof(expected) / sizeof(expected[0]));
}

static void
test_empty_organisation_is_an_error_not_out_of_memory(void **state)
{
    struct fixture *fixture = *state;

    expect_one_error(fixture, MINIMAL "organisation = \"\";\n", "organisation",
                     "organisation: must not be empty");
}

static void
test_missing_required_keys(void **state)
{
    struct fixture *fixture = *state;
    const struct expected expected[] = {
        {NULL, "api.endpoint: missing (it is required)"},
        {NULL, "notify.endpoint: missing (it is required)"},
        {NULL, "smtp.url: missing (it is required)"},
        {NULL, "mail.from: missing (it is required)"},
    };

    expect_errors(fixture, "organisation = \"Riverside Care\";\n", expected, 4);
    /* An empty group is as good as none. */
    expect_errors(fixture, "api = { };\nnotify = { };\nsmtp = { };\nmail = { };\n", expected, 4);
}

static void
test_out_of_range_ints(void **state)
{
    struct fixture *fixture = *state;
    const char text[] = MINIMAL "clock_poll_ms = 49;\n"
                                "request_timeout_ms = 600001;\n"
                                "digest = {\n"
                                "  immediate_escalation_level = -1;\n"
                                "  calendar_days = 367;\n"
                                "};\n"
                                "retry = {\n"
                                "  first_seconds = 0;\n"
                                "  max_seconds = 86401;\n"
                                "};\n";
    const struct expected expected[] = {
        {"clock_poll_ms", "clock_poll_ms: 49 is out of range (50 to 60000)"},
        {"request_timeout_ms", "request_timeout_ms: 600001 is out of range (100 to 600000)"},
        {"immediate_escalation_level",
         "digest.immediate_escalation_level: -1 is out of range (0 to 99)"},
        {"calendar_days", "digest.calendar_days: 367 is out of range (1 to 366)"},
        {"first_seconds", "retry.first_seconds: 0 is out of range (1 to 3600)"},
        {"max_seconds", "retry.max_seconds: 86401 is out of range (1 to 86400)"},
    };

    expect_errors(fixture, text, expected, sizeof(expected) / sizeof(expected[0]));
}

/* libconfig wraps 4294967297 (no L) round to 1, which is in range: the number as written is not. */
static void
test_a_number_libconfig_wraps_round(void **state)
{
    struct fixture *fixture = *state;

    expect_one_error(fixture,
                     API_LINE NOTIFY_LINE MAIL_LINE
                     "smtp = {\n  url = \"smtp://mail.example.org\";\n"
                     "  timeout_seconds = 4294967297;\n};\n",
                     "timeout_seconds", "smtp.timeout_seconds: the number is too large (1 to 600)");
}

static void
test_out_of_range_64_bit_int(void **state)
{
    struct fixture *fixture = *state;

    expect_one_error(
        fixture,
        API_LINE NOTIFY_LINE MAIL_LINE "smtp = {\n  url = \"smtp://mail.example.org\";\n"
                                       "  timeout_seconds = 10000000000L;\n};\n",
        "timeout_seconds", "smtp.timeout_seconds: 10000000000 is out of range (1 to 600)");
}

static void
test_unknown_log_level(void **state)
{
    struct fixture *fixture = *state;

    expect_one_error(fixture, MINIMAL "log = {\n  level = \"loud\";\n};\n", "loud",
                     "log.level: \"loud\" is not a level (error, warning, notice, info, debug)");
}

/* ---- digest.time ---- */

static void
expect_bad_time(struct fixture *fixture, const char *time)
{
    char text[512], what[256];

    snprintf(text, sizeof(text), MINIMAL "digest = {\n  time = \"%s\";\n};\n", time);
    snprintf(what, sizeof(what),
             "digest.time: \"%s\" is not a time of day (\"00:00\" to \"23:59\")", time);
    expect_one_error(fixture, text, "time =", what);
    /* The default stays in place of the bad time. */
    assert_int_equal(fixture->config.digest_minute, 9 * 60 + 30);
}

static void
test_bad_digest_times(void **state)
{
    struct fixture *fixture = *state;

    expect_bad_time(fixture, "9:00");
    expect_bad_time(fixture, "24:00");
    expect_bad_time(fixture, "12:60");
    expect_bad_time(fixture, "noon");
    expect_bad_time(fixture, "09:00 ");
    expect_bad_time(fixture, "09.00");
    expect_bad_time(fixture, "-1:00");
    expect_bad_time(fixture, "+9:00");
    expect_bad_time(fixture, " 9:00");
    expect_bad_time(fixture, "09:+5");
}

/* ---- smtp ---- */

static void
test_bad_smtp_url_scheme(void **state)
{
    struct fixture *fixture = *state;

    expect_one_error(
        fixture,
        API_LINE NOTIFY_LINE MAIL_LINE "smtp = {\n  url = \"http://mail.example.org\";\n};\n",
        "url",
        "smtp.url: \"http://mail.example.org\" must start with smtp:// (port 25 or 587) or "
        "smtps:// (port 465)");
    expect_one_error(
        fixture, API_LINE NOTIFY_LINE MAIL_LINE "smtp = {\n  url = \"mail.example.org:25\";\n};\n",
        "url",
        "smtp.url: \"mail.example.org:25\" must start with smtp:// (port 25 or 587) or "
        "smtps:// (port 465)");
}

static void
test_tls_mismatches(void **state)
{
    struct fixture *fixture = *state;

    expect_one_error(
        fixture,
        API_LINE NOTIFY_LINE MAIL_LINE
        "smtp = {\n  url = \"smtps://mail.example.org\";\n  tls = \"starttls\";\n};\n",
        "tls =", "smtp.tls: \"starttls\" does not go with an smtps:// url (use \"tls\")");
    expect_one_error(fixture,
                     API_LINE NOTIFY_LINE MAIL_LINE
                     "smtp = {\n  url = \"smtps://mail.example.org\";\n  tls = \"none\";\n};\n",
                     "tls =", "smtp.tls: \"none\" does not go with an smtps:// url (use \"tls\")");
    expect_one_error(
        fixture,
        API_LINE NOTIFY_LINE MAIL_LINE
        "smtp = {\n  url = \"smtp://mail.example.org\";\n  tls = \"tls\";\n};\n",
        "tls =", "smtp.tls: \"tls\" needs an smtps:// url (for smtp:// use \"starttls\")");
}

static void
test_unknown_tls_mode(void **state)
{
    struct fixture *fixture = *state;

    expect_one_error(fixture,
                     API_LINE NOTIFY_LINE MAIL_LINE
                     "smtp = {\n  url = \"smtp://mail.example.org\";\n  tls = \"ssl\";\n};\n",
                     "tls =", "smtp.tls: \"ssl\" is not one of \"starttls\", \"tls\", \"none\"");
}

static void
test_username_without_password_file(void **state)
{
    struct fixture *fixture = *state;

    expect_one_error(
        fixture,
        API_LINE NOTIFY_LINE MAIL_LINE
        "smtp = {\n  url = \"smtp://mail.example.org\";\n  username = \"carehub\";\n};\n",
        "username", "smtp.username: needs smtp.password_file (the file holding the password)");
}

static void
test_password_file_without_username(void **state)
{
    struct fixture *fixture = *state;
    char text[512];

    write_temp_file(fixture->password, sizeof(fixture->password), "secret\n", 7);
    snprintf(text, sizeof(text),
             API_LINE NOTIFY_LINE MAIL_LINE
             "smtp = {\n  url = \"smtp://mail.example.org\";\n  password_file = \"%s\";\n};\n",
             fixture->password);
    expect_one_error(fixture, text, "password_file", "smtp.password_file: needs smtp.username");
    assert_null(fixture->config.smtp_password);
}

static void
test_unreadable_password_file(void **state)
{
    struct fixture *fixture = *state;

    expect_one_error(fixture,
                     API_LINE NOTIFY_LINE MAIL_LINE
                     "smtp = {\n  url = \"smtp://mail.example.org\";\n  username = \"u\";\n"
                     "  password_file = \"/nonexistent/carehub/password\";\n};\n",
                     "password_file",
                     "smtp.password_file: cannot read \"/nonexistent/carehub/password\": No such "
                     "file or directory");
    assert_null(fixture->config.smtp_password);
}

static void
test_password_file_that_is_a_directory(void **state)
{
    struct fixture *fixture = *state;

    expect_one_error(fixture,
                     API_LINE NOTIFY_LINE MAIL_LINE
                     "smtp = {\n  url = \"smtp://mail.example.org\";\n  username = \"u\";\n"
                     "  password_file = \"/tmp\";\n};\n",
                     "password_file", "smtp.password_file: cannot read \"/tmp\": Is a directory");
    assert_null(fixture->config.smtp_password);
}

static void
test_empty_password_file(void **state)
{
    struct fixture *fixture = *state;
    char text[512], what[256];

    /* Empty, and a first line that is empty although a second is not. */
    static const char *const contents[] = {"", "\nsecret\n", "\r\n"};
    for (size_t i = 0; i < sizeof(contents) / sizeof(contents[0]); i++) {
        if (fixture->password[0] != '\0')
            unlink(fixture->password);
        write_temp_file(fixture->password, sizeof(fixture->password), contents[i],
                        strlen(contents[i]));
        snprintf(text, sizeof(text),
                 API_LINE NOTIFY_LINE MAIL_LINE
                 "smtp = {\n  url = \"smtp://mail.example.org\";\n  username = \"u\";\n"
                 "  password_file = \"%s\";\n};\n",
                 fixture->password);
        snprintf(what, sizeof(what),
                 "smtp.password_file: \"%s\" is empty (its first line is the password)",
                 fixture->password);
        expect_one_error(fixture, text, "password_file", what);
        assert_null(fixture->config.smtp_password);
    }
}

static void
test_bad_url_does_not_hide_the_other_smtp_errors(void **state)
{
    struct fixture *fixture = *state;
    const char text[] = API_LINE NOTIFY_LINE MAIL_LINE "smtp = {\n"
                                                       "  url = \"mail.example.org\";\n"
                                                       "  username = \"carehub\";\n"
                                                       "  timeout_seconds = 0;\n"
                                                       "};\n";
    const struct expected expected[] = {
        {"url =", "smtp.url: \"mail.example.org\" must start with smtp:// (port 25 or 587) or "
                  "smtps:// (port 465)"},
        {"username", "smtp.username: needs smtp.password_file (the file holding the password)"},
        {"timeout_seconds", "smtp.timeout_seconds: 0 is out of range (1 to 600)"},
    };

    expect_errors(fixture, text, expected, 3);
}

static void
test_missing_url_does_not_hide_the_other_smtp_errors(void **state)
{
    struct fixture *fixture = *state;
    const char text[] = API_LINE NOTIFY_LINE MAIL_LINE "smtp = {\n"
                                                       "  tls = \"starttls\";\n"
                                                       "  username = \"carehub\";\n"
                                                       "};\n";
    const struct expected expected[] = {
        {NULL, "smtp.url: missing (it is required)"},
        {"username", "smtp.username: needs smtp.password_file (the file holding the password)"},
    };

    expect_errors(fixture, text, expected, 2);
}

/* ---- mail ---- */

static void
expect_bad_address(struct fixture *fixture, const char *key, const char *address)
{
    char text[512], what[256];

    if (strcmp(key, "from") == 0)
        snprintf(text, sizeof(text),
                 API_LINE NOTIFY_LINE SMTP_LINE "mail = {\n  from = \"%s\";\n};\n", address);
    else
        snprintf(text, sizeof(text),
                 API_LINE NOTIFY_LINE SMTP_LINE
                 "mail = {\n  from = \"carehub@example.org\";\n  fallback = \"%s\";\n};\n",
                 address);
    snprintf(what, sizeof(what),
             "mail.%s: \"%s\" is not an email address (write it as name@example.org, without a "
             "display name)",
             key, address);
    expect_one_error(fixture, text, strcmp(key, "from") == 0 ? "from =" : "fallback", what);
}

static void
test_invalid_addresses(void **state)
{
    struct fixture *fixture = *state;
    static const char *const addresses[] = {
        "Tom <t@x.org>", "no-at",      "a@b@c",      "x@nodot",   "@example.org",
        "tom@",          "t om@x.org", "t,om@x.org", "t;o@x.org",
    };

    for (size_t i = 0; i < sizeof(addresses) / sizeof(addresses[0]); i++) {
        expect_bad_address(fixture, "from", addresses[i]);
        /* No Message-ID domain is made up from an address that is not one. */
        assert_null(fixture->config.message_id_domain);
        expect_bad_address(fixture, "fallback", addresses[i]);
    }
}

static void
test_from_name_with_control_character(void **state)
{
    struct fixture *fixture = *state;

    expect_one_error(fixture,
                     API_LINE NOTIFY_LINE SMTP_LINE
                     "mail = {\n  from = \"carehub@example.org\";\n"
                     "  from_name = \"Care\\nBcc: x@evil.example\";\n};\n",
                     "from_name", "mail.from_name: must be one line without control characters");
    expect_one_error(fixture,
                     API_LINE NOTIFY_LINE SMTP_LINE "mail = {\n  from = \"carehub@example.org\";\n"
                                                    "  from_name = \"Care\\x01reviews\";\n};\n",
                     "from_name", "mail.from_name: must be one line without control characters");
}

static void
test_bad_message_id_domain(void **state)
{
    struct fixture *fixture = *state;

    expect_one_error(fixture,
                     API_LINE NOTIFY_LINE SMTP_LINE "mail = {\n  from = \"carehub@example.org\";\n"
                                                    "  message_id_domain = \"exa mple.org\";\n};\n",
                     "message_id_domain",
                     "mail.message_id_domain: \"exa mple.org\" is not a domain name");
    expect_one_error(fixture,
                     API_LINE NOTIFY_LINE SMTP_LINE "mail = {\n  from = \"carehub@example.org\";\n"
                                                    "  message_id_domain = \"example.org>\";\n};\n",
                     "message_id_domain",
                     "mail.message_id_domain: \"example.org>\" is not a domain name");
}

/* ---- retry ---- */

static void
test_retry_max_less_than_first(void **state)
{
    struct fixture *fixture = *state;

    expect_one_error(fixture, MINIMAL "retry = {\n  first_seconds = 60;\n  max_seconds = 59;\n};\n",
                     "max_seconds", "retry.max_seconds: 59 is less than retry.first_seconds (60)");
}

/* ---- The file as a whole ---- */

static void
test_syntax_error(void **state)
{
    struct fixture *fixture = *state;

    expect_one_error(fixture, MINIMAL "organisation = ;\n", "organisation",
                     "syntax error: syntax error");
}

static void
test_missing_file(void **state)
{
    struct fixture *fixture = *state;
    const char *path = "/nonexistent/carehub-notify.conf";

    assert_int_equal(notify_config_load(path, &fixture->config, &fixture->errors), -EINVAL);
    assert_int_equal(fixture->errors.count, 1);
    assert_string_equal(fixture->errors.text[0],
                        "/nonexistent/carehub-notify.conf: cannot read the file: No such file or "
                        "directory");
}

static void
test_several_errors_are_all_reported(void **state)
{
    struct fixture *fixture = *state;
    const char text[] = "api = { endpoint = \"tcp://127.0.0.1:7420\"; };\n"
                        "colour = \"blue\";\n"
                        "smtp = {\n"
                        "  url = \"smtps://mail.example.org\";\n"
                        "  tls = \"starttls\";\n"
                        "};\n"
                        "mail = {\n"
                        "  from = \"Tom <t@x.org>\";\n"
                        "  fallback = \"x@nodot\";\n"
                        "};\n"
                        "digest = {\n"
                        "  time = \"noon\";\n"
                        "};\n"
                        "retry = {\n"
                        "  first_seconds = 100;\n"
                        "  max_seconds = 50;\n"
                        "};\n";
    const struct expected expected[] = {
        {"colour", "colour: unknown key"},
        {NULL, "notify.endpoint: missing (it is required)"},
        {"tls =", "smtp.tls: \"starttls\" does not go with an smtps:// url (use \"tls\")"},
        {"from =", "mail.from: \"Tom <t@x.org>\" is not an email address (write it as "
                   "name@example.org, without a display name)"},
        {"fallback", "mail.fallback: \"x@nodot\" is not an email address (write it as "
                     "name@example.org, without a display name)"},
        {"time =", "digest.time: \"noon\" is not a time of day (\"00:00\" to \"23:59\")"},
        {"max_seconds", "retry.max_seconds: 50 is less than retry.first_seconds (100)"},
    };

    expect_errors(fixture, text, expected, sizeof(expected) / sizeof(expected[0]));
}

static void
test_more_errors_than_kept_are_counted(void **state)
{
    struct fixture *fixture = *state;
    char text[8192];
    size_t used;
    int r;

    used = (size_t)snprintf(text, sizeof(text), MINIMAL);
    for (int i = 0; i < NOTIFY_CONFIG_MAX_ERRORS + 8; i++)
        used += (size_t)snprintf(text + used, sizeof(text) - used, "unknown%d = 1;\n", i);
    r = load_text(fixture, text);
    assert_int_equal(r, -EINVAL);
    assert_int_equal(fixture->errors.count, NOTIFY_CONFIG_MAX_ERRORS + 8);
    assert_true(has_error(fixture, 5, "unknown0: unknown key"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(test_minimal_file_gives_defaults),
        TEST(test_every_key_is_read),
        TEST(test_log_levels),
        TEST(test_tls_modes_that_go_with_the_url),
        TEST(test_digest_times_at_the_edges),
        TEST(test_ints_at_the_edges_of_their_range),
        TEST(test_localhost_address),
        TEST(test_message_id_domain_defaults_to_from_domain),
        TEST(test_password_is_the_first_line),
        TEST(test_reference_file_is_valid),
        TEST(test_unknown_top_level_key),
        TEST(test_unknown_nested_key),
        TEST(test_wrong_types),
        TEST(test_required_group_of_wrong_type),
        TEST(test_empty_strings),
        TEST(test_empty_organisation_is_an_error_not_out_of_memory),
        TEST(test_missing_required_keys),
        TEST(test_out_of_range_ints),
        TEST(test_a_number_libconfig_wraps_round),
        TEST(test_out_of_range_64_bit_int),
        TEST(test_unknown_log_level),
        TEST(test_bad_digest_times),
        TEST(test_bad_smtp_url_scheme),
        TEST(test_tls_mismatches),
        TEST(test_unknown_tls_mode),
        TEST(test_username_without_password_file),
        TEST(test_password_file_without_username),
        TEST(test_unreadable_password_file),
        TEST(test_password_file_that_is_a_directory),
        TEST(test_empty_password_file),
        TEST(test_bad_url_does_not_hide_the_other_smtp_errors),
        TEST(test_missing_url_does_not_hide_the_other_smtp_errors),
        TEST(test_invalid_addresses),
        TEST(test_from_name_with_control_character),
        TEST(test_bad_message_id_domain),
        TEST(test_retry_max_less_than_first),
        TEST(test_syntax_error),
        TEST(test_missing_file),
        TEST(test_several_errors_are_all_reported),
        TEST(test_more_errors_than_kept_are_counted),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

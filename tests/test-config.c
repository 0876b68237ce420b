/*
 * Unit tests of daemon/config: defaults, the reference file, and every kind of
 * mistake reported as "FILE:LINE: key: reason" (or "FILE: key: reason" when
 * the mistake has no line, such as a missing key).
 *
 * Each test writes its file with mkstemp() under /tmp; the teardown removes it.
 */
#include <syslog.h>

#include "config_fixture.h"

static int
load(struct fixture *fixture)
{
    return config_load(fixture->path, &fixture->config, &fixture->errors);
}

/* Checks the file is refused, with a struct left empty. */
static void
expect_refused(struct fixture *fixture)
{
    int r = load(fixture);

    if (r == 0)
        fail_msg("%s was accepted", fixture->path);
    assert_int_equal(r, -EINVAL);
    assert_null(fixture->config.path);
    assert_null(fixture->config.state_dir);
    assert_null(fixture->config.api_endpoint);
    assert_null(fixture->config.notify_endpoint);
    assert_null(fixture->config.timezone);
}

/* Loads text and expects exactly one error, "PATH:LINE: what". */
static void
expect_one_error(struct fixture *fixture, const char *text, int line, const char *what)
{
    write_config(fixture, text);
    expect_refused(fixture);
    if (fixture->errors.count != 1 || !has_error(fixture, line, what)) {
        print_errors(&fixture->errors);
        fail_msg("expected exactly \"%s:%d: %s\", got %d errors", fixture->path, line, what,
                 fixture->errors.count);
    }
}

static void
test_minimal_file_gives_defaults(void **state)
{
    struct fixture *fixture = *state;
    const struct config *config = &fixture->config;

    write_config(fixture, MINIMAL);
    if (load(fixture) != 0) {
        print_errors(&fixture->errors);
        fail_msg("the minimal file was refused");
    }
    assert_int_equal(fixture->errors.count, 0);
    assert_string_equal(config->path, fixture->path);
    assert_string_equal(config->state_dir, "/var/lib/carehub-test");
    assert_string_equal(config->api_endpoint, "tcp://127.0.0.1:7420");
    assert_string_equal(config->notify_endpoint, "tcp://127.0.0.1:7421");
    /* The defaults of daemon/config.c's key table. */
    assert_string_equal(config->timezone, "UTC");
    assert_int_equal(config->log_level, LOG_INFO);
    assert_int_equal(config->max_message_bytes, 1048576);
    assert_int_equal(config->max_batch_events, 10000);
    assert_int_equal(config->max_queued_events, 100000);
    assert_int_equal(config->max_pending_replies, 10000);
    assert_int_equal(config->commit_max_events, 4096);
    assert_int_equal(config->commit_max_delay_ms, 0);
    assert_int_equal(config->cache_mb, 64);
    assert_true(config->durable);
}

static void
test_every_key_set(void **state)
{
    struct fixture *fixture = *state;
    const struct config *config = &fixture->config;

    write_config(fixture, "state_dir = \"/srv/carehub\";\n"
                          "timezone = \"Europe/London\";\n"
                          "api = { endpoint = \"ipc:///run/carehub/api.sock\"; };\n"
                          "notify = { endpoint = \"ipc:///run/carehub/notify.sock\"; };\n"
                          "limits = {\n"
                          "  max_message_bytes = 67108864L;\n"
                          "  max_batch_events = 1;\n"
                          "  max_queued_events = 1000;\n"
                          "  max_pending_replies = 100;\n"
                          "};\n"
                          "commit = { max_events = 100000; max_delay_ms = 1000; };\n"
                          "storage = { durable = false; cache_mb = 4096; };\n"
                          "log = { level = \"debug\"; };\n");
    if (load(fixture) != 0) {
        print_errors(&fixture->errors);
        fail_msg("a file with every key was refused");
    }
    assert_string_equal(config->state_dir, "/srv/carehub");
    assert_string_equal(config->timezone, "Europe/London");
    assert_string_equal(config->api_endpoint, "ipc:///run/carehub/api.sock");
    assert_string_equal(config->notify_endpoint, "ipc:///run/carehub/notify.sock");
    assert_int_equal(config->max_message_bytes, 67108864);
    assert_int_equal(config->max_batch_events, 1);
    assert_int_equal(config->max_queued_events, 1000);
    assert_int_equal(config->max_pending_replies, 100);
    assert_int_equal(config->commit_max_events, 100000);
    assert_int_equal(config->commit_max_delay_ms, 1000);
    assert_false(config->durable);
    assert_int_equal(config->cache_mb, 4096);
    assert_int_equal(config->log_level, LOG_DEBUG);
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
    char text[512];

    for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
        snprintf(text, sizeof(text), MINIMAL "log = { level = \"%s\"; };\n", levels[i].name);
        write_config(fixture, text);
        assert_int_equal(load(fixture), 0);
        assert_int_equal(fixture->config.log_level, levels[i].level);
        config_free(&fixture->config);
        unlink(fixture->path);
    }
    fixture->path[0] = '\0';
}

static void
test_example_configuration(void **state)
{
    struct fixture *fixture = *state;

    load_reference(fixture);
    assert_int_equal(fixture->errors.count, 0);
    assert_non_null(fixture->config.state_dir);
    assert_non_null(fixture->config.api_endpoint);
    assert_non_null(fixture->config.notify_endpoint);
}

static void
test_unknown_top_level_key(void **state)
{
    expect_one_error(*state, MINIMAL "\n# a misspelt key\nstatedir = \"/tmp\";\n", 6,
                     "statedir: unknown key");
}

static void
test_unknown_top_level_group(void **state)
{
    expect_one_error(*state, MINIMAL "exporter = {\n  port = 9100;\n};\n", 4,
                     "exporter: unknown key");
}

static void
test_unknown_key_in_group(void **state)
{
    expect_one_error(*state,
                     MINIMAL "limits = {\n"
                             "  max_message_bytes = 2048;\n"
                             "  max_mesage_bytes = 4096;\n"
                             "};\n",
                     6, "limits.max_mesage_bytes: unknown key");
}

static void
test_wrong_type_string_for_int(void **state)
{
    expect_one_error(*state, MINIMAL "commit = {\n  max_events = \"4096\";\n};\n", 5,
                     "commit.max_events: must be an integer, not a string");
}

static void
test_wrong_type_float_for_int(void **state)
{
    expect_one_error(*state, MINIMAL "commit = { max_delay_ms = 1.5; };\n", 4,
                     "commit.max_delay_ms: must be an integer, not a number with a fraction");
}

static void
test_wrong_type_int_for_bool(void **state)
{
    expect_one_error(*state, MINIMAL "storage = { durable = 1; };\n", 4,
                     "storage.durable: must be true or false, not an integer");
}

static void
test_wrong_type_int_for_group(void **state)
{
    expect_one_error(*state, MINIMAL "commit = 5;\n", 4,
                     "commit: must be a group { ... }, not an integer");
}

static void
test_wrong_type_group_for_string(void **state)
{
    expect_one_error(*state,
                     "state_dir = { path = \"/tmp\"; };\n"
                     "api = { endpoint = \"tcp://127.0.0.1:7420\"; };\n"
                     "notify = { endpoint = \"tcp://127.0.0.1:7421\"; };\n",
                     1, "state_dir: must be a string, not a group");
}

/*
 * A required group of the wrong type is one mistake: the keys inside it are
 * not also reported missing, just as they are not when the group is missing.
 */
static void
test_required_group_of_wrong_type_reported_once(void **state)
{
    expect_one_error(*state,
                     "state_dir = \"/var/lib/carehub-test\";\n"
                     "api = \"tcp://127.0.0.1:7420\";\n"
                     "notify = { endpoint = \"tcp://127.0.0.1:7421\"; };\n",
                     2, "api: must be a group { ... }, not a string");
}

static void
test_out_of_range(void **state)
{
    expect_one_error(*state, MINIMAL "limits = {\n  max_message_bytes = 100;\n};\n", 5,
                     "limits.max_message_bytes: 100 is out of range (1024 to 67108864)");
}

static void
test_out_of_range_too_big(void **state)
{
    expect_one_error(*state, MINIMAL "commit = {\n  max_events = 64;\n  max_delay_ms = 5000;\n};\n",
                     6, "commit.max_delay_ms: 5000 is out of range (0 to 1000)");
}

static void
test_out_of_range_negative_and_64_bit(void **state)
{
    struct fixture *fixture = *state;

    write_config(fixture, MINIMAL "storage = { cache_mb = -1; };\n"
                                  "limits = { max_message_bytes = 100000000000L; };\n");
    expect_refused(fixture);
    if (fixture->errors.count != 2 ||
        !has_error(fixture, 4, "storage.cache_mb: -1 is out of range (1 to 4096)") ||
        !has_error(fixture, 5,
                   "limits.max_message_bytes: 100000000000 is out of range (1024 to 67108864)")) {
        print_errors(&fixture->errors);
        fail_msg("unexpected errors");
    }
}

/* Without an L, libconfig would wrap 4294967297 round to 1; it must be refused instead. */
static void
test_number_too_large_for_32_bits(void **state)
{
    struct fixture *fixture = *state;

    write_config(fixture, MINIMAL "limits = { max_batch_events = 4294967297; };\n"
                                  "commit = { max_events = 99999999999999999999; };\n"
                                  "storage = { cache_mb = 0x10; };\n");
    expect_refused(fixture);
    if (fixture->errors.count != 2 ||
        !has_error(fixture, 4, "limits.max_batch_events: the number is too large (1 to 100000)") ||
        !has_error(fixture, 5, "commit.max_events: the number is too large (1 to 100000)")) {
        print_errors(&fixture->errors);
        fail_msg("unexpected errors");
    }
}

/* The comparison reads numbers as libconfig does: 010 is ten, and a value may sit on the next line.
 */
static void
test_numbers_libconfig_reads_as_written(void **state)
{
    struct fixture *fixture = *state;
    struct config *config = &fixture->config;

    write_config(fixture, MINIMAL "commit = { max_delay_ms = 010; max_events =\n  500; };\n"
                                  "storage = { cache_mb = 0x20; };\n");
    if (load(fixture) != 0) {
        print_errors(&fixture->errors);
        fail_msg("numbers written as libconfig reads them were refused");
    }
    assert_int_equal(config->commit_max_delay_ms, 10);
    assert_int_equal(config->commit_max_events, 500);
    assert_int_equal(config->cache_mb, 32);
}

static void
test_range_bounds_accepted(void **state)
{
    struct fixture *fixture = *state;

    write_config(fixture, MINIMAL "limits = { max_message_bytes = 1024; max_batch_events = "
                                  "100000; max_queued_events = 10000000; "
                                  "max_pending_replies = 1000000; };\n"
                                  "commit = { max_events = 1; max_delay_ms = 0; };\n"
                                  "storage = { cache_mb = 1; };\n");
    if (load(fixture) != 0) {
        print_errors(&fixture->errors);
        fail_msg("values at the bounds were refused");
    }
    assert_int_equal(fixture->config.max_message_bytes, 1024);
    assert_int_equal(fixture->config.max_queued_events, 10000000);
    assert_int_equal(fixture->config.commit_max_events, 1);
    assert_int_equal(fixture->config.cache_mb, 1);
}

static void
test_empty_string(void **state)
{
    expect_one_error(*state,
                     "state_dir = \"\";\n"
                     "api = { endpoint = \"tcp://127.0.0.1:7420\"; };\n"
                     "notify = { endpoint = \"tcp://127.0.0.1:7421\"; };\n",
                     1, "state_dir: must not be empty");
}

static void
test_empty_endpoint(void **state)
{
    expect_one_error(*state,
                     "state_dir = \"/tmp/x\";\n"
                     "api = {\n  endpoint = \"\";\n};\n"
                     "notify = { endpoint = \"tcp://127.0.0.1:7421\"; };\n",
                     3, "api.endpoint: must not be empty");
}

static void
test_unknown_timezone(void **state)
{
    expect_one_error(*state, MINIMAL "timezone = \"Mars/Olympus_Mons\";\n", 4,
                     "timezone: unknown time zone \"Mars/Olympus_Mons\" (use an IANA name such as "
                     "\"Europe/London\")");
}

static void
test_timezone_path_is_not_a_zone(void **state)
{
    expect_one_error(
        *state, MINIMAL "timezone = \"../../../etc/passwd\";\n", 4,
        "timezone: unknown time zone \"../../../etc/passwd\" (use an IANA name such as "
        "\"Europe/London\")");
}

/* "Europe" is a directory of the zone database, not a zone. */
static void
test_timezone_region_is_not_a_zone(void **state)
{
    if (access("/usr/share/zoneinfo/Europe/London", F_OK) != 0 || getenv("TZDIR") != NULL)
        skip();
    expect_one_error(*state, MINIMAL "timezone = \"Europe\";\n", 4,
                     "timezone: unknown time zone \"Europe\" (use an IANA name such as "
                     "\"Europe/London\")");
}

static void
test_bad_log_level(void **state)
{
    expect_one_error(*state, MINIMAL "log = {\n  level = \"verbose\";\n};\n", 5,
                     "log.level: \"verbose\" is not a level (error, warning, notice, info, debug)");
}

static void
test_syntax_error(void **state)
{
    struct fixture *fixture = *state;
    char prefix[128];

    write_config(fixture, "state_dir = \"/tmp/x\";\n"
                          "api = { endpoint = \"tcp://127.0.0.1:7420\"; };\n"
                          "notify = {\n"
                          "  endpoint = ;\n"
                          "};\n");
    expect_refused(fixture);
    assert_int_equal(fixture->errors.count, 1);
    snprintf(prefix, sizeof(prefix), "%s:4: syntax error", fixture->path);
    if (strncmp(fixture->errors.text[0], prefix, strlen(prefix)) != 0)
        fail_msg("expected \"%s...\", got \"%s\"", prefix, fixture->errors.text[0]);
}

static void
test_duplicate_key_is_an_error(void **state)
{
    struct fixture *fixture = *state;
    char prefix[128];

    write_config(fixture, MINIMAL "\nstate_dir = \"/tmp/other\";\n");
    expect_refused(fixture);
    assert_int_equal(fixture->errors.count, 1);
    snprintf(prefix, sizeof(prefix), "%s:5: ", fixture->path);
    if (strncmp(fixture->errors.text[0], prefix, strlen(prefix)) != 0)
        fail_msg("expected \"%s...\", got \"%s\"", prefix, fixture->errors.text[0]);
}

static void
test_missing_required_key(void **state)
{
    expect_one_error(*state,
                     "api = { endpoint = \"tcp://127.0.0.1:7420\"; };\n"
                     "notify = { endpoint = \"tcp://127.0.0.1:7421\"; };\n",
                     0, "state_dir: required key is missing");
}

static void
test_missing_required_key_in_group(void **state)
{
    expect_one_error(*state,
                     "state_dir = \"/tmp/x\";\n"
                     "api = { };\n"
                     "notify = { endpoint = \"tcp://127.0.0.1:7421\"; };\n",
                     0, "api.endpoint: required key is missing");
}

static void
test_missing_group_reported_once(void **state)
{
    expect_one_error(*state,
                     "state_dir = \"/tmp/x\";\n"
                     "api = { endpoint = \"tcp://127.0.0.1:7420\"; };\n",
                     0, "notify: required key is missing");
}

static void
test_empty_file(void **state)
{
    struct fixture *fixture = *state;

    write_config(fixture, "# nothing here yet\n");
    expect_refused(fixture);
    if (fixture->errors.count != 3 ||
        !has_error(fixture, 0, "state_dir: required key is missing") ||
        !has_error(fixture, 0, "api: required key is missing") ||
        !has_error(fixture, 0, "notify: required key is missing")) {
        print_errors(&fixture->errors);
        fail_msg("unexpected errors for an empty file");
    }
}

static void
test_every_error_reported(void **state)
{
    struct fixture *fixture = *state;

    write_config(fixture, "state_dir = \"\";\n"
                          "colour = \"blue\";\n"
                          "api = { endpoint = \"tcp://127.0.0.1:7420\"; port = 7420; };\n"
                          "notify = { endpoint = \"tcp://127.0.0.1:7421\"; };\n"
                          "limits = { max_message_bytes = 10; max_batch_events = \"many\"; };\n"
                          "log = { level = \"loud\"; };\n"
                          "timezone = \"Mars/Olympus_Mons\";\n"
                          "storage = { durable = \"yes\"; };\n");
    expect_refused(fixture);
    if (fixture->errors.count != 8 || !has_error(fixture, 1, "state_dir: must not be empty") ||
        !has_error(fixture, 2, "colour: unknown key") ||
        !has_error(fixture, 3, "api.port: unknown key") ||
        !has_error(fixture, 5, "limits.max_message_bytes: 10 is out of range (1024 to 67108864)") ||
        !has_error(fixture, 5, "limits.max_batch_events: must be an integer, not a string") ||
        !has_error(fixture, 6,
                   "log.level: \"loud\" is not a level (error, warning, notice, info, debug)") ||
        !has_error(fixture, 7,
                   "timezone: unknown time zone \"Mars/Olympus_Mons\" (use an IANA name such as "
                   "\"Europe/London\")") ||
        !has_error(fixture, 8, "storage.durable: must be true or false, not a string")) {
        print_errors(&fixture->errors);
        fail_msg("not every error was reported as expected");
    }
}

/* Past CONFIG_MAX_ERRORS the texts stop but the count goes on. */
static void
test_many_errors_counted(void **state)
{
    struct fixture *fixture = *state;
    char text[4096] = MINIMAL;
    size_t used = strlen(text);

    for (int i = 0; i < CONFIG_MAX_ERRORS + 8; i++)
        used += (size_t)snprintf(text + used, sizeof(text) - used, "unknown_%d = %d;\n", i, i);
    assert_true(used < sizeof(text));
    write_config(fixture, text);
    expect_refused(fixture);
    assert_int_equal(fixture->errors.count, CONFIG_MAX_ERRORS + 8);
    assert_true(has_error(fixture, 4, "unknown_0: unknown key"));
    assert_true(has_error(fixture, CONFIG_MAX_ERRORS + 3, "unknown_31: unknown key"));
}

static void
test_missing_file(void **state)
{
    struct fixture *fixture = *state;
    char expected[256];

    snprintf(fixture->path, sizeof(fixture->path), "/tmp/carehub-test-config-XXXXXX");
    int fd = mkstemp(fixture->path);
    assert_true(fd >= 0);
    close(fd);
    unlink(fixture->path); /* a name that certainly does not exist */
    expect_refused(fixture);
    assert_int_equal(fixture->errors.count, 1);
    snprintf(expected, sizeof(expected), "%s: cannot read the file: %s", fixture->path,
             strerror(ENOENT));
    assert_string_equal(fixture->errors.text[0], expected);
    fixture->path[0] = '\0';
}

/* A directory cannot be read as a file, and the message says why. */
static void
test_directory_instead_of_file(void **state)
{
    struct fixture *fixture = *state;
    char dir[64], expected[256];
    int r;

    snprintf(dir, sizeof(dir), "/tmp/carehub-test-config-XXXXXX");
    assert_non_null(mkdtemp(dir));
    r = config_load(dir, &fixture->config, &fixture->errors);
    rmdir(dir);
    assert_int_equal(r, -EINVAL);
    assert_int_equal(fixture->errors.count, 1);
    snprintf(expected, sizeof(expected), "%s: cannot read the file: %s", dir, strerror(EISDIR));
    assert_string_equal(fixture->errors.text[0], expected);
}

/* A mistake in an @include'd file is reported with that file's name and line. */
static void
test_error_in_included_file(void **state)
{
    struct fixture *fixture = *state;
    char text[512];
    const char included[] = "\n\napi = { endpoint = \"tcp://127.0.0.1:7420\"; colour = 1; };\n";

    write_temp_file(fixture->included, sizeof(fixture->included), included);
    snprintf(text, sizeof(text),
             "state_dir = \"/tmp/x\";\n"
             "@include \"%s\"\n"
             "notify = { endpoint = \"tcp://127.0.0.1:7421\"; };\n",
             fixture->included);
    write_config(fixture, text);
    expect_refused(fixture);
    char expected[256];
    snprintf(expected, sizeof(expected), "%s:3: api.colour: unknown key", fixture->included);
    if (fixture->errors.count != 1 || strcmp(fixture->errors.text[0], expected) != 0) {
        print_errors(&fixture->errors);
        fail_msg("expected exactly \"%s\"", expected);
    }
}

/* The review sections are read by daemon/kinds.c: not unknown keys here, and freed by
 * config_free(). */
static void
test_review_sections_are_known(void **state)
{
    struct fixture *fixture = *state;

    write_config(fixture, MINIMAL "schedule = { send_time = \"08:00\"; };\n"
                                  "kinds = ( { name = \"action\"; title = \"Action\"; assigned = "
                                  "true; } );\n"
                                  "courses = ();\n");
    if (load(fixture) != 0) {
        print_errors(&fixture->errors);
        fail_msg("the review sections were refused");
    }
    assert_int_equal(fixture->config.kinds.kind_count, 1);
    assert_string_equal(fixture->config.kinds.kinds[0].name, "action");
    assert_int_equal(fixture->config.kinds.calendar.send_minute, 8 * 60);
    config_free(&fixture->config);
    assert_int_equal(fixture->config.kinds.kind_count, 0);
    assert_null(fixture->config.kinds.kinds);
    unlink(fixture->path);
    expect_one_error(fixture, MINIMAL "Kinds = ();\n", 4, "Kinds: unknown key");
}

static void
test_free_accepts_empty(void **state)
{
    (void)state;
    struct config config;

    memset(&config, 0, sizeof(config));
    config_free(&config);
    config_free(&config);
    config_free(NULL);
}

/* A second file, loaded into *next, for comparing two configurations. */
static void
load_next(struct fixture *fixture, const char *text, struct config *next)
{
    struct config_errors errors;

    write_temp_file(fixture->included, sizeof(fixture->included), text);
    if (config_load(fixture->included, next, &errors) != 0) {
        print_errors(&errors);
        fail_msg("the second file was refused");
    }
}

static void
test_reload_may_change_live_keys(void **state)
{
    struct fixture *fixture = *state;
    struct config next;
    struct config_errors errors;

    load_valid(fixture, MINIMAL);
    load_next(fixture,
              MINIMAL "log = { level = \"debug\"; };\n"
                      "limits = { max_batch_events = 5; max_queued_events = 2000; };\n"
                      "commit = { max_events = 7; max_delay_ms = 3; };\n"
                      "kinds = ( { name = \"appraisal\"; title = \"Appraisal\";\n"
                      "            recurring = { every = \"1 year\"; }; } );\n"
                      "metrics = ( { name = \"falls\"; title = \"Falls\"; } );\n",
              &next);
    errors.count = 99;
    assert_int_equal(config_restart_changes(&fixture->config, &next, &errors), 0);
    assert_int_equal(errors.count, 0);
    /* The same file again: nothing differs either way. */
    assert_int_equal(config_restart_changes(&next, &next, &errors), 0);
    config_free(&next);
}

static void
test_reload_refuses_restart_keys(void **state)
{
    struct fixture *fixture = *state;
    struct config next;
    struct config_errors errors;
    char expected[512];

    load_valid(fixture, MINIMAL);
    load_next(fixture,
              "state_dir = \"/var/lib/elsewhere\";\n"
              "api = { endpoint = \"ipc:///run/carehub/api.sock\"; };\n"
              "notify = { endpoint = \"tcp://127.0.0.1:7421\"; };\n"
              "timezone = \"Europe/London\";\n"
              "limits = { max_message_bytes = 2048; max_pending_replies = 100; "
              "max_batch_events = 5; };\n"
              "storage = { durable = false; cache_mb = 8; checkpoint_pages = 100; };\n",
              &next);
    assert_int_equal(config_restart_changes(&fixture->config, &next, &errors), 8);
    assert_int_equal(errors.count, 8);
    /* In the order of the key table, each naming the next file, the key and both values. */
    static const char *const keys[][3] = {
        {"state_dir", "\"/var/lib/elsewhere\"", "\"/var/lib/carehub-test\""},
        {"timezone", "\"Europe/London\"", "\"UTC\""},
        {"api.endpoint", "\"ipc:///run/carehub/api.sock\"", "\"tcp://127.0.0.1:7420\""},
        {"limits.max_message_bytes", "2048", "1048576"},
        {"limits.max_pending_replies", "100", "10000"},
        {"storage.durable", "false", "true"},
        {"storage.cache_mb", "8", "64"},
        {"storage.checkpoint_pages", "100", "1000"},
    };
    for (int i = 0; i < 8; i++) {
        snprintf(expected, sizeof(expected),
                 "%s: %s: the file says %s but carehubd runs with %s, and only a restart can "
                 "apply a change to this key",
                 fixture->included, keys[i][0], keys[i][1], keys[i][2]);
        assert_string_equal(errors.text[i], expected);
    }
    config_free(&next);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(test_minimal_file_gives_defaults),
        TEST(test_every_key_set),
        TEST(test_log_levels),
        TEST(test_example_configuration),
        TEST(test_unknown_top_level_key),
        TEST(test_unknown_top_level_group),
        TEST(test_unknown_key_in_group),
        TEST(test_wrong_type_string_for_int),
        TEST(test_wrong_type_float_for_int),
        TEST(test_wrong_type_int_for_bool),
        TEST(test_wrong_type_int_for_group),
        TEST(test_wrong_type_group_for_string),
        TEST(test_required_group_of_wrong_type_reported_once),
        TEST(test_out_of_range),
        TEST(test_out_of_range_too_big),
        TEST(test_out_of_range_negative_and_64_bit),
        TEST(test_number_too_large_for_32_bits),
        TEST(test_numbers_libconfig_reads_as_written),
        TEST(test_range_bounds_accepted),
        TEST(test_empty_string),
        TEST(test_empty_endpoint),
        TEST(test_unknown_timezone),
        TEST(test_timezone_path_is_not_a_zone),
        TEST(test_timezone_region_is_not_a_zone),
        TEST(test_bad_log_level),
        TEST(test_syntax_error),
        TEST(test_duplicate_key_is_an_error),
        TEST(test_missing_required_key),
        TEST(test_missing_required_key_in_group),
        TEST(test_missing_group_reported_once),
        TEST(test_empty_file),
        TEST(test_every_error_reported),
        TEST(test_many_errors_counted),
        TEST(test_missing_file),
        TEST(test_directory_instead_of_file),
        TEST(test_error_in_included_file),
        TEST(test_review_sections_are_known),
        TEST(test_free_accepts_empty),
        TEST(test_reload_may_change_live_keys),
        TEST(test_reload_refuses_restart_keys),
    };

    return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}

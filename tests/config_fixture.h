/*
 * config_fixture: the cmocka fixture shared by the unit tests that read a
 * configuration file (test-config, test-kinds, test-metrics).
 *
 * Each test writes its text to a fresh temporary file under /tmp, loads it
 * through config_load() as the daemon does, and checks the errors, each
 * "FILE:LINE: key: reason" (or "FILE: key: reason" when the mistake has no
 * line).  Tests may name a line by a marker: the first line of the text that
 * holds the marker text.  The teardown frees the config and removes the
 * files.
 *
 * Everything here is static inline, so that a test that leaves some of it
 * unused still builds with -Werror.
 */
#ifndef CAREHUB_TEST_CONFIG_FIXTURE_H
#define CAREHUB_TEST_CONFIG_FIXTURE_H

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"

/* The least a valid file holds: its required keys. */
#define MINIMAL                                                                                    \
    "state_dir = \"/var/lib/carehub-test\";\n"                                                     \
    "api = { endpoint = \"tcp://127.0.0.1:7420\"; };\n"                                            \
    "notify = { endpoint = \"tcp://127.0.0.1:7421\"; };\n"

struct fixture {
    char path[64];     /* the file loaded; "" when there is none to remove */
    char included[64]; /* a second file, for @include; "" when there is none */
    struct config config;
    struct config_errors errors;
};

static inline int
setup(void **state)
{
    struct fixture *fixture = calloc(1, sizeof(*fixture));

    if (fixture == NULL)
        return -1;
    *state = fixture;
    return 0;
}

static inline int
teardown(void **state)
{
    struct fixture *fixture = *state;

    config_free(&fixture->config);
    if (fixture->path[0] != '\0')
        unlink(fixture->path);
    if (fixture->included[0] != '\0')
        unlink(fixture->included);
    free(fixture);
    return 0;
}

/* Each test runs in a fresh fixture. */
#define TEST(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

/* Writes text to a fresh temporary file, whose name goes to path (size bytes). */
static inline void
write_temp_file(char *path, size_t size, const char *text)
{
    int fd;
    size_t len = strlen(text);

    snprintf(path, size, "/tmp/carehub-test-XXXXXX");
    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    assert_int_equal(close(fd), 0);
}

/* Writes text to a fresh temporary file, whose name goes to fixture->path; removes the last. */
static inline void
write_config(struct fixture *fixture, const char *text)
{
    if (fixture->path[0] != '\0')
        unlink(fixture->path);
    write_temp_file(fixture->path, sizeof(fixture->path), text);
}

static inline void
print_errors(const struct config_errors *errors)
{
    for (int i = 0; i < errors->count && i < CONFIG_MAX_ERRORS; i++)
        print_message("  error %d: %s\n", i, errors->text[i]);
}

/* Loads text, which must be valid. */
static inline void
load_valid(struct fixture *fixture, const char *text)
{
    config_free(&fixture->config);
    write_config(fixture, text);
    if (config_load(fixture->path, &fixture->config, &fixture->errors) != 0) {
        print_errors(&fixture->errors);
        fail_msg("a valid file was refused");
    }
    assert_int_equal(fixture->errors.count, 0);
}

/*
 * Loads the reference file, conf/carehubd.conf in the source tree named by
 * $CAREHUB_SOURCE_DIR (CTest sets it), which must be valid; skips the test
 * when the variable is not set or the file is not there.
 */
static inline void
load_reference(struct fixture *fixture)
{
    const char *source_dir = getenv("CAREHUB_SOURCE_DIR");
    char path[4096];

    if (source_dir == NULL)
        skip();
    snprintf(path, sizeof(path), "%s/conf/carehubd.conf", source_dir);
    if (access(path, F_OK) != 0)
        skip();
    if (config_load(path, &fixture->config, &fixture->errors) != 0) {
        print_errors(&fixture->errors);
        fail_msg("%s was refused", path);
    }
}

/* The line (from 1) of the first line of text that holds marker. */
static inline int
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

/* True when the errors hold exactly "PATH:LINE: what" (or "PATH: what" when line is 0). */
static inline bool
has_error(const struct fixture *fixture, int line, const char *what)
{
    char expected[512];

    if (line > 0)
        snprintf(expected, sizeof(expected), "%s:%d: %s", fixture->path, line, what);
    else
        snprintf(expected, sizeof(expected), "%s: %s", fixture->path, what);
    for (int i = 0; i < fixture->errors.count && i < CONFIG_MAX_ERRORS; i++)
        if (strcmp(fixture->errors.text[i], expected) == 0)
            return true;
    return false;
}

/* One expected error: at the line holding marker (no line when NULL), the text what. */
struct expected {
    const char *marker;
    const char *what;
};

/*
 * Loads text, which must be refused with exactly the expected errors and
 * nothing kept of the review and metrics sections.
 */
static inline void
expect_errors(struct fixture *fixture, const char *text, const struct expected *expected, int count)
{
    bool as_expected;
    int r;

    config_free(&fixture->config);
    write_config(fixture, text);
    r = config_load(fixture->path, &fixture->config, &fixture->errors);
    if (r == 0)
        fail_msg("the file was accepted");
    assert_int_equal(r, -EINVAL);
    assert_int_equal(fixture->config.kinds.kind_count, 0);
    assert_null(fixture->config.kinds.kinds);
    assert_null(fixture->config.kinds.courses);
    assert_null(fixture->config.kinds.calendar.closures);
    assert_int_equal(fixture->config.metrics.count, 0);
    assert_null(fixture->config.metrics.items);
    as_expected = fixture->errors.count == count;
    for (int i = 0; i < count; i++) {
        int line = expected[i].marker ? line_of(text, expected[i].marker) : 0;
        if (!has_error(fixture, line, expected[i].what)) {
            print_message("  missing: %d: %s\n", line, expected[i].what);
            as_expected = false;
        }
    }
    if (!as_expected) {
        print_errors(&fixture->errors);
        fail_msg("expected %d errors, got %d (above)", count, fixture->errors.count);
    }
}

/* expect_errors() with the expected errors listed in place: { marker, what }, ... */
#define EXPECT_ERRORS(fixture, text, ...)                                                          \
    do {                                                                                           \
        const struct expected expected_[] = {__VA_ARGS__};                                         \
        expect_errors(fixture, text, expected_, (int)(sizeof(expected_) / sizeof(expected_[0])));  \
    } while (0)

#endif

/*
 * Unit tests of clients/notify_templates: the built-in templates
 * (conf/carehub-notify.templates, compiled in) and templates files read over
 * them.  The built-in ones render each message's sample into sensible text;
 * a file replaces only the parts it holds; every fault in a file is refused
 * with its exact message and line, misspelt names included (caught at load
 * by rendering the samples).
 *
 * Each test writes its file with mkstemp() under /tmp; the teardown removes it.
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
#include <unistd.h>

#include <cmocka.h>

#include "default_templates.h"
#include "notify_templates.h"

struct fixture {
    char path[64]; /* the templates file; "" when there is none to remove */
    struct notify_templates templates;
    char err[512];
};

/* A message rendered: its three parts, the caller's. */
struct rendered {
    char *subject;
    char *text;
    char *html;
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

    notify_templates_free(&fixture->templates);
    if (fixture->path[0] != '\0')
        unlink(fixture->path);
    free(fixture);
    return 0;
}

#define TEST(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

static void
rendered_free(struct rendered *rendered)
{
    free(rendered->subject);
    free(rendered->text);
    free(rendered->html);
    memset(rendered, 0, sizeof(*rendered));
}

/* Writes len bytes of text as the templates file (replacing the last). */
static void
write_file(struct fixture *fixture, const char *text, size_t len)
{
    int fd;

    if (fixture->path[0] != '\0')
        unlink(fixture->path);
    snprintf(fixture->path, sizeof(fixture->path), "/tmp/carehub-templates-test-XXXXXX");
    fd = mkstemp(fixture->path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    assert_int_equal(close(fd), 0);
}

/* Writes text as the templates file and loads it over the built-in ones. */
static int
load_text(struct fixture *fixture, const char *text)
{
    notify_templates_free(&fixture->templates);
    write_file(fixture, text, strlen(text));
    fixture->err[0] = '\0';
    return notify_templates_load(&fixture->templates, fixture->path, fixture->err,
                                 sizeof(fixture->err));
}

/* Loads text, which must be valid. */
static void
load_valid(struct fixture *fixture, const char *text)
{
    int r = load_text(fixture, text);

    if (r != 0)
        fail_msg("a valid file was refused (%d): %s", r, fixture->err);
}

/* Loads the built-in templates alone. */
static void
load_builtin(struct fixture *fixture)
{
    int r = notify_templates_load(&fixture->templates, NULL, fixture->err, sizeof(fixture->err));

    if (r != 0)
        fail_msg("the built-in templates were refused (%d): %s", r, fixture->err);
}

/* Loads text, which must be refused with -EINVAL and exactly "PATH:LINE: what". */
static void
expect_error(struct fixture *fixture, const char *text, int line, const char *what)
{
    char expected[512];
    int r = load_text(fixture, text);

    snprintf(expected, sizeof(expected), "%s:%d: %s", fixture->path, line, what);
    if (r == 0)
        fail_msg("the file was accepted");
    assert_int_equal(r, -EINVAL);
    assert_string_equal(fixture->err, expected);
}

/* Renders message with data, which must succeed. */
static struct rendered
render(const struct fixture *fixture, enum notify_message message, const cJSON *data)
{
    struct rendered out = {NULL, NULL, NULL};
    char err[512] = "";
    int r = notify_templates_render(&fixture->templates, message, data, &out.subject, &out.text,
                                    &out.html, err, sizeof(err));

    if (r != 0)
        fail_msg("rendering %s failed (%d): %s", notify_message_name(message), r, err);
    assert_non_null(out.subject);
    assert_non_null(out.text);
    assert_non_null(out.html);
    return out;
}

/* Renders message's sample data. */
static struct rendered
render_sample(const struct fixture *fixture, enum notify_message message)
{
    cJSON *sample = notify_compose_sample(message);
    struct rendered out;

    assert_non_null(sample);
    out = render(fixture, message, sample);
    cJSON_Delete(sample);
    return out;
}

static void
assert_contains(const char *text, const char *part)
{
    if (strstr(text, part) == NULL)
        fail_msg("\"%s\" is not in:\n%s", part, text);
}

static void
assert_ends_with(const char *text, const char *end)
{
    size_t len = strlen(text), end_len = strlen(end);

    if (len < end_len || strcmp(text + len - end_len, end) != 0)
        fail_msg("\"%s\" does not end:\n%s", end, text);
}

static void
assert_lacks(const char *text, const char *part)
{
    if (strstr(text, part) != NULL)
        fail_msg("\"%s\" should not be in:\n%s", part, text);
}

/* The line (from 1) after the first that holds marker (a whole line, newline included). */
static int
line_after(const char *text, const char *marker)
{
    const char *found = strstr(text, marker);
    int line = 2;

    if (found == NULL)
        fail_msg("marker \"%s\" is not in the text", marker);
    for (const char *p = text; p < found; p++)
        if (*p == '\n')
            line++;
    return line;
}

/* ---- The built-in templates ---- */

static void
test_builtin_digest(void **state)
{
    struct fixture *fixture = *state;
    struct rendered digest;
    const char *overdue, *escalated, *coming_up, *figures;

    load_builtin(fixture);
    digest = render_sample(fixture, NOTIFY_DIGEST);
    assert_string_equal(digest.subject, "Staff reviews to look at: Monday 9 March 2026");

    assert_contains(digest.text, "Hello Tom,\n");
    assert_contains(digest.text, "Here is what needs your attention on Monday 9 March 2026.\n");
    /* The lists come in the order of urgency, each with its team and person. */
    overdue = strstr(digest.text, "OVERDUE: please arrange these as soon as you can\n");
    escalated = strstr(digest.text, "PASSED TO YOU:");
    coming_up = strstr(digest.text, "COMING UP: please book these in\n");
    figures = strstr(digest.text, "TEAM FIGURES that need a look\n");
    assert_non_null(overdue);
    assert_non_null(escalated);
    assert_non_null(coming_up);
    assert_non_null(figures);
    assert_true(overdue < escalated && escalated < coming_up && coming_up < figures);
    assert_contains(overdue, "\n\nDay team\n  Marek Nowak\n  - Supervision for Marek Nowak is "
                             "due.\n    Guidance: https://example.org/p\n");
    assert_contains(figures, "  - Supervision for Marek Nowak is due.\n");
    assert_contains(digest.text, "reviews.ics");
    assert_ends_with(digest.text, "\n\nRiverside Care\n");
    /* Standalone section lines leave no stray blank lines or tags. */
    assert_lacks(digest.text, "\n\n\n");
    assert_lacks(digest.text, "{{");

    assert_contains(digest.html, "<p>Hello Tom,</p>");
    assert_contains(digest.html, "<h3>Day team</h3>");
    assert_contains(digest.html, "<p><strong>Marek Nowak</strong></p>");
    assert_contains(digest.html, "<a href=\"https://example.org/p\">Guidance</a>");
    assert_contains(digest.html, "</body></html>\n");
    assert_lacks(digest.html, "{{");
    rendered_free(&digest);
}

static void
test_builtin_immediate_alert_and_fallback(void **state)
{
    struct fixture *fixture = *state;
    struct rendered message;

    load_builtin(fixture);
    message = render_sample(fixture, NOTIFY_IMMEDIATE);
    /* The sample is a first escalation: it is overdue. */
    assert_true(strncmp(message.subject, "Overdue: ", 9) == 0);
    assert_contains(message.subject, " for Marek Nowak");
    assert_string_equal(message.text, "Hello Tom,\n\nSupervision for Marek Nowak is due.\n\n"
                                      "Guidance: https://example.org/p\n\n"
                                      "When it is done, please record it in the usual way; the "
                                      "reminders about it\nthen stop.\n\nRiverside Care\n");
    assert_contains(message.html, "<p><a href=\"https://example.org/p\">Guidance</a></p>");
    rendered_free(&message);

    message = render_sample(fixture, NOTIFY_ALERT);
    assert_string_equal(message.subject, "Day team: a team figure is now amber");
    assert_string_equal(message.text,
                        "Hello Tom,\n\nSupervision for Marek Nowak is due.\n\nRiverside Care\n");
    rendered_free(&message);

    message = render_sample(fixture, NOTIFY_FALLBACK);
    assert_string_equal(message.subject, "Reminders that could not be delivered: 1 for 1 person");
    assert_contains(message.text, "(S002): has no email address in the staff directory\n  - "
                                  "Supervision for Marek Nowak is due.");
    assert_lacks(message.text, "{{");
    /* HTML escapes the values, the apostrophe of the notification's text among them. */
    assert_contains(message.html, "Your organisation&#39;s guidance");
    rendered_free(&message);
}

static void
test_html_part_escapes_values(void **state)
{
    struct fixture *fixture = *state;
    cJSON *sample = notify_compose_sample(NOTIFY_DIGEST);
    struct rendered digest;

    assert_non_null(sample);
    cJSON_ReplaceItemInObjectCaseSensitive(sample, "organisation",
                                           cJSON_CreateString("Smith & Sons <Care>"));
    load_builtin(fixture);
    digest = render(fixture, NOTIFY_DIGEST, sample);
    assert_contains(digest.html, "<p>Smith &amp; Sons &lt;Care&gt;</p>");
    assert_lacks(digest.html, "Smith & Sons");
    /* Plain text shows the value as it is. */
    assert_contains(digest.text, "\nSmith & Sons <Care>\n");
    rendered_free(&digest);
    cJSON_Delete(sample);
}

static void
test_subject_value_with_newline_renders_as_one_line(void **state)
{
    struct fixture *fixture = *state;
    cJSON *sample = notify_compose_sample(NOTIFY_ALERT);
    cJSON *alert = cJSON_GetObjectItemCaseSensitive(sample, "alert");
    struct rendered message;

    assert_non_null(alert);
    cJSON_ReplaceItemInObjectCaseSensitive(alert, "team_name",
                                           cJSON_CreateString("Day\r\nBcc: x@evil.example\tteam"));
    load_builtin(fixture);
    message = render(fixture, NOTIFY_ALERT, sample);
    assert_string_equal(message.subject,
                        "Day  Bcc: x@evil.example team: a team figure is now amber");
    rendered_free(&message);
    cJSON_Delete(sample);
}

static void
test_render_error_leaves_nothing(void **state)
{
    struct fixture *fixture = *state;
    cJSON *data = cJSON_Parse("{\"alert\": {\"team_name\": \"Day team\"}}");
    char *subject = (char *)"x", *text = (char *)"x", *html = (char *)"x";
    char err[512] = "", expected[512];

    assert_non_null(data);
    snprintf(expected, sizeof(expected),
             "built-in templates:%d: {{alert.state}} names nothing a message has",
             line_after((const char *)default_templates, "[alert.subject]\n"));
    load_builtin(fixture);
    assert_int_equal(notify_templates_render(&fixture->templates, NOTIFY_ALERT, data, &subject,
                                             &text, &html, err, sizeof(err)),
                     -ENOENT);
    assert_null(subject);
    assert_null(text);
    assert_null(html);
    assert_string_equal(err, expected);
    cJSON_Delete(data);
}

/* ---- Files over the built-in templates ---- */

static void
test_file_overrides_one_part_and_keeps_the_others(void **state)
{
    struct fixture *fixture = *state;
    struct rendered builtin, custom;

    load_builtin(fixture);
    builtin = render_sample(fixture, NOTIFY_DIGEST);
    notify_templates_free(&fixture->templates);

    load_valid(fixture, "# Our wording.\n"
                        "\n"
                        "[digest.subject]\n"
                        "Reviews for {{recipient.first_name}}, {{today}}\n");
    custom = render_sample(fixture, NOTIFY_DIGEST);
    assert_string_equal(custom.subject, "Reviews for Tom, Monday 9 March 2026");
    assert_string_equal(custom.text, builtin.text);
    assert_string_equal(custom.html, builtin.html);
    rendered_free(&custom);
    rendered_free(&builtin);

    /* The other messages keep every part. */
    custom = render_sample(fixture, NOTIFY_ALERT);
    assert_string_equal(custom.subject, "Day team: a team figure is now amber");
    rendered_free(&custom);
}

static void
test_file_parts_end_with_one_newline(void **state)
{
    struct fixture *fixture = *state;
    struct rendered alert;

    load_valid(fixture, "[alert.subject]\n"
                        "Figure: {{alert.state}}  \n"
                        "\n"
                        "[alert.text]\n"
                        "Hi {{recipient.first_name}}\n"
                        "\n"
                        "{{alert.message}}\n"
                        "\n"
                        "\n"
                        "[alert.html]\n"
                        "<p>{{alert.team_name}}</p>");
    alert = render_sample(fixture, NOTIFY_ALERT);
    assert_string_equal(alert.subject, "Figure: amber");
    assert_string_equal(alert.text, "Hi Tom\n\nSupervision for Marek Nowak is due.\n");
    assert_string_equal(alert.html, "<p>Day team</p>\n");
    rendered_free(&alert);
}

static void
test_file_with_crlf_lines(void **state)
{
    struct fixture *fixture = *state;
    struct rendered alert;

    load_valid(fixture, "# CRLF\r\n[alert.subject]\r\nFigure: {{alert.state}}\r\n\r\n"
                        "[alert.text]\r\nHi {{recipient.first_name}}\r\n");
    alert = render_sample(fixture, NOTIFY_ALERT);
    assert_string_equal(alert.subject, "Figure: amber");
    assert_string_equal(alert.text, "Hi Tom\n");
    rendered_free(&alert);
}

static void
test_empty_file_keeps_the_builtin_templates(void **state)
{
    struct fixture *fixture = *state;
    struct rendered alert;

    load_valid(fixture, "");
    alert = render_sample(fixture, NOTIFY_ALERT);
    assert_string_equal(alert.subject, "Day team: a team figure is now amber");
    rendered_free(&alert);
}

/* ---- Faults in a file ---- */

static void
test_text_before_the_first_part(void **state)
{
    struct fixture *fixture = *state;

    expect_error(fixture,
                 "# A comment is fine.\n  \n  # so is an indented one\nHello\n"
                 "[digest.subject]\nX\n",
                 4,
                 "text before the first part (start each part with a line such as "
                 "[digest.subject]; comments start with #)");
}

static void
test_unknown_part(void **state)
{
    struct fixture *fixture = *state;

    expect_error(fixture, "[digest.subject]\nX\n\n[digest.body]\nHello\n", 4,
                 "[digest.body] is not a part (write [MESSAGE.PART]: MESSAGE is digest, "
                 "immediate, alert or fallback; PART is subject, text or html)");
    expect_error(fixture, "[weekly.subject]\nX\n", 1,
                 "[weekly.subject] is not a part (write [MESSAGE.PART]: MESSAGE is digest, "
                 "immediate, alert or fallback; PART is subject, text or html)");
}

static void
test_part_twice(void **state)
{
    struct fixture *fixture = *state;

    expect_error(fixture,
                 "[alert.subject]\nFigure {{alert.state}}\n\n[alert.text]\nHi\n\n"
                 "[alert.subject]\nAgain\n",
                 7, "[alert.subject] appears twice");
}

static void
test_subject_on_two_lines(void **state)
{
    struct fixture *fixture = *state;

    expect_error(fixture,
                 "# Subjects are one line.\n\n[alert.subject]\nFigure {{alert.state}}\n"
                 "for {{alert.team_name}}\n\n[alert.text]\nHi\n",
                 5, "[alert.subject] must be one line");
}

static void
test_empty_subject(void **state)
{
    struct fixture *fixture = *state;

    expect_error(fixture, "[alert.text]\nHi\n\n[alert.subject]\n  \n\n[alert.html]\n<p>Hi</p>\n", 4,
                 "[alert.subject] is empty");
    /* A header on the file's last line, without a newline. */
    expect_error(fixture, "[alert.text]\nHi\n[immediate.subject]", 3,
                 "[immediate.subject] is empty");
}

static void
test_unclosed_section(void **state)
{
    struct fixture *fixture = *state;

    expect_error(fixture,
                 "[alert.subject]\nFigure\n\n[alert.text]\nHello\n{{#alert}}\n{{alert.message}}\n"
                 "\n[alert.html]\n<p>Hi</p>\n",
                 6, "{{#alert}} is opened here but never closed");
}

static void
test_misspelt_name(void **state)
{
    struct fixture *fixture = *state;

    expect_error(fixture,
                 "# Our wording.\n[digest.subject]\nReviews, {{today}}\n\n[digest.text]\n"
                 "Hello {{recipient.frist_name}},\n",
                 6, "{{recipient.frist_name}} names nothing a message has");
}

static void
test_misspelt_name_inside_a_list(void **state)
{
    struct fixture *fixture = *state;

    /* Every list of the sample has an entry, so names inside sections are checked too. */
    expect_error(fixture,
                 "[digest.html]\n<ul>\n{{#overdue}}\n{{#people}}\n<li>{{nmae}}</li>\n"
                 "{{/people}}\n{{/overdue}}\n</ul>\n",
                 5, "{{nmae}} names nothing a message has");
    expect_error(fixture,
                 "[fallback.text]\n{{#people}}\n{{#notifications}}\n- {{txt}}\n"
                 "{{/notifications}}\n{{/people}}\n",
                 4, "{{txt}} names nothing a message has");
}

static void
test_nul_byte(void **state)
{
    struct fixture *fixture = *state;
    static const char text[] = "[alert.subject]\nFigure\0 {{alert.state}}\n";
    char expected[512];

    notify_templates_free(&fixture->templates);
    write_file(fixture, text, sizeof(text) - 1);
    assert_int_equal(notify_templates_load(&fixture->templates, fixture->path, fixture->err,
                                           sizeof(fixture->err)),
                     -EINVAL);
    snprintf(expected, sizeof(expected), "%s: holds a NUL byte: not a text file", fixture->path);
    assert_string_equal(fixture->err, expected);
}

static void
test_missing_file(void **state)
{
    struct fixture *fixture = *state;

    assert_int_equal(notify_templates_load(&fixture->templates, "/nonexistent/my.templates",
                                           fixture->err, sizeof(fixture->err)),
                     -ENOENT);
    assert_string_equal(fixture->err, "/nonexistent/my.templates: cannot read the templates "
                                      "file: No such file or directory");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(test_builtin_digest),
        TEST(test_builtin_immediate_alert_and_fallback),
        TEST(test_html_part_escapes_values),
        TEST(test_subject_value_with_newline_renders_as_one_line),
        TEST(test_render_error_leaves_nothing),
        TEST(test_file_overrides_one_part_and_keeps_the_others),
        TEST(test_file_parts_end_with_one_newline),
        TEST(test_file_with_crlf_lines),
        TEST(test_empty_file_keeps_the_builtin_templates),
        TEST(test_text_before_the_first_part),
        TEST(test_unknown_part),
        TEST(test_part_twice),
        TEST(test_subject_on_two_lines),
        TEST(test_empty_subject),
        TEST(test_unclosed_section),
        TEST(test_misspelt_name),
        TEST(test_misspelt_name_inside_a_list),
        TEST(test_nul_byte),
        TEST(test_missing_file),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

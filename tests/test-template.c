/*
 * Unit tests of clients/template: the Mustache subset of carehub-notify's
 * message templates.  Every syntax feature, standalone lines, lookup through
 * the context stack, value formatting and escaping, each syntax error and
 * lookup error with its exact message and line, and the limits.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "template.h"

/* Parses text (from line 1 of "t") and renders it with json in the given mode. */
static char *
render_escaped(const char *text, const char *json, enum template_escape escape)
{
    struct template *template = NULL;
    cJSON *data = cJSON_Parse(json);
    char err[256] = "";
    char *out = NULL;

    assert_non_null(data);
    assert_int_equal(template_parse(&template, text, strlen(text), "t", 1, err, sizeof(err)), 0);
    assert_string_equal(err, "");
    assert_int_equal(template_render(template, data, escape, &out, err, sizeof(err)), 0);
    assert_string_equal(err, "");
    assert_non_null(out);
    template_free(template);
    cJSON_Delete(data);
    return out;
}

/* Asserts that text with json renders to exactly expected, in plain mode. */
static void
assert_renders(const char *text, const char *json, const char *expected)
{
    char *out = render_escaped(text, json, TEMPLATE_PLAIN);

    assert_string_equal(out, expected);
    free(out);
}

/* Asserts that text (starting on first_line of "templates.conf") is refused
 * by the parser with exactly message. */
static void
assert_parse_error(const char *text, int first_line, const char *message)
{
    struct template *template = (struct template *)&template; /* not NULL, to see it reset */
    char err[256] = "";

    assert_int_equal(template_parse(&template, text, strlen(text), "templates.conf", first_line,
                                    err, sizeof(err)),
                     -EINVAL);
    assert_null(template);
    assert_string_equal(err, message);
}

/* Asserts that text parses but rendering it with json fails with code and
 * exactly message, leaving no output. */
static void
assert_render_error(const char *text, int first_line, const char *json, int code,
                    const char *message)
{
    struct template *template = NULL;
    cJSON *data = cJSON_Parse(json);
    char err[256] = "";
    char *out = (char *)"not reset";

    assert_non_null(data);
    assert_int_equal(template_parse(&template, text, strlen(text), "templates.conf", first_line,
                                    err, sizeof(err)),
                     0);
    assert_int_equal(template_render(template, data, TEMPLATE_PLAIN, &out, err, sizeof(err)), code);
    assert_null(out);
    assert_string_equal(err, message);
    template_free(template);
    cJSON_Delete(data);
}

static void
test_text_without_tags_is_unchanged(void **state)
{
    (void)state;

    assert_renders("", "{}", "");
    assert_renders("Hello, world.\n", "{}", "Hello, world.\n");
    assert_renders("a { brace, a } brace, }} and {x}\n", "{}",
                   "a { brace, a } brace, }} and {x}\n");
    assert_renders("  indented\n\n\ttabbed\n", "{}", "  indented\n\n\ttabbed\n");
}

static void
test_values_replace_names(void **state)
{
    (void)state;

    assert_renders("Dear {{name}},", "{\"name\":\"Ada\"}", "Dear Ada,");
    assert_renders("{{a}}{{b}}{{a}}", "{\"a\":\"x\",\"b\":\"y\"}", "xyx");
    assert_renders("{{first_name}} {{last-name}} {{n2}}",
                   "{\"first_name\":\"Ada\",\"last-name\":\"Lovelace\",\"n2\":\"II\"}",
                   "Ada Lovelace II");
    /* Names are case-sensitive. */
    assert_renders("{{Name}}/{{name}}", "{\"Name\":\"A\",\"name\":\"b\"}", "A/b");
}

static void
test_spaces_inside_braces(void **state)
{
    (void)state;

    assert_renders("[{{ name }}] [{{\tname\t}}] [{{name  }}]", "{\"name\":\"Ada\"}",
                   "[Ada] [Ada] [Ada]");
    assert_renders("{{# on }}yes{{/ on }}{{ ^ off }}no{{ / off }}{{ ! note }}",
                   "{\"on\":true,\"off\":false}", "yesno");
}

static void
test_dotted_names(void **state)
{
    (void)state;

    assert_renders("{{person.name}} of {{person.team.name}}",
                   "{\"person\":{\"name\":\"Ada\",\"team\":{\"name\":\"Ward 3\"}}}",
                   "Ada of Ward 3");
    /* The first part is found through the stack, from inside a section. */
    assert_renders(
        "{{#items}}{{site.name}}:{{label}} {{/items}}",
        "{\"site\":{\"name\":\"North\"},\"items\":[{\"label\":\"a\"},{\"label\":\"b\"}]}",
        "North:a North:b ");
}

static void
test_numbers_are_formatted(void **state)
{
    (void)state;

    assert_renders("{{a}} {{b}} {{c}} {{d}}", "{\"a\":3,\"b\":-7,\"c\":0,\"d\":1000000}",
                   "3 -7 0 1000000");
    assert_renders("{{a}} {{b}} {{c}} {{d}}", "{\"a\":2.5,\"b\":0.1,\"c\":-0.0,\"d\":3.0}",
                   "2.5 0.1 0 3");
    /* %.15g: at most 15 significant digits. */
    assert_renders("{{a}} {{b}}", "{\"a\":3.14159265358979323,\"b\":1234567.891}",
                   "3.14159265358979 1234567.891");
    /* Whole numbers are written out up to 2^53; beyond it with an exponent. */
    assert_renders("{{a}} {{b}} {{c}}",
                   "{\"a\":9007199254740992,\"b\":-9007199254740992,\"c\":1e20}",
                   "9007199254740992 -9007199254740992 1e+20");
}

static void
test_booleans_and_null(void **state)
{
    (void)state;

    assert_renders("[{{t}}] [{{f}}] [{{n}}]", "{\"t\":true,\"f\":false,\"n\":null}",
                   "[true] [false] []");
}

static void
test_section_over_array_of_objects(void **state)
{
    (void)state;

    assert_renders("{{#people}}{{name}} ({{role}}); {{/people}}done",
                   "{\"people\":[{\"name\":\"Ada\",\"role\":\"nurse\"},"
                   "{\"name\":\"Bo\",\"role\":\"doctor\"}]}",
                   "Ada (nurse); Bo (doctor); done");
    assert_renders("<{{#people}}x{{/people}}>", "{\"people\":[]}", "<>");
}

static void
test_section_over_array_of_strings_with_dot(void **state)
{
    (void)state;

    assert_renders("{{#tags}}[{{.}}]{{/tags}}", "{\"tags\":[\"a\",\"b & c\",\"d\"]}",
                   "[a][b & c][d]");
    assert_renders("{{#n}}{{.}},{{/n}}", "{\"n\":[1,2.5,true,null]}", "1,2.5,true,,");
    /* Outside any section, "." is the data itself. */
    assert_renders("{{.}}", "\"just a string\"", "just a string");
}

static void
test_section_over_object_and_truthy_values(void **state)
{
    (void)state;

    assert_renders("{{#ward}}{{name}} on floor {{floor}}{{/ward}}",
                   "{\"ward\":{\"name\":\"Ward 3\",\"floor\":2}}", "Ward 3 on floor 2");
    assert_renders("[{{#empty}}shown{{/empty}}]", "{\"empty\":{}}", "[shown]");
    assert_renders("{{#t}}T{{/t}}{{#s}}({{.}}){{/s}}{{#n}}<{{.}}>{{/n}}{{#neg}}-{{/neg}}",
                   "{\"t\":true,\"s\":\"nick\",\"n\":42,\"neg\":-0.5}", "T(nick)<42>-");
}

static void
test_section_skipped_for_falsy_values(void **state)
{
    (void)state;

    assert_renders("[{{#f}}f{{/f}}{{#n}}n{{/n}}{{#s}}s{{/s}}{{#z}}z{{/z}}{{#a}}a{{/a}}]",
                   "{\"f\":false,\"n\":null,\"s\":\"\",\"z\":0,\"a\":[]}", "[]");
    /* A skipped section's names are not looked up, so a missing one is no error. */
    assert_renders("[{{#f}}{{missing}}{{/f}}]", "{\"f\":false}", "[]");
}

static void
test_inverted_sections(void **state)
{
    (void)state;

    assert_renders("{{^f}}f{{/f}}{{^n}}n{{/n}}{{^s}}s{{/s}}{{^z}}z{{/z}}{{^a}}a{{/a}}",
                   "{\"f\":false,\"n\":null,\"s\":\"\",\"z\":0,\"a\":[]}", "fnsza");
    assert_renders("[{{^t}}t{{/t}}{{^s}}s{{/s}}{{^z}}z{{/z}}{{^a}}a{{/a}}{{^o}}o{{/o}}]",
                   "{\"t\":true,\"s\":\"x\",\"z\":1,\"a\":[1,2],\"o\":{}}", "[]");
    /* Shown once, however long the list it stands against would be. */
    assert_renders("{{#items}}{{.}}{{/items}}{{^items}}none{{/items}}", "{\"items\":[]}", "none");
}

static void
test_comments_are_not_shown(void **state)
{
    (void)state;

    assert_renders("a{{! a comment }}b{{!}}c", "{}", "abc");
    assert_renders("a{{! over\ntwo lines }}b", "{}", "ab");
    assert_renders("a{{! {{name is not looked up }}b", "{}", "ab");
    /* The first "}}" ends a comment. */
    assert_renders("a{{! x }}y }}b", "{}", "ay }}b");
}

static void
test_standalone_lines_disappear(void **state)
{
    (void)state;

    assert_renders("Items:\n"
                   "{{#items}}\n"
                   "- {{.}}\n"
                   "{{/items}}\n"
                   "End\n",
                   "{\"items\":[\"a\",\"b\"]}", "Items:\n- a\n- b\nEnd\n");
    /* Indentation with spaces and tabs, and trailing blanks, go with the line. */
    assert_renders("x\n  {{^none}}  \n\tno items\n \t{{/none}}\t\ny\n", "{\"none\":[]}",
                   "x\n\tno items\ny\n");
    assert_renders("a\n  {{! a note }}\nb\n", "{}", "a\nb\n");
    assert_renders("a\n{{! a note\n   over two lines }}\nb\n", "{}", "a\nb\n");
    /* CRLF line ends. */
    assert_renders("a\r\n{{#t}}\r\nb\r\n{{/t}}\r\nc\r\n", "{\"t\":true}", "a\r\nb\r\nc\r\n");
    /* At the very start, and on a last line with no newline. */
    assert_renders("{{#t}}\nyes\n  {{/t}}", "{\"t\":true}", "yes\n");
    assert_renders("  {{! only a comment }}  ", "{}", "");
}

static void
test_lines_with_more_than_one_tag_are_kept(void **state)
{
    (void)state;

    /* Text beside the tag. */
    assert_renders("a\n- {{#t}}\nb\n{{/t}}", "{\"t\":true}", "a\n- \nb\n");
    assert_renders("a\n{{#t}} x\n{{/t}}\n", "{\"t\":true}", "a\n x\n");
    /* Two tags on one line. */
    assert_renders("a\n{{#t}}{{/t}}\nb\n", "{\"t\":true}", "a\n\nb\n");
    assert_renders("a\n  {{! one }}{{! two }}\nb\n", "{}", "a\n  \nb\n");
    /* A value alone on its line keeps the line. */
    assert_renders("a\n  {{n}}\nb\n", "{\"n\":null}", "a\n  \nb\n");
}

static void
test_nested_sections_and_context_stack(void **state)
{
    (void)state;

    /* Inner names shadow outer ones; names not in the inner context are
     * found outside it. */
    assert_renders("{{#teams}}{{name}}:{{#people}} {{name}}@{{site}}{{/people}};{{/teams}}"
                   " {{name}}",
                   "{\"name\":\"org\",\"site\":\"HQ\",\"teams\":["
                   "{\"name\":\"A\",\"people\":[{\"name\":\"Ada\"},{\"name\":\"Al\","
                   "\"site\":\"Annex\"}]},"
                   "{\"name\":\"B\",\"people\":[{\"name\":\"Bo\"}]}]}",
                   "A: Ada@HQ Al@Annex;B: Bo@HQ; org");
    /* A list of lists, "." being the innermost item. */
    assert_renders("{{#rows}}[{{#.}}{{.}}{{/.}}]{{/rows}}", "{\"rows\":[[1,2],[3]]}", "[12][3]");
}

static void
test_dotted_name_does_not_fall_back_outwards(void **state)
{
    (void)state;

    /* The innermost "a" has no "b": an outer "a.b" is not used instead. */
    assert_render_error("{{#items}}{{a.b}}{{/items}}", 1,
                        "{\"a\":{\"b\":\"outer\"},\"items\":[{\"a\":{\"c\":1}}]}", -ENOENT,
                        "templates.conf:1: {{a.b}} names nothing a message has");
    /* Nor does a part that is not an object hold anything. */
    assert_render_error("{{a.b}}", 1, "{\"a\":\"text\"}", -ENOENT,
                        "templates.conf:1: {{a.b}} names nothing a message has");
}

static void
test_html_escaping(void **state)
{
    (void)state;
    const char *json = "{\"v\":\"<a href=\\\"x\\\">Tom & Jerry's</a>\"}";
    char *out;

    out = render_escaped("<p>{{v}}</p>", json, TEMPLATE_HTML);
    assert_string_equal(out, "<p>&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#39;s&lt;/a&gt;</p>");
    free(out);
    out = render_escaped("<p>{{v}}</p>", json, TEMPLATE_PLAIN);
    assert_string_equal(out, "<p><a href=\"x\">Tom & Jerry's</a></p>");
    free(out);
    /* Items of a list are values too; the template's own text never changes. */
    out = render_escaped("<ul>{{#l}}<li>{{.}}</li>{{/l}}</ul> & 'x'", "{\"l\":[\"a<b\",\"c\"]}",
                         TEMPLATE_HTML);
    assert_string_equal(out, "<ul><li>a&lt;b</li><li>c</li></ul> & 'x'");
    free(out);
}

static void
test_parse_error_unclosed_braces(void **state)
{
    (void)state;

    assert_parse_error("Hello {{name", 1,
                       "templates.conf:1: \"{{\" is not closed by \"}}\" on the same line");
    /* A "}}" on a later line does not close it. */
    assert_parse_error("one\ntwo {{name\n}}", 10,
                       "templates.conf:11: \"{{\" is not closed by \"}}\" on the same line");
    assert_parse_error("a\nb\n{{! never closed\n", 5,
                       "templates.conf:7: the comment \"{{!\" is never closed by \"}}\"");
}

static void
test_parse_error_empty_name(void **state)
{
    (void)state;

    assert_parse_error("{{}}", 1, "templates.conf:1: {{}} has no name");
    assert_parse_error("x\n{{  }}", 3, "templates.conf:4: {{  }} has no name");
    assert_parse_error("{{# }}", 1, "templates.conf:1: {{# }} has no name");
    assert_parse_error("{{#a}}{{/}}", 1, "templates.conf:1: {{/}} has no name");
}

static void
test_parse_error_malformed_name(void **state)
{
    (void)state;
    const char *why = " is not a name: names are letters, digits, '_' and '-', joined by dots, "
                      "or a single dot";
    const char *bad[] = {"{{a..b}}", "{{.a}}",   "{{a.}}",  "{{na me}}", "{{>partial}}",
                         "{{&raw}}", "{{{raw}}", "{{a/b}}", "{{#é}}",    "{{..}}"};
    char expected[256];

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(expected, sizeof(expected), "templates.conf:2: %s%s", bad[i], why);
        assert_parse_error(bad[i], 2, expected);
    }
    /* A long tag is quoted only in part. */
    snprintf(expected, sizeof(expected),
             "templates.conf:1: {{a name that goes on and on and on and ...%s", why);
    assert_parse_error("{{a name that goes on and on and on and on}}", 1, expected);
}

static void
test_parse_error_unclosed_section(void **state)
{
    (void)state;

    assert_parse_error("Intro\n\n{{#items}}\n- {{.}}\n", 10,
                       "templates.conf:12: {{#items}} is opened here but never closed");
    assert_parse_error("{{^none}}x", 1,
                       "templates.conf:1: {{^none}} is opened here but never closed");
    /* Of several, the innermost is the one named. */
    assert_parse_error("{{#a}}\n{{#b}}\n{{/b}}\n{{#c}}\n", 1,
                       "templates.conf:4: {{#c}} is opened here but never closed");
}

static void
test_parse_error_mismatched_close(void **state)
{
    (void)state;

    assert_parse_error("a\nb\n{{#people}}\n- {{name}}\n{{/teams}}\n", 26,
                       "templates.conf:30: {{/teams}} closes {{#people}}, opened on line 28");
    assert_parse_error("{{^a.b}}\n{{/a}}", 1,
                       "templates.conf:2: {{/a}} closes {{^a.b}}, opened on line 1");
    /* Closing the outer section first. */
    assert_parse_error("{{#a}}{{#b}}\n{{/a}}{{/b}}", 1,
                       "templates.conf:2: {{/a}} closes {{#b}}, opened on line 1");
}

static void
test_parse_error_close_without_open(void **state)
{
    (void)state;

    assert_parse_error("x\n{{/items}}\n", 7,
                       "templates.conf:8: {{/items}} closes nothing: no section is open here");
    assert_parse_error("{{#a}}{{/a}}\n\n{{/a}}", 1,
                       "templates.conf:3: {{/a}} closes nothing: no section is open here");
}

/* Builds "{{#s1}}" ... "{{#sN}}" "{{/sN}}" ... "{{/s1}}", one tag a line. */
static char *
nested_sections(int depth)
{
    size_t size = (size_t)depth * 2 * 16 + 1, used = 0;
    char *text = malloc(size);

    assert_non_null(text);
    text[0] = '\0';
    for (int i = 1; i <= depth; i++)
        used += (size_t)snprintf(text + used, size - used, "{{#s%d}}\n", i);
    for (int i = depth; i >= 1; i--)
        used += (size_t)snprintf(text + used, size - used, "{{/s%d}}\n", i);
    return text;
}

static void
test_depth_limit(void **state)
{
    (void)state;
    struct template *template = NULL;
    char err[256] = "";
    char expected[256];
    char *text, *out = NULL;
    cJSON *data;

    /* TEMPLATE_MAX_DEPTH sections inside each other are fine, and render. */
    text = nested_sections(TEMPLATE_MAX_DEPTH);
    assert_int_equal(template_parse(&template, text, strlen(text), "t", 1, err, sizeof(err)), 0);
    data = cJSON_CreateObject();
    assert_non_null(data);
    for (int i = 1; i <= TEMPLATE_MAX_DEPTH; i++) {
        char name[16];

        snprintf(name, sizeof(name), "s%d", i);
        assert_non_null(cJSON_AddTrueToObject(data, name));
    }
    assert_int_equal(template_render(template, data, TEMPLATE_PLAIN, &out, err, sizeof(err)), 0);
    assert_string_equal(out, "");
    free(out);
    template_free(template);
    cJSON_Delete(data);
    free(text);

    /* One more is refused at the line of the section too many. */
    text = nested_sections(TEMPLATE_MAX_DEPTH + 1);
    snprintf(expected, sizeof(expected),
             "templates.conf:%d: {{#s%d}} opens a section inside %d others; sections go at most "
             "%d deep",
             TEMPLATE_MAX_DEPTH + 5, TEMPLATE_MAX_DEPTH + 1, TEMPLATE_MAX_DEPTH,
             TEMPLATE_MAX_DEPTH);
    assert_parse_error(text, 5, expected);
    free(text);
}

static void
test_size_limit(void **state)
{
    (void)state;
    struct template *template = NULL;
    char *text = malloc(TEMPLATE_MAX_BYTES + 1);
    char err[256] = "";
    char *out = NULL;

    assert_non_null(text);
    memset(text, 'x', TEMPLATE_MAX_BYTES + 1);
    assert_int_equal(template_parse(&template, text, TEMPLATE_MAX_BYTES, "t", 1, err, sizeof(err)),
                     0);
    assert_int_equal(template_render(template, NULL, TEMPLATE_PLAIN, &out, err, sizeof(err)), 0);
    assert_int_equal(strlen(out), TEMPLATE_MAX_BYTES);
    free(out);
    template_free(template);

    template = (struct template *)&template;
    assert_int_equal(template_parse(&template, text, TEMPLATE_MAX_BYTES + 1, "templates.conf", 40,
                                    err, sizeof(err)),
                     -EINVAL);
    assert_null(template);
    assert_string_equal(err, "templates.conf:40: the template is 1048577 bytes long, more than the "
                             "1048576 allowed");
    free(text);
}

static void
test_output_limit(void **state)
{
    (void)state;
    const char *exact = "{{#copies}}{{block}}{{/copies}}";
    const char *over = "\n\n{{#copies}}{{block}}{{/copies}}!";
    struct template *template = NULL;
    size_t block = TEMPLATE_MAX_OUTPUT / 8;
    char *filler = malloc(block + 1);
    char err[256] = "";
    char *out = NULL;
    cJSON *data = cJSON_CreateObject(), *copies;

    assert_non_null(filler);
    assert_non_null(data);
    memset(filler, 'x', block);
    filler[block] = '\0';
    assert_non_null(cJSON_AddStringToObject(data, "block", filler));
    copies = cJSON_AddArrayToObject(data, "copies");
    assert_non_null(copies);
    for (int i = 0; i < 8; i++)
        assert_true(cJSON_AddItemToArray(copies, cJSON_CreateNull()));

    /* Exactly TEMPLATE_MAX_OUTPUT bytes are allowed. */
    assert_int_equal(template_parse(&template, exact, strlen(exact), "t", 1, err, sizeof(err)), 0);
    assert_int_equal(template_render(template, data, TEMPLATE_PLAIN, &out, err, sizeof(err)), 0);
    assert_int_equal(strlen(out), TEMPLATE_MAX_OUTPUT);
    free(out);
    template_free(template);

    /* One byte more is not: the error names the line that went over. */
    out = (char *)"not reset";
    assert_int_equal(
        template_parse(&template, over, strlen(over), "templates.conf", 3, err, sizeof(err)), 0);
    assert_int_equal(template_render(template, data, TEMPLATE_PLAIN, &out, err, sizeof(err)),
                     -E2BIG);
    assert_null(out);
    assert_string_equal(err, "templates.conf:5: the message would be longer than 8388608 bytes");
    template_free(template);
    cJSON_Delete(data);
    free(filler);
}

static void
test_render_error_missing_names(void **state)
{
    (void)state;

    assert_render_error("Dear {{name}},\n\n{{nmae}}\n", 5, "{\"name\":\"Ada\"}", -ENOENT,
                        "templates.conf:7: {{nmae}} names nothing a message has");
    assert_render_error("a\n{{#items}}\nb\n{{/items}}\n", 1, "{}", -ENOENT,
                        "templates.conf:2: {{#items}} names nothing a message has");
    assert_render_error("a\n\n{{^items}}none{{/items}}", 1, "{}", -ENOENT,
                        "templates.conf:3: {{^items}} names nothing a message has");
    /* Inside a section, on a line after standalone lines. */
    assert_render_error("{{#people}}\n  {{! who }}\n- {{name}} {{rank}}\n{{/people}}\n", 20,
                        "{\"people\":[{\"name\":\"Ada\"}]}", -ENOENT,
                        "templates.conf:22: {{rank}} names nothing a message has");
    assert_render_error("{{person.nmae}}", 1, "{\"person\":{\"name\":\"Ada\"}}", -ENOENT,
                        "templates.conf:1: {{person.nmae}} names nothing a message has");
}

static void
test_render_error_list_or_object_as_value(void **state)
{
    (void)state;

    assert_render_error("\n{{people}}", 1, "{\"people\":[]}", -EINVAL,
                        "templates.conf:2: {{people}} is a list, which cannot be written out as "
                        "it is; go through it with {{#people}}...{{/people}}");
    assert_render_error("{{ward}}", 9, "{\"ward\":{\"name\":\"W\"}}", -EINVAL,
                        "templates.conf:9: {{ward}} is a group of fields, which cannot be "
                        "written out as it is; name one of its fields, as in {{ward.field}}");
}

static void
test_text_need_not_be_nul_terminated(void **state)
{
    (void)state;
    const char text[] = {'H', 'i', ' ', '{', '{', 'n', '}', '}', '{', '{'};
    struct template *template = NULL;
    cJSON *data = cJSON_Parse("{\"n\":\"Ada\"}");
    char err[256] = "";
    char *out = NULL;

    assert_non_null(data);
    /* Only the first 8 bytes: the trailing "{{" is not part of it. */
    assert_int_equal(template_parse(&template, text, 8, "t", 1, err, sizeof(err)), 0);
    assert_int_equal(template_render(template, data, TEMPLATE_PLAIN, &out, err, sizeof(err)), 0);
    assert_string_equal(out, "Hi Ada");
    free(out);
    template_free(template);
    cJSON_Delete(data);
}

static void
test_parsed_once_rendered_many_times(void **state)
{
    (void)state;
    const char *text = "{{#items}}{{.}} {{/items}}{{^items}}none{{/items}}";
    const char *inputs[] = {"{\"items\":[\"a\",\"b\"]}", "{\"items\":[]}", "{\"items\":[\"c\"]}"};
    const char *expected[] = {"a b ", "none", "c "};
    struct template *template = NULL;
    char err[256] = "";

    assert_int_equal(template_parse(&template, text, strlen(text), "t", 1, err, sizeof(err)), 0);
    for (size_t i = 0; i < 3; i++) {
        cJSON *data = cJSON_Parse(inputs[i]);
        char *out = NULL;

        assert_non_null(data);
        assert_int_equal(template_render(template, data, TEMPLATE_PLAIN, &out, err, sizeof(err)),
                         0);
        assert_string_equal(out, expected[i]);
        free(out);
        cJSON_Delete(data);
    }
    template_free(template);
}

static void
test_free_accepts_null(void **state)
{
    (void)state;

    template_free(NULL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_without_tags_is_unchanged),
        cmocka_unit_test(test_values_replace_names),
        cmocka_unit_test(test_spaces_inside_braces),
        cmocka_unit_test(test_dotted_names),
        cmocka_unit_test(test_numbers_are_formatted),
        cmocka_unit_test(test_booleans_and_null),
        cmocka_unit_test(test_section_over_array_of_objects),
        cmocka_unit_test(test_section_over_array_of_strings_with_dot),
        cmocka_unit_test(test_section_over_object_and_truthy_values),
        cmocka_unit_test(test_section_skipped_for_falsy_values),
        cmocka_unit_test(test_inverted_sections),
        cmocka_unit_test(test_comments_are_not_shown),
        cmocka_unit_test(test_standalone_lines_disappear),
        cmocka_unit_test(test_lines_with_more_than_one_tag_are_kept),
        cmocka_unit_test(test_nested_sections_and_context_stack),
        cmocka_unit_test(test_dotted_name_does_not_fall_back_outwards),
        cmocka_unit_test(test_html_escaping),
        cmocka_unit_test(test_parse_error_unclosed_braces),
        cmocka_unit_test(test_parse_error_empty_name),
        cmocka_unit_test(test_parse_error_malformed_name),
        cmocka_unit_test(test_parse_error_unclosed_section),
        cmocka_unit_test(test_parse_error_mismatched_close),
        cmocka_unit_test(test_parse_error_close_without_open),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_size_limit),
        cmocka_unit_test(test_output_limit),
        cmocka_unit_test(test_render_error_missing_names),
        cmocka_unit_test(test_render_error_list_or_object_as_value),
        cmocka_unit_test(test_text_need_not_be_nul_terminated),
        cmocka_unit_test(test_parsed_once_rendered_many_times),
        cmocka_unit_test(test_free_accepts_null),
    };

    return cmocka_run_group_tests_name("template", tests, NULL, NULL);
}

/*
 * template: the message templates of carehub-notify, a small subset of
 * Mustache (https://mustache.github.io/mustache.5.html) rendered from cJSON
 * data.
 *
 * Syntax, all of it:
 *   {{name}}           the value of name: a string as it is, a whole number
 *                      up to 2^53 in size without a decimal point (3, not
 *                      3.000000; -0 as 0), other numbers with up to 15
 *                      significant digits (%.15g: 2.5, 1e+20), true/false
 *                      as "true"/"false", null as nothing.  Arrays and
 *                      objects cannot be shown.
 *   {{a.b.c}}          a dotted name: "a" is looked up as below, then b and
 *                      c inside it.
 *   {{.}}              the current item of a section (a list of strings),
 *                      or the data itself outside any section.
 *   {{#name}}...{{/name}}  a section: shown once for each element of a
 *                      non-empty array (each element becomes the innermost
 *                      context), once with the object as context for an
 *                      object (even {}), once for true, a non-empty string
 *                      or a non-zero number (the value becoming the
 *                      innermost context, so {{.}} shows it); not at all
 *                      for false, null, "", 0 and [].  Sections nest at
 *                      most TEMPLATE_MAX_DEPTH deep.
 *   {{^name}}...{{/name}}  an inverted section: shown once exactly when the
 *                      section would not be.
 *   {{! anything }}    a comment, never shown; it may run over several
 *                      lines and ends at the first "}}".
 * A name is looked up in the innermost context first, then outwards to the
 * data given to template_render().  For a dotted name only the first part is
 * looked up that way; the rest must be inside the value found for it (if
 * the innermost "a" has no "b", {{a.b}} is an error even when an outer "a"
 * has one).  Names are ASCII letters, digits, '_' and '-', dotted; spaces
 * and tabs just inside the braces are allowed ({{ name }}, {{# name }}).
 * Other tags are syntax errors, as is a tag ("{{" to "}}") that spans lines
 * (comments apart).  HTML escaping applies to values only, never to the
 * template's own text.
 *
 * A line holding nothing but one section tag, closing tag or comment (and
 * spaces or tabs) is a "standalone" line: it disappears whole, newline
 * included, so that sections can stand on lines of their own in plain text.
 * The newline may be "\n" or "\r\n"; the last line needs none.  A line with
 * two tags, or with a {{name}}, is not standalone and is kept as it is.
 *
 * Rendering is strict: a name found in no context is an error naming the
 * line, never an empty string, so a misspelt name is caught when
 * carehub-notify checks its templates at start (it renders each against a
 * sample of everything a message can hold).
 *
 * Nothing here logs.  Functions return 0 or a negative errno code, and put a
 * sentence for a person into err: "WHERE:LINE: reason", WHERE being the name
 * given to template_parse() (a file name, say) and LINE the line of the file
 * the template text came from.  For example:
 *   templates.conf:12: {{#items}} is opened here but never closed
 *   templates.conf:30: {{/teams}} closes {{#people}}, opened on line 28
 *   templates.conf:7: {{nmae}} names nothing a message has
 */
#ifndef CAREHUB_TEMPLATE_H
#define CAREHUB_TEMPLATE_H

#include <stddef.h>

#include <cjson/cJSON.h>

#define TEMPLATE_MAX_BYTES (1024 * 1024)      /* the longest template text */
#define TEMPLATE_MAX_DEPTH 16                 /* sections inside sections */
#define TEMPLATE_MAX_OUTPUT (8 * 1024 * 1024) /* the longest rendered text */

/* How values are written out. */
enum template_escape {
    TEMPLATE_PLAIN = 0, /* as they are (plain text, subjects) */
    TEMPLATE_HTML,      /* & < > " ' written as HTML entities */
};

struct template;

/*
 * Parses len bytes of text (need not be NUL-terminated; at most
 * TEMPLATE_MAX_BYTES) into *out, the caller's to template_free().  where
 * (copied) names the source in messages; first_line is the line number of
 * the text's first line in that source.  Returns 0; -EINVAL for a syntax
 * error ("{{" without "}}", an empty or malformed name, a section never
 * closed, a closing tag that does not match the open section or closes
 * none, sections deeper than TEMPLATE_MAX_DEPTH, a text too long) with
 * "WHERE:LINE: reason" in err, LINE being where the fault is (the opening
 * tag of a section never closed; first_line for a text too long); -ENOMEM
 * ("WHERE: out of memory").  *out is NULL on failure.  The template does not
 * refer to text afterwards, and is read-only once parsed: it may be
 * rendered any number of times.
 */
int template_parse(struct template **out, const char *text, size_t len, const char *where,
                   int first_line, char *err, size_t err_size);

/*
 * Renders template with data (borrowed; normally an object) into *out, a new
 * NUL-terminated string, the caller's to free().  Returns 0; -ENOENT when a
 * name is found in no context, -EINVAL when a value that cannot be shown
 * (an array or object) is placed with {{name}}, -E2BIG when the result would
 * be longer than TEMPLATE_MAX_OUTPUT, each with "WHERE:LINE: reason" in err
 * and *out NULL; -ENOMEM.  Only the sections actually rendered are checked:
 * a name inside a section that data leaves out is not looked up.  With data
 * NULL every name is missing.
 */
int template_render(const struct template *template, const cJSON *data, enum template_escape escape,
                    char **out, char *err, size_t err_size);

/*
 * Checks that every name in template is found in sample (borrowed): like
 * template_render(), but every section and inverted section is entered
 * once whatever its value (a list's first entry, or the value itself,
 * becoming the innermost context), so that a misspelt name in a part that
 * the sample would not show is caught too.  Returns 0, or -ENOENT / -EINVAL
 * with "WHERE:LINE: reason" in err as template_render() does; -ENOMEM.
 */
int template_check(const struct template *template, const cJSON *sample, char *err,
                   size_t err_size);

/* Frees a template; NULL is fine. */
void template_free(struct template *template);

#endif

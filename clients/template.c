#include "template.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * A parsed template is a flat list of nodes in text order.  A section node
 * owns the nodes after it up to (not including) its end index, so rendering
 * walks the list once, recursing only into sections: never deeper than
 * TEMPLATE_MAX_DEPTH.  Closing tags and comments leave no node behind.
 *
 * Every string a node needs (the text pieces, and each name twice: once as
 * written for messages, once split into segments for lookups) lives in one
 * pool, addressed by offset so that the pool may move as it grows.
 */

/* The largest whole number a double holds exactly (2^53): beyond it a
 * "whole" number is only the nearest double, so it is shown with %.15g. */
#define TEMPLATE_EXACT_INTEGER 9007199254740992.0

/* Tags quoted in syntax errors are cut to this many bytes. */
#define TEMPLATE_QUOTE_BYTES 40

enum node_kind {
    NODE_TEXT,
    NODE_VALUE,    /* {{name}} */
    NODE_SECTION,  /* {{#name}} */
    NODE_INVERTED, /* {{^name}} */
};

struct node {
    enum node_kind kind;
    long line;     /* of the tag, or of the text's first byte */
    size_t offset; /* text: its bytes in the pool; tags: the name as written, NUL-terminated */
    size_t length; /* text: its length; tags: the length of the name as written */
    size_t segment_count; /* tags: the parts of a dotted name, 0 for "." */
    size_t end;           /* sections: the index of the first node after the body */
};

/* A growing byte string, never longer than limit; data is NUL-terminated
 * once anything has been appended. */
struct buffer {
    char *data;
    size_t length;
    size_t capacity; /* bytes usable before the terminating NUL */
    size_t limit;
};

struct template
{
    char *where;
    struct node *nodes;
    size_t node_count;
    size_t node_capacity;
    struct buffer pool;
};

struct parser {
    struct template *template;
    const char *text;
    size_t length;
    size_t open[TEMPLATE_MAX_DEPTH]; /* node indices of the open sections, outermost first */
    int depth;
    char *err;
    size_t err_size;
};

/* One tag as read from the text. */
struct tag {
    char sigil;        /* '#', '^', '/', '!' or 0 for a value */
    size_t start;      /* the first '{' */
    size_t end;        /* just past the last '}' */
    size_t name_start; /* the name, spaces around it trimmed */
    size_t name_length;
    long line;
};

struct render {
    const struct template *template;
    enum template_escape escape;
    struct buffer out;
    const cJSON *contexts[TEMPLATE_MAX_DEPTH + 1]; /* the data, then one per open section */
    int depth;
    bool check; /* template_check(): every section entered once, whatever its value */
    char *err;
    size_t err_size;
};

/* Writes "WHERE:LINE: message" into err and returns code. */
static int __attribute__((format(printf, 6, 7)))
report(char *err, size_t err_size, int code, const char *where, long line, const char *format, ...)
{
    va_list args;
    int used;

    if (err == NULL || err_size == 0)
        return code;
    used = snprintf(err, err_size, "%s:%ld: ", where, line);
    if (used < 0 || (size_t)used >= err_size)
        return code;
    va_start(args, format);
    vsnprintf(err + used, err_size - (size_t)used, format, args);
    va_end(args);
    return code;
}

static int
report_no_memory(char *err, size_t err_size, const char *where)
{
    if (err != NULL && err_size > 0)
        snprintf(err, err_size, "%s: out of memory", where);
    return -ENOMEM;
}

/* Makes room for extra more bytes (and a NUL): -E2BIG past the limit. */
static int
buffer_reserve(struct buffer *buffer, size_t extra)
{
    size_t need, capacity;
    char *data;

    if (extra > buffer->limit - buffer->length)
        return -E2BIG;
    need = buffer->length + extra;
    if (buffer->data != NULL && need <= buffer->capacity)
        return 0;
    capacity = buffer->capacity > 0 ? buffer->capacity : 256;
    while (capacity < need)
        capacity = capacity > buffer->limit / 2 ? buffer->limit : capacity * 2;
    data = realloc(buffer->data, capacity + 1);
    if (data == NULL)
        return -ENOMEM;
    buffer->data = data;
    buffer->capacity = capacity;
    return 0;
}

static int
buffer_append(struct buffer *buffer, const char *bytes, size_t length)
{
    int r = buffer_reserve(buffer, length);

    if (r < 0)
        return r;
    if (length > 0)
        memcpy(buffer->data + buffer->length, bytes, length);
    buffer->length += length;
    buffer->data[buffer->length] = '\0';
    return 0;
}

static bool
is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static bool
is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

/* "." alone, or non-empty runs of name characters joined by single dots. */
static bool
name_is_valid(const char *name, size_t length)
{
    bool segment_empty = true;

    if (length == 1 && name[0] == '.')
        return true;
    for (size_t i = 0; i < length; i++) {
        if (name[i] == '.') {
            if (segment_empty)
                return false;
            segment_empty = true;
        } else if (is_name_char(name[i])) {
            segment_empty = false;
        } else {
            return false;
        }
    }
    return !segment_empty;
}

static long
count_newlines(const char *text, size_t from, size_t to)
{
    long count = 0;

    for (size_t i = from; i < to; i++)
        if (text[i] == '\n')
            count++;
    return count;
}

/* The index of the next "{{" at or after from, or length. */
static size_t
find_open(const char *text, size_t from, size_t length)
{
    for (size_t i = from; i + 1 < length; i++)
        if (text[i] == '{' && text[i + 1] == '{')
            return i;
    return length;
}

/* The index of the next "}}" at or after from, or length; a newline stops
 * the search unless across_lines. */
static size_t
find_close(const char *text, size_t from, size_t length, bool across_lines)
{
    for (size_t i = from; i + 1 < length; i++) {
        if (text[i] == '\n' && !across_lines)
            return length;
        if (text[i] == '}' && text[i + 1] == '}')
            return i;
    }
    return length;
}

/*
 * Whether the tag from start to end stands alone on its line, with only
 * spaces and tabs around it.  If so, *line_start is where its line begins
 * and *after is just past its newline (or the end of the text), the span
 * that disappears.
 */
static bool
is_standalone(const char *text, size_t length, size_t start, size_t end, size_t *line_start,
              size_t *after)
{
    size_t i = start, j = end;

    while (i > 0 && is_blank(text[i - 1]))
        i--;
    if (i > 0 && text[i - 1] != '\n')
        return false;
    while (j < length && is_blank(text[j]))
        j++;
    if (j + 1 < length && text[j] == '\r' && text[j + 1] == '\n')
        j += 2;
    else if (j < length && text[j] == '\n')
        j++;
    else if (j < length)
        return false;
    *line_start = i;
    *after = j;
    return true;
}

static const char *
sigil_text(enum node_kind kind)
{
    return kind == NODE_SECTION ? "#" : kind == NODE_INVERTED ? "^" : "";
}

static const char *
node_name(const struct template *template, const struct node *node)
{
    return template->pool.data + node->offset;
}

static int
add_node(struct parser *p, enum node_kind kind, long line, size_t *index)
{
    struct template *template = p->template;
    struct node *nodes;

    if (template->node_count == template->node_capacity) {
        size_t capacity = template->node_capacity > 0 ? template->node_capacity * 2 : 16;

        if (capacity > SIZE_MAX / sizeof(*nodes))
            return report_no_memory(p->err, p->err_size, template->where);
        nodes = realloc(template->nodes, capacity * sizeof(*nodes));
        if (nodes == NULL)
            return report_no_memory(p->err, p->err_size, template->where);
        template->nodes = nodes;
        template->node_capacity = capacity;
    }
    *index = template->node_count++;
    template->nodes[*index] = (struct node){.kind = kind, .line = line};
    return 0;
}

static int
add_text(struct parser *p, size_t from, size_t to, long line)
{
    struct template *template = p->template;
    size_t index, offset = template->pool.length;
    int r;

    if (from == to)
        return 0;
    if (buffer_append(&template->pool, p->text + from, to - from) < 0)
        return report_no_memory(p->err, p->err_size, template->where);
    if ((r = add_node(p, NODE_TEXT, line, &index)) < 0)
        return r;
    template->nodes[index].offset = offset;
    template->nodes[index].length = to - from;
    return 0;
}

/* Adds a tag's node, its name stored as written and then split at the dots. */
static int
add_name_node(struct parser *p, enum node_kind kind, const struct tag *tag, size_t *index)
{
    struct template *template = p->template;
    const char *name = p->text + tag->name_start;
    size_t length = tag->name_length, offset = template->pool.length, segments = 0;
    char *split;
    int r;

    if (buffer_append(&template->pool, name, length) < 0 ||
        buffer_append(&template->pool, "", 1) < 0 ||
        buffer_append(&template->pool, name, length) < 0 ||
        buffer_append(&template->pool, "", 1) < 0)
        return report_no_memory(p->err, p->err_size, template->where);
    if (!(length == 1 && name[0] == '.')) {
        split = template->pool.data + offset + length + 1;
        segments = 1;
        for (size_t i = 0; i < length; i++) {
            if (split[i] == '.') {
                split[i] = '\0';
                segments++;
            }
        }
    }
    if ((r = add_node(p, kind, tag->line, index)) < 0)
        return r;
    template->nodes[*index].offset = offset;
    template->nodes[*index].length = length;
    template->nodes[*index].segment_count = segments;
    return 0;
}

/* Reads the tag whose "{{" is at start, checking its syntax but not its nesting. */
static int
read_tag(struct parser *p, size_t start, long line, struct tag *tag)
{
    const char *text = p->text, *where = p->template->where;
    size_t i = start + 2, close, name_end, quoted;
    const char *ellipsis;

    *tag = (struct tag){.start = start, .line = line};
    while (i < p->length && is_blank(text[i]))
        i++;
    if (i < p->length && (text[i] == '#' || text[i] == '^' || text[i] == '/' || text[i] == '!'))
        tag->sigil = text[i++];
    if (tag->sigil == '!') {
        /* A comment may run over several lines; it ends at the first "}}". */
        close = find_close(text, i, p->length, true);
        if (close == p->length)
            return report(p->err, p->err_size, -EINVAL, where, line,
                          "the comment \"{{!\" is never closed by \"}}\"");
        tag->end = close + 2;
        return 0;
    }
    close = find_close(text, start + 2, p->length, false);
    if (close == p->length)
        return report(p->err, p->err_size, -EINVAL, where, line,
                      "\"{{\" is not closed by \"}}\" on the same line");
    tag->end = close + 2;
    while (i < close && is_blank(text[i]))
        i++;
    name_end = close;
    while (name_end > i && is_blank(text[name_end - 1]))
        name_end--;
    tag->name_start = i;
    tag->name_length = name_end - i;

    quoted = tag->end - start;
    ellipsis = "";
    if (quoted > TEMPLATE_QUOTE_BYTES) {
        quoted = TEMPLATE_QUOTE_BYTES;
        ellipsis = "...";
    }
    if (tag->name_length == 0)
        return report(p->err, p->err_size, -EINVAL, where, line, "%.*s%s has no name", (int)quoted,
                      text + start, ellipsis);
    if (!name_is_valid(text + tag->name_start, tag->name_length))
        return report(p->err, p->err_size, -EINVAL, where, line,
                      "%.*s%s is not a name: names are letters, digits, '_' and '-', "
                      "joined by dots, or a single dot",
                      (int)quoted, text + start, ellipsis);
    return 0;
}

/* Adds the node of a tag, or closes the innermost section. */
static int
add_tag(struct parser *p, const struct tag *tag)
{
    struct template *template = p->template;
    const char *name = p->text + tag->name_start;
    const struct node *opened;
    size_t index;
    int r;

    switch (tag->sigil) {
    case '!':
        return 0;
    case '#':
    case '^':
        if (p->depth == TEMPLATE_MAX_DEPTH)
            return report(p->err, p->err_size, -EINVAL, template->where, tag->line,
                          "{{%c%.*s}} opens a section inside %d others; sections go at most %d "
                          "deep",
                          tag->sigil, (int)tag->name_length, name, TEMPLATE_MAX_DEPTH,
                          TEMPLATE_MAX_DEPTH);
        r = add_name_node(p, tag->sigil == '#' ? NODE_SECTION : NODE_INVERTED, tag, &index);
        if (r < 0)
            return r;
        p->open[p->depth++] = index;
        return 0;
    case '/':
        if (p->depth == 0)
            return report(p->err, p->err_size, -EINVAL, template->where, tag->line,
                          "{{/%.*s}} closes nothing: no section is open here",
                          (int)tag->name_length, name);
        opened = &template->nodes[p->open[p->depth - 1]];
        if (opened->length != tag->name_length ||
            memcmp(node_name(template, opened), name, tag->name_length) != 0)
            return report(p->err, p->err_size, -EINVAL, template->where, tag->line,
                          "{{/%.*s}} closes {{%s%s}}, opened on line %ld", (int)tag->name_length,
                          name, sigil_text(opened->kind), node_name(template, opened),
                          opened->line);
        template->nodes[p->open[p->depth - 1]].end = template->node_count;
        p->depth--;
        return 0;
    default:
        return add_name_node(p, NODE_VALUE, tag, &index);
    }
}

static int
parse_text(struct parser *p, long first_line)
{
    const char *text = p->text;
    size_t position = 0, start, text_end, next, line_start, after;
    long line = first_line; /* the line of position */
    const struct node *opened;
    struct tag tag;
    int r;

    while (position < p->length) {
        start = find_open(text, position, p->length);
        if (start == p->length) {
            if ((r = add_text(p, position, p->length, line)) < 0)
                return r;
            break;
        }
        if ((r = read_tag(p, start, line + count_newlines(text, position, start), &tag)) < 0)
            return r;
        text_end = start;
        next = tag.end;
        if (tag.sigil != 0 &&
            is_standalone(text, p->length, tag.start, tag.end, &line_start, &after)) {
            text_end = line_start;
            next = after;
        }
        if ((r = add_text(p, position, text_end, line)) < 0 || (r = add_tag(p, &tag)) < 0)
            return r;
        line = tag.line + count_newlines(text, start, next);
        position = next;
    }
    if (p->depth > 0) {
        opened = &p->template->nodes[p->open[p->depth - 1]];
        return report(p->err, p->err_size, -EINVAL, p->template->where, opened->line,
                      "{{%s%s}} is opened here but never closed", sigil_text(opened->kind),
                      node_name(p->template, opened));
    }
    return 0;
}

int
template_parse(struct template **out, const char *text, size_t len, const char *where,
               int first_line, char *err, size_t err_size)
{
    struct template *template = NULL;
    struct parser parser;
    int r;

    *out = NULL;
    if (where == NULL)
        where = "template";
    if (len > TEMPLATE_MAX_BYTES)
        return report(err, err_size, -EINVAL, where, first_line,
                      "the template is %zu bytes long, more than the %d allowed", len,
                      TEMPLATE_MAX_BYTES);
    template = calloc(1, sizeof(*template));
    if (template == NULL || (template->where = strdup(where)) == NULL) {
        r = report_no_memory(err, err_size, where);
        goto fail;
    }
    /* The pool holds at most the text and each name a second time. */
    template->pool.limit = 2 * (size_t)TEMPLATE_MAX_BYTES + 2;
    parser = (struct parser){
        .template = template,
        .text = text,
        .length = len,
        .err = err,
        .err_size = err_size,
    };
    if ((r = parse_text(&parser, first_line)) < 0)
        goto fail;
    *out = template;
    return 0;
fail:
    template_free(template);
    return r;
}

void
template_free(struct template *template)
{
    if (template == NULL)
        return;
    free(template->pool.data);
    free(template->nodes);
    free(template->where);
    free(template);
}

/* Appends bytes to the output, saying why when it cannot. */
static int
emit(struct render *r, const char *bytes, size_t length, long line)
{
    int code = buffer_append(&r->out, bytes, length);

    if (code == -E2BIG)
        return report(r->err, r->err_size, code, r->template->where, line,
                      "the message would be longer than %d bytes", TEMPLATE_MAX_OUTPUT);
    if (code < 0)
        return report_no_memory(r->err, r->err_size, r->template->where);
    return 0;
}

/* Appends text, as HTML entities where the mode asks for them. */
static int
emit_escaped(struct render *r, const char *text, size_t length, long line)
{
    size_t run = 0;
    const char *entity;
    int code;

    if (r->escape != TEMPLATE_HTML)
        return emit(r, text, length, line);
    for (size_t i = 0; i < length; i++) {
        switch (text[i]) {
        case '&':
            entity = "&amp;";
            break;
        case '<':
            entity = "&lt;";
            break;
        case '>':
            entity = "&gt;";
            break;
        case '"':
            entity = "&quot;";
            break;
        case '\'':
            entity = "&#39;";
            break;
        default:
            continue;
        }
        if ((code = emit(r, text + run, i - run, line)) < 0 ||
            (code = emit(r, entity, strlen(entity), line)) < 0)
            return code;
        run = i + 1;
    }
    return emit(r, text + run, length - run, line);
}

/*
 * The value a tag names: the innermost context for ".", otherwise the first
 * context holding the first part of the name, then the rest of the name
 * inside that value only.  NULL when nothing matches.
 */
static const cJSON *
lookup(const struct render *r, const struct node *node)
{
    const char *segment = node_name(r->template, node) + node->length + 1;
    const cJSON *value = NULL;

    if (node->segment_count == 0)
        return r->depth > 0 ? r->contexts[r->depth - 1] : NULL;
    for (int i = r->depth - 1; i >= 0 && value == NULL; i--)
        if (cJSON_IsObject(r->contexts[i]))
            value = cJSON_GetObjectItemCaseSensitive(r->contexts[i], segment);
    for (size_t s = 1; s < node->segment_count && value != NULL; s++) {
        segment += strlen(segment) + 1;
        value = cJSON_IsObject(value) ? cJSON_GetObjectItemCaseSensitive(value, segment) : NULL;
    }
    return value;
}

static int
lookup_or_report(struct render *r, const struct node *node, const cJSON **value)
{
    *value = lookup(r, node);
    if (*value == NULL)
        return report(r->err, r->err_size, -ENOENT, r->template->where, node->line,
                      "{{%s%s}} names nothing a message has", sigil_text(node->kind),
                      node_name(r->template, node));
    return 0;
}

static int
emit_value(struct render *r, const struct node *node, const cJSON *value)
{
    char number[64];
    double d;

    if (cJSON_IsString(value))
        return value->valuestring == NULL
                   ? 0
                   : emit_escaped(r, value->valuestring, strlen(value->valuestring), node->line);
    if (cJSON_IsNumber(value)) {
        d = value->valuedouble;
        if (d == 0) /* also -0, which is not worth a sign */
            snprintf(number, sizeof(number), "0");
        else if (d >= -TEMPLATE_EXACT_INTEGER && d <= TEMPLATE_EXACT_INTEGER &&
                 (double)(long long)d == d)
            snprintf(number, sizeof(number), "%lld", (long long)d);
        else
            snprintf(number, sizeof(number), "%.15g", d);
        return emit(r, number, strlen(number), node->line);
    }
    if (cJSON_IsTrue(value))
        return emit(r, "true", 4, node->line);
    if (cJSON_IsFalse(value))
        return emit(r, "false", 5, node->line);
    if (cJSON_IsNull(value))
        return 0;
    if (cJSON_IsArray(value))
        return report(r->err, r->err_size, -EINVAL, r->template->where, node->line,
                      "{{%s}} is a list, which cannot be written out as it is; "
                      "go through it with {{#%s}}...{{/%s}}",
                      node_name(r->template, node), node_name(r->template, node),
                      node_name(r->template, node));
    if (cJSON_IsObject(value))
        return report(r->err, r->err_size, -EINVAL, r->template->where, node->line,
                      "{{%s}} is a group of fields, which cannot be written out as it is; "
                      "name one of its fields, as in {{%s.field}}",
                      node_name(r->template, node), node_name(r->template, node));
    return report(r->err, r->err_size, -EINVAL, r->template->where, node->line,
                  "{{%s}} has a value that cannot be written out", node_name(r->template, node));
}

/* Whether a section over value is shown (as opposed to an inverted one). */
static bool
is_shown(const cJSON *value)
{
    if (cJSON_IsFalse(value) || cJSON_IsNull(value))
        return false;
    if (cJSON_IsString(value))
        return value->valuestring != NULL && value->valuestring[0] != '\0';
    if (cJSON_IsNumber(value))
        return value->valuedouble != 0;
    if (cJSON_IsArray(value))
        return value->child != NULL;
    return true;
}

static int render_nodes(struct render *r, size_t from, size_t to);

/* Renders a section's body once with context as the innermost context. */
static int
render_body(struct render *r, size_t index, const cJSON *context)
{
    const struct node *node = &r->template->nodes[index];
    int code;

    /* The parser bounds nesting, so there is always room; this only guards it. */
    if (r->depth >= (int)(sizeof(r->contexts) / sizeof(r->contexts[0])))
        return report(r->err, r->err_size, -EINVAL, r->template->where, node->line,
                      "sections go deeper than %d", TEMPLATE_MAX_DEPTH);
    r->contexts[r->depth++] = context;
    code = render_nodes(r, index + 1, node->end);
    r->depth--;
    return code;
}

static int
render_nodes(struct render *r, size_t from, size_t to)
{
    const struct template *template = r->template;
    const struct node *node;
    const cJSON *value, *element;
    size_t i = from;
    int code;

    while (i < to) {
        node = &template->nodes[i];
        switch (node->kind) {
        case NODE_TEXT:
            code = emit(r, template->pool.data + node->offset, node->length, node->line);
            i++;
            break;
        case NODE_VALUE:
            if ((code = lookup_or_report(r, node, &value)) == 0)
                code = emit_value(r, node, value);
            i++;
            break;
        case NODE_SECTION:
            if ((code = lookup_or_report(r, node, &value)) < 0)
                break;
            if (r->check) {
                /* Once, with the first entry of a list (or the value) as context. */
                element = cJSON_IsArray(value) && value->child != NULL ? value->child : value;
                code = render_body(r, i, element);
            } else if (cJSON_IsArray(value)) {
                cJSON_ArrayForEach(element, value)
                {
                    if ((code = render_body(r, i, element)) < 0)
                        break;
                }
            } else if (is_shown(value)) {
                code = render_body(r, i, value);
            }
            i = node->end;
            break;
        case NODE_INVERTED:
            if ((code = lookup_or_report(r, node, &value)) == 0 && (r->check || !is_shown(value)))
                code = render_nodes(r, i + 1, node->end);
            i = node->end;
            break;
        default:
            code = -EINVAL;
            break;
        }
        if (code < 0)
            return code;
    }
    return 0;
}

int
template_check(const struct template *template, const cJSON *sample, char *err, size_t err_size)
{
    struct render r = {
        .template = template,
        .escape = TEMPLATE_PLAIN,
        .out = {.limit = TEMPLATE_MAX_OUTPUT},
        .check = true,
        .err = err,
        .err_size = err_size,
    };
    int code;

    if (sample != NULL)
        r.contexts[r.depth++] = sample;
    code = render_nodes(&r, 0, template->node_count);
    free(r.out.data);
    return code;
}

int
template_render(const struct template *template, const cJSON *data, enum template_escape escape,
                char **out, char *err, size_t err_size)
{
    struct render r = {
        .template = template,
        .escape = escape,
        .out = {.limit = TEMPLATE_MAX_OUTPUT},
        .err = err,
        .err_size = err_size,
    };
    int code;

    *out = NULL;
    if (data != NULL)
        r.contexts[r.depth++] = data;
    if ((code = render_nodes(&r, 0, template->node_count)) < 0)
        goto fail;
    /* An empty result is still a string of its own. */
    if (r.out.data == NULL && (code = emit(&r, "", 0, 0)) < 0)
        goto fail;
    *out = r.out.data;
    return 0;
fail:
    free(r.out.data);
    return code;
}

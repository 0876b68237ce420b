#include "notify_templates.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "default_templates.h"

static const char *const part_names[NOTIFY_PART_COUNT] = {"subject", "text", "html"};

/* Finds "[message.part]" in a header line's name; false when it names no part. */
static bool
find_part(const char *name, size_t len, enum notify_message *message, enum notify_part *part)
{
    for (int m = 0; m < NOTIFY_MESSAGE_COUNT; m++) {
        for (int p = 0; p < NOTIFY_PART_COUNT; p++) {
            char full[64];
            snprintf(full, sizeof(full), "%s.%s", notify_message_name((enum notify_message)m),
                     part_names[p]);
            if (strlen(full) == len && strncmp(full, name, len) == 0) {
                *message = (enum notify_message)m;
                *part = (enum notify_part)p;
                return true;
            }
        }
    }
    return false;
}

/* True when the line (without its newline) is a header "[...]": its name is stored. */
static bool
is_header(const char *line, size_t len, const char **name, size_t *name_len)
{
    while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t' || line[len - 1] == '\r'))
        len--;
    if (len < 2 || line[0] != '[' || line[len - 1] != ']')
        return false;
    for (size_t i = 1; i + 1 < len; i++)
        if (line[i] == ' ' || line[i] == '[' || line[i] == ']' || line[i] == '{')
            return false;
    *name = line + 1;
    *name_len = len - 2;
    return true;
}

/* Parses one part's body (its blank lines at the end dropped) into the slot. */
static int
parse_part(struct notify_templates *out, enum notify_message message, enum notify_part part,
           const char *body, size_t len, const char *where, int first_line, int header_line,
           char *err, size_t err_size)
{
    struct template *parsed = NULL;
    int r;

    while (len > 0 && (body[len - 1] == '\n' || body[len - 1] == '\r' || body[len - 1] == ' ' ||
                       body[len - 1] == '\t'))
        len--;
    if (part == NOTIFY_SUBJECT) {
        if (len == 0) {
            snprintf(err, err_size, "%s:%d: [%s.subject] is empty", where, header_line,
                     notify_message_name(message));
            return -EINVAL;
        }
        if (memchr(body, '\n', len) != NULL) {
            snprintf(err, err_size, "%s:%d: [%s.subject] must be one line", where, first_line + 1,
                     notify_message_name(message));
            return -EINVAL;
        }
    }
    /* A text body ends with one newline; a subject with none. */
    char *copy = malloc(len + 2);
    if (copy == NULL)
        return -ENOMEM;
    memcpy(copy, body, len);
    if (part != NOTIFY_SUBJECT)
        copy[len++] = '\n';
    copy[len] = '\0';
    r = template_parse(&parsed, copy, len, where, first_line, err, err_size);
    free(copy);
    if (r < 0)
        return r;
    template_free(out->parts[message][part]);
    out->parts[message][part] = parsed;
    return 0;
}

/* Reads the parts in text (len bytes) over those already in out. */
static int
parse_file(struct notify_templates *out, const char *text, size_t len, const char *where, char *err,
           size_t err_size)
{
    bool seen[NOTIFY_MESSAGE_COUNT][NOTIFY_PART_COUNT] = {{false}};
    const char *body = NULL;
    int body_line = 0, header_line = 0;
    enum notify_message message = NOTIFY_DIGEST;
    enum notify_part part = NOTIFY_SUBJECT;
    const char *p = text, *end = text + len;
    int line = 1;
    int r;

    if (memchr(text, '\0', len) != NULL) {
        snprintf(err, err_size, "%s: holds a NUL byte: not a text file", where);
        return -EINVAL;
    }
    for (; p < end; line++) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        size_t line_len = eol != NULL ? (size_t)(eol - p) : (size_t)(end - p);
        const char *name;
        size_t name_len;

        if (is_header(p, line_len, &name, &name_len)) {
            enum notify_message m;
            enum notify_part q;
            if (body != NULL) {
                r = parse_part(out, message, part, body, (size_t)(p - body), where, body_line,
                               header_line, err, err_size);
                if (r < 0)
                    return r;
            }
            if (!find_part(name, name_len, &m, &q)) {
                snprintf(err, err_size,
                         "%s:%d: [%.*s] is not a part (write [MESSAGE.PART]: MESSAGE is digest, "
                         "immediate, alert or fallback; PART is subject, text or html)",
                         where, line, (int)(name_len > 64 ? 64 : name_len), name);
                return -EINVAL;
            }
            if (seen[m][q]) {
                snprintf(err, err_size, "%s:%d: [%.*s] appears twice", where, line, (int)name_len,
                         name);
                return -EINVAL;
            }
            seen[m][q] = true;
            message = m;
            part = q;
            header_line = line;
            body = eol != NULL ? eol + 1 : end;
            body_line = line + 1;
        } else if (body == NULL) {
            size_t i = 0;
            while (i < line_len && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r'))
                i++;
            if (i < line_len && p[i] != '#') {
                snprintf(err, err_size,
                         "%s:%d: text before the first part (start each part with a line such "
                         "as [digest.subject]; comments start with #)",
                         where, line);
                return -EINVAL;
            }
        }
        p = eol != NULL ? eol + 1 : end;
    }
    if (body != NULL)
        return parse_part(out, message, part, body, (size_t)(end - body), where, body_line,
                          header_line, err, err_size);
    return 0;
}

/* Renders every part with sample data, so that a misspelt name stops the start. */
static int
check_names(const struct notify_templates *templates, char *err, size_t err_size)
{
    for (int m = 0; m < NOTIFY_MESSAGE_COUNT; m++) {
        cJSON *sample = notify_compose_sample((enum notify_message)m);
        int r = 0;

        if (sample == NULL)
            return -ENOMEM;
        /* Every section entered, so a name in a part the sample would not show is caught too. */
        for (int p = 0; p < NOTIFY_PART_COUNT && r == 0; p++)
            r = template_check(templates->parts[m][p], sample, err, err_size);
        cJSON_Delete(sample);
        /* A name the sample lacks is a fault in the file, not a file that is missing. */
        if (r < 0)
            return r == -ENOMEM ? r : -EINVAL;
    }
    return 0;
}

static int
read_file(const char *path, char **text, size_t *len, char *err, size_t err_size)
{
    FILE *f = fopen(path, "re");
    char *buf = NULL;
    size_t used = 0, capacity = 0;
    int r = 0;

    *text = NULL;
    if (f == NULL) {
        r = -errno;
        snprintf(err, err_size, "%s: cannot read the templates file: %s", path, strerror(-r));
        return r;
    }
    for (;;) {
        if (used + 4096 + 1 > capacity) {
            capacity = capacity ? capacity * 2 : 8192;
            if (capacity > 4 * (size_t)TEMPLATE_MAX_BYTES) {
                snprintf(err, err_size, "%s: the templates file is too large", path);
                r = -EFBIG;
                break;
            }
            char *grown = realloc(buf, capacity);
            if (grown == NULL) {
                r = -ENOMEM;
                break;
            }
            buf = grown;
        }
        size_t n = fread(buf + used, 1, capacity - used - 1, f);
        used += n;
        if (n == 0) {
            if (ferror(f)) {
                r = -EIO;
                snprintf(err, err_size, "%s: cannot read the templates file", path);
            }
            break;
        }
    }
    fclose(f);
    if (r < 0) {
        free(buf);
        return r;
    }
    if (buf == NULL && (buf = malloc(1)) == NULL)
        return -ENOMEM;
    buf[used] = '\0';
    *text = buf;
    *len = used;
    return 0;
}

int
notify_templates_load(struct notify_templates *out, const char *path, char *err, size_t err_size)
{
    int r;

    memset(out, 0, sizeof(*out));
    r = parse_file(out, (const char *)default_templates, sizeof(default_templates) - 1,
                   "built-in templates", err, err_size);
    if (r < 0)
        return r;
    if (path != NULL) {
        char *text;
        size_t len = 0;
        r = read_file(path, &text, &len, err, err_size);
        if (r < 0)
            return r;
        r = parse_file(out, text, len, path, err, err_size);
        free(text);
        if (r < 0)
            return r;
    }
    for (int m = 0; m < NOTIFY_MESSAGE_COUNT; m++) {
        for (int p = 0; p < NOTIFY_PART_COUNT; p++) {
            if (out->parts[m][p] == NULL) {
                snprintf(err, err_size, "built-in templates: [%s.%s] is missing",
                         notify_message_name((enum notify_message)m), part_names[p]);
                return -EINVAL;
            }
        }
    }
    return check_names(out, err, err_size);
}

void
notify_templates_free(struct notify_templates *templates)
{
    for (int m = 0; m < NOTIFY_MESSAGE_COUNT; m++)
        for (int p = 0; p < NOTIFY_PART_COUNT; p++) {
            template_free(templates->parts[m][p]);
            templates->parts[m][p] = NULL;
        }
}

int
notify_templates_render(const struct notify_templates *templates, enum notify_message message,
                        const cJSON *data, char **subject, char **text, char **html, char *err,
                        size_t err_size)
{
    struct template *const *parts = templates->parts[message];
    int r;

    *subject = *text = *html = NULL;
    r = template_render(parts[NOTIFY_SUBJECT], data, TEMPLATE_PLAIN, subject, err, err_size);
    if (r == 0)
        r = template_render(parts[NOTIFY_TEXT], data, TEMPLATE_PLAIN, text, err, err_size);
    if (r == 0)
        r = template_render(parts[NOTIFY_HTML], data, TEMPLATE_HTML, html, err, err_size);
    if (r == 0) {
        /* A value holding a newline must not split the subject into a second header. */
        for (char *c = *subject; *c != '\0'; c++)
            if (*c == '\r' || *c == '\n' || *c == '\t')
                *c = ' ';
    }
    if (r < 0) {
        free(*subject);
        free(*text);
        free(*html);
        *subject = *text = *html = NULL;
    }
    return r;
}

/*
 * notify_templates: the templates of carehub-notify's messages, from its
 * templates file and the built-in defaults (conf/carehub-notify.templates,
 * compiled in).
 *
 * The file holds parts headed "[MESSAGE.PART]" on lines of their own:
 * MESSAGE is digest, immediate, alert or fallback (enum notify_message),
 * PART is subject, text or html.  A part runs to the next header; blank
 * lines at its end are dropped; a subject is one line.  Lines starting with
 * '#' before the first header are comments.  Each part the file leaves out
 * keeps its built-in text.
 *
 * Loading checks everything before anything is sent: the syntax of every
 * part, and every name it uses, by rendering each part with sample data
 * holding every name a message can show (notify_compose_sample()).  A fault
 * is reported as "FILE:LINE: reason".  Nothing here logs.
 */
#ifndef CAREHUB_NOTIFY_TEMPLATES_H
#define CAREHUB_NOTIFY_TEMPLATES_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "notify_compose.h"
#include "template.h"

enum notify_part { NOTIFY_SUBJECT = 0, NOTIFY_TEXT, NOTIFY_HTML, NOTIFY_PART_COUNT };

struct notify_templates {
    struct template *parts[NOTIFY_MESSAGE_COUNT][NOTIFY_PART_COUNT];
};

/*
 * Loads the built-in templates, then the file at path over them (path NULL:
 * the built-in ones alone), into *out; release with notify_templates_free()
 * whatever the result.  Returns 0; -EINVAL with "FILE:LINE: reason" in err
 * for a fault in the file; -errno when it cannot be read; -ENOMEM.
 */
int notify_templates_load(struct notify_templates *out, const char *path, char *err,
                          size_t err_size);

/* Frees every template; a zeroed struct is fine. */
void notify_templates_free(struct notify_templates *templates);

/*
 * Renders message's subject, text and html with data into new strings (the
 * caller's, to free()).  The subject is one line, without its newline.
 * Returns 0, or a negative errno code with a sentence in err (and the three
 * NULL).
 */
int notify_templates_render(const struct notify_templates *templates, enum notify_message message,
                            const cJSON *data, char **subject, char **text, char **html, char *err,
                            size_t err_size);

#endif

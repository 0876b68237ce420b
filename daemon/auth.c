#include "auth.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

static const char *const role_names[] = {"none", "publisher", "reader", "admin"};

const char *
auth_role_name(enum auth_role role)
{
    return role >= AUTH_NONE && role <= AUTH_ADMIN ? role_names[role] : "none";
}

static void add_error(struct auth_errors *errors, const char *path, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
add_error(struct auth_errors *errors, const char *path, int line, const char *fmt, ...)
{
    va_list args;

    if (errors->count < AUTH_MAX_ERRORS) {
        char *text = errors->text[errors->count];
        size_t size = sizeof(errors->text[0]);
        int used = line > 0 ? snprintf(text, size, "%s:%d: ", path, line)
                            : snprintf(text, size, "%s: ", path);
        if (used > 0 && (size_t)used < size) {
            va_start(args, fmt);
            vsnprintf(text + used, size - (size_t)used, fmt, args);
            va_end(args);
        }
    }
    errors->count++;
}

/* True for 40 characters that decode as Z85 to a 32-byte key. */
static bool
key_valid(const char *text, size_t length)
{
    char copy[AUTH_KEY_Z85 + 1];
    uint8_t binary[32];

    if (length != AUTH_KEY_Z85)
        return false;
    memcpy(copy, text, length);
    copy[length] = '\0';
    for (size_t i = 0; i < length; i++)
        if (strchr("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/"
                   "*?&<>()[]{}@%$#",
                   copy[i]) == NULL)
            return false;
    return zmq_z85_decode(binary, copy) != NULL;
}

static bool
name_valid(const char *text, size_t length)
{
    if (length == 0 || length > AUTH_NAME_MAX)
        return false;
    for (size_t i = 0; i < length; i++) {
        char c = text[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

/* The next space-separated field of *p (moved past it) into *start / *length; false at the end. */
static bool
next_field(const char **p, const char **start, size_t *length)
{
    while (**p == ' ' || **p == '\t')
        (*p)++;
    if (**p == '\0' || **p == '#')
        return false;
    *start = *p;
    while (**p != '\0' && **p != ' ' && **p != '\t')
        (*p)++;
    *length = (size_t)(*p - *start);
    return true;
}

static int
compare_keys(const void *a, const void *b)
{
    return strcmp(((const struct auth_key *)a)->key, ((const struct auth_key *)b)->key);
}

/* Parses one line into *key; false (with an error added) when it is wrong. */
static bool
parse_line(const char *text, const char *path, int line, struct auth_key *key,
           struct auth_errors *errors)
{
    const char *p = text, *field = NULL;
    size_t length = 0;

    memset(key, 0, sizeof(*key));
    next_field(&p, &field, &length); /* the caller saw a field */
    if (!key_valid(field, length)) {
        add_error(errors, path, line,
                  "\"%.*s\" is not a public key (40 characters of Z85, as carehubctl keygen "
                  "writes it)",
                  (int)(length > 60 ? 60 : length), field);
        return false;
    }
    memcpy(key->key, field, length);
    if (!next_field(&p, &field, &length)) {
        add_error(errors, path, line,
                  "a role is missing after the key (publisher, reader or admin)");
        return false;
    }
    for (int role = AUTH_PUBLISHER; role <= AUTH_ADMIN; role++)
        if (strlen(role_names[role]) == length && strncmp(field, role_names[role], length) == 0)
            key->role = (enum auth_role)role;
    if (key->role == AUTH_NONE) {
        add_error(errors, path, line, "\"%.*s\" is not a role (publisher, reader or admin)",
                  (int)(length > 40 ? 40 : length), field);
        return false;
    }
    if (!next_field(&p, &field, &length)) {
        add_error(errors, path, line,
                  "a name is missing after the role (it names the client in "
                  "the log)");
        return false;
    }
    if (!name_valid(field, length)) {
        add_error(errors, path, line,
                  "\"%.*s\" is not a name (1 to %d letters, digits, '.', '_' or '-')",
                  (int)(length > 80 ? 80 : length), field, AUTH_NAME_MAX);
        return false;
    }
    memcpy(key->name, field, length);
    if (next_field(&p, &field, &length)) {
        if (length < 6 || strncmp(field, "team=", 5) != 0 || length - 5 > AUTH_TEAM_MAX) {
            add_error(errors, path, line,
                      "\"%.*s\" is not understood (only team=TEAM_ID may follow "
                      "the name)",
                      (int)(length > 80 ? 80 : length), field);
            return false;
        }
        if (key->role != AUTH_READER) {
            add_error(errors, path, line, "team= limits a reader; %s %s is not limited to a team",
                      key->role == AUTH_ADMIN ? "an" : "a", role_names[key->role]);
            return false;
        }
        memcpy(key->team_id, field + 5, length - 5);
        if (next_field(&p, &field, &length)) {
            add_error(errors, path, line,
                      "\"%.*s\": nothing may follow team=", (int)(length > 80 ? 80 : length),
                      field);
            return false;
        }
    }
    return true;
}

int
auth_keys_load(const char *path, struct auth_keys *out, struct auth_errors *errors)
{
    FILE *f;
    char text[1024];
    int line = 0, capacity = 0;
    int r = 0;

    memset(out, 0, sizeof(*out));
    errors->count = 0;
    f = fopen(path, "re");
    if (f == NULL) {
        r = -errno;
        add_error(errors, path, 0, "cannot read the authorised keys: %s", strerror(-r));
        return r;
    }
    while (fgets(text, sizeof(text), f) != NULL) {
        const char *p = text, *field;
        size_t length;
        struct auth_key key;

        line++;
        if (strchr(text, '\n') == NULL && !feof(f)) {
            int c;
            add_error(errors, path, line, "the line is longer than %d characters",
                      (int)sizeof(text) - 2);
            while ((c = fgetc(f)) != EOF && c != '\n')
                ;
            continue;
        }
        text[strcspn(text, "\r\n")] = '\0';
        if (!next_field(&p, &field, &length))
            continue; /* blank or a comment */
        if (!parse_line(text, path, line, &key, errors))
            continue;
        if (out->count == AUTH_MAX_KEYS) {
            add_error(errors, path, line, "more than %d keys", AUTH_MAX_KEYS);
            break;
        }
        if (out->count == capacity) {
            int grown_capacity = capacity ? capacity * 2 : 16;
            struct auth_key *grown = realloc(out->keys, (size_t)grown_capacity * sizeof(*grown));
            if (grown == NULL) {
                r = -ENOMEM;
                break;
            }
            out->keys = grown;
            capacity = grown_capacity;
        }
        for (int i = 0; i < out->count; i++) {
            if (strcmp(out->keys[i].key, key.key) == 0) {
                add_error(errors, path, line, "this key is listed already, as %s",
                          out->keys[i].name);
                goto next;
            }
        }
        out->keys[out->count++] = key;
    next:;
    }
    if (ferror(f) && r == 0) {
        add_error(errors, path, 0, "cannot read the authorised keys");
        r = -EIO;
    }
    fclose(f);
    if (r == 0 && errors->count > 0)
        r = -EINVAL;
    if (r == 0 && out->count > 1)
        qsort(out->keys, (size_t)out->count, sizeof(out->keys[0]), compare_keys);
    return r;
}

void
auth_keys_free(struct auth_keys *keys)
{
    if (keys == NULL)
        return;
    free(keys->keys);
    memset(keys, 0, sizeof(*keys));
}

const struct auth_key *
auth_find(const struct auth_keys *keys, const char *z85)
{
    struct auth_key probe;

    if (keys == NULL || keys->count == 0 || z85 == NULL || strlen(z85) != AUTH_KEY_Z85)
        return NULL;
    memcpy(probe.key, z85, AUTH_KEY_Z85 + 1);
    return bsearch(&probe, keys->keys, (size_t)keys->count, sizeof(keys->keys[0]), compare_keys);
}

bool
auth_allows(enum auth_role role, const char *op, bool changes_clock)
{
    static const char *const reader_ops[] = {"status", "staff",   "team",   "reports",
                                             "due",    "overdue", "person", "notifications",
                                             "kpi",    "clock"};

    if (role == AUTH_ADMIN)
        return true;
    if (role == AUTH_PUBLISHER)
        return strcmp(op, "publish") == 0 || strcmp(op, "status") == 0;
    if (role == AUTH_READER) {
        if (strcmp(op, "clock") == 0)
            return !changes_clock;
        for (size_t i = 0; i < sizeof(reader_ops) / sizeof(reader_ops[0]); i++)
            if (strcmp(op, reader_ops[i]) == 0)
                return true;
    }
    return false;
}

static bool
frame_is(const void *frame, size_t size, const char *text)
{
    return size == strlen(text) && memcmp(frame, text, size) == 0;
}

enum auth_role
auth_zap_decide(const struct auth_keys *keys, const char *expected_domain, bool curve_required,
                const void *const *frames, const size_t *sizes, int count, char status[4],
                char *status_text, size_t text_size, char user_id[AUTH_KEY_Z85 + 1],
                const struct auth_key **key)
{
    char z85[AUTH_KEY_Z85 + 1];
    const struct auth_key *found;

    *key = NULL;
    user_id[0] = '\0';
    if (count < 6 || !frame_is(frames[0], sizes[0], "1.0")) {
        memcpy(status, "500", 4);
        snprintf(status_text, text_size, "a malformed ZAP request");
        return AUTH_NONE;
    }
    memcpy(status, "400", 4);
    if (!frame_is(frames[2], sizes[2], expected_domain)) {
        snprintf(status_text, text_size, "the domain is not %s", expected_domain);
        return AUTH_NONE;
    }
    if (!curve_required && frame_is(frames[5], sizes[5], "NULL")) {
        memcpy(status, "200", 4);
        snprintf(status_text, text_size, "OK");
        return AUTH_ADMIN;
    }
    if (!frame_is(frames[5], sizes[5], "CURVE")) {
        snprintf(status_text, text_size, "the %.*s mechanism is not accepted: use CURVE",
                 (int)(sizes[5] > 16 ? 16 : sizes[5]), (const char *)frames[5]);
        return AUTH_NONE;
    }
    if (count != 7 || sizes[6] != 32 || zmq_z85_encode(z85, frames[6], 32) == NULL) {
        memcpy(status, "500", 4);
        snprintf(status_text, text_size, "a CURVE request without a 32-byte key");
        return AUTH_NONE;
    }
    found = auth_find(keys, z85);
    if (found == NULL) {
        snprintf(status_text, text_size, "the key %s is not authorised", z85);
        return AUTH_NONE;
    }
    memcpy(status, "200", 4);
    snprintf(status_text, text_size, "OK");
    memcpy(user_id, z85, AUTH_KEY_Z85 + 1);
    *key = found;
    return found->role;
}

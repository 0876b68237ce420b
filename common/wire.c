#include "wire.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

bool
wire_utf8_valid(const char *buf, size_t len)
{
    const unsigned char *s = (const unsigned char *)buf;
    size_t i = 0;

    while (i < len) {
        unsigned char c = s[i];
        uint32_t cp;
        size_t extra;

        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            cp = c & 0x1F;
            extra = 1;
        } else if ((c & 0xF0) == 0xE0) {
            cp = c & 0x0F;
            extra = 2;
        } else if ((c & 0xF8) == 0xF0) {
            cp = c & 0x07;
            extra = 3;
        } else {
            return false;
        }
        if (len - i <= extra)
            return false;
        for (size_t k = 1; k <= extra; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        /* Reject overlong forms, surrogates and code points past Unicode's end. */
        if ((extra == 1 && cp < 0x80) || (extra == 2 && cp < 0x800) ||
            (extra == 3 && cp < 0x10000) || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += extra + 1;
    }
    return true;
}

bool
wire_has_nul_escape(const char *text, size_t len)
{
    for (size_t i = 0; i + 6 <= len; i++) {
        if (text[i] != '\\')
            continue;
        /* An escaped backslash is a pair: skip it whole, so "\\u0000" stays text. */
        if (text[i + 1] == '\\') {
            i++;
            continue;
        }
        if (text[i + 1] == 'u' && text[i + 2] == '0' && text[i + 3] == '0' && text[i + 4] == '0' &&
            text[i + 5] == '0')
            return true;
    }
    return false;
}

static const char *
skip_space(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

/* The end of the string whose opening quote is at p, or NULL. */
static const char *
skip_string(const char *p, const char *end)
{
    for (p++; p < end; p++) {
        if (*p == '\\')
            p++;
        else if (*p == '"')
            return p + 1;
    }
    return NULL;
}

/* The end of the JSON value that starts at p, or NULL when the text ends first. */
static const char *
skip_value(const char *p, const char *end)
{
    int depth = 0;

    do {
        if (p >= end)
            return NULL;
        if (*p == '"') {
            p = skip_string(p, end);
            if (p == NULL)
                return NULL;
            continue;
        }
        if (*p == '{' || *p == '[')
            depth++;
        else if (*p == '}' || *p == ']')
            depth--;
        else if (depth == 0) {
            /* A number, true, false or null: runs to the next delimiter. */
            while (p < end && *p != ',' && *p != '}' && *p != ']' && *p != ' ' && *p != '\t' &&
                   *p != '\n' && *p != '\r')
                p++;
            return p;
        }
        p++;
    } while (depth > 0);
    return p;
}

int
wire_find_member(const char *text, size_t len, const char *name, struct wire_span *value)
{
    const char *end = text + len;
    const char *p = skip_space(text, end);
    size_t name_size = strlen(name);

    if (p >= end || *p != '{')
        return -EINVAL;
    p = skip_space(p + 1, end);
    while (p < end && *p == '"') {
        const char *key = p + 1;
        const char *after = skip_string(p, end);
        if (after == NULL)
            return -EINVAL;
        bool match = (size_t)(after - 1 - key) == name_size && memcmp(key, name, name_size) == 0;
        p = skip_space(after, end);
        if (p >= end || *p != ':')
            return -EINVAL;
        p = skip_space(p + 1, end);
        const char *value_end = skip_value(p, end);
        if (value_end == NULL)
            return -EINVAL;
        if (match) {
            value->offset = (size_t)(p - text);
            value->size = (size_t)(value_end - p);
            return 0;
        }
        p = skip_space(value_end, end);
        if (p < end && *p == ',')
            p = skip_space(p + 1, end);
    }
    return -ENOENT;
}

int
wire_array_elements(const char *text, struct wire_span array, struct wire_span *elements, int max)
{
    const char *p = text + array.offset;
    const char *end = p + array.size;
    int count = 0;

    if (array.size < 2 || *p != '[')
        return -EINVAL;
    p = skip_space(p + 1, end);
    while (p < end && *p != ']') {
        const char *value_end = skip_value(p, end);
        if (value_end == NULL)
            return -EINVAL;
        if (count < max) {
            elements[count].offset = (size_t)(p - text);
            elements[count].size = (size_t)(value_end - p);
        }
        count++;
        p = skip_space(value_end, end);
        if (p < end && *p == ',')
            p = skip_space(p + 1, end);
    }
    return count;
}

cJSON *
wire_error_object(const char *code, const char *message)
{
    cJSON *error = cJSON_CreateObject();

    if (error == NULL)
        return NULL;
    if (cJSON_AddStringToObject(error, "code", code) == NULL ||
        cJSON_AddStringToObject(error, "message", message) == NULL) {
        cJSON_Delete(error);
        return NULL;
    }
    return error;
}

cJSON *
wire_reply_ok(const cJSON *id)
{
    cJSON *reply = cJSON_CreateObject();
    cJSON *id_copy = id ? cJSON_Duplicate(id, true) : cJSON_CreateNull();

    if (reply == NULL || id_copy == NULL)
        goto fail;
    cJSON_AddItemToObject(reply, "id", id_copy);
    id_copy = NULL;
    if (cJSON_AddTrueToObject(reply, "ok") == NULL)
        goto fail;
    return reply;
fail:
    cJSON_Delete(id_copy);
    cJSON_Delete(reply);
    return NULL;
}

cJSON *
wire_reply_error(const cJSON *id, const char *code, const char *message)
{
    cJSON *reply = wire_reply_ok(id);
    cJSON *error = wire_error_object(code, message);

    if (reply == NULL || error == NULL)
        goto fail;
    cJSON_ReplaceItemInObject(reply, "ok", cJSON_CreateFalse());
    cJSON_AddItemToObject(reply, "error", error);
    return reply;
fail:
    cJSON_Delete(error);
    cJSON_Delete(reply);
    return NULL;
}

cJSON *
wire_request_new(const char *op, double id)
{
    cJSON *request = cJSON_CreateObject();

    if (request == NULL)
        return NULL;
    if (cJSON_AddStringToObject(request, "op", op) == NULL ||
        cJSON_AddNumberToObject(request, "id", id) == NULL) {
        cJSON_Delete(request);
        return NULL;
    }
    return request;
}

const char *
wire_get_string(const cJSON *object, const char *name)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, name);

    return cJSON_IsString(item) ? item->valuestring : NULL;
}

int
wire_reply_status(const cJSON *reply, const char **code, const char **message)
{
    const cJSON *ok = cJSON_GetObjectItemCaseSensitive(reply, "ok");
    const cJSON *error;

    if (code)
        *code = NULL;
    if (message)
        *message = NULL;
    if (!cJSON_IsObject(reply) || !cJSON_IsBool(ok))
        return -EPROTO;
    if (cJSON_IsTrue(ok))
        return 0;
    error = cJSON_GetObjectItemCaseSensitive(reply, "error");
    if (code)
        *code = wire_get_string(error, "code");
    if (message)
        *message = wire_get_string(error, "message");
    return -EREMOTEIO;
}

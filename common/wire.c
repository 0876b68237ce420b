#include "wire.h"

#include <errno.h>
#include <stdint.h>

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

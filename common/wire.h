/*
 * wire: helpers for the carehub API envelope, shared by the daemon and the
 * clients.  See docs/protocol.md for the contract these implement.
 *
 *   request  {"op": "<name>", "id": <anything>, ...}
 *   reply    {"id": <echoed>, "ok": true, ...}
 *            {"id": <echoed>, "ok": false, "error": {"code": "...", "message": "..."}}
 *
 * Functions returning cJSON * hand ownership to the caller (cJSON_Delete);
 * they return NULL only when memory runs out.
 */
#ifndef CAREHUB_WIRE_H
#define CAREHUB_WIRE_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

/* Stable error codes of whole requests (docs/protocol.md, "Errors"). */
#define WIRE_E_BAD_JSON "bad_json"
#define WIRE_E_BAD_UTF8 "bad_utf8"
#define WIRE_E_NOT_OBJECT "not_object"
#define WIRE_E_TOO_LARGE "message_too_large"
#define WIRE_E_BAD_FRAMES "bad_frames"
#define WIRE_E_BAD_REQUEST "bad_request"
#define WIRE_E_UNKNOWN_OP "unknown_op"
#define WIRE_E_EMPTY_BATCH "empty_batch"
#define WIRE_E_BATCH_TOO_LARGE "batch_too_large"
#define WIRE_E_NOT_FOUND "not_found"
#define WIRE_E_UNAVAILABLE "unavailable"
#define WIRE_E_INTERNAL "internal"
#define WIRE_E_UNAUTHORISED "unauthorised" /* the client's key is not (or no longer) listed */
#define WIRE_E_FORBIDDEN "forbidden"       /* the key's role (or team) does not allow the request */

/*
 * True when the len bytes at buf are well-formed UTF-8: no overlong forms, no
 * UTF-16 surrogates, nothing above U+10FFFF, no truncated sequence.
 */
bool wire_utf8_valid(const char *buf, size_t len);

/*
 * True when the JSON text holds the escape \u0000 inside a string.  cJSON
 * turns it into a real NUL byte and every C string after that sees only the
 * part before it, so two different ids could look the same: such text is
 * refused before it is parsed.
 */
bool wire_has_nul_escape(const char *text, size_t len);

/* A stretch of a text: what a value looked like on the wire. */
struct wire_span {
    size_t offset;
    size_t size;
};

/*
 * Finds, in the JSON object that text holds, the first member called name
 * and sets *value to where its value is written.  Names are compared as
 * written, so one spelled with escapes is not found.  text must already be
 * known to be well-formed JSON (it is only skimmed, not checked).  Returns
 * 0, -ENOENT when there is no such member, or -EINVAL when text is not an
 * object.
 */
int wire_find_member(const char *text, size_t len, const char *name, struct wire_span *value);

/*
 * Sets elements[0..] to where each element of the JSON array at array (a
 * span of text) is written, at most max of them.  Same assumptions as
 * wire_find_member().  Returns the number of elements (which may be more
 * than max), or -EINVAL when array is not an array.
 */
int wire_array_elements(const char *text, struct wire_span array, struct wire_span *elements,
                        int max);

/* {"id": copy of id (null when id is NULL), "ok": true}. */
cJSON *wire_reply_ok(const cJSON *id);

/* {"id": ..., "ok": false, "error": {"code": code, "message": message}}. */
cJSON *wire_reply_error(const cJSON *id, const char *code, const char *message);

/* {"code": code, "message": message}, the error object of replies and results. */
cJSON *wire_error_object(const char *code, const char *message);

/* {"op": op, "id": id}: the start of a request. */
cJSON *wire_request_new(const char *op, double id);

/*
 * Reads a reply's outcome.  Returns 0 when "ok" is true; -EPROTO when the
 * reply is not a well-formed envelope; -EREMOTEIO when "ok" is false, with
 * *code and *message pointing into reply (borrowed; either may be NULL).
 */
int wire_reply_status(const cJSON *reply, const char **code, const char **message);

/* The string member name of object, or NULL when missing or not a string. */
const char *wire_get_string(const cJSON *object, const char *name);

#endif

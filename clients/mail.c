#include "mail.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

/* Used when options->timeout_ms is not positive. */
#define MAIL_DEFAULT_TIMEOUT_MS 30000L

/* The longest header line written (RFC 2047 section 2 asks for 76 when
 * encoded words are used; plain lines are kept to the same). */
#define MAIL_LINE_MAX 76
/* "=?UTF-8?B?" and "?=" around the base64 text of an encoded word. */
#define MAIL_ENCODED_WORD_PREFIX "=?UTF-8?B?"
#define MAIL_ENCODED_WORD_OVERHEAD 12

/* Bounds on what a message may carry in its headers: a relay would refuse
 * longer lines anyway, and none of these comes near in normal use. */
#define MAIL_ADDRESS_MAX 254 /* RFC 5321 section 4.5.3.1.3 */
#define MAIL_NAME_MAX 256
#define MAIL_SUBJECT_MAX 998
#define MAIL_MESSAGE_ID_MAX 250
#define MAIL_ATTACHMENT_NAME_MAX 200
#define MAIL_ATTACHMENT_TYPE_MAX 200

/* How much of the relay's last reply line is kept for error messages. */
#define MAIL_REPLY_MAX 200

/* The SMTP command the relay answered last, so that a refusal can be told
 * apart: a 5xx to RCPT TO is about the address, a 5xx elsewhere is not. */
enum mail_stage {
    STAGE_GREETING = 0,
    STAGE_EHLO,
    STAGE_STARTTLS,
    STAGE_AUTH,
    STAGE_MAIL,
    STAGE_RCPT,
    STAGE_DATA,
    STAGE_CONTENT, /* after the 354: the reply is to the message itself */
    STAGE_QUIT,
    STAGE_OTHER,
};

static const char *const stage_names[] = {
    [STAGE_GREETING] = "its greeting",
    [STAGE_EHLO] = "EHLO",
    [STAGE_STARTTLS] = "STARTTLS",
    [STAGE_AUTH] = "AUTH",
    [STAGE_MAIL] = "MAIL FROM",
    [STAGE_RCPT] = "RCPT TO",
    [STAGE_DATA] = "DATA",
    [STAGE_CONTENT] = "the message",
    [STAGE_QUIT] = "QUIT",
    [STAGE_OTHER] = "a command",
};

struct mail_relay {
    CURL *easy;
    char *display_url; /* scheme://host:port, never with credentials: for messages */
    /* Filled by libcurl and by debug_callback() during one mail_send(). */
    char curl_error[CURL_ERROR_SIZE];
    char last_reply[MAIL_REPLY_MAX + 1];
    enum mail_stage stage;
    /* libcurl said QUIT after a failure: what follows is not the answer
     * that explains it. */
    bool quitting;
};

/* A growing string.  An allocation failure is remembered and every later
 * append is dropped, so a long run of appends is checked once, at the end. */
struct text {
    char *data;
    size_t len;
    size_t cap;
    bool failed;
};

/*
 * libcurl needs curl_global_init() once per process before the first easy
 * handle.  This flag is the module's only mutable global; it is not guarded
 * by a lock because carehub-notify and mail-send use the module from one
 * thread.  curl_global_cleanup() is left to the program (see mail.h).
 */
static bool mail_curl_initialized;

static int fail(char *err, size_t err_size, int code, const char *format, ...)
    __attribute__((format(printf, 4, 5)));

static int
fail(char *err, size_t err_size, int code, const char *format, ...)
{
    va_list args;

    if (err != NULL && err_size > 0) {
        va_start(args, format);
        vsnprintf(err, err_size, format, args);
        va_end(args);
    }
    return code;
}

/* ------------------------------------------------------------------------ */
/* Strings */

static void
text_append(struct text *text, const char *bytes, size_t len)
{
    char *grown;
    size_t cap;

    if (text->failed)
        return;
    if (text->len + len + 1 > text->cap) {
        cap = text->cap ? text->cap : 128;
        while (cap < text->len + len + 1)
            cap *= 2;
        grown = realloc(text->data, cap);
        if (grown == NULL) {
            text->failed = true;
            return;
        }
        text->data = grown;
        text->cap = cap;
    }
    memcpy(text->data + text->len, bytes, len);
    text->len += len;
    text->data[text->len] = '\0';
}

static void
text_append_string(struct text *text, const char *string)
{
    text_append(text, string, strlen(string));
}

static void
text_free(struct text *text)
{
    free(text->data);
    text->data = NULL;
    text->len = text->cap = 0;
    text->failed = false;
}

static bool
has_line_break(const char *s)
{
    return strpbrk(s, "\r\n") != NULL;
}

/* Whether s is well-formed UTF-8 (no overlong forms, surrogates or values
 * past U+10FFFF), so that it can be labelled UTF-8 in an encoded word. */
static bool
is_utf8(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;

    while (*p != '\0') {
        unsigned char c = *p;
        size_t more;
        uint32_t value;

        if (c < 0x80) {
            p++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            more = 1;
            value = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            more = 2;
            value = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            more = 3;
            value = c & 0x07;
        } else {
            return false;
        }
        for (size_t i = 1; i <= more; i++) {
            if ((p[i] & 0xc0) != 0x80)
                return false;
            value = (value << 6) | (p[i] & 0x3f);
        }
        if ((more == 2 && (value < 0x800 || (value >= 0xd800 && value <= 0xdfff))) ||
            (more == 3 && (value < 0x10000 || value > 0x10ffff)))
            return false;
        p += more + 1;
    }
    return true;
}

/* Printable ASCII only, and nothing a reader would take for an encoded word:
 * such text can go into a header as it is. */
static bool
is_plain_ascii(const char *s)
{
    for (const char *p = s; *p != '\0'; p++)
        if (*p < 0x20 || *p > 0x7e)
            return false;
    return strstr(s, "=?") == NULL;
}

/*
 * An address as carehub uses them: printable ASCII, local@domain, without
 * the characters that would let it escape the angle brackets of a header or
 * of MAIL FROM / RCPT TO.  Quoted local parts and internationalised
 * addresses are not supported.
 */
static int
check_address(const char *what, const char *address, char *err, size_t err_size)
{
    const char *at;

    if (address == NULL || address[0] == '\0')
        return fail(err, err_size, -EINVAL, "the message has no %s address", what);
    if (has_line_break(address))
        return fail(err, err_size, -EINVAL, "the %s address contains a line break", what);
    if (strlen(address) > MAIL_ADDRESS_MAX)
        return fail(err, err_size, -EINVAL, "the %s address is longer than %d bytes", what,
                    MAIL_ADDRESS_MAX);
    for (const char *p = address; *p != '\0'; p++)
        if (*p <= 0x20 || *p > 0x7e || strchr("<>()[],;:\\\"", *p) != NULL)
            return fail(err, err_size, -EINVAL,
                        "the %s address \"%s\" has a character not allowed in an address", what,
                        *p < 0x20 || *p > 0x7e ? "(not printable)" : address);
    at = strrchr(address, '@');
    if (at == NULL || at == address || at[1] == '\0')
        return fail(err, err_size, -EINVAL, "the %s address \"%s\" is not local@domain", what,
                    address);
    return 0;
}

/* A header value given as UTF-8 text: one line, well-formed, bounded.
 * NULL is accepted here; callers check required fields themselves. */
static int
check_text_value(const char *what, const char *value, size_t max, char *err, size_t err_size)
{
    if (value == NULL)
        return 0;
    if (has_line_break(value))
        return fail(err, err_size, -EINVAL, "the %s contains a line break", what);
    if (strlen(value) > max)
        return fail(err, err_size, -EINVAL, "the %s is longer than %zu bytes", what, max);
    if (!is_utf8(value))
        return fail(err, err_size, -EINVAL, "the %s is not valid UTF-8", what);
    return 0;
}

/* "<left@right>", printable ASCII without spaces. */
static int
check_message_id(const char *id, char *err, size_t err_size)
{
    size_t len;

    if (id == NULL || id[0] == '\0')
        return fail(err, err_size, -EINVAL, "the message has no Message-ID");
    if (has_line_break(id))
        return fail(err, err_size, -EINVAL, "the Message-ID contains a line break");
    len = strlen(id);
    if (len > MAIL_MESSAGE_ID_MAX)
        return fail(err, err_size, -EINVAL, "the Message-ID is longer than %d bytes",
                    MAIL_MESSAGE_ID_MAX);
    for (const char *p = id; *p != '\0'; p++)
        if (*p <= 0x20 || *p > 0x7e)
            return fail(err, err_size, -EINVAL,
                        "the Message-ID has a space or a character that "
                        "is not printable ASCII");
    if (len < 5 || id[0] != '<' || id[len - 1] != '>' || strchr(id, '@') == NULL ||
        strchr(id + 1, '<') != NULL || strchr(id, '>') != id + len - 1)
        return fail(err, err_size, -EINVAL, "the Message-ID \"%s\" is not <left@right>", id);
    return 0;
}

static int
check_message(const struct mail_message *message, char *err, size_t err_size)
{
    int r;

    r = check_address("sender", message->from, err, err_size);
    if (r < 0)
        return r;
    r = check_address("recipient", message->to, err, err_size);
    if (r < 0)
        return r;
    r = check_text_value("sender's name", message->from_name, MAIL_NAME_MAX, err, err_size);
    if (r < 0)
        return r;
    r = check_text_value("recipient's name", message->to_name, MAIL_NAME_MAX, err, err_size);
    if (r < 0)
        return r;
    if (message->subject == NULL)
        return fail(err, err_size, -EINVAL, "the message has no subject");
    r = check_text_value("subject", message->subject, MAIL_SUBJECT_MAX, err, err_size);
    if (r < 0)
        return r;
    r = check_message_id(message->message_id, err, err_size);
    if (r < 0)
        return r;
    if (message->text == NULL)
        return fail(err, err_size, -EINVAL, "the message has no text part");
    if (message->attachment_name != NULL) {
        if (message->attachment_name[0] == '\0')
            return fail(err, err_size, -EINVAL, "the attachment's name is empty");
        r = check_text_value("attachment's name", message->attachment_name,
                             MAIL_ATTACHMENT_NAME_MAX, err, err_size);
        if (r < 0)
            return r;
        if (message->attachment_type == NULL || message->attachment_type[0] == '\0')
            return fail(err, err_size, -EINVAL, "the attachment has no content type");
        if (has_line_break(message->attachment_type))
            return fail(err, err_size, -EINVAL,
                        "the attachment's content type contains a line "
                        "break");
        if (strlen(message->attachment_type) > MAIL_ATTACHMENT_TYPE_MAX ||
            !is_plain_ascii(message->attachment_type) ||
            strchr(message->attachment_type, '/') == NULL)
            return fail(err, err_size, -EINVAL,
                        "the attachment's content type \"%s\" is not a "
                        "MIME type",
                        message->attachment_type);
        if (message->attachment == NULL && message->attachment_len > 0)
            return fail(err, err_size, -EINVAL, "the attachment has a length but no bytes");
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Headers */

static void
append_base64(struct text *out, const unsigned char *bytes, size_t len)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char group[4];

    for (size_t i = 0; i < len; i += 3) {
        uint32_t bits = (uint32_t)bytes[i] << 16;
        size_t left = len - i;

        if (left > 1)
            bits |= (uint32_t)bytes[i + 1] << 8;
        if (left > 2)
            bits |= bytes[i + 2];
        group[0] = alphabet[(bits >> 18) & 0x3f];
        group[1] = alphabet[(bits >> 12) & 0x3f];
        group[2] = left > 1 ? alphabet[(bits >> 6) & 0x3f] : '=';
        group[3] = left > 2 ? alphabet[bits & 0x3f] : '=';
        text_append(out, group, 4);
    }
}

/*
 * Appends the len bytes at s (UTF-8) as RFC 2047 encoded words, starting at
 * *column on the current line, after a space when separate is set.  Words
 * are cut between characters, never inside one, and folded onto
 * continuation lines so that no line passes MAIL_LINE_MAX; readers drop the
 * whitespace between adjacent encoded words.
 */
static void
append_encoded_words(struct text *out, const char *s, size_t len, size_t *column, bool separate)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t left = len;

    while (left > 0) {
        size_t start = *column + (separate ? 1 : 0);
        size_t room = 0;
        size_t take;

        if (start + MAIL_ENCODED_WORD_OVERHEAD < MAIL_LINE_MAX)
            room = (MAIL_LINE_MAX - start - MAIL_ENCODED_WORD_OVERHEAD) / 4 * 3;
        take = left < room ? left : room;
        while (take > 0 && take < left && (p[take] & 0xc0) == 0x80)
            take--;
        if (take == 0) {
            /* Not even one character fits on this line: the fold is the
             * separating whitespace. */
            text_append_string(out, "\r\n ");
            *column = 1;
            separate = false;
            continue;
        }
        if (separate) {
            text_append_string(out, " ");
            (*column)++;
        }
        text_append_string(out, MAIL_ENCODED_WORD_PREFIX);
        append_base64(out, p, take);
        text_append_string(out, "?=");
        *column += MAIL_ENCODED_WORD_OVERHEAD + (take + 2) / 3 * 4;
        p += take;
        left -= take;
        separate = true;
    }
}

/* Appends one unbreakable piece after a space, or on a new line when it
 * would not fit on this one. */
static void
append_folded(struct text *out, const char *piece, size_t len, size_t *column)
{
    if (*column + 1 + len <= MAIL_LINE_MAX) {
        text_append_string(out, " ");
        (*column)++;
    } else {
        text_append_string(out, "\r\n ");
        *column = 1;
    }
    text_append(out, piece, len);
    *column += len;
}

/* A word that may stand in a phrase as it is: RFC 5322 atext, short enough
 * to fit on a folded line, and not mistakable for an encoded word. */
static bool
is_atom(const char *word, size_t len)
{
    if (len == 0 || len > MAIL_LINE_MAX / 2)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = word[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL))
            return false;
        if (c == '=' && i + 1 < len && word[i + 1] == '?')
            return false;
    }
    return true;
}

/*
 * Appends a display name as an RFC 5322 phrase: words made of atext as they
 * are, and each run of other words (non-ASCII, or with specials such as a
 * comma) as encoded words holding the whole run with its spaces.  Keeping a
 * run together matters: whitespace between adjacent encoded words is not
 * part of the name, so separate words would run together.  (Python's email
 * package keeps that whitespace in phrases; it splits runs the same way.)
 * Returns whether anything was written.
 */
static bool
append_phrase(struct text *out, const char *name, size_t *column)
{
    const char *p = name;
    bool wrote = false;

    for (;;) {
        const char *end;

        while (*p == ' ')
            p++;
        if (*p == '\0')
            break;
        end = p + strcspn(p, " ");
        if (is_atom(p, (size_t)(end - p))) {
            if (wrote) {
                append_folded(out, p, (size_t)(end - p), column);
            } else {
                text_append(out, p, (size_t)(end - p));
                *column += (size_t)(end - p);
            }
        } else {
            /* The run goes on over every following word that is not an atom. */
            const char *next = end;

            for (;;) {
                const char *word = next;
                const char *word_end;

                while (*word == ' ')
                    word++;
                if (*word == '\0')
                    break;
                word_end = word + strcspn(word, " ");
                if (is_atom(word, (size_t)(word_end - word)))
                    break;
                end = word_end;
                next = word_end;
            }
            append_encoded_words(out, p, (size_t)(end - p), column, wrote);
        }
        wrote = true;
        p = end;
    }
    return wrote;
}

/* "Field: Name <address>" or "Field: address": the name as a quoted string
 * when it is plain ASCII and all fits on one line, as a phrase otherwise. */
static void
append_mailbox_header(struct text *out, const char *field, const char *name, const char *address)
{
    size_t column = strlen(field) + 1;
    size_t address_len = strlen(address);

    text_append_string(out, field);
    text_append_string(out, ":");
    if (name != NULL && is_plain_ascii(name)) {
        size_t escapes = 0;

        for (const char *p = name; *p != '\0'; p++)
            escapes += (*p == '"' || *p == '\\');
        if (name[0] != '\0' &&
            column + 1 + strlen(name) + escapes + 2 + 2 + address_len + 1 <= MAIL_LINE_MAX) {
            text_append_string(out, " \"");
            for (const char *p = name; *p != '\0'; p++) {
                if (*p == '"' || *p == '\\')
                    text_append_string(out, "\\");
                text_append(out, p, 1);
            }
            text_append_string(out, "\" <");
            text_append_string(out, address);
            text_append_string(out, ">");
            return;
        }
    }
    text_append_string(out, " ");
    column++;
    if (name == NULL || !append_phrase(out, name, &column)) {
        text_append_string(out, address);
        return;
    }
    if (column + 2 + address_len + 1 > MAIL_LINE_MAX)
        text_append_string(out, "\r\n <");
    else
        text_append_string(out, " <");
    text_append_string(out, address);
    text_append_string(out, ">");
}

/*
 * "Subject: ...": as it is when it is plain ASCII, folded at spaces when
 * long; as encoded words when it is not ASCII or has a word too long to
 * fold.
 */
static void
append_subject_header(struct text *out, const char *subject)
{
    static const char field[] = "Subject: ";
    size_t column = sizeof(field) - 1;

    if (is_plain_ascii(subject)) {
        struct text folded = {0};
        const char *word = subject;
        bool fits = true;

        /* Words are the runs between single spaces; a fold replaces the
         * space before a word with CRLF and that space. */
        for (;;) {
            const char *end = strchr(word, ' ');
            size_t len = end != NULL ? (size_t)(end - word) : strlen(word);

            if (word != subject) {
                if (column + 1 + len <= MAIL_LINE_MAX || len == 0) {
                    text_append_string(&folded, " ");
                    column++;
                } else {
                    text_append_string(&folded, "\r\n ");
                    column = 1;
                }
            }
            text_append(&folded, word, len);
            column += len;
            if (column > MAIL_LINE_MAX)
                fits = false;
            if (end == NULL)
                break;
            word = end + 1;
        }
        if (fits && !folded.failed) {
            text_append_string(out, field);
            if (folded.len > 0)
                text_append(out, folded.data, folded.len);
            text_free(&folded);
            return;
        }
        if (folded.failed)
            out->failed = true;
        text_free(&folded);
        column = sizeof(field) - 1;
    }
    text_append_string(out, field);
    append_encoded_words(out, subject, strlen(subject), &column, false);
}

/* "Date: Mon, 08 Jan 2024 09:00:00 +0000" (RFC 5322 section 3.3), in UTC. */
static int
format_date_header(char *buffer, size_t size, int64_t date_ms)
{
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    int64_t seconds = date_ms / 1000 - (date_ms % 1000 < 0 ? 1 : 0);
    time_t t = (time_t)seconds;
    struct tm tm;

    if ((int64_t)t != seconds || gmtime_r(&t, &tm) == NULL || tm.tm_year + 1900 > 9999 ||
        tm.tm_year + 1900 < 1900)
        return -EINVAL;
    snprintf(buffer, size, "Date: %s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday],
             tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    return 0;
}

/* Appends one header built in text, then clears text for the next one. */
static int
add_header(struct curl_slist **headers, struct text *text)
{
    struct curl_slist *grown;

    if (text->failed)
        return -ENOMEM;
    grown = curl_slist_append(*headers, text->data);
    text->len = 0;
    if (text->data != NULL)
        text->data[0] = '\0';
    if (grown == NULL)
        return -ENOMEM;
    *headers = grown;
    return 0;
}

static int
add_header_string(struct curl_slist **headers, const char *header)
{
    struct curl_slist *grown = curl_slist_append(*headers, header);

    if (grown == NULL)
        return -ENOMEM;
    *headers = grown;
    return 0;
}

/*
 * The message's own headers.  libcurl's MIME code adds MIME-Version and
 * the top-level Content-Type with its boundary: a Content-Type given here
 * only chooses the multipart subtype, and libcurl writes it with the
 * boundary in its place.
 */
static int
build_headers(struct curl_slist **out, const struct mail_message *message, bool mixed)
{
    struct curl_slist *headers = NULL;
    struct text text = {0};
    char date[64];
    int r;

    r = format_date_header(date, sizeof(date), message->date_ms);
    if (r < 0)
        return r;
    append_mailbox_header(&text, "From", message->from_name, message->from);
    r = add_header(&headers, &text);
    if (r < 0)
        goto done;
    append_mailbox_header(&text, "To", message->to_name, message->to);
    r = add_header(&headers, &text);
    if (r < 0)
        goto done;
    append_subject_header(&text, message->subject);
    r = add_header(&headers, &text);
    if (r < 0)
        goto done;
    r = add_header_string(&headers, date);
    if (r < 0)
        goto done;
    text_append_string(&text, "Message-ID: ");
    text_append_string(&text, message->message_id);
    r = add_header(&headers, &text);
    if (r < 0)
        goto done;
    r = add_header_string(&headers, "Auto-Submitted: auto-generated");
    if (r < 0)
        goto done;
    r = add_header_string(&headers, mixed ? "Content-Type: multipart/mixed"
                                          : "Content-Type: multipart/alternative");
    if (r < 0)
        goto done;
    *out = headers;
    headers = NULL;
done:
    text_free(&text);
    curl_slist_free_all(headers);
    return r;
}

/* ------------------------------------------------------------------------ */
/* Body */

/* A copy of s with every line ending CRLF: quoted-printable keeps CRLF as a
 * line break and would escape a bare LF, making one endless line. */
static char *
with_crlf(const char *s, size_t *len)
{
    size_t bare = 0;
    size_t n = 0;
    char *copy;

    for (const char *p = s; *p != '\0'; p++)
        bare += (*p == '\n' && (p == s || p[-1] != '\r'));
    copy = malloc(strlen(s) + bare + 1);
    if (copy == NULL)
        return NULL;
    for (const char *p = s; *p != '\0'; p++) {
        if (*p == '\n' && (p == s || p[-1] != '\r'))
            copy[n++] = '\r';
        copy[n++] = *p;
    }
    copy[n] = '\0';
    *len = n;
    return copy;
}

static int
add_text_part(curl_mime *mime, const char *body, const char *type)
{
    curl_mimepart *part;
    char *copy;
    size_t len = 0;
    CURLcode rc;

    copy = with_crlf(body, &len);
    if (copy == NULL)
        return -ENOMEM;
    part = curl_mime_addpart(mime);
    if (part == NULL) {
        free(copy);
        return -ENOMEM;
    }
    rc = curl_mime_data(part, copy, len);
    free(copy);
    if (rc == CURLE_OK)
        rc = curl_mime_type(part, type);
    if (rc == CURLE_OK)
        rc = curl_mime_encoder(part, "quoted-printable");
    return rc == CURLE_OK ? 0 : -ENOMEM;
}

/* RFC 2231 / 5987 attr-char: what a filename* value may hold unescaped. */
static bool
is_attr_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("!#$&+-.^_`|~", c) != NULL);
}

/* "Content-Disposition: attachment; filename=..." for name, quoted when it
 * is plain ASCII, RFC 2231 encoded otherwise. */
static int
attachment_disposition(struct curl_slist **out, const char *name)
{
    static const char hex[] = "0123456789ABCDEF";
    struct text text = {0};
    struct curl_slist *headers;

    text_append_string(&text, "Content-Disposition: attachment;\r\n filename");
    if (is_plain_ascii(name)) {
        text_append_string(&text, "=\"");
        for (const char *p = name; *p != '\0'; p++) {
            if (*p == '"' || *p == '\\')
                text_append_string(&text, "\\");
            text_append(&text, p, 1);
        }
        text_append_string(&text, "\"");
    } else {
        text_append_string(&text, "*=UTF-8''");
        for (const unsigned char *p = (const unsigned char *)name; *p != '\0'; p++) {
            char escaped[3] = {'%', hex[*p >> 4], hex[*p & 0x0f]};

            if (is_attr_char(*p))
                text_append(&text, (const char *)p, 1);
            else
                text_append(&text, escaped, 3);
        }
    }
    if (text.failed) {
        text_free(&text);
        return -ENOMEM;
    }
    headers = curl_slist_append(NULL, text.data);
    text_free(&text);
    if (headers == NULL)
        return -ENOMEM;
    *out = headers;
    return 0;
}

/*
 * The body: multipart/alternative (text, then HTML, the preferred last),
 * alone or inside multipart/mixed before the attachment.  On success *out
 * is the caller's to curl_mime_free().
 */
static int
build_body(curl_mime **out, CURL *easy, const struct mail_message *message)
{
    curl_mime *root = NULL;
    curl_mime *alternative = NULL;
    curl_mimepart *part;
    struct curl_slist *disposition = NULL;
    int r = -ENOMEM;

    alternative = curl_mime_init(easy);
    if (alternative == NULL)
        goto done;
    r = add_text_part(alternative, message->text, "text/plain; charset=UTF-8");
    if (r < 0)
        goto done;
    if (message->html != NULL) {
        r = add_text_part(alternative, message->html, "text/html; charset=UTF-8");
        if (r < 0)
            goto done;
    }
    if (message->attachment_name == NULL) {
        *out = alternative;
        return 0;
    }

    r = -ENOMEM;
    root = curl_mime_init(easy);
    if (root == NULL)
        goto done;
    part = curl_mime_addpart(root);
    if (part == NULL || curl_mime_subparts(part, alternative) != CURLE_OK)
        goto done;
    alternative = NULL; /* root owns it now */
    if (curl_mime_type(part, "multipart/alternative") != CURLE_OK)
        goto done;

    part = curl_mime_addpart(root);
    if (part == NULL)
        goto done;
    if (curl_mime_data(part, message->attachment_len > 0 ? message->attachment : "",
                       message->attachment_len) != CURLE_OK ||
        curl_mime_type(part, message->attachment_type) != CURLE_OK ||
        curl_mime_encoder(part, "base64") != CURLE_OK)
        goto done;
    r = attachment_disposition(&disposition, message->attachment_name);
    if (r < 0)
        goto done;
    r = -ENOMEM;
    if (curl_mime_headers(part, disposition, 1) != CURLE_OK)
        goto done;
    disposition = NULL; /* the part owns it now */
    *out = root;
    root = NULL;
    r = 0;
done:
    curl_slist_free_all(disposition);
    curl_mime_free(root);
    curl_mime_free(alternative);
    return r;
}

/* ------------------------------------------------------------------------ */
/* The conversation with the relay */

/* Keeps the last line of what the relay said, made printable, and notes
 * when the next reply will be to the message content. */
static void
remember_reply(struct mail_relay *relay, const char *data, size_t size)
{
    size_t end = size;
    size_t start;
    size_t n = 0;

    if (relay->quitting)
        return;
    while (end > 0 && (data[end - 1] == '\r' || data[end - 1] == '\n'))
        end--;
    start = end;
    while (start > 0 && data[start - 1] != '\n')
        start--;
    if (start == end)
        return;
    for (size_t i = start; i < end && n < MAIL_REPLY_MAX; i++) {
        unsigned char c = (unsigned char)data[i];

        relay->last_reply[n++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    relay->last_reply[n] = '\0';
    if (relay->stage == STAGE_DATA && strncmp(relay->last_reply, "354", 3) == 0)
        relay->stage = STAGE_CONTENT;
}

/* Notes which command libcurl sent.  Only the verb is looked at: the rest
 * of an AUTH exchange holds credentials and is never kept. */
static void
remember_command(struct mail_relay *relay, const char *data, size_t size)
{
    static const struct {
        const char *verb;
        enum mail_stage stage;
    } verbs[] = {
        {"EHLO", STAGE_EHLO},  {"HELO", STAGE_EHLO}, {"STARTTLS", STAGE_STARTTLS},
        {"AUTH", STAGE_AUTH},  {"MAIL", STAGE_MAIL}, {"RCPT", STAGE_RCPT},
        {"DATA", STAGE_DATA},  {"QUIT", STAGE_QUIT}, {"RSET", STAGE_OTHER},
        {"NOOP", STAGE_OTHER},
    };
    size_t len = 0;

    while (len < size && data[len] >= 'A' && data[len] <= 'Z')
        len++;
    if (len == size || (data[len] != ' ' && data[len] != '\r' && data[len] != '\n'))
        return;
    for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
        if (strlen(verbs[i].verb) == len && memcmp(verbs[i].verb, data, len) == 0) {
            if (verbs[i].stage == STAGE_QUIT)
                relay->quitting = true;
            else if (!relay->quitting)
                relay->stage = verbs[i].stage;
            return;
        }
}

/* libcurl's verbose output goes here, never to stderr: only the relay's
 * replies and the verbs of the commands are kept. */
static int
debug_callback(CURL *easy, curl_infotype type, char *data, size_t size, void *user)
{
    struct mail_relay *relay = user;

    (void)easy;
    if (type == CURLINFO_HEADER_IN)
        remember_reply(relay, data, size);
    else if (type == CURLINFO_HEADER_OUT)
        remember_command(relay, data, size);
    return 0;
}

static bool
is_tls_failure(CURLcode rc)
{
    switch (rc) {
    case CURLE_USE_SSL_FAILED:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CLIENTCERT:
        return true;
    default:
        return false;
    }
}

/* Failures of the network or of the relay's availability, where a later
 * attempt may well succeed. */
static bool
is_transient_failure(CURLcode rc)
{
    switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_AGAIN:
        return true;
    default:
        return false;
    }
}

/* Sorts a failed transfer into the codes of mail.h and describes it in err. */
static int
transfer_failure(struct mail_relay *relay, const struct mail_message *message, CURLcode rc,
                 char *err, size_t err_size)
{
    const char *detail = relay->curl_error[0] != '\0' ? relay->curl_error : curl_easy_strerror(rc);
    const char *stage = stage_names[relay->stage];
    char said[MAIL_REPLY_MAX + 64] = "";
    long code = 0;

    if (rc == CURLE_OUT_OF_MEMORY)
        return fail(err, err_size, -ENOMEM, "relay %s: out of memory", relay->display_url);
    /* The reply kept by remember_reply() comes first: it leaves out the
     * QUIT libcurl may say after the failure.  libcurl's own record of the
     * last code is the fallback. */
    if (relay->last_reply[0] >= '1' && relay->last_reply[0] <= '5')
        code = strtol(relay->last_reply, NULL, 10);
    if ((code < 100 || code > 599) &&
        (curl_easy_getinfo(relay->easy, CURLINFO_RESPONSE_CODE, &code) != CURLE_OK || code < 0))
        code = 0;
    if (code >= 400 && relay->last_reply[0] != '\0')
        snprintf(said, sizeof(said), "; it answered %s with \"%s\"", stage, relay->last_reply);

    if (code >= 500 && code < 600 && relay->stage == STAGE_RCPT)
        return fail(err, err_size, -EPERM, "relay %s refused the recipient %s: \"%s\"",
                    relay->display_url, message->to, relay->last_reply);
    if (code >= 400 && code < 500)
        return fail(err, err_size, -EAGAIN, "relay %s: temporary failure: %s%s", relay->display_url,
                    detail, said);
    if (rc == CURLE_LOGIN_DENIED || (relay->stage == STAGE_AUTH && code >= 500))
        return fail(err, err_size, -EIO, "relay %s: authentication failed: %s%s",
                    relay->display_url, detail, said);
    if (is_tls_failure(rc))
        return fail(err, err_size, -EIO, "relay %s: TLS failed: %s%s", relay->display_url, detail,
                    said);
    if (code >= 500 && code < 600 && (relay->stage == STAGE_DATA || relay->stage == STAGE_CONTENT))
        return fail(err, err_size, -EBADMSG, "relay %s refused the message: %s%s",
                    relay->display_url, detail, said);
    if (code >= 500 && code < 600)
        return fail(err, err_size, -EIO, "relay %s refused the message: %s%s", relay->display_url,
                    detail, said);
    if (is_transient_failure(rc))
        return fail(err, err_size, -EAGAIN, "relay %s: temporary failure: %s%s", relay->display_url,
                    detail, said);
    return fail(err, err_size, -EIO, "relay %s: %s%s", relay->display_url, detail, said);
}

/* One attempt at the message set in the handle. */
static CURLcode
perform(struct mail_relay *relay)
{
    relay->curl_error[0] = '\0';
    relay->last_reply[0] = '\0';
    relay->stage = STAGE_GREETING;
    relay->quitting = false;
    return curl_easy_perform(relay->easy);
}

/*
 * Whether a failed attempt went out on a kept connection that the relay had
 * already dropped (an idle timeout, say) without libcurl noticing before it
 * reused it.  The relay answered nothing at all, so it cannot have accepted
 * the message, and one more attempt, on a new connection since libcurl
 * closes a connection after a failure, cannot send it twice.
 */
static bool
is_stale_connection(struct mail_relay *relay, CURLcode rc)
{
    long connects = -1;

    if (rc != CURLE_SEND_ERROR && rc != CURLE_RECV_ERROR && rc != CURLE_GOT_NOTHING)
        return false;
    if (curl_easy_getinfo(relay->easy, CURLINFO_NUM_CONNECTS, &connects) != CURLE_OK)
        return false;
    return connects == 0 && relay->last_reply[0] == '\0';
}

/* ------------------------------------------------------------------------ */
/* Relays */

/* Checks options->url and makes the URL handed to libcurl: the HELO name,
 * when given, travels as the URL's path.  On success *url_for_curl and
 * *display_url are the caller's to curl_free() and free(). */
static int
prepare_url(const struct mail_relay_options *options, char **url_for_curl, char **display_url,
            char *err, size_t err_size)
{
    CURLU *url;
    char *scheme = NULL;
    char *host = NULL;
    char *port = NULL;
    char *display = NULL;
    int r = -ENOMEM;
    CURLUcode urc;

    if (options->url == NULL || options->url[0] == '\0')
        return fail(err, err_size, -EINVAL, "no relay URL");
    if (has_line_break(options->url))
        return fail(err, err_size, -EINVAL, "the relay URL contains a line break");
    url = curl_url();
    if (url == NULL)
        return fail(err, err_size, -ENOMEM, "out of memory");
    urc = curl_url_set(url, CURLUPART_URL, options->url, 0);
    if (urc == CURLUE_OUT_OF_MEMORY)
        goto done;
    if (urc != CURLUE_OK) {
        r = fail(err, err_size, -EINVAL, "relay URL \"%s\": %s", options->url,
                 curl_url_strerror(urc));
        goto done;
    }
    if (curl_url_get(url, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(url, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
        r = fail(err, err_size, -EINVAL, "relay URL \"%s\" has no scheme or host", options->url);
        goto done;
    }
    if (strcmp(scheme, "smtp") != 0 && strcmp(scheme, "smtps") != 0) {
        r = fail(err, err_size, -EINVAL, "relay URL \"%s\": the scheme must be smtp or smtps",
                 options->url);
        goto done;
    }
    if ((options->tls == MAIL_TLS_IMPLICIT) != (strcmp(scheme, "smtps") == 0)) {
        r = fail(err, err_size, -EINVAL,
                 "relay URL \"%s\": implicit TLS goes with smtps://, plain SMTP and STARTTLS "
                 "with smtp://",
                 options->url);
        goto done;
    }
    urc = curl_url_get(url, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT);
    if (urc != CURLUE_OK && urc != CURLUE_NO_PORT) {
        r = fail(err, err_size, -EINVAL, "relay URL \"%s\": %s", options->url,
                 curl_url_strerror(urc));
        goto done;
    }
    if (options->helo_name != NULL) {
        char path[300];

        for (const char *p = options->helo_name; *p != '\0'; p++)
            if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                  (*p >= '0' && *p <= '9') || strchr(".-[]:", *p) != NULL)) {
                r = fail(err, err_size, -EINVAL, "the HELO name \"%s\" is not a host name",
                         has_line_break(options->helo_name) ? "(with a line break)"
                                                            : options->helo_name);
                goto done;
            }
        if (options->helo_name[0] == '\0' || strlen(options->helo_name) > 255) {
            r = fail(err, err_size, -EINVAL, "the HELO name must have 1 to 255 characters");
            goto done;
        }
        snprintf(path, sizeof(path), "/%s", options->helo_name);
        urc = curl_url_set(url, CURLUPART_PATH, path, CURLU_URLENCODE);
        if (urc != CURLUE_OK) {
            r = urc == CURLUE_OUT_OF_MEMORY
                    ? -ENOMEM
                    : fail(err, err_size, -EINVAL, "the HELO name \"%s\": %s", options->helo_name,
                           curl_url_strerror(urc));
            goto done;
        }
    }
    display = malloc(strlen(scheme) + strlen(host) + (port ? strlen(port) : 0) + 8);
    if (display == NULL)
        goto done;
    sprintf(display, "%s://%s%s%s", scheme, host, port ? ":" : "", port ? port : "");
    urc = curl_url_get(url, CURLUPART_URL, url_for_curl, 0);
    if (urc != CURLUE_OK) {
        free(display);
        goto done;
    }
    *display_url = display;
    r = 0;
done:
    if (r == -ENOMEM)
        fail(err, err_size, -ENOMEM, "out of memory");
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(url);
    return r;
}

int
mail_relay_open(struct mail_relay **out, const struct mail_relay_options *options, char *err,
                size_t err_size)
{
    struct mail_relay *relay;
    char *url = NULL;
    long timeout_ms;
    CURLcode rc = CURLE_OK;
    int r;

    *out = NULL;
    if (options->username != NULL && options->password == NULL)
        return fail(err, err_size, -EINVAL, "a relay username needs a password");
    if (options->tls != MAIL_TLS_NONE && options->tls != MAIL_TLS_STARTTLS &&
        options->tls != MAIL_TLS_IMPLICIT)
        return fail(err, err_size, -EINVAL, "unknown TLS mode %d", (int)options->tls);
    if (!mail_curl_initialized) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
            return fail(err, err_size, -ENOMEM, "cannot initialise libcurl");
        mail_curl_initialized = true;
    }
    relay = calloc(1, sizeof(*relay));
    if (relay == NULL)
        return fail(err, err_size, -ENOMEM, "out of memory");
    r = prepare_url(options, &url, &relay->display_url, err, err_size);
    if (r < 0)
        goto fail;
    relay->easy = curl_easy_init();
    if (relay->easy == NULL) {
        r = fail(err, err_size, -ENOMEM, "cannot create a libcurl handle");
        goto fail;
    }
    timeout_ms = options->timeout_ms > 0 ? options->timeout_ms : MAIL_DEFAULT_TIMEOUT_MS;

    /* These stay set for the handle's life; mail_send() sets only what
     * belongs to one message, so the connection is kept between messages. */
    rc = curl_easy_setopt(relay->easy, CURLOPT_URL, url);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(relay->easy, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(relay->easy, CURLOPT_NOSIGNAL, 1L);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(relay->easy, CURLOPT_USE_SSL,
                              options->tls == MAIL_TLS_NONE ? (long)CURLUSESSL_NONE
                                                            : (long)CURLUSESSL_ALL);
    if (rc == CURLE_OK && options->username != NULL)
        rc = curl_easy_setopt(relay->easy, CURLOPT_USERNAME, options->username);
    if (rc == CURLE_OK && options->username != NULL)
        rc = curl_easy_setopt(relay->easy, CURLOPT_PASSWORD, options->password);
    if (rc == CURLE_OK && options->ca_file != NULL)
        rc = curl_easy_setopt(relay->easy, CURLOPT_CAINFO, options->ca_file);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(relay->easy, CURLOPT_SSL_VERIFYPEER, options->verify_peer ? 1L : 0L);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(relay->easy, CURLOPT_SSL_VERIFYHOST, options->verify_peer ? 2L : 0L);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(relay->easy, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(relay->easy, CURLOPT_TIMEOUT_MS, timeout_ms);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(relay->easy, CURLOPT_ERRORBUFFER, relay->curl_error);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(relay->easy, CURLOPT_DEBUGFUNCTION, debug_callback);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(relay->easy, CURLOPT_DEBUGDATA, relay);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(relay->easy, CURLOPT_VERBOSE, 1L);
    if (rc != CURLE_OK) {
        r = fail(err, err_size, rc == CURLE_OUT_OF_MEMORY ? -ENOMEM : -EINVAL,
                 "relay %s: libcurl refused an option: %s", relay->display_url,
                 curl_easy_strerror(rc));
        goto fail;
    }
    curl_free(url);
    *out = relay;
    return 0;
fail:
    curl_free(url);
    mail_relay_close(relay);
    return r;
}

void
mail_relay_close(struct mail_relay *relay)
{
    if (relay == NULL)
        return;
    if (relay->easy != NULL)
        curl_easy_cleanup(relay->easy);
    free(relay->display_url);
    free(relay);
}

int
mail_send(struct mail_relay *relay, const struct mail_message *message, char *err, size_t err_size)
{
    struct curl_slist *headers = NULL;
    struct curl_slist *recipients = NULL;
    curl_mime *body = NULL;
    char address[MAIL_ADDRESS_MAX + 3];
    CURLcode rc;
    int r;

    r = check_message(message, err, err_size);
    if (r < 0)
        return r;
    r = build_headers(&headers, message, message->attachment_name != NULL);
    if (r == -EINVAL)
        return fail(err, err_size, r, "the message's date (%lld ms) cannot be written",
                    (long long)message->date_ms);
    if (r < 0)
        goto done;
    r = build_body(&body, relay->easy, message);
    if (r < 0)
        goto done;
    snprintf(address, sizeof(address), "<%s>", message->to);
    recipients = curl_slist_append(NULL, address);
    if (recipients == NULL) {
        r = -ENOMEM;
        goto done;
    }
    snprintf(address, sizeof(address), "<%s>", message->from);

    rc = curl_easy_setopt(relay->easy, CURLOPT_MAIL_FROM, address);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(relay->easy, CURLOPT_MAIL_RCPT, recipients);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(relay->easy, CURLOPT_HTTPHEADER, headers);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(relay->easy, CURLOPT_MIMEPOST, body);
    if (rc != CURLE_OK) {
        r = rc == CURLE_OUT_OF_MEMORY ? -ENOMEM : -EINVAL;
        if (r == -EINVAL)
            fail(err, err_size, r, "relay %s: libcurl refused the message: %s", relay->display_url,
                 curl_easy_strerror(rc));
    } else {
        rc = perform(relay);
        if (rc != CURLE_OK && is_stale_connection(relay, rc))
            rc = perform(relay);
        r = rc == CURLE_OK ? 0 : transfer_failure(relay, message, rc, err, err_size);
    }

    /* Nothing of this message may outlive it in the handle. */
    curl_easy_setopt(relay->easy, CURLOPT_MIMEPOST, NULL);
    curl_easy_setopt(relay->easy, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(relay->easy, CURLOPT_MAIL_RCPT, NULL);
done:
    if (r == -ENOMEM)
        fail(err, err_size, r, "out of memory");
    curl_mime_free(body);
    curl_slist_free_all(recipients);
    curl_slist_free_all(headers);
    return r;
}

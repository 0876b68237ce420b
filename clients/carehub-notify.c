/*
 * carehub-notify: delivers carehubd's notifications to people by email.
 *
 * It follows the daemon's notifications without missing any (subscription
 * first, then catch-up through the API from the cursor kept in its state
 * file; see client_follower_*), and for each one either
 *   - sends it at once, on its own (escalations from a configured level up,
 *     KPI alerts when configured, everything when the digest is off), or
 *   - queues it for its recipient's digest, sent once per working day at
 *     digest.time (the organisation's time, as the daemon's clock says).
 * The cursor moves only once the relay accepted the message, or once the
 * notification is queued in the state file, in the same transaction: a kill
 * at any moment loses nothing.  A failed delivery is retried with backoff;
 * a recipient without a usable address is reported to mail.fallback in the
 * daily round instead.
 *
 * The daemon's clock decides the day and the time, so a daemon on a test
 * clock drives the digests too.  Messages come from templates
 * (notify_templates), their data from notify_compose, and go out through
 * the mail module (libcurl).  docs/notify.md is the administrator's guide.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <zmq.h>

#include "calendar.h"
#include "client.h"
#include "log.h"
#include "mail.h"
#include "notify_compose.h"
#include "notify_config.h"
#include "notify_state.h"
#include "notify_templates.h"
#include "timefmt.h"

#define EXIT_OK 0
#define EXIT_FAILURE_RUN 1
#define EXIT_USAGE 2

#define DEFAULT_CONFIG "/etc/carehub/carehub-notify.conf"
/* Notifications queued for digests in one transaction, at most. */
#define QUEUE_BATCH 500
/* How long to wait for the notification socket's connection before trying again. */
#define CONNECT_WAIT_MS 5000
/* Undeliverable notifications listed in one fallback report, at most. */
#define FALLBACK_BATCH 200
/* The longest subject sent, in bytes (RFC 5322 allows 998 per line, encoded). */
#define SUBJECT_MAX 250
/* What stopping() returns: SIGTERM or SIGINT came; stop at the next safe point. */
#define STOP_REQUESTED (-EINTR)

struct notifier {
    struct notify_config config;
    struct notify_templates templates;
    struct notify_state *state;
    struct mail_relay *relay;
    struct client *api;
    struct client_follower *follower;
    int stop_fd;

    cJSON *head;              /* taken from the follower, not yet handled */
    int64_t head_failing_ms;  /* monotonic: when the relay first failed the head; 0: it has not */
    int64_t round_failing_ms; /* monotonic: when today's round first failed; 0: it has not */
    int64_t retry_at_ms;      /* monotonic; 0 when nothing waits to be tried again */
    int retry_delay_s;        /* the next wait, doubling up to retry.max_seconds */
    cJSON *cache;             /* directory replies of the current pass, by "op:key" */
    bool daemon_down;         /* the last request to the daemon failed (logged once) */
    bool clock_warned;        /* a clock reply without its fields was logged */
    bool day_warned;          /* a clock earlier than the last round was logged */
    long long next_request_id;

    /* The daemon's clock, as last read. */
    int64_t now_ms;
    char today[16];
    char local_time[8];
    bool working_day;
};

static void
usage(FILE *out)
{
    fprintf(out, "usage: carehub-notify [-c FILE] [-n] [-t ADDRESS]\n"
                 "       carehub-notify -h | -V\n"
                 "\n"
                 "Delivers carehubd's reminders, escalations and KPI alerts by email:\n"
                 "each manager's daily digest, and what must go out at once.\n"
                 "\n"
                 "  -c, --config FILE      the configuration (default " DEFAULT_CONFIG ")\n"
                 "  -n, --check            check the configuration and templates, then exit\n"
                 "  -t, --send-test ADDRESS  send one test message through the relay, then exit\n"
                 "  -h, --help             show this help\n"
                 "  -V, --version          show the version\n"
                 "\n"
                 "Exit status: 0 stopped by SIGTERM or SIGINT, or the check or test passed;\n"
                 "1 the configuration or templates are invalid, or delivery cannot go on;\n"
                 "2 the command line is wrong.\n");
}

/* ---- the daemon ---- */

/* True once SIGTERM or SIGINT has come: the caller stops at the next safe point. */
static bool
stopping(const struct notifier *n)
{
    struct pollfd pfd = {.fd = n->stop_fd, .events = POLLIN};

    return n->stop_fd >= 0 && poll(&pfd, 1, 0) > 0;
}

/* The error code of a daemon's error reply, "" when there is none. */
static const char *
error_code(const cJSON *reply)
{
    const cJSON *error = cJSON_GetObjectItemCaseSensitive(reply, "error");
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(error, "code");

    return cJSON_IsString(code) ? code->valuestring : "";
}

/*
 * Calls an op.  Returns 0 with *reply; -EREMOTEIO with *reply when the
 * daemon answered with an error (logged, unless it is not_found); or the
 * failure to reach it (logged once until it answers again).
 */
static int
call(struct notifier *n, cJSON *request, cJSON **reply)
{
    char err[512];
    int r = client_call(n->api, request, n->config.request_timeout_ms, reply, err, sizeof(err));

    if (r == -EREMOTEIO && strcmp(error_code(*reply), "not_found") != 0)
        log_warning("carehubd refused a %s request: %s",
                    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(request, "op")), err);
    if (r < 0 && r != -EREMOTEIO && r != -EPROTO) {
        if (!n->daemon_down)
            log_warning("cannot reach carehubd at %s: %s", n->config.api_endpoint, err);
        n->daemon_down = true;
        return r;
    }
    if (n->daemon_down)
        log_notice("carehubd at %s answers again", n->config.api_endpoint);
    n->daemon_down = false;
    return r;
}

/* An op with one string field, and an id of its own: {"op": op, "id": N, field: value}. */
static cJSON *
request_for(struct notifier *n, const char *op, const char *field, const char *value)
{
    cJSON *request = cJSON_CreateObject();

    if (request == NULL || cJSON_AddStringToObject(request, "op", op) == NULL ||
        cJSON_AddNumberToObject(request, "id", (double)++n->next_request_id) == NULL ||
        (field != NULL && cJSON_AddStringToObject(request, field, value) == NULL)) {
        cJSON_Delete(request);
        return NULL;
    }
    return request;
}

/*
 * Asks the directory op ("staff", "person" or "team") about key, through
 * the pass's cache.  Returns 0 with a borrowed reply; -ENOENT when the
 * directory has none (or the key is one it could never hold: bad_request);
 * -EAGAIN when the daemon could not answer now; -ENOMEM.
 */
static int
ask_directory(struct notifier *n, const char *op, const char *key, const cJSON **out)
{
    char name[300];
    const cJSON *cached;
    cJSON *request, *reply = NULL;
    int r;

    *out = NULL;
    if (n->cache == NULL && (n->cache = cJSON_CreateObject()) == NULL)
        return -ENOMEM;
    snprintf(name, sizeof(name), "%s:%s", op, key);
    cached = cJSON_GetObjectItemCaseSensitive(n->cache, name);
    if (cached == NULL) {
        request = request_for(n, op, strcmp(op, "team") == 0 ? "team_id" : "staff_id", key);
        if (request == NULL)
            return -ENOMEM;
        r = call(n, request, &reply);
        cJSON_Delete(request);
        if (r == -EREMOTEIO && (strcmp(error_code(reply), "not_found") == 0 ||
                                strcmp(error_code(reply), "bad_request") == 0)) {
            cJSON_Delete(reply);
            reply = cJSON_CreateNull(); /* remembered: no need to ask again in this pass */
        } else if (r < 0) {
            cJSON_Delete(reply);
            return r == -ENOMEM ? r : -EAGAIN;
        }
        if (reply == NULL)
            return -ENOMEM;
        if (!cJSON_AddItemToObject(n->cache, name, reply)) {
            cJSON_Delete(reply);
            return -ENOMEM;
        }
        cached = reply;
    }
    if (cJSON_IsNull(cached))
        return -ENOENT;
    *out = cached;
    return 0;
}

/* The composer's look-up (notify_lookup_fn): a person or a team. */
static int
lookup(void *context, const char *op, const char *key, const cJSON **out)
{
    return ask_directory(context, op, key, out);
}

static void
clear_cache(struct notifier *n)
{
    cJSON_Delete(n->cache);
    n->cache = cJSON_CreateObject(); /* NULL is tolerated: ask_directory() tries again */
}

/* Reads the daemon's clock: now, today, the local time and whether it is a working day. */
static int
read_clock(struct notifier *n)
{
    cJSON *request = request_for(n, "clock", NULL, NULL);
    cJSON *reply = NULL;
    const cJSON *today, *local_time, *now;
    int64_t now_ms;
    int r;

    if (request == NULL)
        return -ENOMEM;
    r = call(n, request, &reply);
    cJSON_Delete(request);
    if (r < 0) {
        cJSON_Delete(reply);
        return r;
    }
    today = cJSON_GetObjectItemCaseSensitive(reply, "today");
    local_time = cJSON_GetObjectItemCaseSensitive(reply, "local_time");
    now = cJSON_GetObjectItemCaseSensitive(reply, "now");
    if (!cJSON_IsString(today) || strlen(today->valuestring) != 10 || !cJSON_IsString(local_time) ||
        strlen(local_time->valuestring) != 5 || !cJSON_IsString(now) ||
        timefmt_parse_rfc3339(now->valuestring, &now_ms) < 0) {
        if (!n->clock_warned)
            log_error("carehubd's clock op did not say today, local_time and now as "
                      "expected (is carehubd older than this carehub-notify?)");
        n->clock_warned = true;
        cJSON_Delete(reply);
        return -EPROTO;
    }
    n->clock_warned = false;
    n->now_ms = now_ms;
    snprintf(n->today, sizeof(n->today), "%s", today->valuestring);
    snprintf(n->local_time, sizeof(n->local_time), "%s", local_time->valuestring);
    n->working_day = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(reply, "working_day"));
    cJSON_Delete(reply);
    return 0;
}

/* ---- state ---- */

/* A failure of the state file: nothing can be delivered safely, so the program stops. */
static int
state_failed(struct notifier *n, int r)
{
    log_error("the state file %s failed: %s", n->config.state_file, notify_state_error(n->state));
    notify_state_rollback(n->state);
    return r == -ENOMEM ? r : -EIO;
}

/* ---- delivery ---- */

static const char *
text_of(const cJSON *object, const char *key, const char *fallback)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, key);

    return cJSON_IsString(item) ? item->valuestring : fallback;
}

static int64_t
seq_of(const cJSON *notification)
{
    const cJSON *seq = cJSON_GetObjectItemCaseSensitive(notification, "seq");

    return cJSON_IsNumber(seq) ? (int64_t)seq->valuedouble : 0;
}

static int
seconds_until(int64_t at_ms)
{
    int64_t left = at_ms - client_now_ms();

    return left > 0 ? (int)((left + 999) / 1000) : 0;
}

static void
schedule_retry(struct notifier *n)
{
    if (n->retry_delay_s == 0)
        n->retry_delay_s = n->config.retry_first_seconds;
    n->retry_at_ms = client_now_ms() + (int64_t)n->retry_delay_s * 1000;
    n->retry_delay_s *= 2;
    if (n->retry_delay_s > n->config.retry_max_seconds)
        n->retry_delay_s = n->config.retry_max_seconds;
}

/* The daemon could not answer a look-up: wait, then try the same thing again. */
static int
directory_unavailable(struct notifier *n, const char *what)
{
    schedule_retry(n);
    log_warning("cannot look up %s in carehubd's directory just now; trying again in %d s", what,
                seconds_until(n->retry_at_ms));
    return -EAGAIN;
}

/*
 * Finds the recipient's staff record (borrowed in *staff) and address.
 * Returns 0; -ENOENT with a reason in why when they cannot be emailed; or
 * -EAGAIN / -ENOMEM.
 */
static int
resolve_recipient(struct notifier *n, const char *recipient_id, const cJSON **staff,
                  const char **address, char *why, size_t why_size)
{
    const cJSON *reply;
    int r = ask_directory(n, "staff", recipient_id, &reply);

    *staff = NULL;
    *address = NULL;
    if (r == -ENOENT) {
        snprintf(why, why_size, "is not in the staff directory");
        return -ENOENT;
    }
    if (r < 0)
        return r;
    *staff = cJSON_GetObjectItemCaseSensitive(reply, "staff");
    if (strcmp(text_of(*staff, "status", "active"), "left") == 0) {
        snprintf(why, why_size, "left on %s", text_of(*staff, "left_date", "?"));
        return -ENOENT;
    }
    *address = text_of(*staff, "email", NULL);
    if (*address == NULL || (*address)[0] == '\0') {
        snprintf(why, why_size, "has no email address in the staff directory");
        return -ENOENT;
    }
    if (strchr(*address, '@') == NULL || strpbrk(*address, " \t\r\n<>\"") != NULL) {
        snprintf(why, why_size, "has an email address that is not one (\"%.200s\")", *address);
        return -ENOENT;
    }
    return 0;
}

/* A copy of text fit for a header: control characters as spaces, at most max bytes (UTF-8 whole).
 */
static char *
header_copy(const char *text, size_t max)
{
    size_t length = text != NULL ? strlen(text) : 0;
    char *out;

    if (text == NULL)
        return NULL;
    if (length > max) {
        length = max;
        while (length > 0 && ((unsigned char)text[length] & 0xC0) == 0x80)
            length--; /* not inside a UTF-8 sequence */
    }
    out = strndup(text, length);
    for (char *c = out; c != NULL && *c != '\0'; c++)
        if ((unsigned char)*c < ' ' || *c == 0x7f)
            *c = ' ';
    return out;
}

/* Sends one rendered message; returns mail_send()'s result with err filled in. */
static int
send_message(struct notifier *n, const char *address, const char *to_name, const char *subject,
             const char *text, const char *html, const char *message_id, const char *attachment,
             char *err, size_t err_size)
{
    char *clean_name = header_copy(to_name, 200);
    char *clean_subject = header_copy(subject, SUBJECT_MAX);
    struct mail_message message = {
        .from = n->config.from,
        .from_name = n->config.from_name,
        .to = address,
        .to_name = clean_name,
        .subject = clean_subject,
        .text = text,
        .html = html,
        .message_id = message_id,
        .date_ms = n->now_ms,
    };
    int r;

    if (clean_subject == NULL || (to_name != NULL && clean_name == NULL)) {
        free(clean_name);
        free(clean_subject);
        snprintf(err, err_size, "out of memory");
        return -ENOMEM;
    }
    if (attachment != NULL) {
        message.attachment_name = "reviews.ics";
        message.attachment_type = "text/calendar; charset=UTF-8; method=PUBLISH";
        message.attachment = attachment;
        message.attachment_len = strlen(attachment);
    }
    r = mail_send(n->relay, &message, err, err_size);
    free(clean_name);
    free(clean_subject);
    return r;
}

/* Logs that a notification cannot be delivered to its recipient, and where it goes instead. */
static void
log_undeliverable(const struct notifier *n, const cJSON *notification, const char *recipient_id,
                  const char *reason)
{
    if (n->config.fallback == NULL)
        log_warning("notification %lld for %s could not be delivered: %s %s, and no "
                    "mail.fallback is set; its text: %s",
                    (long long)seq_of(notification), recipient_id, recipient_id, reason,
                    text_of(notification, "text", ""));
    else
        log_notice("notification %lld for %s goes to the fallback report: %s %s",
                   (long long)seq_of(notification), recipient_id, recipient_id, reason);
}

/* Queues one notification for the fallback report (or, with none set, logs it) and moves on. */
static int
park(struct notifier *n, const cJSON *notification, const char *reason)
{
    int r;

    log_undeliverable(n, notification, text_of(notification, "recipient_id", "?"), reason);
    if ((r = notify_state_begin(n->state)) < 0 ||
        (n->config.fallback != NULL &&
         (r = notify_state_queue_undeliverable(n->state, notification, reason)) < 0) ||
        (r = notify_state_set_cursor(n->state, seq_of(notification))) < 0 ||
        (r = notify_state_commit(n->state)) < 0)
        return state_failed(n, r);
    n->head_failing_ms = 0;
    return 0;
}

/*
 * What to do after a failed send of what (begun failing at *failing_ms,
 * monotonic; 0 the first time):
 *   -EPERM (the address refused), -EBADMSG (the message refused) and -EINVAL
 *   (a message that could not be put together) are for good, so that one
 *   message never holds up the ones after it: -ENOENT, with why filled in;
 *   -EAGAIN (the relay unreachable, or "try later") waits and tries again,
 *   up to retry.give_up_seconds after the first failure, then is for good;
 *   -EIO (TLS, authentication, a sender refused: a setting to fix) waits
 *   and tries again until it is fixed: -EAGAIN.
 */
static int
after_failure(struct notifier *n, int r, const char *what, const char *address, const char *err,
              int64_t *failing_ms, char *why, size_t why_size)
{
    int64_t now = client_now_ms();

    if (r == -EINVAL || r == -ENOMEM) {
        log_error("%s to %s could not be put together: %s", what, address, err);
        snprintf(why, why_size,
                 "could not be emailed at %s: the message could not be put "
                 "together (%s)",
                 address, err);
        return -ENOENT;
    }
    if (r == -EPERM || r == -EBADMSG) {
        log_warning("%s to %s was refused for good: %s", what, address, err);
        snprintf(why, why_size, "could not be emailed at %s: %s", address, err);
        return -ENOENT;
    }
    if (*failing_ms == 0)
        *failing_ms = now;
    if (r == -EAGAIN && now - *failing_ms >= (int64_t)n->config.retry_give_up_seconds * 1000) {
        log_warning("%s to %s: giving up after %d s of temporary failures: %s", what, address,
                    (int)((now - *failing_ms) / 1000), err);
        snprintf(why, why_size,
                 "could not be emailed at %s: the relay did not take it for %d s "
                 "(last: %s)",
                 address, (int)((now - *failing_ms) / 1000), err);
        return -ENOENT;
    }
    schedule_retry(n);
    log_warning("could not send %s to %s: %s; trying again in %d s", what, address, err,
                seconds_until(n->retry_at_ms));
    return -EAGAIN;
}

/* Delivers one notification that goes out on its own.  -EAGAIN: try again later. */
static int
deliver_single(struct notifier *n, const cJSON *notification)
{
    const char *recipient_id = text_of(notification, "recipient_id", "");
    bool alert = strcmp(text_of(notification, "type", ""), "alert") == 0;
    struct notify_lookup directory = {lookup, n};
    const cJSON *staff;
    const char *address;
    char why[900], err[600], seq[32], message_id[320];
    char *subject = NULL, *text = NULL, *html = NULL;
    cJSON *data = NULL;
    int r;

    r = resolve_recipient(n, recipient_id, &staff, &address, why, sizeof(why));
    if (r == -ENOENT)
        return park(n, notification, why);
    if (r < 0)
        return r == -ENOMEM ? r : directory_unavailable(n, recipient_id);
    struct notify_envelope envelope = {n->config.organisation, n->today, staff};
    r = notify_compose_single(notification, &envelope, &directory, &data);
    if (r < 0)
        return r == -ENOMEM ? r : directory_unavailable(n, "a notification's people and team");
    r = notify_templates_render(&n->templates, alert ? NOTIFY_ALERT : NOTIFY_IMMEDIATE, data,
                                &subject, &text, &html, err, sizeof(err));
    cJSON_Delete(data);
    if (r < 0) {
        log_error("notification %lld: %s", (long long)seq_of(notification), err);
        snprintf(why, sizeof(why), "the message could not be written: %s", err);
        return park(n, notification, why);
    }
    snprintf(seq, sizeof(seq), "%lld", (long long)seq_of(notification));
    notify_compose_message_id(message_id, sizeof(message_id), n->config.message_id_domain, "n", seq,
                              NULL);
    r = send_message(n, address, text_of(staff, "name", NULL), subject, text, html, message_id,
                     NULL, err, sizeof(err));
    if (r == 0) {
        log_info("sent \"%s\" to %s (notification %s)", subject, address, seq);
        if ((r = notify_state_begin(n->state)) < 0 ||
            (r = notify_state_log_delivery(n->state, message_id, address, subject,
                                           alert ? "alert" : "immediate", seq_of(notification),
                                           seq_of(notification), n->now_ms)) < 0 ||
            (r = notify_state_set_cursor(n->state, seq_of(notification))) < 0 ||
            (r = notify_state_commit(n->state)) < 0) {
            r = state_failed(n, r);
        } else {
            n->retry_delay_s = 0;
            n->head_failing_ms = 0;
        }
    } else {
        r = after_failure(n, r, "notification", address, err, &n->head_failing_ms, why,
                          sizeof(why));
        if (r == -ENOENT)
            r = park(n, notification, why);
    }
    free(subject);
    free(text);
    free(html);
    return r;
}

/*
 * Checks what the daemon sent before anything relies on it: a positive
 * whole seq after the cursor, a type, a recipient id of 1 to 128 bytes.
 * Returns NULL when it is fine, else why not.
 */
static const char *
malformed(const struct notifier *n, const cJSON *notification)
{
    const cJSON *seq = cJSON_GetObjectItemCaseSensitive(notification, "seq");
    const char *recipient = text_of(notification, "recipient_id", NULL);

    if (!cJSON_IsNumber(seq) || seq->valuedouble < 1 || seq->valuedouble > 9007199254740992.0 ||
        seq->valuedouble != (double)(int64_t)seq->valuedouble ||
        (int64_t)seq->valuedouble <= notify_state_cursor(n->state))
        return "its seq is not a whole number after the last one handled";
    if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(notification, "type")))
        return "it has no type";
    if (recipient == NULL || recipient[0] == '\0' || strlen(recipient) > 128)
        return "its recipient_id is not an id";
    return NULL;
}

/*
 * Handles every notification the follower has: queues those for digests
 * (in batches) and delivers those that go out at once.  Returns 0 when all
 * are handled, -EAGAIN when one waits to be tried again, STOP_REQUESTED, or
 * a fatal error.
 */
static int
deliver_pending(struct notifier *n)
{
    int queued = 0;
    int r = 0;

    /* What the directory said holds for one pass: fresh each time, shared by its messages. */
    clear_cache(n);
    for (;;) {
        const char *bad;

        if (stopping(n)) {
            r = STOP_REQUESTED;
            break;
        }
        if (n->head == NULL) {
            r = client_follower_next(n->follower, &n->head);
            if (r == 0)
                break;
            if (r < 0) {
                if (!n->daemon_down)
                    log_warning("cannot fetch notifications: %s",
                                client_follower_error(n->follower));
                n->daemon_down = true;
                r = -EAGAIN;
                break;
            }
            n->daemon_down = false;
            n->head_failing_ms = 0;
        }
        bad = malformed(n, n->head);
        if (bad != NULL) {
            char *text = cJSON_PrintUnformatted(n->head);
            log_error("skipping a notification carehubd sent: %s: %.400s", bad,
                      text != NULL ? text : "?");
            free(text);
            if (cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(n->head, "seq")) &&
                seq_of(n->head) > notify_state_cursor(n->state)) {
                if (queued == 0 && (r = notify_state_begin(n->state)) < 0)
                    return state_failed(n, r);
                if ((r = notify_state_set_cursor(n->state, seq_of(n->head))) < 0)
                    return state_failed(n, r);
                queued++;
            }
        } else if (notify_compose_is_immediate(&n->config, n->head)) {
            if (queued > 0 && (r = notify_state_commit(n->state)) < 0)
                return state_failed(n, r);
            queued = 0;
            r = deliver_single(n, n->head);
            if (r < 0)
                return r; /* the head stays, for the next try */
        } else {
            if (queued == 0 && (r = notify_state_begin(n->state)) < 0)
                return state_failed(n, r);
            if ((r = notify_state_queue_digest(n->state, n->head)) < 0 ||
                (r = notify_state_set_cursor(n->state, seq_of(n->head))) < 0)
                return state_failed(n, r);
            queued++;
        }
        if (queued >= QUEUE_BATCH) {
            if ((r = notify_state_commit(n->state)) < 0)
                return state_failed(n, r);
            queued = 0;
        }
        cJSON_Delete(n->head);
        n->head = NULL;
    }
    if (queued > 0) {
        int committed = notify_state_commit(n->state);
        if (committed < 0)
            return state_failed(n, committed);
    }
    return r;
}

/* ---- the daily round ---- */

/* The manager's calendar of upcoming and overdue reviews, or NULL (logged) when it cannot be had.
 */
static char *
build_calendar(struct notifier *n, const char *manager_id, const char *manager_name)
{
    cJSON *all = cJSON_CreateArray();
    char *out = NULL;
    char err[512];
    int count;

    for (int i = 0; i < 2 && all != NULL; i++) {
        cJSON *request = request_for(n, i == 0 ? "due" : "overdue", "manager_id", manager_id);
        cJSON *reply = NULL;
        const cJSON *item;
        if (request == NULL ||
            (i == 0 && cJSON_AddNumberToObject(request, "days", n->config.calendar_days) == NULL) ||
            cJSON_AddNumberToObject(request, "limit", 10000) == NULL ||
            call(n, request, &reply) < 0) {
            cJSON_Delete(request);
            cJSON_Delete(reply);
            cJSON_Delete(all);
            log_warning("the calendar for %s could not be made: carehubd did not answer",
                        manager_id);
            return NULL;
        }
        cJSON_Delete(request);
        cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(reply, "obligations"))
            cJSON_AddItemToArray(all, cJSON_Duplicate(item, true));
        cJSON_Delete(reply);
    }
    if (all != NULL && calendar_build(all, manager_name, n->now_ms, n->config.message_id_domain,
                                      &out, &count, err, sizeof(err)) < 0) {
        log_warning("the calendar for %s could not be made: %s", manager_id, err);
        out = NULL;
    }
    cJSON_Delete(all);
    return out;
}

/* Moves a recipient's queued digest items to the fallback report. */
static int
park_digest(struct notifier *n, const char *recipient_id, const cJSON *items, int64_t last_seq,
            const char *why)
{
    const cJSON *item;
    int r;

    if (n->config.fallback != NULL)
        log_notice("the digest for %s goes to the fallback report: %s %s", recipient_id,
                   recipient_id, why);
    if ((r = notify_state_begin(n->state)) < 0)
        return state_failed(n, r);
    cJSON_ArrayForEach(item, items)
    {
        if (n->config.fallback == NULL)
            log_undeliverable(n, item, recipient_id, why);
        else if ((r = notify_state_queue_undeliverable(n->state, item, why)) < 0)
            return state_failed(n, r);
    }
    if ((r = notify_state_digest_done(n->state, recipient_id, last_seq)) < 0 ||
        (r = notify_state_commit(n->state)) < 0)
        return state_failed(n, r);
    return 0;
}

/* Sends one recipient's digest of items up to round_seq.  -EAGAIN: try again later. */
static int
send_digest(struct notifier *n, const char *recipient_id, int64_t round_seq)
{
    struct notify_lookup directory = {lookup, n};
    cJSON *items = NULL, *data = NULL;
    const cJSON *staff;
    const char *address;
    char why[900], err[600], last[32], message_id[320];
    char *subject = NULL, *text = NULL, *html = NULL, *calendar = NULL;
    int64_t first_seq, last_seq;
    int r;

    if ((r = notify_state_digest_items(n->state, recipient_id, round_seq, &items)) < 0)
        return state_failed(n, r);
    if (cJSON_GetArraySize(items) == 0) {
        cJSON_Delete(items);
        return 0;
    }
    first_seq = seq_of(cJSON_GetArrayItem(items, 0));
    last_seq = seq_of(cJSON_GetArrayItem(items, cJSON_GetArraySize(items) - 1));
    r = resolve_recipient(n, recipient_id, &staff, &address, why, sizeof(why));
    if (r == -ENOENT) {
        r = park_digest(n, recipient_id, items, last_seq, why);
        goto done;
    }
    if (r < 0)
        goto done;
    if (n->config.attach_calendar)
        calendar = build_calendar(n, recipient_id, text_of(staff, "name", recipient_id));
    struct notify_envelope envelope = {n->config.organisation, n->today, staff};
    r = notify_compose_digest(items, &envelope, calendar != NULL, &directory, &data);
    if (r < 0)
        goto done;
    if (cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(data, "counts"), "total")) == 0) {
        /* Everything in it was done since: nothing to say. */
        log_info("no digest for %s today: what was queued for them is done", recipient_id);
        if ((r = notify_state_begin(n->state)) < 0 ||
            (r = notify_state_digest_done(n->state, recipient_id, last_seq)) < 0 ||
            (r = notify_state_commit(n->state)) < 0)
            r = state_failed(n, r);
        goto done;
    }
    r = notify_templates_render(&n->templates, NOTIFY_DIGEST, data, &subject, &text, &html, err,
                                sizeof(err));
    if (r < 0) {
        log_error("the digest for %s: %s", recipient_id, err);
        snprintf(why, sizeof(why), "the message could not be written: %s", err);
        r = park_digest(n, recipient_id, items, last_seq, why);
        goto done;
    }
    snprintf(last, sizeof(last), "%lld", (long long)last_seq);
    notify_compose_message_id(message_id, sizeof(message_id), n->config.message_id_domain, "digest",
                              recipient_id, last);
    r = send_message(n, address, text_of(staff, "name", NULL), subject, text, html, message_id,
                     calendar, err, sizeof(err));
    if (r == 0) {
        log_info("sent the digest \"%s\" to %s (notifications %lld to %lld)", subject, address,
                 (long long)first_seq, (long long)last_seq);
        if ((r = notify_state_begin(n->state)) < 0 ||
            (r = notify_state_log_delivery(n->state, message_id, address, subject, "digest",
                                           first_seq, last_seq, n->now_ms)) < 0 ||
            (r = notify_state_digest_done(n->state, recipient_id, last_seq)) < 0 ||
            (r = notify_state_commit(n->state)) < 0)
            r = state_failed(n, r);
    } else {
        r = after_failure(n, r, "the digest", address, err, &n->round_failing_ms, why, sizeof(why));
        if (r == -ENOENT)
            r = park_digest(n, recipient_id, items, last_seq, why);
    }
done:
    cJSON_Delete(items);
    cJSON_Delete(data);
    free(subject);
    free(text);
    free(html);
    free(calendar);
    return r;
}

/*
 * Sends the reports of what could not be delivered (up to round_seq) to
 * mail.fallback, FALLBACK_BATCH notifications per message.  -EAGAIN: later.
 */
static int
send_fallback_reports(struct notifier *n, int64_t round_seq)
{
    struct notify_lookup directory = {lookup, n};
    struct notify_envelope envelope = {n->config.organisation, n->today, NULL};
    int r = 0;

    while (r == 0 && n->config.fallback != NULL) {
        cJSON *undeliverable = NULL, *data = NULL;
        char *subject = NULL, *text = NULL, *html = NULL;
        char err[600], why[900], range[64], message_id[320];
        int64_t first_seq, last_seq;
        int count;

        if (stopping(n))
            return STOP_REQUESTED;
        if ((r = notify_state_undeliverable(n->state, round_seq, FALLBACK_BATCH, &undeliverable)) <
            0)
            return state_failed(n, r);
        count = cJSON_GetArraySize(undeliverable);
        if (count == 0) {
            cJSON_Delete(undeliverable);
            return 0;
        }
        first_seq = seq_of(
            cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(undeliverable, 0), "notification"));
        last_seq = seq_of(cJSON_GetObjectItemCaseSensitive(
            cJSON_GetArrayItem(undeliverable, count - 1), "notification"));
        r = notify_compose_fallback(undeliverable, &envelope, &directory, &data);
        if (r < 0) {
            r = r == -ENOMEM ? r : directory_unavailable(n, "the people in the fallback report");
        } else if ((r = notify_templates_render(&n->templates, NOTIFY_FALLBACK, data, &subject,
                                                &text, &html, err, sizeof(err))) < 0) {
            /* Names are checked at start, so this is a limit reached: keep them for tomorrow. */
            log_error("the fallback report could not be written (its notifications stay "
                      "queued): %s",
                      err);
            r = 1;
        } else {
            snprintf(range, sizeof(range), "%lld-%lld", (long long)first_seq, (long long)last_seq);
            notify_compose_message_id(message_id, sizeof(message_id), n->config.message_id_domain,
                                      "fallback", n->today, range);
            r = send_message(n, n->config.fallback, NULL, subject, text, html, message_id, NULL,
                             err, sizeof(err));
            if (r == 0) {
                log_info("sent the report of %d undeliverable notifications to %s", count,
                         n->config.fallback);
                if ((r = notify_state_begin(n->state)) < 0 ||
                    (r = notify_state_log_delivery(n->state, message_id, n->config.fallback,
                                                   subject, "fallback", first_seq, last_seq,
                                                   n->now_ms)) < 0 ||
                    (r = notify_state_undeliverable_done(n->state, last_seq)) < 0 ||
                    (r = notify_state_commit(n->state)) < 0)
                    r = state_failed(n, r);
            } else {
                int64_t never = 0; /* the report is never given up: it is the last resort */
                r = after_failure(n, r, "the fallback report", n->config.fallback, err, &never, why,
                                  sizeof(why));
                if (r == -ENOENT) {
                    log_error("mail.fallback (%s) is refused; the undeliverable notifications "
                              "stay queued: %s",
                              n->config.fallback, why);
                    r = 1;
                }
            }
        }
        cJSON_Delete(undeliverable);
        cJSON_Delete(data);
        free(subject);
        free(text);
        free(html);
    }
    return r > 0 ? 0 : r;
}

/* True when today's round is due: a working day, digest.time passed, not done yet. */
static bool
round_due(struct notifier *n)
{
    int order = strcmp(notify_state_digest_day(n->state), n->today);

    if (order > 0 && !n->day_warned) {
        log_warning("carehubd's today (%s) is before the last round carehub-notify did (%s): "
                    "was its clock put back?  No digests go out until that day has passed",
                    n->today, notify_state_digest_day(n->state));
        n->day_warned = true;
    }
    return n->working_day && strcmp(n->local_time, n->config.digest_time) >= 0 && order < 0;
}

/*
 * The daily round: every digest queued before the round began (each
 * recipient at most once: see notify_state_start_round()), then the
 * fallback reports.  A recipient whose digest cannot go now does not hold
 * up the others.  -EAGAIN: some are left for later.
 */
static int
daily_round(struct notifier *n)
{
    cJSON *recipients = NULL;
    const cJSON *recipient;
    int64_t round_seq;
    bool unfinished = false;
    int r;

    clear_cache(n);
    if ((r = notify_state_start_round(n->state, n->today, &round_seq)) < 0 ||
        (r = notify_state_digest_recipients(n->state, round_seq, &recipients)) < 0)
        return state_failed(n, r);
    cJSON_ArrayForEach(recipient, recipients)
    {
        if (stopping(n)) {
            cJSON_Delete(recipients);
            return STOP_REQUESTED;
        }
        r = send_digest(n, recipient->valuestring, round_seq);
        if (r == -EAGAIN) {
            unfinished = true;
            continue;
        }
        if (r < 0) {
            cJSON_Delete(recipients);
            return r;
        }
    }
    cJSON_Delete(recipients);
    if (unfinished)
        return -EAGAIN;
    r = send_fallback_reports(n, round_seq);
    if (r < 0)
        return r;
    if ((r = notify_state_begin(n->state)) < 0 ||
        (r = notify_state_set_digest_day(n->state, n->today)) < 0 ||
        (r = notify_state_commit(n->state)) < 0)
        return state_failed(n, r);
    n->round_failing_ms = 0;
    n->retry_delay_s = 0;
    log_info("the round for %s is done", n->today);
    return 0;
}

/* ---- running ---- */

/*
 * Logs loudly when carehubd's notifications end before this program's
 * cursor: its database was replaced (restored from an older backup, or
 * started afresh), and notifications up to the cursor will be skipped.
 */
static void
check_cursor(struct notifier *n)
{
    cJSON *request = request_for(n, "notifications", NULL, NULL);
    cJSON *reply = NULL;
    const cJSON *last;

    if (request == NULL || cJSON_AddNumberToObject(request, "limit", 1) == NULL ||
        call(n, request, &reply) < 0) {
        cJSON_Delete(request);
        cJSON_Delete(reply);
        return;
    }
    last = cJSON_GetObjectItemCaseSensitive(reply, "last_seq");
    if (cJSON_IsNumber(last) && last->valuedouble < (double)notify_state_cursor(n->state))
        log_error("carehubd's notifications end at %lld, but this carehub-notify has handled "
                  "them up to %lld: was carehubd's database replaced?  New notifications up to "
                  "%lld will not be delivered; see docs/notify.md to start from carehubd's "
                  "last one",
                  (long long)last->valuedouble, (long long)notify_state_cursor(n->state),
                  (long long)notify_state_cursor(n->state));
    cJSON_Delete(request);
    cJSON_Delete(reply);
}

/* Connects to the daemon and starts following from the cursor.  1: stopped by a signal. */
static int
connect_daemon(struct notifier *n)
{
    struct client_security security;
    char err[512];
    int r;

    /* Only the configuration's keys: not the environment's, which are for the tools. */
    memset(&security, 0, sizeof(security));
    if (n->config.api_key_file != NULL) {
        r = client_security_load(&security, n->config.api_key_file, n->config.api_server_key, err,
                                 sizeof(err));
        if (r < 0) {
            log_error("api.key_file, api.server_key: %s", err);
            return r;
        }
    }
    /* The follower uses the same credentials for its subscription. */
    r = client_open_secure(&n->api, n->config.api_endpoint, 0, &security, err, sizeof(err));
    explicit_bzero(&security, sizeof(security));
    if (r < 0) {
        log_error("api.endpoint: %s", err);
        return r;
    }
    for (;;) {
        r = client_follower_open(&n->follower, n->api, n->config.notify_endpoint, NULL,
                                 CONNECT_WAIT_MS, n->stop_fd, err, sizeof(err));
        if (r == -EINTR)
            return 1;
        if (r == 0)
            break;
        if (r != -ETIMEDOUT) {
            log_error("notify.endpoint: %s", err);
            return r;
        }
        log_warning("waiting for carehubd: %s", err);
    }
    check_cursor(n);
    r = client_follower_start(n->follower, notify_state_cursor(n->state));
    if (r < 0)
        log_warning("cannot catch up yet: %s", client_follower_error(n->follower));
    log_notice("following carehubd's notifications after %lld",
               (long long)notify_state_cursor(n->state));
    return 0;
}

static int
run(struct notifier *n)
{
    int r = connect_daemon(n);

    if (r != 0)
        return r > 0 ? 0 : r;
    for (;;) {
        zmq_pollitem_t items[2] = {
            {.socket = client_follower_socket(n->follower), .events = ZMQ_POLLIN},
            {.fd = n->stop_fd, .events = ZMQ_POLLIN},
        };
        long timeout = n->config.clock_poll_ms;
        int64_t now = client_now_ms();

        if (n->retry_at_ms != 0 && n->retry_at_ms - now < timeout)
            timeout = n->retry_at_ms > now ? (long)(n->retry_at_ms - now) : 0;
        if (zmq_poll(items, 2, timeout) < 0 && zmq_errno() != EINTR) {
            log_error("cannot wait for notifications: %s", zmq_strerror(zmq_errno()));
            return -EIO;
        }
        if (items[1].revents & ZMQ_POLLIN)
            break;
        if ((items[0].revents & ZMQ_POLLIN) && client_follower_receive(n->follower) < 0) {
            log_error("cannot read notifications: %s", zmq_strerror(zmq_errno()));
            return -EIO;
        }
        if (n->retry_at_ms != 0 && client_now_ms() < n->retry_at_ms)
            continue;
        n->retry_at_ms = 0;
        /* The clock first: every notification written before this moment is then fetched. */
        if (read_clock(n) < 0)
            continue;
        client_follower_recheck(n->follower);
        r = deliver_pending(n);
        if (r == STOP_REQUESTED)
            break;
        if (r < 0 && r != -EAGAIN)
            return r;
        /* A message waiting to be tried again does not hold up the day's digests. */
        if (round_due(n)) {
            r = daily_round(n);
            if (r == STOP_REQUESTED)
                break;
            if (r < 0 && r != -EAGAIN)
                return r;
        }
    }
    log_notice("stopping");
    return 0;
}

static int
send_test(struct notifier *n, const char *address)
{
    char err[600], message_id[320], stamp[32];
    char text[1024];
    int r;

    n->now_ms = (int64_t)time(NULL) * 1000;
    snprintf(stamp, sizeof(stamp), "%lld", (long long)n->now_ms);
    notify_compose_message_id(message_id, sizeof(message_id), n->config.message_id_domain, "test",
                              stamp, NULL);
    snprintf(text, sizeof(text),
             "This is a test message from carehub-notify, sent through %s.\n\nIf you can read "
             "it, managers will receive their reminders at the addresses in the staff "
             "directory.\n",
             n->config.smtp_url);
    r = send_message(n, address, NULL, "carehub-notify: test message", text, NULL, message_id, NULL,
                     err, sizeof(err));
    if (r < 0) {
        fprintf(stderr, "carehub-notify: the test message was not sent: %s\n", err);
        return EXIT_FAILURE_RUN;
    }
    printf("carehub-notify: %s accepted the test message for %s\n", n->config.smtp_url, address);
    return EXIT_OK;
}

int
main(int argc, char **argv)
{
    static const struct option long_options[] = {
        {"config", required_argument, NULL, 'c'},    {"check", no_argument, NULL, 'n'},
        {"send-test", required_argument, NULL, 't'}, {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},         {NULL, 0, NULL, 0},
    };
    struct notifier n = {.stop_fd = -1};
    struct notify_config_errors errors;
    const char *config_path = DEFAULT_CONFIG;
    const char *test_address = NULL;
    bool check = false;
    char err[1024];
    int status = EXIT_FAILURE_RUN;
    int opt, r;

    opterr = 0;
    while ((opt = getopt_long(argc, argv, "c:nt:hV", long_options, NULL)) != -1) {
        switch (opt) {
        case 'c':
            config_path = optarg;
            break;
        case 'n':
            check = true;
            break;
        case 't':
            test_address = optarg;
            break;
        case 'h':
            usage(stdout);
            return EXIT_OK;
        case 'V':
            printf("carehub-notify %s\n", CAREHUB_VERSION);
            return EXIT_OK;
        default:
            if (optopt != 0 && strchr("ct", optopt) != NULL)
                fprintf(stderr, "carehub-notify: -%c needs a value\n", optopt);
            else if (optopt != 0)
                fprintf(stderr, "carehub-notify: unknown option -%c\n", optopt);
            else /* an unknown long option: getopt has moved past it */
                fprintf(stderr, "carehub-notify: unknown option %s\n", argv[optind - 1]);
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "carehub-notify: unexpected argument \"%s\"\n", argv[optind]);
        usage(stderr);
        return EXIT_USAGE;
    }
    if (check && test_address != NULL) {
        fprintf(stderr, "carehub-notify: give -n or -t, not both\n");
        usage(stderr);
        return EXIT_USAGE;
    }

    r = notify_config_load(config_path, &n.config, &errors);
    if (r < 0) {
        for (int i = 0; i < errors.count && i < NOTIFY_CONFIG_MAX_ERRORS; i++)
            fprintf(stderr, "carehub-notify: %s\n", errors.text[i]);
        if (errors.count > NOTIFY_CONFIG_MAX_ERRORS)
            fprintf(stderr, "carehub-notify: ... and %d more errors\n",
                    errors.count - NOTIFY_CONFIG_MAX_ERRORS);
        if (r == -ENOMEM)
            fprintf(stderr, "carehub-notify: out of memory\n");
        goto out;
    }
    r = notify_templates_load(&n.templates, n.config.templates, err, sizeof(err));
    if (r < 0) {
        fprintf(stderr, "carehub-notify: %s\n", r == -ENOMEM ? "out of memory" : err);
        goto out;
    }
    if (check) {
        printf("carehub-notify: %s and its templates are valid\n", config_path);
        status = EXIT_OK;
        goto out;
    }
    struct mail_relay_options relay = {
        .url = n.config.smtp_url,
        .tls = n.config.smtp_tls,
        .username = n.config.smtp_username,
        .password = n.config.smtp_password,
        .ca_file = n.config.smtp_ca_file,
        .verify_peer = n.config.smtp_verify,
        .timeout_ms = (long)n.config.smtp_timeout_seconds * 1000,
        .helo_name = n.config.smtp_helo,
    };
    r = mail_relay_open(&n.relay, &relay, err, sizeof(err));
    if (r < 0) {
        fprintf(stderr, "carehub-notify: smtp.url: %s\n", err);
        goto out;
    }
    if (test_address != NULL) {
        status = send_test(&n, test_address);
        goto out;
    }

    log_init("carehub-notify", n.config.log_level);
    n.stop_fd = client_open_signal_fd(); /* before any ZeroMQ thread exists */
    if (n.stop_fd < 0) {
        log_error("cannot watch for signals: %s", strerror(-n.stop_fd));
        goto out;
    }
    signal(SIGPIPE, SIG_IGN);
    r = notify_state_open(&n.state, n.config.state_file, err, sizeof(err));
    if (r < 0) {
        log_error("%s", err);
        goto out;
    }
    n.cache = cJSON_CreateObject();
    if (n.cache == NULL)
        goto out;
    if (n.config.fallback == NULL)
        log_warning("no mail.fallback is set: notifications for people without an email "
                    "address will only be logged");
    if (n.config.smtp_tls == MAIL_TLS_NONE)
        log_warning("smtp.tls is \"none\": messages go to %s unencrypted", n.config.smtp_url);
    log_notice("carehub-notify %s starting: relay %s, digest at %s on working days",
               CAREHUB_VERSION, n.config.smtp_url, n.config.digest_time);
    status = run(&n) < 0 ? EXIT_FAILURE_RUN : EXIT_OK;
out:
    cJSON_Delete(n.head);
    cJSON_Delete(n.cache);
    client_follower_close(n.follower);
    client_close(n.api);
    notify_state_close(n.state);
    mail_relay_close(n.relay);
    notify_templates_free(&n.templates);
    notify_config_free(&n.config);
    if (n.stop_fd >= 0)
        close(n.stop_fd);
    curl_global_cleanup();
    return status;
}

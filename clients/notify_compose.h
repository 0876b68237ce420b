/*
 * notify_compose: what carehub-notify's messages say, as pure functions.
 *
 * Each function turns notifications (the records of the daemon's
 * "notifications" op) and what the staff directory says about the people
 * and teams in them into the data a template is rendered with (the names
 * docs/notify.md lists).  The directory is read through a lookup function
 * the caller supplies, so that these functions do no I/O: carehub-notify
 * asks the daemon's API; the unit tests answer from fixtures.
 *
 * Nothing here logs.  Functions that can fail return 0 or a negative errno
 * code; -ENOMEM when memory ran out, or whatever the lookup returned.
 */
#ifndef CAREHUB_NOTIFY_COMPOSE_H
#define CAREHUB_NOTIFY_COMPOSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

struct notify_config;

/* The messages carehub-notify sends; each has its own templates. */
enum notify_message {
    NOTIFY_DIGEST = 0, /* one manager's daily digest */
    NOTIFY_IMMEDIATE,  /* one reminder or escalation, on its own */
    NOTIFY_ALERT,      /* one KPI alert, on its own */
    NOTIFY_FALLBACK,   /* the daily list of what could not be delivered */
    NOTIFY_MESSAGE_COUNT,
};

/* The section name of a message in the templates file: "digest", "immediate", ... */
const char *notify_message_name(enum notify_message message);

/*
 * Looks up the directory: op is "person" (key a staff id; the person op's
 * reply) or "team" (key a team id; the team op's reply).  Stores the reply,
 * borrowed (valid until the composing call returns), in *reply and returns
 * 0; -ENOENT when the directory has no such person or team; another
 * negative errno code when it could not be asked (the caller tries again
 * later).
 */
typedef int (*notify_lookup_fn)(void *context, const char *op, const char *key,
                                const cJSON **reply);

struct notify_lookup {
    notify_lookup_fn fn;
    void *context;
};

/* What every message shows: who it is for, from whom, and when. */
struct notify_envelope {
    const char *organisation; /* borrowed */
    const char *today;        /* YYYY-MM-DD in the organisation's time zone; borrowed */
    const cJSON *recipient;   /* the staff op's "staff" object; borrowed; NULL for the fallback */
};

/*
 * Whether a notification goes out on its own (true) or waits for the
 * recipient's digest (false): escalations from
 * digest.immediate_escalation_level up, KPI alerts when
 * digest.immediate_alerts, and everything when the digest is off.
 */
bool notify_compose_is_immediate(const struct notify_config *config, const cJSON *notification);

/*
 * The template data for a digest of items (borrowed: the recipient's queued
 * notifications, seq rising) into *out (the caller's).  Items about an
 * obligation that is no longer open (done, waived, cancelled since) are left
 * out, and only the latest notification about each obligation (or each
 * team's figure and period, for alerts) is kept.  (*out)."counts"."total"
 * is 0 when nothing is left to say.
 */
int notify_compose_digest(const cJSON *items, const struct notify_envelope *envelope,
                          bool calendar_attached, const struct notify_lookup *lookup, cJSON **out);

/* The template data for one reminder, escalation (NOTIFY_IMMEDIATE) or alert (NOTIFY_ALERT). */
int notify_compose_single(const cJSON *notification, const struct notify_envelope *envelope,
                          const struct notify_lookup *lookup, cJSON **out);

/*
 * The template data for the fallback report of undeliverable (borrowed:
 * objects {"reason", "notification"}, seq rising), grouped by recipient.
 */
int notify_compose_fallback(const cJSON *undeliverable, const struct notify_envelope *envelope,
                            const struct notify_lookup *lookup, cJSON **out);

/*
 * Sample data for message, holding every name a template of it may use
 * (each list with entries), for checking templates at start.  The caller's;
 * NULL when memory ran out.
 */
cJSON *notify_compose_sample(enum notify_message message);

/* "2026-03-09" as "Monday 9 March 2026" into buf; the text as it is when it is not a date. */
void notify_compose_format_day(const char *day, char *buf, size_t size);

/*
 * A Message-ID, "<carehub.PARTS@domain>", into buf: parts joined by '.',
 * each reduced to letters, digits, '-' and '_' (others become '_').  The
 * same parts give the same id, so a message sent again after a crash can be
 * recognised by mail programs.
 */
void notify_compose_message_id(char *buf, size_t size, const char *domain, const char *part1,
                               const char *part2, const char *part3);

#endif

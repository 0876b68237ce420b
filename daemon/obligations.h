/*
 * obligations: what each event means for people's review obligations, and
 * the scheduler's step that sends the reminders and escalations that are due.
 *
 * Runs on the writer, inside the transaction that stores the event (or, for
 * the scheduler, that records what was sent), so an obligation's change, the
 * notifications it causes and the event that caused it are committed
 * together or not at all.  The rules of each event are in docs/reviews.md;
 * the date arithmetic is in schedule.c.
 */
#ifndef CAREHUB_OBLIGATIONS_H
#define CAREHUB_OBLIGATIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "directory.h"
#include "event.h"
#include "kinds.h"
#include "store.h"

/* What the PUB socket carries for one new notification: nothing personal beyond ids. */
struct obligations_notice {
    int64_t seq;
    char type[16]; /* "reminder", "escalation" or "alert" */
    char recipient_id[DIR_ID_SIZE];
    char kind[DIR_ID_SIZE]; /* an alert's metric */
    char item[DIR_ID_SIZE]; /* an alert's team */
    char step[DIR_ID_SIZE]; /* an alert's period ("2026-11") */
    int level;              /* an alert's state: 0 green, 1 amber, 2 red */
};

struct obligations;

/*
 * Creates the obligation logic over the writer connection and the writer's
 * directory (both borrowed, as is kinds, which must outlive it).
 */
int obligations_new(struct obligations **out, struct store *writer, const struct kinds *kinds,
                    const struct directory_source *directory);

/* Accepts NULL. */
void obligations_free(struct obligations *obligations);

/*
 * Works with kinds (borrowed, replacing the ones given before) from the next
 * transaction on; call between transactions.  Nothing stored is rewritten:
 * an obligation keeps its due date and the moment of its next action, and
 * when that moment comes the action is worked out from the kind as kinds
 * says (see take_action() and docs/configuration.md, "Reloading").
 */
void obligations_set_kinds(struct obligations *obligations, const struct kinds *kinds);

/*
 * Starts a transaction's work at now_ms (the daemon's clock, read on the
 * loop): forgets the notices of the last one.
 */
void obligations_begin(struct obligations *obligations, int64_t now_ms);

/*
 * Applies a stored event (sequence number seq).  For staff events, before is
 * the record as it was (NULL when the person is new or had left) and after as
 * it is now.  Returns 0 when applied; 1 when the event is rejected, with the
 * reason in *error and nothing written; or a negative code on failure.
 */
int obligations_apply(struct obligations *obligations, const struct event *event, int64_t seq,
                      const struct dir_staff *before, const struct dir_staff *after,
                      struct event_error *error);

/* True when some kind or course applies only to certain roles: a new role can change plans. */
bool obligations_depend_on_role(const struct kinds *kinds);

/* True when events of this type can change obligations (staff events are always passed). */
bool obligations_interested(enum event_type type);

/*
 * Sends (writes to the outbox) every reminder and escalation due at or
 * before the begin() time, oldest first, up to limit actions; those older
 * than the calendar's missed_after_days are recorded as missed instead.  Sets
 * *more when the limit stopped it with more due.
 */
int obligations_run_due(struct obligations *obligations, int limit, bool *more);

/* The earliest pending action's moment into *out_ms (0 when none). */
int obligations_next_ms(struct obligations *obligations, int64_t *out_ms);

/* The notices written since begin(), in sequence order (borrowed until the next begin()). */
const struct obligations_notice *obligations_notices(const struct obligations *obligations,
                                                     size_t *count);

/* Actions sent and recorded as missed since the obligations were created. */
void obligations_counts(const struct obligations *obligations, uint64_t *sent, uint64_t *missed);

/* How a notification's text introduces the policy link that ends it. */
#define OBLIGATIONS_POLICY_LEAD " Your organisation's guidance: "

/*
 * Writes the plain-English text of a notification into buf: what, for whom,
 * when it is due or how overdue, and what to do.  Pure; exposed for tests.
 */
void obligations_text(const struct notification *notification, const char *subject_name,
                      const char *what, int64_t today, char *buf, size_t size);

/* What an obligation is, in a few words: "Supervision", "Week 1 check-in", "... training renewal".
 */
void obligations_describe(const struct kinds *kinds, const struct obligation *obligation, char *buf,
                          size_t size);

/*
 * Writes a KPI alert (n filled in but for type, recipient and seq) to the
 * outbox for the team's manager and the holders of roles (see obligations.c),
 * inside the current transaction.  Returns how many people it went to, or a
 * negative code.
 */
int obligations_alert(struct obligations *obligations, const char *team_id,
                      const char (*roles)[KIND_NAME_MAX + 1], int role_count,
                      struct notification *n);

#endif

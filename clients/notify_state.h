/*
 * notify_state: what carehub-notify must remember across restarts, in its
 * own SQLite database (state_file).
 *
 *   - the cursor: the sequence number of the last notification handled.  A
 *     notification is handled once the relay accepted its email, or once it
 *     is safely queued here for a digest or for the fallback report; the
 *     cursor moves in the same transaction, so a kill at any moment loses
 *     nothing and doubles nothing that is not already on its way to the
 *     relay;
 *   - the digest queue: notifications waiting for their recipient's next
 *     digest;
 *   - the undeliverable queue: notifications for people without a usable
 *     email address, waiting for the daily report to the fallback address;
 *   - the day of the last digest round, so that a restart does not send a
 *     day's digests twice;
 *   - a log of every message the relay accepted (for "what did we send?").
 *
 * Every write is one transaction, committed with synchronous=FULL in WAL
 * mode.  Functions return 0 or a negative errno code (SQLite's failures are
 * -EIO, a busy database -EBUSY) and describe failures in the state's error
 * buffer (notify_state_error()).  Nothing here logs.
 */
#ifndef CAREHUB_NOTIFY_STATE_H
#define CAREHUB_NOTIFY_STATE_H

#include <stdint.h>

#include <cjson/cJSON.h>

struct notify_state;

/*
 * Opens (creating when missing) the database at path into *out, the
 * caller's to notify_state_close().  Returns 0, or a negative errno code
 * with a sentence in err.
 */
int notify_state_open(struct notify_state **out, const char *path, char *err, size_t err_size);

/* Closes the database; NULL is fine. */
void notify_state_close(struct notify_state *state);

/* A sentence about the last failure, borrowed. */
const char *notify_state_error(const struct notify_state *state);

/* The sequence number of the last notification handled (0 at first). */
int64_t notify_state_cursor(const struct notify_state *state);

/* The local day (YYYY-MM-DD) of the last finished digest round; "" when none. */
const char *notify_state_digest_day(const struct notify_state *state);

/*
 * A batch of changes, applied in one transaction by notify_state_commit():
 * notify_state_begin() starts it; the others add to it.
 */
int notify_state_begin(struct notify_state *state);
int notify_state_commit(struct notify_state *state);
void notify_state_rollback(struct notify_state *state);

/* Moves the cursor to seq (never backwards). */
int notify_state_set_cursor(struct notify_state *state, int64_t seq);

/* Queues notification (the "notifications" op's record; copied) for its recipient's digest. */
int notify_state_queue_digest(struct notify_state *state, const cJSON *notification);

/* Queues notification for the fallback report, with why it could not be delivered. */
int notify_state_queue_undeliverable(struct notify_state *state, const cJSON *notification,
                                     const char *reason);

/*
 * Starts the daily round of today (YYYY-MM-DD), or finds the one already
 * started today: *round_seq is the cursor as it was when today's round
 * first started.  The round covers the queued notifications up to there
 * and no later, so that a round interrupted (the relay down for one
 * recipient) and taken up again never sends a second digest to someone
 * already served today.  Returns 0 or a negative errno code.
 */
int notify_state_start_round(struct notify_state *state, const char *today, int64_t *round_seq);

/* Records the day of the last finished digest round. */
int notify_state_set_digest_day(struct notify_state *state, const char *day);

/*
 * Records that the relay accepted a message: its Message-ID, address,
 * subject, what it carried ("immediate", "digest", "fallback", "test") and
 * the first and last sequence numbers it covered (0 when none).
 */
int notify_state_log_delivery(struct notify_state *state, const char *message_id,
                              const char *address, const char *subject, const char *what,
                              int64_t first_seq, int64_t last_seq, int64_t at_ms);

/*
 * The recipients with notifications up to max_seq queued for a digest, in
 * order, as a new cJSON array of strings (the caller's).  Returns 0 or a
 * negative errno code.
 */
int notify_state_digest_recipients(struct notify_state *state, int64_t max_seq, cJSON **out);

/*
 * The notifications up to max_seq queued for recipient's digest, seq
 * rising, as a new cJSON array (the caller's).
 */
int notify_state_digest_items(struct notify_state *state, const char *recipient, int64_t max_seq,
                              cJSON **out);

/* Removes recipient's queued notifications up to and including seq (inside a batch). */
int notify_state_digest_done(struct notify_state *state, const char *recipient, int64_t seq);

/*
 * The first limit undeliverable notifications up to max_seq, seq rising, as
 * a new cJSON array of objects {"reason": "...", "notification": {...}}
 * (the caller's).
 */
int notify_state_undeliverable(struct notify_state *state, int64_t max_seq, int limit, cJSON **out);

/* Removes the undeliverable notifications up to and including seq (inside a batch). */
int notify_state_undeliverable_done(struct notify_state *state, int64_t seq);

/* How many messages the relay accepted, by what ("immediate", "digest", ...); NULL: all. */
int64_t notify_state_delivered(struct notify_state *state, const char *what);

#endif

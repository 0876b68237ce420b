/*
 * retention: the daily job that removes personal data kept longer than the
 * configuration allows.
 *
 * Once a day, at retention.run_at on the daemon's clock, the writer removes
 * the personal details of staff who left more than retention.left_staff_days
 * ago (their name, email, registration, absence kinds, free text and the
 * texts of notifications about them; see store_retention_remove_staff()),
 * and empties the payload of stored events older than retention.event_days
 * and of every event about someone whose details were removed.  The staff
 * id, dates, states and the events' (source, id) keys stay, so counts,
 * figures and de-duplication are unchanged.  Each removal is recorded in the
 * audit trail ("retention.removed").
 *
 * The work is split into steps of bounded size, each inside one of the
 * writer's transactions, so a large backlog never holds acknowledgements up
 * for long.
 */
#ifndef CAREHUB_RETENTION_H
#define CAREHUB_RETENTION_H

#include <stdbool.h>
#include <stdint.h>

#include "store.h"

/* The retention group of the configuration. */
struct retention_policy {
    int left_staff_days; /* 0: never */
    int event_days;      /* 0: never */
    char *run_at_text;   /* "HH:MM" as written */
    int run_at;          /* ... as minutes after local midnight */
};

/* Events one step looks at, and staff members one step removes, at most. */
#define RETENTION_EVENTS_PER_STEP 5000
#define RETENTION_STAFF_PER_STEP 100

enum retention_phase { RETENTION_IDLE, RETENTION_STAFF, RETENTION_EVENTS };

/* Where the job is: between runs, or part-way through one. */
struct retention {
    enum retention_phase phase;
    int64_t last_day;     /* the local day of the last run started; STORE_NO_DAY at start */
    int64_t events_after; /* the events pass: the last seq done */
    int64_t events_last;  /* ... and the last event when the run started */
    int64_t events_before_ms;
    char left_before[16];  /* staff who left before this date ("YYYY-MM-DD") */
    int64_t staff_removed; /* in this run */
    int64_t events_blanked;
};

/* Between runs; the first run is due as soon as today's run_at has passed. */
void retention_init(struct retention *retention);

/*
 * Parses "HH:MM" (00:00 to 23:59) into minutes after midnight: 0, or
 * -EINVAL.
 */
int retention_parse_time(const char *text, int *minutes);

/*
 * When the job next needs the writer: now_ms or earlier while a run is under
 * way or due, else the next run_at; 0 when the policy removes nothing.
 */
int64_t retention_next_ms(const struct retention *retention, const struct retention_policy *policy,
                          int64_t now_ms);

/*
 * Does one step of the job when it is due at now_ms, inside the writer's
 * open transaction, recording the audit rows under the cause "retention".
 * Sets *removed to the staff whose details this step removed (the caller
 * drops what it caches about them), *more when the run has steps left, and
 * *finished when this step ended a run.  Returns 0 or a negative code; after
 * a failure the transaction is rolled back and the step is tried again.
 */
int retention_step(struct retention *retention, const struct retention_policy *policy,
                   struct store *writer, int64_t now_ms, int64_t *removed, bool *more,
                   bool *finished);

#endif

/*
 * kpi: KPI figures per team and period, from kpi.observed events and from the
 * daemon's own review obligations; their red/amber/green state; and the
 * alerts that go out when a state changes.
 *
 * The writer side (kpi_check .. kpi_finish) runs on the ingest worker inside
 * the transaction that stores the events.  Each observation is added to its
 * team's running figure ("cell": count, sum, least, greatest, last, and a
 * quantile sketch when the metric needs one) for every period the metric
 * keeps.  Cells live in memory and go to the database together, every
 * kpi.flush_ms, with the sequence number of the last event they include;
 * after a crash the events stored since then are applied again at start
 * (kpi_replay), so a figure never loses or doubles an acknowledged event.
 *
 * A team's figure is computed from its own cell and every sub-team's
 * (merged: totals added, sketches merged, never averages of averages).  For
 * the metric's alert period the writer keeps these roll-ups in memory, judges
 * each against the thresholds (with hysteresis and the minimum number of
 * observations) and, when a team's state changes, writes the alert to the
 * outbox in the same transaction as the event that changed it.
 *
 * Derived metrics (compliance, overdue counts, days overdue) are computed from
 * the obligations: live when asked for the current period, and recorded into
 * cells once a day (at local midnight, for the day that ended) so that every
 * period keeps its figure as it stood at its end.
 */
#ifndef CAREHUB_KPI_H
#define CAREHUB_KPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "directory.h"
#include "event.h"
#include "kinds.h"
#include "metrics.h"
#include "obligations.h"
#include "sketch.h"
#include "store.h"

/* A red/amber/green judgement; KPI_NONE: no figure, or too few observations. */
enum kpi_state { KPI_OK = 0, KPI_WARNING = 1, KPI_CRITICAL = 2, KPI_NONE = 3 };

/* "green", "amber", "red", "none". */
const char *kpi_state_colour(enum kpi_state state);

/* The running figure of one team (or of a team with its sub-teams) for one period. */
struct kpi_cell {
    int64_t count;
    double sum, min, max;
    double last;
    int64_t last_ms;      /* the time of the observation that gave last */
    int64_t last_seq;     /* its sequence number (breaks ties of time) */
    struct sketch sketch; /* only for percentile metrics */
};

void kpi_cell_init(struct kpi_cell *cell);
void kpi_cell_free(struct kpi_cell *cell);
/* Adds one observation.  Returns 0, or a negative code from sketch_add() (-ENOMEM, -EOVERFLOW). */
int kpi_cell_add(struct kpi_cell *cell, const struct metric *metric, double value, int64_t time_ms,
                 int64_t seq);
/* Adds everything in from to into.  Returns 0, or a negative code from sketch_merge(). */
int kpi_cell_merge(struct kpi_cell *into, const struct kpi_cell *from, const struct metric *metric);
/* Fills an empty cell from a stored one.  Returns 0, or -EINVAL for a sketch that cannot be read.
 */
int kpi_cell_read(struct kpi_cell *cell, const struct store_kpi_cell *row);
/* The figure the metric's aggregate gives: true with *value set, false when there is none. */
bool kpi_cell_value(const struct kpi_cell *cell, const struct metric *metric, double *value);

/*
 * Judges a figure of count observations.  previous is the state the figure
 * had (KPI_NONE when it had none): a state gets worse as soon as a threshold
 * is reached, and better only once the figure is hysteresis past it.
 */
enum kpi_state kpi_judge(const struct metric *metric, bool has_value, double value, int64_t count,
                         enum kpi_state previous);

struct kpi;

/*
 * Creates the KPI logic over the writer connection, its directory and the
 * obligations (for alert delivery); all borrowed.  Reads where the stored
 * figures stand.
 */
int kpi_new(struct kpi **out, struct store *writer, const struct metrics *metrics,
            const struct kinds *kinds, const struct directory_source *directory,
            struct obligations *obligations);

/* Accepts NULL. */
void kpi_free(struct kpi *kpi);

/*
 * Works with metrics and kinds (borrowed, replacing the ones given before)
 * from the next transaction on.  Call between transactions, once every
 * figure is written (a kpi_finish() with force committed): the figures in
 * memory are let go and read again from the database as they are needed, so
 * a metric whose name stays keeps its figures and judgements, a new one
 * starts empty, and the figures of a metric no longer configured stay in the
 * database untouched.  Nothing is judged again and no alert is sent by the
 * change itself: a figure is judged against the new thresholds when it next
 * changes.  Returns 0; -EBUSY with figures not yet written, or -ENOMEM, both
 * with nothing changed.
 */
int kpi_set_metrics(struct kpi *kpi, const struct metrics *metrics, const struct kinds *kinds);

/*
 * Applies, inside an open transaction, every kpi.observed event stored after
 * the figures were last written (after a crash), without sending alerts that
 * already went out.  Call once after kpi_new().
 */
int kpi_replay(struct kpi *kpi, int64_t now_ms);

/* Starts a transaction's work at now_ms (the daemon's clock). */
void kpi_begin(struct kpi *kpi, int64_t now_ms);

/*
 * Checks a kpi.observed event before it is stored: the metric is known and
 * observed (not derived), the team exists, the value is finite and inside
 * the declared range, the time is neither older than the retention nor
 * further ahead than kpi.future_minutes.  Returns 0, or 1 with the reason in
 * *error, or a negative code.
 */
int kpi_check(struct kpi *kpi, const struct event *event, struct event_error *error);

/* Applies a checked and stored kpi.observed event (sequence number seq). */
int kpi_apply(struct kpi *kpi, const struct event *event, int64_t seq);

/* A team was created or moved: roll-ups are computed again when next needed. */
void kpi_team_changed(struct kpi *kpi, const char *team_id);

/*
 * Before the transaction commits: records the derived figures when a day has
 * ended since the last time, and writes the cells to the database when
 * kpi.flush_ms has passed since the last write (or always, when force).
 */
int kpi_finish(struct kpi *kpi, bool force);

/* After the transaction committed: what kpi_finish() wrote is on disk now. */
void kpi_committed(struct kpi *kpi);

/* True while observations are applied in memory but not yet written (the API then asks for a
 * write). */
bool kpi_unwritten(const struct kpi *kpi);

/* After a failed transaction: forgets what is in memory (it is read again from the database). */
void kpi_rollback(struct kpi *kpi);

/* When kpi_finish() next has work without any event: the next local midnight (ms). */
int64_t kpi_next_ms(const struct kpi *kpi);

/*
 * Computes every derived metric's figure for each team's own staff (no
 * roll-up) as at the end of day today, from the obligations in store (any
 * connection), and visits each: metric is the index in the configuration.
 */
int kpi_derived_cells(struct store *store, const struct metrics *metrics, const struct kinds *kinds,
                      int64_t today,
                      int (*visit)(void *context, int metric, const char *team_id,
                                   const struct kpi_cell *cell),
                      void *context);

/* Observations applied and alerts sent since start; series (cells) in memory and their bytes. */
void kpi_counts(const struct kpi *kpi, uint64_t *observations, uint64_t *alerts, size_t *cells,
                size_t *bytes);

#endif

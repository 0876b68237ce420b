/*
 * metrics: the "kpi" and "metrics" sections of carehubd.conf: which KPIs the
 * daemon keeps, how their values combine, the periods they are kept for, and
 * what counts as good, worrying or bad.
 *
 * metrics_load() reads and checks the sections of an already parsed libconfig
 * file; the daemon never sees a half-checked metric.  The keys, their
 * defaults and what they mean are documented in conf/carehubd.conf,
 * docs/configuration.md and docs/kpi.md.
 */
#ifndef CAREHUB_METRICS_H
#define CAREHUB_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libconfig.h>

#include "kinds.h"
#include "period.h"

struct config_errors;

#define METRICS_MAX 64           /* metrics in one file */
#define METRIC_MAX_BENCHMARKS 32 /* benchmark values of one metric */
#define METRIC_MAX_ROLES 8       /* roles told of one metric's alerts */
#define METRIC_MAX_KINDS 16      /* review kinds one derived metric counts */

/* How a period's values combine into its figure. */
enum metric_aggregate {
    AGGREGATE_COUNT,     /* how many observations */
    AGGREGATE_SUM,       /* their total */
    AGGREGATE_MEAN,      /* total / count */
    AGGREGATE_MIN,       /* the least */
    AGGREGATE_MAX,       /* the greatest */
    AGGREGATE_LAST,      /* the one with the latest time (ties: the later stored) */
    AGGREGATE_PERCENTILE /* metric.percentile, from a sketch (see sketch.h) */
};

/* Which way is better. */
enum metric_direction { DIRECTION_HIGHER, DIRECTION_LOWER };

/*
 * Where the values come from: kpi.observed events, or the daemon's own
 * review obligations (computed, never observed).
 */
enum metric_derived {
    DERIVED_NONE,        /* kpi.observed */
    DERIVED_COMPLIANCE,  /* % of staff with none of the listed kinds overdue */
    DERIVED_OVERDUE,     /* how many obligations of the listed kinds are overdue */
    DERIVED_DAYS_OVERDUE /* mean days past the due date of those overdue */
};

struct metric_benchmark {
    char name[KIND_NAME_MAX + 1]; /* "regional", "national", ... */
    int period_type;              /* enum period_type, or -1: periods of every type */
    bool has_start;               /* one period only (the key "at"), starting on start_day */
    int64_t start_day;
    double value;
};

struct metric {
    char name[KIND_NAME_MAX + 1]; /* as used in kpi.observed: "length_of_stay" */
    char *title;                  /* plain English: "Average length of stay" */
    char *unit;                   /* "days", "%", "" */
    int line;                     /* where it is defined, for messages */
    enum metric_aggregate aggregate;
    double percentile;             /* AGGREGATE_PERCENTILE: 0 < percentile < 100 ("p90": 90) */
    unsigned periods;              /* bit (1 << enum period_type) for each period kept */
    enum period_type alert_period; /* the period whose figure raises alerts */
    enum metric_direction direction;
    bool has_target, has_warning, has_critical;
    double target, warning, critical;
    double hysteresis;     /* how far back past a threshold a figure must come to clear it */
    int min_observations;  /* fewer in a period: not judged ("not enough data") */
    bool has_min, has_max; /* the declared range of one observation */
    double min, max;
    enum metric_derived derived;
    int kind_count;
    char kinds[METRIC_MAX_KINDS][KIND_NAME_MAX + 1]; /* derived: the review kinds counted */
    int role_count;
    char roles[METRIC_MAX_ROLES][KIND_NAME_MAX + 1]; /* told of alerts besides the team's manager */
    int benchmark_count;
    struct metric_benchmark benchmarks[METRIC_MAX_BENCHMARKS];
};

struct metrics {
    int week_start;     /* kpi.week_starts: 0 Monday ... 6 Sunday */
    int retention_days; /* kpi.retention_days: older observations refused, older figures gone */
    int future_minutes; /* kpi.future_minutes: how far ahead of the clock an observation may be */
    int flush_ms;       /* kpi.flush_ms: how often the running figures are written to disk */
    int count;
    struct metric *items; /* count of them, in the order of the file */
};

/*
 * Reads the "kpi" and "metrics" sections under root (each may be absent)
 * into *out, which the caller later frees with metrics_free().  kinds is
 * the already loaded review kinds (derived metrics name them).  Adds an error
 * for every problem, each "file:line: metrics.NAME.KEY: reason" (an entry
 * without a usable name by its position, "metrics[3]"), and returns -EINVAL if
 * there were any, else 0; -ENOMEM when memory ran out.
 */
int metrics_load(config_setting_t *root, const char *file, const struct kinds *kinds,
                 struct metrics *out, struct config_errors *errors);

/* Releases what metrics_load() filled in; accepts a zeroed or half-built struct. */
void metrics_free(struct metrics *metrics);

/* The metric with this name, or NULL. */
const struct metric *metrics_find(const struct metrics *metrics, const char *name);

/* "count", "sum", "mean", "min", "max", "last", or "p90" (written into buf). */
const char *metrics_aggregate_name(const struct metric *metric, char *buf, size_t size);

/*
 * The benchmark values that apply to the period (type, start): for each
 * benchmark name, the one for exactly that period if there is one, else the
 * one for every period of that type, else the one for every period.  Writes
 * at most max pointers into out and returns how many.
 */
int metrics_benchmarks_for(const struct metric *metric, enum period_type type, int64_t start,
                           const struct metric_benchmark **out, int max);

#endif

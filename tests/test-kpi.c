/*
 * Unit tests of daemon/kpi: running figures ("cells") and how they combine,
 * the red/amber/green judgement with its thresholds and hysteresis, and the
 * writer path over a real SQLite store: checking observations, applying them,
 * writing the figures, applying again after a crash or a rollback, and the
 * alerts that go out when a team's state changes.
 *
 * The pure tests build struct metric by hand.  The store tests each get their
 * own mkdtemp() directory under /tmp holding a real store (removed by the
 * teardown), a directory read through store_directory_source(), the
 * obligations module (which delivers alerts) and the metrics below, filled in
 * C rather than read from a file.  The module is driven as ingest drives it:
 * per transaction store_begin(), obligations_begin(), kpi_replay(),
 * kpi_begin(), then for each observation kpi_check(), store_event_insert()
 * and kpi_apply(), then kpi_finish(), store_commit() and kpi_committed().
 *
 * The process runs in Europe/London; every date used is in January or
 * December, when London is on UTC, so a local day is a UTC day.  "Now" is
 * Wednesday 14 January 2026 10:00.
 *
 * The organisation (as in test-obligations.c):
 *
 *   T0 Head office (manager M3)
 *    +- T1 Riverside (manager M1)
 *    |   +- T1A Riverside nights (no manager: M1 through T1)
 *    +- T2 Kitchen (manager M2)
 *   T9 Bank staff (no parent, no manager)
 *
 *   M1 team_leader, reports to M2; M2 deputy_manager, reports to M3;
 *   M3 registered_manager, at the top; R2 registered_manager, reports to M3.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "directory.h"
#include "event.h"
#include "kinds.h"
#include "kpi.h"
#include "metrics.h"
#include "obligations.h"
#include "period.h"
#include "sketch.h"
#include "store.h"
#include "notification_list.h"
#include "timefmt.h"

#define DAY(y, m, d) timefmt_days_from_civil((y), (m), (d))
/* A UTC instant in milliseconds. */
#define UTC(y, m, d, hour, minute)                                                                 \
    ((DAY((y), (m), (d)) * 86400 + (hour)*3600 + (minute)*60) * (int64_t)1000)

#define NOW UTC(2026, 1, 14, 10, 0) /* Wednesday 14 January 2026, 10:00 */

/* ---- Metrics built by hand ---- */

static struct metric
metric_of(enum metric_aggregate aggregate)
{
    struct metric m;

    memset(&m, 0, sizeof(m));
    snprintf(m.name, sizeof(m.name), "test_metric");
    m.title = (char *)"Test metric";
    m.unit = (char *)"";
    m.aggregate = aggregate;
    m.periods = 1u << PERIOD_MONTH;
    m.alert_period = PERIOD_MONTH;
    m.direction = DIRECTION_LOWER;
    m.min_observations = 1;
    return m;
}

/* A metric where lower is better: warning and critical as given (NAN: none), hysteresis h. */
static struct metric
thresholds(enum metric_direction direction, double warning, double critical, double h)
{
    struct metric m = metric_of(AGGREGATE_MEAN);

    m.direction = direction;
    m.has_warning = !isnan(warning);
    m.warning = m.has_warning ? warning : 0;
    m.has_critical = !isnan(critical);
    m.critical = m.has_critical ? critical : 0;
    m.hysteresis = h;
    return m;
}

static bool
value_of(const struct kpi_cell *cell, const struct metric *metric, double *value)
{
    *value = NAN;
    return kpi_cell_value(cell, metric, value);
}

static void
expect_figure(const struct kpi_cell *cell, const struct metric *metric, double expected)
{
    double value;

    if (!value_of(cell, metric, &value))
        fail_msg("expected a figure %.17g, got none", expected);
    if (value != expected)
        fail_msg("expected the figure %.17g, got %.17g", expected, value);
}

/* ---- kpi_state_colour ---- */

static void
test_state_colour(void **state)
{
    (void)state;
    assert_string_equal(kpi_state_colour(KPI_OK), "green");
    assert_string_equal(kpi_state_colour(KPI_WARNING), "amber");
    assert_string_equal(kpi_state_colour(KPI_CRITICAL), "red");
    assert_string_equal(kpi_state_colour(KPI_NONE), "none");
    assert_string_equal(kpi_state_colour((enum kpi_state)42), "none");
}

/* ---- Cells ---- */

static void
test_cell_empty_has_no_figure(void **state)
{
    const enum metric_aggregate all[] = {AGGREGATE_COUNT,     AGGREGATE_SUM, AGGREGATE_MEAN,
                                         AGGREGATE_MIN,       AGGREGATE_MAX, AGGREGATE_LAST,
                                         AGGREGATE_PERCENTILE};
    (void)state;
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        struct metric m = metric_of(all[i]);
        struct kpi_cell cell;
        double value;
        m.percentile = 50;
        kpi_cell_init(&cell);
        assert_false(value_of(&cell, &m, &value));
        kpi_cell_free(&cell);
    }
}

/*
 * The same five observations, added out of time order, under every aggregate:
 * 4 at t=300, -1.5 at t=100, 8 at t=500, 2.5 at t=200, 10 at t=400.
 */
static void
test_cell_every_aggregate(void **state)
{
    static const double values[] = {4, -1.5, 8, 2.5, 10};
    static const int64_t times[] = {300, 100, 500, 200, 400};
    static const struct {
        enum metric_aggregate aggregate;
        double expected;
    } cases[] = {
        {AGGREGATE_COUNT, 5},  {AGGREGATE_SUM, 23}, {AGGREGATE_MEAN, 4.6},
        {AGGREGATE_MIN, -1.5}, {AGGREGATE_MAX, 10}, {AGGREGATE_LAST, 8}, /* the latest time */
    };
    (void)state;
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        struct metric m = metric_of(cases[c].aggregate);
        struct kpi_cell cell;
        kpi_cell_init(&cell);
        for (int i = 0; i < 5; i++)
            assert_int_equal(kpi_cell_add(&cell, &m, values[i], times[i], i + 1), 0);
        assert_int_equal(cell.count, 5);
        expect_figure(&cell, &m, cases[c].expected);
        /* Only percentile metrics keep a sketch. */
        assert_int_equal(cell.sketch.count, 0);
        kpi_cell_free(&cell);
    }
    /* A percentile of the same values: the median is 4 (rank floor(0.5 * 4) = 2 of -1.5, 2.5, 4,
     * 8, 10), within the sketch's 1%. */
    struct metric p50 = metric_of(AGGREGATE_PERCENTILE);
    struct kpi_cell cell;
    double value;
    p50.percentile = 50;
    kpi_cell_init(&cell);
    for (int i = 0; i < 5; i++)
        assert_int_equal(kpi_cell_add(&cell, &p50, values[i], times[i], i + 1), 0);
    assert_int_equal(cell.sketch.count, 5);
    assert_true(value_of(&cell, &p50, &value));
    assert_true(fabs(value - 4) <= 0.04);
    kpi_cell_free(&cell);
}

static void
test_cell_last_ties_and_out_of_order(void **state)
{
    struct metric m = metric_of(AGGREGATE_LAST);
    struct kpi_cell cell, a, b, ab, ba;
    (void)state;

    kpi_cell_init(&cell);
    assert_int_equal(kpi_cell_add(&cell, &m, 1, 1000, 5), 0);
    expect_figure(&cell, &m, 1);
    /* The same time: the later stored (higher seq) wins. */
    assert_int_equal(kpi_cell_add(&cell, &m, 2, 1000, 7), 0);
    expect_figure(&cell, &m, 2);
    /* The same time, stored earlier (applied again out of order): not the last. */
    assert_int_equal(kpi_cell_add(&cell, &m, 3, 1000, 6), 0);
    expect_figure(&cell, &m, 2);
    /* A late arrival for an earlier time, whatever its seq: not the last. */
    assert_int_equal(kpi_cell_add(&cell, &m, 4, 999, 100), 0);
    expect_figure(&cell, &m, 2);
    /* A later time with a low seq: the last. */
    assert_int_equal(kpi_cell_add(&cell, &m, 5, 1001, 1), 0);
    expect_figure(&cell, &m, 5);
    assert_int_equal(cell.last_ms, 1001);
    assert_int_equal(cell.last_seq, 1);
    assert_int_equal(cell.count, 5);
    kpi_cell_free(&cell);

    /* Merged: the tie is broken by seq, whichever way round the merge goes. */
    kpi_cell_init(&a);
    kpi_cell_init(&b);
    kpi_cell_init(&ab);
    kpi_cell_init(&ba);
    assert_int_equal(kpi_cell_add(&a, &m, 10, 2000, 3), 0);
    assert_int_equal(kpi_cell_add(&b, &m, 20, 2000, 9), 0);
    assert_int_equal(kpi_cell_add(&b, &m, 30, 1500, 12), 0);
    assert_int_equal(kpi_cell_merge(&ab, &a, &m), 0);
    assert_int_equal(kpi_cell_merge(&ab, &b, &m), 0);
    assert_int_equal(kpi_cell_merge(&ba, &b, &m), 0);
    assert_int_equal(kpi_cell_merge(&ba, &a, &m), 0);
    expect_figure(&ab, &m, 20);
    expect_figure(&ba, &m, 20);
    assert_int_equal(ab.last_seq, 9);
    assert_int_equal(ba.last_seq, 9);
    kpi_cell_free(&a);
    kpi_cell_free(&b);
    kpi_cell_free(&ab);
    kpi_cell_free(&ba);
}

/*
 * Merging adds totals: nine observations of 1 and one of 11 have the mean
 * 20 / 10 = 2, not (1 + 11) / 2 = 6, the average of the two teams' averages.
 */
static void
test_cell_merge_is_exact(void **state)
{
    struct metric mean = metric_of(AGGREGATE_MEAN);
    struct kpi_cell a, b, merged, empty, copy;
    (void)state;

    kpi_cell_init(&a);
    kpi_cell_init(&b);
    kpi_cell_init(&merged);
    kpi_cell_init(&empty);
    kpi_cell_init(&copy);
    for (int i = 0; i < 9; i++)
        assert_int_equal(kpi_cell_add(&a, &mean, 1, 1000 + i, i + 1), 0);
    assert_int_equal(kpi_cell_add(&b, &mean, 11, 500, 20), 0);
    expect_figure(&a, &mean, 1);
    expect_figure(&b, &mean, 11);
    assert_int_equal(kpi_cell_merge(&merged, &a, &mean), 0);
    assert_int_equal(kpi_cell_merge(&merged, &b, &mean), 0);
    expect_figure(&merged, &mean, 2);
    assert_int_equal(merged.count, 10);
    assert_true(merged.sum == 20);
    assert_true(merged.min == 1);
    assert_true(merged.max == 11);
    assert_true(merged.last == 1); /* time 1008 is later than b's 500 */

    /* Every aggregate of the merged cell. */
    struct metric count = metric_of(AGGREGATE_COUNT), sum = metric_of(AGGREGATE_SUM),
                  min = metric_of(AGGREGATE_MIN), max = metric_of(AGGREGATE_MAX);
    expect_figure(&merged, &count, 10);
    expect_figure(&merged, &sum, 20);
    expect_figure(&merged, &min, 1);
    expect_figure(&merged, &max, 11);

    /* An empty cell merged in changes nothing; merged into an empty cell, a cell is copied. */
    assert_int_equal(kpi_cell_merge(&merged, &empty, &mean), 0);
    assert_int_equal(merged.count, 10);
    assert_true(merged.min == 1 && merged.max == 11 && merged.sum == 20);
    assert_int_equal(kpi_cell_merge(&copy, &b, &mean), 0);
    assert_int_equal(copy.count, 1);
    assert_true(copy.min == 11 && copy.max == 11 && copy.last == 11 && copy.sum == 11);
    assert_int_equal(copy.last_seq, 20);

    /* Min and max of a merge into a cell whose values are all larger or smaller. */
    struct kpi_cell low, high;
    kpi_cell_init(&low);
    kpi_cell_init(&high);
    assert_int_equal(kpi_cell_add(&low, &mean, -5, 1, 1), 0);
    assert_int_equal(kpi_cell_add(&high, &mean, 50, 2, 2), 0);
    assert_int_equal(kpi_cell_merge(&high, &low, &mean), 0);
    assert_true(high.min == -5 && high.max == 50);
    kpi_cell_free(&low);
    kpi_cell_free(&high);

    kpi_cell_free(&a);
    kpi_cell_free(&b);
    kpi_cell_free(&merged);
    kpi_cell_free(&empty);
    kpi_cell_free(&copy);
}

/* A deterministic generator (xorshift64*), so a failure can be run again. */
static uint64_t random_state = 0x9E3779B97F4A7C15ULL;

static double
uniform(void)
{
    random_state ^= random_state >> 12;
    random_state ^= random_state << 25;
    random_state ^= random_state >> 27;
    return (double)((random_state * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}

/* Log-normal: most values near scale, a long tail. */
static double
lognormal(double scale, double sigma)
{
    double u1 = uniform(), u2 = uniform();

    if (u1 < 1e-300)
        u1 = 1e-300;
    return scale * exp(sigma * sqrt(-2 * log(u1)) * cos(2 * M_PI * u2));
}

static int
compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The exact q-quantile as the sketch defines it: rank floor(q (n - 1)) in ascending order. */
static double
exact_quantile(double *values, size_t n, double q)
{
    qsort(values, n, sizeof(*values), compare_double);
    return values[(size_t)floor(q * (double)(n - 1))];
}

static void
expect_within_one_percent(const struct kpi_cell *cell, const struct metric *m, double exact,
                          const char *what)
{
    double value;

    if (!value_of(cell, m, &value))
        fail_msg("%s: p%g has no figure", what, m->percentile);
    if (fabs(value - exact) > SKETCH_ACCURACY * fabs(exact) * (1 + 1e-9))
        fail_msg("%s: p%g is %.10g, the exact one %.10g: %.4f%% off (1%% allowed)", what,
                 m->percentile, value, exact, 100 * fabs(value - exact) / fabs(exact));
}

/*
 * Three teams' lengths of stay (different spreads) over two months: each
 * team-month's percentile, each team's merged months, and the whole merged
 * tree are within 1% of the exact percentile of the values they hold.
 */
static void
test_percentile_within_bound_after_merges(void **state)
{
    enum { TEAMS = 3, MONTHS = 2, PER = 7000 };
    static const double scales[TEAMS] = {1.5, 6, 40};
    static const double percentiles[] = {50, 90, 99, 99.9};
    struct kpi_cell cells[TEAMS][MONTHS], team[TEAMS], all, all_reversed;
    struct metric m = metric_of(AGGREGATE_PERCENTILE);
    double *values = malloc(sizeof(double) * TEAMS * MONTHS * PER);
    double *scratch = malloc(sizeof(double) * TEAMS * MONTHS * PER);
    (void)state;

    assert_non_null(values);
    assert_non_null(scratch);
    m.percentile = 90;
    kpi_cell_init(&all);
    kpi_cell_init(&all_reversed);
    for (int t = 0; t < TEAMS; t++) {
        kpi_cell_init(&team[t]);
        for (int p = 0; p < MONTHS; p++) {
            kpi_cell_init(&cells[t][p]);
            for (int i = 0; i < PER; i++) {
                double v = lognormal(scales[t], 0.8 + 0.3 * p);
                values[(t * MONTHS + p) * PER + i] = v;
                assert_int_equal(kpi_cell_add(&cells[t][p], &m, v, i, i + 1), 0);
            }
            assert_int_equal(kpi_cell_merge(&team[t], &cells[t][p], &m), 0);
        }
    }
    for (int t = 0; t < TEAMS; t++)
        assert_int_equal(kpi_cell_merge(&all, &team[t], &m), 0);
    for (int t = TEAMS - 1; t >= 0; t--)
        for (int p = MONTHS - 1; p >= 0; p--)
            assert_int_equal(kpi_cell_merge(&all_reversed, &cells[t][p], &m), 0);
    assert_int_equal(all.count, TEAMS * MONTHS * PER);
    assert_int_equal(all.sketch.count, TEAMS * MONTHS * PER);

    for (size_t k = 0; k < sizeof(percentiles) / sizeof(percentiles[0]); k++) {
        double q = percentiles[k] / 100, got, got_reversed;
        char what[64];
        m.percentile = percentiles[k];
        for (int t = 0; t < TEAMS; t++) {
            for (int p = 0; p < MONTHS; p++) {
                memcpy(scratch, values + (t * MONTHS + p) * PER, sizeof(double) * PER);
                snprintf(what, sizeof(what), "team %d month %d", t, p);
                expect_within_one_percent(&cells[t][p], &m, exact_quantile(scratch, PER, q), what);
            }
            memcpy(scratch, values + t * MONTHS * PER, sizeof(double) * MONTHS * PER);
            snprintf(what, sizeof(what), "team %d, months merged", t);
            expect_within_one_percent(&team[t], &m, exact_quantile(scratch, MONTHS * PER, q), what);
        }
        memcpy(scratch, values, sizeof(double) * TEAMS * MONTHS * PER);
        expect_within_one_percent(&all, &m, exact_quantile(scratch, TEAMS * MONTHS * PER, q),
                                  "all teams merged");
        /* Merging is exact: the order of the merges does not change the figure at all. */
        assert_true(value_of(&all, &m, &got));
        assert_true(value_of(&all_reversed, &m, &got_reversed));
        assert_true(got == got_reversed);
    }
    for (int t = 0; t < TEAMS; t++) {
        for (int p = 0; p < MONTHS; p++)
            kpi_cell_free(&cells[t][p]);
        kpi_cell_free(&team[t]);
    }
    kpi_cell_free(&all);
    kpi_cell_free(&all_reversed);
    free(values);
    free(scratch);
}

/* ---- kpi_judge ---- */

static enum kpi_state
judge(const struct metric *m, double value, enum kpi_state previous)
{
    return kpi_judge(m, true, value, 1000, previous);
}

#define EXPECT_JUDGED(m, value, previous, expected)                                                \
    do {                                                                                           \
        enum kpi_state got_ = judge((m), (value), (previous));                                     \
        if (got_ != (expected))                                                                    \
            fail_msg("%.17g after %s: expected %s, got %s", (double)(value),                       \
                     kpi_state_colour(previous), kpi_state_colour(expected),                       \
                     kpi_state_colour(got_));                                                      \
    } while (0)

/* Lower is better, warning 6, critical 8, no hysteresis: reaching a threshold counts as worse. */
static void
test_judge_lower_boundaries(void **state)
{
    struct metric m = thresholds(DIRECTION_LOWER, 6, 8, 0);
    const enum kpi_state previous[] = {KPI_NONE, KPI_OK, KPI_WARNING, KPI_CRITICAL};
    (void)state;

    m.has_target = true;
    m.target = 5;
    for (size_t i = 0; i < sizeof(previous) / sizeof(previous[0]); i++) {
        EXPECT_JUDGED(&m, -100, previous[i], KPI_OK);
        EXPECT_JUDGED(&m, 5, previous[i], KPI_OK); /* the target is not a threshold */
        EXPECT_JUDGED(&m, nextafter(6, 0), previous[i], KPI_OK);
        EXPECT_JUDGED(&m, 6, previous[i], KPI_WARNING);
        EXPECT_JUDGED(&m, nextafter(8, 0), previous[i], KPI_WARNING);
        EXPECT_JUDGED(&m, 8, previous[i], KPI_CRITICAL);
        EXPECT_JUDGED(&m, 1e9, previous[i], KPI_CRITICAL);
    }
}

/* Higher is better (a compliance %), warning 90, critical 80, no hysteresis. */
static void
test_judge_higher_boundaries(void **state)
{
    struct metric m = thresholds(DIRECTION_HIGHER, 90, 80, 0);
    const enum kpi_state previous[] = {KPI_NONE, KPI_OK, KPI_WARNING, KPI_CRITICAL};
    (void)state;

    for (size_t i = 0; i < sizeof(previous) / sizeof(previous[0]); i++) {
        EXPECT_JUDGED(&m, 100, previous[i], KPI_OK);
        EXPECT_JUDGED(&m, nextafter(90, 100), previous[i], KPI_OK);
        EXPECT_JUDGED(&m, 90, previous[i], KPI_WARNING);
        EXPECT_JUDGED(&m, nextafter(80, 100), previous[i], KPI_WARNING);
        EXPECT_JUDGED(&m, 80, previous[i], KPI_CRITICAL);
        EXPECT_JUDGED(&m, 0, previous[i], KPI_CRITICAL);
    }
}

/*
 * Warning 6, critical 8, hysteresis 0.25 (lower is better): 6.0 turns amber;
 * amber comes back to green only below 5.75 (5.75 itself stays amber); red
 * comes back only below 7.75, to amber, or straight to green below 5.75.
 */
static void
test_judge_hysteresis_lower(void **state)
{
    struct metric m = thresholds(DIRECTION_LOWER, 6, 8, 0.25);
    (void)state;

    /* Getting worse is immediate, whatever the hysteresis. */
    EXPECT_JUDGED(&m, 5.9, KPI_NONE, KPI_OK);
    EXPECT_JUDGED(&m, 5.9, KPI_OK, KPI_OK);
    EXPECT_JUDGED(&m, 6.0, KPI_OK, KPI_WARNING);
    EXPECT_JUDGED(&m, 6.0, KPI_NONE, KPI_WARNING);
    EXPECT_JUDGED(&m, 8.0, KPI_OK, KPI_CRITICAL);
    EXPECT_JUDGED(&m, 8.0, KPI_WARNING, KPI_CRITICAL);
    /* From amber. */
    EXPECT_JUDGED(&m, 5.9, KPI_WARNING, KPI_WARNING);
    EXPECT_JUDGED(&m, 5.75, KPI_WARNING, KPI_WARNING);
    EXPECT_JUDGED(&m, 5.7499, KPI_WARNING, KPI_OK);
    EXPECT_JUDGED(&m, 1, KPI_WARNING, KPI_OK);
    /* From red: stays red until below critical - h. */
    EXPECT_JUDGED(&m, 7.9, KPI_CRITICAL, KPI_CRITICAL);
    EXPECT_JUDGED(&m, 7.75, KPI_CRITICAL, KPI_CRITICAL);
    EXPECT_JUDGED(&m, 7.7499, KPI_CRITICAL, KPI_WARNING);
    EXPECT_JUDGED(&m, 6.0, KPI_CRITICAL, KPI_WARNING);
    /* Below the warning but inside its band: amber, not green. */
    EXPECT_JUDGED(&m, 5.8, KPI_CRITICAL, KPI_WARNING);
    EXPECT_JUDGED(&m, 5.75, KPI_CRITICAL, KPI_WARNING);
    EXPECT_JUDGED(&m, 5.7499, KPI_CRITICAL, KPI_OK);
    /* No previous state (the first judgement): no band. */
    EXPECT_JUDGED(&m, 5.8, KPI_NONE, KPI_OK);
    EXPECT_JUDGED(&m, 7.9, KPI_NONE, KPI_WARNING);
}

/* The same with higher better: warning 90, critical 80, hysteresis 1. */
static void
test_judge_hysteresis_higher(void **state)
{
    struct metric m = thresholds(DIRECTION_HIGHER, 90, 80, 1);
    (void)state;

    EXPECT_JUDGED(&m, 90, KPI_OK, KPI_WARNING);
    EXPECT_JUDGED(&m, 90.5, KPI_OK, KPI_OK);
    EXPECT_JUDGED(&m, 90.5, KPI_WARNING, KPI_WARNING);
    EXPECT_JUDGED(&m, 91, KPI_WARNING, KPI_WARNING);
    EXPECT_JUDGED(&m, 91.01, KPI_WARNING, KPI_OK);
    EXPECT_JUDGED(&m, 80, KPI_WARNING, KPI_CRITICAL);
    EXPECT_JUDGED(&m, 80.5, KPI_CRITICAL, KPI_CRITICAL);
    EXPECT_JUDGED(&m, 81, KPI_CRITICAL, KPI_CRITICAL);
    EXPECT_JUDGED(&m, 81.01, KPI_CRITICAL, KPI_WARNING);
    EXPECT_JUDGED(&m, 91, KPI_CRITICAL, KPI_WARNING);
    EXPECT_JUDGED(&m, 91.01, KPI_CRITICAL, KPI_OK);
}

/* Fewer observations than min_observations, or no figure: not judged, whatever the value. */
static void
test_judge_min_observations(void **state)
{
    struct metric m = thresholds(DIRECTION_LOWER, 6, 8, 0.25);
    (void)state;

    m.min_observations = 10;
    assert_int_equal(kpi_judge(&m, true, 100, 9, KPI_NONE), KPI_NONE);
    assert_int_equal(kpi_judge(&m, true, 100, 9, KPI_CRITICAL), KPI_NONE);
    assert_int_equal(kpi_judge(&m, true, 1, 0, KPI_OK), KPI_NONE);
    assert_int_equal(kpi_judge(&m, true, 100, 10, KPI_NONE), KPI_CRITICAL);
    assert_int_equal(kpi_judge(&m, true, 1, 10, KPI_NONE), KPI_OK);
    assert_int_equal(kpi_judge(&m, false, 0, 10, KPI_NONE), KPI_NONE);
    assert_int_equal(kpi_judge(&m, false, 0, 10, KPI_WARNING), KPI_NONE);
}

/* Only a critical threshold: green or red, and red clears below critical - h to green. */
static void
test_judge_only_critical(void **state)
{
    struct metric m = thresholds(DIRECTION_LOWER, NAN, 10, 2);
    struct metric up = thresholds(DIRECTION_HIGHER, NAN, 50, 2);
    (void)state;

    EXPECT_JUDGED(&m, 9.99, KPI_OK, KPI_OK);
    EXPECT_JUDGED(&m, 10, KPI_OK, KPI_CRITICAL);
    EXPECT_JUDGED(&m, 9, KPI_CRITICAL, KPI_CRITICAL);
    EXPECT_JUDGED(&m, 8, KPI_CRITICAL, KPI_CRITICAL);
    EXPECT_JUDGED(&m, 7.99, KPI_CRITICAL, KPI_OK);
    EXPECT_JUDGED(&m, 1e6, KPI_NONE, KPI_CRITICAL);

    EXPECT_JUDGED(&up, 50.01, KPI_NONE, KPI_OK);
    EXPECT_JUDGED(&up, 50, KPI_OK, KPI_CRITICAL);
    EXPECT_JUDGED(&up, 52, KPI_CRITICAL, KPI_CRITICAL);
    EXPECT_JUDGED(&up, 52.01, KPI_CRITICAL, KPI_OK);
}

/* Only a warning threshold: never red, however bad. */
static void
test_judge_only_warning(void **state)
{
    struct metric m = thresholds(DIRECTION_LOWER, 3, NAN, 0.5);
    struct metric none = thresholds(DIRECTION_LOWER, NAN, NAN, 0);
    (void)state;

    EXPECT_JUDGED(&m, 2.99, KPI_NONE, KPI_OK);
    EXPECT_JUDGED(&m, 3, KPI_OK, KPI_WARNING);
    EXPECT_JUDGED(&m, 1e9, KPI_OK, KPI_WARNING);
    EXPECT_JUDGED(&m, 2.5, KPI_WARNING, KPI_WARNING);
    EXPECT_JUDGED(&m, 2.49, KPI_WARNING, KPI_OK);
    /* No thresholds at all: any figure is green. */
    EXPECT_JUDGED(&none, 1e9, KPI_NONE, KPI_OK);
    EXPECT_JUDGED(&none, -1e9, KPI_CRITICAL, KPI_OK);
    EXPECT_JUDGED(&none, 1e9, KPI_WARNING, KPI_OK);
    /*
     * A red state judged before the configuration lost its critical threshold
     * (kpi_states keeps it across a restart): with no critical threshold
     * there is no red, so the figure is judged on the warning alone, and the
     * "stay red until below critical - h" rule must not compare with an unset
     * critical of 0 (which kept a lower-is-better figure of 0 red for ever).
     */
    EXPECT_JUDGED(&m, 0, KPI_CRITICAL, KPI_OK);
    EXPECT_JUDGED(&m, 1e9, KPI_CRITICAL, KPI_WARNING);
    EXPECT_JUDGED(&none, 1e9, KPI_CRITICAL, KPI_OK);
}

/* ---- The writer path over a real store ---- */

enum { M_STAY, M_STAY_P90, M_VACANCIES, M_INCIDENTS, M_SUPERVISION, M_COUNT };

struct fixture {
    char dir[64];
    bool made_dir;
    struct store *store;
    struct directory_source directory;
    struct kinds kinds; /* none: only derived metrics would count them */
    struct obligations *obligations;
    struct metric items[M_COUNT];
    struct metrics metrics;
    struct kpi *kpi;
    int64_t now_ms;
    int event_number;
    uint64_t hash;
    int64_t directory_seq;
    struct event_error error;
};

static const struct store_options writer_options = {true, true, 8, false};

static void
name_metric(struct metric *m, const char *name, const char *title, const char *unit)
{
    snprintf(m->name, sizeof(m->name), "%s", name);
    m->title = (char *)title;
    m->unit = (char *)unit;
}

/*
 * length_of_stay: mean of days, kept by week, month and quarter, judged by
 *   month; lower is better, target 5, amber from 6, red from 8, hysteresis
 *   0.25; 0 to 365; alerts also to the nearest registered_manager.
 * stay_p90: p90 of the same, by month; amber from 14, red from 21.
 * vacancies: the last count, by month; amber from 3, red from 6.
 * incidents: a count, by week and month (judged by month); amber 5, red 10.
 * supervision_compliance: derived, by month; amber below 90, red below 80.
 */
static void
fill_metrics(struct fixture *f)
{
    struct metric *m;

    memset(f->items, 0, sizeof(f->items));
    for (int i = 0; i < M_COUNT; i++) {
        f->items[i].min_observations = 1;
        f->items[i].direction = DIRECTION_LOWER;
    }
    m = &f->items[M_STAY];
    name_metric(m, "length_of_stay", "Average length of stay", "days");
    m->aggregate = AGGREGATE_MEAN;
    m->periods = 1u << PERIOD_WEEK | 1u << PERIOD_MONTH | 1u << PERIOD_QUARTER;
    m->alert_period = PERIOD_MONTH;
    m->has_target = m->has_warning = m->has_critical = true;
    m->target = 5;
    m->warning = 6;
    m->critical = 8;
    m->hysteresis = 0.25;
    m->has_min = m->has_max = true;
    m->min = 0;
    m->max = 365;
    m->role_count = 1;
    snprintf(m->roles[0], sizeof(m->roles[0]), "registered_manager");

    m = &f->items[M_STAY_P90];
    name_metric(m, "stay_p90", "Length of stay of the longest tenth", "days");
    m->aggregate = AGGREGATE_PERCENTILE;
    m->percentile = 90;
    m->periods = 1u << PERIOD_MONTH;
    m->alert_period = PERIOD_MONTH;
    m->has_warning = m->has_critical = true;
    m->warning = 14;
    m->critical = 21;
    m->has_min = true;
    m->min = 0;

    m = &f->items[M_VACANCIES];
    name_metric(m, "vacancies", "Vacant posts", "posts");
    m->aggregate = AGGREGATE_LAST;
    m->periods = 1u << PERIOD_MONTH;
    m->alert_period = PERIOD_MONTH;
    m->has_warning = m->has_critical = true;
    m->warning = 3;
    m->critical = 6;
    m->has_min = m->has_max = true;
    m->min = 0;
    m->max = 1000;

    m = &f->items[M_INCIDENTS];
    name_metric(m, "incidents", "Incidents reported", "incidents");
    m->aggregate = AGGREGATE_COUNT;
    m->periods = 1u << PERIOD_WEEK | 1u << PERIOD_MONTH;
    m->alert_period = PERIOD_MONTH;
    m->has_warning = m->has_critical = true;
    m->warning = 5;
    m->critical = 10;

    m = &f->items[M_SUPERVISION];
    name_metric(m, "supervision_compliance", "Staff whose supervision is up to date", "%");
    m->derived = DERIVED_COMPLIANCE;
    m->aggregate = AGGREGATE_MEAN;
    m->direction = DIRECTION_HIGHER;
    m->periods = 1u << PERIOD_MONTH;
    m->alert_period = PERIOD_MONTH;
    m->has_warning = m->has_critical = true;
    m->warning = 90;
    m->critical = 80;
    m->kind_count = 1;
    snprintf(m->kinds[0], sizeof(m->kinds[0]), "supervision");

    f->metrics.week_start = 0;
    f->metrics.retention_days = 30;
    f->metrics.future_minutes = 60;
    f->metrics.flush_ms = 60000;
    f->metrics.count = M_COUNT;
    f->metrics.items = f->items;
}

static void
put_team(struct fixture *f, const char *team_id, const char *name, const char *parent_id,
         const char *manager_id)
{
    struct dir_team team;

    memset(&team, 0, sizeof(team));
    directory_copy_text(team.team_id, sizeof(team.team_id), team_id);
    directory_copy_text(team.name, sizeof(team.name), name);
    directory_copy_text(team.parent_id, sizeof(team.parent_id), parent_id);
    directory_copy_text(team.manager_id, sizeof(team.manager_id), manager_id);
    assert_int_equal(store_team_put(f->store, &team, ++f->directory_seq), 0);
}

static void
put_staff(struct fixture *f, const char *staff_id, const char *name, const char *role,
          const char *team_id, const char *manager_id)
{
    struct dir_staff staff;

    memset(&staff, 0, sizeof(staff));
    directory_copy_text(staff.staff_id, sizeof(staff.staff_id), staff_id);
    directory_copy_text(staff.name, sizeof(staff.name), name);
    directory_copy_text(staff.role, sizeof(staff.role), role);
    directory_copy_text(staff.team_id, sizeof(staff.team_id), team_id);
    directory_copy_text(staff.manager_id, sizeof(staff.manager_id), manager_id);
    directory_copy_text(staff.start_date, sizeof(staff.start_date), "2020-01-06");
    assert_int_equal(store_staff_put(f->store, &staff, ++f->directory_seq, STORE_PUT_NEW), 0);
}

static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    char message[512];

    if (f == NULL)
        return -1;
    *state = f;
    snprintf(f->dir, sizeof(f->dir), "/tmp/carehub-test-kpi-XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    f->made_dir = true;
    fill_metrics(f);
    if (store_open(&f->store, f->dir, &writer_options, message, sizeof(message)) != 0) {
        print_message("store_open: %s\n", message);
        return -1;
    }
    store_directory_source(f->store, &f->directory);
    if (obligations_new(&f->obligations, f->store, &f->kinds, &f->directory) != 0)
        return -1;
    if (store_begin(f->store) != 0)
        return -1;
    put_team(f, "T0", "Head office", NULL, "M3");
    put_team(f, "T1", "Riverside", "T0", "M1");
    put_team(f, "T1A", "Riverside nights", "T1", NULL);
    put_team(f, "T2", "Kitchen", "T0", "M2");
    put_team(f, "T9", "Bank staff", NULL, NULL);
    put_staff(f, "M3", "Morag Reid", "registered_manager", "T0", NULL);
    put_staff(f, "M2", "Priya Shah", "deputy_manager", "T0", "M3");
    put_staff(f, "M1", "Tom Baker", "team_leader", "T1", "M2");
    put_staff(f, "R2", "Rita Okafor", "registered_manager", "T2", "M3");
    if (store_commit(f->store) != 0)
        return -1;
    if (kpi_new(&f->kpi, f->store, &f->metrics, &f->kinds, &f->directory, f->obligations) != 0)
        return -1;
    f->now_ms = NOW;
    return 0;
}

static int
remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int
teardown(void **state)
{
    struct fixture *f = *state;

    if (f == NULL)
        return 0;
    kpi_free(f->kpi);
    obligations_free(f->obligations);
    store_close(f->store);
    if (f->made_dir)
        nftw(f->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

/* Starts a transaction at now_ms, as ingest's write_batch does. */
static void
begin_at(struct fixture *f, int64_t now_ms)
{
    f->now_ms = now_ms;
    assert_int_equal(store_begin(f->store), 0);
    obligations_begin(f->obligations, now_ms);
    assert_int_equal(kpi_replay(f->kpi, now_ms), 0);
    kpi_begin(f->kpi, now_ms);
}

/* Ends it: kpi_finish(force), commit, kpi_committed. */
static void
commit(struct fixture *f, bool force)
{
    assert_int_equal(kpi_finish(f->kpi, force), 0);
    assert_int_equal(store_commit(f->store), 0);
    kpi_committed(f->kpi);
}

/* The process "crashes": the KPI logic is dropped without writing anything, and made again. */
static void
restart_kpi(struct fixture *f)
{
    kpi_free(f->kpi);
    f->kpi = NULL;
    assert_int_equal(
        kpi_new(&f->kpi, f->store, &f->metrics, &f->kinds, &f->directory, f->obligations), 0);
}

/*
 * One kpi.observed inside the open transaction, as ingest handles it:
 * validated, checked, and when accepted stored and applied.  Returns what
 * kpi_check() returned (0, or 1 with the reason in f->error).
 */
static int
observe(struct fixture *f, const char *metric, const char *team_id, double value, int64_t time_ms)
{
    char when[40], text[1024];
    struct event event;
    struct event_error error = {NULL, ""};
    cJSON *json;
    int64_t seq;
    int r;

    assert_int_equal(timefmt_format_rfc3339(time_ms, when, sizeof(when)), 0);
    snprintf(text, sizeof(text),
             "{\"specversion\": \"1.0\", \"id\": \"obs-%d\", \"source\": \"/test-kpi\", "
             "\"type\": \"kpi.observed\", \"time\": \"%s\", \"data\": {\"metric\": \"%s\", "
             "\"team_id\": \"%s\", \"value\": %.17g}}",
             ++f->event_number, when, metric, team_id, value);
    json = cJSON_Parse(text);
    assert_non_null(json);
    if (event_validate(json, &event, &error) != 0)
        fail_msg("test event is not valid (%s: %s): %s", error.code, error.message, text);
    memset(&f->error, 0, sizeof(f->error));
    r = kpi_check(f->kpi, &event, &f->error);
    assert_true(r == 0 || r == 1);
    if (r == 0) {
        assert_int_equal(
            store_event_insert(f->store, ++f->hash, &event, f->now_ms, text, strlen(text), &seq),
            0);
        assert_int_equal(kpi_apply(f->kpi, &event, seq), 0);
    }
    cJSON_Delete(json);
    return r;
}

static void
observe_ok(struct fixture *f, const char *metric, const char *team_id, double value,
           int64_t time_ms)
{
    if (observe(f, metric, team_id, value, time_ms) != 0)
        fail_msg("%s %s %g: rejected (%s: %s)", metric, team_id, value,
                 f->error.code ? f->error.code : "", f->error.message);
}

/* kpi_check() of an event built by hand (any value, even one JSON cannot carry). */
static int
check_event(struct fixture *f, const char *metric, const char *team_id, double value,
            int64_t time_ms)
{
    cJSON *data = cJSON_CreateObject();
    struct event event;
    int r;

    assert_non_null(data);
    cJSON_AddStringToObject(data, "metric", metric);
    cJSON_AddStringToObject(data, "team_id", team_id);
    cJSON_AddNumberToObject(data, "value", value);
    memset(&event, 0, sizeof(event));
    event.type = EVENT_KPI_OBSERVED;
    event.source = "/test-kpi";
    event.id = "hand-made";
    event.has_time = true;
    event.time_ms = time_ms;
    event.data = data;
    memset(&f->error, 0, sizeof(f->error));
    r = kpi_check(f->kpi, &event, &f->error);
    cJSON_Delete(data);
    return r;
}

static void
expect_contains(const char *text, const char *needle)
{
    if (strstr(text, needle) == NULL)
        fail_msg("expected \"%s\" in \"%s\"", needle, text);
}

/* Expects kpi_check() to have answered 1 with code and a message holding each of the needles. */
static void
expect_rejected(struct fixture *f, int r, const char *code, const char *needle)
{
    if (r != 1)
        fail_msg("expected the rejection %s, got %d (%s)", code, r,
                 f->error.code ? f->error.code : "accepted");
    if (f->error.code == NULL || strcmp(f->error.code, code) != 0)
        fail_msg("expected %s, got %s (%s)", code, f->error.code ? f->error.code : "NULL",
                 f->error.message);
    if (f->error.message[0] == '\0')
        fail_msg("%s without a message", code);
    if (needle != NULL)
        expect_contains(f->error.message, needle);
}

/* A stored cell, copied. */
struct stored_cell {
    bool found;
    int64_t count;
    double sum, min, max, last;
    int64_t last_ms, last_seq;
    size_t sketch_size;
    struct kpi_cell cell; /* with the sketch decoded */
};

static int
copy_cell(void *context, const struct store_kpi_cell *row)
{
    struct stored_cell *out = context;

    out->found = true;
    out->count = row->count;
    out->sum = row->sum;
    out->min = row->min;
    out->max = row->max;
    out->last = row->last;
    out->last_ms = row->last_ms;
    out->last_seq = row->last_seq;
    out->sketch_size = row->sketch_size;
    out->cell.count = row->count;
    out->cell.sum = row->sum;
    out->cell.min = row->min;
    out->cell.max = row->max;
    out->cell.last = row->last;
    out->cell.last_ms = row->last_ms;
    out->cell.last_seq = row->last_seq;
    if (row->sketch != NULL && row->sketch_size > 0)
        return sketch_decode(&out->cell.sketch, row->sketch, row->sketch_size);
    return 0;
}

/* The stored figure of one team (its own, no roll-up); found is false when none is stored. */
static struct stored_cell
stored(struct fixture *f, int metric, enum period_type period, int64_t start_day,
       const char *team_id)
{
    struct stored_cell out;
    int r;

    memset(&out, 0, sizeof(out));
    kpi_cell_init(&out.cell);
    r = store_kpi_cell_get(f->store, f->items[metric].name, (int)period, start_day, team_id,
                           copy_cell, &out);
    if (r != 0 && r != -ENOENT)
        fail_msg("store_kpi_cell_get: %d", r);
    return out;
}

static void
expect_stored(struct fixture *f, int metric, enum period_type period, int64_t start_day,
              const char *team_id, int64_t count, double sum, double min, double max, double last)
{
    struct stored_cell c = stored(f, metric, period, start_day, team_id);

    if (!c.found)
        fail_msg("no stored %s figure for %s (%s starting on day %lld)", f->items[metric].name,
                 team_id, period_type_name(period), (long long)start_day);
    if (c.count != count || c.sum != sum || c.min != min || c.max != max || c.last != last)
        fail_msg("%s/%s/%s/%lld: expected count %lld sum %g min %g max %g last %g, got count "
                 "%lld sum %g min %g max %g last %g",
                 f->items[metric].name, team_id, period_type_name(period), (long long)start_day,
                 (long long)count, sum, min, max, last, (long long)c.count, c.sum, c.min, c.max,
                 c.last);
    kpi_cell_free(&c.cell);
}

/* Every stored cell of a metric and period type, as "team/start:count/sum" lines. */
struct cell_listing {
    char text[4096];
    size_t used;
    int rows;
};

static int
list_cell(void *context, const struct store_kpi_cell *row)
{
    struct cell_listing *l = context;
    int n = snprintf(l->text + l->used, sizeof(l->text) - l->used, "%s/%lld:%lld/%.17g/%.17g\n",
                     row->team_id, (long long)row->start_day, (long long)row->count, row->sum,
                     row->last);

    if (n > 0 && l->used + (size_t)n < sizeof(l->text))
        l->used += (size_t)n;
    l->rows++;
    return 0;
}

static struct cell_listing
list_cells(struct fixture *f, int metric, enum period_type period)
{
    struct cell_listing l;

    memset(&l, 0, sizeof(l));
    assert_int_equal(store_kpi_cells(f->store, f->items[metric].name, (int)period, DAY(2000, 1, 1),
                                     DAY(2100, 1, 1), list_cell, &l),
                     0);
    return l;
}

/* The stored state of a team's figure for the alert period; KPI_NONE when none is stored. */
static enum kpi_state
stored_state(struct fixture *f, int metric, int64_t start_day, const char *team_id)
{
    struct store_kpi_state s;
    int r = store_kpi_state_get(f->store, f->items[metric].name, (int)f->items[metric].alert_period,
                                start_day, team_id, &s);

    if (r == -ENOENT)
        return KPI_NONE;
    assert_int_equal(r, 0);
    return (enum kpi_state)s.state;
}

/* How many notifications rows the outbox holds; also checks seq runs 1..N without gaps. */
static size_t
notification_rows(struct fixture *f)
{
    struct notification_list list;
    int64_t last, missed;
    size_t count;

    notifications_after(f->store, 0, &list);
    for (size_t i = 0; i < list.count; i++)
        if (list.items[i].seq != (int64_t)i + 1)
            fail_msg("notification %zu has seq %lld: the outbox has a gap", i + 1,
                     (long long)list.items[i].seq);
    count = list.count;
    free(list.items);
    assert_int_equal(store_notifications_summary(f->store, &last, &missed), 0);
    assert_int_equal(last, (int64_t)count);
    return count;
}

/* ---- kpi_check ---- */

static void
test_check_rejections(void **state)
{
    struct fixture *f = *state;
    const char *stay = "length_of_stay";
    int64_t today = DAY(2026, 1, 14);

    begin_at(f, NOW);
    expect_rejected(f, check_event(f, "lenght_of_stay", "T1", 5, NOW), "unknown_metric",
                    "\"lenght_of_stay\"");
    expect_rejected(f, check_event(f, "", "T1", 5, NOW), "unknown_metric", NULL);
    expect_rejected(f, check_event(f, "supervision_compliance", "T1", 95, NOW), "derived_metric",
                    "\"supervision_compliance\"");
    expect_rejected(f, check_event(f, stay, "T404", 5, NOW), "unknown_team", "\"T404\"");
    expect_rejected(f, check_event(f, stay, "t1", 5, NOW), "unknown_team", "\"t1\"");
    expect_rejected(f, check_event(f, stay, "T1", INFINITY, NOW), "not_finite", "\"value\"");
    expect_rejected(f, check_event(f, stay, "T1", -INFINITY, NOW), "not_finite", NULL);
    expect_rejected(f, check_event(f, stay, "T1", NAN, NOW), "not_finite", NULL);
    /* The declared range is 0 to 365, both ends allowed. */
    expect_rejected(f, check_event(f, stay, "T1", -0.5, NOW), "out_of_range", "-0.5");
    expect_rejected(f, check_event(f, stay, "T1", 365.5, NOW), "out_of_range", "365.5");
    assert_int_equal(check_event(f, stay, "T1", 0, NOW), 0);
    assert_int_equal(check_event(f, stay, "T1", 365, NOW), 0);
    /* Only a min: anything above it is fine. */
    assert_int_equal(check_event(f, "stay_p90", "T1", 1e12, NOW), 0);
    expect_rejected(f, check_event(f, "stay_p90", "T1", -1, NOW), "out_of_range", "stay_p90");
    /* No range: negative values are fine, up to 1e12 either way (totals must stay finite). */
    assert_int_equal(check_event(f, "incidents", "T1", -7, NOW), 0);
    assert_int_equal(check_event(f, "incidents", "T1", -1e12, NOW), 0);
    expect_rejected(f, check_event(f, "incidents", "T1", 1.5e12, NOW), "out_of_range", "1e12");
    expect_rejected(f, check_event(f, "incidents", "T1", -1e300, NOW), "out_of_range",
                    "\"incidents\"");
    expect_rejected(f, check_event(f, "stay_p90", "T1", 1e13, NOW), "out_of_range", "1e12");
    /* kpi.future_minutes is 60: exactly an hour ahead is fine, a millisecond more is not. */
    assert_int_equal(check_event(f, stay, "T1", 5, NOW + 3600000), 0);
    expect_rejected(f, check_event(f, stay, "T1", 5, NOW + 3600001), "future_time", "60 minutes");
    expect_rejected(f, check_event(f, stay, "T1", 5, UTC(2027, 1, 14, 10, 0)), "future_time", NULL);
    /* kpi.retention_days is 30: the day 30 days before today is kept, the day before it not. */
    assert_int_equal(check_event(f, stay, "T1", 5, (today - 30) * 86400000), 0);
    expect_rejected(f, check_event(f, stay, "T1", 5, (today - 30) * 86400000 - 1), "too_old",
                    "30 days");
    expect_rejected(f, check_event(f, stay, "T1", 5, UTC(2020, 6, 1, 12, 0)), "too_old", NULL);
    /* The first problem found is the one reported: metric, then team, then value, then time. */
    expect_rejected(f, check_event(f, "nope", "T404", INFINITY, 0), "unknown_metric", NULL);
    expect_rejected(f, check_event(f, stay, "T404", INFINITY, 0), "unknown_team", NULL);
    expect_rejected(f, check_event(f, stay, "T1", 1000, 0), "out_of_range", NULL);

    /* Through the whole path: a rejected observation is neither stored nor counted. */
    expect_rejected(f, observe(f, stay, "T404", 5, NOW), "unknown_team", NULL);
    expect_rejected(f, observe(f, stay, "T1", 400, NOW), "out_of_range", NULL);
    commit(f, true);
    assert_int_equal(list_cells(f, M_STAY, PERIOD_MONTH).rows, 0);
    assert_int_equal(list_cells(f, M_STAY, PERIOD_WEEK).rows, 0);
    uint64_t observations, alerts;
    size_t cells, bytes;
    kpi_counts(f->kpi, &observations, &alerts, &cells, &bytes);
    assert_int_equal(observations, 0);
    assert_int_equal(alerts, 0);
    assert_int_equal(notification_rows(f), 0);
}

/* ---- Applying and writing ---- */

/*
 * Several observations in one transaction, written with kpi_finish(force):
 * each lands in every period its time names (a late one from December in
 * December and the fourth quarter of 2025), a new kpi over the same store
 * reads the same figures, and goes on from them.
 */
static void
test_apply_commit_and_read_back(void **state)
{
    struct fixture *f = *state;
    const int64_t jan = DAY(2026, 1, 1), dec = DAY(2025, 12, 1), q1 = DAY(2026, 1, 1),
                  q4 = DAY(2025, 10, 1), week2 = DAY(2026, 1, 5), week3 = DAY(2026, 1, 12),
                  week51 = DAY(2025, 12, 15);

    begin_at(f, NOW);
    observe_ok(f, "length_of_stay", "T1", 4, UTC(2026, 1, 12, 9, 0));    /* Mon, week 3 */
    observe_ok(f, "length_of_stay", "T1", 8, UTC(2026, 1, 13, 9, 0));    /* Tue, week 3 */
    observe_ok(f, "length_of_stay", "T1", 6, UTC(2026, 1, 5, 9, 0));     /* Mon, week 2 */
    observe_ok(f, "length_of_stay", "T1A", 2, UTC(2026, 1, 11, 23, 59)); /* Sun, week 2 */
    observe_ok(f, "length_of_stay", "T2", 10, UTC(2026, 1, 14, 9, 0));
    observe_ok(f, "length_of_stay", "T1", 3, UTC(2025, 12, 20, 12, 0)); /* late: December */
    observe_ok(f, "vacancies", "T2", 4, UTC(2026, 1, 10, 8, 0));
    observe_ok(f, "vacancies", "T2", 1, UTC(2026, 1, 3, 8, 0)); /* out of order: not the last */
    observe_ok(f, "incidents", "T9", 123, UTC(2026, 1, 2, 8, 0));
    observe_ok(f, "incidents", "T9", 7, UTC(2026, 1, 6, 8, 0));
    for (int i = 1; i <= 50; i++)
        observe_ok(f, "stay_p90", "T1", i, UTC(2026, 1, 2, 8, i));
    assert_true(kpi_unwritten(f->kpi));
    commit(f, true);
    assert_false(kpi_unwritten(f->kpi));

    /* A second kpi over the same store: what the first wrote, as it wrote it. */
    restart_kpi(f);
    begin_at(f, NOW + 1000);
    commit(f, false);
    expect_stored(f, M_STAY, PERIOD_MONTH, jan, "T1", 3, 18, 4, 8, 8);
    expect_stored(f, M_STAY, PERIOD_MONTH, jan, "T1A", 1, 2, 2, 2, 2);
    expect_stored(f, M_STAY, PERIOD_MONTH, jan, "T2", 1, 10, 10, 10, 10);
    expect_stored(f, M_STAY, PERIOD_MONTH, dec, "T1", 1, 3, 3, 3, 3);
    expect_stored(f, M_STAY, PERIOD_WEEK, week3, "T1", 2, 12, 4, 8, 8);
    expect_stored(f, M_STAY, PERIOD_WEEK, week2, "T1", 1, 6, 6, 6, 6);
    expect_stored(f, M_STAY, PERIOD_WEEK, week2, "T1A", 1, 2, 2, 2, 2);
    expect_stored(f, M_STAY, PERIOD_WEEK, week51, "T1", 1, 3, 3, 3, 3);
    expect_stored(f, M_STAY, PERIOD_QUARTER, q1, "T1", 3, 18, 4, 8, 8);
    expect_stored(f, M_STAY, PERIOD_QUARTER, q4, "T1", 1, 3, 3, 3, 3);
    /* Cells are each team's own: no roll-up is stored for T0. */
    assert_false(stored(f, M_STAY, PERIOD_MONTH, jan, "T0").found);
    assert_int_equal(list_cells(f, M_STAY, PERIOD_MONTH).rows, 4);
    assert_int_equal(list_cells(f, M_STAY, PERIOD_WEEK).rows, 5);
    assert_int_equal(list_cells(f, M_STAY, PERIOD_QUARTER).rows, 4);
    /* Nothing is kept by day or year for this metric. */
    assert_int_equal(list_cells(f, M_STAY, PERIOD_DAY).rows, 0);
    assert_int_equal(list_cells(f, M_STAY, PERIOD_YEAR).rows, 0);
    /* last: the latest time, not the latest to arrive. */
    expect_stored(f, M_VACANCIES, PERIOD_MONTH, jan, "T2", 2, 5, 1, 4, 4);
    expect_stored(f, M_INCIDENTS, PERIOD_MONTH, jan, "T9", 2, 130, 7, 123, 7);
    expect_stored(f, M_INCIDENTS, PERIOD_WEEK, DAY(2025, 12, 29), "T9", 1, 123, 123, 123, 123);
    expect_stored(f, M_INCIDENTS, PERIOD_WEEK, week2, "T9", 1, 7, 7, 7, 7);
    /* The sketch is stored and reads back: p90 of 1..50 is 45 (rank floor(0.9 * 49) = 44). */
    struct stored_cell p90 = stored(f, M_STAY_P90, PERIOD_MONTH, jan, "T1");
    double value;
    assert_true(p90.found);
    assert_true(p90.sketch_size > 0);
    assert_int_equal(p90.cell.sketch.count, 50);
    assert_true(kpi_cell_value(&p90.cell, &f->items[M_STAY_P90], &value));
    assert_true(fabs(value - 45) <= 0.45);
    kpi_cell_free(&p90.cell);

    /*
     * The judged states of the roll-ups (January, the alert period): T1 with T1A
     * is 20 / 4 = 5 (green); T0 with everything below it 30 / 5 = 6 (amber); T2 alone 10
     * (red).  Vacancies of T2: last 4 (amber).  Incidents of T9: 2 (green).
     */
    assert_int_equal(stored_state(f, M_STAY, jan, "T1"), KPI_OK);
    assert_int_equal(stored_state(f, M_STAY, jan, "T1A"), KPI_OK);
    assert_int_equal(stored_state(f, M_STAY, jan, "T0"), KPI_WARNING);
    assert_int_equal(stored_state(f, M_STAY, jan, "T2"), KPI_CRITICAL);
    assert_int_equal(stored_state(f, M_VACANCIES, jan, "T2"), KPI_WARNING);
    assert_int_equal(stored_state(f, M_VACANCIES, jan, "T0"), KPI_WARNING);
    assert_int_equal(stored_state(f, M_INCIDENTS, jan, "T9"), KPI_OK);
    /* December (not the current month) is judged too: T1 had 3, green. */
    assert_int_equal(stored_state(f, M_STAY, dec, "T1"), KPI_OK);

    /* The new kpi goes on from the stored figures. */
    begin_at(f, NOW + 2000);
    observe_ok(f, "length_of_stay", "T1", 10, UTC(2026, 1, 14, 9, 30));
    commit(f, true);
    expect_stored(f, M_STAY, PERIOD_MONTH, jan, "T1", 4, 28, 4, 10, 10);
    expect_stored(f, M_STAY, PERIOD_QUARTER, q1, "T1", 4, 28, 4, 10, 10);
    /* T1 with T1A: 30 / 5 = 6, amber now. */
    assert_int_equal(stored_state(f, M_STAY, jan, "T1"), KPI_WARNING);
}

/* The figures after the observations of test_crash_*: T1, January. */
static void
expect_crash_figures(struct fixture *f)
{
    const int64_t jan = DAY(2026, 1, 1);

    expect_stored(f, M_STAY, PERIOD_MONTH, jan, "T1", 5, 36, 5, 12, 12);
    expect_stored(f, M_STAY, PERIOD_QUARTER, jan, "T1", 5, 36, 5, 12, 12);
    expect_stored(f, M_STAY, PERIOD_WEEK, DAY(2026, 1, 12), "T1", 5, 36, 5, 12, 12);
    expect_stored(f, M_INCIDENTS, PERIOD_MONTH, jan, "T1A", 6, 6, 1, 1, 1);
    expect_stored(f, M_VACANCIES, PERIOD_MONTH, jan, "T2", 3, 8, 0, 7, 0);
}

/*
 * A crash after a commit that did not write the figures (kpi.flush_ms had
 * not passed): a new kpi applies the stored events again, so the figures are
 * exactly those of the observations, and the alerts that went out before the
 * crash do not go out again; a second crash in a row changes nothing either.
 */
static void
test_crash_without_flush_replays(void **state)
{
    struct fixture *f = *state;
    const int64_t jan = DAY(2026, 1, 1);
    const int64_t t = UTC(2026, 1, 12, 9, 0);
    size_t rows;

    /* The first transaction always writes (the day's first). */
    begin_at(f, NOW);
    observe_ok(f, "length_of_stay", "T1", 5, t);
    observe_ok(f, "length_of_stay", "T1", 5, t + 1);
    observe_ok(f, "length_of_stay", "T1", 5, t + 2);
    observe_ok(f, "vacancies", "T2", 1, t);
    commit(f, false);
    assert_false(kpi_unwritten(f->kpi));
    assert_int_equal(notification_rows(f), 0); /* green from the start: nothing to tell */
    expect_stored(f, M_STAY, PERIOD_MONTH, jan, "T1", 3, 15, 5, 5, 5);

    /* A second one, a second later: applied, committed, not written. */
    begin_at(f, NOW + 1000);
    observe_ok(f, "length_of_stay", "T1", 9, t + 3);  /* 24 / 4 = 6: amber (T1 and T0) */
    observe_ok(f, "length_of_stay", "T1", 12, t + 4); /* 36 / 5 = 7.2: still amber */
    for (int i = 0; i < 6; i++)                       /* 6 incidents: amber from the fifth */
        observe_ok(f, "incidents", "T1A", 1, t + 10 + i);
    /*
     * T2's vacancies go red and back to green inside the unwritten window: the
     * stored state (green) is where it started, so only the sequence numbers
     * of the changes tell a replay that both were told already.
     */
    observe_ok(f, "vacancies", "T2", 7, t + 20);
    observe_ok(f, "vacancies", "T2", 0, t + 21);
    commit(f, false);
    assert_true(kpi_unwritten(f->kpi));
    /* On disk: the figures as they were written, and the alerts of the second transaction. */
    expect_stored(f, M_STAY, PERIOD_MONTH, jan, "T1", 3, 15, 5, 5, 5);
    assert_int_equal(stored_state(f, M_STAY, jan, "T1"), KPI_WARNING);
    assert_int_equal(stored_state(f, M_STAY, jan, "T0"), KPI_WARNING);
    assert_int_equal(stored_state(f, M_INCIDENTS, jan, "T1A"), KPI_WARNING);
    assert_int_equal(stored_state(f, M_INCIDENTS, jan, "T1"), KPI_WARNING);
    assert_int_equal(stored_state(f, M_INCIDENTS, jan, "T0"), KPI_WARNING);
    assert_int_equal(stored_state(f, M_VACANCIES, jan, "T2"), KPI_OK);
    assert_int_equal(stored_state(f, M_VACANCIES, jan, "T0"), KPI_OK);
    rows = notification_rows(f);
    /*
     * T1 stay: M1 and M3; T0 stay: M3.  Incidents and vacancies name no roles:
     * incidents T1A and T1: M1, T0: M3; vacancies red then green, T2: M2, T0: M3.
     */
    assert_int_equal(rows, 10);

    /* Crash; a new kpi replays the two observations and the incidents. */
    restart_kpi(f);
    begin_at(f, NOW + 2000);
    commit(f, false);
    assert_int_equal(notification_rows(f), rows);
    uint64_t observations, alerts;
    size_t cells, bytes;
    kpi_counts(f->kpi, &observations, &alerts, &cells, &bytes);
    assert_int_equal(observations, 10); /* applied again */
    assert_int_equal(alerts, 0);        /* but none told again */
    assert_true(kpi_unwritten(f->kpi)); /* still only in memory (flush_ms has not passed) */

    /* A second crash before anything is written: the same again. */
    restart_kpi(f);
    begin_at(f, NOW + 3000);
    commit(f, true);
    assert_false(kpi_unwritten(f->kpi));
    expect_crash_figures(f);
    assert_int_equal(notification_rows(f), rows);
    assert_int_equal(stored_state(f, M_STAY, jan, "T1"), KPI_WARNING);

    /* After the replays, state changes are still told once each. */
    begin_at(f, NOW + 4000);
    observe_ok(f, "length_of_stay", "T1", 0, t + 5); /* 36 / 6 = 6: amber */
    commit(f, false);
    assert_int_equal(notification_rows(f), rows);
    begin_at(f, NOW + 5000);
    observe_ok(f, "length_of_stay", "T1", 0, t + 6); /* 36 / 7 = 5.14: green (below 5.75) */
    commit(f, false);
    assert_int_equal(stored_state(f, M_STAY, jan, "T1"), KPI_OK);
    assert_int_equal(stored_state(f, M_STAY, jan, "T0"), KPI_OK);
    assert_int_equal(notification_rows(f), rows + 3);

    /* A crash now (the last two unwritten): replayed, not told again, figures exact. */
    restart_kpi(f);
    begin_at(f, NOW + 6000);
    commit(f, true);
    assert_int_equal(notification_rows(f), rows + 3);
    expect_stored(f, M_STAY, PERIOD_MONTH, jan, "T1", 7, 36, 0, 12, 0);
    assert_int_equal(stored_state(f, M_STAY, jan, "T1"), KPI_OK);
}

/*
 * The figures are written when kpi.flush_ms has passed since they last were,
 * without being forced; before that they are only in memory.
 */
static void
test_flush_after_flush_ms(void **state)
{
    struct fixture *f = *state;
    const int64_t jan = DAY(2026, 1, 1);

    begin_at(f, NOW);
    commit(f, false); /* the day's first: writes */
    begin_at(f, NOW + 1);
    observe_ok(f, "length_of_stay", "T2", 3, UTC(2026, 1, 13, 9, 0));
    commit(f, false);
    assert_true(kpi_unwritten(f->kpi));
    assert_false(stored(f, M_STAY, PERIOD_MONTH, jan, "T2").found);
    begin_at(f, NOW + 59999);
    commit(f, false);
    assert_true(kpi_unwritten(f->kpi));
    assert_false(stored(f, M_STAY, PERIOD_MONTH, jan, "T2").found);
    assert_true(kpi_next_ms(f->kpi) <= NOW + 60000);
    begin_at(f, NOW + 60000);
    commit(f, false);
    assert_false(kpi_unwritten(f->kpi));
    expect_stored(f, M_STAY, PERIOD_MONTH, jan, "T2", 1, 3, 3, 3, 3);
}

/*
 * A transaction that fails after observations were applied: kpi_rollback()
 * forgets memory, and the next transaction's kpi_replay() applies what was
 * committed but not written; the batch is then applied again (as ingest
 * retries it), and its alert goes out once.
 */
static void
test_rollback_then_replay(void **state)
{
    struct fixture *f = *state;
    const int64_t jan = DAY(2026, 1, 1);
    const int64_t t = UTC(2026, 1, 13, 9, 0);
    struct notification_list list;

    begin_at(f, NOW);
    observe_ok(f, "length_of_stay", "T2", 4, t);
    commit(f, true);
    begin_at(f, NOW + 1000);
    observe_ok(f, "length_of_stay", "T2", 5, t + 1); /* committed, not written */
    commit(f, false);
    assert_true(kpi_unwritten(f->kpi));

    /* A batch that turns T2 (and T0) red, then fails. */
    begin_at(f, NOW + 2000);
    observe_ok(f, "length_of_stay", "T2", 30, t + 2); /* 39 / 3 = 13 */
    assert_int_equal(kpi_finish(f->kpi, true), 0);
    store_rollback(f->store);
    kpi_rollback(f->kpi);
    assert_int_equal(notification_rows(f), 0);
    assert_int_equal(stored_state(f, M_STAY, jan, "T2"), KPI_OK);
    expect_stored(f, M_STAY, PERIOD_MONTH, jan, "T2", 1, 4, 4, 4, 4);

    /* The retry: replay first (inside begin_at), then the batch again. */
    begin_at(f, NOW + 3000);
    observe_ok(f, "length_of_stay", "T2", 30, t + 2);
    commit(f, true);
    expect_stored(f, M_STAY, PERIOD_MONTH, jan, "T2", 3, 39, 4, 30, 30);
    expect_stored(f, M_STAY, PERIOD_WEEK, DAY(2026, 1, 12), "T2", 3, 39, 4, 30, 30);
    assert_int_equal(stored_state(f, M_STAY, jan, "T2"), KPI_CRITICAL);
    assert_int_equal(stored_state(f, M_STAY, jan, "T0"), KPI_CRITICAL);
    /* T2: its manager M2 and the registered manager above M2 (M3); T0: M3. */
    notifications_after(f->store, 0, &list);
    assert_int_equal(list.count, 3);
    for (size_t i = 0; i < list.count; i++)
        assert_int_equal(list.items[i].level, KPI_CRITICAL);
    free(list.items);

    /* Rolled back with nothing applied: nothing changes. */
    begin_at(f, NOW + 4000);
    store_rollback(f->store);
    kpi_rollback(f->kpi);
    begin_at(f, NOW + 5000);
    commit(f, true);
    expect_stored(f, M_STAY, PERIOD_MONTH, jan, "T2", 3, 39, 4, 30, 30);
    assert_int_equal(notification_rows(f), 3);
}

/* ---- Alerts ---- */

/* The alert notifications after seq for one team (the caller frees list->items). */
static void
alerts_about(struct fixture *f, int64_t after, const char *team_id, struct notification_list *out)
{
    struct notification_list all;

    memset(out, 0, sizeof(*out));
    notifications_after(f->store, after, &all);
    for (size_t i = 0; i < all.count; i++) {
        assert_string_equal(all.items[i].type, "alert");
        if (strcmp(all.items[i].item, team_id) == 0)
            assert_int_equal(collect_notification(out, &all.items[i]), 0);
    }
    free(all.items);
}

static void
expect_recipients(const struct notification_list *list, const char *const *ids, size_t count)
{
    if (list->count != count) {
        for (size_t i = 0; i < list->count; i++)
            print_message("  got %s about %s\n", list->items[i].recipient_id, list->items[i].item);
        fail_msg("expected %zu recipients, got %zu", count, list->count);
    }
    for (size_t i = 0; i < count; i++) {
        bool found = false;
        for (size_t j = 0; j < list->count; j++)
            found = found || strcmp(list->items[j].recipient_id, ids[i]) == 0;
        if (!found)
            fail_msg("%s was not told", ids[i]);
    }
}

#define EXPECT_RECIPIENTS(list, ...)                                                               \
    do {                                                                                           \
        const char *const ids_[] = {__VA_ARGS__};                                                  \
        expect_recipients(list, ids_, sizeof(ids_) / sizeof(ids_[0]));                             \
    } while (0)

static int64_t
last_seq(struct fixture *f)
{
    int64_t seq, missed;

    assert_int_equal(store_notifications_summary(f->store, &seq, &missed), 0);
    return seq;
}

/*
 * Riverside's length of stay crosses the thresholds: each change of state
 * goes to the team's manager and the nearest registered manager above, in
 * plain English naming the team, the month, the figure and the state; a
 * figure wavering inside the hysteresis band tells nobody.
 */
static void
test_alert_recipients_and_text(void **state)
{
    struct fixture *f = *state;
    const int64_t jan = DAY(2026, 1, 1);
    const int64_t t = UTC(2026, 1, 12, 9, 0);
    struct notification_list list;
    int64_t seq;

    begin_at(f, NOW);
    observe_ok(f, "length_of_stay", "T1", 5, t); /* green: a first judgement tells nobody */
    commit(f, false);
    assert_int_equal(last_seq(f), 0);

    /* 12 / 2 = 6: amber. */
    seq = last_seq(f);
    begin_at(f, NOW + 1000);
    observe_ok(f, "length_of_stay", "T1", 7, t + 1);
    commit(f, false);
    alerts_about(f, seq, "T1", &list);
    EXPECT_RECIPIENTS(&list, "M1", "M3");
    for (size_t i = 0; i < list.count; i++) {
        const struct notification *n = &list.items[i];
        assert_string_equal(n->type, "alert");
        assert_string_equal(n->kind, "length_of_stay");
        assert_string_equal(n->item, "T1");
        assert_string_equal(n->step, "2026-01");
        assert_int_equal(n->due_day, jan);
        assert_int_equal(n->level, KPI_WARNING);
        assert_int_equal(n->obligation_id, 0);
        assert_int_equal(n->created_ms, NOW + 1000);
        assert_string_equal(n->text,
                            "Average length of stay for Riverside is now AMBER for 2026-01: 6 days "
                            "from 2 observations (it was GREEN; the target is 5 days; amber from "
                            "6 days, red from 8 days; lower is better). Please look at what is "
                            "behind it with the team.");
        /* Plain English: the title and the team's name, not their codes. */
        assert_null(strstr(n->text, "length_of_stay"));
        assert_null(strstr(n->text, "T1"));
    }
    free(list.items);
    /* T0 (Head office) turned amber with it: its manager M3 holds the role himself. */
    alerts_about(f, seq, "T0", &list);
    EXPECT_RECIPIENTS(&list, "M3");
    expect_contains(list.items[0].text, "Head office is now AMBER for 2026-01: 6 days");
    free(list.items);

    /* Inside the band (5.75 to 6): no change, nobody told. */
    seq = last_seq(f);
    begin_at(f, NOW + 2000);
    observe_ok(f, "length_of_stay", "T1", 5.25, t + 2); /* 17.25 / 3 = 5.75 */
    commit(f, false);
    assert_int_equal(last_seq(f), seq);
    assert_int_equal(stored_state(f, M_STAY, jan, "T1"), KPI_WARNING);

    /* 32 / 4 = 8: red, reached exactly. */
    begin_at(f, NOW + 3000);
    observe_ok(f, "length_of_stay", "T1", 14.75, t + 3);
    commit(f, false);
    alerts_about(f, seq, "T1", &list);
    EXPECT_RECIPIENTS(&list, "M1", "M3");
    assert_int_equal(list.items[0].level, KPI_CRITICAL);
    expect_contains(list.items[0].text, "Riverside is now RED for 2026-01: 8 days from 4 "
                                        "observations (it was AMBER;");
    free(list.items);

    /* Back down to 38.75 / 5 = 7.75 (the band below red): still red. */
    seq = last_seq(f);
    begin_at(f, NOW + 4000);
    observe_ok(f, "length_of_stay", "T1", 6.75, t + 4);
    commit(f, false);
    assert_int_equal(last_seq(f), seq);
    assert_int_equal(stored_state(f, M_STAY, jan, "T1"), KPI_CRITICAL);

    /* 38.75 / 6 = 6.46: below the band, amber. */
    begin_at(f, NOW + 5000);
    observe_ok(f, "length_of_stay", "T1", 0, t + 5);
    commit(f, false);
    alerts_about(f, seq, "T1", &list);
    EXPECT_RECIPIENTS(&list, "M1", "M3");
    assert_int_equal(list.items[0].level, KPI_WARNING);
    expect_contains(list.items[0].text, "Riverside is now AMBER for 2026-01: 6.46 days from 6 "
                                        "observations (it was RED;");
    free(list.items);

    /* 38.75 / 7 = 5.54, below 5.75: back to green. */
    seq = last_seq(f);
    begin_at(f, NOW + 6000);
    observe_ok(f, "length_of_stay", "T1", 0, t + 6);
    commit(f, false);
    alerts_about(f, seq, "T1", &list);
    EXPECT_RECIPIENTS(&list, "M1", "M3");
    assert_int_equal(list.items[0].level, KPI_OK);
    assert_string_equal(list.items[0].text,
                        "Average length of stay for Riverside is back to GREEN for 2026-01: 5.54 "
                        "days from 7 observations (it was AMBER; the target is 5 days; amber from "
                        "6 days, red from 8 days; lower is better). No action is needed now.");
    free(list.items);

    /* A team with no manager of its own: its parent's manager is told (T1A: M1). */
    seq = last_seq(f);
    begin_at(f, NOW + 7000);
    observe_ok(f, "vacancies", "T1A", 7, t);
    commit(f, false);
    alerts_about(f, seq, "T1A", &list);
    EXPECT_RECIPIENTS(&list, "M1");
    expect_contains(list.items[0].text, "Vacant posts for Riverside nights is now RED for "
                                        "2026-01: 7 posts from 1 observation (it was not judged");
    free(list.items);

    /* A team with no manager anywhere above: everyone holding the role is told. */
    seq = last_seq(f);
    begin_at(f, NOW + 8000);
    observe_ok(f, "length_of_stay", "T9", 7, t);
    commit(f, false);
    alerts_about(f, seq, "T9", &list);
    EXPECT_RECIPIENTS(&list, "M3", "R2");
    expect_contains(list.items[0].text, "Bank staff is now AMBER for 2026-01: 7 days");
    free(list.items);

    /* Every notification written is an alert and their seq has no gap. */
    notification_rows(f);
}

/* A late observation for a past month alerts about that month, named in the text. */
static void
test_alert_for_a_past_period(void **state)
{
    struct fixture *f = *state;
    struct notification_list list;

    begin_at(f, NOW);
    observe_ok(f, "length_of_stay", "T2", 9, UTC(2025, 12, 31, 23, 59));
    commit(f, false);
    alerts_about(f, 0, "T2", &list);
    EXPECT_RECIPIENTS(&list, "M2", "M3");
    assert_string_equal(list.items[0].step, "2025-12");
    assert_int_equal(list.items[0].due_day, DAY(2025, 12, 1));
    expect_contains(list.items[0].text, "Kitchen is now RED for 2025-12: 9 days");
    free(list.items);
    assert_int_equal(stored_state(f, M_STAY, DAY(2025, 12, 1), "T2"), KPI_CRITICAL);
    assert_int_equal(stored_state(f, M_STAY, DAY(2026, 1, 1), "T2"), KPI_NONE);
}

/* ---- A new configuration (a reload) ---- */

/*
 * kpi_set_metrics() between transactions: refused while figures wait to be
 * written; afterwards a kept metric keeps its figures and judgement although
 * its place in the list moved, is judged against its new levels when its
 * figure next changes (and alerts), a removed metric's observations are
 * refused while its figures stay stored, and a new metric starts empty.
 */
static void
test_set_metrics_between_transactions(void **state)
{
    struct fixture *f = *state;
    const int64_t jan = DAY(2026, 1, 1);
    const int64_t t = UTC(2026, 1, 12, 9, 0);
    struct metric next_items[2];
    struct metrics next = f->metrics;
    struct notification_list list;

    begin_at(f, NOW); /* the first transaction of a day writes the figures in any case */
    commit(f, false);
    begin_at(f, NOW + 500);
    observe_ok(f, "length_of_stay", "T1", 5.5, t); /* green: amber only from 6 */
    observe_ok(f, "incidents", "T2", 1, t);
    commit(f, false);
    assert_true(kpi_unwritten(f->kpi));

    /* "falls" first, so that length_of_stay moves from place 0 to place 1. */
    memset(next_items, 0, sizeof(next_items));
    name_metric(&next_items[0], "falls", "Falls", "");
    next_items[0].aggregate = AGGREGATE_SUM;
    next_items[0].periods = 1u << PERIOD_MONTH;
    next_items[0].alert_period = PERIOD_MONTH;
    next_items[0].min_observations = 1;
    next_items[1] = f->items[M_STAY];
    next_items[1].warning = 5.5;
    next.count = 2;
    next.items = next_items;
    assert_int_equal(kpi_set_metrics(f->kpi, &next, &f->kinds), -EBUSY);
    expect_rejected(f, check_event(f, "falls", "T1", 1, t), "unknown_metric", "falls");

    begin_at(f, NOW + 1000);
    commit(f, true);
    assert_false(kpi_unwritten(f->kpi));
    assert_int_equal(kpi_set_metrics(f->kpi, &next, &f->kinds), 0);
    assert_int_equal(stored_state(f, M_STAY, jan, "T1"), KPI_OK); /* nothing judged again */
    assert_int_equal(last_seq(f), 0);                             /* nor told */

    begin_at(f, NOW + 2000);
    expect_rejected(f, observe(f, "incidents", "T2", 1, t), "unknown_metric", "incidents");
    observe_ok(f, "length_of_stay", "T1", 5.5, t + 1); /* 11 / 2 = 5.5: amber now */
    observe_ok(f, "falls", "T1", 2, t);
    commit(f, true);
    expect_stored(f, M_STAY, PERIOD_MONTH, jan, "T1", 2, 11, 5.5, 5.5, 5.5);
    expect_stored(f, M_STAY, PERIOD_WEEK, DAY(2026, 1, 12), "T1", 2, 11, 5.5, 5.5, 5.5);
    expect_stored(f, M_INCIDENTS, PERIOD_MONTH, jan, "T2", 1, 1, 1, 1, 1);
    assert_int_equal(stored_state(f, M_STAY, jan, "T1"), KPI_WARNING);
    alerts_about(f, 0, "T1", &list);
    EXPECT_RECIPIENTS(&list, "M1", "M3");
    expect_contains(list.items[0].text, "is now AMBER for 2026-01: 5.5 days");
    expect_contains(list.items[0].text, "amber from 5.5 days");
    free(list.items);
    struct cell_listing falls = {0};
    assert_int_equal(store_kpi_cells(f->store, "falls", PERIOD_MONTH, jan, jan, list_cell, &falls),
                     0);
    assert_string_equal(falls.text, "T1/20454:1/2/2\n");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_state_colour),
        cmocka_unit_test(test_cell_empty_has_no_figure),
        cmocka_unit_test(test_cell_every_aggregate),
        cmocka_unit_test(test_cell_last_ties_and_out_of_order),
        cmocka_unit_test(test_cell_merge_is_exact),
        cmocka_unit_test(test_percentile_within_bound_after_merges),
        cmocka_unit_test(test_judge_lower_boundaries),
        cmocka_unit_test(test_judge_higher_boundaries),
        cmocka_unit_test(test_judge_hysteresis_lower),
        cmocka_unit_test(test_judge_hysteresis_higher),
        cmocka_unit_test(test_judge_min_observations),
        cmocka_unit_test(test_judge_only_critical),
        cmocka_unit_test(test_judge_only_warning),
        cmocka_unit_test_setup_teardown(test_check_rejections, setup, teardown),
        cmocka_unit_test_setup_teardown(test_apply_commit_and_read_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_without_flush_replays, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flush_after_flush_ms, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rollback_then_replay, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alert_recipients_and_text, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alert_for_a_past_period, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_metrics_between_transactions, setup, teardown),
    };

    setenv("TZ", "Europe/London", 1);
    tzset();
    store_global_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}

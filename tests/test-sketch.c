/*
 * Unit tests of daemon/sketch: the relative-error bound of every quantile
 * against the exact quantile of the same values (sorted, same rank), merges
 * in any order giving exactly the sketch of all the values, the encoding and
 * its refusal of anything malformed, and the edge cases (empty, one value,
 * equal values, zeros, extremes, the bounded span).
 *
 * Random values come from splitmix64 with fixed seeds, so a failure repeats.
 */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sketch.h"

#define VALUE_COUNT 200000
#define TEAMS 7
#define PERIODS 3

static const double quantiles[] = {0, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1};
#define QUANTILE_COUNT (sizeof(quantiles) / sizeof(quantiles[0]))

/* The greatest relative error seen by check_quantiles(), for the summary line. */
static double worst_relative_error;

/* splitmix64 (Steele, Lea, Flood 2014). */
static uint64_t
random_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15u);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static double
random_uniform(uint64_t *state)
{
    return (double)(random_next(state) >> 11) * 0x1.0p-53;
}

/* Standard normal, by Box-Muller. */
static double
random_normal(uint64_t *state)
{
    double u = 1 - random_uniform(state); /* (0, 1]: log(u) is finite */
    double v = random_uniform(state);

    return sqrt(-2 * log(u)) * cos(2 * M_PI * v);
}

static double
random_exponential(uint64_t *state, double mean)
{
    return -mean * log(1 - random_uniform(state));
}

/*
 * One value of a mixture: uniform, lognormal (wide: e^(3 +- 2.5 sigma)),
 * exponential, negative lognormal and uniform values, and exact zeros.
 */
static double
random_mixture(uint64_t *state)
{
    double pick = random_uniform(state);

    if (pick < 0.25)
        return 1000 * random_uniform(state);
    if (pick < 0.50)
        return exp(3 + 2 * random_normal(state));
    if (pick < 0.70)
        return random_exponential(state, 5);
    if (pick < 0.80)
        return -exp(1 + 1.5 * random_normal(state));
    if (pick < 0.90)
        return -50 * random_uniform(state);
    return 0;
}

static int
compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

/* Sorts a copy of values, for the exact quantiles; the caller frees it. */
static double *
sorted_copy(const double *values, size_t count)
{
    double *sorted = malloc((count ? count : 1) * sizeof(*sorted));

    assert_non_null(sorted);
    memcpy(sorted, values, count * sizeof(*sorted));
    qsort(sorted, count, sizeof(*sorted), compare_doubles);
    return sorted;
}

/* The exact q-quantile of sorted values, with the rank sketch.h defines. */
static double
exact_quantile(const double *sorted, size_t count, double q)
{
    size_t rank = (size_t)floor(q * (double)(count - 1));

    return sorted[rank < count ? rank : count - 1];
}

/*
 * Asserts the bound for every quantile of the list: |estimate - exact| <=
 * a |exact|, with a margin of 1e-12 relative for rounding in log() and exp().
 */
static void
check_quantiles(const struct sketch *sketch, const double *sorted, size_t count)
{
    assert_int_equal(sketch->count, count);
    for (size_t i = 0; i < QUANTILE_COUNT; i++) {
        double exact = exact_quantile(sorted, count, quantiles[i]);
        double estimate = NAN;

        assert_int_equal(sketch_quantile(sketch, quantiles[i], &estimate), 0);
        double error = fabs(estimate - exact);
        if (exact == 0) {
            if (estimate != 0)
                fail_msg("q %g: exact 0, estimate %.17g", quantiles[i], estimate);
            continue;
        }
        if (error > SKETCH_ACCURACY * fabs(exact) * (1 + 1e-12))
            fail_msg("q %g: exact %.17g, estimate %.17g, relative error %.6g", quantiles[i], exact,
                     estimate, error / fabs(exact));
        if (error / fabs(exact) > worst_relative_error)
            worst_relative_error = error / fabs(exact);
    }
}

/* Adds every value, asserting success. */
static void
add_all(struct sketch *sketch, const double *values, size_t count)
{
    for (size_t i = 0; i < count; i++)
        assert_int_equal(sketch_add(sketch, values[i]), 0);
}

/* Asserts that two sketches hold the same counts, bucket for bucket. */
static void
assert_sketches_equal(const struct sketch *a, const struct sketch *b)
{
    const struct sketch_store *a_stores[2] = {&a->positive, &a->negative};
    const struct sketch_store *b_stores[2] = {&b->positive, &b->negative};

    assert_int_equal(a->count, b->count);
    assert_int_equal(a->zero, b->zero);
    for (int s = 0; s < 2; s++) {
        assert_int_equal(a_stores[s]->offset, b_stores[s]->offset);
        assert_int_equal(a_stores[s]->length, b_stores[s]->length);
        if (a_stores[s]->length > 0)
            assert_memory_equal(a_stores[s]->counts, b_stores[s]->counts,
                                a_stores[s]->length * sizeof(uint32_t));
    }
}

/*
 * Asserts what every sketch must be: count is zero plus every bucket, each
 * store is tight (first and last bucket used) and within SKETCH_MAX_BUCKETS.
 */
static void
assert_sketch_valid(const struct sketch *sketch)
{
    const struct sketch_store *stores[2] = {&sketch->positive, &sketch->negative};
    uint64_t total = sketch->zero;

    for (int s = 0; s < 2; s++) {
        const struct sketch_store *store = stores[s];

        assert_true(store->length <= SKETCH_MAX_BUCKETS);
        if (store->length == 0) {
            assert_int_equal(store->offset, 0);
            continue;
        }
        assert_non_null(store->counts);
        assert_int_not_equal(store->counts[0], 0);
        assert_int_not_equal(store->counts[store->length - 1], 0);
        for (uint32_t k = 0; k < store->length; k++)
            total += store->counts[k];
    }
    assert_int_equal(total, sketch->count);
}

/* A copy of sketch, through merging it into an empty one. */
static void
copy_sketch(struct sketch *copy, const struct sketch *sketch)
{
    sketch_init(copy);
    assert_int_equal(sketch_merge(copy, sketch), 0);
}

/* The encoding of sketch, in a buffer of exactly its size (so ASan sees overreads). */
static uint8_t *
encode(const struct sketch *sketch, size_t *size)
{
    uint8_t *data;

    *size = sketch_encoded_size(sketch);
    data = malloc(*size);
    assert_non_null(data);
    sketch_encode(sketch, data);
    return data;
}

/* The mixture: VALUE_COUNT values, each given a team and a period at random. */
struct mixture {
    double *values;
    int *team, *period;
};

static int
mixture_setup(void **state)
{
    struct mixture *mixture = calloc(1, sizeof(*mixture));
    uint64_t seed = 20261122;

    if (mixture == NULL)
        return -1;
    mixture->values = malloc(VALUE_COUNT * sizeof(*mixture->values));
    mixture->team = malloc(VALUE_COUNT * sizeof(*mixture->team));
    mixture->period = malloc(VALUE_COUNT * sizeof(*mixture->period));
    if (mixture->values == NULL || mixture->team == NULL || mixture->period == NULL)
        return -1;
    for (size_t i = 0; i < VALUE_COUNT; i++) {
        mixture->values[i] = random_mixture(&seed);
        mixture->team[i] = (int)(random_next(&seed) % TEAMS);
        mixture->period[i] = (int)(random_next(&seed) % PERIODS);
    }
    *state = mixture;
    return 0;
}

static int
mixture_teardown(void **state)
{
    struct mixture *mixture = *state;

    free(mixture->values);
    free(mixture->team);
    free(mixture->period);
    free(mixture);
    return 0;
}

/* Each distribution on its own, 200,000 values. */
static void
test_accuracy_per_distribution(void **state)
{
    (void)state;
    double *values = malloc(VALUE_COUNT * sizeof(*values));
    uint64_t seed = 42;

    assert_non_null(values);
    for (int distribution = 0; distribution < 5; distribution++) {
        struct sketch sketch;

        for (size_t i = 0; i < VALUE_COUNT; i++) {
            switch (distribution) {
            case 0:
                values[i] = 1000 * random_uniform(&seed);
                break;
            case 1:
                values[i] = exp(random_normal(&seed) * 3); /* from ~1e-6 to ~1e6 */
                break;
            case 2:
                values[i] = random_exponential(&seed, 0.01);
                break;
            case 3:
                values[i] = -exp(2 + random_normal(&seed));
                break;
            default: /* small values near 1e-9, where zero begins */
                values[i] = 2e-9 * (1 + random_uniform(&seed));
                break;
            }
        }
        double *sorted = sorted_copy(values, VALUE_COUNT);
        sketch_init(&sketch);
        add_all(&sketch, values, VALUE_COUNT);
        assert_sketch_valid(&sketch);
        check_quantiles(&sketch, sorted, VALUE_COUNT);
        print_message("distribution %d: %u+%u buckets, %zu bytes, %zu encoded\n", distribution,
                      sketch.positive.length, sketch.negative.length, sketch_memory(&sketch),
                      sketch_encoded_size(&sketch));
        sketch_free(&sketch);
        free(sorted);
    }
    free(values);
}

/* The mixture at once, with negatives and zeros. */
static void
test_accuracy_of_a_mixture(void **state)
{
    struct mixture *mixture = *state;
    double *sorted = sorted_copy(mixture->values, VALUE_COUNT);
    struct sketch sketch;

    sketch_init(&sketch);
    add_all(&sketch, mixture->values, VALUE_COUNT);
    assert_sketch_valid(&sketch);
    assert_true(sketch.zero > 0);
    assert_true(sketch.negative.length > 0);
    check_quantiles(&sketch, sorted, VALUE_COUNT);
    /* Negatives are a fifth of the values, the zeros the next tenth: the 0.25-quantile is 0. */
    double estimate = 1;
    assert_int_equal(sketch_quantile(&sketch, 0.25, &estimate), 0);
    assert_true(estimate == 0);
    print_message("mixture: %u+%u buckets, %zu bytes in memory, %zu encoded\n",
                  sketch.positive.length, sketch.negative.length, sketch_memory(&sketch),
                  sketch_encoded_size(&sketch));
    sketch_free(&sketch);
    free(sorted);
}

/*
 * 21 sketches (7 teams x 3 periods) merged as a roll-up would: in order, in
 * reverse, by period then team, by team then period, and as a balanced tree.
 * Each must be exactly the sketch of all values, and each partial roll-up
 * must keep the bound for its own values.
 */
static void
test_merges_in_any_order(void **state)
{
    struct mixture *mixture = *state;
    struct sketch cells[TEAMS][PERIODS], whole, merged;
    struct sketch by_period[PERIODS], by_team[TEAMS];
    struct sketch tree[TEAMS * PERIODS];
    double *subset = malloc(VALUE_COUNT * sizeof(*subset));

    assert_non_null(subset);
    sketch_init(&whole);
    add_all(&whole, mixture->values, VALUE_COUNT);
    for (int t = 0; t < TEAMS; t++)
        for (int p = 0; p < PERIODS; p++)
            sketch_init(&cells[t][p]);
    for (size_t i = 0; i < VALUE_COUNT; i++)
        assert_int_equal(
            sketch_add(&cells[mixture->team[i]][mixture->period[i]], mixture->values[i]), 0);

    /* In order, and in reverse. */
    sketch_init(&merged);
    for (int t = 0; t < TEAMS; t++)
        for (int p = 0; p < PERIODS; p++)
            assert_int_equal(sketch_merge(&merged, &cells[t][p]), 0);
    assert_sketches_equal(&merged, &whole);
    sketch_free(&merged);
    sketch_init(&merged);
    for (int t = TEAMS - 1; t >= 0; t--)
        for (int p = PERIODS - 1; p >= 0; p--)
            assert_int_equal(sketch_merge(&merged, &cells[t][p]), 0);
    assert_sketches_equal(&merged, &whole);
    sketch_free(&merged);

    /* Each period's teams, checked against that period's values; then the periods. */
    sketch_init(&merged);
    for (int p = 0; p < PERIODS; p++) {
        size_t count = 0;

        copy_sketch(&by_period[p], &cells[TEAMS - 1][p]);
        for (int t = TEAMS - 2; t >= 0; t--)
            assert_int_equal(sketch_merge(&by_period[p], &cells[t][p]), 0);
        for (size_t i = 0; i < VALUE_COUNT; i++)
            if (mixture->period[i] == p)
                subset[count++] = mixture->values[i];
        double *sorted = sorted_copy(subset, count);
        check_quantiles(&by_period[p], sorted, count);
        free(sorted);
        assert_int_equal(sketch_merge(&merged, &by_period[p]), 0);
    }
    assert_sketches_equal(&merged, &whole);
    sketch_free(&merged);

    /* Each team's periods, checked against that team's values; then the teams, last first. */
    for (int t = 0; t < TEAMS; t++) {
        size_t count = 0;

        sketch_init(&by_team[t]);
        for (int p = 0; p < PERIODS; p++)
            assert_int_equal(sketch_merge(&by_team[t], &cells[t][p]), 0);
        for (size_t i = 0; i < VALUE_COUNT; i++)
            if (mixture->team[i] == t)
                subset[count++] = mixture->values[i];
        double *sorted = sorted_copy(subset, count);
        check_quantiles(&by_team[t], sorted, count);
        free(sorted);
    }
    for (int t = TEAMS - 2; t >= 0; t--)
        assert_int_equal(sketch_merge(&by_team[TEAMS - 1], &by_team[t]), 0);
    assert_sketches_equal(&by_team[TEAMS - 1], &whole);

    /* A balanced tree: pairs, then pairs of pairs, ... */
    for (int i = 0; i < TEAMS * PERIODS; i++)
        copy_sketch(&tree[i], &cells[i % TEAMS][i / TEAMS]);
    for (int step = 1; step < TEAMS * PERIODS; step *= 2)
        for (int i = 0; i + step < TEAMS * PERIODS; i += 2 * step)
            assert_int_equal(sketch_merge(&tree[i], &tree[i + step]), 0);
    assert_sketches_equal(&tree[0], &whole);

    double *sorted = sorted_copy(mixture->values, VALUE_COUNT);
    check_quantiles(&tree[0], sorted, VALUE_COUNT);
    free(sorted);
    print_message("worst relative error so far: %.9g (bound %g)\n", worst_relative_error,
                  SKETCH_ACCURACY);

    for (int i = 0; i < TEAMS * PERIODS; i++)
        sketch_free(&tree[i]);
    for (int t = 0; t < TEAMS; t++)
        sketch_free(&by_team[t]);
    for (int p = 0; p < PERIODS; p++)
        sketch_free(&by_period[p]);
    for (int t = 0; t < TEAMS; t++)
        for (int p = 0; p < PERIODS; p++)
            sketch_free(&cells[t][p]);
    sketch_free(&whole);
    free(subset);
}

/* Merging with an empty sketch, either way, and sketches of disjoint ranges. */
static void
test_merge_empty_and_disjoint(void **state)
{
    (void)state;
    struct sketch low, high, both, into, empty;
    uint64_t seed = 7;

    sketch_init(&low);
    sketch_init(&high);
    sketch_init(&both);
    sketch_init(&empty);
    for (int i = 0; i < 1000; i++) {
        double a = 1 + random_uniform(&seed), b = 1e6 * (1 + random_uniform(&seed));
        double c = -1e-3 * (1 + random_uniform(&seed));
        assert_int_equal(sketch_add(&low, a), 0);
        assert_int_equal(sketch_add(&high, b), 0);
        assert_int_equal(sketch_add(&high, c), 0);
        assert_int_equal(sketch_add(&both, a), 0);
        assert_int_equal(sketch_add(&both, b), 0);
        assert_int_equal(sketch_add(&both, c), 0);
    }

    /* Empty into empty stays empty, with nothing allocated. */
    sketch_init(&into);
    assert_int_equal(sketch_merge(&into, &empty), 0);
    assert_int_equal(into.count, 0);
    assert_null(into.positive.counts);
    assert_int_equal(sketch_memory(&into), 0);

    /* A sketch into an empty one is a copy; an empty one into a sketch changes nothing. */
    assert_int_equal(sketch_merge(&into, &low), 0);
    assert_sketches_equal(&into, &low);
    assert_int_equal(sketch_merge(&into, &empty), 0);
    assert_sketches_equal(&into, &low);

    /* Disjoint ranges, merged either way round, give the sketch of all the values. */
    assert_int_equal(sketch_merge(&into, &high), 0);
    assert_sketches_equal(&into, &both);
    assert_sketch_valid(&into);
    sketch_free(&into);
    copy_sketch(&into, &high);
    assert_int_equal(sketch_merge(&into, &low), 0);
    assert_sketches_equal(&into, &both);
    assert_true(into.positive.length > 600); /* the gap between 2 and 1e6 is kept, empty */

    sketch_free(&into);
    sketch_free(&both);
    sketch_free(&high);
    sketch_free(&low);
}

/* Merging a sketch into itself doubles it: the same as merging in a copy. */
static void
test_merge_with_itself(void **state)
{
    struct mixture *mixture = *state;
    struct sketch sketch, copy, expected;

    sketch_init(&sketch);
    add_all(&sketch, mixture->values, 5000);
    copy_sketch(&copy, &sketch);
    copy_sketch(&expected, &sketch);
    assert_int_equal(sketch_merge(&expected, &copy), 0);
    assert_int_equal(sketch_merge(&sketch, &sketch), 0);
    assert_sketches_equal(&sketch, &expected);
    assert_int_equal(sketch.count, 10000);
    sketch_free(&expected);
    sketch_free(&copy);
    sketch_free(&sketch);
}

static void
test_empty_sketch(void **state)
{
    (void)state;
    struct sketch sketch;
    double value = 123;

    sketch_init(&sketch);
    assert_int_equal(sketch_quantile(&sketch, 0.5, &value), -ENOENT);
    assert_int_equal(sketch_quantile(&sketch, 0, &value), -ENOENT);
    assert_true(value == 123);
    assert_int_equal(sketch_memory(&sketch), 0);
    sketch_free(&sketch);
    sketch_free(&sketch); /* freeing twice is freeing an empty sketch */
    assert_int_equal(sketch_quantile(&sketch, 1, &value), -ENOENT);
}

static void
test_one_value(void **state)
{
    (void)state;
    static const double values[] = {42, -42, 1e-9, 0.5, 1, 1e300, -1e-5, 0};

    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        struct sketch sketch;

        sketch_init(&sketch);
        assert_int_equal(sketch_add(&sketch, values[i]), 0);
        check_quantiles(&sketch, &values[i], 1);
        assert_int_equal(sketch.positive.length + sketch.negative.length, sketch.zero ? 0 : 1);
        sketch_free(&sketch);
    }
}

static void
test_all_equal_values(void **state)
{
    (void)state;
    struct sketch sketch;
    double value = 3.7, estimate = 0;

    sketch_init(&sketch);
    for (int i = 0; i < 100000; i++)
        assert_int_equal(sketch_add(&sketch, value), 0);
    assert_int_equal(sketch.positive.length, 1);
    assert_int_equal(sketch.positive.counts[0], 100000);
    for (size_t i = 0; i < QUANTILE_COUNT; i++) {
        double first;
        assert_int_equal(sketch_quantile(&sketch, quantiles[i], &estimate), 0);
        assert_int_equal(sketch_quantile(&sketch, 0, &first), 0);
        assert_true(estimate == first);
        assert_true(fabs(estimate - value) <= SKETCH_ACCURACY * value);
    }
    sketch_free(&sketch);
}

/* Negatives come first, the greatest magnitude first; then zeros; then positives. */
static void
test_order_of_signs(void **state)
{
    (void)state;
    static const double values[] = {5, -1, 0, 1, -5};
    static const double expected[] = {-5, -1, 0, 1, 5};
    struct sketch sketch;

    sketch_init(&sketch);
    add_all(&sketch, values, 5);
    for (int i = 0; i < 5; i++) {
        double estimate;
        assert_int_equal(sketch_quantile(&sketch, i / 4.0, &estimate), 0);
        if (expected[i] == 0)
            assert_true(estimate == 0);
        else
            assert_true(fabs(estimate - expected[i]) <= SKETCH_ACCURACY * fabs(expected[i]));
    }
    /* Rank floor(q (n - 1)): q = 0.49 is rank 1 (-1), not rank 2. */
    double estimate;
    assert_int_equal(sketch_quantile(&sketch, 0.49, &estimate), 0);
    assert_true(estimate < -0.98 && estimate > -1.02);
    sketch_free(&sketch);
}

/* Magnitudes below SKETCH_MIN_MAGNITUDE are zeros, reported as exactly 0. */
static void
test_zeros(void **state)
{
    (void)state;
    static const double zeros[] = {0, -0.0, 1e-12, -1e-12, 5e-324, 9.99e-10};
    struct sketch sketch;
    double estimate = 1;

    sketch_init(&sketch);
    add_all(&sketch, zeros, 6);
    assert_int_equal(sketch.count, 6);
    assert_int_equal(sketch.zero, 6);
    assert_int_equal(sketch.positive.length + sketch.negative.length, 0);
    assert_int_equal(sketch_quantile(&sketch, 0.5, &estimate), 0);
    assert_true(estimate == 0 && !signbit(estimate));
    assert_int_equal(sketch_add(&sketch, SKETCH_MIN_MAGNITUDE), 0);
    assert_int_equal(sketch.zero, 6);
    assert_int_equal(sketch.positive.length, 1);
    sketch_free(&sketch);
}

static void
test_rejected_input(void **state)
{
    (void)state;
    struct sketch sketch;
    double estimate = 5;

    sketch_init(&sketch);
    assert_int_equal(sketch_add(&sketch, 2), 0);
    assert_int_equal(sketch_add(&sketch, NAN), -EINVAL);
    assert_int_equal(sketch_add(&sketch, INFINITY), -EINVAL);
    assert_int_equal(sketch_add(&sketch, -INFINITY), -EINVAL);
    assert_int_equal(sketch.count, 1);
    assert_int_equal(sketch_quantile(&sketch, -0.01, &estimate), -EINVAL);
    assert_int_equal(sketch_quantile(&sketch, 1.01, &estimate), -EINVAL);
    assert_int_equal(sketch_quantile(&sketch, NAN, &estimate), -EINVAL);
    assert_true(estimate == 5);
    sketch_free(&sketch);
}

/* The greatest and least magnitudes the sketch takes keep the bound and stay finite. */
static void
test_extremes(void **state)
{
    (void)state;
    /* Sets within SKETCH_MAX_BUCKETS of their greatest magnitude, so that none collapses. */
    static const double huge[] = {-DBL_MAX, -1e300, 1e300, DBL_MAX};
    static const double tiny[] = {-1e-5, SKETCH_MIN_MAGNITUDE, 2e-9, 1e-5, 1e25};
    const struct {
        const double *values;
        int count;
    } sets[] = {{huge, 4}, {tiny, 5}};

    for (int s = 0; s < 2; s++) {
        struct sketch sketch;
        int count = sets[s].count;

        sketch_init(&sketch);
        add_all(&sketch, sets[s].values, (size_t)count);
        for (int i = 0; i < count; i++) {
            double estimate;
            double q = i == count - 1 ? 1 : (i + 0.5) / (count - 1); /* rank i, clear of rounding */
            double exact = sets[s].values[i];
            assert_int_equal(sketch_quantile(&sketch, q, &estimate), 0);
            assert_true(isfinite(estimate));
            if (fabs(estimate - exact) > SKETCH_ACCURACY * fabs(exact))
                fail_msg("rank %d: exact %.17g, estimate %.17g", i, exact, estimate);
        }
        sketch_free(&sketch);
    }
}

/*
 * A store spanning more than SKETCH_MAX_BUCKETS keeps the highest buckets,
 * the others counted in its lowest; the result does not depend on order.
 */
static void
test_span_is_bounded(void **state)
{
    (void)state;
    struct sketch low, high, whole, merged;
    double estimate;

    sketch_init(&low);
    sketch_init(&high);
    sketch_init(&whole);
    for (int i = 0; i < 100; i++) {
        double small = 1 + i / 100.0, large = 1e40 * (1 + i / 100.0);
        assert_int_equal(sketch_add(&low, small), 0);
        assert_int_equal(sketch_add(&low, -small), 0);
        assert_int_equal(sketch_add(&high, large), 0);
        assert_int_equal(sketch_add(&high, -large), 0);
        /* Alternate, so that the whole sketch collapses many times. */
        assert_int_equal(sketch_add(&whole, i % 2 ? small : large), 0);
        assert_int_equal(sketch_add(&whole, i % 2 ? -large : -small), 0);
    }
    for (int i = 0; i < 100; i++) {
        double small = 1 + i / 100.0, large = 1e40 * (1 + i / 100.0);
        assert_int_equal(sketch_add(&whole, i % 2 ? large : small), 0);
        assert_int_equal(sketch_add(&whole, i % 2 ? -small : -large), 0);
    }
    assert_sketch_valid(&whole);
    assert_int_equal(whole.positive.length, SKETCH_MAX_BUCKETS);
    assert_int_equal(whole.negative.length, SKETCH_MAX_BUCKETS);
    assert_true(sketch_memory(&whole) <= 2 * SKETCH_MAX_BUCKETS * sizeof(uint32_t));

    copy_sketch(&merged, &low);
    assert_int_equal(sketch_merge(&merged, &high), 0);
    assert_sketches_equal(&merged, &whole);
    sketch_free(&merged);
    copy_sketch(&merged, &high);
    assert_int_equal(sketch_merge(&merged, &low), 0);
    assert_sketches_equal(&merged, &whole);

    /* The greatest magnitudes keep the bound; the collapsed ones are reported too large. */
    assert_int_equal(sketch_quantile(&merged, 1, &estimate), 0);
    assert_true(fabs(estimate - 1.99e40) <= SKETCH_ACCURACY * 1.99e40);
    assert_int_equal(sketch_quantile(&merged, 0, &estimate), 0);
    assert_true(fabs(estimate + 1.99e40) <= SKETCH_ACCURACY * 1.99e40);
    /* 400 values: ranks 100-199 are -1.99 to -1, 200-299 are 1 to 1.99, collapsed upwards. */
    assert_int_equal(sketch_quantile(&merged, 150.5 / 399, &estimate), 0);
    assert_true(estimate < -2 && estimate > -1e40 * 0.99);
    assert_int_equal(sketch_quantile(&merged, 250.5 / 399, &estimate), 0);
    assert_true(estimate > 2 && estimate < 1e40 * 0.99);

    sketch_free(&merged);
    sketch_free(&whole);
    sketch_free(&high);
    sketch_free(&low);
}

static void
test_memory(void **state)
{
    struct mixture *mixture = *state;
    struct sketch sketch;
    uint64_t seed = 99;

    /* Response times of 0.1 s to 1 hour: a few hundred buckets, far below the worst case. */
    sketch_init(&sketch);
    for (int i = 0; i < 100000; i++)
        assert_int_equal(sketch_add(&sketch, 0.1 + random_exponential(&seed, 60)), 0);
    size_t used = (sketch.positive.length + sketch.negative.length) * sizeof(uint32_t);
    print_message("exponential response times: %u buckets, %zu bytes in memory, %zu encoded\n",
                  sketch.positive.length, sketch_memory(&sketch), sketch_encoded_size(&sketch));
    assert_true(sketch_memory(&sketch) >= used);
    assert_true(sketch_memory(&sketch) <= 2 * used + 64 * sizeof(uint32_t));
    assert_true(sketch_memory(&sketch) <= 4096);
    sketch_free(&sketch);
    assert_int_equal(sketch_memory(&sketch), 0);

    /* The wide mixture: under 8 KiB for both stores. */
    sketch_init(&sketch);
    add_all(&sketch, mixture->values, VALUE_COUNT);
    used = (sketch.positive.length + sketch.negative.length) * sizeof(uint32_t);
    assert_true(sketch_memory(&sketch) >= used);
    assert_true(sketch_memory(&sketch) <= 2 * used + 64 * sizeof(uint32_t));
    assert_true(sketch_memory(&sketch) <= 8192);
    sketch_free(&sketch);
}

/* Too many values in one bucket: -EOVERFLOW, and the sketch as it was. */
static void
test_bucket_overflow(void **state)
{
    (void)state;
    /* One positive bucket (index 0, the value 1) holding 2^32 - 1 values. */
    static const uint8_t full[] = {1, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0x0f, 0, 0};
    struct sketch sketch, other, before;

    sketch_init(&sketch);
    assert_int_equal(sketch_decode(&sketch, full, sizeof(full)), 0);
    assert_int_equal(sketch.count, UINT32_MAX);
    copy_sketch(&before, &sketch);
    assert_int_equal(sketch_add(&sketch, 1), -EOVERFLOW);
    assert_sketches_equal(&sketch, &before);
    assert_int_equal(sketch_add(&sketch, 2), 0); /* another bucket is fine */
    assert_int_equal(sketch_add(&sketch, 0.5), 0);
    assert_int_equal(sketch_add(&sketch, -1), 0);
    sketch_free(&before);
    copy_sketch(&before, &sketch);
    /* The full bucket is no longer the lowest one. */
    assert_int_equal(sketch_add(&sketch, 1), -EOVERFLOW);
    assert_sketches_equal(&sketch, &before);
    assert_int_equal(sketch_merge(&sketch, &sketch), -EOVERFLOW);
    assert_sketches_equal(&sketch, &before);
    sketch_init(&other);
    assert_int_equal(sketch_add(&other, -3), 0);
    assert_int_equal(sketch_add(&other, 1), 0);
    assert_int_equal(sketch_merge(&sketch, &other), -EOVERFLOW);
    assert_sketches_equal(&sketch, &before); /* the negative store was not merged either */
    sketch_free(&other);
    sketch_free(&before);
    sketch_free(&sketch);
}

static void
test_encoding_round_trip(void **state)
{
    struct mixture *mixture = *state;
    struct sketch sketch, decoded;
    size_t size;

    sketch_init(&sketch);
    add_all(&sketch, mixture->values, VALUE_COUNT);
    uint8_t *data = encode(&sketch, &size);

    /* Into an empty sketch, and over one in use (whose buckets are released). */
    sketch_init(&decoded);
    assert_int_equal(sketch_decode(&decoded, data, size), 0);
    assert_sketches_equal(&decoded, &sketch);
    assert_int_equal(sketch_decode(&decoded, data, size), 0);
    assert_sketches_equal(&decoded, &sketch);
    size_t again_size;
    uint8_t *again = encode(&decoded, &again_size);
    assert_int_equal(again_size, size);
    assert_memory_equal(again, data, size);
    free(again);
    sketch_free(&decoded);
    free(data);

    /* The empty sketch: the version, the zero count and two empty stores. */
    sketch_free(&sketch);
    data = encode(&sketch, &size);
    static const uint8_t empty[] = {1, 0, 0, 0, 0, 0};
    assert_int_equal(size, sizeof(empty));
    assert_memory_equal(data, empty, size);
    sketch_init(&decoded);
    assert_int_equal(sketch_add(&decoded, 1), 0);
    assert_int_equal(sketch_decode(&decoded, data, size), 0);
    assert_sketches_equal(&decoded, &sketch);
    free(data);

    /* A known encoding: 3 zeros, 1 and 1.03 (buckets 0 and 2), -1 (bucket 0). */
    static const uint8_t known[] = {1, 3, 0, 3, 1, 0, 1, 0, 1, 1};
    static const double values[] = {0, 0, 0, 1, 1.03, -1};
    sketch_init(&sketch);
    add_all(&sketch, values, 6);
    data = encode(&sketch, &size);
    assert_int_equal(size, sizeof(known));
    assert_memory_equal(data, known, size);
    free(data);
    sketch_free(&sketch);
}

/* Copies data[0 .. size) into a buffer of exactly size bytes and decodes it. */
static int
decode_exact(struct sketch *sketch, const uint8_t *data, size_t size)
{
    uint8_t *copy = malloc(size ? size : 1);
    int r;

    assert_non_null(copy);
    memcpy(copy, data, size);
    r = sketch_decode(sketch, copy, size);
    free(copy);
    return r;
}

/* Every truncation of a real encoding is refused, and the sketch decoded into is unchanged. */
static void
test_decode_truncated(void **state)
{
    struct mixture *mixture = *state;
    struct sketch sketch, target, before;
    size_t size;

    sketch_init(&sketch);
    add_all(&sketch, mixture->values, 20000);
    uint8_t *data = encode(&sketch, &size);
    sketch_init(&target);
    assert_int_equal(sketch_add(&target, 17), 0);
    copy_sketch(&before, &target);
    for (size_t length = 0; length < size; length++) {
        if (decode_exact(&target, data, length) != -EINVAL)
            fail_msg("a truncation to %zu of %zu bytes was read", length, size);
        assert_sketches_equal(&target, &before);
    }
    assert_int_equal(decode_exact(&target, data, size), 0);
    assert_sketches_equal(&target, &sketch);
    sketch_free(&before);
    sketch_free(&target);
    sketch_free(&sketch);
    free(data);
}

/*
 * Random corruption (one to four bytes changed, or a byte inserted): decode
 * refuses it or reads a valid sketch that encodes back to the same bytes,
 * since a sketch has one encoding.
 */
static void
test_decode_corrupted(void **state)
{
    struct mixture *mixture = *state;
    struct sketch sketch, target;
    uint64_t seed = 1234;
    size_t size, accepted = 0;

    sketch_init(&sketch);
    add_all(&sketch, mixture->values, 3000);
    uint8_t *data = encode(&sketch, &size);
    uint8_t *bad = malloc(size + 1);
    assert_non_null(bad);
    sketch_init(&target);
    for (int trial = 0; trial < 20000; trial++) {
        size_t bad_size = size;
        memcpy(bad, data, size);
        if (trial % 5 == 4) {
            size_t at = random_next(&seed) % (size + 1);
            memmove(bad + at + 1, bad + at, size - at);
            bad[at] = (uint8_t)random_next(&seed);
            bad_size = size + 1;
        } else {
            int changes = 1 + (int)(random_next(&seed) % 4);
            for (int c = 0; c < changes; c++)
                bad[random_next(&seed) % size] ^= (uint8_t)(1 + random_next(&seed) % 255);
        }
        int r = decode_exact(&target, bad, bad_size);
        if (r == 0) {
            size_t again_size;
            accepted++;
            assert_sketch_valid(&target);
            uint8_t *again = encode(&target, &again_size);
            assert_int_equal(again_size, bad_size);
            assert_memory_equal(again, bad, bad_size);
            free(again);
            double estimate;
            assert_int_equal(sketch_quantile(&target, 0.5, &estimate), 0);
        } else if (r != -EINVAL) {
            fail_msg("trial %d: decode returned %d", trial, r);
        }
    }
    print_message("corrupted encodings read as valid sketches: %zu of 20000\n", accepted);
    sketch_free(&target);
    sketch_free(&sketch);
    free(bad);
    free(data);
}

/* Hand-made encodings, each wrong in one way. */
static void
test_decode_malformed(void **state)
{
    (void)state;
    static const struct {
        const char *why;
        uint8_t bytes[16];
        size_t size;
    } cases[] = {
        {"empty", {0}, 0},
        {"version 0", {0, 0, 0, 0, 0, 0}, 6},
        {"version 2", {2, 0, 0, 0, 0, 0}, 6},
        {"a byte after the end", {1, 0, 0, 0, 0, 0, 0}, 7},
        {"a store missing", {1, 0, 0, 0}, 4},
        {"a varint not in its shortest form", {1, 0x80, 0x00, 0, 0, 0, 0}, 7},
        {"a varint longer than 64 bits",
         {1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0},
         15},
        {"an endless varint", {1, 0xff, 0xff, 0xff}, 4},
        {"an empty store with an offset", {1, 0, 2, 0, 0, 0}, 6},
        {"a length beyond the data", {1, 0, 0, 0xff, 0x1f, 1, 0, 0}, 8},
        {"a length beyond SKETCH_MAX_BUCKETS", {1, 0, 0, 0x81, 0x20, 1, 0, 0}, 8},
        {"a first bucket of 0", {1, 0, 0, 2, 0, 1, 0, 0}, 8},
        {"a last bucket of 0", {1, 0, 0, 2, 1, 0, 0, 0}, 8},
        {"a bucket beyond 2^32 - 1", {1, 0, 0, 1, 0x80, 0x80, 0x80, 0x80, 0x10, 0, 0}, 11},
        {"an offset below the least magnitude (-1037)", {1, 0, 0x99, 0x10, 1, 1, 0, 0}, 8},
        {"an offset far below", {1, 0, 0xff, 0x1f, 1, 1, 0, 0}, 8},
        {"an offset beyond DBL_MAX (35,489)", {1, 0, 0xc2, 0xaa, 0x04, 1, 1, 0, 0}, 9},
        {"a store running past DBL_MAX", {1, 0, 0xc0, 0xaa, 0x04, 2, 1, 1, 0, 0}, 10},
        {"an offset beyond int32_t", {1, 0, 0x80, 0x80, 0x80, 0x80, 0x10, 1, 1, 0, 0}, 11},
        {"a total count beyond 2^64 - 1",
         {1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0, 1, 1, 0, 0},
         16},
    };
    struct sketch sketch;

    sketch_init(&sketch);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (decode_exact(&sketch, cases[i].bytes, cases[i].size) != -EINVAL)
            fail_msg("%s: read", cases[i].why);

    /* The same encodings, made right, are read (so each case fails for its reason). */
    static const uint8_t good[][12] = {
        {1, 0, 0, 0, 0, 0},                               /* empty */
        {1, 0, 0, 2, 1, 1, 0, 0},                         /* two buckets */
        {1, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0x0f, 0, 0}, /* 2^32 - 1 in one bucket */
        {1, 0, 0x97, 0x10, 1, 1, 0, 0},                   /* bucket -1036: 1e-9 */
        {1, 0, 0xc0, 0xaa, 0x04, 1, 1, 0, 0},             /* bucket 35,488: DBL_MAX */
    };
    static const size_t good_sizes[] = {6, 8, 11, 8, 9};
    for (size_t i = 0; i < sizeof(good_sizes) / sizeof(good_sizes[0]); i++) {
        assert_int_equal(decode_exact(&sketch, good[i], good_sizes[i]), 0);
        assert_sketch_valid(&sketch);
    }
    sketch_free(&sketch);
}

/* Run last: the summary of the bound the other tests checked. */
static void
test_worst_error_is_within_the_bound(void **state)
{
    (void)state;
    print_message("worst relative error of all quantiles checked: %.17g (bound %g)\n",
                  worst_relative_error, SKETCH_ACCURACY);
    assert_true(worst_relative_error > 0);
    assert_true(worst_relative_error <= SKETCH_ACCURACY * (1 + 1e-12));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accuracy_per_distribution),
        cmocka_unit_test(test_accuracy_of_a_mixture),
        cmocka_unit_test(test_merges_in_any_order),
        cmocka_unit_test(test_merge_empty_and_disjoint),
        cmocka_unit_test(test_merge_with_itself),
        cmocka_unit_test(test_empty_sketch),
        cmocka_unit_test(test_one_value),
        cmocka_unit_test(test_all_equal_values),
        cmocka_unit_test(test_order_of_signs),
        cmocka_unit_test(test_zeros),
        cmocka_unit_test(test_rejected_input),
        cmocka_unit_test(test_extremes),
        cmocka_unit_test(test_span_is_bounded),
        cmocka_unit_test(test_memory),
        cmocka_unit_test(test_bucket_overflow),
        cmocka_unit_test(test_encoding_round_trip),
        cmocka_unit_test(test_decode_truncated),
        cmocka_unit_test(test_decode_corrupted),
        cmocka_unit_test(test_decode_malformed),
        cmocka_unit_test(test_worst_error_is_within_the_bound),
    };

    return cmocka_run_group_tests_name("sketch", tests, mixture_setup, mixture_teardown);
}

/*
 * sketch: a mergeable quantile sketch with a relative-error guarantee.
 *
 * Values are counted in logarithmic buckets: with gamma = (1 + a) / (1 - a),
 * a positive value x falls in bucket i = ceil(log_gamma(x)), which holds
 * (gamma^(i-1), gamma^i], and a bucket is reported as 2 gamma^i / (gamma + 1).
 * Every value in a bucket is then within a relative error a of what is
 * reported, so the q-quantile of the sketch is within a of the exact
 * q-quantile of the values counted (the same guarantee as DDSketch).
 * Negative values are counted in a mirrored set of buckets and values whose
 * magnitude is below SKETCH_MIN_MAGNITUDE as zero.
 *
 * Two sketches with the same accuracy merge exactly by adding their buckets,
 * so a sketch of a team's sub-teams, or of three months, is the sketch of all
 * their values together: the bound holds after any number of merges.
 *
 * The buckets are stored densely between the lowest and highest bucket used,
 * so memory grows with the spread of the values (log_gamma(max/min) buckets
 * of 4 bytes), not with their count.  With a = 0.01 (SKETCH_ACCURACY), values
 * from 0.001 to 1,000,000 span about 1,040 buckets: ~4 KiB, usually far
 * less.  Arrays grow by doubling from 16 buckets, so up to twice that is
 * allocated (8 KiB for those 1,040 buckets).
 *
 * The span is bounded: a store never holds more than SKETCH_MAX_BUCKETS
 * buckets (16 KiB), magnitudes from m to about 3.8e35 m.  When a value or a
 * merge would stretch it further, the lowest buckets are collapsed into the
 * lowest bucket kept, so the values far below the greatest magnitude (the
 * least positive values, the negative values nearest zero) are then reported
 * too high in magnitude; the greatest magnitudes keep the bound.  Which
 * buckets collapse depends only on the greatest magnitude ever counted, so
 * merges stay exact and independent of their order.  Without a collapse a
 * store is at most ~36,500 buckets anyway (SKETCH_MIN_MAGNITUDE to DBL_MAX).
 *
 * A store is kept tight (no empty bucket at either end), so sketches of the
 * same values are equal field for field, however they were built or merged.
 */
#ifndef CAREHUB_SKETCH_H
#define CAREHUB_SKETCH_H

#include <stddef.h>
#include <stdint.h>

/* The relative accuracy of every sketch the daemon keeps. */
#define SKETCH_ACCURACY 0.01

/* Magnitudes below this count as zero (reported exactly as 0). */
#define SKETCH_MIN_MAGNITUDE 1e-9

/* The most buckets one store (positive or negative values) keeps; see above. */
#define SKETCH_MAX_BUCKETS 4096

struct sketch_store {
    int32_t offset;   /* the bucket index of counts[0]; 0 when length is 0 */
    uint32_t length;  /* buckets in use from offset; counts[0] and counts[length - 1] are not 0 */
    uint32_t *counts; /* NULL when length is 0 */
};

struct sketch {
    uint64_t count; /* every value added */
    uint64_t zero;  /* values counted as zero */
    struct sketch_store positive, negative;
};

/* An empty sketch; needs no allocation until the first value. */
void sketch_init(struct sketch *sketch);

/* Releases the buckets; the sketch is then empty again. */
void sketch_free(struct sketch *sketch);

/*
 * Adds one value.  Returns 0, -EINVAL when value is not finite (NaN or
 * infinite), -ENOMEM, or -EOVERFLOW when a bucket would pass 2^32 - 1 values;
 * on an error the sketch is unchanged.
 */
int sketch_add(struct sketch *sketch, double value);

/*
 * Adds every value of from into into (from is borrowed and unchanged).
 * Merging a sketch into itself (into == from) doubles every count; two
 * distinct sketches must not share bucket arrays.  Returns 0, -ENOMEM, or
 * -EOVERFLOW when a bucket would pass 2^32 - 1 values (or the count 2^64 - 1);
 * on an error into is unchanged.
 */
int sketch_merge(struct sketch *into, const struct sketch *from);

/*
 * The q-quantile (0 <= q <= 1) into *out: the value of rank floor(q (n - 1))
 * among the n values in ascending order (so q = 0 is the least, q = 1 the
 * greatest), within the relative accuracy.  Returns 0, -ENOENT when empty,
 * or -EINVAL when q is outside [0, 1] or NaN.
 */
int sketch_quantile(const struct sketch *sketch, double q, double *out);

/* Bytes the bucket arrays take in memory (their allocated size, not the struct). */
size_t sketch_memory(const struct sketch *sketch);

/*
 * A compact, portable encoding (versioned; little-endian base-128 varints) for
 * the database: a version byte, the zero count, then each store's offset,
 * length and bucket counts.  A sketch has exactly one encoding.
 * sketch_encoded_size() is the exact size sketch_encode() writes into out.
 */
size_t sketch_encoded_size(const struct sketch *sketch);
void sketch_encode(const struct sketch *sketch, uint8_t *out);
/*
 * Replaces *sketch (initialised, empty or not) by the sketch data encodes.
 * data is untrusted: every length is checked against size, and an encoding
 * that sketch_encode() could not have written is refused.  Returns 0,
 * -EINVAL for a malformed encoding, or -ENOMEM; on an error *sketch is
 * unchanged.
 */
int sketch_decode(struct sketch *sketch, const uint8_t *data, size_t size);

#endif

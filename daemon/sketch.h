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
 * from 0.001 to 1,000,000 span about 1,040 buckets: ~4 KiB at worst, usually
 * far less.
 */
#ifndef CAREHUB_SKETCH_H
#define CAREHUB_SKETCH_H

#include <stddef.h>
#include <stdint.h>

/* The relative accuracy of every sketch the daemon keeps. */
#define SKETCH_ACCURACY 0.01

/* Magnitudes below this count as zero (reported exactly as 0). */
#define SKETCH_MIN_MAGNITUDE 1e-9

struct sketch_store {
    int32_t offset;  /* the bucket index of counts[0] */
    uint32_t length; /* buckets in use from offset */
    uint32_t *counts;
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

/* Adds one finite value.  Returns 0 or -ENOMEM. */
int sketch_add(struct sketch *sketch, double value);

/* Adds every value of from into into.  Returns 0 or -ENOMEM. */
int sketch_merge(struct sketch *into, const struct sketch *from);

/*
 * The q-quantile (0 <= q <= 1) into *out: the value of rank floor(q (n - 1))
 * among the n values in ascending order (so q = 0 is the least, q = 1 the
 * greatest), within the relative accuracy.  Returns 0, or -ENOENT when empty.
 */
int sketch_quantile(const struct sketch *sketch, double q, double *out);

/* Bytes the buckets take in memory. */
size_t sketch_memory(const struct sketch *sketch);

/*
 * A compact, portable encoding (little-endian, versioned) for the database.
 * sketch_encoded_size() is the exact size sketch_encode() writes.
 */
size_t sketch_encoded_size(const struct sketch *sketch);
void sketch_encode(const struct sketch *sketch, uint8_t *out);
/* Replaces *sketch by the decoded one.  Returns 0, -EINVAL for a malformed encoding, or -ENOMEM. */
int sketch_decode(struct sketch *sketch, const uint8_t *data, size_t size);

#endif

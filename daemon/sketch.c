#include "sketch.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/*
 * A store's buckets are counts[0 .. length), bucket offset + k in counts[k].
 * The range is kept tight: an empty store has offset 0 and no array, and a
 * store in use has a non-zero count in its first and last bucket, so two
 * sketches of the same values are equal field for field and encode to the
 * same bytes whatever the order the values came in.
 *
 * The array is allocated for store_capacity(length) buckets, a power of two
 * from STORE_MIN_CAPACITY, so that a store growing one bucket at a time is
 * reallocated only when it doubles.  Capacity is implied by length rather
 * than kept in the struct, whose fields the header fixes.
 */
#define STORE_MIN_CAPACITY 16u

#define ENCODING_VERSION 1

static double
log_gamma(void)
{
    return log((1 + SKETCH_ACCURACY) / (1 - SKETCH_ACCURACY));
}

/* The bucket of a magnitude from SKETCH_MIN_MAGNITUDE to DBL_MAX: -1036 to 35,488 with a = 0.01. */
static int32_t
bucket_index(double magnitude)
{
    return (int32_t)ceil(log(magnitude) / log_gamma());
}

/*
 * What a bucket reports, 2 gamma^i / (gamma + 1), computed in logarithms so
 * that the top bucket does not overflow on the way; at most DBL_MAX.
 */
static double
bucket_value(int64_t index)
{
    double gamma = (1 + SKETCH_ACCURACY) / (1 - SKETCH_ACCURACY);

    return fmin(exp((double)index * log_gamma() + log(2 / (gamma + 1))), DBL_MAX);
}

static int64_t
lowest_index(void)
{
    return bucket_index(SKETCH_MIN_MAGNITUDE);
}

static int64_t
highest_index(void)
{
    return bucket_index(DBL_MAX);
}

static uint32_t
store_capacity(uint32_t length)
{
    uint32_t capacity = STORE_MIN_CAPACITY;

    if (length == 0)
        return 0;
    while (capacity < length)
        capacity *= 2;
    return capacity;
}

/* The last bucket's index; only for a store in use. */
static int64_t
store_highest(const struct sketch_store *store)
{
    return (int64_t)store->offset + store->length - 1;
}

/*
 * Makes room for length buckets.  The store's contents are untouched, so on
 * -ENOMEM it is as it was; on success the array may be larger than
 * store_capacity(store->length) until the length follows, which is harmless.
 */
static int
store_reserve(struct sketch_store *store, uint32_t length)
{
    uint32_t capacity = store_capacity(length);
    uint32_t *counts;

    if (capacity <= store_capacity(store->length))
        return 0;
    counts = realloc(store->counts, capacity * sizeof(*counts));
    if (counts == NULL)
        return -ENOMEM;
    store->counts = counts;
    return 0;
}

/*
 * The buckets into will span after from is added: both ranges together,
 * less the lowest buckets when that is more than SKETCH_MAX_BUCKETS.  from
 * must be in use.
 */
static void
store_plan(const struct sketch_store *into, const struct sketch_store *from, int64_t *low,
           int64_t *high)
{
    *low = from->offset;
    *high = store_highest(from);
    if (into->length > 0) {
        if (into->offset < *low)
            *low = into->offset;
        if (store_highest(into) > *high)
            *high = store_highest(into);
    }
    if (*high - *low + 1 > SKETCH_MAX_BUCKETS)
        *low = *high - SKETCH_MAX_BUCKETS + 1;
}

/*
 * The count bucket index (>= base) of store holds once every bucket below
 * base is counted in base's.
 */
static uint64_t
store_count_from(const struct sketch_store *store, int64_t base, int64_t index)
{
    uint64_t count = 0;
    int64_t first = index == base ? store->offset : index;

    if (store->length == 0)
        return 0;
    for (int64_t i = first; i <= index; i++)
        if (i >= store->offset && i <= store_highest(store))
            count += store->counts[i - store->offset];
    return count;
}

/*
 * Whether adding from to into over [low, high] (store_plan()) leaves every
 * bucket within a uint32_t.  Only the buckets from adds to can pass it, and
 * the lowest, which takes what is collapsed.
 */
static bool
store_merge_fits(const struct sketch_store *into, const struct sketch_store *from, int64_t low,
                 int64_t high)
{
    int64_t first = from->offset > low + 1 ? from->offset : low + 1;
    int64_t last = store_highest(from) < high ? store_highest(from) : high;

    if (store_count_from(into, low, low) + store_count_from(from, low, low) > UINT32_MAX)
        return false;
    for (int64_t i = first; i <= last; i++)
        if (store_count_from(into, low, i) + store_count_from(from, low, i) > UINT32_MAX)
            return false;
    return true;
}

/*
 * Moves into's buckets to [low, high], counting those below low in low's,
 * then adds from's the same way.  Room must have been reserved and the sums
 * checked: this cannot fail.
 */
static void
store_merge_reserved(struct sketch_store *into, const struct sketch_store *from, int64_t low,
                     int64_t high)
{
    uint32_t length = (uint32_t)(high - low + 1);
    uint32_t kept_begin = 0, kept_end = 0; /* where into's kept buckets land */
    uint64_t collapsed = 0;

    if (into->length > 0) {
        int64_t keep_low = into->offset > low ? into->offset : low;
        int64_t old_high = store_highest(into);

        for (int64_t i = into->offset; i < keep_low && i <= old_high; i++)
            collapsed += into->counts[i - into->offset];
        if (keep_low <= old_high) {
            kept_begin = (uint32_t)(keep_low - low);
            kept_end = (uint32_t)(old_high - low + 1);
            memmove(into->counts + kept_begin, into->counts + (keep_low - into->offset),
                    (kept_end - kept_begin) * sizeof(*into->counts));
        }
    }
    memset(into->counts, 0, kept_begin * sizeof(*into->counts));
    memset(into->counts + kept_end, 0, (length - kept_end) * sizeof(*into->counts));
    into->counts[0] += (uint32_t)collapsed;
    into->offset = (int32_t)low;
    into->length = length;
    for (uint32_t k = 0; k < from->length; k++) {
        int64_t index = (int64_t)from->offset + k;
        into->counts[(index > low ? index : low) - low] += from->counts[k];
    }
}

void
sketch_init(struct sketch *sketch)
{
    memset(sketch, 0, sizeof(*sketch));
}

void
sketch_free(struct sketch *sketch)
{
    free(sketch->positive.counts);
    free(sketch->negative.counts);
    sketch_init(sketch);
}

int
sketch_add(struct sketch *sketch, double value)
{
    double magnitude = fabs(value);
    uint32_t one = 1;
    struct sketch_store single = {.length = 1, .counts = &one};
    struct sketch_store *store = value > 0 ? &sketch->positive : &sketch->negative;
    int64_t low, high;
    int r;

    if (!isfinite(value))
        return -EINVAL;
    if (sketch->count == UINT64_MAX)
        return -EOVERFLOW;
    if (magnitude < SKETCH_MIN_MAGNITUDE) {
        sketch->zero++;
        sketch->count++;
        return 0;
    }
    single.offset = bucket_index(magnitude);
    store_plan(store, &single, &low, &high);
    if (!store_merge_fits(store, &single, low, high))
        return -EOVERFLOW;
    r = store_reserve(store, (uint32_t)(high - low + 1));
    if (r < 0)
        return r;
    store_merge_reserved(store, &single, low, high);
    sketch->count++;
    return 0;
}

/* Merging a sketch into itself: every count doubles. */
static int
sketch_double(struct sketch *sketch)
{
    struct sketch_store *stores[2] = {&sketch->positive, &sketch->negative};

    if (sketch->count > UINT64_MAX / 2)
        return -EOVERFLOW;
    for (int s = 0; s < 2; s++)
        for (uint32_t k = 0; k < stores[s]->length; k++)
            if (stores[s]->counts[k] > UINT32_MAX / 2)
                return -EOVERFLOW;
    for (int s = 0; s < 2; s++)
        for (uint32_t k = 0; k < stores[s]->length; k++)
            stores[s]->counts[k] *= 2;
    sketch->count *= 2;
    sketch->zero *= 2;
    return 0;
}

int
sketch_merge(struct sketch *into, const struct sketch *from)
{
    struct sketch_store *into_stores[2] = {&into->positive, &into->negative};
    const struct sketch_store *from_stores[2] = {&from->positive, &from->negative};
    int64_t low[2] = {0, 0}, high[2] = {-1, -1};
    int r;

    if (into == from)
        return sketch_double(into);
    if (from->count == 0)
        return 0;
    if (UINT64_MAX - into->count < from->count)
        return -EOVERFLOW;
    /* Everything that can fail comes first, so that a failed merge changes nothing. */
    for (int s = 0; s < 2; s++) {
        if (from_stores[s]->length == 0)
            continue;
        store_plan(into_stores[s], from_stores[s], &low[s], &high[s]);
        if (!store_merge_fits(into_stores[s], from_stores[s], low[s], high[s]))
            return -EOVERFLOW;
    }
    for (int s = 0; s < 2; s++) {
        if (from_stores[s]->length == 0)
            continue;
        r = store_reserve(into_stores[s], (uint32_t)(high[s] - low[s] + 1));
        if (r < 0)
            return r;
    }
    for (int s = 0; s < 2; s++)
        if (from_stores[s]->length > 0)
            store_merge_reserved(into_stores[s], from_stores[s], low[s], high[s]);
    into->count += from->count;
    into->zero += from->zero;
    return 0;
}

int
sketch_quantile(const struct sketch *sketch, double q, double *out)
{
    const struct sketch_store *negative = &sketch->negative, *positive = &sketch->positive;
    uint64_t rank;

    if (!(q >= 0 && q <= 1))
        return -EINVAL;
    if (sketch->count == 0)
        return -ENOENT;
    rank = (uint64_t)floor(q * (double)(sketch->count - 1));
    if (rank > sketch->count - 1) /* (double)(count - 1) may round up */
        rank = sketch->count - 1;
    /* Ascending: negatives from the greatest magnitude, zeros, positives from the least. */
    for (uint32_t k = negative->length; k-- > 0;) {
        if (rank < negative->counts[k]) {
            *out = -bucket_value((int64_t)negative->offset + k);
            return 0;
        }
        rank -= negative->counts[k];
    }
    if (rank < sketch->zero) {
        *out = 0;
        return 0;
    }
    rank -= sketch->zero;
    for (uint32_t k = 0; k < positive->length; k++) {
        if (rank < positive->counts[k]) {
            *out = bucket_value((int64_t)positive->offset + k);
            return 0;
        }
        rank -= positive->counts[k];
    }
    /* Not reached: count is the sum of the buckets and zero, which every function keeps. */
    *out = positive->length > 0 ? bucket_value(store_highest(positive)) : 0;
    return 0;
}

size_t
sketch_memory(const struct sketch *sketch)
{
    return ((size_t)store_capacity(sketch->positive.length) +
            store_capacity(sketch->negative.length)) *
           sizeof(uint32_t);
}

/*
 * Encoding, version 1: the version byte, then unsigned LEB128 varints: the
 * zero count; for the positive then the negative store, its offset
 * (zigzag: 0, -1, 1, -2 ... as 0, 1, 2, 3 ...), its length and its length
 * bucket counts.  The total count is the sum and is not written.  Only the
 * shortest form of each varint is read, and a store must be tight (as in
 * memory), so that a sketch has exactly one encoding.
 */
static size_t
varint_size(uint64_t value)
{
    size_t size = 1;

    while (value >= 0x80) {
        value >>= 7;
        size++;
    }
    return size;
}

static uint8_t *
varint_put(uint8_t *out, uint64_t value)
{
    while (value >= 0x80) {
        *out++ = (uint8_t)(value | 0x80);
        value >>= 7;
    }
    *out++ = (uint8_t)value;
    return out;
}

/* Reads a varint of at most max at *p (before end), advancing *p.  Returns 0 or -EINVAL. */
static int
varint_get(const uint8_t **p, const uint8_t *end, uint64_t max, uint64_t *value)
{
    uint64_t result = 0;

    for (unsigned shift = 0; shift < 64; shift += 7) {
        uint8_t byte;

        if (*p == end)
            return -EINVAL;
        byte = *(*p)++;
        if (shift == 63 && byte > 1)
            return -EINVAL; /* more than 64 bits */
        result |= (uint64_t)(byte & 0x7f) << shift;
        if ((byte & 0x80) == 0) {
            if (byte == 0 && shift > 0)
                return -EINVAL; /* not the shortest form */
            if (result > max)
                return -EINVAL;
            *value = result;
            return 0;
        }
    }
    return -EINVAL;
}

static uint64_t
zigzag(int32_t value)
{
    return value >= 0 ? 2 * (uint64_t)value : 2 * (uint64_t)(-(int64_t)value) - 1;
}

static int64_t
unzigzag(uint64_t value)
{
    return value % 2 == 0 ? (int64_t)(value / 2) : -(int64_t)((value + 1) / 2);
}

static size_t
store_encoded_size(const struct sketch_store *store)
{
    size_t size = varint_size(zigzag(store->offset)) + varint_size(store->length);

    for (uint32_t k = 0; k < store->length; k++)
        size += varint_size(store->counts[k]);
    return size;
}

size_t
sketch_encoded_size(const struct sketch *sketch)
{
    return 1 + varint_size(sketch->zero) + store_encoded_size(&sketch->positive) +
           store_encoded_size(&sketch->negative);
}

static uint8_t *
store_encode(const struct sketch_store *store, uint8_t *out)
{
    out = varint_put(out, zigzag(store->offset));
    out = varint_put(out, store->length);
    for (uint32_t k = 0; k < store->length; k++)
        out = varint_put(out, store->counts[k]);
    return out;
}

void
sketch_encode(const struct sketch *sketch, uint8_t *out)
{
    *out++ = ENCODING_VERSION;
    out = varint_put(out, sketch->zero);
    out = store_encode(&sketch->positive, out);
    store_encode(&sketch->negative, out);
}

/* Reads one store into *store (empty on entry), adding its values to *total. */
static int
store_decode(struct sketch_store *store, const uint8_t **p, const uint8_t *end, uint64_t *total)
{
    uint64_t offset_code, length, count;
    int64_t offset;
    int r;

    r = varint_get(p, end, UINT32_MAX, &offset_code); /* the zigzag code of an int32_t */
    if (r < 0)
        return r;
    r = varint_get(p, end, SKETCH_MAX_BUCKETS, &length);
    if (r < 0)
        return r;
    offset = unzigzag(offset_code);
    if (length == 0)
        return offset == 0 ? 0 : -EINVAL;
    /* Every count takes a byte at least: no allocation for what is not there. */
    if (length > (uint64_t)(end - *p))
        return -EINVAL;
    if (offset < lowest_index() || offset + (int64_t)length - 1 > highest_index())
        return -EINVAL;
    store->counts = malloc(store_capacity((uint32_t)length) * sizeof(*store->counts));
    if (store->counts == NULL)
        return -ENOMEM;
    store->offset = (int32_t)offset;
    store->length = (uint32_t)length;
    for (uint32_t k = 0; k < store->length; k++) {
        r = varint_get(p, end, UINT32_MAX, &count);
        if (r < 0)
            return r;
        if (count == 0 && (k == 0 || k == store->length - 1))
            return -EINVAL; /* not tight */
        if (UINT64_MAX - *total < count)
            return -EINVAL;
        store->counts[k] = (uint32_t)count;
        *total += count;
    }
    return 0;
}

int
sketch_decode(struct sketch *sketch, const uint8_t *data, size_t size)
{
    const uint8_t *p = data, *end = data + size;
    struct sketch decoded;
    int r;

    sketch_init(&decoded);
    if (size == 0 || *p++ != ENCODING_VERSION)
        return -EINVAL;
    r = varint_get(&p, end, UINT64_MAX, &decoded.zero);
    if (r < 0)
        goto fail;
    decoded.count = decoded.zero;
    r = store_decode(&decoded.positive, &p, end, &decoded.count);
    if (r < 0)
        goto fail;
    r = store_decode(&decoded.negative, &p, end, &decoded.count);
    if (r < 0)
        goto fail;
    if (p != end) {
        r = -EINVAL;
        goto fail;
    }
    sketch_free(sketch);
    *sketch = decoded;
    return 0;
fail:
    sketch_free(&decoded);
    return r;
}

/*
 * kpi: see kpi.h.  The rules of judging, rolling up and alerting are in
 * docs/kpi.md.
 */
#define _GNU_SOURCE /* qsort_r */
#include "kpi.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "period.h"
#include "schedule.h"

#define MS_PER_DAY 86400000LL

/* Events read per step when applying again what the stored figures miss. */
#define REPLAY_CHUNK 2048

/* Past this many figures in memory, the ones already on disk are let go after a write. */
#define CELLS_KEPT_MAX 400000
/* Past this many roll-ups, they are all let go (they are computed again when needed). */
#define ROLLUPS_KEPT_MAX 200000
/* More changed figures than this are written at once, whatever kpi.flush_ms says. */
#define DIRTY_MAX 1000000
/* The largest magnitude of one observation: a million of them still add up to a finite total. */
#define KPI_VALUE_MAX 1e12
/* How far back periods that ended while the daemon was stopped are recorded. */
#define SNAPSHOT_CATCH_UP_DAYS 400

const char *
kpi_state_colour(enum kpi_state state)
{
    switch (state) {
    case KPI_OK:
        return "green";
    case KPI_WARNING:
        return "amber";
    case KPI_CRITICAL:
        return "red";
    case KPI_NONE:
        break;
    }
    return "none";
}

/* ---- Cells ---- */

void
kpi_cell_init(struct kpi_cell *cell)
{
    memset(cell, 0, sizeof(*cell));
    sketch_init(&cell->sketch);
}

void
kpi_cell_free(struct kpi_cell *cell)
{
    sketch_free(&cell->sketch);
}

static bool
later(int64_t ms, int64_t seq, int64_t than_ms, int64_t than_seq)
{
    return ms > than_ms || (ms == than_ms && seq > than_seq);
}

int
kpi_cell_add(struct kpi_cell *cell, const struct metric *metric, double value, int64_t time_ms,
             int64_t seq)
{
    if (cell->count == 0 || value < cell->min)
        cell->min = value;
    if (cell->count == 0 || value > cell->max)
        cell->max = value;
    if (cell->count == 0 || later(time_ms, seq, cell->last_ms, cell->last_seq)) {
        cell->last = value;
        cell->last_ms = time_ms;
        cell->last_seq = seq;
    }
    cell->count++;
    cell->sum += value;
    if (metric->aggregate == AGGREGATE_PERCENTILE)
        return sketch_add(&cell->sketch, value);
    return 0;
}

int
kpi_cell_merge(struct kpi_cell *into, const struct kpi_cell *from, const struct metric *metric)
{
    if (from->count == 0)
        return 0;
    if (into->count == 0 || from->min < into->min)
        into->min = from->min;
    if (into->count == 0 || from->max > into->max)
        into->max = from->max;
    if (into->count == 0 || later(from->last_ms, from->last_seq, into->last_ms, into->last_seq)) {
        into->last = from->last;
        into->last_ms = from->last_ms;
        into->last_seq = from->last_seq;
    }
    into->count += from->count;
    into->sum += from->sum;
    if (metric->aggregate == AGGREGATE_PERCENTILE)
        return sketch_merge(&into->sketch, &from->sketch);
    return 0;
}

bool
kpi_cell_value(const struct kpi_cell *cell, const struct metric *metric, double *value)
{
    if (cell->count == 0)
        return false;
    switch (metric->aggregate) {
    case AGGREGATE_COUNT:
        *value = (double)cell->count;
        return true;
    case AGGREGATE_SUM:
        *value = cell->sum;
        return true;
    case AGGREGATE_MEAN:
        *value = cell->sum / (double)cell->count;
        return true;
    case AGGREGATE_MIN:
        *value = cell->min;
        return true;
    case AGGREGATE_MAX:
        *value = cell->max;
        return true;
    case AGGREGATE_LAST:
        *value = cell->last;
        return true;
    case AGGREGATE_PERCENTILE:
        return sketch_quantile(&cell->sketch, metric->percentile / 100.0, value) == 0;
    }
    return false;
}

/*
 * Thresholds are compared on a scale where larger is worse: a metric where
 * higher is better is judged on its negated figure.
 */
enum kpi_state
kpi_judge(const struct metric *metric, bool has_value, double value, int64_t count,
          enum kpi_state previous)
{
    double sign = metric->direction == DIRECTION_LOWER ? 1.0 : -1.0;
    double x = sign * value, h = metric->hysteresis;
    enum kpi_state state = KPI_OK;

    if (!has_value || count < metric->min_observations)
        return KPI_NONE;
    if (metric->has_warning && x >= sign * metric->warning)
        state = KPI_WARNING;
    if (metric->has_critical && x >= sign * metric->critical)
        state = KPI_CRITICAL;
    /* Better only once the figure is hysteresis past the threshold it crossed. */
    if (previous == KPI_CRITICAL && metric->has_critical && state < KPI_CRITICAL &&
        x >= sign * metric->critical - h)
        state = KPI_CRITICAL;
    if ((previous == KPI_CRITICAL || previous == KPI_WARNING) && state == KPI_OK &&
        metric->has_warning && x >= sign * metric->warning - h)
        state = KPI_WARNING;
    return state;
}

/* ---- Figures in memory ---- */

/* One figure, one stored state, or one roll-up, by (metric, period, first day, team). */
struct entry {
    struct entry *next;
    uint64_t hash;
    int metric; /* index in the configuration */
    int period;
    int64_t start_day;
    char team_id[DIR_ID_SIZE];
    bool dirty;           /* cells: changed since written */
    enum kpi_state state; /* states */
    int64_t seq;          /* states: the event that last changed it */
    struct kpi_cell cell; /* cells and roll-ups */
};

struct map {
    struct entry **buckets;
    size_t size; /* a power of two, or 0 */
    size_t count;
};

static uint64_t
key_hash(int metric, int period, int64_t start_day, const char *team_id)
{
    uint64_t hash = 0xcbf29ce484222325ULL;

    hash = (hash ^ (uint64_t)metric) * 0x100000001b3ULL;
    hash = (hash ^ (uint64_t)period) * 0x100000001b3ULL;
    hash = (hash ^ (uint64_t)start_day) * 0x100000001b3ULL;
    for (const unsigned char *p = (const unsigned char *)team_id; *p; p++)
        hash = (hash ^ *p) * 0x100000001b3ULL;
    return hash ^ (hash >> 29);
}

static struct entry *
map_find(const struct map *map, uint64_t hash, int metric, int period, int64_t start_day,
         const char *team_id)
{
    if (map->size == 0)
        return NULL;
    for (struct entry *e = map->buckets[hash & (map->size - 1)]; e; e = e->next)
        if (e->hash == hash && e->metric == metric && e->period == period &&
            e->start_day == start_day && strcmp(e->team_id, team_id) == 0)
            return e;
    return NULL;
}

static int
map_insert(struct map *map, struct entry *entry)
{
    if (map->count + 1 > map->size) {
        size_t size = map->size ? map->size * 2 : 1024;
        struct entry **buckets = calloc(size, sizeof(*buckets));
        if (buckets == NULL)
            return -ENOMEM;
        for (size_t i = 0; i < map->size; i++) {
            for (struct entry *e = map->buckets[i], *next; e; e = next) {
                next = e->next;
                e->next = buckets[e->hash & (size - 1)];
                buckets[e->hash & (size - 1)] = e;
            }
        }
        free(map->buckets);
        map->buckets = buckets;
        map->size = size;
    }
    entry->next = map->buckets[entry->hash & (map->size - 1)];
    map->buckets[entry->hash & (map->size - 1)] = entry;
    map->count++;
    return 0;
}

/* Removes the entries keep() refuses (all of them when keep is NULL). */
static void
map_filter(struct map *map, bool (*keep)(const struct entry *entry))
{
    for (size_t i = 0; i < map->size; i++) {
        struct entry **link = &map->buckets[i];
        while (*link) {
            struct entry *e = *link;
            if (keep != NULL && keep(e)) {
                link = &e->next;
                continue;
            }
            *link = e->next;
            kpi_cell_free(&e->cell);
            free(e);
            map->count--;
        }
    }
}

static void
map_free(struct map *map)
{
    map_filter(map, NULL);
    free(map->buckets);
    memset(map, 0, sizeof(*map));
}

static struct entry *
entry_new(uint64_t hash, int metric, int period, int64_t start_day, const char *team_id)
{
    struct entry *e = calloc(1, sizeof(*e));

    if (e == NULL)
        return NULL;
    e->hash = hash;
    e->metric = metric;
    e->period = period;
    e->start_day = start_day;
    directory_copy_text(e->team_id, sizeof(e->team_id), team_id);
    e->state = KPI_NONE;
    kpi_cell_init(&e->cell);
    return e;
}

struct kpi {
    struct store *writer;
    const struct metrics *metrics;
    const struct kinds *kinds;
    const struct directory_source *directory;
    struct obligations *obligations;
    int *rank;          /* each metric's place in name order: the table's key order */
    struct map cells;   /* each team's own figures */
    struct map slices;  /* (metric, period, first day) whose stored figures are all in cells */
    struct map rollups; /* alert periods: a team with its sub-teams */
    struct map states;  /* alert periods: the last judgement */
    size_t dirty;
    bool replay_needed;
    int64_t now_ms, today;
    int64_t applied_seq;  /* the last observation applied */
    int64_t flushed_seq;  /* the applied_seq the database holds */
    int64_t flushed_ms;   /* when the figures were last written */
    int64_t snapshot_day; /* the last day derived figures were recorded for */
    bool replaying;
    bool flushing; /* this transaction writes the figures */
    uint64_t observations, alerts;
};

/* Each metric's place in name order (the order the figures table is keyed in); NULL: no memory. */
static int *
metric_ranks(const struct metrics *metrics)
{
    int *rank = calloc((size_t)metrics->count + 1, sizeof(*rank));

    for (int i = 0; rank != NULL && i < metrics->count; i++)
        for (int j = 0; j < metrics->count; j++)
            if (strcmp(metrics->items[j].name, metrics->items[i].name) < 0)
                rank[i]++;
    return rank;
}

int
kpi_new(struct kpi **out, struct store *writer, const struct metrics *metrics,
        const struct kinds *kinds, const struct directory_source *directory,
        struct obligations *obligations)
{
    struct kpi *kpi = calloc(1, sizeof(*kpi));

    *out = NULL;
    if (kpi == NULL)
        return -ENOMEM;
    kpi->writer = writer;
    kpi->metrics = metrics;
    kpi->kinds = kinds;
    kpi->directory = directory;
    kpi->obligations = obligations;
    kpi->replay_needed = true;
    kpi->snapshot_day = STORE_NO_DAY;
    kpi->rank = metric_ranks(metrics);
    if (kpi->rank == NULL) {
        free(kpi);
        return -ENOMEM;
    }
    *out = kpi;
    return 0;
}

int
kpi_set_metrics(struct kpi *kpi, const struct metrics *metrics, const struct kinds *kinds)
{
    int *rank;

    if (kpi->dirty > 0 || kpi_unwritten(kpi) || kpi->flushing)
        return -EBUSY;
    rank = metric_ranks(metrics);
    if (rank == NULL)
        return -ENOMEM;
    /*
     * Every figure in memory is on disk, so memory can simply be let go: the
     * maps are keyed by the metric's place in the configuration, which the
     * new metrics may have changed, and are filled again from the database,
     * a (metric, period) at a time, as the figures are next needed.
     */
    map_filter(&kpi->cells, NULL);
    map_filter(&kpi->slices, NULL);
    map_filter(&kpi->rollups, NULL);
    map_filter(&kpi->states, NULL);
    free(kpi->rank);
    kpi->rank = rank;
    kpi->metrics = metrics;
    kpi->kinds = kinds;
    return 0;
}

void
kpi_free(struct kpi *kpi)
{
    if (kpi == NULL)
        return;
    map_free(&kpi->cells);
    map_free(&kpi->slices);
    map_free(&kpi->rollups);
    map_free(&kpi->states);
    free(kpi->rank);
    free(kpi);
}

void
kpi_begin(struct kpi *kpi, int64_t now_ms)
{
    kpi->now_ms = now_ms;
    kpi->today = schedule_local_day(now_ms);
}

static int
metric_index(const struct kpi *kpi, const struct metric *metric)
{
    return (int)(metric - kpi->metrics->items);
}

int
kpi_cell_read(struct kpi_cell *cell, const struct store_kpi_cell *row)
{
    cell->count = row->count;
    cell->sum = row->sum;
    cell->min = row->min;
    cell->max = row->max;
    cell->last = row->last;
    cell->last_ms = row->last_ms;
    cell->last_seq = row->last_seq;
    if (row->sketch != NULL && row->sketch_size > 0)
        return sketch_decode(&cell->sketch, row->sketch, row->sketch_size);
    return 0;
}

/*
 * The entry for a key in map: found, or made empty and added (*created).  An
 * entry whose loading then fails stays: the transaction fails, and
 * kpi_rollback() empties every map.
 */
static int
map_get(struct map *map, int metric, int period, int64_t start_day, const char *team_id,
        struct entry **out, bool *created)
{
    uint64_t hash = key_hash(metric, period, start_day, team_id);
    struct entry *e = map_find(map, hash, metric, period, start_day, team_id);
    int r;

    *created = e == NULL;
    if (e == NULL) {
        e = entry_new(hash, metric, period, start_day, team_id);
        if (e == NULL)
            return -ENOMEM;
        r = map_insert(map, e);
        if (r < 0) {
            kpi_cell_free(&e->cell);
            free(e);
            return r;
        }
    }
    *out = e;
    return 0;
}

static void
unreadable(const struct kpi *kpi, int metric, const char *team_id, int period, int64_t start_day,
           struct kpi_cell *cell, int r)
{
    /* A figure that cannot be read is started again rather than stopping every write. */
    log_error("KPI figure %s/%s/%d/%lld is unreadable (%s); it starts again from zero",
              kpi->metrics->items[metric].name, team_id, period, (long long)start_day,
              strerror(-r));
    kpi_cell_free(cell);
    kpi_cell_init(cell);
}

struct slice_load {
    struct kpi *kpi;
    int metric;
};

/* One stored figure of a slice, unless memory already has it (then memory is newer). */
static int
load_slice_cell(void *context, const struct store_kpi_cell *row)
{
    struct slice_load *load = context;
    struct entry *e;
    bool created;
    int r = map_get(&load->kpi->cells, load->metric, row->period, row->start_day, row->team_id, &e,
                    &created);

    if (r < 0 || !created)
        return r;
    r = kpi_cell_read(&e->cell, row);
    if (r < 0)
        unreadable(load->kpi, load->metric, row->team_id, row->period, row->start_day, &e->cell, r);
    return 0;
}

/*
 * A team's own figure, read from the database the first time it is needed.
 * The first figure needed of a (metric, period) reads every team's figure of
 * it at once: one query instead of one per team, and a figure missing then
 * is known not to exist, with no query at all.
 */
static int
own_cell(struct kpi *kpi, int metric, int period, int64_t start_day, const char *team_id,
         struct entry **out)
{
    struct entry *slice;
    bool created;
    int r;

    *out = map_find(&kpi->cells, key_hash(metric, period, start_day, team_id), metric, period,
                    start_day, team_id);
    if (*out != NULL)
        return 0;
    r = map_get(&kpi->slices, metric, period, start_day, "", &slice, &created);
    if (r == 0 && created) {
        struct slice_load load = {kpi, metric};
        r = store_kpi_cells(kpi->writer, kpi->metrics->items[metric].name, period, start_day,
                            start_day, load_slice_cell, &load);
    }
    if (r == 0)
        r = map_get(&kpi->cells, metric, period, start_day, team_id, out, &created);
    return r;
}

struct children {
    int count, capacity;
    char (*ids)[DIR_ID_SIZE];
};

static int
add_child(void *context, const struct dir_team *team)
{
    struct children *children = context;

    if (children->count == children->capacity) {
        int capacity = children->capacity ? children->capacity * 2 : 16;
        void *grown = realloc(children->ids, (size_t)capacity * sizeof(*children->ids));
        if (grown == NULL)
            return -ENOMEM;
        children->ids = grown;
        children->capacity = capacity;
    }
    directory_copy_text(children->ids[children->count++], DIR_ID_SIZE, team->team_id);
    return 0;
}

/* A team's figure with all its sub-teams' (alert periods only), built when first needed. */
static int
rollup(struct kpi *kpi, int metric, int64_t start_day, const char *team_id, int depth,
       struct entry **out)
{
    const struct metric *m = &kpi->metrics->items[metric];
    int period = (int)m->alert_period;
    struct children children = {0, 0, NULL};
    struct entry *own, *e;
    bool created;
    int r;

    r = map_get(&kpi->rollups, metric, period, start_day, team_id, out, &created);
    if (r < 0 || !created)
        return r;
    e = *out;
    r = own_cell(kpi, metric, period, start_day, team_id, &own);
    if (r == 0)
        r = kpi_cell_merge(&e->cell, &own->cell, m);
    if (r == 0 && depth >= DIR_DEPTH_MAX)
        /* A tree deeper than the directory allows: the figure stops here rather than failing. */
        log_warning("team %s is more than %d levels below a team with KPI figures; its "
                    "sub-teams are left out of the figures above it",
                    team_id, DIR_DEPTH_MAX);
    else if (r == 0)
        r = store_teams_with_parent(kpi->writer, team_id, add_child, &children);
    for (int i = 0; r == 0 && i < children.count; i++) {
        struct entry *child;
        r = rollup(kpi, metric, start_day, children.ids[i], depth + 1, &child);
        if (r == 0)
            r = kpi_cell_merge(&e->cell, &child->cell, m);
    }
    free(children.ids);
    return r;
}

static int
judged_state(struct kpi *kpi, int metric, int period, int64_t start_day, const char *team_id,
             struct entry **out)
{
    struct store_kpi_state stored;
    bool created;
    int r = map_get(&kpi->states, metric, period, start_day, team_id, out, &created);

    if (r < 0 || !created)
        return r;
    r = store_kpi_state_get(kpi->writer, kpi->metrics->items[metric].name, period, start_day,
                            team_id, &stored);
    if (r == 0) {
        (*out)->state = (enum kpi_state)stored.state;
        (*out)->seq = stored.seq;
    }
    return r == -ENOENT ? 0 : r;
}

/* "42", "5.2", "97.5": up to two decimals, without trailing zeros. */
static void
format_number(double value, char *buf, size_t size)
{
    snprintf(buf, size, "%.2f", value);
    char *dot = strchr(buf, '.');
    if (dot != NULL) {
        char *end = buf + strlen(buf) - 1;
        while (end > dot && *end == '0')
            *end-- = '\0';
        if (end == dot)
            *end = '\0';
    }
}

static void
format_amount(const struct metric *metric, double value, char *buf, size_t size)
{
    char number[64];

    format_number(value, number, sizeof(number));
    if (metric->unit[0] == '\0')
        snprintf(buf, size, "%s", number);
    else if (strcmp(metric->unit, "%") == 0)
        snprintf(buf, size, "%s%%", number);
    else
        snprintf(buf, size, "%s %s", number, metric->unit);
}

static const char *
state_word(enum kpi_state state)
{
    switch (state) {
    case KPI_OK:
        return "GREEN";
    case KPI_WARNING:
        return "AMBER";
    case KPI_CRITICAL:
        return "RED";
    case KPI_NONE:
        break;
    }
    return "not judged";
}

/* The plain-English text of an alert. */
static void
alert_text(const struct metric *metric, const char *team_name, const char *label,
           enum kpi_state from, enum kpi_state to, double value, int64_t count, char *buf,
           size_t size)
{
    char amount[96], target[96] = "", warning[96] = "", critical[96] = "", limits[400] = "";
    const char *better = metric->direction == DIRECTION_LOWER ? "lower" : "higher";

    format_amount(metric, value, amount, sizeof(amount));
    if (metric->has_target)
        format_amount(metric, metric->target, target, sizeof(target));
    if (metric->has_warning)
        format_amount(metric, metric->warning, warning, sizeof(warning));
    if (metric->has_critical)
        format_amount(metric, metric->critical, critical, sizeof(critical));
    snprintf(limits, sizeof(limits), "%s%s%s%s%s%s%s", metric->has_target ? "the target is " : "",
             target,
             metric->has_target && (metric->has_warning || metric->has_critical) ? "; " : "",
             metric->has_warning ? "amber from " : "", warning,
             metric->has_warning && metric->has_critical ? ", red from "
             : metric->has_critical                      ? "red from "
                                                         : "",
             critical);
    if (to == KPI_OK)
        snprintf(buf, size,
                 "%s for %s is back to GREEN for %s: %s from %lld observation%s (it was %s; %s; "
                 "%s is better). No action is needed now.",
                 metric->title, team_name, label, amount, (long long)count, count == 1 ? "" : "s",
                 state_word(from), limits, better);
    else
        snprintf(buf, size,
                 "%s for %s is now %s for %s: %s from %lld observation%s (it was %s; %s; %s is "
                 "better). Please look at what is behind it with the team.",
                 metric->title, team_name, state_word(to), label, amount, (long long)count,
                 count == 1 ? "" : "s", from == KPI_NONE ? "not judged yet" : state_word(from),
                 limits, better);
}

/*
 * Judges a team's figure for a period; when its state changed, records the
 * change and (unless it is only a first judgement of green) sends an alert.
 * seq is the event that changed the figure (0 for a daily record).
 */
static int
judge(struct kpi *kpi, int metric, int period, int64_t start_day, const char *team_id,
      const struct kpi_cell *cell, int64_t seq)
{
    const struct metric *m = &kpi->metrics->items[metric];
    struct entry *state;
    struct store_kpi_state change;
    enum kpi_state next;
    double value = 0;
    bool has;
    int r = judged_state(kpi, metric, period, start_day, team_id, &state);

    if (r < 0)
        return r;
    if (seq != 0 && seq <= state->seq)
        return 0; /* applied again after a crash: this change was judged (and told) before */
    has = kpi_cell_value(cell, m, &value);
    next = kpi_judge(m, has, value, cell->count, state->state);
    if (next == state->state)
        return 0;
    memset(&change, 0, sizeof(change));
    change.metric = m->name;
    change.team_id = team_id;
    change.period = period;
    change.start_day = start_day;
    change.state = (int)next;
    change.has_value = has;
    change.value = value;
    change.count = cell->count;
    change.seq = seq;
    change.changed_ms = kpi->now_ms;
    r = store_kpi_state_put(kpi->writer, &change);
    enum kpi_state previous = state->state;
    if (r < 0)
        return r;
    state->state = next;
    state->seq = seq;
    if (next == KPI_NONE || (previous == KPI_NONE && next == KPI_OK))
        return 0; /* nothing to tell */

    int64_t alert_id;
    r = store_kpi_alert_insert(kpi->writer, &change, (int)previous, &alert_id);
    if (r < 0)
        return r;
    struct notification n;
    struct dir_team team;
    char label[PERIOD_LABEL_SIZE];
    memset(&n, 0, sizeof(n));
    if (kpi->directory->get_team(kpi->directory->context, team_id, &team) < 0)
        directory_copy_text(team.name, sizeof(team.name), team_id);
    period_label((enum period_type)period, start_day, label, sizeof(label));
    n.planned_ms = kpi->now_ms;
    n.obligation_id = 0;
    n.action = (int)-alert_id; /* unique among alerts, never a review's action */
    directory_copy_text(n.kind, sizeof(n.kind), m->name);
    directory_copy_text(n.item, sizeof(n.item), team_id);
    directory_copy_text(n.step, sizeof(n.step), label);
    n.due_day = start_day;
    n.booked_day = STORE_NO_DAY;
    n.level = (int)next;
    alert_text(m, team.name, label, previous, next, value, cell->count, n.text, sizeof(n.text));
    r = obligations_alert(kpi->obligations, team_id, (const char(*)[KIND_NAME_MAX + 1]) m->roles,
                          m->role_count, &n);
    if (r < 0)
        return r;
    if (r == 0)
        log_warning("KPI alert about team %s (%s %s) reached nobody: the team has no manager and "
                    "nobody holds the roles named",
                    team_id, m->name, label);
    kpi->alerts++;
    return 0;
}

/* Rejects the event being checked: event_reject() fills in the reason; kpi_check() returns 1. */
#define reject(...) (event_reject(__VA_ARGS__), 1)

static const char *
text_of(const cJSON *data, const char *name)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(data, name);

    return cJSON_IsString(item) ? item->valuestring : "";
}

static double
value_of(const cJSON *data)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(data, "value");

    return cJSON_IsNumber(item) ? item->valuedouble : NAN;
}

int
kpi_check(struct kpi *kpi, const struct event *event, struct event_error *error)
{
    const char *name = text_of(event->data, "metric");
    const char *team_id = text_of(event->data, "team_id");
    const struct metric *metric = metrics_find(kpi->metrics, name);
    double value = value_of(event->data);
    char low[64], high[64];
    struct dir_team team;
    int r;

    if (metric == NULL)
        return reject(error, "unknown_metric",
                      "kpi.observed: there is no metric \"%.80s\" in the configuration", name);
    if (metric->derived != DERIVED_NONE)
        return reject(error, "derived_metric",
                      "kpi.observed: \"%.80s\" is worked out by carehubd from review obligations; "
                      "it cannot be observed",
                      name);
    r = kpi->directory->get_team(kpi->directory->context, team_id, &team);
    if (r == -ENOENT)
        return reject(error, "unknown_team",
                      "kpi.observed: there is no team \"%.80s\"; send team.changed for it first",
                      team_id);
    if (r < 0)
        return r;
    if (!isfinite(value))
        return reject(error, "not_finite", "kpi.observed: \"value\" is not a finite number");
    if ((metric->has_min && value < metric->min) || (metric->has_max && value > metric->max)) {
        format_number(metric->min, low, sizeof(low));
        format_number(metric->max, high, sizeof(high));
        return reject(error, "out_of_range",
                      "kpi.observed: %g is outside the range %s%s%s%s declared for \"%s\"", value,
                      metric->has_min ? "from " : "", metric->has_min ? low : "",
                      metric->has_min && metric->has_max ? " to "
                      : metric->has_max                  ? "up to "
                                                         : "",
                      metric->has_max ? high : "", metric->name);
    }
    if (fabs(value) > KPI_VALUE_MAX)
        return reject(error, "out_of_range",
                      "kpi.observed: %g is larger than any figure of \"%s\" carehub keeps (at "
                      "most 1e12 either way, so that totals stay exact)",
                      value, metric->name);
    if (event->time_ms > kpi->now_ms + (int64_t)kpi->metrics->future_minutes * 60000)
        return reject(error, "future_time",
                      "kpi.observed: \"time\" is more than %d minutes ahead of the daemon's clock "
                      "(kpi.future_minutes)",
                      kpi->metrics->future_minutes);
    if (schedule_local_day(event->time_ms) < kpi->today - kpi->metrics->retention_days)
        return reject(error, "too_old",
                      "kpi.observed: \"time\" is older than the %d days KPI figures are kept "
                      "(kpi.retention_days)",
                      kpi->metrics->retention_days);
    return 0;
}

int
kpi_apply(struct kpi *kpi, const struct event *event, int64_t seq)
{
    const struct metric *m = metrics_find(kpi->metrics, text_of(event->data, "metric"));
    const char *team_id = text_of(event->data, "team_id");
    double value = value_of(event->data);
    int64_t day = schedule_local_day(event->time_ms);
    int r = 0;

    if (m == NULL || m->derived != DERIVED_NONE || !isfinite(value))
        return 0; /* only when applying again after the configuration changed */
    int metric = metric_index(kpi, m);
    for (int period = 0; r == 0 && period < PERIOD_TYPE_COUNT; period++) {
        if ((m->periods & (1u << period)) == 0)
            continue;
        int64_t start = period_start((enum period_type)period, kpi->metrics->week_start, day);
        struct entry *own;
        r = own_cell(kpi, metric, period, start, team_id, &own);
        if (r == 0)
            r = kpi_cell_add(&own->cell, m, value, event->time_ms, seq);
        if (r == 0 && !own->dirty) {
            own->dirty = true;
            kpi->dirty++;
        }
        if (r < 0 || period != (int)m->alert_period)
            continue;
        /* The team and every team above it: their roll-ups take the value, then are judged. */
        char current[DIR_ID_SIZE];
        directory_copy_text(current, sizeof(current), team_id);
        for (int depth = 0; r == 0 && current[0] != '\0' && depth < DIR_DEPTH_MAX; depth++) {
            uint64_t hash = key_hash(metric, period, start, current);
            struct entry *up = map_find(&kpi->rollups, hash, metric, period, start, current);
            if (up != NULL)
                r = kpi_cell_add(&up->cell, m, value, event->time_ms, seq);
            else
                r = rollup(kpi, metric, start, current, 0, &up); /* already holds the value */
            if (r == 0)
                r = judge(kpi, metric, period, start, current, &up->cell, seq);
            struct dir_team team;
            if (r == 0) {
                r = kpi->directory->get_team(kpi->directory->context, current, &team);
                if (r == -ENOENT) {
                    r = 0;
                    break;
                }
            }
            if (r == 0)
                directory_copy_text(current, sizeof(current), team.parent_id);
        }
    }
    if (r == 0) {
        kpi->applied_seq = seq;
        kpi->observations++;
    }
    return r;
}

void
kpi_team_changed(struct kpi *kpi, const char *team_id)
{
    (void)team_id;
    /* Rare: every roll-up is computed again from the teams' own figures when next needed. */
    map_filter(&kpi->rollups, NULL);
}

/* ---- Writing the figures ---- */

static bool
keep_dirty(const struct entry *entry)
{
    return entry->dirty;
}

static int
write_cell(struct kpi *kpi, struct entry *e)
{
    const struct metric *m = &kpi->metrics->items[e->metric];
    struct store_kpi_cell row;
    uint8_t *blob = NULL;
    int r;

    memset(&row, 0, sizeof(row));
    row.metric = m->name;
    row.team_id = e->team_id;
    row.period = e->period;
    row.start_day = e->start_day;
    row.count = e->cell.count;
    row.sum = e->cell.sum;
    row.min = e->cell.min;
    row.max = e->cell.max;
    row.last = e->cell.last;
    row.last_ms = e->cell.last_ms;
    row.last_seq = e->cell.last_seq;
    if (m->aggregate == AGGREGATE_PERCENTILE && e->cell.count > 0) {
        row.sketch_size = sketch_encoded_size(&e->cell.sketch);
        blob = malloc(row.sketch_size);
        if (blob == NULL)
            return -ENOMEM;
        sketch_encode(&e->cell.sketch, blob);
        row.sketch = blob;
    }
    r = store_kpi_cell_put(kpi->writer, &row);
    free(blob);
    return r;
}

/* The table's key order (metric, period, start_day, team_id): writes then walk the b-tree in order.
 */
static int
compare_dirty(const void *a, const void *b, void *context)
{
    const struct entry *x = *(const struct entry *const *)a, *y = *(const struct entry *const *)b;
    const int *rank = context;

    if (x->metric != y->metric)
        return rank[x->metric] < rank[y->metric] ? -1 : 1;
    if (x->period != y->period)
        return x->period < y->period ? -1 : 1;
    if (x->start_day != y->start_day)
        return x->start_day < y->start_day ? -1 : 1;
    return strcmp(x->team_id, y->team_id);
}

static int
flush(struct kpi *kpi)
{
    struct entry **dirty = malloc((kpi->dirty + 1) * sizeof(*dirty));
    size_t count = 0;
    int r = 0;

    if (dirty == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < kpi->cells.size; i++)
        for (struct entry *e = kpi->cells.buckets[i]; e; e = e->next)
            if (e->dirty && count++ < kpi->dirty)
                dirty[count - 1] = e;
    if (count != kpi->dirty) {
        /* Never expected: every changed figure must be written before any is called clean. */
        log_error("KPI figures: %zu changed, %zu counted; the transaction is refused", count,
                  kpi->dirty);
        free(dirty);
        return -EIO;
    }
    qsort_r(dirty, count, sizeof(*dirty), compare_dirty, kpi->rank);
    for (size_t i = 0; r == 0 && i < count; i++)
        r = write_cell(kpi, dirty[i]);
    free(dirty);
    if (r == 0)
        r = store_kpi_progress_put(kpi->writer, kpi->applied_seq, kpi->snapshot_day);
    if (r == 0)
        kpi->flushing = true;
    return r;
}

/* After the transaction that wrote them committed: they are clean now. */
static void
flushed(struct kpi *kpi)
{
    for (size_t i = 0; i < kpi->cells.size; i++)
        for (struct entry *e = kpi->cells.buckets[i]; e; e = e->next)
            e->dirty = false;
    kpi->dirty = 0;
    kpi->flushed_seq = kpi->applied_seq;
    kpi->flushed_ms = kpi->now_ms;
    if (kpi->cells.count > CELLS_KEPT_MAX) {
        map_filter(&kpi->cells, keep_dirty);
        map_filter(&kpi->slices, NULL); /* no slice is whole in memory any more */
    }
    if (kpi->rollups.count > ROLLUPS_KEPT_MAX)
        map_filter(&kpi->rollups, NULL);
    if (kpi->states.count > ROLLUPS_KEPT_MAX)
        map_filter(&kpi->states, NULL);
}

/* ---- Derived figures ---- */

/* What one metric counts for one team. */
struct derived_cell {
    int metric;
    char team_id[DIR_ID_SIZE];
    struct kpi_cell cell;
};

struct derived {
    const struct metrics *metrics;
    const struct kinds *kinds;
    int64_t today;
    struct map teams; /* (metric, team) -> cell */
    /* The staff member being read (rows come grouped by staff). */
    char staff_id[DIR_ID_SIZE];
    char team_id[DIR_ID_SIZE];
    bool relevant[METRICS_MAX]; /* has an open obligation of a listed kind */
    bool overdue[METRICS_MAX];
    int result;
};

static bool
metric_counts_kind(const struct metric *metric, const char *kind)
{
    for (int i = 0; i < metric->kind_count; i++)
        if (strcmp(metric->kinds[i], kind) == 0)
            return true;
    return false;
}

static struct kpi_cell *
derived_cell(struct derived *d, int metric, const char *team_id)
{
    uint64_t hash = key_hash(metric, 0, 0, team_id);
    struct entry *e = map_find(&d->teams, hash, metric, 0, 0, team_id);

    if (e == NULL) {
        e = entry_new(hash, metric, 0, 0, team_id);
        if (e == NULL || map_insert(&d->teams, e) < 0) {
            free(e);
            d->result = -ENOMEM;
            return NULL;
        }
    }
    return &e->cell;
}

/* Adds one value to a derived cell (count and sum are all derived figures need). */
static void
derived_add(struct derived *d, int metric, const char *team_id, double value)
{
    struct kpi_cell *cell = derived_cell(d, metric, team_id);

    if (cell == NULL)
        return;
    cell->count++;
    cell->sum += value;
    if (cell->count == 1 || value < cell->min)
        cell->min = value;
    if (cell->count == 1 || value > cell->max)
        cell->max = value;
    cell->last = value;
}

/* The staff member just read: compliance counts each person once. */
static void
derived_person_done(struct derived *d)
{
    if (d->staff_id[0] == '\0')
        return;
    for (int i = 0; i < d->metrics->count; i++)
        if (d->metrics->items[i].derived == DERIVED_COMPLIANCE && d->relevant[i])
            derived_add(d, i, d->team_id, d->overdue[i] ? 0.0 : 100.0);
    memset(d->relevant, 0, sizeof(d->relevant));
    memset(d->overdue, 0, sizeof(d->overdue));
    d->staff_id[0] = '\0';
}

static int
derived_row(void *context, const struct store_pending *p)
{
    struct derived *d = context;
    const struct kind *kind = kinds_find(d->kinds, p->kind);
    int grace = kind != NULL ? kind->grace_days : 0;
    bool overdue = p->state == OBLIGATION_OPEN && p->target_day + grace < d->today;

    if (strcmp(d->staff_id, p->staff_id) != 0) {
        derived_person_done(d);
        directory_copy_text(d->staff_id, sizeof(d->staff_id), p->staff_id);
        directory_copy_text(d->team_id, sizeof(d->team_id), p->team_id);
    }
    for (int i = 0; i < d->metrics->count; i++) {
        const struct metric *m = &d->metrics->items[i];
        if (m->derived == DERIVED_NONE || !metric_counts_kind(m, p->kind))
            continue;
        if (m->derived == DERIVED_COMPLIANCE) {
            /* Paused reviews (the person is away) leave them out unless something is open. */
            if (p->state == OBLIGATION_OPEN)
                d->relevant[i] = true;
            if (overdue)
                d->overdue[i] = true;
        } else if (m->derived == DERIVED_OVERDUE) {
            /* Every pending obligation counts, so a team with none overdue has 0, not nothing. */
            derived_add(d, i, p->team_id, overdue ? 1.0 : 0.0);
        } else if (overdue && m->derived == DERIVED_DAYS_OVERDUE) {
            derived_add(d, i, p->team_id, (double)(d->today - p->target_day));
        }
    }
    return d->result;
}

/*
 * Every derived metric's figure for each team's own staff as at the end of
 * day today (no roll-up), from the obligations.
 */
static int
derived_compute(struct store *store, const struct metrics *metrics, const struct kinds *kinds,
                int64_t today, struct derived *d)
{
    int r;

    memset(d, 0, sizeof(*d));
    d->metrics = metrics;
    d->kinds = kinds;
    d->today = today;
    r = store_pending_obligations(store, derived_row, d);
    if (r == 0)
        derived_person_done(d);
    if (r == 0)
        r = d->result;
    return r;
}

/* True when day is the last day of a period some derived metric keeps. */
static bool
ends_a_derived_period(const struct metrics *metrics, int64_t day)
{
    for (int i = 0; i < metrics->count; i++) {
        const struct metric *m = &metrics->items[i];
        for (int type = 0; m->derived != DERIVED_NONE && type < PERIOD_TYPE_COUNT; type++)
            if ((m->periods & (1u << type)) != 0 &&
                period_end((enum period_type)type,
                           period_start((enum period_type)type, metrics->week_start, day)) == day)
                return true;
    }
    return false;
}

/* Every team and its parent, to roll up derived figures. */
struct team_list {
    int count, capacity;
    struct dir_team *teams;
};

static int
add_team(void *context, const struct dir_team *team)
{
    struct team_list *list = context;

    if (list->count == list->capacity) {
        int capacity = list->capacity ? list->capacity * 2 : 64;
        void *grown = realloc(list->teams, (size_t)capacity * sizeof(*list->teams));
        if (grown == NULL)
            return -ENOMEM;
        list->teams = grown;
        list->capacity = capacity;
    }
    list->teams[list->count++] = *team;
    return 0;
}

static int
compare_team(const void *key, const void *member)
{
    return strcmp(key, ((const struct dir_team *)member)->team_id);
}

/* The position of team_id in the list (sorted by id), or -1. */
static int
team_index(const struct team_list *list, const char *team_id)
{
    const struct dir_team *found;

    if (team_id[0] == '\0')
        return -1;
    found = bsearch(team_id, list->teams, (size_t)list->count, sizeof(*list->teams), compare_team);
    return found ? (int)(found - list->teams) : -1;
}

/*
 * Records the derived figures as at the end of day: each team's own figure
 * into the cell of every period holding day (the last record of a period is
 * its figure), and the roll-ups of the alert period judged.
 */
static int
snapshot(struct kpi *kpi, int64_t day)
{
    struct derived d;
    struct team_list teams = {0, 0, NULL};
    bool any = false;

    for (int i = 0; i < kpi->metrics->count; i++)
        any = any || kpi->metrics->items[i].derived != DERIVED_NONE;
    if (!any)
        return 0;
    int r = derived_compute(kpi->writer, kpi->metrics, kpi->kinds, day, &d);

    if (r == 0)
        r = store_teams_all(kpi->writer, add_team, &teams);
    for (int i = 0; r == 0 && i < kpi->metrics->count; i++) {
        const struct metric *m = &kpi->metrics->items[i];
        if (m->derived == DERIVED_NONE)
            continue;
        /* Each team's own figure (an empty one for a team with nobody it applies to). */
        for (int t = 0; r == 0 && t < teams.count; t++) {
            struct kpi_cell *own = derived_cell(&d, i, teams.teams[t].team_id);
            if (own == NULL) {
                r = d.result;
                break;
            }
            for (int period = 0; r == 0 && period < PERIOD_TYPE_COUNT; period++) {
                if ((m->periods & (1u << period)) == 0)
                    continue;
                struct entry e;
                memset(&e, 0, sizeof(e));
                e.metric = i;
                e.period = period;
                e.start_day = period_start((enum period_type)period, kpi->metrics->week_start, day);
                directory_copy_text(e.team_id, sizeof(e.team_id), teams.teams[t].team_id);
                e.cell = *own;
                e.cell.last_ms = kpi->now_ms;
                r = write_cell(kpi, &e);
            }
        }
        /* Roll-ups for the alert period: each team's own figure added to it and every team above.
         */
        int64_t start = period_start(m->alert_period, kpi->metrics->week_start, day);
        struct kpi_cell *totals = calloc((size_t)teams.count + 1, sizeof(*totals));
        if (totals == NULL) {
            r = -ENOMEM;
            break;
        }
        for (int u = 0; u < teams.count; u++) {
            struct kpi_cell *own = derived_cell(&d, i, teams.teams[u].team_id);
            int t = u;
            for (int depth = 0; own != NULL && t >= 0 && depth < DIR_DEPTH_MAX; depth++) {
                (void)kpi_cell_merge(&totals[t], own, m);
                t = team_index(&teams, teams.teams[t].parent_id);
            }
        }
        for (int t = 0; r == 0 && t < teams.count; t++)
            r = judge(kpi, i, (int)m->alert_period, start, teams.teams[t].team_id, &totals[t], 0);
        free(totals);
    }
    free(teams.teams);
    map_free(&d.teams);
    return r;
}

/* Removes figures older than the retention: periods that ended before it began. */
static int
prune(struct kpi *kpi)
{
    int64_t oldest = kpi->today - kpi->metrics->retention_days;
    int r = 0;

    for (int period = 0; r == 0 && period < PERIOD_TYPE_COUNT; period++)
        r = store_kpi_prune(
            kpi->writer, period,
            period_start((enum period_type)period, kpi->metrics->week_start, oldest));
    return r;
}

int
kpi_finish(struct kpi *kpi, bool force)
{
    int r = 0;

    if (kpi->snapshot_day == STORE_NO_DAY || kpi->snapshot_day < kpi->today - 1) {
        /*
         * Days that passed while the daemon was stopped (or the test clock
         * jumped): each period that ended meanwhile is recorded as at its
         * last day, then yesterday.
         */
        int64_t from = kpi->snapshot_day == STORE_NO_DAY ? kpi->today - 1 : kpi->snapshot_day + 1;
        if (from < kpi->today - 1 - SNAPSHOT_CATCH_UP_DAYS)
            from = kpi->today - 1 - SNAPSHOT_CATCH_UP_DAYS;
        for (int64_t day = from; r == 0 && day <= kpi->today - 1; day++)
            if (day == kpi->today - 1 || ends_a_derived_period(kpi->metrics, day))
                r = snapshot(kpi, day);
        if (r == 0)
            r = prune(kpi);
        if (r == 0) {
            kpi->snapshot_day = kpi->today - 1;
            force = true;
        }
    }
    if (r == 0 && (force || kpi->dirty > DIRTY_MAX ||
                   (kpi->applied_seq != kpi->flushed_seq &&
                    kpi->now_ms - kpi->flushed_ms >= kpi->metrics->flush_ms)))
        r = flush(kpi);
    return r;
}

void
kpi_committed(struct kpi *kpi)
{
    if (kpi->flushing)
        flushed(kpi);
    kpi->flushing = false;
}

bool
kpi_unwritten(const struct kpi *kpi)
{
    return kpi->applied_seq != kpi->flushed_seq;
}

void
kpi_rollback(struct kpi *kpi)
{
    /* Memory may hold what was rolled back: read it all again, and apply what was committed. */
    map_filter(&kpi->cells, NULL);
    map_filter(&kpi->slices, NULL);
    map_filter(&kpi->rollups, NULL);
    map_filter(&kpi->states, NULL);
    kpi->dirty = 0;
    kpi->flushing = false;
    kpi->replay_needed = true;
}

int64_t
kpi_next_ms(const struct kpi *kpi)
{
    int64_t next = schedule_local_ms(kpi->today + 1, 0);

    if (kpi->dirty > 0 && kpi->flushed_ms + kpi->metrics->flush_ms < next)
        next = kpi->flushed_ms + kpi->metrics->flush_ms;
    return next;
}

void
kpi_counts(const struct kpi *kpi, uint64_t *observations, uint64_t *alerts, size_t *cells,
           size_t *bytes)
{
    size_t total = 0;

    for (size_t i = 0; i < kpi->cells.size; i++)
        for (struct entry *e = kpi->cells.buckets[i]; e; e = e->next)
            total += sizeof(*e) + sketch_memory(&e->cell.sketch);
    for (size_t i = 0; i < kpi->rollups.size; i++)
        for (struct entry *e = kpi->rollups.buckets[i]; e; e = e->next)
            total += sizeof(*e) + sketch_memory(&e->cell.sketch);
    total += kpi->states.count * sizeof(struct entry);
    total += (kpi->cells.size + kpi->rollups.size + kpi->states.size) * sizeof(struct entry *);
    *observations = kpi->observations;
    *alerts = kpi->alerts;
    *cells = kpi->cells.count;
    *bytes = total;
}

/* ---- Applying again what the stored figures miss ---- */

struct replay {
    struct kpi *kpi;
    int64_t last;
    int count;
};

static int
replay_one(void *context, int64_t seq, const char *body, size_t size)
{
    struct replay *replay = context;
    cJSON *json = cJSON_ParseWithLength(body, size);
    struct event event;
    struct event_error error;
    int r = 0;

    replay->last = seq;
    replay->count++;
    if (json == NULL)
        return -ENOMEM;
    if (event_validate(json, &event, &error) == 0 && event.type == EVENT_KPI_OBSERVED)
        r = kpi_apply(replay->kpi, &event, seq);
    cJSON_Delete(json);
    return r;
}

int
kpi_replay(struct kpi *kpi, int64_t now_ms)
{
    int64_t applied, snapshot_day;
    struct replay replay = {kpi, 0, 0};
    uint64_t before = kpi->observations, alerts = kpi->alerts;
    int r;

    if (!kpi->replay_needed)
        return 0;
    kpi_begin(kpi, now_ms);
    r = store_kpi_progress_get(kpi->writer, &applied, &snapshot_day);
    if (r < 0)
        return r;
    kpi->snapshot_day = snapshot_day;
    kpi->applied_seq = kpi->flushed_seq = applied;
    replay.last = applied;
    kpi->replaying = true;
    do {
        replay.count = 0;
        r = store_events_of_type_after(kpi->writer, "kpi.observed", replay.last, REPLAY_CHUNK,
                                       replay_one, &replay);
    } while (r == 0 && replay.count == REPLAY_CHUNK);
    kpi->replaying = false;
    if (r < 0)
        return r;
    if (kpi->observations > before)
        log_notice("KPI figures: %llu observation%s stored since the figures were last written "
                   "applied again (%llu alert%s that had not gone out)",
                   (unsigned long long)(kpi->observations - before),
                   kpi->observations - before == 1 ? "" : "s",
                   (unsigned long long)(kpi->alerts - alerts),
                   kpi->alerts - alerts == 1 ? "" : "s");
    kpi->replay_needed = false;
    kpi->flushed_ms = now_ms;
    return 0;
}

int
kpi_derived_cells(struct store *store, const struct metrics *metrics, const struct kinds *kinds,
                  int64_t today,
                  int (*visit)(void *context, int metric, const char *team_id,
                               const struct kpi_cell *cell),
                  void *context)
{
    struct derived d;
    int r = derived_compute(store, metrics, kinds, today, &d);

    for (size_t i = 0; r == 0 && i < d.teams.size; i++)
        for (struct entry *e = d.teams.buckets[i]; r == 0 && e; e = e->next)
            r = visit(context, e->metric, e->team_id, &e->cell);
    map_free(&d.teams);
    return r;
}

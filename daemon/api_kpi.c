/*
 * The "kpi" op: each team's figures (with all its sub-teams) for a run of
 * periods, with target, benchmarks, red/amber/green status and trend.  The
 * reply's shape is documented in docs/protocol.md.
 *
 * Figures are read from the reader connection.  Observations the writer holds
 * in memory are written first (an INGEST_KPI_WRITE job), so a figure always
 * includes every acknowledged observation.  Derived metrics are computed from
 * the obligations for the period holding today.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_internal.h"
#include "kpi.h"
#include "log.h"
#include "metrics.h"
#include "period.h"
#include "schedule.h"
#include "wire.h"

#define PERIODS_DEFAULT 6
#define PERIODS_MAX 60

struct team_node {
    struct dir_team team;
    int parent; /* index, or -1 */
    int depth;  /* from the top of the whole tree */
    int first_child, next_sibling;
};

struct query {
    struct daemon *daemon;
    const struct metrics *metrics;
    int team_count;
    struct team_node *teams; /* sorted by team_id */
    int64_t today;
    int period_count;
    int64_t starts[PERIODS_MAX]; /* oldest first */
    /* The metric being answered: own and rolled-up figures, [team * period_count + period]. */
    const struct metric *metric;
    int metric_index;
    enum period_type type;
    struct kpi_cell *own, *total;
    int *states; /* stored judgements, KPI_NONE when none */
    /* Derived metrics' live figures of each team's own staff, computed once per request. */
    bool derived_done;
    int derived_count, derived_capacity;
    struct live {
        int metric, team;
        struct kpi_cell cell; /* count, sum, min, max only: no sketch */
    } * derived;
};

static int
add_team(void *context, const struct dir_team *team)
{
    struct query *q = context;
    void *grown = realloc(q->teams, (size_t)(q->team_count + 1) * sizeof(*q->teams));

    if (grown == NULL)
        return -ENOMEM;
    q->teams = grown;
    memset(&q->teams[q->team_count], 0, sizeof(q->teams[0]));
    q->teams[q->team_count].team = *team;
    q->team_count++;
    return 0;
}

static int
compare_node(const void *key, const void *member)
{
    return strcmp(key, ((const struct team_node *)member)->team.team_id);
}

static int
find_team(const struct query *q, const char *team_id)
{
    const struct team_node *found;

    if (team_id == NULL || team_id[0] == '\0' || q->team_count == 0)
        return -1;
    found = bsearch(team_id, q->teams, (size_t)q->team_count, sizeof(*q->teams), compare_node);
    return found ? (int)(found - q->teams) : -1;
}

/* Links each team to its parent and children (in team_id order), and works out depths. */
static void
link_tree(struct query *q)
{
    for (int i = 0; i < q->team_count; i++) {
        q->teams[i].parent = find_team(q, q->teams[i].team.parent_id);
        q->teams[i].first_child = -1;
        q->teams[i].next_sibling = -1;
    }
    for (int i = q->team_count - 1; i >= 0; i--) {
        int parent = q->teams[i].parent;
        if (parent >= 0) {
            q->teams[i].next_sibling = q->teams[parent].first_child;
            q->teams[parent].first_child = i;
        }
    }
    for (int i = 0; i < q->team_count; i++) {
        int depth = 0;
        for (int p = q->teams[i].parent; p >= 0 && depth < DIR_DEPTH_MAX; p = q->teams[p].parent)
            depth++;
        q->teams[i].depth = depth;
    }
}

static int
period_of(const struct query *q, int64_t start_day)
{
    for (int p = 0; p < q->period_count; p++)
        if (q->starts[p] == start_day)
            return p;
    return -1;
}

static int
load_cell(void *context, const struct store_kpi_cell *row)
{
    struct query *q = context;
    int t = find_team(q, row->team_id), p = period_of(q, row->start_day);
    struct kpi_cell *cell;

    if (t < 0 || p < 0)
        return 0; /* a team that no longer exists, or a period between those asked for */
    cell = &q->own[t * q->period_count + p];
    if (kpi_cell_read(cell, row) < 0)
        log_warning("KPI figure %s/%s/%lld has an unreadable sketch; its percentile is left out",
                    row->metric, row->team_id, (long long)row->start_day);
    return 0;
}

static int
load_state(void *context, const struct store_kpi_state *state)
{
    struct query *q = context;
    int t = find_team(q, state->team_id), p = period_of(q, state->start_day);

    if (t >= 0 && p >= 0)
        q->states[t * q->period_count + p] = state->state;
    return 0;
}

static int
keep_derived(void *context, int metric, const char *team_id, const struct kpi_cell *cell)
{
    struct query *q = context;
    int t = find_team(q, team_id);

    if (t < 0)
        return 0;
    if (q->derived_count == q->derived_capacity) {
        int capacity = q->derived_capacity ? q->derived_capacity * 2 : 64;
        void *grown = realloc(q->derived, (size_t)capacity * sizeof(*q->derived));
        if (grown == NULL)
            return -ENOMEM;
        q->derived = grown;
        q->derived_capacity = capacity;
    }
    struct live *live = &q->derived[q->derived_count++];
    live->metric = metric;
    live->team = t;
    live->cell = *cell;
    sketch_init(&live->cell.sketch); /* derived figures have none; the source's is freed */
    return 0;
}

/* The live derived figures replace what was recorded for the period holding today. */
static int
load_derived(struct query *q)
{
    int p = period_of(q, period_start(q->type, q->metrics->week_start, q->today));
    int r = 0;

    if (!q->derived_done) {
        r = kpi_derived_cells(q->daemon->reader, q->metrics, &q->daemon->config.kinds, q->today,
                              keep_derived, q);
        q->derived_done = true;
    }
    if (r < 0 || p < 0)
        return r;
    for (int t = 0; t < q->team_count; t++) {
        kpi_cell_free(&q->own[t * q->period_count + p]);
        kpi_cell_init(&q->own[t * q->period_count + p]);
    }
    for (int i = 0; r == 0 && i < q->derived_count; i++)
        if (q->derived[i].metric == q->metric_index)
            r = kpi_cell_merge(&q->own[q->derived[i].team * q->period_count + p],
                               &q->derived[i].cell, q->metric);
    return r;
}

static void
free_cells(struct query *q)
{
    size_t n = (size_t)q->team_count * (size_t)q->period_count;

    for (size_t i = 0; q->own && i < n; i++)
        kpi_cell_free(&q->own[i]);
    for (size_t i = 0; q->total && i < n; i++)
        kpi_cell_free(&q->total[i]);
    free(q->own);
    free(q->total);
    free(q->states);
    q->own = q->total = NULL;
    q->states = NULL;
}

/* Reads and rolls up one metric's figures for every team. */
static int
compute(struct query *q)
{
    size_t n = (size_t)q->team_count * (size_t)q->period_count;
    int r;

    q->own = calloc(n ? n : 1, sizeof(*q->own));
    q->total = calloc(n ? n : 1, sizeof(*q->total));
    q->states = malloc((n ? n : 1) * sizeof(*q->states));
    if (q->own == NULL || q->total == NULL || q->states == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        kpi_cell_init(&q->own[i]);
        kpi_cell_init(&q->total[i]);
        q->states[i] = KPI_NONE;
    }
    r = store_kpi_cells(q->daemon->reader, q->metric->name, (int)q->type, q->starts[0],
                        q->starts[q->period_count - 1], load_cell, q);
    if (r == 0 && q->metric->derived != DERIVED_NONE)
        r = load_derived(q);
    if (r == 0 && q->type == q->metric->alert_period)
        r = store_kpi_states(q->daemon->reader, q->metric->name, (int)q->type, q->starts[0],
                             q->starts[q->period_count - 1], load_state, q);
    /* Deepest teams first: each adds its total into its parent's. */
    int max_depth = 0;
    for (int t = 0; t < q->team_count; t++)
        if (q->teams[t].depth > max_depth)
            max_depth = q->teams[t].depth;
    for (int t = 0; r == 0 && t < q->team_count; t++)
        for (int p = 0; r == 0 && p < q->period_count; p++)
            r = kpi_cell_merge(&q->total[t * q->period_count + p], &q->own[t * q->period_count + p],
                               q->metric);
    for (int depth = max_depth; r == 0 && depth > 0; depth--)
        for (int t = 0; r == 0 && t < q->team_count; t++) {
            int parent = q->teams[t].parent;
            if (q->teams[t].depth != depth || parent < 0)
                continue;
            for (int p = 0; r == 0 && p < q->period_count; p++)
                r = kpi_cell_merge(&q->total[parent * q->period_count + p],
                                   &q->total[t * q->period_count + p], q->metric);
        }
    return r;
}

static void
add_number_or_null(cJSON *object, const char *name, bool has, double value)
{
    if (has)
        cJSON_AddNumberToObject(object, name, value);
    else
        cJSON_AddNullToObject(object, name);
}

static cJSON *
benchmarks_of(const struct metric *metric, enum period_type type, int64_t start)
{
    const struct metric_benchmark *found[METRIC_MAX_BENCHMARKS];
    int count = metrics_benchmarks_for(metric, type, start, found, METRIC_MAX_BENCHMARKS);
    cJSON *object = cJSON_CreateObject();

    for (int i = 0; i < count; i++)
        cJSON_AddNumberToObject(object, found[i]->name, found[i]->value);
    return object;
}

/* One row: a team and a metric over the periods. */
static void
add_row(struct query *q, cJSON *rows, int t, int level)
{
    const struct metric *m = q->metric;
    const struct team_node *node = &q->teams[t];
    char aggregate[32];
    cJSON *row = cJSON_CreateObject(), *periods;
    bool has_last = false, has_before = false;
    double last = 0, before = 0;
    int64_t last_count = 0;
    enum kpi_state last_state = KPI_NONE;

    cJSON_AddStringToObject(row, "team_id", node->team.team_id);
    cJSON_AddStringToObject(row, "team_name", node->team.name);
    api_add_optional(row, "parent_id", node->team.parent_id);
    cJSON_AddNumberToObject(row, "level", level);
    cJSON_AddStringToObject(row, "metric", m->name);
    cJSON_AddStringToObject(row, "title", m->title);
    cJSON_AddStringToObject(row, "unit", m->unit);
    cJSON_AddStringToObject(row, "aggregate",
                            metrics_aggregate_name(m, aggregate, sizeof(aggregate)));
    cJSON_AddStringToObject(row, "direction", m->direction == DIRECTION_LOWER ? "lower" : "higher");
    cJSON_AddBoolToObject(row, "derived", m->derived != DERIVED_NONE);
    cJSON_AddStringToObject(row, "period", period_type_name(q->type));
    if (m->has_target)
        cJSON_AddNumberToObject(row, "target", m->target);
    if (m->has_warning)
        cJSON_AddNumberToObject(row, "warning", m->warning);
    if (m->has_critical)
        cJSON_AddNumberToObject(row, "critical", m->critical);
    periods = cJSON_AddArrayToObject(row, "periods");
    for (int p = 0; p < q->period_count; p++) {
        const struct kpi_cell *cell = &q->total[t * q->period_count + p];
        char label[PERIOD_LABEL_SIZE];
        double value = 0;
        bool has = kpi_cell_value(cell, m, &value);
        enum kpi_state state = kpi_judge(m, has, value, cell->count,
                                         (enum kpi_state)q->states[t * q->period_count + p]);
        cJSON *item = cJSON_CreateObject();
        period_label(q->type, q->starts[p], label, sizeof(label));
        cJSON_AddStringToObject(item, "label", label);
        api_add_day(item, "start", q->starts[p]);
        api_add_day(item, "end", period_end(q->type, q->starts[p]));
        add_number_or_null(item, "value", has, value);
        cJSON_AddNumberToObject(item, "count", (double)cell->count);
        cJSON_AddStringToObject(item, "status", kpi_state_colour(state));
        cJSON_AddItemToObject(item, "benchmarks", benchmarks_of(m, q->type, q->starts[p]));
        cJSON_AddItemToArray(periods, item);
        has_before = has_last;
        before = last;
        has_last = has;
        last = value;
        last_count = cell->count;
        last_state = state;
    }
    add_number_or_null(row, "value", has_last, last);
    cJSON_AddNumberToObject(row, "count", (double)last_count);
    cJSON_AddStringToObject(row, "status", kpi_state_colour(last_state));
    cJSON_AddItemToObject(row, "benchmarks",
                          benchmarks_of(m, q->type, q->starts[q->period_count - 1]));
    cJSON_AddStringToObject(row, "trend",
                            !has_last || !has_before || q->period_count < 2 ? "none"
                            : last > before                                 ? "up"
                            : last < before                                 ? "down"
                                                                            : "flat");
    cJSON_AddItemToArray(rows, row);
}

struct listing {
    int team;
    int level;
};

static void
send_query_error(struct daemon *daemon, const struct bus_route *route, const cJSON *id, int r)
{
    if (r == -ENOMEM)
        api_send_error(daemon, route, id, WIRE_E_UNAVAILABLE, "the daemon is out of memory");
    else
        api_reply_store_failure(daemon, route, id, r);
}

void
api_kpi_answer(struct daemon *daemon, const struct bus_route *route, const cJSON *request,
               const cJSON *id)
{
    struct query q;
    const struct metrics *metrics = &daemon->config.metrics;
    bool bad = false;
    const char *team_id = api_optional_id(daemon, route, request, id, "team", &bad);
    const char *metric_name =
        bad ? NULL : api_optional_id(daemon, route, request, id, "metric", &bad);
    const char *period_name = wire_get_string(request, "period");
    const char *at = wire_get_string(request, "at");
    long long periods = PERIODS_DEFAULT, depth = -1;
    const struct metric *only = NULL;
    int period_type = -1, top = -1, r;
    char message[256];

    static const char *const texts[] = {"period", "at"};

    if (bad)
        return;
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        const cJSON *item = cJSON_GetObjectItemCaseSensitive(request, texts[i]);
        if (item != NULL && !cJSON_IsString(item)) {
            snprintf(message, sizeof(message), "\"%s\" must be a string", texts[i]);
            api_send_error(daemon, route, id, WIRE_E_BAD_REQUEST, message);
            return;
        }
    }
    if (!api_optional_integer(daemon, route, request, id, "periods", 1, PERIODS_MAX, &periods) ||
        !api_optional_integer(daemon, route, request, id, "depth", 0, DIR_DEPTH_MAX, &depth))
        return;
    if (metric_name != NULL && (only = metrics_find(metrics, metric_name)) == NULL) {
        snprintf(message, sizeof(message), "there is no metric \"%.80s\" in the configuration",
                 metric_name);
        api_send_error(daemon, route, id, "unknown_metric", message);
        return;
    }
    if (period_name != NULL && (period_type = period_type_parse(period_name)) < 0) {
        api_send_error(daemon, route, id, WIRE_E_BAD_REQUEST,
                       "\"period\" must be day, week, month, quarter or year");
        return;
    }
    if (only != NULL && period_type >= 0 && (only->periods & (1u << period_type)) == 0) {
        snprintf(message, sizeof(message), "the metric \"%s\" is not kept by %s", only->name,
                 period_name);
        api_send_error(daemon, route, id, WIRE_E_BAD_REQUEST, message);
        return;
    }
    /* "at" is read for each metric's period: a date suits all of them, a label only its own. */
    for (int i = 0; at != NULL && i < metrics->count; i++) {
        const struct metric *m = &metrics->items[i];
        int64_t start;
        if ((only != NULL && m != only) ||
            (period_type >= 0 && (m->periods & (1u << period_type)) == 0))
            continue;
        enum period_type type = period_type >= 0 ? (enum period_type)period_type : m->alert_period;
        if (period_parse_label(type, metrics->week_start, at, &start) < 0) {
            snprintf(message, sizeof(message),
                     "\"at\" (\"%.40s\") is not a date or a %s label such as 2026-11-22, "
                     "2026-11, 2026-Q4 or 2026 (for metric \"%s\")",
                     at, period_type_name(type), m->name);
            api_send_error(daemon, route, id, WIRE_E_BAD_REQUEST, message);
            return;
        }
    }

    memset(&q, 0, sizeof(q));
    q.daemon = daemon;
    q.metrics = metrics;
    q.today = schedule_local_day(clock_now_ms(&daemon->clock));
    q.period_count = (int)periods;
    r = store_teams_all(daemon->reader, add_team, &q);
    if (r < 0) {
        free(q.teams);
        send_query_error(daemon, route, id, r);
        return;
    }
    link_tree(&q);
    if (team_id != NULL && (top = find_team(&q, team_id)) < 0) {
        snprintf(message, sizeof(message), "there is no team \"%.80s\"", team_id);
        api_send_error(daemon, route, id, "unknown_team", message);
        free(q.teams);
        return;
    }

    /* The teams listed, depth first: a parent before its sub-teams, siblings by id. */
    struct listing *order = malloc(((size_t)q.team_count + 1) * sizeof(*order));
    int *stack = malloc(((size_t)q.team_count + 1) * sizeof(*stack));
    int listed = 0, sp = 0;
    if (order == NULL || stack == NULL) {
        free(order);
        free(stack);
        free(q.teams);
        send_query_error(daemon, route, id, -ENOMEM);
        return;
    }
    for (int t = q.team_count - 1; t >= 0; t--)
        if (top >= 0 ? t == top : q.teams[t].parent < 0)
            stack[sp++] = t;
    while (sp > 0) {
        int t = stack[--sp];
        int level = q.teams[t].depth - (top >= 0 ? q.teams[top].depth : 0);
        order[listed].team = t;
        order[listed].level = level;
        listed++;
        if (depth >= 0 && level >= depth)
            continue;
        /* Children pushed in reverse so the first (lowest id) comes out first. */
        int children[64], count = 0, extra = 0;
        for (int c = q.teams[t].first_child; c >= 0; c = q.teams[c].next_sibling) {
            if (count < 64)
                children[count++] = c;
            else
                extra++;
        }
        if (extra > 0) {
            /* Many sub-teams: push them all in reverse without a fixed array. */
            int total = count + extra, *all = malloc((size_t)total * sizeof(*all));
            if (all == NULL) {
                r = -ENOMEM;
                break;
            }
            int n = 0;
            for (int c = q.teams[t].first_child; c >= 0; c = q.teams[c].next_sibling)
                all[n++] = c;
            for (int i = n - 1; i >= 0; i--)
                stack[sp++] = all[i];
            free(all);
        } else {
            for (int i = count - 1; i >= 0; i--)
                stack[sp++] = children[i];
        }
    }
    free(stack);

    cJSON *reply = wire_reply_ok(id);
    api_add_day(reply, "today", q.today);
    cJSON *rows = cJSON_AddArrayToObject(reply, "rows");
    /* One metric at a time (its figures for every team), then the rows in team order. */
    cJSON **by_team = calloc((size_t)q.team_count + 1, sizeof(*by_team));
    if (by_team == NULL)
        r = -ENOMEM;
    for (int i = 0; r == 0 && i < metrics->count; i++) {
        const struct metric *m = &metrics->items[i];
        if (only != NULL && m != only)
            continue;
        if (period_type >= 0 && (m->periods & (1u << period_type)) == 0)
            continue; /* all metrics asked for: only those kept by that period */
        q.metric = m;
        q.metric_index = i;
        q.type = period_type >= 0 ? (enum period_type)period_type : m->alert_period;
        int64_t last = period_start(q.type, metrics->week_start, q.today);
        if (at != NULL)
            (void)period_parse_label(q.type, metrics->week_start, at, &last);
        q.starts[q.period_count - 1] = last;
        for (int p = q.period_count - 2; p >= 0; p--)
            q.starts[p] = period_previous(q.type, metrics->week_start, q.starts[p + 1]);
        r = compute(&q);
        for (int k = 0; r == 0 && k < listed; k++) {
            if (by_team[order[k].team] == NULL)
                by_team[order[k].team] = cJSON_CreateArray();
            add_row(&q, by_team[order[k].team], order[k].team, order[k].level);
        }
        free_cells(&q);
    }
    for (int k = 0; by_team != NULL && k < listed; k++) {
        cJSON *list = by_team[order[k].team];
        if (list == NULL)
            continue;
        cJSON *row;
        while ((row = cJSON_DetachItemFromArray(list, 0)) != NULL)
            cJSON_AddItemToArray(rows, row);
        cJSON_Delete(list);
        by_team[order[k].team] = NULL;
    }
    free(by_team);
    free(order);
    free(q.teams);
    free(q.derived);
    if (r < 0) {
        cJSON_Delete(reply);
        send_query_error(daemon, route, id, r);
        return;
    }
    api_send_reply(daemon, route, reply);
}

bool
api_op_kpi(struct daemon *daemon, const struct bus_route *route, cJSON *request, const cJSON *id)
{
    struct ingest_request *job;

    if (!ingest_kpi_unwritten(daemon->ingest)) {
        api_kpi_answer(daemon, route, request, id);
        return false;
    }
    /* Observations acknowledged but held in memory: written first, then answered. */
    job = ingest_request_new(0);
    if (job == NULL) {
        api_send_error(daemon, route, id, WIRE_E_UNAVAILABLE, "the daemon is out of memory");
        return false;
    }
    job->job = INGEST_KPI_WRITE;
    api_submit_job(daemon, route, request, id, job);
    return true;
}

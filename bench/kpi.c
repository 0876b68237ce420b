/*
 * bench-kpi: what KPI observations cost the real carehubd (issue 4, item 9).
 *
 * Two daemons, one after the other, each on a fresh temporary state
 * directory with the same generated configuration (durable storage, 20
 * metrics with mixed aggregates, targets and thresholds):
 *
 *  1. the spine: bench-ingest's event mix (team.changed, staff.hired, then
 *     staff.changed), as many events as there are observations below, for
 *     the daemon's CPU per event of plain ingest, measured in this same run;
 *  2. KPIs: a tree of teams (one top team, ten regions, the rest under them)
 *     and one manager for each, then kpi.observed events spread evenly over
 *     the teams, the metrics and the last 90 days of the real clock (the
 *     daemon runs on it, in UTC, the configuration's default zone).  It reads
 *     the daemon's CPU per observation and its RSS before and after
 *     (divided by the team x metric x period figures the observations
 *     touched), asks "status" for the daemon's own KPI counts, and then times
 *     the real carehubctl kpi --json, and the kpi op alone, for the whole
 *     tree, a region and one team.
 *
 * CPU time is read from /proc/PID/stat right after the last acknowledgement
 * and again once the daemon has had time to write the last running figures
 * (kpi.flush_ms and a second), so that the KPI path's deferred writes are
 * counted; both are printed.  A figure program, not a test: it asserts nothing
 * about speed, it prints the figures and the targets next to them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <zmq.h>

#include "bench_common.h"
#include "client.h"
#include "timefmt.h"
#include "wire.h"

#define KPI_DEFAULT_OBSERVATIONS 1000000
#define KPI_QUICK_OBSERVATIONS 100000
#define KPI_DEFAULT_TEAMS 1000
#define KPI_DEFAULT_METRICS 20
#define KPI_MAX_METRICS 64 /* the daemon's METRICS_MAX */
#define KPI_MAX_TEAMS 9999 /* team ids T0000 to T9999 */
#define KPI_DEFAULT_WINDOW 4000
#define KPI_DEFAULT_BATCH 200
#define KPI_DEFAULT_DAYS 90
#define KPI_DEFAULT_QUERIES 20
#define KPI_REGIONS 10
#define KPI_FLUSH_MS 10000 /* kpi.flush_ms in the generated configuration */
#define KPI_SETTLE_MS (KPI_FLUSH_MS + 1000)
#define KPI_QUERY_TIMEOUT_S 120
#define KPI_PERIODS_KEPT 3 /* week, month, quarter */

/* The project's target (issue 4, item 9), printed next to the figure. */
#define TARGET_KPI_RATIO 1.20

struct options {
    const char *daemon;
    const char *ctl;
    const char *base_dir;
    size_t observations;
    size_t spine_events;
    size_t teams;
    size_t metrics;
    size_t days;
    size_t window;
    size_t batch;
    size_t queries;
};

/* ---- the metrics ---- */

/*
 * The generated configuration's metrics.  Values are center x a team's
 * factor (team_factor(); for a metric where higher is better, 2.15 minus it)
 * x a uniform number from 0.5 to 1.5; the thresholds are set from center so
 * that the teams that struggle turn amber or red and alerts go out.
 */
struct metric_template {
    const char *name;
    const char *title;
    const char *unit;
    const char *aggregate; /* "mean", "count", "sum", "last", "min", "max", "p90", "p99" */
    bool higher_is_better;
    double center;
};

static const struct metric_template templates[] = {
    {"length_of_stay", "Average length of stay", "days", "mean", false, 5},
    {"readmissions_30d", "Patients readmitted within 30 days", "%", "mean", false, 8},
    {"sickness_absence_rate", "Sickness absence rate", "%", "mean", false, 3.5},
    {"falls", "Falls", "falls", "count", false, 1},
    {"length_of_stay_p90", "Length of stay of the longest tenth", "days", "p90", false, 5},
    {"wait_time_p99", "Longest waits for a first assessment", "minutes", "p99", false, 30},
    {"agency_hours", "Agency staff hours", "hours", "sum", false, 8},
    {"vacancies", "Vacant posts", "posts", "last", false, 3},
    {"staffing_ratio_min", "Lowest nurse staffing ratio", "", "min", true, 1},
    {"call_response_max", "Longest call bell response", "minutes", "max", false, 10},
    {"patient_experience", "Patients who would recommend the ward", "%", "mean", true, 80},
    {"medication_errors", "Medication errors", "errors", "count", false, 1},
    {"call_bell_p90", "Call bell response, slowest tenth", "minutes", "p90", false, 4},
    {"discharge_delay_p99", "Longest discharge delays", "hours", "p99", false, 24},
    {"overtime_hours", "Overtime hours", "hours", "sum", false, 4},
    {"bed_occupancy", "Bed occupancy", "%", "last", false, 85},
    {"shift_hours_min", "Shortest rest between shifts", "hours", "min", true, 11},
    {"fridge_temperature_max", "Highest medicines fridge temperature", "C", "max", false, 5},
    {"training_rate", "Mandatory training completed", "%", "mean", true, 90},
    {"time_to_assessment", "Time to first assessment", "hours", "mean", false, 2},
};

#define TEMPLATE_COUNT (sizeof(templates) / sizeof(templates[0]))

struct metric_def {
    char name[80];
    const struct metric_template *template;
    bool has_levels;
    double target, warning, critical, hysteresis;
    int min_observations;
};

/* How many observations one team gets for one metric in a month, on average. */
static double
observations_per_cell_month(const struct options *options)
{
    return (double)options->observations / (double)(options->teams * options->metrics) * 30.0 /
           (double)options->days;
}

/* Metric i of the configuration: the templates in turn, numbered after the first round. */
static void
metric_define(const struct options *options, size_t i, struct metric_def *def)
{
    const struct metric_template *t = &templates[i % TEMPLATE_COUNT];
    double c = t->center;
    double monthly = observations_per_cell_month(options);

    memset(def, 0, sizeof(*def));
    def->template = t;
    if (i < TEMPLATE_COUNT)
        snprintf(def->name, sizeof(def->name), "%s", t->name);
    else
        snprintf(def->name, sizeof(def->name), "%s_%zu", t->name, i / TEMPLATE_COUNT + 1);
    def->has_levels = true;
    def->min_observations = 1;
    if (strcmp(t->aggregate, "mean") == 0) {
        def->target = c;
        def->warning = t->higher_is_better ? 0.85 * c : 1.15 * c;
        def->critical = t->higher_is_better ? 0.7 * c : 1.3 * c;
        def->hysteresis = 0.02 * c;
        def->min_observations = 10;
    } else if (t->aggregate[0] == 'p') {
        /* p90 of c f (0.5 + U) is 1.4 c f; p99 is 1.49 c f. */
        double p = strcmp(t->aggregate, "p90") == 0 ? 1.4 : 1.5;
        def->target = p * c;
        def->warning = (p + 0.2) * c;
        def->critical = (p + 0.45) * c;
        def->min_observations = 20;
    } else if (strcmp(t->aggregate, "max") == 0) {
        def->target = 1.5 * c;
        def->warning = 1.7 * c;
        def->critical = 1.95 * c;
    } else if (strcmp(t->aggregate, "min") == 0) {
        def->target = 0.5 * c;
        def->warning = 0.45 * c;
        def->critical = 0.42 * c;
    } else if (strcmp(t->aggregate, "count") == 0 || strcmp(t->aggregate, "sum") == 0) {
        /* A team's month holds about monthly observations; a region's many more. */
        double total = (monthly > 5 ? monthly : 5) * (strcmp(t->aggregate, "sum") == 0 ? c : 1);

        def->target = total;
        def->warning = 1.3 * total;
        def->critical = 1.6 * total;
    } else { /* last: a target only, so it never alerts however much it moves */
        def->has_levels = false;
        def->target = c;
    }
}

/*
 * A team's own factor: nine teams in ten from 0.8 to 1.05, the rest (the
 * teams that struggle) from 1.1 to 1.4, so that a few teams are amber or red.
 */
static double
team_factor(size_t team)
{
    uint64_t z = (uint64_t)(team + 1) * 0x9E3779B97F4A7C15ull;
    double u;

    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z ^= z >> 27;
    u = (double)(z >> 11) * 0x1.0p-53;
    return u < 0.9 ? 0.8 + 0.25 * u / 0.9 : 1.1 + 0.3 * (u - 0.9) / 0.1;
}

/* ---- the daemon's configuration ---- */

static int
write_config(const struct bench_daemon *daemon, const struct options *options)
{
    FILE *f = fopen(daemon->conf, "we");

    if (f == NULL)
        return -errno;
    fprintf(f,
            "# bench-kpi\n"
            "state_dir = \"%s\";\n"
            "api = { endpoint = \"%s\"; };\n"
            "notify = { endpoint = \"%s\"; };\n"
            "storage = { durable = true; checkpoint_pages = 1000; };\n",
            daemon->dir, daemon->endpoint, daemon->notify_endpoint);
    if (options->batch > 10000)
        fprintf(f, "limits = { max_batch_events = %zu; };\n", options->batch);
    fprintf(f,
            "kpi = { week_starts = \"monday\"; retention_days = 800; future_minutes = 1440;\n"
            "        flush_ms = %d; };\n"
            "metrics = (\n",
            KPI_FLUSH_MS);
    for (size_t i = 0; i < options->metrics; i++) {
        struct metric_def def;
        const struct metric_template *t;

        metric_define(options, i, &def);
        t = def.template;
        fprintf(f,
                "  { name = \"%s\"; title = \"%s\"; unit = \"%s\"; aggregate = \"%s\";\n"
                "    periods = [\"week\", \"month\", \"quarter\"]; alert_period = \"month\";\n"
                "    direction = \"%s\"; target = %.6f;",
                def.name, t->title, t->unit, t->aggregate, t->higher_is_better ? "higher" : "lower",
                def.target);
        if (def.has_levels)
            fprintf(f, " warning = %.6f; critical = %.6f;", def.warning, def.critical);
        fprintf(f, "\n    hysteresis = %.6f; min_observations = %d; min = 0.0; max = %.6f;",
                def.hysteresis, def.min_observations, 100.0 * t->center);
        if (i % 4 == 0)
            fprintf(f,
                    "\n    benchmarks = ( { name = \"regional\"; value = %.6f; },\n"
                    "                   { name = \"national\"; value = %.6f; period = \"quarter\"; "
                    "} );",
                    def.target * 1.05, def.target * 1.1);
        fprintf(f, " }%s\n", i + 1 < options->metrics ? "," : "");
    }
    fprintf(f, ");\n");
    return fclose(f) == 0 ? 0 : -errno;
}

/* Creates the directory and configuration and starts carehubd.  Returns 0 or -errno. */
static int
daemon_start(struct bench_daemon *daemon, const struct options *options)
{
    int r = bench_daemon_prepare(daemon, "bench-kpi", options->base_dir);

    if (r < 0)
        return r;
    r = write_config(daemon, options);
    if (r < 0) {
        fprintf(stderr, "bench-kpi: %s: %s\n", daemon->conf, strerror(-r));
        return r;
    }
    return bench_daemon_spawn(daemon, options->daemon);
}

/* ---- the teams and their managers ---- */

/* Team 0 is the top, 1 to regions the regions, every other team under one of them. */
static size_t
region_count(size_t teams)
{
    return teams - 1 < KPI_REGIONS ? teams - 1 : KPI_REGIONS;
}

struct setup {
    struct bench_rng rng;
    size_t teams;
    size_t index;
    char time_text[32];
};

static void
stamp_now(char *buf, size_t size)
{
    struct timespec now;

    clock_gettime(CLOCK_REALTIME, &now);
    timefmt_format_rfc3339((int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000, buf, size);
}

static void
setup_stamp(void *context)
{
    struct setup *setup = context;

    stamp_now(setup->time_text, sizeof(setup->time_text));
}

/* A team.changed for every team, then a staff.hired for each team's manager. */
static size_t
setup_next(void *context, char *buf, size_t size)
{
    struct setup *setup = context;
    size_t i = setup->index++;
    size_t regions = region_count(setup->teams);
    char id[37];
    char subject[32];
    char data[256];
    const char *type;
    int n;

    bench_format_uuid(&setup->rng, id);
    if (i < setup->teams) {
        type = "team.changed";
        snprintf(subject, sizeof(subject), "team/T%04zu", i);
        if (i == 0)
            snprintf(data, sizeof(data),
                     "{\"team_id\":\"T0000\",\"name\":\"Bench trust\",\"manager_id\":\"M0000\"}");
        else
            snprintf(data, sizeof(data),
                     "{\"team_id\":\"T%04zu\",\"name\":\"Bench %s %zu\",\"parent_id\":\"T%04zu\","
                     "\"manager_id\":\"M%04zu\"}",
                     i, i <= regions ? "region" : "ward", i,
                     i <= regions ? (size_t)0 : 1 + (i - regions - 1) % regions, i);
    } else {
        size_t team = i - setup->teams;

        type = "staff.hired";
        snprintf(subject, sizeof(subject), "staff/M%04zu", team);
        snprintf(data, sizeof(data),
                 "{\"staff_id\":\"M%04zu\",\"name\":\"Bench Manager %zu\",\"role\":\"%s\","
                 "\"team_id\":\"T%04zu\",\"start_date\":\"2020-01-06\","
                 "\"email\":\"manager%zu@care.example.org\"}",
                 team, team, team == 0 ? "chief executive" : "ward manager", team, team);
    }
    n = snprintf(buf, size,
                 "{\"specversion\":\"1.0\",\"id\":\"%s\",\"source\":\"https://hr.example.org/"
                 "carehub-bench/kpi\",\"type\":\"%s\",\"subject\":\"%s\","
                 "\"time\":\"%s\",\"datacontenttype\":\"application/json\",\"data\":%s}",
                 id, type, subject, setup->time_text, data);
    return n < 0 || (size_t)n >= size ? 0 : (size_t)n;
}

/* ---- observations ---- */

/* The team x metric x period figures the observations touched, as a set of keys. */
struct series_set {
    uint64_t *keys; /* 0: empty */
    size_t mask;
    size_t count;
};

static int
series_init(struct series_set *set, size_t expected)
{
    size_t size = 1024;

    while (size < expected * 2)
        size *= 2;
    set->keys = calloc(size, sizeof(*set->keys));
    set->mask = size - 1;
    set->count = 0;
    return set->keys != NULL ? 0 : -ENOMEM;
}

static void
series_add(struct series_set *set, uint64_t key)
{
    uint64_t h = key * 0x9E3779B97F4A7C15ull;
    size_t i = (size_t)(h >> 20) & set->mask;

    while (set->keys[i] != 0) {
        if (set->keys[i] == key)
            return;
        i = (i + 1) & set->mask;
    }
    if (set->count + 1 >= set->mask) /* sized for the most there can be; never full */
        return;
    set->keys[i] = key;
    set->count++;
}

struct observer {
    struct bench_rng rng;
    const struct options *options;
    struct metric_def defs[KPI_MAX_METRICS];
    int64_t today; /* days since 1970-01-01, UTC (the generated configuration's zone) */
    int64_t base;  /* a day before any period start the observations can touch */
    struct series_set series;
};

/* The first day of the week (from Monday), month and quarter holding day. */
static void
period_starts(int64_t day, int64_t starts[KPI_PERIODS_KEPT])
{
    struct civil_date date;

    starts[0] = day - (day + 3) % 7; /* 1970-01-01 was a Thursday */
    timefmt_civil_from_days(day, &date);
    starts[1] = timefmt_days_from_civil(date.year, date.month, 1);
    starts[2] = timefmt_days_from_civil(date.year, (date.month - 1) / 3 * 3 + 1, 1);
}

static int
observer_init(struct observer *observer, const struct options *options)
{
    struct timespec now;
    size_t bound;

    memset(observer, 0, sizeof(*observer));
    bench_rng_seed(&observer->rng);
    observer->options = options;
    for (size_t i = 0; i < options->metrics; i++)
        metric_define(options, i, &observer->defs[i]);
    clock_gettime(CLOCK_REALTIME, &now);
    observer->today = (int64_t)now.tv_sec / 86400;
    observer->base = observer->today - (int64_t)options->days - 100;
    /* At most: every week, month and quarter of the days, for every team and metric. */
    bound = options->teams * options->metrics * (options->days / 7 + options->days / 28 + 8);
    if (bound > options->observations * KPI_PERIODS_KEPT)
        bound = options->observations * KPI_PERIODS_KEPT;
    return series_init(&observer->series, bound);
}

/* One kpi.observed: a team and a metric at random, a moment in the last days. */
static size_t
observer_next(void *context, char *buf, size_t size)
{
    struct observer *o = context;
    struct bench_rng *rng = &o->rng;
    size_t team = bench_rng_below(rng, o->options->teams);
    size_t metric = bench_rng_below(rng, o->options->metrics);
    const struct metric_def *def = &o->defs[metric];
    const struct metric_template *t = def->template;
    int64_t day = o->today - (int64_t)bench_rng_below(rng, o->options->days);
    int64_t ms = day * 86400000 + (int64_t)bench_rng_below(rng, 86400000);
    int64_t starts[KPI_PERIODS_KEPT];
    double factor = team_factor(team);
    double value;
    char id[37];
    char time_text[32];
    int n;

    if (t->higher_is_better)
        factor = 2.15 - factor;
    value =
        strcmp(t->aggregate, "count") == 0 ? 1.0 : t->center * factor * (0.5 + bench_rng_unit(rng));
    period_starts(day, starts);
    for (int p = 0; p < KPI_PERIODS_KEPT; p++)
        series_add(&o->series, ((uint64_t)team << 40) | ((uint64_t)metric << 32) |
                                   ((uint64_t)p << 28) | (uint64_t)(starts[p] - o->base + 1));
    bench_format_uuid(rng, id);
    timefmt_format_rfc3339(ms, time_text, sizeof(time_text));
    n = snprintf(buf, size,
                 "{\"specversion\":\"1.0\",\"id\":\"%s\",\"source\":\"https://bi.example.org/"
                 "carehub-bench/kpi\",\"type\":\"kpi.observed\",\"subject\":\"team/T%04zu\","
                 "\"time\":\"%s\",\"datacontenttype\":\"application/json\","
                 "\"data\":{\"metric\":\"%s\",\"team_id\":\"T%04zu\",\"value\":%.3f}}",
                 id, team, time_text, def->name, team, value);
    return n < 0 || (size_t)n >= size ? 0 : (size_t)n;
}

/* ---- measuring ---- */

/* The daemon's CPU time over a load: at its last acknowledgement, and once it has settled. */
struct cpu_figures {
    double at_last_ack;
    double settled;
    double publisher; /* this program's own, to show it is not the limit */
};

/* What "status" says about KPIs, when this daemon reports it. */
struct kpi_status {
    bool present;
    double observations;
    double alerts;
    double series;
    double memory_bytes;
    double transactions;
};

static void
sleep_ms(long ms)
{
    struct timespec pause = {ms / 1000, (ms % 1000) * 1000000L};

    while (nanosleep(&pause, &pause) != 0 && errno == EINTR)
        ;
}

static double
json_number(const cJSON *object, const char *name)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, name);

    return cJSON_IsNumber(item) ? item->valuedouble : NAN;
}

static int
read_status(struct client *client, struct kpi_status *out)
{
    cJSON *request = wire_request_new("status", 3e12);
    cJSON *reply = NULL;
    const cJSON *kpi;
    int r;

    memset(out, 0, sizeof(*out));
    if (request == NULL)
        return -ENOMEM;
    r = client_request(client, request, 10000, &reply);
    cJSON_Delete(request);
    if (r < 0)
        return r;
    kpi = cJSON_GetObjectItemCaseSensitive(reply, "kpi");
    out->transactions = json_number(reply, "transactions");
    if (cJSON_IsObject(kpi)) {
        out->present = true;
        out->observations = json_number(kpi, "observations_since_start");
        out->alerts = json_number(kpi, "alerts_since_start");
        out->series = json_number(kpi, "series_in_memory");
        out->memory_bytes = json_number(kpi, "memory_bytes");
    }
    cJSON_Delete(reply);
    return 0;
}

/*
 * Publishes events from source and reads the daemon's CPU time around it:
 * at the last acknowledgement and after KPI_SETTLE_MS more.
 */
static int
measured_publish(struct client *client, struct bench_daemon *daemon,
                 const struct bench_source *source, size_t events, const struct options *options,
                 struct bench_publish_result *result, struct cpu_figures *cpu)
{
    double before = bench_process_cpu_seconds(daemon->pid);
    double own_before = bench_own_cpu_seconds();
    int r =
        bench_publish(client, daemon, source, events, options->window, options->batch, 0, result);

    if (r < 0) {
        fprintf(stderr, "bench-kpi: publishing failed: %s\n", strerror(-r));
        return r;
    }
    cpu->at_last_ack = bench_process_cpu_seconds(daemon->pid) - before;
    cpu->publisher = bench_own_cpu_seconds() - own_before;
    sleep_ms(KPI_SETTLE_MS);
    cpu->settled = bench_process_cpu_seconds(daemon->pid) - before;
    if (result->stored != events || result->rejected != 0) {
        fprintf(stderr, "bench-kpi: %zu stored, %zu duplicate, %zu rejected (first: %s)\n",
                result->stored, result->duplicate, result->rejected,
                result->first_rejection[0] ? result->first_rejection : "-");
        return -EPROTO;
    }
    return 0;
}

/* ---- run 1: the spine ---- */

struct spine_run {
    bool ok;
    size_t events;
    struct bench_publish_result load;
    struct cpu_figures cpu;
    long peak_rss_kib;
    int exit_status;
};

static void
spine_stamp(void *context)
{
    bench_spine_stamp(context);
}

static size_t
spine_next(void *context, char *buf, size_t size)
{
    return bench_spine_next(context, buf, size);
}

static int
run_spine(const struct options *options, struct spine_run *run)
{
    struct bench_daemon daemon;
    struct client *client = NULL;
    struct bench_spine spine;
    struct bench_source source = {spine_stamp, spine_next, &spine};
    char err[256];
    int r;

    run->events = options->spine_events;
    run->exit_status = -1;
    r = daemon_start(&daemon, options);
    if (r < 0)
        goto out;
    fprintf(stderr, "bench-kpi: spine: carehubd pid %d, %zu events of bench-ingest's mix...\n",
            (int)daemon.pid, run->events);
    r = client_open(&client, daemon.endpoint, 0, err, sizeof(err));
    if (r < 0) {
        fprintf(stderr, "bench-kpi: %s\n", err);
        goto out;
    }
    r = bench_daemon_wait_ready(&daemon, client);
    if (r < 0)
        goto out;
    bench_spine_init(&spine);
    r = measured_publish(client, &daemon, &source, run->events, options, &run->load, &run->cpu);
    if (r < 0)
        goto out;
    run->peak_rss_kib = (long)bench_proc_field(daemon.pid, "status", "VmHWM:");
    run->exit_status = bench_daemon_stop(&daemon);
    if (run->exit_status != 0)
        r = -ECHILD;
out:
    if (r < 0)
        bench_daemon_print_log_tail(&daemon);
    client_close(client);
    bench_daemon_cleanup(&daemon);
    run->ok = r == 0;
    return r;
}

/* ---- run 2: KPIs ---- */

/* One kind of kpi request, asked queries times through carehubctl and through the op alone. */
struct query {
    char label[80];
    char team[16];   /* "": the whole tree */
    char metric[80]; /* "": every metric */
    int periods;     /* 0: the op's default (6) */
    /* Through carehubctl --json (process start included). */
    bool ctl_ok;
    double ctl_p50_ms, ctl_p99_ms, ctl_max_ms;
    size_t ctl_bytes;
    /* The kpi op alone, through this program's own client. */
    bool op_ok;
    double op_p50_ms, op_p99_ms, op_max_ms;
    size_t op_bytes;
    int rows;
};

struct kpi_run {
    bool ok;
    size_t setup_events;
    struct bench_publish_result setup;
    struct bench_publish_result load;
    struct cpu_figures cpu;
    long rss_before_kib;
    long rss_after_kib;
    long peak_rss_kib;
    long long write_bytes;
    uint64_t dir_bytes;
    size_t series;
    struct kpi_status status_before;
    struct kpi_status status_after;
    struct query queries[6];
    int query_count;
    int exit_status;
};

static void
summarise(double *ms, size_t count, double *p50, double *p99, double *max)
{
    qsort(ms, count, sizeof(*ms), bench_compare_double);
    *p50 = bench_percentile(ms, count, 0.50);
    *p99 = bench_percentile(ms, count, 0.99);
    *max = count ? ms[count - 1] : 0;
}

/* Runs carehubctl kpi --json once; returns its wall time in ms (or -1) and the bytes it printed. */
static double
ctl_once(const struct options *options, const char *endpoint, const struct query *q, size_t *bytes)
{
    char periods[16], timeout[16];
    const char *argv[16];
    int argc = 0;
    int pipe_fd[2];
    int64_t start;
    pid_t pid;
    int status;
    char buf[65536];
    ssize_t n;

    snprintf(periods, sizeof(periods), "%d", q->periods);
    snprintf(timeout, sizeof(timeout), "%d", KPI_QUERY_TIMEOUT_S);
    argv[argc++] = options->ctl;
    argv[argc++] = "-e";
    argv[argc++] = endpoint;
    argv[argc++] = "--json";
    argv[argc++] = "--timeout";
    argv[argc++] = timeout;
    argv[argc++] = "kpi";
    if (q->team[0] != '\0') {
        argv[argc++] = "--team";
        argv[argc++] = q->team;
    }
    if (q->metric[0] != '\0') {
        argv[argc++] = "--metric";
        argv[argc++] = q->metric;
    }
    if (q->periods > 0) {
        argv[argc++] = "--periods";
        argv[argc++] = periods;
    }
    argv[argc] = NULL;
    if (pipe2(pipe_fd, O_CLOEXEC) != 0)
        return -1;
    start = bench_now_us();
    pid = fork();
    if (pid < 0) {
        close(pipe_fd[0]);
        close(pipe_fd[1]);
        return -1;
    }
    if (pid == 0) {
        if (dup2(pipe_fd[1], STDOUT_FILENO) < 0)
            _exit(126);
        execv(options->ctl, (char *const *)argv);
        _exit(127);
    }
    close(pipe_fd[1]);
    *bytes = 0;
    while ((n = read(pipe_fd[0], buf, sizeof(buf))) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            break;
        *bytes += (size_t)n;
    }
    close(pipe_fd[0]);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "bench-kpi: carehubctl kpi (%s) exited with wait status %d\n", q->label,
                status);
        return -1;
    }
    return (double)(bench_now_us() - start) / 1000.0;
}

/*
 * Sends the kpi op once through client and waits for its reply; returns the
 * round trip in ms (or -1), the reply's size, and, when rows is not NULL, how
 * many rows it has.
 */
static double
op_once(struct client *client, const struct query *q, double id, size_t *bytes, int *rows)
{
    cJSON *request = wire_request_new("kpi", id);
    char *text = NULL;
    int64_t start, deadline;
    int r = -ENOMEM;

    if (request == NULL)
        return -1;
    if ((q->team[0] == '\0' || cJSON_AddStringToObject(request, "team", q->team) != NULL) &&
        (q->metric[0] == '\0' || cJSON_AddStringToObject(request, "metric", q->metric) != NULL) &&
        (q->periods == 0 || cJSON_AddNumberToObject(request, "periods", q->periods) != NULL))
        text = cJSON_PrintUnformatted(request);
    cJSON_Delete(request);
    if (text == NULL)
        return -1;
    start = bench_now_us();
    deadline = start + (int64_t)KPI_QUERY_TIMEOUT_S * 1000000;
    r = client_send(client, text, strlen(text));
    free(text);
    if (r < 0)
        return -1;
    for (;;) {
        zmq_pollitem_t item = {.socket = client_socket(client), .events = ZMQ_POLLIN};
        int64_t now = bench_now_us();
        char *body;
        size_t size;
        cJSON *reply;
        const cJSON *reply_id;
        double elapsed;

        if (now >= deadline) {
            fprintf(stderr, "bench-kpi: kpi op (%s): no reply within %d s\n", q->label,
                    KPI_QUERY_TIMEOUT_S);
            return -1;
        }
        if (zmq_poll(&item, 1, (long)((deadline - now) / 1000) + 1) < 0 && zmq_errno() != EINTR)
            return -1;
        r = client_receive(client, &body, &size);
        if (r == -EAGAIN || r == -EPROTO)
            continue;
        if (r < 0)
            return -1;
        elapsed = (double)(bench_now_us() - start) / 1000.0;
        reply = cJSON_ParseWithLength(body, size);
        free(body);
        reply_id = cJSON_GetObjectItemCaseSensitive(reply, "id");
        if (!cJSON_IsNumber(reply_id) || reply_id->valuedouble != id) {
            cJSON_Delete(reply); /* a late answer to an earlier request */
            continue;
        }
        if (wire_reply_status(reply, NULL, NULL) != 0) {
            fprintf(stderr, "bench-kpi: kpi op (%s): %s\n", q->label,
                    wire_get_string(cJSON_GetObjectItemCaseSensitive(reply, "error"), "message"));
            cJSON_Delete(reply);
            return -1;
        }
        *bytes = size;
        if (rows != NULL)
            *rows = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(reply, "rows"));
        cJSON_Delete(reply);
        return elapsed;
    }
}

static void
time_query(const struct options *options, struct client *client, const char *endpoint,
           struct query *q, double *id)
{
    double *ms = calloc(options->queries, sizeof(*ms));
    size_t i;

    if (ms == NULL)
        return;
    q->ctl_ok = true;
    for (i = 0; i < options->queries && q->ctl_ok; i++) {
        ms[i] = ctl_once(options, endpoint, q, &q->ctl_bytes);
        q->ctl_ok = ms[i] >= 0;
    }
    if (q->ctl_ok)
        summarise(ms, options->queries, &q->ctl_p50_ms, &q->ctl_p99_ms, &q->ctl_max_ms);
    q->op_ok = true;
    for (i = 0; i < options->queries && q->op_ok; i++) {
        ms[i] = op_once(client, q, ++*id, &q->op_bytes, i == 0 ? &q->rows : NULL);
        q->op_ok = ms[i] >= 0;
    }
    if (q->op_ok)
        summarise(ms, options->queries, &q->op_p50_ms, &q->op_p99_ms, &q->op_max_ms);
    free(ms);
}

/* Adds a kind of request: team "" for the whole tree, metric "" for every metric. */
static void
add_query(struct kpi_run *run, const char *label, const char *team, const char *metric, int periods)
{
    struct query *q = &run->queries[run->query_count++];

    snprintf(q->label, sizeof(q->label), "%s", label);
    snprintf(q->team, sizeof(q->team), "%s", team);
    snprintf(q->metric, sizeof(q->metric), "%s", metric);
    q->periods = periods;
}

static int
run_kpi(const struct options *options, struct kpi_run *run)
{
    char ward[16], label[80];
    struct bench_daemon daemon;
    struct client *client = NULL;
    struct setup setup;
    struct observer *observer = calloc(1, sizeof(*observer));
    struct bench_source setup_source = {setup_stamp, setup_next, &setup};
    struct bench_source source = {NULL, observer_next, observer};
    struct cpu_figures setup_cpu;
    long long write_before;
    double id = 2e12;
    char err[256];
    int r;

    run->exit_status = -1;
    if (observer == NULL)
        return -ENOMEM;
    r = daemon_start(&daemon, options);
    if (r < 0)
        goto out;
    fprintf(stderr, "bench-kpi: kpi: carehubd pid %d; %zu teams and their managers...\n",
            (int)daemon.pid, options->teams);
    r = client_open(&client, daemon.endpoint, 0, err, sizeof(err));
    if (r < 0) {
        fprintf(stderr, "bench-kpi: %s\n", err);
        goto out;
    }
    r = bench_daemon_wait_ready(&daemon, client);
    if (r < 0)
        goto out;

    memset(&setup, 0, sizeof(setup));
    bench_rng_seed(&setup.rng);
    setup.teams = options->teams;
    run->setup_events = 2 * options->teams;
    r = measured_publish(client, &daemon, &setup_source, run->setup_events, options, &run->setup,
                         &setup_cpu);
    if (r < 0)
        goto out;

    r = observer_init(observer, options);
    if (r < 0)
        goto out;
    (void)read_status(client, &run->status_before);
    run->rss_before_kib = (long)bench_proc_field(daemon.pid, "status", "VmRSS:");
    write_before = bench_proc_field(daemon.pid, "io", "write_bytes:");
    fprintf(stderr, "bench-kpi: kpi: %zu observations over %zu teams, %zu metrics, %zu days...\n",
            options->observations, options->teams, options->metrics, options->days);
    r = measured_publish(client, &daemon, &source, options->observations, options, &run->load,
                         &run->cpu);
    if (r < 0)
        goto out;
    run->rss_after_kib = (long)bench_proc_field(daemon.pid, "status", "VmRSS:");
    run->peak_rss_kib = (long)bench_proc_field(daemon.pid, "status", "VmHWM:");
    run->write_bytes = bench_proc_field(daemon.pid, "io", "write_bytes:");
    run->write_bytes =
        run->write_bytes >= write_before && write_before >= 0 ? run->write_bytes - write_before : 0;
    run->series = observer->series.count;
    (void)read_status(client, &run->status_after);

    fprintf(stderr, "bench-kpi: kpi: timing kpi requests, %zu of each...\n", options->queries);
    snprintf(ward, sizeof(ward), "T%04zu", options->teams - 1);
    snprintf(label, sizeof(label), "whole tree, %s", observer->defs[0].name);
    add_query(run, label, "", observer->defs[0].name, 0);
    if (options->metrics > 4) {
        snprintf(label, sizeof(label), "whole tree, %s", observer->defs[4].name);
        add_query(run, label, "", observer->defs[4].name, 0);
    }
    add_query(run, "whole tree, every metric, --periods 1", "", "", 1);
    add_query(run, "a region (T0001), one metric", "T0001", observer->defs[0].name, 0);
    snprintf(label, sizeof(label), "one team (%s), one metric", ward);
    add_query(run, label, ward, observer->defs[0].name, 0);
    snprintf(label, sizeof(label), "one team (%s), every metric, --periods 1", ward);
    add_query(run, label, ward, "", 1);
    for (int i = 0; i < run->query_count; i++)
        time_query(options, client, daemon.endpoint, &run->queries[i], &id);

    run->exit_status = bench_daemon_stop(&daemon);
    run->dir_bytes = bench_directory_bytes(daemon.dir);
    if (run->exit_status != 0)
        r = -ECHILD;
out:
    if (r < 0)
        bench_daemon_print_log_tail(&daemon);
    client_close(client);
    bench_daemon_cleanup(&daemon);
    free(observer->series.keys);
    free(observer);
    run->ok = r == 0;
    for (int i = 0; i < run->query_count; i++)
        run->ok = run->ok && run->queries[i].ctl_ok && run->queries[i].op_ok;
    return r;
}

/* ---- report ---- */

static const char *
verdict(bool met)
{
    return met ? "met" : "MISSED";
}

static double
per_event_us(double seconds, size_t events)
{
    return events ? seconds * 1e6 / (double)events : 0;
}

static void
print_report(const struct options *options, const struct spine_run *spine,
             const struct kpi_run *kpi)
{
    struct statfs fs;
    double spine_us = per_event_us(spine->cpu.settled, spine->events);
    double spine_ack_us = per_event_us(spine->cpu.at_last_ack, spine->events);
    double kpi_us = per_event_us(kpi->cpu.settled, options->observations);
    double kpi_ack_us = per_event_us(kpi->cpu.at_last_ack, options->observations);
    double ratio = spine->ok && kpi->ok && spine_us > 0 ? kpi_us / spine_us : 0;
    double ratio_ack = spine->ok && kpi->ok && spine_ack_us > 0 ? kpi_ack_us / spine_ack_us : 0;
    double rss_growth = (double)(kpi->rss_after_kib - kpi->rss_before_kib) * 1024.0;
    double kpi_bytes = (double)kpi->load.event_bytes / (double)options->observations;
    double spine_bytes = (double)spine->load.event_bytes / (double)spine->events;
    double load_average[3] = {0, 0, 0};

    getloadavg(load_average, 3);
    printf("\ncarehub bench-kpi\n");
    printf("  daemon %s; state directories under %s (%s)\n", options->daemon, options->base_dir,
           statfs(options->base_dir, &fs) == 0 ? bench_filesystem_name((unsigned long)fs.f_type)
                                               : "?");
    printf("  durable storage; window %zu events, batch %zu events; load average at the end "
           "%.2f %.2f %.2f\n",
           options->window, options->batch, load_average[0], load_average[1], load_average[2]);
    printf("  KPI run: %zu teams (1 top, %zu regions, %zu under them) with a manager each,\n"
           "  %zu metrics (mean, count, sum, last, min, max, p90, p99; week, month and quarter\n"
           "  kept, alerts on the month), %zu kpi.observed of %.0f bytes on average, times\n"
           "  spread over the last %zu days; spine run: %zu events of bench-ingest's mix\n"
           "  (%.0f bytes on average), same configuration, a fresh daemon\n\n",
           options->teams, region_count(options->teams),
           options->teams - 1 - region_count(options->teams), options->metrics,
           options->observations, kpi_bytes, options->days, spine->events, spine_bytes);

    printf("  %-44s %14s %14s\n", "", "kpi.observed", "spine mix");
    if (!spine->ok || !kpi->ok)
        printf("  (a run failed: see above; its column may be incomplete)\n");
    printf("  %-44s %14.0f %14.0f\n", "acknowledged events/s", kpi->load.events_per_s,
           spine->load.events_per_s);
    printf("  %-44s %14.2f %14.2f\n", "wall time (s)", kpi->load.seconds, spine->load.seconds);
    printf("  %-44s %14.2f %14.2f\n", "ack latency p50 (ms)", kpi->load.p50_ms, spine->load.p50_ms);
    printf("  %-44s %14.2f %14.2f\n", "ack latency p99 (ms)", kpi->load.p99_ms, spine->load.p99_ms);
    printf("  %-44s %14.2f %14.2f\n", "ack latency max (ms)", kpi->load.max_ms, spine->load.max_ms);
    printf("  %-44s %14.2f %14.2f\n", "daemon CPU us per event, at the last ack", kpi_ack_us,
           spine_ack_us);
    printf("  %-44s %14.2f %14.2f\n", "daemon CPU us per event, settled (+3 s)", kpi_us, spine_us);
    printf("  %-44s %14.2f %14.2f\n", "bench-kpi CPU us per event (its own)",
           per_event_us(kpi->cpu.publisher, options->observations),
           per_event_us(spine->cpu.publisher, spine->events));
    printf("  %-44s %14.1f %14.1f\n", "daemon peak RSS (MiB)", (double)kpi->peak_rss_kib / 1024.0,
           (double)spine->peak_rss_kib / 1024.0);
    printf("  %-44s %8zu/%zu/%-3zu %8zu/%zu/%zu\n", "stored/duplicate/rejected", kpi->load.stored,
           kpi->load.duplicate, kpi->load.rejected, spine->load.stored, spine->load.duplicate,
           spine->load.rejected);
    printf("  %-44s %14d %14d\n", "daemon exit status after SIGTERM", kpi->exit_status,
           spine->exit_status);

    printf("\n  KPI path cost per event / spine ingest cost per event: %.2f settled, %.2f at the "
           "last ack\n",
           ratio, ratio_ack);
    printf("  for orientation: in-memory statsd aggregators (statsite, brubeck): 0.15-0.25 us CPU "
           "per\n  metric line, without durability; carehubd: %.2f us per observation, durable\n",
           kpi_us);

    printf("\n  memory (KPI run)\n");
    printf("  %-52s %10.1f\n", "daemon RSS before the observations (MiB)",
           (double)kpi->rss_before_kib / 1024.0);
    printf("  %-52s %10.1f\n", "daemon RSS after them, settled (MiB)",
           (double)kpi->rss_after_kib / 1024.0);
    printf("  %-52s %10zu\n", "active series (team x metric x period touched)", kpi->series);
    printf("  %-52s %10.0f\n", "RSS growth per active series (bytes)",
           kpi->series ? rss_growth / (double)kpi->series : 0);
    if (kpi->status_after.present) {
        const struct kpi_status *s = &kpi->status_after;

        printf("  daemon's status op, kpi:\n");
        printf("    %-50s %10.0f\n", "observations_since_start", s->observations);
        printf("    %-50s %10.0f\n", "alerts_since_start", s->alerts);
        printf("    %-50s %10.0f\n", "series_in_memory", s->series);
        printf("    %-50s %10.1f\n", "memory_bytes (MiB)", s->memory_bytes / 1048576.0);
        printf("    %-50s %10.0f\n", "memory_bytes per series_in_memory",
               s->series > 0 ? s->memory_bytes / s->series : 0);
    } else {
        printf("  (the daemon's status op reports no kpi counts)\n");
    }
    printf("  %-52s %10.0f\n", "written to disk per observation (bytes)",
           (double)kpi->write_bytes / (double)options->observations);
    printf("  %-52s %10.0f\n", "state dir per observation (bytes)",
           (double)kpi->dir_bytes / (double)options->observations);

    printf("\n  kpi requests after the load, %zu of each (ms; bytes of the reply)\n",
           options->queries);
    printf("  %-44s %5s | %-26s %9s | %-26s %9s\n", "", "rows", "carehubctl --json p50/p99/max",
           "bytes", "kpi op alone p50/p99/max", "bytes");
    for (int i = 0; i < kpi->query_count; i++) {
        const struct query *q = &kpi->queries[i];
        char ctl[40] = "-", op[40] = "-";

        if (q->ctl_ok)
            snprintf(ctl, sizeof(ctl), "%.1f / %.1f / %.1f", q->ctl_p50_ms, q->ctl_p99_ms,
                     q->ctl_max_ms);
        if (q->op_ok)
            snprintf(op, sizeof(op), "%.1f / %.1f / %.1f", q->op_p50_ms, q->op_p99_ms,
                     q->op_max_ms);
        printf("  %-44s %5d | %-26s %9zu | %-26s %9zu\n", q->label, q->rows, ctl, q->ctl_bytes, op,
               q->op_bytes);
    }

    printf("\n  target (issue 4, item 9):\n");
    printf("    KPI cost per event <= %.2f x the spine's:  %.2f  %s\n", TARGET_KPI_RATIO, ratio,
           verdict(ratio > 0 && ratio <= TARGET_KPI_RATIO));
    if (options->observations < KPI_DEFAULT_OBSERVATIONS)
        printf("    (the target is for %d observations; this run had %zu)\n",
               KPI_DEFAULT_OBSERVATIONS, options->observations);
}

/* ---- command line ---- */

static void
usage(FILE *out)
{
    fprintf(out,
            "usage: bench-kpi [--build-dir DIR] [--observations N] [--teams N] [--metrics N]\n"
            "                 [--days N] [--spine-events N] [--window N] [--batch N]\n"
            "                 [--queries N] [--dir DIR] [--quick]\n"
            "\n"
            "Starts carehubd (durable) on a fresh state directory, publishes bench-ingest's\n"
            "event mix, then, on another, a tree of teams and kpi.observed events through\n"
            "the real protocol.  Prints observations/s, the daemon's CPU per observation\n"
            "beside its CPU per spine event, RSS per active series, and the latency of\n"
            "carehubctl kpi --json for the whole tree, a region and one team.\n"
            "\n"
            "  --build-dir DIR    where carehubd and carehubctl are (default: beside this\n"
            "                     program)\n"
            "  --observations N   kpi.observed events (default %d)\n"
            "  --teams N          teams, 2 to %d: 1 top, up to %d regions, the rest under\n"
            "                     them (default %d)\n"
            "  --metrics N        metrics, 1 to %d (default %d)\n"
            "  --days N           how many days back the observations go, 1 to 700\n"
            "                     (default %d)\n"
            "  --spine-events N   events of the spine run (default: as many as observations)\n"
            "  --window N         most unacknowledged events (default %d)\n"
            "  --batch N          events per publish request (default %d)\n"
            "  --queries N        times each kpi request is timed (default %d)\n"
            "  --dir DIR          where the state directories go (default $TMPDIR or /tmp)\n"
            "  --quick            a smoke run: %d observations\n"
            "  -h, --help         print this help\n"
            "\n"
            "Exit status: 0 every event was stored, every request answered and both\n"
            "daemons exited 0; 1 otherwise; 2 usage error.\n",
            KPI_DEFAULT_OBSERVATIONS, KPI_MAX_TEAMS, KPI_REGIONS, KPI_DEFAULT_TEAMS,
            KPI_MAX_METRICS, KPI_DEFAULT_METRICS, KPI_DEFAULT_DAYS, KPI_DEFAULT_WINDOW,
            KPI_DEFAULT_BATCH, KPI_DEFAULT_QUERIES, KPI_QUICK_OBSERVATIONS);
}

static int
parse_options(int argc, char **argv, struct options *options, const char **build_dir)
{
    static const struct option long_options[] = {
        {"build-dir", required_argument, NULL, 'B'},
        {"observations", required_argument, NULL, 'n'},
        {"teams", required_argument, NULL, 't'},
        {"metrics", required_argument, NULL, 'm'},
        {"days", required_argument, NULL, 'y'},
        {"spine-events", required_argument, NULL, 's'},
        {"window", required_argument, NULL, 'w'},
        {"batch", required_argument, NULL, 'b'},
        {"queries", required_argument, NULL, 'Q'},
        {"dir", required_argument, NULL, 'D'},
        {"quick", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bool observations_set = false;
    bool quick = false;
    int c;

    options->observations = KPI_DEFAULT_OBSERVATIONS;
    options->teams = KPI_DEFAULT_TEAMS;
    options->metrics = KPI_DEFAULT_METRICS;
    options->days = KPI_DEFAULT_DAYS;
    options->window = KPI_DEFAULT_WINDOW;
    options->batch = KPI_DEFAULT_BATCH;
    options->queries = KPI_DEFAULT_QUERIES;
    options->base_dir = getenv("TMPDIR") != NULL && getenv("TMPDIR")[0] ? getenv("TMPDIR") : "/tmp";
    while ((c = getopt_long(argc, argv, "h", long_options, NULL)) != -1) {
        size_t *target = NULL;

        switch (c) {
        case 'B':
            *build_dir = optarg;
            continue;
        case 'D':
            options->base_dir = optarg;
            continue;
        case 'q':
            quick = true;
            continue;
        case 'h':
            usage(stdout);
            exit(0);
        case 'n':
            target = &options->observations;
            observations_set = true;
            break;
        case 't':
            target = &options->teams;
            break;
        case 'm':
            target = &options->metrics;
            break;
        case 'y':
            target = &options->days;
            break;
        case 's':
            target = &options->spine_events;
            break;
        case 'w':
            target = &options->window;
            break;
        case 'b':
            target = &options->batch;
            break;
        case 'Q':
            target = &options->queries;
            break;
        default:
            usage(stderr);
            return -EINVAL;
        }
        if (bench_parse_size(optarg, target) < 0) {
            fprintf(stderr, "bench-kpi: %s wants a positive count\n", argv[optind - 1]);
            return -EINVAL;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return -EINVAL;
    }
    if (options->teams < 2 || options->teams > KPI_MAX_TEAMS ||
        options->metrics > KPI_MAX_METRICS || options->days > 700) {
        fprintf(stderr, "bench-kpi: --teams is 2 to %d, --metrics 1 to %d, --days 1 to 700\n",
                KPI_MAX_TEAMS, KPI_MAX_METRICS);
        return -EINVAL;
    }
    if (quick && !observations_set)
        options->observations = KPI_QUICK_OBSERVATIONS;
    if (options->spine_events == 0)
        options->spine_events = options->observations;
    if (options->batch > options->window)
        options->batch = options->window;
    return 0;
}

/* dir/name, or name beside this program when dir is NULL; the caller's to free. */
static char *
program_path(const char *dir, const char *name)
{
    char *path;

    if (dir == NULL)
        return bench_beside_self(name);
    if (asprintf(&path, "%s/%s", dir, name) < 0)
        return NULL;
    return path;
}

int
main(int argc, char **argv)
{
    struct options options = {0};
    struct spine_run spine = {0};
    struct kpi_run *kpi = calloc(1, sizeof(*kpi));
    const char *build_dir = NULL;
    char *daemon_path = NULL;
    char *ctl_path = NULL;
    int status = 2;

    if (kpi == NULL || parse_options(argc, argv, &options, &build_dir) < 0)
        goto out;
    daemon_path = program_path(build_dir, "carehubd");
    ctl_path = program_path(build_dir, "carehubctl");
    if (daemon_path == NULL || ctl_path == NULL)
        goto out;
    options.daemon = daemon_path;
    options.ctl = ctl_path;
    if (access(options.daemon, X_OK) != 0 || access(options.ctl, X_OK) != 0) {
        fprintf(stderr, "bench-kpi: %s or %s: %s (use --build-dir)\n", options.daemon, options.ctl,
                strerror(errno));
        goto out;
    }
    /* A daemon that dies must not take the bench with it through SIGPIPE. */
    signal(SIGPIPE, SIG_IGN);
    run_spine(&options, &spine);
    run_kpi(&options, kpi);
    print_report(&options, &spine, kpi);
    status = spine.ok && kpi->ok ? 0 : 1;
out:
    free(daemon_path);
    free(ctl_path);
    free(kpi);
    return status;
}

/*
 * bench-ingest: how fast the real carehubd acknowledges events.
 *
 * Each run starts carehubd on a fresh temporary state directory, waits until
 * it answers "status", publishes generated events through the real protocol
 * with a bounded window, reads the daemon's CPU time, peak memory and disk
 * writes from /proc, stops it with SIGTERM (it must exit 0) and removes the
 * directory.  Three runs: durable at full speed, not durable at full speed,
 * and durable at a fixed offered rate for latency.  A figure program, not a
 * test: it asserts nothing about speed, it prints the figures and the
 * project's targets next to them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <sys/types.h>
#include <unistd.h>

#include "bench_common.h"
#include "client.h"

#define BENCH_DEFAULT_EVENTS 1000000
#define BENCH_DEFAULT_WINDOW 4000
#define BENCH_DEFAULT_BATCH 200
#define BENCH_DEFAULT_RATE 10000
#define BENCH_DEFAULT_RATE_EVENTS 200000
#define BENCH_QUICK_EVENTS 100000
#define BENCH_QUICK_RATE_EVENTS 20000

/* The project's targets, printed next to the figures. */
#define TARGET_EVENTS_PER_S 100000.0
#define TARGET_DURABLE_RATIO 0.6
#define TARGET_P99_MS 20.0

struct options {
    const char *daemon;
    const char *base_dir;
    size_t events;
    size_t window;
    size_t batch;
    double rate;
    size_t rate_events;
    size_t commit_events;    /* commit.max_events for the daemon; 0: its default */
    size_t checkpoint_pages; /* storage.checkpoint_pages; 0: its default */
};

struct run_result {
    const char *label;
    bool durable;
    bool ok;
    double offered_rate; /* 0: as fast as the window allows */
    size_t events;
    struct bench_publish_result publish;
    double cpu_seconds;
    double publisher_cpu_seconds; /* this program's own, to show it is not the limit */
    long peak_rss_kib;
    uint64_t write_bytes;
    uint64_t dir_bytes;
    int exit_status;
};

static void
usage(FILE *out)
{
    fprintf(out,
            "usage: bench-ingest [--daemon PATH] [--events N] [--window N] [--batch N]\n"
            "                    [--rate N] [--rate-events N] [--commit-events N]\n"
            "                    [--checkpoint-pages N]\n"
            "                    [--dir DIR] [--quick]\n"
            "\n"
            "Starts carehubd on a fresh state directory and publishes generated events\n"
            "(about 300 bytes each, random UUID ids) through the real protocol: once\n"
            "durable, once not durable, then durable at a fixed offered rate.  Prints\n"
            "acknowledged events/s, acknowledgement latency, daemon CPU time, peak RSS\n"
            "and bytes written per event.\n"
            "\n"
            "  --daemon PATH     carehubd to run (default: carehubd next to this program)\n"
            "  --events N        events per full-speed run (default %d)\n"
            "  --window N        most unacknowledged events (default %d)\n"
            "  --batch N         events per publish request (default %d)\n"
            "  --rate N          offered events/s of the latency run (default %d)\n"
            "  --rate-events N   events of the latency run (default %d)\n"
            "  --commit-events N the daemon's commit.max_events (default: its own)\n"
            "  --checkpoint-pages N  the daemon's storage.checkpoint_pages (default 1000)\n"
            "  --dir DIR         where the state directories go (default $TMPDIR or /tmp)\n"
            "  --quick           a smoke run: %d events, %d at the fixed rate\n"
            "  -h, --help        print this help\n"
            "\n"
            "Exit status: 0 every run stored every event and the daemon exited 0,\n"
            "1 otherwise, 2 usage error.\n",
            BENCH_DEFAULT_EVENTS, BENCH_DEFAULT_WINDOW, BENCH_DEFAULT_BATCH, BENCH_DEFAULT_RATE,
            BENCH_DEFAULT_RATE_EVENTS, BENCH_QUICK_EVENTS, BENCH_QUICK_RATE_EVENTS);
}

/* ---- the daemon ---- */

static int
write_config(const struct bench_daemon *daemon, bool durable, size_t batch, size_t commit_events,
             size_t checkpoint_pages)
{
    FILE *f = fopen(daemon->conf, "we");

    if (f == NULL)
        return -errno;
    fprintf(f,
            "# bench-ingest\n"
            "state_dir = \"%s\";\n"
            "api = { endpoint = \"%s\"; };\n"
            "notify = { endpoint = \"%s\"; };\n"
            "storage = { durable = %s; checkpoint_pages = %zu; };\n",
            daemon->dir, daemon->endpoint, daemon->notify_endpoint, durable ? "true" : "false",
            checkpoint_pages ? checkpoint_pages : 1000);
    if (batch > 10000)
        fprintf(f, "limits = { max_batch_events = %zu; };\n", batch);
    if (commit_events > 0)
        fprintf(f, "commit = { max_events = %zu; };\n", commit_events);
    return fclose(f) == 0 ? 0 : -errno;
}

/* Creates the directory and configuration and starts carehubd.  Returns 0 or -errno. */
static int
daemon_start(struct bench_daemon *daemon, const struct options *options, bool durable)
{
    int r = bench_daemon_prepare(daemon, "bench-ingest", options->base_dir);

    if (r < 0)
        return r;
    r = write_config(daemon, durable, options->batch, options->commit_events,
                     options->checkpoint_pages);
    if (r < 0) {
        fprintf(stderr, "bench-ingest: %s: %s\n", daemon->conf, strerror(-r));
        return r;
    }
    return bench_daemon_spawn(daemon, options->daemon);
}

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

/* ---- one run ---- */

static int
run_once(const struct options *options, struct run_result *result, size_t events, double rate)
{
    struct bench_daemon daemon;
    struct client *client = NULL;
    struct bench_spine spine;
    struct bench_source source = {spine_stamp, spine_next, &spine};
    struct bench_publish_result *published = &result->publish;
    char err[256];
    double cpu_before;
    double publisher_before;
    long long write_before;
    long long write_after;
    int r;

    result->events = events;
    result->offered_rate = rate;
    result->exit_status = -1;
    fprintf(stderr, "bench-ingest: %s: %zu events%s...\n", result->label, events,
            rate > 0 ? " at a fixed rate" : "");
    r = daemon_start(&daemon, options, result->durable);
    if (r < 0)
        goto out;
    r = client_open(&client, daemon.endpoint, 0, err, sizeof(err));
    if (r < 0) {
        fprintf(stderr, "bench-ingest: %s\n", err);
        goto out;
    }
    r = bench_daemon_wait_ready(&daemon, client);
    if (r < 0)
        goto out;

    bench_spine_init(&spine);
    cpu_before = bench_process_cpu_seconds(daemon.pid);
    publisher_before = bench_own_cpu_seconds();
    write_before = bench_proc_field(daemon.pid, "io", "write_bytes:");

    r = bench_publish(client, &daemon, &source, events, options->window, options->batch, rate,
                      published);
    if (r < 0) {
        fprintf(stderr, "bench-ingest: publishing failed: %s\n", strerror(-r));
        goto out;
    }

    result->cpu_seconds = bench_process_cpu_seconds(daemon.pid) - cpu_before;
    result->publisher_cpu_seconds = bench_own_cpu_seconds() - publisher_before;
    write_after = bench_proc_field(daemon.pid, "io", "write_bytes:");
    result->write_bytes = write_after >= write_before && write_before >= 0
                              ? (uint64_t)(write_after - write_before)
                              : 0;
    result->peak_rss_kib = (long)bench_proc_field(daemon.pid, "status", "VmHWM:");
    result->exit_status = bench_daemon_stop(&daemon);
    result->dir_bytes = bench_directory_bytes(daemon.dir);
    if (result->exit_status != 0)
        r = -ECHILD;
out:
    if (r < 0)
        bench_daemon_print_log_tail(&daemon);
    client_close(client);
    bench_daemon_cleanup(&daemon);
    result->ok = r == 0 && published->stored == events && published->rejected == 0;
    if (r == 0 && !result->ok)
        fprintf(stderr, "bench-ingest: %s: %zu stored, %zu duplicate, %zu rejected (first: %s)\n",
                result->label, published->stored, published->duplicate, published->rejected,
                published->first_rejection[0] ? published->first_rejection : "-");
    return r;
}

/* ---- report ---- */

static const char *
verdict(bool met)
{
    return met ? "met" : "MISSED";
}

static void
print_row_double(const char *name, const struct run_result *a, const struct run_result *b,
                 double (*get)(const struct run_result *), const char *format)
{
    char x[32], y[32];

    snprintf(x, sizeof(x), format, get(a));
    snprintf(y, sizeof(y), format, get(b));
    printf("  %-34s %14s %14s\n", name, a->ok ? x : "-", b->ok ? y : "-");
}

static double
get_rate(const struct run_result *r)
{
    return r->publish.events_per_s;
}

static double
get_p50(const struct run_result *r)
{
    return r->publish.p50_ms;
}

static double
get_p99(const struct run_result *r)
{
    return r->publish.p99_ms;
}

static double
get_max(const struct run_result *r)
{
    return r->publish.max_ms;
}

static double
get_cpu(const struct run_result *r)
{
    return r->cpu_seconds * 1000.0 / (double)r->events;
}

static double
get_publisher_cpu(const struct run_result *r)
{
    return r->publisher_cpu_seconds * 1000.0 / (double)r->events;
}

static double
get_rss(const struct run_result *r)
{
    return (double)r->peak_rss_kib / 1024.0;
}

static double
get_writes(const struct run_result *r)
{
    return (double)r->write_bytes / (double)r->events;
}

static double
get_dir(const struct run_result *r)
{
    return (double)r->dir_bytes / (double)r->events;
}

static double
get_seconds(const struct run_result *r)
{
    return r->publish.seconds;
}

static void
print_report(const struct options *options, const struct run_result *durable,
             const struct run_result *fast, const struct run_result *paced)
{
    struct statfs fs;
    double ratio =
        fast->ok && durable->ok ? durable->publish.events_per_s / fast->publish.events_per_s : 0;
    double average =
        durable->events ? (double)durable->publish.event_bytes / (double)durable->events : 0;

    printf("\ncarehub bench-ingest\n");
    printf("  daemon %s; state directories under %s (%s)\n", options->daemon, options->base_dir,
           statfs(options->base_dir, &fs) == 0 ? bench_filesystem_name((unsigned long)fs.f_type)
                                               : "?");
    printf("  %zu events of %.0f bytes on average (random UUID ids: %d team.changed,\n"
           "  %d staff.hired, then staff.changed); window %zu events, batch %zu events\n\n",
           options->events, average, BENCH_SPINE_TEAMS, BENCH_SPINE_STAFF, options->window,
           options->batch);
    printf("  %-34s %14s %14s\n", "", "durable", "not durable");
    print_row_double("acknowledged events/s", durable, fast, get_rate, "%.0f");
    print_row_double("wall time (s)", durable, fast, get_seconds, "%.2f");
    print_row_double("ack latency p50 (ms)", durable, fast, get_p50, "%.2f");
    print_row_double("ack latency p99 (ms)", durable, fast, get_p99, "%.2f");
    print_row_double("ack latency max (ms)", durable, fast, get_max, "%.2f");
    print_row_double("daemon CPU s per 1,000 events", durable, fast, get_cpu, "%.4f");
    print_row_double("bench-ingest CPU s per 1,000 events", durable, fast, get_publisher_cpu,
                     "%.4f");
    print_row_double("daemon peak RSS (MiB)", durable, fast, get_rss, "%.1f");
    print_row_double("written to disk per event (bytes)", durable, fast, get_writes, "%.0f");
    print_row_double("state dir per event (bytes)", durable, fast, get_dir, "%.0f");
    printf("  %-34s %5zu/%zu/%-6zu %5zu/%zu/%zu\n", "stored/duplicate/rejected",
           durable->publish.stored, durable->publish.duplicate, durable->publish.rejected,
           fast->publish.stored, fast->publish.duplicate, fast->publish.rejected);
    printf("  %-34s %14d %14d\n", "daemon exit status after SIGTERM", durable->exit_status,
           fast->exit_status);
    printf("\n  durable / not durable events/s: %.2f\n", ratio);

    printf("\n  offered load %.0f events/s, %zu events, durable, batch up to %zu\n",
           paced->offered_rate, paced->events, options->batch);
    if (paced->ok) {
        printf("  %-34s %14.0f\n", "achieved events/s", paced->publish.events_per_s);
        printf("  %-34s %14.2f\n", "ack latency p50 (ms)", paced->publish.p50_ms);
        printf("  %-34s %14.2f\n", "ack latency p99 (ms)", paced->publish.p99_ms);
        printf("  %-34s %14.2f\n", "ack latency max (ms)", paced->publish.max_ms);
        printf("  %-34s %14.1f\n", "events per request (average)",
               paced->publish.requests ? (double)paced->events / (double)paced->publish.requests
                                       : 0);
        printf("  %-34s %14.4f\n", "daemon CPU s per 1,000 events", get_cpu(paced));
    } else {
        printf("  (run failed)\n");
    }

    printf("\n  targets (issue 2, this 2-core machine):\n");
    printf("    durable >= %.0f events/s:            %.0f  %s\n", TARGET_EVENTS_PER_S,
           durable->publish.events_per_s,
           verdict(durable->ok && durable->publish.events_per_s >= TARGET_EVENTS_PER_S));
    printf("    durable / not durable >= %.1f:          %.2f  %s\n", TARGET_DURABLE_RATIO, ratio,
           verdict(ratio >= TARGET_DURABLE_RATIO));
    printf("    p99 <= %.0f ms at %.0f events/s offered: %.2f  %s\n", TARGET_P99_MS,
           paced->offered_rate, paced->publish.p99_ms,
           verdict(paced->ok && paced->publish.p99_ms <= TARGET_P99_MS));
    if (options->events < BENCH_DEFAULT_EVENTS)
        printf("    (the targets are for %d events; this run had %zu)\n", BENCH_DEFAULT_EVENTS,
               options->events);
}

/* ---- command line ---- */

static int
parse_options(int argc, char **argv, struct options *options)
{
    static const struct option long_options[] = {
        {"daemon", required_argument, NULL, 'd'},
        {"events", required_argument, NULL, 'n'},
        {"window", required_argument, NULL, 'w'},
        {"batch", required_argument, NULL, 'b'},
        {"rate", required_argument, NULL, 'r'},
        {"rate-events", required_argument, NULL, 'R'},
        {"dir", required_argument, NULL, 'D'},
        {"quick", no_argument, NULL, 'q'},
        {"commit-events", required_argument, NULL, 'c'},
        {"checkpoint-pages", required_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    size_t rate = BENCH_DEFAULT_RATE;
    bool events_set = false;
    bool rate_events_set = false;
    bool quick = false;
    int c;

    options->events = BENCH_DEFAULT_EVENTS;
    options->window = BENCH_DEFAULT_WINDOW;
    options->batch = BENCH_DEFAULT_BATCH;
    options->rate_events = BENCH_DEFAULT_RATE_EVENTS;
    options->base_dir = getenv("TMPDIR") != NULL && getenv("TMPDIR")[0] ? getenv("TMPDIR") : "/tmp";
    while ((c = getopt_long(argc, argv, "h", long_options, NULL)) != -1) {
        size_t *target = NULL;

        switch (c) {
        case 'd':
            options->daemon = optarg;
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
            target = &options->events;
            events_set = true;
            break;
        case 'w':
            target = &options->window;
            break;
        case 'b':
            target = &options->batch;
            break;
        case 'r':
            target = &rate;
            break;
        case 'R':
            target = &options->rate_events;
            rate_events_set = true;
            break;
        case 'c':
            target = &options->commit_events;
            break;
        case 'k':
            target = &options->checkpoint_pages;
            break;
        default:
            usage(stderr);
            return -EINVAL;
        }
        if (bench_parse_size(optarg, target) < 0) {
            fprintf(stderr, "bench-ingest: %s wants a positive count\n", argv[optind - 1]);
            return -EINVAL;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return -EINVAL;
    }
    if (quick && !events_set)
        options->events = BENCH_QUICK_EVENTS;
    if (quick && !rate_events_set)
        options->rate_events = BENCH_QUICK_RATE_EVENTS;
    if (options->batch > options->window)
        options->batch = options->window;
    options->rate = (double)rate;
    return 0;
}

int
main(int argc, char **argv)
{
    struct options options = {0};
    struct run_result durable = {.label = "durable", .durable = true};
    struct run_result fast = {.label = "not durable", .durable = false};
    struct run_result paced = {.label = "durable at a fixed rate", .durable = true};
    char *daemon_path = NULL;

    if (parse_options(argc, argv, &options) < 0)
        return 2;
    if (options.daemon == NULL) {
        daemon_path = bench_beside_self("carehubd");
        options.daemon = daemon_path != NULL ? daemon_path : "./carehubd";
    }
    if (access(options.daemon, X_OK) != 0) {
        fprintf(stderr, "bench-ingest: %s: %s (use --daemon)\n", options.daemon, strerror(errno));
        free(daemon_path);
        return 2;
    }
    /* A daemon that dies must not take the bench with it through SIGPIPE. */
    signal(SIGPIPE, SIG_IGN);
    run_once(&options, &durable, options.events, 0);
    run_once(&options, &fast, options.events, 0);
    run_once(&options, &paced, options.rate_events, options.rate);
    print_report(&options, &durable, &fast, &paced);
    free(daemon_path);
    return durable.ok && fast.ok && paced.ok ? 0 : 1;
}

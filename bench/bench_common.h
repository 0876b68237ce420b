/*
 * bench_common: what the figure programs in bench/ share (bench-ingest,
 * bench-kpi).
 *
 * A bench starts the real carehubd on a fresh temporary state directory
 * (bench_daemon_*), publishes generated events through the real protocol
 * with a bounded window (bench_publish), and reads the daemon's CPU time and
 * memory from /proc (bench_process_*, bench_proc_field).  The spine's event
 * mix (teams, hires, then staff changes; bench_spine_*) lives here so that
 * bench-kpi can set its own cost beside bench-ingest's in the same run.
 *
 * Nothing here decides anything about speed: these are measuring tools.
 * Messages for a person go to stderr, prefixed with the program name the
 * caller gives; everything else returns 0 or a negative errno code.
 */
#ifndef CAREHUB_BENCH_COMMON_H
#define CAREHUB_BENCH_COMMON_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "client.h"

#define BENCH_EVENT_MAX 512 /* the longest generated event */
#define BENCH_START_TIMEOUT_MS 30000
#define BENCH_STOP_TIMEOUT_MS 120000
#define BENCH_STALL_TIMEOUT_MS 60000

/* Microseconds on the monotonic clock. */
int64_t bench_now_us(void);

/* ---- random numbers ---- */

/* xoshiro256**: fast random numbers for ids and choices, seeded from the kernel. */
struct bench_rng {
    uint64_t s[4];
};

void bench_rng_seed(struct bench_rng *rng);
uint64_t bench_rng_next(struct bench_rng *rng);
/* A number from 0 to bound - 1 (bound > 0). */
size_t bench_rng_below(struct bench_rng *rng, size_t bound);
/* A number from 0 up to, not including, 1. */
double bench_rng_unit(struct bench_rng *rng);
/* A random (version 4) UUID, as HR systems use for event ids. */
void bench_format_uuid(struct bench_rng *rng, char out[37]);

/* ---- the spine's event mix (bench-ingest) ---- */

#define BENCH_SPINE_TEAMS 100
#define BENCH_SPINE_STAFF 10000

struct bench_spine {
    struct bench_rng rng;
    size_t index;
    char time_text[32];
};

void bench_spine_init(struct bench_spine *spine);
/* Sets the "time" attribute of the next events to the current time. */
void bench_spine_stamp(struct bench_spine *spine);
/*
 * Writes the next event into buf: first a team.changed for every team, then
 * a staff.hired for every staff member, then staff.changed events (a new
 * role, email or team) for staff picked at random.  Returns its length, 0
 * when it does not fit.
 */
size_t bench_spine_next(struct bench_spine *spine, char *buf, size_t size);

/* ---- /proc ---- */

/* utime + stime of pid in seconds, or -1. */
double bench_process_cpu_seconds(pid_t pid);
/* This process's user and system time in seconds, every thread included. */
double bench_own_cpu_seconds(void);
/* The number after key in /proc/PID/FILE, a file of "key value" lines, or -1. */
long long bench_proc_field(pid_t pid, const char *file, const char *key);
/* The total size of the regular files under dir. */
uint64_t bench_directory_bytes(const char *dir);
/* The kind of filesystem of an f_type from statfs(), which decides what "durable" costs. */
const char *bench_filesystem_name(unsigned long magic);

/* ---- the daemon ---- */

/* A daemon started on its own temporary directory. */
struct bench_daemon {
    const char *program; /* for messages; borrowed */
    char dir[128];       /* short: the sockets' paths must fit in sun_path */
    char conf[PATH_MAX];
    char log[PATH_MAX];
    char endpoint[PATH_MAX + 16];
    char notify_endpoint[PATH_MAX + 16];
    pid_t pid;
};

/*
 * Creates a fresh directory under base_dir and fills in daemon's paths (the
 * configuration file is not written: the caller writes daemon->conf, naming
 * daemon->dir as state_dir and daemon->endpoint and daemon->notify_endpoint).
 * program is borrowed.  Returns 0 or a negative errno code, with a message.
 */
int bench_daemon_prepare(struct bench_daemon *daemon, const char *program, const char *base_dir);
/* Starts path -c daemon->conf, its output into daemon->log.  Returns 0 or -errno. */
int bench_daemon_spawn(struct bench_daemon *daemon, const char *path);
/* True while the daemon runs; once it has ended, *status is its wait status. */
bool bench_daemon_running(struct bench_daemon *daemon, int *status);
/* Asks "status" until the daemon answers.  Returns 0 or a negative errno. */
int bench_daemon_wait_ready(struct bench_daemon *daemon, struct client *client);
/* Sends SIGTERM and waits.  Returns the exit status, or -1 when it did not exit by itself. */
int bench_daemon_stop(struct bench_daemon *daemon);
/* Kills a daemon still running and removes its directory.  Accepts a half-started one. */
void bench_daemon_cleanup(struct bench_daemon *daemon);
/* Copies the last lines of the daemon's log to stderr. */
void bench_daemon_print_log_tail(const struct bench_daemon *daemon);

/* ---- publishing ---- */

/* Where the events come from. */
struct bench_source {
    void (*stamp)(void *context); /* before each request; may be NULL */
    /* Writes the next event into buf and returns its length, 0 when it does not fit. */
    size_t (*next)(void *context, char *buf, size_t size);
    void *context;
};

/* What one bench_publish() saw. */
struct bench_publish_result {
    size_t requests;
    size_t stored;
    size_t duplicate;
    size_t rejected;
    char first_rejection[160];
    size_t event_bytes;
    double seconds;
    double events_per_s;
    double p50_ms;
    double p99_ms;
    double max_ms;
};

/*
 * Publishes events events from source through client, keeping at most window
 * unacknowledged, in requests of up to batch events; with rate > 0, no faster
 * than rate events/s, each request carrying the events that have come due.
 * Adds what it saw to *result.  Gives up when nothing is answered for
 * BENCH_STALL_TIMEOUT_MS or the daemon ends.  Returns 0 or a negative errno.
 */
int bench_publish(struct client *client, struct bench_daemon *daemon,
                  const struct bench_source *source, size_t events, size_t window, size_t batch,
                  double rate, struct bench_publish_result *result);

/* ---- figures and options ---- */

/* qsort() order of doubles. */
int bench_compare_double(const void *a, const void *b);
/* Nearest-rank percentile of count sorted values (0 when there are none). */
double bench_percentile(const double *sorted, size_t count, double fraction);
/* A count from 1 to 1,000,000,000 written in decimal.  Returns 0 or -EINVAL. */
int bench_parse_size(const char *text, size_t *out);
/* name in the directory of this program, a new string (the caller's), or NULL. */
char *bench_beside_self(const char *name);

#endif

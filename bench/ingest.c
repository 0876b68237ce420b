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
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <zmq.h>

#include "client.h"
#include "timefmt.h"
#include "wire.h"

#define BENCH_DEFAULT_EVENTS 1000000
#define BENCH_DEFAULT_WINDOW 4000
#define BENCH_DEFAULT_BATCH 200
#define BENCH_DEFAULT_RATE 10000
#define BENCH_DEFAULT_RATE_EVENTS 200000
#define BENCH_QUICK_EVENTS 100000
#define BENCH_QUICK_RATE_EVENTS 20000

/* The population the events describe. */
#define BENCH_TEAMS 100
#define BENCH_STAFF 10000
/* Staff S00000 to S00099 manage the teams; only the others change team, so
 * that no change can make a management cycle. */
#define BENCH_MANAGERS BENCH_TEAMS

#define BENCH_EVENT_MAX 512
#define BENCH_START_TIMEOUT_MS 30000
#define BENCH_STOP_TIMEOUT_MS 120000
#define BENCH_STALL_TIMEOUT_MS 60000

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

/* xoshiro256**: fast random numbers for ids and choices, seeded from the kernel. */
struct rng {
    uint64_t s[4];
};

struct generator {
    struct rng rng;
    size_t index;
    char time_text[32];
};

/* A request waiting for its reply. */
struct in_flight {
    uint64_t id;
    size_t count;
    int64_t sent_us;
};

struct run_result {
    const char *label;
    bool durable;
    bool ok;
    double offered_rate; /* 0: as fast as the window allows */
    size_t events;
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
    double cpu_seconds;
    double publisher_cpu_seconds; /* this program's own, to show it is not the limit */
    long peak_rss_kib;
    uint64_t write_bytes;
    uint64_t dir_bytes;
    int exit_status;
};

/* A daemon started on its own temporary directory. */
struct daemon {
    char dir[128]; /* short: the sockets' paths must fit in sun_path */
    char conf[PATH_MAX];
    char log[PATH_MAX];
    char endpoint[PATH_MAX + 16];
    pid_t pid;
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

static int64_t
now_us(void)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000;
}

/* ---- event generation ---- */

static uint64_t
rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t
rng_next(struct rng *rng)
{
    uint64_t *s = rng->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;

    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

static void
rng_seed(struct rng *rng)
{
    uint64_t seed;

    if (getrandom(&seed, sizeof(seed), 0) != (ssize_t)sizeof(seed))
        seed = (uint64_t)now_us() ^ (uint64_t)getpid();
    /* splitmix64 spreads one seed over the state. */
    for (int i = 0; i < 4; i++) {
        uint64_t z = (seed += 0x9E3779B97F4A7C15ull);

        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        rng->s[i] = z ^ (z >> 31);
    }
}

static size_t
rng_below(struct rng *rng, size_t bound)
{
    return (size_t)(rng_next(rng) % bound);
}

/* A random (version 4) UUID, as HR systems use for event ids. */
static void
format_uuid(struct rng *rng, char out[37])
{
    static const char hex[] = "0123456789abcdef";
    uint8_t bytes[16];
    uint64_t a = rng_next(rng);
    uint64_t b = rng_next(rng);
    size_t k = 0;

    memcpy(bytes, &a, 8);
    memcpy(bytes + 8, &b, 8);
    bytes[6] = (uint8_t)((bytes[6] & 0x0F) | 0x40);
    bytes[8] = (uint8_t)((bytes[8] & 0x3F) | 0x80);
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[k++] = '-';
        out[k++] = hex[bytes[i] >> 4];
        out[k++] = hex[bytes[i] & 0x0F];
    }
    out[k] = '\0';
}

static void
generator_init(struct generator *generator)
{
    memset(generator, 0, sizeof(*generator));
    rng_seed(&generator->rng);
}

/* Sets the "time" attribute of the next events to the current time. */
static void
generator_stamp(struct generator *generator)
{
    struct timespec now;

    clock_gettime(CLOCK_REALTIME, &now);
    timefmt_format_rfc3339((int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000, generator->time_text,
                           sizeof(generator->time_text));
}

static const char *const roles[] = {"care assistant", "senior care assistant",  "nurse",
                                    "deputy manager", "activities coordinator", "cook"};

static size_t
team_of_staff(size_t staff)
{
    return staff < BENCH_MANAGERS ? 0 : 1 + staff % (BENCH_TEAMS - 1);
}

/*
 * Writes the next event into buf: first a team.changed for every team, then
 * a staff.hired for every staff member, then staff.changed events (a new
 * role, email or team) for staff picked at random.  Returns its length.
 */
static size_t
generator_next(struct generator *generator, char *buf, size_t size)
{
    struct rng *rng = &generator->rng;
    size_t i = generator->index++;
    char id[37];
    char subject[32];
    char data[256];
    const char *type;
    int n;

    format_uuid(rng, id);
    if (i < BENCH_TEAMS) {
        type = "team.changed";
        snprintf(subject, sizeof(subject), "team/T%03zu", i);
        if (i == 0)
            snprintf(
                data, sizeof(data),
                "{\"team_id\":\"T000\",\"name\":\"Bench care home\",\"manager_id\":\"S00000\"}");
        else
            snprintf(data, sizeof(data),
                     "{\"team_id\":\"T%03zu\",\"name\":\"Bench unit %zu\",\"parent_id\":\"T000\","
                     "\"manager_id\":\"S%05zu\"}",
                     i, i, i);
    } else if (i < BENCH_TEAMS + BENCH_STAFF) {
        size_t staff = i - BENCH_TEAMS;
        struct civil_date start;

        timefmt_civil_from_days(timefmt_days_from_civil(2019, 1, 1) + (int64_t)(staff % 2000),
                                &start);
        type = "staff.hired";
        snprintf(subject, sizeof(subject), "staff/S%05zu", staff);
        snprintf(data, sizeof(data),
                 "{\"staff_id\":\"S%05zu\",\"name\":\"Bench Person %zu\",\"role\":\"%s\","
                 "\"team_id\":\"T%03zu\",\"start_date\":\"%04d-%02d-%02d\","
                 "\"email\":\"person%zu@care.example.org\"}",
                 staff, staff, roles[staff % 6], team_of_staff(staff), start.year, start.month,
                 start.day, staff);
    } else {
        size_t staff = rng_below(rng, BENCH_STAFF);
        size_t what = rng_below(rng, 3);

        type = "staff.changed";
        snprintf(subject, sizeof(subject), "staff/S%05zu", staff);
        if (what == 0)
            snprintf(data, sizeof(data), "{\"staff_id\":\"S%05zu\",\"role\":\"%s\"}", staff,
                     roles[rng_below(rng, 6)]);
        else if (what == 1 || staff < BENCH_MANAGERS)
            snprintf(data, sizeof(data),
                     "{\"staff_id\":\"S%05zu\",\"email\":\"p%zu.%" PRIu64
                     "@mail.care.example.org\"}",
                     staff, staff, rng_next(rng) % 100000);
        else
            snprintf(data, sizeof(data), "{\"staff_id\":\"S%05zu\",\"team_id\":\"T%03zu\"}", staff,
                     1 + rng_below(rng, BENCH_TEAMS - 1));
    }
    n = snprintf(buf, size,
                 "{\"specversion\":\"1.0\",\"id\":\"%s\",\"source\":\"https://hr.example.org/"
                 "carehub-bench/ingest\",\"type\":\"%s\",\"subject\":\"%s\","
                 "\"time\":\"%s\",\"datacontenttype\":\"application/json\",\"data\":%s}",
                 id, type, subject, generator->time_text, data);
    return n < 0 || (size_t)n >= size ? 0 : (size_t)n;
}

/* ---- /proc ---- */

/* utime + stime of pid in seconds, or -1. */
static double
process_cpu_seconds(pid_t pid)
{
    char path[64], text[1024];
    unsigned long long utime, stime;
    const char *p;
    FILE *f;
    size_t n;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    f = fopen(path, "re");
    if (f == NULL)
        return -1;
    n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[n] = '\0';
    /* The command name may hold spaces; the fields after it do not.  utime
     * and stime are fields 14 and 15, the 12th and 13th after ")". */
    p = strrchr(text, ')');
    if (p == NULL || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime,
                            &stime) != 2)
        return -1;
    return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

/* This process's user and system time in seconds, every thread included. */
static double
own_cpu_seconds(void)
{
    struct rusage usage;

    if (getrusage(RUSAGE_SELF, &usage) != 0)
        return 0;
    return (double)(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
           (double)(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

/* The number after "key" in a /proc file of "key value" lines, or -1. */
static long long
proc_field(pid_t pid, const char *file, const char *key)
{
    char path[64], line[256];
    size_t key_len = strlen(key);
    long long value = -1;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
    f = fopen(path, "re");
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, key, key_len) == 0) {
            value = strtoll(line + key_len, NULL, 10);
            break;
        }
    }
    fclose(f);
    return value;
}

/* The total size of the regular files under dir. */
static uint64_t
directory_bytes(const char *dir)
{
    DIR *d = opendir(dir);
    const struct dirent *entry;
    uint64_t total = 0;

    if (d == NULL)
        return 0;
    while ((entry = readdir(d)) != NULL) {
        char path[PATH_MAX];
        struct stat st;

        if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, entry->d_name);
        if (lstat(path, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode))
            total += directory_bytes(path);
        else if (S_ISREG(st.st_mode))
            total += (uint64_t)st.st_size;
    }
    closedir(d);
    return total;
}

static int
remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)type;
    (void)ftw;
    remove(path);
    return 0;
}

static void
remove_tree(const char *dir)
{
    nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- the daemon ---- */

static void
print_log_tail(const struct daemon *daemon)
{
    char line[1024];
    char *lines[20] = {0};
    size_t count = 0;
    FILE *f = fopen(daemon->log, "re");

    if (f == NULL)
        return;
    while (fgets(line, sizeof(line), f) != NULL) {
        free(lines[count % 20]);
        lines[count % 20] = strdup(line);
        count++;
    }
    fclose(f);
    fprintf(stderr, "bench-ingest: the daemon's last log lines:\n");
    for (size_t i = count > 20 ? count - 20 : 0; i < count; i++)
        if (lines[i % 20] != NULL)
            fprintf(stderr, "  %s", lines[i % 20]);
    for (size_t i = 0; i < 20; i++)
        free(lines[i]);
}

static int
write_config(const struct daemon *daemon, bool durable, size_t batch, size_t commit_events,
             size_t checkpoint_pages)
{
    FILE *f = fopen(daemon->conf, "we");

    if (f == NULL)
        return -errno;
    fprintf(f,
            "# bench-ingest\n"
            "state_dir = \"%s\";\n"
            "api = { endpoint = \"ipc://%s/api.sock\"; };\n"
            "notify = { endpoint = \"ipc://%s/notify.sock\"; };\n"
            "storage = { durable = %s; checkpoint_pages = %zu; };\n",
            daemon->dir, daemon->dir, daemon->dir, durable ? "true" : "false",
            checkpoint_pages ? checkpoint_pages : 1000);
    if (batch > 10000)
        fprintf(f, "limits = { max_batch_events = %zu; };\n", batch);
    if (commit_events > 0)
        fprintf(f, "commit = { max_events = %zu; };\n", commit_events);
    return fclose(f) == 0 ? 0 : -errno;
}

/* Creates the directory and configuration and starts carehubd.  Returns 0 or -errno. */
static int
daemon_start(struct daemon *daemon, const struct options *options, bool durable)
{
    int r;

    memset(daemon, 0, sizeof(*daemon));
    daemon->pid = -1;
    /* sun_path holds 107 bytes. */
    if (strlen(options->base_dir) + strlen("/carehub-bench.XXXXXX/notify.sock") > 107) {
        fprintf(stderr, "bench-ingest: %s is too long a path for a socket; use --dir\n",
                options->base_dir);
        return -ENAMETOOLONG;
    }
    snprintf(daemon->dir, sizeof(daemon->dir), "%s/carehub-bench.XXXXXX", options->base_dir);
    if (mkdtemp(daemon->dir) == NULL) {
        r = -errno;
        fprintf(stderr, "bench-ingest: cannot create a directory under %s: %s\n", options->base_dir,
                strerror(errno));
        daemon->dir[0] = '\0';
        return r;
    }
    snprintf(daemon->conf, sizeof(daemon->conf), "%s/carehubd.conf", daemon->dir);
    snprintf(daemon->log, sizeof(daemon->log), "%s/carehubd.log", daemon->dir);
    snprintf(daemon->endpoint, sizeof(daemon->endpoint), "ipc://%s/api.sock", daemon->dir);
    r = write_config(daemon, durable, options->batch, options->commit_events,
                     options->checkpoint_pages);
    if (r < 0) {
        fprintf(stderr, "bench-ingest: %s: %s\n", daemon->conf, strerror(-r));
        return r;
    }
    daemon->pid = fork();
    if (daemon->pid < 0) {
        r = -errno;
        fprintf(stderr, "bench-ingest: fork: %s\n", strerror(errno));
        return r;
    }
    if (daemon->pid == 0) {
        int log_fd;
        int null_fd;

        /* A bench that is interrupted must not leave its daemon running. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        log_fd = open(daemon->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

        if (log_fd < 0 || null_fd < 0 || dup2(null_fd, STDIN_FILENO) < 0 ||
            dup2(log_fd, STDOUT_FILENO) < 0 || dup2(log_fd, STDERR_FILENO) < 0)
            _exit(126);
        execl(options->daemon, options->daemon, "-c", daemon->conf, (char *)NULL);
        dprintf(STDERR_FILENO, "bench-ingest: cannot run %s: %s\n", options->daemon,
                strerror(errno));
        _exit(127);
    }
    return 0;
}

/* True while the daemon runs; once it has ended, *status is its wait status. */
static bool
daemon_running(struct daemon *daemon, int *status)
{
    if (daemon->pid <= 0)
        return false;
    if (waitpid(daemon->pid, status, WNOHANG) == daemon->pid) {
        daemon->pid = -1;
        return false;
    }
    return true;
}

/* Asks "status" until the daemon answers.  Returns 0 or a negative errno. */
static int
daemon_wait_ready(struct daemon *daemon, struct client *client)
{
    int64_t deadline = client_now_ms() + BENCH_START_TIMEOUT_MS;
    /* Far above the ids of publish requests, so that a late answer to one of
     * these is never taken for a publish reply. */
    double id = 1e12;

    while (client_now_ms() < deadline) {
        cJSON *request = wire_request_new("status", ++id);
        cJSON *reply = NULL;
        int status;
        int r;

        if (request == NULL)
            return -ENOMEM;
        r = client_request(client, request, 200, &reply);
        cJSON_Delete(request);
        if (r == 0) {
            r = wire_reply_status(reply, NULL, NULL);
            cJSON_Delete(reply);
            if (r == 0)
                return 0;
        } else if (r != -ETIMEDOUT) {
            return r;
        }
        if (!daemon_running(daemon, &status)) {
            fprintf(stderr, "bench-ingest: carehubd ended during start-up (wait status %d)\n",
                    status);
            return -ECHILD;
        }
    }
    fprintf(stderr, "bench-ingest: carehubd did not answer status within %d s\n",
            BENCH_START_TIMEOUT_MS / 1000);
    return -ETIMEDOUT;
}

/* Sends SIGTERM and waits.  Returns the exit status, or -1 when it did not exit by itself. */
static int
daemon_stop(struct daemon *daemon)
{
    int64_t deadline = client_now_ms() + BENCH_STOP_TIMEOUT_MS;
    int status;

    if (daemon->pid <= 0)
        return -1;
    kill(daemon->pid, SIGTERM);
    while (client_now_ms() < deadline) {
        pid_t r = waitpid(daemon->pid, &status, WNOHANG);

        if (r == daemon->pid) {
            daemon->pid = -1;
            if (WIFEXITED(status))
                return WEXITSTATUS(status);
            fprintf(stderr, "bench-ingest: carehubd ended by signal %d after SIGTERM\n",
                    WIFSIGNALED(status) ? WTERMSIG(status) : 0);
            return -1;
        }
        usleep(10000);
    }
    fprintf(stderr, "bench-ingest: carehubd did not stop within %d s of SIGTERM; killing it\n",
            BENCH_STOP_TIMEOUT_MS / 1000);
    kill(daemon->pid, SIGKILL);
    waitpid(daemon->pid, &status, 0);
    daemon->pid = -1;
    return -1;
}

static void
daemon_cleanup(struct daemon *daemon)
{
    int status;

    if (daemon->pid > 0) {
        kill(daemon->pid, SIGKILL);
        waitpid(daemon->pid, &status, 0);
        daemon->pid = -1;
    }
    if (daemon->dir[0] != '\0')
        remove_tree(daemon->dir);
}

/* ---- publishing ---- */

struct publisher {
    struct client *client;
    struct daemon *daemon;
    struct generator generator;
    struct in_flight *slots; /* indexed by id & mask */
    size_t mask;
    uint64_t next_id;
    size_t sent;
    size_t acked;
    size_t unacked;
    double *latencies_ms;
    size_t latency_count;
    size_t latency_cap;
    char *body;
    size_t body_cap;
    struct run_result *result;
};

static int
send_request(struct publisher *pub, size_t count)
{
    static const char suffix[] = "]}";
    struct in_flight *slot = &pub->slots[(pub->next_id + 1) & pub->mask];
    size_t len;
    int r;

    if (slot->count != 0)
        return -EAGAIN; /* a much older request is still unanswered */
    pub->next_id++;
    generator_stamp(&pub->generator);
    len = (size_t)snprintf(pub->body, pub->body_cap,
                           "{\"op\":\"publish\",\"id\":%" PRIu64 ",\"events\":[", pub->next_id);
    for (size_t i = 0; i < count; i++) {
        size_t n;

        if (i > 0)
            pub->body[len++] = ',';
        n = generator_next(&pub->generator, pub->body + len, pub->body_cap - len);
        if (n == 0)
            return -ENOSPC;
        pub->result->event_bytes += n;
        len += n;
    }
    memcpy(pub->body + len, suffix, sizeof(suffix) - 1);
    len += sizeof(suffix) - 1;
    slot->id = pub->next_id;
    slot->count = count;
    slot->sent_us = now_us();
    r = client_send(pub->client, pub->body, len);
    if (r < 0)
        return r;
    pub->sent += count;
    pub->unacked += count;
    pub->result->requests++;
    return 0;
}

static int
record_latency(struct publisher *pub, double ms)
{
    if (pub->latency_count == pub->latency_cap) {
        size_t cap = pub->latency_cap ? pub->latency_cap * 2 : 4096;
        double *grown = realloc(pub->latencies_ms, cap * sizeof(*grown));

        if (grown == NULL)
            return -ENOMEM;
        pub->latencies_ms = grown;
        pub->latency_cap = cap;
    }
    pub->latencies_ms[pub->latency_count++] = ms;
    return 0;
}

static void
count_results(struct publisher *pub, const cJSON *reply, size_t count)
{
    const cJSON *results = cJSON_GetObjectItemCaseSensitive(reply, "results");
    const cJSON *item;
    const char *code = NULL;
    const char *message = NULL;
    struct run_result *result = pub->result;

    if (wire_reply_status(reply, &code, &message) != 0 || !cJSON_IsArray(results)) {
        result->rejected += count;
        if (result->first_rejection[0] == '\0')
            snprintf(result->first_rejection, sizeof(result->first_rejection),
                     "whole request: %s: %s", code ? code : "?", message ? message : "?");
        return;
    }
    cJSON_ArrayForEach(item, results)
    {
        const char *status = wire_get_string(item, "status");

        if (status != NULL && strcmp(status, "stored") == 0) {
            result->stored++;
        } else if (status != NULL && strcmp(status, "duplicate") == 0) {
            result->duplicate++;
        } else {
            const cJSON *error = cJSON_GetObjectItemCaseSensitive(item, "error");

            result->rejected++;
            if (result->first_rejection[0] == '\0')
                snprintf(result->first_rejection, sizeof(result->first_rejection), "%s: %s",
                         wire_get_string(error, "code"), wire_get_string(error, "message"));
        }
    }
}

/* Takes every waiting reply.  Returns how many requests were answered, or a negative errno. */
static int
take_replies(struct publisher *pub)
{
    int answered = 0;

    for (;;) {
        char *body;
        size_t len;
        int r = client_receive(pub->client, &body, &len);
        int64_t received_us = now_us();
        const cJSON *id;
        struct in_flight *slot;
        cJSON *reply;

        if (r == -EAGAIN)
            return answered;
        if (r == -EPROTO)
            continue;
        if (r < 0)
            return r;
        reply = cJSON_ParseWithLength(body, len);
        free(body);
        id = cJSON_GetObjectItemCaseSensitive(reply, "id");
        if (cJSON_IsNumber(id) && (id->valuedouble < 1 || id->valuedouble > (double)pub->next_id)) {
            cJSON_Delete(reply); /* a late answer to a start-up status request */
            continue;
        }
        if (!cJSON_IsNumber(id)) {
            fprintf(stderr, "bench-ingest: a reply without a request id: %s\n",
                    wire_get_string(cJSON_GetObjectItemCaseSensitive(reply, "error"), "message"));
            cJSON_Delete(reply);
            return -EPROTO;
        }
        slot = &pub->slots[(uint64_t)id->valuedouble & pub->mask];
        if (slot->count == 0 || slot->id != (uint64_t)id->valuedouble) {
            cJSON_Delete(reply);
            continue;
        }
        count_results(pub, reply, slot->count);
        cJSON_Delete(reply);
        if (record_latency(pub, (double)(received_us - slot->sent_us) / 1000.0) < 0)
            return -ENOMEM;
        pub->acked += slot->count;
        pub->unacked -= slot->count;
        slot->count = 0;
        answered++;
    }
}

static int
compare_double(const void *a, const void *b)
{
    double x = *(const double *)a;
    double y = *(const double *)b;

    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted values. */
static double
percentile(const double *sorted, size_t count, double fraction)
{
    size_t rank;

    if (count == 0)
        return 0;
    rank = (size_t)ceil(fraction * (double)count);
    if (rank < 1)
        rank = 1;
    return sorted[rank - 1];
}

/*
 * Publishes events events, keeping at most window unacknowledged, in requests
 * of up to batch events; with rate > 0, no faster than rate events/s, each
 * request carrying the events that have come due.
 */
static int
publish(struct publisher *pub, size_t events, size_t window, size_t batch, double rate)
{
    int64_t start = now_us();
    int64_t last_progress = start;
    int64_t finished;
    int r;

    while (pub->acked < events) {
        zmq_pollitem_t item = {.socket = client_socket(pub->client), .events = ZMQ_POLLIN};
        int64_t now = now_us();
        long timeout_ms = 1000;
        size_t due = events;
        int status;

        if (rate > 0) {
            due = (size_t)((double)(now - start) * rate / 1e6) + 1;
            if (due > events)
                due = events;
        }
        while (pub->sent < due) {
            size_t count = due - pub->sent;

            if (count > batch)
                count = batch;
            /* At full speed, wait for room for a whole batch. */
            if (window - pub->unacked < (rate > 0 ? count : batch) && pub->unacked > 0)
                break;
            if (count > window - pub->unacked)
                count = window - pub->unacked;
            r = send_request(pub, count);
            if (r == -EAGAIN)
                break;
            if (r < 0)
                return r;
        }
        if (rate > 0 && pub->sent < events) {
            /* Wake when the next event is due, at least 1 ms from now. */
            int64_t next_us = start + (int64_t)((double)pub->sent * 1e6 / rate);

            timeout_ms = (long)((next_us - now) / 1000);
            if (timeout_ms < 1)
                timeout_ms = 1;
        }
        if (zmq_poll(&item, 1, timeout_ms) < 0 && zmq_errno() != EINTR)
            return -zmq_errno();
        r = take_replies(pub);
        if (r < 0)
            return r;
        now = now_us();
        if (r > 0)
            last_progress = now;
        if (pub->unacked > 0 && now - last_progress > (int64_t)BENCH_STALL_TIMEOUT_MS * 1000) {
            fprintf(stderr, "bench-ingest: no reply for %d s; %zu events unacknowledged\n",
                    BENCH_STALL_TIMEOUT_MS / 1000, pub->unacked);
            return -ETIMEDOUT;
        }
        if (r == 0 && !daemon_running(pub->daemon, &status)) {
            fprintf(stderr, "bench-ingest: carehubd ended while events were published\n");
            return -ECHILD;
        }
    }
    finished = now_us();
    pub->result->seconds = (double)(finished - start) / 1e6;
    pub->result->events_per_s = (double)events / pub->result->seconds;
    qsort(pub->latencies_ms, pub->latency_count, sizeof(double), compare_double);
    pub->result->p50_ms = percentile(pub->latencies_ms, pub->latency_count, 0.50);
    pub->result->p99_ms = percentile(pub->latencies_ms, pub->latency_count, 0.99);
    pub->result->max_ms = pub->latency_count ? pub->latencies_ms[pub->latency_count - 1] : 0;
    return 0;
}

/* ---- one run ---- */

static int
run_once(const struct options *options, struct run_result *result, size_t events, double rate)
{
    struct daemon daemon;
    struct publisher pub = {.result = result};
    char err[256];
    size_t slots = 1;
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
    r = client_open(&pub.client, daemon.endpoint, 0, err, sizeof(err));
    if (r < 0) {
        fprintf(stderr, "bench-ingest: %s\n", err);
        goto out;
    }
    r = daemon_wait_ready(&daemon, pub.client);
    if (r < 0)
        goto out;

    while (slots < options->window * 2 + 2)
        slots *= 2;
    pub.slots = calloc(slots, sizeof(*pub.slots));
    pub.mask = slots - 1;
    pub.body_cap = options->batch * BENCH_EVENT_MAX + 128;
    pub.body = malloc(pub.body_cap);
    pub.daemon = &daemon;
    if (pub.slots == NULL || pub.body == NULL) {
        r = -ENOMEM;
        goto out;
    }
    generator_init(&pub.generator);
    cpu_before = process_cpu_seconds(daemon.pid);
    publisher_before = own_cpu_seconds();
    write_before = proc_field(daemon.pid, "io", "write_bytes:");

    r = publish(&pub, events, options->window, options->batch, rate);
    if (r < 0) {
        fprintf(stderr, "bench-ingest: publishing failed: %s\n", strerror(-r));
        goto out;
    }

    result->cpu_seconds = process_cpu_seconds(daemon.pid) - cpu_before;
    result->publisher_cpu_seconds = own_cpu_seconds() - publisher_before;
    write_after = proc_field(daemon.pid, "io", "write_bytes:");
    result->write_bytes = write_after >= write_before && write_before >= 0
                              ? (uint64_t)(write_after - write_before)
                              : 0;
    result->peak_rss_kib = (long)proc_field(daemon.pid, "status", "VmHWM:");
    result->exit_status = daemon_stop(&daemon);
    result->dir_bytes = directory_bytes(daemon.dir);
    if (result->exit_status != 0)
        r = -ECHILD;
out:
    if (r < 0)
        print_log_tail(&daemon);
    client_close(pub.client);
    daemon_cleanup(&daemon);
    free(pub.slots);
    free(pub.body);
    free(pub.latencies_ms);
    result->ok = r == 0 && result->stored == events && result->rejected == 0;
    if (r == 0 && !result->ok)
        fprintf(stderr, "bench-ingest: %s: %zu stored, %zu duplicate, %zu rejected (first: %s)\n",
                result->label, result->stored, result->duplicate, result->rejected,
                result->first_rejection[0] ? result->first_rejection : "-");
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
    return r->events_per_s;
}

static double
get_p50(const struct run_result *r)
{
    return r->p50_ms;
}

static double
get_p99(const struct run_result *r)
{
    return r->p99_ms;
}

static double
get_max(const struct run_result *r)
{
    return r->max_ms;
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
    return r->seconds;
}

/* The kind of filesystem, which decides what "durable" costs. */
static const char *
filesystem_name(unsigned long magic)
{
    switch (magic) {
    case 0xEF53:
        return "ext2/3/4";
    case 0x58465342:
        return "xfs";
    case 0x9123683E:
        return "btrfs";
    case 0x01021994:
        return "tmpfs: nothing reaches a disk";
    case 0x794C7630:
        return "overlayfs";
    default:
        return "filesystem of another kind";
    }
}

static void
print_report(const struct options *options, const struct run_result *durable,
             const struct run_result *fast, const struct run_result *paced)
{
    struct statfs fs;
    double ratio = fast->ok && durable->ok ? durable->events_per_s / fast->events_per_s : 0;
    double average = durable->events ? (double)durable->event_bytes / (double)durable->events : 0;

    printf("\ncarehub bench-ingest\n");
    printf("  daemon %s; state directories under %s (%s)\n", options->daemon, options->base_dir,
           statfs(options->base_dir, &fs) == 0 ? filesystem_name((unsigned long)fs.f_type) : "?");
    printf("  %zu events of %.0f bytes on average (random UUID ids: %d team.changed,\n"
           "  %d staff.hired, then staff.changed); window %zu events, batch %zu events\n\n",
           options->events, average, BENCH_TEAMS, BENCH_STAFF, options->window, options->batch);
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
    printf("  %-34s %5zu/%zu/%-6zu %5zu/%zu/%zu\n", "stored/duplicate/rejected", durable->stored,
           durable->duplicate, durable->rejected, fast->stored, fast->duplicate, fast->rejected);
    printf("  %-34s %14d %14d\n", "daemon exit status after SIGTERM", durable->exit_status,
           fast->exit_status);
    printf("\n  durable / not durable events/s: %.2f\n", ratio);

    printf("\n  offered load %.0f events/s, %zu events, durable, batch up to %zu\n",
           paced->offered_rate, paced->events, options->batch);
    if (paced->ok) {
        printf("  %-34s %14.0f\n", "achieved events/s", paced->events_per_s);
        printf("  %-34s %14.2f\n", "ack latency p50 (ms)", paced->p50_ms);
        printf("  %-34s %14.2f\n", "ack latency p99 (ms)", paced->p99_ms);
        printf("  %-34s %14.2f\n", "ack latency max (ms)", paced->max_ms);
        printf("  %-34s %14.1f\n", "events per request (average)",
               paced->requests ? (double)paced->events / (double)paced->requests : 0);
        printf("  %-34s %14.4f\n", "daemon CPU s per 1,000 events", get_cpu(paced));
    } else {
        printf("  (run failed)\n");
    }

    printf("\n  targets (issue 2, this 2-core machine):\n");
    printf("    durable >= %.0f events/s:            %.0f  %s\n", TARGET_EVENTS_PER_S,
           durable->events_per_s,
           verdict(durable->ok && durable->events_per_s >= TARGET_EVENTS_PER_S));
    printf("    durable / not durable >= %.1f:          %.2f  %s\n", TARGET_DURABLE_RATIO, ratio,
           verdict(ratio >= TARGET_DURABLE_RATIO));
    printf("    p99 <= %.0f ms at %.0f events/s offered: %.2f  %s\n", TARGET_P99_MS,
           paced->offered_rate, paced->p99_ms,
           verdict(paced->ok && paced->p99_ms <= TARGET_P99_MS));
    if (options->events < BENCH_DEFAULT_EVENTS)
        printf("    (the targets are for %d events; this run had %zu)\n", BENCH_DEFAULT_EVENTS,
               options->events);
}

/* ---- command line ---- */

static int
parse_size(const char *text, size_t *out)
{
    char *end;
    unsigned long long value;

    errno = 0;
    value = strtoull(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || text[0] == '-' || value < 1 ||
        value > 1000000000ull)
        return -EINVAL;
    *out = (size_t)value;
    return 0;
}

/* carehubd in the directory of this program. */
static char *
default_daemon_path(void)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    char *slash;
    char *path;

    if (n <= 0)
        return strdup("./carehubd");
    self[n] = '\0';
    slash = strrchr(self, '/');
    if (slash != NULL)
        *slash = '\0';
    if (asprintf(&path, "%s/carehubd", self) < 0)
        return NULL;
    return path;
}

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
        if (parse_size(optarg, target) < 0) {
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
        daemon_path = default_daemon_path();
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

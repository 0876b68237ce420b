/*
 * bench_common: see bench_common.h.
 */
#define _GNU_SOURCE
#include "bench_common.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <zmq.h>

#include "timefmt.h"
#include "wire.h"

/* Staff S00000 to S00099 manage the teams; only the others change team, so
 * that no change can make a management cycle. */
#define SPINE_MANAGERS BENCH_SPINE_TEAMS

int64_t
bench_now_us(void)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000;
}

/* ---- random numbers ---- */

static uint64_t
rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t
bench_rng_next(struct bench_rng *rng)
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

void
bench_rng_seed(struct bench_rng *rng)
{
    uint64_t seed;

    if (getrandom(&seed, sizeof(seed), 0) != (ssize_t)sizeof(seed))
        seed = (uint64_t)bench_now_us() ^ (uint64_t)getpid();
    /* splitmix64 spreads one seed over the state. */
    for (int i = 0; i < 4; i++) {
        uint64_t z = (seed += 0x9E3779B97F4A7C15ull);

        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        rng->s[i] = z ^ (z >> 31);
    }
}

size_t
bench_rng_below(struct bench_rng *rng, size_t bound)
{
    return (size_t)(bench_rng_next(rng) % bound);
}

double
bench_rng_unit(struct bench_rng *rng)
{
    return (double)(bench_rng_next(rng) >> 11) * 0x1.0p-53;
}

void
bench_format_uuid(struct bench_rng *rng, char out[37])
{
    static const char hex[] = "0123456789abcdef";
    uint8_t bytes[16];
    uint64_t a = bench_rng_next(rng);
    uint64_t b = bench_rng_next(rng);
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

/* ---- the spine's event mix ---- */

void
bench_spine_init(struct bench_spine *spine)
{
    memset(spine, 0, sizeof(*spine));
    bench_rng_seed(&spine->rng);
}

void
bench_spine_stamp(struct bench_spine *spine)
{
    struct timespec now;

    clock_gettime(CLOCK_REALTIME, &now);
    timefmt_format_rfc3339((int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000, spine->time_text,
                           sizeof(spine->time_text));
}

static const char *const roles[] = {"care assistant", "senior care assistant",  "nurse",
                                    "deputy manager", "activities coordinator", "cook"};

static size_t
team_of_staff(size_t staff)
{
    return staff < SPINE_MANAGERS ? 0 : 1 + staff % (BENCH_SPINE_TEAMS - 1);
}

size_t
bench_spine_next(struct bench_spine *spine, char *buf, size_t size)
{
    struct bench_rng *rng = &spine->rng;
    size_t i = spine->index++;
    char id[37];
    char subject[32];
    char data[256];
    const char *type;
    int n;

    bench_format_uuid(rng, id);
    if (i < BENCH_SPINE_TEAMS) {
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
    } else if (i < BENCH_SPINE_TEAMS + BENCH_SPINE_STAFF) {
        size_t staff = i - BENCH_SPINE_TEAMS;
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
        size_t staff = bench_rng_below(rng, BENCH_SPINE_STAFF);
        size_t what = bench_rng_below(rng, 3);

        type = "staff.changed";
        snprintf(subject, sizeof(subject), "staff/S%05zu", staff);
        if (what == 0)
            snprintf(data, sizeof(data), "{\"staff_id\":\"S%05zu\",\"role\":\"%s\"}", staff,
                     roles[bench_rng_below(rng, 6)]);
        else if (what == 1 || staff < SPINE_MANAGERS)
            snprintf(data, sizeof(data),
                     "{\"staff_id\":\"S%05zu\",\"email\":\"p%zu.%" PRIu64
                     "@mail.care.example.org\"}",
                     staff, staff, bench_rng_next(rng) % 100000);
        else
            snprintf(data, sizeof(data), "{\"staff_id\":\"S%05zu\",\"team_id\":\"T%03zu\"}", staff,
                     1 + bench_rng_below(rng, BENCH_SPINE_TEAMS - 1));
    }
    n = snprintf(buf, size,
                 "{\"specversion\":\"1.0\",\"id\":\"%s\",\"source\":\"https://hr.example.org/"
                 "carehub-bench/ingest\",\"type\":\"%s\",\"subject\":\"%s\","
                 "\"time\":\"%s\",\"datacontenttype\":\"application/json\",\"data\":%s}",
                 id, type, subject, spine->time_text, data);
    return n < 0 || (size_t)n >= size ? 0 : (size_t)n;
}

/* ---- /proc ---- */

double
bench_process_cpu_seconds(pid_t pid)
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

double
bench_own_cpu_seconds(void)
{
    struct rusage usage;

    if (getrusage(RUSAGE_SELF, &usage) != 0)
        return 0;
    return (double)(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
           (double)(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

long long
bench_proc_field(pid_t pid, const char *file, const char *key)
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

uint64_t
bench_directory_bytes(const char *dir)
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
            total += bench_directory_bytes(path);
        else if (S_ISREG(st.st_mode))
            total += (uint64_t)st.st_size;
    }
    closedir(d);
    return total;
}

const char *
bench_filesystem_name(unsigned long magic)
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

/* ---- the daemon ---- */

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

void
bench_daemon_print_log_tail(const struct bench_daemon *daemon)
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
    fprintf(stderr, "%s: the daemon's last log lines:\n", daemon->program);
    for (size_t i = count > 20 ? count - 20 : 0; i < count; i++)
        if (lines[i % 20] != NULL)
            fprintf(stderr, "  %s", lines[i % 20]);
    for (size_t i = 0; i < 20; i++)
        free(lines[i]);
}

int
bench_daemon_prepare(struct bench_daemon *daemon, const char *program, const char *base_dir)
{
    int r;

    memset(daemon, 0, sizeof(*daemon));
    daemon->program = program;
    daemon->pid = -1;
    /* sun_path holds 107 bytes. */
    if (strlen(base_dir) + strlen("/carehub-bench.XXXXXX/notify.sock") > 107) {
        fprintf(stderr, "%s: %s is too long a path for a socket; use --dir\n", program, base_dir);
        return -ENAMETOOLONG;
    }
    snprintf(daemon->dir, sizeof(daemon->dir), "%s/carehub-bench.XXXXXX", base_dir);
    if (mkdtemp(daemon->dir) == NULL) {
        r = -errno;
        fprintf(stderr, "%s: cannot create a directory under %s: %s\n", program, base_dir,
                strerror(errno));
        daemon->dir[0] = '\0';
        return r;
    }
    snprintf(daemon->conf, sizeof(daemon->conf), "%s/carehubd.conf", daemon->dir);
    snprintf(daemon->log, sizeof(daemon->log), "%s/carehubd.log", daemon->dir);
    snprintf(daemon->endpoint, sizeof(daemon->endpoint), "ipc://%s/api.sock", daemon->dir);
    snprintf(daemon->notify_endpoint, sizeof(daemon->notify_endpoint), "ipc://%s/notify.sock",
             daemon->dir);
    return 0;
}

int
bench_daemon_spawn(struct bench_daemon *daemon, const char *path)
{
    int r;

    daemon->pid = fork();
    if (daemon->pid < 0) {
        r = -errno;
        fprintf(stderr, "%s: fork: %s\n", daemon->program, strerror(errno));
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
        execl(path, path, "-c", daemon->conf, (char *)NULL);
        dprintf(STDERR_FILENO, "%s: cannot run %s: %s\n", daemon->program, path, strerror(errno));
        _exit(127);
    }
    return 0;
}

bool
bench_daemon_running(struct bench_daemon *daemon, int *status)
{
    if (daemon->pid <= 0)
        return false;
    if (waitpid(daemon->pid, status, WNOHANG) == daemon->pid) {
        daemon->pid = -1;
        return false;
    }
    return true;
}

int
bench_daemon_wait_ready(struct bench_daemon *daemon, struct client *client)
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
        if (!bench_daemon_running(daemon, &status)) {
            fprintf(stderr, "%s: carehubd ended during start-up (wait status %d)\n",
                    daemon->program, status);
            return -ECHILD;
        }
    }
    fprintf(stderr, "%s: carehubd did not answer status within %d s\n", daemon->program,
            BENCH_START_TIMEOUT_MS / 1000);
    return -ETIMEDOUT;
}

int
bench_daemon_stop(struct bench_daemon *daemon)
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
            fprintf(stderr, "%s: carehubd ended by signal %d after SIGTERM\n", daemon->program,
                    WIFSIGNALED(status) ? WTERMSIG(status) : 0);
            return -1;
        }
        usleep(10000);
    }
    fprintf(stderr, "%s: carehubd did not stop within %d s of SIGTERM; killing it\n",
            daemon->program, BENCH_STOP_TIMEOUT_MS / 1000);
    kill(daemon->pid, SIGKILL);
    waitpid(daemon->pid, &status, 0);
    daemon->pid = -1;
    return -1;
}

void
bench_daemon_cleanup(struct bench_daemon *daemon)
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

/* A request waiting for its reply. */
struct in_flight {
    uint64_t id;
    size_t count;
    int64_t sent_us;
};

struct publisher {
    struct client *client;
    struct bench_daemon *daemon;
    const struct bench_source *source;
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
    struct bench_publish_result *result;
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
    if (pub->source->stamp != NULL)
        pub->source->stamp(pub->source->context);
    len = (size_t)snprintf(pub->body, pub->body_cap,
                           "{\"op\":\"publish\",\"id\":%" PRIu64 ",\"events\":[", pub->next_id);
    for (size_t i = 0; i < count; i++) {
        size_t n;

        if (i > 0)
            pub->body[len++] = ',';
        n = pub->source->next(pub->source->context, pub->body + len, pub->body_cap - len);
        if (n == 0)
            return -ENOSPC;
        pub->result->event_bytes += n;
        len += n;
    }
    memcpy(pub->body + len, suffix, sizeof(suffix) - 1);
    len += sizeof(suffix) - 1;
    slot->id = pub->next_id;
    slot->count = count;
    slot->sent_us = bench_now_us();
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
    struct bench_publish_result *result = pub->result;

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
        int64_t received_us = bench_now_us();
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
            fprintf(stderr, "%s: a reply without a request id: %s\n", pub->daemon->program,
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

int
bench_compare_double(const void *a, const void *b)
{
    double x = *(const double *)a;
    double y = *(const double *)b;

    return x < y ? -1 : x > y;
}

double
bench_percentile(const double *sorted, size_t count, double fraction)
{
    size_t rank;

    if (count == 0)
        return 0;
    rank = (size_t)ceil(fraction * (double)count);
    if (rank < 1)
        rank = 1;
    return sorted[rank - 1];
}

static int
publish(struct publisher *pub, size_t events, size_t window, size_t batch, double rate)
{
    int64_t start = bench_now_us();
    int64_t last_progress = start;
    int64_t finished;
    int r;

    while (pub->acked < events) {
        zmq_pollitem_t item = {.socket = client_socket(pub->client), .events = ZMQ_POLLIN};
        int64_t now = bench_now_us();
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
        now = bench_now_us();
        if (r > 0)
            last_progress = now;
        if (pub->unacked > 0 && now - last_progress > (int64_t)BENCH_STALL_TIMEOUT_MS * 1000) {
            fprintf(stderr, "%s: no reply for %d s; %zu events unacknowledged\n",
                    pub->daemon->program, BENCH_STALL_TIMEOUT_MS / 1000, pub->unacked);
            return -ETIMEDOUT;
        }
        if (r == 0 && !bench_daemon_running(pub->daemon, &status)) {
            fprintf(stderr, "%s: carehubd ended while events were published\n",
                    pub->daemon->program);
            return -ECHILD;
        }
    }
    finished = bench_now_us();
    pub->result->seconds = (double)(finished - start) / 1e6;
    pub->result->events_per_s = (double)events / pub->result->seconds;
    qsort(pub->latencies_ms, pub->latency_count, sizeof(double), bench_compare_double);
    pub->result->p50_ms = bench_percentile(pub->latencies_ms, pub->latency_count, 0.50);
    pub->result->p99_ms = bench_percentile(pub->latencies_ms, pub->latency_count, 0.99);
    pub->result->max_ms = pub->latency_count ? pub->latencies_ms[pub->latency_count - 1] : 0;
    return 0;
}

int
bench_publish(struct client *client, struct bench_daemon *daemon, const struct bench_source *source,
              size_t events, size_t window, size_t batch, double rate,
              struct bench_publish_result *result)
{
    struct publisher pub = {.client = client, .daemon = daemon, .source = source, .result = result};
    size_t slots = 1;
    int r;

    if (batch > window)
        batch = window;
    while (slots < window * 2 + 2)
        slots *= 2;
    pub.slots = calloc(slots, sizeof(*pub.slots));
    pub.mask = slots - 1;
    pub.body_cap = batch * BENCH_EVENT_MAX + 128;
    pub.body = malloc(pub.body_cap);
    if (pub.slots == NULL || pub.body == NULL) {
        r = -ENOMEM;
        goto out;
    }
    r = publish(&pub, events, window, batch, rate);
out:
    free(pub.slots);
    free(pub.body);
    free(pub.latencies_ms);
    return r;
}

/* ---- options ---- */

int
bench_parse_size(const char *text, size_t *out)
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

char *
bench_beside_self(const char *name)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    char *slash;
    char *path;

    if (n <= 0) {
        if (asprintf(&path, "./%s", name) < 0)
            return NULL;
        return path;
    }
    self[n] = '\0';
    slash = strrchr(self, '/');
    if (slash != NULL)
        *slash = '\0';
    if (asprintf(&path, "%s/%s", self, name) < 0)
        return NULL;
    return path;
}

/*
 * carehubd: the carehub daemon.
 *
 *   carehubd -c FILE       run in the foreground
 *   carehubd -n -c FILE    check FILE and exit
 *   carehubd --test-clock TIME -c FILE   run on a test clock (tests only)
 *
 * main() reads the configuration, opens the database and binds the sockets,
 * then runs one libuv loop until SIGTERM or SIGINT.  On either it stops
 * taking requests, lets the events already received commit and be
 * acknowledged, and exits 0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <uv.h>
#include <zmq.h>

#include "api.h"
#include "bus.h"
#include "clock.h"
#include "config.h"
#include "daemon.h"
#include "ingest.h"
#include "log.h"
#include "store.h"
#include "timefmt.h"

static void
usage(FILE *out)
{
    fprintf(out, "usage: carehubd [-n] -c FILE\n"
                 "       carehubd --test-clock TIME -c FILE\n"
                 "       carehubd -h | -V\n"
                 "\n"
                 "  -c, --config FILE   the configuration file (carehubd.conf)\n"
                 "  -n, --check         check the configuration file and exit\n"
                 "  --test-clock TIME   for tests only: run on a clock that starts at TIME\n"
                 "                      (RFC 3339, e.g. 2026-01-05T08:00:00Z) and moves\n"
                 "                      only when a client sets it (the \"clock\" op)\n"
                 "  -h, --help          show this help and exit\n"
                 "  -V, --version       show the version and exit\n"
                 "\n"
                 "Exit status: 0 success, 1 a configuration or start-up error, 2 a usage "
                 "error.\n");
}

static void
on_bus_closed(struct bus *bus)
{
    struct daemon *daemon = bus->data;

    daemon->api_open = false;
}

/* Everything received has been committed and answered: let the loop end. */
static void
on_ingest_closed(void *data)
{
    struct daemon *daemon = data;

    log_info("all received events are committed and acknowledged; stopping");
    if (daemon->api_open)
        bus_close(&daemon->api, on_bus_closed);
    uv_close((uv_handle_t *)&daemon->sigterm, NULL);
    uv_close((uv_handle_t *)&daemon->sigint, NULL);
    uv_close((uv_handle_t *)&daemon->sighup, NULL);
}

/* Reloading arrives with the service issue; until then SIGHUP must not stop the daemon. */
static void
on_hangup(uv_signal_t *handle, int signum)
{
    (void)handle;
    (void)signum;
    log_notice("received SIGHUP: this version cannot reload its configuration; restart "
               "carehubd to apply changes (nothing was changed)");
}

static void
on_signal(uv_signal_t *handle, int signum)
{
    struct daemon *daemon = handle->loop->data;

    if (daemon->stopping)
        return;
    log_info("received %s: refusing new requests; finishing %zu queued and %zu in-flight events",
             strsignal(signum), ingest_waiting_events(daemon->ingest),
             ingest_in_flight_events(daemon->ingest));
    /*
     * Requests still arriving are read and answered "unavailable" until the
     * socket closes, so clients learn at once to try again later.
     */
    daemon->stopping = true;
    if (daemon->input_paused) {
        daemon->input_paused = false;
        bus_resume(&daemon->api);
    }
    ingest_close(daemon->ingest, on_ingest_closed);
}

static int
set_int_option(void *socket, int option, int value)
{
    return zmq_setsockopt(socket, option, &value, sizeof(value)) < 0 ? -zmq_errno() : 0;
}

/*
 * True when something accepts connections on the Unix socket of an ipc://
 * endpoint.  libzmq replaces the file of an ipc:// endpoint when it binds,
 * which would silently take the endpoint away from a daemon already running
 * with another state_dir; a connection attempt tells a live socket from a
 * stale file.
 */
static bool
ipc_endpoint_in_use(const char *endpoint)
{
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    const char *path = endpoint + strlen("ipc://");
    bool in_use;
    int fd;

    if (strncmp(endpoint, "ipc://", 6) != 0 || path[0] == '@' ||
        strlen(path) >= sizeof(address.sun_path))
        return false;
    memcpy(address.sun_path, path, strlen(path) + 1);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    in_use = connect(fd, (struct sockaddr *)&address, sizeof(address)) == 0;
    close(fd);
    return in_use;
}

/* Binds socket to endpoint (the value of key); logs why when it cannot. */
static int
bind_endpoint(void *socket, const char *key, const char *endpoint)
{
    int r;

    if (ipc_endpoint_in_use(endpoint)) {
        log_error("cannot bind %s %s: another process is serving it (another carehubd?); "
                  "stop it or choose another endpoint",
                  key, endpoint);
        return -EADDRINUSE;
    }
    if (zmq_bind(socket, endpoint) < 0) {
        r = -zmq_errno();
        log_error("cannot bind %s %s: %s", key, endpoint, zmq_strerror(-r));
        return r;
    }
    return 0;
}

/* Creates and binds the API (ROUTER) and notification (PUB) sockets; logs what fails. */
static int
open_sockets(struct daemon *daemon)
{
    const struct config *config = &daemon->config;
    int64_t max_size = config->max_message_bytes * 2 + 65536;
    int r = 0;

    daemon->zmq = zmq_ctx_new();
    if (daemon->zmq != NULL) {
        daemon->api_socket = zmq_socket(daemon->zmq, ZMQ_ROUTER);
        daemon->notify_socket = zmq_socket(daemon->zmq, ZMQ_PUB);
    }
    if (daemon->zmq == NULL || daemon->api_socket == NULL || daemon->notify_socket == NULL)
        r = -zmq_errno();
    /*
     * A request over max_message_bytes still gets a readable error; one far
     * over it (twice the limit) makes libzmq drop the connection before it
     * is buffered, so memory stays bounded whatever a client sends.
     */
    if (r == 0 &&
        zmq_setsockopt(daemon->api_socket, ZMQ_MAXMSGSIZE, &max_size, sizeof(max_size)) < 0)
        r = -zmq_errno();
    if (r == 0)
        r = set_int_option(daemon->api_socket, ZMQ_ROUTER_MANDATORY, 1);
    if (r == 0)
        r = set_int_option(daemon->api_socket, ZMQ_SNDHWM, config->max_pending_replies);
    if (r == 0)
        r = set_int_option(daemon->api_socket, ZMQ_LINGER, 2000);
    if (r == 0)
        r = set_int_option(daemon->notify_socket, ZMQ_LINGER, 0);
    if (r < 0) {
        log_error("cannot create the ZeroMQ sockets: %s", zmq_strerror(-r));
        return r;
    }
    if ((r = bind_endpoint(daemon->api_socket, "api.endpoint", config->api_endpoint)) < 0 ||
        (r = bind_endpoint(daemon->notify_socket, "notify.endpoint", config->notify_endpoint)) < 0)
        return r;
    return 0;
}

static int
check_only(const char *path)
{
    struct config config;
    struct config_errors errors;

    if (config_load(path, &config, &errors) < 0) {
        for (int i = 0; i < errors.count && i < CONFIG_MAX_ERRORS; i++)
            fprintf(stderr, "%s\n", errors.text[i]);
        if (errors.count > CONFIG_MAX_ERRORS)
            fprintf(stderr, "%s: %d more errors not shown\n", path,
                    errors.count - CONFIG_MAX_ERRORS);
        return 1;
    }
    config_free(&config);
    printf("configuration OK\n");
    return 0;
}

/*
 * Publishes each new notification on the PUB socket: the topic
 * <type>.<recipient_id> and a body with the sequence number, the review kind
 * and the escalation level.  Names and dates stay behind the API.  PUB never
 * blocks: a slow subscriber loses messages, sees the gap in seq and fetches
 * them with the "notifications" op.
 */
static void
on_published(void *data, const struct obligations_notice *notices, size_t count)
{
    struct daemon *daemon = data;

    for (size_t i = 0; i < count; i++) {
        const struct obligations_notice *notice = &notices[i];
        bool alert = strcmp(notice->type, "alert") == 0;
        char topic[160];
        /* Alerts are about a team, so their topic names the team: "alert.T12". */
        int topic_size = snprintf(topic, sizeof(topic), "%s.%s", notice->type,
                                  alert ? notice->item : notice->recipient_id);
        cJSON *body = cJSON_CreateObject();
        char *text;

        /* Ids are the HR system's and may hold any character: cJSON escapes them. */
        cJSON_AddNumberToObject(body, "seq", (double)notice->seq);
        cJSON_AddStringToObject(body, "type", notice->type);
        cJSON_AddStringToObject(body, "recipient_id", notice->recipient_id);
        cJSON_AddStringToObject(body, "kind", notice->kind);
        cJSON_AddNumberToObject(body, "level", notice->level);
        if (alert) {
            cJSON_AddStringToObject(body, "team_id", notice->item);
            cJSON_AddStringToObject(body, "metric", notice->kind);
            cJSON_AddStringToObject(body, "period", notice->step);
        }
        text = cJSON_PrintUnformatted(body);
        cJSON_Delete(body);
        if (text == NULL || topic_size < 0 || (size_t)topic_size >= sizeof(topic)) {
            free(text);
            log_warning("notification %lld not published (out of memory); subscribers fetch it "
                        "when they see the gap",
                        (long long)notice->seq);
            continue;
        }
        if (zmq_send(daemon->notify_socket, topic, (size_t)topic_size, ZMQ_SNDMORE | ZMQ_DONTWAIT) <
                0 ||
            zmq_send(daemon->notify_socket, text, strlen(text), ZMQ_DONTWAIT) < 0)
            log_debug("notification %lld not published: %s", (long long)notice->seq,
                      zmq_strerror(zmq_errno()));
        free(text);
    }
}

static int
count_one(void *context, const struct dir_staff *staff)
{
    (void)staff;
    (*(int *)context)++;
    return 0;
}

/* Roles that escalation steps name but nobody holds yet: a warning, not an error. */
static void
warn_unheld_roles(struct daemon *daemon)
{
    const struct kinds *kinds = &daemon->config.kinds;
    const char *checked[KINDS_MAX * KIND_MAX_ESCALATIONS * KIND_MAX_TARGETS];
    int checked_count = 0;

    /* Each role once: finding its holders reads the staff table (there is no index on role). */
    for (int i = 0; i < kinds->kind_count; i++) {
        const struct kind *kind = &kinds->kinds[i];
        for (int s = 0; s < kind->escalation_count; s++) {
            for (int t = 0; t < kind->escalations[s].target_count; t++) {
                const struct escalation_target *target = &kind->escalations[s].targets[t];
                bool seen = false;
                int found = 0;
                if (target->type != TARGET_ROLE)
                    continue;
                for (int c = 0; c < checked_count && !seen; c++)
                    seen = strcmp(checked[c], target->name) == 0;
                if (seen)
                    continue;
                checked[checked_count++] = target->name;
                if (store_staff_with_role(daemon->reader, target->name, 1, count_one, &found) < 0 ||
                    found == 0)
                    log_warning("escalation steps name role \"%s\" (first in kinds \"%s\", "
                                "step %d), which no staff member has yet; until someone does, "
                                "such a step goes to the manager above the responsible one",
                                target->name, kind->name, s + 1);
            }
        }
    }
}

static int
run(const char *path, bool test_clock, int64_t test_start_ms)
{
    struct daemon daemon;
    struct config_errors errors;
    struct store_options options;
    struct ingest_options ingest_options;
    char message[512];
    uv_loop_t loop;
    int r, status = 1;

    memset(&daemon, 0, sizeof(daemon));
    log_init("carehubd", LOG_INFO);
    if (config_load(path, &daemon.config, &errors) < 0) {
        for (int i = 0; i < errors.count && i < CONFIG_MAX_ERRORS; i++)
            log_error("%s", errors.text[i]);
        return 1;
    }
    log_set_level(daemon.config.log_level);
    /*
     * Due dates and send times are the organisation's: the C library's local
     * time is set to its zone once, here, before any thread starts.
     */
    setenv("TZ", daemon.config.timezone, 1);
    tzset();
    clock_init(&daemon.clock, test_clock, test_start_ms);
    if (test_clock) {
        char when[32];
        timefmt_format_rfc3339(test_start_ms, when, sizeof(when));
        log_warning("running on a TEST CLOCK starting at %s: for tests only; the clock moves "
                    "only when a client sets it",
                    when);
    }
    if (uv_loop_init(&loop) < 0) {
        log_error("cannot start the event loop");
        config_free(&daemon.config);
        return 1;
    }
    loop.data = &daemon;
    daemon.loop = &loop;

    store_global_init();
    options.writer = true;
    options.durable = daemon.config.durable;
    options.cache_mb = daemon.config.cache_mb;
    options.separate_checkpoints = true;
    r = store_open(&daemon.writer, daemon.config.state_dir, &options, message, sizeof(message));
    /*
     * storage.cache_mb is the writer's; queries read through indexes and
     * get half of it, as does the checkpointer (with less, checkpoints slow
     * the writer: measured with bench-ingest), so memory stays bounded by
     * about twice the setting.
     */
    if (r == 0) {
        options.writer = false;
        options.separate_checkpoints = false;
        options.cache_mb = daemon.config.cache_mb / 2 > 0 ? daemon.config.cache_mb / 2 : 1;
        r = store_open(&daemon.reader, daemon.config.state_dir, &options, message, sizeof(message));
    }
    if (r == 0) {
        options.separate_checkpoints = true; /* this connection is the checkpointer */
        r = store_open(&daemon.checkpointer, daemon.config.state_dir, &options, message,
                       sizeof(message));
    }
    if (r < 0) {
        log_error("%s", message);
        goto out;
    }
    if (!daemon.config.durable)
        log_warning("storage.durable is false: acknowledged events can be lost on power failure "
                    "(for benchmarks only)");
    ingest_options.max_events = daemon.config.commit_max_events;
    ingest_options.max_delay_ms = daemon.config.commit_max_delay_ms;
    ingest_options.checkpointer = daemon.checkpointer;
    ingest_options.checkpoint_frames = daemon.config.checkpoint_pages;
    ingest_options.kinds = &daemon.config.kinds;
    ingest_options.metrics = &daemon.config.metrics;
    ingest_options.clock = &daemon.clock;
    ingest_options.published = on_published;
    r = ingest_new(&daemon.ingest, &loop, daemon.writer, &ingest_options, api_publish_done, &daemon,
                   message, sizeof(message));
    if (r < 0) {
        log_error("%s", message);
        goto out;
    }
    r = open_sockets(&daemon);
    if (r < 0)
        goto out;
    r = bus_init(&daemon.api, &loop, daemon.api_socket, api_on_message, &daemon);
    daemon.api_open = true;
    if (r < 0) {
        log_error("cannot watch the API socket: %s", uv_strerror(r));
        goto out;
    }
    uv_signal_init(&loop, &daemon.sigterm);
    uv_signal_init(&loop, &daemon.sigint);
    uv_signal_start(&daemon.sigterm, on_signal, SIGTERM);
    uv_signal_start(&daemon.sigint, on_signal, SIGINT);
    uv_signal_init(&loop, &daemon.sighup);
    uv_signal_start(&daemon.sighup, on_hangup, SIGHUP);
    signal(SIGPIPE, SIG_IGN);
    warn_unheld_roles(&daemon);

    daemon.started_loop_ms = uv_now(&loop);
    daemon.started_wall_ms = clock_wall_ms();
    log_info("carehubd %s ready: %lld events stored, api %s, notify %s, database %s",
             CAREHUB_VERSION, (long long)ingest_totals(daemon.ingest)->events_stored,
             daemon.config.api_endpoint, daemon.config.notify_endpoint, store_path(daemon.writer));
    uv_run(&loop, UV_RUN_DEFAULT);
    status = 0;

out:
    if (daemon.api_open) {
        bus_close(&daemon.api, on_bus_closed);
        uv_run(&loop, UV_RUN_DEFAULT);
    }
    if (daemon.ingest && !daemon.stopping) {
        ingest_close(daemon.ingest, NULL);
        uv_run(&loop, UV_RUN_DEFAULT);
    }
    if (daemon.api_socket)
        zmq_close(daemon.api_socket);
    if (daemon.notify_socket)
        zmq_close(daemon.notify_socket);
    if (daemon.zmq)
        zmq_ctx_term(daemon.zmq);
    ingest_free(daemon.ingest);
    store_close(daemon.checkpointer);
    store_close(daemon.reader);
    store_close(daemon.writer);
    uv_loop_close(&loop);
    config_free(&daemon.config);
    if (status == 0)
        log_info("stopped");
    return status;
}

int
main(int argc, char **argv)
{
    static const struct option long_options[] = {
        {"config", required_argument, NULL, 'c'},     {"check", no_argument, NULL, 'n'},
        {"test-clock", required_argument, NULL, 'T'}, {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},          {NULL, 0, NULL, 0}};
    const char *path = NULL;
    bool check = false, test_clock = false;
    int64_t test_start_ms = 0;
    int c;

    while ((c = getopt_long(argc, argv, "c:nhV", long_options, NULL)) != -1) {
        switch (c) {
        case 'c':
            path = optarg;
            break;
        case 'n':
            check = true;
            break;
        case 'T':
            if (timefmt_parse_rfc3339(optarg, &test_start_ms) < 0) {
                fprintf(stderr,
                        "carehubd: --test-clock: \"%s\" is not an RFC 3339 time such as "
                        "2026-01-05T08:00:00Z\n",
                        optarg);
                return 2;
            }
            test_clock = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            printf("carehubd %s\n", CAREHUB_VERSION);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (path == NULL || optind != argc) {
        fprintf(stderr, "carehubd: %s\n",
                path == NULL ? "-c FILE is required" : "unexpected argument");
        usage(stderr);
        return 2;
    }
    return check ? check_only(path) : run(path, test_clock, test_start_ms);
}

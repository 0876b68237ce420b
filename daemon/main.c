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
 * acknowledged, and exits 0.  SIGHUP reads the configuration file again and
 * swaps it in whole, or keeps the one in force when the new one is not
 * valid (see reload_start()).
 *
 * Under systemd (Type=notify) it tells the service manager through
 * sd_notify(): READY=1 once the database is open and every socket is bound,
 * STATUS= with a one-line summary every ten seconds, WATCHDOG=1 from a timer
 * on the loop when WatchdogSec= is set (so a loop that stops turning stops
 * the pings), RELOADING=1 and READY=1 around a reload, and STOPPING=1.
 * Without NOTIFY_SOCKET none of that is sent.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <systemd/sd-daemon.h>
#include <uv.h>
#include <zmq.h>

#include "api.h"
#include "auth.h"
#include "bus.h"
#include "clock.h"
#include "config.h"
#include "daemon.h"
#include "ingest.h"
#include "keyfile.h"
#include "log.h"
#include "store.h"
#include "timefmt.h"
#include "zap.h"

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

/* The ZAP handler's handles are closed; its sockets go with the context (zap_free()). */
static void
on_zap_closed(struct zap *zap)
{
    (void)zap;
}

static void
close_timers(struct daemon *daemon)
{
    if (!daemon->timers_open)
        return;
    daemon->timers_open = false;
    uv_close((uv_handle_t *)&daemon->status_timer, NULL);
    uv_close((uv_handle_t *)&daemon->watchdog_timer, NULL);
}

/* Everything received has been committed and answered: let the loop end. */
static void
on_ingest_closed(void *data)
{
    struct daemon *daemon = data;

    log_info("all received events are committed and acknowledged; stopping");
    if (daemon->api_open)
        bus_close(&daemon->api, on_bus_closed);
    if (daemon->zap_open) {
        daemon->zap_open = false;
        zap_close(&daemon->zap, on_zap_closed);
    }
    uv_close((uv_handle_t *)&daemon->sigterm, NULL);
    uv_close((uv_handle_t *)&daemon->sigint, NULL);
    uv_close((uv_handle_t *)&daemon->sighup, NULL);
    close_timers(daemon);
}

/* ---- systemd's notification socket ---- */

/* How often STATUS= is sent while nothing else happens. */
#define STATUS_INTERVAL_MS 10000

/*
 * Sends text (lines "NAME=value") to the service manager.  Under systemd a
 * failure only means systemctl shows less, so it is logged at debug level;
 * without NOTIFY_SOCKET sd_notify() sends nothing and returns 0.
 */
static void
notify(const char *text)
{
    int r = sd_notify(0, text);

    if (r < 0)
        log_debug("cannot tell the service manager \"%s\": %s", text, strerror(-r));
}

/*
 * The one line systemctl status shows: what is stored, how fast events
 * arrive (since the last line), what the scheduler does next and which
 * configuration is in force.  Written into buf after "STATUS=".
 */
static void
format_status(struct daemon *daemon, char *buf, size_t size)
{
    const struct store_counters *totals = ingest_totals(daemon->ingest);
    uint64_t now = uv_now(daemon->loop);
    int64_t next = ingest_next_action_ms(daemon->ingest);
    double rate = 0;
    char next_text[32] = "none planned", loaded[32];

    if (now > daemon->status_loop_ms && daemon->status_loop_ms != 0)
        rate = (double)(totals->events_stored - daemon->status_events) * 1000.0 /
               (double)(now - daemon->status_loop_ms);
    daemon->status_loop_ms = now;
    daemon->status_events = totals->events_stored;
    if (next != 0)
        timefmt_format_rfc3339(next, next_text, sizeof(next_text));
    timefmt_format_rfc3339(daemon->config_loaded_wall_ms, loaded, sizeof(loaded));
    snprintf(buf, size,
             "STATUS=%lld events stored (%.1f/s), %zu waiting; %lld staff, %lld teams; next "
             "reminder or escalation %s; configuration loaded %s%s",
             (long long)totals->events_stored, rate,
             ingest_waiting_events(daemon->ingest) + ingest_in_flight_events(daemon->ingest),
             (long long)totals->staff_active, (long long)totals->teams, next_text, loaded,
             daemon->reload_refused ? ", the last reload refused (see the log)" : "");
}

static void
notify_status(struct daemon *daemon, const char *before)
{
    char text[640];
    int used = snprintf(text, sizeof(text), "%s", before);

    format_status(daemon, text + used, sizeof(text) - (size_t)used);
    notify(text);
}

static void
on_status_timer(uv_timer_t *timer)
{
    struct daemon *daemon = timer->loop->data;

    if (!daemon->stopping)
        notify_status(daemon, "");
}

/* Sent from the loop, so that a loop that no longer turns stops the pings. */
static void
on_watchdog_timer(uv_timer_t *timer)
{
    (void)timer;
    notify("WATCHDOG=1");
}

/*
 * Starts the status timer, and the watchdog timer when the service manager
 * asks for pings (WATCHDOG_USEC, and WATCHDOG_PID when set, is this
 * process): at half the interval, as sd_watchdog_enabled(3) advises.
 * Neither keeps the loop alive; on_ingest_closed() closes both.
 */
static void
start_timers(struct daemon *daemon)
{
    uint64_t usec = 0;
    int r;

    uv_timer_init(daemon->loop, &daemon->status_timer);
    uv_timer_init(daemon->loop, &daemon->watchdog_timer);
    daemon->timers_open = true;
    uv_timer_start(&daemon->status_timer, on_status_timer, STATUS_INTERVAL_MS, STATUS_INTERVAL_MS);
    uv_unref((uv_handle_t *)&daemon->status_timer);
    r = sd_watchdog_enabled(0, &usec);
    if (r < 0)
        log_warning("ignoring the watchdog settings from the service manager: %s", strerror(-r));
    if (r > 0) {
        uint64_t interval = usec / 2000 > 0 ? usec / 2000 : 1;
        uv_timer_start(&daemon->watchdog_timer, on_watchdog_timer, interval, interval);
        log_info("watchdog: pinging the service manager every %llu ms",
                 (unsigned long long)interval);
    }
    uv_unref((uv_handle_t *)&daemon->watchdog_timer);
}

/* ---- The authorised keys ---- */

/*
 * Reads the authorised-keys file at path into a new struct (the caller's,
 * released with free_keys()), or logs every mistake as "FILE:LINE: reason"
 * and returns NULL.
 */
static struct auth_keys *
load_keys(const char *path)
{
    struct auth_keys *keys = calloc(1, sizeof(*keys));
    struct auth_errors *errors = calloc(1, sizeof(*errors));
    int r = keys != NULL && errors != NULL ? auth_keys_load(path, keys, errors) : -ENOMEM;

    if (r < 0) {
        if (errors != NULL) {
            for (int i = 0; i < errors->count && i < AUTH_MAX_ERRORS; i++)
                log_error("%s", errors->text[i]);
            if (errors->count > AUTH_MAX_ERRORS)
                log_error("%s: %d more errors not shown", path, errors->count - AUTH_MAX_ERRORS);
        }
        if (r == -ENOMEM)
            log_error("%s: out of memory reading the authorised keys", path);
        auth_keys_free(keys);
        free(keys);
        keys = NULL;
    }
    free(errors);
    return keys;
}

static void
free_keys(struct auth_keys *keys)
{
    auth_keys_free(keys);
    free(keys);
}

/* ---- Reloading the configuration (SIGHUP) ---- */

static void reload_start(struct daemon *daemon);

/* A SIGHUP that came during the reload just finished is served now. */
static void
reload_next(struct daemon *daemon)
{
    if (!daemon->reload_again || daemon->stopping)
        return;
    daemon->reload_again = false;
    reload_start(daemon);
}

/* Ends a reload: READY=1 again, with the summary. */
static void
reload_ended(struct daemon *daemon)
{
    if (daemon->stopping)
        return;
    notify_status(daemon, "READY=1\n");
    reload_next(daemon);
}

/* Refuses the configuration next (freed here): the one in force stays, whole. */
static void __attribute__((format(printf, 3, 4)))
reload_refuse(struct daemon *daemon, struct config *next, const char *fmt, ...)
{
    char reason[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(reason, sizeof(reason), fmt, ap);
    va_end(ap);
    config_free(next);
    free(next);
    free_keys(daemon->reload_keys);
    daemon->reload_keys = NULL;
    daemon->reload_refused = true;
    log_error("configuration not reloaded: %s; carehubd goes on with the configuration it had",
              reason);
    reload_ended(daemon);
}

static void
log_config_errors(const char *path, const struct config_errors *errors)
{
    for (int i = 0; i < errors->count && i < CONFIG_MAX_ERRORS; i++)
        log_error("%s", errors->text[i]);
    if (errors->count > CONFIG_MAX_ERRORS)
        log_error("%s: %d more errors not shown", path, errors->count - CONFIG_MAX_ERRORS);
}

static void warn_unheld_roles(struct daemon *daemon);

/*
 * Reads the file again (the path given at start) into a fresh struct
 * config.  A file with mistakes is refused, each mistake logged as at start;
 * so is one that changes a key only a restart can apply (config.c marks
 * them): the configuration in force is always one whole file, never a mix
 * of two.  A valid file goes to the writer as an INGEST_RELOAD request,
 * which writes the KPI figures and ends its transaction; reload_finish()
 * then swaps it in, between two transactions.
 */
static void
reload_start(struct daemon *daemon)
{
    struct timespec now;
    struct config *next = calloc(1, sizeof(*next));
    struct config_errors errors;
    struct ingest_request *request;
    char text[PATH_MAX + 128];
    int changed;

    clock_gettime(CLOCK_MONOTONIC, &now);
    /* MONOTONIC_USEC: systemd 253 and later match the READY=1 that ends the reload to it. */
    snprintf(text, sizeof(text), "RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading %s",
             (unsigned long long)now.tv_sec * 1000000ULL + (unsigned long long)now.tv_nsec / 1000,
             daemon->config.path);
    notify(text);
    log_notice("received SIGHUP: reading the configuration again from %s", daemon->config.path);
    if (next == NULL) {
        reload_refuse(daemon, NULL, "out of memory");
        return;
    }
    if (config_load(daemon->config.path, next, &errors) < 0) {
        log_config_errors(daemon->config.path, &errors);
        reload_refuse(daemon, next, "%s has %d mistake%s (above)", daemon->config.path,
                      errors.count, errors.count == 1 ? "" : "s");
        return;
    }
    changed = config_restart_changes(&daemon->config, next, &errors);
    if (changed > 0) {
        log_config_errors(daemon->config.path, &errors);
        reload_refuse(daemon, next,
                      "%d key%s that only a restart can change differ%s (above); check the file "
                      "with -n and restart carehubd to apply it",
                      changed, changed == 1 ? "" : "s", changed == 1 ? "s" : "");
        return;
    }
    /* The keys are read now, so that a file with a mistake refuses the whole reload. */
    if (next->curve) {
        daemon->reload_keys = load_keys(next->authorised_keys);
        if (daemon->reload_keys == NULL) {
            reload_refuse(daemon, next, "%s has mistakes (above)", next->authorised_keys);
            return;
        }
    }
    request = ingest_request_new(0);
    if (request == NULL) {
        reload_refuse(daemon, next, "out of memory");
        return;
    }
    request->job = INGEST_RELOAD;
    daemon->reload = next;
    ingest_submit(daemon->ingest, request);
}

/*
 * The writer has written the KPI figures and is idle: the new configuration
 * replaces the one in force as a whole, and the old one is freed, since
 * nothing refers to it any more (the API reads daemon->config on this loop;
 * ingest_reconfigure() moved the writer's modules to the new kinds and
 * metrics).  A later section that a module keeps pointers into is one more
 * argument to ingest_reconfigure() or one more call here.
 */
static void
reload_finish(struct daemon *daemon, struct ingest_request *request)
{
    struct config *next = daemon->reload;
    struct config previous;
    int r = request->failed;

    ingest_request_free(request);
    daemon->reload = NULL;
    if (daemon->stopping) {
        log_info("configuration not reloaded: carehubd is stopping");
        config_free(next);
        free(next);
        free_keys(daemon->reload_keys);
        daemon->reload_keys = NULL;
        return;
    }
    if (r < 0) {
        reload_refuse(daemon, next,
                      "the transaction before the switch failed (%s); send SIGHUP again",
                      ingest_last_error(daemon->ingest));
        return;
    }
    previous = daemon->config;
    daemon->config = *next;
    r = ingest_reconfigure(daemon->ingest, &daemon->config.kinds, &daemon->config.metrics,
                           daemon->config.commit_max_events, daemon->config.commit_max_delay_ms);
    if (r < 0) {
        *next = daemon->config;
        daemon->config = previous;
        reload_refuse(daemon, next, "the writer could not take it (%s)", strerror(-r));
        return;
    }
    free(next); /* its contents are daemon->config's now */
    config_free(&previous);
    /*
     * The ZAP handler and the API look the keys up at each use: a key
     * removed here is refused at its next request, even on a connection
     * made before.
     */
    if (daemon->reload_keys != NULL) {
        free_keys(daemon->keys);
        daemon->keys = daemon->reload_keys;
        daemon->reload_keys = NULL;
        log_notice("authorised keys reloaded from %s: %d keys", daemon->config.authorised_keys,
                   daemon->keys->count);
    }
    log_set_level(daemon->config.log_level);
    daemon->config_loaded_wall_ms = clock_wall_ms();
    daemon->reload_refused = false;
    log_notice("configuration reloaded from %s: %d review kinds, %d courses, %d metrics",
               daemon->config.path, daemon->config.kinds.kind_count,
               daemon->config.kinds.course_count, daemon->config.metrics.count);
    warn_unheld_roles(daemon);
    reload_ended(daemon);
}

static void
on_hangup(uv_signal_t *handle, int signum)
{
    struct daemon *daemon = handle->loop->data;

    (void)signum;
    if (daemon->stopping) {
        log_notice("received SIGHUP while stopping: the configuration is not read again");
        return;
    }
    if (daemon->reload != NULL) {
        log_notice("received SIGHUP during a reload: the file is read again once this one ends");
        daemon->reload_again = true;
        return;
    }
    reload_start(daemon);
}

/* Routes what the writer finished: reloads here, everything else to the API. */
static void
on_ingest_done(void *data, struct ingest_request *request)
{
    if (request->job == INGEST_RELOAD)
        reload_finish(data, request);
    else
        api_publish_done(data, request);
}

static void
on_signal(uv_signal_t *handle, int signum)
{
    struct daemon *daemon = handle->loop->data;
    char text[160];

    if (daemon->stopping)
        return;
    snprintf(text, sizeof(text), "STOPPING=1\nSTATUS=stopping: finishing %zu received events",
             ingest_waiting_events(daemon->ingest) + ingest_in_flight_events(daemon->ingest));
    notify(text);
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

/*
 * True for an endpoint only this machine can reach: ipc://, inproc://, or
 * TCP on a loopback address.
 */
static bool
endpoint_is_local(const char *endpoint)
{
    static const char *const local[] = {"ipc://", "inproc://", "tcp://127.",
                                        "tcp://[::1]:", "tcp://localhost:"};

    for (size_t i = 0; i < sizeof(local) / sizeof(local[0]); i++)
        if (strncmp(endpoint, local[i], strlen(local[i])) == 0)
            return true;
    return false;
}

/*
 * Gives the file of an ipc:// endpoint the mode of security.ipc_mode: who
 * may connect is who may write to the file.  libzmq creates it with the
 * process's umask; this tightens (or opens) it to the configured mode.
 */
static int
set_ipc_mode(const char *key, const char *endpoint, int mode)
{
    const char *path = endpoint + strlen("ipc://");

    if (strncmp(endpoint, "ipc://", 6) != 0 || path[0] == '@' || path[0] == '\0')
        return 0;
    if (chmod(path, (mode_t)mode) < 0) {
        int r = -errno;
        log_error("cannot set the mode of %s %s to %04o: %s", key, endpoint, mode, strerror(-r));
        return r;
    }
    return 0;
}

/*
 * The options both sockets share: the handshake and heartbeat limits, the
 * ZAP domain (the handler decides every connection: keys with CURVE, and
 * the connection limit either way) and, with CURVE, the server's secret key.
 */
static int
secure_socket(struct daemon *daemon, void *socket, const char *name, const char *secret_key)
{
    const struct config *config = &daemon->config;
    char err[256];
    int r;

    if ((r = set_int_option(socket, ZMQ_HANDSHAKE_IVL, config->handshake_timeout_ms)) < 0 ||
        (r = set_int_option(socket, ZMQ_HEARTBEAT_IVL, config->heartbeat_ivl_ms)) < 0 ||
        (r = set_int_option(socket, ZMQ_HEARTBEAT_TIMEOUT, config->heartbeat_timeout_ms)) < 0) {
        log_error("cannot set the limits of the %s socket: %s", name, zmq_strerror(-r));
        return r;
    }
    r = zap_require(socket, err, sizeof(err));
    if (r < 0) {
        log_error("the %s socket: %s", name, err);
        return r;
    }
    if (!config->curve)
        return 0;
    if ((r = set_int_option(socket, ZMQ_CURVE_SERVER, 1)) < 0 ||
        (zmq_setsockopt(socket, ZMQ_CURVE_SECRETKEY, secret_key, KEYFILE_Z85 + 1) < 0 &&
         (r = -zmq_errno()) < 0)) {
        log_error("cannot make the %s socket a CURVE server: %s (is libzmq built with CURVE?)",
                  name, zmq_strerror(-r));
        return r;
    }
    return 0;
}

/*
 * Starts the ZAP handler, then creates and binds the API (ROUTER) and
 * notification (PUB) sockets; logs what fails.  The handler is bound first:
 * a socket with a ZAP domain and ZMQ_ZAP_ENFORCE_DOMAIN refuses everyone
 * while no handler is there, rather than admitting everyone.
 */
static int
open_sockets(struct daemon *daemon, const char *secret_key)
{
    const struct config *config = &daemon->config;
    int64_t max_size = config->max_message_bytes * 2 + 65536;
    char err[256];
    int r = 0;

    daemon->zmq = zmq_ctx_new();
    if (daemon->zmq == NULL) {
        r = -zmq_errno();
        log_error("cannot create the ZeroMQ context: %s", zmq_strerror(-r));
        return r;
    }
    r = zap_open(&daemon->zap, daemon->loop, daemon->zmq,
                 (const struct auth_keys *const *)&daemon->keys, config->curve,
                 &daemon->config.max_connections, err, sizeof(err));
    daemon->zap_open = r == 0;
    if (r < 0) {
        log_error("%s; carehubd will not start", err);
        return r;
    }
    daemon->api_socket = zmq_socket(daemon->zmq, ZMQ_ROUTER);
    daemon->notify_socket = zmq_socket(daemon->zmq, ZMQ_PUB);
    if (daemon->api_socket == NULL || daemon->notify_socket == NULL)
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
        r = set_int_option(daemon->api_socket, ZMQ_RCVHWM, config->receive_hwm);
    if (r == 0)
        r = set_int_option(daemon->api_socket, ZMQ_LINGER, 2000);
    if (r == 0)
        r = set_int_option(daemon->notify_socket, ZMQ_SNDHWM, config->send_hwm);
    if (r == 0)
        r = set_int_option(daemon->notify_socket, ZMQ_LINGER, 0);
    if (r < 0) {
        log_error("cannot create the ZeroMQ sockets: %s", zmq_strerror(-r));
        return r;
    }
    if ((r = secure_socket(daemon, daemon->api_socket, "API", secret_key)) < 0 ||
        (r = secure_socket(daemon, daemon->notify_socket, "notification", secret_key)) < 0)
        return r;
    if ((r = zap_watch(&daemon->zap, daemon->api_socket, err, sizeof(err))) < 0 ||
        (r = zap_watch(&daemon->zap, daemon->notify_socket, err, sizeof(err))) < 0) {
        log_error("%s", err);
        return r;
    }
    if ((r = bind_endpoint(daemon->api_socket, "api.endpoint", config->api_endpoint)) < 0 ||
        (r = bind_endpoint(daemon->notify_socket, "notify.endpoint", config->notify_endpoint)) < 0)
        return r;
    if ((r = set_ipc_mode("api.endpoint", config->api_endpoint, config->ipc_mode)) < 0 ||
        (r = set_ipc_mode("notify.endpoint", config->notify_endpoint, config->ipc_mode)) < 0)
        return r;
    if (!config->curve) {
        const char *endpoints[2][2] = {{"api.endpoint", config->api_endpoint},
                                       {"notify.endpoint", config->notify_endpoint}};
        for (int i = 0; i < 2; i++)
            if (!endpoint_is_local(endpoints[i][1]))
                log_warning("%s %s is reachable from other machines without CURVE: anyone who "
                            "can reach it can publish and read personal data; set "
                            "security.curve (see docs/configuration.md)",
                            endpoints[i][0], endpoints[i][1]);
    }
    return 0;
}

/*
 * With CURVE: reads the daemon's key pair into public_key and secret_key
 * and the authorised keys into daemon->keys; logs every mistake.
 */
static int
load_security(struct daemon *daemon, char public_key[KEYFILE_Z85 + 1],
              char secret_key[KEYFILE_Z85 + 1])
{
    const struct config *config = &daemon->config;
    char err[512];
    int r;

    if (!config->curve)
        return 0;
    if (!zmq_has("curve")) {
        log_error("security.curve is true but this libzmq has no CURVE; carehubd will not start");
        return -ENOTSUP;
    }
    r = keyfile_read_pair(config->server_key_file, public_key, secret_key, err, sizeof(err));
    if (r < 0) {
        log_error("security.server_key_file: %s; carehubd will not start", err);
        return r;
    }
    daemon->keys = load_keys(config->authorised_keys);
    if (daemon->keys == NULL) {
        log_error("security.authorised_keys: %s has mistakes (above); carehubd will not start",
                  config->authorised_keys);
        return -EINVAL;
    }
    log_info("CURVE on: server key %s, %d authorised keys from %s", public_key, daemon->keys->count,
             config->authorised_keys);
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
    char public_key[KEYFILE_Z85 + 1] = "", secret_key[KEYFILE_Z85 + 1] = "";
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
    ingest_options.retention = &daemon.config.retention; /* a reload changes it in place */
    ingest_options.published = on_published;
    r = ingest_new(&daemon.ingest, &loop, daemon.writer, &ingest_options, on_ingest_done, &daemon,
                   message, sizeof(message));
    if (r < 0) {
        log_error("%s", message);
        goto out;
    }
    r = load_security(&daemon, public_key, secret_key);
    if (r == 0)
        r = open_sockets(&daemon, secret_key);
    explicit_bzero(secret_key, sizeof(secret_key)); /* libzmq keeps its own copy */
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
    daemon.config_loaded_wall_ms = daemon.started_wall_ms;
    start_timers(&daemon);
    log_info("carehubd %s ready: %lld events stored, api %s, notify %s, database %s",
             CAREHUB_VERSION, (long long)ingest_totals(daemon.ingest)->events_stored,
             daemon.config.api_endpoint, daemon.config.notify_endpoint, store_path(daemon.writer));
    /* The database is open and every socket bound: requests are answered from here on. */
    notify_status(&daemon, "READY=1\n");
    uv_run(&loop, UV_RUN_DEFAULT);
    status = 0;

out:
    if (daemon.api_open) {
        bus_close(&daemon.api, on_bus_closed);
        uv_run(&loop, UV_RUN_DEFAULT);
    }
    /* The ZAP handler goes with the ingest's handles: the loop runs until all are closed. */
    if (daemon.zap_open) {
        daemon.zap_open = false;
        zap_close(&daemon.zap, on_zap_closed);
    }
    if (daemon.ingest && !daemon.stopping)
        ingest_close(daemon.ingest, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    /* Monitors stopped before their sockets close: libzmq leaks a pending event otherwise. */
    if (daemon.api_socket)
        zmq_socket_monitor(daemon.api_socket, NULL, 0);
    if (daemon.notify_socket)
        zmq_socket_monitor(daemon.notify_socket, NULL, 0);
    if (daemon.api_socket)
        zmq_close(daemon.api_socket);
    if (daemon.reload != NULL) {
        config_free(daemon.reload); /* a reload the writer never reached */
        free(daemon.reload);
    }
    if (daemon.notify_socket)
        zmq_close(daemon.notify_socket);
    zap_free(&daemon.zap);
    free_keys(daemon.keys);
    free_keys(daemon.reload_keys);
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

/*
 * The api module's ops for administrators: backup (docs/protocol.md).
 *
 * A backup copies the database with SQLite's online backup API, on libuv's
 * thread pool and through a connection of its own, so that the loop goes on
 * answering and the writer goes on committing while it runs.  The copy is
 * the database as it was when the backup began (store_backup()).  It is
 * written to PATH.tmp, synced and only then renamed to PATH, and the
 * directory synced, so a file with the final name is always a whole copy.
 * One backup runs at a time.  One still running when the daemon begins to
 * stop is abandoned at its next step, so that it never holds up a shutdown.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api_internal.h"
#include "log.h"
#include "store.h"
#include "timefmt.h"
#include "wire.h"

/* The op's own error codes (docs/protocol.md, section 5). */
#define BACKUP_E_FILE_EXISTS "file_exists"
#define BACKUP_E_CANNOT_WRITE "cannot_write"

/*
 * The longest path taken: SQLite's Unix VFS opens paths of at most 512
 * bytes, and the copy is written to PATH.tmp first.
 */
#define BACKUP_PATH_MAX 500
#define BACKUP_TEMP_SUFFIX ".tmp"
/* The cache of the backup's connection: each page passes through it once. */
#define BACKUP_CACHE_MB 2

struct backup {
    uv_work_t work;
    uv_prepare_t watch; /* on the loop: tells the worker to stop once the daemon stops */
    struct daemon *daemon;
    struct bus_route route;
    cJSON *request; /* owned; id points into it */
    const cJSON *id;
    bool overwrite;
    char path[BACKUP_PATH_MAX + 1];
    char temp_path[BACKUP_PATH_MAX + sizeof(BACKUP_TEMP_SUFFIX)];
    char *state_dir; /* a copy: the worker must not read the configuration */
    atomic_bool stop;
    /* Written by the worker; read on the loop once it is done. */
    int result;
    const char *code; /* the error code, when result < 0 */
    char message[1024];
    struct store_backup_info info;
    int64_t bytes;
    int64_t started_ms;
    uint64_t duration_ns;
};

/* Records why the backup failed; returns r. */
static int __attribute__((format(printf, 4, 5)))
fail(struct backup *backup, const char *code, int r, const char *format, ...)
{
    va_list args;

    va_start(args, format);
    vsnprintf(backup->message, sizeof(backup->message), format, args);
    va_end(args);
    backup->code = code;
    return r;
}

/* The directory part of an absolute path: "/" for "/carehub.db". */
static void
directory_of(const char *path, char *out, size_t size)
{
    const char *slash = strrchr(path, '/');
    size_t length = slash == path ? 1 : (size_t)(slash - path);

    snprintf(out, size, "%.*s", (int)length, path);
}

/* Who the daemon runs as, for a message about permissions: "carehub (uid 998)". */
static void
describe_user(char *out, size_t size)
{
    struct passwd entry, *found = NULL;
    char buffer[1024];
    uid_t uid = geteuid();

    if (getpwuid_r(uid, &entry, buffer, sizeof(buffer), &found) == 0 && found != NULL)
        snprintf(out, size, "%s (uid %ld)", found->pw_name, (long)uid);
    else
        snprintf(out, size, "uid %ld", (long)uid);
}

/*
 * A cannot_write failure: what could not be done to path and the system's
 * reason, and for a permission, the user the daemon runs as.  Returns -e.
 */
static int
fail_cannot_write(struct backup *backup, int e, const char *what, const char *path)
{
    char user[160];

    if (e != EACCES && e != EPERM)
        return fail(backup, BACKUP_E_CANNOT_WRITE, -e, "%s %s: %s", what, path, strerror(e));
    describe_user(user, sizeof(user));
    return fail(backup, BACKUP_E_CANNOT_WRITE, -e,
                "%s %s: %s; the directory must be writable by the user carehubd runs as, %s", what,
                path, strerror(e), user);
}

/*
 * Creates PATH.tmp, empty, refusing to follow a link.  An existing one
 * (another backup to the same file, or one interrupted) is replaced only
 * with overwrite.
 */
static int
create_temp(struct backup *backup)
{
    int fd, e;

    fd = open(backup->temp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0640);
    if (fd < 0 && errno == EEXIST && backup->overwrite && unlink(backup->temp_path) == 0)
        fd = open(backup->temp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0640);
    if (fd >= 0) {
        close(fd);
        return 0;
    }
    e = errno;
    if (e == EEXIST)
        return fail(backup, BACKUP_E_FILE_EXISTS, -e,
                    "%s exists: another backup to the same file is being written, or one "
                    "was interrupted; remove it, or give \"overwrite\": true",
                    backup->temp_path);
    return fail_cannot_write(backup, e, "cannot create", backup->temp_path);
}

/* Removes PATH.tmp and any companion SQLite left beside it. */
static void
remove_temp(const struct backup *backup)
{
    static const char *const companions[] = {"", "-wal", "-shm", "-journal"};
    char name[sizeof(backup->temp_path) + 8];

    for (size_t i = 0; i < sizeof(companions) / sizeof(companions[0]); i++) {
        snprintf(name, sizeof(name), "%s%s", backup->temp_path, companions[i]);
        unlink(name);
    }
}

/* Syncs a file (or, with O_DIRECTORY in flags, a directory) to disk; sets *bytes to its size. */
static int
sync_path(const char *path, int flags, int64_t *bytes)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC | flags);
    int r = 0;

    if (fd < 0)
        return -errno;
    if (fsync(fd) < 0 || fstat(fd, &st) < 0)
        r = -errno;
    else if (bytes != NULL)
        *bytes = (int64_t)st.st_size;
    close(fd);
    return r;
}

/* Renames PATH.tmp to PATH; without overwrite, never over a file that appeared meanwhile. */
static int
move_into_place(const struct backup *backup)
{
    if (backup->overwrite)
        return rename(backup->temp_path, backup->path) < 0 ? -errno : 0;
    if (renameat2(AT_FDCWD, backup->temp_path, AT_FDCWD, backup->path, RENAME_NOREPLACE) == 0)
        return 0;
    if (errno != EINVAL)
        return -errno;
    /* A file system without RENAME_NOREPLACE: link() refuses an existing name as well. */
    if (link(backup->temp_path, backup->path) < 0)
        return -errno;
    unlink(backup->temp_path);
    return 0;
}

/* store_backup()'s progress callback: stop once the loop has asked. */
static int
should_stop(void *context, int remaining, int total)
{
    struct backup *backup = context;

    (void)remaining;
    (void)total;
    return atomic_load(&backup->stop) ? 1 : 0;
}

/* Checks where the copy goes, before anything is written. */
static int
check_target(struct backup *backup, const char *directory)
{
    char real_directory[PATH_MAX], real_state_dir[PATH_MAX];
    struct stat st;

    if (realpath(directory, real_directory) == NULL)
        return fail_cannot_write(backup, errno, "cannot write into", directory);
    /* A copy beside the live database could be taken for it, or replace it. */
    if (realpath(backup->state_dir, real_state_dir) != NULL &&
        strcmp(real_directory, real_state_dir) == 0)
        return fail(backup, WIRE_E_BAD_REQUEST, -EINVAL,
                    "%s is in the daemon's state_dir, beside the live database; write backups "
                    "to another directory",
                    backup->path);
    if (lstat(backup->path, &st) == 0) {
        if (!S_ISREG(st.st_mode))
            return fail(backup, BACKUP_E_FILE_EXISTS, -EEXIST,
                        "%s exists and is not a regular file; a backup never replaces it",
                        backup->path);
        if (!backup->overwrite)
            return fail(backup, BACKUP_E_FILE_EXISTS, -EEXIST,
                        "%s exists; give \"overwrite\": true to replace it", backup->path);
    } else if (errno != ENOENT) {
        return fail_cannot_write(backup, errno, "cannot look at", backup->path);
    }
    return 0;
}

/* The whole backup, on the worker thread: 0, or a negative code with code and message set. */
static int
write_backup(struct backup *backup)
{
    const struct store_options options = {.writer = false,
                                          .durable = true,
                                          .cache_mb = BACKUP_CACHE_MB,
                                          .separate_checkpoints = false};
    char directory[sizeof(backup->path)], message[sizeof(backup->message)];
    struct store *store = NULL;
    int r;

    directory_of(backup->path, directory, sizeof(directory));
    r = check_target(backup, directory);
    if (r == 0)
        r = create_temp(backup);
    if (r < 0)
        return r; /* nothing of ours to remove */
    r = store_open(&store, backup->state_dir, &options, message, sizeof(message));
    if (r < 0) {
        fail(backup, WIRE_E_UNAVAILABLE, r, "cannot open the database to copy it: %s", message);
        goto fail;
    }
    r = store_backup(store, backup->temp_path, should_stop, backup, &backup->info, message,
                     sizeof(message));
    store_close(store);
    if (r == -ECANCELED) {
        fail(backup, WIRE_E_UNAVAILABLE, r,
             "the daemon is shutting down: the backup was abandoned and nothing was written to "
             "%s; take it again once the daemon is back",
             backup->path);
        goto fail;
    }
    if (r < 0) {
        fail(backup, backup->info.target_failed ? BACKUP_E_CANNOT_WRITE : WIRE_E_UNAVAILABLE, r,
             "%s", message);
        goto fail;
    }
    r = sync_path(backup->temp_path, 0, &backup->bytes);
    if (r < 0) {
        fail(backup, BACKUP_E_CANNOT_WRITE, r, "cannot write %s to disk: %s", backup->temp_path,
             strerror(-r));
        goto fail;
    }
    r = move_into_place(backup);
    if (r == -EEXIST) {
        fail(backup, BACKUP_E_FILE_EXISTS, r,
             "%s appeared while the backup was being written, and was left alone; give "
             "\"overwrite\": true to replace it",
             backup->path);
        goto fail;
    }
    if (r < 0) {
        fail(backup, BACKUP_E_CANNOT_WRITE, r, "cannot rename %s to %s: %s", backup->temp_path,
             backup->path, strerror(-r));
        goto fail;
    }
    /* The rename itself is durable only once the directory is synced. */
    r = sync_path(directory, O_DIRECTORY, NULL);
    if (r < 0)
        return fail(backup, BACKUP_E_CANNOT_WRITE, r,
                    "%s is complete, but its directory could not be synced (%s): it may be "
                    "lost if the machine stops now",
                    backup->path, strerror(-r));
    return 0;
fail:
    remove_temp(backup);
    return r;
}

static void
run_backup(uv_work_t *work)
{
    struct backup *backup = work->data;
    uint64_t started = uv_hrtime();

    backup->started_ms = clock_wall_ms();
    backup->result = write_backup(backup);
    backup->duration_ns = uv_hrtime() - started;
}

/* Each turn of the loop: a daemon that has begun to stop abandons the backup. */
static void
watch_daemon(uv_prepare_t *watch)
{
    struct backup *backup = watch->data;

    if (backup->daemon->stopping)
        atomic_store(&backup->stop, true);
}

static void
free_backup(uv_handle_t *handle)
{
    struct backup *backup = handle->data;

    cJSON_Delete(backup->request);
    free(backup->state_dir);
    free(backup);
}

static void
reply_backup(struct backup *backup)
{
    const struct store_counters *counters = &backup->info.counters;
    cJSON *reply = wire_reply_ok(backup->id);
    cJSON *events, *staff, *notifications;
    char started[32];

    if (reply == NULL) {
        log_error("out of memory building a reply");
        return;
    }
    timefmt_format_rfc3339(backup->started_ms, started, sizeof(started));
    cJSON_AddStringToObject(reply, "path", backup->path);
    cJSON_AddNumberToObject(reply, "bytes", (double)backup->bytes);
    cJSON_AddNumberToObject(reply, "pages", (double)backup->info.pages);
    events = cJSON_AddObjectToObject(reply, "events");
    cJSON_AddNumberToObject(events, "last_seq", (double)backup->info.last_event_seq);
    cJSON_AddNumberToObject(events, "stored", (double)counters->events_stored);
    cJSON_AddNumberToObject(events, "duplicate", (double)counters->events_duplicate);
    cJSON_AddNumberToObject(events, "rejected", (double)counters->events_rejected);
    staff = cJSON_AddObjectToObject(reply, "staff");
    cJSON_AddNumberToObject(staff, "active", (double)counters->staff_active);
    cJSON_AddNumberToObject(staff, "left", (double)counters->staff_left);
    cJSON_AddNumberToObject(reply, "teams", (double)counters->teams);
    notifications = cJSON_AddObjectToObject(reply, "notifications");
    cJSON_AddNumberToObject(notifications, "last_seq", (double)backup->info.last_notification_seq);
    cJSON_AddStringToObject(reply, "started_at", started);
    cJSON_AddNumberToObject(reply, "duration_s", (double)(backup->duration_ns / 1000000) / 1000.0);
    api_send_reply(backup->daemon, &backup->route, reply);
}

static void
backup_done(uv_work_t *work, int status)
{
    struct backup *backup = work->data;
    double seconds = (double)backup->duration_ns / 1e9;

    (void)status; /* always 0: the work is never cancelled */
    backup->daemon->backup_running = NULL;
    if (backup->result < 0) {
        log_warning("backup to %s failed after %.3f s: %s", backup->path, seconds, backup->message);
        api_send_error(backup->daemon, &backup->route, backup->id, backup->code, backup->message);
    } else {
        log_info("backup written to %s in %.3f s: %lld bytes, events up to %lld, notifications "
                 "up to %lld",
                 backup->path, seconds, (long long)backup->bytes,
                 (long long)backup->info.last_event_seq,
                 (long long)backup->info.last_notification_seq);
        reply_backup(backup);
    }
    uv_close((uv_handle_t *)&backup->watch, free_backup);
}

/* Checks the request's fields; replies bad_request and returns false when one is wrong. */
static bool
check_request(struct daemon *daemon, const struct bus_route *route, const cJSON *request,
              const cJSON *id, const char **path, bool *overwrite)
{
    const cJSON *path_item = cJSON_GetObjectItemCaseSensitive(request, "path");
    const cJSON *overwrite_item = cJSON_GetObjectItemCaseSensitive(request, "overwrite");
    const char *problem = NULL;
    char message[160];
    size_t length;

    *path = cJSON_IsString(path_item) ? path_item->valuestring : NULL;
    length = *path != NULL ? strlen(*path) : 0;
    if (length == 0)
        problem = "backup needs \"path\": the absolute path of the file to write, such as "
                  "/var/lib/carehub/backups/carehub.db";
    else if ((*path)[0] != '/')
        problem = "\"path\" must be absolute (start with /): carehubd writes the file, and "
                  "does not know the directory you are in";
    else if ((*path)[length - 1] == '/')
        problem = "\"path\" names a directory; give the name of the file to write in it";
    else if (overwrite_item != NULL && !cJSON_IsBool(overwrite_item))
        problem = "\"overwrite\" must be true or false";
    if (problem == NULL && length > BACKUP_PATH_MAX) {
        snprintf(message, sizeof(message), "\"path\" is %zu bytes long; the most is %d", length,
                 BACKUP_PATH_MAX);
        problem = message;
    }
    if (problem != NULL) {
        api_send_error(daemon, route, id, WIRE_E_BAD_REQUEST, problem);
        return false;
    }
    *overwrite = cJSON_IsTrue(overwrite_item);
    return true;
}

bool
api_op_backup(struct daemon *daemon, const struct bus_route *route, cJSON *request, const cJSON *id)
{
    struct backup *backup;
    const char *path;
    bool overwrite;
    char message[BACKUP_PATH_MAX + 160];

    if (!check_request(daemon, route, request, id, &path, &overwrite))
        return false;
    if (daemon->backup_running != NULL) {
        snprintf(message, sizeof(message),
                 "a backup (to %s) is already running, and one runs at a time; try again once "
                 "it has finished",
                 daemon->backup_running->path);
        api_send_error(daemon, route, id, WIRE_E_UNAVAILABLE, message);
        return false;
    }
    backup = calloc(1, sizeof(*backup));
    if (backup != NULL)
        backup->state_dir = strdup(daemon->config.state_dir);
    if (backup == NULL || backup->state_dir == NULL) {
        free(backup);
        api_send_error(daemon, route, id, WIRE_E_UNAVAILABLE, "the daemon is out of memory");
        return false;
    }
    backup->daemon = daemon;
    backup->route = *route;
    backup->overwrite = overwrite;
    snprintf(backup->path, sizeof(backup->path), "%s", path);
    snprintf(backup->temp_path, sizeof(backup->temp_path), "%s%s", path, BACKUP_TEMP_SUFFIX);
    atomic_init(&backup->stop, false);
    backup->work.data = backup;
    backup->watch.data = backup;
    uv_prepare_init(daemon->loop, &backup->watch);
    uv_prepare_start(&backup->watch, watch_daemon);
    uv_unref((uv_handle_t *)&backup->watch); /* the work keeps the loop running, not the watch */
    if (uv_queue_work(daemon->loop, &backup->work, run_backup, backup_done) < 0) {
        uv_close((uv_handle_t *)&backup->watch, free_backup);
        api_send_error(daemon, route, id, WIRE_E_UNAVAILABLE,
                       "the daemon cannot start a backup now; try again");
        return false;
    }
    backup->request = request;
    backup->id = id;
    daemon->backup_running = backup;
    return true;
}

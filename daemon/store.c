#define _GNU_SOURCE
#include "store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store_internal.h"

enum statement {
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_EVENTS_EACH,
    ST_EVENT_MATCHES,
    ST_EVENT_INSERT,
    ST_STAFF_GET,
    ST_STAFF_INSERT,
    ST_STAFF_UPDATE,
    ST_STAFF_UPDATE_DETAILS,
    ST_EVENT_DELETE,
    ST_TEAM_GET,
    ST_TEAM_PUT,
    ST_COUNTERS_ADD,
    ST_COUNTERS_GET,
    ST_STAFF_IN_TEAM,
    ST_STAFF_WITH_MANAGER,
    ST_TEAMS_WITH_PARENT,
    ST_TEAMS_WITH_MANAGER,
    ST_STAFF_WITH_ROLE,
    ST_TEAMS_ALL,
    ST_AUDIT_INSERT,
    ST_COUNT
};

#define STAFF_COLUMNS                                                                              \
    "staff_id, name, role, team_id, manager_id, start_date, email, registration_body, "            \
    "registration_number, registration_renewal, left_date"
#define TEAM_COLUMNS "team_id, name, parent_id, manager_id"

_Static_assert(ST_COUNT <= 32, "struct store holds 32 statements");

static const char *const statement_sql[ST_COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_EVENTS_EACH] = "SELECT seq, hash FROM events ORDER BY seq",
    [ST_EVENT_MATCHES] = "SELECT source = ?2 AND event_id = ?3 FROM events WHERE seq = ?1",
    [ST_EVENT_INSERT] = "INSERT INTO events (hash, source, event_id, type, time_ms, received_ms, "
                        "body) VALUES (?, ?, ?, ?, ?, ?, ?)",
    [ST_STAFF_GET] = "SELECT " STAFF_COLUMNS " FROM staff WHERE staff_id = ?",
    [ST_STAFF_INSERT] = "INSERT INTO staff (" STAFF_COLUMNS ", updated_seq) VALUES "
                        "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    [ST_STAFF_UPDATE] = "UPDATE staff SET name = ?2, role = ?3, team_id = ?4, manager_id = ?5, "
                        "start_date = ?6, email = ?7, registration_body = ?8, "
                        "registration_number = ?9, registration_renewal = ?10, left_date = ?11, "
                        "updated_seq = ?12 WHERE staff_id = ?1",
    /* Leaves the indexed columns alone, so SQLite leaves their indexes alone too. */
    [ST_STAFF_UPDATE_DETAILS] = "UPDATE staff SET name = ?2, role = ?3, start_date = ?6, "
                                "email = ?7, registration_body = ?8, registration_number = ?9, "
                                "registration_renewal = ?10, left_date = ?11, updated_seq = ?12 "
                                "WHERE staff_id = ?1 AND team_id = ?4 AND manager_id IS ?5",
    [ST_EVENT_DELETE] = "DELETE FROM events WHERE seq = ?",
    [ST_TEAM_GET] = "SELECT " TEAM_COLUMNS " FROM teams WHERE team_id = ?",
    [ST_TEAM_PUT] = "INSERT OR REPLACE INTO teams (" TEAM_COLUMNS ", updated_seq) VALUES "
                    "(?, ?, ?, ?, ?)",
    [ST_COUNTERS_ADD] = "UPDATE counters SET events_stored = events_stored + ?, "
                        "events_duplicate = events_duplicate + ?, "
                        "events_rejected = events_rejected + ?, staff_active = staff_active + ?, "
                        "staff_left = staff_left + ?, teams = teams + ? WHERE id = 1",
    [ST_COUNTERS_GET] = "SELECT events_stored, events_duplicate, events_rejected, staff_active, "
                        "staff_left, teams FROM counters WHERE id = 1",
    [ST_STAFF_IN_TEAM] = "SELECT " STAFF_COLUMNS " FROM staff WHERE team_id = ? AND left_date IS "
                         "NULL ORDER BY name, staff_id",
    [ST_STAFF_WITH_MANAGER] = "SELECT " STAFF_COLUMNS " FROM staff WHERE manager_id = ? AND "
                              "left_date IS NULL ORDER BY name, staff_id",
    [ST_TEAMS_ALL] = "SELECT " TEAM_COLUMNS " FROM teams ORDER BY team_id",
    [ST_TEAMS_WITH_PARENT] = "SELECT " TEAM_COLUMNS " FROM teams WHERE parent_id = ? ORDER BY "
                             "name, team_id",
    /* No index on role (it would cost every role change a write): callers keep what it found. */
    [ST_STAFF_WITH_ROLE] = "SELECT " STAFF_COLUMNS " FROM staff WHERE role = ?1 AND left_date IS "
                           "NULL ORDER BY staff_id LIMIT ?2",
    [ST_TEAMS_WITH_MANAGER] = "SELECT " TEAM_COLUMNS " FROM teams WHERE manager_id = ? ORDER BY "
                              "name, team_id",
    [ST_AUDIT_INSERT] =
        "INSERT INTO audit (applied_ms, event_ms, staff_id, team_id, what, details, "
        "cause, cause_id, event_seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
};

/*
 * Forward migrations: migrations[n] takes a database from schema n to n + 1.
 * A released entry is never edited; a change of schema appends one.
 */
static const char *const migrations[STORE_SCHEMA_VERSION] = {
    "CREATE TABLE events ("
    "  seq INTEGER PRIMARY KEY,"
    "  hash INTEGER NOT NULL,"
    "  source TEXT NOT NULL,"
    "  event_id TEXT NOT NULL,"
    "  type TEXT NOT NULL,"
    "  time_ms INTEGER,"
    "  received_ms INTEGER NOT NULL,"
    "  body TEXT NOT NULL);"
    "CREATE TABLE teams ("
    "  team_id TEXT PRIMARY KEY,"
    "  name TEXT NOT NULL,"
    "  parent_id TEXT,"
    "  manager_id TEXT,"
    "  updated_seq INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX teams_by_parent ON teams (parent_id) WHERE parent_id IS NOT NULL;"
    "CREATE INDEX teams_by_manager ON teams (manager_id) WHERE manager_id IS NOT NULL;"
    "CREATE TABLE staff ("
    "  staff_id TEXT PRIMARY KEY,"
    "  name TEXT NOT NULL,"
    "  role TEXT NOT NULL,"
    "  team_id TEXT NOT NULL,"
    "  manager_id TEXT,"
    "  start_date TEXT NOT NULL,"
    "  email TEXT,"
    "  registration_body TEXT,"
    "  registration_number TEXT,"
    "  registration_renewal TEXT,"
    "  left_date TEXT,"
    "  updated_seq INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX staff_by_team ON staff (team_id);"
    "CREATE INDEX staff_by_manager ON staff (manager_id) WHERE manager_id IS NOT NULL;"
    "CREATE TABLE counters ("
    "  id INTEGER PRIMARY KEY CHECK (id = 1),"
    "  events_stored INTEGER NOT NULL, events_duplicate INTEGER NOT NULL,"
    "  events_rejected INTEGER NOT NULL, staff_active INTEGER NOT NULL,"
    "  staff_left INTEGER NOT NULL, teams INTEGER NOT NULL);"
    "INSERT INTO counters VALUES (1, 0, 0, 0, 0, 0, 0);",
    /* 2: review obligations, their notifications (the outbox), absences, concerns, actions. */
    "CREATE TABLE obligations ("
    "  id INTEGER PRIMARY KEY,"
    "  staff_id TEXT NOT NULL,"
    "  kind TEXT NOT NULL,"
    "  item TEXT NOT NULL,"
    "  step TEXT NOT NULL,"
    "  title TEXT NOT NULL,"
    "  responsible_id TEXT,"
    "  occurrence INTEGER NOT NULL,"
    "  due_day INTEGER NOT NULL,"
    "  booked_day INTEGER,"
    "  booked_ms INTEGER,"
    "  target_day INTEGER NOT NULL,"
    "  state INTEGER NOT NULL,"
    "  closed_day INTEGER,"
    "  reason TEXT,"
    "  paused_day INTEGER,"
    "  generation INTEGER NOT NULL,"
    "  reminders_done INTEGER NOT NULL,"
    "  escalations_done INTEGER NOT NULL,"
    "  next_ms INTEGER,"
    "  created_seq INTEGER NOT NULL,"
    "  updated_seq INTEGER NOT NULL);"
    "CREATE INDEX obligations_by_staff ON obligations (staff_id, kind, item);"
    "CREATE INDEX obligations_by_next ON obligations (next_ms) WHERE next_ms IS NOT NULL;"
    "CREATE INDEX obligations_open_by_target ON obligations (target_day) WHERE state = 0;"
    "CREATE INDEX obligations_by_responsible ON obligations (responsible_id)"
    "  WHERE responsible_id IS NOT NULL AND state IN (0, 4);"
    "CREATE TABLE notifications ("
    "  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  created_ms INTEGER NOT NULL,"
    "  planned_ms INTEGER NOT NULL,"
    "  type TEXT NOT NULL,"
    "  recipient_id TEXT NOT NULL,"
    "  obligation_id INTEGER NOT NULL,"
    "  action INTEGER NOT NULL,"
    "  staff_id TEXT NOT NULL,"
    "  kind TEXT NOT NULL,"
    "  item TEXT NOT NULL,"
    "  step TEXT NOT NULL,"
    "  due_day INTEGER NOT NULL,"
    "  booked_day INTEGER,"
    "  days_overdue INTEGER NOT NULL,"
    "  level INTEGER NOT NULL,"
    "  text TEXT NOT NULL,"
    "  policy TEXT,"
    "  acked_ms INTEGER,"
    "  acked_by TEXT);"
    "CREATE UNIQUE INDEX notifications_once ON notifications (obligation_id, action, recipient_id);"
    "CREATE INDEX notifications_by_recipient ON notifications (recipient_id, seq);"
    "CREATE TABLE missed ("
    "  id INTEGER PRIMARY KEY,"
    "  obligation_id INTEGER NOT NULL,"
    "  action INTEGER NOT NULL,"
    "  planned_ms INTEGER NOT NULL,"
    "  recorded_ms INTEGER NOT NULL,"
    "  reason TEXT NOT NULL);"
    "CREATE TABLE absences ("
    "  absence_id TEXT PRIMARY KEY,"
    "  staff_id TEXT NOT NULL,"
    "  kind TEXT NOT NULL,"
    "  start_day INTEGER NOT NULL,"
    "  end_day INTEGER) WITHOUT ROWID;"
    "CREATE INDEX absences_by_staff ON absences (staff_id, start_day);"
    "CREATE TABLE concerns ("
    "  concern_id TEXT PRIMARY KEY,"
    "  staff_id TEXT NOT NULL,"
    "  opened_day INTEGER NOT NULL,"
    "  closed_day INTEGER,"
    "  outcome TEXT) WITHOUT ROWID;"
    "CREATE TABLE actions ("
    "  action_id TEXT PRIMARY KEY,"
    "  obligation_id INTEGER NOT NULL) WITHOUT ROWID;",
    /*
     * 3: KPI figures.  kpi.observed was refused before this version, so the
     * figures are complete up to the last event already stored.
     */
    "CREATE TABLE kpi_cells ("
    "  metric TEXT NOT NULL,"
    "  period INTEGER NOT NULL,"
    "  start_day INTEGER NOT NULL,"
    "  team_id TEXT NOT NULL,"
    "  count INTEGER NOT NULL,"
    "  sum REAL NOT NULL,"
    "  min REAL,"
    "  max REAL,"
    "  last REAL,"
    "  last_ms INTEGER,"
    "  last_seq INTEGER,"
    "  sketch BLOB,"
    "  PRIMARY KEY (metric, period, start_day, team_id)) WITHOUT ROWID;"
    "CREATE TABLE kpi_states ("
    "  metric TEXT NOT NULL,"
    "  period INTEGER NOT NULL,"
    "  start_day INTEGER NOT NULL,"
    "  team_id TEXT NOT NULL,"
    "  state INTEGER NOT NULL,"
    "  value REAL,"
    "  seq INTEGER NOT NULL,"
    "  changed_ms INTEGER NOT NULL,"
    "  PRIMARY KEY (metric, period, start_day, team_id)) WITHOUT ROWID;"
    "CREATE TABLE kpi_alerts ("
    "  id INTEGER PRIMARY KEY,"
    "  metric TEXT NOT NULL,"
    "  period INTEGER NOT NULL,"
    "  start_day INTEGER NOT NULL,"
    "  team_id TEXT NOT NULL,"
    "  from_state INTEGER NOT NULL,"
    "  to_state INTEGER NOT NULL,"
    "  value REAL,"
    "  count INTEGER NOT NULL,"
    "  seq INTEGER NOT NULL,"
    "  at_ms INTEGER NOT NULL);"
    "CREATE TABLE kpi_progress ("
    "  id INTEGER PRIMARY KEY CHECK (id = 1),"
    "  applied_seq INTEGER NOT NULL,"
    "  snapshot_day INTEGER);"
    "INSERT INTO kpi_progress SELECT 1, coalesce(max(seq), 0), NULL FROM events;",
    /*
     * 4: the audit trail, one row per change the writer makes, with its
     * cause.  Changes made before this version have no rows.
     */
    "CREATE TABLE audit ("
    "  seq INTEGER PRIMARY KEY,"
    "  applied_ms INTEGER NOT NULL,"
    "  event_ms INTEGER,"
    "  staff_id TEXT,"
    "  team_id TEXT,"
    "  what TEXT NOT NULL,"
    "  details TEXT NOT NULL,"
    "  cause TEXT NOT NULL,"
    "  cause_id TEXT,"
    "  event_seq INTEGER);"
    "CREATE INDEX audit_by_staff ON audit (staff_id) WHERE staff_id IS NOT NULL;"
    "CREATE INDEX audit_by_team ON audit (team_id) WHERE staff_id IS NULL;",
};

int
store_map_error(int code)
{
    switch (code & 0xFF) {
    case SQLITE_OK:
    case SQLITE_ROW:
    case SQLITE_DONE:
        return 0;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return -EBUSY;
    case SQLITE_NOMEM:
        return -ENOMEM;
    case SQLITE_READONLY:
        return -EROFS;
    case SQLITE_FULL:
        return -ENOSPC;
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_AUTH:
        return -EACCES;
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
        return -EBADMSG;
    case SQLITE_CONSTRAINT:
        return -EEXIST;
    default:
        return -EIO;
    }
}

const char *
store_error(struct store *store)
{
    return store && store->db ? sqlite3_errmsg(store->db) : "no database";
}

const char *
store_path(struct store *store)
{
    return store->path;
}

static int
exec(struct store *store, const char *sql)
{
    return store_map_error(sqlite3_exec(store->db, sql, NULL, NULL, NULL));
}

/* Reads one integer pragma; -EBADMSG when the file is not a database at all. */
static int
pragma_int(struct store *store, const char *sql, int64_t *out)
{
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v2(store->db, sql, -1, &stmt, NULL);

    if (rc == SQLITE_OK) {
        rc = sqlite3_step(stmt);
        if (rc == SQLITE_ROW) {
            *out = sqlite3_column_int64(stmt, 0);
            rc = SQLITE_OK;
        }
    }
    sqlite3_finalize(stmt);
    return store_map_error(rc);
}

/* Checks what the file holds and brings its schema up to date. */
static int
check_and_migrate(struct store *store, char *message, size_t size)
{
    int64_t application_id = 0, version = 0, objects = 0;
    int r;

    r = pragma_int(store, "PRAGMA application_id", &application_id);
    if (r == 0)
        r = pragma_int(store, "PRAGMA user_version", &version);
    if (r == 0)
        r = pragma_int(store, "SELECT count(*) FROM sqlite_master", &objects);
    if (r == -EBADMSG) {
        snprintf(message, size, "%s is not a carehub database (it is not an SQLite database)",
                 store->path);
        return r;
    }
    if (r < 0) {
        snprintf(message, size, "cannot read %s: %s", store->path, store_error(store));
        return r;
    }
    if (application_id == 0 && version == 0 && objects == 0) {
        r = exec(store, "PRAGMA application_id = 1128354373"); /* STORE_APPLICATION_ID */
        if (r < 0) {
            snprintf(message, size, "cannot initialise %s: %s", store->path, store_error(store));
            return r;
        }
    } else if (application_id != STORE_APPLICATION_ID) {
        snprintf(message, size,
                 "%s is not a carehub database (it is an SQLite database of another "
                 "application); move it away or choose another state_dir",
                 store->path);
        return -EBADMSG;
    } else if (version > STORE_SCHEMA_VERSION) {
        snprintf(message, size,
                 "%s was written by a newer carehub (schema version %lld; this version "
                 "understands up to %d); upgrade carehubd or restore an older backup",
                 store->path, (long long)version, STORE_SCHEMA_VERSION);
        return -EPROTONOSUPPORT;
    }
    for (int64_t v = version; v < STORE_SCHEMA_VERSION; v++) {
        char set_version[64];
        snprintf(set_version, sizeof(set_version), "PRAGMA user_version = %lld",
                 (long long)(v + 1));
        r = exec(store, "BEGIN IMMEDIATE");
        if (r == 0)
            r = exec(store, migrations[v]);
        if (r == 0)
            r = exec(store, set_version);
        if (r == 0)
            r = exec(store, "COMMIT");
        if (r < 0) {
            snprintf(message, size, "cannot migrate %s to schema version %lld: %s", store->path,
                     (long long)(v + 1), store_error(store));
            exec(store, "ROLLBACK");
            return r;
        }
    }
    return 0;
}

/* Makes state_dir if it is missing and checks that it can be written. */
static int
prepare_state_dir(const char *state_dir, char *message, size_t size)
{
    struct stat st;

    if (mkdir(state_dir, 0750) < 0 && errno != EEXIST) {
        int r = -errno;
        snprintf(message, size, "state_dir %s cannot be created: %s", state_dir, strerror(errno));
        return r;
    }
    if (stat(state_dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
        snprintf(message, size, "state_dir %s is not a directory", state_dir);
        return -ENOTDIR;
    }
    if (access(state_dir, W_OK | X_OK) < 0) {
        int r = -errno;
        snprintf(message, size, "state_dir %s cannot be written: %s", state_dir, strerror(errno));
        return r;
    }
    return 0;
}

static int
wal_hook(void *context, sqlite3 *db, const char *name, int frames)
{
    struct store *store = context;

    (void)db;
    (void)name;
    store->wal_frames = frames;
    return SQLITE_OK;
}

int
store_wal_frames(const struct store *store)
{
    return store->wal_frames;
}

int
store_checkpoint(struct store *store)
{
    int rc = sqlite3_wal_checkpoint_v2(store->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);

    return rc == SQLITE_BUSY ? 0 : store_map_error(rc); /* busy: the next one catches up */
}

void
store_global_init(void)
{
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

/*
 * Takes an exclusive lock on <state_dir>/carehubd.lock, so that two daemons
 * never write one database: each keeps its own de-duplication table, and
 * two of them could store the same event twice.
 */
static int
lock_state_dir(struct store *store, const char *state_dir, char *message, size_t size)
{
    char path[4096], pid[32];
    int r;

    snprintf(path, sizeof(path), "%s/carehubd.lock", state_dir);
    store->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (store->lock_fd < 0) {
        r = -errno;
        snprintf(message, size, "cannot create %s: %s", path, strerror(errno));
        return r;
    }
    if (flock(store->lock_fd, LOCK_EX | LOCK_NB) < 0) {
        r = -errno;
        ssize_t n = pread(store->lock_fd, pid, sizeof(pid) - 1, 0);
        pid[n > 0 ? n : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        if (r == -EWOULDBLOCK)
            snprintf(message, size,
                     "another carehubd (pid %s) is already using state_dir %s; stop it first",
                     pid[0] ? pid : "unknown", state_dir);
        else
            snprintf(message, size, "cannot lock %s: %s", path, strerror(-r));
        return r == -EWOULDBLOCK ? -EBUSY : r;
    }
    /* The pid is only for the message above: failing to write it is harmless. */
    snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
    if (ftruncate(store->lock_fd, 0) == 0)
        (void)!pwrite(store->lock_fd, pid, strlen(pid), 0);
    return 0;
}

int
store_open(struct store **out, const char *state_dir, const struct store_options *options,
           char *message, size_t size)
{
    struct store *store = calloc(1, sizeof(*store));
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
    char pragma[128];
    int r;

    *out = NULL;
    if (store == NULL)
        return -ENOMEM;
    store->lock_fd = -1;
    if (options->writer) {
        r = prepare_state_dir(state_dir, message, size);
        if (r == 0)
            r = lock_state_dir(store, state_dir, message, size);
        if (r < 0)
            goto fail;
        flags |= SQLITE_OPEN_CREATE;
    }
    if (asprintf(&store->path, "%s/carehub.db", state_dir) < 0) {
        store->path = NULL;
        r = -ENOMEM;
        goto fail;
    }
    if (asprintf(&store->wal_path, "%s/carehub.db-wal", state_dir) < 0) {
        store->wal_path = NULL;
        r = -ENOMEM;
        goto fail;
    }
    r = store_map_error(sqlite3_open_v2(store->path, &store->db, flags, NULL));
    if (r < 0) {
        snprintf(message, size, "cannot open %s: %s", store->path, store_error(store));
        goto fail;
    }
    sqlite3_extended_result_codes(store->db, 1);
    sqlite3_busy_timeout(store->db, 5000);
    if (options->writer) {
        r = check_and_migrate(store, message, size);
        if (r < 0)
            goto fail;
    }
    snprintf(pragma, sizeof(pragma), "PRAGMA cache_size = -%d", options->cache_mb * 1024);
    r = exec(store, "PRAGMA journal_mode = WAL");
    if (r == 0)
        r = exec(store,
                 options->durable ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = OFF");
    if (r == 0)
        r = exec(store, pragma);
    if (r == 0 && !options->writer && !options->separate_checkpoints)
        r = exec(store, "PRAGMA query_only = 1");
    /* Text the writer overwrites or deletes is zeroed in its page, not left behind. */
    if (r == 0 && options->writer)
        r = exec(store, "PRAGMA secure_delete = FAST");
    if (r == 0 && options->writer && options->separate_checkpoints) {
        r = exec(store, "PRAGMA wal_autocheckpoint = 0");
        /* Once the log starts again, its file is cut back to 32 MiB. */
        if (r == 0)
            r = exec(store, "PRAGMA journal_size_limit = 33554432");
        sqlite3_wal_hook(store->db, wal_hook, store);
    }
    if (r < 0) {
        snprintf(message, size, "cannot configure %s: %s", store->path, store_error(store));
        goto fail;
    }
    if (!options->writer) {
        int64_t version = 0;
        r = pragma_int(store, "PRAGMA user_version", &version);
        if (r == 0 && version != STORE_SCHEMA_VERSION)
            r = -EPROTONOSUPPORT;
        if (r < 0) {
            snprintf(message, size, "%s is not a carehub database of schema version %d",
                     store->path, STORE_SCHEMA_VERSION);
            goto fail;
        }
    }
    for (int i = 0; i < ST_COUNT; i++) {
        r = store_map_error(sqlite3_prepare_v3(store->db, statement_sql[i], -1,
                                               SQLITE_PREPARE_PERSISTENT, &store->statements[i],
                                               NULL));
        if (r < 0) {
            snprintf(message, size, "cannot prepare a statement on %s: %s", store->path,
                     store_error(store));
            goto fail;
        }
    }
    *out = store;
    return 0;
fail:
    store_close(store);
    return r;
}

void
store_close(struct store *store)
{
    if (store == NULL)
        return;
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(store->statements[i]);
    for (size_t i = 0; i < sizeof(store->patches) / sizeof(store->patches[0]); i++)
        sqlite3_finalize(store->patches[i]);
    for (size_t i = 0; i < sizeof(store->lazy) / sizeof(store->lazy[0]); i++)
        sqlite3_finalize(store->lazy[i]);
    sqlite3_close(store->db);
    if (store->lock_fd >= 0)
        close(store->lock_fd);
    free(store->path);
    free(store->wal_path);
    free(store);
}

/* Runs a statement that returns no rows, then resets it. */
int
store_step_done(sqlite3_stmt *stmt)
{
    int rc = sqlite3_step(stmt);
    int r = rc == SQLITE_DONE ? 0 : store_map_error(rc);

    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
    return rc == SQLITE_ROW ? -EIO : r;
}

int
store_begin(struct store *store)
{
    return store_step_done(store->statements[ST_BEGIN]);
}

int
store_commit(struct store *store)
{
    return store_step_done(store->statements[ST_COMMIT]);
}

void
store_rollback(struct store *store)
{
    if (!sqlite3_get_autocommit(store->db))
        store_step_done(store->statements[ST_ROLLBACK]);
}

int
store_events_each(struct store *store, int (*visit)(void *context, int64_t seq, uint64_t hash),
                  void *context)
{
    sqlite3_stmt *stmt = store->statements[ST_EVENTS_EACH];
    int rc, r = 0;

    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        r = visit(context, sqlite3_column_int64(stmt, 0), (uint64_t)sqlite3_column_int64(stmt, 1));
        if (r != 0)
            break;
    }
    if (r == 0 && rc != SQLITE_DONE)
        r = store_map_error(rc);
    sqlite3_reset(stmt);
    return r;
}

int
store_event_matches(struct store *store, int64_t seq, const char *source, const char *id)
{
    sqlite3_stmt *stmt = store->statements[ST_EVENT_MATCHES];
    int rc, r;

    sqlite3_bind_int64(stmt, 1, seq);
    sqlite3_bind_text(stmt, 2, source, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 3, id, -1, SQLITE_STATIC);
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW)
        r = sqlite3_column_int(stmt, 0) ? 1 : 0;
    else
        r = rc == SQLITE_DONE ? 0 : store_map_error(rc);
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
    return r;
}

int
store_event_insert(struct store *store, uint64_t hash, const struct event *event,
                   int64_t received_ms, const char *body, size_t size, int64_t *seq)
{
    sqlite3_stmt *stmt = store->statements[ST_EVENT_INSERT];
    int r;

    sqlite3_bind_int64(stmt, 1, (int64_t)hash);
    sqlite3_bind_text(stmt, 2, event->source, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 3, event->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 4, event_type_name(event->type), -1, SQLITE_STATIC);
    if (event->has_time)
        sqlite3_bind_int64(stmt, 5, event->time_ms);
    else
        sqlite3_bind_null(stmt, 5);
    sqlite3_bind_int64(stmt, 6, received_ms);
    sqlite3_bind_text64(stmt, 7, body, size, SQLITE_STATIC, SQLITE_UTF8);
    r = store_step_done(stmt);
    if (r == 0)
        *seq = sqlite3_last_insert_rowid(store->db);
    if (r == 0)
        store->cause_seq = *seq;
    return r;
}

void
store_bind_optional(sqlite3_stmt *stmt, int index, const char *text)
{
    if (text == NULL || text[0] == '\0')
        sqlite3_bind_null(stmt, index);
    else
        sqlite3_bind_text(stmt, index, text, -1, SQLITE_STATIC);
}

void
store_column_copy(sqlite3_stmt *stmt, int column, char *field, size_t size)
{
    directory_copy_text(field, size, (const char *)sqlite3_column_text(stmt, column));
}

#define COPY(stmt, column, record, name)                                                           \
    store_column_copy(stmt, column, record->name, sizeof(record->name))

static void
read_staff(sqlite3_stmt *stmt, struct dir_staff *out)
{
    COPY(stmt, 0, out, staff_id);
    COPY(stmt, 1, out, name);
    COPY(stmt, 2, out, role);
    COPY(stmt, 3, out, team_id);
    COPY(stmt, 4, out, manager_id);
    COPY(stmt, 5, out, start_date);
    COPY(stmt, 6, out, email);
    COPY(stmt, 7, out, registration_body);
    COPY(stmt, 8, out, registration_number);
    COPY(stmt, 9, out, registration_renewal);
    COPY(stmt, 10, out, left_date);
}

static void
read_team(sqlite3_stmt *stmt, struct dir_team *out)
{
    COPY(stmt, 0, out, team_id);
    COPY(stmt, 1, out, name);
    COPY(stmt, 2, out, parent_id);
    COPY(stmt, 3, out, manager_id);
}

static int query_rows(struct store *store, enum statement which, const char *key,
                      store_row_cb on_row, void *context);

/* Row handlers for the look-ups of one record: copy it, and stop. */
static int
copy_staff_row(sqlite3_stmt *stmt, void *out)
{
    read_staff(stmt, out);
    return 1;
}

static int
copy_team_row(sqlite3_stmt *stmt, void *out)
{
    read_team(stmt, out);
    return 1;
}

/* Reads the one record keyed by key into out: 0, -ENOENT, or an error. */
static int
get_one(struct store *store, enum statement which, const char *key,
        int (*copy_row)(sqlite3_stmt *stmt, void *out), void *out)
{
    int r = query_rows(store, which, key, copy_row, out);

    return r == 1 ? 0 : r == 0 ? -ENOENT : r;
}

int
store_staff_get(struct store *store, const char *staff_id, struct dir_staff *out)
{
    return get_one(store, ST_STAFF_GET, staff_id, copy_staff_row, out);
}

int
store_staff_put(struct store *store, const struct dir_staff *staff, int64_t seq, enum store_put how)
{
    static const enum statement statements[] = {
        [STORE_PUT_NEW] = ST_STAFF_INSERT,
        [STORE_PUT_UPDATE] = ST_STAFF_UPDATE,
        [STORE_PUT_DETAILS] = ST_STAFF_UPDATE_DETAILS,
    };
    sqlite3_stmt *stmt = store->statements[statements[how]];
    int r;

    sqlite3_bind_text(stmt, 1, staff->staff_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, staff->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 3, staff->role, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 4, staff->team_id, -1, SQLITE_STATIC);
    store_bind_optional(stmt, 5, staff->manager_id);
    sqlite3_bind_text(stmt, 6, staff->start_date, -1, SQLITE_STATIC);
    store_bind_optional(stmt, 7, staff->email);
    store_bind_optional(stmt, 8, staff->registration_body);
    store_bind_optional(stmt, 9, staff->registration_number);
    store_bind_optional(stmt, 10, staff->registration_renewal);
    store_bind_optional(stmt, 11, staff->left_date);
    sqlite3_bind_int64(stmt, 12, seq);
    r = store_step_done(stmt);
    /* An update that matched no row would silently lose the change. */
    if (r == 0 && how != STORE_PUT_NEW && sqlite3_changes(store->db) != 1)
        r = -ESTALE;
    return r;
}

/*
 * The UPDATE that writes exactly the given fields.  Writing only the columns
 * that change costs SQLite half what a statement choosing per column does;
 * the text is built from fixed pieces, never from input.
 */
static int
patch_statement(struct store *store, unsigned fields, sqlite3_stmt **out)
{
    static const struct {
        enum dir_field field;
        const char *assignments;
    } pieces[] = {
        {DIR_FIELD_NAME, "name = ?2, "},
        {DIR_FIELD_ROLE, "role = ?3, "},
        {DIR_FIELD_START_DATE, "start_date = ?4, "},
        {DIR_FIELD_EMAIL, "email = ?5, "},
        {DIR_FIELD_REGISTRATION,
         "registration_body = ?6, registration_number = ?7, registration_renewal = ?8, "},
    };
    char sql[512] = "UPDATE staff SET ";

    if (store->patches[fields] == NULL) {
        for (size_t i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++)
            if (fields & pieces[i].field)
                strcat(sql, pieces[i].assignments);
        strcat(sql, "updated_seq = ?9 WHERE staff_id = ?1");
        int r = store_map_error(sqlite3_prepare_v3(store->db, sql, -1, SQLITE_PREPARE_PERSISTENT,
                                                   &store->patches[fields], NULL));
        if (r < 0)
            return r;
    }
    *out = store->patches[fields];
    return 0;
}

int
store_staff_patch(struct store *store, const struct dir_staff *patch, unsigned fields, int64_t seq)
{
    sqlite3_stmt *stmt;
    int r;

    fields &= DIR_FIELD_NAME | DIR_FIELD_ROLE | DIR_FIELD_START_DATE | DIR_FIELD_EMAIL |
              DIR_FIELD_REGISTRATION;
    r = patch_statement(store, fields, &stmt);
    if (r < 0)
        return r;
    sqlite3_bind_text(stmt, 1, patch->staff_id, -1, SQLITE_STATIC);
    if (fields & DIR_FIELD_NAME)
        sqlite3_bind_text(stmt, 2, patch->name, -1, SQLITE_STATIC);
    if (fields & DIR_FIELD_ROLE)
        sqlite3_bind_text(stmt, 3, patch->role, -1, SQLITE_STATIC);
    if (fields & DIR_FIELD_START_DATE)
        sqlite3_bind_text(stmt, 4, patch->start_date, -1, SQLITE_STATIC);
    if (fields & DIR_FIELD_EMAIL)
        store_bind_optional(stmt, 5, patch->email);
    if (fields & DIR_FIELD_REGISTRATION) {
        store_bind_optional(stmt, 6, patch->registration_body);
        store_bind_optional(stmt, 7, patch->registration_number);
        store_bind_optional(stmt, 8, patch->registration_renewal);
    }
    sqlite3_bind_int64(stmt, 9, seq);
    r = store_step_done(stmt);
    if (r == 0 && sqlite3_changes(store->db) == 0)
        r = -ENOENT;
    return r;
}

int
store_event_delete(struct store *store, int64_t seq)
{
    sqlite3_stmt *stmt = store->statements[ST_EVENT_DELETE];

    sqlite3_bind_int64(stmt, 1, seq);
    return store_step_done(stmt);
}

int
store_team_get(struct store *store, const char *team_id, struct dir_team *out)
{
    return get_one(store, ST_TEAM_GET, team_id, copy_team_row, out);
}

int
store_team_put(struct store *store, const struct dir_team *team, int64_t seq)
{
    sqlite3_stmt *stmt = store->statements[ST_TEAM_PUT];

    sqlite3_bind_text(stmt, 1, team->team_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, team->name, -1, SQLITE_STATIC);
    store_bind_optional(stmt, 3, team->parent_id);
    store_bind_optional(stmt, 4, team->manager_id);
    sqlite3_bind_int64(stmt, 5, seq);
    return store_step_done(stmt);
}

static int
source_get_staff(void *context, const char *staff_id, struct dir_staff *out)
{
    return store_staff_get(context, staff_id, out);
}

static int
source_get_team(void *context, const char *team_id, struct dir_team *out)
{
    return store_team_get(context, team_id, out);
}

void
store_directory_source(struct store *store, struct directory_source *out)
{
    out->context = store;
    out->get_staff = source_get_staff;
    out->get_team = source_get_team;
}

int
store_counters_add(struct store *store, const struct store_counters *delta)
{
    sqlite3_stmt *stmt = store->statements[ST_COUNTERS_ADD];

    sqlite3_bind_int64(stmt, 1, delta->events_stored);
    sqlite3_bind_int64(stmt, 2, delta->events_duplicate);
    sqlite3_bind_int64(stmt, 3, delta->events_rejected);
    sqlite3_bind_int64(stmt, 4, delta->staff_active);
    sqlite3_bind_int64(stmt, 5, delta->staff_left);
    sqlite3_bind_int64(stmt, 6, delta->teams);
    return store_step_done(stmt);
}

int
store_counters_get(struct store *store, struct store_counters *out)
{
    sqlite3_stmt *stmt = store->statements[ST_COUNTERS_GET];
    int rc = sqlite3_step(stmt);
    int r = 0;

    if (rc == SQLITE_ROW) {
        out->events_stored = sqlite3_column_int64(stmt, 0);
        out->events_duplicate = sqlite3_column_int64(stmt, 1);
        out->events_rejected = sqlite3_column_int64(stmt, 2);
        out->staff_active = sqlite3_column_int64(stmt, 3);
        out->staff_left = sqlite3_column_int64(stmt, 4);
        out->teams = sqlite3_column_int64(stmt, 5);
    } else {
        r = rc == SQLITE_DONE ? -ENOENT : store_map_error(rc);
    }
    sqlite3_reset(stmt);
    return r;
}

sqlite3_stmt *
store_lazy(struct store *store, int slot, const char *sql)
{
    if (store->lazy[slot] == NULL &&
        sqlite3_prepare_v3(store->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &store->lazy[slot],
                           NULL) != SQLITE_OK)
        return NULL;
    return store->lazy[slot];
}

int
store_step_rows(sqlite3_stmt *stmt, store_row_cb on_row, void *context)
{
    int rc, r = 0;

    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        r = on_row(stmt, context);
        if (r != 0)
            break;
    }
    if (r == 0 && rc != SQLITE_DONE)
        r = store_map_error(rc);
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
    return r;
}

/* Runs a query keyed by one text value, handing each row to on_row until it returns non-zero. */
static int
query_rows(struct store *store, enum statement which, const char *key, store_row_cb on_row,
           void *context)
{
    sqlite3_stmt *stmt = store->statements[which];

    sqlite3_bind_text(stmt, 1, key, -1, SQLITE_STATIC);
    return store_step_rows(stmt, on_row, context);
}

struct staff_visitor {
    store_staff_visit visit;
    void *context;
};

static int
staff_row(sqlite3_stmt *stmt, void *context)
{
    struct staff_visitor *visitor = context;
    struct dir_staff staff;

    read_staff(stmt, &staff);
    return visitor->visit(visitor->context, &staff);
}

static int
query_staff(struct store *store, enum statement which, const char *key, store_staff_visit visit,
            void *context)
{
    struct staff_visitor visitor = {visit, context};

    return query_rows(store, which, key, staff_row, &visitor);
}

struct team_visitor {
    store_team_visit visit;
    void *context;
};

static int
team_row(sqlite3_stmt *stmt, void *context)
{
    struct team_visitor *visitor = context;
    struct dir_team team;

    read_team(stmt, &team);
    return visitor->visit(visitor->context, &team);
}

static int
query_teams(struct store *store, enum statement which, const char *key, store_team_visit visit,
            void *context)
{
    struct team_visitor visitor = {visit, context};

    return query_rows(store, which, key, team_row, &visitor);
}

int
store_staff_in_team(struct store *store, const char *team_id, store_staff_visit visit,
                    void *context)
{
    return query_staff(store, ST_STAFF_IN_TEAM, team_id, visit, context);
}

int
store_staff_with_manager(struct store *store, const char *manager_id, store_staff_visit visit,
                         void *context)
{
    return query_staff(store, ST_STAFF_WITH_MANAGER, manager_id, visit, context);
}

int
store_staff_with_role(struct store *store, const char *role, int limit, store_staff_visit visit,
                      void *context)
{
    sqlite3_stmt *stmt = store->statements[ST_STAFF_WITH_ROLE];
    struct staff_visitor visitor = {visit, context};

    sqlite3_bind_text(stmt, 1, role, -1, SQLITE_STATIC);
    sqlite3_bind_int(stmt, 2, limit);
    return store_step_rows(stmt, staff_row, &visitor);
}

int
store_teams_all(struct store *store, store_team_visit visit, void *context)
{
    struct team_visitor visitor = {visit, context};

    return store_step_rows(store->statements[ST_TEAMS_ALL], team_row, &visitor);
}

int
store_teams_with_parent(struct store *store, const char *team_id, store_team_visit visit,
                        void *context)
{
    return query_teams(store, ST_TEAMS_WITH_PARENT, team_id, visit, context);
}

int
store_teams_with_manager(struct store *store, const char *manager_id, store_team_visit visit,
                         void *context)
{
    return query_teams(store, ST_TEAMS_WITH_MANAGER, manager_id, visit, context);
}

int64_t
store_size_bytes(struct store *store)
{
    struct stat st;
    int64_t total = 0;

    if (stat(store->path, &st) == 0)
        total += st.st_size;
    if (stat(store->wal_path, &st) == 0)
        total += st.st_size;
    return total;
}

/* Pages copied per step of a backup: 1 MiB of 4 KiB pages, so that an abandoned one stops soon. */
#define BACKUP_STEP_PAGES 256

/* The part of a snapshot a backup reports; the first read also fixes the snapshot. */
static int
backup_read_snapshot(struct store *store, struct store_backup_info *info)
{
    int64_t missed;
    int r = pragma_int(store, "SELECT coalesce(max(seq), 0) FROM events", &info->last_event_seq);

    if (r == 0)
        r = store_counters_get(store, &info->counters);
    if (r == 0)
        r = store_notifications_summary(store, &info->last_notification_seq, &missed);
    return r;
}

/* SQLite's words for a failure on the copy, with the system's reason when there is one. */
static void
backup_target_error(sqlite3 *target, int rc, const char *target_path, char *message, size_t size)
{
    int system_errno = target != NULL ? sqlite3_system_errno(target) : 0;

    snprintf(message, size, "cannot write %s: %s%s%s%s", target_path, sqlite3_errstr(rc),
             system_errno != 0 ? " (" : "", system_errno != 0 ? strerror(system_errno) : "",
             system_errno != 0 ? ")" : "");
}

int
store_backup(struct store *store, const char *target_path, store_backup_progress progress,
             void *context, struct store_backup_info *info, char *message, size_t size)
{
    sqlite3 *target = NULL;
    sqlite3_backup *backup = NULL;
    int rc = SQLITE_OK, r;

    memset(info, 0, sizeof(*info));
    /*
     * BEGIN takes no snapshot by itself; the first read does, and the steps
     * below copy from that snapshot: SQLite restarts a backup only when its
     * source connection starts a new read transaction and sees that others
     * wrote, and this one keeps its transaction open to the end.
     */
    r = exec(store, "BEGIN");
    if (r == 0)
        r = backup_read_snapshot(store, info);
    if (r < 0) {
        snprintf(message, size, "cannot read %s: %s", store->path, store_error(store));
        goto out;
    }
    info->target_failed = true;
    rc = sqlite3_open_v2(target_path, &target, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    /* No journal while copying: a copy that fails is removed, never rolled back. */
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(target, "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF", NULL, NULL,
                          NULL);
    if (rc == SQLITE_OK) {
        backup = sqlite3_backup_init(target, "main", store->db, "main");
        if (backup == NULL)
            rc = sqlite3_errcode(target);
    }
    if (rc != SQLITE_OK) {
        r = store_map_error(rc);
        backup_target_error(target, rc, target_path, message, size);
        goto out;
    }
    do {
        rc = sqlite3_backup_step(backup, BACKUP_STEP_PAGES);
        if (rc == SQLITE_OK && progress != NULL &&
            progress(context, sqlite3_backup_remaining(backup), sqlite3_backup_pagecount(backup)) !=
                0)
            r = -ECANCELED;
    } while (rc == SQLITE_OK && r == 0);
    info->pages = sqlite3_backup_pagecount(backup);
    sqlite3_backup_finish(backup); /* it returns what the last step did */
    if (r == 0 && rc != SQLITE_DONE) {
        r = store_map_error(rc);
        if (r == -EBUSY || r == -EBADMSG || r == -ENOMEM) {
            /* The database itself was locked, damaged, or memory ran out. */
            info->target_failed = false;
            snprintf(message, size, "cannot copy %s: %s", store->path, sqlite3_errstr(rc));
        } else {
            backup_target_error(target, rc, target_path, message, size);
        }
        goto out;
    }
    /*
     * The copied header says WAL, as the database's does; one file is what
     * a backup should be, so the copy goes back to a rollback journal.
     */
    if (r == 0) {
        rc = sqlite3_exec(target, "PRAGMA journal_mode = DELETE", NULL, NULL, NULL);
        if (rc != SQLITE_OK) {
            r = store_map_error(rc);
            backup_target_error(target, rc, target_path, message, size);
        }
    }
out:
    sqlite3_close(target); /* accepts NULL; nothing is left unfinalised on it */
    store_rollback(store); /* ends the read transaction */
    return r;
}

/* ---- The audit trail and retention ---- */

void
store_audit_cause(struct store *store, const char *cause, const char *cause_id, bool has_event_ms,
                  int64_t event_ms, int64_t applied_ms)
{
    snprintf(store->cause, sizeof(store->cause), "%s", cause);
    snprintf(store->cause_id, sizeof(store->cause_id), "%s", cause_id ? cause_id : "");
    store->cause_seq = 0;
    store->cause_event_ms = has_event_ms ? event_ms : INT64_MIN;
    store->cause_applied_ms = applied_ms;
}

int
store_audit(struct store *store, const char *what, const char *staff_id, const char *team_id,
            const char *details)
{
    sqlite3_stmt *stmt = store->statements[ST_AUDIT_INSERT];

    sqlite3_bind_int64(stmt, 1, store->cause_applied_ms);
    if (store->cause_event_ms != INT64_MIN)
        sqlite3_bind_int64(stmt, 2, store->cause_event_ms);
    store_bind_optional(stmt, 3, staff_id);
    store_bind_optional(stmt, 4, team_id);
    sqlite3_bind_text(stmt, 5, what, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 6, details && details[0] ? details : "{}", -1, SQLITE_STATIC);
    if (store->cause_seq > 0) {
        /* Caused by a stored event: its seq alone; the source and id are read back from the
         * events table (which keeps them for ever), so each row is some 70 bytes smaller. */
        sqlite3_bind_text(stmt, 7, "", 0, SQLITE_STATIC);
        sqlite3_bind_null(stmt, 8);
        sqlite3_bind_int64(stmt, 9, store->cause_seq);
    } else {
        sqlite3_bind_text(stmt, 7, store->cause[0] ? store->cause : "unknown", -1, SQLITE_STATIC);
        store_bind_optional(stmt, 8, store->cause_id);
        sqlite3_bind_null(stmt, 9);
    }
    return store_step_done(stmt);
}

enum retention_statement {
    R_AUDIT_OF_STAFF,
    R_AUDIT_OF_TEAM,
    R_STAFF_DUE,
    R_SCRUB_STAFF,
    R_SCRUB_ABSENCES,
    R_SCRUB_OBLIGATIONS,
    R_SCRUB_CONCERNS,
    R_SCRUB_NOTIFICATIONS,
    R_SCRUB_AUDIT,
    R_EVENTS_OLD,
    R_EVENTS_REMOVED_STAFF,
    R_MAX_SEQ,
    R_COUNT
};

_Static_assert(R_COUNT <= STORE_LAZY_MAX - STORE_LAZY_RETENTION, "the lazy slots of retention");

/* An event's source and id are kept once, in events: a row caused by one names its seq. */
#define AUDIT_COLUMNS                                                                              \
    "a.seq, a.applied_ms, a.event_ms, a.staff_id, a.team_id, a.what, a.details, "                  \
    "CASE WHEN a.cause = '' THEN e.source ELSE a.cause END, "                                      \
    "CASE WHEN a.cause = '' THEN e.event_id ELSE a.cause_id END, a.event_seq"
#define AUDIT_FROM " FROM audit a LEFT JOIN events e ON a.cause = '' AND e.seq = a.event_seq"
#define REMOVED "'" STORE_REMOVED "'"

static const char *const retention_sql[R_COUNT] = {
    [R_AUDIT_OF_STAFF] = "SELECT " AUDIT_COLUMNS AUDIT_FROM
                         " WHERE a.staff_id = ?1 AND a.seq > ?2 ORDER BY a.seq LIMIT ?3",
    [R_AUDIT_OF_TEAM] = "SELECT " AUDIT_COLUMNS AUDIT_FROM " WHERE a.staff_id IS NULL AND "
                        "a.team_id = ?1 AND a.seq > ?2 ORDER BY a.seq LIMIT ?3",
    [R_STAFF_DUE] = "SELECT staff_id FROM staff WHERE left_date < ?1 AND name != " REMOVED
                    " ORDER BY staff_id LIMIT ?2",
    [R_SCRUB_STAFF] = "UPDATE staff SET name = " REMOVED ", email = NULL, registration_body = "
                      "NULL, registration_number = NULL, registration_renewal = NULL "
                      "WHERE staff_id = ?1",
    [R_SCRUB_ABSENCES] = "UPDATE absences SET kind = " REMOVED " WHERE staff_id = ?1",
    [R_SCRUB_OBLIGATIONS] =
        "UPDATE obligations SET title = CASE title WHEN '' THEN '' ELSE " REMOVED
        " END, reason = CASE WHEN reason IS NULL THEN NULL ELSE " REMOVED
        " END WHERE staff_id = ?1",
    [R_SCRUB_CONCERNS] = "UPDATE concerns SET outcome = NULL WHERE staff_id = ?1",
    [R_SCRUB_NOTIFICATIONS] = "UPDATE notifications SET text = " REMOVED ", policy = NULL "
                              "WHERE staff_id = ?1",
    [R_SCRUB_AUDIT] = "UPDATE audit SET details = '{}' WHERE staff_id = ?1",
    /* Never the KPI observations not yet in the figures: a replay reads their payload. */
    [R_EVENTS_OLD] =
        "UPDATE events SET body = '{}' WHERE seq > ?1 AND seq <= ?2 AND body != '{}' AND "
        "coalesce(time_ms, received_ms) < ?3 AND (type != 'kpi.observed' OR seq <= "
        "(SELECT applied_seq FROM kpi_progress))",
    [R_EVENTS_REMOVED_STAFF] =
        "UPDATE events SET body = '{}' WHERE seq > ?1 AND seq <= ?2 AND body != '{}' AND "
        "json_valid(body) AND json_extract(body, '$.data.staff_id') IN (SELECT staff_id FROM staff "
        "WHERE name = " REMOVED ")",
    [R_MAX_SEQ] = "SELECT coalesce(max(seq), 0) FROM events",
};

static sqlite3_stmt *
retention_statement(struct store *store, enum retention_statement which)
{
    return store_lazy(store, STORE_LAZY_RETENTION + which, retention_sql[which]);
}

static int
audit_row(sqlite3_stmt *stmt, void *context)
{
    struct {
        store_audit_visit visit;
        void *context;
    } *call = context;
    struct store_audit_row row;

    row.seq = sqlite3_column_int64(stmt, 0);
    row.applied_ms = sqlite3_column_int64(stmt, 1);
    row.has_event_ms = sqlite3_column_type(stmt, 2) != SQLITE_NULL;
    row.event_ms = sqlite3_column_int64(stmt, 2);
    row.staff_id = (const char *)sqlite3_column_text(stmt, 3);
    row.team_id = (const char *)sqlite3_column_text(stmt, 4);
    row.what = (const char *)sqlite3_column_text(stmt, 5);
    row.details = (const char *)sqlite3_column_text(stmt, 6);
    row.cause = (const char *)sqlite3_column_text(stmt, 7);
    row.cause_id = (const char *)sqlite3_column_text(stmt, 8);
    row.event_seq = sqlite3_column_int64(stmt, 9);
    return call->visit(call->context, &row);
}

int
store_audit_of(struct store *store, const char *staff_id, const char *team_id, int64_t after,
               int limit, store_audit_visit visit, void *context)
{
    sqlite3_stmt *stmt = retention_statement(store, staff_id ? R_AUDIT_OF_STAFF : R_AUDIT_OF_TEAM);
    struct {
        store_audit_visit visit;
        void *context;
    } call = {visit, context};

    if (stmt == NULL)
        return store_map_error(sqlite3_errcode(store->db));
    sqlite3_bind_text(stmt, 1, staff_id ? staff_id : team_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 2, after);
    sqlite3_bind_int(stmt, 3, limit);
    return store_step_rows(stmt, audit_row, &call);
}

static int
staff_id_row(sqlite3_stmt *stmt, void *context)
{
    struct {
        int (*visit)(void *context, const char *staff_id);
        void *context;
    } *call = context;

    return call->visit(call->context, (const char *)sqlite3_column_text(stmt, 0));
}

int
store_retention_staff_due(struct store *store, const char *left_before, int limit,
                          int (*visit)(void *context, const char *staff_id), void *context)
{
    sqlite3_stmt *stmt = retention_statement(store, R_STAFF_DUE);
    struct {
        int (*visit)(void *context, const char *staff_id);
        void *context;
    } call = {visit, context};

    if (stmt == NULL)
        return store_map_error(sqlite3_errcode(store->db));
    sqlite3_bind_text(stmt, 1, left_before, -1, SQLITE_STATIC);
    sqlite3_bind_int(stmt, 2, limit);
    return store_step_rows(stmt, staff_id_row, &call);
}

int
store_retention_remove_staff(struct store *store, const char *staff_id, int64_t *rows)
{
    static const enum retention_statement steps[] = {
        R_SCRUB_STAFF,    R_SCRUB_ABSENCES,      R_SCRUB_OBLIGATIONS,
        R_SCRUB_CONCERNS, R_SCRUB_NOTIFICATIONS, R_SCRUB_AUDIT,
    };
    int r = 0;

    *rows = 0;
    for (size_t i = 0; r == 0 && i < sizeof(steps) / sizeof(steps[0]); i++) {
        sqlite3_stmt *stmt = retention_statement(store, steps[i]);
        if (stmt == NULL)
            return store_map_error(sqlite3_errcode(store->db));
        sqlite3_bind_text(stmt, 1, staff_id, -1, SQLITE_STATIC);
        r = store_step_done(stmt);
        if (r == 0)
            *rows += sqlite3_changes(store->db);
    }
    return r;
}

int
store_retention_events(struct store *store, bool removed_staff, int64_t after, int64_t through,
                       int64_t before_ms, int64_t *blanked)
{
    sqlite3_stmt *stmt =
        retention_statement(store, removed_staff ? R_EVENTS_REMOVED_STAFF : R_EVENTS_OLD);
    int r;

    *blanked = 0;
    if (stmt == NULL)
        return store_map_error(sqlite3_errcode(store->db));
    sqlite3_bind_int64(stmt, 1, after);
    sqlite3_bind_int64(stmt, 2, through);
    if (!removed_staff)
        sqlite3_bind_int64(stmt, 3, before_ms);
    r = store_step_done(stmt);
    if (r == 0)
        *blanked = sqlite3_changes(store->db);
    return r;
}

int
store_events_last_seq(struct store *store, int64_t *seq)
{
    sqlite3_stmt *stmt = retention_statement(store, R_MAX_SEQ);
    int rc;

    if (stmt == NULL)
        return store_map_error(sqlite3_errcode(store->db));
    rc = sqlite3_step(stmt);
    *seq = rc == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : 0;
    sqlite3_reset(stmt);
    return rc == SQLITE_ROW ? 0 : store_map_error(rc);
}

int
store_secure_delete(struct store *store, bool whole_pages)
{
    return exec(store, whole_pages ? "PRAGMA secure_delete = ON" : "PRAGMA secure_delete = FAST");
}

int
store_truncate_log(struct store *store)
{
    int rc = sqlite3_wal_checkpoint_v2(store->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);

    return rc == SQLITE_BUSY ? 0 : store_map_error(rc);
}

#include "ingest.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "dircache.h"
#include "clock.h"
#include "directory.h"

/* Reminders and escalations one transaction sends at most; the rest follow in the next. */
#define SCHEDULE_ACTIONS_PER_TRANSACTION 20000

/* The longest the scheduler sleeps on the real clock before looking again. */
#define SCHEDULE_MAX_SLEEP_MS 60000

/* Open-addressed table (linear probing) from identity hash to sequence number. */
struct dedup {
    uint64_t *keys; /* 0 marks an empty slot; a real hash of 0 is stored as 1 */
    int64_t *seqs;
    size_t capacity; /* a power of two */
    size_t count;
};

struct ingest {
    uv_loop_t *loop;
    struct store *writer;
    struct ingest_options options;
    ingest_done_cb done;
    void *data;

    struct ingest_request *queue_head, *queue_tail;
    size_t waiting_events;

    /* The batch the worker owns while busy. */
    bool busy;
    uv_work_t work;
    struct ingest_request *batch;
    size_t batch_events;
    uint64_t *batch_hashes; /* added to the table by this batch, removed if it fails */
    size_t batch_hash_count, batch_hash_capacity;
    int batch_result;
    int64_t batch_received_ms;
    bool batch_schedule_more;
    int64_t batch_next_ms;
    uint64_t batch_sent, batch_missed;
    struct store_counters batch_delta;
    struct dir_team batch_team_before; /* the team an event changes, as it was */
    bool batch_team_existed;
    char last_error[256];

    /* The retention job: where it is, as committed and in the batch being written. */
    struct retention retention, retention_saved;
    bool batch_retention_more;

    struct dedup dedup;
    struct directory_source store_source; /* the writer connection */
    struct dircache *cache;               /* in front of store_source */
    struct directory_source directory;    /* reads through the cache */
    struct store_counters totals;
    struct store_counters since_start;

    /* The scheduler: obligations changed by events, and the actions due. */
    struct obligations *obligations;
    struct kpi *kpi;      /* KPI figures, judged and alerted in the same transactions */
    bool batch_kpi_write; /* an INGEST_KPI_WRITE job is in the batch: write the figures */
    bool kpi_unwritten;   /* after the last batch: figures in memory not yet on disk */
    uint64_t kpi_observations, kpi_alerts; /* copied after batches, for status */
    size_t kpi_series, kpi_bytes;
    uint64_t kpi_counted_at; /* uv_now() of the last copy: at most every ten seconds */
    int64_t kpi_next_ms;     /* after the last batch: when the KPI figures next need a batch */
    int64_t batch_now_ms;    /* the clock when the batch was handed over */
    bool catch_up_wanted;    /* run a batch even with no events: something may be due */
    bool schedule_more;      /* the last batch stopped with more due */
    int64_t next_action_ms;  /* from the last batch: the earliest pending action, 0 when none */
    struct ingest_request *catching_up; /* INGEST_CATCH_UP requests waiting for nothing due */
    uv_timer_t schedule_timer;
    uint64_t actions_sent, actions_missed;
    int failures;               /* transactions failed in a row: the scheduler backs off */
    unsigned long transactions; /* committed since start */

    uv_work_t checkpoint;
    bool checkpointing;
    bool checkpoint_whole; /* started while the writer was idle: it copies the whole log */
    int wal_frames;        /* pages in the log after the last commit (from the worker) */
    uv_prepare_t prepare;
    uv_timer_t delay;
    int open_handles;
    bool closing;
    void (*on_closed)(void *data);
};

static uint64_t
slot_key(uint64_t hash)
{
    return hash == 0 ? 1 : hash;
}

static int
dedup_grow(struct dedup *table)
{
    size_t capacity = table->capacity ? table->capacity * 2 : 1 << 16;
    uint64_t *keys = calloc(capacity, sizeof(*keys));
    int64_t *seqs = malloc(capacity * sizeof(*seqs));

    if (keys == NULL || seqs == NULL) {
        free(keys);
        free(seqs);
        return -ENOMEM;
    }
    for (size_t i = 0; i < table->capacity; i++) {
        if (table->keys[i] == 0)
            continue;
        size_t slot = table->keys[i] & (capacity - 1);
        while (keys[slot] != 0)
            slot = (slot + 1) & (capacity - 1);
        keys[slot] = table->keys[i];
        seqs[slot] = table->seqs[i];
    }
    free(table->keys);
    free(table->seqs);
    table->keys = keys;
    table->seqs = seqs;
    table->capacity = capacity;
    return 0;
}

static int
dedup_insert(struct dedup *table, uint64_t hash, int64_t seq)
{
    uint64_t key = slot_key(hash);
    size_t slot;

    if ((table->count + 1) * 2 > table->capacity) {
        int r = dedup_grow(table);
        if (r < 0)
            return r;
    }
    slot = key & (table->capacity - 1);
    while (table->keys[slot] != 0)
        slot = (slot + 1) & (table->capacity - 1);
    table->keys[slot] = key;
    table->seqs[slot] = seq;
    table->count++;
    return 0;
}

/* Removes the entry (hash, seq) with backward-shift deletion, keeping probe chains whole. */
static void
dedup_remove(struct dedup *table, uint64_t hash, int64_t seq)
{
    uint64_t key = slot_key(hash);
    size_t mask = table->capacity - 1;
    size_t slot;

    if (table->capacity == 0)
        return;
    for (slot = key & mask; table->keys[slot] != 0; slot = (slot + 1) & mask)
        if (table->keys[slot] == key && table->seqs[slot] == seq)
            break;
    if (table->keys[slot] == 0)
        return;
    for (size_t next = (slot + 1) & mask; table->keys[next] != 0; next = (next + 1) & mask) {
        size_t home = table->keys[next] & mask;
        /* Move next back into the hole when its home is not between the hole and next. */
        if ((next > slot && (home <= slot || home > next)) ||
            (next < slot && (home <= slot && home > next))) {
            table->keys[slot] = table->keys[next];
            table->seqs[slot] = table->seqs[next];
            slot = next;
        }
    }
    table->keys[slot] = 0;
    table->count--;
}

/* 1 when an event with this identity was stored, 0 when not, or a negative code. */
static int
dedup_seen(struct ingest *ingest, const struct ingest_item *item)
{
    struct dedup *table = &ingest->dedup;
    uint64_t key = slot_key(item->hash);
    size_t mask = table->capacity - 1;

    if (table->capacity == 0)
        return 0;
    for (size_t slot = key & mask; table->keys[slot] != 0; slot = (slot + 1) & mask) {
        if (table->keys[slot] != key)
            continue;
        int r = store_event_matches(ingest->writer, table->seqs[slot], item->event.source,
                                    item->event.id);
        if (r != 0)
            return r;
    }
    return 0;
}

static int
load_one(void *context, int64_t seq, uint64_t hash)
{
    return dedup_insert(context, hash, seq);
}

static void
reject_item(struct ingest_item *item, const char *code, const char *message)
{
    item->status = INGEST_REJECTED;
    item->error.code = code;
    snprintf(item->error.message, sizeof(item->error.message), "%s", message);
}

/* Rejects item for a directory check that failed with r; other failures are returned. */
static int
chain_verdict(struct ingest_item *item, int r)
{
    if (r == -ELOOP) {
        reject_item(item, "management_cycle",
                    "this change would make the management chain go round in a loop");
        return 1;
    }
    if (r == -E2BIG) {
        reject_item(item, "chain_too_deep",
                    "this change would make the management chain "
                    "deeper than 64 levels");
        return 1;
    }
    return r;
}

/*
 * Works out the directory change an event makes, checking it against the
 * directory as it would be afterwards.  Returns 1 with the item rejected, 0
 * with *staff or *team holding the record to write, or a negative code.
 */
static int
plan_change(struct ingest *ingest, struct ingest_item *item, struct dir_staff *staff,
            struct dir_team *team, bool *write_staff, bool *write_team, enum store_put *how,
            struct dir_staff *before, bool *had_before)
{
    const struct directory_source *base = &ingest->directory;
    struct directory_overlay overlay;
    const cJSON *data = item->event.data;
    const char *staff_id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(data, "staff_id"));
    int r;

    *write_staff = *write_team = false;
    switch (item->event.type) {
    case EVENT_TEAM_CHANGED: {
        const char *team_id =
            cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(data, "team_id"));
        r = base->get_team(base->context, team_id, team);
        if (r == -ENOENT) {
            memset(team, 0, sizeof(*team));
            ingest->batch_delta.teams++;
        } else if (r < 0) {
            return r;
        }
        ingest->batch_team_existed = r == 0;
        ingest->batch_team_before = *team;
        directory_team_apply(team, data);
        directory_overlay_init(&overlay, base, NULL, team);
        if (strcmp(team->parent_id, team->team_id) == 0)
            r = -ELOOP;
        else
            r = directory_check_team_tree(&overlay.source, team->team_id);
        if (r == -ELOOP || r == -E2BIG) {
            reject_item(item, "team_cycle",
                        r == -E2BIG ? "this change would make the team tree deeper than 64 "
                                      "levels"
                                    : "this change would make a team its own parent, directly "
                                      "or through other teams");
            return 1;
        }
        if (r < 0)
            return r;
        /*
         * Any new loop in the management chain passes through the person this
         * team's members now report to: walking up from them finds it.
         */
        if (team->manager_id[0] != '\0') {
            r = directory_check_chain(&overlay.source, team->manager_id);
        } else if (team->parent_id[0] != '\0') {
            struct dir_staff probe;
            char head[DIR_ID_SIZE];
            enum dir_via via;
            memset(&probe, 0, sizeof(probe));
            memcpy(probe.team_id, team->parent_id, DIR_ID_SIZE);
            r = directory_manager_of(&overlay.source, &probe, head, &via);
            if (r == 0)
                r = directory_check_chain(&overlay.source, head);
            else if (r == -ENOENT)
                r = 0;
        } else {
            r = 0;
        }
        if (r < 0)
            return chain_verdict(item, r);
        *write_team = true;
        return 0;
    }
    case EVENT_STAFF_HIRED:
    case EVENT_STAFF_CHANGED:
    case EVENT_STAFF_LEFT:
        r = base->get_staff(base->context, staff_id, staff);
        *had_before = r == 0;
        if (r == 0)
            *before = *staff;
        if (r == -ENOENT) {
            if (item->event.type != EVENT_STAFF_HIRED) {
                char message[256];
                snprintf(message, sizeof(message),
                         "no staff member \"%.80s\" has been hired; send staff.hired first",
                         staff_id);
                reject_item(item, "unknown_staff", message);
                return 1;
            }
            memset(staff, 0, sizeof(*staff));
            ingest->batch_delta.staff_active++;
            *how = STORE_PUT_NEW;
        } else if (r < 0) {
            return r;
        } else if (item->event.type == EVENT_STAFF_HIRED) {
            /* Hired again (after leaving, or re-sent): the event states the whole record. */
            if (staff->left_date[0] != '\0') {
                ingest->batch_delta.staff_left--;
                ingest->batch_delta.staff_active++;
            }
            memset(staff, 0, sizeof(*staff));
        }
        if (r == 0)
            *how = STORE_PUT_DETAILS;
        if (item->event.type == EVENT_STAFF_LEFT) {
            const char *leave_date =
                cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(data, "leave_date"));
            if (strcmp(leave_date, staff->start_date) < 0) {
                reject_item(item, "bad_date", "leave_date is before the staff member's start_date");
                return 1;
            }
            if (staff->left_date[0] == '\0') {
                ingest->batch_delta.staff_active--;
                ingest->batch_delta.staff_left++;
            }
            snprintf(staff->left_date, sizeof(staff->left_date), "%s", leave_date);
            *write_staff = true;
            return 0;
        }
        directory_staff_apply(staff, data);
        /* Only a new manager or team can change who someone reports to. */
        bool reporting_changes =
            (directory_staff_fields(data) & (DIR_FIELD_TEAM | DIR_FIELD_MANAGER)) != 0;
        if (*how == STORE_PUT_DETAILS && reporting_changes)
            *how = STORE_PUT_UPDATE;
        if (strcmp(staff->manager_id, staff->staff_id) == 0) {
            reject_item(item, "self_managed", "a staff member cannot be their own line manager");
            return 1;
        }
        if (item->event.type == EVENT_STAFF_HIRED || reporting_changes) {
            directory_overlay_init(&overlay, base, staff, NULL);
            r = directory_check_chain(&overlay.source, staff->staff_id);
            if (r < 0)
                return chain_verdict(item, r);
        }
        *write_staff = true;
        return 0;
    default:
        return 0; /* changes no record of the directory */
    }
}

/* Records a stored event: in the de-duplication table, and in the batch's undo list. */
static int
remember_stored(struct ingest *ingest, struct ingest_item *item, int64_t seq)
{
    int r = dedup_insert(&ingest->dedup, item->hash, seq);

    if (r < 0)
        return r;
    ingest->batch_hashes[2 * ingest->batch_hash_count] = item->hash;
    ingest->batch_hashes[2 * ingest->batch_hash_count + 1] = (uint64_t)seq;
    ingest->batch_hash_count++;
    item->status = INGEST_STORED;
    return 0;
}

/* Records a staff record written by an event: the fields that changed, from what to what. */
static int
audit_staff(struct ingest *ingest, enum event_type type, const struct dir_staff *before,
            const struct dir_staff *after)
{
    struct audit_details details;
    const char *what = type == EVENT_STAFF_HIRED  ? "staff.hired"
                       : type == EVENT_STAFF_LEFT ? "staff.left"
                                                  : "staff.changed";

    audit_details_init(&details);
    audit_details_staff(&details, before, after);
    return store_audit(ingest->writer, what, after->staff_id, after->team_id,
                       audit_details_text(&details));
}

/* Records a team record written by an event, with what changed. */
static int
audit_team(struct ingest *ingest, const struct dir_team *after)
{
    const struct dir_team *before = &ingest->batch_team_before;
    struct audit_details details;

    audit_details_init(&details);
    if (!ingest->batch_team_existed) {
        audit_details_string(&details, "name", after->name);
        audit_details_string(&details, "parent_id", after->parent_id);
        audit_details_string(&details, "manager_id", after->manager_id);
    } else {
        if (strcmp(before->name, after->name) != 0)
            audit_details_change(&details, "name", before->name, after->name);
        if (strcmp(before->parent_id, after->parent_id) != 0)
            audit_details_change(&details, "parent_id", before->parent_id, after->parent_id);
        if (strcmp(before->manager_id, after->manager_id) != 0)
            audit_details_change(&details, "manager_id", before->manager_id, after->manager_id);
    }
    return store_audit(ingest->writer, ingest->batch_team_existed ? "team.changed" : "team.created",
                       NULL, after->team_id, audit_details_text(&details));
}

/*
 * The common staff.changed (a new role, name, email, registration) touches
 * neither team nor manager, so nothing about the management chain needs
 * checking: the fields are written straight onto the record, without reading
 * it first.
 */
static int
store_staff_details(struct ingest *ingest, struct ingest_item *item, unsigned fields)
{
    struct dir_staff patch, before, after;
    char message[256];
    int64_t seq = 0;
    int r;

    memset(&patch, 0, sizeof(patch));
    directory_staff_apply(&patch, item->event.data);
    snprintf(message, sizeof(message),
             "no staff member \"%.80s\" has been hired; send staff.hired first", patch.staff_id);
    /* The record as it was, for the audit trail: from the writer's cache as a rule. */
    r = ingest->directory.get_staff(ingest->directory.context, patch.staff_id, &before);
    if (r == -ENOENT) {
        reject_item(item, "unknown_staff", message);
        return 0;
    }
    if (r < 0)
        return r;
    after = before;
    directory_staff_apply(&after, item->event.data);
    r = store_event_insert(ingest->writer, item->hash, &item->event, ingest->batch_received_ms,
                           item->body, item->body_size, &seq);
    if (r == 0)
        r = store_staff_patch(ingest->writer, &patch, fields, seq);
    if (r == -ENOENT) {
        reject_item(item, "unknown_staff", message);
        return store_event_delete(ingest->writer, seq);
    }
    if (r == 0) {
        dircache_put_staff(ingest->cache, &after);
        r = audit_staff(ingest, item->event.type, &before, &after);
    }
    if (r < 0)
        return r;
    return remember_stored(ingest, item, seq);
}

/* A KPI observation: checked against the metrics and the directory, stored, then counted. */
static int
store_observation(struct ingest *ingest, struct ingest_item *item)
{
    int64_t seq;
    int r = kpi_check(ingest->kpi, &item->event, &item->error);

    if (r == 1) {
        item->status = INGEST_REJECTED;
        return 0;
    }
    if (r == 0)
        r = store_event_insert(ingest->writer, item->hash, &item->event, ingest->batch_received_ms,
                               item->body, item->body_size, &seq);
    if (r == 0)
        r = kpi_apply(ingest->kpi, &item->event, seq);
    if (r < 0)
        return r;
    return remember_stored(ingest, item, seq);
}

/* Stores one event that passed validation and is not a duplicate. */
static int
store_item(struct ingest *ingest, struct ingest_item *item)
{
    struct dir_staff staff, before;
    struct dir_team team;
    bool write_staff, write_team, had_before = false;
    enum store_put how = STORE_PUT_NEW;
    struct store_counters saved = ingest->batch_delta;
    int64_t seq;
    int r;

    if (item->event.type == EVENT_KPI_OBSERVED)
        return store_observation(ingest, item);
    if (item->event.type == EVENT_STAFF_CHANGED) {
        unsigned fields = directory_staff_fields(item->event.data);
        /* A new role can change which review kinds apply: that takes the full path. */
        if ((fields & (DIR_FIELD_TEAM | DIR_FIELD_MANAGER)) == 0 &&
            ((fields & DIR_FIELD_ROLE) == 0 || !obligations_depend_on_role(ingest->options.kinds)))
            return store_staff_details(ingest, item, fields);
    }
    r = plan_change(ingest, item, &staff, &team, &write_staff, &write_team, &how, &before,
                    &had_before);
    if (r != 0) {
        if (r == 1)
            ingest->batch_delta = saved; /* a rejected change counts nothing but the rejection */
        return r < 0 ? r : 0;
    }
    r = store_event_insert(ingest->writer, item->hash, &item->event, ingest->batch_received_ms,
                           item->body, item->body_size, &seq);
    if (r == 0 && write_staff) {
        r = store_staff_put(ingest->writer, &staff, seq, how);
        if (r == 0)
            dircache_put_staff(ingest->cache, &staff);
        if (r == 0)
            r = audit_staff(ingest, item->event.type, had_before ? &before : NULL, &staff);
    }
    if (r == 0 && write_team) {
        r = store_team_put(ingest->writer, &team, seq);
        if (r == 0)
            dircache_put_team(ingest->cache, &team);
        if (r == 0)
            r = audit_team(ingest, &team);
    }
    if (r == 0 && write_team)
        kpi_team_changed(ingest->kpi, team.team_id);
    if (r == 0 && obligations_interested(item->event.type)) {
        const struct dir_staff *was = had_before && before.left_date[0] == '\0' ? &before : NULL;
        r = obligations_apply(ingest->obligations, &item->event, seq, was,
                              write_staff ? &staff : NULL, &item->error);
        if (r == 1) {
            /* Checked before anything was written: only the event row is undone. */
            item->status = INGEST_REJECTED;
            ingest->batch_delta = saved;
            return store_event_delete(ingest->writer, seq);
        }
    }
    if (r < 0)
        return r;
    return remember_stored(ingest, item, seq);
}

/* Runs on a worker thread: the only code that touches the writer and the table then. */
static void
write_batch(uv_work_t *work)
{
    struct ingest *ingest = work->data;
    int r;

    memset(&ingest->batch_delta, 0, sizeof(ingest->batch_delta));
    ingest->batch_hash_count = 0;
    ingest->batch_kpi_write = false;
    ingest->batch_sent = ingest->batch_missed = 0;
    obligations_begin(ingest->obligations, ingest->batch_now_ms);
    r = store_begin(ingest->writer);
    if (r == 0)
        r = kpi_replay(ingest->kpi, ingest->batch_now_ms); /* after a failed transaction */
    kpi_begin(ingest->kpi, ingest->batch_now_ms);
    for (struct ingest_request *request = ingest->batch; r == 0 && request;
         request = request->next) {
        if (request->job == INGEST_KPI_WRITE || request->job == INGEST_RELOAD)
            ingest->batch_kpi_write = true;
        if (request->job == INGEST_ACK) {
            request->job_result = store_notification_ack(ingest->writer, request->ack_seq,
                                                         ingest->batch_now_ms, request->ack_by);
            if (request->job_result == -ENOENT)
                continue;
            r = request->job_result;
        }
        for (int i = 0; r == 0 && i < request->count; i++) {
            struct ingest_item *item = &request->items[i];
            if (item->status == INGEST_PENDING) {
                r = dedup_seen(ingest, item);
                if (r == 1) {
                    item->status = INGEST_DUPLICATE;
                    r = 0;
                } else if (r == 0) {
                    store_audit_cause(ingest->writer, item->event.source, item->event.id,
                                      item->event.has_time, item->event.time_ms,
                                      ingest->batch_now_ms);
                    r = store_item(ingest, item);
                }
            }
            if (r == 0 && item->status == INGEST_STORED)
                ingest->batch_delta.events_stored++;
            else if (r == 0 && item->status == INGEST_DUPLICATE)
                ingest->batch_delta.events_duplicate++;
            else if (r == 0 && item->status == INGEST_REJECTED)
                ingest->batch_delta.events_rejected++;
        }
    }
    /* Whatever fell due by now goes out in the same transaction. */
    uint64_t sent_before, missed_before, sent_after, missed_after;
    obligations_counts(ingest->obligations, &sent_before, &missed_before);
    store_audit_cause(ingest->writer, "schedule", NULL, false, 0, ingest->batch_now_ms);
    if (r == 0)
        r = obligations_run_due(ingest->obligations, SCHEDULE_ACTIONS_PER_TRANSACTION,
                                &ingest->batch_schedule_more);
    if (r == 0)
        r = obligations_next_ms(ingest->obligations, &ingest->batch_next_ms);
    obligations_counts(ingest->obligations, &sent_after, &missed_after);
    ingest->batch_sent = sent_after - sent_before;
    ingest->batch_missed = missed_after - missed_before;
    bool retention_finished = false;
    ingest->batch_retention_more = false;
    ingest->retention_saved = ingest->retention;
    if (r == 0 && ingest->options.retention != NULL) {
        int64_t removed = 0;
        r = retention_step(&ingest->retention, ingest->options.retention, ingest->writer,
                           ingest->batch_now_ms, &removed, &ingest->batch_retention_more,
                           &retention_finished);
        if (removed > 0)
            dircache_clear(ingest->cache); /* it holds their details */
    }
    /* Alerts are judged on the transaction's figures as a whole. */
    store_audit_cause(ingest->writer, "kpi", NULL, false, 0, ingest->batch_now_ms);
    if (r == 0)
        r = kpi_finish(ingest->kpi, ingest->batch_kpi_write);
    if (r == 0)
        r = store_counters_add(ingest->writer, &ingest->batch_delta);
    if (r == 0)
        r = store_commit(ingest->writer);
    if (r == 0)
        kpi_committed(ingest->kpi);
    if (r == 0)
        ingest->wal_frames = store_wal_frames(ingest->writer);
    /* Nothing removed lingers in the log's old pages once a run is done. */
    if (r == 0 && retention_finished &&
        (ingest->retention.staff_removed > 0 || ingest->retention.events_blanked > 0))
        (void)store_truncate_log(ingest->writer);
    if (r < 0) {
        ingest->retention = ingest->retention_saved;
        ingest->batch_retention_more = false;
        snprintf(ingest->last_error, sizeof(ingest->last_error), "%s", store_error(ingest->writer));
        store_rollback(ingest->writer);
        dircache_clear(ingest->cache); /* it may hold what was just rolled back */
        kpi_rollback(ingest->kpi);
        for (size_t i = ingest->batch_hash_count; i-- > 0;)
            dedup_remove(&ingest->dedup, ingest->batch_hashes[2 * i],
                         (int64_t)ingest->batch_hashes[2 * i + 1]);
    }
    ingest->batch_result = r;
}

static void dispatch(struct ingest *ingest);
static void maybe_close(struct ingest *ingest);
static void arm_schedule_timer(struct ingest *ingest);

static void
run_checkpoint(uv_work_t *work)
{
    struct ingest *ingest = work->data;

    /* A failure leaves the log to grow until the next attempt: nothing is lost. */
    (void)store_checkpoint(ingest->options.checkpointer);
}

static void
checkpoint_done(uv_work_t *work, int status)
{
    struct ingest *ingest = work->data;

    (void)status;
    ingest->checkpointing = false;
    /*
     * A checkpoint that ran while nothing was being written copied the whole
     * log, so the next transaction starts it again from the beginning.
     */
    if (ingest->checkpoint_whole)
        ingest->wal_frames = 0;
    dispatch(ingest);
    maybe_close(ingest);
}

static void
start_checkpoint(struct ingest *ingest)
{
    ingest->checkpoint.data = ingest;
    ingest->checkpoint_whole = !ingest->busy;
    if (uv_queue_work(ingest->loop, &ingest->checkpoint, run_checkpoint, checkpoint_done) == 0)
        ingest->checkpointing = true;
}

/* Starts a checkpoint on its own thread, beside the writer, when the log has grown long enough. */
static void
maybe_checkpoint(struct ingest *ingest)
{
    if (ingest->options.checkpointer != NULL && !ingest->checkpointing &&
        ingest->wal_frames >= ingest->options.checkpoint_frames)
        start_checkpoint(ingest);
}

/*
 * Under a steady stream a checkpoint beside the writer never catches up with
 * it, and SQLite only starts the log again once a checkpoint has copied all
 * of it.  Past four times the mark, the writer waits for one checkpoint with
 * nothing else writing, which bounds the log.  True while it waits.
 */
static bool
log_too_long(struct ingest *ingest)
{
    if (ingest->options.checkpointer == NULL ||
        ingest->wal_frames < 4 * ingest->options.checkpoint_frames)
        return false;
    if (!ingest->checkpointing)
        start_checkpoint(ingest);
    return true;
}

static void
add_counters(struct store_counters *to, const struct store_counters *delta)
{
    to->events_stored += delta->events_stored;
    to->events_duplicate += delta->events_duplicate;
    to->events_rejected += delta->events_rejected;
    to->staff_active += delta->staff_active;
    to->staff_left += delta->staff_left;
    to->teams += delta->teams;
}

static void
batch_written(uv_work_t *work, int status)
{
    struct ingest *ingest = work->data;
    struct ingest_request *request = ingest->batch;
    int result = status < 0 ? status : ingest->batch_result;

    /* The worker is done with the KPI figures: safe to read on the loop. */
    ingest->kpi_unwritten = kpi_unwritten(ingest->kpi);
    ingest->kpi_next_ms = kpi_next_ms(ingest->kpi);
    if (ingest->kpi_counted_at == 0 || uv_now(ingest->loop) - ingest->kpi_counted_at >= 10000) {
        kpi_counts(ingest->kpi, &ingest->kpi_observations, &ingest->kpi_alerts, &ingest->kpi_series,
                   &ingest->kpi_bytes);
        ingest->kpi_counted_at = uv_now(ingest->loop);
    }

    if (result == 0) {
        size_t count;
        const struct obligations_notice *notices = obligations_notices(ingest->obligations, &count);
        add_counters(&ingest->totals, &ingest->batch_delta);
        add_counters(&ingest->since_start, &ingest->batch_delta);
        ingest->transactions++;
        ingest->actions_sent += ingest->batch_sent;
        ingest->actions_missed += ingest->batch_missed;
        ingest->next_action_ms = ingest->batch_next_ms;
        ingest->schedule_more = ingest->batch_schedule_more || ingest->batch_retention_more;
        if (count > 0 && ingest->options.published)
            ingest->options.published(ingest->data, notices, count);
        ingest->failures = 0;
    } else {
        /* What was due is still due: try again, waiting longer after each failure. */
        ingest->schedule_more = true;
        ingest->failures++;
    }
    ingest->batch = NULL;
    ingest->batch_events = 0;
    ingest->busy = false;
    while (request) {
        struct ingest_request *next = request->next;
        request->next = NULL;
        request->failed = result;
        if (request->job == INGEST_CATCH_UP && result == 0) {
            /* Answered once nothing is due any more (possibly after more transactions). */
            request->next = ingest->catching_up;
            ingest->catching_up = request;
        } else {
            ingest->done(ingest->data, request);
        }
        request = next;
    }
    if (!ingest->schedule_more) {
        while (ingest->catching_up) {
            request = ingest->catching_up;
            ingest->catching_up = request->next;
            request->next = NULL;
            ingest->done(ingest->data, request);
        }
    }
    /* While closing, only what was received is finished: the scheduler waits for the next start. */
    ingest->catch_up_wanted = ingest->schedule_more && !ingest->closing && ingest->failures == 0;
    arm_schedule_timer(ingest);
    maybe_checkpoint(ingest);
    dispatch(ingest);
    maybe_close(ingest);
}

static void
on_delay(uv_timer_t *timer)
{
    dispatch(timer->data);
}

/* Hands the waiting requests to the worker when it is free (and the delay, if any, is over). */
static void
dispatch(struct ingest *ingest)
{
    size_t events = 0, needed = 0;
    struct ingest_request *last = NULL;

    if (ingest->busy || (ingest->queue_head == NULL && !ingest->catch_up_wanted) ||
        log_too_long(ingest))
        return;
    if (ingest->queue_head == NULL) {
        /* Nothing to store, but reminders or escalations are due. */
        ingest->catch_up_wanted = false;
        ingest->batch = NULL;
        ingest->batch_events = 0;
        ingest->batch_now_ms = clock_now_ms(ingest->options.clock);
        ingest->batch_received_ms = clock_wall_ms();
        ingest->busy = true;
        ingest->work.data = ingest;
        if (uv_queue_work(ingest->loop, &ingest->work, write_batch, batch_written) < 0) {
            ingest->batch_result = -EIO;
            batch_written(&ingest->work, -EIO);
        }
        return;
    }
    if (ingest->options.max_delay_ms > 0 && !ingest->closing &&
        ingest->waiting_events < (size_t)ingest->options.max_events) {
        uint64_t due = ingest->queue_head->arrived + (uint64_t)ingest->options.max_delay_ms;
        uint64_t now = uv_now(ingest->loop);
        if (now < due) {
            if (!uv_is_active((uv_handle_t *)&ingest->delay))
                uv_timer_start(&ingest->delay, on_delay, due - now, 0);
            return;
        }
    }
    uv_timer_stop(&ingest->delay);

    /*
     * Whole requests, up to max_events events (always at least one request).
     * A reload ends its batch: what came before it is written under the old
     * configuration, what comes after under the new.
     */
    for (struct ingest_request *request = ingest->queue_head; request; request = request->next) {
        if (last && events + (size_t)request->count > (size_t)ingest->options.max_events)
            break;
        events += (size_t)request->count;
        last = request;
        if (request->job == INGEST_RELOAD)
            break;
    }
    needed = events * 2;
    if (needed > ingest->batch_hash_capacity) {
        uint64_t *hashes = realloc(ingest->batch_hashes, needed * sizeof(*hashes));
        if (hashes == NULL)
            return; /* retried on the next loop iteration by the prepare handle */
        ingest->batch_hashes = hashes;
        ingest->batch_hash_capacity = needed;
    }
    ingest->batch = ingest->queue_head;
    ingest->queue_head = last->next;
    if (ingest->queue_head == NULL)
        ingest->queue_tail = NULL;
    last->next = NULL;
    ingest->batch_events = events;
    ingest->waiting_events -= events;
    ingest->batch_received_ms = clock_wall_ms();
    ingest->batch_now_ms = clock_now_ms(ingest->options.clock);
    ingest->catch_up_wanted = false; /* this batch runs the scheduler too */
    ingest->busy = true;
    ingest->work.data = ingest;
    if (uv_queue_work(ingest->loop, &ingest->work, write_batch, batch_written) < 0) {
        /* Cannot happen with a valid loop and callback; fail the batch rather than lose it. */
        ingest->batch_result = -EIO;
        batch_written(&ingest->work, -EIO);
    }
}

static void
on_prepare(uv_prepare_t *prepare)
{
    dispatch(prepare->data);
}

static void
on_schedule_timer(uv_timer_t *timer)
{
    struct ingest *ingest = timer->data;

    ingest->catch_up_wanted = true;
    dispatch(ingest);
}

/*
 * Sleeps until the earliest pending action.  On the real clock the wait is
 * at most a minute, so a wall clock that jumps forward is noticed within a
 * minute and what fell due meanwhile goes out then.  A test clock moves only
 * through the API, which asks for a catch-up itself.
 */
static void
arm_schedule_timer(struct ingest *ingest)
{
    int64_t delay = SCHEDULE_MAX_SLEEP_MS;

    if (ingest->closing) {
        uv_timer_stop(&ingest->schedule_timer);
        return;
    }
    if (ingest->failures > 0) {
        /* 1 s, 2 s, 4 s ... up to a minute after failed transactions: no busy retry loop. */
        int shift = ingest->failures > 6 ? 6 : ingest->failures - 1;
        delay = 1000LL << shift;
        uv_timer_start(&ingest->schedule_timer, on_schedule_timer,
                       (uint64_t)(delay < SCHEDULE_MAX_SLEEP_MS ? delay : SCHEDULE_MAX_SLEEP_MS),
                       0);
        return;
    }
    if (ingest->options.clock->test) {
        uv_timer_stop(&ingest->schedule_timer);
        return;
    }
    int64_t next = ingest->next_action_ms;
    if (ingest->kpi_next_ms != 0 && (next == 0 || ingest->kpi_next_ms < next))
        next = ingest->kpi_next_ms; /* a day's derived figures, or figures waiting to be written */
    if (ingest->options.retention != NULL) {
        int64_t retention = retention_next_ms(&ingest->retention, ingest->options.retention,
                                              clock_now_ms(ingest->options.clock));
        if (retention != 0 && (next == 0 || retention < next))
            next = retention;
    }
    if (next != 0) {
        int64_t until = next - clock_now_ms(ingest->options.clock);
        if (until < delay)
            delay = until < 0 ? 0 : until;
    }
    uv_timer_start(&ingest->schedule_timer, on_schedule_timer, (uint64_t)delay, 0);
}

int
ingest_new(struct ingest **out, uv_loop_t *loop, struct store *writer,
           const struct ingest_options *options, ingest_done_cb done, void *data, char *message,
           size_t message_size)
{
    struct ingest *ingest = calloc(1, sizeof(*ingest));
    int r;

    *out = NULL;
    if (ingest == NULL)
        return -ENOMEM;
    ingest->loop = loop;
    ingest->writer = writer;
    ingest->options = *options;
    ingest->done = done;
    ingest->data = data;
    retention_init(&ingest->retention);
    store_directory_source(writer, &ingest->store_source);
    r = dircache_new(&ingest->cache, &ingest->store_source, 4096, 1024);
    if (r == 0) {
        dircache_source(ingest->cache, &ingest->directory);
        r = dedup_grow(&ingest->dedup);
    }
    if (r == 0)
        r = obligations_new(&ingest->obligations, writer, options->kinds, &ingest->directory);
    if (r == 0)
        r = kpi_new(&ingest->kpi, writer, options->metrics, options->kinds, &ingest->directory,
                    ingest->obligations);
    if (r == 0)
        r = store_obligations_next_ms(writer, &ingest->next_action_ms);
    if (r == 0)
        r = store_events_each(writer, load_one, &ingest->dedup);
    if (r == 0)
        r = store_counters_get(writer, &ingest->totals);
    if (r < 0) {
        snprintf(message, message_size, "cannot load the stored events from %s: %s",
                 store_path(writer), store_error(writer));
        ingest_free(ingest);
        return r;
    }
    /*
     * Waiting requests go to the writer just before the loop blocks for I/O:
     * by then this turn's messages have all been read, so requests that
     * arrived together share a transaction.
     */
    uv_prepare_init(loop, &ingest->prepare);
    uv_timer_init(loop, &ingest->delay);
    uv_timer_init(loop, &ingest->schedule_timer);
    ingest->prepare.data = ingest;
    ingest->delay.data = ingest;
    ingest->schedule_timer.data = ingest;
    ingest->open_handles = 3;
    /* What fell due while the daemon was down goes out first, oldest first. */
    ingest->catch_up_wanted = true;
    uv_prepare_start(&ingest->prepare, on_prepare);
    /* The prepare handle alone must not keep the loop alive. */
    uv_unref((uv_handle_t *)&ingest->prepare);
    *out = ingest;
    return 0;
}

struct ingest_request *
ingest_request_new(int count)
{
    return calloc(1, sizeof(struct ingest_request) + (size_t)count * sizeof(struct ingest_item));
}

void
ingest_request_free(struct ingest_request *request)
{
    if (request == NULL)
        return;
    for (int i = 0; i < request->count; i++)
        free(request->items[i].printed);
    cJSON_Delete(request->root);
    free(request->text);
    free(request);
}

void
ingest_submit(struct ingest *ingest, struct ingest_request *request)
{
    request->next = NULL;
    request->arrived = uv_now(ingest->loop);
    if (ingest->queue_tail)
        ingest->queue_tail->next = request;
    else
        ingest->queue_head = request;
    ingest->queue_tail = request;
    ingest->waiting_events += (size_t)request->count;
}

size_t
ingest_waiting_events(const struct ingest *ingest)
{
    return ingest->waiting_events;
}

size_t
ingest_in_flight_events(const struct ingest *ingest)
{
    return ingest->batch_events;
}

void
ingest_schedule_counts(const struct ingest *ingest, uint64_t *sent, uint64_t *missed)
{
    *sent = ingest->actions_sent;
    *missed = ingest->actions_missed;
}

int64_t
ingest_next_action_ms(const struct ingest *ingest)
{
    return ingest->next_action_ms;
}

const struct store_counters *
ingest_totals(const struct ingest *ingest)
{
    return &ingest->totals;
}

const struct store_counters *
ingest_since_start(const struct ingest *ingest)
{
    return &ingest->since_start;
}

unsigned long
ingest_transactions(const struct ingest *ingest)
{
    return ingest->transactions;
}

const char *
ingest_last_error(const struct ingest *ingest)
{
    return ingest->last_error;
}

static void
on_handle_closed(uv_handle_t *handle)
{
    struct ingest *ingest = handle->data;

    if (--ingest->open_handles == 0 && ingest->on_closed)
        ingest->on_closed(ingest->data);
}

static void
maybe_close(struct ingest *ingest)
{
    if (!ingest->closing || ingest->busy || ingest->checkpointing || ingest->queue_head != NULL)
        return;
    /* Catch-ups still waiting are answered: nothing more will be sent before the exit. */
    while (ingest->catching_up) {
        struct ingest_request *request = ingest->catching_up;
        ingest->catching_up = request->next;
        request->next = NULL;
        ingest->done(ingest->data, request);
    }
    if (uv_is_closing((uv_handle_t *)&ingest->prepare))
        return;
    uv_close((uv_handle_t *)&ingest->prepare, on_handle_closed);
    uv_close((uv_handle_t *)&ingest->delay, on_handle_closed);
    uv_close((uv_handle_t *)&ingest->schedule_timer, on_handle_closed);
}

int
ingest_reconfigure(struct ingest *ingest, const struct kinds *kinds, const struct metrics *metrics,
                   int max_events, int max_delay_ms)
{
    int r;

    /* The worker must be idle: it reads the kinds and metrics while it writes. */
    if (ingest->busy)
        return -EBUSY;
    r = kpi_set_metrics(ingest->kpi, metrics, kinds);
    if (r < 0)
        return r;
    obligations_set_kinds(ingest->obligations, kinds);
    ingest->options.kinds = kinds;
    ingest->options.metrics = metrics;
    ingest->options.max_events = max_events;
    ingest->options.max_delay_ms = max_delay_ms;
    /* kpi.flush_ms may have changed: when the figures next need a batch. */
    ingest->kpi_next_ms = kpi_next_ms(ingest->kpi);
    ingest->kpi_unwritten = false;
    return 0;
}

void
ingest_close(struct ingest *ingest, void (*on_closed)(void *data))
{
    ingest->closing = true;
    ingest->on_closed = on_closed;
    ingest->catch_up_wanted = false;
    uv_timer_stop(&ingest->schedule_timer);
    dispatch(ingest);
    maybe_close(ingest);
}

void
ingest_free(struct ingest *ingest)
{
    if (ingest == NULL)
        return;
    dircache_free(ingest->cache);
    kpi_free(ingest->kpi);
    obligations_free(ingest->obligations);
    free(ingest->dedup.keys);
    free(ingest->dedup.seqs);
    free(ingest->batch_hashes);
    free(ingest);
}

bool
ingest_kpi_unwritten(const struct ingest *ingest)
{
    return ingest->kpi_unwritten;
}

void
ingest_kpi_counts(struct ingest *ingest, uint64_t *observations, uint64_t *alerts, size_t *cells,
                  size_t *bytes)
{
    /* Copied after a batch: the worker owns the figures while it writes. */
    if (!ingest->busy) {
        kpi_counts(ingest->kpi, &ingest->kpi_observations, &ingest->kpi_alerts, &ingest->kpi_series,
                   &ingest->kpi_bytes);
        ingest->kpi_counted_at = uv_now(ingest->loop);
    }
    *observations = ingest->kpi_observations;
    *alerts = ingest->kpi_alerts;
    *cells = ingest->kpi_series;
    *bytes = ingest->kpi_bytes;
}

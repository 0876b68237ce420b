/*
 * ingest: the path from a validated publish request to a committed
 * transaction, with group commit.
 *
 * Requests queue on the event loop.  Whenever the writer is free, the waiting
 * requests (up to commit.max_events events, whole requests only) go to one
 * worker thread as one batch: de-duplication by (source, id), the directory
 * changes, the events and the running totals are written in one BEGIN
 * IMMEDIATE transaction, and only after COMMIT returns is each request handed
 * back, on the loop, to the done callback that replies.  While the writer
 * works the loop keeps receiving and validating, so the next batch grows
 * naturally with the load.
 *
 * De-duplication uses an in-memory table from the 64-bit hash of (source, id)
 * to the event's sequence number, loaded at start: the events table is then
 * append-only in sequence order, and a hash match is confirmed against the
 * stored row, so a collision never turns a new event into a duplicate.
 */
#ifndef CAREHUB_INGEST_H
#define CAREHUB_INGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <uv.h>

#include "bus.h"
#include "clock.h"
#include "event.h"
#include "kinds.h"
#include "kpi.h"
#include "metrics.h"
#include "obligations.h"
#include "retention.h"
#include "store.h"

enum ingest_status { INGEST_PENDING, INGEST_STORED, INGEST_DUPLICATE, INGEST_REJECTED };

struct ingest_item {
    enum ingest_status status;
    struct event event; /* valid unless rejected by validation */
    uint64_t hash;
    const char *body; /* the event's JSON text as stored: in the request's text, or printed */
    size_t body_size;
    char *printed; /* owned: the event printed by cJSON, when its text could not be found */
    struct event_error error;
};

/*
 * What a request asks of the writer: to store events; to run the scheduler
 * until nothing is due at the clock's time (answered only then: the test
 * clock's "advance" waits for it); to acknowledge a notification; to write
 * the KPI figures held in memory (a KPI query waits for it); or to get ready
 * for a new configuration (a reload): the KPI figures are written and the
 * request ends its transaction, so that when it is done nothing the writer
 * holds depends on the configuration it had, and ingest_reconfigure() can
 * swap it.
 */
enum ingest_job {
    INGEST_PUBLISH = 0,
    INGEST_CATCH_UP,
    INGEST_ACK,
    INGEST_KPI_WRITE,
    INGEST_RELOAD
};

/* One request: the caller fills route, root, id and items (or the job's fields), then submits it.
 */
struct ingest_request {
    struct ingest_request *next;
    enum ingest_job job;
    int64_t ack_seq;          /* INGEST_ACK: the notification */
    char ack_by[DIR_ID_SIZE]; /* INGEST_ACK: who acknowledged it ("" when not said) */
    int job_result;           /* INGEST_ACK: 0 or -ENOENT */
    struct bus_route route;
    cJSON *root;      /* owned: the parsed request, which the items borrow from */
    char *text;       /* owned: the request as received, which the bodies point into */
    const cJSON *id;  /* borrowed from root */
    uint64_t arrived; /* uv_now() when received */
    int failed;       /* 0, or the negative code of the batch's failed commit */
    int count;
    struct ingest_item items[];
};

struct ingest;

/* Called on the loop for each request once its batch committed (or failed). */
typedef void (*ingest_done_cb)(void *data, struct ingest_request *request);

struct ingest_options {
    int max_events;   /* commit.max_events */
    int max_delay_ms; /* commit.max_delay_ms */
    /*
     * A second connection (borrowed) that copies the write-ahead log into
     * the database on its own thread once it holds checkpoint_frames pages,
     * so that commits never wait for it.  NULL: SQLite checkpoints inside
     * commits.
     */
    struct store *checkpointer;
    int checkpoint_frames;
    const struct kinds *kinds;     /* borrowed: review kinds and the working calendar */
    const struct metrics *metrics; /* borrowed: the KPI metrics */
    const struct clock *clock;     /* borrowed: the daemon's clock (real or test) */
    /*
     * Borrowed: the retention policy, read at each transaction (a reload
     * changes it in place while the writer is idle); NULL: nothing removed.
     */
    const struct retention_policy *retention;
    /* Called on the loop with the notifications each committed transaction wrote. */
    void (*published)(void *data, const struct obligations_notice *notices, size_t count);
};

/*
 * Creates the pipeline over the writer connection (borrowed) and loads the
 * de-duplication table.  Returns 0 or a negative code with a sentence in
 * message.
 */
int ingest_new(struct ingest **out, uv_loop_t *loop, struct store *writer,
               const struct ingest_options *options, ingest_done_cb done, void *data, char *message,
               size_t message_size);

/* Allocates a request with room for count items, all zeroed. */
struct ingest_request *ingest_request_new(int count);

/* Frees a request and everything it owns; accepts NULL. */
void ingest_request_free(struct ingest_request *request);

/* Queues a request; ownership passes to the pipeline until done is called. */
void ingest_submit(struct ingest *ingest, struct ingest_request *request);

/* Events waiting for a transaction, and events in the one being written. */
size_t ingest_waiting_events(const struct ingest *ingest);
size_t ingest_in_flight_events(const struct ingest *ingest);

/* Totals as committed (since the database was created) and since start. */
const struct store_counters *ingest_totals(const struct ingest *ingest);
const struct store_counters *ingest_since_start(const struct ingest *ingest);

/* Reminders and escalations sent, and actions recorded as missed, since start. */
void ingest_schedule_counts(const struct ingest *ingest, uint64_t *sent, uint64_t *missed);

/* The moment of the earliest pending reminder or escalation (0 when none). */
int64_t ingest_next_action_ms(const struct ingest *ingest);

/* True when KPI observations were applied but are not yet on disk (see INGEST_KPI_WRITE). */
bool ingest_kpi_unwritten(const struct ingest *ingest);

/* KPI observations applied and alerts sent since start; figures in memory and their bytes. */
void ingest_kpi_counts(struct ingest *ingest, uint64_t *observations, uint64_t *alerts,
                       size_t *cells, size_t *bytes);

/* Transactions committed since start: events stored per transaction shows group commit. */
unsigned long ingest_transactions(const struct ingest *ingest);

/* Message of the last failed commit (borrowed; empty when none). */
const char *ingest_last_error(const struct ingest *ingest);

/*
 * Makes the writer work with kinds and metrics (borrowed, replacing those
 * given to ingest_new()) and the commit settings max_events and max_delay_ms
 * from the next transaction on.  Call on the loop, from the done callback of
 * an INGEST_RELOAD request that succeeded (failed == 0): the worker is idle
 * then and every KPI figure is on disk.  Afterwards nothing in ingest refers
 * to the old kinds and metrics, which the caller may free.  Returns 0; -EBUSY
 * when called at another time, or -ENOMEM, both with nothing changed.
 */
int ingest_reconfigure(struct ingest *ingest, const struct kinds *kinds,
                       const struct metrics *metrics, int max_events, int max_delay_ms);

/* Closes the loop handles once nothing is waiting or in flight; on_closed then runs. */
void ingest_close(struct ingest *ingest, void (*on_closed)(void *data));

/* Frees the pipeline after ingest_close() completed; accepts NULL. */
void ingest_free(struct ingest *ingest);

#endif

/*
 * api_internal: what the files of the api module share.  api.c parses and
 * routes requests and answers the directory ops; api_reviews.c answers the
 * ops about review obligations, notifications and the test clock;
 * api_kpi.c the kpi op; api_admin.c the administrator's op, backup.
 */
#ifndef CAREHUB_API_INTERNAL_H
#define CAREHUB_API_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "bus.h"
#include "daemon.h"
#include "directory.h"
#include "ingest.h"

/* Serialises and sends a reply (owned: freed here). */
void api_send_reply(struct daemon *daemon, const struct bus_route *route, cJSON *reply);

/* Adds name: text to object, or name: null when text is NULL or empty. */
void api_add_optional(cJSON *object, const char *name, const char *text);

/* Sends an error reply with a stable code and a sentence, and counts it as refused. */
void api_send_error(struct daemon *daemon, const struct bus_route *route, const cJSON *id,
                    const char *code, const char *message);

/* A required id field of the request (borrowed); replies bad_request and returns NULL if absent. */
const char *api_required_id(struct daemon *daemon, const struct bus_route *route,
                            const cJSON *request, const cJSON *id, const char *name);

/* Replies "unavailable" for a failed query and logs why. */
void api_reply_store_failure(struct daemon *daemon, const struct bus_route *route, const cJSON *id,
                             int r);

/* Adds name: "YYYY-MM-DD" (a local day), or name: null for STORE_NO_DAY. */
void api_add_day(cJSON *object, const char *name, int64_t day);

/*
 * Reads an optional integer field into *out (left alone when absent).
 * Replies bad_request and returns false when it is not a whole number in [min, max].
 */
bool api_optional_integer(struct daemon *daemon, const struct bus_route *route,
                          const cJSON *request, const cJSON *id, const char *name, long long min,
                          long long max, long long *out);

/* An optional id field: NULL when absent; replies bad_request and sets *bad when malformed. */
const char *api_optional_id(struct daemon *daemon, const struct bus_route *route,
                            const cJSON *request, const cJSON *id, const char *name, bool *bad);

/* Visits everyone whose line manager (by the directory's rule) is manager_id. */
typedef int (*api_report_visit)(void *context, const struct dir_staff *staff, enum dir_via via);
int api_reports_of(struct daemon *daemon, const char *manager_id, api_report_visit visit,
                   void *context);

/*
 * With CURVE on, decides whether the key that sent request (the User-Id of
 * its frame body) may make it: replies "unauthorised" for a key not (or no
 * longer) authorised and "forbidden" for an op its role, or a team limit,
 * does not allow, logs the refusal with the key's name, and returns false.
 * May narrow request to a reader's team (see api_auth.c).  Without CURVE
 * it returns true.
 */
bool api_authorise(struct daemon *daemon, const struct bus_route *route, zmq_msg_t *body,
                   cJSON *request, const cJSON *id, const char *op);

/* Query ops (answered at once from the reader connection). */
void api_op_due(struct daemon *daemon, const struct bus_route *route, const cJSON *request,
                const cJSON *id);
void api_op_overdue(struct daemon *daemon, const struct bus_route *route, const cJSON *request,
                    const cJSON *id);
void api_op_person(struct daemon *daemon, const struct bus_route *route, const cJSON *request,
                   const cJSON *id);
void api_op_notifications(struct daemon *daemon, const struct bus_route *route,
                          const cJSON *request, const cJSON *id);
/* The "audit" op: a person's (or a team's) audit rows, oldest first. */
void api_op_audit(struct daemon *daemon, const struct bus_route *route, const cJSON *request,
                  const cJSON *id);

/*
 * Ops that go through the writer: each returns true when it kept request
 * (then answered from api_job_done()), false when it answered at once and
 * the caller still owns request.
 */
bool api_op_ack(struct daemon *daemon, const struct bus_route *route, cJSON *request,
                const cJSON *id);
bool api_op_clock(struct daemon *daemon, const struct bus_route *route, cJSON *request,
                  const cJSON *id);

/* The "kpi" op: KPI figures per team and period (answered once the figures are on disk). */
bool api_op_kpi(struct daemon *daemon, const struct bus_route *route, cJSON *request,
                const cJSON *id);
/* Answers a kpi request after its INGEST_KPI_WRITE job. */
void api_kpi_answer(struct daemon *daemon, const struct bus_route *route, const cJSON *request,
                    const cJSON *id);

/*
 * The "backup" op (api_admin.c): copies the database to a file on a worker
 * thread while the loop goes on serving.  Returns true when it kept request
 * (answered once the copy is written or has failed), false when it answered
 * at once and the caller still owns request.
 */
bool api_op_backup(struct daemon *daemon, const struct bus_route *route, cJSON *request,
                   const cJSON *id);

/* Hands a job (owning request) to the writer; api_job_done() answers it. */
void api_submit_job(struct daemon *daemon, const struct bus_route *route, cJSON *request,
                    const cJSON *id, struct ingest_request *job);

/* Answers an ack or clock request once the writer has done its part. */
void api_job_done(struct daemon *daemon, struct ingest_request *request);

#endif

/*
 * api_internal: what the files of the api module share.  api.c parses and
 * routes requests and answers the directory ops; api_reviews.c answers the
 * ops about review obligations, notifications and the test clock.
 */
#ifndef CAREHUB_API_INTERNAL_H
#define CAREHUB_API_INTERNAL_H

#include <stdbool.h>

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

/* Visits everyone whose line manager (by the directory's rule) is manager_id. */
typedef int (*api_report_visit)(void *context, const struct dir_staff *staff, enum dir_via via);
int api_reports_of(struct daemon *daemon, const char *manager_id, api_report_visit visit,
                   void *context);

/* Query ops (answered at once from the reader connection). */
void api_op_due(struct daemon *daemon, const struct bus_route *route, const cJSON *request,
                const cJSON *id);
void api_op_overdue(struct daemon *daemon, const struct bus_route *route, const cJSON *request,
                    const cJSON *id);
void api_op_person(struct daemon *daemon, const struct bus_route *route, const cJSON *request,
                   const cJSON *id);
void api_op_notifications(struct daemon *daemon, const struct bus_route *route,
                          const cJSON *request, const cJSON *id);

/*
 * Ops that go through the writer: each returns true when it kept request
 * (then answered from api_job_done()), false when it answered at once and
 * the caller still owns request.
 */
bool api_op_ack(struct daemon *daemon, const struct bus_route *route, cJSON *request,
                const cJSON *id);
bool api_op_clock(struct daemon *daemon, const struct bus_route *route, cJSON *request,
                  const cJSON *id);

/* Answers an ack or clock request once the writer has done its part. */
void api_job_done(struct daemon *daemon, struct ingest_request *request);

#endif

/*
 * event: validation of CloudEvents as the daemon receives them.
 *
 * Pure functions over cJSON trees: no I/O, no clock, no globals.  An event is
 * checked completely here (envelope attributes and the shape of its data)
 * before anything is stored, so a rejection names exactly what is wrong.
 */
#ifndef CAREHUB_EVENT_H
#define CAREHUB_EVENT_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

/* The longest CloudEvents id and source, and the longest staff or team id, in bytes. */
#define EVENT_ATTRIBUTE_MAX 256
#define EVENT_ID_MAX 128
#define EVENT_TEXT_MAX 256
#define EVENT_EMAIL_MAX 254

enum event_type {
    EVENT_TEAM_CHANGED,
    EVENT_STAFF_HIRED,
    EVENT_STAFF_CHANGED,
    EVENT_STAFF_LEFT,
    EVENT_ABSENCE_STARTED,
    EVENT_ABSENCE_ENDED,
    EVENT_REVIEW_BOOKED,
    EVENT_REVIEW_COMPLETED,
    EVENT_REVIEW_WAIVED,
    EVENT_ACTION_ASSIGNED,
    EVENT_ACTION_COMPLETED,
    EVENT_TRAINING_COMPLETED,
    EVENT_CONCERN_OPENED,
    EVENT_CONCERN_CLOSED,
    EVENT_KPI_OBSERVED,
    EVENT_TYPE_COUNT
};

/* Why an event was rejected: a stable code and a sentence for a person. */
struct event_error {
    const char *code; /* static string */
    char message[256];
};

/* A validated event; its strings are borrowed from the cJSON tree it came from. */
struct event {
    enum event_type type;
    const char *source;
    const char *id;
    bool has_time;
    int64_t time_ms;
    const cJSON *data;
};

/*
 * Checks that json is a CloudEvent this daemon handles and fills *out.
 * Returns 0, or -EINVAL with the reason in *error.  The event borrows from
 * json, which must outlive it.
 */
int event_validate(const cJSON *json, struct event *out, struct event_error *error);

/* Fills *error with a stable code and a sentence; returns -EINVAL. */
int event_reject(struct event_error *error, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The wire name of a type ("staff.hired"). */
const char *event_type_name(enum event_type type);

/* 64-bit hash of the (source, id) pair that identifies an event for de-duplication. */
uint64_t event_identity_hash(const char *source, const char *id);

#endif

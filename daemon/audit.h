/*
 * audit: the details of an audit row, a small JSON object built in a fixed
 * buffer.
 *
 * Every change the writer makes is recorded by store_audit() with a short
 * code ("staff.changed", "obligation.completed") and these details: the
 * fields that changed, from what to what, or what was created.  Pure: no
 * I/O, no allocation, so recording costs a few hundred bytes of copying.
 */
#ifndef CAREHUB_AUDIT_H
#define CAREHUB_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "directory.h"
#include "store.h"

/* Large enough for every field of a staff record changed at once, escaped. */
#define AUDIT_DETAILS_SIZE 16384

struct audit_details {
    char text[AUDIT_DETAILS_SIZE];
    size_t length;
    bool members;  /* a member was added: the next needs a comma */
    bool overflow; /* did not fit: the text becomes {"truncated":true} */
};

/* Starts an empty object. */
void audit_details_init(struct audit_details *details);

/* Adds "key": value as a JSON string; NULL or "" adds null. */
void audit_details_string(struct audit_details *details, const char *key, const char *value);

/* Adds "key": value as a number. */
void audit_details_int(struct audit_details *details, const char *key, int64_t value);

/* Adds "key": "YYYY-MM-DD" for a day, or null for STORE_NO_DAY. */
void audit_details_day(struct audit_details *details, const char *key, int64_t day);

/* Adds "key": {"from": before, "to": after} (strings; "" as null). */
void audit_details_change(struct audit_details *details, const char *key, const char *before,
                          const char *after);

/*
 * Adds a change for each field of a staff record that differs between
 * before (NULL: a new record, every field set) and after.  Returns the
 * number of fields added.
 */
int audit_details_staff(struct audit_details *details, const struct dir_staff *before,
                        const struct dir_staff *after);

/* Adds an obligation's identity: its id, kind, item, step, due day and state. */
void audit_details_obligation(struct audit_details *details, const struct obligation *obligation);

/* Closes the object and returns its text (borrowed from details). */
const char *audit_details_text(struct audit_details *details);

#endif

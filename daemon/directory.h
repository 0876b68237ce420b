/*
 * directory: the staff directory's rules, as pure functions.
 *
 * Who is whose line manager, whether a change would make the management chain
 * a loop, and how a change event updates a record.  Records are read through a
 * directory_source (the store in the daemon, a table in the unit tests), so
 * nothing here does I/O of its own.
 *
 * The line manager rule: a staff member's own manager_id when set; otherwise
 * the manager of their team; when that is themself or the team has none, the
 * manager of the parent team, and so on up the teams.
 */
#ifndef CAREHUB_DIRECTORY_H
#define CAREHUB_DIRECTORY_H

#include <stdbool.h>

#include <cjson/cJSON.h>

#include "event.h"

#define DIR_ID_SIZE (EVENT_ID_MAX + 1)
#define DIR_TEXT_SIZE (EVENT_TEXT_MAX + 1)
#define DIR_DATE_SIZE 11

/* The deepest management chain or team tree the directory accepts. */
#define DIR_DEPTH_MAX 64

/* A staff record; an empty string means "not set". */
struct dir_staff {
    char staff_id[DIR_ID_SIZE];
    char name[DIR_TEXT_SIZE];
    char role[DIR_TEXT_SIZE];
    char team_id[DIR_ID_SIZE];
    char manager_id[DIR_ID_SIZE];
    char start_date[DIR_DATE_SIZE];
    char email[EVENT_EMAIL_MAX + 1];
    char registration_body[DIR_TEXT_SIZE];
    char registration_number[DIR_TEXT_SIZE];
    char registration_renewal[DIR_DATE_SIZE];
    char left_date[DIR_DATE_SIZE];
};

/* A team (organisational unit); an empty string means "not set". */
struct dir_team {
    char team_id[DIR_ID_SIZE];
    char name[DIR_TEXT_SIZE];
    char parent_id[DIR_ID_SIZE];
    char manager_id[DIR_ID_SIZE];
};

/*
 * Where records come from.  Each look-up fills *out and returns 0, returns
 * -ENOENT when there is no such record, or another negative code on failure.
 */
struct directory_source {
    void *context;
    int (*get_staff)(void *context, const char *staff_id, struct dir_staff *out);
    int (*get_team)(void *context, const char *team_id, struct dir_team *out);
};

/* How a line manager was found. */
enum dir_via { DIR_VIA_NONE, DIR_VIA_EXPLICIT, DIR_VIA_TEAM };

/*
 * Copies text (NULL reads as "") into field of size bytes, truncating when it
 * is longer; field is always terminated.  The records' one copying routine.
 */
void directory_copy_text(char *field, size_t size, const char *text);

/* "explicit", "team" or NULL. */
const char *directory_via_name(enum dir_via via);

/* Applies a validated staff.hired or staff.changed data object to *staff (null clears). */
void directory_staff_apply(struct dir_staff *staff, const cJSON *data);

/* The fields of a staff record an event may carry, as bits. */
enum dir_field {
    DIR_FIELD_NAME = 1 << 0,
    DIR_FIELD_ROLE = 1 << 1,
    DIR_FIELD_TEAM = 1 << 2,
    DIR_FIELD_MANAGER = 1 << 3,
    DIR_FIELD_START_DATE = 1 << 4,
    DIR_FIELD_EMAIL = 1 << 5,
    DIR_FIELD_REGISTRATION = 1 << 6,
};

/* Which fields a staff.hired or staff.changed data object carries (set or cleared). */
unsigned directory_staff_fields(const cJSON *data);

/* Applies a validated team.changed data object to *team. */
void directory_team_apply(struct dir_team *team, const cJSON *data);

/*
 * Finds the line manager of staff into manager_id.  Returns 0; -ENOENT when
 * nobody manages them; -ELOOP when the team tree above them loops or is deeper
 * than DIR_DEPTH_MAX; or a look-up's error.
 */
int directory_manager_of(const struct directory_source *source, const struct dir_staff *staff,
                         char manager_id[DIR_ID_SIZE], enum dir_via *via);

/*
 * Walks the management chain up from staff_id.  Returns 0 when it ends (at
 * someone with no manager, or an id not yet known); -ELOOP when it comes back
 * to someone already on it; -E2BIG when it is deeper than DIR_DEPTH_MAX.
 */
int directory_check_chain(const struct directory_source *source, const char *staff_id);

/* Walks the parents of team_id: 0, -ELOOP on a loop, -E2BIG when too deep. */
int directory_check_team_tree(const struct directory_source *source, const char *team_id);

/*
 * A source that answers with one changed record (staff or team, either may
 * be NULL) and reads everything else from base: the directory as it would be
 * after the change, so a change is checked before it is written.
 */
struct directory_overlay {
    const struct directory_source *base;
    const struct dir_staff *staff;
    const struct dir_team *team;
    struct directory_source source;
};

/* Initialises *overlay; use &overlay->source as the source. */
void directory_overlay_init(struct directory_overlay *overlay, const struct directory_source *base,
                            const struct dir_staff *staff, const struct dir_team *team);

#endif

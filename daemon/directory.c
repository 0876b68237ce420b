#include "directory.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

void
directory_copy_text(char *field, size_t size, const char *text)
{
    size_t length = text ? strnlen(text, size - 1) : 0;

    memcpy(field, text ? text : "", length);
    field[length] = '\0';
}

const char *
directory_via_name(enum dir_via via)
{
    switch (via) {
    case DIR_VIA_EXPLICIT:
        return "explicit";
    case DIR_VIA_TEAM:
        return "team";
    default:
        return NULL;
    }
}

/* Copies data's member name into field when present: a string sets it, null clears it. */
static void
apply_string(const cJSON *data, const char *name, char *field, size_t size)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(data, name);

    if (item == NULL)
        return;
    if (cJSON_IsString(item))
        directory_copy_text(field, size, item->valuestring);
    else if (cJSON_IsNull(item))
        field[0] = '\0';
}

#define APPLY(data, name, record) apply_string(data, #name, (record)->name, sizeof((record)->name))

void
directory_staff_apply(struct dir_staff *staff, const cJSON *data)
{
    const cJSON *registration = cJSON_GetObjectItemCaseSensitive(data, "registration");

    APPLY(data, staff_id, staff);
    APPLY(data, name, staff);
    APPLY(data, role, staff);
    APPLY(data, team_id, staff);
    APPLY(data, manager_id, staff);
    APPLY(data, start_date, staff);
    APPLY(data, email, staff);
    if (cJSON_IsObject(registration)) {
        apply_string(registration, "body", staff->registration_body,
                     sizeof(staff->registration_body));
        apply_string(registration, "number", staff->registration_number,
                     sizeof(staff->registration_number));
        apply_string(registration, "renewal_date", staff->registration_renewal,
                     sizeof(staff->registration_renewal));
    } else if (cJSON_IsNull(registration)) {
        staff->registration_body[0] = '\0';
        staff->registration_number[0] = '\0';
        staff->registration_renewal[0] = '\0';
    }
}

unsigned
directory_staff_fields(const cJSON *data)
{
    static const struct {
        const char *name;
        enum dir_field field;
    } names[] = {{"name", DIR_FIELD_NAME},
                 {"role", DIR_FIELD_ROLE},
                 {"team_id", DIR_FIELD_TEAM},
                 {"manager_id", DIR_FIELD_MANAGER},
                 {"start_date", DIR_FIELD_START_DATE},
                 {"email", DIR_FIELD_EMAIL},
                 {"registration", DIR_FIELD_REGISTRATION}};
    const cJSON *item;
    unsigned fields = 0;

    cJSON_ArrayForEach(item, data)
    {
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
            if (strcmp(item->string, names[i].name) == 0)
                fields |= names[i].field;
    }
    return fields;
}

void
directory_team_apply(struct dir_team *team, const cJSON *data)
{
    APPLY(data, team_id, team);
    APPLY(data, name, team);
    /* Absent optional fields of team.changed mean "none": the event states the whole team. */
    team->parent_id[0] = '\0';
    team->manager_id[0] = '\0';
    APPLY(data, parent_id, team);
    APPLY(data, manager_id, team);
}

int
directory_manager_of(const struct directory_source *source, const struct dir_staff *staff,
                     char manager_id[DIR_ID_SIZE], enum dir_via *via)
{
    struct dir_team team;
    char team_id[DIR_ID_SIZE];

    *via = DIR_VIA_NONE;
    manager_id[0] = '\0';
    if (staff->manager_id[0] != '\0') {
        memcpy(manager_id, staff->manager_id, DIR_ID_SIZE);
        *via = DIR_VIA_EXPLICIT;
        return 0;
    }
    memcpy(team_id, staff->team_id, DIR_ID_SIZE);
    for (int depth = 0; team_id[0] != '\0'; depth++) {
        if (depth > DIR_DEPTH_MAX)
            return -ELOOP; /* directory_check_team_tree() keeps trees within this */
        int r = source->get_team(source->context, team_id, &team);
        if (r == -ENOENT)
            return -ENOENT;
        if (r < 0)
            return r;
        if (team.manager_id[0] != '\0' && strcmp(team.manager_id, staff->staff_id) != 0) {
            memcpy(manager_id, team.manager_id, DIR_ID_SIZE);
            *via = DIR_VIA_TEAM;
            return 0;
        }
        memcpy(team_id, team.parent_id, DIR_ID_SIZE);
    }
    return -ENOENT;
}

int
directory_check_chain(const struct directory_source *source, const char *staff_id)
{
    char visited[DIR_DEPTH_MAX + 1][DIR_ID_SIZE];
    struct dir_staff staff;
    enum dir_via via;
    int count = 0;

    directory_copy_text(visited[0], DIR_ID_SIZE, staff_id);
    count = 1;
    for (;;) {
        int r = source->get_staff(source->context, visited[count - 1], &staff);
        if (r == -ENOENT)
            return 0;
        if (r < 0)
            return r;
        char next[DIR_ID_SIZE];
        r = directory_manager_of(source, &staff, next, &via);
        if (r == -ENOENT)
            return 0;
        if (r < 0)
            return r;
        for (int i = 0; i < count; i++)
            if (strcmp(visited[i], next) == 0)
                return -ELOOP;
        if (count > DIR_DEPTH_MAX)
            return -E2BIG;
        memcpy(visited[count++], next, DIR_ID_SIZE);
    }
}

int
directory_check_team_tree(const struct directory_source *source, const char *team_id)
{
    char visited[DIR_DEPTH_MAX + 1][DIR_ID_SIZE];
    struct dir_team team;
    int count = 1;

    directory_copy_text(visited[0], DIR_ID_SIZE, team_id);
    for (;;) {
        int r = source->get_team(source->context, visited[count - 1], &team);
        if (r == -ENOENT)
            return 0;
        if (r < 0)
            return r;
        if (team.parent_id[0] == '\0')
            return 0;
        for (int i = 0; i < count; i++)
            if (strcmp(visited[i], team.parent_id) == 0)
                return -ELOOP;
        if (count > DIR_DEPTH_MAX)
            return -E2BIG;
        memcpy(visited[count++], team.parent_id, DIR_ID_SIZE);
    }
}

static int
overlay_get_staff(void *context, const char *staff_id, struct dir_staff *out)
{
    struct directory_overlay *overlay = context;

    if (overlay->staff && strcmp(overlay->staff->staff_id, staff_id) == 0) {
        *out = *overlay->staff;
        return 0;
    }
    return overlay->base->get_staff(overlay->base->context, staff_id, out);
}

static int
overlay_get_team(void *context, const char *team_id, struct dir_team *out)
{
    struct directory_overlay *overlay = context;

    if (overlay->team && strcmp(overlay->team->team_id, team_id) == 0) {
        *out = *overlay->team;
        return 0;
    }
    return overlay->base->get_team(overlay->base->context, team_id, out);
}

void
directory_overlay_init(struct directory_overlay *overlay, const struct directory_source *base,
                       const struct dir_staff *staff, const struct dir_team *team)
{
    overlay->base = base;
    overlay->staff = staff;
    overlay->team = team;
    overlay->source.context = overlay;
    overlay->source.get_staff = overlay_get_staff;
    overlay->source.get_team = overlay_get_team;
}

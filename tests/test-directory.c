/*
 * Unit tests of daemon/directory: the line manager rule, loop and depth
 * checks, the overlay, and how change events update records.  Records live in
 * an in-memory table read through a directory_source.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "directory.h"

#define TABLE_MAX 160

struct table {
    struct dir_staff staff[TABLE_MAX];
    int staff_count;
    struct dir_team teams[TABLE_MAX];
    int team_count;
    const char *failing_id; /* a look-up of this id fails with -EIO */
    int lookups;
};

static int
table_get_staff(void *context, const char *staff_id, struct dir_staff *out)
{
    struct table *table = context;

    table->lookups++;
    if (table->failing_id && strcmp(staff_id, table->failing_id) == 0)
        return -EIO;
    for (int i = 0; i < table->staff_count; i++) {
        if (strcmp(table->staff[i].staff_id, staff_id) == 0) {
            *out = table->staff[i];
            return 0;
        }
    }
    return -ENOENT;
}

static int
table_get_team(void *context, const char *team_id, struct dir_team *out)
{
    struct table *table = context;

    table->lookups++;
    if (table->failing_id && strcmp(team_id, table->failing_id) == 0)
        return -EIO;
    for (int i = 0; i < table->team_count; i++) {
        if (strcmp(table->teams[i].team_id, team_id) == 0) {
            *out = table->teams[i];
            return 0;
        }
    }
    return -ENOENT;
}

static int
setup(void **state)
{
    struct table *table = calloc(1, sizeof(*table));

    if (table == NULL)
        return -1;
    *state = table;
    return 0;
}

static int
teardown(void **state)
{
    free(*state);
    return 0;
}

static struct directory_source
source_of(struct table *table)
{
    struct directory_source source = {table, table_get_staff, table_get_team};

    return source;
}

/* Adds a staff member; team and manager may be "" for none. */
static void
add_staff(struct table *table, const char *id, const char *team, const char *manager)
{
    struct dir_staff *staff;

    assert_true(table->staff_count < TABLE_MAX);
    staff = &table->staff[table->staff_count++];
    memset(staff, 0, sizeof(*staff));
    snprintf(staff->staff_id, sizeof(staff->staff_id), "%s", id);
    snprintf(staff->name, sizeof(staff->name), "Person %s", id);
    snprintf(staff->role, sizeof(staff->role), "Carer");
    snprintf(staff->team_id, sizeof(staff->team_id), "%s", team);
    snprintf(staff->manager_id, sizeof(staff->manager_id), "%s", manager);
    snprintf(staff->start_date, sizeof(staff->start_date), "2024-01-01");
}

/* Adds a team; parent and manager may be "" for none. */
static void
add_team(struct table *table, const char *id, const char *parent, const char *manager)
{
    struct dir_team *team;

    assert_true(table->team_count < TABLE_MAX);
    team = &table->teams[table->team_count++];
    memset(team, 0, sizeof(*team));
    snprintf(team->team_id, sizeof(team->team_id), "%s", id);
    snprintf(team->name, sizeof(team->name), "Team %s", id);
    snprintf(team->parent_id, sizeof(team->parent_id), "%s", parent);
    snprintf(team->manager_id, sizeof(team->manager_id), "%s", manager);
}

static const struct dir_staff *
find_staff(struct table *table, const char *id)
{
    for (int i = 0; i < table->staff_count; i++)
        if (strcmp(table->staff[i].staff_id, id) == 0)
            return &table->staff[i];
    fail_msg("no staff %s in the test table", id);
    return NULL;
}

/* Expects staff id to be managed by manager (via how), or r when manager is NULL. */
static void
expect_manager(struct table *table, const char *id, int r, const char *manager, enum dir_via how)
{
    struct directory_source source = source_of(table);
    char manager_id[DIR_ID_SIZE];
    enum dir_via via = DIR_VIA_EXPLICIT;
    int got;

    memset(manager_id, 'x', sizeof(manager_id));
    got = directory_manager_of(&source, find_staff(table, id), manager_id, &via);
    if (got != r)
        fail_msg("manager of %s: expected %d, got %d", id, r, got);
    if (r == 0) {
        assert_string_equal(manager_id, manager);
        assert_int_equal(via, how);
    } else {
        assert_string_equal(manager_id, "");
        assert_int_equal(via, DIR_VIA_NONE);
    }
}

static void
test_via_names(void **state)
{
    (void)state;

    assert_string_equal(directory_via_name(DIR_VIA_EXPLICIT), "explicit");
    assert_string_equal(directory_via_name(DIR_VIA_TEAM), "team");
    assert_null(directory_via_name(DIR_VIA_NONE));
}

static void
test_manager_explicit(void **state)
{
    struct table *table = *state;

    add_team(table, "T1", "", "TM");
    add_staff(table, "S1", "T1", "M1");
    add_staff(table, "S2", "", "M2");
    /* An explicit manager wins over the team's, and need not be known yet. */
    expect_manager(table, "S1", 0, "M1", DIR_VIA_EXPLICIT);
    expect_manager(table, "S2", 0, "M2", DIR_VIA_EXPLICIT);
}

static void
test_manager_from_team(void **state)
{
    struct table *table = *state;

    add_team(table, "T1", "", "TM");
    add_staff(table, "S1", "T1", "");
    expect_manager(table, "S1", 0, "TM", DIR_VIA_TEAM);
}

/* The manager of a team is managed by the manager of the parent team. */
static void
test_team_manager_goes_to_parent(void **state)
{
    struct table *table = *state;

    add_team(table, "T0", "", "BOSS");
    add_team(table, "T1", "T0", "TM");
    add_staff(table, "TM", "T1", "");
    add_staff(table, "S1", "T1", "");
    add_staff(table, "BOSS", "T0", "");
    expect_manager(table, "TM", 0, "BOSS", DIR_VIA_TEAM);
    expect_manager(table, "S1", 0, "TM", DIR_VIA_TEAM);
    /* The top manager has nobody above. */
    expect_manager(table, "BOSS", -ENOENT, NULL, DIR_VIA_NONE);
}

static void
test_team_without_manager_inherits(void **state)
{
    struct table *table = *state;

    add_team(table, "T0", "", "HEAD");
    add_team(table, "T1", "T0", "");
    add_team(table, "T2", "T1", "");
    add_team(table, "T3", "T2", "");
    add_staff(table, "S1", "T1", "");
    add_staff(table, "S3", "T3", "");
    expect_manager(table, "S1", 0, "HEAD", DIR_VIA_TEAM);
    expect_manager(table, "S3", 0, "HEAD", DIR_VIA_TEAM);
}

static void
test_nobody_manages(void **state)
{
    struct table *table = *state;

    add_team(table, "T1", "", "");
    add_team(table, "T2", "T-unknown", "");
    add_team(table, "T3", "", "S4");
    add_staff(table, "S1", "T1", "");             /* team with no manager and no parent */
    add_staff(table, "S2", "", "");               /* no team at all */
    add_staff(table, "S3", "T-not-yet-seen", ""); /* team not known yet */
    add_staff(table, "S4", "T3", "");             /* manages their own, top-level team */
    add_staff(table, "S5", "T2", "");             /* parent team not known yet */
    expect_manager(table, "S1", -ENOENT, NULL, DIR_VIA_NONE);
    expect_manager(table, "S2", -ENOENT, NULL, DIR_VIA_NONE);
    expect_manager(table, "S3", -ENOENT, NULL, DIR_VIA_NONE);
    expect_manager(table, "S4", -ENOENT, NULL, DIR_VIA_NONE);
    expect_manager(table, "S5", -ENOENT, NULL, DIR_VIA_NONE);
}

static void
test_manager_team_loop(void **state)
{
    struct table *table = *state;

    add_team(table, "T1", "T2", "");
    add_team(table, "T2", "T1", "");
    add_team(table, "T3", "T3", "");
    add_staff(table, "S1", "T1", "");
    add_staff(table, "S3", "T3", "");
    expect_manager(table, "S1", -ELOOP, NULL, DIR_VIA_NONE);
    expect_manager(table, "S3", -ELOOP, NULL, DIR_VIA_NONE);
    /* The walk is bounded, not endless. */
    assert_true(table->lookups <= 2 * (DIR_DEPTH_MAX + 1));
}

static void
test_manager_lookup_error(void **state)
{
    struct table *table = *state;

    add_team(table, "T0", "", "HEAD");
    add_team(table, "T1", "T0", "");
    add_staff(table, "S1", "T1", "");
    table->failing_id = "T0";
    expect_manager(table, "S1", -EIO, NULL, DIR_VIA_NONE);
}

/* Builds teams D0 (bottom) .. D<links> (top), each the parent of the one below. */
static void
add_team_tower(struct table *table, int links, const char *top_manager)
{
    char id[16], parent[16];

    for (int i = 0; i <= links; i++) {
        snprintf(id, sizeof(id), "D%d", i);
        snprintf(parent, sizeof(parent), "D%d", i + 1);
        add_team(table, id, i < links ? parent : "", i < links ? "" : top_manager);
    }
}

/*
 * A team tree that directory_check_team_tree() accepts is one that
 * directory_manager_of() can walk: the deepest tree allowed must still find
 * the manager at its top rather than report a loop.
 */
static void
test_manager_in_deepest_accepted_tree(void **state)
{
    struct table *table = *state;
    struct directory_source source = source_of(table);

    add_team_tower(table, DIR_DEPTH_MAX, "TOP");
    add_staff(table, "S1", "D0", "");
    assert_int_equal(directory_check_team_tree(&source, "D0"), 0);
    expect_manager(table, "S1", 0, "TOP", DIR_VIA_TEAM);
}

static void
test_check_chain_ok(void **state)
{
    struct table *table = *state;
    struct directory_source source = source_of(table);

    add_team(table, "T0", "", "C");
    add_team(table, "T1", "T0", "B");
    add_staff(table, "A", "T1", "");
    add_staff(table, "B", "T1", "");
    add_staff(table, "C", "T0", "");
    add_staff(table, "D", "T1", "C");
    assert_int_equal(directory_check_chain(&source, "A"), 0);
    assert_int_equal(directory_check_chain(&source, "B"), 0);
    assert_int_equal(directory_check_chain(&source, "C"), 0);
    assert_int_equal(directory_check_chain(&source, "D"), 0);
}

static void
test_check_chain_unknown_ends(void **state)
{
    struct table *table = *state;
    struct directory_source source = source_of(table);

    add_staff(table, "A", "", "B");
    add_staff(table, "B", "", "NOT-HIRED-YET");
    assert_int_equal(directory_check_chain(&source, "A"), 0);
    assert_int_equal(directory_check_chain(&source, "NOBODY"), 0);
}

static void
test_check_chain_loop(void **state)
{
    struct table *table = *state;
    struct directory_source source = source_of(table);

    add_staff(table, "A", "", "B");
    add_staff(table, "B", "", "A");
    add_staff(table, "C", "", "A"); /* leads into the loop */
    add_staff(table, "SELF", "", "SELF");
    assert_int_equal(directory_check_chain(&source, "A"), -ELOOP);
    assert_int_equal(directory_check_chain(&source, "B"), -ELOOP);
    assert_int_equal(directory_check_chain(&source, "C"), -ELOOP);
    assert_int_equal(directory_check_chain(&source, "SELF"), -ELOOP);
}

/* A loop that goes through a team's manager. */
static void
test_check_chain_loop_through_team(void **state)
{
    struct table *table = *state;
    struct directory_source source = source_of(table);

    add_team(table, "T1", "", "B");
    add_staff(table, "A", "T1", "");
    add_staff(table, "B", "T2", "A");
    assert_int_equal(directory_check_chain(&source, "A"), -ELOOP);
    assert_int_equal(directory_check_chain(&source, "B"), -ELOOP);
}

/* Staff P0 .. P<links>, each managed by the next. */
static void
add_staff_chain(struct table *table, int links)
{
    char id[16], manager[16];

    for (int i = 0; i <= links; i++) {
        snprintf(id, sizeof(id), "P%d", i);
        snprintf(manager, sizeof(manager), "P%d", i + 1);
        add_staff(table, id, "", i < links ? manager : "");
    }
}

static void
test_check_chain_deepest_allowed(void **state)
{
    struct table *table = *state;
    struct directory_source source = source_of(table);

    add_staff_chain(table, DIR_DEPTH_MAX);
    assert_int_equal(directory_check_chain(&source, "P0"), 0);
}

static void
test_check_chain_too_deep(void **state)
{
    struct table *table = *state;
    struct directory_source source = source_of(table);

    add_staff_chain(table, DIR_DEPTH_MAX + 1);
    assert_int_equal(directory_check_chain(&source, "P0"), -E2BIG);
    assert_int_equal(directory_check_chain(&source, "P1"), 0);
}

static void
test_check_chain_lookup_error(void **state)
{
    struct table *table = *state;
    struct directory_source source = source_of(table);

    add_staff(table, "A", "", "B");
    add_staff(table, "B", "", "");
    table->failing_id = "B";
    assert_int_equal(directory_check_chain(&source, "A"), -EIO);
}

static void
test_check_team_tree(void **state)
{
    struct table *table = *state;
    struct directory_source source = source_of(table);

    add_team(table, "T0", "", "");
    add_team(table, "T1", "T0", "");
    add_team(table, "T2", "T1", "");
    add_team(table, "ORPHAN", "NOT-YET-SEEN", "");
    add_team(table, "L1", "L2", "");
    add_team(table, "L2", "L1", "");
    add_team(table, "INTO", "L1", ""); /* leads into the loop */
    add_team(table, "SELF", "SELF", "");
    assert_int_equal(directory_check_team_tree(&source, "T2"), 0);
    assert_int_equal(directory_check_team_tree(&source, "T0"), 0);
    assert_int_equal(directory_check_team_tree(&source, "ORPHAN"), 0);
    assert_int_equal(directory_check_team_tree(&source, "UNKNOWN"), 0);
    assert_int_equal(directory_check_team_tree(&source, "L1"), -ELOOP);
    assert_int_equal(directory_check_team_tree(&source, "L2"), -ELOOP);
    assert_int_equal(directory_check_team_tree(&source, "INTO"), -ELOOP);
    assert_int_equal(directory_check_team_tree(&source, "SELF"), -ELOOP);
}

static void
test_check_team_tree_depth(void **state)
{
    struct table *table = *state;
    struct directory_source source = source_of(table);

    add_team_tower(table, DIR_DEPTH_MAX + 1, "");
    assert_int_equal(directory_check_team_tree(&source, "D1"), 0); /* DIR_DEPTH_MAX links */
    assert_int_equal(directory_check_team_tree(&source, "D0"), -E2BIG);
}

/* The overlay answers with the changed record and reads the rest from its base. */
static void
test_overlay(void **state)
{
    struct table *table = *state;
    struct directory_source base = source_of(table);
    struct directory_overlay overlay;
    struct dir_staff changed_staff, staff;
    struct dir_team changed_team, team;

    add_staff(table, "A", "T1", "");
    add_staff(table, "B", "T1", "A");
    add_team(table, "T1", "", "");
    add_team(table, "T2", "", "");
    changed_staff = table->staff[0];
    snprintf(changed_staff.manager_id, sizeof(changed_staff.manager_id), "B");
    changed_team = table->teams[1];
    snprintf(changed_team.parent_id, sizeof(changed_team.parent_id), "T1");

    directory_overlay_init(&overlay, &base, &changed_staff, &changed_team);
    assert_int_equal(overlay.source.get_staff(overlay.source.context, "A", &staff), 0);
    assert_string_equal(staff.manager_id, "B");
    assert_int_equal(overlay.source.get_staff(overlay.source.context, "B", &staff), 0);
    assert_string_equal(staff.manager_id, "A");
    assert_int_equal(overlay.source.get_staff(overlay.source.context, "Z", &staff), -ENOENT);
    assert_int_equal(overlay.source.get_team(overlay.source.context, "T2", &team), 0);
    assert_string_equal(team.parent_id, "T1");
    assert_int_equal(overlay.source.get_team(overlay.source.context, "T1", &team), 0);
    assert_string_equal(team.parent_id, "");

    /* The change would make a loop; the directory without it has none. */
    assert_int_equal(directory_check_chain(&base, "A"), 0);
    assert_int_equal(directory_check_chain(&overlay.source, "A"), -ELOOP);
    assert_int_equal(table->staff[0].manager_id[0], '\0'); /* the base is untouched */
}

/* A new record, not yet in the base, is visible through the overlay. */
static void
test_overlay_new_records(void **state)
{
    struct table *table = *state;
    struct directory_source base = source_of(table);
    struct directory_overlay overlay;
    struct dir_team new_team;
    struct dir_staff staff;
    char manager_id[DIR_ID_SIZE];
    enum dir_via via;

    add_staff(table, "A", "T9", "");
    memset(&new_team, 0, sizeof(new_team));
    snprintf(new_team.team_id, sizeof(new_team.team_id), "T9");
    snprintf(new_team.name, sizeof(new_team.name), "New team");
    snprintf(new_team.manager_id, sizeof(new_team.manager_id), "M");

    directory_overlay_init(&overlay, &base, NULL, &new_team);
    assert_int_equal(overlay.source.get_staff(overlay.source.context, "A", &staff), 0);
    assert_int_equal(directory_manager_of(&overlay.source, &staff, manager_id, &via), 0);
    assert_string_equal(manager_id, "M");
    assert_int_equal(via, DIR_VIA_TEAM);
    assert_int_equal(directory_manager_of(&base, &staff, manager_id, &via), -ENOENT);

    directory_overlay_init(&overlay, &base, NULL, NULL);
    assert_int_equal(overlay.source.get_team(overlay.source.context, "T9", &new_team), -ENOENT);
}

static cJSON *
parse(const char *text)
{
    cJSON *json = cJSON_Parse(text);

    if (json == NULL)
        fail_msg("test JSON does not parse: %s", text);
    return json;
}

static void
test_staff_apply_hired(void **state)
{
    (void)state;
    struct dir_staff staff;
    cJSON *data = parse("{\"staff_id\": \"S2\", \"name\": \"Ada Jones\", \"role\": \"Nurse\", "
                        "\"team_id\": \"T1\", \"start_date\": \"2024-02-29\", "
                        "\"manager_id\": \"S1\", \"email\": \"ada@example.org\", "
                        "\"registration\": {\"body\": \"NMC\", \"number\": \"12A3456B\", "
                        "\"renewal_date\": \"2027-01-31\"}}");

    memset(&staff, 0, sizeof(staff));
    directory_staff_apply(&staff, data);
    assert_string_equal(staff.staff_id, "S2");
    assert_string_equal(staff.name, "Ada Jones");
    assert_string_equal(staff.role, "Nurse");
    assert_string_equal(staff.team_id, "T1");
    assert_string_equal(staff.start_date, "2024-02-29");
    assert_string_equal(staff.manager_id, "S1");
    assert_string_equal(staff.email, "ada@example.org");
    assert_string_equal(staff.registration_body, "NMC");
    assert_string_equal(staff.registration_number, "12A3456B");
    assert_string_equal(staff.registration_renewal, "2027-01-31");
    assert_string_equal(staff.left_date, "");
    cJSON_Delete(data);
}

static void
test_staff_apply_changes(void **state)
{
    (void)state;
    struct dir_staff staff;
    cJSON *hired = parse("{\"staff_id\": \"S2\", \"name\": \"Ada Jones\", \"role\": \"Nurse\", "
                         "\"team_id\": \"T1\", \"start_date\": \"2024-02-29\", "
                         "\"manager_id\": \"S1\", \"email\": \"ada@example.org\"}");
    cJSON *role = parse("{\"staff_id\": \"S2\", \"role\": \"Senior nurse\"}");
    cJSON *clear = parse("{\"staff_id\": \"S2\", \"manager_id\": null, \"email\": null}");
    cJSON *registration = parse("{\"staff_id\": \"S2\", \"registration\": {\"body\": \"NMC\", "
                                "\"number\": \"99X\", \"renewal_date\": \"2028-02-29\"}}");
    cJSON *no_registration = parse("{\"staff_id\": \"S2\", \"registration\": null}");

    memset(&staff, 0, sizeof(staff));
    snprintf(staff.left_date, sizeof(staff.left_date), "2026-01-31");
    directory_staff_apply(&staff, hired);

    /* A change touches only what it names. */
    directory_staff_apply(&staff, role);
    assert_string_equal(staff.role, "Senior nurse");
    assert_string_equal(staff.name, "Ada Jones");
    assert_string_equal(staff.team_id, "T1");
    assert_string_equal(staff.manager_id, "S1");
    assert_string_equal(staff.email, "ada@example.org");
    assert_string_equal(staff.start_date, "2024-02-29");
    assert_string_equal(staff.left_date, "2026-01-31");

    /* null clears. */
    directory_staff_apply(&staff, clear);
    assert_string_equal(staff.manager_id, "");
    assert_string_equal(staff.email, "");
    assert_string_equal(staff.role, "Senior nurse");

    directory_staff_apply(&staff, registration);
    assert_string_equal(staff.registration_body, "NMC");
    assert_string_equal(staff.registration_number, "99X");
    assert_string_equal(staff.registration_renewal, "2028-02-29");
    assert_string_equal(staff.role, "Senior nurse");

    /* Leaving registration out keeps it; null clears all of it. */
    directory_staff_apply(&staff, role);
    assert_string_equal(staff.registration_number, "99X");
    directory_staff_apply(&staff, no_registration);
    assert_string_equal(staff.registration_body, "");
    assert_string_equal(staff.registration_number, "");
    assert_string_equal(staff.registration_renewal, "");
    assert_string_equal(staff.name, "Ada Jones");

    cJSON_Delete(hired);
    cJSON_Delete(role);
    cJSON_Delete(clear);
    cJSON_Delete(registration);
    cJSON_Delete(no_registration);
}

/* Text of the longest size a validated event allows fits the record whole. */
static void
test_staff_apply_longest_values(void **state)
{
    (void)state;
    struct dir_staff staff;
    char id[EVENT_ID_MAX + 1], text[EVENT_TEXT_MAX + 1], email[EVENT_EMAIL_MAX + 1];
    cJSON *data = cJSON_CreateObject();

    memset(id, 'i', EVENT_ID_MAX);
    id[EVENT_ID_MAX] = '\0';
    memset(text, 't', EVENT_TEXT_MAX);
    text[EVENT_TEXT_MAX] = '\0';
    memset(email, 'e', EVENT_EMAIL_MAX);
    email[EVENT_EMAIL_MAX - 2] = '@';
    email[EVENT_EMAIL_MAX] = '\0';
    cJSON_AddStringToObject(data, "staff_id", id);
    cJSON_AddStringToObject(data, "name", text);
    cJSON_AddStringToObject(data, "email", email);
    memset(&staff, 0, sizeof(staff));
    directory_staff_apply(&staff, data);
    assert_string_equal(staff.staff_id, id);
    assert_string_equal(staff.name, text);
    assert_string_equal(staff.email, email);
    cJSON_Delete(data);
}

static void
test_team_apply(void **state)
{
    (void)state;
    struct dir_team team;
    cJSON *full = parse("{\"team_id\": \"T1\", \"name\": \"Riverside\", \"parent_id\": \"T0\", "
                        "\"manager_id\": \"S1\"}");
    cJSON *renamed = parse("{\"team_id\": \"T1\", \"name\": \"Riverside ward\"}");
    cJSON *nulls = parse("{\"team_id\": \"T1\", \"name\": \"R\", \"parent_id\": null, "
                         "\"manager_id\": \"S9\"}");

    memset(&team, 0, sizeof(team));
    directory_team_apply(&team, full);
    assert_string_equal(team.team_id, "T1");
    assert_string_equal(team.name, "Riverside");
    assert_string_equal(team.parent_id, "T0");
    assert_string_equal(team.manager_id, "S1");

    /* team.changed states the whole team: what it leaves out is no longer set. */
    directory_team_apply(&team, renamed);
    assert_string_equal(team.name, "Riverside ward");
    assert_string_equal(team.parent_id, "");
    assert_string_equal(team.manager_id, "");

    directory_team_apply(&team, full);
    directory_team_apply(&team, nulls);
    assert_string_equal(team.name, "R");
    assert_string_equal(team.parent_id, "");
    assert_string_equal(team.manager_id, "S9");
    cJSON_Delete(full);
    cJSON_Delete(renamed);
    cJSON_Delete(nulls);
}

#define TEST(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(test_via_names),
        TEST(test_manager_explicit),
        TEST(test_manager_from_team),
        TEST(test_team_manager_goes_to_parent),
        TEST(test_team_without_manager_inherits),
        TEST(test_nobody_manages),
        TEST(test_manager_team_loop),
        TEST(test_manager_lookup_error),
        TEST(test_manager_in_deepest_accepted_tree),
        TEST(test_check_chain_ok),
        TEST(test_check_chain_unknown_ends),
        TEST(test_check_chain_loop),
        TEST(test_check_chain_loop_through_team),
        TEST(test_check_chain_deepest_allowed),
        TEST(test_check_chain_too_deep),
        TEST(test_check_chain_lookup_error),
        TEST(test_check_team_tree),
        TEST(test_check_team_tree_depth),
        TEST(test_overlay),
        TEST(test_overlay_new_records),
        TEST(test_staff_apply_hired),
        TEST(test_staff_apply_changes),
        TEST(test_staff_apply_longest_values),
        TEST(test_team_apply),
    };

    return cmocka_run_group_tests_name("directory", tests, NULL, NULL);
}

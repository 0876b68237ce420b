/* Unit tests of daemon/dircache.c: the writer's cache of directory records. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "dircache.h"

/* A base source over two small tables that counts how often it is asked. */
struct tables {
    struct dir_staff staff[4];
    struct dir_team teams[2];
    int staff_reads, team_reads;
};

static int
get_staff(void *context, const char *staff_id, struct dir_staff *out)
{
    struct tables *tables = context;

    tables->staff_reads++;
    for (size_t i = 0; i < 4; i++) {
        if (strcmp(tables->staff[i].staff_id, staff_id) == 0) {
            *out = tables->staff[i];
            return 0;
        }
    }
    return -ENOENT;
}

static int
get_team(void *context, const char *team_id, struct dir_team *out)
{
    struct tables *tables = context;

    tables->team_reads++;
    for (size_t i = 0; i < 2; i++) {
        if (strcmp(tables->teams[i].team_id, team_id) == 0) {
            *out = tables->teams[i];
            return 0;
        }
    }
    return -ENOENT;
}

struct fixture {
    struct tables tables;
    struct directory_source base;
    struct dircache *cache;
    struct directory_source source;
};

static int
setup(void **state)
{
    static struct fixture fixture;

    memset(&fixture, 0, sizeof(fixture));
    for (int i = 0; i < 4; i++) {
        snprintf(fixture.tables.staff[i].staff_id, DIR_ID_SIZE, "S%d", i);
        snprintf(fixture.tables.staff[i].name, DIR_TEXT_SIZE, "Person %d", i);
    }
    snprintf(fixture.tables.teams[0].team_id, DIR_ID_SIZE, "T0");
    snprintf(fixture.tables.teams[1].team_id, DIR_ID_SIZE, "T1");
    fixture.base.context = &fixture.tables;
    fixture.base.get_staff = get_staff;
    fixture.base.get_team = get_team;
    /* One slot each, so every id collides with every other. */
    if (dircache_new(&fixture.cache, &fixture.base, 1, 1) < 0)
        return -1;
    dircache_source(fixture.cache, &fixture.source);
    *state = &fixture;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *fixture = *state;

    dircache_free(fixture->cache);
    return 0;
}

static void
test_second_read_is_a_hit(void **state)
{
    struct fixture *f = *state;
    struct dir_staff staff;
    unsigned long hits, misses;

    assert_int_equal(f->source.get_staff(f->source.context, "S1", &staff), 0);
    assert_int_equal(f->source.get_staff(f->source.context, "S1", &staff), 0);
    assert_string_equal(staff.name, "Person 1");
    assert_int_equal(f->tables.staff_reads, 1);
    dircache_counts(f->cache, &hits, &misses);
    assert_int_equal(hits, 1);
    assert_int_equal(misses, 1);
}

static void
test_collision_reads_through_and_never_answers_wrongly(void **state)
{
    struct fixture *f = *state;
    struct dir_staff staff;

    assert_int_equal(f->source.get_staff(f->source.context, "S1", &staff), 0);
    assert_int_equal(f->source.get_staff(f->source.context, "S2", &staff), 0);
    assert_string_equal(staff.staff_id, "S2");
    assert_int_equal(f->source.get_staff(f->source.context, "S1", &staff), 0);
    assert_string_equal(staff.staff_id, "S1");
    assert_int_equal(f->tables.staff_reads, 3);
}

static void
test_missing_is_not_cached(void **state)
{
    struct fixture *f = *state;
    struct dir_staff staff;
    struct dir_team team;

    assert_int_equal(f->source.get_staff(f->source.context, "S9", &staff), -ENOENT);
    assert_int_equal(f->source.get_staff(f->source.context, "S9", &staff), -ENOENT);
    assert_int_equal(f->tables.staff_reads, 2);
    assert_int_equal(f->source.get_team(f->source.context, "T9", &team), -ENOENT);
    assert_int_equal(f->tables.team_reads, 1);
}

static void
test_put_is_what_later_reads_see(void **state)
{
    struct fixture *f = *state;
    struct dir_staff staff = f->tables.staff[3];
    struct dir_team team = f->tables.teams[1];

    snprintf(staff.role, DIR_TEXT_SIZE, "nurse");
    dircache_put_staff(f->cache, &staff);
    snprintf(team.name, DIR_TEXT_SIZE, "Ward 7");
    dircache_put_team(f->cache, &team);
    memset(&staff, 0, sizeof(staff));
    assert_int_equal(f->source.get_staff(f->source.context, "S3", &staff), 0);
    assert_string_equal(staff.role, "nurse");
    assert_int_equal(f->source.get_team(f->source.context, "T1", &team), 0);
    assert_string_equal(team.name, "Ward 7");
    assert_int_equal(f->tables.staff_reads + f->tables.team_reads, 0);
}

static void
test_forget_and_clear_read_again(void **state)
{
    struct fixture *f = *state;
    struct dir_staff staff;
    struct dir_team team;

    assert_int_equal(f->source.get_staff(f->source.context, "S0", &staff), 0);
    dircache_forget_staff(f->cache, "S1"); /* another id: S0 stays */
    assert_int_equal(f->source.get_staff(f->source.context, "S0", &staff), 0);
    assert_int_equal(f->tables.staff_reads, 1);
    dircache_forget_staff(f->cache, "S0");
    assert_int_equal(f->source.get_staff(f->source.context, "S0", &staff), 0);
    assert_int_equal(f->tables.staff_reads, 2);
    assert_int_equal(f->source.get_team(f->source.context, "T0", &team), 0);
    dircache_clear(f->cache);
    assert_int_equal(f->source.get_staff(f->source.context, "S0", &staff), 0);
    assert_int_equal(f->source.get_team(f->source.context, "T0", &team), 0);
    assert_int_equal(f->tables.staff_reads, 3);
    assert_int_equal(f->tables.team_reads, 2);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_second_read_is_a_hit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_collision_reads_through_and_never_answers_wrongly,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_is_not_cached, setup, teardown),
        cmocka_unit_test_setup_teardown(test_put_is_what_later_reads_see, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forget_and_clear_read_again, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

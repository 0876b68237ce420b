/*
 * Unit tests for daemon/auth.c: the authorised-keys file, roles, and the ZAP
 * handler's decisions.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <zmq.h>

#include "auth.h"

struct fixture {
    char path[64];
    struct auth_keys keys;
    struct auth_errors errors;
    char publisher[41], reader[41], admin[41], stranger[41];
    uint8_t publisher_binary[32], stranger_binary[32];
    bool curve_required; /* what the ZAP decisions are asked under */
};

static void
new_key(char z85[41], uint8_t binary[32])
{
    char secret[41];

    assert_int_equal(zmq_curve_keypair(z85, secret), 0);
    if (binary != NULL)
        assert_non_null(zmq_z85_decode(binary, z85));
}

static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    if (f == NULL)
        return -1;
    new_key(f->publisher, f->publisher_binary);
    new_key(f->reader, NULL);
    new_key(f->admin, NULL);
    new_key(f->stranger, f->stranger_binary);
    f->curve_required = true;
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *f = *state;

    auth_keys_free(&f->keys);
    if (f->path[0] != '\0')
        unlink(f->path);
    free(f);
    return 0;
}

#define TEST(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

static int
load(struct fixture *f, const char *fmt, ...)
{
    va_list args;
    FILE *file;
    int fd;

    if (f->path[0] == '\0') {
        snprintf(f->path, sizeof(f->path), "/tmp/carehub-test-auth-XXXXXX");
        fd = mkstemp(f->path);
        assert_true(fd >= 0);
        close(fd);
    }
    file = fopen(f->path, "w");
    assert_non_null(file);
    va_start(args, fmt);
    vfprintf(file, fmt, args);
    va_end(args);
    fclose(file);
    auth_keys_free(&f->keys);
    return auth_keys_load(f->path, &f->keys, &f->errors);
}

/* The text of the only error, without "PATH:". */
static const char *
only_error(const struct fixture *f)
{
    assert_int_equal(f->errors.count, 1);
    assert_memory_equal(f->errors.text[0], f->path, strlen(f->path));
    return f->errors.text[0] + strlen(f->path) + 1;
}

static void
test_a_valid_file(void **state)
{
    struct fixture *f = *state;
    const struct auth_key *k;

    assert_int_equal(load(f,
                          "# who may talk to carehubd\n"
                          "\n"
                          "%s publisher hr-system\n"
                          "   %s\treader  ward7-dashboard team=T-W7   # a comment\n"
                          "%s admin ops.lead\r\n",
                          f->publisher, f->reader, f->admin),
                     0);
    assert_int_equal(f->errors.count, 0);
    assert_int_equal(f->keys.count, 3);
    k = auth_find(&f->keys, f->publisher);
    assert_non_null(k);
    assert_int_equal(k->role, AUTH_PUBLISHER);
    assert_string_equal(k->name, "hr-system");
    assert_string_equal(k->team_id, "");
    k = auth_find(&f->keys, f->reader);
    assert_non_null(k);
    assert_int_equal(k->role, AUTH_READER);
    assert_string_equal(k->team_id, "T-W7");
    k = auth_find(&f->keys, f->admin);
    assert_non_null(k);
    assert_int_equal(k->role, AUTH_ADMIN);
    assert_string_equal(k->name, "ops.lead");
    assert_null(auth_find(&f->keys, f->stranger));
    assert_null(auth_find(&f->keys, "short"));
    assert_null(auth_find(&f->keys, NULL));
}

static void
test_an_empty_file_lists_nobody(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(load(f, "# nobody yet\n\n"), 0);
    assert_int_equal(f->keys.count, 0);
    assert_null(auth_find(&f->keys, f->publisher));
}

static void
test_each_mistake_with_its_line(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(load(f, "\n%s boss someone\n", f->publisher), -EINVAL);
    assert_string_equal(only_error(f), "2: \"boss\" is not a role (publisher, reader or admin)");
    assert_int_equal(load(f, "abc reader x\n"), -EINVAL);
    assert_string_equal(
        only_error(f),
        "1: \"abc\" is not a public key (40 characters of Z85, as carehubctl keygen writes it)");
    assert_int_equal(load(f, "%.39s~ reader x\n", f->publisher), -EINVAL);
    assert_true(strstr(only_error(f), "is not a public key") != NULL);
    assert_int_equal(load(f, "%s\n", f->publisher), -EINVAL);
    assert_string_equal(only_error(f),
                        "1: a role is missing after the key (publisher, reader or admin)");
    assert_int_equal(load(f, "%s reader\n", f->publisher), -EINVAL);
    assert_string_equal(only_error(f),
                        "1: a name is missing after the role (it names the client in the log)");
    assert_int_equal(load(f, "%s reader wh@t\n", f->publisher), -EINVAL);
    assert_string_equal(only_error(f),
                        "1: \"wh@t\" is not a name (1 to 64 letters, digits, '.', '_' or '-')");
    assert_int_equal(load(f, "%s admin boss team=T1\n", f->publisher), -EINVAL);
    assert_string_equal(only_error(f),
                        "1: team= limits a reader; an admin is not limited to a team");
    assert_int_equal(load(f, "%s reader x extra\n", f->publisher), -EINVAL);
    assert_string_equal(only_error(f),
                        "1: \"extra\" is not understood (only team=TEAM_ID may follow the name)");
    assert_int_equal(load(f, "%s reader x team=T1 more\n", f->publisher), -EINVAL);
    assert_string_equal(only_error(f), "1: \"more\": nothing may follow team=");
    assert_int_equal(load(f, "%s reader x team=\n", f->publisher), -EINVAL);
    assert_true(strstr(only_error(f), "is not understood") != NULL);
    assert_int_equal(load(f, "%s reader a\n%s admin b\n", f->publisher, f->publisher), -EINVAL);
    assert_string_equal(only_error(f), "2: this key is listed already, as a");
}

static void
test_every_mistake_is_reported_and_nothing_kept(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(load(f, "%s reader good\nbad reader x\n%s chief y\n", f->publisher, f->reader),
                     -EINVAL);
    assert_int_equal(f->errors.count, 2);
    assert_true(strstr(f->errors.text[0], ":2: ") != NULL);
    assert_true(strstr(f->errors.text[1], ":3: ") != NULL);
}

static void
test_a_missing_file(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(auth_keys_load("/nonexistent/carehub/keys", &f->keys, &f->errors), -ENOENT);
    assert_int_equal(f->errors.count, 1);
    assert_string_equal(f->errors.text[0],
                        "/nonexistent/carehub/keys: cannot read the authorised keys: No such file "
                        "or directory");
}

static void
test_roles_and_ops(void **state)
{
    (void)state;
    assert_true(auth_allows(AUTH_PUBLISHER, "publish", false));
    assert_true(auth_allows(AUTH_PUBLISHER, "status", false));
    assert_false(auth_allows(AUTH_PUBLISHER, "staff", false));
    assert_false(auth_allows(AUTH_PUBLISHER, "backup", false));
    assert_false(auth_allows(AUTH_PUBLISHER, "clock", false));
    assert_true(auth_allows(AUTH_READER, "overdue", false));
    assert_true(auth_allows(AUTH_READER, "kpi", false));
    assert_true(auth_allows(AUTH_READER, "clock", false));
    assert_false(auth_allows(AUTH_READER, "clock", true));
    assert_false(auth_allows(AUTH_READER, "publish", false));
    assert_false(auth_allows(AUTH_READER, "ack", false));
    assert_false(auth_allows(AUTH_READER, "backup", false));
    assert_true(auth_allows(AUTH_ADMIN, "backup", false));
    /* The audit trail holds personal data about everyone: admins only. */
    assert_false(auth_allows(AUTH_READER, "audit", false));
    assert_true(auth_allows(AUTH_ADMIN, "audit", false));
    assert_true(auth_allows(AUTH_ADMIN, "clock", true));
    assert_true(auth_allows(AUTH_ADMIN, "no-such-op", false));
    assert_false(auth_allows(AUTH_NONE, "status", false));
    assert_string_equal(auth_role_name(AUTH_READER), "reader");
    assert_string_equal(auth_role_name(AUTH_NONE), "none");
}

/* A ZAP request of frames, as libzmq sends it. */
static enum auth_role
zap(struct fixture *f, const char *version, const char *domain, const char *mechanism,
    const void *credential, size_t credential_size, char status[4], char user_id[41],
    const struct auth_key **key)
{
    const void *frames[7] = {version, "1", domain, "127.0.0.1", "", mechanism, credential};
    size_t sizes[7] = {strlen(version), 1, strlen(domain), 9, 0, strlen(mechanism),
                       credential_size};
    char text[256];

    return auth_zap_decide(&f->keys, "carehub", f->curve_required, frames, sizes,
                           credential != NULL ? 7 : 6, status, text, sizeof(text), user_id, key);
}

static void
test_zap_admits_listed_curve_keys_only(void **state)
{
    struct fixture *f = *state;
    const struct auth_key *key;
    char status[4], user_id[41];

    assert_int_equal(load(f, "%s publisher hr\n", f->publisher), 0);
    assert_int_equal(
        zap(f, "1.0", "carehub", "CURVE", f->publisher_binary, 32, status, user_id, &key),
        AUTH_PUBLISHER);
    assert_string_equal(status, "200");
    assert_string_equal(user_id, f->publisher);
    assert_non_null(key);
    assert_string_equal(key->name, "hr");

    assert_int_equal(
        zap(f, "1.0", "carehub", "CURVE", f->stranger_binary, 32, status, user_id, &key),
        AUTH_NONE);
    assert_string_equal(status, "400");
    assert_string_equal(user_id, "");
    assert_null(key);
    assert_int_equal(zap(f, "1.0", "carehub", "NULL", NULL, 0, status, user_id, &key), AUTH_NONE);
    assert_string_equal(status, "400");
    assert_int_equal(zap(f, "1.0", "carehub", "PLAIN", "user", 4, status, user_id, &key),
                     AUTH_NONE);
    assert_string_equal(status, "400");
    assert_int_equal(
        zap(f, "1.0", "other", "CURVE", f->publisher_binary, 32, status, user_id, &key), AUTH_NONE);
    assert_string_equal(status, "400");
    assert_int_equal(
        zap(f, "2.0", "carehub", "CURVE", f->publisher_binary, 32, status, user_id, &key),
        AUTH_NONE);
    assert_string_equal(status, "500");
    assert_int_equal(
        zap(f, "1.0", "carehub", "CURVE", f->publisher_binary, 31, status, user_id, &key),
        AUTH_NONE);
    assert_string_equal(status, "500");
}

/* Without CURVE the handler only bounds connections: NULL in, PLAIN still out. */
static void
test_zap_admits_null_when_curve_is_off(void **state)
{
    struct fixture *f = *state;
    const struct auth_key *key;
    char status[4], user_id[41];

    f->curve_required = false;
    assert_int_equal(load(f, "%s publisher hr\n", f->publisher), 0);
    assert_int_equal(zap(f, "1.0", "carehub", "NULL", NULL, 0, status, user_id, &key), AUTH_ADMIN);
    assert_string_equal(status, "200");
    assert_string_equal(user_id, "");
    assert_null(key);
    assert_int_equal(zap(f, "1.0", "carehub", "PLAIN", "user", 4, status, user_id, &key),
                     AUTH_NONE);
    assert_string_equal(status, "400");
    assert_int_equal(zap(f, "1.0", "other", "NULL", NULL, 0, status, user_id, &key), AUTH_NONE);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(test_a_valid_file),
        TEST(test_an_empty_file_lists_nobody),
        TEST(test_each_mistake_with_its_line),
        TEST(test_every_mistake_is_reported_and_nothing_kept),
        TEST(test_a_missing_file),
        TEST(test_roles_and_ops),
        TEST(test_zap_admits_listed_curve_keys_only),
        TEST(test_zap_admits_null_when_curve_is_off),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

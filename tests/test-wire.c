/*
 * Unit tests of common/wire: UTF-8 validation and the reply envelope.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "wire.h"

struct bytes {
    const char *what;
    const char *data;
    size_t len;
};

#define BYTES(what, literal)                                                                       \
    {                                                                                              \
        what, literal, sizeof(literal) - 1                                                         \
    }

static void
test_utf8_accepts_well_formed(void **state)
{
    (void)state;
    static const struct bytes good[] = {
        BYTES("empty", ""),
        BYTES("ASCII", "hello, world {\"op\": 1}\t\r\n~"),
        BYTES("NUL is a character", "a\0b"),
        BYTES("U+0080, smallest 2-byte", "\xC2\x80"),
        BYTES("e acute", "caf\xC3\xA9"),
        BYTES("U+07FF, largest 2-byte", "\xDF\xBF"),
        BYTES("U+0800, smallest 3-byte", "\xE0\xA0\x80"),
        BYTES("euro sign", "\xE2\x82\xAC"),
        BYTES("U+D7FF, just below the surrogates", "\xED\x9F\xBF"),
        BYTES("U+E000, just above the surrogates", "\xEE\x80\x80"),
        BYTES("U+FFFF", "\xEF\xBF\xBF"),
        BYTES("U+10000, smallest 4-byte", "\xF0\x90\x80\x80"),
        BYTES("G clef", "\xF0\x9D\x84\x9E"),
        BYTES("U+10FFFF, the last code point", "\xF4\x8F\xBF\xBF"),
        BYTES("mixed", "a\xC3\xA9\xE2\x82\xAC\xF0\x9D\x84\x9Ez"),
    };

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        if (!wire_utf8_valid(good[i].data, good[i].len))
            fail_msg("%s was refused", good[i].what);
}

static void
test_utf8_refuses_malformed(void **state)
{
    (void)state;
    static const struct bytes bad[] = {
        BYTES("overlong NUL C0 80", "\xC0\x80"),
        BYTES("overlong C1 BF", "\xC1\xBF"),
        BYTES("overlong 3-byte NUL E0 80 80", "\xE0\x80\x80"),
        BYTES("overlong 3-byte U+07FF", "\xE0\x9F\xBF"),
        BYTES("overlong 4-byte NUL", "\xF0\x80\x80\x80"),
        BYTES("overlong 4-byte U+FFFF", "\xF0\x8F\xBF\xBF"),
        BYTES("surrogate U+D800", "\xED\xA0\x80"),
        BYTES("surrogate U+DBFF", "\xED\xAF\xBF"),
        BYTES("surrogate U+DC00", "\xED\xB0\x80"),
        BYTES("surrogate U+DFFF", "\xED\xBF\xBF"),
        BYTES("surrogate pair in CESU-8", "\xED\xA0\xBD\xED\xB8\x80"),
        BYTES("U+110000", "\xF4\x90\x80\x80"),
        BYTES("F5 lead byte", "\xF5\x80\x80\x80"),
        BYTES("F7 lead byte", "\xF7\xBF\xBF\xBF"),
        BYTES("5-byte form", "\xF8\x88\x80\x80\x80"),
        BYTES("6-byte form", "\xFC\x84\x80\x80\x80\x80"),
        BYTES("FE", "\xFE"),
        BYTES("FF", "\xFF"),
        BYTES("truncated 2-byte", "\xC3"),
        BYTES("truncated 3-byte after 1", "\xE2"),
        BYTES("truncated 3-byte after 2", "\xE2\x82"),
        BYTES("truncated 4-byte after 3", "\xF0\x9D\x84"),
        BYTES("truncated at the end of text", "abc\xE2\x82"),
        BYTES("lead byte followed by ASCII", "\xC3"
                                             "A"),
        BYTES("3-byte interrupted", "\xE2\x82"
                                    "A"),
        BYTES("stray continuation 80", "\x80"),
        BYTES("stray continuation BF", "\xBF"),
        BYTES("stray continuation in text", "a\x80z"),
        BYTES("extra continuation", "\xC3\xA9\xA9"),
        BYTES("Latin-1 e acute", "caf\xE9"),
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (wire_utf8_valid(bad[i].data, bad[i].len))
            fail_msg("%s was accepted", bad[i].what);
}

/* The length bounds what is read: a sequence cut by len is truncated. */
static void
test_utf8_respects_length(void **state)
{
    (void)state;
    const char *text = "caf\xC3\xA9";

    assert_true(wire_utf8_valid(text, 3));
    assert_false(wire_utf8_valid(text, 4));
    assert_true(wire_utf8_valid(text, 5));
    assert_true(wire_utf8_valid("\xFF", 0));
}

/* Checks reply is {"id": <equal to id, or null>, "ok": ok} plus extra_members more. */
static void
check_envelope(const cJSON *reply, const cJSON *id, bool ok, int extra_members)
{
    const cJSON *reply_id = cJSON_GetObjectItemCaseSensitive(reply, "id");
    const cJSON *reply_ok = cJSON_GetObjectItemCaseSensitive(reply, "ok");

    assert_non_null(reply);
    assert_true(cJSON_IsObject(reply));
    assert_int_equal(cJSON_GetArraySize(reply), 2 + extra_members);
    assert_non_null(reply_id);
    if (id == NULL)
        assert_true(cJSON_IsNull(reply_id));
    else
        assert_true(cJSON_Compare(reply_id, id, true));
    assert_true(cJSON_IsBool(reply_ok));
    assert_int_equal(cJSON_IsTrue(reply_ok), ok);
}

static void
test_reply_ok_echoes_id(void **state)
{
    (void)state;
    static const char *const ids[] = {
        "7", "\"req-1\"", "{\"a\": [1, 2, {\"b\": null}]}", "[1, \"x\"]", "null", "1.5", "true"};

    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        cJSON *id = cJSON_Parse(ids[i]);
        assert_non_null(id);
        cJSON *reply = wire_reply_ok(id);
        check_envelope(reply, id, true, 0);
        /* The reply holds a copy: it outlives the request it answers. */
        cJSON *expected = cJSON_Duplicate(id, true);
        cJSON_Delete(id);
        assert_true(cJSON_Compare(cJSON_GetObjectItemCaseSensitive(reply, "id"), expected, true));
        cJSON_Delete(expected);
        cJSON_Delete(reply);
    }
}

static void
test_reply_ok_without_id(void **state)
{
    (void)state;
    cJSON *reply = wire_reply_ok(NULL);
    char *text;

    check_envelope(reply, NULL, true, 0);
    text = cJSON_PrintUnformatted(reply);
    assert_string_equal(text, "{\"id\":null,\"ok\":true}");
    cJSON_free(text);
    cJSON_Delete(reply);
}

static void
test_reply_error_shape(void **state)
{
    (void)state;
    cJSON *id = cJSON_Parse("{\"client\": \"pub\", \"n\": 3}");
    cJSON *reply = wire_reply_error(id, WIRE_E_UNKNOWN_OP, "no op \"frobnicate\"");
    const cJSON *error;

    check_envelope(reply, id, false, 1);
    error = cJSON_GetObjectItemCaseSensitive(reply, "error");
    assert_true(cJSON_IsObject(error));
    assert_int_equal(cJSON_GetArraySize(error), 2);
    assert_string_equal(wire_get_string(error, "code"), "unknown_op");
    assert_string_equal(wire_get_string(error, "message"), "no op \"frobnicate\"");
    cJSON_Delete(id);
    cJSON_Delete(reply);

    reply = wire_reply_error(NULL, WIRE_E_BAD_JSON, "not JSON");
    check_envelope(reply, NULL, false, 1);
    char *text = cJSON_PrintUnformatted(reply);
    assert_string_equal(
        text,
        "{\"id\":null,\"ok\":false,\"error\":{\"code\":\"bad_json\",\"message\":\"not JSON\"}}");
    cJSON_free(text);
    cJSON_Delete(reply);
}

static void
test_error_object_and_request(void **state)
{
    (void)state;
    cJSON *error = wire_error_object("not_found", "no staff member S1");
    cJSON *request = wire_request_new("status", 42);

    assert_non_null(error);
    assert_int_equal(cJSON_GetArraySize(error), 2);
    assert_string_equal(wire_get_string(error, "code"), "not_found");
    assert_string_equal(wire_get_string(error, "message"), "no staff member S1");

    assert_non_null(request);
    assert_string_equal(wire_get_string(request, "op"), "status");
    assert_true(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(request, "id")));
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(request, "id")->valuedouble, 42);
    cJSON_Delete(error);
    cJSON_Delete(request);
}

static void
test_get_string(void **state)
{
    (void)state;
    cJSON *object = cJSON_Parse("{\"s\": \"text\", \"n\": 1, \"z\": null, \"e\": \"\"}");

    assert_string_equal(wire_get_string(object, "s"), "text");
    assert_string_equal(wire_get_string(object, "e"), "");
    assert_null(wire_get_string(object, "n"));
    assert_null(wire_get_string(object, "z"));
    assert_null(wire_get_string(object, "missing"));
    assert_null(wire_get_string(object, "S")); /* names are case-sensitive */
    assert_null(wire_get_string(NULL, "s"));
    cJSON_Delete(object);
}

static void
test_reply_status_ok(void **state)
{
    (void)state;
    cJSON *reply = wire_reply_ok(NULL);
    const char *code = "sentinel", *message = "sentinel";

    assert_int_equal(wire_reply_status(reply, &code, &message), 0);
    assert_null(code);
    assert_null(message);
    assert_int_equal(wire_reply_status(reply, NULL, NULL), 0);
    cJSON_Delete(reply);
}

static void
test_reply_status_error(void **state)
{
    (void)state;
    cJSON *reply = wire_reply_error(NULL, WIRE_E_EMPTY_BATCH, "the batch holds no events");
    const char *code = NULL, *message = NULL;

    assert_int_equal(wire_reply_status(reply, &code, &message), -EREMOTEIO);
    assert_string_equal(code, "empty_batch");
    assert_string_equal(message, "the batch holds no events");
    assert_int_equal(wire_reply_status(reply, NULL, NULL), -EREMOTEIO);
    cJSON_Delete(reply);

    /* "ok": false with no usable error object: still a failure, without details. */
    reply = cJSON_Parse("{\"id\": 1, \"ok\": false, \"error\": 5}");
    code = message = "sentinel";
    assert_int_equal(wire_reply_status(reply, &code, &message), -EREMOTEIO);
    assert_null(code);
    assert_null(message);
    cJSON_Delete(reply);
}

static void
test_reply_status_malformed(void **state)
{
    (void)state;
    static const char *const malformed[] = {
        "[]",
        "[{\"ok\": true}]",
        "\"ok\"",
        "true",
        "null",
        "{}",
        "{\"id\": 1}",
        "{\"id\": 1, \"ok\": \"true\"}",
        "{\"id\": 1, \"ok\": 1}",
        "{\"id\": 1, \"ok\": null}",
        "{\"id\": 1, \"OK\": true}",
    };
    const char *code, *message;

    for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
        cJSON *reply = cJSON_Parse(malformed[i]);
        assert_non_null(reply);
        code = message = "sentinel";
        int r = wire_reply_status(reply, &code, &message);
        if (r != -EPROTO)
            fail_msg("%s gave %d, expected -EPROTO", malformed[i], r);
        assert_null(code);
        assert_null(message);
        cJSON_Delete(reply);
    }
    assert_int_equal(wire_reply_status(NULL, &code, &message), -EPROTO);
}

static void
test_nul_escape(void **state)
{
    (void)state;
    static const char *const with_nul[] = {"{\"id\": \"a\\u0000b\"}", "\"\\u0000\"",
                                           "[\"x\", \"\\\\\\u0000\"]"};
    static const char *const without[] = {"{\"id\": \"a\\u0001b\"}", "\"\\\\u0000\"", "\"u0000\"",
                                          "\"\\u000\"", ""};

    for (size_t i = 0; i < sizeof(with_nul) / sizeof(with_nul[0]); i++)
        if (!wire_has_nul_escape(with_nul[i], strlen(with_nul[i])))
            fail_msg("missed the NUL escape in %s", with_nul[i]);
    for (size_t i = 0; i < sizeof(without) / sizeof(without[0]); i++)
        if (wire_has_nul_escape(without[i], strlen(without[i])))
            fail_msg("saw a NUL escape in %s", without[i]);
    /* The escape cut short by the end of the text is not one. */
    assert_false(wire_has_nul_escape("\\u0000", 5));
}

static void
expect_span(const char *text, struct wire_span span, const char *expected)
{
    char got[256];

    assert_true(span.size < sizeof(got));
    memcpy(got, text + span.offset, span.size);
    got[span.size] = '\0';
    assert_string_equal(got, expected);
}

static void
test_find_member(void **state)
{
    (void)state;
    const char *text = " { \"op\" : \"publish\", \"id\":{\"a\":[1,\"]\"]},"
                       "\"say\":\"q\\\"events\\\"\", \"events\" :[ {\"x\":\"}\"} ,2, \"s\" ] ,"
                       "\"events\":[9]} ";
    struct wire_span span;

    assert_int_equal(wire_find_member(text, strlen(text), "op", &span), 0);
    expect_span(text, span, "\"publish\"");
    assert_int_equal(wire_find_member(text, strlen(text), "id", &span), 0);
    expect_span(text, span, "{\"a\":[1,\"]\"]}");
    /* The first of two members of one name, as cJSON reads it. */
    assert_int_equal(wire_find_member(text, strlen(text), "events", &span), 0);
    expect_span(text, span, "[ {\"x\":\"}\"} ,2, \"s\" ]");
    assert_int_equal(wire_find_member(text, strlen(text), "event", &span), -ENOENT);
    assert_int_equal(wire_find_member("[1]", 3, "op", &span), -EINVAL);
    assert_int_equal(wire_find_member("{}", 2, "op", &span), -ENOENT);
}

static void
test_array_elements(void **state)
{
    (void)state;
    const char *text = "{\"events\":[ {\"x\":\"}\"} ,-2.5e3,\"s,\\\"\" ,[[]],true ]}";
    struct wire_span array, elements[8];

    assert_int_equal(wire_find_member(text, strlen(text), "events", &array), 0);
    assert_int_equal(wire_array_elements(text, array, elements, 8), 5);
    expect_span(text, elements[0], "{\"x\":\"}\"}");
    expect_span(text, elements[1], "-2.5e3");
    expect_span(text, elements[2], "\"s,\\\"\"");
    expect_span(text, elements[3], "[[]]");
    expect_span(text, elements[4], "true");
    /* More elements than room: counted, not written past max. */
    assert_int_equal(wire_array_elements(text, array, elements, 2), 5);
    assert_int_equal(wire_find_member("{\"e\":[]}", 9, "e", &array), 0);
    assert_int_equal(wire_array_elements("{\"e\":[]}", array, elements, 8), 0);
    assert_int_equal(wire_find_member("{\"e\":3}", 7, "e", &array), 0);
    assert_int_equal(wire_array_elements("{\"e\":3}", array, elements, 8), -EINVAL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utf8_accepts_well_formed),
        cmocka_unit_test(test_utf8_refuses_malformed),
        cmocka_unit_test(test_utf8_respects_length),
        cmocka_unit_test(test_reply_ok_echoes_id),
        cmocka_unit_test(test_reply_ok_without_id),
        cmocka_unit_test(test_reply_error_shape),
        cmocka_unit_test(test_error_object_and_request),
        cmocka_unit_test(test_get_string),
        cmocka_unit_test(test_reply_status_ok),
        cmocka_unit_test(test_reply_status_error),
        cmocka_unit_test(test_reply_status_malformed),
        cmocka_unit_test(test_nul_escape),
        cmocka_unit_test(test_find_member),
        cmocka_unit_test(test_array_elements),
    };

    return cmocka_run_group_tests_name("wire", tests, NULL, NULL);
}

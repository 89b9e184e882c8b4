/* Unit tests of mcp/jsonrpc: parsing limits and envelope classification. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mcp/jsonrpc.h"

static json_t *parse_ok(const char *s)
{
    char msg[256];
    int code = 0, salvageable = 0;
    json_t *v = rpc_parse(s, strlen(s), &code, msg, sizeof(msg), &salvageable);

    assert_non_null(v);
    return v;
}

static int parse_fails(const char *s, size_t len)
{
    char msg[256];
    int code = 0, salvageable = 0;
    json_t *v = rpc_parse(s, len, &code, msg, sizeof(msg), &salvageable);

    assert_null(v);
    assert_true(strlen(msg) > 0);
    return code;
}

/* JSON grove refuses, and the id its error echoes (as compact JSON; "none" when none). */
static void refused_with_id(const char *s, int want_code, const char *want_id)
{
    char msg[256], *got;
    int code = 0, salvageable = 0;
    json_t *id;

    assert_null(rpc_parse(s, strlen(s), &code, msg, sizeof(msg), &salvageable));
    assert_int_equal(code, want_code);
    assert_true(salvageable);
    id = rpc_salvage_id(s, strlen(s));
    got = id ? json_dumps(id, JSON_ENCODE_ANY | JSON_COMPACT) : strdup("none");
    if (strcmp(got, want_id) != 0)
        fail_msg("%s: id %s, want %s (%s)", s, got, want_id, msg);
    free(got);
    json_decref(id);
}

static void test_refusals_echo_the_id(void **state)
{
    (void)state;
    /* a number beyond int64 or double, a lone surrogate, a duplicate key: the id comes back */
    refused_with_id("{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"ping\",\"params\":{\"n\":"
                    "99999999999999999999}}",
                    RPC_PARSE_ERROR, "7");
    refused_with_id("{\"id\":\"a\",\"x\":-1e400}", RPC_PARSE_ERROR, "\"a\"");
    refused_with_id("{\"id\":8,\"p\":{\"x\":\"\\ud800\"}}", RPC_PARSE_ERROR, "8");
    refused_with_id("{\"id\":9,\"p\":\"\\udc00\\ud800\"}", RPC_PARSE_ERROR, "9");
    refused_with_id("\xEF\xBB\xBF{\"id\":10,\"p\":\"\\ud800x\"}", RPC_PARSE_ERROR, "10");
    /* a pair in the id survives */
    refused_with_id("{\"id\":\"\\ud83d\\ude00\",\"p\":\"\\ud800\"}", RPC_PARSE_ERROR,
                    "\"\xF0\x9F\x98\x80\"");
    refused_with_id("{\"id\":\"\\ud800\",\"method\":\"ping\"}", RPC_PARSE_ERROR, "none");
    /* an id that is itself the number too big, or a lone surrogate, cannot be echoed */
    refused_with_id("{\"id\":1e400,\"method\":\"ping\"}", RPC_PARSE_ERROR, "none");
    refused_with_id("{\"id\":-99999999999999999999,\"x\":1e999}", RPC_PARSE_ERROR, "none");
    refused_with_id("{\"x\":1e999,\"y\":[99999999999999999999],\"id\":-3}", RPC_PARSE_ERROR, "-3");
    refused_with_id("{\"jsonrpc\":\"2.0\",\"id\":11,\"method\":\"ping\",\"method\":\"x\"}",
                    RPC_INVALID_REQUEST, "11");
    refused_with_id("{\"id\":12,\"params\":{\"a\":1,\"a\":2}}", RPC_INVALID_REQUEST, "12");
    /* an id that is an object (invalid), a batch: no id to echo */
    refused_with_id("{\"id\":{},\"x\":99999999999999999999}", RPC_PARSE_ERROR, "none");
    refused_with_id("[{\"id\":1,\"x\":99999999999999999999}]", RPC_PARSE_ERROR, "none");
}

static void test_parse_errors(void **state)
{
    (void)state;
    assert_int_equal(parse_fails("{", 1), RPC_PARSE_ERROR);
    assert_int_equal(parse_fails("{\"a\":}", 6), RPC_PARSE_ERROR);
    /* invalid UTF-8 */
    assert_int_equal(parse_fails("{\"a\":\"\xff\"}", 9), RPC_PARSE_ERROR);
    /* lone surrogate escape */
    assert_int_equal(parse_fails("{\"a\":\"\\ud800\"}", 14), RPC_PARSE_ERROR);
    /* a raw NUL byte inside the text */
    assert_int_equal(parse_fails("{\"a\":1}\0x", 9), RPC_PARSE_ERROR);
}

static void test_parse_accepts_bom_and_escaped_nul(void **state)
{
    json_t *v;

    (void)state;
    v = parse_ok("\xEF\xBB\xBF{\"jsonrpc\":\"2.0\"}");
    assert_string_equal(json_string_value(json_object_get(v, "jsonrpc")), "2.0");
    json_decref(v);
    v = parse_ok("{\"a\":\"x\\u0000y\"}");
    assert_int_equal(json_string_length(json_object_get(v, "a")), 3);
    json_decref(v);
}

static void test_depth_limit(void **state)
{
    char buf[400];
    int i, code = 0, salvageable = 0;
    json_t *v;
    char msg[128];

    (void)state;
    /* 64 levels pass, 65 do not; brackets inside strings do not count. */
    for (i = 0; i < 64; i++)
        buf[i] = '[';
    for (i = 0; i < 64; i++)
        buf[64 + i] = ']';
    v = rpc_parse(buf, 128, &code, msg, sizeof(msg), &salvageable);
    assert_non_null(v);
    json_decref(v);
    memmove(buf + 1, buf, 128);
    buf[0] = '[';
    buf[129] = ']';
    assert_null(rpc_parse(buf, 130, &code, msg, sizeof(msg), &salvageable));
    assert_false(salvageable);
    assert_int_equal(code, RPC_INVALID_REQUEST);
    assert_int_equal(rpc_depth("[\"[[[[\\\"[[\"]", 13, 64), 1);
    assert_int_equal(rpc_depth("{\"a\":[{}]}", 10, 64), 3);
}

static void classify(const char *text, rpc_msg *m, json_t **keep)
{
    *keep = parse_ok(text);
    rpc_classify(*keep, m);
}

static void test_classify_requests_and_notifications(void **state)
{
    json_t *v;
    rpc_msg m;

    (void)state;
    classify("{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"ping\"}", &m, &v);
    assert_int_equal(m.kind, RPC_REQUEST);
    assert_true(json_is_integer(m.id));
    assert_string_equal(m.method, "ping");
    json_decref(v);

    classify("{\"jsonrpc\":\"2.0\",\"id\":\"abc\",\"method\":\"x\",\"params\":{}}", &m, &v);
    assert_int_equal(m.kind, RPC_REQUEST);
    assert_true(json_is_string(m.id));
    assert_true(json_is_object(m.params));
    json_decref(v);

    classify("{\"jsonrpc\":\"2.0\",\"id\":1.5,\"method\":\"x\"}", &m, &v);
    assert_int_equal(m.kind, RPC_REQUEST);
    assert_true(json_is_real(m.id));
    json_decref(v);

    classify("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}", &m, &v);
    assert_int_equal(m.kind, RPC_NOTIFICATION);
    json_decref(v);

    /* A notification with bad params is still never answered. */
    classify("{\"jsonrpc\":\"2.0\",\"method\":\"n\",\"params\":5}", &m, &v);
    assert_int_equal(m.kind, RPC_NOTIFICATION);
    json_decref(v);

    classify("{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{}}", &m, &v);
    assert_int_equal(m.kind, RPC_RESPONSE);
    json_decref(v);
}

static void test_classify_invalid(void **state)
{
    static const struct {
        const char *text;
        int id_kept;
    } cases[] = {
        {"[]", 0},
        {"42", 0},
        {"\"x\"", 0},
        {"{\"id\":1,\"method\":\"ping\"}", 1},
        {"{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"ping\"}", 1},
        {"{\"jsonrpc\":2.0,\"id\":1,\"method\":\"ping\"}", 1},
        {"{\"jsonrpc\":\"2.0\",\"id\":1}", 1},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":5}", 1},
        {"{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"ping\"}", 0},
        {"{\"jsonrpc\":\"2.0\",\"id\":true,\"method\":\"ping\"}", 0},
        {"{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":\"ping\"}", 0},
        {"{\"jsonrpc\":\"2.0\",\"id\":[1],\"method\":\"ping\"}", 0},
        {"{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\",\"params\":\"s\"}", 1},
        {"{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"pi\\u0000ng\"}", 1},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *v;
        rpc_msg m;

        classify(cases[i].text, &m, &v);
        assert_int_equal(m.kind, RPC_INVALID);
        assert_int_equal(m.code, RPC_INVALID_REQUEST);
        assert_non_null(m.message);
        if (cases[i].id_kept)
            assert_non_null(m.id);
        else
            assert_null(m.id);
        json_decref(v);
    }
}

static void test_responses_echo_id_type(void **state)
{
    json_t *id = json_real(2.5), *r;
    char *s;

    (void)state;
    r = rpc_result(id, json_object());
    s = json_dumps(r, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(s, "{\"id\":2.5,\"jsonrpc\":\"2.0\",\"result\":{}}");
    free(s);
    json_decref(r);
    json_decref(id);

    id = json_string("7");
    r = rpc_error(id, RPC_METHOD_NOT_FOUND, "method not found", NULL);
    s = json_dumps(r, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(
        s, "{\"error\":{\"code\":-32601,\"message\":\"method not found\"},\"id\":\"7\","
           "\"jsonrpc\":\"2.0\"}");
    free(s);
    json_decref(r);
    json_decref(id);

    r = rpc_error(NULL, RPC_PARSE_ERROR, "parse error", json_string("d"));
    s = json_dumps(r, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(s, "{\"error\":{\"code\":-32700,\"data\":\"d\",\"message\":\"parse "
                           "error\"},\"id\":null,\"jsonrpc\":\"2.0\"}");
    free(s);
    json_decref(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_refusals_echo_the_id),
        cmocka_unit_test(test_parse_accepts_bom_and_escaped_nul),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_classify_requests_and_notifications),
        cmocka_unit_test(test_classify_invalid),
        cmocka_unit_test(test_responses_echo_id_type),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests of mcp/server: lifecycle, negotiation, dispatch, tools/list, batches. No repository:
 * tool calls reach no handler. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "mcp/jsonrpc.h"
#include "mcp/server.h"
#include "tools/core/context.h"
#include "tools/registry.h"

typedef struct fixture {
    mcp_server *s;
    int fd;     /* memfd the server writes to */
    off_t read; /* how much of it the test has consumed */
} fixture;

static fixture *fx_new(size_t page)
{
    fixture *f = calloc(1, sizeof(*f));
    mcp_options o = {0};
    grove_err err = GROVE_ERR_INIT;

    assert_non_null(f);
    f->fd = memfd_create("out", 0);
    assert_true(f->fd >= 0);
    o.tools = tools_table();
    o.out_fd = f->fd;
    o.tools_page_size = page;
    o.unavailable = "no repository in this test";
    assert_int_equal(mcp_server_new(&f->s, &o, &err), 0);
    return f;
}

static void fx_free(fixture *f)
{
    mcp_server_free(f->s);
    close(f->fd);
    free(f);
}

/* Sends one line; returns what the server wrote as one malloc'd string (maybe ""). */
static char *exchange(fixture *f, const char *line)
{
    off_t end;
    char *out;
    ssize_t n;

    assert_int_equal(mcp_server_handle_line(f->s, line, strlen(line)), 0);
    end = lseek(f->fd, 0, SEEK_END);
    out = calloc(1, (size_t)(end - f->read) + 1);
    assert_non_null(out);
    n = pread(f->fd, out, (size_t)(end - f->read), f->read);
    assert_int_equal(n, end - f->read);
    f->read = end;
    return out;
}

/* Sends one line and parses the single response line. */
static json_t *call(fixture *f, const char *line)
{
    char *out = exchange(f, line);
    size_t len = strlen(out);
    json_t *v;

    assert_true(len > 0);
    assert_int_equal(out[len - 1], '\n');
    assert_null(memchr(out, '\n', len - 1)); /* exactly one line */
    v = json_loads(out, 0, NULL);
    assert_non_null(v);
    free(out);
    return v;
}

static void assert_no_output(fixture *f, const char *line)
{
    char *out = exchange(f, line);

    assert_string_equal(out, "");
    free(out);
}

static int error_code(const json_t *r)
{
    return (int)json_integer_value(json_object_get(json_object_get(r, "error"), "code"));
}

static void init(fixture *f, const char *version)
{
    char line[256];
    json_t *r;

    snprintf(line, sizeof(line),
             "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":{"
             "\"protocolVersion\":\"%s\",\"capabilities\":{},\"clientInfo\":{\"name\":\"t\","
             "\"version\":\"1\"}}}",
             version);
    r = call(f, line);
    assert_non_null(json_object_get(r, "result"));
    json_decref(r);
    assert_no_output(f, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}");
}

static void test_negotiation(void **state)
{
    static const struct {
        const char *asked, *got;
    } cases[] = {
        {"2024-11-05", "2024-11-05"}, {"2025-03-26", "2025-03-26"}, {"2025-06-18", "2025-06-18"},
        {"2025-11-25", "2025-11-25"}, {"2026-07-28", "2025-11-25"}, {"1999-01-01", "2025-11-25"},
        {"", "2025-11-25"},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        fixture *f = fx_new(0);
        char line[256];
        json_t *r, *res;

        snprintf(line, sizeof(line),
                 "{\"jsonrpc\":\"2.0\",\"id\":\"i\",\"method\":\"initialize\",\"params\":{"
                 "\"protocolVersion\":\"%s\",\"capabilities\":{},\"clientInfo\":{\"name\":\"t\","
                 "\"version\":\"1\"}}}",
                 cases[i].asked);
        r = call(f, line);
        res = json_object_get(r, "result");
        assert_string_equal(json_string_value(json_object_get(r, "id")), "i");
        assert_string_equal(json_string_value(json_object_get(res, "protocolVersion")),
                            cases[i].got);
        assert_string_equal(
            json_string_value(json_object_get(json_object_get(res, "serverInfo"), "name")),
            "grove");
        assert_non_null(
            json_string_value(json_object_get(json_object_get(res, "serverInfo"), "version")));
        assert_true(strlen(json_string_value(json_object_get(res, "instructions"))) > 40);
        assert_true(json_is_object(json_object_get(json_object_get(res, "capabilities"), "tools")));
        json_decref(r);
        fx_free(f);
    }
}

static void test_initialize_params_checked(void **state)
{
    fixture *f = fx_new(0);
    json_t *r;

    (void)state;
    r = call(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{}}");
    assert_int_equal(error_code(r), RPC_INVALID_PARAMS);
    json_decref(r);
    r = call(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{"
                "\"protocolVersion\":5}}");
    assert_int_equal(error_code(r), RPC_INVALID_PARAMS);
    json_decref(r);
    r = call(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\"}");
    assert_int_equal(error_code(r), RPC_INVALID_PARAMS);
    json_decref(r);
    /* still not initialized after the failures */
    assert_int_equal(mcp_server_version(f->s), MCP_V_NONE);
    init(f, "2025-06-18");
    r = call(f, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"initialize\",\"params\":{"
                "\"protocolVersion\":\"2025-06-18\"}}");
    assert_int_equal(error_code(r), RPC_INVALID_REQUEST);
    json_decref(r);
    assert_int_equal(mcp_server_version(f->s), MCP_V_2025_06_18);
    fx_free(f);
}

static void test_lifecycle_rules(void **state)
{
    fixture *f = fx_new(0);
    json_t *r;

    (void)state;
    r = call(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}");
    assert_true(json_is_object(json_object_get(r, "result")));
    assert_int_equal(json_object_size(json_object_get(r, "result")), 0);
    json_decref(r);
    r = call(f, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\"}");
    assert_int_equal(error_code(r), RPC_INVALID_REQUEST);
    json_decref(r);
    r = call(f, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"server/discover\",\"params\":{}}");
    assert_int_equal(error_code(r), RPC_METHOD_NOT_FOUND);
    assert_int_equal(json_integer_value(json_object_get(r, "id")), 3);
    json_decref(r);
    /* 2026-07-28: answered without initialize, and nothing is kept for the next request */
    r = call(f, "{\"jsonrpc\":\"2.0\",\"id\":31,\"method\":\"server/discover\",\"params\":{"
                "\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\","
                "\"io.modelcontextprotocol/clientCapabilities\":{}}}}");
    assert_string_equal(json_string_value(json_array_get(
                            json_object_get(json_object_get(r, "result"), "supportedVersions"), 0)),
                        "2026-07-28");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(r, "result"), "resultType")), "complete");
    json_decref(r);
    assert_int_equal(mcp_server_version(f->s), MCP_V_NONE);
    r = call(f, "{\"jsonrpc\":\"2.0\",\"id\":32,\"method\":\"tools/list\",\"params\":{"
                "\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\","
                "\"io.modelcontextprotocol/clientCapabilities\":{}}}}");
    assert_true(json_integer_value(json_object_get(json_object_get(r, "result"), "ttlMs")) > 0);
    assert_true(json_array_size(json_object_get(json_object_get(r, "result"), "tools")) > 0);
    json_decref(r);
    r = call(f, "{\"jsonrpc\":\"2.0\",\"id\":33,\"method\":\"tools/list\",\"params\":{"
                "\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2027-01-01\","
                "\"io.modelcontextprotocol/clientCapabilities\":{}}}}");
    assert_int_equal(error_code(r), -32022);
    json_decref(r);
    r = call(f, "{\"jsonrpc\":\"2.0\",\"id\":34,\"method\":\"tools/list\"}");
    assert_int_equal(error_code(r), RPC_INVALID_REQUEST); /* still not initialized */
    json_decref(r);
    assert_no_output(f, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/whatever\"}");
    assert_no_output(f, "   ");
    init(f, "2025-11-25");
    r = call(f, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"resources/list\"}");
    assert_int_equal(error_code(r), RPC_METHOD_NOT_FOUND);
    json_decref(r);
    r = call(f, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/list\",\"params\":[]}");
    assert_int_equal(error_code(r), RPC_INVALID_PARAMS);
    json_decref(r);
    /* a response from the client is ignored */
    assert_no_output(f, "{\"jsonrpc\":\"2.0\",\"id\":9,\"result\":{}}");
    /* garbage */
    r = call(f, "{not json");
    assert_int_equal(error_code(r), RPC_PARSE_ERROR);
    assert_true(json_is_null(json_object_get(r, "id")));
    json_decref(r);
    assert_int_equal(mcp_server_handle_oversize(f->s), 0);
    fx_free(f);
}

static void check_tool_shape(const json_t *t, mcp_version v)
{
    const json_t *ann = json_object_get(t, "annotations");

    assert_true(json_is_string(json_object_get(t, "name")));
    assert_true(json_is_string(json_object_get(t, "description")));
    assert_true(json_is_object(json_object_get(t, "inputSchema")));
    assert_true(json_is_boolean(json_object_get(ann, "readOnlyHint")));
    assert_true(json_is_boolean(json_object_get(ann, "destructiveHint")));
    assert_true(json_is_boolean(json_object_get(ann, "idempotentHint")));
    assert_true(json_is_boolean(json_object_get(ann, "openWorldHint")));
    if (v >= MCP_V_2025_06_18) {
        assert_true(json_is_string(json_object_get(t, "title")));
        assert_true(json_is_object(json_object_get(t, "outputSchema")));
    } else {
        assert_null(json_object_get(t, "title"));
        assert_null(json_object_get(t, "outputSchema"));
    }
}

static void test_tools_list_by_version(void **state)
{
    static const char *const versions[] = {"2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"};
    size_t i, k;

    (void)state;
    for (i = 0; i < 4; i++) {
        fixture *f = fx_new(0);
        json_t *r, *tools, *t;

        init(f, versions[i]);
        r = call(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}");
        tools = json_object_get(json_object_get(r, "result"), "tools");
        assert_int_equal(json_array_size(tools), tools_count());
        assert_int_equal(tools_count(), 17);
        assert_null(json_object_get(json_object_get(r, "result"), "nextCursor"));
        json_array_foreach(tools, k, t) check_tool_shape(t, mcp_server_version(f->s));
        json_decref(r);
        fx_free(f);
    }
}

static void test_tools_list_pagination(void **state)
{
    fixture *f = fx_new(4);
    char line[256];
    const char *cursor = NULL;
    char *saved = NULL;
    size_t seen = 0, pages = 0;
    json_t *r;

    (void)state;
    init(f, "2025-11-25");
    do {
        json_t *res, *next;

        if (saved)
            snprintf(line, sizeof(line),
                     "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\",\"params\":{"
                     "\"cursor\":\"%s\"}}",
                     saved);
        else
            snprintf(line, sizeof(line),
                     "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}");
        r = call(f, line);
        res = json_object_get(r, "result");
        assert_non_null(res);
        {
            json_t *t;
            size_t k;

            json_array_foreach(json_object_get(res, "tools"), k, t) assert_string_equal(
                json_string_value(json_object_get(t, "name")), tools_get(seen + k)->name);
        }
        seen += json_array_size(json_object_get(res, "tools"));
        pages++;
        next = json_object_get(res, "nextCursor");
        free(saved);
        saved = next ? strdup(json_string_value(next)) : NULL;
        cursor = saved;
        json_decref(r);
    } while (cursor);
    assert_int_equal(seen, tools_count());
    assert_int_equal(pages, (tools_count() + 3) / 4); /* pages of 4 */
    r = call(f, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\",\"params\":{\"cursor\":"
                "\"bogus\"}}");
    assert_int_equal(error_code(r), RPC_INVALID_PARAMS);
    json_decref(r);
    r = call(f, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/list\",\"params\":{\"cursor\":"
                "\"grove-tools-999\"}}");
    assert_int_equal(error_code(r), RPC_INVALID_PARAMS);
    json_decref(r);
    fx_free(f);
}

static void test_tools_call_errors_by_version(void **state)
{
    fixture *f;
    json_t *r, *res;

    (void)state;
    f = fx_new(0);
    init(f, "2025-06-18");
    r = call(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":"
                "\"nope\",\"arguments\":{}}}");
    assert_int_equal(error_code(r), RPC_INVALID_PARAMS);
    json_decref(r);
    r = call(f, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":"
                "\"log_checkpoint\",\"arguments\":{}}}");
    assert_int_equal(error_code(r), RPC_INVALID_PARAMS);
    assert_non_null(strstr(
        json_string_value(json_object_get(json_object_get(r, "error"), "message")), "phase"));
    json_decref(r);
    r = call(f, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":{}}");
    assert_int_equal(error_code(r), RPC_INVALID_PARAMS);
    json_decref(r);
    fx_free(f);

    f = fx_new(0);
    init(f, "2025-11-25");
    r = call(f, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"tools/call\",\"params\":{\"name\":"
                "\"query_instances\",\"arguments\":{\"limit\":501}}}");
    res = json_object_get(r, "result");
    assert_true(json_is_true(json_object_get(res, "isError")));
    assert_non_null(strstr(json_string_value(json_object_get(
                               json_array_get(json_object_get(res, "content"), 0), "text")),
                           "/limit"));
    json_decref(r);
    r = call(f, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/call\",\"params\":{\"name\":"
                "\"query_instances\",\"arguments\":[]}}");
    /* arguments that are no object: -32602 in every version (§8), not a tool's refusal */
    assert_int_equal(error_code(r), RPC_INVALID_PARAMS);
    json_decref(r);
    /* valid arguments reach the tool layer, which has no repository here */
    r = call(f, "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"tools/call\",\"params\":{\"name\":"
                "\"query_instances\",\"arguments\":{\"limit\":5}}}");
    res = json_object_get(r, "result");
    assert_true(json_is_true(json_object_get(res, "isError")));
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(res, "content"), 0), "text")),
                        "no repository in this test");
    json_decref(r);
    fx_free(f);
}

static void test_batches(void **state)
{
    fixture *f;
    json_t *r;
    char *out;

    (void)state;
    f = fx_new(0);
    init(f, "2025-03-26");
    r = call(f, "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"},"
                "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/x\"},"
                "{\"jsonrpc\":\"2.0\",\"id\":\"b\",\"method\":\"nope\"},"
                "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"initialize\",\"params\":{"
                "\"protocolVersion\":\"2025-03-26\"}}, 17]");
    assert_true(json_is_array(r));
    assert_int_equal(json_array_size(r), 4);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(r, 0), "id")), 1);
    assert_int_equal(error_code(json_array_get(r, 1)), RPC_METHOD_NOT_FOUND);
    assert_int_equal(error_code(json_array_get(r, 2)), RPC_INVALID_REQUEST);
    assert_int_equal(error_code(json_array_get(r, 3)), RPC_INVALID_REQUEST);
    json_decref(r);
    out = exchange(f, "[{\"jsonrpc\":\"2.0\",\"method\":\"notifications/x\"}]");
    assert_string_equal(out, "");
    free(out);
    r = call(f, "[]");
    assert_int_equal(error_code(r), RPC_INVALID_REQUEST);
    json_decref(r);
    fx_free(f);

    f = fx_new(0);
    init(f, "2025-06-18");
    r = call(f, "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]");
    assert_true(json_is_object(r));
    assert_int_equal(error_code(r), RPC_INVALID_REQUEST);
    json_decref(r);
    fx_free(f);
}

/* ---- tool results: the text block and structuredContent ------------------- */

/* A tool table of one tool, "echo", which answers fake_output() (no repository). */
static const char *fake_name(size_t i)
{
    (void)i;
    return "echo";
}

static json_t *fake_spec(size_t i, json_t **shared, grove_err *err)
{
    (void)i;
    (void)shared;
    (void)err;
    return json_pack("{s:s, s:s, s:{s:s}}", "name", "echo", "description", "echoes", "inputSchema",
                     "type", "object");
}

/*
 * What escaping and key order can get wrong: quotes, backslashes, control
 * characters, non-ASCII text, a string shaped like a splice marker, keys out
 * of alphabetical order, every kind of value, and a long patch-like string.
 */
static json_t *fake_output(void)
{
    char *patch = malloc(200001);
    json_t *v;
    size_t i;

    assert_non_null(patch);
    for (i = 0; i < 200000; i++)
        patch[i] = "+\tline \"q\" \\ x\n"[i % 16];
    patch[200000] = '\0';
    v = json_pack("{s:s, s:s, s:s, s:s, s:[i, f, b, n, {}], s:{s:s, s:I}, s:s}", "zeta", "last?",
                  "alpha", "\"\\\"\x01\x1f\x7f/", "unicode", "\xc3\xa9\xe2\x80\xa8\xf0\x9f\x8c\xb3",
                  "marker", "\"0123456789abcdef0123456789abcdef-0\"", "kinds", 7, 0.1, 1, "nested",
                  "b", "\n", "a", (json_int_t)-9007199254740993LL, "patch", patch);
    free(patch);
    assert_non_null(v);
    return v;
}

static int fake_call(struct grove_ctx *ctx, size_t i, const json_t *args, const grove_progress *p,
                     json_t **out, grove_err *err)
{
    (void)ctx;
    (void)i;
    (void)args;
    (void)p;
    (void)err;
    *out = fake_output();
    return 0;
}

static void fake_rejected(struct grove_ctx *ctx, size_t i, const json_t *args, const char *message)
{
    (void)ctx;
    (void)i;
    (void)args;
    (void)message;
}

static const mcp_tools fake_tools = {1, fake_name, fake_spec, fake_call, fake_rejected, "", {0}};

/*
 * A tool result's response line is byte for byte what jansson makes of it
 * (dumping what it parses back to gives the same line: keys in the order the
 * server put them, the same escaping), structuredContent is the tool's output
 * and the text block its JSON (from 2025-06-18; before, the text block only).
 * send_msg() splices structuredContent's JSON, made once for the text block,
 * into the line: this is what that must keep.
 */
static void test_tool_result_bytes(void **state)
{
    static const char *const versions[] = {"2024-11-05", "2025-06-18", "2025-11-25", NULL};
    static const char modern[] =
        "{\"jsonrpc\":\"2.0\",\"id\":\"m\",\"method\":\"tools/call\",\"params\":{\"name\":"
        "\"echo\",\"arguments\":{},\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":"
        "\"2026-07-28\",\"io.modelcontextprotocol/clientCapabilities\":{},"
        "\"io.modelcontextprotocol/clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}}";
    json_t *want = fake_output(), *got, *res, *text;
    size_t k, round;

    (void)state;
    for (k = 0; versions[k] || k == 3; k++) {
        struct grove_ctx *ctx = calloc(1, sizeof(*ctx)); /* the handler never looks at it */
        mcp_options o = {0};
        grove_err err = GROVE_ERR_INIT;
        fixture f = {0};

        assert_non_null(ctx);
        f.fd = memfd_create("out", 0);
        assert_true(f.fd >= 0);
        o.tools = &fake_tools;
        o.out_fd = f.fd;
        o.ctx = ctx;
        assert_int_equal(mcp_server_new(&f.s, &o, &err), 0);
        if (versions[k])
            init(&f, versions[k]);
        for (round = 0; round < 2; round++) { /* the second: nothing left over from the first */
            char *line = exchange(&f, versions[k] ? "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
                                                    "\"tools/call\",\"params\":{\"name\":"
                                                    "\"echo\",\"arguments\":{}}}"
                                                  : modern);
            size_t len = strlen(line);
            char *again;

            assert_true(len > 1 && line[len - 1] == '\n');
            line[len - 1] = '\0';
            got = json_loads(line, 0, NULL);
            assert_non_null(got);
            again = json_dumps(got, JSON_COMPACT);
            assert_non_null(again);
            assert_string_equal(again, line);
            res = json_object_get(got, "result");
            assert_true(json_is_false(json_object_get(res, "isError")));
            text = json_loads(json_string_value(json_object_get(
                                  json_array_get(json_object_get(res, "content"), 0), "text")),
                              0, NULL);
            assert_true(json_equal(text, want));
            if (k == 0)
                assert_null(json_object_get(res, "structuredContent"));
            else
                assert_true(json_equal(json_object_get(res, "structuredContent"), want));
            if (!versions[k]) /* keys after structuredContent (2026-07-28), kept after it */
                assert_true(strstr(line, "\"structuredContent\":") <
                            strstr(line, "\"resultType\":"));
            json_decref(text);
            json_decref(got);
            free(again);
            free(line);
        }
        mcp_server_free(f.s);
        close(f.fd);
        free(ctx);
        if (!versions[k])
            break;
    }
    json_decref(want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_negotiation),
        cmocka_unit_test(test_initialize_params_checked),
        cmocka_unit_test(test_lifecycle_rules),
        cmocka_unit_test(test_tools_list_by_version),
        cmocka_unit_test(test_tools_list_pagination),
        cmocka_unit_test(test_tools_call_errors_by_version),
        cmocka_unit_test(test_batches),
        cmocka_unit_test(test_tool_result_bytes),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

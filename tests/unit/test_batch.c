/* unit tests: mcp/batch.c, the group commit of pipelined calls (what is held back, and what a
 * failed commit turns the answers into). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "mcp/batch.h"

typedef struct fake_db {
    int begun, committed, fail;
    int nowait, synced, sync_fail; /* commit_nowait calls, synced calls, synced fails */
} fake_db;

static int fake_begin(struct grove_ctx *ctx, grove_err *err)
{
    ((fake_db *)ctx)->begun++;
    return 0;
}

static int fake_commit(struct grove_ctx *ctx, grove_err *err)
{
    fake_db *f = (fake_db *)ctx;

    if (f->fail)
        return grove_fail(err, GROVE_EDB, "disk I/O error");
    f->committed++;
    return 0;
}

static int fake_commit_nowait(struct grove_ctx *ctx, grove_err *err)
{
    ((fake_db *)ctx)->nowait++;
    return fake_commit(ctx, err);
}

static int fake_synced(struct grove_ctx *ctx, grove_err *err)
{
    fake_db *f = (fake_db *)ctx;

    f->synced++;
    if (f->sync_fail)
        return grove_fail(err, GROVE_EDB, "cannot fsync: Input/output error");
    return 0;
}

/* Holds msg (stolen) as its compact line. */
static void hold(mcp_batch *b, json_t *msg)
{
    char *text = json_dumps(msg, JSON_COMPACT);
    char *line;

    assert_non_null(text);
    line = malloc(strlen(text) + 2);
    assert_non_null(line);
    strcpy(line, text);
    strcat(line, "\n");
    assert_int_equal(mcp_batch_hold(b, line, strlen(line), msg), 0);
    free(line);
    free(text);
    json_decref(msg);
}

/* The held-back output as parsed lines (new reference). */
static json_t *lines_of(const char *out, size_t n)
{
    json_t *arr = json_array();
    const char *p = out, *end = out + n, *nl;

    while (p < end && (nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        json_t *v = json_loadb(p, (size_t)(nl - p), 0, NULL);

        assert_non_null(v);
        json_array_append_new(arr, v);
        p = nl + 1;
    }
    assert_true(p == end);
    return arr;
}

/* Three messages: a successful answer, a notification, an answer that is an error. */
static void hold_three(mcp_batch *b)
{
    b->writes = 1;
    hold(b, json_pack("{s:s, s:i, s:{s:[{s:s, s:s}], s:b}}", "jsonrpc", "2.0", "id", 7, "result",
                      "content", "type", "text", "text", "saved", "isError", 0));
    hold(b, json_pack("{s:s, s:s, s:{s:s, s:f}}", "jsonrpc", "2.0", "method",
                      "notifications/progress", "params", "progressToken", "t", "progress", 1.0));
    hold(b, json_pack("{s:s, s:i, s:{s:[{s:s, s:s}], s:b}}", "jsonrpc", "2.0", "id", 8, "result",
                      "content", "type", "text", "text", "refused", "isError", 1));
    b->writes = 0;
}

static void test_commit_writes_in_order(void **state)
{
    fake_db f = {0};
    mcp_group_fns g = {NULL, fake_begin, fake_commit, NULL, NULL};
    mcp_batch b;
    const char *out;
    size_t n;
    json_t *arr;

    memset(&b, 0, sizeof(b));
    assert_false(mcp_batch_is_open(&b));
    assert_int_equal(mcp_batch_open(&b, &g, (struct grove_ctx *)&f), 0);
    assert_true(mcp_batch_is_open(&b));
    assert_int_equal(f.begun, 1);
    hold_three(&b);
    assert_int_equal(f.committed, 0); /* nothing goes out before the commit */
    mcp_batch_close(&b, &g, &out, &n);
    assert_int_equal(f.committed, 1);
    assert_false(mcp_batch_is_open(&b));
    arr = lines_of(out, n);
    assert_int_equal(json_array_size(arr), 3);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(arr, 0), "id")), 7);
    assert_string_equal(json_string_value(json_object_get(json_array_get(arr, 1), "method")),
                        "notifications/progress");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(arr, 2), "id")), 8);
    assert_false(json_is_true(
        json_object_get(json_object_get(json_array_get(arr, 0), "result"), "isError")));
    json_decref(arr);
    /* closed: nothing more, no second commit */
    mcp_batch_close(&b, &g, &out, &n);
    assert_int_equal(n, 0);
    assert_int_equal(f.committed, 1);
    mcp_batch_free(&b);
}

static void test_failed_commit_replaces_answers(void **state)
{
    fake_db f = {0, 0, 1, 0, 0, 0};
    mcp_group_fns g = {NULL, fake_begin, fake_commit, NULL, NULL};
    mcp_batch b;
    const char *out;
    size_t n;
    json_t *arr, *r0, *r2;
    const char *text;

    memset(&b, 0, sizeof(b));
    assert_int_equal(mcp_batch_open(&b, &g, (struct grove_ctx *)&f), 0);
    hold_three(&b);
    mcp_batch_close(&b, &g, &out, &n);
    arr = lines_of(out, n);
    assert_int_equal(json_array_size(arr), 3);
    /* the successful answer now says that nothing was saved, with the same id */
    r0 = json_object_get(json_array_get(arr, 0), "result");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(arr, 0), "id")), 7);
    assert_true(json_is_true(json_object_get(r0, "isError")));
    text = json_string_value(
        json_object_get(json_array_get(json_object_get(r0, "content"), 0), "text"));
    assert_non_null(text);
    assert_non_null(strstr(text, "not saved"));
    assert_non_null(strstr(text, "disk I/O error"));
    /* the notification and the answer that was an error already stay as they were */
    assert_string_equal(json_string_value(json_object_get(json_array_get(arr, 1), "method")),
                        "notifications/progress");
    r2 = json_object_get(json_array_get(arr, 2), "result");
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(r2, "content"), 0), "text")),
                        "refused");
    json_decref(arr);
    mcp_batch_free(&b);
}

static void test_call_name(void **state)
{
    json_t *m = json_pack("{s:s, s:i, s:s, s:{s:s}}", "jsonrpc", "2.0", "id", 1, "method",
                          "tools/call", "params", "name", "log_checkpoint");

    assert_string_equal(mcp_batch_call_name(m), "log_checkpoint");
    json_object_del(m, "id"); /* a notification is no call */
    assert_null(mcp_batch_call_name(m));
    json_decref(m);
    m = json_pack("{s:s, s:i, s:s}", "jsonrpc", "2.0", "id", 1, "method", "tools/list");
    assert_null(mcp_batch_call_name(m));
    json_decref(m);
    m = json_pack("{s:s, s:i, s:s, s:{s:s#}}", "jsonrpc", "2.0", "id", 1, "method", "tools/call",
                  "params", "name", "log\0x", (size_t)5);
    assert_null(mcp_batch_call_name(m)); /* a NUL in the name */
    json_decref(m);
}

/* more_input: a complete line buffered or readable now; never waits for one. */
static void test_more_input(void **state)
{
    io_reader *r = NULL;
    const char *line;
    size_t len;
    int fds[2];

    assert_int_equal(pipe(fds), 0);
    assert_int_equal(io_reader_new(&r, fds[0], 1 << 20), 0);
    assert_false(mcp_batch_more_input(r, fds[0])); /* nothing: no wait */
    assert_int_equal(write(fds[1], "{\"a\":1}\n{\"b\"", 12), 12);
    assert_true(mcp_batch_more_input(r, fds[0])); /* read now */
    assert_int_equal(io_reader_next(r, &line, &len), LINE_READY);
    assert_false(mcp_batch_more_input(r, fds[0])); /* half a line is not a request */
    assert_int_equal(write(fds[1], ":2}\n", 4), 4);
    assert_true(mcp_batch_more_input(r, fds[0]));
    assert_false(mcp_batch_more_input(NULL, fds[0]));
    io_reader_free(r);
    close(fds[0]);
    close(fds[1]);
}

/*
 * close_nowait: the group's answers wait for its fsync (synced) while the
 * next group runs; they come out first, in order, once it is done.
 */
static void test_nowait_holds_until_synced(void **state)
{
    fake_db f = {0};
    mcp_group_fns g = {NULL, fake_begin, fake_commit, fake_commit_nowait, fake_synced};
    mcp_batch b;
    const char *out;
    size_t n;
    json_t *arr;

    memset(&b, 0, sizeof(b));
    assert_int_equal(mcp_batch_open(&b, &g, (struct grove_ctx *)&f), 0);
    hold_three(&b);
    mcp_batch_close_nowait(&b, &g);
    assert_int_equal(f.nowait, 1);
    assert_int_equal(f.synced, 0);
    assert_false(mcp_batch_is_open(&b));
    /* the next group opens and holds its own answer meanwhile */
    assert_int_equal(mcp_batch_open(&b, &g, (struct grove_ctx *)&f), 0);
    b.writes = 1;
    hold(&b, json_pack("{s:s, s:i, s:{s:[{s:s, s:s}], s:b}}", "jsonrpc", "2.0", "id", 9, "result",
                       "content", "type", "text", "text", "second", "isError", 0));
    b.writes = 0;
    mcp_batch_take_pending(&b, &g, &out, &n);
    assert_int_equal(f.synced, 1);
    arr = lines_of(out, n);
    assert_int_equal(json_array_size(arr), 3);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(arr, 0), "id")), 7);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(arr, 2), "id")), 8);
    json_decref(arr);
    /* nothing pending any more: no second wait */
    mcp_batch_take_pending(&b, &g, &out, &n);
    assert_int_equal(n, 0);
    assert_int_equal(f.synced, 1);
    /* the second group's answer is its own */
    mcp_batch_close(&b, &g, &out, &n);
    arr = lines_of(out, n);
    assert_int_equal(json_array_size(arr), 1);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(arr, 0), "id")), 9);
    json_decref(arr);
    mcp_batch_free(&b);
}

/* A failed fsync turns the pending successful answers into errors; the rest is unchanged. */
static void test_nowait_failed_sync_replaces_answers(void **state)
{
    fake_db f = {0};
    mcp_group_fns g = {NULL, fake_begin, fake_commit, fake_commit_nowait, fake_synced};
    mcp_batch b;
    const char *out, *text;
    size_t n;
    json_t *arr, *r0;

    f.sync_fail = 1;
    memset(&b, 0, sizeof(b));
    assert_int_equal(mcp_batch_open(&b, &g, (struct grove_ctx *)&f), 0);
    hold_three(&b);
    mcp_batch_close_nowait(&b, &g);
    mcp_batch_take_pending(&b, &g, &out, &n);
    arr = lines_of(out, n);
    assert_int_equal(json_array_size(arr), 3);
    r0 = json_object_get(json_array_get(arr, 0), "result");
    assert_true(json_is_true(json_object_get(r0, "isError")));
    text = json_string_value(
        json_object_get(json_array_get(json_object_get(r0, "content"), 0), "text"));
    assert_non_null(strstr(text, "cannot fsync"));
    assert_string_equal(json_string_value(json_object_get(json_array_get(arr, 1), "method")),
                        "notifications/progress");
    json_decref(arr);
    mcp_batch_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_commit_writes_in_order),
        cmocka_unit_test(test_failed_commit_replaces_answers),
        cmocka_unit_test(test_nowait_holds_until_synced),
        cmocka_unit_test(test_nowait_failed_sync_replaces_answers),
        cmocka_unit_test(test_call_name),
        cmocka_unit_test(test_more_input),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

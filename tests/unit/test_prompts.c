/*
 * Unit tests of what issue 16 added to mcp/ without a repository: prompt
 * argument validation and texts (prompts.c), completion limits and argument
 * routing (complete.c), logging levels and the rate limit (logging.c), and
 * the server's log sink: nothing before logging/setLevel, nothing below the
 * level, at most MCP_LOG_RATE a second with a note for the rest.
 */
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

#include "mcp/complete.h"
#include "mcp/logging.h"
#include "mcp/prompts.h"
#include "mcp/server.h"
#include "tools/core/complete.h"
#include "tools/core/context.h"
#include "tools/registry.h"

static void test_prompt_check(void **state)
{
    const mcp_prompt *p;
    char msg[512];
    json_t *args;
    size_t i;

    (void)state;
    assert_int_equal(mcp_prompt_count(), 4);
    assert_int_equal(mcp_prompt_check("deploy", NULL, &p, msg, sizeof(msg)), -1);
    assert_null(p);
    assert_non_null(strstr(msg, "unknown prompt 'deploy'"));
    assert_int_equal(mcp_prompt_check(NULL, NULL, &p, msg, sizeof(msg)), -1);
    /* a required argument missing, empty, of the wrong type; an unknown one */
    assert_int_equal(mcp_prompt_check("review", NULL, &p, msg, sizeof(msg)), -1);
    assert_non_null(strstr(msg, "needs argument 'instance_id'"));
    args = json_pack("{s:s}", "instance_id", "");
    assert_int_equal(mcp_prompt_check("land", args, &p, msg, sizeof(msg)), -1);
    json_decref(args);
    args = json_pack("{s:i}", "instance_id", 3);
    assert_int_equal(mcp_prompt_check("land", args, &p, msg, sizeof(msg)), -1);
    assert_non_null(strstr(msg, "must be a string"));
    json_decref(args);
    args = json_stringn("a\0b", 3);
    assert_int_equal(mcp_prompt_check("resume", args, &p, msg, sizeof(msg)), -1);
    json_decref(args);
    args = json_pack("{s:s%}", "instance_id", "a\0b", (size_t)3);
    assert_int_equal(mcp_prompt_check("resume", args, &p, msg, sizeof(msg)), -1);
    json_decref(args);
    args = json_pack("{s:s, s:s}", "instance_id", "work-a1", "issues", "1");
    assert_int_equal(mcp_prompt_check("review", args, &p, msg, sizeof(msg)), -1);
    assert_non_null(strstr(msg, "has no argument 'issues'"));
    json_decref(args);
    args = json_pack("{s:s}", "issues", "1, 2");
    assert_int_equal(mcp_prompt_check("orchestrate", args, &p, msg, sizeof(msg)), 0);
    assert_ptr_equal(p, mcp_prompt_find("orchestrate"));
    json_decref(args);
    /* each text stays under 2 KB, and names the tools it walks through */
    for (i = 0; i < mcp_prompt_count(); i++) {
        const char *t = mcp_prompt_template(mcp_prompt_at(i));

        assert_true(strlen(t) < MCP_PROMPT_TEXT_MAX);
    }
    assert_non_null(strstr(mcp_prompt_template(mcp_prompt_find("land")), "dry_run: true"));
    assert_non_null(strstr(mcp_prompt_template(mcp_prompt_find("resume")), "resume_instance"));
    assert_non_null(strstr(mcp_prompt_template(mcp_prompt_find("review")), "send_feedback"));
    assert_non_null(
        strstr(mcp_prompt_template(mcp_prompt_find("orchestrate")), "spawn_review_instance"));
}

static void test_prompt_get_without_repository(void **state)
{
    const mcp_prompt *p = mcp_prompt_find("orchestrate");
    grove_err err = GROVE_ERR_INIT;
    json_t *args, *out = NULL;
    const char *text;
    char many[400];
    size_t i;

    (void)state;
    args = json_pack("{s:s}", "issues", "12,15  bd-a3f8,");
    assert_int_equal(mcp_prompt_get(p, NULL, NULL, args, &out, &err), 0);
    text = json_string_value(json_object_get(
        json_object_get(json_array_get(json_object_get(out, "messages"), 0), "content"), "text"));
    assert_non_null(strstr(text, "for these issues: 12, 15, bd-a3f8."));
    json_decref(out);
    json_decref(args);
    /* more than MCP_PROMPT_MAX_ISSUES issues, a bad one: GROVE_EINVAL (-32602) */
    many[0] = '\0';
    for (i = 0; i <= MCP_PROMPT_MAX_ISSUES; i++)
        snprintf(many + strlen(many), sizeof(many) - strlen(many), "%zu ", i + 1);
    args = json_pack("{s:s}", "issues", many);
    assert_int_equal(mcp_prompt_get(p, NULL, NULL, args, &out, &err), -1);
    assert_int_equal(err.code, GROVE_EINVAL);
    json_decref(args);
    args = json_pack("{s:s}", "issues", "12 $(x)");
    assert_int_equal(mcp_prompt_get(p, NULL, NULL, args, &out, &err), -1);
    assert_int_equal(err.code, GROVE_EINVAL);
    assert_non_null(strstr(err.msg, "'$(x)'"));
    json_decref(args);
    /* a prompt about an instance without a repository: grove's failure, not the client's */
    args = json_pack("{s:s}", "instance_id", "work-a1");
    assert_int_equal(
        mcp_prompt_get(mcp_prompt_find("review"), NULL, "no repository here", args, &out, &err),
        -1);
    assert_int_not_equal(err.code, GROVE_EINVAL);
    assert_int_not_equal(err.code, GROVE_ENOTFOUND);
    json_decref(args);
}

static void test_prompt_describe_by_version(void **state)
{
    json_t *old = mcp_prompt_describe(mcp_prompt_find("review"), 0);
    json_t *now = mcp_prompt_describe(mcp_prompt_find("review"), 1);
    json_t *arg;

    (void)state;
    assert_null(json_object_get(old, "title"));
    arg = json_array_get(json_object_get(old, "arguments"), 0);
    assert_string_equal(json_string_value(json_object_get(arg, "name")), "instance_id");
    assert_true(json_is_true(json_object_get(arg, "required")));
    assert_null(json_object_get(arg, "title"));
    assert_string_equal(json_string_value(json_object_get(now, "title")), "Review an instance");
    assert_non_null(json_object_get(json_array_get(json_object_get(now, "arguments"), 0), "title"));
    json_decref(old);
    json_decref(now);
}

static void test_completion_limits(void **state)
{
    grove_name_list list = {0};
    grove_err err = GROVE_ERR_INIT;
    json_t *r, *c;
    char name[32];
    size_t i;

    (void)state;
    for (i = 0; i < 150; i++) {
        snprintf(name, sizeof(name), "work-a%zu", i + 1);
        assert_int_equal(complete_add(&list, 150, name, &err), 0);
    }
    /* 150 candidates: 100 values, total 150, hasMore */
    r = mcp_complete_result(&list);
    c = json_object_get(r, "completion");
    assert_int_equal(json_array_size(json_object_get(c, "values")), MCP_COMPLETE_MAX);
    assert_int_equal(json_integer_value(json_object_get(c, "total")), 150);
    assert_true(json_is_true(json_object_get(c, "hasMore")));
    json_decref(r);
    db_name_list_free(&list);
    /* exactly 100: no more */
    for (i = 0; i < 130; i++) {
        snprintf(name, sizeof(name), "x%zu", i);
        assert_int_equal(complete_add(&list, 100, name, &err), 0);
    }
    assert_int_equal(list.n, 100);
    assert_int_equal(list.total, 130);
    list.total = 100;
    r = mcp_complete_result(&list);
    c = json_object_get(r, "completion");
    assert_int_equal(json_array_size(json_object_get(c, "values")), 100);
    assert_true(json_is_false(json_object_get(c, "hasMore")));
    json_decref(r);
    /* a total below what is held (rows added meanwhile) is never reported */
    list.total = 3;
    r = mcp_complete_result(&list);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(r, "completion"), "total")),
                     100);
    json_decref(r);
    db_name_list_free(&list);
    /* nothing */
    r = mcp_complete_result(&list);
    c = json_object_get(r, "completion");
    assert_int_equal(json_array_size(json_object_get(c, "values")), 0);
    assert_int_equal(json_integer_value(json_object_get(c, "total")), 0);
    assert_true(json_is_false(json_object_get(c, "hasMore")));
    json_decref(r);
}

static void test_completion_routing(void **state)
{
    mcp_complete_source src;
    const char *value;
    char msg[256];
    json_t *p;

    (void)state;
    assert_int_equal(mcp_complete_source_of("instance_id"), MCP_COMPLETE_INSTANCES);
    assert_int_equal(mcp_complete_source_of("id"), MCP_COMPLETE_INSTANCES);
    assert_int_equal(mcp_complete_source_of("work_instance_id"), MCP_COMPLETE_INSTANCES);
    assert_int_equal(mcp_complete_source_of("agent"), MCP_COMPLETE_PROFILES);
    assert_int_equal(mcp_complete_source_of("base_branch"), MCP_COMPLETE_BRANCHES);
    assert_int_equal(mcp_complete_source_of("issues"), MCP_COMPLETE_ISSUES);
    assert_int_equal(mcp_complete_source_of("prompt"), MCP_COMPLETE_NONE);
    assert_int_equal(mcp_complete_source_of("identity"), MCP_COMPLETE_NONE);
    p = json_loads("{\"ref\":{\"type\":\"ref/prompt\",\"name\":\"land\"},"
                   "\"argument\":{\"name\":\"instance_id\",\"value\":\"wo\"}}",
                   0, NULL);
    assert_int_equal(mcp_complete_check(p, &src, &value, msg, sizeof(msg)), 0);
    assert_int_equal(src, MCP_COMPLETE_INSTANCES);
    assert_string_equal(value, "wo");
    json_decref(p);
    p = json_loads("{\"ref\":{\"type\":\"ref/resource\",\"uri\":\"grove://instances/{id}\"},"
                   "\"argument\":{\"name\":\"id\",\"value\":\"\"}}",
                   0, NULL);
    assert_int_equal(mcp_complete_check(p, &src, &value, msg, sizeof(msg)), 0);
    assert_int_equal(src, MCP_COMPLETE_INSTANCES);
    json_decref(p);
    p = json_loads("{\"ref\":{\"type\":\"ref/prompt\",\"name\":\"land\"},"
                   "\"argument\":{\"name\":\"agent\",\"value\":\"\"}}",
                   0, NULL);
    assert_int_equal(mcp_complete_check(p, &src, &value, msg, sizeof(msg)), -1);
    json_decref(p);
    p = json_loads("{\"ref\":{\"type\":\"ref/prompt\",\"name\":\"land\"},"
                   "\"argument\":{\"name\":\"instance_id\",\"value\":3}}",
                   0, NULL);
    assert_int_equal(mcp_complete_check(p, &src, &value, msg, sizeof(msg)), -1);
    json_decref(p);
}

static void test_log_levels_and_limiter(void **state)
{
    mcp_log_limiter l;
    unsigned note;
    int note_level, i;

    (void)state;
    assert_int_equal(mcp_log_level_parse("debug"), 0);
    assert_int_equal(mcp_log_level_parse("warning"), 3);
    assert_int_equal(mcp_log_level_parse("emergency"), 7);
    assert_int_equal(mcp_log_level_parse("warn"), -1);
    assert_int_equal(mcp_log_level_parse(NULL), -1);
    assert_string_equal(mcp_log_level_name(5), "critical");
    assert_null(mcp_log_level_name(8));
    memset(&l, 0, sizeof(l));
    for (i = 0; i < MCP_LOG_RATE; i++) {
        assert_int_equal(mcp_log_admit(&l, 5000 + i, 3, &note, &note_level), 1);
        assert_int_equal(note, 0);
    }
    assert_int_equal(mcp_log_admit(&l, 5500, 3, &note, &note_level), 0);
    assert_int_equal(mcp_log_admit(&l, 5900, 6, &note, &note_level), 0);
    assert_int_equal(mcp_log_admit(&l, 5999, 4, &note, &note_level), 0);
    /* the next window: the message goes, after a note of the 3 dropped (highest level: 6) */
    assert_int_equal(mcp_log_admit(&l, 6000, 3, &note, &note_level), 1);
    assert_int_equal(note, 3);
    assert_int_equal(note_level, 6);
    assert_int_equal(mcp_log_admit(&l, 6001, 3, &note, &note_level), 1);
    assert_int_equal(note, 0);
}

/* ---- the server's sink, with a context that has no repository (nothing opens it) ---- */

static char *drain(int fd, off_t *read_so_far)
{
    off_t end = lseek(fd, 0, SEEK_END);
    char *out = calloc(1, (size_t)(end - *read_so_far) + 1);

    assert_non_null(out);
    assert_int_equal(pread(fd, out, (size_t)(end - *read_so_far), *read_so_far),
                     end - *read_so_far);
    *read_so_far = end;
    return out;
}

static size_t count(const char *s, const char *what)
{
    size_t n = 0;

    while ((s = strstr(s, what))) {
        n++;
        s += strlen(what);
    }
    return n;
}

static void send_line(mcp_server *s, const char *line)
{
    assert_int_equal(mcp_server_handle_line(s, line, strlen(line)), 0);
}

static void test_server_log_sink(void **state)
{
    grove_ctx ctx;
    mcp_server *s = NULL;
    mcp_options o = {0};
    grove_err err = GROVE_ERR_INIT;
    off_t seen = 0;
    char *out;
    int fd = memfd_create("out", 0), i;

    (void)state;
    memset(&ctx, 0, sizeof(ctx));
    o.tools = tools_table();
    o.out_fd = fd;
    o.ctx = &ctx;
    assert_int_equal(mcp_server_new(&s, &o, &err), 0);
    assert_non_null(ctx.sink);
    send_line(s, "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":{"
                 "\"protocolVersion\":\"2025-11-25\",\"capabilities\":{},\"clientInfo\":{"
                 "\"name\":\"t\",\"version\":\"1\"}}}");
    out = drain(fd, &seen);
    assert_non_null(strstr(out, "\"logging\":{}"));
    assert_non_null(strstr(out, "\"completions\":{}"));
    assert_non_null(strstr(out, "\"prompts\":{\"listChanged\":false}"));
    free(out);
    /* before logging/setLevel: nothing, whatever the level */
    ctx_report(&ctx, CTX_EMERGENCY, "test", NULL, "not sent");
    out = drain(fd, &seen);
    assert_string_equal(out, "");
    free(out);
    send_line(s, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"logging/setLevel\","
                 "\"params\":{\"level\":\"warning\"}}");
    free(drain(fd, &seen));
    /* below the level: nothing; at it: one notifications/message */
    ctx_report(&ctx, CTX_NOTICE, "agent_waiting", "work-a1", "below");
    out = drain(fd, &seen);
    assert_string_equal(out, "");
    free(out);
    ctx_report(&ctx, CTX_WARNING, "instance_ended", "work-a1", "instance '%s' ended", "work-a1");
    out = drain(fd, &seen);
    assert_non_null(strstr(out, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\","
                                "\"params\":{\"level\":\"warning\",\"logger\":\"grove\","
                                "\"data\":{\"event\":\"instance_ended\",\"message\":\"instance "
                                "'work-a1' ended\",\"instance_id\":\"work-a1\"}}}\n"));
    free(out);
    /* a burst: MCP_LOG_RATE a second (one was sent already), the rest counted */
    for (i = 0; i < 30; i++)
        ctx_report(&ctx, CTX_ERROR, "burst", NULL, "burst %d", i);
    out = drain(fd, &seen);
    assert_int_equal(count(out, "notifications/message"), MCP_LOG_RATE - 1);
    free(out);
    sleep(1);
    ctx_report(&ctx, CTX_ERROR, "after", NULL, "after the burst");
    out = drain(fd, &seen);
    assert_int_equal(count(out, "notifications/message"), 2);
    assert_non_null(strstr(out, "\"suppressed\":21"));
    assert_non_null(strstr(out, "suppressed 21 messages"));
    free(out);
    mcp_server_free(s);
    assert_null(ctx.sink); /* the context outlives the server: no dangling sink */
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prompt_check),
        cmocka_unit_test(test_prompt_get_without_repository),
        cmocka_unit_test(test_prompt_describe_by_version),
        cmocka_unit_test(test_completion_limits),
        cmocka_unit_test(test_completion_routing),
        cmocka_unit_test(test_log_levels_and_limiter),
        cmocka_unit_test(test_server_log_sink),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

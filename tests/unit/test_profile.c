/*
 * Unit tests of the pure parts of agents (CONTRACT §7): profiles
 * (tools/agents/profile.c: resolution, the argv that connects each CLI to
 * grove), terminal output cleaning (tools/agents/output.c) and the
 * notify.command argv (tools/core/notify.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tools/agents/output.h"
#include "tools/agents/profile.h"
#include "tools/base/buf.h"
#include "tools/core/notify.h"

static size_t argc_of(char **argv)
{
    size_t n = 0;

    while (argv && argv[n])
        n++;
    return n;
}

static const agent_link LINK = {"/opt/gro ve/grove", "/home/u/it's/grove.db", "work-7-a1",
                                "/tmp/grove-test-files"};

static void test_resolve_builtins_and_errors(void **state)
{
    agent_profile p;
    grove_err err = GROVE_ERR_INIT;

    (void)state;
    assert_int_equal(profile_resolve(NULL, NULL, "claude", &p, &err), 0);
    assert_int_equal(p.cli, AGENT_CLI_CLAUDE);
    assert_true(p.hooks);
    assert_non_null(p.resume);
    assert_string_equal(p.pass_env[0], "ANTHROPIC_API_KEY");
    profile_free(&p);
    assert_int_equal(profile_resolve(NULL, NULL, "codex", &p, &err), 0);
    assert_int_equal(p.cli, AGENT_CLI_CODEX);
    assert_false(p.hooks);
    assert_non_null(p.waiting_pattern);
    profile_free(&p);
    assert_int_equal(profile_resolve(NULL, NULL, "gemini", &p, &err), 0);
    assert_int_equal(p.cli, AGENT_CLI_GEMINI);
    profile_free(&p);
    /* custom is the agent command */
    assert_int_equal(profile_resolve(NULL, "[\"my-agent\",\"{prompt}\"]", "custom", &p, &err), 0);
    assert_string_equal(p.command, "[\"my-agent\",\"{prompt}\"]");
    assert_int_equal(p.cli, AGENT_CLI_OTHER);
    assert_null(p.pass_env[0]);
    profile_free(&p);
    assert_int_equal(profile_resolve(NULL, NULL, "custom", &p, &err), -1);
    assert_non_null(strstr(err.msg, "needs an agent command"));
    /* agent.profiles: its own names, and overrides of the built-ins */
    assert_int_equal(profile_resolve("{\"claude\":{\"command\":[\"/usr/local/bin/claude\","
                                     "\"{prompt}\"],\"hooks\":\"none\"},\"x\":{\"command\":[\"x\"],"
                                     "\"pass_env\":[\"GH_TOKEN\"]}}",
                                     NULL, "claude", &p, &err),
                     0);
    assert_int_equal(p.cli, AGENT_CLI_CLAUDE);
    assert_false(p.hooks);
    assert_null(p.resume);
    profile_free(&p);
    assert_int_equal(profile_resolve("{\"x\":{\"command\":[\"x\"],\"pass_env\":[\"GH_TOKEN\"]}}",
                                     NULL, "x", &p, &err),
                     0);
    assert_string_equal(p.pass_env[0], "GH_TOKEN");
    profile_free(&p);
    assert_int_equal(profile_resolve("{\"x\":{\"command\":[\"x\"]}}", NULL, "y", &p, &err), -1);
    assert_string_equal(err.msg, "unknown agent profile 'y' (known: claude, codex, gemini, "
                                 "custom, x)");
    assert_int_equal(profile_resolve("[1]", NULL, "claude", &p, &err), -1);
    assert_non_null(strstr(err.msg, "agent.profiles must be a JSON object"));
    assert_int_equal(
        profile_resolve("{\"x\":{\"command\":[\"x\"],\"hooks\":\"yes\"}}", NULL, "x", &p, &err),
        -1);
    assert_non_null(strstr(err.msg, "hooks must be"));
    assert_int_equal(profile_resolve("{\"x\":{\"command\":[\"x\"],\"waiting_pattern\":\"(\"}}",
                                     NULL, "x", &p, &err),
                     -1);
    assert_non_null(strstr(err.msg, "waiting_pattern"));
    assert_int_equal(profile_resolve("{\"x\":{\"command\":[\"\"]}}", NULL, "x", &p, &err), -1);
    assert_non_null(strstr(err.msg, "the program (element 0 of command) is empty"));
    assert_int_equal(
        profile_resolve("{\"x\":{\"command\":[\"x\"],\"env\":{}}}", NULL, "x", &p, &err), -1);
    assert_non_null(strstr(err.msg, "unknown field 'env'"));
    assert_int_equal(profile_resolve("{\"x\":{\"command\":[\"x\"],\"pass_env\":[\"A=B\"]}}", NULL,
                                     "x", &p, &err),
                     -1);
}

static void test_claude_argv(void **state)
{
    agent_profile p;
    agent_vars v = {"--help me", NULL, "work-7-a1", "0b6f3f0e-8a4c-4d5e-9f00-112233445566"};
    grove_err err = GROVE_ERR_INIT;
    char **argv = NULL, **env = NULL;
    json_t *cfg, *settings, *cmd;
    const char *hook;

    (void)state;
    assert_int_equal(profile_resolve(NULL, NULL, "claude", &p, &err), 0);
    assert_int_equal(profile_argv(&p, 0, &v, &LINK, &argv, &env, &err), 0);
    assert_null(env);
    assert_int_equal(argc_of(argv), 11);
    assert_string_equal(argv[0], "claude");
    /* the variadic options first, each ended by the next option; the prompt after "--" */
    assert_string_equal(argv[1], "--mcp-config");
    assert_string_equal(argv[3], "--allowedTools");
    assert_string_equal(argv[4], "mcp__grove");
    assert_string_equal(argv[5], "--settings");
    assert_string_equal(argv[7], "--session-id");
    assert_string_equal(argv[8], v.session_id);
    assert_string_equal(argv[9], "--");
    assert_string_equal(argv[10], "--help me");
    cfg = json_loads(argv[2], 0, NULL);
    assert_non_null(cfg);
    cmd = json_object_get(json_object_get(cfg, "mcpServers"), "grove");
    assert_string_equal(json_string_value(json_object_get(cmd, "command")), LINK.grove);
    assert_string_equal(json_string_value(json_array_get(json_object_get(cmd, "args"), 0)),
                        "serve");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(cmd, "env"), "GROVE_INSTANCE_ID")),
        "work-7-a1");
    assert_string_equal(json_string_value(json_object_get(json_object_get(cmd, "env"), "GROVE_DB")),
                        LINK.db);
    json_decref(cfg);
    /* the hooks: grove hook STATE with the path quoted for the shell that runs it */
    settings = json_loads(argv[6], 0, NULL);
    assert_non_null(settings);
    hook = json_string_value(json_object_get(
        json_array_get(
            json_object_get(
                json_array_get(json_object_get(json_object_get(settings, "hooks"), "Notification"),
                               0),
                "hooks"),
            0),
        "command"));
    assert_string_equal(hook, "'/opt/gro ve/grove' hook waiting --instance 'work-7-a1' --db "
                              "'/home/u/it'\\''s/grove.db'");
    assert_non_null(json_object_get(json_object_get(settings, "hooks"), "PreToolUse"));
    assert_non_null(json_object_get(json_object_get(settings, "hooks"), "PermissionRequest"));
    assert_non_null(json_object_get(json_object_get(settings, "hooks"), "SessionEnd"));
    json_decref(settings);
    agent_free_argv(argv);
    /* resume: --resume with the recorded id, the same connection */
    assert_int_equal(profile_argv(&p, 1, &v, &LINK, &argv, &env, &err), 0);
    assert_string_equal(argv[7], "--resume");
    assert_string_equal(argv[8], v.session_id);
    agent_free_argv(argv);
    profile_free(&p);
}

static void test_codex_and_gemini_argv(void **state)
{
    agent_profile p;
    agent_vars v = {"fix it", NULL, "work-7-a1", "sid"};
    grove_err err = GROVE_ERR_INIT;
    char **argv = NULL, **env = NULL, text[4096];
    struct stat sb;
    FILE *f;
    size_t n;
    json_t *o, *server;

    (void)state;
    assert_int_equal(profile_resolve(NULL, NULL, "codex", &p, &err), 0);
    assert_int_equal(profile_argv(&p, 0, &v, &LINK, &argv, &env, &err), 0);
    assert_int_equal(argc_of(argv), 5);
    assert_string_equal(argv[1], "-c");
    /* a TOML inline table: basic strings, \\ and \" escaped */
    assert_string_equal(argv[2],
                        "mcp_servers.grove={command=\"/opt/gro ve/grove\",args=[\"serve\"],"
                        "env={GROVE_INSTANCE_ID=\"work-7-a1\",GROVE_DB=\"/home/u/it's/grove.db\"},"
                        "default_tools_approval_mode=\"approve\",startup_timeout_sec=30}");
    assert_string_equal(argv[3], "--");
    assert_string_equal(argv[4], "fix it");
    agent_free_argv(argv);
    profile_free(&p);

    assert_int_equal(profile_resolve(NULL, NULL, "gemini", &p, &err), 0);
    assert_int_equal(profile_argv(&p, 0, &v, &LINK, &argv, &env, &err), 0);
    assert_string_equal(argv[1], "--skip-trust");
    assert_string_equal(argv[4], "--prompt-interactive=fix it");
    assert_non_null(env);
    assert_string_equal(env[0], "GEMINI_CLI_SYSTEM_DEFAULTS_PATH=/tmp/grove-test-files/"
                                "work-7-a1.gemini.json");
    assert_null(env[1]);
    assert_int_equal(stat(env[0] + strlen("GEMINI_CLI_SYSTEM_DEFAULTS_PATH="), &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    f = fopen(env[0] + strlen("GEMINI_CLI_SYSTEM_DEFAULTS_PATH="), "r");
    assert_non_null(f);
    n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[n] = '\0';
    o = json_loads(text, 0, NULL);
    server = json_object_get(json_object_get(o, "mcpServers"), "grove");
    assert_true(json_is_true(json_object_get(server, "trust")));
    assert_string_equal(json_string_value(json_object_get(server, "command")), LINK.grove);
    json_decref(o);
    profile_forget(LINK.files_dir, "work-7-a1");
    assert_int_equal(stat(env[0] + strlen("GEMINI_CLI_SYSTEM_DEFAULTS_PATH="), &sb), -1);
    agent_free_argv(argv);
    agent_free_argv(env);
    profile_free(&p);
    rmdir(LINK.files_dir);

    /* another program: its argv as given, placeholders filled */
    assert_int_equal(profile_resolve("{\"x\":{\"command\":[\"x\",\"{instance_id}:{session_id}\","
                                     "\"{prompt}\"]}}",
                                     NULL, "x", &p, &err),
                     0);
    assert_int_equal(profile_argv(&p, 0, &v, &LINK, &argv, &env, &err), 0);
    assert_int_equal(argc_of(argv), 3);
    assert_string_equal(argv[1], "work-7-a1:sid");
    assert_string_equal(argv[2], "fix it");
    assert_null(env);
    agent_free_argv(argv);
    profile_free(&p);
}

static void test_uuid(void **state)
{
    char a[37], b[37];
    size_t i;

    (void)state;
    profile_new_uuid(a);
    profile_new_uuid(b);
    assert_int_equal(strlen(a), 36);
    assert_string_not_equal(a, b);
    assert_int_equal(a[14], '4');
    assert_non_null(strchr("89ab", a[19]));
    for (i = 0; i < 36; i++)
        assert_true(i == 8 || i == 13 || i == 18 || i == 23
                        ? a[i] == '-'
                        : strchr("0123456789abcdef", a[i]) != NULL);
}

static char *clean(const char *in)
{
    grove_buf b = BUF_INIT(1 << 20);

    assert_true(output_clean(in, strlen(in), &b) >= 0);
    return b.data ? buf_take(&b) : strdup("");
}

static void test_output_clean(void **state)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"plain\ntext\n", "plain\ntext\n"},
        {"\x1b[1;31mred\x1b[0m done", "red done"}, /* CSI */
        {"\x1b]0;title\x07"
         "after",
         "after"}, /* OSC ended by BEL */
        {"\x1b]8;;http://x\x1b\\"
         "link\x1b]8;;\x1b\\",
         "link"}, /* OSC ended by ST */
        {"\x1bPqdata\x1b\\"
         "x",
         "x"}, /* DCS */
        {"a\x1b(B"
         "b\x1b=c",
         "abc"}, /* two-byte sequences */
        {"\xc2\x9b"
         "2Kcsi8",
         "csi8"},                               /* 8-bit CSI */
        {"one\r\ntwo\r\n", "one\ntwo\n"},       /* CRLF */
        {"10%\r50%\r100%\nnext", "100%\nnext"}, /* a progress bar redraws */
        {"bell\x07 bs\x08 del\x7f"
         " tab\tok",
         "bell bs del tab\tok"},
        {"caf\xc3\xa9 \xe6\x97\xa5", "caf\xc3\xa9 \xe6\x97\xa5"}, /* UTF-8 stays */
        {"cut\x1b[", "cut"},                                      /* an unfinished sequence */
        {"\x1b", ""},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *got = clean(cases[i].in);

        assert_string_equal(got, cases[i].out);
        free(got);
    }
}

static void test_output_tail(void **state)
{
    const char *text = "a\nb\n\nc\nd\n\n  \n\n";
    const char *t;
    size_t len = strlen(text);
    int n;

    (void)state;
    t = output_tail(text, &len, 2, &n);
    assert_int_equal(n, 2);
    assert_int_equal(len, 3);
    assert_memory_equal(t, "c\nd", 3);
    len = strlen(text);
    t = output_tail(text, &len, 100, &n);
    assert_int_equal(n, 5); /* a, b, the blank line, c, d */
    assert_memory_equal(t, "a\nb\n\nc\nd", len);
    len = 3;
    t = output_tail("\n\n\n", &len, 5, &n);
    assert_int_equal(n, 0);
    assert_int_equal(len, 0);
    len = 1;
    t = output_tail("x", &len, 1, &n);
    assert_int_equal(n, 1);
    assert_int_equal(len, 1);
}

static void test_notify_argv(void **state)
{
    char **argv = NULL;
    grove_err err = GROVE_ERR_INIT;

    (void)state;
    assert_int_equal(notify_argv("[\"notify-send\",\"grove: {instance_id}\",\"{state}: "
                                 "{message}\",\"{message}\"]",
                                 "work-1-a1", "waiting", "{state} $(rm -rf /)", &argv, &err),
                     0);
    assert_string_equal(argv[1], "grove: work-1-a1");
    /* one pass: a placeholder inside a value stays as it is; no shell ever sees it */
    assert_string_equal(argv[2], "waiting: {state} $(rm -rf /)");
    assert_string_equal(argv[3], "{state} $(rm -rf /)");
    assert_null(argv[4]);
    agent_free_argv(argv);
    assert_int_equal(notify_argv("[\"n\",\"{message}\"]", "i", "exited", NULL, &argv, &err), 0);
    assert_string_equal(argv[1], "");
    agent_free_argv(argv);
    assert_int_equal(notify_argv("\"notify-send\"", "i", "s", NULL, &argv, &err), -1);
    assert_non_null(strstr(err.msg, "JSON array of strings"));
    assert_int_equal(notify_argv("[\"\"]", "i", "s", NULL, &argv, &err), -1);
    assert_int_equal(notify_argv("[\"n\", 3]", "i", "s", NULL, &argv, &err), -1);
    assert_null(argv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resolve_builtins_and_errors),
        cmocka_unit_test(test_claude_argv),
        cmocka_unit_test(test_codex_and_gemini_argv),
        cmocka_unit_test(test_uuid),
        cmocka_unit_test(test_output_clean),
        cmocka_unit_test(test_output_tail),
        cmocka_unit_test(test_notify_argv),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

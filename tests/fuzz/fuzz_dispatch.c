/*
 * fuzz_dispatch: whole messages through an MCP server with a real context:
 * a scratch repository (made with libgit2) and database in a temporary
 * folder, created once per process and remade every RESET_EVERY inputs so
 * worktrees, branches and rows never pile up. No agent command, no GitHub
 * token, the GitHub API on a closed local port: nothing leaves the machine.
 *
 * Input: byte 0 picks the server: initialized with one of the protocol
 * versions or an unknown one, or not initialized (the input's own lines
 * must initialize it); the rest is split into lines like the line reader
 * does, at most MAX_LINES of them, each handed to mcp_server_handle_line.
 * Every line's output is checked with fuzz_check_output(), tool calls also
 * with check_tool_call().
 */
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <git2.h>

#include "tools/base/grove.h"
#include "mcp/server.h"
#include "tools/registry.h"
#include "tools/core/context.h"
#include "tools/git/git.h"
#include "tests/fuzz/fuzz.h"

#define RESET_EVERY 256
#define MAX_LINES   64
#define NSERVERS    6 /* initialized with versions[0..4], and one not initialized */

static char tmp[PATH_MAX];   /* the scratch folder; "" when none */
static grove_ctx *ctx;       /* on tmp/repo */
static int out_fd = -1;      /* memfd the server writes to */
static unsigned long inputs; /* since the last reset */
/* One server per state, kept from input to input (until the next reset). */
static mcp_server *servers[NSERVERS];
static const char *const versions[] = {"2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25",
                                       "1999-01-01"};

static int remove_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    remove(path);
    return 0;
}

static void teardown(void)
{
    size_t i;

    for (i = 0; i < NSERVERS; i++) {
        mcp_server_free(servers[i]);
        servers[i] = NULL;
    }
    ctx_free(ctx);
    ctx = NULL;
    if (tmp[0])
        nftw(tmp, remove_one, 16, FTW_DEPTH | FTW_PHYS);
    tmp[0] = '\0';
}

/* A fresh scratch repository, database and worktrees folder. */
static void setup(void)
{
    const char *base = getenv("TMPDIR");
    char path[PATH_MAX + 32];
    ctx_options o = {0};
    grove_err err = GROVE_ERR_INIT;

    snprintf(tmp, sizeof(tmp), "%s/grove-fuzz-XXXXXX", base && *base ? base : "/tmp");
    FUZZ_CHECK(mkdtemp(tmp) != NULL, "mkdtemp in %s failed", tmp);
    FUZZ_CHECK(gitops_make_sample(tmp, &err) == 0, "gitops_make_sample: %s", err.msg);
    setenv("HOME", tmp, 1);
    setenv("TMUX_TMPDIR", tmp, 1);
    snprintf(path, sizeof(path), "%s/worktrees", tmp);
    setenv("GROVE_WORKTREES", path, 1);
    snprintf(path, sizeof(path), "%s/grove.db", tmp);
    setenv("GROVE_DB", path, 1);
    snprintf(path, sizeof(path), "%s/repo", tmp);
    o.repo = path;
    o.migrate = 1;
    FUZZ_CHECK(ctx_open(&ctx, &o, &err) == 0, "ctx_open: %s", err.msg);
    inputs = 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static const char *const unset[] = {
        "GROVE_AGENT_COMMAND", "GROVE_INSTANCE_ID", "GROVE_REPO",        "GROVE_BRANCH_PREFIX",
        "GITHUB_TOKEN",        "GH_TOKEN",          "GITHUB_REPOSITORY", "GROVE_TOOLS_PAGE_SIZE",
    };
    size_t i;

    if (out_fd >= 0)
        return 0;
    for (i = 0; i < sizeof(unset) / sizeof(unset[0]); i++)
        unsetenv(unset[i]);
    setenv("GITHUB_API_URL", "http://127.0.0.1:9", 1); /* never reached: no token */
    setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
    setenv("GROVE_LOG", "error", 0);
    grove_log_init();
    git_libgit2_init();
    out_fd = fuzz_memfd("dispatch-out");
    setup();
    atexit(teardown);
    return 0;
}

/* 1 when a string anywhere in v holds a NUL character. */
static int has_nul(const json_t *v)
{
    const char *key;
    json_t *child;
    size_t i;

    if (json_is_string(v))
        return strlen(json_string_value(v)) != json_string_length(v);
    json_array_foreach(v, i, child)
    {
        if (has_nul(child))
            return 1;
    }
    json_object_foreach((json_t *)v, key, child)
    {
        if (has_nul(child))
            return 1;
    }
    return 0;
}

/*
 * What the generic oracle does not know about tools/call (an initialized server, one request
 * per line): a tool name with a NUL in it names no tool (error -32602), and arguments holding a
 * NUL never reach a handler, which would read its C strings cut short (never a success).
 */
static void check_tool_call(const char *line, size_t len, const char *out, size_t outlen)
{
    json_t *msg = json_loadb(line, len, JSON_ALLOW_NUL, NULL), *resp = NULL, *params, *name;
    const char *last;
    int nul_name, nul_args;

    params = json_object_get(msg, "params");
    name = json_object_get(params, "name");
    if (!json_is_string(json_object_get(msg, "method")) ||
        strcmp(json_string_value(json_object_get(msg, "method")), "tools/call") != 0 ||
        json_string_length(json_object_get(msg, "method")) != 10 || outlen == 0)
        goto done;
    nul_name = json_is_string(name) && strlen(json_string_value(name)) != json_string_length(name);
    nul_args = has_nul(json_object_get(params, "arguments"));
    if (!nul_name && !nul_args)
        goto done;
    for (last = out + outlen - 1; last > out && last[-1] != '\n'; last--)
        ;
    resp = json_loadb(last, (size_t)(out + outlen - last), JSON_ALLOW_NUL, NULL);
    if (!json_is_object(resp) || json_object_get(resp, "method"))
        goto done;
    if (nul_name) {
        json_int_t code =
            json_integer_value(json_object_get(json_object_get(resp, "error"), "code"));

        /* -32600: not initialized, or a broken envelope */
        FUZZ_CHECK(code == -32602 || code == -32600,
                   "a tool name with a NUL reached a tool: %.300s", out);
    } else {
        FUZZ_CHECK(!json_is_false(json_object_get(json_object_get(resp, "result"), "isError")),
                   "arguments holding a NUL reached a handler: %.300s", out);
    }
done:
    json_decref(resp);
    json_decref(msg);
}

/* One line through the server; checks its output. */
static void one_line(mcp_server *s, const char *line, size_t len)
{
    fuzz_owed_kind owed;
    json_t *id = NULL;
    char *out;
    size_t outlen;

    owed = fuzz_owed(line, len, &id);
    FUZZ_CHECK(mcp_server_handle_line(s, line, len) == 0, "handle_line failed on a memfd");
    out = fuzz_take(out_fd, &outlen);
    fuzz_check_output(out, outlen, owed, id, line, len);
    if (owed == OWED_RESPONSE && id)
        check_tool_call(line, len, out, outlen);
    free(out);
    json_decref(id);
}

/* servers[i], made (and initialized with versions[i]) if need be. */
static mcp_server *server(int i)
{
    mcp_options o = {0};
    grove_err err = GROVE_ERR_INIT;
    char init[256];

    if (servers[i])
        return servers[i];
    o.tools = tools_table();
    o.out_fd = out_fd;
    o.ctx = ctx;
    FUZZ_CHECK(mcp_server_new(&servers[i], &o, &err) == 0, "mcp_server_new: %s", err.msg);
    if (i < NSERVERS - 1) {
        snprintf(init, sizeof(init),
                 "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":{"
                 "\"protocolVersion\":\"%s\",\"capabilities\":{},"
                 "\"clientInfo\":{\"name\":\"fuzz\",\"version\":\"1\"}}}",
                 versions[i]);
        one_line(servers[i], init, strlen(init));
        FUZZ_CHECK(mcp_server_version(servers[i]) != MCP_V_NONE, "initialize did not initialize");
        snprintf(init, sizeof(init), "%s",
                 "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}");
        one_line(servers[i], init, strlen(init));
    }
    return servers[i];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mcp_server *s;
    const char *p, *end;
    char *copy;
    size_t n = 0;
    int which;

    LLVMFuzzerInitialize(NULL, NULL);
    if (size < 1)
        return 0;
    if (inputs++ >= RESET_EVERY) {
        teardown();
        setup();
    }
    which = data[0] % NSERVERS;
    s = server(which);
    /* A copy, so every line can be NUL-terminated in place like the reader's. */
    copy = malloc(size);
    FUZZ_CHECK(copy != NULL, "out of memory");
    memcpy(copy, data + 1, size - 1);
    copy[size - 1] = '\0';
    for (p = copy, end = copy + size - 1; p < end && n < MAX_LINES; n++) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);

        if (len > 0 && p[len - 1] == '\r')
            len--;
        ((char *)p)[len] = '\0';
        one_line(s, p, len);
        p = nl ? nl + 1 : end;
    }
    free(copy);
    if (which == NSERVERS - 1 && mcp_server_version(s) != MCP_V_NONE) {
        /* The input initialized it: the next input gets a fresh one. */
        mcp_server_free(s);
        servers[which] = NULL;
    }
    return 0;
}

/*
 * grove: the program's entry point. One static table maps command names to
 * functions; `serve` is here, the others are in tools/cli/cli.c.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tools/cli/args.h"
#include "tools/base/grove.h"
#include "mcp/server.h"
#include "tools/cli/cli.h"
#include "tools/core/context.h"
#include "tools/registry.h"
#include "tools/resources.h"
#include "tools/git/git.h"

#ifndef GROVE_VERSION
#define GROVE_VERSION "0.1.0"
#endif

/*
 * SQLite's page cache of the `grove serve` connection, in KiB (set after
 * the migrations, which keep the default). The default, 2000 KiB, fills up
 * with the pages that checkpoints and events are appended to, whatever the
 * queries need, and was half of the server's private memory. The benchmark's
 * queries (10,000 instances, 1,000,000 events) re-read no page at 384 KiB
 * and re-read every page of query_instances {status: running} at 256 KiB:
 * 512 KiB keeps twice that working set.
 */
#define SERVE_CACHE_KIB 512

/* What `grove serve` opens on its first tool call (mcp_options.open_ctx). */
typedef struct serve_state {
    ctx_options o;
    grove_ctx *ctx; /* owned */
    int git_init;   /* gitops_lib_init() succeeded */
} serve_state;

static struct grove_ctx *serve_open_ctx(void *arg, const char *const *roots, grove_err *err)
{
    serve_state *st = arg;
    grove_err dberr = GROVE_ERR_INIT;
    ctx_options o;
    size_t i;

    /* Most of a cold start (loading libgit2; with mbedTLS it parses the CA bundle): not before it
     * is needed. */
    if (gitops_lib_init(err) != 0)
        return NULL;
    st->git_init = 1;
    /* The CA bundle libgit2 parsed is loaded again by the first https push. */
    if (gitops_tls_release())
        log_debug("released libgit2's CA certificates until an https push");
    /* the client's first root in a git working tree, else the working directory */
    o = st->o;
    for (i = 0; roots && roots[i] && !o.repo; i++)
        if (gitops_in_worktree(roots[i]))
            o.repo = roots[i];
    if (ctx_open(&st->ctx, &o, err) != 0)
        return NULL;
    if (db_set_cache_kib(st->ctx->db, SERVE_CACHE_KIB, &dberr) != 0)
        log_warn("%s", dberr.msg);
    return st->ctx;
}

static int cmd_serve(int argc, char **argv)
{
    static const arg_flag flags[] = {{"repo", 1}, {"db", 1}, {NULL, 0}};
    serve_state st;
    mcp_server *s = NULL;
    mcp_options mo = {0};
    grove_err err = GROVE_ERR_INIT;
    const char *page;
    sigset_t set;
    args a;
    int rc;

    if ((rc = args_parse(&a, "serve", flags, argc, argv)) != 0)
        return rc;
    if (a.help) {
        printf("usage: grove serve [--repo DIR] [--db FILE]\n\n"
               "Runs the MCP server on stdin/stdout (newline-delimited JSON-RPC 2.0).\n"
               "Logs go to stderr (GROVE_LOG=debug|info|warn|error).\n");
        return 0;
    }
    if (a.npos > 0) {
        fprintf(stderr, "grove serve: unexpected argument '%s'\n", a.pos[0]);
        return 2;
    }
    /* SIGTERM/SIGINT are read through a signalfd by the serve loop. */
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigprocmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* Past RLIMIT_FSIZE a write fails with EFBIG (reported like a full disk) instead of killing. */
    signal(SIGXFSZ, SIG_IGN);

    memset(&st, 0, sizeof(st));
    st.o.repo = args_get(&a, flags, "repo");
    st.o.db = args_get(&a, flags, "db");
    st.o.migrate = 1;
    /*
     * The repository and the database are opened on the first tool call, so
     * that start and initialize stay cheap. If that fails the server keeps
     * serving: the client gets the reason with every tool call.
     */
    mo.open_ctx = serve_open_ctx;
    /* no repository given: the client's roots say which (contract §8) */
    mo.ask_roots = !st.o.repo && !(getenv("GROVE_REPO") && *getenv("GROVE_REPO")) &&
                   !(getenv("CLAUDE_PROJECT_DIR") && *getenv("CLAUDE_PROJECT_DIR"));
    mo.open_arg = &st;
    mo.tools = tools_table();
    mo.resources = resources_table();
    mo.out_fd = STDOUT_FILENO;
    page = getenv("GROVE_TOOLS_PAGE_SIZE");
    mo.tools_page_size = page ? (size_t)strtoul(page, NULL, 10) : 0;
    page = getenv("GROVE_TEST_CANCEL_WAIT_MS");
    mo.cancel_wait_ms = page ? atoi(page) : 0;
    page = getenv("GROVE_PROMPTS_PAGE_SIZE");
    mo.prompts_page_size = page ? (size_t)strtoul(page, NULL, 10) : 0;
    if (mcp_server_new(&s, &mo, &err) != 0) {
        log_error("%s", err.msg);
        return 1;
    }
    rc = mcp_serve(s, STDIN_FILENO);
    mcp_server_free(s);
    ctx_free(st.ctx);
    if (st.git_init)
        gitops_lib_shutdown();
    return rc;
}

/* grove call, with grove's tools. */
static int cmd_call_tools(int argc, char **argv)
{
    return cmd_call(tools_table(), argc, argv);
}

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"serve", cmd_serve, "MCP server on stdin/stdout"},
    {"demo", cmd_demo, "a self-contained tour through a temporary repository"},
    {"init", cmd_init, "create the database; print repo, database and worktree paths"},
    {"ls", cmd_ls, "list instances (running; --all for every one)"},
    {"show", cmd_show, "one instance with relationships, checkpoint and events"},
    {"watch", cmd_watch, "live view of every instance, waiting ones first (keys: attach, output)"},
    {"attach", cmd_attach, "attach the terminal to an instance's tmux session"},
    {"migrate", cmd_migrate, "schema migrations: status, apply, rollback"},
    {"export", cmd_export, "export every table (jsonl or csv)"},
    {"import", cmd_import, "import a jsonl export into an empty database"},
    {"stats", cmd_stats, "tool success rates, recent failures, stale checkpoints"},
    {"gc", cmd_gc, "reconcile dead agents, orphan worktrees and rows"},
    {"config", cmd_config, "get, set or list settings"},
    {"call", cmd_call_tools, "run one tool from a script; print its result as JSON"},
    {"hook", cmd_hook, "record an agent's state (run by its hooks)"},
    {"resume", cmd_resume, "relaunch agents in their worktrees (ID, or --all)"},
    {"exec-env", cmd_exec_env, "internal: start an agent with the credentials it may see"},
};

static void usage(FILE *f)
{
    size_t i;

    fprintf(f, "usage: grove COMMAND [OPTIONS]\n\n"
               "grove: an MCP server that runs parallel coding agents in git worktrees.\n\n"
               "commands:\n");
    for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(f, "  %-8s  %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n'grove COMMAND --help' shows a command's options; 'grove --version' the "
               "version.\n");
}

int main(int argc, char **argv)
{
    size_t i;
    int rc;

    if (grove_log_init() != 0)
        fprintf(stderr, "grove: warning: GROVE_LOG must be debug, info, warn or error; using "
                        "warn\n");
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
        printf("grove %s\n", GROVE_VERSION);
        return 0;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(argv[1], commands[i].name) == 0) {
            /* serve initialises libgit2 when needed; hook only when it must notify */
            int lazy = commands[i].run == cmd_serve || commands[i].run == cmd_hook ||
                       commands[i].run == cmd_exec_env;
            grove_err err = GROVE_ERR_INIT;

            if (!lazy && gitops_lib_init(&err) != 0) {
                fprintf(stderr, "grove %s: %s\n", commands[i].name, err.msg);
                return 1;
            }
            rc = commands[i].run(argc - 2, argv + 2);
            if (!lazy)
                gitops_lib_shutdown();
            return rc;
        }
    }
    fprintf(stderr, "grove: unknown command '%s' (see 'grove --help')\n", argv[1]);
    return 2;
}

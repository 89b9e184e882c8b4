/*
 * grove demo: a self-contained tour. Makes a temporary repository with a bare
 * origin, starts `grove serve` on it as a child process, drives it over stdio
 * like an MCP client would, then prints what the database recorded.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "db/queries.h"
#include "tools/cli/args.h"
#include "tools/base/io.h"
#include "tools/cli/cli.h"
#include "tools/core/context.h"
#include "tools/core/instance.h"

extern char **environ;

typedef struct client {
    pid_t pid;
    int to_server;    /* write end of the child's stdin */
    int from_server;  /* read end of the child's stdout */
    io_reader *lines; /* owned */
    int next_id;
} client;

/* Starts `grove serve --repo REPO` with a clean grove environment. */
static int client_start(client *c, const char *repo)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    int in[2], out[2];
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t none;
    char **env = NULL;
    size_t i, k = 0, count = 0;
    char *argv[5];
    static char log_level[] = "GROVE_LOG=warn", serve[] = "serve", repo_flag[] = "--repo";
    /* The demo's "agent": whatever is typed into its session lands in .agent-input. */
    static char agent_command[] = "GROVE_AGENT_COMMAND=[\"sh\",\"-c\",\"cat > .agent-input\"]";
    int rc;

    if (n <= 0)
        return -1;
    self[n] = '\0';
    if (pipe2(in, O_CLOEXEC) != 0)
        return -1;
    if (pipe2(out, O_CLOEXEC) != 0) {
        close(in[0]);
        close(in[1]);
        return -1;
    }
    while (environ[count])
        count++;
    env = calloc(count + 3, sizeof(*env));
    if (!env)
        return -1;
    for (i = 0; i < count; i++)
        if (strncmp(environ[i], "GROVE_", 6) != 0)
            env[k++] = environ[i];
    env[k++] = log_level;
    env[k++] = agent_command;
    argv[0] = self;
    argv[1] = serve;
    argv[2] = repo_flag;
    argv[3] = (char *)repo;
    argv[4] = NULL;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&fa, out[1], STDOUT_FILENO);
    posix_spawnattr_init(&attr);
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
    rc = posix_spawn(&c->pid, self, &fa, &attr, argv, env);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    free(env);
    close(in[0]);
    close(out[1]);
    c->to_server = in[1];
    c->from_server = out[0];
    if (rc != 0 || io_reader_new(&c->lines, c->from_server, MCP_MAX_MESSAGE) != 0) {
        close(in[1]);
        close(out[0]);
        return -1;
    }
    return 0;
}

/* Closes stdin and waits for the server; returns its exit status. */
static int client_stop(client *c)
{
    int status = 0;

    close(c->to_server);
    waitpid(c->pid, &status, 0);
    close(c->from_server);
    io_reader_free(c->lines);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* The next message from the server (new reference), or NULL at EOF. */
static json_t *client_read(client *c)
{
    for (;;) {
        const char *line;
        size_t len;
        line_status st = io_reader_next(c->lines, &line, &len);

        if (st == LINE_READY)
            return json_loadb(line, len, 0, NULL);
        if (st == LINE_EOF || st == LINE_TOOBIG)
            return NULL;
        if (io_reader_fill(c->lines) < 0 && errno != EINTR)
            return NULL;
    }
}

/* Sends a request and returns its response's "result" or "error" (new reference). */
static json_t *client_request(client *c, const char *method, json_t *params, int show_progress)
{
    json_t *msg = json_pack("{s:s, s:i, s:s, s:o}", "jsonrpc", "2.0", "id", ++c->next_id, "method",
                            method, "params", params);
    char *text = json_dumps(msg, JSON_COMPACT);
    json_t *resp = NULL;

    json_decref(msg);
    if (!text || io_write_all(c->to_server, text, strlen(text)) != 0 ||
        io_write_all(c->to_server, "\n", 1) != 0) {
        free(text);
        return NULL;
    }
    free(text);
    while ((resp = client_read(c)) != NULL) {
        json_t *id = json_object_get(resp, "id");

        if (!id && show_progress) {
            json_t *p = json_object_get(resp, "params");

            printf("    progress %g/%g: %s\n", json_number_value(json_object_get(p, "progress")),
                   json_number_value(json_object_get(p, "total")),
                   json_string_value(json_object_get(p, "message")));
        }
        if (json_is_integer(id) && json_integer_value(id) == c->next_id) {
            json_t *r = json_object_get(resp, "result");
            json_t *out = json_incref(r ? r : json_object_get(resp, "error"));

            json_decref(resp);
            return out;
        }
        json_decref(resp);
    }
    return NULL;
}

/*
 * Calls a tool, prints a one-line account, returns structuredContent (new
 * reference) or NULL when the tool reported an error (printed).
 */
static json_t *call_tool(client *c, const char *tool, json_t *arguments)
{
    char *shown = json_dumps(arguments, JSON_COMPACT);
    json_t *r, *sc;

    printf("\n> %s %s\n", tool, shown ? shown : "");
    free(shown);
    r = client_request(c, "tools/call",
                       json_pack("{s:s, s:o, s:{s:s}}", "name", tool, "arguments", arguments,
                                 "_meta", "progressToken", tool),
                       1);
    if (!r) {
        printf("  ! no response from the server\n");
        return NULL;
    }
    if (json_is_true(json_object_get(r, "isError")) || !json_object_get(r, "content")) {
        const char *text = json_string_value(
            json_object_get(json_array_get(json_object_get(r, "content"), 0), "text"));

        printf("  ! %s\n", text ? text : json_string_value(json_object_get(r, "message")));
        json_decref(r);
        return NULL;
    }
    sc = json_incref(json_object_get(r, "structuredContent"));
    json_decref(r);
    {
        char *text = json_dumps(sc, JSON_INDENT(2));

        if (text) {
            char *line = strtok(text, "\n");

            while (line) {
                printf("  %s\n", line);
                line = strtok(NULL, "\n");
            }
        }
        free(text);
    }
    return sc;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* Writes `text` to <wt>/<file> and commits it as the agent would; prints what it did. */
static void agent_commits(const char *wt, const char *file, const char *text, const char *message)
{
    char path[PATH_MAX + 64];
    grove_err err = GROVE_ERR_INIT;
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", wt, file);
    if (!(f = fopen(path, "w"))) {
        printf("  ! cannot write %s: %s\n", path, strerror(errno));
        return;
    }
    fputs(text, f);
    fclose(f);
    if (gitops_commit_all(wt, message, &err) != 0)
        printf("  ! %s\n", err.msg);
    else
        printf("\n(an agent committed \"%s\" in %s)\n", message, wt);
}

/*
 * Act two: two agents change the same file in different places. grove sees
 * the overlap before anyone merges, lands the first into main (the sample's
 * checkout follows), brings main's new head into the second, and lands it
 * too. 0 when every step did what it should.
 */
static int two_agents(client *c)
{
    char a[128] = "", b[128] = "", wa[PATH_MAX] = "", wb[PATH_MAX] = "";
    json_t *r;
    int ok = 1;

    printf("\n(two agents now work on README.md at the same time)\n");
    for (int k = 0; k < 2; k++) {
        r = call_tool(
            c, "spawn_work_instance",
            json_pack("{s:i, s:s, s:b}", "issue", 2 + k, "prompt",
                      k ? "Add a usage section to the README." : "Give the README a better title.",
                      "launch", 0));
        if (!r)
            return -1;
        snprintf(k ? b : a, sizeof(a), "%s",
                 json_string_value(json_object_get(json_object_get(r, "instance"), "id")));
        snprintf(
            k ? wb : wa, sizeof(wa), "%s",
            json_string_value(json_object_get(json_object_get(r, "instance"), "worktree_path")));
        json_decref(r);
    }
    agent_commits(wa, "README.md",
                  "# sample: greets you by name\n\nA project for the grove demo.\n",
                  "README: a better title");
    agent_commits(wb, "README.md",
                  "# sample\n\nA project for the grove demo.\n\n## Usage\n\n    make && ./greet\n",
                  "README: usage");
    printf("\n(both changed README.md: get_conflicts sees it before anyone merges)");
    r = call_tool(c, "get_conflicts", json_object());
    ok &= r && json_array_size(json_object_get(r, "pairs")) == 1;
    json_decref(r);
    printf("\n(different lines, so no conflict: land the first into main, squashed)");
    r = call_tool(c, "land_instance",
                  json_pack("{s:s, s:s}", "instance_id", a, "message", "README: a better title"));
    ok &= r && json_is_true(json_object_get(r, "landed"));
    json_decref(r);
    printf("\n(main moved on: bring it into the second instance)");
    r = call_tool(c, "sync_instance", json_pack("{s:s}", "instance_id", b));
    ok &= r && json_is_true(json_object_get(r, "synced"));
    json_decref(r);
    r = call_tool(c, "land_instance",
                  json_pack("{s:s, s:s, s:b}", "instance_id", b, "message", "README: usage",
                            "remove_worktree", 1));
    ok &= r && json_is_true(json_object_get(r, "landed"));
    json_decref(r);
    printf("\n(the first instance's work is in main now: its worktree and branch can go)");
    r = call_tool(c, "terminate_instance",
                  json_pack("{s:s, s:b}", "instance_id", a, "remove_worktree", 1));
    ok &= r && json_is_true(json_object_get(r, "worktree_removed"));
    json_decref(r);
    return ok ? 0 : -1;
}

static int tour(const char *dir, const char *repo)
{
    client c = {0};
    json_t *r, *inst;
    char id[128] = "", review[128] = "", wt[PATH_MAX] = "";
    grove_err err = GROVE_ERR_INIT;
    int status, failed = 0;

    printf("grove demo in %s\n\n", dir);
    if (gitops_make_sample(dir, &err) != 0) {
        fprintf(stderr, "grove demo: %s\n", err.msg);
        return 1;
    }
    printf("made a sample repository %s (origin: %s/origin.git)\n", repo, dir);
    if (client_start(&c, repo) != 0) {
        fprintf(stderr, "grove demo: cannot start 'grove serve': %s\n", strerror(errno));
        return 1;
    }
    printf("started 'grove serve --repo %s' as pid %d\n", repo, (int)c.pid);

    r = client_request(&c, "initialize",
                       json_pack("{s:s, s:{}, s:{s:s, s:s}}", "protocolVersion", "2025-11-25",
                                 "capabilities", "clientInfo", "name", "grove-demo", "version",
                                 "1"),
                       0);
    if (!r || !json_object_get(r, "protocolVersion")) {
        fprintf(stderr, "grove demo: initialize failed\n");
        json_decref(r);
        client_stop(&c);
        return 1;
    }
    printf("initialized: protocol %s, server %s %s\n",
           json_string_value(json_object_get(r, "protocolVersion")),
           json_string_value(json_object_get(json_object_get(r, "serverInfo"), "name")),
           json_string_value(json_object_get(json_object_get(r, "serverInfo"), "version")));
    json_decref(r);
    {
        static const char initialized[] =
            "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n";

        io_write_all(c.to_server, initialized, sizeof(initialized) - 1);
    }
    r = client_request(&c, "tools/list", json_object(), 0);
    printf("tools/list: %zu tools\n", json_array_size(json_object_get(r, "tools")));
    json_decref(r);

    r = call_tool(
        &c, "spawn_work_instance",
        json_pack("{s:i, s:s}", "issue", 1, "prompt", "Make greet print the user's name."));
    inst = json_object_get(r, "instance");
    if (!inst) {
        json_decref(r);
        client_stop(&c);
        return 1;
    }
    snprintf(id, sizeof(id), "%s", json_string_value(json_object_get(inst, "id")));
    snprintf(wt, sizeof(wt), "%s", json_string_value(json_object_get(inst, "worktree_path")));
    json_decref(r);

    json_decref(
        call_tool(&c, "log_checkpoint",
                  json_pack("{s:s, s:s, s:s, s:s, s:{s:[s,s]}}", "instance_id", id, "phase", "plan",
                            "status", "completed", "message", "read greet.c; change the greeting",
                            "data", "files", "src/greet.c", "README.md")));
    /* The "agent" does some work in its worktree. */
    {
        char path[PATH_MAX + 32];
        FILE *f;

        snprintf(path, sizeof(path), "%s/src/greet.c", wt);
        f = fopen(path, "w");
        if (f) {
            fputs("#include <stdio.h>\n#include <stdlib.h>\n\nint main(void)\n{\n"
                  "    const char *name = getenv(\"USER\");\n\n"
                  "    printf(\"hello, %s\\n\", name ? name : \"world\");\n    return 0;\n}\n",
                  f);
            fclose(f);
        }
        if (gitops_commit_all(wt, "greet: say the user's name", &err) != 0)
            printf("  ! %s\n", err.msg);
        else
            printf("\n(the agent committed a change in %s)\n", wt);
    }
    json_decref(call_tool(&c, "log_checkpoint",
                          json_pack("{s:s, s:s, s:s}", "instance_id", id, "phase", "implement",
                                    "status", "completed")));
    json_decref(call_tool(&c, "get_checkpoint", json_pack("{s:s}", "instance_id", id)));
    json_decref(call_tool(&c, "get_instance", json_pack("{s:s}", "instance_id", id)));
    r = call_tool(&c, "spawn_review_instance", json_pack("{s:s}", "work_instance_id", id));
    if (r)
        snprintf(review, sizeof(review), "%s",
                 json_string_value(json_object_get(json_object_get(r, "instance"), "id")));
    json_decref(r);
    json_decref(call_tool(&c, "send_feedback",
                          json_pack("{s:s, s:s, s:s, s:s}", "instance_id", id, "feedback_type",
                                    "suggestions", "priority", "high", "feedback",
                                    "Handle an empty $USER too; tests?")));
    /* What the work instance's agent received in its session. */
    {
        char path[PATH_MAX + 32], buf[512];
        size_t n = 0;
        int tries;

        snprintf(path, sizeof(path), "%s/.agent-input", wt);
        for (tries = 0; tries < 100 && n == 0; tries++) {
            FILE *f = fopen(path, "r");

            if (f) {
                n = fread(buf, 1, sizeof(buf) - 1, f);
                fclose(f);
            }
            if (n == 0)
                usleep(20000);
        }
        buf[n] = '\0';
        if (n)
            printf("\n(the work instance's agent received: %s)", buf);
    }
    json_decref(call_tool(&c, "get_instance", json_pack("{s:s}", "instance_id", review)));
    json_decref(call_tool(&c, "terminate_instance",
                          json_pack("{s:s, s:b}", "instance_id", review, "remove_worktree", 1)));
    printf("\n(removing the work instance's worktree now would lose its unpushed commit:)");
    json_decref(call_tool(&c, "terminate_instance",
                          json_pack("{s:s, s:b}", "instance_id", id, "remove_worktree", 1)));
    printf("\n(so push it: the origin is a local bare repository, no forge, so no pull "
           "request is opened)");
    r = call_tool(&c, "create_pull_request",
                  json_pack("{s:s, s:s, s:s}", "instance_id", id, "title",
                            "greet: say the user's name", "description",
                            "Prints $USER, or 'world' when it is unset."));
    if (r)
        printf("\n(pushed branch '%s' at %.12s to origin)\n",
               json_string_value(json_object_get(r, "branch_name")),
               json_string_value(json_object_get(r, "head_commit")));
    json_decref(r);
    json_decref(call_tool(&c, "terminate_instance",
                          json_pack("{s:s, s:b}", "instance_id", id, "remove_worktree", 1)));
    if (two_agents(&c) != 0) {
        printf("  ! the two-agent part of the tour failed\n");
        failed = 1;
    }
    json_decref(call_tool(&c, "query_instances", json_object()));

    status = client_stop(&c);
    printf("\n'grove serve' exited with status %d\n", status);
    return status == 0 && !failed ? 0 : 1;
}

/* What the database recorded, read directly. */
static int report(const char *repo)
{
    ctx_options o = {0};
    grove_ctx *ctx = NULL;
    grove_err err = GROVE_ERR_INIT;
    db_instance_filter f = {0};
    db_event_filter ef = {0};
    grove_instance_list list = {0};
    grove_event_list events = {0};
    size_t i, k;

    o.repo = repo;
    if (ctx_open(&ctx, &o, &err) != 0) {
        fprintf(stderr, "grove demo: %s\n", err.msg);
        return 1;
    }
    f.limit = 500;
    ef.success = -1;
    ef.limit = 100;
    if (db_instance_list(ctx->db, &f, &list, &err) != 0 ||
        db_event_list(ctx->db, &ef, &events, &err) != 0) {
        fprintf(stderr, "grove demo: %s\n", err.msg);
        db_instance_list_free(&list);
        ctx_free(ctx);
        return 1;
    }
    printf("\nthe database (%s) now holds:\n\ninstances:\n", ctx->db_path);
    for (i = 0; i < list.n; i++) {
        const grove_instance *v = &list.v[i];
        grove_relationship_list rels = {0};

        printf("  %-16s %-8s %-10s %s\n", v->id, v->type, v->status, v->branch_name);
        if (db_relationships(ctx->db, v->id, &rels, &err) == 0)
            for (k = 0; k < rels.n; k++)
                if (strcmp(rels.v[k].parent_instance, v->id) == 0)
                    printf("    relationship: %s -> %s (%s)\n", rels.v[k].parent_instance,
                           rels.v[k].child_instance, rels.v[k].relationship_type);
        db_relationship_list_free(&rels);
    }
    printf("\nevents (newest first):\n");
    for (i = 0; i < events.n; i++)
        printf("  %s  %-22s %-6s %s\n", events.v[i].timestamp, events.v[i].tool_name,
               events.v[i].success ? "ok" : "failed",
               events.v[i].error_message ? events.v[i].error_message : "");
    db_instance_list_free(&list);
    db_event_list_free(&events);
    ctx_free(ctx);
    return 0;
}

int cmd_demo(int argc, char **argv)
{
    static const arg_flag flags[] = {{"keep", 0}, {NULL, 0}};
    char dir[] = "/tmp/grove-demo-XXXXXX";
    char repo[sizeof(dir) + 8];
    args a;
    int rc;

    if ((rc = args_parse(&a, "demo", flags, argc, argv)) != 0)
        return rc;
    if (a.help) {
        printf("usage: grove demo [--keep]\n\n"
               "A self-contained tour: makes a temporary repository with a bare origin,\n"
               "starts 'grove serve' on it and drives it over stdio through a full flow,\n"
               "then prints what the database recorded. --keep leaves the folder behind.\n");
        return 0;
    }
    if (a.npos) {
        fprintf(stderr, "grove demo: unexpected argument '%s'\n", a.pos[0]);
        return 2;
    }
    if (!mkdtemp(dir)) {
        fprintf(stderr, "grove demo: cannot make a temporary folder: %s\n", strerror(errno));
        return 1;
    }
    snprintf(repo, sizeof(repo), "%s/repo", dir);
    rc = tour(dir, repo);
    if (rc == 0)
        rc = report(repo);
    if (args_get(&a, flags, "keep"))
        printf("\nkept %s\n", dir);
    else
        nftw(dir, rm_entry, 32, FTW_DEPTH | FTW_PHYS);
    return rc;
}

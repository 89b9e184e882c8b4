#include "tools/cli/cli.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "db/migrate.h"
#include "db/queries.h"
#include "tools/cli/args.h"
#include "tools/agents/agent.h"
#include "tools/core/context.h"
#include "tools/core/instance.h"
#include "tools/cli/report.h"
#include "tools/base/secret.h"

/* Opens the context for a command; prints the error and returns NULL on failure. */
grove_ctx *cli_open_ctx(const char *cmd, const args *a, const arg_flag *flags, int migrate)
{
    ctx_options o = {0};
    grove_ctx *ctx = NULL;
    grove_err err = GROVE_ERR_INIT;

    o.repo = args_get(a, flags, "repo");
    o.db = args_get(a, flags, "db");
    o.migrate = migrate;
    if (ctx_open(&ctx, &o, &err) != 0) {
        fprintf(stderr, "grove %s: %s\n", cmd, err.msg);
        return NULL;
    }
    return ctx;
}

void cli_print_json(const json_t *v)
{
    char *s = json_dumps(v, JSON_INDENT(2));

    if (s)
        puts(s);
    free(s);
}

const char *cli_str_or(const json_t *obj, const char *key, const char *dflt)
{
    const char *s = jstr(obj, key);

    return s ? s : dflt;
}

int cmd_init(int argc, char **argv)
{
    static const arg_flag flags[] = {{"repo", 1}, {"db", 1}, {NULL, 0}};
    grove_ctx *ctx;
    args a;
    int rc;

    if ((rc = args_parse(&a, "init", flags, argc, argv)) != 0)
        return rc;
    if (a.help) {
        printf("usage: grove init [--repo DIR] [--db FILE]\n\n"
               "Creates the database (mode 0600, folder 0700) and applies migrations.\n");
        return 0;
    }
    if (a.npos) {
        fprintf(stderr, "grove init: unexpected argument '%s'\n", a.pos[0]);
        return 2;
    }
    ctx = cli_open_ctx("init", &a, flags, 1);
    if (!ctx)
        return 1;
    printf("repo:      %s\ndatabase:  %s\nworktrees: %s\nschema:    version %d\n",
           gitops_workdir(ctx->repo), ctx->db_path, ctx->worktrees_base, migrate_latest());
    ctx_free(ctx);
    return 0;
}

/* Every instance matching (status filter) into one array. */
static int all_instances(grove_ctx *ctx, const char *status, json_t **out, grove_err *err)
{
    db_instance_filter f = {0};
    json_t *all = json_array();
    char *cursor = NULL;

    f.status = status;
    f.limit = 500;
    do {
        json_t *page = NULL;
        char *next = NULL;

        f.cursor = cursor;
        if (db_instance_list(ctx->db, &f, &page, &next, err) != 0) {
            free(cursor);
            json_decref(all);
            return -1;
        }
        json_array_extend(all, page);
        json_decref(page);
        free(cursor);
        cursor = next;
    } while (cursor);
    *out = all;
    return 0;
}

static void issue_text(const json_t *inst, char *buf, size_t len)
{
    const json_t *issue = json_object_get(inst, "issue");

    if (json_is_integer(issue))
        snprintf(buf, len, "#%lld", (long long)json_integer_value(issue));
    else if (json_is_string(issue))
        snprintf(buf, len, "%s", json_string_value(issue));
    else
        snprintf(buf, len, "-");
}

int cmd_ls(int argc, char **argv)
{
    static const arg_flag flags[] = {{"repo", 1}, {"db", 1}, {"all", 0}, {"json", 0}, {NULL, 0}};
    grove_ctx *ctx;
    json_t *list = NULL, *inst;
    grove_err err = GROVE_ERR_INIT;
    size_t i;
    args a;
    int rc;

    if ((rc = args_parse(&a, "ls", flags, argc, argv)) != 0)
        return rc;
    if (a.help) {
        printf("usage: grove ls [--all] [--json] [--repo DIR] [--db FILE]\n\n"
               "Lists running instances; --all includes terminated ones.\n");
        return 0;
    }
    if (a.npos) {
        fprintf(stderr, "grove ls: unexpected argument '%s'\n", a.pos[0]);
        return 2;
    }
    ctx = cli_open_ctx("ls", &a, flags, 1);
    if (!ctx)
        return 1;
    if (instances_reconcile(ctx, NULL, &err) != 0)
        fprintf(stderr, "grove ls: warning: liveness not checked: %s\n", err.msg);
    if (all_instances(ctx, args_get(&a, flags, "all") ? NULL : "running", &list, &err) != 0) {
        fprintf(stderr, "grove ls: %s\n", err.msg);
        ctx_free(ctx);
        return 1;
    }
    if (args_get(&a, flags, "json")) {
        cli_print_json(list);
    } else if (json_array_size(list) == 0) {
        printf("no instances\n");
    } else {
        printf("%-22s %-7s %-10s %-9s %-20s %-26s %-24s %s\n", "ID", "TYPE", "STATUS", "ISSUE",
               "PARENT", "AGENT", "CREATED", "WORKTREE");
        json_array_foreach(list, i, inst)
        {
            char issue[80], agent[64];
            json_int_t pid = json_integer_value(json_object_get(inst, "pid"));

            issue_text(inst, issue, sizeof(issue));
            if (jstr(inst, "session_name"))
                snprintf(agent, sizeof(agent), "%s", jstr(inst, "session_name"));
            else if (pid > 0)
                snprintf(agent, sizeof(agent), "pid %lld", (long long)pid);
            else
                snprintf(agent, sizeof(agent), "-");
            printf("%-22s %-7s %-10s %-9s %-20s %-26s %-24s %s\n", cli_str_or(inst, "id", "?"),
                   cli_str_or(inst, "type", "?"), cli_str_or(inst, "status", "?"), issue,
                   cli_str_or(inst, "parent_id", "-"), agent, cli_str_or(inst, "created_at", "?"),
                   cli_str_or(inst, "worktree_path", "?"));
        }
    }
    json_decref(list);
    ctx_free(ctx);
    return 0;
}

int cmd_show(int argc, char **argv)
{
    static const arg_flag flags[] = {{"repo", 1}, {"db", 1}, {"json", 0}, {NULL, 0}};
    grove_ctx *ctx;
    json_t *inst = NULL, *rels = NULL, *cp = NULL, *events = NULL, *git = NULL, *all, *v;
    db_event_filter f = {0};
    grove_err err = GROVE_ERR_INIT, gerr = GROVE_ERR_INIT;
    size_t i;
    args a;
    int rc;

    if ((rc = args_parse(&a, "show", flags, argc, argv)) != 0)
        return rc;
    if (a.help) {
        printf("usage: grove show ID [--json] [--repo DIR] [--db FILE]\n\n"
               "One instance with its relationships, last checkpoint, git state and recent "
               "events.\n");
        return 0;
    }
    if (a.npos != 1) {
        fprintf(stderr, "grove show: expected one instance id (see 'grove show --help')\n");
        return 2;
    }
    ctx = cli_open_ctx("show", &a, flags, 1);
    if (!ctx)
        return 1;
    if (instances_reconcile(ctx, NULL, &err) != 0)
        fprintf(stderr, "grove show: warning: liveness not checked: %s\n", err.msg);
    f.instance_id = a.pos[0];
    f.success = -1;
    f.limit = 10;
    if (db_instance_get(ctx->db, a.pos[0], &inst, &err) != 0 ||
        db_relationships(ctx->db, a.pos[0], &rels, &err) != 0 ||
        db_checkpoint_get(ctx->db, a.pos[0], NULL, &cp, &err) != 0 ||
        db_event_list(ctx->db, &f, &events, &err) != 0) {
        fprintf(stderr, "grove show: %s\n", err.msg);
        json_decref(inst);
        json_decref(rels);
        json_decref(cp);
        ctx_free(ctx);
        return 1;
    }
    if (gitops_worktree_state(jstr(inst, "worktree_path"), jstr(inst, "base_commit"), &git,
                              &gerr) != 0)
        git = json_null();
    all = json_pack("{s:o, s:o, s:o, s:o, s:o}", "instance", inst, "relationships", rels,
                    "last_checkpoint", cp, "git", git, "recent_events", events);
    if (args_get(&a, flags, "json")) {
        cli_print_json(all);
    } else {
        char issue[80];

        issue_text(inst, issue, sizeof(issue));
        printf("%s  (%s, %s)\n", cli_str_or(inst, "id", "?"), cli_str_or(inst, "type", "?"),
               cli_str_or(inst, "status", "?"));
        printf("  issue:       %s\n  branch:      %s (from %s at %.12s)\n  worktree:    %s\n"
               "  created:     %s\n",
               issue, cli_str_or(inst, "branch_name", "?"), cli_str_or(inst, "base_branch", "-"),
               cli_str_or(inst, "base_commit", "-"), cli_str_or(inst, "worktree_path", "?"),
               cli_str_or(inst, "created_at", "?"));
        if (jstr(inst, "terminated_at"))
            printf("  terminated:  %s\n", jstr(inst, "terminated_at"));
        if (jstr(inst, "parent_id"))
            printf("  parent:      %s\n", jstr(inst, "parent_id"));
        if (jstr(inst, "session_name") || json_integer_value(json_object_get(inst, "pid")) > 0)
            printf("  agent:       %s (pid %lld)%s\n", cli_str_or(inst, "session_name", "no tmux"),
                   (long long)json_integer_value(json_object_get(inst, "pid")),
                   strcmp(cli_str_or(inst, "status", ""), "running") == 0 ? "" : ", gone");
        if (json_is_object(git))
            printf("  git:         head %.12s, %lld ahead, %lld behind, %zu dirty files\n",
                   cli_str_or(git, "head", "-"),
                   (long long)json_integer_value(json_object_get(git, "ahead")),
                   (long long)json_integer_value(json_object_get(git, "behind")),
                   json_array_size(json_object_get(git, "dirty_files")));
        json_array_foreach(rels, i, v)
            printf("  relation:    %s -> %s (%s)\n", cli_str_or(v, "parent_instance", "?"),
                   cli_str_or(v, "child_instance", "?"), cli_str_or(v, "relationship_type", "?"));
        if (json_is_object(cp))
            printf("  checkpoint:  #%lld %s%s%s [%s] %s\n",
                   (long long)json_integer_value(json_object_get(cp, "sequence")),
                   cli_str_or(cp, "phase", "?"), jstr(cp, "name") ? "/" : "",
                   cli_str_or(cp, "name", ""), cli_str_or(cp, "status", "?"),
                   cli_str_or(cp, "created_at", ""));
        json_array_foreach(events, i, v)
            printf("  event:       %s %s %s%s%s\n", cli_str_or(v, "timestamp", "?"),
                   cli_str_or(v, "tool_name", "?"),
                   json_is_true(json_object_get(v, "success")) ? "ok" : "failed",
                   jstr(v, "error_message") ? ": " : "", cli_str_or(v, "error_message", ""));
    }
    json_decref(all);
    ctx_free(ctx);
    return 0;
}

int cmd_migrate(int argc, char **argv)
{
    static const arg_flag flags[] = {{"repo", 1}, {"db", 1}, {"to", 1}, {"json", 0}, {NULL, 0}};
    const char *to_s;
    grove_ctx *ctx;
    grove_err err = GROVE_ERR_INIT;
    json_t *status = NULL, *v;
    char *end = NULL;
    long to = -1;
    size_t i;
    args a;
    int rc;

    if ((rc = args_parse(&a, "migrate", flags, argc, argv)) != 0)
        return rc;
    if (a.help) {
        printf("usage: grove migrate status|apply|rollback [--to N] [--json] [--repo DIR] "
               "[--db FILE]\n\n"
               "status    lists known and applied migrations\n"
               "apply     applies pending migrations (up to --to N)\n"
               "rollback  rolls back to version N (--to, default: one step)\n");
        return 0;
    }
    if (a.npos != 1 || (strcmp(a.pos[0], "status") != 0 && strcmp(a.pos[0], "apply") != 0 &&
                        strcmp(a.pos[0], "rollback") != 0)) {
        fprintf(stderr, "grove migrate: expected status, apply or rollback (see 'grove migrate "
                        "--help')\n");
        return 2;
    }
    to_s = args_get(&a, flags, "to");
    if (to_s) {
        to = strtol(to_s, &end, 10);
        if (!*to_s || *end || to < 0 || to > 1000000) {
            fprintf(stderr, "grove migrate: --to expects a version number, not '%s'\n", to_s);
            return 2;
        }
    }
    ctx = cli_open_ctx("migrate", &a, flags, 0);
    if (!ctx)
        return 1;
    rc = 0;
    if (strcmp(a.pos[0], "apply") == 0) {
        rc = migrate_apply(ctx->db, to < 0 ? 0 : (int)to, &err);
    } else if (strcmp(a.pos[0], "rollback") == 0) {
        if (to < 0) {
            json_t *st = NULL;
            int applied = 0;

            rc = migrate_status(ctx->db, &st, &err);
            json_array_foreach(st, i, v) if (json_is_true(json_object_get(v, "applied"))) applied =
                (int)json_integer_value(json_object_get(v, "version"));
            json_decref(st);
            to = applied > 0 ? applied - 1 : 0;
        }
        if (rc == 0)
            rc = migrate_rollback(ctx->db, (int)to, &err);
    }
    if (rc == 0)
        rc = migrate_status(ctx->db, &status, &err);
    if (rc != 0) {
        fprintf(stderr, "grove migrate: %s\n", err.msg);
        ctx_free(ctx);
        return 1;
    }
    if (args_get(&a, flags, "json")) {
        cli_print_json(status);
    } else {
        json_array_foreach(status, i, v) printf(
            "%04lld  %-24s %-8s %s\n", (long long)json_integer_value(json_object_get(v, "version")),
            cli_str_or(v, "name", "?"), cli_str_or(v, "state", "?"),
            cli_str_or(v, "applied_at", ""));
    }
    json_decref(status);
    ctx_free(ctx);
    return 0;
}

#define SECRET_MAX (64 * 1024) /* longest value `config set --secret` reads from stdin */

/*
 * Reads a secret value from stdin into *out (malloc'd; free with
 * secret_free()): all of it up to SECRET_MAX bytes, one trailing "\n" or
 * "\r\n" removed. From a terminal: one line, typed without echo.
 */
static int read_secret_stdin(const char *key, char **out, grove_err *err)
{
    char *buf = malloc(SECRET_MAX + 2);
    size_t len = 0;
    int tty = isatty(STDIN_FILENO), echo_off = 0, bad = 0;
    struct termios saved, quiet;

    *out = NULL;
    if (!buf)
        return grove_fail(err, GROVE_ENOMEM, "out of memory");
    if (tty) {
        fprintf(stderr, "value for '%s' (not shown): ", key);
        fflush(stderr);
        if (tcgetattr(STDIN_FILENO, &saved) == 0) {
            quiet = saved;
            quiet.c_lflag &= ~(tcflag_t)ECHO;
            echo_off = tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == 0;
        }
    }
    for (;;) {
        ssize_t n = read(STDIN_FILENO, buf + len, SECRET_MAX + 1 - len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            bad =
                grove_fail(err, GROVE_EIO, "cannot read the value from stdin: %s", strerror(errno));
            break;
        }
        len += (size_t)n;
        if (n == 0 || len > SECRET_MAX || (tty && len > 0 && buf[len - 1] == '\n'))
            break;
    }
    if (echo_off)
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
    if (tty)
        fputc('\n', stderr);
    buf[len] = '\0';
    if (bad) {
        /* the read failed: message set above */
    } else if (len > SECRET_MAX) {
        bad = grove_fail(err, GROVE_EINVAL, "the value on stdin is longer than %d KiB",
                         SECRET_MAX / 1024);
    } else if (memchr(buf, '\0', len)) {
        bad = grove_fail(err, GROVE_EINVAL, "the value on stdin contains a NUL byte");
    } else {
        if (len > 0 && buf[len - 1] == '\n')
            buf[--len] = '\0';
        if (len > 0 && buf[len - 1] == '\r')
            buf[--len] = '\0';
        if (len == 0)
            bad = grove_fail(err, GROVE_EINVAL,
                             "no value for '%s' on stdin (pipe it in: "
                             "printf %%s \"$TOKEN\" | grove config set %s --secret)",
                             key, key);
    }
    if (bad) {
        explicit_bzero(buf, SECRET_MAX + 2);
        free(buf);
        return -1;
    }
    *out = buf;
    return 0;
}

int cmd_config(int argc, char **argv)
{
    static const arg_flag flags[] = {{"repo", 1},   {"db", 1},   {"secret", 0},
                                     {"reveal", 0}, {"json", 0}, {NULL, 0}};
    grove_ctx *ctx = NULL;
    grove_err err = GROVE_ERR_INIT;
    const char *verb;
    char *secret = NULL;
    int is_secret, reveal;
    args a;
    int rc;

    if ((rc = args_parse(&a, "config", flags, argc, argv)) != 0)
        return rc;
    if (a.help) {
        printf(
            "usage: grove config get KEY [--reveal] | set KEY VALUE | set KEY --secret | "
            "list [--json] [--repo DIR] [--db FILE]\n\n"
            "Settings stored in the database (worktrees.base_path, branch.prefix,\n"
            "agent.command, worktrees.setup_command, git.remote, github.repo,\n"
            "github.api_url). Environment variables override them.\n\n"
            "  set KEY --secret  reads the value from stdin (up to 64 KiB; one trailing\n"
            "                    newline removed) and stores it encrypted with the key in\n"
            "                    $XDG_CONFIG_HOME/grove/key (default ~/.config/grove/key,\n"
            "                    made on first use, mode 0600), e.g. github.token:\n"
            "                    printf %%s \"$TOKEN\" | grove config set github.token --secret\n"
            "  get KEY --reveal  prints a secret's decrypted value (without --reveal, get\n"
            "                    refuses to print a secret; list shows it as (secret))\n");
        return 0;
    }
    verb = a.npos ? a.pos[0] : "";
    is_secret = args_get(&a, flags, "secret") != NULL;
    reveal = args_get(&a, flags, "reveal") != NULL;
    if (strcmp(verb, "set") == 0 && is_secret && a.npos == 3) {
        fprintf(stderr, "grove config: --secret reads the value from stdin; do not pass it as an "
                        "argument (it would be in your shell history and the process list)\n");
        return 2;
    }
    if (!((strcmp(verb, "get") == 0 && a.npos == 2) ||
          (strcmp(verb, "set") == 0 && a.npos == (is_secret ? 2 : 3)) ||
          (strcmp(verb, "list") == 0 && a.npos == 1))) {
        fprintf(stderr, "grove config: expected 'get KEY', 'set KEY VALUE', 'set KEY --secret' or "
                        "'list' (see 'grove config --help')\n");
        return 2;
    }
    if ((is_secret && strcmp(verb, "set") != 0) || (reveal && strcmp(verb, "get") != 0)) {
        fprintf(stderr, "grove config: --secret goes with 'set', --reveal with 'get'\n");
        return 2;
    }
    if (is_secret && read_secret_stdin(a.pos[1], &secret, &err) != 0) {
        fprintf(stderr, "grove config: %s\n", err.msg);
        return 1;
    }
    ctx = cli_open_ctx("config", &a, flags, 1);
    if (!ctx) {
        secret_free(secret);
        return 1;
    }
    rc = 0;
    if (strcmp(verb, "set") == 0 && is_secret) {
        char *sealed = NULL;

        if (secret_seal(secret, &sealed, &err) != 0 ||
            db_config_set(ctx->db, a.pos[1], sealed, 1, &err) != 0)
            rc = 1;
        free(sealed);
    } else if (strcmp(verb, "set") == 0) {
        if (db_config_set(ctx->db, a.pos[1], a.pos[2], 0, &err) != 0)
            rc = 1;
    } else if (strcmp(verb, "get") == 0) {
        char *value = NULL, *plain = NULL;
        int enc = 0;

        if (db_config_get(ctx->db, a.pos[1], &value, &enc, &err) != 0) {
            rc = 1;
        } else if (!value) {
            grove_fail(&err, GROVE_ENOTFOUND, "'%s' is not set", a.pos[1]);
            rc = 1;
        } else if (enc && !reveal) {
            grove_fail(&err, GROVE_EINVAL, "'%s' is a secret; pass --reveal to print it", a.pos[1]);
            rc = 1;
        } else if (enc) {
            if (secret_open(value, &plain, &err) != 0)
                rc = 1;
            else
                printf("%s\n", plain);
            secret_free(plain);
        } else {
            printf("%s\n", value);
        }
        free(value);
    } else {
        json_t *list = NULL, *v;
        size_t i;

        /* Every setting with its source; secrets masked (tools/cli/report.c). */
        if (config_sources(ctx, &list, &err) != 0) {
            rc = 1;
        } else if (args_get(&a, flags, "json")) {
            cli_print_json(list);
        } else {
            json_array_foreach(list, i, v)
            {
                printf("%s=%s%s%s%s  [%s%s%s%s]\n", cli_str_or(v, "key", "?"),
                       jstr(v, "value") ? jstr(v, "value") : "(not set",
                       jstr(v, "note") ? ": " : "", cli_str_or(v, "note", ""),
                       jstr(v, "value") ? "" : ")", cli_str_or(v, "source", "?"),
                       jstr(v, "env") ? " " : "", cli_str_or(v, "env", ""),
                       jstr(v, "overrides") ? "; overrides the database" : "");
            }
        }
        json_decref(list);
    }
    if (rc)
        fprintf(stderr, "grove config: %s\n", err.msg);
    secret_free(secret);
    ctx_free(ctx);
    return rc;
}

/* One finding of gc: printed as a line, collected for --json. */
static void gc_note(json_t *report, const char *kind, const char *subject, const char *action,
                    const char *detail)
{
    json_array_append_new(report,
                          json_pack("{s:s, s:s, s:s, s:s}", "kind", kind, "subject", subject,
                                    "action", action, "detail", detail ? detail : ""));
}

/* 1 when some instance row has this worktree path. */
static int row_has_path(const json_t *rows, const char *path)
{
    const json_t *v;
    size_t i;

    json_array_foreach(rows, i, v) if (jstr(v, "worktree_path") &&
                                       strcmp(jstr(v, "worktree_path"), path) == 0) return 1;
    return 0;
}

/* One interrupted creation: completed, undone or kept (see gc_interrupted). */
static int gc_interrupted_create(grove_ctx *ctx, int dry, const gitops_interrupted *c,
                                 json_t *report, grove_err *err)
{
    const char *subject = c->path ? c->path : c->name;
    grove_err lerr = GROVE_ERR_INIT;
    gitops_loss loss = {0};
    json_t *row = NULL;
    char detail[512];

    if (c->alive) {
        gc_note(report, "interrupted-create", subject, "kept",
                "being created by a running grove process");
        return 0;
    }
    if (db_instance_get(ctx->db, c->name, &row, &lerr) == 0) {
        json_decref(row);
        snprintf(detail, sizeof(detail), "instance '%s' is recorded: its worktree is unlocked",
                 c->name);
        if (dry)
            gc_note(report, "interrupted-create", subject, "would complete", detail);
        else if (gitops_interrupted_complete(ctx->repo, c->name, &lerr) == 0)
            gc_note(report, "interrupted-create", subject, "completed", detail);
        else if (lerr.code != GROVE_ENOTFOUND)
            gc_note(report, "interrupted-create", subject, "kept", lerr.msg);
        return 0;
    }
    if (lerr.code != GROVE_ENOTFOUND) {
        *err = lerr;
        return -1;
    }
    /*
     * Killed while its setup command ran: that command (its whole process
     * group) may still run in the folder. It goes first. (A recorded
     * instance's setup had finished; what it left running is left alone.)
     */
    if (c->setup_pgid) {
        size_t killed = 0;

        if (dry) {
            snprintf(detail, sizeof(detail), "process group %lld, if it still runs", c->setup_pgid);
            gc_note(report, "setup-command", subject, "would stop", detail);
        } else if (agent_group_kill(c->setup_pgid, c->setup_start, &killed, &lerr) != 0) {
            gc_note(report, "interrupted-create", subject, "kept", lerr.msg);
            return 0;
        } else if (killed) {
            snprintf(detail, sizeof(detail), "process group %lld: %zu process%s", c->setup_pgid,
                     killed, killed == 1 ? "" : "es");
            gc_note(report, "setup-command", subject, "stopped", detail);
        }
    }
    /* Never recorded, so no agent ran in it: a half-made checkout is no loss, commits are. */
    if (c->branch && gitops_removal_loss(ctx->repo, NULL, c->branch, NULL, &loss, &lerr) != 0 &&
        lerr.code != GROVE_ENOTFOUND) {
        gc_note(report, "interrupted-create", subject, "kept", lerr.msg);
        return 0;
    }
    if (loss.unique_commits)
        snprintf(detail, sizeof(detail),
                 "the half-made worktree; branch '%s' stays: it has %zu commits that exist "
                 "nowhere else",
                 c->branch, loss.unique_commits);
    else
        snprintf(detail, sizeof(detail), "%s", c->branch ? c->branch : "");
    if (dry)
        gc_note(report, "interrupted-create", subject, "would remove", detail);
    else if (gitops_interrupted_undo(ctx->repo, c->name, loss.unique_commits > 0, &lerr) == 0)
        gc_note(report, "interrupted-create", subject, "removed", detail);
    else if (lerr.code != GROVE_ENOTFOUND)
        gc_note(report, "interrupted-create", subject, "kept", lerr.msg);
    return 0;
}

/*
 * Worktree creations and removals that a killed grove process left
 * half-way. An interrupted removal was already decided (checked for loss,
 * or forced): it is finished. A creation whose instance was recorded is
 * completed (its "initializing" lock goes); one whose instance never was is
 * undone: no agent ever ran in it, so a half-made checkout is no loss, but
 * a branch with commits that exist nowhere else stays.
 */
static int gc_interrupted(grove_ctx *ctx, int dry, json_t *report, grove_err *err)
{
    gitops_interrupted *list = NULL;
    size_t n = 0, i;
    int rc = -1, pass;

    if (gitops_interrupted_list(ctx->repo, &list, &n, err) != 0)
        return -1;
    /* Removals first: finishing one also ends the creation journal it may have left. */
    for (pass = 1; pass >= 0; pass--) {
        for (i = 0; i < n; i++) {
            const gitops_interrupted *c = &list[i];
            grove_err lerr = GROVE_ERR_INIT;
            const char *subject = c->path ? c->path : c->name;

            if (c->removal != pass)
                continue;
            if (!c->removal) {
                if (gc_interrupted_create(ctx, dry, c, report, err) != 0)
                    goto done;
            } else if (dry) {
                gc_note(report, "interrupted-removal", subject, "would remove", c->branch);
            } else if (gitops_removal_finish(ctx->repo, c->name, &lerr) == 0) {
                gc_note(report, "interrupted-removal", subject, "removed", c->branch);
            } else if (lerr.code != GROVE_ENOTFOUND) {
                gc_note(report, "interrupted-removal", subject, "kept", lerr.msg);
            }
        }
    }
    if (!dry && gitops_journals_tidy(ctx->repo, err) != 0)
        goto done;
    rc = 0;
done:
    gitops_interrupted_list_free(list, n);
    return rc;
}

/*
 * Branches named with grove's prefix that no instance row names and no
 * worktree has checked out (a spawn killed between making its branch and
 * its worktree, an older grove's leftovers): deleted when they hold no
 * commit that exists nowhere else, reported otherwise.
 */
static int gc_branches(grove_ctx *ctx, int dry, const json_t *rows, const gitops_worktree_info *wts,
                       size_t nwts, json_t *report, grove_err *err)
{
    char **names = NULL;
    size_t n = 0, i, k;

    if (!ctx->branch_prefix || !*ctx->branch_prefix)
        return 0; /* without a prefix of its own grove cannot tell its branches */
    if (gitops_branch_list(ctx->repo, ctx->branch_prefix, &names, &n, err) != 0)
        return -1;
    for (i = 0; i < n; i++) {
        grove_err lerr = GROVE_ERR_INIT;
        gitops_loss loss = {0};
        const json_t *v;
        char detail[512];
        int used = 0;

        json_array_foreach(rows, k, v)
        {
            if (jstr(v, "branch_name") && strcmp(jstr(v, "branch_name"), names[i]) == 0)
                used = 1;
        }
        for (k = 0; k < nwts && !used; k++)
            used = wts[k].branch && strcmp(wts[k].branch, names[i]) == 0;
        if (used)
            continue;
        if (gitops_removal_loss(ctx->repo, NULL, names[i], NULL, &loss, &lerr) != 0) {
            if (lerr.code != GROVE_ENOTFOUND)
                gc_note(report, "orphan-branch", names[i], "kept", lerr.msg);
        } else if (loss.unique_commits) {
            snprintf(detail, sizeof(detail), "%zu commits that exist nowhere else",
                     loss.unique_commits);
            gc_note(report, "orphan-branch", names[i], "kept", detail);
        } else if (dry) {
            gc_note(report, "orphan-branch", names[i], "would delete", "no instance, no worktree");
        } else if (gitops_branch_delete_unused(ctx->repo, names[i], &lerr) == 0) {
            gc_note(report, "orphan-branch", names[i], "deleted", "no instance, no worktree");
        } else {
            gc_note(report, "orphan-branch", names[i], "kept", lerr.msg);
        }
    }
    gitops_branch_list_free(names, n);
    return 0;
}

int cmd_gc(int argc, char **argv)
{
    static const arg_flag flags[] = {
        {"repo", 1}, {"db", 1}, {"dry-run", 0}, {"json", 0}, {NULL, 0}};
    grove_ctx *ctx;
    grove_err err = GROVE_ERR_INIT;
    gitops_worktree_info *wts = NULL;
    json_t *rows = NULL, *report = json_array(), *v;
    size_t nwts = 0, ended = 0, i;
    int dry, rc = 1;
    DIR *dir = NULL;
    struct dirent *de;
    args a;

    if ((rc = args_parse(&a, "gc", flags, argc, argv)) != 0)
        return rc;
    rc = 1;
    if (a.help) {
        printf("usage: grove gc [--dry-run] [--json] [--repo DIR] [--db FILE]\n\n"
               "Reconciles grove with what is really there:\n"
               "- running instances whose agent is gone are marked terminated;\n"
               "- git worktree entries whose folder is gone are pruned;\n"
               "- worktree creations and removals that a killed grove left half-way are\n"
               "  completed or undone;\n"
               "- folders under the worktrees base with no instance are removed when that\n"
               "  loses no work (no uncommitted files, no commits that exist nowhere else),\n"
               "  and reported otherwise; so are branches with grove's prefix that have\n"
               "  neither an instance nor a worktree;\n"
               "- running instances whose worktree folder is gone are marked terminated.\n"
               "--dry-run reports what it would do and changes nothing.\n");
        return 0;
    }
    if (a.npos) {
        fprintf(stderr, "grove gc: unexpected argument '%s'\n", a.pos[0]);
        return 2;
    }
    dry = args_get(&a, flags, "dry-run") != NULL;
    ctx = cli_open_ctx("gc", &a, flags, 1);
    if (!ctx)
        return 1;

    /* 1. liveness */
    if (!dry && instances_reconcile(ctx, &ended, &err) != 0)
        goto fail;
    if (ended) {
        char n[32];

        snprintf(n, sizeof(n), "%zu", ended);
        gc_note(report, "dead-agent", n, "terminated", "instances whose agent is gone");
    }
    /* creations and removals a killed grove process left half-way */
    if (gc_interrupted(ctx, dry, report, &err) != 0)
        goto fail;
    /*
     * Worktrees before rows: a creation unlocks its worktree only after
     * recording its row, so an unlocked worktree listed here has its row
     * in what is read next.
     */
    if (gitops_worktree_list(ctx->repo, &wts, &nwts, &err) != 0 ||
        all_instances(ctx, NULL, &rows, &err) != 0)
        goto fail;

    /* 2. git worktree entries whose folder is gone */
    for (i = 0; i < nwts; i++) {
        grove_err perr = GROVE_ERR_INIT;

        if (wts[i].folder_exists)
            continue;
        if (dry)
            gc_note(report, "stale-entry", wts[i].name, "would prune", wts[i].path);
        else if (gitops_worktree_prune_stale(ctx->repo, wts[i].name, &perr) == 0)
            gc_note(report, "stale-entry", wts[i].name, "pruned", wts[i].path);
        else
            gc_note(report, "stale-entry", wts[i].name, "kept", perr.msg);
    }

    /* 3. folders under the base with no row */
    dir = opendir(ctx->worktrees_base);
    while (dir && (de = readdir(dir)) != NULL) {
        char *path;
        gitops_worktree_info *wt = NULL;
        gitops_loss loss = {0};
        grove_err lerr = GROVE_ERR_INIT;
        char detail[512];
        struct stat lsb;

        if (de->d_name[0] == '.')
            continue;
        path = grove_asprintf("%s/%s", ctx->worktrees_base, de->d_name);
        if (!path || row_has_path(rows, path)) {
            free(path);
            continue;
        }
        for (i = 0; i < nwts; i++)
            if (wts[i].path && strcmp(wts[i].path, path) == 0)
                wt = &wts[i];
        if (lstat(path, &lsb) == 0 && S_ISLNK(lsb.st_mode)) {
            /* Never follow a link out of the folder, nor touch its branch: report it. */
            gc_note(report, "orphan-folder", path, "kept",
                    "a symbolic link, not a worktree folder: grove never follows or removes "
                    "links; remove it yourself if it is junk");
        } else if (!wt) {
            gc_note(report, "orphan-folder", path, "kept",
                    "not a worktree of this repository; remove it yourself if it is junk");
        } else if (wt->lock_reason && strcmp(wt->lock_reason, "initializing") == 0) {
            /* being created (reported above): its row is not written yet */
        } else if (wt->lock_reason) {
            snprintf(detail, sizeof(detail),
                     "locked%s%s%s: 'git worktree unlock' it to let gc remove it",
                     *wt->lock_reason ? " ('" : "", wt->lock_reason, *wt->lock_reason ? "')" : "");
            gc_note(report, "orphan-worktree", path, "kept", detail);
        } else if (!wt->branch) {
            gc_note(report, "orphan-worktree", path, "kept", "detached HEAD: no branch to check");
        } else if (gitops_removal_loss(ctx->repo, path, wt->branch, NULL, &loss, &lerr) != 0) {
            gc_note(report, "orphan-worktree", path, "kept", lerr.msg);
        } else if (loss.dirty_files || loss.unique_commits) {
            snprintf(detail, sizeof(detail),
                     "branch '%s' has %zu uncommitted files and %zu commits that exist nowhere "
                     "else",
                     wt->branch, loss.dirty_files, loss.unique_commits);
            gc_note(report, "orphan-worktree", path, "kept", detail);
        } else if (dry) {
            gc_note(report, "orphan-worktree", path, "would remove", wt->branch);
        } else if (gitops_worktree_remove(ctx->repo, wt->name, wt->branch, &lerr) == 0) {
            gc_note(report, "orphan-worktree", path, "removed", wt->branch);
        } else {
            gc_note(report, "orphan-worktree", path, "kept", lerr.msg);
        }
        free(path);
    }

    /* branches of grove's with no row and no worktree */
    if (gc_branches(ctx, dry, rows, wts, nwts, report, &err) != 0)
        goto fail;

    /* 4. running rows whose worktree is gone */
    json_array_foreach(rows, i, v)
    {
        struct stat sb;
        const char *path = jstr(v, "worktree_path");

        if (strcmp(jstr(v, "status"), "running") != 0 || (path && stat(path, &sb) == 0))
            continue;
        if (dry) {
            gc_note(report, "missing-worktree", jstr(v, "id"), "would terminate", path);
        } else {
            json_t *note = json_pack("{s:s}", "ended", "gc: its worktree folder is gone");
            grove_err terr = GROVE_ERR_INIT;

            if (db_instance_terminate(ctx->db, jstr(v, "id"), NULL, &terr) == 0 && note &&
                db_instance_merge_metadata(ctx->db, jstr(v, "id"), note, &terr) == 0)
                gc_note(report, "missing-worktree", jstr(v, "id"), "terminated", path);
            else
                gc_note(report, "missing-worktree", jstr(v, "id"), "kept", terr.msg);
            json_decref(note);
        }
    }

    if (args_get(&a, flags, "json")) {
        cli_print_json(report);
    } else if (json_array_size(report) == 0) {
        printf("nothing to do\n");
    } else {
        json_array_foreach(report, i, v)
            printf("%-16s %-14s %s%s%s\n", jstr(v, "kind"), jstr(v, "action"), jstr(v, "subject"),
                   *jstr(v, "detail") ? ": " : "", jstr(v, "detail"));
    }
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "grove gc: %s\n", err.msg);
done:
    if (dir)
        closedir(dir);
    gitops_worktree_list_free(wts, nwts);
    json_decref(rows);
    json_decref(report);
    ctx_free(ctx);
    return rc;
}

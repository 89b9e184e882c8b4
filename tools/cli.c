#include "tools/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/migrate.h"
#include "db/queries.h"
#include "mcp/args.h"
#include "tools/context.h"
#include "tools/instance.h"

/* Opens the context for a command; prints the error and returns NULL on failure. */
static grove_ctx *open_ctx(const char *cmd, const args *a, const arg_flag *flags, int migrate)
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

static void print_json(const json_t *v)
{
    char *s = json_dumps(v, JSON_INDENT(2));

    if (s)
        puts(s);
    free(s);
}

static const char *str_or(const json_t *obj, const char *key, const char *dflt)
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
    ctx = open_ctx("init", &a, flags, 1);
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
    ctx = open_ctx("ls", &a, flags, 1);
    if (!ctx)
        return 1;
    if (all_instances(ctx, args_get(&a, flags, "all") ? NULL : "running", &list, &err) != 0) {
        fprintf(stderr, "grove ls: %s\n", err.msg);
        ctx_free(ctx);
        return 1;
    }
    if (args_get(&a, flags, "json")) {
        print_json(list);
    } else if (json_array_size(list) == 0) {
        printf("no instances\n");
    } else {
        printf("%-24s %-7s %-10s %-10s %-24s %s\n", "ID", "TYPE", "STATUS", "ISSUE", "CREATED",
               "WORKTREE");
        json_array_foreach(list, i, inst)
        {
            char issue[80];

            issue_text(inst, issue, sizeof(issue));
            printf("%-24s %-7s %-10s %-10s %-24s %s\n", str_or(inst, "id", "?"),
                   str_or(inst, "type", "?"), str_or(inst, "status", "?"), issue,
                   str_or(inst, "created_at", "?"), str_or(inst, "worktree_path", "?"));
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
    ctx = open_ctx("show", &a, flags, 1);
    if (!ctx)
        return 1;
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
        print_json(all);
    } else {
        char issue[80];

        issue_text(inst, issue, sizeof(issue));
        printf("%s  (%s, %s)\n", str_or(inst, "id", "?"), str_or(inst, "type", "?"),
               str_or(inst, "status", "?"));
        printf("  issue:       %s\n  branch:      %s (from %s at %.12s)\n  worktree:    %s\n"
               "  created:     %s\n",
               issue, str_or(inst, "branch_name", "?"), str_or(inst, "base_branch", "-"),
               str_or(inst, "base_commit", "-"), str_or(inst, "worktree_path", "?"),
               str_or(inst, "created_at", "?"));
        if (jstr(inst, "terminated_at"))
            printf("  terminated:  %s\n", jstr(inst, "terminated_at"));
        if (json_is_object(git))
            printf("  git:         head %.12s, %lld ahead, %lld behind, %zu dirty files\n",
                   str_or(git, "head", "-"),
                   (long long)json_integer_value(json_object_get(git, "ahead")),
                   (long long)json_integer_value(json_object_get(git, "behind")),
                   json_array_size(json_object_get(git, "dirty_files")));
        json_array_foreach(rels, i, v)
            printf("  relation:    %s -> %s (%s)\n", str_or(v, "parent_instance", "?"),
                   str_or(v, "child_instance", "?"), str_or(v, "relationship_type", "?"));
        if (json_is_object(cp))
            printf("  checkpoint:  #%lld %s%s%s [%s] %s\n",
                   (long long)json_integer_value(json_object_get(cp, "sequence")),
                   str_or(cp, "phase", "?"), jstr(cp, "name") ? "/" : "", str_or(cp, "name", ""),
                   str_or(cp, "status", "?"), str_or(cp, "created_at", ""));
        json_array_foreach(events, i, v)
            printf("  event:       %s %s %s%s%s\n", str_or(v, "timestamp", "?"),
                   str_or(v, "tool_name", "?"),
                   json_is_true(json_object_get(v, "success")) ? "ok" : "failed",
                   jstr(v, "error_message") ? ": " : "", str_or(v, "error_message", ""));
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
    ctx = open_ctx("migrate", &a, flags, 0);
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
        print_json(status);
    } else {
        json_array_foreach(status, i, v) printf(
            "%04lld  %-24s %-8s %s\n", (long long)json_integer_value(json_object_get(v, "version")),
            str_or(v, "name", "?"), str_or(v, "state", "?"), str_or(v, "applied_at", ""));
    }
    json_decref(status);
    ctx_free(ctx);
    return 0;
}

int cmd_config(int argc, char **argv)
{
    static const arg_flag flags[] = {{"repo", 1},   {"db", 1},   {"secret", 0},
                                     {"reveal", 0}, {"json", 0}, {NULL, 0}};
    grove_ctx *ctx;
    grove_err err = GROVE_ERR_INIT;
    const char *verb;
    args a;
    int rc;

    if ((rc = args_parse(&a, "config", flags, argc, argv)) != 0)
        return rc;
    if (a.help) {
        printf("usage: grove config get KEY | set KEY VALUE | list [--json] "
               "[--repo DIR] [--db FILE]\n\n"
               "Settings stored in the database (worktrees.base_path, branch.prefix,\n"
               "agent.command, worktrees.setup_command, git.remote, github.repo,\n"
               "github.api_url). Environment variables override them.\n");
        return 0;
    }
    verb = a.npos ? a.pos[0] : "";
    if (!((strcmp(verb, "get") == 0 && a.npos == 2) || (strcmp(verb, "set") == 0 && a.npos == 3) ||
          (strcmp(verb, "list") == 0 && a.npos == 1))) {
        fprintf(stderr, "grove config: expected 'get KEY', 'set KEY VALUE' or 'list' (see "
                        "'grove config --help')\n");
        return 2;
    }
    if (args_get(&a, flags, "secret") || args_get(&a, flags, "reveal")) {
        fprintf(stderr, "grove config: secrets (--secret, --reveal) are not implemented yet in "
                        "this grove build (issue #4)\n");
        return 1;
    }
    ctx = open_ctx("config", &a, flags, 1);
    if (!ctx)
        return 1;
    rc = 0;
    if (strcmp(verb, "set") == 0) {
        if (db_config_set(ctx->db, a.pos[1], a.pos[2], 0, &err) != 0)
            rc = 1;
    } else if (strcmp(verb, "get") == 0) {
        char *value = NULL;
        int enc = 0;

        if (db_config_get(ctx->db, a.pos[1], &value, &enc, &err) != 0) {
            rc = 1;
        } else if (!value) {
            grove_fail(&err, GROVE_ENOTFOUND, "'%s' is not set", a.pos[1]);
            rc = 1;
        } else if (enc) {
            grove_fail(&err, GROVE_EINVAL, "'%s' is a secret", a.pos[1]);
            rc = 1;
        } else {
            printf("%s\n", value);
        }
        free(value);
    } else {
        json_t *list = NULL, *v;
        size_t i;

        if (db_config_list(ctx->db, &list, &err) != 0) {
            rc = 1;
        } else {
            json_array_foreach(list, i, v) if (json_is_true(json_object_get(v, "is_encrypted")))
                json_object_set_new(v, "value", json_string("(secret)"));
            if (args_get(&a, flags, "json"))
                print_json(list);
            else
                json_array_foreach(list, i, v)
                    printf("%s=%s\n", str_or(v, "key", "?"), str_or(v, "value", ""));
        }
        json_decref(list);
    }
    if (rc)
        fprintf(stderr, "grove config: %s\n", err.msg);
    ctx_free(ctx);
    return rc;
}

/* Commands whose issues have not landed: a clear message, exit 1. */
static int later(const char *cmd, int issue, int argc, char **argv)
{
    int i;

    for (i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: see 'grove --help'. 'grove %s' lands with issue #%d.\n", cmd, issue);
            return 0;
        }
    }
    fprintf(stderr, "grove %s: not implemented yet in this grove build (issue #%d)\n", cmd, issue);
    return 1;
}

int cmd_export(int argc, char **argv)
{
    return later("export", 7, argc, argv);
}

int cmd_import(int argc, char **argv)
{
    return later("import", 7, argc, argv);
}

int cmd_stats(int argc, char **argv)
{
    return later("stats", 7, argc, argv);
}

int cmd_gc(int argc, char **argv)
{
    return later("gc", 3, argc, argv);
}

#include "tools/cli/cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "db/migrate.h"
#include "db/queries.h"
#include "tools/cli/args.h"
#include "tools/cli/cli_common.h"
#include "tools/agents/agent.h"
#include "tools/core/context.h"
#include "tools/core/gc.h"
#include "tools/core/instance.h"
#include "tools/wire.h"

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

static void issue_text(const grove_instance *inst, char *buf, size_t len)
{
    if (inst->issue_number)
        snprintf(buf, len, "#%lld", inst->issue_number);
    else if (inst->beads_id)
        snprintf(buf, len, "%s", inst->beads_id);
    else
        snprintf(buf, len, "-");
}

/* A size on disk as text: "512 B", "4.0 KiB", "1.3 MiB", "2.0 GiB"; "?" when unknown (< 0). */
static void size_text(long long bytes, char *buf, size_t len)
{
    static const char *const units[] = {"KiB", "MiB", "GiB", "TiB"};
    double v = (double)bytes;
    size_t u = 0;

    if (bytes < 0) {
        snprintf(buf, len, "?");
        return;
    }
    if (bytes < 1024) {
        snprintf(buf, len, "%lld B", bytes);
        return;
    }
    v /= 1024.0;
    while (v >= 1024.0 && u + 1 < sizeof(units) / sizeof(units[0])) {
        v /= 1024.0;
        u++;
    }
    snprintf(buf, len, "%.1f %s", v, units[u]);
}

/* Sizes on disk of the instances' worktrees (`grove ls --disk`); -1 where there is none. */
static long long *ls_sizes(const grove_instance_list *list, unsigned long long *total)
{
    long long *v = calloc(list->n ? list->n : 1, sizeof(*v)); /* owned by the caller */
    size_t i;

    *total = 0;
    for (i = 0; v && i < list->n; i++) {
        grove_err err = GROVE_ERR_INIT;
        unsigned long long bytes = 0;

        v[i] = -1;
        if (list->v[i].worktree_path &&
            gc_disk_usage(list->v[i].worktree_path, &bytes, NULL, &err) == 0) {
            v[i] = (long long)bytes;
            *total += bytes;
        }
    }
    return v;
}

int cmd_ls(int argc, char **argv)
{
    static const arg_flag flags[] = {{"repo", 1}, {"db", 1},   {"all", 0},
                                     {"json", 0}, {"disk", 0}, {NULL, 0}};
    grove_ctx *ctx;
    grove_instance_list list = {0};
    grove_err err = GROVE_ERR_INIT;
    long long *sizes = NULL; /* owned: --disk, one per row */
    unsigned long long total = 0;
    char size[32];
    int disk;
    size_t i;
    args a;
    int rc;

    if ((rc = args_parse(&a, "ls", flags, argc, argv)) != 0)
        return rc;
    if (a.help) {
        printf("usage: grove ls [--all] [--disk] [--json] [--repo DIR] [--db FILE]\n\n"
               "Lists running instances; --all includes terminated ones.\n"
               "--disk adds each worktree's size on disk (size_bytes in --json, null when its\n"
               "folder is gone) and, in text, the total.\n");
        return 0;
    }
    if (a.npos) {
        fprintf(stderr, "grove ls: unexpected argument '%s'\n", a.pos[0]);
        return 2;
    }
    disk = args_get(&a, flags, "disk") != NULL;
    ctx = cli_open_ctx("ls", &a, flags, 1);
    if (!ctx)
        return 1;
    if (instance_reconcile_all(ctx, NULL, &err) != 0)
        fprintf(stderr, "grove ls: warning: liveness not checked: %s\n", err.msg);
    if (instance_list_all(ctx, args_get(&a, flags, "all") ? NULL : "running", &list, &err) != 0) {
        fprintf(stderr, "grove ls: %s\n", err.msg);
        ctx_free(ctx);
        return 1;
    }
    if (disk && !(sizes = ls_sizes(&list, &total))) {
        fprintf(stderr, "grove ls: out of memory\n");
        db_instance_list_free(&list);
        ctx_free(ctx);
        return 1;
    }
    if (args_get(&a, flags, "json")) {
        json_t *j = wire_instances(list.v, list.n);

        for (i = 0; sizes && j && i < list.n; i++)
            json_object_set_new(json_array_get(j, i), "size_bytes",
                                sizes[i] < 0 ? json_null() : json_integer(sizes[i]));
        cli_print_json(j);
        json_decref(j);
    } else if (list.n == 0) {
        printf("no instances\n");
    } else {
        printf("%-22s %-7s %-10s %-9s %-20s %-26s %-8s %-24s ", "ID", "TYPE", "STATUS", "ISSUE",
               "PARENT", "AGENT", "STATE", "CREATED");
        if (sizes)
            printf("%10s ", "SIZE");
        printf("WORKTREE\n");
        for (i = 0; i < list.n; i++) {
            const grove_instance *inst = &list.v[i];
            char issue[80], agent[64];

            issue_text(inst, issue, sizeof(issue));
            if (inst->session_name)
                snprintf(agent, sizeof(agent), "%s", inst->session_name);
            else if (inst->pid > 0)
                snprintf(agent, sizeof(agent), "pid %lld", inst->pid);
            else
                snprintf(agent, sizeof(agent), "-");
            printf("%-22s %-7s %-10s %-9s %-20s %-26s %-8s %-24s ", cli_or(inst->id, "?"),
                   cli_or(inst->type, "?"), cli_or(inst->status, "?"), issue,
                   cli_or(inst->parent_id, "-"), agent, cli_or(inst->agent_state, "none"),
                   cli_or(inst->created_at, "?"));
            if (sizes) {
                if (sizes[i] < 0)
                    snprintf(size, sizeof(size), "-");
                else
                    size_text(sizes[i], size, sizeof(size));
                printf("%10s ", size);
            }
            printf("%s\n", cli_or(inst->worktree_path, "?"));
        }
        if (sizes) {
            size_text((long long)total, size, sizeof(size));
            printf("total: %s on disk\n", size);
        }
    }
    free(sizes);
    db_instance_list_free(&list);
    ctx_free(ctx);
    return 0;
}

/* The text form of `grove show`. */
static void show_text(const grove_instance *inst, const grove_relationship_list *rels,
                      const grove_checkpoint *cp, const gitops_state *git,
                      const grove_event_list *events)
{
    char issue[80];
    size_t i;

    issue_text(inst, issue, sizeof(issue));
    printf("%s  (%s, %s)\n", cli_or(inst->id, "?"), cli_or(inst->type, "?"),
           cli_or(inst->status, "?"));
    printf("  issue:       %s\n  branch:      %s (from %s at %.12s)\n  worktree:    %s\n"
           "  created:     %s\n",
           issue, cli_or(inst->branch_name, "?"), cli_or(inst->base_branch, "-"),
           cli_or(inst->base_commit, "-"), cli_or(inst->worktree_path, "?"),
           cli_or(inst->created_at, "?"));
    if (inst->terminated_at)
        printf("  terminated:  %s\n", inst->terminated_at);
    if (inst->parent_id)
        printf("  parent:      %s\n", inst->parent_id);
    if (inst->session_name || inst->pid > 0)
        printf("  agent:       %s (pid %lld)%s, profile %s, %s since %s\n",
               cli_or(inst->session_name, "no tmux"), inst->pid,
               strcmp(cli_or(inst->status, ""), "running") == 0 ? "" : ", gone",
               cli_or(inst->agent_profile, "?"), cli_or(inst->agent_state, "none"),
               cli_or(inst->agent_state_since, "?"));
    if (git)
        printf("  git:         head %.12s, %zu ahead, %zu behind, %zu dirty files\n", git->head,
               git->ahead, git->behind, git->ndirty);
    for (i = 0; i < rels->n; i++)
        printf("  relation:    %s -> %s (%s)\n", cli_or(rels->v[i].parent_instance, "?"),
               cli_or(rels->v[i].child_instance, "?"), cli_or(rels->v[i].relationship_type, "?"));
    if (cp)
        printf("  checkpoint:  #%lld %s%s%s [%s] %s\n", cp->sequence, cli_or(cp->phase, "?"),
               cp->name ? "/" : "", cli_or(cp->name, ""), cli_or(cp->status, "?"),
               cli_or(cp->created_at, ""));
    for (i = 0; i < events->n; i++) {
        const grove_event *e = &events->v[i];

        printf("  event:       %s %s %s%s%s\n", cli_or(e->timestamp, "?"),
               cli_or(e->tool_name, "?"), e->success ? "ok" : "failed",
               e->error_message ? ": " : "", cli_or(e->error_message, ""));
    }
}

int cmd_show(int argc, char **argv)
{
    static const arg_flag flags[] = {{"repo", 1}, {"db", 1}, {"json", 0}, {NULL, 0}};
    grove_ctx *ctx;
    grove_instance inst = {0};
    grove_relationship_list rels = {0};
    grove_checkpoint cp = {0};
    grove_event_list events = {0};
    gitops_state git = {0};
    db_event_filter f = {0};
    grove_err err = GROVE_ERR_INIT, gerr = GROVE_ERR_INIT;
    int found = 0, have_git;
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
    if (instance_reconcile_all(ctx, NULL, &err) != 0)
        fprintf(stderr, "grove show: warning: liveness not checked: %s\n", err.msg);
    f.instance_id = a.pos[0];
    f.success = -1;
    f.limit = 10;
    rc = 1;
    if (db_instance_get(ctx->db, a.pos[0], &inst, &err) != 0 ||
        db_relationships(ctx->db, a.pos[0], &rels, &err) != 0 ||
        db_checkpoint_get(ctx->db, a.pos[0], NULL, &cp, &found, &err) != 0 ||
        db_event_list(ctx->db, &f, &events, &err) != 0) {
        fprintf(stderr, "grove show: %s\n", err.msg);
        goto done;
    }
    have_git = gitops_worktree_state(inst.worktree_path, inst.base_commit, &git, &gerr) == 0;
    if (args_get(&a, flags, "json")) {
        json_t *all = json_pack("{s:o, s:o, s:o, s:o, s:o}", "instance", wire_instance(&inst),
                                "relationships", wire_relationships(&rels), "last_checkpoint",
                                found ? wire_checkpoint(&cp) : json_null(), "git",
                                have_git ? wire_git_state(&git) : json_null(), "recent_events",
                                wire_events(&events));

        cli_print_json(all);
        json_decref(all);
    } else {
        show_text(&inst, &rels, found ? &cp : NULL, have_git ? &git : NULL, &events);
    }
    rc = 0;
done:
    gitops_state_free(&git);
    db_instance_free(&inst);
    db_relationship_list_free(&rels);
    db_checkpoint_free(&cp);
    db_event_list_free(&events);
    ctx_free(ctx);
    return rc;
}

/*
 * `grove migrate status --json`: [{version, name, checksum, applied,
 * applied_at, state[, applied_checksum]}].
 */
static json_t *migrations_json(const migrate_status_list *list)
{
    json_t *arr = json_array();
    size_t i;

    for (i = 0; arr && i < list->n; i++) {
        const migrate_row *r = &list->v[i];
        json_t *o = json_pack("{s:i, s:o, s:o, s:b, s:o, s:s}", "version", r->version, "name",
                              wire_str(r->name), "checksum", wire_str(r->checksum), "applied",
                              r->applied, "applied_at", wire_str(r->applied_at), "state", r->state);

        if (o && r->applied_checksum)
            json_object_set_new(o, "applied_checksum", wire_str(r->applied_checksum));
        if (!o || json_array_append_new(arr, o) != 0) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

int cmd_migrate(int argc, char **argv)
{
    static const arg_flag flags[] = {{"repo", 1}, {"db", 1}, {"to", 1}, {"json", 0}, {NULL, 0}};
    const char *to_s;
    grove_ctx *ctx;
    grove_err err = GROVE_ERR_INIT;
    migrate_status_list status = {0};
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
            int applied = 0;

            rc = migrate_status(ctx->db, &status, &err);
            for (i = 0; i < status.n; i++)
                if (status.v[i].applied)
                    applied = status.v[i].version;
            migrate_status_free(&status);
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
        json_t *arr = migrations_json(&status);

        cli_print_json(arr);
        json_decref(arr);
    } else {
        for (i = 0; i < status.n; i++)
            printf("%04d  %-24s %-8s %s\n", status.v[i].version, cli_or(status.v[i].name, "?"),
                   status.v[i].state, cli_or(status.v[i].applied_at, ""));
    }
    migrate_status_free(&status);
    ctx_free(ctx);
    return 0;
}

/*
 * The gc report as --json prints it: [{kind, subject, action, detail}], the
 * findings first; then one {kind: "instance", subject: id, action, detail,
 * class, merged_by, worktree_path, size_bytes} per instance whose worktree
 * exists, and, when there was one, {kind: "disk-total", subject: the
 * worktrees base, action: "measured", detail, size_bytes, worktrees}.
 */
static json_t *gc_report_json(const gc_report *r, const char *base)
{
    json_t *arr = json_array();
    char total[32], detail[96];
    size_t i;

    for (i = 0; arr && i < r->n; i++)
        json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s}", "kind", r->v[i].kind,
                                             "subject", r->v[i].subject, "action", r->v[i].action,
                                             "detail", r->v[i].detail));
    for (i = 0; arr && i < r->ninst; i++) {
        const gc_instance *g = &r->inst[i];

        json_array_append_new(
            arr, json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:s, s:o}", "kind", "instance",
                           "subject", g->id, "action", g->action, "detail", g->detail, "class",
                           gc_class_name(g->cls), "merged_by", wire_str(g->merged_by),
                           "worktree_path", g->worktree_path, "size_bytes",
                           g->size_bytes < 0 ? json_null() : json_integer(g->size_bytes)));
    }
    if (arr && r->ninst) {
        size_text((long long)r->total_bytes, total, sizeof(total));
        snprintf(detail, sizeof(detail), "%zu worktree%s, %s", r->ninst, r->ninst == 1 ? "" : "s",
                 total);
        json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s, s:I, s:I}", "kind", "disk-total",
                                             "subject", base, "action", "measured", "detail",
                                             detail, "size_bytes", (json_int_t)r->total_bytes,
                                             "worktrees", (json_int_t)r->ninst));
    }
    return arr;
}

/* The text form of `grove gc`: the findings, then the instances and the total. */
static void gc_report_print(const gc_report *r)
{
    char size[32];
    size_t i;

    if (r->n == 0 && r->ninst == 0) {
        printf("nothing to do\n");
        return;
    }
    for (i = 0; i < r->n; i++)
        printf("%-16s %-14s %s%s%s\n", r->v[i].kind, r->v[i].action, r->v[i].subject,
               *r->v[i].detail ? ": " : "", r->v[i].detail);
    if (r->ninst == 0)
        return;
    if (r->n)
        printf("\n");
    printf("%-22s %-9s %10s %-13s %s\n", "INSTANCE", "CLASS", "SIZE", "ACTION", "WHY");
    for (i = 0; i < r->ninst; i++) {
        const gc_instance *g = &r->inst[i];

        size_text(g->size_bytes, size, sizeof(size));
        printf("%-22s %-9s %10s %-13s %s\n", g->id, gc_class_name(g->cls), size, g->action,
               g->detail);
    }
    size_text((long long)r->total_bytes, size, sizeof(size));
    printf("total: %zu worktree%s, %s on disk\n", r->ninst, r->ninst == 1 ? "" : "s", size);
}

int cmd_gc(int argc, char **argv)
{
    static const arg_flag flags[] = {{"repo", 1},   {"db", 1},   {"dry-run", 0},
                                     {"merged", 0}, {"json", 0}, {NULL, 0}};
    grove_ctx *ctx;
    grove_err err = GROVE_ERR_INIT;
    gc_report report = {0};
    gc_opts o = {0};
    args a;
    int rc;

    if ((rc = args_parse(&a, "gc", flags, argc, argv)) != 0)
        return rc;
    if (a.help) {
        printf("usage: grove gc [--merged] [--dry-run] [--json] [--repo DIR] [--db FILE]\n\n"
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
               "Then it classifies every instance whose worktree exists, first match wins:\n"
               "  in_use    its agent is alive\n"
               "  dirty     uncommitted files in its worktree\n"
               "  merged    its commits are in its base branch, or its changes already are\n"
               "            (squash merge, rebase, cherry-picks), or its pull request is\n"
               "            merged on GitHub (when a forge and a token are configured)\n"
               "  unpushed  commits that exist nowhere else\n"
               "  clean     none of these (also a fresh instance with no commits)\n"
               "and reports each worktree's size on disk and the total.\n"
               "--merged   also terminates the merged instances and removes their worktrees\n"
               "           and branches (never in_use or dirty ones).\n"
               "--dry-run  reports what it would do and changes nothing.\n");
        return 0;
    }
    if (a.npos) {
        fprintf(stderr, "grove gc: unexpected argument '%s'\n", a.pos[0]);
        return 2;
    }
    o.dry_run = args_get(&a, flags, "dry-run") != NULL;
    o.remove_merged = args_get(&a, flags, "merged") != NULL;
    ctx = cli_open_ctx("gc", &a, flags, 1);
    if (!ctx)
        return 1;
    rc = 1;
    if (gc_run(ctx, &o, &report, &err) != 0) {
        fprintf(stderr, "grove gc: %s\n", err.msg);
    } else if (args_get(&a, flags, "json")) {
        json_t *j = gc_report_json(&report, ctx->worktrees_base);

        cli_print_json(j);
        json_decref(j);
        rc = 0;
    } else {
        gc_report_print(&report);
        rc = 0;
    }
    gc_report_free(&report);
    ctx_free(ctx);
    return rc;
}

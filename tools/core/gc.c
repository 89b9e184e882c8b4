/*
 * gc: the policy of `grove gc` (see tools/core/gc.h). Moved here from the
 * command line so that any front-end can run it; tools/cli/cli.c prints
 * the report.
 */
#include "tools/core/gc.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "db/queries.h"
#include "tools/agents/agent.h"
#include "tools/core/instance.h"
#include "tools/core/land.h"

/* Appends one finding (strings copied); a NULL subject is skipped. 0, or -1 when memory ran out. */
static int gc_note(gc_report *r, const char *kind, const char *subject, const char *action,
                   const char *detail)
{
    gc_finding *f;

    if (!subject)
        return 0;
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 16;
        gc_finding *v = realloc(r->v, cap * sizeof(*v));

        if (!v)
            return -1;
        r->v = v;
        r->cap = cap;
    }
    f = &r->v[r->n];
    f->kind = strdup(kind);
    f->subject = strdup(subject);
    f->action = strdup(action);
    f->detail = strdup(detail ? detail : "");
    if (!f->kind || !f->subject || !f->action || !f->detail) {
        free(f->kind);
        free(f->subject);
        free(f->action);
        free(f->detail);
        return -1;
    }
    r->n++;
    return 0;
}

void gc_report_free(gc_report *r)
{
    size_t i;

    if (!r)
        return;
    for (i = 0; i < r->n; i++) {
        free(r->v[i].kind);
        free(r->v[i].subject);
        free(r->v[i].action);
        free(r->v[i].detail);
    }
    free(r->v);
    memset(r, 0, sizeof(*r));
}

/* 1 when some instance row has this worktree path. */
static int gc_row_has_path(const grove_instance_list *rows, const char *path)
{
    size_t i;

    for (i = 0; i < rows->n; i++)
        if (rows->v[i].worktree_path && strcmp(rows->v[i].worktree_path, path) == 0)
            return 1;
    return 0;
}

/* One interrupted creation: completed, undone or kept (see gc_interrupted). */
static int gc_interrupted_create(grove_ctx *ctx, int dry, const gitops_interrupted *c,
                                 gc_report *report, grove_err *err)
{
    const char *subject = c->path ? c->path : c->name;
    grove_err lerr = GROVE_ERR_INIT;
    gitops_loss loss = {0};
    grove_instance row;
    char detail[512];
    int recorded;

    if (c->alive) {
        gc_note(report, "interrupted-create", subject, "kept",
                "being created by a running grove process");
        return 0;
    }
    recorded = db_instance_get(ctx->db, c->name, &row, &lerr) == 0;
    db_instance_free(&row);
    if (recorded) {
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
static int gc_interrupted(grove_ctx *ctx, int dry, gc_report *report, grove_err *err)
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
static int gc_branches(grove_ctx *ctx, int dry, const grove_instance_list *rows,
                       const gitops_worktree_info *wts, size_t nwts, gc_report *report,
                       grove_err *err)
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
        char detail[512];
        int used = 0;

        for (k = 0; k < rows->n && !used; k++)
            used = rows->v[k].branch_name && strcmp(rows->v[k].branch_name, names[i]) == 0;
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

/* Step 3: git worktree entries whose folder is gone. */
static void gc_stale_entries(grove_ctx *ctx, int dry, const gitops_worktree_info *wts, size_t nwts,
                             gc_report *report)
{
    size_t i;

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
}

/* Step 4, one folder under the base with no row: removed only when that loses no work. */
static void gc_orphan_folder(grove_ctx *ctx, int dry, const char *path,
                             const gitops_worktree_info *wts, size_t nwts, gc_report *report)
{
    const gitops_worktree_info *wt = NULL;
    gitops_removal_target target = {0}; /* owned: the removal checked, freed at the end */
    gitops_loss loss = {0};
    grove_err lerr = GROVE_ERR_INIT;
    char detail[512];
    struct stat lsb;
    size_t i;

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
    } else if (gitops_removal_resolve(ctx->repo, wt->name, path, ctx->worktrees_base, &target,
                                      &lerr) != 0) {
        /* The same rule as terminate_instance: only git's own folder, inside the base. */
        gc_note(report, "orphan-worktree", path, "kept", lerr.msg);
    } else if (gitops_removal_loss(ctx->repo,
                                   target.plan.action == GITOPS_REMOVAL_FOLDER ? target.plan.folder
                                                                               : NULL,
                                   wt->branch, NULL, &loss, &lerr) != 0) {
        gc_note(report, "orphan-worktree", path, "kept", lerr.msg);
    } else if (loss.dirty_files || loss.unique_commits) {
        snprintf(detail, sizeof(detail),
                 "branch '%s' has %zu uncommitted files and %zu commits that exist nowhere "
                 "else",
                 wt->branch, loss.dirty_files, loss.unique_commits);
        gc_note(report, "orphan-worktree", path, "kept", detail);
    } else if (dry) {
        gc_note(report, "orphan-worktree", path, "would remove", wt->branch);
    } else if (gitops_worktree_remove_target(ctx->repo, &target, wt->branch, &lerr) == 0) {
        gc_note(report, "orphan-worktree", path, "removed", wt->branch);
    } else {
        gc_note(report, "orphan-worktree", path, "kept", lerr.msg);
    }
    gitops_removal_target_free(&target);
}

/* Step 4: folders under the worktrees base that no instance row names. */
static void gc_orphan_folders(grove_ctx *ctx, int dry, const grove_instance_list *rows,
                              const gitops_worktree_info *wts, size_t nwts, gc_report *report)
{
    DIR *dir = opendir(ctx->worktrees_base);
    struct dirent *de;

    while (dir && (de = readdir(dir)) != NULL) {
        char *path;

        if (de->d_name[0] == '.')
            continue;
        path = grove_asprintf("%s/%s", ctx->worktrees_base, de->d_name);
        if (path && !gc_row_has_path(rows, path))
            gc_orphan_folder(ctx, dry, path, wts, nwts, report);
        free(path);
    }
    if (dir)
        closedir(dir);
}

/* Step 6: running rows whose worktree folder is gone are marked terminated. */
static void gc_missing_worktrees(grove_ctx *ctx, int dry, const grove_instance_list *rows,
                                 gc_report *report)
{
    size_t i;

    for (i = 0; i < rows->n; i++) {
        const grove_instance *v = &rows->v[i];
        struct stat sb;
        grove_err terr = GROVE_ERR_INIT;

        if (strcmp(v->status, "running") != 0 ||
            (v->worktree_path && stat(v->worktree_path, &sb) == 0))
            continue;
        if (dry)
            gc_note(report, "missing-worktree", v->id, "would terminate", v->worktree_path);
        else if (db_instance_terminate(ctx->db, v->id, NULL, &terr) == 0 &&
                 instance_note_ended(ctx, v->id, "gc: its worktree folder is gone", &terr) == 0)
            gc_note(report, "missing-worktree", v->id, "terminated", v->worktree_path);
        else
            gc_note(report, "missing-worktree", v->id, "kept", terr.msg);
    }
}

int gc_run(grove_ctx *ctx, int dry, gc_report *out, grove_err *err)
{
    gitops_worktree_info *wts = NULL;
    grove_instance_list rows = {0};
    size_t nwts = 0, ended = 0;
    int rc = -1;

    memset(out, 0, sizeof(*out));
    /* 1. liveness */
    if (!dry && instance_reconcile_all(ctx, &ended, err) != 0)
        goto done;
    if (ended) {
        char n[32];

        snprintf(n, sizeof(n), "%zu", ended);
        gc_note(out, "dead-agent", n, "terminated", "instances whose agent is gone");
    }
    /* 2. creations and removals a killed grove process left half-way */
    if (gc_interrupted(ctx, dry, out, err) != 0 ||
        (!dry && land_recover(ctx, NULL, NULL, err) != 0))
        goto done;
    /*
     * Worktrees before rows: a creation unlocks its worktree only after
     * recording its row, so an unlocked worktree listed here has its row
     * in what is read next.
     */
    if (gitops_worktree_list(ctx->repo, &wts, &nwts, err) != 0 ||
        instance_list_all(ctx, NULL, &rows, err) != 0)
        goto done;
    gc_stale_entries(ctx, dry, wts, nwts, out);                 /* 3 */
    gc_orphan_folders(ctx, dry, &rows, wts, nwts, out);         /* 4 */
    if (gc_branches(ctx, dry, &rows, wts, nwts, out, err) != 0) /* 5 */
        goto done;
    gc_missing_worktrees(ctx, dry, &rows, out); /* 6 */
    rc = 0;
done:
    gitops_worktree_list_free(wts, nwts);
    db_instance_list_free(&rows);
    return rc;
}

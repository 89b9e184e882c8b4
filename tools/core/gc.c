/*
 * gc: the policy of `grove gc` (see tools/core/gc.h). Moved here from the
 * command line so that any front-end can run it; tools/cli/cli.c prints
 * the report.
 */
#include "tools/core/gc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "db/queries.h"
#include "tools/agents/agent.h"
#include "tools/base/secret.h"
#include "tools/core/github.h"
#include "tools/core/instance.h"
#include "tools/core/terminate.h"
#include "tools/forge/forge.h"
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
    for (i = 0; i < r->ninst; i++) {
        free(r->inst[i].id);
        free(r->inst[i].worktree_path);
        free(r->inst[i].detail);
        free(r->inst[i].action);
    }
    free(r->inst);
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

/* ---- step 7: classes, sizes, `--merged` --------------------------------- */

const char *gc_class_name(gc_class c)
{
    switch (c) {
    case GC_CLASS_DIRTY:
        return "dirty";
    case GC_CLASS_UNPUSHED:
        return "unpushed";
    case GC_CLASS_MERGED:
        return "merged";
    case GC_CLASS_IN_USE:
        return "in_use";
    case GC_CLASS_CLEAN:
        break;
    }
    return "clean";
}

/* Deeper folders are not walked (one open descriptor per level): *partial is set. */
#define DU_MAX_DEPTH 256

/*
 * Adds to *bytes the blocks of every entry in the folder open as `fd`
 * (taken over: closed here) on device `dev`, and below it. A recursive walk
 * of its own rather than nftw(), whose callback has no argument to sum into
 * (grove keeps no globals).
 */
static void du_dir(int fd, dev_t dev, unsigned depth, unsigned long long *bytes, int *partial)
{
    DIR *dir = fdopendir(fd); /* owned: closes fd with it */
    struct dirent *de;

    if (!dir) {
        close(fd);
        *partial = 1;
        return;
    }
    while ((de = readdir(dir)) != NULL) {
        struct stat st;
        int sub;

        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (fstatat(dirfd(dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            *partial = 1;
            continue;
        }
        if (st.st_dev != dev)
            continue; /* a mount point: another file system, not this worktree's */
        *bytes += (unsigned long long)st.st_blocks * 512ULL;
        if (!S_ISDIR(st.st_mode))
            continue;
        if (depth + 1 >= DU_MAX_DEPTH) {
            *partial = 1;
            continue;
        }
        sub = openat(dirfd(dir), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sub < 0 || fstat(sub, &st) != 0 || st.st_dev != dev) {
            /* gone or replaced since fstatat (O_NOFOLLOW: never a link) */
            if (sub >= 0)
                close(sub);
            *partial = 1;
            continue;
        }
        du_dir(sub, dev, depth + 1, bytes, partial);
    }
    closedir(dir);
}

int gc_disk_usage(const char *path, unsigned long long *bytes, int *partial, grove_err *err)
{
    struct stat st;
    int fd, part = 0;

    *bytes = 0;
    if (partial)
        *partial = 0;
    fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return grove_fail(err, GROVE_ENOTFOUND, "worktree folder '%s' does not exist", path);
        return grove_fail(err, GROVE_EIO,
                          "cannot measure '%s': %s (a folder, not a link, is "
                          "expected)",
                          path, strerror(errno));
    }
    if (fstat(fd, &st) != 0) {
        int e = errno;

        close(fd);
        return grove_fail(err, GROVE_EIO, "cannot measure '%s': %s", path, strerror(e));
    }
    *bytes = (unsigned long long)st.st_blocks * 512ULL;
    du_dir(fd, st.st_dev, 0, bytes, &part);
    if (partial)
        *partial = part;
    return 0;
}

/* GitHub, asked about pull requests at most once per gc run for its set-up. */
typedef struct gc_forge {
    int ready;           /* 1: the fields below are set up */
    int usable;          /* a forge applies and a token is available */
    int unreachable;     /* a request failed: no more are made in this run */
    github_target where; /* owned */
    char *token;         /* owned: secret_free() */
    char why[300];       /* the first failure, for the details */
} gc_forge;

static void gc_forge_free(gc_forge *f)
{
    github_target_free(&f->where);
    secret_free(f->token);
    f->token = NULL;
}

/* GitHub answers a pull request question within this (gc must not hang on it). */
#define GC_FORGE_TIMEOUT_MS 5000

/*
 * 1 when pull request `number` is merged on GitHub and its head is `head`
 * (the branch's current head: commits made after the merge are not in
 * it), 0 when not or when GitHub cannot be asked (then `note` says why).
 */
static int gc_pr_merged(grove_ctx *ctx, gc_forge *f, long long number, const char *head, char *note,
                        size_t nnote)
{
    grove_err ferr = GROVE_ERR_INIT;
    forge_pull pull;
    forge_opts fo = {0};

    *note = '\0';
    if (!f->ready) {
        char *remote = ctx_setting(ctx, NULL, "git.remote"); /* owned */
        char *url = NULL;                                    /* owned */

        f->ready = 1;
        if (gitops_remote_url(ctx->repo, remote ? remote : "origin", &url, &ferr) != 0)
            url = NULL; /* no remote: only an explicit github.api_url + github.repo apply */
        github_find_target(ctx, url, &f->where);
        free(url);
        free(remote);
        if (f->where.api_url && f->where.owner_repo)
            f->token = ctx_github_token(ctx);
        f->usable = f->where.api_url && f->where.owner_repo && f->token;
    }
    if (!f->usable)
        return 0; /* no forge configured: git alone decides, as documented */
    if (f->unreachable) {
        snprintf(note, nnote, "pull request #%lld not checked: %s", number, f->why);
        return 0;
    }
    fo.api_url = f->where.api_url;
    fo.token = f->token;
    fo.owner_repo = f->where.owner_repo;
    fo.connect_timeout_ms = GC_FORGE_TIMEOUT_MS;
    fo.timeout_ms = GC_FORGE_TIMEOUT_MS;
    if (forge_get_pull(&fo, number, &pull, &ferr) != 0) {
        if (ferr.code == GROVE_EIO) {
            f->unreachable = 1;
            snprintf(f->why, sizeof(f->why), "GitHub could not be reached (%s)", ferr.msg);
        }
        snprintf(note, nnote, "pull request #%lld not checked: %s", number, ferr.msg);
        return 0;
    }
    if (pull.merged && strcmp(pull.head_sha, head) != 0) {
        snprintf(note, nnote,
                 "pull request #%lld is merged, but at %.12s: the branch has moved since", number,
                 *pull.head_sha ? pull.head_sha : "an unknown commit");
        return 0;
    }
    return pull.merged;
}

/* 1 when the agent of running instance `v` is alive (its tmux session or its process). */
static int gc_agent_alive(const grove_instance *v, char **sessions, size_t nsessions)
{
    size_t k;

    if (strcmp(v->status, "running") != 0)
        return 0;
    for (k = 0; v->session_name && k < nsessions; k++)
        if (strcmp(sessions[k], v->session_name) == 0)
            return 1;
    return v->pid > 0 && agent_pid_alive(v->pid);
}

/*
 * Whether `v`'s branch is in its base branch (local, else <remote>/<base>)
 * by git alone. *m gets the facts; `detail` why, or what failed.
 */
static int gc_git_merged(grove_ctx *ctx, const grove_instance *v, gitops_merged *m, char *detail,
                         size_t ndetail)
{
    char *remote = NULL, *tracking = NULL; /* owned, freed below */
    const char *into = v->base_branch;
    grove_err gerr = GROVE_ERR_INIT;
    gitops_merged rm;

    if (!v->base_branch || !*v->base_branch) {
        snprintf(detail, ndetail, "no base branch recorded: merged not checked");
        return 0;
    }
    if (gitops_branch_merged(ctx->repo, v->branch_name, v->base_branch, v->base_commit, m, &gerr) !=
        0) {
        snprintf(detail, ndetail, "merged not checked: %s", gerr.msg);
        return 0;
    }
    if (m->own_commits && m->how == GITOPS_MERGED_NO) {
        /* Merged on the remote and fetched, but the local base not updated yet. */
        remote = ctx_setting(ctx, NULL, "git.remote");
        tracking = grove_asprintf("%s/%s", remote ? remote : "origin", v->base_branch);
        if (tracking &&
            gitops_branch_merged(ctx->repo, v->branch_name, tracking, v->base_commit, &rm, &gerr) ==
                0 &&
            rm.how != GITOPS_MERGED_NO) {
            *m = rm;
            into = tracking;
        }
    }
    if (m->how == GITOPS_MERGED_ANCESTOR)
        snprintf(detail, ndetail, "its commits are in '%s'", into);
    else if (m->how == GITOPS_MERGED_TREE)
        snprintf(detail, ndetail,
                 "its changes are already in '%s' (squash-merged, rebased or cherry-picked)", into);
    free(tracking);
    free(remote);
    return m->how != GITOPS_MERGED_NO;
}

/* Classifies `v` (its worktree folder exists) into *out's cls, merged_by and detail. */
static int gc_classify(grove_ctx *ctx, const grove_instance *v, char **sessions, size_t nsessions,
                       gc_forge *forge, gc_instance *out, char merged_head[41])
{
    grove_err lerr = GROVE_ERR_INIT;
    gitops_merged m = {0};
    gitops_loss loss = {0};
    char detail[900] = "", note[400] = "";
    int have_loss;

    merged_head[0] = '\0';
    if (gc_agent_alive(v, sessions, nsessions)) {
        out->cls = GC_CLASS_IN_USE;
        if (v->session_name)
            snprintf(detail, sizeof(detail), "its agent runs (tmux session %s)", v->session_name);
        else
            snprintf(detail, sizeof(detail), "its agent runs (pid %lld)", v->pid);
        goto done;
    }
    have_loss = gitops_removal_loss(ctx->repo, v->worktree_path, v->branch_name, v->base_commit,
                                    &loss, &lerr) == 0;
    if (!have_loss && lerr.code == GROVE_ENOTFOUND) {
        /* Its branch is gone (deleted outside grove): only the folder can be looked at. */
        size_t dirty = 0;
        gitops_state st = {0};

        if (gitops_worktree_state(v->worktree_path, NULL, &st, &lerr) == 0)
            dirty = st.ndirty;
        gitops_state_free(&st);
        out->cls = dirty ? GC_CLASS_DIRTY : GC_CLASS_CLEAN;
        snprintf(detail, sizeof(detail),
                 "its branch '%s' is gone (deleted outside grove)%s; 'grove show %s' tells more",
                 v->branch_name ? v->branch_name : "?", dirty ? ", uncommitted files" : "", v->id);
        goto done;
    }
    if (!have_loss) {
        /* Unknown is treated as work that exists nowhere else: never removed by --merged. */
        out->cls = GC_CLASS_UNPUSHED;
        snprintf(detail, sizeof(detail), "could not be checked: %s", lerr.msg);
        goto done;
    }
    if (loss.dirty_files) {
        out->cls = GC_CLASS_DIRTY;
        snprintf(detail, sizeof(detail), "%zu uncommitted file%s", loss.dirty_files,
                 loss.dirty_files == 1 ? "" : "s");
        goto done;
    }
    if (gc_git_merged(ctx, v, &m, detail, sizeof(detail))) {
        out->cls = GC_CLASS_MERGED;
        out->merged_by = m.how == GITOPS_MERGED_ANCESTOR ? "ancestor" : "tree";
        if (m.how == GITOPS_MERGED_TREE)
            memcpy(merged_head, m.head, 41);
        goto done;
    }
    if (m.own_commits && v->pr_number > 0 &&
        gc_pr_merged(ctx, forge, v->pr_number, m.head, note, sizeof(note))) {
        out->cls = GC_CLASS_MERGED;
        out->merged_by = "pull-request";
        memcpy(merged_head, m.head, 41);
        snprintf(detail, sizeof(detail), "pull request #%lld is merged", v->pr_number);
        goto done;
    }
    if (loss.unique_commits) {
        out->cls = GC_CLASS_UNPUSHED;
        snprintf(detail + strlen(detail), sizeof(detail) - strlen(detail),
                 "%s%zu commit%s that exist%s nowhere else (push it: create_pull_request)",
                 *detail ? "; " : "", loss.unique_commits, loss.unique_commits == 1 ? "" : "s",
                 loss.unique_commits == 1 ? "s" : "");
    } else {
        out->cls = GC_CLASS_CLEAN;
        if (!*detail)
            snprintf(detail, sizeof(detail), "%s",
                     m.own_commits ? "its commits are on a remote or another branch, not in "
                                     "its base"
                                   : "no commits of its own");
    }
done:
    if (*note)
        snprintf(detail + strlen(detail), sizeof(detail) - strlen(detail), "%s%s",
                 *detail ? "; " : "", note);
    out->detail = strdup(detail);
    return out->detail ? 0 : -1;
}

/* Appends an instance entry (zeroed) to r; NULL when memory ran out. */
static gc_instance *gc_instance_add(gc_report *r)
{
    if (r->ninst == r->cap_inst) {
        size_t cap = r->cap_inst ? r->cap_inst * 2 : 16;
        gc_instance *v = realloc(r->inst, cap * sizeof(*v));

        if (!v)
            return NULL;
        r->inst = v;
        r->cap_inst = cap;
    }
    memset(&r->inst[r->ninst], 0, sizeof(r->inst[0]));
    return &r->inst[r->ninst++];
}

/*
 * 2b: a sync_instance killed between its branch move and its checkout
 * update left a journal (<common dir>/grove/syncing/<id>); finish it, as the
 * next sync of that instance would. One that cannot be finished without
 * touching somebody's edits is reported, and left alone.
 */
static void gc_syncs(grove_ctx *ctx, const grove_instance_list *rows, gc_report *out)
{
    size_t i;

    for (i = 0; i < rows->n; i++) {
        const grove_instance *v = &rows->v[i];
        grove_err err = GROVE_ERR_INIT;
        struct stat sb;
        int finished = 0;

        if (strcmp(v->status, "running") != 0 || !v->worktree_path ||
            stat(v->worktree_path, &sb) != 0)
            continue;
        if (gitops_sync_recover(ctx->repo, v->id, v->worktree_path, &finished, &err) != 0)
            gc_note(out, "sync-interrupted", v->id, "kept", err.msg);
        else if (finished)
            gc_note(out, "sync-interrupted", v->id, "finished",
                    "a sync_instance that was killed half-way: its worktree now matches its "
                    "branch");
    }
}

/* Step 7 (see gc_run()). */
static int gc_instances(grove_ctx *ctx, const gc_opts *o, const grove_instance_list *rows,
                        gc_report *out, grove_err *err)
{
    char **sessions = NULL; /* owned, freed at done */
    size_t nsessions = 0, i;
    gc_forge forge;
    grove_err serr = GROVE_ERR_INIT;
    int need_sessions = 0, rc = -1;

    memset(&forge, 0, sizeof(forge));
    for (i = 0; i < rows->n && !need_sessions; i++)
        need_sessions = rows->v[i].session_name && strcmp(rows->v[i].status, "running") == 0;
    if (need_sessions && agent_list_sessions(&sessions, &nsessions, &serr) != 0) {
        /* Without the sessions a live agent could look dead: nothing is removed then. */
        log_warn("gc: tmux sessions not listed: %s", serr.msg);
    }
    for (i = 0; i < rows->n; i++) {
        const grove_instance *v = &rows->v[i];
        grove_err lerr = GROVE_ERR_INIT;
        unsigned long long bytes = 0;
        char merged_head[41];
        const char *action = "kept";
        char *removal_error = NULL; /* owned */
        struct stat sb;
        gc_instance *gi;
        int partial = 0;

        if (!v->worktree_path || stat(v->worktree_path, &sb) != 0 || !S_ISDIR(sb.st_mode))
            continue; /* removed already, or reported by step 6 */
        gi = gc_instance_add(out);
        if (!gi || !(gi->id = strdup(v->id)) || !(gi->worktree_path = strdup(v->worktree_path))) {
            grove_nomem(err);
            goto done;
        }
        gi->size_bytes = -1;
        if (gc_disk_usage(v->worktree_path, &bytes, &partial, &lerr) == 0) {
            gi->size_bytes = (long long)bytes;
            out->total_bytes += bytes;
        }
        if (gc_classify(ctx, v, sessions, nsessions, &forge, gi, merged_head) != 0) {
            grove_nomem(err);
            goto done;
        }
        if (o->remove_merged && gi->cls == GC_CLASS_MERGED && serr.code != GROVE_OK) {
            action = "kept";
            removal_error = grove_asprintf("not removed: tmux sessions could not be listed, so "
                                           "its agent may run (%s)",
                                           serr.msg);
        } else if (o->remove_merged && gi->cls == GC_CLASS_MERGED && o->dry_run) {
            action = "would remove";
        } else if (o->remove_merged && gi->cls == GC_CLASS_MERGED) {
            terminate_opts to = {0};
            terminate_result tr = {0};

            to.remove_worktree = 1;
            to.merged_head = *merged_head ? merged_head : NULL;
            if (terminate_instance(ctx, v->id, &to, &tr, NULL, &lerr) == 0 && tr.worktree_removed)
                action = "removed";
            else
                removal_error = grove_asprintf("not removed: %s", lerr.msg);
            terminate_result_free(&tr);
        }
        if (partial || removal_error) {
            char *d = grove_asprintf("%s%s%s%s", gi->detail,
                                     partial ? "; size: some entries could not be read" : "",
                                     removal_error ? "; " : "", removal_error ? removal_error : "");

            free(removal_error);
            if (!d) {
                grove_nomem(err);
                goto done;
            }
            free(gi->detail);
            gi->detail = d;
        }
        if (!(gi->action = strdup(action))) {
            grove_nomem(err);
            goto done;
        }
    }
    rc = 0;
done:
    gc_forge_free(&forge);
    agent_free_list(sessions, nsessions);
    return rc;
}

int gc_run(grove_ctx *ctx, const gc_opts *o, gc_report *out, grove_err *err)
{
    gitops_worktree_info *wts = NULL; /* owned, freed at done */
    grove_instance_list rows = {0};   /* owned, freed at done */
    size_t nwts = 0, ended = 0;
    int dry = o->dry_run, rc = -1;

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
    if (!dry)
        gc_syncs(ctx, &rows, out);                              /* 2b */
    gc_stale_entries(ctx, dry, wts, nwts, out);                 /* 3 */
    gc_orphan_folders(ctx, dry, &rows, wts, nwts, out);         /* 4 */
    if (gc_branches(ctx, dry, &rows, wts, nwts, out, err) != 0) /* 5 */
        goto done;
    gc_missing_worktrees(ctx, dry, &rows, out); /* 6 */
    db_instance_list_free(&rows);
    /* 7: read again: steps 1 and 6 changed rows */
    if (instance_list_all(ctx, NULL, &rows, err) != 0 || gc_instances(ctx, o, &rows, out, err) != 0)
        goto done;
    rc = 0;
done:
    gitops_worktree_list_free(wts, nwts);
    db_instance_list_free(&rows);
    return rc;
}

/*
 * removal: which folder removing an instance's worktree may delete, decided
 * on facts alone (gitops_removal_decide; the table is in git.h). Gathering
 * the facts and the removal itself are in worktree.c.
 */
#include "tools/git/git_internal.h"

#include <stdio.h>
#include <string.h>

/* 1 when `path` is `dir` or lies below it (both absolute, no trailing slash but "/"). */
static int path_within(const char *path, const char *dir)
{
    size_t n = strlen(dir);

    if (strcmp(dir, "/") == 0)
        return path[0] == '/';
    return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* The last component of `path` (after its last '/'); "" when it ends in '/'. */
static const char *path_leaf(const char *path)
{
    const char *slash = strrchr(path, '/');

    return slash ? slash + 1 : path;
}

/* Refuses: the folder that would go is not inside the worktrees base. */
static int refuse_outside(const gitops_removal_facts *f, const char *what, const char *resolved,
                          grove_err *err)
{
    const char *base = f->base ? f->base : "?";

    if (resolved)
        return grove_fail(err, GROVE_EINVAL,
                          "refusing to remove '%s': it is not inside the worktrees folder '%s' "
                          "(%s '%s'), not even with force; remove it yourself if it is junk",
                          f->recorded, base, what, resolved);
    return grove_fail(err, GROVE_EINVAL,
                      "refusing to remove '%s': it is not inside the worktrees folder '%s' (%s), "
                      "not even with force; remove it yourself if it is junk",
                      f->recorded, base, what);
}

/* Refuses: git's record of the worktree and the recorded folder disagree. */
static int refuse_moved(const gitops_removal_facts *f, const char *git_says, grove_err *err)
{
    return grove_fail(err, GROVE_ECONFLICT,
                      "refusing to remove the worktree '%s', not even with force: git's record of "
                      "it names '%s', not its folder '%s' (moved with 'git worktree move', or "
                      "replaced); move it back with \"git worktree move '%s' '%s'\", or remove it "
                      "yourself",
                      f->name, git_says, f->recorded, git_says, f->recorded);
}

int gitops_removal_decide(gitops_removal_plan *out, const gitops_removal_facts *f, grove_err *err)
{
    char expected[sizeof(out->folder)];
    const char *leaf;
    int git_folder = f->git_record && f->git_path && f->git_present;
    int n;

    memset(out, 0, sizeof(*out));
    out->action = GITOPS_REMOVAL_REFUSE;
    if (!f->name || !name_valid(f->name))
        return grove_fail(err, GROVE_EINVAL, "invalid worktree name '%s'", f->name ? f->name : "");
    if (!f->recorded || f->recorded[0] != '/')
        return grove_fail(err, GROVE_EINVAL,
                          "refusing to remove the worktree '%s': its recorded folder '%s' is not "
                          "an absolute path",
                          f->name, f->recorded ? f->recorded : "");
    /* Nothing on disk, neither where recorded nor where git says: no folder is deleted. */
    if (!f->recorded_present && !git_folder) {
        out->action = GITOPS_REMOVAL_RECORD;
        return 0;
    }
    leaf = path_leaf(f->recorded);
    if (!f->base_real || f->base_real[0] != '/')
        return refuse_outside(f, "the worktrees folder does not resolve", NULL, err);
    if (!name_valid(leaf) || !f->recorded_parent_real ||
        strcmp(f->recorded_parent_real, f->base_real) != 0)
        return refuse_outside(f, "its parent folder resolves to",
                              f->recorded_parent_real ? f->recorded_parent_real : "nothing", err);
    n = snprintf(expected, sizeof(expected), "%s/%s",
                 strcmp(f->base_real, "/") == 0 ? "" : f->base_real, leaf);
    if (n < 0 || (size_t)n >= sizeof(expected))
        return grove_fail(err, GROVE_EINVAL, "refusing to remove '%s': the path is too long",
                          f->recorded);
    if (f->recorded_present) {
        if (!f->recorded_real || !path_within(f->recorded_real, f->base_real))
            return refuse_outside(f, "it resolves to",
                                  f->recorded_real ? f->recorded_real : "nothing", err);
        if (f->recorded_is_link || strcmp(f->recorded_real, expected) != 0)
            return grove_fail(err, GROVE_ECONFLICT,
                              "refusing to remove '%s', not even with force: it is a symbolic "
                              "link or resolves to another folder ('%s'), not the worktree "
                              "folder itself; remove the link yourself",
                              f->recorded, f->recorded_real);
    } else {
        /* Recorded folder gone, git's folder present: the worktree was moved. */
        return refuse_moved(f, f->git_path, err);
    }
    if (!f->git_record)
        return grove_fail(err, GROVE_ECONFLICT,
                          "refusing to remove '%s', not even with force: git has no record of a "
                          "worktree '%s' (no admin folder worktrees/%s in the repository), so "
                          "nothing says the folder is that worktree; remove it yourself if it is "
                          "junk",
                          f->recorded, f->name, f->name);
    if (!f->git_path)
        return grove_fail(err, GROVE_ECONFLICT,
                          "refusing to remove '%s', not even with force: git's record of worktree "
                          "'%s' names no folder (its gitdir file is missing, unreadable or "
                          "relative); run \"git worktree repair '%s'\" and try again",
                          f->recorded, f->name, f->recorded);
    if (!f->git_present || f->git_is_link || !f->git_real || strcmp(f->git_real, expected) != 0) {
        if (f->git_real && !path_within(f->git_real, f->base_real))
            return refuse_moved(f, f->git_real, err);
        return refuse_moved(f, f->git_path, err);
    }
    if (!f->git_folder_ours)
        return grove_fail(err, GROVE_ECONFLICT,
                          "refusing to remove '%s', not even with force: its .git file does not "
                          "point to git's record of worktree '%s', so it is not that worktree; "
                          "remove it yourself if it is junk",
                          f->recorded, f->name);
    if ((f->main_real && path_within(f->main_real, expected)) ||
        (f->common_real && path_within(f->common_real, expected)))
        return grove_fail(err, GROVE_EINVAL,
                          "refusing to remove '%s': it is or holds the main worktree or the "
                          "repository itself",
                          f->recorded);
    out->action = GITOPS_REMOVAL_FOLDER;
    memcpy(out->folder, expected, (size_t)n + 1);
    return 0;
}

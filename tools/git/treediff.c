/*
 * treediff: which file paths differ between two trees, walking only the
 * subtrees whose ids differ (as `git diff-tree -r --name-only` does).
 *
 * libgit2's git_diff_tree_to_tree() iterates every entry of both trees
 * (it does not skip a subtree whose id is the same on both sides), so on a
 * repository of 5,000 files it reads every tree object and compares 10,000
 * entries even when three files changed. This walk costs the changed
 * folders only. The result is the same set of paths that
 * git_diff_tree_to_tree() (no rename detection) lists as old or new paths:
 * a file added, deleted, modified or with another mode; a file that became
 * a folder (or back) gives the file's path and every file under the folder.
 */
#include "tools/git/git_internal.h"

#include <stdlib.h>
#include <string.h>

typedef struct path_list {
    char **v;
    size_t n, cap;
} path_list;

static int list_add(path_list *l, const char *prefix, const char *name, grove_err *err)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        char **grown = realloc(l->v, (cap + 1) * sizeof(*grown));

        if (!grown)
            return grove_nomem(err);
        l->v = grown;
        l->cap = cap;
    }
    if (!(l->v[l->n] = grove_asprintf("%s%s", prefix, name)))
        return grove_nomem(err);
    l->n++;
    l->v[l->n] = NULL;
    return 0;
}

static int walk(git_repository *repo, git_tree *a, git_tree *b, const char *prefix, path_list *l,
                grove_err *err);

/* Every file of the tree with id `id` at prefix/name/ (the other side has none of them). */
static int walk_one(git_repository *repo, const git_oid *id, int a_side, const char *prefix,
                    const char *name, path_list *l, grove_err *err)
{
    git_tree *t = NULL;
    char *sub = grove_asprintf("%s%s/", prefix, name);
    int rc = -1;

    if (!sub)
        return grove_nomem(err);
    git_error_clear();
    if (git_tree_lookup(&t, repo, id) < 0) {
        fail_git(err, GROVE_EGIT, "cannot read the tree of '%s%s'", prefix, name);
        goto done;
    }
    rc = a_side ? walk(repo, t, NULL, sub, l, err) : walk(repo, NULL, t, sub, l, err);
done:
    git_tree_free(t);
    free(sub);
    return rc;
}

/* The differing paths of a and b (either may be NULL: empty), each under `prefix`. */
static int walk(git_repository *repo, git_tree *a, git_tree *b, const char *prefix, path_list *l,
                grove_err *err)
{
    size_t na = a ? git_tree_entrycount(a) : 0, nb = b ? git_tree_entrycount(b) : 0, i;

    for (i = 0; i < na; i++) {
        const git_tree_entry *ea = git_tree_entry_byindex(a, i);
        const char *name = git_tree_entry_name(ea);
        const git_tree_entry *eb = b ? git_tree_entry_byname(b, name) : NULL;
        int ta = git_tree_entry_type(ea) == GIT_OBJECT_TREE;
        int tb = eb && git_tree_entry_type(eb) == GIT_OBJECT_TREE;

        if (eb && git_oid_equal(git_tree_entry_id(ea), git_tree_entry_id(eb)) &&
            git_tree_entry_filemode_raw(ea) == git_tree_entry_filemode_raw(eb))
            continue;
        if (ta && tb) {
            git_tree *sa = NULL, *sb = NULL;
            char *sub = grove_asprintf("%s%s/", prefix, name);
            int rc = -1;

            if (!sub)
                return grove_nomem(err);
            git_error_clear();
            if (git_tree_lookup(&sa, repo, git_tree_entry_id(ea)) < 0 ||
                git_tree_lookup(&sb, repo, git_tree_entry_id(eb)) < 0)
                fail_git(err, GROVE_EGIT, "cannot read the trees of '%s'", sub);
            else
                rc = walk(repo, sa, sb, sub, l, err);
            git_tree_free(sa);
            git_tree_free(sb);
            free(sub);
            if (rc != 0)
                return -1;
            continue;
        }
        /* A file on either side is its path, once; a folder on one side only, its files. */
        if ((!ta || (eb && !tb)) && list_add(l, prefix, name, err) != 0)
            return -1;
        if (ta && walk_one(repo, git_tree_entry_id(ea), 1, prefix, name, l, err) != 0)
            return -1;
        if (tb && walk_one(repo, git_tree_entry_id(eb), 0, prefix, name, l, err) != 0)
            return -1;
    }
    for (i = 0; i < nb; i++) {
        const git_tree_entry *eb = git_tree_entry_byindex(b, i);
        const char *name = git_tree_entry_name(eb);

        if (a && git_tree_entry_byname(a, name))
            continue; /* seen above */
        if (git_tree_entry_type(eb) == GIT_OBJECT_TREE
                ? walk_one(repo, git_tree_entry_id(eb), 0, prefix, name, l, err) != 0
                : list_add(l, prefix, name, err) != 0)
            return -1;
    }
    return 0;
}

static int cmp_str(const void *x, const void *y)
{
    return strcmp(*(char *const *)x, *(char *const *)y);
}

int tree_changed_paths(git_repository *repo, git_tree *a, git_tree *b, gitops_paths *out,
                       grove_err *err)
{
    path_list l = {0};
    size_t i;

    memset(out, 0, sizeof(*out));
    if (walk(repo, a, b, "", &l, err) != 0) {
        for (i = 0; i < l.n; i++)
            free(l.v[i]);
        free(l.v);
        return -1;
    }
    if (!l.v && !(l.v = calloc(1, sizeof(*l.v))))
        return grove_nomem(err);
    qsort(l.v, l.n, sizeof(*l.v), cmp_str);
    out->v = l.v;
    out->n = l.n;
    return 0;
}

/* The entry of `tree` (may be NULL) at `path` into *out (NULL: none); -1 on a read error. */
static int entry_at(git_tree *tree, const char *path, git_tree_entry **out, grove_err *err)
{
    int g;

    *out = NULL;
    if (!tree)
        return 0;
    git_error_clear();
    g = git_tree_entry_bypath(out, tree, path);
    if (g == GIT_ENOTFOUND) {
        git_error_clear();
        return 0;
    }
    return g < 0 ? fail_git(err, GROVE_EGIT, "cannot read '%s' in a tree", path) : 0;
}

int paths_same_edit(git_tree *base, git_tree *a, git_tree *b, const gitops_paths *both,
                    grove_err *err)
{
    size_t i;

    for (i = 0; i < both->n; i++) {
        git_tree_entry *eo = NULL, *ea = NULL, *eb = NULL;
        int same;

        if (entry_at(base, both->v[i], &eo, err) != 0 || entry_at(a, both->v[i], &ea, err) != 0 ||
            entry_at(b, both->v[i], &eb, err) != 0) {
            git_tree_entry_free(eo);
            git_tree_entry_free(ea);
            return -1;
        }
        same = eo && ea && eb && git_tree_entry_type(eo) != GIT_OBJECT_TREE &&
               git_tree_entry_type(ea) != GIT_OBJECT_TREE &&
               git_oid_equal(git_tree_entry_id(ea), git_tree_entry_id(eb)) &&
               git_tree_entry_filemode_raw(ea) == git_tree_entry_filemode_raw(eb);
        git_tree_entry_free(eo);
        git_tree_entry_free(ea);
        git_tree_entry_free(eb);
        if (!same)
            return 0;
    }
    return 1;
}

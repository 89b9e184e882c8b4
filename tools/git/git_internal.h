/*
 * git_internal: what the files of the git layer share with each other. Only
 * the .c files of tools/git/ include it; everything else uses git.h.
 *
 * Errors: every failure fills the caller's grove_err with a one-line message;
 * when libgit2 has a message for the failing call it is appended after ": "
 * (fail_git()). git_error_clear() runs before each libgit2 call whose message
 * we may report, so a stale message from an earlier call never leaks into ours.
 *
 *   repo.c      errors, small file helpers, the repo lock, opening the repository,
 *               gitops_lib_init()
 *   journal.c   creation and removal journals (what `grove gc` recovers from)
 *   worktree.c  worktree folders and admin dirs; creation, removal, list, prune
 *   recover.c   interrupted creations and removals (gitops_interrupted_*)
 *   branch.c    branch deletion, branches by prefix, branch heads
 *   state.c     worktree HEAD and state, diff stats, removal loss
 *   statcache.c worktree states kept until inotify says they changed
 *   diff.c      diffs with patch text (gitops_diff_compute)
 *   include.c   .worktreeinclude
 *   push.c      remotes and push
 *   conflicts.c conflicts between commits, in memory
 *   treediff.c  the paths two trees differ in, unchanged subtrees skipped
 *   checkout.c, tls.c, sample.c, lazy_git2.c: see each file
 */
#ifndef GROVE_GIT_INTERNAL_H
#define GROVE_GIT_INTERNAL_H

#include <git2.h>
#include <stddef.h>
#include <sys/stat.h>

#include "tools/git/git.h"

#define RETRIES  6  /* attempts at a step that races on git's lock files */
#define RETRY_MS 40 /* first back-off; grows linearly */

typedef struct gitops_statcache gitops_statcache;

/* A creation journal this process holds (see journal_begin()). */
typedef struct gitops_journal {
    char *name; /* worktree name */
    int fd;     /* open and flock'ed until journal_end() or exit */
} gitops_journal;

struct gitops_repo {
    git_repository *repo; /* the main repository (never a linked worktree) */
    char *workdir;        /* realpath, no trailing slash */
    char *common_dir;     /* realpath, no trailing slash */
    gitops_journal *journals;
    size_t njournals;
    /* The last worktree gitops_worktree_head_cached() opened, and its .git file's identity. */
    git_repository *wt_repo;
    char *wt_path;
    struct stat wt_dotgit;
    gitops_statcache *statcache; /* owned; made on first use (statcache.c) */
};

/* ---- statcache.c -------------------------------------------------------- */

/* A new, empty cache of worktree states (inotify set up); NULL when out of memory. */
gitops_statcache *statcache_new(void);
/* Frees c, its answers and its watches. NULL: nothing. */
void statcache_free(gitops_statcache *c);
/*
 * HEAD's commit of the worktree at `path`, whose repository handle is `wt`:
 * kept while inotify reports no change of its HEAD, branch file or
 * packed-refs (read again when `reopened`: wt is a new handle). 0 and sha,
 * or -1 with err (worktree_head_oid()'s).
 */
int statcache_head(gitops_repo *r, git_repository *wt, const char *path, int reopened, char sha[41],
                   grove_err *err);

/* ---- state.c ------------------------------------------------------------ */

/* HEAD's commit of the repository `repo` opened at `path` (named in errors). 0 or -1. */
int worktree_head_oid(git_repository *repo, const char *path, git_oid *oid, grove_err *err);

/* ---- repo.c: errors ---------------------------------------------------- */

/* grove_fail() plus libgit2's last message, made one line. Returns -1. */
int fail_git(grove_err *err, grove_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* 1 when libgit2's last error message contains `needle`. */
int last_message_has(const char *needle);
void sleep_ms(long ms);

/* ---- repo.c: small file helpers ---------------------------------------- */

int path_exists(const char *path);
/* realpath() without a trailing slash (malloc'd); NULL with errno set on failure. */
char *real_path(const char *path);
/* rm -rf `path`, never following symbolic links or crossing mounts. Missing: 0. */
int remove_tree(const char *path);
/* Reads at most `cap - 1` bytes of a regular file (no symlink) into buf, trailing blanks cut. */
int read_small_file(const char *path, char *buf, size_t cap);
/* 1 when `name` is one path component of [A-Za-z0-9._-], not starting with '.'. */
int name_valid(const char *name);
/* 1 when `path` is absolute and has no "." or ".." component. */
int abs_path_valid(const char *path);

/* ---- repo.c: the advisory lock ----------------------------------------- */

/* Takes the flock on <common dir>/grove/git.lock; *fd_out goes to repo_unlock(). */
int repo_lock(const gitops_repo *r, int *fd_out, grove_err *err);
void repo_unlock(int fd);

/* ---- journal.c --------------------------------------------------------- */

/* <common dir>/grove/creating/<name> (malloc'd). */
char *journal_path(const gitops_repo *r, const char *name);
/* Starts the creation journal of `name` (repo lock held). Exists: GROVE_ECONFLICT. */
int journal_begin(gitops_repo *r, const char *name, const char *branch, const char *path,
                  grove_err *err);
/* Ends the creation journal of `name` (repo lock held), unless another live process holds it. */
void journal_end(gitops_repo *r, const char *name);
/* Lets go of the journal of `name` that this process holds, leaving it for gc. */
void journal_release(gitops_repo *r, const char *name);
/* -1 no journal, 0 its creator is gone, 1 running; *branch, *path malloc'd (may be NULL). */
int journal_state(const gitops_repo *r, const char *name, char **branch, char **path);
/* The setup command's process group a creation journal names; 0 when none. */
long long journal_setup_read(const char *file, unsigned long long *start);
/* Reads a two-line journal; *one and *two get its lines (malloc'd; NULL when empty). */
int journal_read_two_lines(const char *path, char **one, char **two);
/* Writes "<line1>\n<line2>\n" to `path` atomically (mode 0600). */
int journal_write_two_lines(const char *path, const char *line1, const char *line2, grove_err *err);
/* <common dir>/grove/removing/<name><suffix> (malloc'd): a removal journal. */
char *journal_removal_path(const gitops_repo *r, const char *name, const char *suffix);

/* ---- worktree.c -------------------------------------------------------- */

/* Removes worktree `name` and `branch` (may be NULL), journalled; repo lock held. */
int worktree_remove_locked(gitops_repo *r, const char *name, const char *folder_hint,
                           const char *branch, grove_err *err);
/* The same, deleting exactly `folder` (NULL: no folder), never the one git's record names. */
int worktree_remove_at(gitops_repo *r, const char *name, const char *folder, const char *branch,
                       grove_err *err);
/* Fills `wi` for admin dir <common>/worktrees/<name>. -1 only when out of memory. */
int worktree_info_read(const gitops_repo *r, const char *name, gitops_worktree_info *wi);

/* ---- branch.c ---------------------------------------------------------- */

/* Deletes local branch `branch` and its config (repo lock held); missing: 0. */
int branch_delete(gitops_repo *r, const char *branch, grove_err *err);
/* The commit local branch `branch` points at. Unknown: GROVE_ENOTFOUND. */
int branch_commit_oid(gitops_repo *r, const char *branch, git_oid *oid, grove_err *err);

/* ---- state.c ----------------------------------------------------------- */

/* Opens the repository whose worktree is exactly `path` (no discovery upwards). */
int open_worktree_path(git_repository **out, const char *path, grove_err *err);
/*
 * The paths `git status --porcelain` lists for the worktree `repo` (at
 * `path`, for messages) into out->dirty_files (sorted, unique; out's other
 * fields are left as they are). The index is read once, or re-read when it
 * changed on disk since `repo` read it.
 */
int worktree_dirty_files(git_repository *repo, const char *path, gitops_state *out, grove_err *err);
/* The commit of hex id `hex` (4 to 40 digits); `what` names it in messages ("commit"). */
int lookup_commit_hex(git_repository *repo, const char *hex, const char *what, git_commit **out,
                      grove_err *err);

/* ---- conflicts.c ------------------------------------------------------- */

/* The sorted union of the sorted path sets a and b into *out (gitops_paths_free()). */
int paths_union(const gitops_paths *a, const gitops_paths *b, gitops_paths *out, grove_err *err);
/* The session's repository handle: its object writes go to memory (borrowed). */
git_repository *conflicts_repo(gitops_conflicts *s);
/* Drops every object the session wrote to memory. */
void conflicts_forget(gitops_conflicts *s);
/*
 * Merges commits a and b over `base` (zero: no common history) with
 * git_merge_trees()' default options, on their trees cut down to the paths
 * `keep` (sorted): the paths either side changed since `base`, so the index
 * in *out (the caller frees it) is what a merge of the whole trees gives on
 * those paths, and holds nothing else. The cut trees and the blobs of
 * cleanly merged files are in the session's memory until conflicts_forget().
 */
int conflicts_merge_cut(gitops_conflicts *s, const git_oid *base, const git_oid *a,
                        const git_oid *b, const gitops_paths *keep, git_index **out,
                        grove_err *err);

/* ---- treediff.c -------------------------------------------------------- */

/*
 * The paths of the files (blobs, links, submodules) that differ between
 * trees a and b (NULL: the empty tree), sorted by strcmp, into *out (free
 * with gitops_paths_free()): what git_diff_tree_to_tree() lists without
 * rename detection, computed by walking only the subtrees whose ids differ.
 */
int tree_changed_paths(git_repository *repo, git_tree *a, git_tree *b, gitops_paths *out,
                       grove_err *err);
/*
 * 1 when every path of `both` (the paths trees a and b both changed since
 * `base`) is a file in all three that a and b changed the same way (same
 * id and mode): a merge of a and b can then meet no conflict there, and no
 * rename either (a rename deletes a path and adds one). 0 when not; -1 on
 * a read error.
 */
int paths_same_edit(git_tree *base, git_tree *a, git_tree *b, const gitops_paths *both,
                    grove_err *err);

#endif

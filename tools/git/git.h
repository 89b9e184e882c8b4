/*
 * git: everything grove does with libgit2. Tools call these; nothing else
 * includes git2.h. Read ../shared/LIBGIT2-NOTES.md before changing it.
 *
 * Steps that race with other processes on git's own lock files (worktree
 * add/remove, branch creation and deletion, config writes) run under an
 * advisory flock on <git common dir>/grove/git.lock and are retried when
 * git reports a lock or one of libgit2 1.5.1's false "already checked
 * out" failures.
 *
 * Where each part lives: repo.c (initialising libgit2, opening the
 * repository, HEAD, branch names), worktree.c (create, unlock, remove, list,
 * prune), journal.c (gitops_creation_note_setup), recover.c (crash
 * recovery), branch.c (branches by prefix, deletion, heads), state.c
 * (worktree HEAD and state, diff stats, removal loss), diff.c (diffs with
 * patch text), include.c (.worktreeinclude), push.c (remotes and push),
 * conflicts.c (conflicts between commits, in memory); checkout.c, tls.c and
 * sample.c are named where declared.
 */
#ifndef GROVE_GIT_H
#define GROVE_GIT_H

#include "tools/base/grove.h"

typedef struct gitops_repo gitops_repo;

/*
 * Loads libgit2 (lazy_git2_load(): a missing library is an error message,
 * not an abort) and calls git_libgit2_init(); every call does, so each
 * success is undone with one git_libgit2_shutdown(). grove calls it before
 * any other gitops_ function. GROVE_EGIT with the reason when libgit2
 * cannot be loaded or initialised.
 */
int gitops_lib_init(grove_err *err);

/* Undoes one successful gitops_lib_init() (libgit2 counts them). */
void gitops_lib_shutdown(void);

/*
 * Opens the repository at or above `path` (NULL: the working directory).
 * When that is a linked worktree, opens its main repository instead. The
 * repository must have a working directory. *out belongs to the caller:
 * gitops_repo_free() it.
 */
int gitops_repo_open(gitops_repo **out, const char *path, grove_err *err);

/* 1 when `path` is in the working tree of a git repository (at or below its top); else 0. */
int gitops_in_worktree(const char *path);
void gitops_repo_free(gitops_repo *r);

/* Main worktree, absolute, no trailing slash. Borrowed. */
const char *gitops_workdir(const gitops_repo *r);
/* Git common dir (".git" of the main worktree), absolute, no trailing slash. Borrowed. */
const char *gitops_common_dir(const gitops_repo *r);

/* 1 when `name` is a valid full branch name ("grove/work-a1"), else 0. */
int gitops_branch_name_valid(const char *name);

/*
 * The branch the main worktree's HEAD is on ("main"), malloc'd into *out.
 * Detached HEAD: GROVE_ECONFLICT; unborn HEAD (no commit yet): GROVE_ENOTFOUND.
 */
int gitops_head_branch(gitops_repo *r, char **out, grove_err *err);

/*
 * Resolves a branch name to its commit: a local branch first, then a
 * remote-tracking branch ("origin/main"). sha gets 40 hex digits + NUL.
 * Unknown branch: GROVE_ENOTFOUND "base branch 'x' not found".
 */
int gitops_resolve_branch(gitops_repo *r, const char *branch, char sha[41], grove_err *err);

/* Called between the steps of gitops_worktree_create ("branch created", "checked out"). */
typedef void (*gitops_stage_fn)(void *arg, const char *stage);

/*
 * Creates branch `branch` at commit `sha` and a linked worktree named `name`
 * at `path` (parent folders created; `path` must not exist) checked out on
 * that branch, registered so that `git worktree list` shows it, and locked
 * with reason "initializing" until gitops_worktree_unlock(). If the branch
 * or path already exists: GROVE_ECONFLICT and nothing is changed. On any
 * other failure everything made so far (folder, admin dir, branch) is
 * removed again.
 */
int gitops_worktree_create(gitops_repo *r, const char *name, const char *path, const char *branch,
                           const char *sha, gitops_stage_fn stage, void *stage_arg, grove_err *err);

/*
 * Writes the files of commit `sha` (40 hex digits) into the new worktree at
 * `root`, which holds only its .git file and has no index yet, then its
 * index. Files are written by `checkout.workers` threads (git's setting;
 * < 1: one per core; unset: two per core; at most 8), one thread below
 * `checkout.thresholdForParallelism` files (default 100). A tree with a
 * name that is not plainly harmless (".git" in any spelling, "git~1", ':' or
 * '\') is checked out by libgit2 instead, with its own rules. On failure
 * the folder holds what was written so far: the caller removes it.
 * *workers_used (may be NULL) gets the number of threads, 0 for libgit2.
 */
int gitops_checkout_new(const char *root, const char *sha, unsigned *workers_used, grove_err *err);

/*
 * Records in the creation journal of `name` (which this process holds:
 * between gitops_worktree_create() and gitops_worktree_unlock()) the process
 * group of the setup command it runs there, and its leader's start time, so
 * that `grove gc` can stop that command when grove is killed meanwhile
 * (gitops_interrupted.setup_pgid). GROVE_ENOTFOUND when this process holds
 * no such journal.
 */
int gitops_creation_note_setup(gitops_repo *r, const char *name, long long pgid,
                               unsigned long long start, grove_err *err);

/* Removes the "initializing" lock of worktree `name`. */
int gitops_worktree_unlock(gitops_repo *r, const char *name, grove_err *err);

/*
 * Removes worktree `name` (its folder and admin dir, even when locked) and,
 * when `branch` is not NULL, deletes that branch. Does no dirty check: the
 * caller decides whether removal loses work. A worktree or branch that is
 * already gone is not an error.
 */
int gitops_worktree_remove(gitops_repo *r, const char *name, const char *branch, grove_err *err);

/*
 * Removing the worktree of an instance (terminate_instance, `grove gc`):
 * the folder that would be removed is resolved first, through git's own
 * record of the worktree (<common>/worktrees/<name>/gitdir, or the admin dir
 * an interrupted removal moved aside), and compared with the folder the
 * caller recorded (`recorded`, <worktrees base>/<leaf>). The loss checks
 * then run on exactly that folder, and gitops_worktree_remove_target()
 * deletes exactly that folder after checking again, under the repo lock,
 * that nothing changed in between.
 *
 * gitops_removal_decide() is the whole decision, a pure function of the
 * facts gitops_removal_resolve() gathers (it touches no file), so that it
 * can be tested and fuzzed on its own. "expected" below is
 * <base_real>/<last component of recorded>. Its table, first match wins:
 *
 *   nothing at `recorded` and no folder at git's record (gone, record
 *   missing or unreadable)      -> RECORD: no folder is deleted anywhere;
 *                                  git's entry (if any) and the branch go
 *   the worktrees base cannot be resolved, or `recorded`'s last component is
 *   not a valid name, or its parent does not resolve to the real base
 *                               -> refuse: not inside the worktrees folder
 *   `recorded` is a symlink, or resolves to anything but expected
 *                               -> refuse (outside the base: "not inside
 *                                  the worktrees folder"; else a mismatch)
 *   nothing at `recorded`, but git's record names a folder that exists
 *   (a moved worktree)          -> refuse: move it back or remove it yourself
 *   git has no record of `name` -> refuse: nothing ties the folder to git
 *   git's record is unreadable  -> refuse: `git worktree repair`
 *   git's folder is gone, or is a symlink, or resolves to anything but
 *   expected                    -> refuse (a mismatch)
 *   the folder's .git does not point back to git's record of `name`
 *                               -> refuse: not this repository's worktree
 *   expected is, or holds, the main worktree or the git common dir
 *                               -> refuse
 *   otherwise                   -> FOLDER: delete expected, git's entry and
 *                                  the branch
 * Every refusal holds even with force: force only overrides lost work.
 */
typedef struct gitops_removal_facts {
    const char *name;                 /* git's name of the worktree (<common>/worktrees/<name>) */
    const char *recorded;             /* the folder the caller recorded (may be NULL) */
    const char *base;                 /* the worktrees base as configured (for messages) */
    const char *base_real;            /* its realpath; NULL when it does not resolve */
    const char *main_real;            /* realpath of the main worktree */
    const char *common_real;          /* realpath of the git common dir */
    const char *recorded_parent_real; /* realpath of recorded's parent; NULL: does not resolve */
    const char *recorded_real;        /* realpath of recorded; NULL: nothing there / dangling */
    int recorded_present;             /* lstat(recorded) finds something (a dangling link too) */
    int recorded_is_link;             /* recorded itself is a symbolic link */
    int git_record;                   /* git's admin dir of `name` exists */
    const char *git_path;             /* the folder its gitdir file names; NULL: unreadable */
    const char *git_real;             /* realpath of git_path; NULL: nothing there / dangling */
    int git_present;                  /* lstat(git_path) finds something */
    int git_is_link;                  /* git_path itself is a symbolic link */
    int git_folder_ours;              /* git_real's .git file points back to git's record */
} gitops_removal_facts;

typedef enum gitops_removal_action {
    GITOPS_REMOVAL_REFUSE = 0,
    GITOPS_REMOVAL_FOLDER, /* delete `folder`, then git's entry and the branch */
    GITOPS_REMOVAL_RECORD, /* no folder on disk: git's entry (if any) and the branch */
} gitops_removal_action;

/*
 * Decides on `f` alone (no file is touched). 0 with out->action FOLDER (and
 * out->folder the real folder to delete) or RECORD (out->folder ""); -1
 * with out->action REFUSE and `err` saying why and what to do
 * (GROVE_EINVAL: outside the worktrees folder, GROVE_ECONFLICT: a mismatch).
 */
typedef struct gitops_removal_plan {
    gitops_removal_action action;
    char folder[4096];
} gitops_removal_plan;

int gitops_removal_decide(gitops_removal_plan *out, const gitops_removal_facts *f, grove_err *err);

/* A removal that gitops_removal_resolve() allowed. */
typedef struct gitops_removal_target {
    gitops_removal_plan plan;
    char *name;     /* owned: git's name of the worktree */
    char *recorded; /* owned: the caller's recorded folder */
    char *base;     /* owned: the worktrees base as configured */
    /* The folder's identity when checked (FOLDER only). */
    unsigned long long dev, ino;
} gitops_removal_target;

/*
 * Gathers the facts about removing worktree `name` whose folder the caller
 * recorded as `recorded`, inside worktrees base `base`, and decides
 * (gitops_removal_decide). 0: *out is the allowed removal (the caller runs
 * its loss checks on out->plan.folder, "" meaning no folder, and frees it
 * with gitops_removal_target_free()); -1: refused or failed, *out holds
 * nothing.
 */
int gitops_removal_resolve(gitops_repo *r, const char *name, const char *recorded, const char *base,
                           gitops_removal_target *out, grove_err *err);
void gitops_removal_target_free(gitops_removal_target *t);

/*
 * Removes what `t` allowed and deletes `branch` (may be NULL): under the
 * repo lock resolves again and refuses (GROVE_ECONFLICT, nothing changed)
 * unless the decision, the folder and its identity (device, inode) are
 * still the ones checked; then deletes exactly t->plan.folder (never
 * re-reading git's record for it), git's entry and the branch, journalled
 * like gitops_worktree_remove().
 */
int gitops_worktree_remove_target(gitops_repo *r, const gitops_removal_target *t,
                                  const char *branch, grove_err *err);

/* HEAD commit of the worktree at `path` into sha (40 hex + NUL). */
int gitops_worktree_head(const char *path, char sha[41], grove_err *err);

/*
 * gitops_worktree_head() that keeps the last worktree's repository open in
 * `r` (reopened when the path or its .git file changes), for a server that
 * reads the same worktree's HEAD call after call, and keeps the answer while
 * inotify reports no change of the worktree's HEAD file, the branch file it
 * names or packed-refs (as gitops_worktree_state_cached() below). Same results.
 */
int gitops_worktree_head_cached(gitops_repo *r, const char *path, char sha[41], grove_err *err);

/* Live state of a worktree (gitops_worktree_state()). */
typedef struct gitops_state {
    char head[41];      /* HEAD commit */
    size_t ahead;       /* commits of HEAD not in the base commit */
    size_t behind;      /* commits of the base commit not in HEAD */
    char **dirty_files; /* owned: the paths `git status --porcelain` lists, sorted, unique */
    size_t ndirty;
} gitops_state;

/*
 * Live state of the worktree at `path` into *out: HEAD, ahead/behind
 * base_commit (0/0 when NULL) and the dirty files (modified, staged,
 * untracked; untracked folders as "dir/"). A missing folder:
 * GROVE_ENOTFOUND. On success *out belongs to the caller:
 * gitops_state_free() it; on failure it holds nothing.
 */
int gitops_worktree_state(const char *path, const char *base_commit, gitops_state *out,
                          grove_err *err);

/* Frees what a gitops_state holds. Safe on a zeroed struct and twice. */
void gitops_state_free(gitops_state *s);

/*
 * gitops_worktree_state() for a long-lived process: the answer is kept in `r`
 * (for a few worktrees, the least recently used dropped) and given again until
 * inotify reports a change to anything it depends on (the worktree's files and
 * folders, its HEAD, index, branch, the repository's and the user's git
 * configuration and ignore files). Events are read at the start of each call,
 * and the kernel queues them inside the system call that makes the change, so
 * an answer never misses a change made before the call. Without inotify, or
 * for a worktree of too many folders, every call reads the status. Same
 * results and ownership as gitops_worktree_state().
 */
int gitops_worktree_state_cached(gitops_repo *r, const char *path, const char *base_commit,
                                 gitops_state *out, grove_err *err);

/* How many gitops_worktree_state_cached() calls of `r` were answered from the cache, and not. */
void gitops_worktree_state_counts(const gitops_repo *r, size_t *hits, size_t *misses);
/* ... and gitops_worktree_head_cached() calls answered without reading HEAD, and not. */
void gitops_worktree_head_counts(const gitops_repo *r, size_t *hits, size_t *misses);

/* Lines changed between two commits: `git diff --shortstat from to`. */
typedef struct gitops_diff_stat {
    long long files_changed;
    long long insertions;
    long long deletions;
} gitops_diff_stat;

/* Diff stat of the trees of commits `from` and `to` (hex ids), computed with libgit2. */
int gitops_diff_stat_between(gitops_repo *r, const char *from, const char *to,
                             gitops_diff_stat *out, grove_err *err);

/*
 * A diff like `git diff <merge base> <to>` (tools/git/diff.c): from the
 * merge base of commits `against` and `to`, to commit `to`, or, with a
 * worktree, to that worktree's files (`git diff <merge base>` run there,
 * untracked files included as if `git add -N` had been run). Rename
 * detection as git's default (on, 50% similarity), no copies; mode
 * changes, binary files ("Binary files a/x and b/x differ"), deletions and
 * additions as git prints them. A type change (file <-> symlink) is printed
 * as git does, a deletion then an addition, and listed once as
 * GITOPS_DIFF_TYPECHANGE. No filter, textconv or external diff program runs.
 */
typedef enum gitops_diff_status {
    GITOPS_DIFF_ADDED,
    GITOPS_DIFF_MODIFIED,
    GITOPS_DIFF_DELETED,
    GITOPS_DIFF_RENAMED,
    GITOPS_DIFF_TYPECHANGE,
} gitops_diff_status;

/* "added", "modified", "deleted", "renamed" or "typechange". */
const char *gitops_diff_status_name(gitops_diff_status s);

typedef struct gitops_diff_file {
    char *path;     /* owned: the path after the change (before it, for a deletion) */
    char *old_path; /* owned: the path before a rename; NULL for any other status */
    gitops_diff_status status;
    long long insertions; /* lines, as `git diff --numstat`; 0 for a binary file */
    long long deletions;
    int binary;
} gitops_diff_file;

typedef struct gitops_diff_opts {
    const char *against; /* commit (hex) whose merge base with the head starts the diff */
    const char *to;      /* commit (hex) the diff ends at; ignored when worktree is set */
    /*
     * NULL: commits only. Else the worktree folder: the diff ends at its
     * files (staged, unstaged and untracked, ignored files left out) and
     * the head is that worktree's HEAD commit.
     */
    const char *worktree;
    const char *const *paths; /* pathspecs as git takes them (no ":(magic)"); may be NULL */
    size_t npaths;
    unsigned context_lines; /* lines of context around each change (git's -U) */
    size_t max_bytes;       /* most bytes of patch text */
} gitops_diff_opts;

typedef struct gitops_diff {
    char against[41];        /* the commit diffed against */
    char head[41];           /* the commit the diff ends at (the worktree's HEAD with a worktree) */
    char merge_base[41];     /* where the diff starts */
    gitops_diff_file *files; /* owned: every changed file, in git's order */
    size_t nfiles;
    gitops_diff_stat stat; /* over all of files, as `git diff --shortstat` */
    char *patch;           /* owned: the unified diff text (NUL-terminated), at most max_bytes */
    size_t patch_len;
    /*
     * 1 when the patch stopped at max_bytes: it is then the full patch's
     * first part, cut at a line boundary (a file's header lines, a hunk
     * header, a content line together with its "\ No newline at end of
     * file", are never split). files and stat stay complete.
     */
    int truncated;
} gitops_diff;

/*
 * Computes the diff of `o` into *out (zeroed first; on success the caller
 * frees it with gitops_diff_free()). No merge base: GROVE_ECONFLICT; an
 * unknown commit: GROVE_ENOTFOUND; a worktree folder that is gone:
 * GROVE_ENOTFOUND. Reads only: no index, ref or file is written.
 */
int gitops_diff_compute(gitops_repo *r, const gitops_diff_opts *o, gitops_diff *out,
                        grove_err *err);

/* Frees what a gitops_diff holds. Safe on a zeroed struct and twice. */
void gitops_diff_free(gitops_diff *d);

/* The commit branch `branch` points at (40 hex + NUL). Unknown branch: GROVE_ENOTFOUND. */
int gitops_branch_head(gitops_repo *r, const char *branch, char sha[41], grove_err *err);

/*
 * Conflicts between commits, in memory (tools/git/conflicts.c; CONTRACT §6).
 * A session holds its own repository handle whose object writes go to
 * memory (git_merge_trees() writes the blobs it merges cleanly), and the
 * paths each head changed since each merge base, computed once. Nothing on
 * disk changes: no worktree, index file, reference or object.
 */
typedef struct gitops_conflicts gitops_conflicts;

/* Paths, sorted (strcmp) and unique; v[0..n) owned, v NULL-terminated. */
typedef struct gitops_paths {
    char **v;
    size_t n;
} gitops_paths;

/* Frees what *p holds and zeroes it. Safe on a zeroed struct. */
void gitops_paths_free(gitops_paths *p);

/* Opens a session on r's repository; *out goes to gitops_conflicts_close(). */
int gitops_conflicts_open(gitops_repo *r, gitops_conflicts **out, grove_err *err);
void gitops_conflicts_close(gitops_conflicts *s);

/* Two commits compared (gitops_conflicts_check()); every part owned. */
typedef struct gitops_merge_check {
    char merge_base[41];      /* "" when they share no history */
    gitops_paths overlapping; /* changed on both sides since the merge base */
    gitops_paths conflicting; /* left in conflict by a merge of the two trees */
} gitops_merge_check;

/* Frees what *m holds and zeroes it. Safe on a zeroed struct. */
void gitops_merge_check_free(gitops_merge_check *m);

/*
 * Commits `a` and `b` (40 hex digits each): the paths both changed since
 * their merge base (tree diffs, no rename detection: a rename changes its
 * old and its new path), and the paths that git_merge_trees() of the merge
 * base's tree, a's and b's (with git's default rename detection) leaves in
 * conflict. The merge runs only when the sides changed a common path or a
 * file of one is a folder of the other; otherwise nothing can conflict.
 * Unrelated histories compare against the empty tree. A missing commit:
 * GROVE_ENOTFOUND. On success *out belongs to the caller
 * (gitops_merge_check_free()); on failure it holds nothing.
 */
int gitops_conflicts_check(gitops_conflicts *s, const char *a, const char *b,
                           gitops_merge_check *out, grove_err *err);

/* Commits `upstream` has that `head` lacks (both 40 hex digits) into *behind. */
int gitops_conflicts_behind(gitops_conflicts *s, const char *head, const char *upstream,
                            size_t *behind, grove_err *err);

/*
 * What removing a worktree and its branch would lose. dirty_files: the
 * worktree's uncommitted paths (as in gitops_worktree_state; 0 when the
 * folder is gone). unique_commits: commits reachable from `branch` that no
 * remote-tracking branch, no other local branch and not `base_commit`
 * (may be NULL) reach — commits that exist nowhere else.
 */
typedef struct gitops_loss {
    size_t dirty_files;
    size_t unique_commits;
} gitops_loss;

int gitops_removal_loss(gitops_repo *r, const char *path, const char *branch,
                        const char *base_commit, gitops_loss *out, grove_err *err);

/* How a branch's work is in its base branch (gitops_branch_merged()). */
typedef enum gitops_merged_how {
    GITOPS_MERGED_NO = 0,   /* not (yet) there, or the branch has no commits of its own */
    GITOPS_MERGED_ANCESTOR, /* the branch head is the base head or one of its ancestors */
    GITOPS_MERGED_TREE,     /* merging the branch into the base head changes nothing: its changes
                               are already there (a squash merge, a rebase, cherry-picks) */
} gitops_merged_how;

typedef struct gitops_merged {
    gitops_merged_how how;
    int own_commits;    /* 1 when the head is neither base_commit nor one of its ancestors */
    char head[41];      /* the branch head */
    char base_head[41]; /* the base branch's head */
} gitops_merged;

/*
 * Whether local branch `branch` is merged into `base_branch` (a local
 * branch, else a remote-tracking one such as "origin/main"), computed in
 * memory (nothing is written, not even objects):
 *  - ANCESTOR when the branch head is the base head or an ancestor of it;
 *  - else TREE when the merge of the branch into the base head (three-way,
 *    from their merge base, as `git merge` would) has no conflict and gives
 *    exactly the base head's tree.
 * A branch with no commits of its own (its head is `base_commit`, the
 * commit it was made from, or an ancestor of it; may be NULL) is NO, with
 * own_commits 0: a fresh branch is trivially "in" its base, and calling it
 * merged would let `grove gc --merged` delete work not even started.
 * Unknown branch or base: GROVE_ENOTFOUND.
 */
int gitops_branch_merged(gitops_repo *r, const char *branch, const char *base_branch,
                         const char *base_commit, gitops_merged *out, grove_err *err);

/*
 * Copies into the new worktree at `dest` the gitignored files and folders of
 * the main worktree that match the patterns of its `.worktreeinclude`
 * (gitignore-like syntax: '#' comments, '!' negation, a pattern without '/'
 * matches a name at any depth, one with '/' a path from the root, trailing
 * '/' only folders). Tracked files are never copied; symlinks are copied as
 * symlinks; modes are kept. No `.worktreeinclude`: nothing to do. *copied:
 * number of top-level entries copied (may be NULL).
 */
int gitops_copy_worktreeinclude(gitops_repo *r, const char *dest, size_t *copied, grove_err *err);

/* One linked worktree as git records it. */
typedef struct gitops_worktree_info {
    char *name;        /* admin folder name (<common>/worktrees/<name>) */
    char *path;        /* its folder (from the gitdir file), NULL if unreadable */
    char *branch;      /* branch it has checked out ("grove/x"), NULL if detached/unknown */
    char *lock_reason; /* NULL when not locked; "" for a lock without reason */
    int folder_exists;
} gitops_worktree_info;

/*
 * All linked worktrees (reads <common>/worktrees/ itself: libgit2 1.5.1's
 * git_worktree_list skips entries). *out: malloc'd array of *n; free with
 * gitops_worktree_list_free().
 */
int gitops_worktree_list(gitops_repo *r, gitops_worktree_info **out, size_t *n, grove_err *err);
void gitops_worktree_list_free(gitops_worktree_info *list, size_t n);

/* Removes the admin entry of worktree `name` whose folder is gone (like `git worktree prune`). */
int gitops_worktree_prune_stale(gitops_repo *r, const char *name, grove_err *err);

/*
 * Crash recovery (`grove gc`).
 *
 * gitops_worktree_create() keeps a creation journal, flock'ed by the
 * creating process, from before the branch is made until
 * gitops_worktree_unlock() (the caller has recorded the instance) or the
 * worktree's removal. gitops_worktree_remove() writes a removal journal,
 * moves the admin dir out of <common>/worktrees, then deletes the folder
 * (its .git file last), the branch and the rest. A creation journal whose
 * creator is gone, a worktree locked "initializing" with no journal, and
 * any removal journal (removals run under the repo lock to the end) are
 * what a killed process left half-way. The list is taken under the repo
 * lock; `alive`: a creation whose process still runs (leave it alone).
 */
typedef struct gitops_interrupted {
    char *name;   /* worktree name (the instance id) */
    char *branch; /* its branch, NULL when unknown */
    char *path;   /* its folder, NULL when unknown */
    int alive;
    int removal; /* 1: an interrupted removal (gitops_removal_finish), 0: a creation */
    /* A creation's setup command, as gitops_creation_note_setup() recorded it; 0: none. */
    long long setup_pgid;
    unsigned long long setup_start;
} gitops_interrupted;

int gitops_interrupted_list(gitops_repo *r, gitops_interrupted **out, size_t *n, grove_err *err);
void gitops_interrupted_list_free(gitops_interrupted *list, size_t n);

/* Deletes the half-written journal files (".tmp") a killed grove process left. */
int gitops_journals_tidy(gitops_repo *r, grove_err *err);

/*
 * Completes the interrupted removal of worktree `name` (folder, the branch
 * its journal names, admin dir). GROVE_ENOTFOUND when there is none.
 */
int gitops_removal_finish(gitops_repo *r, const char *name, grove_err *err);

/* The instance was recorded: drops the "initializing" lock and the journal. */
int gitops_interrupted_complete(gitops_repo *r, const char *name, grove_err *err);

/*
 * The instance was never recorded: removes what the creation made (folder,
 * admin dir, journal, a stale lock file of the branch, and the branch unless
 * `keep_branch`). Does no loss check: the caller does (gitops_removal_loss).
 * A running creation: GROVE_ECONFLICT.
 */
int gitops_interrupted_undo(gitops_repo *r, const char *name, int keep_branch, grove_err *err);

/* Local branches whose names start with `prefix` ("grove/"), malloc'd. */
int gitops_branch_list(gitops_repo *r, const char *prefix, char ***out, size_t *n, grove_err *err);
void gitops_branch_list_free(char **names, size_t n);

/*
 * Deletes local branch `branch` unless it is checked out in a worktree or a
 * worktree creation uses it (GROVE_ECONFLICT); checked under the repo lock.
 * Does no loss check: the caller does.
 */
int gitops_branch_delete_unused(gitops_repo *r, const char *branch, grove_err *err);

/* The URL of remote `remote` (malloc'd). Unknown remote: GROVE_ENOTFOUND. */
int gitops_remote_url(gitops_repo *r, const char *remote, char **out, grove_err *err);

/* Transfer progress while pushing: objects sent so far of total, bytes sent. */
typedef void (*gitops_push_progress_fn)(void *arg, unsigned current, unsigned total, size_t bytes);

typedef struct gitops_push_opts {
    const char *remote;     /* remote name, e.g. "origin" */
    const char *branch;     /* local branch, pushed as refs/heads/<branch>:refs/heads/<branch> */
    const char *token;      /* user "x-access-token", this password; may be NULL. Offered only to
                               github.com and token_host, over https (or http to a loopback
                               address, for tests and local proxies) */
    const char *token_host; /* the GitHub API's host (GitHub Enterprise), or NULL */
    gitops_push_progress_fn progress; /* may be NULL */
    void *progress_arg;
} gitops_push_opts;

/*
 * libgit2's CA certificates (tools/git/tls.c). With the mbedTLS back end,
 * gitops_tls_release() frees the system bundle that git_libgit2_init()
 * parsed (0.4 MB a `grove serve` holds until it pushes over https); returns 1
 * when it did. gitops_tls_restore() loads certificates again when they were
 * released or $SSL_CERT_FILE / $SSL_CERT_DIR is set (from those variables,
 * else the system bundle); gitops_push() calls it for http(s) remotes.
 * Process-wide: call both from the thread that serves tool calls.
 */
int gitops_tls_release(void);
int gitops_tls_restore(grove_err *err);

/*
 * Pushes the branch with libgit2 to a path, file://, ssh:// or scp-like
 * (ssh-agent credentials) or https:// (token) remote. A rejection by the
 * remote (non-fast-forward, hook, permissions) or an authentication failure
 * returns -1 with the remote's own message (GROVE_ECONFLICT for rejections,
 * GROVE_EINVAL for credentials, GROVE_EIO for transport). The token never
 * appears in err.
 */
int gitops_push(gitops_repo *r, const gitops_push_opts *o, grove_err *err);

/*
 * Sync (tools/git/sync.c): brings a base branch's current head into a branch
 * that is checked out in a linked worktree, by rebase or merge, all or
 * nothing.
 *
 * Every new commit is made in memory first (git_merge_trees per step: only
 * objects are written, which change nothing anyone sees). A conflict at any
 * step returns synced 0 with that step's conflicting paths, and the branch,
 * the index and the files are exactly as before. Only when every step is
 * clean, under the repo lock: a sync journal <common>/grove/syncing/<name>
 * ("<old> <new>" and the branch) is written, the branch moves by
 * compare-and-swap (GROVE_ECONFLICT when it moved meanwhile), the worktree's
 * files and index are updated from the old tree to the new one, and the
 * journal goes. A process killed in between leaves the journal; the next
 * gitops_sync_recover() of that worktree finishes the update (see there).
 */
typedef enum gitops_sync_strategy {
    GITOPS_SYNC_REBASE = 0, /* replay the branch's own commits onto the base head */
    GITOPS_SYNC_MERGE,      /* one merge commit (branch head, base head) */
} gitops_sync_strategy;

typedef struct gitops_sync_opts {
    const char *name;     /* the worktree's name (the instance id): names the journal */
    const char *worktree; /* its folder */
    const char *branch;   /* the branch checked out there ("grove/work-a1") */
    const char *base;     /* the branch to bring in ("main", or "origin/main") */
    gitops_sync_strategy strategy;
    /* Called after "computed", "journal-written", "ref-moved", "checked-out"; may be NULL. */
    gitops_stage_fn stage;
    void *stage_arg;
} gitops_sync_opts;

typedef struct gitops_sync_result {
    int synced;          /* 1: the branch holds the base head (already, or now) */
    char old_head[41];   /* the branch before */
    char new_head[41];   /* the branch after (old_head when not synced or up to date) */
    char base_head[41];  /* the base branch's head the sync used */
    char **conflicting;  /* owned: the paths of the conflicting step, sorted; NULL when none */
    size_t nconflicting; /* 0 when synced */
    size_t replayed;     /* rebase: commits made anew (merges skipped, emptied ones dropped) */
} gitops_sync_result;

/*
 * Syncs o->branch with o->base (see above). The branch must be checked out
 * in o->worktree, which must be clean (checked again under the repo lock:
 * GROVE_ECONFLICT when it is not). Rebase replays merge-base..head in
 * topological order, oldest first, like `git rebase` without
 * --rebase-merges: merge commits are skipped, commits that become empty are
 * dropped, commits that were empty are kept; each keeps its author and raw
 * message; the committer is user.name/user.email of the repository's
 * configuration, else the original committer, with the current time. A
 * branch behind its base fast-forwards with either strategy. Base not
 * found: GROVE_ENOTFOUND "base branch 'x' not found". *out is zeroed first;
 * gitops_sync_result_free() it.
 */
int gitops_sync(gitops_repo *r, const gitops_sync_opts *o, gitops_sync_result *out, grove_err *err);
void gitops_sync_result_free(gitops_sync_result *res);

/*
 * Finishes a sync of worktree `name` (folder `worktree`) that a killed
 * process interrupted, under the repo lock; no journal: nothing to do. The
 * branch still at the journal's old commit: the move never happened, the
 * journal goes. At its new commit: the files still differing from the new
 * tree are updated, but only when each path that differs from it is one the
 * sync changes and holds exactly the old or the new content (anything else
 * is somebody's work: GROVE_ECONFLICT naming the files, nothing touched).
 * Elsewhere: GROVE_ECONFLICT naming the journal. *finished: 1 when files
 * were updated or the journal removed after a move.
 */
int gitops_sync_recover(gitops_repo *r, const char *name, const char *worktree, int *finished,
                        grove_err *err);

/*
 * Makes a small sample project for `grove demo` in folder `dir`: a bare
 * repository dir/origin.git and a repository dir/repo on branch main with
 * one commit and `origin` pointing at the bare one (tools/git/sample.c).
 */
int gitops_make_sample(const char *dir, grove_err *err);

/* Commits every change in the worktree at `path` with `message` (demo and tests). */
int gitops_commit_all(const char *path, const char *message, grove_err *err);

/*
 * Landing an instance (tools/git/land.c, land_instance). The new head of
 * the target branch is computed in memory; then moved with a
 * compare-and-swap under the repo lock, journalled (<common>/grove/landing/)
 * so that a land killed half-way is finished by gitops_land_recover().
 */
typedef enum gitops_land_strategy {
    GITOPS_LAND_SQUASH = 0,   /* one commit on the target head with the merged tree */
    GITOPS_LAND_MERGE,        /* a merge commit: parents target head, instance head */
    GITOPS_LAND_REBASE,       /* the instance's commits replayed onto the target head */
    GITOPS_LAND_FAST_FORWARD, /* the instance head itself */
} gitops_land_strategy;

typedef struct gitops_land_spec {
    const char *into;  /* the target branch ("main"), a local branch */
    const char *head;  /* the instance's head commit (40 hex) */
    const char *label; /* who is landed, for messages ("'work-a1'") */
    gitops_land_strategy strategy;
    const char *message; /* squash and merge commits' message */
} gitops_land_spec;

typedef struct gitops_land_result {
    char old_into[41]; /* the target's head the result was computed on */
    char new_into[41]; /* what it would become; "" when conflicting */
    char **conflicts;  /* owned: paths the merge could not resolve, sorted */
    size_t nconflicts;
} gitops_land_result;

/*
 * Computes the land of s->head into s->into in memory: only objects (trees,
 * commits) are written, no ref, index or file. A conflict is a success with
 * out->conflicts set and new_into "". Refusals (nothing changed): the target
 * branch does not exist (GROVE_ENOTFOUND), nothing to land (the head is in
 * the target already, or its changes are), fast_forward when the target is
 * not an ancestor of the head, rebase of a range holding a merge commit
 * (GROVE_ECONFLICT). Rebase replays with the original authors and messages,
 * drops commits that become empty and is a fast-forward when the target has
 * not moved. *out is zeroed first; free it with gitops_land_result_free().
 */
int gitops_land_compute(gitops_repo *r, const gitops_land_spec *s, gitops_land_result *out,
                        grove_err *err);
void gitops_land_result_free(gitops_land_result *r);
void gitops_land_paths_free(char **paths, size_t n);

/*
 * The worktree that has local branch `branch` checked out: the main worktree
 * (its HEAD) or a linked one (its HEAD file); *path malloc'd, NULL when none.
 */
int gitops_branch_checkout_path(gitops_repo *r, const char *branch, char **path, grove_err *err);

/*
 * 0 when the worktree at `path` (which has `into` checked out) is clean;
 * else GROVE_ECONFLICT naming its uncommitted files (modified, staged, untracked).
 */
int gitops_land_check_checkout(const char *path, const char *into, grove_err *err);

typedef struct gitops_land_move_spec {
    const char *into;      /* the target branch */
    const char *old_into;  /* where it must still point (40 hex) */
    const char *new_into;  /* where it goes */
    const char *checkout;  /* the worktree that has it checked out, or NULL */
    const char *tag;       /* the instance landed, in the journal and the reflog */
    gitops_stage_fn stage; /* "journal-written", "ref-moved", "checked-out"; may be NULL */
    void *stage_arg;
    /*
     * May be NULL: a check that must pass before anything moves (the
     * instance's own worktree is clean), run under the lock on a second
     * thread while m->checkout's clean check runs; nonzero stops the land
     * with the error it set (reported before the checkout's).
     */
    int (*check)(void *arg, grove_err *err);
    void *check_arg;
} gitops_land_move_spec;

/*
 * Under the repo lock: runs m->check, and checks m->checkout is clean
 * (refusing as gitops_land_check_checkout() does), the two at once; writes
 * the landing journal, moves
 * refs/heads/<into> from old_into to new_into only if it still points at
 * old_into (git_reference_create_matching), brings m->checkout's index and
 * files to the new commit (only the paths that differ; a failure there is
 * logged: the land stands), and removes the journal. When the branch no
 * longer points at old_into: -1, GROVE_ECONFLICT, *raced = 1, nothing changed.
 */
int gitops_land_move(gitops_repo *r, const gitops_land_move_spec *m, int *raced, grove_err *err);

/* A land journal that gitops_land_recover() finished. */
typedef struct gitops_land_recovered {
    char *into; /* owned: the target branch */
    char *tag;  /* owned: the instance that was being landed */
    char new_into[41];
    int landed; /* 1: the ref had moved: the land happened */
    char *note; /* owned: why its checkout was not updated, or NULL */
} gitops_land_recovered;

/*
 * Finishes the lands a killed process left (of target `into`, or all when
 * NULL), under the repo lock: ref still at the old commit: the journal is
 * dropped; at the new commit: the checkout worktree is brought to it when
 * its index still holds the old tree, then the journal is dropped. *out:
 * malloc'd array of *n; free it with gitops_land_recovered_free().
 */
int gitops_land_recover(gitops_repo *r, const char *into, gitops_land_recovered **out, size_t *n,
                        grove_err *err);
void gitops_land_recovered_free(gitops_land_recovered *v, size_t n);

#endif

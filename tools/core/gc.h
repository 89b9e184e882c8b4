/*
 * gc: reconciling grove's records with what is really there (`grove gc`):
 * agents that died, worktree creations and removals a killed grove process
 * left half-way (crash recovery), git worktree entries whose folder is
 * gone, folders and branches of grove's with no instance, and running
 * instances whose worktree is gone. Nothing that holds work is removed:
 * uncommitted files or commits that exist nowhere else keep a folder or
 * branch, and are reported.
 */
#ifndef GROVE_GC_H
#define GROVE_GC_H

#include "tools/core/context.h"

/* One finding: what was found, about what, and what was (or would be) done. */
typedef struct gc_finding {
    char *kind;    /* owned: dead-agent, interrupted-create, interrupted-removal, setup-command,
                      stale-entry, orphan-folder, orphan-worktree, orphan-branch, missing-worktree */
    char *subject; /* owned: a path, a worktree or branch name, an instance id or a count */
    char *action;  /* owned: e.g. removed, kept, would remove, terminated */
    char *detail;  /* owned: why, or what; "" when there is nothing to add */
} gc_finding;

/*
 * The class of an instance, exactly one, first match wins:
 *   in_use    running, with its agent alive (tmux session or process);
 *   dirty     uncommitted files in its worktree;
 *   merged    its branch has commits of its own, and they are in its base
 *             branch (local, else <remote>/<base>): its head is an ancestor
 *             of the base head, or merging it into the base head changes
 *             nothing (a squash merge, a rebase, cherry-picks), or its pull
 *             request is merged on GitHub with the branch's current head;
 *   unpushed  commits that exist nowhere else (on no remote branch, no other
 *             local branch, not its base commit);
 *   clean     none of these (a fresh instance with no commits of its own is
 *             clean, not merged: `gc --merged` must not delete unstarted work).
 */
typedef enum gc_class {
    GC_CLASS_CLEAN = 0,
    GC_CLASS_DIRTY,
    GC_CLASS_UNPUSHED,
    GC_CLASS_MERGED,
    GC_CLASS_IN_USE,
} gc_class;

/* "clean", "dirty", "unpushed", "merged", "in_use". */
const char *gc_class_name(gc_class c);

/* One instance whose worktree folder exists, classified and measured. */
typedef struct gc_instance {
    char *id;            /* owned */
    char *worktree_path; /* owned */
    gc_class cls;
    const char *merged_by; /* static: "ancestor", "tree", "pull-request"; NULL unless merged */
    char *detail;          /* owned: why this class (and whatever could not be checked) */
    char *action;          /* owned: "kept", "removed", "would remove" */
    long long size_bytes;  /* its folder's size on disk; -1 when it could not be measured */
} gc_instance;

/* The findings in the order gc made them, then the instances. */
typedef struct gc_report {
    gc_finding *v; /* owned */
    size_t n, cap;
    gc_instance *inst; /* owned: instances in the order of their rows (oldest first) */
    size_t ninst, cap_inst;
    unsigned long long total_bytes; /* the sum of the sizes that could be measured */
} gc_report;

/* What `grove gc` is asked to do. */
typedef struct gc_opts {
    int dry_run;       /* change nothing; actions read "would ..." */
    int remove_merged; /* `--merged`: remove the worktrees and branches of merged instances */
} gc_opts;

/*
 * The size on disk of everything under folder `path` (st_blocks * 512 of
 * each entry, the folder included), one walk that follows no symbolic link
 * and stays on path's file system. A linked worktree holds only a .git
 * file, so the repository's shared objects are not counted. A file with
 * several hard links is counted at each of its names. Entries that cannot
 * be read are skipped and set *partial (may be NULL). GROVE_ENOTFOUND when
 * path does not exist.
 */
int gc_disk_usage(const char *path, unsigned long long *bytes, int *partial, grove_err *err);

/* Frees what *r owns and zeroes it. NULL is a no-op. */
void gc_report_free(gc_report *r);

/*
 * Runs gc over the context's repository and database, in this order:
 *  1. running instances whose agent is gone are marked terminated (not when dry_run);
 *  2. interrupted removals are finished; interrupted creations are completed
 *     (their instance was recorded) or undone (it never was: the half-made
 *     worktree goes, its branch stays when it has commits that exist nowhere
 *     else; a setup command still running in it is stopped first);
 *  3. git worktree entries whose folder is gone are pruned;
 *  4. folders under the worktrees base with no instance are removed when
 *     they are clean, unlocked worktrees whose branch holds no commit that
 *     exists nowhere else, and kept (reported) otherwise;
 *  5. branches with grove's prefix that no instance and no worktree uses are
 *     deleted under the same condition;
 *  6. running instances whose worktree folder is gone are marked terminated;
 *  7. every instance whose worktree folder exists is classified (gc_class)
 *     and measured (gc_disk_usage); with o->remove_merged, merged ones are
 *     terminated and their worktree and branch removed through
 *     terminate_instance(), with its checks (git's record, the folder,
 *     no uncommitted files, checked again under the lock). The one
 *     exception, stated in terminate_opts.merged_head: a branch merged by
 *     content (squash, rebase, pull request) has commits that exist nowhere
 *     else but lose nothing, so they do not refuse its removal. A pull
 *     request is asked about only when a forge and a token are configured;
 *     when GitHub cannot be reached, gc goes on with what git says and the
 *     instance's detail says so.
 * With dry_run nothing changes and each action reads "would ...". *out is
 * zeroed first and holds the findings; the caller frees it with
 * gc_report_free() (also after a failure, when it holds what was done).
 * Fails only when the records cannot be read.
 */
int gc_run(grove_ctx *ctx, const gc_opts *o, gc_report *out, grove_err *err);

#endif

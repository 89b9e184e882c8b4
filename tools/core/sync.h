/*
 * sync: sync_instance, bringing an instance's base branch's current head
 * into its branch and worktree (CONTRACT §6), by rebase or merge, all or
 * nothing (the git part: gitops_sync() in tools/git/sync.c).
 */
#ifndef GROVE_SYNC_H
#define GROVE_SYNC_H

#include "tools/core/context.h"

typedef struct sync_result {
    int synced;               /* 1: the branch holds the base head (already, or now) */
    const char *strategy;     /* "rebase" or "merge" (static) */
    char old_head[41];        /* the branch before */
    char new_head[41];        /* after; old_head when not synced or already up to date */
    char base_head[41];       /* the base branch's head used */
    char **conflicting;       /* owned: the conflicting step's paths; NULL when synced */
    size_t nconflicting;      /* 0 when synced */
    size_t replayed;          /* rebase: commits made anew */
    int finished_interrupted; /* 1: an interrupted sync of this instance was finished first */
} sync_result;

/* Frees what *r owns (not r itself) and zeroes it. NULL is a no-op. */
void sync_result_free(sync_result *r);

/*
 * Syncs instance `id` with its base branch. `strategy` is "rebase" (NULL:
 * the default) or "merge". Checked first, in order, each refusal changing
 * nothing: the instance exists (GROVE_ENOTFOUND), the caller may change it
 * (§5, GROVE_EDENIED), its worktree is there (GROVE_ENOTFOUND: also a
 * terminated instance whose worktree was removed), its branch and base
 * branch exist (GROVE_ENOTFOUND naming them), an interrupted sync of it is
 * finished (gitops_sync_recover), and its worktree has no uncommitted
 * changes (GROVE_ECONFLICT naming the files). A conflict is a result, not a
 * failure: synced 0 and the files. Kill points (instance_kill_point):
 * "sync_instance:computed", ":journal-written", ":ref-moved",
 * ":checked-out". Progress: 4 steps. *out is zeroed first.
 */
int sync_instance(grove_ctx *ctx, const char *id, const char *strategy, sync_result *out,
                  const grove_progress *p, grove_err *err);

#endif

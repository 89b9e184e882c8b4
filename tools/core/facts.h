/*
 * facts: what a prompt (prompts/get) says about one instance as it is now:
 * the recorded row, the worktree's live git state against the recorded
 * base, and the last checkpoint. Read-only; nothing changes on disk.
 */
#ifndef GROVE_CORE_FACTS_H
#define GROVE_CORE_FACTS_H

#include <stddef.h>

#include "db/queries.h"
#include "tools/core/context.h"

typedef struct instance_facts {
    grove_instance inst;  /* owned: the row, after reconciliation */
    int has_git;          /* 1 when the worktree is there: head, ahead, behind, ndirty are set */
    char head[41];        /* its HEAD commit */
    size_t ahead, behind; /* against the recorded base commit */
    size_t ndirty;        /* uncommitted paths */
    int has_checkpoint;   /* 1 when checkpoint is set */
    grove_checkpoint checkpoint; /* owned: the latest one */
} instance_facts;

/*
 * The facts of instance `id` into *out (zeroed first; the caller frees it
 * with facts_free(), also after a failure). Unknown id: GROVE_ENOTFOUND
 * "instance 'x' not found". A worktree that is gone is no failure
 * (has_git 0).
 */
int facts_load(grove_ctx *ctx, const char *id, instance_facts *out, grove_err *err);

/* Frees what *f owns (not f itself) and zeroes it. NULL is a no-op. */
void facts_free(instance_facts *f);

#endif

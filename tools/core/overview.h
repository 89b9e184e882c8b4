/*
 * overview: one row per instance with what it is doing, for `grove watch`
 * (CONTRACT §7): its agent state and how long it has been in it, ahead and
 * behind its base commit, uncommitted files, its last checkpoint, the
 * instances its branch conflicts with, its ports. Sorted for a person: the
 * instances waiting for one first.
 *
 * Refreshed every second or so, so what is expensive is kept between
 * refreshes in an overview_cache and recomputed only when it may have
 * changed: a worktree's git status when its branch head or agent state
 * moved, else every `git_every_s` seconds while its agent works (starting,
 * working) and every `git_idle_every_s` seconds otherwise (no one is
 * likely to edit it then), spread over the refreshes and within a CPU
 * budget;
 * the conflicts between branches (computed from commits alone) only when
 * a branch head or a base branch head moved, at most every
 * `conflicts_every_s` seconds. The agent state, the rows and the last
 * checkpoints are read from the database on every refresh.
 */
#ifndef GROVE_OVERVIEW_H
#define GROVE_OVERVIEW_H

#include <stddef.h>

#include "db/queries.h"
#include "tools/core/context.h"

/* The order of `grove watch`: who needs a person first. */
typedef enum overview_rank {
    OVERVIEW_WAITING = 0, /* waiting */
    OVERVIEW_WORKING,     /* working, starting */
    OVERVIEW_IDLE,        /* idle */
    OVERVIEW_DONE,        /* exited, none (no agent), or a terminated instance */
} overview_rank;

/* One instance as the overview shows it. */
typedef struct overview_row {
    grove_instance inst;         /* owned */
    const char *state;           /* agent state: inst.agent_state, or "none"; borrowed from inst */
    overview_rank rank;          /* from state (and status) */
    long long state_secs;        /* seconds in that state; -1 when unknown */
    int git_known;               /* 1: head, ahead, behind and ndirty hold its worktree's state */
    char head[41];               /* its worktree's HEAD */
    size_t ahead, behind;        /* commits of HEAD not in its base commit, and the reverse */
    size_t ndirty;               /* uncommitted files (untracked ones included) */
    double git_age_s;            /* how old that git state is, in seconds */
    int checkpoint_known;        /* 1: checkpoint is its last checkpoint */
    grove_checkpoint checkpoint; /* owned */
    long long checkpoint_secs;   /* seconds since that checkpoint; -1 when unknown */
    int conflicts_known;         /* 1: the two counts below are known (running instances) */
    size_t conflicts_with;       /* running instances whose branch conflicts with this one's */
    size_t conflicts_base;       /* files that conflict with its base branch's current head */
} overview_row;

/* One refresh. */
typedef struct overview {
    overview_row *v; /* owned, n rows in display order */
    size_t n;
    double now;             /* when it was taken: seconds since the epoch */
    double conflicts_age_s; /* how old the conflicts are, in seconds; -1: never computed */
    char warning[512];      /* what could not be found out this time (one line), or "" */
} overview;

/* Frees what *ov owns (not ov itself) and zeroes it. NULL is a no-op. */
void overview_free(overview *ov);

/* What is kept between refreshes (opaque). */
typedef struct overview_cache overview_cache;

/* A new, empty cache (NULL when memory ran out); free with overview_cache_free(). */
overview_cache *overview_cache_new(void);

/* Frees the cache. NULL is a no-op. */
void overview_cache_free(overview_cache *c);

typedef struct overview_opts {
    int all;                  /* 1: terminated instances too (after the running ones) */
    double now;               /* seconds since the epoch; 0: the clock's */
    double tick_s;            /* how often the caller refreshes; 0: everything due now */
    double git_every_s;       /* git status of a working agent's worktree this often; 0: 5 s */
    double git_idle_every_s;  /* of the others' (waiting, idle, exited, none); 0: 30 s */
    double git_cpu_ms_per_s;  /* CPU time for old git states, per second of ticks; 0: 20 ms */
    double conflicts_every_s; /* conflicts at most this often; 0: 5 s */
} overview_opts;

/*
 * Takes one overview into *out (zeroed first; the caller frees it with
 * overview_free(), also after a failure): reconciles liveness
 * (instance_reconcile_all()), lists the running instances (all with
 * o->all), reads their last checkpoints, and takes git states and
 * conflicts from `cache` (may be NULL: computes everything), recomputing
 * what is due. With o->tick_s, the worktrees whose git state is merely old
 * are taken a tick's share at a time (tick_s times the sum over the rows
 * of 1 / their cadence, rounded up), the most overdue first, so that the
 * cost is spread over the refreshes, and no more than fit in
 * git_cpu_ms_per_s of CPU time a second (as measured; at least one a
 * refresh): many or large worktrees are then refreshed less often than
 * asked. One whose branch head or agent state moved, or that is new, is
 * always taken at once.
 * A git state or conflicts that cannot be computed leave those fields
 * unknown and say why in out->warning; only a database failure fails.
 */
int overview_refresh(grove_ctx *ctx, overview_cache *cache, const overview_opts *o, overview *out,
                     grove_err *err);

/*
 * Attaches the terminal to instance `id`'s tmux session (agent_attach())
 * until the person detaches; *exit_status is tmux's. Unknown id, or an
 * instance with no agent session: GROVE_ENOTFOUND saying so.
 */
int overview_attach(grove_ctx *ctx, const char *id, int *exit_status, grove_err *err);

#endif

/*
 * ports: a block of ports for each instance (CONTRACT §6), so that the dev
 * servers of agents in different worktrees never clash. Blocks come from
 * config ports.range (default 20000-29999) in steps of ports.per_instance
 * (default 10); a block is held while its instance runs, or while the
 * instance is still being made. The database decides: a reservation reads
 * the blocks and records the new one in one BEGIN IMMEDIATE transaction,
 * so concurrent spawns (other processes included) never get the same one.
 */
#ifndef GROVE_PORTS_H
#define GROVE_PORTS_H

#include "tools/core/context.h"

typedef struct ports_block {
    long long first; /* the first port (GROVE_PORT) */
    long long count; /* ports in the block: GROVE_PORTS is first-(first+count-1) */
} ports_block;

/*
 * Reserves a free block for instance `id`, whose worktree folder
 * (<worktrees base>/<id>) exists already. Blocks of instances that ended,
 * and of creations that died before their row was written, are freed on
 * the way. A bad ports.range or ports.per_instance: GROVE_EINVAL; no free
 * block: GROVE_ECONFLICT naming the range and how many blocks are held.
 */
int ports_reserve(grove_ctx *ctx, const char *id, ports_block *out, grove_err *err);

/* 0 when ports.range and ports.per_instance are usable; else GROVE_EINVAL saying what to set. */
int ports_config_check(grove_ctx *ctx, grove_err *err);

/* Gives instance `id`'s block back (a creation that failed). Logs what fails. */
void ports_release(grove_ctx *ctx, const char *id);

/*
 * The environment entries for a block, "GROVE_PORT=<first>" and
 * "GROVE_PORTS=<first>-<last>", into port[32] and ports[48].
 */
void ports_env(const ports_block *b, char port[32], char ports[48]);

#endif

/*
 * batch: group commit for pipelined tool calls.
 *
 * When a client has sent several requests before reading the answers, the
 * server runs the calls of batchable tools (mcp_group_fns.batchable:
 * database work and quick reads only) that are already waiting on its input in one
 * database transaction (mcp_group_fns), each of
 * their database writes in a savepoint of its own, and holds back every
 * message it would write until that transaction is committed and fsynced:
 * each answer still means "on disk", and the answers go out in the order
 * they were made. A request that arrives alone is never held back: a group
 * is opened only when another complete request is buffered already, and
 * closed (committed, its messages written) as soon as none is, or after
 * MCP_BATCH_MAX_CALLS calls or MCP_BATCH_MAX_MS (the group holds the
 * database's write lock: other processes wait meanwhile).
 *
 * When the commit fails, nothing of the group's writes is on disk: the
 * answer of every call that wrote (a batchable tool that is not read-only
 * and did not fail) is replaced by an error result saying so.
 */
#ifndef GROVE_MCP_BATCH_H
#define GROVE_MCP_BATCH_H

#include <stddef.h>

#include <jansson.h>

#include "tools/base/grove.h"
#include "tools/base/io.h"

struct grove_ctx;

/*
 * What the program hands the server for group commit (mcp_tools.group;
 * all NULL: none). batchable: tool i may run inside a group (database work
 * and quick reads only: no git writes, tmux, processes or network, and
 * quick). begin opens one transaction on ctx's database for the calls that
 * follow (0, or -1 with err); commit commits and fsyncs it (0), or fails
 * with err when none of its writes can be known to be on disk.
 */
typedef struct mcp_group_fns {
    int (*batchable)(size_t i);
    int (*begin)(struct grove_ctx *ctx, grove_err *err);
    int (*commit)(struct grove_ctx *ctx, grove_err *err);
    /*
     * Optional, both or neither: commit_nowait commits like commit but
     * may leave its fsync running (0, or -1 with err like commit); synced
     * waits for that fsync (0, or -1 with err: nothing of that group is
     * known to be on disk).
     */
    int (*commit_nowait)(struct grove_ctx *ctx, grove_err *err);
    int (*synced)(struct grove_ctx *ctx, grove_err *err);
} mcp_group_fns;

#define MCP_BATCH_MAX_CALLS 256
#define MCP_BATCH_MAX_MS    20.0

/* One message held back: bytes [off, off + len) of the buffer. */
typedef struct mcp_batch_msg {
    size_t off, len;
    json_t *id; /* owned: the request id of an answer that needs the commit; else NULL */
} mcp_batch_msg;

/* Messages held back: lines in buf, one mcp_batch_msg each. */
typedef struct mcp_batch_out {
    char *buf; /* owned: the messages, each a line */
    size_t len, cap;
    mcp_batch_msg *msgs; /* owned */
    size_t nmsgs, capmsgs;
} mcp_batch_out;

typedef struct mcp_batch {
    struct grove_ctx *ctx; /* borrowed: whose database the open group is in; NULL: none open */
    size_t calls;          /* calls run in the open group */
    double t0;             /* grove_now_ms() when it was opened */
    int writes;            /* a call of the group is in progress (its answer needs the commit) */
    mcp_batch_out cur;     /* the open group's messages */
    /* a group committed by mcp_batch_close_nowait(), its messages waiting for its fsync */
    mcp_batch_out pending;
    struct grove_ctx *pending_ctx; /* borrowed: whose fsync they wait for; NULL: none */
    int has_pending;
} mcp_batch;

/*
 * The name of the tool a request calls (a tools/call with an id and a
 * string name without NUL), borrowed from msg; else NULL.
 */
const char *mcp_batch_call_name(const json_t *msg);

/*
 * 1 when another complete line is waiting: in r's buffer, or readable from
 * fd without blocking (read into r then). Never waits.
 */
int mcp_batch_more_input(io_reader *r, int fd);

/* Opens a group on ctx's database. 0, or -1 (logged; the call then runs on its own). */
int mcp_batch_open(mcp_batch *b, const mcp_group_fns *g, struct grove_ctx *ctx);

/* 1 while a group is open (messages are held back). */
int mcp_batch_is_open(const mcp_batch *b);

/* 1 when the open group is full (calls or time): close it after the call in progress. */
int mcp_batch_full(const mcp_batch *b);

/*
 * Holds back one message `msg` (borrowed), serialized as `line` (`len`
 * bytes with its newline). A successful answer (a result that is not
 * isError) while b->writes is set is remembered: it is replaced by an
 * error when the commit fails. 0, or -1 when out of memory.
 */
int mcp_batch_hold(mcp_batch *b, const char *line, size_t len, json_t *msg);

/*
 * Commits the open group (nothing when none is open) and hands back the
 * held-back messages, in order, in *out (*outlen bytes; borrowed until the
 * next call): answers that needed the commit replaced by error results
 * when it failed. The group is closed afterwards.
 */
void mcp_batch_close(mcp_batch *b, const mcp_group_fns *g, const char **out, size_t *outlen);

/*
 * Commits the open group like mcp_batch_close(), but without waiting for
 * its fsync when g can (commit_nowait): its messages are kept until
 * mcp_batch_take_pending(), and the caller runs the next calls meanwhile.
 * Anything pending must have been taken before. Without commit_nowait, or
 * when the commit failed, the messages are pending and ready at once.
 */
void mcp_batch_close_nowait(mcp_batch *b, const mcp_group_fns *g);

/*
 * The messages of the group mcp_batch_close_nowait() committed, after its
 * fsync (waited for here), in order, in *out (*outlen bytes, 0 when
 * nothing is pending; borrowed until the next call): answers that needed
 * the commit replaced by error results when the fsync failed.
 */
void mcp_batch_take_pending(mcp_batch *b, const mcp_group_fns *g, const char **out, size_t *outlen);

/* Frees what b holds (the group must be closed). */
void mcp_batch_free(mcp_batch *b);

#endif

/*
 * call: one tool call in progress, as its handler sees it.
 *
 * A handler is `int tool_<name>(tool_call *call, const json_t *args,
 * json_t **out, grove_err *err)` in tools/<name>.c. It borrows `call` and
 * `args` (validated against its inputSchema) and, on success, returns 0 and
 * a new reference in *out (the structured result); on failure it fills err
 * (the message the agent sees in an isError result), leaves *out NULL and
 * returns -1. The registry (registry.c) runs it and records the call.
 */
#ifndef GROVE_TOOLS_CALL_H
#define GROVE_TOOLS_CALL_H

#include <jansson.h>

#include "db/db.h"
#include "tools/arg.h"
#include "tools/core/context.h"

typedef struct tool_call {
    grove_ctx *ctx;                 /* borrowed */
    const grove_progress *progress; /* NULL when the client asked for no progress */
    const char *tool;               /* the tool's name; static */
    const json_t *args;             /* borrowed: what the event records */
    int read_only;                  /* the tool writes nothing of its own */
    double t0;                      /* grove_now_ms() when it started */
    int recorded;                   /* its event was committed by tool_call_txn() */
} tool_call;

/*
 * For handlers whose writes touch nothing but the database: runs fn (see
 * db_txn(): it may run again on SQLITE_BUSY, so it must only touch the
 * database) and records the call's event (success) in the same
 * transaction: one commit, one fsync for the whole call (the event's
 * duration then ends where it is written, before the commit). Do anything
 * else (git, the file system) before. Call it as the handler's last step
 * that can fail: a failure after it records a second event, for the failure.
 */
int tool_call_txn(tool_call *call, db_txn_fn fn, void *arg, grove_err *err);

/*
 * Records the call's event (caller, success, error message, duration,
 * arguments with credentials redacted) unless tool_call_txn() did already
 * and it succeeded. Problems are logged: recording never fails a call.
 */
void tool_call_record(tool_call *call, int success, const char *message);

/*
 * The arguments as an event records them (new reference; NULL when out of
 * memory): a copy with credentials redacted (secret_redact_json()), in
 * which every top-level value over LIMIT_EVENT_VALUE_BYTES (4 KiB) is
 * replaced by {"truncated": true, "bytes": N, "sha256": "<64 hex>"}. N and
 * the hash are over a string's UTF-8 bytes, and over the compact JSON
 * (JSON_COMPACT, as stored) of an object or array, after redaction. A
 * nested value is never larger than the top-level value holding it, so
 * every stored event is small. When nothing is to be redacted or summarized,
 * args itself with one more reference: never modify what this returns.
 */
json_t *tool_event_metadata(const json_t *args);

#endif

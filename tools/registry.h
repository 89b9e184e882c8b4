/*
 * registry: the explicit list of grove's tools. Each tool is one module,
 * tools/<name>.c with its handler and tools/<name>.json with its definition
 * (name, title, description, annotations, inputSchema, outputSchema),
 * embedded at build time.
 *
 * Ownership: a handler borrows `args` and, on success, returns a new
 * reference in `*out` (the structured result object); on failure it fills
 * `err` (the message the agent sees in an isError result) and leaves *out
 * NULL.
 */
#ifndef GROVE_REGISTRY_H
#define GROVE_REGISTRY_H

#include <jansson.h>

#include "db/db.h"
#include "tools/base/grove.h"

struct grove_ctx;

/* Progress reporting for long tools; the MCP layer turns it into notifications. */
typedef struct tool_progress {
    /* step counts from 1 and must grow; total may be 0 when unknown. */
    void (*emit)(void *arg, double step, double total, const char *message);
    void *arg;
} tool_progress;

/* Reports a step if `p` is not NULL (the request had no progressToken otherwise). */
void tool_progress_step(const tool_progress *p, double step, double total, const char *message);

typedef int (*tool_handler)(struct grove_ctx *ctx, const json_t *args, const tool_progress *p,
                            json_t **out, grove_err *err);

typedef struct tool_def {
    const char *name;
    tool_handler handler;
    int read_only; /* writes nothing of its own: annotations.readOnlyHint (test_registry) */
} tool_def;

/* Number of tools, in the order tools/list shows them. */
size_t tools_count(void);

/* Tool i's definition. */
const tool_def *tools_get(size_t i);

/*
 * Tool i's definition as a new JSON object {name, title, description,
 * annotations, inputSchema, outputSchema}: its embedded tools/<name>.json
 * with the shared definitions of tools/_defs.json that its schemas
 * reference ("$ref": "#/$defs/instance") copied into their "$defs".
 * NULL with err filled when the embedded data is broken (a build defect).
 */
json_t *tools_spec(size_t i, grove_err *err);

/*
 * tools_spec() that keeps the parsed tools/_defs.json in *shared (NULL at
 * first; the caller json_decref()s it at the end) for the next calls.
 */
json_t *tools_spec_cached(size_t i, json_t **shared, grove_err *err);

/* Index of the tool called `name`, or -1. */
int tools_find(const char *name);

/*
 * Runs tool i's handler and records the call in grove_mcp_events (caller,
 * success, error message, duration, arguments with secrets removed).
 * Returns the handler's result.
 */
int tools_call(struct grove_ctx *ctx, size_t i, const json_t *args, const tool_progress *p,
               json_t **out, grove_err *err);

/*
 * For handlers whose writes touch nothing but the database: runs fn (see
 * db_txn(): it may run again on SQLITE_BUSY, so it must only touch the
 * database) and records the call's event (success) in the same
 * transaction: one commit, one fsync for the whole call (the event's
 * duration then ends where it is written, before the commit). Do anything
 * else (git, the file system) before. Call it as the handler's last step
 * that can fail: a failure after it records a second event, for the failure.
 */
int tools_txn(struct grove_ctx *ctx, db_txn_fn fn, void *arg, grove_err *err);

/* Records a call that never reached its handler (arguments failed validation). */
void tools_record_rejected(struct grove_ctx *ctx, size_t i, const json_t *args,
                           const char *message);

/* The handlers, one per tools/<name>.c. */
int tool_spawn_work_instance(struct grove_ctx *, const json_t *, const tool_progress *, json_t **,
                             grove_err *);
int tool_spawn_review_instance(struct grove_ctx *, const json_t *, const tool_progress *, json_t **,
                               grove_err *);
int tool_fork_instance(struct grove_ctx *, const json_t *, const tool_progress *, json_t **,
                       grove_err *);
int tool_create_pull_request(struct grove_ctx *, const json_t *, const tool_progress *, json_t **,
                             grove_err *);
int tool_send_feedback(struct grove_ctx *, const json_t *, const tool_progress *, json_t **,
                       grove_err *);
int tool_log_checkpoint(struct grove_ctx *, const json_t *, const tool_progress *, json_t **,
                        grove_err *);
int tool_get_checkpoint(struct grove_ctx *, const json_t *, const tool_progress *, json_t **,
                        grove_err *);
int tool_query_instances(struct grove_ctx *, const json_t *, const tool_progress *, json_t **,
                         grove_err *);
int tool_get_instance(struct grove_ctx *, const json_t *, const tool_progress *, json_t **,
                      grove_err *);
int tool_terminate_instance(struct grove_ctx *, const json_t *, const tool_progress *, json_t **,
                            grove_err *);
int tool_query_events(struct grove_ctx *, const json_t *, const tool_progress *, json_t **,
                      grove_err *);

#endif

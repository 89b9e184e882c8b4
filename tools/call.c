/* call: a tool call's event, recorded alone or with the tool's own writes (see call.h). */
#include "tools/call.h"

#include <string.h>

#include "db/queries.h"
#include "tools/base/secret.h"

/* The event row of a call; *meta (the arguments without credentials) is the caller's. */
static void event_init(const tool_call *call, int success, const char *message, db_new_event *ev,
                       json_t **meta)
{
    *meta = call->args ? json_deep_copy(call->args) : json_object();
    secret_redact_json(*meta);
    memset(ev, 0, sizeof(*ev));
    ev->instance_id = call->ctx->caller_id;
    ev->tool_name = call->tool;
    ev->success = success;
    ev->error_message = success ? NULL : message;
    ev->metadata = *meta;
    ev->duration_ms = grove_now_ms() - call->t0;
    /* The event of a call that wrote nothing else is not worth an fsync of its own (README). */
    ev->relaxed = call->read_only;
}

void tool_call_record(tool_call *call, int success, const char *message)
{
    json_t *meta = NULL;
    db_new_event ev;
    grove_err err = GROVE_ERR_INIT;

    if (!call->ctx || !call->ctx->db || (call->recorded && success))
        return;
    event_init(call, success, message, &ev, &meta);
    if (db_event_insert(call->ctx->db, &ev, &err) != 0)
        log_warn("could not record the call of '%s': %s", call->tool, err.msg);
    json_decref(meta);
}

typedef struct txn_state {
    const tool_call *call;
    db_txn_fn fn;
    void *arg;
    db_new_event ev; /* the call's event (success) */
} txn_state;

/* db_txn body of tool_call_txn(): the tool's writes, then its event. */
static int txn_body(grove_db *db, void *arg, grove_err *err)
{
    txn_state *t = arg;
    int rc = t->fn(db, t->arg, err);

    if (rc != 0)
        return rc;
    t->ev.duration_ms = grove_now_ms() - t->call->t0;
    return db_event_insert(db, &t->ev, err) == 0 ? 0 : -1;
}

int tool_call_txn(tool_call *call, db_txn_fn fn, void *arg, grove_err *err)
{
    txn_state t;
    json_t *meta = NULL;
    int rc;

    memset(&t, 0, sizeof(t));
    t.call = call;
    t.fn = fn;
    t.arg = arg;
    event_init(call, 1, NULL, &t.ev, &meta);
    rc = db_txn(call->ctx->db, txn_body, &t, err);
    if (rc == 0)
        call->recorded = 1;
    json_decref(meta);
    return rc;
}

/* call: a tool call's event, recorded alone or with the tool's own writes (see call.h). */
#include "tools/call.h"

#include <sodium.h>
#include <string.h>

#include "db/queries.h"
#include "tools/base/secret.h"
#include "tools/core/limits.h"

/* The size and running sha256 of a value's compact serialization (json_dump_callback). */
typedef struct value_hash {
    crypto_hash_sha256_state st;
    size_t bytes;
} value_hash;

static int hash_chunk(const char *buf, size_t size, void *arg)
{
    value_hash *h = arg;

    h->bytes += size;
    return crypto_hash_sha256_update(&h->st, (const unsigned char *)buf, size);
}

/*
 * Replaces v[key] by {"truncated": true, "bytes": N, "sha256": hex} when it is
 * over LIMIT_EVENT_VALUE_BYTES: N and the hash are of a string's UTF-8
 * bytes, or of any other value's compact JSON (streamed: no second copy).
 * 0, or -1 when out of memory.
 */
static int summarize_member(json_t *obj, const char *key, const json_t *v)
{
    unsigned char digest[crypto_hash_sha256_BYTES];
    char hex[crypto_hash_sha256_BYTES * 2 + 1];
    value_hash h;

    crypto_hash_sha256_init(&h.st);
    h.bytes = 0;
    if (json_is_string(v)) {
        h.bytes = json_string_length(v);
        if (h.bytes <= LIMIT_EVENT_VALUE_BYTES)
            return 0;
        crypto_hash_sha256_update(&h.st, (const unsigned char *)json_string_value(v), h.bytes);
    } else if (json_is_object(v) || json_is_array(v)) {
        if (limits_json_bound(v) <= LIMIT_EVENT_VALUE_BYTES ||
            json_dumpb(v, NULL, 0, JSON_COMPACT) <= LIMIT_EVENT_VALUE_BYTES)
            return 0;
        if (json_dump_callback(v, hash_chunk, &h, JSON_COMPACT) != 0)
            return -1;
    } else {
        return 0; /* numbers, booleans and null are small */
    }
    crypto_hash_sha256_final(&h.st, digest);
    sodium_bin2hex(hex, sizeof(hex), digest, sizeof(digest));
    return json_object_set_new(
        obj, key,
        json_pack("{s:b, s:I, s:s}", "truncated", 1, "bytes", (json_int_t)h.bytes, "sha256", hex));
}

/* 1 when a member of object `args` is over LIMIT_EVENT_VALUE_BYTES (summarize_member()). */
static int member_over_limit(const json_t *args)
{
    const char *key;
    json_t *v;

    json_object_foreach((json_t *)args, key, v)
    {
        if ((json_is_string(v) && json_string_length(v) > LIMIT_EVENT_VALUE_BYTES) ||
            ((json_is_object(v) || json_is_array(v)) &&
             limits_json_bound(v) > LIMIT_EVENT_VALUE_BYTES &&
             json_dumpb(v, NULL, 0, JSON_COMPACT) > LIMIT_EVENT_VALUE_BYTES))
            return 1;
    }
    return 0;
}

json_t *tool_event_metadata(const json_t *args)
{
    json_t *meta, *v;
    const char *key;
    void *tmp;

    /* Nothing to redact or summarize (the usual case): args itself, no copy (issue 17). */
    if (json_is_object(args) && !secret_json_found(args) && !member_over_limit(args))
        return json_incref((json_t *)args);
    meta = args ? json_deep_copy(args) : json_object();
    if (!meta)
        return NULL;
    /* Redacted first: a summary's hash never covers a credential. */
    secret_redact_json(meta);
    json_object_foreach_safe(meta, tmp, key, v)
    {
        if (summarize_member(meta, key, v) != 0) {
            json_decref(meta);
            return NULL;
        }
    }
    return meta;
}

/* The event row of a call; *meta (the arguments as recorded, tool_event_metadata()) is the
 * caller's: NULL when out of memory (the event then records no arguments). */
static void event_init(const tool_call *call, int success, const char *message, db_new_event *ev,
                       json_t **meta)
{
    *meta = tool_event_metadata(call->args);
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

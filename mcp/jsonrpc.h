/*
 * jsonrpc: JSON-RPC 2.0 envelopes. Parsing with limits (size is the line
 * reader's job; depth and UTF-8 are checked here), classification of a
 * parsed message, and construction of responses.
 */
#ifndef GROVE_JSONRPC_H
#define GROVE_JSONRPC_H

#include <stddef.h>

#include <jansson.h>

#define RPC_PARSE_ERROR      (-32700)
#define RPC_INVALID_REQUEST  (-32600)
#define RPC_METHOD_NOT_FOUND (-32601)
#define RPC_INVALID_PARAMS   (-32602)
#define RPC_INTERNAL_ERROR   (-32603)
/* MCP: resources/read or subscribe of a URI that names nothing */
#define MCP_RESOURCE_NOT_FOUND (-32002)

#define RPC_MAX_DEPTH 64

/*
 * Parses one message. A leading UTF-8 BOM is skipped. Returns a new
 * reference, or NULL with msg filled and *code = RPC_PARSE_ERROR (not JSON,
 * not UTF-8, or JSON grove cannot hold: a number beyond int64 or double, a
 * lone surrogate escape) or RPC_INVALID_REQUEST (nested deeper than
 * RPC_MAX_DEPTH, or an object with a key twice). For the latter kinds
 * *salvageable is set: rpc_salvage_id() finds the id to answer with.
 */
json_t *rpc_parse(const char *line, size_t len, int *code, char *msg, size_t msglen,
                  int *salvageable);

/*
 * The id of a request that is JSON but that rpc_parse() refused (a number
 * or a surrogate it cannot hold, a duplicate key): read leniently (numbers
 * as reals, lone surrogate escapes as U+FFFD, the last of duplicate keys),
 * so that the error can echo it. A new reference to a valid id, or NULL.
 */
json_t *rpc_salvage_id(const char *line, size_t len);

/* Deepest nesting of arrays/objects in the JSON text (strings skipped); stops counting past
 * `limit`. */
int rpc_depth(const char *text, size_t len, int limit);

typedef enum rpc_kind {
    RPC_REQUEST,      /* method + id: must be answered */
    RPC_NOTIFICATION, /* method, no id: never answered */
    RPC_RESPONSE,     /* result or error + id: a reply to us (we send no requests): ignored */
    RPC_INVALID, /* answer with error `code`, `message`, echoing `id` (json null when unusable) */
} rpc_kind;

/* A classified message; every pointer is borrowed from the parsed message. */
typedef struct rpc_msg {
    rpc_kind kind;
    json_t *id;         /* string or number for requests; NULL otherwise */
    const char *method; /* NUL-free method name for requests and notifications */
    json_t *params;     /* object, array, or NULL when absent */
    int code;           /* for RPC_INVALID */
    const char *message;
} rpc_msg;

/* Classifies `msg` (any JSON value) per JSON-RPC 2.0 and MCP (ids are strings or numbers, never
 * null). */
void rpc_classify(json_t *msg, rpc_msg *out);

/* {"jsonrpc":"2.0","id":id,"result":result}. Steals result; borrows id (NULL → null). New
 * reference. */
json_t *rpc_result(json_t *id, json_t *result);

/* {"jsonrpc":"2.0","id":id,"error":{code,message[,data]}}. Borrows id, steals data (may be NULL).
 */
json_t *rpc_error(json_t *id, int code, const char *message, json_t *data);

/* {"jsonrpc":"2.0","method":method,"params":params}. Steals params. */
json_t *rpc_notification(const char *method, json_t *params);

#endif

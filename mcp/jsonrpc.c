#include "mcp/jsonrpc.h"

#include <stdio.h>
#include <string.h>

int rpc_depth(const char *text, size_t len, int limit)
{
    int depth = 0, max = 0, in_string = 0;
    size_t i;

    for (i = 0; i < len; i++) {
        char c = text[i];

        if (in_string) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_string = 0;
            continue;
        }
        if (c == '"') {
            in_string = 1;
        } else if (c == '[' || c == '{') {
            if (++depth > max) {
                max = depth;
                if (max > limit)
                    return max;
            }
        } else if (c == ']' || c == '}') {
            depth--;
        }
    }
    return max;
}

json_t *rpc_parse(const char *line, size_t len, int *code, char *msg, size_t msglen)
{
    json_error_t jerr;
    json_t *v;

    if (len >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0) {
        line += 3;
        len -= 3;
    }
    if (rpc_depth(line, len, RPC_MAX_DEPTH) > RPC_MAX_DEPTH) {
        *code = RPC_INVALID_REQUEST;
        snprintf(msg, msglen, "invalid request: nested deeper than %d levels", RPC_MAX_DEPTH);
        return NULL;
    }
    /* JSON_ALLOW_NUL: "\u0000" is valid JSON; consumers use lengths where it matters. */
    v = json_loadb(line, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (!v) {
        *code = RPC_PARSE_ERROR;
        snprintf(msg, msglen, "parse error: %s at byte %d", jerr.text, jerr.position);
        return NULL;
    }
    return v;
}

static int valid_id(const json_t *id)
{
    return json_is_string(id) || json_is_integer(id) || json_is_real(id);
}

void rpc_classify(json_t *msg, rpc_msg *out)
{
    json_t *jsonrpc, *id, *method, *params;
    int has_id;

    memset(out, 0, sizeof(*out));
    out->kind = RPC_INVALID;
    out->code = RPC_INVALID_REQUEST;
    if (!json_is_object(msg)) {
        out->message = "invalid request: a message must be a JSON object";
        return;
    }
    jsonrpc = json_object_get(msg, "jsonrpc");
    id = json_object_get(msg, "id");
    method = json_object_get(msg, "method");
    params = json_object_get(msg, "params");
    has_id = id != NULL;
    if (has_id && valid_id(id))
        out->id = id;

    if (!json_is_string(jsonrpc) || json_string_length(jsonrpc) != 3 ||
        strcmp(json_string_value(jsonrpc), "2.0") != 0) {
        out->message = "invalid request: \"jsonrpc\" must be \"2.0\"";
        return;
    }
    if (!method) {
        if (json_object_get(msg, "result") || json_object_get(msg, "error")) {
            out->kind = RPC_RESPONSE;
            return;
        }
        out->message = "invalid request: \"method\" is missing";
        return;
    }
    if (!json_is_string(method)) {
        out->message = "invalid request: \"method\" must be a string";
        return;
    }
    if (strlen(json_string_value(method)) != json_string_length(method)) {
        out->message = "invalid request: \"method\" contains a NUL character";
        return;
    }
    if (has_id && !valid_id(id)) {
        out->message = json_is_null(id) ? "invalid request: \"id\" must not be null"
                                        : "invalid request: \"id\" must be a string or a number";
        return;
    }
    if (params && !json_is_object(params) && !json_is_array(params)) {
        out->message = "invalid request: \"params\" must be an object or an array";
        if (!has_id) {
            /* Even a broken notification is never answered. */
            out->kind = RPC_NOTIFICATION;
            out->method = json_string_value(method);
        }
        return;
    }
    out->method = json_string_value(method);
    out->params = params;
    out->kind = has_id ? RPC_REQUEST : RPC_NOTIFICATION;
}

json_t *rpc_result(json_t *id, json_t *result)
{
    return json_pack("{s:s, s:O?, s:o}", "jsonrpc", "2.0", "id", id, "result", result);
}

json_t *rpc_error(json_t *id, int code, const char *message, json_t *data)
{
    json_t *err = json_pack("{s:i, s:s}", "code", code, "message", message);

    if (err && data)
        json_object_set_new(err, "data", data);
    else if (data)
        json_decref(data);
    return json_pack("{s:s, s:O?, s:o}", "jsonrpc", "2.0", "id", id, "error", err);
}

json_t *rpc_notification(const char *method, json_t *params)
{
    return json_pack("{s:s, s:s, s:o}", "jsonrpc", "2.0", "method", method, "params", params);
}

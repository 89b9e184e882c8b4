/* arg: reading a tool's arguments (see arg.h). */
#include "tools/arg.h"

#include <string.h>

const char *arg_str(const json_t *args, const char *key)
{
    return json_string_value(json_object_get(args, key));
}

int arg_bool(const json_t *args, const char *key, int dflt)
{
    const json_t *v = json_object_get(args, key);

    return json_is_boolean(v) ? json_is_true(v) : dflt;
}

long long arg_int(const json_t *args, const char *key, long long dflt)
{
    const json_t *v = json_object_get(args, key);

    if (json_is_integer(v))
        return json_integer_value(v);
    if (json_is_real(v))
        return (long long)json_real_value(v);
    return dflt;
}

int arg_issue(const json_t *v, issue_ref *out, grove_err *err)
{
    memset(out, 0, sizeof(*out));
    if (!v || json_is_null(v))
        return 0;
    if (json_is_integer(v) || json_is_real(v)) {
        double d = json_number_value(v);

        if (d < 1 || d > (double)ISSUE_NUMBER_MAX || d != (double)(long long)d)
            return grove_fail(err, GROVE_EINVAL,
                              "invalid issue: a GitHub issue number must be a positive integer");
        out->number = (long long)d;
        return 0;
    }
    return instance_parse_issue(json_string_value(v), json_is_string(v) ? json_string_length(v) : 0,
                                out, err);
}

const char *arg_target(grove_ctx *ctx, const json_t *args, const char *key, grove_err *err)
{
    const char *id = arg_str(args, key);

    if (id)
        return id;
    if (ctx->caller_id)
        return ctx->caller_id;
    grove_fail(err, GROVE_EINVAL,
               "'%s' is needed: this grove server speaks for no instance (set "
               "GROVE_INSTANCE_ID or run it inside an instance's worktree)",
               key);
    return NULL;
}

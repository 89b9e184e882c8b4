#include "tools/core/notify.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "tools/agents/agent.h"

int notify_argv(const char *command_json, const char *id, const char *state, const char *message,
                char ***out, grove_err *err)
{
    const char *const vals[3] = {id, state, message ? message : ""};
    json_error_t jerr;
    json_t *arr = json_loads(command_json, JSON_REJECT_DUPLICATES, &jerr);
    char **argv = NULL;
    size_t n, i;
    int rc = -1;

    *out = NULL;
    if (!json_is_array(arr) || (n = json_array_size(arr)) == 0) {
        grove_fail(err, GROVE_EINVAL,
                   "config notify.command must be a JSON array of strings, "
                   "such as [\"notify-send\",\"grove\",\"{instance_id}: {state}\"]");
        goto done;
    }
    if (!(argv = calloc(n + 1, sizeof(*argv)))) {
        grove_nomem(err);
        goto done;
    }
    for (i = 0; i < n; i++) {
        static const char *const keys[3] = {"{instance_id}", "{state}", "{message}"};
        const char *s = json_string_value(json_array_get(arr, i));

        if (!s || (i == 0 && !*s)) {
            grove_fail(err, GROVE_EINVAL,
                       "config notify.command must be a JSON array of strings (element %zu is "
                       "not)",
                       i);
            goto done;
        }
        if (!(argv[i] = agent_expand(s, keys, vals, 3, NULL))) {
            grove_nomem(err);
            goto done;
        }
    }
    *out = argv;
    argv = NULL;
    rc = 0;
done:
    agent_free_argv(argv);
    json_decref(arr);
    return rc;
}

void notify_state(grove_ctx *ctx, const char *id, const char *state, const char *message)
{
    char *command = ctx_setting(ctx, NULL, "notify.command");
    char **argv = NULL;
    grove_err err = GROVE_ERR_INIT;

    if (!command)
        return;
    if (notify_argv(command, id, state, message, &argv, &err) != 0 ||
        agent_spawn_detached(argv, NULL, &err) != 0)
        log_warn("notify.command for '%s' (%s) did not run: %s", id, state, err.msg);
    agent_free_argv(argv);
    free(command);
}

/* cli_common: helpers shared by the command modules (see tools/cli/cli_common.h). */
#include "tools/cli/cli_common.h"

#include <stdio.h>
#include <stdlib.h>

grove_ctx *cli_open_ctx(const char *cmd, const args *a, const arg_flag *flags, int migrate)
{
    ctx_options o = {0};
    grove_ctx *ctx = NULL;
    grove_err err = GROVE_ERR_INIT;

    o.repo = args_get(a, flags, "repo");
    o.db = args_get(a, flags, "db");
    o.migrate = migrate;
    if (ctx_open(&ctx, &o, &err) != 0) {
        fprintf(stderr, "grove %s: %s\n", cmd, err.msg);
        return NULL;
    }
    return ctx;
}

void cli_print_json(const json_t *v)
{
    char *s = json_dumps(v, JSON_INDENT(2));

    if (s)
        puts(s);
    free(s);
}

const char *cli_str_or(const json_t *obj, const char *key, const char *dflt)
{
    const char *s = json_string_value(json_object_get(obj, key));

    return s ? s : dflt;
}

const char *cli_or(const char *s, const char *dflt)
{
    return s ? s : dflt;
}

#include "tools/cli/args.h"

#include <stdio.h>
#include <string.h>

int args_parse(args *out, const char *cmd, const arg_flag *flags, int argc, char **argv)
{
    int i;

    memset(out, 0, sizeof(*out));
    for (i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *eq;
        size_t n;
        int f;

        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            out->help = 1;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            for (i++; i < argc; i++) {
                if (out->npos == ARGS_MAX_POS)
                    goto too_many;
                out->pos[out->npos++] = argv[i];
            }
            break;
        }
        if (a[0] != '-' || a[1] == '\0') {
            if (out->npos == ARGS_MAX_POS)
                goto too_many;
            out->pos[out->npos++] = a;
            continue;
        }
        if (a[1] != '-') {
            fprintf(stderr, "grove %s: unknown option '%s' (see 'grove %s --help')\n", cmd, a, cmd);
            return 2;
        }
        a += 2;
        eq = strchr(a, '=');
        n = eq ? (size_t)(eq - a) : strlen(a);
        for (f = 0; flags && flags[f].name; f++)
            if (strlen(flags[f].name) == n && strncmp(flags[f].name, a, n) == 0)
                break;
        if (!flags || !flags[f].name || f >= ARGS_MAX_FLAGS) {
            fprintf(stderr, "grove %s: unknown option '--%.*s' (see 'grove %s --help')\n", cmd,
                    (int)n, a, cmd);
            return 2;
        }
        if (!flags[f].takes_value) {
            if (eq) {
                fprintf(stderr, "grove %s: option '--%s' takes no value\n", cmd, flags[f].name);
                return 2;
            }
            out->values[f] = "";
        } else if (eq) {
            out->values[f] = eq + 1;
        } else if (i + 1 < argc) {
            out->values[f] = argv[++i];
        } else {
            fprintf(stderr, "grove %s: option '--%s' needs a value\n", cmd, flags[f].name);
            return 2;
        }
    }
    return 0;
too_many:
    fprintf(stderr, "grove %s: too many arguments (see 'grove %s --help')\n", cmd, cmd);
    return 2;
}

const char *args_get(const args *a, const arg_flag *flags, const char *name)
{
    int f;

    for (f = 0; flags[f].name; f++)
        if (strcmp(flags[f].name, name) == 0)
            return a->values[f];
    return NULL;
}

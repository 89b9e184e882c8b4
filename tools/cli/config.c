/*
 * config: `grove config get|set|list`. Settings live in the database
 * (grove_user_config); secrets are sealed (tools/base/secret.c); `list`
 * shows every setting grove knows with where its value comes from.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <jansson.h>

#include "db/queries.h"
#include "tools/base/secret.h"
#include "tools/cli/args.h"
#include "tools/cli/cli.h"
#include "tools/cli/cli_common.h"
#include "tools/core/context.h"

/* ---- config list -------------------------------------------------------- */

typedef struct setting {
    const char *key;
    const char *env;  /* environment variable that overrides it, or NULL */
    const char *env2; /* a second one (GH_TOKEN), or NULL */
    const char *dflt; /* default value, or NULL (none / computed) */
    int secret;       /* a credential: never shown */
    const char *note; /* what "unset" means, or NULL */
} setting;

/* Every setting grove reads, sorted by key. */
static const setting SETTINGS[] = {
    {"agent.command", "GROVE_AGENT_COMMAND", NULL, NULL, 0, "worktrees only, no agent"},
    {"agent.default", "GROVE_AGENT_DEFAULT", NULL, NULL, 0,
     "custom when an agent command is set, else no agent"},
    {"agent.profiles", NULL, NULL, NULL, 0, "the built-in claude, codex, gemini and custom"},
    {"branch.prefix", "GROVE_BRANCH_PREFIX", NULL, "grove/", 0, NULL},
    {"git.remote", NULL, NULL, "origin", 0, NULL},
    {"github.api_url", "GITHUB_API_URL", NULL, "https://api.github.com", 0, NULL},
    {"github.repo", "GITHUB_REPOSITORY", NULL, NULL, 0, "parsed from the remote's URL"},
    {"github.token", "GITHUB_TOKEN", "GH_TOKEN", NULL, 1, "no token"},
    {"notify.command", NULL, NULL, NULL, 0, "no notifications"},
    {"ports.per_instance", NULL, NULL, "10", 0, NULL},
    {"ports.range", NULL, NULL, "20000-29999", 0, NULL},
    {"stats.stale_after_hours", NULL, NULL, "24", 0, NULL},
    {"worktrees.base_path", "GROVE_WORKTREES", NULL, NULL, 0, NULL},
    {"worktrees.setup_command", NULL, NULL, NULL, 0, "no setup command"},
};

/*
 * 1 when `key` holds a credential: a setting grove knows as a secret
 * (github.token), or any key whose name says so (token, password, ...).
 */
static int secret_setting(const char *key)
{
    size_t i;

    for (i = 0; i < sizeof(SETTINGS) / sizeof(SETTINGS[0]); i++)
        if (strcmp(SETTINGS[i].key, key) == 0)
            return SETTINGS[i].secret;
    return secret_key_name(key);
}

/* <parent of the main worktree>/<repo name>.worktrees, as ctx_open() computes it. */
static char *default_base(grove_ctx *ctx)
{
    const char *wd = gitops_workdir(ctx->repo);
    const char *name = strrchr(wd, '/');

    return name && name != wd ? grove_asprintf("%.*s/%s.worktrees", (int)(name - wd), wd, name + 1)
                              : grove_asprintf("/%s.worktrees", name ? name + 1 : wd);
}

static int by_key(const void *a, const void *b)
{
    const json_t *x = *(const json_t *const *)a, *y = *(const json_t *const *)b;

    return strcmp(cli_str_or(x, "key", ""), cli_str_or(y, "key", ""));
}

/* One row of config_sources(); NULL on OOM. `stored` is the database row or NULL. */
static json_t *source_row(grove_ctx *ctx, const setting *s, const char *key,
                          const grove_config_entry *stored)
{
    const char *env = NULL, *value = NULL, *source = "default";
    int encrypted = stored && stored->is_encrypted;
    char *computed = NULL;
    json_t *row;

    if (s && s->env && getenv(s->env) && *getenv(s->env))
        env = s->env;
    else if (s && s->env2 && getenv(s->env2) && *getenv(s->env2))
        env = s->env2;
    if (env) {
        source = "environment";
        value = getenv(env);
    } else if (stored) {
        source = "database";
        value = stored->value;
    } else if (s && s->dflt) {
        value = s->dflt;
    } else if (s && strcmp(s->key, "worktrees.base_path") == 0) {
        value = computed = default_base(ctx);
    }
    if (value && ((s && s->secret) || (!env && encrypted)))
        value = "(secret)";
    row = json_pack("{s:s, s:s?, s:s, s:s?, s:b, s:s?, s:s?, s:s?}", "key", key, "value", value,
                    "source", source, "env", env, "is_encrypted", encrypted && !env, "updated_at",
                    stored && !env ? stored->updated_at : NULL, "overrides",
                    env && stored ? "database" : NULL, "note", !value && s ? s->note : NULL);
    /* A stored value grove does not use: the database is not trusted with this setting. */
    if (row && !env && stored && ctx->db_untrusted[0] && ctx_setting_is_guarded(key))
        json_object_set_new(row, "ignored", json_string(ctx->db_untrusted));
    free(computed);
    return row;
}

/*
 * Every setting grove knows plus every key stored in the database, sorted
 * by key, as a new array of {key, value, source, env, is_encrypted,
 * updated_at, overrides}: `source` is "environment" (then `env` names the
 * variable), "database" or "default"; `value` is the effective value, null
 * when unset, "(secret)" for secrets (encrypted rows, tokens from the
 * environment) — never the secret itself; `overrides` is "database" when
 * the environment hides a stored value.
 */
static int config_sources(grove_ctx *ctx, json_t **out, grove_err *err)
{
    grove_config_list stored = {0};
    json_t *list = json_array(), **rows = NULL;
    size_t i, k, n;

    *out = NULL;
    if (!list)
        return grove_nomem(err);
    if (db_config_list(ctx->db, &stored, err) != 0) {
        json_decref(list);
        return -1;
    }
    for (i = 0; i < sizeof(SETTINGS) / sizeof(SETTINGS[0]); i++) {
        const grove_config_entry *row = NULL;

        for (k = 0; k < stored.n; k++)
            if (strcmp(cli_or(stored.v[k].key, ""), SETTINGS[i].key) == 0)
                row = &stored.v[k];
        if (json_array_append_new(list, source_row(ctx, &SETTINGS[i], SETTINGS[i].key, row)) != 0)
            goto oom;
    }
    for (k = 0; k < stored.n; k++) {
        const grove_config_entry *v = &stored.v[k];
        int known = 0;

        for (i = 0; i < sizeof(SETTINGS) / sizeof(SETTINGS[0]) && !known; i++)
            known = strcmp(cli_or(v->key, ""), SETTINGS[i].key) == 0;
        if (!known && json_array_append_new(list, source_row(ctx, NULL, v->key, v)) != 0)
            goto oom;
    }
    /* Sorted by key: the settings grove knows among the other stored keys. */
    n = json_array_size(list);
    if (n > 0 && !(rows = malloc(n * sizeof(*rows))))
        goto oom;
    for (i = 0; i < n; i++)
        rows[i] = json_incref(json_array_get(list, i));
    qsort(rows, n, sizeof(*rows), by_key);
    json_array_clear(list);
    for (i = 0; i < n; i++)
        json_array_append_new(list, rows[i]);
    free(rows);
    db_config_list_free(&stored);
    *out = list;
    return 0;
oom:
    db_config_list_free(&stored);
    json_decref(list);
    return grove_nomem(err);
}

#define SECRET_MAX (64 * 1024) /* longest value `config set --secret` reads from stdin */

/*
 * Reads a secret value from stdin into *out (malloc'd; free with
 * secret_free()): all of it up to SECRET_MAX bytes, one trailing "\n" or
 * "\r\n" removed. From a terminal: one line, typed without echo.
 */
static int read_secret_stdin(const char *key, char **out, grove_err *err)
{
    char *buf = malloc(SECRET_MAX + 2);
    size_t len = 0;
    int tty = isatty(STDIN_FILENO), echo_off = 0, bad = 0;
    struct termios saved, quiet;

    *out = NULL;
    if (!buf)
        return grove_nomem(err);
    if (tty) {
        fprintf(stderr, "value for '%s' (not shown): ", key);
        fflush(stderr);
        if (tcgetattr(STDIN_FILENO, &saved) == 0) {
            quiet = saved;
            quiet.c_lflag &= ~(tcflag_t)ECHO;
            echo_off = tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == 0;
        }
    }
    for (;;) {
        ssize_t n = read(STDIN_FILENO, buf + len, SECRET_MAX + 1 - len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            bad =
                grove_fail(err, GROVE_EIO, "cannot read the value from stdin: %s", strerror(errno));
            break;
        }
        len += (size_t)n;
        if (n == 0 || len > SECRET_MAX || (tty && len > 0 && buf[len - 1] == '\n'))
            break;
    }
    if (echo_off)
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
    if (tty)
        fputc('\n', stderr);
    buf[len] = '\0';
    if (bad) {
        /* the read failed: message set above */
    } else if (len > SECRET_MAX) {
        bad = grove_fail(err, GROVE_EINVAL, "the value on stdin is longer than %d KiB",
                         SECRET_MAX / 1024);
    } else if (memchr(buf, '\0', len)) {
        bad = grove_fail(err, GROVE_EINVAL, "the value on stdin contains a NUL byte");
    } else {
        if (len > 0 && buf[len - 1] == '\n')
            buf[--len] = '\0';
        if (len > 0 && buf[len - 1] == '\r')
            buf[--len] = '\0';
        if (len == 0)
            bad = grove_fail(err, GROVE_EINVAL,
                             "no value for '%s' on stdin (pipe it in: "
                             "printf %%s \"$TOKEN\" | grove config set %s --secret)",
                             key, key);
    }
    if (bad) {
        explicit_bzero(buf, SECRET_MAX + 2);
        free(buf);
        return -1;
    }
    *out = buf;
    return 0;
}

int cmd_config(int argc, char **argv)
{
    static const arg_flag flags[] = {{"repo", 1},   {"db", 1},   {"secret", 0},
                                     {"reveal", 0}, {"json", 0}, {NULL, 0}};
    grove_ctx *ctx = NULL;
    grove_err err = GROVE_ERR_INIT;
    const char *verb;
    char *secret = NULL;
    int is_secret, reveal;
    args a;
    int rc;

    if ((rc = args_parse(&a, "config", flags, argc, argv)) != 0)
        return rc;
    if (a.help) {
        printf(
            "usage: grove config get KEY [--reveal] | set KEY VALUE | set KEY --secret | "
            "list [--json] [--repo DIR] [--db FILE]\n\n"
            "Settings stored in the database (worktrees.base_path, branch.prefix,\n"
            "agent.command, worktrees.setup_command, git.remote, github.repo,\n"
            "github.api_url). Environment variables override them.\n\n"
            "  set KEY --secret  reads the value from stdin (up to 64 KiB; one trailing\n"
            "                    newline removed) and stores it encrypted with the key in\n"
            "                    $XDG_CONFIG_HOME/grove/key (default ~/.config/grove/key,\n"
            "                    made on first use, mode 0600), e.g. github.token:\n"
            "                    printf %%s \"$TOKEN\" | grove config set github.token --secret\n"
            "  get KEY --reveal  prints a secret's decrypted value (without --reveal, get\n"
            "                    refuses to print a secret; list shows it as (secret))\n");
        return 0;
    }
    verb = a.npos ? a.pos[0] : "";
    is_secret = args_get(&a, flags, "secret") != NULL;
    reveal = args_get(&a, flags, "reveal") != NULL;
    if (strcmp(verb, "set") == 0 && is_secret && a.npos == 3) {
        fprintf(stderr, "grove config: --secret reads the value from stdin; do not pass it as an "
                        "argument (it would be in your shell history and the process list)\n");
        return 2;
    }
    if (strcmp(verb, "set") == 0 && !is_secret && a.npos == 3 && secret_setting(a.pos[1])) {
        fprintf(stderr,
                "grove config: '%s' is a secret: give it on stdin with --secret, e.g. printf %%s "
                "\"$TOKEN\" | grove config set %s --secret (a value on the command line is "
                "visible in the process list and your shell history, and would be stored in "
                "clear); nothing was stored\n",
                a.pos[1], a.pos[1]);
        return 2;
    }
    if (!((strcmp(verb, "get") == 0 && a.npos == 2) ||
          (strcmp(verb, "set") == 0 && a.npos == (is_secret ? 2 : 3)) ||
          (strcmp(verb, "list") == 0 && a.npos == 1))) {
        fprintf(stderr, "grove config: expected 'get KEY', 'set KEY VALUE', 'set KEY --secret' or "
                        "'list' (see 'grove config --help')\n");
        return 2;
    }
    if ((is_secret && strcmp(verb, "set") != 0) || (reveal && strcmp(verb, "get") != 0)) {
        fprintf(stderr, "grove config: --secret goes with 'set', --reveal with 'get'\n");
        return 2;
    }
    if (is_secret && read_secret_stdin(a.pos[1], &secret, &err) != 0) {
        fprintf(stderr, "grove config: %s\n", err.msg);
        return 1;
    }
    ctx = cli_open_ctx("config", &a, flags, 1);
    if (!ctx) {
        secret_free(secret);
        return 1;
    }
    rc = 0;
    if (strcmp(verb, "set") == 0 && is_secret) {
        char *sealed = NULL;

        if (secret_seal(secret, &sealed, &err) != 0 ||
            db_config_set(ctx->db, a.pos[1], sealed, 1, &err) != 0)
            rc = 1;
        free(sealed);
    } else if (strcmp(verb, "set") == 0) {
        if (db_config_set(ctx->db, a.pos[1], a.pos[2], 0, &err) != 0)
            rc = 1;
    } else if (strcmp(verb, "get") == 0) {
        char *value = NULL, *plain = NULL;
        int enc = 0;

        if (db_config_get(ctx->db, a.pos[1], &value, &enc, &err) != 0) {
            rc = 1;
        } else if (!value) {
            grove_fail(&err, GROVE_ENOTFOUND, "'%s' is not set", a.pos[1]);
            rc = 1;
        } else if (enc && !reveal) {
            grove_fail(&err, GROVE_EINVAL, "'%s' is a secret; pass --reveal to print it", a.pos[1]);
            rc = 1;
        } else if (enc) {
            if (secret_open(value, &plain, &err) != 0)
                rc = 1;
            else
                printf("%s\n", plain);
            secret_free(plain);
        } else {
            printf("%s\n", value);
        }
        free(value);
    } else {
        json_t *list = NULL, *v;
        size_t i;

        /* Every setting with its source; secrets masked (tools/cli/report.c). */
        if (config_sources(ctx, &list, &err) != 0) {
            rc = 1;
        } else if (args_get(&a, flags, "json")) {
            cli_print_json(list);
        } else {
            json_array_foreach(list, i, v)
            {
                const char *value = cli_str_or(v, "value", NULL);

                printf("%s=%s%s%s%s  [%s%s%s%s%s%s]\n", cli_str_or(v, "key", "?"),
                       value ? value : "(not set", cli_str_or(v, "note", NULL) ? ": " : "",
                       cli_str_or(v, "note", ""), value ? "" : ")", cli_str_or(v, "source", "?"),
                       cli_str_or(v, "env", NULL) ? " " : "", cli_str_or(v, "env", ""),
                       cli_str_or(v, "overrides", NULL) ? "; overrides the database" : "",
                       cli_str_or(v, "ignored", NULL) ? "; IGNORED: " : "",
                       cli_str_or(v, "ignored", ""));
            }
        }
        json_decref(list);
    }
    if (rc)
        fprintf(stderr, "grove config: %s\n", err.msg);
    secret_free(secret);
    ctx_free(ctx);
    return rc;
}

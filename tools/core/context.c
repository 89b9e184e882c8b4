#include "tools/core/context.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "db/migrate.h"
#include "db/queries.h"
#include "db/beads.h"
#include "tools/base/secret.h"

/* Settings that run programs or send credentials: trusted only from a private database. */
static const char *const GUARDED[] = {"agent.command",  "agent.profiles", "worktrees.setup_command",
                                      "notify.command", "github.api_url", "github.repo",
                                      "git.remote"};

int ctx_setting_is_guarded(const char *key)
{
    size_t i;

    for (i = 0; key && i < sizeof(GUARDED) / sizeof(GUARDED[0]); i++)
        if (strcmp(GUARDED[i], key) == 0)
            return 1;
    return 0;
}

void ctx_report(grove_ctx *ctx, ctx_level level, const char *event, const char *instance_id,
                const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    if (!ctx || !ctx->sink || !ctx->sink->report)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    grove_utf8_sanitize(msg);
    ctx->sink->report(ctx->sink->arg, level, event, instance_id, msg);
}

char *ctx_setting(grove_ctx *ctx, const char *env, const char *key)
{
    const char *v = env ? getenv(env) : NULL;
    char *value = NULL;
    int encrypted = 0;
    grove_err err = GROVE_ERR_INIT;

    if (v && *v)
        return strdup(v);
    if (key && ctx->db_untrusted[0] && ctx_setting_is_guarded(key)) {
        if (db_config_get(ctx->db, key, &value, &encrypted, &err) == 0 && value) {
            log_warn("config '%s' in '%s' is ignored: %s; set it in the environment instead, or "
                     "keep grove's database private (yours, mode 0600, outside the working tree)",
                     key, ctx->db_path, ctx->db_untrusted);
            ctx_report(ctx, CTX_WARNING, "setting_ignored", NULL,
                       "config '%s' is ignored: %s; set it in the environment instead, or keep "
                       "grove's database private (yours, mode 0600, outside the working tree)",
                       key, ctx->db_untrusted);
        }
        free(value);
        return NULL;
    }
    if (key && ctx->db && db_config_get(ctx->db, key, &value, &encrypted, &err) != 0) {
        log_warn("cannot read config '%s': %s", key, err.msg);
        return NULL;
    }
    if (value && encrypted) {
        /* Secrets are read with secret_open() by the code that needs them, never as settings. */
        log_warn("config '%s' is stored as a secret; ignoring it as a setting", key);
        free(value);
        return NULL;
    }
    return value;
}

char *ctx_github_token(grove_ctx *ctx)
{
    static const char *const envs[] = {"GITHUB_TOKEN", "GH_TOKEN"};
    char *stored = NULL, *plain = NULL;
    grove_err err = GROVE_ERR_INIT;
    int enc = 0;
    size_t i;

    for (i = 0; i < sizeof(envs) / sizeof(envs[0]); i++) {
        const char *v = getenv(envs[i]);

        if (v && *v)
            return grove_strdup(v);
    }
    if (!ctx || !ctx->db)
        return NULL;
    if (db_config_get(ctx->db, "github.token", &stored, &enc, &err) != 0) {
        log_warn("cannot read config 'github.token': %s", err.msg);
        return NULL;
    }
    if (!stored)
        return NULL;
    if (!enc) {
        /* Stored in the clear (by hand, or `config set` without --secret): still a token. */
        log_warn("config 'github.token' is not encrypted; store it with "
                 "'grove config set github.token --secret'");
        return stored;
    }
    if (secret_open(stored, &plain, &err) != 0) {
        log_warn("cannot decrypt config 'github.token': %s", err.msg);
        plain = NULL;
    }
    free(stored);
    if (plain && !*plain) {
        secret_free(plain);
        plain = NULL;
    }
    return plain;
}

int ctx_check_repo(grove_ctx *ctx, grove_err *err)
{
    const char *dirs[2];
    struct stat sb;
    size_t i;

    if (!ctx || !ctx->repo)
        return 0;
    dirs[0] = gitops_workdir(ctx->repo);
    dirs[1] = gitops_common_dir(ctx->repo);
    for (i = 0; i < 2; i++) {
        errno = 0;
        if (stat(dirs[i], &sb) == 0 && S_ISDIR(sb.st_mode))
            continue;
        return grove_fail(err, GROVE_ENOTFOUND,
                          "the repository is gone: '%s'%s%s%s %s (moved or deleted while grove "
                          "was running); nothing was done; restart grove in the repository's new "
                          "location (or pass --repo)",
                          dirs[0], i ? " (its git folder '" : "", i ? dirs[i] : "", i ? "')" : "",
                          errno == ENOENT || errno == ENOTDIR || !errno ? "no longer exists"
                                                                        : strerror(errno));
    }
    return 0;
}

/* An absolute version of `path` (relative to the working directory), without trailing slashes. */
/*
 * Removes "." and ".." components and repeated slashes from an absolute
 * path, in place, without touching the file system (the folder may not
 * exist yet): "/a/b/../c/./d//" becomes "/a/c/d".
 */
static void path_clean(char *p)
{
    char *out = p, *in = p; /* out never passes in - 1: nothing unread is overwritten */

    while (*in) {
        size_t n;

        while (*in == '/')
            in++;
        if (!(n = strcspn(in, "/")))
            break;
        if (n == 2 && in[0] == '.' && in[1] == '.') {
            while (out > p && *--out != '/')
                ; /* back to the slash before the last component */
        } else if (!(n == 1 && in[0] == '.')) {
            *out++ = '/';
            memmove(out, in, n);
            out += n;
        }
        in += n;
    }
    if (out == p)
        *out++ = '/';
    *out = '\0';
}

/* `path` made absolute against `dir` (NULL: the working directory), cleaned (path_clean()). */
static char *absolute_in(const char *path, const char *dir)
{
    char cwd[PATH_MAX];
    char *out;

    if (path[0] == '/') {
        out = strdup(path);
    } else {
        if (!dir && !(dir = getcwd(cwd, sizeof(cwd))))
            return NULL;
        out = grove_asprintf("%s/%s", dir, path);
    }
    if (out)
        path_clean(out);
    return out;
}

static char *absolute(const char *path)
{
    return absolute_in(path, NULL);
}

/* The instance whose worktree holds the working directory: <base>/<id>/... */
static char *caller_from_cwd(grove_ctx *ctx)
{
    char cwd[PATH_MAX], base[PATH_MAX];
    size_t n;
    char *id, *slash;
    grove_instance inst;
    grove_err err = GROVE_ERR_INIT;
    int found;

    if (!getcwd(cwd, sizeof(cwd)) || !realpath(ctx->worktrees_base, base))
        return NULL;
    n = strlen(base);
    if (strncmp(cwd, base, n) != 0 || cwd[n] != '/')
        return NULL;
    id = strdup(cwd + n + 1);
    if (!id)
        return NULL;
    slash = strchr(id, '/');
    if (slash)
        *slash = '\0';
    found = db_instance_get(ctx->db, id, &inst, &err) == 0;
    db_instance_free(&inst);
    if (!found) {
        free(id);
        return NULL;
    }
    return id;
}

/* Orphaned links named in the startup warning. */
#define ORPHANS_SHOWN 10

/*
 * On opening a database in extension mode: creates the TEMP views and
 * triggers of db/beads.h on this connection and reports (log_warn) links
 * orphaned by beads renames (PRAGMA foreign_key_check(grove_issue_links)).
 * Problems are logged, never fatal: grove works without the beads extras.
 */
static void ctx_attach_beads(grove_ctx *ctx)
{
    grove_err err = GROVE_ERR_INIT;
    grove_beads_orphan_list orphans = {0};
    size_t i;
    int mode;

    mode = db_beads_mode(ctx->db, &err);
    if (mode <= 0) {
        if (mode < 0)
            log_warn("cannot tell whether this is a beads database: %s", err.msg);
        return;
    }
    if (db_beads_attach(ctx->db, &err) != 0)
        log_warn("beads extension mode: %s; 'ready' issues and beads reports are off", err.msg);
    if (db_beads_orphans(ctx->db, &orphans, &err) != 0) {
        log_warn("beads extension mode: cannot check grove_issue_links: %s", err.msg);
        return;
    }
    if (orphans.n > 0)
        log_warn("beads extension mode: %zu grove_issue_links rows point at beads issues (or "
                 "instances) that no longer exist (PRAGMA foreign_key_check; beads renamed or "
                 "deleted them with foreign keys off)",
                 orphans.n);
    for (i = 0; i < orphans.n; i++) {
        const grove_beads_orphan *o = &orphans.v[i];

        if (i == ORPHANS_SHOWN) {
            log_warn("  ... and %zu more", orphans.n - ORPHANS_SHOWN);
            break;
        }
        log_warn("  orphaned link: instance '%s' -> issue '%s' (missing in '%s')",
                 o->instance_id ? o->instance_id : "?", o->issue_id ? o->issue_id : "?",
                 o->missing ? o->missing : "?");
    }
    db_beads_orphan_list_free(&orphans);
}

/* 1 when `path` is `dir` or inside it (both resolved). */
static int path_under(const char *path, const char *dir)
{
    size_t n = strlen(dir);

    return strncmp(path, dir, n) == 0 && (path[n] == '/' || path[n] == '\0');
}

/*
 * Whether the database may give guarded settings: why[0] stays '\0' when
 * it may, else why (n bytes) says why not. It must be a file of this user's, with no permissions
 * for others, outside every working tree of the repository (its .git folder is not part of the
 * working tree: the default location qualifies).
 */
static void db_trust(grove_ctx *ctx, char *why, size_t n)
{
    char rp[PATH_MAX], wt[PATH_MAX], dotgit[PATH_MAX + 8];
    gitops_worktree_info *list = NULL;
    grove_err err = GROVE_ERR_INIT;
    struct stat sb;
    size_t count = 0, i;

    why[0] = '\0';
    if (strcmp(ctx->db_path, ":memory:") == 0)
        return;
    if (!realpath(ctx->db_path, rp) || stat(rp, &sb) != 0) {
        snprintf(why, n, "it cannot be examined (%s)", strerror(errno));
        return;
    }
    if (sb.st_uid != geteuid()) {
        snprintf(why, n, "the file belongs to another user (uid %ld)", (long)sb.st_uid);
        return;
    }
    if (sb.st_mode & 077) {
        snprintf(why, n, "the file has mode 0%o, not 0600", (unsigned)(sb.st_mode & 0777));
        return;
    }
    if (realpath(gitops_workdir(ctx->repo), wt)) {
        snprintf(dotgit, sizeof(dotgit), "%s/.git", wt);
        if (path_under(rp, wt) && !path_under(rp, dotgit)) {
            snprintf(why, n,
                     "the file lies inside the working tree '%.300s' (it may have come with the "
                     "repository)",
                     wt);
            return;
        }
    }
    if (gitops_worktree_list(ctx->repo, &list, &count, &err) != 0) {
        snprintf(why, n, "the repository's worktrees cannot be listed (%.300s)", err.msg);
        return;
    }
    for (i = 0; i < count && !why[0]; i++)
        if (list[i].path && realpath(list[i].path, wt) && path_under(rp, wt))
            snprintf(why, n, "the file lies inside the working tree '%.300s'", wt);
    gitops_worktree_list_free(list, count);
}

int ctx_open(grove_ctx **out, const ctx_options *opts, grove_err *err)
{
    grove_ctx *ctx;
    /* --repo > GROVE_REPO > CLAUDE_PROJECT_DIR (Claude Code's project) > the working directory */
    const char *repo_path = opts->repo ? opts->repo
                            : getenv("GROVE_REPO") && *getenv("GROVE_REPO")
                                ? getenv("GROVE_REPO")
                                : getenv("CLAUDE_PROJECT_DIR");
    const char *db_arg = opts->db ? opts->db : getenv("GROVE_DB");
    const char *caller = getenv("GROVE_INSTANCE_ID");
    char *base = NULL, *prefix = NULL;

    *out = NULL;
    ctx = calloc(1, sizeof(*ctx));
    if (!ctx)
        return grove_nomem(err);
    if (gitops_repo_open(&ctx->repo, repo_path && *repo_path ? repo_path : NULL, err) != 0)
        goto fail;
    if (db_arg && *db_arg)
        ctx->db_path = absolute(db_arg);
    else
        ctx->db_path = grove_asprintf("%s/grove/grove.db", gitops_common_dir(ctx->repo));
    if (!ctx->db_path) {
        grove_nomem(err);
        goto fail;
    }
    if ((opts->migrate ? migrate_open(&ctx->db, ctx->db_path, err)
                       : db_open(&ctx->db, ctx->db_path, NULL, err)) != 0)
        goto fail;
    if (opts->migrate)
        ctx_attach_beads(ctx); /* beads extension mode: TEMP views, orphaned links */
    db_trust(ctx, ctx->db_untrusted, sizeof(ctx->db_untrusted));

    base = ctx_setting(ctx, "GROVE_WORKTREES", "worktrees.base_path");
    if (base) {
        /*
         * A relative base is relative to the repository (its main worktree), not
         * to each server's working directory: every server of the repository,
         * whichever worktree it runs in, must find the same folder.
         */
        ctx->worktrees_base = absolute_in(base, gitops_workdir(ctx->repo));
    } else {
        const char *wd = gitops_workdir(ctx->repo);
        const char *name = strrchr(wd, '/');

        ctx->worktrees_base =
            name && name != wd ? grove_asprintf("%.*s/%s.worktrees", (int)(name - wd), wd, name + 1)
                               : grove_asprintf("/%s.worktrees", name ? name + 1 : wd);
    }
    prefix = ctx_setting(ctx, "GROVE_BRANCH_PREFIX", "branch.prefix");
    ctx->branch_prefix = prefix ? prefix : strdup("grove/");
    prefix = NULL;
    if (!ctx->worktrees_base || !ctx->branch_prefix) {
        grove_nomem(err);
        goto fail;
    }
    if (caller && *caller)
        ctx->caller_id = strdup(caller);
    else
        ctx->caller_id = caller_from_cwd(ctx);
    free(base);
    *out = ctx;
    return 0;
fail:
    free(base);
    ctx_free(ctx);
    return -1;
}

void ctx_free(grove_ctx *ctx)
{
    if (!ctx)
        return;
    db_close(ctx->db);
    gitops_repo_free(ctx->repo);
    free(ctx->db_path);
    free(ctx->worktrees_base);
    free(ctx->branch_prefix);
    free(ctx->caller_id);
    free(ctx);
}

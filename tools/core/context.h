/*
 * context: what every tool handler and CLI command works with: the
 * repository, the database, the resolved settings and the caller. One per
 * process, made by ctx_open() and passed explicitly (no globals).
 */
#ifndef GROVE_CONTEXT_H
#define GROVE_CONTEXT_H

#include "db/db.h"
#include "tools/base/grove.h"
#include "tools/git/git.h"

/* How much an event matters, in syslog's (RFC 5424) order: MCP's logging levels. */
typedef enum ctx_level {
    CTX_DEBUG = 0,
    CTX_INFO,
    CTX_NOTICE,
    CTX_WARNING,
    CTX_ERROR,
    CTX_CRITICAL,
    CTX_ALERT,
    CTX_EMERGENCY,
} ctx_level;

/*
 * Where core reports what an operator should know (a setting ignored, an
 * instance ended because its agent died, an agent now waiting): a
 * front-end sets it (the MCP server turns reports into
 * notifications/message). `event` is a short stable name
 * ("setting_ignored"), `instance_id` the instance it is about or NULL,
 * `message` one line; all borrowed for the call. The sink decides what
 * to pass on (level, rate); it must not call back into core.
 */
typedef struct ctx_sink {
    void (*report)(void *arg, ctx_level level, const char *event, const char *instance_id,
                   const char *message);
    void *arg;
} ctx_sink;

typedef struct grove_ctx {
    gitops_repo *repo;    /* owned */
    grove_db *db;         /* owned */
    char *db_path;        /* owned, absolute */
    char *worktrees_base; /* owned, absolute, no trailing slash */
    char *branch_prefix;  /* owned, "grove/" unless config branch.prefix */
    char *caller_id;      /* owned; NULL when this process speaks for no instance */
    /*
     * Why the database may not give settings that run programs or send
     * credentials (see ctx_setting()); "" when it may. A buffer, so that
     * running out of memory can never leave it looking trusted.
     */
    char db_untrusted[512];
    const ctx_sink *sink; /* borrowed; NULL: events go to stderr's log only */
    /*
     * A group commit of pipelined calls is open (tools/registry.c), and the
     * repository was found by ctx_check_repo() in it: the calls of one group
     * are one moment, and the check runs once per group rather than per call.
     */
    int group_open;
    int group_repo_ok;
} grove_ctx;

/* How to open: each NULL means "use the environment, then the default" (§1 of the contract). */
typedef struct ctx_options {
    const char *repo; /* --repo */
    const char *db;   /* --db */
    int migrate;      /* apply pending migrations on open */
} ctx_options;

/*
 * Opens the repository (--repo, GROVE_REPO, CLAUDE_PROJECT_DIR, or discovered
 * from the working directory), the database (--db, GROVE_DB, or <common dir>/grove/grove.db),
 * resolves the worktrees base (GROVE_WORKTREES, config worktrees.base_path,
 * or <parent of main worktree>/<repo name>.worktrees) and the caller
 * (GROVE_INSTANCE_ID, else the instance whose worktree holds the working
 * directory). *out belongs to the caller: ctx_free() it.
 */
int ctx_open(grove_ctx **out, const ctx_options *opts, grove_err *err);
void ctx_free(grove_ctx *ctx);

/*
 * Whether the repository is still where ctx_open() found it: its main
 * worktree and git common dir are folders. Else GROVE_ENOTFOUND naming the
 * missing path (the repository was moved or deleted while grove ran).
 */
int ctx_check_repo(grove_ctx *ctx, grove_err *err);

/*
 * A setting: the environment variable `env` (may be NULL) if set and
 * non-empty, else config `key` from the database, else NULL. Malloc'd.
 *
 * The settings that run programs or send credentials (agent.command,
 * agent.profiles, worktrees.setup_command, notify.command, github.api_url,
 * github.repo, git.remote) come from the database only when that file is
 * the user's own, mode 0600 and outside every working tree of the
 * repository (a database that came with a clone is none of these); else
 * they are ignored, with a warning on stderr that says why.
 */
char *ctx_setting(grove_ctx *ctx, const char *env, const char *key);

/*
 * Reports an event to ctx->sink when one is set (nothing otherwise: the
 * caller logs to stderr as before). The message is formatted into a
 * bounded buffer (cut at 1 KiB) and made valid UTF-8.
 */
void ctx_report(grove_ctx *ctx, ctx_level level, const char *event, const char *instance_id,
                const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* 1 when `key` is one of the settings ctx_setting() guards. */
int ctx_setting_is_guarded(const char *key);

/*
 * The GitHub token: GITHUB_TOKEN, else GH_TOKEN (non-empty), else the secret
 * config "github.token" decrypted. Malloc'd, NULL when none; free it with secret_free().
 */
char *ctx_github_token(grove_ctx *ctx);

#endif

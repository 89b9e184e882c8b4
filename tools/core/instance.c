#include "tools/core/instance.h"

#include <errno.h>
#include <regex.h>
#include <time.h>
#include <unistd.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/queries.h"
#include "tools/agents/agent.h"
#include "tools/agents/output.h"
#include "tools/core/notify.h"
#include "tools/core/limits.h"
#include "tools/core/ports.h"

/* Attempts at finding a free id when other processes take the same numbers. */
#define MAX_ID_ATTEMPTS 64

/* A setup command (npm ci, ...) that runs longer than this is killed. */
#define SETUP_TIMEOUT_S 1800

/* The metadata key of the agent process's start time (agent_handle.start). */
#define AGENT_START_KEY "agent_start"

int instance_parse_issue(const char *s, size_t n, issue_ref *out, grove_err *err)
{
    size_t i;

    memset(out, 0, sizeof(*out));
    if (!s || n == 0 || n > 64 || strlen(s) != n)
        return grove_fail(err, GROVE_EINVAL,
                          "invalid issue: expected a GitHub issue number or a "
                          "beads issue id of 1 to 64 characters");
    for (i = 0; i < n && s[i] >= '0' && s[i] <= '9'; i++)
        ;
    if (i == n) {
        errno = 0;
        out->number = strtoll(s, NULL, 10);
        if (errno || out->number < 1 || out->number > ISSUE_NUMBER_MAX)
            return grove_fail(err, GROVE_EINVAL,
                              "invalid issue '%s': a GitHub issue number must "
                              "be a positive integer",
                              s);
        return 0;
    }
    if (!((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z') ||
          (s[0] >= '0' && s[0] <= '9')))
        goto bad;
    for (i = 1; i < n; i++) {
        char c = s[i];

        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            goto bad;
    }
    if (strcmp(s, "ready") == 0)
        return grove_fail(err, GROVE_EINVAL,
                          "issue 'ready' means the next ready beads issue: spawn_work_instance "
                          "takes it when grove's database lives beside beads' tables (--db or "
                          "GROVE_DB pointing at the beads database); pass an issue number or id");
    memcpy(out->beads, s, n + 1);
    return 0;
bad:
    return grove_fail(err, GROVE_EINVAL,
                      "invalid issue: a beads issue id is letters, digits, '.', '_' and '-', "
                      "starting with a letter or digit");
}

int instance_issue(const grove_instance *inst, issue_ref *out, grove_err *err)
{
    memset(out, 0, sizeof(*out));
    if (inst->issue_number) {
        if (inst->issue_number < 1 || inst->issue_number > ISSUE_NUMBER_MAX)
            return grove_fail(err, GROVE_EINVAL,
                              "invalid issue: a GitHub issue number must be a positive integer");
        out->number = inst->issue_number;
        return 0;
    }
    if (!inst->beads_id)
        return 0;
    return instance_parse_issue(inst->beads_id, strlen(inst->beads_id), out, err);
}

int instance_format_id(char *buf, size_t len, const char *type, const issue_ref *issue, int n)
{
    int w;

    if (issue && issue->number > 0)
        w = snprintf(buf, len, "%s-%lld-a%d", type, issue->number, n);
    else if (issue && issue->beads[0])
        w = snprintf(buf, len, "%s-%s-a%d", type, issue->beads, n);
    else
        w = snprintf(buf, len, "%s-a%d", type, n);
    return w < 0 || (size_t)w >= len ? -1 : 0;
}

int instance_load(grove_ctx *ctx, const char *id, grove_instance *out, grove_err *err)
{
    return db_instance_get(ctx->db, id, out, err);
}

void instance_created_free(instance_created *c)
{
    if (!c)
        return;
    db_instance_free(&c->instance);
    free(c->setup.log);
    free(c->setup.error);
    memset(c, 0, sizeof(*c));
}

void instance_kill_point(const char *name)
{
    const char *at = getenv("GROVE_TEST_KILL_AT");

    if (at && strcmp(at, name) == 0) {
        log_warn("GROVE_TEST_KILL_AT: killed at '%s'", name);
        raise(SIGKILL);
    }
}

typedef struct stage_state {
    const grove_progress *p;
    double step;
} stage_state;

#define CREATE_STEPS 6

static void on_stage(void *arg, const char *stage)
{
    stage_state *st = arg;

    grove_progress_step(st->p, ++st->step, CREATE_STEPS, stage);
}

int instance_profile(grove_ctx *ctx, const char *name, agent_profile *out, grove_err *err)
{
    char *profiles = ctx_setting(ctx, NULL, "agent.profiles");
    char *custom = ctx_setting(ctx, "GROVE_AGENT_COMMAND", "agent.command");
    int rc = profile_resolve(profiles, custom, name, out, err);

    free(profiles);
    free(custom);
    return rc;
}

int instance_agent_choice(grove_ctx *ctx, int launch, const char *agent, agent_profile *out,
                          int *launching, grove_err *err)
{
    char *def = ctx_setting(ctx, "GROVE_AGENT_DEFAULT", "agent.default");
    char *custom = ctx_setting(ctx, "GROVE_AGENT_COMMAND", "agent.command");
    const char *name = agent && *agent ? agent : def ? def : custom ? "custom" : NULL;
    char **argv = NULL;
    int rc = -1;

    memset(out, 0, sizeof(*out));
    *launching = 0;
    if (!(launch < 0 ? name != NULL : launch)) {
        rc = 0;
        goto done;
    }
    if (!name) {
        grove_fail(err, GROVE_EINVAL,
                   "launch is true but no agent is configured: pass agent (claude, codex, gemini "
                   "or a profile of config agent.profiles), set config agent.default, or set "
                   "GROVE_AGENT_COMMAND or config agent.command (a JSON array such as "
                   "[\"claude\",\"{prompt}\"]), or pass launch: false");
        goto done;
    }
    if (instance_profile(ctx, name, out, err) != 0)
        goto done;
    if (agent_build_argv(out->command, "", &argv, err) != 0) {
        char msg[sizeof(err->msg)];

        snprintf(msg, sizeof(msg), "%s", err->msg);
        grove_fail(err, GROVE_EINVAL, "the agent command of profile '%s' is not usable: %s", name,
                   msg);
        goto done;
    }
    if (!agent_find_program(argv[0])) {
        grove_fail(err, GROVE_EINVAL,
                   "agent profile '%s': its program '%s' is not an executable file (nor found on "
                   "PATH); install it, fix the profile (config agent.profiles, or "
                   "GROVE_AGENT_COMMAND / config agent.command for 'custom'), or pass launch: "
                   "false",
                   name, argv[0]);
        goto done;
    }
    *launching = 1;
    rc = 0;
done:
    if (rc != 0)
        profile_free(out);
    agent_free_argv(argv);
    free(def);
    free(custom);
    return rc;
}

char *instance_agent_files_dir(grove_ctx *ctx)
{
    return grove_asprintf("%s/grove/agents", gitops_common_dir(ctx->repo));
}

char *instance_log_path(grove_ctx *ctx, const char *id)
{
    const char *slash = strrchr(ctx->db_path, '/');
    int dir = slash ? (int)(slash - ctx->db_path) : 1;

    return grove_asprintf("%.*s/logs/%s.log", dir, slash ? ctx->db_path : ".", id);
}

char *instance_prompt_dir(grove_ctx *ctx)
{
    return grove_asprintf("%s/grove/prompts", gitops_common_dir(ctx->repo));
}

void instance_forget_prompt(grove_ctx *ctx, const char *id)
{
    char *dir = instance_prompt_dir(ctx), *files = instance_agent_files_dir(ctx);

    if (dir)
        agent_prompt_file_remove(dir, id);
    if (files)
        profile_forget(files, id);
    free(dir);
    free(files);
}

int instance_agent_ref(grove_ctx *ctx, const grove_instance *inst, agent_ref *out, grove_err *err)
{
    json_t *meta = NULL, *start;

    memset(out, 0, sizeof(*out));
    out->instance_id = inst->id;
    out->session = inst->session_name;
    out->pid = inst->pid;
    if (db_instance_metadata(ctx->db, inst->id, &meta, err) != 0)
        return -1;
    start = json_object_get(meta, AGENT_START_KEY);
    if (json_is_integer(start) && json_integer_value(start) > 0)
        out->start = (unsigned long long)json_integer_value(start);
    json_decref(meta);
    return 0;
}

int instance_path_removable(grove_ctx *ctx, const char *path)
{
    char real[PATH_MAX], base[PATH_MAX], main_wt[PATH_MAX];
    size_t n;

    if (!path || !realpath(path, real) || !realpath(ctx->worktrees_base, base))
        return 0;
    n = strlen(base);
    if (strncmp(real, base, n) != 0 || real[n] != '/' || real[n + 1] == '\0')
        return 0;
    if (realpath(gitops_workdir(ctx->repo), main_wt) && strcmp(real, main_wt) == 0)
        return 0;
    return 1;
}

/* Marks agent `a` (gone) terminated, with a note in its metadata; *count grows when it was running.
 */
static int reconcile_end(grove_ctx *ctx, const grove_agent *a, size_t *count, grove_err *err)
{
    int changed = 0;

    if (db_instance_terminate(ctx->db, a->id, &changed, err) != 0)
        return -1;
    if (!changed)
        return 0;
    (*count)++;
    log_info("instance '%s': agent gone, marked terminated", a->id);
    instance_forget_prompt(ctx, a->id); /* its {prompt_file}, if it had one */
    if (instance_note_ended(ctx, a->id, INSTANCE_ENDED_AGENT_GONE, err) != 0)
        return -1;
    notify_state(ctx, a->id, "exited", "the agent exited");
    return 0;
}

/* What reconciliation knows of a profile: whether hooks report, and its waiting pattern. */
typedef struct seen_profile {
    char name[64];
    int known; /* resolved (0: unknown profile; treated as no hooks, no pattern) */
    int hooks;
    int has_re;
    regex_t re;
} seen_profile;

#define SEEN_MAX 16

/* The profile `name` of this reconciliation (resolved once per call); NULL when the table is full.
 */
static seen_profile *seen(grove_ctx *ctx, seen_profile *v, size_t *n, const char *name)
{
    agent_profile p;
    grove_err err = GROVE_ERR_INIT;
    seen_profile *s;
    size_t i;

    for (i = 0; i < *n; i++)
        if (strcmp(v[i].name, name) == 0)
            return &v[i];
    if (*n == SEEN_MAX)
        return NULL;
    s = &v[(*n)++];
    memset(s, 0, sizeof(*s));
    snprintf(s->name, sizeof(s->name), "%s", name);
    if (instance_profile(ctx, name, &p, &err) == 0) {
        s->known = 1;
        s->hooks = p.hooks;
        s->has_re = p.waiting_pattern &&
                    regcomp(&s->re, p.waiting_pattern, REG_EXTENDED | REG_NOSUB | REG_NEWLINE) == 0;
    }
    profile_free(&p);
    return s;
}

/* 1 when the last lines agent a shows match re. */
static int shows_waiting(const grove_agent *a, const regex_t *re)
{
    agent_ref ref = {a->id, a->session, a->pid, a->start};
    grove_err err = GROVE_ERR_INIT;
    grove_buf clean = BUF_INIT(1u << 20);
    char *text = NULL;
    const char *tail;
    size_t len;
    int n, match = 0;

    if (agent_capture(&ref, WAITING_LINES, &text, &err) != 0)
        return 0;
    if (output_clean(text, strlen(text), &clean) >= 0 && clean.data) {
        len = clean.len;
        tail = output_tail(clean.data, &len, WAITING_LINES, &n);
        clean.data[(tail - clean.data) + len] = '\0';
        match = regexec(re, tail, 0, NULL, 0) == 0;
    }
    buf_free(&clean);
    free(text);
    return match;
}

/*
 * The state of a live agent without hooks, from its pane: output within
 * the last WORKING_WINDOW_S seconds: working; else its profile's
 * waiting_pattern over the last lines: waiting; else idle.
 */
static const char *observed_state(const grove_agent *a, const agent_pane *pane,
                                  const seen_profile *sp)
{
    long long now = (long long)time(NULL);

    if (pane->activity > 0 && now - pane->activity < WORKING_WINDOW_S)
        return "working";
    if (sp && sp->has_re && shows_waiting(a, &sp->re))
        return "waiting";
    return "idle";
}

int instance_set_agent_state(grove_ctx *ctx, const char *id, const char *state, const char *message,
                             grove_err *err)
{
    int changed = 0;

    if (db_instance_set_agent_state(ctx->db, id, state, &changed, err) != 0)
        return -1;
    if (changed && (strcmp(state, "waiting") == 0 || strcmp(state, "exited") == 0))
        notify_state(ctx, id, state, message);
    return 0;
}

int instance_reconcile_all(grove_ctx *ctx, size_t *ended, grove_err *err)
{
    grove_agent_list rows = {0};
    agent_pane *panes = NULL;
    seen_profile profiles[SEEN_MAX];
    size_t npanes = 0, nprofiles = 0, i, count = 0;
    int rc = -1;

    if (ended)
        *ended = 0;
    if (db_instances_with_agents(ctx->db, &rows, err) != 0)
        return -1;
    if (rows.n == 0) {
        rc = 0;
        goto done;
    }
    if (agent_list_panes(&panes, &npanes, err) != 0)
        goto done;
    for (i = 0; i < rows.n; i++) {
        const grove_agent *a = &rows.v[i];
        const agent_pane *pane = NULL;
        int alive = 0;
        size_t k;

        /* the session's first live pane (or a dead one: the agent exited, its output stays) */
        for (k = 0; a->session && k < npanes; k++)
            if (strcmp(panes[k].session, a->session) == 0 && (!pane || pane->dead))
                pane = &panes[k];
        alive = pane && !pane->dead;
        /* A pid that now belongs to another process (its start time differs) is gone. */
        if (!alive && !pane && a->pid > 0)
            alive = agent_pid_alive(a->pid) &&
                    (a->start == 0 || agent_process_start(a->pid) == a->start);
        if (!alive) {
            if (reconcile_end(ctx, a, &count, err) != 0)
                goto done;
            continue;
        }
        if (pane && a->profile && a->state) {
            seen_profile *sp = seen(ctx, profiles, &nprofiles, a->profile);
            grove_err serr = GROVE_ERR_INIT;

            if (sp && sp->hooks)
                continue; /* its hooks report a Claude Code's state */
            if (instance_set_agent_state(ctx, a->id, observed_state(a, pane, sp), NULL, &serr) != 0)
                log_warn("instance '%s': %s", a->id, serr.msg);
        }
    }
    rc = 0;
done:
    for (i = 0; i < nprofiles; i++)
        if (profiles[i].has_re)
            regfree(&profiles[i].re);
    if (ended)
        *ended = count;
    agent_free_panes(panes, npanes);
    db_agent_list_free(&rows);
    return rc;
}

int instance_list_all(grove_ctx *ctx, const char *status, grove_instance_list *out, grove_err *err)
{
    db_instance_filter f = {0};
    char *cursor = NULL;

    memset(out, 0, sizeof(*out));
    f.status = status;
    f.limit = 500;
    do {
        grove_instance_list page = {0};
        grove_instance *v;

        f.cursor = cursor;
        if (db_instance_list(ctx->db, &f, &page, err) != 0)
            goto fail;
        v = realloc(out->v, (out->n + page.n + 1) * sizeof(*v));
        if (!v) {
            db_instance_list_free(&page);
            grove_nomem(err);
            goto fail;
        }
        if (page.n > 0) /* the rows move into out */
            memcpy(v + out->n, page.v, page.n * sizeof(*v));
        out->v = v;
        out->n += page.n;
        free(page.v);
        free(cursor);
        cursor = page.next_cursor;
    } while (cursor);
    return 0;
fail:
    free(cursor);
    db_instance_list_free(out);
    return -1;
}

int instance_note_ended(grove_ctx *ctx, const char *id, const char *why, grove_err *err)
{
    json_t *note = json_pack("{s:s}", "ended", why);
    int rc;

    if (!note)
        return grove_nomem(err);
    rc = db_instance_merge_metadata(ctx->db, id, note, err);
    json_decref(note);
    return rc;
}

/* Which creation a setup command runs for (setup_started()). */
typedef struct setup_watch {
    grove_ctx *ctx;
    const char *id;
} setup_watch;

/*
 * The setup command started: its process group goes into the creation
 * journal, so that after a kill -9 of grove `grove gc` stops it before it
 * rolls the creation back (see gc_interrupted_create in cli.c).
 */
static void setup_started(void *arg, long long pgid)
{
    setup_watch *w = arg;
    grove_err err = GROVE_ERR_INIT;

    if (gitops_creation_note_setup(w->ctx->repo, w->id, pgid, agent_process_start(pgid), &err) != 0)
        log_warn("instance '%s': setup command (process %lld) not journalled: %s", w->id, pgid,
                 err.msg);
    instance_kill_point("instance_create:setup-started");
}

/*
 * Runs config worktrees.setup_command in the new worktree; *setup gets a
 * report (setup->ran stays 0 when none is configured). Fails only when
 * memory runs out: a command that fails or cannot run is reported.
 */
static int run_setup(grove_ctx *ctx, const char *id, const char *path, const char *const *env,
                     instance_setup *setup, grove_err *err)
{
    char *command = ctx_setting(ctx, NULL, "worktrees.setup_command");
    char **argv = NULL;
    setup_watch watch = {ctx, id};
    int status = 0, rc = -1;

    memset(setup, 0, sizeof(*setup));
    if (!command)
        return 0;
    if (!(setup->log = instance_log_path(ctx, id))) {
        grove_nomem(err);
        goto done;
    }
    setup->ran = 1;
    if (agent_build_argv(command, "", &argv, err) != 0) {
        setup->error = grove_asprintf("config worktrees.setup_command is not usable: %s", err->msg);
    } else if (agent_run_watched(argv, path, env, setup->log, SETUP_TIMEOUT_S, setup_started,
                                 &watch, &status, err) != 0) {
        setup->error = strdup(err->msg);
    } else {
        setup->exit_code = status;
        rc = 0;
        goto done;
    }
    rc = setup->error ? 0 : grove_nomem(err);
done:
    agent_free_argv(argv);
    free(command);
    return rc;
}

/* The setup report as the instance's metadata patch {"setup": {...}} (a JSON column); NULL on OOM.
 */
static json_t *setup_metadata(const instance_setup *s)
{
    if (s->error)
        return json_pack("{s:{s:s, s:n, s:s, s:s}}", "setup", "status", "failed", "exit_code",
                         "log", s->log, "error", s->error);
    return json_pack("{s:{s:s, s:i, s:s}}", "setup", "status", s->exit_code == 0 ? "ok" : "failed",
                     "exit_code", s->exit_code, "log", s->log);
}

/* This grove's absolute path (what agents' MCP servers and hooks run), into buf. */
static int self_path(char *buf, size_t size, grove_err *err)
{
    ssize_t n = readlink("/proc/self/exe", buf, size - 1);

    if (n <= 0 || (size_t)n >= size - 1)
        return grove_fail(err, GROVE_EIO, "cannot find grove's own path (/proc/self/exe)");
    buf[n] = '\0';
    return 0;
}

int instance_launch_agent(grove_ctx *ctx, const agent_profile *p, int resume, const char *id,
                          const char *path, const char *prompt, const char *session_id,
                          const char *const *env, grove_err *err)
{
    char **argv = NULL, **env_add = NULL, **all_env = NULL;
    char *log = instance_log_path(ctx, id), *dir = instance_prompt_dir(ctx);
    char *files = instance_agent_files_dir(ctx), *file = NULL;
    char self[4096], sid[37];
    agent_handle h;
    agent_spec as = {0};
    agent_ref ref = {0};
    agent_vars vars = {0};
    agent_link link = {0};
    json_t *meta = NULL;
    size_t ne = 0, na = 0, i;
    int rc = -1, uses_file = 0, launched = 0;

    if (!log || !dir || !files) {
        grove_nomem(err);
        goto done;
    }
    if (self_path(self, sizeof(self), err) != 0)
        goto done;
    /* a session id grove chooses, for CLIs that take one; else the one recorded */
    if (session_id && *session_id)
        snprintf(sid, sizeof(sid), "%s", session_id);
    else if (strstr(resume ? p->resume : p->command, "{session_id}"))
        profile_new_uuid(sid);
    else
        sid[0] = '\0';
    vars.prompt = prompt ? prompt : "";
    vars.instance_id = id;
    vars.session_id = sid;
    link.grove = self;
    link.db = ctx->db_path;
    link.instance_id = id;
    link.files_dir = files;
    if (agent_build_with(resume ? p->resume : p->command, &vars, &argv, &uses_file, err) != 0)
        goto done;
    agent_free_argv(argv);
    argv = NULL;
    if (uses_file) {
        if (agent_prompt_file_write(dir, id, vars.prompt, &file, err) != 0)
            goto done;
        vars.prompt_file = file;
    }
    if (profile_argv(p, resume, &vars, &link, &argv, &env_add, err) != 0)
        goto done;
    while (env && env[ne])
        ne++;
    while (env_add && env_add[na])
        na++;
    if (!(all_env = calloc(ne + na + 1, sizeof(*all_env)))) {
        grove_nomem(err);
        goto done;
    }
    for (i = 0; i < ne; i++)
        all_env[i] = (char *)env[i];
    for (i = 0; i < na; i++)
        all_env[ne + i] = env_add[i];
    as.id = id;
    as.cwd = path;
    as.argv = argv;
    as.log_path = log;
    as.use_tmux = agent_have_tmux();
    as.env = (const char *const *)all_env;
    as.pass_env = (const char *const *)p->pass_env;
    as.self = self;
    as.secrets_dir = files;
    if (agent_launch(&as, &h, err) != 0)
        goto done;
    launched = 1;
    /* a relaunch: why it ended before no longer holds (json_patch drops a null) */
    if (!(meta = json_pack("{s:I, s:n}", AGENT_START_KEY, (json_int_t)h.start, "ended"))) {
        grove_nomem(err);
        goto done;
    }
    if (db_instance_set_agent(ctx->db, id, h.session, h.pid, err) != 0 ||
        db_instance_merge_metadata(ctx->db, id, meta, err) != 0 ||
        db_instance_agent_launched(ctx->db, id, p->name, sid, err) != 0)
        goto done;
    rc = 0;
done:
    if (rc != 0 && launched) {
        grove_err serr = GROVE_ERR_INIT;

        ref.instance_id = id;
        ref.session = h.session;
        ref.pid = h.pid;
        ref.start = h.start;
        if (agent_stop(&ref, &serr) != 0)
            log_warn("instance '%s': %s", id, serr.msg);
    }
    if (rc != 0 && file)
        agent_prompt_file_remove(dir, id);
    if (rc != 0 && files)
        profile_forget(files, id);
    json_decref(meta);
    agent_free_argv(argv);
    agent_free_argv(env_add);
    free(all_env);
    free(file);
    free(files);
    free(dir);
    free(log);
    return rc;
}

/*
 * Refuses, before anything is made, an agent command whose argv with the
 * prompt in it (through "{prompt}") cannot be started: tmux and the
 * kernel limit a command line.
 */
static int check_agent_fits(const instance_spec *spec, grove_err *err)
{
    char **argv = NULL;
    int rc;

    if (!spec->profile)
        return 0;
    if (agent_build_command(spec->profile->command, spec->prompt, NULL, &argv, NULL, err) != 0)
        return -1;
    rc = agent_argv_fits(argv, agent_have_tmux(), err);
    agent_free_argv(argv);
    return rc;
}

int instance_create(grove_ctx *ctx, const instance_spec *spec, const grove_progress *p,
                    instance_created *out, grove_err *err)
{
    char id[160], *branch = NULL, *path = NULL;
    stage_state st = {p, 1};
    db_new_instance row;
    size_t copied = 0;
    int n = 0, attempt, rc = -1, made = 0, recorded = 0, reserved = 0;
    grove_err werr = GROVE_ERR_INIT;
    ports_block ports;
    char port_var[32], ports_var[48];
    const char *const env[] = {port_var, ports_var, NULL};

    memset(out, 0, sizeof(*out));
    /* Before anything is made: a refused prompt leaves no worktree, branch or row. */
    if (limits_check_text("prompt", spec->prompt, LIMIT_PROMPT_BYTES, err) != 0 ||
        check_agent_fits(spec, err) != 0 || ports_config_check(ctx, err) != 0)
        return -1;
    grove_progress_step(p, 1, CREATE_STEPS, "started");
    for (attempt = 0; attempt < MAX_ID_ATTEMPTS; attempt++) {
        int next;
        grove_err gerr = GROVE_ERR_INIT;

        if (db_instance_next_number(ctx->db, spec->type, spec->issue.number,
                                    spec->issue.beads[0] ? spec->issue.beads : NULL, &next,
                                    err) != 0)
            goto done;
        n = next > n ? next : n + 1;
        if (instance_format_id(id, sizeof(id), spec->type, &spec->issue, n) != 0) {
            grove_fail(err, GROVE_EINVAL, "instance id too long");
            goto done;
        }
        free(branch);
        free(path);
        branch = grove_asprintf("%s%s", ctx->branch_prefix, id);
        path = grove_asprintf("%s/%s", ctx->worktrees_base, id);
        if (!branch || !path) {
            grove_nomem(err);
            goto done;
        }
        if (!gitops_branch_name_valid(branch)) {
            grove_fail(err, GROVE_EINVAL,
                       "branch name '%s' is not valid in git; choose another issue id or "
                       "branch.prefix",
                       branch);
            goto done;
        }
        if (gitops_worktree_create(ctx->repo, id, path, branch, spec->start_commit, on_stage, &st,
                                   &gerr) == 0) {
            grove_instance taken;

            /*
             * The number was read before the worktree was made. Meanwhile
             * another process may have recorded this id and removed its
             * worktree and branch again (terminate with removal); its row
             * was written before they went, so it is visible now.
             */
            int found = db_instance_get(ctx->db, id, &taken, &gerr) == 0;

            db_instance_free(&taken);
            if (found) {
                log_warn("instance id '%s' is taken (a terminated instance); using the next number",
                         id);
                if (gitops_worktree_remove(ctx->repo, id, branch, err) != 0)
                    goto done;
                continue;
            }
            made = 1;
            if (gerr.code != GROVE_ENOTFOUND) {
                *err = gerr;
                goto undo;
            }
            break;
        }
        if (gerr.code != GROVE_ECONFLICT) {
            *err = gerr;
            goto done;
        }
        /*
         * A branch or folder of that name exists (another process took the
         * number, or a leftover of an earlier database): never reuse it,
         * take the next number.
         */
        log_warn("instance id '%s' is taken (%s); using the next number", id, gerr.msg);
    }
    if (!made) {
        grove_fail(err, GROVE_ECONFLICT, "no free instance id after %d attempts", MAX_ID_ATTEMPTS);
        goto done;
    }

    /* Its ports, before the setup command (which may start a server) runs. */
    if (ports_reserve(ctx, id, &ports, err) != 0)
        goto undo;
    reserved = 1;
    ports_env(&ports, port_var, ports_var);
    if (gitops_copy_worktreeinclude(ctx->repo, path, &copied, &werr) != 0)
        log_warn("instance '%s': .worktreeinclude: %s", id, werr.msg);
    if (run_setup(ctx, id, path, env, &out->setup, err) != 0)
        goto undo;
    grove_progress_step(p, 4, CREATE_STEPS,
                        out->setup.ran ? "setup command ran" : "worktree ready");

    memset(&row, 0, sizeof(row));
    row.id = id;
    row.type = spec->type;
    row.agent_number = n;
    row.issue_number = spec->issue.number;
    row.beads_id = spec->issue.beads[0] ? spec->issue.beads : NULL;
    row.worktree_path = path;
    row.branch_name = branch;
    row.base_branch = spec->base_branch;
    row.base_commit = spec->base_commit;
    row.prompt = spec->prompt;
    row.parent_id = spec->parent_id;
    row.relationship_type = spec->relationship;
    if (db_instance_insert(ctx->db, &row, err) != 0)
        goto undo;
    recorded = 1;
    if (out->setup.ran) {
        json_t *meta = setup_metadata(&out->setup);

        if (!meta || db_instance_merge_metadata(ctx->db, id, meta, err) != 0) {
            json_decref(meta);
            goto undo;
        }
        json_decref(meta);
    }
    instance_kill_point("instance_create:recorded");
    {
        grove_err uerr = GROVE_ERR_INIT;

        if (gitops_worktree_unlock(ctx->repo, id, &uerr) != 0)
            log_warn("instance '%s': %s", id, uerr.msg);
    }
    instance_kill_point("instance_create:unlocked");
    if (spec->profile) {
        if (instance_launch_agent(ctx, spec->profile, 0, id, path, spec->prompt, NULL, env, err) !=
            0)
            goto undo;
        grove_progress_step(p, 5, CREATE_STEPS, "agent launched");
    }
    if (db_instance_get(ctx->db, id, &out->instance, err) != 0)
        goto done;
    grove_progress_step(p, CREATE_STEPS, CREATE_STEPS, "done");
    rc = 0;
    goto done;
undo : {
    grove_err rerr = GROVE_ERR_INIT;

    if (recorded && db_instance_delete(ctx->db, id, &rerr) != 0)
        log_error("could not delete the row of failed instance '%s': %s", id, rerr.msg);
    if (reserved)
        ports_release(ctx, id);
    if (gitops_worktree_remove(ctx->repo, id, branch, &rerr) != 0)
        log_error("could not remove the worktree of failed instance '%s': %s", id, rerr.msg);
}
done:
    if (rc != 0)
        instance_created_free(out);
    free(branch);
    free(path);
    return rc;
}

#include "tools/agents/profile.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <regex.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tools/base/buf.h"
#include "tools/base/io.h"

const char *const PROFILE_BUILTIN[] = {"claude", "codex", "gemini", "custom", NULL};

/* The built-in profiles, as a user would write them in agent.profiles. */
static const char BUILTIN_JSON[] =
    "{"
    /* Claude Code: the prompt after "--", so no variadic flag can take it */
    "\"claude\": {\"command\": [\"claude\", \"--session-id\", \"{session_id}\", \"--\", "
    "\"{prompt}\"],"
    " \"resume\": [\"claude\", \"--resume\", \"{session_id}\", \"--\", \"{prompt}\"],"
    " \"hooks\": \"claude\","
    " \"pass_env\": [\"ANTHROPIC_API_KEY\", \"ANTHROPIC_AUTH_TOKEN\", "
    "\"CLAUDE_CODE_OAUTH_TOKEN\"]},"
    /* Codex: interactive with an initial prompt; its session id comes from no flag */
    "\"codex\": {\"command\": [\"codex\", \"--\", \"{prompt}\"],"
    " \"resume\": [\"codex\", \"resume\", \"{session_id}\", \"{prompt}\"],"
    " \"hooks\": \"none\","
    " \"waiting_pattern\": \"(Allow command\\\\?|Would you like to run|Approve|\\\\[y/n\\\\]|"
    "Press enter to confirm)\","
    " \"pass_env\": [\"OPENAI_API_KEY\", \"CODEX_API_KEY\"]},"
    /*
     * Gemini CLI: --prompt-interactive runs the prompt and stays interactive (one
     * element: "-i -x" would take -x for an option); --skip-trust trusts the
     * worktree for this session (MCP servers connect only in a trusted folder)
     */
    "\"gemini\": {\"command\": [\"gemini\", \"--skip-trust\", \"--session-id\", "
    "\"{session_id}\", \"--prompt-interactive={prompt}\"],"
    " \"resume\": [\"gemini\", \"--skip-trust\", \"--resume\", \"{session_id}\", "
    "\"--prompt-interactive={prompt}\"],"
    " \"hooks\": \"none\","
    " \"waiting_pattern\": \"(Allow execution|Waiting for user confirmation|Do you want to "
    "proceed)\","
    " \"pass_env\": [\"GEMINI_API_KEY\", \"GOOGLE_API_KEY\", "
    "\"GOOGLE_APPLICATION_CREDENTIALS\"]}"
    "}";

void profile_free(agent_profile *p)
{
    if (!p)
        return;
    free(p->command);
    free(p->resume);
    free(p->waiting_pattern);
    agent_free_argv(p->pass_env);
    memset(p, 0, sizeof(*p));
}

/* Which CLI argv0 of command (a JSON array) is, by its file name. */
static agent_cli cli_of(const json_t *command)
{
    const char *prog = json_string_value(json_array_get(command, 0));
    const char *base;

    if (!prog)
        return AGENT_CLI_OTHER;
    base = strrchr(prog, '/');
    base = base ? base + 1 : prog;
    if (strcmp(base, "claude") == 0)
        return AGENT_CLI_CLAUDE;
    if (strcmp(base, "codex") == 0)
        return AGENT_CLI_CODEX;
    if (strcmp(base, "gemini") == 0)
        return AGENT_CLI_GEMINI;
    return AGENT_CLI_OTHER;
}

/* 0 when v is a non-empty array of strings without NUL; else GROVE_EINVAL. */
static int check_argv_json(const char *name, const char *field, const json_t *v, grove_err *err)
{
    size_t i;

    if (!json_is_array(v) || json_array_size(v) == 0)
        return grove_fail(err, GROVE_EINVAL,
                          "agent profile '%s': %s must be a non-empty JSON array of strings", name,
                          field);
    for (i = 0; i < json_array_size(v); i++) {
        const json_t *s = json_array_get(v, i);

        if (!json_is_string(s) || strlen(json_string_value(s)) != json_string_length(s))
            return grove_fail(err, GROVE_EINVAL,
                              "agent profile '%s': element %zu of %s is not a usable string (a "
                              "string without NUL bytes)",
                              name, i, field);
        if (i == 0 && !json_string_length(s))
            return grove_fail(err, GROVE_EINVAL,
                              "agent profile '%s': the program (element 0 of %s) is empty", name,
                              field);
    }
    return 0;
}

/* *out from profile object o (named name). */
static int profile_from(const char *name, const json_t *o, const char *custom_command,
                        agent_profile *out, grove_err *err)
{
    const json_t *command = json_object_get(o, "command"), *resume = json_object_get(o, "resume");
    const json_t *hooks = json_object_get(o, "hooks"), *wp = json_object_get(o, "waiting_pattern");
    const json_t *pe = json_object_get(o, "pass_env"), *key;
    json_t *custom = NULL;
    const char *k;
    size_t i;
    int rc = -1;

    if (!json_is_object(o))
        return grove_fail(err, GROVE_EINVAL, "agent profile '%s' must be a JSON object", name);
    json_object_foreach((json_t *)o, k, key)
    {
        (void)key;
        if (strcmp(k, "command") && strcmp(k, "resume") && strcmp(k, "hooks") &&
            strcmp(k, "waiting_pattern") && strcmp(k, "pass_env"))
            return grove_fail(err, GROVE_EINVAL,
                              "agent profile '%s': unknown field '%s' (known: command, resume, "
                              "hooks, waiting_pattern, pass_env)",
                              name, k);
    }
    if (!command && strcmp(name, "custom") == 0 && custom_command) {
        json_error_t jerr;

        if (!(custom = json_loads(custom_command, 0, &jerr)))
            return grove_fail(err, GROVE_EINVAL,
                              "the agent command (GROVE_AGENT_COMMAND or config agent.command) is "
                              "not valid JSON: %s",
                              jerr.text);
        command = custom;
    }
    if (!command) {
        rc = grove_fail(err, GROVE_EINVAL,
                        strcmp(name, "custom") == 0
                            ? "agent profile 'custom' needs an agent command: set "
                              "GROVE_AGENT_COMMAND or config agent.command (a JSON array such as "
                              "[\"my-agent\",\"{prompt}\"])"
                            : "agent profile '%s' has no command",
                        name);
        goto done;
    }
    if (check_argv_json(name, "command", command, err) != 0 ||
        (resume && !json_is_null(resume) && check_argv_json(name, "resume", resume, err) != 0))
        goto done;
    if (hooks && !json_is_null(hooks) &&
        !(json_is_string(hooks) && (strcmp(json_string_value(hooks), "claude") == 0 ||
                                    strcmp(json_string_value(hooks), "none") == 0))) {
        grove_fail(err, GROVE_EINVAL, "agent profile '%s': hooks must be \"claude\" or \"none\"",
                   name);
        goto done;
    }
    if (wp && !json_is_null(wp)) {
        regex_t re;

        if (!json_is_string(wp) || regcomp(&re, json_string_value(wp), REG_EXTENDED | REG_NOSUB)) {
            grove_fail(err, GROVE_EINVAL,
                       "agent profile '%s': waiting_pattern is not a valid extended regular "
                       "expression",
                       name);
            goto done;
        }
        regfree(&re);
        if (!(out->waiting_pattern = strdup(json_string_value(wp))))
            goto oom;
    }
    if (pe && !json_is_null(pe) && !json_is_array(pe)) {
        grove_fail(err, GROVE_EINVAL, "agent profile '%s': pass_env must be an array of names",
                   name);
        goto done;
    }
    if (!(out->pass_env = calloc(json_array_size(pe) + 1, sizeof(char *))))
        goto oom;
    for (i = 0; i < json_array_size(pe); i++) {
        const char *v = json_string_value(json_array_get(pe, i));

        if (!v || !*v || strchr(v, '=')) {
            grove_fail(err, GROVE_EINVAL,
                       "agent profile '%s': pass_env element %zu is not a variable name", name, i);
            goto done;
        }
        if (!(out->pass_env[i] = strdup(v)))
            goto oom;
    }
    snprintf(out->name, sizeof(out->name), "%s", name);
    out->hooks = json_is_string(hooks) && strcmp(json_string_value(hooks), "claude") == 0;
    out->cli = cli_of(command);
    if (!(out->command = json_dumps(command, JSON_COMPACT)) ||
        (resume && !json_is_null(resume) && !(out->resume = json_dumps(resume, JSON_COMPACT))))
        goto oom;
    rc = 0;
    goto done;
oom:
    grove_nomem(err);
done:
    json_decref(custom);
    return rc;
}

int profile_resolve(const char *profiles_json, const char *custom_command, const char *name,
                    agent_profile *out, grove_err *err)
{
    json_t *user = NULL, *builtin = NULL, *o;
    json_error_t jerr;
    int rc = -1;

    memset(out, 0, sizeof(*out));
    if (!name || !*name || strlen(name) >= sizeof(out->name))
        return grove_fail(err, GROVE_EINVAL, "invalid agent profile name");
    if (profiles_json) {
        user = json_loads(profiles_json, JSON_REJECT_DUPLICATES, &jerr);
        if (!json_is_object(user)) {
            grove_fail(err, GROVE_EINVAL,
                       "config agent.profiles must be a JSON object (profile name -> {command, "
                       "resume, hooks, waiting_pattern, pass_env})");
            goto done;
        }
    }
    if (!(builtin = json_loads(BUILTIN_JSON, 0, &jerr))) {
        grove_fail(err, GROVE_EIO, "built-in agent profiles: %s", jerr.text);
        goto done;
    }
    if ((o = json_object_get(user, name))) {
        rc = profile_from(name, o, custom_command, out, err);
    } else if ((o = json_object_get(builtin, name))) {
        rc = profile_from(name, o, custom_command, out, err);
    } else if (strcmp(name, "custom") == 0) {
        json_t *empty = json_object();

        rc = empty ? profile_from(name, empty, custom_command, out, err) : grove_nomem(err);
        json_decref(empty);
    } else {
        grove_buf b = BUF_INIT(4096);
        const char *k;
        json_t *v;
        size_t i;

        for (i = 0; PROFILE_BUILTIN[i]; i++)
            buf_printf(&b, "%s%s", i ? ", " : "", PROFILE_BUILTIN[i]);
        json_object_foreach(user, k, v)
        {
            (void)v;
            if (!json_object_get(builtin, k) && strcmp(k, "custom") != 0)
                buf_printf(&b, ", %s", k);
        }
        grove_fail(err, GROVE_EINVAL, "unknown agent profile '%s' (known: %s)", name, buf_str(&b));
        buf_free(&b);
    }
done:
    if (rc != 0)
        profile_free(out);
    json_decref(user);
    json_decref(builtin);
    return rc;
}

void profile_new_uuid(char out[37])
{
    unsigned char u[16];
    static const char hex[] = "0123456789abcdef";
    size_t i, k = 0;

    randombytes_buf(u, sizeof(u));
    u[6] = (unsigned char)((u[6] & 0x0f) | 0x40); /* version 4 */
    u[8] = (unsigned char)((u[8] & 0x3f) | 0x80); /* variant 10 */
    for (i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[k++] = '-';
        out[k++] = hex[u[i] >> 4];
        out[k++] = hex[u[i] & 15];
    }
    out[k] = '\0';
}

/* Appends s single-quoted for a POSIX shell (Claude Code runs hook commands with one). */
static void shell_quote(grove_buf *b, const char *s)
{
    buf_add(b, "'", 1);
    for (; *s; s++) {
        if (*s == '\'')
            buf_add(b, "'\\''", 4);
        else
            buf_add(b, s, 1);
    }
    buf_add(b, "'", 1);
}

/* {"type":"command","command":"'<grove>' hook STATE --instance 'ID' --db 'DB'","timeout":10} */
static json_t *hook_entry(const agent_link *l, const char *state, const char *matcher)
{
    grove_buf b = BUF_INIT(1u << 16);
    json_t *cmd, *entry;

    shell_quote(&b, l->grove);
    buf_printf(&b, " hook %s --instance ", state);
    shell_quote(&b, l->instance_id);
    buf_printf(&b, "%s", " --db ");
    shell_quote(&b, l->db);
    if (b.truncated || !b.data) {
        buf_free(&b);
        return NULL;
    }
    cmd = json_pack("{s:s, s:s, s:i}", "type", "command", "command", buf_str(&b), "timeout", 10);
    buf_free(&b);
    if (!cmd)
        return NULL;
    entry = matcher ? json_pack("[{s:s, s:[o]}]", "matcher", matcher, "hooks", cmd)
                    : json_pack("[{s:[o]}]", "hooks", cmd);
    return entry;
}

char *profile_claude_hooks(const agent_link *l)
{
    json_t *hooks =
        json_pack("{s:{s:o, s:o, s:o, s:o, s:o, s:o, s:o}}", "hooks", "UserPromptSubmit",
                  hook_entry(l, "working", NULL), "PreToolUse", hook_entry(l, "working", "*"),
                  "PostToolUse", hook_entry(l, "working", "*"), "PermissionRequest",
                  hook_entry(l, "waiting", "*"), "Notification", hook_entry(l, "waiting", NULL),
                  "Stop", hook_entry(l, "idle", NULL), "SessionEnd", hook_entry(l, "exited", NULL));
    char *s = hooks ? json_dumps(hooks, JSON_COMPACT) : NULL;

    json_decref(hooks);
    return s;
}

/* The grove MCP server of this instance, as {command, args, env}. */
static json_t *server_object(const agent_link *l)
{
    return json_pack("{s:s, s:[s], s:{s:s, s:s}}", "command", l->grove, "args", "serve", "env",
                     "GROVE_INSTANCE_ID", l->instance_id, "GROVE_DB", l->db);
}

/* Appends s as a TOML basic string ("...", with \" \\ and \uXXXX escapes). */
static void toml_string(grove_buf *b, const char *s)
{
    buf_add(b, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;

        if (c == '"' || c == '\\') {
            buf_add(b, "\\", 1);
            buf_add(b, s, 1);
        } else if (c < 0x20 || c == 0x7f) {
            buf_printf(b, "\\u%04x", c);
        } else {
            buf_add(b, s, 1);
        }
    }
    buf_add(b, "\"", 1);
}

/* Codex's -c value: mcp_servers.grove={command=..., args=[...], env={...}, ...}. */
static char *codex_server(const agent_link *l)
{
    grove_buf b = BUF_INIT(1u << 16);

    buf_printf(&b, "%s", "mcp_servers.grove={command=");
    toml_string(&b, l->grove);
    buf_printf(&b, "%s", ",args=[\"serve\"],env={GROVE_INSTANCE_ID=");
    toml_string(&b, l->instance_id);
    buf_printf(&b, "%s", ",GROVE_DB=");
    toml_string(&b, l->db);
    buf_printf(&b, "%s", "},default_tools_approval_mode=\"approve\",startup_timeout_sec=30}");
    if (b.truncated) {
        buf_free(&b);
        return NULL;
    }
    return buf_take(&b);
}

/* Writes text to path (mode 0600, never through a symlink), replacing what was there. */
static int write_private(const char *path, const char *text, grove_err *err)
{
    int fd;

    unlink(path);
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return grove_fail(err, GROVE_EIO, "cannot write '%s': %s", path, strerror(errno));
    if (io_write_all(fd, text, strlen(text)) != 0) {
        grove_fail(err, GROVE_EIO, "cannot write '%s': %s", path, strerror(errno));
        close(fd);
        unlink(path);
        return -1;
    }
    close(fd);
    return 0;
}

/* Gemini CLI's system defaults file for the instance: <files_dir>/<id>.gemini.json, 0600. */
static char *gemini_defaults(const agent_link *l, grove_err *err)
{
    json_t *o = NULL, *server = server_object(l);
    char *path = NULL, *text = NULL;

    if (server && json_object_set_new(server, "trust", json_true()) == 0)
        o = json_pack("{s:{s:o}}", "mcpServers", "grove", server);
    else
        json_decref(server);
    if (!o || !(text = json_dumps(o, JSON_INDENT(2))) ||
        !(path = grove_asprintf("%s/%s.gemini.json", l->files_dir, l->instance_id))) {
        grove_nomem(err);
        goto fail;
    }
    if (grove_mkdirs(l->files_dir, 0700, err) != 0 || write_private(path, text, err) != 0)
        goto fail;
    json_decref(o);
    free(text);
    return path;
fail:
    json_decref(o);
    free(text);
    free(path);
    return NULL;
}

void profile_forget(const char *files_dir, const char *id)
{
    static const char *const kinds[] = {"gemini.json", "env"};
    size_t i;

    for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        char *path = grove_asprintf("%s/%s.%s", files_dir, id, kinds[i]);

        if (path)
            unlink(path);
        free(path);
    }
}

int profile_argv(const agent_profile *p, int resume, const agent_vars *vars, const agent_link *link,
                 char ***argv_out, char ***env_out, grove_err *err)
{
    char **base = NULL, **argv = NULL, **env = NULL, *mcp = NULL, *settings = NULL;
    char *extra[8] = {0}; /* owned: what goes after the program */
    json_t *cfg = NULL;
    size_t n = 0, nx = 0, i, k = 0;
    int rc = -1;

    *argv_out = NULL;
    *env_out = NULL;
    if (agent_build_with(resume ? p->resume : p->command, vars, &base, NULL, err) != 0)
        return -1;
    while (base[n])
        n++;
    switch (p->cli) {
    case AGENT_CLI_CLAUDE: {
        json_t *server = server_object(link);

        if (!server || json_object_set_new(server, "type", json_string("stdio")) != 0 ||
            !(cfg = json_pack("{s:{s:o}}", "mcpServers", "grove", server)) ||
            !(mcp = json_dumps(cfg, JSON_COMPACT)))
            goto oom;
        /* --mcp-config and --allowedTools take several values: an option must follow them */
        extra[nx++] = strdup("--mcp-config");
        extra[nx++] = strdup(mcp);
        extra[nx++] = strdup("--allowedTools");
        extra[nx++] = strdup("mcp__grove");
        if (p->hooks) {
            if (!(settings = profile_claude_hooks(link)))
                goto oom;
            extra[nx++] = strdup("--settings");
            extra[nx++] = strdup(settings);
        }
        break;
    }
    case AGENT_CLI_CODEX:
        extra[nx++] = strdup("-c");
        extra[nx++] = codex_server(link);
        break;
    case AGENT_CLI_GEMINI: {
        char *file = gemini_defaults(link, err);

        if (!file)
            goto done;
        if (!(env = calloc(2, sizeof(*env))) ||
            !(env[0] = grove_asprintf("GEMINI_CLI_SYSTEM_DEFAULTS_PATH=%s", file))) {
            free(file);
            goto oom;
        }
        free(file);
        break;
    }
    default:
        if (p->hooks) { /* a Claude Code under another name: the hooks still go in */
            if (!(settings = profile_claude_hooks(link)))
                goto oom;
            extra[nx++] = strdup("--settings");
            extra[nx++] = strdup(settings);
        }
        break;
    }
    for (i = 0; i < nx; i++)
        if (!extra[i])
            goto oom;
    if (!(argv = calloc(n + nx + 1, sizeof(*argv))))
        goto oom;
    argv[k++] = base[0];
    for (i = 0; i < nx; i++) {
        argv[k++] = extra[i];
        extra[i] = NULL;
    }
    for (i = 1; i < n; i++)
        argv[k++] = base[i];
    free(base); /* its strings moved into argv */
    base = NULL;
    *argv_out = argv;
    *env_out = env;
    argv = NULL;
    env = NULL;
    rc = 0;
    goto done;
oom:
    grove_nomem(err);
done:
    for (i = 0; i < nx; i++)
        free(extra[i]);
    agent_free_argv(base);
    free(argv);
    agent_free_argv(env);
    json_decref(cfg);
    free(mcp);
    free(settings);
    return rc;
}

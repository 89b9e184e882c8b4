#include "mcp/prompts.h"

#include <stdio.h>
#include <string.h>

#include "tools/base/buf.h"
#include "tools/core/context.h"
#include "tools/core/facts.h"
#include "tools/core/instance.h"

struct mcp_prompt {
    const char *name;
    const char *title;
    const char *description;
    mcp_prompt_arg args[1];
    size_t nargs;
    /* The user message; {issues}, {id} and {facts} are put in by mcp_prompt_get(). */
    const char *text;
};

#define INSTANCE_ARG(what)                                                                         \
    {                                                                                              \
        {"instance_id", "Instance", "The id of the instance " what " (e.g. work-12-a1).", 1},      \
    }

static const mcp_prompt PROMPTS[] = {
    {"orchestrate",
     "Orchestrate issues",
     "Run several coding agents on a list of issues with grove: spawn, watch, answer, review, "
     "land, clean up.",
     {{"issues", "Issues",
       "The issues to work on, separated by commas or spaces: GitHub numbers or beads ids "
       "(e.g. \"12, 15, bd-a3f8\").",
       1}},
     1,
     "Orchestrate parallel coding agents with grove's tools for these issues: {issues}.\n"
     "1. For each issue call spawn_work_instance {issue, prompt}: the prompt states the task, "
     "the acceptance criteria and the tests to run. For a hard issue ask for best of N: "
     "count 2-3, or other agent profiles (agent). Note every instance_id.\n"
     "2. Watch them: query_instances {status: \"running\", agent_state: \"waiting\"}; for each "
     "waiting one read_agent_output {instance_id} and answer with send_feedback {instance_id, "
     "feedback_type: \"clarification\", feedback}. Questions of scope, product behaviour, "
     "credentials or anything destructive go to the person: ask them, do not guess.\n"
     "3. Before work collides: get_conflicts after each round. Two instances on the same files: "
     "tell one with send_feedback; an instance behind its base: sync_instance.\n"
     "4. When an instance is done (get_checkpoint shows it completed, its agent is idle), call "
     "spawn_review_instance {work_instance_id}. The reviewer answers with send_feedback: "
     "needs_work goes back to the author, approved clears it to land.\n"
     "5. Land only approved work: get_diff, land_instance {instance_id, dry_run: true}, then "
     "land_instance for real. Ask the person before landing into a shared branch unless they "
     "said so.\n"
     "6. Of best-of-N attempts land one and terminate_instance the others; then "
     "terminate_instance finished instances (the worktree goes only when no work is lost) and "
     "suggest `grove gc` for what is left.\n"
     "Keep the person informed with a short table: issue, instance, agent state, verdict."},
    {"review", "Review an instance",
     "Review an instance's work: read its diff, run its tests in its worktree, send a verdict.",
     INSTANCE_ARG("to review"), 1,
     "Review the work of grove instance {id}.\n{facts}\n"
     "1. get_instance {instance_id: \"{id}\"}: read its prompt (the task) and last checkpoint.\n"
     "2. get_diff {instance_id: \"{id}\"}: read every change against the base; with "
     "include_uncommitted: true if its worktree has uncommitted paths (they are not part of the "
     "branch: say so).\n"
     "3. Run the project's build and tests in its worktree (the path above), not in your own. "
     "Do not edit its files.\n"
     "4. Check: does it do what the task asks, with tests; no unrelated changes, debug output, "
     "secrets or generated files; errors handled; names and style as in the code around it.\n"
     "5. send_feedback {instance_id: \"{id}\", feedback_type, feedback}: \"needs_work\" with "
     "each problem as file:line and what to do, \"suggestions\" for optional points, "
     "\"approved\" only when you would land it as it is (an approval is for the head you "
     "reviewed: land_instance refuses a later one).\n"
     "6. If the task itself is unclear or the change needs a decision (API, data, security), "
     "ask the person instead of guessing."},
    {"land", "Land an instance", "Bring an instance's approved work into its base branch safely.",
     INSTANCE_ARG("to land"), 1,
     "Land the work of grove instance {id} into its base branch.\n{facts}\n"
     "1. get_diff {instance_id: \"{id}\"}: make sure this is the work you mean to land; "
     "uncommitted paths in its worktree are not landed: have them committed first.\n"
     "2. get_conflicts {instance_id: \"{id}\"}: it compares with the other running instances and "
     "with the base branch's current head.\n"
     "3. If it is behind its base: sync_instance {instance_id: \"{id}\"}, then run its tests "
     "again in the worktree.\n"
     "4. land_instance {instance_id: \"{id}\", dry_run: true}: read what it would do (strategy, "
     "conflicts, whether the review gate is met: an agent may land only a head its reviewer "
     "approved).\n"
     "5. Then land_instance {instance_id: \"{id}\"} for real. Ask the person before landing into "
     "a shared or protected branch, or with remove_worktree, unless they said so.\n"
     "On conflicts: do not resolve them blind. send_feedback {instance_id: \"{id}\", "
     "feedback_type: \"needs_work\"} naming the files, let its agent sync_instance and fix "
     "them, review again, then land. If the review gate refuses, spawn_review_instance "
     "{work_instance_id: \"{id}\"} for the current head.\n"
     "Afterwards: terminate_instance {instance_id: \"{id}\"} when nothing more is to come from "
     "it."},
    {"resume", "Resume an instance",
     "Pick an instance's work up where it stopped: state, checkpoint, output, relaunch.",
     INSTANCE_ARG("to resume"), 1,
     "Resume grove instance {id} where it stopped.\n{facts}\n"
     "1. get_instance {instance_id: \"{id}\"}: its status, agent state, branch and git state; "
     "why it ended is in its metadata.\n"
     "2. get_checkpoint {instance_id: \"{id}\"}: the last phase it logged and its data: the "
     "plan, what is done, what is next. Checkpoints survive restarts; output does not always.\n"
     "3. read_agent_output {instance_id: \"{id}\"}: its agent's last lines (also after it "
     "exited): an error, a question, or a finished run.\n"
     "4. If uncommitted paths are in its worktree, they are its work in progress: keep them.\n"
     "5. resume_instance {instance_id: \"{id}\", prompt}: relaunch its agent in the same "
     "worktree and session, with a prompt that says what to do next according to the "
     "checkpoint (and what went wrong, if it failed).\n"
     "6. Watch it: query_instances {agent_state: \"waiting\"} and read_agent_output; answer "
     "with send_feedback. If it failed the same way twice, or the checkpoint contradicts the "
     "branch, ask the person before going on.\n"
     "Ask it to log_checkpoint after each phase from now on."},
};

#define NPROMPTS (sizeof(PROMPTS) / sizeof(PROMPTS[0]))

size_t mcp_prompt_count(void)
{
    return NPROMPTS;
}

const mcp_prompt *mcp_prompt_at(size_t i)
{
    return i < NPROMPTS ? &PROMPTS[i] : NULL;
}

const mcp_prompt *mcp_prompt_find(const char *name)
{
    size_t i;

    for (i = 0; name && i < NPROMPTS; i++)
        if (strcmp(PROMPTS[i].name, name) == 0)
            return &PROMPTS[i];
    return NULL;
}

const char *mcp_prompt_name(const mcp_prompt *p)
{
    return p->name;
}

const char *mcp_prompt_template(const mcp_prompt *p)
{
    return p->text;
}

const mcp_prompt_arg *mcp_prompt_arg_find(const mcp_prompt *p, const char *name)
{
    size_t i;

    for (i = 0; name && i < p->nargs; i++)
        if (strcmp(p->args[i].name, name) == 0)
            return &p->args[i];
    return NULL;
}

json_t *mcp_prompt_describe(const mcp_prompt *p, int with_title)
{
    json_t *args = json_array(), *out;
    size_t i;

    for (i = 0; args && i < p->nargs; i++) {
        json_t *a = json_pack("{s:s, s:s, s:b}", "name", p->args[i].name, "description",
                              p->args[i].description, "required", p->args[i].required);

        if (a && with_title)
            json_object_set_new(a, "title", json_string(p->args[i].title));
        if (!a || json_array_append_new(args, a) != 0) {
            json_decref(args);
            return NULL;
        }
    }
    out = json_pack("{s:s, s:s, s:o}", "name", p->name, "description", p->description, "arguments",
                    args);
    if (out && with_title)
        json_object_set_new(out, "title", json_string(p->title));
    return out;
}

int mcp_prompt_check(const char *name, const json_t *args, const mcp_prompt **out, char *msg,
                     size_t msglen)
{
    const mcp_prompt *p = mcp_prompt_find(name);
    const char *key;
    json_t *v;
    size_t i;

    *out = NULL;
    if (!p) {
        snprintf(msg, msglen,
                 "unknown prompt '%.200s'; prompts/list lists them: orchestrate, review, land, "
                 "resume",
                 name ? name : "");
        return -1;
    }
    if (args && !json_is_object(args)) {
        snprintf(msg, msglen, "prompt '%s': \"arguments\" must be an object of strings", p->name);
        return -1;
    }
    json_object_foreach((json_t *)args, key, v)
    {
        if (!mcp_prompt_arg_find(p, key)) {
            snprintf(msg, msglen, "prompt '%s' has no argument '%.200s' (it takes '%s')", p->name,
                     key, p->args[0].name);
            return -1;
        }
        if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v)) {
            snprintf(msg, msglen, "prompt '%s': argument '%s' must be a string without NUL",
                     p->name, key);
            return -1;
        }
    }
    for (i = 0; i < p->nargs; i++) {
        json_t *v2 = json_object_get(args, p->args[i].name);

        if (p->args[i].required && (!v2 || json_string_length(v2) == 0)) {
            snprintf(msg, msglen, "prompt '%s' needs argument '%s': %s", p->name, p->args[i].name,
                     p->args[i].description);
            return -1;
        }
    }
    *out = p;
    return 0;
}

/* The issues of orchestrate's argument, checked, as "12, 15, bd-a3f8" into b. */
static int issues_text(const char *s, grove_buf *b, grove_err *err)
{
    size_t n = 0;

    while (*s) {
        size_t len = strcspn(s, ", \t\r\n");
        issue_ref ref;

        if (len > 0) {
            char one[66];

            if (len >= sizeof(one))
                return grove_fail(err, GROVE_EINVAL,
                                  "invalid issue '%.64s...' in 'issues': a beads id has at most "
                                  "64 characters",
                                  s);
            memcpy(one, s, len);
            one[len] = '\0';
            if (instance_parse_issue(one, len, &ref, err) != 0) {
                char why[sizeof(err->msg)];

                snprintf(why, sizeof(why), "%s", err->msg);
                return grove_fail(err, GROVE_EINVAL, "'%s' in 'issues': %s", one, why);
            }
            if (++n > MCP_PROMPT_MAX_ISSUES)
                return grove_fail(err, GROVE_EINVAL,
                                  "prompt 'orchestrate' takes at most %d issues at a time",
                                  MCP_PROMPT_MAX_ISSUES);
            if (buf_printf(b, "%s%.*s", n > 1 ? ", " : "", (int)len, s) < 0)
                return grove_nomem(err);
            s += len;
        } else {
            s++;
        }
    }
    if (n == 0)
        return grove_fail(err, GROVE_EINVAL,
                          "prompt 'orchestrate' needs at least one issue in 'issues' (GitHub "
                          "numbers or beads ids, e.g. \"12, 15, bd-a3f8\")");
    return 0;
}

/* What the prompt says about the instance as it is now. */
static int facts_text(struct grove_ctx *ctx, const char *id, grove_buf *b, grove_err *err)
{
    instance_facts f;
    const grove_instance *in = &f.inst;
    int rc = -1;

    if (facts_load(ctx, id, &f, err) != 0) {
        facts_free(&f);
        return -1;
    }
    buf_printf(b,
               "Now: %s instance, %s; agent %s (%s). Branch %s from %s at %s; worktree "
               "%s.\n",
               in->type, in->status, in->agent_profile ? in->agent_profile : "none",
               in->agent_state ? in->agent_state : "none", in->branch_name,
               in->base_branch ? in->base_branch : "(no base)",
               in->base_commit ? in->base_commit : "(unknown commit)", in->worktree_path);
    if (f.has_git)
        buf_printf(b,
                   "Git: head %s, %zu commit%s ahead and %zu behind the base, %zu uncommitted "
                   "path%s.\n",
                   f.head, f.ahead, f.ahead == 1 ? "" : "s", f.behind, f.ndirty,
                   f.ndirty == 1 ? "" : "s");
    else
        buf_printf(b, "Git: its worktree is gone (removed, or never made).\n");
    if (in->landed_commit)
        buf_printf(b, "Landed as %s at %s.\n", in->landed_commit,
                   in->landed_at ? in->landed_at : "?");
    if (f.has_checkpoint)
        buf_printf(b, "Last checkpoint: #%lld, phase '%.200s', %s, at %s%s%.400s.",
                   f.checkpoint.sequence, f.checkpoint.phase, f.checkpoint.status,
                   f.checkpoint.created_at, f.checkpoint.message ? ": " : "",
                   f.checkpoint.message ? f.checkpoint.message : "");
    else
        buf_printf(b, "No checkpoint yet.");
    if (b->data) /* a %.400s may have cut a character in two */
        grove_utf8_sanitize(b->data);
    rc = b->truncated ? grove_nomem(err) : 0;
    facts_free(&f);
    return rc;
}

/* Copies text into out, with {issues}, {id} and {facts} put in. */
static int fill(const char *text, const char *issues, const char *id, const char *facts,
                grove_buf *out)
{
    static const char *const keys[] = {"{issues}", "{id}", "{facts}"};
    const char *vals[] = {issues, id, facts};

    while (*text) {
        const char *open = strchr(text, '{');
        size_t k;

        if (!open)
            return buf_add(out, text, strlen(text)) < 0 ? -1 : 0;
        if (buf_add(out, text, (size_t)(open - text)) < 0)
            return -1;
        for (k = 0; k < 3; k++)
            if (strncmp(open, keys[k], strlen(keys[k])) == 0)
                break;
        if (k < 3) {
            if (buf_add(out, vals[k] ? vals[k] : "", strlen(vals[k] ? vals[k] : "")) < 0)
                return -1;
            text = open + strlen(keys[k]);
        } else {
            if (buf_add(out, "{", 1) < 0)
                return -1;
            text = open + 1;
        }
    }
    return 0;
}

int mcp_prompt_get(const mcp_prompt *p, struct grove_ctx *ctx, const char *unavailable,
                   const json_t *args, json_t **out, grove_err *err)
{
    grove_buf issues = BUF_INIT(4096), facts = BUF_INIT(4096), text = BUF_INIT(16384);
    const char *id = json_string_value(json_object_get(args, "instance_id"));
    const char *list = json_string_value(json_object_get(args, "issues"));
    json_t *msg;
    int rc = -1;

    *out = NULL;
    if (list && issues_text(list, &issues, err) != 0)
        goto done;
    if (id) {
        if (!ctx) {
            grove_fail(err, GROVE_EIO, "%s",
                       unavailable ? unavailable : "grove has no repository open");
            goto done;
        }
        if (facts_text(ctx, id, &facts, err) != 0)
            goto done;
    }
    if (fill(p->text, buf_str(&issues), id, buf_str(&facts), &text) != 0) {
        grove_nomem(err);
        goto done;
    }
    msg = json_pack("{s:s, s:{s:s, s:s}}", "role", "user", "content", "type", "text", "text",
                    buf_str(&text));
    *out = json_pack("{s:s, s:[o]}", "description", p->description, "messages", msg);
    rc = *out ? 0 : grove_nomem(err);
done:
    buf_free(&issues);
    buf_free(&facts);
    buf_free(&text);
    return rc;
}

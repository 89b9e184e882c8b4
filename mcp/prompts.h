/*
 * prompts: the MCP prompts grove offers (CONTRACT §8): orchestrate,
 * review, land and resume, each a user message that walks an agent
 * through grove's tools, with the live facts of the instance it is about.
 * The texts live in prompts.c; the server (server.c) answers prompts/list
 * and prompts/get with what this module makes.
 *
 * Ownership: every json_t * returned is a new reference for the caller;
 * arguments are borrowed.
 */
#ifndef GROVE_MCP_PROMPTS_H
#define GROVE_MCP_PROMPTS_H

#include <stddef.h>

#include <jansson.h>

#include "tools/base/grove.h"

struct grove_ctx;

/* The longest any prompt's own text (without embedded facts) may be. */
#define MCP_PROMPT_TEXT_MAX 2048
/* The most issues orchestrate takes in one call. */
#define MCP_PROMPT_MAX_ISSUES 50

typedef struct mcp_prompt_arg {
    const char *name;
    const char *title;
    const char *description;
    int required;
} mcp_prompt_arg;

typedef struct mcp_prompt mcp_prompt;

/* How many prompts there are, in the order prompts/list shows them. */
size_t mcp_prompt_count(void);

/* Prompt i (i < mcp_prompt_count()); static. */
const mcp_prompt *mcp_prompt_at(size_t i);

/* The prompt called `name`, or NULL. */
const mcp_prompt *mcp_prompt_find(const char *name);

/* Its name (static). */
const char *mcp_prompt_name(const mcp_prompt *p);

/* Its argument called `name`, or NULL. */
const mcp_prompt_arg *mcp_prompt_arg_find(const mcp_prompt *p, const char *name);

/*
 * The prompt as prompts/list shows it: name, description, arguments (each
 * name, description, required) and, when `with_title` (2025-06-18 on),
 * title on the prompt and on each argument. New reference; NULL when out
 * of memory.
 */
json_t *mcp_prompt_describe(const mcp_prompt *p, int with_title);

/*
 * Checks a prompts/get request: `name` is a prompt, and `args` (NULL or
 * an object) has every required argument, no other, each a string without
 * NUL. 0 with *out set, or -1 with `msg` (msglen bytes) saying what is
 * wrong ("unknown prompt 'x'; ..."), for a -32602 error.
 */
int mcp_prompt_check(const char *name, const json_t *args, const mcp_prompt **out, char *msg,
                     size_t msglen);

/*
 * The static text of prompt p (the template, before facts and arguments
 * are put in): what MCP_PROMPT_TEXT_MAX bounds. Static.
 */
const char *mcp_prompt_template(const mcp_prompt *p);

/*
 * The prompts/get result {description, messages} of checked prompt p with
 * `args`. ctx (may be NULL when the repository could not be opened) gives
 * the live facts; a prompt about an instance needs it. 0 with *out set;
 * else -1 with err: GROVE_EINVAL or GROVE_ENOTFOUND for what the client
 * sent (an issue that is no issue, an unknown instance: -32602), anything
 * else for a failure of grove's own (-32603).
 */
int mcp_prompt_get(const mcp_prompt *p, struct grove_ctx *ctx, const char *unavailable,
                   const json_t *args, json_t **out, grove_err *err);

#endif

/*
 * limits: the size caps of contract §5 ("Limits"), defined once for every
 * front-end. Sizes are bytes: a string's UTF-8 bytes, a JSON value's
 * compact serialization (JSON_COMPACT, as it is stored). A refusal is
 * GROVE_EINVAL naming the argument, its size and the limit, e.g.
 * "feedback is 70000 bytes; the limit is 65536 bytes (64 KiB): ...".
 * The core checks them before anything is written (a refused call stores
 * nothing); the front-ends use the event and page numbers.
 */
#ifndef GROVE_CORE_LIMITS_H
#define GROVE_CORE_LIMITS_H

#include <jansson.h>
#include <stddef.h>

#include "tools/base/grove.h"

#define LIMIT_PROMPT_BYTES             ((size_t)1024 * 1024) /* spawn/fork prompt, reviewer_prompt */
#define LIMIT_FEEDBACK_BYTES           ((size_t)64 * 1024)   /* send_feedback text */
#define LIMIT_CHECKPOINT_DATA_BYTES    ((size_t)256 * 1024)  /* checkpoint data, compact JSON */
#define LIMIT_CHECKPOINT_MESSAGE_BYTES ((size_t)64 * 1024)   /* checkpoint message */
/* An event stores an argument value larger than this as a summary (tools/call.c). */
#define LIMIT_EVENT_VALUE_BYTES ((size_t)4096)
/* One page of a list tool's results, as compact JSON (query_instances, query_events). */
#define LIMIT_PAGE_BYTES ((size_t)4 * 1024 * 1024)

/*
 * Whether text (NUL-terminated; NULL passes) is at most `limit` bytes.
 * `what` names it in the refusal ("prompt", "feedback" ...).
 */
int limits_check_text(const char *what, const char *text, size_t limit, grove_err *err);

/*
 * An upper bound of json_dumpb(v, NULL, 0, JSON_COMPACT), found without
 * serialising v: a string takes at most 6 bytes per byte (\u00XX) and its
 * quotes, a number at most LIMIT_JSON_NUMBER_BYTES. SIZE_MAX when v nests
 * deeper than 2048 levels (or contains itself): the caller then serialises. Checks that only need
 * to know that a value is small use it before serialising (issue 17).
 */
#define LIMIT_JSON_NUMBER_BYTES 32
size_t limits_json_bound(const json_t *v);

/* Whether a checkpoint's data (NULL passes) and message (NULL passes) are within their limits. */
int limits_check_checkpoint(const json_t *data, const char *message, grove_err *err);

#endif

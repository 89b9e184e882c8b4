/* limits: the size caps of contract §5 (see limits.h). */
#include "tools/core/limits.h"

#include <string.h>

/* The refusal: what, its size, the limit in bytes and in KiB or MiB. */
static int refuse(const char *what, size_t bytes, size_t limit, const char *how, grove_err *err)
{
    const char *unit = limit % (1024 * 1024) == 0 ? "MiB" : "KiB";
    size_t n = limit / (limit % (1024 * 1024) == 0 ? 1024 * 1024 : 1024);

    return grove_fail(err, GROVE_EINVAL, "%s is %zu bytes; the limit is %zu bytes (%zu %s): %s",
                      what, bytes, limit, n, unit, how);
}

int limits_check_text(const char *what, const char *text, size_t limit, grove_err *err)
{
    size_t n = text ? strlen(text) : 0;

    if (n <= limit)
        return 0;
    return refuse(what, n, limit, "shorten it, or put the long part in a file and name the file",
                  err);
}

int limits_check_checkpoint(const json_t *data, const char *message, grove_err *err)
{
    /* json_dumpb() with no buffer returns the size the serialization needs and writes nothing. */
    size_t n = data ? json_dumpb(data, NULL, 0, JSON_COMPACT) : 0;

    if (n > LIMIT_CHECKPOINT_DATA_BYTES)
        return refuse("checkpoint data", n, LIMIT_CHECKPOINT_DATA_BYTES,
                      "keep large state in a file in the worktree and record its path", err);
    return limits_check_text("checkpoint message", message, LIMIT_CHECKPOINT_MESSAGE_BYTES, err);
}

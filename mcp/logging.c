#include "mcp/logging.h"

#include <string.h>

static const char *const LEVELS[] = {"debug", "info",     "notice", "warning",
                                     "error", "critical", "alert",  "emergency"};

int mcp_log_level_parse(const char *name)
{
    int i;

    for (i = 0; name && i < 8; i++)
        if (strcmp(LEVELS[i], name) == 0)
            return i;
    return -1;
}

const char *mcp_log_level_name(int level)
{
    return level >= 0 && level < 8 ? LEVELS[level] : NULL;
}

int mcp_log_admit(mcp_log_limiter *l, long long now_ms, int level, unsigned *note, int *note_level)
{
    *note = 0;
    *note_level = 0;
    if (l->sent == 0 || now_ms - l->window_ms >= 1000 || now_ms < l->window_ms) {
        l->window_ms = now_ms;
        l->sent = 0;
    }
    if (l->sent >= MCP_LOG_RATE) {
        if (l->suppressed == 0 || level > l->suppressed_level)
            l->suppressed_level = level;
        l->suppressed++;
        return 0;
    }
    l->sent++;
    if (l->suppressed) {
        *note = l->suppressed;
        *note_level = l->suppressed_level;
        l->suppressed = 0;
    }
    return 1;
}

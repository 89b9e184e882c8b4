#include "mcp/subs.h"

#include <stdlib.h>
#include <string.h>

mcp_sub *mcp_subs_find(mcp_subs *w, const char *uri)
{
    size_t i;

    for (i = 0; i < w->nsubs; i++)
        if (strcmp(w->subs[i].uri, uri) == 0)
            return &w->subs[i];
    return NULL;
}

int mcp_subs_add(mcp_subs *w, const char *uri, char *version, int *full)
{
    mcp_sub *sub = mcp_subs_find(w, uri);

    *full = 0;
    if (sub) {
        free(sub->version);
        sub->version = version;
        return 0;
    }
    if (w->nsubs == MCP_MAX_SUBS) {
        *full = 1;
        free(version);
        return -1;
    }
    if (w->nsubs == w->capsubs) {
        size_t cap = w->capsubs ? w->capsubs * 2 : 8;
        mcp_sub *n = realloc(w->subs, cap * sizeof(*n));

        if (!n) {
            free(version);
            return -1;
        }
        w->subs = n;
        w->capsubs = cap;
    }
    if (!(w->subs[w->nsubs].uri = strdup(uri))) {
        free(version);
        return -1;
    }
    w->subs[w->nsubs++].version = version;
    return 0;
}

void mcp_subs_remove(mcp_subs *w, const char *uri)
{
    mcp_sub *sub = mcp_subs_find(w, uri);

    if (!sub)
        return;
    free(sub->uri);
    free(sub->version);
    *sub = w->subs[--w->nsubs];
}

void mcp_subs_clear(mcp_subs *w)
{
    size_t i;

    for (i = 0; i < w->nsubs; i++) {
        free(w->subs[i].uri);
        free(w->subs[i].version);
    }
    free(w->subs);
    free(w->list_seen);
    json_decref(w->id);
    memset(w, 0, sizeof(*w));
}

/*
 * subs: what one subscriber watches (CONTRACT §8). A subscriber is the
 * earlier era's connection (resources/subscribe) or one 2026-07-28
 * subscriptions/listen stream: the resource URIs it asked for, each with the
 * version of its content it last saw, and whether it watches the list of
 * resources. Pure bookkeeping: the server computes versions and sends.
 */
#ifndef GROVE_MCP_SUBS_H
#define GROVE_MCP_SUBS_H

#include <stddef.h>

#include <jansson.h>

/* The most URIs one subscriber watches. */
#define MCP_MAX_SUBS 1000

/* One subscribed URI and what its content was when last looked at. */
typedef struct mcp_sub {
    char *uri;     /* owned */
    char *version; /* owned; NULL: unknown (it named nothing then) */
} mcp_sub;

typedef struct mcp_subs {
    json_t *id;      /* owned: the subscriptions/listen request's id; NULL for the earlier era */
    int list;        /* 1: list_changed is wanted */
    char *list_seen; /* owned: the list's version last seen; NULL: not yet */
    mcp_sub *subs;   /* owned */
    size_t nsubs, capsubs;
} mcp_subs;

/* The entry for uri, or NULL. */
mcp_sub *mcp_subs_find(mcp_subs *w, const char *uri);

/*
 * Watches uri from now on with `version` (taken, even on failure). An URI
 * already watched gets the new version. 0, or -1: out of memory or
 * MCP_MAX_SUBS reached (*full set).
 */
int mcp_subs_add(mcp_subs *w, const char *uri, char *version, int *full);

/* Stops watching uri (nothing when it is not watched). */
void mcp_subs_remove(mcp_subs *w, const char *uri);

/* Frees what w owns and zeroes it (w itself is the caller's). */
void mcp_subs_clear(mcp_subs *w);

#endif

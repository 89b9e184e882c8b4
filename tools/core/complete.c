#include "tools/core/complete.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "tools/agents/profile.h"
#include "tools/git/git.h"

int complete_add(grove_name_list *list, size_t max, const char *name, grove_err *err)
{
    char **v;

    list->total++;
    if (list->n >= max)
        return 0;
    v = realloc(list->v, (list->n + 1) * sizeof(*v));
    if (!v)
        return grove_nomem(err);
    list->v = v;
    if (!(list->v[list->n] = strdup(name)))
        return grove_nomem(err);
    list->n++;
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Adds the names of v[0..n) that start with prefix, sorted and unique (sorts v in place). */
static int add_sorted(grove_name_list *out, size_t max, const char *prefix, const char **v,
                      size_t n, grove_err *err)
{
    size_t i, plen = strlen(prefix);

    if (n == 0)
        return 0; /* v may be NULL then (qsort must not get NULL) */
    qsort(v, n, sizeof(*v), by_name);
    for (i = 0; i < n; i++) {
        if (strncmp(v[i], prefix, plen) != 0 || (i > 0 && strcmp(v[i], v[i - 1]) == 0))
            continue;
        if (complete_add(out, max, v[i], err) != 0)
            return -1;
    }
    return 0;
}

int complete_instance_ids(grove_ctx *ctx, const char *prefix, size_t max, grove_name_list *out,
                          grove_err *err)
{
    return db_instance_ids_with_prefix(ctx->db, prefix, max, out, err);
}

int complete_profiles(grove_ctx *ctx, const char *prefix, size_t max, grove_name_list *out,
                      grove_err *err)
{
    char *profiles = ctx_setting(ctx, NULL, "agent.profiles");
    json_t *obj = profiles ? json_loads(profiles, 0, NULL) : NULL;
    const char **names = NULL;
    const char *key;
    json_t *value;
    size_t n = 0, i, nbuiltin = 0;
    int rc = -1;

    memset(out, 0, sizeof(*out));
    while (PROFILE_BUILTIN[nbuiltin])
        nbuiltin++;
    names = calloc(json_object_size(obj) + nbuiltin + 1, sizeof(*names));
    if (!names) {
        grove_nomem(err);
        goto done;
    }
    for (i = 0; PROFILE_BUILTIN[i]; i++)
        names[n++] = PROFILE_BUILTIN[i];
    /* A broken agent.profiles completes to the built-ins: spawning reports what is wrong. */
    json_object_foreach(obj, key, value)
    {
        if (json_is_object(value))
            names[n++] = key;
    }
    rc = add_sorted(out, max, prefix, names, n, err);
done:
    if (rc != 0)
        db_name_list_free(out);
    free(names);
    json_decref(obj);
    free(profiles);
    return rc;
}

int complete_branches(grove_ctx *ctx, const char *prefix, size_t max, grove_name_list *out,
                      grove_err *err)
{
    char **branches = NULL;
    size_t n = 0;
    int rc;

    memset(out, 0, sizeof(*out));
    if (gitops_branch_list(ctx->repo, prefix, &branches, &n, err) != 0)
        return -1;
    rc = add_sorted(out, max, prefix, (const char **)branches, n, err);
    gitops_branch_list_free(branches, n);
    if (rc != 0)
        db_name_list_free(out);
    return rc;
}

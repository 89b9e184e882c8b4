#include "tools/core/complete.h"

#include <ctype.h>
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

/* 1 when `name` is an item of the list head[0..len) (items separated by commas and spaces). */
static int listed(const char *head, size_t len, const char *name)
{
    size_t i = 0, n = strlen(name);

    while (i < len) {
        size_t j;

        while (i < len && (head[i] == ',' || isspace((unsigned char)head[i])))
            i++;
        for (j = i; j < len && head[j] != ',' && !isspace((unsigned char)head[j]); j++)
            ;
        if (j - i == n && memcmp(head + i, name, n) == 0)
            return 1;
        i = j;
    }
    return 0;
}

int complete_issues(grove_ctx *ctx, const char *value, size_t max, grove_name_list *out,
                    grove_err *err)
{
    size_t cut = strlen(value), i;
    grove_name_list found = {0};
    int rc = 0;

    memset(out, 0, sizeof(*out));
    while (cut > 0 && value[cut - 1] != ',' && !isspace((unsigned char)value[cut - 1]))
        cut--;
    /* ask for more than max: the items already listed are left out below */
    if (db_issues_with_prefix(ctx->db, value + cut, max + 64, &found, err) != 0)
        return -1;
    for (i = 0; rc == 0 && i < found.n; i++) {
        size_t n = strlen(found.v[i]);
        char *whole; /* owned here: the list with its last item completed */

        if (listed(value, cut, found.v[i])) {
            found.total--;
            continue;
        }
        if (!(whole = malloc(cut + n + 1))) {
            rc = grove_nomem(err);
            break;
        }
        memcpy(whole, value, cut);
        memcpy(whole + cut, found.v[i], n + 1);
        rc = complete_add(out, max, whole, err);
        free(whole);
    }
    /* matches past what was asked for are counted, not listed */
    if (rc == 0 && found.total > out->total)
        out->total = found.total;
    db_name_list_free(&found);
    if (rc != 0)
        db_name_list_free(out);
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

/* beads: extension mode beside the beads issue tracker (see tools/core/beads.h). */
#include "tools/core/beads.h"

#include <stdlib.h>
#include <string.h>

#include "db/beads.h"

/* Races lost in a row before a ready spawn gives up (each loss means another spawn won). */
#define READY_ATTEMPTS 16

int beads_ready_requested(grove_ctx *ctx, const char *issue)
{
    grove_err err = GROVE_ERR_INIT;

    if (!issue || strcmp(issue, "ready") != 0 || !ctx || !ctx->db)
        return 0;
    return db_beads_mode(ctx->db, &err) > 0;
}

/* Parses a picked beads id into spec->issue (it must be usable in ids and branch names). */
static int set_issue(instance_spec *spec, const char *id, grove_err *err)
{
    grove_err perr = GROVE_ERR_INIT;

    if (instance_parse_issue(id, strlen(id), &spec->issue, &perr) != 0 || !spec->issue.beads[0])
        return grove_fail(err, GROVE_EINVAL,
                          "the next ready beads issue '%.80s' has an id grove cannot use in an "
                          "instance id or branch name (letters, digits, '.', '_', '-', not only "
                          "digits); spawn another issue by its id",
                          id);
    return 0;
}

int beads_spawn_ready(grove_ctx *ctx, instance_spec *spec, const grove_progress *p,
                      instance_created *out, grove_err *err)
{
    int attempt;

    memset(out, 0, sizeof(*out));
    if (!db_beads_attached(ctx->db))
        return grove_fail(err, GROVE_ESCHEMA,
                          "issue 'ready' is off: beads' tables beside grove's do not have the "
                          "columns grove reads (see grove's log at startup); pass an issue id");
    for (attempt = 0; attempt < READY_ATTEMPTS; attempt++) {
        grove_err ignored = GROVE_ERR_INIT;
        char *id = NULL;
        int rc, ready;

        if (db_beads_next_ready(ctx->db, &id, err) != 0)
            return -1;
        if (!id)
            return grove_fail(err, GROVE_ENOTFOUND,
                              "no ready beads issue: every open issue is assigned, blocked by "
                              "another open issue, or held by a running grove instance; pass an "
                              "issue id, or wait for one to finish");
        if (set_issue(spec, id, err) != 0 || db_beads_claim(ctx->db, id, err) != 0) {
            free(id);
            return -1;
        }
        /*
         * The instance's insert re-checks readiness and links it, in one
         * transaction. Progress must grow: only the first attempt reports it.
         */
        rc = instance_create(ctx, spec, attempt == 0 ? p : NULL, out, err);
        db_beads_claim(ctx->db, NULL, &ignored);
        if (rc == 0) {
            log_info("claimed beads issue '%s'", id);
            free(id);
            return 0;
        }
        ready = db_beads_is_ready(ctx->db, id, &ignored);
        if (ready != 0) {
            free(id); /* still ready (or unknown): the failure was something else */
            return -1;
        }
        log_info("beads issue '%s' was claimed by another instance meanwhile; taking the next "
                 "one",
                 id);
        free(id);
    }
    return grove_fail(err, GROVE_ECONFLICT,
                      "other grove instances claimed %d ready beads issues in a row before this "
                      "spawn could; try again",
                      READY_ATTEMPTS);
}

/* land: landing an instance's branch into a target branch (see tools/core/land.h). */
#include "tools/core/land.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/queries.h"
#include "tools/base/buf.h"
#include "tools/core/feedback.h"
#include "tools/core/rights.h"
#include "tools/core/terminate.h"

#define LAND_STEPS      5
#define SUBJECT_MAX     72        /* the squash commit's first line, at most */
#define PROMPT_BODY_MAX 2000      /* bytes of the prompt in a squash message */
#define CHECKPOINTS_MAX 50        /* checkpoints listed in a squash message */
#define MESSAGE_MAX     (1 << 20) /* a made-up message, at most */

void land_result_free(land_result *r)
{
    size_t i;

    if (!r)
        return;
    free(r->into);
    gitops_land_paths_free(r->conflicts, r->nconflicts);
    for (i = 0; i < r->nnow; i++) {
        free(r->now[i].instance_id);
        gitops_land_paths_free(r->now[i].files, r->now[i].nfiles);
    }
    free(r->now);
    db_instance_free(&r->instance);
    memset(r, 0, sizeof(*r));
}

/* The strategy named `s` (NULL: squash) into *out, and its static name. */
static int strategy_parse(const char *s, gitops_land_strategy *out, const char **name,
                          grove_err *err)
{
    static const struct {
        const char *name;
        gitops_land_strategy v;
    } table[] = {{"squash", GITOPS_LAND_SQUASH},
                 {"merge", GITOPS_LAND_MERGE},
                 {"rebase", GITOPS_LAND_REBASE},
                 {"fast_forward", GITOPS_LAND_FAST_FORWARD}};
    size_t i;

    for (i = 0; i < sizeof(table) / sizeof(table[0]); i++)
        if (!s || strcmp(s, table[i].name) == 0) {
            *out = table[i].v;
            *name = table[i].name;
            return 0;
        }
    return grove_fail(err, GROVE_EINVAL,
                      "unknown strategy '%s': use squash, merge, rebase or fast_forward", s);
}

/* A setting that is on unless it says "false" (or 0, no, off). */
static int setting_on(grove_ctx *ctx, const char *key)
{
    char *v = ctx_setting(ctx, NULL, key); /* owned */
    int on = !v || !(strcmp(v, "false") == 0 || strcmp(v, "0") == 0 || strcmp(v, "no") == 0 ||
                     strcmp(v, "off") == 0);

    free(v);
    return on;
}

/* Appends the first line of `s` (at most max bytes, blanks collapsed) to b. */
static int add_line(grove_buf *b, const char *s, size_t max)
{
    size_t used = 0;
    int space = 0;

    while (*s && isspace((unsigned char)*s))
        s++;
    for (; *s && *s != '\n' && used < max; s++) {
        if (isspace((unsigned char)*s)) {
            space = 1;
            continue;
        }
        if (space && buf_add(b, " ", 1) < 0)
            return -1;
        used += space;
        space = 0;
        if (buf_add(b, s, 1) < 0)
            return -1;
        used++;
    }
    return 0;
}

/*
 * The squash commit's message when none is given: the prompt's first line
 * as the subject (cut at a word, at most 72 bytes), the prompt, the
 * checkpoints one line each, and where it came from. Malloc'd.
 */
static char *squash_message(grove_ctx *ctx, const grove_instance *inst, const char *head)
{
    grove_buf b = BUF_INIT(MESSAGE_MAX), subject = BUF_INIT(4096);
    grove_checkpoint *cps = NULL; /* owned */
    grove_err ignore = GROVE_ERR_INIT;
    const char *prompt = inst->prompt && *inst->prompt ? inst->prompt : NULL;
    char *out = NULL;
    size_t ncps = 0, i;
    int truncated = 0;

    if (prompt && add_line(&subject, prompt, 4000) < 0)
        goto done;
    if (subject.len == 0 && buf_printf(&subject, "Land %s", inst->id) < 0)
        goto done;
    if (subject.len > SUBJECT_MAX) {
        size_t cut = SUBJECT_MAX - 3;

        truncated = 1;

        while (cut > 20 && subject.data[cut] != ' ')
            cut--;
        /* Never in the middle of a UTF-8 sequence. */
        while (cut > 0 && ((unsigned char)subject.data[cut] & 0xC0) == 0x80)
            cut--;
        subject.data[cut] = '\0';
        subject.len = cut;
        if (buf_add(&subject, "...", 3) < 0)
            goto done;
    }
    if (buf_printf(&b, "%s\n", buf_str(&subject)) < 0)
        goto done;
    if (prompt) {
        /* The rest of the prompt; all of it when the subject had to be cut. */
        const char *rest = truncated ? prompt : strchr(prompt, '\n');
        size_t n;

        while (rest && *rest && isspace((unsigned char)*rest))
            rest++;
        n = rest ? strlen(rest) : 0;
        while (n > 0 && isspace((unsigned char)rest[n - 1]))
            n--;
        if (n && buf_printf(&b, "\n%.*s%s\n", (int)(n > PROMPT_BODY_MAX ? PROMPT_BODY_MAX : n),
                            rest, n > PROMPT_BODY_MAX ? "\n[...]" : "") < 0)
            goto done;
    }
    if (db_checkpoint_list(ctx->db, inst->id, CHECKPOINTS_MAX, &cps, &ncps, &ignore) == 0 &&
        ncps > 0) {
        if (buf_printf(&b, "\nCheckpoints:\n") < 0)
            goto done;
        for (i = 0; i < ncps; i++) {
            if (buf_printf(&b, "- %s%s%s (%s)", cps[i].phase, cps[i].name ? "/" : "",
                           cps[i].name ? cps[i].name : "", cps[i].status) < 0)
                goto done;
            if (cps[i].message && *cps[i].message &&
                (buf_add(&b, ": ", 2) < 0 || add_line(&b, cps[i].message, 200) < 0))
                goto done;
            if (buf_add(&b, "\n", 1) < 0)
                goto done;
        }
    }
    if (buf_printf(&b, "\nLanded by grove from %s (%s at %.12s).\n", inst->id,
                   inst->branch_name ? inst->branch_name : "?", head) < 0)
        goto done;
    out = buf_take(&b);
done:
    for (i = 0; i < ncps; i++)
        db_checkpoint_free(&cps[i]);
    free(cps);
    buf_free(&subject);
    buf_free(&b);
    return out;
}

/*
 * The review gate (CONTRACT §5): an agent server lands only a head that a
 * review instance of `inst` reviewed and then approved.
 */
static int land_check_review(grove_ctx *ctx, const grove_instance *inst, const char *head,
                             grove_err *err)
{
    int approved = 0;

    if (!ctx->caller_id || !setting_on(ctx, "land.require_review"))
        return 0;
    if (db_review_approved(ctx->db, inst->id, head, &approved, err) != 0)
        return -1;
    if (approved)
        return 0;
    return grove_fail(err, GROVE_EDENIED,
                      "refused by the review rule: an agent may land only a head that was "
                      "reviewed and approved, and the head %.12s of '%s' has no approval; "
                      "spawn_review_instance of '%s' at this head, then have that reviewer "
                      "send_feedback of type approved to '%s' (or the operator lands it, or "
                      "config land.require_review is set to false)",
                      head, inst->id, inst->id, inst->id);
}

/*
 * now_conflicting: the running instances other than `self` whose branch
 * heads conflict with `target`; each with a live agent is told (unless
 * `notify` is 0) with needs_work feedback to sync.
 */
static int land_now_conflicting(grove_ctx *ctx, const char *self, const char *into,
                                const char *target, int notify, land_result *out, grove_err *err)
{
    grove_instance_list rows = {0};
    gitops_conflicts *cs = NULL; /* owned: closed below */
    size_t i;
    int rc = -1;

    if (instance_list_all(ctx, "running", &rows, err) != 0 ||
        gitops_conflicts_open(ctx->repo, &cs, err) != 0)
        goto done;
    for (i = 0; i < rows.n; i++) {
        const grove_instance *v = &rows.v[i];
        char head[41], **files = NULL, list[1024];
        size_t nfiles = 0;
        grove_err gerr = GROVE_ERR_INIT;
        land_conflict *grown;

        /* an instance whose work landed already has nothing to sync */
        if (strcmp(v->id, self) == 0 || !v->branch_name || v->landed_commit ||
            gitops_branch_head(ctx->repo, v->branch_name, head, &gerr) != 0)
            continue;
        {
            gitops_merge_check mc = {0};

            /* get_conflicts' pairwise check, in memory: nothing on disk changes */
            if (gitops_conflicts_check(cs, target, head, &mc, &gerr) != 0) {
                log_warn("land: cannot check '%s' for conflicts: %s", v->id, gerr.msg);
                continue;
            }
            files = mc.conflicting.v; /* moves into out->now below, or freed */
            nfiles = mc.conflicting.n;
            mc.conflicting.v = NULL;
            mc.conflicting.n = 0;
            gitops_merge_check_free(&mc);
        }
        if (!nfiles)
            continue;
        if (!(grown = realloc(out->now, (out->nnow + 1) * sizeof(*grown)))) {
            gitops_land_paths_free(files, nfiles);
            grove_nomem(err);
            goto done;
        }
        out->now = grown;
        grown[out->nnow].files = files;
        grown[out->nnow].nfiles = nfiles;
        if (!(grown[out->nnow].instance_id = grove_strdup(v->id))) {
            gitops_land_paths_free(files, nfiles);
            grove_nomem(err);
            goto done;
        }
        out->nnow++;
        if (notify && v->session_name) {
            feedback_opts fo = {0};
            feedback_result fr = {0};
            char *text;

            grove_list_text(files, nfiles, 8, list, sizeof(list));
            text = grove_asprintf("'%s' was landed into '%s' (now %.12s), and your branch now "
                                  "conflicts with it in: %s. Run sync_instance to bring your "
                                  "branch onto the new '%s' and resolve the conflicts.",
                                  self, into, target, list, into);
            fo.to = v->id;
            fo.type = "needs_work";
            fo.priority = "high";
            fo.text = text;
            fo.grove_notice = 1; /* grove's notice of the land, to anyone it concerns */
            if (!text || feedback_send(ctx, &fo, &fr, &gerr) != 0)
                log_warn("land: could not tell '%s' about its conflicts: %s", v->id,
                         text ? gerr.msg : "out of memory");
            feedback_result_free(&fr);
            free(text);
        }
    }
    rc = 0;
done:
    gitops_conflicts_close(cs);
    db_instance_list_free(&rows);
    return rc;
}

/* The instance's worktree has no uncommitted changes: only commits are landed. */
static int instance_clean(const grove_instance *inst, grove_err *err)
{
    gitops_state st = {0};
    char files[1024];
    int rc = -1;

    if (gitops_worktree_state(inst->worktree_path, NULL, &st, err) != 0) {
        if (err->code == GROVE_ENOTFOUND)
            grove_fail(err, GROVE_ENOTFOUND,
                       "cannot land '%s': its worktree '%s' is gone ('grove gc' tidies up)",
                       inst->id, inst->worktree_path);
        goto done;
    }
    if (st.ndirty > 0) {
        grove_list_text(st.dirty_files, st.ndirty, 8, files, sizeof(files));
        grove_fail(err, GROVE_ECONFLICT,
                   "cannot land '%s': its worktree has uncommitted changes: %s; commit them "
                   "(or remove them) first: only commits are landed",
                   inst->id, files);
        goto done;
    }
    rc = 0;
done:
    gitops_state_free(&st);
    return rc;
}

/*
 * The instance's clean check when it waits for the move (see land_instance()):
 * run by gitops_land_move() on its second thread, or here when the land
 * stops before the move.
 */
typedef struct deferred_check {
    const grove_instance *inst;
    int ran;
} deferred_check;

static int deferred_run(void *arg, grove_err *err)
{
    deferred_check *d = arg;

    d->ran = 1;
    return instance_clean(d->inst, err);
}

/* Kill points between the steps of the move (tests/stress/land_crash.py). */
static void land_stage(void *arg, const char *stage)
{
    char name[96];

    (void)arg;
    snprintf(name, sizeof(name), "land_instance:%s", stage);
    instance_kill_point(name);
}

int land_recover(grove_ctx *ctx, const char *into, size_t *finished, grove_err *err)
{
    gitops_land_recovered *v = NULL; /* owned */
    size_t n = 0, i;

    if (finished)
        *finished = 0;
    if (gitops_land_recover(ctx->repo, into, &v, &n, err) != 0)
        return -1;
    for (i = 0; i < n; i++) {
        grove_err rerr = GROVE_ERR_INIT;

        if (v[i].note)
            log_warn("an interrupted land into '%s' moved it, but its checkout was not "
                     "updated: %s",
                     v[i].into, v[i].note);
        if (v[i].landed && v[i].tag[0] &&
            db_instance_set_landed(ctx->db, v[i].tag, v[i].new_into, &rerr) != 0)
            log_warn("cannot record the land of '%s': %s", v[i].tag, rerr.msg);
    }
    if (finished)
        *finished = n;
    gitops_land_recovered_free(v, n);
    return 0;
}

typedef struct landed_arg {
    const char *id;
    const char *commit;
} landed_arg;

/* db_txn body: records the landed commit of the instance. */
static int set_landed_fn(grove_db *db, void *arg, grove_err *err)
{
    const landed_arg *a = arg;

    return db_instance_set_landed(db, a->id, a->commit, err);
}

int land_instance(grove_ctx *ctx, const char *id, const land_opts *o, land_result *out,
                  const grove_progress *p, grove_err *err)
{
    grove_instance inst = {0};
    deferred_check dc = {NULL, 0};
    gitops_land_spec spec = {0};
    gitops_land_result res = {0};
    gitops_land_move_spec mv = {0};
    char *checkout = NULL; /* owned: the worktree that has the target checked out */
    char *message = NULL;  /* owned: the made-up message */
    char *label = NULL;    /* owned */
    char head[41], sha[41];
    int attempt, raced = 0, rc = -1;

    memset(out, 0, sizeof(*out));
    if (strategy_parse(o->strategy, &spec.strategy, &out->strategy, err) != 0 ||
        instance_load(ctx, id, &inst, err) != 0 || rights_require(ctx, RIGHTS_CHANGE, id, err) != 0)
        goto done;
    grove_progress_step(p, 1, LAND_STEPS, "started");
    if (grove_progress_check(p, err) != 0)
        goto done;
    if (o->into) {
        out->into = grove_strdup(o->into);
    } else if (inst.base_branch) {
        out->into = grove_strdup(inst.base_branch);
    } else {
        grove_fail(err, GROVE_EINVAL, "instance '%s' has no base branch: pass into", id);
        goto done;
    }
    if (!out->into || !(label = grove_strdup(id))) {
        grove_nomem(err);
        goto done;
    }
    if (!gitops_branch_name_valid(out->into)) {
        grove_fail(err, GROVE_EINVAL, "'%s' is not a valid branch name", out->into);
        goto done;
    }
    if (gitops_branch_head(ctx->repo, out->into, sha, err) != 0) {
        if (err->code != GROVE_ENOTFOUND)
            goto done;
        if (o->into)
            grove_fail(err, GROVE_ENOTFOUND,
                       "cannot land '%s': the target branch '%s' does not exist; pass an "
                       "existing local branch as into",
                       id, out->into);
        else
            grove_fail(err, GROVE_ENOTFOUND,
                       "cannot land '%s': its base branch '%s' was deleted since it was "
                       "spawned; pass into to name the branch to land into",
                       id, out->into);
        goto done;
    }
    /*
     * The instance: committed work only. A real land checks its worktree
     * under the repo lock, at the same time as the target's checkout
     * (gitops_land_move() runs it on a second thread: each is a scan of a
     * whole worktree); if the land stops before that, it is checked on the
     * way out and its refusal wins, as if it had come first.
     */
    dc.inst = &inst;
    if (o->dry_run && deferred_run(&dc, err) != 0)
        goto done;
    if (gitops_branch_head(ctx->repo, inst.branch_name, head, err) != 0)
        goto done;
    if (land_check_review(ctx, &inst, head, err) != 0)
        goto done;
    /* A land into this target that a killed process left is finished first. */
    if (!o->dry_run && land_recover(ctx, out->into, NULL, err) != 0)
        goto done;
    /*
     * The checkout of the target must be clean. A real land checks it under
     * the repository lock (gitops_land_move()): here, outside it, another
     * land may be between its ref move and its checkout update, which looks
     * like uncommitted changes for a moment. A dry run checks it here.
     */
    if (gitops_branch_checkout_path(ctx->repo, out->into, &checkout, err) != 0 ||
        (checkout && o->dry_run && gitops_land_check_checkout(checkout, out->into, err) != 0))
        goto done;
    spec.into = out->into;
    spec.head = head;
    spec.label = label;
    if (o->message) {
        spec.message = o->message;
    } else if (spec.strategy == GITOPS_LAND_SQUASH) {
        if (!(message = squash_message(ctx, &inst, head))) {
            grove_nomem(err);
            goto done;
        }
        spec.message = message;
    } else {
        if (!(message = grove_asprintf("Merge branch '%s' into %s", inst.branch_name, out->into))) {
            grove_nomem(err);
            goto done;
        }
        spec.message = message;
    }
    for (attempt = 0; attempt < 2; attempt++) {
        gitops_land_result_free(&res);
        if (gitops_land_compute(ctx->repo, &spec, &res, err) != 0)
            goto done;
        memcpy(out->old_into, res.old_into, sizeof(out->old_into));
        memcpy(out->new_into, res.new_into, sizeof(out->new_into));
        grove_progress_step(p, 2, LAND_STEPS, "computed");
        /* safe point: computed in memory, nothing moved yet (the new objects are unreferenced) */
        if (grove_progress_check(p, err) != 0)
            goto done;
        if (res.nconflicts) {
            out->conflicts = res.conflicts;
            out->nconflicts = res.nconflicts;
            res.conflicts = NULL;
            res.nconflicts = 0;
            break;
        }
        if (o->dry_run)
            break;
        mv.into = out->into;
        mv.old_into = res.old_into;
        mv.new_into = res.new_into;
        mv.checkout = checkout;
        mv.tag = id;
        mv.stage = land_stage;
        mv.check = deferred_run;
        mv.check_arg = &dc;
        if (gitops_land_move(ctx->repo, &mv, &raced, err) == 0) {
            out->landed = 1;
            break;
        }
        if (!raced)
            goto done;
        if (attempt == 1) {
            grove_fail(err, GROVE_ECONFLICT,
                       "cannot land '%s': '%s' moved while the land was computed, twice (another "
                       "land or a push into it); nothing was changed: land again",
                       id, out->into);
            goto done;
        }
        *err = (grove_err)GROVE_ERR_INIT;
    }
    /* A conflict is reported only for an instance that would land. */
    if (!dc.ran && deferred_run(&dc, err) != 0)
        goto done;
    grove_progress_step(p, 3, LAND_STEPS, out->landed ? "landed" : "computed, nothing moved");
    if (out->landed) {
        grove_err rerr = GROVE_ERR_INIT;

        landed_arg la = {id, out->new_into};

        /* Through o->txn with the call's event; should that fail, on its own. */
        if ((!o->txn || o->txn(o->txn_arg, set_landed_fn, &la, &rerr) != 0) &&
            db_txn(ctx->db, set_landed_fn, &la, &rerr) != 0)
            log_warn("landed '%s' into '%s' as %.12s, but could not record it: %s", id, out->into,
                     out->new_into, rerr.msg);
        instance_kill_point("land_instance:recorded");
    }
    if (!out->nconflicts &&
        land_now_conflicting(ctx, id, out->into, out->new_into,
                             !o->dry_run && out->landed && setting_on(ctx, "land.notify_conflicts"),
                             out, err) != 0)
        goto done;
    grove_progress_step(p, 4, LAND_STEPS, "checked the other instances");
    if (out->landed && o->remove_worktree) {
        terminate_opts to = {0};
        terminate_result tr = {0};
        grove_err terr = GROVE_ERR_INIT;

        to.remove_worktree = 1;
        to.merged_head = head; /* its content is in the target now */
        if (terminate_instance(ctx, id, &to, &tr, NULL, &terr) == 0)
            out->worktree_removed = tr.worktree_removed;
        else
            log_warn("landed '%s', but its worktree was not removed: %s", id, terr.msg);
        terminate_result_free(&tr);
    }
    if (instance_load(ctx, id, &out->instance, err) != 0)
        goto done;
    grove_progress_step(p, LAND_STEPS, LAND_STEPS, "done");
    rc = 0;
done:
    /* Stopped before the instance's check (not cancelled): an uncommitted change is said first. */
    if (rc != 0 && dc.inst && !dc.ran && err->code != GROVE_ECANCELED) {
        grove_err ierr = GROVE_ERR_INIT;

        if (deferred_run(&dc, &ierr) != 0)
            *err = ierr;
    }
    if (rc != 0)
        land_result_free(out);
    gitops_land_result_free(&res);
    db_instance_free(&inst);
    free(checkout);
    free(message);
    free(label);
    return rc;
}

/* push: remotes as their configuration describes them, and pushing a branch. */
#include "tools/git/git_internal.h"

#include "tools/base/url.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- remotes and push -------------------------------------------------- */

#define PUSH_CRED_TRIES 3    /* credential callbacks before we stop libgit2's retry loop */
#define PUSH_REMOTE_MSG 2048 /* bytes of the remote's sideband messages kept */

/*
 * A remote as its configuration describes it. Read from the config
 * directly rather than with git_remote_lookup(): in libgit2 1.5.1 every
 * remote lookup or creation that applies url.<base>.insteadOf scans the
 * configuration with a regex and leaks pcre2 match data for each entry
 * that does not match (git_regexp_match). So insteadOf/pushInsteadOf are
 * applied here, as git does.
 */
typedef struct remote_conf {
    char *url;      /* remote.<name>.url after insteadOf */
    char *push_url; /* pushurl after insteadOf, else url after pushInsteadOf, else url */
    char **fetch;   /* remote.<name>.fetch refspecs */
    size_t nfetch;
} remote_conf;

static void remote_conf_free(remote_conf *rc)
{
    size_t i;

    free(rc->url);
    free(rc->push_url);
    for (i = 0; i < rc->nfetch; i++)
        free(rc->fetch[i]);
    free(rc->fetch);
    memset(rc, 0, sizeof(*rc));
}

/* Longest url.<base>.<suffix> prefix of `url`: the rewrite. */
typedef struct insteadof_match {
    const char *url;
    const char *suffix; /* ".insteadof" or ".pushinsteadof" (config names are lowercase) */
    size_t best_len;    /* length of the longest matching prefix so far */
    char *rewritten;    /* base + the rest of url, NULL when no rule matched */
} insteadof_match;

static int insteadof_cb(const git_config_entry *e, void *payload)
{
    insteadof_match *m = payload;
    size_t nlen = strlen(e->name), slen = strlen(m->suffix), plen;
    char *out;

    if (nlen <= 4 + slen || strncmp(e->name, "url.", 4) != 0 ||
        strcmp(e->name + nlen - slen, m->suffix) != 0 || !e->value)
        return 0;
    plen = strlen(e->value);
    if (plen == 0 || plen <= m->best_len || strncmp(m->url, e->value, plen) != 0)
        return 0;
    out = grove_asprintf("%.*s%s", (int)(nlen - 4 - slen), e->name + 4, m->url + plen);
    if (!out)
        return -1;
    free(m->rewritten);
    m->rewritten = out;
    m->best_len = plen;
    return 0;
}

/* `url` rewritten by the url.*.<suffix> rules (malloc'd); NULL when none applies (or no memory). */
static char *insteadof_apply(git_config *cfg, const char *url, const char *suffix)
{
    insteadof_match m = {url, suffix, 0, NULL};

    if (git_config_foreach(cfg, insteadof_cb, &m) < 0) {
        free(m.rewritten);
        return NULL;
    }
    return m.rewritten;
}

static int fetch_spec_cb(const git_config_entry *e, void *payload)
{
    remote_conf *rc = payload;
    char **grown;

    if (!e->value)
        return 0;
    grown = realloc(rc->fetch, (rc->nfetch + 1) * sizeof(*grown));
    if (!grown)
        return -1;
    rc->fetch = grown;
    rc->fetch[rc->nfetch] = grove_strdup(e->value);
    if (!rc->fetch[rc->nfetch])
        return -1;
    rc->nfetch++;
    return 0;
}

static int remote_conf_read(gitops_repo *r, const char *name, remote_conf *out, grove_err *err)
{
    git_config *cfg = NULL;
    git_buf url = {0}, pushurl = {0};
    char *key = NULL;
    int valid = 0, rc = -1, grc;

    memset(out, 0, sizeof(*out));
    if (!name || !*name)
        return grove_fail(err, GROVE_EINVAL, "remote name is empty");
    if (git_remote_name_is_valid(&valid, name) < 0 || !valid)
        return grove_fail(err, GROVE_ENOTFOUND, "remote '%s' not found", name);
    git_error_clear();
    if (git_repository_config_snapshot(&cfg, r->repo) < 0)
        return fail_git(err, GROVE_EGIT, "cannot read the configuration of '%s'", r->workdir);
    key = grove_asprintf("remote.%s.url", name);
    if (!key) {
        grove_nomem(err);
        goto done;
    }
    git_error_clear();
    grc = git_config_get_string_buf(&url, cfg, key);
    if (grc == GIT_ENOTFOUND || (grc == 0 && !*url.ptr)) {
        grove_fail(err, GROVE_ENOTFOUND, "remote '%s' not found", name);
        goto done;
    }
    if (grc < 0) {
        fail_git(err, GROVE_EGIT, "cannot read '%s'", key);
        goto done;
    }
    free(key);
    key = grove_asprintf("remote.%s.pushurl", name);
    if (!key) {
        grove_nomem(err);
        goto done;
    }
    git_error_clear();
    grc = git_config_get_string_buf(&pushurl, cfg, key);
    if (grc < 0 && grc != GIT_ENOTFOUND) {
        fail_git(err, GROVE_EGIT, "cannot read '%s'", key);
        goto done;
    }
    free(key);
    key = grove_asprintf("remote.%s.fetch", name);
    if (!key) {
        grove_nomem(err);
        goto done;
    }
    git_error_clear();
    grc = git_config_get_multivar_foreach(cfg, key, NULL, fetch_spec_cb, out);
    if (grc < 0 && grc != GIT_ENOTFOUND) {
        fail_git(err, GROVE_EGIT, "cannot read '%s'", key);
        goto done;
    }

    out->url = insteadof_apply(cfg, url.ptr, ".insteadof");
    if (!out->url)
        out->url = grove_strdup(url.ptr);
    if (pushurl.ptr && *pushurl.ptr) {
        out->push_url = insteadof_apply(cfg, pushurl.ptr, ".insteadof");
        if (!out->push_url)
            out->push_url = grove_strdup(pushurl.ptr);
    } else {
        out->push_url = insteadof_apply(cfg, url.ptr, ".pushinsteadof");
        if (!out->push_url)
            out->push_url = grove_strdup(out->url);
    }
    if (!out->url || !out->push_url) {
        grove_nomem(err);
        goto done;
    }
    rc = 0;
done:
    if (rc != 0)
        remote_conf_free(out);
    git_buf_dispose(&url);
    git_buf_dispose(&pushurl);
    git_config_free(cfg);
    free(key);
    return rc;
}

int gitops_remote_url(gitops_repo *r, const char *remote, char **out, grove_err *err)
{
    remote_conf rc;

    *out = NULL;
    if (remote_conf_read(r, remote, &rc, err) != 0)
        return -1;
    *out = rc.url;
    rc.url = NULL;
    remote_conf_free(&rc);
    return 0;
}

/* What the push callbacks learn; the payload of every callback. */
typedef struct push_state {
    const gitops_push_opts *o;
    unsigned cred_calls;              /* times libgit2 asked for credentials */
    int cred_gave_up;                 /* 1 when we refused a further attempt */
    char *rejected_ref;               /* first ref the remote refused, NULL when none */
    char *rejected_status;            /* the remote's reason for it */
    char remote_msg[PUSH_REMOTE_MSG]; /* the remote's sideband text, one line */
    size_t remote_len;
} push_state;

/*
 * 1 when the token may be offered to `url`: its host is github.com or
 * `token_host` (the API's host), over https, or over http only to a
 * loopback address (tests, local proxies). Never to another host, never
 * in clear text over a network.
 */
static int token_url_ok(const char *url, const char *token_host)
{
    char host[256];
    int https = url && strncmp(url, "https://", 8) == 0;
    int http = url && strncmp(url, "http://", 7) == 0;

    if ((!https && !http) || url_host(url, host, sizeof(host)) != 0)
        return 0;
    if (strcmp(host, "github.com") != 0 && !(token_host && strcasecmp(host, token_host) == 0))
        return 0;
    return https || url_host_is_loopback(host);
}

static int push_credentials(git_credential **out, const char *url, const char *user_from_url,
                            unsigned int allowed, void *payload)
{
    push_state *ps = payload;
    const char *user = user_from_url && *user_from_url ? user_from_url : "git";

    /* ssh without a user in the URL asks for the name first: that is no attempt. */
    if (allowed == GIT_CREDENTIAL_USERNAME)
        return git_credential_username_new(out, user);
    if (++ps->cred_calls > PUSH_CRED_TRIES) {
        /* libgit2 asks again after each refusal, without end for ssh-agent keys. */
        ps->cred_gave_up = 1;
        git_error_set_str(GIT_ERROR_NET, "authentication failed after 3 attempts");
        return GIT_EAUTH;
    }
    if ((allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT) && ps->o->token && *ps->o->token &&
        token_url_ok(url, ps->o->token_host))
        return git_credential_userpass_plaintext_new(out, "x-access-token", ps->o->token);
    if (allowed & GIT_CREDENTIAL_SSH_KEY)
        return git_credential_ssh_key_from_agent(out, user);
    if (allowed & GIT_CREDENTIAL_USERNAME)
        return git_credential_username_new(out, user);
    return GIT_PASSTHROUGH; /* credentials in the URL, if any, or libgit2's own failure */
}

static int push_transfer(unsigned int current, unsigned int total, size_t bytes, void *payload)
{
    push_state *ps = payload;

    if (ps->o->progress)
        ps->o->progress(ps->o->progress_arg, current, total, bytes);
    return 0;
}

/* A status per pushed ref: NULL when the remote took it, else its reason (hook, permissions). */
static int push_update_ref(const char *refname, const char *status, void *payload)
{
    push_state *ps = payload;

    if (status && !ps->rejected_ref) {
        ps->rejected_ref = grove_strdup(refname ? refname : "");
        ps->rejected_status = grove_strdup(*status ? status : "rejected");
        if (!ps->rejected_ref || !ps->rejected_status)
            return -1;
    }
    return 0;
}

/* The remote's messages ("remote: ..." lines of hooks) joined with "; ", bounded. */
static int push_sideband(const char *str, int len, void *payload)
{
    push_state *ps = payload;
    int i;

    for (i = 0; i < len && ps->remote_len + 3 < sizeof(ps->remote_msg); i++) {
        unsigned char c = (unsigned char)str[i];

        if (c == '\n' || c == '\r') {
            /* Line break: "; " once, and only after some text. */
            if (ps->remote_len > 0 && ps->remote_msg[ps->remote_len - 1] != ' ') {
                ps->remote_msg[ps->remote_len++] = ';';
                ps->remote_msg[ps->remote_len++] = ' ';
            }
        } else {
            ps->remote_msg[ps->remote_len++] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
        }
    }
    ps->remote_msg[ps->remote_len] = '\0';
    return 0;
}

/* The remote's messages without the trailing "; " (points into ps). */
static const char *push_remote_text(push_state *ps)
{
    size_t n = ps->remote_len;

    while (n > 0 && (ps->remote_msg[n - 1] == ' ' || ps->remote_msg[n - 1] == ';'))
        n--;
    ps->remote_msg[n] = '\0';
    return ps->remote_msg;
}

/* Appends " (remote: <text>)" to err->msg when the remote said something. */
static void append_remote_text(grove_err *err, push_state *ps)
{
    const char *t = push_remote_text(ps);
    size_t n;

    if (!err || !*t)
        return;
    n = strlen(err->msg);
    snprintf(err->msg + n, sizeof(err->msg) - n, " (remote: %s)", t);
}

/*
 * Removes secrets from a message in place: each occurrence of `token` (and a
 * token cut off at the message's end, from 4 characters on) becomes "***",
 * and the "user:password" part of every "scheme://user:password@host" too.
 */
static void scrub_secrets(char *msg, size_t cap, const char *token)
{
    char *out = malloc(cap);
    size_t tlen = token ? strlen(token) : 0, i = 0, o = 0, n = strlen(msg);

    if (!out) {
        if (tlen)
            snprintf(msg, cap, "(message withheld)");
        return;
    }
    while (i < n && o + 1 < cap) {
        size_t rest = n - i;

        if (tlen && ((rest >= tlen && memcmp(msg + i, token, tlen) == 0) ||
                     (rest < tlen && rest >= 4 && memcmp(msg + i, token, rest) == 0))) {
            size_t k;

            for (k = 0; k < 3 && o + 1 < cap; k++)
                out[o++] = '*';
            i += rest < tlen ? rest : tlen;
            continue;
        }
        if (rest > 3 && memcmp(msg + i, "://", 3) == 0) {
            size_t j = i + 3, colon = 0;

            while (j < n && !strchr("/ \t'\"@", msg[j])) {
                if (msg[j] == ':' && !colon)
                    colon = j;
                j++;
            }
            if (j < n && msg[j] == '@' && colon) {
                const char *rep = "://***@";
                size_t k;

                for (k = 0; rep[k] && o + 1 < cap; k++)
                    out[o++] = rep[k];
                i = j + 1;
                continue;
            }
        }
        out[o++] = msg[i++];
    }
    out[o] = '\0';
    memcpy(msg, out, o + 1);
    free(out);
}

/*
 * The remote-tracking ref that `branch` pushed to remote `name` maps to:
 * through the remote's fetch refspecs (the first that matches), else
 * refs/remotes/<name>/<branch>. Malloc'd.
 */
static char *tracking_ref_name(const remote_conf *conf, const char *name, const char *branch)
{
    char *src = grove_asprintf("refs/heads/%s", branch);
    char *out = NULL;
    size_t i;

    if (!src)
        return NULL;
    for (i = 0; i < conf->nfetch && !out; i++) {
        git_refspec *rs = NULL;
        git_buf buf = {0};

        if (git_refspec_parse(&rs, conf->fetch[i], 1) == 0 && git_refspec_src_matches(rs, src) &&
            git_refspec_transform(&buf, rs, src) == 0)
            out = grove_strdup(buf.ptr);
        git_buf_dispose(&buf);
        git_refspec_free(rs);
    }
    free(src);
    return out ? out : grove_asprintf("refs/remotes/%s/%s", name, branch);
}

/*
 * After a successful push: points the remote-tracking ref at `oid` (what
 * git_remote_push's update_tips does for a named remote), under the
 * repository lock. A failure is only logged: the push itself has happened.
 */
static void push_update_tracking(gitops_repo *r, const remote_conf *conf, const gitops_push_opts *o,
                                 const git_oid *oid)
{
    char *tracking = tracking_ref_name(conf, o->remote, o->branch);
    grove_err lerr = GROVE_ERR_INIT;
    git_reference *ref = NULL;
    git_oid cur;
    int lock_fd = -1;

    if (!tracking) {
        log_warn("cannot update the remote-tracking ref of '%s': out of memory", o->branch);
        return;
    }
    if (repo_lock(r, &lock_fd, &lerr) != 0) {
        log_warn("cannot update '%s': %s", tracking, lerr.msg);
        free(tracking);
        return;
    }
    if (git_reference_name_to_id(&cur, r->repo, tracking) != 0 || !git_oid_equal(&cur, oid)) {
        git_error_clear();
        if (git_reference_create(&ref, r->repo, tracking, oid, 1, "update by push") < 0)
            log_warn("cannot update '%s' after the push: %s", tracking,
                     git_error_last() ? git_error_last()->message : "unknown error");
        git_reference_free(ref);
    }
    repo_unlock(lock_fd);
    free(tracking);
}

/*
 * 1 when the push failed on credentials: GIT_EAUTH (1.5.1 returns it for
 * http 401s and ssh), our own give-up, or a message that says so.
 */
static int push_auth_failed(int grc, const push_state *ps)
{
    if (grc == GIT_EAUTH || ps->cred_gave_up)
        return 1;
    return last_message_has("authentication") || last_message_has("Authentication") ||
           last_message_has("authenticate");
}

/*
 * The lock file a remote's status names ("failed to lock file '<path>.lock'
 * for writing", libgit2 writing a local remote): 1 and its path in `out`,
 * else 0.
 */
static int lock_file_named(const char *status, char *out, size_t cap)
{
    const char *open = status ? strchr(status, '\'') : NULL, *close;
    size_t n;

    if (!open || !(close = strchr(open + 1, '\'')))
        return 0;
    n = (size_t)(close - open - 1);
    if (n <= 5 || n >= cap || strncmp(close - 5, ".lock", 5) != 0)
        return 0;
    memcpy(out, open + 1, n);
    out[n] = '\0';
    return 1;
}

int gitops_push(gitops_repo *r, const gitops_push_opts *o, grove_err *err)
{
    git_remote *remote = NULL;
    git_remote_create_options co;
    git_push_options po;
    remote_conf conf = {NULL, NULL, NULL, 0};
    push_state *ps = NULL;
    git_strarray specs = {NULL, 1};
    char *spec = NULL;
    git_oid oid;
    int rc = -1, grc, attempt;

    if (!o)
        return grove_fail(err, GROVE_EINVAL, "no push options");
    if (branch_commit_oid(r, o->branch, &oid, err) != 0 ||
        remote_conf_read(r, o->remote, &conf, err) != 0)
        goto done;
    /*
     * An in-memory remote for the configured push URL (see remote_conf: a
     * named lookup leaks in 1.5.1). insteadOf is already applied; the
     * remote-tracking ref is written by push_update_tracking().
     */
    /* The CA certificates a https remote (or a http one that redirects there) is verified with. */
    if (strncmp(conf.push_url, "http", 4) == 0 && gitops_tls_restore(err) != 0)
        goto done;
    git_remote_create_options_init(&co, GIT_REMOTE_CREATE_OPTIONS_VERSION);
    co.repository = r->repo;
    co.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF | GIT_REMOTE_CREATE_SKIP_DEFAULT_FETCHSPEC;
    git_error_clear();
    if (git_remote_create_with_opts(&remote, conf.push_url, &co) < 0) {
        fail_git(err, GROVE_EINVAL, "remote '%s' has an unusable url '%s'", o->remote,
                 conf.push_url);
        goto done;
    }
    ps = calloc(1, sizeof(*ps));
    spec = grove_asprintf("refs/heads/%s:refs/heads/%s", o->branch, o->branch);
    if (!ps || !spec) {
        grove_nomem(err);
        goto done;
    }
    ps->o = o;
    specs.strings = &spec;

    /* Never a zeroed struct: the INIT function sets the version and defaults. */
    git_push_options_init(&po, GIT_PUSH_OPTIONS_VERSION);
    po.callbacks.credentials = push_credentials;
    po.callbacks.push_transfer_progress = push_transfer;
    po.callbacks.push_update_reference = push_update_ref;
    po.callbacks.sideband_progress = push_sideband;
    po.callbacks.payload = ps;

    /*
     * What git_remote_push() does, in steps: the upload runs without our
     * lock (it can take long); only the remote-tracking ref write takes it.
     */
    for (attempt = 1;; attempt++) {
        git_error_clear();
        grc = git_remote_upload(remote, &specs, &po);
        /*
         * The remote could not lock the ref: another push of the branch is
         * under way there. Try again; a lock that stays is reported below.
         */
        if (grc != 0 || !ps->rejected_ref || !strstr(ps->rejected_status, "lock") ||
            attempt >= RETRIES)
            break;
        free(ps->rejected_ref);
        free(ps->rejected_status);
        ps->rejected_ref = ps->rejected_status = NULL;
        ps->remote_len = 0;
        ps->remote_msg[0] = '\0';
        git_remote_disconnect(remote);
        sleep_ms(RETRY_MS * attempt);
    }
    if (grc == GIT_ENONFASTFORWARD) {
        fail_git(err, GROVE_ECONFLICT,
                 "cannot push 'refs/heads/%s' to '%s': non-fast-forward (fetch, then rebase or "
                 "merge first)",
                 o->branch, o->remote);
        goto done;
    }
    if (grc < 0 && push_auth_failed(grc, ps)) {
        size_t n;

        if (ps->cred_gave_up)
            git_error_set_str(GIT_ERROR_NET, "authentication failed after 3 attempts");
        fail_git(err, GROVE_EINVAL, "the remote refused the credentials");
        if (err) {
            n = strlen(err->msg);
            snprintf(err->msg + n, sizeof(err->msg) - n, " (remote '%s'%s)", o->remote,
                     o->token && *o->token ? "" : "; no token was given");
        }
        append_remote_text(err, ps);
        goto done;
    }
    if (grc < 0) {
        const char *url = conf.push_url;

        /* The URL says where; scrub_secrets() below removes any password in it. */
        if (url && url[0] == '/' && !path_exists(url))
            grove_fail(err, GROVE_EIO, "cannot push '%s' to '%s': '%s' does not exist", o->branch,
                       o->remote, url);
        else
            fail_git(err, GROVE_EIO, "cannot push '%s' to '%s' at '%s'", o->branch, o->remote,
                     url ? url : "");
        append_remote_text(err, ps);
        goto done;
    }
    if (ps->rejected_ref) {
        char lock[PATH_MAX];

        if (lock_file_named(ps->rejected_status, lock, sizeof(lock)))
            grove_fail(err, GROVE_ECONFLICT,
                       "the remote rejected '%s': its ref is locked by '%s' (another push of "
                       "the branch is under way there, or an interrupted one, such as a killed "
                       "grove, left that lock file behind; when no push is running, remove it "
                       "on the remote: rm '%s', and try again)",
                       ps->rejected_ref, lock, lock);
        else
            grove_fail(err, GROVE_ECONFLICT, "the remote rejected '%s': %s%s", ps->rejected_ref,
                       ps->rejected_status,
                       strstr(ps->rejected_status, "lock")
                           ? " (the remote's ref stayed locked: another push of the branch is "
                             "under way, or an interrupted one left its lock file there; when "
                             "no push is running, remove that file on the remote and try again)"
                           : "");
        append_remote_text(err, ps);
        goto done;
    }
    push_update_tracking(r, &conf, o, &oid);
    rc = 0;
done:
    if (remote)
        git_remote_disconnect(remote);
    git_remote_free(remote);
    if (ps) {
        free(ps->rejected_ref);
        free(ps->rejected_status);
        free(ps);
    }
    free(spec);
    remote_conf_free(&conf);
    if (rc != 0 && err) {
        scrub_secrets(err->msg, sizeof(err->msg), o ? o->token : NULL);
        grove_utf8_sanitize(err->msg);
    }
    return rc;
}

/*
 * diff: `git diff <merge base> <head>` (or over a worktree) with libgit2's
 * diff machinery: the file list, numstat and the bounded patch text (see
 * gitops_diff_compute in git.h). libgit2 runs no filter driver, textconv or
 * external diff program, whatever the repository's configuration says.
 */
#include "tools/git/git_internal.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tools/base/buf.h"

/* What git prints after a last line that has no newline. */
#define NO_EOL_TEXT "\n\\ No newline at end of file\n"

const char *gitops_diff_status_name(gitops_diff_status s)
{
    switch (s) {
    case GITOPS_DIFF_ADDED:
        return "added";
    case GITOPS_DIFF_MODIFIED:
        return "modified";
    case GITOPS_DIFF_DELETED:
        return "deleted";
    case GITOPS_DIFF_RENAMED:
        return "renamed";
    case GITOPS_DIFF_TYPECHANGE:
        return "typechange";
    }
    return "modified";
}

void gitops_diff_free(gitops_diff *d)
{
    size_t i;

    for (i = 0; d->files && i < d->nfiles; i++) {
        free(d->files[i].path);
        free(d->files[i].old_path);
    }
    free(d->files);
    free(d->patch);
    memset(d, 0, sizeof(*d));
}

/* The patch text being written: stops, for good, at the first line that does not fit. */
typedef struct patch_sink {
    grove_buf buf;
    int full; /* a line did not fit: nothing more is added */
    int oom;  /* memory ran out */
} patch_sink;

static int sink_line(const git_diff_delta *delta, const git_diff_hunk *hunk,
                     const git_diff_line *line, void *payload)
{
    patch_sink *s = payload;
    int prefix = line->origin == GIT_DIFF_LINE_CONTEXT || line->origin == GIT_DIFF_LINE_ADDITION ||
                 line->origin == GIT_DIFF_LINE_DELETION;
    size_t need = line->content_len + (prefix ? 1 : 0);
    char c = line->origin;

    (void)delta;
    (void)hunk;
    if (s->full)
        return 0;
    /* A last line without newline goes with its "\ No newline" marker, or not at all. */
    if (prefix && (line->content_len == 0 || line->content[line->content_len - 1] != '\n'))
        need += sizeof(NO_EOL_TEXT) - 1;
    if (need > s->buf.max - s->buf.len) {
        s->full = 1;
        return 0;
    }
    if ((prefix && buf_add(&s->buf, &c, 1) < 0) ||
        buf_add(&s->buf, line->content, line->content_len) < 0) {
        s->oom = 1;
        return -1;
    }
    return 0;
}

static gitops_diff_status status_of(git_delta_t t)
{
    switch (t) {
    case GIT_DELTA_ADDED:
    case GIT_DELTA_UNTRACKED:
    case GIT_DELTA_COPIED:
        return GITOPS_DIFF_ADDED;
    case GIT_DELTA_DELETED:
        return GITOPS_DIFF_DELETED;
    case GIT_DELTA_RENAMED:
        return GITOPS_DIFF_RENAMED;
    case GIT_DELTA_TYPECHANGE:
        return GITOPS_DIFF_TYPECHANGE;
    default:
        return GITOPS_DIFF_MODIFIED;
    }
}

/* The commit of `hex` into oid (a full or abbreviated id of a commit). */
static int commit_oid(git_repository *repo, const char *hex, const char *what, git_oid *oid,
                      grove_err *err)
{
    git_commit *c = NULL;

    if (lookup_commit_hex(repo, hex, what, &c, err) != 0)
        return -1;
    git_oid_cpy(oid, git_commit_id(c));
    git_commit_free(c);
    return 0;
}

/*
 * ---- git's similarity estimate -----------------------------------------
 *
 * libgit2's own rename metric samples the files differently from git, so
 * its "similarity index" differs from git's (98% where git says 95%) and a
 * pair near the 50% threshold may be a rename for one and not the other.
 * This metric is git's (diffcore-delta.c's estimate, as documented there):
 * each file is cut into chunks that end at a newline or after 64 bytes (a
 * last chunk with neither is left out), CR before LF is skipped in text;
 * each chunk is hashed; the bytes in chunks of the source that the
 * destination holds as many times or more count as copied, and the score
 * is copied * 100 / the larger file size. libgit2 still pairs the files.
 */

#define SIM_HASHBASE     107927u
#define SIM_CHUNK        64
#define SIM_BINARY_PROBE 8000 /* git looks for a NUL this far to call a file binary */

typedef struct sim_span {
    unsigned hash;
    unsigned long long bytes;
} sim_span;

typedef struct sim_sig {
    size_t size;     /* the file's size */
    sim_span *spans; /* owned: by hash, one entry per hash */
    size_t nspans;
} sim_sig;

/*
 * Sorts the n spans of a by hash (below SIM_HASHBASE, under 2^18): two passes
 * of a counting sort on 9 bits each, through tmp (n spans). The order of
 * equal hashes does not matter: their bytes are added up next.
 */
_Static_assert(SIM_HASHBASE <= (1u << 18), "two passes of 9 bits sort the hashes");

static void spans_sort(sim_span *a, sim_span *tmp, size_t n)
{
    size_t count[512], i;
    sim_span *from = a, *to = tmp, *t;
    unsigned shift;

    for (shift = 0; shift < 18; shift += 9) {
        memset(count, 0, sizeof(count));
        for (i = 0; i < n; i++)
            count[(from[i].hash >> shift) & 511]++;
        for (i = 1; i < 512; i++)
            count[i] += count[i - 1];
        for (i = n; i-- > 0;)
            to[--count[(from[i].hash >> shift) & 511]] = from[i];
        t = from;
        from = to;
        to = t;
    }
}

static void sim_free(void *sig, void *payload)
{
    sim_sig *s = sig;

    (void)payload;
    if (s)
        free(s->spans);
    free(s);
}

/* The signature of `n` bytes of p into *out (malloc'd). */
static int sim_of_buffer(void **out, const unsigned char *p, size_t n)
{
    sim_sig *s = calloc(1, sizeof(*s)); /* owned by libgit2 until sim_free() */
    sim_span *tmp = NULL;
    int text = memchr(p, '\0', n < SIM_BINARY_PROBE ? n : SIM_BINARY_PROBE) == NULL;
    unsigned a1 = 0, a2 = 0;
    size_t i, k, len = 0, most = n / SIM_CHUNK + 1;
    const unsigned char *nl;

    *out = NULL;
    /* A chunk ends at a newline or after SIM_CHUNK bytes: at most this many. */
    for (nl = p; n > 0 && (nl = memchr(nl, '\n', (size_t)(p + n - nl))) != NULL; nl++)
        most++;
    /* spans: owned by s; tmp: owned here, the sort's other half */
    if (!s || !(s->spans = malloc(most * sizeof(*s->spans))) ||
        !(tmp = malloc(most * sizeof(*tmp)))) {
        if (s)
            free(s->spans);
        free(s);
        return -1;
    }
    s->size = n;
    for (i = 0; i < n; i++) {
        unsigned c = p[i], old = a1;

        if (text && c == '\r' && i + 1 < n && p[i + 1] == '\n')
            continue;
        a1 = (a1 << 7) ^ (a2 >> 25);
        a2 = (a2 << 7) ^ (old >> 25);
        a1 += c;
        if (++len < SIM_CHUNK && c != '\n')
            continue;
        s->spans[s->nspans].hash = (a1 + a2 * 0x61u) % SIM_HASHBASE;
        s->spans[s->nspans++].bytes = len;
        len = 0;
        a1 = a2 = 0;
    }
    spans_sort(s->spans, tmp, s->nspans);
    free(tmp);
    for (i = k = 0; i < s->nspans; i++) { /* one entry per hash */
        if (k > 0 && s->spans[k - 1].hash == s->spans[i].hash)
            s->spans[k - 1].bytes += s->spans[i].bytes;
        else
            s->spans[k++] = s->spans[i];
    }
    s->nspans = k;
    *out = s;
    return 0;
}

static int sim_buffer(void **out, const git_diff_file *file, const char *buf, size_t len,
                      void *payload)
{
    (void)file;
    (void)payload;
    return sim_of_buffer(out, (const unsigned char *)buf, len);
}

/* A worktree file (a symlink: its target, as git stores it); unreadable: an empty signature. */
static int sim_file(void **out, const git_diff_file *file, const char *path, void *payload)
{
    grove_buf b = BUF_INIT((size_t)1 << 32);
    struct stat st;
    char chunk[65536];
    int fd, rc;

    (void)file;
    (void)payload;
    if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) {
        ssize_t n = readlink(path, chunk, sizeof(chunk));

        return sim_of_buffer(out, (const unsigned char *)chunk, n > 0 ? (size_t)n : 0);
    }
    fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    while (fd >= 0) {
        ssize_t n = read(fd, chunk, sizeof(chunk));

        if (n <= 0 || buf_add(&b, chunk, (size_t)n) != 0)
            break;
    }
    if (fd >= 0)
        close(fd);
    rc = sim_of_buffer(out, (const unsigned char *)(b.data ? b.data : ""), b.len);
    buf_free(&b);
    return rc;
}

/*
 * The score of the pair: git's estimate. Only scores of RENAME_THRESHOLD and
 * more can make a rename (libgit2 keeps the best pairs, then drops those under
 * the threshold; a lower score never displaces a higher one), so a pair that
 * cannot reach it scores 0 without being counted through: when the smaller
 * size is under the threshold's share of the larger (copied bytes never
 * exceed either size), or once the bytes still to compare cannot lift the
 * count to it.
 */
#define RENAME_THRESHOLD 50

static int sim_score(int *score, void *siga, void *sigb, void *payload)
{
    const sim_sig *src = siga, *dst = sigb;
    const sim_span *s = src->spans, *d = dst->spans;
    size_t i = 0, j = 0, ns = src->nspans, nd = dst->nspans;
    unsigned long long most = src->size > dst->size ? src->size : dst->size;
    unsigned long long least = src->size < dst->size ? src->size : dst->size;
    unsigned long long copied = 0, need = (most * RENAME_THRESHOLD + 99) / 100;
    unsigned long long left; /* src bytes not compared yet: at least what is left to count */

    (void)payload;
    *score = 0;
    if (dst->size == 0 || most == 0 || least < need)
        return 0;
    left = src->size;
    while (i < ns && j < nd) {
        size_t stop = i + 64 < ns ? i + 64 : ns;

        /* Both lists are sorted with one entry per hash: a merge without branches to mispredict. */
        while (i < stop && j < nd) {
            unsigned a = s[i].hash, b = d[j].hash;
            unsigned long long x = s[i].bytes, y = d[j].bytes, m = x < y ? x : y;

            copied += a == b ? m : 0;
            left -= a <= b ? x : 0;
            i += a <= b;
            j += b <= a;
        }
        if (copied + left < need)
            return 0;
    }
    *score = (int)(copied * 100 / most);
    return 0;
}

/* The git_diff of `o`, from tree `base`, renames found. */
static int diff_make(git_diff **out, git_repository *repo, git_tree *base, git_tree *head,
                     const gitops_diff_opts *o, grove_err *err)
{
    git_diff_options opts;
    git_diff_find_options find;
    git_diff_similarity_metric metric = {sim_file, sim_buffer, sim_free, sim_score, NULL};

    *out = NULL;
    git_error_clear();
    if (git_diff_options_init(&opts, GIT_DIFF_OPTIONS_VERSION) < 0 ||
        git_diff_find_options_init(&find, GIT_DIFF_FIND_OPTIONS_VERSION) < 0)
        return fail_git(err, GROVE_EGIT, "cannot set up diff options");
    opts.context_lines = o->context_lines;
    opts.interhunk_lines = 0; /* git's diff.interHunkContext default */
    opts.pathspec.strings = (char **)o->paths;
    opts.pathspec.count = o->paths ? o->npaths : 0;
    if (o->worktree)
        opts.flags |= GIT_DIFF_INCLUDE_UNTRACKED | GIT_DIFF_RECURSE_UNTRACKED_DIRS |
                      GIT_DIFF_SHOW_UNTRACKED_CONTENT;
    git_error_clear();
    if ((o->worktree ? git_diff_tree_to_workdir_with_index(out, repo, base, &opts)
                     : git_diff_tree_to_tree(out, repo, base, head, &opts)) < 0)
        return fail_git(err, GROVE_EGIT, "cannot compute the diff");
    /* git diff's default: renames at 50% similarity, no copies, whatever diff.renames says. */
    find.flags = GIT_DIFF_FIND_RENAMES | GIT_DIFF_FIND_FOR_UNTRACKED;
    find.rename_threshold = RENAME_THRESHOLD;
    find.metric = &metric;
    git_error_clear();
    if (git_diff_find_similar(*out, &find) < 0) {
        git_diff_free(*out);
        *out = NULL;
        return fail_git(err, GROVE_EGIT, "cannot detect renames");
    }
    return 0;
}

/* 1 when a is the addition and b the deletion of one path: a type change, split. */
static int is_typechange_pair(const git_diff_delta *a, const git_diff_delta *b)
{
    return a && b && a->status == GIT_DELTA_ADDED && b->status == GIT_DELTA_DELETED &&
           strcmp(a->new_file.path, b->old_file.path) == 0;
}

/*
 * Walks the deltas: the files list (a deletion followed by an addition of
 * the same path, which is how a type change comes out, is one
 * GITOPS_DIFF_TYPECHANGE entry), the stat and the patch text.
 */
static int diff_walk(git_diff *diff, size_t max_bytes, gitops_diff *out, grove_err *err)
{
    size_t i, n = git_diff_num_deltas(diff);
    patch_sink sink = {BUF_INIT(max_bytes), 0, 0};
    int rc = -1;

    if (!(out->files = calloc(n ? n : 1, sizeof(*out->files)))) /* owned by out */
        return grove_nomem(err);
    for (i = 0; i < n; i++) {
        git_patch *patch = NULL;
        const git_diff_delta *d;
        gitops_diff_file *f, *prev = out->nfiles ? &out->files[out->nfiles - 1] : NULL;
        size_t ctx = 0, add = 0, del = 0, at = i;
        int prc;

        /* libgit2 lists a type change's addition first; git prints its deletion first. */
        if (i + 1 < n &&
            is_typechange_pair(git_diff_get_delta(diff, i), git_diff_get_delta(diff, i + 1)))
            at = i + 1;
        else if (i > 0 &&
                 is_typechange_pair(git_diff_get_delta(diff, i - 1), git_diff_get_delta(diff, i)))
            at = i - 1;
        git_error_clear();
        if (git_patch_from_diff(&patch, diff, at) < 0) {
            rc = fail_git(err, GROVE_EGIT, "cannot compute the diff");
            goto done;
        }
        if (!patch) /* an unchanged entry: nothing to print */
            continue;
        d = git_patch_get_delta(patch);
        git_error_clear();
        if (git_patch_line_stats(&ctx, &add, &del, patch) < 0) {
            git_patch_free(patch);
            rc = fail_git(err, GROVE_EGIT, "cannot count the lines of '%s'", d->new_file.path);
            goto done;
        }
        git_error_clear();
        prc = git_patch_print(patch, sink_line, &sink);
        git_patch_free(patch);
        if (prc < 0) {
            rc = sink.oom ? grove_nomem(err) : fail_git(err, GROVE_EGIT, "cannot print the diff");
            goto done;
        }
        if (d->status == GIT_DELTA_ADDED && prev && prev->status == GITOPS_DIFF_DELETED &&
            strcmp(prev->path, d->new_file.path) == 0) {
            f = prev; /* the second half of a type change */
            f->status = GITOPS_DIFF_TYPECHANGE;
        } else {
            f = &out->files[out->nfiles++];
            f->status = status_of(d->status);
            f->path = strdup(d->status == GIT_DELTA_DELETED ? d->old_file.path : d->new_file.path);
            if (!f->path) {
                rc = grove_nomem(err);
                goto done;
            }
            if (f->status == GITOPS_DIFF_RENAMED && !(f->old_path = strdup(d->old_file.path))) {
                rc = grove_nomem(err);
                goto done;
            }
            out->stat.files_changed++;
        }
        if (d->flags & GIT_DIFF_FLAG_BINARY)
            f->binary = 1;
        f->insertions += (long long)add;
        f->deletions += (long long)del;
        out->stat.insertions += (long long)add;
        out->stat.deletions += (long long)del;
    }
    out->truncated = sink.full;
    out->patch_len = sink.buf.len;
    if (!(out->patch = buf_take(&sink.buf))) { /* owned by out */
        rc = grove_nomem(err);
        goto done;
    }
    rc = 0;
done:
    buf_free(&sink.buf);
    return rc;
}

int gitops_diff_compute(gitops_repo *r, const gitops_diff_opts *o, gitops_diff *out, grove_err *err)
{
    git_repository *wt = NULL, *repo = r->repo;
    git_commit *base_c = NULL, *head_c = NULL;
    git_tree *base_t = NULL, *head_t = NULL;
    git_diff *diff = NULL;
    git_oid against, head, base;
    size_t i;
    int rc = -1, mrc;

    memset(out, 0, sizeof(*out));
    for (i = 0; o->paths && i < o->npaths; i++)
        if (!o->paths[i] || !*o->paths[i] || o->paths[i][0] == ':')
            return grove_fail(err, GROVE_EINVAL,
                              "pathspec '%s' is not supported: give paths or globs, without "
                              "git's \":(magic)\" prefixes",
                              o->paths[i] ? o->paths[i] : "");
    if (o->worktree) {
        /* The linked worktree's own repository: its HEAD, index and files. */
        if (open_worktree_path(&wt, o->worktree, err) != 0)
            return -1;
        repo = wt;
        git_error_clear();
        mrc = git_reference_name_to_id(&head, repo, "HEAD");
        if (mrc < 0) {
            rc = mrc == GIT_ENOTFOUND
                     ? grove_fail(err, GROVE_ENOTFOUND, "HEAD of '%s' has no commit yet",
                                  o->worktree)
                     : fail_git(err, GROVE_EGIT, "cannot read HEAD of '%s'", o->worktree);
            goto done;
        }
    } else if (commit_oid(repo, o->to, "commit", &head, err) != 0) {
        goto done;
    }
    if (commit_oid(repo, o->against, "commit", &against, err) != 0)
        goto done;
    git_error_clear();
    mrc = git_merge_base(&base, repo, &against, &head);
    if (mrc == GIT_ENOTFOUND) {
        rc = grove_fail(err, GROVE_ECONFLICT,
                        "commits '%.12s' and '%.12s' have no common ancestor: nothing to diff from",
                        o->against, git_oid_tostr_s(&head));
        goto done;
    }
    if (mrc < 0) {
        rc = fail_git(err, GROVE_EGIT, "cannot find the merge base of '%.12s' and '%.12s'",
                      o->against, git_oid_tostr_s(&head));
        goto done;
    }
    git_oid_tostr(out->against, sizeof(out->against), &against);
    git_oid_tostr(out->head, sizeof(out->head), &head);
    git_oid_tostr(out->merge_base, sizeof(out->merge_base), &base);
    git_error_clear();
    if (git_commit_lookup(&base_c, repo, &base) < 0 || git_commit_tree(&base_t, base_c) < 0 ||
        (!o->worktree &&
         (git_commit_lookup(&head_c, repo, &head) < 0 || git_commit_tree(&head_t, head_c) < 0))) {
        rc = fail_git(err, GROVE_EGIT, "cannot read the trees to diff");
        goto done;
    }
    if (diff_make(&diff, repo, base_t, head_t, o, err) != 0 ||
        diff_walk(diff, o->max_bytes, out, err) != 0)
        goto done;
    rc = 0;
done:
    if (rc != 0)
        gitops_diff_free(out);
    git_diff_free(diff);
    git_tree_free(base_t);
    git_tree_free(head_t);
    git_commit_free(base_c);
    git_commit_free(head_c);
    git_repository_free(wt);
    return rc;
}

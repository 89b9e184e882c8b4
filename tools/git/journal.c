/*
 * journal: the creation and removal journals under <common dir>/grove/,
 * what `grove gc` finds and finishes after a crash (recover.c).
 */
#include "tools/git/git_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

/* ---- creation journals ------------------------------------------------- */

/*
 * While a worktree is being created, from before its branch is made until
 * gitops_worktree_unlock() (its instance is recorded) or its removal, the
 * creating process holds an flock on <common dir>/grove/creating/<name>,
 * a file that names the branch and the folder. A journal whose flock is
 * free belongs to a creation whose process died: `grove gc` completes or
 * undoes it (gitops_interrupted_*). Journals are made and ended under the
 * repo lock, so whoever holds that lock sees no creation half-way.
 */
char *journal_path(const gitops_repo *r, const char *name)
{
    return grove_asprintf("%s/grove/creating/%s", r->common_dir, name);
}

/*
 * Starts the journal of `name` (caller holds the repo lock). Exists already:
 * GROVE_ECONFLICT. It is written into ".<name>.tmp", locked, and linked into
 * place whole: a reader never sees half of it.
 */
int journal_begin(gitops_repo *r, const char *name, const char *branch, const char *path,
                  grove_err *err)
{
    char *file = journal_path(r, name);
    char *tmp = grove_asprintf("%s/grove/creating/.%s.tmp", r->common_dir, name);
    char *text = grove_asprintf("%s\n%s\n", branch, path);
    gitops_journal *grown;
    size_t len, off = 0;
    int fd = -1, rc = -1;

    if (!file || !tmp || !text) {
        rc = grove_nomem(err);
        goto done;
    }
    if (path_exists(file)) {
        rc = grove_fail(err, GROVE_ECONFLICT,
                        "an interrupted creation of worktree '%s' is not cleaned up yet "
                        "('grove gc' does it)",
                        name);
        goto done;
    }
    /* The folder was made with the repo lock (journal_dirs_make). */
    fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        rc = grove_fail(err, GROVE_EIO, "cannot create '%s': %s", tmp, strerror(errno));
        goto done;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        rc = grove_fail(err, GROVE_EIO, "cannot lock '%s': %s", tmp, strerror(errno));
        goto fail;
    }
    len = strlen(text);
    while (off < len) {
        ssize_t n = write(fd, text + off, len - off);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = grove_fail(err, GROVE_EIO, "cannot write '%s': %s", tmp, strerror(errno));
            goto fail;
        }
        off += (size_t)n;
    }
    grown = realloc(r->journals, (r->njournals + 1) * sizeof(*grown));
    if (!grown) {
        rc = grove_nomem(err);
        goto fail;
    }
    r->journals = grown;
    if (!(grown[r->njournals].name = grove_strdup(name))) {
        rc = grove_nomem(err);
        goto fail;
    }
    if (link(tmp, file) != 0) {
        rc = grove_fail(err, GROVE_EIO, "cannot create '%s': %s", file, strerror(errno));
        free(grown[r->njournals].name);
        goto fail;
    }
    unlink(tmp);
    grown[r->njournals++].fd = fd;
    rc = 0;
    goto done;
fail:
    unlink(tmp);
    close(fd);
done:
    free(file);
    free(tmp);
    free(text);
    return rc;
}

/*
 * Ends the journal of `name` (caller holds the repo lock): deletes it when
 * this process holds it or its creator is gone; one that another live
 * process holds stays.
 */
void journal_end(gitops_repo *r, const char *name)
{
    char *file = journal_path(r, name);
    size_t i;
    int fd;

    if (!file)
        return;
    for (i = 0; i < r->njournals; i++) {
        if (strcmp(r->journals[i].name, name) != 0)
            continue;
        unlink(file);
        close(r->journals[i].fd);
        free(r->journals[i].name);
        r->journals[i] = r->journals[--r->njournals];
        free(file);
        return;
    }
    fd = open(file, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
    if (fd >= 0) {
        if (flock(fd, LOCK_EX | LOCK_NB) == 0)
            unlink(file);
        close(fd);
    }
    free(file);
}

/* Lets go of the journal of `name` that this process holds, leaving it for gc to undo. */
void journal_release(gitops_repo *r, const char *name)
{
    size_t i;

    for (i = 0; i < r->njournals; i++) {
        if (strcmp(r->journals[i].name, name) != 0)
            continue;
        close(r->journals[i].fd);
        free(r->journals[i].name);
        r->journals[i] = r->journals[--r->njournals];
        return;
    }
}

int gitops_creation_note_setup(gitops_repo *r, const char *name, long long pgid,
                               unsigned long long start, grove_err *err)
{
    char line[96];
    size_t i, len, off = 0;
    int n;

    for (i = 0; i < r->njournals && strcmp(r->journals[i].name, name) != 0; i++)
        ;
    if (i == r->njournals)
        return grove_fail(err, GROVE_ENOTFOUND, "worktree '%s' is not being created here", name);
    n = snprintf(line, sizeof(line), "setup %lld %llu\n", pgid, start);
    len = n > 0 ? (size_t)n : 0;
    /* One short append to the file this process holds: readers see it whole or not at all. */
    if (lseek(r->journals[i].fd, 0, SEEK_END) < 0)
        return grove_fail(err, GROVE_EIO, "cannot write the journal of '%s': %s", name,
                          strerror(errno));
    while (off < len) {
        ssize_t w = write(r->journals[i].fd, line + off, len - off);

        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return grove_fail(err, GROVE_EIO, "cannot write the journal of '%s': %s", name,
                              strerror(errno));
        off += (size_t)w;
    }
    return 0;
}

/* Reads a two-line journal; *one and *two get its lines (malloc'd; NULL when empty). */
int journal_read_two_lines(const char *path, char **one, char **two)
{
    char buf[2 * PATH_MAX + 16];
    char *nl;

    *one = *two = NULL;
    if (read_small_file(path, buf, sizeof(buf)) != 0)
        return -1;
    nl = strchr(buf, '\n');
    if (nl)
        *nl = '\0';
    if (buf[0])
        *one = grove_strdup(buf);
    if (nl && nl[1]) {
        char *nl2 = strchr(nl + 1, '\n');

        if (nl2)
            *nl2 = '\0';
        *two = grove_strdup(nl + 1);
    }
    return 0;
}

/*
 * The process group of the setup command a creation ran, from the third
 * line of its journal ("setup <pgid> <start time>", see
 * gitops_creation_note_setup()). 0 when there is none.
 */
long long journal_setup_read(const char *file, unsigned long long *start)
{
    char buf[2 * PATH_MAX + 128];
    const char *line;
    long long pgid = 0;

    *start = 0;
    if (read_small_file(file, buf, sizeof(buf)) != 0)
        return 0;
    line = strstr(buf, "\nsetup ");
    if (line && sscanf(line + 7, "%lld %llu", &pgid, start) < 1)
        pgid = 0;
    return pgid > 1 ? pgid : 0;
}

/*
 * State of the journal of `name`: -1 none, 0 its creator is gone, 1 its
 * creator is running (this process or another). *branch and *path get
 * what it names (malloc'd, may stay NULL); both may be NULL.
 */
int journal_state(const gitops_repo *r, const char *name, char **branch, char **path)
{
    char *file = journal_path(r, name), *one = NULL, *two = NULL;
    size_t i;
    int fd, state = -1;

    if (branch)
        *branch = NULL;
    if (path)
        *path = NULL;
    if (!file)
        return -1;
    if (journal_read_two_lines(file, &one, &two) == 0) {
        if (branch) {
            *branch = one;
            one = NULL;
        }
        if (path && two && two[0] == '/') {
            *path = two;
            two = NULL;
        }
    }
    free(one);
    free(two);
    for (i = 0; i < r->njournals; i++)
        if (strcmp(r->journals[i].name, name) == 0) {
            free(file);
            return 1;
        }
    fd = open(file, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
    if (fd >= 0) {
        state = flock(fd, LOCK_EX | LOCK_NB) == 0 ? 0 : 1;
        close(fd); /* releases our flock, if we got it */
    }
    free(file);
    return state;
}

/* ---- removal journals -------------------------------------------------- */

/* <common dir>/grove/removing/<name>: the journal of a removal (see worktree_remove_locked()). */
char *journal_removal_path(const gitops_repo *r, const char *name, const char *suffix)
{
    return grove_asprintf("%s/grove/removing/%s%s", r->common_dir, name, suffix);
}

/*
 * Writes file `path` (mode 0600) holding "<line1>\n<line2>\n" atomically:
 * into "<path>.tmp" first, then renamed, so that a reader never sees half
 * of it (a cut branch name could name another branch).
 */
int journal_write_two_lines(const char *path, const char *line1, const char *line2, grove_err *err)
{
    char *tmp = grove_asprintf("%s.tmp", path);
    char *text = grove_asprintf("%s\n%s\n", line1, line2);
    size_t len, off = 0;
    int fd, rc = -1;

    if (!tmp || !text) {
        rc = grove_nomem(err);
        goto done;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        rc = grove_fail(err, GROVE_EIO, "cannot write '%s': %s", tmp, strerror(errno));
        goto done;
    }
    len = strlen(text);
    while (off < len) {
        ssize_t n = write(fd, text + off, len - off);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            break;
        off += (size_t)n;
    }
    if (close(fd) != 0 || off < len || rename(tmp, path) != 0) {
        rc = grove_fail(err, GROVE_EIO, "cannot write '%s': %s", path, strerror(errno));
        unlink(tmp);
        goto done;
    }
    rc = 0;
done:
    free(tmp);
    free(text);
    return rc;
}

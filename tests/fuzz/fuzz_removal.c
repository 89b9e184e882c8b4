/*
 * fuzz_removal: gitops_removal_decide(), the decision which folder removing
 * an instance's worktree may delete (git.h), on arbitrary facts.
 *
 * Input: two flag bytes, then up to ten strings separated by '\n' (an empty
 * one is NULL): name, recorded, base, base_real, main_real, common_real,
 * recorded_parent_real, recorded_real, git_path, git_real.
 *
 * Promises, checked independently of the decision's own code: a refusal
 * says why; "remove this folder" only for a folder strictly one level
 * inside the real base, that is the recorded folder (not a symlink, its
 * parent the base) and the folder git's record names (not a symlink, and
 * pointing back to it), that neither is nor holds the main worktree or the
 * common dir; "remove no folder" only when there is no folder to remove,
 * neither at the recorded path nor where git says.
 */
#include <stdlib.h>
#include <string.h>

#include "tests/fuzz/fuzz.h"
#include "tools/git/git.h"

#define NFIELDS 10

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

/* 1 when `path` is `dir` or below it. */
static int within(const char *path, const char *dir)
{
    size_t n = strlen(dir);

    if (strcmp(dir, "/") == 0)
        return path[0] == '/';
    return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* 1 when `folder` is <base>/<one component>. */
static int one_below(const char *folder, const char *base)
{
    size_t n = strcmp(base, "/") == 0 ? 0 : strlen(base);

    return strncmp(folder, base, n) == 0 && folder[n] == '/' && folder[n + 1] &&
           !strchr(folder + n + 1, '/') && strcmp(folder + n + 1, ".") != 0 &&
           strcmp(folder + n + 1, "..") != 0;
}

static void check(const gitops_removal_facts *f, int rc, const gitops_removal_plan *p,
                  const grove_err *err)
{
    const char *leaf;

    if (rc != 0) {
        FUZZ_CHECK(p->action == GITOPS_REMOVAL_REFUSE, "refused, but action %d", (int)p->action);
        FUZZ_CHECK(err->msg[0] != '\0', "a refusal without a reason");
        return;
    }
    if (p->action == GITOPS_REMOVAL_RECORD) {
        FUZZ_CHECK(!f->recorded_present, "no folder removed, but one is at the recorded path");
        FUZZ_CHECK(!(f->git_record && f->git_path && f->git_present),
                   "no folder removed, but git's record names one that exists");
        FUZZ_CHECK(p->folder[0] == '\0', "RECORD with folder '%s'", p->folder);
        return;
    }
    FUZZ_CHECK(p->action == GITOPS_REMOVAL_FOLDER, "allowed with action %d", (int)p->action);
    FUZZ_CHECK(f->base_real && f->base_real[0] == '/', "allowed without a real base");
    FUZZ_CHECK(one_below(p->folder, f->base_real), "'%s' is not one level inside base '%s'",
               p->folder, f->base_real);
    FUZZ_CHECK(f->recorded && f->recorded_present && !f->recorded_is_link,
               "allowed though the recorded folder is missing or a link");
    FUZZ_CHECK(f->recorded_real && strcmp(f->recorded_real, p->folder) == 0,
               "allowed '%s' but the recorded folder resolves elsewhere", p->folder);
    FUZZ_CHECK(f->recorded_parent_real && strcmp(f->recorded_parent_real, f->base_real) == 0,
               "allowed though the recorded folder's parent is not the base");
    leaf = strrchr(f->recorded, '/');
    FUZZ_CHECK(leaf && strcmp(leaf, strrchr(p->folder, '/')) == 0, "allowed '%s' for recorded '%s'",
               p->folder, f->recorded);
    FUZZ_CHECK(f->git_record && f->git_path && f->git_present && !f->git_is_link &&
                   f->git_folder_ours,
               "allowed though git's record does not name a real folder of its own");
    FUZZ_CHECK(f->git_real && strcmp(f->git_real, p->folder) == 0,
               "allowed '%s' but git's record resolves to '%s'", p->folder,
               f->git_real ? f->git_real : "(null)");
    FUZZ_CHECK(!f->main_real || !within(f->main_real, p->folder),
               "allowed '%s', which is or holds the main worktree", p->folder);
    FUZZ_CHECK(!f->common_real || !within(f->common_real, p->folder),
               "allowed '%s', which is or holds the common dir", p->folder);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf, *field[NFIELDS] = {0}, *s;
    gitops_removal_facts f;
    gitops_removal_plan plan;
    grove_err err = GROVE_ERR_INIT;
    unsigned flags;
    size_t i;
    int rc;

    if (size < 2)
        return 0;
    flags = data[0] | (unsigned)data[1] << 8;
    buf = malloc(size - 1);
    FUZZ_CHECK(buf != NULL, "out of memory");
    memcpy(buf, data + 2, size - 2);
    buf[size - 2] = '\0';
    for (i = 0, s = buf; i < NFIELDS && s; i++) {
        char *nl = strchr(s, '\n');

        if (nl)
            *nl = '\0';
        field[i] = *s ? s : NULL;
        s = nl ? nl + 1 : NULL;
    }
    memset(&f, 0, sizeof(f));
    f.name = field[0];
    f.recorded = field[1];
    f.base = field[2];
    f.base_real = field[3];
    f.main_real = field[4];
    f.common_real = field[5];
    f.recorded_parent_real = field[6];
    f.recorded_real = field[7];
    f.git_path = field[8];
    f.git_real = field[9];
    f.recorded_present = flags & 1;
    f.recorded_is_link = (flags >> 1) & 1;
    f.git_record = (flags >> 2) & 1;
    f.git_present = (flags >> 3) & 1;
    f.git_is_link = (flags >> 4) & 1;
    f.git_folder_ours = (flags >> 5) & 1;
    memset(&plan, 0xAB, sizeof(plan));
    rc = gitops_removal_decide(&plan, &f, &err);
    FUZZ_CHECK(rc == 0 || rc == -1, "returned %d", rc);
    FUZZ_CHECK(memchr(plan.folder, '\0', sizeof(plan.folder)) != NULL, "folder not terminated");
    check(&f, rc, &plan, &err);
    free(buf);
    return 0;
}

/* The sample project of `grove demo`, made with libgit2 (no git CLI needed). */
#include <git2.h>
#include <stdio.h>
#include <string.h>

#include "tools/git/git.h"

static int git_fail(grove_err *err, const char *what)
{
    const git_error *e = git_error_last();

    return grove_fail(err, GROVE_EGIT, "%s: %s", what, e && e->message ? e->message : "failed");
}

static int write_file(const char *dir, const char *name, const char *text, grove_err *err)
{
    char path[4096];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "w");
    if (!f)
        return grove_fail(err, GROVE_EIO, "cannot write '%s'", path);
    fputs(text, f);
    return fclose(f) == 0 ? 0 : grove_fail(err, GROVE_EIO, "cannot write '%s'", path);
}

int gitops_commit_all(const char *path, const char *message, grove_err *err)
{
    git_repository *repo = NULL;
    git_index *index = NULL;
    git_signature *sig = NULL;
    git_tree *tree = NULL;
    git_object *parent = NULL; /* a commit: what HEAD names */
    const git_commit *parents[1];
    git_reference *head_ref = NULL;
    git_oid tree_id, commit_id;
    int rc = -1;

    if (git_repository_open(&repo, path) < 0) {
        git_fail(err, "cannot open repository");
        goto done;
    }
    if (git_repository_index(&index, repo) < 0 ||
        git_index_add_all(index, NULL, GIT_INDEX_ADD_DEFAULT, NULL, NULL) < 0 ||
        git_index_write(index) < 0 || git_index_write_tree(&tree_id, index) < 0 ||
        git_tree_lookup(&tree, repo, &tree_id) < 0) {
        git_fail(err, "cannot stage changes");
        goto done;
    }
    if (git_signature_now(&sig, "grove demo", "demo@grove.invalid") < 0) {
        git_fail(err, "cannot make a signature");
        goto done;
    }
    if (git_revparse_ext(&parent, &head_ref, repo, "HEAD") < 0)
        parent = NULL; /* first commit */
    parents[0] = (const git_commit *)parent;
    if (git_commit_create(&commit_id, repo, "HEAD", sig, sig, NULL, message, tree, parent ? 1 : 0,
                          parents) < 0) {
        git_fail(err, "cannot commit");
        goto done;
    }
    rc = 0;
done:
    git_object_free(parent);
    git_reference_free(head_ref);
    git_tree_free(tree);
    git_signature_free(sig);
    git_index_free(index);
    git_repository_free(repo);
    return rc;
}

int gitops_make_sample(const char *dir, grove_err *err)
{
    git_repository *bare = NULL, *repo = NULL;
    git_config *cfg = NULL;
    git_repository_init_options opts;
    char path[4096], src[4200];
    int rc = -1;

    git_repository_init_options_init(&opts, GIT_REPOSITORY_INIT_OPTIONS_VERSION);
    snprintf(path, sizeof(path), "%s/origin.git", dir);
    if (git_repository_init(&bare, path, 1) < 0) {
        git_fail(err, "cannot create the bare origin");
        goto done;
    }
    snprintf(path, sizeof(path), "%s/repo", dir);
    opts.flags = GIT_REPOSITORY_INIT_MKPATH;
    opts.initial_head = "main";
    if (git_repository_init_ext(&repo, path, &opts) < 0) {
        git_fail(err, "cannot create the sample repository");
        goto done;
    }
    snprintf(src, sizeof(src), "%s/src", path);
    if (grove_mkdirs(src, 0755, err) != 0 ||
        write_file(path, "README.md", "# sample\n\nA project for the grove demo.\n", err) != 0 ||
        write_file(path, ".gitignore", ".env\n.agent-input\n", err) != 0 ||
        write_file(src, "greet.c",
                   "#include <stdio.h>\n\nint main(void)\n{\n    puts(\"hello\");\n"
                   "    return 0;\n}\n",
                   err) != 0)
        goto done;
    if (gitops_commit_all(path, "initial commit", err) != 0)
        goto done;
    /*
     * The remote as two config entries: git_remote_create() in libgit2 1.5.1
     * leaks pcre2 match data while it scans the configuration.
     */
    snprintf(src, sizeof(src), "%s/origin.git", dir);
    if (git_repository_config(&cfg, repo) < 0 ||
        git_config_set_string(cfg, "remote.origin.url", src) < 0 ||
        git_config_set_string(cfg, "remote.origin.fetch", "+refs/heads/*:refs/remotes/origin/*") <
            0) {
        git_fail(err, "cannot add remote 'origin'");
        goto done;
    }
    rc = 0;
done:
    git_config_free(cfg);
    git_repository_free(repo);
    git_repository_free(bare);
    return rc;
}

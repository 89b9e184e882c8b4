/*
 * forge: GitHub's REST API over libcurl (github.com or GitHub Enterprise).
 * Only what grove needs: open a pull request (or find the open one for a
 * head branch), read whether one was merged, and read an issue. Tokens are
 * never logged, never put in an error message, never stored by this module.
 */
#ifndef GROVE_FORGE_H
#define GROVE_FORGE_H

#include <jansson.h>

#include "tools/base/grove.h"

#define FORGE_DEFAULT_API_URL "https://api.github.com"
#define FORGE_API_VERSION     "2022-11-28"

typedef struct forge_opts {
    const char *api_url;     /* base, no trailing slash needed; NULL = FORGE_DEFAULT_API_URL */
    const char *token;       /* sent as "Authorization: Bearer <token>"; required */
    const char *owner_repo;  /* "owner/name" */
    long connect_timeout_ms; /* 0 = 10 s */
    long timeout_ms;         /* whole request; 0 = 30 s */
} forge_opts;

typedef struct forge_pr {
    long long number;
    char *html_url;      /* malloc'd */
    int already_existed; /* 1 when found open instead of created */
} forge_pr;

/*
 * POST /repos/{owner}/{repo}/pulls with {title, head, base, body, draft}.
 * When GitHub answers 422 with "A pull request already exists", looks the
 * open one up (GET /repos/{owner}/{repo}/pulls?head=<owner>:<head>&state=open)
 * and returns it with already_existed = 1. Every other failure: GitHub's
 * `message` and every `errors[]` entry in full (GROVE_ECONFLICT for 422,
 * GROVE_EINVAL for 401/403 "GitHub refused the credentials ...", GROVE_EIO
 * for network failures and timeouts, naming the API URL without
 * credentials). body may be NULL.
 */
int forge_create_pr(const forge_opts *o, const char *title, const char *body, const char *head,
                    const char *base, int draft, forge_pr *out, grove_err *err);
void forge_pr_free(forge_pr *pr);

/* A GitHub issue as grove keeps it. Strings malloc'd; NULL where GitHub sent none. */
typedef struct forge_issue {
    long long number;
    char *title;
    char *body;
    char *state;
    char *html_url;
    char **labels; /* the labels' names, malloc'd */
    size_t nlabels;
} forge_issue;

/*
 * GET /repos/{owner}/{repo}/issues/{number} into *out (zeroed first; the
 * caller frees it with forge_issue_free(), also after a failure).
 */
int forge_get_issue(const forge_opts *o, long long number, forge_issue *out, grove_err *err);
void forge_issue_free(forge_issue *issue);

/* A pull request's state, as `grove gc` needs it. */
typedef struct forge_pull {
    long long number;
    int merged;        /* GitHub's "merged": true */
    char head_sha[41]; /* its head commit ("head"."sha"); "" when GitHub sent none */
} forge_pull;

/*
 * GET /repos/{owner}/{repo}/pulls/{number} into *out (zeroed first, and
 * again on failure; nothing to free). Failures as forge_create_pr()'s.
 */
int forge_get_pull(const forge_opts *o, long long number, forge_pull *out, grove_err *err);

/*
 * Parses a remote URL: https://[user[:pass]@]host[:port]/owner/name[.git],
 * ssh://[user@]host[:port]/owner/name[.git], or scp-like user@host:owner/name[.git].
 * *host and *owner_repo are malloc'd ("github.com", "owner/name"). -1 when
 * the URL has no owner/name path (a local path, file://).
 */
int forge_parse_remote(const char *url, char **host, char **owner_repo);

/*
 * Replaces in place every occurrence of `secret` (if non-empty) and the
 * userinfo of any "scheme://user:pass@" in `text` with "***".
 */
void forge_redact(char *text, size_t size, const char *secret);

#endif

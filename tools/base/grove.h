/*
 * Shared basics for every module: one error enum, an error value that carries
 * a one-line message, stderr logging, and timestamps.
 *
 * Convention (as in libgit2): fallible functions return 0 on success and -1 on
 * failure after filling the caller's `grove_err`. Messages are one line,
 * lowercase, the subject in quotes, no trailing period.
 */
#ifndef GROVE_COMMON_H
#define GROVE_COMMON_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

typedef enum grove_code {
    GROVE_OK = 0,
    GROVE_EINVAL,    /* a bad argument from the client or the command line */
    GROVE_ENOTFOUND, /* an instance, branch, checkpoint ... that does not exist */
    GROVE_ECONFLICT, /* exists already, dirty worktree, wrong state */
    GROVE_EGIT,      /* libgit2 failed */
    GROVE_EDB,       /* SQLite failed */
    GROVE_EIO,       /* the OS failed (files, processes) */
    GROVE_ENOMEM,
    GROVE_ESCHEMA, /* the database schema is newer or edited: refused */
    GROVE_EDENIED, /* the caller has no right to this (CONTRACT §5, caller rights) */
} grove_code;

/* A failure: code plus one-line message. Lives on the caller's stack. */
typedef struct grove_err {
    grove_code code;
    char msg[1024];
} grove_err;

#define GROVE_ERR_INIT                                                                             \
    {                                                                                              \
        GROVE_OK,                                                                                  \
        {                                                                                          \
            0                                                                                      \
        }                                                                                          \
    }

/* Fills `err` (if not NULL) and returns -1, so callers can `return grove_fail(...)`. */
int grove_fail(grove_err *err, grove_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* grove_fail() with a va_list. */
int grove_vfail(grove_err *err, grove_code code, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/* grove_nomem(err): -1. */
int grove_nomem(grove_err *err);

/* stderr logging; level from GROVE_LOG (debug, info, warn, error; default warn). */
typedef enum grove_log_level {
    GROVE_LOG_DEBUG,
    GROVE_LOG_INFO,
    GROVE_LOG_WARN,
    GROVE_LOG_ERROR,
} grove_log_level;

/* Reads GROVE_LOG once; call at program start. Returns -1 for an unknown level name. */
int grove_log_init(void);
void grove_log(grove_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define log_debug(...) grove_log(GROVE_LOG_DEBUG, __VA_ARGS__)
#define log_info(...)  grove_log(GROVE_LOG_INFO, __VA_ARGS__)
#define log_warn(...)  grove_log(GROVE_LOG_WARN, __VA_ARGS__)
#define log_error(...) grove_log(GROVE_LOG_ERROR, __VA_ARGS__)

/* Monotonic clock in milliseconds (for durations). */
double grove_now_ms(void);

/* Now as UTC ISO 8601 with milliseconds ("2026-11-22T03:00:00.123Z") into out. */
void grove_now_iso(char out[32]);

/* malloc'd printf. Returns NULL on allocation failure; the caller frees. */
char *grove_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* strdup that accepts NULL (returns NULL). The caller frees. */
char *grove_strdup(const char *s);

/* Creates `path` and its missing parents with `mode`. 0 or -1 with err filled. */
int grove_mkdirs(const char *path, unsigned mode, grove_err *err);

/*
 * Replaces every byte of `s` that is not part of a well-formed UTF-8
 * sequence with '?', in place, so the text can go into JSON (messages from
 * libgit2 or the OS may carry raw file names; a message cut at a buffer's
 * end may end mid-character).
 */
void grove_utf8_sanitize(char *s);

/*
 * Makes text one line, in place: every control character (C0, DEL;
 * newlines and tabs included) becomes a space, and spaces at both ends go.
 * For text from elsewhere (a program's stderr, a server's message) that
 * goes into a one-line message.
 */
void grove_one_line(char *s);

/*
 * "a, b, c (and 5 more)": items[0..n), at most `most` of them, joined into
 * buf (always NUL-terminated; what does not fit is left out whole).
 */
void grove_list_text(char *const *items, size_t n, size_t most, char *buf, size_t size);

/*
 * Progress of a long operation (a tool call): the MCP front-end turns it
 * into notifications/progress. Lower layers take a `const grove_progress *`
 * that may be NULL (nobody listens).
 */
typedef struct grove_progress {
    /* step counts from 1 and must grow; total may be 0 when unknown. */
    void (*emit)(void *arg, double step, double total, const char *message);
    void *arg;
} grove_progress;

/* Reports a step if `p` is not NULL. */
void grove_progress_step(const grove_progress *p, double step, double total, const char *message);

#endif

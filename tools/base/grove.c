#include "tools/base/grove.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

int grove_vfail(grove_err *err, grove_code code, const char *fmt, va_list ap)
{
    if (!err)
        return -1;
    err->code = code;
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    grove_utf8_sanitize(err->msg);
    return -1;
}

int grove_fail(grove_err *err, grove_code code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    grove_vfail(err, code, fmt, ap);
    va_end(ap);
    return -1;
}

int grove_nomem(grove_err *err)
{
    return grove_fail(err, GROVE_ENOMEM, "out of memory");
}

/*
 * The log threshold is process-wide configuration read once from the
 * environment at start; it is written before any thread exists.
 */
static grove_log_level log_threshold = GROVE_LOG_WARN;

int grove_log_init(void)
{
    static const char *const names[] = {"debug", "info", "warn", "error"};
    const char *v = getenv("GROVE_LOG");
    size_t i;

    if (!v || !*v)
        return 0;
    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcmp(v, names[i]) == 0) {
            log_threshold = (grove_log_level)i;
            return 0;
        }
    }
    return -1;
}

void grove_log(grove_log_level level, const char *fmt, ...)
{
    static const char *const tags[] = {"debug", "info", "warning", "error"};
    char line[2048];
    va_list ap;
    int n;

    if (level < log_threshold)
        return;
    n = snprintf(line, sizeof(line), "grove: %s: ", tags[level]);
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    va_end(ap);
    /* One fputs per line so concurrent processes do not interleave mid-line. */
    strncat(line, "\n", sizeof(line) - strlen(line) - 1);
    fputs(line, stderr);
}

double grove_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

void grove_now_iso(char out[32])
{
    struct timespec ts;
    struct tm tm;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    snprintf(out, 32, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
}

char *grove_asprintf(const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;
    int n;

    va_start(ap, fmt);
    n = vasprintf(&s, fmt, ap);
    va_end(ap);
    return n < 0 ? NULL : s;
}

char *grove_strdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

int grove_mkdirs(const char *path, unsigned mode, grove_err *err)
{
    char *p = strdup(path);
    char *s;
    int rc = 0;

    if (!p)
        return grove_nomem(err);
    for (s = p + 1;; s++) {
        if (*s == '/' || *s == '\0') {
            char c = *s;

            *s = '\0';
            if (mkdir(p, (mode_t)mode) != 0 && errno != EEXIST) {
                rc =
                    grove_fail(err, GROVE_EIO, "cannot create folder '%s': %s", p, strerror(errno));
                break;
            }
            *s = c;
            if (c == '\0')
                break;
        }
    }
    free(p);
    return rc;
}

/* Length of the well-formed UTF-8 sequence at s (RFC 3629), or 0. */
static size_t utf8_seq(const unsigned char *s)
{
    unsigned char c = s[0];
    size_t n, i;

    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        n = 2;
    else if (c >= 0xE0 && c <= 0xEF)
        n = 3;
    else if (c >= 0xF0 && c <= 0xF4)
        n = 4;
    else
        return 0;
    for (i = 1; i < n; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    if ((c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] > 0x9F) || (c == 0xF0 && s[1] < 0x90) ||
        (c == 0xF4 && s[1] > 0x8F))
        return 0; /* overlong, surrogate, or beyond U+10FFFF */
    return n;
}

void grove_utf8_sanitize(char *s)
{
    unsigned char *p = (unsigned char *)s;

    while (*p) {
        size_t n = utf8_seq(p);

        if (n == 0) {
            *p++ = '?';
            continue;
        }
        p += n;
    }
}

void grove_progress_step(const grove_progress *p, double step, double total, const char *message)
{
    if (p && p->emit)
        p->emit(p->arg, step, total, message);
}

void grove_one_line(char *s)
{
    size_t n, i, start = 0;

    for (i = 0; s[i]; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            s[i] = ' ';
    while (s[start] == ' ')
        start++;
    if (start)
        memmove(s, s + start, strlen(s + start) + 1);
    n = strlen(s);
    while (n > 0 && s[n - 1] == ' ')
        s[--n] = '\0';
}

void grove_list_text(char *const *items, size_t n, size_t most, char *buf, size_t size)
{
    size_t i, used = 0;

    if (!size)
        return;
    buf[0] = '\0';
    for (i = 0; i < n; i++) {
        int k;

        if (i == most) {
            snprintf(buf + used, size - used, " (and %zu more)", n - most);
            return;
        }
        k = snprintf(buf + used, size - used, "%s%s", i ? ", " : "", items[i]);
        if (k < 0 || (size_t)k >= size - used) {
            buf[used] = '\0';
            return;
        }
        used += (size_t)k;
    }
}

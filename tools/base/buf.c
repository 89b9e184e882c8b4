/* buf: a growable byte buffer with a cap (see buf.h). */
#include "tools/base/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int buf_add(grove_buf *b, const void *p, size_t n)
{
    int dropped = 0;

    if (n > b->max - b->len) {
        n = b->max - b->len;
        b->truncated = dropped = 1;
    }
    if (n == 0)
        return dropped;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        char *d;

        while (cap < b->len + n + 1)
            cap = cap > b->max ? b->max + 1 : cap * 2;
        if (cap < b->len + n + 1)
            cap = b->len + n + 1;
        if (!(d = realloc(b->data, cap)))
            return -1;
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return dropped;
}

int buf_printf(grove_buf *b, const char *fmt, ...)
{
    char small[256], *big = NULL;
    va_list ap;
    int n, rc;

    va_start(ap, fmt);
    n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0)
        return -1;
    if ((size_t)n < sizeof(small))
        return buf_add(b, small, (size_t)n);
    if (!(big = malloc((size_t)n + 1)))
        return -1;
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    rc = buf_add(b, big, (size_t)n);
    free(big);
    return rc;
}

const char *buf_str(const grove_buf *b)
{
    return b->data ? b->data : "";
}

char *buf_take(grove_buf *b)
{
    char *s = b->data ? b->data : strdup("");

    b->data = NULL;
    b->len = b->cap = 0;
    b->truncated = 0;
    return s;
}

void buf_free(grove_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->truncated = 0;
}

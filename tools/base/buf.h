/*
 * buf: the one growable byte buffer, always with a cap (as curl's dynbuf).
 * Its text is NUL-terminated; what would pass the cap is dropped and
 * remembered, so that a caller can say "truncated" or refuse, as it needs.
 *
 *     grove_buf b = BUF_INIT(1 << 20);
 *     if (buf_add(&b, p, n) < 0) ... out of memory
 *     ... buf_str(&b), b.len, b.truncated ...
 *     buf_free(&b);
 */
#ifndef GROVE_BUF_H
#define GROVE_BUF_H

#include <stddef.h>

typedef struct grove_buf {
    char *data;    /* owned; NULL until the first byte */
    size_t len;    /* bytes held, without the NUL */
    size_t cap;    /* bytes allocated */
    size_t max;    /* most bytes it ever holds */
    int truncated; /* 1 once something was dropped at the cap */
} grove_buf;

#define BUF_INIT(max)                                                                              \
    {                                                                                              \
        NULL, 0, 0, (max), 0                                                                       \
    }

/*
 * Appends n bytes of p; what goes past the cap is dropped (truncated set).
 * 0 when all of it went in, 1 when some was dropped, -1 when memory ran out
 * (the buffer is as it was).
 */
int buf_add(grove_buf *b, const void *p, size_t n);

/* Appends printf output, with buf_add()'s cap and return. */
int buf_printf(grove_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The text (borrowed; "" when empty), valid until the next change. */
const char *buf_str(const grove_buf *b);

/* Hands the text to the caller (malloc'd; never NULL unless memory ran out) and empties b. */
char *buf_take(grove_buf *b);

/* Empties b and frees its memory; the cap stays. */
void buf_free(grove_buf *b);

#endif

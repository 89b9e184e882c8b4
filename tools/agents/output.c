#include "tools/agents/output.h"

#include <string.h>

/* Where the escape sequence at in[i] (in[i] is ESC, or a C1 introducer) ends: the next index. */
static size_t skip_sequence(const unsigned char *in, size_t n, size_t i, unsigned char intro)
{
    switch (intro) {
    case '[': /* CSI: parameters and intermediates, then one final byte 0x40-0x7e */
        while (i < n && !(in[i] >= 0x40 && in[i] <= 0x7e))
            i++;
        return i < n ? i + 1 : n;
    case ']': /* OSC, DCS, SOS, PM, APC: a string, ended by BEL or ST (ESC \ or 0x9c) */
    case 'P':
    case 'X':
    case '^':
    case '_':
        while (i < n) {
            if (in[i] == 0x07)
                return i + 1;
            if (in[i] == 0x1b && i + 1 < n && in[i + 1] == '\\')
                return i + 2;
            if (in[i] == 0xc2 && i + 1 < n && in[i + 1] == 0x9c)
                return i + 2;
            i++;
        }
        return n;
    default:
        /* ESC = and the like end at their second byte; ESC ( B: intermediates, then a final */
        if (!(intro >= 0x20 && intro <= 0x2f))
            return i;
        while (i < n && in[i] >= 0x20 && in[i] <= 0x2f)
            i++;
        return i < n ? i + 1 : n;
    }
}

int output_clean(const char *text, size_t n, grove_buf *out)
{
    const unsigned char *in = (const unsigned char *)text;
    size_t i = 0, run = 0, line = out->len; /* line: where the current line starts in out */
    int rc = 0;

#define FLUSH()                                                                                    \
    do {                                                                                           \
        if (i > run && buf_add(out, in + run, i - run) < 0)                                        \
            return -1;                                                                             \
    } while (0)
    while (i < n) {
        unsigned char c = in[i];

        if (c == 0x1b || (c == 0xc2 && i + 1 < n && in[i + 1] >= 0x80 && in[i + 1] <= 0x9f)) {
            size_t width = c == 0x1b ? 1 : 2;
            unsigned char intro = c == 0x1b ? (i + 1 < n ? in[i + 1] : 0) : 0;

            FLUSH();
            if (c == 0xc2) /* C1: 0x9b CSI, 0x9d OSC, 0x90 DCS, ... */
                intro = in[i + 1] == 0x9b   ? '['
                        : in[i + 1] == 0x9d ? ']'
                        : in[i + 1] == 0x90 ? 'P'
                        : in[i + 1] == 0x98 ? 'X'
                        : in[i + 1] == 0x9e ? '^'
                        : in[i + 1] == 0x9f ? '_'
                                            : 0;
            if (c == 0xc2)
                i = intro ? skip_sequence(in, n, i + width, intro) : i + width;
            else
                i = i + 1 < n ? skip_sequence(in, n, i + 2, intro) : n;
            run = i;
            continue;
        }
        if (c == '\r') {
            FLUSH();
            if (i + 1 < n && in[i + 1] == '\n') {
                i++; /* "\r\n": the newline is kept with the next run */
            } else if (i + 1 < n) {
                /* a lone \r: the line is drawn again from its start */
                out->len = line;
                if (out->data)
                    out->data[line] = '\0';
                i++;
            } else {
                i++;
            }
            run = i;
            continue;
        }
        if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f) {
            FLUSH();
            run = ++i;
            continue;
        }
        i++;
        if (c == '\n') {
            FLUSH();
            run = i;
            line = out->len;
        }
    }
    FLUSH();
#undef FLUSH
    return out->truncated ? 1 : rc;
}

const char *output_tail(const char *text, size_t *len, int lines, int *count)
{
    size_t end = *len, start;
    int k = 0;

    /* trailing blank lines (spaces, tabs and newlines) are the terminal's padding */
    while (end > 0 && (text[end - 1] == '\n' || text[end - 1] == ' ' || text[end - 1] == '\t'))
        end--;
    /* end the text at the end of that last line */
    start = end;
    if (end == 0) {
        *len = 0;
        *count = 0;
        return text;
    }
    while (start > 0 && k < lines) {
        if (text[start - 1] == '\n' && ++k == lines)
            break;
        start--;
    }
    if (start == 0 && k < lines)
        k++;
    *len = end - start;
    *count = k;
    return text + start;
}

/*
 * output: what an agent printed, as text a person or another agent can
 * read: terminal escape sequences and control characters taken out, only
 * the last lines kept. Pure functions over bytes; tmux and log files are
 * read by agent.c and the core.
 */
#ifndef GROVE_OUTPUT_H
#define GROVE_OUTPUT_H

#include <stddef.h>

#include "tools/base/buf.h"

/*
 * Appends the n bytes of `in` to `out` as plain text: escape sequences
 * (CSI, OSC, DCS and the other string sequences, two-byte ESC sequences,
 * and their 8-bit C1 forms) removed; C0 control characters but newline and
 * tab removed; "\r\n" is a newline, and a lone "\r" (a progress bar
 * redrawing its line) drops what came before it on that line. A byte 0xC2
 * (the lead of a C1 control) without a continuation byte after it is
 * dropped; other invalid UTF-8 is kept as it is (the caller sanitises).
 * buf_add()'s result.
 */
int output_clean(const char *in, size_t n, grove_buf *out);

/*
 * The start of the last `lines` lines of text (len bytes), after trailing
 * blank lines (a terminal pads its screen with them) are cut off: *len is
 * set to the length up to the end of the last non-blank line. *count gets
 * how many lines that is (at most `lines`).
 */
const char *output_tail(const char *text, size_t *len, int lines, int *count);

#endif

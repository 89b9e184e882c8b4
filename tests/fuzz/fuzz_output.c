/*
 * fuzz_output: output_clean() and output_tail() (tools/agents/output.h), the
 * cleaning of an agent's terminal output that read_agent_output and grove
 * watch hand on, on arbitrary bytes (an agent prints whatever it likes).
 *
 * Promises, checked independently of the cleaner's own code: the clean
 * text holds no ESC, no C0 control character but newline and tab, no DEL
 * and no C1 control (U+0080..U+009F as UTF-8); it is never longer than the
 * input; and every bytes of it came from the input in order (it is a
 * subsequence of the input). The tail of `lines` lines lies within the
 * text, holds at most lines - 1 newlines, says how many lines it holds, and
 * ends in no blank padding.
 */
#include <stdlib.h>
#include <string.h>

#include "tests/fuzz/fuzz.h"
#include "tools/agents/output.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    grove_buf b = BUF_INIT(1u << 20);
    const unsigned char *t;
    const char *tail;
    size_t i, k, len, newlines;
    int lines, n, r;

    r = output_clean((const char *)data, size, &b);
    FUZZ_CHECK(r >= 0, "output_clean failed (%d) on %zu bytes", r, size);
    t = (const unsigned char *)buf_str(&b);
    FUZZ_CHECK(b.len <= size, "clean text (%zu) longer than the input (%zu)", b.len, size);
    for (i = 0; i < b.len; i++) {
        FUZZ_CHECK(t[i] != 0x1b && t[i] != 0x7f, "ESC or DEL at %zu", i);
        FUZZ_CHECK(t[i] >= 0x20 || t[i] == '\n' || t[i] == '\t', "control 0x%02x at %zu", t[i],
                   i);
        FUZZ_CHECK(!(t[i] == 0xc2 && i + 1 < b.len && t[i + 1] >= 0x80 && t[i + 1] <= 0x9f),
                   "C1 control at %zu", i);
    }
    /* a subsequence of the input: every byte kept came from it, in order */
    for (i = 0, k = 0; i < b.len && k < size; k++)
        if (t[i] == data[k])
            i++;
    FUZZ_CHECK(i == b.len, "the clean text is not drawn from the input (%zu of %zu)", i, b.len);

    lines = size ? 1 + data[0] % 6 : 1;
    len = b.len;
    tail = output_tail((const char *)t, &len, lines, &n);
    FUZZ_CHECK(tail >= (const char *)t && tail + len <= (const char *)t + b.len,
               "the tail lies outside the text");
    FUZZ_CHECK(n >= 0 && n <= lines, "the tail says %d lines of %d", n, lines);
    for (i = 0, newlines = 0; i < len; i++)
        newlines += tail[i] == '\n';
    FUZZ_CHECK(len == 0 ? n == 0 : (int)newlines == n - 1, "%zu newlines in %d lines", newlines,
               n);
    FUZZ_CHECK(len == 0 || (tail[len - 1] != '\n' && tail[len - 1] != ' ' && tail[len - 1] != '\t'),
               "the tail ends in padding");
    buf_free(&b);
    return 0;
}

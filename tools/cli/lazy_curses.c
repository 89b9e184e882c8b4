/*
 * lazy_curses: ncurses (libncursesw), loaded when `grove watch` starts.
 * grove is not linked against it: these definitions of the few curses
 * functions tools/cli/watch.c calls dlopen() it on lazy_curses_load() and
 * forward to it, as tools/forge/lazy_curl.c does for libcurl.
 *
 * Why: linked, libncursesw and libtinfo were mapped and relocated at every
 * start of every grove process, `grove serve` included: 0.43 MB more
 * resident memory (9.24 -> 9.66 MB after one call, against the 10 MB goal)
 * and about 0.2 ms more to start, for one command.
 *
 * watch.c uses no curses global (stdscr, curscr, LINES, COLS): the window
 * comes from lazy_curses_stdscr() and its size from getmaxy()/getmaxx(),
 * which this curses.h makes macros over the WINDOW structure.
 */
#include "tools/cli/lazy_curses.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#ifndef GROVE_NCURSESW_SONAME
#define GROVE_NCURSESW_SONAME "libncursesw.so.6"
#endif

static void *lib;
static WINDOW **lib_stdscr;
static char why[300] = "ncurses is not loaded";

/* The functions watch.c calls: return type, name, parameters, arguments, result when not loaded. */
#define CURSES_FUNCS(X)                                                                            \
    X(SCREEN *, newterm, (const char *a, FILE *b, FILE *c), (a, b, c), NULL)                       \
    X(int, endwin, (void), (), ERR)                                                                \
    X(int, cbreak, (void), (), ERR)                                                                \
    X(int, noecho, (void), (), ERR)                                                                \
    X(int, nonl, (void), (), ERR)                                                                  \
    X(int, keypad, (WINDOW * w, bool b), (w, b), ERR)                                              \
    X(int, set_escdelay, (int ms), (ms), ERR)                                                      \
    X(int, curs_set, (int v), (v), ERR)                                                            \
    X(bool, has_colors, (void), (), FALSE)                                                         \
    X(int, start_color, (void), (), ERR)                                                           \
    X(int, use_default_colors, (void), (), ERR)                                                    \
    X(int, init_pair, (NCURSES_PAIRS_T p, NCURSES_COLOR_T f, NCURSES_COLOR_T b), (p, f, b), ERR)   \
    X(int, wattr_on, (WINDOW * w, attr_t a, void *o), (w, a, o), ERR)                              \
    X(int, wattr_off, (WINDOW * w, attr_t a, void *o), (w, a, o), ERR)                             \
    X(int, wmove, (WINDOW * w, int y, int x), (w, y, x), ERR)                                      \
    X(int, waddnstr, (WINDOW * w, const char *s, int n), (w, s, n), ERR)                           \
    X(int, whline, (WINDOW * w, chtype c, int n), (w, c, n), ERR)                                  \
    X(int, werase, (WINDOW * w), (w), ERR)                                                         \
    X(int, wrefresh, (WINDOW * w), (w), ERR)                                                       \
    X(int, wgetch, (WINDOW * w), (w), ERR)                                                         \
    X(int, def_prog_mode, (void), (), ERR)                                                         \
    X(int, reset_prog_mode, (void), (), ERR)                                                       \
    X(int, clearok, (WINDOW * w, bool b), (w, b), ERR)

#define POINTER(ret, name, params, args, none) ret(*name) params;
static struct {
    CURSES_FUNCS(POINTER)
    void (*delscreen)(SCREEN *);
    void (*wtimeout)(WINDOW *, int);
} fn;
#undef POINTER

/* dlsym() into a function pointer (POSIX: same representation; ISO C has no such cast). */
static int sym(const char *name, void *slot)
{
    void *p = dlsym(lib, name);

    if (!p) {
        snprintf(why, sizeof(why), "cannot use %s: %s", GROVE_NCURSESW_SONAME, dlerror());
        return -1;
    }
    memcpy(slot, &p, sizeof(p));
    return 0;
}

int lazy_curses_load(const char **reason)
{
    void *h;

    if (lib && lib_stdscr)
        return 0;
    if (!(h = dlopen(GROVE_NCURSESW_SONAME, RTLD_NOW | RTLD_LOCAL))) {
        snprintf(why, sizeof(why), "cannot load %s (install libncursesw6): %s",
                 GROVE_NCURSESW_SONAME, dlerror());
        *reason = why;
        return -1;
    }
    lib = h;
#define LOAD(ret, name, params, args, none)                                                        \
    if (sym(#name, &fn.name) != 0)                                                                 \
        goto fail;
    CURSES_FUNCS(LOAD)
#undef LOAD
    if (sym("delscreen", &fn.delscreen) != 0 || sym("wtimeout", &fn.wtimeout) != 0 ||
        !(lib_stdscr = dlsym(lib, "stdscr"))) {
        if (!lib_stdscr)
            snprintf(why, sizeof(why), "cannot use %s: no stdscr", GROVE_NCURSESW_SONAME);
        goto fail;
    }
    return 0;
fail:
    memset(&fn, 0, sizeof(fn));
    lib_stdscr = NULL;
    *reason = why;
    return -1;
}

WINDOW *lazy_curses_stdscr(void)
{
    return lib_stdscr ? *lib_stdscr : NULL;
}

/* The definitions grove calls, each forwarding to the library once loaded. */
#define FORWARD(ret, name, params, args, none)                                                     \
    ret name params                                                                                \
    {                                                                                              \
        return fn.name ? fn.name args : none;                                                      \
    }
CURSES_FUNCS(FORWARD)
#undef FORWARD

void delscreen(SCREEN *s)
{
    if (fn.delscreen)
        fn.delscreen(s);
}

void wtimeout(WINDOW *w, int ms)
{
    if (fn.wtimeout)
        fn.wtimeout(w, ms);
}

/*
 * lazy_curses: ncurses for `grove watch`, loaded when it starts (see
 * lazy_curses.c): grove is not linked against libncursesw. Include this
 * instead of <curses.h>.
 */
#ifndef GROVE_LAZY_CURSES_H
#define GROVE_LAZY_CURSES_H

#include <curses.h>

/*
 * Loads libncursesw (once). 0, or -1 with *reason (a static one-line text)
 * saying why not. Before it succeeds, every curses function fails (ERR,
 * NULL) and does nothing.
 */
int lazy_curses_load(const char **reason);

/* The library's stdscr (set by newterm()), or NULL. */
WINDOW *lazy_curses_stdscr(void);

#endif

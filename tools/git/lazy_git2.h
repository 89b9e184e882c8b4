/*
 * lazy_git2: libgit2, loaded on first use (tools/git/lazy_git2.c). grove is not
 * linked against libgit2: tools/git/lazy_git2.sym names the libgit2 functions
 * grove and its tests call, and a definition of each, generated at build
 * time from libgit2's headers (tools/git/lazy_git2.py), loads the library the
 * first time one is called and forwards to it. Add a function to the list
 * when the linker says it is undefined.
 */
#ifndef GROVE_LAZY_GIT2_H
#define GROVE_LAZY_GIT2_H

#include <stdatomic.h>
#include <stddef.h>

/*
 * Loads libgit2 and resolves every listed function (once; later calls
 * return the first answer). 0, or -1 with the reason in why (cap bytes).
 */
int lazy_git2_load(char *why, size_t cap);

/* ---- for the generated definitions ------------------------------------- */

typedef struct lazy_git2_sym {
    const char *name;
    void *slot; /* the address of the function pointer to fill */
} lazy_git2_sym;

extern const lazy_git2_sym lazy_git2_syms[];
extern const size_t lazy_git2_nsyms;
extern atomic_int lazy_git2_ready;

/* Loads libgit2 or, when it cannot be loaded, says why on stderr and aborts. */
void lazy_git2_need(void);

#define LAZY_GIT2_NEED()                                                                           \
    do {                                                                                           \
        if (!atomic_load_explicit(&lazy_git2_ready, memory_order_acquire))                         \
            lazy_git2_need();                                                                      \
    } while (0)

#endif

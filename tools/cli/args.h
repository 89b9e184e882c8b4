/*
 * args: the command line of one grove subcommand. Flags are "--name",
 * "--name VALUE" or "--name=VALUE"; everything else is positional.
 */
#ifndef GROVE_ARGS_H
#define GROVE_ARGS_H

/* One accepted flag: takes_value 1 for "--to N", 0 for "--json". */
typedef struct arg_flag {
    const char *name; /* without the dashes */
    int takes_value;
} arg_flag;

#define ARGS_MAX_POS   8
#define ARGS_MAX_FLAGS 16

typedef struct args {
    const char *values[ARGS_MAX_FLAGS]; /* per accepted flag: its value, "" for a switch, NULL when
                                           absent */
    const char *pos[ARGS_MAX_POS];      /* positional arguments, borrowed from argv */
    int npos;
    int help; /* --help or -h was given */
} args;

/*
 * Parses argv[0..argc) (without the command name) against `flags` (at most
 * ARGS_MAX_FLAGS, terminated by {NULL, 0}). Unknown flag, missing value or
 * too many positionals: message on stderr naming `cmd`, returns 2 (the exit
 * code). 0 on success.
 */
int args_parse(args *out, const char *cmd, const arg_flag *flags, int argc, char **argv);

/* The value of flag `name` (NULL when absent, "" for a given switch). */
const char *args_get(const args *a, const arg_flag *flags, const char *name);

#endif

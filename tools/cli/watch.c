/*
 * grove watch: a live terminal view of every instance (CONTRACT §7),
 * through ncurses (loaded when it starts: lazy_curses.h): one overview
 * (tools/core/overview.h) per refresh, drawn with werase() + wrefresh(), so
 * that ncurses sends only what changed (no flicker, fine over ssh). Plain
 * text when stdout is no terminal.
 * grove attach ID: the terminal on an instance's tmux session.
 *
 * Rendering only: what the rows hold, and when the expensive parts are
 * computed again, is core's business.
 */
#include "tools/cli/cli.h"

#include <fcntl.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <wchar.h>

#include "tools/cli/args.h"
#include "tools/cli/cli_common.h"
#include "tools/cli/lazy_curses.h"
#include "tools/core/agent_output.h"
#include "tools/core/overview.h"

#define INTERVAL_DEFAULT 1.0
#define OUTPUT_LINES     500 /* lines of history `o` reads: more than a screen holds */
#define KEY_ESC          27

/*
 * The screen of this one command (lazy_curses_stdscr()), and its size: no
 * curses global is used (ncurses is loaded when `grove watch` starts).
 */
static WINDOW *scr;

static int scr_lines(void)
{
    return getmaxy(scr);
}

static int scr_cols(void)
{
    return getmaxx(scr);
}

/* The columns of one row, as text. */
typedef struct cells {
    char id[128];
    char state[16];
    char since[16];
    char git[32];
    char dirty[16];
    char checkpoint[160];
    char conflicts[48];
    char ports[32];
} cells;

enum { COL_ID, COL_STATE, COL_SINCE, COL_GIT, COL_DIRTY, COL_CHECKPOINT, COL_CONFLICTS, COL_PORTS };
#define NCOLS 8

static const char *const headers[NCOLS] = {"ID",    "STATE",      "FOR",       "AHEAD/BEHIND",
                                           "DIRTY", "CHECKPOINT", "CONFLICTS", "PORTS"};

/* A duration as "42s", "5m03s", "2h05m", "3d04h"; "-" when unknown (< 0). */
static void duration_text(long long s, char *buf, size_t len)
{
    if (s < 0)
        snprintf(buf, len, "-");
    else if (s < 60)
        snprintf(buf, len, "%llds", s);
    else if (s < 3600)
        snprintf(buf, len, "%lldm%02llds", s / 60, s % 60);
    else if (s < 86400)
        snprintf(buf, len, "%lldh%02lldm", s / 3600, s % 3600 / 60);
    else
        snprintf(buf, len, "%lldd%02lldh", s / 86400, s % 86400 / 3600);
}

static const char *str_or(const char *s, const char *dflt)
{
    return s && *s ? s : dflt;
}

/* The text of each column of r. Text from the database is made one line (no control bytes). */
static void row_cells(const overview_row *r, cells *c)
{
    char age[16];

    snprintf(c->id, sizeof(c->id), "%s", str_or(r->inst.id, "?"));
    snprintf(c->state, sizeof(c->state), "%s", r->state);
    duration_text(r->state_secs, c->since, sizeof(c->since));
    if (r->git_known) {
        snprintf(c->git, sizeof(c->git), "+%zu/-%zu", r->ahead, r->behind);
        snprintf(c->dirty, sizeof(c->dirty), "%zu", r->ndirty);
    } else {
        snprintf(c->git, sizeof(c->git), "-");
        snprintf(c->dirty, sizeof(c->dirty), "-");
    }
    if (r->checkpoint_known) {
        const grove_checkpoint *cp = &r->checkpoint;

        duration_text(r->checkpoint_secs, age, sizeof(age));
        snprintf(c->checkpoint, sizeof(c->checkpoint), "#%lld %s%s%s %s, %s ago", cp->sequence,
                 str_or(cp->phase, "?"), cp->name ? "/" : "", cp->name ? cp->name : "",
                 str_or(cp->status, "?"), age);
    } else {
        snprintf(c->checkpoint, sizeof(c->checkpoint), "-");
    }
    if (!r->conflicts_known)
        snprintf(c->conflicts, sizeof(c->conflicts), "-");
    else if (!r->conflicts_with && !r->conflicts_base)
        snprintf(c->conflicts, sizeof(c->conflicts), "none");
    else if (!r->conflicts_base)
        snprintf(c->conflicts, sizeof(c->conflicts), "%zu inst", r->conflicts_with);
    else if (!r->conflicts_with)
        snprintf(c->conflicts, sizeof(c->conflicts), "base %zu", r->conflicts_base);
    else
        snprintf(c->conflicts, sizeof(c->conflicts), "%zu inst, base %zu", r->conflicts_with,
                 r->conflicts_base);
    if (r->inst.port_first > 0)
        snprintf(c->ports, sizeof(c->ports), "%lld-%lld", r->inst.port_first,
                 r->inst.port_first + r->inst.port_count - 1);
    else
        snprintf(c->ports, sizeof(c->ports), "-");
    grove_one_line(c->id);
    grove_one_line(c->checkpoint);
}

static const char *cell(const cells *c, int col)
{
    switch (col) {
    case COL_ID:
        return c->id;
    case COL_STATE:
        return c->state;
    case COL_SINCE:
        return c->since;
    case COL_GIT:
        return c->git;
    case COL_DIRTY:
        return c->dirty;
    case COL_CHECKPOINT:
        return c->checkpoint;
    case COL_CONFLICTS:
        return c->conflicts;
    case COL_PORTS:
        return c->ports;
    }
    return "";
}

/* The width of each column: its header, its widest cell; CHECKPOINT at most 48. */
static void col_widths(const cells *cs, size_t n, int w[NCOLS])
{
    size_t i;
    int k;

    for (k = 0; k < NCOLS; k++)
        w[k] = (int)strlen(headers[k]);
    for (i = 0; i < n; i++)
        for (k = 0; k < NCOLS; k++) {
            int len = (int)strlen(cell(&cs[i], k));

            if (len > w[k])
                w[k] = len;
        }
    if (w[COL_CHECKPOINT] > 48)
        w[COL_CHECKPOINT] = 48;
}

static cells *all_cells(const overview *ov)
{
    cells *cs = calloc(ov->n ? ov->n : 1, sizeof(*cs));
    size_t i;

    for (i = 0; cs && i < ov->n; i++)
        row_cells(&ov->v[i], &cs[i]);
    return cs;
}

/* ---- plain text ------------------------------------------------------------- */

static int print_snapshot(const overview *ov)
{
    cells *cs = all_cells(ov);
    int w[NCOLS], k;
    size_t i;

    if (!cs) {
        fprintf(stderr, "grove watch: out of memory\n");
        return 1;
    }
    if (ov->n == 0) {
        printf("no instances\n");
    } else {
        col_widths(cs, ov->n, w);
        for (k = 0; k < NCOLS; k++)
            if (k + 1 < NCOLS)
                printf("%-*s  ", w[k], headers[k]);
            else
                printf("%s\n", headers[k]);
        for (i = 0; i < ov->n; i++)
            for (k = 0; k < NCOLS; k++)
                if (k + 1 < NCOLS)
                    printf("%-*.*s  ", w[k], w[k], cell(&cs[i], k));
                else
                    printf("%s\n", cell(&cs[i], k));
    }
    if (ov->warning[0])
        fprintf(stderr, "grove watch: warning: %s\n", ov->warning);
    free(cs);
    return 0;
}

/* ---- the terminal ----------------------------------------------------------- */

typedef struct view {
    grove_ctx *ctx;
    overview_cache *cache;
    overview_opts opts;
    overview ov;
    double interval_s;
    char *selected;    /* owned: the selected instance's id (kept across refreshes), or NULL */
    size_t sel;        /* its row */
    size_t top;        /* the first row shown */
    int output;        /* 1: showing the selected agent's output */
    char *output_id;   /* owned: whose */
    char *output_text; /* owned: its last capture */
    char message[512]; /* the status line: the last error, or "" */
    int color;
    int saved_err; /* stderr as it was (logs go to /dev/null while ncurses draws) */
} view;

static void stderr_quiet(view *v)
{
    int null = open("/dev/null", O_WRONLY | O_CLOEXEC);

    if (null >= 0) {
        fflush(stderr);
        dup2(null, STDERR_FILENO);
        close(null);
    }
    (void)v;
}

static void stderr_restore(view *v)
{
    if (v->saved_err >= 0) {
        fflush(stderr);
        dup2(v->saved_err, STDERR_FILENO);
    }
}

/* How many bytes of s (n bytes) fill at most `cols` columns; control bytes count as one. */
static size_t fit_bytes(const char *s, size_t n, int cols)
{
    mbstate_t st;
    size_t i = 0;
    int used = 0;

    memset(&st, 0, sizeof(st));
    while (i < n) {
        wchar_t wc;
        size_t len = mbrtowc(&wc, s + i, n - i, &st);
        int wdt;

        if (len == (size_t)-1 || len == (size_t)-2) {
            memset(&st, 0, sizeof(st));
            len = 1;
            wdt = 1;
        } else {
            if (len == 0)
                len = 1;
            wdt = wcwidth(wc);
            if (wdt < 0)
                wdt = 1;
        }
        if (used + wdt > cols)
            break;
        used += wdt;
        i += len;
    }
    return i;
}

/* Writes s at (y, x) clipped to `cols` columns, control bytes shown as '?'. */
static void put_clipped(int y, int x, const char *s, size_t n, int cols)
{
    char line[1024];
    size_t i, len;

    if (cols <= 0)
        return;
    if (n >= sizeof(line))
        n = sizeof(line) - 1;
    for (i = 0; i < n; i++)
        line[i] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? '?' : s[i];
    line[n] = '\0';
    len = fit_bytes(line, n, cols);
    mvwaddnstr(scr, y, x, line, (int)len);
}

static void put_text(int y, int x, const char *s, int cols)
{
    put_clipped(y, x, s, strlen(s), cols);
}

static int state_attr(const view *v, const overview_row *r)
{
    if (!v->color)
        return r->rank == OVERVIEW_WAITING ? A_BOLD : 0;
    switch (r->rank) {
    case OVERVIEW_WAITING:
        return COLOR_PAIR(1) | A_BOLD;
    case OVERVIEW_WORKING:
        return COLOR_PAIR(2);
    case OVERVIEW_IDLE:
        return 0;
    case OVERVIEW_DONE:
        return A_DIM;
    }
    return 0;
}

static void draw_list(view *v)
{
    cells *cs = all_cells(&v->ov);
    size_t i, nwait = 0, rows;
    int w[NCOLS], k, y, x;
    char title[256], clock[16];
    time_t t = (time_t)v->ov.now;
    struct tm tm;

    localtime_r(&t, &tm);
    strftime(clock, sizeof(clock), "%H:%M:%S", &tm);
    for (i = 0; i < v->ov.n; i++)
        nwait += v->ov.v[i].rank == OVERVIEW_WAITING;
    snprintf(title, sizeof(title), "grove watch  %zu instance%s, %zu waiting  %s", v->ov.n,
             v->ov.n == 1 ? "" : "s", nwait, clock);
    wattron(scr, A_BOLD);
    put_text(0, 0, title, scr_cols());
    wattroff(scr, A_BOLD);
    if (!cs) {
        put_text(2, 0, "out of memory", scr_cols());
        return;
    }
    col_widths(cs, v->ov.n, w);
    wattron(scr, A_UNDERLINE);
    for (k = 0, x = 0; k < NCOLS && x < scr_cols(); x += w[k] + 2, k++)
        put_text(1, x, headers[k], scr_cols() - x);
    wattroff(scr, A_UNDERLINE);
    if (v->ov.n == 0)
        put_text(2, 0, "no instances", scr_cols());
    rows = scr_lines() > 3 ? (size_t)(scr_lines() - 3) : 1;
    if (v->sel < v->top)
        v->top = v->sel;
    if (v->sel >= v->top + rows)
        v->top = v->sel - rows + 1;
    for (i = v->top, y = 2; i < v->ov.n && y < scr_lines() - 1; i++, y++) {
        const overview_row *r = &v->ov.v[i];
        int attr = i == v->sel ? A_REVERSE : 0;

        if (attr) {
            wattron(scr, attr);
            mvwhline(scr, y, 0, ' ', scr_cols());
        }
        for (k = 0, x = 0; k < NCOLS && x < scr_cols(); x += w[k] + 2, k++) {
            int a = k == COL_STATE ? state_attr(v, r) : 0;
            int room = scr_cols() - x < w[k] ? scr_cols() - x : w[k];

            wattron(scr, a);
            put_text(y, x, cell(&cs[i], k), room);
            wattroff(scr, a);
        }
        if (attr)
            wattroff(scr, attr);
    }
    free(cs);
}

static void draw_output(view *v)
{
    const char *text = v->output_text ? v->output_text : "";
    const char *p, *end = text + strlen(text);
    char title[256];
    int rows = scr_lines() > 2 ? scr_lines() - 2 : 1, nlines = 1, skip, y;

    snprintf(title, sizeof(title), "output of %s  (o, q or Esc: back to the list; a: attach)",
             v->output_id ? v->output_id : "?");
    wattron(scr, A_BOLD);
    put_text(0, 0, title, scr_cols());
    wattroff(scr, A_BOLD);
    for (p = text; p < end; p++)
        nlines += *p == '\n';
    /* The last lines that fit. */
    skip = nlines > rows ? nlines - rows : 0;
    for (p = text, y = 1; p <= end && y <= rows;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);

        if (skip > 0)
            skip--;
        else
            put_clipped(y++, 0, p, len, scr_cols());
        if (!nl)
            break;
        p = nl + 1;
    }
}

static void draw(view *v)
{
    const char *keys =
        v->output ? "" : "j/k or arrows: select  a/Enter: attach  o: output  q: quit";

    werase(scr);
    if (v->output)
        draw_output(v);
    else
        draw_list(v);
    if (v->message[0] || v->ov.warning[0]) {
        wattron(scr, A_BOLD);
        put_text(scr_lines() - 1, 0, v->message[0] ? v->message : v->ov.warning, scr_cols());
        wattroff(scr, A_BOLD);
    } else {
        put_text(scr_lines() - 1, 0, keys, scr_cols());
    }
    wrefresh(scr);
}

/* The selection follows its instance when the rows move. */
static void reselect(view *v)
{
    size_t i;

    if (v->ov.n == 0) {
        v->sel = 0;
        return;
    }
    for (i = 0; v->selected && i < v->ov.n; i++)
        if (strcmp(v->ov.v[i].inst.id, v->selected) == 0) {
            v->sel = i;
            return;
        }
    if (v->sel >= v->ov.n)
        v->sel = v->ov.n - 1;
    free(v->selected);
    v->selected = strdup(v->ov.v[v->sel].inst.id);
}

static void select_row(view *v, size_t i)
{
    if (i >= v->ov.n)
        return;
    v->sel = i;
    free(v->selected);
    v->selected = strdup(v->ov.v[i].inst.id);
}

static void read_output(view *v)
{
    grove_err err = GROVE_ERR_INIT;
    agent_output out;

    if (!v->output_id)
        return;
    if (agent_output_read(v->ctx, v->output_id, OUTPUT_LINES, &out, &err) != 0) {
        snprintf(v->message, sizeof(v->message), "%s", err.msg);
        return;
    }
    free(v->output_text);
    v->output_text = out.text; /* moves out of `out` */
    out.text = NULL;
    agent_output_free(&out);
}

static int take(view *v)
{
    grove_err err = GROVE_ERR_INIT;

    overview_free(&v->ov);
    if (overview_refresh(v->ctx, v->cache, &v->opts, &v->ov, &err) != 0) {
        snprintf(v->message, sizeof(v->message), "%s", err.msg);
        return -1;
    }
    reselect(v);
    if (v->output)
        read_output(v);
    return 0;
}

/* Leaves ncurses, attaches to the selected instance, comes back. */
static void attach(view *v)
{
    grove_err err = GROVE_ERR_INIT;
    const char *id = v->output ? v->output_id : v->selected;
    int status = 0;

    if (!id)
        return;
    def_prog_mode();
    endwin();
    stderr_restore(v);
    if (overview_attach(v->ctx, id, &status, &err) != 0)
        snprintf(v->message, sizeof(v->message), "cannot attach: %s", err.msg);
    else
        v->message[0] = '\0';
    stderr_quiet(v);
    reset_prog_mode();
    clearok(scr, TRUE);
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int live(view *v)
{
    SCREEN *screen;
    const char *why = NULL;
    double next = 0;
    int rc = 0, quit = 0;

    setlocale(LC_CTYPE, "");
    if (lazy_curses_load(&why) != 0) {
        fprintf(stderr, "grove watch: %s (or use --once)\n", why);
        return 1;
    }
    if (!(screen = newterm(NULL, stdout, stdin)) || !(scr = lazy_curses_stdscr())) {
        fprintf(stderr, "grove watch: cannot use the terminal '%s' (set TERM, or use --once)\n",
                str_or(getenv("TERM"), "(unset)"));
        return 1;
    }
    v->saved_err = dup(STDERR_FILENO);
    stderr_quiet(v);
    cbreak();
    noecho();
    nonl();
    keypad(scr, TRUE);
    set_escdelay(25);
    curs_set(0);
    if (has_colors() && start_color() == OK) {
        use_default_colors();
        init_pair(1, COLOR_YELLOW, -1);
        init_pair(2, COLOR_GREEN, -1);
        v->color = 1;
    }
    while (!quit) {
        double t = now_s();
        int ch;

        if (t >= next) {
            take(v);
            next = t + v->interval_s;
        }
        draw(v);
        wtimeout(scr,
                 (int)ceil((next - now_s()) * 1000) > 0 ? (int)ceil((next - now_s()) * 1000) : 0);
        ch = wgetch(scr);
        if (ch == ERR || ch == KEY_RESIZE)
            continue;
        v->message[0] = '\0';
        switch (ch) {
        case 'q':
        case 'Q':
        case KEY_ESC:
            if (v->output)
                v->output = 0;
            else
                quit = ch != KEY_ESC;
            break;
        case KEY_UP:
        case 'k':
            if (!v->output && v->sel > 0)
                select_row(v, v->sel - 1);
            break;
        case KEY_DOWN:
        case 'j':
            if (!v->output)
                select_row(v, v->sel + 1);
            break;
        case KEY_HOME:
        case 'g':
            if (!v->output)
                select_row(v, 0);
            break;
        case KEY_END:
        case 'G':
            if (!v->output && v->ov.n)
                select_row(v, v->ov.n - 1);
            break;
        case 'a':
        case '\r':
        case '\n':
        case KEY_ENTER:
            attach(v);
            next = 0; /* what happened meanwhile */
            break;
        case 'o':
            if (v->output) {
                v->output = 0;
            } else if (v->selected) {
                free(v->output_id);
                free(v->output_text);
                v->output_text = NULL;
                v->output_id = strdup(v->selected);
                v->output = 1;
                read_output(v);
            }
            break;
        default:
            break;
        }
    }
    endwin();
    delscreen(screen);
    scr = NULL;
    stderr_restore(v);
    if (v->saved_err >= 0)
        close(v->saved_err);
    return rc;
}

int cmd_watch(int argc, char **argv)
{
    static const arg_flag flags[] = {{"repo", 1}, {"db", 1},       {"all", 0},
                                     {"once", 0}, {"interval", 1}, {NULL, 0}};
    const char *iv;
    grove_ctx *ctx;
    view v;
    args a;
    int rc;

    if ((rc = args_parse(&a, "watch", flags, argc, argv)) != 0)
        return rc;
    if (a.help) {
        printf(
            "usage: grove watch [--interval SECONDS] [--once] [--all] [--repo DIR] [--db FILE]\n"
            "\n"
            "A live view of the running instances (--all: terminated ones too), the ones\n"
            "waiting for a person first, then working, idle, exited; within each, the longest\n"
            "in its state first. Each row: id, agent state and time in it, commits ahead/behind\n"
            "its base commit, uncommitted files, last checkpoint, conflicts (with how many\n"
            "running instances its branch conflicts, and how many files with its base\n"
            "branch's head) and ports.\n"
            "\n"
            "Refreshed every --interval seconds (default 1). Agent states, rows and checkpoints\n"
            "are read every time; a worktree's git status at once when its branch or agent\n"
            "state moves, else every 5 s while its agent works and every 30 s otherwise\n"
            "(within 20 ms of CPU a second); conflicts when a branch or base branch moves,\n"
            "at most every 5 s.\n"
            "\n"
            "keys: j/k or arrows select, a or Enter attach to the agent's tmux session\n"
            "      (detach to come back), o show its last output, q quit.\n"
            "\n"
            "When stdout is not a terminal, or with --once: one plain-text table, then exit.\n");
        return 0;
    }
    if (a.npos) {
        fprintf(stderr, "grove watch: unexpected argument '%s'\n", a.pos[0]);
        return 2;
    }
    memset(&v, 0, sizeof(v));
    v.saved_err = -1;
    v.interval_s = INTERVAL_DEFAULT;
    if ((iv = args_get(&a, flags, "interval"))) {
        char *end = NULL;

        v.interval_s = strtod(iv, &end);
        if (!*iv || *end || !(v.interval_s >= 0.1 && v.interval_s <= 3600)) {
            fprintf(stderr, "grove watch: --interval expects seconds from 0.1 to 3600, not '%s'\n",
                    iv);
            return 2;
        }
    }
    v.opts.all = args_get(&a, flags, "all") != NULL;
    ctx = cli_open_ctx("watch", &a, flags, 1);
    if (!ctx)
        return 1;
    v.ctx = ctx;
    if (args_get(&a, flags, "once") || !isatty(STDOUT_FILENO)) {
        grove_err err = GROVE_ERR_INIT;

        if (overview_refresh(ctx, NULL, &v.opts, &v.ov, &err) != 0) {
            fprintf(stderr, "grove watch: %s\n", err.msg);
            rc = 1;
        } else {
            rc = print_snapshot(&v.ov);
        }
    } else if (!(v.cache = overview_cache_new())) {
        fprintf(stderr, "grove watch: out of memory\n");
        rc = 1;
    } else {
        v.opts.tick_s = v.interval_s;
        rc = live(&v);
    }
    overview_free(&v.ov);
    overview_cache_free(v.cache);
    free(v.selected);
    free(v.output_id);
    free(v.output_text);
    ctx_free(ctx);
    return rc;
}

int cmd_attach(int argc, char **argv)
{
    static const arg_flag flags[] = {{"repo", 1}, {"db", 1}, {NULL, 0}};
    grove_err err = GROVE_ERR_INIT;
    grove_ctx *ctx;
    int status = 0;
    args a;
    int rc;

    if ((rc = args_parse(&a, "attach", flags, argc, argv)) != 0)
        return rc;
    if (a.help) {
        printf("usage: grove attach ID [--repo DIR] [--db FILE]\n\n"
               "Attaches the terminal to instance ID's tmux session on grove's tmux server\n"
               "(tmux -L grove; GROVE_TMUX_SOCKET names another). Detach (prefix, then d) to\n"
               "come back; the agent goes on. The exit status is tmux's.\n");
        return 0;
    }
    if (a.npos != 1) {
        fprintf(stderr, "grove attach: expected one instance id (see 'grove attach --help')\n");
        return 2;
    }
    ctx = cli_open_ctx("attach", &a, flags, 1);
    if (!ctx)
        return 1;
    if (overview_attach(ctx, a.pos[0], &status, &err) != 0) {
        fprintf(stderr, "grove attach: %s\n", err.msg);
        status = 1;
    }
    ctx_free(ctx);
    return status;
}

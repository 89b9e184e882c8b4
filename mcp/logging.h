/*
 * logging: MCP logging (logging/setLevel, notifications/message; CONTRACT
 * §8). The levels, and the rate limit the server puts on the messages it
 * sends. Pure: the server owns the state and passes the time in.
 */
#ifndef GROVE_MCP_LOGGING_H
#define GROVE_MCP_LOGGING_H

/* Messages sent at most per second; the rest are counted and reported in one note. */
#define MCP_LOG_RATE 10

/*
 * The level called `name` ("debug" ... "emergency", syslog's order, 0..7),
 * or -1 when it is none of the eight.
 */
int mcp_log_level_parse(const char *name);

/* The name of level 0..7 (static); NULL otherwise. */
const char *mcp_log_level_name(int level);

/* The rate limit: MCP_LOG_RATE messages in each window of one second. Zero it to start. */
typedef struct mcp_log_limiter {
    long long window_ms;  /* when the current window began */
    unsigned sent;        /* messages sent in it */
    unsigned suppressed;  /* messages dropped since the last note */
    int suppressed_level; /* the highest level among them */
} mcp_log_limiter;

/*
 * Whether a message of `level` may go out at `now_ms` (a monotonic clock):
 * 1, or 0 when the window's quota is spent (it is counted as suppressed).
 * When it may and messages were suppressed before, *note gets their count
 * and *note_level their highest level (send the note first); else *note is 0.
 */
int mcp_log_admit(mcp_log_limiter *l, long long now_ms, int level, unsigned *note, int *note_level);

#endif

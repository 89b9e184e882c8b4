/*
 * fswatch: a folder watched for writes (inotify), as a descriptor to poll.
 * It says only "something in this folder was written, created, moved or
 * removed since you last drained me"; what changed is for the caller to
 * look up. Events are queued by the kernel during the system call that
 * makes the change, so a drain after a change returns 1.
 */
#ifndef GROVE_FSWATCH_H
#define GROVE_FSWATCH_H

#include "tools/base/grove.h"

/* A non-blocking, close-on-exec descriptor watching `dir`, or -1 with err filled. close() it. */
int fswatch_dir(const char *dir, grove_err *err);

/* Reads every queued event: 1 when there was at least one (or the queue overflowed), else 0. */
int fswatch_drain(int fd);

#endif

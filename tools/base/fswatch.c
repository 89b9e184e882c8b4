#include "tools/base/fswatch.h"

#include <errno.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

int fswatch_dir(const char *dir, grove_err *err)
{
    int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);

    if (fd < 0)
        return grove_fail(err, GROVE_EIO, "inotify: %s", strerror(errno));
    if (inotify_add_watch(fd, dir,
                          IN_MODIFY | IN_CLOSE_WRITE | IN_CREATE | IN_DELETE | IN_MOVED_TO |
                              IN_MOVED_FROM | IN_ONLYDIR) < 0) {
        int e = errno;

        close(fd);
        return grove_fail(err, GROVE_EIO, "cannot watch %s: %s", dir, strerror(e));
    }
    return fd;
}

int fswatch_drain(int fd)
{
    /* aligned as the events in it are */
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    int any = 0;

    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));

        if (n > 0) {
            any = 1; /* IN_Q_OVERFLOW included: something changed, the caller looks again */
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        return any;
    }
}

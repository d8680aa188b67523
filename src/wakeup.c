/* SPDX-License-Identifier: MIT */
/*
 * wakeup.c - Python's signal.set_wakeup_fd() and Twisted's installHandler()
 * and isDefaultHandler().
 *
 * Both fds are written by the C handler (catch.c): the wakeup fd gets the
 * signal number as one byte for every signal evsig catches, the
 * installHandler fd a byte for every SIGCHLD. The handler never blocks, so
 * both must be non-blocking; a full pipe loses the byte. What goes wrong
 * is noted there and printed from the loop by the next dispatch
 * (dispatch.c), since stdio is not async-signal-safe. While an
 * installHandler fd is set, this file holds a claim on SIGCHLD so that the
 * C handler stays installed for it.
 *
 * Context: any thread; every entry point takes the lock.
 */
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "evsig-private.h"

static struct wakeup_state {
    bool sigchld_claimed;
} wakeup;

/* 0, or -EBADF / -EINVAL for an fd the C handler could not use. */
static int check_fd(int fd)
{
    int fl;

    if (fd < -1)
        return -EINVAL;
    if (fd == -1)
        return 0;
    fl = fcntl(fd, F_GETFL);
    if (fl < 0)
        return -EBADF;
    /* A blocking fd would block the C handler, with every signal masked,
     * as soon as the pipe is full. */
    if (!(fl & O_NONBLOCK))
        return -EINVAL;
    return 0;
}

static bool is_socket(int fd)
{
    struct stat st;

    return fd >= 0 && fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

EVSIG_PUBLIC int evsig_set_wakeup_fd(int fd, int flags, int *old_fd)
{
    sigset_t saved;
    int r;

    if (flags & ~EVSIG_WAKEUP_WARN_ON_FULL)
        return evsig__fail(-EINVAL);
    r = check_fd(fd);
    if (r < 0)
        return evsig__fail(r);
    evsig__lock(&saved);
    if (old_fd)
        *old_fd = evsig__catch_wakeup_fd();
    evsig__catch_set_wakeup_fd(fd, is_socket(fd),
                               fd >= 0 && (flags & EVSIG_WAKEUP_WARN_ON_FULL));
    evsig__unlock(&saved);
    return 0;
}

EVSIG_PUBLIC int evsig_install_handler(int fd, int *old_fd)
{
    sigset_t saved;
    int r = check_fd(fd);

    if (r < 0)
        return evsig__fail(r);
    evsig__lock(&saved);
    evsig__disp_meet_default_loop();
    if (old_fd)
        *old_fd = evsig__catch_sigchld_fd();
    evsig__catch_set_sigchld_fd(fd, is_socket(fd));
    if (fd >= 0 && !wakeup.sigchld_claimed) {
        evsig__disp_claim(SIGCHLD);
        wakeup.sigchld_claimed = true;
    } else if (fd < 0 && wakeup.sigchld_claimed) {
        /* Puts back what SIGCHLD owes: libev's reaper, if libev has one. */
        evsig__disp_release(SIGCHLD);
        wakeup.sigchld_claimed = false;
    }
    evsig__unlock(&saved);
    return 0;
}

EVSIG_PUBLIC int evsig_is_default_handler(void)
{
    evsig_action act;
    sigset_t saved;
    int r;

    evsig__lock(&saved);
    evsig__disp_meet_default_loop();
    evsig__table_action(SIGCHLD, &act);
    r = evsig__catch_sigchld_fd() < 0 && act.handler == EVSIG_DFL;
    evsig__unlock(&saved);
    return r;
}

void evsig__wakeup_reset(void)
{
    evsig__catch_set_wakeup_fd(-1, false, false);
    evsig__catch_set_sigchld_fd(-1, false);
    wakeup.sigchld_claimed = false;   /* disposition.c forgets the claim */
}

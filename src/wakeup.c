/* SPDX-License-Identifier: MIT */
/*
 * wakeup.c - Python's signal.set_wakeup_fd() and Twisted's installHandler().
 *
 * Both are fds the C handler writes one byte to: the wakeup fd for every
 * signal evsig catches (the byte is the signal number), the installHandler
 * fd for every SIGCHLD. The handler reads them from atomics and never
 * blocks: the wakeup fd must be non-blocking, and a full pipe simply loses
 * the byte. A lost byte is noted in an atomic flag, and the warning (when
 * asked for) is printed later from the loop, since stdio is not
 * async-signal-safe.
 *
 * Context: setters on any thread (see evsig.h); evsig__wakeup_notify() in
 * signal context on any thread.
 */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "evsig-private.h"

static struct wakeup_state {
    _Atomic int  fd;             /* set_wakeup_fd, -1 if none */
    _Atomic int  sigchld_fd;     /* installHandler, -1 if none */
    _Atomic bool lost;           /* a byte did not fit since the last warning */
    int          flags;
} wakeup = { .fd = -1, .sigchld_fd = -1 };

/* Signal context: async-signal-safe calls only (write(2), atomics). */
void evsig__wakeup_notify(int signum)
{
    int fd = atomic_load_explicit(&wakeup.fd, memory_order_relaxed);
    unsigned char byte = (unsigned char)signum;

    if (fd >= 0 && write(fd, &byte, 1) != 1)
        atomic_store_explicit(&wakeup.lost, true, memory_order_relaxed);
    if (signum == SIGCHLD) {
        fd = atomic_load_explicit(&wakeup.sigchld_fd, memory_order_relaxed);
        if (fd >= 0)
            (void)!write(fd, &byte, 1);   /* Twisted: a full pipe already wakes */
    }
}

void evsig__wakeup_warn(void)
{
    if (!atomic_load_explicit(&wakeup.lost, memory_order_relaxed))
        return;
    atomic_store_explicit(&wakeup.lost, false, memory_order_relaxed);
    if (wakeup.flags & EVSIG_WAKEUP_WARN_ON_FULL)
        fprintf(stderr, "evsig: wakeup fd %d is full: signal bytes were lost\n",
                atomic_load_explicit(&wakeup.fd, memory_order_relaxed));
}

int evsig__wakeup_sigchld_fd(void)
{
    return atomic_load_explicit(&wakeup.sigchld_fd, memory_order_relaxed);
}

void evsig__wakeup_reset(void)
{
    atomic_store(&wakeup.fd, -1);
    atomic_store(&wakeup.sigchld_fd, -1);
    atomic_store(&wakeup.lost, false);
    wakeup.flags = 0;
}

/* 0, or -EBADF / -EINVAL for an fd the handler could not use. */
static int check_fd(int fd, bool need_nonblock)
{
    int fl;

    if (fd < -1)
        return -EINVAL;
    if (fd == -1)
        return 0;
    fl = fcntl(fd, F_GETFL);
    if (fl < 0)
        return -EBADF;
    if (need_nonblock && !(fl & O_NONBLOCK))
        return -EINVAL;
    return 0;
}

EVSIG_PUBLIC int evsig_set_wakeup_fd(int fd, int flags, int *old_fd)
{
    int r;

    if (flags & ~EVSIG_WAKEUP_WARN_ON_FULL)
        return evsig__fail(-EINVAL);
    r = check_fd(fd, true);
    if (r < 0)
        return evsig__fail(r);
    evsig__table_meet_default_loop();
    if (old_fd)
        *old_fd = atomic_load(&wakeup.fd);
    wakeup.flags = fd >= 0 ? flags : 0;
    atomic_store(&wakeup.lost, false);
    atomic_store(&wakeup.fd, fd);
    return 0;
}

EVSIG_PUBLIC int evsig_install_handler(int fd, int *old_fd)
{
    int r = check_fd(fd, false);

    if (r < 0)
        return evsig__fail(r);
    evsig__table_meet_default_loop();
    if (old_fd)
        *old_fd = atomic_load(&wakeup.sigchld_fd);
    atomic_store(&wakeup.sigchld_fd, fd);
    evsig__table_sigchld_refresh();
    return 0;
}

EVSIG_PUBLIC int evsig_is_default_handler(void)
{
    if (atomic_load(&wakeup.sigchld_fd) >= 0)
        return 0;
    evsig__table_meet_default_loop();
    /* What the kernel has, seen the way getsignal sees a never-set table:
     * SIG_DFL or libev's reaper. */
    return evsig__table_kernel_is_default(SIGCHLD) ? 1 : 0;
}

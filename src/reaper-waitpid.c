/* SPDX-License-Identifier: MIT */
/*
 * reaper-waitpid.c - the LIBEV child backend: libev's own reaping.
 *
 * libev's default loop reaps every child of the process: its internal
 * SIGCHLD watcher calls waitpid(-1) and feeds the ev_child watchers of the
 * reaped pid (and of pid 0). This backend starts exactly one ev_child, for
 * pid 0, and hands each reaped pid to child.c, which finds it in its own
 * pid table (one ev_child per child would make libev scan a 16-bucket list
 * per exit). The cost per exit grows with the number of live children
 * anyway: the kernel answers waitpid(-1) by scanning them all -- which is
 * why the PIDFD backend exists. Children of other code are reaped too, and
 * only the default loop can watch children.
 *
 * Under the PIDFD backend the same ev_child is the witness of what libev's
 * reaper still takes (a SIGCHLD libev caught before evsig took SIGCHLD, a
 * signalfd default loop): child.c starts it with other hooks.
 *
 * Context: the default loop's thread, lock held.
 */
#include <sys/wait.h>
#include <unistd.h>

#include "evsig-private.h"

/* In .data, not .bss: libev writes @w at every reap, and there it shares
 * the page the rest of a fork_and_watch writes (one copy-on-write fault
 * per fork, not two). */
static struct libev_state {
    const struct evsig__reaper_hooks *hooks;
    ev_child         w;              /* pid 0: every child libev reaps */
    struct ev_loop  *loop;           /* the default loop, while started */
} lv __attribute__((section(".data")));

void evsig__reaper_libev_init(const struct evsig__reaper_hooks *hooks)
{
    lv.hooks = hooks;
}

static void reaped_cb(struct ev_loop *loop, ev_child *w, int revents)
{
    (void)revents;
    evsig__lock_loop();
    lv.hooks->reaped(loop, w->rpid, w->rstatus, NULL);
    evsig__unlock_loop();
    evsig__dispatch_report();
}

static int check_loop(struct ev_loop *loop)
{
    return loop && loop == evsig__core_default_loop() ? 0 : -EINVAL;
}

/* Start reaping on the default loop (which check_loop() asked for). */
static int prepare(struct ev_loop *loop)
{
    if (check_loop(loop) < 0)
        return -EINVAL;
    if (!lv.loop) {
        ev_child_init(&lv.w, reaped_cb, 0, 0);
        ev_child_start(loop, &lv.w);
        ev_unref(loop);   /* reaping is not work: watched children are */
        lv.loop = loop;
    }
    return 0;
}

static void adopt(struct evsig__child *e, int pidfd)
{
    if (pidfd >= 0)
        close(pidfd);   /* libev reaps by pid */
    e->pidfd = -1;
}

static void drop(struct evsig__child *e)
{
    (void)e;   /* libev reaps it anyway: its result will be kept */
}

/* What libev would do at its next SIGCHLD, now (the SIGCHLD may be blocked
 * in this thread, or not processed yet). */
static void poll_loop(struct ev_loop *loop)
{
    pid_t pid;
    int status;

    while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
        if (!lv.hooks->reaped(loop, pid, status, NULL))
            return;   /* evsig_reset() ran in a callback */
}

static int kill_child(const struct evsig__child *e, int sig)
{
    return kill(e->pid, sig) == 0 ? 0 : -errno;
}

static void fork_child(void)
{
}

static void reset(void)
{
    if (lv.loop) {
        ev_ref(lv.loop);
        ev_child_stop(lv.loop, &lv.w);
        lv.loop = NULL;
    }
}

const struct evsig__reaper evsig__reaper_libev = {
    .backend    = EVSIG_CHILD_LIBEV,
    .check_loop = check_loop,
    .prepare    = prepare,
    .adopt      = adopt,
    .drop       = drop,
    .poll       = poll_loop,
    .kill       = kill_child,
    .fork_child = fork_child,
    .reset      = reset,
};

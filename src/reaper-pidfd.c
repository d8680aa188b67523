/* SPDX-License-Identifier: MIT */
/*
 * reaper-pidfd.c - the PIDFD child backend: a pidfd per watched child,
 * read through an epoll set of evsig's own per loop, reaped with
 * waitid(P_PIDFD); and the per-pid fallback for children without a pidfd.
 *
 * Why an epoll set of evsig's own with one ev_io on it, rather than an
 * ev_io per pidfd: fork() children inherit copies of the parent's pidfds,
 * and a pidfd closed in the parent stays registered in libev's epoll set
 * through such a copy and keeps firing; libev then rebuilds its whole set
 * (measured: 17 ms per reap at 4,000 children). In a set of evsig's own a
 * registration is removed (EPOLL_CTL_DEL) before its pidfd is closed, and
 * every child of fork() closes the pidfds at once (from core.c's atfork
 * handler, with a bitmap of their numbers), so no long-lived child holds a
 * copy of every pidfd either. An epoll set inherited from a
 * parent is never touched: after any fork the first use here forgets it
 * (fresh()).
 *
 * waitid(P_PIDFD) gives the full siginfo (the child's uid too), and the
 * cost of one exit does not depend on how many children live: epoll says
 * which pidfd is ready, the pid table finds its child in O(1).
 *
 * Without a pidfd -- EMFILE/ENFILE at the fd limit, ENOSYS/EPERM from a
 * seccomp filter, an epoll set that cannot be made -- the child is still
 * watched: an internal SIGCHLD watcher on its loop triggers a
 * waitid(P_PID, pid, WNOHANG) for each such child of that loop. That costs
 * more (O(children without a pidfd) per SIGCHLD) but loses nothing, and is
 * never waitpid(-1), which would take other code's children. If even the
 * watcher cannot be started (out of memory), a timer polls.
 *
 * Context: lock held; whatever touches a loop runs on that loop's thread.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "evsig-private.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

#define POLL_INTERVAL 0.1   /* the fallback's fallback */

/* A loop with children watched through this backend. */
struct ploop {
    struct ev_loop *loop;
    int             epfd;          /* -1 until the first pidfd */
    ev_io           io;            /* on @epfd */
    unsigned        npidfd;        /* pidfds registered in @epfd */
    pid_t          *fb;            /* children without a pidfd */
    unsigned        nfb, capfb;
    evsig_watcher   sigchld;       /* while @nfb: SIGCHLD triggers a scan */
    bool            watching;
    ev_timer        scan;          /* the first scan, and polling */
    unsigned        frames;        /* scans running (callbacks re-enter) */
    bool            gone;          /* released while scanning */
    struct ploop   *next;
};

static struct pidfd_state {
    const struct evsig__reaper_hooks *hooks;
    struct ploop  *loops;
    struct ploop  *gone;           /* released while a scan held them */
    struct ploop  *inherited;      /* a fork's, kept (not freed), see below */
    struct ploop  *spare;          /* the last one released, for reuse */
    uint64_t      *fdbits;         /* pidfd numbers open here */
    unsigned       nfdwords;
    unsigned       forkgen;        /* the fork generation of all this */
    int            available;      /* pidfd_open works: -1 not probed yet */
    bool           force_fallback; /* tests */
} pr = {
    .available = -1,
};

static void scan_cb(struct ev_loop *loop, ev_timer *t, int revents);
static void close_in_child(unsigned parent_gen);

void evsig__reaper_pidfd_init(const struct evsig__reaper_hooks *hooks)
{
    pr.hooks = hooks;
    evsig__core_set_fork_hook(close_in_child);
}

void evsig__reaper_pidfd_force_fallback(bool on)
{
    pr.force_fallback = on;
}

static int pidfd_open(pid_t pid)
{
    return (int)syscall(SYS_pidfd_open, pid, 0);
}

bool evsig__reaper_pidfd_available(void)
{
    if (pr.available < 0) {
        int fd = pidfd_open(getpid());

        /* Out of fds says nothing about the kernel: assume it works. */
        pr.available = fd >= 0 || errno == EMFILE || errno == ENFILE;
        if (fd >= 0)
            close(fd);
    }
    return pr.available;
}

/* --- the fds evsig opened ------------------------------------------------ */

static bool fd_note(int fd)
{
    unsigned word = (unsigned)fd / 64;

    if (word >= pr.nfdwords) {
        unsigned n = word + 1 > pr.nfdwords * 2 ? word + 1 : pr.nfdwords * 2;
        uint64_t *bits = realloc(pr.fdbits, n * sizeof(*bits));

        if (!bits)
            return false;
        memset(bits + pr.nfdwords, 0, (n - pr.nfdwords) * sizeof(*bits));
        pr.fdbits = bits;
        pr.nfdwords = n;
    }
    pr.fdbits[word] |= UINT64_C(1) << (fd % 64);
    return true;
}

static void fd_close(int fd)
{
    pr.fdbits[fd / 64] &= ~(UINT64_C(1) << (fd % 64));
    close(fd);
}

/* Close every pidfd, a run of consecutive numbers at a time. Reads the
 * bitmap only (the child of a fork must not write the parent's pages). */
static void fd_close_all(void)
{
    unsigned n = pr.nfdwords * 64;

    for (unsigned fd = 0; fd < n;) {
        unsigned last;

        if (!(pr.fdbits[fd / 64] >> (fd % 64) & 1)) {
            fd++;
            continue;
        }
        for (last = fd; last + 1 < n &&
                        (pr.fdbits[(last + 1) / 64] >> ((last + 1) % 64) & 1);
             last++)
            ;
        if (syscall(SYS_close_range, fd, last, 0) != 0)
            for (unsigned i = fd; i <= last; i++)
                close((int)i);
        fd = last + 1;
    }
}

static void fd_forget_all(void)
{
    if (pr.nfdwords)
        memset(pr.fdbits, 0, pr.nfdwords * sizeof(*pr.fdbits));
}

/* --- loop records ---------------------------------------------------------- */

static struct ploop *ploop_find(struct ev_loop *loop)
{
    for (struct ploop *pl = pr.loops; pl; pl = pl->next)
        if (pl->loop == loop)
            return pl;
    return NULL;
}

static void ploop_unlink(struct ploop *pl)
{
    for (struct ploop **p = &pr.loops; *p; p = &(*p)->next) {
        if (*p == pl) {
            *p = pl->next;
            return;
        }
    }
}

/* Stop the scan timer, also when it has expired and waits in libev's
 * pending queue (its callback must not run after @pl is freed). Started,
 * it was unreferenced; expired, libev dropped its reference already:
 * either way one ev_ref() puts the count back. */
static void stop_scan(struct ploop *pl)
{
    if (ev_is_active(&pl->scan) || ev_is_pending(&pl->scan)) {
        ev_ref(pl->loop);
        ev_timer_stop(pl->loop, &pl->scan);
    }
}

/* Stop what @pl runs on its loop (nothing of it stays there: the loop may
 * be destroyed); its epoll set stays open. */
static void ploop_quiet(struct ploop *pl)
{
    if (ev_is_active(&pl->io)) {
        ev_ref(pl->loop);   /* it was unreferenced when started */
        ev_io_stop(pl->loop, &pl->io);
    }
    stop_scan(pl);
    if (pl->watching) {
        evsig__dispatch_unwatch(&pl->sigchld);
        pl->watching = false;
    }
}

/* ... and close its epoll set. */
static void ploop_stop(struct ploop *pl)
{
    ploop_quiet(pl);
    if (pl->epfd >= 0) {
        close(pl->epfd);
        pl->epfd = -1;
    }
}

/* Loops whose epoll set stays open while they have no children: a program
 * that forks or spawns one child at a time would otherwise make and close
 * a set (and have libev register it) per child. */
#define IDLE_KEEP 4

static unsigned idle_sets(void)
{
    unsigned n = 0;

    for (const struct ploop *pl = pr.loops; pl; pl = pl->next)
        n += pl->epfd >= 0 && !ev_is_active(&pl->io);
    return n;
}

/* A released record (nothing of it on its loop) is kept for the next
 * loop that needs one: a program forking one child at a time would
 * otherwise allocate and free it, and grow its fallback array, per child. */
static void ploop_recycle(struct ploop *pl)
{
    if (!pr.spare) {
        pl->next = NULL;
        pr.spare = pl;
        return;
    }
    free(pl->fb);
    free(pl);
}

/* Release @pl when it watches nothing (on its loop's thread): idle, with
 * its epoll set, if fewer than IDLE_KEEP are; else for good -- while a
 * scan holds it, only marked gone, and the scan frees it when done. */
static void ploop_maybe_release(struct ploop *pl)
{
    if (pl->npidfd || pl->nfb || pl->gone)
        return;
    if (pl->epfd >= 0 && idle_sets() < IDLE_KEEP) {
        ploop_quiet(pl);   /* kept, idle, with its set */
        return;
    }
    ploop_stop(pl);
    ploop_unlink(pl);
    if (pl->frames) {
        pl->gone = true;
        pl->next = pr.gone;
        pr.gone = pl;
        return;
    }
    ploop_recycle(pl);
}

/* The last scan leaves @pl: free it if it was released meanwhile. */
static void ploop_free_gone(struct ploop *pl)
{
    for (struct ploop **p = &pr.gone; *p; p = &(*p)->next) {
        if (*p == pl) {
            *p = pl->next;
            break;
        }
    }
    ploop_recycle(pl);
}

static void keep_inherited(struct ploop *list)
{
    while (list) {
        struct ploop *pl = list;

        list = pl->next;
        pl->next = pr.inherited;
        pr.inherited = pl;
    }
}

static void free_list(struct ploop *list)
{
    while (list) {
        struct ploop *pl = list;

        list = pl->next;
        free(pl->fb);
        free(pl);
    }
}

/*
 * First thing in every child of fork() (core.c's atfork handler calls it):
 * close the copies of the pidfds at once, before the child can open an fd
 * of its own under one of their numbers. Only if they were the forking
 * process's own: inherited from further up, they were closed in that
 * process at its birth, and the numbers may be its files now. Reads only:
 * every page the child writes is a copy-on-write fault, most of what a
 * fork costs.
 */
static void close_in_child(unsigned parent_gen)
{
    if (pr.forkgen == parent_gen)
        fd_close_all();
}

/*
 * After a fork, what this file holds is the parent's: its epoll sets are
 * shared with the parent (adding or removing a registration here would
 * change the parent's), its pidfds were copies, closed by close_in_child().
 * The rest waits for the child's first use of this file (fresh(), and
 * io_cb() should the child run an inherited loop first), so that a child
 * that never uses it writes none of the parent's pages: stop the ev_io
 * watchers, then close the epoll fds (libev asserts on an ev_io whose fd
 * is closed under it, so this cannot be done in close_in_child()); forget
 * the pidfd numbers and the records -- without EPOLL_CTL_DEL, which would
 * reach the parent's sets. The records are not freed (free() would write
 * the allocator's headers): they stay referenced until evsig_reset(), so
 * no leak checker reports them. (Like libev's own fds after ev_loop_fork(),
 * the epoll fds are closed by number: a child that closed them itself and
 * reused the numbers before its first evsig call loses those.)
 */
static void forget_inherited(void)
{
    for (struct ploop *pl = pr.loops; pl; pl = pl->next) {
        if (ev_is_active(&pl->io)) {
            ev_ref(pl->loop);
            ev_io_stop(pl->loop, &pl->io);
        }
        if (pl->epfd >= 0)
            close(pl->epfd);
        stop_scan(pl);
        /* Its SIGCHLD watcher is inherited by dispatch.c like any; drop it
         * (the children it served are not this process's). */
        if (pl->watching)
            evsig__dispatch_unwatch(&pl->sigchld);
    }
    fd_forget_all();
    keep_inherited(pr.loops);
    keep_inherited(pr.gone);
    pr.loops = NULL;
    pr.gone = NULL;
}

static void fresh(void)
{
    if (pr.forkgen == evsig__forkgen())
        return;
    forget_inherited();
    pr.forkgen = evsig__forkgen();
}

static void io_cb(struct ev_loop *loop, ev_io *w, int revents);

static int prepare(struct ev_loop *loop)
{
    struct ploop *pl;

    fresh();
    pl = ploop_find(loop);
    if (!pl) {
        pl = pr.spare;
        if (pl) {
            pid_t *fb = pl->fb;
            unsigned capfb = pl->capfb;

            pr.spare = NULL;
            memset(pl, 0, sizeof(*pl));
            pl->fb = fb;
            pl->capfb = capfb;
        } else {
            pl = calloc(1, sizeof(*pl));
            if (!pl)
                return -ENOMEM;
        }
        pl->loop = loop;
        pl->epfd = -1;
        ev_timer_init(&pl->scan, scan_cb, 0., 0.);
        pl->scan.data = pl;
        pl->next = pr.loops;
        pr.loops = pl;
    }
    /* Room for one more child without a pidfd: adopt() cannot fail. */
    if (pl->nfb == pl->capfb) {
        unsigned cap = pl->capfb ? pl->capfb * 2 : 4;
        pid_t *fb = realloc(pl->fb, cap * sizeof(*fb));

        if (!fb) {
            ploop_maybe_release(pl);
            return -ENOMEM;
        }
        pl->fb = fb;
        pl->capfb = cap;
    }
    return 0;
}

/* --- adopting, dropping ----------------------------------------------------- */

static bool epoll_ready(struct ploop *pl)
{
    if (pl->epfd < 0) {
        pl->epfd = epoll_create1(EPOLL_CLOEXEC);
        if (pl->epfd < 0)
            return false;
        ev_io_init(&pl->io, io_cb, pl->epfd, EV_READ);
        pl->io.data = pl;
    }
    if (!ev_is_active(&pl->io)) {   /* new, or idle */
        /* The ev_io is not work: each watched child takes a reference. */
        ev_io_start(pl->loop, &pl->io);
        ev_unref(pl->loop);
    }
    return true;
}

static bool register_pidfd(struct ploop *pl, int fd, pid_t pid)
{
    struct epoll_event ev;

    if (!epoll_ready(pl) || !fd_note(fd))
        return false;
    memset(&ev, 0, sizeof(ev));
    ev.events = EPOLLIN;
    ev.data.u64 = (uint32_t)pid;
    if (epoll_ctl(pl->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
        pr.fdbits[fd / 64] &= ~(UINT64_C(1) << (fd % 64));
        return false;
    }
    pl->npidfd++;
    return true;
}

static void unregister_pidfd(struct ploop *pl, struct evsig__child *e)
{
    /* Out of the set first: a copy of the fd elsewhere must not keep the
     * registration alive. */
    epoll_ctl(pl->epfd, EPOLL_CTL_DEL, e->pidfd, NULL);
    fd_close(e->pidfd);
    e->pidfd = -1;
    pl->npidfd--;
}

static void sigchld_cb(struct ev_loop *loop, const evsig_info *info,
                       void *data);

/* A child without a pidfd: watch SIGCHLD on its loop, and scan once at the
 * next iteration (it may have exited already, its SIGCHLD gone). */
static void fallback_add(struct ploop *pl, pid_t pid)
{
    pl->fb[pl->nfb++] = pid;
    if (!pl->watching &&
        evsig__dispatch_watch(pl->loop, &pl->sigchld, SIGCHLD, sigchld_cb, pl,
                              EVSIG_NOREF | EVSIG__INTERNAL) == 0)
        pl->watching = true;
    /* Expired but not called yet: it will scan (and poll on) anyway. */
    if (!ev_is_active(&pl->scan) && !ev_is_pending(&pl->scan)) {
        ev_timer_set(&pl->scan, 0., pl->watching ? 0. : POLL_INTERVAL);
        ev_timer_start(pl->loop, &pl->scan);
        ev_unref(pl->loop);
    }
}

static void fallback_del(struct ploop *pl, unsigned i)
{
    pl->fb[i] = pl->fb[--pl->nfb];
    if (pl->nfb == 0 && pl->watching) {
        evsig__dispatch_unwatch(&pl->sigchld);
        pl->watching = false;
    }
}

static void adopt(struct evsig__child *e, int pidfd)
{
    struct ploop *pl = ploop_find(e->loop);   /* prepare() made it */
    int fd = pidfd;

    if (pr.force_fallback && fd >= 0) {
        close(fd);
        fd = -1;
    } else if (fd < 0 && !pr.force_fallback) {
        fd = pidfd_open(e->pid);
    }
    if (fd >= 0 && register_pidfd(pl, fd, e->pid)) {
        e->pidfd = fd;
        return;
    }
    if (fd >= 0)
        close(fd);
    fallback_add(pl, e->pid);
}

static void drop(struct evsig__child *e)
{
    struct ploop *pl;

    fresh();
    pl = ploop_find(e->loop);
    if (!pl)
        return;
    if (e->pidfd >= 0) {
        unregister_pidfd(pl, e);
    } else {
        for (unsigned i = 0; i < pl->nfb; i++) {
            if (pl->fb[i] == e->pid) {
                fallback_del(pl, i);
                break;
            }
        }
    }
    ploop_maybe_release(pl);
}

/* --- reaping ---------------------------------------------------------------- */

/* waitid()'s siginfo in waitpid() status form. */
static int status_of(const siginfo_t *si)
{
    if (si->si_code == CLD_EXITED)
        return W_EXITCODE(si->si_status & 0xff, 0);
    return W_EXITCODE(0, si->si_status & 0x7f) |
           (si->si_code == CLD_DUMPED ? WCOREFLAG : 0);
}

/* Tell child.c about @pid: reaped with @si, or (@r < 0) reaped by someone
 * else. Returns false if evsig_reset() ran in a callback. */
static bool tell(struct ev_loop *loop, pid_t pid, int r, const siginfo_t *si)
{
    if (r < 0)
        return pr.hooks->vanished(loop, pid);
    return pr.hooks->reaped(loop, pid, status_of(si), si);
}

/* Reap the children whose pidfds are ready. False: stop (reset). */
static bool scan_pidfds(struct ploop *pl)
{
    struct epoll_event ev[64];
    int n;

    if (pl->epfd < 0)
        return true;
    n = epoll_wait(pl->epfd, ev, 64, 0);
    for (int i = 0; i < n && !pl->gone; i++) {
        pid_t pid = (pid_t)ev[i].data.u64;
        struct evsig__child *e = evsig__pidtab_lookup(pid);
        siginfo_t si;
        int r;

        if (!e || e->pidfd < 0 || e->loop != pl->loop || e->exited)
            continue;   /* dropped meanwhile */
        memset(&si, 0, sizeof(si));
        r = waitid(P_PIDFD, (id_t)e->pidfd, &si, WEXITED | WNOHANG);
        if (r == 0 && si.si_pid == 0)
            continue;   /* not exited after all */
        unregister_pidfd(pl, e);
        if (!tell(pl->loop, pid, r, &si))
            return false;
    }
    return true;
}

/* waitid(P_PID) for each child without a pidfd. False: stop (reset). */
static bool scan_fallback(struct ploop *pl)
{
    for (unsigned i = 0; i < pl->nfb && !pl->gone;) {
        pid_t pid = pl->fb[i];
        siginfo_t si;
        int r;

        memset(&si, 0, sizeof(si));
        r = waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG);
        if (r == 0 && si.si_pid == 0) {
            i++;
            continue;
        }
        fallback_del(pl, i);   /* the last one moved to @i */
        if (!tell(pl->loop, pid, r, &si))
            return false;
    }
    return true;
}

/* Both, with @pl kept alive across the callbacks they run. Returns
 * whether @pl still exists (it is released once it watches nothing). */
static bool scan(struct ploop *pl)
{
    struct ev_loop *loop = pl->loop;

    pl->frames++;
    if (!scan_pidfds(pl) || !scan_fallback(pl))
        return false;   /* evsig_reset(): @pl is gone */
    if (--pl->frames)
        return true;    /* an outer scan goes on */
    if (pl->gone) {
        ploop_free_gone(pl);
        return false;
    }
    ploop_maybe_release(pl);
    return ploop_find(loop) == pl;   /* compares, never reads, @pl */
}

static void io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    unsigned gen = evsig__forkgen();
    (void)loop;
    (void)revents;

    evsig__lock_loop();
    /* In a forked child, before anything else: the set is the parent's. */
    if (pr.forkgen == gen)
        scan(w->data);
    else
        fresh();
    evsig__unlock_loop();
    evsig__dispatch_report();
}

static void scan_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    struct ploop *pl = t->data;
    (void)revents;

    evsig__lock_loop();
    if (pr.forkgen == evsig__forkgen()) {
        ev_ref(loop);   /* it was unreferenced when started */
        /* Poll on only while nothing else will say that a child exited. */
        if (scan(pl) && pr.forkgen == evsig__forkgen() && pl->nfb &&
            !pl->watching && !ev_is_active(&pl->scan)) {
            ev_timer_set(&pl->scan, POLL_INTERVAL, 0.);
            ev_timer_start(loop, &pl->scan);
            ev_unref(loop);
        }
    } else {
        fresh();
    }
    evsig__unlock_loop();
}

/* The internal SIGCHLD watcher: called unlocked, like any watcher. */
static void sigchld_cb(struct ev_loop *loop, const evsig_info *info,
                       void *data)
{
    (void)loop;
    (void)info;
    evsig__lock_loop();
    if (pr.forkgen == evsig__forkgen())
        scan(data);
    evsig__unlock_loop();
}

static void poll_loop(struct ev_loop *loop)
{
    struct ploop *pl;

    fresh();
    pl = ploop_find(loop);
    if (pl)
        scan(pl);
}

static int check_loop(struct ev_loop *loop)
{
    (void)loop;
    return 0;
}

static int kill_child(const struct evsig__child *e, int sig)
{
    /* Through the pidfd: never the process that reused the pid. */
    if (e->pidfd >= 0)
        return syscall(SYS_pidfd_send_signal, e->pidfd, sig, NULL, 0) == 0
               ? 0 : -errno;
    return kill(e->pid, sig) == 0 ? 0 : -errno;
}

static void fork_child(void)
{
    /* Done already: close_in_child() ran from the fork hook. */
}

static void reset(void)
{
    fresh();
    while (pr.loops) {
        struct ploop *pl = pr.loops;

        pr.loops = pl->next;
        ploop_stop(pl);
        free(pl->fb);
        free(pl);
    }
    /* Frames still on a stack (a reset from a callback) return without
     * touching these. */
    free_list(pr.gone);
    pr.gone = NULL;
    free_list(pr.inherited);
    pr.inherited = NULL;
    free_list(pr.spare);
    pr.spare = NULL;
    fd_close_all();   /* the pidfds */
    fd_forget_all();
    free(pr.fdbits);
    pr.fdbits = NULL;
    pr.nfdwords = 0;
    pr.force_fallback = false;
}

const struct evsig__reaper evsig__reaper_pidfd = {
    .backend    = EVSIG_CHILD_PIDFD,
    .check_loop = check_loop,
    .prepare    = prepare,
    .adopt      = adopt,
    .drop       = drop,
    .poll       = poll_loop,
    .kill       = kill_child,
    .fork_child = fork_child,
    .reset      = reset,
};

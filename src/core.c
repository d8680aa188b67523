/* SPDX-License-Identifier: MIT */
/*
 * core.c - process-wide lifecycle: the lock, the fork generation, the reset
 * epoch, libev's default loop.
 *
 * The bottom layer: it calls nothing of evsig's. What it owns:
 *
 * - The lock. One mutex serialises every evsig call from every thread. It
 *   is taken with every signal blocked in the calling thread, so that no
 *   handler (a foreign one that evsig's C handler chains to, say) can run
 *   on a thread that holds it and longjmp out; the C handler never takes
 *   it. Around fork() an atfork handler takes it, so a child never inherits
 *   it held by a thread that does not exist there.
 * - evsig__proc: the fork generation and the count of C handlers running
 *   (see evsig-private.h). Both are reset in the child of a fork by the
 *   atfork child handler, which runs where only async-signal-safe work is
 *   allowed and writes nothing else, so a forked child pays for one page.
 * - The reset epoch, which waits and dispatch frames compare to notice an
 *   evsig_reset() made under their feet.
 * - libev's evpipe: made before evsig's first ev_async on a loop, where
 *   the fd limit is an error rather than libev's abort().
 * - libev's default loop: ev_default_loop_uc_() is an inline in ev.h that
 *   reads libev's internal pointer without creating the loop. evsig must
 *   never create the default loop (that installs libev's SIGCHLD handler),
 *   so this is the one place that reads it, and records libev's SIGCHLD
 *   handler the first time the loop is seen.
 *
 * Context: any thread; evsig__proc is also written in signal context (by
 * catch.c) and in the child of fork().
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "evsig-private.h"

/* Aligned so that it never straddles two pages (see evsig-private.h), and
 * in .data rather than .bss: beside the other small state a fork_and_watch
 * writes (the pid table's, the reaper's), so that the parent copies one
 * page of it after each fork, not two. */
struct evsig__proc evsig__proc
    __attribute__((aligned(256), section(".data"))) = {
    .lock.mutex = PTHREAD_MUTEX_INITIALIZER,
};
_Static_assert(sizeof(struct evsig__proc) <= 256, "evsig__proc on one page");

typedef void (*sighandler_fn)(int);

static struct core_state {
    unsigned        epoch;
    bool            atfork_registered;
    bool            met_default_loop;
    sighandler_fn   libev_handler;
    void          (*fork_hook)(unsigned parent_gen);
} core;

/* Callbacks run on this thread (evsig_pause() waits for the count to move). */
static _Thread_local unsigned long handlers_ran;

/* --- fork ---------------------------------------------------------------- */

/*
 * evsig_fork() forks with the lock held (so the child inherits a
 * consistent state); any other fork() waits for it here and releases it in
 * both processes, the pattern pthread_atfork() was made for. The holder's
 * id says which case it is: it is written beside the mutex (no
 * thread-local flag, whose page the parent would copy after each fork).
 */
#define LK evsig__proc.lock

static bool held_by_me(void)
{
    pthread_t h = atomic_load_explicit(&LK.holder, memory_order_relaxed);

    return h && pthread_equal(h, pthread_self());
}

static void atfork_prepare(void)
{
    LK.forking_holds = held_by_me();
    if (!LK.forking_holds)
        pthread_mutex_lock(&LK.mutex);
}

static void atfork_parent(void)
{
    if (!LK.forking_holds)
        pthread_mutex_unlock(&LK.mutex);
}

/* The mutex made anew, unlocked, in a child of fork() -- by assignment: a
 * call the parent never made would be resolved by the dynamic linker in
 * every child, and each page of code or data first touched there is a
 * page fault (a fork costs mostly those). Only the forking thread exists
 * in the child, so nobody waits on the mutex being replaced. */
static void remake_lock(void)
{
    static const pthread_mutex_t unlocked = PTHREAD_MUTEX_INITIALIZER;

    LK.mutex = unlocked;
    atomic_store_explicit(&LK.holder, 0, memory_order_relaxed);
}

/* In every child of fork(), evsig's or not: whatever was caught before the
 * fork belongs to the parent, and no handler runs here yet. A lock taken
 * by atfork_prepare() is released; evsig_fork() keeps the one it held
 * until evsig__unlock_forked(). */
static void atfork_child(void)
{
    unsigned gen = atomic_fetch_add_explicit(&evsig__proc.forkgen, 1,
                                             memory_order_relaxed);

    atomic_store_explicit(&evsig__proc.inflight, 0, memory_order_relaxed);
    if (!LK.forking_holds)
        remake_lock();
    if (core.fork_hook)
        core.fork_hook(gen);
}

void evsig__core_set_fork_hook(void (*hook)(unsigned parent_gen))
{
    core.fork_hook = hook;
}

void evsig__core_fork_child(unsigned gen)
{
    if (evsig__forkgen() == gen) {
        /* No atfork handler ran (it could not be registered). */
        atomic_fetch_add_explicit(&evsig__proc.forkgen, 1, memory_order_relaxed);
        atomic_store_explicit(&evsig__proc.inflight, 0, memory_order_relaxed);
        if (core.fork_hook)
            core.fork_hook(gen);
    }
}

/* --- the lock ------------------------------------------------------------ */

void evsig__lock(sigset_t *saved)
{
    sigset_t all;

    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, saved);
    pthread_mutex_lock(&LK.mutex);
    atomic_store_explicit(&LK.holder, pthread_self(), memory_order_relaxed);
    LK.evpipe_loop = NULL;
    if (!core.atfork_registered) {
        /* Can only fail with ENOMEM; then a fork() made while another
         * thread holds the lock is the program's risk, and evsig_fork()
         * still bumps the generation itself. */
        if (pthread_atfork(atfork_prepare, atfork_parent, atfork_child) == 0)
            core.atfork_registered = true;
    }
}

void evsig__unlock(const sigset_t *saved)
{
    atomic_store_explicit(&LK.holder, 0, memory_order_relaxed);
    pthread_mutex_unlock(&LK.mutex);
    pthread_sigmask(SIG_SETMASK, saved, NULL);
}

void evsig__unlock_forked(const sigset_t *saved)
{
    remake_lock();
    pthread_sigmask(SIG_SETMASK, saved, NULL);
}

void evsig__lock_loop(void)
{
    pthread_mutex_lock(&LK.mutex);
    atomic_store_explicit(&LK.holder, pthread_self(), memory_order_relaxed);
    LK.evpipe_loop = NULL;
}

void evsig__unlock_loop(void)
{
    atomic_store_explicit(&LK.holder, 0, memory_order_relaxed);
    pthread_mutex_unlock(&LK.mutex);
}

/* --- handlers in flight -------------------------------------------------- */

bool evsig__core_idle(void)
{
    return atomic_load(&evsig__proc.inflight) == 0;
}

void evsig__core_quiesce(void)
{
    /* A C handler never blocks and never waits for this thread: it runs a
     * bounded sequence of stores, so this ends as soon as the threads in
     * one are scheduled. */
    while (!evsig__core_idle())
        sched_yield();
}

/* --- reset epoch, callback count ----------------------------------------- */

unsigned evsig__core_epoch(void)
{
    return core.epoch;
}

void evsig__core_epoch_bump(void)
{
    core.epoch++;
}

void evsig__core_note_handler(void)
{
    handlers_ran++;
}

unsigned long evsig__core_handlers_ran(void)
{
    return handlers_ran;
}

/* --- libev's default loop ------------------------------------------------ */

struct ev_loop *evsig__core_default_loop(void)
{
    return ev_default_loop_uc_();
}

bool evsig__core_meet_default_loop(void)
{
    struct sigaction sa;

    if (core.met_default_loop || !ev_default_loop_uc_())
        return false;
    core.met_default_loop = true;

    /* The default loop installed libev's SIGCHLD handler when it was made
     * (unless it reads signals from a signalfd: then there is none). */
    sigaction(SIGCHLD, NULL, &sa);
    if (!(sa.sa_flags & SA_SIGINFO) && sa.sa_handler != SIG_DFL &&
        sa.sa_handler != SIG_IGN)
        core.libev_handler = sa.sa_handler;
    return true;
}

sighandler_fn evsig__core_libev_handler(void)
{
    return core.libev_handler;
}

bool evsig__core_signalfd_default_loop(void)
{
    /* A default loop that installed no SIGCHLD handler reads SIGCHLD from
     * a signalfd (EVFLAG_SIGNALFD, or LIBEV_FLAGS behind the program's
     * back). */
    return core.met_default_loop && !core.libev_handler &&
           ev_default_loop_uc_();
}

/* --- libev's evpipe ------------------------------------------------------ */

static void evpipe_probe_cb(struct ev_loop *loop, ev_async *w, int revents)
{
    (void)loop;
    (void)w;
    (void)revents;
}

/*
 * libev makes a loop's "evpipe" (an eventfd, else a pipe) when the first
 * ev_async or ev_signal starts on it (evpipe_init() in ev.c), keeps it for
 * the loop's lifetime, and abort()s the process if it cannot be made
 * ("(libev) error creating signal/async pipe"): at the fd limit, say. So
 * before evsig's first ev_async on a loop, the evpipe is made here, where
 * running out of fds is an error: an eventfd opened and closed again first
 * (EMFILE/ENFILE fail the call, nothing made), then an ev_async started
 * and stopped at once, which leaves libev's evpipe in place. libev's
 * default loop has had one since it was made (for its SIGCHLD ev_signal),
 * unless it reads signals from a signalfd. What this hold of the lock
 * made is remembered, so a watch started later in the same call (the
 * PIDFD fallback's, after the pidfd took the last fd) does not ask again;
 * @running says that an ev_async of the caller's runs on @loop already.
 * Without @make only the probe is made: a caller that may still fail
 * (dispatch.c, before its allocations) starts its ev_async at its commit,
 * so a failed call leaves no evpipe behind either.
 * Cost: two system calls before the first ev_async of evsig's on a loop.
 * XXX: another thread that takes the last fd between the probe and libev's
 * eventfd() still makes libev abort; only this thread is protected.
 */
int evsig__core_evpipe_ready(struct ev_loop *loop, bool running, bool make)
{
    ev_async probe;
    int fd, p[2];

    if (running || loop == LK.evpipe_loop ||
        (loop == ev_default_loop_uc_() && core.met_default_loop &&
         core.libev_handler)) {
        LK.evpipe_loop = loop;
        return 0;
    }
    fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (fd >= 0) {
        close(fd);
    } else if (errno == EMFILE || errno == ENFILE) {
        return -errno;
    } else {
        /* No eventfd (ENOSYS...): libev falls back to a pipe. */
        if (pipe2(p, O_CLOEXEC) < 0)
            return -errno;
        close(p[0]);
        close(p[1]);
    }
    if (!make)
        return 0;
    ev_async_init(&probe, evpipe_probe_cb);
    ev_async_start(loop, &probe);
    ev_async_stop(loop, &probe);
    LK.evpipe_loop = loop;
    return 0;
}

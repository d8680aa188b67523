/* SPDX-License-Identifier: MIT */
/*
 * child.c - watched children, kept results, fork and cooperative waitpid.
 *
 * libev reaps children only on its default loop: its SIGCHLD watcher calls
 * waitpid(-1) and feeds the ev_child watchers of the reaped pid's bucket
 * (and of pid 0). evsig starts exactly one ev_child, for pid 0, and looks
 * each reaped pid up in its own hash table: one ev_child per child would
 * make libev scan a 16-bucket list on every exit, so the cost per exit
 * would grow with the number of watched children. That mechanism sits
 * behind the reaper_*() seam below, so a per-pid (pidfd) backend can
 * replace it without touching the rest.
 *
 * Every reaped child, watched or not, leaves a result (pid, status, time)
 * for evsig_waitpid(): a child libev reaped behind the program's back is
 * never reported as ECHILD. Results nobody collects are dropped after a
 * TTL (EVSIG_RESULT_TTL by default), oldest first, so memory stays bounded.
 * The table itself (hash, slab, result lists, fork generation) is
 * pidtab.c's; this file gives the entries their meaning: a watch holds a
 * loop reference (unless EVSIG_NOREF) until its child exits, a watched
 * child's exit is reported once, to its callback and then to the SIGCHLD
 * table handler.
 *
 * Context: the default loop's thread; reaped() runs from ev_run().
 */
#include <math.h>
#include <pty.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "evsig-private.h"

static struct child_state {
    struct ev_loop *loop;        /* the default loop, once met */
    evsig_handler   sigchld_cb;  /* the table's SIGCHLD callback, or NULL */
    void           *sigchld_data;
    ev_child      reaper;        /* pid 0: every child libev reaps */
    ev_timer      late_timer;    /* reports of results watched late */
    uint32_t      running_watched;   /* watched children not yet exited */
    unsigned      refs;          /* ev_ref()s held for watched children */
    bool          claimed;       /* holds a claim on SIGCHLD */
    double        ttl;
    bool          ttl_set;
} child;

static void reaped(struct ev_loop *loop, pid_t pid, int status);

/* --- entries: what a watch holds ----------------------------------------- */

/* Drop whatever a fork copied from the parent: its children are not ours.
 * The loop references held for them go too, so they do not keep ev_run()
 * alive in the child. */
static void fresh(void)
{
    if (!evsig__pidtab_fresh())
        return;
    if (child.loop)
        for (; child.refs; child.refs--)
            ev_unref(child.loop);
    child.running_watched = 0;
}

static void release_ref(struct evsig__child *e)
{
    if (!e->exited && e->watched && !(e->flags & EVSIG_NOREF)) {
        ev_unref(child.loop);
        child.refs--;
    }
}

static void take_ref(struct evsig__child *e)
{
    if (!e->exited && e->watched && !(e->flags & EVSIG_NOREF)) {
        ev_ref(child.loop);
        child.refs++;
    }
}

static void forget(struct evsig__child *e)
{
    if (!e->exited && e->watched)
        child.running_watched--;
    release_ref(e);
    evsig__pidtab_remove(e);
}

static void prune(ev_tstamp now)
{
    evsig__pidtab_prune(now, child.ttl_set ? child.ttl : EVSIG_RESULT_TTL);
}

/* Hand a result out: it is given once, then forgotten. */
static pid_t collect(struct evsig__child *e, int *status)
{
    pid_t pid = e->pid;

    if (status)
        *status = e->status;
    forget(e);
    return pid;
}

/* --- the reaper seam ----------------------------------------------------- */

static void reaper_cb(struct ev_loop *loop, ev_child *w, int revents)
{
    (void)revents;
    evsig__lock_loop();
    reaped(loop, w->rpid, w->rstatus);
    evsig__unlock_loop();
    evsig__dispatch_report();
}

/* Start reaping on @loop (the default loop). */
static void reaper_start(struct ev_loop *loop)
{
    ev_child_init(&child.reaper, reaper_cb, 0, 0);
    ev_child_start(loop, &child.reaper);
    ev_unref(loop);   /* reaping is not work: watched children are */
}

static void reaper_stop(struct ev_loop *loop)
{
    ev_ref(loop);
    ev_child_stop(loop, &child.reaper);
}

/* --- reporting ----------------------------------------------------------- */

/* Report @e's exit: its callback, then the SIGCHLD table callback, both
 * unlocked. Returns false if evsig_reset() ran meanwhile (then nothing
 * held may be touched); @e is not valid after the call either way. */
static bool report(struct ev_loop *loop, struct evsig__child *e)
{
    unsigned epoch = evsig__core_epoch();
    pid_t pid = e->pid;
    int status = e->status;
    evsig_child_cb cb = e->cb;
    void *data = e->data;
    evsig_info info;

    e->late = false;
    evsig__unlock_loop();
    if (cb)
        cb(loop, pid, status, data);
    evsig__lock_loop();
    if (evsig__core_epoch() != epoch)
        return false;
    if (!child.sigchld_cb)
        return true;

    memset(&info, 0, sizeof(info));
    info.signo = SIGCHLD;
    info.code = WIFEXITED(status) ? CLD_EXITED :
                WCOREDUMP(status) ? CLD_DUMPED : CLD_KILLED;
    info.pid = pid;
    info.uid = getuid();   /* waitpid() does not say; children inherit ours */
    info.status = status;
    info.merged = 1;
    evsig_handler scb = child.sigchld_cb;
    void *sdata = child.sigchld_data;

    evsig__unlock_loop();
    evsig__core_note_handler();
    scb(loop, &info, sdata);
    evsig__lock_loop();
    return evsig__core_epoch() == epoch;
}

void evsig__child_set_sigchld_cb(evsig_handler cb, void *data)
{
    child.sigchld_cb = cb;
    child.sigchld_data = cb ? data : NULL;
}

/* libev reaped @pid: keep its result, run its callback, then the SIGCHLD
 * table handler, then drop stale results (gevent's _on_child order).
 * Lock held (released around the callbacks). */
static void reaped(struct ev_loop *loop, pid_t pid, int status)
{
    struct evsig__child *e;
    ev_tstamp now = ev_now(loop);

    fresh();
    e = evsig__pidtab_lookup(pid);
    if (e && e->exited) {
        /* The pid was reused and reaped again before anyone collected the
         * first result: the newer one wins. */
        forget(e);
        e = NULL;
    }
    if (!e) {
        if (evsig__pidtab_reserve() < 0)
            return;   /* an unwatched child's result; nothing else to lose */
        e = evsig__pidtab_insert(pid);
    }

    release_ref(e);
    if (e->watched)
        child.running_watched--;
    e->exited = true;
    e->status = status;
    e->finished = now;
    evsig__pidtab_result_add(e);

    if (e->watched && !report(loop, e))
        return;   /* evsig_reset() ran in a callback */
    prune(now);
}

static void late_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)t;
    (void)revents;
    evsig__lock_loop();
    fresh();
    /* Oldest first; a callback may collect or add results meanwhile, so
     * restart from the head after each report. */
    for (;;) {
        struct evsig__child *e = evsig__pidtab_oldest(true);

        while (e && !e->late)
            e = evsig__pidtab_newer(e);
        if (!e || !report(loop, e))
            break;
    }
    evsig__unlock_loop();
}

/* --- entry points -------------------------------------------------------- */

static bool is_default(struct ev_loop *loop)
{
    return loop && loop == evsig__core_default_loop();
}

/* From the first child call on the default loop, results are kept. */
void evsig__child_meet(void)
{
    struct ev_loop *loop = evsig__core_default_loop();

    fresh();
    if (child.loop || !loop)
        return;
    child.loop = loop;
    reaper_start(loop);
    ev_timer_init(&child.late_timer, late_cb, 0., 0.);
}

/* Common start of every child entry point: lock held. */
static int enter(struct ev_loop *loop)
{
    if (!is_default(loop))
        return -EINVAL;
    evsig__disp_meet_default_loop();
    evsig__child_meet();
    return 0;
}

void evsig__child_reset(void)
{
    if (child.loop) {
        fresh();
        for (; child.refs; child.refs--)
            ev_unref(child.loop);
        if (ev_is_active(&child.late_timer))
            ev_timer_stop(child.loop, &child.late_timer);
        reaper_stop(child.loop);
        child.loop = NULL;
    }
    evsig__pidtab_forget();
    child.running_watched = 0;
    child.ttl_set = false;
    child.sigchld_cb = NULL;
    child.sigchld_data = NULL;
    child.claimed = false;
    /* disposition.c forgets the claim on SIGCHLD. */
}

static int watch(struct evsig__child *e, evsig_child_cb cb, void *data,
                 int flags)
{
    /* From the first watched child on, evsig's C handler stays installed
     * for SIGCHLD: it writes the wakeup byte, and feeds libev's reaper. */
    if (!child.claimed) {
        evsig__disp_claim(SIGCHLD);
        child.claimed = true;
    }
    release_ref(e);
    if (!e->exited && !e->watched)
        child.running_watched++;
    e->watched = true;
    e->cb = cb;
    e->data = data;
    e->flags = (uint8_t)flags;
    take_ref(e);
    return 0;
}

/*
 * Only children call ev_loop_fork(), so with lazy binding every child
 * would resolve it itself: the dynamic linker spills the xsave area onto
 * fresh stack pages and writes the GOT, page faults the parent never pays
 * for. A pointer relocated when the library is loaded (volatile, so the
 * compiler does not fold it back into a PLT call) avoids that.
 */
static void (*volatile loop_fork)(struct ev_loop *) = ev_loop_fork;

/* In the child of evsig_fork*(); @gen: the fork generation before. */
static void after_fork_in_child(struct ev_loop *loop, unsigned gen)
{
    evsig__core_fork_child(gen);
    loop_fork(loop);
    /* The parent's children must not keep ev_run() alive here. The rest of
     * the inherited state is dropped lazily by fresh() at the first use,
     * so a child that never uses it never writes (copies) that page. */
    for (; child.refs; child.refs--)
        ev_unref(loop);
}

static pid_t do_fork(struct ev_loop *loop, int *amaster, evsig_child_cb cb,
                     void *data, int flags, bool watched)
{
    sigset_t old;
    unsigned gen;
    pid_t pid;
    int saved, r;

    if (flags & ~EVSIG_NOREF)
        return evsig__fail(-EINVAL);
    /* The lock blocks every signal: one sent to the new child before it
     * reset its state stays pending, not run a handler that belongs to the
     * parent. It is held across fork() (core.c's atfork handlers know), so
     * the child inherits a consistent state. */
    evsig__lock(&old);
    r = enter(loop);
    if (r == 0 && watched)
        r = evsig__pidtab_reserve();
    if (r < 0) {
        evsig__unlock(&old);
        return evsig__fail(r);
    }
    gen = evsig__forkgen();
    pid = amaster ? forkpty(amaster, NULL, NULL, NULL) : fork();
    saved = errno;
    if (pid == 0) {
        after_fork_in_child(loop, gen);
    } else if (pid > 0 && watched) {
        /* Watched before the signals are unblocked: no exit is missed. */
        struct evsig__child *e = evsig__pidtab_lookup(pid);

        if (e)
            forget(e);   /* a stale result for a recycled pid */
        watch(evsig__pidtab_insert(pid), cb, data, flags);
        if (amaster)
            fcntl(*amaster, F_SETFD, FD_CLOEXEC);
    }
    evsig__unlock(&old);
    errno = saved;
    return pid;
}

EVSIG_PUBLIC pid_t evsig_fork(struct ev_loop *loop)
{
    return do_fork(loop, NULL, NULL, NULL, 0, false);
}

EVSIG_PUBLIC pid_t evsig_fork_and_watch(struct ev_loop *loop, evsig_child_cb cb,
                                        void *data, int flags)
{
    return do_fork(loop, NULL, cb, data, flags, true);
}

EVSIG_PUBLIC pid_t evsig_forkpty_and_watch(struct ev_loop *loop, int *amaster,
                                           evsig_child_cb cb, void *data,
                                           int flags)
{
    if (!amaster)
        return evsig__fail(-EINVAL);
    return do_fork(loop, amaster, cb, data, flags, true);
}

/* Whether @pid is a child of ours that nobody has reaped yet. Returns 1 if
 * it has exited (a zombie), 0 if running, -ECHILD if not our child. */
static int probe(pid_t pid)
{
    siginfo_t si;

    memset(&si, 0, sizeof(si));
    if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0)
        return -errno;
    return si.si_pid == pid ? 1 : 0;
}

static int child_watch(struct ev_loop *loop, pid_t pid, evsig_child_cb cb,
                       void *data, int flags)
{
    struct evsig__child *e;
    int r;

    r = enter(loop);
    if (r < 0)
        return r;

    e = evsig__pidtab_lookup(pid);
    if (e && e->exited) {
        /* Reaped before anyone watched it: report on the next iteration,
         * unless it was already reported to a watch. */
        if (!e->watched) {
            evsig__pidtab_result_move(e, true);
            e->late = true;
            if (!ev_is_active(&child.late_timer))
                ev_timer_start(loop, &child.late_timer);
        }
        e->cb = cb;
        e->data = data;
        e->flags = (uint8_t)flags;
        return 0;
    }
    if (!e) {
        r = probe(pid);
        if (r < 0)
            return r;
        r = evsig__pidtab_reserve();
        if (r < 0)
            return r;
        e = evsig__pidtab_insert(pid);
    }
    return watch(e, cb, data, flags);
}

EVSIG_PUBLIC int evsig_child_watch(struct ev_loop *loop, pid_t pid,
                                   evsig_child_cb cb, void *data, int flags)
{
    sigset_t saved;
    int r;

    if (pid <= 0 || (flags & ~EVSIG_NOREF))
        return evsig__fail(-EINVAL);
    evsig__lock(&saved);
    r = child_watch(loop, pid, cb, data, flags);
    evsig__unlock(&saved);
    return r < 0 ? evsig__fail(r) : 0;
}

static int child_unwatch(struct ev_loop *loop, pid_t pid)
{
    struct evsig__child *e;
    int r;

    r = enter(loop);
    if (r < 0)
        return r;
    e = evsig__pidtab_lookup(pid);
    if (e && e->exited && e->late) {
        /* Watched late and not reported yet: cancel the report, keep the
         * result for evsig_waitpid(). */
        e->late = false;
        e->cb = NULL;
        e->data = NULL;
        evsig__pidtab_result_move(e, false);
        return 0;
    }
    if (!e || e->exited || !e->watched)
        return -ECHILD;
    forget(e);   /* its exit will leave an unwatched result */
    return 0;
}

EVSIG_PUBLIC int evsig_child_unwatch(struct ev_loop *loop, pid_t pid)
{
    sigset_t saved;
    int r;

    if (pid <= 0)
        return evsig__fail(-EINVAL);
    evsig__lock(&saved);
    r = child_unwatch(loop, pid);
    evsig__unlock(&saved);
    return r < 0 ? evsig__fail(r) : 0;
}

/* Run one loop iteration with the lock released (and the caller's signal
 * mask back, so signals reach the handler meanwhile). */
static void run_unlocked(struct ev_loop *loop, int flags, sigset_t *saved)
{
    evsig__unlock(saved);
    ev_run(loop, flags);
    evsig__lock(saved);
}

/* Run non-blocking loop iterations until @pid's exit was processed, so its
 * callback and the SIGCHLD handler ran before WNOHANG reports it. */
static void catch_up(struct ev_loop *loop, pid_t pid, sigset_t *saved)
{
    unsigned epoch = evsig__core_epoch();

    for (int i = 0; i < 8 && epoch == evsig__core_epoch(); i++) {
        struct evsig__child *e = evsig__pidtab_lookup(pid);

        if (!e || (e->exited && !e->late))
            return;
        run_unlocked(loop, EVRUN_NOWAIT, saved);
    }
}

static bool have_watched(void)
{
    return child.running_watched || evsig__pidtab_oldest(true);
}

/* Any watched child that exited without the loop having processed it? */
static bool watched_zombie(void)
{
    siginfo_t si;

    memset(&si, 0, sizeof(si));
    if (!child.running_watched ||
        waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0 || !si.si_pid)
        return false;
    return true;
}

struct deadline {
    ev_timer timer;
    bool     expired;
};

static void deadline_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)loop;
    (void)revents;
    ((struct deadline *)t)->expired = true;
}

/* A blocking system call, with the lock released meanwhile. */
static pid_t waitpid_unlocked(pid_t pid, int *status, int options,
                              sigset_t *saved)
{
    pid_t r;
    int err;

    evsig__unlock(saved);
    r = waitpid(pid, status, options);
    err = errno;
    evsig__lock(saved);
    errno = err;
    return r;
}

/* The one waiting engine of evsig_waitpid() and evsig_waitpid_timeout().
 * @timeout < 0: no deadline; @options: 0 or WNOHANG. Lock held (released
 * while the loop runs). Returns the pid, 0, or -Exxx. */
static pid_t wait_for(struct ev_loop *loop, pid_t pid, int *status,
                      int options, double timeout, sigset_t *saved)
{
    unsigned epoch = evsig__core_epoch();
    struct deadline dl = { .expired = false };
    bool blocking_plain = timeout < 0;   /* may fall back to waitpid() */
    pid_t r = -1;
    int err = 0;

    ev_ref(loop);   /* so EVRUN_ONCE blocks even with NOREF watches only */
    if (timeout >= 0) {
        ev_now_update(loop);
        ev_timer_init(&dl.timer, deadline_cb, timeout, 0.);
        ev_timer_start(loop, &dl.timer);
    }

    for (;;) {
        struct evsig__child *e;

        if (epoch != evsig__core_epoch()) {
            err = EINTR;
            break;
        }
        fresh();
        if (pid > 0) {
            e = evsig__pidtab_lookup(pid);
            if (e && e->watched && (options & WNOHANG) &&
                (e->late || (!e->exited && probe(pid) == 1))) {
                /* WNOHANG checks for real: process the exit now, so the
                 * callback and the SIGCHLD handler run before we report. */
                int st;

                catch_up(loop, pid, saved);
                if (epoch != evsig__core_epoch())
                    continue;
                e = evsig__pidtab_lookup(pid);
                if (e && !e->exited && waitpid(pid, &st, WNOHANG) == pid) {
                    reaped(loop, pid, st);   /* the loop could not: do it */
                    if (epoch != evsig__core_epoch())
                        continue;
                }
                e = evsig__pidtab_lookup(pid);
            }
            if (e && e->exited && !e->late) {
                r = collect(e, status);
                break;
            }
            if (e && e->watched) {
                if (options & WNOHANG) {
                    r = 0;
                    break;
                }
            } else {
                /* Not watched, no result kept: plain waitpid(), never
                 * blocking when a deadline is set. */
                int p = probe(pid);

                if (p < 0) {
                    err = -p;
                    break;
                }
                if (blocking_plain || options & WNOHANG || p == 1) {
                    r = waitpid_unlocked(pid, status,
                                         p == 1 ? WNOHANG : options, saved);
                    if (r < 0)
                        err = errno;
                    break;
                }
            }
        } else if (have_watched()) {
            e = evsig__pidtab_oldest(true);
            while (e && e->late)
                e = evsig__pidtab_newer(e);
            if (e) {
                r = collect(e, status);
                break;
            }
            if (options & WNOHANG) {
                if (watched_zombie()) {
                    run_unlocked(loop, EVRUN_NOWAIT, saved);
                    if (evsig__pidtab_oldest(true))
                        continue;
                }
                r = 0;
                break;
            }
        } else {
            e = evsig__pidtab_oldest(false);
            if (e) {
                r = collect(e, status);
                break;
            }
            if (blocking_plain || options & WNOHANG) {
                r = waitpid_unlocked(-1, status, options, saved);
                if (r < 0)
                    err = errno;
                break;
            }
            siginfo_t si;
            memset(&si, 0, sizeof(si));
            if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0) {
                err = errno;
                break;
            }
            if (si.si_pid) {
                r = waitpid(si.si_pid, status, WNOHANG);
                break;
            }
        }
        if (dl.expired) {
            err = ETIMEDOUT;
            break;
        }
        run_unlocked(loop, EVRUN_ONCE, saved);
    }

    if (timeout >= 0)
        ev_timer_stop(loop, &dl.timer);
    ev_unref(loop);
    return err ? -err : r;
}

static pid_t waitpid_common(struct ev_loop *loop, pid_t pid, int *status,
                            int options, double timeout)
{
    int saved_errno = errno;   /* the loop's callbacks may change it */
    sigset_t saved;
    pid_t r;

    evsig__lock(&saved);
    r = enter(loop);
    if (r == 0) {
        prune(ev_now(loop));
        r = wait_for(loop, pid, status, options, timeout, &saved);
    }
    evsig__unlock(&saved);
    if (r < 0)
        return evsig__fail(r);
    errno = saved_errno;
    return r;
}

EVSIG_PUBLIC pid_t evsig_waitpid(struct ev_loop *loop, pid_t pid, int *status,
                                 int options)
{
    if (pid == 0 || pid < -1 || (options & ~WNOHANG))
        return evsig__fail(-EINVAL);
    return waitpid_common(loop, pid, status, options, -1);
}

EVSIG_PUBLIC pid_t evsig_waitpid_timeout(struct ev_loop *loop, pid_t pid,
                                         int *status, double timeout)
{
    if (pid == 0 || pid < -1 || !(timeout >= 0) || isinf(timeout))
        return evsig__fail(-EINVAL);
    return waitpid_common(loop, pid, status, 0, timeout);
}

EVSIG_PUBLIC int evsig_kill(struct ev_loop *loop, pid_t pid, int sig)
{
    struct evsig__child *e;
    sigset_t saved;
    int r;

    if (sig != 0 && evsig__check_signum(sig) < 0)
        return evsig__fail(-EINVAL);
    evsig__lock(&saved);
    r = enter(loop);
    if (r == 0 && pid > 0) {
        e = evsig__pidtab_lookup(pid);
        /* Reaped: the pid may already belong to someone else. */
        if (e && e->exited)
            r = -ESRCH;
    }
    if (r == 0 && kill(pid, sig) < 0)
        r = -errno;
    evsig__unlock(&saved);
    return r < 0 ? evsig__fail(r) : 0;
}

EVSIG_PUBLIC int evsig_child_set_result_ttl(double seconds)
{
    sigset_t saved;

    if (!(seconds >= 0) || isinf(seconds))
        return evsig__fail(-EINVAL);
    evsig__lock(&saved);
    child.ttl = seconds;
    child.ttl_set = true;
    evsig__unlock(&saved);
    return 0;
}

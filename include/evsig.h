/* SPDX-License-Identifier: MIT */
/*
 * evsig.h - POSIX signals and child processes on a libev event loop.
 *
 * evsig gives C programs what Python's `signal` module, gevent's cooperative
 * signal/fork_and_watch/waitpid and Twisted's SIGCHLD self-pipe give Python
 * programs: handlers that run on the loop, never in signal context; siginfo
 * for every delivery, including every queued real-time signal; children
 * reaped without races or lost statuses; SA_RESTART so blocking calls are
 * restarted instead of failing with EINTR (except those the kernel never
 * restarts, see signal(7): sleeps, poll/select/epoll_wait, sigtimedwait,
 * and socket calls with a timeout).
 *
 * The header needs POSIX.1-2008 (sigset_t, union sigval): compile with the
 * compiler's default GNU mode or define _POSIX_C_SOURCE=200809L; it is
 * checked to compile as strict C99 that way, and as C++.
 *
 * Conventions used throughout:
 *
 * - Functions returning int or pid_t return -1 and set errno on failure,
 *   exactly like libc, and change nothing when they fail. errno is left
 *   alone on success.
 * - EINVAL: a bad signal number (<= 0, >= NSIG, or one the C library reserves
 *   for itself, such as glibc's 32 and 33), SIGKILL or SIGSTOP given a
 *   handler, NULL where a pointer is required, unknown flag bits.
 *   ECHILD: not a child, or not watched where that is required.
 * - evsig's state is process-wide, like signal dispositions, and its
 *   functions are thread-safe against each other: threads may call them at
 *   once, each on its own loop or on none. One process-wide lock serialises
 *   them; it is taken with every signal blocked in the calling thread, and
 *   never by the C handler. A call that names a loop (or a watcher on it)
 *   is made on the thread that runs that loop, or while the loop does not
 *   run -- libev's own rule for its watchers, since evsig starts and stops
 *   its internal ev_async and loop references there. A loop's signals and
 *   children are dispatched on the thread that runs it. Any thread may
 *   receive the signals themselves.
 * - Any number of loops, in any threads, may serve the same signal: each
 *   loop that watches it gets every delivery, on its own thread. evsig
 *   wakes each loop through an ev_async of its own and installs its C
 *   handler with sigaction() itself; it uses neither ev_signal nor libev's
 *   signal handling, so loops made with EVFLAG_SIGNALFD (or made so by the
 *   LIBEV_FLAGS environment variable) serve evsig signals like any other.
 * - Before ev_loop_destroy() of a loop, stop what evsig serves on it (its
 *   watchers, waits, children, a table handler bound to it) or call
 *   evsig_reset(); a loop destroyed with evsig work still on it is the
 *   caller's bug, as with libev's own watchers. XXX: when another thread
 *   moves the table away from a loop that then serves nothing, evsig stops
 *   its ev_async there at the loop's next wakeup; a loop destroyed before
 *   that keeps a small record (under 200 bytes) that evsig never touches
 *   again.
 *
 * Ownership (DESIGN §3.1). A delivery belongs to the handlers active when
 * the C handler received it: the table callback and the watchers in place
 * then, and a cooperative wait registered then. A watcher started later
 * does not get it; one stopped before the loop dispatched it does not get
 * it either; a delivery none of whose owners is left at dispatch is
 * dropped, as libuv and CPython drop it ("watch SIGPIPE around a write,
 * then unwatch" does not kill the program). A delivery received with no
 * owner at all -- the second of two quick ones to a signal held only by a
 * oneshot watcher, say -- meets the disposition the table stands for, at
 * once: the default action (the process dies of it, as with libuv's
 * SA_RESETHAND; stop signals stop the process and evsig stays installed),
 * nothing (ignored), or the foreign handler evsig found, called with its
 * siginfo -- under evsig's signal mask and flags, not its own.
 *
 * No SIG_DFL window: evsig installs and removes its C handler with one
 * sigaction() call each, so changing handlers or watchers never shows
 * another thread SIG_DFL unless that is what the new state is.
 */
#ifndef EVSIG_H
#define EVSIG_H

#include <ev.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>   /* WIFEXITED() and friends, for child callbacks */

#ifdef __cplusplus
extern "C" {
#endif

#define EVSIG_VERSION_MAJOR 0
#define EVSIG_VERSION_MINOR 2

/**
 * struct evsig_info - what a handler learns about one delivery
 * @signo:  the signal number.
 * @code:   si_code: SI_USER, SI_QUEUE, SI_TKILL, SI_TIMER, SI_KERNEL, ...;
 *          for SIGCHLD CLD_EXITED, CLD_KILLED or CLD_DUMPED.
 * @pid:    the sender (for SI_USER, SI_QUEUE, SI_TKILL), or the child for
 *          SIGCHLD; 0 when the kernel names no sender.
 * @uid:    the sender's real uid, 0 when the kernel names none.
 * @status: for SIGCHLD, the child's status in waitpid() form (use
 *          WIFEXITED() and friends); 0 for other signals.
 * @value:  the sigqueue()/timer value when @code is SI_QUEUE, SI_TIMER or
 *          SI_MESGQ; zero otherwise.
 * @lost:   deliveries of this signal received while this loop served it
 *          that were overwritten before the loop read them (whether or not
 *          they had an owner here), just before this one. Normally 0.
 *          Each signal has one ring of EVSIG_RING_SIZE deliveries that every
 *          loop reads at its own pace; a loop that falls further behind
 *          loses its own oldest deliveries, keeps the newest, and never
 *          slows another loop. Every callback of the next delivery
 *          dispatched on that loop sees the count; a coalesced call
 *          (EVSIG_COALESCE) sees the sum.
 * @merged: with EVSIG_COALESCE, how many deliveries were folded into this
 *          call (>= 1); 1 in every other evsig_info evsig fills.
 */
typedef struct evsig_info {
    int          signo;
    int          code;
    pid_t        pid;
    uid_t        uid;
    int          status;
    union sigval value;
    unsigned     lost;
    unsigned     merged;
} evsig_info;

/* Deliveries of one signal each loop can fall behind by before it loses
 * its oldest (and counts them in evsig_info.lost). */
#define EVSIG_RING_SIZE 128

/**
 * typedef evsig_handler - a signal callback
 * @loop: the loop that dispatched the signal.
 * @info: the delivery; valid only during the call.
 * @data: the pointer given when the handler or watcher was set.
 *
 * Always called from ev_run() on the loop's thread, never in signal context:
 * it may do anything, including calling evsig and libev.
 */
typedef void (*evsig_handler)(struct ev_loop *loop, const evsig_info *info,
                              void *data);

/* Special handler values, as Python's SIG_DFL / SIG_IGN / None. */
#define EVSIG_DFL  ((evsig_handler)0)   /* default action */
#define EVSIG_IGN  ((evsig_handler)1)   /* ignored */
#define EVSIG_NONE ((evsig_handler)2)   /* set outside evsig (getsignal only) */

/**
 * struct evsig_action - one entry of the handler table
 * @handler: EVSIG_DFL, EVSIG_IGN, EVSIG_NONE (from evsig_getsignal() only),
 *           or a callback.
 * @data:    the callback's data pointer; NULL for the special values.
 */
typedef struct evsig_action {
    evsig_handler handler;
    void         *data;
} evsig_action;

/* ------------------------------------------------------------------------
 * 3.1 The handler table: Python's signal.signal() / signal.getsignal()
 * ------------------------------------------------------------------------ */

/**
 * evsig_signal() - set the process-wide disposition of a signal
 * @loop:    the loop the handler runs on; ignored (may be NULL) for
 *           EVSIG_DFL and EVSIG_IGN.
 * @signum:  the signal.
 * @handler: EVSIG_DFL, EVSIG_IGN or a callback.
 * @data:    passed to the callback.
 * @old:     if not NULL, receives the previous disposition, so that
 *           evsig_signal(loop, signum, old.handler, old.data, NULL) puts it
 *           back. Before evsig first set @signum it is what the process had
 *           (see evsig_getsignal()).
 *
 * One disposition per signal, process-wide, kept until replaced. A
 * callback runs on @loop for every delivery, once per queued real-time
 * signal, with its siginfo, before the watchers of @loop. The table is bound
 * to the loop of the last evsig_signal() that set a callback (Python: the
 * last signal.signal() wins); watchers on other loops are not affected.
 * While no watcher or wait holds the signal, EVSIG_DFL and EVSIG_IGN are
 * installed in the kernel as SIG_DFL and SIG_IGN. A table handler does not
 * keep ev_run() alive (a disposition is not work): use evsig_watch() for a
 * loop whose only job is waiting for a signal.
 *
 * Deliveries belong to the callback in place when they were received (see
 * "Ownership" above): replacing the callback -- by another one, by
 * EVSIG_IGN or by EVSIG_DFL -- drops what the old one had not been given
 * yet, and the new one starts with the next delivery. Setting the same
 * handler, data and loop again is no change.
 *
 * Synchronous faults (SIGSEGV, SIGBUS, SIGILL, SIGFPE raised by the CPU,
 * including an x86-64 general-protection fault, which the kernel reports as
 * SI_KERNEL; SIGTRAP from a trap other than int3) cannot wait for the loop:
 * returning from the C handler would fault again. evsig lets them take
 * their default action.
 *
 * SIGCHLD is cooperative, as in gevent: a SIGCHLD callback is not a kernel
 * handler. It runs once per exit of a watched child (evsig_fork_and_watch(),
 * evsig_child_watch()), after the child's own callback, on the child's
 * loop (passed as its @loop), with @info->pid, @info->status, a CLD_*
 * @info->code and @info->uid -- the child's real uid with the PIDFD
 * backend (from waitid()), getuid() with LIBEV (waitpid() does not say).
 * With PIDFD it also runs, on @loop, once for each delivered SIGCHLD whose
 * child was not watched when the signal was received (with that siginfo;
 * the kernel may merge those), never twice for one watched exit; with
 * LIBEV @loop must be libev's default loop. EVSIG_DFL and EVSIG_IGN for
 * SIGCHLD only change what evsig_getsignal() reports: evsig never installs
 * them in the kernel, so child watching and evsig_waitpid() keep working (a
 * kernel SIG_IGN would make the kernel discard exit statuses).
 *
 * Context: any thread; with a callback, @loop's thread or while @loop does
 *          not run. EVSIG_DFL and EVSIG_IGN touch no loop (a loop the table
 *          leaves is cleaned up by its own thread), so any thread may set
 *          them.
 * Return:  0 on success, -1 on failure.
 * Errors:  EINVAL: bad @signum; SIGKILL or SIGSTOP; EVSIG_NONE as
 *          @handler; NULL @loop with a callback; LIBEV: a SIGCHLD callback
 *          on a loop other than the default one.
 *          ENOMEM: out of memory (nothing changed).
 *          EMFILE/ENFILE: no fd left for the one a loop needs the first time
 *          evsig uses it (libev's evpipe, which libev would otherwise
 *          abort() for; nothing changed).
 */
int evsig_signal(struct ev_loop *loop, int signum, evsig_handler handler,
                 void *data, evsig_action *old);

/**
 * evsig_getsignal() - read the disposition of a signal
 * @signum: the signal.
 * @out:    receives the disposition.
 *
 * Reports what evsig_signal() set. For a signal evsig's table never set it
 * reports what the process has (had, if evsig took the signal over for a
 * watcher): EVSIG_DFL, EVSIG_IGN, or EVSIG_NONE with NULL data when some
 * other code installed a handler. For SIGCHLD, libev's own handler (the
 * default loop installs one) counts as EVSIG_DFL: that is not the user's
 * doing.
 *
 * Context: any thread.
 * Return:  0 on success, -1 on failure.
 * Errors:  EINVAL: bad @signum or NULL @out.
 */
int evsig_getsignal(int signum, evsig_action *out);

/* ------------------------------------------------------------------------
 * 3.2 Signal watchers: many per signal, libev style
 * ------------------------------------------------------------------------ */

/**
 * struct evsig_watcher - a signal watcher, allocated by the caller
 *
 * The fields are private. The structure needs no initialization:
 * evsig_watch() never reads its old contents, and whether a watcher is
 * active is decided from evsig's own records, by address (evsig also keeps
 * its loop and flags there, so evsig_reset() never reads it). Its memory
 * must stay valid while it is active: evsig reads the callback and data
 * from it at each delivery.
 */
typedef struct evsig_watcher {
    evsig_handler evsig_private_cb;
    void         *evsig_private_data;
} evsig_watcher;

#define EVSIG_NOREF    0x1   /* does not keep ev_run() alive (gevent's ref=False) */
#define EVSIG_ONESHOT  0x2   /* stop after the first delivery */
#define EVSIG_COALESCE 0x4   /* one call per loop iteration (libev, Python, Twisted) */

/**
 * evsig_watch() - start a signal watcher
 * @loop:   the loop to dispatch on.
 * @w:      the watcher; its contents are not read.
 * @signum: the signal; not SIGKILL or SIGSTOP.
 * @cb:     the callback; not one of the special values.
 * @data:   passed to @cb.
 * @flags:  0, or any of EVSIG_NOREF, EVSIG_ONESHOT, EVSIG_COALESCE.
 *
 * Any number of watchers may watch one signal, on any number of loops in
 * any threads, independently of each other and of the handler table. Each
 * delivery is dispatched once on every loop that serves the signal, on that
 * loop's thread, in the order received (every loop sees the same order; two
 * deliveries taken at the same instant by two threads are ordered by their
 * C handlers, so leave the signal unblocked in one thread where the kernel's
 * own order matters): there the table handler runs first
 * if it is bound to that loop, then every watcher of the loop that owns the
 * delivery (see "Ownership" above: it was active when the signal was
 * received, and still is), once, in the order they were started. A
 * callback may stop itself or others and start new ones (a watcher started
 * during a dispatch waits for the next delivery). A loop that does not run
 * for a while loses only its own oldest deliveries (counted in
 * evsig_info.lost), never another loop's. While a watcher runs the signal
 * is caught: its default action does not happen, as with ev_signal.
 *
 * An active watcher keeps ev_run() running, as an active ev_signal does,
 * unless started with EVSIG_NOREF (see evsig_ref()).
 *
 * EVSIG_ONESHOT (libuv's uv_signal_start_oneshot()): the watcher owns only
 * the first delivery received after it started -- taken in the C handler,
 * so a second one meets whatever else owns the signal, or else its
 * disposition (with SIG_DFL for SIGUSR2, two quick deliveries to a
 * oneshot-only signal kill the process, never a silent drop). It is
 * stopped just before its callback runs. The delivery it claimed is kept
 * with the watcher, never lost to a lapped ring.
 *
 * EVSIG_COALESCE (what libev, Python and Twisted do): deliveries the
 * watcher owns received since its last call are folded into one call per
 * loop iteration, with the newest delivery's siginfo and
 * evsig_info.merged set to how many were folded; ten quick SIGHUPs make one
 * reload. The call is made in the watcher's start-order place at the first
 * delivery of the iteration it owns; deliveries that arrive later in the
 * same iteration (or more than 16 past the first) go to its next call, in
 * the next iteration. With EVSIG_ONESHOT too: one call, merged == 1.
 *
 * When the last watcher of a signal stops and no table handler is set, the
 * kernel gets back the disposition the table stands for: exactly the one
 * evsig found (handler, flags and mask) if the table was never set for this
 * signal, else SIG_DFL or SIG_IGN.
 *
 * Starting an active watcher does nothing and returns 0 (stop it first to
 * change its signal, callback or flags); the arguments are still checked.
 *
 * Context: @loop's thread, or any thread while @loop does not run.
 * Return:  0 on success, -1 on failure.
 * Errors:  EINVAL: NULL @loop, @w or @cb, a special value as @cb, bad
 *          @signum, SIGKILL/SIGSTOP, unknown @flags.
 *          ENOMEM: out of memory (nothing changed). Everything a dispatch
 *          needs is allocated here, never while dispatching.
 *          EMFILE/ENFILE: no fd left for the one a loop needs the first time
 *          evsig uses it (libev's evpipe, which libev would otherwise
 *          abort() for; nothing changed).
 */
int evsig_watch(struct ev_loop *loop, evsig_watcher *w, int signum,
                evsig_handler cb, void *data, int flags);

/**
 * evsig_unwatch() - stop a signal watcher
 * @w: the watcher.
 *
 * Stopping an inactive watcher does nothing and returns 0. A delivery
 * already caught but not yet dispatched is not passed to a stopped watcher;
 * if nothing else owned it, it is dropped. When the last watcher, wait and
 * table callback of the signal are gone, the kernel gets the disposition
 * the table stands for, in one sigaction() call. errno is left alone.
 *
 * Context: the watcher's loop's thread (also from inside any callback), or
 *          any thread while that loop does not run.
 * Return:  0 on success, -1 on failure.
 * Errors:  EINVAL: NULL @w.
 */
int evsig_unwatch(evsig_watcher *w);

/**
 * evsig_is_active() - whether a watcher is active
 * @w: the watcher; may be NULL (then 0).
 *
 * Context: any thread; also from inside any callback.
 * Return:  1 if @w is started, else 0.
 */
int evsig_is_active(const evsig_watcher *w);

/**
 * evsig_ref() - make an active watcher keep ev_run() alive again
 * @w: an active watcher.
 *
 * libuv's uv_ref(), gevent's "ref = True": undoes EVSIG_NOREF or
 * evsig_unref(). Idempotent.
 *
 * Context: as evsig_unwatch().
 * Return:  0 on success, -1 on failure.
 * Errors:  EINVAL: @w is NULL or not active.
 */
int evsig_ref(evsig_watcher *w);

/**
 * evsig_unref() - make an active watcher not keep ev_run() alive
 * @w: an active watcher.
 *
 * libuv's uv_unref(), gevent's "ref = False": as if it had been started
 * with EVSIG_NOREF. It still gets its deliveries while the loop runs for
 * other reasons. Idempotent.
 *
 * Context: as evsig_unwatch().
 * Return:  0 on success, -1 on failure.
 * Errors:  EINVAL: @w is NULL or not active.
 */
int evsig_unref(evsig_watcher *w);

/* ------------------------------------------------------------------------
 * 3.3 Children: fork_and_watch, cooperative waitpid, on any loop
 *
 * Two backends, one behaviour (evsig_set_child_backend()): PIDFD, the
 * default wherever the kernel allows pidfds, watches each child through a
 * pidfd of its own on the loop it was watched on (any loop, in any
 * thread), never reaps a child it does not watch, and costs the same per
 * exit however many children live; LIBEV is libev's own reaping,
 * waitpid(-1) on the default loop only. Where a rule differs, the function
 * says so. Every rule holds whether or not a pidfd could be had for a
 * child (EMFILE at the fd limit, a seccomp filter): without one the child
 * is watched through SIGCHLD and waitid(P_PID) on its pid, never
 * waitpid(-1); no fork fails because of it.
 *
 * Loops own their children: a child's callback, its SIGCHLD table call and
 * the waits for it run on the loop it was watched on, on that loop's
 * thread; evsig_waitpid*() and evsig_child_unwatch() of a pid watched on
 * another loop are ECHILD.
 *
 * With PIDFD, from the first watched child on, evsig owns the SIGCHLD
 * disposition while libev's default loop exists and does not feed libev's
 * waitpid(-1) reaper: popen()/pclose(), system(), posix_spawn() +
 * waitpid(pid) and fork() + waitpid(pid, WNOHANG) elsewhere in the program
 * get their own children's statuses. Raw ev_child watchers on the default
 * loop therefore stop firing (see evsig_set_child_backend() for the two
 * ways out). libev's reaper still takes children where it is fed behind
 * evsig's back -- on a default loop that reads signals from a signalfd
 * (EVFLAG_SIGNALFD, or LIBEV_FLAGS), it reaps every child of the process,
 * other code's included: not recommended with evsig. A watched child it
 * took is still reported once, from what evsig saw of it; and since such a
 * loop blocks SIGCHLD, evsig then makes one SIGCHLD delivery per exit of a
 * watched child, for SIGCHLD watchers, waits and the wakeup fd.
 *
 * Fork and threads: evsig_fork*() may be called from any thread (the lock
 * is held across fork(), so the child inherits a consistent state); in the
 * child only the calling thread exists. In a child of plain fork() or
 * vfork(), nothing of evsig may be called before exec() except as the child
 * of evsig_fork(); a child forked while another thread is inside an evsig
 * call inherits evsig's lock released (an atfork handler takes it around
 * fork()).
 * ------------------------------------------------------------------------ */

/**
 * typedef evsig_child_cb - called once when a watched child exits
 * @loop:   the loop the child was watched on.
 * @pid:    the child.
 * @status: its status in waitpid() form (WIFEXITED() and friends; evsig.h
 *          includes <sys/wait.h>).
 * @data:   the pointer given when the watch was set.
 *
 * Runs from ev_run() on that loop's thread, before the SIGCHLD table
 * handler.
 */
typedef void (*evsig_child_cb)(struct ev_loop *loop, pid_t pid, int status,
                               void *data);

/* Seconds a child's result is kept for evsig_waitpid() if nobody collects it. */
#define EVSIG_RESULT_TTL 60.0

/**
 * evsig_fork() - fork(), made safe for a process running libev and evsig
 * @loop: the loop that runs in the child (LIBEV: the default loop).
 *
 * Every signal is blocked around fork(); in the child, ev_loop_fork(@loop)
 * is called and evsig starts clean: no watched children (and no loop
 * references held for them, so ev_run() in the child is not kept alive by
 * the parent's children), none of the parent's pidfds open, no kept
 * results, no pending deliveries (a signal caught before the fork but not
 * yet dispatched is dispatched in the parent only). Dispositions, table
 * handlers and watchers are kept, as fork() keeps them. The child may fork
 * and watch children of its own at once, and choose a child backend anew.
 *
 * Before evsig_fork() returns in the child, the signal mask is the
 * caller's again: a signal sent to the new child meanwhile runs the
 * handlers the child inherited (and a delivery evsig_reset() then drops is
 * lost). A worker that must not miss an early SIGTERM blocks it around the
 * call and unblocks it after installing its own handler:
 *
 *     sigset_t term, old;
 *     sigemptyset(&term);
 *     sigaddset(&term, SIGTERM);
 *     pthread_sigmask(SIG_BLOCK, &term, &old);
 *     pid_t pid = evsig_fork_and_watch(loop, on_exit, NULL, 0);
 *     if (pid == 0) {
 *         evsig_reset();                                 // the worker's own
 *         evsig_signal(loop, SIGTERM, on_term, NULL, NULL);
 *     }
 *     pthread_sigmask(SIG_SETMASK, &old, NULL);          // now it arrives
 *
 * Context: @loop's thread, or any thread while it does not run; not from
 *          a signal handler.
 * Return:  in the parent the child's pid, in the child 0; -1 on failure.
 *          On success errno is as it was before the call, in both.
 * Errors:  EINVAL: NULL @loop; LIBEV: not the default loop. Those of
 *          fork(): EAGAIN, ENOMEM.
 */
pid_t evsig_fork(struct ev_loop *loop);

/**
 * evsig_fork_and_watch() - fork and watch the child, as gevent's
 * @loop:  the loop to watch it on (LIBEV: the default loop).
 * @cb:    called when the child exits; may be NULL.
 * @data:  passed to @cb.
 * @flags: 0 or EVSIG_NOREF.
 *
 * evsig_fork(), and in the parent the child is watched before the call
 * returns, so its exit cannot be missed (PIDFD: through a pidfd opened at
 * once). On the exit, on @loop, in this order: its result (pid, status,
 * time) is kept for evsig_waitpid(); @cb runs; the SIGCHLD table handler
 * runs, if one is set; results nobody collected for EVSIG_RESULT_TTL
 * seconds are dropped. The watch keeps ev_run() alive until the child
 * exits, unless @flags has EVSIG_NOREF.
 *
 * Context: as evsig_fork().
 * Return:  as evsig_fork().
 * Errors:  as evsig_fork(); EINVAL also for unknown @flags. ENOMEM if the
 *          watch cannot be recorded (nothing is forked then).
 *          EMFILE/ENFILE: as evsig_watch() (nothing is forked then); a
 *          pidfd is never needed (at the fd limit the child is watched
 *          without one).
 */
pid_t evsig_fork_and_watch(struct ev_loop *loop, evsig_child_cb cb,
                           void *data, int flags);

/**
 * evsig_forkpty_and_watch() - forkpty() and watch the child
 * @loop:    as for evsig_fork_and_watch().
 * @amaster: receives the master side of the pseudo-terminal (parent only).
 * @cb:      as for evsig_fork_and_watch().
 * @data:    passed to @cb.
 * @flags:   0 or EVSIG_NOREF.
 *
 * As evsig_fork_and_watch(), but the child runs on a new pseudo-terminal
 * whose slave is its controlling terminal and standard streams. The master
 * fd is close-on-exec from before the fork (openpty(), then fork(), then
 * login_tty() in the child), so no other thread's fork+exec meanwhile
 * inherits it.
 *
 * Context: as evsig_fork().
 * Return:  as evsig_fork().
 * Errors:  as evsig_fork_and_watch(); EINVAL also for NULL @amaster; those
 *          of openpty().
 */
pid_t evsig_forkpty_and_watch(struct ev_loop *loop, int *amaster,
                              evsig_child_cb cb, void *data, int flags);

/* ------------------------------------------------------------------------
 * Spawning a command (DESIGN §3.6; libuv's uv_spawn, Python's
 * subprocess.Popen)
 * ------------------------------------------------------------------------ */

/* What the child gets as fd 0, 1 and 2: struct evsig_stdio .mode. A
 * zero-filled stdio[3] inherits all three. */
#define EVSIG_STDIO_INHERIT  0   /* the caller's own fd of that number, as it is */
#define EVSIG_STDIO_DEVNULL  1   /* /dev/null, open for reading and writing */
#define EVSIG_STDIO_PIPE     2   /* a new pipe; the caller's end goes to pipes[i] */
#define EVSIG_STDIO_FD       3   /* the caller's fd .fd (duplicated: the caller keeps it) */

/**
 * struct evsig_stdio - one of the child's standard fds
 * @mode: EVSIG_STDIO_INHERIT, _DEVNULL, _PIPE or _FD.
 * @fd:   with EVSIG_STDIO_FD, the caller's fd the child gets (>= 0);
 *        ignored otherwise.
 */
typedef struct evsig_stdio {
    int mode;
    int fd;
} evsig_stdio;

/* evsig_spawn_options .flags, beside EVSIG_NOREF. */
#define EVSIG_SPAWN_SETSID     0x100  /* a new session (Python's start_new_session) */
#define EVSIG_SPAWN_SETPGROUP  0x200  /* its own process group, pgid = its pid */
#define EVSIG_SPAWN_CLOSE_FDS  0x400  /* close every fd >= 3 in the child (Python's close_fds) */

/**
 * struct evsig_spawn_options - what evsig_spawn() runs, and how
 * @file:  the program: a path (containing a '/'), or a name searched in
 *         PATH -- @envp's when @envp is given, else the caller's; without
 *         one, "/bin:/usr/bin" (as libuv and Python search; posix_spawnp()
 *         always uses the caller's). EACCES if a match was found but none
 *         could be run, else ENOENT, as execvp() says.
 * @argv:  its arguments, argv[0] first, NULL-terminated.
 * @envp:  its environment, NULL-terminated; NULL: the caller's environ.
 * @cwd:   its working directory; NULL: the caller's.
 * @stdio: fds 0, 1 and 2 (see struct evsig_stdio).
 * @flags: EVSIG_NOREF, EVSIG_SPAWN_SETSID, EVSIG_SPAWN_SETPGROUP,
 *         EVSIG_SPAWN_CLOSE_FDS. SETSID with SETPGROUP is a new session:
 *         its leader's group is already its own.
 */
typedef struct evsig_spawn_options {
    const char  *file;
    char *const *argv;
    char *const *envp;
    const char  *cwd;
    evsig_stdio  stdio[3];
    int          flags;
} evsig_spawn_options;

/**
 * evsig_spawn() - run a command and watch it
 * @loop:  the loop to watch it on (LIBEV: the default loop).
 * @opts:  what to run (see struct evsig_spawn_options).
 * @pipes: NULL when no stdio slot is EVSIG_STDIO_PIPE; else pipes[i] gets
 *         the caller's end of slot i's pipe -- the write end for fd 0, the
 *         read end for 1 and 2, non-blocking and close-on-exec, ready for an
 *         ev_io -- and -1 for slots without one (also on failure).
 * @cb:    called when it exits; may be NULL.
 * @data:  passed to @cb.
 *
 * Starts @opts->file and watches it exactly as evsig_fork_and_watch()
 * watches a child: @cb, the kept result for evsig_waitpid(), the SIGCHLD
 * table call, evsig_kill(), a loop reference unless EVSIG_NOREF, any loop
 * under the PIDFD backend (where the pidfd comes with the child, from
 * clone(CLONE_PIDFD): no moment without it).
 *
 * The cost does not grow with the caller's memory: the child is made the
 * way vfork() makes one (it borrows the caller's memory until it execs,
 * on a stack of its own), so no page table is copied and no page faults
 * in the caller, as with glibc's posix_spawn() -- fork() then exec() costs
 * ~50x that with a 1 GiB heap. The calling thread waits for the exec.
 *
 * The child starts clean: every signal at its default action (neither a
 * handler nor an ignore the caller set, evsig's or not, reaches the
 * command: a server that ignores SIGPIPE does not hand that to sh -c), an
 * empty signal mask, and no fd but 0-2 and those the caller left without
 * FD_CLOEXEC (every fd evsig opens is close-on-exec); with
 * EVSIG_SPAWN_CLOSE_FDS only 0-2. A failure to start it -- the exec, or a
 * step before it (@cwd, setsid()) -- is this call's error, with nothing
 * left behind: no child, no zombie, no fd (beyond the loop's epoll set
 * that the PIDFD backend may keep: see evsig_set_child_backend()). That
 * short-lived child still made a SIGCHLD, as posix_spawn()'s does.
 *
 * Other threads: the pipes are made and the child's ends closed under
 * evsig's lock, which a fork() in another thread waits for, so no other
 * child holds a pipe end it should not.
 *
 * Context: @loop's thread, or any thread while it does not run; not from
 *          a signal handler, nor between fork() and exec().
 * Return:  the child's pid, or -1 on failure. On success errno is as it was.
 * Errors:  EINVAL (before anything is made): NULL @loop, @opts, @opts->file
 *          or @opts->argv; unknown @opts->flags or stdio modes; a negative
 *          .fd with EVSIG_STDIO_FD; EVSIG_STDIO_PIPE with NULL @pipes;
 *          LIBEV: @loop is not the default loop. The command's: ENOENT (no
 *          such program, also after the PATH search), EACCES, ENOEXEC,
 *          ENOENT/ENOTDIR/EACCES for @cwd, E2BIG, ETXTBSY, ...; EPERM from
 *          setsid() or setpgid(). The system's: EMFILE/ENFILE (pipes,
 *          /dev/null, the error pipe, the loop's fd as for evsig_watch();
 *          nothing is left open then; a pidfd is never needed: at the fd
 *          limit the child is watched without one), EAGAIN and ENOMEM
 *          (the process), ENOMEM.
 */
pid_t evsig_spawn(struct ev_loop *loop, const evsig_spawn_options *opts,
                  int pipes[3], evsig_child_cb cb, void *data);

/**
 * evsig_child_watch() - watch a child spawned elsewhere
 * @loop:  the loop to watch it on (LIBEV: the default loop).
 * @pid:   the child (> 0).
 * @cb:    called when it exits; may be NULL.
 * @data:  passed to @cb.
 * @flags: 0 or EVSIG_NOREF.
 *
 * From now on @pid's exit is handled as for evsig_fork_and_watch(). PIDFD:
 * a child that already exited (a zombie) is reported at the next
 * iteration. LIBEV: if the loop already reaped @pid (libev reaps every
 * child), its kept result is reported on the next loop iteration -- a late
 * watcher is not lost, as it is with a late ev_child. Watching an already
 * watched pid again on the same loop replaces its callback, data and
 * flags.
 *
 * Context: @loop's thread, or any thread while it does not run.
 * Return:  0 on success, -1 on failure.
 * Errors:  EINVAL: NULL @loop (LIBEV: not the default loop), @pid <= 0,
 *          unknown @flags. ECHILD: @pid is not a child of this process and
 *          no result is kept for it, or it is watched on another loop.
 *          ENOMEM: out of memory. EMFILE/ENFILE: as evsig_watch(); a
 *          pidfd is never needed (at the fd limit the child is watched
 *          without one).
 */
int evsig_child_watch(struct ev_loop *loop, pid_t pid, evsig_child_cb cb,
                      void *data, int flags);

/**
 * evsig_child_unwatch() - stop watching a child
 * @loop: the loop it is watched on.
 * @pid:  a child evsig has watched.
 *
 * Its callback will not run. PIDFD: evsig closes its pidfd and will not
 * reap it -- its exit is the program's again. LIBEV: libev reaps it anyway
 * and its exit leaves a kept result for evsig_waitpid(). Idempotent, like
 * evsig_unwatch(): 0 for any pid evsig has watched, also from inside its
 * own exit callback and after its report, until the pid is watched again
 * or evsig_reset().
 *
 * Context: @loop's thread (also from inside callbacks), or any thread while
 *          it does not run.
 * Return:  0 on success, -1 on failure.
 * Errors:  EINVAL: NULL @loop (LIBEV: not the default loop), @pid <= 0.
 *          ECHILD: evsig never watched @pid, or it is watched on another
 *          loop.
 */
int evsig_child_unwatch(struct ev_loop *loop, pid_t pid);

/**
 * evsig_waitpid() - cooperative waitpid(), as gevent's
 * @loop:    the loop to run while waiting (LIBEV: the default loop).
 * @pid:     a child, or -1 for any.
 * @status:  if not NULL, receives the status in waitpid() form.
 * @options: 0 or WNOHANG.
 *
 * Waits by running @loop (re-entrantly), so every other watcher keeps
 * working. Each result is handed out once, whichever path collects it.
 *
 * - A @pid watched on @loop: its result if it has exited (and it is
 *   forgotten); with WNOHANG and the child still running, 0; else waits
 *   for it. WNOHANG checks for real: what is ready is processed first, so
 *   a child that has exited but whose exit the loop has not processed yet
 *   (its SIGCHLD blocked, say) is reported, after its callback and the
 *   SIGCHLD handler ran.
 * - @pid == -1: the oldest uncollected result of a child watched on @loop;
 *   else with WNOHANG 0 (checking for real, as above); else waits for the
 *   next child watched on @loop to exit. Children watched on other loops
 *   are theirs. With no child watched on @loop: the oldest kept result of
 *   an unwatched child, else the next exit of a child that no loop
 *   watches -- LIBEV: as waitpid(-1, @status, @options); PIDFD: waited for
 *   cooperatively (a zombie watched on another loop and not yet reaped
 *   there may delay the answer until that loop runs).
 * - Any other @pid: LIBEV: its kept result if the loop already reaped it,
 *   else waitpid(@pid, @status, @options) -- a child libev reaped behind
 *   the program's back after evsig's first child call is never ECHILD (one
 *   reaped before it is: evsig kept no result then). PIDFD: nobody reaps
 *   it but this call, waiting cooperatively.
 *
 * A kept result is not a zombie: the kernel has freed the pid, which may
 * be reused. evsig_waitpid(pid) still answers with the old child's status
 * until it is collected or expires; if the pid's new owner is a child too
 * and exits first, its result replaces the uncollected one. A watched
 * child the program reaped itself (its own waitpid(pid)) is forgotten
 * without a report: ECHILD.
 *
 * Context: @loop's thread; also from inside callbacks (recursion).
 * Return:  the pid, 0 (WNOHANG, nothing yet) or -1.
 * Errors:  EINVAL: NULL @loop (LIBEV: not the default loop), @pid 0 or
 *          < -1, @options other than 0/WNOHANG. ECHILD: no such child (or
 *          none at all for -1), or watched on another loop. ENOMEM: out of
 *          memory (PIDFD, waiting for an unwatched child). EMFILE/ENFILE:
 *          PIDFD, waiting for an unwatched child on a loop evsig has not
 *          used yet, with no fd left (see evsig_watch()). EINTR:
 *          evsig_reset() was called while waiting.
 */
pid_t evsig_waitpid(struct ev_loop *loop, pid_t pid, int *status, int options);

/**
 * evsig_waitpid_timeout() - evsig_waitpid() with a deadline
 * @loop:    as for evsig_waitpid().
 * @pid:     as for evsig_waitpid().
 * @status:  if not NULL, receives the status.
 * @timeout: seconds (>= 0) to wait.
 *
 * As evsig_waitpid() without options, giving up after @timeout seconds; the
 * child stays watched. An unwatched @pid is waited for cooperatively too
 * (kept results, and a look with waitid(WNOHANG|WNOWAIT) at each SIGCHLD),
 * never in a blocking waitpid().
 *
 * Context: as evsig_waitpid().
 * Return:  the pid, or -1.
 * Errors:  as evsig_waitpid(); EINVAL also for a negative, infinite or NaN
 *          @timeout (use evsig_waitpid() to wait without a deadline);
 *          ETIMEDOUT: the child did not exit in time.
 */
pid_t evsig_waitpid_timeout(struct ev_loop *loop, pid_t pid, int *status,
                            double timeout);

/**
 * evsig_kill() - kill(), safe against recycled pids
 * @loop: a loop (LIBEV: the default loop); a child watched on any loop may
 *        be signalled.
 * @pid:  as for kill().
 * @sig:  as for kill(); 0 probes.
 *
 * A watched child is signalled through its pidfd (PIDFD): never the
 * process that reused its pid, even if somebody else reaped it. For a
 * child evsig knows has already been reaped (its result is kept), fails
 * with ESRCH instead of signalling whatever process now has that pid.
 *
 * Context: any thread.
 * Return:  0 on success, -1 on failure.
 * Errors:  EINVAL: NULL @loop (LIBEV: not the default loop), bad @sig.
 *          ESRCH: see above. Those of kill().
 */
int evsig_kill(struct ev_loop *loop, pid_t pid, int sig);

/* How children are reaped (process-wide). */
#define EVSIG_CHILD_AUTO   0   /* PIDFD where the kernel allows it, else LIBEV */
#define EVSIG_CHILD_PIDFD  1   /* one pidfd per watched child, any loop */
#define EVSIG_CHILD_LIBEV  2   /* libev's ev_child: waitpid(-1), default loop */

/**
 * evsig_set_child_backend() - choose how children are watched
 * @backend: EVSIG_CHILD_AUTO, EVSIG_CHILD_PIDFD or EVSIG_CHILD_LIBEV.
 *
 * EVSIG_CHILD_PIDFD (the default wherever pidfd_open() works: Linux >= 5.3
 * without a seccomp filter refusing it) watches each child through a pidfd
 * of its own, read through an epoll set evsig keeps per loop, and reaps it
 * with waitid(P_PIDFD): child functions work on any loop, in any thread,
 * the cost of one exit does not grow with the number of live children, and
 * evsig never reaps a child it does not watch. EVSIG_CHILD_LIBEV is libev's
 * own reaping (one ev_child for every child on the default loop, fed by
 * waitpid(-1)): for programs that also run raw ev_child watchers. AUTO
 * picks PIDFD if the kernel allows pidfds, else LIBEV, probing once; the
 * environment variable EVSIG_CHILD_BACKEND=pidfd or =libev overrides what
 * AUTO picks (to run a program, or a test suite, under either backend).
 *
 * PIDFD's fds: one pidfd per watched child, closed when it is reported or
 * unwatched, and one epoll set per loop with children. Once a loop's
 * children are all gone its ev_io stops (nothing of evsig's stays on the
 * loop: it may be destroyed), but the set itself stays open for the next
 * child -- for at most four such loops, until evsig_reset() -- so that a
 * program forking or spawning one child at a time does not make one per
 * child.
 *
 * Raw ev_child watchers on libev's default loop stop firing under the
 * PIDFD backend: from its first child call that succeeds (or makes a
 * process: a spawn whose exec failed counts), evsig owns the SIGCHLD
 * disposition while the default loop exists and no longer feeds libev's
 * waitpid(-1) reaper (which would reap every child of the process, other
 * code's included); a call that fails for want of memory or fds changes
 * nothing. Two ways out: choose EVSIG_CHILD_LIBEV, or move those watchers
 * to evsig_child_watch().
 *
 * Call it before evsig watches its first child (or a SIGCHLD callback is
 * set: what the callback gets depends on the backend); it is free again
 * after evsig_reset(), and in the child of evsig_fork().
 *
 * Context: any thread.
 * Return:  0 on success (also when @backend is already the one in use),
 *          -1 on failure.
 * Errors:  EINVAL: an unknown @backend. ENOSYS: EVSIG_CHILD_PIDFD where the
 *          kernel refuses pidfds. EBUSY: another backend is in use:
 *          children are watched, results kept or a SIGCHLD callback set.
 */
int evsig_set_child_backend(int backend);

/**
 * evsig_child_backend() - the child backend in use
 *
 * Resolves EVSIG_CHILD_AUTO (probing the kernel once) if nothing chose yet.
 *
 * Context: any thread.
 * Return:  EVSIG_CHILD_PIDFD or EVSIG_CHILD_LIBEV.
 */
int evsig_child_backend(void);

/**
 * evsig_child_set_result_ttl() - how long uncollected results are kept
 * @seconds: new lifetime (>= 0); EVSIG_RESULT_TTL by default.
 *
 * An addition to the contract so that programs (and tests) that reap many
 * unwatched children can bound memory more tightly. Results older than this
 * are dropped, oldest first, when a child is reaped and when
 * evsig_waitpid() or evsig_waitpid_timeout() starts, not on a timer: one
 * past its lifetime may still be collected or watched until then. A result
 * watched late is kept until its callback ran. evsig_reset() puts back the
 * default.
 *
 * Context: any thread.
 * Return:  0 on success, -1 on failure.
 * Errors:  EINVAL: negative, infinite or NaN @seconds.
 */
int evsig_child_set_result_ttl(double seconds);

/* ------------------------------------------------------------------------
 * 3.4 Wakeup fds: Python's set_wakeup_fd, Twisted's installHandler
 * ------------------------------------------------------------------------ */

#define EVSIG_WAKEUP_WARN_ON_FULL 0x1

/**
 * evsig_set_wakeup_fd() - write a byte per signal to an fd, as Python's
 * @fd:     a non-blocking fd, or -1 to disable.
 * @flags:  0 or EVSIG_WAKEUP_WARN_ON_FULL.
 * @old_fd: if not NULL, receives the previous fd, -1 if none.
 *
 * For every signal evsig catches, its C handler writes the signal number as
 * one byte to @fd -- SIGCHLD included whenever evsig watches children or a
 * SIGCHLD handler, watcher or wait is set, also when the table's SIGCHLD
 * handler is cooperative. A full pipe loses bytes and never blocks; with
 * EVSIG_WAKEUP_WARN_ON_FULL a warning line goes to stderr from the loop
 * (never from the C handler) when a byte was lost. Any other write error
 * (EBADF, EPIPE, ...) is always reported on stderr, naming the fd and the
 * error, by the next evsig dispatch on any loop (as Python does, whatever
 * its warn_on_full_buffer says). A socket is written with MSG_NOSIGNAL; a
 * pipe whose reading end is closed raises SIGPIPE, as any write does.
 *
 * The handler loads the fd once per signal: a handler already running on
 * another thread may still write one byte to the old fd after this call
 * returned.
 *
 * Context: any thread.
 * Return:  0 on success, -1 on failure.
 * Errors:  EINVAL: @fd is blocking, or < -1; unknown @flags.
 *          EBADF: @fd is not open.
 */
int evsig_set_wakeup_fd(int fd, int flags, int *old_fd);

/**
 * evsig_install_handler() - Twisted's installHandler: a byte per SIGCHLD
 * @fd:     an fd (non-blocking recommended), or -1 to remove.
 * @old_fd: if not NULL, receives the previous fd, -1 if none.
 *
 * Installs evsig's C handler for SIGCHLD (SA_RESTART set) which writes one
 * byte to @fd on each SIGCHLD and keeps feeding libev, so child watching
 * keeps working; evsig re-asserts it when it meets a default loop created
 * after the call. @fd must be non-blocking: a full pipe then loses the byte
 * (its reader is awake anyway) instead of blocking the handler. -1 removes
 * it and puts back the handler it replaced (libev's, if libev had one --
 * else reaping would stop; while evsig watches children its own handler
 * stays, feeding libev).
 *
 * Context: any thread.
 * Return:  0 on success, -1 on failure.
 * Errors:  EINVAL: @fd < -1, or blocking. EBADF: @fd is not open.
 */
int evsig_install_handler(int fd, int *old_fd);

/**
 * evsig_is_default_handler() - Twisted's isDefaultHandler
 *
 * Twisted's definition, getsignal(SIGCHLD) == SIG_DFL.
 *
 * Context: any thread.
 * Return: 1 if evsig_getsignal(SIGCHLD) reports EVSIG_DFL (libev's own
 *         handler counts as that) and no evsig_install_handler() fd is set;
 *         0 otherwise, e.g. after evsig_signal(SIGCHLD) set a callback or
 *         EVSIG_IGN.
 */
int evsig_is_default_handler(void);

/* ------------------------------------------------------------------------
 * 3.5 The rest of Python's signal module
 * ------------------------------------------------------------------------ */

/**
 * evsig_siginterrupt() - whether a signal interrupts system calls
 * @signum: the signal; not SIGKILL or SIGSTOP.
 * @flag:   0: evsig's handler has SA_RESTART (the default, so no EINTR);
 *          non-zero: no SA_RESTART, blocking calls fail with EINTR.
 *
 * Applies at once if evsig's C handler is installed for @signum, else the
 * next time evsig installs it. Handlers evsig did not install are left
 * alone. evsig_reset() returns every signal to SA_RESTART.
 *
 * Context: as evsig_signal().
 * Return:  0 on success, -1 on failure.
 * Errors:  EINVAL: bad @signum, SIGKILL or SIGSTOP.
 */
int evsig_siginterrupt(int signum, int flag);

/**
 * evsig_valid_signals() - the signals valid on this platform
 * @set: receives every signal number evsig accepts (reserved ones excluded).
 *
 * Return: 0, or -1 with EINVAL for NULL @set.
 */
int evsig_valid_signals(sigset_t *set);

/**
 * evsig_strsignal() - a signal's description, as strsignal(3)
 * @signum: the signal.
 *
 * Context: any thread; the string is static.
 * Return:  "Terminated", "Real-time signal 3", ...; NULL if @signum is not
 *          a valid signal.
 */
const char *evsig_strsignal(int signum);

/**
 * evsig_signame() - a signal's name
 * @signum: the signal.
 *
 * Real-time signals are named from the nearer end: "SIGRTMIN", "SIGRTMIN+3",
 * "SIGRTMAX-2", "SIGRTMAX".
 *
 * Context: any thread; the string is static.
 * Return:  "SIGTERM", ...; NULL (errno EINVAL) for an invalid signal.
 */
const char *evsig_signame(int signum);

/**
 * evsig_signum() - parse a signal name or number
 * @name: "SIGTERM", "TERM", "15", "SIGRTMIN+3", "RTMAX-1"; case-insensitive;
 *        the aliases SIGIOT, SIGPOLL and SIGCLD are accepted.
 *
 * Return: the signal number, or -1 (errno EINVAL) for NULL, an unknown
 *         name or an invalid number.
 */
int evsig_signum(const char *name);

/**
 * evsig_pause() - run the loop until a signal handler ran, as signal.pause()
 * @loop: the loop to run.
 *
 * Runs @loop (re-entrantly, EVRUN_ONCE at a time) until at least one table
 * handler or watcher callback ran for a signal on the calling thread. It
 * does not return when the loop has nothing else to do: only a signal ends
 * it.
 *
 * Context: the loop's thread.
 * Return:  0 on success, -1 on failure.
 * Errors:  EINVAL: NULL @loop. EINTR: evsig_reset() was called meanwhile.
 */
int evsig_pause(struct ev_loop *loop);

/**
 * evsig_sigwait() - cooperative sigwait()
 * @loop: the loop to run while waiting.
 * @set:  the signals to wait for; not empty, no SIGKILL/SIGSTOP.
 * @sig:  receives the signal.
 *
 * Runs @loop until a signal in @set is delivered, and consumes it on
 * @loop: no table handler or watcher of @loop sees it (other loops that
 * serve the signal still get it). The wait owns the deliveries received
 * while it is registered; one received after it was satisfied goes to the
 * other owners. While the wait is active evsig catches every signal in
 * @set, even one with no handler, so its default action cannot kill the
 * waiting process; afterwards its disposition is as before. The signals
 * need not be blocked (the calling thread unblocks them for the wait).
 * Waits nest: the innermost wait whose set holds the signal gets it.
 *
 * Context: the loop's thread.
 * Return:  0 on success, -1 on failure.
 * Errors:  EINVAL: NULL argument, an empty @set, SIGKILL/SIGSTOP in @set.
 *          ENOMEM: out of memory. EINTR: evsig_reset() was called meanwhile.
 *          EMFILE/ENFILE: no fd left for the one a loop needs the first time
 *          evsig uses it (libev's evpipe, which libev would otherwise
 *          abort() for; nothing changed).
 */
int evsig_sigwait(struct ev_loop *loop, const sigset_t *set, int *sig);

/**
 * evsig_sigwaitinfo() - cooperative sigwaitinfo()
 * @loop: the loop to run while waiting.
 * @set:  as for evsig_sigwait().
 * @info: receives the delivery.
 *
 * As evsig_sigwait(), returning the whole siginfo.
 *
 * Return: the signal number, or -1.
 * Errors: as evsig_sigwait().
 */
int evsig_sigwaitinfo(struct ev_loop *loop, const sigset_t *set,
                      evsig_info *info);

/**
 * evsig_sigtimedwait() - cooperative sigtimedwait()
 * @loop:    the loop to run while waiting.
 * @set:     as for evsig_sigwait().
 * @info:    receives the delivery.
 * @timeout: seconds (>= 0) to wait.
 *
 * As evsig_sigwaitinfo(), giving up after @timeout seconds.
 *
 * Return: the signal number, 0 on timeout (as Python's None), or -1.
 * Errors: as evsig_sigwait(); EINVAL also for a negative or NaN @timeout.
 */
int evsig_sigtimedwait(struct ev_loop *loop, const sigset_t *set,
                       evsig_info *info, double timeout);

/**
 * evsig_reset() - forget everything, put back what evsig found
 *
 * Stops every watcher, clears the table, forgets watched children and kept
 * results, removes the wakeup and installHandler fds, returns every signal
 * to SA_RESTART, and restores every disposition evsig changed to exactly
 * what it was before evsig first touched it (a foreign handler included).
 * Deliveries caught but not yet dispatched are dropped, not raised again:
 * a reset forgets everything, and must not kill a process whose restored
 * disposition is a default action. Waits in progress return -1 with EINTR.
 * A deliberately late entry point for tests and for programs that unload
 * their signal layer.
 *
 * Context: while no loop evsig serves is running, or from a callback on the
 *          thread running it.
 * Return:  0.
 */
int evsig_reset(void);

#ifdef __cplusplus
}
#endif

#endif /* EVSIG_H */

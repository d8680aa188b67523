/* SPDX-License-Identifier: MIT */
/*
 * table.c - dispositions, the C signal handler, and putting back what we
 * found.
 *
 * Owns evsig__sigs[]: for each signal the table entry (Python's
 * signal.signal), the disposition evsig found before it first touched the
 * signal, and whether evsig's internal ev_signal runs for it ("bound") and
 * its C handler is the kernel's disposition ("hooked").
 *
 * How a signal becomes bound: libev's ev_signal_start() installs libev's own
 * handler; evsig then installs its handler over it (SA_SIGINFO, SA_RESTART,
 * every signal blocked while it runs). evsig's handler records the siginfo
 * in the signal's ring and calls ev_feed_signal(), libev's documented hook
 * for custom handlers, which wakes the loop through libev's own pipe; the
 * internal ev_signal then drains the ring on the loop (dispatch.c).
 *
 * How it is released: ev_signal_stop() makes libev write SIG_DFL when the
 * last ev_signal of the signal stops, so evsig writes the disposition it
 * owes right after: the one it found, exactly, if the table was never set,
 * else SIG_DFL or SIG_IGN. The signal is blocked in the calling thread
 * across both steps so that thread cannot observe the SIG_DFL in between.
 *
 * Context: every entry point runs on a loop's thread or while no loop runs
 * (see evsig.h); on_signal() runs in signal context on any thread.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "evsig-private.h"

struct evsig__sig evsig__sigs[NSIG];
unsigned long evsig__handlers_ran;
unsigned evsig__reset_epoch;

typedef void (*sighandler_fn)(int);

static struct table_state {
    /* Read by the C handler: the ring of each bound signal, else NULL. */
    struct evsig__ring *_Atomic live[NSIG];
    /* The fork generation (see evsig__gen()). */
    _Atomic unsigned gen;
    /* libev's ev_sighandler, once seen; SIGCHLD with it counts as DFL. */
    sighandler_fn libev_handler;
    bool atfork_registered;
    bool met_default_loop;
} table;

static void on_signal(int signum, siginfo_t *si, void *uctx);

/* Signal context: async-signal-safe calls only (one atomic load). */
unsigned evsig__gen(void)
{
    return atomic_load_explicit(&table.gen, memory_order_relaxed);
}

/* In every child, fork()ed by evsig or not: whatever was caught or reaped
 * before the fork belongs to the parent. Runs in the child right after
 * fork(), where only async-signal-safe work is allowed. */
static void atfork_child(void)
{
    atomic_fetch_add_explicit(&table.gen, 1, memory_order_relaxed);
}

void evsig__table_fork_child(void)
{
    atfork_child();
}

static void table_init(void)
{
    if (!table.atfork_registered) {
        /* Can only fail with ENOMEM; then evsig_fork() still bumps it. */
        if (pthread_atfork(NULL, NULL, atfork_child) == 0)
            table.atfork_registered = true;
    }
}

/* Signal context: async-signal-safe calls only.
 * Turn a SIGCHLD's si_status into the waitpid() status form. */
static int chld_status(const siginfo_t *si)
{
    switch (si->si_code) {
    case CLD_EXITED:    return (si->si_status & 0xff) << 8;
    case CLD_KILLED:    return si->si_status & 0x7f;
    case CLD_DUMPED:    return (si->si_status & 0x7f) | 0x80;
    case CLD_STOPPED:
    case CLD_TRAPPED:   return ((si->si_status & 0xff) << 8) | 0x7f;
    case CLD_CONTINUED: return 0xffff;
    default:            return 0;
    }
}

/* Signal context: async-signal-safe calls only.
 * A fault raised by the CPU (as opposed to sent with kill) cannot be
 * deferred: returning would re-execute the faulting instruction forever. */
static bool sync_fault(int signum, const siginfo_t *si)
{
    if (si->si_code <= 0 || si->si_code == SI_KERNEL)
        return false;
    return signum == SIGSEGV || signum == SIGBUS || signum == SIGILL ||
           signum == SIGFPE || signum == SIGTRAP;
}

/*
 * Signal context: async-signal-safe calls only.
 *
 * The one C handler for every signal evsig hooks. What it calls, and why
 * each is safe here:
 *   - sigaction(): async-signal-safe per POSIX; only for synchronous faults.
 *   - atomic loads/stores and the ring push: lock-free C11 atomics
 *     (asserted in ring.c), no allocation.
 *   - evsig__wakeup_notify(): write(2) on non-blocking fds, POSIX-safe.
 *   - ev_feed_signal(): libev documents it as the call to make from a
 *     custom signal handler; it stores a flag and writes libev's pipe or
 *     eventfd.
 * errno is saved and restored because write() may change it under the
 * interrupted code's feet.
 */
static void on_signal(int signum, siginfo_t *si, void *uctx)
{
    int saved_errno = errno;
    struct evsig__ring *ring;
    (void)uctx;

    if (sync_fault(signum, si)) {
        struct sigaction dfl;

        memset(&dfl, 0, sizeof(dfl));
        dfl.sa_handler = SIG_DFL;
        sigaction(signum, &dfl, NULL);
        errno = saved_errno;
        return;
    }

    ring = atomic_load_explicit(&table.live[signum], memory_order_acquire);
    if (ring) {
        evsig_info info;

        memset(&info, 0, sizeof(info));
        info.signo = signum;
        info.code = si->si_code;
        if (si->si_code == SI_QUEUE || si->si_code == SI_TIMER ||
            si->si_code == SI_MESGQ)
            info.value = si->si_value;
        if (si->si_code == SI_USER || si->si_code == SI_QUEUE ||
            si->si_code == SI_TKILL || si->si_code == SI_MESGQ) {
            info.pid = si->si_pid;
            info.uid = si->si_uid;
        } else if (signum == SIGCHLD && si->si_code > 0) {
            info.pid = si->si_pid;
            info.uid = si->si_uid;
            info.status = chld_status(si);
        }
        evsig__ring_push(ring, &info, evsig__gen());
    }

    evsig__wakeup_notify(signum);
    ev_feed_signal(signum);
    errno = saved_errno;
}

static bool is_ours(const struct sigaction *sa)
{
    return (sa->sa_flags & SA_SIGINFO) && sa->sa_sigaction == on_signal;
}

static bool looks_like_libev(const struct sigaction *sa)
{
    if (sa->sa_flags & SA_SIGINFO)
        return false;
    if (sa->sa_handler == SIG_DFL || sa->sa_handler == SIG_IGN)
        return false;
    if (table.libev_handler)
        return sa->sa_handler == table.libev_handler;
    return false;
}

/*
 * Install @sa exactly as sigaction() reported it. glibc's sigaction() always
 * adds SA_RESTORER and its own restorer, so a SIG_DFL put back through it
 * would read back with different flags than the pristine one the process
 * started with; the raw system call takes the recorded fields as they are.
 */
#if defined(__linux__) && defined(SYS_rt_sigaction) && \
    (defined(__x86_64__) || defined(__aarch64__) || defined(__i386__))
#ifndef SA_RESTORER
#define SA_RESTORER 0x04000000
#endif
struct kernel_sigaction {
    void          *handler;
    unsigned long  flags;
    void          *restorer;
    unsigned long  mask[64 / (8 * sizeof(unsigned long))];
};

static void set_exact(int signum, const struct sigaction *sa)
{
    struct kernel_sigaction k;
    bool no_handler = !(sa->sa_flags & SA_SIGINFO) &&
                      (sa->sa_handler == SIG_DFL || sa->sa_handler == SIG_IGN);

    /* A handler needs a return trampoline: only glibc knows its own, so a
     * handler without a recorded restorer goes through sigaction(). */
    if (!no_handler && !((sa->sa_flags & SA_RESTORER) && sa->sa_restorer)) {
        sigaction(signum, sa, NULL);
        return;
    }
    memset(&k, 0, sizeof(k));
    k.handler = (sa->sa_flags & SA_SIGINFO) ? (void *)sa->sa_sigaction
                                            : (void *)sa->sa_handler;
    k.flags = (unsigned long)sa->sa_flags;
    k.restorer = (void *)sa->sa_restorer;
    for (int s = 1; s <= 64 && s < NSIG; s++)
        if (sigismember(&sa->sa_mask, s) == 1)
            k.mask[(s - 1) / (8 * sizeof(unsigned long))] |=
                1ul << ((s - 1) % (8 * sizeof(unsigned long)));
    if (syscall(SYS_rt_sigaction, signum, &k, NULL, sizeof(k.mask)) != 0)
        sigaction(signum, sa, NULL);
}
#else
static void set_exact(int signum, const struct sigaction *sa)
{
    sigaction(signum, sa, NULL);
}
#endif

static void block_one(int signum, sigset_t *old)
{
    sigset_t one;

    sigemptyset(&one);
    sigaddset(&one, signum);
    pthread_sigmask(SIG_BLOCK, &one, old);
}

static void unblock_restore(const sigset_t *old)
{
    pthread_sigmask(SIG_SETMASK, old, NULL);
}

static void save_found(int signum)
{
    struct evsig__sig *s = &evsig__sigs[signum];

    if (!s->found_saved) {
        sigaction(signum, NULL, &s->found);
        s->found_saved = true;
    }
}

static void install_hook(int signum)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_signal;
    sigfillset(&sa.sa_mask);
    /* SA_RESTART: a signal must not make the program's blocking calls fail
     * with EINTR (Twisted's lesson); evsig_siginterrupt() opts out. */
    sa.sa_flags = SA_SIGINFO | (evsig__sigs[signum].interrupt ? 0 : SA_RESTART);
    sigaction(signum, &sa, NULL);
    evsig__sigs[signum].hooked = true;
    evsig__sigs[signum].changed = true;
}

/* What libev's default loop would have for SIGCHLD. */
static bool sigchld_libev_owed(struct sigaction *sa)
{
    if (!ev_default_loop_uc_() || !table.libev_handler)
        return false;
    memset(sa, 0, sizeof(*sa));
    sa->sa_handler = table.libev_handler;
    sigfillset(&sa->sa_mask);
    sa->sa_flags = SA_RESTART;
    return true;
}

/* The disposition the kernel should have while evsig does not hook the
 * signal: what evsig found, or what the table set. */
static void owed_disposition(int signum, struct sigaction *sa)
{
    struct evsig__sig *s = &evsig__sigs[signum];

    if (signum == SIGCHLD) {
        /* The table never reaches the kernel for SIGCHLD. libev's default
         * loop must keep its reaping handler even if it appeared after evsig
         * recorded SIG_DFL or SIG_IGN (inherited across exec, and a kernel
         * SIG_IGN would discard exit statuses). */
        if (!(s->found.sa_flags & SA_SIGINFO) &&
            (s->found.sa_handler == SIG_DFL || s->found.sa_handler == SIG_IGN) &&
            sigchld_libev_owed(sa))
            return;
        *sa = s->found;
        return;
    }
    if (!s->table_set) {
        *sa = s->found;
        return;
    }
    memset(sa, 0, sizeof(*sa));
    sa->sa_handler = s->handler == EVSIG_IGN ? SIG_IGN : SIG_DFL;
}

static bool wants_bind(int signum)
{
    const struct evsig__sig *s = &evsig__sigs[signum];

    return s->nwatchers || s->nwaits ||
           (signum != SIGCHLD && evsig__table_has_cb(s));
}

bool evsig__table_wanted(int signum)
{
    return wants_bind(signum);
}

static bool wants_hook(int signum)
{
    return wants_bind(signum) ||
           (signum == SIGCHLD && evsig__wakeup_sigchld_fd() >= 0);
}

/* Put the kernel disposition in line with the signal's state. */
static void apply_kernel(int signum)
{
    struct evsig__sig *s = &evsig__sigs[signum];
    struct sigaction sa;

    if (wants_hook(signum)) {
        save_found(signum);
        install_hook(signum);
        return;
    }
    s->hooked = false;
    if (!s->found_saved)
        return;   /* never touched: nothing to put back */
    owed_disposition(signum, &sa);
    set_exact(signum, &sa);
    s->changed = true;
    if (!s->table_set && signum != SIGCHLD) {
        /* Exactly what we found is back: the signal is the program's again,
         * and a later evsig_reset() must not overwrite what it sets next. */
        s->changed = false;
        s->found_saved = false;
    }
}

int evsig__table_check_loop(int signum, struct ev_loop *loop)
{
    const struct evsig__sig *s = &evsig__sigs[signum];

    if (s->bound && s->loop != loop)
        return -EBUSY;
    /* libev's default loop holds SIGCHLD for its reaper. */
    if (signum == SIGCHLD && ev_default_loop_uc_() &&
        loop != ev_default_loop_uc_())
        return -EBUSY;
    return 0;
}

/* Raise a delivery again, with its siginfo, so that the disposition now in
 * place (the default action, or a foreign handler) sees it. */
static void reraise(const evsig_info *info)
{
    siginfo_t si;

    memset(&si, 0, sizeof(si));
    si.si_signo = info->signo;
    si.si_code = info->code;
    si.si_pid = info->pid;
    si.si_uid = info->uid;
    si.si_value = info->value;
    /* The kernel lets a process queue any siginfo to itself. */
    if (syscall(SYS_rt_tgsigqueueinfo, getpid(), (pid_t)syscall(SYS_gettid),
                info->signo, &si) != 0)
        raise(info->signo);
}

static int bind(int signum, struct ev_loop *loop)
{
    struct evsig__sig *s = &evsig__sigs[signum];
    struct sigaction before, after;
    bool had_found = s->found_saved;
    sigset_t old;
    evsig_info stale;
    unsigned gen;
    int r;

    r = evsig__table_check_loop(signum, loop);
    if (r < 0)
        return r;
    if (!s->ring) {
        s->ring = evsig__ring_new();
        if (!s->ring)
            return -ENOMEM;
    }

    save_found(signum);
    block_one(signum, &old);
    sigaction(signum, NULL, &before);
    ev_signal_init(&s->evw, evsig__dispatch_cb, signum);
    ev_signal_start(loop, &s->evw);
    sigaction(signum, NULL, &after);

    if (!(after.sa_flags & SA_SIGINFO) && after.sa_handler != before.sa_handler
        && after.sa_handler != SIG_DFL && after.sa_handler != SIG_IGN)
        table.libev_handler = after.sa_handler;

    /* A loop made with EVFLAG_SIGNALFD reads signals from a signalfd and
     * installs no handler: nothing changed, and what is there is neither
     * libev's handler nor ours. Such a loop cannot give siginfo. */
    if (after.sa_handler == before.sa_handler && !is_ours(&before) &&
        !looks_like_libev(&before)) {
        ev_signal_stop(loop, &s->evw);
        set_exact(signum, &before);
        s->found_saved = had_found;   /* refused: remember nothing */
        unblock_restore(&old);
        return -EINVAL;
    }

    /* Commit. The internal watcher is not work: ev_run() is kept alive by
     * users' watchers, which take their own references. */
    ev_unref(loop);
    s->loop = loop;
    s->bound = true;
    while (evsig__ring_pop(s->ring, &stale, &gen))
        ;   /* leftovers from an earlier binding or the parent */
    atomic_store_explicit(&table.live[signum], s->ring, memory_order_release);
    install_hook(signum);
    unblock_restore(&old);
    return 0;
}

static void unbind(int signum, bool reraise_pending)
{
    struct evsig__sig *s = &evsig__sigs[signum];
    evsig_info pending[EVSIG_RING_SIZE];
    unsigned npending = 0, gen;
    struct sigaction now;
    sigset_t old;

    block_one(signum, &old);
    atomic_store_explicit(&table.live[signum], NULL, memory_order_release);
    ev_ref(s->loop);
    ev_signal_stop(s->loop, &s->evw);   /* libev may write SIG_DFL here */
    s->bound = false;
    s->loop = NULL;
    apply_kernel(signum);

    /* Deliveries caught but never dispatched go to the disposition now in
     * place: the default action happens, a foreign handler runs. */
    while (npending < EVSIG_RING_SIZE &&
           evsig__ring_pop(s->ring, &pending[npending], &gen))
        if (gen == evsig__gen())
            npending++;
    sigaction(signum, NULL, &now);
    if (reraise_pending && !(now.sa_handler == SIG_IGN &&
                             !(now.sa_flags & SA_SIGINFO)))
        for (unsigned i = 0; i < npending; i++)
            reraise(&pending[i]);
    unblock_restore(&old);
}

int evsig__table_sync(int signum, struct ev_loop *loop)
{
    struct evsig__sig *s = &evsig__sigs[signum];
    bool want = wants_bind(signum);

    if (want && !s->bound)
        return bind(signum, loop);
    if (!want && s->bound && !s->dispatching)
        unbind(signum, true);
    return 0;
}

bool evsig__table_hooked(int signum)
{
    return evsig__sigs[signum].hooked;
}

void evsig__table_meet_default_loop(void)
{
    struct sigaction sa;

    table_init();
    if (table.met_default_loop || !ev_default_loop_uc_())
        return;
    table.met_default_loop = true;

    /* The default loop installed libev's SIGCHLD handler when it was made. */
    sigaction(SIGCHLD, NULL, &sa);
    if (!table.libev_handler && !(sa.sa_flags & SA_SIGINFO) &&
        sa.sa_handler != SIG_DFL && sa.sa_handler != SIG_IGN)
        table.libev_handler = sa.sa_handler;
    evsig__table_sigchld_refresh();
}

void evsig__table_sigchld_refresh(void)
{
    if (wants_hook(SIGCHLD) || evsig__sigs[SIGCHLD].hooked)
        apply_kernel(SIGCHLD);
}

void evsig__table_sigchld(struct ev_loop *loop, const evsig_info *info)
{
    struct evsig__sig *s = &evsig__sigs[SIGCHLD];

    if (!evsig__table_has_cb(s))
        return;
    evsig__handlers_ran++;
    s->handler(loop, info, s->data);
}

static void classify(int signum, const struct sigaction *sa, evsig_action *out)
{
    out->data = NULL;
    if (!(sa->sa_flags & SA_SIGINFO) && sa->sa_handler == SIG_DFL)
        out->handler = EVSIG_DFL;
    else if (!(sa->sa_flags & SA_SIGINFO) && sa->sa_handler == SIG_IGN)
        out->handler = EVSIG_IGN;
    else if (signum == SIGCHLD && (looks_like_libev(sa) || is_ours(sa)))
        out->handler = EVSIG_DFL;   /* libev's reaper is not the user's */
    else
        out->handler = EVSIG_NONE;
}

bool evsig__table_kernel_is_default(int signum)
{
    struct sigaction sa;
    evsig_action act;

    sigaction(signum, NULL, &sa);
    classify(signum, &sa, &act);
    return act.handler == EVSIG_DFL;
}

static void current_action(int signum, evsig_action *out)
{
    const struct evsig__sig *s = &evsig__sigs[signum];
    struct sigaction sa;

    if (s->table_set) {
        out->handler = s->handler;
        out->data = s->data;
        return;
    }
    if (s->found_saved) {
        classify(signum, &s->found, out);
        return;
    }
    sigaction(signum, NULL, &sa);
    classify(signum, &sa, out);
}

EVSIG_PUBLIC int evsig_getsignal(int signum, evsig_action *out)
{
    if (evsig__check_signum(signum) < 0 || !out)
        return evsig__fail(-EINVAL);
    evsig__table_meet_default_loop();
    current_action(signum, out);
    return 0;
}

EVSIG_PUBLIC int evsig_signal(struct ev_loop *loop, int signum,
                              evsig_handler handler, void *data,
                              evsig_action *old)
{
    struct evsig__sig *s;
    struct evsig__sig saved;
    evsig_action prev;
    bool was_bound;
    bool is_cb = handler != EVSIG_DFL && handler != EVSIG_IGN;
    int r;

    if (evsig__check_signum(signum) < 0 || handler == EVSIG_NONE)
        return evsig__fail(-EINVAL);
    /* The kernel refuses any disposition for these two. */
    if (signum == SIGKILL || signum == SIGSTOP)
        return evsig__fail(-EINVAL);
    if (is_cb && !loop)
        return evsig__fail(-EINVAL);

    evsig__table_meet_default_loop();
    if (is_cb && signum == SIGCHLD && loop != ev_default_loop_uc_())
        return evsig__fail(-EINVAL);
    if (is_cb && signum != SIGCHLD) {
        r = evsig__table_check_loop(signum, loop);
        if (r < 0)
            return evsig__fail(r);
    }

    s = &evsig__sigs[signum];
    current_action(signum, &prev);
    saved = *s;

    /* Commit: the table entry, then the kernel and the internal watcher. */
    save_found(signum);
    s->table_set = true;
    s->handler = handler;
    s->data = is_cb ? data : NULL;

    if (signum == SIGCHLD) {
        /* Cooperative: no kernel handler, but from now on children's
         * results are kept. */
        evsig__child_meet();
    } else {
        was_bound = s->bound;
        r = evsig__table_sync(signum, loop);
        if (r < 0) {
            s->table_set = saved.table_set;
            s->handler = saved.handler;
            s->data = saved.data;
            s->found_saved = saved.found_saved;
            return evsig__fail(r);
        }
        if (!was_bound && !s->bound)
            apply_kernel(signum);
    }

    if (old)
        *old = prev;
    return 0;
}

EVSIG_PUBLIC int evsig_siginterrupt(int signum, int flag)
{
    struct evsig__sig *s;

    if (evsig__check_signum(signum) < 0 || signum == SIGKILL ||
        signum == SIGSTOP)
        return evsig__fail(-EINVAL);
    s = &evsig__sigs[signum];
    s->interrupt = flag != 0;
    if (s->hooked)
        install_hook(signum);
    return 0;
}

EVSIG_PUBLIC int evsig_reset(void)
{
    evsig__reset_epoch++;
    evsig__dispatch_reset();
    evsig__child_reset();
    evsig__wakeup_reset();

    for (int signum = 1; signum < NSIG; signum++) {
        struct evsig__sig *s = &evsig__sigs[signum];
        struct evsig__ring *ring = s->ring;

        s->nwaits = 0;
        s->table_set = false;
        if (s->bound)
            unbind(signum, false);
        if (s->changed) {
            struct sigaction sa;

            owed_disposition(signum, &sa);   /* table_set is false: found */
            set_exact(signum, &sa);
        }
        memset(s, 0, sizeof(*s));
        s->ring = ring;   /* a straggling handler may still hold it */
    }
    return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * catch.c - the C signal handler, and everything it runs.
 *
 * This file is the signal-context boundary: every function in it is
 * async-signal-safe (atomics, plain stores, and the system calls write,
 * send, kill, sigaction, rt_tgsigqueueinfo), allocates nothing, takes no
 * lock, and nothing outside it runs in a handler. The functions other than
 * on_signal() are the setters of what the handler reads; they are called
 * under evsig's lock and publish with the memory order the handler's loads
 * pair with.
 *
 * What one delivery does (on_signal()):
 *   1. A synchronous CPU fault takes its default action at once.
 *   2. The handler notes that it runs (evsig__proc.inflight): memory it
 *      reaches through a published pointer is freed only when none runs.
 *   3. Ownership is decided at reception (DESIGN §3.1). The signal's word
 *      holds its owner generation and its count of standing owners (table
 *      callback, watchers, waits). Oneshot watchers are not counted there:
 *      each has a claim the first delivery takes with a compare-and-swap,
 *      so exactly one delivery goes to it however many threads race.
 *   4. An owned delivery is written once into the signal's ring, stamped
 *      with the owner generation, and every loop that serves the signal is
 *      woken with ev_async_send() (libev documents it as safe here).
 *   5. The wakeup fds get their byte; for SIGCHLD, libev's reaper is fed if
 *      evsig covers it (ev_feed_signal(), also documented for handlers).
 *   6. A delivery nobody owned meets the disposition the table stands for,
 *      here and now: ignored, the foreign handler called with its siginfo,
 *      or the default action (re-raised with its siginfo under SIG_DFL, so
 *      the process dies as it would have; stop signals stop it).
 *
 * The ring is written with a per-slot sequence word (a seqlock): a writer
 * marks the slot busy, fills the data words, and publishes it; a reader
 * checks the word before and after. Writers on several threads each claim
 * a position with one fetch-and-add. A slot is overwritten when the ring
 * laps, never waited for, except in one case: a writer whose slot is still
 * being filled by an older writer of this process waits for it (spins).
 * That older writer is another thread in this very code, a few stores from
 * done; it cannot be this thread (the handler runs with every signal
 * blocked). XXX: a writer preempted mid-slot while the ring laps past it
 * makes the next writer of that slot spin until it is scheduled again.
 *
 * errno is saved and restored: write() may change it under the interrupted
 * code's feet.
 */
#define _GNU_SOURCE
#include <assert.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "evsig-private.h"

#define RING_MASK (EVSIG_RING_SIZE - 1)

_Static_assert((EVSIG_RING_SIZE & RING_MASK) == 0,
               "EVSIG_RING_SIZE must be a power of two");
_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2 && ATOMIC_POINTER_LOCK_FREE == 2 &&
               ATOMIC_INT_LOCK_FREE == 2,
               "the C handler needs lock-free atomics");

typedef void (*handler_fn)(int);
typedef void (*sigaction_fn)(int, siginfo_t *, void *);

/* What an unowned delivery meets: the kind in the top byte, the foreign
 * handler's address below it, so that one load reads a consistent pair
 * (user-space addresses use at most 57 bits on the 64-bit targets). */
#define FALLBACK_SHIFT 56
_Static_assert(sizeof(uintptr_t) <= sizeof(uint64_t), "a pointer fits 64 bits");

struct catch_sig {
    _Atomic uint64_t                word;      /* generation << 32 | owners */
    struct evsig__ring *_Atomic     ring;
    struct evsig__claimset *_Atomic claims;
    _Atomic uint64_t                fallback;  /* kind << 56 | handler */
};

static struct catch_state {
    struct catch_sig                sig[NSIG];
    struct evsig__wakeset *_Atomic  wakes;
    _Atomic uint64_t *_Atomic       watched;    /* child.c's pid bits */
    _Atomic int                     wakeup_fd;
    _Atomic bool                    wakeup_sock;
    _Atomic bool                    wakeup_warn;   /* note a full pipe */
    _Atomic int                     sigchld_fd;
    _Atomic bool                    sigchld_sock;
    _Atomic bool                    full;       /* a wakeup byte did not fit */
    _Atomic int                     err;        /* another write error */
    _Atomic int                     err_fd;
    _Atomic bool                    feed_libev;
} catch = {
    .wakeup_fd = -1,
    .sigchld_fd = -1,
};

/* --- helpers of the handler ---------------------------------------------- */

/* A fault raised by the CPU (as opposed to sent with kill) cannot be
 * deferred: returning would run the faulting instruction again, forever.
 * x86-64 reports a general-protection fault as SIGSEGV with SI_KERNEL,
 * so that counts too; a SIGTRAP with SI_KERNEL (int3) returns past the
 * trap and can wait for the loop like any other signal. */
static bool sync_fault(int signum, const siginfo_t *si)
{
    switch (signum) {
    case SIGSEGV: case SIGBUS: case SIGILL: case SIGFPE:
        return si->si_code > 0;
    case SIGTRAP:
        return si->si_code > 0 && si->si_code != SI_KERNEL;
    default:
        return false;
    }
}

/* A SIGCHLD's si_status in the waitpid() status form. */
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

static void record(int signum, const siginfo_t *si, evsig_info *info)
{
    memset(info, 0, sizeof(*info));
    info->signo = signum;
    info->code = si->si_code;
    if (si->si_code == SI_QUEUE || si->si_code == SI_TIMER ||
        si->si_code == SI_MESGQ)
        info->value = si->si_value;
    if (si->si_code == SI_USER || si->si_code == SI_QUEUE ||
        si->si_code == SI_TKILL || si->si_code == SI_MESGQ) {
        info->pid = si->si_pid;
        info->uid = si->si_uid;
    } else if (signum == SIGCHLD && si->si_code > 0) {
        info->pid = si->si_pid;
        info->uid = si->si_uid;
        info->status = chld_status(si);
    }
    info->merged = 1;
}

/* Whether @pid was a watched child when this SIGCHLD was received. */
static bool watched_pid(pid_t pid)
{
    _Atomic uint64_t *bits = atomic_load(&catch.watched);

    if (!bits || pid <= 0 || (unsigned)pid >= EVSIG__PID_LIMIT)
        return false;
    return atomic_load_explicit(&bits[evsig__pidbits_word(pid, true)],
                                memory_order_acquire) >> (pid % 64) & 1;
}

/* Whether a oneshot claim is waiting for a delivery of generation @gen. */
static bool claimable(const struct evsig__claim *cl, uint32_t gen)
{
    return !atomic_load_explicit(&cl->off, memory_order_relaxed) &&
           atomic_load_explicit(&cl->taken, memory_order_relaxed) == 0 &&
           evsig__gen_le(cl->start_gen, gen);
}

static bool any_claimable(const struct evsig__claimset *set, uint32_t gen)
{
    for (unsigned i = 0; set && i < set->n; i++)
        if (claimable(set->v[i], gen))
            return true;
    return false;
}

/* Take every armed claim for the delivery at @pos; its info is published
 * (filled) before the ring slot is, so a reader that sees the slot sees
 * the claim. */
static bool take_claims(struct evsig__claimset *set, uint32_t gen,
                        uint64_t pos, unsigned fgen, const evsig_info *info)
{
    bool took = false;

    for (unsigned i = 0; set && i < set->n; i++) {
        struct evsig__claim *cl = set->v[i];
        uint64_t armed = 0;

        if (!claimable(cl, gen))
            continue;
        if (!atomic_compare_exchange_strong_explicit(&cl->taken, &armed,
                                                     pos + 1,
                                                     memory_order_acquire,
                                                     memory_order_relaxed))
            continue;   /* a delivery on another thread took it first */
        cl->info = *info;
        cl->forkgen = fgen;
        atomic_store_explicit(&cl->filled, true, memory_order_release);
        took = true;
    }
    return took;
}

/* Write position @pos; @info NULL writes a hole readers skip. */
static void ring_put(struct evsig__ring *ring, uint64_t pos, unsigned fgen,
                     const evsig_info *info, uint32_t owner_gen, bool watched)
{
    struct evsig__slot *slot = &ring->slot[pos & RING_MASK];
    uint64_t busy = EVSIG__SEQ(pos, fgen, 1);
    uint64_t seq = atomic_load_explicit(&slot->seq, memory_order_relaxed);
    uint64_t value = 0;

    for (;;) {
        bool ours = seq != 0 && EVSIG__SEQ_GEN(seq) == (fgen & 0x7fff);

        if (ours && EVSIG__SEQ_POS(seq) >= pos)
            return;   /* lapped before we wrote: lost, and readers count it */
        if (ours && EVSIG__SEQ_BUSY(seq)) {
            seq = atomic_load_explicit(&slot->seq, memory_order_relaxed);
            continue;   /* an older writer of this process is filling it */
        }
        /* Free, older, or left by another fork generation (whose writer,
         * if it was busy, does not exist in this process). */
        if (atomic_compare_exchange_weak_explicit(&slot->seq, &seq, busy,
                                                  memory_order_acquire,
                                                  memory_order_relaxed))
            break;
    }
    atomic_thread_fence(memory_order_release);

    if (info) {
        memcpy(&value, &info->value, sizeof(info->value));
        atomic_store_explicit(&slot->w[EVSIG__W_SIG],
                              (uint32_t)info->signo |
                              (watched ? EVSIG__W_SIG_WATCHED : 0) |
                              (uint64_t)(uint32_t)info->code << 32,
                              memory_order_relaxed);
        atomic_store_explicit(&slot->w[EVSIG__W_PID],
                              (uint32_t)info->pid |
                              (uint64_t)(uint32_t)info->uid << 32,
                              memory_order_relaxed);
        atomic_store_explicit(&slot->w[EVSIG__W_STATUS],
                              (uint32_t)info->status |
                              (uint64_t)owner_gen << 32,
                              memory_order_relaxed);
        atomic_store_explicit(&slot->w[EVSIG__W_VALUE], value,
                              memory_order_relaxed);
    } else {
        atomic_store_explicit(&slot->w[EVSIG__W_SIG], 0, memory_order_relaxed);
    }
    atomic_store_explicit(&slot->seq, EVSIG__SEQ(pos, fgen, 0),
                          memory_order_release);
}

/* Wake every loop that reads @signum's ring. */
static void wake(int signum)
{
    struct evsig__wakeset *set = atomic_load(&catch.wakes);
    uint64_t bit = EVSIG__BIT(signum);

    for (unsigned i = 0; set && i < set->n; i++) {
        struct evsig__wake *w = set->v[i];

        if (!(atomic_load_explicit(&w->serves, memory_order_relaxed) & bit))
            continue;
        atomic_fetch_or_explicit(&w->pending, bit, memory_order_release);
        ev_async_send(w->loop, &w->async);
    }
}

static void wakeup_write(int fd, bool sock, unsigned char byte, bool note_full)
{
    ssize_t r;

    /* A socket is written without SIGPIPE; a pipe whose reader is gone
     * raises it, as any write would (see evsig_set_wakeup_fd()). */
    r = sock ? send(fd, &byte, 1, MSG_DONTWAIT | MSG_NOSIGNAL)
             : write(fd, &byte, 1);
    if (r == 1)
        return;
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        if (note_full)
            atomic_store_explicit(&catch.full, true, memory_order_relaxed);
        return;
    }
    atomic_store_explicit(&catch.err_fd, fd, memory_order_relaxed);
    atomic_store_explicit(&catch.err, r < 0 ? errno : EIO,
                          memory_order_release);
}

static void wakeup_notify(int signum)
{
    int fd = atomic_load_explicit(&catch.wakeup_fd, memory_order_relaxed);

    if (fd >= 0)
        wakeup_write(fd, atomic_load_explicit(&catch.wakeup_sock,
                                              memory_order_relaxed),
                     (unsigned char)signum,
                     atomic_load_explicit(&catch.wakeup_warn,
                                          memory_order_relaxed));
    if (signum != SIGCHLD)
        return;
    fd = atomic_load_explicit(&catch.sigchld_fd, memory_order_relaxed);
    if (fd >= 0)   /* Twisted: a full pipe already wakes its reader */
        wakeup_write(fd, atomic_load_explicit(&catch.sigchld_sock,
                                              memory_order_relaxed),
                     (unsigned char)signum, false);
}

/* The default action of a delivery nobody owned. */
static void default_action(int signum, siginfo_t *si)
{
    struct sigaction dfl;

    switch (signum) {
    case SIGCHLD: case SIGCONT: case SIGURG: case SIGWINCH:
        return;   /* ignored by default */
    case SIGTSTP: case SIGTTIN: case SIGTTOU:
        kill(getpid(), SIGSTOP);   /* stop; evsig stays installed */
        return;
    default:
        break;
    }
    /* Terminate (or dump core): as libuv's SA_RESETHAND would. The signal
     * is blocked until this handler returns, then kills the process. */
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    sigaction(signum, &dfl, NULL);
    /* The kernel lets a process queue any siginfo to itself. */
    if (syscall(SYS_rt_tgsigqueueinfo, getpid(), (pid_t)syscall(SYS_gettid),
                signum, si) != 0)
        raise(signum);
}

static void meet_fallback(int signum, siginfo_t *si, void *uctx)
{
    uint64_t fb = atomic_load_explicit(&catch.sig[signum].fallback,
                                       memory_order_relaxed);
    int kind = (int)(fb >> FALLBACK_SHIFT);
    void (*fn)(void) = (void (*)(void))(uintptr_t)
                       (fb & ((UINT64_C(1) << FALLBACK_SHIFT) - 1));

    switch (kind) {
    case EVSIG__FALLBACK_IGNORE:
        break;
    case EVSIG__FALLBACK_HANDLER:
        /* Under evsig's mask and flags, not its own (see evsig.h). */
        ((handler_fn)fn)(signum);
        break;
    case EVSIG__FALLBACK_SIGACTION:
        ((sigaction_fn)fn)(signum, si, uctx);
        break;
    default:
        default_action(signum, si);
        break;
    }
}

/* --- the handler --------------------------------------------------------- */

/*
 * Write @info into its signal's ring if it has an owner -- a standing one,
 * or an armed oneshot claim it takes -- and wake the loops that read it.
 * @watched: a SIGCHLD of a child watched now. Returns whether it had an
 * owner. The caller counts itself in evsig__proc.inflight around it.
 */
static bool push(const evsig_info *info, bool watched)
{
    struct catch_sig *c = &catch.sig[info->signo];
    /* seq_cst: ordered after the caller's increment of inflight, as
     * evsig__core_idle() expects. */
    uint64_t word = atomic_load(&c->word);
    struct evsig__ring *ring = atomic_load(&c->ring);
    uint32_t gen = (uint32_t)(word >> 32);
    bool owned = (uint32_t)word != 0;
    struct evsig__claimset *claims;

    if (!ring)
        return owned;
    claims = atomic_load(&c->claims);
    if (owned || any_claimable(claims, gen)) {
        uint64_t pos = atomic_fetch_add_explicit(&ring->head, 1,
                                                 memory_order_relaxed);
        unsigned fgen = evsig__forkgen();

        if (take_claims(claims, gen, pos, fgen, info))
            owned = true;
        /* Lost the race for the last oneshot: leave a hole. */
        ring_put(ring, pos, fgen, owned ? info : NULL, gen, watched);
        if (owned)
            wake(info->signo);
    }
    return owned;
}

static void on_signal(int signum, siginfo_t *si, void *uctx)
{
    int saved_errno = errno;
    evsig_info info;
    bool owned;

    if (sync_fault(signum, si)) {
        struct sigaction dfl;

        memset(&dfl, 0, sizeof(dfl));
        dfl.sa_handler = SIG_DFL;
        sigaction(signum, &dfl, NULL);
        errno = saved_errno;
        return;
    }

    atomic_fetch_add(&evsig__proc.inflight, 1);
    record(signum, si, &info);
    owned = push(&info, signum == SIGCHLD && si->si_code > 0 &&
                        watched_pid(si->si_pid));
    atomic_fetch_sub(&evsig__proc.inflight, 1);

    wakeup_notify(signum);
    if (signum == SIGCHLD &&
        atomic_load_explicit(&catch.feed_libev, memory_order_relaxed))
        ev_feed_signal(SIGCHLD);
    if (!owned)
        meet_fallback(signum, si, uctx);
    errno = saved_errno;
}

/*
 * A delivery evsig makes itself: on a signalfd default loop libev blocks
 * SIGCHLD and reads it, so no C handler sees the kernel's; child.c then
 * makes one per exit of a watched child. As on_signal() would, outside
 * signal context (lock held, any thread); with no owner, nothing.
 */
void evsig__catch_inject(const evsig_info *info)
{
    atomic_fetch_add(&evsig__proc.inflight, 1);
    push(info, info->signo == SIGCHLD);
    atomic_fetch_sub(&evsig__proc.inflight, 1);
    wakeup_notify(info->signo);
}

/* --- setters (lock held, any thread) -------------------------------------- */

void evsig__catch_sigaction(struct sigaction *sa, bool interrupt)
{
    memset(sa, 0, sizeof(*sa));
    sa->sa_sigaction = on_signal;
    sigfillset(&sa->sa_mask);
    /* SA_RESTART: a signal must not make the program's blocking calls fail
     * with EINTR (Twisted's lesson); evsig_siginterrupt() opts out. */
    sa->sa_flags = SA_SIGINFO | (interrupt ? 0 : SA_RESTART);
}

bool evsig__catch_is_ours(const struct sigaction *sa)
{
    return (sa->sa_flags & SA_SIGINFO) && sa->sa_sigaction == on_signal;
}

uint32_t evsig__catch_owners(int signum, int delta)
{
    _Atomic uint64_t *w = &catch.sig[signum].word;
    uint64_t old = atomic_load(w), next;

    do {
        uint32_t gen = (uint32_t)(old >> 32) + 1;
        uint32_t n = (uint32_t)old + (uint32_t)delta;

        next = (uint64_t)gen << 32 | n;
    } while (!atomic_compare_exchange_weak(w, &old, next));
    return (uint32_t)(next >> 32);
}

uint32_t evsig__catch_gen(int signum)
{
    return (uint32_t)(atomic_load(&catch.sig[signum].word) >> 32);
}

uint32_t evsig__catch_nowners(int signum)
{
    return (uint32_t)atomic_load(&catch.sig[signum].word);
}

void evsig__catch_set_fallback(int signum, int kind, void (*fn)(void))
{
    uint64_t addr = (uint64_t)(uintptr_t)fn;

    assert(addr >> FALLBACK_SHIFT == 0);
    atomic_store(&catch.sig[signum].fallback,
                 (uint64_t)kind << FALLBACK_SHIFT | addr);
}

void evsig__catch_set_feed_libev(bool on)
{
    atomic_store(&catch.feed_libev, on);
}

struct evsig__ring *evsig__catch_set_ring(int signum, struct evsig__ring *ring)
{
    return atomic_exchange(&catch.sig[signum].ring, ring);
}

struct evsig__ring *evsig__catch_ring(int signum)
{
    return atomic_load(&catch.sig[signum].ring);
}

struct evsig__wakeset *evsig__catch_set_wakes(struct evsig__wakeset *set)
{
    return atomic_exchange(&catch.wakes, set);
}

struct evsig__claimset *evsig__catch_set_claims(int signum,
                                                struct evsig__claimset *set)
{
    return atomic_exchange(&catch.sig[signum].claims, set);
}

_Atomic uint64_t *evsig__catch_set_watched(_Atomic uint64_t *bits)
{
    return atomic_exchange(&catch.watched, bits);
}

void evsig__catch_set_wakeup_fd(int fd, bool is_socket, bool warn_on_full)
{
    atomic_store(&catch.wakeup_warn, warn_on_full);
    atomic_store(&catch.full, false);
    atomic_store(&catch.wakeup_sock, is_socket);
    atomic_store(&catch.wakeup_fd, fd);
}

void evsig__catch_set_sigchld_fd(int fd, bool is_socket)
{
    atomic_store(&catch.sigchld_sock, is_socket);
    atomic_store(&catch.sigchld_fd, fd);
}

int evsig__catch_wakeup_fd(void)
{
    return atomic_load(&catch.wakeup_fd);
}

int evsig__catch_sigchld_fd(void)
{
    return atomic_load(&catch.sigchld_fd);
}

void evsig__catch_wakeup_trouble(bool *full, int *err, int *fd)
{
    *full = atomic_exchange_explicit(&catch.full, false, memory_order_relaxed);
    *err = atomic_exchange_explicit(&catch.err, 0, memory_order_acquire);
    *fd = atomic_load_explicit(&catch.err_fd, memory_order_relaxed);
}

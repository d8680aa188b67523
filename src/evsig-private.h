/* SPDX-License-Identifier: MIT */
/*
 * evsig-private.h - what evsig's modules share and nobody else sees.
 *
 * Layers, top to bottom; a file calls only files below it:
 *
 *   evsig.c          evsig_reset(): each layer's reset, top down
 *   table.c          Python's table (signal.signal / getsignal)
 *   wakeup.c         set_wakeup_fd, installHandler, isDefaultHandler
 *   child.c          watched children, results, waitpid, kill, fork
 *   dispatch.c       per-(signal, loop) watchers, waits, ownership
 *   disposition.c    found/owed dispositions, claims, exact restore
 *   catch.c          the C handler and everything it runs (signal context)
 *   ring.c pidtab.c  the siginfo ring (reading side); the pid table
 *   core.c names.c   lock, fork generation, reset epoch, libev's default
 *                    loop; signal numbers and names
 *
 * Internal functions with external linkage are named evsig__<module>_<verb>
 * and return 0 or a negative errno code; public entry points turn that into
 * -1/errno in one place (evsig__fail()). Unless a declaration says
 * otherwise, an internal function expects the caller to hold the lock
 * (evsig__lock()).
 */
#ifndef EVSIG_PRIVATE_H
#define EVSIG_PRIVATE_H

#include <errno.h>
#include <pthread.h>
#include <stdalign.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "evsig.h"

#define EVSIG_PUBLIC __attribute__((visibility("default")))

#define EVSIG_FLAGS_WATCH (EVSIG_NOREF | EVSIG_ONESHOT | EVSIG_COALESCE)

/* Signals are 1..NSIG-1; one bit each in a 64-bit word. */
_Static_assert(NSIG - 1 <= 64, "a signal set must fit in 64 bits");
#define EVSIG__BIT(signum) (UINT64_C(1) << ((signum) - 1))

/* Turn an internal -Exxx result into the public -1/errno convention. */
static inline int evsig__fail(int negerr)
{
    errno = -negerr;
    return -1;
}

/* Owner generations wrap: compare them as serial numbers. */
static inline bool evsig__gen_le(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) <= 0;
}

/* names.c ---------------------------------------------------------------- */

/* 0 if @signum is a signal a program may use, else -EINVAL. The one place
 * that decides what a bad signal number is. Any context. */
int evsig__check_signum(int signum);

/* core.c ----------------------------------------------------------------- */

/*
 * The process-wide state the C handler touches outside catch.c's own: the
 * fork generation (bumped in every child of fork(), so that what the parent
 * caught is recognised as the parent's without walking it) and the number
 * of C handlers running now (so that memory the handler may read is freed
 * only when none runs); and beside them core.c's lock. The child of
 * evsig_fork() writes all three and nothing else of evsig's before it
 * returns: they live on one page on purpose (core.c aligns the struct), as
 * each page written after fork() is a copy-on-write fault.
 */
struct evsig__proc {
    _Atomic unsigned forkgen;
    _Atomic unsigned inflight;
    struct {                       /* core.c's only */
        alignas(64) pthread_mutex_t mutex;
        _Atomic(pthread_t) holder; /* the thread holding it, or 0 */
        bool forking_holds;        /* ... was the forking thread */
        /* A loop whose libev evpipe exists, as far as this hold of the
         * lock knows (evsig__core_evpipe_ready()); cleared when taken. */
        struct ev_loop *evpipe_loop;
    } lock;
};
extern struct evsig__proc evsig__proc;

static inline unsigned evsig__forkgen(void)
{
    return atomic_load_explicit(&evsig__proc.forkgen, memory_order_relaxed);
}

/*
 * The process-wide lock. evsig__lock() blocks every signal in the calling
 * thread (the old mask goes to @saved) and takes the mutex; the C handler
 * never takes it. evsig__lock_loop() is the dispatch path's cheaper form
 * (mutex only, see dispatch.c). Not recursive: user callbacks run unlocked.
 * Any thread, never signal context.
 */
void evsig__lock(sigset_t *saved);
void evsig__unlock(const sigset_t *saved);
/* evsig__unlock() in the child of a fork made with the lock held: makes the
 * mutex anew without a call into the threads library (see core.c). */
void evsig__unlock_forked(const sigset_t *saved);
void evsig__lock_loop(void);
void evsig__unlock_loop(void);

/* Whether no C handler runs now (seq_cst: pairs with the handler's
 * increment before it reads published pointers). */
bool evsig__core_idle(void);
/* Wait until no C handler runs (they are short and never block). */
void evsig__core_quiesce(void);

/* The reset epoch: bumped by evsig_reset(); a wait or dispatch frame that
 * sees it change gives up without touching what it held. */
unsigned evsig__core_epoch(void);
void evsig__core_epoch_bump(void);

/* libev's default loop if it exists, else NULL (no lock needed). */
struct ev_loop *evsig__core_default_loop(void);
/* True exactly once: the first call that finds libev's default loop (then
 * libev's SIGCHLD handler, if any, is recorded). */
bool evsig__core_meet_default_loop(void);
/* libev's SIGCHLD handler as recorded when the default loop was met, or
 * NULL (not met yet, or a signalfd default loop installs none). */
void (*evsig__core_libev_handler(void))(int);
/* Whether libev's default loop reads SIGCHLD from a signalfd (it then
 * blocks SIGCHLD: no C handler sees the kernel's). */
bool evsig__core_signalfd_default_loop(void);

/* Make sure libev can start an ev_async (or ev_signal) on @loop without
 * opening an fd, which it cannot fail gracefully: 0, or -EMFILE/-ENFILE
 * with nothing made. @running: an ev_async of the caller's runs on @loop
 * (then its evpipe exists). @make: make the evpipe now; else only check
 * that an fd is free for it. See core.c. Lock held; the loop's thread. */
int evsig__core_evpipe_ready(struct ev_loop *loop, bool running, bool make);

/* In a child of evsig_fork(): bump the fork generation if no atfork
 * handler did (@gen: the generation before fork()). */
void evsig__core_fork_child(unsigned gen);
/* @hook runs first thing in every child of fork() (from the atfork
 * handler: async-signal-safe work only), with the parent's fork
 * generation. One hook: the PIDFD reaper's, which closes its fds there.
 * Lock held. */
void evsig__core_set_fork_hook(void (*hook)(unsigned parent_gen));

/* Count of table and watcher callbacks run on the calling thread
 * (evsig_pause()). Any thread, no lock. */
void evsig__core_note_handler(void);
unsigned long evsig__core_handlers_ran(void);

/* ring.c ------------------------------------------------------------------
 *
 * One ring per signal, shared by every loop: the C handler (catch.c) writes
 * each delivery once; every loop reads it with a cursor of its own. Slots
 * are overwritten, never waited for: a loop that falls behind by more than
 * EVSIG_RING_SIZE loses its oldest deliveries and counts them exactly. */

/* A slot's sequence word: which position it holds, in which fork
 * generation, and whether a writer is still filling it (odd). 0: never
 * written. Positions are 48-bit: years of signals at a million a second. */
#define EVSIG__SEQ(pos, gen, busy) \
    ((((uint64_t)(pos) + 1) << 16) | (((uint64_t)(gen) & 0x7fff) << 1) | (busy))
#define EVSIG__SEQ_POS(seq)   (((seq) >> 16) - 1)   /* valid when seq != 0 */
#define EVSIG__SEQ_GEN(seq)   ((unsigned)((seq) >> 1) & 0x7fff)
#define EVSIG__SEQ_BUSY(seq)  ((seq) & 1)

/* The data words of a slot; each word is written and read atomically
 * (relaxed), so a torn read is detected by the sequence word, never UB. */
enum {
    EVSIG__W_SIG,      /* signo | flags | code << 32; signo 0: a hole */
    EVSIG__W_PID,      /* pid | uid << 32 */
    EVSIG__W_STATUS,   /* status | owner generation << 32 */
    EVSIG__W_VALUE,    /* sigval */
    EVSIG__WORDS
};

/* In W_SIG, above the signal number: a SIGCHLD whose si_pid was a watched
 * child when it was received. */
#define EVSIG__W_SIG_WATCHED  (UINT64_C(1) << 16)
#define EVSIG__W_SIG_SIGNO    UINT64_C(0xffff)

struct evsig__slot {
    _Atomic uint64_t seq;
    _Atomic uint64_t w[EVSIG__WORDS];
};

struct evsig__ring {
    _Atomic uint64_t   head;        /* next position a writer claims */
    char               pad[56];     /* keep @head off the slots' line */
    struct evsig__slot slot[EVSIG_RING_SIZE];
};

/* One delivery as a reader sees it. */
struct evsig__delivery {
    uint64_t   pos;
    uint32_t   owner_gen;   /* the signal's owner generation at reception */
    unsigned   lost;        /* positions skipped just before this one */
    bool       watched;     /* SIGCHLD of a child watched at reception */
    evsig_info info;
};

/* A zeroed ring, or NULL. Not signal context. */
struct evsig__ring *evsig__ring_new(void);
void evsig__ring_free(struct evsig__ring *ring);

/* Where a new reader starts: after everything written so far. */
uint64_t evsig__ring_head(struct evsig__ring *ring);

/*
 * Read the delivery at *@cursor and advance it. Returns 1 with @out filled,
 * 0 when nothing (more) is ready. Positions overwritten before they were
 * read are skipped and counted in @out->lost of the next delivery returned;
 * holes (positions a handler gave up, see catch.c) and deliveries of
 * another fork generation are skipped without counting. If it returns 0,
 * skipped losses are added to *@pending_lost instead. One reader per
 * cursor; any number of cursors.
 */
int evsig__ring_read(struct evsig__ring *ring, uint64_t *cursor,
                     struct evsig__delivery *out, unsigned *pending_lost);

/* pidtab.c --------------------------------------------------------------- */

/* A list of exited children in exit order, threaded through the entries
 * (the caller owns the head: one per loop, and one for results nobody
 * watched). */
struct evsig__rlist {
    uint32_t head, tail;
};
#define EVSIG__RLIST_INIT { UINT32_MAX, UINT32_MAX }

/* A child evsig knows of: watched, or reaped and its result kept. */
struct evsig__child {
    pid_t                pid;        /* 0 while on the free list */
    uint32_t             next;       /* bucket chain, or free list */
    uint32_t             rprev, rnext;
    struct evsig__rlist *rl;         /* the result list it is on, if any */
    struct ev_loop      *loop;       /* the loop watching it (PIDFD: any) */
    evsig_child_cb       cb;
    void                *data;
    ev_tstamp            finished;   /* ev_now() when reaped */
    int                  status;
    int                  pidfd;      /* -1: none (LIBEV, or the fallback) */
    uid_t                uid;        /* the child's, from waitid(), if known */
    bool                 exited;     /* reaped: status and finished are set */
    bool                 watched;    /* has (had) a watch: cb runs, counts for -1 */
    bool                 late;       /* kept result watched late: report pending */
    bool                 vanished;   /* reaped by someone else: no status yet */
    bool                 sigchld_seen;  /* watched after its exit: its SIGCHLD
                                           came unwatched, to skip once */
    uint8_t              flags;      /* EVSIG_NOREF */
};

/* Drop an inherited table if the fork generation changed since its last
 * use; true if it did (the caller resets what it keeps per child). */
bool evsig__pidtab_fresh(void);
/* Free everything (evsig_reset()). */
void evsig__pidtab_forget(void);

struct evsig__child *evsig__pidtab_lookup(pid_t pid);
/* Make sure one more entry fits: 0 or -ENOMEM. After it succeeded,
 * evsig__pidtab_insert() cannot fail. */
int evsig__pidtab_reserve(void);
/* A zeroed entry for @pid (running, unwatched, no pidfd); only after a
 * reserve. */
struct evsig__child *evsig__pidtab_insert(pid_t pid);
/* Unlink @e from everything and free its slot. Pointers to entries stay
 * valid until the next insert. */
void evsig__pidtab_remove(struct evsig__child *e);

/* Put @e on @l (NULL: on none), in exit order (->finished). */
void evsig__pidtab_result_put(struct evsig__child *e, struct evsig__rlist *l);
struct evsig__child *evsig__pidtab_oldest(const struct evsig__rlist *l);
struct evsig__child *evsig__pidtab_newer(const struct evsig__child *e);
/* Remove the results of @l older than @ttl seconds at @now, oldest first,
 * stopping at one whose late report is still pending. */
void evsig__pidtab_prune(struct evsig__rlist *l, ev_tstamp now, double ttl);
/* Call @fn for every entry (fork and reset paths); @fn may not insert or
 * remove. */
void evsig__pidtab_each(void (*fn)(struct evsig__child *e, void *arg),
                        void *arg);

/* catch.c -----------------------------------------------------------------
 *
 * The C handler and the state it reads. Every function here is
 * async-signal-safe; the setters publish with the memory order the
 * handler's loads pair with. Memory the handler may read through a
 * published pointer is freed only after evsig__core_idle(). */

/* A loop the handler wakes. The memory belongs to dispatch.c's loop record;
 * @serves is written under the lock, @pending by handlers (set) and the
 * loop's thread (taken). */
struct evsig__wake {
    struct ev_loop  *loop;
    ev_async         async;
    _Atomic uint64_t serves;    /* signals this loop reads from their rings */
    _Atomic uint64_t pending;   /* signals pushed since the loop last looked */
};

struct evsig__wakeset {
    unsigned            n;
    struct evsig__wake *v[];
};

/* A oneshot watcher's claim on its first delivery. @taken is 0 while
 * armed, then the ring position + 1 of the delivery that claimed it;
 * @info and @forkgen are valid once @filled. @off: the watcher stopped,
 * skip it. */
struct evsig__claim {
    _Atomic uint64_t     taken;
    _Atomic bool         filled;
    _Atomic bool         off;
    uint32_t             start_gen;   /* owns deliveries from this generation */
    unsigned             forkgen;     /* fork generation of the delivery */
    evsig_info           info;
    struct evsig__claim *next;        /* dispatch.c's lists */
};

struct evsig__claimset {
    unsigned             n;
    struct evsig__claim *v[];
};

/*
 * Two bits per pid, for every pid Linux can make (below 2^22): "known"
 * (watched since the last reset) and "watched" (watched now, read by the C
 * handler to mark a SIGCHLD as a watched child's). One zero-filled mapping
 * of 1 MiB, made by child.c at its first watch: pages are only made where
 * pids live, no memory per child, nothing to reserve before fork() for a
 * pid not known yet. The two words of 64 pids sit side by side, so that
 * marking a child known and watched writes one page (a fork_and_watch pays
 * a copy-on-write fault per page it writes).
 */
#define EVSIG__PID_LIMIT  (1u << 22)
#define EVSIG__PIDBITS_WORDS (EVSIG__PID_LIMIT / 64 * 2)

static inline unsigned evsig__pidbits_word(pid_t pid, bool watched)
{
    return ((unsigned)pid / 64) * 2 + (watched ? 1 : 0);
}

/* What a delivery nobody owned meets (the disposition the table stands
 * for), decided in the handler. */
enum {
    EVSIG__FALLBACK_DEFAULT,    /* the default action */
    EVSIG__FALLBACK_IGNORE,
    EVSIG__FALLBACK_HANDLER,    /* a foreign sa_handler */
    EVSIG__FALLBACK_SIGACTION,  /* a foreign SA_SIGINFO handler */
};

/* Fill @sa with evsig's C handler: SA_SIGINFO, SA_RESTART unless
 * @interrupt, every signal blocked while it runs. */
void evsig__catch_sigaction(struct sigaction *sa, bool interrupt);
/* Whether @sa is evsig's C handler. */
bool evsig__catch_is_ours(const struct sigaction *sa);

/* Add @delta (-1, 0, +1) to @signum's count of standing owners and start
 * a new owner generation; returns it. */
uint32_t evsig__catch_owners(int signum, int delta);
/* The current owner generation and count. */
uint32_t evsig__catch_gen(int signum);
uint32_t evsig__catch_nowners(int signum);

void evsig__catch_set_fallback(int signum, int kind, void (*fn)(void));
/* For SIGCHLD: also feed libev's own SIGCHLD handling (its reaper). */
void evsig__catch_set_feed_libev(bool on);

/* Publish @signum's ring (NULL to withdraw); returns the old one. */
struct evsig__ring *evsig__catch_set_ring(int signum, struct evsig__ring *ring);
struct evsig__ring *evsig__catch_ring(int signum);
/* Publish a new set; return the old one (to free once idle). */
struct evsig__wakeset *evsig__catch_set_wakes(struct evsig__wakeset *set);
struct evsig__claimset *evsig__catch_set_claims(int signum,
                                                struct evsig__claimset *set);
_Atomic uint64_t *evsig__catch_set_watched(_Atomic uint64_t *bits);

/* Make a delivery of @info->signo as if caught (owners, ring, loops,
 * wakeup byte); not signal context. */
void evsig__catch_inject(const evsig_info *info);

/* The wakeup fds (-1: none). @is_socket: write with MSG_NOSIGNAL;
 * @warn_on_full: note a byte that did not fit. */
void evsig__catch_set_wakeup_fd(int fd, bool is_socket, bool warn_on_full);
void evsig__catch_set_sigchld_fd(int fd, bool is_socket);
int evsig__catch_wakeup_fd(void);
int evsig__catch_sigchld_fd(void);
/* Take what went wrong writing the wakeup fds since the last call: @full
 * (a byte did not fit), @err (another write error, 0 if none) and its fd. */
void evsig__catch_wakeup_trouble(bool *full, int *err, int *fd);

/* disposition.c ------------------------------------------------------------
 *
 * Who decides what the kernel has for each signal. Holders claim a signal
 * (evsig's C handler must be installed while any claim stands); the table
 * says what it stands for; when the last claim goes, the owed disposition
 * replaces the C handler in one sigaction() call, so no other thread ever
 * sees SIG_DFL unless that is what is owed. */

enum {
    EVSIG__TABLE_UNSET,   /* never set since the reset: what evsig found */
    EVSIG__TABLE_DFL,
    EVSIG__TABLE_IGN,
    EVSIG__TABLE_CB,
};

void evsig__disp_claim(int signum);
void evsig__disp_release(int signum);
void evsig__disp_set_table(int signum, int kind);
void evsig__disp_set_interrupt(int signum, bool interrupt);
/* The disposition evsig found for @signum if it recorded one (else what
 * the kernel has now) in @sa. */
void evsig__disp_found(int signum, struct sigaction *sa);
/* Whether @sa is libev's own SIGCHLD handler or evsig's C handler. */
bool evsig__disp_is_libev_or_ours(const struct sigaction *sa);
/* Note libev's default loop if it appeared: re-assert evsig's SIGCHLD
 * handler over the one libev installed. */
void evsig__disp_meet_default_loop(void);
/* PIDFD: evsig owns SIGCHLD and no longer feeds libev's reaper (the
 * caller holds a claim on SIGCHLD while it is on). */
void evsig__disp_own_sigchld(bool on);
void evsig__disp_reset(void);

/* dispatch.c -------------------------------------------------------------- */

/* A watcher flag of evsig's own: its calls are not the user's (they do not
 * end evsig_pause()). */
#define EVSIG__INTERNAL 0x100

/* Bind the table callback of @signum to @loop, replacing any binding (on
 * any loop); or remove it (@cb NULL). @skip_watched (SIGCHLD, PIDFD): the
 * SIGCHLDs of watched children are not its (child.c reports those). 0 or
 * -ENOMEM (nothing changed). */
int evsig__dispatch_table(int signum, struct ev_loop *loop, evsig_handler cb,
                          void *data, bool skip_watched);
/* For the SIGCHLD table binding with @skip_watched: true if the SIGCHLD
 * of @pid is reported through a watch (a child watched after it exited,
 * whose SIGCHLD came first). Set by child.c; lock held when called. */
void evsig__dispatch_set_sigchld_filter(bool (*reported)(pid_t pid));
/* evsig_watch() and evsig_unwatch() for evsig's own watchers (lock held;
 * @flags may add EVSIG__INTERNAL). */
int evsig__dispatch_watch(struct ev_loop *loop, evsig_watcher *w, int signum,
                          evsig_handler cb, void *data, int flags);
void evsig__dispatch_unwatch(evsig_watcher *w);
/* Print what went wrong writing the wakeup fds, if anything (loop thread,
 * no lock needed). */
void evsig__dispatch_report(void);
void evsig__dispatch_reset(void);

/* reaper-pidfd.c, reaper-waitpid.c ----------------------------------------
 *
 * The two ways child.c learns that a watched child exited, behind one
 * table of operations. They report back through the hooks child.c gives
 * them (a function pointer is not a call upward). Lock held; entry points
 * that take a loop run on its thread. */

struct evsig__reaper_hooks {
    /* @pid exited and is reaped; @si from waitid() (si_uid, si_code, ...)
     * or, when only the status is known, NULL. Runs user code (the lock is
     * released meanwhile): returns false if evsig_reset() ran. */
    bool (*reaped)(struct ev_loop *loop, pid_t pid, int status,
                   const siginfo_t *si);
    /* @pid's pidfd says it exited, but somebody else reaped it. May run
     * user code too: returns false if evsig_reset() ran. */
    bool (*vanished)(struct ev_loop *loop, pid_t pid);
};

struct evsig__reaper {
    int  backend;                       /* EVSIG_CHILD_PIDFD or _LIBEV */
    /* 0 if children may be watched on @loop, else -EINVAL. */
    int  (*check_loop)(struct ev_loop *loop);
    /* Make adopt() on @loop unable to fail: 0 or -ENOMEM. Before fork. */
    int  (*prepare)(struct ev_loop *loop);
    /* Watch @e (on e->loop); @pidfd: one the caller has (clone3), or -1.
     * Cannot fail after prepare(): without a pidfd it falls back. */
    void (*adopt)(struct evsig__child *e, int pidfd);
    /* Stop watching @e; it stays the program's. */
    void (*drop)(struct evsig__child *e);
    /* Reap what is ready on @loop now (its thread). */
    void (*poll)(struct ev_loop *loop);
    int  (*kill)(const struct evsig__child *e, int sig);
    /* In the child of evsig_fork*(): close what was inherited. */
    void (*fork_child)(void);
    void (*reset)(void);
};

void evsig__reaper_pidfd_init(const struct evsig__reaper_hooks *hooks);
extern const struct evsig__reaper evsig__reaper_pidfd;
/* Whether pidfds work here (probed once). */
bool evsig__reaper_pidfd_available(void);
/* Tests: act as if no pidfd could be had. */
void evsig__reaper_pidfd_force_fallback(bool on);

void evsig__reaper_libev_init(const struct evsig__reaper_hooks *hooks);
extern const struct evsig__reaper evsig__reaper_libev;

/* child.c ----------------------------------------------------------------- */

/* The SIGCHLD table callback, or NULL, and the loop it is bound to. */
void evsig__child_set_sigchld_cb(struct ev_loop *loop, evsig_handler cb,
                                 void *data);
/* The backend, resolving AUTO. */
int evsig__child_resolve(void);
/* Start keeping children's results (LIBEV: if libev's default loop
 * exists). */
void evsig__child_meet(void);
/* Tests: the PIDFD backend acts as if no pidfd could be had. */
void evsig__child_force_fallback(bool on);
void evsig__child_reset(void);

/* For spawn.c, which makes the process itself: evsig__child_begin() (lock
 * held) checks @loop and reserves what watching one more child needs
 * (changing nothing else: negative errno or 0); after the caller's own
 * fds, evsig__child_ready() makes the loop's libev wake-up fd and then,
 * since nothing else can fail, takes SIGCHLD as the backend wants (0, or
 * -EMFILE/-ENFILE with nothing of evsig's changed); then the child is
 * made -- with a pidfd if evsig__child_wants_pidfd() -- and
 * evsig__child_adopt() watches it, which cannot fail (it takes @pidfd, or
 * -1). */
int evsig__child_begin(struct ev_loop *loop);
int evsig__child_ready(struct ev_loop *loop);
bool evsig__child_wants_pidfd(void);
void evsig__child_adopt(struct ev_loop *loop, pid_t pid, int pidfd,
                        evsig_child_cb cb, void *data, int flags);

/* spawn.c ----------------------------------------------------------------- */

void evsig__spawn_reset(void);

/* table.c ----------------------------------------------------------------- */

/* What evsig_getsignal() reports. */
void evsig__table_action(int signum, evsig_action *out);
void evsig__table_reset(void);

/* wakeup.c ---------------------------------------------------------------- */

void evsig__wakeup_reset(void);

#endif /* EVSIG_PRIVATE_H */

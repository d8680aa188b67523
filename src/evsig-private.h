/* SPDX-License-Identifier: MIT */
/*
 * evsig-private.h - what evsig's modules share and nobody else sees.
 *
 * Internal functions with external linkage are named evsig__<module>_<verb>
 * and return 0 or a negative errno code; public entry points turn that into
 * -1/errno in one place (evsig__fail()). Everything reachable from the C
 * signal handler is marked "Signal context".
 */
#ifndef EVSIG_PRIVATE_H
#define EVSIG_PRIVATE_H

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "evsig.h"

#define EVSIG_PUBLIC __attribute__((visibility("default")))

#define EVSIG_FLAGS_WATCH (EVSIG_NOREF | EVSIG_ONESHOT)

/* Turn an internal -Exxx result into the public -1/errno convention. */
static inline int evsig__fail(int negerr)
{
    errno = -negerr;
    return -1;
}

/* names.c ---------------------------------------------------------------- */

/* 0 if @signum is a signal a program may use, else -EINVAL. The one place
 * that decides what a bad signal number is. */
int evsig__check_signum(int signum);

/* ring.c ----------------------------------------------------------------- */

/* One delivery as the C handler recorded it. */
struct evsig__entry {
    _Atomic unsigned seq;     /* ring bookkeeping, see ring.c */
    unsigned         gen;     /* evsig__gen() when caught */
    evsig_info       info;
};

struct evsig__ring;

/* Allocate an empty ring. Loop thread, never signal context. */
struct evsig__ring *evsig__ring_new(void);
void evsig__ring_free(struct evsig__ring *ring);

/* Signal context: async-signal-safe calls only.
 * Append a delivery; if the ring is full, count it as lost instead. */
void evsig__ring_push(struct evsig__ring *ring, const evsig_info *info,
                      unsigned gen);

/* Take the oldest complete delivery. Single consumer: the thread that runs
 * the signal's loop. Returns false when there is none. */
bool evsig__ring_pop(struct evsig__ring *ring, evsig_info *info,
                     unsigned *gen);

/* table.c ---------------------------------------------------------------- */

/*
 * Per-signal state. A signal is "bound" while evsig's internal ev_signal runs
 * for it on @loop (a table callback, a watcher or a wait needs it), and
 * "hooked" while evsig's C handler is the kernel's disposition for it.
 */
struct evsig__sig {
    struct ev_loop  *loop;        /* loop serving it while bound */
    ev_signal        evw;         /* the internal watcher, while bound */
    bool             bound;
    bool             hooked;
    bool             interrupt;   /* evsig_siginterrupt(signum, 1) */
    bool             table_set;   /* evsig_signal() set it since the reset */
    bool             found_saved; /* @found holds what evsig found */
    bool             changed;     /* evsig changed the kernel disposition */
    evsig_handler    handler;     /* table entry, when @table_set */
    void            *data;
    struct sigaction found;       /* the disposition before evsig's first touch */
    evsig_watcher  **watchers;    /* active watchers, in start order */
    unsigned         nwatchers, capwatchers;
    unsigned         nwaits;      /* cooperative waits whose set holds it */
    unsigned         dispatching; /* dispatch_cb frames draining it */
    struct evsig__ring *ring;     /* allocated at first bind, never freed */
};

extern struct evsig__sig evsig__sigs[NSIG];

/* The fork generation: bumped in every child, so deliveries and child
 * results recorded before the fork are recognised as stale without walking
 * them. */
unsigned evsig__gen(void);

/* In a child of evsig_fork() when no atfork handler ran: bump the fork
 * generation. */
void evsig__table_fork_child(void);

/* Whether a table callback (not DFL/IGN) is set for @signum. */
static inline bool evsig__table_has_cb(const struct evsig__sig *s)
{
    return s->table_set && s->handler != EVSIG_DFL && s->handler != EVSIG_IGN;
}

/*
 * Make the kernel disposition and the internal watcher agree with the
 * users the signal has now. Binding to @loop may fail (-EBUSY, -EINVAL for
 * a signalfd loop, -ENOMEM) and then changes nothing; unbinding cannot
 * fail. Undispatched deliveries found when unbinding are raised again with
 * the new disposition in place (unless it is SIG_IGN). While the signal is
 * being dispatched, unbinding waits until the callback returns: a callback
 * that stops every watcher and starts them again never leaves it unbound.
 */
int evsig__table_sync(int signum, struct ev_loop *loop);

/* Whether anything (table callback, watcher, wait) needs @signum bound. */
bool evsig__table_wanted(int signum);

/* Whether binding @signum to @loop would be refused: 0 or -EBUSY. */
int evsig__table_check_loop(int signum, struct ev_loop *loop);

/* Whether the kernel's disposition for @signum now reads as EVSIG_DFL
 * (for SIGCHLD: SIG_DFL, libev's reaper or evsig's own handler). */
bool evsig__table_kernel_is_default(int signum);

/* Whether evsig's handler runs for @signum now. */
bool evsig__table_hooked(int signum);

/* Re-install what the kernel should have for SIGCHLD (after libev's default
 * loop appeared, or the installHandler fd changed). */
void evsig__table_sigchld_refresh(void);

/* Note libev's default loop, if it exists now (records libev's handler). */
void evsig__table_meet_default_loop(void);

/* Call the SIGCHLD table callback, if one is set, for a child's exit. */
void evsig__table_sigchld(struct ev_loop *loop, const evsig_info *info);

/* Count of table and watcher callbacks run so far (evsig_pause()). */
extern unsigned long evsig__handlers_ran;

/* Bumped by evsig_reset(): waits that see it change give up with EINTR. */
extern unsigned evsig__reset_epoch;

/* dispatch.c ------------------------------------------------------------- */

/* The internal ev_signal callback: drain the ring, dispatch each delivery. */
void evsig__dispatch_cb(struct ev_loop *loop, ev_signal *w, int revents);

/* Drop every watcher and its loop reference, free the watcher arrays
 * (evsig_reset(); runs before the table forgets the signals). */
void evsig__dispatch_reset(void);

/* pidtab.c --------------------------------------------------------------- */

/* A child evsig knows of: watched, or reaped and its result kept. */
struct evsig__child {
    pid_t          pid;          /* 0 while on the free list */
    uint32_t       next;         /* bucket chain, or free list */
    uint32_t       rprev, rnext; /* result list, once exited */
    bool           exited;       /* reaped: status and finished are set */
    bool           watched;      /* has (had) a watch: cb runs, counts for -1 */
    bool           late;         /* kept result watched late: report pending */
    uint8_t        flags;        /* EVSIG_NOREF */
    int            status;
    evsig_child_cb cb;
    void          *data;
    ev_tstamp      finished;     /* ev_now() when reaped */
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
/* A zeroed entry for @pid (running, unwatched); only after a reserve. */
struct evsig__child *evsig__pidtab_insert(pid_t pid);
/* Unlink @e from everything and free its slot. Pointers to entries stay
 * valid until the next insert. */
void evsig__pidtab_remove(struct evsig__child *e);

/* Result lists, one per value of ->watched, oldest exit first. */
void evsig__pidtab_result_add(struct evsig__child *e);   /* just exited */
/* Set @e's watched flag, moving it to the other list in exit order. */
void evsig__pidtab_result_move(struct evsig__child *e, bool watched);
struct evsig__child *evsig__pidtab_oldest(bool watched);
struct evsig__child *evsig__pidtab_newer(const struct evsig__child *e);
/* Remove results older than @ttl seconds at @now, oldest first, stopping
 * at one whose late report is still pending. */
void evsig__pidtab_prune(ev_tstamp now, double ttl);

/* child.c ---------------------------------------------------------------- */

/* Start keeping children's results if libev's default loop exists. */
void evsig__child_meet(void);

/* Forget every watched child and result (evsig_reset()). */
void evsig__child_reset(void);

/* wakeup.c --------------------------------------------------------------- */

/* Signal context: async-signal-safe calls only.
 * Write the wakeup byte(s) for @signum. */
void evsig__wakeup_notify(int signum);

/* Loop thread: print the "wakeup fd full" warning if one is owed. */
void evsig__wakeup_warn(void);

/* The installHandler fd, -1 if none. */
int evsig__wakeup_sigchld_fd(void);

/* Remove both fds (evsig_reset()). */
void evsig__wakeup_reset(void);

#endif /* EVSIG_PRIVATE_H */

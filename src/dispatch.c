/* SPDX-License-Identifier: MIT */
/*
 * dispatch.c - signal watchers, the table callback's binding, cooperative
 * waits, on any number of loops.
 *
 * Owns three records. A loop record (struct lrec) for each loop evsig
 * serves: its ev_async, which the C handler sends, and the signals it
 * serves. A subscription (struct lsig) per (signal, loop) with owners
 * there: its cursor into the signal's ring, a short read-ahead, the
 * watchers in start order, the table binding if the table's loop is this
 * one, and the waits. A watcher record (struct wrec) per active watcher,
 * found by the caller's watcher address in a hash set: whether a watcher
 * is active is decided here, never from the caller's memory.
 *
 * Ownership (DESIGN §3.1). Every start, stop or replacement of an owner
 * (table binding, watcher, wait) starts a new owner generation of its
 * signal (catch.c); each owner remembers the generation it started in, and
 * each delivery carries the generation it was received in. So at dispatch
 * the owners of delivery d on a loop are the owners still in place there
 * whose start generation is <= d's; a oneshot watcher owns only the
 * delivery that took its claim in the handler. A delivery no owner is left
 * for is dropped. Order of one delivery on one loop: the innermost wait
 * that owns it consumes it; else the table callback, then the watchers in
 * start order.
 *
 * Subscribing precedes counting an owner, and the claim on the C handler
 * (disposition.c) follows it; releasing goes the other way round. So a
 * delivery the handler counts as owned always finds a reader, and the
 * kernel disposition changes only when the first owner of a signal comes
 * or the last goes, in one sigaction() call.
 *
 * Dispatch runs in the ev_async callback on the loop's thread: it takes
 * the lock without blocking signals (the lock's usual form costs two
 * system calls, measured at 400 ns here, 8% of a signal's round trip; the
 * sections it covers call no user code and cannot fail), and releases it
 * around every user callback. Callbacks may start and stop watchers, change
 * the table, run the loop again (waits) or reset evsig: so a dispatch frame
 * finds the next watcher by start order after each call (O(log n), no
 * snapshot, no allocation), subscriptions and loop records live on while a
 * frame uses them, and a frame that sees the reset epoch change returns
 * without touching anything. One read-ahead per subscription keeps
 * deliveries in order across nested frames.
 *
 * Threads: a call naming a loop runs on that loop's thread or while the
 * loop does not run (libev's rule), so starting and stopping evsig's
 * ev_async and loop references happen there. The one change another
 * thread can make to a loop is moving the table away from it; if that
 * leaves the loop serving nothing, its record retires: the loop's thread
 * stops the ev_async at its next wakeup.
 *
 * Memory the C handler reads (the set of loops to wake, oneshot claims,
 * rings) is published through catch.c and freed only once no handler runs.
 */
#define _GNU_SOURCE
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>

#include "evsig-private.h"

/* Deliveries a subscription reads ahead: the span EVSIG_COALESCE folds
 * into one call; later ones in the same iteration go to its next call. */
#define READ_AHEAD 16

struct fold {                       /* EVSIG_COALESCE */
    unsigned       merged;          /* deliveries folded, not yet called */
    unsigned       lost;
    evsig_info     newest;
    unsigned long  called_iter;     /* loop iteration of the last call */
    uint64_t       upto;            /* positions below it are folded */
};

struct wrec {
    const evsig_watcher *w;
    struct lsig         *ls;
    evsig_handler        cb;
    void                *data;
    uint64_t             seq;        /* start order */
    uint32_t             start_gen;
    uint16_t             flags;      /* EVSIG_*, EVSIG__INTERNAL */
    bool                 refd;       /* holds an ev_ref on its loop */
    struct evsig__claim *claim;      /* EVSIG_ONESHOT */
    struct fold         *fold;       /* EVSIG_COALESCE */
};

struct lrec;

struct lsig {
    struct lrec           *lr;
    int                    signum;
    unsigned               forkgen;  /* the fork generation of what it holds */
    uint64_t               cursor;   /* next ring position to read */
    unsigned               lost;     /* lost, not yet reported */
    unsigned               ibuf, nbuf;
    struct evsig__delivery buf[READ_AHEAD];
    struct wrec          **v;        /* active watchers, start order */
    unsigned               n, cap;
    unsigned               nwaits;
    unsigned               frames;   /* dispatch frames using it */
    bool                   gone;     /* unsubscribed; freed by the last frame */
    bool                   claimed;  /* holds a claim on the C handler */
    bool                   table;    /* the table callback is bound here */
    bool                   tskip;    /* ... but not for watched children */
    struct lsig           *next_gone;
    evsig_handler          tcb;
    void                  *tdata;
    uint32_t               tgen;
};

struct wait {
    struct ev_loop *loop;
    sigset_t        set;
    bool            owning;          /* counted as an owner */
    bool            done;
    evsig_info      info;
    struct wait    *outer;
    uint32_t        gen[NSIG];
};

struct lrec {
    struct evsig__wake wake;         /* read by the C handler */
    struct lsig      **sig;          /* subscriptions */
    unsigned           nsig, capsig;
    unsigned long      iter;         /* wakeups: coalescing's iteration */
    struct wait       *waits;        /* innermost first */
    unsigned           frames;
    bool               started;      /* the ev_async runs */
    bool               gone;         /* serves nothing; freed by the last frame */
    bool               stale;        /* serves nothing, but the published set
                                        could not shrink: dropped at its next
                                        wakeup (or reused) */
    bool               buried;       /* in the graveyard */
    struct lrec       *next;         /* retiring, gone or graveyard list */
};

static struct dispatch_state {
    struct wrec    **set;            /* open addressing, by watcher address */
    size_t           setcap, setcount;
    uint64_t         starts;
    struct lrec    **loops;          /* loops served (the wakeset's source) */
    unsigned         nloops, caploops;
    struct lrec     *retiring;       /* serve nothing; their thread stops them */
    struct lrec     *graveyard;      /* ev_async may be registered on a loop
                                        evsig must not touch again */
    struct lrec     *gone_loops;     /* dropped while a frame used them */
    struct lsig     *gone_sigs;
    struct lsig     *table[NSIG];    /* the table callback's binding */
    struct evsig__claim *claims[NSIG];   /* every claim published, live or off */
    struct evsig__ring  *rings[NSIG];
    bool               (*reported)(pid_t pid);   /* child.c's, see there */
} dispatch;

/* The loop whose callbacks this thread is running (set around calls), so
 * that a table change made from a callback stops the ev_async at once. */
static _Thread_local struct ev_loop *calling_loop;

static void wake_cb(struct ev_loop *loop, ev_async *a, int revents);
static void unsubscribe(struct lsig *ls, bool own_thread);

/* --- the set of active watchers ------------------------------------------ */

static size_t slot_hash(const evsig_watcher *w, size_t cap)
{
    uintptr_t x = (uintptr_t)w;

    x ^= x >> 17;
    x *= (uintptr_t)0x9e3779b97f4a7c15ull;
    return (size_t)(x >> 7) & (cap - 1);
}

static struct wrec **set_slot(const evsig_watcher *w)
{
    if (!dispatch.setcap)
        return NULL;
    for (size_t i = slot_hash(w, dispatch.setcap);;
         i = (i + 1) & (dispatch.setcap - 1)) {
        if (!dispatch.set[i])
            return NULL;
        if (dispatch.set[i]->w == w)
            return &dispatch.set[i];
    }
}

static struct wrec *set_find(const evsig_watcher *w)
{
    struct wrec **slot = set_slot(w);

    return slot ? *slot : NULL;
}

static void set_put(struct wrec **set, size_t cap, struct wrec *r)
{
    size_t i = slot_hash(r->w, cap);

    while (set[i])
        i = (i + 1) & (cap - 1);
    set[i] = r;
}

/* Room for one more, keeping the load at most one half. */
static int set_reserve(void)
{
    struct wrec **set;
    size_t cap;

    if ((dispatch.setcount + 1) * 2 <= dispatch.setcap)
        return 0;
    cap = dispatch.setcap ? dispatch.setcap * 2 : 16;
    set = calloc(cap, sizeof(*set));
    if (!set)
        return -ENOMEM;
    for (size_t i = 0; i < dispatch.setcap; i++)
        if (dispatch.set[i])
            set_put(set, cap, dispatch.set[i]);
    free(dispatch.set);
    dispatch.set = set;
    dispatch.setcap = cap;
    return 0;
}

/* Remove by backward shifting, so lookups never need tombstones. */
static void set_del(struct wrec **slot)
{
    size_t mask = dispatch.setcap - 1;
    size_t hole = (size_t)(slot - dispatch.set);

    for (size_t i = (hole + 1) & mask; dispatch.set[i]; i = (i + 1) & mask) {
        size_t home = slot_hash(dispatch.set[i]->w, dispatch.setcap);

        /* Move it into the hole unless its home lies cyclically in
         * (hole, i]: then it is still reachable without passing the hole. */
        if (((i - home) & mask) >= ((i - hole) & mask)) {
            dispatch.set[hole] = dispatch.set[i];
            hole = i;
        }
    }
    dispatch.set[hole] = NULL;
    dispatch.setcount--;
}

/* --- loop records --------------------------------------------------------- */

static struct lrec *lrec_find(struct ev_loop *loop)
{
    for (unsigned i = 0; i < dispatch.nloops; i++)
        if (dispatch.loops[i]->wake.loop == loop)
            return dispatch.loops[i];
    return NULL;
}

static struct lsig *lsig_find(const struct lrec *lr, int signum)
{
    for (unsigned i = 0; i < lr->nsig; i++)
        if (lr->sig[i]->signum == signum)
            return lr->sig[i];
    return NULL;
}

static void free_lrec(struct lrec *lr)
{
    free(lr->sig);
    free(lr);
}

/* Publish the set of loops to wake: every record in dispatch.loops.
 * Returns 0 or -ENOMEM (then the published set is unchanged). */
static int publish_wakes(void)
{
    struct evsig__wakeset *set = NULL, *old;

    if (dispatch.nloops) {
        set = malloc(sizeof(*set) + dispatch.nloops * sizeof(set->v[0]));
        if (!set)
            return -ENOMEM;
        set->n = dispatch.nloops;
        for (unsigned i = 0; i < dispatch.nloops; i++)
            set->v[i] = &dispatch.loops[i]->wake;
    }
    old = evsig__catch_set_wakes(set);
    evsig__core_quiesce();
    free(old);
    return 0;
}

/* The record of @loop, made if needed; its ev_async starts at the commit
 * of its first owner (lrec_start()), which must not make libev open an fd
 * it cannot: checked here. */
static int lrec_get(struct ev_loop *loop, struct lrec **out)
{
    struct lrec *lr = lrec_find(loop), **loops;
    int r;

    if (!lr || !lr->started) {
        r = evsig__core_evpipe_ready(loop, false, false);
        if (r < 0)
            return r;
    }
    if (lr) {
        lr->stale = false;
        *out = lr;
        return 0;
    }
    if (dispatch.nloops == dispatch.caploops) {
        unsigned cap = dispatch.caploops ? dispatch.caploops * 2 : 4;

        loops = realloc(dispatch.loops, cap * sizeof(*loops));
        if (!loops)
            return -ENOMEM;
        dispatch.loops = loops;
        dispatch.caploops = cap;
    }
    lr = calloc(1, sizeof(*lr));
    if (!lr)
        return -ENOMEM;
    lr->wake.loop = loop;
    dispatch.loops[dispatch.nloops++] = lr;
    r = publish_wakes();
    if (r < 0) {
        dispatch.nloops--;
        free(lr);
        return r;
    }
    *out = lr;
    return 0;
}

/* At the commit of @lr's first owner: its ev_async starts. Not before: the
 * first ev_async of a loop makes libev open the loop's wake-up fd, which a
 * call that fails later must not leave behind. The ev_async is not work:
 * watchers keep the loop alive. */
static void lrec_start(struct lrec *lr)
{
    if (lr->started)
        return;
    ev_async_init(&lr->wake.async, wake_cb);
    lr->wake.async.data = lr;
    ev_async_start(lr->wake.loop, &lr->wake.async);
    ev_unref(lr->wake.loop);
    lr->started = true;
}

static void lrec_detach(struct lrec *lr)
{
    for (unsigned i = 0; i < dispatch.nloops; i++) {
        if (dispatch.loops[i] == lr) {
            dispatch.loops[i] = dispatch.loops[--dispatch.nloops];
            return;
        }
    }
}

static void lrec_stop(struct lrec *lr)
{
    if (lr->started) {
        ev_ref(lr->wake.loop);
        ev_async_stop(lr->wake.loop, &lr->wake.async);
        lr->started = false;
    }
}

/* @lr serves nothing any more. On its own thread, stop its ev_async and
 * free it (once no frame uses it); from another thread, leave that to the
 * loop's thread: retire it and wake the loop. */
static void lrec_drop(struct lrec *lr, bool own_thread)
{
    lrec_detach(lr);
    if (publish_wakes() < 0) {
        /* Cannot shrink the published set: leave the record in it for the
         * handler to read (it serves nothing, so nobody sends to it) and
         * let the loop's thread free it later -- or, never started, the
         * next call that needs it, or evsig_reset(). */
        dispatch.loops[dispatch.nloops++] = lr;
        lr->stale = true;
        if (lr->started)
            ev_async_send(lr->wake.loop, &lr->wake.async);
        return;
    }
    if (!lr->started) {
        free_lrec(lr);      /* no ev_async, so no frame and no loop to ask */
        return;
    }
    if (!own_thread) {
        lr->next = dispatch.retiring;
        dispatch.retiring = lr;
        ev_async_send(lr->wake.loop, &lr->wake.async);
        return;
    }
    lrec_stop(lr);
    if (lr->frames) {
        lr->gone = true;
        lr->next = dispatch.gone_loops;
        dispatch.gone_loops = lr;
    } else {
        free_lrec(lr);
    }
}

static bool is_retiring(const struct lrec *lr)
{
    for (const struct lrec *r = dispatch.retiring; r; r = r->next)
        if (r == lr)
            return true;
    return false;
}

static void unlink_retiring(struct lrec *lr)
{
    for (struct lrec **p = &dispatch.retiring; *p; p = &(*p)->next) {
        if (*p == lr) {
            *p = lr->next;
            return;
        }
    }
}

/* A call naming @loop: a record of it still retiring belongs either to
 * this very loop or to a destroyed one whose address was reused; evsig
 * cannot tell, so it never touches that ev_async again. */
static void bury_retired(struct ev_loop *loop)
{
    for (struct lrec **p = &dispatch.retiring; *p;) {
        struct lrec *lr = *p;

        if (lr->wake.loop == loop) {
            *p = lr->next;
            lr->next = dispatch.graveyard;
            lr->buried = true;
            dispatch.graveyard = lr;
        } else {
            p = &lr->next;
        }
    }
}

/* --- subscriptions --------------------------------------------------------- */

static unsigned owners_on(const struct lsig *ls)
{
    return ls->n + ls->nwaits + (ls->table ? 1 : 0);
}

/* The subscription of @signum on @loop, made if needed (not yet reading:
 * see subscribe()). */
static int lsig_get(struct ev_loop *loop, int signum, struct lsig **out)
{
    struct lrec *lr;
    struct lsig *ls, **v;
    int r;

    bury_retired(loop);
    if (!dispatch.rings[signum]) {
        struct evsig__ring *ring = evsig__ring_new();

        if (!ring)
            return -ENOMEM;
        dispatch.rings[signum] = ring;
        evsig__catch_set_ring(signum, ring);
    }
    r = lrec_get(loop, &lr);
    if (r < 0)
        return r;
    ls = lsig_find(lr, signum);
    if (ls) {
        *out = ls;
        return 0;
    }
    if (lr->nsig == lr->capsig) {
        unsigned cap = lr->capsig ? lr->capsig * 2 : 4;

        v = realloc(lr->sig, cap * sizeof(*v));
        if (!v)
            goto fail;
        lr->sig = v;
        lr->capsig = cap;
    }
    ls = calloc(1, sizeof(*ls));
    if (!ls)
        goto fail;
    ls->lr = lr;
    ls->signum = signum;
    lr->sig[lr->nsig++] = ls;
    *out = ls;
    return 0;

fail:
    if (!lr->nsig)
        lrec_drop(lr, true);
    return -ENOMEM;
}

/* Forget a subscription that never got an owner (a failed start). */
static void lsig_abandon(struct lsig *ls)
{
    if (owners_on(ls) == 0)
        unsubscribe(ls, true);
}

/* Before its first owner: read from now on, and be woken. */
static void subscribe(struct lsig *ls)
{
    if (owners_on(ls))
        return;
    ls->cursor = evsig__ring_head(dispatch.rings[ls->signum]);
    ls->ibuf = ls->nbuf = 0;
    ls->lost = 0;
    ls->forkgen = evsig__forkgen();
    atomic_fetch_or(&ls->lr->wake.serves, EVSIG__BIT(ls->signum));
}

/* After its first owner was counted: claim the C handler. */
static void subscribed(struct lsig *ls)
{
    lrec_start(ls->lr);
    if (!ls->claimed) {
        ls->claimed = true;
        evsig__disp_claim(ls->signum);
    }
}

static void unlink_gone_sig(struct lsig *ls)
{
    for (struct lsig **p = &dispatch.gone_sigs; *p; p = &(*p)->next_gone) {
        if (*p == ls) {
            *p = ls->next_gone;
            return;
        }
    }
}

static void unlink_gone_loop(struct lrec *lr)
{
    for (struct lrec **p = &dispatch.gone_loops; *p; p = &(*p)->next) {
        if (*p == lr) {
            *p = lr->next;
            return;
        }
    }
}

/* A frame leaves @lr: free it if it was dropped meanwhile. */
static void lrec_leave(struct lrec *lr)
{
    if (--lr->frames == 0 && lr->gone) {
        unlink_gone_loop(lr);
        free_lrec(lr);
    }
}

/* After its last owner left. */
static void unsubscribe(struct lsig *ls, bool own_thread)
{
    struct lrec *lr = ls->lr;

    if (owners_on(ls))
        return;
    atomic_fetch_and(&lr->wake.serves, ~EVSIG__BIT(ls->signum));
    for (unsigned i = 0; i < lr->nsig; i++) {
        if (lr->sig[i] == ls) {
            lr->sig[i] = lr->sig[--lr->nsig];
            break;
        }
    }
    if (ls->claimed)
        evsig__disp_release(ls->signum);
    if (ls->frames) {
        ls->gone = true;
        ls->next_gone = dispatch.gone_sigs;
        dispatch.gone_sigs = ls;
    } else {
        free(ls->v);
        free(ls);
    }
    if (!lr->nsig)
        lrec_drop(lr, own_thread);
}

/* --- oneshot claims ------------------------------------------------------- */

/* Publish @signum's claims: the live ones, plus @add. On failure nothing
 * changes (-ENOMEM). Claims turned off are freed once unpublished. */
static int publish_claims(int signum, struct evsig__claim *add)
{
    struct evsig__claimset *set = NULL, *old;
    struct evsig__claim *dead = NULL, **p;
    unsigned n = add ? 1 : 0;

    for (struct evsig__claim *c = dispatch.claims[signum]; c; c = c->next)
        n += !atomic_load(&c->off);
    if (n) {
        set = malloc(sizeof(*set) + n * sizeof(set->v[0]));
        if (!set)
            return -ENOMEM;
        set->n = 0;
    }
    if (add) {
        add->next = dispatch.claims[signum];
        dispatch.claims[signum] = add;
    }
    for (p = &dispatch.claims[signum]; *p;) {
        struct evsig__claim *c = *p;

        if (atomic_load(&c->off)) {
            *p = c->next;
            c->next = dead;
            dead = c;
        } else {
            set->v[set->n++] = c;
            p = &c->next;
        }
    }
    old = evsig__catch_set_claims(signum, set);
    evsig__core_quiesce();
    free(old);
    while (dead) {
        struct evsig__claim *c = dead;

        dead = c->next;
        free(c);
    }
    return 0;
}

/* --- watchers ------------------------------------------------------------- */

static void array_remove(struct lsig *ls, const struct wrec *r)
{
    for (unsigned i = 0; i < ls->n; i++) {
        if (ls->v[i] == r) {
            memmove(&ls->v[i], &ls->v[i + 1],
                    (ls->n - i - 1) * sizeof(*ls->v));
            ls->n--;
            return;
        }
    }
    assert(!"a watcher record missing from its subscription");
}

/* Stop an active watcher. @from_dispatch: on its loop's thread in a
 * dispatch frame (no allocation there: a claim is only turned off). */
static void watcher_stop(struct wrec **slot, bool from_dispatch)
{
    struct wrec *r = *slot;
    struct lsig *ls = r->ls;
    int signum = ls->signum;

    if (r->claim) {
        atomic_store(&r->claim->off, true);
        evsig__catch_owners(signum, 0);
        if (!from_dispatch)
            (void)publish_claims(signum, NULL);   /* shrink if we can */
    } else {
        evsig__catch_owners(signum, -1);
    }
    set_del(slot);
    array_remove(ls, r);
    if (r->refd)
        ev_unref(ls->lr->wake.loop);
    free(r->fold);
    free(r);
    unsubscribe(ls, true);
}

int evsig__dispatch_watch(struct ev_loop *loop, evsig_watcher *w, int signum,
                          evsig_handler cb, void *data, int flags)
{
    struct evsig__claim *claim = NULL;
    struct fold *fold = NULL;
    struct wrec *r = NULL;
    struct lsig *ls;
    int err;

    if (set_find(w))
        return 0;   /* already active: libev's rule, a no-op */

    /* Prepare everything that can fail. */
    err = lsig_get(loop, signum, &ls);
    if (err < 0)
        return err;
    err = -ENOMEM;
    if (set_reserve() < 0)
        goto fail;
    if (ls->n == ls->cap) {
        unsigned cap = ls->cap ? ls->cap * 2 : 4;
        struct wrec **v = realloc(ls->v, cap * sizeof(*v));

        if (!v)
            goto fail;
        ls->v = v;
        ls->cap = cap;
    }
    r = calloc(1, sizeof(*r));
    if (!r)
        goto fail;
    if (flags & EVSIG_COALESCE) {
        fold = calloc(1, sizeof(*fold));
        if (!fold)
            goto fail;
        fold->called_iter = ls->lr->iter - 1;
    }
    subscribe(ls);
    if (flags & EVSIG_ONESHOT) {
        claim = calloc(1, sizeof(*claim));
        if (!claim)
            goto fail;
        claim->start_gen = evsig__catch_owners(signum, 0);
        if (publish_claims(signum, claim) < 0)
            goto fail;
    }

    /* Commit. */
    r->w = w;
    r->ls = ls;
    r->cb = cb;
    r->data = data;
    r->seq = ++dispatch.starts;
    r->flags = (uint16_t)flags;
    r->claim = claim;
    r->fold = fold;
    r->start_gen = claim ? claim->start_gen : evsig__catch_owners(signum, +1);
    w->evsig_private_cb = cb;
    w->evsig_private_data = data;
    set_put(dispatch.set, dispatch.setcap, r);
    dispatch.setcount++;
    ls->v[ls->n++] = r;
    subscribed(ls);
    if (!(flags & EVSIG_NOREF)) {
        ev_ref(loop);
        r->refd = true;
    }
    return 0;

fail:
    free(claim);
    free(fold);
    free(r);
    lsig_abandon(ls);
    return err;
}

EVSIG_PUBLIC int evsig_watch(struct ev_loop *loop, evsig_watcher *w,
                             int signum, evsig_handler cb, void *data,
                             int flags)
{
    sigset_t saved;
    int r;

    if (!loop || !w || cb == EVSIG_DFL || cb == EVSIG_IGN || cb == EVSIG_NONE)
        return evsig__fail(-EINVAL);
    if (evsig__check_signum(signum) < 0 || signum == SIGKILL ||
        signum == SIGSTOP || (flags & ~EVSIG_FLAGS_WATCH))
        return evsig__fail(-EINVAL);

    evsig__lock(&saved);
    evsig__disp_meet_default_loop();
    r = evsig__dispatch_watch(loop, w, signum, cb, data, flags);
    evsig__unlock(&saved);
    return r < 0 ? evsig__fail(r) : 0;
}

void evsig__dispatch_unwatch(evsig_watcher *w)
{
    struct wrec **slot = set_slot(w);

    if (slot)
        watcher_stop(slot, false);
}

EVSIG_PUBLIC int evsig_unwatch(evsig_watcher *w)
{
    sigset_t saved;

    if (!w)
        return evsig__fail(-EINVAL);
    evsig__lock(&saved);
    evsig__dispatch_unwatch(w);
    evsig__unlock(&saved);
    return 0;
}

EVSIG_PUBLIC int evsig_is_active(const evsig_watcher *w)
{
    sigset_t saved;
    int r;

    if (!w)
        return 0;
    evsig__lock(&saved);
    r = set_find(w) ? 1 : 0;
    evsig__unlock(&saved);
    return r;
}

static int set_ref(evsig_watcher *w, bool ref)
{
    struct wrec *r;
    sigset_t saved;

    if (!w)
        return evsig__fail(-EINVAL);
    evsig__lock(&saved);
    r = set_find(w);
    if (r && r->refd != ref) {
        if (ref)
            ev_ref(r->ls->lr->wake.loop);
        else
            ev_unref(r->ls->lr->wake.loop);
        r->refd = ref;
    }
    evsig__unlock(&saved);
    return r ? 0 : evsig__fail(-EINVAL);
}

EVSIG_PUBLIC int evsig_ref(evsig_watcher *w)
{
    return set_ref(w, true);
}

EVSIG_PUBLIC int evsig_unref(evsig_watcher *w)
{
    return set_ref(w, false);
}

/* --- the table callback's binding ----------------------------------------- */

int evsig__dispatch_table(int signum, struct ev_loop *loop, evsig_handler cb,
                          void *data, bool skip_watched)
{
    struct lsig *old = dispatch.table[signum], *ls;
    int r;

    if (cb) {
        r = lsig_get(loop, signum, &ls);
        if (r < 0)
            return r;
        /* Bind the new one before unbinding the old, so the claim on the
         * C handler never drops to zero in between. */
        if (old == ls) {
            ls->tgen = evsig__catch_owners(signum, 0);
        } else {
            subscribe(ls);
            ls->tgen = evsig__catch_owners(signum, +1);
            ls->table = true;
            subscribed(ls);
        }
        ls->tcb = cb;
        ls->tdata = data;
        ls->tskip = skip_watched;
        dispatch.table[signum] = ls;
    } else {
        dispatch.table[signum] = NULL;
    }
    if (old && old != dispatch.table[signum]) {
        evsig__catch_owners(signum, -1);
        old->table = false;
        unsubscribe(old, old->lr->wake.loop == calling_loop ||
                         old->lr->wake.loop == loop);
    }
    return 0;
}

void evsig__dispatch_set_sigchld_filter(bool (*reported)(pid_t pid))
{
    if (dispatch.reported != reported)   /* each fork: no page written */
        dispatch.reported = reported;
}

/* --- dispatch ------------------------------------------------------------- */

static bool owns(uint32_t start_gen, const struct evsig__delivery *d)
{
    return evsig__gen_le(start_gen, d->owner_gen);
}

/* The innermost wait on the loop that owns @d, if any. */
static struct wait *wait_for_delivery(struct lrec *lr,
                                      const struct evsig__delivery *d)
{
    for (struct wait *wt = lr->waits; wt; wt = wt->outer)
        if (wt->owning && !wt->done && sigismember(&wt->set, d->info.signo) &&
            owns(wt->gen[d->info.signo], d))
            return wt;
    return NULL;
}

static void wait_disown(struct wait *wt, struct lrec *lr, bool own_thread);

/* Fill the read-ahead from the ring; false if nothing is there. */
static bool refill(struct lsig *ls)
{
    struct evsig__ring *ring = dispatch.rings[ls->signum];

    ls->ibuf = ls->nbuf = 0;
    while (ls->nbuf < READ_AHEAD &&
           evsig__ring_read(ring, &ls->cursor, &ls->buf[ls->nbuf], &ls->lost))
        ls->nbuf++;
    return ls->nbuf > 0;
}

/* Whether a coalescing watcher owns read-ahead entry @i; a wait would
 * consume the first entry it owns ahead of everyone (simulated with
 * @taken, one bit per wait, innermost first). */
static bool fold_owns(struct lsig *ls, const struct wrec *r, unsigned i,
                      unsigned *taken)
{
    const struct evsig__delivery *d = &ls->buf[i];
    unsigned bit = 1;

    for (struct wait *wt = ls->lr->waits; wt && bit; wt = wt->outer, bit <<= 1)
        if (!(*taken & bit) && wt->owning && !wt->done &&
            sigismember(&wt->set, ls->signum) &&
            owns(wt->gen[ls->signum], d)) {
            *taken |= bit;
            return false;
        }
    return owns(r->start_gen, d);
}

/* Fold the deliveries a coalescing watcher owns from read-ahead entry
 * @from on into its pending fold. */
static void fold_ahead(struct lsig *ls, struct wrec *r, unsigned from)
{
    struct fold *f = r->fold;
    unsigned taken = 0;

    for (unsigned i = from; i < ls->nbuf; i++) {
        if (!fold_owns(ls, r, i, &taken))
            continue;
        f->merged++;
        f->lost += ls->buf[i].lost;
        f->newest = ls->buf[i].info;
    }
    f->upto = ls->nbuf ? ls->buf[ls->nbuf - 1].pos + 1 : f->upto;
}

/* Call a user callback unlocked. Returns false if the frame must stop:
 * evsig_reset() ran meanwhile (then nothing the frame holds may be
 * touched: see stopped_by_reset()), or the callback forked and this is the
 * child (what the frame still holds was caught in the parent, and is
 * dispatched there only). */
static bool call(struct ev_loop *loop, evsig_handler cb, void *data,
                 const evsig_info *info, unsigned epoch, bool internal)
{
    struct ev_loop *outer = calling_loop;
    unsigned fgen = evsig__forkgen();

    calling_loop = loop;
    evsig__unlock_loop();
    if (!internal)
        evsig__core_note_handler();
    cb(loop, info, data);
    evsig__lock_loop();
    calling_loop = outer;
    return evsig__core_epoch() == epoch && evsig__forkgen() == fgen;
}

/* The next watcher after start order @after, or NULL. */
static struct wrec *next_watcher(const struct lsig *ls, uint64_t after)
{
    unsigned lo = 0, hi = ls->n;

    while (lo < hi) {
        unsigned mid = (lo + hi) / 2;

        if (ls->v[mid]->seq <= after)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < ls->n ? ls->v[lo] : NULL;
}

/* Call a coalescing watcher with what it has folded. */
static bool call_fold(struct lsig *ls, struct wrec *r, unsigned epoch)
{
    struct fold *f = r->fold;
    evsig_info info = f->newest;
    evsig_handler cb = r->cb;
    void *data = r->data;
    bool internal = r->flags & EVSIG__INTERNAL;

    info.merged = f->merged;
    info.lost = f->lost;
    f->merged = f->lost = 0;
    f->called_iter = ls->lr->iter;
    if (r->flags & EVSIG_ONESHOT)
        watcher_stop(set_slot(r->w), true);   /* frees @r */
    return call(ls->lr->wake.loop, cb, data, &info, epoch, internal);
}

/* A oneshot's claimed delivery whose ring entry was lost (lapped): it is
 * kept with the watcher, so call it now. */
static bool flush_orphans(struct lsig *ls, uint64_t before, unsigned epoch)
{
    for (uint64_t after = 0;;) {
        struct wrec *r = next_watcher(ls, after);
        evsig_info info;

        if (!r)
            return true;
        after = r->seq;
        if (!r->claim || !atomic_load_explicit(&r->claim->filled,
                                               memory_order_acquire) ||
            atomic_load(&r->claim->taken) - 1 >= before)
            continue;
        evsig_handler cb = r->cb;
        void *data = r->data;
        bool internal = r->flags & EVSIG__INTERNAL;

        info = r->claim->info;
        watcher_stop(set_slot(r->w), true);   /* frees @r */
        if (!call(ls->lr->wake.loop, cb, data, &info, epoch, internal) ||
            ls->gone)
            return false;
    }
}

/* Dispatch read-ahead entry @i. Returns false if the frame must stop. */
static bool deliver(struct lsig *ls, unsigned i, unsigned epoch)
{
    struct lrec *lr = ls->lr;
    struct ev_loop *loop = lr->wake.loop;
    struct evsig__delivery d = ls->buf[i];
    evsig_info info = d.info;
    struct wait *wt;

    ls->lost += d.lost;
    info.lost = ls->lost;

    wt = wait_for_delivery(lr, &d);
    if (wt) {
        wt->info = info;
        wt->done = true;
        ls->lost = 0;
        wait_disown(wt, lr, true);
        return !ls->gone;
    }

    if (ls->table && owns(ls->tgen, &d) &&
        !(ls->tskip && (d.watched ||
                        (dispatch.reported && dispatch.reported(d.info.pid))))) {
        ls->lost = 0;
        if (!call(loop, ls->tcb, ls->tdata, &info, epoch, false) || ls->gone)
            return false;
    }

    for (uint64_t after = 0;;) {
        struct wrec *r = next_watcher(ls, after);

        if (!r)
            break;
        after = r->seq;
        if (r->claim) {
            uint64_t taken = atomic_load(&r->claim->taken);

            if (taken != d.pos + 1 ||
                !atomic_load_explicit(&r->claim->filled, memory_order_acquire))
                continue;
        } else if (!owns(r->start_gen, &d)) {
            continue;
        }
        ls->lost = 0;
        if (r->fold) {
            struct fold *f = r->fold;

            if (d.pos < f->upto)
                continue;   /* folded into its call of this iteration */
            if (f->called_iter == lr->iter) {
                /* Called this iteration: fold into the next call. */
                f->merged++;
                f->lost += info.lost;
                f->newest = d.info;
                continue;
            }
            f->merged++;
            f->lost += info.lost;
            f->newest = d.info;
            if (!r->claim)   /* a oneshot owns its one delivery only */
                fold_ahead(ls, r, i + 1);
            if (!call_fold(ls, r, epoch) || ls->gone)
                return false;
            continue;
        }
        evsig_handler cb = r->cb;
        void *data = r->data;
        bool internal = r->flags & EVSIG__INTERNAL;

        if (r->flags & EVSIG_ONESHOT)
            watcher_stop(set_slot(r->w), true);   /* frees @r */
        if (!call(loop, cb, data, &info, epoch, internal) || ls->gone)
            return false;
    }
    return true;
}

/* Coalescing watchers with deliveries folded for a later iteration: call
 * those whose iteration has come, in start order; true if any must wait
 * for the next one. */
static bool flush_folds(struct lsig *ls, unsigned epoch, bool *stop)
{
    bool later = false;

    for (uint64_t after = 0;;) {
        struct wrec *r = next_watcher(ls, after);

        if (!r)
            break;
        after = r->seq;
        if (!r->fold || !r->fold->merged)
            continue;
        if (r->fold->called_iter == ls->lr->iter) {
            later = true;
            continue;
        }
        if (!call_fold(ls, r, epoch) || ls->gone) {
            *stop = true;
            return later;
        }
    }
    return later;
}

/* In a child of fork(), what a subscription read or folded in the parent,
 * and the oneshot claims a parent's delivery took, are the parent's: drop
 * them at the first use here (not at fork time: a forked child that never
 * dispatches never writes, so never copies, these pages). */
static void fresh(struct lsig *ls)
{
    unsigned fgen = evsig__forkgen();

    if (ls->forkgen == fgen)
        return;
    ls->forkgen = fgen;
    ls->ibuf = ls->nbuf = 0;
    ls->lost = 0;
    for (unsigned i = 0; i < ls->n; i++) {
        struct wrec *r = ls->v[i];

        if (r->fold) {
            r->fold->merged = r->fold->lost = 0;
            r->fold->upto = 0;
        }
        if (r->claim && atomic_load(&r->claim->filled) &&
            r->claim->forkgen != fgen) {
            atomic_store(&r->claim->filled, false);
            atomic_store(&r->claim->taken, 0);   /* armed again here */
        }
    }
}

/* Dispatch what @ls has up to ring position @limit (what was there when
 * the wakeup began: newer deliveries wait for the next iteration, so one
 * signal cannot starve the loop). Returns false if the frame must stop
 * (evsig_reset() ran). */
static bool dispatch_sig(struct lsig *ls, uint64_t limit, unsigned epoch,
                         bool *again)
{
    bool ok = true, stop = false;

    fresh(ls);
    ls->frames++;
    for (;;) {
        if (ls->ibuf == ls->nbuf && !refill(ls))
            break;
        if (ls->buf[ls->ibuf].pos >= limit) {
            *again = true;
            break;
        }
        unsigned i = ls->ibuf++;

        if (!flush_orphans(ls, ls->buf[i].pos, epoch) ||
            !deliver(ls, i, epoch)) {
            ok = evsig__core_epoch() == epoch;
            stop = true;
            break;
        }
    }
    if (!stop) {
        /* Claims whose delivery was lost before what is left to read. */
        uint64_t before = ls->ibuf < ls->nbuf ? ls->buf[ls->ibuf].pos
                                              : ls->cursor;

        if (!flush_orphans(ls, before, epoch))
            stop = true;
        else if (flush_folds(ls, epoch, &stop))
            *again = true;
        ok = evsig__core_epoch() == epoch;
    }
    if (!ok)
        return false;   /* reset: @ls is gone */
    if (--ls->frames == 0 && ls->gone) {
        unlink_gone_sig(ls);
        free(ls->v);
        free(ls);
    }
    return true;
}

static void retire_now(struct lrec *lr)
{
    unlink_retiring(lr);
    lrec_stop(lr);
    free_lrec(lr);
}

static void wake_cb(struct ev_loop *loop, ev_async *a, int revents)
{
    struct lrec *lr = a->data;
    unsigned epoch = evsig__core_epoch();
    bool again = false;
    uint64_t bits;
    (void)revents;

    evsig__lock_loop();
    if (lr->buried) {
        /* Its ev_async fired, so its loop is alive after all, and this is
         * its thread: now it can be stopped and freed. */
        for (struct lrec **p = &dispatch.graveyard; *p; p = &(*p)->next) {
            if (*p == lr) {
                *p = lr->next;
                break;
            }
        }
        lrec_stop(lr);
        free_lrec(lr);
        evsig__unlock_loop();
        return;
    }
    if (lr->stale && !lr->nsig && !lr->frames) {
        /* Left in the published set by a failed shrink: try again. */
        lr->stale = false;
        lrec_drop(lr, true);
        evsig__unlock_loop();
        return;
    }
    if (is_retiring(lr)) {
        retire_now(lr);
        evsig__unlock_loop();
        return;
    }
    unsigned fgen = evsig__forkgen();

    lr->iter++;
    lr->frames++;
    bits = atomic_exchange_explicit(&lr->wake.pending, 0, memory_order_acquire);
    while (bits && evsig__forkgen() == fgen) {
        int signum = __builtin_ctzll(bits) + 1;
        struct lsig *ls = lsig_find(lr, signum);

        bits &= bits - 1;
        if (!ls)
            continue;
        uint64_t limit = evsig__ring_head(dispatch.rings[signum]);

        if (!dispatch_sig(ls, limit, epoch, &again)) {
            evsig__unlock_loop();
            return;   /* evsig_reset(): everything is gone */
        }
        if (again) {
            atomic_fetch_or(&lr->wake.pending, EVSIG__BIT(signum));
            again = false;
            ev_async_send(loop, &lr->wake.async);
        }
    }
    lrec_leave(lr);
    evsig__unlock_loop();
    evsig__dispatch_report();
}

void evsig__dispatch_report(void)
{
    bool full;
    int err, fd;

    evsig__catch_wakeup_trouble(&full, &err, &fd);
    if (full)
        fprintf(stderr, "evsig: wakeup fd %d is full: signal bytes were lost\n",
                evsig__catch_wakeup_fd());
    if (err)
        fprintf(stderr, "evsig: cannot write to wakeup fd %d: %s (%s)\n",
                fd, strerror(err), strerrorname_np(err) ? strerrorname_np(err)
                                                        : "?");
}

/* --- cooperative waits ---------------------------------------------------- */

static void wait_timeout_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)loop;
    (void)revents;
    *(bool *)t->data = true;
}

/* The wait stops owning its signals (satisfied, timed out, or failed to
 * start after @upto). */
static void wait_release(struct wait *wt, struct lrec *lr, int upto,
                         bool own_thread)
{
    for (int signum = 1; signum < upto; signum++) {
        struct lsig *ls;

        if (!sigismember(&wt->set, signum))
            continue;
        ls = lsig_find(lr, signum);
        assert(ls && ls->nwaits);
        if (!ls)
            continue;
        evsig__catch_owners(signum, -1);
        ls->nwaits--;
        unsubscribe(ls, own_thread);
    }
}

static void wait_disown(struct wait *wt, struct lrec *lr, bool own_thread)
{
    if (!wt->owning)
        return;
    wt->owning = false;
    lr->frames++;   /* keep @lr while its subscriptions go */
    wait_release(wt, lr, NSIG, own_thread);
    lrec_leave(lr);
}

static int check_set(const sigset_t *set)
{
    bool any = false;

    for (int signum = 1; signum < NSIG; signum++) {
        if (!sigismember(set, signum))
            continue;
        if (evsig__check_signum(signum) < 0 || signum == SIGKILL ||
            signum == SIGSTOP)
            return -EINVAL;
        any = true;
    }
    return any ? 0 : -EINVAL;
}

/* Register @wt as an owner of every signal of its set on its loop, whose
 * record goes to *@lrp. Every subscription is made before the first is
 * committed, so a failure (-ENOMEM) leaves nothing started. */
static int wait_own(struct wait *wt, struct lrec **lrp)
{
    struct lsig *got[NSIG] = { NULL }, *ls;
    struct lrec *lr = NULL;
    int r;

    for (int signum = 1; signum < NSIG; signum++) {
        if (!sigismember(&wt->set, signum))
            continue;
        r = lsig_get(wt->loop, signum, &got[signum]);
        if (r < 0) {
            /* Abandoning the last one frees the loop's record: ask again. */
            for (int s = 1; s < signum && (lr = lrec_find(wt->loop)); s++)
                if (got[s] && (ls = lsig_find(lr, s)))
                    lsig_abandon(ls);
            return r;
        }
        lr = got[signum]->lr;
    }
    for (int signum = 1; signum < NSIG; signum++) {
        if (!(ls = got[signum]))
            continue;
        subscribe(ls);
        wt->gen[signum] = evsig__catch_owners(signum, +1);
        ls->nwaits++;
        subscribed(ls);
    }
    wt->owning = true;
    *lrp = lr;
    return 0;
}

/* Returns the signal number, 0 on timeout, or -Exxx. @timeout < 0: none. */
static int wait_run(struct ev_loop *loop, const sigset_t *set,
                    evsig_info *info, double timeout)
{
    int saved_errno = errno;   /* the loop's callbacks may change it */
    struct wait wt;
    bool timed_out = false;
    ev_timer timer;
    sigset_t saved, oldmask;
    unsigned epoch;
    struct lrec *lr;
    int r;

    r = check_set(set);
    if (r < 0)
        return r;
    memset(&wt, 0, sizeof(wt));
    wt.loop = loop;
    wt.set = *set;

    evsig__lock(&saved);
    evsig__disp_meet_default_loop();
    epoch = evsig__core_epoch();
    r = wait_own(&wt, &lr);
    if (r < 0) {
        evsig__unlock(&saved);
        return r;
    }
    wt.outer = lr->waits;
    lr->waits = &wt;
    evsig__unlock(&saved);

    /* A signal of the set that this thread blocks would never reach the
     * handler: unblock it for the wait, as sigwait() takes blocked ones. */
    pthread_sigmask(SIG_UNBLOCK, set, &oldmask);

    ev_ref(loop);
    if (timeout >= 0) {
        ev_now_update(loop);
        ev_timer_init(&timer, wait_timeout_cb, timeout, 0.);
        timer.data = &timed_out;
        ev_timer_start(loop, &timer);
    }
    while (!wt.done && !timed_out && epoch == evsig__core_epoch())
        ev_run(loop, EVRUN_ONCE);
    if (timeout >= 0)
        ev_timer_stop(loop, &timer);
    ev_unref(loop);
    pthread_sigmask(SIG_SETMASK, &oldmask, NULL);

    evsig__lock(&saved);
    if (epoch != evsig__core_epoch()) {
        /* evsig_reset() dropped the waits and their subscriptions. */
        evsig__unlock(&saved);
        return -EINTR;
    }
    /* The wait's loop record lives while the wait owns; once it stopped
     * owning, look it up again. */
    lr = lrec_find(loop);
    if (lr) {
        for (struct wait **p = &lr->waits; *p; p = &(*p)->outer) {
            if (*p == &wt) {
                *p = wt.outer;
                break;
            }
        }
        wait_disown(&wt, lr, true);
    }
    evsig__unlock(&saved);
    errno = saved_errno;
    if (!wt.done)
        return 0;
    if (info)
        *info = wt.info;
    return wt.info.signo;
}

EVSIG_PUBLIC int evsig_sigwait(struct ev_loop *loop, const sigset_t *set,
                               int *sig)
{
    int r;

    if (!loop || !set || !sig)
        return evsig__fail(-EINVAL);
    r = wait_run(loop, set, NULL, -1);
    if (r < 0)
        return evsig__fail(r);
    *sig = r;
    return 0;
}

EVSIG_PUBLIC int evsig_sigwaitinfo(struct ev_loop *loop, const sigset_t *set,
                                   evsig_info *info)
{
    int r;

    if (!loop || !set || !info)
        return evsig__fail(-EINVAL);
    r = wait_run(loop, set, info, -1);
    return r < 0 ? evsig__fail(r) : r;
}

EVSIG_PUBLIC int evsig_sigtimedwait(struct ev_loop *loop, const sigset_t *set,
                                    evsig_info *info, double timeout)
{
    int r;

    if (!loop || !set || !info || !(timeout >= 0))
        return evsig__fail(-EINVAL);
    r = wait_run(loop, set, info, timeout);
    return r < 0 ? evsig__fail(r) : r;
}

EVSIG_PUBLIC int evsig_pause(struct ev_loop *loop)
{
    unsigned long before = evsig__core_handlers_ran();
    unsigned epoch = evsig__core_epoch();
    int saved_errno = errno;

    if (!loop)
        return evsig__fail(-EINVAL);
    ev_ref(loop);
    while (evsig__core_handlers_ran() == before &&
           epoch == evsig__core_epoch())
        ev_run(loop, EVRUN_ONCE);
    ev_unref(loop);
    if (evsig__core_handlers_ran() == before)
        return evsig__fail(-EINTR);
    errno = saved_errno;
    return 0;
}

/* --- reset ---------------------------------------------------------------- */

static void free_lsig(struct lsig *ls, struct ev_loop *loop)
{
    for (unsigned i = 0; i < ls->n; i++) {
        struct wrec *r = ls->v[i];

        if (r->refd && loop)
            ev_unref(loop);
        free(r->fold);
        free(r);
    }
    free(ls->v);
    free(ls);
}

void evsig__dispatch_reset(void)
{
    struct evsig__wakeset *wakes;
    struct evsig__claimset *sets[NSIG];
    struct evsig__ring *rings[NSIG];

    /* Withdraw everything the C handler reads first; free once none runs. */
    wakes = evsig__catch_set_wakes(NULL);
    for (int signum = 1; signum < NSIG; signum++) {
        sets[signum] = evsig__catch_set_claims(signum, NULL);
        rings[signum] = dispatch.rings[signum];
        if (rings[signum])
            evsig__catch_set_ring(signum, NULL);
        evsig__catch_owners(signum, -(int)evsig__catch_nowners(signum));
    }
    evsig__core_quiesce();

    /* Loop references held by watchers, and the ev_asyncs, from evsig's own
     * records: a caller's watcher may already be gone. Frames still on the
     * stack (a reset from a callback) see the epoch change and touch
     * nothing. */
    for (unsigned i = 0; i < dispatch.nloops; i++) {
        struct lrec *lr = dispatch.loops[i];

        for (unsigned j = 0; j < lr->nsig; j++)
            free_lsig(lr->sig[j], lr->wake.loop);
        lrec_stop(lr);
        free_lrec(lr);
    }
    while (dispatch.gone_sigs) {
        struct lsig *ls = dispatch.gone_sigs;

        dispatch.gone_sigs = ls->next_gone;
        free_lsig(ls, NULL);
    }
    while (dispatch.gone_loops) {
        struct lrec *lr = dispatch.gone_loops;

        dispatch.gone_loops = lr->next;
        free_lrec(lr);
    }
    /* Retiring records may belong to destroyed loops: never touch them. */
    while (dispatch.retiring) {
        struct lrec *lr = dispatch.retiring;

        dispatch.retiring = lr->next;
        lr->next = dispatch.graveyard;
        lr->buried = true;
        dispatch.graveyard = lr;
    }
    for (int signum = 1; signum < NSIG; signum++) {
        while (dispatch.claims[signum]) {
            struct evsig__claim *c = dispatch.claims[signum];

            dispatch.claims[signum] = c->next;
            free(c);
        }
        free(sets[signum]);
        evsig__ring_free(rings[signum]);
    }
    free(wakes);
    free(dispatch.loops);
    free(dispatch.set);

    struct lrec *graveyard = dispatch.graveyard;
    bool (*reported)(pid_t) = dispatch.reported;

    memset(&dispatch, 0, sizeof(dispatch));
    dispatch.graveyard = graveyard;
    if (dispatch.reported != reported)   /* each fork: no page written */
        dispatch.reported = reported;
}

/* SPDX-License-Identifier: MIT */
/*
 * dispatch.c - per-loop dispatch, signal watchers, cooperative waits.
 *
 * The internal ev_signal of a bound signal calls evsig__dispatch_cb() on the
 * loop; it drains the signal's ring and hands each delivery, in order, to
 * the innermost cooperative wait that wants it (which consumes it), or else
 * to the table callback and then to every watcher active at that moment.
 *
 * Watchers live in two places: each signal's array, in start order, and
 * one set of active watcher addresses. The set is what decides whether a
 * watcher is active: the caller's struct is never read before evsig_watch()
 * fills it, so it may hold garbage.
 *
 * Callbacks may stop and start watchers, change the table or run the loop
 * recursively; so dispatch works on a snapshot of the watcher array and
 * re-checks each watcher against the set just before calling it.
 *
 * Waits (evsig_sigwait() and friends, evsig_pause()) run the loop with
 * EVRUN_ONCE until their condition holds. They hold a loop reference while
 * they run, so that ev_run() blocks instead of spinning when nothing else
 * keeps the loop alive.
 *
 * Context: the thread that runs the loop, or any thread while it is not
 * running (see evsig.h).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>

#include "evsig-private.h"

/* What evsig keeps of an active watcher in its own memory: enough to stop
 * it (and to reset everything) without reading the caller's struct. */
struct slot {
    const evsig_watcher *w;
    struct ev_loop      *loop;
    int                  signum;
    int                  flags;
    unsigned long        started;   /* start sequence number */
};

struct wait {
    struct ev_loop *loop;
    sigset_t        set;
    bool            done;
    evsig_info      info;
    struct wait    *outer;
};

static struct dispatch_state {
    struct slot *slots;      /* open addressing, linear probing */
    size_t       cap, count;
    unsigned long starts;    /* evsig_watch() calls that started a watcher */
    struct wait *waits;      /* innermost first */
} dispatch;

/* --- the set of active watchers ------------------------------------------ */

static size_t slot_hash(const evsig_watcher *w, size_t cap)
{
    uintptr_t x = (uintptr_t)w;

    x ^= x >> 17;
    x *= (uintptr_t)0x9e3779b97f4a7c15ull;
    return (size_t)(x >> 7) & (cap - 1);
}

static struct slot *set_find(const evsig_watcher *w)
{
    if (!dispatch.cap)
        return NULL;
    for (size_t i = slot_hash(w, dispatch.cap);; i = (i + 1) & (dispatch.cap - 1)) {
        if (dispatch.slots[i].w == w)
            return &dispatch.slots[i];
        if (!dispatch.slots[i].w)
            return NULL;
    }
}

static void set_put_unchecked(struct slot *slots, size_t cap,
                              const struct slot *slot)
{
    size_t i = slot_hash(slot->w, cap);

    while (slots[i].w)
        i = (i + 1) & (cap - 1);
    slots[i] = *slot;
}

/* Make room for one more, keeping the load at most one half. */
static int set_reserve(void)
{
    struct slot *slots;
    size_t cap;

    if ((dispatch.count + 1) * 2 <= dispatch.cap)
        return 0;
    cap = dispatch.cap ? dispatch.cap * 2 : 16;
    slots = calloc(cap, sizeof(*slots));
    if (!slots)
        return -ENOMEM;
    for (size_t i = 0; i < dispatch.cap; i++)
        if (dispatch.slots[i].w)
            set_put_unchecked(slots, cap, &dispatch.slots[i]);
    free(dispatch.slots);
    dispatch.slots = slots;
    dispatch.cap = cap;
    return 0;
}

/* Remove by backward shifting, so lookups never need tombstones. */
static void set_del(struct slot *slot)
{
    size_t mask = dispatch.cap - 1;
    size_t hole = (size_t)(slot - dispatch.slots);

    for (size_t i = (hole + 1) & mask; dispatch.slots[i].w; i = (i + 1) & mask) {
        size_t home = slot_hash(dispatch.slots[i].w, dispatch.cap);

        /* Move it into the hole unless its home lies cyclically in
         * (hole, i]: then it is still reachable without passing the hole. */
        if (((i - home) & mask) >= ((i - hole) & mask)) {
            dispatch.slots[hole] = dispatch.slots[i];
            hole = i;
        }
    }
    dispatch.slots[hole].w = NULL;
    dispatch.count--;
}

/* --- watcher arrays ------------------------------------------------------ */

static int array_reserve(struct evsig__sig *s)
{
    evsig_watcher **v;
    unsigned cap;

    if (s->nwatchers < s->capwatchers)
        return 0;
    cap = s->capwatchers ? s->capwatchers * 2 : 4;
    v = realloc(s->watchers, cap * sizeof(*v));
    if (!v)
        return -ENOMEM;
    s->watchers = v;
    s->capwatchers = cap;
    return 0;
}

static void array_remove(struct evsig__sig *s, const evsig_watcher *w)
{
    for (unsigned i = 0; i < s->nwatchers; i++) {
        if (s->watchers[i] == w) {
            memmove(&s->watchers[i], &s->watchers[i + 1],
                    (s->nwatchers - i - 1) * sizeof(*s->watchers));
            s->nwatchers--;
            return;
        }
    }
    abort();   /* the set and the arrays disagree: evsig's own bug */
}

static void watcher_stop(struct slot *slot)
{
    const evsig_watcher *w = slot->w;
    int signum = slot->signum, flags = slot->flags;
    struct ev_loop *loop = slot->loop;

    set_del(slot);
    array_remove(&evsig__sigs[signum], w);
    if (!(flags & EVSIG_NOREF))
        ev_unref(loop);
    evsig__table_sync(signum, loop);   /* unbinding cannot fail */
}

EVSIG_PUBLIC int evsig_watch(struct ev_loop *loop, evsig_watcher *w,
                             int signum, evsig_handler cb, void *data,
                             int flags)
{
    struct evsig__sig *s;
    struct slot *slot;
    int r;

    if (!loop || !w || cb == EVSIG_DFL || cb == EVSIG_IGN || cb == EVSIG_NONE)
        return evsig__fail(-EINVAL);
    if (evsig__check_signum(signum) < 0 || signum == SIGKILL ||
        signum == SIGSTOP || (flags & ~EVSIG_FLAGS_WATCH))
        return evsig__fail(-EINVAL);

    evsig__table_meet_default_loop();
    if (set_find(w))
        return 0;   /* already active: libev's rule, a no-op */

    r = evsig__table_check_loop(signum, loop);
    if (r < 0)
        return evsig__fail(r);

    /* Prepare everything that can fail before changing anything. */
    s = &evsig__sigs[signum];
    r = set_reserve();
    if (r == 0)
        r = array_reserve(s);
    if (r < 0)
        return evsig__fail(r);

    w->evsig_private_cb = cb;
    w->evsig_private_data = data;
    s->watchers[s->nwatchers++] = w;
    set_put_unchecked(dispatch.slots, dispatch.cap,
                      &(struct slot){ w, loop, signum, flags, ++dispatch.starts });
    dispatch.count++;

    r = evsig__table_sync(signum, loop);   /* binds on the first user */
    if (r < 0) {
        slot = set_find(w);
        set_del(slot);
        s->nwatchers--;
        return evsig__fail(r);
    }

    /* Commit point passed: the watcher is live. */
    if (!(flags & EVSIG_NOREF))
        ev_ref(loop);
    return 0;
}

EVSIG_PUBLIC int evsig_unwatch(evsig_watcher *w)
{
    struct slot *slot;

    if (!w)
        return evsig__fail(-EINVAL);
    slot = set_find(w);
    if (slot)
        watcher_stop(slot);
    return 0;
}

EVSIG_PUBLIC int evsig_is_active(const evsig_watcher *w)
{
    return w && set_find(w) ? 1 : 0;
}

void evsig__dispatch_reset(void)
{
    /* From evsig's own records only: a caller's watcher may already be
     * gone (a stack frame unwound by a failed test, say). */
    for (size_t i = 0; i < dispatch.cap; i++)
        if (dispatch.slots[i].w && !(dispatch.slots[i].flags & EVSIG_NOREF))
            ev_unref(dispatch.slots[i].loop);
    for (int signum = 1; signum < NSIG; signum++) {
        struct evsig__sig *s = &evsig__sigs[signum];

        free(s->watchers);
        s->watchers = NULL;
        s->nwatchers = s->capwatchers = 0;
    }
    free(dispatch.slots);
    dispatch.slots = NULL;
    dispatch.cap = dispatch.count = 0;
    dispatch.waits = NULL;   /* their frames notice the epoch change */
}

/* --- dispatch ------------------------------------------------------------ */

static bool consume_by_wait(struct ev_loop *loop, const evsig_info *info)
{
    for (struct wait *wt = dispatch.waits; wt; wt = wt->outer) {
        if (!wt->done && wt->loop == loop && sigismember(&wt->set, info->signo)) {
            wt->info = *info;
            wt->done = true;
            return true;
        }
    }
    return false;
}

static void deliver(struct ev_loop *loop, const evsig_info *info)
{
    int signum = info->signo;
    struct evsig__sig *s = &evsig__sigs[signum];
    evsig_watcher *small[16], **snap = small;
    /* Watchers started from here on, even at the address of one that a
     * callback just stopped, see the next delivery, not this one. */
    unsigned long horizon = dispatch.starts;
    unsigned n;

    if (consume_by_wait(loop, info))
        return;

    /* SIGCHLD's table entry is cooperative: child.c calls it per exit. */
    if (signum != SIGCHLD && evsig__table_has_cb(s)) {
        evsig__handlers_ran++;
        s->handler(loop, info, s->data);
    }

    n = s->nwatchers;
    if (!n)
        return;
    if (n > sizeof(small) / sizeof(small[0])) {
        snap = malloc(n * sizeof(*snap));
        if (!snap)
            abort();   /* cannot drop a delivery silently */
    }
    memcpy(snap, s->watchers, n * sizeof(*snap));

    for (unsigned i = 0; i < n; i++) {
        evsig_watcher *w = snap[i];
        struct slot *slot = set_find(w);

        /* Stopped, or restarted, by an earlier callback. */
        if (!slot || slot->signum != signum || slot->started > horizon ||
            slot->loop != loop)
            continue;
        if (slot->flags & EVSIG_ONESHOT)
            watcher_stop(slot);
        evsig__handlers_ran++;
        w->evsig_private_cb(loop, info, w->evsig_private_data);
    }
    if (snap != small)
        free(snap);
}

void evsig__dispatch_cb(struct ev_loop *loop, ev_signal *evw, int revents)
{
    int signum = evw->signum;
    struct evsig__sig *s = &evsig__sigs[signum];
    evsig_info info;
    unsigned gen;
    (void)revents;

    unsigned epoch = evsig__reset_epoch;

    evsig__wakeup_warn();
    /* Callbacks may stop and start watchers or change the table. Releasing
     * the signal waits until a callback has returned: then, if nothing
     * wants it any more, the rest of the ring is raised again under the
     * disposition now in place. */
    s->dispatching++;
    while (s->bound && s->loop == loop && evsig__ring_pop(s->ring, &info, &gen)) {
        if (gen != evsig__gen())
            continue;   /* caught before a fork: the parent's */
        deliver(loop, &info);
        if (epoch != evsig__reset_epoch || !evsig__table_wanted(signum))
            break;
    }
    if (epoch != evsig__reset_epoch)
        return;   /* evsig_reset() forgot the signal, counter included */
    if (--s->dispatching == 0 && s->bound)
        evsig__table_sync(signum, s->loop);
}

/* --- cooperative waits --------------------------------------------------- */

static void wait_timeout_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)loop;
    (void)revents;
    *(bool *)t->data = true;
}

/* Hold or release every signal of @set for a wait; on a failure to hold
 * one, release those already held. */
static int hold_set(struct ev_loop *loop, const sigset_t *set)
{
    for (int signum = 1; signum < NSIG; signum++) {
        if (!sigismember(set, signum))
            continue;
        evsig__sigs[signum].nwaits++;
        int r = evsig__table_sync(signum, loop);
        if (r < 0) {
            evsig__sigs[signum].nwaits--;
            for (int j = 1; j < signum; j++) {
                if (sigismember(set, j)) {
                    evsig__sigs[j].nwaits--;
                    evsig__table_sync(j, loop);
                }
            }
            return r;
        }
    }
    return 0;
}

static void release_set(struct ev_loop *loop, const sigset_t *set)
{
    for (int signum = 1; signum < NSIG; signum++) {
        if (sigismember(set, signum)) {
            evsig__sigs[signum].nwaits--;
            evsig__table_sync(signum, loop);
        }
    }
}

static int check_set(struct ev_loop *loop, const sigset_t *set)
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
    if (!any)
        return -EINVAL;
    for (int signum = 1; signum < NSIG; signum++) {
        if (sigismember(set, signum)) {
            int r = evsig__table_check_loop(signum, loop);
            if (r < 0)
                return r;
        }
    }
    return 0;
}

/* Returns the signal number, 0 on timeout, or -Exxx. @timeout < 0: none. */
static int wait_run(struct ev_loop *loop, const sigset_t *set,
                    evsig_info *info, double timeout)
{
    unsigned epoch = evsig__reset_epoch;
    int saved_errno = errno;   /* the loop's callbacks may change it */
    struct wait wt;
    bool timed_out = false;
    ev_timer timer;
    sigset_t oldmask;
    int r;

    r = check_set(loop, set);
    if (r < 0)
        return r;
    r = hold_set(loop, set);
    if (r < 0)
        return r;

    memset(&wt, 0, sizeof(wt));
    wt.loop = loop;
    wt.set = *set;
    wt.outer = dispatch.waits;
    dispatch.waits = &wt;

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
    while (!wt.done && !timed_out && epoch == evsig__reset_epoch)
        ev_run(loop, EVRUN_ONCE);
    if (timeout >= 0)
        ev_timer_stop(loop, &timer);
    ev_unref(loop);
    pthread_sigmask(SIG_SETMASK, &oldmask, NULL);

    if (epoch != evsig__reset_epoch) {
        /* evsig_reset() dropped the wait list and the holds. */
        if (dispatch.waits == &wt)
            dispatch.waits = wt.outer;
        return -EINTR;
    }
    dispatch.waits = wt.outer;
    release_set(loop, set);
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
    evsig__table_meet_default_loop();
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
    evsig__table_meet_default_loop();
    r = wait_run(loop, set, info, -1);
    return r < 0 ? evsig__fail(r) : r;
}

EVSIG_PUBLIC int evsig_sigtimedwait(struct ev_loop *loop, const sigset_t *set,
                                    evsig_info *info, double timeout)
{
    int r;

    if (!loop || !set || !info || !(timeout >= 0))
        return evsig__fail(-EINVAL);
    evsig__table_meet_default_loop();
    r = wait_run(loop, set, info, timeout);
    return r < 0 ? evsig__fail(r) : r;
}

EVSIG_PUBLIC int evsig_pause(struct ev_loop *loop)
{
    unsigned long before = evsig__handlers_ran;
    unsigned epoch = evsig__reset_epoch;
    int saved_errno = errno;

    if (!loop)
        return evsig__fail(-EINVAL);
    evsig__table_meet_default_loop();
    ev_ref(loop);
    while (evsig__handlers_ran == before && epoch == evsig__reset_epoch)
        ev_run(loop, EVRUN_ONCE);
    ev_unref(loop);
    if (evsig__handlers_ran == before)
        return evsig__fail(-EINTR);
    errno = saved_errno;
    return 0;
}

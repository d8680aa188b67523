/* SPDX-License-Identifier: MIT */
/*
 * child.c - watched children, kept results, fork and cooperative waitpid,
 * on top of two interchangeable reapers.
 *
 * What a watch means is decided here: a watched child holds a loop
 * reference (unless EVSIG_NOREF) until it exits; its exit is reported
 * once, on its loop, to its callback and then to the SIGCHLD table
 * callback; its result is kept for evsig_waitpid() until collected or
 * older than the TTL. How the exit is learnt is the reaper's (the ops table
 * in struct evsig__reaper): reaper-pidfd.c (a pidfd per child, any loop,
 * never reaps a child it does not watch) or reaper-waitpid.c (libev's
 * waitpid(-1) on the default loop, which reaps every child, so unwatched
 * results are kept too). The reapers call back through hooks (reaped,
 * vanished), so neither calls this file.
 *
 * Records: the pid table (pidtab.c) holds the entries; each loop with
 * children has a struct cloop holding its references, its children's
 * results in exit order (evsig_waitpid(-1) on a loop takes its own), and an
 * ev_async ("kick") through which a report is made on the loop's own
 * thread when it was learnt elsewhere (a late watch, or libev's witness on
 * the default loop). A cloop whose children all exited keeps only memory:
 * its ev_async is stopped, so that the loop may be destroyed.
 *
 * With the PIDFD backend evsig owns SIGCHLD from its first watched child:
 * its C handler stays installed (wakeup byte, SIGCHLD watchers) and libev's
 * reaper is no longer fed, so popen(), system() and friends get their own
 * children. libev's reaper still runs where it is fed behind evsig's back
 * (a signalfd default loop); its ev_child for pid 0 is then the witness of
 * what it took, so a watched child it reaped is still reported once.
 *
 * Context: lock held in everything but the public entry points, which take
 * it; user callbacks run unlocked on the child's loop's thread.
 */
#define _GNU_SOURCE
#include <assert.h>
#include <fcntl.h>
#include <math.h>
#include <pty.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <utmp.h>

#include "evsig-private.h"

/* A loop with children. */
struct cloop {
    struct ev_loop     *loop;
    struct evsig__rlist results;   /* its watched children's, exit order */
    unsigned            refs;      /* ev_ref()s held on @loop */
    unsigned            running;   /* watched children not yet exited */
    unsigned            pending;   /* results whose report is pending */
    ev_async            kick;      /* make pending reports on @loop */
    bool                kicking;   /* @kick started */
    struct cloop       *next;
};


static struct child_state {
    const struct evsig__reaper *ops;   /* once chosen; NULL: not yet */
    struct cloop  *loops;
    struct cloop  *spare;              /* the last one freed, for reuse */
    struct evsig__rlist unwatched;     /* results of children nobody watched */
    _Atomic uint64_t *bits;            /* pids known and watched (see
                                          evsig-private.h), published to
                                          the C handler */
    evsig_handler  sigchld_cb;         /* the table's, or NULL */
    void          *sigchld_data;
    double         ttl;
    bool           ttl_set;
    bool           claimed;            /* holds a claim on SIGCHLD */
    bool           witness;            /* PIDFD: libev's reaper watched */
    unsigned       bound_gen;          /* the fork generation of the last
                                          watch: in a child of fork() the
                                          backend is free until one */
    bool           force_fallback;
} child = {
    .unwatched = EVSIG__RLIST_INIT,
};

static void fresh(void);
static bool hook_reaped(struct ev_loop *loop, pid_t pid, int status,
                        const siginfo_t *si);
static bool hook_vanished(struct ev_loop *loop, pid_t pid);
static bool hook_witnessed(struct ev_loop *loop, pid_t pid, int status,
                           const siginfo_t *si);

static const struct evsig__reaper_hooks reaper_hooks = {
    .reaped = hook_reaped,
    .vanished = hook_vanished,
};

static const struct evsig__reaper_hooks witness_hooks = {
    .reaped = hook_witnessed,
    .vanished = hook_vanished,
};

/* --- the backend ------------------------------------------------------------ */

static int env_backend(void)
{
    const char *s = secure_getenv("EVSIG_CHILD_BACKEND");

    if (s && strcmp(s, "libev") == 0)
        return EVSIG_CHILD_LIBEV;
    if (s && strcmp(s, "pidfd") == 0)
        return EVSIG_CHILD_PIDFD;
    return EVSIG_CHILD_AUTO;
}

static void choose(int backend)
{
    if (backend == EVSIG_CHILD_AUTO)
        backend = env_backend();
    if (backend == EVSIG_CHILD_AUTO)
        backend = evsig__reaper_pidfd_available() ? EVSIG_CHILD_PIDFD
                                                  : EVSIG_CHILD_LIBEV;
    if (backend == EVSIG_CHILD_PIDFD) {
        child.ops = &evsig__reaper_pidfd;
        evsig__reaper_pidfd_init(&reaper_hooks);
        evsig__reaper_pidfd_force_fallback(child.force_fallback);
        evsig__reaper_libev_init(&witness_hooks);
    } else {
        child.ops = &evsig__reaper_libev;
        evsig__reaper_libev_init(&reaper_hooks);
    }
}

int evsig__child_resolve(void)
{
    if (!child.ops)
        choose(EVSIG_CHILD_AUTO);
    return child.ops->backend;
}

/* The choice is fixed while anything depends on it. */
static bool backend_in_use(void)
{
    if (child.bound_gen != evsig__forkgen())
        return false;   /* a forked child that watched nothing yet */
    fresh();
    return child.loops || child.claimed || child.sigchld_cb ||
           evsig__pidtab_oldest(&child.unwatched);
}

static void own_sigchld(bool pidfd);

EVSIG_PUBLIC int evsig_set_child_backend(int backend)
{
    sigset_t saved;
    int r = 0;

    if (backend != EVSIG_CHILD_AUTO && backend != EVSIG_CHILD_PIDFD &&
        backend != EVSIG_CHILD_LIBEV)
        return evsig__fail(-EINVAL);
    evsig__lock(&saved);
    if (backend == EVSIG_CHILD_PIDFD && !evsig__reaper_pidfd_available()) {
        r = -ENOSYS;
    } else if (child.ops && backend_in_use()) {
        if (backend != EVSIG_CHILD_AUTO && backend != child.ops->backend)
            r = -EBUSY;
    } else {
        choose(backend);
        if (child.claimed)   /* in a forked child: SIGCHLD follows */
            own_sigchld(child.ops == &evsig__reaper_pidfd);
    }
    evsig__unlock(&saved);
    return r < 0 ? evsig__fail(r) : 0;
}

EVSIG_PUBLIC int evsig_child_backend(void)
{
    sigset_t saved;
    int r;

    evsig__lock(&saved);
    r = evsig__child_resolve();
    evsig__unlock(&saved);
    return r;
}

void evsig__child_force_fallback(bool on)
{
    child.force_fallback = on;
    evsig__reaper_pidfd_force_fallback(on);
}

/* --- pids known and watched ------------------------------------------------ */

#define PIDBITS_BYTES (EVSIG__PIDBITS_WORDS * sizeof(uint64_t))

/* The bit table exists (made once, at the first watch). 0 or -ENOMEM. */
static int pidbits_ready(void)
{
    void *p;

    if (child.bits)
        return 0;
    p = mmap(NULL, PIDBITS_BYTES, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return -ENOMEM;
    child.bits = p;
    evsig__catch_set_watched(child.bits);
    return 0;
}

static bool pidbit(pid_t pid, bool watched)
{
    return child.bits && pid > 0 && (unsigned)pid < EVSIG__PID_LIMIT &&
           (atomic_load_explicit(&child.bits[evsig__pidbits_word(pid, watched)],
                                 memory_order_relaxed) >> (pid % 64) & 1);
}

static void pidbit_set(pid_t pid, bool watched, bool on)
{
    _Atomic uint64_t *w;
    uint64_t bit = UINT64_C(1) << (pid % 64);

    if (!child.bits || pid <= 0 || (unsigned)pid >= EVSIG__PID_LIMIT)
        return;
    w = &child.bits[evsig__pidbits_word(pid, watched)];
    /* Written only when it changes: each page written after fork() is a
     * copy-on-write fault. Release: pairs with the C handler's acquire. */
    if (on && !(atomic_load_explicit(w, memory_order_relaxed) & bit))
        atomic_fetch_or_explicit(w, bit, memory_order_release);
    else if (!on && (atomic_load_explicit(w, memory_order_relaxed) & bit))
        atomic_fetch_and_explicit(w, ~bit, memory_order_release);
}

/* A watched child: known (evsig_child_unwatch() stays idempotent for it
 * until the next reset), and watched for the C handler. */
static void mark_watched(pid_t pid)
{
    pidbit_set(pid, false, true);
    pidbit_set(pid, true, true);
}

static void mark_unwatched(pid_t pid)
{
    pidbit_set(pid, true, false);
}

static bool known(pid_t pid)
{
    return pidbit(pid, false);
}

/* --- loop records ------------------------------------------------------------ */

static void kick_cb(struct ev_loop *loop, ev_async *w, int revents);

static struct cloop *cloop_find(struct ev_loop *loop)
{
    for (struct cloop *cl = child.loops; cl; cl = cl->next)
        if (cl->loop == loop)
            return cl;
    return NULL;
}

/* The record of a loop that has children: one exists while it does
 * (prepare_watch() made it). */
static struct cloop *cloop_of(struct ev_loop *loop)
{
    struct cloop *cl = cloop_find(loop);

    assert(cl);
    if (!cl)
        __builtin_unreachable();   /* the invariant, for release builds */
    return cl;
}

static int cloop_get(struct ev_loop *loop, struct cloop **out)
{
    struct cloop *cl = cloop_find(loop);

    if (!cl) {
        cl = child.spare ? child.spare : malloc(sizeof(*cl));
        if (!cl)
            return -ENOMEM;
        child.spare = NULL;
        memset(cl, 0, sizeof(*cl));
        cl->loop = loop;
        cl->results = (struct evsig__rlist)EVSIG__RLIST_INIT;
        ev_async_init(&cl->kick, kick_cb);
        cl->kick.data = cl;
        cl->next = child.loops;
        child.loops = cl;
    }
    *out = cl;
    return 0;
}

/* The kick runs while there is something to report on the loop's thread:
 * running children (a witness may report one) or pending reports. With
 * neither, nothing of evsig's stays on the loop. Loop thread. */
static void cloop_update(struct cloop *cl)
{
    bool want = cl->running || cl->pending;

    if (want && !cl->kicking) {
        ev_async_start(cl->loop, &cl->kick);
        ev_unref(cl->loop);
        cl->kicking = true;
    } else if (!want && cl->kicking) {
        ev_ref(cl->loop);
        ev_async_stop(cl->loop, &cl->kick);
        cl->kicking = false;
    }
}

/* A cloop holding nothing at all is freed -- or kept for the next loop
 * that needs one: a program forking one child at a time would otherwise
 * allocate and free it per child. */
static void cloop_maybe_free(struct cloop *cl)
{
    if (cl->running || cl->pending || cl->refs || cl->kicking ||
        evsig__pidtab_oldest(&cl->results))
        return;
    for (struct cloop **p = &child.loops; *p; p = &(*p)->next) {
        if (*p == cl) {
            *p = cl->next;
            break;
        }
    }
    if (child.spare)
        free(cl);
    else
        child.spare = cl;
}

/* --- entries: what a watch holds ----------------------------------------- */

/*
 * After a fork, whatever was inherited belongs to the parent: its children
 * are not ours. Dropped at the first use (the fork path is measured in page
 * faults: a child that never looks never copies these pages). The loop
 * references held for them go too, so they do not keep ev_run() alive.
 */
static void fresh(void)
{
    if (!evsig__pidtab_fresh())
        return;
    for (struct cloop *cl = child.loops; cl; cl = cl->next) {
        for (; cl->refs; cl->refs--)
            ev_unref(cl->loop);
        cl->running = cl->pending = 0;
        cl->results = (struct evsig__rlist)EVSIG__RLIST_INIT;
    }
    child.unwatched = (struct evsig__rlist)EVSIG__RLIST_INIT;
    /* Zero pages again, without writing (copying) the parent's. A C
     * handler reading them meanwhile sees old bits or none: the parent's
     * children are not this process's either way. */
    if (child.bits)
        madvise((void *)child.bits, PIDBITS_BYTES, MADV_DONTNEED);
}

static void release_ref(struct evsig__child *e, struct cloop *cl)
{
    if (!e->exited && e->watched && !(e->flags & EVSIG_NOREF) && cl->refs) {
        ev_unref(cl->loop);
        cl->refs--;
    }
}

static void take_ref(struct evsig__child *e, struct cloop *cl)
{
    if (!e->exited && e->watched && !(e->flags & EVSIG_NOREF)) {
        ev_ref(cl->loop);
        cl->refs++;
    }
}

static void forget(struct evsig__child *e)
{
    struct cloop *cl = e->watched ? cloop_find(e->loop) : NULL;

    if (cl && !e->exited) {
        release_ref(e, cl);
        cl->running--;
        child.ops->drop(e);
        mark_unwatched(e->pid);
    }
    if (cl && e->late)
        cl->pending--;
    evsig__pidtab_remove(e);
    if (cl) {
        cloop_update(cl);
        cloop_maybe_free(cl);
    }
}

static double ttl(void)
{
    return child.ttl_set ? child.ttl : EVSIG_RESULT_TTL;
}

static void prune(ev_tstamp now)
{
    evsig__pidtab_prune(&child.unwatched, now, ttl());
    for (struct cloop *cl = child.loops; cl;) {
        struct cloop *next = cl->next;

        evsig__pidtab_prune(&cl->results, now, ttl());
        cloop_maybe_free(cl);
        cl = next;
    }
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

/* --- reporting ------------------------------------------------------------- */

/* Report @e's exit: its callback, then the SIGCHLD table callback, both
 * unlocked, on its loop. Returns false if evsig_reset() ran meanwhile
 * (then nothing held may be touched); @e is not valid after the call. */
static bool report(struct ev_loop *loop, struct evsig__child *e)
{
    unsigned epoch = evsig__core_epoch();
    pid_t pid = e->pid;
    int status = e->status;
    evsig_child_cb cb = e->cb;
    void *data = e->data;
    evsig_info info;

    memset(&info, 0, sizeof(info));
    info.signo = SIGCHLD;
    info.code = WIFEXITED(status) ? CLD_EXITED :
                WCOREDUMP(status) ? CLD_DUMPED : CLD_KILLED;
    info.pid = pid;
    info.uid = e->uid;
    info.status = status;
    info.merged = 1;

    evsig__unlock_loop();
    if (cb)
        cb(loop, pid, status, data);
    evsig__lock_loop();
    if (evsig__core_epoch() != epoch)
        return false;
    if (!child.sigchld_cb)
        return true;

    evsig_handler scb = child.sigchld_cb;
    void *sdata = child.sigchld_data;

    evsig__unlock_loop();
    evsig__core_note_handler();
    scb(loop, &info, sdata);
    evsig__lock_loop();
    return evsig__core_epoch() == epoch;
}

/* On a signalfd default loop libev blocks SIGCHLD and reads it itself, so
 * SIGCHLD watchers, waits and the wakeup fd would never see one: make one
 * per exit of a watched child, from its wait status. */
static void sigchld_for(const struct evsig__child *e)
{
    evsig_info info;

    memset(&info, 0, sizeof(info));
    info.signo = SIGCHLD;
    info.code = WIFEXITED(e->status) ? CLD_EXITED :
                WCOREDUMP(e->status) ? CLD_DUMPED : CLD_KILLED;
    info.pid = e->pid;
    info.uid = e->uid;
    info.status = e->status;
    info.merged = 1;
    evsig__catch_inject(&info);
}

/* @e exited with @status (the child's @uid): keep the result, then report
 * (gevent's _on_child order: result, callback, SIGCHLD handler). Runs on
 * @e's loop. False if evsig_reset() ran in a callback. */
static bool finish(struct ev_loop *loop, struct evsig__child *e, int status,
                   uid_t uid)
{
    struct cloop *cl = cloop_of(e->loop);
    ev_tstamp now = ev_now(loop);

    release_ref(e, cl);
    cl->running--;
    if (e->late)
        cl->pending--;
    mark_unwatched(e->pid);
    e->exited = true;
    e->vanished = false;
    e->late = false;
    e->status = status;
    e->uid = uid;
    e->finished = now;
    evsig__pidtab_result_put(e, &cl->results);
    cloop_update(cl);
    if (evsig__core_signalfd_default_loop())
        sigchld_for(e);
    if (!report(loop, e))
        return false;
    prune(now);
    return true;
}

static bool hook_reaped(struct ev_loop *loop, pid_t pid, int status,
                        const siginfo_t *si)
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
    if (e && e->watched)
        return finish(loop, e, status, si ? si->si_uid : getuid());

    /* Nobody watches it (LIBEV reaps every child; so does libev's reaper
     * seen through the witness): keep its result for evsig_waitpid(). */
    if (!e) {
        if (evsig__pidtab_reserve() < 0)
            return true;   /* an unwatched child's result: nothing else lost */
        e = evsig__pidtab_insert(pid);
    }
    e->exited = true;
    e->status = status;
    e->uid = si ? si->si_uid : getuid();
    e->finished = now;
    evsig__pidtab_result_put(e, &child.unwatched);
    prune(now);
    return true;
}

/* PIDFD: libev's reaper took @pid (the witness saw it). A watched child is
 * reported on its own loop: now if this is it, else through its kick. */
static bool hook_witnessed(struct ev_loop *loop, pid_t pid, int status,
                           const siginfo_t *si)
{
    struct evsig__child *e;
    struct cloop *cl;

    fresh();
    e = evsig__pidtab_lookup(pid);
    if (!e || !e->watched || e->exited || e->late)
        return hook_reaped(loop, pid, status, si);
    if (e->vanished && e->loop == loop)
        return finish(loop, e, status, getuid());
    /* Its reaper will find it gone (vanished) on its own loop; the kick
     * makes sure that loop looks soon. */
    e->status = status;
    e->late = true;
    cl = cloop_of(e->loop);
    cl->pending++;
    ev_async_send(cl->loop, &cl->kick);
    return true;
}

/* PIDFD: @pid's pidfd said it exited, but somebody else reaped it: the
 * program itself (its own waitpid(pid): the status is the program's, evsig
 * forgets the child), or libev's reaper (the witness has, or will have,
 * the status). Without a default loop there is no witness. */
static bool hook_vanished(struct ev_loop *loop, pid_t pid)
{
    struct evsig__child *e = evsig__pidtab_lookup(pid);
    struct cloop *cl;

    if (!e || !e->watched || e->exited)
        return true;
    if (e->late)
        return finish(loop, e, e->status, getuid());   /* witnessed first */
    if (!child.witness) {
        forget(e);
        return true;
    }
    /* Wait for the witness (on the default loop's next iteration), or for
     * the TTL: a vanished entry is on the results list, never collected. */
    cl = cloop_of(e->loop);
    release_ref(e, cl);
    cl->running--;
    mark_unwatched(e->pid);
    e->vanished = true;
    e->exited = true;
    e->finished = ev_now(loop);
    evsig__pidtab_result_put(e, &cl->results);
    cloop_update(cl);
    return true;
}

struct pending_search {
    struct ev_loop      *loop;
    struct evsig__child *found;
};

static void find_pending(struct evsig__child *e, void *arg)
{
    struct pending_search *ps = arg;

    if (!ps->found && e->late && e->watched && e->loop == ps->loop)
        ps->found = e;
}

/* Make the reports pending on @cl's loop (its thread). False if
 * evsig_reset() ran in a callback. */
static bool report_pending(struct cloop *cl)
{
    while (cl->pending) {
        struct pending_search ps = { cl->loop, NULL };
        struct evsig__child *e;

        /* O(children): pending reports are rare (late watches, children
         * libev's reaper took). */
        evsig__pidtab_each(find_pending, &ps);
        e = ps.found;
        if (!e)
            break;
        if (e->exited) {
            /* A result watched late: report it once, keep it. */
            e->late = false;
            cl->pending--;
            if (!report(cl->loop, e))
                return false;
            continue;
        }
        child.ops->drop(e);   /* witnessed: its pidfd is stale */
        if (!finish(cl->loop, e, e->status, getuid()))
            return false;
    }
    return true;
}

/* Reports learnt elsewhere, made on this loop's thread. */
static void kick_cb(struct ev_loop *loop, ev_async *w, int revents)
{
    struct cloop *cl = w->data;
    (void)loop;
    (void)revents;

    evsig__lock_loop();
    fresh();
    if (report_pending(cl)) {
        cloop_update(cl);
        cloop_maybe_free(cl);
    }
    evsig__unlock_loop();
    evsig__dispatch_report();
}

/*
 * From now on evsig's C handler stays installed for SIGCHLD: it writes the
 * wakeup byte; LIBEV: it feeds libev's reaper; PIDFD: it takes SIGCHLD from
 * libev's reaper for good, so that other code's children are left alone.
 */
static void take_sigchld(void)
{
    if (child.claimed)
        return;
    evsig__disp_claim(SIGCHLD);
    child.claimed = true;
    own_sigchld(child.ops == &evsig__reaper_pidfd);
}

static void own_sigchld(bool pidfd)
{
    evsig__disp_own_sigchld(pidfd);
}

/* PIDFD: the SIGCHLD of @pid is reported through a watch (see
 * dispatch.c's table binding): a child watched after its exit, whose
 * SIGCHLD was received before the watch, is reported only through it --
 * once: the next SIGCHLD of that pid (a reused one) is an unwatched
 * child's again. */
static bool reported_by_watch(pid_t pid)
{
    struct evsig__child *e = evsig__pidtab_lookup(pid);

    if (!e || !e->sigchld_seen)
        return false;
    e->sigchld_seen = false;
    return true;
}

/* --- entry points -------------------------------------------------------- */

/* Start keeping results and owning SIGCHLD as the backend wants. */
void evsig__child_meet(void)
{
    struct ev_loop *def = evsig__core_default_loop();

    fresh();
    evsig__child_resolve();
    evsig__dispatch_set_sigchld_filter(reported_by_watch);
    /* The witness: libev's reaper still takes children where it is fed
     * (LIBEV: that is the backend itself, started by prepare()). */
    if (child.ops == &evsig__reaper_pidfd && def && !child.witness &&
        evsig__reaper_libev.prepare(def) == 0)
        child.witness = true;
    if (child.ops == &evsig__reaper_libev && def)
        (void)child.ops->prepare(def);
}

/* Common start of every child entry point, before anything can fail for
 * want of a resource: lock held. */
static int meet(struct ev_loop *loop)
{
    if (!loop)
        return -EINVAL;
    evsig__disp_meet_default_loop();
    evsig__child_resolve();
    if (child.ops->check_loop(loop) < 0)
        return -EINVAL;
    evsig__child_meet();
    return 0;
}

/* PIDFD: from the first child call that succeeds on, while libev's default
 * loop exists (its reaper would take every child), evsig owns SIGCHLD. A
 * call takes it after its last step that can fail, so that a call failing
 * for want of memory or fds leaves SIGCHLD's disposition as it was. */
static void own(void)
{
    if (child.ops == &evsig__reaper_pidfd && evsig__core_default_loop())
        take_sigchld();
}

/* meet() and own(), for calls that cannot fail for want of a resource. */
static int enter(struct ev_loop *loop)
{
    int r = meet(loop);

    if (r == 0)
        own();
    return r;
}

/* The last step of a call that watches a child: the loop's kick (an
 * ev_async) must start without libev opening an fd, which at the fd limit
 * would abort() (see core.c). Nothing to make while the kick runs. */
static int loop_ready(struct ev_loop *loop)
{
    struct cloop *cl = cloop_find(loop);

    return evsig__core_evpipe_ready(loop, cl && cl->kicking, true);
}

/* Make watching one more child on @loop unable to fail. */
static int prepare_watch(struct ev_loop *loop)
{
    struct cloop *cl;
    int r;

    r = evsig__pidtab_reserve();
    if (r == 0)
        r = pidbits_ready();
    if (r == 0)
        r = cloop_get(loop, &cl);
    if (r == 0)
        r = child.ops->prepare(loop);
    return r;
}

/* Watch @e (not exited) on @loop; cannot fail after prepare_watch(). */
static void watch(struct evsig__child *e, struct ev_loop *loop, int pidfd,
                  evsig_child_cb cb, void *data, int flags)
{
    struct cloop *cl = cloop_of(loop);

    take_sigchld();
    if (child.bound_gen != evsig__forkgen())
        child.bound_gen = evsig__forkgen();
    if (e->watched) {
        release_ref(e, cl);   /* watched again: same loop (checked) */
    } else {
        e->watched = true;
        e->loop = loop;
        cl->running++;
        mark_watched(e->pid);
        child.ops->adopt(e, pidfd);
    }
    e->cb = cb;
    e->data = data;
    e->flags = (uint8_t)flags;
    take_ref(e, cl);
    cloop_update(cl);
}

/* --- the two halves of a watched new child ------------------------------ */

/* Before the child is made: the checks and reservations that make
 * evsig__child_adopt() unable to fail. Lock held. */
int evsig__child_begin(struct ev_loop *loop)
{
    int r = meet(loop);

    return r < 0 ? r : prepare_watch(loop);
}

/* The last preparation, once the caller's own fds are made: nothing can
 * fail after it, so SIGCHLD is evsig's from here (PIDFD) and libev's
 * reaper cannot take the new child before evsig__child_adopt(). */
int evsig__child_ready(struct ev_loop *loop)
{
    int r = loop_ready(loop);

    if (r == 0)
        own();
    return r;
}

bool evsig__child_wants_pidfd(void)
{
    return child.ops == &evsig__reaper_pidfd;
}

/*
 * After: @pid, a new child of ours (with its pidfd, or -1), is watched
 * before the caller unblocks signals, so no exit is missed. A kept result
 * of an older child with the same pid is dropped first; that may release
 * the loop's record, which the second prepare_watch() makes again from
 * the spare kept for it (so it does not fail for want of memory either).
 * Lock held.
 */
void evsig__child_adopt(struct ev_loop *loop, pid_t pid, int pidfd,
                        evsig_child_cb cb, void *data, int flags)
{
    struct evsig__child *e;

    fresh();
    e = evsig__pidtab_lookup(pid);
    if (e)
        forget(e);
    if (prepare_watch(loop) == 0) {
        e = evsig__pidtab_insert(pid);
        watch(e, loop, pidfd, cb, data, flags);
    } else if (pidfd >= 0) {
        close(pidfd);
    }
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
    /* The parent's children must not keep ev_run() alive here, nor their
     * pidfds and epoll sets stay open. The rest of the inherited state is
     * dropped lazily by fresh() at the first use, so a child that never
     * uses it never writes (copies) that page. */
    for (struct cloop *cl = child.loops; cl; cl = cl->next)
        for (; cl->refs; cl->refs--)
            ev_unref(cl->loop);
    child.ops->fork_child();
    /* The backend may be chosen anew: the fork generation moved past
     * child.bound_gen (nothing written here, see backend_in_use()). */
}

/* The forkpty() of glibc, but the master is close-on-exec before fork(),
 * so no other thread's fork+exec meanwhile inherits it. */
static int open_pty(int *master, int *slave)
{
    if (openpty(master, slave, NULL, NULL, NULL) < 0)
        return -errno;
    if (fcntl(*master, F_SETFD, FD_CLOEXEC) < 0 ||
        fcntl(*slave, F_SETFD, FD_CLOEXEC) < 0) {
        int err = errno;

        close(*master);
        close(*slave);
        return -err;
    }
    return 0;
}

static pid_t do_fork(struct ev_loop *loop, int *amaster, evsig_child_cb cb,
                     void *data, int flags, bool watched)
{
    int master = -1, slave = -1;
    sigset_t old;
    unsigned gen;
    pid_t pid;
    int saved, r;

    if (flags & ~EVSIG_NOREF)
        return evsig__fail(-EINVAL);
    /* The lock blocks every signal: one sent to the new child before it
     * reset its state stays pending until evsig_fork() returns there. It
     * is held across fork() (core.c's atfork handlers know), so the child
     * inherits a consistent state. */
    evsig__lock(&old);
    r = meet(loop);
    if (r == 0 && watched)
        r = prepare_watch(loop);
    if (r == 0 && amaster)
        r = open_pty(&master, &slave);
    if (r == 0 && watched && (r = loop_ready(loop)) < 0 && amaster) {
        close(master);
        close(slave);
    }
    if (r < 0) {
        evsig__unlock(&old);
        return evsig__fail(r);
    }
    own();
    gen = evsig__forkgen();
    saved = errno;   /* fork() leaves it alone when it succeeds */
    pid = fork();
    if (pid == 0) {
        /* Every call first made here costs the child a page fault or
         * more (see after_fork_in_child()): errno is left as it is. */
        after_fork_in_child(loop, gen);
        if (amaster) {
            close(master);
            if (login_tty(slave) < 0)
                _exit(127);
        }
        evsig__unlock_forked(&old);
        return 0;
    }
    if (pid < 0)
        saved = errno;
    if (amaster) {
        close(slave);
        if (pid > 0)
            *amaster = master;
        else
            close(master);
    }
    if (pid > 0 && watched)   /* before the signals are unblocked */
        evsig__child_adopt(loop, pid, -1, cb, data, flags);
    evsig__unlock(&old);
    if (errno != saved)
        errno = saved;   /* unchanged mostly: spare the page a write */
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
    struct cloop *cl;
    int r;

    r = meet(loop);
    if (r < 0)
        return r;
    fresh();
    e = evsig__pidtab_lookup(pid);
    if (e && e->watched && e->loop != loop && !e->exited)
        return -ECHILD;   /* another loop's */
    if (e && e->exited && !e->vanished) {
        /* Reaped before anyone watched it (LIBEV, or libev's reaper): its
         * result is reported on the next iteration, unless it was already
         * reported to a watch. */
        if (!e->watched) {
            r = loop_ready(loop);
            if (r == 0)
                r = cloop_get(loop, &cl);
            if (r < 0)
                return r;
            e->watched = true;
            e->loop = loop;
            e->late = true;
            cl->pending++;
            pidbit_set(pid, false, true);
            evsig__pidtab_result_put(e, &cl->results);
            cloop_update(cl);
            ev_async_send(loop, &cl->kick);
        }
        own();
        e->cb = cb;
        e->data = data;
        e->flags = (uint8_t)flags;
        return 0;
    }
    if (e && e->vanished)
        forget(e);
    bool zombie = false;

    if (!e || !e->watched || e->exited) {
        r = probe(pid);
        if (r < 0)
            return r;
        zombie = r == 1;
    }
    r = loop_ready(loop);
    if (r == 0)
        r = prepare_watch(loop);
    if (r < 0)
        return r;
    own();
    e = evsig__pidtab_lookup(pid);
    if (!e)
        e = evsig__pidtab_insert(pid);
    /* Exited before the watch: its SIGCHLD came while nobody watched it. */
    e->sigchld_seen = zombie;
    watch(e, loop, -1, cb, data, flags);
    return 0;
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
    fresh();
    e = evsig__pidtab_lookup(pid);
    if (e && e->watched && e->loop != loop)
        return -ECHILD;   /* another loop's */
    if (e && e->watched && e->exited) {
        if (e->late) {
            /* Watched late and not reported yet: cancel the report, keep
             * the result for evsig_waitpid(). */
            struct cloop *cl = cloop_of(loop);

            e->late = false;
            cl->pending--;
            e->cb = NULL;
            e->data = NULL;
            e->watched = false;
            evsig__pidtab_result_put(e, &child.unwatched);
            cloop_update(cl);
            cloop_maybe_free(cl);
        }
        return 0;   /* reported, or being reported: idempotent */
    }
    if (e && e->watched) {
        /* PIDFD: its exit is the program's again; LIBEV: libev reaps it
         * and its result is kept, unwatched. */
        forget(e);
        return 0;
    }
    return known(pid) ? 0 : -ECHILD;
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

/* --- waiting ------------------------------------------------------------- */

/* Run one loop iteration with the lock released (and the caller's signal
 * mask back, so signals reach the handler meanwhile). */
static void run_unlocked(struct ev_loop *loop, int flags, sigset_t *saved)
{
    evsig__unlock(saved);
    ev_run(loop, flags);
    evsig__lock(saved);
}

/*
 * WNOHANG checks for real: what has happened on @loop is processed now --
 * pending reports made, ready children reaped and reported -- so their
 * callbacks and the SIGCHLD handler ran before the answer. Those callbacks
 * run with the caller's signal mask, like any.
 */
static void catch_up(struct ev_loop *loop, sigset_t *saved)
{
    unsigned epoch = evsig__core_epoch();
    struct cloop *cl = cloop_find(loop);
    sigset_t all;

    pthread_sigmask(SIG_SETMASK, saved, NULL);
    if (!cl || report_pending(cl))
        child.ops->poll(loop);
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, NULL);
    if (epoch == evsig__core_epoch() && (cl = cloop_find(loop))) {
        cloop_update(cl);
        cloop_maybe_free(cl);
    }
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

/* The oldest result of a child watched on @cl's loop, reportable. */
static struct evsig__child *oldest_watched(struct cloop *cl)
{
    struct evsig__child *e = cl ? evsig__pidtab_oldest(&cl->results) : NULL;

    while (e && (e->late || e->vanished))
        e = evsig__pidtab_newer(e);
    return e;
}

static bool has_children(struct cloop *cl)
{
    return cl && (cl->running || oldest_watched(cl));
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

static void sigchld_seen(struct ev_loop *loop, const evsig_info *info,
                         void *data)
{
    (void)loop;
    (void)info;
    (void)data;
}

/* A zombie that no loop watches, reaped now: its pid, 0 if none yet, or
 * -Exxx. */
static pid_t reap_unwatched(pid_t pid, int *status)
{
    siginfo_t si;
    struct evsig__child *e;

    memset(&si, 0, sizeof(si));
    if (waitid(pid > 0 ? P_PID : P_ALL, pid > 0 ? (id_t)pid : 0, &si,
               WEXITED | WNOHANG | WNOWAIT) < 0)
        return -errno;
    if (!si.si_pid)
        return 0;
    e = evsig__pidtab_lookup(si.si_pid);
    if (e && e->watched && !e->exited)
        return 0;   /* another loop's, which will reap it */
    return waitpid(si.si_pid, status, WNOHANG);
}

/*
 * The one waiting engine of evsig_waitpid() and evsig_waitpid_timeout().
 * @timeout < 0: no deadline; @options: 0 or WNOHANG. Lock held (released
 * while the loop runs). Returns the pid, 0, or -Exxx.
 *
 * A child watched on @loop is waited for by running the loop: its reaper
 * reports it there. One no loop watches is nobody's to reap under PIDFD:
 * the wait watches SIGCHLD on @loop (an internal watcher, started before
 * the first look, so no exit slips in between) and looks again at each
 * one -- never a blocking waitpid(), which would hold the loop.
 */
static pid_t wait_for(struct ev_loop *loop, pid_t pid, int *status,
                      int options, double timeout, sigset_t *saved)
{
    unsigned epoch = evsig__core_epoch();
    struct deadline dl = { .expired = false };
    bool libev = child.ops == &evsig__reaper_libev;
    bool blocking_plain = timeout < 0;   /* LIBEV may use waitpid() */
    bool polled = false, watching = false;
    bool cannot_watch = false;   /* its one failure for want of a resource */
    evsig_watcher sigchld;
    pid_t r = -1;

    ev_ref(loop);   /* so EVRUN_ONCE blocks even with NOREF watches only */
    if (timeout >= 0) {
        ev_now_update(loop);
        ev_timer_init(&dl.timer, deadline_cb, timeout, 0.);
        ev_timer_start(loop, &dl.timer);
    }

    for (;;) {
        struct evsig__child *e;
        struct cloop *cl;
        bool unwatched = false;

        if (epoch != evsig__core_epoch()) {
            r = -EINTR;
            break;
        }
        fresh();
        cl = cloop_find(loop);
        if (pid > 0) {
            e = evsig__pidtab_lookup(pid);
            /* A vanished entry is the old child's, which the program
             * reaped itself: a process that reused its pid is waited for
             * as the unwatched child it is. */
            if (e && e->vanished)
                e = NULL;
            if (e && e->watched && e->loop != loop) {
                r = -ECHILD;   /* another loop's */
                break;
            }
            if (e && e->exited && !e->late) {
                r = collect(e, status);
                break;
            }
            if (e && e->watched) {
                if (options & WNOHANG) {
                    /* WNOHANG checks for real: reap what is ready now, so
                     * the callback and the SIGCHLD handler ran before we
                     * answer. */
                    if (!polled) {
                        polled = true;
                        catch_up(loop, saved);
                        continue;
                    }
                    r = 0;
                    break;
                }
            } else if (libev) {
                /* Not watched, no result kept: plain waitpid(), never
                 * blocking when a deadline is set. */
                int p = probe(pid);

                if (p < 0) {
                    r = p;
                    break;
                }
                if (blocking_plain || options & WNOHANG || p == 1) {
                    r = waitpid_unlocked(pid, status,
                                         p == 1 ? WNOHANG : options, saved);
                    if (r < 0)
                        r = -errno;
                    break;
                }
            } else {
                unwatched = true;
            }
        } else if (has_children(cl)) {
            e = oldest_watched(cl);
            if (e) {
                r = collect(e, status);
                break;
            }
            if (options & WNOHANG) {
                if (!polled) {
                    polled = true;
                    catch_up(loop, saved);
                    continue;
                }
                r = 0;
                break;
            }
        } else {
            e = evsig__pidtab_oldest(&child.unwatched);
            if (e) {
                r = collect(e, status);
                break;
            }
            if (libev && (blocking_plain || options & WNOHANG)) {
                r = waitpid_unlocked(-1, status, options, saved);
                if (r < 0)
                    r = -errno;
                break;
            }
            unwatched = true;
        }
        if (unwatched) {
            if (!libev && !(options & WNOHANG) && !watching) {
                r = evsig__dispatch_watch(loop, &sigchld, SIGCHLD,
                                          sigchld_seen, NULL,
                                          EVSIG_NOREF | EVSIG__INTERNAL);
                if (r < 0) {
                    cannot_watch = true;
                    break;
                }
                watching = true;
                /* Before the first look: libev's reaper must not take
                 * the child from now on. */
                own();
            }
            r = reap_unwatched(pid, status);
            if (r != 0 || options & WNOHANG)
                break;
        }
        if (dl.expired) {
            r = -ETIMEDOUT;
            break;
        }
        run_unlocked(loop, EVRUN_ONCE, saved);
    }

    /* After a reset (in a callback) the watcher is already gone. */
    if (watching && epoch == evsig__core_epoch())
        evsig__dispatch_unwatch(&sigchld);
    if (timeout >= 0)
        ev_timer_stop(loop, &dl.timer);
    ev_unref(loop);
    if (!cannot_watch)
        own();   /* a call that failed for want of a resource changes nothing */
    return r;
}

static pid_t waitpid_common(struct ev_loop *loop, pid_t pid, int *status,
                            int options, double timeout)
{
    int saved_errno = errno;   /* the loop's callbacks may change it */
    sigset_t saved;
    pid_t r;

    evsig__lock(&saved);
    r = meet(loop);
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
    if (r == 0) {
        fresh();
        e = pid > 0 ? evsig__pidtab_lookup(pid) : NULL;
        if (e && e->exited)
            r = -ESRCH;   /* reaped: the pid may belong to someone else */
        else if (e && e->watched)
            r = child.ops->kill(e, sig);
        else if (kill(pid, sig) < 0)
            r = -errno;
    }
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

void evsig__child_set_sigchld_cb(struct ev_loop *loop, evsig_handler cb,
                                 void *data)
{
    (void)loop;
    child.sigchld_cb = cb;
    child.sigchld_data = cb ? data : NULL;
}

void evsig__child_reset(void)
{
    fresh();
    if (child.ops)
        child.ops->reset();
    evsig__reaper_libev.reset();   /* the witness, if it ran */
    while (child.loops) {
        struct cloop *cl = child.loops;

        child.loops = cl->next;
        for (; cl->refs; cl->refs--)
            ev_unref(cl->loop);
        if (cl->kicking) {
            ev_ref(cl->loop);
            ev_async_stop(cl->loop, &cl->kick);
        }
        free(cl);
    }
    free(child.spare);
    evsig__pidtab_forget();
    if (child.bits) {
        evsig__catch_set_watched(NULL);
        evsig__core_quiesce();
        munmap((void *)child.bits, PIDBITS_BYTES);
    }
    memset(&child, 0, sizeof(child));
    child.unwatched = (struct evsig__rlist)EVSIG__RLIST_INIT;
    child.bound_gen = evsig__forkgen();
    /* disposition.c forgets the claim on SIGCHLD. */
}

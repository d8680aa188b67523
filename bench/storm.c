/* SPDX-License-Identifier: MIT */
/*
 * storm.c - a storm of queued signals into two loops, one of them stalled:
 * is every delivery either received or counted as lost, per loop?
 *
 * The main thread blocks SIGRTMIN and sigqueue()s it to the process N times
 * with the values 0..N-1. Two loops in two threads watch it: the running
 * loop runs all along; the stalled loop's thread is set up and then blocked
 * in sem_wait() (signals unblocked: the kernel may run the C handler on it,
 * it just does not run its loop) until the sender is done and the running
 * loop has settled; then it runs its loop. Each loop runs until it has
 * accounted for all N or made no progress for 0.5 s.
 *
 * Two ways of sending:
 *
 *   paced  after every 100 values the sender waits until the running loop
 *          has accounted for all it sent, so the running loop keeps up and
 *          only the stalled one can fall behind: one loop's stall must not
 *          cost the other anything.
 *   flood  as fast as sigqueue() goes. A thread that takes the signal runs
 *          handler after handler while more are pending, so the running
 *          loop barely runs either until the sender stops: both loops may
 *          lose, and each must count exactly what it lost.
 *
 * Per loop: delivered calls, the sum of info->lost, their sum (the contract
 * of the second version: exactly N on both loops, a slow loop losing only
 * its own oldest deliveries), and the first delivery that carried a loss
 * (its call number, from 0, and its value). Configurations, alternated rep
 * by rep:
 *
 *   evsig loops=2  evsig_watch() on two ev_loop_new(EVFLAG_NOENV) loops,
 *                  paced and flood. The first version answers EBUSY for the
 *                  second loop: the row then says n/a.
 *   libuv loops=2  two uv_loop_t with a uv_signal_t each, paced and flood.
 *                  libuv's handler writes one message per delivery into each
 *                  loop's non-blocking pipe and drops it silently when the
 *                  pipe is full: no loss counter, so only what each loop
 *                  received.
 *   evsig loops=1  only the stalled loop, flood. Runs on both versions. The
 *                  first version keeps the oldest EVSIG_RING_SIZE deliveries
 *                  and reports a loss with the next delivery that fits; after
 *                  a storm no delivery follows, so the loss stays unreported
 *                  until the first delivery of the next rep carries it. There
 *                  this row is shown, not checked.
 *
 * The kernel has a queue of its own (RLIMIT_SIGPENDING): a sigqueue() that
 * fails with EAGAIN is retried after sched_yield() and counted apart
 * (eagain=), so every one of the N values does reach the process and the
 * losses reported are evsig's (or libuv's), not the kernel's.
 *
 * Output, one line per (configuration, loop), medians over the reps:
 *   storm <impl> loops=<n> send=<paced|flood> loop=<running|stalled>
 *         delivered=<calls> lost=<sum of info->lost> total=<sum>
 *         first_lost_call=<i|-> first_lost_value=<v|->
 *         exact=<reps with total == N>/<reps> sent=<N> eagain=<retries>
 * (first_lost_* are medians over the reps that lost anything.) With
 * EVSIG_BENCH_VERBOSE=1 in the environment, every rep is also printed to
 * stderr. Exits non-zero if an evsig loop's total differed from N (the
 * one-loop row under the first version excepted, see above) or a setup
 * failed for a reason other than the first version's EBUSY or a missing
 * libuv.
 *
 *   usage: evsig-bench-storm [signals [reps]]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <evsig.h>
#ifdef EVSIG_BENCH_LIBUV
#include <uv.h>
#endif

#include "bench.h"

/* The second version added EVSIG_COALESCE, and with it the rule that every
 * delivery a loop does not get is counted on the next one it does get. */
#ifdef EVSIG_COALESCE
#define LOSS_COUNTED_AT_ONCE 1
#else
#define LOSS_COUNTED_AT_ONCE 0
#endif

#define SETTLE 0.5   /* seconds without progress after which a loop is done */

#define BATCH 100     /* paced: values sent before waiting for the running loop */

/* The configurations, alternated within each rep. */
static const struct conf {
    const char *impl;
    int         uv;
    int         loops;    /* 2: running + stalled; 1: stalled only */
    int         paced;
} confs[] = {
    { "evsig", 0, 2, 1 },
    { "libuv", 1, 2, 1 },
    { "evsig", 0, 2, 0 },
    { "libuv", 1, 2, 0 },
    { "evsig", 0, 1, 0 },
};
enum { NCONF = sizeof(confs) / sizeof(confs[0]) };
enum { RUNNING, STALLED };
static const char *const loop_name[2] = { "running", "stalled" };

/* What one loop saw; written by its thread, polled by the main thread. */
struct tally {
    atomic_uint calls;
    atomic_uint lost;
    int         first_lost_call;    /* -1: none */
    int         first_lost_value;
    int         prev_value;
    unsigned    out_of_order;       /* a value not above the previous one */
};

/* The same, copied out once the loop's thread has ended. */
struct result {
    unsigned calls, lost;
    int      first_lost_call, first_lost_value;
    unsigned out_of_order;
};

struct worker {
    int             role;           /* RUNNING or STALLED */
    int             uv;
    pthread_t       tid;
    sem_t           ready;          /* posted once set up (or failed) */
    sem_t           release;        /* the stalled loop waits on it */
    int             err;
    struct tally    t;
    struct ev_loop *loop;
    ev_async        quit;
    evsig_watcher   w;
#ifdef EVSIG_BENCH_LIBUV
    uv_loop_t       uvloop;
    uv_signal_t     uvsig;
    uv_async_t      uvquit;
#endif
};

static void count(struct tally *t, unsigned lost, int value)
{
    unsigned call = atomic_load(&t->calls);

    if (lost && t->first_lost_call < 0) {
        t->first_lost_call = (int)call;
        t->first_lost_value = value;
    }
    if (call && value <= t->prev_value)
        t->out_of_order++;
    t->prev_value = value;
    atomic_fetch_add(&t->lost, lost);
    atomic_fetch_add(&t->calls, 1);
}

static unsigned total(struct tally *t)
{
    return atomic_load(&t->calls) + atomic_load(&t->lost);
}

static void wait_release(struct worker *wk)
{
    if (wk->role == STALLED)
        while (sem_wait(&wk->release) < 0)
            ;   /* EINTR: the C handler ran on this thread */
}

/* --- evsig ----------------------------------------------------------------- */

static void on_evsig(struct ev_loop *loop, const evsig_info *info, void *data)
{
    (void)loop;
    count(&((struct worker *)data)->t, info->lost, info->value.sival_int);
}

static void on_quit(struct ev_loop *loop, ev_async *a, int revents)
{
    (void)a;
    (void)revents;
    ev_break(loop, EVBREAK_ALL);
}

static void evsig_thread(struct worker *wk)
{
    wk->loop = ev_loop_new(EVFLAG_NOENV);
    if (!wk->loop) {
        wk->err = ENOMEM;
        sem_post(&wk->ready);
        return;
    }
    ev_async_init(&wk->quit, on_quit);
    ev_async_start(wk->loop, &wk->quit);
    if (evsig_watch(wk->loop, &wk->w, SIGRTMIN, on_evsig, wk, 0) < 0)
        wk->err = errno;
    sem_post(&wk->ready);
    if (!wk->err) {
        wait_release(wk);
        ev_run(wk->loop, 0);
    }
    /* On the loop's own thread: the first version of evsig is not safe to
     * call for a loop that another thread runs. */
    evsig_unwatch(&wk->w);
    ev_async_stop(wk->loop, &wk->quit);
    ev_loop_destroy(wk->loop);
}

/* --- libuv ----------------------------------------------------------------- */

#ifdef EVSIG_BENCH_LIBUV
static void on_uvsig(uv_signal_t *s, int signum)
{
    struct worker *wk = s->data;

    (void)signum;
    /* libuv passes no siginfo: the call number stands in for the value. */
    count(&wk->t, 0, (int)atomic_load(&wk->t.calls));
}

static void on_uvquit(uv_async_t *a)
{
    struct worker *wk = a->data;

    uv_close((uv_handle_t *)&wk->uvsig, NULL);
    uv_close((uv_handle_t *)&wk->uvquit, NULL);
}

static void libuv_thread(struct worker *wk)
{
    int r = uv_loop_init(&wk->uvloop);

    if (r) {
        wk->err = -r;
        sem_post(&wk->ready);
        return;
    }
    uv_async_init(&wk->uvloop, &wk->uvquit, on_uvquit);
    wk->uvquit.data = wk;
    uv_signal_init(&wk->uvloop, &wk->uvsig);
    wk->uvsig.data = wk;
    r = uv_signal_start(&wk->uvsig, on_uvsig, SIGRTMIN);
    if (r) {
        wk->err = -r;
        uv_close((uv_handle_t *)&wk->uvsig, NULL);
        uv_close((uv_handle_t *)&wk->uvquit, NULL);
    }
    sem_post(&wk->ready);
    if (!wk->err)
        wait_release(wk);
    uv_run(&wk->uvloop, UV_RUN_DEFAULT);
    uv_loop_close(&wk->uvloop);
}
#endif

static void *worker_main(void *arg)
{
    struct worker *wk = arg;
    sigset_t set;

    /* The main thread blocks SIGRTMIN and the loop threads inherit that. */
    sigemptyset(&set);
    sigaddset(&set, SIGRTMIN);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
#ifdef EVSIG_BENCH_LIBUV
    if (wk->uv) {
        libuv_thread(wk);
        return NULL;
    }
#endif
    evsig_thread(wk);
    return NULL;
}

/* --- one repetition -------------------------------------------------------- */

/* Wait until @t has accounted for @n deliveries or stopped moving. */
static void settle(struct tally *t, unsigned n)
{
    struct timespec ms = { 0, 1000000 };
    unsigned seen = total(t);
    double since = bench_now();

    while (seen < n && bench_now() - since < SETTLE) {
        nanosleep(&ms, NULL);
        if (total(t) != seen) {
            seen = total(t);
            since = bench_now();
        }
    }
}

enum { REP_OK, REP_EBUSY, REP_FAILED };

/* Queue value @v, retrying while the kernel's queue is full. */
static int send_one(pid_t self, int v, unsigned long *eagain)
{
    while (sigqueue(self, SIGRTMIN, (union sigval){ .sival_int = v }) < 0) {
        if (errno != EAGAIN) {
            perror("storm: sigqueue");
            return -1;
        }
        ++*eagain;
        sched_yield();
    }
    return 0;
}

/* Paced: wait until the running loop has accounted for all @sent (or stopped
 * moving, then give up pacing: return 0). */
static int caught_up(struct tally *t, unsigned sent)
{
    struct timespec pause = { 0, 20000 };
    double t0 = bench_now();

    while (total(t) < sent) {
        if (bench_now() - t0 > SETTLE)
            return 0;
        nanosleep(&pause, NULL);
    }
    return 1;
}

/* One storm of @n values into configuration @c; what the loops saw goes to
 * @out (running first), the sender's EAGAIN retries to *eagain. */
static int rep(const struct conf *c, int n, struct result *out,
               unsigned long *eagain)
{
    struct worker wk[2];
    int started = 0, res = REP_OK, paced = c->paced;
    pid_t self = getpid();

    memset(wk, 0, sizeof(wk));
    for (int i = 0; i < c->loops; i++) {
        wk[i].role = c->loops == 1 ? STALLED : i;
        wk[i].uv = c->uv;
        wk[i].t.first_lost_call = -1;
        sem_init(&wk[i].ready, 0, 0);
        sem_init(&wk[i].release, 0, 0);
        if (pthread_create(&wk[i].tid, NULL, worker_main, &wk[i]) != 0) {
            res = REP_FAILED;
            break;
        }
        started++;
        while (sem_wait(&wk[i].ready) < 0)
            ;
        if (wk[i].err) {
            res = !c->uv && wk[i].err == EBUSY ? REP_EBUSY : REP_FAILED;
            if (res == REP_FAILED)
                fprintf(stderr, "storm: %s loops=%d: %s\n", c->impl, c->loops,
                        strerror(wk[i].err));
            break;
        }
    }

    *eagain = 0;
    for (int v = 0; res == REP_OK && v < n; v++) {
        if (send_one(self, v, eagain) < 0)
            res = REP_FAILED;
        else if (paced && (v + 1) % BATCH == 0 &&
                 !caught_up(&wk[RUNNING].t, (unsigned)v + 1)) {
            fprintf(stderr, "storm: %s: the running loop stopped at %u of %d; "
                    "sending the rest unpaced\n", c->impl,
                    total(&wk[RUNNING].t), v + 1);
            paced = 0;
        }
    }

    /* The running loop settles first, then the stalled one runs. */
    for (int i = 0; i < started; i++) {
        if (res == REP_OK) {
            if (wk[i].role == STALLED)
                sem_post(&wk[i].release);
            settle(&wk[i].t, (unsigned)n);
        } else if (!wk[i].err) {
            sem_post(&wk[i].release);
        }
    }
    for (int i = 0; i < started; i++) {
#ifdef EVSIG_BENCH_LIBUV
        if (wk[i].uv && !wk[i].err)
            uv_async_send(&wk[i].uvquit);
#endif
        if (!wk[i].uv && !wk[i].err)
            ev_async_send(wk[i].loop, &wk[i].quit);
        pthread_join(wk[i].tid, NULL);
        sem_destroy(&wk[i].ready);
        sem_destroy(&wk[i].release);
    }
    for (int i = 0; i < c->loops; i++) {
        const struct tally *t = &wk[i].t;

        out[wk[i].role] = (struct result){
            .calls = atomic_load(&t->calls),
            .lost = atomic_load(&t->lost),
            .first_lost_call = t->first_lost_call,
            .first_lost_value = t->first_lost_value,
            .out_of_order = t->out_of_order,
        };
        if (res == REP_OK && getenv("EVSIG_BENCH_VERBOSE"))
            fprintf(stderr, "storm rep %s loops=%d %s loop=%s delivered=%u "
                    "lost=%u first_lost_call=%d first_lost_value=%d\n",
                    c->impl, c->loops, c->paced ? "paced" : "flood",
                    loop_name[wk[i].role], out[wk[i].role].calls,
                    out[wk[i].role].lost, t->first_lost_call,
                    t->first_lost_value);
    }
    return res;
}

/* --- the report ------------------------------------------------------------ */

/* The median of the @n values @get picks from @res, skipping negatives;
 * -1 if all are. */
static double median_of(const struct result *res, int n,
                        double (*get)(const struct result *))
{
    double *v = calloc((size_t)n, sizeof(*v)), m = -1;
    int k = 0;

    for (int r = 0; r < n; r++)
        if (get(&res[r]) >= 0)
            v[k++] = get(&res[r]);
    if (k)
        m = bench_median(v, k);
    free(v);
    return m;
}

static double get_calls(const struct result *r) { return r->calls; }
static double get_lost(const struct result *r) { return r->lost; }
static double get_total(const struct result *r) { return (double)r->calls + r->lost; }
static double get_flc(const struct result *r) { return r->first_lost_call; }
static double get_flv(const struct result *r) { return r->first_lost_value; }

static void print_head(const struct conf *c)
{
    printf("storm %s loops=%d send=%s", c->impl, c->loops,
           c->paced ? "paced" : "flood");
}

static void print_loop(const struct conf *c, int l, const struct result *res,
                       const double *eagain, int reps, int n)
{
    int exact = 0, lossy = 0;
    unsigned ooo = 0;
    double *ea = calloc((size_t)reps, sizeof(*ea));

    for (int r = 0; r < reps; r++) {
        exact += get_total(&res[r]) == n;
        lossy += res[r].first_lost_call >= 0;
        ooo += res[r].out_of_order;
        ea[r] = eagain[r];
    }
    print_head(c);
    printf(" loop=%s delivered=%.0f", loop_name[l],
           median_of(res, reps, get_calls));
    if (c->uv) {
        printf(" lost=n/a total=n/a first_lost_call=n/a first_lost_value=n/a"
               " exact=n/a");
    } else {
        printf(" lost=%.0f total=%.0f", median_of(res, reps, get_lost),
               median_of(res, reps, get_total));
        /* Medians over the reps that lost anything. */
        if (lossy)
            printf(" first_lost_call=%.0f first_lost_value=%.0f",
                   median_of(res, reps, get_flc), median_of(res, reps, get_flv));
        else
            printf(" first_lost_call=- first_lost_value=-");
        printf(" exact=%d/%d", exact, reps);
    }
    printf(" sent=%d eagain=%.0f", n, bench_median(ea, reps));
    if (!c->uv && ooo)
        printf(" out_of_order=%u", ooo);
    printf("\n");
    free(ea);
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 10000;
    int reps = argc > 2 ? atoi(argv[2]) : 3;
    struct result (*res)[NCONF][2], *per;
    unsigned long (*eagain)[NCONF];
    double *ea;
    int state[NCONF], bad = 0, first_version_shown = 0;
    sigset_t set;

    if (n < BATCH || reps <= 0) {
        fprintf(stderr, "usage: %s [signals (>= %d) [reps]]\n", argv[0], BATCH);
        return 2;
    }
    res = calloc((size_t)reps, sizeof(*res));
    eagain = calloc((size_t)reps, sizeof(*eagain));
    per = calloc((size_t)reps, sizeof(*per));
    ea = calloc((size_t)reps, sizeof(*ea));
    sigemptyset(&set);
    sigaddset(&set, SIGRTMIN);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    for (int c = 0; c < NCONF; c++) {
        state[c] = REP_OK;
#ifndef EVSIG_BENCH_LIBUV
        if (confs[c].uv)
            state[c] = REP_FAILED;
#endif
    }

    for (int r = 0; r < reps; r++)
        for (int c = 0; c < NCONF; c++)
            if (state[c] == REP_OK)
                state[c] = rep(&confs[c], n, res[r][c], &eagain[r][c]);

    for (int c = 0; c < NCONF; c++) {
        const struct conf *cf = &confs[c];

        if (state[c] != REP_OK) {
            print_head(cf);
            printf(" delivered=n/a   ");
            if (state[c] == REP_EBUSY) {
                printf("evsig: n/a (EBUSY: first version)\n");
#ifndef EVSIG_BENCH_LIBUV
            } else if (cf->uv) {
                printf("libuv: n/a (built without libuv)\n");
#endif
            } else {
                printf("%s: n/a (failed, see stderr)\n", cf->impl);
                bad = 1;
            }
            continue;
        }
        for (int l = cf->loops == 1 ? STALLED : RUNNING; l <= STALLED; l++) {
            for (int r = 0; r < reps; r++) {
                per[r] = res[r][c][l];
                ea[r] = (double)eagain[r][c];
                if (!cf->uv && get_total(&per[r]) != n) {
                    if (cf->loops == 2 || LOSS_COUNTED_AT_ONCE)
                        bad = 1;
                    else
                        first_version_shown = 1;
                }
            }
            print_loop(cf, l, per, ea, reps, n);
        }
    }
    if (!LOSS_COUNTED_AT_ONCE && state[NCONF - 1] == REP_OK)
        printf("storm note: first version: a loss is reported with a later "
               "delivery, so loops=1 is shown, not checked%s\n",
               first_version_shown ? " (and it was short)" : "");

    evsig_reset();
    free(res);
    free(eagain);
    free(per);
    free(ea);
    if (bad)
        fprintf(stderr, "storm: an evsig loop's delivered + lost != sent\n");
    return bad;
}

/* SPDX-License-Identifier: MIT */
/*
 * fanout.c - one signal, K loops in K threads: how long from kill() until
 * every loop has run its callback.
 *
 * The main thread blocks SIGUSR1, so the kernel hands each kill(getpid(),
 * SIGUSR1) to one of the loop threads. Each callback stamps the monotonic
 * clock into its loop's slot and bumps a shared counter; the last of the K
 * posts a semaphore. Latency of one trip = the latest stamp - the time taken
 * just before kill(). The main thread sleeps in sem_wait() meanwhile (it
 * does not spin: with K = 4 loop threads on a 2-core machine a spinning
 * waiter would steal the CPU it is timing). Trips are back to back, so a
 * loop's work after its callback lands in the next trip, for every
 * implementation alike.
 *
 * Four implementations, K = 1, 2, 4, alternated rep by rep (for each rep,
 * for each K: evsig, floor, floor-async, libuv), each rep in fresh threads
 * and loops:
 *
 *   evsig        evsig_watch(SIGUSR1) on each thread's own
 *                ev_loop_new(EVFLAG_NOENV); evsig's C handler wakes every
 *                loop.
 *   floor        the floor of the ratios: a bare sigaction() handler
 *                (SA_RESTART, full mask) write()s 1 to each of K eventfds;
 *                each thread runs an ev_loop_new(EVFLAG_NOENV) with an ev_io
 *                on its own eventfd, whose callback read()s the eventfd and
 *                then stamps. libev's wakeup is in it, nothing of evsig.
 *   floor-async  the same handler and loops, but the handler wakes each loop
 *                with ev_async_send() and the callback is an ev_async's:
 *                libev's own signal-safe wakeup, which evsig's design uses.
 *                ev_async_send() skips the write() (and the loop the read())
 *                when the loop is not blocked in epoll_wait() at that moment,
 *                which the eventfd floor cannot; so floor-async can be below
 *                floor at K = 1, and evsig, which wakes loops the same way,
 *                can be too. evsig/floor-async is evsig's own cost.
 *   libuv        K uv_loop_t, each with a uv_signal_t on SIGUSR1 (built only
 *                when meson finds libuv; else its rows say n/a). Its handler
 *                takes a global lock (a pipe read and write) and writes a
 *                message to each loop's pipe.
 *
 * Placement: the main thread runs on the first CPU the process may use and
 * loop i on CPU i mod ncpus (of that set), the same for every
 * implementation. Unpinned, the scheduler puts the loop thread beside the
 * main thread for some reps and on the other CPU for others, and on a VM
 * waking an idle vCPU costs several times the whole trip: the medians then
 * jump between two modes from run to run. So on 2 CPUs, K = 1 measures the
 * path on one CPU, and K >= 2 includes waking a thread on the other CPU;
 * under `taskset -c 0` every thread shares one CPU and the K loops' work
 * adds up. EVSIG_BENCH_NOPIN=1 in the environment leaves placement to the
 * scheduler.
 *
 * The first version of evsig serves a signal on one loop only: there
 * evsig_watch() fails with EBUSY for the second loop, and the evsig row for
 * that K says n/a instead of a time.
 *
 * Output, one line per (impl, K), then one ratio line per K:
 *   fanout <impl> K=<k> ns=<median> p90=<median p90> trips=<n>x<reps>
 *   fanout ratio K=<k> evsig/floor=<r> libuv/floor=<r> floor-async/floor=<r>
 *          evsig/floor-async=<r>
 * ns is the median over reps of each rep's median trip; n/a where an
 * implementation could not run. Exits non-zero if a trip timed out (a
 * callback that did not run) or a setup failed for a reason other than the
 * first version's EBUSY or a missing libuv.
 *
 * With a fourth argument (0 evsig, 1 floor, 2 floor-async, 3 libuv) only
 * that implementation runs: for counting system calls under strace.
 *
 *   usage: evsig-bench-fanout [trips-per-rep [reps [kmax [impl]]]]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <evsig.h>
#ifdef EVSIG_BENCH_LIBUV
#include <uv.h>
#endif

#include "bench.h"

#define KMAX 4
#define TRIP_TIMEOUT 2   /* seconds before a trip counts as lost */

enum { EVSIG, FLOOR, FLOOR_ASYNC, LIBUV, NIMPL };
static const char *const names[NIMPL] = { "evsig", "floor", "floor-async", "libuv" };

/* What one trip shares between the main thread and the loop threads. */
static struct trip {
    int        k;
    atomic_int done;
    double     stamp[KMAX];
    sem_t      all_done;
} trip;

struct worker {
    int             impl, idx;
    pthread_t       tid;
    sem_t           ready;   /* posted once set up (or failed) */
    int             err;     /* errno of a failed setup, else 0 */
    struct ev_loop *loop;
    ev_async        quit;
    evsig_watcher   w;
    ev_io           io;      /* floor: on efd */
    int             efd;
    ev_async        wake;    /* floor-async */
#ifdef EVSIG_BENCH_LIBUV
    uv_loop_t       uvloop;
    uv_signal_t     uvsig;
    uv_async_t      uvquit;
#endif
};

static void arrived(int idx)
{
    trip.stamp[idx] = bench_now();
    if (atomic_fetch_add(&trip.done, 1) + 1 == trip.k)
        sem_post(&trip.all_done);
}

/* --- evsig and the floors: a libev loop per thread ------------------------ */

static void on_evsig(struct ev_loop *loop, const evsig_info *info, void *data)
{
    (void)loop;
    (void)info;
    arrived(((struct worker *)data)->idx);
}

static void on_eventfd(struct ev_loop *loop, ev_io *io, int revents)
{
    struct worker *wk = io->data;
    uint64_t v;

    (void)loop;
    (void)revents;
    if (read(wk->efd, &v, sizeof(v)) == (ssize_t)sizeof(v))
        arrived(wk->idx);
}

static void on_wake(struct ev_loop *loop, ev_async *a, int revents)
{
    (void)loop;
    (void)revents;
    arrived(((struct worker *)a->data)->idx);
}

static void on_quit(struct ev_loop *loop, ev_async *a, int revents)
{
    (void)a;
    (void)revents;
    ev_break(loop, EVBREAK_ALL);
}

static void *libev_thread(void *arg)
{
    struct worker *wk = arg;

    wk->loop = ev_loop_new(EVFLAG_NOENV);
    if (!wk->loop) {
        wk->err = ENOMEM;
        sem_post(&wk->ready);
        return NULL;
    }
    ev_async_init(&wk->quit, on_quit);
    ev_async_start(wk->loop, &wk->quit);
    if (wk->impl == EVSIG) {
        if (evsig_watch(wk->loop, &wk->w, SIGUSR1, on_evsig, wk, 0) < 0)
            wk->err = errno;
    } else if (wk->impl == FLOOR) {
        ev_io_init(&wk->io, on_eventfd, wk->efd, EV_READ);
        wk->io.data = wk;
        ev_io_start(wk->loop, &wk->io);
    } else {
        ev_async_init(&wk->wake, on_wake);
        wk->wake.data = wk;
        ev_async_start(wk->loop, &wk->wake);
    }
    sem_post(&wk->ready);
    if (!wk->err)
        ev_run(wk->loop, 0);

    /* On the loop's own thread: the first version of evsig is not safe to
     * call for a loop that another thread runs. */
    if (wk->impl == EVSIG)
        evsig_unwatch(&wk->w);
    else if (wk->impl == FLOOR)
        ev_io_stop(wk->loop, &wk->io);
    else
        ev_async_stop(wk->loop, &wk->wake);
    ev_async_stop(wk->loop, &wk->quit);
    ev_loop_destroy(wk->loop);
    return NULL;
}

/* The floors' handler: wake each loop once, nothing else. Set up before
 * the handler is installed, cleared after it is removed. */
static struct worker *floor_wk;
static int floor_k;

static void floor_handler(int signo)
{
    int saved = errno;
    uint64_t one = 1;

    (void)signo;
    for (int i = 0; i < floor_k; i++) {
        if (floor_wk[i].impl == FLOOR)
            (void)!write(floor_wk[i].efd, &one, sizeof(one));
        else
            ev_async_send(floor_wk[i].loop, &floor_wk[i].wake);
    }
    errno = saved;
}

/* --- libuv: a uv_loop_t per thread ---------------------------------------- */

#ifdef EVSIG_BENCH_LIBUV
static void on_uvsig(uv_signal_t *s, int signum)
{
    (void)signum;
    arrived(((struct worker *)s->data)->idx);
}

static void on_uvquit(uv_async_t *a)
{
    struct worker *wk = a->data;

    uv_close((uv_handle_t *)&wk->uvsig, NULL);
    uv_close((uv_handle_t *)&wk->uvquit, NULL);
}

static void *libuv_thread(void *arg)
{
    struct worker *wk = arg;
    int r;

    r = uv_loop_init(&wk->uvloop);
    if (r) {
        wk->err = -r;
        sem_post(&wk->ready);
        return NULL;
    }
    uv_async_init(&wk->uvloop, &wk->uvquit, on_uvquit);
    wk->uvquit.data = wk;
    uv_signal_init(&wk->uvloop, &wk->uvsig);
    wk->uvsig.data = wk;
    r = uv_signal_start(&wk->uvsig, on_uvsig, SIGUSR1);
    if (r) {
        wk->err = -r;
        uv_close((uv_handle_t *)&wk->uvsig, NULL);
        uv_close((uv_handle_t *)&wk->uvquit, NULL);
    }
    sem_post(&wk->ready);
    uv_run(&wk->uvloop, UV_RUN_DEFAULT);
    uv_loop_close(&wk->uvloop);
    return NULL;
}
#endif

/* --- one repetition -------------------------------------------------------- */

/* The CPUs this process may use, in order; main runs on cpus[0], loop i on
 * cpus[i % ncpus]. ncpus == 0: nothing pinned. */
static int cpus[CPU_SETSIZE], ncpus;

static void pin(int slot)
{
    cpu_set_t one;

    if (!ncpus)
        return;
    CPU_ZERO(&one);
    CPU_SET(cpus[slot % ncpus], &one);
    pthread_setaffinity_np(pthread_self(), sizeof(one), &one);
}

static void find_cpus(void)
{
    cpu_set_t all;

    if (sched_getaffinity(0, sizeof(all), &all) < 0)
        return;
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &all))
            cpus[ncpus++] = c;
}

static void *worker_main(void *arg)
{
    struct worker *wk = arg;
    sigset_t set;

    pin(wk->idx);

    /* The main thread blocks SIGUSR1 and the loop threads inherit that. */
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
#ifdef EVSIG_BENCH_LIBUV
    if (wk->impl == LIBUV)
        return libuv_thread(wk);
#endif
    return libev_thread(wk);
}

static void stop_worker(struct worker *wk)
{
#ifdef EVSIG_BENCH_LIBUV
    if (wk->impl == LIBUV) {
        if (!wk->err)
            uv_async_send(&wk->uvquit);
        pthread_join(wk->tid, NULL);
        return;
    }
#endif
    if (!wk->err)
        ev_async_send(wk->loop, &wk->quit);
    pthread_join(wk->tid, NULL);
}

/* The error of a rep that could not run. */
enum { REP_OK, REP_EBUSY, REP_FAILED, REP_LOST };

/*
 * One rep of @n trips of @impl with @k loops: *med and *p90 get ns per trip.
 * Threads start one at a time (the first version of evsig takes no lock of
 * its own) and stop one at a time.
 */
static int rep(int impl, int k, int n, double *lat, double *med, double *p90)
{
    struct worker wk[KMAX];
    struct sigaction sa, old;
    pid_t self = getpid();
    int started = 0, res = REP_OK;

    memset(wk, 0, sizeof(wk));
    trip.k = k;
    while (sem_trywait(&trip.all_done) == 0)
        ;   /* a post left by a trip that timed out */
    for (int i = 0; i < k; i++) {
        wk[i].impl = impl;
        wk[i].idx = i;
        wk[i].efd = -1;
        if (impl == FLOOR)
            wk[i].efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        sem_init(&wk[i].ready, 0, 0);
        if (pthread_create(&wk[i].tid, NULL, worker_main, &wk[i]) != 0) {
            res = REP_FAILED;
            break;
        }
        started++;
        while (sem_wait(&wk[i].ready) < 0)
            ;
        if (wk[i].err) {
            res = impl == EVSIG && wk[i].err == EBUSY ? REP_EBUSY : REP_FAILED;
            if (res == REP_FAILED)
                fprintf(stderr, "fanout: %s K=%d loop %d: %s\n", names[impl],
                        k, i, strerror(wk[i].err));
            break;
        }
    }

    if (res == REP_OK && (impl == FLOOR || impl == FLOOR_ASYNC)) {
        floor_wk = wk;
        floor_k = k;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = floor_handler;
        sa.sa_flags = SA_RESTART;
        sigfillset(&sa.sa_mask);
        sigaction(SIGUSR1, &sa, &old);
    }
    for (int i = 0; res == REP_OK && i < n; i++) {
        struct timespec dl;
        double t0, last;

        atomic_store(&trip.done, 0);
        clock_gettime(CLOCK_REALTIME, &dl);
        dl.tv_sec += TRIP_TIMEOUT;
        t0 = bench_now();
        kill(self, SIGUSR1);
        while (sem_timedwait(&trip.all_done, &dl) < 0) {
            if (errno == ETIMEDOUT) {
                fprintf(stderr, "fanout: %s K=%d: trip %d: %d of %d loops "
                        "called back\n", names[impl], k, i,
                        atomic_load(&trip.done), k);
                res = REP_LOST;
                break;
            }
        }
        last = trip.stamp[0];
        for (int j = 1; j < k; j++)
            if (trip.stamp[j] > last)
                last = trip.stamp[j];
        lat[i] = (last - t0) * 1e9;
    }
    if (floor_k) {
        sigaction(SIGUSR1, &old, NULL);
        floor_k = 0;
        floor_wk = NULL;
    }

    for (int i = 0; i < started; i++) {
        stop_worker(&wk[i]);
        sem_destroy(&wk[i].ready);
        if (wk[i].efd >= 0)
            close(wk[i].efd);
    }
    if (res == REP_OK) {
        *med = bench_median(lat, n);      /* sorts lat */
        *p90 = lat[(int)(n * 0.9)];
    }
    return res;
}

static void print_ratio(const double *m, int a, int b)
{
    if (m[a] > 0 && m[b] > 0)
        printf(" %s/%s=%.3f", names[a], names[b], m[a] / m[b]);
    else
        printf(" %s/%s=n/a", names[a], names[b]);
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 2000;
    int reps = argc > 2 ? atoi(argv[2]) : 7;
    int kmax = argc > 3 ? atoi(argv[3]) : KMAX;
    int only = argc > 4 ? atoi(argv[4]) : -1;
    static const int ks[] = { 1, 2, 4 };
    enum { NK = sizeof(ks) / sizeof(ks[0]) };
    double *med[NK][NIMPL], *p90[NK][NIMPL], *lat, m[NK][NIMPL];
    int state[NK][NIMPL], bad = 0;
    sigset_t set;

    if (n <= 0 || reps <= 0 || kmax < 1 || kmax > KMAX || only >= NIMPL) {
        fprintf(stderr, "usage: %s [trips-per-rep [reps [kmax (1..%d) "
                "[impl (0..%d)]]]]\n", argv[0], KMAX, NIMPL - 1);
        return 2;
    }
    if (!getenv("EVSIG_BENCH_NOPIN")) {
        find_cpus();
        pin(0);
    }
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    sem_init(&trip.all_done, 0, 0);
    lat = calloc((size_t)n, sizeof(*lat));
    for (int j = 0; j < NK; j++) {
        for (int k = 0; k < NIMPL; k++) {
            med[j][k] = calloc((size_t)reps, sizeof(double));
            p90[j][k] = calloc((size_t)reps, sizeof(double));
            state[j][k] = REP_OK;
        }
#ifndef EVSIG_BENCH_LIBUV
        state[j][LIBUV] = REP_FAILED;
#endif
    }

    for (int r = 0; r < reps; r++) {
        for (int j = 0; j < NK && ks[j] <= kmax; j++) {
            for (int k = 0; k < NIMPL; k++) {
                if (state[j][k] != REP_OK || (only >= 0 && k != only))
                    continue;
                state[j][k] = rep(k, ks[j], n, lat, &med[j][k][r], &p90[j][k][r]);
                if (state[j][k] == REP_LOST || (state[j][k] == REP_FAILED &&
                                                k != LIBUV))
                    bad = 1;
            }
        }
    }

    for (int j = 0; j < NK && ks[j] <= kmax; j++) {
        for (int k = 0; k < NIMPL; k++) {
            m[j][k] = 0;
            if (only >= 0 && k != only)
                continue;
            printf("fanout %-11s K=%d ", names[k], ks[j]);
            if (state[j][k] == REP_OK) {
                m[j][k] = bench_median(med[j][k], reps);
                printf("ns=%.0f p90=%.0f trips=%dx%d\n", m[j][k],
                       bench_median(p90[j][k], reps), n, reps);
            } else if (state[j][k] == REP_EBUSY) {
                printf("ns=n/a   evsig: n/a (EBUSY: first version)\n");
            } else if (k == LIBUV && state[j][k] == REP_FAILED) {
#ifdef EVSIG_BENCH_LIBUV
                printf("ns=n/a   libuv: n/a (setup failed)\n");
#else
                printf("ns=n/a   libuv: n/a (built without libuv)\n");
#endif
            } else {
                printf("ns=n/a   %s: n/a (failed, see stderr)\n", names[k]);
            }
        }
        printf("fanout ratio K=%d", ks[j]);
        print_ratio(m[j], EVSIG, FLOOR);
        print_ratio(m[j], LIBUV, FLOOR);
        print_ratio(m[j], FLOOR_ASYNC, FLOOR);
        print_ratio(m[j], EVSIG, FLOOR_ASYNC);
        printf("\n");
    }

    evsig_reset();
    for (int j = 0; j < NK; j++)
        for (int k = 0; k < NIMPL; k++) {
            free(med[j][k]);
            free(p90[j][k]);
        }
    free(lat);
    if (bad)
        fprintf(stderr, "fanout: a trip was lost or a setup failed\n");
    return bad;
}

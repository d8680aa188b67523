/* SPDX-License-Identifier: MIT */
/*
 * roundtrip.c - the cost of one signal round trip: kill() yourself, run the
 * loop until the handler has run.
 *
 * Four implementations, measured in the same run and alternated
 * (A B C D A B C D ...) so that drift on a shared machine hits them alike:
 *
 *   evsig-table    evsig_signal() table handler
 *   evsig-watcher  evsig_watch() watcher
 *   libev          a raw ev_signal
 *   floor          no loop: sigwaitinfo() on the blocked signal
 *
 * Prints one line per implementation: "roundtrip <impl> ns <median>" over
 * the repetitions, then the ratios. Exits non-zero if any round trip was
 * lost (a handler that did not run).
 *
 * With a third argument (0..3) only that implementation runs, once: for
 * counting instructions under callgrind or system calls under strace.
 *
 *   usage: evsig-bench-roundtrip [round-trips-per-rep [reps [impl]]]
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <evsig.h>

#include "bench.h"

enum { EVSIG_TABLE, EVSIG_WATCHER, LIBEV, FLOOR, NIMPL };

static const char *const names[NIMPL] = {
    "evsig-table", "evsig-watcher", "libev", "floor",
};

static volatile int hits;

static void on_evsig(struct ev_loop *loop, const evsig_info *info, void *data)
{
    (void)loop;
    (void)info;
    (void)data;
    hits++;
}

static void on_libev(struct ev_loop *loop, ev_signal *w, int revents)
{
    (void)loop;
    (void)w;
    (void)revents;
    hits++;
}

/* One repetition of @n round trips; returns ns per round trip, or -1 if a
 * delivery was lost. */
static double rep(struct ev_loop *loop, int impl, int n)
{
    pid_t self = getpid();
    evsig_watcher w;
    ev_signal evw;
    sigset_t set;
    siginfo_t si;
    double t0, t;

    hits = 0;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    switch (impl) {
    case EVSIG_TABLE:
        evsig_signal(loop, SIGUSR1, on_evsig, NULL, NULL);
        break;
    case EVSIG_WATCHER:
        evsig_watch(loop, &w, SIGUSR1, on_evsig, NULL, 0);
        break;
    case LIBEV:
        ev_signal_init(&evw, on_libev, SIGUSR1);
        ev_signal_start(loop, &evw);
        break;
    case FLOOR:
        sigprocmask(SIG_BLOCK, &set, NULL);
        break;
    }

    t0 = bench_now();
    for (int i = 0; i < n; i++) {
        kill(self, SIGUSR1);
        if (impl == FLOOR) {
            if (sigwaitinfo(&set, &si) == SIGUSR1)
                hits++;
        } else {
            while (hits == i)
                ev_run(loop, EVRUN_ONCE);
        }
    }
    t = (bench_now() - t0) * 1e9 / n;

    switch (impl) {
    case EVSIG_TABLE:
        evsig_signal(loop, SIGUSR1, EVSIG_DFL, NULL, NULL);
        break;
    case EVSIG_WATCHER:
        evsig_unwatch(&w);
        break;
    case LIBEV:
        ev_signal_stop(loop, &evw);
        break;
    case FLOOR:
        sigprocmask(SIG_UNBLOCK, &set, NULL);
        break;
    }
    return hits == n ? t : -1;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 20000;
    int reps = argc > 2 ? atoi(argv[2]) : 7;
    struct ev_loop *loop = ev_default_loop(0);
    double *t[NIMPL], med[NIMPL];
    int lost = 0;

    if (n <= 0 || reps <= 0) {
        fprintf(stderr, "usage: %s [round-trips-per-rep [reps]]\n", argv[0]);
        return 2;
    }
    for (int k = 0; k < NIMPL; k++)
        t[k] = calloc((size_t)reps, sizeof(double));
    if (argc > 3) {
        int k = atoi(argv[3]);

        if (k < 0 || k >= NIMPL)
            return 2;
        lost = rep(loop, k, n) < 0;
        evsig_reset();
        return lost;
    }

    for (int r = 0; r < reps; r++) {
        for (int k = 0; k < NIMPL; k++) {
            t[k][r] = rep(loop, k, n);
            if (t[k][r] < 0)
                lost = 1;
        }
    }
    for (int k = 0; k < NIMPL; k++) {
        med[k] = bench_median(t[k], reps);
        printf("roundtrip %-13s ns %.0f\n", names[k], med[k]);
    }
    printf("roundtrip ratio evsig-table/libev %.3f evsig-watcher/libev %.3f "
           "evsig-table/floor %.3f\n", med[EVSIG_TABLE] / med[LIBEV],
           med[EVSIG_WATCHER] / med[LIBEV], med[EVSIG_TABLE] / med[FLOOR]);
    evsig_reset();
    for (int k = 0; k < NIMPL; k++)
        free(t[k]);
    if (lost)
        fprintf(stderr, "roundtrip: a delivery was lost\n");
    return lost;
}

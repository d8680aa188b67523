/* SPDX-License-Identifier: MIT */
/*
 * rtqueue.c - queued real-time signals from a second process.
 *
 * A sender process sigqueue()s N values of SIGRTMIN to us and, after every
 * batch of 100, waits for one acknowledgement byte on a pipe, so the
 * kernel's queue never overflows. Measured in one run, alternated:
 *
 *   evsig   an evsig watcher: one call per value (acks after 100 values)
 *   libev   a raw ev_signal: libev merges queued signals into one callback
 *           per loop iteration (acks after each callback)
 *   floor   sigwaitinfo() on the blocked signal
 *
 * Output: "rtqueue <impl> values=<received> sent=<n> per_s=<rate>".
 * Exits non-zero if evsig or the floor received fewer values than sent, or
 * a value out of order.
 *
 *   usage: evsig-bench-rtqueue [values [reps]]
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <evsig.h>

#include "bench.h"

#define BATCH 100

enum { EVSIG, LIBEV, FLOOR, NIMPL };
static const char *const names[NIMPL] = { "evsig", "libev", "floor" };

static int received, callbacks, next_value, ack_fd, out_of_order;

static void ack(void)
{
    (void)!write(ack_fd, "a", 1);
}

static void on_evsig(struct ev_loop *loop, const evsig_info *info, void *data)
{
    (void)loop;
    (void)data;
    if (info->value.sival_int != next_value)
        out_of_order++;
    next_value = info->value.sival_int + 1;
    if (++received % BATCH == 0)
        ack();
}

static void on_libev(struct ev_loop *loop, ev_signal *w, int revents)
{
    (void)loop;
    (void)w;
    (void)revents;
    callbacks++;
    ack();   /* libev cannot tell how many values arrived */
}

static void sender(pid_t target, int n, int ack_rd)
{
    char c;

    for (int i = 0; i < n; i++) {
        union sigval v = { .sival_int = i };

        while (sigqueue(target, SIGRTMIN, v) < 0)
            ;   /* EAGAIN: the queue is full; the receiver catches up */
        if ((i + 1) % BATCH == 0 && read(ack_rd, &c, 1) != 1)
            _exit(1);
    }
    _exit(0);
}

static double run(struct ev_loop *loop, int impl, int n, int *got)
{
    int p[2];
    pid_t pid;
    evsig_watcher w;
    ev_signal evw;
    sigset_t set;
    siginfo_t si;
    double t0;

    sigemptyset(&set);
    sigaddset(&set, SIGRTMIN);
    received = callbacks = next_value = out_of_order = 0;
    if (pipe(p) < 0)
        exit(1);
    ack_fd = p[1];
    if (impl == EVSIG)
        evsig_watch(loop, &w, SIGRTMIN, on_evsig, NULL, 0);
    else if (impl == LIBEV) {
        ev_signal_init(&evw, on_libev, SIGRTMIN);
        ev_signal_start(loop, &evw);
    } else
        sigprocmask(SIG_BLOCK, &set, NULL);

    t0 = bench_now();
    pid = fork();
    if (pid == 0)
        sender(getppid(), n, p[0]);
    if (impl == FLOOR) {
        while (received < n && sigwaitinfo(&set, &si) == SIGRTMIN) {
            if (si.si_value.sival_int != next_value)
                out_of_order++;
            next_value = si.si_value.sival_int + 1;
            if (++received % BATCH == 0)
                ack();
        }
    } else {
        int status;

        /* Until the sender is done (libev cannot count what it got). */
        while (waitpid(pid, &status, WNOHANG) == 0)
            ev_run(loop, EVRUN_ONCE);
        ev_run(loop, EVRUN_NOWAIT);
        pid = 0;
    }
    t0 = bench_now() - t0;
    if (pid > 0)
        waitpid(pid, NULL, 0);
    if (impl == EVSIG)
        evsig_unwatch(&w);
    else if (impl == LIBEV)
        ev_signal_stop(loop, &evw);
    else
        sigprocmask(SIG_UNBLOCK, &set, NULL);
    close(p[0]);
    close(p[1]);
    *got = impl == LIBEV ? callbacks : received;
    return t0;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 10000;
    int reps = argc > 2 ? atoi(argv[2]) : 3;
    struct ev_loop *loop = ev_default_loop(0);
    double best[NIMPL] = { 0 };
    int got[NIMPL] = { 0 }, bad = 0;

    if (n < BATCH || n % BATCH || reps <= 0) {
        fprintf(stderr, "usage: %s [values (multiple of %d) [reps]]\n", argv[0], BATCH);
        return 2;
    }
    for (int r = 0; r < reps; r++) {
        for (int k = 0; k < NIMPL; k++) {
            int g;
            double t = run(loop, k, n, &g);

            if (!best[k] || t < best[k])
                best[k] = t;
            got[k] = g;
            if (k != LIBEV && (g != n || out_of_order))
                bad = 1;
        }
    }
    for (int k = 0; k < NIMPL; k++)
        printf("rtqueue %s values=%d sent=%d per_s=%.0f\n", names[k], got[k], n,
               n / best[k]);
    evsig_reset();
    if (bad)
        fprintf(stderr, "rtqueue: values lost or out of order\n");
    return bad;
}

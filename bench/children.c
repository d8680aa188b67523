/* SPDX-License-Identifier: MIT */
/*
 * children.c - what a child costs: fork it, let it exit, get its status
 * through the loop. Two workloads, each measured for evsig, raw libev
 * doing the same job by hand, and the bare-syscall floor, in one run,
 * alternated so that drift on a shared machine hits them alike:
 *
 *   serial   one child at a time: fork, the child _exits, status through
 *            the loop. evsig_fork_and_watch + callback | fork + ev_child |
 *            floor fork + blocking waitpid(pid) | floor waitpid(-1).
 *   burst    fork B children that wait on a pipe, release them at once,
 *            reap all through the loop. Time per reaped child (the
 *            children's exits included: see reap.c for reaping alone).
 *
 * evsig runs with its default child backend (EVSIG_CHILD_AUTO); reap.c
 * sets each backend beside raw libev and the floors with L live children.
 * evsig_reset() ends each evsig turn: under the PIDFD backend evsig owns
 * SIGCHLD and raw ev_child watchers would not fire.
 *
 * Beside every time: minor page faults per child (getrusage, parent and
 * children), since on a small VM a copy-on-write fault costs ~15 us and
 * fork timings mostly measure the pages touched between fork and reap.
 *
 * Output: "children backend=<evsig's child backend>", then one line per
 * measurement,
 *   <workload> <impl> L=0 us=<median> pfaults=<parent> cfaults=<child>
 * Exits non-zero if any child was lost or reported with a wrong status.
 *
 * With a fifth argument (0..3) only the serial workload of that
 * implementation runs, once: for counting system calls under strace.
 *
 *   usage: evsig-bench-children [serial-n [burst-n [reps [impl]]]]
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <evsig.h>

#include "bench.h"

enum { EVSIG, LIBEV, FLOOR_PID, FLOOR_ANY, NIMPL };

static const char *const names[NIMPL] = {
    "evsig", "libev", "floor-waitpid-pid", "floor-waitpid-any",
};

static int reported, bad;
static const char *backend = "libev (first version)";

static void on_evsig_exit(struct ev_loop *loop, pid_t pid, int status, void *data)
{
    (void)loop;
    (void)pid;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != (int)(long)data)
        bad++;
    reported++;
}

static void on_libev_exit(struct ev_loop *loop, ev_child *w, int revents)
{
    (void)revents;
    if (!WIFEXITED(w->rstatus) || WEXITSTATUS(w->rstatus) != (int)(long)w->data)
        bad++;
    ev_child_stop(loop, w);
    reported++;
}

struct faults {
    long self, children;
};

static struct faults faults_now(void)
{
    struct rusage s, c;

    getrusage(RUSAGE_SELF, &s);
    getrusage(RUSAGE_CHILDREN, &c);
    return (struct faults){ s.ru_minflt, c.ru_minflt };
}

/*
 * After @impl's turn: note evsig's backend, then forget evsig's state, so
 * raw libev's ev_child works in the next turn whatever the backend; and
 * let libev's reaper see the SIGCHLDs it caught while nothing is a zombie.
 */
static void turn_end(struct ev_loop *loop, int impl)
{
    if (impl == EVSIG) {
#ifdef EVSIG_CHILD_PIDFD
        backend = evsig_child_backend() == EVSIG_CHILD_PIDFD ? "pidfd" : "libev";
#endif
        evsig_reset();
    }
    ev_run(loop, EVRUN_NOWAIT);
}

/* @n serial children with @impl; returns us per child. */
static double serial(struct ev_loop *loop, int impl, int n, struct faults *f)
{
    struct faults f0 = faults_now();
    double t0 = bench_now();
    ev_child *w = calloc((size_t)n, sizeof(*w));
    int status;

    reported = 0;
    for (int i = 0; i < n; i++) {
        long code = i % 200;
        pid_t pid;

        switch (impl) {
        case EVSIG:
            pid = evsig_fork_and_watch(loop, on_evsig_exit, (void *)code, 0);
            if (pid == 0)
                _exit((int)code);
            if (pid < 0)
                goto fail;
            while (reported == i)
                ev_run(loop, EVRUN_ONCE);
            /* Collect it, as a program using evsig_waitpid would. */
            evsig_waitpid(loop, pid, &status, WNOHANG);
            break;
        case LIBEV:
            pid = fork();
            if (pid == 0)
                _exit((int)code);
            if (pid < 0)
                goto fail;
            ev_child_init(&w[i], on_libev_exit, pid, 0);
            w[i].data = (void *)code;
            ev_child_start(loop, &w[i]);
            while (reported == i)
                ev_run(loop, EVRUN_ONCE);
            break;
        default:
            pid = fork();
            if (pid == 0)
                _exit((int)code);
            if (pid < 0)
                goto fail;
            if (impl == FLOOR_PID) {
                waitpid(pid, &status, 0);
            } else {
                while (waitpid(-1, &status, 0) != pid)
                    ;
            }
            if (!WIFEXITED(status) || WEXITSTATUS(status) != code)
                bad++;
            reported++;
            break;
        }
    }
    t0 = (bench_now() - t0) * 1e6 / n;
    free(w);
    {
        struct faults f1 = faults_now();

        f->self = f1.self - f0.self;
        f->children = f1.children - f0.children;
    }
    turn_end(loop, impl);
    return t0;
fail:
    perror("fork");
    exit(1);
}

/* Fork @n children blocked on a pipe, release them, reap all. */
static double burst(struct ev_loop *loop, int impl, int n, struct faults *f)
{
    ev_child *w = calloc((size_t)n, sizeof(*w));
    struct faults f0 = faults_now(), f1;
    int p[2];
    double t0;

    if (pipe(p) < 0)
        exit(1);
    reported = 0;
    for (int i = 0; i < n; i++) {
        long code = i % 200;
        pid_t pid = impl == EVSIG
                    ? evsig_fork_and_watch(loop, on_evsig_exit, (void *)code, 0)
                    : fork();

        if (pid == 0) {
            char c;

            close(p[1]);
            (void)!read(p[0], &c, 1);
            _exit((int)code);
        }
        if (pid < 0) {
            perror("fork");
            exit(1);
        }
        if (impl == LIBEV) {
            ev_child_init(&w[i], on_libev_exit, pid, 0);
            w[i].data = (void *)code;
            ev_child_start(loop, &w[i]);
        }
    }
    t0 = bench_now();
    close(p[1]);
    while (reported < n)
        ev_run(loop, EVRUN_ONCE);
    t0 = (bench_now() - t0) * 1e6 / n;
    if (impl == EVSIG)
        while (evsig_waitpid(loop, -1, NULL, WNOHANG) > 0)
            ;
    close(p[0]);
    free(w);
    f1 = faults_now();
    f->self = f1.self - f0.self;
    f->children = f1.children - f0.children;
    turn_end(loop, impl);
    return t0;
}

static void report(const char *workload, int impl, int L, double *t, int reps,
                   const struct faults *f, int per)
{
    printf("%s %s L=%d us=%.1f pfaults=%.1f cfaults=%.1f\n", workload,
           names[impl], L, bench_median(t, reps), (double)f->self / per,
           (double)f->children / per);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    int serial_n = argc > 1 ? atoi(argv[1]) : 200;
    int burst_n = argc > 2 ? atoi(argv[2]) : 1000;
    int reps = argc > 3 ? atoi(argv[3]) : 3;
    struct ev_loop *loop = ev_default_loop(0);
    double t[NIMPL][16];
    struct faults f[NIMPL];

    if (serial_n <= 0 || burst_n <= 0 || reps <= 0 || reps > 16) {
        fprintf(stderr, "usage: %s [serial-n [burst-n [reps(<=16) [impl]]]]\n",
                argv[0]);
        return 2;
    }

    if (argc > 4) {
        int k = atoi(argv[4]);

        if (k < 0 || k >= NIMPL)
            return 2;
        serial(loop, k, serial_n, &f[k]);
        evsig_reset();
        return bad != 0;
    }
    for (int r = 0; r < reps; r++)
        for (int k = 0; k < NIMPL; k++)
            t[k][r] = serial(loop, k, serial_n, &f[k]);
    printf("children backend=%s\n", backend);
    for (int k = 0; k < NIMPL; k++)
        report("serial", k, 0, t[k], reps, &f[k], serial_n);

    for (int r = 0; r < reps; r++)
        for (int k = EVSIG; k <= LIBEV; k++)
            t[k][r] = burst(loop, k, burst_n, &f[k]);
    for (int k = EVSIG; k <= LIBEV; k++)
        report("burst", k, 0, t[k], reps, &f[k], burst_n);

    if (waitpid(-1, NULL, WNOHANG) != -1 || errno != ECHILD) {
        fprintf(stderr, "children: a child was left behind\n");
        bad++;
    }
    if (bad)
        fprintf(stderr, "children: %d children lost or misreported\n", bad);
    evsig_reset();
    return bad != 0;
}

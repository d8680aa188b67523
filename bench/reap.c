/* SPDX-License-Identifier: MIT */
/*
 * reap.c - what getting one child's status costs beside L live children,
 * for each evsig child backend, raw libev and the kernel's floors.
 *
 * L long-lived children sleep in pause() (forked once per level with plain
 * fork(), so none holds a descriptor). During its turn every
 * implementation watches them as its users would, so it pays for them:
 *
 *   evsig-pidfd        evsig, EVSIG_CHILD_PIDFD: evsig_child_watch() of the
 *                      live ones, evsig_fork_and_watch() + callback
 *   evsig-libev        evsig, EVSIG_CHILD_LIBEV (before the second version
 *                      lands: today's evsig, which is that design)
 *   libev              raw libev as its users write it: fork() + one
 *                      ev_child per child, live ones included
 *   libev-pid0         raw libev, one ev_child for pid 0 (any child)
 *   floor-pidfd        fork() + pidfd_open(), one epoll set of pidfds (the
 *                      live ones too); epoll_wait, then per ready pidfd
 *                      waitid(P_PIDFD), EPOLL_CTL_DEL and close: what a
 *                      correct pidfd reaper must do, nothing more
 *   floor-waitpid-pid  fork() + waitpid(pid)
 *   floor-waitpid-any  fork() + waitpid(-1): what libev's reaper asks; the
 *                      kernel scans every child to answer
 *
 * Two workloads, at each L in 0, 100, 1000, 4000 (up to Lmax):
 *
 *   reap    B children block on one pipe; closing its write end releases
 *           them all. Once waitid(P_PID, WEXITED|WNOWAIT|WNOHANG) says all
 *           B are zombies, only the reaping is timed: from there until
 *           every status was reported (callback, or the floor's loop).
 *           Nothing else runs in that window, so a curve that climbs with
 *           L is the reaper's own cost. Beside the time, the reaping
 *           thread's CPU time (CLOCK_THREAD_CPUTIME_ID), which a busy
 *           neighbour preempting it does not inflate.
 *   serial  at L = 0 and L = Lmax: S children one at a time, fork -> the
 *           child _exits -> its status reported. Beside the time: minor
 *           page faults per child (getrusage, parent and reaped children;
 *           on these VMs a fault costs ~15 us) and CPU time per child,
 *           parent and child: each child is a wakeup of the parent, so on
 *           a shared machine the time carries scheduling delays the CPU
 *           time does not. Under the PIDFD design fork() also copies a
 *           reference to each of the L pidfds and the child drops them,
 *           which floor-pidfd shows.
 *
 * Each child exits with getpid() % 251, checked at every report. Each rep
 * runs every implementation once, starting one further along the list at
 * each rep, so drift on a shared machine hits them alike. evsig_reset()
 * ends every turn (and chooses the next backend), and the default loop is
 * run once without waiting after each turn: under the PIDFD backend evsig
 * owns SIGCHLD and raw ev_child watchers would not fire, and a SIGCHLD
 * libev caught during a floor's turn must not make its reaper steal the
 * next turn's children.
 *
 * Output, one line per measurement (medians over reps):
 *   reap <impl> L=<n> us=<per reap> cpu=<us> n=<B>
 *   serial <impl> L=<n> us=<per child> cpu=<us> pfaults=<parent> cfaults=<child>
 * or "us=n/a   <impl>: n/a (<why>)" for an implementation that cannot run.
 * Exits non-zero if a status was lost or wrong, or a child left behind.
 *
 *   usage: evsig-bench-reap [B [S [reps [Lmax]]]]     (200 200 5 4000)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <evsig.h>

#include "bench.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

enum {
    EVSIG_PIDFD, EVSIG_LIBEV, LIBEV, LIBEV_PID0,
    FLOOR_PIDFD, FLOOR_PID, FLOOR_ANY, NIMPL
};

static const char *const names[NIMPL] = {
    "evsig-pidfd", "evsig-libev", "libev", "libev-pid0",
    "floor-pidfd", "floor-waitpid-pid", "floor-waitpid-any",
};

#define MAXREPS 16

static struct {
    struct ev_loop *loop;
    int reported, bad;
    pid_t *live;          /* the L long-lived children */
    int nlive;
    int epfd;             /* floor-pidfd's epoll set */
    int *live_fd;         /* floor-pidfd: the live children's pidfds */
    ev_child *live_w;     /* libev: the live children's watchers */
    ev_child *w;          /* libev: one per child of the workload */
    ev_child any;         /* libev-pid0 */
    int release[2];       /* reap: the pipe the batch blocks on */
} st = { .epfd = -1 };

static int open_pidfd(pid_t pid)
{
    return (int)syscall(SYS_pidfd_open, pid, 0);
}

static int exit_code(pid_t pid)
{
    return (int)(pid % 251);
}

static void check(pid_t pid, int status)
{
    if (!WIFEXITED(status) || WEXITSTATUS(status) != exit_code(pid))
        st.bad++;
    st.reported++;
}

static void on_evsig(struct ev_loop *loop, pid_t pid, int status, void *data)
{
    (void)loop;
    (void)data;
    check(pid, status);
}

static void on_libev(struct ev_loop *loop, ev_child *w, int revents)
{
    (void)revents;
    ev_child_stop(loop, w);
    check(w->rpid, w->rstatus);
}

static void on_libev_any(struct ev_loop *loop, ev_child *w, int revents)
{
    (void)loop;
    (void)revents;
    check(w->rpid, w->rstatus);
}

static void die(const char *what)
{
    perror(what);
    exit(1);
}

/*
 * Start @impl's turn: choose evsig's backend, watch the live children.
 * Returns NULL, or why @impl cannot run here.
 */
static const char *turn_begin(int impl)
{
    switch (impl) {
    case EVSIG_PIDFD:
    case EVSIG_LIBEV:
#ifdef EVSIG_CHILD_PIDFD
        if (evsig_set_child_backend(impl == EVSIG_PIDFD ? EVSIG_CHILD_PIDFD
                                                        : EVSIG_CHILD_LIBEV) < 0)
            return errno == ENOSYS ? "ENOSYS: no pidfds here" : strerror(errno);
#else
        if (impl == EVSIG_PIDFD)
            return "first version";
#endif
        for (int i = 0; i < st.nlive; i++)
            if (evsig_child_watch(st.loop, st.live[i], NULL, NULL, EVSIG_NOREF) < 0)
                die("evsig_child_watch");
        break;
    case LIBEV:
        for (int i = 0; i < st.nlive; i++) {
            ev_child_init(&st.live_w[i], on_libev, st.live[i], 0);
            ev_child_start(st.loop, &st.live_w[i]);
        }
        break;
    case LIBEV_PID0:
        ev_child_init(&st.any, on_libev_any, 0, 0);
        ev_child_start(st.loop, &st.any);
        break;
    case FLOOR_PIDFD:
        st.epfd = epoll_create1(EPOLL_CLOEXEC);
        if (st.epfd < 0)
            die("epoll_create1");
        for (int i = 0; i < st.nlive; i++) {
            struct epoll_event ev = { .events = EPOLLIN };

            st.live_fd[i] = ev.data.fd = open_pidfd(st.live[i]);
            if (st.live_fd[i] < 0)   /* turn_end() closes those opened */
                return errno == ENOSYS ? "ENOSYS: no pidfds here" : strerror(errno);
            if (epoll_ctl(st.epfd, EPOLL_CTL_ADD, ev.data.fd, &ev) < 0)
                die("epoll_ctl");
        }
        break;
    }
    /* libev registers fds at its next iteration, and that belongs to the
     * setup, as the floor's epoll_ctl() calls do: evsig's epoll set of L
     * pidfds joins libev's set there, which the kernel pays O(L) for once
     * (its loop check walks a nested set; ~0.8 ms at L=4000). */
    if (impl < FLOOR_PIDFD)   /* the libev-based ones */
        ev_run(st.loop, EVRUN_NOWAIT);
    return NULL;
}

static void turn_end(int impl)
{
    switch (impl) {
    case EVSIG_PIDFD:
    case EVSIG_LIBEV:
        evsig_reset();
        break;
    case LIBEV:
        for (int i = 0; i < st.nlive; i++)
            ev_child_stop(st.loop, &st.live_w[i]);
        break;
    case LIBEV_PID0:
        ev_child_stop(st.loop, &st.any);
        break;
    case FLOOR_PIDFD:
        for (int i = 0; i < st.nlive && st.live_fd[i] >= 0; i++) {
            epoll_ctl(st.epfd, EPOLL_CTL_DEL, st.live_fd[i], NULL);
            close(st.live_fd[i]);
            st.live_fd[i] = -1;
        }
        close(st.epfd);
        st.epfd = -1;
        break;
    }
    /* Let libev's reaper see any SIGCHLD it caught: nothing is a zombie
     * now, so it reaps nothing, and the next turn starts clean. */
    ev_run(st.loop, EVRUN_NOWAIT);
    ev_run(st.loop, EVRUN_NOWAIT);
}

static void child_exit(void)
{
    _exit(exit_code(getpid()));
}

static void child_block(void)
{
    char c;

    close(st.release[1]);
    (void)!read(st.release[0], &c, 1);
    _exit(exit_code(getpid()));
}

/* Fork child @i of the workload with @impl; the child runs @body. */
static pid_t spawn(int impl, int i, void (*body)(void))
{
    pid_t pid = impl == EVSIG_PIDFD || impl == EVSIG_LIBEV
                ? evsig_fork_and_watch(st.loop, on_evsig, NULL, 0)
                : fork();

    if (pid == 0)
        body();
    if (pid < 0)
        die("fork");
    if (impl == LIBEV) {
        ev_child_init(&st.w[i], on_libev, pid, 0);
        ev_child_start(st.loop, &st.w[i]);
    } else if (impl == FLOOR_PIDFD) {
        struct epoll_event ev = { .events = EPOLLIN };

        ev.data.fd = open_pidfd(pid);
        if (ev.data.fd < 0)
            die("pidfd_open");
        if (epoll_ctl(st.epfd, EPOLL_CTL_ADD, ev.data.fd, &ev) < 0)
            die("epoll_ctl");
    }
    return pid;
}

/* Until @n more statuses of @pids[0..n-1] have been reported. */
static void reap(int impl, const pid_t *pids, int n)
{
    int target = st.reported + n, status;

    switch (impl) {
    case FLOOR_PIDFD:
        while (st.reported < target) {
            struct epoll_event ev[256];
            int k = epoll_wait(st.epfd, ev, 256, -1);

            if (k < 0 && errno != EINTR)
                die("epoll_wait");
            for (int i = 0; i < k; i++) {
                siginfo_t si;

                si.si_pid = 0;
                if (waitid((idtype_t)P_PIDFD, (id_t)ev[i].data.fd, &si, WEXITED) < 0)
                    die("waitid");
                check(si.si_pid, si.si_code == CLD_EXITED ? W_EXITCODE(si.si_status, 0)
                                                          : si.si_status);
                epoll_ctl(st.epfd, EPOLL_CTL_DEL, ev[i].data.fd, NULL);
                close(ev[i].data.fd);
            }
        }
        break;
    case FLOOR_PID:
        for (int i = 0; i < n; i++) {
            if (waitpid(pids[i], &status, 0) != pids[i])
                die("waitpid");
            check(pids[i], status);
        }
        break;
    case FLOOR_ANY:
        while (st.reported < target) {
            pid_t pid = waitpid(-1, &status, 0);

            if (pid < 0)
                die("waitpid(-1)");
            check(pid, status);
        }
        break;
    default:
        while (st.reported < target)
            ev_run(st.loop, EVRUN_ONCE);
        break;
    }
}

/* This thread's CPU seconds. */
static double thread_cpu(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Until the kernel says each of @pids[0..n-1] is a zombie (not reaped). */
static void wait_zombies(const pid_t *pids, int n)
{
    for (int i = 0; i < n; i++) {
        for (;;) {
            siginfo_t si;

            si.si_pid = 0;
            if (waitid(P_PID, (id_t)pids[i], &si, WEXITED | WNOWAIT | WNOHANG) < 0) {
                /* ECHILD: someone reaped it before the window opened. */
                perror("reap: waitid(WNOWAIT)");
                exit(1);
            }
            if (si.si_pid == pids[i])
                break;
            nanosleep(&(struct timespec){ 0, 20000 }, NULL);
        }
    }
}

/* One turn of the reap workload: us per reap; CPU us per reap in *cpu. */
static double reap_turn(int impl, pid_t *pids, int b, double *cpu)
{
    double t0, c0;

    if (pipe(st.release) < 0)
        die("pipe");
    for (int i = 0; i < b; i++)
        pids[i] = spawn(impl, i, child_block);
    close(st.release[1]);
    wait_zombies(pids, b);
    c0 = thread_cpu();
    t0 = bench_now();
    reap(impl, pids, b);
    t0 = (bench_now() - t0) * 1e6 / b;
    *cpu = (thread_cpu() - c0) * 1e6 / b;
    close(st.release[0]);
    return t0;
}

/*
 * One turn of the serial workload: us per child; CPU us per child in *cpu,
 * faults added to @f.
 */
static double serial_turn(int impl, int s, struct bench_usage *f, double *cpu)
{
    struct bench_usage f0 = bench_usage_now(), f1;
    double t0 = bench_now();

    for (int i = 0; i < s; i++) {
        pid_t pid = spawn(impl, i, child_exit);

        reap(impl, &pid, 1);
    }
    t0 = (bench_now() - t0) * 1e6 / s;
    f1 = bench_usage_now();
    f->pfaults += f1.pfaults - f0.pfaults;
    f->cfaults += f1.cfaults - f0.cfaults;
    *cpu = (f1.cpu - f0.cpu) * 1e6 / s;
    return t0;
}

/* Grow the live children to @L; 0, or -1 if the system refused. */
static int live_grow(int L)
{
    while (st.nlive < L) {
        pid_t pid = fork();

        if (pid == 0) {
            /* Hold nothing of the parent's: only its memory. */
            close_range(3, ~0U, 0);
            for (;;)
                pause();
        }
        if (pid < 0) {
            fprintf(stderr, "reap: fork failed at L=%d: %s\n", st.nlive,
                    strerror(errno));
            return -1;
        }
        st.live[st.nlive++] = pid;
    }
    return 0;
}

static void print_na(const char *workload, int impl, int L, const char *why)
{
    printf("%s %s L=%d us=n/a   %s: n/a (%s)\n", workload, names[impl], L,
           names[impl], why);
}

int main(int argc, char **argv)
{
    int b = argc > 1 ? atoi(argv[1]) : 200;
    int s = argc > 2 ? atoi(argv[2]) : 200;
    int reps = argc > 3 ? atoi(argv[3]) : 5;
    int lmax = argc > 4 ? atoi(argv[4]) : 4000;
    static const int levels[] = { 0, 100, 1000, 4000, 16000 };
    double t[NIMPL][MAXREPS], tc[NIMPL][MAXREPS];      /* reap: time, CPU */
    double ts[NIMPL][MAXREPS], tsc[NIMPL][MAXREPS];    /* serial: time, CPU */
    const char *why[NIMPL];
    pid_t *pids;
    int n = b > s ? b : s;

    if (b <= 0 || s <= 0 || reps <= 0 || reps > MAXREPS || lmax < 0) {
        fprintf(stderr, "usage: %s [B [S [reps(<=%d) [Lmax]]]]\n", argv[0], MAXREPS);
        return 2;
    }
    if (bench_raise_limits("reap", lmax + n) < 0)
        return 1;
    st.loop = ev_default_loop(0);
    st.live = calloc((size_t)lmax + 1, sizeof(*st.live));
    st.live_fd = calloc((size_t)lmax + 1, sizeof(*st.live_fd));
    st.live_w = calloc((size_t)lmax + 1, sizeof(*st.live_w));
    st.w = calloc((size_t)n, sizeof(*st.w));
    pids = calloc((size_t)n, sizeof(*pids));
    if (!st.live || !st.live_fd || !st.live_w || !st.w || !pids)
        die("calloc");
    for (int i = 0; i <= lmax; i++)
        st.live_fd[i] = -1;

    for (size_t li = 0; li < sizeof(levels) / sizeof(levels[0]); li++) {
        int L = levels[li] < lmax ? levels[li] : lmax;
        int do_serial = L == 0 || L == lmax;
        struct bench_usage f[NIMPL] = { { 0, 0, 0, 0 } };

        if (li > 0 && levels[li - 1] >= lmax)
            break;
        if (live_grow(L) < 0)
            break;
        for (int k = 0; k < NIMPL; k++)
            why[k] = NULL;
        for (int r = 0; r < reps; r++) {
            for (int j = 0; j < NIMPL; j++) {
                int k = (r + j) % NIMPL;

                if (why[k])
                    continue;
                why[k] = turn_begin(k);
                if (why[k]) {
                    turn_end(k);
                    continue;
                }
                t[k][r] = reap_turn(k, pids, b, &tc[k][r]);
                if (do_serial)
                    ts[k][r] = serial_turn(k, s, &f[k], &tsc[k][r]);
                turn_end(k);
            }
        }
        for (int k = 0; k < NIMPL; k++) {
            if (why[k])
                print_na("reap", k, L, why[k]);
            else
                printf("reap %s L=%d us=%.2f cpu=%.2f n=%d\n", names[k], L,
                       bench_median(t[k], reps), bench_median(tc[k], reps), b);
        }
        for (int k = 0; do_serial && k < NIMPL; k++) {
            if (why[k])
                print_na("serial", k, L, why[k]);
            else
                printf("serial %s L=%d us=%.1f cpu=%.1f pfaults=%.1f cfaults=%.1f\n",
                       names[k], L, bench_median(ts[k], reps),
                       bench_median(tsc[k], reps), (double)f[k].pfaults / (reps * s),
                       (double)f[k].cfaults / (reps * s));
        }
        fflush(stdout);
    }

    for (int i = 0; i < st.nlive; i++)
        kill(st.live[i], SIGKILL);
    for (int i = 0; i < st.nlive; i++)
        if (waitpid(st.live[i], NULL, 0) != st.live[i])
            st.bad++;
    if (waitpid(-1, NULL, WNOHANG) != -1 || errno != ECHILD) {
        fprintf(stderr, "reap: a child was left behind\n");
        st.bad++;
    }
    if (st.bad)
        fprintf(stderr, "reap: %d statuses lost or wrong\n", st.bad);
    evsig_reset();
    return st.bad != 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * kmem.c - kernel memory per long-lived child, the pidfd trap of
 * DESIGN.md §4: a fork() child inherits every pidfd its parent holds, and
 * its copy of the fd table grows with them.
 *
 * N children (default 4000) are forked one after another and sleep in
 * pause() after telling the parent they are ready; the parent reads
 * /proc/meminfo before the first fork and once all are ready, and prints
 * the growth per child. Variants:
 *
 *   plain                fork(); the parent holds no pidfd (the floor)
 *   pidfd-inherit        the parent pidfd_open()s each child, so child k
 *                        inherits k pidfds (the naive pidfd design)
 *   pidfd-close          as pidfd-inherit, but each child closes the
 *                        pidfds it inherited, one close() each, as a
 *                        bitmap walk of evsig's pidfd numbers would
 *   pidfd-close-unshare  as pidfd-close, then unshare(CLONE_FILES); a
 *                        private table is not copied, so nothing shrinks
 *   pidfd-thread-table   the pidfds live in the fd table of a helper thread
 *                        that called unshare(CLONE_FILES): fork() copies
 *                        the forking thread's table only, so no child
 *                        ever holds them (a way out, not evsig's design)
 *   evsig-libev          evsig_fork_and_watch() under EVSIG_CHILD_LIBEV
 *                        (before the second version: today's evsig)
 *   evsig-pidfd          evsig_fork_and_watch() under EVSIG_CHILD_PIDFD
 *
 * The kernel sizes a child's fd table by its parent's highest open fd at
 * fork(), and never shrinks a table: closing the inherited pidfds drops
 * references, not the table (4,096 slots: 32 KB at 4,000 pidfds).
 *
 * With the N children alive, S more children are forked and reaped one at
 * a time with plain fork() + _exit + waitpid(pid): fork_us (and fork_cpu,
 * CPU time of parent and child, which a busy neighbour does not inflate)
 * shows what holding the pidfds costs every fork() of the process,
 * evsig's or popen()'s, since dup_fd() takes a reference on each
 * descriptor and the child's exit drops it.
 *
 * Fields, bytes per child: slab (Slab: kmalloc'd fd tables, task and
 * signal structs, pidfs inodes and files, epoll items), sunreclaim (its
 * unreclaimable part), kstack (KernelStack), pagetables (PageTables: the
 * copy-on-write mappings, alike in every variant), and kernel =
 * slab + kstack, the figure the goal speaks of.
 *
 * /proc/meminfo is system-wide: whatever else the machine does lands in
 * the deltas. Each rep runs every variant once, rotating the order, the
 * meminfo is read only once the previous variant's memory has settled,
 * and medians are printed; a busy neighbour still shows as noise of a few
 * hundred bytes per child at N = 4000.
 *
 * Output: "kmem <variant> n=<N> kernel=<B> slab=<B> sunreclaim=<B>
 *          kstack=<B> pagetables=<B> fork_us=<us> fork_cpu=<us>", or
 *         "kmem <variant> n=<N> kernel=n/a fork_us=n/a fork_cpu=n/a   <variant>: n/a (<why>)".
 *
 *   usage: evsig-bench-kmem [N [reps [S]]]          (4000 3 100)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <evsig.h>

#include "bench.h"

enum { PLAIN, INHERIT, CLOSE, UNSHARE, THREAD, EVSIG_LIBEV, EVSIG_PIDFD, NVAR };

static const char *const names[NVAR] = {
    "plain", "pidfd-inherit", "pidfd-close", "pidfd-close-unshare",
    "pidfd-thread-table", "evsig-libev", "evsig-pidfd",
};

enum { SLAB, SUNRECLAIM, KSTACK, PAGETABLES, NFIELD };

static const char *const fields[NFIELD] = {
    "Slab:", "SUnreclaim:", "KernelStack:", "PageTables:",
};

#define MAXREPS 16

static struct {
    struct ev_loop *loop;
    pid_t *pids;
    int *fds;             /* the parent's pidfds, pidfd-* variants */
    int ready[2];         /* each child writes one byte once set up */
    int req[2], ans[2];   /* to and from the helper thread */
} st;

/* The fields of /proc/meminfo we follow, in bytes. */
static void meminfo(long long v[NFIELD])
{
    FILE *f = fopen("/proc/meminfo", "r");
    char line[256];

    for (int i = 0; i < NFIELD; i++)
        v[i] = 0;
    while (f && fgets(line, sizeof(line), f))
        for (int i = 0; i < NFIELD; i++)
            if (strncmp(line, fields[i], strlen(fields[i])) == 0)
                v[i] = strtoll(line + strlen(fields[i]), NULL, 10) * 1024;
    if (f)
        fclose(f);
}

static void nap(long us)
{
    nanosleep(&(struct timespec){ us / 1000000, (us % 1000000) * 1000 }, NULL);
}

/*
 * Until Slab + KernelStack stop moving: the last variant's tasks, stacks
 * and files are freed after RCU grace periods and by workers.
 */
static void settle(void)
{
    long long a[NFIELD], b[NFIELD];

    meminfo(a);
    for (int i = 0; i < 40; i++) {
        nap(50000);
        meminfo(b);
        if (llabs((b[SLAB] + b[KSTACK]) - (a[SLAB] + a[KSTACK])) < 256 * 1024)
            return;
        memcpy(a, b, sizeof(a));
    }
}

static void die(const char *what)
{
    perror(what);
    exit(1);
}

/*
 * The helper thread of pidfd-thread-table: its fd table is its own, so it
 * opens a pidfd for each pid it is sent (and answers with the number, or
 * -errno), closes every pidfd it holds when sent 0, and returns when sent
 * -1 (closing the request pipe would not do: its table holds a copy).
 */
static void *helper(void *arg)
{
    int *fds = calloc((size_t)(long)arg, sizeof(*fds)), n = 0;
    pid_t pid;

    if (!fds || unshare(CLONE_FILES) < 0)
        abort();
    while (read(st.req[0], &pid, sizeof(pid)) == sizeof(pid) && pid >= 0) {
        int fd = 0;

        if (pid > 0) {
            fd = (int)syscall(SYS_pidfd_open, pid, 0);
            if (fd < 0)
                fd = -errno;
            else
                fds[n++] = fd;
        } else {
            while (n > 0)
                close(fds[--n]);
        }
        if (write(st.ans[1], &fd, sizeof(fd)) != sizeof(fd))
            abort();
    }
    free(fds);
    return NULL;
}

static int ask_helper(pid_t pid)
{
    int fd = -1;

    if (write(st.req[1], &pid, sizeof(pid)) != sizeof(pid) ||
        read(st.ans[0], &fd, sizeof(fd)) != sizeof(fd))
        die("helper");
    return fd;
}

static void child(int var, int i)
{
    if (var == CLOSE || var == UNSHARE) {
        for (int j = 0; j < i; j++)
            close(st.fds[j]);
        if (var == UNSHARE && unshare(CLONE_FILES) < 0)
            _exit(3);
    }
    if (write(st.ready[1], "", 1) != 1)
        _exit(4);
    for (;;)
        pause();
}

/* Returns NULL, or why @var cannot run here. */
static const char *setup(int var)
{
    if (var != EVSIG_LIBEV && var != EVSIG_PIDFD)
        return NULL;
#ifdef EVSIG_CHILD_PIDFD
    if (evsig_set_child_backend(var == EVSIG_PIDFD ? EVSIG_CHILD_PIDFD
                                                   : EVSIG_CHILD_LIBEV) < 0)
        return errno == ENOSYS ? "ENOSYS: no pidfds here" : strerror(errno);
#else
    if (var == EVSIG_PIDFD)
        return "first version";
#endif
    return NULL;
}

/* us per plain fork + _exit + waitpid(pid), @s times; CPU us in *cpu. */
static double fork_cost(int s, double *cpu)
{
    double t0 = bench_now(), c0 = bench_usage_now().cpu;

    for (int i = 0; i < s; i++) {
        pid_t pid = fork();

        if (pid == 0)
            _exit(0);
        if (pid < 0 || waitpid(pid, NULL, 0) != pid)
            die("fork");
    }
    *cpu = (bench_usage_now().cpu - c0) * 1e6 / s;
    return (bench_now() - t0) * 1e6 / s;
}

/* Per-child growth of each field with @n children of @var; fork cost. */
static void measure(int var, int n, int s, double out[NFIELD], double *fork_us,
                    double *fork_cpu)
{
    long long m0[NFIELD], m1[NFIELD];
    int got = 0;

    if (pipe(st.ready) < 0)
        die("pipe");
    settle();
    meminfo(m0);
    for (int i = 0; i < n; i++) {
        pid_t pid = var >= EVSIG_LIBEV
                    ? evsig_fork_and_watch(st.loop, NULL, NULL, EVSIG_NOREF)
                    : fork();

        if (pid == 0)
            child(var, i);
        if (pid < 0)
            die("fork");
        st.pids[i] = pid;
        if (var == INHERIT || var == CLOSE || var == UNSHARE) {
            st.fds[i] = (int)syscall(SYS_pidfd_open, pid, 0);
            if (st.fds[i] < 0)
                die("pidfd_open");
        } else if (var == THREAD) {
            errno = -ask_helper(pid);
            if (errno > 0)
                die("pidfd_open (helper)");
        }
    }
    while (got < n) {
        char buf[512];
        ssize_t k = read(st.ready[0], buf, sizeof(buf));

        if (k <= 0)
            die("read");
        got += (int)k;
    }
    nap(20000);
    meminfo(m1);
    for (int i = 0; i < NFIELD; i++)
        out[i] = (double)(m1[i] - m0[i]) / n;
    *fork_us = fork_cost(s, fork_cpu);

    if (var >= EVSIG_LIBEV)
        evsig_reset();
    for (int i = 0; i < n; i++)
        kill(st.pids[i], SIGKILL);
    for (int i = 0; i < n; i++) {
        int status = 0;

        if (waitpid(st.pids[i], &status, 0) != st.pids[i] ||
            !WIFSIGNALED(status)) {
            fprintf(stderr, "kmem: %s: child %d did not set up (status %#x)\n",
                    names[var], i, status);
            exit(1);
        }
        if (var == INHERIT || var == CLOSE || var == UNSHARE)
            close(st.fds[i]);
    }
    if (var == THREAD)
        ask_helper(0);
    close(st.ready[0]);
    close(st.ready[1]);
    /* Let libev's reaper see the SIGCHLDs it caught: nothing is left. */
    ev_run(st.loop, EVRUN_NOWAIT);
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 4000;
    int reps = argc > 2 ? atoi(argv[2]) : 3;
    int s = argc > 3 ? atoi(argv[3]) : 100;
    double v[NVAR][NFIELD][MAXREPS], fork_us[NVAR][MAXREPS], fork_cpu[NVAR][MAXREPS];
    const char *why[NVAR];
    pthread_t thread;

    if (n <= 0 || reps <= 0 || reps > MAXREPS || s <= 0) {
        fprintf(stderr, "usage: %s [N [reps(<=%d) [S]]]\n", argv[0], MAXREPS);
        return 2;
    }
    if (bench_raise_limits("kmem", n) < 0)
        return 1;
    st.loop = ev_default_loop(0);
    st.pids = calloc((size_t)n, sizeof(*st.pids));
    st.fds = calloc((size_t)n, sizeof(*st.fds));
    if (!st.pids || !st.fds)
        die("calloc");
    /* Every variant runs with the helper thread, so all fork alike. */
    if (pipe(st.req) < 0 || pipe(st.ans) < 0 ||
        pthread_create(&thread, NULL, helper, (void *)(long)n) != 0)
        die("helper");

    for (int k = 0; k < NVAR; k++)
        why[k] = NULL;
    for (int r = 0; r < reps; r++) {
        for (int j = 0; j < NVAR; j++) {
            int k = (r + j) % NVAR;
            double out[NFIELD];

            if (why[k])
                continue;
            why[k] = setup(k);
            if (why[k])
                continue;
            measure(k, n, s, out, &fork_us[k][r], &fork_cpu[k][r]);
            for (int i = 0; i < NFIELD; i++)
                v[k][i][r] = out[i];
        }
    }
    for (int k = 0; k < NVAR; k++) {
        double m[NFIELD], kernel[MAXREPS];

        if (why[k]) {
            printf("kmem %s n=%d kernel=n/a fork_us=n/a fork_cpu=n/a   %s: n/a (%s)\n",
                   names[k], n, names[k], why[k]);
            continue;
        }
        for (int r = 0; r < reps; r++)
            kernel[r] = v[k][SLAB][r] + v[k][KSTACK][r];
        for (int i = 0; i < NFIELD; i++)
            m[i] = bench_median(v[k][i], reps);
        printf("kmem %s n=%d kernel=%.0f slab=%.0f sunreclaim=%.0f kstack=%.0f "
               "pagetables=%.0f fork_us=%.1f fork_cpu=%.1f\n", names[k], n,
               bench_median(kernel, reps), m[SLAB], m[SUNRECLAIM], m[KSTACK],
               m[PAGETABLES], bench_median(fork_us[k], reps),
               bench_median(fork_cpu[k], reps));
    }
    evsig_reset();
    if (write(st.req[1], &(pid_t){ -1 }, sizeof(pid_t)) != sizeof(pid_t))
        die("helper");
    pthread_join(thread, NULL);
    return 0;
}

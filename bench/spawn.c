/* SPDX-License-Identifier: MIT */
/*
 * spawn.c - what running a command costs when the caller's heap is large:
 * start /bin/true, get its status, with the parent's heap at 0, 256 MiB
 * and 1 GiB.
 *
 * The heap is an anonymous mapping of that size, every page written once
 * before the level's first turn and madvise(MADV_NOHUGEPAGE)d so that it
 * is made of 4 KiB pages whatever the system's transparent huge page
 * setting (a 1 GiB heap is then 262,144 page-table entries). fork() must
 * copy those entries and write-protect every page, and the child that
 * execs tears the copy down; a child made the way vfork() makes one
 * borrows the parent's memory until it execs and copies nothing. Five
 * implementations, each as its users write it, every child inheriting
 * fds 0-2 and the caller's environment:
 *
 *   evsig-spawn      evsig_spawn("/bin/true") on the default loop, the
 *                    status through its callback (ev_run until it ran),
 *                    then evsig_waitpid(WNOHANG) collects the kept result
 *                    as a program using it would
 *   posix-spawn      the floor: glibc's posix_spawn() (clone(CLONE_VM|
 *                    CLONE_VFORK) on a stack of its own) + waitpid(pid),
 *                    no attributes, no file actions
 *   fork-exec        fork(); the child execv()s; waitpid(pid)
 *   evsig-fork-exec  evsig_fork_and_watch(); the child execv()s; the
 *                    status through the callback, then evsig_waitpid()
 *   libuv            libuv's uv_spawn() (1.44 forks on Linux) on a
 *                    uv_loop_t of its own, stdio UV_INHERIT_FD, the status
 *                    through exit_cb, which uv_close()s the handle; uv_run
 *                    until the loop is empty. Built only when meson finds
 *                    libuv; else its rows say n/a.
 *
 * At each heap level, each rep runs every implementation once, starting
 * one further along the list at each rep, so drift on a shared machine
 * hits them alike; a turn is N spawns one after another. N = n for the
 * two that do not fork; for the three that do, fewer as the heap grows,
 * n * 64 / (64 + MiB) but at least 5, since here a fork() of a 1 GiB heap
 * costs tens of milliseconds. Each turn starts with one spawn that is
 * neither timed nor counted: what an implementation sets up once per turn
 * (evsig's state after evsig_reset(), the pages its first use touches) is
 * not a per-spawn cost. evsig_reset() ends every evsig turn: libuv replaces
 * the SIGCHLD disposition in its turn and sets SIG_DFL when its last
 * process handle closes, behind evsig's back. The default loop is run
 * once without waiting after each turn, so a SIGCHLD libev caught during
 * another turn makes its reaper scan (and find no zombie) outside the
 * next turn.
 *
 * Beside the time: minor page faults per spawn, of the parent (getrusage
 * RUSAGE_SELF) and of the reaped children (RUSAGE_CHILDREN: a vfork-style
 * child faulting on its stack or on the parent's pages counts here, and so
 * does loading /bin/true), and CPU time per spawn, parent + children and
 * the parent's alone: the CPU time is what a busy neighbour does not
 * inflate.
 *
 * Output, one line per (implementation, heap), medians over reps:
 *   spawn <impl> heap=<MiB> us=<per spawn> cpu=<us, parent+child>
 *         pcpu=<us, parent> pfaults=<parent> cfaults=<child> n=<N>x<reps>
 * or "us=n/a   <impl>: n/a (<why>)" for an implementation that cannot run;
 * then per heap "spawn ratio heap=<MiB> evsig-spawn/posix-spawn=<r> ...",
 * and "spawn growth heap=<max>/heap=0 <impl>=<r> ..." (flatness).
 * Exits non-zero if a spawn failed, a status was wrong (/bin/true exits
 * 0; a failed exec in a forked child _exits 127) or lost (a turn that has
 * not ended after TURN_LIMIT seconds), or a child was left behind.
 *
 * With a fourth argument (0..4, in the order above) only that
 * implementation runs, one turn of n spawns at heap 0, and prints nothing:
 * for counting system calls under strace.
 *
 *   usage: evsig-bench-spawn [n [reps [max-heap-MiB [impl]]]]   (200 7 1024)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <evsig.h>
#ifdef EVSIG_BENCH_LIBUV
#include <uv.h>
#endif

#include "bench.h"

enum { EVSIG_SPAWN, POSIX_SPAWN, FORK_EXEC, EVSIG_FORK_EXEC, LIBUV, NIMPL };

static const char *const names[NIMPL] = {
    "evsig-spawn", "posix-spawn", "fork-exec", "evsig-fork-exec", "libuv",
};

#define MAXREPS 16
#define TURN_LIMIT 60   /* seconds: far above a turn's, so only a lost status */
#define PROGRAM "/bin/true"

extern char **environ;

static char arg0[] = "true";
static char *child_argv[] = { arg0, NULL };

static struct {
    struct ev_loop *loop;
    int reported, bad;
#ifdef EVSIG_BENCH_LIBUV
    uv_loop_t uvloop;
    uv_process_t proc;
#endif
} st;

static void die(const char *what)
{
    perror(what);
    exit(1);
}

/* SIGALRM: a turn outlived TURN_LIMIT, so a status never came. */
static void on_alarm(int signum)
{
    static const char msg[] = "spawn: a status was lost (turn timed out)\n";

    (void)signum;
    (void)!write(2, msg, sizeof(msg) - 1);
    _exit(1);
}

static void check(int status)
{
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        st.bad++;
    st.reported++;
}

static void on_evsig(struct ev_loop *loop, pid_t pid, int status, void *data)
{
    (void)loop;
    (void)pid;
    (void)data;
    check(status);
}

#ifdef EVSIG_BENCH_LIBUV
static void on_uv_exit(uv_process_t *proc, int64_t exit_status, int term_signal)
{
    if (exit_status != 0 || term_signal != 0)
        st.bad++;
    st.reported++;
    uv_close((uv_handle_t *)proc, NULL);
}
#endif

/* Until evsig's callback for @pid ran; then collect its kept result. */
static void evsig_wait(pid_t pid)
{
    int target = st.reported + 1;

    while (st.reported < target)
        ev_run(st.loop, EVRUN_ONCE);
    if (evsig_waitpid(st.loop, pid, NULL, WNOHANG) != pid)
        die("evsig_waitpid");
}

static void floor_wait(pid_t pid)
{
    int status;

    if (waitpid(pid, &status, 0) != pid)
        die("waitpid");
    check(status);
}

/* fork() children: the exec, or 127 for the parent to see. */
static void child_exec(void)
{
    execv(PROGRAM, child_argv);
    _exit(127);
}

/* Start /bin/true with @impl and wait until its status was reported. */
static void spawn_one(int impl)
{
    pid_t pid;

    switch (impl) {
    case EVSIG_SPAWN: {
        evsig_spawn_options o = { .file = PROGRAM, .argv = child_argv };

        pid = evsig_spawn(st.loop, &o, NULL, on_evsig, NULL);
        if (pid < 0)
            die("evsig_spawn");
        evsig_wait(pid);
        break;
    }
    case POSIX_SPAWN: {
        int err = posix_spawn(&pid, PROGRAM, NULL, NULL, child_argv, environ);

        if (err) {
            errno = err;
            die("posix_spawn");
        }
        floor_wait(pid);
        break;
    }
    case FORK_EXEC:
        pid = fork();
        if (pid == 0)
            child_exec();
        if (pid < 0)
            die("fork");
        floor_wait(pid);
        break;
    case EVSIG_FORK_EXEC:
        pid = evsig_fork_and_watch(st.loop, on_evsig, NULL, 0);
        if (pid == 0)
            child_exec();
        if (pid < 0)
            die("evsig_fork_and_watch");
        evsig_wait(pid);
        break;
    case LIBUV: {
#ifdef EVSIG_BENCH_LIBUV
        uv_stdio_container_t io[3];
        uv_process_options_t o;
        int target = st.reported + 1, r;

        memset(&o, 0, sizeof(o));
        for (int i = 0; i < 3; i++) {
            io[i].flags = UV_INHERIT_FD;
            io[i].data.fd = i;
        }
        o.exit_cb = on_uv_exit;
        o.file = PROGRAM;
        o.args = child_argv;
        o.stdio_count = 3;
        o.stdio = io;
        r = uv_spawn(&st.uvloop, &st.proc, &o);
        if (r < 0) {
            fprintf(stderr, "uv_spawn: %s\n", uv_strerror(r));
            exit(1);
        }
        /* exit_cb closes the handle: the loop is empty after it. */
        uv_run(&st.uvloop, UV_RUN_DEFAULT);
        if (st.reported != target) {
            fprintf(stderr, "spawn: uv_run returned before exit_cb\n");
            exit(1);
        }
#endif
        break;
    }
    }
}

static void turn_end(int impl)
{
    if (impl == EVSIG_SPAWN || impl == EVSIG_FORK_EXEC)
        evsig_reset();
    /* Let libev's reaper see any SIGCHLD it caught: nothing is a zombie
     * now, so it reaps nothing, and the next turn starts clean. */
    ev_run(st.loop, EVRUN_NOWAIT);
    ev_run(st.loop, EVRUN_NOWAIT);
}

/*
 * One turn: @n spawns with @impl after an uncounted one. Returns us per
 * spawn; CPU us per spawn in *cpu and *pcpu, faults added to @f.
 */
static double turn(int impl, int n, struct bench_usage *f, double *cpu, double *pcpu)
{
    struct bench_usage u0, u1;
    double t0;

    alarm(TURN_LIMIT);
    spawn_one(impl);
    u0 = bench_usage_now();
    t0 = bench_now();
    for (int i = 0; i < n; i++)
        spawn_one(impl);
    t0 = (bench_now() - t0) * 1e6 / n;
    u1 = bench_usage_now();
    alarm(0);
    turn_end(impl);
    f->pfaults += u1.pfaults - u0.pfaults;
    f->cfaults += u1.cfaults - u0.cfaults;
    *cpu = (u1.cpu - u0.cpu) * 1e6 / n;
    *pcpu = (u1.pcpu - u0.pcpu) * 1e6 / n;
    return t0;
}

/* A heap of @mib MiB in 4 KiB pages, every page written; NULL for 0. */
static void *heap_new(size_t mib)
{
    size_t len = mib << 20;
    char *p;

    if (len == 0)
        return NULL;
    p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        die("mmap");
    /* The setting is madvise on Debian, but a system set to always would
     * hand out 2 MiB pages, and fork() would copy 512 times fewer entries. */
    if (madvise(p, len, MADV_NOHUGEPAGE) < 0)
        die("madvise");
    for (size_t i = 0; i < len; i += 4096)
        p[i] = (char)i;
    return p;
}

static void print_ratio(const double *m, int a, int b)
{
    if (m[a] > 0 && m[b] > 0)
        printf(" %s/%s=%.2f", names[a], names[b], m[a] / m[b]);
    else
        printf(" %s/%s=n/a", names[a], names[b]);
}

int main(int argc, char **argv)
{
    int n0 = argc > 1 ? atoi(argv[1]) : 200;
    int reps = argc > 2 ? atoi(argv[2]) : 7;
    int maxheap = argc > 3 ? atoi(argv[3]) : 1024;
    static const int heaps[] = { 0, 256, 1024 };
    enum { NHEAP = sizeof(heaps) / sizeof(heaps[0]) };
    double t[NIMPL][MAXREPS], c[NIMPL][MAXREPS], pc[NIMPL][MAXREPS];
    double m[NHEAP][NIMPL] = { { 0 } };
    const char *why[NIMPL] = { NULL };
    int last = 0;

    if (n0 <= 0 || reps <= 0 || reps > MAXREPS || maxheap < 0) {
        fprintf(stderr, "usage: %s [n [reps(<=%d) [max-heap-MiB [impl]]]]\n",
                argv[0], MAXREPS);
        return 2;
    }
    signal(SIGALRM, on_alarm);
    st.loop = ev_default_loop(0);
#ifdef EVSIG_BENCH_LIBUV
    if (uv_loop_init(&st.uvloop) < 0)
        why[LIBUV] = "uv_loop_init failed";
#else
    why[LIBUV] = "built without libuv";
#endif

    if (argc > 4) {
        struct bench_usage f = { 0, 0, 0, 0 };
        int k = atoi(argv[4]);

        if (k < 0 || k >= NIMPL || why[k])
            return 2;
        turn(k, n0, &f, &c[k][0], &pc[k][0]);
        evsig_reset();
        return st.bad != 0;
    }

    for (int h = 0; h < NHEAP && heaps[h] <= maxheap; h++) {
        struct bench_usage f[NIMPL] = { { 0, 0, 0, 0 } };
        int nfork = n0 * 64 / (64 + heaps[h]), n[NIMPL];
        void *heap = heap_new((size_t)heaps[h]);

        for (int k = 0; k < NIMPL; k++)
            n[k] = k == EVSIG_SPAWN || k == POSIX_SPAWN ? n0
                   : nfork < 5 ? 5 : nfork;
        for (int r = 0; r < reps; r++) {
            for (int j = 0; j < NIMPL; j++) {
                int k = (r + j) % NIMPL;

                if (!why[k])
                    t[k][r] = turn(k, n[k], &f[k], &c[k][r], &pc[k][r]);
            }
        }
        for (int k = 0; k < NIMPL; k++) {
            if (why[k]) {
                printf("spawn %s heap=%d us=n/a   %s: n/a (%s)\n", names[k],
                       heaps[h], names[k], why[k]);
                continue;
            }
            m[h][k] = bench_median(t[k], reps);
            printf("spawn %s heap=%d us=%.1f cpu=%.1f pcpu=%.1f pfaults=%.2f "
                   "cfaults=%.2f n=%dx%d\n", names[k], heaps[h], m[h][k],
                   bench_median(c[k], reps), bench_median(pc[k], reps),
                   (double)f[k].pfaults / (reps * n[k]),
                   (double)f[k].cfaults / (reps * n[k]), n[k], reps);
        }
        printf("spawn ratio heap=%d", heaps[h]);
        for (int k = 0; k < NIMPL; k++)
            if (k != POSIX_SPAWN)
                print_ratio(m[h], k, POSIX_SPAWN);
        printf("\n");
        fflush(stdout);
        if (heap)
            munmap(heap, (size_t)heaps[h] << 20);
        last = h;
    }
    if (last > 0) {
        printf("spawn growth heap=%d/heap=0", heaps[last]);
        for (int k = 0; k < NIMPL; k++) {
            if (m[last][k] > 0 && m[0][k] > 0)
                printf(" %s=%.2f", names[k], m[last][k] / m[0][k]);
            else
                printf(" %s=n/a", names[k]);
        }
        printf("\n");
    }

#ifdef EVSIG_BENCH_LIBUV
    if (!why[LIBUV])
        uv_loop_close(&st.uvloop);
#endif
    if (waitpid(-1, NULL, WNOHANG) != -1 || errno != ECHILD) {
        fprintf(stderr, "spawn: a child was left behind\n");
        st.bad++;
    }
    if (st.bad)
        fprintf(stderr, "spawn: %d statuses lost or wrong\n", st.bad);
    evsig_reset();
    return st.bad != 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * memory.c - what evsig uses per watched child and per signal watcher.
 *
 * Heap bytes in use (mallinfo2, mapped chunks included) and open fds
 * (/proc/self/fd) before and after watching C children that block on a
 * pipe, once per child backend (the PIDFD backend holds one pidfd per
 * child: 1 fd expected; LIBEV none), and heap bytes before and after
 * starting W watchers (the caller's evsig_watcher structs are not evsig's
 * memory: their size is printed separately). RSS growth (VmRSS) is printed
 * too; it moves in pages and also counts libev's own per-child bookkeeping.
 * Kernel memory per child is kmem.c's.
 *
 * Output: "memory child backend=<b> bytes=<heap/C> rss=<rss/C> fds=<fds/C>",
 *         "memory child backend=<b> bytes=n/a   <b>: n/a (<why>)" and
 *         "memory watcher bytes=<heap/W> caller=<sizeof(evsig_watcher)>".
 *
 *   usage: evsig-bench-memory [children [watchers]]
 */
#include <dirent.h>
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <evsig.h>

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;

    while (f && fgets(line, sizeof(line), f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            kb = strtol(line + 6, NULL, 10);
    if (f)
        fclose(f);
    return kb;
}

/* Heap bytes in use, including chunks malloc maps on their own. */
static size_t heap_bytes(void)
{
    struct mallinfo2 mi = mallinfo2();

    return mi.uordblks + mi.hblkhd;
}

#ifdef EVSIG_CHILD_PIDFD
#define BACKEND_PIDFD EVSIG_CHILD_PIDFD
#define BACKEND_LIBEV EVSIG_CHILD_LIBEV
#else
/* Before the second version lands, evsig is the LIBEV design. */
#define BACKEND_PIDFD 1
#define BACKEND_LIBEV 2
#endif

/* Open descriptors, the one reading the directory excepted. */
static int fd_count(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = -3;   /* ".", ".." and the directory's own fd */

    while (d && readdir(d))
        n++;
    if (d)
        closedir(d);
    return n;
}

/*
 * Watch @n children (blocked on a pipe) with @backend, print what each
 * cost, release and collect them. 0, 1 on a lost child; -1 when @backend
 * cannot be had here (the line says why).
 */
static int children(struct ev_loop *loop, int backend, const char *name, int n,
                    pid_t *pids)
{
    size_t h0, h1;
    long r0, r1;
    int f0, f1, p[2], bad = 0;

#ifdef EVSIG_CHILD_PIDFD
    if (evsig_set_child_backend(backend) < 0) {
        printf("memory child backend=%s bytes=n/a   %s: n/a (%s)\n", name, name,
               errno == ENOSYS ? "ENOSYS: no pidfds here" : strerror(errno));
        return -1;
    }
#else
    if (backend == BACKEND_PIDFD) {
        printf("memory child backend=%s bytes=n/a   %s: n/a (first version)\n",
               name, name);
        return -1;
    }
#endif
    if (pipe(p) < 0)
        return 1;
    /* Warm up: the first child call allocates evsig's first tables. */
    evsig_waitpid(loop, -1, NULL, WNOHANG);

    h0 = heap_bytes();
    r0 = rss_kb();
    f0 = fd_count();
    for (int i = 0; i < n; i++) {
        pids[i] = evsig_fork_and_watch(loop, NULL, NULL, 0);
        if (pids[i] == 0) {
            char c;

            close(p[1]);
            (void)!read(p[0], &c, 1);
            _exit(0);
        }
        if (pids[i] < 0) {
            perror("fork");
            n = i;
            bad = 1;
            break;
        }
    }
    h1 = heap_bytes();
    r1 = rss_kb();
    f1 = fd_count();
    printf("memory child backend=%s bytes=%.1f rss=%.1f fds=%.2f n=%d\n", name,
           (double)(h1 - h0) / n, (r1 - r0) * 1024.0 / n, (double)(f1 - f0) / n, n);
    close(p[1]);
    for (int i = 0; i < n; i++)
        if (evsig_waitpid(loop, pids[i], NULL, 0) != pids[i])
            bad = 1;
    close(p[0]);
    evsig_reset();
    return bad;
}

static void on_sig(struct ev_loop *loop, const evsig_info *info, void *data)
{
    (void)loop;
    (void)info;
    (void)data;
}

int main(int argc, char **argv)
{
    int nchild = argc > 1 ? atoi(argv[1]) : 2000;
    int nwatch = argc > 2 ? atoi(argv[2]) : 100000;
    struct ev_loop *loop = ev_default_loop(0);
    evsig_watcher *ws = calloc((size_t)nwatch, sizeof(*ws));
    pid_t *pids = calloc((size_t)nchild, sizeof(*pids));
    int sigs[] = { SIGUSR1, SIGUSR2, SIGHUP, SIGWINCH };
    struct rlimit rl;
    size_t h0, h1;
    int bad = 0;

    if (nchild <= 0 || nwatch <= 0 || !ws || !pids) {
        fprintf(stderr, "usage: %s [children [watchers]]\n", argv[0]);
        return 2;
    }
    /* One pidfd per child under the PIDFD backend. */
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    bad |= children(loop, BACKEND_PIDFD, "pidfd", nchild, pids) > 0;
    bad |= children(loop, BACKEND_LIBEV, "libev", nchild, pids) > 0;

    h0 = heap_bytes();
    for (int i = 0; i < nwatch; i++)
        if (evsig_watch(loop, &ws[i], sigs[i % 4], on_sig, NULL, EVSIG_NOREF) < 0)
            bad = 1;
    h1 = heap_bytes();
    printf("memory watcher bytes=%.1f caller=%zu n=%d\n",
           (double)(h1 - h0) / nwatch, sizeof(evsig_watcher), nwatch);
    evsig_reset();
    free(ws);
    free(pids);
    return bad;
}

/* SPDX-License-Identifier: MIT */
/*
 * memory.c - bytes evsig uses per watched child and per signal watcher.
 *
 * Heap bytes in use (mallinfo2, mapped chunks included) before and after watching C children that
 * block on a pipe, and before and after starting W watchers (the caller's
 * evsig_watcher structs are static here: they are not evsig's memory, and
 * their size is printed separately). RSS growth (VmRSS) is printed too; it
 * moves in pages and also counts libev's own per-child bookkeeping.
 *
 * Output: "memory child bytes=<heap/C> rss=<rss/C>" and
 *         "memory watcher bytes=<heap/W> caller=<sizeof(evsig_watcher)>".
 *
 *   usage: evsig-bench-memory [children [watchers]]
 */
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
    size_t h0, h1;
    long r0, r1;
    int p[2], bad = 0;

    if (nchild <= 0 || nwatch <= 0 || !ws || !pids || pipe(p) < 0) {
        fprintf(stderr, "usage: %s [children [watchers]]\n", argv[0]);
        return 2;
    }
    /* Warm up: the first child and watcher allocate evsig's first tables. */
    evsig_waitpid(loop, -1, NULL, WNOHANG);

    h0 = heap_bytes();
    r0 = rss_kb();
    for (int i = 0; i < nchild; i++) {
        pids[i] = evsig_fork_and_watch(loop, NULL, NULL, 0);
        if (pids[i] == 0) {
            char c;

            close(p[1]);
            (void)!read(p[0], &c, 1);
            _exit(0);
        }
        if (pids[i] < 0) {
            perror("fork");
            nchild = i;
            bad = 1;
            break;
        }
    }
    h1 = heap_bytes();
    r1 = rss_kb();
    printf("memory child bytes=%.1f rss=%.1f n=%d\n",
           (double)(h1 - h0) / nchild, (r1 - r0) * 1024.0 / nchild, nchild);
    close(p[1]);
    for (int i = 0; i < nchild; i++)
        if (evsig_waitpid(loop, pids[i], NULL, 0) != pids[i])
            bad = 1;
    close(p[0]);

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

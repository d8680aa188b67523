/* SPDX-License-Identifier: MIT */
/*
 * siginfo.c - what evsig tells a handler: send yourself signals, print them.
 *
 * Sets a table handler for SIGUSR1 (Python's signal.signal()), starts a
 * watcher for SIGRTMIN, then sends itself one kill(), one raise() and three
 * sigqueue() values, runs the loop until every delivery was handled, and
 * prints what each handler saw. Exits 0 when all five arrived, in order,
 * with their values; 1 otherwise.
 *
 *   $ ./build/examples/evsig-siginfo
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <evsig.h>

#define QUEUED 3

struct seen {
    int  deliveries;
    int  values[QUEUED];
    int  nvalues;
    bool bad;
};

static const char *code_name(int code)
{
    switch (code) {
    case SI_USER:    return "SI_USER (kill)";
    case SI_QUEUE:   return "SI_QUEUE (sigqueue)";
    case SI_TKILL:   return "SI_TKILL (raise/tgkill)";
    case SI_KERNEL:  return "SI_KERNEL";
    case SI_TIMER:   return "SI_TIMER (timer_create)";
    case SI_MESGQ:   return "SI_MESGQ (mq_notify)";
    case SI_ASYNCIO: return "SI_ASYNCIO (aio)";
    case SI_SIGIO:   return "SI_SIGIO";
    default:         return "other";
    }
}

static void print_info(const char *who, const evsig_info *info)
{
    printf("%-8s %-9s %-22s code=%-24s pid=%-6ld uid=",
           who, evsig_signame(info->signo), evsig_strsignal(info->signo),
           code_name(info->code), (long)info->pid);
    if (info->code == SI_QUEUE)
        printf("%-5ld value=%d\n", (long)info->uid, info->value.sival_int);
    else
        printf("%ld\n", (long)info->uid);
}

/*
 * Why these callbacks may call printf(): they run from ev_run() on the
 * loop's thread, never inside the C signal handler. evsig's own handler
 * only recorded the siginfo and woke the loop; the callback runs later,
 * between two loop iterations, where any function is safe. (In a real
 * signal handler printf() is not async-signal-safe: it could interrupt a
 * printf() that holds stdout's lock and deadlock.)
 */
static void on_usr1(struct ev_loop *loop, const evsig_info *info, void *data)
{
    struct seen *seen = data;
    (void)loop;

    print_info("table", info);
    if (info->pid != getpid())
        seen->bad = true;
    seen->deliveries++;
}

static void on_rtmin(struct ev_loop *loop, const evsig_info *info, void *data)
{
    struct seen *seen = data;
    (void)loop;

    print_info("watcher", info);
    if (info->code != SI_QUEUE || seen->nvalues == QUEUED)
        seen->bad = true;
    else
        seen->values[seen->nvalues++] = info->value.sival_int;
    seen->deliveries++;
}

static void on_deadline(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)t;
    (void)revents;
    ev_break(loop, EVBREAK_ALL);
}

int main(void)
{
    struct ev_loop *loop = ev_default_loop(0);
    struct seen seen = { 0 };
    evsig_watcher rt;
    ev_timer deadline;

    /* Python: signal.signal(SIGUSR1, handler). A table handler does not
     * keep ev_run() alive on its own. */
    if (evsig_signal(loop, SIGUSR1, on_usr1, &seen, NULL) < 0 ||
        /* A watcher does, until it is stopped. The struct needs no init. */
        evsig_watch(loop, &rt, SIGRTMIN, on_rtmin, &seen, 0) < 0) {
        fprintf(stderr, "evsig: %s\n", strerror(errno));
        return 1;
    }

    printf("pid %ld sends itself SIGUSR1 twice and SIGRTMIN three times\n\n",
           (long)getpid());
    if (kill(getpid(), SIGUSR1) < 0 || raise(SIGUSR1) != 0) {
        perror("kill/raise");
        return 1;
    }
    for (int i = 0; i < QUEUED; i++) {
        /* Queued real-time signals are not merged: one call per value. */
        union sigval v = { .sival_int = 100 + i };
        if (sigqueue(getpid(), SIGRTMIN, v) < 0) {
            perror("sigqueue");
            return 1;
        }
    }
    printf("(nothing ran yet: %d handled; handlers run on the loop)\n\n",
           seen.deliveries);

    ev_timer_init(&deadline, on_deadline, 5., 0.);
    ev_timer_start(loop, &deadline);
    ev_unref(loop);   /* the deadline alone must not keep the loop alive */
    while (seen.deliveries < 2 + QUEUED && ev_run(loop, EVRUN_ONCE))
        ;
    evsig_unwatch(&rt);
    ev_ref(loop);
    ev_timer_stop(loop, &deadline);

    for (int i = 0; i < seen.nvalues; i++)
        if (seen.values[i] != 100 + i)
            seen.bad = true;
    printf("\n%d of %d deliveries handled%s\n", seen.deliveries, 2 + QUEUED,
           seen.bad || seen.deliveries != 2 + QUEUED ? ": FAILED" : ", in order");

    evsig_reset();   /* put back every disposition evsig changed */
    return seen.bad || seen.deliveries != 2 + QUEUED;
}

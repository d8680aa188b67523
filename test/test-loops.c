/* SPDX-License-Identifier: MIT */
/*
 * test-loops.c - one signal on many loops, and who owns a delivery
 * (DESIGN.md §3.1 "A delivery belongs to the handlers active when it was
 * received", §3.2 "Any number of loops, in any threads", EVSIG_COALESCE,
 * evsig_ref()/evsig_unref(), §4 "Second version": EVFLAG_SIGNALFD loops).
 *
 * - Fan-out: two and three loops, each in its own thread, each get every
 *   SIGUSR1 and every queued real-time value, in order. A loop that does
 *   not run loses only its own oldest deliveries, counted in info->lost;
 *   the loop that runs loses none.
 * - The table and the watchers of one signal may sit on different loops;
 *   the table follows the last evsig_signal(); unwatching on one loop
 *   leaves the other alone, and the last unwatch puts back exactly what
 *   evsig found.
 * - Ownership at reception: a watcher (or table handler) started after the
 *   C handler caught a delivery does not get it; a delivery whose owners
 *   all stopped before dispatch is dropped, never raised again.
 * - EVSIG_COALESCE folds the deliveries of one loop iteration into one
 *   call (info->merged); evsig_ref()/evsig_unref() decide whether ev_run()
 *   returns.
 * - Loops made with EVFLAG_SIGNALFD, directly or by the LIBEV_FLAGS
 *   environment variable (an exec'd copy of this binary), work as others.
 *
 * Threads: each creates its own loop with ev_loop_new(EVFLAG_NOENV) and
 * its watchers, runs it until it has what it waits for (capped by a
 * timer), stops its watchers and destroys the loop; results are asserted
 * on the main thread after pthread_join(), never in the thread. Signals
 * are produced where the test decides which thread takes them: raise() and
 * sigqueue() to self are handled before they return by the calling thread
 * when it does not block the signal, so consecutive sends never coalesce;
 * where another thread takes them, the sender waits for the C handler's
 * wakeup byte (evsig_set_wakeup_fd()) before the next one.
 *
 * Anything that must kill, or could kill if evsig got it wrong (a
 * re-raised SIGUSR1, SIGPIPE or SIGHUP), runs in a forked child that
 * reports through its exit status (never cmocka there).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "evsig.h"
#include "test-util.h"


#define SELF_ARG_LIBEV_FLAGS "--libev-flags-child"

static const char *self_path;

/* --- fixtures and helpers ------------------------------------------------ */

/*
 * Two fresh loops per test (ev_loop_new(EVFLAG_NOENV)), made before
 * tu_setup() takes its snapshot and destroyed after tu_teardown()'s
 * evsig_reset() (which is what evsig asks for before ev_loop_destroy()), so
 * that a failing test does not also report its loops as leaked fds.
 */
static struct ev_loop *L1, *L2;

static void noop_async_cb(struct ev_loop *loop, ev_async *w, int revents)
{
    (void)loop;
    (void)w;
    (void)revents;
}

/* libev opens a loop's wakeup eventfd at its first ev_async (or
 * ev_signal) start and keeps it for the loop's lifetime: open it now, so
 * that it is part of the snapshot and not a leak. */
static struct ev_loop *loop_with_its_eventfd(void)
{
    struct ev_loop *loop = ev_loop_new(EVFLAG_NOENV);
    ev_async a;

    if (loop) {
        ev_async_init(&a, noop_async_cb);
        ev_async_start(loop, &a);
        ev_async_stop(loop, &a);
    }
    return loop;
}

static int loops_setup(void **state)
{
    L1 = loop_with_its_eventfd();
    L2 = loop_with_its_eventfd();
    if (!L1 || !L2) {
        print_error("loops_setup: ev_loop_new failed\n");
        return -1;
    }
    return tu_setup(state);
}

static int loops_teardown(void **state)
{
    int r = tu_teardown(state);

    ev_loop_destroy(L1);
    ev_loop_destroy(L2);
    L1 = L2 = NULL;
    return r;
}

/* Every callback appends its id here, so order across handlers shows. */
#define LOG_MAX 512

static struct {
    int ids[LOG_MAX];
    int n;
} order;

#define MAXV 1024

/* What one table handler or watcher saw, call by call. */
struct rec {
    int             id;
    struct ev_loop *want_loop;     /* the loop it must run on, if set */
    int             n;
    int             wrong_loop;
    evsig_info      first, last;
    int             values[MAXV];  /* sigqueue values, in arrival order */
    unsigned        lost[MAXV];    /* info->lost of each call */
    unsigned        merged[MAXV];  /* info->merged of each call */
    int             nvalues;
    unsigned        lost_total;
};

static void rec_init(struct rec *r, int id, struct ev_loop *want_loop)
{
    memset(r, 0, sizeof(*r));
    r->id = id;
    r->want_loop = want_loop;
}

static void rec_cb(struct ev_loop *loop, const evsig_info *info, void *data)
{
    struct rec *r = data;
    int k = r->n < MAXV ? r->n : MAXV - 1;

    if (order.n < LOG_MAX)
        order.ids[order.n] = r->id;
    order.n++;
    if (r->want_loop && loop != r->want_loop)
        r->wrong_loop++;
    if (r->n == 0)
        r->first = *info;
    r->last = *info;
    r->lost[k] = info->lost;
    r->merged[k] = info->merged;
    r->lost_total += info->lost;
    if (info->code == SI_QUEUE && r->nvalues < MAXV)
        r->values[r->nvalues++] = info->value.sival_int;
    r->n++;
}

/* A second function, to tell table entries apart by handler. */
static void other_cb(struct ev_loop *loop, const evsig_info *info, void *data)
{
    rec_cb(loop, info, data);
}

static void log_reset(void)
{
    memset(&order, 0, sizeof(order));
}

static void assert_order(const int *want, int n)
{
    if (order.n != n) {
        char buf[512];
        size_t len = 0;

        for (int i = 0; i < order.n && i < 40 && len < sizeof(buf); i++)
            len += (size_t)snprintf(buf + len, sizeof(buf) - len, " %d",
                                    order.ids[i]);
        fail_msg("%d calls (%s ), expected %d", order.n, buf, n);
    }
    for (int i = 0; i < n; i++)
        if (order.ids[i] != want[i])
            fail_msg("call %d went to %d, expected %d", i, order.ids[i], want[i]);
}

static void assert_values_0_to(const struct rec *r, int n)
{
    assert_int_equal(r->nvalues, n);
    for (int i = 0; i < n; i++)
        if (r->values[i] != i)
            fail_msg("rec %d: value %d at position %d, expected %d", r->id,
                     r->values[i], i, i);
}

/*
 * sigqueue() a value to this process and let the C handler run before the
 * next one. The kernel runs it on the way out of the system call (this
 * thread does not block the signal); under ThreadSanitizer it waits for the
 * next call TSan intercepts, and TSan keeps one pending slot per signal, so
 * a second sigqueue() first would overwrite the first value. An
 * uncontended mutex is such a call.
 */
static int queue_value(int sig, int value)
{
    static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
    int r = tu_sigqueue_self(sig, value);

    pthread_mutex_lock(&m);
    pthread_mutex_unlock(&m);
    return r;
}

/* In a forked child: @expr (int) must not be -1; says which errno if it is. */
#define CHILD_OK(expr) do {                                                \
        errno = 0;                                                         \
        if ((long)(expr) == -1) {                                          \
            dprintf(STDERR_FILENO, "child %d: %s failed: %s\n",            \
                    (int)getpid(), #expr, tu_errname(errno));              \
            tu_child_fail(#expr, __FILE__, __LINE__);                      \
        }                                                                  \
    } while (0)

/* --- loops in threads ---------------------------------------------------- */

/*
 * One loop in its own thread: it blocks @sigs in that thread if @block,
 * else unblocks them,
 * creates its loop and a watcher per signal, says so with a byte on
 * @ready_fd (also when a watch failed: @watch_err says why), then runs
 * until each signal was delivered @expect times, @quit is set (and @wake
 * sent), or 10 s passed. It then stops its watchers and destroys the loop.
 */
struct looper {
    pthread_t       thread;
    pthread_t       self;
    int             sigs[2];        /* 0: none */
    bool            block;
    int             expect;
    int             ready_fd;
    int             ack_fd;         /* >= 0: a byte per @ack_every calls */
    int             ack_every;
    _Atomic bool    quit;
    _Atomic bool    up;             /* @wake is started: ev_async_send() ok */
    ev_async        wake;
    struct ev_loop *loop;
    evsig_watcher   w[2];
    /* results, read after pthread_join() */
    int             watch_err;
    const char     *failed_step;
    int             n[2];
    int             values[2][MAXV];
    int             nvalues[2];
    unsigned        lost;
    int             wrong_thread, wrong_info;
    bool            finished;
};

static void looper_cb(struct ev_loop *loop, const evsig_info *info, void *data)
{
    struct looper *l = data;
    int k = info->signo == l->sigs[0] ? 0 : info->signo == l->sigs[1] ? 1 : -1;

    (void)loop;
    if (!pthread_equal(pthread_self(), l->self))
        l->wrong_thread++;
    if (k < 0 || info->pid != getpid()) {
        l->wrong_info++;
        return;
    }
    l->lost += info->lost;
    if (info->code == SI_QUEUE && l->nvalues[k] < MAXV)
        l->values[k][l->nvalues[k]++] = info->value.sival_int;
    l->n[k]++;
    if (l->ack_fd >= 0 && l->n[k] % l->ack_every == 0)
        tu_write_all(l->ack_fd, "a", 1);
}

static void looper_wake_cb(struct ev_loop *loop, ev_async *w, int revents)
{
    (void)loop;
    (void)w;
    (void)revents;
}

static bool looper_done(const struct looper *l)
{
    for (int k = 0; k < 2; k++)
        if (l->sigs[k] && l->n[k] < l->expect)
            return false;
    return true;
}

static void *looper_main(void *arg)
{
    struct looper *l = arg;
    struct ev_loop *loop;

    l->self = pthread_self();
    {
        /* Both ways: a thread inherits its creator's mask. */
        sigset_t set;

        sigemptyset(&set);
        for (int k = 0; k < 2; k++)
            if (l->sigs[k])
                sigaddset(&set, l->sigs[k]);
        pthread_sigmask(l->block ? SIG_BLOCK : SIG_UNBLOCK, &set, NULL);
    }
    loop = l->loop = ev_loop_new(EVFLAG_NOENV);
    if (!loop) {
        l->watch_err = ENOMEM;
        l->failed_step = "ev_loop_new";
        tu_write_all(l->ready_fd, "r", 1);
        return NULL;
    }
    ev_async_init(&l->wake, looper_wake_cb);
    ev_async_start(loop, &l->wake);
    atomic_store(&l->up, true);
    for (int k = 0; k < 2 && !l->watch_err; k++) {
        if (l->sigs[k] &&
            evsig_watch(loop, &l->w[k], l->sigs[k], looper_cb, l, 0) != 0) {
            l->watch_err = errno;
            l->failed_step = "evsig_watch";
        }
    }
    tu_write_all(l->ready_fd, "r", 1);
    if (!l->watch_err)
        l->finished = TU_RUN_UNTIL(loop, looper_done(l) || atomic_load(&l->quit),
                                   10.0) && looper_done(l);
    for (int k = 0; k < 2; k++)
        evsig_unwatch(&l->w[k]);
    ev_async_stop(loop, &l->wake);
    ev_loop_destroy(loop);
    return NULL;
}

/* Start @l's thread (counted in *@started, to be joined) and wait 5 s at
 * most until it is set up; false if it was not. */
static bool looper_start(struct looper *l, int ready_rd, int *started)
{
    if (pthread_create(&l->thread, NULL, looper_main, l) != 0)
        return false;
    (*started)++;
    return tu_read_byte_within(ready_rd, 5000, NULL) == 1;
}

/* Join the @started loopers, asking them to finish first if @quit. */
static void looper_stop_all(struct looper *l, int started, bool quit)
{
    for (int i = 0; i < started; i++) {
        if (quit) {
            atomic_store(&l[i].quit, true);
            if (atomic_load(&l[i].up))
                ev_async_send(l[i].loop, &l[i].wake);
        }
        pthread_join(l[i].thread, NULL);
    }
}

static bool looper_any_failed(const struct looper *l, int n)
{
    for (int i = 0; i < n; i++)
        if (l[i].watch_err)
            return true;
    return false;
}

/* Fail, naming the first looper whose setup failed and why. */
static void assert_loopers_set_up(const struct looper *l, int n)
{
    for (int i = 0; i < n; i++)
        if (l[i].watch_err)
            fail_msg("loop %d in its thread: %s: %s", i, l[i].failed_step,
                     tu_errname(l[i].watch_err));
}

static void assert_looper_got_all_in_order(const struct looper *l, int i, int n)
{
    for (int k = 0; k < 2; k++) {
        if (!l->sigs[k])
            continue;
        if (l->n[k] != n)
            fail_msg("loop %d got %s %d times, expected %d", i,
                     evsig_signame(l->sigs[k]), l->n[k], n);
        if (l->sigs[k] >= SIGRTMIN) {
            assert_int_equal(l->nvalues[k], n);
            for (int v = 0; v < n; v++)
                if (l->values[k][v] != v)
                    fail_msg("loop %d: value %d at position %d, expected %d",
                             i, l->values[k][v], v, v);
        }
    }
    assert_true(l->finished);
    assert_int_equal(l->lost, 0);
    assert_int_equal(l->wrong_thread, 0);
    assert_int_equal(l->wrong_info, 0);
}

static void test_two_loops_in_threads_each_get_every_sigusr1_and_every_queued_value_in_order(void **unused)
{
    enum { LOOPS = 2, N = 50 };
    const int rt = SIGRTMIN + 2;
    struct looper *l = calloc(LOOPS, sizeof(*l));
    int ready[2], started = 0, nready = 0, send_err = 0;
    (void)unused;

    assert_non_null(l);
    tu_pipe(ready);
    /* The loop threads block both signals: this thread takes every one,
     * each before raise()/sigqueue() returns, so none coalesce. */
    for (int i = 0; i < LOOPS; i++) {
        l[i] = (struct looper){ .sigs = { SIGUSR1, rt }, .block = true,
                                .expect = N, .ready_fd = ready[1], .ack_fd = -1 };
        if (!looper_start(&l[i], ready[0], &started))
            break;
        nready++;
    }
    if (nready == LOOPS && !looper_any_failed(l, LOOPS)) {
        for (int v = 0; v < N && !send_err; v++) {
            if (raise(SIGUSR1) != 0 || queue_value(rt, v) != 0)
                send_err = errno;
        }
    }
    looper_stop_all(l, started, send_err || nready < LOOPS ||
                                looper_any_failed(l, LOOPS));
    close(ready[0]);
    close(ready[1]);

    assert_int_equal(nready, LOOPS);
    assert_loopers_set_up(l, LOOPS);
    assert_int_equal(send_err, 0);
    for (int i = 0; i < LOOPS; i++)
        assert_looper_got_all_in_order(&l[i], i, N);
    free(l);
}

static void test_three_loops_in_threads_each_get_every_delivery_when_one_loop_thread_takes_the_signals(void **unused)
{
    enum { LOOPS = 3, N = 50 };
    const int rt = SIGRTMIN + 3;
    struct looper *l = calloc(LOOPS, sizeof(*l));
    int ready[2], wake[2], started = 0, nready = 0, lost_byte = -1, send_err = 0;
    sigset_t both = tu_sigset(SIGUSR1, rt, 0), old;
    (void)unused;

    assert_non_null(l);
    tu_pipe(ready);
    tu_pipe(wake);
    assert_succeeds(evsig_set_wakeup_fd(wake[1], 0, NULL));
    /* Only loop 0's thread leaves the signals unblocked: the C handler runs
     * there, in the thread of one of the three loops, and feeds the other
     * two. */
    assert_int_equal(pthread_sigmask(SIG_BLOCK, &both, &old), 0);
    for (int i = 0; i < LOOPS; i++) {
        l[i] = (struct looper){ .sigs = { SIGUSR1, rt }, .block = i != 0,
                                .expect = N, .ready_fd = ready[1], .ack_fd = -1 };
        if (!looper_start(&l[i], ready[0], &started))
            break;
        nready++;
    }
    if (nready == LOOPS && !looper_any_failed(l, LOOPS)) {
        /* After each signal, the C handler's byte before the next one: a
         * SIGUSR1 still pending would swallow the next. */
        for (int v = 0; v < N && lost_byte < 0 && !send_err; v++) {
            if (kill(getpid(), SIGUSR1) != 0) {
                send_err = errno;
                break;
            }
            if (tu_read_byte_within(wake[0], 5000, NULL) != 1)
                lost_byte = 2 * v;
            else if (queue_value(rt, v) != 0)
                send_err = errno;
            else if (tu_read_byte_within(wake[0], 5000, NULL) != 1)
                lost_byte = 2 * v + 1;
        }
    }
    looper_stop_all(l, started, send_err || lost_byte >= 0 ||
                                nready < LOOPS || looper_any_failed(l, LOOPS));
    /* After a failure a signal may still be pending, now with no watcher:
     * take it here rather than die of it when this thread unblocks. */
    {
        const struct timespec zero = { 0, 0 };

        while (sigtimedwait(&both, NULL, &zero) > 0)
            ;
    }
    assert_int_equal(pthread_sigmask(SIG_SETMASK, &old, NULL), 0);
    assert_int_equal(evsig_set_wakeup_fd(-1, 0, NULL), 0);
    close(ready[0]);
    close(ready[1]);
    close(wake[0]);
    close(wake[1]);

    assert_int_equal(nready, LOOPS);
    assert_loopers_set_up(l, LOOPS);
    assert_int_equal(send_err, 0);
    if (lost_byte >= 0)
        fail_msg("no wakeup byte for send %d", lost_byte);
    for (int i = 0; i < LOOPS; i++)
        assert_looper_got_all_in_order(&l[i], i, N);
    free(l);
}

/*
 * Loop A runs in its thread and acknowledges every BATCH deliveries, so it
 * is never more than BATCH behind; loop B (this thread's) is not run while
 * 4 * EVSIG_RING_SIZE values are queued. A gets them all; B keeps the
 * newest, counts the rest as lost on its first call, and nothing in
 * between is missing.
 */
static void test_a_stalled_loop_loses_only_its_own_oldest_deliveries_while_a_running_loop_gets_all(void **unused)
{
    enum { BATCH = 32 };
    const int n = 4 * EVSIG_RING_SIZE;
    const int rt = SIGRTMIN + 4;
    struct looper *a = calloc(1, sizeof(*a));
    struct ev_loop *b = L1;
    static evsig_watcher wb;
    static struct rec rb;
    int ready[2], ack[2], watch_b = -1, watch_b_err = 0, send_err = 0, stall = -1;
    int started = 0;
    bool ready_ok;
    (void)unused;

    assert_non_null(a);
    rec_init(&rb, 2, b);
    tu_pipe(ready);
    tu_pipe(ack);
    *a = (struct looper){ .sigs = { rt, 0 }, .block = true, .expect = n,
                          .ready_fd = ready[1], .ack_fd = ack[1],
                          .ack_every = BATCH };
    ready_ok = looper_start(a, ready[0], &started);
    if (ready_ok && !a->watch_err) {
        watch_b = evsig_watch(b, &wb, rt, rec_cb, &rb, 0);
        watch_b_err = errno;
    }
    if (watch_b == 0) {
        for (int v = 0; v < n; v++) {
            if (queue_value(rt, v) != 0) {
                send_err = errno;
                break;
            }
            if ((v + 1) % BATCH == 0 && tu_read_byte_within(ack[0], 5000, NULL) != 1) {
                stall = v;
                break;
            }
        }
    }
    looper_stop_all(a, started, watch_b != 0 || send_err || stall >= 0);
    close(ready[0]);
    close(ready[1]);
    close(ack[0]);
    close(ack[1]);

    assert_true(ready_ok);
    assert_loopers_set_up(a, 1);
    if (watch_b != 0)
        fail_msg("evsig_watch on a second loop: %s", tu_errname(watch_b_err));
    assert_int_equal(send_err, 0);
    if (stall >= 0)
        fail_msg("the running loop stopped acknowledging after %d values", stall + 1);
    assert_looper_got_all_in_order(a, 0, n);

    /* Now B runs, once it has everything it will get. */
    assert_true(TU_RUN_UNTIL(b, rb.n > 0, 5));
    tu_spin(b);
    print_message("stalled loop: %d kept, %u lost of %d\n", rb.n, rb.lost_total, n);
    assert_int_equal(rb.wrong_loop, 0);
    assert_true(rb.lost[0] > 0);                          /* on its first call */
    assert_int_equal((unsigned)rb.n + rb.lost_total, (unsigned)n);
    assert_int_equal(rb.nvalues, rb.n);
    assert_int_equal(rb.values[rb.nvalues - 1], n - 1);   /* the newest is kept */
    /* What was lost is the oldest: values[0] - 0 of them, none after. */
    assert_int_equal(rb.lost[0], (unsigned)rb.values[0]);
    for (int i = 1; i < rb.nvalues; i++) {
        assert_int_equal(rb.values[i], rb.values[0] + i);
        assert_int_equal(rb.lost[i], 0);
    }

    /* Both work normally afterwards, B without a loss. */
    assert_int_equal(queue_value(rt, 7777), 0);
    assert_true(TU_RUN_UNTIL(b, rb.values[rb.nvalues - 1] == 7777, 5));
    assert_int_equal(rb.last.lost, 0);

    assert_succeeds(evsig_unwatch(&wb));
    free(a);
}

/* --- the table and the watchers on different loops ------------------------ */

static void test_the_table_handler_on_one_loop_and_watchers_on_another_are_all_called_per_delivery(void **unused)
{
    enum { N = 5 };
    struct ev_loop *l1 = L1, *l2 = L2;
    const int rt = SIGRTMIN + 5;
    static evsig_watcher wa, wb;
    static struct rec table, ra, rb;
    (void)unused;

    rec_init(&table, 100, l1);
    rec_init(&ra, 1, l2);
    rec_init(&rb, 2, l2);
    assert_succeeds(evsig_signal(l1, rt, rec_cb, &table, NULL));
    assert_succeeds(evsig_watch(l2, &wa, rt, rec_cb, &ra, 0));
    assert_succeeds(evsig_watch(l2, &wb, rt, rec_cb, &rb, 0));

    for (int v = 0; v < N; v++)
        assert_int_equal(queue_value(rt, v), 0);
    assert_true(TU_RUN_UNTIL(l1, table.n == N, 5));
    assert_true(TU_RUN_UNTIL(l2, ra.n == N && rb.n == N, 5));
    tu_spin(l1);
    tu_spin(l2);
    assert_int_equal(table.n, N);
    assert_int_equal(ra.n, N);
    assert_int_equal(rb.n, N);
    assert_values_0_to(&table, N);
    assert_values_0_to(&ra, N);
    assert_values_0_to(&rb, N);
    assert_int_equal(table.wrong_loop + ra.wrong_loop + rb.wrong_loop, 0);

    /* And raise(): one more each, still each on its own loop. */
    raise(rt);
    assert_true(TU_RUN_UNTIL(l2, ra.n == N + 1 && rb.n == N + 1, 5));
    assert_true(TU_RUN_UNTIL(l1, table.n == N + 1, 5));
    assert_int_equal(table.last.code, SI_TKILL);
    assert_int_equal(ra.last.code, SI_TKILL);

    assert_succeeds(evsig_unwatch(&wa));
    assert_succeeds(evsig_unwatch(&wb));
}

static void test_the_table_handler_follows_the_last_evsig_signal_to_another_loop(void **unused)
{
    struct ev_loop *l1 = L1, *l2 = L2;
    static struct rec r1, r2;
    evsig_action old, now;
    (void)unused;

    rec_init(&r1, 1, l1);
    rec_init(&r2, 2, l2);
    assert_succeeds(evsig_signal(l1, SIGUSR1, rec_cb, &r1, NULL));
    raise(SIGUSR1);
    assert_true(TU_RUN_UNTIL(l1, r1.n == 1, 5));
    tu_spin(l2);
    assert_int_equal(r2.n, 0);

    /* Python: the last signal.signal() wins, here with its loop. */
    assert_succeeds(evsig_signal(l2, SIGUSR1, other_cb, &r2, &old));
    assert_ptr_equal(old.handler, rec_cb);
    assert_ptr_equal(old.data, &r1);
    assert_succeeds(evsig_getsignal(SIGUSR1, &now));
    assert_ptr_equal(now.handler, other_cb);
    assert_ptr_equal(now.data, &r2);
    assert_true(tu_kernel_has_siginfo_handler(SIGUSR1));
    raise(SIGUSR1);
    assert_true(TU_RUN_UNTIL(l2, r2.n == 1, 5));
    tu_spin(l1);
    tu_spin(l2);
    assert_int_equal(r1.n, 1);
    assert_int_equal(r2.n, 1);

    /* And back, with old. */
    assert_succeeds(evsig_signal(l1, SIGUSR1, old.handler, old.data, NULL));
    raise(SIGUSR1);
    assert_true(TU_RUN_UNTIL(l1, r1.n == 2, 5));
    tu_spin(l2);
    assert_int_equal(r2.n, 1);

    /* A delivery caught while the table was on l1, moved before dispatch:
     * its owner is gone, the new handler did not own it. Dropped. */
    raise(SIGUSR1);
    assert_succeeds(evsig_signal(l2, SIGUSR1, other_cb, &r2, NULL));
    tu_spin(l1);
    tu_spin(l2);
    tu_spin(l1);
    assert_int_equal(r1.n, 2);
    assert_int_equal(r2.n, 1);
    assert_int_equal(r1.wrong_loop + r2.wrong_loop, 0);

}

/* --- unwatching across loops ---------------------------------------------- */

static void test_unwatching_on_one_loop_leaves_the_other_alone_and_the_last_unwatch_puts_back_a_foreign_handler_exactly(void **unused)
{
    struct ev_loop *l1 = L1, *l2 = L2;
    struct sigaction orig, foreign, now;
    static evsig_watcher wa, wb;
    static struct rec ra, rb;
    (void)unused;

    tu_read_sa(SIGUSR1, &orig);
    /* Without SA_ONSTACK: see test-watch.c (valgrind and alternate stacks). */
    tu_install_foreign(SIGUSR1, SA_SIGINFO | SA_RESTART, &foreign);
    rec_init(&ra, 1, l1);
    rec_init(&rb, 2, l2);
    assert_succeeds(evsig_watch(l1, &wa, SIGUSR1, rec_cb, &ra, 0));
    assert_succeeds(evsig_watch(l2, &wb, SIGUSR1, rec_cb, &rb, 0));
    raise(SIGUSR1);
    assert_true(TU_RUN_UNTIL(l1, ra.n == 1, 5));
    assert_true(TU_RUN_UNTIL(l2, rb.n == 1, 5));

    assert_succeeds(evsig_unwatch(&wa));
    tu_read_sa(SIGUSR1, &now);
    assert_true(now.sa_flags & SA_SIGINFO);
    assert_ptr_not_equal(now.sa_sigaction, tu_foreign_sigaction);   /* evsig's */
    raise(SIGUSR1);
    assert_true(TU_RUN_UNTIL(l2, rb.n == 2, 5));
    tu_spin(l1);
    assert_int_equal(ra.n, 1);
    assert_int_equal(tu_foreign_hits, 0);

    assert_succeeds(evsig_unwatch(&wb));
    tu_assert_same_sa(SIGUSR1, &foreign);
    raise(SIGUSR1);
    assert_int_equal(tu_foreign_hits, 1);
    tu_spin(l1);
    tu_spin(l2);
    assert_int_equal(ra.n, 1);
    assert_int_equal(rb.n, 2);

    evsig_reset();
    tu_put_back_exact(SIGUSR1, &orig);
}

static void test_the_last_unwatch_across_loops_puts_back_a_sig_ign_it_found_exactly(void **unused)
{
    struct ev_loop *l1 = L1, *l2 = L2;
    struct sigaction orig, ign, found;
    static evsig_watcher wa, wb;
    static struct rec ra, rb;
    (void)unused;

    tu_read_sa(SIGUSR2, &orig);
    memset(&ign, 0, sizeof(ign));
    ign.sa_handler = SIG_IGN;
    sigemptyset(&ign.sa_mask);
    sigaddset(&ign.sa_mask, SIGWINCH);
    assert_int_equal(sigaction(SIGUSR2, &ign, NULL), 0);
    tu_read_sa(SIGUSR2, &found);
    rec_init(&ra, 1, l1);
    rec_init(&rb, 2, l2);

    assert_succeeds(evsig_watch(l1, &wa, SIGUSR2, rec_cb, &ra, 0));
    assert_succeeds(evsig_watch(l2, &wb, SIGUSR2, rec_cb, &rb, 0));
    raise(SIGUSR2);
    assert_true(TU_RUN_UNTIL(l1, ra.n == 1, 5));
    assert_true(TU_RUN_UNTIL(l2, rb.n == 1, 5));
    /* Stopped in the other order than started. */
    assert_succeeds(evsig_unwatch(&wb));
    assert_true(tu_kernel_has_siginfo_handler(SIGUSR2));
    raise(SIGUSR2);
    assert_true(TU_RUN_UNTIL(l1, ra.n == 2, 5));
    assert_succeeds(evsig_unwatch(&wa));
    tu_assert_same_sa(SIGUSR2, &found);
    raise(SIGUSR2);   /* ignored */
    tu_spin(l1);
    tu_spin(l2);
    assert_int_equal(ra.n, 2);
    assert_int_equal(rb.n, 1);

    evsig_reset();
    tu_put_back_exact(SIGUSR2, &orig);
}

/* --- cooperative waits and oneshots across loops -------------------------- */

static void raise_later_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)loop;
    (void)revents;
    raise(*(const int *)t->data);
}

static void test_a_cooperative_sigwait_consumes_a_delivery_on_its_own_loop_only(void **unused)
{
    struct ev_loop *l1 = L1, *l2 = L2;
    static evsig_watcher wa, wb;
    static struct rec ra, rb;
    sigset_t set = tu_sigset(SIGUSR1, 0);
    evsig_info info;
    ev_timer later;
    int sig = SIGUSR1;
    (void)unused;

    rec_init(&ra, 1, l1);
    rec_init(&rb, 2, l2);
    assert_succeeds(evsig_watch(l1, &wa, SIGUSR1, rec_cb, &ra, 0));
    assert_succeeds(evsig_watch(l2, &wb, SIGUSR1, rec_cb, &rb, 0));

    /* The signal comes while the wait runs l1. */
    ev_timer_init(&later, raise_later_cb, 0.02, 0.);
    later.data = &sig;
    ev_now_update(l1);
    ev_timer_start(l1, &later);
    memset(&info, 0, sizeof(info));
    assert_int_equal(evsig_sigtimedwait(l1, &set, &info, 5.0), SIGUSR1);
    ev_timer_stop(l1, &later);
    assert_int_equal(info.signo, SIGUSR1);
    assert_int_equal(info.code, SI_TKILL);
    tu_spin(l1);
    assert_int_equal(ra.n, 0);   /* consumed on l1 ... */
    assert_true(TU_RUN_UNTIL(l2, rb.n == 1, 5));   /* ... not on l2 */
    assert_int_equal(rb.last.code, SI_TKILL);

    /* The wait is over: the next one reaches both watchers. */
    raise(SIGUSR1);
    assert_true(TU_RUN_UNTIL(l1, ra.n == 1, 5));
    assert_true(TU_RUN_UNTIL(l2, rb.n == 2, 5));
    tu_spin(l1);
    tu_spin(l2);
    assert_int_equal(ra.n, 1);
    assert_int_equal(rb.n, 2);

    assert_succeeds(evsig_unwatch(&wa));
    assert_succeeds(evsig_unwatch(&wb));
}

static void test_oneshot_watchers_on_two_loops_each_get_one_delivery(void **unused)
{
    struct ev_loop *l1 = L1, *l2 = L2;
    static evsig_watcher wa, wb;
    static struct rec ra, rb;
    struct sigaction orig;
    (void)unused;

    tu_read_sa(SIGUSR2, &orig);
    rec_init(&ra, 1, l1);
    rec_init(&rb, 2, l2);
    assert_succeeds(evsig_watch(l1, &wa, SIGUSR2, rec_cb, &ra, EVSIG_ONESHOT));
    assert_succeeds(evsig_watch(l2, &wb, SIGUSR2, rec_cb, &rb, EVSIG_ONESHOT));
    raise(SIGUSR2);
    assert_true(TU_RUN_UNTIL(l1, ra.n == 1, 5));
    assert_true(TU_RUN_UNTIL(l2, rb.n == 1, 5));
    tu_spin(l1);
    tu_spin(l2);
    assert_int_equal(ra.n, 1);
    assert_int_equal(rb.n, 1);
    assert_false(evsig_is_active(&wa));
    assert_false(evsig_is_active(&wb));
    tu_assert_same_sa(SIGUSR2, &orig);   /* no watcher left: as found */

}

/* In a child, SIGUSR2 at SIG_DFL: oneshot watchers on two loops, two quick
 * deliveries. The first is claimed by both; the second has no owner and
 * meets SIG_DFL. Exit 0: survived (a silent drop). */
static void child_two_loop_oneshots_then_default(void *arg)
{
    struct ev_loop *l1 = ev_loop_new(EVFLAG_NOENV), *l2 = ev_loop_new(EVFLAG_NOENV);
    static evsig_watcher wa, wb;
    static struct rec ra, rb;
    (void)arg;

    TU_CHILD_CHECK(l1 && l2);
    signal(SIGUSR2, SIG_DFL);
    rec_init(&ra, 1, l1);
    rec_init(&rb, 2, l2);
    CHILD_OK(evsig_watch(l1, &wa, SIGUSR2, rec_cb, &ra, EVSIG_ONESHOT));
    CHILD_OK(evsig_watch(l2, &wb, SIGUSR2, rec_cb, &rb, EVSIG_ONESHOT));
    TU_CHILD_CHECK(kill(getpid(), SIGUSR2) == 0);
    TU_CHILD_CHECK(kill(getpid(), SIGUSR2) == 0);
    for (int i = 0; i < 4; i++) {
        tu_spin(l1);
        tu_spin(l2);
    }
    _exit(ra.n == 1 && rb.n == 1 ? 0 : 2);
}

static void test_a_second_quick_delivery_to_oneshot_watchers_on_two_loops_meets_the_default_action(void **unused)
{
    (void)unused;
    tu_assert_child_killed(tu_fork(child_two_loop_oneshots_then_default, NULL),
                           SIGUSR2, 10);
}

/* --- EVSIG_COALESCE ------------------------------------------------------- */

static void test_a_coalescing_watcher_gets_ten_quick_deliveries_as_one_call_with_the_newest_siginfo(void **unused)
{
    enum { N = 10 };
    struct ev_loop *loop = L1;
    const int rt = SIGRTMIN + 6;
    static evsig_watcher c, p;
    static struct rec rt_table, rc, rp;
    (void)unused;

    log_reset();
    rec_init(&rt_table, 100, loop);
    rec_init(&rc, 1, loop);
    rec_init(&rp, 2, loop);
    assert_succeeds(evsig_signal(loop, rt, rec_cb, &rt_table, NULL));
    assert_succeeds(evsig_watch(loop, &c, rt, rec_cb, &rc, EVSIG_COALESCE));
    assert_succeeds(evsig_watch(loop, &p, rt, rec_cb, &rp, 0));

    /* Ten deliveries, each caught before sigqueue() returns, before the
     * loop runs. */
    for (int v = 0; v < N; v++)
        assert_int_equal(queue_value(rt, v), 0);
    assert_int_equal(order.n, 0);
    assert_true(TU_RUN_UNTIL(loop, rp.n == N, 5));
    tu_spin(loop);

    /* One call, folding all ten, with the newest siginfo. */
    assert_int_equal(rc.n, 1);
    assert_int_equal(rc.merged[0], N);
    assert_int_equal(rc.last.code, SI_QUEUE);
    assert_int_equal(rc.last.value.sival_int, N - 1);
    assert_int_equal(rc.last.pid, getpid());
    /* The others: one call per delivery, merged 1 each. */
    assert_int_equal(rp.n, N);
    assert_int_equal(rt_table.n, N);
    assert_values_0_to(&rp, N);
    assert_values_0_to(&rt_table, N);
    for (int i = 0; i < N; i++) {
        assert_int_equal(rp.merged[i], 1);
        assert_int_equal(rt_table.merged[i], 1);
    }
    /* In its start-order place, at the first dispatch of the iteration. */
    {
        int want[1 + 2 * N], k = 0;

        for (int i = 0; i < N; i++) {
            want[k++] = 100;
            if (i == 0)
                want[k++] = 1;
            want[k++] = 2;
        }
        assert_order(want, k);
    }

    /* A later delivery is a call of its own again. */
    assert_int_equal(queue_value(rt, 1000), 0);
    assert_true(TU_RUN_UNTIL(loop, rc.n == 2, 5));
    assert_int_equal(rc.merged[1], 1);
    assert_int_equal(rc.last.value.sival_int, 1000);

    assert_succeeds(evsig_unwatch(&c));
    assert_succeeds(evsig_unwatch(&p));
}

static void test_ten_quick_sighups_reach_a_coalescing_reload_watcher_as_one_call(void **unused)
{
    enum { N = 10 };
    struct ev_loop *loop = L1;
    static evsig_watcher reload;
    static struct rec rr;
    struct sigaction orig;
    (void)unused;

    tu_read_sa(SIGHUP, &orig);
    rec_init(&rr, 1, loop);
    assert_succeeds(evsig_watch(loop, &reload, SIGHUP, rec_cb, &rr, EVSIG_COALESCE));
    for (int i = 0; i < N; i++)
        assert_int_equal(raise(SIGHUP), 0);   /* each caught before it returns */
    assert_true(TU_RUN_UNTIL(loop, rr.n >= 1, 5));
    tu_spin(loop);
    assert_int_equal(rr.n, 1);
    assert_int_equal(rr.merged[0], N);
    assert_int_equal(rr.last.code, SI_TKILL);
    assert_succeeds(evsig_unwatch(&reload));
    tu_assert_same_sa(SIGHUP, &orig);
}

static void test_a_coalescing_oneshot_watcher_makes_one_call_then_stops(void **unused)
{
    enum { N = 10 };
    struct ev_loop *loop = L1;
    const int rt = SIGRTMIN + 7;
    static evsig_watcher o, p;
    static struct rec ro, rp;
    (void)unused;

    rec_init(&ro, 1, loop);
    rec_init(&rp, 2, loop);
    /* The plain watcher keeps the signal caught once the oneshot is gone. */
    assert_succeeds(evsig_watch(loop, &p, rt, rec_cb, &rp, 0));
    assert_succeeds(evsig_watch(loop, &o, rt, rec_cb, &ro,
                                EVSIG_COALESCE | EVSIG_ONESHOT));
    for (int v = 0; v < N; v++)
        assert_int_equal(queue_value(rt, v), 0);
    assert_true(TU_RUN_UNTIL(loop, rp.n == N, 5));
    tu_spin(loop);
    print_message("coalescing oneshot: one call, merged %u\n", ro.merged[0]);
    assert_int_equal(ro.n, 1);
    assert_false(evsig_is_active(&o));
    assert_true(ro.merged[0] >= 1 && ro.merged[0] <= N);

    assert_int_equal(queue_value(rt, 100), 0);
    assert_true(TU_RUN_UNTIL(loop, rp.n == N + 1, 5));
    tu_spin(loop);
    assert_int_equal(ro.n, 1);

    assert_succeeds(evsig_unwatch(&p));
}

/* --- evsig_ref / evsig_unref ---------------------------------------------- */

static void test_evsig_ref_and_unref_decide_whether_ev_run_returns(void **unused)
{
    struct ev_loop *loop = L1;
    static evsig_watcher w, x, y;
    static struct rec rw;
    (void)unused;

    rec_init(&rw, 1, loop);
    assert_succeeds(evsig_watch(loop, &w, SIGUSR1, rec_cb, &rw, 0));
    assert_false(tu_ev_run_returns(loop, 0.2));

    /* gevent's ref = False, twice: idempotent. */
    assert_int_equal(assert_succeeds(evsig_unref(&w)), 0);
    assert_int_equal(assert_succeeds(evsig_unref(&w)), 0);
    assert_true(tu_ev_run_returns(loop, 2.0));
    /* It still gets its signals. */
    raise(SIGUSR1);
    assert_true(TU_RUN_UNTIL(loop, rw.n == 1, 5));
    assert_true(tu_ev_run_returns(loop, 2.0));

    /* ref = True, twice. */
    assert_int_equal(assert_succeeds(evsig_ref(&w)), 0);
    assert_int_equal(assert_succeeds(evsig_ref(&w)), 0);
    assert_false(tu_ev_run_returns(loop, 0.2));

    /* Stopping an unref'ed watcher drops no reference it does not hold:
     * another referenced watcher still keeps the loop alive. */
    assert_succeeds(evsig_unref(&w));
    assert_succeeds(evsig_watch(loop, &x, SIGUSR2, rec_cb, &rw, 0));
    assert_succeeds(evsig_unwatch(&w));
    assert_false(tu_ev_run_returns(loop, 0.2));
    assert_succeeds(evsig_unwatch(&x));
    assert_true(tu_ev_run_returns(loop, 2.0));

    /* A watcher started with EVSIG_NOREF can be ref'ed, and its stop
     * gives that reference back. */
    assert_succeeds(evsig_watch(loop, &y, SIGUSR1, rec_cb, &rw, EVSIG_NOREF));
    assert_true(tu_ev_run_returns(loop, 2.0));
    assert_int_equal(assert_succeeds(evsig_ref(&y)), 0);
    assert_false(tu_ev_run_returns(loop, 0.2));
    assert_succeeds(evsig_unwatch(&y));
    assert_true(tu_ev_run_returns(loop, 2.0));

}

static void test_ref_and_unref_of_an_inactive_or_null_watcher_are_einval(void **unused)
{
    struct ev_loop *loop = L1;
    static evsig_watcher never, w;
    static struct rec rw;
    (void)unused;

    rec_init(&rw, 1, loop);
    memset(&never, 0xA5, sizeof(never));
    assert_fails_with(evsig_ref(&never), EINVAL);
    assert_fails_with(evsig_unref(&never), EINVAL);
    assert_fails_with(evsig_ref(NULL), EINVAL);
    assert_fails_with(evsig_unref(NULL), EINVAL);

    assert_succeeds(evsig_watch(loop, &w, SIGUSR1, rec_cb, &rw, 0));
    assert_succeeds(evsig_unwatch(&w));
    assert_fails_with(evsig_ref(&w), EINVAL);
    assert_fails_with(evsig_unref(&w), EINVAL);
    assert_true(tu_ev_run_returns(loop, 2.0));   /* and no reference taken */
}

/* --- ownership at reception ----------------------------------------------- */

static void test_handlers_started_after_a_delivery_was_received_do_not_get_it(void **unused)
{
    struct ev_loop *l1 = L1, *l2 = L2;
    static evsig_watcher wa, wb, wc;
    static struct rec ra, rb, rc, table;
    (void)unused;

    rec_init(&ra, 1, l1);
    rec_init(&rb, 2, l1);
    rec_init(&rc, 3, l2);
    rec_init(&table, 100, l1);
    assert_succeeds(evsig_watch(l1, &wa, SIGUSR1, rec_cb, &ra, 0));

    /* Caught with wa as its only owner, then more handlers arrive. */
    raise(SIGUSR1);
    assert_succeeds(evsig_watch(l1, &wb, SIGUSR1, rec_cb, &rb, 0));
    assert_succeeds(evsig_watch(l2, &wc, SIGUSR1, rec_cb, &rc, 0));
    assert_succeeds(evsig_signal(l1, SIGUSR1, rec_cb, &table, NULL));
    assert_true(TU_RUN_UNTIL(l1, ra.n == 1, 5));
    tu_spin(l1);
    tu_spin(l2);
    assert_int_equal(ra.n, 1);
    assert_int_equal(rb.n, 0);
    assert_int_equal(rc.n, 0);
    assert_int_equal(table.n, 0);

    /* The next delivery is everyone's. */
    raise(SIGUSR1);
    assert_true(TU_RUN_UNTIL(l1, ra.n == 2 && rb.n == 1 && table.n == 1, 5));
    assert_true(TU_RUN_UNTIL(l2, rc.n == 1, 5));

    /* Setting the table to the same handler, data and loop again is no
     * change: what it owned stays owned. */
    raise(SIGUSR1);
    assert_succeeds(evsig_signal(l1, SIGUSR1, rec_cb, &table, NULL));
    assert_true(TU_RUN_UNTIL(l1, table.n == 2, 5));

    assert_succeeds(evsig_unwatch(&wa));
    assert_succeeds(evsig_unwatch(&wb));
    assert_succeeds(evsig_unwatch(&wc));
}

/* In a child, SIGUSR1 at SIG_DFL: watchers on @arg loops (1 or 2) catch a
 * delivery and are stopped before it is dispatched. It is dropped: no
 * callback, no re-raise, SIG_DFL back in the kernel. Exit 0: survived. */
static void child_stop_before_dispatch(void *arg)
{
    int loops = (int)(intptr_t)arg;
    struct ev_loop *l[2] = { ev_loop_new(EVFLAG_NOENV), ev_loop_new(EVFLAG_NOENV) };
    static evsig_watcher w[2];
    static struct rec r[2];
    struct sigaction sa;

    TU_CHILD_CHECK(l[0] && l[1]);
    signal(SIGUSR1, SIG_DFL);
    for (int i = 0; i < loops; i++) {
        rec_init(&r[i], i, l[i]);
        CHILD_OK(evsig_watch(l[i], &w[i], SIGUSR1, rec_cb, &r[i], 0));
    }
    TU_CHILD_CHECK(kill(getpid(), SIGUSR1) == 0);   /* caught, not dispatched */
    for (int i = 0; i < loops; i++)
        CHILD_OK(evsig_unwatch(&w[i]));
    sigaction(SIGUSR1, NULL, &sa);
    TU_CHILD_CHECK(sa.sa_handler == SIG_DFL && !(sa.sa_flags & SA_SIGINFO));
    for (int k = 0; k < 4; k++)
        for (int i = 0; i < 2; i++)
            tu_spin(l[i]);
    TU_CHILD_CHECK(r[0].n == 0 && r[1].n == 0);
    _exit(0);
}

/* A oneshot watcher's delivery is claimed in the C handler and kept with
 * the watcher: a ring that laps before the loop reads it does not lose it
 * (the others on the loop see the loss). */
static void test_a_oneshot_keeps_its_claimed_delivery_when_the_ring_laps(void **unused)
{
    struct ev_loop *loop = L1;
    int sig = SIGRTMIN + 4, sent = 2 * EVSIG_RING_SIZE;
    evsig_watcher once, plain;
    struct rec ro, rp;
    (void)unused;

    rec_init(&ro, 1, loop);
    rec_init(&rp, 2, loop);
    assert_succeeds(evsig_watch(loop, &once, sig, rec_cb, &ro, EVSIG_ONESHOT));
    assert_succeeds(evsig_watch(loop, &plain, sig, rec_cb, &rp, 0));
    for (int i = 0; i < sent; i++)   /* all received before the loop runs */
        assert_succeeds(queue_value(sig, i));
    assert_true(TU_RUN_UNTIL(loop, ro.n == 1 && rp.nvalues > 0 &&
                             rp.values[rp.nvalues - 1] == sent - 1, 5));
    tu_spin(loop);
    assert_int_equal(ro.n, 1);
    assert_int_equal(ro.first.value.sival_int, 0);   /* the first received */
    assert_false(evsig_is_active(&once));
    assert_int_equal(rp.nvalues + (int)rp.lost_total, sent);
    assert_true(rp.lost_total > 0);
    assert_succeeds(evsig_unwatch(&plain));
}

/* What one watch session lost is that session's: a watcher started again
 * later starts from now, with nothing to report (the first version kept an
 * unreported loss and handed it to the next watch of the signal). */
static void test_a_loss_from_one_watch_session_never_reaches_a_later_one(void **unused)
{
    struct ev_loop *loop = L1;
    int sig = SIGRTMIN + 3;
    evsig_watcher w;
    struct rec r;
    (void)unused;

    rec_init(&r, 1, loop);
    assert_succeeds(evsig_watch(loop, &w, sig, rec_cb, &r, 0));
    tu_sigmask(SIG_BLOCK, sig);
    for (int i = 0; i < 3 * EVSIG_RING_SIZE; i++)
        assert_succeeds(tu_sigqueue_self(sig, i));
    tu_sigmask(SIG_UNBLOCK, sig);   /* the ring laps: a loss is pending */
    assert_succeeds(evsig_unwatch(&w));   /* before dispatch: all dropped */
    assert_succeeds(evsig_watch(loop, &w, sig, rec_cb, &r, 0));
    assert_succeeds(queue_value(sig, 7777));
    assert_true(TU_RUN_UNTIL(loop, r.n == 1, 5));
    tu_spin(loop);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.first.value.sival_int, 7777);
    assert_int_equal(r.first.lost, 0);
    assert_succeeds(evsig_unwatch(&w));
}

/*
 * No delivery is swallowed while a watcher takes a signal over from a
 * foreign handler: another thread takes SIGUSR2 again and again while this
 * one starts the watcher; each delivery reaches either the foreign handler
 * (before evsig's handler was in place) or the watcher (after), none both,
 * none neither. (The first version installed libev's handler first, and a
 * delivery between the two installations was lost.)
 */
static _Atomic long swallow_foreign;
static _Atomic long swallow_sent;
static _Atomic int swallow_run;      /* 1: send, 0: pause, -1: quit */
static _Atomic int swallow_paused;

static void swallow_foreign_handler(int sig, siginfo_t *si, void *uctx)
{
    (void)sig;
    (void)si;
    (void)uctx;
    atomic_fetch_add(&swallow_foreign, 1);
}

static void *swallow_sender(void *arg)
{
    sigset_t one;
    (void)arg;

    sigemptyset(&one);
    sigaddset(&one, SIGUSR2);
    pthread_sigmask(SIG_UNBLOCK, &one, NULL);
    for (;;) {
        int run = atomic_load(&swallow_run);

        if (run < 0)
            break;
        if (run == 0) {
            atomic_store(&swallow_paused, 1);
            continue;
        }
        atomic_store(&swallow_paused, 0);
        /* To this thread: its handler runs before pthread_kill returns,
         * so no two are ever pending at once. */
        pthread_kill(pthread_self(), SIGUSR2);
        atomic_fetch_add(&swallow_sent, 1);
    }
    return NULL;
}

static void wait_paused(void)
{
    atomic_store(&swallow_run, 0);
    while (!atomic_load(&swallow_paused))
        sched_yield();
}

static void test_no_delivery_is_swallowed_while_a_watcher_takes_over_from_a_foreign_handler(void **unused)
{
    struct ev_loop *loop = L1;
    struct sigaction sa, orig;
    pthread_t t;
    evsig_watcher w;
    struct rec r;
    (void)unused;

    tu_read_sa(SIGUSR2, &orig);
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = swallow_foreign_handler;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    assert_int_equal(sigaction(SIGUSR2, &sa, NULL), 0);
    tu_read_sa(SIGUSR2, &sa);   /* as the kernel reports it */
    tu_sigmask(SIG_BLOCK, SIGUSR2);
    atomic_store(&swallow_foreign, 0);
    atomic_store(&swallow_sent, 0);
    atomic_store(&swallow_paused, 0);
    atomic_store(&swallow_run, 0);
    rec_init(&r, 1, loop);
    assert_int_equal(pthread_create(&t, NULL, swallow_sender, NULL), 0);

    /* No cmocka assertion while the other thread runs: a failure must
     * stop it first. */
    int bad_round = -1;

    for (int round = 0; round < 50 && bad_round < 0; round++) {
        atomic_store(&swallow_run, 1);
        while (atomic_load(&swallow_sent) < (round + 1) * 20)
            sched_yield();
        /* The takeover, while the other thread takes signals; then some
         * more for the watcher. */
        if (evsig_watch(loop, &w, SIGUSR2, rec_cb, &r, 0) != 0)
            bad_round = round;
        long upto = atomic_load(&swallow_sent) + 20;

        while (atomic_load(&swallow_sent) < upto)
            tu_spin(loop);
        wait_paused();
        if (!TU_RUN_UNTIL(loop, atomic_load(&swallow_foreign) + r.n +
                          (long)r.lost_total == atomic_load(&swallow_sent), 5))
            bad_round = round;
        evsig_unwatch(&w);   /* nothing pending: nothing dropped */
        if (!tu_kernel_has_siginfo_handler(SIGUSR2) ||
            evsig_is_active(&w))
            bad_round = round;
    }
    atomic_store(&swallow_run, -1);
    pthread_join(t, NULL);
    if (bad_round >= 0)
        fail_msg("round %d: sent %ld, foreign %ld, watcher %d, lost %u",
                 bad_round, atomic_load(&swallow_sent),
                 atomic_load(&swallow_foreign), r.n, r.lost_total);
    tu_assert_same_sa(SIGUSR2, &sa);
    assert_true(r.n > 0);
    assert_true(atomic_load(&swallow_foreign) > 0);
    tu_sigmask(SIG_UNBLOCK, SIGUSR2);
    tu_put_back_exact(SIGUSR2, &orig);
}

/*
 * A callback that forks (a prefork master does): deliveries the loop had
 * already read but not yet dispatched were caught in the parent, and are
 * dispatched there only -- the child's copy of the dispatch frame stops.
 */
static int fork_cb_calls;
static pid_t fork_cb_grandchild;
static bool fork_cb_in_child;

static void forking_cb(struct ev_loop *loop, const evsig_info *info, void *data)
{
    (void)info;
    (void)data;
    if (++fork_cb_calls != 1)
        return;
    fork_cb_grandchild = evsig_fork(loop);
    if (fork_cb_grandchild == 0)
        fork_cb_in_child = true;
}

static void fork_in_callback_scenario(void *arg)
{
    struct ev_loop *loop = ev_default_loop(0);
    int sig = SIGRTMIN + 6, status;
    evsig_watcher w;
    (void)arg;

    ev_loop_fork(loop);
    TU_CHILD_CHECK(evsig_watch(loop, &w, sig, forking_cb, NULL, 0) == 0);
    for (int i = 0; i < 3; i++)   /* all three received, none dispatched */
        TU_CHILD_CHECK(queue_value(sig, i) == 0);
    TU_CHILD_CHECK(TU_RUN_UNTIL(loop, fork_cb_calls >= 3 || fork_cb_in_child, 5));
    if (fork_cb_in_child) {
        tu_spin(loop);
        _exit(fork_cb_calls == 1 ? 0 : 3);   /* the parent's two stay there */
    }
    tu_spin(loop);
    TU_CHILD_CHECK(fork_cb_calls == 3);
    TU_CHILD_CHECK(fork_cb_grandchild > 0);
    /* Not waitpid(): libev's default loop may have reaped it already. */
    TU_CHILD_CHECK(evsig_waitpid(loop, fork_cb_grandchild, &status, 0) ==
                   fork_cb_grandchild);
    TU_CHILD_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void test_a_callback_that_forks_leaves_the_deliveries_it_had_read_to_the_parent(void **unused)
{
    (void)unused;
    tu_assert_child_exit(tu_fork(fork_in_callback_scenario, NULL), 0, 20);
}

/*
 * The table moved away by another thread from a loop that then serves
 * nothing: evsig never calls into that loop from the mover's thread; the
 * loop's own thread drops evsig's ev_async at its next wakeup. And a loop
 * destroyed before it ran again is never touched again, even when a new
 * loop gets its address.
 */
struct mover {
    struct ev_loop *loop;
    ev_async        quit;
    ev_async        poke;         /* wakes the loop, does nothing */
    _Atomic int     calls;
    int             set_ok;
    bool            run;          /* run the loop after the handler is set */
    sem_t           ready, go;
};

static void mover_cb(struct ev_loop *loop, const evsig_info *info, void *data)
{
    struct mover *m = data;

    if (loop == m->loop && info->signo == SIGUSR1)
        atomic_fetch_add(&m->calls, 1);
}

static void mover_poke_cb(struct ev_loop *loop, ev_async *w, int revents)
{
    (void)loop;
    (void)w;
    (void)revents;
}

static void mover_quit_cb(struct ev_loop *loop, ev_async *w, int revents)
{
    (void)w;
    (void)revents;
    ev_break(loop, EVBREAK_ALL);
}

static void *mover_thread(void *arg)
{
    struct mover *m = arg;
    sigset_t none;

    sigemptyset(&none);
    pthread_sigmask(SIG_SETMASK, &none, NULL);
    m->loop = ev_loop_new(EVFLAG_NOENV);
    ev_async_init(&m->quit, mover_quit_cb);
    ev_async_start(m->loop, &m->quit);   /* keeps ev_run() going */
    ev_async_init(&m->poke, mover_poke_cb);
    ev_async_start(m->loop, &m->poke);
    m->set_ok = evsig_signal(m->loop, SIGUSR1, mover_cb, m, NULL);
    sem_post(&m->ready);
    if (m->run)
        ev_run(m->loop, 0);
    sem_wait(&m->go);
    ev_async_stop(m->loop, &m->quit);
    ev_async_stop(m->loop, &m->poke);
    ev_loop_destroy(m->loop);
    return NULL;
}

static void start_mover(struct mover *m, bool run, pthread_t *t)
{
    memset(m, 0, sizeof(*m));
    m->run = run;
    sem_init(&m->ready, 0, 0);
    sem_init(&m->go, 0, 0);
    assert_int_equal(pthread_create(t, NULL, mover_thread, m), 0);
    sem_wait(&m->ready);
    assert_int_equal(m->set_ok, 0);
}

static void test_the_table_moved_away_by_another_thread_leaves_that_loop_clean(void **unused)
{
    struct ev_loop *loop = L1;
    static struct mover m;
    struct rec r;
    pthread_t t;
    (void)unused;

    rec_init(&r, 1, loop);
    start_mover(&m, true, &t);
    pthread_kill(t, SIGUSR1);   /* the mover's thread takes it */
    /* ThreadSanitizer holds a signal back until its thread passes an
     * intercepted call, which a thread asleep in epoll_wait() does not:
     * poke the loop (harmless elsewhere). */
    for (int i = 0; i < 500 && atomic_load(&m.calls) == 0; i++) {
        ev_async_send(m.loop, &m.poke);
        usleep(10000);
    }
    assert_int_equal(atomic_load(&m.calls), 1);

    /* Moved here, from this thread, while that loop runs over there. */
    assert_succeeds(evsig_signal(loop, SIGUSR1, rec_cb, &r, NULL));
    raise(SIGUSR1);
    assert_true(TU_RUN_UNTIL(loop, r.n == 1, 5));
    ev_async_send(m.loop, &m.quit);
    sem_post(&m.go);
    pthread_join(t, NULL);   /* destroyed after evsig let go of it */
    assert_int_equal(atomic_load(&m.calls), 1);
    sem_destroy(&m.ready);
    sem_destroy(&m.go);
}

static void test_a_loop_destroyed_before_its_record_retired_is_never_touched_again(void **unused)
{
    static struct mover m;
    evsig_watcher w;
    struct rec r;
    pthread_t t;
    (void)unused;

    start_mover(&m, false, &t);   /* sets the table, never runs */
    assert_succeeds(evsig_signal(NULL, SIGUSR1, EVSIG_IGN, NULL, NULL));
    sem_post(&m.go);
    pthread_join(t, NULL);   /* destroyed with evsig's record still there */

    /* A new loop, quite likely at the same address: evsig must start
     * afresh there, not trust what it had for the old one. */
    for (int round = 0; round < 3; round++) {
        struct ev_loop *loop = ev_loop_new(EVFLAG_NOENV);

        rec_init(&r, 1, loop);
        assert_succeeds(evsig_watch(loop, &w, SIGUSR2, rec_cb, &r, 0));
        kill(getpid(), SIGUSR2);
        assert_true(TU_RUN_UNTIL(loop, r.n == 1, 5));
        assert_succeeds(evsig_unwatch(&w));
        ev_loop_destroy(loop);
    }
    assert_int_equal(evsig_reset(), 0);   /* touches no destroyed loop */
    sem_destroy(&m.ready);
    sem_destroy(&m.go);
}

static void test_a_delivery_whose_watchers_stopped_before_dispatch_is_dropped_and_sig_dfl_is_back(void **unused)
{
    (void)unused;
    tu_assert_child_exit(tu_fork(child_stop_before_dispatch, (void *)(intptr_t)1), 0, 10);
    tu_assert_child_exit(tu_fork(child_stop_before_dispatch, (void *)(intptr_t)2), 0, 10);
}

static void test_a_delivery_whose_watcher_stopped_before_dispatch_never_reaches_the_foreign_handler(void **unused)
{
    struct ev_loop *loop = L1;
    struct sigaction orig, foreign;
    static evsig_watcher w;
    static struct rec r;
    (void)unused;

    tu_read_sa(SIGUSR1, &orig);
    tu_install_foreign(SIGUSR1, SA_SIGINFO | SA_RESTART, &foreign);
    rec_init(&r, 1, loop);
    assert_succeeds(evsig_watch(loop, &w, SIGUSR1, rec_cb, &r, 0));
    assert_int_equal(kill(getpid(), SIGUSR1), 0);   /* caught, owned by w */
    assert_succeeds(evsig_unwatch(&w));
    tu_assert_same_sa(SIGUSR1, &foreign);
    tu_spin(loop);
    assert_int_equal(r.n, 0);
    if (tu_foreign_hits != 0)   /* it had an owner: dropped */
        fail_msg("a delivery owned by a watcher stopped before dispatch "
                 "reached the foreign handler (%d calls)", (int)tu_foreign_hits);

    /* A delivery from now on is the foreign handler's, as always. */
    raise(SIGUSR1);
    assert_int_equal(tu_foreign_hits, 1);

    evsig_reset();
    tu_put_back_exact(SIGUSR1, &orig);
}

/* In a child, SIGPIPE at SIG_DFL: watch it around a write, unwatch before
 * the loop dispatched the SIGPIPE. Exit 0: survived. */
static void child_sigpipe_watch_raise_unwatch(void *arg)
{
    struct ev_loop *loop = ev_loop_new(EVFLAG_NOENV);
    static evsig_watcher w;
    static struct rec r;
    struct sigaction sa;
    (void)arg;

    TU_CHILD_CHECK(loop);
    signal(SIGPIPE, SIG_DFL);
    rec_init(&r, 1, loop);
    CHILD_OK(evsig_watch(loop, &w, SIGPIPE, rec_cb, &r, 0));
    TU_CHILD_CHECK(raise(SIGPIPE) == 0);
    CHILD_OK(evsig_unwatch(&w));
    for (int i = 0; i < 4; i++)
        tu_spin(loop);
    TU_CHILD_CHECK(r.n == 0);
    sigaction(SIGPIPE, NULL, &sa);
    TU_CHILD_CHECK(sa.sa_handler == SIG_DFL);
    _exit(0);
}

static void test_watching_sigpipe_then_unwatching_before_dispatch_does_not_kill(void **unused)
{
    (void)unused;
    tu_assert_child_exit(tu_fork(child_sigpipe_watch_raise_unwatch, NULL), 0, 10);
}

/* --- EVFLAG_SIGNALFD ------------------------------------------------------ */

/* In a child: a signalfd loop's watchers and table handler get their
 * signals with siginfo, and libev blocks nothing. */
static void child_signalfd_loop(void *arg)
{
    struct ev_loop *sfd = ev_loop_new(EVFLAG_SIGNALFD | EVFLAG_NOENV);
    static evsig_watcher w;
    static struct rec r, table;
    sigset_t before, after;
    struct sigaction sa;
    (void)arg;

    TU_CHILD_CHECK(sfd);
    signal(SIGHUP, SIG_DFL);
    rec_init(&r, 1, sfd);
    rec_init(&table, 100, sfd);
    pthread_sigmask(SIG_SETMASK, NULL, &before);
    CHILD_OK(evsig_watch(sfd, &w, SIGHUP, rec_cb, &r, 0));
    CHILD_OK(evsig_signal(sfd, SIGUSR1, rec_cb, &table, NULL));
    pthread_sigmask(SIG_SETMASK, NULL, &after);
    TU_CHILD_CHECK(tu_same_sigset(&before, &after));   /* nothing blocked */

    TU_CHILD_CHECK(kill(getpid(), SIGHUP) == 0);
    TU_CHILD_CHECK(TU_RUN_UNTIL(sfd, r.n == 1, 5));
    TU_CHILD_CHECK(r.last.signo == SIGHUP && r.last.code == SI_USER);
    TU_CHILD_CHECK(r.last.pid == getpid() && r.last.uid == getuid());
    TU_CHILD_CHECK(sigqueue(getpid(), SIGHUP, (union sigval){ .sival_int = 77 }) == 0);
    TU_CHILD_CHECK(TU_RUN_UNTIL(sfd, r.n == 2, 5));
    TU_CHILD_CHECK(r.last.code == SI_QUEUE && r.last.value.sival_int == 77);
    TU_CHILD_CHECK(raise(SIGUSR1) == 0);
    TU_CHILD_CHECK(TU_RUN_UNTIL(sfd, table.n == 1, 5));
    TU_CHILD_CHECK(table.last.code == SI_TKILL && table.wrong_loop == 0);

    CHILD_OK(evsig_unwatch(&w));
    sigaction(SIGHUP, NULL, &sa);
    TU_CHILD_CHECK(sa.sa_handler == SIG_DFL);
    evsig_reset();
    ev_loop_destroy(sfd);
    _exit(0);
}

static void test_a_signalfd_loop_gets_sighup_with_siginfo_like_any_loop(void **unused)
{
#if defined(__SANITIZE_THREAD__)
    /* Not a thread test, and ThreadSanitizer defers a signal to itself
     * until the thread passes an intercepted call, which a process that
     * only waits in libev may never do: run under plain, ASan, valgrind. */
    skip();
#endif
    (void)unused;
    tu_assert_child_exit(tu_fork(child_signalfd_loop, NULL), 0, 10);
}

/*
 * In a fresh process whose environment has LIBEV_FLAGS=EVFLAG_SIGNALFD:
 * libev's default loop and a loop made without EVFLAG_NOENV are signalfd
 * loops behind the program's back (libev blocks SIGCHLD for its signalfd:
 * that is the proof). Watchers on both get SIGHUP with its siginfo.
 * Exit code 0, or the step that failed.
 */
static int libev_flags_child_main(void)
{
    struct ev_loop *def, *other;
    static evsig_watcher wd, wo;
    static struct rec rd, ro;
    sigset_t mask;

    if (ev_default_loop_uc_())
        return 2;   /* not the situation under test */
    if (!getenv("LIBEV_FLAGS"))
        return 3;
    def = ev_default_loop(0);
    other = ev_loop_new(0);
    if (!def || !other)
        return 4;
    pthread_sigmask(SIG_SETMASK, NULL, &mask);
    if (sigismember(&mask, SIGCHLD) != 1) {
        dprintf(STDERR_FILENO, "LIBEV_FLAGS did not make a signalfd loop\n");
        return 5;
    }
    signal(SIGHUP, SIG_DFL);
    rec_init(&rd, 1, def);
    rec_init(&ro, 2, other);
    if (evsig_watch(def, &wd, SIGHUP, rec_cb, &rd, 0) != 0) {
        dprintf(STDERR_FILENO, "evsig_watch(default signalfd loop): %s\n",
                tu_errname(errno));
        return 6;
    }
    if (evsig_watch(other, &wo, SIGHUP, rec_cb, &ro, 0) != 0) {
        dprintf(STDERR_FILENO, "evsig_watch(second signalfd loop): %s\n",
                tu_errname(errno));
        return 7;
    }
    if (sigqueue(getpid(), SIGHUP, (union sigval){ .sival_int = 5 }) != 0)
        return 8;
    if (!TU_RUN_UNTIL(def, rd.n == 1, 5) || !TU_RUN_UNTIL(other, ro.n == 1, 5))
        return 9;
    if (rd.last.code != SI_QUEUE || rd.last.value.sival_int != 5 ||
        rd.last.pid != getpid() || ro.last.code != SI_QUEUE ||
        ro.last.value.sival_int != 5)
        return 10;
    if (kill(getpid(), SIGHUP) != 0)
        return 11;
    if (!TU_RUN_UNTIL(def, rd.n == 2, 5) || !TU_RUN_UNTIL(other, ro.n == 2, 5))
        return 12;
    if (rd.last.code != SI_USER || ro.last.code != SI_USER)
        return 13;
    evsig_unwatch(&wd);
    evsig_unwatch(&wo);
    evsig_reset();
    ev_loop_destroy(other);
    return 0;
}

static void exec_with_libev_flags(void *arg)
{
    char flags[32];
    (void)arg;

    snprintf(flags, sizeof(flags), "%u", (unsigned)EVFLAG_SIGNALFD);
    setenv("LIBEV_FLAGS", flags, 1);
    execl(self_path, self_path, SELF_ARG_LIBEV_FLAGS, (char *)NULL);
    _exit(127);
}

static void test_loops_made_signalfd_by_libev_flags_get_sighup_with_siginfo(void **unused)
{
#if defined(__SANITIZE_THREAD__)
    /* Not a thread test, and ThreadSanitizer defers a signal to itself
     * until the thread passes an intercepted call, which a process that
     * only waits in libev may never do: run under plain, ASan, valgrind. */
    skip();
#endif
    (void)unused;
    /* An exec'd copy: this process's default loop exists already. */
    tu_assert_child_exit(tu_fork(exec_with_libev_flags, NULL), 0, 10);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_two_loops_in_threads_each_get_every_sigusr1_and_every_queued_value_in_order, loops_setup, loops_teardown),
        cmocka_unit_test_setup_teardown(test_three_loops_in_threads_each_get_every_delivery_when_one_loop_thread_takes_the_signals, loops_setup, loops_teardown),
        cmocka_unit_test_setup_teardown(test_a_stalled_loop_loses_only_its_own_oldest_deliveries_while_a_running_loop_gets_all, loops_setup, loops_teardown),
        cmocka_unit_test_setup_teardown(test_the_table_handler_on_one_loop_and_watchers_on_another_are_all_called_per_delivery, loops_setup, loops_teardown),
        cmocka_unit_test_setup_teardown(test_the_table_handler_follows_the_last_evsig_signal_to_another_loop, loops_setup, loops_teardown),
        cmocka_unit_test_setup_teardown(test_unwatching_on_one_loop_leaves_the_other_alone_and_the_last_unwatch_puts_back_a_foreign_handler_exactly, loops_setup, loops_teardown),
        cmocka_unit_test_setup_teardown(test_the_last_unwatch_across_loops_puts_back_a_sig_ign_it_found_exactly, loops_setup, loops_teardown),
        cmocka_unit_test_setup_teardown(test_a_cooperative_sigwait_consumes_a_delivery_on_its_own_loop_only, loops_setup, loops_teardown),
        cmocka_unit_test_setup_teardown(test_oneshot_watchers_on_two_loops_each_get_one_delivery, loops_setup, loops_teardown),
        cmocka_unit_test_setup_teardown(test_a_second_quick_delivery_to_oneshot_watchers_on_two_loops_meets_the_default_action, loops_setup, loops_teardown),
        cmocka_unit_test_setup_teardown(test_a_coalescing_watcher_gets_ten_quick_deliveries_as_one_call_with_the_newest_siginfo, loops_setup, loops_teardown),
        cmocka_unit_test_setup_teardown(test_ten_quick_sighups_reach_a_coalescing_reload_watcher_as_one_call, loops_setup, loops_teardown),
        cmocka_unit_test_setup_teardown(test_a_coalescing_oneshot_watcher_makes_one_call_then_stops, loops_setup, loops_teardown),
        cmocka_unit_test_setup_teardown(test_evsig_ref_and_unref_decide_whether_ev_run_returns, loops_setup, loops_teardown),
        cmocka_unit_test_setup_teardown(test_ref_and_unref_of_an_inactive_or_null_watcher_are_einval, loops_setup, loops_teardown),
        cmocka_unit_test_setup_teardown(test_handlers_started_after_a_delivery_was_received_do_not_get_it, loops_setup, loops_teardown),
        cmocka_unit_test_setup_teardown(test_a_oneshot_keeps_its_claimed_delivery_when_the_ring_laps, loops_setup, loops_teardown),
        cmocka_unit_test_setup_teardown(test_a_loss_from_one_watch_session_never_reaches_a_later_one, loops_setup, loops_teardown),
        cmocka_unit_test_setup_teardown(test_no_delivery_is_swallowed_while_a_watcher_takes_over_from_a_foreign_handler, loops_setup, loops_teardown),
        cmocka_unit_test_setup_teardown(test_a_callback_that_forks_leaves_the_deliveries_it_had_read_to_the_parent, loops_setup, loops_teardown),
        cmocka_unit_test_setup_teardown(test_the_table_moved_away_by_another_thread_leaves_that_loop_clean, loops_setup, loops_teardown),
        cmocka_unit_test_setup_teardown(test_a_loop_destroyed_before_its_record_retired_is_never_touched_again, loops_setup, loops_teardown),
        cmocka_unit_test_setup_teardown(test_a_delivery_whose_watchers_stopped_before_dispatch_is_dropped_and_sig_dfl_is_back, loops_setup, loops_teardown),
        cmocka_unit_test_setup_teardown(test_a_delivery_whose_watcher_stopped_before_dispatch_never_reaches_the_foreign_handler, loops_setup, loops_teardown),
        cmocka_unit_test_setup_teardown(test_watching_sigpipe_then_unwatching_before_dispatch_does_not_kill, loops_setup, loops_teardown),
        cmocka_unit_test_setup_teardown(test_a_signalfd_loop_gets_sighup_with_siginfo_like_any_loop, loops_setup, loops_teardown),
        cmocka_unit_test_setup_teardown(test_loops_made_signalfd_by_libev_flags_get_sighup_with_siginfo, loops_setup, loops_teardown),
    };

    self_path = argv[0];
    if (argc > 1 && strcmp(argv[1], SELF_ARG_LIBEV_FLAGS) == 0)
        return libev_flags_child_main();
    return cmocka_run_group_tests(tests, NULL, NULL);
}

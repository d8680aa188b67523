/* SPDX-License-Identifier: MIT */
/*
 * test-watch.c - signal watchers, many per signal, libev style (DESIGN.md
 * §3.2).
 *
 * One test per rule: dispatch order and exactly-once calls, callbacks that
 * stop and start watchers, uninitialised watcher memory, idempotent
 * start/stop, argument checks, EVSIG_ONESHOT, EVSIG_NOREF and keep-alive,
 * one loop per signal, and the disposition that comes back when the last
 * watcher stops. The kernel's view (sigaction()) is checked beside evsig's.
 *
 * Anything that must kill (a second delivery to a oneshot-only signal at
 * SIG_DFL) or could kill (SIGTERM while watched) runs in a forked child
 * that reports through its exit status. Loop waits are capped by
 * TU_RUN_UNTIL's timer; loops that must return by themselves run under an
 * unreferenced guard timer that breaks them if they do not.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "evsig.h"
#include "test-util.h"

/* --- helpers ------------------------------------------------------------- */

/* TU_RUN_UNTIL on a loop not held in a variable named "loop" (the macro's
 * parameter is also the name of a member it uses: tu_dl_.loop). */
#define RUN_UNTIL_ON(l, cond, timeout) __extension__ ({                     \
        struct ev_loop *loop = (l);                                        \
        TU_RUN_UNTIL(loop, cond, timeout);                                 \
    })

/* Every callback appends its id to one log, so order across watchers and
 * the table handler is visible. */
#define LOG_MAX 4096

static struct {
    int  ids[LOG_MAX];
    int  n;
    evsig_info last;
    bool active_inside;   /* evsig_is_active(self) as seen by the callback */
} calls;

struct tag {
    int            id;
    evsig_watcher *self;
    /* optional actions, done on the first call */
    evsig_watcher *stop;       /* evsig_unwatch() this one */
    evsig_watcher *start;      /* evsig_watch() this one (same signal, log_cb) */
    struct tag    *start_tag;
    bool           restart;    /* start @start again right after stopping it */
    int            start_flags;
    int            signum;
    int            n;
};

static void log_reset(void)
{
    memset(&calls, 0, sizeof(calls));
}

static void log_cb(struct ev_loop *loop, const evsig_info *info, void *data)
{
    struct tag *t = data;

    if (calls.n < LOG_MAX)
        calls.ids[calls.n] = t->id;
    calls.n++;
    calls.last = *info;
    t->n++;
    if (t->self)
        calls.active_inside = evsig_is_active(t->self);
    if (t->n == 1) {
        if (t->stop)
            evsig_unwatch(t->stop);
        if (t->start && (t->restart || !t->stop))
            evsig_watch(loop, t->start, t->signum, log_cb, t->start_tag,
                        t->start_flags);
    }
}

static void table_cb(struct ev_loop *loop, const evsig_info *info, void *data)
{
    log_cb(loop, info, data);
}

static void assert_log(const int *want, int n)
{
    if (calls.n != n) {
        char buf[512];
        size_t len = 0;

        for (int i = 0; i < calls.n && i < 32 && len < sizeof(buf); i++)
            len += snprintf(buf + len, sizeof(buf) - len, " %d", calls.ids[i]);
        fail_msg("%d calls (%s ), expected %d", calls.n, buf, n);
    }
    for (int i = 0; i < n; i++)
        if (calls.ids[i] != want[i])
            fail_msg("call %d was id %d, expected %d", i, calls.ids[i], want[i]);
}

/* --- dispatch ------------------------------------------------------------ */

static void test_every_watcher_is_called_once_per_delivery_in_start_order_after_the_table_handler(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    static evsig_watcher w[5];
    struct tag t[5], tt = { .id = 100 };
    const int order[] = { 2, 0, 4, 1, 3 };
    (void)unused;

    log_reset();
    for (int i = 0; i < 5; i++)
        t[i] = (struct tag){ .id = i };
    for (int i = 0; i < 5; i++)
        assert_succeeds(evsig_watch(loop, &w[order[i]], SIGUSR1, log_cb,
                                    &t[order[i]], 0));
    /* The table handler is set last but runs first. */
    assert_succeeds(evsig_signal(loop, SIGUSR1, table_cb, &tt, NULL));

    assert_int_equal(kill(getpid(), SIGUSR1), 0);
    assert_int_equal(calls.n, 0);
    assert_true(TU_RUN_UNTIL(loop, calls.n >= 6, 5));
    tu_spin(loop);
    {
        const int want[] = { 100, 2, 0, 4, 1, 3 };
        assert_log(want, 6);
    }
    assert_int_equal(calls.last.code, SI_USER);
    assert_int_equal(calls.last.pid, getpid());

    /* A second delivery: everyone once more, same order. */
    raise(SIGUSR1);
    assert_true(TU_RUN_UNTIL(loop, calls.n >= 12, 5));
    tu_spin(loop);
    {
        const int want[] = { 100, 2, 0, 4, 1, 3, 100, 2, 0, 4, 1, 3 };
        assert_log(want, 12);
    }
    assert_int_equal(calls.last.code, SI_TKILL);
}

static void test_every_watcher_gets_each_queued_rt_signal_with_its_value(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    const int rt = SIGRTMIN + 3;
    static evsig_watcher a, b;
    struct tag ta = { .id = 1 }, tb = { .id = 2 };
    (void)unused;

    log_reset();
    assert_succeeds(evsig_watch(loop, &a, rt, log_cb, &ta, 0));
    assert_succeeds(evsig_watch(loop, &b, rt, log_cb, &tb, 0));
    tu_sigmask(SIG_BLOCK, rt);
    for (int i = 0; i < 10; i++)
        assert_int_equal(tu_sigqueue_self(rt, i), 0);
    tu_sigmask(SIG_UNBLOCK, rt);
    assert_true(TU_RUN_UNTIL(loop, calls.n >= 20, 5));
    tu_spin(loop);
    assert_int_equal(calls.n, 20);
    assert_int_equal(ta.n, 10);
    assert_int_equal(tb.n, 10);
    for (int i = 0; i < 20; i++)
        assert_int_equal(calls.ids[i], i % 2 ? 2 : 1);   /* a, b per delivery */
    assert_int_equal(calls.last.value.sival_int, 9);
}

static void test_a_callback_may_stop_itself(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    static evsig_watcher a, b;
    struct tag ta = { .id = 1, .self = &a }, tb = { .id = 2 };
    (void)unused;

    log_reset();
    ta.stop = &a;
    assert_succeeds(evsig_watch(loop, &a, SIGUSR1, log_cb, &ta, 0));
    assert_succeeds(evsig_watch(loop, &b, SIGUSR1, log_cb, &tb, 0));
    raise(SIGUSR1);
    assert_true(TU_RUN_UNTIL(loop, calls.n >= 2, 5));
    assert_false(evsig_is_active(&a));
    assert_true(evsig_is_active(&b));
    raise(SIGUSR1);
    assert_true(TU_RUN_UNTIL(loop, calls.n >= 3, 5));
    tu_spin(loop);
    {
        const int want[] = { 1, 2, 2 };
        assert_log(want, 3);
    }
}

static void test_a_callback_that_stops_a_later_watcher_keeps_it_from_being_called(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    static evsig_watcher a, b, c;
    struct tag ta = { .id = 1 }, tb = { .id = 2 }, tc = { .id = 3 };
    (void)unused;

    log_reset();
    ta.stop = &b;
    assert_succeeds(evsig_watch(loop, &a, SIGUSR1, log_cb, &ta, 0));
    assert_succeeds(evsig_watch(loop, &b, SIGUSR1, log_cb, &tb, 0));
    assert_succeeds(evsig_watch(loop, &c, SIGUSR1, log_cb, &tc, 0));
    raise(SIGUSR1);
    assert_true(TU_RUN_UNTIL(loop, calls.n >= 2, 5));
    tu_spin(loop);
    {
        const int want[] = { 1, 3 };
        assert_log(want, 2);
    }
    assert_false(evsig_is_active(&b));
    assert_int_equal(tb.n, 0);
}

static void test_a_watcher_started_by_a_callback_sees_the_next_delivery_not_this_one(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    static evsig_watcher a, n;
    struct tag ta = { .id = 1 }, tn = { .id = 9 };
    (void)unused;

    log_reset();
    ta.start = &n;
    ta.start_tag = &tn;
    ta.signum = SIGUSR1;
    memset(&n, 0xA5, sizeof(n));
    assert_succeeds(evsig_watch(loop, &a, SIGUSR1, log_cb, &ta, 0));
    raise(SIGUSR1);
    assert_true(TU_RUN_UNTIL(loop, calls.n >= 1, 5));
    tu_spin(loop);
    assert_true(evsig_is_active(&n));
    {
        const int want[] = { 1 };
        assert_log(want, 1);
    }
    raise(SIGUSR1);
    assert_true(TU_RUN_UNTIL(loop, calls.n >= 3, 5));
    tu_spin(loop);
    {
        const int want[] = { 1, 1, 9 };
        assert_log(want, 3);
    }
}

/*
 * The same rule when the started watcher was active before: a callback
 * stops a later watcher and starts it again at once (re-arming, say with
 * other flags). It was started during the dispatch, so it sees the next
 * delivery, not this one.
 */
static void test_a_watcher_restarted_by_an_earlier_callback_waits_for_the_next_delivery(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    static evsig_watcher a, b;
    struct tag ta = { .id = 1 }, tb = { .id = 2 };
    (void)unused;

    log_reset();
    ta.stop = &b;
    ta.start = &b;
    ta.start_tag = &tb;
    ta.restart = true;
    ta.signum = SIGUSR1;
    assert_succeeds(evsig_watch(loop, &a, SIGUSR1, log_cb, &ta, 0));
    assert_succeeds(evsig_watch(loop, &b, SIGUSR1, log_cb, &tb, 0));
    raise(SIGUSR1);
    assert_true(TU_RUN_UNTIL(loop, calls.n >= 1, 5));
    tu_spin(loop);
    assert_true(evsig_is_active(&b));
    {
        const int want[] = { 1 };
        assert_log(want, 1);   /* b was restarted during this dispatch */
    }
    raise(SIGUSR1);
    assert_true(TU_RUN_UNTIL(loop, calls.n >= 3, 5));
    tu_spin(loop);
    {
        const int want[] = { 1, 1, 2 };
        assert_log(want, 3);
    }
}

/* --- watcher memory and idempotence -------------------------------------- */

static void test_a_watcher_in_garbage_filled_memory_works(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    evsig_watcher *w = malloc(sizeof(*w));
    struct tag t = { .id = 1 };
    (void)unused;

    assert_non_null(w);
    log_reset();
    memset(w, 0xA5, sizeof(*w));
    assert_false(evsig_is_active(w));
    assert_int_equal(evsig_unwatch(w), 0);   /* garbage is not "active" */
    assert_succeeds(evsig_watch(loop, w, SIGUSR2, log_cb, &t, 0));
    assert_true(evsig_is_active(w));
    raise(SIGUSR2);
    assert_true(TU_RUN_UNTIL(loop, t.n == 1, 5));
    assert_succeeds(evsig_unwatch(w));
    assert_false(evsig_is_active(w));

    /* And again, the memory scribbled over while stopped. */
    memset(w, 0xA5, sizeof(*w));
    assert_succeeds(evsig_watch(loop, w, SIGUSR2, log_cb, &t, 0));
    raise(SIGUSR2);
    assert_true(TU_RUN_UNTIL(loop, t.n == 2, 5));
    assert_succeeds(evsig_unwatch(w));
    free(w);
}

static void test_starting_an_active_watcher_is_harmless_one_call_and_one_reference(void **unused)
{
    struct ev_loop *loop = tu_new_loop();
    static evsig_watcher w;
    struct tag t = { .id = 1 }, other = { .id = 2 };
    (void)unused;

    log_reset();
    assert_succeeds(evsig_watch(loop, &w, SIGUSR1, log_cb, &t, 0));
    assert_int_equal(evsig_watch(loop, &w, SIGUSR1, log_cb, &t, 0), 0);
    /* Different arguments change nothing either. */
    assert_int_equal(evsig_watch(loop, &w, SIGUSR1, log_cb, &other, EVSIG_NOREF), 0);
    assert_int_equal(evsig_watch(loop, &w, SIGUSR2, log_cb, &other, 0), 0);
    assert_true(evsig_is_active(&w));
    assert_false(tu_kernel_has_siginfo_handler(SIGUSR2));   /* not bound */

    raise(SIGUSR1);
    assert_true(TU_RUN_UNTIL(loop, t.n >= 1, 5));
    tu_spin(loop);
    assert_int_equal(t.n, 1);
    assert_int_equal(other.n, 0);

    /* One stop undoes it: no reference is left behind. */
    assert_succeeds(evsig_unwatch(&w));
    assert_false(evsig_is_active(&w));
    assert_true(tu_ev_run_returns(loop, 2.0));
    evsig_reset();
    ev_loop_destroy(loop);
}

static void test_stopping_an_inactive_watcher_is_harmless(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    static evsig_watcher never, w;
    struct sigaction before;
    struct tag t = { .id = 1 };
    (void)unused;

    tu_read_sa(SIGUSR1, &before);
    memset(&never, 0, sizeof(never));
    assert_int_equal(evsig_unwatch(&never), 0);
    tu_assert_same_sa(SIGUSR1, &before);

    assert_succeeds(evsig_watch(loop, &w, SIGUSR1, log_cb, &t, 0));
    assert_int_equal(evsig_unwatch(&w), 0);
    assert_int_equal(evsig_unwatch(&w), 0);   /* twice */
    tu_assert_same_sa(SIGUSR1, &before);
    assert_fails_with(evsig_unwatch(NULL), EINVAL);
    /* No reference was dropped twice: a referenced timer still keeps the
     * loop running until it fires. */
    assert_true(tu_ev_run_returns(loop, 2.0));
}

static void test_bad_arguments_are_einval_even_for_an_active_watcher(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    static evsig_watcher w;
    struct sigaction before;
    struct tag t = { .id = 1 };
    (void)unused;

    log_reset();
    assert_succeeds(evsig_watch(loop, &w, SIGUSR1, log_cb, &t, 0));
    tu_read_sa(SIGUSR1, &before);
    assert_fails_with(evsig_watch(NULL, &w, SIGUSR1, log_cb, &t, 0), EINVAL);
    assert_fails_with(evsig_watch(loop, &w, 0, log_cb, &t, 0), EINVAL);
    assert_fails_with(evsig_watch(loop, &w, NSIG, log_cb, &t, 0), EINVAL);
    assert_fails_with(evsig_watch(loop, &w, 32, log_cb, &t, 0), EINVAL);
    assert_fails_with(evsig_watch(loop, &w, SIGKILL, log_cb, &t, 0), EINVAL);
    assert_fails_with(evsig_watch(loop, &w, SIGSTOP, log_cb, &t, 0), EINVAL);
    assert_fails_with(evsig_watch(loop, &w, SIGUSR1, EVSIG_DFL, &t, 0), EINVAL);
    assert_fails_with(evsig_watch(loop, &w, SIGUSR1, EVSIG_IGN, &t, 0), EINVAL);
    assert_fails_with(evsig_watch(loop, &w, SIGUSR1, EVSIG_NONE, &t, 0), EINVAL);
    assert_fails_with(evsig_watch(loop, &w, SIGUSR1, log_cb, &t, 0x8), EINVAL);
    assert_fails_with(evsig_watch(loop, &w, SIGUSR1, log_cb, &t, -1), EINVAL);

    /* Still active, unchanged: one call, with its own data. */
    assert_true(evsig_is_active(&w));
    tu_assert_same_sa(SIGUSR1, &before);
    raise(SIGUSR1);
    assert_true(TU_RUN_UNTIL(loop, t.n >= 1, 5));
    tu_spin(loop);
    assert_int_equal(t.n, 1);
    assert_int_equal(calls.n, 1);
}

static void test_is_active_follows_watch_and_unwatch(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    static evsig_watcher a, b;
    struct tag t = { .id = 1 };
    (void)unused;

    assert_int_equal(evsig_is_active(NULL), 0);
    memset(&a, 0, sizeof(a));
    memset(&b, 0xff, sizeof(b));
    assert_int_equal(evsig_is_active(&a), 0);
    assert_int_equal(evsig_is_active(&b), 0);
    assert_succeeds(evsig_watch(loop, &a, SIGUSR1, log_cb, &t, 0));
    assert_int_equal(evsig_is_active(&a), 1);
    assert_int_equal(evsig_is_active(&b), 0);
    /* A copy of an active watcher's bytes is not active: decided by address. */
    memcpy(&b, &a, sizeof(b));
    assert_int_equal(evsig_is_active(&b), 0);
    assert_int_equal(evsig_unwatch(&b), 0);
    assert_int_equal(evsig_is_active(&a), 1);
    assert_succeeds(evsig_unwatch(&a));
    assert_int_equal(evsig_is_active(&a), 0);
}

/* --- EVSIG_ONESHOT ------------------------------------------------------- */

static void test_a_oneshot_watcher_is_stopped_before_its_callback_runs(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    static evsig_watcher w, keep;
    struct tag t = { .id = 1, .self = &w }, tk = { .id = 2 };
    (void)unused;

    log_reset();
    /* Another watcher keeps the signal caught after the oneshot is gone. */
    assert_succeeds(evsig_watch(loop, &keep, SIGUSR1, log_cb, &tk, 0));
    assert_succeeds(evsig_watch(loop, &w, SIGUSR1, log_cb, &t, EVSIG_ONESHOT));
    assert_true(evsig_is_active(&w));
    calls.active_inside = true;
    raise(SIGUSR1);
    assert_true(TU_RUN_UNTIL(loop, t.n == 1, 5));
    assert_false(calls.active_inside);
    assert_false(evsig_is_active(&w));

    raise(SIGUSR1);
    assert_true(TU_RUN_UNTIL(loop, tk.n == 2, 5));
    tu_spin(loop);
    assert_int_equal(t.n, 1);
}

/* In a child, SIGUSR2 at SIG_DFL: a oneshot-only watcher, two quick
 * deliveries, then the loop. The first goes to the watcher; the second
 * meets SIG_DFL and kills. Exit 0: survived (a silent drop). */
static void child_oneshot_then_default(void *arg)
{
    struct ev_loop *loop = ev_loop_new(EVFLAG_NOENV);
    static evsig_watcher w;
    struct tag t = { .id = 1 };
    (void)arg;

    TU_CHILD_CHECK(loop);
    signal(SIGUSR2, SIG_DFL);
    TU_CHILD_CHECK(evsig_watch(loop, &w, SIGUSR2, log_cb, &t, EVSIG_ONESHOT) == 0);
    TU_CHILD_CHECK(kill(getpid(), SIGUSR2) == 0);
    TU_CHILD_CHECK(kill(getpid(), SIGUSR2) == 0);
    for (int i = 0; i < 8; i++)
        ev_run(loop, EVRUN_NOWAIT);
    _exit(t.n == 1 ? 0 : 2);
}

static void test_a_second_quick_delivery_to_a_oneshot_only_signal_meets_the_default_action(void **unused)
{
    pid_t pid;
    (void)unused;

    pid = tu_fork(child_oneshot_then_default, NULL);
    tu_assert_child_killed(pid, SIGUSR2, 10);
}

static void test_a_second_delivery_after_a_oneshot_goes_to_the_table_handler(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    static evsig_watcher w;
    struct tag t = { .id = 1 }, tt = { .id = 100 };
    (void)unused;

    log_reset();
    assert_succeeds(evsig_signal(loop, SIGUSR2, table_cb, &tt, NULL));
    assert_succeeds(evsig_watch(loop, &w, SIGUSR2, log_cb, &t, EVSIG_ONESHOT));
    assert_int_equal(kill(getpid(), SIGUSR2), 0);
    assert_int_equal(kill(getpid(), SIGUSR2), 0);
    assert_true(TU_RUN_UNTIL(loop, tt.n >= 2, 5));
    tu_spin(loop);
    {
        const int want[] = { 100, 1, 100 };
        assert_log(want, 3);
    }
    assert_false(evsig_is_active(&w));
}

static void oneshot_rearm_cb(struct ev_loop *loop, const evsig_info *info,
                             void *data)
{
    struct tag *t = data;
    (void)info;

    t->n++;
    if (t->n < 3)
        evsig_watch(loop, t->self, t->signum, oneshot_rearm_cb, t, EVSIG_ONESHOT);
}

static void test_a_oneshot_watcher_may_rearm_itself_from_its_callback(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct sigaction orig;
    static evsig_watcher w;
    struct tag t = { .id = 1, .self = &w, .signum = SIGUSR1 };
    (void)unused;

    tu_read_sa(SIGUSR1, &orig);
    assert_succeeds(evsig_watch(loop, &w, SIGUSR1, oneshot_rearm_cb, &t, EVSIG_ONESHOT));
    for (int i = 1; i <= 3; i++) {
        raise(SIGUSR1);
        assert_true(TU_RUN_UNTIL(loop, t.n == i, 5));
        assert_int_equal(evsig_is_active(&w), i < 3);
        assert_int_equal(tu_kernel_has_siginfo_handler(SIGUSR1), i < 3);
    }
    tu_spin(loop);
    assert_int_equal(t.n, 3);
    tu_assert_same_sa(SIGUSR1, &orig);
}

/* --- keep-alive: EVSIG_NOREF --------------------------------------------- */

static void test_ev_run_returns_when_only_noref_watchers_remain(void **unused)
{
    struct ev_loop *loop = tu_new_loop();
    static evsig_watcher a, b, r;
    struct tag t = { .id = 1 };
    (void)unused;

    assert_succeeds(evsig_watch(loop, &a, SIGUSR1, log_cb, &t, EVSIG_NOREF));
    assert_succeeds(evsig_watch(loop, &b, SIGUSR2, log_cb, &t, EVSIG_NOREF | EVSIG_ONESHOT));
    assert_true(tu_ev_run_returns(loop, 2.0));

    /* A referenced one keeps it; stopping it lets it return again. */
    assert_succeeds(evsig_watch(loop, &r, SIGUSR1, log_cb, &t, 0));
    assert_false(tu_ev_run_returns(loop, 0.2));
    assert_succeeds(evsig_unwatch(&r));
    assert_true(tu_ev_run_returns(loop, 2.0));

    /* NOREF watchers still get their signals. */
    raise(SIGUSR1);
    assert_true(TU_RUN_UNTIL(loop, t.n == 1, 5));
    assert_true(tu_ev_run_returns(loop, 2.0));

    evsig_reset();
    ev_loop_destroy(loop);
}

struct keepalive {
    evsig_watcher w;
    bool          stopped;     /* the callback stopped the watcher */
    int           calls;
};

static void keepalive_cb(struct ev_loop *loop, const evsig_info *info, void *data)
{
    struct keepalive *k = data;
    (void)loop;
    (void)info;

    k->calls++;
    evsig_unwatch(&k->w);
    k->stopped = true;
}

static void raise_later_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)loop;
    (void)revents;
    raise(*(int *)t->data);
}

static void test_an_active_watcher_keeps_ev_run_running_until_it_is_stopped(void **unused)
{
    struct ev_loop *loop = tu_new_loop();
    static struct keepalive k;   /* static: valid for teardown, whatever happens */
    ev_timer later;
    int sig = SIGUSR1;
    struct tu_guard g;
    (void)unused;

    memset(&k, 0, sizeof(k));
    assert_succeeds(evsig_watch(loop, &k.w, SIGUSR1, keepalive_cb, &k, 0));
    /* The timer sends the signal 50 ms in; after it fired, only the
     * watcher keeps ev_run() going until its callback stops it. */
    ev_timer_init(&later, raise_later_cb, 0.05, 0.);
    later.data = &sig;
    ev_now_update(loop);
    ev_timer_start(loop, &later);
    tu_guard_start(&g, loop, 5.0);
    ev_run(loop, 0);
    tu_guard_stop(&g);
    assert_false(g.fired);
    assert_true(k.stopped);
    assert_int_equal(k.calls, 1);
    assert_false(evsig_is_active(&k.w));

    evsig_reset();
    ev_loop_destroy(loop);
}

static void test_a_oneshot_watcher_keeps_ev_run_alive_until_its_delivery(void **unused)
{
    struct ev_loop *loop = tu_new_loop();
    static evsig_watcher w;
    struct tag t = { .id = 1 };
    ev_timer later;
    int sig = SIGUSR2;
    struct tu_guard g;
    (void)unused;

    assert_succeeds(evsig_watch(loop, &w, SIGUSR2, log_cb, &t, EVSIG_ONESHOT));
    ev_timer_init(&later, raise_later_cb, 0.05, 0.);
    later.data = &sig;
    ev_now_update(loop);
    ev_timer_start(loop, &later);
    tu_guard_start(&g, loop, 5.0);
    ev_run(loop, 0);   /* returns once the oneshot took its delivery */
    tu_guard_stop(&g);
    assert_false(g.fired);
    assert_int_equal(t.n, 1);
    assert_false(evsig_is_active(&w));

    evsig_reset();
    ev_loop_destroy(loop);
}

/* --- many loops ----------------------------------------------------------- */

/* Two loops may watch one signal (the first version answered EBUSY): each
 * gets every delivery on its own loop, and stopping one leaves the other
 * untouched; the disposition changes only when the last one goes. */
static void test_two_loops_watch_one_signal_and_stopping_one_leaves_the_other(void **unused)
{
    struct ev_loop *a = tu_default_loop(), *b = tu_new_loop();
    static evsig_watcher wa, wb;
    struct tag ta = { .id = 1 }, tb = { .id = 2 };
    struct sigaction orig, hooked;
    evsig_action act;
    (void)unused;

    log_reset();
    tu_read_sa(SIGUSR1, &orig);
    assert_succeeds(evsig_watch(a, &wa, SIGUSR1, log_cb, &ta, 0));
    tu_read_sa(SIGUSR1, &hooked);
    memset(&wb, 0xA5, sizeof(wb));
    assert_succeeds(evsig_watch(b, &wb, SIGUSR1, log_cb, &tb, EVSIG_NOREF));
    assert_true(evsig_is_active(&wb));
    tu_assert_same_sa(SIGUSR1, &hooked);
    assert_succeeds(evsig_getsignal(SIGUSR1, &act));
    assert_ptr_equal(act.handler, EVSIG_DFL);
    assert_true(tu_ev_run_returns(b, 2.0));   /* NOREF on B: no reference */

    raise(SIGUSR1);
    assert_true(RUN_UNTIL_ON(a, ta.n == 1, 5));
    assert_true(RUN_UNTIL_ON(b, tb.n == 1, 5));

    assert_succeeds(evsig_unwatch(&wa));
    tu_assert_same_sa(SIGUSR1, &hooked);   /* B still holds it */
    raise(SIGUSR1);
    assert_true(RUN_UNTIL_ON(b, tb.n == 2, 5));
    tu_spin(a);
    assert_int_equal(ta.n, 1);
    assert_succeeds(evsig_unwatch(&wb));
    tu_assert_same_sa(SIGUSR1, &orig);

    evsig_reset();
    ev_loop_destroy(b);
}

/* --- what comes back when the last watcher stops ------------------------- */

static void test_the_last_watcher_stopping_puts_back_a_foreign_handler_exactly(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct sigaction orig, foreign;
    static evsig_watcher a, b;
    struct tag t = { .id = 1 };
    evsig_action act;
    (void)unused;

    tu_read_sa(SIGUSR1, &orig);
    tu_install_foreign(SIGUSR1, SA_SIGINFO | SA_ONSTACK, &foreign);
    assert_succeeds(evsig_watch(loop, &a, SIGUSR1, log_cb, &t, 0));
    assert_succeeds(evsig_watch(loop, &b, SIGUSR1, log_cb, &t, 0));
    assert_true(tu_kernel_has_siginfo_handler(SIGUSR1));
    {
        struct sigaction now;

        tu_read_sa(SIGUSR1, &now);
        assert_ptr_not_equal(now.sa_sigaction, tu_foreign_sigaction);
    }
    assert_succeeds(evsig_getsignal(SIGUSR1, &act));
    assert_ptr_equal(act.handler, EVSIG_NONE);   /* what the process had */
    raise(SIGUSR1);
    assert_true(TU_RUN_UNTIL(loop, t.n == 2, 5));
    assert_int_equal(tu_foreign_hits, 0);

    assert_succeeds(evsig_unwatch(&a));
    assert_true(tu_kernel_has_siginfo_handler(SIGUSR1));   /* b still holds it */
    assert_succeeds(evsig_unwatch(&b));
    tu_assert_same_sa(SIGUSR1, &foreign);
    raise(SIGUSR1);
    assert_int_equal(tu_foreign_hits, 1);

    /* The signal is the program's again: a handler it installs now is
     * what a later watcher cycle (and evsig_reset()) puts back. */
    {
        struct sigaction ign, found;

        memset(&ign, 0, sizeof(ign));
        ign.sa_handler = SIG_IGN;
        assert_int_equal(sigaction(SIGUSR1, &ign, NULL), 0);
        tu_read_sa(SIGUSR1, &found);
        assert_succeeds(evsig_watch(loop, &a, SIGUSR1, log_cb, &t, 0));
        assert_succeeds(evsig_unwatch(&a));
        tu_assert_same_sa(SIGUSR1, &found);
        assert_succeeds(evsig_watch(loop, &a, SIGUSR1, log_cb, &t, 0));
        evsig_reset();
        tu_assert_same_sa(SIGUSR1, &found);
    }
    tu_put_back_exact(SIGUSR1, &orig);
}

static void test_the_last_watcher_stopping_installs_sig_dfl_or_sig_ign_as_the_table_says(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct sigaction orig, foreign, now;
    static evsig_watcher w;
    struct tag t = { .id = 1 };
    (void)unused;

    tu_read_sa(SIGUSR2, &orig);
    tu_install_foreign(SIGUSR2, SA_SIGINFO | SA_ONSTACK, &foreign);

    assert_succeeds(evsig_watch(loop, &w, SIGUSR2, log_cb, &t, 0));
    assert_succeeds(evsig_signal(NULL, SIGUSR2, EVSIG_IGN, NULL, NULL));
    assert_true(tu_kernel_has_siginfo_handler(SIGUSR2));   /* the watcher holds it */
    raise(SIGUSR2);
    assert_true(TU_RUN_UNTIL(loop, t.n == 1, 5));
    assert_succeeds(evsig_unwatch(&w));
    tu_read_sa(SIGUSR2, &now);
    assert_ptr_equal(now.sa_handler, SIG_IGN);
    assert_false(now.sa_flags & SA_SIGINFO);

    assert_succeeds(evsig_watch(loop, &w, SIGUSR2, log_cb, &t, 0));
    assert_succeeds(evsig_signal(NULL, SIGUSR2, EVSIG_DFL, NULL, NULL));
    assert_succeeds(evsig_unwatch(&w));
    tu_read_sa(SIGUSR2, &now);
    assert_ptr_equal(now.sa_handler, SIG_DFL);
    assert_false(now.sa_flags & SA_SIGINFO);

    /* A table callback keeps evsig's handler after the last watcher. */
    assert_succeeds(evsig_signal(loop, SIGUSR2, table_cb, &t, NULL));
    assert_succeeds(evsig_watch(loop, &w, SIGUSR2, log_cb, &t, 0));
    assert_succeeds(evsig_unwatch(&w));
    assert_true(tu_kernel_has_siginfo_handler(SIGUSR2));
    raise(SIGUSR2);
    assert_true(TU_RUN_UNTIL(loop, t.n == 2, 5));

    /* evsig_reset() puts back what was found before the table was set. */
    evsig_reset();
    tu_assert_same_sa(SIGUSR2, &foreign);
    tu_put_back_exact(SIGUSR2, &orig);
}

/* DESIGN §3.1: a delivery whose owners all stopped before dispatch is
 * dropped, as libuv and CPython drop it (the first version passed it to the
 * disposition then in place: here, the foreign handler). */
static void test_a_delivery_caught_for_a_watcher_stopped_before_dispatch_is_dropped(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct sigaction orig, foreign;
    static evsig_watcher w;
    struct tag t = { .id = 1 };
    (void)unused;

    tu_read_sa(SIGUSR1, &orig);
    /* Without SA_ONSTACK: valgrind 3.19 cannot build a signal frame for an
     * SA_ONSTACK handler with no alternate stack set when the signal is
     * delivered on pthread_sigmask()'s return. */
    tu_install_foreign(SIGUSR1, SA_SIGINFO | SA_RESTART, &foreign);
    assert_succeeds(evsig_watch(loop, &w, SIGUSR1, log_cb, &t, 0));
    assert_int_equal(kill(getpid(), SIGUSR1), 0);   /* caught, not dispatched */
    assert_int_equal(tu_foreign_hits, 0);
    assert_succeeds(evsig_unwatch(&w));
    tu_assert_same_sa(SIGUSR1, &foreign);
    tu_spin(loop);
    assert_int_equal(t.n, 0);
    assert_int_equal(tu_foreign_hits, 0);
    tu_put_back_exact(SIGUSR1, &orig);
}

/* A delivery that had no owner when it was received (the second of two
 * quick ones to a oneshot-only signal) meets the foreign handler evsig
 * found, called with its siginfo. */
static void test_a_delivery_received_with_no_owner_goes_to_the_foreign_handler_with_its_siginfo(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct sigaction orig, foreign;
    static evsig_watcher w;
    struct tag t = { .id = 1 };
    (void)unused;

    int sig = SIGRTMIN + 5;   /* queued: two deliveries stay two */

    tu_read_sa(sig, &orig);
    tu_install_foreign(sig, SA_SIGINFO | SA_RESTART, &foreign);
    assert_succeeds(evsig_watch(loop, &w, sig, log_cb, &t, EVSIG_ONESHOT));
    /* Both received before the loop runs: the first claims the oneshot,
     * the second has no owner. */
    tu_sigmask(SIG_BLOCK, sig);
    assert_succeeds(tu_sigqueue_self(sig, 1));
    assert_succeeds(tu_sigqueue_self(sig, 2));
    tu_sigmask(SIG_UNBLOCK, sig);
    assert_true(TU_RUN_UNTIL(loop, t.n == 1 && tu_foreign_hits == 1, 5));
    tu_spin(loop);
    assert_int_equal(t.n, 1);
    assert_int_equal(tu_foreign_hits, 1);
    assert_int_equal(tu_foreign_code, SI_QUEUE);
    assert_false(evsig_is_active(&w));
    tu_assert_same_sa(sig, &foreign);
    tu_put_back_exact(sig, &orig);
}

/* In a child: with a watcher, SIGTERM to self does not kill. */
static void child_sigterm_is_caught(void *arg)
{
    struct ev_loop *loop = ev_loop_new(EVFLAG_NOENV);
    static evsig_watcher w;
    struct tag t = { .id = 1 };
    (void)arg;

    TU_CHILD_CHECK(loop);
    signal(SIGTERM, SIG_DFL);
    TU_CHILD_CHECK(evsig_watch(loop, &w, SIGTERM, log_cb, &t, 0) == 0);
    TU_CHILD_CHECK(kill(getpid(), SIGTERM) == 0);
    TU_CHILD_CHECK(TU_RUN_UNTIL(loop, t.n == 1, 5));
    TU_CHILD_CHECK(kill(getpid(), SIGTERM) == 0);
    TU_CHILD_CHECK(TU_RUN_UNTIL(loop, t.n == 2, 5));
    _exit(0);
}

static void test_a_running_watcher_catches_sigterm_so_it_does_not_kill(void **unused)
{
    pid_t pid;
    (void)unused;

    pid = tu_fork(child_sigterm_is_caught, NULL);
    tu_assert_child_exit(pid, 0, 10);
}

static void test_a_signal_can_be_watched_again_after_unwatch(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct sigaction orig;
    static evsig_watcher a, b;
    struct tag ta = { .id = 1 }, tb = { .id = 2 };
    (void)unused;

    tu_read_sa(SIGUSR2, &orig);
    log_reset();
    for (int round = 1; round <= 5; round++) {
        assert_succeeds(evsig_watch(loop, &a, SIGUSR2, log_cb, &ta, 0));
        assert_succeeds(evsig_watch(loop, &b, SIGUSR2, log_cb, &tb, 0));
        raise(SIGUSR2);
        assert_true(TU_RUN_UNTIL(loop, ta.n == round && tb.n == round, 5));
        assert_succeeds(evsig_unwatch(&a));
        assert_succeeds(evsig_unwatch(&b));
        tu_assert_same_sa(SIGUSR2, &orig);
    }
    tu_spin(loop);
    assert_int_equal(calls.n, 10);
}

/* --- many watchers ------------------------------------------------------- */

enum { MANY = 1000, NSIGS = 8 };

static struct {
    evsig_watcher w[MANY];
    struct tag    t[MANY];
    bool          active[MANY];
    int           sig[MANY];
    unsigned long seq[MANY];   /* start order */
} many;

static unsigned rng_state = 12345;

static unsigned rng(void)
{
    rng_state = rng_state * 1103515245u + 12345u;
    return rng_state >> 8;
}

static int cmp_by_seq(const void *x, const void *y)
{
    int a = *(const int *)x, b = *(const int *)y;

    return many.seq[a] < many.seq[b] ? -1 : many.seq[a] > many.seq[b];
}

/* Deliver each signal that has watchers once; every active watcher is
 * called exactly once, in start order, and no inactive one. */
static void check_many(struct ev_loop *loop, const int *sigs)
{
    static int expect[MANY];

    for (int s = 0; s < NSIGS; s++) {
        int n = 0;

        for (int i = 0; i < MANY; i++) {
            assert_int_equal(evsig_is_active(&many.w[i]), many.active[i]);
            if (many.active[i] && many.sig[i] == sigs[s])
                expect[n++] = i;
        }
        if (!n) {
            assert_false(tu_kernel_has_siginfo_handler(sigs[s]));
            continue;
        }
        assert_true(tu_kernel_has_siginfo_handler(sigs[s]));
        qsort(expect, (size_t)n, sizeof(int), cmp_by_seq);
        log_reset();
        assert_int_equal(tu_sigqueue_self(sigs[s], s), 0);
        assert_true(TU_RUN_UNTIL(loop, calls.n >= n, 5));
        tu_spin(loop);
        assert_int_equal(calls.n, n);
        for (int k = 0; k < n; k++)
            if (calls.ids[k] != expect[k])
                fail_msg("%s: call %d went to watcher %d, expected %d",
                         evsig_signame(sigs[s]), k, calls.ids[k], expect[k]);
    }
}

static void test_a_thousand_watchers_started_and_stopped_in_random_order_stay_consistent(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    const int sigs[NSIGS] = { SIGUSR1, SIGUSR2, SIGHUP, SIGWINCH, SIGRTMIN + 1,
                              SIGRTMIN + 2, SIGRTMIN + 7, SIGRTMAX - 1 };
    struct sigaction before[NSIGS];
    unsigned long seq = 0;
    (void)unused;

    print_message("seed %u\n", rng_state);
    memset(&many, 0xA5, sizeof(many.w));
    for (int i = 0; i < MANY; i++) {
        many.t[i] = (struct tag){ .id = i };
        many.active[i] = false;
    }
    for (int s = 0; s < NSIGS; s++)
        tu_read_sa(sigs[s], &before[s]);

    for (int round = 0; round < 4; round++) {
        for (int op = 0; op < 3000; op++) {
            int i = (int)(rng() % MANY);

            if (many.active[i]) {
                assert_int_equal(evsig_unwatch(&many.w[i]), 0);
                many.active[i] = false;
            } else {
                int sig = sigs[rng() % NSIGS];

                assert_int_equal(evsig_watch(loop, &many.w[i], sig, log_cb,
                                             &many.t[i], 0), 0);
                many.active[i] = true;
                many.sig[i] = sig;
                many.seq[i] = seq++;
            }
        }
        check_many(loop, sigs);
    }

    /* Stop everything in random order; every signal gets back exactly
     * what it had. */
    {
        static int perm[MANY];

        for (int i = 0; i < MANY; i++)
            perm[i] = i;
        for (int i = MANY - 1; i > 0; i--) {
            int j = (int)(rng() % (unsigned)(i + 1)), x = perm[i];

            perm[i] = perm[j];
            perm[j] = x;
        }
        for (int k = 0; k < MANY; k++) {
            int i = perm[k];

            assert_int_equal(evsig_unwatch(&many.w[i]), 0);
            assert_false(evsig_is_active(&many.w[i]));
            many.active[i] = false;
        }
    }
    for (int s = 0; s < NSIGS; s++)
        tu_assert_same_sa(sigs[s], &before[s]);
    assert_true(tu_ev_run_returns(loop, 2.0));
}

/* --- signalfd loops ---------------------------------------------------- */

/* A loop made with EVFLAG_SIGNALFD serves evsig watchers like any other
 * (the first version refused it); the found handler comes back after. */
static void test_a_watcher_on_a_signalfd_loop_gets_siginfo_and_the_found_handler_comes_back(void **unused)
{
    struct ev_loop *sfd = ev_loop_new(EVFLAG_SIGNALFD | EVFLAG_NOENV);
    struct sigaction orig, foreign;
    sigset_t mask_before, mask_after;
    static evsig_watcher w;
    struct tag t = { .id = 1 };
    (void)unused;

    assert_non_null(sfd);
    log_reset();
    tu_read_sa(SIGUSR1, &orig);
    tu_install_foreign(SIGUSR1, SA_SIGINFO | SA_RESTART, &foreign);
    assert_int_equal(pthread_sigmask(SIG_SETMASK, NULL, &mask_before), 0);
    assert_succeeds(evsig_watch(sfd, &w, SIGUSR1, log_cb, &t, 0));
    assert_int_equal(pthread_sigmask(SIG_SETMASK, NULL, &mask_after), 0);
    assert_true(tu_same_sigset(&mask_before, &mask_after));
    assert_succeeds(tu_sigqueue_self(SIGUSR1, 7));
    assert_true(RUN_UNTIL_ON(sfd, t.n == 1, 5));
    assert_int_equal(tu_foreign_hits, 0);
    assert_succeeds(evsig_unwatch(&w));
    tu_assert_same_sa(SIGUSR1, &foreign);
    tu_put_back_exact(SIGUSR1, &orig);
    evsig_reset();
    ev_loop_destroy(sfd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_every_watcher_is_called_once_per_delivery_in_start_order_after_the_table_handler, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_every_watcher_gets_each_queued_rt_signal_with_its_value, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_a_callback_may_stop_itself, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_a_callback_that_stops_a_later_watcher_keeps_it_from_being_called, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_a_watcher_started_by_a_callback_sees_the_next_delivery_not_this_one, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_a_watcher_restarted_by_an_earlier_callback_waits_for_the_next_delivery, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_a_watcher_in_garbage_filled_memory_works, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_starting_an_active_watcher_is_harmless_one_call_and_one_reference, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_stopping_an_inactive_watcher_is_harmless, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_bad_arguments_are_einval_even_for_an_active_watcher, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_is_active_follows_watch_and_unwatch, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_a_oneshot_watcher_is_stopped_before_its_callback_runs, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_a_second_quick_delivery_to_a_oneshot_only_signal_meets_the_default_action, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_a_second_delivery_after_a_oneshot_goes_to_the_table_handler, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_a_oneshot_watcher_may_rearm_itself_from_its_callback, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_ev_run_returns_when_only_noref_watchers_remain, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_an_active_watcher_keeps_ev_run_running_until_it_is_stopped, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_a_oneshot_watcher_keeps_ev_run_alive_until_its_delivery, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_two_loops_watch_one_signal_and_stopping_one_leaves_the_other, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_the_last_watcher_stopping_puts_back_a_foreign_handler_exactly, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_the_last_watcher_stopping_installs_sig_dfl_or_sig_ign_as_the_table_says, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_a_delivery_caught_for_a_watcher_stopped_before_dispatch_is_dropped, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_a_delivery_received_with_no_owner_goes_to_the_foreign_handler_with_its_siginfo, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_a_running_watcher_catches_sigterm_so_it_does_not_kill, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_a_signal_can_be_watched_again_after_unwatch, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_a_thousand_watchers_started_and_stopped_in_random_order_stay_consistent, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_a_watcher_on_a_signalfd_loop_gets_siginfo_and_the_found_handler_comes_back, tu_setup, tu_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

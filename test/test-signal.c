/* SPDX-License-Identifier: MIT */
/*
 * test-signal.c - the handler table (DESIGN.md §3.1) and signal watchers
 * (§3.2): one test per rule a user relies on.
 *
 * Tests that leave a disposition the fixture cannot compare (a foreign
 * handler, a default action that kills) run in a forked child, which
 * reports through its exit code (TU_CHILD_CHECK) and never calls cmocka.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "evsig.h"
#include "test-util.h"

/* --- what callbacks record ------------------------------------------------ */

#define MAXREC 256

struct rec {
    int        n;
    evsig_info info[MAXREC];
    pthread_t  thread[MAXREC];
    int        order[MAXREC];   /* which callback, for ordering tests */
    bool       was_active[MAXREC];
};

static struct rec rec;
static evsig_watcher ws[8];
static int order_seq;

static void record(const evsig_info *info, int who)
{
    if (rec.n < MAXREC) {
        rec.info[rec.n] = *info;
        rec.thread[rec.n] = pthread_self();
        rec.order[rec.n] = who;
        rec.n++;
    }
}

static void on_sig(struct ev_loop *loop, const evsig_info *info, void *data)
{
    (void)loop;
    record(info, (int)(intptr_t)data);
}

static void setup_rec(void)
{
    memset(&rec, 0, sizeof(rec));
    order_seq = 0;
}

static int setup(void **state)
{
    setup_rec();
    return tu_setup(state);
}

/* --- the table ------------------------------------------------------------ */

static void test_a_handler_runs_on_the_next_loop_iteration_not_in_the_c_handler(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    (void)unused;

    assert_succeeds(evsig_signal(loop, SIGUSR1, on_sig, NULL, NULL));
    kill(getpid(), SIGUSR1);   /* the C handler has run when kill returns */
    assert_int_equal(rec.n, 0);
    ev_run(loop, EVRUN_NOWAIT);
    assert_int_equal(rec.n, 1);
    assert_true(pthread_equal(rec.thread[0], pthread_self()));
}

static void test_signal_returns_the_previous_handler_which_puts_it_back(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    evsig_action old;
    int a, b;
    (void)unused;

    assert_succeeds(evsig_signal(loop, SIGUSR1, on_sig, &a, &old));
    assert_ptr_equal(old.handler, EVSIG_DFL);
    assert_succeeds(evsig_signal(loop, SIGUSR1, on_sig, &b, &old));
    assert_ptr_equal(old.handler, on_sig);
    assert_ptr_equal(old.data, &a);
    assert_succeeds(evsig_signal(loop, SIGUSR1, old.handler, old.data, NULL));
    assert_succeeds(evsig_getsignal(SIGUSR1, &old));
    assert_ptr_equal(old.handler, on_sig);
    assert_ptr_equal(old.data, &a);
}

static void test_dfl_and_ign_reach_the_kernel(void **unused)
{
    struct sigaction sa;
    evsig_action act;
    (void)unused;

    assert_succeeds(evsig_signal(NULL, SIGUSR2, EVSIG_IGN, NULL, NULL));
    sigaction(SIGUSR2, NULL, &sa);
    assert_true(sa.sa_handler == SIG_IGN);
    assert_succeeds(evsig_getsignal(SIGUSR2, &act));
    assert_ptr_equal(act.handler, EVSIG_IGN);
    raise(SIGUSR2);   /* ignored: we survive */

    assert_succeeds(evsig_signal(NULL, SIGUSR2, EVSIG_DFL, NULL, NULL));
    sigaction(SIGUSR2, NULL, &sa);
    assert_true(sa.sa_handler == SIG_DFL);
}

static void foreign_child(void *arg)
{
    struct sigaction fa, before, after;
    evsig_action act;
    (void)arg;

    memset(&fa, 0, sizeof(fa));
    fa.sa_handler = tu_foreign_handler;
    fa.sa_flags = SA_NODEFER;
    sigemptyset(&fa.sa_mask);
    sigaddset(&fa.sa_mask, SIGINT);
    sigaction(SIGUSR1, &fa, NULL);
    sigaction(SIGUSR1, NULL, &before);

    TU_CHILD_CHECK(evsig_getsignal(SIGUSR1, &act) == 0);
    TU_CHILD_CHECK(act.handler == EVSIG_NONE && act.data == NULL);

    /* Replaced, then reset: back byte for byte. */
    TU_CHILD_CHECK(evsig_signal(ev_default_loop(0), SIGUSR1, on_sig, NULL, &act) == 0);
    TU_CHILD_CHECK(act.handler == EVSIG_NONE);
    TU_CHILD_CHECK(evsig_reset() == 0);
    sigaction(SIGUSR1, NULL, &after);
    TU_CHILD_CHECK(tu_same_sigaction(&before, &after));

    /* Watched, then the last watcher stops: back byte for byte. */
    TU_CHILD_CHECK(evsig_watch(ev_default_loop(0), &ws[0], SIGUSR1, on_sig, NULL, 0) == 0);
    sigaction(SIGUSR1, NULL, &after);
    TU_CHILD_CHECK(!tu_same_sigaction(&before, &after));
    TU_CHILD_CHECK(after.sa_flags & SA_RESTART);
    TU_CHILD_CHECK(evsig_unwatch(&ws[0]) == 0);
    sigaction(SIGUSR1, NULL, &after);
    TU_CHILD_CHECK(tu_same_sigaction(&before, &after));
}

static void test_getsignal_reports_none_and_reset_puts_back_a_foreign_handler(void **unused)
{
    (void)unused;
    tu_assert_child_exit(tu_fork(foreign_child, NULL), 0, 10);
}

static void test_a_handler_stays_installed_until_replaced(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    (void)unused;

    assert_succeeds(evsig_signal(loop, SIGUSR1, on_sig, NULL, NULL));
    for (int i = 1; i <= 5; i++) {
        kill(getpid(), SIGUSR1);
        assert_true(TU_RUN_UNTIL(loop, rec.n == i, 2));
    }
}

static void test_siginfo_names_the_sender_code_and_value(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    (void)unused;

    assert_succeeds(evsig_signal(loop, SIGUSR1, on_sig, NULL, NULL));
    kill(getpid(), SIGUSR1);
    assert_true(TU_RUN_UNTIL(loop, rec.n == 1, 2));
    assert_int_equal(rec.info[0].signo, SIGUSR1);
    assert_int_equal(rec.info[0].code, SI_USER);
    assert_int_equal(rec.info[0].pid, getpid());
    assert_int_equal(rec.info[0].uid, getuid());
    assert_int_equal(rec.info[0].lost, 0);

    assert_succeeds(tu_sigqueue_self(SIGUSR1, 4242));
    assert_true(TU_RUN_UNTIL(loop, rec.n == 2, 2));
    assert_int_equal(rec.info[1].code, SI_QUEUE);
    assert_int_equal(rec.info[1].value.sival_int, 4242);
    assert_int_equal(rec.info[1].pid, getpid());

    raise(SIGUSR1);
    assert_true(TU_RUN_UNTIL(loop, rec.n == 3, 2));
    assert_int_equal(rec.info[2].code, SI_TKILL);
}

static void test_fifty_queued_realtime_signals_arrive_one_call_each_in_order(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    int sig = SIGRTMIN + 1;
    (void)unused;

    assert_succeeds(evsig_signal(loop, sig, on_sig, NULL, NULL));
    /* Blocked while queueing, so the kernel queues all 50 before any
     * reaches the C handler: raw libev would call back once. */
    tu_sigmask(SIG_BLOCK, sig);
    for (int i = 0; i < 50; i++)
        assert_succeeds(tu_sigqueue_self(sig, i * 7));
    tu_sigmask(SIG_UNBLOCK, sig);
    assert_true(TU_RUN_UNTIL(loop, rec.n == 50, 5));
    for (int i = 0; i < 50; i++) {
        assert_int_equal(rec.info[i].value.sival_int, i * 7);
        assert_int_equal(rec.info[i].lost, 0);
    }
}

/* A loop that falls behind by more than the ring holds loses its oldest
 * deliveries, keeps the newest, and the very first delivery it gets says
 * exactly how many were lost (the first version kept the oldest and told
 * only with a later delivery). */
static void test_a_lapped_ring_keeps_the_newest_and_the_first_delivery_counts_the_loss(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    int sig = SIGRTMIN + 2, sent = EVSIG_RING_SIZE + 40;
    unsigned lost = 0;
    (void)unused;

    assert_succeeds(evsig_signal(loop, sig, on_sig, NULL, NULL));
    tu_sigmask(SIG_BLOCK, sig);
    for (int i = 0; i < sent; i++)
        assert_succeeds(tu_sigqueue_self(sig, i));
    /* Unblocking runs the C handler for every queued one before the loop
     * gets a chance to read: the ring laps. */
    tu_sigmask(SIG_UNBLOCK, sig);
    assert_true(TU_RUN_UNTIL(loop, rec.n > 0 &&
                             rec.info[rec.n - 1].value.sival_int == sent - 1, 5));
    for (int i = 0; i < rec.n; i++) {
        lost += rec.info[i].lost;
        if (i)
            assert_int_equal(rec.info[i].value.sival_int,
                             rec.info[i - 1].value.sival_int + 1);
    }
    assert_int_equal(rec.n + (int)lost, sent);
    assert_true(rec.n >= EVSIG_RING_SIZE);
    assert_int_equal(rec.info[0].lost, lost);   /* all of it, on the first */
    assert_int_equal(rec.info[0].value.sival_int, (int)lost);
}

static void *set_from_thread(void *arg)
{
    struct ev_loop *loop = arg;

    return (void *)(intptr_t)evsig_signal(loop, SIGUSR2, on_sig, NULL, NULL);
}

static void test_another_thread_may_set_a_handler_while_the_loop_is_idle(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    pthread_t t;
    void *r;
    (void)unused;

    assert_int_equal(pthread_create(&t, NULL, set_from_thread, loop), 0);
    pthread_join(t, &r);
    assert_int_equal((intptr_t)r, 0);
    kill(getpid(), SIGUSR2);
    assert_true(TU_RUN_UNTIL(loop, rec.n == 1, 2));
    assert_true(pthread_equal(rec.thread[0], pthread_self()));
}

static void test_a_table_handler_does_not_keep_ev_run_alive(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    double t0;
    (void)unused;

    assert_succeeds(evsig_signal(loop, SIGUSR1, on_sig, NULL, NULL));
    t0 = tu_now();
    ev_run(loop, 0);   /* nothing to do: returns at once */
    assert_true(tu_now() - t0 < 1.0);
}

static void test_a_handler_replaced_by_ign_before_dispatch_is_not_called(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    (void)unused;

    assert_succeeds(evsig_signal(loop, SIGUSR1, on_sig, NULL, NULL));
    kill(getpid(), SIGUSR1);
    assert_succeeds(evsig_signal(loop, SIGUSR1, EVSIG_IGN, NULL, NULL));
    ev_run(loop, EVRUN_NOWAIT);
    assert_int_equal(rec.n, 0);
}

static void replaced_by_dfl_child(void *arg)
{
    struct ev_loop *loop = ev_default_loop(0);
    (void)arg;

    TU_CHILD_CHECK(evsig_signal(loop, SIGTERM, on_sig, NULL, NULL) == 0);
    kill(getpid(), SIGTERM);   /* caught, not yet dispatched */
    /* Its owner is gone: dropped, as libuv and CPython do. */
    evsig_signal(loop, SIGTERM, EVSIG_DFL, NULL, NULL);
    ev_run(loop, EVRUN_NOWAIT);
    _exit(rec.n == 0 ? 3 : 4);
}

static void test_a_handler_replaced_by_dfl_before_dispatch_drops_the_delivery(void **unused)
{
    pid_t pid = tu_fork(replaced_by_dfl_child, NULL);
    (void)unused;

    tu_assert_child_exit(pid, 3, 10);
}

static void test_installed_handlers_restart_syscalls_unless_siginterrupt(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct sigaction sa;
    (void)unused;

    assert_succeeds(evsig_signal(loop, SIGUSR1, on_sig, NULL, NULL));
    sigaction(SIGUSR1, NULL, &sa);
    assert_true(sa.sa_flags & SA_RESTART);
    assert_true(sa.sa_flags & SA_SIGINFO);
    assert_succeeds(evsig_siginterrupt(SIGUSR1, 1));
    sigaction(SIGUSR1, NULL, &sa);
    assert_false(sa.sa_flags & SA_RESTART);
    assert_succeeds(evsig_siginterrupt(SIGUSR1, 0));
    sigaction(SIGUSR1, NULL, &sa);
    assert_true(sa.sa_flags & SA_RESTART);
}

struct storm {
    pid_t target;
    int   wfd;        /* written when the storm is over */
    int   count;
};

static void *storm_then_write(void *arg)
{
    struct storm *st = arg;
    struct timespec ts = { 0, 200000 };   /* 0.2 ms between signals */

    for (int i = 0; i < st->count; i++) {
        kill(st->target, SIGUSR1);
        nanosleep(&ts, NULL);
    }
    (void)!write(st->wfd, "x", 1);
    return NULL;
}

static void blocking_read_survives(bool interrupt)
{
    struct ev_loop *loop = tu_default_loop();
    struct storm st;
    pthread_t t;
    char c;
    int p[2];
    ssize_t r;

    assert_int_equal(pipe(p), 0);   /* blocking on purpose */
    assert_succeeds(evsig_signal(loop, SIGUSR1, on_sig, NULL, NULL));
    if (interrupt)
        assert_succeeds(evsig_siginterrupt(SIGUSR1, 1));
    /* Only this thread can take the signals: the storm thread blocks them. */
    tu_sigmask(SIG_BLOCK, SIGUSR1);
    st.target = getpid();
    st.wfd = p[1];
    st.count = 200;
    assert_int_equal(pthread_create(&t, NULL, storm_then_write, &st), 0);
    tu_sigmask(SIG_UNBLOCK, SIGUSR1);

    r = read(p[0], &c, 1);
    if (interrupt) {
        assert_int_equal(r, -1);
        assert_int_equal(errno, EINTR);
    } else {
        assert_int_equal(r, 1);   /* no EINTR through 200 signals */
    }
    pthread_join(t, NULL);
    /* And the signals still reach the handler, on the loop. */
    assert_true(TU_RUN_UNTIL(loop, rec.n > 0, 2));
    close(p[0]);
    close(p[1]);
}

static void test_a_blocking_read_survives_a_stream_of_signals(void **unused)
{
    (void)unused;
    blocking_read_survives(false);
}

static void test_siginterrupt_makes_the_same_read_fail_with_eintr(void **unused)
{
    (void)unused;
    blocking_read_survives(true);
}

/* --- watchers ------------------------------------------------------------- */

static void test_every_watcher_runs_once_per_delivery_after_the_table_handler(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    (void)unused;

    assert_succeeds(evsig_watch(loop, &ws[0], SIGUSR1, on_sig, (void *)1, 0));
    assert_succeeds(evsig_watch(loop, &ws[1], SIGUSR1, on_sig, (void *)2, 0));
    assert_succeeds(evsig_watch(loop, &ws[2], SIGUSR1, on_sig, (void *)3, 0));
    assert_succeeds(evsig_signal(loop, SIGUSR1, on_sig, (void *)0, NULL));
    kill(getpid(), SIGUSR1);
    assert_true(TU_RUN_UNTIL(loop, rec.n == 4, 2));
    ev_run(loop, EVRUN_NOWAIT);
    assert_int_equal(rec.n, 4);
    for (int i = 0; i < 4; i++)
        assert_int_equal(rec.order[i], i);
}

static void stop_self_and_next(struct ev_loop *loop, const evsig_info *info, void *data)
{
    (void)loop;
    record(info, 10);
    evsig_unwatch(&ws[0]);
    evsig_unwatch(&ws[1]);
    /* Started during a dispatch: sees the next delivery, not this one. */
    evsig_watch(loop, &ws[2], info->signo, on_sig, (void *)12, 0);
    (void)data;
}

static void test_a_callback_may_stop_itself_and_others_and_start_new_ones(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    (void)unused;

    assert_succeeds(evsig_watch(loop, &ws[0], SIGUSR1, stop_self_and_next, NULL, 0));
    assert_succeeds(evsig_watch(loop, &ws[1], SIGUSR1, on_sig, (void *)11, 0));
    kill(getpid(), SIGUSR1);
    assert_true(TU_RUN_UNTIL(loop, rec.n == 1, 2));
    ev_run(loop, EVRUN_NOWAIT);
    assert_int_equal(rec.n, 1);   /* ws[1] was stopped before its turn */
    assert_false(evsig_is_active(&ws[0]));
    assert_true(evsig_is_active(&ws[2]));
    kill(getpid(), SIGUSR1);
    assert_true(TU_RUN_UNTIL(loop, rec.n == 2, 2));
    assert_int_equal(rec.order[1], 12);
}

static void restart_everyone(struct ev_loop *loop, const evsig_info *info, void *data)
{
    record(info, 20);
    for (int i = 0; i < 2; i++)
        evsig_unwatch(&ws[i]);
    for (int i = 0; i < 2; i++)
        evsig_watch(loop, &ws[i], info->signo, i ? on_sig : restart_everyone,
                    (void *)(intptr_t)(20 + i), 0);
    (void)data;
}

static void restart_child(void *arg)
{
    struct ev_loop *loop = ev_default_loop(0);
    (void)arg;

    TU_CHILD_CHECK(evsig_watch(loop, &ws[0], SIGUSR1, restart_everyone, NULL, 0) == 0);
    TU_CHILD_CHECK(evsig_watch(loop, &ws[1], SIGUSR1, on_sig, (void *)21, 0) == 0);
    /* Two caught before one dispatch. The first one's callback stops every
     * watcher and starts them again: the second belonged to the watchers
     * that were stopped, so it is dropped (DESIGN §3.1) -- and the signal
     * was never released, so nothing met SIG_DFL (which would kill us). */
    raise(SIGUSR1);
    raise(SIGUSR1);
    TU_CHILD_CHECK(TU_RUN_UNTIL(loop, rec.n >= 1, 5));
    for (int i = 0; i < 4; i++)
        ev_run(loop, EVRUN_NOWAIT);
    TU_CHILD_CHECK(rec.n == 1 && rec.order[0] == 20);
    TU_CHILD_CHECK(evsig_is_active(&ws[0]) && evsig_is_active(&ws[1]));
    /* The restarted first watcher gets the next one (and restarts the
     * second again before its turn: started during that dispatch, it waits
     * for the one after). */
    raise(SIGUSR1);
    TU_CHILD_CHECK(TU_RUN_UNTIL(loop, rec.n == 2, 5));
    for (int i = 0; i < 4; i++)
        ev_run(loop, EVRUN_NOWAIT);
    TU_CHILD_CHECK(rec.n == 2 && rec.order[1] == 20);
}

static void test_a_callback_that_restarts_every_watcher_never_releases_the_signal(void **unused)
{
    (void)unused;
    tu_assert_child_exit(tu_fork(restart_child, NULL), 0, 10);
}

static void test_a_garbage_filled_watcher_works_and_double_start_is_harmless(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    evsig_watcher w;
    (void)unused;

    memset(&w, 0xa5, sizeof(w));
    assert_false(evsig_is_active(&w));
    assert_succeeds(evsig_unwatch(&w));   /* inactive: harmless */
    assert_succeeds(evsig_watch(loop, &w, SIGUSR2, on_sig, NULL, 0));
    assert_succeeds(evsig_watch(loop, &w, SIGUSR2, on_sig, NULL, 0));
    kill(getpid(), SIGUSR2);
    assert_true(TU_RUN_UNTIL(loop, rec.n == 1, 2));
    ev_run(loop, EVRUN_NOWAIT);
    assert_int_equal(rec.n, 1);   /* started twice, called once */
    assert_succeeds(evsig_unwatch(&w));
    assert_succeeds(evsig_unwatch(&w));
}

static void check_inactive_then_record(struct ev_loop *loop, const evsig_info *info,
                                       void *data)
{
    (void)loop;
    rec.was_active[rec.n] = evsig_is_active(data);
    record(info, 0);
}

static void test_oneshot_stops_the_watcher_before_its_callback(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    (void)unused;

    assert_succeeds(evsig_signal(loop, SIGUSR1, on_sig, (void *)7, NULL));
    assert_succeeds(evsig_watch(loop, &ws[0], SIGUSR1, check_inactive_then_record,
                                &ws[0], EVSIG_ONESHOT));
    kill(getpid(), SIGUSR1);
    assert_true(TU_RUN_UNTIL(loop, rec.n == 2, 2));
    assert_false(rec.was_active[1]);
    /* The second delivery meets the table handler only. */
    kill(getpid(), SIGUSR1);
    assert_true(TU_RUN_UNTIL(loop, rec.n == 3, 2));
    ev_run(loop, EVRUN_NOWAIT);
    assert_int_equal(rec.n, 3);
    assert_int_equal(rec.order[2], 7);
}

static void oneshot_then_dfl_child(void *arg)
{
    struct ev_loop *loop = ev_default_loop(0);
    (void)arg;

    TU_CHILD_CHECK(evsig_watch(loop, &ws[0], SIGUSR2, on_sig, NULL, EVSIG_ONESHOT) == 0);
    kill(getpid(), SIGUSR2);
    kill(getpid(), SIGUSR2);
    ev_run(loop, EVRUN_NOWAIT);   /* the second meets SIG_DFL: death */
    _exit(rec.n == 1 ? 3 : 4);
}

static void test_two_quick_deliveries_to_a_oneshot_only_signal_meet_the_default_action(void **unused)
{
    int status = tu_wait(tu_fork(oneshot_then_dfl_child, NULL), 10);
    (void)unused;

    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGUSR2);
}

static void send_later(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)loop;
    (void)revents;
    kill(getpid(), (int)(intptr_t)t->data);
}

static void stop_watcher(struct ev_loop *loop, const evsig_info *info, void *data)
{
    (void)loop;
    record(info, 0);
    evsig_unwatch(data);
}

static void test_an_active_watcher_keeps_ev_run_alive_until_it_stops(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    ev_timer t;
    (void)unused;

    assert_succeeds(evsig_watch(loop, &ws[0], SIGUSR1, stop_watcher, &ws[0], 0));
    ev_timer_init(&t, send_later, 0.05, 0.);
    t.data = (void *)(intptr_t)SIGUSR1;
    ev_timer_start(loop, &t);
    ev_run(loop, 0);   /* returns only once the watcher stopped itself */
    assert_int_equal(rec.n, 1);
    assert_false(evsig_is_active(&ws[0]));
}

static void test_a_noref_watcher_does_not_keep_ev_run_alive(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    double t0;
    (void)unused;

    assert_succeeds(evsig_watch(loop, &ws[0], SIGUSR1, on_sig, NULL, EVSIG_NOREF));
    t0 = tu_now();
    ev_run(loop, 0);
    assert_true(tu_now() - t0 < 1.0);
    /* It still catches. */
    kill(getpid(), SIGUSR1);
    assert_true(TU_RUN_UNTIL(loop, rec.n == 1, 2));
}

static void test_a_running_watcher_catches_a_signal_whose_default_kills(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    (void)unused;

    assert_succeeds(evsig_watch(loop, &ws[0], SIGTERM, on_sig, NULL, 0));
    kill(getpid(), SIGTERM);
    assert_true(TU_RUN_UNTIL(loop, rec.n == 1, 2));
}

static void test_the_last_watcher_stopping_puts_back_the_tables_ign(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct sigaction sa;
    (void)unused;

    assert_succeeds(evsig_signal(NULL, SIGUSR1, EVSIG_IGN, NULL, NULL));
    assert_succeeds(evsig_watch(loop, &ws[0], SIGUSR1, on_sig, NULL, 0));
    assert_succeeds(evsig_watch(loop, &ws[1], SIGUSR1, on_sig, NULL, 0));
    assert_succeeds(evsig_unwatch(&ws[0]));
    sigaction(SIGUSR1, NULL, &sa);
    assert_true(sa.sa_flags & SA_SIGINFO);   /* one left: still ours */
    assert_succeeds(evsig_unwatch(&ws[1]));
    sigaction(SIGUSR1, NULL, &sa);
    assert_true(sa.sa_handler == SIG_IGN);
}

static void released_child(void *arg)
{
    struct ev_loop *loop = ev_default_loop(0);
    struct sigaction mine, now;
    (void)arg;

    /* evsig borrows SIGUSR1 and gives it back; the program then installs
     * SIG_IGN itself. evsig_reset() must not overwrite that. */
    TU_CHILD_CHECK(evsig_watch(loop, &ws[0], SIGUSR1, on_sig, NULL, 0) == 0);
    TU_CHILD_CHECK(evsig_unwatch(&ws[0]) == 0);
    memset(&mine, 0, sizeof(mine));
    mine.sa_handler = SIG_IGN;
    sigaction(SIGUSR1, &mine, NULL);
    TU_CHILD_CHECK(evsig_reset() == 0);
    sigaction(SIGUSR1, NULL, &now);
    TU_CHILD_CHECK(now.sa_handler == SIG_IGN);
}

static void test_a_signal_released_exactly_is_forgotten_by_reset(void **unused)
{
    (void)unused;
    tu_assert_child_exit(tu_fork(released_child, NULL), 0, 10);
}

static void test_a_thousand_watchers_started_and_stopped_in_random_order_stay_consistent(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    static evsig_watcher many[1000];
    static bool on[1000];
    int active = 0, sigs[] = { SIGUSR1, SIGUSR2, SIGRTMIN + 3 };
    double t0;
    (void)unused;

    srand(42);
    for (int round = 0; round < 5000; round++) {
        int i = rand() % 1000;

        if (on[i]) {
            assert_succeeds(evsig_unwatch(&many[i]));
            active--;
        } else {
            assert_succeeds(evsig_watch(loop, &many[i], sigs[i % 3], on_sig, NULL, 0));
            active++;
        }
        on[i] = !on[i];
        assert_int_equal(evsig_is_active(&many[i]), on[i]);
    }
    /* One delivery of each signal calls each active watcher once. */
    setup_rec();
    for (int k = 0; k < 3; k++)
        kill(getpid(), sigs[k]);
    assert_true(TU_RUN_UNTIL(loop, rec.n >= (active < MAXREC ? active : MAXREC), 5));
    for (int i = 0; i < 1000; i++)
        if (on[i])
            assert_succeeds(evsig_unwatch(&many[i]));
    /* Every reference the watchers took was given back: nothing keeps
     * ev_run() alive and no signal is still bound. */
    t0 = tu_now();
    ev_run(loop, 0);
    assert_true(tu_now() - t0 < 1.0);
    for (int k = 0; k < 3; k++) {
        struct sigaction sa;

        sigaction(sigs[k], NULL, &sa);
        assert_true(sa.sa_handler == SIG_DFL);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_a_handler_runs_on_the_next_loop_iteration_not_in_the_c_handler, setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_signal_returns_the_previous_handler_which_puts_it_back, setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_dfl_and_ign_reach_the_kernel, setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_getsignal_reports_none_and_reset_puts_back_a_foreign_handler, setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_a_handler_stays_installed_until_replaced, setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_siginfo_names_the_sender_code_and_value, setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_fifty_queued_realtime_signals_arrive_one_call_each_in_order, setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_a_lapped_ring_keeps_the_newest_and_the_first_delivery_counts_the_loss, setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_another_thread_may_set_a_handler_while_the_loop_is_idle, setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_a_table_handler_does_not_keep_ev_run_alive, setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_a_handler_replaced_by_ign_before_dispatch_is_not_called, setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_a_handler_replaced_by_dfl_before_dispatch_drops_the_delivery, setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_installed_handlers_restart_syscalls_unless_siginterrupt, setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_a_blocking_read_survives_a_stream_of_signals, setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_siginterrupt_makes_the_same_read_fail_with_eintr, setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_every_watcher_runs_once_per_delivery_after_the_table_handler, setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_a_callback_may_stop_itself_and_others_and_start_new_ones, setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_a_callback_that_restarts_every_watcher_never_releases_the_signal, setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_a_garbage_filled_watcher_works_and_double_start_is_harmless, setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_oneshot_stops_the_watcher_before_its_callback, setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_two_quick_deliveries_to_a_oneshot_only_signal_meet_the_default_action, setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_an_active_watcher_keeps_ev_run_alive_until_it_stops, setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_a_noref_watcher_does_not_keep_ev_run_alive, setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_a_running_watcher_catches_a_signal_whose_default_kills, setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_the_last_watcher_stopping_puts_back_the_tables_ign, setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_a_signal_released_exactly_is_forgotten_by_reset, setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_a_thousand_watchers_started_and_stopped_in_random_order_stay_consistent, setup, tu_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

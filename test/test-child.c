/* SPDX-License-Identifier: MIT */
/*
 * test-child.c - children on the default loop (DESIGN.md §3.3) and the
 * cooperative SIGCHLD entry of the handler table (§3.1, "SIGCHLD is
 * cooperative").
 *
 * How the tests synchronise with their children (gates, capped loop runs,
 * never sleep()) is described in child-util.h. Forked children never call
 * cmocka: they report through their exit code (TU_CHILD_CHECK exits 99
 * and says where on stderr).
 */
#define _GNU_SOURCE   /* pipe2() */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "evsig.h"
#include "test-util.h"
#include "child-util.h"

/* evsig keeps results from its first child-API call on (DESIGN.md §3.3):
 * make that call, with no child around. */
static void start_keeping_results(struct ev_loop *loop)
{
    assert_int_equal(tu_count_children(), 0);
    assert_fails_with(evsig_waitpid(loop, -1, NULL, WNOHANG), ECHILD);
}

/* Never, with either backend: SIG_IGN or SA_NOCLDWAIT for SIGCHLD (the
 * kernel would discard exit statuses; a pidfd's waitid() would find
 * nothing). */
static void assert_kernel_keeps_sigchld_statuses(void)
{
    struct sigaction sa;

    assert_int_equal(sigaction(SIGCHLD, NULL, &sa), 0);
    if (!(sa.sa_flags & SA_SIGINFO))
        assert_ptr_not_equal((void *)sa.sa_handler, (void *)SIG_IGN);
    assert_false(sa.sa_flags & SA_NOCLDWAIT);
}

/* The kernel's SIGCHLD disposition while evsig must catch SIGCHLD, with
 * either backend (children are watched, or the table holds a callback):
 * a handler, libev's or evsig's; never SIG_DFL (under LIBEV nobody would
 * reap; under PIDFD an unwatched child's SIGCHLD would not reach the
 * table, nor a wakeup fd its byte), nor what the function above excludes. */
static void assert_kernel_catches_sigchld(void)
{
    struct sigaction sa;

    assert_kernel_keeps_sigchld_statuses();
    assert_int_equal(sigaction(SIGCHLD, NULL, &sa), 0);
    if (!(sa.sa_flags & SA_SIGINFO))
        assert_ptr_not_equal((void *)sa.sa_handler, (void *)SIG_DFL);
}

/* With no child watched and EVSIG_IGN/EVSIG_DFL in the table: under LIBEV
 * libev's reaper must stay in place (it reaps for the default loop, and
 * evsig keeps results from its first child call on); under PIDFD nothing
 * needs catching then, but statuses must still be kept. */
static void assert_kernel_sigchld_idle(void)
{
    if (child_backend() == EVSIG_CHILD_LIBEV)
        assert_kernel_catches_sigchld();
    else
        assert_kernel_keeps_sigchld_statuses();
}

/*
 * Let @loop meet an unwatched child's exit as its backend does. LIBEV:
 * libev's SIGCHLD watcher reaps every child, so run the loop until @pid is
 * gone (its result is kept). PIDFD: nobody reaps an unwatched child, so
 * once @pid has exited the loop runs a while and @pid must still be a
 * zombie. Either way evsig_waitpid(@pid) then gets its status.
 */
static void let_the_loop_meet_an_unwatched_exit(struct ev_loop *loop, pid_t pid)
{
    if (child_backend() == EVSIG_CHILD_LIBEV) {
        assert_true(TU_RUN_UNTIL(loop, gone(pid), 5.0));
        return;
    }
    wait_zombie(pid);
    if (TU_RUN_UNTIL(loop, !zombie(pid), 0.1))
        fail_msg("unwatched child %d was reaped behind the program's back "
                 "(PIDFD: nobody reaps a child it does not watch)", (int)pid);
}

/* ======================================================================== *
 * Statuses and the cooperative SIGCHLD table entry
 * ======================================================================== */

static void test_getsignal_sigchld_is_dfl_before_any_set_although_libev_installed_its_handler(void **unused)
{
    struct sigaction sa;
    evsig_action act = { EVSIG_IGN, &act };

    (void)unused;
    /* libev's default loop (made by tu_setup) put its reaper in place. */
    assert_int_equal(sigaction(SIGCHLD, NULL, &sa), 0);
    assert_ptr_not_equal((void *)sa.sa_handler, (void *)SIG_DFL);
    assert_ptr_not_equal((void *)sa.sa_handler, (void *)SIG_IGN);

    assert_succeeds(evsig_getsignal(SIGCHLD, &act));
    assert_ptr_equal((void *)act.handler, (void *)EVSIG_DFL);
    assert_null(act.data);

    /* Still so once evsig serves children on the default loop. */
    start_keeping_results(tu_default_loop());
    act = (evsig_action){ EVSIG_IGN, &act };
    assert_succeeds(evsig_getsignal(SIGCHLD, &act));
    assert_ptr_equal((void *)act.handler, (void *)EVSIG_DFL);
    assert_null(act.data);
}

static void foreign_sigchld(int sig)
{
    (void)sig;
}

static void foreign_sigchld_info(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    (void)si;
    (void)uc;
}

/* In a child: a SIGCHLD handler that is neither libev's nor evsig's is
 * EVSIG_NONE, plain or SA_SIGINFO; evsig_signal() reports it as the old
 * one, and evsig_reset() leaves it in the kernel. */
static void foreign_sigchld_main(void *arg)
{
    struct ev_loop *loop = arg;
    struct sigaction sa, now;
    evsig_action act, old;
    int x;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = foreign_sigchld;
    TU_CHILD_CHECK(sigaction(SIGCHLD, &sa, NULL) == 0);
    act = (evsig_action){ EVSIG_DFL, &act };
    TU_CHILD_CHECK(evsig_getsignal(SIGCHLD, &act) == 0);
    TU_CHILD_CHECK(act.handler == EVSIG_NONE);
    TU_CHILD_CHECK(act.data == NULL);

    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = foreign_sigchld_info;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    TU_CHILD_CHECK(sigaction(SIGCHLD, &sa, NULL) == 0);
    act = (evsig_action){ EVSIG_DFL, &act };
    TU_CHILD_CHECK(evsig_getsignal(SIGCHLD, &act) == 0);
    TU_CHILD_CHECK(act.handler == EVSIG_NONE);

    old = (evsig_action){ EVSIG_DFL, &act };
    TU_CHILD_CHECK(evsig_signal(loop, SIGCHLD, chld_handler, &x, &old) == 0);
    TU_CHILD_CHECK(old.handler == EVSIG_NONE);
    TU_CHILD_CHECK(old.data == NULL);
    TU_CHILD_CHECK(evsig_getsignal(SIGCHLD, &act) == 0);
    TU_CHILD_CHECK(act.handler == chld_handler && act.data == &x);

    TU_CHILD_CHECK(evsig_reset() == 0);
    TU_CHILD_CHECK(sigaction(SIGCHLD, NULL, &now) == 0);
    TU_CHILD_CHECK(now.sa_sigaction == foreign_sigchld_info);
    TU_CHILD_CHECK(evsig_getsignal(SIGCHLD, &act) == 0);
    TU_CHILD_CHECK(act.handler == EVSIG_NONE);
}

static void test_getsignal_sigchld_is_none_when_a_foreign_handler_is_installed(void **unused)
{
    (void)unused;
    tu_assert_child_exit(tu_fork(foreign_sigchld_main, tu_default_loop()), 0,
                         10.0);
}

static void test_getsignal_sigchld_reports_what_evsig_signal_set(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct chld_log log = { 0 };
    evsig_action act, old;

    (void)unused;
    old = (evsig_action){ EVSIG_IGN, &old };
    assert_succeeds(evsig_signal(loop, SIGCHLD, chld_handler, &log, &old));
    assert_ptr_equal((void *)old.handler, (void *)EVSIG_DFL);
    assert_null(old.data);
    assert_succeeds(evsig_getsignal(SIGCHLD, &act));
    assert_ptr_equal((void *)act.handler, (void *)chld_handler);
    assert_ptr_equal(act.data, &log);
    assert_kernel_catches_sigchld();

    assert_succeeds(evsig_signal(NULL, SIGCHLD, EVSIG_IGN, NULL, &old));
    assert_ptr_equal((void *)old.handler, (void *)chld_handler);
    assert_ptr_equal(old.data, &log);
    assert_succeeds(evsig_getsignal(SIGCHLD, &act));
    assert_ptr_equal((void *)act.handler, (void *)EVSIG_IGN);
    assert_null(act.data);
    assert_kernel_sigchld_idle();

    assert_succeeds(evsig_signal(NULL, SIGCHLD, EVSIG_DFL, NULL, &old));
    assert_ptr_equal((void *)old.handler, (void *)EVSIG_IGN);
    assert_succeeds(evsig_getsignal(SIGCHLD, &act));
    assert_ptr_equal((void *)act.handler, (void *)EVSIG_DFL);
    assert_kernel_sigchld_idle();

    /* Putting back what *old held works for the cooperative entry too. */
    assert_succeeds(evsig_signal(loop, SIGCHLD, chld_handler, &log, NULL));
    assert_succeeds(evsig_signal(loop, SIGCHLD, EVSIG_IGN, NULL, &old));
    assert_succeeds(evsig_signal(loop, SIGCHLD, old.handler, old.data, NULL));
    assert_succeeds(evsig_getsignal(SIGCHLD, &act));
    assert_ptr_equal((void *)act.handler, (void *)chld_handler);
    assert_ptr_equal(act.data, &log);
    assert_int_equal(log.calls, 0);
}

static void test_a_childs_exit_code_reaches_its_callback(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct exit_rec rec = { 0 };
    pid_t pid;

    (void)unused;
    pid = watch_exiting(loop, rec_cb, &rec, 0, NULL, 42);
    assert_true(TU_RUN_UNTIL(loop, rec.calls > 0, 5.0));
    assert_int_equal(rec.calls, 1);
    assert_int_equal(rec.pid, pid);
    assert_exited(rec.status, 42);
    assert_true(gone(pid));
}

static void test_children_killed_by_sigkill_and_sigterm_report_wifsignaled(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct exit_rec rk = { 0 }, rt = { 0 };
    pid_t pk, pt;

    (void)unused;
    pk = assert_succeeds(evsig_fork_and_watch(loop, rec_cb, &rk, 0));
    if (pk == 0) {
        child_begin(NULL);
        raise(SIGKILL);
        _exit(1);
    }
    pt = assert_succeeds(evsig_fork_and_watch(loop, rec_cb, &rt, 0));
    if (pt == 0) {
        child_begin(NULL);
        raise(SIGTERM);   /* SIG_DFL: child_begin() saw to that */
        _exit(1);
    }
    assert_true(TU_RUN_UNTIL(loop, rk.calls && rt.calls, 5.0));
    assert_int_equal(rk.calls, 1);
    assert_int_equal(rt.calls, 1);
    assert_int_equal(rk.pid, pk);
    assert_int_equal(rt.pid, pt);
    assert_killed_by(rk.status, SIGKILL);
    assert_killed_by(rt.status, SIGTERM);
}

static void test_the_callback_runs_before_the_sigchld_table_handler_once_each_per_exit(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct exit_rec ra = { 0 }, rb = { 0 };
    struct chld_log log = { 0 };
    const evsig_info *ia, *ib;
    int sa = 0, sb = 0;
    pid_t a, b;

    (void)unused;
    assert_succeeds(evsig_signal(loop, SIGCHLD, chld_handler, &log, NULL));
    a = watch_exiting(loop, rec_cb, &ra, 0, NULL, 3);
    b = assert_succeeds(evsig_fork_and_watch(loop, rec_cb, &rb, 0));
    if (b == 0) {
        child_begin(NULL);
        raise(SIGKILL);
        _exit(1);
    }
    assert_true(TU_RUN_UNTIL(loop, log.calls >= 2, 5.0));
    /* Nothing more comes, however long the loop runs. */
    assert_false(TU_RUN_UNTIL(loop, log.calls > 2 || ra.calls > 1 ||
                                    rb.calls > 1, 0.2));
    assert_int_equal(log.calls, 2);
    assert_int_equal(ra.calls, 1);
    assert_int_equal(rb.calls, 1);

    ia = chld_find(&log, a, &sa);
    ib = chld_find(&log, b, &sb);
    assert_non_null(ia);
    assert_non_null(ib);
    assert_true(ra.seq < sa);
    assert_true(rb.seq < sb);

    assert_int_equal(ia->signo, SIGCHLD);
    assert_int_equal(ia->pid, a);
    assert_int_equal(ia->code, CLD_EXITED);
    assert_int_equal(ia->status, ra.status);
    assert_exited(ia->status, 3);

    assert_int_equal(ib->signo, SIGCHLD);
    assert_int_equal(ib->pid, b);
    assert_int_equal(ib->code, CLD_KILLED);
    assert_int_equal(ib->status, rb.status);
    assert_killed_by(ib->status, SIGKILL);
}

static void test_the_sigchld_table_handler_does_not_run_for_a_child_nobody_watches(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct chld_log log = { 0 };
    pid_t pid;
    int status;

    (void)unused;
    SKIP_UNLESS_BACKEND(EVSIG_CHILD_LIBEV, "the table handler runs once for "
                        "an unwatched child's SIGCHLD (test-child-pidfd.c)");
    assert_succeeds(evsig_signal(loop, SIGCHLD, chld_handler, &log, NULL));
    pid = tu_fork(raw_exit_main, (void *)(intptr_t)6);
    assert_true(TU_RUN_UNTIL(loop, gone(pid), 5.0));
    assert_false(TU_RUN_UNTIL(loop, log.calls > 0, 0.1));
    assert_int_equal(evsig_waitpid(loop, pid, &status, 0), pid);
    assert_exited(status, 6);
    assert_int_equal(log.calls, 0);
}

/* One watched child with the table at @disp for SIGCHLD (set before the
 * second child, after the first), reported to its callback, then
 * collected by evsig_waitpid(); one more collected without running the
 * loop first. */
static void check_sigchld_disposition_keeps_watching(evsig_handler disp)
{
    struct ev_loop *loop = tu_default_loop();
    struct exit_rec r1 = { 0 }, r2 = { 0 };
    evsig_action act;
    struct chld_log log = { 0 };
    struct gate *g1 = gate_new(), *g2 = gate_new();
    pid_t p1, p2;
    int status;

    /* From a handler to @disp, while a child is watched. */
    assert_succeeds(evsig_signal(loop, SIGCHLD, chld_handler, &log, NULL));
    p1 = watch_exiting(loop, rec_cb, &r1, 0, g1, 4);
    assert_succeeds(evsig_signal(loop, SIGCHLD, disp, NULL, NULL));
    assert_succeeds(evsig_getsignal(SIGCHLD, &act));
    assert_ptr_equal((void *)act.handler, (void *)disp);
    assert_kernel_catches_sigchld();

    p2 = watch_exiting(loop, rec_cb, &r2, 0, g2, 5);
    assert_kernel_catches_sigchld();

    gate_open(g1);
    assert_true(TU_RUN_UNTIL(loop, r1.calls > 0, 5.0));
    assert_int_equal(r1.calls, 1);
    assert_exited(r1.status, 4);
    assert_int_equal(evsig_waitpid(loop, p1, &status, 0), p1);
    assert_exited(status, 4);

    gate_open(g2);
    assert_int_equal(evsig_waitpid(loop, p2, &status, 0), p2);
    assert_exited(status, 5);
    assert_int_equal(r2.calls, 1);
    assert_int_equal(log.calls, 0);   /* the handler was replaced */
    assert_kernel_sigchld_idle();
    assert_int_equal(tu_count_children(), 0);
}

static void test_sigchld_ign_never_breaks_watching_or_waitpid_nor_reaches_the_kernel(void **unused)
{
    (void)unused;
    check_sigchld_disposition_keeps_watching(EVSIG_IGN);
}

static void test_sigchld_dfl_never_breaks_watching_or_waitpid_nor_reaches_the_kernel(void **unused)
{
    (void)unused;
    check_sigchld_disposition_keeps_watching(EVSIG_DFL);
}

/* ======================================================================== *
 * evsig_waitpid()
 * ======================================================================== */

static void test_waitpid_returns_a_watched_childs_status_once_then_echild(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct exit_rec rec = { 0 };
    int status = -1;
    pid_t pid;

    (void)unused;
    pid = watch_exiting(loop, rec_cb, &rec, 0, NULL, 7);
    assert_int_equal(evsig_waitpid(loop, pid, &status, 0), pid);
    assert_exited(status, 7);
    assert_int_equal(rec.calls, 1);   /* the loop ran while it waited */
    assert_int_equal(rec.status, status);
    assert_fails_with(evsig_waitpid(loop, pid, &status, 0), ECHILD);
    assert_fails_with(evsig_waitpid(loop, pid, &status, WNOHANG), ECHILD);
    assert_fails_with(evsig_waitpid(loop, -1, &status, WNOHANG), ECHILD);
    assert_int_equal(rec.calls, 1);
}

static void test_waitpid_wnohang_on_a_running_child_returns_zero(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct exit_rec rec = { 0 };
    struct gate *g = gate_new();
    int status = 12345;
    pid_t pid;

    (void)unused;
    pid = watch_exiting(loop, rec_cb, &rec, 0, g, 8);
    assert_int_equal(evsig_waitpid(loop, pid, &status, WNOHANG), 0);
    assert_int_equal(rec.calls, 0);
    assert_true(running(pid));

    gate_open(g);
    assert_int_equal(evsig_waitpid(loop, pid, &status, 0), pid);
    assert_exited(status, 8);
    assert_int_equal(rec.calls, 1);
}

static void test_waitpid_wnohang_reports_an_exit_the_loop_has_not_processed_after_its_callbacks(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct exit_rec rec = { 0 };
    struct chld_log log = { 0 };
    struct gate *g = gate_new();
    int status = 12345, hseq = 0;
    const evsig_info *info;
    pid_t pid;

    (void)unused;
    assert_succeeds(evsig_signal(loop, SIGCHLD, chld_handler, &log, NULL));
    pid = watch_exiting(loop, rec_cb, &rec, 0, g, 9);
    gate_open(g);
    wait_zombie(pid);   /* exited; the loop has not run since */
    assert_int_equal(rec.calls, 0);

    assert_int_equal(evsig_waitpid(loop, pid, &status, WNOHANG), pid);
    assert_exited(status, 9);
    /* Its callback and the SIGCHLD handler ran first, once each. */
    assert_int_equal(rec.calls, 1);
    assert_int_equal(rec.status, status);
    assert_int_equal(log.calls, 1);
    info = chld_find(&log, pid, &hseq);
    assert_non_null(info);
    assert_int_equal(info->status, status);
    assert_true(rec.seq < hseq);

    assert_fails_with(evsig_waitpid(loop, pid, &status, WNOHANG), ECHILD);
    assert_false(TU_RUN_UNTIL(loop, rec.calls > 1 || log.calls > 1, 0.1));
}

static void test_waitpid_minus_one_returns_the_oldest_exit_first(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct exit_rec r[3] = { { 0 } };
    struct gate *g[3];
    pid_t pid[3];
    int status;

    (void)unused;
    for (int i = 0; i < 3; i++)
        g[i] = gate_new();
    for (int i = 0; i < 3; i++) {
        pid[i] = assert_succeeds(evsig_fork_and_watch(loop, rec_cb, &r[i], 0));
        if (pid[i] == 0) {
            child_begin(g[i]);
            child_wait_gate(g[i]);
            _exit(i + 1);
        }
    }
    /* Exit order B, C, A: neither fork order nor pid order. */
    static const int order[3] = { 1, 2, 0 };
    for (int k = 0; k < 3; k++) {
        int i = order[k];

        gate_open(g[i]);
        assert_true(TU_RUN_UNTIL(loop, r[i].calls > 0, 5.0));
    }
    for (int k = 0; k < 3; k++) {
        int i = order[k];

        status = -1;
        assert_int_equal(evsig_waitpid(loop, -1, &status, 0), pid[i]);
        assert_exited(status, i + 1);
    }
    assert_fails_with(evsig_waitpid(loop, -1, &status, WNOHANG), ECHILD);
}

static void test_waitpid_minus_one_with_none_exited_waits_for_the_next_exit(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct exit_rec ra = { 0 }, rb = { 0 };
    struct gate *ga = gate_new(), *gb = gate_new();
    struct shot *opener;
    int status = -1;
    pid_t a, b;
    double t0;

    (void)unused;
    a = watch_exiting(loop, rec_cb, &ra, 0, ga, 10);
    b = watch_exiting(loop, rec_cb, &rb, 0, gb, 11);
    opener = shot_start(loop, 0.1, 0., gb);
    t0 = ev_time();
    assert_int_equal(evsig_waitpid(loop, -1, &status, 0), b);
    assert_true(ev_time() - t0 >= 0.09);
    assert_int_equal(opener->fired, 1);
    assert_exited(status, 11);
    assert_int_equal(rb.calls, 1);
    assert_int_equal(ra.calls, 0);
    shot_stop(opener);

    gate_open(ga);
    assert_int_equal(evsig_waitpid(loop, -1, &status, 0), a);
    assert_exited(status, 10);
}

static void test_waitpid_minus_one_wnohang_with_none_exited_returns_zero(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct gate *g = gate_new();
    int status = 12345;
    pid_t pid;

    (void)unused;
    pid = watch_exiting(loop, NULL, NULL, 0, g, 12);
    assert_int_equal(evsig_waitpid(loop, -1, &status, WNOHANG), 0);
    assert_true(running(pid));
    gate_open(g);
    assert_int_equal(evsig_waitpid(loop, -1, &status, 0), pid);
    assert_exited(status, 12);
}

static void test_a_timer_keeps_firing_while_waitpid_waits(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct gate *g = gate_new();
    struct shot *tick, *opener;
    int status = -1;
    double t0, took;
    pid_t pid;

    (void)unused;
    pid = watch_exiting(loop, NULL, NULL, 0, g, 13);
    tick = shot_start(loop, 0.02, 0.02, NULL);
    opener = shot_start(loop, 0.3, 0., g);
    t0 = ev_time();
    assert_int_equal(evsig_waitpid(loop, pid, &status, 0), pid);
    took = ev_time() - t0;
    assert_exited(status, 13);
    assert_int_equal(opener->fired, 1);
    assert_true(took >= 0.29);
    /* ~15 ticks in 0.3 s; a waitpid() that blocks the loop gets none. */
    if (tick->fired < 5) {
        print_error("the timer fired %d times in %.3f s\n", tick->fired, took);
        fail();
    }
    shot_stop(tick);
    shot_stop(opener);
}

static void test_waitpid_timeout_fails_with_etimedout_on_time_and_the_child_stays_watched(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct exit_rec rec = { 0 };
    struct gate *g = gate_new();
    int status = 12345;
    double t0, took;
    pid_t pid;

    (void)unused;
    pid = watch_exiting(loop, rec_cb, &rec, 0, g, 14);
    /* Let the loop's cached time go stale by 0.35 s (this synchronises
     * nothing): a deadline armed without ev_now_update() would expire at
     * once. */
    assert_true(TU_RUN_UNTIL(loop, true, 1.0));
    t0 = ev_time();
    while (ev_time() - t0 < 0.35)
        ;
    t0 = ev_time();
    assert_fails_with(evsig_waitpid_timeout(loop, pid, &status, 0.3), ETIMEDOUT);
    took = ev_time() - t0;
    if (took < 0.3 - 0.002 || took > 0.8) {
        print_error("timed out after %.3f s, expected 0.3 s\n", took);
        fail();
    }
    assert_int_equal(status, 12345);

    t0 = ev_time();
    assert_fails_with(evsig_waitpid_timeout(loop, pid, &status, 0.), ETIMEDOUT);
    assert_true(ev_time() - t0 < 0.2);
    assert_int_equal(rec.calls, 0);
    assert_true(running(pid));

    /* Still watched: its exit reaches the callback and a later wait. */
    gate_open(g);
    assert_int_equal(evsig_waitpid_timeout(loop, pid, &status, 5.0), pid);
    assert_exited(status, 14);
    assert_int_equal(rec.calls, 1);
    assert_int_equal(rec.status, status);
}

static void test_waitpid_timeout_waits_for_an_unwatched_child_without_blocking_the_loop(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct gate *g = gate_new();
    struct shot *tick, *opener;
    int status = 12345;
    double t0, took;
    pid_t pid;

    (void)unused;
    start_keeping_results(loop);
    pid = tu_fork(raw_wait_gate_a_while_main, g);
    tick = shot_start(loop, 0.02, 0.02, NULL);
    /* Opens the gate later than the timeout: a wait that blocked in
     * waitpid() would return the pid, not ETIMEDOUT. */
    opener = shot_start(loop, 0.8, 0., g);
    t0 = ev_time();
    assert_fails_with(evsig_waitpid_timeout(loop, pid, &status, 0.2), ETIMEDOUT);
    took = ev_time() - t0;
    assert_true(took >= 0.2 - 0.002 && took < 0.75);
    assert_true(tick->fired >= 3);
    assert_int_equal(opener->fired, 0);

    assert_int_equal(evsig_waitpid_timeout(loop, pid, &status, 5.0), pid);
    assert_exited(status, 0);
    assert_int_equal(opener->fired, 1);
    shot_stop(tick);
    shot_stop(opener);
}

/* ======================================================================== *
 * Forks: grandchildren, the child's clean state, forkpty
 * ======================================================================== */

static void test_a_grandchild_is_watched_from_inside_a_forked_child(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct exit_rec rec = { 0 };
    pid_t pid;

    (void)unused;
    pid = assert_succeeds(evsig_fork_and_watch(loop, rec_cb, &rec, 0));
    if (pid == 0) {
        struct exit_rec grec = { 0 };
        pid_t gpid;
        int st = -1;

        child_begin(NULL);
        gpid = evsig_fork_and_watch(loop, rec_cb, &grec, 0);
        if (gpid == 0)
            _exit(23);
        TU_CHILD_CHECK(gpid > 0);
        TU_CHILD_CHECK(TU_RUN_UNTIL(loop, grec.calls > 0, 5.0));
        TU_CHILD_CHECK(grec.calls == 1);
        TU_CHILD_CHECK(grec.pid == gpid);
        TU_CHILD_CHECK(evsig_waitpid(loop, gpid, &st, 0) == gpid);
        TU_CHILD_CHECK(st == grec.status);
        TU_CHILD_CHECK(WIFEXITED(st));
        _exit(WEXITSTATUS(st));   /* the grandchild's code, 23 */
    }
    assert_true(TU_RUN_UNTIL(loop, rec.calls > 0, 10.0));
    assert_int_equal(rec.pid, pid);
    assert_exited(rec.status, 23);
}

static void test_the_child_of_evsig_fork_inherits_no_watches_and_no_results(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct exit_rec rr = { 0 }, ra = { 0 };
    struct gate *ga = gate_new();
    int status = -1;
    pid_t r, a, c;

    (void)unused;
    /* r: exited, reaped, its result kept and not collected. */
    r = watch_exiting(loop, rec_cb, &rr, 0, NULL, 15);
    assert_true(TU_RUN_UNTIL(loop, rr.calls > 0, 5.0));
    /* a: watched, running. */
    a = watch_exiting(loop, rec_cb, &ra, 0, ga, 16);

    c = assert_succeeds(evsig_fork(loop));
    if (c == 0) {
        int fds[2], st;
        pid_t d;

        child_begin(NULL);
        errno = 0;
        TU_CHILD_CHECK(evsig_waitpid(loop, -1, &st, WNOHANG) == -1 && errno == ECHILD);
        errno = 0;
        TU_CHILD_CHECK(evsig_waitpid(loop, r, &st, WNOHANG) == -1 && errno == ECHILD);
        errno = 0;
        TU_CHILD_CHECK(evsig_waitpid(loop, a, &st, WNOHANG) == -1 && errno == ECHILD);
        errno = 0;
        TU_CHILD_CHECK(evsig_waitpid_timeout(loop, a, &st, 0.05) == -1 && errno == ECHILD);
        errno = 0;
        TU_CHILD_CHECK(evsig_child_unwatch(loop, a) == -1 && errno == ECHILD);

        /* Its own child: 0 while it runs, then its status. */
        TU_CHILD_CHECK(pipe2(fds, O_CLOEXEC) == 0);
        d = evsig_fork_and_watch(loop, NULL, NULL, 0);
        if (d == 0) {
            char ch;

            close(fds[1]);
            while (read(fds[0], &ch, 1) < 0 && errno == EINTR)
                ;
            _exit(17);
        }
        TU_CHILD_CHECK(d > 0);
        close(fds[0]);
        TU_CHILD_CHECK(evsig_waitpid(loop, -1, &st, WNOHANG) == 0);
        close(fds[1]);
        TU_CHILD_CHECK(evsig_waitpid(loop, -1, &st, 0) == d);
        TU_CHILD_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 17);
        _exit(0);
    }
    assert_int_equal(evsig_waitpid_timeout(loop, c, &status, 10.0), c);
    assert_exited(status, 0);

    /* The parent's own state is intact. */
    assert_int_equal(evsig_waitpid(loop, r, &status, WNOHANG), r);
    assert_exited(status, 15);
    assert_int_equal(evsig_waitpid(loop, a, &status, WNOHANG), 0);
    gate_open(ga);
    assert_int_equal(evsig_waitpid(loop, a, &status, 0), a);
    assert_exited(status, 16);
    assert_int_equal(ra.calls, 1);
}

static void test_ev_run_in_the_child_of_evsig_fork_is_not_kept_alive_by_the_parents_children(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct exit_rec ra = { 0 };
    struct gate *ga = gate_new();
    struct shot *opener;
    int status = -1;
    double took;
    pid_t a, c;

    (void)unused;
    a = watch_exiting(loop, rec_cb, &ra, 0, ga, 18);
    c = assert_succeeds(evsig_fork(loop));
    if (c == 0) {
        child_begin(NULL);
        took = run_bounded(loop, 3.0);
        if (took < 0)
            dprintf(STDERR_FILENO, "child: ev_run() was kept alive\n");
        TU_CHILD_CHECK(took >= 0 && took < 1.0);
        _exit(0);
    }
    assert_int_equal(evsig_waitpid_timeout(loop, c, &status, 10.0), c);
    assert_exited(status, 0);

    /* The control: in the parent, a keeps ev_run() alive until it exits. */
    opener = shot_start(loop, 0.1, 0., ga);
    took = run_bounded(loop, 5.0);
    assert_true(took >= 0.09);
    assert_int_equal(opener->fired, 1);
    assert_int_equal(ra.calls, 1);
    assert_int_equal(ra.pid, a);
    assert_exited(ra.status, 18);
    shot_stop(opener);
}

static void test_a_signal_caught_before_evsig_fork_is_dispatched_in_the_parent_only(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct counter n = { 0 };
    int status = -1;
    pid_t c;

    (void)unused;
    assert_succeeds(evsig_signal(loop, SIGUSR1, count_cb, &n, NULL));
    assert_succeeds(raise(SIGUSR1));   /* caught now, dispatched by the loop */
    assert_int_equal(n.calls, 0);

    c = assert_succeeds(evsig_fork(loop));
    if (c == 0) {
        child_begin(NULL);
        TU_CHILD_CHECK(!TU_RUN_UNTIL(loop, n.calls > 0, 0.3));
        /* The handler itself is kept: a signal the child catches runs it. */
        TU_CHILD_CHECK(raise(SIGUSR1) == 0);
        TU_CHILD_CHECK(TU_RUN_UNTIL(loop, n.calls > 0, 5.0));
        TU_CHILD_CHECK(n.calls == 1);
        _exit(0);
    }
    assert_true(TU_RUN_UNTIL(loop, n.calls > 0, 5.0));
    assert_int_equal(n.calls, 1);
    assert_int_equal(n.last.signo, SIGUSR1);
    assert_int_equal(n.last.pid, getpid());
    assert_int_equal(evsig_waitpid_timeout(loop, c, &status, 10.0), c);
    assert_exited(status, 0);
    assert_int_equal(n.calls, 1);
}

static void test_forkpty_and_watch_output_is_read_from_the_close_on_exec_master(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct exit_rec rec = { 0 };
    struct gate *g = gate_new();
    struct child_pty_reader rd;
    int master = -1, status = -1, fl;
    pid_t pid;

    (void)unused;
    pid = assert_succeeds(evsig_forkpty_and_watch(loop, &master, rec_cb, &rec, 0));
    if (pid == 0) {
        char msg[64];
        int len;

        child_begin(g);
        len = snprintf(msg, sizeof(msg), "evsig-pty stdin=%d stdout=%d\n",
                       isatty(0), isatty(1));
        TU_CHILD_CHECK(write(1, msg, (size_t)len) == len);
        child_wait_gate(g);   /* exit only once the parent has read it */
        _exit(19);
    }
    assert_true(master >= 0);
    fl = fcntl(master, F_GETFD);
    assert_true(fl >= 0);
    assert_true(fl & FD_CLOEXEC);

    memset(&rd, 0, sizeof(rd));
    assert_succeeds(fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK));
    ev_io_init(&rd.io, child_pty_read_cb, master, EV_READ);
    ev_io_start(loop, &rd.io);
    /* The tty turns "\n" into "\r\n". */
    bool got = TU_RUN_UNTIL(loop, strstr(rd.buf, "stdout=1\r\n") || rd.eof, 5.0);
    ev_io_stop(loop, &rd.io);
    if (!got || !strstr(rd.buf, "evsig-pty stdin=1 stdout=1\r\n")) {
        print_error("read from the master: \"%s\"%s\n", rd.buf,
                    rd.eof ? " (then EOF)" : "");
        close(master);
        fail();
    }

    gate_open(g);
    assert_int_equal(evsig_waitpid(loop, pid, &status, 0), pid);
    assert_exited(status, 19);
    assert_int_equal(rec.calls, 1);
    close(master);
}

/* ======================================================================== *
 * Children reaped behind the program's back, late watches, unwatch
 * ======================================================================== */

/* LIBEV: libev reaped the child behind the program's back, evsig kept its
 * result. PIDFD: nobody reaped it; evsig_waitpid() does. */
static void test_waitpid_reports_an_unwatched_raw_fork_childs_status_by_pid_and_through_minus_one(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    int status = -1;
    pid_t pid;

    (void)unused;
    start_keeping_results(loop);
    pid = tu_fork(raw_exit_main, (void *)(intptr_t)21);
    let_the_loop_meet_an_unwatched_exit(loop, pid);
    assert_int_equal(evsig_waitpid(loop, pid, &status, 0), pid);
    assert_exited(status, 21);
    assert_fails_with(evsig_waitpid(loop, pid, &status, WNOHANG), ECHILD);

    /* The same through pid -1 (no watched children: the oldest kept result
     * of an unwatched one, or a child that no loop watches). */
    pid = tu_fork(raw_exit_main, (void *)(intptr_t)22);
    let_the_loop_meet_an_unwatched_exit(loop, pid);
    assert_int_equal(evsig_waitpid(loop, -1, &status, WNOHANG), pid);
    assert_exited(status, 22);
    assert_fails_with(evsig_waitpid(loop, -1, &status, WNOHANG), ECHILD);
}

static void test_a_late_watch_of_a_child_libev_reaped_calls_back_on_the_next_iteration(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct exit_rec rec = { 0 };
    int status = -1;
    pid_t pid;

    (void)unused;
    SKIP_UNLESS_BACKEND(EVSIG_CHILD_LIBEV, "nobody reaps an unwatched child; "
                        "a late watch of a zombie is reported from its pidfd "
                        "(test_a_watch_of_a_child_that_already_exited_...)");
    start_keeping_results(loop);
    pid = tu_fork(raw_exit_main, (void *)(intptr_t)24);
    assert_true(TU_RUN_UNTIL(loop, gone(pid), 5.0));

    assert_succeeds(evsig_child_watch(loop, pid, rec_cb, &rec, 0));
    assert_int_equal(rec.calls, 0);   /* not from inside the call */
    ev_run(loop, EVRUN_NOWAIT);
    assert_int_equal(rec.calls, 1);
    assert_int_equal(rec.pid, pid);
    assert_exited(rec.status, 24);

    /* Reported, and still collectable once. */
    assert_int_equal(evsig_waitpid(loop, pid, &status, WNOHANG), pid);
    assert_exited(status, 24);
    assert_fails_with(evsig_waitpid(loop, pid, &status, WNOHANG), ECHILD);
    assert_false(TU_RUN_UNTIL(loop, rec.calls > 1, 0.1));
}

/* Late watches join the watched children's results in exit order: the
 * callbacks run oldest first (also when an older result is not late), and
 * evsig_waitpid(-1) hands the results out in the order the children
 * exited, whenever each was watched. */
static void test_late_watches_keep_results_in_exit_order(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct exit_rec ra = { 0 }, rb = { 0 }, rc = { 0 }, rd = { 0 };
    int status = -1;
    pid_t a, b, c, d;

    (void)unused;
    SKIP_UNLESS_BACKEND(EVSIG_CHILD_LIBEV, "no result is kept for an "
                        "unwatched child (nobody reaps it), so there is no "
                        "exit order to keep");
    start_keeping_results(loop);
    a = tu_fork(raw_exit_main, (void *)(intptr_t)51);        /* unwatched */
    assert_true(TU_RUN_UNTIL(loop, gone(a), 5.0));
    b = watch_exiting(loop, rec_cb, &rb, 0, NULL, 52);
    assert_true(TU_RUN_UNTIL(loop, rb.calls == 1, 5.0));
    c = tu_fork(raw_exit_main, (void *)(intptr_t)53);        /* unwatched */
    assert_true(TU_RUN_UNTIL(loop, gone(c), 5.0));
    d = watch_exiting(loop, rec_cb, &rd, 0, NULL, 54);
    assert_true(TU_RUN_UNTIL(loop, rd.calls == 1, 5.0));

    /* Watched late, newest first: c lands between b and d, a before b. */
    assert_succeeds(evsig_child_watch(loop, c, rec_cb, &rc, 0));
    assert_succeeds(evsig_child_watch(loop, a, rec_cb, &ra, 0));
    assert_true(TU_RUN_UNTIL(loop, ra.calls == 1 && rc.calls == 1, 5.0));
    assert_true(ra.seq < rc.seq);
    assert_int_equal(rb.calls, 1);
    assert_int_equal(rd.calls, 1);

    assert_int_equal(evsig_waitpid(loop, -1, &status, WNOHANG), a);
    assert_exited(status, 51);
    assert_int_equal(evsig_waitpid(loop, -1, &status, WNOHANG), b);
    assert_exited(status, 52);
    assert_int_equal(evsig_waitpid(loop, -1, &status, WNOHANG), c);
    assert_exited(status, 53);
    assert_int_equal(evsig_waitpid(loop, -1, &status, WNOHANG), d);
    assert_exited(status, 54);
}

/* A result past its TTL but not yet dropped can still be watched; once its
 * report is pending it is not dropped before the report ran. */
static void test_a_late_watch_keeps_a_result_past_its_ttl_until_reported(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct exit_rec rec = { 0 };
    int status = -1;
    pid_t pid;

    (void)unused;
    SKIP_UNLESS_BACKEND(EVSIG_CHILD_LIBEV, "no result is kept for an "
                        "unwatched child (nobody reaps it), so none expires");
    start_keeping_results(loop);
    assert_succeeds(evsig_child_set_result_ttl(0.1));
    pid = tu_fork(raw_exit_main, (void *)(intptr_t)55);
    assert_true(TU_RUN_UNTIL(loop, gone(pid), 5.0));
    /* Results are dropped when a child is reaped or evsig_waitpid() runs:
     * neither happened while the TTL ran out. */
    assert_false(TU_RUN_UNTIL(loop, false, 0.25));

    assert_succeeds(evsig_child_watch(loop, pid, rec_cb, &rec, 0));
    /* evsig_waitpid() drops stale results first: not this one. */
    assert_int_equal(evsig_waitpid(loop, pid, &status, WNOHANG), pid);
    assert_exited(status, 55);
    assert_int_equal(rec.calls, 1);
    assert_exited(rec.status, 55);
}

/* The exit of an unwatched child: LIBEV reaps it and keeps its result,
 * without a table call; PIDFD leaves it to the program (a zombie) and its
 * SIGCHLD, an unwatched child's now, reaches the table handler once. */
static void test_unwatch_stops_the_callback_and_the_result_stays_collectable(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct exit_rec rec = { 0 };
    struct chld_log log = { 0 };
    struct gate *g = gate_new();
    const evsig_info *info;
    int status = -1;
    double took;
    pid_t pid;

    (void)unused;
    assert_succeeds(evsig_signal(loop, SIGCHLD, chld_handler, &log, NULL));
    pid = watch_exiting(loop, rec_cb, &rec, 0, g, 25);
    assert_succeeds(evsig_child_unwatch(loop, pid));
    assert_succeeds(evsig_child_unwatch(loop, pid));   /* idempotent */

    /* The watch held ev_run() alive; now nothing does. */
    took = run_bounded(loop, 3.0);
    assert_true(took >= 0 && took < 1.0);
    assert_true(running(pid));

    gate_open(g);
    if (child_backend() == EVSIG_CHILD_LIBEV) {
        assert_true(TU_RUN_UNTIL(loop, gone(pid), 5.0));
        assert_false(TU_RUN_UNTIL(loop, rec.calls || log.calls, 0.1));
        assert_int_equal(log.calls, 0);
    } else {
        wait_zombie(pid);
        assert_true(TU_RUN_UNTIL(loop, log.calls > 0, 5.0));
        assert_false(TU_RUN_UNTIL(loop, rec.calls || log.calls > 1, 0.1));
        assert_true(zombie(pid));   /* evsig did not reap it */
        info = chld_find(&log, pid, NULL);
        assert_non_null(info);
        assert_int_equal(info->signo, SIGCHLD);
        assert_int_equal(info->code, CLD_EXITED);
        assert_exited(info->status, 25);
        assert_ptr_equal(log.loop[0], loop);
    }
    assert_int_equal(evsig_waitpid(loop, pid, &status, 0), pid);
    assert_exited(status, 25);
    assert_int_equal(rec.calls, 0);
    assert_succeeds(evsig_child_unwatch(loop, pid));   /* still 0 */
}

/* ======================================================================== *
 * Keeping ev_run() alive
 * ======================================================================== */

static void test_ev_run_returns_while_a_noref_watched_child_still_runs(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct exit_rec rec = { 0 };
    struct gate *g = gate_new();
    int status = -1;
    double took;
    pid_t pid;

    (void)unused;
    pid = watch_exiting(loop, rec_cb, &rec, EVSIG_NOREF, g, 26);
    took = run_bounded(loop, 3.0);
    assert_true(took >= 0 && took < 1.0);
    assert_true(running(pid));
    assert_int_equal(rec.calls, 0);

    /* A NOREF watch still reports the exit. */
    gate_open(g);
    assert_true(TU_RUN_UNTIL(loop, rec.calls > 0, 5.0));
    assert_exited(rec.status, 26);
    assert_int_equal(evsig_waitpid(loop, pid, &status, 0), pid);
    assert_exited(status, 26);
}

static void test_ev_run_keeps_running_until_a_watched_child_exits(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct exit_rec rec = { 0 }, rw = { 0 };
    struct gate *g = gate_new(), *gw = gate_new();
    struct shot *opener;
    int status = -1;
    double took;
    pid_t pid, w;

    (void)unused;
    pid = watch_exiting(loop, rec_cb, &rec, 0, g, 27);
    opener = shot_start(loop, 0.2, 0., g);
    took = run_bounded(loop, 5.0);
    assert_true(took >= 0.19);
    assert_int_equal(opener->fired, 1);
    assert_int_equal(rec.calls, 1);   /* ev_run() returned after the exit */
    assert_exited(rec.status, 27);
    assert_int_equal(evsig_waitpid(loop, pid, &status, WNOHANG), pid);
    shot_stop(opener);

    /* evsig_child_watch() of a running child keeps it alive too. */
    w = tu_fork(raw_wait_gate_main, gw);
    assert_succeeds(evsig_child_watch(loop, w, rec_cb, &rw, 0));
    opener = shot_start(loop, 0.2, 0., gw);
    took = run_bounded(loop, 5.0);
    assert_true(took >= 0.19);
    assert_int_equal(rw.calls, 1);
    assert_exited(rw.status, 0);
    assert_int_equal(evsig_waitpid(loop, w, &status, WNOHANG), w);
    shot_stop(opener);
}

/* evsig_reset() forgets every watch: a child watched before it is, after
 * it, an unwatched child like any other, so evsig_waitpid(-1) (no watched
 * children left) collects its exit instead of waiting for a watched one. */
static void test_after_reset_a_formerly_watched_child_is_collected_by_waitpid_minus_one(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct exit_rec rec = { 0 };
    struct gate *g = gate_new();
    int status = -1;
    pid_t pid;

    (void)unused;
    pid = watch_exiting(loop, rec_cb, &rec, 0, g, 45);
    assert_succeeds(evsig_reset());
    gate_open(g);
    assert_int_equal(evsig_waitpid_timeout(loop, -1, &status, 5.0), pid);
    assert_exited(status, 45);
    assert_int_equal(rec.calls, 0);   /* the watch went with the reset */
}

/* ======================================================================== *
 * evsig_kill()
 * ======================================================================== */

static void test_kill_signals_a_running_watched_child(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct exit_rec rec = { 0 };
    struct gate *g = gate_new();
    int status = -1;
    pid_t pid;

    (void)unused;
    pid = watch_exiting(loop, rec_cb, &rec, 0, g, 28);
    assert_succeeds(evsig_kill(loop, pid, 0));
    assert_succeeds(evsig_kill(loop, pid, SIGTERM));
    assert_int_equal(evsig_waitpid(loop, pid, &status, 0), pid);
    assert_killed_by(status, SIGTERM);
    assert_int_equal(rec.calls, 1);
}

static void test_kill_of_a_reaped_watched_child_fails_with_esrch(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct exit_rec rec = { 0 };
    int status = -1;
    pid_t pid;

    (void)unused;
    pid = watch_exiting(loop, rec_cb, &rec, 0, NULL, 29);
    assert_true(TU_RUN_UNTIL(loop, rec.calls > 0, 5.0));
    assert_fails_with(evsig_kill(loop, pid, 0), ESRCH);
    assert_fails_with(evsig_kill(loop, pid, SIGKILL), ESRCH);
    /* Checking changed nothing: the result is still there. */
    assert_int_equal(evsig_waitpid(loop, pid, &status, WNOHANG), pid);
    assert_exited(status, 29);

    /* The same for a child nobody watched whose result libev's reaping
     * left: evsig knows it is gone. (PIDFD: nobody reaps an unwatched
     * child, it stays a zombie that kill() may signal harmlessly.) */
    if (child_backend() != EVSIG_CHILD_LIBEV)
        return;
    pid = tu_fork(raw_exit_main, (void *)(intptr_t)29);
    assert_true(TU_RUN_UNTIL(loop, gone(pid), 5.0));
    assert_fails_with(evsig_kill(loop, pid, 0), ESRCH);
    assert_fails_with(evsig_kill(loop, pid, SIGTERM), ESRCH);
    assert_int_equal(evsig_waitpid(loop, pid, &status, WNOHANG), pid);
    assert_exited(status, 29);
}

static void test_kill_never_signals_a_process_that_reused_a_reaped_watched_childs_pid(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct exit_rec rec = { 0 };
    struct gate *g;
    int status = -1;
    pid_t pid = 0, reuser = -1;

    (void)unused;
    for (int attempt = 0; attempt < 5 && reuser != pid; attempt++) {
        rec = (struct exit_rec){ 0 };
        pid = watch_exiting(loop, rec_cb, &rec, 0, NULL, 30);
        assert_true(TU_RUN_UNTIL(loop, rec.calls > 0, 5.0));
        g = gate_new();
        reuser = fork_at_pid(pid, g);
        if (reuser != pid) {
            gate_open(g);
            assert_int_equal(evsig_waitpid_timeout(loop, reuser, &status, 5.0), reuser);
            assert_int_equal(evsig_waitpid(loop, pid, &status, WNOHANG), pid);
        }
    }
    if (reuser != pid) {
        print_message("cannot choose a pid here (needs root): skipped\n");
        skip();
    }
    /* evsig's record says pid was reaped; the process now holding it is
     * someone else. */
    assert_true(running(reuser));
    assert_fails_with(evsig_kill(loop, pid, SIGTERM), ESRCH);
    assert_fails_with(evsig_kill(loop, pid, 0), ESRCH);
    assert_true(running(reuser));
    /* The old child's result is still the one kept for that pid. */
    assert_int_equal(evsig_waitpid(loop, pid, &status, WNOHANG), pid);
    assert_exited(status, 30);
    gate_open(g);
    assert_int_equal(evsig_waitpid_timeout(loop, reuser, &status, 5.0), reuser);
    assert_exited(status, 0);   /* not killed by SIGTERM */
}

static void test_a_pid_reused_by_an_unwatched_child_never_runs_the_old_childs_callbacks(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct exit_rec rec = { 0 };
    struct chld_log log = { 0 };
    struct gate *g = NULL;
    int status = -1;
    pid_t pid = 0, reuser = -1;

    (void)unused;
    assert_succeeds(evsig_signal(loop, SIGCHLD, chld_handler, &log, NULL));
    for (int attempt = 0; attempt < 5 && reuser != pid; attempt++) {
        rec = (struct exit_rec){ 0 };
        log.calls = 0;
        pid = watch_exiting(loop, rec_cb, &rec, 0, NULL, 47);
        assert_true(TU_RUN_UNTIL(loop, rec.calls > 0 && log.calls > 0, 5.0));
        g = gate_new();
        reuser = fork_at_pid(pid, g);
        if (reuser != pid) {
            gate_open(g);
            assert_int_equal(evsig_waitpid_timeout(loop, reuser, &status, 5.0), reuser);
            assert_int_equal(evsig_waitpid(loop, pid, &status, WNOHANG), pid);
        }
    }
    if (reuser != pid) {
        print_message("cannot choose a pid here (needs root): skipped\n");
        skip();
    }
    gate_open(g);
    if (child_backend() == EVSIG_CHILD_LIBEV) {
        /* The old child's result is kept, uncollected, when the new
         * process holding its pid exits and libev reaps it. */
        assert_true(TU_RUN_UNTIL(loop, gone(reuser), 5.0));
        assert_false(TU_RUN_UNTIL(loop, rec.calls > 1 || log.calls > 1, 0.1));
        assert_int_equal(rec.calls, 1);
        assert_int_equal(log.calls, 1);
        /* One of the two statuses is handed out for that pid, once. */
        assert_int_equal(evsig_waitpid(loop, pid, &status, WNOHANG), pid);
        assert_true(WIFEXITED(status) &&
                    (WEXITSTATUS(status) == 0 || WEXITSTATUS(status) == 47));
        assert_false(TU_RUN_UNTIL(loop, rec.calls > 1 || log.calls > 1, 0.05));
        return;
    }
    /* PIDFD: nobody reaps the new process. Its SIGCHLD is an unwatched
     * child's: the table handler runs once more for it, the old child's
     * callback never. */
    wait_zombie(reuser);
    assert_true(TU_RUN_UNTIL(loop, chld_count(&log, pid) > 1, 5.0));
    assert_false(TU_RUN_UNTIL(loop, rec.calls > 1 || chld_count(&log, pid) > 2, 0.1));
    assert_int_equal(rec.calls, 1);
    assert_int_equal(chld_count(&log, pid), 2);
    assert_true(zombie(reuser));
    /* Both statuses are handed out for that pid, each once, in either
     * order; never ECHILD while the zombie is there. */
    assert_int_equal(evsig_waitpid(loop, pid, &status, WNOHANG), pid);
    assert_true(WIFEXITED(status));
    if (WEXITSTATUS(status) == 47) {
        assert_true(zombie(reuser));
        assert_int_equal(evsig_waitpid(loop, pid, &status, WNOHANG), pid);
        assert_exited(status, 0);
    } else {
        pid_t r;

        assert_exited(status, 0);
        /* The zombie went first: the old result is handed out now, or
         * it was replaced (as the header says for LIBEV). */
        r = evsig_waitpid(loop, pid, &status, WNOHANG);
        if (r == -1)
            assert_int_equal(errno, ECHILD);
        else {
            assert_int_equal(r, pid);
            assert_exited(status, 47);
        }
    }
    assert_false(zombie(reuser));
    assert_fails_with(evsig_waitpid(loop, pid, &status, WNOHANG), ECHILD);
    assert_false(TU_RUN_UNTIL(loop, rec.calls > 1 || chld_count(&log, pid) > 2, 0.05));
}

/* ======================================================================== *
 * Results expire
 * ======================================================================== */

static void test_an_uncollected_result_is_dropped_at_an_exit_after_its_ttl(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct exit_rec ra = { 0 }, rb = { 0 };
    int status = -1;
    pid_t a, b;

    (void)unused;
    assert_fails_with(evsig_child_set_result_ttl(-1.), EINVAL);
    assert_fails_with(evsig_child_set_result_ttl(NAN), EINVAL);
    assert_succeeds(evsig_child_set_result_ttl(0.2));

    a = watch_exiting(loop, rec_cb, &ra, 0, NULL, 31);
    assert_true(TU_RUN_UNTIL(loop, ra.calls > 0, 5.0));
    assert_false(TU_RUN_UNTIL(loop, false, 0.3));   /* 0.3 s of loop time */

    b = watch_exiting(loop, rec_cb, &rb, 0, NULL, 32);
    assert_true(TU_RUN_UNTIL(loop, rb.calls > 0, 5.0));   /* b's exit prunes */

    /* Gone already, before any evsig_waitpid() looks: a late watch finds
     * neither a result nor a child. */
    assert_fails_with(evsig_child_watch(loop, a, rec_cb, &ra, 0), ECHILD);
    assert_fails_with(evsig_kill(loop, a, 0), ESRCH);
    assert_fails_with(evsig_waitpid(loop, a, &status, WNOHANG), ECHILD);
    assert_int_equal(evsig_waitpid(loop, b, &status, WNOHANG), b);   /* young */
    assert_exited(status, 32);
}

static void test_a_result_younger_than_the_ttl_is_kept(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct exit_rec ra = { 0 }, rb = { 0 };
    int status = -1;
    pid_t a, b;

    (void)unused;
    /* The default TTL, EVSIG_RESULT_TTL (60 s), after the same steps as
     * above: a mere exit does not drop other results. */
    a = watch_exiting(loop, rec_cb, &ra, 0, NULL, 33);
    assert_true(TU_RUN_UNTIL(loop, ra.calls > 0, 5.0));
    assert_false(TU_RUN_UNTIL(loop, false, 0.3));
    b = watch_exiting(loop, rec_cb, &rb, 0, NULL, 34);
    assert_true(TU_RUN_UNTIL(loop, rb.calls > 0, 5.0));
    assert_int_equal(evsig_waitpid(loop, a, &status, WNOHANG), a);
    assert_exited(status, 33);
    assert_int_equal(evsig_waitpid(loop, b, &status, WNOHANG), b);
    assert_exited(status, 34);
}

static void test_waitpid_minus_one_wnohang_reports_an_exit_the_loop_has_not_processed(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct exit_rec rec = { 0 };
    struct chld_log log = { 0 };
    struct gate *g = gate_new(), *g2 = gate_new();
    int status = -1;
    pid_t pid, other;

    (void)unused;
    assert_succeeds(evsig_signal(loop, SIGCHLD, chld_handler, &log, NULL));
    pid = watch_exiting(loop, rec_cb, &rec, 0, g, 36);
    other = watch_exiting(loop, NULL, NULL, 0, g2, 37);
    gate_open(g);
    wait_zombie(pid);
    assert_int_equal(rec.calls, 0);
    assert_int_equal(evsig_waitpid(loop, -1, &status, WNOHANG), pid);
    assert_exited(status, 36);
    assert_int_equal(rec.calls, 1);
    assert_int_equal(log.calls, 1);
    assert_int_equal(evsig_waitpid(loop, -1, &status, WNOHANG), 0);
    gate_open(g2);
    assert_int_equal(evsig_waitpid(loop, -1, &status, 0), other);
    assert_exited(status, 37);
}

static void test_a_result_is_handed_out_once_whichever_path_collects_it(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct exit_rec ra = { 0 }, rb = { 0 };
    int status = -1;
    pid_t a, b;

    (void)unused;
    a = watch_exiting(loop, rec_cb, &ra, 0, NULL, 38);
    assert_true(TU_RUN_UNTIL(loop, ra.calls > 0, 5.0));
    b = watch_exiting(loop, rec_cb, &rb, 0, NULL, 39);
    assert_true(TU_RUN_UNTIL(loop, rb.calls > 0, 5.0));

    /* b by pid, then a through -1: -1 must not hand b out again. */
    assert_int_equal(evsig_waitpid(loop, b, &status, 0), b);
    assert_exited(status, 39);
    assert_int_equal(evsig_waitpid(loop, -1, &status, WNOHANG), a);
    assert_exited(status, 38);
    assert_fails_with(evsig_waitpid(loop, -1, &status, WNOHANG), ECHILD);
    assert_fails_with(evsig_waitpid(loop, a, &status, WNOHANG), ECHILD);
    assert_fails_with(evsig_waitpid(loop, b, &status, WNOHANG), ECHILD);
    assert_fails_with(evsig_waitpid_timeout(loop, a, &status, 0.), ECHILD);
}

/* Collects @data (a pid) from inside another child's callback. */
struct nested {
    struct ev_loop *loop;
    struct gate    *gate;
    pid_t           target;
    pid_t           got;
    int             status;
    int             calls;
    pid_t           forked;
    struct exit_rec forked_rec;
};

static void nested_cb(struct ev_loop *loop, pid_t pid, int status, void *data)
{
    struct nested *n = data;

    (void)pid;
    (void)status;
    n->calls++;
    /* Re-enter the loop: wait for a child that exits only later. */
    gate_open(n->gate);
    n->got = evsig_waitpid(loop, n->target, &n->status, 0);
    /* And fork-and-watch from a callback. */
    n->forked = evsig_fork_and_watch(loop, rec_cb, &n->forked_rec, 0);
    if (n->forked == 0) {
        child_begin(NULL);
        _exit(42);
    }
}

static void test_waitpid_and_fork_and_watch_work_from_inside_a_child_callback(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct nested n = { 0 };
    struct exit_rec rt = { 0 };
    struct gate *g = gate_new();
    int status = -1;
    pid_t first;

    (void)unused;
    n.loop = loop;
    n.gate = g;
    n.target = assert_succeeds(evsig_fork_and_watch(loop, rec_cb, &rt, 0));
    if (n.target == 0) {
        child_begin(g);
        child_wait_gate(g);
        _exit(40);
    }
    first = watch_exiting(loop, nested_cb, &n, 0, NULL, 41);
    assert_true(TU_RUN_UNTIL(loop, n.calls > 0 && n.forked_rec.calls > 0, 10.0));
    assert_int_equal(n.calls, 1);
    assert_int_equal(n.got, n.target);
    assert_exited(n.status, 40);
    assert_int_equal(rt.calls, 1);   /* its callback ran inside the wait */
    assert_true(n.forked > 0);
    assert_int_equal(n.forked_rec.pid, n.forked);
    assert_exited(n.forked_rec.status, 42);
    assert_int_equal(evsig_waitpid(loop, first, &status, WNOHANG), first);
    assert_exited(status, 41);
    assert_int_equal(evsig_waitpid(loop, n.forked, &status, WNOHANG), n.forked);
    assert_fails_with(evsig_waitpid(loop, -1, &status, WNOHANG), ECHILD);
}

/* /proc/<pid>/stat's state letter, '?' if unreadable. */
static char proc_state(pid_t pid)
{
    char path[64], buf[512], *p, state = '?';
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    if (!(f = fopen(path, "re")))
        return '?';
    if (fgets(buf, sizeof(buf), f) && (p = strrchr(buf, ')')))
        sscanf(p + 1, " %c", &state);
    fclose(f);
    return state;
}

static void test_a_stopped_and_continued_child_is_reported_once_at_its_exit(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct exit_rec rec = { 0 };
    struct chld_log log = { 0 };
    struct gate *g = gate_new();
    int status = -1;
    pid_t pid;

    (void)unused;
    assert_succeeds(evsig_signal(loop, SIGCHLD, chld_handler, &log, NULL));
    pid = watch_exiting(loop, rec_cb, &rec, 0, g, 43);
    assert_succeeds(evsig_kill(loop, pid, SIGSTOP));
    assert_true(TU_RUN_UNTIL(loop, proc_state(pid) == 'T', 5.0));
    assert_false(TU_RUN_UNTIL(loop, rec.calls || log.calls, 0.1));
    assert_int_equal(evsig_waitpid(loop, pid, &status, WNOHANG), 0);
    assert_succeeds(evsig_kill(loop, pid, SIGCONT));
    assert_true(TU_RUN_UNTIL(loop, proc_state(pid) != 'T', 5.0));
    assert_false(TU_RUN_UNTIL(loop, rec.calls || log.calls, 0.1));

    gate_open(g);
    assert_int_equal(evsig_waitpid(loop, pid, &status, 0), pid);
    assert_exited(status, 43);
    assert_int_equal(rec.calls, 1);
    assert_int_equal(log.calls, 1);
    assert_int_equal(log.info[0].code, CLD_EXITED);
}

static void test_watching_a_watched_child_again_replaces_its_callback_and_flags(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct exit_rec r1 = { 0 }, r2 = { 0 };
    struct gate *g = gate_new();
    int status = -1;
    double took;
    pid_t pid;

    (void)unused;
    pid = watch_exiting(loop, rec_cb, &r1, 0, g, 44);
    assert_succeeds(evsig_child_watch(loop, pid, rec_cb, &r2, EVSIG_NOREF));
    took = run_bounded(loop, 3.0);   /* the NOREF took the reference away */
    assert_true(took >= 0 && took < 1.0);

    assert_succeeds(evsig_child_watch(loop, pid, rec_cb, &r2, EVSIG_NOREF));
    gate_open(g);
    assert_true(TU_RUN_UNTIL(loop, r2.calls > 0, 5.0));
    assert_false(TU_RUN_UNTIL(loop, r1.calls > 0 || r2.calls > 1, 0.1));
    assert_int_equal(r1.calls, 0);
    assert_int_equal(r2.calls, 1);
    assert_exited(r2.status, 44);
    assert_int_equal(evsig_waitpid(loop, pid, &status, WNOHANG), pid);
}

static void test_results_are_kept_from_the_first_evsig_signal_sigchld_on(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    int status = -1;
    pid_t pid;

    (void)unused;
    SKIP_UNLESS_BACKEND(EVSIG_CHILD_LIBEV, "nobody reaps an unwatched child, "
                        "so its status is never lost to libev");
    assert_succeeds(evsig_signal(NULL, SIGCHLD, EVSIG_IGN, NULL, NULL));
    pid = tu_fork(raw_exit_main, (void *)(intptr_t)45);
    assert_true(TU_RUN_UNTIL(loop, gone(pid), 5.0));
    assert_int_equal(evsig_waitpid(loop, pid, &status, 0), pid);
    assert_exited(status, 45);
}

static void test_unwatch_after_a_late_watch_cancels_its_report(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct exit_rec rec = { 0 };
    int status = -1;
    pid_t pid;

    (void)unused;
    start_keeping_results(loop);
    pid = tu_fork(raw_exit_main, (void *)(intptr_t)46);
    let_the_loop_meet_an_unwatched_exit(loop, pid);
    assert_succeeds(evsig_child_watch(loop, pid, rec_cb, &rec, 0));
    /* Watched now, so it can be unwatched, and then "its callback will
     * not run" (evsig.h); its result stays collectable. */
    assert_succeeds(evsig_child_unwatch(loop, pid));
    assert_false(TU_RUN_UNTIL(loop, rec.calls > 0, 0.1));
    assert_int_equal(evsig_waitpid(loop, pid, &status, WNOHANG), pid);
    assert_exited(status, 46);
}

/* ======================================================================== *
 * The backend: AUTO, the environment, evsig_set_child_backend()
 * ======================================================================== */

static const char *backend_name(int backend)
{
    return backend == EVSIG_CHILD_PIDFD ? "PIDFD"
         : backend == EVSIG_CHILD_LIBEV ? "LIBEV" : "?";
}

/* Whether this kernel (and no filter) gives pidfds: AUTO's probe, made
 * without evsig. */
static bool kernel_gives_pidfds(void)
{
    int fd = (int)syscall(SYS_pidfd_open, getpid(), 0);

    if (fd < 0)
        return false;
    close(fd);
    return true;
}

/* The backend AUTO picks here, as DESIGN.md §3.3 says: the environment's
 * choice if EVSIG_CHILD_BACKEND is set, else PIDFD wherever pidfds work. */
static int auto_pick(void)
{
    const char *env = getenv("EVSIG_CHILD_BACKEND");

    if (env && strcmp(env, "libev") == 0)
        return EVSIG_CHILD_LIBEV;
    if (env && strcmp(env, "pidfd") == 0)
        return EVSIG_CHILD_PIDFD;
    return kernel_gives_pidfds() ? EVSIG_CHILD_PIDFD : EVSIG_CHILD_LIBEV;
}

/* The backend this run does not use; skips where the kernel cannot give
 * it (PIDFD without pidfds). */
static int the_other_backend(int now)
{
    if (now == EVSIG_CHILD_PIDFD)
        return EVSIG_CHILD_LIBEV;
    if (!kernel_gives_pidfds()) {
        print_message("    no pidfds on this kernel: skipped\n");
        skip();
    }
    return EVSIG_CHILD_PIDFD;
}

static void test_the_backend_in_use_is_the_one_the_environment_or_auto_picks(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    const char *env = getenv("EVSIG_CHILD_BACKEND");
    int want = auto_pick(), status = -1;
    pid_t pid;

    (void)unused;
    print_message("    EVSIG_CHILD_BACKEND=%s: %s expected\n",
                  env ? env : "(unset)", backend_name(want));
    assert_int_equal(evsig_child_backend(), want);
    /* Asking for the backend in use changes nothing. */
    assert_succeeds(evsig_set_child_backend(want));
    assert_int_equal(evsig_child_backend(), want);
    pid = watch_exiting(loop, NULL, NULL, 0, NULL, 1);
    assert_int_equal(evsig_child_backend(), want);
    assert_int_equal(evsig_waitpid(loop, pid, &status, 0), pid);
    assert_exited(status, 1);
    assert_int_equal(evsig_child_backend(), want);
}

static void test_set_child_backend_rejects_unknown_backends_with_einval_and_changes_nothing(void **unused)
{
    static const int bad[] = { -1, 3, 4, 42, INT_MAX, INT_MIN };
    int now = child_backend();

    (void)unused;
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        assert_fails_with(evsig_set_child_backend(bad[i]), EINVAL);
        assert_int_equal(evsig_child_backend(), now);
    }
    /* AUTO is a choice too: nothing was chosen, so it is this one. */
    assert_succeeds(evsig_set_child_backend(EVSIG_CHILD_AUTO));
    assert_int_equal(evsig_child_backend(), now);
}

static void test_set_child_backend_is_ebusy_from_the_first_watch_on_but_zero_for_the_backend_in_use(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct exit_rec rec = { 0 };
    struct gate *g = gate_new();
    int now = child_backend(), other = the_other_backend(now), status = -1;
    pid_t pid;

    (void)unused;
    pid = watch_exiting(loop, rec_cb, &rec, 0, g, 2);
    assert_fails_with(evsig_set_child_backend(other), EBUSY);
    assert_succeeds(evsig_set_child_backend(now));
    assert_int_equal(evsig_child_backend(), now);
    assert_fails_with(evsig_set_child_backend(42), EINVAL);   /* input first */

    /* The child is still watched by the backend that took it. */
    gate_open(g);
    assert_int_equal(evsig_waitpid(loop, pid, &status, 0), pid);
    assert_exited(status, 2);
    assert_int_equal(rec.calls, 1);
    /* No child is watched now, but the choice was made: until
     * evsig_reset(), it stays. */
    assert_fails_with(evsig_set_child_backend(other), EBUSY);
    assert_int_equal(evsig_child_backend(), now);
}

static void test_set_child_backend_is_free_again_after_reset(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct exit_rec rec = { 0 };
    int now = child_backend(), other = the_other_backend(now), status = -1;
    pid_t pid;

    (void)unused;
    pid = watch_exiting(loop, NULL, NULL, 0, NULL, 3);
    assert_int_equal(evsig_waitpid(loop, pid, &status, 0), pid);
    assert_succeeds(evsig_reset());

    assert_succeeds(evsig_set_child_backend(other));
    assert_int_equal(evsig_child_backend(), other);
    pid = watch_exiting(loop, rec_cb, &rec, 0, NULL, 4);
    assert_true(TU_RUN_UNTIL(loop, rec.calls > 0, 5.0));
    assert_exited(rec.status, 4);
    assert_int_equal(evsig_waitpid(loop, pid, &status, WNOHANG), pid);
    assert_fails_with(evsig_set_child_backend(now), EBUSY);

    /* Reset: AUTO again, the environment's or the kernel's pick. */
    assert_succeeds(evsig_reset());
    assert_int_equal(evsig_child_backend(), now);
}

static void test_set_child_backend_is_free_again_in_the_child_of_evsig_fork(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct exit_rec ra = { 0 };
    struct gate *g = gate_new();
    int now = child_backend(), other = the_other_backend(now), status = -1;
    pid_t a, c;

    (void)unused;
    a = watch_exiting(loop, rec_cb, &ra, 0, g, 5);
    assert_fails_with(evsig_set_child_backend(other), EBUSY);
    c = assert_succeeds(evsig_fork(loop));
    if (c == 0) {
        pid_t d;
        int st = -1;

        child_begin(NULL);
        TU_CHILD_CHECK(evsig_set_child_backend(other) == 0);
        TU_CHILD_CHECK(evsig_child_backend() == other);
        d = evsig_fork_and_watch(loop, NULL, NULL, 0);
        if (d == 0)
            _exit(6);
        TU_CHILD_CHECK(d > 0);
        TU_CHILD_CHECK(evsig_waitpid(loop, d, &st, 0) == d);
        TU_CHILD_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 6);
        errno = 0;
        TU_CHILD_CHECK(evsig_set_child_backend(now) == -1 && errno == EBUSY);
        _exit(0);
    }
    assert_int_equal(evsig_waitpid_timeout(loop, c, &status, 10.0), c);
    assert_exited(status, 0);
    /* The parent's choice stands. */
    assert_int_equal(evsig_child_backend(), now);
    assert_fails_with(evsig_set_child_backend(other), EBUSY);
    gate_open(g);
    assert_int_equal(evsig_waitpid(loop, a, &status, 0), a);
    assert_exited(status, 5);
    assert_int_equal(ra.calls, 1);
}

/* test-child-wait-h.c: WEXITSTATUS() or 1000 + WTERMSIG() of @status,
 * decoded in a file that includes nothing but evsig.h; -1, -2: see there. */
int evsig_h_wait_decode(int status);

static void test_evsig_h_brings_sys_wait_h_for_the_statuses_it_hands_out(void **unused)
{
    int r = evsig_h_wait_decode(W_EXITCODE(3, 0));

    (void)unused;
    if (r == -1)
        fail_msg("a file including only evsig.h has no WIFEXITED(): "
                 "evsig.h must include <sys/wait.h>");
    if (r == -2)
        fail_msg("evsig.h brings the W*() macros but not waitpid()/waitid(): "
                 "it must include <sys/wait.h>");
    assert_int_equal(r, 3);
    assert_int_equal(evsig_h_wait_decode(W_EXITCODE(0, SIGTERM)), 1000 + SIGTERM);
}

/* ======================================================================== *
 * Rules of the second version, with either backend
 * ======================================================================== */

/* The first version answered 0: with SIGCHLD blocked, libev never learnt
 * of the exit, and evsig asked only libev. */
static void test_waitpid_wnohang_finds_a_watched_zombie_while_sigchld_is_blocked(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct exit_rec ra = { 0 }, rb = { 0 };
    struct gate *ga = gate_new(), *gb = gate_new();
    int status = -1;
    pid_t a, b;

    (void)unused;
    a = watch_exiting(loop, rec_cb, &ra, 0, ga, 56);
    b = watch_exiting(loop, rec_cb, &rb, 0, gb, 57);
    tu_sigmask(SIG_BLOCK, SIGCHLD);

    gate_open(ga);
    wait_zombie(a);
    assert_int_equal(evsig_waitpid(loop, -1, &status, WNOHANG), a);
    assert_exited(status, 56);
    assert_int_equal(ra.calls, 1);   /* its callback ran first */

    gate_open(gb);
    wait_zombie(b);
    assert_int_equal(evsig_waitpid(loop, b, &status, WNOHANG), b);
    assert_exited(status, 57);
    assert_int_equal(rb.calls, 1);

    tu_sigmask(SIG_UNBLOCK, SIGCHLD);   /* the pending SIGCHLD arrives */
    assert_false(TU_RUN_UNTIL(loop, ra.calls > 1 || rb.calls > 1, 0.1));
    assert_fails_with(evsig_waitpid(loop, -1, &status, WNOHANG), ECHILD);
}

/* The SIGCHLD came while nobody watched the child; the loop had not run.
 * Under PIDFD that SIGCHLD would be an unwatched child's table call, but
 * "a child watched after its exit is reported only through its watch":
 * one callback, one table call, as under LIBEV. */
static void test_a_watch_of_a_child_that_already_exited_reports_it_once_on_the_loop(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct exit_rec rec = { 0 };
    struct chld_log log = { 0 };
    const evsig_info *info;
    int status = -1, hseq = 0;
    pid_t pid;

    (void)unused;
    assert_succeeds(evsig_signal(loop, SIGCHLD, chld_handler, &log, NULL));
    pid = tu_fork(raw_exit_main, (void *)(intptr_t)58);
    wait_zombie(pid);
    assert_succeeds(evsig_child_watch(loop, pid, rec_cb, &rec, 0));
    assert_int_equal(rec.calls, 0);   /* not from inside the call */
    assert_int_equal(log.calls, 0);

    assert_true(TU_RUN_UNTIL(loop, rec.calls > 0 && log.calls > 0, 5.0));
    assert_false(TU_RUN_UNTIL(loop, rec.calls > 1 || log.calls > 1, 0.1));
    assert_int_equal(rec.calls, 1);
    assert_int_equal(rec.pid, pid);
    assert_exited(rec.status, 58);
    assert_int_equal(log.calls, 1);
    info = chld_find(&log, pid, &hseq);
    assert_non_null(info);
    assert_int_equal(info->code, CLD_EXITED);
    assert_int_equal(info->status, rec.status);
    assert_true(rec.seq < hseq);
    assert_int_equal(evsig_waitpid(loop, pid, &status, WNOHANG), pid);
    assert_exited(status, 58);
    assert_fails_with(evsig_waitpid(loop, pid, &status, WNOHANG), ECHILD);
}

struct self_unwatch {
    struct exit_rec rec;
    int             ret;
    int             err;
};

/* A child callback that unwatches its own child. */
static void self_unwatch_cb(struct ev_loop *loop, pid_t pid, int status,
                            void *data)
{
    struct self_unwatch *u = data;

    rec_cb(loop, pid, status, &u->rec);
    errno = 0;
    u->ret = evsig_child_unwatch(loop, pid);
    u->err = errno;
}

static void test_unwatch_is_zero_for_any_pid_evsig_watched_until_reset_and_echild_for_others(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct exit_rec ra = { 0 }, rc = { 0 };
    struct self_unwatch ub = { .ret = 12345 };
    struct gate *ga = gate_new(), *gu = gate_new();
    int status = -1;
    pid_t a, b, c, u;

    (void)unused;
    a = watch_exiting(loop, rec_cb, &ra, 0, ga, 59);             /* runs */
    b = watch_exiting(loop, self_unwatch_cb, &ub, 0, NULL, 60);
    c = watch_exiting(loop, rec_cb, &rc, 0, NULL, 61);
    u = tu_fork(raw_wait_gate_main, gu);                       /* never watched */

    assert_succeeds(evsig_child_unwatch(loop, a));
    assert_succeeds(evsig_child_unwatch(loop, a));
    assert_true(TU_RUN_UNTIL(loop, ub.rec.calls > 0 && rc.calls > 0, 5.0));
    if (ub.ret != 0)
        fail_msg("evsig_child_unwatch() from its own child's callback: %d (%s)",
                 ub.ret, tu_errname(ub.err));
    assert_succeeds(evsig_child_unwatch(loop, b));   /* after that, and its report */
    assert_succeeds(evsig_child_unwatch(loop, c));   /* after its report */
    /* Unwatching an exited child takes its kept result from nobody. */
    assert_int_equal(evsig_waitpid(loop, b, &status, WNOHANG), b);
    assert_exited(status, 60);
    assert_int_equal(evsig_waitpid(loop, c, &status, WNOHANG), c);
    assert_exited(status, 61);
    assert_succeeds(evsig_child_unwatch(loop, c));   /* after its collection */

    assert_fails_with(evsig_child_unwatch(loop, u), ECHILD);
    assert_fails_with(evsig_child_unwatch(loop, 1), ECHILD);

    /* a, unwatched while it ran: LIBEV reaps it and keeps its result,
     * PIDFD leaves it to whoever waits for it; either way this gets it. */
    gate_open(ga);
    assert_int_equal(evsig_waitpid_timeout(loop, a, &status, 5.0), a);
    assert_exited(status, 59);
    assert_int_equal(ra.calls, 0);
    assert_succeeds(evsig_child_unwatch(loop, a));
    gate_open(gu);
    assert_int_equal(evsig_waitpid_timeout(loop, u, &status, 5.0), u);
    assert_fails_with(evsig_child_unwatch(loop, u), ECHILD);

    /* Forgotten at the reset. */
    assert_succeeds(evsig_reset());
    assert_fails_with(evsig_child_unwatch(loop, a), ECHILD);
    assert_fails_with(evsig_child_unwatch(loop, b), ECHILD);
    assert_fails_with(evsig_child_unwatch(loop, c), ECHILD);
}

static void test_kill_of_a_watched_child_that_exited_but_was_not_reaped_works_then_esrch(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct exit_rec rec = { 0 };
    struct gate *g = gate_new();
    int status = -1;
    pid_t pid;

    (void)unused;
    pid = watch_exiting(loop, rec_cb, &rec, 0, g, 50);
    gate_open(g);
    wait_zombie(pid);   /* the loop has not run: evsig has not reaped it */
    assert_succeeds(evsig_kill(loop, pid, 0));
    assert_succeeds(evsig_kill(loop, pid, SIGTERM));   /* a zombie: harmless */
    assert_int_equal(rec.calls, 0);

    assert_true(TU_RUN_UNTIL(loop, rec.calls > 0, 5.0));
    assert_exited(rec.status, 50);
    assert_fails_with(evsig_kill(loop, pid, 0), ESRCH);
    assert_fails_with(evsig_kill(loop, pid, SIGTERM), ESRCH);
    assert_int_equal(evsig_waitpid(loop, pid, &status, WNOHANG), pid);
    assert_exited(status, 50);
}

/* --- at the fd limit ----------------------------------------------------- */

#define FDLIM_KIDS  64
#define FDLIM_SLACK 4   /* fds left under the limit: evsig's epoll set, a few pidfds */
/* (The placeholders filling the holes stay open until the child exits.) */

/* The highest open fd number, -1 if /proc cannot be read. No cmocka. */
static int highest_fd(void)
{
    DIR *dir = opendir("/proc/self/fd");
    struct dirent *de;
    int max = -1;

    if (!dir)
        return -1;
    while ((de = readdir(dir))) {
        int fd = atoi(de->d_name);

        if (de->d_name[0] >= '0' && de->d_name[0] <= '9' &&
            fd != dirfd(dir) && fd > max)
            max = fd;
    }
    closedir(dir);
    return max;
}

static struct exit_rec fdlim_rec[FDLIM_KIDS];

static bool fdlim_all_reported(void *arg)
{
    (void)arg;
    for (int i = 0; i < FDLIM_KIDS; i++)
        if (fdlim_rec[i].calls == 0)
            return false;
    return true;
}

/* In the child of evsig_fork(): RLIMIT_NOFILE just above the fds in use,
 * then many children, each reported once with its status. */
static void fd_limit_main(struct ev_loop *loop, int backend)
{
    struct rlimit old, low;
    bool seen[FDLIM_KIDS] = { false };
    pid_t kid[FDLIM_KIDS];
    int gate[2], spare[2], st, pidfds, top;

    memset(fdlim_rec, 0, sizeof(fdlim_rec));
    TU_CHILD_CHECK(pipe2(gate, O_CLOEXEC) == 0);
    /* Two fds to give back for counting pidfds at the limit. */
    TU_CHILD_CHECK((spare[0] = fcntl(gate[0], F_DUPFD_CLOEXEC, 0)) >= 0);
    TU_CHILD_CHECK((spare[1] = fcntl(gate[0], F_DUPFD_CLOEXEC, 0)) >= 0);
    ev_run(loop, EVRUN_NOWAIT);   /* libev reopens its fds after a fork */
    TU_CHILD_CHECK((top = highest_fd()) >= 0);
    /* Fill the free numbers below the highest fd (RLIMIT_NOFILE bounds fd
     * numbers, not their count), so that exactly FDLIM_SLACK are left. */
    for (;;) {
        int fd = fcntl(gate[0], F_DUPFD_CLOEXEC, 0);

        TU_CHILD_CHECK(fd >= 0);
        if (fd > top) {
            close(fd);
            break;
        }
    }
    TU_CHILD_CHECK(getrlimit(RLIMIT_NOFILE, &old) == 0);
    low = old;
    low.rlim_cur = (rlim_t)top + 1 + FDLIM_SLACK;
    TU_CHILD_CHECK(setrlimit(RLIMIT_NOFILE, &low) == 0);

    for (int i = 0; i < FDLIM_KIDS; i++) {
        kid[i] = evsig_fork_and_watch(loop, rec_cb, &fdlim_rec[i], 0);
        if (kid[i] == 0) {
            char c;

            close(gate[1]);
            while (read(gate[0], &c, 1) < 0 && errno == EINTR)
                ;
            _exit(i);
        }
        if (kid[i] < 0)
            dprintf(STDERR_FILENO, "fork %d at the fd limit: %s\n", i,
                    tu_errname(errno));
        TU_CHILD_CHECK(kid[i] > 0);   /* never fails for want of a pidfd */
    }
    close(spare[0]);
    close(spare[1]);
    pidfds = count_pidfds();
    TU_CHILD_CHECK(pidfds >= 0);
    /* Else the limit was not reached and this tested nothing. */
    if (backend == EVSIG_CHILD_PIDFD)
        TU_CHILD_CHECK(pidfds < FDLIM_KIDS);

    close(gate[1]);   /* all exit at once */
    TU_CHILD_CHECK(tu_run_until(loop, fdlim_all_reported, NULL, 20.0));
    TU_CHILD_CHECK(!TU_RUN_UNTIL(loop, false, 0.1));
    for (int i = 0; i < FDLIM_KIDS; i++) {
        TU_CHILD_CHECK(fdlim_rec[i].calls == 1);
        TU_CHILD_CHECK(fdlim_rec[i].pid == kid[i]);
        TU_CHILD_CHECK(WIFEXITED(fdlim_rec[i].status) &&
                       WEXITSTATUS(fdlim_rec[i].status) == i);
    }
    for (int n = 0; n < FDLIM_KIDS; n++) {
        pid_t r = evsig_waitpid(loop, -1, &st, WNOHANG);
        int i = 0;

        while (i < FDLIM_KIDS && kid[i] != r)
            i++;
        TU_CHILD_CHECK(i < FDLIM_KIDS && !seen[i]);
        TU_CHILD_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == i);
        seen[i] = true;
    }
    errno = 0;
    TU_CHILD_CHECK(evsig_waitpid(loop, -1, &st, WNOHANG) == -1 && errno == ECHILD);
    TU_CHILD_CHECK(setrlimit(RLIMIT_NOFILE, &old) == 0);
    TU_CHILD_CHECK(tu_count_children() == 0);
    TU_CHILD_CHECK(count_pidfds() == 0);
}

/* In a child process, so that the test runner's limit is untouched. */
static void test_children_forked_at_the_fd_limit_are_each_reported_once_and_no_fork_fails(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    int backend = child_backend(), status = -1;
    pid_t c;

    (void)unused;
    if (getenv("EVSIG_TEST_VALGRIND")) {
        print_message("    valgrind keeps fds near the limit: skipped\n");
        skip();
    }
    c = assert_succeeds(evsig_fork(loop));
    if (c == 0) {
        child_begin(NULL);
        fd_limit_main(loop, backend);
        _exit(0);
    }
    assert_int_equal(evsig_waitpid_timeout(loop, c, &status, 40.0), c);
    assert_exited(status, 0);
}

/* --- what the children of evsig_fork*() inherit ------------------------- */

/* In a child: its pidfd count as an exit code (98: /proc unreadable). */
static int pidfds_as_exit_code(void)
{
    int n = count_pidfds();

    return n < 0 ? 98 : n > 90 ? 90 : n;
}

/* The child of evsig_fork() drops what it inherited of the parent's
 * children without freeing it (that would copy the parent's pages), and
 * keeps it referenced: a child that uses evsig and leaves through exit()
 * has no leak for LeakSanitizer (under ASan an unreachable block makes it
 * exit 23). It once did: the prefork server's workers leaked 192 bytes. */
static void test_a_child_of_evsig_fork_that_uses_evsig_and_exits_leaks_nothing(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct gate *g = gate_new();
    int status = -1;
    pid_t kid[4], c;

    (void)unused;
    for (int i = 0; i < 4; i++)
        kid[i] = watch_exiting(loop, NULL, NULL, 0, g, 63);
    c = assert_succeeds(evsig_fork(loop));
    if (c == 0) {
        pid_t grandchild;

        child_begin(NULL);
        grandchild = evsig_fork_and_watch(loop, NULL, NULL, 0);
        if (grandchild == 0)
            _exit(0);
        TU_CHILD_CHECK(grandchild > 0);
        TU_CHILD_CHECK(evsig_waitpid(loop, grandchild, NULL, 0) == grandchild);
        exit(0);   /* atexit: LeakSanitizer's check, under ASan */
    }
    assert_int_equal(evsig_waitpid_timeout(loop, c, &status, 20.0), c);
    assert_exited(status, 0);
    gate_open(g);
    for (int i = 0; i < 4; i++)
        assert_int_equal(evsig_waitpid_timeout(loop, kid[i], &status, 5.0), kid[i]);
}

static void test_children_of_evsig_fork_inherit_none_of_the_parents_pidfds(void **unused)
{
    enum { N = 8 };
    struct ev_loop *loop = tu_default_loop();
    struct exit_rec r1 = { 0 }, r2 = { 0 };
    struct gate *g = gate_new();
    int master = -1, status = -1;
    pid_t kid[N], c0, c1, c2;

    (void)unused;
    for (int i = 0; i < N; i++)
        kid[i] = watch_exiting(loop, NULL, NULL, 0, g, 62);
    /* One pidfd per watched child (else this test would prove nothing). */
    if (child_backend() == EVSIG_CHILD_PIDFD)
        assert_true(count_pidfds() >= N);

    c0 = assert_succeeds(evsig_fork(loop));
    if (c0 == 0) {
        child_begin(NULL);
        _exit(pidfds_as_exit_code());
    }
    c1 = assert_succeeds(evsig_fork_and_watch(loop, rec_cb, &r1, 0));
    if (c1 == 0) {
        child_begin(NULL);
        _exit(pidfds_as_exit_code());
    }
    c2 = assert_succeeds(evsig_forkpty_and_watch(loop, &master, rec_cb, &r2, 0));
    if (c2 == 0) {
        child_begin(NULL);
        _exit(pidfds_as_exit_code());
    }
    assert_int_equal(evsig_waitpid_timeout(loop, c0, &status, 10.0), c0);
    assert_exited(status, 0);
    assert_int_equal(evsig_waitpid_timeout(loop, c1, &status, 10.0), c1);
    assert_exited(status, 0);
    assert_int_equal(evsig_waitpid_timeout(loop, c2, &status, 10.0), c2);
    assert_exited(status, 0);
    close(master);

    gate_open(g);
    for (int i = 0; i < N; i++) {
        assert_int_equal(evsig_waitpid_timeout(loop, kid[i], &status, 5.0), kid[i]);
        assert_exited(status, 62);
    }
}

/* In a child of plain fork(): open fds until they fill the numbers the
 * parent's pidfds had, fork again, and see them all still open in the
 * grandchild (the atfork handler closes the pidfds only in the child of
 * the process that opened them, never the child's own fds after that). */
static int plain_child_main(void)
{
    enum { NFD = 24 };
    int fds[NFD], status = -1, n = count_pidfds();
    pid_t g;

    if (n != 0)
        return n < 0 ? 98 : 10 + (n > 40 ? 40 : n);
    for (int i = 0; i < NFD; i++)
        if ((fds[i] = open("/dev/null", O_RDONLY)) < 0)
            return 97;
    g = fork();
    if (g == 0) {
        for (int i = 0; i < NFD; i++)
            if (fcntl(fds[i], F_GETFD) < 0)
                _exit(1);
        _exit(0);
    }
    if (g < 0 || waitpid(g, &status, 0) != g)
        return 96;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 2;
}

static void test_children_of_plain_fork_inherit_no_pidfds_and_keep_their_own_fds_in_their_forks(void **unused)
{
    enum { N = 8 };
    struct ev_loop *loop = tu_default_loop();
    struct gate *g = gate_new();
    int status = -1;
    pid_t kid[N], c;

    (void)unused;
    for (int i = 0; i < N; i++)
        kid[i] = watch_exiting(loop, NULL, NULL, 0, g, 61);
    if (child_backend() == EVSIG_CHILD_PIDFD)
        assert_true(count_pidfds() >= N);

    c = fork();
    assert_true(c >= 0);
    if (c == 0) {
        child_begin(NULL);
        _exit(plain_child_main());
    }
    assert_int_equal(evsig_waitpid_timeout(loop, c, &status, 10.0), c);
    assert_exited(status, 0);

    gate_open(g);
    for (int i = 0; i < N; i++) {
        assert_int_equal(evsig_waitpid_timeout(loop, kid[i], &status, 5.0), kid[i]);
        assert_exited(status, 61);
    }
}

/* --- evsig_fork(): an early SIGTERM, forkpty's master -------------------- */

static volatile sig_atomic_t got_term;

static void term_flag(int sig)
{
    (void)sig;
    got_term = 1;
}

/* The pattern evsig.h documents: block SIGTERM around evsig_fork(), set
 * the child's handler, then unblock. A SIGTERM sent before the handler was
 * set waits for it. */
static void test_a_sigterm_sent_before_the_childs_handler_is_set_reaches_it_when_the_caller_blocked_it(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct gate *g = gate_new();
    sigset_t term = tu_sigset(SIGTERM, 0), before;
    int status = -1;
    pid_t c;

    (void)unused;
    assert_int_equal(pthread_sigmask(SIG_BLOCK, &term, &before), 0);
    c = assert_succeeds(evsig_fork(loop));
    if (c == 0) {
        struct sigaction sa;
        sigset_t mask, want = before, pending;

        child_begin(g);
        /* The caller's mask, not the all-blocked one of the fork. */
        sigaddset(&want, SIGTERM);
        TU_CHILD_CHECK(pthread_sigmask(SIG_SETMASK, NULL, &mask) == 0);
        TU_CHILD_CHECK(tu_same_sigset(&mask, &want));
        child_wait_gate(g);   /* the parent's SIGTERM was sent by now */
        TU_CHILD_CHECK(sigpending(&pending) == 0);
        TU_CHILD_CHECK(sigismember(&pending, SIGTERM) == 1);
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = term_flag;
        sigemptyset(&sa.sa_mask);
        TU_CHILD_CHECK(sigaction(SIGTERM, &sa, NULL) == 0);
        TU_CHILD_CHECK(pthread_sigmask(SIG_UNBLOCK, &term, NULL) == 0);
        _exit(got_term ? 0 : 3);
    }
    assert_int_equal(pthread_sigmask(SIG_SETMASK, &before, NULL), 0);
    assert_succeeds(kill(c, SIGTERM));
    gate_open(g);
    assert_int_equal(evsig_waitpid_timeout(loop, c, &status, 10.0), c);
    assert_exited(status, 0);
}

/*
 * In the child of evsig_forkpty_and_watch(), first thing: find the
 * parent's master (its fd linked to ptmx) and read its flags. 0 if it was
 * close-on-exec already, 12 if not, 13 if the child holds a copy of it,
 * 10/11 if /proc or the master cannot be found.
 */
static int check_parents_master(void)
{
    char dir[64], path[384], link[64], line[128];
    pid_t ppid = getppid();
    long flags = -1;
    struct dirent *de;
    int master = -1;
    ssize_t n;
    FILE *f;
    DIR *d;

    snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)ppid);
    if (!(d = opendir(dir)))
        return 10;
    while ((de = readdir(d))) {
        if (de->d_name[0] < '0' || de->d_name[0] > '9')
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        n = readlink(path, link, sizeof(link) - 1);
        if (n <= 0)
            continue;
        link[n] = '\0';
        if (strstr(link, "ptmx")) {
            master = atoi(de->d_name);
            break;
        }
    }
    closedir(d);
    if (master < 0)
        return 11;
    snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", (int)ppid, master);
    if (!(f = fopen(path, "re")))
        return 11;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "flags: %lo", &flags) == 1)
            break;
    fclose(f);
    if (flags < 0 || !(flags & O_CLOEXEC))
        return 12;
    snprintf(path, sizeof(path), "/proc/self/fd/%d", master);
    n = readlink(path, link, sizeof(link) - 1);
    if (n > 0) {
        link[n] = '\0';
        if (strstr(link, "ptmx"))
            return 13;
    }
    return 0;
}

/*
 * The master must be close-on-exec before the fork: made so after it, it
 * leaks into whatever another thread fork+execs in between. The child
 * looks at the parent's master as soon as it runs; a parent that sets the
 * flag after fork() is usually faster than that, so this catches such a
 * bug only sometimes: it never fails a correct library.
 */
static void test_forkpty_and_watch_makes_the_master_close_on_exec_before_the_fork_and_the_child_holds_none(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct exit_rec rec = { 0 };
    int master = -1, status = -1;
    pid_t pid;

    (void)unused;
    pid = assert_succeeds(evsig_forkpty_and_watch(loop, &master, rec_cb, &rec, 0));
    if (pid == 0)
        _exit(check_parents_master());   /* first thing */
    assert_true(master >= 0);
    assert_true(fcntl(master, F_GETFD) & FD_CLOEXEC);
    /* The master stays open until the child is gone. */
    assert_int_equal(evsig_waitpid(loop, pid, &status, 0), pid);
    close(master);
    switch (WIFEXITED(status) ? WEXITSTATUS(status) : -1) {
    case 0:
        break;
    case 12:
        fail_msg("the parent's master was not close-on-exec when the child started");
        break;
    case 13:
        fail_msg("the child holds a copy of the master");
        break;
    default:
        fail_msg("the child could not find the parent's master (%d)",
                 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    }
    assert_int_equal(rec.calls, 1);
}

/* --- what each backend documents ----------------------------------------- */

/* PIDFD learns the child's real uid from waitid(); LIBEV reports getuid()
 * and says so. As root the child becomes nobody, so the two differ. */
static void test_the_sigchld_table_call_reports_the_uid_its_backend_documents(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    const uid_t nobody = 65534;
    bool root = geteuid() == 0;
    struct exit_rec rec = { 0 };
    struct chld_log log = { 0 };
    const evsig_info *info;
    uid_t want;
    int status = -1;
    pid_t pid;

    (void)unused;
    want = child_backend() == EVSIG_CHILD_PIDFD && root ? nobody : getuid();
    if (!root)
        print_message("    not root: the child keeps uid %d\n", (int)getuid());
    assert_succeeds(evsig_signal(loop, SIGCHLD, chld_handler, &log, NULL));
    pid = assert_succeeds(evsig_fork_and_watch(loop, rec_cb, &rec, 0));
    if (pid == 0) {
        child_begin(NULL);
        if (root)
            TU_CHILD_CHECK(setuid(nobody) == 0);
        _exit(63);
    }
    assert_true(TU_RUN_UNTIL(loop, log.calls > 0, 5.0));
    info = chld_find(&log, pid, NULL);
    assert_non_null(info);
    assert_exited(info->status, 63);
    assert_int_equal(info->uid, want);
    assert_int_equal(evsig_waitpid(loop, pid, &status, WNOHANG), pid);
}

static void test_child_functions_on_an_ev_loop_new_loop_are_einval_under_libev_and_work_under_pidfd(void **unused)
{
    struct ev_loop *loop = tu_default_loop(), *other = child_new_loop();
    struct exit_rec rec = { 0 }, ru = { 0 };
    struct gate *g = gate_new(), *gu = gate_new();
    int status = -1;
    pid_t pid, u;

    (void)unused;
    u = tu_fork(raw_wait_gate_main, gu);
    if (child_backend() == EVSIG_CHILD_LIBEV) {
        assert_fails_with(evsig_fork(other), EINVAL);
        assert_fails_with(evsig_fork_and_watch(other, rec_cb, &rec, 0), EINVAL);
        assert_fails_with(evsig_child_watch(other, u, rec_cb, &ru, 0), EINVAL);
        assert_fails_with(evsig_waitpid(other, -1, &status, WNOHANG), EINVAL);
        assert_fails_with(evsig_waitpid(other, u, &status, WNOHANG), EINVAL);
        assert_fails_with(evsig_waitpid_timeout(other, u, &status, 0.), EINVAL);
        assert_fails_with(evsig_kill(other, u, 0), EINVAL);
        assert_int_equal(tu_count_children(), 1);   /* nothing forked */
        gate_open(gu);
        assert_int_equal(evsig_waitpid_timeout(loop, u, &status, 5.0), u);
        return;
    }
    pid = watch_exiting(other, rec_cb, &rec, 0, g, 64);
    assert_succeeds(evsig_child_watch(other, u, rec_cb, &ru, 0));
    assert_succeeds(evsig_kill(other, pid, 0));
    gate_open(g);
    gate_open(gu);
    assert_true(TU_RUN_UNTIL(other, rec.calls > 0 && ru.calls > 0, 5.0));
    assert_ptr_equal(rec.loop, other);
    assert_ptr_equal(ru.loop, other);
    assert_exited(rec.status, 64);
    assert_exited(ru.status, 0);
    assert_int_equal(evsig_waitpid(other, pid, &status, WNOHANG), pid);
    assert_int_equal(evsig_waitpid(other, u, &status, WNOHANG), u);
    assert_false(TU_RUN_UNTIL(other, rec.calls > 1 || ru.calls > 1, 0.05));
}

/* A program's own ev_child on the default loop. */
struct raw_ev_child {
    ev_child w;
    bool     started;
    int      calls;
    int      rpid;
    int      rstatus;
};

static struct raw_ev_child raw_ec;

static void raw_ev_child_cb(struct ev_loop *loop, ev_child *w, int revents)
{
    (void)loop;
    (void)revents;
    raw_ec.calls++;
    raw_ec.rpid = w->rpid;
    raw_ec.rstatus = w->rstatus;
}

static void raw_ev_child_stop(void *arg)
{
    (void)arg;
    if (raw_ec.started)
        ev_child_stop(tu_default_loop(), &raw_ec.w);
    raw_ec.started = false;
}

/* DESIGN.md §3.3: under PIDFD evsig owns SIGCHLD from its first child call
 * on the default loop and does not feed libev's reaper, so a program's raw
 * ev_child stops firing (the documented way out: the LIBEV backend, or
 * evsig_child_watch()); under LIBEV it fires as before. */
static void test_a_raw_ev_child_on_the_default_loop_fires_under_libev_and_never_under_pidfd(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct exit_rec ra = { 0 };
    struct gate *g = gate_new(), *gu = gate_new();
    int status = -1;
    pid_t a, u;

    (void)unused;
    a = watch_exiting(loop, rec_cb, &ra, 0, g, 65);   /* a child call */
    u = tu_fork(raw_wait_gate_main, gu);
    memset(&raw_ec, 0, sizeof(raw_ec));
    ev_child_init(&raw_ec.w, raw_ev_child_cb, u, 0);
    ev_child_start(loop, &raw_ec.w);
    raw_ec.started = true;
    child_defer(raw_ev_child_stop, NULL);

    gate_open(gu);
    if (child_backend() == EVSIG_CHILD_LIBEV) {
        assert_true(TU_RUN_UNTIL(loop, raw_ec.calls > 0, 5.0));
        assert_int_equal(raw_ec.rpid, u);
        assert_exited(raw_ec.rstatus, 0);
        assert_true(gone(u));
    } else {
        wait_zombie(u);
        assert_false(TU_RUN_UNTIL(loop, raw_ec.calls > 0 || !zombie(u), 0.2));
        assert_int_equal(waitpid(u, &status, 0), u);
        assert_exited(status, 0);
    }
    raw_ev_child_stop(NULL);
    gate_open(g);
    assert_int_equal(evsig_waitpid(loop, a, &status, 0), a);
    assert_exited(status, 65);
}

/* ======================================================================== *
 * Bad input
 * ======================================================================== */

static void wrong_cb(struct ev_loop *loop, pid_t pid, int status, void *data)
{
    (void)loop;
    (void)pid;
    (void)status;
    ++*(int *)data;
}

static void test_bad_input_fails_with_the_exact_errno_forks_nothing_and_changes_nothing(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct exit_rec rec = { 0 };
    struct gate *g = gate_new(), *gu = gate_new();
    struct sigaction before, after;
    evsig_action act;
    int status = 12345, wrong = 0, master = -7;
    pid_t pid, unwatched;
    bool libev;

    (void)unused;
    child_new_loop();
    libev = child_backend() == EVSIG_CHILD_LIBEV;
    pid = watch_exiting(loop, rec_cb, &rec, 0, g, 35);
    unwatched = tu_fork(raw_wait_gate_main, gu);
    assert_int_equal(sigaction(SIGCHLD, NULL, &before), 0);

    /* evsig_child_watch */
    assert_fails_with(evsig_child_watch(loop, 0, wrong_cb, &wrong, 0), EINVAL);
    assert_fails_with(evsig_child_watch(loop, -1, wrong_cb, &wrong, 0), EINVAL);
    assert_fails_with(evsig_child_watch(loop, -pid, wrong_cb, &wrong, 0), EINVAL);
    assert_fails_with(evsig_child_watch(loop, pid, wrong_cb, &wrong, EVSIG_ONESHOT), EINVAL);
    assert_fails_with(evsig_child_watch(loop, pid, wrong_cb, &wrong, 0x100), EINVAL);
    assert_fails_with(evsig_child_watch(NULL, pid, wrong_cb, &wrong, 0), EINVAL);
    if (libev) {   /* PIDFD: any loop will do */
        assert_fails_with(evsig_child_watch(other_loop, pid, wrong_cb, &wrong, 0), EINVAL);
        assert_fails_with(evsig_child_watch(other_loop, unwatched, wrong_cb, &wrong, 0), EINVAL);
    }
    assert_fails_with(evsig_child_watch(loop, getpid(), wrong_cb, &wrong, 0), ECHILD);
    assert_fails_with(evsig_child_watch(loop, 1, wrong_cb, &wrong, 0), ECHILD);

    /* evsig_child_unwatch */
    assert_fails_with(evsig_child_unwatch(loop, 0), EINVAL);
    assert_fails_with(evsig_child_unwatch(loop, -1), EINVAL);
    assert_fails_with(evsig_child_unwatch(NULL, pid), EINVAL);
    /* PIDFD: loops own their children. */
    assert_fails_with(evsig_child_unwatch(other_loop, pid), libev ? EINVAL : ECHILD);
    assert_fails_with(evsig_child_unwatch(loop, unwatched), ECHILD);
    assert_fails_with(evsig_child_unwatch(loop, 1), ECHILD);
    assert_fails_with(evsig_child_unwatch(loop, getpid()), ECHILD);

    /* evsig_fork, evsig_fork_and_watch, evsig_forkpty_and_watch */
    assert_fails_with(evsig_fork(NULL), EINVAL);
    if (libev)
        assert_fails_with(evsig_fork(other_loop), EINVAL);
    assert_fails_with(evsig_fork_and_watch(NULL, wrong_cb, &wrong, 0), EINVAL);
    if (libev)
        assert_fails_with(evsig_fork_and_watch(other_loop, wrong_cb, &wrong, 0), EINVAL);
    assert_fails_with(evsig_fork_and_watch(loop, wrong_cb, &wrong, EVSIG_ONESHOT), EINVAL);
    assert_fails_with(evsig_fork_and_watch(loop, wrong_cb, &wrong, 0x100), EINVAL);
    assert_fails_with(evsig_fork_and_watch(loop, wrong_cb, &wrong, -1), EINVAL);
    assert_fails_with(evsig_forkpty_and_watch(loop, NULL, wrong_cb, &wrong, 0), EINVAL);
    assert_fails_with(evsig_forkpty_and_watch(NULL, &master, wrong_cb, &wrong, 0), EINVAL);
    if (libev)
        assert_fails_with(evsig_forkpty_and_watch(other_loop, &master, wrong_cb, &wrong, 0), EINVAL);
    assert_fails_with(evsig_forkpty_and_watch(loop, &master, wrong_cb, &wrong, 0x100), EINVAL);
    assert_int_equal(master, -7);

    /* evsig_waitpid, evsig_waitpid_timeout */
    assert_fails_with(evsig_waitpid(NULL, pid, &status, WNOHANG), EINVAL);
    assert_fails_with(evsig_waitpid(other_loop, pid, &status, WNOHANG), libev ? EINVAL : ECHILD);
    assert_fails_with(evsig_waitpid(loop, 0, &status, WNOHANG), EINVAL);
    assert_fails_with(evsig_waitpid(loop, -2, &status, WNOHANG), EINVAL);
    assert_fails_with(evsig_waitpid(loop, -pid, &status, WNOHANG), EINVAL);
    assert_fails_with(evsig_waitpid(loop, pid, &status, WUNTRACED), EINVAL);
    assert_fails_with(evsig_waitpid(loop, pid, &status, WNOHANG | WCONTINUED), EINVAL);
    assert_fails_with(evsig_waitpid(loop, pid, &status, 0x40000000), EINVAL);
    assert_fails_with(evsig_waitpid(loop, 1, &status, WNOHANG), ECHILD);
    assert_fails_with(evsig_waitpid(loop, getpid(), &status, WNOHANG), ECHILD);
    assert_fails_with(evsig_waitpid_timeout(NULL, pid, &status, 1.), EINVAL);
    assert_fails_with(evsig_waitpid_timeout(other_loop, pid, &status, 1.), libev ? EINVAL : ECHILD);
    assert_fails_with(evsig_waitpid_timeout(loop, 0, &status, 1.), EINVAL);
    assert_fails_with(evsig_waitpid_timeout(loop, -2, &status, 1.), EINVAL);
    assert_fails_with(evsig_waitpid_timeout(loop, pid, &status, -1.), EINVAL);
    assert_fails_with(evsig_waitpid_timeout(loop, pid, &status, NAN), EINVAL);
    assert_fails_with(evsig_waitpid_timeout(loop, 1, &status, 0.), ECHILD);
    assert_int_equal(status, 12345);

    /* evsig_kill */
    assert_fails_with(evsig_kill(NULL, pid, 0), EINVAL);
    if (libev)
        assert_fails_with(evsig_kill(other_loop, pid, SIGTERM), EINVAL);
    else
        assert_succeeds(evsig_kill(other_loop, pid, 0));   /* any loop */
    assert_fails_with(evsig_kill(loop, pid, -1), EINVAL);
    assert_fails_with(evsig_kill(loop, pid, NSIG), EINVAL);
    assert_fails_with(evsig_kill(loop, pid, 1000), EINVAL);

    /* The SIGCHLD table entry: LIBEV, callbacks only on the default loop. */
    if (libev)
        assert_fails_with(evsig_signal(other_loop, SIGCHLD, chld_handler, &wrong, NULL), EINVAL);
    assert_fails_with(evsig_signal(NULL, SIGCHLD, chld_handler, &wrong, NULL), EINVAL);
    assert_fails_with(evsig_signal(loop, SIGCHLD, EVSIG_NONE, NULL, NULL), EINVAL);
    assert_succeeds(evsig_getsignal(SIGCHLD, &act));
    assert_ptr_equal((void *)act.handler, (void *)EVSIG_DFL);

    /* Nothing forked, nothing changed. */
    assert_int_equal(tu_count_children(), 2);
    assert_int_equal(sigaction(SIGCHLD, NULL, &after), 0);
    assert_ptr_equal((void *)after.sa_handler, (void *)before.sa_handler);
    assert_int_equal(after.sa_flags, before.sa_flags);
    assert_true(running(pid));
    assert_true(running(unwatched));
    assert_int_equal(evsig_waitpid(loop, pid, &status, WNOHANG), 0);

    /* pid is still watched, with its own callback and reference. */
    gate_open(g);
    assert_true(TU_RUN_UNTIL(loop, rec.calls > 0, 5.0));
    assert_int_equal(rec.pid, pid);
    assert_exited(rec.status, 35);
    assert_int_equal(evsig_waitpid(loop, pid, &status, 0), pid);
    gate_open(gu);
    assert_int_equal(evsig_waitpid_timeout(loop, unwatched, &status, 5.0), unwatched);
    assert_exited(status, 0);
    assert_false(TU_RUN_UNTIL(loop, wrong > 0, 0.05));
    assert_int_equal(wrong, 0);
    assert_int_equal(tu_count_children(), 0);
}

/* evsig.h: on success errno is as it was before the call, in both. */
static void test_evsig_fork_and_watch_leaves_errno_alone_in_parent_and_child(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    int status = -1;
    pid_t c;

    (void)unused;
    errno = EDOM;
    c = evsig_fork_and_watch(loop, NULL, NULL, 0);
    if (c == 0)
        _exit(errno == EDOM ? 0 : 1);
    assert_true(c > 0);
    assert_int_equal(errno, EDOM);
    assert_int_equal(evsig_waitpid_timeout(loop, c, &status, 10.0), c);
    assert_exited(status, 0);
}

/* --- a signalfd default loop --------------------------------------------- */

#define SELF_ARG_SIGNALFD "--signalfd-default-loop"

static const char *self_path;   /* argv[0] (not /proc/self/exe: valgrind's) */

/*
 * In a fresh process whose environment has LIBEV_FLAGS=EVFLAG_SIGNALFD:
 * libev's default loop blocks SIGCHLD and reads it from its signalfd, so
 * evsig's C handler never sees the kernel's SIGCHLD. Watched children are
 * reported all the same, and evsig makes one SIGCHLD delivery per exit of
 * a watched child for the watchers (DESIGN, "Second version"). Under both
 * backends (EVSIG_CHILD_BACKEND comes through the environment). Exit code
 * 0, or the step that failed.
 */
static int signalfd_default_loop_main(void)
{
    enum { N = 3 };
    static evsig_watcher w;
    static struct chld_log log;
    struct exit_rec r[N] = { 0 };
    struct ev_loop *def;
    sigset_t mask;
    pid_t pid[N];
    bool all;

    if (ev_default_loop_uc_())
        return 2;
    def = ev_default_loop(0);
    if (!def)
        return 3;
    pthread_sigmask(SIG_SETMASK, NULL, &mask);
    if (sigismember(&mask, SIGCHLD) != 1)
        return 4;   /* LIBEV_FLAGS did not make a signalfd loop */
    if (evsig_watch(def, &w, SIGCHLD, chld_handler, &log, 0) != 0)
        return 5;
    for (int i = 0; i < N; i++) {
        pid[i] = evsig_fork_and_watch(def, rec_cb, &r[i], 0);
        if (pid[i] == 0)
            _exit(20 + i);
        if (pid[i] < 0)
            return 6;
    }
    all = TU_RUN_UNTIL(def, r[0].calls + r[1].calls + r[2].calls == N &&
                            log.calls >= N, 5);
    if (!all) {
        dprintf(STDERR_FILENO, "reports %d %d %d, SIGCHLD deliveries %d\n",
                r[0].calls, r[1].calls, r[2].calls, log.calls);
        return 7;
    }
    /* No second delivery for any of them. */
    TU_RUN_UNTIL(def, log.calls > N, 0.2);
    if (log.calls != N)
        return 8;
    for (int i = 0; i < N; i++) {
        bool seen = false;

        if (r[i].calls != 1 || r[i].pid != pid[i] || !WIFEXITED(r[i].status) ||
            WEXITSTATUS(r[i].status) != 20 + i)
            return 9;
        for (int j = 0; j < N; j++)
            if (log.info[j].pid == pid[i] && log.info[j].signo == SIGCHLD &&
                log.info[j].code == CLD_EXITED &&
                WIFEXITED(log.info[j].status) &&
                WEXITSTATUS(log.info[j].status) == 20 + i)
                seen = true;
        if (!seen)
            return 10;
    }
    evsig_unwatch(&w);
    evsig_reset();
    return 0;
}

static void exec_with_signalfd_flags(void *arg)
{
    char flags[32];
    (void)arg;

    snprintf(flags, sizeof(flags), "%u", (unsigned)EVFLAG_SIGNALFD);
    setenv("LIBEV_FLAGS", flags, 1);
    execl(self_path, self_path, SELF_ARG_SIGNALFD, (char *)NULL);
    _exit(127);
}

static void test_on_a_signalfd_default_loop_children_are_reported_and_each_exit_makes_one_sigchld_delivery(void **unused)
{
    (void)unused;
    /* An exec'd copy: this process's default loop exists already. */
    tu_assert_child_exit(tu_fork(exec_with_signalfd_flags, NULL), 0, 10);
}

int main(int argc, char **argv)
{
#define T(name) cmocka_unit_test_setup_teardown(name, child_setup, child_teardown)
    const struct CMUnitTest tests[] = {
        /* First: it also covers evsig's first contact with the loop. */
        T(test_getsignal_sigchld_is_dfl_before_any_set_although_libev_installed_its_handler),
        T(test_getsignal_sigchld_is_none_when_a_foreign_handler_is_installed),
        T(test_getsignal_sigchld_reports_what_evsig_signal_set),
        T(test_a_childs_exit_code_reaches_its_callback),
        T(test_children_killed_by_sigkill_and_sigterm_report_wifsignaled),
        T(test_the_callback_runs_before_the_sigchld_table_handler_once_each_per_exit),
        T(test_the_sigchld_table_handler_does_not_run_for_a_child_nobody_watches),
        T(test_sigchld_ign_never_breaks_watching_or_waitpid_nor_reaches_the_kernel),
        T(test_sigchld_dfl_never_breaks_watching_or_waitpid_nor_reaches_the_kernel),
        T(test_waitpid_returns_a_watched_childs_status_once_then_echild),
        T(test_waitpid_wnohang_on_a_running_child_returns_zero),
        T(test_waitpid_wnohang_reports_an_exit_the_loop_has_not_processed_after_its_callbacks),
        T(test_waitpid_minus_one_returns_the_oldest_exit_first),
        T(test_waitpid_minus_one_with_none_exited_waits_for_the_next_exit),
        T(test_waitpid_minus_one_wnohang_with_none_exited_returns_zero),
        T(test_a_timer_keeps_firing_while_waitpid_waits),
        T(test_waitpid_timeout_fails_with_etimedout_on_time_and_the_child_stays_watched),
        T(test_waitpid_timeout_waits_for_an_unwatched_child_without_blocking_the_loop),
        T(test_a_grandchild_is_watched_from_inside_a_forked_child),
        T(test_the_child_of_evsig_fork_inherits_no_watches_and_no_results),
        T(test_ev_run_in_the_child_of_evsig_fork_is_not_kept_alive_by_the_parents_children),
        T(test_a_signal_caught_before_evsig_fork_is_dispatched_in_the_parent_only),
        T(test_forkpty_and_watch_output_is_read_from_the_close_on_exec_master),
        T(test_waitpid_reports_an_unwatched_raw_fork_childs_status_by_pid_and_through_minus_one),
        T(test_a_late_watch_of_a_child_libev_reaped_calls_back_on_the_next_iteration),
        T(test_late_watches_keep_results_in_exit_order),
        T(test_a_late_watch_keeps_a_result_past_its_ttl_until_reported),
        T(test_unwatch_stops_the_callback_and_the_result_stays_collectable),
        T(test_ev_run_returns_while_a_noref_watched_child_still_runs),
        T(test_ev_run_keeps_running_until_a_watched_child_exits),
        T(test_after_reset_a_formerly_watched_child_is_collected_by_waitpid_minus_one),
        T(test_kill_signals_a_running_watched_child),
        T(test_kill_of_a_reaped_watched_child_fails_with_esrch),
        T(test_kill_never_signals_a_process_that_reused_a_reaped_watched_childs_pid),
        T(test_a_pid_reused_by_an_unwatched_child_never_runs_the_old_childs_callbacks),
        T(test_an_uncollected_result_is_dropped_at_an_exit_after_its_ttl),
        T(test_a_result_younger_than_the_ttl_is_kept),
        T(test_waitpid_minus_one_wnohang_reports_an_exit_the_loop_has_not_processed),
        T(test_a_result_is_handed_out_once_whichever_path_collects_it),
        T(test_waitpid_and_fork_and_watch_work_from_inside_a_child_callback),
        T(test_a_stopped_and_continued_child_is_reported_once_at_its_exit),
        T(test_watching_a_watched_child_again_replaces_its_callback_and_flags),
        T(test_results_are_kept_from_the_first_evsig_signal_sigchld_on),
        T(test_unwatch_after_a_late_watch_cancels_its_report),
        T(test_bad_input_fails_with_the_exact_errno_forks_nothing_and_changes_nothing),
        /* The second version's rules, with either backend. */
        T(test_the_backend_in_use_is_the_one_the_environment_or_auto_picks),
        T(test_set_child_backend_rejects_unknown_backends_with_einval_and_changes_nothing),
        T(test_set_child_backend_is_ebusy_from_the_first_watch_on_but_zero_for_the_backend_in_use),
        T(test_set_child_backend_is_free_again_after_reset),
        T(test_set_child_backend_is_free_again_in_the_child_of_evsig_fork),
        T(test_evsig_h_brings_sys_wait_h_for_the_statuses_it_hands_out),
        T(test_waitpid_wnohang_finds_a_watched_zombie_while_sigchld_is_blocked),
        T(test_a_watch_of_a_child_that_already_exited_reports_it_once_on_the_loop),
        T(test_unwatch_is_zero_for_any_pid_evsig_watched_until_reset_and_echild_for_others),
        T(test_kill_of_a_watched_child_that_exited_but_was_not_reaped_works_then_esrch),
        T(test_children_forked_at_the_fd_limit_are_each_reported_once_and_no_fork_fails),
        T(test_a_child_of_evsig_fork_that_uses_evsig_and_exits_leaks_nothing),
        T(test_children_of_evsig_fork_inherit_none_of_the_parents_pidfds),
        T(test_children_of_plain_fork_inherit_no_pidfds_and_keep_their_own_fds_in_their_forks),
        T(test_on_a_signalfd_default_loop_children_are_reported_and_each_exit_makes_one_sigchld_delivery),
        T(test_evsig_fork_and_watch_leaves_errno_alone_in_parent_and_child),
        T(test_a_sigterm_sent_before_the_childs_handler_is_set_reaches_it_when_the_caller_blocked_it),
        T(test_forkpty_and_watch_makes_the_master_close_on_exec_before_the_fork_and_the_child_holds_none),
        T(test_the_sigchld_table_call_reports_the_uid_its_backend_documents),
        T(test_child_functions_on_an_ev_loop_new_loop_are_einval_under_libev_and_work_under_pidfd),
        T(test_a_raw_ev_child_on_the_default_loop_fires_under_libev_and_never_under_pidfd),
    };
#undef T

    self_path = argv[0];
    if (argc > 1 && strcmp(argv[1], SELF_ARG_SIGNALFD) == 0)
        return signalfd_default_loop_main();
    /* EVSIG_TEST_FILTER=test_kill_* runs only the matching tests. */
    if (getenv("EVSIG_TEST_FILTER"))
        cmocka_set_test_filter(getenv("EVSIG_TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}

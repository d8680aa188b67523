/* SPDX-License-Identifier: MIT */
/*
 * test-api.c - every public function against every kind of bad argument.
 *
 * DESIGN.md §1.6: bad input gets -1 and errno, never a crash, never a
 * changed state. Each test records the process-wide state (every
 * disposition as sigaction() and evsig_getsignal() report it, the signal
 * mask, the children), makes its bad calls, and compares before teardown's
 * evsig_reset() could hide a change.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "evsig.h"
#include "test-util.h"

/* Signal numbers no function may accept. glibc reserves 32 and 33. */
static const int bad_signals[] = { 0, -1, -1000, NSIG, NSIG + 1, 1000, INT_MIN,
                                   INT_MAX, 32, 33 };
#define N_BAD_SIGNALS (sizeof(bad_signals) / sizeof(bad_signals[0]))

struct state {
    struct sigaction sa[NSIG];
    evsig_action     act[NSIG];
    sigset_t         mask;
};

static void record(struct state *st)
{
    memset(st, 0, sizeof(*st));
    for (int s = 1; s < NSIG; s++) {
        if (s == 32 || s == 33)
            continue;
        sigaction(s, NULL, &st->sa[s]);
        evsig_getsignal(s, &st->act[s]);
    }
    pthread_sigmask(SIG_SETMASK, NULL, &st->mask);
}

static void assert_unchanged(const struct state *before)
{
    struct state now;

    record(&now);
    for (int s = 1; s < NSIG; s++) {
        if (s == 32 || s == 33)
            continue;
        if (before->sa[s].sa_handler != now.sa[s].sa_handler ||
            before->sa[s].sa_flags != now.sa[s].sa_flags ||
            !tu_same_sigset(&before->sa[s].sa_mask, &now.sa[s].sa_mask))
            fail_msg("sigaction of %s changed", evsig_signame(s));
        if (before->act[s].handler != now.act[s].handler ||
            before->act[s].data != now.act[s].data)
            fail_msg("evsig_getsignal(%s) changed", evsig_signame(s));
    }
    assert_true(tu_same_sigset(&before->mask, &now.mask));
    /* Nothing was forked. */
    assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
    assert_int_equal(errno, ECHILD);
}

static void cb(struct ev_loop *loop, const evsig_info *info, void *data)
{
    (void)loop;
    (void)info;
    (void)data;
}

static void child_cb(struct ev_loop *loop, pid_t pid, int status, void *data)
{
    (void)loop;
    (void)pid;
    (void)status;
    (void)data;
}

static void test_signal_rejects_every_bad_argument(void **unused)
{
    struct ev_loop *loop = ev_default_loop(0);
    struct state before;
    evsig_action old;
    (void)unused;

    record(&before);
    for (size_t i = 0; i < N_BAD_SIGNALS; i++) {
        assert_fails_with(evsig_signal(loop, bad_signals[i], cb, NULL, &old), EINVAL);
        assert_fails_with(evsig_signal(loop, bad_signals[i], EVSIG_DFL, NULL, &old), EINVAL);
        assert_fails_with(evsig_signal(NULL, bad_signals[i], EVSIG_IGN, NULL, NULL), EINVAL);
    }
    assert_fails_with(evsig_signal(loop, SIGKILL, cb, NULL, NULL), EINVAL);
    assert_fails_with(evsig_signal(loop, SIGSTOP, cb, NULL, NULL), EINVAL);
    assert_fails_with(evsig_signal(loop, SIGKILL, EVSIG_IGN, NULL, NULL), EINVAL);
    assert_fails_with(evsig_signal(loop, SIGUSR1, EVSIG_NONE, NULL, NULL), EINVAL);
    assert_fails_with(evsig_signal(NULL, SIGUSR1, cb, NULL, NULL), EINVAL);
    assert_unchanged(&before);
}

/* LIBEV reaps on libev's default loop only; PIDFD on any loop. */
static void test_a_sigchld_callback_on_another_loop_is_einval_only_under_libev(void **unused)
{
    struct ev_loop *other;
    struct state before;
    (void)unused;

    ev_default_loop(0);
    other = ev_loop_new(EVFLAG_NOENV);
    record(&before);
    if (evsig_child_backend() == EVSIG_CHILD_LIBEV) {
        assert_fails_with(evsig_signal(other, SIGCHLD, cb, NULL, NULL), EINVAL);
        assert_unchanged(&before);
    } else {
        assert_int_equal(evsig_signal(other, SIGCHLD, cb, NULL, NULL), 0);
        assert_int_equal(evsig_reset(), 0);
    }
    ev_loop_destroy(other);
}

static void test_getsignal_rejects_bad_signals_and_null(void **unused)
{
    evsig_action out;
    (void)unused;

    for (size_t i = 0; i < N_BAD_SIGNALS; i++)
        assert_fails_with(evsig_getsignal(bad_signals[i], &out), EINVAL);
    assert_fails_with(evsig_getsignal(SIGUSR1, NULL), EINVAL);
}

static void test_watch_rejects_every_bad_argument(void **unused)
{
    struct ev_loop *loop = ev_default_loop(0);
    struct state before;
    evsig_watcher w;
    (void)unused;

    memset(&w, 0x5a, sizeof(w));
    record(&before);
    for (size_t i = 0; i < N_BAD_SIGNALS; i++)
        assert_fails_with(evsig_watch(loop, &w, bad_signals[i], cb, NULL, 0), EINVAL);
    assert_fails_with(evsig_watch(loop, &w, SIGKILL, cb, NULL, 0), EINVAL);
    assert_fails_with(evsig_watch(loop, &w, SIGSTOP, cb, NULL, 0), EINVAL);
    assert_fails_with(evsig_watch(NULL, &w, SIGUSR1, cb, NULL, 0), EINVAL);
    assert_fails_with(evsig_watch(loop, NULL, SIGUSR1, cb, NULL, 0), EINVAL);
    assert_fails_with(evsig_watch(loop, &w, SIGUSR1, NULL, NULL, 0), EINVAL);
    assert_fails_with(evsig_watch(loop, &w, SIGUSR1, EVSIG_IGN, NULL, 0), EINVAL);
    assert_fails_with(evsig_watch(loop, &w, SIGUSR1, EVSIG_NONE, NULL, 0), EINVAL);
    assert_fails_with(evsig_watch(loop, &w, SIGUSR1, cb, NULL, 0x8), EINVAL);
    assert_fails_with(evsig_watch(loop, &w, SIGUSR1, cb, NULL, -1), EINVAL);
    assert_fails_with(evsig_unwatch(NULL), EINVAL);
    assert_int_equal(evsig_is_active(&w), 0);
    assert_int_equal(evsig_is_active(NULL), 0);
    assert_unchanged(&before);
}

static void test_watch_checks_arguments_even_for_an_active_watcher(void **unused)
{
    struct ev_loop *loop = ev_default_loop(0);
    evsig_watcher w;
    (void)unused;

    assert_int_equal(evsig_watch(loop, &w, SIGUSR1, cb, NULL, 0), 0);
    assert_fails_with(evsig_watch(loop, &w, 0, cb, NULL, 0), EINVAL);
    assert_fails_with(evsig_watch(loop, &w, SIGUSR1, cb, NULL, 0x80), EINVAL);
    assert_fails_with(evsig_watch(NULL, &w, SIGUSR1, cb, NULL, 0), EINVAL);
    assert_true(evsig_is_active(&w));
    assert_int_equal(evsig_unwatch(&w), 0);
    assert_false(evsig_is_active(&w));
}

/* EVFLAG_SIGNALFD loops are loops like any other (the first version
 * refused them with EINVAL). */
static void test_signalfd_loops_are_accepted_by_every_signal_function(void **unused)
{
    struct ev_loop *sfd = ev_loop_new(EVFLAG_SIGNALFD | EVFLAG_NOENV);
    evsig_watcher w;
    evsig_info info;
    sigset_t set;
    (void)unused;

    assert_non_null(sfd);
    assert_int_equal(evsig_watch(sfd, &w, SIGUSR1, cb, NULL, 0), 0);
    assert_int_equal(evsig_signal(sfd, SIGUSR2, cb, NULL, NULL), 0);
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    assert_int_equal(evsig_sigtimedwait(sfd, &set, &info, 0.0), 0);
    assert_true(evsig_is_active(&w));
    assert_int_equal(evsig_reset(), 0);
    ev_loop_destroy(sfd);
}

static void test_child_functions_reject_bad_arguments(void **unused)
{
    struct ev_loop *loop = ev_default_loop(0);
    struct ev_loop *other = ev_loop_new(EVFLAG_NOENV);
    struct state before;
    int status, master;
    (void)unused;

    /* A loop other than the default one is bad input under LIBEV only. */
    bool libev = evsig_child_backend() == EVSIG_CHILD_LIBEV;

    record(&before);
    assert_fails_with(evsig_fork(NULL), EINVAL);
    if (libev)
        assert_fails_with(evsig_fork(other), EINVAL);
    assert_fails_with(evsig_fork_and_watch(NULL, child_cb, NULL, 0), EINVAL);
    if (libev)
        assert_fails_with(evsig_fork_and_watch(other, child_cb, NULL, 0), EINVAL);
    assert_fails_with(evsig_fork_and_watch(loop, child_cb, NULL, 0x2), EINVAL);
    assert_fails_with(evsig_fork_and_watch(loop, child_cb, NULL, -1), EINVAL);
    assert_fails_with(evsig_forkpty_and_watch(loop, NULL, child_cb, NULL, 0), EINVAL);
    if (libev)
        assert_fails_with(evsig_forkpty_and_watch(other, &master, child_cb, NULL, 0), EINVAL);
    assert_fails_with(evsig_forkpty_and_watch(loop, &master, child_cb, NULL, 0x10), EINVAL);

    assert_fails_with(evsig_child_watch(loop, 0, child_cb, NULL, 0), EINVAL);
    assert_fails_with(evsig_child_watch(loop, -5, child_cb, NULL, 0), EINVAL);
    assert_fails_with(evsig_child_watch(NULL, getpid(), child_cb, NULL, 0), EINVAL);
    if (libev)
        assert_fails_with(evsig_child_watch(other, 1, child_cb, NULL, 0), EINVAL);
    assert_fails_with(evsig_child_watch(loop, 1, child_cb, NULL, 0x2), EINVAL);

    assert_fails_with(evsig_child_unwatch(loop, 0), EINVAL);
    assert_fails_with(evsig_child_unwatch(loop, -1), EINVAL);
    assert_fails_with(evsig_child_unwatch(NULL, 1), EINVAL);
    if (libev)
        assert_fails_with(evsig_child_unwatch(other, 1), EINVAL);

    assert_fails_with(evsig_waitpid(NULL, -1, &status, 0), EINVAL);
    if (libev)
        assert_fails_with(evsig_waitpid(other, -1, &status, 0), EINVAL);
    assert_fails_with(evsig_waitpid(loop, 0, &status, 0), EINVAL);
    assert_fails_with(evsig_waitpid(loop, -2, &status, 0), EINVAL);
    assert_fails_with(evsig_waitpid(loop, -1, &status, WUNTRACED), EINVAL);
    assert_fails_with(evsig_waitpid(loop, -1, &status, 0x4000), EINVAL);

    assert_fails_with(evsig_waitpid_timeout(NULL, -1, &status, 1.0), EINVAL);
    if (libev)
        assert_fails_with(evsig_waitpid_timeout(other, -1, &status, 1.0), EINVAL);
    assert_fails_with(evsig_waitpid_timeout(loop, 0, &status, 1.0), EINVAL);
    assert_fails_with(evsig_waitpid_timeout(loop, -1, &status, -1.0), EINVAL);
    assert_fails_with(evsig_waitpid_timeout(loop, -1, &status, NAN), EINVAL);

    assert_fails_with(evsig_kill(NULL, getpid(), 0), EINVAL);
    if (libev)
        assert_fails_with(evsig_kill(other, getpid(), 0), EINVAL);
    assert_fails_with(evsig_kill(loop, getpid(), -1), EINVAL);
    assert_fails_with(evsig_kill(loop, getpid(), NSIG), EINVAL);
    assert_fails_with(evsig_kill(loop, getpid(), 1000), EINVAL);

    assert_fails_with(evsig_child_set_result_ttl(-1.0), EINVAL);
    assert_fails_with(evsig_child_set_result_ttl(NAN), EINVAL);
    assert_fails_with(evsig_child_set_result_ttl(INFINITY), EINVAL);

    assert_unchanged(&before);   /* bad input changes nothing */

    /* Valid calls about children that are not ours: ECHILD. Under PIDFD
     * such a call is a child call all the same: from now on evsig owns
     * SIGCHLD (libev's reaper would take other code's children), and
     * nothing else changed. Under LIBEV nothing changed at all. */
    assert_fails_with(evsig_child_watch(loop, 1, child_cb, NULL, 0), ECHILD);
    assert_fails_with(evsig_child_watch(loop, getpid(), child_cb, NULL, 0), ECHILD);
    assert_fails_with(evsig_child_unwatch(loop, 1), ECHILD);
    assert_fails_with(evsig_child_unwatch(loop, 999999), ECHILD);
    assert_fails_with(evsig_waitpid(loop, 1, &status, 0), ECHILD);
    assert_fails_with(evsig_waitpid(loop, 1, &status, WNOHANG), ECHILD);
    assert_fails_with(evsig_waitpid_timeout(loop, 1, &status, 0.1), ECHILD);
    if (libev) {
        assert_unchanged(&before);
    } else {
        struct sigaction sa;

        sigaction(SIGCHLD, NULL, &sa);
        assert_true(sa.sa_flags & SA_SIGINFO);   /* evsig's handler */
        before.sa[SIGCHLD] = sa;
        assert_unchanged(&before);
    }
    ev_loop_destroy(other);
}


static void test_wakeup_functions_reject_bad_fds_and_flags(void **unused)
{
    struct state before;
    int p[2], old = 12345;
    (void)unused;

    assert_int_equal(pipe(p), 0);   /* blocking */
    record(&before);
    assert_fails_with(evsig_set_wakeup_fd(p[1], 0, &old), EINVAL);
    assert_int_equal(old, 12345);   /* untouched on failure */
    assert_fails_with(evsig_set_wakeup_fd(-2, 0, NULL), EINVAL);
    assert_fails_with(evsig_set_wakeup_fd(-1, 0x2, NULL), EINVAL);
    assert_fails_with(evsig_set_wakeup_fd(4000, 0, NULL), EBADF);
    assert_fails_with(evsig_install_handler(-2, NULL), EINVAL);
    assert_fails_with(evsig_install_handler(4000, &old), EBADF);
    assert_int_equal(old, 12345);
    assert_int_equal(evsig_set_wakeup_fd(-1, 0, &old), 0);
    assert_int_equal(old, -1);
    assert_unchanged(&before);
    close(p[0]);
    close(p[1]);
}

static void test_python_signal_functions_reject_bad_arguments(void **unused)
{
    struct ev_loop *loop = ev_default_loop(0);
    struct state before;
    evsig_info info;
    sigset_t empty, withkill, withstop, ok;
    int sig;
    (void)unused;

    sigemptyset(&empty);
    sigemptyset(&ok);
    sigaddset(&ok, SIGUSR1);
    withkill = ok;
    sigaddset(&withkill, SIGKILL);
    withstop = ok;
    sigaddset(&withstop, SIGSTOP);

    record(&before);
    for (size_t i = 0; i < N_BAD_SIGNALS; i++) {
        assert_fails_with(evsig_siginterrupt(bad_signals[i], 1), EINVAL);
        assert_null_with_errno(evsig_signame(bad_signals[i]), EINVAL);
        assert_null(evsig_strsignal(bad_signals[i]));
    }
    assert_fails_with(evsig_siginterrupt(SIGKILL, 1), EINVAL);
    assert_fails_with(evsig_siginterrupt(SIGSTOP, 0), EINVAL);
    assert_fails_with(evsig_valid_signals(NULL), EINVAL);
    assert_fails_with(evsig_signum(NULL), EINVAL);
    assert_fails_with(evsig_signum("SIGNOPE"), EINVAL);
    assert_fails_with(evsig_pause(NULL), EINVAL);

    assert_fails_with(evsig_sigwait(NULL, &ok, &sig), EINVAL);
    assert_fails_with(evsig_sigwait(loop, NULL, &sig), EINVAL);
    assert_fails_with(evsig_sigwait(loop, &ok, NULL), EINVAL);
    assert_fails_with(evsig_sigwait(loop, &empty, &sig), EINVAL);
    assert_fails_with(evsig_sigwait(loop, &withkill, &sig), EINVAL);
    assert_fails_with(evsig_sigwait(loop, &withstop, &sig), EINVAL);
    assert_fails_with(evsig_sigwaitinfo(loop, &empty, &info), EINVAL);
    assert_fails_with(evsig_sigwaitinfo(loop, &ok, NULL), EINVAL);
    assert_fails_with(evsig_sigwaitinfo(NULL, &ok, &info), EINVAL);
    assert_fails_with(evsig_sigtimedwait(loop, &ok, &info, -1.0), EINVAL);
    assert_fails_with(evsig_sigtimedwait(loop, &ok, &info, NAN), EINVAL);
    assert_fails_with(evsig_sigtimedwait(loop, &withkill, &info, 0.1), EINVAL);
    assert_fails_with(evsig_sigtimedwait(loop, &empty, &info, 0.1), EINVAL);
    assert_unchanged(&before);
}

/* Any number of loops may serve one signal (the first version answered
 * EBUSY on the second). */
static void test_a_signal_served_on_one_loop_is_accepted_on_another_by_every_function(void **unused)
{
    struct ev_loop *a = ev_loop_new(EVFLAG_NOENV);
    struct ev_loop *b = ev_loop_new(EVFLAG_NOENV);
    evsig_watcher wa, wb;
    evsig_info info;
    sigset_t set;
    (void)unused;

    assert_int_equal(evsig_watch(a, &wa, SIGUSR1, cb, NULL, 0), 0);
    assert_int_equal(evsig_watch(b, &wb, SIGUSR1, cb, NULL, 0), 0);
    assert_int_equal(evsig_signal(b, SIGUSR1, cb, NULL, NULL), 0);
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    assert_int_equal(evsig_sigtimedwait(b, &set, &info, 0.0), 0);
    assert_int_equal(evsig_signal(b, SIGUSR1, EVSIG_IGN, NULL, NULL), 0);
    assert_true(evsig_is_active(&wa) && evsig_is_active(&wb));
    assert_int_equal(evsig_unwatch(&wa), 0);
    assert_int_equal(evsig_reset(), 0);
    ev_loop_destroy(a);
    ev_loop_destroy(b);
}

static void count_cb(struct ev_loop *loop, const evsig_info *info, void *data)
{
    (void)loop;
    (void)info;
    ++*(int *)data;
}

/* SIGCHLD watchers work on any loop, also while libev's default loop
 * exists (the first version answered EBUSY: libev's ev_signal held it). */
static void test_sigchld_may_be_watched_on_another_loop_than_the_default_one(void **unused)
{
    struct ev_loop *other = ev_loop_new(EVFLAG_NOENV);
    evsig_watcher w;
    int n = 0;
    (void)unused;

    ev_default_loop(0);
    assert_int_equal(evsig_watch(other, &w, SIGCHLD, count_cb, &n, 0), 0);
    assert_int_equal(kill(getpid(), SIGCHLD), 0);
    {
        struct ev_loop *loop = other;

        assert_true(TU_RUN_UNTIL(loop, n == 1, 5));
    }
    assert_int_equal(evsig_reset(), 0);
    ev_loop_destroy(other);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_signal_rejects_every_bad_argument, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_a_sigchld_callback_on_another_loop_is_einval_only_under_libev, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_getsignal_rejects_bad_signals_and_null, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_watch_rejects_every_bad_argument, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_watch_checks_arguments_even_for_an_active_watcher, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_signalfd_loops_are_accepted_by_every_signal_function, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_child_functions_reject_bad_arguments, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_wakeup_functions_reject_bad_fds_and_flags, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_python_signal_functions_reject_bad_arguments, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_a_signal_served_on_one_loop_is_accepted_on_another_by_every_function, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_sigchld_may_be_watched_on_another_loop_than_the_default_one, tu_setup, tu_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: MIT */
/*
 * test-libc.c - the parts of Python's signal module that stay libc's
 * (alarm, setitimer/getitimer, raise, pthread_kill, pthread_sigmask,
 * sigpending, pidfd_send_signal) produce signals that reach evsig handlers
 * on the loop (DESIGN.md §3.5).
 *
 * "On the loop" is checked the same way everywhere: the handler runs inside
 * ev_run() (ev_depth() > 0) on the thread that runs the loop, and not
 * before the loop ran.
 *
 * Threads here synchronise through pipes; the loop waits are capped by
 * TU_RUN_UNTIL's timer.
 */
#define _GNU_SOURCE   /* pipe2() */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
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
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>

#include "evsig.h"
#include "test-util.h"

/* --- helpers ------------------------------------------------------------- */

struct record {
    pthread_t  loop_thread;
    int        n;
    int        off_loop;      /* calls outside ev_run() or on another thread */
    evsig_info first, last;
    int        values[64];
    int        nvalues;
};

static void record_cb(struct ev_loop *loop, const evsig_info *info, void *data)
{
    struct record *r = data;

    if (ev_depth(loop) < 1 || !pthread_equal(pthread_self(), r->loop_thread))
        r->off_loop++;
    if (r->n == 0)
        r->first = *info;
    r->last = *info;
    r->n++;
    if (info->code == SI_QUEUE && r->nvalues < 64)
        r->values[r->nvalues++] = info->value.sival_int;
}

static void record_init(struct record *r)
{
    memset(r, 0, sizeof(*r));
    r->loop_thread = pthread_self();
}

/* Wait (bounded) for a byte from a thread. */
static void await_byte(int fd)
{
    struct pollfd pfd = { .fd = fd, .events = POLLIN };
    unsigned char b;

    assert_int_equal(poll(&pfd, 1, 5000), 1);
    assert_int_equal(read(fd, &b, 1), 1);
}

/* --- alarm, setitimer, raise --------------------------------------------- */

static void test_alarm_runs_a_sigalrm_table_handler_on_the_loop(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct record r;
    (void)unused;

    record_init(&r);
    assert_succeeds(evsig_signal(loop, SIGALRM, record_cb, &r, NULL));
    assert_int_equal(alarm(1), 0);
    assert_true(TU_RUN_UNTIL(loop, r.n == 1, 3));
    assert_int_equal(alarm(0), 0);   /* it went off: nothing left */
    assert_int_equal(r.off_loop, 0);
    assert_int_equal(r.first.signo, SIGALRM);
    assert_int_equal(r.first.code, SI_KERNEL);
    assert_int_equal(r.first.pid, 0);
}

static void test_setitimer_ticks_reach_a_handler_and_getitimer_shows_it_running(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct itimerval every20ms = {
        .it_interval = { 0, 20000 }, .it_value = { 0, 20000 },
    }, off = { { 0, 0 }, { 0, 0 } }, now;
    struct record r;
    int seen;
    (void)unused;

    record_init(&r);
    assert_succeeds(evsig_signal(loop, SIGALRM, record_cb, &r, NULL));
    assert_int_equal(setitimer(ITIMER_REAL, &every20ms, NULL), 0);
    assert_true(TU_RUN_UNTIL(loop, r.n >= 5, 3));

    assert_int_equal(getitimer(ITIMER_REAL, &now), 0);
    assert_int_equal(now.it_interval.tv_sec, 0);
    assert_int_equal(now.it_interval.tv_usec, 20000);
    assert_true(now.it_value.tv_sec > 0 || now.it_value.tv_usec > 0);

    assert_int_equal(setitimer(ITIMER_REAL, &off, NULL), 0);
    assert_int_equal(getitimer(ITIMER_REAL, &now), 0);
    assert_int_equal(now.it_value.tv_sec, 0);
    assert_int_equal(now.it_value.tv_usec, 0);
    assert_int_equal(now.it_interval.tv_usec, 0);

    /* Ticks caught before the disarm are still dispatched, then no more. */
    for (int i = 0; i < 3; i++)
        ev_run(loop, EVRUN_NOWAIT);
    seen = r.n;
    assert_false(TU_RUN_UNTIL(loop, r.n > seen, 0.1));
    assert_int_equal(r.off_loop, 0);
    assert_int_equal(r.last.code, SI_KERNEL);
}

static void test_raise_reaches_the_handler_on_the_loop_with_si_tkill(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct record r;
    (void)unused;

    record_init(&r);
    assert_succeeds(evsig_signal(loop, SIGUSR1, record_cb, &r, NULL));
    assert_int_equal(raise(SIGUSR1), 0);
    assert_int_equal(r.n, 0);   /* not in signal context */
    assert_true(TU_RUN_UNTIL(loop, r.n == 1, 5));
    assert_int_equal(r.off_loop, 0);
    assert_int_equal(r.first.signo, SIGUSR1);
    assert_int_equal(r.first.code, SI_TKILL);
    assert_int_equal(r.first.pid, getpid());
    assert_int_equal(r.first.uid, getuid());
}

/* --- threads ------------------------------------------------------------- */

struct worker {
    pthread_t thread;
    int       ready[2];   /* the worker says it is set up */
    int       go[2];      /* the test says what to do; EOF: exit */
    int       unblock;    /* signal to unblock (0: none) */
    int       block[2];   /* signals to block (0: none) */
    int       send_rt;    /* sigqueue() these to the process on "s" */
    int       nsend;
    int       send_std;   /* and kill() this one */
    /* results */
    int       read_eintr; /* a read failed with EINTR (no SA_RESTART) */
    int       still_blocked;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    sigset_t mask;
    int c;

    sigemptyset(&mask);
    for (int i = 0; i < 2; i++)
        if (w->block[i])
            sigaddset(&mask, w->block[i]);
    pthread_sigmask(SIG_BLOCK, &mask, NULL);
    if (w->unblock) {
        sigemptyset(&mask);
        sigaddset(&mask, w->unblock);
        pthread_sigmask(SIG_UNBLOCK, &mask, NULL);
    }
    (void)!write(w->ready[1], "r", 1);

    for (;;) {
        unsigned char b;
        ssize_t r = read(w->go[0], &b, 1);

        if (r < 0 && errno == EINTR) {
            w->read_eintr++;
            continue;
        }
        if (r <= 0)
            break;
        c = b;
        if (c == 's') {
            for (int i = 0; i < w->nsend; i++)
                sigqueue(getpid(), w->send_rt, (union sigval){ .sival_int = i });
            if (w->send_std)
                kill(getpid(), w->send_std);
            (void)!write(w->ready[1], "d", 1);
        }
    }

    pthread_sigmask(SIG_SETMASK, NULL, &mask);
    w->still_blocked = 1;
    for (int i = 0; i < 2; i++)
        if (w->block[i] && !sigismember(&mask, w->block[i]))
            w->still_blocked = 0;
    return NULL;
}

static void worker_start(struct worker *w)
{
    assert_succeeds(pipe2(w->ready, O_CLOEXEC));
    assert_succeeds(pipe2(w->go, O_CLOEXEC));   /* blocking: the worker waits */
    assert_int_equal(pthread_create(&w->thread, NULL, worker_main, w), 0);
    await_byte(w->ready[0]);
}

static void worker_finish(struct worker *w)
{
    close(w->go[1]);
    assert_int_equal(pthread_join(w->thread, NULL), 0);
    close(w->go[0]);
    close(w->ready[0]);
    close(w->ready[1]);
}

static void test_pthread_kill_to_another_thread_wakes_the_loop_and_runs_on_the_loop_thread(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct worker w = { .unblock = SIGUSR1 };
    struct record r;
    double t0;
    (void)unused;

    record_init(&r);
    assert_succeeds(evsig_signal(loop, SIGUSR1, record_cb, &r, NULL));
    /* The loop thread blocks it: only the worker can take it. */
    tu_sigmask(SIG_BLOCK, SIGUSR1);
    worker_start(&w);

    t0 = tu_now();
    assert_int_equal(pthread_kill(w.thread, SIGUSR1), 0);
    assert_true(TU_RUN_UNTIL(loop, r.n == 1, 1.0));
    print_message("the callback ran %.4f s after pthread_kill\n", tu_now() - t0);
    assert_int_equal(r.off_loop, 0);   /* on this thread, inside ev_run() */
    assert_int_equal(r.first.code, SI_TKILL);
    assert_int_equal(r.first.pid, getpid());

    worker_finish(&w);
    assert_int_equal(w.read_eintr, 0);   /* SA_RESTART in the worker too */
    {
        sigset_t pending;

        sigpending(&pending);
        assert_false(sigismember(&pending, SIGUSR1));   /* not left for us */
    }
    tu_sigmask(SIG_UNBLOCK, SIGUSR1);
}

static void test_process_directed_kills_reach_the_loop_thread_while_three_workers_block_them(void **unused)
{
    enum { NSEND = 20 };
    struct ev_loop *loop = tu_default_loop();
    const int rt = SIGRTMIN + 3;
    struct worker w[3];
    struct record rrt, rusr;
    (void)unused;

    record_init(&rrt);
    record_init(&rusr);
    assert_succeeds(evsig_signal(loop, rt, record_cb, &rrt, NULL));
    assert_succeeds(evsig_signal(loop, SIGUSR1, record_cb, &rusr, NULL));
    for (int i = 0; i < 3; i++) {
        memset(&w[i], 0, sizeof(w[i]));
        w[i].block[0] = rt;
        w[i].block[1] = SIGUSR1;
        worker_start(&w[i]);
    }
    /* The sender blocks them too, so the kernel must pick the loop thread,
     * which is in ev_run() when they arrive. */
    w[1].send_rt = rt;
    w[1].nsend = NSEND;
    w[1].send_std = SIGUSR1;
    assert_int_equal(write(w[1].go[1], "s", 1), 1);

    assert_true(TU_RUN_UNTIL(loop, rrt.n == NSEND && rusr.n >= 1, 5));
    await_byte(w[1].ready[0]);   /* the sender is done */
    for (int i = 0; i < 3; i++)
        worker_finish(&w[i]);

    assert_int_equal(rrt.off_loop, 0);
    assert_int_equal(rusr.off_loop, 0);
    assert_int_equal(rrt.nvalues, NSEND);
    for (int i = 0; i < NSEND; i++)
        assert_int_equal(rrt.values[i], i);
    assert_int_equal(rusr.first.code, SI_USER);
    assert_int_equal(rusr.first.pid, getpid());
    for (int i = 0; i < 3; i++)
        assert_true(w[i].still_blocked);   /* evsig left their masks alone */
    /* Nothing more arrives. */
    assert_false(TU_RUN_UNTIL(loop, rrt.n > NSEND || rusr.n > 1, 0.1));
}

/* --- sigpending ---------------------------------------------------------- */

static void test_sigpending_sees_a_blocked_signal_that_evsig_delivers_once_unblocked(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    const int rt = SIGRTMIN + 5;
    struct record r, rrt;
    sigset_t pending;
    (void)unused;

    record_init(&r);
    record_init(&rrt);
    assert_succeeds(evsig_signal(loop, SIGUSR1, record_cb, &r, NULL));
    assert_succeeds(evsig_signal(loop, rt, record_cb, &rrt, NULL));
    tu_sigmask(SIG_BLOCK, SIGUSR1);
    tu_sigmask(SIG_BLOCK, rt);

    raise(SIGUSR1);
    raise(SIGUSR1);   /* a standard signal: one pending */
    assert_int_equal(tu_sigqueue_self(rt, 1), 0);
    assert_int_equal(tu_sigqueue_self(rt, 2), 0);   /* real-time: both queue */
    assert_int_equal(sigpending(&pending), 0);
    assert_true(sigismember(&pending, SIGUSR1));
    assert_true(sigismember(&pending, rt));
    for (int i = 0; i < 3; i++)
        ev_run(loop, EVRUN_NOWAIT);
    assert_int_equal(r.n, 0);
    assert_int_equal(rrt.n, 0);

    tu_sigmask(SIG_UNBLOCK, SIGUSR1);
    tu_sigmask(SIG_UNBLOCK, rt);
    assert_int_equal(sigpending(&pending), 0);
    assert_false(sigismember(&pending, SIGUSR1));
    assert_false(sigismember(&pending, rt));
    assert_int_equal(r.n, 0);   /* on the loop, not at the unblock */

    assert_true(TU_RUN_UNTIL(loop, r.n == 1 && rrt.n == 2, 5));
    /* Exactly once: give a second delivery time to show up. */
    assert_false(TU_RUN_UNTIL(loop, r.n > 1 || rrt.n > 2, 0.2));
    assert_int_equal(r.off_loop, 0);
    assert_int_equal(r.first.code, SI_TKILL);
    assert_int_equal(rrt.nvalues, 2);
    assert_int_equal(rrt.values[0], 1);
    assert_int_equal(rrt.values[1], 2);
}

/* --- pidfd_send_signal --------------------------------------------------- */

static void test_pidfd_send_signal_reaches_the_handler_with_si_user(void **unused)
{
#if defined(SYS_pidfd_open) && defined(SYS_pidfd_send_signal)
    struct ev_loop *loop = tu_default_loop();
    struct record r;
    siginfo_t si;
    int fd;
    (void)unused;

    fd = (int)syscall(SYS_pidfd_open, getpid(), 0);
    if (fd < 0 && (errno == ENOSYS || errno == EPERM)) {
        print_message("pidfd_open: %s: this kernel has no pidfd; skipped\n",
                      tu_errname(errno));
        skip();
    }
    assert_true(fd >= 0);

    record_init(&r);
    assert_succeeds(evsig_signal(loop, SIGUSR1, record_cb, &r, NULL));
    if (syscall(SYS_pidfd_send_signal, fd, SIGUSR1, NULL, 0) != 0) {
        int err = errno;

        close(fd);
        if (err == ENOSYS || err == EPERM) {
            print_message("pidfd_send_signal: %s; skipped\n", tu_errname(err));
            skip();
        }
        fail_msg("pidfd_send_signal: %s", tu_errname(err));
    }
    assert_true(TU_RUN_UNTIL(loop, r.n == 1, 5));
    assert_int_equal(r.off_loop, 0);
    assert_int_equal(r.first.signo, SIGUSR1);
    assert_int_equal(r.first.code, SI_USER);
    assert_int_equal(r.first.pid, getpid());
    assert_int_equal(r.first.uid, getuid());

    /* With a siginfo of our own (allowed to one's own process): SI_QUEUE
     * and its value arrive too. */
    memset(&si, 0, sizeof(si));
    si.si_signo = SIGUSR1;
    si.si_code = SI_QUEUE;
    si.si_pid = getpid();
    si.si_uid = getuid();
    si.si_value.sival_int = 77;
    assert_int_equal(syscall(SYS_pidfd_send_signal, fd, SIGUSR1, &si, 0), 0);
    assert_true(TU_RUN_UNTIL(loop, r.n == 2, 5));
    assert_int_equal(r.last.code, SI_QUEUE);
    assert_int_equal(r.last.value.sival_int, 77);
    close(fd);
#else
    (void)unused;
    print_message("no SYS_pidfd_open/SYS_pidfd_send_signal in these headers; skipped\n");
    skip();
#endif
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_alarm_runs_a_sigalrm_table_handler_on_the_loop, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_setitimer_ticks_reach_a_handler_and_getitimer_shows_it_running, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_raise_reaches_the_handler_on_the_loop_with_si_tkill, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_pthread_kill_to_another_thread_wakes_the_loop_and_runs_on_the_loop_thread, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_process_directed_kills_reach_the_loop_thread_while_three_workers_block_them, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_sigpending_sees_a_blocked_signal_that_evsig_delivers_once_unblocked, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_pidfd_send_signal_reaches_the_handler_with_si_user, tu_setup, tu_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

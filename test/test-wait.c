/* SPDX-License-Identifier: MIT */
/*
 * test-wait.c - evsig_pause() and the cooperative waits evsig_sigwait(),
 * evsig_sigwaitinfo(), evsig_sigtimedwait() (DESIGN.md §3.5).
 *
 * Signals are sent from ev_timer callbacks, so they arrive while the wait
 * runs the loop. Waits without a timeout are bounded by a "cap" timer that
 * sends a signal the wait also accepts and records that the cap fired: a
 * wait that misses the signal under test then returns with the cap's, and
 * the test fails instead of hanging.
 */
#define _GNU_SOURCE   /* pipe2() */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
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

/* --- helpers ------------------------------------------------------------- */

struct counts {
    int        n[NSIG];
    int        total;
    evsig_info last;
};

static void count_cb(struct ev_loop *loop, const evsig_info *info, void *data)
{
    struct counts *c = data;
    (void)loop;

    c->n[info->signo]++;
    c->total++;
    c->last = *info;
}

/*
 * A timer that raises a signal (or calls a function). Shots live in a
 * static pool, not on the test's stack: a failed assertion leaves the test
 * function by longjmp() with its timers still in the default loop, and
 * the fixture (wait_teardown) stops them there before they dangle.
 */
struct shot {
    ev_timer        timer;
    struct ev_loop *loop;
    bool            in_use;
    int             sig;
    int             fired;
    void          (*fn)(struct ev_loop *loop, struct shot *s);
    void           *arg;
};

static struct shot shot_pool[16];

static struct shot *shot_new(void (*fn)(struct ev_loop *, struct shot *),
                             void *arg)
{
    for (size_t i = 0; i < sizeof(shot_pool) / sizeof(shot_pool[0]); i++) {
        struct shot *s = &shot_pool[i];

        if (!s->in_use) {
            memset(s, 0, sizeof(*s));
            s->in_use = true;
            s->fn = fn;
            s->arg = arg;
            return s;
        }
    }
    abort();   /* a test holds more shots than the pool has */
}

static void shot_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    struct shot *s = (struct shot *)t;
    (void)revents;

    s->fired++;
    if (s->fn)
        s->fn(loop, s);
    else
        raise(s->sig);
}

/* Fire after @after seconds, then every @repeat seconds (0: once). */
static void shot_repeat(struct shot *s, struct ev_loop *loop, double after,
                        double repeat, int sig)
{
    s->sig = sig;
    s->fired = 0;
    s->loop = loop;
    ev_now_update(loop);
    ev_timer_init(&s->timer, shot_cb, after, repeat);
    ev_timer_start(loop, &s->timer);
}

static void shot_start(struct shot *s, struct ev_loop *loop, double after,
                       int sig)
{
    shot_repeat(s, loop, after, 0., sig);
}

/* Stop it; it goes back to the pool. */
static void shot_stop(struct shot *s, struct ev_loop *loop)
{
    ev_timer_stop(loop, &s->timer);
    s->in_use = false;
}

static int wait_teardown(void **state)
{
    for (size_t i = 0; i < sizeof(shot_pool) / sizeof(shot_pool[0]); i++) {
        struct shot *s = &shot_pool[i];

        if (s->in_use && s->loop)
            ev_timer_stop(s->loop, &s->timer);
        s->in_use = false;
    }
    return tu_teardown(state);
}

static void same_action(const struct sigaction *a, const struct sigaction *b)
{
    assert_ptr_equal((void *)a->sa_handler, (void *)b->sa_handler);
    assert_int_equal(a->sa_flags, b->sa_flags);
    for (int s = 1; s < NSIG; s++)
        assert_int_equal(sigismember(&a->sa_mask, s), sigismember(&b->sa_mask, s));
}

/* --- evsig_pause() ------------------------------------------------------- */

/* The cap: SIGURG with a table handler, 3 s after the start. */
#define CAP_SIG SIGURG

static void test_pause_returns_after_a_table_handler_ran_for_a_signal_a_timer_sent(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct counts c = { 0 }, cap = { 0 };
    struct shot *send = shot_new(NULL, NULL), *capper = shot_new(NULL, NULL);
    double t0;
    (void)unused;

    assert_succeeds(evsig_signal(loop, SIGUSR1, count_cb, &c, NULL));
    assert_succeeds(evsig_signal(loop, CAP_SIG, count_cb, &cap, NULL));
    shot_start(send, loop, 0.05, SIGUSR1);
    shot_start(capper, loop, 3.0, CAP_SIG);
    t0 = tu_now();
    assert_int_equal(evsig_pause(loop), 0);
    assert_int_equal(c.n[SIGUSR1], 1);
    assert_int_equal(cap.total, 0);
    assert_true(tu_now() - t0 >= 0.04);   /* it did wait for the timer */
    shot_stop(send, loop);
    shot_stop(capper, loop);
}

static void test_pause_returns_after_a_watcher_ran(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct counts c = { 0 }, cap = { 0 };
    struct shot *send = shot_new(NULL, NULL), *capper = shot_new(NULL, NULL);
    evsig_watcher w;
    (void)unused;

    assert_succeeds(evsig_watch(loop, &w, SIGUSR2, count_cb, &c, EVSIG_NOREF));
    assert_succeeds(evsig_signal(loop, CAP_SIG, count_cb, &cap, NULL));
    shot_start(send, loop, 0.02, SIGUSR2);
    shot_start(capper, loop, 3.0, CAP_SIG);
    assert_int_equal(evsig_pause(loop), 0);
    assert_int_equal(c.n[SIGUSR2], 1);
    assert_int_equal(cap.total, 0);
    shot_stop(send, loop);
    shot_stop(capper, loop);
    assert_int_equal(evsig_unwatch(&w), 0);
}

struct sender {
    int       go[2];     /* the loop writes a byte: send now */
    pthread_t thread;
    int       sig;
};

static void *sender_main(void *arg)
{
    struct sender *s = arg;
    unsigned char b;
    sigset_t all;

    /* Receive nothing here: this thread only sends. */
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    if (read(s->go[0], &b, 1) == 1)
        kill(getpid(), s->sig);
    return NULL;
}

static void write_go(struct ev_loop *loop, struct shot *s)
{
    struct sender *snd = s->arg;
    (void)loop;
    assert_int_equal(write(snd->go[1], "g", 1), 1);
}

static void test_pause_returns_after_a_handler_ran_for_a_signal_another_thread_sent(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct counts c = { 0 }, cap = { 0 };
    struct shot *go = shot_new(write_go, NULL), *capper = shot_new(NULL, NULL);
    struct sender snd = { .sig = SIGUSR1 };
    (void)unused;

    tu_pipe(snd.go);
    assert_int_equal(fcntl(snd.go[0], F_SETFL, 0), 0);   /* the thread blocks */
    assert_succeeds(evsig_signal(loop, SIGUSR1, count_cb, &c, NULL));
    assert_succeeds(evsig_signal(loop, CAP_SIG, count_cb, &cap, NULL));
    assert_int_equal(pthread_create(&snd.thread, NULL, sender_main, &snd), 0);
    go->arg = &snd;
    shot_start(go, loop, 0.02, 0);
    shot_start(capper, loop, 3.0, CAP_SIG);
    assert_int_equal(evsig_pause(loop), 0);
    assert_int_equal(c.n[SIGUSR1], 1);
    assert_int_equal(cap.total, 0);
    assert_int_equal(go->fired, 1);
    assert_int_equal(pthread_join(snd.thread, NULL), 0);
    shot_stop(go, loop);
    shot_stop(capper, loop);
    close(snd.go[0]);
    close(snd.go[1]);
}

static void raise_unhandled(struct ev_loop *loop, struct shot *s)
{
    (void)loop;
    (void)s;
    raise(SIGUSR2);    /* a foreign handler's */
    raise(SIGWINCH);   /* SIG_DFL, ignored by default */
    raise(SIGTTIN);    /* EVSIG_IGN */
}

/* In a child (it installs a foreign handler it could not put back exactly
 * through glibc): a foreign handler's signal, an ignored one and an
 * EVSIG_IGN one come first; only the handled one may end the pause. */
static void pause_through_unhandled_signals(void *arg)
{
    struct ev_loop *loop = ev_loop_new(EVFLAG_NOENV);
    struct counts c = { 0 };
    struct shot *unhandled = shot_new(raise_unhandled, NULL), *handled = shot_new(NULL, NULL);
    struct sigaction foreign;
    (void)arg;

    TU_CHILD_CHECK(loop != NULL);
    memset(&foreign, 0, sizeof(foreign));
    foreign.sa_handler = tu_foreign_handler;
    sigemptyset(&foreign.sa_mask);
    foreign.sa_flags = SA_RESTART;
    TU_CHILD_CHECK(sigaction(SIGUSR2, &foreign, NULL) == 0);
    tu_foreign_hits = 0;
    TU_CHILD_CHECK(evsig_signal(NULL, SIGTTIN, EVSIG_IGN, NULL, NULL) == 0);
    TU_CHILD_CHECK(evsig_signal(loop, SIGUSR1, count_cb, &c, NULL) == 0);

    shot_start(unhandled, loop, 0.02, 0);
    shot_start(handled, loop, 0.3, SIGUSR1);   /* ends the pause */
    TU_CHILD_CHECK(evsig_pause(loop) == 0);
    /* The unhandled ones came and went; only the handled one ended it. */
    TU_CHILD_CHECK(unhandled->fired == 1);
    TU_CHILD_CHECK(tu_foreign_hits == 1);
    TU_CHILD_CHECK(handled->fired == 1);
    TU_CHILD_CHECK(c.n[SIGUSR1] == 1);
    _exit(0);
}

static void test_pause_does_not_return_for_a_signal_no_evsig_handler_handles(void **unused)
{
    (void)unused;
    tu_assert_child_exit(tu_fork(pause_through_unhandled_signals, NULL), 0, 10);
}

/* --- cooperative waits --------------------------------------------------- */

enum wait_kind { SIGWAIT, SIGWAITINFO, SIGTIMEDWAIT };

/* Run one kind of wait; returns the signal, 0 on timeout, -1. */
static int do_wait(enum wait_kind kind, struct ev_loop *loop,
                   const sigset_t *set, evsig_info *info, double timeout)
{
    int sig = 0;

    switch (kind) {
    case SIGWAIT:
        memset(info, 0, sizeof(*info));
        if (evsig_sigwait(loop, set, &sig) < 0)
            return -1;
        return sig;
    case SIGWAITINFO:
        return evsig_sigwaitinfo(loop, set, info);
    default:
        return evsig_sigtimedwait(loop, set, info, timeout);
    }
}

/* The 5th tick raises SIGUSR1. */
static void tick(struct ev_loop *loop, struct shot *s)
{
    (void)loop;
    if (s->fired == 5)
        raise(SIGUSR1);
}

static void test_waits_keep_other_watchers_running_while_they_wait(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    sigset_t set = tu_sigset(SIGUSR1, CAP_SIG, 0);
    (void)unused;

    for (int kind = SIGWAIT; kind <= SIGTIMEDWAIT; kind++) {
        struct shot *ticker = shot_new(tick, NULL);
        struct shot *capper = shot_new(NULL, NULL);
        evsig_info info;

        shot_repeat(ticker, loop, 0.01, 0.01, 0);
        shot_start(capper, loop, 3.0, CAP_SIG);
        assert_int_equal(do_wait(kind, loop, &set, &info, 3.0), SIGUSR1);
        assert_true(ticker->fired >= 5);
        assert_int_equal(capper->fired, 0);
        shot_stop(ticker, loop);
        shot_stop(capper, loop);
    }
}

static void test_a_signal_a_wait_returns_is_consumed_no_handler_or_watcher_sees_it(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct counts table = { 0 }, watched = { 0 };
    sigset_t set = tu_sigset(SIGUSR1, 0);
    evsig_watcher w;
    (void)unused;

    assert_succeeds(evsig_signal(loop, SIGUSR1, count_cb, &table, NULL));
    assert_succeeds(evsig_watch(loop, &w, SIGUSR1, count_cb, &watched, 0));

    for (int kind = SIGWAIT; kind <= SIGTIMEDWAIT; kind++) {
        struct shot *send = shot_new(NULL, NULL);
        evsig_info info;

        shot_start(send, loop, 0.02, SIGUSR1);
        assert_int_equal(do_wait(kind, loop, &set, &info, 3.0), SIGUSR1);
        shot_stop(send, loop);
        for (int i = 0; i < 5; i++)
            ev_run(loop, EVRUN_NOWAIT);
        assert_int_equal(table.total, 0);
        assert_int_equal(watched.total, 0);
    }

    /* They were live all along: outside a wait they see it. */
    raise(SIGUSR1);
    assert_true(TU_RUN_UNTIL(loop, table.total == 1 && watched.total == 1, 5));
    assert_int_equal(evsig_unwatch(&w), 0);
}

/* In a child: SIGTERM and SIGUSR1 at SIG_DFL, waited for. If the wait does
 * not catch them, the child dies of them. */
static void wait_for_default_action_signals(void *arg)
{
    struct ev_loop *loop = ev_loop_new(EVFLAG_NOENV);
    sigset_t set = tu_sigset(SIGTERM, SIGUSR1, 0);
    struct sigaction dfl, before_term, before_usr1, after;
    evsig_info info;
    struct shot *send = shot_new(NULL, NULL);
    (void)arg;

    TU_CHILD_CHECK(loop != NULL);
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    TU_CHILD_CHECK(sigaction(SIGTERM, &dfl, NULL) == 0);
    TU_CHILD_CHECK(sigaction(SIGUSR1, &dfl, NULL) == 0);
    sigaction(SIGTERM, NULL, &before_term);
    sigaction(SIGUSR1, NULL, &before_usr1);

    shot_start(send, loop, 0.02, SIGTERM);
    TU_CHILD_CHECK(evsig_sigtimedwait(loop, &set, &info, 3.0) == SIGTERM);
    TU_CHILD_CHECK(info.signo == SIGTERM);
    sigaction(SIGTERM, NULL, &after);
    TU_CHILD_CHECK(tu_same_sigaction(&after, &before_term));
    sigaction(SIGUSR1, NULL, &after);
    TU_CHILD_CHECK(tu_same_sigaction(&after, &before_usr1));

    shot_start(send, loop, 0.02, SIGUSR1);
    TU_CHILD_CHECK(evsig_sigwaitinfo(loop, &set, &info) == SIGUSR1);
    sigaction(SIGUSR1, NULL, &after);
    TU_CHILD_CHECK(tu_same_sigaction(&after, &before_usr1));
    sigaction(SIGTERM, NULL, &after);
    TU_CHILD_CHECK(tu_same_sigaction(&after, &before_term));
    _exit(0);
}

static void test_a_wait_catches_a_default_action_signal_and_the_process_survives(void **unused)
{
    (void)unused;
    tu_assert_child_exit(tu_fork(wait_for_default_action_signals, NULL), 0, 10);
}

/* In a child (it sets dispositions it could not put back exactly through
 * glibc): a foreign handler with unusual flags and mask, an ignored signal
 * and one at SIG_DFL, each waited for in turn. */
static void wait_over_foreign_dispositions(void *arg)
{
    struct ev_loop *loop = ev_loop_new(EVFLAG_NOENV);
    sigset_t set = tu_sigset(SIGUSR2, SIGWINCH, SIGUSR1, 0);
    struct sigaction foreign, ign, before[3], after;
    const int sigs[3] = { SIGUSR2, SIGWINCH, SIGUSR1 };
    evsig_info info;
    (void)arg;

    TU_CHILD_CHECK(loop != NULL);
    memset(&foreign, 0, sizeof(foreign));
    foreign.sa_handler = tu_foreign_handler;
    sigemptyset(&foreign.sa_mask);
    sigaddset(&foreign.sa_mask, SIGINT);
    sigaddset(&foreign.sa_mask, SIGHUP);
    foreign.sa_flags = SA_NODEFER | SA_ONSTACK;
    TU_CHILD_CHECK(sigaction(SIGUSR2, &foreign, NULL) == 0);
    memset(&ign, 0, sizeof(ign));
    ign.sa_handler = SIG_IGN;
    TU_CHILD_CHECK(sigaction(SIGWINCH, &ign, NULL) == 0);
    for (int i = 0; i < 3; i++)
        sigaction(sigs[i], NULL, &before[i]);
    tu_foreign_hits = 0;

    for (int i = 0; i < 3; i++) {
        struct shot *send = shot_new(NULL, NULL);

        shot_start(send, loop, 0.02, sigs[i]);
        TU_CHILD_CHECK(evsig_sigtimedwait(loop, &set, &info, 3.0) == sigs[i]);
        shot_stop(send, loop);
        for (int j = 0; j < 3; j++) {
            sigaction(sigs[j], NULL, &after);
            TU_CHILD_CHECK(tu_same_sigaction(&after, &before[j]));
        }
    }
    TU_CHILD_CHECK(tu_foreign_hits == 0);   /* consumed, not passed on */
    _exit(0);
}

static void test_a_wait_puts_back_exactly_the_disposition_it_found(void **unused)
{
    (void)unused;
    tu_assert_child_exit(tu_fork(wait_over_foreign_dispositions, NULL), 0, 10);
}

static void test_sigtimedwait_returns_zero_when_its_timeout_passes(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    sigset_t set = tu_sigset(SIGUSR1, 0);
    const double timeouts[] = { 0.2, 0.05, 0.0 };
    struct sigaction before, after;
    evsig_info info;
    (void)unused;

    sigaction(SIGUSR1, NULL, &before);
    for (size_t i = 0; i < sizeof(timeouts) / sizeof(timeouts[0]); i++) {
        double t0 = tu_now(), elapsed;

        assert_int_equal(evsig_sigtimedwait(loop, &set, &info, timeouts[i]), 0);
        elapsed = tu_now() - t0;
        print_message("timeout %.2f s: returned after %.4f s\n", timeouts[i], elapsed);
        assert_true(elapsed >= timeouts[i]);
        assert_true(elapsed <= timeouts[i] + 0.3);
    }
    sigaction(SIGUSR1, NULL, &after);
    same_action(&after, &before);
}

static void exit_now(void *arg)
{
    (void)arg;
}

/* evsig.h: "errno is left alone on success". While a wait runs the loop,
 * libev's SIGCHLD watcher calls waitpid(-1), which fails with ECHILD when
 * the child is already reaped: that must not leak out of a successful
 * wait. */
static void test_waits_leave_errno_alone_on_success(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    sigset_t set = tu_sigset(SIGUSR1, 0);
    (void)unused;

    for (int kind = SIGWAIT; kind <= SIGTIMEDWAIT + 1; kind++) {
        struct shot *send = shot_new(NULL, NULL);
        evsig_info info;
        int r;

        /* A SIGCHLD the loop has not processed, for a child reaped here. */
        tu_assert_child_exit(tu_fork(exit_now, NULL), 0, 5);
        if (kind <= SIGTIMEDWAIT)
            shot_start(send, loop, 0.05, SIGUSR1);
        errno = 4242;
        if (kind <= SIGTIMEDWAIT)
            r = do_wait(kind, loop, &set, &info, 3.0);
        else
            r = evsig_sigtimedwait(loop, &set, &info, 0.05);   /* times out */
        assert_int_equal(errno, 4242);
        assert_int_equal(r, kind <= SIGTIMEDWAIT ? SIGUSR1 : 0);
        if (kind <= SIGTIMEDWAIT)
            shot_stop(send, loop);
    }
}

static void queue_4242(struct ev_loop *loop, struct shot *s)
{
    (void)loop;
    assert_int_equal(tu_sigqueue_self(s->sig, 4242), 0);
}

static void test_sigtimedwait_reports_the_sigqueue_senders_pid_uid_code_and_value(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    const int sigs[2] = { SIGUSR1, SIGRTMIN + 4 };
    (void)unused;

    for (int i = 0; i < 2; i++) {
        sigset_t set = tu_sigset(sigs[i], 0);
        struct shot *send = shot_new(queue_4242, NULL);
        evsig_info info;

        shot_start(send, loop, 0.02, sigs[i]);
        assert_int_equal(evsig_sigtimedwait(loop, &set, &info, 3.0), sigs[i]);
        shot_stop(send, loop);
        assert_int_equal(info.signo, sigs[i]);
        assert_int_equal(info.code, SI_QUEUE);
        assert_int_equal(info.pid, getpid());
        assert_int_equal(info.uid, getuid());
        assert_int_equal(info.value.sival_int, 4242);
        assert_int_equal(info.lost, 0);
    }
}

/* The child: on a byte from the parent, kill() it, then wait for EOF. */
struct killer {
    int go[2];
};

static void killer_main(void *arg)
{
    struct killer *k = arg;
    unsigned char b;

    close(k->go[1]);
    /* The read end is non-blocking: make it blocking here. */
    fcntl(k->go[0], F_SETFL, 0);
    TU_CHILD_CHECK(read(k->go[0], &b, 1) == 1);
    TU_CHILD_CHECK(kill(getppid(), SIGUSR1) == 0);
    while (read(k->go[0], &b, 1) > 0)
        ;   /* stay alive until the parent closes the pipe */
    _exit(0);
}

static void send_go(struct ev_loop *loop, struct shot *s)
{
    struct killer *k = s->arg;
    (void)loop;
    assert_int_equal(write(k->go[1], "g", 1), 1);
}

static void test_sigtimedwait_reports_the_pid_of_a_child_that_sent_kill(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    sigset_t set = tu_sigset(SIGUSR1, 0);
    struct killer k;
    struct shot *go = shot_new(send_go, &k);
    evsig_info info;
    pid_t pid;
    int r;
    (void)unused;

    tu_pipe(k.go);
    pid = tu_fork(killer_main, &k);
    close(k.go[0]);
    /* Signal the child to send only while the wait holds SIGUSR1 (at
     * SIG_DFL otherwise, it would kill this process). */
    shot_start(go, loop, 0.02, 0);
    r = evsig_sigtimedwait(loop, &set, &info, 5.0);
    shot_stop(go, loop);
    close(k.go[1]);
    tu_assert_child_exit(pid, 0, 5);

    assert_int_equal(r, SIGUSR1);
    assert_int_equal(info.code, SI_USER);
    assert_int_equal(info.pid, pid);
    assert_int_equal(info.uid, getuid());
}

static void test_a_wait_receives_a_signal_the_loop_thread_blocks_and_restores_the_mask(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    sigset_t set = tu_sigset(SIGUSR1, SIGUSR2, 0);
    sigset_t before, after, pending;
    evsig_info info;
    struct shot *send = shot_new(NULL, NULL);
    (void)unused;

    tu_sigmask(SIG_BLOCK, SIGUSR1);
    tu_sigmask(SIG_BLOCK, SIGUSR2);
    pthread_sigmask(SIG_SETMASK, NULL, &before);

    /* Pending before the wait started. */
    raise(SIGUSR1);
    sigpending(&pending);
    assert_true(sigismember(&pending, SIGUSR1));
    assert_int_equal(evsig_sigtimedwait(loop, &set, &info, 3.0), SIGUSR1);

    /* Sent while it waits. */
    shot_start(send, loop, 0.02, SIGUSR2);
    assert_int_equal(evsig_sigtimedwait(loop, &set, &info, 3.0), SIGUSR2);
    shot_stop(send, loop);

    pthread_sigmask(SIG_SETMASK, NULL, &after);
    for (int s = 1; s < NSIG; s++)
        assert_int_equal(sigismember(&after, s), sigismember(&before, s));
    sigpending(&pending);
    assert_false(sigismember(&pending, SIGUSR1));
    assert_false(sigismember(&pending, SIGUSR2));

    tu_sigmask(SIG_UNBLOCK, SIGUSR1);
    tu_sigmask(SIG_UNBLOCK, SIGUSR2);
}

struct nested {
    struct shot *outer_timer;
    struct shot *inner_send;
    int         inner_result;
    double      inner_done_at;
};

static void run_inner_wait(struct ev_loop *loop, struct shot *s)
{
    struct nested *n = s->arg;
    sigset_t inner_set = tu_sigset(SIGUSR1, 0);
    evsig_info info;

    /* Both waits hold SIGUSR1: the inner one must get it. */
    n->inner_send = shot_new(NULL, NULL);
    shot_start(n->inner_send, loop, 0.02, SIGUSR1);
    n->inner_result = evsig_sigtimedwait(loop, &inner_set, &info, 2.0);
    shot_stop(n->inner_send, loop);
    n->inner_done_at = tu_now();
    raise(SIGUSR2);   /* now one for the outer wait only */
}

static void test_nested_waits_the_innermost_wait_gets_the_signal(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    sigset_t outer_set = tu_sigset(SIGUSR1, SIGUSR2, 0);
    struct nested n = { .inner_result = -2 };
    struct counts stray = { 0 };
    evsig_info info;
    int r;
    (void)unused;

    /* Waits come before handlers; these only keep a wrongly routed
     * signal from killing the test process. */
    assert_succeeds(evsig_signal(loop, SIGUSR1, count_cb, &stray, NULL));
    assert_succeeds(evsig_signal(loop, SIGUSR2, count_cb, &stray, NULL));
    n.outer_timer = shot_new(run_inner_wait, &n);
    shot_start(n.outer_timer, loop, 0.01, 0);
    r = evsig_sigtimedwait(loop, &outer_set, &info, 3.0);
    shot_stop(n.outer_timer, loop);
    assert_int_equal(n.outer_timer->fired, 1);
    assert_int_equal(n.inner_result, SIGUSR1);
    assert_int_equal(r, SIGUSR2);
    assert_int_equal(stray.total, 0);
}

struct child_result {
    int   calls;
    pid_t pid;
    int   status;
    int   raise_sig;
};

static void child_cb(struct ev_loop *loop, pid_t pid, int status, void *data)
{
    struct child_result *c = data;
    (void)loop;

    c->calls++;
    c->pid = pid;
    c->status = status;
    if (c->raise_sig)
        raise(c->raise_sig);
}

/* A watched child that exits with @code once the test writes a byte to
 * @go[1] (from a timer, so while a wait runs). */
static pid_t fork_child_exiting_on_go(struct ev_loop *loop,
                                      struct child_result *c, int code,
                                      int go[2])
{
    pid_t pid;

    tu_pipe(go);
    pid = assert_succeeds(evsig_fork_and_watch(loop, child_cb, c, 0));
    if (pid == 0) {
        unsigned char b;

        fcntl(go[0], F_SETFL, 0);   /* block here; the parent never reads */
        _exit(read(go[0], &b, 1) == 1 ? code : TU_CHILD_FAILED);
    }
    return pid;
}

static void write_go_fd(struct ev_loop *loop, struct shot *s)
{
    (void)loop;
    assert_int_equal(write(*(int *)s->arg, "g", 1), 1);
}

static void test_a_watched_child_exiting_during_a_wait_still_gets_its_callback(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct child_result c = { .raise_sig = SIGUSR1 };
    sigset_t set = tu_sigset(SIGUSR1, 0);
    struct shot *go = shot_new(write_go_fd, NULL);
    evsig_info info;
    int fds[2], r;
    pid_t pid;
    (void)unused;

    pid = fork_child_exiting_on_go(loop, &c, 3, fds);
    go->arg = &fds[1];
    shot_start(go, loop, 0.02, 0);
    /* The callback raises SIGUSR1, which ends the wait. */
    r = evsig_sigtimedwait(loop, &set, &info, 5.0);
    shot_stop(go, loop);
    close(fds[0]);
    close(fds[1]);
    assert_int_equal(r, SIGUSR1);
    assert_int_equal(c.calls, 1);
    assert_int_equal(c.pid, pid);
    assert_true(WIFEXITED(c.status));
    assert_int_equal(WEXITSTATUS(c.status), 3);
}

static void test_a_wait_for_sigchld_gets_the_exit_and_the_childs_callback_still_runs(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct child_result c = { 0 };
    sigset_t set = tu_sigset(SIGCHLD, 0);
    struct shot *go = shot_new(write_go_fd, NULL);
    evsig_info info;
    int fds[2], r;
    pid_t pid;
    (void)unused;

    /* The child exits while the wait holds SIGCHLD: one that exited
     * before would have been caught by libev's handler, not the wait. */
    pid = fork_child_exiting_on_go(loop, &c, 4, fds);
    go->arg = &fds[1];
    shot_start(go, loop, 0.02, 0);
    r = evsig_sigtimedwait(loop, &set, &info, 5.0);
    shot_stop(go, loop);
    close(fds[0]);
    close(fds[1]);
    assert_int_equal(r, SIGCHLD);
    assert_int_equal(info.pid, pid);
    assert_int_equal(info.code, CLD_EXITED);
    assert_true(WIFEXITED(info.status));
    assert_int_equal(WEXITSTATUS(info.status), 4);
    /* Consuming the signal must not consume the child. */
    assert_true(TU_RUN_UNTIL(loop, c.calls == 1, 5));
    assert_int_equal(c.pid, pid);
    assert_int_equal(WEXITSTATUS(c.status), 4);
}

static void test_waits_reject_empty_sets_null_sigkill_sigstop_and_bad_timeouts(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    sigset_t empty, ok = tu_sigset(SIGUSR1, 0);
    sigset_t withkill = tu_sigset(SIGUSR1, SIGKILL, 0);
    sigset_t withstop = tu_sigset(SIGSTOP, SIGUSR1, 0);
    struct sigaction before, after;
    evsig_info info;
    int sig = 12345;
    (void)unused;

    sigemptyset(&empty);
    sigaction(SIGUSR1, NULL, &before);

    assert_fails_with(evsig_sigwait(loop, &empty, &sig), EINVAL);
    assert_fails_with(evsig_sigwait(loop, &withkill, &sig), EINVAL);
    assert_fails_with(evsig_sigwait(loop, &withstop, &sig), EINVAL);
    assert_fails_with(evsig_sigwait(NULL, &ok, &sig), EINVAL);
    assert_fails_with(evsig_sigwait(loop, NULL, &sig), EINVAL);
    assert_fails_with(evsig_sigwait(loop, &ok, NULL), EINVAL);
    assert_int_equal(sig, 12345);

    assert_fails_with(evsig_sigwaitinfo(loop, &empty, &info), EINVAL);
    assert_fails_with(evsig_sigwaitinfo(loop, &withkill, &info), EINVAL);
    assert_fails_with(evsig_sigwaitinfo(loop, &withstop, &info), EINVAL);
    assert_fails_with(evsig_sigwaitinfo(NULL, &ok, &info), EINVAL);
    assert_fails_with(evsig_sigwaitinfo(loop, NULL, &info), EINVAL);
    assert_fails_with(evsig_sigwaitinfo(loop, &ok, NULL), EINVAL);

    assert_fails_with(evsig_sigtimedwait(loop, &empty, &info, 0.1), EINVAL);
    assert_fails_with(evsig_sigtimedwait(loop, &withkill, &info, 0.1), EINVAL);
    assert_fails_with(evsig_sigtimedwait(loop, &withstop, &info, 0.1), EINVAL);
    assert_fails_with(evsig_sigtimedwait(NULL, &ok, &info, 0.1), EINVAL);
    assert_fails_with(evsig_sigtimedwait(loop, NULL, &info, 0.1), EINVAL);
    assert_fails_with(evsig_sigtimedwait(loop, &ok, NULL, 0.1), EINVAL);
    assert_fails_with(evsig_sigtimedwait(loop, &ok, &info, -0.001), EINVAL);
    assert_fails_with(evsig_sigtimedwait(loop, &ok, &info, -1.0), EINVAL);

    /* Refused before anything was taken over. */
    sigaction(SIGUSR1, NULL, &after);
    same_action(&after, &before);
}

static void reset_now(struct ev_loop *loop, struct shot *s)
{
    (void)loop;
    (void)s;
    assert_int_equal(evsig_reset(), 0);
}

static struct counts reset_cap_counts;

/* Ends an evsig_pause() that missed the reset, so the test fails instead
 * of hanging: the reset cleared the table, so set a handler first. */
static void end_pause(struct ev_loop *loop, struct shot *s)
{
    (void)s;
    assert_int_equal(evsig_signal(loop, SIGUSR2, count_cb, &reset_cap_counts, NULL), 0);
    raise(SIGUSR2);
}

static void test_evsig_reset_from_a_callback_makes_a_wait_in_progress_fail_with_eintr(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    sigset_t set = tu_sigset(SIGUSR1, 0);
    struct sigaction before, after;
    struct counts *c = &reset_cap_counts;
    (void)unused;

    memset(c, 0, sizeof(*c));
    sigaction(SIGUSR1, NULL, &before);
    for (int kind = SIGWAIT; kind <= SIGTIMEDWAIT + 1; kind++) {
        struct shot *reset = shot_new(reset_now, NULL);
        evsig_info info;
        double t0 = tu_now();
        int r;

        shot_start(reset, loop, 0.02, 0);
        errno = 0;
        if (kind <= SIGTIMEDWAIT) {
            r = do_wait(kind, loop, &set, &info, 3.0);
        } else {
            /* evsig_pause() too, capped. */
            struct shot *cap = shot_new(end_pause, NULL);

            assert_succeeds(evsig_signal(loop, SIGUSR2, count_cb, c, NULL));
            shot_start(cap, loop, 3.0, 0);
            r = evsig_pause(loop);
            shot_stop(cap, loop);
        }
        assert_int_equal(r, -1);
        assert_int_equal(errno, EINTR);
        assert_true(tu_now() - t0 < 2.0);
        shot_stop(reset, loop);
        sigaction(SIGUSR1, NULL, &after);
        same_action(&after, &before);
    }
    assert_int_equal(c->total, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pause_returns_after_a_table_handler_ran_for_a_signal_a_timer_sent, tu_setup, wait_teardown),
        cmocka_unit_test_setup_teardown(test_pause_returns_after_a_watcher_ran, tu_setup, wait_teardown),
        cmocka_unit_test_setup_teardown(test_pause_returns_after_a_handler_ran_for_a_signal_another_thread_sent, tu_setup, wait_teardown),
        cmocka_unit_test_setup_teardown(test_pause_does_not_return_for_a_signal_no_evsig_handler_handles, tu_setup, wait_teardown),
        cmocka_unit_test_setup_teardown(test_waits_keep_other_watchers_running_while_they_wait, tu_setup, wait_teardown),
        cmocka_unit_test_setup_teardown(test_a_signal_a_wait_returns_is_consumed_no_handler_or_watcher_sees_it, tu_setup, wait_teardown),
        cmocka_unit_test_setup_teardown(test_a_wait_catches_a_default_action_signal_and_the_process_survives, tu_setup, wait_teardown),
        cmocka_unit_test_setup_teardown(test_a_wait_puts_back_exactly_the_disposition_it_found, tu_setup, wait_teardown),
        cmocka_unit_test_setup_teardown(test_sigtimedwait_returns_zero_when_its_timeout_passes, tu_setup, wait_teardown),
        cmocka_unit_test_setup_teardown(test_waits_leave_errno_alone_on_success, tu_setup, wait_teardown),
        cmocka_unit_test_setup_teardown(test_sigtimedwait_reports_the_sigqueue_senders_pid_uid_code_and_value, tu_setup, wait_teardown),
        cmocka_unit_test_setup_teardown(test_sigtimedwait_reports_the_pid_of_a_child_that_sent_kill, tu_setup, wait_teardown),
        cmocka_unit_test_setup_teardown(test_a_wait_receives_a_signal_the_loop_thread_blocks_and_restores_the_mask, tu_setup, wait_teardown),
        cmocka_unit_test_setup_teardown(test_nested_waits_the_innermost_wait_gets_the_signal, tu_setup, wait_teardown),
        cmocka_unit_test_setup_teardown(test_a_watched_child_exiting_during_a_wait_still_gets_its_callback, tu_setup, wait_teardown),
        cmocka_unit_test_setup_teardown(test_a_wait_for_sigchld_gets_the_exit_and_the_childs_callback_still_runs, tu_setup, wait_teardown),
        cmocka_unit_test_setup_teardown(test_waits_reject_empty_sets_null_sigkill_sigstop_and_bad_timeouts, tu_setup, wait_teardown),
        cmocka_unit_test_setup_teardown(test_evsig_reset_from_a_callback_makes_a_wait_in_progress_fail_with_eintr, tu_setup, wait_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: MIT */
/*
 * test-table.c - the handler table, Python's signal.signal() and
 * signal.getsignal() (DESIGN.md §1, §2, §3.1; evsig_siginterrupt() and
 * evsig_reset() from §3.5).
 *
 * One test per rule. Each checks the kernel's view (sigaction(), the signal
 * mask, sigpending()) beside evsig's own answers, so that a table that says
 * the right thing while the kernel does another cannot pass. Signals are
 * produced with kill, sigqueue, raise, pthread_kill and setitimer; waits on
 * the loop are capped by TU_RUN_UNTIL's timer, never by sleeping. Anything
 * that could kill the test process (a default action that must happen, a
 * real fault) runs in a forked child that reports through its exit status.
 *
 * Foreign handlers installed here are taken away with the raw rt_sigaction
 * system call (tu_put_back_exact()), so that teardown finds each disposition exactly
 * as the test found it; glibc's sigaction() would add SA_RESTORER to a
 * pristine SIG_DFL.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "evsig.h"
#include "test-util.h"

#ifndef SA_RESTORER
#define SA_RESTORER 0x04000000
#endif

/* --- helpers ------------------------------------------------------------- */

/* What a callback saw, call by call. */
struct record {
    pthread_t  loop_thread;
    int        n;
    int        off_loop;     /* calls outside ev_run() or on another thread */
    int        depth_at_call;
    evsig_info first, last;
    void      *data_seen;
    int        values[256];
    unsigned   lost[256];
    int        nvalues;
    unsigned   lost_total;
};

static void record_init(struct record *r)
{
    memset(r, 0, sizeof(*r));
    r->loop_thread = pthread_self();
}

static void record_cb(struct ev_loop *loop, const evsig_info *info, void *data)
{
    struct record *r = data;

    if (ev_depth(loop) < 1 || !pthread_equal(pthread_self(), r->loop_thread))
        r->off_loop++;
    r->depth_at_call = ev_depth(loop);
    if (r->n == 0)
        r->first = *info;
    r->last = *info;
    r->data_seen = data;
    r->n++;
    r->lost_total += info->lost;
    if (info->code == SI_QUEUE && r->nvalues < 256) {
        r->lost[r->nvalues] = info->lost;
        r->values[r->nvalues++] = info->value.sival_int;
    }
}

/* A second callback, to tell table entries apart. */
static void other_cb(struct ev_loop *loop, const evsig_info *info, void *data)
{
    record_cb(loop, info, data);
}

/* TU_RUN_UNTIL on a loop not held in a variable named "loop" (the macro's
 * parameter is also the name of a member it uses: tu_dl_.loop). */
#define RUN_UNTIL_ON(l, cond, timeout) __extension__ ({                     \
        struct ev_loop *loop = (l);                                        \
        TU_RUN_UNTIL(loop, cond, timeout);                                 \
    })

static struct sigaction get_sa(int sig)
{
    struct sigaction sa;

    tu_read_sa(sig, &sa);
    return sa;
}

/* Bounded wait for the thread @tid of this process to block in read(2):
 * /proc/self/task/<tid>/syscall starts with the number of the system call
 * it is blocked in. Returns false after 5 s. */
static bool thread_is_in_read(pid_t tid)
{
    char path[64], buf[128];
    double end = tu_now() + 5.0;

    snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", (int)tid);
    while (tu_now() < end) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

        if (fd >= 0)
            close(fd);
        /* "running" while it runs (atol() would read that as 0, which is
         * SYS_read on x86_64), else the number and arguments. */
        if (n > 0 && buf[0] >= '0' && buf[0] <= '9') {
            buf[n] = '\0';
            if (atol(buf) == SYS_read)
                return true;
        }
        sched_yield();
    }
    return false;
}

/* --- the table and getsignal --------------------------------------------- */

static void test_signal_hands_back_the_previous_handler_and_old_restores_it(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct record a, b;
    evsig_action old, now;
    (void)unused;

    record_init(&a);
    record_init(&b);
    memset(&old, 0x5a, sizeof(old));
    assert_succeeds(evsig_signal(loop, SIGUSR1, record_cb, &a, &old));
    assert_ptr_equal(old.handler, EVSIG_DFL);   /* what the process had */
    assert_null(old.data);

    assert_succeeds(evsig_signal(loop, SIGUSR1, other_cb, &b, &old));
    assert_ptr_equal(old.handler, record_cb);
    assert_ptr_equal(old.data, &a);
    assert_succeeds(evsig_getsignal(SIGUSR1, &now));
    assert_ptr_equal(now.handler, other_cb);
    assert_ptr_equal(now.data, &b);

    /* Restore the previous one from *old, as the contract promises. */
    assert_succeeds(evsig_signal(loop, SIGUSR1, old.handler, old.data, &old));
    assert_ptr_equal(old.handler, other_cb);
    assert_ptr_equal(old.data, &b);
    assert_succeeds(evsig_getsignal(SIGUSR1, &now));
    assert_ptr_equal(now.handler, record_cb);
    assert_ptr_equal(now.data, &a);

    raise(SIGUSR1);
    assert_true(TU_RUN_UNTIL(loop, a.n == 1, 5));
    assert_int_equal(b.n, 0);
    assert_ptr_equal(a.data_seen, &a);

    /* And DFL comes back the same way, reaching the kernel. */
    assert_succeeds(evsig_signal(loop, SIGUSR1, EVSIG_DFL, NULL, &old));
    assert_ptr_equal(old.handler, record_cb);
    assert_ptr_equal(get_sa(SIGUSR1).sa_handler, SIG_DFL);
}

static void test_dfl_and_ign_reach_the_kernel_as_sig_dfl_and_sig_ign(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct record r;
    evsig_action now;
    sigset_t pending;
    (void)unused;

    record_init(&r);
    /* From untouched. */
    assert_succeeds(evsig_signal(NULL, SIGUSR1, EVSIG_IGN, NULL, NULL));
    assert_ptr_equal(get_sa(SIGUSR1).sa_handler, SIG_IGN);
    assert_succeeds(evsig_getsignal(SIGUSR1, &now));
    assert_ptr_equal(now.handler, EVSIG_IGN);
    assert_null(now.data);
    raise(SIGUSR1);   /* the kernel discards it: we live */
    assert_succeeds(sigpending(&pending));
    assert_false(sigismember(&pending, SIGUSR1));

    assert_succeeds(evsig_signal(NULL, SIGUSR1, EVSIG_DFL, NULL, NULL));
    assert_ptr_equal(get_sa(SIGUSR1).sa_handler, SIG_DFL);
    assert_false(get_sa(SIGUSR1).sa_flags & SA_SIGINFO);

    /* From a callback: evsig's handler goes, the kernel gets them. */
    assert_succeeds(evsig_signal(loop, SIGUSR1, record_cb, &r, NULL));
    assert_true(tu_kernel_has_siginfo_handler(SIGUSR1));
    assert_succeeds(evsig_signal(loop, SIGUSR1, EVSIG_IGN, NULL, NULL));
    assert_ptr_equal(get_sa(SIGUSR1).sa_handler, SIG_IGN);
    assert_false(get_sa(SIGUSR1).sa_flags & SA_SIGINFO);
    raise(SIGUSR1);
    tu_spin(loop);
    assert_int_equal(r.n, 0);

    assert_succeeds(evsig_signal(loop, SIGUSR1, record_cb, &r, NULL));
    assert_succeeds(evsig_signal(loop, SIGUSR1, EVSIG_DFL, NULL, NULL));
    assert_ptr_equal(get_sa(SIGUSR1).sa_handler, SIG_DFL);
    assert_false(get_sa(SIGUSR1).sa_flags & SA_SIGINFO);
}

static void test_getsignal_before_any_set_reports_dfl_ign_or_none_for_a_foreign_handler(void **unused)
{
    struct sigaction orig_usr1 = get_sa(SIGUSR1), orig_usr2 = get_sa(SIGUSR2);
    struct sigaction orig_hup = get_sa(SIGHUP), ign;
    evsig_action act;
    (void)unused;

    /* Untouched: the process default. */
    memset(&act, 0x5a, sizeof(act));
    assert_succeeds(evsig_getsignal(SIGUSR1, &act));
    assert_ptr_equal(act.handler, EVSIG_DFL);
    assert_null(act.data);

    /* A foreign SA_SIGINFO handler: Python's None. */
    tu_install_foreign(SIGUSR1, SA_SIGINFO | SA_ONSTACK | SA_RESTART, &ign);
    memset(&act, 0x5a, sizeof(act));
    assert_succeeds(evsig_getsignal(SIGUSR1, &act));
    assert_ptr_equal(act.handler, EVSIG_NONE);
    assert_null(act.data);

    /* A foreign plain handler too. */
    assert_ptr_not_equal(signal(SIGHUP, tu_foreign_handler), SIG_ERR);
    assert_succeeds(evsig_getsignal(SIGHUP, &act));
    assert_ptr_equal(act.handler, EVSIG_NONE);

    /* SIG_IGN set by someone else. */
    memset(&ign, 0, sizeof(ign));
    ign.sa_handler = SIG_IGN;
    assert_int_equal(sigaction(SIGUSR2, &ign, NULL), 0);
    assert_succeeds(evsig_getsignal(SIGUSR2, &act));
    assert_ptr_equal(act.handler, EVSIG_IGN);
    assert_null(act.data);

    /* getsignal only reads: nothing was installed. */
    assert_ptr_equal(get_sa(SIGUSR1).sa_sigaction, tu_foreign_sigaction);
    assert_ptr_equal(get_sa(SIGHUP).sa_handler, tu_foreign_handler);

    /* And old from the first evsig_signal() says the same. */
    assert_succeeds(evsig_signal(NULL, SIGUSR1, EVSIG_DFL, NULL, &act));
    assert_ptr_equal(act.handler, EVSIG_NONE);
    assert_null(act.data);

    evsig_reset();
    tu_put_back_exact(SIGUSR1, &orig_usr1);
    tu_put_back_exact(SIGUSR2, &orig_usr2);
    tu_put_back_exact(SIGHUP, &orig_hup);
}

static void test_evsig_none_given_to_signal_is_einval_and_changes_nothing(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct sigaction before;
    struct record r;
    evsig_action old = { record_cb, &r }, now;
    (void)unused;

    tu_read_sa(SIGUSR1, &before);
    record_init(&r);
    assert_fails_with(evsig_signal(loop, SIGUSR1, EVSIG_NONE, NULL, &old), EINVAL);
    assert_fails_with(evsig_signal(NULL, SIGUSR1, EVSIG_NONE, NULL, NULL), EINVAL);
    tu_assert_same_sa(SIGUSR1, &before);
    assert_succeeds(evsig_getsignal(SIGUSR1, &now));
    assert_ptr_equal(now.handler, EVSIG_DFL);
    assert_ptr_equal(old.handler, record_cb);   /* *old untouched on failure */

    /* Also over a callback already set: it stays. */
    assert_succeeds(evsig_signal(loop, SIGUSR1, record_cb, &r, NULL));
    tu_read_sa(SIGUSR1, &before);
    assert_fails_with(evsig_signal(loop, SIGUSR1, EVSIG_NONE, NULL, NULL), EINVAL);
    tu_assert_same_sa(SIGUSR1, &before);
    assert_succeeds(evsig_getsignal(SIGUSR1, &now));
    assert_ptr_equal(now.handler, record_cb);
    raise(SIGUSR1);
    assert_true(TU_RUN_UNTIL(loop, r.n == 1, 5));
}

static void test_a_null_loop_is_allowed_only_with_dfl_and_ign(void **unused)
{
    struct sigaction before;
    struct record r;
    evsig_action now;
    (void)unused;

    tu_read_sa(SIGUSR2, &before);
    record_init(&r);
    assert_fails_with(evsig_signal(NULL, SIGUSR2, record_cb, &r, NULL), EINVAL);
    tu_assert_same_sa(SIGUSR2, &before);
    assert_succeeds(evsig_getsignal(SIGUSR2, &now));
    assert_ptr_equal(now.handler, EVSIG_DFL);

    assert_succeeds(evsig_signal(NULL, SIGUSR2, EVSIG_IGN, NULL, NULL));
    assert_ptr_equal(get_sa(SIGUSR2).sa_handler, SIG_IGN);
    assert_succeeds(evsig_signal(NULL, SIGUSR2, EVSIG_DFL, NULL, NULL));
    assert_ptr_equal(get_sa(SIGUSR2).sa_handler, SIG_DFL);
}

static void test_a_handler_stays_installed_across_many_deliveries(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct record r;
    (void)unused;

    record_init(&r);
    assert_succeeds(evsig_signal(loop, SIGUSR1, record_cb, &r, NULL));
    for (int i = 1; i <= 10; i++) {
        assert_int_equal(kill(getpid(), SIGUSR1), 0);
        assert_true(TU_RUN_UNTIL(loop, r.n == i, 5));
        assert_true(tu_kernel_has_siginfo_handler(SIGUSR1));   /* no reset-on-use */
    }
    assert_int_equal(r.off_loop, 0);
}

static void test_the_handler_runs_on_the_next_loop_iteration_not_in_signal_context(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct record r;
    (void)unused;

    record_init(&r);
    assert_succeeds(evsig_signal(loop, SIGUSR1, record_cb, &r, NULL));
    /* kill() to oneself with the signal unblocked delivers it before kill()
     * returns: the C handler has run by now. */
    assert_int_equal(kill(getpid(), SIGUSR1), 0);
    assert_int_equal(r.n, 0);
    ev_run(loop, EVRUN_NOWAIT);
    if (r.n == 0)
        assert_true(TU_RUN_UNTIL(loop, r.n == 1, 5));
    assert_int_equal(r.n, 1);
    assert_int_equal(r.off_loop, 0);
    assert_true(r.depth_at_call >= 1);   /* inside ev_run() */
}

/* --- siginfo ------------------------------------------------------------- */

static void test_kill_reports_si_user_with_our_pid_and_uid(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct record r;
    (void)unused;

    record_init(&r);
    assert_succeeds(evsig_signal(loop, SIGUSR1, record_cb, &r, NULL));
    assert_int_equal(kill(getpid(), SIGUSR1), 0);
    assert_true(TU_RUN_UNTIL(loop, r.n == 1, 5));
    assert_int_equal(r.first.signo, SIGUSR1);
    assert_int_equal(r.first.code, SI_USER);
    assert_int_equal(r.first.pid, getpid());
    assert_int_equal(r.first.uid, getuid());
    assert_int_equal(r.first.status, 0);
    assert_int_equal(r.first.lost, 0);
}

static void test_sigqueue_reports_si_queue_with_the_value(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    const int rt = SIGRTMIN + 2;
    struct record r;
    (void)unused;

    record_init(&r);
    assert_succeeds(evsig_signal(loop, rt, record_cb, &r, NULL));
    assert_int_equal(sigqueue(getpid(), rt, (union sigval){ .sival_int = -123456 }), 0);
    assert_true(TU_RUN_UNTIL(loop, r.n == 1, 5));
    assert_int_equal(r.first.signo, rt);
    assert_int_equal(r.first.code, SI_QUEUE);
    assert_int_equal(r.first.value.sival_int, -123456);
    assert_int_equal(r.first.pid, getpid());
    assert_int_equal(r.first.uid, getuid());

    /* A standard signal carries a value too. */
    assert_succeeds(evsig_signal(loop, SIGUSR2, record_cb, &r, NULL));
    assert_int_equal(sigqueue(getpid(), SIGUSR2, (union sigval){ .sival_int = 42 }), 0);
    assert_true(TU_RUN_UNTIL(loop, r.n == 2, 5));
    assert_int_equal(r.last.signo, SIGUSR2);
    assert_int_equal(r.last.code, SI_QUEUE);
    assert_int_equal(r.last.value.sival_int, 42);
}

static void test_raise_and_pthread_kill_report_si_tkill(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct record r;
    (void)unused;

    record_init(&r);
    assert_succeeds(evsig_signal(loop, SIGUSR1, record_cb, &r, NULL));
    assert_int_equal(raise(SIGUSR1), 0);
    assert_true(TU_RUN_UNTIL(loop, r.n == 1, 5));
    assert_int_equal(r.first.code, SI_TKILL);
    assert_int_equal(r.first.pid, getpid());
    assert_int_equal(r.first.uid, getuid());

    assert_int_equal(pthread_kill(pthread_self(), SIGUSR1), 0);
    assert_true(TU_RUN_UNTIL(loop, r.n == 2, 5));
    assert_int_equal(r.last.code, SI_TKILL);
    assert_int_equal(r.last.pid, getpid());
    assert_int_equal(r.last.value.sival_int, 0);   /* no value for SI_TKILL */
}

/* --- queued real-time signals and the ring ------------------------------- */

static void test_fifty_queued_rt_signals_arrive_one_call_each_in_order_with_values(void **unused)
{
    enum { N = 50 };
    struct ev_loop *loop = tu_default_loop();
    const int rt = SIGRTMIN + 4;
    struct record r;
    (void)unused;

    record_init(&r);
    assert_succeeds(evsig_signal(loop, rt, record_cb, &r, NULL));
    /* Queue them all while blocked: on the unblock the C handler runs 50
     * times in a row before the loop sees any (raw libev would merge them
     * into one callback). */
    tu_sigmask(SIG_BLOCK, rt);
    for (int i = 0; i < N; i++)
        assert_int_equal(tu_sigqueue_self(rt, 1000 + i), 0);
    tu_sigmask(SIG_UNBLOCK, rt);
    assert_int_equal(r.n, 0);

    assert_true(TU_RUN_UNTIL(loop, r.n == N, 5));
    assert_false(TU_RUN_UNTIL(loop, r.n > N, 0.1));   /* and no more */
    assert_int_equal(r.nvalues, N);
    for (int i = 0; i < N; i++) {
        assert_int_equal(r.values[i], 1000 + i);
        assert_int_equal(r.lost[i], 0);
    }
    assert_int_equal(r.off_loop, 0);
}

static void test_a_full_ring_counts_what_it_drops_and_reports_it_with_the_next_delivery(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    const int rt = SIGRTMIN + 5;
    const int want = EVSIG_RING_SIZE + 72;
    struct record r;
    struct rlimit rl;
    int sent = 0, gaps = 0;
    (void)unused;

    /* Queued signals count against RLIMIT_SIGPENDING. */
    assert_int_equal(getrlimit(RLIMIT_SIGPENDING, &rl), 0);
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (rlim_t)want + 16) {
        print_message("RLIMIT_SIGPENDING %lu is too low to overflow the ring; skipped\n",
                      (unsigned long)rl.rlim_cur);
        skip();
    }

    record_init(&r);
    assert_succeeds(evsig_signal(loop, rt, record_cb, &r, NULL));
    tu_sigmask(SIG_BLOCK, rt);
    for (int i = 0; i < want; i++) {
        if (tu_sigqueue_self(rt, i) != 0) {
            assert_int_equal(errno, EAGAIN);   /* the rlimit, counted by user */
            break;
        }
        sent++;
    }
    print_message("queued %d real-time signals (ring: %d)\n", sent, EVSIG_RING_SIZE);
    assert_true(sent > EVSIG_RING_SIZE);
    tu_sigmask(SIG_UNBLOCK, rt);   /* the C handler runs for every one now */
    assert_int_equal(r.n, 0);

    assert_true(TU_RUN_UNTIL(loop, r.n >= EVSIG_RING_SIZE, 5));
    assert_false(TU_RUN_UNTIL(loop, r.n > EVSIG_RING_SIZE, 0.1));
    /* The loss is reported "just before" the next delivery that fits. */
    assert_int_equal(tu_sigqueue_self(rt, sent), 0);
    assert_true(TU_RUN_UNTIL(loop, r.nvalues > 0 && r.values[r.nvalues - 1] == sent, 5));

    assert_int_equal(r.n, r.nvalues);
    assert_int_equal((unsigned)r.n + r.lost_total, (unsigned)sent + 1);
    assert_true(r.lost_total > 0);
    /* Each loss sits exactly where values are missing, in order. */
    for (int i = 0; i < r.nvalues; i++) {
        int prev = i ? r.values[i - 1] : -1;

        assert_true(r.values[i] > prev);
        assert_int_equal((unsigned)(r.values[i] - prev - 1), r.lost[i]);
        gaps += r.lost[i] != 0;
    }
    assert_true(gaps >= 1);
    assert_int_equal(r.off_loop, 0);

    /* And the ring works normally afterwards. */
    assert_int_equal(tu_sigqueue_self(rt, 7777), 0);
    assert_true(TU_RUN_UNTIL(loop, r.values[r.nvalues - 1] == 7777, 5));
    assert_int_equal(r.last.lost, 0);
}

/* --- threads ------------------------------------------------------------- */

struct kicker {
    pthread_t thread;
    int       go[2];       /* blocking: the thread waits for a byte */
    int       sig;
    double    sent_at;
};

static void *kicker_main(void *arg)
{
    struct kicker *k = arg;
    sigset_t one;
    unsigned char b;

    sigemptyset(&one);
    sigaddset(&one, k->sig);
    pthread_sigmask(SIG_UNBLOCK, &one, NULL);
    if (read(k->go[0], &b, 1) == 1) {
        k->sent_at = tu_now();
        pthread_kill(pthread_self(), k->sig);   /* taken on this thread */
    }
    return NULL;
}

static void test_a_signal_taken_by_another_thread_wakes_the_loop_and_runs_on_the_loop_thread(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct kicker k = { .sig = SIGUSR2 };
    struct record r;
    double latency;
    (void)unused;

    record_init(&r);
    assert_succeeds(evsig_signal(loop, SIGUSR2, record_cb, &r, NULL));
    tu_sigmask(SIG_BLOCK, SIGUSR2);   /* the loop thread never takes it */
    assert_succeeds(pipe2(k.go, O_CLOEXEC));
    assert_int_equal(pthread_create(&k.thread, NULL, kicker_main, &k), 0);

    /* The loop is blocked in ev_run() when the other thread takes it. */
    assert_int_equal(write(k.go[1], "g", 1), 1);
    assert_true(TU_RUN_UNTIL(loop, r.n == 1, 1.0));
    latency = tu_now() - k.sent_at;
    assert_int_equal(pthread_join(k.thread, NULL), 0);
    print_message("the loop woke %.4f s after pthread_kill\n", latency);
    assert_true(latency < 1.0);
    assert_int_equal(r.off_loop, 0);   /* the loop's thread, in ev_run() */
    assert_int_equal(r.first.code, SI_TKILL);
    close(k.go[0]);
    close(k.go[1]);
    tu_sigmask(SIG_UNBLOCK, SIGUSR2);
}

struct setter {
    struct ev_loop *loop;
    struct record  *r;
    int             rc, err;
};

static void *setter_main(void *arg)
{
    struct setter *s = arg;

    s->rc = evsig_signal(s->loop, SIGUSR1, record_cb, s->r, NULL);
    s->err = errno;
    return NULL;
}

static void test_another_thread_may_set_a_handler_while_the_loop_is_not_running(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct setter s = { .loop = loop };
    pthread_t t;
    struct record r;
    evsig_action now;
    (void)unused;

    record_init(&r);   /* loop_thread: this one, which runs the loop */
    s.r = &r;
    assert_int_equal(pthread_create(&t, NULL, setter_main, &s), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    if (s.rc != 0)
        fail_msg("evsig_signal from another thread: %s", tu_errname(s.err));
    assert_succeeds(evsig_getsignal(SIGUSR1, &now));
    assert_ptr_equal(now.handler, record_cb);
    assert_true(tu_kernel_has_siginfo_handler(SIGUSR1));

    assert_int_equal(kill(getpid(), SIGUSR1), 0);
    assert_true(TU_RUN_UNTIL(loop, r.n == 1, 5));
    assert_int_equal(r.off_loop, 0);   /* run on the loop's thread */
}

/* --- SA_RESTART and evsig_siginterrupt ----------------------------------- */

static void test_the_installed_handler_has_sa_restart_and_siginterrupt_toggles_it(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct record r;
    struct sigaction sa;
    (void)unused;

    record_init(&r);
    assert_succeeds(evsig_signal(loop, SIGUSR1, record_cb, &r, NULL));
    tu_read_sa(SIGUSR1, &sa);
    assert_true(sa.sa_flags & SA_SIGINFO);
    assert_true(sa.sa_flags & SA_RESTART);

    assert_succeeds(evsig_siginterrupt(SIGUSR1, 1));
    tu_read_sa(SIGUSR1, &sa);
    assert_true(sa.sa_flags & SA_SIGINFO);
    assert_false(sa.sa_flags & SA_RESTART);
    raise(SIGUSR1);   /* still evsig's, still works */
    assert_true(TU_RUN_UNTIL(loop, r.n == 1, 5));

    assert_succeeds(evsig_siginterrupt(SIGUSR1, 0));
    assert_true(get_sa(SIGUSR1).sa_flags & SA_RESTART);

    /* Set before evsig installs its handler: applies when it does. */
    assert_succeeds(evsig_siginterrupt(SIGUSR2, 1));
    assert_succeeds(evsig_signal(loop, SIGUSR2, record_cb, &r, NULL));
    assert_false(get_sa(SIGUSR2).sa_flags & SA_RESTART);
    assert_true(get_sa(SIGUSR2).sa_flags & SA_SIGINFO);

    /* evsig_reset() returns every signal to SA_RESTART. */
    evsig_reset();
    assert_succeeds(evsig_signal(loop, SIGUSR2, record_cb, &r, NULL));
    assert_true(get_sa(SIGUSR2).sa_flags & SA_RESTART);
}

static void test_siginterrupt_leaves_a_handler_evsig_did_not_install_alone(void **unused)
{
    struct sigaction orig = get_sa(SIGUSR1), foreign;
    (void)unused;

    tu_install_foreign(SIGUSR1, SA_SIGINFO | SA_ONSTACK | SA_RESTART, &foreign);
    assert_succeeds(evsig_siginterrupt(SIGUSR1, 1));
    tu_assert_same_sa(SIGUSR1, &foreign);
    assert_succeeds(evsig_siginterrupt(SIGUSR1, 0));
    tu_assert_same_sa(SIGUSR1, &foreign);
    assert_fails_with(evsig_siginterrupt(SIGKILL, 1), EINVAL);
    assert_fails_with(evsig_siginterrupt(SIGSTOP, 0), EINVAL);
    assert_fails_with(evsig_siginterrupt(0, 1), EINVAL);
    assert_fails_with(evsig_siginterrupt(NSIG, 1), EINVAL);
    evsig_reset();
    tu_put_back_exact(SIGUSR1, &orig);
}

/*
 * A thread that sends @n queued signals to the process, each only once the
 * loop thread @tid is blocked in read(2), then (if @then_write) a byte to
 * unblock it. If the read never blocks again (it failed, or a bug keeps it
 * blocked) it gives up after 5 s and writes the byte anyway, so the test
 * fails instead of hanging.
 */
struct streamer {
    pthread_t thread;
    pid_t     tid;
    int       sig, n, wfd;
    int       done_rfd;   /* > 0: wait (5 s at most) for a byte here before
                             writing to @wfd, so the read has to end by
                             itself (EINTR) */
    int       sent;
    bool      saw_read;
};

static void *streamer_main(void *arg)
{
    struct streamer *s = arg;
    sigset_t one;

    sigemptyset(&one);
    sigaddset(&one, s->sig);
    pthread_sigmask(SIG_BLOCK, &one, NULL);   /* the loop thread takes them */
    for (int i = 0; i < s->n; i++) {
        if (!thread_is_in_read(s->tid))
            break;
        s->saw_read = true;
        if (sigqueue(getpid(), s->sig, (union sigval){ .sival_int = i }) == 0)
            s->sent++;
    }
    if (s->done_rfd > 0) {
        struct pollfd pfd = { .fd = s->done_rfd, .events = POLLIN };

        if (poll(&pfd, 1, 5000) == 1)
            return NULL;   /* the read ended without our byte */
    }
    (void)!write(s->wfd, "x", 1);
    return NULL;
}

static void test_a_blocking_read_survives_a_stream_of_signals_without_eintr(void **unused)
{
    enum { N = 20 };
    struct ev_loop *loop = tu_default_loop();
    struct streamer s = { .sig = SIGRTMIN + 6, .n = N };
    struct record r;
    int fds[2];
    char c;
    ssize_t got;
    (void)unused;

    record_init(&r);
    assert_succeeds(evsig_signal(loop, s.sig, record_cb, &r, NULL));
    assert_succeeds(pipe2(fds, O_CLOEXEC));   /* blocking */
    s.tid = (pid_t)syscall(SYS_gettid);
    s.wfd = fds[1];
    assert_int_equal(pthread_create(&s.thread, NULL, streamer_main, &s), 0);

    errno = 0;
    got = read(fds[0], &c, 1);
    if (got < 0)
        print_error("read: %s\n", tu_errname(errno));
    assert_int_equal(got, 1);   /* SA_RESTART: no EINTR */
    assert_int_equal(pthread_join(s.thread, NULL), 0);
    assert_true(s.saw_read);
    assert_int_equal(s.sent, N);

    /* Every one of them was caught and reaches the handler. */
    assert_true(TU_RUN_UNTIL(loop, r.n == N, 5));
    for (int i = 0; i < N; i++)
        assert_int_equal(r.values[i], i);
    close(fds[0]);
    close(fds[1]);
}

static void test_siginterrupt_makes_a_blocking_read_fail_with_eintr(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct streamer s = { .sig = SIGRTMIN + 6, .n = 1 };
    struct record r;
    int fds[2], done[2], err;
    char c;
    ssize_t got;
    (void)unused;

    record_init(&r);
    assert_succeeds(evsig_signal(loop, s.sig, record_cb, &r, NULL));
    assert_succeeds(evsig_siginterrupt(s.sig, 1));
    assert_succeeds(pipe2(fds, O_CLOEXEC));
    assert_succeeds(pipe2(done, O_CLOEXEC));
    s.tid = (pid_t)syscall(SYS_gettid);
    s.wfd = fds[1];
    s.done_rfd = done[0];
    assert_int_equal(pthread_create(&s.thread, NULL, streamer_main, &s), 0);

    errno = 0;
    got = read(fds[0], &c, 1);
    err = errno;
    assert_int_equal(write(done[1], "d", 1), 1);
    assert_int_equal(pthread_join(s.thread, NULL), 0);
    close(done[0]);
    close(done[1]);
    assert_true(s.saw_read);
    assert_int_equal(got, -1);
    assert_int_equal(err, EINTR);

    /* The interrupting signal is still delivered to the handler. */
    assert_true(TU_RUN_UNTIL(loop, r.n == 1, 5));
    assert_int_equal(r.first.code, SI_QUEUE);
    close(fds[0]);
    close(fds[1]);
}

/* --- setitimer ----------------------------------------------------------- */

static void test_setitimer_ticks_reach_a_sigalrm_table_handler_again_and_again(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct itimerval every10ms = {
        .it_interval = { 0, 10000 }, .it_value = { 0, 10000 },
    }, off = { { 0, 0 }, { 0, 0 } };
    struct record r;
    (void)unused;

    record_init(&r);
    assert_succeeds(evsig_signal(loop, SIGALRM, record_cb, &r, NULL));
    assert_int_equal(setitimer(ITIMER_REAL, &every10ms, NULL), 0);
    assert_true(TU_RUN_UNTIL(loop, r.n >= 5, 5));
    assert_int_equal(setitimer(ITIMER_REAL, &off, NULL), 0);
    tu_spin(loop);   /* a tick caught just before the disarm */
    assert_int_equal(r.off_loop, 0);
    assert_int_equal(r.first.signo, SIGALRM);
    assert_int_equal(r.first.code, SI_KERNEL);
    assert_int_equal(r.last.code, SI_KERNEL);
}

/* --- replacing a handler between catch and dispatch ---------------------- */

/* DESIGN §3.1: a delivery belongs to the handlers in place when it was
 * received. The first version called the new handler; the contract now
 * drops it (the owner is gone), and the new handler gets the next one. */
static void test_a_delivery_caught_for_a_replaced_handler_goes_to_neither_handler(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct record a, b;
    (void)unused;

    record_init(&a);
    record_init(&b);
    assert_succeeds(evsig_signal(loop, SIGUSR1, record_cb, &a, NULL));
    assert_int_equal(kill(getpid(), SIGUSR1), 0);   /* caught, not dispatched */
    assert_succeeds(evsig_signal(loop, SIGUSR1, other_cb, &b, NULL));
    tu_spin(loop);
    assert_int_equal(a.n, 0);
    assert_int_equal(b.n, 0);
    assert_int_equal(kill(getpid(), SIGUSR1), 0);
    assert_true(TU_RUN_UNTIL(loop, b.n == 1, 5));
    assert_int_equal(a.n, 0);
    assert_int_equal(b.first.code, SI_USER);
}

/* Setting the same handler, data and loop again is no change: what it
 * owns stays owned. */
static void test_setting_the_same_handler_again_keeps_its_caught_delivery(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct record a;
    (void)unused;

    record_init(&a);
    assert_succeeds(evsig_signal(loop, SIGUSR1, record_cb, &a, NULL));
    assert_int_equal(kill(getpid(), SIGUSR1), 0);
    assert_succeeds(evsig_signal(loop, SIGUSR1, record_cb, &a, NULL));
    assert_true(TU_RUN_UNTIL(loop, a.n == 1, 5));
}

static void test_a_handler_replaced_by_ign_between_catch_and_dispatch_is_not_called(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct record r;
    sigset_t pending;
    (void)unused;

    record_init(&r);
    assert_succeeds(evsig_signal(loop, SIGUSR1, record_cb, &r, NULL));
    assert_int_equal(kill(getpid(), SIGUSR1), 0);
    assert_int_equal(kill(getpid(), SIGUSR1), 0);
    assert_succeeds(evsig_signal(loop, SIGUSR1, EVSIG_IGN, NULL, NULL));
    tu_spin(loop);
    assert_false(TU_RUN_UNTIL(loop, r.n > 0, 0.1));
    assert_int_equal(r.n, 0);
    assert_ptr_equal(get_sa(SIGUSR1).sa_handler, SIG_IGN);
    assert_succeeds(sigpending(&pending));
    assert_false(sigismember(&pending, SIGUSR1));   /* not left pending either */
}

/* In a child: a SIGTERM caught for a handler that is replaced by IGN before
 * the loop dispatches it must not kill (nothing happens at all). */
static void child_ign_between_catch_and_dispatch(void *arg)
{
    struct ev_loop *loop = ev_loop_new(EVFLAG_NOENV);
    struct record r;
    (void)arg;

    TU_CHILD_CHECK(loop);
    record_init(&r);
    TU_CHILD_CHECK(evsig_signal(loop, SIGTERM, record_cb, &r, NULL) == 0);
    TU_CHILD_CHECK(kill(getpid(), SIGTERM) == 0);
    TU_CHILD_CHECK(evsig_signal(loop, SIGTERM, EVSIG_IGN, NULL, NULL) == 0);
    for (int i = 0; i < 4; i++)
        ev_run(loop, EVRUN_NOWAIT);
    TU_CHILD_CHECK(r.n == 0);
    _exit(0);
}

static void test_a_sigterm_whose_handler_became_ign_before_dispatch_does_nothing(void **unused)
{
    pid_t pid;
    (void)unused;

    pid = tu_fork(child_ign_between_catch_and_dispatch, NULL);
    tu_assert_child_exit(pid, 0, 10);
}

struct dfl_case {
    int  sig;
    bool use_kill;   /* else sigqueue */
};

/* In a child: the handler is replaced by DFL between catch and dispatch.
 * The delivery's owner is gone: it is dropped (the first version re-raised
 * it and the child died). Exit code 0: survived and nobody was called; 2:
 * the old handler ran. */
static void child_dfl_between_catch_and_dispatch(void *arg)
{
    const struct dfl_case *c = arg;
    struct ev_loop *loop = ev_loop_new(EVFLAG_NOENV);
    struct record r;

    int wake[2];
    unsigned char byte = 0;

    TU_CHILD_CHECK(loop);
    record_init(&r);
    /* The wakeup byte says the C handler has received it (under valgrind
     * a signal to self is not received before sigqueue() returns). */
    TU_CHILD_CHECK(pipe2(wake, O_NONBLOCK) == 0);
    TU_CHILD_CHECK(evsig_set_wakeup_fd(wake[1], 0, NULL) == 0);
    TU_CHILD_CHECK(evsig_signal(loop, c->sig, record_cb, &r, NULL) == 0);
    if (c->use_kill)
        TU_CHILD_CHECK(kill(getpid(), c->sig) == 0);
    else
        TU_CHILD_CHECK(tu_sigqueue_self(c->sig, 5) == 0);
    TU_CHILD_CHECK(tu_read_byte_within(wake[0], 5000, &byte) == 1);
    TU_CHILD_CHECK(byte == c->sig && r.n == 0);
    evsig_signal(loop, c->sig, EVSIG_DFL, NULL, NULL);
    for (int i = 0; i < 4; i++)
        ev_run(loop, EVRUN_NOWAIT);
    _exit(r.n ? 2 : 0);
}

static void test_a_delivery_caught_for_a_handler_replaced_by_dfl_is_dropped_and_the_process_survives(void **unused)
{
    static const struct dfl_case cases[] = {
        { SIGTERM, true }, { SIGUSR1, true }, { SIGUSR2, false },
    };
    (void)unused;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        pid_t pid = tu_fork(child_dfl_between_catch_and_dispatch,
                            (void *)&cases[i]);

        tu_assert_child_exit(pid, 0, 10);
    }
}

/* --- the table's loop ---------------------------------------------------- */

/* The table is process-wide and bound to the loop of the last evsig_signal()
 * that set a callback (Python: the last signal.signal() wins). The first
 * version answered EBUSY here. */
static void test_the_table_follows_the_last_evsig_signal_to_its_loop(void **unused)
{
    struct ev_loop *a = tu_default_loop(), *b = tu_new_loop();
    struct record ra, rb;
    struct sigaction sa;
    evsig_action old = { EVSIG_IGN, NULL }, now;
    (void)unused;

    record_init(&ra);
    record_init(&rb);
    assert_succeeds(evsig_signal(a, SIGUSR1, record_cb, &ra, NULL));
    tu_read_sa(SIGUSR1, &sa);
    assert_succeeds(evsig_signal(b, SIGUSR1, other_cb, &rb, &old));
    assert_ptr_equal(old.handler, record_cb);
    assert_ptr_equal(old.data, &ra);
    tu_assert_same_sa(SIGUSR1, &sa);   /* evsig's handler throughout */
    assert_succeeds(evsig_getsignal(SIGUSR1, &now));
    assert_ptr_equal(now.handler, other_cb);
    assert_ptr_equal(now.data, &rb);

    raise(SIGUSR1);
    assert_true(RUN_UNTIL_ON(b, rb.n == 1, 5));
    tu_spin(a);
    assert_int_equal(ra.n, 0);
    assert_int_equal(rb.off_loop, 0);

    /* And back. */
    assert_succeeds(evsig_signal(a, SIGUSR1, record_cb, &ra, NULL));
    raise(SIGUSR1);
    assert_true(RUN_UNTIL_ON(a, ra.n == 1, 5));
    tu_spin(b);
    assert_int_equal(rb.n, 1);

    evsig_reset();
    ev_loop_destroy(b);
}

/* The table handler on one loop and watchers on another: each delivery
 * reaches both, each on its own loop. */
static void test_a_table_handler_and_watchers_on_different_loops_both_get_every_delivery(void **unused)
{
    struct ev_loop *a = tu_default_loop(), *b = tu_new_loop();
    struct record ra, rb;
    static evsig_watcher w;
    evsig_action now;
    (void)unused;

    record_init(&ra);
    record_init(&rb);
    int sig = SIGRTMIN + 2;   /* queued: three values stay three */

    assert_succeeds(evsig_watch(a, &w, sig, record_cb, &ra, 0));
    assert_succeeds(evsig_signal(b, sig, other_cb, &rb, NULL));
    assert_succeeds(evsig_getsignal(sig, &now));
    assert_ptr_equal(now.handler, other_cb);
    for (int i = 0; i < 3; i++)
        assert_succeeds(tu_sigqueue_self(sig, i));
    assert_true(RUN_UNTIL_ON(a, ra.n == 3, 5));
    assert_true(RUN_UNTIL_ON(b, rb.n == 3, 5));
    assert_int_equal(ra.off_loop + rb.off_loop, 0);
    assert_int_equal(ra.first.value.sival_int, 0);
    assert_int_equal(rb.first.value.sival_int, 0);
    assert_int_equal(ra.last.value.sival_int, 2);
    assert_int_equal(rb.last.value.sival_int, 2);

    evsig_reset();
    ev_loop_destroy(b);
}

static void test_dfl_and_ign_are_never_ebusy_whatever_loop_is_given(void **unused)
{
    struct ev_loop *a = tu_default_loop(), *b = tu_new_loop();
    struct record ra, rw;
    static evsig_watcher w;
    evsig_action now;
    (void)unused;

    record_init(&ra);
    record_init(&rw);
    /* Held on A by a table handler only. */
    assert_succeeds(evsig_signal(a, SIGUSR1, record_cb, &ra, NULL));
    assert_succeeds(evsig_signal(b, SIGUSR1, EVSIG_IGN, NULL, NULL));
    assert_ptr_equal(get_sa(SIGUSR1).sa_handler, SIG_IGN);
    assert_succeeds(evsig_signal(a, SIGUSR1, record_cb, &ra, NULL));
    assert_succeeds(evsig_signal(b, SIGUSR1, EVSIG_DFL, NULL, NULL));
    assert_ptr_equal(get_sa(SIGUSR1).sa_handler, SIG_DFL);

    /* Held on A by a watcher: the table changes, the watcher keeps it. */
    assert_succeeds(evsig_watch(a, &w, SIGUSR1, record_cb, &rw, 0));
    assert_succeeds(evsig_signal(b, SIGUSR1, EVSIG_IGN, NULL, NULL));
    assert_succeeds(evsig_getsignal(SIGUSR1, &now));
    assert_ptr_equal(now.handler, EVSIG_IGN);
    assert_true(tu_kernel_has_siginfo_handler(SIGUSR1));
    raise(SIGUSR1);
    assert_true(RUN_UNTIL_ON(a, rw.n == 1, 5));
    assert_succeeds(evsig_signal(NULL, SIGUSR1, EVSIG_DFL, NULL, NULL));
    assert_succeeds(evsig_unwatch(&w));
    assert_ptr_equal(get_sa(SIGUSR1).sa_handler, SIG_DFL);

    evsig_reset();
    ev_loop_destroy(b);
}

/* --- putting back what was found ----------------------------------------- */

static void test_reset_puts_back_a_foreign_handler_byte_for_byte(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct sigaction orig = get_sa(SIGUSR1), foreign;
    struct record r;
    (void)unused;

    record_init(&r);
    tu_install_foreign(SIGUSR1, SA_SIGINFO | SA_ONSTACK | SA_RESTART, &foreign);
    assert_succeeds(evsig_signal(loop, SIGUSR1, record_cb, &r, NULL));
    assert_ptr_not_equal(get_sa(SIGUSR1).sa_sigaction, tu_foreign_sigaction);
    raise(SIGUSR1);
    assert_true(TU_RUN_UNTIL(loop, r.n == 1, 5));
    assert_int_equal(tu_foreign_hits, 0);   /* evsig's now, not the foreign one */

    assert_int_equal(evsig_reset(), 0);
    tu_assert_same_sa(SIGUSR1, &foreign);
    raise(SIGUSR1);
    assert_int_equal(tu_foreign_hits, 1);   /* and it works */
    assert_int_equal(tu_foreign_code, SI_TKILL);

    /* The same after the table went through DFL and IGN. */
    assert_succeeds(evsig_signal(NULL, SIGUSR1, EVSIG_IGN, NULL, NULL));
    assert_succeeds(evsig_signal(loop, SIGUSR1, record_cb, &r, NULL));
    assert_succeeds(evsig_signal(NULL, SIGUSR1, EVSIG_DFL, NULL, NULL));
    assert_int_equal(evsig_reset(), 0);
    tu_assert_same_sa(SIGUSR1, &foreign);

    tu_put_back_exact(SIGUSR1, &orig);
}

static void test_reset_puts_back_a_sig_ign_it_found(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct sigaction orig = get_sa(SIGUSR2), ign, found;
    struct record r;
    evsig_action old;
    (void)unused;

    record_init(&r);
    memset(&ign, 0, sizeof(ign));
    ign.sa_handler = SIG_IGN;
    assert_int_equal(sigaction(SIGUSR2, &ign, NULL), 0);
    tu_read_sa(SIGUSR2, &found);
    assert_succeeds(evsig_signal(loop, SIGUSR2, record_cb, &r, &old));
    assert_ptr_equal(old.handler, EVSIG_IGN);
    raise(SIGUSR2);
    assert_true(TU_RUN_UNTIL(loop, r.n == 1, 5));
    assert_int_equal(evsig_reset(), 0);
    tu_assert_same_sa(SIGUSR2, &found);
    tu_put_back_exact(SIGUSR2, &orig);
}

/* --- keep-alive ---------------------------------------------------------- */

static void test_a_table_handler_does_not_keep_ev_run_alive(void **unused)
{
    struct ev_loop *loop = tu_new_loop();
    struct record r;
    struct tu_guard g;
    double t0;
    (void)unused;

    record_init(&r);
    assert_succeeds(evsig_signal(loop, SIGUSR1, record_cb, &r, NULL));
    assert_succeeds(evsig_signal(loop, SIGUSR2, record_cb, &r, NULL));
    tu_guard_start(&g, loop, 2.0);
    t0 = tu_now();
    ev_run(loop, 0);
    tu_guard_stop(&g);
    assert_false(g.fired);
    assert_true(tu_now() - t0 < 1.0);

    /* The handlers still work when the loop is run. */
    raise(SIGUSR1);
    assert_true(TU_RUN_UNTIL(loop, r.n == 1, 5));
    /* And still no reference leaked after a delivery. */
    tu_guard_start(&g, loop, 2.0);
    ev_run(loop, 0);
    tu_guard_stop(&g);
    assert_false(g.fired);

    evsig_reset();
    ev_loop_destroy(loop);
}

/* --- EVFLAG_SIGNALFD ----------------------------------------------------- */

/* The second version does not use libev's signal machinery, so a loop made
 * with EVFLAG_SIGNALFD serves evsig signals like any other (the first
 * version refused it with EINVAL): siginfo, queued values, and the signal
 * mask is left alone. */
static void test_a_signalfd_loop_serves_table_handlers_with_siginfo(void **unused)
{
    struct ev_loop *sfd = ev_loop_new(EVFLAG_SIGNALFD | EVFLAG_NOENV);
    sigset_t mask_before, mask_after;
    struct record r;
    evsig_action now;
    (void)unused;

    assert_non_null(sfd);
    record_init(&r);
    assert_int_equal(pthread_sigmask(SIG_SETMASK, NULL, &mask_before), 0);
    assert_succeeds(evsig_signal(sfd, SIGUSR1, record_cb, &r, NULL));
    assert_int_equal(pthread_sigmask(SIG_SETMASK, NULL, &mask_after), 0);
    assert_true(tu_same_sigset(&mask_before, &mask_after));
    assert_true(tu_kernel_has_siginfo_handler(SIGUSR1));
    assert_succeeds(evsig_getsignal(SIGUSR1, &now));
    assert_ptr_equal(now.handler, record_cb);

    assert_succeeds(tu_sigqueue_self(SIGUSR1, 42));
    assert_true(RUN_UNTIL_ON(sfd, r.n == 1, 5));
    assert_int_equal(r.first.code, SI_QUEUE);
    assert_int_equal(r.first.value.sival_int, 42);
    assert_int_equal(r.first.pid, getpid());
    assert_int_equal(r.off_loop, 0);

    evsig_reset();
    ev_loop_destroy(sfd);
}

/* --- synchronous faults -------------------------------------------------- */

static void test_a_sigsegv_sent_with_kill_is_delivered_to_a_handler_on_the_loop(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct record r;
    (void)unused;

    /* cmocka has its own SIGSEGV handler here: evsig records it and puts
     * it back at teardown. */
    record_init(&r);
    assert_succeeds(evsig_signal(loop, SIGSEGV, record_cb, &r, NULL));
    assert_int_equal(kill(getpid(), SIGSEGV), 0);
    assert_true(TU_RUN_UNTIL(loop, r.n == 1, 5));
    assert_int_equal(r.first.signo, SIGSEGV);
    assert_int_equal(r.first.code, SI_USER);
    assert_int_equal(r.first.pid, getpid());
    assert_true(tu_kernel_has_siginfo_handler(SIGSEGV));   /* still evsig's */
}

static void child_real_segfault(void *arg)
{
    struct ev_loop *loop = ev_loop_new(EVFLAG_NOENV);
    struct rlimit nocore = { 0, 0 };
    struct record r;
    /* A page that is mapped but not accessible: touching it faults in the
     * CPU without being undefined behaviour that UBSan would catch first
     * (a NULL store is, under -fsanitize=null). */
    volatile int *volatile p = mmap(NULL, 4096, PROT_NONE,
                                    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    (void)arg;

    TU_CHILD_CHECK(p != MAP_FAILED);
    TU_CHILD_CHECK(loop);
    setrlimit(RLIMIT_CORE, &nocore);
    record_init(&r);
    TU_CHILD_CHECK(evsig_signal(loop, SIGSEGV, record_cb, &r, NULL) == 0);
    *p = 1;   /* the CPU faults: the default action must happen */
    _exit(3);
}

static void test_a_real_segfault_takes_its_default_action_despite_a_handler(void **unused)
{
    pid_t pid;
    (void)unused;

    pid = tu_fork(child_real_segfault, NULL);
    tu_assert_child_killed(pid, SIGSEGV, 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_signal_hands_back_the_previous_handler_and_old_restores_it, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_dfl_and_ign_reach_the_kernel_as_sig_dfl_and_sig_ign, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_getsignal_before_any_set_reports_dfl_ign_or_none_for_a_foreign_handler, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_evsig_none_given_to_signal_is_einval_and_changes_nothing, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_a_null_loop_is_allowed_only_with_dfl_and_ign, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_a_handler_stays_installed_across_many_deliveries, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_the_handler_runs_on_the_next_loop_iteration_not_in_signal_context, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_kill_reports_si_user_with_our_pid_and_uid, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_sigqueue_reports_si_queue_with_the_value, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_raise_and_pthread_kill_report_si_tkill, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_fifty_queued_rt_signals_arrive_one_call_each_in_order_with_values, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_a_full_ring_counts_what_it_drops_and_reports_it_with_the_next_delivery, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_a_signal_taken_by_another_thread_wakes_the_loop_and_runs_on_the_loop_thread, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_another_thread_may_set_a_handler_while_the_loop_is_not_running, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_the_installed_handler_has_sa_restart_and_siginterrupt_toggles_it, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_siginterrupt_leaves_a_handler_evsig_did_not_install_alone, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_a_blocking_read_survives_a_stream_of_signals_without_eintr, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_siginterrupt_makes_a_blocking_read_fail_with_eintr, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_setitimer_ticks_reach_a_sigalrm_table_handler_again_and_again, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_a_delivery_caught_for_a_replaced_handler_goes_to_neither_handler, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_setting_the_same_handler_again_keeps_its_caught_delivery, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_a_handler_replaced_by_ign_between_catch_and_dispatch_is_not_called, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_a_sigterm_whose_handler_became_ign_before_dispatch_does_nothing, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_a_delivery_caught_for_a_handler_replaced_by_dfl_is_dropped_and_the_process_survives, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_the_table_follows_the_last_evsig_signal_to_its_loop, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_a_table_handler_and_watchers_on_different_loops_both_get_every_delivery, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_dfl_and_ign_are_never_ebusy_whatever_loop_is_given, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_reset_puts_back_a_foreign_handler_byte_for_byte, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_reset_puts_back_a_sig_ign_it_found, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_a_table_handler_does_not_keep_ev_run_alive, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_a_signalfd_loop_serves_table_handlers_with_siginfo, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_a_sigsegv_sent_with_kill_is_delivered_to_a_handler_on_the_loop, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_a_real_segfault_takes_its_default_action_despite_a_handler, tu_setup, tu_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

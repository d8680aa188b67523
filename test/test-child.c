/* SPDX-License-Identifier: MIT */
/*
 * test-child.c - children on the default loop (DESIGN.md §3.3) and the
 * cooperative SIGCHLD entry of the handler table (§3.1, "SIGCHLD is
 * cooperative").
 *
 * How the tests synchronise with their children, never with sleep():
 * - a child that must outlive a step blocks reading a "gate", a pipe whose
 *   write end only the parent holds; closing it (gate_open()) lets the
 *   child run on and exit. Every child closes every gate end but its own
 *   read end at once, or a sibling would hold a gate shut;
 * - the parent waits by running the loop (TU_RUN_UNTIL, capped by a timer)
 *   or through evsig_waitpid(), and always reaps what it forked.
 * Forked children never call cmocka: they report through their exit code
 * (TU_CHILD_CHECK exits 99 and says where on stderr).
 */
#define _GNU_SOURCE   /* pipe2() */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
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

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* --- gates: pipes a child blocks on until the parent closes them --------- */

struct gate {
    int rd, wr;
};

static struct gate gates[16];
static size_t ngates;

static struct gate *gate_new(void)
{
    int fds[2];

    assert_true(ngates < ARRAY_SIZE(gates));
    assert_succeeds(pipe2(fds, O_CLOEXEC));   /* blocking: children read() */
    gates[ngates] = (struct gate){ fds[0], fds[1] };
    return &gates[ngates++];
}

/* Let the child blocked on @g run on. */
static void gate_open(struct gate *g)
{
    if (g->wr >= 0)
        close(g->wr);
    g->wr = -1;
}

static void gates_close_all(void)
{
    for (size_t i = 0; i < ngates; i++) {
        if (gates[i].rd >= 0)
            close(gates[i].rd);
        if (gates[i].wr >= 0)
            close(gates[i].wr);
    }
    ngates = 0;
}

/*
 * First thing in every forked child: take back cmocka's fault handlers
 * (they would longjmp into the child's copy of the test runner), give
 * SIGTERM its default action, and close every gate end but @keep's read
 * end (NULL: keep none).
 */
static void child_begin(const struct gate *keep)
{
    static const int faults[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGSYS,
                                  SIGTERM };

    for (size_t i = 0; i < ARRAY_SIZE(faults); i++)
        signal(faults[i], SIG_DFL);
    for (size_t i = 0; i < ngates; i++) {
        if (gates[i].wr >= 0)
            close(gates[i].wr);
        if (gates[i].rd >= 0 && (!keep || gates[i].rd != keep->rd))
            close(gates[i].rd);
    }
}

/* In a child: block until the parent opens @g. */
static void child_wait_gate(const struct gate *g)
{
    char c;

    while (read(g->rd, &c, 1) < 0 && errno == EINTR)
        ;
}

/* evsig_fork_and_watch() a child that exits with @code, at once or, with
 * @g, once the parent opens that gate. Returns its pid, in the parent. */
static pid_t watch_exiting(struct ev_loop *loop, evsig_child_cb cb, void *data,
                           int flags, const struct gate *g, int code)
{
    pid_t pid = assert_succeeds(evsig_fork_and_watch(loop, cb, data, flags));

    if (pid == 0) {
        child_begin(g);
        if (g)
            child_wait_gate(g);
        _exit(code);
    }
    return pid;
}

/* For tu_fork(): a raw fork() child that waits on a gate, then exits 0. */
static void raw_wait_gate_main(void *arg)
{
    child_begin(arg);
    child_wait_gate(arg);
    _exit(0);
}

/* For tu_fork(): the same, but it gives up waiting after 1.5 s, so that a
 * parent stuck in a blocking waitpid() fails its test instead of hanging. */
static void raw_wait_gate_a_while_main(void *arg)
{
    const struct gate *g = arg;
    struct pollfd pfd = { .fd = g->rd, .events = POLLIN };

    child_begin(g);
    while (poll(&pfd, 1, 1500) < 0 && errno == EINTR)
        ;
    _exit(0);
}

/* For tu_fork(): a raw fork() child that exits at once with (int)arg. */
static void raw_exit_main(void *arg)
{
    _exit((int)(intptr_t)arg);
}

/* --- what the callbacks saw ---------------------------------------------- */

/* A global clock, so tests can check the order of different callbacks. */
static int seq;

struct exit_rec {
    int   calls;
    pid_t pid;
    int   status;
    int   seq;
};

static void rec_cb(struct ev_loop *loop, pid_t pid, int status, void *data)
{
    struct exit_rec *r = data;

    (void)loop;
    r->calls++;
    r->pid = pid;
    r->status = status;
    r->seq = ++seq;
}

/* What the SIGCHLD table handler saw. */
struct chld_log {
    int        calls;
    evsig_info info[16];
    int        seq[16];
};

static void chld_handler(struct ev_loop *loop, const evsig_info *info,
                         void *data)
{
    struct chld_log *l = data;

    (void)loop;
    if ((size_t)l->calls < ARRAY_SIZE(l->info)) {
        l->info[l->calls] = *info;
        l->seq[l->calls] = ++seq;
    }
    l->calls++;
}

/* The log entry for @pid, or NULL; asserts it appears at most once. */
static const evsig_info *chld_find(const struct chld_log *l, pid_t pid,
                                   int *seq_out)
{
    const evsig_info *found = NULL;

    for (int i = 0; i < l->calls && (size_t)i < ARRAY_SIZE(l->info); i++) {
        if (l->info[i].pid == pid) {
            assert_null(found);   /* once per exit */
            found = &l->info[i];
            if (seq_out)
                *seq_out = l->seq[i];
        }
    }
    return found;
}

struct counter {
    int        calls;
    evsig_info last;
};

static void count_cb(struct ev_loop *loop, const evsig_info *info, void *data)
{
    struct counter *c = data;

    (void)loop;
    c->calls++;
    c->last = *info;
}

static void assert_exited(int status, int code)
{
    char buf[64];

    if (!WIFEXITED(status) || WEXITSTATUS(status) != code) {
        print_error("status: %s, expected exited %d%s\n",
                    tu_describe_status(status, buf, sizeof(buf)), code,
                    WIFEXITED(status) && WEXITSTATUS(status) == TU_CHILD_FAILED
                        ? " (a TU_CHILD_CHECK failed, see stderr)" : "");
        fail();
    }
}

static void assert_killed_by(int status, int sig)
{
    char buf[64];

    if (!WIFSIGNALED(status) || WTERMSIG(status) != sig) {
        print_error("status: %s, expected killed by signal %d\n",
                    tu_describe_status(status, buf, sizeof(buf)), sig);
        fail();
    }
}

/* The kernel has already reaped @pid for somebody (libev): it is no longer
 * our child, not even a zombie. Nothing is reaped here. */
static bool gone(pid_t pid)
{
    siginfo_t si;

    memset(&si, 0, sizeof(si));
    return waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0 &&
           errno == ECHILD;
}

/* Still running: neither exited nor reaped. */
static bool running(pid_t pid)
{
    siginfo_t si;

    memset(&si, 0, sizeof(si));
    return waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
           si.si_pid == 0;
}

/* Block, without running the loop, until @pid has exited (a zombie). */
static void wait_zombie(pid_t pid)
{
    siginfo_t si;
    int r;

    memset(&si, 0, sizeof(si));
    while ((r = waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT)) < 0 &&
           errno == EINTR)
        ;
    assert_int_equal(r, 0);
    assert_int_equal(si.si_pid, pid);
}

/* evsig keeps results from its first child-API call on (DESIGN.md §3.3):
 * make that call, with no child around. */
static void start_keeping_results(struct ev_loop *loop)
{
    assert_int_equal(tu_count_children(), 0);
    assert_fails_with(evsig_waitpid(loop, -1, NULL, WNOHANG), ECHILD);
}

/* The kernel's SIGCHLD disposition while children are watched: libev's
 * reaping handler (or evsig's), never SIG_IGN (the kernel would discard
 * exit statuses), never SIG_DFL (nobody would reap), no SA_NOCLDWAIT. */
static void assert_kernel_sigchld_reaps(void)
{
    struct sigaction sa;

    assert_int_equal(sigaction(SIGCHLD, NULL, &sa), 0);
    if (!(sa.sa_flags & SA_SIGINFO)) {
        assert_ptr_not_equal((void *)sa.sa_handler, (void *)SIG_IGN);
        assert_ptr_not_equal((void *)sa.sa_handler, (void *)SIG_DFL);
    }
    assert_false(sa.sa_flags & SA_NOCLDWAIT);
}

/* --- timers, from a static pool (a failed assertion leaves the test by
 *     longjmp(); the fixture stops what is still running) ---------------- */

struct shot {
    ev_timer        timer;
    struct ev_loop *loop;
    bool            in_use;
    int             fired;
    struct gate    *gate;     /* opened when it fires, if set */
};

static struct shot shots[8];

/* After @after seconds (then every @repeat), count and open @g if set. */
static struct shot *shot_start(struct ev_loop *loop, double after,
                               double repeat, struct gate *g);

static void shot_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    struct shot *s = (struct shot *)t;

    (void)loop;
    (void)revents;
    s->fired++;
    if (s->gate)
        gate_open(s->gate);
}

static struct shot *shot_start(struct ev_loop *loop, double after,
                               double repeat, struct gate *g)
{
    for (size_t i = 0; i < ARRAY_SIZE(shots); i++) {
        struct shot *s = &shots[i];

        if (!s->in_use) {
            memset(s, 0, sizeof(*s));
            s->in_use = true;
            s->loop = loop;
            s->gate = g;
            ev_now_update(loop);
            ev_timer_init(&s->timer, shot_cb, after, repeat);
            ev_timer_start(loop, &s->timer);
            return s;
        }
    }
    fail_msg("shot pool exhausted");
    return NULL;
}

static void shot_stop(struct shot *s)
{
    ev_timer_stop(s->loop, &s->timer);
    s->in_use = false;
}

/* A watchdog that does not keep ev_run() alive: it ends a run that should
 * have returned by itself. */
struct watchdog {
    ev_timer timer;
    bool     fired;
};

static void watchdog_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)revents;
    ((struct watchdog *)t)->fired = true;
    ev_break(loop, EVBREAK_ALL);
}

static void watchdog_start(struct watchdog *w, struct ev_loop *loop,
                           double after)
{
    w->fired = false;
    ev_now_update(loop);
    ev_timer_init(&w->timer, watchdog_cb, after, 0.);
    ev_timer_start(loop, &w->timer);
    ev_unref(loop);
}

static void watchdog_stop(struct watchdog *w, struct ev_loop *loop)
{
    if (ev_is_active(&w->timer)) {
        ev_ref(loop);
        ev_timer_stop(loop, &w->timer);
    }
}

/* ev_run(loop, 0), bounded: returns the seconds it took, or -1 if the
 * watchdog had to end it after @cap seconds. */
static double run_bounded(struct ev_loop *loop, double cap)
{
    struct watchdog wd;
    double t0 = ev_time();

    watchdog_start(&wd, loop, cap);
    ev_run(loop, 0);
    watchdog_stop(&wd, loop);
    return wd.fired ? -1. : ev_time() - t0;
}

/* --- fixtures ------------------------------------------------------------ */

static struct ev_loop *other_loop;   /* ev_loop_new(), destroyed by teardown */

static int child_setup(void **state)
{
    seq = 0;
    ngates = 0;
    other_loop = NULL;
    return tu_setup(state);
}

static int child_teardown(void **state)
{
    for (size_t i = 0; i < ARRAY_SIZE(shots); i++) {
        if (shots[i].in_use)
            ev_timer_stop(shots[i].loop, &shots[i].timer);
        shots[i].in_use = false;
    }
    gates_close_all();
    if (other_loop)
        ev_loop_destroy(other_loop);
    other_loop = NULL;
    return tu_teardown(state);
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
    assert_kernel_sigchld_reaps();

    assert_succeeds(evsig_signal(NULL, SIGCHLD, EVSIG_IGN, NULL, &old));
    assert_ptr_equal((void *)old.handler, (void *)chld_handler);
    assert_ptr_equal(old.data, &log);
    assert_succeeds(evsig_getsignal(SIGCHLD, &act));
    assert_ptr_equal((void *)act.handler, (void *)EVSIG_IGN);
    assert_null(act.data);
    assert_kernel_sigchld_reaps();

    assert_succeeds(evsig_signal(NULL, SIGCHLD, EVSIG_DFL, NULL, &old));
    assert_ptr_equal((void *)old.handler, (void *)EVSIG_IGN);
    assert_succeeds(evsig_getsignal(SIGCHLD, &act));
    assert_ptr_equal((void *)act.handler, (void *)EVSIG_DFL);
    assert_kernel_sigchld_reaps();

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
    assert_kernel_sigchld_reaps();

    p2 = watch_exiting(loop, rec_cb, &r2, 0, g2, 5);
    assert_kernel_sigchld_reaps();

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
    assert_kernel_sigchld_reaps();
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

/* The master's output, read on the loop. */
struct pty_reader {
    ev_io  io;
    char   buf[512];
    size_t len;
    bool   eof;
};

static void pty_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct pty_reader *r = (struct pty_reader *)w;
    ssize_t n;

    (void)revents;
    n = read(w->fd, r->buf + r->len, sizeof(r->buf) - 1 - r->len);
    if (n > 0) {
        r->len += (size_t)n;
        r->buf[r->len] = '\0';
    } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        r->eof = true;
        ev_io_stop(loop, w);
    }
    if (r->len == sizeof(r->buf) - 1)
        ev_io_stop(loop, w);
}

static void test_forkpty_and_watch_output_is_read_from_the_close_on_exec_master(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct exit_rec rec = { 0 };
    struct gate *g = gate_new();
    struct pty_reader rd;
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
    ev_io_init(&rd.io, pty_read_cb, master, EV_READ);
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

static void test_waitpid_reports_a_raw_fork_child_libev_reaped_with_its_status(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    int status = -1;
    pid_t pid;

    (void)unused;
    start_keeping_results(loop);
    pid = tu_fork(raw_exit_main, (void *)(intptr_t)21);
    assert_true(TU_RUN_UNTIL(loop, gone(pid), 5.0));   /* libev reaped it */
    assert_int_equal(evsig_waitpid(loop, pid, &status, 0), pid);
    assert_exited(status, 21);
    assert_fails_with(evsig_waitpid(loop, pid, &status, WNOHANG), ECHILD);

    /* The same through pid -1 (no watched children: the oldest kept result
     * of an unwatched one). */
    pid = tu_fork(raw_exit_main, (void *)(intptr_t)22);
    assert_true(TU_RUN_UNTIL(loop, gone(pid), 5.0));
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

static void test_unwatch_stops_the_callback_and_the_result_stays_collectable(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct exit_rec rec = { 0 };
    struct chld_log log = { 0 };
    struct gate *g = gate_new();
    int status = -1;
    double took;
    pid_t pid;

    (void)unused;
    assert_succeeds(evsig_signal(loop, SIGCHLD, chld_handler, &log, NULL));
    pid = watch_exiting(loop, rec_cb, &rec, 0, g, 25);
    assert_succeeds(evsig_child_unwatch(loop, pid));
    assert_fails_with(evsig_child_unwatch(loop, pid), ECHILD);

    /* The watch held ev_run() alive; now nothing does. */
    took = run_bounded(loop, 3.0);
    assert_true(took >= 0 && took < 1.0);
    assert_true(running(pid));

    gate_open(g);
    assert_true(TU_RUN_UNTIL(loop, gone(pid), 5.0));
    assert_false(TU_RUN_UNTIL(loop, rec.calls || log.calls, 0.1));
    assert_int_equal(evsig_waitpid(loop, pid, &status, 0), pid);
    assert_exited(status, 25);
    assert_int_equal(rec.calls, 0);
    assert_int_equal(log.calls, 0);
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
     * left: evsig knows it is gone. */
    pid = tu_fork(raw_exit_main, (void *)(intptr_t)29);
    assert_true(TU_RUN_UNTIL(loop, gone(pid), 5.0));
    assert_fails_with(evsig_kill(loop, pid, 0), ESRCH);
    assert_fails_with(evsig_kill(loop, pid, SIGTERM), ESRCH);
    assert_int_equal(evsig_waitpid(loop, pid, &status, WNOHANG), pid);
    assert_exited(status, 29);
}

/* Fork a raw child that waits on @g, with pid @want if the kernel lets us
 * choose (ns_last_pid, root only). Returns its pid, whatever it is. */
static pid_t fork_at_pid(pid_t want, struct gate *g)
{
    char buf[32];
    int fd, len;

    fd = open("/proc/sys/kernel/ns_last_pid", O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
        len = snprintf(buf, sizeof(buf), "%d", (int)want - 1);
        /* If not allowed, the fork gets whatever pid comes. */
        (void)!write(fd, buf, (size_t)len);
        close(fd);
    }
    return tu_fork(raw_wait_gate_main, g);
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
    /* The old child's result is kept, uncollected, when the new process
     * holding its pid exits and libev reaps it. */
    gate_open(g);
    assert_true(TU_RUN_UNTIL(loop, gone(reuser), 5.0));
    assert_false(TU_RUN_UNTIL(loop, rec.calls > 1 || log.calls > 1, 0.1));
    assert_int_equal(rec.calls, 1);
    assert_int_equal(log.calls, 1);
    /* One of the two statuses is handed out for that pid, once. */
    assert_int_equal(evsig_waitpid(loop, pid, &status, WNOHANG), pid);
    assert_true(WIFEXITED(status) &&
                (WEXITSTATUS(status) == 0 || WEXITSTATUS(status) == 47));
    assert_false(TU_RUN_UNTIL(loop, rec.calls > 1 || log.calls > 1, 0.05));
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
    assert_true(TU_RUN_UNTIL(loop, gone(pid), 5.0));
    assert_succeeds(evsig_child_watch(loop, pid, rec_cb, &rec, 0));
    /* Watched now, so it can be unwatched, and then "its callback will
     * not run" (evsig.h); its result stays collectable. */
    assert_succeeds(evsig_child_unwatch(loop, pid));
    assert_false(TU_RUN_UNTIL(loop, rec.calls > 0, 0.1));
    assert_int_equal(evsig_waitpid(loop, pid, &status, WNOHANG), pid);
    assert_exited(status, 46);
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

    (void)unused;
    other_loop = tu_new_loop();
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
    assert_fails_with(evsig_child_watch(other_loop, pid, wrong_cb, &wrong, 0), EINVAL);
    assert_fails_with(evsig_child_watch(other_loop, unwatched, wrong_cb, &wrong, 0), EINVAL);
    assert_fails_with(evsig_child_watch(loop, getpid(), wrong_cb, &wrong, 0), ECHILD);
    assert_fails_with(evsig_child_watch(loop, 1, wrong_cb, &wrong, 0), ECHILD);

    /* evsig_child_unwatch */
    assert_fails_with(evsig_child_unwatch(loop, 0), EINVAL);
    assert_fails_with(evsig_child_unwatch(loop, -1), EINVAL);
    assert_fails_with(evsig_child_unwatch(NULL, pid), EINVAL);
    assert_fails_with(evsig_child_unwatch(other_loop, pid), EINVAL);
    assert_fails_with(evsig_child_unwatch(loop, unwatched), ECHILD);
    assert_fails_with(evsig_child_unwatch(loop, 1), ECHILD);
    assert_fails_with(evsig_child_unwatch(loop, getpid()), ECHILD);

    /* evsig_fork, evsig_fork_and_watch, evsig_forkpty_and_watch */
    assert_fails_with(evsig_fork(NULL), EINVAL);
    assert_fails_with(evsig_fork(other_loop), EINVAL);
    assert_fails_with(evsig_fork_and_watch(NULL, wrong_cb, &wrong, 0), EINVAL);
    assert_fails_with(evsig_fork_and_watch(other_loop, wrong_cb, &wrong, 0), EINVAL);
    assert_fails_with(evsig_fork_and_watch(loop, wrong_cb, &wrong, EVSIG_ONESHOT), EINVAL);
    assert_fails_with(evsig_fork_and_watch(loop, wrong_cb, &wrong, 0x100), EINVAL);
    assert_fails_with(evsig_fork_and_watch(loop, wrong_cb, &wrong, -1), EINVAL);
    assert_fails_with(evsig_forkpty_and_watch(loop, NULL, wrong_cb, &wrong, 0), EINVAL);
    assert_fails_with(evsig_forkpty_and_watch(NULL, &master, wrong_cb, &wrong, 0), EINVAL);
    assert_fails_with(evsig_forkpty_and_watch(other_loop, &master, wrong_cb, &wrong, 0), EINVAL);
    assert_fails_with(evsig_forkpty_and_watch(loop, &master, wrong_cb, &wrong, 0x100), EINVAL);
    assert_int_equal(master, -7);

    /* evsig_waitpid, evsig_waitpid_timeout */
    assert_fails_with(evsig_waitpid(NULL, pid, &status, WNOHANG), EINVAL);
    assert_fails_with(evsig_waitpid(other_loop, pid, &status, WNOHANG), EINVAL);
    assert_fails_with(evsig_waitpid(loop, 0, &status, WNOHANG), EINVAL);
    assert_fails_with(evsig_waitpid(loop, -2, &status, WNOHANG), EINVAL);
    assert_fails_with(evsig_waitpid(loop, -pid, &status, WNOHANG), EINVAL);
    assert_fails_with(evsig_waitpid(loop, pid, &status, WUNTRACED), EINVAL);
    assert_fails_with(evsig_waitpid(loop, pid, &status, WNOHANG | WCONTINUED), EINVAL);
    assert_fails_with(evsig_waitpid(loop, pid, &status, 0x40000000), EINVAL);
    assert_fails_with(evsig_waitpid(loop, 1, &status, WNOHANG), ECHILD);
    assert_fails_with(evsig_waitpid(loop, getpid(), &status, WNOHANG), ECHILD);
    assert_fails_with(evsig_waitpid_timeout(NULL, pid, &status, 1.), EINVAL);
    assert_fails_with(evsig_waitpid_timeout(other_loop, pid, &status, 1.), EINVAL);
    assert_fails_with(evsig_waitpid_timeout(loop, 0, &status, 1.), EINVAL);
    assert_fails_with(evsig_waitpid_timeout(loop, -2, &status, 1.), EINVAL);
    assert_fails_with(evsig_waitpid_timeout(loop, pid, &status, -1.), EINVAL);
    assert_fails_with(evsig_waitpid_timeout(loop, pid, &status, NAN), EINVAL);
    assert_fails_with(evsig_waitpid_timeout(loop, 1, &status, 0.), ECHILD);
    assert_int_equal(status, 12345);

    /* evsig_kill */
    assert_fails_with(evsig_kill(NULL, pid, 0), EINVAL);
    assert_fails_with(evsig_kill(other_loop, pid, SIGTERM), EINVAL);
    assert_fails_with(evsig_kill(loop, pid, -1), EINVAL);
    assert_fails_with(evsig_kill(loop, pid, NSIG), EINVAL);
    assert_fails_with(evsig_kill(loop, pid, 1000), EINVAL);

    /* The SIGCHLD table entry: callbacks only on the default loop. */
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

int main(void)
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
        T(test_waitpid_reports_a_raw_fork_child_libev_reaped_with_its_status),
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
    };
#undef T

    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: MIT */
/*
 * test-wakeup.c - Python's signal.set_wakeup_fd() and Twisted's
 * installHandler()/isDefaultHandler() (DESIGN.md §3.4).
 *
 * The wakeup byte is written by the C handler, so it is there as soon as
 * raise() returns (raise() runs the handler before it returns), before the
 * loop ran: the tests read it at that point, then run the loop. Pipes are
 * non-blocking on both ends, so an unexpected empty or full pipe fails a
 * read or write instead of hanging the test.
 *
 * One test needs a process where libev's default loop does not exist yet;
 * tu_setup() creates it in this one, so that test re-executes this binary
 * (its own path, argv[0]: under valgrind /proc/self/exe is valgrind's tool)
 * with LATE_LOOP_ARG, and the fresh process reports
 * through its exit code.
 */
#define _GNU_SOURCE   /* pipe2() */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "evsig.h"
#include "test-util.h"

#define LATE_LOOP_ARG "--late-default-loop"

/* --- helpers ------------------------------------------------------------- */

struct counts {
    int        n[NSIG];
    int        total;
    evsig_info last[NSIG];
    int        values[256];   /* sigqueue values, in arrival order */
    int        nvalues;
};

static void count_cb(struct ev_loop *loop, const evsig_info *info, void *data)
{
    struct counts *c = data;
    (void)loop;

    c->n[info->signo]++;
    c->total++;
    c->last[info->signo] = *info;
    if (info->code == SI_QUEUE && c->nvalues < 256)
        c->values[c->nvalues++] = info->value.sival_int;
}

/* Read everything readable now (the read end is non-blocking); keep the
 * first @max bytes in @buf. Returns how many bytes there were. */
static size_t drain(int fd, unsigned char *buf, size_t max)
{
    unsigned char chunk[4096];
    size_t n = 0;
    ssize_t r;

    while ((r = read(fd, chunk, sizeof(chunk))) > 0) {
        for (ssize_t i = 0; i < r; i++, n++)
            if (n < max)
                buf[n] = chunk[i];
    }
    return n;
}

/* Write until the pipe refuses more; returns the bytes it took. */
static size_t fill(int fd)
{
    unsigned char block[4096];
    size_t total = 0;
    ssize_t r;

    memset(block, 0xAA, sizeof(block));
    while ((r = write(fd, block, sizeof(block))) > 0)
        total += (size_t)r;
    while ((r = write(fd, block, 1)) > 0)
        total += (size_t)r;
    assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
    return total;
}

static void close_pipe(int p[2])
{
    close(p[0]);
    close(p[1]);
}

struct child_result {
    int   calls;
    pid_t pid;
    int   status;
};

static void child_cb(struct ev_loop *loop, pid_t pid, int status, void *data)
{
    struct child_result *r = data;
    (void)loop;

    r->calls++;
    r->pid = pid;
    r->status = status;
}

/* --- set_wakeup_fd ------------------------------------------------------- */

static void test_wakeup_fd_gets_the_signal_number_as_one_byte_per_caught_signal(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct counts c = { 0 };
    evsig_watcher w;
    unsigned char buf[16];
    int p[2], old = 12345;
    const int rt = SIGRTMIN + 2;
    (void)unused;

    tu_pipe(p);
    assert_int_equal(evsig_set_wakeup_fd(p[1], 0, &old), 0);
    assert_int_equal(old, -1);
    assert_succeeds(evsig_signal(loop, SIGUSR1, count_cb, &c, NULL));
    assert_succeeds(evsig_signal(loop, SIGUSR2, count_cb, &c, NULL));
    assert_succeeds(evsig_signal(loop, rt, count_cb, &c, NULL));
    /* A signal caught for a watcher only is caught by evsig too. */
    assert_succeeds(evsig_watch(loop, &w, SIGWINCH, count_cb, &c, 0));

    raise(SIGUSR1);
    raise(SIGUSR2);
    raise(rt);
    raise(SIGUSR1);
    raise(SIGWINCH);

    /* Written by the C handler: there before the loop ran. */
    assert_int_equal(c.total, 0);
    assert_int_equal(drain(p[0], buf, sizeof(buf)), 5);
    assert_int_equal(buf[0], SIGUSR1);
    assert_int_equal(buf[1], SIGUSR2);
    assert_int_equal(buf[2], rt);
    assert_int_equal(buf[3], SIGUSR1);
    assert_int_equal(buf[4], SIGWINCH);

    assert_true(TU_RUN_UNTIL(loop, c.total == 5, 5));
    assert_int_equal(c.n[SIGUSR1], 2);
    assert_int_equal(c.n[SIGUSR2], 1);
    assert_int_equal(c.n[rt], 1);
    assert_int_equal(c.n[SIGWINCH], 1);
    /* The loop writes no bytes of its own. */
    assert_int_equal(drain(p[0], buf, sizeof(buf)), 0);

    assert_int_equal(evsig_unwatch(&w), 0);
    assert_int_equal(evsig_set_wakeup_fd(-1, 0, &old), 0);
    assert_int_equal(old, p[1]);
    close_pipe(p);
}

static void test_a_blocking_wakeup_fd_is_einval_and_the_old_fd_stays(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct counts c = { 0 };
    unsigned char buf[16];
    int a[2], b[2], old = 12345;
    (void)unused;

    tu_pipe(a);
    assert_int_equal(pipe(b), 0);
    /* Only the write end is what evsig sees: make just that one blocking. */
    assert_int_equal(fcntl(b[0], F_SETFL, O_NONBLOCK), 0);

    assert_int_equal(evsig_set_wakeup_fd(a[1], 0, NULL), 0);
    assert_fails_with(evsig_set_wakeup_fd(b[1], 0, &old), EINVAL);
    assert_int_equal(old, 12345);
    assert_fails_with(evsig_set_wakeup_fd(b[1], EVSIG_WAKEUP_WARN_ON_FULL, &old), EINVAL);

    assert_succeeds(evsig_signal(loop, SIGUSR1, count_cb, &c, NULL));
    raise(SIGUSR1);
    assert_int_equal(drain(a[0], buf, sizeof(buf)), 1);
    assert_int_equal(buf[0], SIGUSR1);
    assert_int_equal(drain(b[0], buf, sizeof(buf)), 0);
    assert_true(TU_RUN_UNTIL(loop, c.total == 1, 5));

    assert_int_equal(evsig_set_wakeup_fd(-1, 0, &old), 0);
    assert_int_equal(old, a[1]);
    close_pipe(a);
    close_pipe(b);
}

static void test_a_closed_wakeup_fd_is_ebadf_and_the_old_fd_stays(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct counts c = { 0 };
    unsigned char buf[16];
    int a[2], b[2], closed, old = 12345;
    (void)unused;

    tu_pipe(a);
    tu_pipe(b);
    closed = b[1];
    close(b[1]);

    assert_int_equal(evsig_set_wakeup_fd(a[1], 0, NULL), 0);
    assert_fails_with(evsig_set_wakeup_fd(closed, 0, &old), EBADF);
    assert_int_equal(old, 12345);

    assert_succeeds(evsig_signal(loop, SIGUSR1, count_cb, &c, NULL));
    raise(SIGUSR1);
    assert_int_equal(drain(a[0], buf, sizeof(buf)), 1);
    assert_int_equal(buf[0], SIGUSR1);
    assert_true(TU_RUN_UNTIL(loop, c.total == 1, 5));

    assert_int_equal(evsig_set_wakeup_fd(-1, 0, &old), 0);
    assert_int_equal(old, a[1]);
    close_pipe(a);
    close(b[0]);
}

static void test_wakeup_fd_minus_one_stops_the_bytes_but_not_the_handlers(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct counts c = { 0 };
    unsigned char buf[16];
    int p[2], old;
    (void)unused;

    tu_pipe(p);
    assert_succeeds(evsig_signal(loop, SIGUSR1, count_cb, &c, NULL));
    assert_int_equal(evsig_set_wakeup_fd(p[1], 0, NULL), 0);
    raise(SIGUSR1);
    assert_int_equal(drain(p[0], buf, sizeof(buf)), 1);

    assert_int_equal(evsig_set_wakeup_fd(-1, 0, &old), 0);
    assert_int_equal(old, p[1]);
    raise(SIGUSR1);
    raise(SIGUSR1);
    assert_int_equal(drain(p[0], buf, sizeof(buf)), 0);
    assert_true(TU_RUN_UNTIL(loop, c.total == 3, 5));
    assert_int_equal(drain(p[0], buf, sizeof(buf)), 0);
    close_pipe(p);
}

static void test_wakeup_fd_old_fd_receives_the_previous_fd_or_minus_one(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct counts c = { 0 };
    unsigned char buf[16];
    int a[2], b[2], old = 12345;
    (void)unused;

    tu_pipe(a);
    tu_pipe(b);
    assert_int_equal(evsig_set_wakeup_fd(a[1], 0, &old), 0);
    assert_int_equal(old, -1);
    assert_int_equal(evsig_set_wakeup_fd(b[1], EVSIG_WAKEUP_WARN_ON_FULL, &old), 0);
    assert_int_equal(old, a[1]);
    assert_int_equal(evsig_set_wakeup_fd(b[1], 0, &old), 0);
    assert_int_equal(old, b[1]);

    /* Only the current fd gets bytes. */
    assert_succeeds(evsig_signal(loop, SIGUSR2, count_cb, &c, NULL));
    raise(SIGUSR2);
    assert_int_equal(drain(a[0], buf, sizeof(buf)), 0);
    assert_int_equal(drain(b[0], buf, sizeof(buf)), 1);
    assert_int_equal(buf[0], SIGUSR2);
    assert_true(TU_RUN_UNTIL(loop, c.total == 1, 5));

    assert_int_equal(evsig_set_wakeup_fd(-1, 0, NULL), 0);   /* NULL is fine */
    old = 12345;
    assert_int_equal(evsig_set_wakeup_fd(-1, 0, &old), 0);
    assert_int_equal(old, -1);
    close_pipe(a);
    close_pipe(b);
}

static void test_a_wakeup_pipe_filled_past_capacity_by_a_storm_never_blocks_and_every_handler_runs(void **unused)
{
    enum { STORM = 100 };   /* per signal, within EVSIG_RING_SIZE */
    struct ev_loop *loop = tu_default_loop();
    struct counts table = { 0 }, watched = { 0 };
    evsig_watcher w;
    unsigned char buf[16];
    const int rt = SIGRTMIN + 1;
    size_t filled;
    int p[2];
    (void)unused;

    tu_pipe(p);
    filled = fill(p[1]);
    assert_true(filled > 0);
    assert_int_equal(evsig_set_wakeup_fd(p[1], 0, NULL), 0);
    assert_succeeds(evsig_signal(loop, SIGUSR1, count_cb, &table, NULL));
    assert_succeeds(evsig_signal(loop, rt, count_cb, &table, NULL));
    assert_succeeds(evsig_watch(loop, &w, SIGUSR2, count_cb, &watched, 0));

    /* Every one of these runs the C handler before it returns, each
     * meeting a full pipe. A handler that blocked would hang here. */
    for (int i = 0; i < STORM; i++) {
        raise(SIGUSR1);
        raise(SIGUSR2);
        assert_int_equal(tu_sigqueue_self(rt, i), 0);
    }

    assert_true(TU_RUN_UNTIL(loop, table.n[SIGUSR1] == STORM &&
                             table.n[rt] == STORM &&
                             watched.n[SIGUSR2] == STORM, 5));
    assert_int_equal(table.nvalues, STORM);
    for (int i = 0; i < STORM; i++)
        assert_int_equal(table.values[i], i);
    assert_int_equal(table.last[SIGUSR1].lost, 0);
    assert_int_equal(table.last[rt].lost, 0);
    assert_int_equal(watched.last[SIGUSR2].lost, 0);

    /* Nothing was squeezed into the full pipe, and once drained it works
     * again. */
    assert_int_equal(drain(p[0], NULL, 0), filled);
    raise(SIGUSR1);
    assert_int_equal(drain(p[0], buf, sizeof(buf)), 1);
    assert_int_equal(buf[0], SIGUSR1);
    assert_true(TU_RUN_UNTIL(loop, table.n[SIGUSR1] == STORM + 1, 5));

    assert_int_equal(evsig_unwatch(&w), 0);
    assert_int_equal(evsig_set_wakeup_fd(-1, 0, NULL), 0);
    close_pipe(p);
}

/* Run a storm against a full wakeup pipe with stderr captured in a file;
 * returns what stderr got before the loop ran and after. Assertions come
 * after stderr is back, so a failure is visible. */
static void storm_with_stderr_captured(int flags, char *before, size_t nbefore,
                                       char *after, size_t nafter)
{
    struct ev_loop *loop = tu_default_loop();
    struct counts c = { 0 };
    FILE *cap = tmpfile();
    int p[2], saved_stderr;
    bool ran;
    ssize_t r;

    assert_non_null(cap);
    tu_pipe(p);
    fill(p[1]);
    assert_succeeds(evsig_signal(loop, SIGUSR1, count_cb, &c, NULL));
    assert_int_equal(evsig_set_wakeup_fd(p[1], flags, NULL), 0);

    fflush(stderr);
    saved_stderr = dup(STDERR_FILENO);
    assert_true(saved_stderr >= 0);
    assert_true(dup2(fileno(cap), STDERR_FILENO) == STDERR_FILENO);

    for (int i = 0; i < 5; i++)
        raise(SIGUSR1);
    /* The C handlers have run; the loop has not. */
    r = pread(fileno(cap), before, nbefore - 1, 0);
    before[r > 0 ? r : 0] = '\0';

    ran = TU_RUN_UNTIL(loop, c.total == 5, 5);
    for (int i = 0; i < 3; i++)
        ev_run(loop, EVRUN_NOWAIT);
    fflush(stderr);
    r = pread(fileno(cap), after, nafter - 1, 0);
    after[r > 0 ? r : 0] = '\0';

    dup2(saved_stderr, STDERR_FILENO);
    close(saved_stderr);
    fclose(cap);

    assert_true(ran);
    assert_int_equal(evsig_set_wakeup_fd(-1, 0, NULL), 0);
    close_pipe(p);
}

static void test_warn_on_full_prints_one_line_on_stderr_from_the_loop_not_the_handler(void **unused)
{
    char before[512], after[512];
    int lines = 0;
    (void)unused;

    storm_with_stderr_captured(EVSIG_WAKEUP_WARN_ON_FULL, before, sizeof(before),
                               after, sizeof(after));
    print_message("stderr after the loop ran: \"%s\"\n", after);
    assert_string_equal(before, "");   /* not from the C handler */
    for (const char *s = after; *s; s++)
        lines += *s == '\n';
    assert_int_equal(lines, 1);
    assert_true(strlen(after) > 1);
    assert_int_equal(after[strlen(after) - 1], '\n');
}

static void test_without_warn_on_full_a_full_wakeup_pipe_prints_nothing(void **unused)
{
    char before[512], after[512];
    (void)unused;

    storm_with_stderr_captured(0, before, sizeof(before), after, sizeof(after));
    assert_string_equal(before, "");
    assert_string_equal(after, "");
}

/* --- installHandler ------------------------------------------------------ */

static void exit_with(void *arg)
{
    _exit((int)(intptr_t)arg);
}

/* evsig_fork_and_watch() a child that _exit()s with @code at once. */
static pid_t fork_exiting_child(struct ev_loop *loop, int code,
                                struct child_result *r)
{
    pid_t pid = evsig_fork_and_watch(loop, child_cb, r, 0);

    if (pid == 0)
        exit_with((void *)(intptr_t)code);
    assert_true(pid > 0);
    return pid;
}

static void test_install_handler_writes_one_byte_to_the_fd_per_sigchld(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct child_result r = { 0 };
    struct pollfd pfd;
    unsigned char buf[16];
    int p[2], n, old = 12345;
    pid_t pid;
    (void)unused;

    tu_pipe(p);
    assert_int_equal(evsig_install_handler(p[1], &old), 0);
    assert_int_equal(old, -1);

    pid = fork_exiting_child(loop, 0, &r);
    /* The byte comes from the C handler, whether or not the loop runs.
     * poll() is never restarted after a handler: SIGCHLD itself may
     * interrupt it. */
    pfd.fd = p[0];
    pfd.events = POLLIN;
    while ((n = poll(&pfd, 1, 5000)) < 0 && errno == EINTR)
        ;
    assert_int_equal(n, 1);
    assert_true(TU_RUN_UNTIL(loop, r.calls == 1, 5));
    assert_int_equal(r.pid, pid);
    assert_int_equal(drain(p[0], buf, sizeof(buf)), 1);
    assert_int_equal(buf[0], SIGCHLD);

    /* One more child, one more byte. */
    fork_exiting_child(loop, 0, &r);
    assert_true(TU_RUN_UNTIL(loop, r.calls == 2, 5));
    assert_int_equal(drain(p[0], buf, sizeof(buf)), 1);
    assert_int_equal(buf[0], SIGCHLD);

    assert_int_equal(evsig_install_handler(-1, &old), 0);
    assert_int_equal(old, p[1]);
    close_pipe(p);
}

static void test_install_handler_sets_sa_restart_on_sigchld(void **unused)
{
    struct sigaction sa;
    int p[2];
    (void)unused;

    tu_pipe(p);
    assert_int_equal(evsig_install_handler(p[1], NULL), 0);
    assert_int_equal(sigaction(SIGCHLD, NULL, &sa), 0);
    assert_true(sa.sa_flags & SA_RESTART);
    assert_false(!(sa.sa_flags & SA_SIGINFO) &&
                 (sa.sa_handler == SIG_DFL || sa.sa_handler == SIG_IGN));
    assert_int_equal(evsig_install_handler(-1, NULL), 0);
    close_pipe(p);
}

static void test_install_handler_leaves_child_watching_working(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct child_result r[3] = { { 0 } };
    struct counts sigchld = { 0 };
    pid_t pid[3];
    int p[2], status;
    (void)unused;

    tu_pipe(p);
    assert_int_equal(evsig_install_handler(p[1], NULL), 0);
    assert_succeeds(evsig_signal(loop, SIGCHLD, count_cb, &sigchld, NULL));
    for (int i = 0; i < 3; i++)
        pid[i] = fork_exiting_child(loop, 10 + i, &r[i]);

    assert_true(TU_RUN_UNTIL(loop, r[0].calls && r[1].calls && r[2].calls, 5));
    for (int i = 0; i < 3; i++) {
        assert_int_equal(r[i].calls, 1);
        assert_int_equal(r[i].pid, pid[i]);
        assert_true(WIFEXITED(r[i].status));
        assert_int_equal(WEXITSTATUS(r[i].status), 10 + i);
    }
    assert_int_equal(sigchld.n[SIGCHLD], 3);

    /* evsig_waitpid() too. */
    pid[0] = assert_succeeds(evsig_fork(loop));
    if (pid[0] == 0)
        _exit(42);
    assert_int_equal(evsig_waitpid_timeout(loop, pid[0], &status, 5), pid[0]);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 42);

    assert_int_equal(evsig_install_handler(-1, NULL), 0);
    close_pipe(p);
}

static void test_install_handler_minus_one_puts_back_libevs_sigchld_handler(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct child_result r = { 0 };
    struct sigaction before, during, after;
    unsigned char buf[16];
    int p[2], old;
    (void)unused;

    assert_int_equal(sigaction(SIGCHLD, NULL, &before), 0);
    /* The default loop exists: libev's reaper is there. */
    assert_false(before.sa_flags & SA_SIGINFO);
    assert_true(before.sa_handler != SIG_DFL && before.sa_handler != SIG_IGN);

    tu_pipe(p);
    assert_int_equal(evsig_install_handler(p[1], NULL), 0);
    assert_int_equal(sigaction(SIGCHLD, NULL, &during), 0);
    assert_true(during.sa_flags & SA_SIGINFO);   /* it was replaced */

    assert_int_equal(evsig_install_handler(-1, &old), 0);
    assert_int_equal(old, p[1]);
    assert_int_equal(sigaction(SIGCHLD, NULL, &after), 0);
    assert_ptr_equal(after.sa_handler, before.sa_handler);
    assert_int_equal(after.sa_flags & (SA_SIGINFO | SA_RESTART),
                     before.sa_flags & (SA_SIGINFO | SA_RESTART));
    assert_true(tu_same_sigset(&after.sa_mask, &before.sa_mask));

    /* Reaping still works, and no byte goes to the old fd. */
    fork_exiting_child(loop, 0, &r);
    assert_true(TU_RUN_UNTIL(loop, r.calls == 1, 5));
    assert_int_equal(drain(p[0], buf, sizeof(buf)), 0);
    close_pipe(p);
}

static void test_is_default_handler_is_false_only_while_install_handler_is_set(void **unused)
{
    int p[2];
    (void)unused;

    tu_pipe(p);
    assert_int_equal(evsig_is_default_handler(), 1);
    assert_int_equal(evsig_install_handler(p[1], NULL), 0);
    assert_int_equal(evsig_is_default_handler(), 0);
    assert_int_equal(evsig_install_handler(-1, NULL), 0);
    assert_int_equal(evsig_is_default_handler(), 1);
    close_pipe(p);
}

/* In a fresh process (exec'd): installHandler first, libev's default loop
 * after. Exit code 0, or the step that failed. */
static int late_default_loop_main(void)
{
    struct child_result r = { 0 };
    struct sigaction sa;
    unsigned char buf[16];
    struct ev_loop *loop;
    int p[2];
    pid_t pid;

    if (ev_default_loop_uc_())
        return 2;   /* not the situation under test */
    if (pipe2(p, O_NONBLOCK | O_CLOEXEC) < 0)
        return 3;
    if (evsig_install_handler(p[1], NULL) != 0)
        return 4;
    if (evsig_is_default_handler() != 0)
        return 5;

    loop = ev_default_loop(0);   /* installs libev's SIGCHLD handler */
    if (!loop)
        return 6;
    pid = evsig_fork_and_watch(loop, child_cb, &r, 0);
    if (pid == 0)
        _exit(9);
    if (pid < 0)
        return 7;
    /* evsig met the default loop and took SIGCHLD back. */
    sigaction(SIGCHLD, NULL, &sa);
    if (!(sa.sa_flags & SA_SIGINFO) || !(sa.sa_flags & SA_RESTART))
        return 8;
    if (!TU_RUN_UNTIL(loop, r.calls == 1, 5))
        return 9;
    if (r.pid != pid || !WIFEXITED(r.status) || WEXITSTATUS(r.status) != 9)
        return 10;
    if (drain(p[0], buf, sizeof(buf)) != 1 || buf[0] != SIGCHLD)
        return 11;
    if (evsig_is_default_handler() != 0)
        return 12;

    /* Removing it never leaves SIG_DFL found first: evsig watches
     * children, so its own handler stays and feeds libev's reaper (the
     * second version's rule; without watched children, libev's handler
     * itself comes back). */
    if (evsig_install_handler(-1, NULL) != 0)
        return 13;
    sigaction(SIGCHLD, NULL, &sa);
    if (!(sa.sa_flags & SA_SIGINFO) || !(sa.sa_flags & SA_RESTART))
        return 14;
    if (evsig_is_default_handler() != 1)
        return 15;
    pid = evsig_fork_and_watch(loop, child_cb, &r, 0);
    if (pid == 0)
        _exit(0);
    if (pid < 0)
        return 16;
    if (!TU_RUN_UNTIL(loop, r.calls == 2, 5) || r.pid != pid)
        return 17;
    if (drain(p[0], buf, sizeof(buf)) != 0)
        return 18;
    evsig_reset();
    return 0;
}

static const char *self_path;

static void exec_late_default_loop(void *arg)
{
    (void)arg;
    execl(self_path, self_path, LATE_LOOP_ARG, (char *)NULL);
    _exit(127);
}

static void test_a_default_loop_created_after_install_handler_still_reaps_and_gets_bytes(void **unused)
{
    (void)unused;
    /* The exec'd process has no default loop (tu_setup() made ours). */
    tu_assert_child_exit(tu_fork(exec_late_default_loop, NULL), 0, 10);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_wakeup_fd_gets_the_signal_number_as_one_byte_per_caught_signal, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_a_blocking_wakeup_fd_is_einval_and_the_old_fd_stays, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_a_closed_wakeup_fd_is_ebadf_and_the_old_fd_stays, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_wakeup_fd_minus_one_stops_the_bytes_but_not_the_handlers, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_wakeup_fd_old_fd_receives_the_previous_fd_or_minus_one, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_a_wakeup_pipe_filled_past_capacity_by_a_storm_never_blocks_and_every_handler_runs, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_warn_on_full_prints_one_line_on_stderr_from_the_loop_not_the_handler, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_without_warn_on_full_a_full_wakeup_pipe_prints_nothing, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_install_handler_writes_one_byte_to_the_fd_per_sigchld, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_install_handler_sets_sa_restart_on_sigchld, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_install_handler_leaves_child_watching_working, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_install_handler_minus_one_puts_back_libevs_sigchld_handler, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_is_default_handler_is_false_only_while_install_handler_is_set, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_a_default_loop_created_after_install_handler_still_reaps_and_gets_bytes, tu_setup, tu_teardown),
    };

    self_path = argv[0];
    if (argc > 1 && strcmp(argv[1], LATE_LOOP_ARG) == 0)
        return late_default_loop_main();
    return cmocka_run_group_tests(tests, NULL, NULL);
}

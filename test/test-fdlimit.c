/* SPDX-License-Identifier: MIT */
/*
 * test-fdlimit.c - every public call that makes an fd, at RLIMIT_NOFILE
 * (issue 14): the epoll set, pidfds, spawn's pipes, libev's evpipe.
 *
 * For each call, in a forked child with a low fd limit: for k = 0, 1, ...
 * free fds (the table filled with close-on-exec copies of /dev/null, then
 * k of them closed), the call either
 * - fails with EMFILE (or ENFILE), leaving the process as it was: the
 *   sigaction() of every signal, the signal mask, the open fds, the
 *   children, ev_run()'s keep-alive; and succeeds once the fds are back; or
 * - succeeds, possibly through the documented fallback (PIDFD: a child
 *   without a pidfd is watched through SIGCHLD), and a child's exit is then
 *   reported exactly once, with its status.
 * Failures come before successes (k only adds room), and the first k that
 * succeeds is the number of fds the call needs (a FIGURE line).
 *
 * libev aborts the process when it cannot make a loop's evpipe (the fd it
 * wakes the loop with), so a forked child is also the witness of that bug.
 * Valgrind reserves fds near the limit: these tests skip under it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
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
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "evsig.h"
#include "test-util.h"

#define LIMIT 128   /* the child's fd limit: filling it is cheap */
#define KMAX  12    /* free fds tried: more than any call needs */

/* ======================================================================== */
/* the harness, run in a forked child (no cmocka there)                     */
/* ======================================================================== */

struct fdl_ctx {
    struct ev_loop *loop;       /* the loop of the call */
    struct ev_loop *other;      /* a second loop, for some setups */
    evsig_watcher   w, w2;
    pid_t           pid;        /* the child of the call, or a raw one */
    int             pipes[3];
    int             wake[2];
    int             exits;      /* child callback count */
    int             status;
};

struct fdl_case {
    const char *name;
    bool        default_loop;   /* the call's loop is libev's default one */
    void      (*pre)(struct fdl_ctx *c);              /* before the snapshot */
    long      (*call)(struct fdl_ctx *c);             /* -1/errno or success */
    void      (*check)(struct fdl_ctx *c, long ret);  /* after a success */
    void      (*undo)(struct fdl_ctx *c);             /* after a success */
};

/* What the parent learns: the first k that succeeded. */
struct fdl_result {
    int needed;
};

struct snapshot {
    struct sigaction sa[NSIG];
    sigset_t         mask;
    unsigned char    open[LIMIT];
    int              children;
};

static void take_snapshot(struct snapshot *s)
{
    memset(s, 0, sizeof(*s));
    for (int sig = 1; sig < NSIG; sig++)
        sigaction(sig, NULL, &s->sa[sig]);
    pthread_sigmask(SIG_SETMASK, NULL, &s->mask);
    for (int fd = 0; fd < LIMIT; fd++)
        s->open[fd] = fcntl(fd, F_GETFD) >= 0;
    s->children = tu_count_children();
}

/* Says on stderr what differs; true if nothing does. */
static bool same_snapshot(const char *name, int k, const struct snapshot *a,
                          const struct snapshot *b)
{
    bool same = true;

    for (int sig = 1; sig < NSIG; sig++) {
        if (!tu_same_sigaction(&a->sa[sig], &b->sa[sig])) {
            fprintf(stderr, "%s, %d free: sigaction(%s) changed\n", name, k,
                    evsig_signame(sig) ? evsig_signame(sig) : "?");
            same = false;
        }
    }
    if (!tu_same_sigset(&a->mask, &b->mask)) {
        fprintf(stderr, "%s, %d free: signal mask changed\n", name, k);
        same = false;
    }
    for (int fd = 0; fd < LIMIT; fd++) {
        if (a->open[fd] != b->open[fd]) {
            fprintf(stderr, "%s, %d free: fd %d %s\n", name, k, fd,
                    b->open[fd] ? "left open" : "closed");
            same = false;
        }
    }
    if (a->children != b->children) {
        fprintf(stderr, "%s, %d free: %d children, were %d\n", name, k,
                b->children, a->children);
        same = false;
    }
    return same;
}

/* Fill the fd table up to the limit, then free @k slots. Returns how many
 * fds it holds (closed by unfill()). */
static int filler[LIMIT], nfiller;

static void fill(int k)
{
    int null = open("/dev/null", O_RDONLY | O_CLOEXEC), fd;

    TU_CHILD_CHECK(null >= 0);
    nfiller = 0;
    filler[nfiller++] = null;
    while ((fd = fcntl(null, F_DUPFD_CLOEXEC, 0)) >= 0)
        filler[nfiller++] = fd;
    TU_CHILD_CHECK(errno == EMFILE);
    for (; k > 0; k--) {
        TU_CHILD_CHECK(nfiller > 0);
        close(filler[--nfiller]);
    }
}

static void unfill(void)
{
    while (nfiller > 0)
        close(filler[--nfiller]);
}

static struct fdl_ctx ctx;

static void run_case(const struct fdl_case *t, int result_fd)
{
    struct rlimit rl;
    struct fdl_result res = { .needed = -1 };

    TU_CHILD_CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0);
    if (rl.rlim_cur > LIMIT)
        rl.rlim_cur = LIMIT;
    TU_CHILD_CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0);

    for (int k = 0; k <= KMAX; k++) {
        struct snapshot before, after;
        long r;
        int err;

        memset(&ctx, 0, sizeof(ctx));
        ctx.pid = -1;
        ctx.wake[0] = ctx.wake[1] = -1;
        for (int i = 0; i < 3; i++)
            ctx.pipes[i] = -1;
        ctx.loop = t->default_loop ? ev_default_loop(0)
                                   : ev_loop_new(EVFLAG_NOENV);
        TU_CHILD_CHECK(ctx.loop);
        if (t->pre)
            t->pre(&ctx);
        take_snapshot(&before);

        fill(k);
        errno = 0;
        r = t->call(&ctx);
        err = errno;
        unfill();

        if (r == -1) {
            if (err != EMFILE && err != ENFILE)
                fprintf(stderr, "%s, %d free: %s\n", t->name, k,
                        tu_errname(err));
            TU_CHILD_CHECK(err == EMFILE || err == ENFILE);
            /* Failures first: more room never breaks a call. */
            TU_CHILD_CHECK(res.needed < 0);
            take_snapshot(&after);
            TU_CHILD_CHECK(same_snapshot(t->name, k, &before, &after));
            /* Nothing holds the loop: ev_run() returns by itself. */
            TU_CHILD_CHECK(tu_ev_run_returns(ctx.loop, 2.0) ||
                           t->default_loop);
            /* And with the fds back, the same call works. */
            r = t->call(&ctx);
            TU_CHILD_CHECK(r != -1);
        } else if (res.needed < 0) {
            res.needed = k;
        }
        if (t->check)
            t->check(&ctx, r);
        if (t->undo)
            t->undo(&ctx);
        TU_CHILD_CHECK(evsig_reset() == 0);
        if (ctx.other)
            ev_loop_destroy(ctx.other);
        if (!t->default_loop)
            ev_loop_destroy(ctx.loop);
    }
    TU_CHILD_CHECK(res.needed >= 0);
    tu_write_all(result_fd, &res, sizeof(res));
}

struct fork_arg {
    const struct fdl_case *t;
    int fd;
};

static void case_main(void *arg)
{
    struct fork_arg *a = arg;

    run_case(a->t, a->fd);
}

static bool pidfd_backend(void)
{
    return evsig_child_backend() == EVSIG_CHILD_PIDFD;
}

/* Run @t in a child, assert it passed, print the fds the call needs. */
static void check_case(const struct fdl_case *t)
{
    struct fork_arg a = { .t = t };
    struct fdl_result res = { .needed = -1 };
    int p[2];
    pid_t pid;

    if (getenv("EVSIG_TEST_VALGRIND"))
        skip();
    tu_blocking_pipe(p);
    a.fd = p[1];
    pid = tu_fork(case_main, &a);
    close(p[1]);
    tu_assert_child_exit(pid, 0, 60);
    assert_int_equal(read(p[0], &res, sizeof(res)), (long)sizeof(res));
    close(p[0]);
    print_message("FIGURE fdlimit %s (%s): %d fds\n", t->name,
                  pidfd_backend() ? "pidfd" : "libev", res.needed);
}

/* ======================================================================== */
/* the calls                                                                */
/* ======================================================================== */

static void handler(struct ev_loop *loop, const evsig_info *info, void *data)
{
    (void)loop;
    (void)info;
    (void)data;
}

static void exit_cb(struct ev_loop *loop, pid_t pid, int status, void *data)
{
    struct fdl_ctx *c = data;

    (void)loop;
    (void)pid;
    c->exits++;
    c->status = status;
}

/* A child's exit is reported once, with its status, and then forgotten. */
static void check_exit_once(struct fdl_ctx *c, long ret)
{
    int status = 0;

    TU_CHILD_CHECK(ret > 0);
    TU_CHILD_CHECK(TU_RUN_UNTIL(c->loop, c->exits > 0, 10));
    tu_spin(c->loop);
    TU_CHILD_CHECK(c->exits == 1);
    TU_CHILD_CHECK(WIFEXITED(c->status) && WEXITSTATUS(c->status) == 7);
    TU_CHILD_CHECK(evsig_waitpid(c->loop, (pid_t)ret, &status, WNOHANG) ==
                   (pid_t)ret);
    TU_CHILD_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 7);
    TU_CHILD_CHECK(evsig_waitpid(c->loop, (pid_t)ret, &status, WNOHANG) == -1);
}

/* evsig_signal() with a handler on a new loop. */
static long call_signal(struct fdl_ctx *c)
{
    return evsig_signal(c->loop, SIGUSR1, handler, NULL, NULL);
}

static void undo_signal(struct fdl_ctx *c)
{
    (void)c;
    TU_CHILD_CHECK(evsig_signal(NULL, SIGUSR1, EVSIG_DFL, NULL, NULL) == 0);
}

/* evsig_watch(): the first watcher on a loop. */
static long call_watch(struct fdl_ctx *c)
{
    return evsig_watch(c->loop, &c->w, SIGUSR1, handler, NULL, 0);
}

static void undo_watch(struct fdl_ctx *c)
{
    TU_CHILD_CHECK(evsig_unwatch(&c->w) == 0);
}

/* ... the first on a second loop, the signal served on another already. */
static void pre_other_loop(struct fdl_ctx *c)
{
    c->other = ev_loop_new(EVFLAG_NOENV);
    TU_CHILD_CHECK(c->other);
    TU_CHILD_CHECK(evsig_watch(c->other, &c->w2, SIGUSR1, handler, NULL, 0) == 0);
}

/* The cooperative waits: a timed wait that times out. */
static long call_sigtimedwait(struct fdl_ctx *c)
{
    sigset_t set = tu_sigset(SIGUSR2, 0);
    evsig_info info;

    return evsig_sigtimedwait(c->loop, &set, &info, 0.0);
}

/* evsig_set_wakeup_fd() makes no fd: it works with none free. */
static void pre_wakeup(struct fdl_ctx *c)
{
    tu_pipe(c->wake);
}

static long call_wakeup(struct fdl_ctx *c)
{
    return evsig_set_wakeup_fd(c->wake[1], 0, NULL);
}

static void undo_wakeup(struct fdl_ctx *c)
{
    TU_CHILD_CHECK(evsig_set_wakeup_fd(-1, 0, NULL) == 0);
    close(c->wake[0]);
    close(c->wake[1]);
}

/* evsig_fork_and_watch(): a child that exits 7 at once. */
static long call_fork_and_watch(struct fdl_ctx *c)
{
    pid_t pid = evsig_fork_and_watch(c->loop, exit_cb, c, 0);

    if (pid == 0)
        _exit(7);
    return pid;
}

/* evsig_child_watch() of a raw child that exits 7 at once. */
static void pre_raw_child(struct fdl_ctx *c)
{
    /* Child calls own SIGCHLD while libev's default loop exists (PIDFD):
     * a call made before the snapshot takes it, so that the snapshot is
     * of the state the call under test starts from. */
    pid_t none;

    none = evsig_waitpid(c->loop, -1, NULL, WNOHANG);
    TU_CHILD_CHECK(none == -1 || none == 0);
    c->pid = fork();
    TU_CHILD_CHECK(c->pid >= 0);
    if (c->pid == 0)
        _exit(7);
}

static long call_child_watch(struct fdl_ctx *c)
{
    return evsig_child_watch(c->loop, c->pid, exit_cb, c, 0) == 0 ? c->pid
                                                                   : -1;
}

/* evsig_waitpid() of that unwatched child (PIDFD: a cooperative wait). */
static long call_waitpid(struct fdl_ctx *c)
{
    return evsig_waitpid(c->loop, c->pid, &c->status, 0);
}

static void check_waitpid(struct fdl_ctx *c, long ret)
{
    TU_CHILD_CHECK(ret == c->pid);
    TU_CHILD_CHECK(WIFEXITED(c->status) && WEXITSTATUS(c->status) == 7);
}

/* evsig_spawn() with two pipes and /dev/null. */
static long call_spawn(struct fdl_ctx *c)
{
    static char *argv[] = { (char *)"sh", (char *)"-c", (char *)"exit 7", NULL };
    evsig_spawn_options o = {
        .file = "/bin/sh",
        .argv = argv,
        .stdio = { { EVSIG_STDIO_PIPE, 0 }, { EVSIG_STDIO_PIPE, 0 },
                   { EVSIG_STDIO_DEVNULL, 0 } },
    };

    return evsig_spawn(c->loop, &o, c->pipes, exit_cb, c);
}

static void check_spawn(struct fdl_ctx *c, long ret)
{
    TU_CHILD_CHECK(c->pipes[0] >= 0 && c->pipes[1] >= 0 && c->pipes[2] == -1);
    check_exit_once(c, ret);
}

static void undo_spawn(struct fdl_ctx *c)
{
    for (int i = 0; i < 3; i++)
        if (c->pipes[i] >= 0)
            close(c->pipes[i]);
}

/* ======================================================================== */
/* tests                                                                    */
/* ======================================================================== */

static void test_signal_with_a_handler_on_a_new_loop_fails_with_emfile_and_changes_nothing(void **unused)
{
    static const struct fdl_case t = {
        "evsig_signal, new loop", .call = call_signal, .undo = undo_signal,
    };
    (void)unused;
    check_case(&t);
}

static void test_the_first_watcher_on_a_loop_fails_with_emfile_and_changes_nothing(void **unused)
{
    static const struct fdl_case t = {
        "evsig_watch, first on a loop", .call = call_watch, .undo = undo_watch,
    };
    (void)unused;
    check_case(&t);
}

static void test_the_first_watcher_on_a_second_loop_fails_with_emfile_and_changes_nothing(void **unused)
{
    static const struct fdl_case t = {
        "evsig_watch, first on a second loop", .pre = pre_other_loop,
        .call = call_watch, .undo = undo_watch,
    };
    (void)unused;
    check_case(&t);
}

static void test_a_cooperative_wait_on_a_new_loop_fails_with_emfile_and_changes_nothing(void **unused)
{
    static const struct fdl_case t = {
        "evsig_sigtimedwait, new loop", .call = call_sigtimedwait,
    };
    (void)unused;
    check_case(&t);
}

static void test_set_wakeup_fd_needs_no_fd(void **unused)
{
    static const struct fdl_case t = {
        "evsig_set_wakeup_fd", .pre = pre_wakeup, .call = call_wakeup,
        .undo = undo_wakeup,
    };
    (void)unused;
    check_case(&t);
}

static void test_fork_and_watch_on_a_new_loop_fails_with_emfile_or_reports_the_exit_once(void **unused)
{
    static const struct fdl_case t = {
        "evsig_fork_and_watch, new loop",
        .call = call_fork_and_watch, .check = check_exit_once,
    };
    (void)unused;
    if (!pidfd_backend())
        skip();   /* LIBEV watches children on the default loop only */
    check_case(&t);
}

static void test_fork_and_watch_on_the_default_loop_reports_the_exit_once(void **unused)
{
    static const struct fdl_case t = {
        "evsig_fork_and_watch, default loop", .default_loop = true,
        .call = call_fork_and_watch,
        .check = check_exit_once,
    };
    (void)unused;
    check_case(&t);
}

static void test_child_watch_on_a_new_loop_fails_with_emfile_or_reports_the_exit_once(void **unused)
{
    static const struct fdl_case t = {
        "evsig_child_watch, new loop",
        .pre = pre_raw_child, .call = call_child_watch,
        .check = check_exit_once,
    };
    (void)unused;
    if (!pidfd_backend())
        skip();
    check_case(&t);
}

static void test_child_watch_on_the_default_loop_reports_the_exit_once(void **unused)
{
    static const struct fdl_case t = {
        "evsig_child_watch, default loop", .default_loop = true,
        .pre = pre_raw_child, .call = call_child_watch,
        .check = check_exit_once,
    };
    (void)unused;
    check_case(&t);
}

static void test_waitpid_of_an_unwatched_child_fails_with_emfile_or_reaps_it(void **unused)
{
    static const struct fdl_case t = {
        "evsig_waitpid, unwatched child, new loop", .pre = pre_raw_child,
        .call = call_waitpid, .check = check_waitpid,
    };
    (void)unused;
    if (!pidfd_backend())
        skip();
    check_case(&t);
}

static void test_waitpid_of_an_unwatched_child_on_the_default_loop_reaps_it(void **unused)
{
    static const struct fdl_case t = {
        "evsig_waitpid, unwatched child, default loop", .default_loop = true,
        .pre = pre_raw_child, .call = call_waitpid, .check = check_waitpid,
    };
    (void)unused;
    check_case(&t);
}

static void test_spawn_with_pipes_on_a_new_loop_fails_with_emfile_or_reports_the_exit_once(void **unused)
{
    static const struct fdl_case t = {
        "evsig_spawn, 2 pipes + /dev/null, new loop",
        .call = call_spawn, .check = check_spawn, .undo = undo_spawn,
    };
    (void)unused;
    if (!pidfd_backend())
        skip();
    check_case(&t);
}

static void test_spawn_with_pipes_on_the_default_loop_fails_with_emfile_or_reports_the_exit_once(void **unused)
{
    static const struct fdl_case t = {
        "evsig_spawn, 2 pipes + /dev/null, default loop", .default_loop = true,
        .call = call_spawn, .check = check_spawn,
        .undo = undo_spawn,
    };
    (void)unused;
    check_case(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_signal_with_a_handler_on_a_new_loop_fails_with_emfile_and_changes_nothing, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_the_first_watcher_on_a_loop_fails_with_emfile_and_changes_nothing, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_the_first_watcher_on_a_second_loop_fails_with_emfile_and_changes_nothing, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_a_cooperative_wait_on_a_new_loop_fails_with_emfile_and_changes_nothing, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_set_wakeup_fd_needs_no_fd, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_fork_and_watch_on_a_new_loop_fails_with_emfile_or_reports_the_exit_once, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_fork_and_watch_on_the_default_loop_reports_the_exit_once, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_child_watch_on_a_new_loop_fails_with_emfile_or_reports_the_exit_once, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_child_watch_on_the_default_loop_reports_the_exit_once, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_waitpid_of_an_unwatched_child_fails_with_emfile_or_reaps_it, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_waitpid_of_an_unwatched_child_on_the_default_loop_reaps_it, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_spawn_with_pipes_on_a_new_loop_fails_with_emfile_or_reports_the_exit_once, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_spawn_with_pipes_on_the_default_loop_fails_with_emfile_or_reports_the_exit_once, tu_setup, tu_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: MIT */
/*
 * test-alloc.c - every allocation evsig makes, failing in turn (issue 14).
 *
 * This executable is linked with -Wl,--wrap for malloc, calloc, realloc
 * and mmap/mmap64: every call the static library (and this file) makes goes
 * through the __wrap_ functions below, which can fail the k-th one.
 * libev and the C library allocate through their own references and are
 * never failed -- libev aborts on a failed allocation by design, which is
 * not evsig's to change.
 *
 * For each scenario (a public call that can allocate, in the state that
 * makes it allocate): run it once counting its allocations (n), then n
 * times more, failing allocation k = 1..n -- once in "one" mode (only the
 * k-th fails, as a transient shortage) and once in "all" mode (the k-th
 * and every later one fail, so a recovery path that allocates fails too).
 * Each time, the call either
 *   - fails with -1/ENOMEM, and the process is exactly as before it: the
 *     sigaction() of every signal, the signal mask, the open fds, the
 *     children, the loops' reference counts, whether the watchers are
 *     active, what evsig_getsignal() reports; then the same call, with
 *     nothing failing, succeeds and works (the callback runs, once); or
 *   - succeeds anyway (evsig had a way around the failure) and works.
 * Both are followed by the fixture's own check after evsig_reset() (no
 * fd, disposition, mask or child leaked) and, in the ASan build, by
 * LeakSanitizer at exit.
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
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <dlfcn.h>

#include <cmocka.h>

#include "evsig.h"
#include "test-util.h"

/* ======================================================================== */
/* The injector                                                             */
/* ======================================================================== */

enum inject_mode { COUNT, FAIL_ONE, FAIL_ALL };

#define MAX_SITES 64

static struct {
    enum inject_mode mode;
    bool             armed;
    long             seen;       /* allocations since arm() */
    long             fail_at;    /* 1-based */
    long             failed;     /* failures injected since arm() */
    /* Every distinct caller that ever got a failure: the sites covered. */
    const void      *sites[MAX_SITES];
    int              nsites;
    long             total_injected;
    long             total_runs;
} inj;

void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t size);
void *__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd,
                  off_t off);
void *__wrap_mmap64(void *addr, size_t len, int prot, int flags, int fd,
                    off_t off);
void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t size);
void *__real_mmap(void *addr, size_t len, int prot, int flags, int fd,
                  off_t off);
void *__real_mmap64(void *addr, size_t len, int prot, int flags, int fd,
                    off_t off);

static void note_site(const void *caller)
{
    for (int i = 0; i < inj.nsites; i++)
        if (inj.sites[i] == caller)
            return;
    if (inj.nsites < MAX_SITES)
        inj.sites[inj.nsites++] = caller;
}

/* Whether this allocation fails. */
static bool fail_now(const void *caller)
{
    bool fail;

    if (!inj.armed)
        return false;
    inj.seen++;
    switch (inj.mode) {
    case FAIL_ONE: fail = inj.seen == inj.fail_at; break;
    case FAIL_ALL: fail = inj.seen >= inj.fail_at; break;
    default:       fail = false; break;
    }
    if (fail) {
        inj.failed++;
        inj.total_injected++;
        note_site(caller);
        errno = ENOMEM;
    }
    return fail;
}

void *__wrap_malloc(size_t size)
{
    return fail_now(__builtin_return_address(0)) ? NULL : __real_malloc(size);
}

void *__wrap_calloc(size_t n, size_t size)
{
    return fail_now(__builtin_return_address(0)) ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t size)
{
    return fail_now(__builtin_return_address(0)) ? NULL : __real_realloc(p, size);
}

void *__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd,
                  off_t off)
{
    if (fail_now(__builtin_return_address(0)))
        return MAP_FAILED;
    return __real_mmap(addr, len, prot, flags, fd, off);
}

/* With _FILE_OFFSET_BITS=64 (meson's default) <sys/mman.h> names mmap()
 * mmap64 in the object files. */
void *__wrap_mmap64(void *addr, size_t len, int prot, int flags, int fd,
                    off_t off)
{
    if (fail_now(__builtin_return_address(0)))
        return MAP_FAILED;
    return __real_mmap64(addr, len, prot, flags, fd, off);
}

static void arm(enum inject_mode mode, long fail_at)
{
    inj.mode = mode;
    inj.fail_at = fail_at;
    inj.seen = 0;
    inj.failed = 0;
    inj.armed = true;
}

static void disarm(void)
{
    inj.armed = false;
}

/* ======================================================================== */
/* Scenarios                                                                */
/* ======================================================================== */

#define NLOOPS    2
#define NWATCHERS 17

/* What a scenario works with; zeroed before each run. */
struct ctx {
    struct ev_loop *loop[NLOOPS];       /* [0] is the default loop */
    evsig_watcher   w[NWATCHERS];
    evsig_watcher   extra;              /* the one the call starts */
    int             calls;              /* callbacks that ran */
    int             pipe[2];            /* wakeup fd */
    pid_t           pid;
    int             status;
    int             sig;
    int             spawn_pipes[3];
};

struct scenario {
    const char *name;
    /* The state before the call (loops, watchers, children). */
    void (*prep)(struct ctx *c);
    /* The call; returns its result (-1 on failure). */
    long (*call)(struct ctx *c);
    /* After a successful call: it did what it says. cmocka asserts. */
    void (*works)(struct ctx *c);
    /* Undo prep (evsig_reset() in the fixture does the rest). */
    void (*done)(struct ctx *c);
    /* The call allocates nothing, so it cannot fail for want of memory:
     * checked, since a later change could make it allocate. */
    bool none;
    /* Only the PIDFD backend allocates here (LIBEV: a plain waitpid()). */
    bool pidfd_only;
};

static void count_cb(struct ev_loop *loop, const evsig_info *info, void *data)
{
    (void)loop;
    (void)info;
    ((struct ctx *)data)->calls++;
}

static void child_cb(struct ev_loop *loop, pid_t pid, int status, void *data)
{
    struct ctx *c = data;

    (void)loop;
    c->calls++;
    c->pid = pid;
    c->status = status;
}

static void new_second_loop(struct ctx *c)
{
    c->loop[1] = tu_new_loop();
}

static void no_prep(struct ctx *c)
{
    (void)c;
}

static void destroy_loops(struct ctx *c)
{
    evsig_reset();
    for (int i = 1; i < NLOOPS; i++)
        if (c->loop[i])
            ev_loop_destroy(c->loop[i]);
}

/* SIGUSR1 raised and dispatched on @loop: exactly one more callback. */
static void one_call_on(struct ctx *c, struct ev_loop *loop)
{
    int before = c->calls;

    raise(SIGUSR1);
    assert_true(TU_RUN_UNTIL(loop, c->calls > before, 5.0));
    tu_spin(loop);
    assert_int_equal(c->calls, before + 1);
}

/* --- evsig_signal ------------------------------------------------------- */

static long call_signal_default(struct ctx *c)
{
    return evsig_signal(c->loop[0], SIGUSR1, count_cb, c, NULL);
}

static void works_signal_default(struct ctx *c)
{
    one_call_on(c, c->loop[0]);
}

static long call_signal_second(struct ctx *c)
{
    return evsig_signal(c->loop[1], SIGUSR1, count_cb, c, NULL);
}

static void works_signal_second(struct ctx *c)
{
    one_call_on(c, c->loop[1]);
}

/* The table moves from one loop to another. */
static void prep_signal_moves(struct ctx *c)
{
    new_second_loop(c);
    assert_succeeds(evsig_signal(c->loop[0], SIGUSR1, count_cb, c, NULL));
}

/* --- evsig_watch --------------------------------------------------------- */

static long call_watch_first(struct ctx *c)
{
    return evsig_watch(c->loop[0], &c->extra, SIGUSR1, count_cb, c, 0);
}

static long call_watch_oneshot(struct ctx *c)
{
    return evsig_watch(c->loop[0], &c->extra, SIGUSR1, count_cb, c,
                       EVSIG_ONESHOT);
}

/* The oneshot watcher of the call and a plain one (which keeps SIGUSR1
 * caught after the oneshot stopped): one call each. */
static void works_watch_oneshot(struct ctx *c)
{
    int before = c->calls;

    assert_true(evsig_is_active(&c->extra));
    raise(SIGUSR1);
    assert_true(TU_RUN_UNTIL(c->loop[0], c->calls >= before + 2, 5.0));
    tu_spin(c->loop[0]);
    assert_int_equal(c->calls, before + 2);
    assert_false(evsig_is_active(&c->extra));
}

static void prep_one_watcher(struct ctx *c)
{
    assert_succeeds(evsig_watch(c->loop[0], &c->w[0], SIGUSR1, count_cb, c, 0));
}

static void works_watch_default(struct ctx *c)
{
    assert_true(evsig_is_active(&c->extra));
    one_call_on(c, c->loop[0]);
}

/* Sixteen watchers of the signal already: the 17th grows the arrays. */
static void prep_watch_17th(struct ctx *c)
{
    for (int i = 0; i < NWATCHERS - 1; i++)
        assert_succeeds(evsig_watch(c->loop[0], &c->w[i], SIGUSR1, count_cb,
                                    c, 0));
}

static void works_watch_17th(struct ctx *c)
{
    int before = c->calls;

    assert_true(evsig_is_active(&c->extra));
    raise(SIGUSR1);
    assert_true(TU_RUN_UNTIL(c->loop[0], c->calls >= before + NWATCHERS, 5.0));
    tu_spin(c->loop[0]);
    assert_int_equal(c->calls, before + NWATCHERS);
}

/* A watcher of the signal on the default loop; the call adds one on a
 * second loop, new to evsig. */
static void prep_watch_second_loop(struct ctx *c)
{
    new_second_loop(c);
    assert_succeeds(evsig_watch(c->loop[0], &c->w[0], SIGUSR1, count_cb, c, 0));
}

static long call_watch_second_loop(struct ctx *c)
{
    return evsig_watch(c->loop[1], &c->extra, SIGUSR1, count_cb, c,
                       EVSIG_COALESCE);
}

static void works_watch_second_loop(struct ctx *c)
{
    assert_true(evsig_is_active(&c->extra));
    one_call_on(c, c->loop[1]);
}

/* --- children ------------------------------------------------------------ */

static long call_forkpty_and_watch(struct ctx *c)
{
    pid_t pid = evsig_forkpty_and_watch(c->loop[0], &c->pipe[0], child_cb,
                                        c, 0);

    if (pid == 0)
        _exit(7);
    return pid;
}

static void done_pty(struct ctx *c)
{
    if (c->pipe[0] >= 0)
        close(c->pipe[0]);
    destroy_loops(c);
}

static long call_fork_and_watch(struct ctx *c)
{
    pid_t pid = evsig_fork_and_watch(c->loop[0], child_cb, c, 0);

    if (pid == 0)
        _exit(7);
    return pid;
}

/* The child exits 7 and is reported once, with that status. */
static void works_child(struct ctx *c)
{
    assert_true(TU_RUN_UNTIL(c->loop[0], c->calls == 1, 10.0));
    tu_spin(c->loop[0]);
    assert_int_equal(c->calls, 1);
    assert_true(WIFEXITED(c->status));
    assert_int_equal(WEXITSTATUS(c->status), 7);
    assert_int_equal(tu_count_zombies(), 0);
}

/* A child of plain fork(), waiting on a pipe to exit 7. */
static void prep_plain_child(struct ctx *c)
{
    tu_blocking_pipe(c->pipe);
    c->pid = fork();
    assert_true(c->pid >= 0);
    if (c->pid == 0) {
        char b;

        close(c->pipe[1]);
        while (read(c->pipe[0], &b, 1) < 0 && errno == EINTR)
            ;
        _exit(7);
    }
    close(c->pipe[0]);
    c->pipe[0] = -1;
}

static long call_child_watch(struct ctx *c)
{
    return evsig_child_watch(c->loop[0], c->pid, child_cb, c, 0);
}

static void works_child_watch(struct ctx *c)
{
    close(c->pipe[1]);
    c->pipe[1] = -1;
    works_child(c);
}

static void done_plain_child(struct ctx *c)
{
    if (c->pipe[1] >= 0)
        close(c->pipe[1]);
    evsig_reset();
    tu_wait(c->pid, 5.0);       /* it ends when the pipe closes */
}

static long call_spawn(struct ctx *c)
{
    static char *const argv[] = { (char *)"sh", (char *)"-c",
                                  (char *)"exit 7", NULL };
    evsig_spawn_options o = {
        .file = "/bin/sh",
        .argv = argv,
        .stdio = { { .mode = EVSIG_STDIO_DEVNULL },
                   { .mode = EVSIG_STDIO_PIPE },
                   { .mode = EVSIG_STDIO_INHERIT } },
    };
    pid_t pid = evsig_spawn(c->loop[0], &o, c->spawn_pipes, child_cb, c);

    if (pid > 0)
        close(c->spawn_pipes[1]);
    return pid;
}

/* --- waits --------------------------------------------------------------- */

static void raise_usr1_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)loop;
    (void)t;
    (void)revents;
    raise(SIGUSR1);
}

static ev_timer raiser;

/* SIGUSR1 is raised from the loop 1 ms into the call's wait. */
static void start_raiser(struct ctx *c)
{
    ev_timer_init(&raiser, raise_usr1_cb, 0.001, 0.0);
    ev_timer_start(c->loop[0], &raiser);
}

static void stop_raiser(struct ctx *c)
{
    ev_timer_stop(c->loop[0], &raiser);
}

static long call_sigwait(struct ctx *c)
{
    sigset_t set = tu_sigset(SIGUSR1, 0);
    long r;

    start_raiser(c);
    r = evsig_sigwait(c->loop[0], &set, &c->sig);
    stop_raiser(c);
    return r;
}

static void works_sigwait(struct ctx *c)
{
    assert_int_equal(c->sig, SIGUSR1);
}

static long call_sigtimedwait(struct ctx *c)
{
    sigset_t set = tu_sigset(SIGUSR2, 0);
    evsig_info info;

    /* Nothing comes: EAGAIN after 1 ms is the call's success here. */
    long r = evsig_sigtimedwait(c->loop[0], &set, &info, 0.001);

    if (r == -1 && errno == EAGAIN)
        return 0;
    return r == -1 ? -1 : 0;
}

static void works_nothing_more(struct ctx *c)
{
    (void)c;
}

static void prep_pause(struct ctx *c)
{
    assert_succeeds(evsig_signal(c->loop[0], SIGUSR1, count_cb, c, NULL));
}

static long call_pause(struct ctx *c)
{
    long r;

    start_raiser(c);
    r = evsig_pause(c->loop[0]);
    stop_raiser(c);
    return r;
}

static void works_pause(struct ctx *c)
{
    assert_int_equal(c->calls, 1);
}

/* The child of prep_plain_child() is told to exit 1 ms into the call's
 * wait, from the loop. */
static ev_timer closer;

static void close_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    struct ctx *c = t->data;

    (void)loop;
    (void)revents;
    close(c->pipe[1]);
    c->pipe[1] = -1;
}

static void start_closer(struct ctx *c)
{
    ev_timer_init(&closer, close_cb, 0.001, 0.0);
    closer.data = c;
    ev_timer_start(c->loop[0], &closer);
}

static long call_waitpid(struct ctx *c)
{
    pid_t r;

    start_closer(c);
    r = evsig_waitpid(c->loop[0], c->pid, &c->status, 0);
    ev_timer_stop(c->loop[0], &closer);
    return r;
}

static long call_waitpid_timeout(struct ctx *c)
{
    pid_t r;

    start_closer(c);
    r = evsig_waitpid_timeout(c->loop[0], c->pid, &c->status, 10.0);
    ev_timer_stop(c->loop[0], &closer);
    return r;
}

static void works_waitpid(struct ctx *c)
{
    assert_true(WIFEXITED(c->status));
    assert_int_equal(WEXITSTATUS(c->status), 7);
    assert_int_equal(tu_count_zombies(), 0);
}

/* --- wakeup fd ------------------------------------------------------------ */

static void prep_wakeup(struct ctx *c)
{
    tu_pipe(c->pipe);
    assert_succeeds(evsig_signal(c->loop[0], SIGUSR1, count_cb, c, NULL));
}

static long call_wakeup(struct ctx *c)
{
    return evsig_set_wakeup_fd(c->pipe[1], 0, NULL);
}

static void works_wakeup(struct ctx *c)
{
    unsigned char b = 0;

    raise(SIGUSR1);
    assert_int_equal(tu_read_byte_within(c->pipe[0], 5000, &b), 1);
    assert_int_equal(b, SIGUSR1);
    tu_spin(c->loop[0]);
}

static void done_wakeup(struct ctx *c)
{
    evsig_reset();
    close(c->pipe[0]);
    close(c->pipe[1]);
}

static const struct scenario scenarios[] = {
    { "evsig_signal, first handler (default loop)", no_prep,
      call_signal_default, works_signal_default, destroy_loops },
    { "evsig_signal, a second loop new to evsig", new_second_loop,
      call_signal_second, works_signal_second, destroy_loops },
    { "evsig_signal, the table moving to a second loop", prep_signal_moves,
      call_signal_second, works_signal_second, destroy_loops },
    { "evsig_watch, first watcher of the signal", no_prep,
      call_watch_first, works_watch_default, destroy_loops },
    { "evsig_watch, EVSIG_ONESHOT", prep_one_watcher,
      call_watch_oneshot, works_watch_oneshot, destroy_loops },
    { "evsig_watch, the 17th watcher of the signal", prep_watch_17th,
      call_watch_first, works_watch_17th, destroy_loops },
    { "evsig_watch, first watcher on a second loop", prep_watch_second_loop,
      call_watch_second_loop, works_watch_second_loop, destroy_loops },
    { "evsig_fork_and_watch", no_prep,
      call_fork_and_watch, works_child, destroy_loops },
    { "evsig_forkpty_and_watch", no_prep,
      call_forkpty_and_watch, works_child, done_pty },
    { "evsig_child_watch", prep_plain_child,
      call_child_watch, works_child_watch, done_plain_child },
    { "evsig_spawn", no_prep, call_spawn, works_child, destroy_loops },
    { "evsig_sigwait", no_prep, call_sigwait, works_sigwait, destroy_loops },
    { "evsig_sigtimedwait", no_prep, call_sigtimedwait, works_nothing_more,
      destroy_loops },
    { "evsig_waitpid, a child it does not watch", prep_plain_child,
      call_waitpid, works_waitpid, done_plain_child, .pidfd_only = true },
    { "evsig_waitpid_timeout, a child it does not watch", prep_plain_child,
      call_waitpid_timeout, works_waitpid, done_plain_child,
      .pidfd_only = true },
    { "evsig_set_wakeup_fd (allocates nothing)", prep_wakeup, call_wakeup,
      works_wakeup, done_wakeup, true },
    { "evsig_pause (allocates nothing)", prep_pause, call_pause, works_pause,
      destroy_loops, true },
};

/* ======================================================================== */
/* What "nothing changed" is checked against                                */
/* ======================================================================== */

struct observed {
    int          refs[NLOOPS];
    int          active[NWATCHERS + 1];
    evsig_action table[3];      /* SIGUSR1, SIGUSR2, SIGCHLD */
    int          children;
    int          wakeup_fd;
};

/* The references that keep @loop alive: ev_run() returns the count. */
static int loop_refs(struct ev_loop *loop)
{
    return ev_run(loop, EVRUN_NOWAIT);
}

static void observe(const struct ctx *c, struct observed *o)
{
    static const int sigs[3] = { SIGUSR1, SIGUSR2, SIGCHLD };
    int old;

    memset(o, 0, sizeof(*o));
    for (int i = 0; i < NLOOPS; i++)
        o->refs[i] = c->loop[i] ? loop_refs(c->loop[i]) : -1;
    for (int i = 0; i < NWATCHERS; i++)
        o->active[i] = evsig_is_active(&c->w[i]);
    o->active[NWATCHERS] = evsig_is_active(&c->extra);
    for (int i = 0; i < 3; i++)
        assert_succeeds(evsig_getsignal(sigs[i], &o->table[i]));
    o->children = tu_count_children();
    /* Read the wakeup fd by setting it to itself. */
    assert_succeeds(evsig_set_wakeup_fd(-1, 0, &old));
    if (old >= 0)
        assert_succeeds(evsig_set_wakeup_fd(old, 0, NULL));
    o->wakeup_fd = old;
}

static void assert_same_observed(const struct observed *a,
                                 const struct observed *b, const char *what)
{
    for (int i = 0; i < NLOOPS; i++)
        if (a->refs[i] != b->refs[i])
            fail_msg("%s: loop %d holds %d references, had %d", what, i,
                     b->refs[i], a->refs[i]);
    for (int i = 0; i <= NWATCHERS; i++)
        if (a->active[i] != b->active[i])
            fail_msg("%s: watcher %d is %sactive", what, i,
                     b->active[i] ? "" : "not ");
    for (int i = 0; i < 3; i++)
        if (a->table[i].handler != b->table[i].handler ||
            a->table[i].data != b->table[i].data)
            fail_msg("%s: evsig_getsignal(%d) changed", what, i);
    if (a->children != b->children)
        fail_msg("%s: %d children, had %d", what, b->children, a->children);
    if (a->wakeup_fd != b->wakeup_fd)
        fail_msg("%s: wakeup fd %d, was %d", what, b->wakeup_fd, a->wakeup_fd);
}

/* ======================================================================== */
/* The driver                                                               */
/* ======================================================================== */

static void ctx_init(struct ctx *c)
{
    memset(c, 0, sizeof(*c));
    c->loop[0] = tu_default_loop();
    c->pipe[0] = c->pipe[1] = -1;
    for (int i = 0; i < 3; i++)
        c->spawn_pipes[i] = -1;
}

static void close_spawn_pipes(struct ctx *c)
{
    for (int i = 0; i < 3; i++)
        if (c->spawn_pipes[i] >= 0) {
            close(c->spawn_pipes[i]);
            c->spawn_pipes[i] = -1;
        }
}

/* One run of @s; @mode/@k say what fails. Returns the allocations the call
 * made (COUNT) or whether a failure was injected. */
static long run_once(const struct scenario *s, enum inject_mode mode, long k)
{
    static struct ctx c;
    struct observed before, after;
    char what[160];
    long r, seen;
    int err;

    snprintf(what, sizeof(what), "%s, allocation %ld failing (%s)", s->name,
             k, mode == FAIL_ONE ? "only it" : "and every later one");
    assert_int_equal(tu_setup(NULL), 0);
    ctx_init(&c);
    s->prep(&c);
    observe(&c, &before);
    assert_int_equal(tu_snapshot(), 0);

    arm(mode, k);
    errno = 0;
    r = s->call(&c);
    err = errno;
    disarm();
    seen = inj.seen;
    inj.total_runs++;

    if (r == -1) {
        if (mode == COUNT)
            fail_msg("%s: fails with nothing failing: %s", s->name,
                     tu_errname(err));
        if (err != ENOMEM)
            fail_msg("%s: -1 with %s, not ENOMEM", what, tu_errname(err));
        if (inj.failed == 0)
            fail_msg("%s: -1 but no allocation failed", what);
        observe(&c, &after);
        assert_same_observed(&before, &after, what);
        /* sigaction(), mask, fds -- and evsig_reset() is not the judge
         * here: compare without it. */
        if (tu_unchanged() != 0)
            fail_msg("%s: the process changed (above)", what);
        close_spawn_pipes(&c);
        r = s->call(&c);
        if (r == -1)
            fail_msg("%s: the call fails again with nothing failing: %s",
                     what, tu_errname(errno));
    } else {
        assert_int_equal(tu_forget_snapshot(), 0);
    }
    s->works(&c);
    close_spawn_pipes(&c);
    s->done(&c);
    if (tu_teardown(NULL) != 0)
        fail_msg("%s: leaked (above)", what);
    return mode == COUNT ? seen : inj.failed > 0;
}

static void run_scenario(const struct scenario *s)
{
    long n;

    if (s->pidfd_only && evsig_child_backend() != EVSIG_CHILD_PIDFD) {
        print_message("%-52s skipped (PIDFD only)\n", s->name);
        return;
    }
    n = run_once(s, COUNT, 0);

    if (s->none) {
        if (n != 0)
            fail_msg("%s: makes %ld allocations", s->name, n);
        return;
    }
    if (n == 0)
        fail_msg("%s: makes no allocation: not a scenario", s->name);
    for (long k = 1; k <= n; k++) {
        run_once(s, FAIL_ONE, k);
        run_once(s, FAIL_ALL, k);
    }
    print_message("%-52s %3ld allocations\n", s->name, n);
}

static void test_every_allocation_fails_in_turn(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
        run_scenario(&scenarios[i]);
    print_message("%ld runs, %ld failures injected, %d distinct allocation "
                  "sites failed\n", inj.total_runs, inj.total_injected,
                  inj.nsites);
    /* EVSIG_ALLOC_SITES=1: the sites, for addr2line -f -e test-alloc. */
    if (getenv("EVSIG_ALLOC_SITES"))
        for (int i = 0; i < inj.nsites; i++) {
            Dl_info di;

            if (dladdr(inj.sites[i], &di) && di.dli_fbase)
                print_message("site %#lx\n",
                              (unsigned long)((const char *)inj.sites[i] -
                                              (const char *)di.dli_fbase));
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_allocation_fails_in_turn),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

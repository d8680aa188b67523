/* SPDX-License-Identifier: MIT */
/*
 * test-peers.c - our peers' own signal tests, ported to evsig, and the
 * tests for the defects the review of the first version found.
 *
 * Ports (each names its original; the code is ours):
 * - libuv test/test-signal-multiple-loops.c: threads, each with its own
 *   loop watching SIGUSR1, SIGUSR2 or both, while other threads create and
 *   destroy loops that watch and unwatch SIGTERM; the process is sent both
 *   signals twice (the second time with the sender blocking everything),
 *   and every loop sees every one.
 * - libuv test/test-signal-pending-on-close.c: a SIGPIPE caught during a
 *   failed write, its watcher stopped before the loop dispatched it: the
 *   callback never runs and the process survives.
 * - CPython Lib/test/test_signal.py test_stress_modifying_handlers
 *   (bpo-43406): one thread raises SIGUSR1 for ~2 s while another flips
 *   the handler between a callback and EVSIG_IGN; and the same with a
 *   watcher started and stopped over a signal the program ignores. Neither
 *   may ever let SIG_DFL be seen.
 * - CPython test_wakeup_write_error (bpo-16105): a wakeup fd whose write
 *   fails is reported on stderr, naming the fd and the error.
 * - gevent src/gevent/tests/test__monkey_sigchld_wakeup_fd.py: a SIGCHLD
 *   handler and a wakeup fd; a child exits; the fd gets the byte.
 * - Twisted src/twisted/internet/test/test_sigchld.py: isDefaultHandler(),
 *   installHandler()'s old fd, uninstalling, the byte per SIGCHLD.
 *
 * Review fixes: a CPU fault with si_code SI_KERNEL takes its default
 * action; evsig_install_handler() refuses a blocking fd; more than 16
 * watchers of one signal all get every delivery; evsig_unwatch() leaves
 * errno alone; evsig_is_default_handler() follows EVSIG_IGN and callbacks.
 *
 * Whatever could kill the test process runs in a forked child that
 * reports through its exit status, with a bounded wait; threads report
 * through their structs and are asserted on after pthread_join().
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "evsig.h"
#include "test-util.h"

/* --- helpers ------------------------------------------------------------- */

/* A callback that counts its calls in the int @data points to. */
static void count_cb(struct ev_loop *loop, const evsig_info *info, void *data)
{
    (void)loop;
    (void)info;
    (*(int *)data)++;
}

/* In a forked child: @expr (int) must not be -1; says which errno if it is. */
#define CHILD_OK(expr) do {                                                \
        errno = 0;                                                         \
        if ((long)(expr) == -1) {                                          \
            dprintf(STDERR_FILENO, "child %d: %s failed: %s\n",            \
                    (int)getpid(), #expr, tu_errname(errno));              \
            tu_child_fail(#expr, __FILE__, __LINE__);                      \
        }                                                                  \
    } while (0)

/* Read what is readable on the non-blocking @fd into @buf (a string). */
static size_t read_text(int fd, char *buf, size_t size)
{
    size_t len = 0;
    ssize_t n;

    while (len < size - 1 && (n = read(fd, buf + len, size - 1 - len)) > 0)
        len += (size_t)n;
    buf[len] = '\0';
    return len;
}

static int count_lines(const char *s)
{
    int n = 0;

    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* Whether @text holds the number @fd on its own (not inside a longer one). */
static bool names_fd(const char *text, int fd)
{
    char num[16];
    size_t len = (size_t)snprintf(num, sizeof(num), "%d", fd);

    for (const char *p = text; (p = strstr(p, num)); p++) {
        bool before = p > text && p[-1] >= '0' && p[-1] <= '9';
        bool after = p[len] >= '0' && p[len] <= '9';

        if (!before && !after)
            return true;
    }
    return false;
}

static bool names_ebadf(const char *text)
{
    return strstr(text, "EBADF") || strstr(text, strerror(EBADF));
}

/* ======================================================================== */
/* libuv: test-signal-multiple-loops                                        */
/* ======================================================================== */

/* A multiple of three: one third of the threads of each kind. */
#define MULTI_SIGNAL_THREADS 12
#define MULTI_LOOP_THREADS   4
#define MULTI_ROUNDS         2

enum multi_action { ONLY_SIGUSR1, ONLY_SIGUSR2, SIGUSR1_AND_SIGUSR2 };

static struct {
    sem_t        ready;
    _Atomic int  sig1_calls, sig2_calls, wrong_signal, unexpected;
    _Atomic int  loops_made, creator_err, creator_stuck;
    _Atomic bool stop_creating;
} multi;

struct multi_worker {
    pthread_t         thread;
    enum multi_action action;
    evsig_watcher     w1a, w1b, w2;
    ev_async          quit;
    struct ev_loop   *loop;
    _Atomic bool      up, quitting;
    /* results, read after pthread_join() */
    const char       *failed;
    int               err;
    int               rounds_done;
    bool              guard_fired;
};

/* Each callback stops its own watcher: ev_run() returns once every
 * watcher of the loop caught its signal. */
static void multi_sig1_cb(struct ev_loop *loop, const evsig_info *info, void *data)
{
    (void)loop;
    if (info->signo != SIGUSR1)
        atomic_fetch_add(&multi.wrong_signal, 1);
    atomic_fetch_add(&multi.sig1_calls, 1);
    evsig_unwatch(data);
}

static void multi_sig2_cb(struct ev_loop *loop, const evsig_info *info, void *data)
{
    (void)loop;
    if (info->signo != SIGUSR2)
        atomic_fetch_add(&multi.wrong_signal, 1);
    atomic_fetch_add(&multi.sig2_calls, 1);
    evsig_unwatch(data);
}

static void multi_unexpected_cb(struct ev_loop *loop, const evsig_info *info,
                                void *data)
{
    (void)loop;
    (void)info;
    (void)data;
    atomic_fetch_add(&multi.unexpected, 1);
}

static void multi_quit_cb(struct ev_loop *loop, ev_async *w, int revents)
{
    (void)w;
    (void)revents;
    ev_break(loop, EVBREAK_ALL);
}

static bool multi_start_watchers(struct multi_worker *m)
{
    struct ev_loop *loop = m->loop;

    if (m->action != ONLY_SIGUSR2 &&
        (evsig_watch(loop, &m->w1a, SIGUSR1, multi_sig1_cb, &m->w1a, 0) != 0 ||
         evsig_watch(loop, &m->w1b, SIGUSR1, multi_sig1_cb, &m->w1b, 0) != 0))
        return false;
    if (m->action != ONLY_SIGUSR1 &&
        evsig_watch(loop, &m->w2, SIGUSR2, multi_sig2_cb, &m->w2, 0) != 0)
        return false;
    return true;
}

static void *multi_worker_main(void *arg)
{
    struct multi_worker *m = arg;
    int round = 0;

    m->loop = ev_loop_new(EVFLAG_NOENV);
    if (!m->loop) {
        m->failed = "ev_loop_new";
        m->err = ENOMEM;
        goto out;
    }
    /* The quit async must not keep ev_run() alive by itself. */
    ev_async_init(&m->quit, multi_quit_cb);
    ev_async_start(m->loop, &m->quit);
    ev_unref(m->loop);
    atomic_store(&m->up, true);

    for (; round < MULTI_ROUNDS && !atomic_load(&m->quitting); round++) {
        struct tu_guard g;

        if (!multi_start_watchers(m)) {
            m->failed = "evsig_watch";
            m->err = errno;
            break;
        }
        sem_post(&multi.ready);
        tu_guard_start(&g, m->loop, 10.0);
        ev_run(m->loop, 0);
        tu_guard_stop(&g);
        if (g.fired) {
            m->guard_fired = true;
            round++;   /* its ready was posted */
            break;
        }
        if (atomic_load(&m->quitting)) {
            round++;
            break;
        }
        m->rounds_done++;
    }
    evsig_unwatch(&m->w1a);
    evsig_unwatch(&m->w1b);
    evsig_unwatch(&m->w2);
    ev_ref(m->loop);
    ev_async_stop(m->loop, &m->quit);
    ev_loop_destroy(m->loop);
out:
    /* Whatever happened, the main thread is not left waiting. */
    for (; round < MULTI_ROUNDS; round++)
        sem_post(&multi.ready);
    return NULL;
}

static void *multi_creator_main(void *arg)
{
    (void)arg;
    do {
        struct ev_loop *loop = ev_loop_new(EVFLAG_NOENV);
        evsig_watcher w;
        struct tu_guard g;

        if (!loop) {
            atomic_store(&multi.creator_err, ENOMEM);
            break;
        }
        if (evsig_watch(loop, &w, SIGTERM, multi_unexpected_cb, NULL, 0) != 0) {
            atomic_store(&multi.creator_err, errno);
            ev_loop_destroy(loop);
            break;
        }
        evsig_unwatch(&w);
        /* Nothing is left that keeps it alive: ev_run() returns at once. */
        tu_guard_start(&g, loop, 5.0);
        ev_run(loop, 0);
        tu_guard_stop(&g);
        if (g.fired)
            atomic_fetch_add(&multi.creator_stuck, 1);
        ev_loop_destroy(loop);
        atomic_fetch_add(&multi.loops_made, 1);
    } while (!atomic_load(&multi.stop_creating));
    return NULL;
}

/* Wait for @n posts of multi.ready, 10 s at most in all. */
static bool multi_wait_ready(int n)
{
    struct timespec until;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 10;
    for (int i = 0; i < n; i++) {
        while (sem_timedwait(&multi.ready, &until) != 0)
            if (errno != EINTR)
                return false;
    }
    return true;
}

static bool multi_any_failed(const struct multi_worker *m, int n)
{
    for (int i = 0; i < n; i++)
        if (m[i].failed || m[i].guard_fired)
            return true;
    return false;
}

static void test_libuv_signal_multiple_loops_every_thread_loop_sees_sigusr1_and_sigusr2(void **unused)
{
    struct multi_worker *m = calloc(MULTI_SIGNAL_THREADS, sizeof(*m));
    pthread_t creators[MULTI_LOOP_THREADS];
    int ncreators = 0, nworkers = 0;
    sigset_t all, old;
    bool ok, blocked = false;
    (void)unused;

    assert_non_null(m);
    memset(&multi, 0, sizeof(multi));
    assert_int_equal(sem_init(&multi.ready, 0, 0), 0);

    for (int i = 0; i < MULTI_LOOP_THREADS; i++)
        if (pthread_create(&creators[i], NULL, multi_creator_main, NULL) == 0)
            ncreators++;
    for (int i = 0; i < MULTI_SIGNAL_THREADS; i++) {
        m[i].action = (enum multi_action)(i % 3);
        if (pthread_create(&m[i].thread, NULL, multi_worker_main, &m[i]) == 0)
            nworkers++;
    }
    ok = ncreators == MULTI_LOOP_THREADS && nworkers == MULTI_SIGNAL_THREADS;

    /* Round 1: every worker set up, then both signals, taken by this
     * thread (it blocks nothing). */
    ok = ok && multi_wait_ready(nworkers) && !multi_any_failed(m, nworkers);
    if (ok) {
        kill(getpid(), SIGUSR1);
        kill(getpid(), SIGUSR2);
    }
    /* Round 2: every worker set up again; this thread blocks everything,
     * so the C handler runs on some other thread. */
    ok = ok && multi_wait_ready(nworkers) && !multi_any_failed(m, nworkers);
    if (ok) {
        sigfillset(&all);
        assert_int_equal(pthread_sigmask(SIG_SETMASK, &all, &old), 0);
        blocked = true;
        kill(getpid(), SIGUSR1);
        kill(getpid(), SIGUSR2);
    }
    if (!ok) {
        for (int i = 0; i < nworkers; i++) {
            atomic_store(&m[i].quitting, true);
            if (atomic_load(&m[i].up))
                ev_async_send(m[i].loop, &m[i].quit);
        }
    }
    for (int i = 0; i < nworkers; i++)
        pthread_join(m[i].thread, NULL);
    atomic_store(&multi.stop_creating, true);
    for (int i = 0; i < ncreators; i++)
        pthread_join(creators[i], NULL);
    if (blocked)
        assert_int_equal(pthread_sigmask(SIG_SETMASK, &old, NULL), 0);
    sem_destroy(&multi.ready);

    print_message("SIGUSR1 callbacks: %d, SIGUSR2 callbacks: %d, "
                  "loops created and destroyed: %d\n",
                  atomic_load(&multi.sig1_calls), atomic_load(&multi.sig2_calls),
                  atomic_load(&multi.loops_made));
    assert_int_equal(nworkers, MULTI_SIGNAL_THREADS);
    assert_int_equal(ncreators, MULTI_LOOP_THREADS);
    for (int i = 0; i < nworkers; i++) {
        if (m[i].failed)
            fail_msg("worker %d: %s: %s", i, m[i].failed, tu_errname(m[i].err));
        if (m[i].guard_fired)
            fail_msg("worker %d: its loop did not see every signal in 10 s "
                     "(round %d)", i, m[i].rounds_done + 1);
        assert_int_equal(m[i].rounds_done, MULTI_ROUNDS);
    }
    if (atomic_load(&multi.creator_err))
        fail_msg("a loop-creating thread: evsig_watch(SIGTERM): %s",
                 tu_errname(atomic_load(&multi.creator_err)));
    assert_true(ok);
    /* Per round: two SIGUSR1 watchers in each of 2/3 of the threads, one
     * SIGUSR2 watcher in each of 2/3 of them. */
    assert_int_equal(atomic_load(&multi.sig1_calls), 8 * (MULTI_SIGNAL_THREADS / 3));
    assert_int_equal(atomic_load(&multi.sig2_calls), 4 * (MULTI_SIGNAL_THREADS / 3));
    assert_int_equal(atomic_load(&multi.wrong_signal), 0);
    assert_int_equal(atomic_load(&multi.unexpected), 0);
    assert_int_equal(atomic_load(&multi.creator_stuck), 0);
    assert_true(atomic_load(&multi.loops_made) >= MULTI_LOOP_THREADS);
    free(m);
}

/* ======================================================================== */
/* libuv: test-signal-pending-on-close                                      */
/* ======================================================================== */

struct pending_on_close {
    evsig_watcher sigpipe;
    ev_io         out;
    int           callbacks;     /* of the SIGPIPE watcher: must stay 0 */
    ssize_t       wrote;
    int           write_err;
    bool          written;
};

static void pending_sigpipe_cb(struct ev_loop *loop, const evsig_info *info,
                               void *data)
{
    struct pending_on_close *p = data;

    (void)loop;
    (void)info;
    p->callbacks++;
}

/* libuv's write_cb: the write failed with EPIPE (the SIGPIPE it raised was
 * caught, not yet dispatched); close the pipe and the signal handle. */
static void pending_write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct pending_on_close *p = w->data;
    static char buf[1 << 16];

    (void)revents;
    memset(buf, '.', sizeof(buf));
    p->wrote = write(w->fd, buf, sizeof(buf));
    p->write_err = errno;
    p->written = true;
    ev_io_stop(loop, w);
    close(w->fd);
    evsig_unwatch(&p->sigpipe);
}

static void child_pending_on_close(void *arg)
{
    struct ev_loop *loop = ev_loop_new(EVFLAG_NOENV);
    static struct pending_on_close p;
    struct sigaction sa;
    struct tu_guard g;
    int fds[2];
    (void)arg;

    TU_CHILD_CHECK(loop);
    signal(SIGPIPE, SIG_DFL);
    CHILD_OK(evsig_watch(loop, &p.sigpipe, SIGPIPE, pending_sigpipe_cb, &p, 0));
    TU_CHILD_CHECK(pipe2(fds, O_CLOEXEC) == 0);
    TU_CHILD_CHECK(fcntl(fds[1], F_SETFL, O_NONBLOCK) == 0);
    ev_io_init(&p.out, pending_write_cb, fds[1], EV_WRITE);
    p.out.data = &p;
    ev_io_start(loop, &p.out);
    close(fds[0]);   /* the write in the next iteration gets EPIPE */

    /* Returns once the write callback stopped both watchers. */
    tu_guard_start(&g, loop, 5.0);
    ev_run(loop, 0);
    tu_guard_stop(&g);
    TU_CHILD_CHECK(!g.fired);
    TU_CHILD_CHECK(p.written && p.wrote == -1 && p.write_err == EPIPE);
    tu_spin(loop);
    TU_CHILD_CHECK(p.callbacks == 0);
    sigaction(SIGPIPE, NULL, &sa);
    TU_CHILD_CHECK(sa.sa_handler == SIG_DFL);
    _exit(0);
}

static void test_libuv_signal_pending_on_close_a_caught_sigpipe_whose_watcher_stopped_does_not_kill(void **unused)
{
    (void)unused;
    tu_assert_child_exit(tu_fork(child_pending_on_close, NULL), 0, 10);
}

/* ======================================================================== */
/* CPython: test_stress_modifying_handlers (bpo-43406)                      */
/* ======================================================================== */

#define STRESS_SECONDS 2.0
#define STRESS_CAP     8.0   /* hard cap, should the raiser not get going */

struct raiser {
    pthread_t    thread;
    int          sig;
    _Atomic bool stop;
    _Atomic long sent;
};

static void *raiser_main(void *arg)
{
    struct raiser *r = arg;

    while (!atomic_load_explicit(&r->stop, memory_order_relaxed)) {
        raise(r->sig);   /* taken by this thread, before raise() returns */
        atomic_fetch_add_explicit(&r->sent, 1, memory_order_relaxed);
    }
    return NULL;
}

/* Keep going for STRESS_SECONDS and until 100 signals were sent. */
static bool stress_more(const struct raiser *r, double start)
{
    double now = tu_now();

    if (now - start >= STRESS_CAP)
        return false;
    return now - start < STRESS_SECONDS || atomic_load(&r->sent) < 100;
}

/* In a child: the table flips between a callback and EVSIG_IGN while
 * another thread raises SIGUSR1 in a loop. A SIG_DFL instant kills it. */
static void child_stress_flip_handler_and_ign(void *arg)
{
    struct ev_loop *loop = ev_loop_new(EVFLAG_NOENV);
    static struct raiser r = { .sig = SIGUSR1 };
    static int received;
    long errors = 0, flips = 0, sent;
    double start = tu_now();
    int before;
    (void)arg;

    TU_CHILD_CHECK(loop);
    signal(SIGUSR1, SIG_DFL);
    CHILD_OK(evsig_signal(loop, SIGUSR1, count_cb, &received, NULL));
    TU_CHILD_CHECK(pthread_create(&r.thread, NULL, raiser_main, &r) == 0);
    while (stress_more(&r, start)) {
        for (int i = 0; i < 2000; i++) {
            /* IGN first: the batch ends with the handler set, so what is
             * caught until the loop runs is dispatched. */
            errors += evsig_signal(NULL, SIGUSR1, EVSIG_IGN, NULL, NULL) != 0;
            errors += evsig_signal(loop, SIGUSR1, count_cb, &received, NULL) != 0;
            flips += 2;
        }
        ev_run(loop, EVRUN_NOWAIT);
    }
    atomic_store(&r.stop, true);
    pthread_join(r.thread, NULL);
    sent = atomic_load(&r.sent);
    tu_spin(loop);
    dprintf(STDOUT_FILENO, "flip handler/IGN: %ld flips, %ld signals sent, "
            "%d handled\n", flips, sent, received);
    TU_CHILD_CHECK(errors == 0);
    TU_CHILD_CHECK(sent >= 100);
    TU_CHILD_CHECK(received < sent);   /* some met SIG_IGN */

    /* The handler still works afterwards. */
    before = received;
    TU_CHILD_CHECK(raise(SIGUSR1) == 0);
    TU_CHILD_CHECK(TU_RUN_UNTIL(loop, received == before + 1, 5));
    evsig_reset();
    _exit(0);
}

static void test_cpython_stress_flipping_a_handler_and_ign_under_a_raise_storm_never_kills(void **unused)
{
    (void)unused;
    tu_assert_child_exit(tu_fork(child_stress_flip_handler_and_ign, NULL), 0,
                         STRESS_CAP + 10);
}

/* In a child: SIGUSR2 is ignored by the program; a watcher over it is
 * started and stopped again and again while another thread raises it. The
 * kernel must go from evsig's handler straight back to SIG_IGN. */
static void child_stress_watch_an_ignored_signal(void *arg)
{
    struct ev_loop *loop = ev_loop_new(EVFLAG_NOENV);
    static struct raiser r = { .sig = SIGUSR2 };
    static evsig_watcher w;
    static int received;
    struct sigaction ign, found, now;
    long errors = 0, cycles = 0, sent;
    double start = tu_now();
    (void)arg;

    TU_CHILD_CHECK(loop);
    memset(&ign, 0, sizeof(ign));
    ign.sa_handler = SIG_IGN;
    TU_CHILD_CHECK(sigaction(SIGUSR2, &ign, NULL) == 0);
    sigaction(SIGUSR2, NULL, &found);
    TU_CHILD_CHECK(pthread_create(&r.thread, NULL, raiser_main, &r) == 0);
    while (stress_more(&r, start)) {
        for (int i = 0; i < 2000; i++) {
            errors += evsig_watch(loop, &w, SIGUSR2, count_cb, &received, 0) != 0;
            errors += evsig_unwatch(&w) != 0;
            cycles++;
        }
        ev_run(loop, EVRUN_NOWAIT);
    }
    atomic_store(&r.stop, true);
    pthread_join(r.thread, NULL);
    sent = atomic_load(&r.sent);
    tu_spin(loop);
    dprintf(STDOUT_FILENO, "watch/unwatch over SIG_IGN: %ld cycles, %ld signals "
            "sent, %d handled\n", cycles, sent, received);
    TU_CHILD_CHECK(errors == 0);
    TU_CHILD_CHECK(sent >= 100);
    sigaction(SIGUSR2, NULL, &now);
    TU_CHILD_CHECK(tu_same_sigaction(&now, &found));
    _exit(0);
}

static void test_cpython_stress_starting_and_stopping_a_watcher_over_an_ignored_signal_never_kills(void **unused)
{
    (void)unused;
    tu_assert_child_exit(tu_fork(child_stress_watch_an_ignored_signal, NULL), 0,
                         STRESS_CAP + 10);
}

/* ======================================================================== */
/* CPython: test_wakeup_write_error (bpo-16105)                             */
/* ======================================================================== */

/*
 * The wakeup fd is the read end of a pipe, non-blocking: every write the C
 * handler tries fails with EBADF. stderr goes into a pipe around two
 * deliveries, each dispatched before the next: one line each, naming the
 * fd and the error. Assertions come after stderr is back.
 */
static void check_wakeup_write_error_is_reported(int flags)
{
    struct ev_loop *loop = tu_default_loop();
    static int calls;
    char text[2][1024];
    int p[2], cap[2], saved;
    bool ran[2];

    calls = 0;
    tu_pipe(p);
    tu_pipe(cap);
    assert_succeeds(evsig_signal(loop, SIGALRM, count_cb, &calls, NULL));
    assert_succeeds(evsig_set_wakeup_fd(p[0], flags, NULL));

    fflush(stderr);
    saved = dup(STDERR_FILENO);
    assert_true(saved >= 0);
    assert_true(dup2(cap[1], STDERR_FILENO) == STDERR_FILENO);
    for (int i = 0; i < 2; i++) {
        raise(SIGALRM);
        ran[i] = TU_RUN_UNTIL(loop, calls == i + 1, 5);
        tu_spin(loop);
        fflush(stderr);
        read_text(cap[0], text[i], sizeof(text[i]));
    }
    dup2(saved, STDERR_FILENO);
    close(saved);

    assert_int_equal(evsig_set_wakeup_fd(-1, 0, NULL), 0);
    close(p[0]);
    close(p[1]);
    close(cap[0]);
    close(cap[1]);
    for (int i = 0; i < 2; i++) {
        print_message("flags %d, stderr after dispatch %d: \"%s\"\n", flags,
                      i + 1, text[i]);
        assert_true(ran[i]);
        assert_int_equal(count_lines(text[i]), 1);
        if (!names_fd(text[i], p[0]))
            fail_msg("the line does not name fd %d", p[0]);
        if (!names_ebadf(text[i]))
            fail_msg("the line does not name EBADF (\"%s\")", strerror(EBADF));
    }
}

static void test_cpython_wakeup_write_error_is_reported_on_stderr_naming_the_fd_and_the_error(void **unused)
{
    (void)unused;
    check_wakeup_write_error_is_reported(0);
}

static void test_cpython_wakeup_write_error_is_reported_also_with_warn_on_full(void **unused)
{
    (void)unused;
    check_wakeup_write_error_is_reported(EVSIG_WAKEUP_WARN_ON_FULL);
}

/* ======================================================================== */
/* gevent: test__monkey_sigchld_wakeup_fd                                   */
/* ======================================================================== */

static void exit_at_once(void *arg)
{
    (void)arg;
    _exit(0);
}

static void test_gevent_sigchld_wakeup_fd_gets_a_byte_with_only_a_cooperative_sigchld_handler(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    static int calls;
    unsigned char byte = 0;
    int wake[2], status, got;
    pid_t pid;
    (void)unused;

    tu_pipe(wake);
    assert_succeeds(evsig_signal(loop, SIGCHLD, count_cb, &calls, NULL));
    assert_succeeds(evsig_set_wakeup_fd(wake[1], EVSIG_WAKEUP_WARN_ON_FULL, NULL));

    /* A child nobody watches exits (gevent: subprocess.Popen("pass")); the
     * program reaps it itself. The loop does not run meanwhile. */
    pid = tu_fork(exit_at_once, NULL);
    status = tu_wait(pid, 5);
    if (status == -1)
        fail_msg("waitpid(%d): %s", (int)pid, tu_errname(errno));
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    got = tu_read_byte_within(wake[0], 5000, &byte);
    if (got != 1)
        fail_msg("no wakeup byte for the child's SIGCHLD");
    assert_int_equal(byte, SIGCHLD);
    assert_int_equal(tu_read_byte_within(wake[0], 50, NULL), 0);   /* one only */

    /* And for a SIGCHLD sent by hand. */
    assert_int_equal(kill(getpid(), SIGCHLD), 0);
    got = tu_read_byte_within(wake[0], 5000, &byte);
    if (got != 1)
        fail_msg("no wakeup byte for kill(getpid(), SIGCHLD)");
    assert_int_equal(byte, SIGCHLD);

    tu_spin(loop);
    assert_int_equal(evsig_set_wakeup_fd(-1, 0, NULL), 0);
    close(wake[0]);
    close(wake[1]);
}

/* ======================================================================== */
/* Twisted: test_sigchld                                                    */
/* ======================================================================== */

static void test_twisted_is_default_handler_follows_ign_dfl_and_a_callback(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    static int calls;
    (void)unused;

    assert_int_equal(evsig_is_default_handler(), 1);
    assert_succeeds(evsig_signal(NULL, SIGCHLD, EVSIG_IGN, NULL, NULL));
    assert_int_equal(evsig_is_default_handler(), 0);
    assert_succeeds(evsig_signal(NULL, SIGCHLD, EVSIG_DFL, NULL, NULL));
    assert_int_equal(evsig_is_default_handler(), 1);
    assert_succeeds(evsig_signal(loop, SIGCHLD, count_cb, &calls, NULL));
    assert_int_equal(evsig_is_default_handler(), 0);
    assert_succeeds(evsig_signal(NULL, SIGCHLD, EVSIG_DFL, NULL, NULL));
    assert_int_equal(evsig_is_default_handler(), 1);
}

static void test_twisted_install_handler_returns_the_old_fd_and_minus_one_uninstalls(void **unused)
{
    int p[2], old = 42, prev = 42;
    (void)unused;

    tu_pipe(p);
    assert_int_equal(evsig_is_default_handler(), 1);
    assert_int_equal(evsig_install_handler(p[1], &old), 0);
    assert_int_equal(old, -1);
    assert_int_equal(evsig_is_default_handler(), 0);
    assert_int_equal(evsig_install_handler(old, &prev), 0);   /* -1: uninstall */
    assert_int_equal(prev, p[1]);
    assert_int_equal(evsig_is_default_handler(), 1);
    close(p[0]);
    close(p[1]);
}

static void test_twisted_install_handler_writes_a_byte_when_sigchld_arrives(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    unsigned char buf[5];
    int p[2];
    (void)unused;

    tu_pipe(p);
    assert_int_equal(evsig_install_handler(p[1], NULL), 0);
    {
        ssize_t n = read(p[0], buf, 1);
        int err = errno;

        assert_int_equal(n, -1);
        assert_int_equal(err, EAGAIN);
    }
    assert_int_equal(kill(getpid(), SIGCHLD), 0);
    assert_int_equal(read(p[0], buf, sizeof(buf)), 1);
    tu_spin(loop);
    assert_int_equal(evsig_install_handler(-1, NULL), 0);
    close(p[0]);
    close(p[1]);
}

/* ======================================================================== */
/* Review fixes                                                             */
/* ======================================================================== */

#if defined(__x86_64__)
/* A store to a non-canonical address: the CPU raises a general-protection
 * fault, which Linux delivers as SIGSEGV with si_code SI_KERNEL. */
static __attribute__((noinline)) void general_protection_fault(void)
{
    volatile uintptr_t addr = 0x8000000000000000ul;

    *(volatile int *)addr = 1;
}

static void gp_premise_handler(int sig, siginfo_t *si, void *uctx)
{
    (void)sig;
    (void)uctx;
    _exit(si->si_code == SI_KERNEL ? 0 : 1);
}

/* The premise, without evsig: the fault comes as SIGSEGV/SI_KERNEL. */
static void child_gp_premise(void *arg)
{
    struct sigaction sa;
    (void)arg;

    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = gp_premise_handler;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGSEGV, &sa, NULL);
    general_protection_fault();
    _exit(2);
}

/* With evsig's handler for SIGSEGV (a watcher if @arg, else the table), the
 * fault must kill: returning from the handler would fault again forever. */
static void child_gp_fault_under_evsig(void *arg)
{
    struct ev_loop *loop = ev_loop_new(EVFLAG_NOENV);
    struct rlimit nocore = { 0, 0 };
    static evsig_watcher w;
    static int calls;

    TU_CHILD_CHECK(loop);
    setrlimit(RLIMIT_CORE, &nocore);
    if (arg)
        CHILD_OK(evsig_watch(loop, &w, SIGSEGV, count_cb, &calls, 0));
    else
        CHILD_OK(evsig_signal(loop, SIGSEGV, count_cb, &calls, NULL));
    general_protection_fault();
    _exit(3);
}
#endif

static void test_a_general_protection_fault_with_si_kernel_takes_the_default_action_despite_evsig(void **unused)
{
    (void)unused;
#if defined(__x86_64__)
    {
        int status = tu_wait(tu_fork(child_gp_premise, NULL), 5);

        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            print_message("a non-canonical store is not SIGSEGV/SI_KERNEL here; skipped\n");
            skip();
        }
    }
    /* Bounded: a handler that returns makes the child spin at 100% CPU. */
    tu_assert_child_killed(tu_fork(child_gp_fault_under_evsig, NULL), SIGSEGV, 5);
    tu_assert_child_killed(tu_fork(child_gp_fault_under_evsig, (void *)1), SIGSEGV, 5);
#else
    print_message("needs x86-64 (non-canonical addresses); skipped\n");
    skip();
#endif
}

static void test_install_handler_refuses_a_blocking_fd_with_einval_and_changes_nothing(void **unused)
{
    struct sigaction before;
    int p[2], old = 42;
    (void)unused;

    tu_blocking_pipe(p);
    tu_read_sa(SIGCHLD, &before);
    assert_fails_with(evsig_install_handler(p[1], NULL), EINVAL);
    tu_assert_same_sa(SIGCHLD, &before);
    assert_int_equal(evsig_is_default_handler(), 1);
    assert_int_equal(evsig_install_handler(-1, &old), 0);
    assert_int_equal(old, -1);   /* nothing was set */
    close(p[0]);
    close(p[1]);
}

enum { MANY = 40 };

static struct {
    int order[4 * MANY];
    int n;
    int hits[MANY];
} many;

static void many_cb(struct ev_loop *loop, const evsig_info *info, void *data)
{
    int id = (int)(intptr_t)data;

    (void)loop;
    (void)info;
    if (many.n < 4 * MANY)
        many.order[many.n] = id;
    many.n++;
    many.hits[id]++;
}

static void test_more_than_sixteen_watchers_on_one_signal_all_get_every_delivery_in_start_order(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    static evsig_watcher w[MANY];
    (void)unused;

    memset(&many, 0, sizeof(many));
    for (int i = 0; i < MANY; i++)
        assert_succeeds(evsig_watch(loop, &w[i], SIGUSR1, many_cb,
                                    (void *)(intptr_t)i, 0));
    for (int round = 1; round <= 3; round++) {
        raise(SIGUSR1);
        assert_true(TU_RUN_UNTIL(loop, many.n >= round * MANY, 5));
        tu_spin(loop);
        assert_int_equal(many.n, round * MANY);
        for (int i = 0; i < MANY; i++)
            if (many.hits[i] != round)
                fail_msg("watcher %d: %d calls after %d deliveries", i,
                         many.hits[i], round);
    }
    for (int k = 0; k < 3 * MANY; k++)
        assert_int_equal(many.order[k], k % MANY);
    for (int i = 0; i < MANY; i++)
        assert_succeeds(evsig_unwatch(&w[i]));
}

struct unwatch_self {
    evsig_watcher w;
    int           errno_after;
    int           rc;
    bool          called;
};

static void unwatch_self_cb(struct ev_loop *loop, const evsig_info *info, void *data)
{
    struct unwatch_self *u = data;

    (void)loop;
    (void)info;
    errno = EDOM;
    u->rc = evsig_unwatch(&u->w);
    u->errno_after = errno;
    u->called = true;
}

/* A thread with its own loop: a delivery caught on this thread, then the
 * watcher stopped before dispatch, errno checked around the stop. */
struct errno_thread {
    int rc, errno_after, setup_err;
};

static void *errno_thread_main(void *arg)
{
    struct errno_thread *t = arg;
    struct ev_loop *loop = ev_loop_new(EVFLAG_NOENV);
    evsig_watcher w;
    int calls = 0;

    if (!loop) {
        t->setup_err = ENOMEM;
        return NULL;
    }
    if (evsig_watch(loop, &w, SIGUSR1, count_cb, &calls, 0) != 0) {
        t->setup_err = errno;
        ev_loop_destroy(loop);
        return NULL;
    }
    raise(SIGUSR1);   /* caught on this thread, which is not the main one */
    errno = EDOM;
    t->rc = evsig_unwatch(&w);
    t->errno_after = errno;
    ev_loop_destroy(loop);
    return NULL;
}

static void test_unwatch_leaves_errno_untouched_on_success(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    static evsig_watcher a, b, c;
    static struct unwatch_self self;
    struct sigaction orig, foreign;
    static int calls;
    (void)unused;

    tu_read_sa(SIGUSR1, &orig);
    tu_install_foreign(SIGUSR1, SA_SIGINFO | SA_RESTART, &foreign);
    assert_succeeds(evsig_watch(loop, &a, SIGUSR1, count_cb, &calls, 0));
    assert_succeeds(evsig_watch(loop, &b, SIGUSR1, count_cb, &calls, 0));

    errno = EDOM;
    assert_int_equal(evsig_unwatch(&a), 0);          /* not the last */
    assert_int_equal(errno, EDOM);
    errno = EDOM;
    assert_int_equal(evsig_unwatch(&b), 0);          /* the last: restores */
    assert_int_equal(errno, EDOM);
    tu_assert_same_sa(SIGUSR1, &foreign);
    errno = EDOM;
    assert_int_equal(evsig_unwatch(&b), 0);          /* inactive */
    assert_int_equal(errno, EDOM);

    /* With a delivery caught and not yet dispatched. */
    assert_succeeds(evsig_watch(loop, &c, SIGUSR1, count_cb, &calls, 0));
    raise(SIGUSR1);
    errno = EDOM;
    assert_int_equal(evsig_unwatch(&c), 0);
    assert_int_equal(errno, EDOM);
    tu_spin(loop);

    /* From the watcher's own callback. */
    memset(&self, 0, sizeof(self));
    assert_succeeds(evsig_watch(loop, &self.w, SIGUSR1, unwatch_self_cb, &self, 0));
    raise(SIGUSR1);
    assert_true(TU_RUN_UNTIL(loop, self.called, 5));
    assert_int_equal(self.rc, 0);
    assert_int_equal(self.errno_after, EDOM);

    /* On a thread of its own (whatever evsig does with the caught delivery
     * there, it must not show in errno). */
    {
        struct errno_thread t = { .rc = -2 };
        pthread_t thread;

        assert_int_equal(pthread_create(&thread, NULL, errno_thread_main, &t), 0);
        assert_int_equal(pthread_join(thread, NULL), 0);
        if (t.setup_err)
            fail_msg("the thread's evsig_watch: %s", tu_errname(t.setup_err));
        assert_int_equal(t.rc, 0);
        if (t.errno_after != EDOM)
            fail_msg("evsig_unwatch() on a thread changed errno to %s",
                     tu_errname(t.errno_after));
    }

    evsig_reset();
    tu_put_back_exact(SIGUSR1, &orig);
}

struct chld_table {
    int   calls;
    int   child_calls;
    pid_t pid;
};

static void chld_table_cb(struct ev_loop *loop, const evsig_info *info, void *data)
{
    struct chld_table *t = data;

    (void)loop;
    t->calls++;
    t->pid = info->pid;
}

static void chld_child_cb(struct ev_loop *loop, pid_t pid, int status, void *data)
{
    struct chld_table *t = data;

    (void)loop;
    (void)pid;
    (void)status;
    t->child_calls++;
}

static void test_is_default_handler_stays_0_after_a_sigchld_callback_ran(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    static struct chld_table t;
    pid_t pid;
    (void)unused;

    memset(&t, 0, sizeof(t));
    assert_succeeds(evsig_signal(loop, SIGCHLD, chld_table_cb, &t, NULL));
    assert_int_equal(evsig_is_default_handler(), 0);
    pid = assert_succeeds(evsig_fork_and_watch(loop, chld_child_cb, &t, 0));
    if (pid == 0)
        _exit(0);
    assert_true(TU_RUN_UNTIL(loop, t.child_calls == 1 && t.calls >= 1, 5));
    assert_int_equal(t.pid, pid);
    assert_int_equal(evsig_is_default_handler(), 0);
    assert_succeeds(evsig_signal(NULL, SIGCHLD, EVSIG_DFL, NULL, NULL));
    assert_int_equal(evsig_is_default_handler(), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_libuv_signal_pending_on_close_a_caught_sigpipe_whose_watcher_stopped_does_not_kill, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_cpython_wakeup_write_error_is_reported_on_stderr_naming_the_fd_and_the_error, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_cpython_wakeup_write_error_is_reported_also_with_warn_on_full, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_gevent_sigchld_wakeup_fd_gets_a_byte_with_only_a_cooperative_sigchld_handler, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_twisted_is_default_handler_follows_ign_dfl_and_a_callback, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_twisted_install_handler_returns_the_old_fd_and_minus_one_uninstalls, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_twisted_install_handler_writes_a_byte_when_sigchld_arrives, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_a_general_protection_fault_with_si_kernel_takes_the_default_action_despite_evsig, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_install_handler_refuses_a_blocking_fd_with_einval_and_changes_nothing, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_more_than_sixteen_watchers_on_one_signal_all_get_every_delivery_in_start_order, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_unwatch_leaves_errno_untouched_on_success, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_is_default_handler_stays_0_after_a_sigchld_callback_ran, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_cpython_stress_flipping_a_handler_and_ign_under_a_raise_storm_never_kills, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_cpython_stress_starting_and_stopping_a_watcher_over_an_ignored_signal_never_kills, tu_setup, tu_teardown),
        /* Last: on a library that is not thread-safe it may crash. */
        cmocka_unit_test_setup_teardown(test_libuv_signal_multiple_loops_every_thread_loop_sees_sigusr1_and_sigusr2, tu_setup, tu_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

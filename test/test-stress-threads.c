/* SPDX-License-Identifier: MIT */
/*
 * test-stress-threads.c - signals and threads (issue 7), the stress tests
 * that run more than one thread, so that a ThreadSanitizer build can run
 * exactly these:
 *
 * - RT signals aimed with pthread_sigqueue()/pthread_kill() at 4 busy
 *   threads all reach handlers that run on the loop's thread, none lost,
 *   none twice, in acked batches of at most 100 per signal;
 * - EINTR: the loop's thread blocked in read(), write(), waitpid() on an
 *   unwatched child and nanosleep() while another thread storms it with
 *   SIGUSR1 and SIGCHLD (children exiting): SA_RESTART restarts every call
 *   the kernel restarts; nanosleep() fails with EINTR as signal(7) says it
 *   always does; after evsig_siginterrupt(SIGUSR1, 1) read() fails with
 *   EINTR.
 *
 * Protocols, not sleeps: the storm thread waits, through /proc, until the
 * loop's thread sits in the system call, and after each signal until
 * evsig's C handler wrote its wakeup byte (evsig_set_wakeup_fd()). The
 * loop does not run while its thread is blocked: deliveries wait in
 * evsig's ring (fewer than EVSIG_RING_SIZE) and are drained afterwards.
 * Figures are printed as "FIGURE name value".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
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
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "evsig.h"
#include "test-util.h"

/* ======================================================================== */
/* Threads: signals aimed at busy threads reach the loop's thread           */
/* ======================================================================== */

#define BUSY_THREADS  4
#if defined(__SANITIZE_THREAD__)
/* ThreadSanitizer keeps one pending slot per signal and thread: queued RT
 * signals to one thread coalesce there before any handler runs. One
 * signal per thread and signal in flight keeps every one countable. */
#define THREAD_ROUNDS 250
#define THREAD_BATCH  BUSY_THREADS
#else
#define THREAD_ROUNDS 50
#define THREAD_BATCH  100   /* per signal, <= EVSIG_RING_SIZE */
#endif

struct threaded {
    pthread_t        loop_thread;
    pthread_t        busy[BUSY_THREADS];
    _Atomic bool     stop;
    _Atomic long     spins;
    int              ack[2];          /* the loop acks each full batch */
    /* loop thread only */
    long             got_queue, got_kill;
    long             wrong_thread, wrong_code, lost;
    unsigned char    seen[THREAD_ROUNDS * THREAD_BATCH];
    long             dup;
    /* sender thread's report */
    _Atomic int      sender_failed;
    _Atomic bool     sender_done;
};

static void *busy_main(void *arg)
{
    struct threaded *t = arg;
    pthread_mutex_t mine = PTHREAD_MUTEX_INITIALIZER;
    unsigned long n = 0;

    /* Spin with every signal unblocked. The relaxed atomics keep the
     * compiler from hoisting the load. Now and then an uncontended lock:
     * ThreadSanitizer runs a signal's handler only when the thread enters
     * or leaves a function it intercepts, so a thread that never calls one
     * would never see its signals there. */
    while (!atomic_load_explicit(&t->stop, memory_order_relaxed)) {
        atomic_fetch_add_explicit(&t->spins, 1, memory_order_relaxed);
        if ((++n & 1023) == 0) {
            pthread_mutex_lock(&mine);
            pthread_mutex_unlock(&mine);
        }
    }
    return NULL;
}

static void thread_queue_handler(struct ev_loop *loop, const evsig_info *info,
                                 void *data)
{
    struct threaded *t = data;
    int v = info->value.sival_int;

    (void)loop;
    if (!pthread_equal(pthread_self(), t->loop_thread))
        t->wrong_thread++;
    t->lost += info->lost;
    if (info->code != SI_QUEUE || info->pid != getpid() || v < 0 ||
        v >= THREAD_ROUNDS * THREAD_BATCH) {
        t->wrong_code++;
        return;
    }
    if (t->seen[v]++)
        t->dup++;
    if (++t->got_queue % THREAD_BATCH == 0)
        tu_write_all(t->ack[1], "q", 1);
}

static void thread_kill_handler(struct ev_loop *loop, const evsig_info *info,
                                void *data)
{
    struct threaded *t = data;

    (void)loop;
    if (!pthread_equal(pthread_self(), t->loop_thread))
        t->wrong_thread++;
    t->lost += info->lost;
    if (info->code != SI_TKILL || info->pid != getpid())
        t->wrong_code++;
    if (++t->got_kill % THREAD_BATCH == 0)
        tu_write_all(t->ack[1], "k", 1);
}

static int sig_queue(void) { return SIGRTMIN + 2; }
static int sig_kill(void) { return SIGRTMIN + 3; }

static void *sender_main(void *arg)
{
    struct threaded *t = arg;
    sigset_t all;

    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    for (int r = 0; r < THREAD_ROUNDS; r++) {
        for (int i = 0; i < THREAD_BATCH; i++) {
            pthread_t to = t->busy[(r + i) % BUSY_THREADS];
            union sigval v = { .sival_int = r * THREAD_BATCH + i };

            if (pthread_sigqueue(to, sig_queue(), v) != 0 ||
                pthread_kill(t->busy[i % BUSY_THREADS], sig_kill()) != 0) {
                atomic_store(&t->sender_failed, 1);
                goto out;
            }
        }
        /* Both batches acked before the next: never more than 100 of
         * either signal in flight. */
        for (int k = 0; k < 2; k++) {
            if (tu_read_byte_within(t->ack[0], 5000, NULL) != 1) {
                atomic_store(&t->sender_failed, 2 + r);
                goto out;
            }
        }
    }
out:
    atomic_store(&t->sender_done, true);
    return NULL;
}

static void test_rt_signals_aimed_at_four_busy_threads_all_reach_handlers_on_the_loop_thread(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct threaded *t = calloc(1, sizeof(*t));
    evsig_watcher w;
    pthread_t sender;
    long expected = (long)THREAD_ROUNDS * THREAD_BATCH;
    sigset_t blocked;

    (void)unused;
    assert_non_null(t);
    t->loop_thread = pthread_self();
    tu_blocking_pipe(t->ack);
    assert_succeeds(evsig_signal(loop, sig_queue(), thread_queue_handler, t, NULL));
    assert_succeeds(evsig_watch(loop, &w, sig_kill(), thread_kill_handler, t, 0));

    /* The loop's thread blocks both signals: every one of them is caught
     * on a busy thread, and only reaches the loop through evsig. */
    sigemptyset(&blocked);
    sigaddset(&blocked, sig_queue());
    sigaddset(&blocked, sig_kill());
    /* Threads inherit the creator's mask: create them unblocked first. */
    for (int i = 0; i < BUSY_THREADS; i++)
        assert_int_equal(pthread_create(&t->busy[i], NULL, busy_main, t), 0);
    assert_int_equal(pthread_sigmask(SIG_BLOCK, &blocked, NULL), 0);
    assert_int_equal(pthread_create(&sender, NULL, sender_main, t), 0);

    bool all = TU_RUN_UNTIL(loop, (t->got_queue >= expected && t->got_kill >= expected) ||
                                  (atomic_load(&t->sender_done) &&
                                   atomic_load(&t->sender_failed)), 60.0);
    assert_int_equal(pthread_join(sender, NULL), 0);
    atomic_store(&t->stop, true);
    for (int i = 0; i < BUSY_THREADS; i++)
        assert_int_equal(pthread_join(t->busy[i], NULL), 0);
    assert_int_equal(pthread_sigmask(SIG_UNBLOCK, &blocked, NULL), 0);
    /* Nothing more comes. */
    assert_false(TU_RUN_UNTIL(loop, t->got_queue > expected || t->got_kill > expected, 0.05));

    TU_FIGURE("threads_signals_sent", "%ld", 2 * expected);
    TU_FIGURE("threads_signals_delivered", "%ld", t->got_queue + t->got_kill);
    TU_FIGURE("threads_lost", "%ld", t->lost);
    assert_true(all);
    assert_int_equal(atomic_load(&t->sender_failed), 0);
    assert_int_equal(t->got_queue, expected);
    assert_int_equal(t->got_kill, expected);
    assert_int_equal(t->dup, 0);
    assert_int_equal(t->lost, 0);
    assert_int_equal(t->wrong_thread, 0);
    assert_int_equal(t->wrong_code, 0);
    assert_succeeds(evsig_unwatch(&w));
    close(t->ack[0]);
    close(t->ack[1]);
    free(t);
}

/* ======================================================================== */
/* EINTR: blocking calls on the loop's thread during a signal storm          */
/* ======================================================================== */

#define EINTR_ROUNDS 40   /* per signal and call, < EVSIG_RING_SIZE */

enum blocking_call { CALL_READ, CALL_WRITE, CALL_NANOSLEEP, CALL_WAITPID };

static const char *const call_names[] = { "read", "write", "nanosleep", "waitpid" };

struct eintr {
    pthread_t      loop_thread;
    pid_t          loop_tid;
    enum blocking_call call;
    long           nr;                /* the syscall the loop thread sits in */
    int            rounds;
    bool           chld;              /* also storm SIGCHLD */
    bool           expect_restart;    /* the call stays blocked throughout */
    int            wake[2];           /* evsig_set_wakeup_fd() pipe */
    int            data[2];           /* the pipe read() / write() block on */
    int            gate[2];           /* the unwatched child waits on it */
    /* storm thread's report */
    _Atomic int    failed;
    _Atomic int    usr1_caught, chld_caught;
    _Atomic bool   was_blocked;       /* still in the call after the storm */
    /* loop thread */
    long           usr1_handled, chld_handled;
};

static pid_t gettid_(void)
{
    return (pid_t)syscall(SYS_gettid);
}

/* The system call @tid is blocked in, -1 if running (or unreadable). */
static long blocked_in(pid_t tid)
{
    char path[64], buf[128];
    int fd;
    ssize_t n;

    snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", (int)tid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    if (buf[0] < '0' || buf[0] > '9')
        return -1;   /* "running" */
    return strtol(buf, NULL, 10);
}

/* Poll /proc until @tid sits in @nr (bounded, 10 s). */
static bool wait_blocked(pid_t tid, long nr)
{
    double end = tu_now() + 10.0;

    while (tu_now() < end) {
        if (blocked_in(tid) == nr)
            return true;
        sched_yield();
    }
    return false;
}

/* Wait for the C handler's wakeup byte for @sig (others are counted). */
static bool wait_caught(struct eintr *e, int sig)
{
    for (;;) {
        unsigned char b;
        int r = tu_read_byte_within(e->wake[0], 5000, &b);

        if (r != 1)
            return false;
        if (b == SIGUSR1)
            atomic_fetch_add(&e->usr1_caught, 1);
        else if (b == SIGCHLD)
            atomic_fetch_add(&e->chld_caught, 1);
        if (b == sig)
            return true;
    }
}

static void *storm_main(void *arg)
{
    struct eintr *e = arg;
    sigset_t all;
    int fail = 0;

    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);   /* everything goes to the loop thread */
    if (!wait_blocked(e->loop_tid, e->nr)) {
        fail = 1;
        goto out;
    }
    for (int r = 0; r < e->rounds; r++) {
        pthread_kill(e->loop_thread, SIGUSR1);
        if (!wait_caught(e, SIGUSR1)) {
            fail = 2;
            break;
        }
        if (e->chld) {
            siginfo_t si;
            pid_t pid = fork();

            if (pid == 0)
                _exit(0);
            if (pid < 0) {
                fail = 3;
                break;
            }
            /* Exited (not reaped: the loop will) before the next one, so
             * no SIGCHLD coalesces with another. */
            memset(&si, 0, sizeof(si));
            while (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT) != 0 &&
                   errno == EINTR)
                ;
            if (!wait_caught(e, SIGCHLD)) {
                fail = 4;
                break;
            }
        }
    }
    /* The call must not have returned meanwhile: it was restarted. */
    if (e->expect_restart)
        atomic_store(&e->was_blocked, wait_blocked(e->loop_tid, e->nr));

    /* Release the loop thread. */
    switch (e->call) {
    case CALL_READ:
        tu_write_all(e->data[1], "x", 1);
        break;
    case CALL_WRITE: {
        char buf[4096];

        /* Make room: read until empty (the read end is non-blocking). */
        while (read(e->data[0], buf, sizeof(buf)) > 0)
            ;
        break;
    }
    case CALL_WAITPID:
        close(e->gate[1]);
        e->gate[1] = -1;
        break;
    case CALL_NANOSLEEP:
        break;
    }
out:
    atomic_store(&e->failed, fail);
    return NULL;
}

static void eintr_usr1(struct ev_loop *loop, const evsig_info *info, void *data)
{
    (void)loop;
    (void)info;
    ((struct eintr *)data)->usr1_handled++;
}

static void eintr_chld(struct ev_loop *loop, const evsig_info *info, void *data)
{
    (void)loop;
    (void)info;
    ((struct eintr *)data)->chld_handled++;
}

/* Returns what the call returned; *@err its errno; *@eintrs how many times
 * it failed with EINTR before completing (nanosleep only). */
static long do_blocking_call(struct eintr *e, int *err, int *eintrs,
                             pid_t gated)
{
    long r = -1;

    *err = 0;
    *eintrs = 0;
    switch (e->call) {
    case CALL_READ: {
        char c;

        r = read(e->data[0], &c, 1);
        break;
    }
    case CALL_WRITE: {
        static char page[4096];

        r = write(e->data[1], page, sizeof(page));   /* PIPE_BUF: all or none */
        break;
    }
    case CALL_NANOSLEEP: {
        struct timespec req = { 0, 300 * 1000 * 1000 };

        /* The signal(7) loop: resume with the time left. */
        while ((r = nanosleep(&req, &req)) < 0 && errno == EINTR)
            ++*eintrs;
        break;
    }
    case CALL_WAITPID: {
        int status;

        r = waitpid(gated, &status, 0);
        if (r == gated && !(WIFEXITED(status) && WEXITSTATUS(status) == 5))
            r = -2;
        break;
    }
    }
    if (r < 0)
        *err = errno;
    return r;
}

/*
 * ThreadSanitizer defers an asynchronous signal until the receiving thread
 * leaves a function it intercepts (unless that function is one of the few
 * it treats as blocking): a thread blocked in read() or waitpid() does not
 * run the handler until the call returns, so nothing here can be observed
 * under it. The TSan pass covers the busy-threads test.
 */
#if defined(__SANITIZE_THREAD__)
#define SKIP_UNDER_TSAN() do {                                             \
        print_message("ThreadSanitizer defers signals during blocking "    \
                      "calls: skipped\n");                                 \
        skip();                                                            \
    } while (0)
#else
#define SKIP_UNDER_TSAN() do { } while (0)
#endif

static void run_eintr(enum blocking_call call, bool chld, bool interrupt,
                      int rounds, long *out_ret, int *out_err, int *out_eintrs)
{
    SKIP_UNDER_TSAN();
    struct ev_loop *loop = tu_default_loop();
    struct eintr *e = calloc(1, sizeof(*e));
    static const long nrs[] = { SYS_read, SYS_write, SYS_clock_nanosleep, SYS_wait4 };
    pthread_t storm;
    pid_t gated = 0;
    evsig_watcher wchld;

    assert_non_null(e);
    e->loop_thread = pthread_self();
    e->loop_tid = gettid_();
    e->call = call;
    e->nr = nrs[call];
    e->rounds = rounds;
    e->chld = chld;
    e->expect_restart = call != CALL_NANOSLEEP && !interrupt;
    e->gate[0] = e->gate[1] = -1;
    tu_pipe(e->wake);
    assert_succeeds(evsig_set_wakeup_fd(e->wake[1], 0, NULL));
    assert_succeeds(evsig_signal(loop, SIGUSR1, eintr_usr1, e, NULL));
    /* evsig's C handler on SIGCHLD too (a watcher hooks it). */
    assert_succeeds(evsig_watch(loop, &wchld, SIGCHLD, eintr_chld, e, EVSIG_NOREF));

    tu_blocking_pipe(e->data);
    if (call == CALL_WRITE) {
        static char page[4096];

        /* Fill it, then block on the next page. */
        assert_int_equal(fcntl(e->data[1], F_SETFL, O_NONBLOCK), 0);
        assert_int_equal(fcntl(e->data[0], F_SETFL, O_NONBLOCK), 0);
        while (write(e->data[1], page, sizeof(page)) > 0)
            ;
        assert_int_equal(errno, EAGAIN);
        assert_int_equal(fcntl(e->data[1], F_SETFL, 0), 0);
    }
    if (call == CALL_WAITPID) {
        tu_blocking_pipe(e->gate);
        /* Unwatched: plain fork(), evsig does not know it. */
        gated = fork();
        if (gated == 0) {
            char c;

            close(e->gate[1]);
            while (read(e->gate[0], &c, 1) < 0 && errno == EINTR)
                ;
            _exit(5);
        }
        assert_true(gated > 0);
        close(e->gate[0]);
        e->gate[0] = -1;
    }

    assert_int_equal(pthread_create(&storm, NULL, storm_main, e), 0);
    *out_ret = do_blocking_call(e, out_err, out_eintrs, gated);
    assert_int_equal(pthread_join(storm, NULL), 0);

    print_message("%s: returned %ld (%s), %d EINTR, storm caught %d SIGUSR1 "
                  "+ %d SIGCHLD while blocked\n", call_names[call], *out_ret,
                  *out_ret < 0 ? tu_errname(*out_err) : "ok", *out_eintrs,
                  atomic_load(&e->usr1_caught), atomic_load(&e->chld_caught));
    assert_int_equal(atomic_load(&e->failed), 0);
    assert_int_equal(atomic_load(&e->usr1_caught), rounds);
    assert_int_equal(atomic_load(&e->chld_caught), chld ? rounds : 0);
    if (e->expect_restart)
        assert_true(atomic_load(&e->was_blocked));

    /* Drain: every caught delivery reaches its handler, the children the
     * storm forked are reaped by the loop. */
    /* (The gated child's own exit is one more SIGCHLD.) */
    int chlds = (chld ? rounds : 0) + (call == CALL_WAITPID);

    assert_true(TU_RUN_UNTIL(loop, e->usr1_handled == rounds &&
                                   e->chld_handled == chlds, 10.0));
    assert_true(TU_RUN_UNTIL(loop, tu_count_zombies() == 0, 10.0));
    assert_false(TU_RUN_UNTIL(loop, e->usr1_handled > rounds, 0.02));

    assert_succeeds(evsig_unwatch(&wchld));
    assert_succeeds(evsig_set_wakeup_fd(-1, 0, NULL));
    for (int i = 0; i < 2; i++) {
        close(e->wake[i]);
        close(e->data[i]);
        if (e->gate[i] >= 0)
            close(e->gate[i]);
    }
    free(e);
}

static void test_read_on_the_loop_thread_is_restarted_through_a_sigchld_and_sigusr1_storm(void **unused)
{
    long r;
    int err, n;

    (void)unused;
    run_eintr(CALL_READ, true, false, EINTR_ROUNDS, &r, &err, &n);
    assert_int_equal(r, 1);
}

static void test_write_to_a_full_pipe_on_the_loop_thread_is_restarted_through_the_storm(void **unused)
{
    long r;
    int err, n;

    (void)unused;
    run_eintr(CALL_WRITE, true, false, EINTR_ROUNDS, &r, &err, &n);
    assert_int_equal(r, 4096);
}

static void test_waitpid_on_an_unwatched_child_is_restarted_through_the_storm(void **unused)
{
    long r;
    int err, n;

    (void)unused;
    run_eintr(CALL_WAITPID, true, false, EINTR_ROUNDS, &r, &err, &n);
    assert_true(r > 0);
}

/*
 * nanosleep() is the exception signal(7) names: "never restarted after
 * being interrupted by a signal handler, regardless of the use of
 * SA_RESTART; they always fail with the error EINTR". No library with a C
 * handler can change that; what evsig owes is that the interrupted sleep
 * reports the time left, so the documented loop completes.
 */
static void test_nanosleep_fails_with_eintr_even_with_sa_restart_as_signal7_says_and_resumes(void **unused)
{
    long r;
    int err, n;
    double t0 = tu_now();

    (void)unused;
    run_eintr(CALL_NANOSLEEP, true, false, 5, &r, &err, &n);
    assert_int_equal(r, 0);
    assert_true(n >= 1);
    assert_true(tu_now() - t0 >= 0.3);
}

static void test_siginterrupt_makes_the_same_read_fail_with_eintr(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    long r;
    int err, n;

    (void)unused;
    /* Set before the handler is installed: applies when it is. */
    assert_succeeds(evsig_siginterrupt(SIGUSR1, 1));
    run_eintr(CALL_READ, false, true, 1, &r, &err, &n);
    assert_int_equal(r, -1);
    assert_int_equal(err, EINTR);
    (void)loop;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_rt_signals_aimed_at_four_busy_threads_all_reach_handlers_on_the_loop_thread, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_read_on_the_loop_thread_is_restarted_through_a_sigchld_and_sigusr1_storm, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_write_to_a_full_pipe_on_the_loop_thread_is_restarted_through_the_storm, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_waitpid_on_an_unwatched_child_is_restarted_through_the_storm, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_nanosleep_fails_with_eintr_even_with_sa_restart_as_signal7_says_and_resumes, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_siginterrupt_makes_the_same_read_fail_with_eintr, tu_setup, tu_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

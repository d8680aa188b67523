/* SPDX-License-Identifier: MIT */
/*
 * test-child-pidfd.c - the rules only the PIDFD child backend has
 * (DESIGN.md §3.3 "Two backends, one behaviour", §4 "Second version"):
 * child functions on any loop and in any thread; other code's children
 * left alone, the default loop included; the SIGCHLD table handler for
 * children nobody watches; kill through the pidfd; the fallback when no
 * pidfd can be had; libev's reaper witnessed.
 *
 * Registered once ('child-pidfd'), letting AUTO choose: every test skips
 * unless the backend in use is PIDFD. Rules both backends share live in
 * test-child.c, which runs once per backend. Helpers and the fixture are
 * child-util's; forked children never call cmocka.
 */
#define _GNU_SOURCE   /* pipe2(), ns_last_pid games */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#include <cmocka.h>

#include "evsig.h"
#include "test-util.h"
#include "child-util.h"
#include "evsig-private.h"   /* evsig__child_force_fallback() */

extern char **environ;

#define PIDFD_ONLY() \
    SKIP_UNLESS_BACKEND(EVSIG_CHILD_PIDFD, "a rule of the PIDFD backend")

/* Let @loop run for @secs (a capped ev_run; nothing to wait for): time for
 * a wrong reaper to strike. */
static void let_run(struct ev_loop *loop, double secs)
{
    (void)TU_RUN_UNTIL(loop, false, secs);
}

/* The entry of @l for @pid, asserting there is exactly one. */
static const evsig_info *chld_one(const struct chld_log *l, pid_t pid,
                                  int *index)
{
    if (chld_count(l, pid) != 1)
        fail_msg("the table handler ran %d times for child %d, expected once",
                 chld_count(l, pid), (int)pid);
    for (int i = 0; i < l->calls && (size_t)i < ARRAY_SIZE(l->info); i++)
        if (l->info[i].pid == pid) {
            if (index)
                *index = i;
            return &l->info[i];
        }
    return NULL;
}

/* ======================================================================== *
 * Other code's children are left alone, whatever loops run meanwhile
 * ======================================================================== */

/*
 * Children evsig watches on the default loop and on another loop, and the
 * table's SIGCHLD handler on the default loop, while the program's other
 * code forks: evsig is busy with SIGCHLD on both loops, and under the
 * LIBEV backend libev's reaper would take every child.
 */
struct bystanders {
    struct ev_loop *def, *other;
    struct gate    *gate;
    pid_t           on_def, on_other;
    struct exit_rec r_def, r_other;
    struct chld_log log;
};

static void bystanders_start(struct bystanders *b)
{
    memset(b, 0, sizeof(*b));
    b->def = tu_default_loop();
    b->other = child_new_loop();
    b->gate = gate_new();
    assert_succeeds(evsig_signal(b->def, SIGCHLD, chld_handler, &b->log, NULL));
    b->on_def = watch_exiting(b->def, rec_cb, &b->r_def, 0, b->gate, 70);
    b->on_other = watch_exiting(b->other, rec_cb, &b->r_other, 0, b->gate, 71);
}

static void bystanders_run(struct bystanders *b)
{
    let_run(b->def, 0.05);
    let_run(b->other, 0.05);
}

/* @pid, not evsig's, exited with @code: its SIGCHLD reached the table
 * handler once, on the table's loop, with its status. */
static void assert_one_table_call_for(struct bystanders *b, pid_t pid, int code)
{
    const evsig_info *info;
    int i = -1;

    assert_true(TU_RUN_UNTIL(b->def, chld_count(&b->log, pid) > 0, 5.0));
    info = chld_one(&b->log, pid, &i);
    assert_int_equal(info->signo, SIGCHLD);
    assert_int_equal(info->code, CLD_EXITED);
    assert_exited(info->status, code);
    assert_ptr_equal(b->log.loop[i], b->def);
}

/* The bystanders were never disturbed: each is reported on its loop. */
static void bystanders_finish(struct bystanders *b)
{
    int status = -1;

    assert_int_equal(b->r_def.calls + b->r_other.calls, 0);
    gate_open(b->gate);
    assert_int_equal(evsig_waitpid(b->def, b->on_def, &status, 0), b->on_def);
    assert_exited(status, 70);
    assert_int_equal(evsig_waitpid(b->other, b->on_other, &status, 0), b->on_other);
    assert_exited(status, 71);
    assert_ptr_equal(b->r_def.loop, b->def);
    assert_ptr_equal(b->r_other.loop, b->other);
}

static void test_popen_and_pclose_get_their_childs_status_while_evsig_watches_children_and_loops_run(void **unused)
{
    struct bystanders b;
    siginfo_t si;
    FILE *f;
    int status;

    (void)unused;
    PIDFD_ONLY();
    bystanders_start(&b);
    f = popen("exit 3", "r");
    assert_non_null(f);
    /* Block until popen()'s child is a zombie (the bystanders wait on
     * their gate), then let both loops run. */
    memset(&si, 0, sizeof(si));
    assert_int_equal(waitid(P_ALL, 0, &si, WEXITED | WNOWAIT), 0);
    bystanders_run(&b);
    if (!zombie(si.si_pid)) {
        pclose(f);
        fail_msg("popen()'s child %d was reaped behind the program's back",
                 (int)si.si_pid);
    }
    status = pclose(f);
    if (status == -1)
        fail_msg("pclose(): %s", tu_errname(errno));
    assert_exited(status, 3);
    assert_one_table_call_for(&b, si.si_pid, 3);
    bystanders_finish(&b);
}

/* The default loop runs in a thread while system() waits in this one. */
struct runner {
    pthread_t       thread;
    bool            started;
    struct ev_loop *loop;
    ev_async        stop;
};

static void runner_stop_cb(struct ev_loop *loop, ev_async *w, int revents)
{
    (void)w;
    (void)revents;
    ev_break(loop, EVBREAK_ALL);
}

static void *runner_main(void *arg)
{
    struct runner *r = arg;

    ev_run(r->loop, 0);
    return NULL;
}

/* Deferred: stop and join the runner (bounded: ev_break on its async). */
static void runner_join(void *arg)
{
    struct runner *r = arg;

    if (r->started) {
        ev_async_send(r->loop, &r->stop);
        pthread_join(r->thread, NULL);
        r->started = false;
    }
    if (ev_is_active(&r->stop))
        ev_async_stop(r->loop, &r->stop);
}

/*
 * system() blocks SIGCHLD in its own thread and waits with waitpid(pid):
 * the SIGCHLD goes to the loop's thread. A reaper there races system()'s
 * waitpid(), so a wrong one is caught only when it wins; a right one
 * never fails this.
 */
static void test_system_gets_its_childs_status_while_the_default_loop_runs_in_another_thread(void **unused)
{
    static struct runner r;
    struct sigaction intr, quit;
    struct bystanders b;
    pid_t other = 0;
    int status;

    (void)unused;
    PIDFD_ONLY();
    bystanders_start(&b);
    memset(&r, 0, sizeof(r));
    r.loop = b.def;
    ev_async_init(&r.stop, runner_stop_cb);
    ev_async_start(r.loop, &r.stop);
    child_defer(runner_join, &r);
    assert_int_equal(pthread_create(&r.thread, NULL, runner_main, &r), 0);
    r.started = true;

    /* system() ignores SIGINT and SIGQUIT while it waits, and puts them
     * back through glibc (which adds SA_RESTORER): put them back exactly. */
    tu_read_sa(SIGINT, &intr);
    tu_read_sa(SIGQUIT, &quit);
    status = system("exit 4");
    tu_put_back_exact(SIGINT, &intr);
    tu_put_back_exact(SIGQUIT, &quit);
    runner_join(&r);
    if (status == -1)
        fail_msg("system(): %s", tu_errname(errno));
    assert_exited(status, 4);
    /* Its SIGCHLD, an unwatched child's, reached the table handler once. */
    assert_true(TU_RUN_UNTIL(b.def, b.log.calls > 0, 5.0));
    let_run(b.def, 0.05);
    assert_int_equal(b.log.calls, 1);
    other = b.log.info[0].pid;
    assert_true(other != b.on_def && other != b.on_other);
    assert_one_table_call_for(&b, other, 4);
    bystanders_finish(&b);
}

static void test_posix_spawn_and_waitpid_get_their_childs_status_while_loops_run(void **unused)
{
    static char sh[] = "sh", c[] = "-c", cmd[] = "exit 5";
    char *const argv[] = { sh, c, cmd, NULL };
    struct bystanders b;
    int status = -1;
    pid_t pid;

    (void)unused;
    PIDFD_ONLY();
    bystanders_start(&b);
    assert_int_equal(posix_spawn(&pid, "/bin/sh", NULL, NULL, argv, environ), 0);
    wait_zombie(pid);
    bystanders_run(&b);
    if (!zombie(pid))
        fail_msg("posix_spawn()'s child %d was reaped behind the program's back",
                 (int)pid);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_exited(status, 5);
    assert_one_table_call_for(&b, pid, 5);
    bystanders_finish(&b);
}

static void test_fork_and_waitpid_wnohang_get_their_childs_status_while_loops_run(void **unused)
{
    struct bystanders b;
    int status = -1;
    pid_t pid;

    (void)unused;
    PIDFD_ONLY();
    bystanders_start(&b);
    pid = tu_fork(raw_exit_main, (void *)(intptr_t)6);
    wait_zombie(pid);
    bystanders_run(&b);
    if (!zombie(pid))
        fail_msg("fork()'s child %d was reaped behind the program's back",
                 (int)pid);
    assert_int_equal(waitpid(pid, &status, WNOHANG), pid);
    assert_exited(status, 6);
    assert_one_table_call_for(&b, pid, 6);
    bystanders_finish(&b);
}

/* ======================================================================== *
 * The SIGCHLD table handler: unwatched children, and which loop runs it
 * ======================================================================== */

static void killed_by_sigkill_main(void *arg)
{
    (void)arg;
    raise(SIGKILL);
    _exit(1);
}

static void test_the_table_handler_runs_once_per_unwatched_childs_sigchld_on_the_tables_loop_and_reaps_nothing(void **unused)
{
    struct ev_loop *def = tu_default_loop(), *other;
    struct chld_log log = { 0 };
    struct gate *gw = gate_new();
    const evsig_info *info;
    int status = -1, i = -1;
    pid_t a, k, w;

    (void)unused;
    PIDFD_ONLY();
    other = child_new_loop();
    /* A child watched on the default loop: from that call on, evsig owns
     * SIGCHLD there and does not feed libev's reaper (DESIGN.md §3.3). */
    w = watch_exiting(def, NULL, NULL, 0, gw, 71);
    /* The table bound to a loop of ev_loop_new(). */
    assert_succeeds(evsig_signal(other, SIGCHLD, chld_handler, &log, NULL));

    a = tu_fork(raw_exit_main, (void *)(intptr_t)72);
    wait_zombie(a);
    assert_false(TU_RUN_UNTIL(def, log.calls > 0, 0.1));   /* not its loop */
    assert_true(TU_RUN_UNTIL(other, log.calls > 0, 5.0));
    assert_false(TU_RUN_UNTIL(other, log.calls > 1, 0.1));
    info = chld_one(&log, a, &i);
    assert_ptr_equal(log.loop[i], other);
    assert_int_equal(info->signo, SIGCHLD);
    assert_int_equal(info->code, CLD_EXITED);
    assert_exited(info->status, 72);
    assert_int_equal(info->uid, getuid());
    assert_true(zombie(a));   /* nobody reaped it */
    assert_int_equal(waitpid(a, &status, 0), a);
    assert_exited(status, 72);

    k = tu_fork(killed_by_sigkill_main, NULL);
    wait_zombie(k);
    assert_true(TU_RUN_UNTIL(other, log.calls > 1, 5.0));
    info = chld_one(&log, k, NULL);
    assert_int_equal(info->code, CLD_KILLED);
    assert_killed_by(info->status, SIGKILL);
    assert_true(zombie(k));
    assert_int_equal(waitpid(k, &status, 0), k);
    assert_killed_by(status, SIGKILL);
    assert_int_equal(log.calls, 2);

    gate_open(gw);
    assert_int_equal(evsig_waitpid(def, w, &status, 0), w);
    assert_exited(status, 71);
}

static void test_a_watched_childs_table_call_runs_on_the_childs_loop_not_the_tables(void **unused)
{
    struct ev_loop *def = tu_default_loop(), *other;
    struct exit_rec rec = { 0 };
    struct chld_log log = { 0 };
    const evsig_info *info;
    int status = -1, i = -1;
    pid_t pid;

    (void)unused;
    PIDFD_ONLY();
    other = child_new_loop();
    assert_succeeds(evsig_signal(def, SIGCHLD, chld_handler, &log, NULL));
    pid = watch_exiting(other, rec_cb, &rec, 0, NULL, 73);
    wait_zombie(pid);
    assert_false(TU_RUN_UNTIL(def, log.calls > 0 || rec.calls > 0, 0.1));
    assert_true(TU_RUN_UNTIL(other, rec.calls > 0 && log.calls > 0, 5.0));
    assert_false(TU_RUN_UNTIL(other, rec.calls > 1 || log.calls > 1, 0.1));
    assert_false(TU_RUN_UNTIL(def, log.calls > 1, 0.1));
    assert_ptr_equal(rec.loop, other);
    info = chld_one(&log, pid, &i);
    assert_ptr_equal(log.loop[i], other);   /* the child's loop */
    assert_true(rec.seq < log.seq[i]);
    assert_int_equal(info->status, rec.status);
    assert_exited(info->status, 73);
    assert_int_equal(evsig_waitpid(other, pid, &status, WNOHANG), pid);
}

/* ======================================================================== *
 * Any loop, any thread
 * ======================================================================== */

#define LANE_KIDS 5

/* One loop in its own thread, forking and watching its own children. No
 * cmocka in the thread: it records, the main thread asserts. */
struct lane {
    pthread_t       thread;
    bool            started;
    pthread_t       self;
    struct ev_loop *loop;
    int             index;
    pid_t           pid[LANE_KIDS];
    int             calls[LANE_KIDS];
    int             status[LANE_KIDS];
    int             misplaced;          /* callbacks on another loop/thread */
    int             collected[LANE_KIDS];
    bool            finished;
    pid_t           tail;               /* evsig_waitpid(-1, WNOHANG) then */
    int             tail_err;
    const char     *failed;
    int             err;
};

static struct {
    pthread_mutex_t lock;
    int             n;
    struct {
        pid_t           pid;
        int             status;
        struct ev_loop *loop;
        pthread_t       thread;
    } call[4 * LANE_KIDS];
} mt_log = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void mt_table_handler(struct ev_loop *loop, const evsig_info *info,
                             void *data)
{
    (void)data;
    pthread_mutex_lock(&mt_log.lock);
    if ((size_t)mt_log.n < ARRAY_SIZE(mt_log.call)) {
        mt_log.call[mt_log.n].pid = info->pid;
        mt_log.call[mt_log.n].status = info->status;
        mt_log.call[mt_log.n].loop = loop;
        mt_log.call[mt_log.n].thread = pthread_self();
    }
    mt_log.n++;
    pthread_mutex_unlock(&mt_log.lock);
}

static void lane_cb(struct ev_loop *loop, pid_t pid, int status, void *data)
{
    struct lane *l = data;

    if (loop != l->loop || !pthread_equal(pthread_self(), l->self))
        l->misplaced++;
    for (int i = 0; i < LANE_KIDS; i++)
        if (l->pid[i] == pid) {
            l->calls[i]++;
            l->status[i] = status;
        }
}

static bool lane_done(void *arg)
{
    const struct lane *l = arg;

    for (int i = 0; i < LANE_KIDS; i++)
        if (!l->calls[i])
            return false;
    return true;
}

static void *lane_main(void *arg)
{
    struct lane *l = arg;
    int st;

    l->self = pthread_self();
    for (int i = 0; i < LANE_KIDS; i++) {
        pid_t pid = evsig_fork_and_watch(l->loop, lane_cb, l, 0);

        if (pid == 0)
            _exit(10 * l->index + i);
        if (pid < 0) {
            l->failed = "evsig_fork_and_watch";
            l->err = errno;
            return NULL;
        }
        l->pid[i] = pid;
    }
    l->finished = tu_run_until(l->loop, lane_done, l, 10.0);
    for (int i = 0; i < LANE_KIDS; i++)
        if (evsig_waitpid(l->loop, l->pid[i], &st, WNOHANG) == l->pid[i] &&
            st == l->status[i])
            l->collected[i]++;
    errno = 0;
    l->tail = evsig_waitpid(l->loop, -1, &st, WNOHANG);
    l->tail_err = errno;
    return NULL;
}

static void lanes_join(void *arg)
{
    struct lane *lanes = arg;

    for (int k = 0; k < 2; k++)
        if (lanes[k].started) {
            pthread_join(lanes[k].thread, NULL);
            lanes[k].started = false;
        }
}

static void test_children_on_two_loops_in_two_threads_are_each_reported_on_their_own_loop_and_thread(void **unused)
{
    static struct lane lanes[2];
    struct ev_loop *def = tu_default_loop();

    (void)unused;
    PIDFD_ONLY();
    memset(lanes, 0, sizeof(lanes));
    mt_log.n = 0;
    /* The table is bound to the default loop, which does not run here: a
     * watched exit's table call runs on the child's loop and thread. */
    assert_succeeds(evsig_signal(def, SIGCHLD, mt_table_handler, NULL, NULL));
    for (int k = 0; k < 2; k++) {
        lanes[k].index = k + 1;
        lanes[k].loop = child_new_loop();
    }
    child_defer(lanes_join, lanes);
    for (int k = 0; k < 2; k++) {
        assert_int_equal(pthread_create(&lanes[k].thread, NULL, lane_main,
                                        &lanes[k]), 0);
        lanes[k].started = true;
    }
    lanes_join(lanes);

    for (int k = 0; k < 2; k++) {
        struct lane *l = &lanes[k];

        if (l->failed)
            fail_msg("lane %d: %s: %s", k, l->failed, tu_errname(l->err));
        assert_true(l->finished);
        assert_int_equal(l->misplaced, 0);
        for (int i = 0; i < LANE_KIDS; i++) {
            int found = 0;

            assert_int_equal(l->calls[i], 1);
            assert_exited(l->status[i], 10 * l->index + i);
            assert_int_equal(l->collected[i], 1);
            for (int c = 0; c < mt_log.n && (size_t)c < ARRAY_SIZE(mt_log.call); c++) {
                if (mt_log.call[c].pid != l->pid[i])
                    continue;
                found++;
                assert_ptr_equal(mt_log.call[c].loop, l->loop);
                assert_true(pthread_equal(mt_log.call[c].thread, l->self));
                assert_int_equal(mt_log.call[c].status, l->status[i]);
            }
            assert_int_equal(found, 1);
        }
        /* Nothing left for this loop: the other lane's children may still
         * exist (0), or not (ECHILD); never one of them. */
        if (l->tail != 0 && !(l->tail == -1 && l->tail_err == ECHILD))
            fail_msg("lane %d: evsig_waitpid(-1, WNOHANG) at the end = %d (%s)",
                     k, (int)l->tail,
                     l->tail < 0 ? tu_errname(l->tail_err) : "a pid");
    }
    assert_int_equal(mt_log.n, 2 * LANE_KIDS);
}

#define MANY 200

static struct exit_rec many_rec[MANY];

/* Whether every one of @r[0..n-1] has been called. */
static bool all_called(const struct exit_rec *r, int n)
{
    for (int i = 0; i < n; i++)
        if (!r[i].calls)
            return false;
    return true;
}

static void test_two_hundred_children_on_a_non_default_loop_are_each_reported_once(void **unused)
{
    struct ev_loop *def = tu_default_loop(), *other;
    static pid_t pid[MANY];
    static bool seen[MANY];
    struct gate *g = gate_new();
    int status = -1, bad = 0;
    pid_t r;

    (void)unused;
    PIDFD_ONLY();
    other = child_new_loop();
    memset(many_rec, 0, sizeof(many_rec));
    memset(seen, 0, sizeof(seen));
    for (int i = 0; i < MANY; i++)
        pid[i] = watch_exiting(other, rec_cb, &many_rec[i], 0, g, i % 256);
    assert_int_equal(count_pidfds(), MANY);   /* one per watched child */

    gate_open(g);   /* all at once: their SIGCHLDs merge */
    assert_true(TU_RUN_UNTIL(other, all_called(many_rec, MANY), 20.0));
    assert_false(TU_RUN_UNTIL(other, false, 0.1));
    for (int i = 0; i < MANY; i++) {
        if (many_rec[i].calls != 1 || many_rec[i].pid != pid[i] ||
            many_rec[i].loop != other || !WIFEXITED(many_rec[i].status) ||
            WEXITSTATUS(many_rec[i].status) != i % 256) {
            if (bad++ < 5)
                print_error("child %d: %d calls, pid %d, wrong loop %d\n", i,
                            many_rec[i].calls, (int)many_rec[i].pid,
                            many_rec[i].loop != other);
        }
    }
    assert_int_equal(bad, 0);

    /* The default loop has no part in them. */
    r = evsig_waitpid(def, -1, &status, WNOHANG);
    if (r != -1 || errno != ECHILD)
        fail_msg("evsig_waitpid(default loop, -1, WNOHANG) = %d (%s), "
                 "expected ECHILD: those children are another loop's",
                 (int)r, r < 0 ? tu_errname(errno) : "a pid");

    for (int n = 0; n < MANY; n++) {
        int i = 0;

        r = evsig_waitpid(other, -1, &status, WNOHANG);
        while (i < MANY && pid[i] != r)
            i++;
        if (i == MANY)
            fail_msg("evsig_waitpid(-1) #%d = %d (%s)", n, (int)r,
                     r < 0 ? tu_errname(errno) : "not ours");
        assert_false(seen[i]);
        seen[i] = true;
        assert_int_equal(status, many_rec[i].status);
    }
    assert_fails_with(evsig_waitpid(other, -1, &status, WNOHANG), ECHILD);
    assert_int_equal(count_pidfds(), 0);
    assert_int_equal(tu_count_zombies(), 0);
}

static void test_waitpid_and_unwatch_of_another_loops_child_are_echild_and_kill_works_from_any_loop(void **unused)
{
    struct ev_loop *def = tu_default_loop(), *other;
    struct exit_rec rec = { 0 };
    struct gate *g = gate_new();
    int status = 12345;
    double t0;
    pid_t pid;

    (void)unused;
    PIDFD_ONLY();
    other = child_new_loop();
    pid = watch_exiting(other, rec_cb, &rec, 0, g, 74);
    assert_fails_with(evsig_waitpid(def, pid, &status, WNOHANG), ECHILD);
    assert_fails_with(evsig_waitpid(def, pid, &status, 0), ECHILD);
    t0 = ev_time();
    assert_fails_with(evsig_waitpid_timeout(def, pid, &status, 2.0), ECHILD);
    assert_true(ev_time() - t0 < 1.0);   /* at once, no wait */
    assert_fails_with(evsig_child_unwatch(def, pid), ECHILD);
    assert_succeeds(evsig_kill(def, pid, 0));
    assert_int_equal(status, 12345);

    /* Exited, not yet reaped on its loop: still the other loop's. */
    gate_open(g);
    wait_zombie(pid);
    assert_fails_with(evsig_waitpid(def, pid, &status, WNOHANG), ECHILD);
    assert_fails_with(evsig_child_unwatch(def, pid), ECHILD);
    assert_true(zombie(pid));

    assert_true(TU_RUN_UNTIL(other, rec.calls > 0, 5.0));
    assert_fails_with(evsig_waitpid(def, pid, &status, WNOHANG), ECHILD);
    assert_fails_with(evsig_kill(def, pid, 0), ESRCH);
    assert_int_equal(evsig_waitpid(other, pid, &status, WNOHANG), pid);
    assert_exited(status, 74);
    assert_int_equal(rec.calls, 1);
}

static void test_waitpid_minus_one_on_a_loop_without_watches_reaps_a_child_no_loop_watches_never_another_loops(void **unused)
{
    struct ev_loop *def = tu_default_loop(), *other;
    struct exit_rec ra = { 0 };
    struct gate *ga = gate_new();
    int status = -1;
    pid_t a, u, r;

    (void)unused;
    PIDFD_ONLY();
    other = child_new_loop();
    a = watch_exiting(def, rec_cb, &ra, 0, ga, 75);   /* the default loop's */
    u = tu_fork(raw_exit_main, (void *)(intptr_t)76);  /* nobody's */
    assert_int_equal(evsig_waitpid_timeout(other, -1, &status, 5.0), u);
    assert_exited(status, 76);

    gate_open(ga);
    wait_zombie(a);   /* not yet reaped on its loop */
    r = evsig_waitpid(other, -1, &status, WNOHANG);
    if (r != 0 && !(r == -1 && errno == ECHILD))
        fail_msg("evsig_waitpid(other loop, -1, WNOHANG) = %d (%s): child %d "
                 "is the default loop's", (int)r,
                 r < 0 ? tu_errname(errno) : "a pid", (int)a);
    assert_true(TU_RUN_UNTIL(def, ra.calls > 0, 5.0));
    assert_fails_with(evsig_waitpid(other, -1, &status, WNOHANG), ECHILD);
    assert_int_equal(evsig_waitpid(def, a, &status, WNOHANG), a);
    assert_exited(status, 75);
}

static void test_evsig_fork_and_forkpty_and_watch_work_on_a_non_default_loop(void **unused)
{
    struct ev_loop *other;
    struct exit_rec rec = { 0 };
    struct child_pty_reader rd;
    struct gate *g = gate_new();
    int master = -1, status = -1;
    pid_t pid, c;

    (void)unused;
    PIDFD_ONLY();
    other = child_new_loop();
    pid = assert_succeeds(evsig_forkpty_and_watch(other, &master, rec_cb, &rec, 0));
    if (pid == 0) {
        child_begin(g);
        TU_CHILD_CHECK(write(1, "pty-ok\n", 7) == 7);
        child_wait_gate(g);
        _exit(77);
    }
    assert_true(master >= 0);
    memset(&rd, 0, sizeof(rd));
    assert_succeeds(fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK));
    ev_io_init(&rd.io, child_pty_read_cb, master, EV_READ);
    ev_io_start(other, &rd.io);
    bool got = TU_RUN_UNTIL(other, strstr(rd.buf, "pty-ok"), 5.0);
    ev_io_stop(other, &rd.io);
    gate_open(g);
    assert_int_equal(evsig_waitpid(other, pid, &status, 0), pid);
    close(master);
    assert_true(got);
    assert_exited(status, 77);
    assert_ptr_equal(rec.loop, other);

    c = assert_succeeds(evsig_fork(other));
    if (c == 0) {
        struct exit_rec grec = { 0 };
        pid_t d;

        child_begin(NULL);
        /* The child's copy of the loop works for its own children. */
        d = evsig_fork_and_watch(other, rec_cb, &grec, 0);
        if (d == 0)
            _exit(78);
        TU_CHILD_CHECK(d > 0);
        TU_CHILD_CHECK(TU_RUN_UNTIL(other, grec.calls > 0, 5.0));
        TU_CHILD_CHECK(grec.loop == other);
        TU_CHILD_CHECK(WIFEXITED(grec.status) && WEXITSTATUS(grec.status) == 78);
        _exit(0);
    }
    assert_int_equal(evsig_waitpid_timeout(other, c, &status, 10.0), c);
    assert_exited(status, 0);
}

/* ======================================================================== *
 * Unwatch, and children the program reaps itself
 * ======================================================================== */

static void test_unwatching_a_running_child_closes_its_pidfd_and_leaves_its_exit_to_the_program(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct exit_rec rec = { 0 };
    struct gate *g = gate_new();
    int status = -1, n0 = count_pidfds();
    pid_t pid;

    (void)unused;
    PIDFD_ONLY();
    pid = watch_exiting(loop, rec_cb, &rec, 0, g, 79);
    assert_int_equal(count_pidfds(), n0 + 1);
    assert_succeeds(evsig_child_unwatch(loop, pid));
    assert_int_equal(count_pidfds(), n0);

    gate_open(g);
    wait_zombie(pid);
    let_run(loop, 0.1);
    if (!zombie(pid))
        fail_msg("an unwatched child was reaped behind the program's back");
    assert_int_equal(rec.calls, 0);
    assert_int_equal(waitpid(pid, &status, 0), pid);   /* the program's */
    assert_exited(status, 79);
    assert_fails_with(evsig_waitpid(loop, pid, &status, WNOHANG), ECHILD);
    assert_succeeds(evsig_child_unwatch(loop, pid));
}

static void test_a_watched_child_the_program_reaps_itself_is_forgotten_without_a_report(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct exit_rec rec = { 0 };
    struct chld_log log = { 0 };
    struct gate *g = gate_new();
    int status = -1, n0 = count_pidfds();
    double took;
    pid_t pid;

    (void)unused;
    PIDFD_ONLY();
    assert_succeeds(evsig_signal(loop, SIGCHLD, chld_handler, &log, NULL));
    pid = watch_exiting(loop, rec_cb, &rec, 0, g, 80);
    gate_open(g);
    assert_int_equal(waitpid(pid, &status, 0), pid);   /* behind evsig's back */
    assert_exited(status, 80);

    /* Forgotten: no callback, no table call, no reference on the loop. */
    took = run_bounded(loop, 3.0);
    assert_true(took >= 0 && took < 1.0);
    assert_false(TU_RUN_UNTIL(loop, rec.calls || log.calls, 0.1));
    assert_int_equal(rec.calls, 0);
    assert_int_equal(log.calls, 0);
    assert_fails_with(evsig_waitpid(loop, pid, &status, WNOHANG), ECHILD);
    assert_fails_with(evsig_kill(loop, pid, 0), ESRCH);
    assert_succeeds(evsig_child_unwatch(loop, pid));   /* it was watched */
    assert_int_equal(count_pidfds(), n0);
}

/* ======================================================================== *
 * evsig_kill() through the pidfd
 * ======================================================================== */

/* For the grandchild below: wait up to 5 s for SIGTERM, then exit 0. */
static void wait_for_sigterm_a_while(void)
{
    struct timespec ts = { 5, 0 };
    sigset_t term = tu_sigset(SIGTERM, 0);

    signal(SIGTERM, SIG_DFL);
    sigprocmask(SIG_UNBLOCK, &term, NULL);
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
    _exit(0);
}

/* seccomp: kill(2) fails with EPERM, every other system call works. */
static int forbid_kill(void)
{
#if defined(__x86_64__)
    const unsigned arch = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
    const unsigned arch = AUDIT_ARCH_AARCH64;
#else
    const unsigned arch = 0;
#endif
    struct sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, arch, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_kill, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = { ARRAY_SIZE(filter), filter };

    if (!arch)
        return -1;
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return -1;
    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
}

#define EXIT_NO_SECCOMP 77

/* In the child of evsig_fork(): with kill(2) forbidden, evsig_kill() of a
 * watched child still works (it goes through pidfd_send_signal()). */
static void kill_without_kill2_main(struct ev_loop *loop)
{
    struct exit_rec rec = { 0 };
    pid_t gc;
    int st = -1, r, err;

    gc = evsig_fork_and_watch(loop, rec_cb, &rec, 0);
    if (gc == 0)
        wait_for_sigterm_a_while();
    TU_CHILD_CHECK(gc > 0);
    if (forbid_kill() != 0) {
        evsig_kill(loop, gc, SIGKILL);
        evsig_waitpid(loop, gc, &st, 0);
        _exit(EXIT_NO_SECCOMP);
    }
    errno = 0;
    TU_CHILD_CHECK(kill(gc, 0) == -1 && errno == EPERM);   /* the filter works */
    r = evsig_kill(loop, gc, SIGTERM);
    err = errno;
    if (r != 0) {
        int fd = (int)syscall(SYS_pidfd_open, gc, 0);

        dprintf(STDERR_FILENO, "evsig_kill() with kill(2) forbidden: %s\n",
                tu_errname(err));
        syscall(SYS_pidfd_send_signal, fd, SIGKILL, NULL, 0);
        evsig_waitpid(loop, gc, &st, 0);
        _exit(3);
    }
    TU_CHILD_CHECK(evsig_waitpid(loop, gc, &st, 0) == gc);
    TU_CHILD_CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM);
    TU_CHILD_CHECK(rec.calls == 1);
}

static void test_kill_goes_through_the_pidfd_so_it_works_where_kill2_is_forbidden(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    int status = -1;
    pid_t c;

    (void)unused;
    PIDFD_ONLY();
    c = assert_succeeds(evsig_fork(loop));
    if (c == 0) {
        child_begin(NULL);
        kill_without_kill2_main(loop);
        _exit(0);
    }
    assert_int_equal(evsig_waitpid_timeout(loop, c, &status, 15.0), c);
    if (WIFEXITED(status) && WEXITSTATUS(status) == EXIT_NO_SECCOMP) {
        print_message("    no seccomp filter here: skipped\n");
        skip();
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 3)
        fail_msg("evsig_kill() failed once kill(2) was forbidden: it does not "
                 "go through pidfd_send_signal()");
    assert_exited(status, 0);
}

static void test_kill_of_a_watched_child_the_program_reaped_never_signals_the_process_that_reused_its_pid(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct exit_rec rec = { 0 };
    struct gate *g, *gr;
    int status = -1;
    pid_t pid = 0, reuser = -1;

    (void)unused;
    PIDFD_ONLY();
    for (int attempt = 0; attempt < 5 && reuser != pid; attempt++) {
        g = gate_new();
        rec = (struct exit_rec){ 0 };
        pid = watch_exiting(loop, rec_cb, &rec, 0, g, 81);
        gate_open(g);
        /* The program reaps it; evsig's loop has not run since. */
        assert_int_equal(waitpid(pid, &status, 0), pid);
        gr = gate_new();
        reuser = fork_at_pid(pid, gr);
        if (reuser != pid) {
            gate_open(gr);
            assert_int_equal(evsig_waitpid_timeout(loop, reuser, &status, 5.0), reuser);
            let_run(loop, 0.01);
        }
    }
    if (reuser != pid) {
        print_message("    cannot choose a pid here (needs root): skipped\n");
        skip();
    }
    /* evsig's pidfd still refers to the old child. */
    assert_fails_with(evsig_kill(loop, pid, SIGTERM), ESRCH);
    assert_fails_with(evsig_kill(loop, pid, 0), ESRCH);
    assert_true(running(reuser));
    /* The loop finds the old child gone, without a report. */
    let_run(loop, 0.05);
    assert_int_equal(rec.calls, 0);
    assert_true(running(reuser));
    /* Nor does the old watch report the new process's exit. */
    gate_open(gr);
    assert_int_equal(evsig_waitpid_timeout(loop, reuser, &status, 5.0), reuser);
    assert_exited(status, 0);   /* not killed by SIGTERM */
    assert_false(TU_RUN_UNTIL(loop, rec.calls > 0, 0.1));
    assert_int_equal(rec.calls, 0);
}

/* ======================================================================== *
 * No pidfd to be had: the fallback
 * ======================================================================== */

#define FB_KIDS 3

static void test_with_the_forced_fallback_children_on_two_loops_are_each_reported_once_and_others_left_alone(void **unused)
{
    struct ev_loop *def = tu_default_loop(), *other;
    struct exit_rec rd[FB_KIDS] = { { 0 } }, ro[FB_KIDS] = { { 0 } };
    struct chld_log log = { 0 };
    struct gate *gd = gate_new(), *go = gate_new();
    pid_t kd[FB_KIDS], ko[FB_KIDS], u;
    int status = -1, i = -1;
    const evsig_info *info;

    (void)unused;
    PIDFD_ONLY();
    other = child_new_loop();
    evsig__child_force_fallback(true);   /* evsig_reset() turns it off */
    assert_succeeds(evsig_signal(def, SIGCHLD, chld_handler, &log, NULL));
    for (int k = 0; k < FB_KIDS; k++) {
        kd[k] = watch_exiting(def, rec_cb, &rd[k], 0, gd, 82 + k);
        ko[k] = watch_exiting(other, rec_cb, &ro[k], 0, go, 92 + k);
    }
    assert_int_equal(count_pidfds(), 0);   /* as if none could be had */

    /* Never waitpid(-1): a child nobody watches is left alone. */
    u = tu_fork(raw_exit_main, (void *)(intptr_t)89);
    wait_zombie(u);
    let_run(def, 0.05);
    let_run(other, 0.05);
    if (!zombie(u))
        fail_msg("the fallback reaped a child nobody watches");
    assert_true(TU_RUN_UNTIL(def, chld_count(&log, u) > 0, 5.0));
    info = chld_one(&log, u, NULL);
    assert_exited(info->status, 89);
    assert_int_equal(waitpid(u, &status, 0), u);
    assert_exited(status, 89);

    assert_succeeds(evsig_kill(def, kd[0], SIGTERM));
    assert_true(TU_RUN_UNTIL(def, rd[0].calls > 0, 5.0));
    assert_killed_by(rd[0].status, SIGTERM);

    /* The rest at once: SIGCHLDs merge, across loops. */
    gate_open(gd);
    gate_open(go);
    assert_true(TU_RUN_UNTIL(def, all_called(rd, FB_KIDS), 5.0));
    assert_true(TU_RUN_UNTIL(other, all_called(ro, FB_KIDS), 5.0));
    let_run(def, 0.05);
    let_run(other, 0.05);
    for (int k = 0; k < FB_KIDS; k++) {
        assert_int_equal(rd[k].calls, 1);
        assert_int_equal(ro[k].calls, 1);
        assert_ptr_equal(rd[k].loop, def);
        assert_ptr_equal(ro[k].loop, other);
        if (k)
            assert_exited(rd[k].status, 82 + k);
        assert_exited(ro[k].status, 92 + k);
        info = chld_one(&log, kd[k], &i);
        assert_ptr_equal(log.loop[i], def);
        assert_int_equal(info->status, rd[k].status);
        info = chld_one(&log, ko[k], &i);
        assert_ptr_equal(log.loop[i], other);
        assert_int_equal(info->status, ro[k].status);
        assert_int_equal(evsig_waitpid(def, kd[k], &status, WNOHANG), kd[k]);
        assert_int_equal(evsig_waitpid(other, ko[k], &status, WNOHANG), ko[k]);
    }
    assert_int_equal(log.calls, 2 * FB_KIDS + 1);
    assert_int_equal(tu_count_children(), 0);
}

/* ======================================================================== *
 * libev's reaper, witnessed
 * ======================================================================== */

/*
 * libev's reaper on the default loop cannot be stopped; whenever it is fed
 * (a SIGCHLD libev caught before evsig took SIGCHLD, a signalfd default
 * loop) it takes every exited child with waitpid(-1). Feed it by hand:
 * ev_feed_signal_event() makes libev's own SIGCHLD watcher pending and
 * ev_invoke_pending() runs it before evsig's pidfds are even polled.
 */
static void feed_libevs_reaper(struct ev_loop *def)
{
    ev_feed_signal_event(def, SIGCHLD);
    ev_invoke_pending(def);
}

static void test_a_child_libevs_reaper_took_is_reported_once_through_the_witness(void **unused)
{
    struct ev_loop *def = tu_default_loop();
    struct exit_rec rec = { 0 };
    struct chld_log log = { 0 };
    struct gate *g = gate_new();
    const evsig_info *info;
    int status = -1;
    pid_t pid, u;

    (void)unused;
    PIDFD_ONLY();
    assert_succeeds(evsig_signal(def, SIGCHLD, chld_handler, &log, NULL));
    pid = watch_exiting(def, rec_cb, &rec, 0, g, 83);
    gate_open(g);
    wait_zombie(pid);
    feed_libevs_reaper(def);
    if (!gone(pid))
        fail_msg("libev's reaper did not take child %d: is its SIGCHLD "
                 "watcher on the default loop?", (int)pid);

    assert_true(TU_RUN_UNTIL(def, rec.calls > 0 && log.calls > 0, 5.0));
    assert_false(TU_RUN_UNTIL(def, rec.calls > 1 || log.calls > 1, 0.1));
    assert_int_equal(rec.calls, 1);
    assert_exited(rec.status, 83);
    info = chld_one(&log, pid, NULL);
    assert_int_equal(info->status, rec.status);
    assert_int_equal(evsig_waitpid(def, pid, &status, WNOHANG), pid);
    assert_exited(status, 83);

    /* An unwatched child libev took leaves a kept result. */
    u = tu_fork(raw_exit_main, (void *)(intptr_t)84);
    wait_zombie(u);
    feed_libevs_reaper(def);
    assert_true(gone(u));
    let_run(def, 0.05);
    assert_int_equal(evsig_waitpid(def, u, &status, WNOHANG), u);
    assert_exited(status, 84);
    assert_int_equal(rec.calls, 1);
}

/* Epoll sets open in this process. */
static int count_epoll_sets(void)
{
    DIR *dir = opendir("/proc/self/fd");
    struct dirent *de;
    char path[300], target[64];
    int n = 0;

    assert_non_null(dir);
    while ((de = readdir(dir))) {
        ssize_t len;

        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "/proc/self/fd/%s", de->d_name);
        len = readlink(path, target, sizeof(target) - 1);
        if (len > 0) {
            target[len] = '\0';
            n += strcmp(target, "anon_inode:[eventpoll]") == 0;
        }
    }
    closedir(dir);
    return n;
}

/*
 * A loop whose children are all reported holds nothing of evsig's: it may
 * be destroyed without evsig_reset(), and a loop made later -- at the same
 * address, as malloc() likes to -- watches children like any. evsig keeps
 * the epoll sets of a few idle loops open (a child at a time would make
 * and close one per child otherwise), never more than four.
 */
static void test_loops_destroyed_after_their_children_leave_no_trace_and_at_most_four_idle_sets(void **unused)
{
    int sets;

    (void)unused;
    SKIP_UNLESS_BACKEND(EVSIG_CHILD_PIDFD, "children only on the default loop");
    sets = count_epoll_sets();
    for (int round = 0; round < 8; round++) {
        struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);   /* libev's own set */
        struct exit_rec r = { 0 };
        pid_t pid;

        assert_non_null(loop);
        pid = assert_succeeds(evsig_fork_and_watch(loop, rec_cb, &r, 0));
        if (pid == 0)
            _exit(30 + round);
        assert_true(TU_RUN_UNTIL(loop, r.calls == 1, 10));
        assert_exited(r.status, 30 + round);
        /* Nothing keeps ev_run() alive: evsig's ev_io on it is stopped. */
        assert_true(tu_ev_run_returns(loop, 2));
        ev_loop_destroy(loop);
        assert_true(count_epoll_sets() <= sets + 4);
    }
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, child_setup, child_teardown)
    const struct CMUnitTest tests[] = {
        T(test_popen_and_pclose_get_their_childs_status_while_evsig_watches_children_and_loops_run),
        T(test_system_gets_its_childs_status_while_the_default_loop_runs_in_another_thread),
        T(test_posix_spawn_and_waitpid_get_their_childs_status_while_loops_run),
        T(test_fork_and_waitpid_wnohang_get_their_childs_status_while_loops_run),
        T(test_the_table_handler_runs_once_per_unwatched_childs_sigchld_on_the_tables_loop_and_reaps_nothing),
        T(test_a_watched_childs_table_call_runs_on_the_childs_loop_not_the_tables),
        T(test_children_on_two_loops_in_two_threads_are_each_reported_on_their_own_loop_and_thread),
        T(test_two_hundred_children_on_a_non_default_loop_are_each_reported_once),
        T(test_waitpid_and_unwatch_of_another_loops_child_are_echild_and_kill_works_from_any_loop),
        T(test_waitpid_minus_one_on_a_loop_without_watches_reaps_a_child_no_loop_watches_never_another_loops),
        T(test_evsig_fork_and_forkpty_and_watch_work_on_a_non_default_loop),
        T(test_unwatching_a_running_child_closes_its_pidfd_and_leaves_its_exit_to_the_program),
        T(test_a_watched_child_the_program_reaps_itself_is_forgotten_without_a_report),
        T(test_kill_goes_through_the_pidfd_so_it_works_where_kill2_is_forbidden),
        T(test_kill_of_a_watched_child_the_program_reaped_never_signals_the_process_that_reused_its_pid),
        T(test_with_the_forced_fallback_children_on_two_loops_are_each_reported_once_and_others_left_alone),
        T(test_a_child_libevs_reaper_took_is_reported_once_through_the_witness),
        T(test_loops_destroyed_after_their_children_leave_no_trace_and_at_most_four_idle_sets),
    };
#undef T

    /* EVSIG_TEST_FILTER=test_kill_* runs only the matching tests. */
    if (getenv("EVSIG_TEST_FILTER"))
        cmocka_set_test_filter(getenv("EVSIG_TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}

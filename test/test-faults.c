/* SPDX-License-Identifier: MIT */
/*
 * test-faults.c - what the world throws at evsig (issue 7): fork failing
 * under RLIMIT_NPROC, and callbacks that pull the ground from under the
 * dispatch that called them (evsig_reset() or evsig_signal() from inside
 * a handler, a watcher that restarts every watcher, evsig_reset() from a
 * child callback and from the SIGCHLD table handler).
 *
 * A test whose outcome may kill the process, or that must drop privileges,
 * forks (tu_fork()); the child reports through its exit code only.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
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

#define SKIPPED 77   /* a forked check that could not run */

/* Open fds, counted without /proc (which a process that dropped its
 * privileges may not read). */
static int count_fds(void)
{
    int n = 0;

    for (int fd = 0; fd < 1024; fd++)
        if (fcntl(fd, F_GETFD) >= 0)
            n++;
    return n;
}

/* ======================================================================== */
/* fork failing                                                             */
/* ======================================================================== */

static void never_cb(struct ev_loop *loop, pid_t pid, int status, void *data)
{
    (void)loop;
    (void)pid;
    (void)status;
    ++*(int *)data;
}

/*
 * In a forked test process: drop root (root ignores RLIMIT_NPROC), allow
 * no more processes than exist, and try every fork entry point.
 */
static void fork_under_nproc_limit(void *arg)
{
    struct ev_loop *loop = ev_default_loop(0);
    struct rlimit rl = { 0, 0 };
    sigset_t before, after;
    int called = 0, status, fds, master = -1;

    (void)arg;
    ev_loop_fork(loop);
    if (getuid() == 0) {
        if (setgroups(0, NULL) != 0 || setgid(65534) != 0 || setuid(65534) != 0)
            _exit(SKIPPED);
    }
    /* No new process for this uid: the count of its processes is at
     * least 1 (this one), so a limit of 0 refuses every fork. */
    if (setrlimit(RLIMIT_NPROC, &rl) != 0)
        _exit(SKIPPED);
    fds = count_fds();
    pthread_sigmask(SIG_SETMASK, NULL, &before);

    errno = 0;
    TU_CHILD_CHECK(evsig_fork_and_watch(loop, never_cb, &called, 0) == -1);
    TU_CHILD_CHECK(errno == EAGAIN);
    errno = 0;
    TU_CHILD_CHECK(evsig_fork_and_watch(loop, never_cb, &called, EVSIG_NOREF) == -1);
    TU_CHILD_CHECK(errno == EAGAIN);
    errno = 0;
    TU_CHILD_CHECK(evsig_fork(loop) == -1);
    TU_CHILD_CHECK(errno == EAGAIN);
    errno = 0;
    TU_CHILD_CHECK(evsig_forkpty_and_watch(loop, &master, never_cb, &called, 0) == -1);
    TU_CHILD_CHECK(errno == EAGAIN);

    /* Nothing half-registered: no child, no result, no reference, no fd,
     * the signal mask as it was. */
    errno = 0;
    TU_CHILD_CHECK(evsig_waitpid(loop, -1, &status, WNOHANG) == -1);
    TU_CHILD_CHECK(errno == ECHILD);
    errno = 0;
    TU_CHILD_CHECK(evsig_waitpid_timeout(loop, -1, &status, 0.05) == -1);
    TU_CHILD_CHECK(errno == ECHILD);
    TU_CHILD_CHECK(count_fds() == fds);
    pthread_sigmask(SIG_SETMASK, NULL, &after);
    TU_CHILD_CHECK(tu_same_sigset(&before, &after));
    TU_CHILD_CHECK(tu_ev_run_returns(loop, 2.0));
    TU_CHILD_CHECK(called == 0);
}

static void test_fork_and_watch_under_rlimit_nproc_fails_with_eagain_and_registers_nothing(void **unused)
{
    pid_t pid;
    int status;

    (void)unused;
    pid = tu_fork(fork_under_nproc_limit, NULL);
    status = tu_wait(pid, 20.0);
    if (status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == SKIPPED) {
        print_message("cannot drop privileges or lower RLIMIT_NPROC: skipped\n");
        skip();
    }
    assert_true(status != -1 && WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* ======================================================================== */
/* evsig_reset() from inside a signal handler                                */
/* ======================================================================== */

struct resetter {
    int  table_calls, watcher_calls;
    bool reset_ok;
};

static void resetting_handler(struct ev_loop *loop, const evsig_info *info,
                              void *data)
{
    struct resetter *r = data;

    (void)loop;
    (void)info;
    if (r->table_calls++ == 0)
        r->reset_ok = evsig_reset() == 0;
}

static void counting_watcher(struct ev_loop *loop, const evsig_info *info,
                             void *data)
{
    (void)loop;
    (void)info;
    ((struct resetter *)data)->watcher_calls++;
}

static void tick_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)loop;
    (void)revents;
    ++*(int *)t->data;
}

static void test_a_handler_that_calls_evsig_reset_leaves_a_sane_loop_and_the_found_disposition(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct resetter r = { 0, 0, false };
    struct sigaction foreign, saved;
    evsig_action act;
    evsig_watcher w;
    ev_timer tick;
    int ticks = 0;

    (void)unused;
    tu_read_sa(SIGUSR1, &saved);
    tu_foreign_hits = 0;
    tu_install_foreign(SIGUSR1, SA_RESTART, &foreign);
    assert_succeeds(evsig_signal(loop, SIGUSR1, resetting_handler, &r, NULL));
    assert_succeeds(evsig_watch(loop, &w, SIGUSR1, counting_watcher, &r, 0));

    assert_succeeds(raise(SIGUSR1));
    assert_true(TU_RUN_UNTIL(loop, r.table_calls > 0, 5.0));
    assert_true(r.reset_ok);
    /* The same delivery does not reach the watcher the reset stopped. */
    assert_int_equal(r.watcher_calls, 0);
    assert_false(evsig_is_active(&w));

    /* What evsig found is back, exactly, and evsig says so. */
    tu_assert_same_sa(SIGUSR1, &foreign);
    assert_succeeds(evsig_getsignal(SIGUSR1, &act));
    assert_true(act.handler == EVSIG_NONE);

    /* Later deliveries go to it; the loop keeps running and holds no
     * reference for what the reset removed. */
    assert_succeeds(raise(SIGUSR1));
    assert_int_equal(tu_foreign_hits, 1);
    ev_timer_init(&tick, tick_cb, 0.001, 0.001);
    tick.data = &ticks;
    ev_timer_start(loop, &tick);
    assert_true(TU_RUN_UNTIL(loop, ticks >= 3, 5.0));
    ev_timer_stop(loop, &tick);
    assert_int_equal(r.table_calls, 1);
    assert_int_equal(r.watcher_calls, 0);
    assert_true(tu_ev_run_returns(loop, 2.0));

    /* evsig works again afterwards. */
    assert_succeeds(evsig_watch(loop, &w, SIGUSR1, counting_watcher, &r, 0));
    assert_succeeds(raise(SIGUSR1));
    assert_true(TU_RUN_UNTIL(loop, r.watcher_calls == 1, 5.0));
    assert_succeeds(evsig_unwatch(&w));
    tu_assert_same_sa(SIGUSR1, &foreign);
    tu_put_back_exact(SIGUSR1, &saved);
}

/*
 * DESIGN.md §1.2 and §3.1: a delivery goes to whatever the table holds
 * when the loop dispatches it, and with the original disposition back in
 * place it is raised again. A second delivery caught before a handler
 * reset evsig is such a delivery: the restored foreign handler should see
 * it, not nothing.
 */
static void test_a_reset_from_a_handler_drops_deliveries_caught_but_not_dispatched(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct resetter r = { 0, 0, false };
    struct sigaction foreign, saved;

    (void)unused;
    tu_read_sa(SIGUSR1, &saved);
    tu_foreign_hits = 0;
    tu_install_foreign(SIGUSR1, SA_RESTART, &foreign);
    assert_succeeds(evsig_signal(loop, SIGUSR1, resetting_handler, &r, NULL));

    /* Two deliveries caught before the loop dispatches either. */
    assert_succeeds(raise(SIGUSR1));
    assert_succeeds(raise(SIGUSR1));
    assert_true(TU_RUN_UNTIL(loop, r.table_calls > 0, 5.0));
    TU_RUN_UNTIL(loop, tu_foreign_hits > 0, 0.2);
    print_message("handler %d, restored foreign handler %d (of 2 deliveries)\n",
                  r.table_calls, (int)tu_foreign_hits);
    tu_put_back_exact(SIGUSR1, &saved);
    /* evsig_reset() forgets everything, undispatched deliveries included
     * (evsig.h): the restored handler is not called for them, and the
     * process survives whatever the restored disposition is. */
    assert_int_equal(r.table_calls, 1);
    assert_int_equal(tu_foreign_hits, 0);
}

/* ======================================================================== */
/* evsig_signal() on its own signal from inside the handler                 */
/* ======================================================================== */

struct replacer {
    int first, second;
    evsig_handler next;   /* what the first call installs */
};

static void second_handler(struct ev_loop *loop, const evsig_info *info,
                           void *data)
{
    (void)loop;
    (void)info;
    ((struct replacer *)data)->second++;
}

static void first_handler(struct ev_loop *loop, const evsig_info *info,
                          void *data)
{
    struct replacer *r = data;

    r->first++;
    evsig_signal(loop, info->signo, r->next, r, NULL);
}

/* Two deliveries caught before dispatch; the first one's handler replaces
 * itself. The second belonged to the handler in place when it was caught,
 * which is gone: it is dropped (DESIGN §3.1; the first version gave it to
 * the successor). The successor gets the next one. */
static void test_a_handler_that_replaces_itself_drops_what_it_owned_and_its_successor_gets_the_next(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct replacer r = { 0, 0, second_handler };

    (void)unused;
    assert_succeeds(evsig_signal(loop, SIGUSR1, first_handler, &r, NULL));
    assert_succeeds(raise(SIGUSR1));
    assert_succeeds(raise(SIGUSR1));   /* both caught before dispatch */
    assert_true(TU_RUN_UNTIL(loop, r.first >= 1, 5.0));
    assert_false(TU_RUN_UNTIL(loop, r.first + r.second > 1, 0.05));
    assert_int_equal(r.first, 1);
    assert_int_equal(r.second, 0);
    assert_succeeds(raise(SIGUSR1));
    assert_true(TU_RUN_UNTIL(loop, r.second == 1, 5.0));
    assert_int_equal(r.first, 1);
}

static void test_a_handler_that_sets_ign_on_its_own_signal_drops_the_pending_delivery(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct replacer r = { 0, 0, EVSIG_IGN };
    struct sigaction sa;

    (void)unused;
    assert_succeeds(evsig_signal(loop, SIGUSR1, first_handler, &r, NULL));
    assert_succeeds(raise(SIGUSR1));
    assert_succeeds(raise(SIGUSR1));
    assert_true(TU_RUN_UNTIL(loop, r.first >= 1, 5.0));
    assert_false(TU_RUN_UNTIL(loop, r.first + r.second > 1, 0.05));
    tu_read_sa(SIGUSR1, &sa);
    assert_true(sa.sa_handler == SIG_IGN);
    assert_succeeds(raise(SIGUSR1));   /* ignored by the kernel now */
    assert_int_equal(r.first, 1);
}

/* In a forked child: SIGUSR2's handler sets EVSIG_DFL; of two deliveries
 * caught before the dispatch, the second was owned by the handler that is
 * gone, so it is dropped and the child survives (the first version
 * re-raised it and the child died). */
static void dfl_from_handler(void *arg)
{
    struct ev_loop *loop = ev_default_loop(0);
    struct replacer r = { 0, 0, EVSIG_DFL };

    (void)arg;
    ev_loop_fork(loop);
    TU_CHILD_CHECK(evsig_signal(loop, SIGUSR2, first_handler, &r, NULL) == 0);
    TU_CHILD_CHECK(raise(SIGUSR2) == 0);
    TU_CHILD_CHECK(raise(SIGUSR2) == 0);
    TU_RUN_UNTIL(loop, r.first > 1, 5.0);
    _exit(r.first == 1 ? 3 : 4);   /* survived: the second was dropped */
}

static void test_a_handler_that_sets_dfl_on_its_own_signal_drops_the_second_caught_delivery(void **unused)
{
    (void)unused;
    tu_assert_child_exit(tu_fork(dfl_from_handler, NULL), 3, 20.0);
}

/* ======================================================================== */
/* A watcher that restarts every watcher                                     */
/* ======================================================================== */

#define NWATCHERS 8

struct herd;

struct member {
    struct herd *h;
    int          index;
};

struct herd {
    evsig_watcher w[NWATCHERS];
    struct member m[NWATCHERS];
    int           calls[NWATCHERS];
    int           total;
    int           failures;
};

/* Any of them: stop every watcher, then start them all again. */
static void restart_all_cb(struct ev_loop *loop, const evsig_info *info,
                           void *data)
{
    struct member *m = data;
    struct herd *h = m->h;

    (void)info;
    h->calls[m->index]++;
    h->total++;
    for (int i = 0; i < NWATCHERS; i++)
        if (evsig_unwatch(&h->w[i]) != 0)
            h->failures++;
    for (int i = 0; i < NWATCHERS; i++)
        if (evsig_watch(loop, &h->w[i], SIGUSR1, restart_all_cb, &h->m[i], 0) != 0)
            h->failures++;
}

/* In a forked child (a lost race kills it with SIGUSR1): the checks, by
 * exit code. */
static void restart_all_scenario(void *arg)
{
    struct ev_loop *loop = ev_default_loop(0);
    struct herd *h = calloc(1, sizeof(*h));

    (void)arg;
    ev_loop_fork(loop);
    TU_CHILD_CHECK(h != NULL);
    for (int i = 0; i < NWATCHERS; i++) {
        h->m[i] = (struct member){ h, i };
        TU_CHILD_CHECK(evsig_watch(loop, &h->w[i], SIGUSR1, restart_all_cb,
                                   &h->m[i], 0) == 0);
    }

    /* One delivery at a time: the restarted watchers see the next one, not
     * this one, so each delivery makes exactly one call. */
    for (int n = 1; n <= 3; n++) {
        TU_CHILD_CHECK(raise(SIGUSR1) == 0);
        TU_CHILD_CHECK(TU_RUN_UNTIL(loop, h->total >= n, 5.0));
        TU_CHILD_CHECK(!TU_RUN_UNTIL(loop, h->total > n, 0.02));
    }
    /* Two caught before one dispatch: the second belonged to the watchers
     * the first one's callback stopped, so it is dropped (DESIGN §3.1) --
     * never passed to SIG_DFL, since the signal was never without a
     * watcher. The restarted ones get the next. */
    TU_CHILD_CHECK(raise(SIGUSR1) == 0);
    TU_CHILD_CHECK(raise(SIGUSR1) == 0);
    TU_CHILD_CHECK(TU_RUN_UNTIL(loop, h->total >= 4, 5.0));
    TU_CHILD_CHECK(!TU_RUN_UNTIL(loop, h->total > 4, 0.02));
    TU_CHILD_CHECK(raise(SIGUSR1) == 0);
    TU_CHILD_CHECK(TU_RUN_UNTIL(loop, h->total >= 5, 5.0));
    TU_CHILD_CHECK(!TU_RUN_UNTIL(loop, h->total > 5, 0.02));
    TU_CHILD_CHECK(h->failures == 0);
    /* Always the first in start order, which restarts first again. */
    TU_CHILD_CHECK(h->calls[0] == 5);
    for (int i = 0; i < NWATCHERS; i++)
        TU_CHILD_CHECK(evsig_is_active(&h->w[i]));

    /* References: one per active watcher, none left after they stop. */
    for (int i = 0; i < NWATCHERS; i++)
        TU_CHILD_CHECK(evsig_unwatch(&h->w[i]) == 0);
    TU_CHILD_CHECK(tu_ev_run_returns(loop, 2.0));
    free(h);
}

static void test_a_watcher_that_unwatches_and_rewatches_every_watcher_keeps_dispatch_and_references_sane(void **unused)
{
    pid_t pid;
    int status;
    char buf[64];

    (void)unused;
    pid = tu_fork(restart_all_scenario, NULL);
    status = tu_wait(pid, 30.0);
    if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        print_error("the scenario's process %s\n",
                    tu_describe_status(status, buf, sizeof(buf)));
    assert_true(status != -1 && WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* ======================================================================== */
/* evsig_reset() from a child callback and from the SIGCHLD table handler   */
/* ======================================================================== */

struct kid_reset {
    int  calls;
    int  table_calls;
    bool reset_ok;
};

static void resetting_kid_cb(struct ev_loop *loop, pid_t pid, int status,
                             void *data)
{
    struct kid_reset *k = data;

    (void)loop;
    (void)pid;
    (void)status;
    if (k->calls++ == 0)
        k->reset_ok = evsig_reset() == 0;
}

static void counting_sigchld(struct ev_loop *loop, const evsig_info *info,
                             void *data)
{
    (void)loop;
    (void)info;
    ((struct kid_reset *)data)->table_calls++;
}

static void resetting_sigchld(struct ev_loop *loop, const evsig_info *info,
                              void *data)
{
    struct kid_reset *k = data;

    (void)loop;
    (void)info;
    if (k->table_calls++ == 0)
        k->reset_ok = evsig_reset() == 0;
}

static void plain_kid_cb(struct ev_loop *loop, pid_t pid, int status,
                         void *data)
{
    (void)loop;
    (void)pid;
    (void)status;
    ++*(int *)data;
}

/* Write ends of every gate open in the parent: a child closes them all, or
 * a gate it does not wait on would never reach EOF for its own waiters. */
static int gate_writers[2] = { -1, -1 };

/* Fork @n watched children that exit (code 0) when @gate is closed. */
static void fork_gated(struct ev_loop *loop, int n, pid_t *pids, int gate[2],
                       evsig_child_cb cb, void *data)
{
    for (int i = 0; i < n; i++) {
        pid_t pid = evsig_fork_and_watch(loop, cb, data, 0);

        if (pid == 0) {
            char c;

            for (int k = 0; k < 2; k++)
                if (gate_writers[k] >= 0)
                    close(gate_writers[k]);
            while (read(gate[0], &c, 1) < 0 && errno == EINTR)
                ;
            _exit(0);
        }
        assert_true(pid > 0);
        pids[i] = pid;
    }
}

static void open_gates(int first[2], int rest[2])
{
    assert_int_equal(pipe2(first, O_CLOEXEC), 0);
    assert_int_equal(pipe2(rest, O_CLOEXEC), 0);
    gate_writers[0] = first[1];
    gate_writers[1] = rest[1];
}

/* After evsig forgot them, libev still reaps the rest: no zombie stays. */
static bool no_children_left(void *unused)
{
    (void)unused;
    return tu_count_children() == 0;
}

static void test_evsig_reset_from_a_child_callback_interrupts_waits_and_forgets_the_other_children(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct kid_reset k = { 0, 0, false };
    int first_gate[2], rest_gate[2], status = -1, after = 0;
    pid_t first, rest[3];

    (void)unused;
    open_gates(first_gate, rest_gate);
    assert_succeeds(evsig_signal(loop, SIGCHLD, counting_sigchld, &k, NULL));
    fork_gated(loop, 1, &first, first_gate, resetting_kid_cb, &k);
    fork_gated(loop, 3, rest, rest_gate, resetting_kid_cb, &k);
    close(first_gate[0]);
    close(rest_gate[0]);

    /* Wait for one of the others while the first one's callback resets. */
    close(first_gate[1]);
    assert_fails_with(evsig_waitpid_timeout(loop, rest[0], &status, 10.0), EINTR);
    assert_int_equal(k.calls, 1);
    assert_true(k.reset_ok);
    /* The SIGCHLD table handler was cleared by the reset before its turn. */
    assert_int_equal(k.table_calls, 0);

    /* The others exit: evsig no longer watches them, libev reaps them. */
    close(rest_gate[1]);
    assert_true(tu_run_until(loop, no_children_left, NULL, 10.0));
    assert_false(TU_RUN_UNTIL(loop, k.calls > 1, 0.05));
    assert_int_equal(k.calls, 1);
    assert_true(tu_ev_run_returns(loop, 2.0));

    /* evsig works again. */
    pid_t pid = evsig_fork_and_watch(loop, plain_kid_cb, &after, 0);
    if (pid == 0)
        _exit(3);
    assert_true(pid > 0);
    assert_int_equal(evsig_waitpid_timeout(loop, pid, &status, 10.0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 3);
    assert_int_equal(after, 1);
}

static void test_evsig_reset_from_the_sigchld_table_handler_restores_sigchld_and_keeps_reaping(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct kid_reset k = { 0, 0, false };
    struct sigaction before;
    evsig_action act;
    int first_gate[2], rest_gate[2], status = -1, calls = 0, after = 0;
    pid_t first, rest[2];

    (void)unused;
    tu_read_sa(SIGCHLD, &before);
    open_gates(first_gate, rest_gate);
    assert_succeeds(evsig_signal(loop, SIGCHLD, resetting_sigchld, &k, NULL));
    fork_gated(loop, 1, &first, first_gate, plain_kid_cb, &calls);
    fork_gated(loop, 2, rest, rest_gate, plain_kid_cb, &calls);
    close(first_gate[0]);
    close(rest_gate[0]);

    close(first_gate[1]);
    assert_true(TU_RUN_UNTIL(loop, k.table_calls >= 1, 10.0));
    assert_true(k.reset_ok);
    assert_int_equal(calls, 1);   /* the child's own callback ran first */

    /* SIGCHLD is what it was: libev's reaper, reported as EVSIG_DFL. */
    tu_assert_same_sa(SIGCHLD, &before);
    assert_succeeds(evsig_getsignal(SIGCHLD, &act));
    assert_true(act.handler == EVSIG_DFL);
    assert_int_equal(evsig_is_default_handler(), 1);

    close(rest_gate[1]);
    assert_true(tu_run_until(loop, no_children_left, NULL, 10.0));
    assert_false(TU_RUN_UNTIL(loop, k.table_calls > 1 || calls > 1, 0.05));
    assert_true(tu_ev_run_returns(loop, 2.0));

    pid_t pid = evsig_fork_and_watch(loop, plain_kid_cb, &after, 0);
    if (pid == 0)
        _exit(4);
    assert_true(pid > 0);
    assert_int_equal(evsig_waitpid_timeout(loop, pid, &status, 10.0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 4);
    assert_int_equal(after, 1);
    assert_int_equal(k.table_calls, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fork_and_watch_under_rlimit_nproc_fails_with_eagain_and_registers_nothing, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_a_handler_that_calls_evsig_reset_leaves_a_sane_loop_and_the_found_disposition, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_a_reset_from_a_handler_drops_deliveries_caught_but_not_dispatched, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_a_handler_that_replaces_itself_drops_what_it_owned_and_its_successor_gets_the_next, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_a_handler_that_sets_ign_on_its_own_signal_drops_the_pending_delivery, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_a_handler_that_sets_dfl_on_its_own_signal_drops_the_second_caught_delivery, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_a_watcher_that_unwatches_and_rewatches_every_watcher_keeps_dispatch_and_references_sane, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_evsig_reset_from_a_child_callback_interrupts_waits_and_forgets_the_other_children, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_evsig_reset_from_the_sigchld_table_handler_restores_sigchld_and_keeps_reaping, tu_setup, tu_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

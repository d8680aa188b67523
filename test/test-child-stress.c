/* SPDX-License-Identifier: MIT */
/*
 * test-child-stress.c - many children at once, and children interleaved
 * with signals (DESIGN.md §1.2: every exit of a watched child is reported
 * exactly once, with its status, even when SIGCHLDs coalesce).
 *
 * Each test is bounded (a capped loop run, bounded reaps) and the file
 * runs in a few seconds. Children never call cmocka; they report through
 * their exit code or signals the parent counts.
 */
#define _GNU_SOURCE   /* pipe2() */
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
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "evsig.h"
#include "test-util.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* --- pid -> index ---------------------------------------------------------- */

#define NKIDS    1000
#define MAP_SIZE 4096   /* power of two, > 2 * NKIDS */

struct pidmap {
    pid_t pid[MAP_SIZE];
    int   index[MAP_SIZE];
};

static void map_put(struct pidmap *m, pid_t pid, int index)
{
    uint32_t h = ((uint32_t)pid * 2654435761u) & (MAP_SIZE - 1);

    while (m->pid[h])
        h = (h + 1) & (MAP_SIZE - 1);
    m->pid[h] = pid;
    m->index[h] = index;
}

/* -1 if @pid is not one of ours. */
static int map_get(const struct pidmap *m, pid_t pid)
{
    uint32_t h = ((uint32_t)pid * 2654435761u) & (MAP_SIZE - 1);

    while (m->pid[h]) {
        if (m->pid[h] == pid)
            return m->index[h];
        h = (h + 1) & (MAP_SIZE - 1);
    }
    return -1;
}

/* --- 1000 children that exit at once ------------------------------------- */

struct herd {
    struct pidmap map;
    pid_t         pid[NKIDS];
    int           reported[NKIDS];   /* callback calls per child */
    int           status[NKIDS];
    int           collected[NKIDS];  /* evsig_waitpid() returns per child */
    int           total;
    int           strangers;         /* callbacks for pids not ours */
};

static void herd_cb(struct ev_loop *loop, pid_t pid, int status, void *data)
{
    struct herd *h = data;
    int i = map_get(&h->map, pid);

    (void)loop;
    h->total++;
    if (i < 0) {
        h->strangers++;
        return;
    }
    h->reported[i]++;
    h->status[i] = status;
}

static bool herd_done(void *arg)
{
    return ((struct herd *)arg)->total >= NKIDS;
}

static void test_a_thousand_children_exiting_at_once_are_each_reported_once_with_their_status(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    struct herd *h = calloc(1, sizeof(*h));
    int fds[2], status, bad = 0;
    double t0, forked, reported;
    pid_t r;

    (void)unused;
    assert_non_null(h);
    assert_succeeds(pipe2(fds, O_CLOEXEC));   /* blocking: children read() */

    t0 = ev_time();
    for (int i = 0; i < NKIDS; i++) {
        pid_t pid = evsig_fork_and_watch(loop, herd_cb, h, 0);

        if (pid == 0) {
            char c;

            close(fds[1]);
            while (read(fds[0], &c, 1) < 0 && errno == EINTR)
                ;
            _exit(i % 256);
        }
        if (pid < 0) {
            print_error("fork %d: %s\n", i, tu_errname(errno));
            close(fds[1]);   /* let the ones forked so far go */
            close(fds[0]);
            free(h);
            fail();
        }
        h->pid[i] = pid;
        map_put(&h->map, pid, i);
    }
    forked = ev_time() - t0;
    close(fds[0]);

    /* All at once: their SIGCHLDs coalesce. */
    t0 = ev_time();
    close(fds[1]);
    bool all = tu_run_until(loop, herd_done, h, 30.0);
    reported = ev_time() - t0;
    print_message("%d children: forked in %.3f s, %d reported in %.3f s\n",
                  NKIDS, forked, h->total, reported);
    assert_true(all);
    assert_false(TU_RUN_UNTIL(loop, h->total > NKIDS, 0.1));   /* no more */
    assert_int_equal(h->strangers, 0);
    assert_int_equal(h->total, NKIDS);
    for (int i = 0; i < NKIDS; i++) {
        if (h->reported[i] != 1 || !WIFEXITED(h->status[i]) ||
            WEXITSTATUS(h->status[i]) != i % 256) {
            char buf[64];

            if (bad++ < 10)
                print_error("child %d (pid %d): reported %d times, %s, "
                            "expected exited %d\n", i, (int)h->pid[i],
                            h->reported[i],
                            tu_describe_status(h->status[i], buf, sizeof(buf)),
                            i % 256);
        }
    }
    assert_int_equal(bad, 0);

    /* Every result is handed out once more, to evsig_waitpid(-1). */
    for (int n = 0; n < NKIDS; n++) {
        int i;

        status = -1;
        r = evsig_waitpid(loop, -1, &status, WNOHANG);
        i = r > 0 ? map_get(&h->map, r) : -1;
        if (i < 0) {
            print_error("evsig_waitpid(-1) #%d returned %d (%s)\n", n, (int)r,
                        r < 0 ? tu_errname(errno) : "not ours");
            fail();
        }
        h->collected[i]++;
        if (h->collected[i] != 1 || status != h->status[i])
            bad++;
    }
    assert_int_equal(bad, 0);
    assert_fails_with(evsig_waitpid(loop, -1, &status, WNOHANG), ECHILD);

    /* Zero zombies. */
    assert_int_equal(waitpid(-1, &status, WNOHANG), -1);
    assert_int_equal(errno, ECHILD);
    assert_int_equal(tu_count_children(), 0);
    free(h);
}

/* --- fork/exit/wait interleaved with signals ----------------------------- */

#define ROUNDS 100

/* The valued signal: real-time, so the kernel queues every sigqueue().
 * (SIGUSR1 was used first: two of them pending at once, the child's and
 * ours while the main thread had signals blocked, are one delivery, and
 * the test lost one in about one run of ten.) */
#define VALUED_SIG (SIGRTMIN + 1)

struct tally {
    int valued;                  /* VALUED_SIG table handler calls */
    int usr2;                    /* SIGUSR2 watcher calls */
    int from_child[ROUNDS];      /* VALUED_SIG values r sent by child r */
    int from_self[ROUNDS];       /* VALUED_SIG values 1000 + r we sent */
    int strange;
    int exits[ROUNDS];           /* callback calls per round */
    int exit_status[ROUNDS];
};

static void valued_handler(struct ev_loop *loop, const evsig_info *info,
                         void *data)
{
    struct tally *t = data;
    int v = info->value.sival_int;

    (void)loop;
    t->valued++;
    if (info->code != SI_QUEUE)
        t->strange++;
    else if (v >= 0 && v < ROUNDS)
        t->from_child[v]++;
    else if (v >= 1000 && v < 1000 + ROUNDS)
        t->from_self[v - 1000]++;
    else
        t->strange++;
}

static void usr2_watcher(struct ev_loop *loop, const evsig_info *info,
                         void *data)
{
    (void)loop;
    (void)info;
    ((struct tally *)data)->usr2++;
}

struct round_rec {
    struct tally *t;
    int           round;
};

static void round_cb(struct ev_loop *loop, pid_t pid, int status, void *data)
{
    struct round_rec *rr = data;

    (void)loop;
    (void)pid;
    rr->t->exits[rr->round]++;
    rr->t->exit_status[rr->round] = status;
}

static void test_a_hundred_rounds_of_fork_exit_wait_interleaved_with_signals_lose_nothing(void **unused)
{
    struct ev_loop *loop = tu_default_loop();
    static struct tally t;
    static struct round_rec rr[ROUNDS];
    evsig_watcher w;
    int status, bad = 0;

    (void)unused;
    memset(&t, 0, sizeof(t));
    assert_succeeds(evsig_signal(loop, VALUED_SIG, valued_handler, &t, NULL));
    assert_succeeds(evsig_watch(loop, &w, SIGUSR2, usr2_watcher, &t, 0));

    for (int r = 0; r < ROUNDS; r++) {
        pid_t pid, got;

        rr[r] = (struct round_rec){ &t, r };
        pid = evsig_fork_and_watch(loop, round_cb, &rr[r], 0);
        if (pid == 0) {
            /* A signal to the parent, then the exit. */
            if (sigqueue(getppid(), VALUED_SIG, (union sigval){ .sival_int = r }) != 0)
                _exit(TU_CHILD_FAILED);
            _exit(r % 256);
        }
        assert_true(pid > 0);
        /* Signals to self while the child runs and exits. */
        assert_succeeds(tu_sigqueue_self(VALUED_SIG, 1000 + r));
        assert_succeeds(raise(SIGUSR2));

        status = -1;
        switch (r % 4) {
        case 0:
            got = evsig_waitpid(loop, pid, &status, 0);
            break;
        case 1:
            got = evsig_waitpid(loop, -1, &status, 0);
            break;
        case 2:
            got = evsig_waitpid_timeout(loop, pid, &status, 5.0);
            break;
        default:
            assert_true(TU_RUN_UNTIL(loop, t.exits[r] > 0, 5.0));
            got = evsig_waitpid(loop, pid, &status, WNOHANG);
            break;
        }
        if (got != pid || !WIFEXITED(status) || WEXITSTATUS(status) != r % 256) {
            char buf[64];

            print_error("round %d: waited %d, got %d: %s\n", r, (int)pid,
                        (int)got, got < 0 ? tu_errname(errno)
                                  : tu_describe_status(status, buf, sizeof(buf)));
            fail();
        }
    }
    if (!TU_RUN_UNTIL(loop, t.valued >= 2 * ROUNDS && t.usr2 >= ROUNDS, 10.0))
        print_error("valued %d usr2 %d strange %d\n", t.valued, t.usr2, t.strange);
    assert_true(t.valued >= 2 * ROUNDS && t.usr2 >= ROUNDS);
    assert_false(TU_RUN_UNTIL(loop, t.valued > 2 * ROUNDS || t.usr2 > ROUNDS, 0.1));
    assert_int_equal(t.valued, 2 * ROUNDS);
    assert_int_equal(t.usr2, ROUNDS);
    assert_int_equal(t.strange, 0);
    for (int r = 0; r < ROUNDS; r++) {
        if (t.from_child[r] != 1 || t.from_self[r] != 1 || t.exits[r] != 1 ||
            !WIFEXITED(t.exit_status[r]) || WEXITSTATUS(t.exit_status[r]) != r % 256) {
            if (bad++ < 10)
                print_error("round %d: child's signal %d, ours %d, exit "
                            "reported %d times\n", r, t.from_child[r],
                            t.from_self[r], t.exits[r]);
        }
    }
    assert_int_equal(bad, 0);
    assert_fails_with(evsig_waitpid(loop, -1, &status, WNOHANG), ECHILD);
    assert_int_equal(tu_count_zombies(), 0);
    assert_succeeds(evsig_unwatch(&w));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_a_thousand_children_exiting_at_once_are_each_reported_once_with_their_status, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_a_hundred_rounds_of_fork_exit_wait_interleaved_with_signals_lose_nothing, tu_setup, tu_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: MIT */
/*
 * child-util.h - helpers shared by the child test files (test-child.c,
 * test-child-pidfd.c): gates, what callbacks saw, status checks, timers,
 * and the per-test fixture. test-util.h holds what every test file uses;
 * this holds what only the child tests do.
 *
 * How the tests synchronise with their children, never with sleep():
 * - a child that must outlive a step blocks reading a "gate", a pipe whose
 *   write end only the parent holds; closing it (gate_open()) lets the
 *   child run on and exit. Every child closes every gate end but its own
 *   read end at once (child_begin()), or a sibling would hold a gate shut;
 * - the parent waits by running the loop (TU_RUN_UNTIL, capped by a timer)
 *   or through evsig_waitpid(), and always reaps what it forked.
 * Forked children never call cmocka: they report through their exit code
 * (TU_CHILD_CHECK exits 99 and says where on stderr).
 *
 * Include after <cmocka.h>, "evsig.h" and "test-util.h".
 */
#ifndef EVSIG_TEST_CHILD_UTIL_H
#define EVSIG_TEST_CHILD_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <ev.h>

#include "evsig.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* --- gates: pipes a child blocks on until the parent closes them --------- */

struct gate {
    int rd, wr;
};

/* A new gate (16 per test); closed by the fixture. */
struct gate *gate_new(void);
/* Let the child blocked on @g run on. */
void gate_open(struct gate *g);
void gates_close_all(void);

/*
 * First thing in every forked child: take back cmocka's fault handlers
 * (they would longjmp into the child's copy of the test runner), give
 * SIGTERM its default action, and close every gate end but @keep's read
 * end (NULL: keep none).
 */
void child_begin(const struct gate *keep);
/* In a child: block until the parent opens @g. */
void child_wait_gate(const struct gate *g);

/* evsig_fork_and_watch() a child that exits with @code, at once or, with
 * @g, once the parent opens that gate. Returns its pid, in the parent. */
pid_t watch_exiting(struct ev_loop *loop, evsig_child_cb cb, void *data,
                    int flags, const struct gate *g, int code);

/* For tu_fork(): a raw fork() child that waits on the gate @arg, then
 * exits 0. */
void raw_wait_gate_main(void *arg);
/* The same, but it gives up waiting after 1.5 s, so that a parent stuck in
 * a blocking waitpid() fails its test instead of hanging. */
void raw_wait_gate_a_while_main(void *arg);
/* For tu_fork(): a raw fork() child that exits at once with (int)arg. */
void raw_exit_main(void *arg);
/* Fork a raw child that waits on @g, with pid @want if the kernel lets us
 * choose (ns_last_pid, root only). Returns its pid, whatever it is. */
pid_t fork_at_pid(pid_t want, struct gate *g);

/* --- what the callbacks saw ---------------------------------------------- */

/* A global clock, so tests can check the order of different callbacks. */
extern int seq;

struct exit_rec {
    int             calls;
    pid_t           pid;
    int             status;
    int             seq;
    struct ev_loop *loop;
};

/* evsig_child_cb recording into the struct exit_rec @data. */
void rec_cb(struct ev_loop *loop, pid_t pid, int status, void *data);

/* What the SIGCHLD table handler saw. */
struct chld_log {
    int             calls;
    evsig_info      info[16];
    int             seq[16];
    struct ev_loop *loop[16];
};

/* evsig_handler recording into the struct chld_log @data. */
void chld_handler(struct ev_loop *loop, const evsig_info *info, void *data);

/* The log entry for @pid, or NULL; asserts it appears at most once. Its
 * clock value in *@seq_out if not NULL. */
const evsig_info *chld_find(const struct chld_log *l, pid_t pid, int *seq_out);
/* How many entries of @l are for @pid. */
int chld_count(const struct chld_log *l, pid_t pid);

struct counter {
    int        calls;
    evsig_info last;
};

void count_cb(struct ev_loop *loop, const evsig_info *info, void *data);

/* --- statuses and process states ----------------------------------------- */

void assert_exited(int status, int code);
void assert_killed_by(int status, int sig);

/* The kernel has already reaped @pid for somebody (libev): it is no longer
 * our child, not even a zombie. Nothing is reaped here. */
bool gone(pid_t pid);
/* Still running: neither exited nor reaped. */
bool running(pid_t pid);
/* Exited, not reaped: a zombie. Nothing is reaped here. */
bool zombie(pid_t pid);
/* Block, without running the loop, until @pid has exited (a zombie). */
void wait_zombie(pid_t pid);

/* Open pidfds of this process: fds whose /proc/self/fdinfo has a "Pid:"
 * line. -1 if /proc cannot be read. No cmocka: usable in forked children. */
int count_pidfds(void);
/* Whether @fd is open in this process. No cmocka. */
bool fd_is_open(int fd);

/* --- timers, from a static pool (a failed assertion leaves the test by
 *     longjmp(); the fixture stops what is still running) ---------------- */

struct shot {
    ev_timer        timer;
    struct ev_loop *loop;
    bool            in_use;
    int             fired;
    struct gate    *gate;     /* opened when it fires, if set */
};

/* After @after seconds (then every @repeat), count and open @g if set. */
struct shot *shot_start(struct ev_loop *loop, double after, double repeat,
                        struct gate *g);
void shot_stop(struct shot *s);

/* ev_run(loop, 0), bounded: returns the seconds it took, or -1 if a
 * watchdog that holds no reference had to end it after @cap seconds. */
double run_bounded(struct ev_loop *loop, double cap);

/* --- fixtures ------------------------------------------------------------ */

/* An ev_loop_new() loop for this test: evsig_reset() runs before the
 * fixture destroys it (DESIGN.md: evsig work must be gone before
 * ev_loop_destroy()). At most 4 per test. */
struct ev_loop *child_new_loop(void);
/* The first loop child_new_loop() made in this test, or NULL. */
extern struct ev_loop *other_loop;

/* @fn(@arg) runs at teardown, before evsig_reset(), newest first, whether
 * the test passed or not: stop raw libev watchers, join threads, ... At
 * most 8 per test. */
void child_defer(void (*fn)(void *arg), void *arg);

/* tu_setup() and tu_teardown() around what this file owns: the teardown
 * opens every gate, stops the timers, runs the deferred cleanups, resets
 * evsig, destroys the test's loops, checks for leaks, and puts back the
 * signal mask the test started with (a leak reported, not inherited). */
int child_setup(void **state);
int child_teardown(void **state);

/* The backend in use (asserted to be PIDFD or LIBEV). */
int child_backend(void);
/* Skip the calling test unless the backend is @backend; @why says what
 * the other backend does instead. */
#define SKIP_UNLESS_BACKEND(backend, why) do {                             \
        if (child_backend() != (backend)) {                                \
            print_message("    skipped under %s: %s\n",                    \
                          (backend) == EVSIG_CHILD_PIDFD ? "LIBEV"         \
                                                         : "PIDFD", why);  \
            skip();                                                        \
            return;                                                        \
        }                                                                  \
    } while (0)

/* A pseudo-terminal master's output, read on a loop: ev_io_init(&r.io,
 * child_pty_read_cb, master, EV_READ). Stops at EOF (@eof) or when @buf is
 * full; @buf stays a string. */
struct child_pty_reader {
    ev_io  io;
    char   buf[512];
    size_t len;
    bool   eof;
};

void child_pty_read_cb(struct ev_loop *loop, ev_io *w, int revents);

#endif /* EVSIG_TEST_CHILD_UTIL_H */

/* SPDX-License-Identifier: MIT */
/*
 * test-util.h - fixtures shared by every evsig test executable.
 *
 * - errno-aware assertions that print errno names;
 * - tu_setup()/tu_teardown(): snapshot the process-wide state evsig can
 *   touch, then evsig_reset() and report precisely what leaked;
 * - running a loop until a condition holds, capped by an ev_timer;
 * - fork helpers that keep cmocka out of the child (STYLE.md: a cmocka
 *   assertion in a forked child does not fail the test).
 *
 * Include after <cmocka.h> (which needs <setjmp.h>, <stdarg.h>, <stddef.h>).
 */
#ifndef EVSIG_TEST_UTIL_H
#define EVSIG_TEST_UTIL_H

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <ev.h>

/* "EINVAL" for EINVAL, "errno 4242" for what the C library has no name for. */
const char *tu_errname(int err);

/* Failure reports for the macros below; they call cmocka's _fail(). */
void tu_check_fails_with(long ret, int err, int expected, const char *expr,
                         const char *file, int line);
void tu_check_null_with_errno(const void *ret, int err, int expected,
                              const char *expr, const char *file, int line);
void tu_report_failure(long ret, int err, const char *expr, const char *file,
                       int line);

/*
 * assert_fails_with(expr, err) - @expr (int or pid_t) returns -1 with errno
 * @err. errno is cleared first, so a failure that forgets to set it shows
 * up as "got 0".
 */
#define assert_fails_with(expr, err) do {                                  \
        errno = 0;                                                         \
        long tu_ret_ = (long)(expr);                                       \
        int tu_err_ = errno;                                               \
        tu_check_fails_with(tu_ret_, tu_err_, (err), #expr,                \
                            __FILE__, __LINE__);                           \
    } while (0)

/* assert_null_with_errno(expr, err) - the pointer-returning twin. */
#define assert_null_with_errno(expr, err) do {                             \
        errno = 0;                                                         \
        const void *tu_ret_ = (expr);                                      \
        int tu_err_ = errno;                                               \
        tu_check_null_with_errno(tu_ret_, tu_err_, (err), #expr,           \
                                 __FILE__, __LINE__);                      \
    } while (0)

/*
 * assert_succeeds(expr) - @expr (int or pid_t) does not return -1; on
 * failure the errno name is printed. Evaluates to the value, so
 *     pid_t pid = assert_succeeds(evsig_fork_and_watch(loop, cb, &n, 0));
 */
#define assert_succeeds(expr) __extension__ ({                             \
        __typeof__(expr) tu_val_ = (expr);                                 \
        if (tu_val_ == -1)                                                 \
            tu_report_failure((long)tu_val_, errno, #expr,                 \
                              __FILE__, __LINE__);                         \
        tu_val_;                                                           \
    })

/*
 * Fixtures, for cmocka_unit_test_setup_teardown() or as group fixtures of
 * cmocka_run_group_tests() (both at once works too: they nest).
 *
 * tu_setup() first makes sure libev's default loop exists: like stdio it is
 * process-wide infrastructure evsig_reset() cannot take back (an epoll fd,
 * an eventfd, libev's SIGCHLD handler), and a test that merely uses it must
 * not be reported as leaking. Tests of behaviour before the default loop
 * exists fork. Then it records the calling thread's signal mask, the
 * sigaction() of every valid signal, the open fds, and fails if a child
 * exists. *state is left alone.
 *
 * tu_teardown() calls evsig_reset() and reports, one line each, every
 * difference from the snapshot: signal mask, disposition (handler, flags,
 * mask), fds opened/closed/replaced, and children left over, which it kills
 * and reaps. Returns -1 (the test fails) if anything leaked.
 */
int tu_setup(void **state);
int tu_teardown(void **state);

/*
 * Checks of a call that must change nothing: tu_snapshot() records the
 * process as tu_setup() does, but reaps nothing (children the test made
 * stay); tu_unchanged() takes the innermost snapshot back and reports, as
 * tu_teardown() does, every difference in signal mask, pending signals,
 * dispositions and fds -- without evsig_reset() and without reaping.
 * Returns -1 if anything changed. tu_forget_snapshot() takes it back
 * unchecked (the call succeeded and was meant to change things).
 */
int tu_snapshot(void);
int tu_unchanged(void);
int tu_forget_snapshot(void);

/* ev_loop_new(EVFLAG_NOENV), asserted non-NULL. ev_loop_destroy() it. */
struct ev_loop *tu_new_loop(void);
/* libev's default loop (tu_setup() already created it). */
struct ev_loop *tu_default_loop(void);

/*
 * A cap for a wait on the loop: an active, referenced ev_timer, so that
 * ev_run(loop, EVRUN_ONCE) blocks until either something happens or it
 * expires. Armed after ev_now_update(): libev timers count from the cached
 * time, which may be stale after a slow test step.
 */
struct tu_deadline {
    ev_timer        timer;
    struct ev_loop *loop;
    bool            expired;
};

void tu_deadline_start(struct tu_deadline *d, struct ev_loop *loop,
                       double timeout);
void tu_deadline_stop(struct tu_deadline *d);

/*
 * A timer that breaks a loop which should have returned by itself, after
 * @after seconds (then @fired is set). It holds no reference, so it does not
 * keep the loop alive either: tests of ev_run()'s keep-alive rules use it.
 */
struct tu_guard {
    ev_timer        timer;
    struct ev_loop *loop;
    bool            fired;
};

void tu_guard_start(struct tu_guard *g, struct ev_loop *loop, double after);
void tu_guard_stop(struct tu_guard *g);

/* Run a few non-blocking iterations: whatever is caught gets dispatched. */
void tu_spin(struct ev_loop *loop);

/* Whether ev_run(@loop, 0) returns by itself within @cap seconds, i.e.
 * nothing holds a reference (a tu_guard ends it otherwise). No cmocka:
 * usable in forked children. */
bool tu_ev_run_returns(struct ev_loop *loop, double cap);

/*
 * Run @loop one iteration at a time until @done(@arg) is true, for at most
 * @timeout seconds. Returns whether it became true; the timer is stopped on
 * return. Never sleep to synchronise: use this.
 */
bool tu_run_until(struct ev_loop *loop, bool (*done)(void *arg), void *arg,
                  double timeout);

/* The same with an expression: assert_true(TU_RUN_UNTIL(loop, n == 2, 5)). */
#define TU_RUN_UNTIL(loop_, cond, timeout) __extension__ ({                \
        struct tu_deadline tu_dl_;                                         \
        bool tu_ok_;                                                       \
        tu_deadline_start(&tu_dl_, (loop_), (timeout));                    \
        while (!(tu_ok_ = (cond)) && !tu_dl_.expired)                      \
            ev_run(tu_dl_.loop, EVRUN_ONCE);                               \
        tu_deadline_stop(&tu_dl_);                                         \
        tu_ok_;                                                            \
    })

/*
 * Fork helpers. tu_fork() runs @fn(@arg) in a child that then _exit(0)s;
 * @fn reports failure by _exit(code) (TU_CHILD_CHECK does that) and must
 * not call cmocka. The child's SIGSEGV, SIGBUS, SIGILL, SIGFPE and SIGSYS
 * are reset to SIG_DFL first: cmocka's handlers there would longjmp into
 * the child's copy of the test runner. Returns the pid; asserts on failure.
 *
 * tu_wait() reaps @pid within @timeout seconds, SIGKILLing it after that;
 * returns the wait status, or -1 (ETIMEDOUT on timeout, else waitpid's
 * errno; ECHILD if libev's default loop already reaped it: reap children
 * evsig or libev watch through evsig instead).
 *
 * tu_assert_child_exit() asserts that @pid exited normally with @code,
 * tu_assert_child_killed() that signal @sig killed it.
 */
pid_t tu_fork(void (*fn)(void *arg), void *arg);
int tu_wait(pid_t pid, double timeout);
#define tu_assert_child_exit(pid, code, timeout) \
    tu_assert_child_exit_at((pid), (code), (timeout), __FILE__, __LINE__)
void tu_assert_child_exit_at(pid_t pid, int code, double timeout,
                             const char *file, int line);
#define tu_assert_child_killed(pid, sig, timeout) \
    tu_assert_child_killed_at((pid), (sig), (timeout), __FILE__, __LINE__)
void tu_assert_child_killed_at(pid_t pid, int sig, double timeout,
                               const char *file, int line);

/* "exited 3", "killed by SIGTERM", "killed by SIGSEGV (core dumped)". */
const char *tu_describe_status(int status, char *buf, size_t size);

/* The exit code TU_CHILD_CHECK uses. */
#define TU_CHILD_FAILED 99

/* In a forked child: if @cond is false, say where on stderr, _exit(99). */
#define TU_CHILD_CHECK(cond) do {                                          \
        if (!(cond))                                                       \
            tu_child_fail(#cond, __FILE__, __LINE__);                      \
    } while (0)

__attribute__((noreturn))
void tu_child_fail(const char *what, const char *file, int line);

/* Dispositions. sigaction() structures are compared field by field, never
 * with memcmp: glibc copies the kernel's 8-byte mask into a 128-byte
 * sigset_t it never clears. */
bool tu_same_sigset(const sigset_t *a, const sigset_t *b);
/* Handler, flags and mask equal. */
bool tu_same_sigaction(const struct sigaction *a, const struct sigaction *b);
/* sigaction(@sig, NULL, @sa), asserting success. */
void tu_read_sa(int sig, struct sigaction *sa);
/* Assert @sig's disposition is @want (handler, flags, mask, restorer),
 * saying what differs. */
#define tu_assert_same_sa(sig, want) \
    tu_assert_same_sa_at((sig), (want), __FILE__, __LINE__)
void tu_assert_same_sa_at(int sig, const struct sigaction *want,
                          const char *file, int line);
/* Install @sa exactly as sigaction() reported it, through the raw system
 * call (glibc's sigaction() would add SA_RESTORER). */
void tu_put_back_exact(int sig, const struct sigaction *sa);

/* Foreign handlers: what another library in the process would install.
 * tu_foreign_hits counts the calls of both; tu_foreign_code is the si_code
 * of tu_foreign_sigaction()'s last call. */
extern volatile sig_atomic_t tu_foreign_hits;
extern volatile sig_atomic_t tu_foreign_code;
void tu_foreign_handler(int sig);
void tu_foreign_sigaction(int sig, siginfo_t *si, void *uctx);
/* Install one for @sig, the way a program would: tu_foreign_sigaction if
 * @flags has SA_SIGINFO, else tu_foreign_handler, with @flags and an
 * unusual mask (SIGWINCH, SIGRTMIN+1, SIGRTMAX). Zeroes tu_foreign_hits
 * and returns what sigaction() reports in @now. */
void tu_install_foreign(int sig, int flags, struct sigaction *now);
/* Whether the kernel runs a SA_SIGINFO handler (evsig's or any) for @sig. */
bool tu_kernel_has_siginfo_handler(int sig);

/* Small helpers. */

/* sigqueue() @value to this process; 0 or -1/errno. */
int tu_sigqueue_self(int sig, int value);

/* A set of the listed signals, terminated by 0: tu_sigset(SIGUSR1, SIGUSR2, 0). */
sigset_t tu_sigset(int sig, ...);

/* Block (how = SIG_BLOCK) or unblock (SIG_UNBLOCK) one signal in the
 * calling thread; asserts success. */
void tu_sigmask(int how, int sig);

/* A pipe, both ends non-blocking and close-on-exec; asserts success. */
void tu_pipe(int fds[2]);
/* The same, blocking. */
void tu_blocking_pipe(int fds[2]);
/* Wait up to @ms for one byte on @fd: 1 if read (into @byte unless NULL),
 * 0 on timeout, -1 on EOF or error. No cmocka: usable in forked children. */
int tu_read_byte_within(int fd, int ms, unsigned char *byte);
/* write() all of @buf, retrying after EINTR; gives up silently on an error
 * (no cmocka: usable in forked children). */
void tu_write_all(int fd, const void *buf, size_t len);

/* A measured figure in a test's output, "FIGURE name value", for reports. */
#define TU_FIGURE(name, fmt, ...) \
    print_message("FIGURE %s " fmt "\n", (name), __VA_ARGS__)

/* Children of this process: all of them, and those that are zombies
 * (scanned from /proc, nothing is reaped). */
int tu_count_children(void);
int tu_count_zombies(void);

/* This process's resident set size in KiB (VmRSS), -1 if unreadable. */
long tu_rss_kb(void);

/* Seconds on CLOCK_MONOTONIC. */
double tu_now(void);

#endif /* EVSIG_TEST_UTIL_H */

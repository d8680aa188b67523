/* SPDX-License-Identifier: MIT */
/*
 * test-util.c - fixtures shared by every evsig test executable.
 *
 * Owns the state snapshots of tu_setup()/tu_teardown() (a small stack, so
 * group and per-test fixtures nest). Everything runs on the test's main
 * thread, in the parent; only tu_child_fail() runs in forked children.
 * The leak check reads the kernel (sigaction(), /proc) rather than asking
 * evsig, so that a bug in evsig cannot hide its own leaks.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <poll.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cmocka.h>

#include "evsig.h"
#include "test-util.h"

#ifndef SA_RESTORER
#define SA_RESTORER 0x04000000   /* glibc sets it; the kernel ABI defines it */
#endif

#define MAX_FDS    512
#define MAX_DEPTH  4     /* nested fixtures: group + per test, with room */
#define MAX_KIDS   256

struct fd_entry {
    int  fd;
    char target[112];
};

struct snapshot {
    sigset_t         mask;
    sigset_t         pending;
    struct sigaction sa[NSIG];
    int              nfds;
    struct fd_entry  fds[MAX_FDS];
};

static struct {
    struct snapshot saved[MAX_DEPTH];
    struct snapshot now;             /* scratch for tu_teardown() */
    int             depth;
} tu;

/* errno names ------------------------------------------------------------ */

const char *tu_errname(int err)
{
    static _Thread_local char buf[32];
    const char *name;

    if (err == 0)
        return "0 (no error)";
    name = strerrorname_np(err);
    if (name)
        return name;
    snprintf(buf, sizeof(buf), "errno %d", err);
    return buf;
}

void tu_check_fails_with(long ret, int err, int expected, const char *expr,
                         const char *file, int line)
{
    if (ret == -1 && err == expected)
        return;
    if (ret != -1)
        print_error("%s\n    returned %ld, expected -1 with %s\n", expr, ret,
                    tu_errname(expected));
    else
        print_error("%s\n    failed as expected, but errno: expected %s, got %s\n",
                    expr, tu_errname(expected), tu_errname(err));
    _fail(file, line);
}

void tu_check_null_with_errno(const void *ret, int err, int expected,
                              const char *expr, const char *file, int line)
{
    if (ret == NULL && err == expected)
        return;
    if (ret != NULL)
        print_error("%s\n    returned %p, expected NULL with %s\n", expr, ret,
                    tu_errname(expected));
    else
        print_error("%s\n    returned NULL, but errno: expected %s, got %s\n",
                    expr, tu_errname(expected), tu_errname(err));
    _fail(file, line);
}

void tu_report_failure(long ret, int err, const char *expr, const char *file,
                       int line)
{
    print_error("%s\n    returned %ld: %s (%s)\n", expr, ret, tu_errname(err),
                strerror(err));
    _fail(file, line);
}

/* Snapshots --------------------------------------------------------------- */

/* Valid as the C library sees it (glibc reserves 32 and 33), decided
 * without evsig so that a bug there cannot hide a leak. */
static bool valid_signal(int sig)
{
    sigset_t all;

    sigfillset(&all);
    return sigismember(&all, sig) == 1;
}

static const char *signame(int sig)
{
    static char buf[16];
    const char *name = evsig_signame(sig);

    if (name)
        return name;
    snprintf(buf, sizeof(buf), "signal %d", sig);
    return buf;
}

static int read_fds(struct snapshot *s)
{
    DIR *dir = opendir("/proc/self/fd");
    struct dirent *de;
    char path[64];

    if (!dir) {
        print_error("tu: cannot open /proc/self/fd: %s\n", strerror(errno));
        return -1;
    }
    s->nfds = 0;
    while ((de = readdir(dir))) {
        int fd = atoi(de->d_name);
        struct fd_entry *e;
        ssize_t n;

        if (de->d_name[0] == '.' || fd == dirfd(dir))
            continue;
        if (s->nfds == MAX_FDS) {
            print_error("tu: more than %d open fds\n", MAX_FDS);
            closedir(dir);
            return -1;
        }
        e = &s->fds[s->nfds++];
        e->fd = fd;
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        n = readlink(path, e->target, sizeof(e->target) - 1);
        e->target[n < 0 ? 0 : n] = '\0';
    }
    closedir(dir);
    return 0;
}

static int take_snapshot(struct snapshot *s)
{
    memset(s, 0, sizeof(*s));
    pthread_sigmask(SIG_SETMASK, NULL, &s->mask);
    sigpending(&s->pending);
    for (int sig = 1; sig < NSIG; sig++)
        if (valid_signal(sig))
            sigaction(sig, NULL, &s->sa[sig]);
    return read_fds(s);
}

/* " +SIGUSR1 -SIGINT": what @after has that @before has not, and back. */
static const char *set_diff(const sigset_t *before, const sigset_t *after,
                            char *buf, size_t size)
{
    size_t len = 0;

    buf[0] = '\0';
    for (int sig = 1; sig < NSIG && len < size; sig++) {
        int b = sigismember(before, sig) == 1, a = sigismember(after, sig) == 1;

        if (a != b)
            len += snprintf(buf + len, size - len, " %c%s", a ? '+' : '-',
                            signame(sig));
    }
    return buf;
}

bool tu_same_sigset(const sigset_t *a, const sigset_t *b)
{
    for (int sig = 1; sig < NSIG; sig++)
        if ((sigismember(a, sig) == 1) != (sigismember(b, sig) == 1))
            return false;
    return true;
}

static const char *handler_name(const struct sigaction *sa, char *buf,
                                size_t size)
{
    void *h = (void *)sa->sa_handler;
    Dl_info info;

    if (sa->sa_handler == SIG_DFL)
        return "SIG_DFL";
    if (sa->sa_handler == SIG_IGN)
        return "SIG_IGN";
    if (dladdr(h, &info) && info.dli_sname && info.dli_saddr == h)
        snprintf(buf, size, "%s()", info.dli_sname);
    else if (dladdr(h, &info) && info.dli_fname)
        snprintf(buf, size, "%p in %s", h, info.dli_fname);
    else
        snprintf(buf, size, "%p", h);
    return buf;
}

static const char *flag_names(int flags, char *buf, size_t size)
{
    static const struct { int flag; const char *name; } names[] = {
        { SA_NOCLDSTOP, "NOCLDSTOP" }, { SA_NOCLDWAIT, "NOCLDWAIT" },
        { SA_SIGINFO, "SIGINFO" },     { SA_ONSTACK, "ONSTACK" },
        { SA_RESTART, "RESTART" },     { SA_NODEFER, "NODEFER" },
        { (int)SA_RESETHAND, "RESETHAND" }, { SA_RESTORER, "RESTORER" },
    };
    size_t len = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (flags & names[i].flag) {
            len += snprintf(buf + len, size - len, "%s%s", len ? "|" : "",
                            names[i].name);
            flags &= ~names[i].flag;
        }
    }
    if (flags)
        snprintf(buf + len, size - len, "%s0x%x", len ? "|" : "",
                 (unsigned)flags);
    else if (!len)
        snprintf(buf, size, "0");
    return buf;
}

/* Print what differs between two dispositions of @sig; the count. */
static int diff_sigaction(int sig, const struct sigaction *b,
                          const struct sigaction *a)
{
    char x[160], y[160];
    int n = 0;

    if (b->sa_handler != a->sa_handler) {
        print_error("leak: %s: handler %s -> %s\n", signame(sig),
                    handler_name(b, x, sizeof(x)), handler_name(a, y, sizeof(y)));
        n++;
    }
    if (b->sa_flags != a->sa_flags) {
        /* glibc's sigaction() and signal() always add SA_RESTORER: a
         * disposition put back through them is not the one found. */
        bool restorer = (b->sa_flags ^ a->sa_flags) == SA_RESTORER;

        print_error("leak: %s: sa_flags %s -> %s%s\n", signame(sig),
                    flag_names(b->sa_flags, x, sizeof(x)),
                    flag_names(a->sa_flags, y, sizeof(y)),
                    restorer ? " (re-installed through glibc, not restored"
                               " exactly: that takes the raw rt_sigaction"
                               " syscall)" : "");
        n++;
    }
    if (!tu_same_sigset(&b->sa_mask, &a->sa_mask)) {
        print_error("leak: %s: sa_mask changed:%s\n", signame(sig),
                    set_diff(&b->sa_mask, &a->sa_mask, x, sizeof(x)));
        n++;
    }
    return n;
}

static int compare_dispositions(const struct snapshot *before,
                                const struct snapshot *after)
{
    int leaks = 0;

    for (int sig = 1; sig < NSIG; sig++)
        if (valid_signal(sig))
            leaks += diff_sigaction(sig, &before->sa[sig], &after->sa[sig]);
    return leaks;
}

bool tu_same_sigaction(const struct sigaction *a, const struct sigaction *b)
{
    return a->sa_handler == b->sa_handler && a->sa_flags == b->sa_flags &&
           tu_same_sigset(&a->sa_mask, &b->sa_mask);
}

void tu_read_sa(int sig, struct sigaction *sa)
{
    memset(sa, 0, sizeof(*sa));
    assert_int_equal(sigaction(sig, NULL, sa), 0);
}

volatile sig_atomic_t tu_foreign_hits;
volatile sig_atomic_t tu_foreign_code;

void tu_foreign_handler(int sig)
{
    (void)sig;
    tu_foreign_hits++;
}

void tu_foreign_sigaction(int sig, siginfo_t *si, void *uctx)
{
    (void)sig;
    (void)uctx;
    tu_foreign_hits++;
    tu_foreign_code = si->si_code;
}

void tu_install_foreign(int sig, int flags, struct sigaction *now)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    if (flags & SA_SIGINFO)
        sa.sa_sigaction = tu_foreign_sigaction;
    else
        sa.sa_handler = tu_foreign_handler;
    sa.sa_flags = flags;
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGWINCH);
    sigaddset(&sa.sa_mask, SIGRTMIN + 1);
    sigaddset(&sa.sa_mask, SIGRTMAX);
    assert_int_equal(sigaction(sig, &sa, NULL), 0);
    tu_foreign_hits = 0;
    tu_read_sa(sig, now);
}

bool tu_kernel_has_siginfo_handler(int sig)
{
    struct sigaction sa;

    tu_read_sa(sig, &sa);
    return (sa.sa_flags & SA_SIGINFO) && sa.sa_sigaction != NULL;
}

void tu_assert_same_sa_at(int sig, const struct sigaction *want,
                          const char *file, int line)
{
    struct sigaction now;

    tu_read_sa(sig, &now);
    if (diff_sigaction(sig, want, &now) ||
        (now.sa_flags & SA_RESTORER && now.sa_restorer != want->sa_restorer)) {
        print_error("%s:%d: %s is not the expected disposition\n", file,
                    line, signame(sig));
        _fail(file, line);
    }
}

/* The kernel's view of struct sigaction (x86-64, arm64). */
struct kernel_sigaction {
    void          *handler;
    unsigned long  flags;
    void          *restorer;
    unsigned long  mask[64 / (8 * sizeof(unsigned long))];
};

void tu_put_back_exact(int sig, const struct sigaction *sa)
{
    struct kernel_sigaction k;

    memset(&k, 0, sizeof(k));
    k.handler = (sa->sa_flags & SA_SIGINFO) ? (void *)sa->sa_sigaction
                                            : (void *)sa->sa_handler;
    k.flags = (unsigned long)sa->sa_flags;
    k.restorer = (void *)sa->sa_restorer;
    for (int s = 1; s <= 64 && s < NSIG; s++)
        if (sigismember(&sa->sa_mask, s) == 1)
            k.mask[(s - 1) / (8 * sizeof(unsigned long))] |=
                1ul << ((s - 1) % (8 * sizeof(unsigned long)));
    assert_int_equal(syscall(SYS_rt_sigaction, sig, &k, NULL, sizeof(k.mask)), 0);
}

static const struct fd_entry *find_fd(const struct snapshot *s, int fd)
{
    for (int i = 0; i < s->nfds; i++)
        if (s->fds[i].fd == fd)
            return &s->fds[i];
    return NULL;
}

static int compare_fds(const struct snapshot *before,
                       const struct snapshot *after)
{
    int leaks = 0;

    for (int i = 0; i < after->nfds; i++) {
        const struct fd_entry *a = &after->fds[i], *b = find_fd(before, a->fd);

        if (!b)
            print_error("leak: fd %d (%s) left open\n", a->fd, a->target);
        else if (strcmp(a->target, b->target) != 0)
            print_error("leak: fd %d now %s, was %s\n", a->fd, a->target,
                        b->target);
        else
            continue;
        leaks++;
    }
    for (int i = 0; i < before->nfds; i++) {
        const struct fd_entry *b = &before->fds[i];

        if (!find_fd(after, b->fd)) {
            print_error("leak: fd %d (%s) was closed\n", b->fd, b->target);
            leaks++;
        }
    }
    return leaks;
}

/* Children ---------------------------------------------------------------- */

/* Children of this process from /proc/<pid>/stat; reaps nothing. @states
 * gets each one's state letter ('Z' for a zombie). Returns the count. */
static int scan_children(pid_t *pids, char *states, int max)
{
    DIR *dir = opendir("/proc");
    struct dirent *de;
    pid_t self = getpid();
    int n = 0;

    if (!dir)
        return 0;
    while ((de = readdir(dir)) && n < max) {
        char path[64], buf[512], *p, state;
        int ppid, fd;
        ssize_t len;

        if (de->d_name[0] < '1' || de->d_name[0] > '9')
            continue;
        snprintf(path, sizeof(path), "/proc/%d/stat", atoi(de->d_name));
        if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
            continue;               /* gone meanwhile */
        len = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (len <= 0)
            continue;
        buf[len] = '\0';
        /* "pid (comm) S ppid ...": comm may hold spaces and parentheses. */
        if (!(p = strrchr(buf, ')')) || sscanf(p + 1, " %c %d", &state, &ppid) != 2)
            continue;
        if (ppid != self)
            continue;
        if (pids)
            pids[n] = atoi(de->d_name);
        if (states)
            states[n] = state;
        n++;
    }
    closedir(dir);
    return n;
}

int tu_count_children(void)
{
    return scan_children(NULL, NULL, MAX_KIDS);
}

int tu_count_zombies(void)
{
    pid_t pids[MAX_KIDS];
    char states[MAX_KIDS];
    int n = scan_children(pids, states, MAX_KIDS), zombies = 0;

    for (int i = 0; i < n; i++)
        zombies += states[i] == 'Z';
    return zombies;
}

/* Report, kill and reap every child left; returns how many there were. */
static int reap_leftovers(const char *when)
{
    pid_t pids[MAX_KIDS];
    char states[MAX_KIDS];
    int n = scan_children(pids, states, MAX_KIDS), left = n;
    pid_t pid;

    for (int i = 0; i < n; i++) {
        print_error("leak: %s: child %d left %s\n", when, (int)pids[i],
                    states[i] == 'Z' ? "unreaped (zombie)" : "running");
        kill(pids[i], SIGKILL);
    }
    for (int i = 0; i < n; i++)
        tu_wait(pids[i], 5.0);
    /* The contract's own test: nothing left for waitpid(-1). Anything the
     * scan missed is reaped here (a pid) or reported (0: still running). */
    while ((pid = waitpid(-1, NULL, WNOHANG)) != 0) {
        if (pid < 0) {
            if (errno == EINTR)
                continue;
            if (errno != ECHILD)
                print_error("leak: %s: waitpid(-1): %s\n", when,
                            tu_errname(errno));
            return left;
        }
        print_error("leak: %s: child %d left, reaped\n", when, (int)pid);
        left++;
    }
    print_error("leak: %s: a child is still running\n", when);
    return left + 1;
}

/* Fixtures ---------------------------------------------------------------- */

int tu_setup(void **state)
{
    (void)state;
    if (tu.depth == MAX_DEPTH) {
        print_error("tu_setup: fixtures nested more than %d deep\n", MAX_DEPTH);
        return -1;
    }
    if (!ev_default_loop(EVFLAG_NOENV)) {
        print_error("tu_setup: cannot create libev's default loop\n");
        return -1;
    }
    if (reap_leftovers("before the test") > 0)
        return -1;
    if (take_snapshot(&tu.saved[tu.depth]) < 0)
        return -1;
    tu.depth++;
    return 0;
}

/* Differences between @before and the process now; -1 if any. */
static int compare_now(const struct snapshot *before)
{
    struct snapshot *now = &tu.now;
    char buf[512];
    int leaks = 0;

    if (take_snapshot(now) < 0)
        return -1;
    if (!tu_same_sigset(&before->mask, &now->mask)) {
        print_error("leak: signal mask changed (+ now blocked, - now unblocked):%s\n",
                    set_diff(&before->mask, &now->mask, buf, sizeof(buf)));
        leaks++;
    }
    if (!tu_same_sigset(&before->pending, &now->pending)) {
        print_error("leak: pending signals changed:%s\n",
                    set_diff(&before->pending, &now->pending, buf, sizeof(buf)));
        leaks++;
    }
    leaks += compare_dispositions(before, now);
    leaks += compare_fds(before, now);
    return leaks ? -1 : 0;
}

int tu_snapshot(void)
{
    if (tu.depth == MAX_DEPTH) {
        print_error("tu_snapshot: snapshots nested more than %d deep\n",
                    MAX_DEPTH);
        return -1;
    }
    if (take_snapshot(&tu.saved[tu.depth]) < 0)
        return -1;
    tu.depth++;
    return 0;
}

int tu_unchanged(void)
{
    if (tu.depth == 0) {
        print_error("tu_unchanged: no tu_setup() to match\n");
        return -1;
    }
    return compare_now(&tu.saved[--tu.depth]);
}

int tu_forget_snapshot(void)
{
    if (tu.depth == 0) {
        print_error("tu_forget_snapshot: no tu_setup() to match\n");
        return -1;
    }
    tu.depth--;
    return 0;
}

int tu_teardown(void **state)
{
    const struct snapshot *before;
    int leaks = 0;

    (void)state;
    if (tu.depth == 0) {
        print_error("tu_teardown: no tu_setup() to match\n");
        return -1;
    }
    before = &tu.saved[--tu.depth];
    evsig_reset();
    leaks += reap_leftovers("after the test");
    if (compare_now(before) < 0)
        leaks++;
    return leaks ? -1 : 0;
}

/* Loops ------------------------------------------------------------------- */

struct ev_loop *tu_new_loop(void)
{
    struct ev_loop *loop = ev_loop_new(EVFLAG_NOENV);

    assert_non_null(loop);
    return loop;
}

struct ev_loop *tu_default_loop(void)
{
    struct ev_loop *loop = ev_default_loop(EVFLAG_NOENV);

    assert_non_null(loop);
    return loop;
}

static void deadline_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct tu_deadline *d = w->data;

    (void)loop;
    (void)revents;
    d->expired = true;
}

void tu_deadline_start(struct tu_deadline *d, struct ev_loop *loop,
                       double timeout)
{
    d->loop = loop;
    d->expired = false;
    ev_now_update(loop);
    ev_timer_init(&d->timer, deadline_cb, timeout, 0.);
    d->timer.data = d;
    ev_timer_start(loop, &d->timer);
}

void tu_deadline_stop(struct tu_deadline *d)
{
    ev_timer_stop(d->loop, &d->timer);
}

static void guard_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    struct tu_guard *g = t->data;
    (void)revents;

    ev_ref(loop);   /* the expired timer's stop dropped one more reference */
    g->fired = true;
    ev_break(loop, EVBREAK_ALL);
}

void tu_guard_start(struct tu_guard *g, struct ev_loop *loop, double after)
{
    g->loop = loop;
    g->fired = false;
    ev_now_update(loop);
    ev_timer_init(&g->timer, guard_cb, after, 0.);
    g->timer.data = g;
    ev_timer_start(loop, &g->timer);
    ev_unref(loop);
}

void tu_guard_stop(struct tu_guard *g)
{
    if (!g->fired) {
        ev_ref(g->loop);
        ev_timer_stop(g->loop, &g->timer);
    }
}

void tu_spin(struct ev_loop *loop)
{
    for (int i = 0; i < 4; i++)
        ev_run(loop, EVRUN_NOWAIT);
}

bool tu_ev_run_returns(struct ev_loop *loop, double cap)
{
    struct tu_guard g;

    tu_guard_start(&g, loop, cap);
    ev_run(loop, 0);
    tu_guard_stop(&g);
    return !g.fired;
}

bool tu_run_until(struct ev_loop *loop, bool (*done)(void *arg), void *arg,
                  double timeout)
{
    struct tu_deadline d;
    bool ok;

    tu_deadline_start(&d, loop, timeout);
    while (!(ok = done(arg)) && !d.expired)
        ev_run(loop, EVRUN_ONCE);
    tu_deadline_stop(&d);
    return ok;
}

/* Children ---------------------------------------------------------------- */

pid_t tu_fork(void (*fn)(void *arg), void *arg)
{
    static const int cmocka_signals[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE,
                                          SIGSYS };
    pid_t pid;

    fflush(NULL);   /* or buffered test output would be printed twice */
    pid = fork();
    if (pid < 0) {
        print_error("fork: %s\n", tu_errname(errno));
        fail();
    }
    if (pid == 0) {
        for (size_t i = 0; i < sizeof(cmocka_signals) / sizeof(int); i++)
            signal(cmocka_signals[i], SIG_DFL);
        fn(arg);
        _exit(0);
    }
    return pid;
}

double tu_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int tu_wait(pid_t pid, double timeout)
{
    /* Polling is fine here: this bounds a reap, it synchronises nothing. */
    const struct timespec tick = { 0, 1000 * 1000 };
    double end = tu_now() + timeout;
    int status;
    pid_t r;

    for (;;) {
        r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return status;
        if (r < 0 && errno != EINTR)
            return -1;
        if (tu_now() >= end)
            break;
        nanosleep(&tick, NULL);
    }
    kill(pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    errno = ETIMEDOUT;
    return -1;
}

const char *tu_describe_status(int status, char *buf, size_t size)
{
    if (WIFEXITED(status))
        snprintf(buf, size, "exited %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(buf, size, "killed by %s%s", signame(WTERMSIG(status)),
                 WCOREDUMP(status) ? " (core dumped)" : "");
    else
        snprintf(buf, size, "wait status 0x%x", (unsigned)status);
    return buf;
}

/* tu_wait(), failing the test at @file:@line if the child is not gone. */
static int wait_or_fail(pid_t pid, double timeout, const char *file, int line)
{
    int status = tu_wait(pid, timeout);

    if (status == -1) {
        if (errno == ETIMEDOUT)
            print_error("child %d did not exit within %gs (killed)\n",
                        (int)pid, timeout);
        else
            print_error("child %d: waitpid: %s\n", (int)pid,
                        tu_errname(errno));
        _fail(file, line);
    }
    return status;
}

void tu_assert_child_exit_at(pid_t pid, int code, double timeout,
                             const char *file, int line)
{
    int status = wait_or_fail(pid, timeout, file, line);
    char buf[64];

    if (!WIFEXITED(status) || WEXITSTATUS(status) != code) {
        print_error("child %d %s, expected exited %d%s\n", (int)pid,
                    tu_describe_status(status, buf, sizeof(buf)), code,
                    WIFEXITED(status) && WEXITSTATUS(status) == TU_CHILD_FAILED
                        ? " (a TU_CHILD_CHECK failed, see stderr)" : "");
        _fail(file, line);
    }
}

void tu_assert_child_killed_at(pid_t pid, int sig, double timeout,
                               const char *file, int line)
{
    int status = wait_or_fail(pid, timeout, file, line);
    char buf[64];

    if (!WIFSIGNALED(status) || WTERMSIG(status) != sig) {
        print_error("child %d %s, expected killed by %s\n", (int)pid,
                    tu_describe_status(status, buf, sizeof(buf)),
                    evsig_signame(sig));
        _fail(file, line);
    }
}

void tu_child_fail(const char *what, const char *file, int line)
{
    dprintf(STDERR_FILENO, "child %d: %s:%d: check failed: %s\n",
            (int)getpid(), file, line, what);
    _exit(TU_CHILD_FAILED);
}

/* Small helpers ----------------------------------------------------------- */

int tu_sigqueue_self(int sig, int value)
{
    return sigqueue(getpid(), sig, (union sigval){ .sival_int = value });
}

sigset_t tu_sigset(int sig, ...)
{
    sigset_t set;
    va_list ap;

    sigemptyset(&set);
    va_start(ap, sig);
    for (; sig != 0; sig = va_arg(ap, int))
        sigaddset(&set, sig);
    va_end(ap);
    return set;
}

void tu_sigmask(int how, int sig)
{
    sigset_t set = tu_sigset(sig, 0);

    assert_int_equal(pthread_sigmask(how, &set, NULL), 0);
}

void tu_pipe(int fds[2])
{
    assert_succeeds(pipe2(fds, O_NONBLOCK | O_CLOEXEC));
}

void tu_blocking_pipe(int fds[2])
{
    assert_succeeds(pipe2(fds, O_CLOEXEC));
}

int tu_read_byte_within(int fd, int ms, unsigned char *byte)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    unsigned char b;
    ssize_t n;
    int r;

    do
        r = poll(&p, 1, ms);
    while (r < 0 && errno == EINTR);
    if (r == 0)
        return 0;
    if (r < 0)
        return -1;
    do
        n = read(fd, &b, 1);
    while (n < 0 && errno == EINTR);
    if (n != 1)
        return n == 0 || errno != EAGAIN ? -1 : 0;
    if (byte)
        *byte = b;
    return 1;
}

void tu_write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;

    while (len) {
        ssize_t n = write(fd, p, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        p += n;
        len -= (size_t)n;
    }
}

long tu_rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "re");
    char line[128];
    long kb = -1;

    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

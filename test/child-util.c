/* SPDX-License-Identifier: MIT */
/*
 * child-util.c - helpers shared by the child test files (see
 * child-util.h). Runs on the test's main thread, in the parent, except
 * what child-util.h marks as usable in forked children. Owns the gate
 * table, the timer pool and the extra loops of the running test; the
 * fixture closes, stops and destroys them.
 */
#define _GNU_SOURCE   /* pipe2() */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
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
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "evsig.h"
#include "test-util.h"
#include "child-util.h"

/* --- gates: pipes a child blocks on until the parent closes them --------- */

static struct gate gates[16];
static size_t ngates;

struct gate *gate_new(void)
{
    int fds[2];

    assert_true(ngates < ARRAY_SIZE(gates));
    assert_succeeds(pipe2(fds, O_CLOEXEC));   /* blocking: children read() */
    gates[ngates] = (struct gate){ fds[0], fds[1] };
    return &gates[ngates++];
}

/* Let the child blocked on @g run on. */
void gate_open(struct gate *g)
{
    if (g->wr >= 0)
        close(g->wr);
    g->wr = -1;
}

void gates_close_all(void)
{
    for (size_t i = 0; i < ngates; i++) {
        if (gates[i].rd >= 0)
            close(gates[i].rd);
        if (gates[i].wr >= 0)
            close(gates[i].wr);
    }
    ngates = 0;
}

/*
 * First thing in every forked child: take back cmocka's fault handlers
 * (they would longjmp into the child's copy of the test runner), give
 * SIGTERM its default action, and close every gate end but @keep's read
 * end (NULL: keep none).
 */
void child_begin(const struct gate *keep)
{
    static const int faults[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGSYS,
                                  SIGTERM };

    for (size_t i = 0; i < ARRAY_SIZE(faults); i++)
        signal(faults[i], SIG_DFL);
    for (size_t i = 0; i < ngates; i++) {
        if (gates[i].wr >= 0)
            close(gates[i].wr);
        if (gates[i].rd >= 0 && (!keep || gates[i].rd != keep->rd))
            close(gates[i].rd);
    }
}

/* In a child: block until the parent opens @g. */
void child_wait_gate(const struct gate *g)
{
    char c;

    while (read(g->rd, &c, 1) < 0 && errno == EINTR)
        ;
}

/* evsig_fork_and_watch() a child that exits with @code, at once or, with
 * @g, once the parent opens that gate. Returns its pid, in the parent. */
pid_t watch_exiting(struct ev_loop *loop, evsig_child_cb cb, void *data,
                    int flags, const struct gate *g, int code)
{
    pid_t pid = assert_succeeds(evsig_fork_and_watch(loop, cb, data, flags));

    if (pid == 0) {
        child_begin(g);
        if (g)
            child_wait_gate(g);
        _exit(code);
    }
    return pid;
}

/* For tu_fork(): a raw fork() child that waits on a gate, then exits 0. */
void raw_wait_gate_main(void *arg)
{
    child_begin(arg);
    child_wait_gate(arg);
    _exit(0);
}

/* For tu_fork(): the same, but it gives up waiting after 1.5 s, so that a
 * parent stuck in a blocking waitpid() fails its test instead of hanging. */
void raw_wait_gate_a_while_main(void *arg)
{
    const struct gate *g = arg;
    struct pollfd pfd = { .fd = g->rd, .events = POLLIN };

    child_begin(g);
    while (poll(&pfd, 1, 1500) < 0 && errno == EINTR)
        ;
    _exit(0);
}

/* For tu_fork(): a raw fork() child that exits at once with (int)arg. */
void raw_exit_main(void *arg)
{
    _exit((int)(intptr_t)arg);
}

/* --- what the callbacks saw ---------------------------------------------- */

/* A global clock, so tests can check the order of different callbacks. */
int seq;

void rec_cb(struct ev_loop *loop, pid_t pid, int status, void *data)
{
    struct exit_rec *r = data;

    r->calls++;
    r->loop = loop;
    r->pid = pid;
    r->status = status;
    r->seq = ++seq;
}

/* What the SIGCHLD table handler saw. */
void chld_handler(struct ev_loop *loop, const evsig_info *info, void *data)
{
    struct chld_log *l = data;

    if ((size_t)l->calls < ARRAY_SIZE(l->info)) {
        l->info[l->calls] = *info;
        l->seq[l->calls] = ++seq;
        l->loop[l->calls] = loop;
    }
    l->calls++;
}

/* The log entry for @pid, or NULL; asserts it appears at most once. */
const evsig_info *chld_find(const struct chld_log *l, pid_t pid,
                            int *seq_out)
{
    const evsig_info *found = NULL;

    for (int i = 0; i < l->calls && (size_t)i < ARRAY_SIZE(l->info); i++) {
        if (l->info[i].pid == pid) {
            assert_null(found);   /* once per exit */
            found = &l->info[i];
            if (seq_out)
                *seq_out = l->seq[i];
        }
    }
    return found;
}

void count_cb(struct ev_loop *loop, const evsig_info *info, void *data)
{
    struct counter *c = data;

    (void)loop;
    c->calls++;
    c->last = *info;
}

void assert_exited(int status, int code)
{
    char buf[64];

    if (!WIFEXITED(status) || WEXITSTATUS(status) != code) {
        print_error("status: %s, expected exited %d%s\n",
                    tu_describe_status(status, buf, sizeof(buf)), code,
                    WIFEXITED(status) && WEXITSTATUS(status) == TU_CHILD_FAILED
                        ? " (a TU_CHILD_CHECK failed, see stderr)" : "");
        fail();
    }
}

void assert_killed_by(int status, int sig)
{
    char buf[64];

    if (!WIFSIGNALED(status) || WTERMSIG(status) != sig) {
        print_error("status: %s, expected killed by signal %d\n",
                    tu_describe_status(status, buf, sizeof(buf)), sig);
        fail();
    }
}

/* The kernel has already reaped @pid for somebody (libev): it is no longer
 * our child, not even a zombie. Nothing is reaped here. */
bool gone(pid_t pid)
{
    siginfo_t si;

    memset(&si, 0, sizeof(si));
    return waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0 &&
           errno == ECHILD;
}

/* Still running: neither exited nor reaped. */
bool running(pid_t pid)
{
    siginfo_t si;

    memset(&si, 0, sizeof(si));
    return waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
           si.si_pid == 0;
}

/* Block, without running the loop, until @pid has exited (a zombie). */
void wait_zombie(pid_t pid)
{
    siginfo_t si;
    int r;

    memset(&si, 0, sizeof(si));
    while ((r = waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT)) < 0 &&
           errno == EINTR)
        ;
    assert_int_equal(r, 0);
    assert_int_equal(si.si_pid, pid);
}
/* Exited, not reaped. */
bool zombie(pid_t pid)
{
    siginfo_t si;

    memset(&si, 0, sizeof(si));
    return waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
           si.si_pid == pid;
}

int chld_count(const struct chld_log *l, pid_t pid)
{
    int n = 0;

    for (int i = 0; i < l->calls && (size_t)i < ARRAY_SIZE(l->info); i++)
        n += l->info[i].pid == pid;
    return n;
}

/* Fork a raw child that waits on @g, with pid @want if the kernel lets us
 * choose (ns_last_pid, root only). Returns its pid, whatever it is. */
pid_t fork_at_pid(pid_t want, struct gate *g)
{
    char buf[32];
    int fd, len;

    fd = open("/proc/sys/kernel/ns_last_pid", O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
        len = snprintf(buf, sizeof(buf), "%d", (int)want - 1);
        /* If not allowed, the fork gets whatever pid comes. */
        (void)!write(fd, buf, (size_t)len);
        close(fd);
    }
    return tu_fork(raw_wait_gate_main, g);
}

/* --- fds ----------------------------------------------------------------- */

int count_pidfds(void)
{
    DIR *dir = opendir("/proc/self/fdinfo");
    struct dirent *de;
    int n = 0;

    if (!dir)
        return -1;
    while ((de = readdir(dir))) {
        char line[128];
        FILE *f;
        int fd;

        if (de->d_name[0] < '0' || de->d_name[0] > '9')
            continue;
        fd = openat(dirfd(dir), de->d_name, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;           /* closed meanwhile, or the dir's own fd */
        if (!(f = fdopen(fd, "re"))) {
            close(fd);
            continue;
        }
        while (fgets(line, sizeof(line), f))
            if (strncmp(line, "Pid:", 4) == 0) {
                n++;
                break;
            }
        fclose(f);
    }
    closedir(dir);
    return n;
}

bool fd_is_open(int fd)
{
    return fcntl(fd, F_GETFD) >= 0 || errno != EBADF;
}


/* --- timers, from a static pool (a failed assertion leaves the test by
 *     longjmp(); the fixture stops what is still running) ---------------- */

static struct shot shots[8];

static void shot_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    struct shot *s = (struct shot *)t;

    (void)loop;
    (void)revents;
    s->fired++;
    if (s->gate)
        gate_open(s->gate);
}

struct shot *shot_start(struct ev_loop *loop, double after, double repeat,
                        struct gate *g)
{
    for (size_t i = 0; i < ARRAY_SIZE(shots); i++) {
        struct shot *s = &shots[i];

        if (!s->in_use) {
            memset(s, 0, sizeof(*s));
            s->in_use = true;
            s->loop = loop;
            s->gate = g;
            ev_now_update(loop);
            ev_timer_init(&s->timer, shot_cb, after, repeat);
            ev_timer_start(loop, &s->timer);
            return s;
        }
    }
    fail_msg("shot pool exhausted");
    return NULL;
}

void shot_stop(struct shot *s)
{
    ev_timer_stop(s->loop, &s->timer);
    s->in_use = false;
}

/* A watchdog that does not keep ev_run() alive: it ends a run that should
 * have returned by itself. */
struct watchdog {
    ev_timer timer;
    bool     fired;
};

static void watchdog_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)revents;
    ((struct watchdog *)t)->fired = true;
    ev_break(loop, EVBREAK_ALL);
}

static void watchdog_start(struct watchdog *w, struct ev_loop *loop,
                           double after)
{
    w->fired = false;
    ev_now_update(loop);
    ev_timer_init(&w->timer, watchdog_cb, after, 0.);
    ev_timer_start(loop, &w->timer);
    ev_unref(loop);
}

static void watchdog_stop(struct watchdog *w, struct ev_loop *loop)
{
    if (ev_is_active(&w->timer)) {
        ev_ref(loop);
        ev_timer_stop(loop, &w->timer);
    }
}

/* ev_run(loop, 0), bounded: returns the seconds it took, or -1 if the
 * watchdog had to end it after @cap seconds. */
double run_bounded(struct ev_loop *loop, double cap)
{
    struct watchdog wd;
    double t0 = ev_time();

    watchdog_start(&wd, loop, cap);
    ev_run(loop, 0);
    watchdog_stop(&wd, loop);
    return wd.fired ? -1. : ev_time() - t0;
}

/* --- fixtures ------------------------------------------------------------ */

#define MAX_LOOPS  4
#define MAX_DEFERS 8

static struct ev_loop *loops[MAX_LOOPS];
static size_t nloops;
struct ev_loop *other_loop;

static struct {
    void (*fn)(void *arg);
    void *arg;
} defers[MAX_DEFERS];
static size_t ndefers;

static sigset_t setup_mask;

void child_defer(void (*fn)(void *arg), void *arg)
{
    assert_true(ndefers < MAX_DEFERS);
    defers[ndefers].fn = fn;
    defers[ndefers].arg = arg;
    ndefers++;
}

struct ev_loop *child_new_loop(void)
{
    struct ev_loop *loop;

    assert_true(nloops < MAX_LOOPS);
    loop = tu_new_loop();
    loops[nloops++] = loop;
    if (!other_loop)
        other_loop = loop;
    return loop;
}

int child_backend(void)
{
    int b = evsig_child_backend();

    if (b != EVSIG_CHILD_PIDFD && b != EVSIG_CHILD_LIBEV)
        fail_msg("evsig_child_backend() = %d (%s), expected PIDFD or LIBEV",
                 b, b < 0 ? tu_errname(errno) : "no such backend");
    return b;
}

int child_setup(void **state)
{
    seq = 0;
    ngates = 0;
    nloops = 0;
    ndefers = 0;
    other_loop = NULL;
    pthread_sigmask(SIG_SETMASK, NULL, &setup_mask);
    if (tu_setup(state) < 0)
        return -1;
    /* libev's own SIGCHLD handler is back after the last test's reset; a
     * SIGCHLD it caught since (a leftover reaped by the last teardown)
     * would feed its reaper, which takes every exited child when the
     * default loop next runs (DESIGN.md §3.3, under either backend).
     * Let it do so now, before this test has children. */
    tu_spin(tu_default_loop());
    return 0;
}

int child_teardown(void **state)
{
    int r;

    for (size_t i = 0; i < ARRAY_SIZE(shots); i++) {
        if (shots[i].in_use)
            ev_timer_stop(shots[i].loop, &shots[i].timer);
        shots[i].in_use = false;
    }
    gates_close_all();
    while (ndefers) {
        ndefers--;
        defers[ndefers].fn(defers[ndefers].arg);
    }
    /* What evsig serves on a loop must be gone before ev_loop_destroy();
     * tu_teardown() resets again and then looks for leaks, once the
     * loops and their fds are gone. */
    if (nloops)
        evsig_reset();
    while (nloops)
        ev_loop_destroy(loops[--nloops]);
    other_loop = NULL;
    r = tu_teardown(state);
    /* tu_teardown() reported a changed mask; later tests get theirs back. */
    pthread_sigmask(SIG_SETMASK, &setup_mask, NULL);
    return r;
}

void child_pty_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct child_pty_reader *r = (struct child_pty_reader *)w;
    ssize_t n;

    (void)revents;
    n = read(w->fd, r->buf + r->len, sizeof(r->buf) - 1 - r->len);
    if (n > 0) {
        r->len += (size_t)n;
        r->buf[r->len] = '\0';
    } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        r->eof = true;
        ev_io_stop(loop, w);
    }
    if (r->len == sizeof(r->buf) - 1)
        ev_io_stop(loop, w);
}

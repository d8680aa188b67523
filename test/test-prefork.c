/* SPDX-License-Identifier: MIT */
/*
 * test-prefork.c - integration: drive the real evsig-prefork binary.
 *
 * Each test starts the example server (path in $EVSIG_PREFORK, set by
 * test/meson.build) in a process group of its own, with stdout and stderr
 * on pipes, and talks to it as a user would: TCP requests on 127.0.0.1,
 * signals, /proc to see its workers. Waits poll with deadlines (the pipes
 * with poll(), /proc between short poll() naps); nothing sleeps to
 * synchronise. Teardown SIGKILLs whatever is left of the group, so a
 * failing test leaves no server behind, then tu_teardown() checks for
 * leaked fds and children.
 *
 * The only forked child exec()s the server at once: no cmocka in it.
 */
#define _GNU_SOURCE   /* pipe2() */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test-util.h"

#define MAXP 64

/* A NULL-terminated argument list: ARGS("--workers", "2"). */
#define ARGS(...) ((const char *[]){ __VA_ARGS__, NULL })

struct stream {
    int    fd;
    char  *buf;
    size_t len, cap;
};

struct server {
    pid_t         pid;        /* also its process group */
    bool          reaped;
    int           status;
    int           port;
    int           client;     /* a test's own connection, closed by teardown */
    struct stream out, err;
};

/* ---- the server process ------------------------------------------------- */

static void stream_read(struct stream *st)
{
    for (;;) {
        ssize_t n;

        if (st->cap - st->len < 4096) {
            st->cap = st->cap ? st->cap * 2 : 65536;
            st->buf = realloc(st->buf, st->cap);
            assert_non_null(st->buf);
            st->buf[st->len] = '\0';      /* a string even if nothing comes */
        }
        n = read(st->fd, st->buf + st->len, st->cap - st->len - 1);
        if (n > 0) {
            st->len += (size_t)n;
            st->buf[st->len] = '\0';
            continue;
        }
        if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
            close(st->fd);            /* EOF: every writer is gone */
            st->fd = -1;
        }
        return;
    }
}

/* Read what the server wrote, waiting at most @ms for something. */
static void pump(struct server *s, int ms)
{
    struct pollfd p[2] = { { s->out.fd, POLLIN, 0 }, { s->err.fd, POLLIN, 0 } };

    if (poll(p, 2, ms) <= 0)
        return;
    if (p[0].revents)
        stream_read(&s->out);
    if (p[1].revents)
        stream_read(&s->err);
}

static double now(void)
{
    return tu_now();
}

/* Start evsig-prefork with @args (NULL-terminated), in its own process
 * group, stdout and stderr on non-blocking pipes. */
static void start(struct server *s, const char *const *args)
{
    const char *exe = getenv("EVSIG_PREFORK");
    const char *argv[32] = { exe };
    int out[2], err[2], argc = 1;

    if (!exe)
        fail_msg("EVSIG_PREFORK is not set: run through meson test");
    for (; *args; args++) {
        assert_true(argc < 31);
        argv[argc++] = *args;
    }

    assert_succeeds(pipe2(out, O_CLOEXEC));
    assert_succeeds(pipe2(err, O_CLOEXEC));
    s->pid = assert_succeeds(fork());
    if (s->pid == 0) {
        /* Async-signal-safe calls only, then exec: no cmocka here. */
        setpgid(0, 0);
        dup2(out[1], STDOUT_FILENO);
        dup2(err[1], STDERR_FILENO);
        execv(exe, (char *const *)argv);
        _exit(127);
    }
    setpgid(s->pid, s->pid);          /* both sides: no race with kill(-pgid) */
    close(out[1]);
    close(err[1]);
    s->out.fd = out[0];
    s->err.fd = err[0];
    fcntl(s->out.fd, F_SETFL, O_NONBLOCK);
    fcntl(s->err.fd, F_SETFL, O_NONBLOCK);
}

static bool has(const struct stream *st, const char *needle)
{
    return st->buf && strstr(st->buf, needle);
}

/* How many times @needle appears in @st so far. */
static int count_of(const struct stream *st, const char *needle)
{
    int n = 0;

    for (const char *p = st->buf; p && (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

/* Wait until @needle appears @n times in @st, for at most @timeout
 * seconds; false if it did not (or the server closed both pipes). */
static bool wait_for_count(struct server *s, struct stream *st,
                           const char *needle, int n, double timeout)
{
    double end = now() + timeout;

    while (count_of(st, needle) < n) {
        if (now() > end || (s->out.fd < 0 && s->err.fd < 0))
            return false;
        pump(s, 10);
    }
    return true;
}

static bool wait_for(struct server *s, struct stream *st, const char *needle,
                     double timeout)
{
    return wait_for_count(s, st, needle, 1, timeout);
}

/* start(), then wait for "listening on 127.0.0.1:PORT" and note PORT. */
static void start_listening(struct server *s, const char *const *args)
{
    const char *line;

    start(s, args);
    assert_true(wait_for(s, &s->out, "listening on 127.0.0.1:", 5));
    line = strstr(s->out.buf, "listening on 127.0.0.1:");
    s->port = atoi(line + strlen("listening on 127.0.0.1:"));
    assert_in_range(s->port, 1, 65535);
}

/* Reap the server within @timeout seconds; false if it did not exit. */
static bool wait_exit(struct server *s, double timeout)
{
    double end = now() + timeout;

    while (!s->reaped) {
        pid_t r = waitpid(s->pid, &s->status, WNOHANG);

        if (r == s->pid) {
            s->reaped = true;
            break;
        }
        assert_int_equal(r, 0);
        if (now() > end)
            return false;
        pump(s, 5);                    /* keeps its pipes drained, too */
    }
    while (s->out.fd >= 0 || s->err.fd >= 0) {
        if (now() > end + 2)
            break;
        pump(s, 10);
    }
    return true;
}

static void assert_exit_code(struct server *s, int code)
{
    char how[64];

    if (!WIFEXITED(s->status) || WEXITSTATUS(s->status) != code)
        fail_msg("evsig-prefork %s, expected exit %d\nstderr:\n%s",
                 tu_describe_status(s->status, how, sizeof(how)), code,
                 s->err.buf ? s->err.buf : "");
}

/* ---- /proc --------------------------------------------------------------- */

/* Processes whose parent (@by_group false) or process group (true) is @id. */
static int scan_proc(pid_t id, bool by_group, pid_t *pids, int max)
{
    DIR *dir = opendir("/proc");
    struct dirent *de;
    int n = 0;

    assert_non_null(dir);
    while ((de = readdir(dir)) != NULL) {
        char path[300], buf[512], *p;
        long ppid, pgrp;
        char state;
        FILE *f;

        if (!isdigit((unsigned char)de->d_name[0]))
            continue;
        snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
        f = fopen(path, "re");
        if (!f)
            continue;                  /* gone meanwhile */
        p = fgets(buf, sizeof(buf), f);
        fclose(f);
        if (!p || !(p = strrchr(buf, ')')) ||
            sscanf(p + 1, " %c %ld %ld", &state, &ppid, &pgrp) != 3)
            continue;
        if ((by_group ? pgrp : ppid) == id && state != 'Z' && n < max)
            pids[n++] = (pid_t)atol(de->d_name);
    }
    closedir(dir);
    return n;
}

static int workers(struct server *s, pid_t *pids)
{
    return scan_proc(s->pid, false, pids, MAXP);
}

static bool contains(const pid_t *pids, int n, pid_t pid)
{
    for (int i = 0; i < n; i++)
        if (pids[i] == pid)
            return true;
    return false;
}

/* Wait until the master has exactly @n workers, none of them in @old. */
static bool wait_workers(struct server *s, int n, const pid_t *old, int nold,
                         pid_t *pids, double timeout)
{
    double end = now() + timeout;

    for (;;) {
        int got = workers(s, pids);
        bool fresh = true;

        for (int i = 0; i < got; i++)
            fresh = fresh && !contains(old, nold, pids[i]);
        if (got == n && fresh)
            return true;
        if (now() > end)
            return false;
        pump(s, 5);
    }
}

static bool process_exists(pid_t pid)
{
    char path[32];

    snprintf(path, sizeof(path), "/proc/%ld", (long)pid);
    return access(path, F_OK) == 0;
}

/* ---- a client ------------------------------------------------------------ */

static int connect_to(int port)
{
    struct sockaddr_in addr = { .sin_family = AF_INET,
                                .sin_port = htons((uint16_t)port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    struct timeval tv = { 2, 0 };
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    assert_true(fd >= 0);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        int err = errno;

        close(fd);
        return -err;
    }
    return fd;
}

static int send_all(int fd, const char *text)
{
    size_t len = strlen(text);

    for (size_t off = 0; off < len;) {
        ssize_t n = send(fd, text + off, len - off, MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        off += (size_t)n;
    }
    return 0;
}

/* Read one line (without '\n'); 0, -errno, or -EPIPE at EOF. */
static int read_line(int fd, char *line, size_t size)
{
    size_t len = 0;

    while (len < size - 1) {
        ssize_t n = recv(fd, line + len, 1, 0);

        if (n < 0 && errno == EINTR)
            continue;                  /* SO_RCVTIMEO calls are not restarted */
        if (n < 0)
            return -errno;
        if (n == 0)
            return -EPIPE;
        if (line[len] == '\n')
            break;
        len++;
    }
    line[len] = '\0';
    return 0;
}

/* One request on a new connection: @text must come back as "<pid> @text".
 * Returns the answering pid, or -errno (ECONNREFUSED, EPIPE: no reply). */
static pid_t request(int port, const char *text)
{
    char line[256], want[256];
    int fd = connect_to(port), r;
    long pid;

    if (fd < 0)
        return fd;
    snprintf(want, sizeof(want), "%s\n", text);
    r = send_all(fd, want);
    if (r == 0)
        r = read_line(fd, line, sizeof(line));
    close(fd);
    if (r < 0)
        return r;
    pid = strtol(line, NULL, 10);
    snprintf(want, sizeof(want), "%ld %s", pid, text);
    if (pid <= 0 || strcmp(line, want) != 0)
        fail_msg("reply \"%s\" to \"%s\"", line, text);
    return (pid_t)pid;
}

static pid_t assert_request(int port, const char *text)
{
    pid_t pid = request(port, text);

    if (pid < 0)
        fail_msg("request \"%s\": %s", text, tu_errname((int)-pid));
    return pid;
}

/* Open s->client, have "hi" answered on it, then send @partial without a
 * newline: a request in flight. Returns the pid of the worker holding it. */
static pid_t hold_connection(struct server *s, const char *partial)
{
    char line[64];
    long pid;

    s->client = connect_to(s->port);
    assert_true(s->client >= 0);
    assert_int_equal(send_all(s->client, "hi\n"), 0);
    assert_int_equal(read_line(s->client, line, sizeof(line)), 0);
    pid = strtol(line, NULL, 10);
    assert_true(pid > 0);
    assert_int_equal(send_all(s->client, partial), 0);
    return (pid_t)pid;
}

/* Send @rest of the request in flight: worker @holder must answer
 * "<holder> @whole", then hang up (it is finishing). Closes s->client. */
static void finish_held(struct server *s, pid_t holder, const char *rest,
                        const char *whole)
{
    char line[256], want[256];

    assert_int_equal(send_all(s->client, rest), 0);
    assert_int_equal(read_line(s->client, line, sizeof(line)), 0);
    snprintf(want, sizeof(want), "%ld %s", (long)holder, whole);
    assert_string_equal(line, want);
    assert_int_equal(read_line(s->client, line, sizeof(line)), -EPIPE);
    close(s->client);
    s->client = -1;
}

/* ---- fixtures ------------------------------------------------------------ */

static int setup(void **state)
{
    struct server *s = calloc(1, sizeof(*s));

    if (!s)
        return -1;
    s->out.fd = s->err.fd = s->client = -1;
    *state = s;
    return tu_setup(state);
}

static int teardown(void **state)
{
    struct server *s = *state;

    if (s->pid > 0 && !s->reaped) {
        kill(-s->pid, SIGKILL);
        waitpid(s->pid, &s->status, 0);
    }
    if (s->pid > 0)
        kill(-s->pid, SIGKILL);        /* workers left by a failed test */
    if (s->client >= 0)
        close(s->client);
    if (s->out.fd >= 0)
        close(s->out.fd);
    if (s->err.fd >= 0)
        close(s->err.fd);
    free(s->out.buf);
    free(s->err.buf);
    free(s);
    return tu_teardown(state);
}

/* ---- tests --------------------------------------------------------------- */

static void test_lines_are_echoed_by_more_than_one_worker(void **state)
{
    struct server *s = *state;
    pid_t pids[MAXP], seen[2] = { 0, 0 };
    char text[32];
    int nseen = 0;

    start_listening(s, ARGS("--workers", "2"));
    assert_true(wait_workers(s, 2, NULL, 0, pids, 5));

    /* The kernel wakes every worker for a connection and one wins: not in
     * turns, but each gets a share. */
    for (int i = 0; i < 2000 && nseen < 2; i++) {
        pid_t pid;

        snprintf(text, sizeof(text), "request %d", i);
        pid = assert_request(s->port, text);
        assert_true(contains(pids, 2, pid));
        if (!contains(seen, nseen, pid))
            seen[nseen++] = pid;
    }
    assert_int_equal(nseen, 2);
}

static void test_one_connection_carries_many_lines(void **state)
{
    struct server *s = *state;
    char a[64], b[64], c[64], want[64];
    long pid;

    start_listening(s, ARGS(NULL));
    s->client = connect_to(s->port);
    assert_true(s->client >= 0);
    /* Two lines in one write, one CRLF line, one split over two writes. */
    assert_int_equal(send_all(s->client, "one\ntwo\r\nthr"), 0);
    assert_int_equal(read_line(s->client, a, sizeof(a)), 0);
    assert_int_equal(read_line(s->client, b, sizeof(b)), 0);
    assert_int_equal(send_all(s->client, "ee\n"), 0);
    assert_int_equal(read_line(s->client, c, sizeof(c)), 0);

    pid = strtol(a, NULL, 10);
    snprintf(want, sizeof(want), "%ld one", pid);
    assert_string_equal(a, want);
    snprintf(want, sizeof(want), "%ld two", pid);
    assert_string_equal(b, want);
    snprintf(want, sizeof(want), "%ld three", pid);
    assert_string_equal(c, want);
}

static void test_killed_worker_is_replaced_within_a_second(void **state)
{
    struct server *s = *state;
    pid_t before[MAXP], after[MAXP], victim, pid = 0;
    char logline[64];
    double t0, end;

    start_listening(s, ARGS("--workers", "2"));
    assert_true(wait_workers(s, 2, NULL, 0, before, 5));
    victim = assert_request(s->port, "hello");

    assert_succeeds(kill(victim, SIGKILL));
    t0 = now();
    end = t0 + 1.0;
    /* A new pid answers within a second (requests keep coming; a refused
     * or unanswered one fails the test). */
    while (now() < end) {
        pid = assert_request(s->port, "are you new?");
        assert_int_not_equal(pid, victim);
        if (!contains(before, 2, pid))
            break;
    }
    if (contains(before, 2, pid))
        fail_msg("no new worker answered within 1 s of the SIGKILL");
    assert_true(wait_workers(s, 2, &victim, 1, after, 1));
    assert_true(contains(after, 2, pid));

    snprintf(logline, sizeof(logline), "worker %ld killed by SIGKILL",
             (long)victim);
    assert_true(wait_for(s, &s->err, logline, 1));
    snprintf(logline, sizeof(logline), "replacing %ld", (long)victim);
    assert_true(wait_for(s, &s->err, logline, 1));
}

/*
 * The rolling restart's log, from SIGHUP on, must read: a new worker
 * started, then one old worker asked to finish, then that one gone, and
 * again: never two old workers finishing at once, never one asked before
 * its replacement started, never a new one forked while one is finishing
 * (at most --workers + 1 processes serve). Returns NULL, or what went wrong.
 */
static const char *check_one_at_a_time(const char *log, int n)
{
    const char *from = strstr(log, "SIGHUP from pid"), *why = NULL;
    int started = 0, asked = 0, gone = 0;
    long finishing = 0, pid;
    char *copy, *line, *save;

    if (!from)
        return "no SIGHUP in the log";
    copy = strdup(from);
    assert_non_null(copy);
    for (line = strtok_r(copy, "\n", &save); line && !why;
         line = strtok_r(NULL, "\n", &save)) {
        const char *msg = strstr(line, "] ");   /* after "[master 1234" */

        if (!strstr(line, " [master ") || !msg)
            continue;
        msg += 2;
        if (sscanf(msg, "rolling restart: worker %ld", &pid) == 1) {
            if (finishing)
                why = "a new worker was forked before the old one was gone";
            started++;
        } else if (sscanf(msg, "rolling restart: asking worker %ld", &pid) == 1) {
            if (finishing)
                why = "an old worker was asked to finish before the last one was gone";
            else if (started <= asked)
                why = "an old worker was asked to finish before its replacement started";
            finishing = pid;
            asked++;
        } else if (sscanf(msg, "worker %ld", &pid) == 1 && pid == finishing &&
                   (strstr(msg, " exited ") || strstr(msg, " killed by "))) {
            finishing = 0;
            gone++;
        } else if (strstr(msg, "rolling restart done") == msg) {
            break;
        }
    }
    free(copy);
    if (!why && (started != n || asked != n || gone != n))
        why = "not every old worker was replaced in turn";
    return why;
}

/*
 * SIGHUP: every worker is replaced, one at a time, while a client sends a
 * request every 10 ms on a new connection each: none is refused or lost.
 * A connection in flight (a partial line) keeps its old worker alive until
 * the line is complete and answered.
 */
static void test_sighup_restarts_every_worker_without_losing_a_request(void **state)
{
    struct server *s = *state;
    pid_t before[MAXP], after[MAXP], pid, holder;
    char text[32], want[64];
    int sent = 0, answered_during = 0, nafter;
    double end;

    start_listening(s, ARGS("--workers", "3"));
    assert_true(wait_workers(s, 3, NULL, 0, before, 5));

    holder = hold_connection(s, "in fl");
    assert_true(contains(before, 3, holder));

    assert_succeeds(kill(s->pid, SIGHUP));

    /* Until the old worker holding our connection is asked to finish. */
    snprintf(want, sizeof(want), "asking worker %ld to finish", (long)holder);
    end = now() + 5;
    while (!has(&s->err, want)) {
        assert_true(now() < end);
        snprintf(text, sizeof(text), "request %d", sent++);
        assert_request(s->port, text);
        pump(s, 10);
    }
    /* It is draining now; the restart waits for it, requests still work. */
    for (int i = 0; i < 10; i++) {
        snprintf(text, sizeof(text), "request %d", sent++);
        assert_request(s->port, text);
        answered_during++;
        pump(s, 10);
    }
    assert_false(has(&s->err, "rolling restart done"));
    assert_true(process_exists(holder));

    /* Complete the line: the old worker answers it, then hangs up. */
    finish_held(s, holder, "ight\n", "in flight");

    /* The restart goes on; keep the client going until it is done. */
    end = now() + 5;
    while (!has(&s->err, "rolling restart done")) {
        assert_true(now() < end);
        snprintf(text, sizeof(text), "request %d", sent++);
        assert_request(s->port, text);
        pump(s, 10);
    }
    nafter = workers(s, after);
    assert_int_equal(nafter, 3);
    for (int i = 0; i < nafter; i++)
        assert_false(contains(before, 3, after[i]));
    for (int i = 0; i < 20; i++) {
        pid = assert_request(s->port, "after");
        assert_true(contains(after, 3, pid));
    }
    assert_true(answered_during > 0);
    {
        const char *why = check_one_at_a_time(s->err.buf, 3);

        if (why)
            fail_msg("%s:\n%s", why, s->err.buf);
    }
    print_message("%d requests during the restart, none refused or lost\n",
                  sent);
}

static void test_sigterm_exits_0_within_grace_leaving_no_process(void **state)
{
    struct server *s = *state;
    pid_t pids[MAXP], left[MAXP], holder;
    double t0;

    start_listening(s, ARGS("--workers", "2", "--grace", "3"));
    assert_true(wait_workers(s, 2, NULL, 0, pids, 5));
    holder = hold_connection(s, "by");
    assert_true(contains(pids, 2, holder));

    t0 = now();
    assert_succeeds(kill(s->pid, SIGTERM));
    assert_true(wait_for(s, &s->err, "no longer accepting", 2));
    /* The worker holding our connection finishes it. */
    /* Nobody accepts any more: the master and both workers closed the
     * listening socket, so a new client is refused, not left queued. */
    assert_true(wait_for_count(s, &s->err, "no longer accepting", 2, 2));
    assert_int_equal(request(s->port, "too late"), -ECONNREFUSED);
    finish_held(s, holder, "e\n", "bye");

    assert_true(wait_exit(s, 3));
    assert_true(now() - t0 < 3);
    assert_exit_code(s, 0);
    for (int i = 0; i < 2; i++)
        assert_false(process_exists(pids[i]));
    assert_int_equal(scan_proc(s->pid, true, left, MAXP), 0);
    assert_true(has(&s->err, "all workers gone"));
    assert_int_equal(request(s->port, "anyone?"), -ECONNREFUSED);
}

static void test_sigint_shuts_down_and_quiet_hushes_the_log(void **state)
{
    struct server *s = *state;
    pid_t pids[MAXP], left[MAXP];

    start_listening(s, ARGS("--quiet", "--workers", "1"));
    assert_true(wait_workers(s, 1, NULL, 0, pids, 5));
    assert_request(s->port, "hello");
    assert_succeeds(kill(s->pid, SIGINT));
    assert_true(wait_exit(s, 5));
    assert_exit_code(s, 0);
    assert_false(process_exists(pids[0]));
    assert_int_equal(scan_proc(s->pid, true, left, MAXP), 0);
    assert_int_equal(s->err.len, 0);
}

static void test_worker_ignoring_sigterm_is_killed_after_grace(void **state)
{
    struct server *s = *state;
    pid_t pids[MAXP], left[MAXP];
    double t0, took;

    start_listening(s, ARGS("--workers", "2", "--grace", "0.5",
                    "--worker-ignores-term"));
    assert_true(wait_workers(s, 2, NULL, 0, pids, 5));
    assert_true(wait_for(s, &s->err, "ignoring SIGTERM", 2));
    t0 = now();
    assert_succeeds(kill(s->pid, SIGTERM));
    assert_true(wait_exit(s, 5));
    took = now() - t0;
    assert_exit_code(s, 0);
    if (took < 0.45 || took > 3)
        fail_msg("exited after %.2f s, grace 0.5 s", took);
    assert_true(has(&s->err, "did not finish within 0.5 s: SIGKILL"));
    for (int i = 0; i < 2; i++) {
        char logline[64];

        snprintf(logline, sizeof(logline), "worker %ld killed by SIGKILL",
                 (long)pids[i]);
        assert_true(has(&s->err, logline));
        assert_false(process_exists(pids[i]));
    }
    assert_int_equal(scan_proc(s->pid, true, left, MAXP), 0);
}

/* Seconds since midnight of a log line's timestamp
 * ("2026-11-22T10:00:00.123 [master 1234] ..."), or -1. */
static double log_time(const char *line)
{
    int y, mo, d, h, mi, sec, ms;

    if (sscanf(line, "%d-%d-%dT%d:%d:%d.%d", &y, &mo, &d, &h, &mi, &sec, &ms) != 7)
        return -1;
    return h * 3600. + mi * 60. + sec + ms / 1000.;
}

/*
 * Every "next fork in X s" line is followed by a "started" line about X
 * seconds later (at least 3/4 X), by the log's own clock: the test itself
 * may read the log late on a busy machine. Returns how many backoffs were checked; fails the test
 * on a fork that came early.
 */
static int check_backoffs(const char *log)
{
    char *copy = strdup(log), *line, *save;
    double due = -1, wanted = 0;
    int checked = 0;

    assert_non_null(copy);
    for (line = strtok_r(copy, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        const char *p = strstr(line, "next fork in ");
        double t = log_time(line);

        if (p && sscanf(p, "next fork in %lf s", &wanted) == 1) {
            due = t + wanted;
        } else if (due >= 0 && strstr(line, " started")) {
            /* A quarter of slack: the master logs the line a little after
             * it computed the delay, and a loaded machine may stretch that.
             * t < due - wanted: the clock passed midnight. */
            if (t < due - wanted / 4 && t >= due - wanted)
                fail_msg("forked %.3f s into a %.1f s backoff:\n%s",
                         t - (due - wanted), wanted, log);
            checked++;
            due = -1;
        }
    }
    free(copy);
    return checked;
}

static void test_crash_on_start_backs_off_instead_of_fork_bombing(void **state)
{
    struct server *s = *state;

    start_listening(s, ARGS("--workers", "1", "--crash-on-start"));
    /* Delays 0.1, 0.2, 0.4 s, each logged when it starts. */
    assert_true(wait_for(s, &s->err, "next fork in 0.4 s", 3));
    /* Without a backoff thousands of workers would have died by now. */
    assert_in_range(count_of(&s->err, "exited 3"), 3, 6);
    /* The fork that ends the 0.4 s backoff: 1 + 4 workers started. */
    assert_true(wait_for_count(s, &s->err, " started", 5, 3));
    assert_in_range(check_backoffs(s->err.buf), 3, 10);
    assert_succeeds(kill(s->pid, SIGTERM));
    assert_true(wait_exit(s, 5));
    assert_exit_code(s, 0);
}

/* New workers that cannot start never replace the old ones: the restart
 * waits for a new worker to accept before it retires an old one. */
static void test_restart_whose_workers_crash_keeps_the_old_ones(void **state)
{
    struct server *s = *state;
    pid_t before[MAXP], now_[MAXP];

    start_listening(s, ARGS("--workers", "2", "--crash-on-restart"));
    assert_true(wait_workers(s, 2, NULL, 0, before, 5));
    assert_succeeds(kill(s->pid, SIGHUP));
    assert_true(wait_for(s, &s->err, "backing off", 3));
    assert_false(has(&s->err, "asking worker"));
    for (int i = 0; i < 20; i++)
        assert_true(contains(before, 2, assert_request(s->port, "old?")));
    /* The two old workers, and perhaps a new one about to crash. */
    assert_in_range(workers(s, now_), 2, 3);
    assert_true(contains(now_, 3, before[0]) && contains(now_, 3, before[1]));
    assert_succeeds(kill(s->pid, SIGTERM));
    assert_true(wait_exit(s, 5));
    assert_exit_code(s, 0);
}

static void test_sigusr1_prints_a_status_table(void **state)
{
    struct server *s = *state;
    pid_t pids[MAXP];
    char row[32];

    start_listening(s, ARGS("--workers", "2"));
    assert_true(wait_workers(s, 2, NULL, 0, pids, 5));
    for (int i = 0; i < 3; i++)
        assert_request(s->port, "count me");
    assert_succeeds(kill(s->pid, SIGUSR1));
    assert_true(wait_for(s, &s->out, "REQUESTS", 2));
    assert_true(wait_for(s, &s->out, "3 requests served", 1));
    for (int i = 0; i < 2; i++) {
        snprintf(row, sizeof(row), "  %ld ", (long)pids[i]);
        assert_true(wait_for(s, &s->out, row, 1));
    }
    assert_succeeds(kill(s->pid, SIGTERM));
    assert_true(wait_exit(s, 5));
    assert_exit_code(s, 0);
}

static void check_usage_error(void **state, const char *a, const char *b)
{
    struct server *s = *state;

    start(s, ARGS(a, b));
    assert_true(wait_exit(s, 5));
    if (!WIFEXITED(s->status) || WEXITSTATUS(s->status) != 2 ||
        !has(&s->err, "Usage: evsig-prefork") || s->out.len != 0)
        fail_msg("%s %s: status 0x%x\nstdout: %s\nstderr: %s", a,
                 b ? b : "", (unsigned)s->status,
                 s->out.buf ? s->out.buf : "", s->err.buf ? s->err.buf : "");
    /* Next case, same fixture. */
    free(s->out.buf);
    free(s->err.buf);
    memset(s, 0, sizeof(*s));
    s->out.fd = s->err.fd = s->client = -1;
}

static void test_bad_options_are_usage_errors_exiting_2(void **state)
{
    check_usage_error(state, "--workers", "0");
    check_usage_error(state, "--workers", "65");
    check_usage_error(state, "--workers", "two");
    check_usage_error(state, "--port", "99999");
    check_usage_error(state, "--port", "-1");
    check_usage_error(state, "--grace", "-1");
    check_usage_error(state, "--grace", "nan");
    check_usage_error(state, "--bogus", NULL);
    check_usage_error(state, "-x", NULL);
    check_usage_error(state, "--workers", NULL);   /* missing value */
    check_usage_error(state, "stray", NULL);
}

static void test_help_prints_usage_on_stdout_and_exits_0(void **state)
{
    struct server *s = *state;

    start(s, ARGS("--help"));
    assert_true(wait_exit(s, 5));
    assert_exit_code(s, 0);
    assert_true(has(&s->out, "Usage: evsig-prefork"));
    assert_int_equal(s->err.len, 0);
}

static void test_demo_exits_0_in_under_10_seconds(void **state)
{
    struct server *s = *state;
    pid_t left[MAXP];
    double t0 = now();

    start(s, ARGS("--demo"));
    assert_true(wait_exit(s, 10));
    assert_true(now() - t0 < 10);
    assert_exit_code(s, 0);
    assert_true(has(&s->out, "Summary:"));
    assert_true(has(&s->err, "killed by SIGKILL"));
    assert_true(has(&s->err, "rolling restart done"));
    assert_int_equal(scan_proc(s->pid, true, left, MAXP), 0);
}

/* The master dies without shutting down (SIGKILL, a crash): its workers
 * get SIGTERM from the kernel (PR_SET_PDEATHSIG), finish and exit, so no
 * orphan keeps serving the port. */
static void test_workers_finish_when_the_master_is_killed(void **state)
{
    struct server *s = *state;
    pid_t pids[MAXP], left[MAXP];
    double end;

    start_listening(s, ARGS("--workers", "2"));
    assert_true(wait_workers(s, 2, NULL, 0, pids, 5));
    assert_succeeds(kill(s->pid, SIGKILL));
    assert_true(wait_exit(s, 5));
    assert_true(WIFSIGNALED(s->status) && WTERMSIG(s->status) == SIGKILL);

    end = now() + 5;
    while (scan_proc(s->pid, true, left, MAXP) > 0) {
        assert_true(now() < end);
        pump(s, 10);
    }
    for (int i = 0; i < 2; i++) {
        char logline[64];

        snprintf(logline, sizeof(logline), "[worker %ld] exiting", (long)pids[i]);
        assert_true(wait_for(s, &s->err, logline, 1));
    }
    assert_int_equal(request(s->port, "anyone?"), -ECONNREFUSED);
}

/* A port another socket listens on: a clear message and exit 1, no worker
 * forked. */
static void test_a_port_in_use_is_an_error_exiting_1(void **state)
{
    struct server *s = *state;
    struct sockaddr_in addr = { .sin_family = AF_INET,
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof(addr);
    char port[16];
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    assert_true(fd >= 0);
    assert_succeeds(bind(fd, (struct sockaddr *)&addr, sizeof(addr)));
    assert_succeeds(listen(fd, 1));
    assert_succeeds(getsockname(fd, (struct sockaddr *)&addr, &len));
    snprintf(port, sizeof(port), "%d", ntohs(addr.sin_port));

    start(s, ARGS("--port", port));
    assert_true(wait_exit(s, 5));
    close(fd);
    assert_exit_code(s, 1);
    assert_true(has(&s->err, "Address already in use"));
    assert_false(has(&s->err, "started"));
    assert_false(has(&s->out, "listening on"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
        T(test_lines_are_echoed_by_more_than_one_worker),
        T(test_one_connection_carries_many_lines),
        T(test_killed_worker_is_replaced_within_a_second),
        T(test_sighup_restarts_every_worker_without_losing_a_request),
        T(test_sigterm_exits_0_within_grace_leaving_no_process),
        T(test_sigint_shuts_down_and_quiet_hushes_the_log),
        T(test_worker_ignoring_sigterm_is_killed_after_grace),
        T(test_crash_on_start_backs_off_instead_of_fork_bombing),
        T(test_restart_whose_workers_crash_keeps_the_old_ones),
        T(test_sigusr1_prints_a_status_table),
        T(test_workers_finish_when_the_master_is_killed),
        T(test_a_port_in_use_is_an_error_exiting_1),
        T(test_bad_options_are_usage_errors_exiting_2),
        T(test_help_prints_usage_on_stdout_and_exits_0),
        T(test_demo_exits_0_in_under_10_seconds),
#undef T
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

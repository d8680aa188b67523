/* SPDX-License-Identifier: MIT */
/*
 * demo.c - --demo: a self-driving tour of the master, in the master itself.
 *
 * A small non-blocking client runs on the master's own loop (the workers
 * answer it: they are other processes). The tour is a list of steps; the
 * master calls demo_step() after every loop iteration, and each step waits
 * for the state it needs (a reply, a replaced worker, the end of the
 * rolling restart) before it does the next thing:
 *
 *   1. a request ("hello") and its reply;
 *   2. SIGKILL to the worker that answered; its replacement; a request;
 *   3. SIGHUP to the master: a rolling restart; a request to a new worker;
 *   4. SIGTERM to the master: graceful shutdown, then demo_finish() prints
 *      a summary.
 *
 * Narration goes to stdout; the master's and workers' log lines (stderr)
 * show what they do in between. A watchdog ends a stuck tour after 8 s.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "prefork.h"

#define WATCHDOG 8.0    /* seconds; the whole tour takes well under one */

enum step { START, HELLO, KILLED, AFTER_KILL, RESTARTED, AFTER_HUP, DONE };

struct demo {
    struct ev_loop *loop;
    enum step       step;
    bool            failed;
    /* the client: one request at a time */
    ev_io           io;
    ev_timer        watchdog;
    int             fd;
    bool            busy;        /* a request is under way */
    char            req[64];
    size_t          reqlen, sent;
    char            reply[128];
    size_t          replylen;
    /* what the steps remember */
    pid_t           killed;
    double          killed_at;
    pid_t           before[MAX_WORKERS];
    int             nbefore;
};

/* ---- the client --------------------------------------------------------- */

static void client_done(struct demo *d)
{
    ev_io_stop(d->loop, &d->io);
    if (d->fd >= 0)
        close(d->fd);
    d->fd = -1;
    d->busy = false;
}

static void fail(struct demo *d, const char *what)
{
    printf("demo: %s; stopping the tour\n", what);
    d->failed = true;
    d->step = DONE;
    client_done(d);
    ev_timer_stop(d->loop, &d->watchdog);
    kill(getpid(), SIGTERM);          /* the master shuts down as usual */
}

static void on_client(struct ev_loop *loop, ev_io *io, int revents)
{
    struct demo *d = io->data;
    ssize_t n;
    (void)revents;

    if (d->sent < d->reqlen) {        /* connected (or failed): send */
        int err = 0;
        socklen_t len = sizeof(err);

        getsockopt(d->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err) {
            errno = err;
            fail(d, strerror(errno));
            return;
        }
        n = write(d->fd, d->req + d->sent, d->reqlen - d->sent);
        if (n < 0 && errno != EAGAIN) {
            fail(d, strerror(errno));
            return;
        }
        if (n > 0)
            d->sent += (size_t)n;
        if (d->sent == d->reqlen) {   /* now wait for the reply */
            ev_io_stop(loop, io);
            ev_io_set(io, d->fd, EV_READ);
            ev_io_start(loop, io);
        }
        return;
    }

    n = read(d->fd, d->reply + d->replylen, sizeof(d->reply) - 1 - d->replylen);
    if (n < 0 && errno == EAGAIN)
        return;
    if (n <= 0) {
        fail(d, n == 0 ? "connection closed before the reply" : strerror(errno));
        return;
    }
    d->replylen += (size_t)n;
    d->reply[d->replylen] = '\0';
    if (strchr(d->reply, '\n')) {
        *strchr(d->reply, '\n') = '\0';
        client_done(d);               /* demo_step() takes it from here */
    } else if (d->replylen == sizeof(d->reply) - 1) {
        fail(d, "reply too long");
    }
}

/* Connect to the server and send @line; the reply lands in d->reply. */
static void ask(struct demo *d, int port, const char *line)
{
    struct sockaddr_in addr = { .sin_family = AF_INET,
                                .sin_port = htons((uint16_t)port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };

    printf("    client sends \"%s\"\n", line);
    d->reqlen = (size_t)snprintf(d->req, sizeof(d->req), "%s\n", line);
    d->sent = d->replylen = 0;
    d->reply[0] = '\0';
    d->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (d->fd < 0 || (connect(d->fd, (struct sockaddr *)&addr, sizeof(addr)) < 0
                      && errno != EINPROGRESS)) {
        fail(d, strerror(errno));
        return;
    }
    d->busy = true;
    ev_io_set(&d->io, d->fd, EV_WRITE);   /* writable: connected */
    ev_io_start(d->loop, &d->io);
}

/* Prints the reply; returns the pid of the worker that answered. */
static pid_t show_reply(struct demo *d)
{
    long pid = strtol(d->reply, NULL, 10);

    printf("    reply \"%s\": worker %ld answered\n", d->reply, pid);
    return (pid_t)pid;
}

static void print_pids(const pid_t *pids, int n)
{
    for (int i = 0; i < n; i++)
        printf("%s%ld", i ? ", " : "", (long)pids[i]);
}

/* ---- the tour ----------------------------------------------------------- */

static bool contains(const pid_t *pids, int n, pid_t pid)
{
    for (int i = 0; i < n; i++)
        if (pids[i] == pid)
            return true;
    return false;
}

static void demo_step(struct master *m, void *data)
{
    struct demo *d = data;
    pid_t pids[MAX_WORKERS];
    int n = master_workers(m, pids, MAX_WORKERS);
    int port = master_port(m);

    if (d->busy)
        return;                       /* wait for the reply */

    switch (d->step) {
    case START:
        printf("\nevsig-prefork demo: master %ld, workers ", (long)getpid());
        print_pids(pids, n);
        printf(", on 127.0.0.1:%d\n"
               "(lines with a timestamp are the log, on stderr)\n\n"
               "1. A client connects and sends a line; a worker echoes it.\n",
               port);
        ask(d, port, "hello");
        d->step = HELLO;
        break;

    case HELLO:
        d->killed = show_reply(d);
        memcpy(d->before, pids, (size_t)n * sizeof(pids[0]));
        d->nbefore = n;
        printf("\n2. SIGKILL to worker %ld, as if it crashed: the master logs "
               "the exit\n   and forks a replacement.\n", (long)d->killed);
        d->killed_at = ev_time();
        /* evsig_kill(): kill(), but never a pid evsig saw reaped (a pid
         * the kernel may have given to another process since). */
        if (evsig_kill(d->loop, d->killed, SIGKILL) < 0) {
            fail(d, strerror(errno));
            break;
        }
        d->step = KILLED;
        break;

    case KILLED:                      /* wait for the replacement */
        if (contains(pids, n, d->killed) || n < d->nbefore)
            break;
        printf("    worker %ld was replaced %.1f ms after the SIGKILL; "
               "workers now ", (long)d->killed,
               (ev_time() - d->killed_at) * 1e3);
        print_pids(pids, n);
        printf("\n");
        ask(d, port, "still there?");
        d->step = AFTER_KILL;
        break;

    case AFTER_KILL:
        show_reply(d);
        printf("\n3. SIGHUP to the master: a rolling restart. It forks a new "
               "worker, then\n   asks an old one to finish (SIGTERM) and "
               "waits for it, one at a time,\n   so some worker always "
               "accepts.\n");
        memcpy(d->before, pids, (size_t)n * sizeof(pids[0]));
        d->nbefore = n;
        kill(getpid(), SIGHUP);
        d->step = RESTARTED;
        break;

    case RESTARTED:                   /* wait until no old worker is left */
        if (master_restarting(m) || n < d->nbefore)
            break;
        for (int i = 0; i < n; i++)
            if (contains(d->before, d->nbefore, pids[i]))
                return;
        printf("    every worker was replaced: ");
        print_pids(d->before, d->nbefore);
        printf(" -> ");
        print_pids(pids, n);
        printf("\n");
        ask(d, port, "after the restart");
        d->step = AFTER_HUP;
        break;

    case AFTER_HUP:
        show_reply(d);
        printf("\n4. SIGTERM to the master: graceful shutdown. It closes its "
               "listening\n   socket, sends SIGTERM to the workers, waits for "
               "them with\n   evsig_waitpid_timeout() and would SIGKILL any "
               "left after the grace period.\n");
        ev_timer_stop(d->loop, &d->watchdog);
        kill(getpid(), SIGTERM);
        d->step = DONE;
        break;

    case DONE:
        break;
    }
}

static void on_watchdog(struct ev_loop *loop, ev_timer *t, int revents)
{
    struct demo *d = t->data;
    (void)loop;
    (void)revents;

    fail(d, "the tour is stuck");
}

/* In a new worker: the client and the watchdog are the master's. */
static void demo_in_worker(void *data)
{
    struct demo *d = data;

    ev_io_stop(d->loop, &d->io);
    ev_timer_stop(d->loop, &d->watchdog);
    if (d->fd >= 0)
        close(d->fd);
    free(d);
}

struct demo *demo_new(struct ev_loop *loop)
{
    struct demo *d = calloc(1, sizeof(*d));

    if (!d) {
        fputs("evsig-prefork: out of memory\n", stderr);
        return NULL;
    }
    d->loop = loop;
    d->fd = -1;
    ev_io_init(&d->io, on_client, -1, EV_WRITE);
    d->io.data = d;
    ev_timer_init(&d->watchdog, on_watchdog, WATCHDOG, 0.);
    d->watchdog.data = d;
    ev_timer_start(loop, &d->watchdog);
    return d;
}

void demo_hooks(struct demo *d, struct master_hooks *hooks)
{
    hooks->after_iteration = demo_step;
    hooks->in_worker = demo_in_worker;
    hooks->data = d;
}

static const char *plural(unsigned n)
{
    return n == 1 ? "" : "s";
}

int demo_finish(struct demo *d, struct master *m, int code)
{
    const struct master_stats *st = master_stats(m);
    char how[64];

    if (d->failed)
        return 1;
    printf("\nSummary: %lu request%s served; %u worker%s replaced (%u after a "
           "crash,\n%u by the rolling restart); exits: ",
           st->served, plural((unsigned)st->served),
           st->replaced_crashed + st->replaced_rolling,
           plural(st->replaced_crashed + st->replaced_rolling),
           st->replaced_crashed, st->replaced_rolling);
    for (unsigned i = 0; i < st->nexits; i++)
        printf("%s%u %s", i ? ", " : "", st->exits[i].count,
               describe_status(st->exits[i].status, how, sizeof(how)));
    if (st->other_exits)
        printf(", %u other", st->other_exits);
    /* master_run() returns 0 only once every worker has been reaped. */
    printf(code == 0 ? "; no worker left.\n" : "; shutdown failed.\n");
    return code == 0 ? 0 : 1;
}

void demo_free(struct demo *d)
{
    if (!d)
        return;
    ev_io_stop(d->loop, &d->io);
    ev_timer_stop(d->loop, &d->watchdog);
    if (d->fd >= 0)
        close(d->fd);
    free(d);
}

/* SPDX-License-Identifier: MIT */
/*
 * worker.c - one worker: accept on the inherited socket, echo lines.
 *
 * A worker is the child of the master's evsig_fork_and_watch(). It runs on
 * libev's default loop, which evsig_fork() already passed through
 * ev_loop_fork() (so its epoll set and signal pipe are the child's own),
 * and which master.c cleared of the master's watchers before calling
 * worker_run().
 *
 * Protocol: every line a client sends is answered with "<pid> <line>\n".
 * A client may send many lines on one connection.
 *
 * SIGTERM means "finish and go": stop accepting, close our copy of the
 * listening socket, answer what is in flight, then exit 0. A connection is
 * in flight until it has been answered at least once and holds no partial
 * line: a client that connected just before the SIGTERM (its connection was
 * accepted, its line not yet read) still gets its answer. An idle
 * connection is closed (a client that sends a line after that sees the
 * connection closed, as with any server's keep-alive timeout: it retries
 * on a new connection, which another worker accepts). The master SIGKILLs
 * a worker that takes longer than --grace.
 *
 * Everything here runs on the loop; the evsig handler for SIGTERM is an
 * ordinary callback (evsig's C handler only recorded the signal).
 */
#define _GNU_SOURCE   /* accept4(): Linux, also in the BSDs */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "prefork.h"

struct conn {
    struct worker *w;
    struct conn   *prev, *next;
    ev_io          io;
    int            fd;
    unsigned       answered;   /* lines answered on this connection */
    bool           eof;        /* the client has finished sending */
    bool           closing;    /* close as soon as the output is flushed */
    size_t         inlen;
    size_t         outoff, outlen;
    char           in[1024];   /* a line longer than this is refused */
    char           out[4096];
};

struct worker {
    struct ev_loop *loop;
    struct worker_config cfg;
    pid_t           pid;
    ev_io           accept_w;
    ev_timer        pause_w;   /* accept() paused after EMFILE and friends */
    struct conn    *conns;
    unsigned        nconns;
    uint32_t        served;
    bool            draining;  /* SIGTERM received */
};

void worker_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGHUP);
    sigaddset(set, SIGUSR1);
}

/* Tell the master our running total (the first report also says that we
 * accept connections). The pipe is non-blocking: if it is full the record
 * is dropped and the next one carries the total. EPIPE: the master is gone,
 * and PR_SET_PDEATHSIG below sends us SIGTERM. */
static void report(struct worker *w)
{
    struct report r = { w->pid, w->served };

    if (write(w->cfg.report_fd, &r, sizeof(r)) < 0 && errno != EAGAIN &&
        errno != EPIPE)
        log_event("report to the master: %s", strerror(errno));
}

/* Once draining, the loop ends when the last connection is done. */
static void maybe_done(struct worker *w)
{
    if (w->draining && w->nconns == 0)
        ev_break(w->loop, EVBREAK_ALL);
}

static void conn_close(struct conn *c)
{
    struct worker *w = c->w;

    ev_io_stop(w->loop, &c->io);
    close(c->fd);
    if (c->prev)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    w->nconns--;
    free(c);
    maybe_done(w);
}

/* Move complete lines from c->in to c->out as "<pid> <line>\n", as far as
 * c->out has room. */
static void answer_lines(struct conn *c)
{
    struct worker *w = c->w;

    while (!c->closing) {
        char *nl = memchr(c->in, '\n', c->inlen);
        size_t len, used;
        char prefix[24];
        bool too_long = false;
        int plen;

        if (nl) {
            len = (size_t)(nl - c->in);
            used = len + 1;
        } else if (c->eof && c->inlen > 0) {
            len = used = c->inlen;           /* a last line without '\n' */
        } else if (c->inlen == sizeof(c->in)) {
            static const char msg[] = "error: line too long";

            memcpy(c->in, msg, sizeof(msg) - 1);
            len = used = sizeof(msg) - 1;
            too_long = true;
        } else {
            return;                          /* wait for the rest */
        }
        if (len > 0 && c->in[len - 1] == '\r')
            len--;                           /* telnet and friends send CRLF */

        if (c->outoff > 0) {                 /* make room at the end */
            memmove(c->out, c->out + c->outoff, c->outlen - c->outoff);
            c->outlen -= c->outoff;
            c->outoff = 0;
        }
        plen = snprintf(prefix, sizeof(prefix), "%ld ", (long)w->pid);
        if (sizeof(c->out) - c->outlen < (size_t)plen + len + 1)
            return;                          /* retried once flushed */
        memcpy(c->out + c->outlen, prefix, (size_t)plen);
        memcpy(c->out + c->outlen + plen, c->in, len);
        c->outlen += (size_t)plen + len;
        c->out[c->outlen++] = '\n';

        memmove(c->in, c->in + used, c->inlen - used);
        c->inlen -= used;
        c->closing = too_long;               /* refused: answer and hang up */
        c->answered++;
        w->served++;
        report(w);
    }
}

/* Write what we can. Returns -1 if the connection is broken. */
static int flush(struct conn *c)
{
    while (c->outoff < c->outlen) {
        ssize_t n = write(c->fd, c->out + c->outoff, c->outlen - c->outoff);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return 0;
        if (n < 0)
            return -1;                       /* EPIPE, ECONNRESET: gone */
        c->outoff += (size_t)n;
    }
    c->outoff = c->outlen = 0;
    return 0;
}

/* Decide what the connection waits for next, or close it. */
static void conn_update(struct conn *c)
{
    struct worker *w = c->w;
    bool pending = c->outoff < c->outlen;
    int events = 0;

    if (!pending && (c->closing || c->eof ||
                     (w->draining && c->answered > 0 && c->inlen == 0))) {
        conn_close(c);
        return;
    }
    if (pending)
        events |= EV_WRITE;
    if (!c->eof && !c->closing && c->inlen < sizeof(c->in))
        events |= EV_READ;
    if (events != c->io.events) {
        ev_io_stop(w->loop, &c->io);
        ev_io_set(&c->io, c->fd, events);
        ev_io_start(w->loop, &c->io);
    }
}

/* Read what the client sent (if @readable), answer complete lines, write
 * the answers, and decide what to wait for next. */
static void conn_service(struct conn *c, bool readable)
{
    if (readable) {
        ssize_t n = read(c->fd, c->in + c->inlen, sizeof(c->in) - c->inlen);

        if (n > 0)
            c->inlen += (size_t)n;
        else if (n == 0)
            c->eof = true;
        else if (errno != EAGAIN && errno != EINTR) {
            conn_close(c);                   /* ECONNRESET */
            return;
        }
    }
    /* Answer, write, and answer again what did not fit before. */
    answer_lines(c);
    if (flush(c) < 0) {
        conn_close(c);
        return;
    }
    answer_lines(c);
    if (flush(c) < 0) {
        conn_close(c);
        return;
    }
    conn_update(c);
}

static void on_conn(struct ev_loop *loop, ev_io *io, int revents)
{
    (void)loop;
    conn_service(io->data, revents & EV_READ);
}

static void on_accept(struct ev_loop *loop, ev_io *io, int revents)
{
    struct worker *w = io->data;
    struct conn *c;
    int fd;
    (void)revents;

    /* One accept() per wakeup: every worker is woken for a new connection
     * and one of them wins; taking one at a time lets the others have a
     * share of a burst. The loser gets EAGAIN, which is normal. */
    fd = accept4(w->cfg.listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
        if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED)
            return;
        log_event("accept: %s; pausing for 100 ms", strerror(errno));
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
            errno == ENOMEM) {
            /* The socket stays readable: without a pause the loop spins. */
            ev_io_stop(loop, &w->accept_w);
            ev_timer_set(&w->pause_w, 0.1, 0.);
            ev_timer_start(loop, &w->pause_w);
        }
        return;
    }
    c = calloc(1, sizeof(*c));
    if (!c) {
        close(fd);
        return;
    }
    c->w = w;
    c->fd = fd;
    c->next = w->conns;
    if (w->conns)
        w->conns->prev = c;
    w->conns = c;
    w->nconns++;
    ev_io_init(&c->io, on_conn, fd, EV_READ);
    c->io.data = c;
    ev_io_start(loop, &c->io);
}

static void on_pause_over(struct ev_loop *loop, ev_timer *t, int revents)
{
    struct worker *w = t->data;
    (void)revents;

    if (!w->draining)
        ev_io_start(loop, &w->accept_w);
}

/*
 * SIGTERM, dispatched by evsig on our loop: an ordinary callback, so it
 * may close sockets, log and touch any state.
 */
static void on_term(struct ev_loop *loop, const evsig_info *info, void *data)
{
    struct worker *w = data;
    struct conn *c, *next;

    if (w->draining)
        return;
    w->draining = true;

    /* Our copy of the listening socket goes; the socket itself stays open
     * while the master or another worker holds it, so clients are queued
     * for the others, never refused. (Logged after the close: once every
     * process has said so, the port refuses connections.) */
    ev_io_stop(loop, &w->accept_w);
    ev_timer_stop(loop, &w->pause_w);
    close(w->cfg.listen_fd);
    w->cfg.listen_fd = -1;
    log_event("%s from pid %ld: no longer accepting; finishing %u connection%s",
              evsig_signame(info->signo), (long)info->pid, w->nconns,
              w->nconns == 1 ? "" : "s");

    /* Close the idle connections now. Read first: bytes the client sent
     * before the SIGTERM may wait in the socket, unread; they make the
     * connection busy, not idle (and closing a socket with unread data
     * would reset it). */
    for (c = w->conns; c; c = next) {
        next = c->next;
        conn_service(c, !c->eof && !c->closing && c->inlen < sizeof(c->in));
    }
    maybe_done(w);
}

static int install_handlers(struct worker *w)
{
    /* The terminal's Ctrl-C (SIGINT) and hangup (SIGHUP) go to the whole
     * process group. The master decides what they mean and tells us with
     * SIGTERM, so a worker ignores them, and SIGUSR1 (a status request for
     * the master) too. SIGPIPE: a client that went away is an EPIPE from
     * write(), not a reason to die. */
    static const int ignored[] = { SIGINT, SIGHUP, SIGUSR1, SIGPIPE };

    for (size_t i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++)
        if (evsig_signal(NULL, ignored[i], EVSIG_IGN, NULL, NULL) < 0)
            return -1;

    /* SIGTERM: a table handler on our loop (Python's signal.signal()). */
    if (w->cfg.opt.worker_ignores_term) {
        log_event("ignoring SIGTERM (--worker-ignores-term)");
        return evsig_signal(NULL, SIGTERM, EVSIG_IGN, NULL, NULL);
    }
    return evsig_signal(w->loop, SIGTERM, on_term, w, NULL);
}

int worker_run(struct ev_loop *loop, const struct worker_config *cfg,
               const sigset_t *blocked)
{
    struct worker w = { .loop = loop, .cfg = *cfg, .pid = getpid() };
    struct conn *c, *next;

    log_set_role("worker");

    /*
     * fork() kept the master's evsig table: its SIGTERM, SIGINT, SIGHUP
     * and SIGUSR1 handlers would run here, on our loop, with pointers to
     * the master's state. evsig_reset() forgets them all and puts back the
     * dispositions the program started with; then we install our own.
     *
     * A signal sent to us in the meantime is not lost: the master blocked
     * these signals before evsig_fork_and_watch(), the child inherited the
     * mask, and they stay pending until we unblock them below, when our
     * handlers are in place. (Without that, a SIGTERM caught by the
     * master's inherited handler before evsig_reset() would be dropped.)
     */
    evsig_reset();

    /* Test hooks: a worker that cannot start (say, a bad deployment). */
    if (cfg->opt.crash_on_start ||
        (cfg->opt.crash_on_restart && cfg->generation > 0))
        return 3;

    if (install_handlers(&w) < 0) {
        log_event("evsig_signal: %s", strerror(errno));
        return 1;
    }

#ifdef __linux__
    /* If the master dies without shutting us down (SIGKILL, crash), the
     * kernel sends us SIGTERM, so workers never outlive their master. It
     * may have died already, before this call: then do it ourselves. */
    if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0)
        log_event("prctl(PR_SET_PDEATHSIG): %s", strerror(errno));
    else if (getppid() != cfg->master)
        kill(w.pid, SIGTERM);   /* pending until unblocked below */
#endif

    ev_io_init(&w.accept_w, on_accept, cfg->listen_fd, EV_READ);
    w.accept_w.data = &w;
    ev_io_start(loop, &w.accept_w);
    ev_timer_init(&w.pause_w, on_pause_over, 0., 0.);
    w.pause_w.data = &w;

    /* Our handlers are in place: let the signals in (a pending SIGTERM is
     * delivered now and dispatched on the first loop iteration). */
    pthread_sigmask(SIG_SETMASK, blocked, NULL);
    report(&w);             /* "ready": a rolling restart may go on */

    ev_run(loop, 0);

    /* Only a SIGTERM ends the loop. Clean up for tidiness; the final report
     * lets the master's status table count every request. */
    for (c = w.conns; c; c = next) {
        next = c->next;
        conn_close(c);
    }
    ev_io_stop(loop, &w.accept_w);
    ev_timer_stop(loop, &w.pause_w);
    if (w.cfg.listen_fd >= 0)
        close(w.cfg.listen_fd);
    report(&w);
    close(w.cfg.report_fd);
    evsig_reset();
    log_event("exiting: %u request%s served", (unsigned)w.served,
              w.served == 1 ? "" : "s");
    return 0;
}

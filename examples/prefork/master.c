/* SPDX-License-Identifier: MIT */
/*
 * master.c - the master: listen, fork workers, keep them alive, shut down.
 *
 * Everything runs on libev's default loop (evsig's child functions need it:
 * libev reaps children only there). The evsig calls, in the order a run
 * meets them:
 *
 *   evsig_signal()          table handlers (Python's signal.signal()) for
 *                           SIGTERM/SIGINT (shut down), SIGHUP (rolling
 *                           restart), SIGUSR1 (status); SIGPIPE ignored.
 *                           They run on the loop, never in signal context.
 *   evsig_fork_and_watch()  forks a worker; the child is watched before the
 *                           call returns, so no exit is ever missed, and its
 *                           exit calls on_worker_exit() with its status.
 *   evsig_signame()         "SIGKILL" for the log lines.
 *   evsig_kill()            SIGTERM/SIGKILL to a worker; refuses (ESRCH) a
 *                           pid evsig knows has been reaped, so a recycled
 *                           pid is never signalled.
 *   evsig_waitpid_timeout() on shutdown, waits for each worker up to the
 *                           grace deadline while the loop keeps running
 *                           (reports are read, exits are logged).
 *
 * The main loop, master_run(), alternates one loop iteration
 * (ev_run(EVRUN_ONCE)) with reconcile(), which compares the workers we have
 * with the workers we want and forks or stops accordingly. Callbacks only
 * record what happened (a worker died, SIGHUP came); the forks happen in
 * reconcile(), outside any callback. So a new worker starts on a clean
 * stack with no ev_run() in progress and nothing of the master's pending.
 * (Forked inside a callback, the worker would spend its life nested in the
 * master's ev_run(), and the callbacks libev had queued for that
 * iteration would run in the worker too.)
 */
#define _GNU_SOURCE   /* pipe2(): Linux, also in the BSDs */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "prefork.h"

/* A worker dying this soon after its fork counts as a crash on start. */
#define QUICK_DEATH  1.0
/* Crash loop: the delay before the next fork starts here, doubles with
 * every quick death, and stops growing here. */
#define BACKOFF_MIN  0.1
#define BACKOFF_MAX  5.0

struct slot {
    pid_t    pid;        /* 0: free */
    unsigned gen;        /* restart generation it was forked in */
    double   started;    /* ev_time() at the fork */
    uint32_t served;     /* its last report */
    bool     ready;      /* it reported: it accepts connections */
    bool     stopping;   /* we sent it SIGTERM: its exit is expected */
};

struct master {
    struct ev_loop     *loop;
    struct options      opt;
    struct master_hooks hooks;
    int                 listen_fd;
    int                 port;
    int                 report_rd, report_wr;  /* workers -> master */
    ev_io               report_w;
    ev_timer            backoff_w;   /* wakes the loop when a fork is due */
    ev_timer            retire_w;    /* grace of the worker a restart stops */
    /* A rolling restart starts one extra worker: one slot more. */
    struct slot         slots[MAX_WORKERS + 1];
    unsigned            gen;         /* bumped by SIGHUP */
    bool                restarting;
    int                 stop_signal; /* SIGTERM/SIGINT received */
    pid_t               stop_sender;
    pid_t               died[MAX_WORKERS + 1];  /* to be replaced, oldest first */
    unsigned            ndied;
    unsigned            quick_deaths;
    double              backoff;     /* current crash-loop delay */
    double              next_fork;   /* no fork before this ev_time() */
    double              started;
    struct master_stats stats;
};

/* ---- the workers we have ------------------------------------------------ */

static struct slot *find_slot(struct master *m, pid_t pid)
{
    for (int i = 0; i <= m->opt.workers; i++)
        if (m->slots[i].pid == pid)
            return &m->slots[i];
    return NULL;
}

static struct slot *first_live(struct master *m)
{
    for (int i = 0; i <= m->opt.workers; i++)
        if (m->slots[i].pid)
            return &m->slots[i];
    return NULL;
}

/* Current: forked since the last SIGHUP. Old: forked before it. */
struct census {
    int current;        /* serving, current generation */
    int starting;       /* of those, not yet ready */
    int old_serving;    /* serving, from before the last SIGHUP */
    int stopping;       /* asked to finish, not yet gone */
};

static struct census count(const struct master *m)
{
    struct census c = { 0, 0, 0, 0 };

    for (int i = 0; i <= m->opt.workers; i++) {
        const struct slot *s = &m->slots[i];

        if (!s->pid)
            continue;
        if (s->stopping)
            c.stopping++;
        else if (s->gen == m->gen) {
            c.current++;
            c.starting += !s->ready;
        }
        else
            c.old_serving++;
    }
    return c;
}

/* ---- reports from the workers ------------------------------------------- */

static void read_reports(struct master *m)
{
    struct report r[64];
    ssize_t n;

    /* Every record is written with one write() of 8 bytes (atomic in a
     * pipe), so reads always return whole records. */
    while ((n = read(m->report_rd, r, sizeof(r))) > 0) {
        for (size_t i = 0; i < (size_t)n / sizeof(r[0]); i++) {
            struct slot *s = find_slot(m, r[i].pid);

            if (s)
                s->ready = true;   /* its first report says "accepting" */
            if (s && r[i].served > s->served) {
                m->stats.served += r[i].served - s->served;
                s->served = r[i].served;
            }
        }
    }
    if (n < 0 && errno != EAGAIN && errno != EINTR)
        log_event("reading reports: %s", strerror(errno));
}

static void on_report(struct ev_loop *loop, ev_io *io, int revents)
{
    (void)loop;
    (void)revents;
    read_reports(io->data);
}

/* ---- a worker exits ------------------------------------------------------ */

static void count_exit(struct master *m, int status)
{
    struct master_stats *st = &m->stats;

    for (unsigned i = 0; i < st->nexits; i++) {
        if (st->exits[i].status == status) {
            st->exits[i].count++;
            return;
        }
    }
    if (st->nexits < sizeof(st->exits) / sizeof(st->exits[0]))
        st->exits[st->nexits++] = (struct exit_count){ status, 1 };
    else
        st->other_exits++;
}

/*
 * The evsig_child_cb given to evsig_fork_and_watch(): called once per
 * worker, on the loop, after libev reaped it (evsig keeps the status even
 * when several SIGCHLDs merged into one).
 */
static void on_worker_exit(struct ev_loop *loop, pid_t pid, int status,
                           void *data)
{
    struct master *m = data;
    struct slot *s = find_slot(m, pid);
    double now = ev_time(), lived;
    char how[64], age[32];
    (void)loop;

    if (!s)
        return;           /* not one of ours (cannot happen) */
    /* The worker wrote its last report before exiting: read it before we
     * forget the pid. */
    read_reports(m);
    lived = now - s->started;
    describe_status(status, how, sizeof(how));
    describe_duration(lived, age, sizeof(age));
    count_exit(m, status);

    if (s->stopping || m->stop_signal) {
        log_event("worker %ld %s after %s (%u request%s)", (long)pid,
                  how, age, (unsigned)s->served, s->served == 1 ? "" : "s");
        if (!m->stop_signal)
            ev_timer_stop(m->loop, &m->retire_w);   /* it made it in time */
    } else {
        /* Unasked: a crash or a kill from outside. Replace it; if workers
         * keep dying right after their start, slow down (no fork bomb). */
        log_event("worker %ld %s after %s (%u request%s); replacing it",
                  (long)pid, how, age, (unsigned)s->served,
                  s->served == 1 ? "" : "s");
        if (m->ndied < sizeof(m->died) / sizeof(m->died[0]))
            m->died[m->ndied++] = pid;
        if (lived < QUICK_DEATH)
            m->quick_deaths++;
        else
            m->quick_deaths = 0;
        if (m->quick_deaths >= 2) {
            m->backoff = m->backoff > 0 ? fmin(m->backoff * 2, BACKOFF_MAX)
                                        : BACKOFF_MIN;
            m->next_fork = now + m->backoff;
            log_event("%u workers in a row died within %.0f s of their "
                      "start: backing off, next fork in %.1f s",
                      m->quick_deaths, QUICK_DEATH, m->backoff);
        } else {
            m->backoff = 0;
        }
    }
    *s = (struct slot){ 0 };
}

/* ---- forking ------------------------------------------------------------- */

/* Stop everything of the master's in a new worker (see spawn()). */
static void forget_in_worker(struct master *m)
{
    ev_io_stop(m->loop, &m->report_w);
    ev_timer_stop(m->loop, &m->backoff_w);
    ev_timer_stop(m->loop, &m->retire_w);
    close(m->report_rd);
    if (m->hooks.in_worker)
        m->hooks.in_worker(m->hooks.data);
}

static void backoff_wakeup(struct ev_loop *loop, ev_timer *t, int revents)
{
    /* Nothing to do here: reconcile() runs after every loop iteration and
     * forks once the delay is over. The timer only ends the wait. */
    (void)loop;
    (void)t;
    (void)revents;
}

/* Returns the pid, 0 if none may be forked yet (backoff) or -1. */
static pid_t spawn(struct master *m, bool rolling)
{
    struct slot *s = find_slot(m, 0);
    double now = ev_time();
    sigset_t worker_sigs, old;
    pid_t pid, self, replaces = 0;
    int err;

    if (!s)
        return -1;        /* cannot happen: see struct master */
    if (now < m->next_fork) {
        if (!ev_is_active(&m->backoff_w)) {
            ev_timer_set(&m->backoff_w, m->next_fork - now, 0.);
            ev_timer_start(m->loop, &m->backoff_w);
        }
        return 0;
    }

    /* Block the signals a worker handles until it has installed its own
     * handlers (worker_run() unblocks them): one sent to the new worker in
     * between stays pending instead of reaching the handlers it inherits
     * from us. The master's own deliveries are only delayed. */
    worker_signals(&worker_sigs);
    pthread_sigmask(SIG_BLOCK, &worker_sigs, &old);
    fflush(NULL);   /* or the child would write our buffered output again */
    /* Our pid, for the worker to notice that we are gone: taken here, not
     * with getppid() in the child, which may first run after we died. */
    self = getpid();

    /* fork(), with evsig's state made safe for the child (ev_loop_fork(),
     * no inherited children or pending deliveries), and the child watched
     * in the parent before the call returns: its exit cannot be missed. */
    pid = evsig_fork_and_watch(m->loop, on_worker_exit, m, 0);
    err = errno;
    if (pid == 0) {
        /*
         * The new worker. It inherited the master's loop with the master's
         * watchers in it (ev_loop_fork() keeps watchers), and the master's
         * fds: stop and close what is not the worker's, then serve. The
         * worker never returns into the master's code.
         */
        struct worker_config cfg = {
            .listen_fd = m->listen_fd,
            .report_fd = m->report_wr,
            .master = self,
            .generation = m->gen,
            .opt = m->opt,
        };
        struct ev_loop *loop = m->loop;

        forget_in_worker(m);
        free(m);
        exit(worker_run(loop, &cfg, &old));
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);

    if (pid < 0) {
        log_event("fork: %s; retrying in 1 s", strerror(err));
        m->next_fork = now + 1.0;
        ev_timer_stop(m->loop, &m->backoff_w);
        ev_timer_set(&m->backoff_w, 1.0, 0.);
        ev_timer_start(m->loop, &m->backoff_w);
        return -1;
    }
    *s = (struct slot){ .pid = pid, .gen = m->gen, .started = now };
    m->stats.started++;
    if (rolling) {
        m->stats.replaced_rolling++;
    } else if (m->ndied > 0) {
        replaces = m->died[0];
        memmove(m->died, m->died + 1, --m->ndied * sizeof(m->died[0]));
        m->stats.replaced_crashed++;
    }
    if (rolling)
        log_event("rolling restart: worker %ld started", (long)pid);
    else if (replaces)
        log_event("worker %ld started, replacing %ld", (long)pid,
                  (long)replaces);
    else
        log_event("worker %ld started", (long)pid);
    return pid;
}

/* Ask the oldest serving worker of an earlier generation to finish. */
static void retire_one(struct master *m)
{
    struct slot *old = NULL;

    for (int i = 0; i <= m->opt.workers; i++) {
        struct slot *s = &m->slots[i];

        if (s->pid && !s->stopping && s->gen != m->gen &&
            (!old || s->started < old->started))
            old = s;
    }
    if (!old)
        return;
    old->stopping = true;
    log_event("rolling restart: asking worker %ld to finish (SIGTERM)",
              (long)old->pid);
    if (evsig_kill(m->loop, old->pid, SIGTERM) < 0)
        log_event("kill %ld: %s", (long)old->pid, strerror(errno));
    /* If it is not gone within the grace period, SIGKILL it (retire_late). */
    ev_timer_set(&m->retire_w, m->opt.grace, 0.);
    ev_timer_start(m->loop, &m->retire_w);
}

static void retire_late(struct ev_loop *loop, ev_timer *t, int revents)
{
    struct master *m = t->data;
    (void)revents;

    for (int i = 0; i <= m->opt.workers; i++) {
        struct slot *s = &m->slots[i];

        if (s->pid && s->stopping) {
            log_event("worker %ld did not finish within %g s: SIGKILL",
                      (long)s->pid, m->opt.grace);
            m->stats.killed_after_grace++;
            if (evsig_kill(loop, s->pid, SIGKILL) < 0)
                log_event("kill %ld: %s", (long)s->pid, strerror(errno));
        }
    }
}

/*
 * Fork or stop workers until what we have is what we want:
 * - opt.workers serving workers (replace the dead, within the backoff);
 * - during a rolling restart, retire old workers one at a time: first fork
 *   a new one (so opt.workers + 1 serve for a moment), wait until it
 *   reports that it accepts, then SIGTERM one old worker, and only when
 *   that one is gone, the next. Some worker always accepts, and if the new
 *   workers cannot start (crash on start), the old ones keep serving.
 */
static void reconcile(struct master *m)
{
    for (;;) {
        struct census c = count(m);

        if (c.current + c.old_serving < m->opt.workers) {
            if (spawn(m, false) <= 0)
                return;
            continue;
        }
        if (c.old_serving > 0 && c.stopping == 0) {
            if (c.current + c.old_serving == m->opt.workers) {
                if (spawn(m, true) <= 0)
                    return;
            } else if (c.starting == 0) {
                retire_one(m);
            } else {
                return;       /* its first report wakes the loop */
            }
            continue;
        }
        if (m->restarting && c.old_serving == 0 && c.stopping == 0) {
            char pids[MAX_WORKERS * 12] = "";
            size_t len = 0;

            for (int i = 0; i <= m->opt.workers; i++)
                if (m->slots[i].pid && len < sizeof(pids))
                    len += (size_t)snprintf(pids + len, sizeof(pids) - len,
                                            " %ld", (long)m->slots[i].pid);
            log_event("rolling restart done; workers:%s", pids);
            m->restarting = false;
        }
        return;
    }
}

/* ---- signals to the master ---------------------------------------------- */

/* The evsig table handlers: called by ev_run() on the loop, with the
 * siginfo (who sent it), long after evsig's C handler returned. */

static void on_stop(struct ev_loop *loop, const evsig_info *info, void *data)
{
    struct master *m = data;
    (void)loop;

    if (m->stop_signal) {
        log_event("%s: already shutting down", evsig_signame(info->signo));
        return;
    }
    m->stop_signal = info->signo;     /* master_run() leaves its loop */
    m->stop_sender = info->pid;
}

static void on_hup(struct ev_loop *loop, const evsig_info *info, void *data)
{
    struct master *m = data;
    (void)loop;

    if (m->stop_signal)
        return;
    log_event("SIGHUP from pid %ld: rolling restart of %d worker%s, one at "
              "a time", (long)info->pid, m->opt.workers,
              m->opt.workers == 1 ? "" : "s");
    m->gen++;                         /* every worker is now "old" */
    m->restarting = true;
    /* A restart is a fresh start (perhaps the fix for a crash loop). */
    m->quick_deaths = 0;
    m->backoff = 0;
    m->next_fork = 0;
    ev_timer_stop(m->loop, &m->backoff_w);
}

static void on_status(struct ev_loop *loop, const evsig_info *info, void *data)
{
    struct master *m = data;
    double now = ev_time();
    struct census c = count(m);
    unsigned restarts = m->stats.replaced_crashed + m->stats.replaced_rolling;
    (void)loop;
    (void)info;

    read_reports(m);
    printf("master %ld on 127.0.0.1:%d: up %.1f s, %d worker%s, %u restart%s, "
           "%lu request%s served\n", (long)getpid(), m->port, now - m->started,
           c.current + c.old_serving + c.stopping,
           c.current + c.old_serving + c.stopping == 1 ? "" : "s",
           restarts, restarts == 1 ? "" : "s",
           m->stats.served, m->stats.served == 1 ? "" : "s");
    printf("  %-8s %4s %9s %9s  %s\n", "PID", "GEN", "UPTIME", "REQUESTS",
           "STATE");
    for (int i = 0; i <= m->opt.workers; i++) {
        const struct slot *s = &m->slots[i];

        if (s->pid)
            printf("  %-8ld %4u %8.1fs %9u  %s\n", (long)s->pid, s->gen,
                   now - s->started, (unsigned)s->served,
                   s->stopping ? "finishing" :
                   s->gen != m->gen ? "serving (old)" : "serving");
    }
    fflush(stdout);
}

/* ---- setup, run, shutdown ------------------------------------------------ */

static int open_listener(struct master *m)
{
    struct sockaddr_in addr = { .sin_family = AF_INET,
                                .sin_port = htons((uint16_t)m->opt.port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof(addr);
    int one = 1;

    /* Non-blocking: every worker is woken for a connection, one wins the
     * accept(), the others must get EAGAIN rather than block. */
    m->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (m->listen_fd < 0)
        return -1;
    if (setsockopt(m->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(m->listen_fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
        listen(m->listen_fd, SOMAXCONN) < 0 ||
        getsockname(m->listen_fd, (struct sockaddr *)&addr, &len) < 0)
        return -1;
    m->port = ntohs(addr.sin_port);
    return 0;
}

struct master *master_new(struct ev_loop *loop, const struct options *opt,
                          const struct master_hooks *hooks)
{
    struct master *m = calloc(1, sizeof(*m));
    int fds[2];

    if (!m) {
        log_event("out of memory");
        return NULL;
    }
    m->loop = loop;
    m->opt = *opt;
    if (hooks)
        m->hooks = *hooks;
    m->report_rd = m->report_wr = -1;
    ev_io_init(&m->report_w, on_report, -1, EV_READ);
    ev_timer_init(&m->backoff_w, backoff_wakeup, 0., 0.);
    ev_timer_init(&m->retire_w, retire_late, 0., 0.);
    m->retire_w.data = m;

    if (open_listener(m) < 0) {
        log_event("listen on 127.0.0.1:%d: %s", opt->port, strerror(errno));
        goto fail;
    }
    /* Non-blocking at both ends: a worker never blocks on a full pipe, and
     * the master reads until EAGAIN. */
    if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0) {
        log_event("pipe: %s", strerror(errno));
        goto fail;
    }
    m->report_rd = fds[0];
    m->report_wr = fds[1];
    ev_io_set(&m->report_w, m->report_rd, EV_READ);
    m->report_w.data = m;
    ev_io_start(loop, &m->report_w);

    /* Table handlers: one disposition per signal, process-wide. */
    if (evsig_signal(loop, SIGTERM, on_stop, m, NULL) < 0 ||
        evsig_signal(loop, SIGINT, on_stop, m, NULL) < 0 ||
        evsig_signal(loop, SIGHUP, on_hup, m, NULL) < 0 ||
        evsig_signal(loop, SIGUSR1, on_status, m, NULL) < 0 ||
        evsig_signal(NULL, SIGPIPE, EVSIG_IGN, NULL, NULL) < 0) {
        log_event("evsig_signal: %s", strerror(errno));
        evsig_reset();    /* no handler of ours may outlive m */
        goto fail;
    }
    return m;

fail:
    master_free(m);
    return NULL;
}

int master_port(const struct master *m)
{
    return m->port;
}

/* SIGTERM or SIGINT: stop accepting, ask every worker to finish, wait up to
 * the grace period, SIGKILL the stragglers. Returns the exit code. */
static int shut_down(struct master *m)
{
    double deadline;
    struct slot *s;
    int live = 0;

    for (int i = 0; i <= m->opt.workers; i++)
        live += m->slots[i].pid != 0;
    log_event("%s from pid %ld: shutting down; asking %d worker%s to finish "
              "within %g s", evsig_signame(m->stop_signal), (long)m->stop_sender,
              live, live == 1 ? "" : "s", m->opt.grace);

    /* Our copy of the listening socket: once the workers close theirs, the
     * kernel refuses new connections. */
    close(m->listen_fd);
    m->listen_fd = -1;
    ev_timer_stop(m->loop, &m->backoff_w);
    ev_timer_stop(m->loop, &m->retire_w);

    for (int i = 0; i <= m->opt.workers; i++) {
        s = &m->slots[i];
        if (!s->pid)
            continue;
        s->stopping = true;
        if (evsig_kill(m->loop, s->pid, SIGTERM) < 0)
            log_event("kill %ld: %s", (long)s->pid, strerror(errno));
    }

    /* evsig_waitpid_timeout() runs the loop while it waits: reports are
     * read and on_worker_exit() logs each exit as it happens. */
    deadline = ev_time() + m->opt.grace;
    while ((s = first_live(m))) {
        double left = fmax(deadline - ev_time(), 0.);
        pid_t pid = s->pid;

        if (evsig_waitpid_timeout(m->loop, pid, NULL, left) < 0) {
            if (errno == ETIMEDOUT)
                break;
            log_event("waitpid %ld: %s", (long)pid, strerror(errno));
            return 1;
        }
    }

    for (int i = 0; i <= m->opt.workers; i++) {
        s = &m->slots[i];
        if (!s->pid)
            continue;
        log_event("worker %ld did not finish within %g s: SIGKILL",
                  (long)s->pid, m->opt.grace);
        m->stats.killed_after_grace++;
        if (evsig_kill(m->loop, s->pid, SIGKILL) < 0)
            log_event("kill %ld: %s", (long)s->pid, strerror(errno));
    }
    while ((s = first_live(m))) {
        pid_t pid = s->pid;

        /* SIGKILL cannot be caught; the bound only covers a process stuck
         * in the kernel. */
        if (evsig_waitpid_timeout(m->loop, pid, NULL, 10.) < 0) {
            log_event("waitpid %ld: %s", (long)pid, strerror(errno));
            return 1;
        }
    }
    read_reports(m);
    log_event("all workers gone, %lu request%s served; bye", m->stats.served,
              m->stats.served == 1 ? "" : "s");
    return 0;
}

int master_run(struct master *m)
{
    m->started = ev_time();
    log_event("listening on 127.0.0.1:%d; %d worker%s, grace %g s", m->port,
              m->opt.workers, m->opt.workers == 1 ? "" : "s", m->opt.grace);

    while (!m->stop_signal) {
        reconcile(m);         /* may fork; a new worker never returns */
        if (m->hooks.after_iteration)
            m->hooks.after_iteration(m, m->hooks.data);
        if (m->stop_signal)
            break;
        /* Wait for something to happen (a signal, an exit, a report, a
         * timer) and run its callbacks, then reconcile again. */
        ev_run(m->loop, EVRUN_ONCE);
    }
    return shut_down(m);
}

void master_free(struct master *m)
{
    if (!m)
        return;
    ev_io_stop(m->loop, &m->report_w);
    ev_timer_stop(m->loop, &m->backoff_w);
    ev_timer_stop(m->loop, &m->retire_w);
    if (m->listen_fd >= 0)
        close(m->listen_fd);
    if (m->report_rd >= 0)
        close(m->report_rd);
    if (m->report_wr >= 0)
        close(m->report_wr);
    free(m);
}

const struct master_stats *master_stats(const struct master *m)
{
    return &m->stats;
}

int master_workers(const struct master *m, pid_t *pids, int max)
{
    int n = 0;

    for (int i = 0; i <= m->opt.workers && n < max; i++)
        if (m->slots[i].pid && !m->slots[i].stopping)
            pids[n++] = m->slots[i].pid;
    return n;
}

bool master_restarting(const struct master *m)
{
    return m->restarting;
}

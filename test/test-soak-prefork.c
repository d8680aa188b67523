/* SPDX-License-Identifier: MIT */
/*
 * test-soak-prefork.c - a chaos soak of evsig-prefork (suite 'soak').
 *
 * For EVSIG_SOAK_SECONDS (default 60) a load generator keeps NCONN
 * loopback connections busy with lines for the server to echo, while a
 * chaos driver, at random intervals, SIGKILLs a random worker, SIGSTOPs a
 * worker and SIGCONTs it soon after (now and then after --grace, so that a
 * worker a restart asks to finish is SIGKILLed by the master), sends the
 * master SIGHUP (rolling restarts that overlap the kills) and floods it
 * with SIGUSR1. The random
 * choices come from one seed, printed at the start; EVSIG_SOAK_SEED=<n>
 * replays the same choices (the timing of a loaded machine does not replay).
 *
 * The rules, checked as the run goes and at its end:
 * - every request is answered, or its failure is explained by the death of
 *   the worker holding its connection (see explain());
 * - every answer is "<pid> <line>" for the line sent, one pid per
 *   connection;
 * - a worker only ever exits 0 or is killed by SIGKILL, and the master's
 *   count of SIGKILLed workers is ours plus its own after --grace;
 * - at the end --workers workers serve (none old, finishing or stopped);
 * - SIGTERM makes the master exit 0, and no process of its group is left;
 * - the master's RSS and fd count are flat from the first quarter of the
 *   run to the last (see RSS_SLACK_KB and FD_SLACK).
 *
 * Which worker holds a connection: the server answers every line with the
 * pid of the worker that read it, so a connection that was answered once
 * knows its worker. A connection that was not answered yet does not, so
 * the chaos driver never kills blind: it SIGSTOPs the victim, reads its
 * socket inodes from /proc/<pid>/fd, maps them through /proc/net/tcp to the
 * client ports they serve, marks those connections, and only then
 * SIGKILLs it. A stopped process accepts nothing, so the picture is exact.
 * Workers are signalled through pidfds, so a pid the master reaped and the
 * kernel gave to someone else is never signalled.
 *
 * Everything runs on one libev loop of the test's own (ev_loop_new), in
 * the test's main thread. The server runs in a process group of its own;
 * teardown, and a SIGTERM/SIGINT to the test (meson's timeout), SIGKILL
 * that group, so a failing run leaves nothing behind.
 */
#define _GNU_SOURCE   /* pipe2(), accept4() */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test-util.h"

#define NCONN            8     /* connections the load generator keeps busy */
#define NWORKERS         4     /* --workers */
#define GRACE            "3"   /* --grace, in seconds */
#define REQUEST_TIMEOUT  10.0  /* s; a stop lasts at most LONG_STOP */
#define THINK_MAX        0.002 /* s between the answer and the next request */
#define CHAOS_MIN        0.05  /* s between two chaos events: uniform in */
#define CHAOS_MAX        0.40  /* [MIN, MAX] */
#define STOP_MIN         0.05  /* s a SIGSTOPped worker stays stopped */
#define STOP_MAX         0.50
#define LONG_STOP        (atof(GRACE) + 0.5)   /* outlasts --grace */
#define FLOOD_MIN        20    /* SIGUSR1s in one flood */
#define FLOOD_MAX        100
/* The master takes a worker that dies within 1 s of its start for a crash
 * on start (QUICK_DEATH in master.c) and, after two, backs off forking.
 * The soak kills only older workers: the backoff has its own test in
 * test-prefork.c, and here it would leave the listen queue without a
 * worker, which no death explains. */
#define MIN_VICTIM_AGE   1.25
#define SAMPLE_EVERY     0.25  /* s between two samples of the master */
/* Slack of the flatness rules. RSS: glibc's heap and stdio grow in pages,
 * and evsig keeps each worker's exit status for evsig_waitpid() for
 * EVSIG_RESULT_TTL (60 s, at most 126 bytes a worker, see pidtab.c), so in
 * a run shorter than that the pid table grows with every worker started
 * (about 200 a minute here: some 25 KiB). Measured: +44 KiB over 60 s,
 * and a 100 s run at five times the chaos rate flat at +32 KiB from its
 * second quarter on. 64 KiB is that; a leak per chaos event (hundreds of
 * them) is more. fds: the master holds one pidfd per live worker (evsig's
 * PIDFD backend), and how many workers are alive at one instant varies:
 * --workers, one more during a rolling restart, one more dead and not yet
 * reaped. */
#define RSS_SLACK_KB     64
#define FD_SLACK         2
#define MAX_WORKERS_SEEN 80    /* children of the master at one instant */
#define MAX_VIOLATIONS   40
#define LOG_TAIL         60    /* server log lines shown when the soak fails */

/* ---- small things -------------------------------------------------------- */

static uint64_t rng_state;

/* splitmix64: small, good enough, and the same sequence on every machine. */
static uint64_t rng(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15u);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static double uniform(double lo, double hi)
{
    return lo + (hi - lo) * ((double)(rng() >> 11) / (double)(1ull << 53));
}

static unsigned pick(unsigned n)
{
    return (unsigned)(rng() % n);
}

static int sys_pidfd_open(pid_t pid)
{
    return (int)syscall(SYS_pidfd_open, pid, 0);
}

static int sys_pidfd_signal(int pidfd, int sig)
{
    return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}

/* The server's process group, for the emergency exit below. */
static volatile pid_t soak_pgid;

/* SIGTERM/SIGINT to the test (meson's timeout, a Ctrl-C): take the server
 * down with us. kill() and _exit() are async-signal-safe. */
static void on_fatal(int sig)
{
    if (soak_pgid > 0)
        kill(-soak_pgid, SIGKILL);
    signal(sig, SIG_DFL);
    raise(sig);
}

/* ---- state --------------------------------------------------------------- */

enum conn_state {
    C_CLOSED,
    C_THINK,      /* answered; the next request waits for the timer */
    C_HALF,       /* the first part of a split line is sent, the rest waits */
    C_WAIT,       /* the whole line is sent: waiting for the answer */
};

struct soak;

struct conn {
    struct soak    *s;
    int             id;
    int             fd;
    int             port;       /* our local port: the key in /proc/net/tcp */
    enum conn_state state;
    ev_io           io;
    ev_timer        timer;      /* think time, or the second half of a line */
    pid_t           pid;        /* the worker answering here; 0: none yet */
    pid_t           killed_by;  /* the worker we SIGKILLed while it held this */
    unsigned        answered;   /* on this connection */
    bool            retry;      /* the next request is the last one again */
    double          deadline;
    char            req[160];
    size_t          reqlen, half;
    char            resp[256];
    size_t          resplen;
};

/* What the server's log said about a pid, since its latest start. */
struct life {
    pid_t pid;
    bool  finishing;       /* a rolling restart asked it to finish */
    bool  grace_killed;    /* the master SIGKILLed it after --grace */
};

struct reader {
    struct soak *s;
    int          fd;
    ev_io        io;
    char         buf[8192];
    size_t       len;
    void       (*line)(struct soak *s, char *line);
};

struct sample {
    double t;
    long   rss_kb;
    int    fds;
};

enum cause { BY_KILL, BY_GRACE_KILL, BY_FINISHING, UNEXPLAINED };

struct soak {
    struct ev_loop *loop;
    double          seconds;
    uint64_t        seed;
    bool            verbose;

    /* the server */
    pid_t           master;
    bool            reaped;
    int             status;
    int             port;
    struct reader   out, err;

    /* the load */
    struct conn     conns[NCONN];
    bool            load_stopping;
    unsigned long   seq;
    unsigned long   sent, answered, failed[UNEXPLAINED + 1], idle_closes;

    /* the chaos */
    ev_timer        chaos_w, sample_w, tick_w, end_w;
    bool            running;         /* between start and end of the chaos */
    bool            ended;
    int             stopped_fd;      /* pidfd of the stopped worker, or -1 */
    pid_t           stopped_pid;
    ev_timer        cont_w;
    unsigned        kills, stops, long_stops, hups, floods, usr1s, skips;
    unsigned        status_reports;

    /* the server's log */
    struct life    *lives;
    size_t          nlives, cap_lives;
    unsigned        log_sigkills, log_exit0, log_grace_kills, log_started;
    char           *tail[LOG_TAIL];
    unsigned        ntail;

    /* the last status table */
    int             st_workers, st_rows_serving, st_rows_other;

    /* the master, sampled */
    struct sample  *samples;
    size_t          nsamples, cap_samples;
    double          t0;

    char           *violations[MAX_VIOLATIONS];
    unsigned        nviolations;
};

static void violation(struct soak *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void violation(struct soak *s, const char *fmt, ...)
{
    va_list ap;
    char *msg = NULL;

    va_start(ap, fmt);
    if (vasprintf(&msg, fmt, ap) < 0)
        msg = NULL;
    va_end(ap);
    print_message("VIOLATION %s\n", msg ? msg : fmt);
    if (s->nviolations < MAX_VIOLATIONS)
        s->violations[s->nviolations] = msg;
    else
        free(msg);
    s->nviolations++;
}

/* ---- /proc --------------------------------------------------------------- */

/* State letter and start time (seconds since boot) of @pid; false if gone. */
static bool proc_stat(pid_t pid, char *state, double *start)
{
    char path[64], buf[1024], *p;
    unsigned long long starttime = 0;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
    f = fopen(path, "re");
    if (!f)
        return false;
    p = fgets(buf, sizeof(buf), f);
    fclose(f);
    if (!p || !(p = strrchr(buf, ')')))
        return false;
    /* Fields after the name: 3 state ... 22 starttime. */
    if (sscanf(p + 2, "%c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u "
                      "%*d %*d %*d %*d %*d %*d %llu", state, &starttime) != 2)
        return false;
    if (start)
        *start = (double)starttime / (double)sysconf(_SC_CLK_TCK);
    return true;
}

static double uptime_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_BOOTTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The master's children, zombies left out. */
static int workers(const struct soak *s, pid_t *pids, int max)
{
    char path[96], buf[1024];
    int n = 0, fd;
    ssize_t len;

    snprintf(path, sizeof(path), "/proc/%ld/task/%ld/children",
             (long)s->master, (long)s->master);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    len = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (len <= 0)
        return 0;
    buf[len] = '\0';
    for (char *p = buf, *end; n < max; p = end) {
        long pid = strtol(p, &end, 10);
        char state;

        if (end == p)
            break;
        if (proc_stat((pid_t)pid, &state, NULL) && state != 'Z' && state != 'X')
            pids[n++] = (pid_t)pid;
    }
    return n;
}

/*
 * The fds @pid holds: how many (-1 if /proc does not say), and with
 * @inodes, the inodes of its sockets, at most @max, in *@nsockets.
 */
static int scan_fds(pid_t pid, unsigned long *inodes, int max, int *nsockets)
{
    char path[64], link[340], target[64];
    struct dirent *de;
    DIR *dir;
    int n = 0;

    snprintf(path, sizeof(path), "/proc/%ld/fd", (long)pid);
    if (nsockets)
        *nsockets = 0;
    dir = opendir(path);
    if (!dir)
        return -1;
    while ((de = readdir(dir)) != NULL) {
        ssize_t len;

        if (de->d_name[0] == '.')
            continue;
        n++;
        if (!inodes || *nsockets == max)
            continue;
        snprintf(link, sizeof(link), "%s/%s", path, de->d_name);
        len = readlink(link, target, sizeof(target) - 1);
        if (len <= 0)
            continue;
        target[len] = '\0';
        if (sscanf(target, "socket:[%lu]", &inodes[*nsockets]) == 1)
            (*nsockets)++;
    }
    closedir(dir);
    return n;
}

static long rss_kb(pid_t pid)
{
    char path[64];
    long size, resident;
    FILE *f;
    int n;

    snprintf(path, sizeof(path), "/proc/%ld/statm", (long)pid);
    f = fopen(path, "re");
    if (!f)
        return -1;
    n = fscanf(f, "%ld %ld", &size, &resident);
    fclose(f);
    return n == 2 ? resident * (sysconf(_SC_PAGESIZE) / 1024) : -1;
}

/* Mark the connections whose server side is one of @inodes as held by
 * @victim: /proc/net/tcp gives each socket's ports and inode. */
static void mark_held(struct soak *s, pid_t victim, const unsigned long *inodes,
                      int ninodes)
{
    char line[512];
    FILE *f = fopen("/proc/net/tcp", "re");

    if (!f)
        return;
    while (fgets(line, sizeof(line), f)) {
        unsigned local_port, rem_port;
        unsigned long inode;

        if (sscanf(line, " %*d: %*x:%x %*x:%x %*x %*x:%*x %*x:%*x %*x %*u %*d %lu",
                   &local_port, &rem_port, &inode) != 3 ||
            (int)local_port != s->port || inode == 0)
            continue;
        for (int i = 0; i < ninodes; i++) {
            if (inodes[i] != inode)
                continue;
            for (int c = 0; c < NCONN; c++)
                if (s->conns[c].fd >= 0 && s->conns[c].port == (int)rem_port)
                    s->conns[c].killed_by = victim;
        }
    }
    fclose(f);
}

/* ---- the server's output ------------------------------------------------- */

static struct life *life_of(struct soak *s, pid_t pid, bool create)
{
    for (size_t i = 0; i < s->nlives; i++)
        if (s->lives[i].pid == pid)
            return &s->lives[i];
    if (!create)
        return NULL;
    if (s->nlives == s->cap_lives) {
        s->cap_lives = s->cap_lives ? s->cap_lives * 2 : 64;
        s->lives = realloc(s->lives, s->cap_lives * sizeof(*s->lives));
        assert_non_null(s->lives);
    }
    s->lives[s->nlives] = (struct life){ .pid = pid };
    return &s->lives[s->nlives++];
}

/* Whether @msg starts with @fmt, which has one %ld and ends in %n. */
static bool matches(const char *msg, const char *fmt, long *pid)
{
    int at = -1;

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    return sscanf(msg, fmt, pid, &at) == 1 && at > 0;
#pragma GCC diagnostic pop
}

/* One line of the server's log (stderr): the master's and the workers'. */
static void log_line(struct soak *s, char *line)
{
    const char *msg = strstr(line, "] ");
    long pid;

    free(s->tail[s->ntail % LOG_TAIL]);
    s->tail[s->ntail++ % LOG_TAIL] = strdup(line);
    if (s->verbose)
        print_message("log: %s\n", line);
    if (!msg || strncmp(line, "20", 2) != 0) {
        violation(s, "a line in the server's log that is not a log line: %s",
                  line);
        return;
    }
    msg += 2;

    /* "worker 12 started", "worker 12 started, replacing 9",
     * "rolling restart: worker 12 started": a new life for that pid.
     * (sscanf() counts conversions, not matched text: %n says how far it
     * matched.) */
    if (matches(msg, "worker %ld started%n", &pid) ||
        matches(msg, "rolling restart: worker %ld started%n", &pid)) {
        *life_of(s, (pid_t)pid, true) = (struct life){ .pid = (pid_t)pid };
        s->log_started++;
    } else if (matches(msg, "rolling restart: asking worker %ld to finish%n",
                       &pid)) {
        life_of(s, (pid_t)pid, true)->finishing = true;
    } else if (matches(msg, "worker %ld did not finish within%n", &pid)) {
        life_of(s, (pid_t)pid, true)->grace_killed = true;
        s->log_grace_kills++;
    } else if (matches(msg, "worker %ld exited 0 after%n", &pid)) {
        s->log_exit0++;
    } else if (matches(msg, "worker %ld killed by SIGKILL after%n", &pid)) {
        s->log_sigkills++;
    } else if (matches(msg, "worker %ld exited%n", &pid) ||
               matches(msg, "worker %ld killed by%n", &pid)) {
        violation(s, "a worker died unasked: %s", msg);
    } else if (strstr(msg, "backing off") || strstr(msg, "fork:") ||
               strstr(msg, "accept:") || strstr(msg, "reading reports") ||
               strstr(msg, "report to the master") || strstr(msg, "kill ") ||
               strstr(msg, "waitpid") || strstr(msg, "evsig_signal")) {
        violation(s, "the server logged a failure: %s", msg);
    }
}

/* One line of the server's stdout: the port, and the status tables. */
static void out_line(struct soak *s, char *line)
{
    int port, workers_n;

    if (sscanf(line, "listening on 127.0.0.1:%d", &port) == 1) {
        s->port = port;
    } else if (strncmp(line, "master ", 7) == 0 &&
               sscanf(strstr(line, ": up ") ? strstr(line, ": up ") : "",
                      ": up %*f s, %d worker", &workers_n) == 1) {
        s->status_reports++;
        s->st_workers = workers_n;
        s->st_rows_serving = s->st_rows_other = 0;
    } else if (strncmp(line, "  PID", 5) == 0) {
        /* the table's heading */
    } else if (line[0] == ' ') {
        size_t len = strlen(line);

        if (len >= 9 && strcmp(line + len - 9, "  serving") == 0)
            s->st_rows_serving++;
        else
            s->st_rows_other++;
    } else {
        violation(s, "unexpected output from the server: %s", line);
    }
}

/* Read what is there (non-blocking) and hand over complete lines. */
static void reader_drain(struct reader *r)
{
    while (r->fd >= 0) {
        ssize_t n = read(r->fd, r->buf + r->len, sizeof(r->buf) - 1 - r->len);
        char *start, *nl;

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        if (n <= 0) {                        /* EOF: every writer is gone */
            ev_io_stop(r->s->loop, &r->io);
            close(r->fd);
            r->fd = -1;
            return;
        }
        r->len += (size_t)n;
        r->buf[r->len] = '\0';
        start = r->buf;
        while ((nl = strchr(start, '\n')) != NULL) {
            *nl = '\0';
            r->line(r->s, start);
            start = nl + 1;
        }
        r->len -= (size_t)(start - r->buf);
        memmove(r->buf, start, r->len);
        if (r->len == sizeof(r->buf) - 1)
            r->len = 0;                      /* a line this long: drop it */
    }
}

static void on_reader(struct ev_loop *loop, ev_io *io, int revents)
{
    (void)loop;
    (void)revents;
    reader_drain(io->data);
}

/* ---- the load generator -------------------------------------------------- */

static void request_start(struct conn *c);
static void conn_open(struct conn *c);

static void conn_close(struct conn *c)
{
    struct soak *s = c->s;

    ev_io_stop(s->loop, &c->io);
    ev_timer_stop(s->loop, &c->timer);
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->state = C_CLOSED;
}

/*
 * Why the connection broke, as far as the worker holding it explains it.
 * The server's log is read first: the master logs "asking worker N to
 * finish" and "did not finish ... SIGKILL" before it signals the worker,
 * so whatever the worker did to the connection after that signal, the line
 * is already in the pipe when we notice.
 *
 * XXX The log is matched by pid, to that pid's latest start: were a pid
 * reused by the master between our noticing and our reading, the new
 * worker's record would be used. The master reaps and forks on one loop,
 * and we read the log at once, so that takes a fork and a pid wrap within
 * a few milliseconds.
 */
static enum cause explain(struct conn *c)
{
    struct soak *s = c->s;
    struct life *l;

    reader_drain(&s->err);
    if (c->killed_by)
        return BY_KILL;
    l = c->pid ? life_of(s, c->pid, false) : NULL;
    if (l && l->grace_killed)
        return BY_GRACE_KILL;
    if (l && l->finishing)
        return BY_FINISHING;
    return UNEXPLAINED;
}

static const char *cause_name(enum cause why)
{
    switch (why) {
    case BY_KILL:       return "SIGKILLed by the chaos driver";
    case BY_GRACE_KILL: return "SIGKILLed by the master after --grace";
    case BY_FINISHING:  return "finishing (rolling restart)";
    case UNEXPLAINED:   break;
    }
    return "alive: nothing explains it";
}

/*
 * The connection broke (@what: "EOF", an errno name, "timeout"). With a
 * request outstanding, that request failed; without one, the worker closed
 * an idle connection. Either way the worker holding it must be dead or on
 * its way out.
 */
static void conn_broke(struct conn *c, const char *what)
{
    struct soak *s = c->s;
    bool outstanding = c->state == C_WAIT || c->state == C_HALF;
    enum cause why = explain(c);
    pid_t worker = why == BY_KILL ? c->killed_by : c->pid;

    if (!outstanding) {
        /* Idle: a finishing worker closes idle connections; a killed one
         * loses them. Nothing was asked, nothing failed. */
        if (why == UNEXPLAINED)
            violation(s, "conn %d: worker %ld closed an idle connection (%s) "
                      "while alive and not finishing", c->id, (long)c->pid, what);
        conn_close(c);
        if (!s->load_stopping)
            conn_open(c);
        return;
    }
    /*
     * A finishing worker answers what it has read, then closes its idle
     * connections. A line that reached the socket after that close was
     * never read: it is the race every keep-alive client knows, and the
     * client retries on a new connection. Only that case: the connection
     * was answered before, and nothing of this answer came back.
     */
    if (why == BY_FINISHING &&
        !(c->answered > 0 && c->resplen == 0 && strcmp(what, "timeout") != 0))
        why = UNEXPLAINED;

    s->failed[why]++;
    if (why == UNEXPLAINED)
        violation(s, "conn %d (port %d): request \"%.*s\" failed (%s) after "
                  "%u answers and %zu bytes of this one; worker %ld, %s",
                  c->id, c->port, (int)(c->reqlen - 1), c->req, what,
                  c->answered, c->resplen, (long)c->pid, cause_name(why));
    else if (why == BY_FINISHING)
        s->idle_closes++;
    print_message("failure: conn %d request \"%.*s\": %s; worker %ld %s%s\n",
                  c->id, (int)(c->reqlen - 1 > 24 ? 24 : c->reqlen - 1),
                  c->req, what, (long)worker, cause_name(why),
                  why == BY_FINISHING ? " closed it idle: retried" : "");
    conn_close(c);
    if (s->load_stopping)
        return;
    c->retry = why == BY_FINISHING;
    conn_open(c);
}

static void conn_send(struct conn *c, size_t from, size_t to)
{
    while (from < to) {
        ssize_t n = send(c->fd, c->req + from, to - from, MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            /* A line is far below the socket buffer: only a broken
             * connection refuses it. */
            conn_broke(c, tu_errname(errno));
            return;
        }
        from += (size_t)n;
    }
}

static void request_start(struct conn *c)
{
    struct soak *s = c->s;
    static const char letters[] = "abcdefghijklmnopqrstuvwxyz0123456789";

    if (!c->retry) {
        int len = snprintf(c->req, sizeof(c->req), "c%d.%lu ", c->id, ++s->seq);
        int extra = (int)pick(100);

        for (int i = 0; i < extra; i++)
            c->req[len++] = letters[pick(sizeof(letters) - 1)];
        c->req[len++] = '\n';
        c->reqlen = (size_t)len;
    }
    c->retry = false;
    c->resplen = 0;
    c->deadline = ev_now(s->loop) + REQUEST_TIMEOUT;
    s->sent++;
    /* One line in eight goes in two parts: a line in flight across a
     * SIGTERM must still be answered by its worker. */
    if (pick(8) == 0) {
        c->half = 1 + pick((unsigned)c->reqlen - 1);
        c->state = C_HALF;
        ev_timer_set(&c->timer, uniform(0.001, 0.003), 0.);
        ev_timer_start(s->loop, &c->timer);
        conn_send(c, 0, c->half);
    } else {
        c->state = C_WAIT;
        conn_send(c, 0, c->reqlen);
    }
}

static void on_conn_timer(struct ev_loop *loop, ev_timer *t, int revents)
{
    struct conn *c = t->data;
    (void)loop;
    (void)revents;

    if (c->state == C_HALF) {
        c->state = C_WAIT;
        conn_send(c, c->half, c->reqlen);
    } else if (c->state == C_THINK) {
        request_start(c);
    }
}

/* A complete answer: "<pid> <line>". */
static void answer(struct conn *c)
{
    struct soak *s = c->s;
    char *nl = memchr(c->resp, '\n', c->resplen), *end;
    long pid = strtol(c->resp, &end, 10);

    if (nl + 1 != c->resp + c->resplen || pid <= 0 || *end != ' ' ||
        (size_t)(nl - end) != c->reqlen ||
        memcmp(end + 1, c->req, c->reqlen - 1) != 0) {
        violation(s, "conn %d: answer \"%.*s\" to \"%.*s\"", c->id,
                  (int)c->resplen, c->resp, (int)c->reqlen - 1, c->req);
        conn_close(c);
        conn_open(c);
        return;
    }
    if (c->pid && c->pid != pid)
        violation(s, "conn %d: answered by worker %ld, then by worker %ld",
                  c->id, (long)c->pid, pid);
    c->pid = (pid_t)pid;
    c->answered++;
    s->answered++;
    c->state = C_THINK;
    if (s->load_stopping) {
        conn_close(c);
        return;
    }
    /* Now and then a fresh connection, so that new connections meet the
     * chaos too, and every worker gets its share. */
    if (pick(100) == 0) {
        conn_close(c);
        conn_open(c);
        return;
    }
    ev_timer_set(&c->timer, uniform(0, THINK_MAX), 0.);
    ev_timer_start(s->loop, &c->timer);
}

static void on_conn_io(struct ev_loop *loop, ev_io *io, int revents)
{
    struct conn *c = io->data;
    ssize_t n;
    (void)loop;
    (void)revents;

    n = recv(c->fd, c->resp + c->resplen, sizeof(c->resp) - c->resplen, 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        conn_broke(c, n == 0 ? "EOF" : tu_errname(errno));
        return;
    }
    if (c->state != C_WAIT) {
        /* Nothing complete was asked: the worker answered half a line. */
        violation(c->s, "conn %d: %zd bytes \"%.*s\" with no complete line "
                  "sent", c->id, n, (int)n, c->resp + c->resplen);
        conn_close(c);
        conn_open(c);
        return;
    }
    c->resplen += (size_t)n;
    if (memchr(c->resp, '\n', c->resplen) || c->resplen == sizeof(c->resp))
        answer(c);
}

static void conn_open(struct conn *c)
{
    struct soak *s = c->s;
    struct sockaddr_in addr = { .sin_family = AF_INET,
                                .sin_port = htons((uint16_t)s->port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof(addr);

    c->pid = c->killed_by = 0;
    c->answered = 0;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(c->fd >= 0);
    /* Blocking: on loopback the kernel completes the handshake at once,
     * as long as the listen queue has room (it has: NCONN connections). */
    if (connect(c->fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        violation(s, "conn %d: connect: %s", c->id, tu_errname(errno));
        close(c->fd);
        c->fd = -1;
        c->state = C_CLOSED;
        return;
    }
    fcntl(c->fd, F_SETFL, O_NONBLOCK);
    getsockname(c->fd, (struct sockaddr *)&addr, &len);
    c->port = ntohs(addr.sin_port);
    ev_io_init(&c->io, on_conn_io, c->fd, EV_READ);
    c->io.data = c;
    ev_io_start(s->loop, &c->io);
    request_start(c);
}

/* Requests that outlived REQUEST_TIMEOUT: a stop lasts far less. */
static void on_tick(struct ev_loop *loop, ev_timer *t, int revents)
{
    struct soak *s = t->data;
    (void)revents;

    for (int i = 0; i < NCONN; i++) {
        struct conn *c = &s->conns[i];

        if ((c->state == C_WAIT || c->state == C_HALF) &&
            ev_now(loop) > c->deadline)
            conn_broke(c, "timeout");
    }
}

/* ---- the chaos driver ---------------------------------------------------- */

/* A random worker of the master's, through a pidfd (so the pid cannot be
 * recycled under us), at least @min_age seconds old; -1 if none. */
static int pick_worker(struct soak *s, double min_age, pid_t *pid)
{
    pid_t pids[MAX_WORKERS_SEEN];
    int n = workers(s, pids, MAX_WORKERS_SEEN), eligible = 0;
    pid_t chosen[MAX_WORKERS_SEEN];
    double now = uptime_now();

    for (int i = 0; i < n; i++) {
        char state;
        double start;

        if (pids[i] == s->stopped_pid)
            continue;
        if (proc_stat(pids[i], &state, &start) && now - start >= min_age)
            chosen[eligible++] = pids[i];
    }
    /* Keep one worker beside the victim: with none left, the listen queue
     * waits for a fork, and the soak is about deaths, not that wait. */
    if (eligible == 0 || n < 2)
        return -1;
    *pid = chosen[pick((unsigned)eligible)];
    return sys_pidfd_open(*pid);
}

/* Wait (briefly) until the SIGSTOP took effect; false if @pid is gone. */
static bool wait_stopped(pid_t pid)
{
    double end = tu_now() + 2.0;
    const struct timespec nap = { 0, 200 * 1000 };
    char state;

    while (proc_stat(pid, &state, NULL) && state != 'Z' && state != 'X') {
        if (state == 'T' || state == 't')
            return true;
        if (tu_now() > end)
            return false;
        nanosleep(&nap, NULL);
    }
    return false;
}

/*
 * SIGKILL a random worker, with the connections it holds marked first:
 * stop it, read its sockets, mark, kill (see the top of the file).
 */
static void chaos_kill(struct soak *s)
{
    unsigned long inodes[256];
    pid_t victim;
    int pidfd = pick_worker(s, MIN_VICTIM_AGE, &victim), n;

    if (pidfd < 0) {
        s->skips++;
        return;
    }
    if (sys_pidfd_signal(pidfd, SIGSTOP) < 0 || !wait_stopped(victim)) {
        /* It exited meanwhile, or (a machine this loaded?) did not stop
         * within 2 s: never leave a SIGSTOP behind. */
        sys_pidfd_signal(pidfd, SIGCONT);
        close(pidfd);
        s->skips++;
        return;
    }
    scan_fds(victim, inodes, 256, &n);
    mark_held(s, victim, inodes, n);
    for (int i = 0; i < NCONN; i++)
        if (s->conns[i].fd >= 0 && s->conns[i].pid == victim)
            s->conns[i].killed_by = victim;
    if (sys_pidfd_signal(pidfd, SIGKILL) < 0)
        violation(s, "pidfd_send_signal(%ld, SIGKILL): %s", (long)victim,
                  tu_errname(errno));
    else
        s->kills++;
    close(pidfd);
    if (s->verbose)
        print_message("chaos: SIGKILL %ld (%d sockets)\n", (long)victim, n);
}

static void cont_stopped(struct soak *s)
{
    if (s->stopped_fd < 0)
        return;
    /* ESRCH: it was killed meanwhile. */
    if (sys_pidfd_signal(s->stopped_fd, SIGCONT) < 0 && errno != ESRCH)
        violation(s, "SIGCONT %ld: %s", (long)s->stopped_pid, tu_errname(errno));
    close(s->stopped_fd);
    s->stopped_fd = -1;
    s->stopped_pid = 0;
    ev_timer_stop(s->loop, &s->cont_w);
}

static void on_cont(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)loop;
    (void)revents;
    cont_stopped(t->data);
}

/* SIGSTOP a random worker (one at a time), SIGCONT it within STOP_MAX. */
static void chaos_stop(struct soak *s)
{
    pid_t pid;
    int pidfd;

    if (s->stopped_fd >= 0 || (pidfd = pick_worker(s, 0, &pid)) < 0) {
        s->skips++;
        return;
    }
    if (sys_pidfd_signal(pidfd, SIGSTOP) < 0) {
        close(pidfd);
        return;
    }
    s->stopped_fd = pidfd;
    s->stopped_pid = pid;
    s->stops++;
    /* One stop in eight outlasts --grace: if a rolling restart asks that
     * worker to finish meanwhile, the master SIGKILLs it (retire_late()). */
    if (pick(8) == 0) {
        s->long_stops++;
        ev_timer_set(&s->cont_w, LONG_STOP, 0.);
    } else {
        ev_timer_set(&s->cont_w, uniform(STOP_MIN, STOP_MAX), 0.);
    }
    ev_timer_start(s->loop, &s->cont_w);
}

static void on_chaos(struct ev_loop *loop, ev_timer *t, int revents)
{
    struct soak *s = t->data;
    unsigned what = pick(100);
    (void)revents;

    /* Kills most: a rolling restart makes every worker too young to be
     * killed (MIN_VICTIM_AGE) for a while, and skips a kill. */
    if (what < 40) {
        chaos_kill(s);
    } else if (what < 65) {
        chaos_stop(s);
    } else if (what < 77) {
        kill(s->master, SIGHUP);       /* our unreaped child: never recycled */
        s->hups++;
    } else {
        unsigned n = FLOOD_MIN + pick(FLOOD_MAX - FLOOD_MIN + 1);

        for (unsigned i = 0; i < n; i++)
            kill(s->master, SIGUSR1);
        s->floods++;
        s->usr1s += n;
    }
    ev_timer_set(t, uniform(CHAOS_MIN, CHAOS_MAX), 0.);
    ev_timer_start(loop, t);
}

/* ---- the master, sampled ------------------------------------------------- */

static void on_sample(struct ev_loop *loop, ev_timer *t, int revents)
{
    struct soak *s = t->data;
    struct sample sm = { ev_now(loop) - s->t0, rss_kb(s->master),
                         scan_fds(s->master, NULL, 0, NULL) };
    (void)revents;

    if (waitpid(s->master, &s->status, WNOHANG) == s->master) {
        char how[64];

        s->reaped = true;
        violation(s, "the master %s during the run",
                  tu_describe_status(s->status, how, sizeof(how)));
        ev_break(loop, EVBREAK_ALL);
        return;
    }
    if (sm.rss_kb < 0 || sm.fds < 0)
        return;
    if (s->nsamples == s->cap_samples) {
        s->cap_samples = s->cap_samples ? s->cap_samples * 2 : 256;
        s->samples = realloc(s->samples, s->cap_samples * sizeof(*s->samples));
        assert_non_null(s->samples);
    }
    s->samples[s->nsamples++] = sm;
}

/* Max RSS and fds of the samples in [from, to) seconds. */
static void sample_max(const struct soak *s, double from, double to,
                       long *rss, int *fds)
{
    *rss = 0;
    *fds = 0;
    for (size_t i = 0; i < s->nsamples; i++) {
        const struct sample *sm = &s->samples[i];

        if (sm->t < from || sm->t >= to)
            continue;
        if (sm->rss_kb > *rss)
            *rss = sm->rss_kb;
        if (sm->fds > *fds)
            *fds = sm->fds;
    }
}

static void on_end(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)revents;
    ((struct soak *)t->data)->ended = true;
    ev_break(loop, EVBREAK_ALL);
}

/* ---- the run ------------------------------------------------------------- */

static double env_double(const char *name, double dflt)
{
    const char *v = getenv(name);
    char *end;
    double d;

    if (!v || !*v)
        return dflt;
    d = strtod(v, &end);
    if (*end || d <= 0)
        fail_msg("%s=\"%s\": not a positive number", name, v);
    return d;
}

/* evsig-prefork --workers NWORKERS --grace GRACE, in a process group of
 * its own, stdout and stderr on non-blocking pipes. */
static void start_server(struct soak *s)
{
    const char *exe = getenv("EVSIG_PREFORK");
    char workers_arg[16];
    int out[2], err[2];

    if (!exe)
        fail_msg("EVSIG_PREFORK is not set: run through meson test");
    snprintf(workers_arg, sizeof(workers_arg), "%d", NWORKERS);
    assert_succeeds(pipe2(out, O_CLOEXEC));
    assert_succeeds(pipe2(err, O_CLOEXEC));
    s->master = assert_succeeds(fork());
    if (s->master == 0) {
        /* Async-signal-safe calls only, then exec: no cmocka here. If the
         * test dies without its teardown (SIGKILL), the master goes too;
         * its workers follow it (PR_SET_PDEATHSIG in worker.c). */
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(out[1], STDOUT_FILENO);
        dup2(err[1], STDERR_FILENO);
        execl(exe, exe, "--workers", workers_arg, "--grace", GRACE, (char *)NULL);
        _exit(127);
    }
    setpgid(s->master, s->master);     /* both sides: no race with kill(-pgid) */
    soak_pgid = s->master;
    close(out[1]);
    close(err[1]);
    s->out = (struct reader){ .s = s, .fd = out[0], .line = out_line };
    s->err = (struct reader){ .s = s, .fd = err[0], .line = log_line };
    fcntl(out[0], F_SETFL, O_NONBLOCK);
    fcntl(err[0], F_SETFL, O_NONBLOCK);
    ev_io_init(&s->out.io, on_reader, out[0], EV_READ);
    ev_io_init(&s->err.io, on_reader, err[0], EV_READ);
    s->out.io.data = &s->out;
    s->err.io.data = &s->err;
    ev_io_start(s->loop, &s->out.io);
    ev_io_start(s->loop, &s->err.io);
}

static bool has_port(void *arg)
{
    return ((struct soak *)arg)->port > 0;
}

static bool all_workers(void *arg)
{
    struct soak *s = arg;
    pid_t pids[MAX_WORKERS_SEEN];

    return workers(s, pids, MAX_WORKERS_SEEN) == NWORKERS;
}

static bool load_done(void *arg)
{
    struct soak *s = arg;

    for (int i = 0; i < NCONN; i++)
        if (s->conns[i].state != C_CLOSED)
            return false;
    return true;
}

static bool never(void *arg)
{
    (void)arg;
    return false;
}

struct status_wait {
    struct soak *s;
    unsigned     before;
};

/* A status table printed after the one counted in @before, complete: its
 * rows arrive right after its heading, in the same write()s. */
static bool new_status(void *arg)
{
    struct status_wait *w = arg;

    return w->s->status_reports > w->before &&
           w->s->st_rows_serving + w->s->st_rows_other >= w->s->st_workers;
}

/*
 * After the chaos: wait until the master serves with exactly --workers
 * workers of the current generation, none stopped, none finishing. A
 * rolling restart, a replacement or an exit in progress settles in well
 * under a second; 20 s is for a loaded machine. Returns the workers seen.
 */
static int settle(struct soak *s)
{
    double end = tu_now() + 20;
    int n = 0;

    for (;;) {
        pid_t pids[MAX_WORKERS_SEEN];
        struct status_wait w = { s, s->status_reports };
        bool stopped = false;

        kill(s->master, SIGUSR1);
        tu_run_until(s->loop, new_status, &w, 2);
        n = workers(s, pids, MAX_WORKERS_SEEN);
        for (int i = 0; i < n; i++) {
            char state;

            if (proc_stat(pids[i], &state, NULL) && (state == 'T' || state == 't'))
                stopped = true;
        }
        if (n == NWORKERS && !stopped && s->st_workers == NWORKERS &&
            s->st_rows_serving == NWORKERS && s->st_rows_other == 0)
            return n;
        if (tu_now() > end) {
            violation(s, "after the chaos: %d workers (%s), status table: %d "
                      "workers, %d serving, %d old or finishing; want %d",
                      n, stopped ? "one stopped" : "none stopped",
                      s->st_workers, s->st_rows_serving, s->st_rows_other,
                      NWORKERS);
            return n;
        }
        tu_run_until(s->loop, never, NULL, 0.25);   /* a pause, pipes drained */
    }
}

static bool reaped(void *arg)
{
    struct soak *s = arg;

    if (!s->reaped && waitpid(s->master, &s->status, WNOHANG) == s->master)
        s->reaped = true;
    return s->reaped && s->out.fd < 0 && s->err.fd < 0;
}

/* SIGTERM: the master exits 0 and leaves no process of its group. */
static void shut_down(struct soak *s)
{
    char how[64];

    kill(s->master, SIGTERM);
    if (!tu_run_until(s->loop, reaped, s, 15 + atof(GRACE))) {
        violation(s, "the master did not exit within %g s of SIGTERM "
                  "(or its pipes stayed open)", 15 + atof(GRACE));
        return;
    }
    if (!WIFEXITED(s->status) || WEXITSTATUS(s->status) != 0)
        violation(s, "the master %s after SIGTERM, expected exit 0",
                  tu_describe_status(s->status, how, sizeof(how)));
    if (kill(-s->master, 0) == 0 || errno != ESRCH)
        violation(s, "a process of the server's group is left after SIGTERM");
}

static void report(struct soak *s, int workers_at_end)
{
    double q = s->seconds / 4;
    long rss1, rss2, rss3, rss4;
    int fds1, fds2, fds3, fds4;
    unsigned long failed = 0;

    for (int i = 0; i <= UNEXPLAINED; i++)
        failed += s->failed[i];
    sample_max(s, 0, q, &rss1, &fds1);
    sample_max(s, 3 * q, s->seconds + 1, &rss4, &fds4);

    print_message("soak: %.0f s, seed %" PRIu64 ", %d workers, %d connections\n",
                  s->seconds, s->seed, NWORKERS, NCONN);
    print_message("requests: %lu sent, %lu answered, %lu failed\n",
                  s->sent, s->answered, failed);
    print_message("failures: %lu worker SIGKILLed by the chaos driver, %lu "
                  "worker SIGKILLed by the master after --grace, %lu idle "
                  "connection closed by a finishing worker (retried), "
                  "%lu unexplained\n", s->failed[BY_KILL],
                  s->failed[BY_GRACE_KILL], s->failed[BY_FINISHING],
                  s->failed[UNEXPLAINED]);
    print_message("chaos: %u SIGKILL, %u SIGSTOP+SIGCONT (%u longer than "
                  "--grace), %u SIGHUP, %u SIGUSR1 floods (%u signals, %u "
                  "status tables printed), %u skipped (no eligible worker)\n",
                  s->kills, s->stops, s->long_stops, s->hups, s->floods,
                  s->usr1s, s->status_reports, s->skips);
    print_message("server log: %u workers started, %u exited 0, %u killed by "
                  "SIGKILL (%u after --grace)\n", s->log_started, s->log_exit0,
                  s->log_sigkills, s->log_grace_kills);
    print_message("workers at the end: %d (--workers %d)\n", workers_at_end,
                  NWORKERS);
    sample_max(s, q, 2 * q, &rss2, &fds2);
    sample_max(s, 2 * q, 3 * q, &rss3, &fds3);
    print_message("master RSS, max per quarter: %ld / %ld / %ld / %ld KiB "
                  "(last <= first + %d)\n", rss1, rss2, rss3, rss4, RSS_SLACK_KB);
    print_message("master fds, max per quarter: %d / %d / %d / %d "
                  "(last <= first + %d)\n", fds1, fds2, fds3, fds4, FD_SLACK);
    TU_FIGURE("soak_requests_sent", "%lu", s->sent);
    TU_FIGURE("soak_requests_answered", "%lu", s->answered);
    TU_FIGURE("soak_requests_failed", "%lu", failed);

    if (s->samples == NULL || rss1 <= 0 || rss4 <= 0)
        violation(s, "the master was not sampled in both quarters");
    else if (rss4 > rss1 + RSS_SLACK_KB)
        violation(s, "the master's RSS grew: %ld KiB in the first quarter, "
                  "%ld in the last", rss1, rss4);
    if (fds4 > fds1 + FD_SLACK)
        violation(s, "the master's fds grew: %d in the first quarter, %d in "
                  "the last", fds1, fds4);
    if (s->log_sigkills != s->kills + s->log_grace_kills)
        violation(s, "the master saw %u workers killed by SIGKILL; we sent %u "
                  "and it sent %u", s->log_sigkills, s->kills, s->log_grace_kills);
    if (s->answered == 0 || s->kills == 0 || s->hups == 0)
        violation(s, "the soak did too little to mean anything");
}

static void test_prefork_survives_a_chaos_soak(void **state)
{
    struct soak *s = *state;
    const char *seed = getenv("EVSIG_SOAK_SEED");
    int workers_at_end;

    s->seconds = env_double("EVSIG_SOAK_SECONDS", 60);
    s->verbose = getenv("EVSIG_SOAK_VERBOSE") != NULL;
    s->seed = seed && *seed ? strtoull(seed, NULL, 0)
                            : (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    rng_state = s->seed;
    print_message("soak: seed %" PRIu64 " (EVSIG_SOAK_SEED=%" PRIu64
                  " to replay its choices), %.0f s\n", s->seed, s->seed,
                  s->seconds);

    start_server(s);
    assert_true(tu_run_until(s->loop, has_port, s, 10));
    assert_true(tu_run_until(s->loop, all_workers, s, 10));

    for (int i = 0; i < NCONN; i++)
        conn_open(&s->conns[i]);
    s->t0 = ev_now(s->loop);
    ev_timer_set(&s->chaos_w, uniform(CHAOS_MIN, CHAOS_MAX), 0.);
    ev_timer_set(&s->sample_w, 0., SAMPLE_EVERY);
    ev_timer_set(&s->tick_w, 0.1, 0.1);
    ev_timer_set(&s->end_w, s->seconds, 0.);
    ev_timer_start(s->loop, &s->chaos_w);
    ev_timer_start(s->loop, &s->sample_w);
    ev_timer_start(s->loop, &s->tick_w);
    ev_timer_start(s->loop, &s->end_w);
    ev_run(s->loop, 0);

    /* The end: no more chaos, every worker running again, the requests
     * under way answered (or failed) and no new ones. */
    ev_timer_stop(s->loop, &s->chaos_w);
    ev_timer_stop(s->loop, &s->sample_w);
    cont_stopped(s);
    s->load_stopping = true;
    for (int i = 0; i < NCONN; i++)
        if (s->conns[i].state == C_THINK)
            conn_close(&s->conns[i]);
    if (s->ended && !tu_run_until(s->loop, load_done, s, REQUEST_TIMEOUT + 1))
        violation(s, "requests still unanswered %g s after the end",
                  REQUEST_TIMEOUT + 1);
    ev_timer_stop(s->loop, &s->tick_w);
    for (int i = 0; i < NCONN; i++)
        conn_close(&s->conns[i]);

    workers_at_end = s->reaped ? 0 : settle(s);
    if (!s->reaped)
        shut_down(s);
    report(s, workers_at_end);

    if (s->nviolations) {
        print_message("the server's log, last lines:\n");
        for (unsigned i = s->ntail > LOG_TAIL ? s->ntail - LOG_TAIL : 0;
             i < s->ntail; i++)
            print_message("  %s\n", s->tail[i % LOG_TAIL]);
        for (unsigned i = 0; i < s->nviolations && i < MAX_VIOLATIONS; i++)
            print_message("violation: %s\n", s->violations[i]);
        fail_msg("%u violation%s (seed %" PRIu64 ")", s->nviolations,
                 s->nviolations == 1 ? "" : "s", s->seed);
    }
}

/* ---- fixtures ------------------------------------------------------------ */

static struct sigaction old_term, old_int;

static int setup(void **state)
{
    struct soak *s = calloc(1, sizeof(*s));
    struct sigaction sa = { .sa_handler = on_fatal };

    if (!s)
        return -1;
    *state = s;
    if (tu_setup(state) < 0)
        return -1;
    s->loop = tu_new_loop();
    s->out.fd = s->err.fd = s->stopped_fd = -1;
    for (int i = 0; i < NCONN; i++) {
        struct conn *c = &s->conns[i];

        *c = (struct conn){ .s = s, .id = i, .fd = -1 };
        ev_timer_init(&c->timer, on_conn_timer, 0., 0.);
        c->timer.data = c;
    }
    ev_timer_init(&s->chaos_w, on_chaos, 0., 0.);
    ev_timer_init(&s->sample_w, on_sample, 0., 0.);
    ev_timer_init(&s->tick_w, on_tick, 0., 0.);
    ev_timer_init(&s->end_w, on_end, 0., 0.);
    ev_timer_init(&s->cont_w, on_cont, 0., 0.);
    s->chaos_w.data = s->sample_w.data = s->tick_w.data = s;
    s->end_w.data = s->cont_w.data = s;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, &old_term);
    sigaction(SIGINT, &sa, &old_int);
    return 0;
}

static int teardown(void **state)
{
    struct soak *s = *state;

    if (s->master > 0 && !s->reaped) {
        kill(-s->master, SIGKILL);
        waitpid(s->master, &s->status, 0);
    }
    if (s->master > 0)
        kill(-s->master, SIGKILL);     /* workers a failed run left */
    soak_pgid = 0;
    tu_put_back_exact(SIGTERM, &old_term);
    tu_put_back_exact(SIGINT, &old_int);
    if (s->stopped_fd >= 0)
        close(s->stopped_fd);
    for (int i = 0; i < NCONN; i++)
        conn_close(&s->conns[i]);
    ev_timer_stop(s->loop, &s->chaos_w);
    ev_timer_stop(s->loop, &s->sample_w);
    ev_timer_stop(s->loop, &s->tick_w);
    ev_timer_stop(s->loop, &s->end_w);
    ev_timer_stop(s->loop, &s->cont_w);
    if (s->out.fd >= 0)
        close(s->out.fd);
    if (s->err.fd >= 0)
        close(s->err.fd);
    ev_loop_destroy(s->loop);
    for (unsigned i = 0; i < LOG_TAIL; i++)
        free(s->tail[i]);
    for (unsigned i = 0; i < s->nviolations && i < MAX_VIOLATIONS; i++)
        free(s->violations[i]);
    free(s->lives);
    free(s->samples);
    free(s);
    return tu_teardown(state);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_prefork_survives_a_chaos_soak,
                                        setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

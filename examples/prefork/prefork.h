/* SPDX-License-Identifier: MIT */
/*
 * prefork.h - the pieces of evsig-prefork and how they talk to each other.
 *
 *   prefork.c  options, main(): sets up the master and runs it (or the demo)
 *   master.c   the master: listens, forks and watches workers, restarts
 *              them, shuts down; everything happens on libev's default loop
 *   worker.c   a worker: accepts on the inherited socket and echoes lines
 *   demo.c     --demo: a client on the master's loop that drives the tour
 *   log.c      one timestamped line per event on stderr
 *
 * One process is either the master or a worker. A worker is born inside
 * master.c (evsig_fork_and_watch()) and never returns into the master's
 * code: it calls exit() with worker_run()'s result.
 */
#ifndef PREFORK_H
#define PREFORK_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <evsig.h>

/* What the command line asked for (prefork.c parses it). */
struct options {
    int    port;                 /* 0: let the kernel pick one */
    int    workers;              /* how many workers serve at a time */
    double grace;                /* seconds a worker gets to finish */
    bool   quiet;                /* no log lines */
    bool   demo;                 /* run the self-driving tour */
    /* Hidden options for the integration tests. */
    bool   worker_ignores_term;  /* workers ignore SIGTERM */
    bool   crash_on_start;       /* workers exit 3 at once */
    bool   crash_on_restart;     /* workers forked after a SIGHUP do */
};

#define MAX_WORKERS 64

/*
 * What a worker tells the master over the report pipe after every request:
 * its running total, so a record the pipe could not take is made up for by
 * the next one. 8 bytes, far below PIPE_BUF, so each write() is atomic and
 * records of several workers never interleave.
 */
struct report {
    pid_t    pid;
    uint32_t served;
};

/* ---- log.c ---- */

/* Name the process in log lines ("master", "worker"); the pid is added. */
void log_set_role(const char *role);
void log_set_quiet(bool quiet);
/* One line: "2026-11-22T10:00:00.123 [master 1234] <message>" on stderr,
 * written with a single write() so lines of several processes never mix. */
void log_event(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* "exited 3", "killed by SIGKILL", "killed by SIGSEGV (core dumped)". */
const char *describe_status(int status, char *buf, size_t size);
/* "12 ms", "3.4 s". */
const char *describe_duration(double seconds, char *buf, size_t size);

/* ---- worker.c ---- */

struct worker_config {
    int   listen_fd;     /* the master's listening socket, inherited */
    int   report_fd;     /* write end of the report pipe */
    pid_t master;        /* to notice that the master is gone */
    unsigned generation; /* how many SIGHUPs the master had seen */
    struct options opt;
};

/*
 * The worker's whole life, on libev's default loop in the child of
 * evsig_fork_and_watch(). @blocked is the signal mask to restore once the
 * worker's own handlers are in place (the master blocks the signals a
 * worker handles around the fork, see master.c). Returns the exit code.
 */
int worker_run(struct ev_loop *loop, const struct worker_config *cfg,
               const sigset_t *blocked);

/* The signals a worker handles itself; blocked from fork to worker_run(). */
void worker_signals(sigset_t *set);

/* ---- master.c ---- */

struct master;

/* Hooks for the demo; all optional. */
struct master_hooks {
    void (*after_iteration)(struct master *m, void *data); /* after each loop pass */
    void (*in_worker)(void *data);  /* in a new worker: stop your watchers */
    void  *data;
};

/* Exits grouped by status, for the summary. */
struct exit_count {
    int      status;     /* waitpid() form */
    unsigned count;
};

/* What the master counts over its life. */
struct master_stats {
    unsigned long served;           /* requests, as the workers reported */
    unsigned      started;          /* workers forked */
    unsigned      replaced_crashed; /* forked because one died unasked */
    unsigned      replaced_rolling; /* forked by a rolling restart */
    unsigned      killed_after_grace;
    struct exit_count exits[8];     /* by status; the rest go to other_exits */
    unsigned      nexits;
    unsigned      other_exits;
};

/* Listen, open the report pipe, install the master's signal handlers.
 * Returns NULL (after logging why) on failure. */
struct master *master_new(struct ev_loop *loop, const struct options *opt,
                          const struct master_hooks *hooks);
int  master_port(const struct master *m);
/* Fork the workers and serve until SIGTERM/SIGINT, then shut down. Returns
 * the master's exit code (0 once no worker is left). */
int  master_run(struct master *m);
void master_free(struct master *m);

/* For the demo (read-only views of the master's state). */
const struct master_stats *master_stats(const struct master *m);
/* Fills @pids with the serving workers' pids (at most @max); returns how many. */
int  master_workers(const struct master *m, pid_t *pids, int max);
/* Whether a rolling restart is still under way. */
bool master_restarting(const struct master *m);

/* ---- demo.c ---- */

/* Prepares the tour; call before master_run(). NULL on failure. */
struct demo *demo_new(struct ev_loop *loop);
void demo_hooks(struct demo *d, struct master_hooks *hooks);
/* After master_run(), with its result: prints the summary; returns 0 if
 * the tour completed and the shutdown left no worker. */
int  demo_finish(struct demo *d, struct master *m, int code);
void demo_free(struct demo *d);

#endif /* PREFORK_H */

/* SPDX-License-Identifier: MIT */
/*
 * timeout.c - evsig-timeout: run a command, and signal it if it runs too
 * long. A drop-in for coreutils' timeout(1), built on evsig and libev.
 *
 *   evsig-timeout [OPTION] DURATION COMMAND [ARG]...
 *
 * coreutils' timeout is a signal handler and sigsuspend() around
 * waitpid(); here the same rules are three kinds of watcher on libev's
 * default loop, and everything happens in their callbacks, on the loop:
 *
 * - the command, started with evsig_spawn() and watched from birth (its
 *   exit callback ends the loop). Without --foreground it runs in a
 *   process group of its own (EVSIG_SPAWN_SETPGROUP), which is signalled
 *   with it, so what it started is stopped too; a signal other than KILL
 *   and CONT is followed by CONT, so a stopped command sees it. (coreutils
 *   moves itself into a new group instead and signals that, ignoring the
 *   signal itself; here timeout never signals itself.) An exec failure is
 *   evsig_spawn()'s own error, so it becomes 126 or 127 with the errno
 *   coreutils prints, and no status needs decoding.
 * - one ev_timer, armed with DURATION. When it fires -- or SIGALRM comes:
 *   coreutils' timer is SIGALRM, so scripts may send it -- the command has
 *   timed out and gets the -s signal. With -k, the first signal sent
 *   (timeout or forwarded) re-arms the same timer with the -k duration
 *   and makes KILL the signal its expiry sends; later signals do not
 *   re-arm it. One timer, as coreutils has one alarm: a forwarded signal
 *   with -k replaces the DURATION timer.
 * - evsig watchers for SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGALRM and the
 *   -s signal: each delivery is passed on to the command (and its group)
 *   from the loop, never from a handler. They are EVSIG_NOREF: waiting for
 *   a signal is not what keeps timeout running.
 *
 * How timeout ends, after the command's exit was reported: its exit
 * status; 124 if it timed out (unless --preserve-status); 128+n if a
 * signal n killed it after a timeout, which with KILL also overrides
 * the 124 (so -k shows as 137); and if a signal killed it without a
 * timeout, timeout dies of the same signal itself -- core dumps off
 * first, PR_SET_DUMPABLE -- so that its parent sees what happened to the
 * command (a shell's Ctrl-C handling depends on it).
 *
 * The start: as coreutils, SIGALRM and SIGCHLD are unblocked (a blocked
 * inherited mask must not stop the timeout; the rest of the mask is kept,
 * so a blocked TERM stays unforwarded, as there), SIGTTIN and SIGTTOU are
 * ignored (a background command must not stop timeout with it); an
 * inherited SIG_IGN for SIGCHLD is replaced by libev's and evsig's own
 * handling. A child timeout did not start (inherited through exec()) is
 * none of its business: evsig watches the command's pid only (the PIDFD
 * backend never reaps another; LIBEV's reaps it but keeps it apart).
 *
 * The command starts with every signal at its default action and an empty
 * signal mask, as evsig_spawn() starts every child: coreutils passes on
 * the dispositions it did not handle itself and its mask. That is the
 * documented difference.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ev.h>
#include <evsig.h>

#include "timeout.h"

/*
 * A timer longer than this never fires in practice; libev is not asked
 * to keep one (coreutils saturates the same way: an out-of-range DURATION
 * is the longest its timer takes). About 31 years.
 */
#define TIMER_MAX 1e9

/* The signals timeout passes on to the command, besides -s's. */
static const int forwarded[] = { SIGALRM, SIGINT, SIGQUIT, SIGHUP, SIGTERM };
#define NFORWARDED (sizeof(forwarded) / sizeof(forwarded[0]))

struct run {
    struct ev_loop        *loop;
    const struct options  *opt;
    pid_t                  pid;          /* the command; 0 once reported */
    int                    status;       /* its waitpid() status */
    bool                   timed_out;
    int                    term_signal;  /* sent on timeout; KILL after -k */
    double                 kill_after;   /* 0 once the KILL timer is armed */
    ev_timer               timer;
    evsig_watcher          watchers[NFORWARDED + 1];
    int                    watched[NFORWARDED + 1];  /* their signals */
    size_t                 nwatchers;
};

/* (Re)arm the one timer; a duration of 0 or beyond TIMER_MAX leaves it
 * stopped (never fires). */
static void arm(struct run *r, double seconds)
{
    ev_timer_stop(r->loop, &r->timer);
    if (seconds > 0 && seconds <= TIMER_MAX) {
        ev_timer_set(&r->timer, seconds, 0.);
        ev_timer_start(r->loop, &r->timer);
    }
}

/* Send @sig to the command, the way coreutils' cleanup() does. */
static void send_signal(struct run *r, int sig)
{
    if (r->pid == 0)
        return;          /* reported already: the pid may be another's */
    if (r->kill_after > 0) {
        r->term_signal = SIGKILL;
        arm(r, r->kill_after);
        r->kill_after = 0;
    }
    if (r->opt->verbose) {
        char buf[16];
        char before[64];

        snprintf(before, sizeof(before), "sending signal %s to command ",
                 signal_name(sig, buf, sizeof(buf)));
        say(before, r->opt->command[0], NULL);
    }
    /* Errors are ignored, as coreutils ignores them: ESRCH means the
     * command (or its group) is gone, and its exit is on its way.
     * evsig_kill() never hits a recycled pid (a pidfd, or ESRCH for a
     * child evsig reaped). The group's id is the command's pid, which the
     * kernel does not hand out again while the group has members, nor
     * (PIDFD) while the command is unreported. XXX: under LIBEV, libev
     * may reap the command in the loop iteration that reports it, before
     * this runs: an emptied group's id could then be reused, within that
     * one iteration, by a new group leader. */
    (void)evsig_kill(r->loop, r->pid, sig);
    if (!r->opt->foreground) {
        (void)kill(-r->pid, sig);
        if (sig != SIGKILL && sig != SIGCONT) {
            (void)evsig_kill(r->loop, r->pid, SIGCONT);
            (void)kill(-r->pid, SIGCONT);
        }
    }
}

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct run *r = w->data;

    (void)loop;
    (void)revents;
    r->timed_out = true;
    send_signal(r, r->term_signal);
}

static void on_signal(struct ev_loop *loop, const evsig_info *info, void *data)
{
    struct run *r = data;

    (void)loop;
    if (info->signo == SIGALRM) {
        r->timed_out = true;
        send_signal(r, r->term_signal);
    } else {
        send_signal(r, info->signo);
    }
}

static void on_exit_cb(struct ev_loop *loop, pid_t pid, int status, void *data)
{
    struct run *r = data;

    (void)pid;
    r->pid = 0;
    r->status = status;
    ev_timer_stop(loop, &r->timer);
    ev_break(loop, EVBREAK_ALL);
}

/* Forward @sig; a second watcher for the same signal is not started. */
static int watch(struct run *r, int sig)
{
    for (size_t i = 0; i < r->nwatchers; i++)
        if (r->watched[i] == sig)
            return 0;
    if (evsig_watch(r->loop, &r->watchers[r->nwatchers], sig, on_signal, r,
                    EVSIG_NOREF) < 0)
        return -1;
    r->watched[r->nwatchers++] = sig;
    return 0;
}

/*
 * The process state coreutils' timeout sets up before it forks: SIGALRM
 * and SIGCHLD unblocked, SIGTTIN and SIGTTOU ignored, and every forwarded
 * signal caught. An inherited SIG_IGN for SIGCHLD (with which the kernel
 * would reap the command itself) needs nothing here: libev's default loop
 * installs its SIGCHLD handler when it is made, and evsig owns SIGCHLD
 * from the first watched child on. 0, or -1 with a message printed.
 */
static int setup_signals(struct run *r)
{
    int sig = r->opt->signal;
    sigset_t set;

    sigemptyset(&set);
    sigaddset(&set, SIGALRM);
    sigaddset(&set, SIGCHLD);
    if (sigprocmask(SIG_UNBLOCK, &set, NULL) < 0)
        goto fail;
    if (evsig_signal(NULL, SIGTTIN, EVSIG_IGN, NULL, NULL) < 0 ||
        evsig_signal(NULL, SIGTTOU, EVSIG_IGN, NULL, NULL) < 0)
        goto fail;
    for (size_t i = 0; i < NFORWARDED; i++)
        if (watch(r, forwarded[i]) < 0)
            goto fail;
    /* The -s signal too, where it can be caught. SIGCHLD is timeout's own
     * business and SIGTTIN/SIGTTOU stay ignored, as with coreutils (whose
     * later settings win there). */
    if (sig != 0 && sig != SIGKILL && sig != SIGSTOP && sig != SIGCHLD &&
        sig != SIGTTIN && sig != SIGTTOU && watch(r, sig) < 0)
        goto fail;
    return 0;

fail:
    say("cannot set up signal handling: ", NULL, strerror(errno));
    return -1;
}

/* --- starting the command ------------------------------------------------- */

/*
 * Where execvp() would have found @name: itself if it has a '/', else the
 * first regular, executable dir/name along PATH (or evsig_spawn()'s
 * "/bin:/usr/bin" without one). Allocated; NULL with errno set if none.
 * Only for the /bin/sh retry, after evsig_spawn() said ENOEXEC: checking
 * with access() first is a race, but with the file evsig_spawn() just
 * tried, which is there.
 */
static char *find_program(const char *name)
{
    const char *p = getenv("PATH");
    size_t nlen = strlen(name);

    if (strchr(name, '/'))
        return strdup(name);
    if (!p)
        p = "/bin:/usr/bin";
    for (;;) {
        const char *end = strchrnul(p, ':');
        size_t dlen = (size_t)(end - p);
        char *path = malloc(dlen + 1 + nlen + 1);
        struct stat st;

        if (!path)
            return NULL;
        /* An empty entry is the current directory: the name as it is. */
        snprintf(path, dlen + 1 + nlen + 1, "%.*s%s%s", (int)dlen, p,
                 dlen ? "/" : "", name);
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
            access(path, X_OK) == 0)
            return path;
        free(path);
        if (!*end)
            break;
        p = end + 1;
    }
    errno = ENOEXEC;
    return NULL;
}

/*
 * execvp()'s rule, which coreutils' timeout inherits: a file the kernel
 * does not know how to run (ENOEXEC: a script without a #! line) is run
 * by /bin/sh, with its path as $0 -- "/bin/sh path arg...". evsig_spawn()
 * reports ENOEXEC and leaves the retry to its caller.
 */
static pid_t spawn_with_sh(struct run *r, evsig_spawn_options *so)
{
    char *const *cmd = r->opt->command;
    size_t argc = 0;
    char **argv;
    char *path;
    pid_t pid = -1;
    int err;

    while (cmd[argc])
        argc++;
    path = find_program(cmd[0]);
    if (!path)
        return -1;
    argv = calloc(argc + 2, sizeof(*argv));
    if (argv) {
        argv[0] = (char *)"/bin/sh";
        argv[1] = path;
        for (size_t i = 1; i <= argc; i++)   /* cmd[argc] is the NULL */
            argv[i + 1] = cmd[i];
        so->file = "/bin/sh";
        so->argv = argv;
        pid = evsig_spawn(r->loop, so, NULL, on_exit_cb, r);
    }
    err = errno;
    free(argv);
    free(path);
    errno = err;
    return pid;
}

/* Start the command; its pid, or -1 with errno set. */
static pid_t spawn(struct run *r)
{
    evsig_spawn_options so = {
        .file  = r->opt->command[0],
        .argv  = r->opt->command,
        .flags = r->opt->foreground ? 0 : EVSIG_SPAWN_SETPGROUP,
        /* .stdio zero-filled: fds 0, 1 and 2 are the caller's */
    };
    pid_t pid;

    pid = evsig_spawn(r->loop, &so, NULL, on_exit_cb, r);
    if (pid < 0 && errno == ENOEXEC)
        pid = spawn_with_sh(r, &so);
    return pid;
}

/*
 * The status for a command that could not be started: 127 if it was not
 * found, 126 if it was found but could not be run -- what coreutils
 * derives from execvp()'s errno -- and 125 where the process itself could
 * not be made (coreutils' failed fork()). XXX: ENOMEM and EMFILE can also
 * come from the exec itself, which coreutils would call 126;
 * evsig_spawn() does not say which step failed.
 */
static int spawn_failure_status(int err)
{
    switch (err) {
    case ENOENT:
        return EXIT_ENOENT;
    case EAGAIN: case ENOMEM: case EMFILE: case ENFILE: case EINVAL:
        return EXIT_CANCELED;
    default:
        return EXIT_CANNOT_INVOKE;
    }
}

/* --- the end ---------------------------------------------------------------- */

/*
 * timeout's exit status from the command's waitpid() status; *@raise_sig
 * gets the signal timeout should die of itself (0: none).
 */
static int exit_status(const struct run *r, int *raise_sig)
{
    bool preserve = r->opt->preserve_status;
    int status;

    *raise_sig = 0;
    if (WIFEXITED(r->status)) {
        status = WEXITSTATUS(r->status);
    } else if (WIFSIGNALED(r->status)) {
        int sig = WTERMSIG(r->status);

        if (WCOREDUMP(r->status))
            say("the monitored command dumped core", NULL, NULL);
        if (!r->timed_out)
            *raise_sig = sig;
        /* KILL is told apart from a plain timeout even without
         * --preserve-status: -k shows as 137. (coreutils gets 137 without
         * --foreground by killing its own group, itself included.) */
        if (r->timed_out && sig == SIGKILL)
            preserve = true;
        status = 128 + sig;   /* what a shell says of a signalled command */
    } else {
        /* evsig reports exits only, never a stop. */
        say("unknown status from command", NULL, NULL);
        status = EXIT_FAILURE;
    }
    if (r->timed_out && !preserve)
        status = EXIT_TIMEDOUT;
    return status;
}

/*
 * Die of @sig, as the command did, so the parent sees what happened to
 * it; without a core dump of timeout's own (the command's, if any, is the
 * one that matters). Returns if @sig does not kill (its default action is
 * to ignore it) or core dumps cannot be turned off.
 */
static void die_of(int sig)
{
    sigset_t set;

    if (prctl(PR_SET_DUMPABLE, 0) < 0) {
        say("warning: disabling core dumps failed: ", NULL, strerror(errno));
        return;
    }
    signal(sig, SIG_DFL);
    sigemptyset(&set);
    sigaddset(&set, sig);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    raise(sig);
}

int main(int argc, char **argv)
{
    struct options opt;
    struct run r = { 0 };
    int status, raise_sig = 0;

    parse_args(argc, argv, &opt);
    r.opt = &opt;
    r.term_signal = opt.signal;
    r.kill_after = opt.kill_after;
    r.loop = ev_default_loop(0);
    if (!r.loop) {
        say("cannot initialise libev", NULL, NULL);
        return EXIT_CANCELED;
    }
    ev_timer_init(&r.timer, on_timer, 0., 0.);
    r.timer.data = &r;

    if (setup_signals(&r) < 0) {
        status = EXIT_CANCELED;
    } else if ((r.pid = spawn(&r)) < 0) {
        int err = errno;
        char why[128];

        r.pid = 0;
        snprintf(why, sizeof(why), ": %s", strerror(err));
        say("failed to run command ", opt.command[0], why);
        status = spawn_failure_status(err);
    } else {
        arm(&r, opt.duration);
        ev_run(r.loop, 0);
        if (r.pid != 0) {   /* the loop ended without the command's exit */
            say("error waiting for command", NULL, NULL);
            status = EXIT_CANCELED;
        } else {
            status = exit_status(&r, &raise_sig);
        }
    }

    /* Put back what evsig changed, before dying of a signal with the
     * default action; no watcher is left on the loop to destroy. */
    ev_timer_stop(r.loop, &r.timer);
    evsig_reset();
    ev_loop_destroy(r.loop);
    if (raise_sig)
        die_of(raise_sig);
    return status;
}

/* SPDX-License-Identifier: MIT */
/*
 * timeout.h - the pieces of evsig-timeout and what they share.
 *
 *   args.c     the command line: options, durations, signal names and
 *              numbers, --help and --version, usage errors
 *   timeout.c  main(): starts the command with evsig_spawn(), times it
 *              with an ev_timer, forwards signals, and exits as
 *              coreutils' timeout(1) does
 *
 * Everything runs on one thread, on libev's default loop.
 */
#ifndef TIMEOUT_H
#define TIMEOUT_H

#include <stdbool.h>
#include <stddef.h>

/* coreutils' exit statuses (timeout(1), and env, nohup, ...). */
#define EXIT_TIMEDOUT      124   /* the command timed out */
#define EXIT_CANCELED      125   /* timeout itself failed */
#define EXIT_CANNOT_INVOKE 126   /* the command was found but not run */
#define EXIT_ENOENT        127   /* the command was not found */

/* What the command line asked for. */
struct options {
    double duration;         /* seconds; 0: never time out */
    double kill_after;       /* seconds from the first signal to KILL; 0: none */
    int    signal;           /* sent on timeout; 0 sends nothing */
    bool   foreground;       /* signal only the command, not its group */
    bool   preserve_status;  /* the command's status even after a timeout */
    bool   verbose;          /* report every signal sent, on stderr */
    char **command;          /* the command's argv, NULL-terminated */
};

/* ---- args.c ---- */

/*
 * Fill @o from the command line. On a usage error, prints the reason and
 * the --help hint on stderr and exits 125; --help and --version print on
 * stdout and exit 0 (125 if stdout cannot be written).
 */
void parse_args(int argc, char **argv, struct options *o);

/* The program's name in messages: argv[0], as coreutils uses it. */
const char *program_name(void);

/*
 * A signal's name for messages, as coreutils' sig2str() spells it on
 * Linux: without "SIG", "EXIT" for 0, "POLL" for SIGIO, "RTMIN+n" /
 * "RTMAX-n"; the number in @buf if it has no name.
 */
const char *signal_name(int sig, char *buf, size_t size);

/*
 * One line on stderr: "<program>: <before><arg quoted><after>", where
 * @arg (if not NULL) is between single quotes as coreutils' quote()
 * writes it in the C locale: \ and ' escaped with a backslash, control
 * and non-ASCII bytes as C escapes. @after may be NULL.
 */
void say(const char *before, const char *arg, const char *after);

#endif /* TIMEOUT_H */

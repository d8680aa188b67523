/* SPDX-License-Identifier: MIT */
/*
 * args.c - evsig-timeout's command line, read as coreutils' timeout(1)
 * reads it.
 *
 * The rules are coreutils 9.1's, so that scripts see no difference:
 * getopt_long() with "+" (options stop at the first operand, so the
 * command's own options are left alone); durations are floating point
 * (strtod(): decimal, hex, "inf") with one optional suffix s, m, h or d,
 * not negative, not NaN, and 0 disables; a signal is a name with or
 * without "SIG" in any case (evsig_signum() knows them), a number, or 0 /
 * "EXIT" (send nothing). Numbers are taken the way coreutils takes them,
 * as shell statuses: 130 is 130 & 0x7f = SIGINT (a ksh 256+n too), and
 * "SIG15" is 15. Every usage error prints its reason and the --help hint
 * and exits 125.
 *
 * Messages name the program by argv[0] and quote operands as coreutils
 * does in the C locale (evsig-timeout never calls setlocale()).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <evsig.h>

#include "timeout.h"

#ifndef EVSIG_TIMEOUT_VERSION
#define EVSIG_TIMEOUT_VERSION "unknown"
#endif

static const char *prog = "evsig-timeout";

const char *program_name(void)
{
    return prog;
}

/* --- messages ------------------------------------------------------------- */

static void put_quoted(const char *s, FILE *f)
{
    putc('\'', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '\\':  fputs("\\\\", f); break;
        case '\'':  fputs("\\'", f); break;
        case '\a':  fputs("\\a", f); break;
        case '\b':  fputs("\\b", f); break;
        case '\f':  fputs("\\f", f); break;
        case '\n':  fputs("\\n", f); break;
        case '\r':  fputs("\\r", f); break;
        case '\t':  fputs("\\t", f); break;
        case '\v':  fputs("\\v", f); break;
        default:
            if (*p < 0x20 || *p >= 0x7f)   /* control, DEL, not ASCII */
                fprintf(f, "\\%03o", *p);
            else
                putc(*p, f);
        }
    }
    putc('\'', f);
}

void say(const char *before, const char *arg, const char *after)
{
    flockfile(stderr);
    fprintf(stderr, "%s: %s", prog, before);
    if (arg)
        put_quoted(arg, stderr);
    fprintf(stderr, "%s\n", after ? after : "");
    funlockfile(stderr);
}

static _Noreturn void usage_error(void)
{
    fprintf(stderr, "Try '%s --help' for more information.\n", prog);
    exit(EXIT_CANCELED);
}

/* coreutils' close_stdout(): output that was not written is an error. */
static _Noreturn void exit_after_output(void)
{
    if (fclose(stdout) != 0) {
        fprintf(stderr, "%s: write error: %s\n", prog, strerror(errno));
        exit(EXIT_CANCELED);
    }
    exit(EXIT_SUCCESS);
}

static _Noreturn void help(void)
{
    printf("Usage: %s [OPTION] DURATION COMMAND [ARG]...\n"
           "  or:  %s [OPTION]\n", prog, prog);
    fputs("Run COMMAND; if it still runs after DURATION, send it a signal.\n"
          "\n"
          "  -s, --signal=SIGNAL      the signal to send on timeout (default TERM):\n"
          "                             a name (HUP, SIGHUP, RTMIN+2) or a number;\n"
          "                             0 sends nothing\n"
          "  -k, --kill-after=DURATION\n"
          "                           send KILL if COMMAND still runs DURATION\n"
          "                             after the first signal\n"
          "      --preserve-status    exit with COMMAND's status even on timeout\n"
          "      --foreground         signal only COMMAND, not the processes it\n"
          "                             started, and leave it in timeout's process\n"
          "                             group (so it may read from the terminal)\n"
          "  -v, --verbose            report each signal sent, on stderr\n"
          "      --help               show this help and exit\n"
          "      --version            show the version and exit\n"
          "\n"
          "DURATION is a number of seconds, fractions allowed, optionally\n"
          "followed by s (seconds), m (minutes), h (hours) or d (days).\n"
          "0 disables that timeout.\n"
          "\n"
          "Signals timeout receives (TERM, INT, HUP, QUIT and SIGNAL) are passed\n"
          "on to COMMAND; SIGALRM counts as the timeout.\n"
          "\n"
          "Exit status:\n"
          "  124  COMMAND timed out (and --preserve-status was not given)\n"
          "  125  timeout itself failed\n"
          "  126  COMMAND was found but could not be run\n"
          "  127  COMMAND was not found\n"
          "  137  COMMAND was killed with KILL (128+9)\n"
          "  -    otherwise COMMAND's own status; if a signal it did not get\n"
          "       from a timeout killed it, timeout dies of the same signal\n"
          "\n"
          "A drop-in for coreutils' timeout(1), built on evsig; COMMAND starts\n"
          "with every signal at its default action and none blocked.\n",
          stdout);
    exit_after_output();
}

static _Noreturn void version(void)
{
    printf("evsig-timeout (evsig) %s\n", EVSIG_TIMEOUT_VERSION);
    exit_after_output();
}

/* --- durations ------------------------------------------------------------- */

/* Seconds in @s, or -1 if it is not a duration. */
static double duration(const char *s)
{
    char *end;
    double d, unit;

    /* As coreutils: an overflow is a (huge) duration, an underflow 0. */
    errno = 0;
    d = strtod(s, &end);
    if (end == s || !(d >= 0))   /* nothing read, negative, or NaN */
        return -1;
    if (*end && end[1])          /* at most one suffix character */
        return -1;
    switch (*end) {
    case '\0': case 's': unit = 1; break;
    case 'm': unit = 60; break;
    case 'h': unit = 60 * 60; break;
    case 'd': unit = 60 * 60 * 24; break;
    default: return -1;
    }
    return d * unit;
}

static double duration_arg(const char *s)
{
    double d = duration(s);

    if (d < 0) {
        say("invalid time interval ", s, NULL);
        usage_error();
    }
    return d;
}

/* --- signals ----------------------------------------------------------------- */

/* Decimal digits only, as an int; -1 if not (or out of range). */
static long whole_number(const char *s)
{
    char *end;
    long n;

    errno = 0;
    n = strtol(s, &end, 10);
    if (end == s || *end || errno || n < 0 || n > INT_MAX)
        return -1;
    return n;
}

static bool has_prefix_nocase(const char *s, const char *prefix)
{
    for (; *prefix; s++, prefix++)
        if ((*s & ~0x20) != *prefix)   /* ASCII upper case; prefix is upper */
            return false;
    return true;
}

static bool is_exit_name(const char *s)
{
    return has_prefix_nocase(s, "EXIT") && s[4] == '\0';
}

/* The signal @s names, or -1. */
static int parse_signal(const char *s)
{
    const char *bare = has_prefix_nocase(s, "SIG") ? s + 3 : s;
    long n;

    if (*s >= '0' && *s <= '9') {
        /* A shell status: 128+n, or ksh's 256+n. */
        n = whole_number(s);
        if (n >= 0)
            n &= n >= 0xff ? 0xff : 0x7f;
    } else if (*bare >= '0' && *bare <= '9') {
        n = whole_number(bare);          /* "SIG15": a number, as it is */
    } else if (is_exit_name(s) || is_exit_name(bare)) {
        n = 0;
    } else {
        n = evsig_signum(s);
    }
    if (n < 0 || n > INT_MAX)
        return -1;
    if (n != 0 && !evsig_signame((int)n))   /* unknown or reserved (32, 33) */
        return -1;
    return (int)n;
}

const char *signal_name(int sig, char *buf, size_t size)
{
    const char *name;

    if (sig == 0)
        return "EXIT";
    if (sig == SIGIO)     /* coreutils' table names SIGPOLL first */
        return "POLL";
    name = evsig_signame(sig);
    if (name && strncmp(name, "SIG", 3) == 0)
        return name + 3;
    snprintf(buf, size, "%d", sig);
    return buf;
}

/* --- the command line -------------------------------------------------------- */

enum { OPT_FOREGROUND = CHAR_MAX + 1, OPT_PRESERVE, OPT_HELP, OPT_VERSION };

static const struct option long_options[] = {
    { "kill-after",      required_argument, NULL, 'k' },
    { "signal",          required_argument, NULL, 's' },
    { "verbose",         no_argument,       NULL, 'v' },
    { "foreground",      no_argument,       NULL, OPT_FOREGROUND },
    { "preserve-status", no_argument,       NULL, OPT_PRESERVE },
    { "help",            no_argument,       NULL, OPT_HELP },
    { "version",         no_argument,       NULL, OPT_VERSION },
    { NULL, 0, NULL, 0 },
};

void parse_args(int argc, char **argv, struct options *o)
{
    int c;

    if (argc > 0 && argv[0] && argv[0][0])
        prog = argv[0];
    *o = (struct options){ .signal = SIGTERM };

    while ((c = getopt_long(argc, argv, "+k:s:v", long_options, NULL)) != -1) {
        switch (c) {
        case 'k':
            o->kill_after = duration_arg(optarg);
            break;
        case 's':
            o->signal = parse_signal(optarg);
            if (o->signal < 0) {
                say("", optarg, ": invalid signal");
                usage_error();
            }
            break;
        case 'v':
            o->verbose = true;
            break;
        case OPT_FOREGROUND:
            o->foreground = true;
            break;
        case OPT_PRESERVE:
            o->preserve_status = true;
            break;
        case OPT_HELP:
            help();
        case OPT_VERSION:
            version();
        default:             /* getopt_long() said what was wrong */
            usage_error();
        }
    }
    if (argc - optind < 2)
        usage_error();
    o->duration = duration_arg(argv[optind]);
    o->command = argv + optind + 1;
}

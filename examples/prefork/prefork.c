/* SPDX-License-Identifier: MIT */
/*
 * prefork.c - evsig-prefork: a prefork echo server on libev and evsig.
 *
 * The master listens on 127.0.0.1, forks workers that accept on the shared
 * socket and answer every line with "<pid> <line>", replaces workers that
 * die, restarts them one at a time on SIGHUP, shuts down gracefully on
 * SIGTERM/SIGINT and prints a status table on SIGUSR1. --demo runs a
 * self-driving tour of all that.
 *
 *   $ ./build/examples/prefork/evsig-prefork --demo
 *   $ ./build/examples/prefork/evsig-prefork --port 7000 &
 *   $ echo hello | nc -q1 127.0.0.1 7000
 *   $ kill -HUP %1; kill -USR1 %1; kill %1
 *
 * This file: the command line and main(). See prefork.h for the others.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prefork.h"

#define EXIT_USAGE 2

static void usage(FILE *out)
{
    fputs("Usage: evsig-prefork [OPTION]...\n"
          "A prefork echo server on 127.0.0.1, built on libev and evsig: a master\n"
          "process forks workers that answer each line with \"<pid> <line>\".\n"
          "\n"
          "  -p, --port=PORT      TCP port; 0 (the default) picks a free one\n"
          "  -w, --workers=N      workers serving at a time, 1-64 (default 2)\n"
          "  -g, --grace=SECONDS  time a worker gets to finish its connections on\n"
          "                       shutdown or restart before SIGKILL (default 5)\n"
          "  -q, --quiet          no log lines on stderr\n"
          "      --demo           a self-driving tour (under 10 s), then exit\n"
          "  -h, --help           this help\n"
          "\n"
          "Prints \"listening on 127.0.0.1:PORT\" on stdout once it listens.\n"
          "Signals to the master: SIGHUP restarts the workers one at a time;\n"
          "SIGTERM or SIGINT shuts down gracefully (exit 0); SIGUSR1 prints a\n"
          "status table on stdout.\n", out);
}

static int usage_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
    va_list ap;

    fputs("evsig-prefork: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\n\n", stderr);
    usage(stderr);
    return EXIT_USAGE;
}

static bool parse_int(const char *s, long min, long max, int *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max)
        return false;
    *out = (int)v;
    return true;
}

static bool parse_seconds(const char *s, double *out)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v < 0 || v > 3600)
        return false;
    *out = v;
    return true;
}

/* Returns -1 to go on, else the exit code (0 for --help, 2 for an error). */
static int parse_options(int argc, char **argv, struct options *opt)
{
    enum { OPT_DEMO = 256, OPT_IGNORE_TERM, OPT_CRASH, OPT_CRASH_RESTART };
    static const struct option longopts[] = {
        { "port",    required_argument, NULL, 'p' },
        { "workers", required_argument, NULL, 'w' },
        { "grace",   required_argument, NULL, 'g' },
        { "quiet",   no_argument,       NULL, 'q' },
        { "demo",    no_argument,       NULL, OPT_DEMO },
        { "help",    no_argument,       NULL, 'h' },
        /* Hidden, for the integration tests (test/test-prefork.c). */
        { "worker-ignores-term", no_argument, NULL, OPT_IGNORE_TERM },
        { "crash-on-start",      no_argument, NULL, OPT_CRASH },
        { "crash-on-restart",    no_argument, NULL, OPT_CRASH_RESTART },
        { NULL, 0, NULL, 0 }
    };
    int c;

    *opt = (struct options){ .port = 0, .workers = 2, .grace = 5.0 };
    opterr = 0;                       /* we print our own messages */
    while ((c = getopt_long(argc, argv, ":p:w:g:qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'p':
            if (!parse_int(optarg, 0, 65535, &opt->port))
                return usage_error("bad port '%s' (0-65535)", optarg);
            break;
        case 'w':
            if (!parse_int(optarg, 1, MAX_WORKERS, &opt->workers))
                return usage_error("bad number of workers '%s' (1-64)", optarg);
            break;
        case 'g':
            if (!parse_seconds(optarg, &opt->grace))
                return usage_error("bad grace '%s' (0-3600 seconds)", optarg);
            break;
        case 'q':
            opt->quiet = true;
            break;
        case OPT_DEMO:
            opt->demo = true;
            break;
        case OPT_IGNORE_TERM:
            opt->worker_ignores_term = true;
            break;
        case OPT_CRASH:
            opt->crash_on_start = true;
            break;
        case OPT_CRASH_RESTART:
            opt->crash_on_restart = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case ':':
            return usage_error("option '%s' needs a value", argv[optind - 1]);
        default:
            return usage_error("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return usage_error("unexpected argument '%s'", argv[optind]);
    return -1;
}

int main(int argc, char **argv)
{
    struct master_hooks hooks = { 0 };
    struct demo *demo = NULL;
    struct master *m;
    struct ev_loop *loop;
    struct options opt;
    int code;

    code = parse_options(argc, argv, &opt);
    if (code >= 0)
        return code;
    log_set_quiet(opt.quiet);
    /* Line-buffered even into a pipe: our lines and the log lines (stderr,
     * unbuffered) then come out in the order they happened. */
    setvbuf(stdout, NULL, _IOLBF, 0);

    /* libev's default loop: evsig's child functions (fork_and_watch,
     * waitpid, kill) work only there, because libev reaps only there. */
    loop = ev_default_loop(0);
    if (!loop) {
        fputs("evsig-prefork: cannot initialise libev\n", stderr);
        return 1;
    }
    if (opt.demo) {
        demo = demo_new(loop);
        if (!demo)
            return 1;
        demo_hooks(demo, &hooks);
    }
    m = master_new(loop, &opt, &hooks);
    if (!m) {
        demo_free(demo);
        return 1;
    }
    printf("listening on 127.0.0.1:%d\n", master_port(m));

    code = master_run(m);
    if (demo && demo_finish(demo, m, code) != 0 && code == 0)
        code = 1;

    demo_free(demo);
    master_free(m);
    /* Put back every disposition evsig changed and free its memory. */
    evsig_reset();
    ev_loop_destroy(loop);
    return code;
}

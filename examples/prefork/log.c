/* SPDX-License-Identifier: MIT */
/*
 * log.c - one timestamped line per event, on stderr.
 *
 *   2026-11-22T10:00:00.123 [master 1234] worker 1240 killed by SIGKILL
 *
 * The master and its workers share stderr. Each line is formatted into a
 * buffer and written with one write(), so lines of several processes never
 * interleave (stdio could split a line into several writes). Called only
 * from the loop (evsig runs our handlers there), never in signal context.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "prefork.h"

static struct log_state {
    const char *role;
    bool        quiet;
} state = { "master", false };

void log_set_role(const char *role)
{
    state.role = role;
}

void log_set_quiet(bool quiet)
{
    state.quiet = quiet;
}

void log_event(const char *fmt, ...)
{
    char line[512];
    struct timespec ts;
    struct tm tm;
    size_t len;
    int n;
    va_list ap;

    if (state.quiet)
        return;
    clock_gettime(CLOCK_REALTIME, &ts);
    localtime_r(&ts.tv_sec, &tm);
    len = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
    n = snprintf(line + len, sizeof(line) - len, ".%03ld [%s %ld] ",
                 ts.tv_nsec / 1000000, state.role, (long)getpid());
    len += (size_t)n;

    va_start(ap, fmt);
    n = vsnprintf(line + len, sizeof(line) - len, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    len += (size_t)n;
    if (len > sizeof(line) - 2)      /* truncated: keep the newline */
        len = sizeof(line) - 2;
    line[len++] = '\n';

    /* stderr is unbuffered, but write() it ourselves: one call per line. */
    for (size_t off = 0; off < len;) {
        ssize_t w = write(STDERR_FILENO, line + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;   /* nowhere to complain: drop the line */
        off += (size_t)w;
    }
}

const char *describe_status(int status, char *buf, size_t size)
{
    if (WIFEXITED(status)) {
        snprintf(buf, size, "exited %d", WEXITSTATUS(status));
    } else if (WIFSIGNALED(status)) {
        /* evsig_signame(): "SIGKILL", "SIGRTMIN+3"; NULL only for a bad
         * number, which the kernel never reports. */
        const char *name = evsig_signame(WTERMSIG(status));

        if (name)
            snprintf(buf, size, "killed by %s%s", name,
                     WCOREDUMP(status) ? " (core dumped)" : "");
        else
            snprintf(buf, size, "killed by signal %d", WTERMSIG(status));
    } else {
        snprintf(buf, size, "status 0x%x", (unsigned)status);
    }
    return buf;
}

const char *describe_duration(double seconds, char *buf, size_t size)
{
    if (seconds < 1.0)
        snprintf(buf, size, "%.0f ms", seconds * 1e3);
    else
        snprintf(buf, size, "%.1f s", seconds);
    return buf;
}

/* SPDX-License-Identifier: MIT */
/*
 * bench.h - what the benchmark programs share: the clock, the median, the
 * CPU time and faults of a turn, and room for thousands of children.
 *
 * Header-only (static inline): each benchmark stays one file that builds
 * on its own, and the helpers cannot perturb what they measure through a
 * call into another object.
 */
#ifndef EVSIG_BENCH_H
#define EVSIG_BENCH_H

#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* Seconds on the monotonic clock. */
static inline double bench_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

/* The median of @t[0..n-1] (n > 0); sorts @t in place. */
static inline double bench_median(double *t, int n)
{
    qsort(t, (size_t)n, sizeof(*t), bench_cmp_double);
    return t[n / 2];
}

/* CPU seconds and minor faults so far: of this process (pcpu, pfaults),
 * and with its reaped children (cpu; cfaults: theirs alone). */
struct bench_usage {
    double cpu, pcpu;
    long   pfaults, cfaults;
};

static inline double bench_tv_sec(struct timeval tv)
{
    return (double)tv.tv_sec + (double)tv.tv_usec * 1e-6;
}

static inline struct bench_usage bench_usage_now(void)
{
    struct rusage s, c;

    getrusage(RUSAGE_SELF, &s);
    getrusage(RUSAGE_CHILDREN, &c);
    return (struct bench_usage){
        .pcpu = bench_tv_sec(s.ru_utime) + bench_tv_sec(s.ru_stime),
        .cpu = bench_tv_sec(s.ru_utime) + bench_tv_sec(s.ru_stime) +
               bench_tv_sec(c.ru_utime) + bench_tv_sec(c.ru_stime),
        .pfaults = s.ru_minflt,
        .cfaults = c.ru_minflt,
    };
}

/*
 * Room for @need more fds and processes: the soft fd limit raised to the
 * hard one, RLIMIT_NPROC likewise (root is exempt from it). 0, or -1 with
 * the reason on stderr, prefixed by @who.
 */
static inline int bench_raise_limits(const char *who, int need)
{
    struct rlimit r;

    if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
        r.rlim_cur = r.rlim_max;
        setrlimit(RLIMIT_NOFILE, &r);
    }
    if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < (rlim_t)need + 64) {
        fprintf(stderr, "%s: RLIMIT_NOFILE %lu is below %d\n", who,
                (unsigned long)r.rlim_cur, need + 64);
        return -1;
    }
    if (getrlimit(RLIMIT_NPROC, &r) == 0 && r.rlim_cur != RLIM_INFINITY &&
        r.rlim_cur < (rlim_t)need + 64 && geteuid() != 0) {
        r.rlim_cur = r.rlim_max;
        setrlimit(RLIMIT_NPROC, &r);
        getrlimit(RLIMIT_NPROC, &r);
        if (r.rlim_cur != RLIM_INFINITY && r.rlim_cur < (rlim_t)need + 64) {
            fprintf(stderr, "%s: ulimit -u %lu is below %d (plus your other "
                    "processes)\n", who, (unsigned long)r.rlim_cur, need + 64);
            return -1;
        }
    }
    return 0;
}

#endif /* EVSIG_BENCH_H */

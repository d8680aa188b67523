/* SPDX-License-Identifier: MIT */
/*
 * bench.h - the clock and the median the benchmark programs share.
 *
 * Header-only (static inline): each benchmark stays one file that builds
 * on its own, and the helpers cannot perturb what they measure through a
 * call into another object.
 */
#ifndef EVSIG_BENCH_H
#define EVSIG_BENCH_H

#include <stdlib.h>
#include <time.h>

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

#endif /* EVSIG_BENCH_H */

/* SPDX-License-Identifier: MIT */
/*
 * fuzz-signum.c - evsig_signum() under libFuzzer (meson -Dfuzz=true, clang).
 *
 * Each input is handed to evsig_signum() as a NUL-terminated string (an
 * embedded NUL ends it early, as it would for a C caller). Beyond crashes
 * and sanitizer reports, every input checks the header's promises:
 *
 * - success is a valid signal (evsig_signame() names it, evsig_strsignal()
 *   describes it), that name parses back to the same number, and errno is
 *   left alone;
 * - failure is exactly -1 with errno EINVAL;
 * - the parse ignores ASCII case: the input upper-cased and lower-cased
 *   parses to the same answer.
 *
 * A broken promise is a trap (__builtin_trap()), which libFuzzer reports
 * as a crash with the input that caused it. names.c is compiled into this
 * executable, instrumented, so libFuzzer sees its branches.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evsig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Inputs longer than this are cut: no signal name is near it, and the
 * properties below hold for any string, so length adds nothing. */
#define MAX_INPUT 64

/* A property that does not hold: name it and the input, then crash. */
static void broken(const char *what, const char *input, int got)
{
    fprintf(stderr, "fuzz-signum: %s: evsig_signum(\"%s\") = %d (errno %d)\n",
            what, input, got, errno);
    __builtin_trap();
}

/* evsig_signum(@s), with the errno rule checked: -1 sets EINVAL, success
 * leaves errno as it was. */
static int parse(const char *s)
{
    int n;

    errno = 12345;
    n = evsig_signum(s);
    if (n == -1) {
        if (errno != EINVAL)
            broken("failure without EINVAL", s, n);
    } else if (errno != 12345) {
        broken("success changed errno", s, n);
    }
    return n;
}

static void fold(char *dst, const char *src, int upper)
{
    for (; *src; src++, dst++) {
        char c = *src;

        if (upper && c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        else if (!upper && c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        *dst = c;
    }
    *dst = '\0';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char input[MAX_INPUT + 1], folded[MAX_INPUT + 1];
    const char *name;
    int n;

    if (size > MAX_INPUT)
        size = MAX_INPUT;
    memcpy(input, data, size);
    input[size] = '\0';

    n = parse(input);
    if (n != -1) {
        if (n <= 0 || n >= NSIG)
            broken("out of range", input, n);
        name = evsig_signame(n);
        if (!name)
            broken("accepted a number evsig_signame() rejects", input, n);
        if (!evsig_strsignal(n))
            broken("accepted a number evsig_strsignal() rejects", input, n);
        if (strncmp(name, "SIG", 3) != 0)
            broken("evsig_signame() without SIG", input, n);
        if (parse(name) != n || parse(name + 3) != n)
            broken("its name does not parse back", input, n);
    }

    fold(folded, input, 1);
    if (parse(folded) != n)
        broken("upper case parses differently", input, n);
    fold(folded, input, 0);
    if (parse(folded) != n)
        broken("lower case parses differently", input, n);
    return 0;
}

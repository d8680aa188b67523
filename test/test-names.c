/* SPDX-License-Identifier: MIT */
/*
 * test-names.c - valid signals, names and descriptions (src/names.c).
 *
 * Expectations are computed from SIGRTMIN/SIGRTMAX at run time, as names.c
 * does, so the tests hold whichever real-time range the C library leaves.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "evsig.h"
#include "evsig-private.h"
#include "test-util.h"

/* The classic Linux signals and their names, as kill -l prints them. */
static const struct { int signum; const char *name; } classic[] = {
    { SIGHUP, "SIGHUP" },       { SIGINT, "SIGINT" },     { SIGQUIT, "SIGQUIT" },
    { SIGILL, "SIGILL" },       { SIGTRAP, "SIGTRAP" },   { SIGABRT, "SIGABRT" },
    { SIGBUS, "SIGBUS" },       { SIGFPE, "SIGFPE" },     { SIGKILL, "SIGKILL" },
    { SIGUSR1, "SIGUSR1" },     { SIGSEGV, "SIGSEGV" },   { SIGUSR2, "SIGUSR2" },
    { SIGPIPE, "SIGPIPE" },     { SIGALRM, "SIGALRM" },   { SIGTERM, "SIGTERM" },
    { SIGSTKFLT, "SIGSTKFLT" }, { SIGCHLD, "SIGCHLD" },   { SIGCONT, "SIGCONT" },
    { SIGSTOP, "SIGSTOP" },     { SIGTSTP, "SIGTSTP" },   { SIGTTIN, "SIGTTIN" },
    { SIGTTOU, "SIGTTOU" },     { SIGURG, "SIGURG" },     { SIGXCPU, "SIGXCPU" },
    { SIGXFSZ, "SIGXFSZ" },     { SIGVTALRM, "SIGVTALRM" }, { SIGPROF, "SIGPROF" },
    { SIGWINCH, "SIGWINCH" },   { SIGIO, "SIGIO" },       { SIGPWR, "SIGPWR" },
    { SIGSYS, "SIGSYS" },
};
#define N_CLASSIC (sizeof(classic) / sizeof(classic[0]))

/* Numbers no function may accept. glibc reserves 32 and 33. */
static const int bad_signals[] = { 0, -1, -1000, NSIG, NSIG + 1, 1000, 32, 33,
                                   INT_MIN, INT_MAX };
#define N_BAD (sizeof(bad_signals) / sizeof(bad_signals[0]))

/* "SIGRTMIN+3" or "SIGRTMAX-2", counted from the end given. */
static const char *rt_name(char *buf, size_t size, bool from_max, int sig)
{
    int off = from_max ? SIGRTMAX - sig : sig - SIGRTMIN;

    if (off == 0)
        snprintf(buf, size, from_max ? "SIGRTMAX" : "SIGRTMIN");
    else
        snprintf(buf, size, from_max ? "SIGRTMAX-%d" : "SIGRTMIN+%d", off);
    return buf;
}

static void test_signame_names_every_classic_signal(void **unused)
{
    (void)unused;
    for (size_t i = 0; i < N_CLASSIC; i++)
        assert_string_equal(evsig_signame(classic[i].signum), classic[i].name);
}

static void test_every_classic_signal_round_trips_through_its_name(void **unused)
{
    (void)unused;
    for (int s = 1; s < SIGRTMIN; s++) {
        const char *name;
        char lowered[32];

        if (evsig__check_signum(s) < 0)
            continue;
        name = evsig_signame(s);
        assert_non_null(name);
        assert_int_equal(evsig_signum(name), s);
        assert_int_equal(evsig_signum(name + 3), s);          /* no "SIG" */
        for (size_t i = 0; i <= strlen(name); i++)
            lowered[i] = (char)(name[i] | 0x20 * (name[i] >= 'A' && name[i] <= 'Z'));
        assert_int_equal(evsig_signum(lowered), s);
    }
}

static void test_realtime_signals_are_named_from_the_nearer_end(void **unused)
{
    char buf[32];
    (void)unused;

    assert_string_equal(evsig_signame(SIGRTMIN), "SIGRTMIN");
    assert_string_equal(evsig_signame(SIGRTMIN + 1), "SIGRTMIN+1");
    assert_string_equal(evsig_signame(SIGRTMAX - 1), "SIGRTMAX-1");
    assert_string_equal(evsig_signame(SIGRTMAX), "SIGRTMAX");
    for (int s = SIGRTMIN; s <= SIGRTMAX; s++) {
        bool from_max = SIGRTMAX - s < s - SIGRTMIN;   /* a tie: SIGRTMIN */

        assert_string_equal(evsig_signame(s), rt_name(buf, sizeof(buf), from_max, s));
    }
    if (SIGRTMIN == 34 && SIGRTMAX == 64) {            /* glibc on Linux */
        assert_string_equal(evsig_signame(49), "SIGRTMIN+15");
        assert_string_equal(evsig_signame(50), "SIGRTMAX-14");
    }
}

static void test_every_realtime_signal_round_trips_from_both_ends(void **unused)
{
    char buf[32];
    (void)unused;

    for (int s = SIGRTMIN; s <= SIGRTMAX; s++) {
        assert_int_equal(evsig_signum(evsig_signame(s)), s);
        assert_int_equal(evsig_signum(rt_name(buf, sizeof(buf), false, s)), s);
        assert_int_equal(evsig_signum(rt_name(buf, sizeof(buf), true, s)), s);
        assert_int_equal(evsig_signum(rt_name(buf, sizeof(buf), true, s) + 3), s);
    }
}

static void test_signum_accepts_name_without_sig_prefix(void **unused)
{
    (void)unused;
    assert_int_equal(evsig_signum("TERM"), SIGTERM);
    assert_int_equal(evsig_signum("CHLD"), SIGCHLD);
    assert_int_equal(evsig_signum("RTMIN"), SIGRTMIN);
    assert_int_equal(evsig_signum("RTMIN+3"), SIGRTMIN + 3);
    assert_int_equal(evsig_signum("RTMAX-1"), SIGRTMAX - 1);
}

static void test_signum_ignores_case(void **unused)
{
    (void)unused;
    assert_int_equal(evsig_signum("sigterm"), SIGTERM);
    assert_int_equal(evsig_signum("Term"), SIGTERM);
    assert_int_equal(evsig_signum("sIgUsR1"), SIGUSR1);
    assert_int_equal(evsig_signum("sigrtmin+3"), SIGRTMIN + 3);
    assert_int_equal(evsig_signum("rtMax"), SIGRTMAX);
}

static void test_signum_accepts_the_iot_poll_and_cld_aliases(void **unused)
{
    (void)unused;
    assert_int_equal(evsig_signum("SIGIOT"), SIGABRT);
    assert_int_equal(evsig_signum("POLL"), SIGIO);
    assert_int_equal(evsig_signum("sigcld"), SIGCHLD);
    /* The names handed out stay the main ones. */
    assert_string_equal(evsig_signame(SIGABRT), "SIGABRT");
    assert_string_equal(evsig_signame(SIGIO), "SIGIO");
    assert_string_equal(evsig_signame(SIGCHLD), "SIGCHLD");
}

static void test_signum_accepts_decimal_numbers_of_valid_signals(void **unused)
{
    char buf[16];
    (void)unused;

    assert_int_equal(evsig_signum("15"), SIGTERM);
    assert_int_equal(evsig_signum("1"), 1);
    snprintf(buf, sizeof(buf), "%d", NSIG - 1);
    assert_int_equal(evsig_signum(buf), NSIG - 1);
    snprintf(buf, sizeof(buf), "%d", SIGRTMIN);
    assert_int_equal(evsig_signum(buf), SIGRTMIN);
}

static void test_signum_rejects_junk_with_einval(void **unused)
{
    static const char *const junk[] = {
        "", "SIG", "SIGFOO", "FOO", "SIGRTMIN+40", "RTMAX-40", "RTMIN-1",
        "RTMAX+1", "SIGRTMIN+", "SIGRTMAX-", "SIGRTMIN+-1", "SIGRTMIN+ 1",
        "15x", "x15", " 15", "15 ", "+15", "-15", "0", "32", "33", "65", "1000",
        "99999999999999999999", "SIGTERM ", " SIGTERM", "SIG TERM", "SIGSIGTERM",
        "TERMINATE", "TER", "SIGUSR", "SIGRT", "RTMINX", "SIGRTMIN3",
    };
    char buf[16];
    (void)unused;

    for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
        errno = 0;
        if (evsig_signum(junk[i]) != -1 || errno != EINVAL)
            fail_msg("evsig_signum(\"%s\") did not fail with EINVAL", junk[i]);
    }
    snprintf(buf, sizeof(buf), "%d", NSIG);
    assert_fails_with(evsig_signum(buf), EINVAL);
    assert_fails_with(evsig_signum(NULL), EINVAL);
}

static void test_signum_leaves_errno_alone_on_success(void **unused)
{
    (void)unused;
    errno = EBUSY;
    assert_int_equal(evsig_signum("SIGRTMAX-2"), SIGRTMAX - 2);
    assert_int_equal(evsig_signum("9"), SIGKILL);
    assert_non_null(evsig_signame(SIGHUP));
    assert_non_null(evsig_strsignal(SIGHUP));
    assert_int_equal(errno, EBUSY);
}

static void test_strsignal_describes_classic_signals(void **unused)
{
    (void)unused;
    assert_string_equal(evsig_strsignal(SIGTERM), "Terminated");
    assert_string_equal(evsig_strsignal(SIGINT), "Interrupt");
    assert_string_equal(evsig_strsignal(SIGKILL), "Killed");
    assert_string_equal(evsig_strsignal(SIGCHLD), "Child exited");
    for (size_t i = 0; i < N_CLASSIC; i++)
        assert_non_null(evsig_strsignal(classic[i].signum));
}

static void test_strsignal_describes_realtime_signals_by_offset(void **unused)
{
    char buf[32];
    (void)unused;

    assert_string_equal(evsig_strsignal(SIGRTMIN), "Real-time signal 0");
    assert_string_equal(evsig_strsignal(SIGRTMIN + 3), "Real-time signal 3");
    for (int s = SIGRTMIN; s <= SIGRTMAX; s++) {
        snprintf(buf, sizeof(buf), "Real-time signal %d", s - SIGRTMIN);
        assert_string_equal(evsig_strsignal(s), buf);
        /* The same words as glibc's (untranslated: tests run in C locale). */
        assert_string_equal(evsig_strsignal(s), strsignal(s));
    }
}

static void test_strsignal_and_signame_return_null_for_invalid_signals(void **unused)
{
    (void)unused;
    for (size_t i = 0; i < N_BAD; i++) {
        assert_null_with_errno(evsig_strsignal(bad_signals[i]), EINVAL);
        assert_null_with_errno(evsig_signame(bad_signals[i]), EINVAL);
    }
}

static void test_strings_are_static_and_stable(void **unused)
{
    (void)unused;
    for (int s = 1; s < NSIG; s++) {
        if (evsig__check_signum(s) < 0)
            continue;
        assert_ptr_equal(evsig_strsignal(s), evsig_strsignal(s));
        assert_ptr_equal(evsig_signame(s), evsig_signame(s));
    }
}

static void test_valid_signals_holds_classic_and_realtime_but_not_reserved(void **unused)
{
    sigset_t set;
    (void)unused;

    /* Garbage in: every bit is overwritten. */
    memset(&set, 0xff, sizeof(set));
    assert_int_equal(evsig_valid_signals(&set), 0);
    for (int s = 1; s <= 31; s++)
        assert_int_equal(sigismember(&set, s), 1);
    for (int s = SIGRTMIN; s <= SIGRTMAX; s++)
        assert_int_equal(sigismember(&set, s), 1);
    assert_int_equal(sigismember(&set, 32), 0);
    assert_int_equal(sigismember(&set, 33), 0);
    /* 0 and NSIG are not signals: sigismember() refuses them outright. */
    assert_int_not_equal(sigismember(&set, 0), 1);
    assert_int_not_equal(sigismember(&set, NSIG), 1);
}

static void test_valid_signals_rejects_null(void **unused)
{
    (void)unused;
    assert_fails_with(evsig_valid_signals(NULL), EINVAL);
}

static void test_check_signum_rejects_reserved_and_out_of_range_numbers(void **unused)
{
    (void)unused;
    errno = 0;
    for (size_t i = 0; i < N_BAD; i++)
        if (evsig__check_signum(bad_signals[i]) != -EINVAL)
            fail_msg("evsig__check_signum(%d) accepted it", bad_signals[i]);
    assert_int_equal(errno, 0);              /* -Exxx inside, errno untouched */
}

static void test_check_signum_agrees_with_valid_signals(void **unused)
{
    sigset_t set;
    (void)unused;

    assert_int_equal(evsig_valid_signals(&set), 0);
    for (int s = 1; s < NSIG; s++)
        assert_int_equal(evsig__check_signum(s) == 0, sigismember(&set, s) == 1);
    assert_int_equal(evsig__check_signum(SIGKILL), 0);   /* valid, if uncatchable */
    assert_int_equal(evsig__check_signum(SIGSTOP), 0);
}

/* Threads compare what they get with what the main thread got: the same
 * static strings, by address and by content. No cmocka in the threads. */
#define N_THREADS 4
#define ROUNDS    2000

static const char *expect_descr[NSIG], *expect_name[NSIG];
static char expect_text[NSIG][40];

static void *hammer(void *arg)
{
    uintptr_t mismatches = 0;
    (void)arg;

    for (int r = 0; r < ROUNDS; r++) {
        for (int s = -1; s <= NSIG; s++) {
            bool valid = s > 0 && s < NSIG && expect_descr[s];
            const char *d = evsig_strsignal(s), *n = evsig_signame(s);

            if (!valid) {
                mismatches += d != NULL || n != NULL;
                continue;
            }
            mismatches += d != expect_descr[s] || n != expect_name[s] ||
                          strcmp(d, expect_text[s]) != 0;
        }
    }
    return (void *)mismatches;
}

static void test_strsignal_is_thread_safe(void **unused)
{
    pthread_t threads[N_THREADS];
    (void)unused;

    for (int s = 1; s < NSIG; s++) {
        expect_descr[s] = evsig_strsignal(s);
        expect_name[s] = evsig_signame(s);
        if (expect_descr[s])
            snprintf(expect_text[s], sizeof(expect_text[s]), "%s", expect_descr[s]);
    }
    for (int i = 0; i < N_THREADS; i++)
        assert_int_equal(pthread_create(&threads[i], NULL, hammer, NULL), 0);
    for (int i = 0; i < N_THREADS; i++) {
        void *mismatches;

        assert_int_equal(pthread_join(threads[i], &mismatches), 0);
        assert_int_equal((uintptr_t)mismatches, 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_signame_names_every_classic_signal),
        cmocka_unit_test(test_every_classic_signal_round_trips_through_its_name),
        cmocka_unit_test(test_realtime_signals_are_named_from_the_nearer_end),
        cmocka_unit_test(test_every_realtime_signal_round_trips_from_both_ends),
        cmocka_unit_test(test_signum_accepts_name_without_sig_prefix),
        cmocka_unit_test(test_signum_ignores_case),
        cmocka_unit_test(test_signum_accepts_the_iot_poll_and_cld_aliases),
        cmocka_unit_test(test_signum_accepts_decimal_numbers_of_valid_signals),
        cmocka_unit_test(test_signum_rejects_junk_with_einval),
        cmocka_unit_test(test_signum_leaves_errno_alone_on_success),
        cmocka_unit_test(test_strsignal_describes_classic_signals),
        cmocka_unit_test(test_strsignal_describes_realtime_signals_by_offset),
        cmocka_unit_test(test_strsignal_and_signame_return_null_for_invalid_signals),
        cmocka_unit_test(test_strings_are_static_and_stable),
        cmocka_unit_test(test_valid_signals_holds_classic_and_realtime_but_not_reserved),
        cmocka_unit_test(test_valid_signals_rejects_null),
        cmocka_unit_test(test_check_signum_rejects_reserved_and_out_of_range_numbers),
        cmocka_unit_test(test_check_signum_agrees_with_valid_signals),
        cmocka_unit_test(test_strsignal_is_thread_safe),
    };

    return cmocka_run_group_tests(tests, tu_setup, tu_teardown);
}

/* SPDX-License-Identifier: MIT */
/*
 * names.c - which signal numbers are valid, and their names and descriptions.
 *
 * Owns evsig__check_signum(), the one place that decides what a bad signal
 * number is, and the Python-style name functions built on it. Everything
 * here is stateless: the tables are constant and real-time signals are
 * computed from SIGRTMIN/SIGRTMAX at run time (glibc makes them functions,
 * as the C library may reserve the lowest real-time numbers for itself).
 * No allocation, no locks, no static buffers: every function may be called
 * from any thread, and evsig__check_signum() also from signal context.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "evsig-private.h"

/*
 * Real-time names and descriptions are static strings, spelled out by the
 * preprocessor: "SIGRTMIN+0".."SIGRTMIN+39", and so on. A string per offset
 * is what makes evsig_strsignal() thread-safe where glibc's strsignal()
 * formats real-time descriptions into a buffer. Real-time signals start at
 * 32 or above on Linux, so 40 offsets cover every NSIG up to 72.
 */
#define D10(m, tens) m(tens##0) m(tens##1) m(tens##2) m(tens##3) m(tens##4) \
                     m(tens##5) m(tens##6) m(tens##7) m(tens##8) m(tens##9)
#define D40(m) D10(m, ) D10(m, 1) D10(m, 2) D10(m, 3)
#define RT_OFFSETS 40

#define RTMIN_NAME(n) "SIGRTMIN+" #n,
#define RTMAX_NAME(n) "SIGRTMAX-" #n,
#define RT_DESCR(n)   "Real-time signal " #n,

static const char *const rtmin_names[RT_OFFSETS] = { D40(RTMIN_NAME) };
static const char *const rtmax_names[RT_OFFSETS] = { D40(RTMAX_NAME) };
static const char *const rt_descrs[RT_OFFSETS] = { D40(RT_DESCR) };

_Static_assert(NSIG <= 32 + RT_OFFSETS, "real-time name tables too short");

/* The classic signals, by number. Names carry the "SIG" prefix so that
 * evsig_signame() can hand them out as they are. */
static const char *const classic_names[NSIG] = {
    [SIGHUP] = "SIGHUP",     [SIGINT] = "SIGINT",       [SIGQUIT] = "SIGQUIT",
    [SIGILL] = "SIGILL",     [SIGTRAP] = "SIGTRAP",     [SIGABRT] = "SIGABRT",
    [SIGBUS] = "SIGBUS",     [SIGFPE] = "SIGFPE",       [SIGKILL] = "SIGKILL",
    [SIGUSR1] = "SIGUSR1",   [SIGSEGV] = "SIGSEGV",     [SIGUSR2] = "SIGUSR2",
    [SIGPIPE] = "SIGPIPE",   [SIGALRM] = "SIGALRM",     [SIGTERM] = "SIGTERM",
#ifdef SIGSTKFLT
    [SIGSTKFLT] = "SIGSTKFLT",
#endif
    [SIGCHLD] = "SIGCHLD",   [SIGCONT] = "SIGCONT",     [SIGSTOP] = "SIGSTOP",
    [SIGTSTP] = "SIGTSTP",   [SIGTTIN] = "SIGTTIN",     [SIGTTOU] = "SIGTTOU",
    [SIGURG] = "SIGURG",     [SIGXCPU] = "SIGXCPU",     [SIGXFSZ] = "SIGXFSZ",
    [SIGVTALRM] = "SIGVTALRM", [SIGPROF] = "SIGPROF",   [SIGWINCH] = "SIGWINCH",
    [SIGIO] = "SIGIO",
#ifdef SIGPWR
    [SIGPWR] = "SIGPWR",
#endif
    [SIGSYS] = "SIGSYS",
};

/* Second names evsig_signum() accepts; evsig_signame() never returns them. */
static const struct { const char *name; int signum; } aliases[] = {
#ifdef SIGIOT
    { "SIGIOT", SIGIOT },
#endif
#ifdef SIGPOLL
    { "SIGPOLL", SIGPOLL },
#endif
#ifdef SIGCLD
    { "SIGCLD", SIGCLD },
#endif
};

/* Signal context: async-signal-safe calls only. */
int evsig__check_signum(int signum)
{
    sigset_t all;

    if (signum <= 0 || signum >= NSIG)
        return -EINVAL;
    /* sigfillset() leaves out exactly the signals the C library keeps for
     * itself (glibc: 32 for thread cancellation, 33 for setxid), so asking
     * it needs no list of our own that could drift from the libc's. */
    sigfillset(&all);
    if (sigismember(&all, signum) != 1)
        return -EINVAL;
    return 0;
}

static bool is_realtime(int signum)
{
    return signum >= SIGRTMIN && signum <= SIGRTMAX;
}

EVSIG_PUBLIC int evsig_valid_signals(sigset_t *set)
{
    if (!set)
        return evsig__fail(-EINVAL);
    /* Built up from empty rather than with sigfillset(), which also sets
     * the bits past NSIG that glibc's sigset_t carries. */
    sigemptyset(set);
    for (int s = 1; s < NSIG; s++)
        if (evsig__check_signum(s) == 0)
            sigaddset(set, s);
    return 0;
}

EVSIG_PUBLIC const char *evsig_strsignal(int signum)
{
    const char *descr;

    if (evsig__check_signum(signum) < 0) {
        errno = EINVAL;
        return NULL;
    }
    if (is_realtime(signum))
        return rt_descrs[signum - SIGRTMIN];
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 32)
    /* sigdescr_np() returns the untranslated static description; strsignal()
     * may translate it and formats unknown signals into a buffer. */
    descr = sigdescr_np(signum);
#else
    /* Older C libraries: strsignal() of a classic signal returns a string
     * from a static table, never its buffer. */
    descr = strsignal(signum);
#endif
    if (!descr)
        errno = EINVAL;
    return descr;
}

EVSIG_PUBLIC const char *evsig_signame(int signum)
{
    const char *name;

    if (evsig__check_signum(signum) < 0) {
        errno = EINVAL;
        return NULL;
    }
    if (is_realtime(signum)) {
        int from_min = signum - SIGRTMIN, from_max = SIGRTMAX - signum;

        /* Named from the nearer end, as bash's `kill -l` does; a tie goes
         * to SIGRTMIN, so that the lower half all count up from it. */
        if (from_min == 0)
            return "SIGRTMIN";
        if (from_max == 0)
            return "SIGRTMAX";
        return from_min <= from_max ? rtmin_names[from_min]
                                    : rtmax_names[from_max];
    }
    name = classic_names[signum];
    if (!name)
        errno = EINVAL;
    return name;
}

/* ASCII-only case folding: strcasecmp() depends on the locale (Turkish
 * dotless i), and signal names are ASCII whatever the locale. */
static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* If @s starts with @prefix (ignoring case), the rest of @s, else NULL. */
static const char *skip_prefix(const char *s, const char *prefix)
{
    for (; *prefix; s++, prefix++)
        if (lower(*s) != lower(*prefix))
            return NULL;
    return s;
}

static bool equal_nocase(const char *a, const char *b)
{
    const char *rest = skip_prefix(a, b);

    return rest && *rest == '\0';
}

/* A non-empty run of decimal digits and nothing else, below NSIG * 10
 * (anything larger is invalid anyway and must not overflow); else -1. */
static int parse_number(const char *s)
{
    int n = 0;

    if (*s == '\0')
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        n = n * 10 + (*s - '0');
        if (n >= NSIG * 10)
            return -1;
    }
    return n;
}

/* "RTMIN", "RTMIN+n", "RTMAX", "RTMAX-n" (no "SIG" prefix); -1 if it is
 * none of those or lands outside SIGRTMIN..SIGRTMAX. */
static int parse_realtime(const char *bare)
{
    const char *rest;
    int n;

    if ((rest = skip_prefix(bare, "RTMIN"))) {
        if (*rest == '\0')
            return SIGRTMIN;
        if (*rest != '+' || (n = parse_number(rest + 1)) < 0)
            return -1;
        n = SIGRTMIN + n;
    } else if ((rest = skip_prefix(bare, "RTMAX"))) {
        if (*rest == '\0')
            return SIGRTMAX;
        if (*rest != '-' || (n = parse_number(rest + 1)) < 0)
            return -1;
        n = SIGRTMAX - n;
    } else {
        return -1;
    }
    return is_realtime(n) ? n : -1;
}

/* A name without its "SIG" prefix; -1 if unknown. */
static int lookup_name(const char *bare)
{
    for (int s = 1; s < NSIG; s++)
        if (classic_names[s] && equal_nocase(bare, classic_names[s] + 3))
            return s;
    for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++)
        if (equal_nocase(bare, aliases[i].name + 3))
            return aliases[i].signum;
    return parse_realtime(bare);
}

EVSIG_PUBLIC int evsig_signum(const char *name)
{
    const char *bare;
    int signum;

    if (!name)
        return evsig__fail(-EINVAL);
    if (*name >= '0' && *name <= '9') {
        signum = parse_number(name);
    } else {
        bare = skip_prefix(name, "SIG");
        signum = lookup_name(bare ? bare : name);
    }
    /* The number path needs the check; names can only name valid signals,
     * but one check for both keeps the rule in one place. */
    if (signum < 0 || evsig__check_signum(signum) < 0)
        return evsig__fail(-EINVAL);
    return signum;
}

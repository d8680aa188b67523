/* SPDX-License-Identifier: MIT */
/*
 * disposition.c - what the kernel has for each signal evsig manages, and
 * putting back what evsig found.
 *
 * Owns, per signal: the disposition found before evsig first touched it,
 * what the table stands for (never set, DFL, IGN, a callback), the number
 * of claims on evsig's C handler, and whether that handler is installed
 * ("hooked"). Nobody else calls sigaction() to change a disposition.
 *
 * Holders claim a signal: dispatch.c once per (signal, loop) it serves,
 * child.c and wakeup.c for SIGCHLD. While any claim stands the C handler
 * is installed; when the last goes, the owed disposition replaces it in
 * one sigaction() call: the one found, exactly, if the table was never set
 * (then the signal is forgotten, so a later evsig_reset() cannot clobber
 * what the program installs next), else SIG_DFL or SIG_IGN. libev never
 * writes a disposition for a signal evsig manages (evsig uses no
 * ev_signal), so no other thread ever sees SIG_DFL in between unless
 * SIG_DFL is what is owed.
 *
 * The C handler needs the owed disposition too, for a delivery nobody
 * owned (catch.c's fallback): it is kept up to date here whenever the table
 * or the found disposition changes, before any owner count can drop.
 *
 * SIGCHLD is cooperative: the table never reaches the kernel for it, and
 * while libev's default loop exists the owed disposition is libev's reaper
 * (its own handler), which the C handler feeds while it covers it -- unless
 * evsig owns SIGCHLD (the PIDFD backend): then libev's waitpid(-1), which
 * would reap other code's children, is not fed.
 *
 * Context: lock held, any thread.
 */
#include <assert.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "evsig-private.h"

struct disp_sig {
    struct sigaction found;
    unsigned         claims;
    uint8_t          table;        /* EVSIG__TABLE_* */
    bool             found_saved;
    bool             hooked;       /* evsig's C handler is installed */
    bool             changed;      /* evsig wrote the kernel's disposition */
    bool             interrupt;    /* evsig_siginterrupt(signum, 1) */
};

static struct disp_state {
    struct disp_sig sig[NSIG];
    bool            own_sigchld;   /* PIDFD: do not feed libev's reaper */
} disp;

/*
 * Install @sa exactly as sigaction() reported it. glibc's sigaction() always
 * adds SA_RESTORER and its own restorer, so a SIG_DFL put back through it
 * would read back with different flags than the pristine one the process
 * started with; the raw system call takes the recorded fields as they are.
 */
#if defined(__linux__) && defined(SYS_rt_sigaction) && \
    (defined(__x86_64__) || defined(__aarch64__) || defined(__i386__))
#ifndef SA_RESTORER
#define SA_RESTORER 0x04000000
#endif
struct kernel_sigaction {
    void          *handler;
    unsigned long  flags;
    void          *restorer;
    unsigned long  mask[64 / (8 * sizeof(unsigned long))];
};

static void set_exact(int signum, const struct sigaction *sa)
{
    struct kernel_sigaction k;
    bool no_handler = !(sa->sa_flags & SA_SIGINFO) &&
                      (sa->sa_handler == SIG_DFL || sa->sa_handler == SIG_IGN);

    /* A handler needs a return trampoline: only glibc knows its own, so a
     * handler without a recorded restorer goes through sigaction(). */
    if (!no_handler && !((sa->sa_flags & SA_RESTORER) && sa->sa_restorer)) {
        sigaction(signum, sa, NULL);
        return;
    }
    memset(&k, 0, sizeof(k));
    k.handler = (sa->sa_flags & SA_SIGINFO) ? (void *)sa->sa_sigaction
                                            : (void *)sa->sa_handler;
    k.flags = (unsigned long)sa->sa_flags;
    k.restorer = (void *)sa->sa_restorer;
    for (int s = 1; s <= 64 && s < NSIG; s++)
        if (sigismember(&sa->sa_mask, s) == 1)
            k.mask[(s - 1) / (8 * sizeof(unsigned long))] |=
                1ul << ((s - 1) % (8 * sizeof(unsigned long)));
    if (syscall(SYS_rt_sigaction, signum, &k, NULL, sizeof(k.mask)) != 0)
        sigaction(signum, sa, NULL);
}
#else
static void set_exact(int signum, const struct sigaction *sa)
{
    sigaction(signum, sa, NULL);
}
#endif

static void save_found(int signum)
{
    struct disp_sig *d = &disp.sig[signum];

    if (!d->found_saved) {
        sigaction(signum, NULL, &d->found);
        d->found_saved = true;
    }
}

static bool is_plain(const struct sigaction *sa, void (*h)(int))
{
    return !(sa->sa_flags & SA_SIGINFO) && sa->sa_handler == h;
}

bool evsig__disp_is_libev_or_ours(const struct sigaction *sa)
{
    void (*libev)(int) = evsig__core_libev_handler();

    return evsig__catch_is_ours(sa) || (libev && is_plain(sa, libev));
}

/* The disposition the kernel should have while no claim stands. */
static void owed(int signum, struct sigaction *sa)
{
    const struct disp_sig *d = &disp.sig[signum];
    void (*libev)(int) = evsig__core_libev_handler();

    if (signum == SIGCHLD) {
        /* libev's default loop must keep its reaper even if it appeared
         * after evsig recorded SIG_DFL or SIG_IGN (a kernel SIG_IGN would
         * make the kernel discard exit statuses). */
        if ((is_plain(&d->found, SIG_DFL) || is_plain(&d->found, SIG_IGN)) &&
            libev && evsig__core_default_loop()) {
            memset(sa, 0, sizeof(*sa));
            sa->sa_handler = libev;
            sigfillset(&sa->sa_mask);
            sa->sa_flags = SA_RESTART;
            return;
        }
        *sa = d->found;
        return;
    }
    switch (d->table) {
    case EVSIG__TABLE_UNSET:
        *sa = d->found;
        return;
    case EVSIG__TABLE_IGN:
        memset(sa, 0, sizeof(*sa));
        sa->sa_handler = SIG_IGN;
        return;
    default:   /* DFL; CB is never owed: its binding claims the signal */
        memset(sa, 0, sizeof(*sa));
        sa->sa_handler = SIG_DFL;
        return;
    }
}

/* Tell the C handler what an unowned delivery meets now. */
static void update_fallback(int signum)
{
    struct sigaction sa;
    bool libev;

    owed(signum, &sa);
    libev = signum == SIGCHLD && evsig__core_libev_handler() &&
            is_plain(&sa, evsig__core_libev_handler());
    if (signum == SIGCHLD)
        evsig__catch_set_feed_libev(libev && !disp.own_sigchld);

    if (sa.sa_flags & SA_SIGINFO) {
        if (evsig__catch_is_ours(&sa))
            evsig__catch_set_fallback(signum, EVSIG__FALLBACK_IGNORE, NULL);
        else
            evsig__catch_set_fallback(signum, EVSIG__FALLBACK_SIGACTION,
                                      (void (*)(void))sa.sa_sigaction);
    } else if (sa.sa_handler == SIG_DFL) {
        evsig__catch_set_fallback(signum, EVSIG__FALLBACK_DEFAULT, NULL);
    } else if (sa.sa_handler == SIG_IGN || libev) {
        /* libev's reaper is fed whether or not the delivery had owners. */
        evsig__catch_set_fallback(signum, EVSIG__FALLBACK_IGNORE, NULL);
    } else {
        evsig__catch_set_fallback(signum, EVSIG__FALLBACK_HANDLER,
                                  (void (*)(void))sa.sa_handler);
    }
}

static void install_ours(int signum)
{
    struct disp_sig *d = &disp.sig[signum];
    struct sigaction sa;

    evsig__catch_sigaction(&sa, d->interrupt);
    sigaction(signum, &sa, NULL);
    d->hooked = true;
    d->changed = true;
}

/* Put the kernel in line with the claims. */
static void apply(int signum)
{
    struct disp_sig *d = &disp.sig[signum];
    struct sigaction sa;

    if (d->claims) {
        if (!d->hooked) {
            save_found(signum);
            update_fallback(signum);
            install_ours(signum);
        }
        return;
    }
    if (!d->hooked)
        return;
    owed(signum, &sa);
    set_exact(signum, &sa);
    d->hooked = false;
    if (d->table == EVSIG__TABLE_UNSET && signum != SIGCHLD) {
        /* Exactly what we found is back: the signal is the program's. */
        d->changed = false;
        d->found_saved = false;
    }
}

void evsig__disp_claim(int signum)
{
    if (disp.sig[signum].claims++ == 0)
        apply(signum);
}

void evsig__disp_release(int signum)
{
    assert(disp.sig[signum].claims > 0);
    if (--disp.sig[signum].claims == 0)
        apply(signum);
}

void evsig__disp_set_table(int signum, int kind)
{
    struct disp_sig *d = &disp.sig[signum];
    struct sigaction sa;

    save_found(signum);
    d->table = (uint8_t)kind;
    /* A callback's binding owns every delivery while it stands, and is
     * installed by its claim: the fallback stays what the table stood for
     * until then. */
    if (kind == EVSIG__TABLE_CB)
        return;
    update_fallback(signum);
    /* Unhooked, DFL and IGN are the kernel's own; SIGCHLD's table never
     * reaches the kernel. */
    if (d->hooked || signum == SIGCHLD)
        return;
    owed(signum, &sa);
    set_exact(signum, &sa);
    d->changed = true;
}

void evsig__disp_set_interrupt(int signum, bool interrupt)
{
    struct disp_sig *d = &disp.sig[signum];

    d->interrupt = interrupt;
    if (d->hooked)
        install_ours(signum);   /* ours over ours: no window */
}

void evsig__disp_found(int signum, struct sigaction *sa)
{
    if (disp.sig[signum].found_saved)
        *sa = disp.sig[signum].found;
    else
        sigaction(signum, NULL, sa);
}

void evsig__disp_own_sigchld(bool on)
{
    disp.own_sigchld = on;
    update_fallback(SIGCHLD);
}

void evsig__disp_meet_default_loop(void)
{
    if (!evsig__core_meet_default_loop())
        return;
    /* Creating the default loop installed libev's SIGCHLD handler over
     * whatever was there, ours included; and libev's reaper is now what
     * SIGCHLD owes when evsig found SIG_DFL or SIG_IGN. */
    if (disp.sig[SIGCHLD].found_saved || disp.sig[SIGCHLD].hooked)
        update_fallback(SIGCHLD);
    if (disp.sig[SIGCHLD].hooked)
        install_ours(SIGCHLD);
}

void evsig__disp_reset(void)
{
    for (int signum = 1; signum < NSIG; signum++) {
        struct disp_sig *d = &disp.sig[signum];

        d->table = EVSIG__TABLE_UNSET;
        if (d->found_saved && (d->hooked || d->changed)) {
            struct sigaction sa;

            owed(signum, &sa);   /* table unset: what evsig found */
            set_exact(signum, &sa);
        }
        memset(d, 0, sizeof(*d));
    }
    disp.own_sigchld = false;
    evsig__catch_set_feed_libev(false);
}

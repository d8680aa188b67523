/* SPDX-License-Identifier: MIT */
/*
 * test-model.c - random operation sequences, checked after every step
 * against a small reference model of what DESIGN.md promises.
 *
 * A seeded generator drives the public API on three loops (libev's default
 * loop and two ev_loop_new() loops, all run by this thread): the table
 * (evsig_signal() with callbacks, EVSIG_DFL and EVSIG_IGN, SIGCHLD's
 * cooperative one included), watchers (evsig_watch() with any of
 * EVSIG_NOREF, EVSIG_ONESHOT and EVSIG_COALESCE, evsig_unwatch(),
 * evsig_ref()/evsig_unref()), evsig_siginterrupt(), evsig_reset(); signals
 * from raise(), kill(), sigqueue() and from another thread (raise() and
 * pthread_sigqueue() there); children from evsig_fork_and_watch(),
 * evsig_spawn() and fork() + evsig_child_watch(), let go, killed with
 * evsig_kill(), unwatched, collected with evsig_waitpid*(); loops run
 * without waiting, to completion (ev_run(loop, 0): who keeps it alive), or
 * re-entrantly inside evsig_waitpid*().
 *
 * The model (struct model) holds per signal the table entry and the
 * siginterrupt flag, per watcher slot its loop, signal, flags and reference,
 * the deliveries received but not yet dispatched with the owners each had
 * at reception, and the children with the status each must be reported
 * with. After every step the callbacks the step produced are compared with
 * what the model dispatches (which handler, on which loop, in which order
 * per signal, with which si_code, sender, sigqueue value and merged count),
 * and the kernel and evsig are read back: sigaction() of every signal the
 * model uses (evsig's handler, with SA_RESTART exactly when siginterrupt
 * is off, or what the table stands for; exactly what was found while the
 * table was never set), evsig_getsignal(), evsig_is_active(). Children are
 * reported once each, with their status, on their loop, their callback
 * before the SIGCHLD table call. At every evsig_reset() and at the end of a
 * sequence, tu_teardown() checks that no fd, child, zombie, disposition or
 * mask change is left.
 *
 * What the generator avoids, so that every outcome is promised: it never
 * lets a delivery meet a default action that kills (a signal is sent only
 * when something owns it at reception or its disposition ignores it);
 * signals are sent so that this process takes them before the sending call
 * returns (to itself, from the thread that sends), so two sends are two
 * deliveries and the model can count them; at most PENDING_CAP deliveries of
 * a signal wait for a loop, so EVSIG_COALESCE folds all of them at once and
 * no ring laps; a child is let go, then waited for until it is a zombie,
 * so that whether a loop run reports it does not depend on timing.
 *
 * Under valgrind (EVSIG_TEST_VALGRIND) each send waits until valgrind has
 * delivered it, and the "other thread" sends come from this thread: a
 * thread that exits before valgrind looks at its signals loses them.
 *
 * A watcher's callback may stop another watcher of its signal (or itself);
 * the model stops it at the same point of the dispatch. Only of its own
 * signal: the order in which one loop dispatches different signals is not
 * promised.
 *
 * Not covered: cooperative waits (evsig_pause, evsig_sigwait*), callbacks
 * that start watchers or change the table, wakeup fds, loops on other
 * threads, signals that arrive while a loop dispatches, lapped rings,
 * evsig_forkpty_and_watch().
 *
 * Duration: EVSIG_MODEL_SECONDS (default 3) of sequences, or, with
 * EVSIG_MODEL_SOAK set (the 'soak' suite), EVSIG_SOAK_SECONDS (default 60).
 * EVSIG_MODEL_SEED picks the first sequence's seed (each sequence's seed is
 * the next of a splitmix64 chain), EVSIG_MODEL_SEQUENCES caps the count. On
 * a mismatch the test prints the sequence's seed, the step, the command
 * that replays it and the last operations.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "evsig.h"
#include "evsig-private.h"   /* evsig__catch_is_ours() */
#include "test-util.h"
#include "child-util.h"

#define NLOOPS      3          /* [0] is libev's default loop */
#define NSIGS       7          /* signals the model sends and watches */
#define T_CHLD      NSIGS      /* SIGCHLD's index in the table */
#define NTAB        (NSIGS + 1)
#define NW          10         /* watcher slots */
#define NC          8          /* child slots */
#define MAX_GATES   14         /* child-util.c keeps 16 per phase */
#define MAX_DEL     96         /* deliveries waiting for a loop */
#define PENDING_CAP 12         /* below the 16 a coalescing call folds */
#define LOG_MAX     4096
#define HIST        20
#define MAX_EXTRA   64

#define TAB_WHO(fn, data) (100 + (fn) * 2 + (data))

/* --- the real side: what the callbacks saw ---------------------------------- */

enum { E_SIG, E_CHILD };

struct entry {
    int             kind;
    int             who;       /* watcher slot, TAB_WHO() or child slot */
    struct ev_loop *loop;
    evsig_info      info;      /* E_SIG */
    pid_t           pid;       /* E_CHILD */
    int             status;
};

static struct {
    struct entry v[LOG_MAX];
    unsigned     n, seen;
    bool         overflow;
} rlog;

static struct real {
    struct ev_loop  *loop[NLOOPS];
    evsig_watcher    w[NW];
    int              wtag[NW];
    int              wsig[NW];      /* the signal each slot was started on */
    int              stops[NW];     /* the slot its callback stops, or -1 */
    int              tdata[2];
    int              ctag[NC];
    struct sigaction found[NTAB];   /* at the start of the phase */
    int              signo[NTAB];
} R;

static struct entry *log_add(int kind, int who, struct ev_loop *loop)
{
    struct entry *e;

    if (rlog.n == LOG_MAX) {
        rlog.overflow = true;
        return NULL;
    }
    e = &rlog.v[rlog.n++];
    memset(e, 0, sizeof(*e));
    e->kind = kind;
    e->who = who;
    e->loop = loop;
    return e;
}

static void record_sig(int who, struct ev_loop *loop, const evsig_info *info)
{
    struct entry *e = log_add(E_SIG, who, loop);

    if (e)
        e->info = *info;
}

/* A watcher's callback may stop another watcher of the same signal (or
 * itself): the dispatch must then skip it. */
static void watch_cb(struct ev_loop *loop, const evsig_info *info, void *data)
{
    int i = (int)((int *)data - R.wtag), k = R.stops[i];

    record_sig(i, loop, info);
    if (k >= 0 && R.wsig[k] == info->signo)
        evsig_unwatch(&R.w[k]);
}

static void table_cb_a(struct ev_loop *loop, const evsig_info *info,
                       void *data)
{
    record_sig(TAB_WHO(0, (int)((int *)data - R.tdata)), loop, info);
}

/* A second function: the same data with another handler is a change. */
static void table_cb_b(struct ev_loop *loop, const evsig_info *info,
                       void *data)
{
    record_sig(TAB_WHO(1, (int)((int *)data - R.tdata)), loop, info);
}

static const evsig_handler table_fns[2] = { table_cb_a, table_cb_b };

static void child_cb(struct ev_loop *loop, pid_t pid, int status, void *data)
{
    struct entry *e = log_add(E_CHILD, (int)((int *)data - R.ctag), loop);

    if (e) {
        e->pid = pid;
        e->status = status;
    }
}

/* --- the model --------------------------------------------------------------- */

enum { TAB_UNSET, TAB_DFL, TAB_IGN, TAB_CB };

struct mtab {
    int      type;
    int      fn, data, loop;   /* TAB_CB */
    unsigned gen;              /* bumped by every change */
};

struct mwatch {
    bool          active, refd, claimed;   /* claimed: a oneshot's one */
    int           loop, sig, flags;
    int           stops;                   /* R.stops */
    unsigned      inst;                    /* this start; 0: none */
    unsigned long order;                   /* start order */
};

/* A delivery received and not yet dispatched everywhere: its owners at
 * reception, and the loops that have dispatched it. */
struct mdel {
    int      sig, code, value;
    bool     tab;
    int      tfn, tdata, tloop;
    unsigned tgen;
    unsigned inst[NW];
    unsigned loops, done;      /* bit masks of loops */
};

enum {
    C_FREE,
    C_RUNNING,        /* watched, held at its gate */
    C_EXITED,         /* watched, a zombie (or killed): to be reported */
    C_REPORTED,       /* its callback ran; the result is kept */
    C_LOOSE_RUNNING,  /* unwatched, held at its gate: ours to reap */
    C_LOOSE_EXITED,   /* unwatched, exited */
    C_STALE,          /* unwatched after its report: the kept result may
                         stay (DESIGN does not say), once */
};

struct mchild {
    int           state, loop, flags, code, killsig;
    pid_t         pid;
    struct gate  *gate;
    const char   *how;
    bool          table_due;            /* its SIGCHLD table call */
    int           due_who;
    unsigned long rorder;               /* report order */
};

struct model {
    struct mtab   tab[NTAB];
    bool          intr[NSIGS];
    struct mwatch w[NW];
    struct mdel   del[MAX_DEL];
    int           ndel;
    unsigned      since_run[NSIGS][NLOOPS];
    struct mchild c[NC];
    unsigned      gen, inst;
    unsigned long order, rorder;
    int           gates;
    pid_t         extra[MAX_EXTRA];     /* unwatched SIGCHLDs the table saw */
    int           nextra;
};

static struct model M;

/* What one dispatch is expected to call. */
struct expect {
    int who, sig, code, value;
    unsigned merged;
};

/* --- the run: seed, figures, history --------------------------------------- */

static struct run {
    uint64_t      seed, rng;
    unsigned      step;
    unsigned long sequences, ops, checks;
    unsigned long calls, reports, resets;   /* callbacks compared, ... */
    double        longest;                  /* seconds, one sequence */
    uint64_t      longest_seed;
    int           backend;
    const char   *argv0;
    char          hist[HIST][128];
    unsigned      nhist;
    bool          in_phase;
    bool          verbose;      /* EVSIG_MODEL_VERBOSE: print every step */
    bool          valgrind;     /* EVSIG_TEST_VALGRIND */
    unsigned      may, must;    /* loops the current step may / must run */
} run;

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static unsigned pick(unsigned n)
{
    return (unsigned)(splitmix64(&run.rng) % n);
}

static bool chance(unsigned one_in)
{
    return pick(one_in) == 0;
}

__attribute__((format(printf, 1, 2)))
static void note(const char *fmt, ...)
{
    char *h = run.hist[run.nhist++ % HIST];
    int len = snprintf(h, sizeof(run.hist[0]), "%u: ", run.step);
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(h + len, sizeof(run.hist[0]) - (size_t)len, fmt, ap);
    va_end(ap);
    if (run.verbose)
        print_message("    %s\n", h);
}

__attribute__((format(printf, 2, 3), noreturn))
static void model_fail(int line, const char *fmt, ...)
{
    const char *env = getenv("EVSIG_CHILD_BACKEND");
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    print_error("model mismatch (test-model.c:%d): %s\n", line, msg);
    print_error("seed=%llu step=%u backend=%s\n",
                (unsigned long long)run.seed, run.step,
                run.backend == EVSIG_CHILD_LIBEV ? "libev" : "pidfd");
    print_error("reproduce: EVSIG_MODEL_SEED=%llu EVSIG_MODEL_SEQUENCES=1%s%s %s\n",
                (unsigned long long)run.seed,
                env ? " EVSIG_CHILD_BACKEND=" : "", env ? env : "",
                run.argv0);
    print_error("last operations:\n");
    for (unsigned i = run.nhist > HIST ? run.nhist - HIST : 0; i < run.nhist; i++)
        print_error("    %s\n", run.hist[i % HIST]);
    fail();
    abort();   /* fail() longjmps; cmocka 1.1.5 does not say noreturn */
}

#define CHECK(cond, ...) do {                                              \
        run.checks++;                                                      \
        if (!(cond))                                                       \
            model_fail(__LINE__, __VA_ARGS__);                             \
    } while (0)

static const char *sname(int si)
{
    return evsig_signame(R.signo[si]);
}

static bool default_ignores(int signo)
{
    return signo == SIGWINCH || signo == SIGURG || signo == SIGCHLD;
}

static int code_of(int kind)
{
    static const int codes[] = { SI_TKILL, SI_USER, SI_QUEUE, SI_TKILL,
                                 SI_QUEUE };
    return codes[kind];
}

/* --- the model's rules -------------------------------------------------------- */

/* Whether a delivery of @si received now has an owner: the table callback,
 * or an active watcher (a oneshot only until it claimed one). */
static bool model_owned(int si)
{
    if (M.tab[si].type == TAB_CB)
        return true;
    for (int i = 0; i < NW; i++)
        if (M.w[i].active && M.w[i].sig == si &&
            !((M.w[i].flags & EVSIG_ONESHOT) && M.w[i].claimed))
            return true;
    return false;
}

/* A delivery nobody owns meets the disposition the table stands for; the
 * model sends a signal only where that cannot kill. */
static bool model_may_send(int si)
{
    int type = M.tab[si].type;

    for (int l = 0; l < NLOOPS; l++)
        if (M.since_run[si][l] >= PENDING_CAP)
            return false;
    if (model_owned(si) || type == TAB_IGN || default_ignores(R.signo[si]))
        return true;
    return type == TAB_UNSET && R.found[si].sa_handler == SIG_IGN &&
           !(R.found[si].sa_flags & SA_SIGINFO);
}

static void model_receive(int si, int code, int value)
{
    struct mdel *d;

    for (int l = 0; l < NLOOPS; l++)
        M.since_run[si][l]++;
    if (!model_owned(si))
        return;
    CHECK(M.ndel < MAX_DEL, "model: too many pending deliveries");
    d = &M.del[M.ndel++];
    memset(d, 0, sizeof(*d));
    d->sig = si;
    d->code = code;
    d->value = code == SI_QUEUE ? value : 0;
    if (M.tab[si].type == TAB_CB) {
        d->tab = true;
        d->tfn = M.tab[si].fn;
        d->tdata = M.tab[si].data;
        d->tloop = M.tab[si].loop;
        d->tgen = M.tab[si].gen;
        d->loops |= 1u << d->tloop;
    }
    for (int i = 0; i < NW; i++) {
        struct mwatch *w = &M.w[i];

        if (!w->active || w->sig != si)
            continue;
        if (w->flags & EVSIG_ONESHOT) {
            if (w->claimed)
                continue;
            w->claimed = true;
        }
        d->inst[i] = w->inst;
        d->loops |= 1u << w->loop;
    }
}

/* Watcher slots in start order. */
static int by_order(int *idx)
{
    int n = 0;

    for (int i = 0; i < NW; i++)
        if (M.w[i].active)
            idx[n++] = i;
    for (int a = 1; a < n; a++)
        for (int b = a; b > 0 && M.w[idx[b - 1]].order > M.w[idx[b]].order; b--) {
            int t = idx[b];

            idx[b] = idx[b - 1];
            idx[b - 1] = t;
        }
    return n;
}

static void expect_add(struct expect *x, int *n, int who, const struct mdel *d,
                       unsigned merged)
{
    x[*n] = (struct expect){ who, d->sig, d->code, d->value, merged };
    (*n)++;
}

/*
 * Dispatch on loop @l what waits there, as DESIGN §3.2 says: per delivery in
 * the order received, the table callback if the table is still what owned
 * it and bound to @l, then the watchers of @l that owned it and are still
 * the same start, in start order; a coalescing watcher once, at the first
 * delivery it owns, with the newest one's siginfo and how many it owns; a
 * oneshot stops before its call. Fills @x (the calls, in order) and changes
 * M; the caller keeps a copy to undo.
 */
static int model_dispatch(int l, struct expect *x)
{
    bool folded[NW] = { false };
    int idx[NW], nw = by_order(idx), n = 0, keep = 0;

    for (int k = 0; k < M.ndel; k++) {
        struct mdel *d = &M.del[k];
        const struct mtab *t = &M.tab[d->sig];

        if (!(d->loops & ~d->done & (1u << l)))
            continue;
        if (d->tab && d->tloop == l && t->type == TAB_CB && t->gen == d->tgen)
            expect_add(x, &n, TAB_WHO(t->fn, t->data), d, 1);
        for (int j = 0; j < nw; j++) {
            int i = idx[j];
            struct mwatch *w = &M.w[i];

            if (!w->active || w->loop != l || d->inst[i] != w->inst)
                continue;
            if (w->flags & EVSIG_COALESCE) {
                const struct mdel *newest = d;
                unsigned merged = 0;

                if (folded[i])
                    continue;
                folded[i] = true;
                for (int k2 = k; k2 < M.ndel; k2++) {
                    const struct mdel *d2 = &M.del[k2];

                    if (d2->inst[i] == w->inst &&
                        (d2->loops & ~d2->done & (1u << l))) {
                        newest = d2;
                        merged++;
                    }
                }
                expect_add(x, &n, i, newest, merged);
            } else {
                expect_add(x, &n, i, d, 1);
            }
            if (w->flags & EVSIG_ONESHOT)
                w->active = false;
            if (w->stops >= 0 && M.w[w->stops].sig == w->sig)
                M.w[w->stops].active = false;   /* its callback did */
        }
        d->done |= 1u << l;
    }
    for (int k = 0; k < M.ndel; k++)
        if (M.del[k].loops & ~M.del[k].done)
            M.del[keep++] = M.del[k];
    M.ndel = keep;
    for (int si = 0; si < NSIGS; si++)
        M.since_run[si][l] = 0;
    return n;
}

/* Whether evsig's C handler must be installed for @si. */
static bool model_hooked(int si)
{
    if (M.tab[si].type == TAB_CB)
        return true;
    for (int i = 0; i < NW; i++)
        if (M.w[i].active && M.w[i].sig == si)
            return true;
    return false;
}

static bool child_watched(const struct mchild *c)
{
    return c->state == C_RUNNING || c->state == C_EXITED;
}

static bool status_is(const struct mchild *c, int status)
{
    if (c->killsig)
        return WIFSIGNALED(status) && WTERMSIG(status) == c->killsig;
    return WIFEXITED(status) && WEXITSTATUS(status) == c->code;
}

static void model_reset(void)
{
    int gates = M.gates;
    struct mchild c[NC];

    memcpy(c, M.c, sizeof(c));
    memset(&M, 0, sizeof(M));
    memcpy(M.c, c, sizeof(c));
    M.gates = gates;
}

/* --- comparing: callbacks ------------------------------------------------------ */

static int loop_index(struct ev_loop *loop)
{
    for (int l = 0; l < NLOOPS; l++)
        if (R.loop[l] == loop)
            return l;
    return -1;
}

static int sig_index(int signo)
{
    for (int si = 0; si < NTAB; si++)
        if (R.signo[si] == signo)
            return si;
    return -1;
}

static void check_child_report(const struct entry *e)
{
    struct mchild *c;
    char buf[64];

    CHECK(e->who >= 0 && e->who < NC, "child callback with unknown data");
    c = &M.c[e->who];
    CHECK(c->state == C_EXITED && c->pid == e->pid,
          "child %d (slot %d, %s) reported in state %d: expected only an "
          "exited watched child, once", (int)e->pid, e->who, c->how,
          c->state);
    CHECK(e->loop == R.loop[c->loop], "child %d reported on loop %d, watched "
          "on loop %d", (int)e->pid, loop_index(e->loop), c->loop);
    CHECK(status_is(c, e->status), "child %d (%s) reported %s, expected %s %d",
          (int)e->pid, c->how, tu_describe_status(e->status, buf, sizeof(buf)),
          c->killsig ? "killed by" : "exit", c->killsig ? c->killsig : c->code);
    c->state = C_REPORTED;
    c->rorder = ++M.rorder;
    run.reports++;
    if (M.tab[T_CHLD].type == TAB_CB) {
        c->table_due = true;
        c->due_who = TAB_WHO(M.tab[T_CHLD].fn, M.tab[T_CHLD].data);
    }
}

/* A SIGCHLD table call: after the callback of the watched child it is for,
 * on the child's loop; under PIDFD also once per SIGCHLD of a child no
 * loop watched when it was received (the kernel may merge those, and an
 * evsig_spawn() that failed made one too), on the table's loop. */
static void check_sigchld_call(const struct entry *e)
{
    const struct mtab *t = &M.tab[T_CHLD];

    for (int k = 0; k < NC; k++) {
        struct mchild *c = &M.c[k];

        if (c->pid != e->info.pid || c->state == C_FREE)
            continue;
        if (c->table_due) {
            int code = c->killsig ? CLD_KILLED : CLD_EXITED;

            CHECK(e->who == c->due_who, "SIGCHLD table call for %d by %d, "
                  "expected %d", (int)c->pid, e->who, c->due_who);
            CHECK(e->loop == R.loop[c->loop], "SIGCHLD table call for %d on "
                  "loop %d, its child is watched on loop %d", (int)c->pid,
                  loop_index(e->loop), c->loop);
            CHECK(status_is(c, e->info.status) && e->info.code == code,
                  "SIGCHLD table call for %d: status 0x%x code %d", (int)c->pid,
                  (unsigned)e->info.status, e->info.code);
            c->table_due = false;
            return;
        }
        CHECK(c->state == C_LOOSE_RUNNING || c->state == C_LOOSE_EXITED,
              "SIGCHLD table call for child %d (%s, state %d) without its "
              "report: never twice for one watched exit", (int)c->pid, c->how,
              c->state);
    }
    CHECK(run.backend == EVSIG_CHILD_PIDFD, "SIGCHLD table call for %d, no "
          "watched exit due (LIBEV calls it for watched exits only)",
          (int)e->info.pid);
    for (int k = 0; k < M.nextra; k++)
        CHECK(M.extra[k] != e->info.pid, "two SIGCHLD table calls for "
              "unwatched %d", (int)e->info.pid);
    CHECK(t->type == TAB_CB && e->who == TAB_WHO(t->fn, t->data) &&
          e->loop == R.loop[t->loop], "SIGCHLD table call for unwatched %d "
          "by %d on loop %d: not the table's", (int)e->info.pid, e->who,
          loop_index(e->loop));
    if (M.nextra < MAX_EXTRA)
        M.extra[M.nextra++] = e->info.pid;
}

static void check_call(const struct entry *e, const struct expect *x)
{
    const evsig_info *in = &e->info;

    run.calls++;
    CHECK(e->who == x->who, "%s on loop %d: call by %d, expected %d",
          sname(x->sig), loop_index(e->loop), e->who, x->who);
    CHECK(in->code == x->code, "%s by %d: si_code %d, expected %d",
          sname(x->sig), e->who, in->code, x->code);
    CHECK(in->pid == getpid() && in->uid == getuid() && in->status == 0,
          "%s by %d: pid %d uid %d status %d", sname(x->sig), e->who,
          (int)in->pid, (int)in->uid, in->status);
    CHECK(in->value.sival_int == x->value, "%s by %d: value %d, expected %d",
          sname(x->sig), e->who, in->value.sival_int, x->value);
    CHECK(in->lost == 0 && in->merged == x->merged, "%s by %d: lost %u "
          "merged %u, expected 0 and %u", sname(x->sig), e->who, in->lost,
          in->merged, x->merged);
}

/* Compare the signal calls the step made on loop @l (@got, in order) with
 * what the model dispatches there, per signal in order. @must: the step ran
 * @l for sure; else no call at all means it did not dispatch. */
static void settle_loop(int l, const struct entry **got, int ngot, bool must)
{
    static struct expect x[LOG_MAX];
    static struct model saved;
    int nx;

    saved = M;
    nx = model_dispatch(l, x);
    if (!must && ngot == 0 && nx > 0) {
        M = saved;   /* it did not dispatch (yet) */
        return;
    }
    if (ngot != nx) {
        for (int k = 0; k < nx; k++)
            print_error("    expected: %s by %d, code %d, value %d, merged %u\n",
                        sname(x[k].sig), x[k].who, x[k].code, x[k].value,
                        x[k].merged);
        for (int k = 0; k < ngot; k++)
            print_error("    got:      %s by %d, code %d, value %d, merged %u\n",
                        evsig_signame(got[k]->info.signo), got[k]->who,
                        got[k]->info.code, got[k]->info.value.sival_int,
                        got[k]->info.merged);
    }
    CHECK(ngot == nx, "loop %d: %d signal calls, expected %d", l, ngot, nx);
    for (int si = 0; si < NSIGS; si++) {
        int a = 0, b = 0;

        for (;;) {
            while (a < ngot && got[a]->info.signo != R.signo[si])
                a++;
            while (b < nx && x[b].sig != si)
                b++;
            if (a == ngot || b == nx)
                break;
            check_call(got[a++], &x[b++]);
        }
        CHECK(a == ngot && b == nx, "loop %d, %s: calls out of step with the "
              "model", l, sname(si));
    }
}

/* Check the log entries made since the last step. */
static void check_log(void)
{
    static const struct entry *got[NLOOPS][LOG_MAX];
    int ngot[NLOOPS] = { 0 };

    CHECK(!rlog.overflow, "callback log overflow");
    for (; rlog.seen < rlog.n; rlog.seen++) {
        const struct entry *e = &rlog.v[rlog.seen];
        int l = loop_index(e->loop);

        CHECK(l >= 0, "callback on a loop the model does not know");
        if (e->kind == E_CHILD) {
            check_child_report(e);
        } else if (e->info.signo == SIGCHLD) {
            check_sigchld_call(e);
        } else {
            CHECK(sig_index(e->info.signo) >= 0, "call for %d",
                  e->info.signo);
            CHECK((run.may | run.must) & (1u << l), "a signal call on loop %d, "
                  "which this step does not run", l);
            got[l][ngot[l]++] = e;
        }
    }
    for (int l = 0; l < NLOOPS; l++)
        if ((run.may | run.must) & (1u << l))
            settle_loop(l, got[l], ngot[l], run.must & (1u << l));
    for (int k = 0; k < NC; k++)
        CHECK(!M.c[k].table_due, "child %d reported without its SIGCHLD "
              "table call", (int)M.c[k].pid);
    rlog.n = rlog.seen = 0;
}

/* --- comparing: what the kernel and evsig say ---------------------------------- */

static void check_table_entry(int si)
{
    const struct mtab *t = &M.tab[si];
    evsig_action a;
    evsig_handler want = EVSIG_DFL;
    void *data = NULL;

    CHECK(evsig_getsignal(R.signo[si], &a) == 0, "evsig_getsignal(%s): %s",
          sname(si), tu_errname(errno));
    if (t->type == TAB_IGN) {
        want = EVSIG_IGN;
    } else if (t->type == TAB_CB) {
        want = table_fns[t->fn];
        data = &R.tdata[t->data];
    } else if (t->type == TAB_UNSET && si != T_CHLD) {
        const struct sigaction *f = &R.found[si];

        if (f->sa_flags & SA_SIGINFO || (f->sa_handler != SIG_DFL &&
                                         f->sa_handler != SIG_IGN))
            want = EVSIG_NONE;
        else if (f->sa_handler == SIG_IGN)
            want = EVSIG_IGN;
    }
    CHECK(a.handler == want && a.data == data, "evsig_getsignal(%s) = %p/%p, "
          "expected %p/%p", sname(si), (void *)(uintptr_t)a.handler, a.data,
          (void *)(uintptr_t)want, data);
}

static void check_disposition(int si)
{
    const struct mtab *t = &M.tab[si];
    struct sigaction sa;

    CHECK(sigaction(R.signo[si], NULL, &sa) == 0, "sigaction");
    if (model_hooked(si)) {
        CHECK(evsig__catch_is_ours(&sa), "%s: evsig's handler is not "
              "installed", sname(si));
        CHECK(!(sa.sa_flags & SA_RESTART) == M.intr[si], "%s: SA_RESTART %s, "
              "siginterrupt is %d", sname(si),
              sa.sa_flags & SA_RESTART ? "set" : "clear", M.intr[si]);
    } else if (t->type == TAB_UNSET) {
        CHECK(tu_same_sigaction(&sa, &R.found[si]), "%s: not exactly the "
              "disposition found", sname(si));
    } else {
        void (*want)(int) = t->type == TAB_IGN ? SIG_IGN : SIG_DFL;

        CHECK(!(sa.sa_flags & SA_SIGINFO) && sa.sa_handler == want,
              "%s: the kernel has %p, the table says %s", sname(si),
              (void *)sa.sa_handler, t->type == TAB_IGN ? "IGN" : "DFL");
    }
}

/* SIGCHLD is cooperative: whatever the table says, while a child is
 * watched the kernel has a handler (never SIG_IGN, which would discard
 * exit statuses), with SA_RESTART. */
static void check_sigchld(void)
{
    struct sigaction sa;
    bool watched = false;

    for (int k = 0; k < NC; k++)
        watched |= child_watched(&M.c[k]);
    CHECK(sigaction(SIGCHLD, NULL, &sa) == 0, "sigaction");
    if (watched)
        CHECK(((sa.sa_flags & SA_SIGINFO) || (sa.sa_handler != SIG_IGN &&
                                             sa.sa_handler != SIG_DFL)) &&
              (sa.sa_flags & SA_RESTART), "SIGCHLD: no handler with "
              "SA_RESTART while children are watched");
    check_table_entry(T_CHLD);
}

static void check_state(void)
{
    check_log();
    for (int i = 0; i < NW; i++)
        CHECK(evsig_is_active(&R.w[i]) == (int)M.w[i].active, "watcher %d: "
              "evsig_is_active() = %d, the model says %d", i,
              evsig_is_active(&R.w[i]), M.w[i].active);
    for (int si = 0; si < NSIGS; si++) {
        check_table_entry(si);
        check_disposition(si);
    }
    check_sigchld();
}

/* --- running loops ------------------------------------------------------------- */

static unsigned log_count_sig(int l)
{
    unsigned n = 0;

    for (unsigned k = rlog.seen; k < rlog.n; k++)
        n += rlog.v[k].kind == E_SIG && rlog.v[k].loop == R.loop[l] &&
             rlog.v[k].info.signo != SIGCHLD;
    return n;
}

/* How many signal calls the model expects if @l dispatches now. */
static int expected_calls(int l)
{
    static struct expect x[LOG_MAX];
    static struct model saved;
    int n;

    saved = M;
    n = model_dispatch(l, x);
    M = saved;
    return n;
}

/* Run @l without blocking until what the model expects was called (a few
 * iterations; more, each capped by a timer, on a slow machine). */
static void run_nowait(int l)
{
    unsigned want = (unsigned)expected_calls(l);
    struct tu_deadline d;

    for (int i = 0; i < 3; i++)
        ev_run(R.loop[l], EVRUN_NOWAIT);
    if (log_count_sig(l) < want) {
        tu_deadline_start(&d, R.loop[l], 5);
        while (log_count_sig(l) < want && !d.expired)
            ev_run(R.loop[l], EVRUN_ONCE);
        tu_deadline_stop(&d);
    }
    run.must |= 1u << l;
}

/* Whether ev_run(@l, 0) must keep running: an active watcher there that
 * holds a reference once what waits is dispatched (a oneshot that gets its
 * delivery stops), or a watched child held at its gate whose watch holds
 * one. Table callbacks hold none. */
static bool model_keeps_alive(int l)
{
    static struct expect x[LOG_MAX];
    static struct model saved;
    bool alive = false;

    saved = M;
    model_dispatch(l, x);
    for (int i = 0; i < NW; i++)
        alive |= M.w[i].active && M.w[i].loop == l && M.w[i].refd;
    M = saved;
    for (int k = 0; k < NC; k++)
        alive |= M.c[k].state == C_RUNNING && M.c[k].loop == l &&
                 !(M.c[k].flags & EVSIG_NOREF);
    return alive;
}

static void op_run_full(int l)
{
    bool alive = model_keeps_alive(l);
    bool returned = tu_ev_run_returns(R.loop[l], alive ? 0.05 : 10);

    note("ev_run(loop %d, 0): expected to %s", l, alive ? "keep running" :
         "return");
    run.must |= 1u << l;
    CHECK(returned != alive, "ev_run(loop %d, 0) %s", l, returned ?
          "returned although a watcher or child holds a reference" :
          "kept running with no reference held");
}

/* --- operations: the table, watchers, signals ----------------------------------- */

static int pick_loop(void)
{
    return (int)pick(NLOOPS);
}

/* The loop a child call may use: any under PIDFD, the default under LIBEV. */
static int pick_child_loop(void)
{
    return run.backend == EVSIG_CHILD_LIBEV ? 0 : pick_loop();
}

static void op_signal(int si)
{
    struct mtab *t = &M.tab[si], now = *t;
    int choice = (int)pick(6), l = si == T_CHLD ? pick_child_loop() : pick_loop();
    evsig_handler h;
    evsig_action old;
    void *data = NULL;

    if (choice < 4) {
        now.type = TAB_CB;
        now.fn = choice / 2;
        now.data = choice % 2;
        now.loop = l;
        h = table_fns[now.fn];
        data = &R.tdata[now.data];
    } else {
        now.type = choice == 4 ? TAB_DFL : TAB_IGN;
        h = choice == 4 ? EVSIG_DFL : EVSIG_IGN;
    }
    note("evsig_signal(loop %d, %s, %s)", l, evsig_signame(R.signo[si]),
         now.type == TAB_CB ? (now.fn ? "cb_b" : "cb_a") :
         now.type == TAB_DFL ? "DFL" : "IGN");
    CHECK(evsig_getsignal(R.signo[si], &old) == 0, "getsignal");
    {
        evsig_action prev = old;

        CHECK(evsig_signal(R.loop[l], R.signo[si], h, data, &old) == 0,
              "evsig_signal: %s", tu_errname(errno));
        CHECK(old.handler == prev.handler && old.data == prev.data,
              "evsig_signal's *old differs from evsig_getsignal()");
    }
    if (now.type != TAB_CB) {
        now.fn = now.data = now.loop = 0;
        if (t->type == now.type)
            return;
    } else if (t->type == TAB_CB && t->fn == now.fn && t->data == now.data &&
               t->loop == now.loop) {
        return;   /* the same again: no change, its deliveries stay owned */
    }
    now.gen = ++M.gen;
    *t = now;
}

static void op_siginterrupt(void)
{
    int si = (int)pick(NSIGS), flag = (int)pick(2);

    note("evsig_siginterrupt(%s, %d)", sname(si), flag);
    CHECK(evsig_siginterrupt(R.signo[si], flag) == 0, "evsig_siginterrupt: %s",
          tu_errname(errno));
    M.intr[si] = flag;
}

static void op_watch(void)
{
    int i = (int)pick(NW), l = pick_loop(), si = (int)pick(NSIGS);
    int flags = (int)pick(8), stops = chance(4) ? (int)pick(NW) : -1;
    struct mwatch *w = &M.w[i];

    note("evsig_watch(loop %d, w%d, %s, %s%s%s)%s, its callback stops w%d",
         l, i, sname(si), flags & EVSIG_NOREF ? "NOREF|" : "",
         flags & EVSIG_ONESHOT ? "ONESHOT|" : "",
         flags & EVSIG_COALESCE ? "COALESCE" : "",
         w->active ? " (active: no change)" : "", stops);
    if (!w->active) {
        /* It needs no initialization: give it garbage. */
        memset(&R.w[i], 0xa5 ^ (int)pick(256), sizeof(R.w[i]));
        R.wsig[i] = R.signo[si];
        R.stops[i] = stops;
    }
    CHECK(evsig_watch(R.loop[l], &R.w[i], R.signo[si], watch_cb, &R.wtag[i],
                      flags) == 0, "evsig_watch: %s", tu_errname(errno));
    if (w->active)
        return;
    *w = (struct mwatch){ .active = true, .refd = !(flags & EVSIG_NOREF),
                          .loop = l, .sig = si, .flags = flags, .stops = stops,
                          .inst = ++M.inst, .order = ++M.order };
}

static void op_unwatch(void)
{
    int i = (int)pick(NW);

    note("evsig_unwatch(w%d)%s", i, M.w[i].active ? "" : " (inactive)");
    CHECK(evsig_unwatch(&R.w[i]) == 0, "evsig_unwatch: %s", tu_errname(errno));
    M.w[i].active = false;
}

static void op_ref(void)
{
    int i = (int)pick(NW), ref = (int)pick(2), r;

    note("evsig_%sref(w%d)%s", ref ? "" : "un", i,
         M.w[i].active ? "" : " (inactive)");
    errno = 0;
    r = ref ? evsig_ref(&R.w[i]) : evsig_unref(&R.w[i]);
    if (!M.w[i].active) {
        CHECK(r == -1 && errno == EINVAL, "ref/unref of an inactive watcher: "
              "%d %s", r, tu_errname(errno));
        return;
    }
    CHECK(r == 0, "evsig_%sref: %s", ref ? "" : "un", tu_errname(errno));
    M.w[i].refd = ref;
}

struct sender {
    int sig, kind, value;
};

static void *sender_main(void *arg)
{
    const struct sender *s = arg;

    if (s->kind == 3)
        raise(s->sig);
    else
        pthread_sigqueue(pthread_self(), s->sig,
                         (union sigval){ .sival_int = s->value });
    return NULL;
}

/* Valgrind keeps signals blocked while the program runs and delivers them
 * when it next looks: a send to this thread may still be pending when the
 * call returns, and a second one would merge with it. Let it look until
 * the signal is taken (bounded: a signal nobody takes stays pending). */
static void valgrind_delivers(int sig)
{
    sigset_t pending;

    for (int i = 0; i < 10000; i++) {
        sigpending(&pending);
        if (sigismember(&pending, sig) != 1)
            return;
        sched_yield();
    }
}

static int send_raw(const struct sender *s)
{
    pthread_t t;
    int r;

    switch (s->kind) {
    case 0:
        return raise(s->sig);
    case 1:
        return kill(getpid(), s->sig);
    case 2:
        return sigqueue(getpid(), s->sig,
                        (union sigval){ .sival_int = s->value });
    default:
        /* Under valgrind a signal a thread sends itself is lost if the
         * thread exits before valgrind polls for it: send it from here. */
        if (run.valgrind)
            return s->kind == 3 ? raise(s->sig) :
                   sigqueue(getpid(), s->sig,
                            (union sigval){ .sival_int = s->value });
        r = pthread_create(&t, NULL, sender_main, (void *)s);
        CHECK(r == 0, "pthread_create: %s", tu_errname(r));
        return pthread_join(t, NULL);
    }
}

static int send_one(const struct sender *s)
{
    int r = send_raw(s);

    if (run.valgrind)
        valgrind_delivers(s->sig);
    return r;
}

/* Send a signal, once or a few times, so that this process takes it
 * before the call returns: raise(), kill() and sigqueue() to itself from
 * this thread (which leaves it unblocked, and is the only thread), or
 * raise() and pthread_sigqueue() from another thread, to that thread,
 * joined before the next send. */
static void op_send(void)
{
    static const char *const how[] = { "raise", "kill", "sigqueue",
                                       "thread raise", "thread sigqueue" };
    int si = (int)pick(NSIGS), n = chance(3) ? 2 + (int)pick(3) : 1;
    struct sender s;

    /* Mostly a signal something owns: most sends then reach callbacks. */
    for (int j = 0; j < NSIGS && !chance(3) && !model_owned(si); j++)
        si = (si + 1) % NSIGS;
    s.sig = R.signo[si];
    s.kind = (int)pick(5);
    for (int i = 0; i < n && model_may_send(si); i++) {
        s.value = (int)pick(1 << 20);
        note("%s(%s) value %d", how[s.kind], sname(si), s.value);
        CHECK(send_one(&s) == 0, "%s: %s", how[s.kind], tu_errname(errno));
        model_receive(si, code_of(s.kind), s.value);
    }
}

/* Arguments every call must refuse with EINVAL, changing nothing. */
static void op_bad_input(void)
{
    evsig_watcher spare;
    int si = (int)pick(NSIGS), l = pick_loop(), i = (int)pick(NW);

    note("bad input (%s, loop %d, w%d)", sname(si), l, i);
#define REFUSED(expr) CHECK((errno = 0, (expr)) == -1 && errno == EINVAL,   \
                            #expr ": not EINVAL but %s", tu_errname(errno))
    REFUSED(evsig_watch(R.loop[l], &R.w[i], R.signo[si], watch_cb, NULL, 0x40));
    REFUSED(evsig_watch(R.loop[l], &spare, SIGKILL, watch_cb, NULL, 0));
    REFUSED(evsig_watch(R.loop[l], &spare, R.signo[si], EVSIG_IGN, NULL, 0));
    REFUSED(evsig_signal(R.loop[l], SIGSTOP, table_cb_a, NULL, NULL));
    REFUSED(evsig_signal(R.loop[l], R.signo[si], EVSIG_NONE, NULL, NULL));
    REFUSED(evsig_signal(NULL, R.signo[si], table_cb_b, NULL, NULL));
    REFUSED(evsig_siginterrupt(SIGKILL, 1));
    REFUSED(evsig_siginterrupt(0, 1));
#undef REFUSED
}

/* --- operations: children --------------------------------------------------------- */

struct raw_child {
    struct gate *gate;
    int          code;
};

static void raw_child_main(void *arg)
{
    const struct raw_child *rc = arg;

    child_begin(rc->gate);
    child_wait_gate(rc->gate);
    _exit(rc->code);
}

static struct mchild *free_child(void)
{
    for (int k = 0; k < NC; k++)
        if (M.c[k].state == C_FREE)
            return &M.c[k];
    return NULL;
}

static struct mchild *pick_child(int state)
{
    int k0 = (int)pick(NC);

    for (int j = 0; j < NC; j++) {
        struct mchild *c = &M.c[(k0 + j) % NC];

        if (c->state == state)
            return c;
    }
    return NULL;
}

static void op_child_new(void)
{
    static const char *const how[] = { "fork_and_watch", "spawn",
                                       "fork+child_watch" };
    struct mchild *c = free_child();
    int slot, kind = (int)pick(3), r;
    void *data;

    if (!c || M.gates >= MAX_GATES)
        return;
    slot = (int)(c - M.c);
    data = &R.ctag[slot];
    *c = (struct mchild){ .state = C_RUNNING, .loop = pick_child_loop(),
                          .flags = chance(3) ? EVSIG_NOREF : 0,
                          .code = (int)pick(60), .gate = gate_new(),
                          .how = how[kind] };
    M.gates++;
    if (kind == 0) {
        c->pid = evsig_fork_and_watch(R.loop[c->loop], child_cb, data,
                                      c->flags);
        if (c->pid == 0) {
            child_begin(c->gate);
            child_wait_gate(c->gate);
            _exit(c->code);
        }
    } else if (kind == 1) {
        char script[32];
        char *argv[] = { (char *)"sh", (char *)"-c", script, NULL };
        evsig_spawn_options o = {
            .file = "/bin/sh", .argv = argv, .flags = c->flags,
            .stdio = { { EVSIG_STDIO_FD, c->gate->rd },
                       { EVSIG_STDIO_DEVNULL, -1 },
                       { EVSIG_STDIO_DEVNULL, -1 } },
        };

        snprintf(script, sizeof(script), "read x; exit %d", c->code);
        c->pid = evsig_spawn(R.loop[c->loop], &o, NULL, child_cb, data);
    } else {
        struct raw_child rc = { c->gate, c->code };

        c->pid = tu_fork(raw_child_main, &rc);
        r = evsig_child_watch(R.loop[c->loop], c->pid, child_cb, data,
                              c->flags);
        CHECK(r == 0, "evsig_child_watch: %s", tu_errname(errno));
    }
    note("%s(loop %d%s) = %d, exit %d", c->how, c->loop,
         c->flags ? ", NOREF" : "", (int)c->pid, c->code);
    CHECK(c->pid > 0, "%s: %s", c->how, tu_errname(errno));
}

/* Let a child go; wait (without running a loop) until it is a zombie. */
static void release(struct mchild *c)
{
    gate_open(c->gate);
    if (c->state == C_RUNNING || c->state == C_LOOSE_RUNNING)
        wait_zombie(c->pid);
    if (c->state == C_RUNNING)
        c->state = C_EXITED;
    else if (c->state == C_LOOSE_RUNNING)
        c->state = C_LOOSE_EXITED;
}

static void op_child_release(void)
{
    struct mchild *c = pick_child(chance(4) ? C_LOOSE_RUNNING : C_RUNNING);

    if (!c)
        return;
    note("let %d (%s) exit %d", (int)c->pid, c->how, c->code);
    release(c);
}

static void op_child_kill(void)
{
    struct mchild *c = pick_child(C_RUNNING + (int)pick(3));
    int l = pick_child_loop(), sig, r;

    if (!c)
        return;
    errno = 0;
    if (c->state == C_REPORTED) {
        /* Reaped: ESRCH, never whatever process has the pid now (probe
         * with 0, in case that went wrong). */
        note("evsig_kill(loop %d, reported %d, 0)", l, (int)c->pid);
        r = evsig_kill(R.loop[l], c->pid, 0);
        CHECK(r == -1 && errno == ESRCH, "evsig_kill of a reaped child: %d %s",
              r, tu_errname(errno));
        return;
    }
    if (c->state == C_EXITED || chance(3)) {
        note("evsig_kill(loop %d, %d, 0)", l, (int)c->pid);
        CHECK(evsig_kill(R.loop[l], c->pid, 0) == 0, "evsig_kill(0): %s",
              tu_errname(errno));
        return;
    }
    /* sh may treat SIGTERM its own way: spawned children get SIGKILL. */
    sig = c->how[0] == 's' || chance(2) ? SIGKILL : SIGTERM;
    note("evsig_kill(loop %d, %d, %s)", l, (int)c->pid, evsig_signame(sig));
    CHECK(evsig_kill(R.loop[l], c->pid, sig) == 0, "evsig_kill: %s",
          tu_errname(errno));
    c->killsig = sig;
    wait_zombie(c->pid);
    c->state = C_EXITED;
}

static void collected(struct mchild *c, pid_t r, int status, const char *what)
{
    char buf[64];

    CHECK(r == c->pid, "%s(%d) = %d: %s", what, (int)c->pid, (int)r,
          tu_errname(errno));
    CHECK(status_is(c, status), "%s(%d): %s, expected %s %d", what,
          (int)c->pid, tu_describe_status(status, buf, sizeof(buf)),
          c->killsig ? "killed by" : "exit", c->killsig ? c->killsig : c->code);
    c->state = C_FREE;
}

/* The REPORTED child on @l reported first, or NULL. */
static struct mchild *oldest_result(int l)
{
    struct mchild *best = NULL;

    for (int k = 0; k < NC; k++)
        if (M.c[k].state == C_REPORTED && M.c[k].loop == l &&
            (!best || M.c[k].rorder < best->rorder))
            best = &M.c[k];
    return best;
}

static bool loop_watches_children(int l)
{
    for (int k = 0; k < NC; k++)
        if (child_watched(&M.c[k]) && M.c[k].loop == l)
            return true;
    return false;
}

/* evsig_waitpid(pid == -1, WNOHANG) on a loop that watches a child: the
 * oldest result kept there; else, once what is ready was processed (every
 * exited child: they are zombies), the oldest of those; else 0. */
static void op_waitpid_any(void)
{
    int l = pick_child_loop(), status = 0;
    struct mchild *c;
    pid_t r;

    if (!loop_watches_children(l))
        return;
    note("evsig_waitpid(loop %d, -1, WNOHANG)", l);
    run.may |= 1u << l;
    r = evsig_waitpid(R.loop[l], -1, &status, WNOHANG);
    check_log();
    for (int k = 0; k < NC; k++) {
        c = &M.c[k];
        if (c->state == C_STALE && c->pid == r && c->loop == l) {
            collected(c, r, status, "evsig_waitpid(-1, WNOHANG)");
            return;
        }
        CHECK(r != 0 || !(c->state == C_EXITED && c->loop == l),
              "evsig_waitpid(-1, WNOHANG) = 0 with exited child %d "
              "unprocessed", (int)c->pid);
    }
    c = oldest_result(l);
    if (!c) {
        CHECK(r == 0, "evsig_waitpid(-1, WNOHANG) = %d, nothing kept: "
              "expected 0 (%s)", (int)r, tu_errname(errno));
        return;
    }
    collected(c, r, status, "evsig_waitpid(-1, WNOHANG)");
}

static void op_waitpid(void)
{
    struct mchild *c = pick_child(C_RUNNING + (int)pick(3));
    int status = 0, l;
    pid_t r;

    if (!c)
        return;
    l = c->loop;
    if (child_watched(c) && run.backend == EVSIG_CHILD_PIDFD && chance(5)) {
        l = (c->loop + 1 + (int)pick(NLOOPS - 1)) % NLOOPS;
        note("evsig_waitpid(loop %d, %d, WNOHANG): watched on loop %d", l,
             (int)c->pid, c->loop);
        errno = 0;
        r = evsig_waitpid(R.loop[l], c->pid, &status, WNOHANG);
        CHECK(r == -1 && errno == ECHILD, "evsig_waitpid on another loop: %d %s",
              (int)r, tu_errname(errno));
        run.may |= 1u << l;
        return;
    }
    run.may |= 1u << l;
    if (c->state == C_RUNNING) {
        if (chance(2)) {
            note("evsig_waitpid(loop %d, running %d, WNOHANG)", l, (int)c->pid);
            r = evsig_waitpid(R.loop[l], c->pid, &status, WNOHANG);
            CHECK(r == 0, "evsig_waitpid(WNOHANG) of a running child: %d %s",
                  (int)r, tu_errname(errno));
        } else {
            note("evsig_waitpid_timeout(loop %d, running %d, 0.01)", l,
                 (int)c->pid);
            errno = 0;
            r = evsig_waitpid_timeout(R.loop[l], c->pid, &status, 0.01);
            CHECK(r == -1 && errno == ETIMEDOUT, "evsig_waitpid_timeout of a "
                  "running child: %d %s", (int)r, tu_errname(errno));
        }
        return;
    }
    if (c->state == C_EXITED && chance(2)) {
        note("evsig_waitpid(loop %d, exited %d, WNOHANG)", l, (int)c->pid);
        r = evsig_waitpid(R.loop[l], c->pid, &status, WNOHANG);
    } else if (c->state == C_EXITED) {
        note("evsig_waitpid_timeout(loop %d, exited %d, 10)", l, (int)c->pid);
        r = evsig_waitpid_timeout(R.loop[l], c->pid, &status, 10);
    } else {
        int options = chance(2) ? 0 : WNOHANG;

        note("evsig_waitpid(loop %d, reported %d, %s)", l, (int)c->pid,
             options ? "WNOHANG" : "0");
        r = evsig_waitpid(R.loop[l], c->pid, &status, options);
    }
    /* Its callback and the SIGCHLD table call ran before it returned. */
    check_log();
    CHECK(c->state == C_REPORTED, "evsig_waitpid(%d) returned %d before the "
          "child's callback ran", (int)c->pid, (int)r);
    collected(c, r, status, "evsig_waitpid");
}

static void op_child_unwatch(void)
{
    static const int states[] = { C_RUNNING, C_EXITED, C_REPORTED, C_STALE };
    struct mchild *c = pick_child(states[pick(4)]);
    int l, r;

    if (!c)
        return;
    l = c->loop;
    if (run.backend == EVSIG_CHILD_PIDFD && child_watched(c) &&
        chance(4)) {
        l = (c->loop + 1 + (int)pick(NLOOPS - 1)) % NLOOPS;
        note("evsig_child_unwatch(loop %d, %d): watched on loop %d", l,
             (int)c->pid, c->loop);
        errno = 0;
        r = evsig_child_unwatch(R.loop[l], c->pid);
        CHECK(r == -1 && errno == ECHILD, "evsig_child_unwatch on another "
              "loop: %d %s", r, tu_errname(errno));
        return;
    }
    note("evsig_child_unwatch(loop %d, %d) in state %d", l, (int)c->pid,
         c->state);
    CHECK(evsig_child_unwatch(R.loop[l], c->pid) == 0,
          "evsig_child_unwatch: %s", tu_errname(errno));
    c->state = c->state == C_RUNNING ? C_LOOSE_RUNNING :
               c->state == C_EXITED ? C_LOOSE_EXITED : C_STALE;
}

/* An unwatched child is the program's: evsig_waitpid() of its pid collects
 * it (LIBEV: libev's kept result or waitpid(); PIDFD: waiting
 * cooperatively). */
static void reap_loose(struct mchild *c)
{
    int l = pick_child_loop(), status = 0;
    pid_t r;

    if (c->state == C_LOOSE_RUNNING)
        release(c);
    bool timeout = chance(2);

    note("evsig_waitpid%s(loop %d, unwatched %d)", timeout ? "_timeout" : "",
         l, (int)c->pid);
    run.may |= 1u << l;
    if (!timeout)
        r = evsig_waitpid(R.loop[l], c->pid, &status, 0);
    else
        r = evsig_waitpid_timeout(R.loop[l], c->pid, &status, 10);
    collected(c, r, status, "evsig_waitpid of an unwatched child");
}

static void op_reap_loose(void)
{
    struct mchild *c = pick_child(chance(2) ? C_LOOSE_RUNNING : C_LOOSE_EXITED);

    if (c)
        reap_loose(c);
}

static void op_spawn_fails(void)
{
    char *argv[] = { (char *)"evsig-model-no-such-program", NULL };
    evsig_spawn_options o = { .file = "/nonexistent/evsig-model", .argv = argv };
    int l = pick_child_loop();

    note("evsig_spawn(loop %d, a missing program)", l);
    errno = 0;
    CHECK(evsig_spawn(R.loop[l], &o, NULL, child_cb, NULL) == -1 &&
          errno == ENOENT, "evsig_spawn of a missing program: %s",
          tu_errname(errno));
}

/* --- phases: between evsig_reset()s ---------------------------------------------- */

static void phase_begin(void)
{
    assert_int_equal(tu_setup(NULL), 0);
    run.in_phase = true;
    /* As child_setup(): a SIGCHLD libev's own handler caught since the last
     * reset feeds its reaper; let it run now, before this phase's children. */
    tu_spin(R.loop[0]);
    for (int si = 0; si < NTAB; si++)
        sigaction(R.signo[si], NULL, &R.found[si]);
    run.backend = child_backend();
}

/* Every child let go and a zombie, or gone: nothing may block later. */
static void release_all(void)
{
    for (int k = 0; k < NC; k++)
        if (M.c[k].state != C_FREE)
            release(&M.c[k]);
}

/* evsig_reset() with children in any state: it forgets them; they are ours
 * to reap then (without running the default loop, whose libev reaper might
 * otherwise take them). */
static void phase_reset(void)
{
    note("evsig_reset()");
    run.resets++;
    release_all();
    CHECK(evsig_reset() == 0, "evsig_reset");
    for (int k = 0; k < NC; k++) {
        struct mchild *c = &M.c[k];
        int status;

        if (c->state == C_FREE || c->state == C_REPORTED ||
            c->state == C_STALE)
            continue;
        status = tu_wait(c->pid, 10);
        /* LIBEV: libev may have reaped an unwatched child already. */
        if (status == -1 && errno == ECHILD && c->state == C_LOOSE_EXITED &&
            run.backend == EVSIG_CHILD_LIBEV)
            continue;
        CHECK(status != -1, "child %d (%s) after evsig_reset(): %s",
              (int)c->pid, c->how, tu_errname(errno));
        CHECK(status_is(c, status), "child %d after evsig_reset(): status 0x%x",
              (int)c->pid, (unsigned)status);
    }
    memset(M.c, 0, sizeof(M.c));
    model_reset();
    check_log();
}

/* Let every child go, wait until each watched one is reported, collect what
 * is kept (or leave it to evsig_reset()), reap the unwatched ones. */
static void phase_drain(void)
{
    struct tu_deadline d;

    release_all();
    for (int l = 0; l < NLOOPS; l++) {
        bool exited = true;

        run.must = 1u << l;
        tu_deadline_start(&d, R.loop[l], 10);
        while (exited && !d.expired) {
            ev_run(R.loop[l], EVRUN_NOWAIT);
            check_log();
            exited = false;
            for (int k = 0; k < NC; k++)
                exited |= M.c[k].state == C_EXITED && M.c[k].loop == l;
            if (exited)
                ev_run(R.loop[l], EVRUN_ONCE);
        }
        tu_deadline_stop(&d);
        CHECK(!exited, "loop %d: an exited child was not reported in 10 s", l);
    }
    run.must = 0;
    for (int k = 0; k < NC; k++) {
        struct mchild *c = &M.c[k];

        if (c->state == C_LOOSE_EXITED) {
            reap_loose(c);
        } else if (c->state == C_REPORTED && chance(2)) {
            int status = 0;
            pid_t r;

            run.may = 1u << c->loop;
            r = evsig_waitpid(R.loop[c->loop], c->pid, &status, WNOHANG);
            collected(c, r, status, "evsig_waitpid of a kept result");
        }
        check_log();
        run.may = 0;
    }
    CHECK(tu_count_children() == 0 && tu_count_zombies() == 0,
          "children left after every child was reported or reaped: %d (%d "
          "zombies)", tu_count_children(), tu_count_zombies());
}

static void phase_end(void)
{
    phase_drain();
    memset(M.c, 0, sizeof(M.c));
    gates_close_all();
    M.gates = 0;
    run.in_phase = false;
    CHECK(tu_teardown(NULL) == 0, "tu_teardown: something leaked (see above)");
}

/* --- sequences ------------------------------------------------------------------- */

static void op_signal_any(void)
{
    op_signal((int)pick(NSIGS));
}

static void op_signal_sigchld(void)
{
    op_signal(T_CHLD);
}

static void op_run_one(void)
{
    int l = pick_loop();

    note("ev_run(loop %d, NOWAIT)", l);
    run_nowait(l);
}

static void op_run_all(void)
{
    note("ev_run(every loop, NOWAIT)");
    /* One at a time: a callback on one loop may stop a watcher on the
     * next, so each loop's calls are settled before the next one runs. */
    for (int l = 0; l < NLOOPS; l++) {
        run_nowait(l);
        check_log();
        run.must = 0;
    }
}

static void op_run_until_idle(void)
{
    op_run_full(pick_loop());
}

/* evsig_reset() in the middle of a sequence: the phase ends (everything is
 * checked for leaks) and a new one begins. */
static void op_reset(void)
{
    phase_reset();
    phase_end();
    phase_begin();
}

/* The operations and their weights (out of 100). */
static const struct op {
    unsigned weight;
    void   (*fn)(void);
} ops[] = {
    { 14, op_watch },         { 6, op_unwatch },        { 4, op_ref },
    { 7, op_signal_any },     { 2, op_signal_sigchld }, { 2, op_siginterrupt },
    { 24, op_send },          { 9, op_run_one },        { 3, op_run_all },
    { 2, op_run_until_idle }, { 5, op_child_new },      { 5, op_child_release },
    { 2, op_child_kill },     { 5, op_waitpid },        { 2, op_waitpid_any },
    { 2, op_child_unwatch },  { 2, op_reap_loose },     { 1, op_spawn_fails },
    { 2, op_bad_input },      { 1, op_reset },
};

static void step(void)
{
    unsigned r = pick(100);
    size_t i = 0;

    while (r >= ops[i].weight) {
        r -= ops[i].weight;
        i++;
    }
    run.may = run.must = 0;
    run.step++;
    run.ops++;
    ops[i].fn();
    check_state();
}

static void run_sequence(void)
{
    unsigned n;

    run.rng = run.seed;
    run.step = 0;
    run.nhist = 0;
    n = 40 + pick(80);
    memset(&M, 0, sizeof(M));
    rlog.n = rlog.seen = 0;
    rlog.overflow = false;
    phase_begin();
    check_state();
    while (run.step < n)
        step();
    note("end of sequence");
    run.may = run.must = 0;
    phase_end();
    run.sequences++;
}

static double env_seconds(const char *name, double dflt)
{
    const char *s = getenv(name);

    return s && *s ? strtod(s, NULL) : dflt;
}

static void test_random_sequences_match_the_model(void **unused)
{
    const char *seed = getenv("EVSIG_MODEL_SEED");
    const char *nseq = getenv("EVSIG_MODEL_SEQUENCES");
    unsigned long max = nseq && *nseq ? strtoul(nseq, NULL, 10) : ~0ul;
    double seconds = getenv("EVSIG_MODEL_SOAK")
                         ? env_seconds("EVSIG_SOAK_SECONDS", 60)
                         : env_seconds("EVSIG_MODEL_SECONDS", 3);
    double start = tu_now();
    uint64_t first, chain;

    (void)unused;
    if (seed && *seed) {
        first = strtoull(seed, NULL, 10);
    } else {
        chain = (uint64_t)start ^ (uint64_t)getpid() << 32 ^
                (uint64_t)(tu_now() * 1e9);
        first = splitmix64(&chain);
    }
    run.seed = first;
    chain = first;
    print_message("    model: first seed %llu, %g s\n",
                  (unsigned long long)first, seconds);
    while (run.sequences < max &&
           (run.sequences < 2 || tu_now() - start < seconds)) {
        double t0 = tu_now();

        run_sequence();
        if (tu_now() - t0 > run.longest) {
            run.longest = tu_now() - t0;
            run.longest_seed = run.seed;
        }
        run.seed = splitmix64(&chain);
    }
    print_message("    model: %lu sequences, %lu operations, %lu checks "
                  "(%lu signal calls, %lu child reports, %lu resets) in "
                  "%.1f s (%s backend)\n", run.sequences, run.ops, run.checks,
                  run.calls, run.reports, run.resets, tu_now() - start,
                  run.backend == EVSIG_CHILD_LIBEV ? "LIBEV" : "PIDFD");
    print_message("    model: longest sequence %.2f s (seed %llu)\n",
                  run.longest, (unsigned long long)run.longest_seed);
    TU_FIGURE("model_sequences", "%lu", run.sequences);
    TU_FIGURE("model_operations", "%lu", run.ops);
    TU_FIGURE("model_checks", "%lu", run.checks);
    TU_FIGURE("model_seconds", "%.1f", tu_now() - start);
}

/* After a mismatch: let every child go and reap it, close the gates, and
 * leave the process as the test found it. */
static int model_teardown(void **state)
{
    for (int k = 0; k < NC; k++)
        if (M.c[k].state != C_FREE && M.c[k].gate)
            gate_open(M.c[k].gate);
    memset(&M, 0, sizeof(M));
    if (!run.in_phase)
        return 0;
    evsig_reset();
    gates_close_all();
    run.in_phase = false;
    return tu_teardown(state);
}

/* libev opens a loop's wakeup eventfd at its first ev_async start and keeps
 * it: open it now, before any snapshot, so that it is not a leak. */
static void noop_async_cb(struct ev_loop *loop, ev_async *w, int revents)
{
    (void)loop;
    (void)w;
    (void)revents;
}

static struct ev_loop *with_its_eventfd(struct ev_loop *loop)
{
    ev_async a;

    assert_non_null(loop);
    ev_async_init(&a, noop_async_cb);
    ev_async_start(loop, &a);
    ev_async_stop(loop, &a);
    return loop;
}

int main(int argc, char **argv)
{
    static const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_random_sequences_match_the_model,
                                  model_teardown),
    };
    int r;

    (void)argc;
    run.argv0 = argv[0];
    run.verbose = getenv("EVSIG_MODEL_VERBOSE") != NULL;
    run.valgrind = getenv("EVSIG_TEST_VALGRIND") != NULL;
    R.signo[0] = SIGUSR1;
    R.signo[1] = SIGUSR2;
    R.signo[2] = SIGHUP;
    R.signo[3] = SIGWINCH;
    R.signo[4] = SIGURG;
    R.signo[5] = SIGRTMIN + 2;
    R.signo[6] = SIGRTMIN + 5;
    R.signo[T_CHLD] = SIGCHLD;
    R.loop[0] = with_its_eventfd(ev_default_loop(EVFLAG_NOENV));
    R.loop[1] = with_its_eventfd(ev_loop_new(EVFLAG_NOENV));
    R.loop[2] = with_its_eventfd(ev_loop_new(EVFLAG_NOENV));
    r = cmocka_run_group_tests(tests, NULL, NULL);
    evsig_reset();
    ev_loop_destroy(R.loop[1]);
    ev_loop_destroy(R.loop[2]);
    return r;
}

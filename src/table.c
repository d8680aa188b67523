/* SPDX-License-Identifier: MIT */
/*
 * table.c - Python's signal.signal() / signal.getsignal(), and
 * siginterrupt().
 *
 * Owns the table: per signal whether evsig_signal() set it since the last
 * reset, and to what (EVSIG_DFL, EVSIG_IGN, or a callback with its data and
 * loop). What that means below is asked of the layers that own it: the
 * callback's binding to its loop (dispatch.c, which calls it), what the
 * kernel gets when nothing holds the signal (disposition.c), and for
 * SIGCHLD, whose table is cooperative, the callback child.c calls per
 * watched child's exit (see set_sigchld()).
 *
 * Setting the same handler, data and loop again is no change, so the
 * deliveries it owns stay owned (DESIGN §3.1).
 *
 * Context: any thread; every entry point takes the lock.
 */
#include <string.h>

#include "evsig-private.h"

struct table_sig {
    bool            set;
    evsig_handler   handler;
    void           *data;
    struct ev_loop *loop;
};

static struct table_state {
    struct table_sig sig[NSIG];
} table;

static bool is_cb(evsig_handler h)
{
    return h != EVSIG_DFL && h != EVSIG_IGN && h != EVSIG_NONE;
}

static void classify(int signum, const struct sigaction *sa, evsig_action *out)
{
    out->data = NULL;
    if (!(sa->sa_flags & SA_SIGINFO) && sa->sa_handler == SIG_DFL)
        out->handler = EVSIG_DFL;
    else if (!(sa->sa_flags & SA_SIGINFO) && sa->sa_handler == SIG_IGN)
        out->handler = EVSIG_IGN;
    else if (signum == SIGCHLD && evsig__disp_is_libev_or_ours(sa))
        out->handler = EVSIG_DFL;   /* libev's reaper is not the user's */
    else
        out->handler = EVSIG_NONE;
}

void evsig__table_action(int signum, evsig_action *out)
{
    const struct table_sig *t = &table.sig[signum];
    struct sigaction sa;

    if (t->set) {
        out->handler = t->handler;
        out->data = t->data;
        return;
    }
    evsig__disp_found(signum, &sa);
    classify(signum, &sa, out);
}

EVSIG_PUBLIC int evsig_getsignal(int signum, evsig_action *out)
{
    sigset_t saved;

    if (evsig__check_signum(signum) < 0 || !out)
        return evsig__fail(-EINVAL);
    evsig__lock(&saved);
    evsig__disp_meet_default_loop();
    evsig__table_action(signum, out);
    evsig__unlock(&saved);
    return 0;
}

static int kind_of(evsig_handler h)
{
    return h == EVSIG_DFL ? EVSIG__TABLE_DFL :
           h == EVSIG_IGN ? EVSIG__TABLE_IGN : EVSIG__TABLE_CB;
}

/*
 * SIGCHLD's callback is cooperative: child.c calls it once per exit of a
 * watched child, on that child's loop. With the PIDFD backend it also runs
 * on its own loop for every SIGCHLD whose child was not watched when the
 * signal was received (nobody else reports those): then it is bound to
 * its loop like any table callback, told to skip watched children. With
 * LIBEV it only holds a claim, so that evsig's C handler stays installed
 * for SIGCHLD and the wakeup fd gets its byte.
 */
static int set_sigchld(struct ev_loop *loop, evsig_handler handler,
                       void *data)
{
    bool was = table.sig[SIGCHLD].set && is_cb(table.sig[SIGCHLD].handler);
    int r;

    if (evsig__child_resolve() == EVSIG_CHILD_PIDFD) {
        if (is_cb(handler)) {
            r = evsig__dispatch_table(SIGCHLD, loop, handler, data, true);
            if (r < 0)
                return r;
            evsig__disp_set_table(SIGCHLD, EVSIG__TABLE_CB);
        } else {
            evsig__disp_set_table(SIGCHLD, kind_of(handler));
            (void)evsig__dispatch_table(SIGCHLD, NULL, NULL, NULL, false);
        }
    } else {
        evsig__disp_set_table(SIGCHLD, kind_of(handler));
        if (is_cb(handler) && !was)
            evsig__disp_claim(SIGCHLD);
        else if (!is_cb(handler) && was)
            evsig__disp_release(SIGCHLD);
    }
    evsig__child_set_sigchld_cb(loop, is_cb(handler) ? handler : NULL, data);
    evsig__child_meet();
    return 0;
}

EVSIG_PUBLIC int evsig_signal(struct ev_loop *loop, int signum,
                              evsig_handler handler, void *data,
                              evsig_action *old)
{
    struct table_sig *t;
    evsig_action prev;
    sigset_t saved;
    int r = 0;

    if (evsig__check_signum(signum) < 0 || handler == EVSIG_NONE)
        return evsig__fail(-EINVAL);
    /* The kernel refuses any disposition for these two. */
    if (signum == SIGKILL || signum == SIGSTOP)
        return evsig__fail(-EINVAL);
    if (is_cb(handler) && !loop)
        return evsig__fail(-EINVAL);
    if (!is_cb(handler)) {
        loop = NULL;
        data = NULL;
    }

    evsig__lock(&saved);
    evsig__disp_meet_default_loop();
    /* LIBEV reaps on libev's default loop only. */
    if (is_cb(handler) && signum == SIGCHLD &&
        evsig__child_resolve() == EVSIG_CHILD_LIBEV &&
        loop != evsig__core_default_loop()) {
        r = -EINVAL;
        goto out;
    }

    t = &table.sig[signum];
    evsig__table_action(signum, &prev);
    if (t->set && t->handler == handler && t->data == data && t->loop == loop)
        goto done;   /* no change: its deliveries stay owned */

    if (signum == SIGCHLD) {
        r = set_sigchld(loop, handler, data);
        if (r < 0)
            goto out;
    } else if (is_cb(handler)) {
        /* Bind first (the claim it takes installs the C handler with the
         * old table's fallback), then record the table. */
        r = evsig__dispatch_table(signum, loop, handler, data, false);
        if (r < 0)
            goto out;
        evsig__disp_set_table(signum, EVSIG__TABLE_CB);
    } else {
        /* Fallback first, so a delivery that finds no owner once the
         * binding is gone already meets the new disposition. */
        evsig__disp_set_table(signum, kind_of(handler));
        (void)evsig__dispatch_table(signum, NULL, NULL, NULL, false);
    }
    t->set = true;
    t->handler = handler;
    t->data = data;
    t->loop = loop;
done:
    if (old)
        *old = prev;
out:
    evsig__unlock(&saved);
    return r < 0 ? evsig__fail(r) : 0;
}

EVSIG_PUBLIC int evsig_siginterrupt(int signum, int flag)
{
    sigset_t saved;

    if (evsig__check_signum(signum) < 0 || signum == SIGKILL ||
        signum == SIGSTOP)
        return evsig__fail(-EINVAL);
    evsig__lock(&saved);
    evsig__disp_set_interrupt(signum, flag != 0);
    evsig__unlock(&saved);
    return 0;
}

void evsig__table_reset(void)
{
    memset(&table, 0, sizeof(table));
}

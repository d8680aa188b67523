/* SPDX-License-Identifier: MIT */
/*
 * evsig.c - evsig_reset(): each layer's reset, top down.
 *
 * The top layers forget what they hold first (the table, the wakeup fds,
 * spawn's stack, the children, the watchers and waits with everything the C handler
 * reads), so that a delivery still arriving finds no owner and meets what
 * the signal owes; then disposition.c puts back every disposition evsig
 * changed, exactly as it found it. Waits and dispatch frames still on a
 * stack (a reset from a callback) see the epoch change and return without
 * touching what was freed.
 *
 * Context: while no loop evsig serves is running, or from a callback on the
 * thread running it (see evsig.h).
 */
#include "evsig-private.h"

EVSIG_PUBLIC int evsig_reset(void)
{
    sigset_t saved;

    evsig__lock(&saved);
    evsig__core_epoch_bump();
    evsig__table_reset();
    evsig__wakeup_reset();
    evsig__spawn_reset();
    evsig__child_reset();
    evsig__dispatch_reset();
    evsig__disp_reset();
    evsig__unlock(&saved);
    return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * ring.c - the per-signal ring of deliveries: allocation and the readers.
 *
 * The layout (struct evsig__ring, evsig-private.h) is shared with the one
 * writer, the C handler in catch.c, which claims a position with a
 * fetch-and-add on @head and fills slot (position mod EVSIG_RING_SIZE)
 * under a per-slot sequence word. Every loop that serves the signal reads
 * the same ring with a cursor of its own, so one delivery is written once
 * however many loops take it, and a loop that does not run holds up
 * nobody: the writers overwrite what it has not read.
 *
 * What a reader at position c finds in slot c mod SIZE, by the slot's
 * sequence word:
 *   - position c, complete, this fork generation: the delivery (checked
 *     again after the copy; a change means it was overwritten meanwhile);
 *   - position c, complete or busy, another generation: caught before a
 *     fork, so the parent's: skipped, not counted;
 *   - an older position (or busy with c) of this generation: not written
 *     yet; the writer wakes the loop when it is done;
 *   - an older position of another generation while c < head: a position
 *     a writer claimed in the parent and never wrote here (fork came in
 *     between): skipped. XXX: in a child of fork() that has started threads,
 *     a delivery whose writer is between its claim and its first store at
 *     that very moment is taken for such a leftover and missed.
 *   - a newer position: lapped. Everything from c up to the oldest position
 *     the ring can still hold is gone: counted as lost, exactly.
 *
 * Context: readers run on their loop's thread, one per cursor.
 */
#include <stdlib.h>
#include <string.h>

#include "evsig-private.h"

#define RING_MASK (EVSIG_RING_SIZE - 1)

struct evsig__ring *evsig__ring_new(void)
{
    return calloc(1, sizeof(struct evsig__ring));
}

void evsig__ring_free(struct evsig__ring *ring)
{
    free(ring);
}

uint64_t evsig__ring_head(struct evsig__ring *ring)
{
    return atomic_load_explicit(&ring->head, memory_order_acquire);
}

static void unpack(const uint64_t w[EVSIG__WORDS],
                   struct evsig__delivery *out)
{
    memset(&out->info, 0, sizeof(out->info));
    out->info.signo = (int)(w[EVSIG__W_SIG] & EVSIG__W_SIG_SIGNO);
    out->watched = (w[EVSIG__W_SIG] & EVSIG__W_SIG_WATCHED) != 0;
    out->info.code = (int)(uint32_t)(w[EVSIG__W_SIG] >> 32);
    out->info.pid = (pid_t)(uint32_t)w[EVSIG__W_PID];
    out->info.uid = (uid_t)(uint32_t)(w[EVSIG__W_PID] >> 32);
    out->info.status = (int)(uint32_t)w[EVSIG__W_STATUS];
    out->owner_gen = (uint32_t)(w[EVSIG__W_STATUS] >> 32);
    memcpy(&out->info.value, &w[EVSIG__W_VALUE], sizeof(out->info.value));
    out->info.merged = 1;
}

enum { GOT, HOLE, STALE, NOT_YET, LAPPED };

/* Look at position @c once. */
static int peek(struct evsig__ring *ring, uint64_t c, unsigned fgen,
                struct evsig__delivery *out)
{
    struct evsig__slot *slot = &ring->slot[c & RING_MASK];
    uint64_t w[EVSIG__WORDS];
    uint64_t seq = atomic_load_explicit(&slot->seq, memory_order_acquire);
    bool same_gen = seq != 0 && EVSIG__SEQ_GEN(seq) == (fgen & 0x7fff);
    uint64_t pos = seq ? EVSIG__SEQ_POS(seq) : 0;

    if (seq != 0 && pos > c)
        return LAPPED;
    if (seq != 0 && pos == c) {
        if (!same_gen)
            return STALE;
        if (EVSIG__SEQ_BUSY(seq))
            return NOT_YET;
        for (int i = 0; i < EVSIG__WORDS; i++)
            w[i] = atomic_load_explicit(&slot->w[i], memory_order_relaxed);
        atomic_thread_fence(memory_order_acquire);
        if (atomic_load_explicit(&slot->seq, memory_order_relaxed) != seq)
            return LAPPED;   /* overwritten while we copied */
        if ((w[EVSIG__W_SIG] & EVSIG__W_SIG_SIGNO) == 0)
            return HOLE;
        unpack(w, out);
        return GOT;
    }
    /* Not written yet at @c (or never, in this process). */
    if (c >= evsig__ring_head(ring))
        return NOT_YET;
    if (seq == 0 ? fgen != 0 : !same_gen)
        return STALE;   /* the parent's claim, never written here */
    return NOT_YET;
}

int evsig__ring_read(struct evsig__ring *ring, uint64_t *cursor,
                     struct evsig__delivery *out, unsigned *pending_lost)
{
    unsigned fgen = evsig__forkgen() & 0x7fff;
    unsigned lost = 0;
    uint64_t c = *cursor;

    for (;;) {
        int r = peek(ring, c, fgen, out);

        if (r == GOT) {
            out->pos = c;
            out->lost = lost;
            *cursor = c + 1;
            return 1;
        }
        if (r == HOLE || r == STALE) {
            c++;
            continue;
        }
        if (r == NOT_YET) {
            *cursor = c;
            *pending_lost += lost;
            return 0;
        }
        /* Lapped: the oldest position the ring can still hold. */
        uint64_t head = evsig__ring_head(ring);
        uint64_t oldest = head > EVSIG_RING_SIZE ? head - EVSIG_RING_SIZE : 0;

        if (oldest <= c)
            oldest = c + 1;
        lost += (unsigned)(oldest - c);
        c = oldest;
    }
}

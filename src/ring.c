/* SPDX-License-Identifier: MIT */
/*
 * ring.c - the per-signal ring of deliveries between the C handler and the
 * loop.
 *
 * Producers are C signal handlers, possibly on several threads at once (a
 * process-directed signal goes to any thread that has it unblocked); the
 * consumer is the thread running the signal's loop. So the ring is a bounded
 * multi-producer, single-consumer queue without locks: each slot carries a
 * sequence number that says whose turn it is (the scheme of Dmitry Vyukov's
 * bounded queue). A producer claims a position with one compare-and-swap on
 * @head, fills the slot, then publishes it by storing seq = pos + 1; the
 * consumer takes slot @tail once seq == tail + 1 and hands it back to the
 * producers with seq = tail + SIZE.
 *
 * A full ring never blocks and never overwrites: the delivery is counted in
 * @dropped, and the next delivery that fits carries that count as its
 * info.lost ("dropped just before this one").
 *
 * Invariants: head - tail <= SIZE; only the consumer writes @tail.
 * A handler cannot interrupt another evsig handler on the same thread (they
 * run with every signal blocked), so a producer never waits for itself.
 */
#include <stdlib.h>

#include "evsig-private.h"

#define RING_MASK (EVSIG_RING_SIZE - 1)

_Static_assert((EVSIG_RING_SIZE & RING_MASK) == 0,
               "EVSIG_RING_SIZE must be a power of two");
_Static_assert(ATOMIC_INT_LOCK_FREE == 2,
               "the C handler needs lock-free atomics");

struct evsig__ring {
    _Atomic unsigned     head;      /* next position a producer claims */
    _Atomic unsigned     dropped;   /* losses not yet reported */
    unsigned             tail;      /* next position the consumer takes */
    struct evsig__entry  slots[EVSIG_RING_SIZE];
};

struct evsig__ring *evsig__ring_new(void)
{
    struct evsig__ring *ring = calloc(1, sizeof(*ring));

    if (!ring)
        return NULL;
    for (unsigned i = 0; i < EVSIG_RING_SIZE; i++)
        atomic_init(&ring->slots[i].seq, i);
    return ring;
}

void evsig__ring_free(struct evsig__ring *ring)
{
    free(ring);
}

/* Signal context: async-signal-safe calls only (atomics, plain stores). */
void evsig__ring_push(struct evsig__ring *ring, const evsig_info *info,
                      unsigned gen)
{
    unsigned pos = atomic_load_explicit(&ring->head, memory_order_relaxed);
    struct evsig__entry *e;

    for (;;) {
        e = &ring->slots[pos & RING_MASK];
        unsigned seq = atomic_load_explicit(&e->seq, memory_order_acquire);
        int diff = (int)(seq - pos);

        if (diff == 0) {
            /* Our turn: claim it. On failure @pos holds the new head. */
            if (atomic_compare_exchange_weak_explicit(&ring->head, &pos,
                                                      pos + 1,
                                                      memory_order_relaxed,
                                                      memory_order_relaxed))
                break;
        } else if (diff < 0) {
            /* The consumer has not freed this slot yet: full. */
            atomic_fetch_add_explicit(&ring->dropped, 1, memory_order_relaxed);
            return;
        } else {
            /* Another producer took it; catch up. */
            pos = atomic_load_explicit(&ring->head, memory_order_relaxed);
        }
    }

    e->info = *info;
    e->info.lost = atomic_exchange_explicit(&ring->dropped, 0,
                                            memory_order_relaxed);
    e->gen = gen;
    atomic_store_explicit(&e->seq, pos + 1, memory_order_release);
}

bool evsig__ring_pop(struct evsig__ring *ring, evsig_info *info,
                     unsigned *gen)
{
    struct evsig__entry *e = &ring->slots[ring->tail & RING_MASK];
    unsigned seq = atomic_load_explicit(&e->seq, memory_order_acquire);

    /* Not yet published (empty, or a producer is still writing it). */
    if (seq != ring->tail + 1)
        return false;

    *info = e->info;
    *gen = e->gen;
    atomic_store_explicit(&e->seq, ring->tail + EVSIG_RING_SIZE,
                          memory_order_release);
    ring->tail++;
    return true;
}

/* SPDX-License-Identifier: MIT */
/*
 * pidtab.c - the children evsig knows of, by pid, and their kept results.
 *
 * A hash table from pid to struct evsig__child: entries live in a slab
 * addressed by 32-bit index (so growing it with realloc() invalidates no
 * link), chained from a power-of-two bucket array. Exited children are
 * also on a doubly linked result list in exit order -- one per loop for
 * the children watched there, one for the rest; the caller owns the heads
 * -- so evsig_waitpid(-1) takes the oldest in O(1) and pruning stops at the
 * first fresh result.
 *
 * Invariants: an entry with pid 0 is on the free list and on no other
 * list; an entry on a result list has ->rl pointing at it and is ordered
 * there by ->finished.
 *
 * After a fork the child must forget the parent's table without touching
 * it (the fork path is measured in page faults): the table remembers the
 * fork generation it belongs to (evsig__forkgen()), and the first use in a
 * newer generation throws it away in O(1).
 *
 * This file owns the data structure only; child.c decides what the
 * entries mean (watches, loop references, reporting). Context: lock held,
 * any thread.
 */
#include <stdlib.h>
#include <string.h>

#include "evsig-private.h"

#define NIL UINT32_MAX
#define PID_LIMIT (1u << 22)   /* Linux's PID_MAX_LIMIT: no more children */

/*
 * One block holds the bucket array and then the slab, both of the same
 * size (so the load factor stays at most 1): a program that forks one
 * child at a time writes bucket and entry on one page, and a fork() makes
 * every page the parent writes afterwards a copy-on-write fault. The block
 * grows by half (not double), so at most a third of it is slack: 84 bytes
 * a slot, never more than 126 per child.
 */
static struct pidtab_state {
    unsigned              gen;       /* fork generation the data belongs to */
    uint32_t             *buckets;   /* the block */
    struct evsig__child  *slab;      /* in the block, after @cap buckets */
    uint32_t              nslab, cap, free, count;
    void                 *parent_block;  /* a fork's inherited table */
} tab = {
    .free = NIL,
};

static void start_empty(void)
{
    tab.buckets = NULL;
    tab.slab = NULL;
    tab.nslab = tab.cap = tab.count = 0;
    tab.free = NIL;
}

void evsig__pidtab_forget(void)
{
    free(tab.buckets);
    free(tab.parent_block);
    tab.parent_block = NULL;
    start_empty();
}

bool evsig__pidtab_fresh(void)
{
    if (tab.gen == evsig__forkgen())
        return false;
    tab.gen = evsig__forkgen();

    /* Neither walk nor free the inherited table: free() would write the
     * allocator's headers and copy the parent's pages into this process,
     * which is most of what a fork costs. Keep it referenced (a leak
     * checker must not report it) and start empty. */
    if (tab.buckets) {
        free(tab.parent_block);      /* a grandparent's, if any */
        tab.parent_block = tab.buckets;
    }
    start_empty();
    return true;
}

/* The hash mapped onto [0, cap) by a multiply, not a mask: cap is not a
 * power of two. */
static uint32_t bucket_of(pid_t pid)
{
    uint32_t h = (uint32_t)pid * 2654435761u;

    return (uint32_t)(((uint64_t)h * tab.cap) >> 32);
}

static uint32_t index_of(const struct evsig__child *e)
{
    return (uint32_t)(e - tab.slab);
}

static struct evsig__child *at(uint32_t i)
{
    return i == NIL ? NULL : &tab.slab[i];
}

struct evsig__child *evsig__pidtab_lookup(pid_t pid)
{
    if (!tab.cap)
        return NULL;
    for (uint32_t i = tab.buckets[bucket_of(pid)]; i != NIL;
         i = tab.slab[i].next)
        if (tab.slab[i].pid == pid)
            return &tab.slab[i];
    return NULL;
}

int evsig__pidtab_reserve(void)
{
    uint32_t cap, *b;
    struct evsig__child *slab;

    if (tab.free != NIL || tab.nslab < tab.cap)
        return 0;
    if (tab.cap >= PID_LIMIT)
        return -ENOMEM;
    /* Even: the slab after @cap 4-byte buckets stays 8-byte aligned. */
    cap = tab.cap ? (tab.cap + tab.cap / 2 + 1) & ~1u : 64;
    b = malloc(cap * (sizeof(*b) + sizeof(*slab)));
    if (!b)
        return -ENOMEM;
    slab = (void *)(b + cap);   /* 8-byte aligned: @cap is even */
    if (tab.nslab)
        memcpy(slab, tab.slab, tab.nslab * sizeof(*slab));
    free(tab.buckets);
    tab.buckets = b;
    tab.slab = slab;
    tab.cap = cap;
    for (uint32_t i = 0; i < cap; i++)
        b[i] = NIL;
    for (uint32_t i = 0; i < tab.nslab; i++) {
        struct evsig__child *e = &tab.slab[i];

        if (e->pid) {
            uint32_t h = bucket_of(e->pid);

            e->next = b[h];
            b[h] = i;
        }
    }
    return 0;
}

struct evsig__child *evsig__pidtab_insert(pid_t pid)
{
    uint32_t i, h;
    struct evsig__child *e;

    if (tab.free != NIL) {
        i = tab.free;
        tab.free = tab.slab[i].next;
    } else {
        i = tab.nslab++;
    }
    e = &tab.slab[i];
    memset(e, 0, sizeof(*e));
    e->pid = pid;
    e->rprev = e->rnext = NIL;
    e->pidfd = -1;
    h = bucket_of(pid);
    e->next = tab.buckets[h];
    tab.buckets[h] = i;
    tab.count++;
    return e;
}

static void results_unlink(struct evsig__child *e)
{
    struct evsig__rlist *l = e->rl;

    if (!l)
        return;
    if (e->rprev != NIL)
        tab.slab[e->rprev].rnext = e->rnext;
    else
        l->head = e->rnext;
    if (e->rnext != NIL)
        tab.slab[e->rnext].rprev = e->rprev;
    else
        l->tail = e->rprev;
    e->rprev = e->rnext = NIL;
    e->rl = NULL;
}

void evsig__pidtab_remove(struct evsig__child *e)
{
    uint32_t i = index_of(e);
    uint32_t *p = &tab.buckets[bucket_of(e->pid)];

    results_unlink(e);
    while (*p != i)
        p = &tab.slab[*p].next;
    *p = e->next;
    e->pid = 0;
    e->next = tab.free;
    tab.free = i;
    tab.count--;
}

void evsig__pidtab_result_put(struct evsig__child *e, struct evsig__rlist *l)
{
    uint32_t i = index_of(e), before;

    results_unlink(e);
    if (!l)
        return;
    /* Walk back from the newest: nearly always it goes at the end. */
    before = l->tail;
    while (before != NIL && tab.slab[before].finished > e->finished)
        before = tab.slab[before].rprev;
    e->rl = l;
    e->rprev = before;
    e->rnext = before == NIL ? l->head : tab.slab[before].rnext;
    if (e->rnext != NIL)
        tab.slab[e->rnext].rprev = i;
    else
        l->tail = i;
    if (before != NIL)
        tab.slab[before].rnext = i;
    else
        l->head = i;
}

struct evsig__child *evsig__pidtab_oldest(const struct evsig__rlist *l)
{
    return at(l->head);
}

struct evsig__child *evsig__pidtab_newer(const struct evsig__child *e)
{
    return at(e->rnext);
}

void evsig__pidtab_prune(struct evsig__rlist *l, ev_tstamp now, double ttl)
{
    struct evsig__child *e;

    while ((e = evsig__pidtab_oldest(l)) && e->finished + ttl <= now &&
           !e->late)
        evsig__pidtab_remove(e);
}

void evsig__pidtab_each(void (*fn)(struct evsig__child *e, void *arg),
                        void *arg)
{
    for (uint32_t i = 0; i < tab.nslab; i++)
        if (tab.slab[i].pid)
            fn(&tab.slab[i], arg);
}

/*
 * Per-key order (see keyq.h).
 *
 * Three structures, all intrusive:
 *   - a chained hash table of the live keys (64-bit FNV-1a with a final mix,
 *     power-of-two buckets, doubled when the load passes 1);
 *   - the ready FIFO: keys with items waiting, neither busy nor held, in the
 *     order they became ready (doubly linked, so a key can also be put back at
 *     the front);
 *   - the held heap: keys waiting for their retry time, a binary min-heap on
 *     (retry time, order held), so ties come out in the order they were held.
 *     O(log held) per retry and per key made due: a throttled Kinesis request
 *     holds up to 500 keys at once, each with its own jittered backoff, so a
 *     sorted list (O(held) per insertion) could go quadratic.
 * A key is in exactly one state: ready (in the FIFO), busy (a unit in flight,
 * in no structure), or held (in the heap).  A key that is none of these has
 * nothing waiting and nothing in flight: it is removed from the table and
 * freed at once, so memory stays bounded by what waits plus what is in flight
 * (the heap's array keeps the size of the most keys ever held at once).
 *
 * Held keys that are due go to the FRONT of the ready FIFO (earliest retry
 * first), ahead of keys that became ready meanwhile: their items are the
 * oldest waiting ones, and the retry already cost them the backoff.
 *
 * No locking: one thread (the transport's) owns the queue.  done, release and
 * retry on a key that is not busy are callers' bugs; they change nothing.
 */
#include "agent/core/dest/keyq.h"

#include <stdlib.h>
#include <string.h>

#include "agent/core/cdc_mem.h"

enum keyq_state { KEYQ_READY, KEYQ_BUSY, KEYQ_HELD };

struct keyq_node {
    struct keyq_node *next;
    void             *item;
    size_t            bytes;
};

struct dest_keyq_key {
    dest_keyq_key    *hnext; /* hash chain */
    dest_keyq_key    *prev;  /* ready FIFO */
    dest_keyq_key    *next;
    struct keyq_node *head; /* waiting items, oldest first */
    struct keyq_node *tail;
    int64_t           retry_at_ms; /* while held */
    uint64_t          held_seq;    /* while held: the order it was held, for ties */
    uint64_t          hash;
    enum keyq_state   state;
    size_t            klen;
    unsigned char     kbytes[]; /* the key, stable while the key lives */
};

struct keyq_list {
    dest_keyq_key *head;
    dest_keyq_key *tail;
};

struct dest_keyq {
    dest_keyq_key  **buckets;
    size_t           nbuckets; /* a power of two */
    size_t           nkeys;
    struct keyq_list ready;
    dest_keyq_key  **held; /* min-heap on (retry_at_ms, held_seq) */
    size_t           nheld;
    size_t           heldcap;
    uint64_t         held_seq;
    size_t           items;
    size_t           bytes;
    size_t           busy;
};

/* FNV-1a over the bytes, then murmur3's finaliser so the low bits (the bucket)
   depend on every byte. */
static uint64_t
keyq_hash(const void *key, size_t klen)
{
    const unsigned char *p = key;
    uint64_t             h = 0xcbf29ce484222325ULL;

    for (size_t i = 0; i < klen; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

/* ---- the two lists ---- */

static void
list_unlink(struct keyq_list *l, dest_keyq_key *k)
{
    if (k->prev)
        k->prev->next = k->next;
    else
        l->head = k->next;
    if (k->next)
        k->next->prev = k->prev;
    else
        l->tail = k->prev;
    k->prev = k->next = NULL;
}

/* Inserts k after pos (at the head when pos is NULL). */
static void
list_insert_after(struct keyq_list *l, dest_keyq_key *pos, dest_keyq_key *k)
{
    k->prev = pos;
    k->next = pos ? pos->next : l->head;
    if (k->next)
        k->next->prev = k;
    else
        l->tail = k;
    if (pos)
        pos->next = k;
    else
        l->head = k;
}

static void
list_push_back(struct keyq_list *l, dest_keyq_key *k)
{
    list_insert_after(l, l->tail, k);
}

/* ---- the held heap ---- */

static bool
held_before(const dest_keyq_key *a, const dest_keyq_key *b)
{
    return a->retry_at_ms < b->retry_at_ms ||
           (a->retry_at_ms == b->retry_at_ms && a->held_seq < b->held_seq);
}

static void
held_push(dest_keyq *q, dest_keyq_key *k)
{
    size_t i;

    if (q->nheld == q->heldcap) {
        q->heldcap = q->heldcap ? q->heldcap * 2 : 16;
        q->held = cdc_xrealloc(q->held, q->heldcap * sizeof(*q->held));
    }
    k->held_seq = q->held_seq++;
    for (i = q->nheld++; i > 0; i = (i - 1) / 2) {
        dest_keyq_key *parent = q->held[(i - 1) / 2];

        if (!held_before(k, parent))
            break;
        q->held[i] = parent;
    }
    q->held[i] = k;
}

/* Removes and returns the earliest held key (the heap is not empty). */
static dest_keyq_key *
held_pop(dest_keyq *q)
{
    dest_keyq_key *top = q->held[0];
    dest_keyq_key *last = q->held[--q->nheld];
    size_t         i = 0;

    for (;;) {
        size_t c = 2 * i + 1;

        if (c >= q->nheld)
            break;
        if (c + 1 < q->nheld && held_before(q->held[c + 1], q->held[c]))
            c++;
        if (!held_before(q->held[c], last))
            break;
        q->held[i] = q->held[c];
        i = c;
    }
    if (q->nheld > 0)
        q->held[i] = last;
    return top;
}

/* ---- the table ---- */

static void
table_grow(dest_keyq *q)
{
    size_t          n = q->nbuckets * 2;
    dest_keyq_key **b = cdc_xcalloc(n, sizeof(*b));

    for (size_t i = 0; i < q->nbuckets; i++) {
        dest_keyq_key *k = q->buckets[i];

        while (k) {
            dest_keyq_key *nx = k->hnext;
            size_t         j = (size_t) (k->hash & (n - 1));

            k->hnext = b[j];
            b[j] = k;
            k = nx;
        }
    }
    free(q->buckets);
    q->buckets = b;
    q->nbuckets = n;
}

static dest_keyq_key *
table_find(const dest_keyq *q, const void *key, size_t klen, uint64_t h)
{
    for (dest_keyq_key *k = q->buckets[h & (q->nbuckets - 1)]; k; k = k->hnext)
        if (k->hash == h && k->klen == klen && (klen == 0 || memcmp(k->kbytes, key, klen) == 0))
            return k;
    return NULL;
}

/* Removes k from the table and frees it; k is in no list and has no items. */
static void
key_free(dest_keyq *q, dest_keyq_key *k)
{
    dest_keyq_key **pp = &q->buckets[k->hash & (q->nbuckets - 1)];

    while (*pp != k)
        pp = &(*pp)->hnext;
    *pp = k->hnext;
    q->nkeys--;
    free(k);
}

/* ---- the queue ---- */

dest_keyq *
dest_keyq_new(void)
{
    dest_keyq *q = cdc_xcalloc(1, sizeof(*q));

    q->nbuckets = 64;
    q->buckets = cdc_xcalloc(q->nbuckets, sizeof(*q->buckets));
    return q;
}

void
dest_keyq_free(dest_keyq *q, void (*free_item)(void *item))
{
    if (!q)
        return;
    for (size_t i = 0; i < q->nbuckets; i++) {
        dest_keyq_key *k = q->buckets[i];

        while (k) {
            dest_keyq_key    *nx = k->hnext;
            struct keyq_node *n = k->head;

            while (n) {
                struct keyq_node *nn = n->next;

                if (free_item)
                    free_item(n->item);
                free(n);
                n = nn;
            }
            free(k);
            k = nx;
        }
    }
    free(q->buckets);
    free(q->held);
    free(q);
}

void
dest_keyq_push(dest_keyq *q, const void *key, size_t klen, void *item, size_t bytes)
{
    uint64_t          h = keyq_hash(key, klen);
    dest_keyq_key    *k = table_find(q, key, klen, h);
    struct keyq_node *n = cdc_xmalloc(sizeof(*n));

    *n = (struct keyq_node) { .item = item, .bytes = bytes };
    if (!k) {
        if (q->nkeys >= q->nbuckets)
            table_grow(q);
        k = cdc_xmalloc(sizeof(*k) + klen);
        *k = (dest_keyq_key) { .hash = h, .klen = klen, .state = KEYQ_READY };
        if (klen)
            memcpy(k->kbytes, key, klen);
        k->hnext = q->buckets[h & (q->nbuckets - 1)];
        q->buckets[h & (q->nbuckets - 1)] = k;
        q->nkeys++;
        list_push_back(&q->ready, k);
    }
    /* A live key that is ready, busy or held keeps its place: the item only
       waits behind the key's earlier ones. */
    if (k->tail)
        k->tail->next = n;
    else
        k->head = n;
    k->tail = n;
    q->items++;
    q->bytes += bytes;
}

size_t
dest_keyq_items(const dest_keyq *q)
{
    return q->items;
}

size_t
dest_keyq_bytes(const dest_keyq *q)
{
    return q->bytes;
}

size_t
dest_keyq_busy(const dest_keyq *q)
{
    return q->busy;
}

size_t
dest_keyq_held(const dest_keyq *q)
{
    return q->nheld;
}

size_t
dest_keyq_keys(const dest_keyq *q)
{
    return q->nkeys;
}

/* Moves the held keys due at now_ms to the front of the ready FIFO, earliest
   first; a due key with nothing waiting is freed. */
static void
release_due(dest_keyq *q, int64_t now_ms)
{
    dest_keyq_key *at = NULL; /* the last key put at the front */

    while (q->nheld > 0 && q->held[0]->retry_at_ms <= now_ms) {
        dest_keyq_key *k = held_pop(q);

        if (!k->head) {
            key_free(q, k);
            continue;
        }
        k->state = KEYQ_READY;
        list_insert_after(&q->ready, at, k);
        at = k;
    }
}

dest_keyq_key *
dest_keyq_next(dest_keyq *q, int64_t now_ms)
{
    dest_keyq_key *k;

    release_due(q, now_ms);
    k = q->ready.head;
    if (!k)
        return NULL;
    list_unlink(&q->ready, k);
    k->state = KEYQ_BUSY;
    q->busy++;
    return k;
}

const void *
dest_keyq_key_bytes(const dest_keyq_key *k, size_t *klen)
{
    if (klen)
        *klen = k->klen;
    return k->kbytes;
}

void *
dest_keyq_peek(const dest_keyq_key *k, size_t *bytes)
{
    if (!k->head) {
        if (bytes)
            *bytes = 0;
        return NULL;
    }
    if (bytes)
        *bytes = k->head->bytes;
    return k->head->item;
}

void *
dest_keyq_take(dest_keyq *q, dest_keyq_key *k)
{
    struct keyq_node *n = k->head;
    void             *item;

    if (!n)
        return NULL;
    k->head = n->next;
    if (!k->head)
        k->tail = NULL;
    q->items--;
    q->bytes -= n->bytes;
    item = n->item;
    free(n);
    return item;
}

/* Ends k's busy state: the key is ready at the back (or the front) of the
   FIFO if items wait, freed otherwise. */
static void
unbusy(dest_keyq *q, dest_keyq_key *k, bool front)
{
    if (k->state != KEYQ_BUSY)
        return; /* a caller's bug; changing nothing is the safe answer */
    q->busy--;
    if (!k->head) {
        key_free(q, k);
        return;
    }
    k->state = KEYQ_READY;
    if (front)
        list_insert_after(&q->ready, NULL, k);
    else
        list_push_back(&q->ready, k);
}

void
dest_keyq_done(dest_keyq *q, dest_keyq_key *k)
{
    /* At the back: the key had its turn, the keys waiting before it go first. */
    unbusy(q, k, false);
}

void
dest_keyq_release(dest_keyq *q, dest_keyq_key *k)
{
    /* At the front: the key had no turn, so it keeps its place (the next call
       to dest_keyq_next returns it again). */
    unbusy(q, k, true);
}

void
dest_keyq_retry(dest_keyq *q, dest_keyq_key *k, void **items, const size_t *bytes, size_t n,
                int64_t retry_at_ms)
{
    struct keyq_node *first = NULL, *last = NULL;

    if (k->state != KEYQ_BUSY)
        return;
    /* The items, in their order, ahead of whatever was pushed meanwhile. */
    for (size_t i = 0; i < n; i++) {
        struct keyq_node *nd = cdc_xmalloc(sizeof(*nd));
        size_t            b = bytes ? bytes[i] : 0;

        *nd = (struct keyq_node) { .item = items[i], .bytes = b };
        if (last)
            last->next = nd;
        else
            first = nd;
        last = nd;
        q->items++;
        q->bytes += b;
    }
    if (first) {
        last->next = k->head;
        if (!k->head)
            k->tail = last;
        k->head = first;
    }
    q->busy--;
    /* Held even when nothing waits: what is pushed before retry_at_ms must
       wait for it too.  At the due time an empty key is freed. */
    k->state = KEYQ_HELD;
    k->retry_at_ms = retry_at_ms;
    held_push(q, k);
}

int64_t
dest_keyq_due_ms(const dest_keyq *q)
{
    return q->nheld > 0 ? q->held[0]->retry_at_ms : INT64_MAX;
}

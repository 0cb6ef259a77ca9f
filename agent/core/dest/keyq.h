/*
 * Per-key order for buses whose requests may fail or land out of order
 * (Kinesis PutRecords, Pub/Sub publish with ordering keys).  Items wait in
 * one FIFO per key, in the order they were pushed.  A key is busy while a
 * unit taken from it is in flight: its later items wait, so a key's records
 * can never overtake one another.  A unit that failed goes back to the head
 * of its key, in its order, and the key is held until its retry time; other
 * keys go on.  Nothing here does I/O, allocates per call beyond the item's
 * node, or knows what an item is.
 *
 * Use:
 *   dest_keyq_push(q, key, klen, item, bytes)        as events arrive
 *   while ((k = dest_keyq_next(q, now)) != NULL) {   a ready key, now busy
 *       take one item (Kinesis) or a run of items (Pub/Sub) with dest_keyq_take
 *       put them in a request; remember k with them
 *   }
 *   on success:  dest_keyq_done(q, k)
 *   on failure:  dest_keyq_retry(q, k, items, n, retry_at_ms)
 *
 * Order among keys: a key becomes ready in the order it got its first
 * waiting item (FIFO), so no key starves.
 */
#ifndef CDC_AGENT_CORE_DEST_KEYQ_H
#define CDC_AGENT_CORE_DEST_KEYQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct dest_keyq     dest_keyq;
typedef struct dest_keyq_key dest_keyq_key;

dest_keyq *dest_keyq_new(void);
/* Frees the queue; free_item (may be NULL) is called on every item still queued. */
void       dest_keyq_free(dest_keyq *q, void (*free_item)(void *item));

/* Queues item (accounted as @p bytes) behind the earlier items of key. */
void dest_keyq_push(dest_keyq *q, const void *key, size_t klen, void *item, size_t bytes);

/* Items and bytes waiting (not taken), for backpressure and metrics. */
size_t dest_keyq_items(const dest_keyq *q);
size_t dest_keyq_bytes(const dest_keyq *q);
/* Keys busy (a unit in flight) or held (waiting for a retry). */
size_t dest_keyq_busy(const dest_keyq *q);
size_t dest_keyq_held(const dest_keyq *q);
/* Keys alive: with items waiting, busy or held (a key with none of these is
   freed at once, so memory is bounded by what waits plus what is in flight). */
size_t dest_keyq_keys(const dest_keyq *q);

/* The oldest ready key at now_ms (items waiting, not busy, not held past
   now_ms), marked busy; NULL when none.  Held keys due at now_ms become ready
   first, AHEAD of the keys already ready (earliest retry time first): their
   items are the oldest waiting. */
dest_keyq_key *dest_keyq_next(dest_keyq *q, int64_t now_ms);

/* The key's bytes (stable while the key exists: until done with no items left). */
const void *dest_keyq_key_bytes(const dest_keyq_key *k, size_t *klen);

/* The key's first waiting item and its bytes without taking it; NULL when none. */
void *dest_keyq_peek(const dest_keyq_key *k, size_t *bytes);
/* Takes the key's first waiting item (now in flight with the key's unit). */
void *dest_keyq_take(dest_keyq *q, dest_keyq_key *k);

/* The busy key's unit succeeded: the key is free (ready again if items wait,
   at the back of the ready keys). */
void dest_keyq_done(dest_keyq *q, dest_keyq_key *k);
/* Gives a busy key back without sending anything (nothing was taken, or the
   caller puts back what it took with dest_keyq_retry).  The key keeps its
   place at the FRONT of the ready keys: the next dest_keyq_next returns it. */
void dest_keyq_release(dest_keyq *q, dest_keyq_key *k);
/* The busy key's unit failed: items[0..n) (in their original order, as
   taken) go back to the head of the key, and the key is held until
   retry_at_ms (monotonic).  The caller keeps ownership of nothing.  bytes
   may be NULL (all 0); retry_at_ms <= now retries at the next dest_keyq_next.
   The key is held even when n is 0 and nothing waits (items pushed before
   retry_at_ms wait for it too). */
void dest_keyq_retry(dest_keyq *q, dest_keyq_key *k, void **items, const size_t *bytes, size_t n,
                     int64_t retry_at_ms);

/* The earliest retry time of a held key; INT64_MAX when none is held. */
int64_t dest_keyq_due_ms(const dest_keyq *q);

#endif

/*
* The in-flight ring every asynchronous destination keeps: a ring of
 * deliveries in position order whose head says what is durable, like Kafka's
 * in-flight acks.
 *
 * The ring: every delivery unit (one request, one batch, or a transaction-
 * end marker) is pushed in position order and gets a ticket; units finish in
 * any order; the durable position is that of the last unit of the longest
 * finished prefix.  Nothing here does I/O.
 */
#ifndef CDC_AGENT_CORE_DEST_ACKS_H
#define CDC_AGENT_CORE_DEST_ACKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/core/cdc_event.h"
#include "agent/core/cdc_retry.h"

typedef struct dest_acks {
    struct dest_ack_slot *slots;    /* circular; cap is 0 or a power of two (an index is masked) */
    size_t   cap, head, n;
    uint64_t first_ticket;          /* ticket of slots[head] */
    cdc_pos  durable;
} dest_acks;

/* Starts empty with durable = @p start. */
void     dest_acks_init(dest_acks *a, cdc_pos start);
void     dest_acks_free(dest_acks *a);
/* Adds a unit whose last event is at @p pos; @returns its ticket. */
uint64_t dest_acks_push(dest_acks *a, cdc_pos pos);
/* Moves a pending unit's position forward (a batch that grew). */
void     dest_acks_update(dest_acks *a, uint64_t ticket, cdc_pos pos);
/* Marks a unit finished (durable or dead-lettered) and advances the durable position. */
void     dest_acks_done(dest_acks *a, uint64_t ticket);
static inline size_t
dest_acks_pending(const dest_acks *a)
{
    return a->n;
}
/* The ticket the next dest_acks_push will return: for a request that must
   carry its ticket before it is pushed (pushed only once it was accepted). */
static inline uint64_t
dest_acks_next(const dest_acks *a)
{
    return a->first_ticket + a->n;
}

#endif

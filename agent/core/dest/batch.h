/*
 * A batch that closes by count, by bytes or by age, whichever comes first:
 * the rule of every destination that sends several events per request (the
 * webhook's batch_size and batch timeout today; Pub/Sub's 1000 messages or
 * 10 MB, Kinesis's 500 records or 5 MB).  It only counts: the destination
 * keeps the items and the body, asks dest_batch_fits() before adding one,
 * dest_batch_full() after, and dest_batch_expired() when its loop comes by.
 * A zero limit is no limit; an empty batch has no age.
 */
#ifndef CDC_AGENT_CORE_DEST_BATCH_H
#define CDC_AGENT_CORE_DEST_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct dest_batch_limits {
    int     max_count;      /* items per batch; <= 0: no limit */
    size_t  max_bytes;      /* bytes per batch; 0: no limit */
    int64_t max_age_ms;     /* from the first item; <= 0: no limit */
} dest_batch_limits;

typedef struct dest_batch {
    dest_batch_limits lim;
    int               count;
    size_t            bytes;
    int64_t           opened_ms;    /* monotonic time of the first item */
} dest_batch;

void dest_batch_init(dest_batch *b, const dest_batch_limits *lim);

/* Empties the batch (after the destination sent or handed over what it held). */
void dest_batch_reset(dest_batch *b);

/* Could an item of n bytes join without passing a limit?  An empty batch takes any item. */
bool dest_batch_fits(const dest_batch *b, size_t n);

/* Counts an item of n bytes; the first one starts the age at now_ms. */
void dest_batch_add(dest_batch *b, size_t n, int64_t now_ms);

/* Has it reached its count or bytes? */
bool dest_batch_full(const dest_batch *b);

/* Is it non-empty and at least max_age_ms old at now_ms? */
bool dest_batch_expired(const dest_batch *b, int64_t now_ms);

/* When age closes it (monotonic ms); INT64_MAX when empty or without an age limit. */
int64_t dest_batch_due_ms(const dest_batch *b);

#endif

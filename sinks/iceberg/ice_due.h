/*
 * When the Iceberg sink closes the batch it fills (sinks/iceberg/iceberg.c):
 * a pure decision, so that it can be tested without a clock or a catalog.
 *
 * - Nothing waits: wait.
 * - At a transaction's end: close once batch_size rows wait, or the oldest
 *   waiting row is flush_ms old, or only a schema change waits (no rows).
 * - Inside a transaction: keep filling, so that a commit holds whole
 *   transactions, unless the transaction is too large or too slow for that:
 *   ICE_SPLIT_FACTOR x batch_size rows wait (FULL) or the oldest row is
 *   ICE_SPLIT_FACTOR x flush_ms old (CLOSE); the batch then ends inside the
 *   transaction and a reader may see its first part first.
 * - FULL whatever the boundary once ICE_SPLIT_FACTOR x batch_size rows wait
 *   (e.g. many small transactions while a commit runs): the sink takes no
 *   more rows until the batch is handed to the commit thread (backpressure),
 *   which bounds memory.
 *
 * CLOSE means "hand the batch over if the commit thread is free, else go on
 * filling"; FULL means "hand it over before taking another row, else make
 * the agent wait".
 */
#ifndef CDC_SINKS_ICEBERG_ICE_DUE_H
#define CDC_SINKS_ICEBERG_ICE_DUE_H

#include <stdbool.h>
#include <stdint.h>

#define ICE_SPLIT_FACTOR 10

typedef enum ice_due {
    ICE_DUE_WAIT = 0,   /* keep filling */
    ICE_DUE_CLOSE,      /* close it when the commit thread is free */
    ICE_DUE_FULL        /* close it before taking another row (backpressure) */
} ice_due;

typedef struct ice_due_in {
    int64_t rows;           /* rows waiting in the batch being filled */
    int64_t age_ms;         /* age of the oldest of them (ignored when rows == 0) */
    bool    at_txn_end;     /* the newest change taken is a transaction's end */
    bool    other_pending;  /* something without rows waits (a schema change) */
    int64_t batch_size;     /* > 0 */
    int64_t flush_ms;       /* > 0 */
} ice_due_in;

ice_due ice_batch_due(const ice_due_in *in);

/* "wait", "close", "full". */
const char *ice_due_name(ice_due d);

#endif

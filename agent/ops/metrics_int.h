/*
 * The registry of agent/ops/metrics.h as both of its files see it: the
 * writer side (metrics.c: what the main loop counts) and the reading side
 * (metrics_render.c: the Prometheus text and /readyz JSON for the HTTP
 * thread, and the consumer.lag log line).  The reading side never calls the
 * writer side and the other way round.  Not for use outside agent/ops/metrics*.c.
 */
#ifndef CDC_AGENT_OPS_METRICS_INT_H
#define CDC_AGENT_OPS_METRICS_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "agent/core/cdc_err.h"
#include "agent/ops/metrics.h"

/* Open-addressing table of (table, op) series: twice the bound keeps probes short. */
#define SERIES_SLOTS (2 * AGENT_METRICS_MAX_SERIES)
/* Transactions remembered for commit_to_durable_seconds; older ones go unobserved. */
#define TXN_RING 4096

#define relaxed memory_order_relaxed

/* The op label values are the envelope's op codes (CONTRACT.md 2.2). */
#define METRICS_OP_CODES "cudrtm"
#define NOPS 6

/* Buckets of commit_to_durable_seconds (metrics.c: bounds; metrics_render.c: labels). */
#define NBUCKETS 14

typedef struct series {
    char            *table;     /* NULL: free slot; written once, before publication */
    int              op;        /* index into op_codes */
    _Atomic uint64_t n;
} series;

typedef struct dest_metrics {
    char            *id, *kind;             /* written once, before publication */
    _Atomic uint64_t durable_lsn;
    _Atomic uint64_t durable_seq;
    _Atomic int      state;                 /* cdc_dest_state */
    char             detail[200];           /* under agent_metrics.lock */
} dest_metrics;

struct agent_metrics {
    char *pipeline_id, *slot;
    int64_t start_time;                     /* Unix seconds */

    series           slots[SERIES_SLOTS];
    int              order[AGENT_METRICS_MAX_SERIES];  /* slot indexes in creation order */
    _Atomic int      nseries;               /* release: order[0..n) and their slots are set */
    series          *last;                  /* the writer's last series and the name it was */
    const char      *last_name;             /* found by (pointer and text compared) */
    _Atomic uint64_t overflow[NOPS];

    _Atomic uint64_t bytes;
    _Atomic uint64_t errors[CDC_RC__COUNT];

    _Atomic uint64_t received_lsn, server_lsn, confirmed_lsn, queue_depth;
    _Atomic uint64_t lag_seconds_bits;      /* a double's bits */

    /* the initial snapshot (agent_metrics_set_snapshot) */
    _Atomic uint64_t snap_rows, snap_rows_estimated;
    _Atomic int      snap_tables_done, snap_tables_total;
    _Atomic int      incr_state, incr_tables_done, incr_tables_remaining;
    _Atomic uint64_t incr_chunks, incr_rows;
    _Atomic uint64_t snap_remaining_bits;   /* a double's bits */
    _Atomic int64_t  snap_wal_retained;

    _Atomic uint64_t bucket[NBUCKETS + 1];  /* per bucket, not cumulative; last is +Inf */
    _Atomic uint64_t sum_ns;

    dest_metrics     dests[AGENT_METRICS_MAX_DESTS];
    _Atomic int      ndests;                /* release: dests[0..n) have id and kind */

    _Atomic int      repl_state;
    char             repl_detail[256];      /* under lock */
    pthread_mutex_t  lock;                  /* the strings only; never on the hot path */

    /* Main loop only: transactions committed and not yet confirmed, oldest first. */
    struct { uint64_t end_lsn; int64_t at_ns; } txns[TXN_RING];
    size_t txn_head, txn_count;
    int64_t last_lag_report_ns;             /* main loop only; 0: none yet */
};

#endif

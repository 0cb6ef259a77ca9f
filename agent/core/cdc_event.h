/*
 * The event model: one row change (or snapshot row, truncate, logical
 * message) with its transaction and its position.  This is what the
 * capture path hands to every destination, and what the platform calls a
 * SourceEvent once it is keyed and addressed to a topic.
 *
 * Positions.  Every event carries (commit_lsn, seq): the LSN of its
 * transaction's commit record and its ordinal inside that transaction,
 * starting at 0.  Snapshot rows carry the slot's consistent point and their
 * ordinal in the whole snapshot.  Positions order all events of the stream
 * totally, and a destination that remembers the last one it made durable can
 * skip what the server re-sends after a restart.  (pos.lsn, CDC_SEQ_END)
 * stands for "the whole transaction".
 */
#ifndef CDC_AGENT_CORE_CDC_EVENT_H
#define CDC_AGENT_CORE_CDC_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/core/cdc_rel.h"
#include "agent/core/cdc_value.h"

#define CDC_SEQ_END UINT64_MAX
/* The last row of a snapshot: a destination holding it holds the whole snapshot. */
#define CDC_SEQ_SNAPSHOT_LAST (UINT64_MAX - 1)

typedef struct cdc_pos {
    uint64_t lsn;   /* commit LSN of the transaction (snapshot: consistent point) */
    uint64_t seq;   /* ordinal of the event inside it */
} cdc_pos;

/* Total order on positions: <0, 0, >0. */
static inline int
cdc_pos_cmp(cdc_pos a, cdc_pos b)
{
    if (a.lsn != b.lsn)
        return a.lsn < b.lsn ? -1 : 1;
    if (a.seq != b.seq)
        return a.seq < b.seq ? -1 : 1;
    return 0;
}

typedef enum cdc_op {
    CDC_OP_READ = 'r',
    CDC_OP_CREATE = 'c',
    CDC_OP_UPDATE = 'u',
    CDC_OP_DELETE = 'd',
    CDC_OP_TRUNCATE = 't',
    CDC_OP_MESSAGE = 'm',
    CDC_OP_TOMBSTONE = 'T'  /* Kafka tombstone after a delete: key only, null value */
} cdc_op;

/*
 * Debezium's envelope "transaction" block (provide.transaction.metadata):
 * the transaction's id as Debezium spells it for PostgreSQL ("xid:lsn"),
 * this event's 1-based ordinal among the transaction's data events, and
 * among those of its table.
 */
typedef struct cdc_tx_block {
    char    id[48];
    int64_t total_order;
    int64_t data_collection_order;
} cdc_tx_block;

/* The transaction an event belongs to. */
typedef struct cdc_txn {
    uint32_t xid;
    uint64_t commit_lsn;        /* LSN of the commit record (pos.lsn of its events) */
    uint64_t begin_lsn;         /* where the server put its BEGIN: the LSN of the first change
                                   or message it sent for the transaction (not a window marker
                                   of the agent's incremental snapshot); 0 until then */
    uint64_t end_lsn;           /* end of the commit record: what is confirmed to the slot */
    int64_t  commit_ts_us;      /* commit time, microseconds since the Unix epoch */
    uint64_t prev_commit_lsn;   /* commit LSN of the previous transaction seen, 0 if none */
    uint64_t nevents;           /* events emitted for it (set before commit_txn is called) */
} cdc_txn;

typedef struct cdc_event {
    cdc_op          op;
    cdc_pos         pos;
    const cdc_txn  *txn;            /* borrowed; NULL for non-transactional messages */
    uint64_t        lsn;            /* the change's own LSN (source.lsn) */
    int64_t         source_ts_us;   /* source.ts: commit time, or snapshot read time */
    const char     *snapshot;       /* NULL while streaming; "first","true","last",... */
    const cdc_rel  *rel;            /* borrowed; NULL for logical messages */
    const cdc_value *before;        /* rel->ncols values, or NULL */
    const cdc_value *after;         /* rel->ncols values, or NULL */
    const cdc_value *key;           /* rel->ncols values whose key columns are set, or NULL
                                       (tables without a key); see cdc_rel.nkeys */
    /* CDC_OP_MESSAGE only */
    const char     *msg_prefix;
    const uint8_t  *msg_content;
    size_t          msg_len;
    bool            msg_transactional;
    /* Debezium's PK-change headers: the other key of a d/c pair, or NULL */
    const cdc_value *pk_change_newkey;  /* on the 'd' of a key change */
    const cdc_value *pk_change_oldkey;  /* on the 'c' of a key change */
    /* The envelope's "transaction" block, or NULL (rendered as null); set by a
       destination that provides transaction metadata. */
    const cdc_tx_block *tx_block;
} cdc_event;

#endif

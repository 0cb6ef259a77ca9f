/*
 * The one interface every destination implements, transports (Kafka,
 * Pub/Sub, Kinesis) and sinks (jsonl, webhook, postgres, iceberg) alike, so
 * the router and the watermark treat them the same.  A new destination is
 * one folder (transports/<name>/ or sinks/<name>/) with a const cdc_dest_ops,
 * plus one row in the registry (agent/pipeline/dest_registry.c).  What two
 * destinations would both need lives in this folder (agent/core/dest/) or in
 * agent/core/net/.
 *
 * Durability.  progress() reports the highest position the destination has
 * made durable: written and fsync'ed, acknowledged with acks=all, COMMIT
 * returned, 2xx received.  Buffered is not durable.  The agent confirms a
 * transaction to PostgreSQL only when every destination's durable position
 * has reached (commit_lsn, CDC_SEQ_END) of it and of all earlier ones.
 *
 * Restart.  resume_from() tells the agent the last position the destination
 * already holds; events at or before it are not written again.  This is how
 * replay after a crash produces no duplicates.
 *
 * Threads: every op is called from the agent's main loop only.
 */
#ifndef CDC_AGENT_CORE_DEST_CDC_DEST_H
#define CDC_AGENT_CORE_DEST_CDC_DEST_H

#include <stdbool.h>
#include <stdint.h>

#include "agent/core/cdc_err.h"
#include "agent/core/cdc_event.h"
#include "agent/core/cdc_health.h"

typedef struct cdc_dest     cdc_dest;
typedef struct cdc_dest_ops cdc_dest_ops;

/* What the agent tells a destination about the pipeline when opening it. */
typedef struct cdc_dest_env {
    const char *pipeline_id;
    const char *topic_prefix;
    const char *database;       /* source database name (source.db) */
    const void *encode_opts;    /* const sch_json_opts * for JSON-emitting destinations */
    /* The slot's confirmed position at start: PostgreSQL sends again every
       transaction after it.  0: no slot yet (nothing will be sent again). */
    uint64_t    resume_lsn;
    /* Opened by `cdcagent dlq replay` only to call replay(): no connection or
       background work at open (connect at the first replay), nothing written. */
    bool        replay_only;
} cdc_dest_env;


/* A dead letter handed back to the destination that refused it (`cdcagent dlq replay`). */
typedef struct cdc_dest_letter {
    const char *record;     /* the record's text exactly as the destination sent it */
    size_t      len;
    cdc_pos     pos;        /* the event's position (what idempotency keys derive from) */
    const char *topic;      /* the topic the record was for */
    int         partition;  /* the source partition and offset stored with the letter */
    uint64_t    offset;
} cdc_dest_letter;

struct cdc_dest_ops {
    const char *kind;                                   /* "jsonl", "kafka", ... */
    /* conf is the destination's own config struct (e.g. const cfg_jsonl *). */
    int  (*open)(cdc_dest *d, const void *conf, const cdc_dest_env *env, cdc_err *err);
    /* Sets *last_done to the last position already held, or {0,0} when none. */
    int  (*resume_from)(cdc_dest *d, cdc_pos *last_done, cdc_err *err);
    /* Accepts one event; never blocks for long.  CDC_E_QUEUE_FULL asks the
       caller to flush/poll and retry. */
    int  (*write)(cdc_dest *d, const cdc_event *ev, cdc_err *err);
    /* The transaction's events have all been written. */
    int  (*commit_txn)(cdc_dest *d, const cdc_txn *txn, cdc_err *err);
    /* Non-blocking: the highest durable position.  @returns 0, or -1 when
       the destination has failed for good (err set). */
    int  (*progress)(cdc_dest *d, cdc_pos *durable, cdc_err *err);
    /* Makes everything written durable, waiting at most timeout_ms. */
    int  (*flush)(cdc_dest *d, int timeout_ms, cdc_err *err);
    void (*health)(cdc_dest *d, cdc_health *h);
    /* Optional (NULL: nothing to do): a heartbeat record at wall-clock time
       ts_ms, outside the event stream (Debezium's heartbeat topic).  A failed
       heartbeat is reported, never fatal: it carries no change. */
    int  (*heartbeat)(cdc_dest *d, int64_t ts_ms, cdc_err *err);
    /* Optional (NULL: this kind cannot replay; the caller says so): delivers one
       dead letter again, synchronously, exactly as it was first sent.
       @returns 0 once it is durable, or -1 with err naming why not. */
    int  (*replay)(cdc_dest *d, const cdc_dest_letter *l, cdc_err *err);
    void (*close)(cdc_dest *d);                         /* frees d->impl */
};

struct cdc_dest {
    const cdc_dest_ops *ops;
    const char         *id;      /* sink_id, or the transport name */
    void               *impl;    /* the destination's own state */
    /* Set by resume_from when the destination holds positions beyond the
       one it reports (Kafka: per partition); the newest of them. */
    cdc_pos             newest_held;
    /* ... and those positions are not a prefix of the stream (partitions fill
       independently), so the newest alone proves nothing about older ones. */
    bool                held_unordered;
    /* ... or it holds records that carry no position (another tool wrote
       them: Debezium before the switch), which still means "not empty". */
    bool                holds_foreign;
};

static inline int
cdc_dest_write(cdc_dest *d, const cdc_event *ev, cdc_err *err)
{
    return d->ops->write(d, ev, err);
}

static inline int
cdc_dest_commit_txn(cdc_dest *d, const cdc_txn *txn, cdc_err *err)
{
    return d->ops->commit_txn(d, txn, err);
}

static inline int
cdc_dest_progress(cdc_dest *d, cdc_pos *durable, cdc_err *err)
{
    return d->ops->progress(d, durable, err);
}

static inline int
cdc_dest_flush(cdc_dest *d, int timeout_ms, cdc_err *err)
{
    return d->ops->flush(d, timeout_ms, err);
}

#endif

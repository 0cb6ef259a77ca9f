/*
 * The agent's metrics and health state: what the main loop counts and what
 * the health server (agent/ops/health.c) shows on /metrics and /readyz.
 *
 * One writer, many readers.  The main loop is the only thread that updates
 * a registry (metrics.c); the HTTP thread only reads it (metrics_render.c).  Counters and gauges are C11
 * atomics updated with relaxed stores, so the hot path takes no lock.  The
 * few strings (the replication detail, a destination's health detail) change
 * rarely: the writer compares against its own copy and takes a mutex only
 * when something changed, and the reader takes the same mutex to copy them.
 * A (table, op) series is published once with a release store and never
 * changes afterwards.
 *
 * Everything is bounded: at most AGENT_METRICS_MAX_SERIES (table, op) series
 * (later tables count under table="_overflow") and AGENT_METRICS_MAX_DESTS
 * destinations.  Rendering follows the Prometheus text exposition format
 * 0.0.4 (https://prometheus.io/docs/instrumenting/exposition_formats/); the
 * metric names are listed in docs/operations.md.
 */
#ifndef CDC_AGENT_OPS_METRICS_H
#define CDC_AGENT_OPS_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include "agent/core/cdc_buf.h"
#include "agent/core/cdc_err.h"
#include "agent/core/cdc_event.h"
#include "agent/core/cdc_health.h"

#define AGENT_METRICS_MAX_SERIES 1024   /* (table, op) pairs for events_total */
#define AGENT_METRICS_MAX_DESTS  16     /* as AGENT_MAX_DESTS in agent/pipeline/router.h */

typedef struct agent_metrics agent_metrics;

/* The replication connection, as /readyz and cdcagent_replication_state show it. */
typedef enum agent_repl_state {
    AGENT_REPL_CONNECTING = 0,  /* starting: connecting, snapshot, slot creation */
    AGENT_REPL_STREAMING,
    AGENT_REPL_RECONNECTING,    /* connection lost, retrying with backoff */
    AGENT_REPL_ERROR,           /* failed for good; the agent is about to exit */
    AGENT_REPL_STOPPING,        /* SIGTERM: draining; not ready */
    AGENT_REPL__COUNT
} agent_repl_state;

/**
 * A registry for one pipeline.
 * @param pipeline_id, slot  copied; NULL is taken as "".
 * @returns a new registry the caller frees with agent_metrics_free().
 *          Aborts on out-of-memory.
 * @thread any; before the health server starts.
 */
agent_metrics *agent_metrics_new(const char *pipeline_id, const char *slot);
/* NULL is a no-op.  @thread after agent_health_stop(). */
void           agent_metrics_free(agent_metrics *m);

/*
 * Counters.  @thread main loop (the one writer).  Every function accepts a
 * NULL registry and does nothing, so callers need no "metrics enabled" test.
 */
/* One event handed to the destinations; @p table is the relation's topic
   (NULL for logical messages).  CDC_OP_TOMBSTONE is not counted. */
void agent_metrics_event(agent_metrics *m, const char *table, cdc_op op);
void agent_metrics_add_bytes(agent_metrics *m, uint64_t n);   /* replication payload bytes */
void agent_metrics_error(agent_metrics *m, cdc_rc code);      /* errors_total{kind} */
/* Lower layers (sinks/, schemas/) cannot include this header: they count dead
   letters and schema registrations in agent/core/cdc_counters.h, which
   agent_metrics_render() shows as cdcagent_dlq_events_total{sink} and
   cdcagent_schema_registrations_total{subject}. */

/* Gauges.  @thread main loop. */
void agent_metrics_set_received_lsn(agent_metrics *m, uint64_t lsn);
/* The server's WAL end (from keepalives), for replication_lag_bytes. */
void agent_metrics_set_server_lsn(agent_metrics *m, uint64_t lsn);
void agent_metrics_set_queue_depth(agent_metrics *m, uint64_t txns_in_flight);
/* Commit time of the last transaction received minus its receipt time. */
void agent_metrics_set_lag_seconds(agent_metrics *m, double seconds);

/**
 * The transaction whose commit record ends at @p end_lsn has been handed to
 * every destination; its time is kept (in a bounded ring) until
 * agent_metrics_confirmed() passes it, for commit_to_durable_seconds.
 * @thread main loop.
 */
/* The initial snapshot's progress (agent/pipeline/snapshot.c), for the
   cdcagent_snapshot_* families; all zero until a snapshot starts. */
typedef struct agent_snapshot_progress {
    uint64_t rows;                /* rows read so far (every table) */
    uint64_t rows_estimated;      /* pg_class.reltuples of every table at the start */
    int      tables_done, tables_total;
    double   remaining_seconds;   /* estimate at the recent rate; < 0: unknown */
    int64_t  wal_retained_bytes;  /* pg_current_wal_lsn() - the slot's restart_lsn; < 0: unknown */
} agent_snapshot_progress;

void agent_metrics_set_snapshot(agent_metrics *m, const agent_snapshot_progress *p);

/* The incremental snapshot's progress (agent/pipeline/incr.c, signals), for the
   cdcagent_incremental_snapshot_* families; all zero while none ever ran. */
typedef struct agent_incr_progress {
    int      state;               /* 0 none running, 1 running, 2 paused */
    int      tables_done, tables_remaining;
    uint64_t chunks, rows;        /* chunks and op r rows emitted by the current snapshot */
} agent_incr_progress;

void agent_metrics_set_incr(agent_metrics *m, const agent_incr_progress *p);

void agent_metrics_txn_committed(agent_metrics *m, uint64_t end_lsn);
/**
 * The flush LSN reported to the slot: sets confirmed_lsn and observes every
 * remembered transaction at or before it.
 * @thread main loop.
 */
void agent_metrics_confirmed(agent_metrics *m, uint64_t flush_lsn);
/* Direct histogram observation (tests, or a caller that times it itself). */
void agent_metrics_observe_commit_to_durable(agent_metrics *m, double seconds);

/**
 * Registers a destination.  @p id and @p kind are copied.
 * @returns its index for agent_metrics_set_dest(), or -1 when
 *          AGENT_METRICS_MAX_DESTS are registered.
 * @thread main loop.
 */
int  agent_metrics_add_dest(agent_metrics *m, const char *id, const char *kind);
/* Destination @p i's durable position and health (@p h may be NULL: unchanged). */
void agent_metrics_set_dest(agent_metrics *m, int i, cdc_pos durable, const cdc_health *h);

/**
 * The platform's periodic "consumer.lag" log event (INFO): total_lag, the WAL
 * bytes between the server's position and the confirmed LSN, and each
 * destination's lag.  Logs at most once per @p interval_seconds
 * (platform.yaml lag_monitor_interval_seconds), the first one interval after
 * the first call; call it from the loop as often as convenient.
 * @thread main loop.
 */
void agent_metrics_lag_report(agent_metrics *m, double interval_seconds);

/* The replication connection's state; @p detail is copied (NULL: ""). */
void agent_metrics_set_repl_state(agent_metrics *m, agent_repl_state st, const char *detail);
const char *agent_repl_state_name(agent_repl_state st);

/**
 * Appends the Prometheus text exposition (format 0.0.4) of @p m to @p out.
 * The caller checks cdc_buf_failed(out).
 * @thread any (the HTTP thread).
 */
void agent_metrics_render(agent_metrics *m, cdc_buf *out);

/**
 * Appends the /readyz JSON body to @p out (the platform's Pipeline.health()
 * shape: status, pipeline_id, source, sinks, consumer_lag).
 * @returns true when ready: the replication connection is streaming or
 *          starting (not reconnecting, in error or stopping), and no
 *          destination is in error.
 * @thread any (the HTTP thread).
 */
bool agent_metrics_render_health(agent_metrics *m, cdc_buf *out);

#endif

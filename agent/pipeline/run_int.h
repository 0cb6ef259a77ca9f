/*
 * The state of `cdcagent run`, shared by its three files.  Calls go one way:
 * run.c (the loop, reconnects, shutdown) -> run_start.c (start-up: the
 * server, the slot, the record, the snapshot) -> run_status.c (what the loop
 * reports: metrics, the slot's record, standby status updates).
 * Not for use outside agent/pipeline/run*.c.
 */
#ifndef CDC_AGENT_PIPELINE_RUN_INT_H
#define CDC_AGENT_PIPELINE_RUN_INT_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "agent/config/config.h"
#include "agent/core/dest/dlq.h"
#include "agent/ops/health.h"
#include "agent/ops/metrics.h"
#include "agent/pipeline/capture.h"
#include "agent/pipeline/incr.h"
#include "agent/pipeline/heartbeat.h"
#include "agent/pipeline/router.h"
#include "agent/pipeline/state.h"
#include "agent/pipeline/watermark.h"
#include "agent/source/repl.h"
#include "schemas/json.h"

#define RUN_BLOCKING_MAX 64     /* tables of one blocking snapshot */

typedef struct agent {
    const cdc_config *cfg;
    const cfg_source *src;
    cfg_source       *tables_src;   /* the same: tables by pattern append to its list */
    int64_t           tables_checked_ms;   /* last catalog read for new matching tables */
    PGconn           *sql;          /* catalog, publication, snapshot */
    repl_stream      *rs;
    agent_wm         *wm;
    agent_router      router;
    agent_capture    *cap;
    agent_incr       *incr;         /* signals, incremental snapshots; NULL: none */
    sch_json_opts     json;
    int               proto;
    unsigned          timeline;     /* the server's when last connected: a failover raises it */
    uint64_t          received;     /* newest WAL position received */
    uint64_t          sent_flush;   /* flush LSN last reported to the server */
    uint64_t          stop_lsn;     /* 0: none */
    uint64_t          resume_lsn;   /* the slot's confirmed position at start; 0: no slot */
    /* A snapshot taken while streaming (snapshot_mode always with an existing slot): the
       temporary slot's connection holds its exported snapshot, consistent at snap_at; the
       rows are read when the stream reaches snap_at (run_snapshot_due). */
    repl_stream      *snap_tmp;
    uint64_t          snap_at;
    char              snap_name[128];
    /* ... of a blocking snapshot (a signal): only these tables, with these conditions. */
    bool              snap_blocking;
    cfg_source        snap_sub;
    char             *snap_tables[RUN_BLOCKING_MAX];
    const char       *snap_conds[RUN_BLOCKING_MAX];
    int64_t           last_status_ms;
    int64_t           last_metrics_ms;
    int64_t           stop_seen_ms;   /* a stop found the stream inside a transaction */
    dest_dlq         *dlq;          /* direct mode: where refused events go */
    agent_metrics    *metrics;
    agent_health     *health;
    agent_heartbeat  *heartbeat;    /* NULL: source.heartbeat_interval_ms is 0 */
    volatile sig_atomic_t *stop;    /* set by SIGTERM/SIGINT (run.c) */
    uint64_t          rng;          /* reconnect jitter (cdc_rng_next) */
    agent_state       state;        /* the slot's record (agent/pipeline/state.h) */
    bool              state_on;     /* kept: prepare_source() wrote it once */
    bool              state_failing;/* the last save failed (logged once) */
    bool              lock_lost;    /* a reconnect could not take the slot's lock again */
    int64_t           state_saved_ms;
    cdc_pos           state_cand;   /* router.last_row at the previous note_state() */
    bool              remembers[AGENT_MAX_DESTS];  /* reports what it holds, in order */
} agent;

typedef struct slot_row {
    bool     exists;
    bool     lost;          /* invalidated: wal_status 'lost', or the reason below */
    char     invalid_reason[40]; /* invalidation_reason (17+), "conflicting" (16), or "" */
    uint64_t confirmed;
} slot_row;

/* run_start.c */
int  run_read_slot(agent *ag, slot_row *out, cdc_err *err);
int  run_prepare_source(agent *ag, bool *snapshot_only_done, cdc_err *err);
/* Whether the stream, about to handle m, reached the pending snapshot's position. */
bool run_snapshot_due(const agent *ag, const repl_msg *m);
/* Reads the pending snapshot's rows and waits until they are durable everywhere. */
int  run_pending_snapshot(agent *ag, cdc_err *err);
/* A blocking snapshot asked for by a signal (agent_incr_blocking): outside a transaction,
   creates its temporary slot; its rows are then read when the stream reaches it. */
int  run_blocking_check(agent *ag, cdc_err *err);

/* run_status.c */
void run_update_metrics(agent *ag);
void run_note_state(agent *ag, bool force);
int  run_send_status(agent *ag, bool force, bool reply, cdc_err *err);

#endif

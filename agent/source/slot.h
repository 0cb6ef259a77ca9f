/*
 * `cdcagent slot status|create|drop|advance`: what a DBA needs to see and do
 * about the pipeline's replication slot, with the agent's own credentials.
 */
#ifndef CDC_AGENT_SOURCE_SLOT_H
#define CDC_AGENT_SOURCE_SLOT_H

#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "agent/config/config.h"
#include "agent/core/cdc_err.h"

#define AGENT_SLOT_WARN_RETAINED_DEFAULT (INT64_C(1) << 30)   /* 1 GiB */
#define AGENT_SLOT_RATE_WINDOW_DEFAULT   1.0                  /* seconds */

/* Options of `slot status`; zero-initialised means the defaults above. */
typedef struct agent_slot_opts {
    bool    json;                /* one JSON object (an array with all) */
    bool    all;                 /* every slot of the database, not just the pipeline's */
    int64_t warn_retained_bytes; /* an inactive slot retaining more warns; 0: default */
    double  rate_window;         /* seconds between the two WAL samples; <0: skip; 0: default */
    struct json_t *snapshot;     /* the agent's snapshot progress (agent/pipeline/
                                    snapshot_progress.h), shown with the slot; NULL: none */
    struct json_t *incremental;  /* the incremental snapshot's progress (agent/pipeline/
                                    incr_status.h); NULL: none */
} agent_slot_opts;

/*
 * Prints the slot's state (a table, or JSON) with plain-word warnings.
 * @returns 0 with *nwarnings set (0 when all is well), or -1 with err set.
 */
int agent_slot_status(const cdc_config *cfg, const agent_slot_opts *o, int *nwarnings,
                      cdc_err *err);
int agent_slot_create(const cdc_config *cfg, cdc_err *err);

/*
 * Takes the agents' lock on @p src's slot for as long as @p conn lives (a
 * session advisory lock keyed on the slot's name), so that of two agents
 * started together on one slot one goes on and the other stops before it
 * touches the publication or the slot.  @p conn may be the replication
 * connection (the agent's: it ends within wal_sender_timeout of an agent
 * that vanished, as the slot's own "active" does).  @returns 0, or -1 with
 * err set (CDC_E_STATE): "slot X is in use by another agent (pid N, client
 * A, ...)", naming the connection that holds the lock.
 */
int agent_slot_lock(PGconn *conn, const cfg_source *src, cdc_err *err);
int agent_slot_drop(const cdc_config *cfg, cdc_err *err);

/*
 * Moves the slot's confirmed position forward to lsn ("X/Y") with
 * pg_replication_slot_advance(): the changes in between are skipped for good.
 * @returns 0, or -1 with err set (CDC_E_CONFIG for a malformed LSN).
 */
int agent_slot_advance(const cdc_config *cfg, const char *lsn, cdc_err *err);

#endif

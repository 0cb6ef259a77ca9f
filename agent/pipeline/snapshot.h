/*
 * The initial snapshot: every captured table read with COPY inside the
 * snapshot that CREATE_REPLICATION_SLOT exported, so the rows and the
 * stream that follows meet at the slot's consistent point with no gap and
 * no overlap.  Rows become `op: r` events positioned at (consistent point,
 * ordinal), marked in source.snapshot as Debezium 2.7 does: "true" for
 * every row but the very last of the whole snapshot, which is "last".
 */
#ifndef CDC_AGENT_PIPELINE_SNAPSHOT_H
#define CDC_AGENT_PIPELINE_SNAPSHOT_H

#include <libpq-fe.h>
#include <signal.h>
#include <stdint.h>

#include "agent/pipeline/capture.h"
#include "agent/config/config.h"
#include "agent/core/cdc_err.h"
#include "agent/pipeline/snapshot_progress.h"
#include "agent/pipeline/state.h"

/*
 * Runs the snapshot on `conn` (a plain connection, idle, not in a
 * transaction), reporting its progress as env says (may be NULL).  snapshot_name may be "" to read the current state
 * (used only when no exported snapshot exists).
 * @returns 0, 1 when *stop was raised before it finished, or -1 with err set.
 */
int agent_snapshot_run(agent_capture *cap, PGconn *conn, const cfg_source *src,
                       const char *snapshot_name, uint64_t consistent_point,
                       volatile sig_atomic_t *stop, const agent_snapshot_env *env,
                       cdc_err *err);

/* The same, with conds[i] (NULL: none) ANDed to the rows of src->tables[i]: a blocking
   snapshot's additional-conditions.  conds NULL: none. */
int agent_snapshot_run_where(agent_capture *cap, PGconn *conn, const cfg_source *src,
                             const char *snapshot_name, uint64_t consistent_point,
                             volatile sig_atomic_t *stop, const agent_snapshot_env *env,
                             const char *const *conds, cdc_err *err);

/*
 * What to do with the replication slot at start, decided from what the
 * server and the destinations say.  The one rule behind every case: never
 * take a new snapshot silently over destinations that hold events (changes
 * made while there was no slot would be missing from them), and never stream
 * from a slot whose snapshot no destination received.
 */
typedef enum agent_slot_plan {
    AGENT_SLOT_STREAM,      /* use the existing slot */
    AGENT_SLOT_CREATE,      /* no slot: create it (and snapshot, per snapshot_mode) */
    AGENT_SLOT_RECREATE,    /* drop the existing slot, then as CREATE */
} agent_slot_plan;

typedef struct agent_slot_facts {
    bool     exists;
    bool     lost;          /* pg_replication_slots.wal_status = 'lost', or invalid_reason */
    const char *invalid_reason; /* invalidation_reason (17+), "conflicting" (16); NULL/"": unknown */
    uint64_t held_lsn;      /* newest commit LSN any destination holds; 0: none */
    const char *held_by;    /* the destination holding it */
    bool     dests_remember;/* every destination reports what it holds after a restart */
    bool     held_foreign;  /* a destination holds records without positions (Debezium's) */
    /* Why the snapshot the slot was created with is not proven delivered to every
       destination (agent_snapshot_unproven); NULL: proven, or nothing to prove. */
    const char *snapshot_unproven;
} agent_slot_facts;

/*
 * Decides the plan and logs why when it is not the ordinary one.
 * @returns 0, or -1 with err set (CDC_E_STATE) when starting would lose
 * changes silently: the message names the slot and the recovery.
 */
int agent_snapshot_plan(const cfg_source *src, const agent_slot_facts *f, agent_slot_plan *plan,
                        cdc_err *err);

/* Whether every enabled destination of cfg can report what it holds after a restart. */
bool agent_snapshot_dests_remember(const cdc_config *cfg);

/*
 * Whether destination `id` (a sink_id, or the transport's name) reports what
 * it holds after a restart, in stream order: a jsonl file, a PostgreSQL sink.
 * Kafka remembers per partition, not in order, and is not one of them.
 */
bool agent_snapshot_dest_remembers(const cdc_config *cfg, const char *id);

/*
 * What proves that the slot's snapshot reached every destination, read from
 * the agent's record (agent/pipeline/state.h) and the slot: the record says delivered
 * (or that the slot had none); or it says pending at consistent point cp and
 * the slot's confirmed_flush_lsn is past cp (the watermark never passes the
 * snapshot before every destination has it); or every destination remembers
 * and holds the snapshot's last row (all_hold_last).  Without a record only
 * destinations that all remember can vouch for themselves (the older checks
 * in agent_snapshot_plan and run.c apply); if they cannot, only snapshot_mode
 * when_needed calls it unproven (the slot is dropped), every other mode
 * streams on and the caller warns (upgrade, or a state_dir that is lost).
 * @returns NULL when proven or nothing is to be proven, else why not, for the
 * log (a static string or one in buf).
 */
const char *agent_snapshot_unproven(const cfg_source *src, const agent_state *st,
                                    uint64_t confirmed, bool dests_remember,
                                    bool all_hold_last, char *buf, size_t bufsz);

#endif

/*
 * The agent's durable record of one slot: whether the snapshot the slot was
 * created with reached every destination, and, for each destination that can
 * say what it holds after a restart, the newest row event it was last known
 * to hold durably.  One small text file per slot,
 * <agent.state_dir>/cdcagent-<system identifier>-<slot>.state, replaced
 * atomically (temporary file, fsync, rename, fsync of the directory).
 *
 * Why it exists (docs/fault-matrix.md, "Snapshot delivery and the state
 * record"): snapshot rows are not in the WAL, so the slot cannot send them
 * again; the slot's confirmed_flush_lsn moves past the snapshot's consistent
 * point only once every destination made every snapshot row durable, but after
 * a restart the agent needs the consistent point to read that proof, and a
 * destination such as a webhook cannot report it.  The record keeps it.  The
 * positions it keeps per destination are the evidence that a destination went
 * backwards (a file cut short, a database restored from an older backup).
 *
 * A missing record is never read as "delivered": the start-up falls back to
 * the safe choice (agent_snapshot_plan).  @thread main loop only.
 */
#ifndef CDC_AGENT_PIPELINE_STATE_H
#define CDC_AGENT_PIPELINE_STATE_H

#include <stdbool.h>
#include <stdint.h>

#include "agent/core/cdc_err.h"
#include "agent/core/cdc_event.h"

#define AGENT_STATE_MAX_DESTS 16
#define AGENT_STATE_INCR_MAX  16384
#define AGENT_STATE_SNAP_MAX  16384

typedef enum agent_snap_state {
    AGENT_SNAP_NONE = 0,    /* the slot was created without a snapshot */
    AGENT_SNAP_PENDING,     /* taken (or about to be), not proven delivered everywhere */
    AGENT_SNAP_DELIVERED,   /* every destination made every snapshot row durable */
} agent_snap_state;

typedef struct agent_state_dest {
    char    id[128];
    char    kind[32];
    cdc_pos held;           /* newest row event held durably; {0,0}: none known */
} agent_state_dest;

typedef struct agent_state {
    char             path[1024];
    bool             loaded;        /* a record for this system and slot was read */
    char             system[32];    /* IDENTIFY_SYSTEM's systemid */
    char             slot[64];
    agent_snap_state snapshot;
    uint64_t         cp;            /* the snapshot's consistent point; 0: unknown */
    int              ndests;
    agent_state_dest dests[AGENT_STATE_MAX_DESTS];
    /* The incremental snapshot's progress (agent/pipeline/incr.h), one line of JSON
       written and read by that module; "": none. */
    char             incr[AGENT_STATE_INCR_MAX];
    /* The initial snapshot's durable progress and the tables it covered
       (agent/pipeline/snapshot_resume.h), one line of JSON; "": none. */
    char             snap[AGENT_STATE_SNAP_MAX];
} agent_state;

/*
 * Reads the record of (system, slot) from dir ("" is the working directory)
 * into st.  A missing file leaves st->loaded false.
 * @returns 0, or -1 with err set (CDC_E_STATE) when the file cannot be read
 * or is not a record of this slot: the message names the file.
 */
int agent_state_load(agent_state *st, const char *dir, const char *system, const char *slot,
                     cdc_err *err);

/* Replaces the file atomically.  @returns 0, or -1 with err set (CDC_E_IO, naming the file). */
int agent_state_save(agent_state *st, cdc_err *err);

/* The entry of destination id (added, with held {0,0}, when absent; NULL when full). */
agent_state_dest *agent_state_dest_get(agent_state *st, const char *id, const char *kind,
                                       bool add);

/* Drops the entries for which keep() returns false (destinations no longer configured). */
void agent_state_retain(agent_state *st,
                        bool (*keep)(void *arg, const char *id, const char *kind), void *arg);

#endif

/*
 * The initial snapshot: every captured table read with COPY inside the
 * snapshot that CREATE_REPLICATION_SLOT exported, so the rows and the
 * stream that follows meet at the slot's consistent point with no gap and
 * no overlap.  Rows become `op: r` events positioned at (consistent point,
 * ordinal), marked in source.snapshot as Debezium 2.7 does: "true" for
 * every row but the very last of the whole snapshot, which is "last".
 */
#ifndef CDC_AGENT_SNAPSHOT_H
#define CDC_AGENT_SNAPSHOT_H

#include <libpq-fe.h>
#include <signal.h>
#include <stdint.h>

#include "agent/capture.h"
#include "agent/config.h"
#include "agent/core/cdc_err.h"

/*
 * Runs the snapshot on `conn` (a plain connection, idle, not in a
 * transaction).  snapshot_name may be "" to read the current state
 * (used only when no exported snapshot exists).
 * @returns 0, 1 when *stop was raised before it finished, or -1 with err set.
 */
int agent_snapshot_run(agent_capture *cap, PGconn *conn, const cfg_source *src,
                       const char *snapshot_name, uint64_t consistent_point,
                       volatile sig_atomic_t *stop, cdc_err *err);

#endif

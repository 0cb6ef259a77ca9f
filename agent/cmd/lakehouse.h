/*
 * `cdcagent lakehouse snapshots|query|rollback`: time travel and rollback on
 * the Iceberg tables a pipeline's iceberg sinks write (docs/lakehouse.md).
 *
 * Tables: each source table of the pipeline (source.tables) names the Iceberg
 * table <table_namespace>.<schema>_<table> (or table_name), in every iceberg
 * sink of the pipeline (--sink: that one).  Catalog and warehouse are opened
 * as the sink and `verify` open them (sinks/iceberg/ice_open.h).
 *
 * snapshots  every snapshot of each table: id, parent, time, operation, the
 *            summary's added/deleted rows and files, our cdc.position, and
 *            whether it is current / on the main branch's history.
 * query      the live rows of one table at --snapshot-id N, or --as-of T
 *            (the snapshot the main branch pointed at, at time T, from the
 *            snapshot-log as Iceberg and pyiceberg read it), as JSON lines on
 *            stdout: the snapshot's columns, typed by the table's current
 *            schema; --where COL=VAL
 *            (VAL parsed with COL's type: equality as Iceberg orders values),
 *            --limit N.  List columns are left out.
 * rollback   the table's main branch moves to --snapshot-id N through the
 *            catalog (ice_commit_set_main), only with --yes, and not while the
 *            pipeline's replication slot is active (an agent is writing) or
 *            cannot be checked, unless --force.  Prints what the sink does
 *            next: resume (rolling forward, or back to its own newest
 *            position), or refuse to start on the table (its newer changes
 *            were acknowledged and are not sent again: iceberg.c,
 *            check_rolled_back).
 */
#ifndef CDC_AGENT_CMD_LAKEHOUSE_H
#define CDC_AGENT_CMD_LAKEHOUSE_H

#include <stdbool.h>
#include <stdint.h>

#include "agent/config/config.h"
#include "agent/core/cdc_err.h"

typedef struct agent_lake_opts {
    const char *sub;            /* "snapshots", "query", "rollback" */
    const char *sink_id;        /* NULL: every iceberg sink */
    const char *table;          /* "schema.table" of source.tables; NULL: all (snapshots) or
                                   the only one */
    int64_t     snapshot_id;    /* -1: not given */
    const char *as_of;          /* query: ISO-8601 time or milliseconds since the epoch */
    const char *where;          /* query: "COL=VAL" */
    int64_t     limit;          /* query: -1 no limit */
    bool        json;
    bool        yes;
    bool        force;
} agent_lake_opts;

/* @returns 0, or -1 with err set (CDC_E_CONFIG for what the user asked wrongly). */
int agent_lakehouse(const cdc_config *cfg, const agent_lake_opts *o, cdc_err *err);

#endif

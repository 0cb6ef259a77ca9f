/*
 * The Apache Iceberg sink (sink_type: iceberg): one Iceberg table per
 * captured table, in the catalog of catalog_uri (the SQL catalog on SQLite or
 * PostgreSQL, or a REST catalog), its files in the warehouse (file:// or
 * s3://).  docs/iceberg.md is the user's description.
 *
 * Tables: namespace table_namespace ("default"), name table_name when set
 * (the pipeline then captures one table: config_check refuses more), else
 * "<schema>_<table>" of the source.  Created on first use when
 * auto_create_table, at <warehouse>/<namespace>.db/<name> as pyiceberg does.
 *
 * write_mode append: every change is a row: the row image (after; before
 * for a delete) plus _cdc_topic, _cdc_partition (0), _cdc_offset (the
 * change's LSN), _cdc_op (c/u/d/r), _cdc_lsn (the commit LSN) and _cdc_ts
 * (commit time).  An unchanged TOAST value is null there (a warning once per
 * table; REPLICA IDENTITY FULL avoids it).
 *
 * Batches and commits: rows go into one in-memory Parquet file per table; a
 * batch (every table's rows up to a position) is closed at a transaction's
 * end once batch_size rows are buffered, when the oldest buffered row is
 * older than flush_interval_seconds (0: 5 s), at flush(), or in the middle
 * of a transaction past 10 x batch_size rows (a reader then sees the first
 * part of that transaction before the rest).  One commit thread
 * (ice_worker.h) commits it table by table; its position becomes durable once
 * every table is in.  At most one batch commits while the next fills: then
 * write() answers CDC_E_QUEUE_FULL.
 *
 * Exactly once: each commit's snapshot summary holds cdc.position (the
 * batch's highest position, "16/B374D848:12"), cdc.pipeline and cdc.sink.  At
 * open every table's position is read back (the newest snapshot of this
 * pipeline, walking back through parents) and write() skips each table's
 * events at or before it.
 *
 * Values Iceberg cannot hold (a numeric NaN in a decimal column, ...) go to
 * the dead letters when configured, else stop the sink naming table and column.
 */
#ifndef CDC_SINKS_ICEBERG_ICEBERG_H
#define CDC_SINKS_ICEBERG_ICEBERG_H

#include <stdbool.h>

#include "agent/core/cdc_retry.h"
#include "agent/core/dest/cdc_dest.h"
#include "agent/core/dest/dlq.h"

#define DEST_ICEBERG_DEFAULT_FLUSH_S 5.0

/* The sink's configuration (cfg_iceberg + retry + dlq); copied by open(). */
typedef struct dest_iceberg_conf {
    const char        *catalog_uri;
    const char        *catalog_name;        /* NULL/"": "default" */
    const char        *warehouse;
    const char        *table_namespace;     /* NULL/"": "default" */
    const char        *table_name;          /* NULL/"": <schema>_<table> */
    const char        *write_mode;          /* "append" (default) or "upsert" */
    int                batch_size;          /* <= 0: 1000 */
    double             flush_interval_s;    /* <= 0: DEST_ICEBERG_DEFAULT_FLUSH_S */
    bool               auto_create_table;
    const char *const *partition_by;
    int                npartition_by;
    const char        *s3_endpoint;
    const char        *s3_access_key_id;
    const char        *s3_secret_access_key;
    const char        *s3_region;
    const char        *rest_credential;     /* REST: OAuth2 client_id:client_secret (secret) */
    const char        *rest_token;          /* REST: a bearer token (secret) */
    const char        *rest_scope;          /* REST: NULL/"": "catalog" */
    const char        *rest_oauth2_server_uri;  /* REST: NULL/"": <uri>/v1/oauth/tokens */
    bool               maint_enabled;       /* iceberg.maintenance.enabled */
    double             expire_interval_s;   /* expire_snapshots_interval_seconds; <= 0: 3600 */
    double             expire_older_than_s; /* expire_snapshots_older_than_seconds; <= 0: 86400 */
    double             compact_interval_s;  /* compaction_interval_seconds; <= 0: 7200 */
    int                compact_file_threshold;  /* compaction_file_threshold; <= 0: 10 */
    int64_t            compact_max_rows;    /* compaction_max_rows_per_batch; <= 0: 500000 */
    cdc_retry_conf     retry;
    dest_dlq          *dlq;                 /* borrowed; NULL: a refused row stops the sink */
} dest_iceberg_conf;

extern const cdc_dest_ops dest_iceberg_ops;

#endif

/*
 * The PostgreSQL sink, in one of two modes.
 *
 * event_log (the platform's postgres sink): one row per event in
 * target_table (event_key jsonb, event_value jsonb, source_topic,
 * source_partition, source_offset, commit_lsn, seq, written_at), written
 * by COPY (docs/direct-mode.md); created when missing.  upsert: ON CONFLICT (source_topic,
 * source_partition, source_offset, seq) DO UPDATE.  The conflict key has
 * seq because every snapshot row carries the same offset (the slot's
 * consistent point); a table created by the platform is given the two
 * columns and the unique index (ALTER ... IF NOT EXISTS).
 *
 * replica: each captured table is mirrored into the target database under
 * the same schema and name, created with the source's column types
 * (format_type text; enums, domains and composites become text) and primary
 * key; c/u/r are INSERT ... ON CONFLICT (pk) DO UPDATE, d is DELETE by key
 * (the d of a key change is an UPDATE of the key, so that unchanged TOAST
 * columns survive the c that follows), t is TRUNCATE, and columns a new
 * relation version adds are added with ALTER TABLE ... ADD COLUMN IF NOT
 * EXISTS.  An update that did not carry an unchanged TOAST value leaves
 * that column alone.  Values are turned back
 * into PostgreSQL text from Debezium's representation (sinks/postgres/pg_values.h,
 * which lists the lossy cases).  Tables without a primary key get inserts
 * only: their updates and deletes are dead-lettered.
 *
 * Exactly once.  Events are applied in target transactions of up to
 * batch_size events (or whatever has come within flush_interval_ms), and the
 * same transaction updates cdcagent_state(sink_id, commit_lsn, seq); the
 * position is durable once COMMIT returned.  resume_from() reads that row,
 * and events at or before it are skipped when the agent re-sends them.
 *
 * A row the target refuses (constraint violation, bad value) is
 * dead-lettered and the rest of the batch goes on (the batch is retried
 * with a savepoint per event).  A lost connection is retried with backoff,
 * for ever, and nothing counts as durable meanwhile; after reconnecting the
 * sink re-reads its state row and re-applies what was not committed.
 */
#ifndef CDC_SINKS_POSTGRES_POSTGRES_H
#define CDC_SINKS_POSTGRES_POSTGRES_H

#include <stdbool.h>

#include "agent/core/dest/cdc_dest.h"
#include "agent/core/dest/acks.h"
#include "agent/core/dest/dlq.h"

typedef enum dest_pg_mode { DEST_PG_EVENT_LOG = 0, DEST_PG_REPLICA } dest_pg_mode;

/* The sink's configuration (cfg_pg_sink + retry + dlq); copied by open(). */
typedef struct dest_postgres_conf {
    const char     *conninfo;       /* a libpq connection string; NULL: the fields below */
    const char     *host;
    int             port;
    const char     *database;
    const char     *username;
    const char     *password;
    dest_pg_mode    mode;
    const char     *target_table;   /* event_log: [schema.]table; NULL: "cdc_events" */
    int             batch_size;     /* events per target transaction; <= 0: 500 */
    int             flush_interval_ms;  /* longest an event waits; <= 0: 1000 */
    bool            upsert;         /* event_log: ON CONFLICT ... DO UPDATE */
    cdc_retry_conf retry;
    dest_dlq       *dlq;            /* borrowed; NULL: a refused row stops the sink */
} dest_postgres_conf;

/* open() takes a const dest_postgres_conf *; env as for dest_jsonl_ops. */
extern const cdc_dest_ops dest_postgres_ops;

#endif

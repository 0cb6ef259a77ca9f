/*
 * Debezium's signals and its incremental snapshot (docs/snapshots.md,
 * "Incremental and ad-hoc snapshots").
 *
 * Signals are rows inserted into source.signal_data_collection (id, type,
 * data), read from the replication stream like any change, so a signal sent
 * while the agent is down is executed when it comes back.  `execute-snapshot`
 * with type incremental reads the listed tables in chunks of
 * incremental_snapshot_chunk_size rows by primary key with Debezium's
 * watermark window: a "snapshot-window-open" row is inserted into the signal
 * table, the chunk is read, a "snapshot-window-close" row is inserted.  When
 * the stream reaches the open row the window opens; every streamed change to
 * a key of the chunk while it is open drops that key from the chunk (the
 * stream's newer row wins); at the close row the rows left are emitted as
 * `op: r` (source.snapshot "incremental") in the close row's transaction, and
 * the next chunk is read.  A row therefore never goes back in time.
 *
 * Progress is kept in the slot's record (agent_state.incr), written before
 * the transaction that carries a chunk can be confirmed: after a restart the
 * snapshot resumes from the last chunk the slot confirmed (that chunk at
 * most is emitted twice).  Signals at or before the last one handled are not
 * handled again when the stream re-sends them.
 *
 * @thread main loop only.
 */
#ifndef CDC_AGENT_PIPELINE_INCR_H
#define CDC_AGENT_PIPELINE_INCR_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "agent/config/config.h"
#include "agent/core/cdc_err.h"
#include "agent/core/cdc_rel.h"
#include "agent/ops/metrics.h"
#include "agent/pipeline/state.h"
#include "decoder/pgoutput.h"

typedef struct agent_incr agent_incr;
typedef struct agent_capture agent_capture;

/* The first server version whose pgoutput sends logical decoding messages. */
#define AGENT_INCR_MSG_MARKS_VERSION 140000

/*
 * Without source.signal_data_collection, on PostgreSQL 14+ (server_version),
 * a snapshot the record queued (the rest of an initial snapshot, snapshot_resume.h)
 * still runs: its window markers are transactional logical decoding messages
 * (pg_logical_emit_message, prefix AGENT_CAPTURE_WM_PREFIX, content
 * "<slot>/<chunk id>-open|close") instead of rows of the signal table; they are
 * never published.  Signals need the signal table.
 *
 * @param st         the slot's record (borrowed): progress is read from and saved to it.
 * @param confirmed  the slot's confirmed_flush_lsn at start: a chunk whose transaction
 *                   it passed is delivered everywhere.
 * @returns NULL with err clear when there is nothing to do (no signal table, and no
 *          snapshot queued or a server before 14), NULL with err set on a record that
 *          does not parse.
 */
agent_incr *agent_incr_new(const cfg_source *src, agent_state *st, uint64_t confirmed,
                           int server_version, cdc_err *err);
void        agent_incr_free(agent_incr *in);    /* NULL is a no-op */

/*
 * At stream start (conn: the plain connection): checks that the signal table is
 * in the publication, and reads the next chunk of a snapshot that was running.
 */
int agent_incr_start(agent_incr *in, agent_capture *cap, PGconn *conn, cdc_err *err);

/* The plain connection again, after a reconnect (in NULL: no-op). */
void agent_incr_set_conn(agent_incr *in, PGconn *conn);

/* Its progress for /metrics (in NULL: all zero). */
void agent_incr_get_progress(const agent_incr *in, agent_incr_progress *out);

/*
 * The blocking snapshot asked for by an execute-snapshot signal of type
 * blocking (also one a restart found unfinished in the record): its tables and
 * their additional conditions (NULL: none), valid until agent_incr_blocking_done.
 * @returns how many (at most max), 0 when none waits.
 */
int agent_incr_blocking(const agent_incr *in, const char **tables, const char **conds, int max);
/* Its rows are durable everywhere: forgets it (and saves the record). */
int agent_incr_blocking_done(agent_incr *in, cdc_err *err);

/* Whether rel is the signal table. */
bool agent_incr_is_signal(const agent_incr *in, const cdc_rel *rel);

/*
 * capture's change hook (agent_capture_set_change_hook, arg: the agent_incr):
 * a change's keys leave the open window (agent_incr_seen); a row inserted into
 * the signal table is executed (agent_incr_signal).
 */
int agent_incr_on_change(void *arg, agent_capture *cap, const pgo_msg *m, uint64_t commit_lsn,
                         uint64_t lsn, cdc_err *err);

/*
 * A row inserted into the signal table, in the transaction committing at
 * commit_lsn, at the change's lsn.  Executes it; at a window's close, emits
 * the chunk through cap (inside the current transaction).
 */
int agent_incr_signal(agent_incr *in, agent_capture *cap, const pgo_tuple *row,
                      uint64_t commit_lsn, uint64_t lsn, cdc_err *err);

/* A streamed change of rel carrying tuple t (new or old row), in the transaction committing
   at commit_lsn: when that transaction comes after the open row's, its key leaves the window. */
void agent_incr_seen(agent_incr *in, const cdc_rel *rel, const pgo_tuple *t,
                     uint64_t commit_lsn);

#endif

/*
 * The initial snapshot's resumption after a crash (docs/snapshots.md, "After
 * a crash"), and the snapshot of a table added to source.tables since.
 *
 * During the snapshot, a table with a key (primary key, or the unique index
 * incr.c uses, every column NOT NULL) is cut into key ranges when it is read
 * in parallel, so a chunk means the same rows in any later snapshot.  After
 * every destination made a chunk's rows durable (the position each one
 * acknowledged), the slot's record (agent_state.snap) says which tables are
 * done and, in the table being read, which rows are left: the condition
 * "(k1, k2) > (<upper key of the last durable chunk>)".
 *
 * At the next start, with the slot still there and its snapshot pending,
 * the slot is kept and the rest is queued as an incremental snapshot
 * (agent/pipeline/incr.h: Debezium's watermark windows): the rows left of
 * the unfinished table and every table not started.  Only the rows of the
 * chunks emitted but not durable are delivered twice.  Without a signal table
 * the windows' markers are logical decoding messages (PostgreSQL 14+, incr.h).
 * A remaining table without such a key, or no signal table before PostgreSQL
 * 14, keeps the older behaviour: drop the slot and take the whole snapshot
 * again (the log says why and which setting avoids it).
 *
 * @thread main loop only.
 */
#ifndef CDC_AGENT_PIPELINE_SNAPSHOT_RESUME_H
#define CDC_AGENT_PIPELINE_SNAPSHOT_RESUME_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "agent/config/config.h"
#include "agent/core/cdc_err.h"
#include "agent/core/cdc_event.h"
#include "agent/core/cdc_rel.h"
#include "agent/pipeline/capture.h"
#include "agent/pipeline/router.h"
#include "agent/pipeline/state.h"

/* ---- key ranges ---- */

/* Whether rel has a key the chunks and the incremental snapshot can use: key columns,
   every one NOT NULL (a NULL would fall in no range). */
bool snap_key_usable(const cdc_rel *rel);

/*
 * Cuts rel (pages pages, about want chunks) into key ranges, from a sample of
 * its keys (TABLESAMPLE SYSTEM, under where: the row filter, or NULL) read on
 * conn (inside the snapshot's transaction).  conds[i] is chunk i's condition,
 * rests[i] the condition of the table's rows after chunk i (NULL for the last).
 * @returns the number of chunks (2 or more), 0 when rel is to be read otherwise
 * (no usable key, fewer than two chunks wanted or sampled), or -1 with err set.
 */
int snap_key_chunks(PGconn *conn, const cdc_rel *rel, const char *where, int64_t pages,
                    int64_t want, char ***conds, char ***rests, cdc_err *err);
void snap_key_chunks_free(char **v, int n);   /* NULL is a no-op */

/* ---- progress during the snapshot ---- */

typedef struct snap_resume snap_resume;

/* Starts the record's snap line for the snapshot at cp of src's tables (saved); what is
   durable is what every destination of router acknowledged (router->wm). */
snap_resume *snap_resume_new(agent_state *st, agent_router *router, const cfg_source *src,
                             uint64_t cp);
void         snap_resume_free(snap_resume *r);     /* NULL is a no-op */

/* Table `table` starts being read. */
void snap_resume_table(snap_resume *r, const char *table);

/*
 * Every row of a chunk of the current table is handed out; rest is the
 * condition of the table's rows after it (NULL: the table is done).
 * row_pending: its last row is held back (its position comes with
 * snap_resume_emitted); otherwise the last row emitted ends it.
 */
void snap_resume_chunk(snap_resume *r, const char *rest, bool row_pending);

/* A snapshot row was handed out at pos. */
void snap_resume_emitted(snap_resume *r, cdc_pos pos);

/* Records (and saves) the chunks every destination made durable since the last call.
   @returns 0, or -1 with err set when the record cannot be written. */
int snap_resume_poll(snap_resume *r, cdc_err *err);

/* ---- at start ---- */

/*
 * With the slot (confirmed at `confirmed`) and its record saying the initial
 * snapshot is pending: decides whether it resumes.  When it does, the record
 * says the snapshot is delivered and the rest is queued as an incremental
 * snapshot (saved); the log says what is read again.  When it does not, the
 * log says why (the caller goes on as before: a new snapshot on a new slot).
 * @returns 1 resumed, 0 not, -1 with err set.
 */
int agent_snapshot_resume(PGconn *conn, agent_capture *cap, const cfg_source *src,
                          agent_state *st, uint64_t confirmed, cdc_err *err);

/*
 * With the slot's snapshot delivered: the tables of src that the record does
 * not know (added to source.tables since) are queued as an incremental
 * snapshot, each read by itself while the others stream; the record then
 * knows them (saved); without a signal table only on PostgreSQL 14+ (conn's
 * server; before, they are only streamed, with a warning).  @returns 0, or -1 with err set.
 */
int agent_snapshot_added_tables(PGconn *conn, const cfg_source *src, agent_state *st,
                                cdc_err *err);

#endif

/*
 * The parallel reader of the initial snapshot (source.snapshot_max_threads
 * above 1): worker threads, each with its own connection in the slot's
 * exported snapshot (BEGIN ISOLATION LEVEL REPEATABLE READ; SET TRANSACTION
 * SNAPSHOT), read one table in chunks of ctid block ranges with COPY and hand
 * the raw COPY text back in chunk order, so the caller sees the table's rows in
 * the order one sequential COPY would give them.  Memory is bounded: at most
 * `ring` chunks are claimed ahead of the one the caller reads, and a worker
 * whose chunk is not the next one pauses its COPY while more than the budget
 * is buffered (the server waits on its socket).  Decoding stays with the
 * caller (one thread), which is what keeps the events' order.
 */
#ifndef CDC_AGENT_PIPELINE_SNAPSHOT_PAR_H
#define CDC_AGENT_PIPELINE_SNAPSHOT_PAR_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/config/config.h"
#include "agent/core/cdc_err.h"

typedef struct snap_par snap_par;

/* Bytes of COPY text buffered across chunks beyond the one being read. */
#define SNAP_PAR_BUDGET ((size_t) 64 << 20)

/*
 * Connects nthreads workers to src and imports snapshot_name (a snapshot the
 * caller's transaction holds or exported) in each.
 * @returns the reader, or NULL with err set naming the worker that failed.
 */
snap_par *snap_par_start(const cfg_source *src, const char *snapshot_name, int nthreads,
                         cdc_err *err);

/*
 * Starts one table (named `table` in messages): copy_head is
 * "COPY (SELECT <columns> FROM <table> WHERE <condition>" (copied; each chunk ANDs its ctid
 * range to the condition); the table's nblocks pages are read in chunks of chunk_blocks
 * (the last chunk reads from its first block to the end, so pages added
 * since nblocks was read are covered).  The previous table must be finished.
 * @returns the number of chunks.
 */
int64_t snap_par_table(snap_par *p, const char *table, const char *copy_head, int64_t nblocks,
                       int64_t chunk_blocks);

/*
 * As snap_par_table, but the table is read in n chunks, chunk i being the rows of
 * conds[i] (a SQL condition ANDed to copy_head's, e.g. a key range; NULL: no more
 * condition), so a chunk means the same rows in any snapshot.  conds is copied.
 * @returns n.
 */
int64_t snap_par_table_conds(snap_par *p, const char *table, const char *copy_head,
                             char *const *conds, int64_t n);

/* Which chunk (0-based) the last snap_par_next returned; -1 when it holds none. */
int64_t snap_par_held(snap_par *p);

/*
 * The next chunk of the table, in order: *data is its COPY text rows
 * (each ending in '\n'), valid until the next call.  Releases the chunk the
 * previous call returned.
 * @returns 1 with a chunk, 0 at the table's end, 2 when *stop was raised,
 *          3 when the next chunk is not ready after 200 ms (call again: the
 *          caller can report progress meanwhile), or -1 with err set (a
 *          worker's error, naming table and chunk).
 */
int snap_par_next(snap_par *p, const char **data, size_t *len, volatile sig_atomic_t *stop,
                  cdc_err *err);

/* Stops the workers (cancelling any COPY), closes their connections and frees p. */
void snap_par_free(snap_par *p);

#endif

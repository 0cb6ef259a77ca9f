/*
 * The parallel reader of the initial snapshot (source.snapshot_max_threads
 * above 1): worker threads, each with its own connection in the slot's
 * exported snapshot (BEGIN ISOLATION LEVEL REPEATABLE READ; SET TRANSACTION
 * SNAPSHOT), read one table in chunks of ctid block ranges with COPY and hand
 * the rows back in chunk order, so the caller sees the table's rows in the
 * order one sequential COPY would give them.  Each worker decodes its chunk's
 * COPY text rows into values (the table's decode function) in an arena of the
 * chunk's, which goes to the caller with the chunk and comes back with
 * snap_par_recycle; the caller makes and emits the events, in order, on one
 * thread.  Memory is bounded: at most `ring` chunks are claimed ahead of the
 * one the caller reads, and a worker whose chunk is not the next one pauses
 * its COPY while more than the budget is held (decoded rows, the arenas the
 * caller holds included; the server waits on its socket).
 */
#ifndef CDC_AGENT_PIPELINE_SNAPSHOT_PAR_H
#define CDC_AGENT_PIPELINE_SNAPSHOT_PAR_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/config/config.h"
#include "agent/core/cdc_arena.h"
#include "agent/core/cdc_err.h"
#include "agent/core/cdc_value.h"

typedef struct snap_par snap_par;

/*
 * Decodes one COPY text row (len bytes, with or without its '\n') into values
 * allocated in a; called on the worker threads, so it reads nothing that
 * changes while a table is read.  @returns the values, or NULL with err set.
 */
typedef cdc_value *(*snap_par_decode_fn)(const void *ctx, const char *row, size_t len,
                                         cdc_arena *a, cdc_err *err);

/* One chunk's decoded rows, in the table's order. */
typedef struct snap_rows {
    cdc_value *const *rows;     /* valid until the next snap_par_next */
    size_t            n;
    cdc_arena        *arena;    /* the rows' values: the caller's until snap_par_recycle */
} snap_rows;

/* Bytes of decoded rows held across chunks beyond the one being read. */
#define SNAP_PAR_BUDGET ((size_t) 48 << 20)
/* At most about this many bytes of decoded rows per chunk: chunks are planned smaller when
   snapshot_chunk_mb of the table's pages would decode to more (narrow rows). */
#define SNAP_PAR_CHUNK_DECODED ((size_t) 16 << 20)

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
 * since nblocks was read are covered).  Each row is decoded with
 * decode(dctx, ...); dctx must stay valid until the table is finished.  The
 * previous table must be finished.
 * @returns the number of chunks.
 */
int64_t snap_par_table(snap_par *p, const char *table, const char *copy_head, int64_t nblocks,
                       int64_t chunk_blocks, snap_par_decode_fn decode, const void *dctx);

/*
 * As snap_par_table, but the table is read in n chunks, chunk i being the rows of
 * conds[i] (a SQL condition ANDed to copy_head's, e.g. a key range; NULL: no more
 * condition), so a chunk means the same rows in any snapshot.  conds is copied.
 * @returns n.
 */
int64_t snap_par_table_conds(snap_par *p, const char *table, const char *copy_head,
                             char *const *conds, int64_t n, snap_par_decode_fn decode,
                             const void *dctx);

/* Which chunk (0-based) the last snap_par_next returned; -1 when it holds none. */
int64_t snap_par_held(snap_par *p);

/*
 * The next chunk of the table, in order, into *out: its row list is valid
 * until the next call, its arena until the caller gives it back with
 * snap_par_recycle (the caller may keep it longer, e.g. for a row it holds
 * back; it counts against the budget until then).  Releases the chunk the
 * previous call returned.
 * @returns 1 with a chunk, 0 at the table's end, 2 when *stop was raised,
 *          3 when the next chunk is not ready after 200 ms (call again: the
 *          caller can report progress meanwhile), or -1 with err set (a
 *          worker's error, naming table and chunk).
 */
int snap_par_next(snap_par *p, snap_rows *out, volatile sig_atomic_t *stop, cdc_err *err);

/* Gives back an arena snap_par_next handed out (kept for a worker to reset and reuse, or
   freed); NULL: nothing. */
void snap_par_recycle(snap_par *p, cdc_arena *a);

/* Stops the workers (cancelling any COPY), closes their connections and frees p. */
void snap_par_free(snap_par *p);

#endif

/*
 * Compaction of an Iceberg table (issue 21, `iceberg.maintenance.compaction_*`): small data
 * files of a partition, together with the position deletes that apply to them, rewritten
 * into files of the target size, committed as one "replace" snapshot.
 *
 * A pass:
 *  1. loads the table and lists its live files (current snapshot): data files of the default
 *     partition spec, grouped by partition tuple, and position-delete files with the data
 *     files each names (its file_path column, read).  Equality deletes are refused.
 *  2. picks (ice_compact_choose): a partition with at least file_threshold live data files
 *     has its small ones (smaller than 3/4 of the target size, Java's min-file-size-bytes)
 *     rewritten, oldest first, while the pass's rows (their record counts) stay within
 *     max_rows; a partition where that gives fewer than two files is left alone.
 *  3. reads the live rows of the picked files (ice_scan_rows_in: their deletes applied),
 *     typed as the current schema, and writes them in the same order into new Parquet files
 *     (the sink's writer and codec) of at most about target_bytes, one set per partition.
 *  4. commits through the catalog: the new files added; the picked data files removed, and
 *     every position-delete file of the partition whose rows all name picked files (or files
 *     no longer live) removed (a delete file that also names a file kept stays: it still
 *     applies to that one, and its rows naming removed files match nothing any more).  The commit's base is the
 *     snapshot planned on: a concurrent append or a delete against other files rebuilds on
 *     top (ice_commit_run's retries); a position delete committed meanwhile that may apply to
 *     a removed file, or a removed file gone, makes this attempt abandon: its new files are
 *     deleted, and the pass plans again from the table as it is (max_replans times).  The
 *     deletes are never carried over: the rewrite is redone on the newer table instead.
 *
 * Crash safety: new files are durable before the commit, and the catalog's swap is atomic, so
 * a crash before it leaves the table as it was (the new files are orphans, for orphan removal)
 * and after it the compacted table, which holds the same live rows.
 *
 * The upsert sink's key index points at (file, pos) of live rows, and a rewrite moves rows:
 * after a compaction commit the sink must update it before its next commit.  moved (may be
 * NULL) is called, after the commit succeeded, once per moved row: old (file, pos) -> new
 * (file, pos).  The rule this project keeps: the sink that runs compaction on its commit
 * thread rebuilds the index of a compacted table (as it does at start) or applies the moves.
 *
 * Partitions of older specs, and tables with list columns ("not supported yet", naming the
 * column), are not compacted.
 *
 * @locality one thread at a time per table (the sink's commit thread, or a tool).
 */
#ifndef CDC_SINKS_ICEBERG_ICE_COMPACT_H
#define CDC_SINKS_ICEBERG_ICE_COMPACT_H

#include <stdbool.h>
#include <stdint.h>

#include "agent/core/cdc_err.h"
#include "sinks/iceberg/catalog/ice_catalog.h"
#include "sinks/iceberg/parquet/parquet.h"
#include "sinks/iceberg/store/store.h"

/* The target file size without write.target-file-size-bytes: the rewritten file is built in
   memory before its upload (as the sink's files are), so not Iceberg's 512 MiB. */
#define ICE_COMPACT_TARGET_DEFAULT ((int64_t) 128 << 20)

typedef struct ice_compact_opts {
    int           file_threshold;   /* <= 0: 10 (compaction_file_threshold) */
    int64_t       max_rows;         /* <= 0: 500000 (compaction_max_rows_per_batch) */
    int64_t       target_bytes;     /* <= 0: the table's write.target-file-size-bytes, else
                                       ICE_COMPACT_TARGET_DEFAULT */
    parquet_codec codec;            /* the sink's */
    int           max_attempts;     /* commit attempts per plan; <= 0: 4 */
    int           max_replans;      /* plans after an abandoned one; <= 0: 3 */
    /* called once per plan after the new files are durable, before the commit (tests: a
       concurrent writer, a crash there); may be NULL */
    void        (*before_commit)(void *arg);
    void         *hook_arg;
} ice_compact_opts;

typedef struct ice_compact_stats {
    int64_t data_files_before, delete_files_before;   /* live in the table planned on */
    int64_t partitions;             /* compacted */
    int64_t data_files_removed, delete_files_removed, files_added;
    int64_t rows;                   /* rows rewritten (live rows of the removed files) */
    int64_t bytes_read, bytes_written;  /* sizes of removed data files / added files */
    int64_t snapshot_id;            /* the replace snapshot, -1: nothing committed */
    int     replans;                /* plans abandoned because of a concurrent commit */
} ice_compact_stats;

typedef int ice_compact_moved_fn(void *arg, const char *old_file, int64_t old_pos,
                                 const char *new_file, int64_t new_pos, cdc_err *err);

/*
 * One compaction pass over table id.  @returns 0 (stats->snapshot_id -1 when nothing was
 * worth compacting), or -1 with err naming the table and the file (CDC_E_STATE when the
 * table kept changing under max_replans plans; cdc_rc_retriable for I/O and catalog
 * trouble: the pass may be run again).
 */
int ice_compact_run(ice_cat *cat, ice_store *st, const ice_cat_ident *id,
                    const ice_compact_opts *opts, ice_compact_moved_fn *moved, void *arg,
                    ice_compact_stats *stats, cdc_err *err);

/* ---- the upsert sink's key index after a compaction ---- */

/*
 * The moves of one compaction, collected through ice_compact_moves_add (an
 * ice_compact_moved_fn: pass it as `moved` with the ice_compact_moves as arg), then applied to
 * a table's key index with ice_tbl_apply_moves: every key whose row was in a rewritten file
 * points at the row's new (file, position), and the new files get the old ones' partition
 * tuples (the sink's position deletes go into a file of that partition).  Memory: 16 bytes
 * per position of each rewritten file.
 *
 * When: the sink must apply the moves before it fills a batch on the compacted table, and run
 * the compaction only while no batch of the table is being filled or committed (a position
 * delete built from the index before the compaction names a removed file: committed after
 * the compaction it deletes nothing, and the key would be there twice).  A pass whose base
 * check fails because the sink committed meanwhile plans again, so a sink that commits its
 * batches before the compaction's commit is safe; one that has a batch open is not.
 */
typedef struct ice_compact_moves ice_compact_moves;

ice_compact_moves *ice_compact_moves_new(void);
void               ice_compact_moves_free(ice_compact_moves *mv);   /* NULL is a no-op */
int                ice_compact_moves_add(void *mv, const char *old_file, int64_t old_pos,
                                         const char *new_file, int64_t new_pos, cdc_err *err);
int64_t            ice_compact_moves_count(const ice_compact_moves *mv);

struct ice_tbl;

/*
 * Applies mv to t's key index.  @returns 0, or -1 with err (CDC_E_STATE) when the index
 * points at a row of a rewritten file that the compaction did not move (the index and the
 * table disagree: rebuild the index from the table instead); the index is then partly
 * updated and must be rebuilt.
 */
int ice_tbl_apply_moves(struct ice_tbl *t, const ice_compact_moves *mv, cdc_err *err);

struct ice_posdel;

/*
 * Rewrites the position deletes pd (a batch being filled, built from the index before the
 * compaction) that name a rewritten file to the row's new (file, position).  A delete of a row
 * the compaction did not move (gone from the table meanwhile) is dropped.  @returns the number
 * dropped; *moved (may be NULL) gets the number re-pointed.
 */
int64_t ice_compact_moves_posdel(const ice_compact_moves *mv, struct ice_posdel *pd,
                                 int64_t *moved);

/* ---- the choice, on its own for tests ---- */

typedef struct ice_compact_file {
    int     group;          /* partition: files of one group are compacted together; < 0:
                               never (a file of an older partition spec) */
    int64_t size;           /* bytes */
    int64_t records;        /* record count (deleted rows included) */
    bool    pick;           /* out */
} ice_compact_file;

/*
 * Sets pick on the files to rewrite (files in table order, oldest first): see step 2 above.
 * @returns the number of picked files.
 */
int ice_compact_choose(ice_compact_file *files, int n, int file_threshold, int64_t max_rows,
                       int64_t target_bytes);

#endif

/*
 * Reading an Iceberg table back: the live rows of its current snapshot, for
 * the sink (its upsert key index rebuilt at start, an unchanged TOAST column
 * filled from the current row) and for `cdcagent verify`.
 *
 * What is live: the manifest list of the current snapshot names manifests;
 * data manifests give the data files (entries ADDED or EXISTING, with their
 * data sequence numbers), delete manifests the position-delete files.  A
 * position-delete file applies to a data file whose data sequence number is
 * <= its own (spec "Scan Planning"), and deletes the rows (file_path, pos) it
 * lists.  A table with equality deletes is refused (CDC_E_UNSUPPORTED, naming
 * the table location and the delete file): this project never writes them
 * and pyiceberg does not apply them, so a reader that did would disagree
 * with it.  Deletion vectors (v3) are refused the same way.
 *
 * Values come typed as the table's current schema types them, so that
 * ice_value_bound() of a key read here equals ice_value_bound() of the same
 * key parsed from PostgreSQL's text (ice_value_parse): an int column written
 * before it was widened to long reads as a long, float as double, decimal
 * unscaled values as ice_i128, timestamps in microseconds (files holding
 * milli- or nanoseconds are converted), strings and binary as bytes.  A field
 * a data file does not have (a column added later) reads as null.  List
 * fields are refused by ice_scan_rows ("not supported yet", naming the
 * column: an ice_value holds no list) and read as null by ice_scan_row;
 * ice_scan_row_list reads one row's list.
 *
 * Memory: one row group of the requested columns of one data file at a time,
 * the deleted positions of that one data file, and the footers of the delete
 * files (kept open for the whole scan: each delete file is read once per data
 * file it may apply to, row groups whose file_path bounds exclude that data
 * file skipped).
 *
 * @locality one thread at a time per store.
 */
#ifndef CDC_SINKS_ICEBERG_ICE_SCAN_H
#define CDC_SINKS_ICEBERG_ICE_SCAN_H

#include <stdbool.h>
#include <stdint.h>

#include "agent/core/cdc_buf.h"
#include "agent/core/cdc_err.h"
#include "sinks/iceberg/ice_meta.h"
#include "sinks/iceberg/ice_value.h"
#include "sinks/iceberg/store/store.h"

/*
 * Called for every live row: the data file's URI (as the manifest names it:
 * what a position delete must name), the row's position in it (0-based), and
 * vals[i], the value of field_ids[i].  Pointers (file, bytes of vals) are
 * valid during the call only.  Returns 0 to go on, 1 to stop the scan early
 * (ice_scan_rows then returns 0), -1 with err set to fail it.
 */
typedef int ice_scan_fn(void *arg, const char *file, int64_t pos, const ice_value *vals,
                        cdc_err *err);

/* What a scan saw (for logs and tests); any pointer may be NULL. */
typedef struct ice_scan_stats {
    int64_t data_files;
    int64_t delete_files;
    int64_t rows;           /* live rows passed to fn */
    int64_t deleted;        /* rows of the data files removed by position deletes */
} ice_scan_stats;

/*
 * Every live row of m's current snapshot (none when it has no snapshot),
 * data file by data file in manifest order, rows in position order.
 * field_ids: nfields ids of m's current schema (an unknown id fails,
 * CDC_E_INVAL).  Files are read through st (file:// or s3://).
 * @returns 0, or -1 with err naming the file and what is wrong (or what fn
 * returned).
 */
int ice_scan_rows(ice_store *st, const ice_meta *m, const int32_t *field_ids, int nfields,
                  ice_scan_fn *fn, void *arg, ice_scan_stats *stats, cdc_err *err);

/*
 * ice_scan_rows of an older snapshot (time travel): the live rows of snapshot
 * snapshot_id of m (-1: the current one, as ice_scan_rows), still read
 * through m's CURRENT schema (field_ids are its ids; a column added after
 * that snapshot reads as null, a dropped one cannot be asked for).  An id m
 * does not hold fails, CDC_E_INVAL, naming it.
 */
int ice_scan_rows_at(ice_store *st, const ice_meta *m, int64_t snapshot_id,
                     const int32_t *field_ids, int nfields, ice_scan_fn *fn, void *arg,
                     ice_scan_stats *stats, cdc_err *err);

/*
 * ice_scan_rows restricted to the data files named in files[0..nfiles) (URIs as the manifests
 * name them; the deletes that apply to them applied as usual): the rows a rewrite moves.  A
 * named file that is not live in m's current snapshot is simply not read; stats count the
 * files read.
 */
int ice_scan_rows_in(ice_store *st, const ice_meta *m, const char *const *files, int nfiles,
                     const int32_t *field_ids, int nfields, ice_scan_fn *fn, void *arg,
                     ice_scan_stats *stats, cdc_err *err);

/*
 * The values of field_ids (nfields; NULL: every field of the current schema
 * in schema order, nfields ignored; lists then read as null) of the row at
 * position pos of data file `file` (a URI as ice_scan_rows gave it), into
 * out[] (the caller's array, nfields or the schema's field count long); the
 * bytes they point to live in mem (reset first), valid until mem changes.
 * Does not check deletes: the caller knows the row is live (its key index).
 * @returns 0, 1 when the file has no row pos (err says so), -1 with err.
 */
int ice_scan_row(ice_store *st, const ice_meta *m, const char *file, int64_t pos,
                 const int32_t *field_ids, int nfields, ice_value *out, cdc_buf *mem,
                 cdc_err *err);

/*
 * The value of list field field_id (a list of primitives) in the row at
 * position pos of data file `file`: *is_null for a null list (or a file
 * written before the field existed), else *nelems elements in *elems (a new
 * array the caller frees; NULL when empty), typed as the list's element type,
 * their bytes in mem (reset first).  For an unchanged TOAST array.
 * @returns 0, 1 when the file has no row pos, -1 with err.
 */
int ice_scan_row_list(ice_store *st, const ice_meta *m, const char *file, int64_t pos,
                      int32_t field_id, bool *is_null, ice_value **elems, size_t *nelems,
                      cdc_buf *mem, cdc_err *err);

/*
 * Each live data file of m's current snapshot: fn(arg, path, spec_id, partition, npart)
 * (the partition tuple as its manifest holds it, valid during the call).  Deletes are not
 * applied.  @returns 0, or -1 with err (or what fn returned -1 with).
 */
typedef int ice_scan_file_fn(void *arg, const char *path, int32_t spec_id,
                             const ice_value *partition, int npart, cdc_err *err);
int ice_scan_data_files(ice_store *st, const ice_meta *m, ice_scan_file_fn *fn, void *arg,
                        cdc_err *err);

/*
 * Each live data file of m's current snapshot with the lower and upper bounds of field_id as
 * its manifest entry holds them (single-value serializations; NULL and 0 when the entry has
 * none; strings may be truncated: lower a prefix-or-less, upper a prefix-or-more):
 * fn(arg, path, records, lower, lower_n, upper, upper_n), all valid during the call.  For a
 * reader that skips files by key (verify's key ranges).  @returns 0, or -1 with err.
 */
typedef int ice_scan_bounds_fn(void *arg, const char *path, int64_t records,
                               const uint8_t *lower, size_t lower_n, const uint8_t *upper,
                               size_t upper_n, cdc_err *err);
int ice_scan_data_file_bounds(ice_store *st, const ice_meta *m, int32_t field_id,
                              ice_scan_bounds_fn *fn, void *arg, cdc_err *err);

#endif

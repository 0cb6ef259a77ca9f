/*
 * One destination table of the Iceberg sink, as the main loop sees it: its
 * identifier and location, its current schema (stable field ids: the
 * table's own when it existed at start, new ones from its last-column-id
 * otherwise), the position its last commit recorded, and the Parquet file
 * of the batch being filled (in memory; the worker uploads it).
 *
 * Rows: in append mode every change is a row (the row image plus the
 * _cdc_* columns, see iceberg.h); ice_tbl_put_row converts the event's
 * values with ice_value_from_cdc into the open writer.
 *
 * ice_tbl_datafile turns a closed file's Parquet statistics into the
 * manifest's ice_datafile (counts, sizes, and bounds as Iceberg's single-value
 * serialization, strings and binary cut as truncate(16) cuts them).
 *
 * @locality the agent's main loop only (the worker gets closed files).
 */
#ifndef CDC_SINKS_ICEBERG_ICE_TABLE_H
#define CDC_SINKS_ICEBERG_ICE_TABLE_H

#include <stdbool.h>
#include <stdint.h>

#include "agent/core/cdc_buf.h"
#include "agent/core/cdc_err.h"
#include "agent/core/cdc_event.h"
#include "sinks/iceberg/ice_commit.h"
#include "sinks/iceberg/ice_manifest.h"
#include "sinks/iceberg/ice_schema.h"
#include "sinks/iceberg/ice_transform.h"
#include "sinks/iceberg/ice_value.h"
#include "sinks/iceberg/parquet/parquet.h"

/* The metadata columns of append mode, after the source's columns. */
enum {
    ICE_META_TOPIC = 0,     /* _cdc_topic string */
    ICE_META_PARTITION,     /* _cdc_partition int (0) */
    ICE_META_OFFSET,        /* _cdc_offset long: the change's own LSN */
    ICE_META_OP,            /* _cdc_op string: c, u, d, r */
    ICE_META_LSN,           /* _cdc_lsn long: the commit LSN */
    ICE_META_TS,            /* _cdc_ts timestamptz: commit time */
    ICE_META_N
};

extern const char *const ice_meta_names[ICE_META_N];

/* A closed data file of a batch: its bytes, statistics and the schema it was written with. */
typedef struct ice_file {
    ice_value     *partition;   /* the partition tuple (the spec's field count), or NULL */
    char          *uri;
    cdc_buf        bytes;
    parquet_result res;
    ice_schema    *schema;
} ice_file;

void ice_file_clear(ice_file *f);

typedef struct ice_kidx ice_kidx;
typedef struct ice_tbl  ice_tbl;

/* Reads fields `ids` of the committed row (file, pos) of table t (upsert's unchanged TOAST
   values); CDC_E_QUEUE_FULL when it cannot now (a commit in progress). */
typedef int ice_row_reader(void *arg, const ice_tbl *t, const char *file, int64_t pos,
                           const int32_t *ids, int n, ice_value *out, cdc_buf *mem,
                           cdc_err *err);
/* The same for one list field: *elems (malloc'ed, the caller frees) in mem. */
typedef int ice_list_reader(void *arg, const ice_tbl *t, const char *file, int64_t pos,
                            int32_t field_id, bool *is_null, ice_value **elems, size_t *nelems,
                            cdc_buf *mem, cdc_err *err);

struct ice_tbl {
    char       *name;           /* the Iceberg table name */
    char       *src;            /* "schema.table" of the source, for messages */
    char       *location;       /* the table's location URI (no trailing '/') */
    bool        exists;         /* found in the catalog at start (or committed since) */
    ice_schema *schema;         /* current: what the next file is written with */
    int32_t     last_column_id;
    int32_t     next_schema_id;
    bool        schema_dirty;   /* schema differs from the table's: the next commit sets it */
    cdc_pos     pos;            /* what the table holds: events at or before it are skipped */
    uint32_t    relid;
    uint32_t    rel_version;
    bool        have_rel;
    bool        toast_warned;
    bool        foreign;        /* existed at start without a snapshot of this pipeline: its
                                   schema must be the source's, it is not evolved */

    ice_spec       *spec;       /* the partition spec, or NULL: unpartitioned (append only) */

    /* the file being written (of partition wtuple), and the others of this batch parked */
    ice_value      *wtuple;     /* owns its bytes (one allocation with the array) */
    struct ice_wslot *slots;
    int             nslots;
    parquet_writer *w;
    cdc_buf        *wbuf;
    char           *wuri;
    ice_schema     *wschema;
    int            *map;        /* per wschema field: rel column index, -1 - ICE_META_*, or
                                   INT32_MIN (not in the relation: null) */
    int64_t         rows;       /* rows in the batch being filled (all its files) */

    ice_file       *files;      /* closed files of the batch being filled */
    int             nfiles;

    /* upsert */
    bool            upsert;
    ice_kidx       *kidx;       /* key -> (paths[file], pos) of the key's live row */
    char          **paths;      /* data file URIs the index points into */
    ice_value     **ptuples;    /* per paths[i]: its partition tuple (owned, spec's field
                                   count), NULL in an unpartitioned table */
    int             npaths;
    int             cur_path;   /* t->wuri's index in paths; -1 while no file is open */
    /* position deletes of the batch being filled: one set per partition touched (a delete
       file applies to the data files of its own partition only), pdtuple[i] owned or NULL */
    ice_posdel    **pd;
    ice_value     **pdtuple;
    int             npd;
    int64_t         ndeletes;   /* in pd */
    ice_row_reader *reader;     /* NULL: an unchanged TOAST value without a before image is
                                   refused */
    ice_list_reader *list_reader;
    void           *reader_arg;
    ice_value      *fill;       /* per relation column: the value read back for an unchanged
                                   TOAST column of the row being written (fill_has) */
    bool           *fill_has;
    int             nfill;
    cdc_buf         fill_mem;
    struct ice_fill_list {      /* per relation column: an unchanged TOAST array read back */
        bool       null;
        ice_value *elems;
        size_t     n;
        cdc_buf    mem;
    } *fill_list;
};

ice_tbl *ice_tbl_new(const char *name, const char *location);
void     ice_tbl_free(ice_tbl *t);

/*
 * The relation `rel` (a new one, or a new version) for this table: maps it to an Iceberg
 * schema (plus the _cdc_* columns when append) and, for a table that has one, evolves the
 * current schema (ice_schema_evolve: new ids, drops, widening; anything else fails with a
 * message naming the table, the column and both types).  Closes the open file first when
 * the schema changes.  @returns 0 or -1 with err.
 */
int ice_tbl_set_rel(ice_tbl *t, const cdc_rel *rel, bool append, cdc_err *err);

/*
 * One row: `image` (rel->ncols values: after, or before for a delete) and the event's
 * metadata (append).  A value Iceberg cannot hold fails with CDC_E_DECODE naming the column,
 * leaving no trace in the file.  An unchanged TOAST value is written as null (*toast set).
 */
int ice_tbl_put_row(ice_tbl *t, const cdc_event *ev, const cdc_value *image, const char *topic,
                    parquet_codec codec, bool *toast, cdc_err *err);

/*
 * Upsert mode: applies one change to the table's key index.  c/r/u: the row is written
 * (ice_tbl_put_row) and the key's previous row, if any, gets a position delete; d: the key's
 * row gets a position delete.  A key change comes as d + c.  An unchanged TOAST value is
 * taken from the before image when it has one, else read from the key's current row through
 * t->reader; when that row is in a file not committed yet, CDC_E_QUEUE_FULL (commit the batch,
 * then offer the change again); without a reader, refused (CDC_E_UNSUPPORTED).
 */
int ice_tbl_upsert(ice_tbl *t, const cdc_event *ev, const char *topic, parquet_codec codec,
                   cdc_err *err);

/* Keys in the index (for logs and tests). */
int64_t ice_tbl_keys(const ice_tbl *t);

/* Appends one key column's part of a key: its single-value serialization (ice_value_bound),
   prefixed by its length (4 bytes, big-endian).  A key is its columns' parts in key order. */
void ice_key_put(cdc_buf *out, const ice_type *t, const ice_value *v);

/* Puts key -> (file, pos) into the index (the start's rebuild).  @returns 1 when the key
   was there already (the table holds it twice), else 0. */
int ice_tbl_index_put(ice_tbl *t, const uint8_t *key, size_t klen, const char *file, int64_t pos);

/* The first difference between a table's schema `have` and `want`, for messages. */
void ice_schema_diff(const ice_schema *have, const ice_schema *want, char *out, size_t n);

/* The key index (ice_kidx.c), internal to the table's files: key -> (t->paths[file], pos).
   set and del give the previous value (*had); get tells whether the key is there. */
ice_kidx *ice_kidx_new(void);
void      ice_kidx_free(ice_kidx *x);
void      ice_kidx_set(ice_kidx *x, const uint8_t *k, size_t n, int32_t file, int64_t pos,
                       bool *had, int32_t *ofile, int64_t *opos);
void      ice_kidx_del(ice_kidx *x, const uint8_t *k, size_t n, bool *had, int32_t *ofile,
                       int64_t *opos);
bool      ice_kidx_get(ice_kidx *x, const uint8_t *k, size_t n, int32_t *file, int64_t *pos);
/* Every entry's (file, pos) through fn: 1 with (*nfile, *npos) moves it, 0 keeps it, -1 stops
   (ice_kidx_remap returns -1).  For a rewrite that moved rows (ice_compact). */
typedef int ice_kidx_remap_fn(void *arg, int32_t file, int64_t pos, int32_t *nfile,
                              int64_t *npos);
int       ice_kidx_remap(ice_kidx *x, ice_kidx_remap_fn *fn, void *arg);
/* The heap bytes the index holds (slots and key blocks), and its number of keys. */
size_t    ice_kidx_bytes(const ice_kidx *x);
size_t    ice_kidx_count(const ice_kidx *x);
/* The index of data file uri in t->paths (added when new). */
int32_t   ice_tbl_path(ice_tbl *t, const char *uri);
/* paths[file]'s partition tuple becomes a copy of tuple (t->spec's field count). */
void      ice_tbl_path_tuple(ice_tbl *t, int32_t file, const ice_value *tuple);
/* A copy of partition tuple v of n fields, strings and bytes in the same allocation. */
ice_value *ice_tuple_dup(const ice_value *v, int n);
/* Whether partition tuples a and b of t's spec are equal (NULL: unpartitioned). */
bool      ice_tbl_tuple_eq(const ice_tbl *t, const ice_value *a, const ice_value *b);

/* Closes the open file (if any) into t->files. */
int ice_tbl_close_file(ice_tbl *t, cdc_err *err);

/*
 * The manifest's description of closed file f (content data).  *cols (ncols entries) and
 * *store (the bounds' bytes) are allocated here: free both after use.
 */
int ice_tbl_datafile(const ice_file *f, ice_datafile *out, ice_colstat **cols, cdc_buf *store,
                     cdc_err *err);

/* The Parquet kind of a primitive Iceberg type, and one value of that type (null included)
   into column col: how the sink writes its files, for a rewrite (ice_compact) to do the same. */
parquet_kind ice_parquet_kind(uint8_t kind);
int          ice_parquet_put(parquet_writer *w, size_t col, const ice_type *t,
                             const ice_value *v, cdc_err *err);

/* "16/B374D848:12": the commit LSN as PostgreSQL writes it, ':', the sequence number. */
void ice_pos_format(cdc_pos p, char *out, size_t n);
/* @returns 0, or -1 when s is not that form. */
int  ice_pos_parse(const char *s, cdc_pos *p);

#endif

/*
 * verify against an iceberg sink, shared by its files: verify_iceberg.c (one
 * table: loading it, mapping its columns, comparing it with the source),
 * verify_iceberg_scan.c (values in their canonical form, the table's live
 * rows read into the state), verify_iceberg_source.c (the source's rows
 * streamed against the state, counts) and verify_iceberg_ranges.c (key
 * ranges and the data files each may touch).  Calls go one way:
 * verify_iceberg.c -> verify_iceberg_source.c -> verify_iceberg_scan.c,
 * and verify_iceberg.c -> verify_iceberg_ranges.c.
 * Not for use outside agent/cmd/verify_iceberg*.c.
 */
#ifndef CDC_AGENT_CMD_VERIFY_ICEBERG_INT_H
#define CDC_AGENT_CMD_VERIFY_ICEBERG_INT_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "agent/cmd/verify_int.h"
#include "agent/core/cdc_buf.h"
#include "sinks/iceberg/ice_table.h"
#include "sinks/iceberg/ice_value.h"

/* One compared column: the source column and the Iceberg field it maps to. */
typedef struct vcol {
    int              rc;        /* index in rel->cols */
    const ice_field *f;
} vcol;

/*
 * The state of the table, compact (a table of millions of rows is held):
 * a row's values are one "canonical" string, each column's single-value
 * serialization in hex, "-" for null, "!" for a source value the sink cannot
 * convert, joined with ','.  Keys are their ice_key_put() bytes in hex.
 */
typedef struct vtab {
    const cdc_rel    *rel;
    const ice_schema *s;
    vcol             *cols;     /* compared columns, key columns first in key order */
    int               ncols, nkeys;
    bool              append;
    int32_t          *ids;      /* field ids scanned: cols, then _cdc_lsn, _cdc_offset, _cdc_op */
    int               nids;
    /* keyed, upsert: key hex -> canonical row; append: -> "lsn:offset:op|canonical row";
       without a key: canonical row -> count */
    json_t           *state;
    json_t           *dupn;     /* upsert: key hex -> times the table holds it, when > 1 */
    json_t           *seen;     /* append: "lsn:off:op:keyhex" of every row */
    int64_t           rows, dups;
    int               nmissing; /* source columns the table does not have */
    int64_t           updates;  /* append rows of a table without a key with _cdc_op u */
    verify_table     *t;
    struct vranges   *rg;       /* key ranges (--ranges); NULL: one pass over everything */
    cdc_buf           kb, cb, tmp;
} vtab;

/*
 * Key ranges: the source's keys cut as verify_pg.c cuts them (every step-th key, in the
 * source's key order, text keys in "C"), range r being the keys > bound r-1 and <= bound r
 * (the first without a lower, the last without an upper bound).  A key read from the table
 * belongs to range r by ice_value_cmp() against the bounds parsed as Iceberg values, which
 * orders as PostgreSQL does only for plain types (plain_order()).  With a single key column,
 * each data file's lower/upper bounds of that column (its manifest entry) tell whether the
 * file can hold keys of the range; with more, every file is read per range.
 */
typedef struct vfile {
    char     *path;
    bool      bounded;          /* both bounds known */
    ice_value lo, hi;           /* pointing into lb, ub */
    uint8_t  *lb, *ub;
} vfile;

typedef struct vranges {
    pg_sql       sql;           /* the source's key order */
    PGresult    *b;             /* the bounds' text: nb rows of nkeys columns */
    int          nb, cur;       /* ranges: nb + 1; cur: the one being compared */
    ice_value   *bv;            /* nb * nkeys bounds as Iceberg values */
    uint8_t    (*uuid)[16];     /* their UUID bytes */
    vfile       *files;         /* single key column: every live data file and its bounds */
    int          nfiles;
    bool         by_files;
    int64_t      files_read;    /* over all ranges */
    cdc_buf      differing;     /* "3 (id > 100 and <= 200), ..." for the note */
} vranges;

/* verify_iceberg_scan.c */
char       *verify_ice_hex_of(const uint8_t *p, size_t n);
void        verify_ice_canon_put(cdc_buf *b, cdc_buf *tmp, int i, const ice_type *t,
                                 const ice_value *v);
json_t     *verify_ice_render_key(vtab *v, const char *kh);
const char *verify_ice_canon_field(const char *c, int i, size_t *n);
char       *verify_ice_render_row(vtab *v, const char *canon);
const char *verify_ice_meta_position(const ice_meta *m, const char *pipeline_id);
int         verify_ice_scan_row(void *arg, const char *file, int64_t pos, const ice_value *vals,
                                cdc_err *err);
const char *verify_ice_entry_row(const vtab *v, const json_t *e);
void        verify_ice_drop_deleted(json_t *state);

/* verify_iceberg_source.c */
int     verify_ice_source_begin(verify_ctx *vc, vtab *v, cdc_err *err);
int     verify_ice_source_rows(verify_ctx *vc, vtab *v, cdc_err *err);
void    verify_ice_extras(vtab *v);
int     verify_ice_count_source(verify_ctx *vc, const cdc_rel *rel, verify_table *t,
                                cdc_err *err);
int64_t verify_ice_multiset_rows(json_t *state);

/* verify_iceberg_ranges.c */
void         verify_ice_vranges_free(vranges *rg);
const char **verify_ice_range_files(vtab *v, int *n);
int          verify_ice_plan_ranges(verify_ctx *vc, ice_store *st, const ice_meta *m, vtab *v,
                                    cdc_buf *note, cdc_err *err);
void         verify_ice_range_text(const vtab *v, cdc_buf *b);

#endif

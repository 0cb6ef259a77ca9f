/*
 * Iceberg v2 manifests and manifest lists (spec "Manifests", "Manifest
 * Lists"), written as Avro object container files.  avro-c encodes every
 * record from the schema Iceberg's Java writer uses (V2Metadata: the same
 * field names, field ids, record names r2, r102, k117_v118, r508, optional
 * fields as ["null", T]); the container framing is written here because
 * avro-c's file writer cannot add the metadata keys readers need: the Avro
 * schema with its field ids and Iceberg's schema, partition-spec,
 * partition-spec-id, format-version and content.
 *
 * The bytes go to a cdc_buf; where they are stored (a local warehouse, S3) is
 * the caller's business.
 */
#ifndef CDC_SINKS_ICEBERG_ICE_MANIFEST_H
#define CDC_SINKS_ICEBERG_ICE_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/core/cdc_buf.h"
#include "agent/core/cdc_err.h"
#include "sinks/iceberg/ice_schema.h"
#include "sinks/iceberg/ice_transform.h"

enum { ICE_CONTENT_DATA = 0, ICE_CONTENT_POS_DELETES = 1, ICE_CONTENT_EQ_DELETES = 2 };
enum { ICE_STATUS_EXISTING = 0, ICE_STATUS_ADDED = 1, ICE_STATUS_DELETED = 2 };

/* Metrics of one column of a file; a count of -1 or a NULL bound is left out.
   Bounds are single-value serializations (ice_value_bound). */
typedef struct ice_colstat {
    int32_t        field_id;
    int64_t        size;        /* bytes on disk */
    int64_t        values;      /* value count, nulls included */
    int64_t        nulls;
    int64_t        nans;
    const uint8_t *lower;
    size_t         lower_n;
    const uint8_t *upper;
    size_t         upper_n;
} ice_colstat;

/* One data or delete file, as the manifest's data_file struct holds it. */
typedef struct ice_datafile {
    int                content;        /* ICE_CONTENT_* */
    const char        *path;           /* full URI: file:///..., s3://... */
    const char        *format;         /* NULL: "PARQUET" */
    const ice_value   *partition;      /* one per spec field, in spec order */
    int64_t            record_count;
    int64_t            file_size;
    int                ncols;
    const ice_colstat *cols;
    const int64_t     *split_offsets;  /* NULL or nsplit offsets */
    int                nsplit;
    const int32_t     *equality_ids;   /* equality deletes only */
    int                neq;
    int32_t            sort_order_id;  /* -1: left out */
    const char        *referenced_data_file;  /* position deletes of one data file, or NULL */
} ice_datafile;

typedef struct ice_entry {
    int          status;            /* ICE_STATUS_* */
    int64_t      snapshot_id;       /* -1: null (inherited from the manifest list) */
    int64_t      sequence_number;   /* -1: null (inherited: an added file) */
    int64_t      file_sequence_number;  /* -1: null */
    ice_datafile file;
} ice_entry;

/* What a manifest list needs about one partition field of a manifest. */
typedef struct ice_part_summary {
    bool     contains_null;
    int      contains_nan;  /* -1: unknown (left out), 0, 1 */
    bool     has_bounds;
    uint8_t *lower;         /* owned by the ice_manifest_file that holds it */
    size_t   lower_n;
    uint8_t *upper;
    size_t   upper_n;
} ice_part_summary;

/* One entry of a manifest list. */
typedef struct ice_manifest_file {
    char             *path;
    int64_t           length;
    int32_t           spec_id;
    int               content;          /* 0 data, 1 deletes */
    int64_t           sequence_number;  /* -1 until the commit assigns it */
    int64_t           min_sequence_number;  /* -1: the same as sequence_number */
    int64_t           added_snapshot_id;
    int32_t           added_files, existing_files, deleted_files;
    int64_t           added_rows, existing_rows, deleted_rows;
    int               nparts;
    ice_part_summary *parts;
} ice_manifest_file;

void ice_manifest_file_clear(ice_manifest_file *mf);   /* frees what it owns */

typedef struct ice_manifest_writer ice_manifest_writer;

/*
 * A manifest of `content` (0 data, 1 deletes) for files written with schema
 * s and spec sp by snapshot_id.  The writer copies what it needs of s and sp.
 *
 * A commit retried after a conflict can keep its manifests: added entries
 * with snapshot_id and sequence numbers -1 (null) inherit them from the
 * manifest list, so only the list, whose entry's added_snapshot_id and
 * sequence_number the caller sets for the new attempt, is rewritten.
 */
ice_manifest_writer *ice_manifest_writer_new(const ice_schema *s, const ice_spec *sp, int content,
                                             int64_t snapshot_id, cdc_err *err);
void                 ice_manifest_writer_free(ice_manifest_writer *w);   /* NULL is a no-op */

int ice_manifest_add(ice_manifest_writer *w, const ice_entry *e, cdc_err *err);

/*
 * Appends the whole Avro file to out and fills mf (path copied, length =
 * bytes written, counts, partition summaries; sequence numbers -1 unless an
 * entry carried one).  The writer is spent afterwards.
 */
int ice_manifest_finish(ice_manifest_writer *w, const char *path, cdc_buf *out,
                        ice_manifest_file *mf, cdc_err *err);

/*
 * A manifest list for snapshot_id (parent -1 for none) at sequence number
 * seq: every manifest of the snapshot, the new ones with sequence_number -1
 * (they get seq, as does a min_sequence_number of -1).  Appended to out.
 */
int ice_manifest_list_write(const ice_manifest_file *mfs, int n, int64_t snapshot_id,
                            int64_t parent_id, int64_t seq, cdc_buf *out, cdc_err *err);

/* ---- reading back (ice_manifest_read.c) ---- */

/*
 * The manifests a manifest list names (written here or by another writer,
 * format v1 or v2; any codec avro-c reads), into a new array the caller frees
 * with ice_manifest_files_free().  `where` names the file in messages.
 */
int  ice_manifest_list_read(const void *data, size_t len, const char *where,
                            ice_manifest_file **out, int *nout, cdc_err *err);
void ice_manifest_files_free(ice_manifest_file *mfs, int n);

/* One entry of a manifest as read: sequence numbers and snapshot id already
   inherited from the manifest list's entry where the file leaves them null. */
typedef struct ice_read_entry {
    int        status;
    int64_t    snapshot_id;
    int64_t    sequence_number;
    int64_t    file_sequence_number;
    int        content;
    char      *path;
    char      *format;
    int64_t    record_count;
    int64_t    file_size;
    int        npart;
    ice_value *partition;       /* strings and bytes owned by the entry */
    char      *referenced_data_file;    /* or NULL */
    /* the rest of data_file, so that an entry can be written again as it was (a commit that
       merges manifests): metrics per column id (bounds owned by the entry), split offsets,
       equality field ids, sort order id (-1 when absent) */
    int          ncols;
    ice_colstat *cols;
    int          nsplit;
    int64_t     *split_offsets;
    int          neq;
    int32_t     *equality_ids;
    int32_t      sort_order_id;
} ice_read_entry;

/*
 * The entries of a manifest whose partition tuple has the types ptypes
 * (ice_spec_types of its spec), `mf` being its manifest list entry (for
 * inheritance).  Entries with status DELETED are included; skip them when
 * listing live files.
 */
int  ice_manifest_read(const void *data, size_t len, const char *where,
                       const ice_manifest_file *mf, const ice_type *ptypes, int nptypes,
                       ice_read_entry **out, int *nout, cdc_err *err);
void ice_read_entries_free(ice_read_entry *e, int n);

/* The Avro schemas (JSON text, caller frees), for tests and tools. */
char *ice_manifest_avro_schema(const ice_schema *s, const ice_spec *sp, cdc_err *err);
char *ice_manifest_list_avro_schema(void);

#endif

/*
 * Iceberg table metadata, format v2 (spec "Table Metadata" and Appendix C):
 * the JSON file a catalog points at.  ice_meta_to_json() writes it,
 * ice_meta_from_json() reads it back (ours or another writer's), which is how
 * a restart finds the current snapshot and the position its summary holds.
 *
 * Ownership: an ice_meta owns everything it points to; the add functions copy
 * their arguments.
 */
#ifndef CDC_SINKS_ICEBERG_ICE_META_H
#define CDC_SINKS_ICEBERG_ICE_META_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/core/cdc_err.h"
#include "sinks/iceberg/ice_schema.h"
#include "sinks/iceberg/ice_transform.h"

typedef struct ice_kv {
    char *key;
    char *value;
} ice_kv;

typedef struct ice_snapshot {
    int64_t id;
    int64_t parent_id;      /* -1: none */
    int64_t sequence_number;
    int64_t timestamp_ms;
    char   *manifest_list;
    int32_t schema_id;      /* -1: left out */
    int     nsummary;
    ice_kv *summary;        /* "operation" first */
} ice_snapshot;

typedef struct ice_log_entry {
    int64_t timestamp_ms;
    int64_t snapshot_id;    /* snapshot-log */
    char   *file;           /* metadata-log */
} ice_log_entry;

typedef struct ice_meta {
    int           format_version;   /* 2 when written here */
    char          uuid[37];
    char         *location;
    int64_t       last_sequence_number;
    int64_t       last_updated_ms;
    int32_t       last_column_id;
    int32_t       current_schema_id;
    int           nschemas;
    ice_schema  **schemas;
    int32_t       default_spec_id;
    int           nspecs;
    ice_spec    **specs;
    int32_t       last_partition_id;
    int           nprops;
    ice_kv       *props;
    int64_t       current_snapshot_id;  /* -1: none */
    int           nsnapshots;
    ice_snapshot *snapshots;
    int           nsnaplog;
    ice_log_entry *snaplog;
    int           nmetalog;
    ice_log_entry *metalog;
} ice_meta;

/* A random version 4 UUID, "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx". */
void ice_uuid4(char out[37]);

/* "<dir>/00012-<uuid>.metadata.json" -> 12; -1 when the name is not of that form
   (pyiceberg's _parse_metadata_version). */
int64_t ice_meta_file_version(const char *metadata_location);
/* The next metadata file of a table at `location` whose current one is `current` (may be
   NULL): "<location>/metadata/<version + 1, 5 digits>-<uuid>.metadata.json", malloc'd. */
char   *ice_meta_next_location(const char *location, const char *current);

/* A new snapshot id: random, positive, 63 bits (as Java's writers pick them). */
int64_t ice_new_snapshot_id(void);

/* A new table: schema and spec copied, no snapshot.  uuid NULL: a random one. */
ice_meta *ice_meta_new(const char *location, const ice_schema *s, const ice_spec *sp,
                       int32_t last_column_id, int32_t last_partition_id, const char *uuid,
                       int64_t now_ms);
void      ice_meta_free(ice_meta *m);   /* NULL is a no-op */

int  ice_meta_set_prop(ice_meta *m, const char *key, const char *value);
const char *ice_meta_prop(const ice_meta *m, const char *key);

/* Adds schema s (its schema_id must be new) and makes it current. */
int ice_meta_add_schema(ice_meta *m, const ice_schema *s, int32_t last_column_id, cdc_err *err);

const ice_schema *ice_meta_schema(const ice_meta *m, int32_t schema_id);
const ice_spec   *ice_meta_spec(const ice_meta *m, int32_t spec_id);

/*
 * Appends snapshot snap (copied) as the new current one: its sequence number
 * must be last_sequence_number + 1 and its parent the current snapshot; the
 * snapshot log and last-updated-ms follow, and refs.main points at it.
 */
int ice_meta_add_snapshot(ice_meta *m, const ice_snapshot *snap, cdc_err *err);

/* Records that `file` was the metadata before this one (metadata-log). */
void ice_meta_log_previous(ice_meta *m, const char *file, int64_t timestamp_ms);

const ice_snapshot *ice_meta_current(const ice_meta *m);   /* NULL: no snapshot */
const char         *ice_snapshot_get(const ice_snapshot *s, const char *key);

/* What a commit changed, for its summary; zero fields are left out of it. */
typedef struct ice_summary_delta {
    int64_t added_data_files, added_records, added_files_size;
    int64_t added_delete_files, added_position_delete_files, added_position_deletes;
    int64_t deleted_data_files, deleted_records, removed_files_size;
    int64_t removed_delete_files, removed_position_deletes;
    int64_t changed_partitions;
} ice_summary_delta;

/*
 * Fills snap->summary (snap owns it afterwards: ice_snapshot_clear) with the
 * keys Java's SnapshotSummary writes: "operation" first, the non-zero
 * counts of d, and the totals (total-records, total-files-size,
 * total-data-files, total-delete-files, total-position-deletes,
 * total-equality-deletes) carried from parent's summary (NULL for the first
 * snapshot; a total the parent lacks is left out), then the extra pairs (the
 * CDC position, for one).
 */
void ice_snapshot_summarize(ice_snapshot *snap, const char *operation, const ice_snapshot *parent,
                            const ice_summary_delta *d, const ice_kv *extra, int nextra);

/* Frees what a snapshot owns (its manifest list and summary). */
void ice_snapshot_clear(ice_snapshot *snap);

/* Pretty JSON text (caller frees), or NULL with err. */
char *ice_meta_to_json(const ice_meta *m, cdc_err *err);

/* Parses metadata JSON of format version 2 (or 1, read as far as v2 needs);
   `where` names the file for messages. */
ice_meta *ice_meta_from_json(const char *text, size_t len, const char *where, cdc_err *err);

#endif

/*
 * One Iceberg commit, built on the table as the catalog just returned it:
 * the files a batch added (data files, position-delete files), an optional
 * new schema, and the summary pairs the sink records (the CDC position).
 * ice_commit_build() writes what the new snapshot needs to the warehouse --
 * a manifest per content kind for the added files, a manifest list that
 * carries every manifest of the current snapshot plus the new ones, and for
 * the SQL catalog the new metadata file -- and fills the ice_cat_change that
 * both catalog kinds understand (new metadata location for SQL, requirements
 * and updates JSON for REST).  It is the ice_cat_build_fn of
 * ice_cat_commit_retry: on a conflict it is called again on the newer table
 * and rebuilds on top of it (the added files stay; the manifest list and
 * metadata are written anew).
 *
 * ice_commit_create_table() writes the first metadata of a new table (no
 * snapshot) and creates it through the catalog.
 *
 * ice_posdel_*: a position-delete file (spec "Position Delete Files"):
 * Parquet with file_path (string, field id 2147483546) and pos (long, field
 * id 2147483545), rows sorted by file_path then pos, and the ice_datafile
 * (content 1, bounds, record count, size) that the commit adds.
 *
 * Equality deletes are never written: pyiceberg does not apply them.
 *
 * @locality one thread at a time per ice_commit (the sink's worker).
 */
#ifndef CDC_SINKS_ICEBERG_ICE_COMMIT_H
#define CDC_SINKS_ICEBERG_ICE_COMMIT_H

#include <stdbool.h>
#include <stdint.h>

#include "agent/core/cdc_err.h"
#include "sinks/iceberg/catalog/ice_catalog.h"
#include "sinks/iceberg/ice_manifest.h"
#include "sinks/iceberg/ice_meta.h"
#include "sinks/iceberg/store/store.h"

#define ICE_FIELD_ID_DELETE_FILE_PATH 2147483546
#define ICE_FIELD_ID_DELETE_POS       2147483545

typedef struct ice_commit ice_commit;

/*
 * A commit to table `id` of catalog `cat` writing to store `st`; the catalog's
 * kind (cat->ops->kind, "sql" or "rest") decides what the change carries.
 */
ice_commit *ice_commit_new(ice_cat *cat, ice_store *st, const ice_cat_ident *id, cdc_err *err);
void        ice_commit_free(ice_commit *c);   /* NULL is a no-op; the written files stay */

/* A file this commit adds, already written and durable in the warehouse (content
   ICE_CONTENT_DATA or ICE_CONTENT_POS_DELETES); copied, strings included.  A file with a
   partition tuple makes the first such call load the table once (for the tuple's length:
   the default spec's field count); f->partition NULL means unpartitioned. */
int ice_commit_add_file(ice_commit *c, const ice_datafile *f, cdc_err *err);

/* The table's schema becomes s (its fields keep their ids; new fields have new ids above
   the table's last-column-id): add-schema and set-current-schema in this commit. */
int ice_commit_set_schema(ice_commit *c, const ice_schema *s, cdc_err *err);

/*
 * Removing files (a rewrite, "replace"): the live data or position-delete file `path` (a URI
 * as the table's manifest names it) leaves the table in this commit.  Each build rewrites the
 * manifests that hold removed files (their other entries EXISTING, the removed ones DELETED)
 * and fails, CDC_E_STATE (not retriable: plan again on the table as it is now), when a
 * removed file is no longer live in the loaded table (a concurrent commit removed it).  A
 * commit that removes files is summarized as operation "replace".
 */
int ice_commit_remove_file(ice_commit *c, const char *path, cdc_err *err);

/*
 * The snapshot the caller planned its removals on.  A build on a newer table fails,
 * CDC_E_STATE, when a position-delete file committed since base_snapshot_id (a larger
 * sequence number) may apply to a removed data file (it names it as referenced_data_file,
 * or its file_path bounds include it, or it has no bounds): those deleted rows would come
 * back.  Concurrent appends and deletes against other files rebuild as usual.  Without a
 * base (or -1) nothing is checked.
 */
void ice_commit_set_base(ice_commit *c, int64_t base_snapshot_id);

/* A pair for the snapshot summary (e.g. "cdc.position"); copied. */
int ice_commit_summary(ice_commit *c, const char *key, const char *value, cdc_err *err);

/*
 * Loads, builds, commits, and on a conflict reloads and rebuilds, up to max_attempts.
 * @returns ICE_CAT_OK (and *committed, when not NULL, receives the new metadata parsed,
 *          caller frees with ice_meta_free), ICE_CAT_CONFLICT / ICE_CAT_NOT_FOUND, or -1
 *          with err (cdc_rc_retriable(err->code) says whether waiting may help).  After a
 *          retriable failure the commit may have taken effect: call again; it loads the
 *          table first and returns ICE_CAT_OK without committing twice when its snapshot is
 *          already the table's current one.
 */
int ice_commit_run(ice_commit *c, int max_attempts, ice_meta **committed, cdc_err *err);

/*
 * Creates table id at `location` (a warehouse URI, no trailing '/') with schema s (its
 * identifier fields set for upsert tables), partition spec sp and properties (key/value
 * pairs, may be NULL/0): writes <location>/metadata/00000-<uuid>.metadata.json and calls
 * the catalog.  @returns ICE_CAT_OK with *created (may be NULL) the table's metadata,
 * ICE_CAT_EXISTS when someone else has it (load and compare), or -1 with err.
 */
int ice_commit_create_table(ice_cat *cat, ice_store *st, const ice_cat_ident *id,
                            const char *location, const ice_schema *s, const ice_spec *sp,
                            const ice_kv *props, int nprops, ice_meta **created, cdc_err *err);

/* Reads the table's current metadata through the catalog (REST hands it over; SQL names a
   file in the warehouse).  ICE_CAT_OK with *out, or ICE_CAT_NOT_FOUND, or -1. */
int ice_commit_load(ice_cat *cat, ice_store *st, const ice_cat_ident *id, ice_meta **out,
                    char **metadata_location, cdc_err *err);

/*
 * Rollback: the table's main branch becomes snapshot_id (one of its snapshots), once, no retry,
 * only while its current snapshot is still expected_current (-1: none).  SQL catalog: a new
 * metadata file with current-snapshot-id and refs.main changed, a snapshot-log entry and the
 * old file in the metadata-log, then the compare-and-swap; REST: set-snapshot-ref main with
 * assert-table-uuid and assert-ref-snapshot-id main = expected_current.  No snapshot or file
 * is removed.  @returns ICE_CAT_OK (*committed, when not NULL, the new metadata),
 * ICE_CAT_CONFLICT when the table moved (err names both snapshots), ICE_CAT_NOT_FOUND, or -1
 * with err (an unknown snapshot id: CDC_E_INVAL naming it).
 */
int ice_commit_set_main(ice_cat *cat, ice_store *st, const ice_cat_ident *id, int64_t snapshot_id,
                        int64_t expected_current, ice_meta **committed, cdc_err *err);

typedef struct ice_posdel ice_posdel;

ice_posdel *ice_posdel_new(void);
void        ice_posdel_free(ice_posdel *p);  /* NULL is a no-op */

/* One deleted row: data file `path` (a full URI, copied) at row position pos. */
int ice_posdel_add(ice_posdel *p, const char *path, int64_t pos, cdc_err *err);
int64_t ice_posdel_count(const ice_posdel *p);

/*
 * Where a deleted row is now (after a rewrite moved rows): 1 with *npath (borrowed: copied by
 * the caller) and *npos set, 0 when it did not move, -1 when the row is gone (the delete is
 * dropped).
 */
typedef int ice_posdel_remap_fn(void *arg, const char *path, int64_t pos, const char **npath,
                                int64_t *npos);
/* Rewrites every row through fn.  @returns the number of rows dropped; *moved (may be NULL)
   gets the number re-pointed. */
int64_t ice_posdel_remap(ice_posdel *p, ice_posdel_remap_fn *fn, void *arg, int64_t *moved);

/*
 * Writes the rows, sorted, as a Parquet file at `uri` (durable when this returns) and fills
 * *out (content ICE_CONTENT_POS_DELETES, path, record_count, file_size, bounds of both
 * columns; referenced_data_file when every row names one data file).  *out's strings are
 * owned by p until ice_posdel_free.  out->partition is left NULL: in a partitioned table a
 * delete file applies to the data files of its own partition only (Java, Spark), so write one
 * file per partition and set out->partition to that tuple before ice_commit_add_file.
 */
int ice_posdel_write(ice_posdel *p, ice_store *st, const char *uri, ice_datafile *out,
                     cdc_err *err);

#endif

/*
 * One Iceberg commit's state, shared by its files: ice_commit.c (the commit
 * object, what it adds and removes, the build the catalog calls and the run
 * with its retries), ice_commit_manifests.c (the schema check, our manifests,
 * the parent's manifests with removals applied, merging) and
 * ice_commit_table.c (loading, creating, moving the main branch).  Calls go
 * one way: ice_commit.c -> ice_commit_table.c -> ice_commit_manifests.c.
 * Not for use outside sinks/iceberg/ice_commit*.c.
 */
#ifndef CDC_SINKS_ICEBERG_ICE_COMMIT_INT_H
#define CDC_SINKS_ICEBERG_ICE_COMMIT_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "agent/core/cdc_err.h"
#include "sinks/iceberg/catalog/ice_catalog.h"
#include "sinks/iceberg/ice_commit.h"
#include "sinks/iceberg/ice_manifest.h"
#include "sinks/iceberg/ice_meta.h"
#include "sinks/iceberg/store/store.h"

/* One added file, deep-copied. */
typedef struct added {
    ice_datafile f;
    int          npart;     /* -1: the caller gave no partition tuple */
} added;

struct ice_commit {
    ice_cat      *cat;
    ice_store    *st;
    char         *ns, *name;
    ice_cat_ident id;
    int64_t       snapshot_id;   /* chosen once: a rebuild and a retried run keep it */
    added        *files;
    int           nfiles;
    ice_schema   *schema;        /* ice_commit_set_schema, or NULL */
    ice_kv       *sum;
    int           nsum;
    /* written at the first build */
    bool               manifests_done;
    ice_manifest_file *mfs;
    int                nmfs;
    int32_t            mf_spec_id;
    int32_t            known_nparts;    /* the default spec's field count, -1 until loaded */
    /* the strings of the change handed to the catalog (valid until the next build) */
    char         *list_uri;
    char         *new_location;
    char         *new_json;
    char         *req_json, *upd_json;
    ice_meta     *built;         /* the metadata of the last build */
    bool              *mf_merged; /* per c->mfs: merged into another by the last build */
    ice_manifest_file *merged;   /* manifests this attempt wrote by merging (see merge) */
    int           nmerged;
    bool          already;       /* the build found our snapshot in the table */
    /* removals (a rewrite): paths, and what the last build found of them */
    char        **removed;
    int           nremoved;
    int64_t       base_id;       /* ice_commit_set_base, -1: none */
    ice_summary_delta rm;        /* the last build's removed counts */
    int           builds;        /* builds in this run: a second one follows a conflict */
};

/* ice_commit_table.c */
int       ice_commit_is_rest(const ice_cat *cat);
ice_meta *ice_commit_meta_of(ice_store *st, const ice_cat_table *t, cdc_err *err);
int       ice_commit_put_text(ice_store *st, const char *uri, const char *text, cdc_err *err);

/* ice_commit_manifests.c */
bool              ice_commit_table_has_snapshot(const ice_meta *m, int64_t id);
const ice_schema *ice_commit_find_equal_schema(const ice_meta *m, const ice_schema *s);
int     ice_commit_check_schema_ids(const ice_commit *c, const ice_meta *m, const ice_schema *s,
                                    cdc_err *err);
int64_t ice_commit_changed_partitions(const ice_commit *c);
int     ice_commit_write_manifests(ice_commit *c, const ice_meta *m, const ice_schema *s,
                                   cdc_err *err);
int     ice_commit_parent_manifests(ice_commit *c, const ice_meta *m, ice_manifest_file **out,
                                    int *nout, cdc_err *err);
int     ice_commit_apply_removals(ice_commit *c, const ice_meta *m, const ice_schema *s,
                                  ice_manifest_file *pm, int npm, ice_manifest_file **view,
                                  cdc_err *err);
int     ice_commit_merge_manifests(ice_commit *c, const ice_meta *m, const ice_schema *s,
                                   ice_manifest_file *pm, int npm, ice_manifest_file **out,
                                   int *nout, cdc_err *err);

#endif

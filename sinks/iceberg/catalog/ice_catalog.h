/*
 * The Iceberg catalog as the sink sees it: one ops table, two implementations
 * (the SQL catalog of pyiceberg's SqlCatalog in ice_sql.c, prefix ice_sql_; the
 * REST catalog in ice_rest*.c, prefix ice_rest_).  A catalog maps a table
 * identifier (namespace + name) to the location of the table's current
 * metadata file; a commit moves that pointer by compare-and-swap, so a
 * concurrent writer makes the commit fail (ICE_CAT_CONFLICT) and the caller
 * reloads, rebuilds on top of what the other writer committed and tries again
 * (ice_cat_commit_retry does the loop): never an overwrite.
 *
 * The two models differ in what a commit carries: the SQL catalog swaps
 * metadata LOCATIONS (the caller has written the new metadata file, durable,
 * before the commit); the REST catalog sends table UPDATES with REQUIREMENTS
 * and the server writes the file.  The sink fills every field of
 * ice_cat_change / ice_cat_new_table; each implementation uses what its model
 * needs (see the fields).  Nothing here reads or writes the warehouse.
 *
 * Return values of the operations: ICE_CAT_OK (0), one of the outcomes below
 * (> 0, err also set with a message for the log), or -1 with err set (its
 * code says whether to retry: CDC_E_CONN / CDC_E_TIMEOUT when the catalog is
 * down or slow, cdc_rc_retriable()).  Messages name the catalog (ice_cat.what,
 * never a password) and the table.
 */
#ifndef CDC_SINKS_ICEBERG_CATALOG_ICE_CATALOG_H
#define CDC_SINKS_ICEBERG_CATALOG_ICE_CATALOG_H

#include <stdbool.h>

#include "agent/core/cdc_err.h"

enum {
    ICE_CAT_OK        = 0,
    ICE_CAT_NOT_FOUND = 1,  /* load, drop: no such table (err: "... does not exist") */
    ICE_CAT_EXISTS    = 2,  /* create: the table is already there (someone else created it:
                               load it and check its schema) */
    ICE_CAT_CONFLICT  = 3,  /* commit: the table's current metadata is no longer the base the
                               commit was built on (err: "... concurrent commit ...") */
};

/* A table: namespace levels joined with '.' ("db" or "a.b", as pyiceberg's
   namespace_to_string), and the table name.  Neither may be empty. */
typedef struct ice_cat_ident {
    const char *ns;
    const char *name;
} ice_cat_ident;

/* What load, create and commit return about a table; free with ice_cat_table_free. */
typedef struct ice_cat_table {
    char *metadata_location;  /* the current metadata file (file:///..., s3://...) */
    char *metadata_json;      /* the metadata document when the catalog hands it over (REST's
                                 LoadTableResult "metadata"); NULL from the SQL catalog: read
                                 metadata_location from the warehouse */
} ice_cat_table;

/* A table to create. */
typedef struct ice_cat_new_table {
    const char *metadata_location;  /* SQL: the first metadata file, already written and durable
                                       (<location>/metadata/00000-<uuid>.metadata.json) */
    const char *metadata_json;      /* that document: REST builds its CreateTableRequest from it
                                       (location, schema, partition spec, sort order,
                                       properties) */
} ice_cat_new_table;

/* One commit, built on the table as a load returned it (base_location). */
typedef struct ice_cat_change {
    const char *base_location;      /* SQL: the WHERE of the swap; the metadata location the
                                       commit was built on */
    const char *new_location;       /* SQL: the new metadata file, already written and durable */
    const char *new_metadata_json;  /* the new document in full (for checks and logs) */
    const char *requirements_json;  /* REST: JSON array of requirements (assert-table-uuid,
                                       assert-ref-snapshot-id, ...); may be NULL for SQL */
    const char *updates_json;       /* REST: JSON array of updates (add-snapshot,
                                       set-snapshot-ref, add-schema, ...); may be NULL for SQL */
} ice_cat_change;

typedef struct ice_cat ice_cat;

/* list: called once per table name in the namespace; a non-zero return stops the listing
   and becomes list's return. */
typedef int (*ice_cat_name_cb)(void *ud, const char *name);

typedef struct ice_cat_ops {
    const char *kind;  /* "sql", "rest": for messages */
    /* The table's current metadata.  ICE_CAT_OK with *out filled, or ICE_CAT_NOT_FOUND. */
    int (*load)(ice_cat *c, const ice_cat_ident *id, ice_cat_table *out, cdc_err *err);
    /* Creates the table (its namespace too when missing).  ICE_CAT_OK with *out filled
       (REST: the server's metadata location may differ from nt->metadata_location; the SQL
       catalog points at nt->metadata_location), or ICE_CAT_EXISTS (nothing changed). */
    int (*create)(ice_cat *c, const ice_cat_ident *id, const ice_cat_new_table *nt,
                  ice_cat_table *out, cdc_err *err);
    /* Compare-and-swap: ICE_CAT_OK with *out the committed metadata (out may be NULL),
       ICE_CAT_CONFLICT (nothing changed: reload and rebuild), or ICE_CAT_NOT_FOUND (the
       table was dropped meanwhile). */
    int (*commit)(ice_cat *c, const ice_cat_ident *id, const ice_cat_change *cm,
                  ice_cat_table *out, cdc_err *err);
    /* The tables of a namespace (ICE_CAT_OK also when there are none), for tests and tools. */
    int (*list)(ice_cat *c, const char *ns, ice_cat_name_cb cb, void *ud, cdc_err *err);
    /* Forgets a table (its files stay), for tests and tools.  ICE_CAT_OK or NOT_FOUND. */
    int (*drop)(ice_cat *c, const ice_cat_ident *id, cdc_err *err);
    /* Closes connections and frees c. */
    void (*close)(ice_cat *c);
} ice_cat_ops;

/* The head of every implementation's handle (its first member). */
struct ice_cat {
    const ice_cat_ops *ops;
    char               what[256];  /* "SQL catalog default at sqlite:////tmp/c.db",
                                      "REST catalog at https://host/" : no secrets */
};

/* The calls, through c->ops (they check for NULL arguments: -1, CDC_E_INVAL). */
int  ice_cat_load(ice_cat *c, const ice_cat_ident *id, ice_cat_table *out, cdc_err *err);
int  ice_cat_create(ice_cat *c, const ice_cat_ident *id, const ice_cat_new_table *nt,
                    ice_cat_table *out, cdc_err *err);
int  ice_cat_commit(ice_cat *c, const ice_cat_ident *id, const ice_cat_change *cm,
                    ice_cat_table *out, cdc_err *err);
int  ice_cat_list(ice_cat *c, const char *ns, ice_cat_name_cb cb, void *ud, cdc_err *err);
int  ice_cat_drop(ice_cat *c, const ice_cat_ident *id, cdc_err *err);
void ice_cat_close(ice_cat *c);  /* NULL is fine */

void ice_cat_table_free(ice_cat_table *t);  /* frees the strings, zeroes t; NULL is fine */

/*
 * Builds a commit on top of `current` (the table as just loaded): writes the new metadata
 * file for the SQL catalog and fills *cm, whose strings must stay valid until the next call
 * or until ice_cat_commit_retry returns.  @returns 0, or -1 with err set (stops the loop).
 */
typedef int (*ice_cat_build_fn)(void *ud, const ice_cat_table *current, ice_cat_change *cm,
                                cdc_err *err);

/*
 * The reload-and-retry loop: load, build, commit; on ICE_CAT_CONFLICT load again and
 * rebuild, up to max_attempts (<= 0: 10) commits.  Errors other than a conflict are not
 * retried here (the sink's own retry waits by cdc_retry).
 * @returns ICE_CAT_OK with *out (may be NULL) the committed table; ICE_CAT_CONFLICT when
 *          every attempt lost a race (err says how many); ICE_CAT_NOT_FOUND; or -1.
 */
int ice_cat_commit_retry(ice_cat *c, const ice_cat_ident *id, int max_attempts,
                         ice_cat_build_fn build, void *ud, ice_cat_table *out, cdc_err *err);

#endif

/*
 * The SQL catalog: exactly the layout pyiceberg's SqlCatalog (0.12) reads and
 * writes, on SQLite or PostgreSQL, so that pyiceberg and the agent share one
 * catalog.  Two tables (created when missing, as pyiceberg's
 * init_catalog_tables does, with the same columns):
 *
 *   iceberg_tables(catalog_name, table_namespace, table_name     VARCHAR(255) NOT NULL, PK,
 *                  metadata_location, previous_metadata_location VARCHAR(1000),
 *                  iceberg_type VARCHAR(5))         -- 'TABLE'; absent in a "v0" catalog
 *   iceberg_namespace_properties(catalog_name, namespace, property_key VARCHAR(255) NOT NULL,
 *                  PK, property_value VARCHAR(1000) NOT NULL)
 *
 * A commit is one UPDATE ... SET metadata_location = new, previous_metadata_location = base
 * WHERE catalog_name, table_namespace, table_name match AND metadata_location = base, as
 * pyiceberg's commit_table: no row changed means another writer committed first
 * (ICE_CAT_CONFLICT).  A namespace is created as pyiceberg's create_namespace does: the
 * property row ('exists', 'true').  See docs/iceberg-catalogs.md.
 */
#ifndef CDC_SINKS_ICEBERG_CATALOG_ICE_SQL_H
#define CDC_SINKS_ICEBERG_CATALOG_ICE_SQL_H

#include <stdbool.h>
#include <stddef.h>

#include "agent/core/cdc_err.h"
#include "sinks/iceberg/catalog/ice_catalog.h"

typedef struct ice_sql_conf {
    const char *uri;            /* the platform's catalog_uri, SQLAlchemy's forms:
                                   sqlite:////abs/path.db, sqlite:///relative.db,
                                   sqlite:///:memory: (tests), postgresql://user:pass@host:port/db
                                   (also postgres://, postgresql+psycopg2://, libpq's ?params) */
    const char *catalog_name;   /* the catalog_name column (pyiceberg's catalog name);
                                   NULL or "": "default" */
    bool        no_create;      /* the two tables missing is an error instead of creating them */
    int         busy_timeout_ms;/* SQLite: how long to wait for another writer's lock;
                                   <= 0: 5000 */
} ice_sql_conf;

typedef enum ice_sql_backend {
    ICE_SQL_SQLITE = 1,
    ICE_SQL_POSTGRES = 2,
} ice_sql_backend;

/*
 * Splits a catalog_uri.  *target (malloc'ed) is the SQLite file name (":memory:" for an
 * in-memory database) or a libpq URI (the SQLAlchemy driver suffix "+psycopg2" removed).
 * redacted (may be NULL) gets the URI without its password, for messages.
 * @returns 0, or -1 with err (CDC_E_CONFIG) naming the URI (without password) and the fault.
 */
int ice_sql_parse_uri(const char *uri, ice_sql_backend *backend, char **target,
                      char *redacted, size_t redsz, cdc_err *err);

/*
 * Opens the catalog: connects, checks the two tables (creates them when missing unless
 * no_create) and whether iceberg_tables has pyiceberg's iceberg_type column.
 * @returns 0 with *out (close with ice_cat_close), or -1 with err: CDC_E_CONFIG for a bad
 * URI, CDC_E_CONN when the database cannot be reached, CDC_E_STATE when the tables are
 * missing (no_create) or are not the SQL catalog's layout.
 */
int ice_sql_open(const ice_sql_conf *conf, ice_cat **out, cdc_err *err);

#endif

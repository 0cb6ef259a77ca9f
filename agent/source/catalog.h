/*
 * What pgoutput's Relation message does not say, read from the source's
 * catalog: the message key (primary key, else the first unique index
 * without expressions, as Debezium picks it), NOT NULL, column defaults,
 * domain base types, array element types and enum labels.  Runs on the
 * plain (non-replication) connection.
 *
 * The catalog is read when the Relation message arrives, so it describes the
 * table as it is now, not as it was when the change was written; Debezium
 * has the same window.  A table dropped since is described from pgoutput
 * alone (catalog_known stays false) and keyed by its replica identity.
 */
#ifndef CDC_AGENT_SOURCE_CATALOG_H
#define CDC_AGENT_SOURCE_CATALOG_H

#include <libpq-fe.h>
#include <stdint.h>

#include "agent/core/cdc_err.h"
#include "agent/core/cdc_rel.h"
#include "decoder/relcache.h"

/* Fills the catalog fields of rel's columns and its key; memory from the relcache entry. */
int agent_catalog_enrich(PGconn *conn, cdc_rel *rel, cdc_err *err);

/*
 * Describes schema.table as pgoutput would (published columns in attnum
 * order, replica identity flags) and installs it in rc, for the snapshot,
 * which reads tables before any Relation message has arrived.
 * @returns the installed entry, or NULL with err set (table missing: CDC_E_CONFIG).
 */
cdc_rel *agent_catalog_install(PGconn *conn, pgo_relcache *rc, const char *schema,
                               const char *table, cdc_err *err);

#endif

/*
 * Tables by pattern, as Debezium 2.7 chooses them (RelationalTableFilters,
 * Selectors.TableSelectionPredicateBuilder):
 *
 *   source.table_include_list / table_exclude_list   (table.include.list / table.exclude.list)
 *   source.schema_include_list / schema_exclude_list (schema.include.list / schema.exclude.list)
 *
 * Comma-separated regexes, each matched whole and case-insensitively: the
 * table lists against "schema.table", the schema lists against the schema
 * name.  A table is captured when it passes the schema list and the table
 * list that are set (Debezium's schemaFilter.and(tableFilter)); PostgreSQL's
 * own schemas (pg_catalog, information_schema, pg_toast, pg_temp_N ...) and
 * PostGIS's spatial_ref_sys never (Debezium's SystemTablesPredicate).
 * An include list and the exclude list of the same kind, or a pattern beside
 * source.tables, is refused by the configuration.
 *
 * The patterns are resolved against the catalog at start into source.tables
 * (the publication's table list, as publication.autocreate.mode=filtered
 * makes it), and again while streaming (agent_tablepat_new_tables()).
 */
#ifndef CDC_AGENT_SOURCE_TABLEPAT_H
#define CDC_AGENT_SOURCE_TABLEPAT_H

#include <libpq-fe.h>
#include <stdbool.h>

#include "agent/config/config.h"
#include "agent/core/cdc_err.h"

/* Checks the regexes' syntax (for `cdcagent validate` and every command); 0 or -1 with err
   naming the key and the regex. */
int agent_tablepat_check(const cfg_source *src, cdc_err *err);

/* Whether schema.table passes the patterns (src's lists must be valid). */
bool agent_tablepat_matches(const cfg_source *src, const char *schema, const char *table);

/*
 * With patterns set: reads the catalog's tables (relkind r and p; a partition only when
 * its partition root does not match: the root captures its rows; before PostgreSQL 13,
 * which cannot publish a partitioned table, the partitions of a matching root and the
 * matching partitions instead of any partitioned table) and sets src->tables to
 * those that match, sorted by schema and name.  A regex of an include list that matches
 * no table, or no table at all, is CDC_E_CONFIG naming the key; so is a source.row_filters
 * key that is not one of the tables.  Nothing to do without patterns.
 */
int agent_tablepat_resolve(PGconn *conn, cfg_source *src, cdc_err *err);

/*
 * The same catalog read after start: appends to src->tables the matching tables it does
 * not list yet and returns how many (0 when none, -1 with err).
 */
int agent_tablepat_new_tables(PGconn *conn, cfg_source *src, cdc_err *err);

/* "schema.table" as source.tables spells it (quoted when a part holds '.' or '"'). */
char *agent_tablepat_spell(const char *schema, const char *table);

#endif

/*
 * The publication that tells pgoutput which tables to send.  cdcagent
 * creates it (FOR TABLE the configured tables) when it is missing and the
 * role may (marked by a comment: at each start, the tables no longer
 * configured are dropped from such a one), and never adds to one it did
 * not create (tables by pattern aside): a publication that lacks a
 * configured table is reported with the statement that would fix it, and so
 * is a missing publication the role may not create (the least-privilege
 * setup, where the tables' owner creates it beforehand).
 *
 * It must exist before the slot's first decoded change: pgoutput looks the
 * publication up in the catalog as of each change's WAL position, so a slot
 * created before its publication fails with "publication does not exist".
 */
#ifndef CDC_AGENT_SOURCE_PUBLICATION_H
#define CDC_AGENT_SOURCE_PUBLICATION_H

#include <libpq-fe.h>

#include "agent/config/config.h"
#include "agent/core/cdc_err.h"

/**
 * Before any slot is created: checks that every configured table exists and
 * that the connected role may read it (USAGE on the schema, SELECT on the
 * table; only warned about with snapshot_mode never), then makes sure the
 * publication exists and publishes every configured table.
 * @param conn  borrowed: an ordinary (non-replication) connection.
 * @returns 0, or -1 with err set: CDC_E_CONFIG names the table or the
 *          publication and the SQL statement that fixes it.
 * @thread main loop.
 */
int agent_ensure_publication(PGconn *conn, const cfg_source *src, cdc_err *err);

/**
 * Tables chosen by pattern (publication.autocreate.mode=filtered), or
 * configured tables missing from a publication the agent created: adds
 * src->tables[from..to) to the publication, with their column lists and
 * row filters, as ALTER PUBLICATION ... ADD TABLE.  Changes committed after
 * this statement (in WAL order) are published.
 * The statement waits at most 2 s for the tables' locks.
 * @returns 0, or -1 with err set naming the publication and the statement
 *          (CDC_E_TIMEOUT when a lock was not granted in time).
 */
int agent_publication_add_tables(PGconn *conn, const cfg_source *src, int from, int to,
                                 cdc_err *err);

/**
 * `validate --connect`: what agent_ensure_publication() would refuse, changing
 * nothing.  Checks the configured tables (exist, readable) and the row
 * filters: against an existing publication as at start, otherwise by
 * creating the publication run would create in a transaction that is rolled
 * back (PostgreSQL's own refusals: mutable functions, unknown columns; then a
 * column outside the replica identity).
 * @returns 0, or -1 with err set (CDC_E_CONFIG names the key and the table).
 */
int agent_publication_check(PGconn *conn, const cfg_source *src, cdc_err *err);

#endif

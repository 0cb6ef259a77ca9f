/*
 * Connections to the source database: a replication connection
 * (replication=database) for the walsender protocol and a plain one for the
 * catalog and the snapshot.  Both force the session settings under which
 * the decoder understands PostgreSQL's text output (DateStyle ISO,
 * IntervalStyle postgres, extra_float_digits 3, TimeZone UTC, bytea_output
 * hex): cfg_source_conn_params() builds them, agent/core/net/pgconn.h
 * connects.  Error messages name host, port and database, never the password.
 */
#ifndef CDC_AGENT_SOURCE_PG_SOURCE_H
#define CDC_AGENT_SOURCE_PG_SOURCE_H

#include <libpq-fe.h>
#include <stdbool.h>

#include "agent/config/config.h"
#include "agent/core/cdc_err.h"
#include "agent/core/net/pgconn.h"

/*
 * The server's WAL position in SQL: pg_current_wal_lsn() on a primary, what
 * a standby has replayed there (pg_current_wal_lsn() fails in recovery), so
 * that the same queries work for capture from a standby (docs/ha.md).
 */
#define AGENT_PG_WAL_LSN_SQL \
    "(CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END)"

/* The oldest server the agent supports (PQserverVersion form): 12. */
#define AGENT_PG_MIN_VERSION 120000

/*
 * @returns a new connection the caller PQfinish()es, or NULL with err set
 * (CDC_E_CONN; CDC_E_UNSUPPORTED for a server older than AGENT_PG_MIN_VERSION,
 * whose version, host, port and database the message names).
 */
PGconn *agent_pg_connect(const cfg_source *src, bool replication, cdc_err *err);

/* The same without the version check: for a database that is not a source (verify's target). */
PGconn *agent_pg_connect_any(const cfg_source *src, bool replication, cdc_err *err);

/* Splits a source.tables entry into its parts (each at most 63 bytes + NUL): cfg_table_split. */
int agent_pg_split_table(const char *qualified, char *schema, char *table, cdc_err *err);

#endif

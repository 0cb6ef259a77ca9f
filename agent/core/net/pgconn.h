/*
 * Connections to the source database: a replication connection
 * (replication=database) for the walsender protocol and a plain one for the
 * catalog and the snapshot.  Both force the session settings under which
 * the decoder understands PostgreSQL's text output (DateStyle ISO,
 * IntervalStyle postgres, extra_float_digits 3, TimeZone UTC, bytea_output
 * hex).  Error messages name host, port and database, never the password.
 */
#ifndef CDC_AGENT_PGCONN_H
#define CDC_AGENT_PGCONN_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "agent/config/config.h"
#include "agent/core/cdc_err.h"

/* @returns a new connection the caller PQfinish()es, or NULL with err set (CDC_E_CONN). */
PGconn *agent_pg_connect(const cfg_source *src, bool replication, cdc_err *err);

/*
 * Runs one command that returns no rows or that the caller does not need.
 * @returns 0, or -1 with err set naming `what`.
 */
int agent_pg_exec(PGconn *conn, const char *sql, const char *what, cdc_err *err);

/*
 * Runs a query with text parameters and expects tuples.
 * @returns a result the caller PQclear()s, or NULL with err set naming `what`.
 */
PGresult *agent_pg_query(PGconn *conn, const char *sql, int nparams, const char *const *params,
                         const char *what, cdc_err *err);

/* Quotes an identifier ("public" -> "\"public\"") into out; returns out. */
char *agent_pg_quote_ident(PGconn *conn, const char *ident, char *out, size_t outsz);

/* Splits a source.tables entry into its parts (each at most 63 bytes + NUL): cfg_table_split. */
int agent_pg_split_table(const char *qualified, char *schema, char *table, cdc_err *err);

#endif

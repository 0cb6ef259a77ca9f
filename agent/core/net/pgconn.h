/*
 * PostgreSQL for everyone: connecting from plain libpq keyword/value pairs,
 * running a command or a query with a message that names what failed, and
 * quoting identifiers.  Knows nothing of the configuration: the source's
 * connection (agent_pg_connect, with the session settings the decoder needs)
 * is built from it in agent/source/pg_source.h.  Error messages name host,
 * port, database and user, never the password.
 */
#ifndef CDC_AGENT_CORE_NET_PGCONN_H
#define CDC_AGENT_CORE_NET_PGCONN_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/core/cdc_err.h"

/* Whom a connection is for, for messages only (no password here). */
typedef struct cdc_pg_target {
    const char *host;
    int         port;           /* 0: host lists host:port pairs */
    const char *database;
    const char *username;
    bool        replication;    /* adds " (replication)" to messages */
} cdc_pg_target;

/*
 * Connects with libpq's keyword/value pairs (NULL-terminated arrays, as
 * PQconnectdbParams) and asks for UTF8 text unless the database is
 * SQL_ASCII (see pgconn.c).
 * @returns a new connection the caller PQfinish()es, or NULL with err set
 *          (CDC_E_CONN; CDC_E_PG when the encoding cannot be set).
 */
PGconn *cdc_pg_connect(const char *const *keys, const char *const *vals,
                       const cdc_pg_target *who, cdc_err *err);

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

/*
 * The one identifier quoter: ident in double quotes with every '"' doubled
 * (My "T".x -> "My ""T"".x"), case and dots kept, as PostgreSQL's
 * quote_ident always quoting.  Cut to fit outsz (2 * strlen + 3 always fits).
 * conn is not needed (and may be NULL); it stays for the callers' sake.
 * @returns out.
 */
char *agent_pg_quote_ident(PGconn *conn, const char *ident, char *out, size_t outsz);

/*
 * "schema"."table", each part quoted as agent_pg_quote_ident; "table" alone
 * when schema is NULL or "".  The parts are already split (a configured name
 * goes through cfg_table_split / agent_pg_split_table first).  Cut to fit
 * outsz (2 * (strlen(schema) + strlen(table)) + 6 always fits).  @returns out.
 */
char *agent_pg_quote_table(const char *schema, const char *table, char *out, size_t outsz);

#endif

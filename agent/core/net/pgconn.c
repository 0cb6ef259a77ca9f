#include "agent/core/net/pgconn.h"

#include <stdio.h>
#include <string.h>

#include "agent/core/cdc_log.h"

/* libpq's messages span lines ("...failed: Connection refused\n\tIs the server..."): one line. */
static void
trim_newline(char *s)
{
    size_t n = strlen(s);

    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = '\0';
    for (char *p = s; *p; p++)
        if (*p == '\n' || *p == '\r' || *p == '\t')
            *p = ' ';
}

PGconn *
cdc_pg_connect(const char *const *keys, const char *const *vals, const cdc_pg_target *who,
               cdc_err *err)
{
    PGconn     *conn;
    const char *enc, *cenc;
    char        msg[200];

    conn = PQconnectdbParams(keys, vals, 0);
    if (conn == NULL) {
        cdc_err_set(err, CDC_E_NOMEM, "connecting to PostgreSQL: out of memory");
        return NULL;
    }
    if (PQstatus(conn) != CONNECTION_OK) {
        snprintf(msg, sizeof(msg), "%s", PQerrorMessage(conn));
        trim_newline(msg);
        char at[300];

        /* port 0: host is a list of host:port (agent/source/pg_source.c) */
        if (who->port > 0)
            snprintf(at, sizeof(at), "%s:%d", who->host, who->port);
        else
            snprintf(at, sizeof(at), "%s", who->host);
        cdc_err_set(err, CDC_E_CONN, "cannot connect to PostgreSQL at %s database %s as %s%s: %s",
                    at, who->database, who->username,
                    who->replication ? " (replication)" : "", msg);
        PQfinish(conn);
        return NULL;
    }
    /*
     * Text must reach the decoder as UTF-8: whatever the client encoding is (the database's
     * by default, or PGCLIENTENCODING from the agent's environment), UTF8 is asked for, on
     * the replication connection too (pgoutput converts what it sends to the client
     * encoding).  Not for a SQL_ASCII database: its bytes have no known encoding and the
     * server would refuse those that are not UTF-8, so they come as stored and the decoder
     * checks them (decoder/values_utf8.c).
     */
    enc = PQparameterStatus(conn, "server_encoding");
    cenc = PQparameterStatus(conn, "client_encoding");
    if (enc != NULL && strcmp(enc, "SQL_ASCII") != 0 &&
        (cenc == NULL || strcmp(cenc, "UTF8") != 0) && PQsetClientEncoding(conn, "UTF8") != 0) {
        snprintf(msg, sizeof(msg), "%s", PQerrorMessage(conn));
        trim_newline(msg);
        cdc_err_set(err, CDC_E_PG, "database %s at %s:%s is encoded in %s and could not be "
                    "read as UTF8: %s", who->database, PQhost(conn), PQport(conn), enc, msg);
        PQfinish(conn);
        return NULL;
    }
    return conn;
}

static int
result_error(PGconn *conn, PGresult *res, const char *what, cdc_err *err)
{
    char        msg[200];
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

    snprintf(msg, sizeof(msg), "%s", res ? PQresultErrorMessage(res) : PQerrorMessage(conn));
    trim_newline(msg);
    return cdc_err_set(err, PQstatus(conn) == CONNECTION_BAD ? CDC_E_CONN : CDC_E_PG,
                       "%s: %s%s%s%s", what, msg, state ? " (SQLSTATE " : "", state ? state : "",
                       state ? ")" : "");
}

int
agent_pg_exec(PGconn *conn, const char *sql, const char *what, cdc_err *err)
{
    PGresult *res = PQexec(conn, sql);
    int       rc = 0;

    if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
        rc = result_error(conn, res, what, err);
    PQclear(res);
    return rc;
}

PGresult *
agent_pg_query(PGconn *conn, const char *sql, int nparams, const char *const *params,
               const char *what, cdc_err *err)
{
    PGresult *res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);

    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        result_error(conn, res, what, err);
        PQclear(res);
        return NULL;
    }
    return res;
}

/*
 * Appends "ident" (quotes doubled) at out[*at].  When it does not fit, the
 * name is cut, never a doubled quote, and the closing quote always stays.
 */
static void
quote_into(const char *ident, char *out, size_t outsz, size_t *at)
{
    size_t n = *at;

    if (n + 3 > outsz) {        /* not even "" fits */
        out[n < outsz ? n : outsz - 1] = '\0';
        return;
    }
    out[n++] = '"';
    for (const char *p = ident; *p && n + 2 < outsz; p++) {
        if (*p == '"') {
            if (n + 3 >= outsz)
                break;
            out[n++] = '"';
        }
        out[n++] = *p;
    }
    out[n++] = '"';
    out[n] = '\0';
    *at = n;
}

char *
agent_pg_quote_ident(PGconn *conn, const char *ident, char *out, size_t outsz)
{
    size_t at = 0;

    (void) conn;
    if (outsz == 0)
        return out;
    quote_into(ident, out, outsz, &at);
    return out;
}

char *
agent_pg_quote_table(const char *schema, const char *table, char *out, size_t outsz)
{
    size_t at = 0;

    if (outsz == 0)
        return out;
    out[0] = '\0';
    if (schema && schema[0]) {
        quote_into(schema, out, outsz, &at);
        if (at + 1 < outsz) {
            out[at++] = '.';
            out[at] = '\0';
        }
    }
    quote_into(table, out, outsz, &at);
    return out;
}

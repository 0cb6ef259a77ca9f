#include "agent/pgconn.h"

#include <stdio.h>
#include <string.h>

#include "agent/core/cdc_log.h"

/* Session settings that fix the text form of every value the decoder parses. */
#define SESSION_OPTIONS \
    "-c DateStyle=ISO -c IntervalStyle=postgres -c extra_float_digits=3 " \
    "-c TimeZone=UTC -c bytea_output=hex -c lc_monetary=C"

static void
trim_newline(char *s)
{
    size_t n = strlen(s);

    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = '\0';
}

PGconn *
agent_pg_connect(const cfg_source *src, bool replication, cdc_err *err)
{
    const char *keys[16], *vals[16];
    char        port[16];
    int         n = 0;
    PGconn     *conn;
    char        msg[200];

    snprintf(port, sizeof(port), "%d", src->port);
    keys[n] = "host", vals[n++] = src->host;
    keys[n] = "port", vals[n++] = port;
    keys[n] = "dbname", vals[n++] = src->database;
    keys[n] = "user", vals[n++] = src->username;
    keys[n] = "password", vals[n++] = src->password;
    keys[n] = "application_name", vals[n++] = replication ? "cdcagent" : "cdcagent-catalog";
    keys[n] = "options", vals[n++] = SESSION_OPTIONS;
    keys[n] = "connect_timeout", vals[n++] = "10";
    if (src->sslmode && *src->sslmode)
        keys[n] = "sslmode", vals[n++] = src->sslmode;
    if (src->sslrootcert && *src->sslrootcert)
        keys[n] = "sslrootcert", vals[n++] = src->sslrootcert;
    if (src->sslcert && *src->sslcert)
        keys[n] = "sslcert", vals[n++] = src->sslcert;
    if (src->sslkey && *src->sslkey)
        keys[n] = "sslkey", vals[n++] = src->sslkey;
    if (replication)
        keys[n] = "replication", vals[n++] = "database";
    keys[n] = NULL;
    vals[n] = NULL;

    conn = PQconnectdbParams(keys, vals, 0);
    if (conn == NULL) {
        cdc_err_set(err, CDC_E_NOMEM, "connecting to PostgreSQL: out of memory");
        return NULL;
    }
    if (PQstatus(conn) != CONNECTION_OK) {
        snprintf(msg, sizeof(msg), "%s", PQerrorMessage(conn));
        trim_newline(msg);
        cdc_err_set(err, CDC_E_CONN, "cannot connect to PostgreSQL at %s:%d database %s as %s%s: %s",
                    src->host, src->port, src->database, src->username,
                    replication ? " (replication)" : "", msg);
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

char *
agent_pg_quote_ident(PGconn *conn, const char *ident, char *out, size_t outsz)
{
    char *q = PQescapeIdentifier(conn, ident, strlen(ident));

    snprintf(out, outsz, "%s", q ? q : "\"?\"");
    PQfreemem(q);
    return out;
}

int
agent_pg_split_table(const char *qualified, char *schema, char *table, cdc_err *err)
{
    const char *dot = strchr(qualified, '.');
    size_t      ns;

    if (dot == NULL || strchr(dot + 1, '.') != NULL)
        return cdc_err_set(err, CDC_E_CONFIG, "table \"%s\" is not schema-qualified (schema.table)",
                           qualified);
    ns = (size_t) (dot - qualified);
    if (ns == 0 || ns > 63 || strlen(dot + 1) == 0 || strlen(dot + 1) > 63)
        return cdc_err_set(err, CDC_E_CONFIG, "table \"%s\": bad schema or table name", qualified);
    memcpy(schema, qualified, ns);
    schema[ns] = '\0';
    strcpy(table, dot + 1);
    return 0;
}

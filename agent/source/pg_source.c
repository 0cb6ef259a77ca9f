#include "agent/source/pg_source.h"

#include <string.h>

PGconn *
agent_pg_connect_any(const cfg_source *src, bool replication, cdc_err *err)
{
    cfg_conn_params     p;
    /* source.host with its own ports (host:port,...) is named as written. */
    const cdc_pg_target who = { .host = src->host,
                                .port = strchr(src->host, ',') || strchr(src->host, ':')
                                            ? 0 : src->port,
                                .database = src->database, .username = src->username,
                                .replication = replication };

    /* Session settings in there fix the text form of every value the decoder parses. */
    cfg_source_conn_params(src, replication, &p);
    return cdc_pg_connect(p.keys, p.vals, &who, err);
}

PGconn *
agent_pg_connect(const cfg_source *src, bool replication, cdc_err *err)
{
    PGconn *conn = agent_pg_connect_any(src, replication, err);

    if (conn != NULL && PQserverVersion(conn) < AGENT_PG_MIN_VERSION) {
        const char *ver = PQparameterStatus(conn, "server_version");

        cdc_err_set(err, CDC_E_UNSUPPORTED, "PostgreSQL %s at %s:%s (database %s) is not "
                    "supported: cdcagent needs PostgreSQL 12 or newer "
                    "(docs/postgresql-versions.md)", ver ? ver : "(unknown version)",
                    PQhost(conn), PQport(conn), src->database);
        PQfinish(conn);
        return NULL;
    }
    return conn;
}

int
agent_pg_split_table(const char *qualified, char *schema, char *table, cdc_err *err)
{
    const char *why = cfg_table_split(qualified, schema, table);

    if (why != NULL)
        return cdc_err_set(err, CDC_E_CONFIG, "table %s %s", qualified, why);
    return 0;
}

#include "agent/slot.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/core/cdc_log.h"
#include "agent/core/cdc_lsn.h"
#include "agent/pgconn.h"
#include "agent/publication.h"
#include "agent/repl.h"

static const char status_sql[] =
    "SELECT slot_name, plugin, active, active_pid, restart_lsn, confirmed_flush_lsn,"
    "       pg_current_wal_lsn(),"
    "       pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::int8,"
    "       pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::int8,"
    "       wal_status"
    "  FROM pg_replication_slots WHERE slot_name = $1";

static json_t *
lsn_or_null(PGresult *res, int col)
{
    return PQgetisnull(res, 0, col) ? json_null() : json_string(PQgetvalue(res, 0, col));
}

static json_t *
int_or_null(PGresult *res, int col)
{
    return PQgetisnull(res, 0, col) ? json_null()
                                    : json_integer(strtoll(PQgetvalue(res, 0, col), NULL, 10));
}

static void
print_json(PGresult *res)
{
    json_t *o = json_object();
    char   *s;

    json_object_set_new(o, "slot_name", json_string(PQgetvalue(res, 0, 0)));
    json_object_set_new(o, "plugin", json_string(PQgetvalue(res, 0, 1)));
    json_object_set_new(o, "active", json_boolean(PQgetvalue(res, 0, 2)[0] == 't'));
    json_object_set_new(o, "active_pid", int_or_null(res, 3));
    json_object_set_new(o, "restart_lsn", lsn_or_null(res, 4));
    json_object_set_new(o, "confirmed_flush_lsn", lsn_or_null(res, 5));
    json_object_set_new(o, "current_lsn", lsn_or_null(res, 6));
    json_object_set_new(o, "retained_bytes", int_or_null(res, 7));
    json_object_set_new(o, "lag_bytes", int_or_null(res, 8));
    json_object_set_new(o, "wal_status", lsn_or_null(res, 9));
    s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (s)
        printf("%s\n", s);
    free(s);
    json_decref(o);
}

static void
print_table(PGresult *res)
{
    static const char *const labels[] = {
        "slot", "plugin", "active", "active pid", "restart_lsn", "confirmed_flush_lsn",
        "current WAL LSN", "WAL retained (bytes)", "not yet confirmed (bytes)", "wal_status",
    };

    for (int c = 0; c < 10; c++)
        printf("%-26s %s\n", labels[c], PQgetisnull(res, 0, c) ? "-" : PQgetvalue(res, 0, c));
}

int
agent_slot_status(const cdc_config *cfg, bool json, cdc_err *err)
{
    const cfg_source *src = &cfg->pipeline.source;
    const char       *p[1] = { src->slot_name };
    PGconn           *conn = agent_pg_connect(src, false, err);
    PGresult         *res = NULL;
    int               rc = -1;

    if (conn == NULL)
        return -1;
    res = agent_pg_query(conn, status_sql, 1, p, "reading pg_replication_slots", err);
    if (res == NULL)
        goto out;
    if (PQntuples(res) == 0) {
        cdc_err_set(err, CDC_E_STATE, "slot %s does not exist in %s:%d", src->slot_name,
                    src->host, src->port);
        goto out;
    }
    if (json)
        print_json(res);
    else
        print_table(res);
    rc = 0;
out:
    PQclear(res);
    PQfinish(conn);
    return rc;
}

int
agent_slot_create(const cdc_config *cfg, cdc_err *err)
{
    PGconn      *conn = agent_pg_connect(&cfg->pipeline.source, false, err);
    repl_stream *rs;
    uint64_t     cp;
    char         lsn[CDC_LSN_STRLEN];
    int          rc;

    if (conn == NULL)
        return -1;
    /* The publication first: pgoutput needs it to exist at the slot's start. */
    rc = agent_ensure_publication(conn, &cfg->pipeline.source, err);
    PQfinish(conn);
    if (rc < 0)
        return -1;
    rs = repl_open(&cfg->pipeline.source, err);
    if (rs == NULL)
        return -1;
    rc = repl_create_slot(rs, cfg->pipeline.source.slot_name, false, &cp, NULL, 0, err);
    if (rc == 0)
        printf("slot %s created at %s\n", cfg->pipeline.source.slot_name, cdc_lsn_format(cp, lsn));
    repl_close(rs);
    return rc;
}

int
agent_slot_drop(const cdc_config *cfg, cdc_err *err)
{
    const cfg_source *src = &cfg->pipeline.source;
    PGconn           *conn = agent_pg_connect(src, false, err);
    const char       *p[1] = { src->slot_name };
    PGresult         *res;

    if (conn == NULL)
        return -1;
    res = agent_pg_query(conn, "SELECT pg_drop_replication_slot($1)", 1, p, "dropping the slot", err);
    PQfinish(conn);
    if (res == NULL)
        return cdc_err_wrap(err, "slot %s", src->slot_name);
    PQclear(res);
    printf("slot %s dropped\n", src->slot_name);
    return 0;
}

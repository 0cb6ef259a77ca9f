/*
 * The PostgreSQL sink's statements on its connection, used by postgres.c
 * (connecting, applying a batch) and pg_batch.c (runs of rows, the batch in
 * flight): the state and event_log tables made ready, ops the target
 * already committed dropped, one statement run with its error tagged by
 * SQLSTATE.
 */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/core/cdc_buf.h"
#include "agent/core/cdc_err.h"
#include "sinks/postgres/pg_int.h"

static int
pg_exec_ok(pgsink *p, const char *sql, cdc_err *err)
{
    PGresult *res = PQexec(p->conn, sql);
    int       rc = 0;

    if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
        rc = cdc_err_set(err, PQstatus(p->conn) == CONNECTION_OK ? CDC_E_PG : CDC_E_CONN,
                         "postgres %s: %s", p->label, PQresultErrorMessage(res));
    PQclear(res);
    return rc;
}

/* The state table, the event_log table, and this sink's committed position. */
int
pg_prepare_target(pgsink *p, cdc_err *err)
{
    cdc_buf     q = CDC_BUF_INIT;
    const char *vals[1] = { p->sink_id };
    PGresult   *res;
    int         rc = -1;

    if (pg_exec_ok(p, "CREATE TABLE IF NOT EXISTS cdcagent_state (sink_id text PRIMARY KEY, "
                   "commit_lsn bigint NOT NULL, seq bigint NOT NULL, "
                   "updated_at timestamptz NOT NULL DEFAULT now())", err) < 0)
        return -1;
    if (p->mode == DEST_PG_EVENT_LOG) {
        cdc_buf_printf(&q, "CREATE TABLE IF NOT EXISTS %s (id bigserial PRIMARY KEY, "
                       "event_key jsonb, event_value jsonb, source_topic text NOT NULL, "
                       "source_partition integer NOT NULL, source_offset bigint NOT NULL, "
                       "commit_lsn bigint, seq bigint, written_at timestamptz NOT NULL "
                       "DEFAULT now()); "
                       "ALTER TABLE %s ADD COLUMN IF NOT EXISTS commit_lsn bigint, "
                       "ADD COLUMN IF NOT EXISTS seq bigint; "
                       "CREATE UNIQUE INDEX IF NOT EXISTS %s ON %s (source_topic, "
                       "source_partition, source_offset, seq)",
                       p->table, p->table, p->index_name, p->table);
        if (pg_exec_ok(p, cdc_buf_str(&q), err) < 0)
            goto out;
    }
    res = PQexecParams(p->conn, "SELECT commit_lsn, seq FROM cdcagent_state WHERE sink_id = $1",
                       1, NULL, vals, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        cdc_err_set(err, CDC_E_PG, "postgres %s: reading cdcagent_state: %s", p->label,
                    PQresultErrorMessage(res));
        PQclear(res);
        goto out;
    }
    if (PQntuples(res) == 1) {
        p->state.lsn = (uint64_t) strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        p->state.seq = (uint64_t) strtoll(PQgetvalue(res, 0, 1), NULL, 10);  /* -1 is END */
    }
    PQclear(res);
    if (cdc_pos_cmp(p->state, p->durable) > 0)
        p->durable = p->state;
    rc = 0;
out:
    cdc_buf_free(&q);
    return rc;
}

/* Drops queued ops the target already committed (a COMMIT whose reply was lost). */
void
pg_drop_committed(pgsink *p)
{
    int k = 0;

    for (int i = 0; i < p->nops; i++) {
        if (cdc_pos_cmp(p->ops[i].pos, p->state) <= 0 && !p->ops[i].ddl) {
            p->nevents -= p->ops[i].is_event;
            pg_op_free(&p->ops[i]);
        } else {
            p->ops[k++] = p->ops[i];
        }
    }
    p->nops = k;
}

/* "SQLSTATE|message" of a failed result into pgerr; @returns -1. */
int
pg_result_err(pgsink *p, const PGresult *res, char *pgerr, size_t errn)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;

    snprintf(pgerr, errn, "%s|%s", state ? state : "?????", msg ? msg : PQerrorMessage(p->conn));
    pgerr[strcspn(pgerr, "\n")] = '\0';
    return -1;
}

/* Runs one statement; *pgerr gets the SQLSTATE-tagged message on failure. */
int
pg_run(pgsink *p, const char *sql, int n, const char *const *params, char *pgerr, size_t errn)
{
    PGresult *res = n > 0 || params ? PQexecParams(p->conn, sql, n, NULL, params, NULL, NULL, 0)
                                    : PQexec(p->conn, sql);
    int       rc = 0;

    if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
        rc = pg_result_err(p, res, pgerr, errn);
    PQclear(res);
    return rc;
}

bool
pg_lost(pgsink *p)
{
    return p->conn == NULL || PQstatus(p->conn) != CONNECTION_OK;
}

#include "agent/pipeline/heartbeat.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "agent/core/cdc_clock.h"
#include "agent/core/cdc_log.h"
#include "agent/core/cdc_mem.h"
#include "agent/core/net/pgconn.h"
#include "agent/source/pg_source.h"

#define HB_FAC "heartbeat"
/* The action query runs on the main loop: never let it hold the stream for long. */
#define HB_QUERY_TIMEOUT_MS 10000

struct agent_heartbeat {
    const cfg_source *src;
    int64_t           interval_ms;
    int64_t           last_ms;
    PGconn           *conn;         /* for the action query; opened at first use */
    uint64_t          beats, failures;
    bool              failing;      /* the last action query failed (log once per streak) */
};

agent_heartbeat *
agent_heartbeat_new(const cfg_source *src)
{
    agent_heartbeat *hb;

    if (src->heartbeat_interval_ms <= 0) {
        if (src->heartbeat_action_query && *src->heartbeat_action_query)
            log_warn(HB_FAC, "source.heartbeat_action_query is set but "
                     "source.heartbeat_interval_ms is 0: the query never runs");
        return NULL;
    }
    hb = cdc_xcalloc(1, sizeof(*hb));
    hb->src = src;
    hb->interval_ms = src->heartbeat_interval_ms;
    hb->last_ms = cdc_mono_ms();
    log_info(HB_FAC, "every %d ms%s", src->heartbeat_interval_ms,
             src->heartbeat_action_query && *src->heartbeat_action_query
                 ? ", with the action query" : "");
    return hb;
}

void
agent_heartbeat_free(agent_heartbeat *hb)
{
    if (hb == NULL)
        return;
    PQfinish(hb->conn);
    free(hb);
}

static int
hb_connect(agent_heartbeat *hb, cdc_err *err)
{
    char sql[64];
    int  timeout = hb->interval_ms < HB_QUERY_TIMEOUT_MS ? (int) hb->interval_ms
                                                         : HB_QUERY_TIMEOUT_MS;

    if (hb->conn && PQstatus(hb->conn) == CONNECTION_OK)
        return 0;
    PQfinish(hb->conn);
    hb->conn = agent_pg_connect(hb->src, false, err);
    if (hb->conn == NULL)
        return -1;
    snprintf(sql, sizeof(sql), "SET statement_timeout = %d", timeout);
    if (agent_pg_exec(hb->conn, sql, "heartbeat: setting statement_timeout", err) < 0) {
        PQfinish(hb->conn);
        hb->conn = NULL;
        return -1;
    }
    return 0;
}

/* Runs the action query; a failure is logged once per streak and retried next beat. */
static void
hb_action(agent_heartbeat *hb)
{
    cdc_err err = { 0 };

    if (hb_connect(hb, &err) == 0 &&
        agent_pg_exec(hb->conn, hb->src->heartbeat_action_query,
                      "heartbeat: source.heartbeat_action_query", &err) == 0) {
        if (hb->failing)
            log_info(HB_FAC, "source.heartbeat_action_query runs again");
        hb->failing = false;
        return;
    }
    hb->failures++;
    if (!hb->failing)
        log_warn(HB_FAC, "%s; retrying at every heartbeat", err.msg);
    hb->failing = true;
    if (hb->conn && PQstatus(hb->conn) != CONNECTION_OK) {
        PQfinish(hb->conn);
        hb->conn = NULL;
    }
}

void
agent_heartbeat_tick(agent_heartbeat *hb, agent_router *r, bool in_txn)
{
    int64_t now;

    if (hb == NULL || in_txn)
        return;
    now = cdc_mono_ms();
    if (now - hb->last_ms < hb->interval_ms)
        return;
    hb->last_ms = now;
    hb->beats++;
    agent_router_heartbeat(r, cdc_wall_ms());
    if (hb->src->heartbeat_action_query && *hb->src->heartbeat_action_query)
        hb_action(hb);
}

uint64_t
agent_heartbeat_count(const agent_heartbeat *hb)
{
    return hb ? hb->beats : 0;
}

uint64_t
agent_heartbeat_failures(const agent_heartbeat *hb)
{
    return hb ? hb->failures : 0;
}

/*
 * metrics_dump: renders a populated agent_metrics registry to stdout in the
 * Prometheus text format, so test/integration/900_metrics_format.sh can run
 * it through Prometheus's own parser and linter.  It fills every family,
 * every label kind (including values that need escaping) and the overflow
 * series, so the check covers what /metrics can ever show.
 *
 *   metrics_dump            the exposition (/metrics)
 *   metrics_dump --health   the /readyz JSON body; exit status 0 ready, 3 not
 */
#include <stdio.h>
#include <string.h>

#include "agent/core/cdc_buf.h"
#include "agent/core/cdc_counters.h"
#include "agent/ops/metrics.h"

static void
populate(agent_metrics *m)
{
    static const cdc_op ops[] = { CDC_OP_READ, CDC_OP_CREATE, CDC_OP_UPDATE, CDC_OP_DELETE,
                                  CDC_OP_TRUNCATE };
    cdc_health ok = { CDC_DEST_OK, "" }, degraded = { CDC_DEST_DEGRADED, "retrying: 503" };
    char       name[64];
    int        d;

    for (int t = 0; t < 3; t++) {
        snprintf(name, sizeof(name), "cdc.public.table_%d", t);
        for (size_t k = 0; k < sizeof(ops) / sizeof(ops[0]); k++)
            for (int n = 0; n <= t; n++)
                agent_metrics_event(m, name, ops[k]);
    }
    agent_metrics_event(m, "cdc.public.\"quoted\\name\"\nx", CDC_OP_CREATE);
    agent_metrics_event(m, NULL, CDC_OP_MESSAGE);
    for (int i = 0; i < AGENT_METRICS_MAX_SERIES; i++) {     /* reach the overflow series */
        snprintf(name, sizeof(name), "cdc.wide.t%d", i);
        agent_metrics_event(m, name, CDC_OP_CREATE);
    }
    agent_metrics_add_bytes(m, 123456789);
    agent_metrics_error(m, CDC_E_CONN);
    agent_metrics_error(m, CDC_E_DEST);
    cdc_metrics_dlq_inc("wh \"1\"");
    cdc_metrics_dlq_inc("wh \"1\"");
    cdc_metrics_dlq_inc("pg-audit");
    cdc_metrics_schema_registered("cdc.public.table_0-key");
    cdc_metrics_schema_registered("cdc.public.table_0-value");
    for (int i = 0; i < CDC_COUNTERS_MAX_LABELS + 2; i++) {   /* reach the overflow label */
        snprintf(name, sizeof(name), "cdc.wide.t%d-value", i);
        cdc_metrics_schema_registered(name);
    }
    agent_metrics_set_received_lsn(m, 0x3000060);
    agent_metrics_set_server_lsn(m, 0x3000100);
    agent_metrics_set_queue_depth(m, 3);
    agent_metrics_set_lag_seconds(m, 0.125);
    agent_metrics_set_incr(m, &(agent_incr_progress) { .state = 2, .tables_done = 1,
                                                       .tables_remaining = 2, .chunks = 12,
                                                       .rows = 12000 });
    for (uint64_t lsn = 0x3000000; lsn < 0x3000050; lsn += 0x10)
        agent_metrics_txn_committed(m, lsn);
    agent_metrics_confirmed(m, 0x3000020);
    agent_metrics_observe_commit_to_durable(m, 0.3);
    agent_metrics_observe_commit_to_durable(m, 400);
    d = agent_metrics_add_dest(m, "iceberg-lake", "iceberg");
    agent_metrics_set_dest(m, d, (cdc_pos) { 0x3000020, UINT64_MAX }, &ok);
    d = agent_metrics_add_dest(m, "wh \"1\"", "webhook");
    agent_metrics_set_dest(m, d, (cdc_pos) { 0x3000000, 7 }, &degraded);
    agent_metrics_set_repl_state(m, AGENT_REPL_STREAMING, NULL);
}

int
main(int argc, char **argv)
{
    agent_metrics *m = agent_metrics_new("orders-cdc", "orders_cdc_slot");
    cdc_buf        b = CDC_BUF_INIT;
    bool           health = argc > 1 && strcmp(argv[1], "--health") == 0;
    bool           ready = true;
    int            rc = 0;

    populate(m);
    if (health)
        ready = agent_metrics_render_health(m, &b);
    else
        agent_metrics_render(m, &b);
    if (cdc_buf_failed(&b)) {
        fprintf(stderr, "metrics_dump: out of memory\n");
        rc = 1;
    } else if (fwrite(b.data, 1, b.len, stdout) != b.len) {
        rc = 1;
    }
    if (health && rc == 0 && !ready)
        rc = 3;
    cdc_buf_free(&b);
    agent_metrics_free(m);
    return rc;
}

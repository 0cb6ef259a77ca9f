/*
 * The health and metrics HTTP server (platform.yaml health_port and
 * health_enabled), served by libmicrohttpd on its own thread:
 *
 *   GET /healthz  200 {"status":"ok"} while the process runs (liveness)
 *   GET /readyz   200 or 503 with the platform's health body (readiness):
 *                 503 when the replication connection is reconnecting,
 *                 in error or stopping, or a destination is in error
 *   GET /metrics  Prometheus text exposition format 0.0.4
 *
 * It only reads the agent_metrics registry; the main loop writes it.  The
 * endpoints are those of the platform's deployment guide ("Health &
 * Monitoring"); docs/operations.md describes the body and every metric.
 */
#ifndef CDC_AGENT_OPS_HEALTH_H
#define CDC_AGENT_OPS_HEALTH_H

#include "agent/core/cdc_err.h"
#include "agent/ops/metrics.h"

typedef struct agent_health agent_health;

typedef struct agent_health_conf {
    const char *bind_address;   /* NULL or "": 0.0.0.0; an IPv4 or IPv6 literal */
    int         port;           /* health_port; 0 picks a free port (tests) */
} agent_health_conf;

/**
 * Binds @p conf's address and port and starts serving.
 * @param m  borrowed; it must outlive the server (free it after agent_health_stop()).
 * @returns a new server the caller stops with agent_health_stop(), or NULL
 *          with err set: CDC_E_CONFIG for an address that is not one, or
 *          "health_port 8080 is in use"; CDC_E_IO for other failures.
 * @thread main loop; the handlers run on libmicrohttpd's thread.
 */
agent_health *agent_health_start(const agent_health_conf *conf, agent_metrics *m, cdc_err *err);

/* The port actually bound (the chosen one when conf->port was 0). */
int  agent_health_port(const agent_health *h);

/* Stops the server and waits for its thread; NULL is a no-op. */
void agent_health_stop(agent_health *h);

#endif

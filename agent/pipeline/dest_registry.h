/*
 * The table of destination kinds: a transport or sink is one .c file with
 * a const cdc_dest_ops plus one row here.
 */
#ifndef CDC_AGENT_PIPELINE_DEST_REGISTRY_H
#define CDC_AGENT_PIPELINE_DEST_REGISTRY_H

#include "agent/config/config.h"
#include "agent/core/dest/cdc_dest.h"
#include "agent/core/cdc_err.h"
#include "agent/core/dest/dlq.h"
#include "sinks/iceberg/iceberg.h"

/*
 * Opens the destination for one configured sink.  @p dlq (borrowed, may be
 * NULL) receives the events the sink refuses for good.
 * @returns a new destination the caller closes with d->ops->close() and
 * free(), or NULL with err set.
 */
cdc_dest *agent_dest_open(const cfg_sink *sink, const cdc_dest_env *env, dest_dlq *dlq,
                          cdc_err *err);

/* Opens the transport of platform.yaml's transport_mode (kafka). Same ownership. */
cdc_dest *agent_transport_open(const cdc_config *cfg, const cdc_dest_env *env, cdc_err *err);

/* The Iceberg sink's settings from its configuration (strings borrowed from sink), for the
   sink and for `cdcagent verify`; dlq may be NULL. */
void agent_iceberg_conf(const cfg_sink *sink, dest_dlq *dlq, dest_iceberg_conf *out);

#endif

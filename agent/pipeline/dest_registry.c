#include "agent/pipeline/dest_registry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/core/cdc_mem.h"
#include "schemas/json.h"
#include "sinks/iceberg/iceberg.h"
#include "sinks/jsonl/jsonl.h"
#include "sinks/postgres/postgres.h"
#include "sinks/webhook/webhook.h"
#include "transports/kafka/kafka.h"
#include "transports/kinesis/kinesis.h"
#include "transports/pubsub/pubsub.h"

static int
open_jsonl(cdc_dest *d, const cfg_sink *sink, const cdc_dest_env *env, dest_dlq *dlq,
           cdc_err *err)
{
    dest_jsonl_conf c = {
        .path = sink->jsonl.path,
        .fsync = sink->jsonl.fsync,
        .flush_interval_ms = sink->jsonl.flush_interval_ms,
    };

    (void) dlq; /* a file that refuses a line refuses them all: no dead letters */
    d->ops = &dest_jsonl_ops;
    return d->ops->open(d, &c, env, err);
}

static int
open_webhook(cdc_dest *d, const cfg_sink *sink, const cdc_dest_env *env, dest_dlq *dlq,
             cdc_err *err)
{
    const cfg_webhook   *w = &sink->webhook;
    dest_webhook_header *h = cdc_xcalloc((size_t) w->headers.n + 1, sizeof(*h));
    int                  rc;

    for (int i = 0; i < w->headers.n; i++)
        h[i] = (dest_webhook_header) { w->headers.items[i].key, w->headers.items[i].value };
    dest_webhook_conf c = {
        .url = w->url,
        .method = w->method,
        .headers = h,
        .nheaders = w->headers.n,
        .timeout_ms = (int) (w->timeout_seconds * 1000),
        .auth_token = w->auth_token && *w->auth_token ? w->auth_token : NULL,
        .ca_file = w->ssl_ca_location,            /* empty strings: unset (webhook.c) */
        .client_cert = w->ssl_certificate_location,
        .client_key = w->ssl_key_location,
        .key_password = w->ssl_key_password,
        .tls_insecure = !w->ssl_verify,
        .batch_max = w->batch_size,
        .batch_ms = w->batch_timeout_ms,
        .max_in_flight = w->max_in_flight,
        .retry = cfg_retry_conf(&sink->retry),
        .dlq = dlq,
    };
    d->ops = &dest_webhook_ops;
    rc = d->ops->open(d, &c, env, err); /* copies what it keeps */
    free(h);
    return rc;
}

static int
open_postgres(cdc_dest *d, const cfg_sink *sink, const cdc_dest_env *env, dest_dlq *dlq,
              cdc_err *err)
{
    const cfg_pg_sink *p = &sink->postgres;
    dest_postgres_conf c = {
        .host = p->host,
        .port = p->port,
        .database = p->database,
        .username = p->username,
        .password = p->password,
        .target_table = p->target_table,
        .batch_size = p->batch_size,
        .upsert = p->upsert,
        .mode = p->mode == CFG_PG_SINK_REPLICA ? DEST_PG_REPLICA : DEST_PG_EVENT_LOG,
        .retry = cfg_retry_conf(&sink->retry),
        .dlq = dlq,
    };

    d->ops = &dest_postgres_ops;
    return d->ops->open(d, &c, env, err);
}

void
agent_iceberg_conf(const cfg_sink *sink, dest_dlq *dlq, dest_iceberg_conf *out)
{
    const cfg_iceberg *i = &sink->iceberg;

    *out = (dest_iceberg_conf) {
        .catalog_uri = i->catalog_uri,
        .catalog_name = i->catalog_name,
        .warehouse = i->warehouse,
        .table_namespace = i->table_namespace,
        .table_name = i->table_name,
        .write_mode = i->write_mode,
        .batch_size = i->batch_size,
        .flush_interval_s = i->flush_interval_seconds,
        .auto_create_table = i->auto_create_table,
        .partition_by = (const char *const *) i->partition_by,
        .npartition_by = i->npartition_by,
        .s3_endpoint = i->s3_endpoint,
        .s3_access_key_id = i->s3_access_key_id,
        .s3_secret_access_key = i->s3_secret_access_key,
        .s3_region = i->s3_region,
        .rest_credential = i->rest_credential,
        .rest_token = i->rest_token,
        .rest_scope = i->rest_scope,
        .rest_oauth2_server_uri = i->rest_oauth2_server_uri,
        .maint_enabled = i->maintenance.enabled,
        .expire_interval_s = i->maintenance.expire_snapshots_interval_seconds,
        .expire_older_than_s = i->maintenance.expire_snapshots_older_than_seconds,
        .compact_interval_s = i->maintenance.compaction_interval_seconds,
        .compact_file_threshold = i->maintenance.compaction_file_threshold,
        .compact_max_rows = i->maintenance.compaction_max_rows_per_batch,
        .retry = cfg_retry_conf(&sink->retry),
        .dlq = dlq,
    };
}

static int
open_iceberg(cdc_dest *d, const cfg_sink *sink, const cdc_dest_env *env, dest_dlq *dlq,
             cdc_err *err)
{
    dest_iceberg_conf c;

    agent_iceberg_conf(sink, dlq, &c);
    d->ops = &dest_iceberg_ops;
    return d->ops->open(d, &c, env, err);
}

static const struct {
    cfg_sink_type type;
    int (*open)(cdc_dest *d, const cfg_sink *sink, const cdc_dest_env *env, dest_dlq *dlq,
                cdc_err *err);
} registry[] = {
    { CFG_SINK_JSONL, open_jsonl },
    { CFG_SINK_WEBHOOK, open_webhook },
    { CFG_SINK_POSTGRES, open_postgres },
    { CFG_SINK_ICEBERG, open_iceberg },
};

cdc_dest *
agent_dest_open(const cfg_sink *sink, const cdc_dest_env *env, dest_dlq *dlq, cdc_err *err)
{
    cdc_dest *d = cdc_xcalloc(1, sizeof(*d));

    d->id = sink->sink_id;
    for (size_t i = 0; i < sizeof(registry) / sizeof(registry[0]); i++) {
        if (registry[i].type != sink->sink_type)
            continue;
        if (registry[i].open(d, sink, env, dlq, err) < 0) {
            cdc_err_wrap(err, "sink %s", sink->sink_id);
            free(d);
            return NULL;
        }
        return d;
    }
    cdc_err_set(err, CDC_E_UNSUPPORTED, "sink %s: this sink type is not supported yet",
                sink->sink_id);
    free(d);
    return NULL;
}

/* Avro options from the pipeline: the compat profile and the source block's fields. */
static int
avro_opts(const cdc_config *cfg, const cdc_dest_env *env, sch_avro_opts *o, cdc_err *err)
{
    const cfg_source *src = &cfg->pipeline.source;
    const char       *mode = src->schema_name_adjustment_mode;

    sch_avro_opts_default(o);
    if (sch_avro_profile_parse(cfg->platform.kafka.debezium_version, &o->profile) < 0)
        return cdc_err_set(err, CDC_E_CONFIG, "kafka.debezium_version: no compat profile for "
                           "Debezium \"%s\" (1.9 to 3.x are known)",
                           cfg->platform.kafka.debezium_version);
    o->server_name = cfg->pipeline.topic_prefix;
    o->database = src->database;
    o->unavailable_placeholder = src->unavailable_value_placeholder;
    if (env->encode_opts)
        o->version = ((const sch_json_opts *) env->encode_opts)->version;
    o->name_mode = sch_name_mode_parse(mode);
    return 0;
}

/* The cluster settings of platform.yaml's kafka block; *props (kafka.properties) is
   allocated here and freed by the caller once the destination is open. */
static dest_kafka_cluster
kafka_cluster(const cfg_kafka *k, dest_kafka_prop **props)
{
    *props = cdc_xcalloc((size_t) k->properties.n + 1, sizeof(**props));
    for (int i = 0; i < k->properties.n; i++)
        (*props)[i] = (dest_kafka_prop) { k->properties.items[i].key,
                                          k->properties.items[i].value };
    return (dest_kafka_cluster) {
        .bootstrap_servers = k->bootstrap_servers,
        .security_protocol = k->security_protocol,
        .ssl_ca_location = k->ssl_ca_location,
        .ssl_certificate_location = k->ssl_certificate_location,
        .ssl_key_location = k->ssl_key_location,
        .auth_mechanism = k->auth_mechanism,
        .sasl_username = k->sasl_username,
        .sasl_password = k->sasl_password,
        .properties = { *props, k->properties.n },
        .topic_num_partitions = k->topic_num_partitions,
        .topic_replication_factor = k->topic_replication_factor,
    };
}

/* The Schema Registry client settings: platform.yaml's kafka.schema_registry_* (the
   transports that write Avro all register there) and the retry block. */
static sr_conf
registry_conf(const cfg_platform *pf)
{
    const cfg_kafka *k = &pf->kafka;

    return (sr_conf) {
        .url = k->schema_registry_url,
        .basic_auth_user = k->schema_registry_username && *k->schema_registry_username
                               ? k->schema_registry_username : NULL,
        .basic_auth_password = k->schema_registry_password,
        .ca_file = k->schema_registry_ca_location && *k->schema_registry_ca_location
                       ? k->schema_registry_ca_location : NULL,
        .cert_file = k->schema_registry_certificate_location &&
                             *k->schema_registry_certificate_location
                         ? k->schema_registry_certificate_location : NULL,
        .key_file = k->schema_registry_key_location && *k->schema_registry_key_location
                        ? k->schema_registry_key_location : NULL,
        .max_attempts = pf->retry.max_attempts,
        .initial_wait_s = pf->retry.initial_wait_seconds,
        .max_wait_s = pf->retry.max_wait_seconds,
    };
}

/* Opens transport `id` with its conf (which the destination copies what it keeps of). */
static cdc_dest *
transport_open(const char *id, const cdc_dest_ops *ops, const void *conf,
               const cdc_dest_env *env, cdc_err *err)
{
    cdc_dest *d = cdc_xcalloc(1, sizeof(*d));

    d->id = id;
    d->ops = ops;
    if (ops->open(d, conf, env, err) < 0) {
        cdc_err_wrap(err, "%s transport", id);
        free(d);
        return NULL;
    }
    return d;
}

/* transport_mode pubsub: platform.yaml's pubsub block, wal_reader's batch settings. */
static cdc_dest *
pubsub_open_from(const cdc_config *cfg, const cdc_dest_env *env, cdc_err *err)
{
    const cfg_platform *pf = &cfg->platform;
    sch_avro_opts       ao;
    sr_conf             rc = registry_conf(pf);
    size_t              mem = pf->agent.memory_limit_mb > 0
                                  ? (size_t) pf->agent.memory_limit_mb << 18 : 0;  /* a quarter */
    dest_pubsub_conf    c = {
        .project_id = pf->pubsub.project_id,
        .topic_prefix = cfg->pipeline.topic_prefix,
        .ordering_enabled = pf->pubsub.ordering_enabled,
        .ack_deadline_seconds = pf->pubsub.ack_deadline_seconds,
        .group_id = pf->pubsub.group_id,
        .max_delivery_attempts = pf->pubsub.max_delivery_attempts,
        .dlq_suffix = pf->dlq.topic_suffix,
        .dlq_enabled = pf->dlq.enabled,
        .batch_size = pf->wal_reader.batch_size,
        .batch_timeout_s = pf->wal_reader.batch_timeout_seconds,
        .max_waiting_bytes = mem > ((size_t) 16 << 20) ? mem : (size_t) 16 << 20,
        .retry = cfg_retry_conf(&pf->retry),
        .serialization = pf->pubsub.serialization == CFG_SERIALIZATION_AVRO ? DEST_PUBSUB_SER_AVRO
                                                                           : DEST_PUBSUB_SER_JSON,
        .json_schemas_enable = pf->pubsub.json_schemas_enable,
        .registry = &rc,
        .avro = &ao,
        .stop_on_incompatible_schema = pf->stop_on_incompatible_schema,
        .provide_transaction_metadata = cfg->pipeline.source.provide_transaction_metadata,
        .tables = cfg->pipeline.source.tables,
        .ntables = cfg->pipeline.source.ntables,
    };

    if (c.serialization == DEST_PUBSUB_SER_AVRO && avro_opts(cfg, env, &ao, err) < 0)
        return NULL;
    return transport_open("pubsub", &dest_pubsub_ops, &c, env, err);
}

/* transport_mode kinesis (transports/kinesis/): platform.yaml's kinesis, wal_reader, dlq,
   retry blocks; Avro uses the kafka.schema_registry_* settings. */
static cdc_dest *
kinesis_open_from(const cdc_config *cfg, const cdc_dest_env *env, cdc_err *err)
{
    const cfg_platform *pf = &cfg->platform;
    sch_avro_opts       ao;
    sr_conf             rc = registry_conf(pf);
    bool                avro = pf->kinesis.serialization == CFG_SERIALIZATION_AVRO;
    dest_kinesis_conf   c = {
        .region = pf->kinesis.region,
        .topic_prefix = cfg->pipeline.topic_prefix,
        .shard_count = pf->kinesis.shard_count,
        .dlq_enabled = pf->dlq.enabled,
        .dlq_suffix = pf->kinesis.dlq_stream_suffix,
        .dlq_shard_count = pf->kinesis.dlq_shard_count,
        .batch_size = pf->wal_reader.batch_size,
        .batch_timeout_s = pf->wal_reader.batch_timeout_seconds,
        .max_records = pf->max_buffered_messages,
        .retry = cfg_retry_conf(&pf->retry),
        .json_schemas_enable = pf->kinesis.json_schemas_enable,
        .registry = avro ? &rc : NULL,
        .avro = avro ? &ao : NULL,
        .stop_on_incompatible_schema = pf->stop_on_incompatible_schema,
        .provide_transaction_metadata = cfg->pipeline.source.provide_transaction_metadata,
        .checkpoint_table = pf->kinesis.checkpoint_table_name,
        .checkpoint_ttl_s = pf->kinesis.checkpoint_ttl_seconds,
        .pipeline_id = cfg->pipeline.pipeline_id,
        .tables = cfg->pipeline.source.tables,
        .ntables = cfg->pipeline.source.ntables,
    };

    if (avro && avro_opts(cfg, env, &ao, err) < 0)
        return NULL;
    return transport_open("kinesis", &dest_kinesis_ops, &c, env, err);
}

/* transport_mode kafka: platform.yaml's kafka block. */
static cdc_dest *
kafka_open_from(const cdc_config *cfg, const cdc_dest_env *env, cdc_err *err)
{
    const cfg_platform *pf = &cfg->platform;
    cdc_dest           *d;
    sch_avro_opts       ao;
    dest_kafka_prop    *props;
    dest_kafka_cluster  kc;
    sr_conf             rc = registry_conf(pf);

    if (avro_opts(cfg, env, &ao, err) < 0)
        return NULL;
    kc = kafka_cluster(&pf->kafka, &props);
    dest_kafka_conf c = {
        .kafka = &kc,
        .topic_prefix = cfg->pipeline.topic_prefix,
        .serialization = pf->kafka.serialization == CFG_SERIALIZATION_JSON ? DEST_KAFKA_SER_JSON
                                                                            : DEST_KAFKA_SER_AVRO,
        .json_schemas_enable = pf->kafka.json_schemas_enable,
        .dlq_suffix = pf->dlq.topic_suffix,
        .dlq_enabled = pf->dlq.enabled,
        .registry = &rc,
        .avro = &ao,
        .stop_on_incompatible_schema = pf->stop_on_incompatible_schema,
        .provide_transaction_metadata = cfg->pipeline.source.provide_transaction_metadata,
        .tables = cfg->pipeline.source.tables,
        .ntables = cfg->pipeline.source.ntables,
    };
    d = transport_open("kafka", &dest_kafka_ops, &c, env, err);
    free(props);
    return d;
}

cdc_dest *
agent_transport_open(const cdc_config *cfg, const cdc_dest_env *env, cdc_err *err)
{
    switch (cfg->platform.transport_mode) {
    case CFG_TRANSPORT_KAFKA:
        return kafka_open_from(cfg, env, err);
    case CFG_TRANSPORT_PUBSUB:
        return pubsub_open_from(cfg, env, err);
    case CFG_TRANSPORT_KINESIS:
        return kinesis_open_from(cfg, env, err);
    default:
        cdc_err_set(err, CDC_E_UNSUPPORTED, "transport_mode %s has no transport",
                    cfg_transport_mode_name(cfg->platform.transport_mode));
        return NULL;
    }
}

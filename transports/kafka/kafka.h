/*
 * The Kafka destination: every event becomes one Kafka record, keyed and
 * addressed as Debezium's PostgreSQL connector would have produced it
 * through Kafka Connect (topic "{prefix}.{schema}.{table}", JsonConverter
 * key and value, murmur2 partitioning on the key bytes), with the position
 * headers cdc.commit_lsn / cdc.seq / cdc.xid on every record.
 *
 * Durability: a position is durable once librdkafka's delivery report for
 * it (acks=all, idempotent producer) succeeded, and for every earlier
 * position too; a record the broker refuses for good (too large, invalid)
 * goes to "{topic}.{dlq_suffix}" and counts once that write is acked.
 *
 * Exactly once without Kafka transactions: the destination computes each
 * record's partition itself, reads the position headers of the last record
 * of every partition of "{prefix}.*" at start, and skips an event whose
 * target partition already holds its position.  docs/kafka.md has the
 * reasoning and the limits.
 */
#ifndef CDC_TRANSPORTS_KAFKA_KAFKA_H
#define CDC_TRANSPORTS_KAFKA_KAFKA_H

#include <stdbool.h>

#include "agent/core/dest/cdc_dest.h"
#include "schemas/avro.h"
#include "schemas/registry.h"

enum { DEST_KAFKA_SER_JSON = 0, DEST_KAFKA_SER_AVRO = 1 };

/* One librdkafka property (kafka.properties), passed to rd_kafka_conf_set as it is. */
typedef struct dest_kafka_prop {
    const char *key;
    const char *value;
} dest_kafka_prop;

/* The cluster (platform.yaml's kafka block): how the producer and the
   consumers that read records back reach it, and how topics are created on
   it.  An optional string left NULL keeps librdkafka's default. */
typedef struct dest_kafka_cluster {
    const char *bootstrap_servers;          /* required */
    const char *security_protocol;
    const char *ssl_ca_location;
    const char *ssl_certificate_location;
    const char *ssl_key_location;
    const char *auth_mechanism;             /* "none", "sasl_plain", "sasl_scram_256", ... */
    const char *sasl_username;
    const char *sasl_password;
    struct {
        const dest_kafka_prop *items;       /* applied last: they override our defaults */
        int                    n;
    } properties;
    int         topic_num_partitions;       /* for the topics it creates; <= 0: 1 */
    int         topic_replication_factor;   /* <= 0: 1 */
} dest_kafka_cluster;

/* The transport's configuration; the agent fills it from the platform file
   (agent/pipeline/dest_registry.c).  Borrowed: the structs (this one, the
   cluster, the registry and Avro options) are read during open() only; the
   strings inside the Avro options must outlive the destination. */
typedef struct dest_kafka_conf {
    const dest_kafka_cluster *kafka;
    const char      *topic_prefix;
    int              serialization;     /* DEST_KAFKA_SER_JSON or DEST_KAFKA_SER_AVRO */
    bool             json_schemas_enable;
    const char      *dlq_suffix;        /* "dlq" */
    bool             dlq_enabled;
    /* DEST_KAFKA_SER_AVRO only (borrowed): the Schema Registry and the Avro options */
    const sr_conf       *registry;
    const sch_avro_opts *avro;
    bool                 stop_on_incompatible_schema;
    /* source.provide_transaction_metadata: "{prefix}.transaction" and the envelope block */
    bool                 provide_transaction_metadata;
    /* source.tables ("schema.table", borrowed): their topics are created at start */
    char *const         *tables;
    int                  ntables;
} dest_kafka_conf;

/* open() takes a const dest_kafka_conf * as conf, and the JSON options from
   env->encode_opts (borrowed; schemas_enable is taken from the conf), or
   Debezium 2.7's defaults with env->topic_prefix and env->database. */
extern const cdc_dest_ops dest_kafka_ops;

#endif

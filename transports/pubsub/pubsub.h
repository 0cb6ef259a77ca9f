/*
 * The Google Cloud Pub/Sub destination: every event becomes one Pub/Sub
 * message on the topic of its table, named as the platform's provisioner
 * names it ("{prefix}-{schema}-{table}": "cdc-public-customers"), published
 * with the REST API v1 (topics.publish) in batches within the service's
 * limits.  The message's data is Debezium's value (JsonConverter JSON by
 * default; empty for a tombstone), its attributes the position headers
 * cdc.commit_lsn / cdc.seq / cdc.xid, Debezium's __debezium.newkey/oldkey and
 * the content type; with pubsub.ordering_enabled its ordering key is the
 * serialized event key, as Debezium Server's Pub/Sub sink sets it.
 *
 * Durability: a message is durable once its publish request returned 2xx
 * with its messageId; the slot moves only over a prefix of durable (or
 * dead-lettered) messages.  At least once: after a crash the messages that
 * were in flight may be published again (docs/pubsub.md).
 *
 * transports/pubsub/pubsub_int.h says how the work is split between files.
 */
#ifndef CDC_TRANSPORTS_PUBSUB_PUBSUB_H
#define CDC_TRANSPORTS_PUBSUB_PUBSUB_H

#include <stdbool.h>
#include <stddef.h>

#include "agent/core/cdc_retry.h"
#include "agent/core/dest/cdc_dest.h"
#include "schemas/avro.h"
#include "schemas/registry.h"

enum { DEST_PUBSUB_SER_JSON = 0, DEST_PUBSUB_SER_AVRO = 1 };

/* The transport's configuration, filled by agent/pipeline/dest_registry.c from
   platform.yaml.  Borrowed during open() only (what is kept is copied), except
   the strings inside the Avro options, which must outlive the destination. */
typedef struct dest_pubsub_conf {
    const char *project_id;             /* pubsub.project_id: required */
    const char *topic_prefix;           /* NULL: env->topic_prefix */
    bool        ordering_enabled;       /* pubsub.ordering_enabled */
    int         ack_deadline_seconds;   /* of the subscriptions created; <= 0: 600 */
    const char *group_id;               /* subscription "<topic>-<group_id>"; NULL/"": "cdc" */
    int         max_delivery_attempts;  /* the subscriptions' dead-letter policy (5..100) */
    const char *dlq_suffix;             /* dlq.topic_suffix; NULL/"": "dlq" */
    bool        dlq_enabled;            /* dlq.enabled: refused records go to "<topic>-<suffix>" */
    int         batch_size;             /* wal_reader.batch_size: messages a request (<= 1000) */
    double      batch_timeout_s;        /* wal_reader.batch_timeout_seconds: age of a batch */
    size_t      max_waiting_bytes;      /* backpressure bound; 0: 64 MiB */
    int         max_in_flight;          /* requests at once; <= 0: 32 with ordering, else 8 */
    int         timeout_ms;             /* one request; <= 0: 30000 */
    cdc_retry_conf retry;               /* platform retry.*: the backoff (never a give-up) */
    int         serialization;          /* DEST_PUBSUB_SER_JSON or DEST_PUBSUB_SER_AVRO */
    bool        json_schemas_enable;    /* JsonConverter schemas.enable */
    const sr_conf       *registry;      /* Avro only */
    const sch_avro_opts *avro;
    bool                 stop_on_incompatible_schema;
    bool         provide_transaction_metadata;  /* BEGIN/END on "{prefix}-transaction" */
    char *const *tables;                /* source.tables ("schema.table"): created at start */
    int          ntables;
    /* Credentials (agent/core/net/gcp_auth.h): NULL falls back to the environment
       (PUBSUB_EMULATOR_HOST, GOOGLE_APPLICATION_CREDENTIALS, the metadata server). */
    const char *key_file;
    const char *service_url;            /* NULL: https://pubsub.googleapis.com */
} dest_pubsub_conf;

extern const cdc_dest_ops dest_pubsub_ops;

#endif

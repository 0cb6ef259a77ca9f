/*
 * The Amazon Kinesis transport (transport_mode: kinesis): every change as
 * one Kinesis record, Debezium's value as the record's data and Debezium's
 * key as its partition key, in one stream per table named as the platform's
 * provisioner names them ("cdc-public-customers").  See docs/kinesis.md and
 * the top of kinesis.c for the design, kinesis_int.h for which file holds
 * what.
 */
#ifndef CDC_TRANSPORTS_KINESIS_KINESIS_H
#define CDC_TRANSPORTS_KINESIS_KINESIS_H

#include <stdbool.h>
#include <stddef.h>

#include "agent/core/cdc_retry.h"
#include "agent/core/dest/cdc_dest.h"
#include "schemas/avro.h"
#include "schemas/registry.h"

/* Kinesis's own limits (PutRecords). */
#define DEST_KINESIS_MAX_RECORDS   500
#define DEST_KINESIS_MAX_REQUEST   (5u * 1024 * 1024)     /* data + partition keys */
#define DEST_KINESIS_MAX_RECORD    (1024u * 1024)         /* data + partition key */
#define DEST_KINESIS_MAX_PKEY      256                    /* characters */

/* What the registry hands to open (all borrowed for the call). */
typedef struct dest_kinesis_conf {
    const char          *region;          /* NULL or "": the AWS chain's (see kinesis.c) */
    const char          *profile;         /* NULL: AWS_PROFILE, else "default" */
    const char          *topic_prefix;    /* stream names: "<prefix>-<schema>-<table>" */
    int                  shard_count;     /* for streams created here; <= 0: 1 */
    bool                 dlq_enabled;
    const char          *dlq_suffix;      /* "<stream>-<suffix>"; NULL: "dlq" */
    int                  dlq_shard_count; /* <= 0: 1 */
    int                  batch_size;      /* records per PutRecords, capped at 500; <= 0: 500 */
    double               batch_timeout_s; /* see kinesis.c: records never wait for a batch */
    int                  max_in_flight;   /* PutRecords requests at once; <= 0: 8 */
    size_t               max_bytes;       /* bytes of records held (waiting or in flight); 0: 64 MiB */
    int                  max_records;     /* records held; <= 0: 100000 */
    int                  timeout_ms;      /* each request; <= 0: 30000 */
    cdc_retry_conf       retry;           /* backoff between attempts (max_attempts unused:
                                             a record is retried until it lands) */
    bool                 json_schemas_enable;
    const sr_conf       *registry;        /* non-NULL: Avro values and keys */
    const sch_avro_opts *avro;
    bool                 stop_on_incompatible_schema;
    bool                 provide_transaction_metadata;  /* BEGIN/END in "<prefix>-transaction" */
    const char          *checkpoint_table;  /* DynamoDB table (kinesis_ckpt.c) */
    int                  checkpoint_ttl_s;
    const char          *pipeline_id;     /* NULL: env->pipeline_id */
    char *const         *tables;          /* source.tables ("schema.table"): streams made at open */
    int                  ntables;
} dest_kinesis_conf;

extern const cdc_dest_ops dest_kinesis_ops;

/*
 * The partition key Kinesis gets for a serialized key of klen bytes: the key
 * text itself when it has at most 256 characters (code points), else the
 * lowercase hex SHA-256 of it (64 characters).  A null key is "default", as
 * Debezium Server's null.key.  out must hold DEST_KINESIS_MAX_PKEY * 4 + 1
 * bytes.  @returns the length written.
 */
size_t dest_kinesis_partition_key(const char *key, size_t klen, bool null_key, char *out,
                                  size_t outsz);

/*
 * The partition key of an Avro key (Confluent framing: magic byte, 4-byte
 * schema id, Avro binary): a partition key is Unicode text, so the Avro
 * bytes after the 5-byte header (the same for the same key values whatever
 * the schema id) are given as standard base64 when that is at most 256
 * characters (keys up to 192 bytes), else as the hex SHA-256 of them.
 * @returns the length written (out as above).
 */
size_t dest_kinesis_partition_key_bin(const void *key, size_t klen, char *out, size_t outsz);

#endif

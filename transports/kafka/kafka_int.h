/*
 * The Kafka destination's inside, shared by its files and by nothing outside
 * transports/kafka/ (the interface is kafka.h):
 *   kafka.c         the destination: open, write, commit_txn, progress, flush,
 *                   heartbeat, health, close
 *   kafka_conf.c    librdkafka configuration: our producer defaults, the
 *                   cluster's settings, properties that would void durability
 *   kafka_topic.c   topics: names, partitions, the table of open topics, creation
 *   kafka_delivery.c what comes back: delivery reports, client errors, the
 *                   failure state, dead letters, and reading back the first
 *                   acknowledged record of each partition
 *   kafka_resume.c  restart: what the partitions already hold (resume_from)
 *   kafka_stats.c   librdkafka's statistics (statistics.interval.ms) as log lines
 * Everything runs on the agent's main loop (librdkafka's callbacks run inside
 * rd_kafka_poll/flush), so nothing here locks.
 */
#ifndef CDC_TRANSPORTS_KAFKA_KAFKA_INT_H
#define CDC_TRANSPORTS_KAFKA_KAFKA_INT_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/core/cdc_buf.h"
#include "agent/core/cdc_err.h"
#include "agent/core/cdc_event.h"
#include "agent/core/dest/acks.h"
#include "agent/core/dest/cdc_dest.h"
#include "agent/core/dest/status.h"
#include "schemas/message.h"
#include "transports/kafka/kafka.h"
#include "transports/kafka/kafka_resume.h"

#define KAFKA_FAC        "dest.kafka"
#define KAFKA_META_MS    10000  /* metadata, admin and watermark requests */
#define KAFKA_RESUME_MS  20000  /* reading the last records at start */
#define KAFKA_TX_TOPIC   SCH_MSG_TX_TOPIC  /* Debezium's topic.transaction default */

/* A topic this destination writes, with what resume found in it. */
typedef struct kafka_topic {
    char             *name;
    rd_kafka_topic_t *rkt;
    int32_t           nparts;
    kafka_held       *held;     /* per partition, from resume; NULL: nothing held */
    bool             *checked;  /* per partition: its first acknowledged record was read back */
    bool              dlq_ready;
} kafka_topic;

/* A first acknowledged record of a partition, to be read back (kafka_check_delivered). */
typedef struct kafka_check {
    kafka_topic      *t;
    rd_kafka_topic_t *crkt;     /* the topic on the reading consumer */
    int32_t           part;
    int64_t           offset;
    cdc_pos           want;
    uint64_t          slot;
} kafka_check;

typedef struct kafka {
    rd_kafka_t     *rk;
    const char     *id;
    char           *prefix;
    char           *database;
    char           *dlq_suffix;
    bool            dlq_enabled;
    int             nparts_new, rf_new;
    sch_msg_enc    *enc;                /* the records (schemas/message.h): JSON or Avro */
    rd_kafka_conf_t *base_conf;         /* bootstrap + security + properties, for the resume consumer */
    rd_kafka_t     *check_rk;           /* reads first records back (kafka_check_delivered) */
    kafka_check    *checks;             /* ... those not read back yet */
    size_t          nchecks;
    size_t          unchecked;          /* partitions whose first record is not read back yet */
    bool            wrote;              /* a record produced since the last progress() */
    kafka_topic   **topics;             /* open addressing, cap a power of two */
    size_t          ntopics, topics_cap;
    dest_acks       acks;               /* positions in flight; its durable is ours */
    uint64_t        nrecords, nskipped, ndlq, nheartbeats;
    uint64_t        resume_lsn;         /* env->resume_lsn: the slot's position at start */
    kafka_topic    *hb_topic;           /* "__debezium-heartbeat.{prefix}", at first heartbeat */
    bool            tx_on;              /* provide_transaction_metadata (counted in enc) */
    char          **tables;             /* topics to create at start (owned) */
    int             ntables;
    /* fatal: failed for good (the first cause); failing: librdkafka reported a
       broker or transport error it keeps retrying (degraded until a flush succeeds) */
    dest_status     st;
} kafka;

/* Delivery-report tags: (slot << 1) | is_dead_letter, or this for heartbeats. */
#define KAFKA_TAG_HEARTBEAT UINTPTR_MAX

/* kafka_conf.c */
int              kafka_conf_set(rd_kafka_conf_t *conf, const char *name, const char *value,
                                cdc_err *err);
rd_kafka_conf_t *kafka_conf_base(const dest_kafka_cluster *kc, cdc_err *err);
int              kafka_check_props(const dest_kafka_cluster *kc, cdc_err *err);
rd_kafka_conf_t *kafka_conf_producer(kafka *k, const dest_kafka_cluster *kc, cdc_err *err);

/* kafka_stats.c: statistics.interval.ms's JSON as log lines */
int kafka_stats_line(const char *json, size_t len, cdc_buf *out);
int kafka_stats_cb(rd_kafka_t *rk, char *json, size_t len, void *opaque);

/* kafka_topic.c */
kafka_topic *kafka_topic_find(kafka *k, const char *name);
kafka_topic *kafka_topic_add(kafka *k, const char *name, int32_t nparts, bool read_back);
int          kafka_create_topic(kafka *k, const char *name, int nparts, cdc_err *err);
int32_t      kafka_topic_nparts(kafka *k, const char *name, int tries, bool led, cdc_err *err);
kafka_topic *kafka_topic_get(kafka *k, const char *name, cdc_err *err);
bool         kafka_ours(const kafka *k, const char *name);
void         kafka_create_known(kafka *k);
int32_t      kafka_partition(const kafka_topic *t, const cdc_event *ev, const void *key,
                             size_t klen, bool nullkey);

/* kafka_delivery.c */
/* Fails the destination for good; the first cause is kept and logged. */
void kafka_set_fatal(kafka *k, const char *fmt, ...) CDC_PRINTF(2, 3);
void kafka_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque);
void kafka_error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque);
/* Per-record refusals that no retry can fix: such a record goes to the DLQ. */
bool kafka_err_permanent(rd_kafka_resp_err_t e);
int  kafka_dlq(kafka *k, const char *topic, int32_t part, const void *key, size_t klen,
               const void *val, size_t vlen, rd_kafka_headers_t *hdrs, rd_kafka_resp_err_t why,
               uint64_t slot);
void kafka_check_drop(kafka *k, size_t i);
bool kafka_check_delivered(kafka *k, const rd_kafka_message_t *m, uint64_t slot);
void kafka_checks_poll(kafka *k);

/* kafka_resume.c */
int  kafka_resume_from(cdc_dest *d, cdc_pos *last_done, cdc_err *err);

#endif

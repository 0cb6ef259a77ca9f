/*
 * The Kafka destination (see kafka.h and docs/kafka.md).  One idempotent
 * librdkafka producer with acks=all; records are produced with F_COPY since
 * the event memory is an arena reset once write() returns.
 *
 * Durability.  Every position handed to the producer gets a slot in `acks`
 * (core/dest's in-flight ring; the slot's ticket tags the record), in
 * produce order; commit_txn() adds (commit_lsn, CDC_SEQ_END), which needs
 * no acknowledgement of its own.  Delivery reports arrive out of order
 * across partitions and mark their slot done; the durable position is the
 * newest slot that is done together with all older ones (bottledwater's
 * maybe_checkpoint).  Delivery reports run inside rd_kafka_poll() and
 * rd_kafka_flush(), so on the main loop: nothing here locks.
 *
 * Partitions.  The partition is chosen here, not by librdkafka, with its
 * Java-compatible rd_kafka_msg_partitioner_murmur2() on the serialised key
 * (what the Java producer's default partitioner does for a non-null key).
 * Records without a key get a partition derived from their position, so a
 * re-sent event lands where its first copy did.
 *
 * Restart.  resume_from() collects the positions each partition of
 * "{prefix}.*" holds at or after the slot's confirmed position (everything
 * PostgreSQL will send again) and reports {0,0}; write() then skips exactly
 * the events their partition already holds, so a restart loses and repeats
 * nothing, even where a failed delivery left a hole before later records.
 * The position headers and the backwards scan are in kafka_resume.c.
 */
#include "transports/kafka/kafka.h"

#include <inttypes.h>
#include <stdarg.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/core/cdc_buf.h"
#include "agent/core/cdc_clock.h"
#include "agent/core/cdc_log.h"
#include "agent/core/cdc_mem.h"
#include "agent/core/dest/acks.h"
#include "agent/core/dest/status.h"
#include "schemas/json.h"
#include "schemas/topic.h"
#include "transports/kafka/kafka_avro.h"
#include "transports/kafka/kafka_resume.h"
#include "transports/kafka/kafka_txmeta.h"

#define KAFKA_FAC        "dest.kafka"
#define KAFKA_META_MS    10000  /* metadata, admin and watermark requests */
#define KAFKA_RESUME_MS  20000  /* reading the last records at start */
#define KAFKA_HB_PREFIX  "__debezium-heartbeat"
#define KAFKA_TX_TOPIC   "transaction"  /* Debezium's topic.transaction default */
/* Position headers of the transaction topic's records: BEGIN and END of the
   transaction committing at cdc.commit_lsn (no event uses these ordinals). */
#define KAFKA_SEQ_TX_BEGIN (CDC_SEQ_END - 3)
#define KAFKA_SEQ_TX_END   (CDC_SEQ_END - 2)
/* Delivery-report tags: (slot << 1) | is_dead_letter, or this for heartbeats. */
#define KAFKA_TAG_HEARTBEAT UINTPTR_MAX

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

/* JSON with schemas: the Connect schema nodes of one relation version, rendered once. */
typedef struct kafka_schemas {
    struct kafka_schemas *next;
    uint32_t              relid, version;
    char                 *key, *value;
} kafka_schemas;

#define KAFKA_SCHEMA_BUCKETS 256
/* A full producer buffer: how long a write waits for room, polling in steps,
   before it hands the backpressure to the router. */
#define KAFKA_FULL_WAIT_MS 500
#define KAFKA_FULL_POLL_MS 5

typedef struct kafka {
    rd_kafka_t     *rk;
    const char     *id;
    char           *prefix;
    char           *database;
    char           *dlq_suffix;
    bool            dlq_enabled;
    int             nparts_new, rf_new;
    sch_json_opts   jopts, key_opts;    /* key_opts: payload only, for headers */
    kafka_avro     *avro;               /* serialization avro; NULL: JSON */
    kafka_schemas  *schemas[KAFKA_SCHEMA_BUCKETS];
    rd_kafka_conf_t *base_conf;         /* bootstrap + security + properties, for the resume consumer */
    rd_kafka_t     *check_rk;           /* reads first records back (kafka_check_delivered) */
    kafka_check    *checks;             /* ... those not read back yet */
    size_t          nchecks;
    size_t          unchecked;          /* partitions whose first record is not read back yet */
    bool            wrote;              /* a record produced since the last progress() */
    kafka_topic   **topics;             /* open addressing, cap a power of two */
    size_t          ntopics, topics_cap;
    dest_acks       acks;               /* positions in flight; its durable is ours */
    cdc_buf         kbuf, vbuf, hbuf;
    uint64_t        nrecords, nskipped, ndlq, nheartbeats;
    uint64_t        resume_lsn;         /* env->resume_lsn: the slot's position at start */
    kafka_topic    *hb_topic;           /* "__debezium-heartbeat.{prefix}", at first heartbeat */
    bool            tx_on;              /* provide_transaction_metadata */
    ktx             tx;                 /* ... the transaction being counted */
    uint32_t        tx_key_id, tx_value_id;     /* Avro: its subjects' ids, once registered */
    bool            tx_registered;
    char          **tables;             /* topics to create at start (owned) */
    int             ntables;
    /* fatal: failed for good (the first cause); failing: librdkafka reported a
       broker or transport error it keeps retrying (degraded until a flush succeeds) */
    dest_status     st;
} kafka;

/* ------------------------------------------------------------------ */
/* Failure bookkeeping                                                 */
/* ------------------------------------------------------------------ */

static void
kafka_set_fatal(kafka *k, const char *fmt, ...) CDC_PRINTF(2, 3);

static void
kafka_set_fatal(kafka *k, const char *fmt, ...)
{
    char    msg[sizeof(k->st.lasterr)];
    va_list ap;

    if (k->st.fatal)
        return;     /* the first cause is the one worth reporting */
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    dest_status_fatal(&k->st, "%s", msg);
    log_error(KAFKA_FAC, "%s", msg);
}

/* Per-record refusals that no retry can fix: such a record goes to the DLQ. */
static bool
kafka_err_permanent(rd_kafka_resp_err_t e)
{
    switch (e) {
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:
    case RD_KAFKA_RESP_ERR_INVALID_MSG:
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
        return true;
    default:
        return false;
    }
}

/* ------------------------------------------------------------------ */
/* Dead letters                                                        */
/* ------------------------------------------------------------------ */

static void
kafka_hdr_str(rd_kafka_headers_t *h, const char *name, const char *v)
{
    rd_kafka_header_add(h, name, -1, v, -1);
}

static void
kafka_hdr_i64(rd_kafka_headers_t *h, const char *name, int64_t v)
{
    char tmp[24];

    snprintf(tmp, sizeof(tmp), "%" PRId64, v);
    rd_kafka_header_add(h, name, -1, tmp, -1);
}

/*
 * Sends a refused record to "{topic}.{dlq_suffix}" with the platform's
 * diagnostic headers, under the same slot: the slot is done when the DLQ
 * write is acked.  A value that was refused for its size is left out (it
 * would be refused again); the error message says so.
 * @param hdrs  taken: owned by the DLQ record or freed, even on failure.
 * @returns 0, or -1 with the destination failed.
 */
static int
kafka_dlq(kafka *k, const char *topic, int32_t part, const void *key, size_t klen,
          const void *val, size_t vlen, rd_kafka_headers_t *hdrs, rd_kafka_resp_err_t why,
          uint64_t slot)
{
    char                dlq[320], msg[200];
    bool                size = why == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE ||
                               why == RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE;
    rd_kafka_resp_err_t e;

    if (!k->dlq_enabled) {
        rd_kafka_headers_destroy(hdrs);
        kafka_set_fatal(k, "kafka %s partition %d: record refused (%s) and dlq is disabled",
                        topic, (int) part, rd_kafka_err2str(why));
        return -1;
    }
    snprintf(dlq, sizeof(dlq), "%s.%s", topic, k->dlq_suffix);
    if (size)
        snprintf(msg, sizeof(msg), "%s (value of %zu bytes dropped from the dead letter)",
                 rd_kafka_err2str(why), vlen);
    else
        snprintf(msg, sizeof(msg), "%s", rd_kafka_err2str(why));
    if (hdrs == NULL)
        hdrs = rd_kafka_headers_new(8);
    kafka_hdr_str(hdrs, "dlq.source_topic", topic);
    kafka_hdr_i64(hdrs, "dlq.source_partition", part);
    kafka_hdr_i64(hdrs, "dlq.source_offset", -1);   /* the record never got one */
    kafka_hdr_str(hdrs, "dlq.error_type", rd_kafka_err2name(why));
    kafka_hdr_str(hdrs, "dlq.error_message", msg);
    kafka_hdr_str(hdrs, "dlq.stacktrace", "");
    kafka_hdr_i64(hdrs, "dlq.timestamp", cdc_wall_ms());
    kafka_hdr_str(hdrs, "dlq.sink_id", k->id ? k->id : "kafka");
    e = rd_kafka_producev(k->rk, RD_KAFKA_V_TOPIC(dlq), RD_KAFKA_V_PARTITION(RD_KAFKA_PARTITION_UA),
                          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                          RD_KAFKA_V_KEY((void *) key, klen),
                          RD_KAFKA_V_VALUE(size ? NULL : (void *) val, size ? 0 : vlen),
                          RD_KAFKA_V_HEADERS(hdrs),
                          RD_KAFKA_V_OPAQUE((void *) (uintptr_t) ((slot << 1) | 1)),
                          RD_KAFKA_V_END);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        rd_kafka_headers_destroy(hdrs);
        kafka_set_fatal(k, "kafka %s: writing the dead letter failed: %s", dlq,
                        rd_kafka_err2str(e));
        return -1;
    }
    k->ndlq++;
    log_warn(KAFKA_FAC, "%s partition %d: record refused (%s); sent to %s", topic, (int) part,
             rd_kafka_err2str(why), dlq);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Reading back the first acknowledged record of each partition        */
/* ------------------------------------------------------------------ */

static kafka_topic *kafka_topic_find(kafka *k, const char *name);
static int kafka_conf_set(rd_kafka_conf_t *conf, const char *name, const char *value,
                          cdc_err *err);

/*
 * Twice in this project's fault tests the first records a new producer sent
 * to a partition were acknowledged (delivery report without error) and yet
 * never stored; the slot would have been confirmed past them.  The cause
 * lies in the client (librdkafka 2.0.2, idempotent, a broker that had just
 * started) and was not pinned down.  So the first record each producer
 * instance gets acknowledged on a partition is read back at the offset the
 * broker reported, and its position headers are compared with what was
 * sent.  Until then its slot stays unfinished, so nothing past it is
 * confirmed.  The reading never blocks: a consumer (the simple one, without
 * group assignment: rebalancing assign() calls made librdkafka 2.0.2 abort)
 * fetches each pending offset and is polled with the producer (on every
 * write while one is pending).  A different record at that offset stops the
 * agent: the restart sends it again, and resume fills the hole.
 */

/* Stops reading check i and forgets it. */
static void
kafka_check_drop(kafka *k, size_t i)
{
    rd_kafka_consume_stop(k->checks[i].crkt, k->checks[i].part);
    rd_kafka_topic_destroy(k->checks[i].crkt);
    k->checks[i] = k->checks[--k->nchecks];
}

/* Checks the delivered record m if it is the first of its partition.
   @returns true when its slot may be finished now. */
static bool
kafka_check_delivered(kafka *k, const rd_kafka_message_t *m, uint64_t slot)
{
    kafka_topic        *t;
    rd_kafka_headers_t *h = NULL;
    kafka_check         c;
    char                errstr[256] = "";

    if (k->unchecked == 0)
        return true;    /* every partition known has been read back: no lookup per record */
    t = kafka_topic_find(k, rd_kafka_topic_name(m->rkt));
    if (t == NULL || m->partition < 0 || m->partition >= t->nparts)
        return true;
    if (t->checked == NULL)
        t->checked = cdc_xcalloc((size_t) t->nparts, sizeof(*t->checked));
    if (t->checked[m->partition])
        return true;
    t->checked[m->partition] = true;
    k->unchecked--;
    c = (kafka_check) { .t = t, .part = m->partition, .offset = m->offset, .slot = slot };
    if (rd_kafka_message_headers(m, &h) != RD_KAFKA_RESP_ERR_NO_ERROR ||
        !kafka_hdr_pos(h, &c.want))
        return true;    /* nothing to compare with */
    if (m->offset < 0) {
        kafka_set_fatal(k, "kafka %s partition %d: the broker acknowledged position "
                        CDC_LSN_FMT " #%llu without an offset; stopping before the slot moves "
                        "past it (a restart sends it again)", t->name, (int) m->partition,
                        CDC_LSN_ARGS(c.want.lsn), (unsigned long long) c.want.seq);
        return false;
    }
    if (k->check_rk == NULL) {
        rd_kafka_conf_t *cc = rd_kafka_conf_dup(k->base_conf);

        if (kafka_conf_set(cc, "enable.auto.commit", "false", NULL) ||
            (k->check_rk = rd_kafka_new(RD_KAFKA_CONSUMER, cc, errstr, sizeof(errstr))) == NULL) {
            rd_kafka_conf_destroy(cc);
            kafka_set_fatal(k, "kafka: cannot read records back: %s", errstr);
            return false;
        }
    }
    c.crkt = rd_kafka_topic_new(k->check_rk, t->name, NULL);
    if (c.crkt == NULL || rd_kafka_consume_start(c.crkt, c.part, c.offset) != 0) {
        kafka_set_fatal(k, "kafka %s partition %d: cannot read offset %" PRId64 " back: %s",
                        t->name, (int) c.part, c.offset, rd_kafka_err2str(rd_kafka_last_error()));
        if (c.crkt)
            rd_kafka_topic_destroy(c.crkt);
        return false;
    }
    k->checks = cdc_xrealloc(k->checks, (k->nchecks + 1) * sizeof(*k->checks));
    k->checks[k->nchecks++] = c;
    return false;
}

/* Serves the read-backs that have arrived; never waits. */
static void
kafka_checks_poll(kafka *k)
{
    for (size_t i = 0; i < k->nchecks && !k->st.fatal;) {
        kafka_check        *c = &k->checks[i];
        rd_kafka_message_t *r;
        int                 verdict = 0;     /* 1: there, -1: another record there */

        while (verdict == 0 && (r = rd_kafka_consume(c->crkt, c->part, 0)) != NULL) {
            rd_kafka_headers_t *rh = NULL;
            cdc_pos             got = { 0, 0 };

            if (r->err == RD_KAFKA_RESP_ERR_NO_ERROR && r->offset == c->offset)
                verdict = rd_kafka_message_headers(r, &rh) == RD_KAFKA_RESP_ERR_NO_ERROR &&
                                  kafka_hdr_pos(rh, &got) && cdc_pos_cmp(got, c->want) == 0
                              ? 1 : -1;
            rd_kafka_message_destroy(r);
        }
        if (verdict == 0) {
            i++;
            continue;
        }
        if (verdict > 0)
            dest_acks_done(&k->acks, c->slot);
        else
            kafka_set_fatal(k, "kafka %s partition %d: the broker acknowledged position "
                            CDC_LSN_FMT " #%llu at offset %" PRId64 " but another record is "
                            "there; stopping before the slot moves past it (a restart sends "
                            "it again)", c->t->name, (int) c->part, CDC_LSN_ARGS(c->want.lsn),
                            (unsigned long long) c->want.seq, c->offset);
        kafka_check_drop(k, i);
    }
}

/* ------------------------------------------------------------------ */
/* librdkafka callbacks (run inside rd_kafka_poll/flush: main loop)    */
/* ------------------------------------------------------------------ */

static void
kafka_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    kafka              *k = opaque;
    uintptr_t           tag = (uintptr_t) m->_private;
    uint64_t            slot = (uint64_t) tag >> 1;
    bool                is_dlq = tag & 1;
    rd_kafka_headers_t *h = NULL;

    (void) rk;
    if (tag == KAFKA_TAG_HEARTBEAT) {
        /* Outside the event stream: a lost heartbeat loses no change. */
        if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR)
            log_warn(KAFKA_FAC, "%s: heartbeat not delivered: %s", rd_kafka_topic_name(m->rkt),
                     rd_kafka_err2str(m->err));
        return;
    }
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        /* Until its first record is read back, a partition's slot stays unfinished. */
        if (is_dlq || kafka_check_delivered(k, m, slot))
            dest_acks_done(&k->acks, slot);
        return;
    }
    if (is_dlq || !kafka_err_permanent(m->err)) {
        kafka_set_fatal(k, "kafka %s partition %d: delivery failed: %s%s",
                        rd_kafka_topic_name(m->rkt), (int) m->partition,
                        rd_kafka_err2str(m->err), is_dlq ? " (dead letter)" : "");
        return;
    }
    if (rd_kafka_message_headers(m, &h) == RD_KAFKA_RESP_ERR_NO_ERROR)
        h = rd_kafka_headers_copy(h);
    else
        h = NULL;
    kafka_dlq(k, rd_kafka_topic_name(m->rkt), m->partition, m->key, m->key_len, m->payload,
              m->len, h, m->err, slot);
}

static void
kafka_error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    kafka *k = opaque;
    char   buf[200];

    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        rd_kafka_resp_err_t e = rd_kafka_fatal_error(rk, buf, sizeof(buf));

        kafka_set_fatal(k, "kafka producer fatal error: %s: %s", rd_kafka_err2name(e), buf);
        return;
    }
    /* Broker down, transport errors: librdkafka keeps retrying; the agent
       waits (backpressure) and health() says why. */
    if (!k->st.fatal)  /* the message kept stays the fatal one */
        dest_status_failing(&k->st, "%s: %s", rd_kafka_err2name((rd_kafka_resp_err_t) err),
                            reason);
    log_warn(KAFKA_FAC, "%s: %s", rd_kafka_err2name((rd_kafka_resp_err_t) err), reason);
}

/* ------------------------------------------------------------------ */
/* Configuration                                                       */
/* ------------------------------------------------------------------ */

static bool
kafka_secret(const char *name)
{
    return strstr(name, "password") != NULL || strstr(name, "secret") != NULL ||
           strcmp(name, "sasl.oauthbearer.config") == 0;
}

static int
kafka_conf_set(rd_kafka_conf_t *conf, const char *name, const char *value, cdc_err *err)
{
    char errstr[256];

    if (value == NULL)
        return 0;
    if (rd_kafka_conf_set(conf, name, value, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK)
        return cdc_err_set(err, CDC_E_CONFIG, "kafka property %s%s%s: %s", name,
                           kafka_secret(name) ? "" : "=", kafka_secret(name) ? "" : value,
                           errstr);
    return 0;
}

/* auth_mechanism as the platform names it -> sasl.mechanism. */
static int
kafka_conf_auth(rd_kafka_conf_t *conf, const dest_kafka_cluster *kc, cdc_err *err)
{
    static const struct { const char *cfg, *sasl; } mechs[] = {
        { "sasl_plain", "PLAIN" },           { "sasl_scram_256", "SCRAM-SHA-256" },
        { "sasl_scram_512", "SCRAM-SHA-512" }, { "sasl_oauthbearer", "OAUTHBEARER" },
    };
    const char *m = kc->auth_mechanism;

    if (m == NULL || strcmp(m, "none") == 0)
        return 0;
    if (strcmp(m, "sasl_iam") == 0)
        return cdc_err_set(err, CDC_E_UNSUPPORTED,
                           "kafka.auth_mechanism sasl_iam (AWS MSK IAM) is not built yet");
    for (size_t i = 0; i < sizeof(mechs) / sizeof(mechs[0]); i++)
        if (strcmp(m, mechs[i].cfg) == 0)
            return kafka_conf_set(conf, "sasl.mechanism", mechs[i].sasl, err) ||
                           kafka_conf_set(conf, "sasl.username", kc->sasl_username, err) ||
                           kafka_conf_set(conf, "sasl.password", kc->sasl_password, err)
                       ? -1
                       : 0;
    return cdc_err_set(err, CDC_E_CONFIG, "kafka.auth_mechanism %s: unknown", m);
}

/*
 * librdkafka's own log lines (called from its threads; cdc_log writes each
 * line with one write()).  Syslog levels: 0-3 error, 4 warning, 5-6 info.
 * The consumers that read records back share the producer's properties, so
 * librdkafka's remark that a producer property means nothing to a consumer
 * is dropped.
 */
static void
kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    cdc_level lvl = level <= 3 ? CDC_LOG_ERROR : level == 4 ? CDC_LOG_WARN
                  : level <= 6 ? CDC_LOG_INFO : CDC_LOG_DEBUG;

    if (rd_kafka_type(rk) == RD_KAFKA_CONSUMER && strcmp(fac, "CONFWARN") == 0 &&
        strstr(buf, "is a producer property") != NULL)
        return;
    cdc_log(lvl, KAFKA_FAC, "librdkafka %s %s: %s", rd_kafka_name(rk), fac, buf);
}

/*
 * The connection settings shared by the producer and the resume consumer:
 * bootstrap servers, security, then kafka.properties as given (last, so they
 * override our defaults).
 */
static int
kafka_conf_apply(rd_kafka_conf_t *conf, const dest_kafka_cluster *kc, cdc_err *err)
{
    if (kc->bootstrap_servers == NULL || kc->bootstrap_servers[0] == '\0')
        return cdc_err_set(err, CDC_E_CONFIG, "kafka.bootstrap_servers is required");
    rd_kafka_conf_set_log_cb(conf, kafka_log_cb);
    if (kafka_conf_set(conf, "bootstrap.servers", kc->bootstrap_servers, err) ||
        kafka_conf_set(conf, "client.id", "cdcagent", err) ||
        kafka_conf_set(conf, "security.protocol", kc->security_protocol, err) ||
        kafka_conf_set(conf, "ssl.ca.location", kc->ssl_ca_location, err) ||
        kafka_conf_set(conf, "ssl.certificate.location", kc->ssl_certificate_location, err) ||
        kafka_conf_set(conf, "ssl.key.location", kc->ssl_key_location, err) ||
        kafka_conf_auth(conf, kc, err))
        return -1;
    for (int i = 0; i < kc->properties.n; i++)
        if (kafka_conf_set(conf, kc->properties.items[i].key, kc->properties.items[i].value,
                           err))
            return -1;
    return 0;
}

static rd_kafka_conf_t *
kafka_conf_base(const dest_kafka_cluster *kc, cdc_err *err)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();

    if (kafka_conf_apply(conf, kc, err) == 0)
        return conf;
    rd_kafka_conf_destroy(conf);
    return NULL;
}

/* Properties that would void the durability and ordering this file relies on. */
static int
kafka_check_props(const dest_kafka_cluster *kc, cdc_err *err)
{
    for (int i = 0; i < kc->properties.n; i++) {
        const char *n = kc->properties.items[i].key, *v = kc->properties.items[i].value;

        if ((strcmp(n, "acks") == 0 || strcmp(n, "request.required.acks") == 0) &&
            strcmp(v, "all") != 0 && strcmp(v, "-1") != 0)
            return cdc_err_set(err, CDC_E_CONFIG, "kafka property %s=%s: the agent needs "
                               "acks=all to count a record as durable", n, v);
        if (strcmp(n, "enable.idempotence") == 0 && strcmp(v, "true") != 0)
            return cdc_err_set(err, CDC_E_CONFIG, "kafka property %s=%s: the agent needs the "
                               "idempotent producer (ordered, no duplicates per partition)", n, v);
        if (strcmp(n, "transactional.id") == 0)
            return cdc_err_set(err, CDC_E_CONFIG, "kafka property %s: Kafka transactions are "
                               "not used (see docs/kafka.md)", n);
    }
    return 0;
}

static rd_kafka_conf_t *
kafka_conf_producer(kafka *k, const dest_kafka_cluster *kc, cdc_err *err)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();

    /* Our defaults first, so kafka.properties can override what it may
       (linger, compression, sizes); kafka_check_props() guards the rest. */
    if (kafka_conf_set(conf, "enable.idempotence", "true", err) ||
        kafka_conf_set(conf, "acks", "all", err) ||
        kafka_conf_set(conf, "partitioner", "murmur2_random", err) ||
        /* While a request is in flight and a batch waits, librdkafka's broker thread
           sleeps until the oldest waiting record is linger.ms old, then polls without
           sleeping until the response comes.  Under load records wait longer than
           5 ms, so that thread spun (JSON: 713k poll calls for 200k rows, 43% of the
           agent's CPU).  100 ms keeps it asleep.  When the stream goes idle,
           progress() flushes, so light traffic does not wait for the linger. */
        kafka_conf_set(conf, "linger.ms", "100", err) ||
        /* No compression, like Debezium's producer (Connect's compression.type
           none): every consumer that read Debezium's topics reads these, including
           clients without an lz4 codec (kafkajs: "LZ4 compression not implemented").
           lz4 is one property away (docs/kafka.md): JSON with schemas is repetitive
           and a partition moves one batch.size per round trip, so lz4 takes the
           1M-row bench from 2.1x to ~6x Debezium's rows/s (3.2 GB -> 157 MB). */
        kafka_conf_set(conf, "compression.codec", "none", err) ||
        /* Bound the producer's own buffer (librdkafka's default is 1 GiB): past it,
           writes report a full queue and the agent waits (kafka_bench: 397 -> 56 MiB). */
        kafka_conf_set(conf, "queue.buffering.max.kbytes", "32768", err) ||
        /* Topics are created here with the configured partition count, never
           by the broker's auto-creation with its defaults. */
        kafka_conf_set(conf, "allow.auto.create.topics", "false", err) ||
        /* 0 is infinite: a broker that is down makes the agent wait, never drop. */
        kafka_conf_set(conf, "message.timeout.ms", "0", err))
        goto fail;
    if (kafka_conf_apply(conf, kc, err) != 0)
        goto fail;
    rd_kafka_conf_set_opaque(conf, k);
    rd_kafka_conf_set_dr_msg_cb(conf, kafka_dr_cb);
    rd_kafka_conf_set_error_cb(conf, kafka_error_cb);
    return conf;
fail:
    rd_kafka_conf_destroy(conf);
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Topics                                                              */
/* ------------------------------------------------------------------ */

static uint64_t
kafka_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;

    for (; *s; s++)
        h = (h ^ (uint8_t) *s) * 1099511628211ULL;
    return h;
}

static kafka_topic *
kafka_topic_find(kafka *k, const char *name)
{
    if (k->topics_cap == 0)
        return NULL;
    for (size_t i = kafka_hash(name) & (k->topics_cap - 1);; i = (i + 1) & (k->topics_cap - 1)) {
        if (k->topics[i] == NULL)
            return NULL;
        if (strcmp(k->topics[i]->name, name) == 0)
            return k->topics[i];
    }
}

static void
kafka_topic_insert(kafka *k, kafka_topic *t)
{
    if ((k->ntopics + 1) * 2 > k->topics_cap) {
        size_t        cap = k->topics_cap ? k->topics_cap * 2 : 16;
        kafka_topic **old = k->topics;
        size_t        oldcap = k->topics_cap;

        k->topics = cdc_xcalloc(cap, sizeof(*k->topics));
        k->topics_cap = cap;
        k->ntopics = 0;
        for (size_t i = 0; i < oldcap; i++)
            if (old[i])
                kafka_topic_insert(k, old[i]);
        free(old);
    }
    for (size_t i = kafka_hash(t->name) & (k->topics_cap - 1);; i = (i + 1) & (k->topics_cap - 1))
        if (k->topics[i] == NULL) {
            k->topics[i] = t;
            k->ntopics++;
            return;
        }
}

/* read_back: whether the first record of each partition is read back
   (kafka_check_delivered); counted in k->unchecked until it is. */
static kafka_topic *
kafka_topic_add(kafka *k, const char *name, int32_t nparts, bool read_back)
{
    kafka_topic *t = cdc_xcalloc(1, sizeof(*t));

    t->name = cdc_xstrdup(name);
    t->nparts = nparts;
    t->rkt = rd_kafka_topic_new(k->rk, name, NULL);
    kafka_topic_insert(k, t);
    if (read_back)
        k->unchecked += (size_t) nparts;
    return t;
}

/* Creates topic `name` when missing (TOPIC_ALREADY_EXISTS is success). */
static int
kafka_create_topic(kafka *k, const char *name, int nparts, cdc_err *err)
{
    char                  errstr[256];
    rd_kafka_NewTopic_t  *nt;
    rd_kafka_AdminOptions_t *opts = NULL;
    rd_kafka_queue_t     *q = NULL;
    rd_kafka_event_t     *ev = NULL;
    const rd_kafka_topic_result_t **res;
    size_t                nres = 0;
    int                   rc = -1;

    nt = rd_kafka_NewTopic_new(name, nparts, k->rf_new, errstr, sizeof(errstr));
    if (nt == NULL)
        return cdc_err_set(err, CDC_E_CONFIG, "kafka topic %s: %s", name, errstr);
    opts = rd_kafka_AdminOptions_new(k->rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_operation_timeout(opts, KAFKA_META_MS, errstr, sizeof(errstr));
    rd_kafka_AdminOptions_set_request_timeout(opts, KAFKA_META_MS, errstr, sizeof(errstr));
    q = rd_kafka_queue_new(k->rk);
    rd_kafka_CreateTopics(k->rk, &nt, 1, opts, q);
    ev = rd_kafka_queue_poll(q, KAFKA_META_MS + 2000);
    if (ev == NULL) {
        cdc_err_set(err, CDC_E_CONN, "kafka topic %s: CreateTopics timed out", name);
        goto out;
    }
    if (rd_kafka_event_error(ev)) {
        rd_kafka_resp_err_t e = rd_kafka_event_error(ev);

        cdc_err_set(err, e == RD_KAFKA_RESP_ERR__TIMED_OUT || e == RD_KAFKA_RESP_ERR__TRANSPORT
                    ? CDC_E_CONN : CDC_E_DEST, "kafka topic %s: CreateTopics: %s", name,
                    rd_kafka_event_error_string(ev));
        goto out;
    }
    res = rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &nres);
    if (nres == 1 && rd_kafka_topic_result_error(res[0]) != RD_KAFKA_RESP_ERR_NO_ERROR &&
        rd_kafka_topic_result_error(res[0]) != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
        cdc_err_set(err, CDC_E_DEST, "kafka topic %s: CreateTopics: %s", name,
                    rd_kafka_topic_result_error_string(res[0]));
        goto out;
    }
    if (nres == 1 && rd_kafka_topic_result_error(res[0]) == RD_KAFKA_RESP_ERR_NO_ERROR)
        log_info(KAFKA_FAC, "%s: created with %d partitions, replication factor %d", name,
                 k->nparts_new, k->rf_new);
    rc = 0;
out:
    if (ev)
        rd_kafka_event_destroy(ev);
    if (q)
        rd_kafka_queue_destroy(q);
    rd_kafka_AdminOptions_destroy(opts);
    rd_kafka_NewTopic_destroy(nt);
    return rc;
}

/* Every partition of the topic has a leader (a just-created topic elects them one by one). */
static bool
kafka_md_led(const struct rd_kafka_metadata_topic *mt)
{
    for (int i = 0; i < mt->partition_cnt; i++)
        if (mt->partitions[i].err != RD_KAFKA_RESP_ERR_NO_ERROR || mt->partitions[i].leader < 0)
            return false;
    return true;
}

/*
 * The partition count of `name`, asking up to `tries` times 200 ms apart (a
 * just-created topic takes a moment to show up in the metadata).  With
 * `led`, only once every partition has a leader that answers for it: the
 * first records of a topic are not produced while its partitions are still
 * being set up (240 lost the first record of a partition created that way,
 * in 2 runs of about 20 under load, librdkafka 2.0.2's idempotent producer
 * having reported it delivered; the cause inside the client is not known).
 * @returns the count (> 0), or -1 with err set.
 */
static int32_t
kafka_topic_nparts(kafka *k, const char *name, int tries, bool led, cdc_err *err)
{
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(k->rk, name, NULL);
    int32_t           n = -1;

    for (int attempt = 0; attempt < tries && n < 0; attempt++) {
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t e = rd_kafka_metadata(k->rk, 0, rkt, &md, KAFKA_META_MS);

        if (e == RD_KAFKA_RESP_ERR_NO_ERROR && md->topic_cnt == 1 && md->topics[0].err == 0 &&
            md->topics[0].partition_cnt > 0 && (!led || kafka_md_led(&md->topics[0])))
            n = md->topics[0].partition_cnt;
        /* The metadata names a leader before the leader has set the partition up; a
           ListOffsets answer (it is served by the partition itself) means it has. */
        for (int32_t p = 0; led && n > 0 && p < md->topics[0].partition_cnt; p++) {
            int64_t lo, hi;

            if (rd_kafka_query_watermark_offsets(k->rk, name, p, &lo, &hi, KAFKA_META_MS) !=
                RD_KAFKA_RESP_ERR_NO_ERROR)
                n = -1;
        }
        if (n < 0 && attempt == tries - 1)
            cdc_err_set(err, e ? CDC_E_CONN : CDC_E_DEST, "kafka topic %s: %s", name,
                        e || !md->topic_cnt || md->topics[0].err
                            ? rd_kafka_err2str(e ? e : md->topic_cnt ? md->topics[0].err
                                                                     : RD_KAFKA_RESP_ERR_UNKNOWN)
                            : "its partitions have no leader ready");
        if (md)
            rd_kafka_metadata_destroy(md);
        if (n < 0 && attempt < tries - 1)
            cdc_sleep_ms(200);
    }
    rd_kafka_topic_destroy(rkt);
    return n;
}

/* The topic handle for `name`, creating the topic (and its DLQ) at first use. */
static kafka_topic *
kafka_topic_get(kafka *k, const char *name, cdc_err *err)
{
    kafka_topic *t = kafka_topic_find(k, name);
    int32_t      n;
    char         dlq[320];

    if (t && (t->dlq_ready || !k->dlq_enabled))
        return t;
    /* An existing topic is used as it is (its partition count included):
       creating needs rights a managed cluster may not grant. */
    if (t == NULL) {
        if ((n = kafka_topic_nparts(k, name, 1, false, NULL)) < 0 &&
            (kafka_create_topic(k, name, k->nparts_new, err) != 0 ||
             (n = kafka_topic_nparts(k, name, 50, true, err)) < 0))
            return NULL;
        t = kafka_topic_add(k, name, n, true);
    }
    if (k->dlq_enabled) {
        snprintf(dlq, sizeof(dlq), "%s.%s", name, k->dlq_suffix);
        if (kafka_topic_nparts(k, dlq, 1, false, NULL) < 0 &&
            (kafka_create_topic(k, dlq, k->nparts_new, err) != 0 ||
             kafka_topic_nparts(k, dlq, 50, true, err) < 0))
            return NULL;
        t->dlq_ready = true;
    }
    return t;
}

/* ------------------------------------------------------------------ */
/* open                                                                */
/* ------------------------------------------------------------------ */

static void kafka_free(kafka *k);

static int
kafka_open(cdc_dest *d, const void *conf, const cdc_dest_env *env, cdc_err *err)
{
    const dest_kafka_conf *c = conf;
    rd_kafka_conf_t       *pc;
    kafka                 *k;
    char                   errstr[512];

    if (c == NULL || c->kafka == NULL)
        return cdc_err_set(err, CDC_E_CONFIG, "kafka: the kafka section is required");
    if (c->serialization == DEST_KAFKA_SER_AVRO && (c->registry == NULL || c->avro == NULL))
        return cdc_err_set(err, CDC_E_CONFIG, "kafka: serialization avro needs the Schema "
                           "Registry (kafka.schema_registry_url)");
    if (c->serialization != DEST_KAFKA_SER_JSON && c->serialization != DEST_KAFKA_SER_AVRO)
        return cdc_err_set(err, CDC_E_CONFIG, "kafka: unknown serialization %d",
                           c->serialization);
    if (kafka_check_props(c->kafka, err) != 0)
        return -1;
    k = cdc_xcalloc(1, sizeof(*k));
    k->id = d->id;
    dest_status_init(&k->st, "kafka transport");
    dest_acks_init(&k->acks, (cdc_pos) { 0, 0 });
    k->prefix = cdc_xstrdup(c->topic_prefix ? c->topic_prefix
                            : env && env->topic_prefix ? env->topic_prefix : "");
    k->dlq_suffix = cdc_xstrdup(c->dlq_suffix && c->dlq_suffix[0] ? c->dlq_suffix : "dlq");
    k->dlq_enabled = c->dlq_enabled;
    k->resume_lsn = env ? env->resume_lsn : 0;
    k->tx_on = c->provide_transaction_metadata;
    k->ntables = c->ntables > 0 ? c->ntables : 0;
    k->tables = k->ntables ? cdc_xcalloc((size_t) k->ntables, sizeof(*k->tables)) : NULL;
    for (int i = 0; i < k->ntables; i++)
        k->tables[i] = cdc_xstrdup(c->tables[i]);
    k->nparts_new = c->kafka->topic_num_partitions > 0 ? c->kafka->topic_num_partitions : 1;
    k->rf_new = c->kafka->topic_replication_factor > 0 ? c->kafka->topic_replication_factor : 1;
    if (env && env->encode_opts) {
        k->jopts = *(const sch_json_opts *) env->encode_opts;
    } else {
        sch_json_opts_default(&k->jopts);
        k->database = cdc_xstrdup(env && env->database ? env->database : "");
        k->jopts.server_name = k->prefix;
        k->jopts.database = k->database;
    }
    k->jopts.schemas_enable = c->json_schemas_enable;
    k->key_opts = k->jopts;
    k->key_opts.schemas_enable = false;
    d->impl = k;
    if (c->serialization == DEST_KAFKA_SER_AVRO &&
        (k->avro = kafka_avro_new(c->registry, c->avro, c->stop_on_incompatible_schema, err)) == NULL)
        goto fail;
    if ((k->base_conf = kafka_conf_base(c->kafka, err)) == NULL)
        goto fail;
    if ((pc = kafka_conf_producer(k, c->kafka, err)) == NULL)
        goto fail;
    k->rk = rd_kafka_new(RD_KAFKA_PRODUCER, pc, errstr, sizeof(errstr));
    if (k->rk == NULL) {
        rd_kafka_conf_destroy(pc);
        cdc_err_set(err, CDC_E_CONFIG, "kafka: creating the producer: %s", errstr);
        goto fail;
    }
    log_info(KAFKA_FAC, "producer for %s (prefix %s, dlq %s)", c->kafka->bootstrap_servers,
             k->prefix, k->dlq_enabled ? k->dlq_suffix : "off");
    return 0;
fail:
    kafka_free(k);
    d->impl = NULL;
    return -1;
}

/* ------------------------------------------------------------------ */
/* resume_from: the last record of every partition                     */
/* ------------------------------------------------------------------ */

/* Is `name` one of this pipeline's data topics ("{prefix}.*", not a DLQ)? */
static bool
kafka_ours(const kafka *k, const char *name)
{
    size_t pl = strlen(k->prefix), nl = strlen(name), sl = strlen(k->dlq_suffix);

    if (nl <= pl + 1 || strncmp(name, k->prefix, pl) != 0 || name[pl] != '.')
        return false;
    return !(nl > sl + 1 && name[nl - sl - 1] == '.' && strcmp(name + nl - sl, k->dlq_suffix) == 0);
}

/*
 * Creates, before anything streams, the topics of the configured tables (and
 * the transaction topic), so that no record waits on a topic being set up.
 * Best effort: a topic that cannot be created now is tried again, with its
 * error, at its first record.  Names written with quotes are left to then.
 */
static void
kafka_create_known(kafka *k)
{
    char name[300];

    for (int i = 0; i <= k->ntables; i++) {
        const char *t = i < k->ntables ? k->tables[i] : NULL;
        const char *dot = t ? strchr(t, '.') : NULL;
        cdc_err     err = { 0 };

        if (t == NULL) {
            if (!k->tx_on)
                break;
            snprintf(name, sizeof(name), "%s.%s", k->prefix, KAFKA_TX_TOPIC);
        } else {
            char nsp[128];

            if (dot == NULL || strchr(t, '"') || (size_t) (dot - t) >= sizeof(nsp))
                continue;
            snprintf(nsp, sizeof(nsp), "%.*s", (int) (dot - t), t);
            sch_topic_name(k->prefix, nsp, dot + 1, name, sizeof(name));
        }
        if (kafka_topic_get(k, name, &err) == NULL)
            log_warn(KAFKA_FAC, "%s: not created at start (%s); trying again at its first "
                     "record", name, err.msg);
    }
}

/*
 * Restart: PostgreSQL sends again every transaction after the slot's
 * confirmed position (env->resume_lsn, "the floor").  For each partition
 * of this pipeline's topics, the positions of the records it holds at or
 * after the floor are collected, and write() skips exactly those.  A set,
 * not a "last position" threshold: a record whose delivery failed while
 * later ones to the same partition succeeded (a local error before the
 * record was sent, for instance) leaves a hole that must be filled, not
 * jumped over.  The newest position found in any partition is reported in
 * d->newest_held, so the agent knows whether the topics hold events at all.
 */
static int
kafka_resume_from(cdc_dest *d, cdc_pos *last_done, cdc_err *err)
{
    kafka                           *k = d->impl;
    const struct rd_kafka_metadata  *md = NULL;
    rd_kafka_resp_err_t              e;
    kafka_scan                      *scans = NULL;
    int                              nscans = 0, rc = -1;
    size_t                           nheld = 0;
    uint64_t                         floor;

    /* The router passes every event; write() decides per partition. */
    last_done->lsn = last_done->seq = 0;
    /* No slot: nothing will be sent again, so nothing is collected; the last
       records are still read, so the agent knows the topics hold events. */
    floor = k->resume_lsn > 0 ? k->resume_lsn - 1 : UINT64_MAX;
    e = rd_kafka_metadata(k->rk, 1, NULL, &md, KAFKA_META_MS);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        /* The cause (an authentication or TLS failure, ...) came through the error
           callback; the metadata call only says the broker could not be reached. */
        rd_kafka_poll(k->rk, 0);
        cdc_err_set(err, CDC_E_CONN, "kafka resume: listing topics: %s%s%s", rd_kafka_err2str(e),
                    k->st.failing ? "; last broker error: " : "",
                    k->st.failing ? k->st.lasterr : "");
        goto out;
    }
    for (int i = 0; i < md->topic_cnt; i++) {
        const struct rd_kafka_metadata_topic *mt = &md->topics[i];
        kafka_topic                          *t;

        if (mt->err || mt->partition_cnt <= 0 || !kafka_ours(k, mt->topic) ||
            kafka_topic_find(k, mt->topic))
            continue;
        t = kafka_topic_add(k, mt->topic, mt->partition_cnt, true);
        t->held = cdc_xcalloc((size_t) t->nparts, sizeof(*t->held));
        scans = cdc_xrealloc(scans, (size_t) (nscans + t->nparts) * sizeof(*scans));
        for (int32_t p = 0; p < t->nparts; p++) {
            int64_t lo = 0, hi = 0;

            e = rd_kafka_query_watermark_offsets(k->rk, t->name, p, &lo, &hi, KAFKA_META_MS);
            if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
                cdc_err_set(err, CDC_E_CONN, "kafka resume: %s partition %d: offsets: %s",
                            t->name, (int) p, rd_kafka_err2str(e));
                goto out;
            }
            if (hi > lo)
                scans[nscans++] = (kafka_scan) { .topic = t->name, .part = p,
                                                 .held = &t->held[p], .newest = &d->newest_held,
                                                 .foreign = &d->holds_foreign,
                                                 .lo = lo, .end = hi,
                                                 .start = hi - 64 > lo ? hi - 64 : lo };
        }
    }
    /* From one below the slot's position: the snapshot's rows sit at (consistent point - 1). */
    if (nscans > 0) {
        rd_kafka_conf_t *cc = rd_kafka_conf_dup(k->base_conf);

        if (kafka_conf_set(cc, "enable.auto.commit", "false", err) ||
            kafka_conf_set(cc, "auto.offset.reset", "earliest", err) ||
            kafka_conf_set(cc, "group.id", "cdcagent-resume", err) ||
            kafka_conf_set(cc, "enable.partition.eof", "true", err)) {
            rd_kafka_conf_destroy(cc);
            goto out;
        }
        if (kafka_read_held(cc, scans, nscans, floor, KAFKA_RESUME_MS, err) != 0)
            goto out;
    }
    for (int i = 0; i < nscans; i++) {
        kafka_held *h = scans[i].held;

        if (h->n == 0)
            continue;
        kafka_held_sort(h);
        nheld += h->n;
        d->held_unordered = true;
        log_info(KAFKA_FAC, "%s partition %d holds %zu event(s) at or after " CDC_LSN_FMT
                 ", up to " CDC_LSN_FMT " #%llu", scans[i].topic, (int) scans[i].part, h->n,
                 CDC_LSN_ARGS(k->resume_lsn), CDC_LSN_ARGS(h->max.lsn),
                 (unsigned long long) h->max.seq);
    }
    if (k->resume_lsn > 0)
        log_info(KAFKA_FAC, "resume: %zu event(s) after the slot's position " CDC_LSN_FMT
                 " are already in Kafka and will not be written again", nheld,
                 CDC_LSN_ARGS(k->resume_lsn));
    if (d->newest_held.lsn)
        log_info(KAFKA_FAC, "resume: the newest event in the topics is at " CDC_LSN_FMT " #%llu",
                 CDC_LSN_ARGS(d->newest_held.lsn), (unsigned long long) d->newest_held.seq);
    kafka_create_known(k);
    rc = 0;
out:
    free(scans);
    if (md)
        rd_kafka_metadata_destroy(md);
    return rc;
}

/* ------------------------------------------------------------------ */
/* write                                                               */
/* ------------------------------------------------------------------ */

/* The record has a null key: no key columns, truncate (sch_json_key's rule). */
static bool
kafka_null_key(const cdc_event *ev)
{
    if (ev->op == CDC_OP_MESSAGE)
        return false;
    return ev->op == CDC_OP_TRUNCATE || ev->rel == NULL || ev->rel->nkeys == 0 ||
           (ev->key == NULL && ev->after == NULL && ev->before == NULL);
}

static void
kafka_topic_name(const kafka *k, const cdc_event *ev, char *out, size_t outsz)
{
    if (ev->op == CDC_OP_MESSAGE || ev->rel == NULL)
        snprintf(out, outsz, "%s.message", k->prefix);
    else if (ev->rel->topic)
        snprintf(out, outsz, "%s", ev->rel->topic);
    else
        sch_topic_name(k->prefix, ev->rel->nspname, ev->rel->relname, out, outsz);
}

/*
 * The partition for an event: murmur2 of the key bytes as the Java
 * producer's default partitioner computes it; a keyless record's partition
 * comes from its position so that a re-sent copy goes where the first did.
 */
static int32_t
kafka_partition(const kafka_topic *t, const cdc_event *ev, const cdc_buf *key, bool nullkey)
{
    uint64_t h;

    if (!nullkey)
        return rd_kafka_msg_partitioner_murmur2(t->rkt, key->data, key->len, t->nparts, NULL,
                                                NULL);
    h = (ev->pos.lsn ^ (ev->pos.seq * 0x9E3779B97F4A7C15ULL)) * 0xff51afd7ed558ccdULL;
    return (int32_t) ((h >> 33) % (uint64_t) t->nparts);
}

/* Renders a key struct as JsonConverter's payload JSON into k->hbuf. */
static void
kafka_key_json(kafka *k, const cdc_event *ev, const cdc_value *key)
{
    cdc_event     tmp = *ev;
    sch_json_opts o = k->key_opts;

    /* SimpleHeaderConverter leaves characters outside the BMP raw (seen in 260) */
    o.raw_non_bmp = true;
    tmp.op = CDC_OP_CREATE;
    tmp.key = key;
    cdc_buf_reset(&k->hbuf);
    sch_json_key(&k->hbuf, &tmp, &o);
}

static rd_kafka_headers_t *
kafka_headers(kafka *k, const cdc_event *ev)
{
    rd_kafka_headers_t *h = rd_kafka_headers_new(5);
    char                tmp[24];

    snprintf(tmp, sizeof(tmp), "%" PRIu64, ev->pos.lsn);
    rd_kafka_header_add(h, "cdc.commit_lsn", -1, tmp, -1);
    snprintf(tmp, sizeof(tmp), "%" PRIu64, ev->pos.seq);
    rd_kafka_header_add(h, "cdc.seq", -1, tmp, -1);
    if (ev->txn) {
        snprintf(tmp, sizeof(tmp), "%" PRIu32, ev->txn->xid);
        rd_kafka_header_add(h, "cdc.xid", -1, tmp, -1);
    }
    if (ev->pk_change_newkey) {
        kafka_key_json(k, ev, ev->pk_change_newkey);
        rd_kafka_header_add(h, "__debezium.newkey", -1, k->hbuf.data, (ssize_t) k->hbuf.len);
    }
    if (ev->pk_change_oldkey) {
        kafka_key_json(k, ev, ev->pk_change_oldkey);
        rd_kafka_header_add(h, "__debezium.oldkey", -1, k->hbuf.data, (ssize_t) k->hbuf.len);
    }
    return h;
}

static char *
kafka_render(void (*fn)(cdc_buf *, const cdc_rel *, const sch_json_opts *), const cdc_rel *rel,
             const sch_json_opts *o)
{
    cdc_buf b = CDC_BUF_INIT;

    fn(&b, rel, o);
    if (cdc_buf_failed(&b)) {
        cdc_buf_free(&b);
        return NULL;
    }
    return (char *) b.data;   /* the buffer is NUL-terminated; taken */
}

/* The cached schema nodes of ev's relation version (rendering them costs more than the payload). */
static const kafka_schemas *
kafka_schemas_get(kafka *k, const cdc_rel *rel)
{
    unsigned       b = (rel->relid * 2654435761u ^ rel->version) % KAFKA_SCHEMA_BUCKETS;
    kafka_schemas *sc;

    for (sc = k->schemas[b]; sc; sc = sc->next)
        if (sc->relid == rel->relid && sc->version == rel->version)
            return sc;
    sc = cdc_xcalloc(1, sizeof(*sc));
    sc->relid = rel->relid;
    sc->version = rel->version;
    sc->key = kafka_render(sch_json_key_schema, rel, &k->jopts);
    sc->value = kafka_render(sch_json_value_schema, rel, &k->jopts);
    if (sc->key == NULL || sc->value == NULL) {
        free(sc->key);
        free(sc->value);
        free(sc);
        return NULL;
    }
    sc->next = k->schemas[b];
    k->schemas[b] = sc;
    return sc;
}

/* JsonConverter with schemas.enable: {"schema":<cached>,"payload":<this event>}. */
static void
kafka_json_cached(kafka *k, const cdc_event *ev, const kafka_schemas *sc, bool nullkey,
                  bool nullval)
{
    if (!nullkey) {
        cdc_buf_puts(&k->kbuf, "{\"schema\":");
        cdc_buf_puts(&k->kbuf, sc->key);
        cdc_buf_puts(&k->kbuf, ",\"payload\":");
        sch_json_key(&k->kbuf, ev, &k->key_opts);
        cdc_buf_putc(&k->kbuf, '}');
    }
    if (!nullval) {
        cdc_buf_puts(&k->vbuf, "{\"schema\":");
        cdc_buf_puts(&k->vbuf, sc->value);
        cdc_buf_puts(&k->vbuf, ",\"payload\":");
        sch_json_value(&k->vbuf, ev, &k->key_opts, cdc_wall_us());
        cdc_buf_putc(&k->vbuf, '}');
    }
}

static int kafka_send(kafka *k, kafka_topic *t, const char *name, int32_t part,
                      const cdc_event *ev, cdc_pos ring_pos, bool nullkey, bool nullval,
                      cdc_err *err);
static int kafka_tx_record(kafka *k, const cdc_txn *txn, bool end, cdc_pos ring_pos,
                           cdc_err *err);

static int
kafka_write(cdc_dest *d, const cdc_event *ev, cdc_err *err)
{
    kafka              *k = d->impl;
    char                name[300];
    kafka_topic        *t;
    bool                nullkey = kafka_null_key(ev), nullval = ev->op == CDC_OP_TOMBSTONE;
    int32_t             part;
    cdc_event           withblock;

    rd_kafka_poll(k->rk, 0);
    /* A transaction replayed from the spill file comes here a million times
       without a poll from the main loop in between: serve read-backs too, or
       the first record's slot holds every later one unfinished. */
    if (k->nchecks > 0)
        kafka_checks_poll(k);
    if (dest_status_check(&k->st, err) != 0)
        return -1;
    if (k->tx_on && ktx_applies(ev)) {
        ktx_enter(&k->tx, ev->pos.lsn);
        if (!k->tx.begun) {
            if (kafka_tx_record(k, ev->txn, false, ev->pos, err) < 0)
                return -1;
            k->tx.begun = true;
        }
        withblock = *ev;
        withblock.tx_block = ktx_count(&k->tx, ev);
        ev = &withblock;
    }
    kafka_topic_name(k, ev, name, sizeof(name));
    if ((t = kafka_topic_get(k, name, err)) == NULL) {
        /* A broker that cannot be reached makes the agent wait, like a full
           queue does: the router flushes and offers the event again. */
        if (err && (err->code == CDC_E_CONN || err->code == CDC_E_TIMEOUT)) {
            log_warn(KAFKA_FAC, "%s: %s; retrying", name, err->msg);
            err->code = CDC_E_QUEUE_FULL;
        }
        return -1;
    }
    cdc_buf_reset(&k->kbuf);
    cdc_buf_reset(&k->vbuf);
    if (k->avro) {
        /* Avro: what the encoder leaves empty is null (AvroConverter writes no bytes). */
        if (kafka_avro_encode(k->avro, ev, name, cdc_wall_us(), &k->kbuf, &k->vbuf, err) < 0) {
            if (err && (err->code == CDC_E_CONN || err->code == CDC_E_TIMEOUT)) {
                log_warn(KAFKA_FAC, "%s: %s; retrying", name, err->msg);
                err->code = CDC_E_QUEUE_FULL;
            }
            return -1;
        }
        nullkey = k->kbuf.len == 0;
        nullval = k->vbuf.len == 0;
    } else if (k->jopts.schemas_enable && ev->rel && ev->op != CDC_OP_MESSAGE) {
        const kafka_schemas *sc = kafka_schemas_get(k, ev->rel);

        if (sc == NULL)
            return cdc_err_set(err, CDC_E_NOMEM, "kafka %s: out of memory rendering schemas", name);
        kafka_json_cached(k, ev, sc, nullkey, nullval);
    } else {
        if (!nullkey)
            sch_json_key(&k->kbuf, ev, &k->jopts);
        if (!nullval)
            sch_json_value(&k->vbuf, ev, &k->jopts, cdc_wall_us());
    }
    if (cdc_buf_failed(&k->kbuf) || cdc_buf_failed(&k->vbuf)) {
        cdc_buf_free(&k->kbuf);
        cdc_buf_free(&k->vbuf);
        return cdc_err_set(err, CDC_E_NOMEM, "kafka %s: out of memory encoding an event", name);
    }
    part = kafka_partition(t, ev, &k->kbuf, nullkey);
    return kafka_send(k, t, name, part, ev, ev->pos, nullkey, nullval, err);
}

/*
 * Produces what kafka_write or the transaction records left in kbuf/vbuf to
 * partition `part` of t, unless that partition already holds ev->pos (its
 * position headers).  ring_pos: the position the slot stands for in the
 * durable order (ev->pos for events).
 */
static int
kafka_send(kafka *k, kafka_topic *t, const char *name, int32_t part, const cdc_event *ev,
           cdc_pos ring_pos, bool nullkey, bool nullval, cdc_err *err)
{
    rd_kafka_headers_t *h;
    rd_kafka_resp_err_t e;
    uint64_t            slot;

    if (t->held && kafka_held_has(&t->held[part], ev->pos)) {
        k->nskipped++;      /* the partition has it from before the restart */
        dest_acks_done(&k->acks, dest_acks_push(&k->acks, ring_pos));
        return 0;
    }
    h = kafka_headers(k, ev);
    slot = dest_acks_next(&k->acks);
    for (int waited_ms = 0;; waited_ms += KAFKA_FULL_POLL_MS) {
        e = rd_kafka_producev(k->rk, RD_KAFKA_V_RKT(t->rkt), RD_KAFKA_V_PARTITION(part),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                              RD_KAFKA_V_KEY(nullkey ? NULL : k->kbuf.data, nullkey ? 0 : k->kbuf.len),
                              RD_KAFKA_V_VALUE(nullval ? NULL : k->vbuf.data, nullval ? 0 : k->vbuf.len),
                              RD_KAFKA_V_HEADERS(h),
                              RD_KAFKA_V_OPAQUE((void *) (uintptr_t) (slot << 1)), RD_KAFKA_V_END);
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL || waited_ms >= KAFKA_FULL_WAIT_MS || k->st.fatal)
            break;
        /* The producer's buffer is full.  Delivery reports make room: serve
           them and try again, rather than hand back to the router, whose flush
           would wait for the whole buffer to drain and leave the pipe empty. */
        rd_kafka_poll(k->rk, KAFKA_FULL_POLL_MS);
        kafka_checks_poll(k);
    }
    if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        rd_kafka_headers_destroy(h);
        return cdc_err_set(err, CDC_E_QUEUE_FULL, "kafka %s: producer queue full", name);
    }
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR && !kafka_err_permanent(e)) {
        rd_kafka_headers_destroy(h);
        return cdc_err_set(err, CDC_E_DEST, "kafka %s partition %d: produce: %s", name,
                           (int) part, rd_kafka_err2str(e));
    }
    dest_acks_push(&k->acks, ring_pos);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR &&
        kafka_dlq(k, name, part, nullkey ? NULL : k->kbuf.data, nullkey ? 0 : k->kbuf.len,
                  nullval ? NULL : k->vbuf.data, nullval ? 0 : k->vbuf.len, h, e, slot) != 0)
        return dest_status_check(&k->st, err);
    k->nrecords++;
    k->wrote = true;
    return 0;
}

/* ------------------------------------------------------------------ */
/* commit_txn, progress, flush, health, close                          */
/* ------------------------------------------------------------------ */

/*
 * A BEGIN or END record of txn on "{prefix}.transaction" (see kafka_txmeta.h),
 * keyed and partitioned like any record, position headers at the
 * transaction's commit LSN with the KAFKA_SEQ_TX_* ordinals.
 */
static int
kafka_tx_record(kafka *k, const cdc_txn *txn, bool end, cdc_pos ring_pos, cdc_err *err)
{
    char         name[300], id[48];
    kafka_topic *t;
    cdc_event    hev = { .txn = txn };
    int64_t      ts_ms = txn->commit_ts_us / 1000;

    if (txn->commit_ts_us < 0 && txn->commit_ts_us % 1000)
        ts_ms--;        /* Instant.toEpochMilli floors */
    snprintf(name, sizeof(name), "%s.%s", k->prefix, KAFKA_TX_TOPIC);
    if ((t = kafka_topic_get(k, name, err)) == NULL) {
        if (err && (err->code == CDC_E_CONN || err->code == CDC_E_TIMEOUT)) {
            log_warn(KAFKA_FAC, "%s: %s; retrying", name, err->msg);
            err->code = CDC_E_QUEUE_FULL;
        }
        return -1;
    }
    ktx_id(id, sizeof(id), txn->xid, end ? txn->end_lsn : txn->begin_lsn);
    cdc_buf_reset(&k->kbuf);
    cdc_buf_reset(&k->vbuf);
    if (k->avro) {
        if (!k->tx_registered) {
            if (kafka_avro_register_pair(k->avro, name, ktx_avro_key_schema,
                                         ktx_avro_value_schema, &k->tx_key_id, &k->tx_value_id,
                                         err) < 0) {
                if (err && (err->code == CDC_E_CONN || err->code == CDC_E_TIMEOUT)) {
                    log_warn(KAFKA_FAC, "%s: %s; retrying", name, err->msg);
                    err->code = CDC_E_QUEUE_FULL;
                }
                return -1;
            }
            k->tx_registered = true;
        }
        ktx_avro(&k->kbuf, &k->vbuf, &k->tx, end, id, ts_ms, k->tx_key_id, k->tx_value_id);
    } else {
        ktx_json(&k->kbuf, &k->vbuf, &k->tx, end, id, ts_ms, k->jopts.schemas_enable);
    }
    if (cdc_buf_failed(&k->kbuf) || cdc_buf_failed(&k->vbuf))
        return cdc_err_set(err, CDC_E_NOMEM, "kafka %s: out of memory encoding a record", name);
    hev.pos = (cdc_pos) { txn->commit_lsn, end ? KAFKA_SEQ_TX_END : KAFKA_SEQ_TX_BEGIN };
    return kafka_send(k, t, name, kafka_partition(t, &hev, &k->kbuf, false), &hev, ring_pos,
                      false, false, err);
}

static int
kafka_commit_txn(cdc_dest *d, const cdc_txn *txn, cdc_err *err)
{
    kafka  *k = d->impl;
    cdc_pos end = { txn->commit_lsn, CDC_SEQ_END };

    /* Debezium writes BEGIN for every transaction pgoutput sends, even one
       whose events were all skipped or filtered, and END at its commit. */
    if (k->tx_on && txn->xid != 0 && txn->begin_lsn != 0) {
        cdc_pos last = { txn->commit_lsn, txn->nevents };

        ktx_enter(&k->tx, txn->commit_lsn);
        if (!k->tx.begun) {
            if (kafka_tx_record(k, txn, false, last, err) < 0)
                return -1;
            k->tx.begun = true;
        }
        if (!k->tx.ended) {
            if (kafka_tx_record(k, txn, true, last, err) < 0)
                return -1;
            k->tx.ended = true;
        }
    }
    /* past it only once everything before is acked */
    dest_acks_done(&k->acks, dest_acks_push(&k->acks, end));
    rd_kafka_poll(k->rk, 0);
    return 0;
}

static int
kafka_progress(cdc_dest *d, cdc_pos *durable, cdc_err *err)
{
    kafka *k = d->impl;

    /* Nothing written since the last call, and records still out: the stream
       is idle, so no batch will fill.  A flush sends what waits now instead of
       after linger.ms (100).  librdkafka treats linger as immediate only while
       a flush runs, and its broker thread must see that, hence 1 ms, not 0. */
    if (!k->wrote && rd_kafka_outq_len(k->rk) > 0)
        rd_kafka_flush(k->rk, 1);
    else
        rd_kafka_poll(k->rk, 0);
    k->wrote = false;
    kafka_checks_poll(k);
    if (dest_status_check(&k->st, err) != 0)
        return -1;
    *durable = k->acks.durable;
    return 0;
}

static int
kafka_flush(cdc_dest *d, int timeout_ms, cdc_err *err)
{
    kafka              *k = d->impl;
    int64_t             t0 = cdc_mono_us();
    rd_kafka_resp_err_t e = rd_kafka_flush(k->rk, timeout_ms);

    /* Durable also means read back, for the first record of a partition. */
    for (kafka_checks_poll(k); k->nchecks > 0 && !k->st.fatal; kafka_checks_poll(k)) {
        if (cdc_mono_us() - t0 > (int64_t) timeout_ms * 1000)
            return cdc_err_set(err, CDC_E_TIMEOUT, "kafka: %zu record(s) acknowledged but not "
                               "read back yet after %d ms", k->nchecks, timeout_ms);
        cdc_sleep_ms(10);
    }
    if (dest_status_check(&k->st, err) != 0)
        return -1;
    if (e == RD_KAFKA_RESP_ERR__TIMED_OUT)
        return cdc_err_set(err, CDC_E_TIMEOUT, "kafka: %d record(s) not acknowledged after %d ms",
                           rd_kafka_outq_len(k->rk), timeout_ms);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
        return cdc_err_set(err, CDC_E_DEST, "kafka flush: %s", rd_kafka_err2str(e));
    dest_status_ok(&k->st);
    return 0;
}

/* ------------------------------------------------------------------ */
/* heartbeat: Debezium's heartbeat topic                              */
/* ------------------------------------------------------------------ */

/* JsonConverter's rendering of ServerNameKey{serverName} and Heartbeat{ts_ms}. */
static void
kafka_heartbeat_json(kafka *k, int64_t ts_ms)
{
    bool with_schema = k->jopts.schemas_enable;

    if (with_schema)
        cdc_buf_puts(&k->kbuf, "{\"schema\":{\"type\":\"struct\",\"fields\":[{\"type\":\"string\","
                     "\"optional\":false,\"field\":\"serverName\"}],\"optional\":false,"
                     "\"name\":\"io.debezium.connector.common.ServerNameKey\",\"version\":1},"
                     "\"payload\":");
    cdc_buf_puts(&k->kbuf, "{\"serverName\":");
    sch_json_put_string(&k->kbuf, k->prefix, strlen(k->prefix));
    cdc_buf_putc(&k->kbuf, '}');
    if (with_schema) {
        cdc_buf_putc(&k->kbuf, '}');
        cdc_buf_puts(&k->vbuf, "{\"schema\":{\"type\":\"struct\",\"fields\":[{\"type\":\"int64\","
                     "\"optional\":false,\"field\":\"ts_ms\"}],\"optional\":false,"
                     "\"name\":\"io.debezium.connector.common.Heartbeat\",\"version\":1},"
                     "\"payload\":");
    }
    cdc_buf_printf(&k->vbuf, "{\"ts_ms\":%" PRId64 "}", ts_ms);
    if (with_schema)
        cdc_buf_putc(&k->vbuf, '}');
}

/*
 * One record on "__debezium-heartbeat.{prefix}", partition 0, as Debezium
 * sends it (CONTRACT 1.2).  It carries no position header: the topic is not
 * part of the restart skip, and a heartbeat written twice harms no one.
 */
static int
kafka_heartbeat(cdc_dest *d, int64_t ts_ms, cdc_err *err)
{
    kafka              *k = d->impl;
    char                name[300];
    int32_t             n;
    rd_kafka_resp_err_t e;

    rd_kafka_poll(k->rk, 0);
    if (dest_status_check(&k->st, err) != 0)
        return -1;
    snprintf(name, sizeof(name), "%s.%s", KAFKA_HB_PREFIX, k->prefix);
    if (k->hb_topic == NULL && (k->hb_topic = kafka_topic_find(k, name)) == NULL) {
        if ((n = kafka_topic_nparts(k, name, 1, false, NULL)) < 0 &&
            (kafka_create_topic(k, name, 1, err) != 0 ||
             (n = kafka_topic_nparts(k, name, 50, true, err)) < 0))
            return -1;
        k->hb_topic = kafka_topic_add(k, name, n, false);   /* heartbeats are not read back */
    }
    cdc_buf_reset(&k->kbuf);
    cdc_buf_reset(&k->vbuf);
    if (k->avro) {
        if (kafka_avro_heartbeat(k->avro, name, k->prefix, ts_ms, &k->kbuf, &k->vbuf, err) < 0)
            return -1;
    } else {
        kafka_heartbeat_json(k, ts_ms);
    }
    if (cdc_buf_failed(&k->kbuf) || cdc_buf_failed(&k->vbuf))
        return cdc_err_set(err, CDC_E_NOMEM, "kafka %s: out of memory encoding a heartbeat", name);
    e = rd_kafka_producev(k->rk, RD_KAFKA_V_RKT(k->hb_topic->rkt), RD_KAFKA_V_PARTITION(0),
                          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                          RD_KAFKA_V_KEY(k->kbuf.data, k->kbuf.len),
                          RD_KAFKA_V_VALUE(k->vbuf.data, k->vbuf.len),
                          RD_KAFKA_V_OPAQUE((void *) KAFKA_TAG_HEARTBEAT), RD_KAFKA_V_END);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
        return cdc_err_set(err, CDC_E_DEST, "kafka %s: %s", name, rd_kafka_err2str(e));
    k->nheartbeats++;
    return 0;
}

static void
kafka_health(cdc_dest *d, cdc_health *h)
{
    kafka *k = d->impl;

    if (k->st.fatal) {
        h->state = CDC_DEST_ERROR;
        snprintf(h->detail, sizeof(h->detail), "%s", k->st.lasterr);
    } else if (k->st.failing && rd_kafka_outq_len(k->rk) > 0) {
        h->state = CDC_DEST_DEGRADED;
        snprintf(h->detail, sizeof(h->detail), "%d in flight; %s", rd_kafka_outq_len(k->rk),
                 k->st.lasterr);
    } else {
        h->state = CDC_DEST_OK;
        snprintf(h->detail, sizeof(h->detail),
                 "%llu records, %llu skipped, %llu dead letters, %d in flight, durable %X/%X "
                 "#%llu", (unsigned long long) k->nrecords, (unsigned long long) k->nskipped,
                 (unsigned long long) k->ndlq, rd_kafka_outq_len(k->rk),
                 (unsigned) (k->acks.durable.lsn >> 32), (unsigned) k->acks.durable.lsn,
                 (unsigned long long) k->acks.durable.seq);
    }
}

static void
kafka_free(kafka *k)
{
    kafka_avro_free(k->avro);
    ktx_free(&k->tx);
    for (int i = 0; i < KAFKA_SCHEMA_BUCKETS; i++) {
        kafka_schemas *sc = k->schemas[i], *next;

        for (; sc; sc = next) {
            next = sc->next;
            free(sc->key);
            free(sc->value);
            free(sc);
        }
    }
    for (size_t i = 0; i < k->topics_cap; i++) {
        kafka_topic *t = k->topics[i];

        if (t == NULL)
            continue;
        if (t->rkt)
            rd_kafka_topic_destroy(t->rkt);
        for (int32_t p = 0; t->held && p < t->nparts; p++)
            free(t->held[p].pos);
        free(t->held);
        free(t->checked);
        free(t->name);
        free(t);
    }
    free(k->topics);
    if (k->rk)
        rd_kafka_destroy(k->rk);
    while (k->nchecks > 0)
        kafka_check_drop(k, 0);
    free(k->checks);
    if (k->check_rk)
        rd_kafka_destroy(k->check_rk);
    if (k->base_conf)
        rd_kafka_conf_destroy(k->base_conf);
    cdc_buf_free(&k->kbuf);
    cdc_buf_free(&k->vbuf);
    cdc_buf_free(&k->hbuf);
    for (int i = 0; i < k->ntables; i++)
        free(k->tables[i]);
    free(k->tables);
    dest_acks_free(&k->acks);
    free(k->prefix);
    free(k->database);
    free(k->dlq_suffix);
    free(k);
}

static void
kafka_close(cdc_dest *d)
{
    kafka *k = d->impl;

    if (k == NULL)
        return;
    /* The agent flushes before closing; this bounds what a crash path leaves. */
    if (rd_kafka_flush(k->rk, 5000) != RD_KAFKA_RESP_ERR_NO_ERROR)
        log_warn(KAFKA_FAC, "closing with %d record(s) not acknowledged",
                 rd_kafka_outq_len(k->rk));
    kafka_free(k);
    d->impl = NULL;
}

const cdc_dest_ops dest_kafka_ops = {
    .kind = "kafka",
    .open = kafka_open,
    .resume_from = kafka_resume_from,
    .write = kafka_write,
    .commit_txn = kafka_commit_txn,
    .progress = kafka_progress,
    .flush = kafka_flush,
    .health = kafka_health,
    .heartbeat = kafka_heartbeat,
    .close = kafka_close,
};

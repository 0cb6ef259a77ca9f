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
 * resume_from, the position headers and the backwards scan are in
 * kafka_resume.c; kafka_int.h says which file holds what.
 */
#include "transports/kafka/kafka_int.h"

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
#include "schemas/message.h"
#include "schemas/topic.h"
#include "transports/kafka/kafka_resume.h"

#define KAFKA_HB_PREFIX  "__debezium-heartbeat"
/* A full producer buffer: how long a write waits for room, polling in steps,
   before it hands the backpressure to the router. */
#define KAFKA_FULL_WAIT_MS 500
#define KAFKA_FULL_POLL_MS 5

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
    sch_msg_conf           mc = { 0 };

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
    sch_json_opts_for(&mc.json, env ? env->encode_opts : NULL, k->prefix,
                      env ? env->database : NULL, &k->database);
    mc.json.schemas_enable = c->json_schemas_enable;
    if (c->serialization == DEST_KAFKA_SER_AVRO) {
        mc.registry = c->registry;
        mc.avro = c->avro;
        mc.stop_on_incompatible = c->stop_on_incompatible_schema;
    }
    d->impl = k;
    if ((k->enc = sch_msg_enc_new(&mc, err)) == NULL)
        goto fail;
    if ((k->base_conf = kafka_conf_base(c->kafka, err)) == NULL)
        goto fail;
    if ((pc = kafka_conf_producer(k, c->kafka, err)) == NULL)
        goto fail;
    rd_kafka_conf_set_dr_msg_cb(pc, kafka_dr_cb);
    rd_kafka_conf_set_error_cb(pc, kafka_error_cb);
    rd_kafka_conf_set_stats_cb(pc, kafka_stats_cb);   /* only with statistics.interval.ms */
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
/* write                                                               */
/* ------------------------------------------------------------------ */

static int kafka_send(kafka *k, kafka_topic *t, const char *name, int32_t part,
                      const cdc_event *ev, cdc_pos ring_pos, const sch_msg *m, cdc_err *err);
static int kafka_tx_record(kafka *k, const cdc_txn *txn, bool end, cdc_pos ring_pos,
                           cdc_err *err);

static int
kafka_write(cdc_dest *d, const cdc_event *ev, cdc_err *err)
{
    kafka              *k = d->impl;
    char                name[300];
    kafka_topic        *t;
    sch_msg             m;
    cdc_event           withblock;

    rd_kafka_poll(k->rk, 0);
    /* A transaction replayed from the spill file comes here a million times
       without a poll from the main loop in between: serve read-backs too, or
       the first record's slot holds every later one unfinished. */
    if (k->nchecks > 0)
        kafka_checks_poll(k);
    if (dest_status_check(&k->st, err) != 0)
        return -1;
    if (k->tx_on && sch_msg_tx_applies(ev)) {
        if (sch_msg_tx_due(k->enc, ev->pos.lsn, false)) {
            if (kafka_tx_record(k, ev->txn, false, ev->pos, err) < 0)
                return -1;
            sch_msg_tx_written(k->enc, false);
        }
        withblock = *ev;
        withblock.tx_block = sch_msg_tx_count(k->enc, ev);
        ev = &withblock;
    }
    sch_event_topic(ev, k->prefix, name, sizeof(name));
    if ((t = kafka_topic_get(k, name, err)) == NULL) {
        /* A broker that cannot be reached makes the agent wait, like a full
           queue does: the router flushes and offers the event again. */
        if (err && (err->code == CDC_E_CONN || err->code == CDC_E_TIMEOUT)) {
            log_warn(KAFKA_FAC, "%s: %s; retrying", name, err->msg);
            err->code = CDC_E_QUEUE_FULL;
        }
        return -1;
    }
    /* Avro: a Schema Registry that cannot be reached makes the agent wait too. */
    if (sch_msg_encode(k->enc, ev, name, &m, err) < 0) {
        if (err && (err->code == CDC_E_CONN || err->code == CDC_E_TIMEOUT)) {
            log_warn(KAFKA_FAC, "%s: %s; retrying", name, err->msg);
            err->code = CDC_E_QUEUE_FULL;
        }
        return -1;
    }
    return kafka_send(k, t, name, kafka_partition(t, ev, m.key, m.key_len, m.null_key), ev,
                      ev->pos, &m, err);
}

/* The record's headers (schemas/message.h: position, transaction, key change). */
static rd_kafka_headers_t *
kafka_headers(const sch_msg *m)
{
    rd_kafka_headers_t *h = rd_kafka_headers_new(5);

    for (int i = 0; i < m->nhdrs; i++)
        rd_kafka_header_add(h, m->hdrs[i].name, -1, m->hdrs[i].value, (ssize_t) m->hdrs[i].len);
    return h;
}

/*
 * Produces m (an event's record, or a transaction record) to partition `part`
 * of t, unless that partition already holds ev->pos (its position headers).
 * ring_pos: the position the slot stands for in the durable order (ev->pos
 * for events).
 */
static int
kafka_send(kafka *k, kafka_topic *t, const char *name, int32_t part, const cdc_event *ev,
           cdc_pos ring_pos, const sch_msg *m, cdc_err *err)
{
    rd_kafka_headers_t *h;
    rd_kafka_resp_err_t e;
    uint64_t            slot;

    if (t->held && kafka_held_has(&t->held[part], ev->pos)) {
        k->nskipped++;      /* the partition has it from before the restart */
        dest_acks_done(&k->acks, dest_acks_push(&k->acks, ring_pos));
        return 0;
    }
    h = kafka_headers(m);
    slot = dest_acks_next(&k->acks);
    for (int waited_ms = 0;; waited_ms += KAFKA_FULL_POLL_MS) {
        e = rd_kafka_producev(k->rk, RD_KAFKA_V_RKT(t->rkt), RD_KAFKA_V_PARTITION(part),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                              RD_KAFKA_V_KEY((void *) m->key, m->key_len),
                              RD_KAFKA_V_VALUE((void *) m->value, m->value_len),
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
        kafka_dlq(k, name, part, m->key, m->key_len, m->value, m->value_len, h, e, slot) != 0)
        return dest_status_check(&k->st, err);
    k->nrecords++;
    k->wrote = true;
    return 0;
}

/* ------------------------------------------------------------------ */
/* commit_txn, progress, flush, health, close                          */
/* ------------------------------------------------------------------ */

/*
 * A BEGIN or END record of txn on "{prefix}.transaction" (schemas/message.h),
 * keyed and partitioned like any record, position headers at the
 * transaction's commit LSN with the SCH_MSG_SEQ_TX_* ordinals.
 */
static int
kafka_tx_record(kafka *k, const cdc_txn *txn, bool end, cdc_pos ring_pos, cdc_err *err)
{
    char         name[300];
    kafka_topic *t;
    cdc_event    hev = { .txn = txn };
    sch_msg      m;

    snprintf(name, sizeof(name), "%s.%s", k->prefix, KAFKA_TX_TOPIC);
    if ((t = kafka_topic_get(k, name, err)) == NULL ||
        sch_msg_tx_record(k->enc, txn, end, name, &m, err) < 0) {
        if (err && (err->code == CDC_E_CONN || err->code == CDC_E_TIMEOUT)) {
            log_warn(KAFKA_FAC, "%s: %s; retrying", name, err->msg);
            err->code = CDC_E_QUEUE_FULL;
        }
        return -1;
    }
    hev.pos = (cdc_pos) { txn->commit_lsn, end ? SCH_MSG_SEQ_TX_END : SCH_MSG_SEQ_TX_BEGIN };
    return kafka_send(k, t, name, kafka_partition(t, &hev, m.key, m.key_len, false), &hev,
                      ring_pos, &m, err);
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

        if (sch_msg_tx_due(k->enc, txn->commit_lsn, false)) {
            if (kafka_tx_record(k, txn, false, last, err) < 0)
                return -1;
            sch_msg_tx_written(k->enc, false);
        }
        if (sch_msg_tx_due(k->enc, txn->commit_lsn, true)) {
            if (kafka_tx_record(k, txn, true, last, err) < 0)
                return -1;
            sch_msg_tx_written(k->enc, true);
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
    sch_msg             m;

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
    if (sch_msg_heartbeat(k->enc, name, k->prefix, ts_ms, &m, err) < 0)
        return -1;
    e = rd_kafka_producev(k->rk, RD_KAFKA_V_RKT(k->hb_topic->rkt), RD_KAFKA_V_PARTITION(0),
                          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                          RD_KAFKA_V_KEY((void *) m.key, m.key_len),
                          RD_KAFKA_V_VALUE((void *) m.value, m.value_len),
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
    sch_msg_enc_free(k->enc);
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

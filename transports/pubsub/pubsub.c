/*
 * The Google Cloud Pub/Sub destination: the operations (see pubsub.h for what
 * goes over the wire and pubsub_int.h for the design and the files).
 *
 * Memory is bounded: when the messages alive (waiting, in flight or on their
 * way to the dead-letter topic) hold more than max_waiting_bytes, write()
 * answers CDC_E_QUEUE_FULL and the router polls progress() and offers the
 * event again; while the service is down nothing is given up and nothing
 * grows.  resume_from() reports nothing held: Pub/Sub cannot be read back
 * without taking messages from the consumers' subscriptions, so after a crash
 * the messages that were in flight are published again (at least once; each
 * carries cdc.commit_lsn and cdc.seq for consumers to drop duplicates).
 */
#include "transports/pubsub/pubsub_int.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/core/cdc_clock.h"
#include "agent/core/cdc_log.h"
#include "agent/core/cdc_mem.h"
#include "schemas/json.h"
#include "schemas/topic.h"

#define PS_DEF_MAX_BYTES ((size_t) 64 << 20)
#define PS_HB_TOPIC      "debezium-heartbeat"

static void
ps_item_free(void *item)
{
    ps_msg_release(item);
}

static void
ps_free(pubsub *p)
{
    if (p == NULL)
        return;
    while (p->flying) {
        ps_req *r = p->flying;

        p->flying = r->next;
        if (r->x)
            cdc_http_multi_remove(p->multi, r->x);
        for (size_t i = 0; i < r->n; i++)
            ps_msg_release(r->items[i]);
        ps_req_free(r);
    }
    while (p->loose) {
        ps_req *r = p->loose;

        p->loose = r->next;
        if (r->x)
            cdc_http_multi_remove(p->multi, r->x);
        for (size_t i = 0; i < r->n; i++)
            ps_msg_release(r->items[i]);
        ps_req_free(r);
    }
    if (p->q)
        dest_keyq_free(p->q, ps_item_free);
    cdc_http_multi_free(p->multi);
    cdc_http_xfer_free(p->admin);
    cdc_http_hdrs_free(p->hdrs);
    cdc_gcp_auth_free(p->auth);
    sch_msg_enc_free(p->enc);
    ps_topics_free(p);
    dest_acks_free(&p->acks);
    cdc_buf_free(&p->kbuf);
    for (int i = 0; i < p->ntables; i++)
        free(p->tables[i]);
    free(p->tables);
    free(p->project);
    free(p->prefix);
    free(p->database);
    free(p->group);
    free(p->dlq_suffix);
    free(p);
}

/* The bus name of table "schema.table" ("cdc-public-customers"). */
static void
ps_table_topic(const pubsub *p, const char *table, char *out, size_t n)
{
    char        schema[256], topic[300];
    const char *dot = strchr(table, '.');

    if (dot == NULL || (size_t) (dot - table) >= sizeof(schema)) {
        snprintf(schema, sizeof(schema), "public");
        dot = table - 1;
    } else {
        memcpy(schema, table, (size_t) (dot - table));
        schema[dot - table] = '\0';
    }
    sch_topic_name(p->prefix, schema, dot + 1, topic, sizeof(topic));
    for (char *c = topic; *c; c++)
        if (*c == '.')
            *c = '-';
    snprintf(out, n, "%s", topic);
}

static int
ps_open(cdc_dest *d, const void *conf, const cdc_dest_env *env, cdc_err *err)
{
    const dest_pubsub_conf *c = conf;
    pubsub                 *p;
    sch_msg_conf            mc = { 0 };
    cdc_gcp_auth_conf       ac = { 0 };

    if (c == NULL || c->project_id == NULL || c->project_id[0] == '\0')
        return cdc_err_set(err, CDC_E_CONFIG, "pubsub: pubsub.project_id is required");
    if (c->serialization == DEST_PUBSUB_SER_AVRO && (c->registry == NULL || c->avro == NULL))
        return cdc_err_set(err, CDC_E_CONFIG, "pubsub: serialization avro needs the Schema "
                           "Registry (kafka.schema_registry_url)");
    if (cdc_http_global_init(err) < 0)
        return cdc_err_wrap(err, "pubsub");
    p = cdc_xcalloc(1, sizeof(*p));
    d->impl = p;
    p->id = d->id;
    dest_status_init(&p->st, "pubsub transport");
    dest_acks_init(&p->acks, (cdc_pos) { 0, 0 });
    p->project = cdc_xstrdup(c->project_id);
    p->prefix = cdc_xstrdup(c->topic_prefix ? c->topic_prefix
                            : env && env->topic_prefix ? env->topic_prefix : "");
    p->group = cdc_xstrdup(c->group_id && c->group_id[0] ? c->group_id : "cdc");
    p->dlq_suffix = cdc_xstrdup(c->dlq_suffix && c->dlq_suffix[0] ? c->dlq_suffix : "dlq");
    p->dlq_enabled = c->dlq_enabled;
    p->ordering = c->ordering_enabled;
    p->tx_on = c->provide_transaction_metadata;
    p->ack_deadline = c->ack_deadline_seconds >= 10 && c->ack_deadline_seconds <= 600
                          ? c->ack_deadline_seconds : 600;
    /* the service takes 5..100 */
    p->max_delivery = c->max_delivery_attempts < 5 ? 5
                      : c->max_delivery_attempts > 100 ? 100 : c->max_delivery_attempts;
    p->batch_max = c->batch_size > 0 && c->batch_size < PS_MAX_MSGS ? c->batch_size : PS_MAX_MSGS;
    p->linger_ms = c->batch_timeout_s > 0 ? (int64_t) (c->batch_timeout_s * 1000) : 1000;
    p->max_bytes = c->max_waiting_bytes ? c->max_waiting_bytes : PS_DEF_MAX_BYTES;
    /* one ordering key a request: with ordering, rows of distinct keys need requests of
       their own, so many more go at once (Google's client libraries do the same) */
    p->max_inflight = c->max_in_flight > 0 ? c->max_in_flight : p->ordering ? 32 : 8;
    p->timeout_ms = c->timeout_ms > 0 ? c->timeout_ms : 30000;
    p->retry = c->retry;
    if (p->retry.max_attempts <= 0)
        p->retry.max_attempts = 5;
    p->rng = cdc_rng_seed();
    p->ntables = c->ntables > 0 ? c->ntables : 0;
    p->tables = p->ntables ? cdc_xcalloc((size_t) p->ntables, sizeof(*p->tables)) : NULL;
    for (int i = 0; i < p->ntables; i++)
        p->tables[i] = cdc_xstrdup(c->tables[i]);
    sch_json_opts_for(&p->jopts, env ? env->encode_opts : NULL, p->prefix,
                      env ? env->database : NULL, &p->database);
    p->jopts.schemas_enable = c->json_schemas_enable;
    mc.json = p->jopts;
    if (c->serialization == DEST_PUBSUB_SER_AVRO) {
        mc.registry = c->registry;
        mc.avro = c->avro;
        mc.stop_on_incompatible = c->stop_on_incompatible_schema;
    }
    if ((p->enc = sch_msg_enc_new(&mc, err)) == NULL)
        goto fail;
    ac.use_env = true;
    ac.key_file = c->key_file;
    ac.service_url = c->service_url;
    ac.retry = p->retry;
    if ((p->auth = cdc_gcp_auth_new(&ac, err)) == NULL) {
        cdc_err_wrap(err, "pubsub credentials");
        goto fail;
    }
    p->base = cdc_gcp_auth_base_url(p->auth);
    p->q = dest_keyq_new();
    p->hdrs = cdc_http_hdrs_add(NULL, "Content-Type: application/json");
    p->hdrs = cdc_http_hdrs_add(p->hdrs, "Expect:");   /* no 100-continue round trip */
    if (p->hdrs == NULL || (p->multi = cdc_http_multi_new(err)) == NULL ||
        (p->admin = cdc_http_xfer_new(err)) == NULL) {
        cdc_err_set(err, CDC_E_NOMEM, "pubsub: out of memory setting up libcurl");
        goto fail;
    }
    if (env && env->replay_only)
        return 0;
    if (cdc_gcp_auth_fetch(p->auth, err) < 0) {
        cdc_err_wrap(err, "pubsub: credentials (%s)", cdc_gcp_auth_describe(p->auth));
        goto fail;
    }
    if (ps_admin_check(p, err) < 0)
        goto fail;
    log_info(PS_FAC, "project %s at %s, credentials: %s; ordering %s, dead letters %s, "
             "up to %d messages a request, %d requests in flight", p->project, p->base,
             cdc_gcp_auth_describe(p->auth), p->ordering ? "on" : "off",
             p->dlq_enabled ? p->dlq_suffix : "off", p->batch_max, p->max_inflight);
    for (int i = 0; i < p->ntables; i++) {
        char name[300];

        ps_table_topic(p, p->tables[i], name, sizeof(name));
        if (ps_topic_get(p, name, err) == NULL) {
            cdc_err_wrap(err, "pubsub: table %s", p->tables[i]);
            goto fail;
        }
    }
    p->started = true;
    return 0;
fail:
    ps_free(p);
    d->impl = NULL;
    cdc_http_global_cleanup();
    return -1;
}

/* Pub/Sub cannot be read back without stealing from the consumers: nothing held. */
static int
ps_resume_from(cdc_dest *d, cdc_pos *last_done, cdc_err *err)
{
    (void) d;
    (void) err;
    last_done->lsn = last_done->seq = 0;
    return 0;
}

/* A reachability problem (registry, a new topic's creation) makes the agent
   wait like a full queue: the router polls and offers the event again. */
static int
ps_soft(pubsub *p, const char *what, cdc_err *err)
{
    if (err && (err->code == CDC_E_CONN || err->code == CDC_E_TIMEOUT)) {
        if (dest_status_failing(&p->st, "%s: %s", what, err->msg))
            log_warn(PS_FAC, "%s: %s; retrying", what, err->msg);
        err->code = CDC_E_QUEUE_FULL;
    }
    return -1;
}

/* Queues the encoded record sm of ev on t behind the earlier messages of its key;
   ring_pos is its place in the durable order. */
static int
ps_enqueue(pubsub *p, ps_topic *t, const cdc_event *ev, const sch_msg *sm, cdc_pos ring_pos,
           cdc_err *err)
{
    ps_msg *m = ps_msg_build(p, t, ev, sm);

    m->ticket = dest_acks_push(&p->acks, ring_pos);
    if (!ps_msg_fits_alone(t, m)) {
        char why[200];

        snprintf(why, sizeof(why), "a message of %zu bytes (%zu in the request's JSON) is over "
                 "Pub/Sub's limits (10 MB a message and a request, 10 MiB a request body); "
                 "its data is left out of the dead letter", m->wire, m->len);
        return ps_dead_letter(p, m, "message_too_large", why, true, err);
    }
    dest_keyq_push(p->q, p->kbuf.data, p->kbuf.len, m, m->len);
    if (p->wait_since_ms == 0)
        p->wait_since_ms = cdc_mono_ms();
    if (dest_keyq_items(p->q) >= (size_t) p->batch_max)
        return ps_pump(p, err);
    return 0;
}

/*
 * A BEGIN or END record of txn on "{prefix}-transaction" (schemas/message.h),
 * position attributes at the transaction's commit LSN with the SCH_MSG_SEQ_TX_*
 * ordinals.  Debezium names BEGIN and END of one transaction differently
 * ("xid:lsn" with each record's own LSN), so their keys differ: the topic is
 * published as one ordered lane instead (ordering key "default", as a null key)
 * and consumers see BEGIN, END, BEGIN, END... in commit order.
 */
static int
ps_tx_record(pubsub *p, const cdc_txn *txn, bool end, cdc_pos ring_pos, cdc_err *err)
{
    char      name[300], dbz[300];
    ps_topic *t;
    cdc_event hev = { .txn = txn, .lsn = txn->commit_lsn };
    sch_msg   m;

    sch_msg_tx_name(p->prefix, '-', name, sizeof(name));
    sch_msg_tx_name(p->prefix, '.', dbz, sizeof(dbz));
    if ((t = ps_topic_get(p, name, err)) == NULL)
        return ps_soft(p, name, err);
    if (sch_msg_tx_record(p->enc, txn, end, dbz, &m, err) < 0)
        return ps_soft(p, name, err);
    hev.pos = (cdc_pos) { txn->commit_lsn, end ? SCH_MSG_SEQ_TX_END : SCH_MSG_SEQ_TX_BEGIN };
    m.null_key = true;      /* one lane (see above); the id is in the data */
    m.key = NULL;
    m.key_len = 0;
    return ps_enqueue(p, t, &hev, &m, ring_pos, err);
}

static int
ps_write(cdc_dest *d, const cdc_event *ev, cdc_err *err)
{
    pubsub  *p = d->impl;
    char     name[300], topic[300];
    ps_topic *t;
    sch_msg  sm;
    cdc_event withblock;

    if (dest_status_check(&p->st, err) < 0)
        return -1;
    if (p->held_bytes >= p->max_bytes) {
        if (ps_pump(p, err) < 0)
            return -1;
        if (p->held_bytes >= p->max_bytes)
            return cdc_err_set(err, CDC_E_QUEUE_FULL, "pubsub: %zu messages (%zu bytes) "
                               "waiting%s%s", p->held_msgs, p->held_bytes,
                               p->st.failing ? ": " : "", p->st.failing ? p->st.lasterr : "");
    }
    if (ev->op == CDC_OP_TOMBSTONE && !p->ordering) {
        /* Without an ordering key a Pub/Sub message has no key: a tombstone (null value)
           would not say which row it is for.  Not published (docs/pubsub.md); it counts
           as done, in its place in the ring. */
        dest_acks_done(&p->acks, dest_acks_push(&p->acks, ev->pos));
        p->ntombstones_skipped++;
        return 0;
    }
    if (p->tx_on && sch_msg_tx_applies(ev)) {
        if (sch_msg_tx_due(p->enc, ev->pos.lsn, false)) {
            if (ps_tx_record(p, ev->txn, false, ev->pos, err) < 0)
                return -1;
            sch_msg_tx_written(p->enc, false);
        }
        withblock = *ev;
        withblock.tx_block = sch_msg_tx_count(p->enc, ev);
        ev = &withblock;
    }
    sch_msg_bus_name(ev, p->prefix, '-', name, sizeof(name));
    if ((t = ps_topic_get(p, name, err)) == NULL)
        return ps_soft(p, name, err);
    sch_event_topic(ev, p->prefix, topic, sizeof(topic));
    if (sch_msg_encode(p->enc, ev, topic, &sm, err) < 0)
        return ps_soft(p, topic, err);
    return ps_enqueue(p, t, ev, &sm, ev->pos, err);
}

static int
ps_commit_txn(cdc_dest *d, const cdc_txn *txn, cdc_err *err)
{
    pubsub *p = d->impl;

    /* Debezium writes BEGIN for every transaction pgoutput sends, even one whose events
       were all skipped or filtered, and END at its commit (as the Kafka transport). */
    if (p->tx_on && txn->xid != 0 && txn->begin_lsn != 0) {
        cdc_pos last = { txn->commit_lsn, txn->nevents };

        if (sch_msg_tx_due(p->enc, txn->commit_lsn, false)) {
            if (ps_tx_record(p, txn, false, last, err) < 0)
                return -1;
            sch_msg_tx_written(p->enc, false);
        }
        if (sch_msg_tx_due(p->enc, txn->commit_lsn, true)) {
            if (ps_tx_record(p, txn, true, last, err) < 0)
                return -1;
            sch_msg_tx_written(p->enc, true);
        }
    }
    dest_acks_done(&p->acks, dest_acks_push(&p->acks, (cdc_pos) { txn->commit_lsn, CDC_SEQ_END }));
    return ps_pump(p, err);
}

static int
ps_progress(cdc_dest *d, cdc_pos *durable, cdc_err *err)
{
    pubsub *p = d->impl;

    if (ps_pump(p, err) < 0)
        return -1;
    *durable = p->acks.durable;
    return 0;
}

static int
ps_flush(cdc_dest *d, int timeout_ms, cdc_err *err)
{
    pubsub *p = d->impl;
    int64_t deadline = cdc_mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    int     rc = 0;

    p->flushing = true;
    for (;;) {
        int64_t now, wait;

        if (ps_pump(p, err) < 0) {
            rc = -1;
            break;
        }
        if (!ps_busy(p))
            break;
        now = cdc_mono_ms();
        if (now >= deadline) {
            rc = cdc_err_set(err, CDC_E_TIMEOUT, "pubsub: %zu messages not published within "
                             "%d ms%s%s", p->held_msgs, timeout_ms, p->st.failing ? ": " : "",
                             p->st.failing ? p->st.lasterr : "");
            break;
        }
        wait = ps_next_ms(p);
        if (wait > deadline - now)
            wait = deadline - now;
        if (wait > 100)
            wait = 100;
        cdc_http_multi_poll(p->multi, (int) wait);
    }
    p->flushing = false;
    return rc;
}

/*
 * Debezium's heartbeat record on "debezium-heartbeat-<prefix>" (Pub/Sub ids
 * start with a letter: Kafka's "__debezium-heartbeat.<prefix>" cannot be a
 * topic here), created with its subscription at the first heartbeat.  Not
 * retried and not in the ring: it carries no change.
 */
static int
ps_heartbeat(cdc_dest *d, int64_t ts_ms, cdc_err *err)
{
    pubsub *p = d->impl;
    char    name[300];
    sch_msg sm;
    ps_req *r;

    if (dest_status_check(&p->st, err) < 0)
        return -1;
    snprintf(name, sizeof(name), "%s-%s", PS_HB_TOPIC, p->prefix);
    if (p->hb_topic == NULL && (p->hb_topic = ps_topic_get(p, name, err)) == NULL)
        return -1;
    if (sch_msg_heartbeat(p->enc, name, p->prefix, ts_ms, &sm, err) < 0)
        return -1;
    r = cdc_xcalloc(1, sizeof(*r));
    r->kind = PS_REQ_HEARTBEAT;
    r->url = p->hb_topic->url;
    r->topic = p->hb_topic->name;
    cdc_buf_puts(&r->body, PS_BODY_HEAD "{\"data\":\"");
    if (sm.value)
        ps_base64(&r->body, sm.value, sm.value_len);
    cdc_buf_puts(&r->body, "\",\"attributes\":{\"cdc.content_type\":");
    sch_json_put_string(&r->body, sm.content_type ? sm.content_type : "application/json",
                        strlen(sm.content_type ? sm.content_type : "application/json"));
    cdc_buf_puts(&r->body, "}}]}");
    ps_loose_add(p, r);
    return ps_pump(p, err);
}

static void
ps_health(cdc_dest *d, cdc_health *h)
{
    pubsub *p = d->impl;

    dest_status_health(&p->st, h);
    if (h->state == CDC_DEST_OK)
        snprintf(h->detail, sizeof(h->detail),
                 "%" PRIu64 " published, %zu waiting, %d requests in flight, %" PRIu64
                 " retries, %" PRIu64 " dead letters, durable %X/%X #%" PRIu64, p->nmsgs,
                 p->held_msgs, p->inflight, p->nretries, p->ndlq,
                 (unsigned) (p->acks.durable.lsn >> 32), (unsigned) p->acks.durable.lsn,
                 p->acks.durable.seq);
    else if (h->state == CDC_DEST_DEGRADED)
        snprintf(h->detail, sizeof(h->detail), "%zu messages waiting; %s", p->held_msgs,
                 p->st.lasterr);
}

static void
ps_close(cdc_dest *d)
{
    pubsub *p = d->impl;

    if (p == NULL)
        return;
    if (p->held_msgs > 0)
        log_warn(PS_FAC, "closing with %zu messages not published (they are sent again after "
                 "the restart)", p->held_msgs);
    log_info(PS_FAC, "%" PRIu64 " messages in %" PRIu64 " requests, %" PRIu64 " retries, %"
             PRIu64 " dead letters, %" PRIu64 " batches split, %" PRIu64 " attributes dropped, %"
             PRIu64 " tombstones not sent (ordering off)", p->nmsgs, p->nreqs, p->nretries,
             p->ndlq, p->nsolo, p->ndropped_attrs, p->ntombstones_skipped);
    ps_free(p);
    d->impl = NULL;
    cdc_http_global_cleanup();
}

const cdc_dest_ops dest_pubsub_ops = {
    .kind = "pubsub",
    .open = ps_open,
    .resume_from = ps_resume_from,
    .write = ps_write,
    .commit_txn = ps_commit_txn,
    .progress = ps_progress,
    .flush = ps_flush,
    .health = ps_health,
    .heartbeat = ps_heartbeat,
    .close = ps_close,
};

/*
 * The Kinesis transport (see kinesis.h and docs/kinesis.md).
 *
 * What is sent.  One record per change: Data is Debezium's value exactly as
 * the Kafka transport sends it (schemas/message.h; JSON, {schema,payload}
 * only with kinesis.json_schemas_enable, as Debezium Server), PartitionKey the
 * serialized Debezium key (kinesis.h: dest_kinesis_partition_key).  Kinesis
 * has no headers, so cdc.commit_lsn/cdc.seq are not sent apart: a record's
 * identity is its value's source block (what kinesis_resume.c reads back).
 * These choices follow Debezium Server's Kinesis sink (KinesisChangeConsumer:
 * partitionKey = the key's text or null.key "default", data = the value or ""
 * for a null value), so a consumer of its streams reads ours unchanged; where
 * we differ (keys over 256 characters are hashed where Debezium Server's
 * requests are refused) docs/kinesis.md says so.  Tombstones are records
 * with empty Data, as Debezium Server sends them: Kinesis can carry them but
 * has no compaction, so they only tell a consumer the key is gone.
 *
 * Region and endpoint.  The AWS chain's region wins (AWS_REGION,
 * AWS_DEFAULT_REGION, the profile's region): that is what AWS's SDKs and
 * the IRSA/ECS environments set, and an operator who exports AWS_REGION
 * means it; kinesis.region (platform.yaml, default us-east-1) is used when
 * none of them is set.  The endpoint is cdc_aws_endpoint(p, "kinesis"):
 * AWS_ENDPOINT_URL_KINESIS, AWS_ENDPOINT_URL, the profile's endpoint_url,
 * else https://kinesis.<region>.amazonaws.com.  Both are logged at start.
 *
 * Durability.  write() gives each record a ticket in the in-flight ring
 * (agent/core/dest/acks.h) in position order; a record is done once
 * PutRecords returned it with a SequenceNumber (kinesis_put.c); the ring's
 * finished prefix is the durable position the slot is confirmed to.
 * commit_txn() adds (commit_lsn, CDC_SEQ_END), done at once.  Memory is
 * bounded by records and bytes held (waiting or in flight): past either,
 * write() answers CDC_E_QUEUE_FULL and the router waits in flush().
 *
 * Order.  kinesis_put.c: one record of a key in flight at a time.
 * Records without a key (tables without a primary key, truncates) get the
 * partition key "default" like Debezium Server's, but each is its own unit
 * of order (no key, no per-key order to keep), so they go in parallel.
 *
 * Bad input.  A record over Kinesis's 1 MiB limit (data + partition key)
 * cannot be written as it is: its key gets a dead letter in
 * "<stream>-<kinesis.dlq_stream_suffix>" in its place (in the key's order),
 * a small JSON object with the platform's dlq.* fields, the event's
 * position, its key and the value's size and SHA-256 (the value itself does
 * not fit, by definition; it is still in the source table).  With dlq.enabled
 * false, or a dead-letter stream that cannot be made, the agent stops with a
 * message naming the table, the key and the size: never a silent drop.
 *
 * Faults.  Throttling, 5xx, garbage and no answer are retried forever with
 * retry.* backoff; the slot does not move past what is not written, health
 * (/readyz) says why, and everything goes once the service answers.
 * Credentials refused, a region that does not resolve and missing rights to
 * create a missing stream are errors at start (kinesis_stream.c).
 */
#include "transports/kinesis/kinesis_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/core/cdc_clock.h"
#include "agent/core/cdc_log.h"
#include "agent/core/cdc_mem.h"
#include "schemas/json.h"
#include "schemas/topic.h"

#define KIN_MAX_INFLIGHT 8
#define KIN_MAX_BYTES    (64u << 20)
#define KIN_MAX_RECORDS  100000

static void kin_close(cdc_dest *d);

/* The stream of a "schema.table" of source.tables; false when it cannot be named. */
static bool
kin_table_stream(const kinesis *k, const char *t, char *out, size_t n)
{
    const char *dot = strchr(t, '.');
    char        nsp[128];

    if (dot == NULL || strchr(t, '"') || (size_t) (dot - t) >= sizeof(nsp))
        return false;
    snprintf(nsp, sizeof(nsp), "%.*s", (int) (dot - t), t);
    sch_topic_name(k->prefix, nsp, dot + 1, out, n);
    for (char *p = out; *p; p++)
        if (*p == '.')
            *p = '-';
    return true;
}

static int
kin_open(cdc_dest *d, const void *conf, const cdc_dest_env *env, cdc_err *err)
{
    const dest_kinesis_conf *c = conf;
    kinesis                 *k;
    cdc_aws_opts             ao = { .profile = c ? c->profile : NULL };
    const char              *rsrc = "AWS_REGION, AWS_DEFAULT_REGION or the profile";

    if (c == NULL)
        return cdc_err_set(err, CDC_E_CONFIG, "kinesis: no configuration");
    if (cdc_http_global_init(err) < 0)
        return cdc_err_wrap(err, "kinesis");
    k = cdc_xcalloc(1, sizeof(*k));
    d->impl = k;
    snprintf(k->stlabel, sizeof(k->stlabel), "kinesis transport");
    dest_status_init(&k->st, k->stlabel);
    dest_acks_init(&k->acks, (cdc_pos) { 0, 0 });
    k->q = dest_keyq_new();
    k->rng = cdc_rng_seed();
    k->prefix = cdc_xstrdup(c->topic_prefix ? c->topic_prefix
                            : env && env->topic_prefix ? env->topic_prefix : "");
    k->dlq_suffix = cdc_xstrdup(c->dlq_suffix && c->dlq_suffix[0] ? c->dlq_suffix : "dlq");
    k->dlq_enabled = c->dlq_enabled;
    k->sink_id = cdc_xstrdup(d->id ? d->id : "kinesis");
    k->shard_count = c->shard_count > 0 ? c->shard_count : 1;
    k->dlq_shard_count = c->dlq_shard_count > 0 ? c->dlq_shard_count : 1;
    k->batch_max = c->batch_size > 0 && c->batch_size < DEST_KINESIS_MAX_RECORDS
                       ? c->batch_size : DEST_KINESIS_MAX_RECORDS;
    k->max_inflight = c->max_in_flight > 0 ? c->max_in_flight : KIN_MAX_INFLIGHT;
    k->max_bytes = c->max_bytes > 0 ? c->max_bytes : KIN_MAX_BYTES;
    k->max_records = c->max_records > 0 ? c->max_records : KIN_MAX_RECORDS;
    k->timeout_ms = c->timeout_ms > 0 ? c->timeout_ms : 30000;
    k->retry = c->retry;
    sch_json_opts_for(&k->jopts, env ? env->encode_opts : NULL, k->prefix,
                      env ? env->database : NULL, &k->database);
    k->jopts.schemas_enable = c->json_schemas_enable;

    /* the chain's region first, kinesis.region otherwise (see the top) */
    if ((k->aws = cdc_aws_provider_new(&ao, err)) == NULL)
        goto fail;
    if (cdc_aws_provider_region(k->aws)[0] == '\0') {
        cdc_aws_provider_free(k->aws);
        ao.region = c->region;
        rsrc = "kinesis.region";
        if ((k->aws = cdc_aws_provider_new(&ao, err)) == NULL)
            goto fail;
    }
    k->region = cdc_xstrdup(cdc_aws_provider_region(k->aws));
    if (k->region[0] == '\0') {
        cdc_err_set(err, CDC_E_CONFIG, "kinesis: no region: set kinesis.region or AWS_REGION");
        goto fail;
    }
    if ((k->endpoint = cdc_aws_endpoint(k->aws, "kinesis", err)) == NULL)
        goto fail;
    k->label = cdc_http_url_label(k->endpoint);
    snprintf(k->stlabel, sizeof(k->stlabel), "kinesis %s", k->label);
    if ((k->multi = cdc_http_multi_new(err)) == NULL)
        goto fail;

    sch_msg_conf mc = { .json = k->jopts, .registry = c->registry, .avro = c->avro,
                        .stop_on_incompatible = c->stop_on_incompatible_schema };
    if ((k->enc = sch_msg_enc_new(&mc, err)) == NULL)
        goto fail;
    cdc_aws_json_conf kc = { .provider = k->aws, .service = "kinesis", .json_version = "1.1",
                             .target_prefix = CDC_AWS_KINESIS_TARGET, .endpoint = k->endpoint,
                             .region = k->region, .timeout_ms = k->timeout_ms };
    cdc_aws_json_conf dc = { .provider = k->aws, .service = "dynamodb", .json_version = "1.0",
                             .target_prefix = CDC_AWS_DYNAMODB_TARGET, .region = k->region,
                             .timeout_ms = KIN_CALL_MS };
    if ((k->kj = cdc_aws_json_new(&kc, err)) == NULL || (k->ddb = cdc_aws_json_new(&dc, err)) == NULL)
        goto fail;
    k->resume_lsn = env ? env->resume_lsn : 0;
    k->tx_on = c->provide_transaction_metadata;
    k->tstreams = cdc_xcalloc((size_t) c->ntables + 1, sizeof(*k->tstreams));
    if (k->tx_on) {
        char name[300];

        k->tstreams[k->ntstreams++] = cdc_xstrdup(sch_msg_tx_name(k->prefix, '-', name,
                                                                  sizeof(name)));
    }
    for (int i = 0; i < c->ntables; i++) {
        char name[300];

        if (kin_table_stream(k, c->tables[i], name, sizeof(name)))
            k->tstreams[k->ntstreams++] = cdc_xstrdup(name);
    }
    if (env && env->replay_only)
        return 0;
    log_info(KIN_FAC, "%s, region %s (from %s), %s records, up to %d requests of %d records "
             "in flight, dead letters %s", k->label, k->region, rsrc,
             c->registry ? "Avro" : "JSON", k->max_inflight, k->batch_max,
             k->dlq_enabled ? k->dlq_suffix : "off");
    if (kin_check_start(k, err) < 0)
        goto fail;
    for (int i = 0; i < k->ntstreams && !k->st.failing; i++) {
        kin_stream *st = kin_stream_get(k, k->tstreams[i], false);

        if (kin_stream_ensure(k, st, true, err) < 0) {
            if (err->code != CDC_E_CONN && err->code != CDC_E_TIMEOUT)
                goto fail;
            log_warn(KIN_FAC, "%s; trying again at its first record", err->msg);
        }
    }
    kin_ckpt_conf cc = { .table = c->checkpoint_table,
                         .pipeline_id = c->pipeline_id ? c->pipeline_id
                                        : env && env->pipeline_id ? env->pipeline_id : "cdcagent",
                         .ttl_s = c->checkpoint_ttl_s };
    if ((k->ckpt = kinesis_ckpt_open(k->ddb, &cc, err)) == NULL) {
        cdc_err_wrap(err, "kinesis: checkpoint table");
        goto fail;
    }
    return 0;
fail:
    kin_close(d);
    return -1;
}

/*
 * What the streams already hold of what PostgreSQL sends again (kinesis_resume.c reads
 * each shard forward from its checkpoint); write() skips exactly those events.
 */
static int
kin_resume_from(cdc_dest *d, cdc_pos *last_done, cdc_err *err)
{
    kinesis        *k = d->impl;
    kin_resume_conf rc = { .kinesis = k->kj, .ckpt = k->ckpt,
                           .streams = (const char *const *) k->tstreams,
                           .nstreams = k->ntstreams, .dlq_suffix = k->dlq_suffix,
                           .resume_lsn = k->resume_lsn };

    last_done->lsn = last_done->seq = 0;
    kin_resume_free(k->resume);
    if ((k->resume = kin_resume_load(&rc, d, err)) == NULL)
        return cdc_err_wrap(err, "kinesis: reading back what the streams hold");
    return 0;
}

static int
kin_write(cdc_dest *d, const cdc_event *ev, cdc_err *err)
{
    kinesis    *k = d->impl;
    char        topic[300], name[300], pkey[DEST_KINESIS_MAX_PKEY * 4 + 1], table[300];
    kin_stream *st, *to;
    sch_msg     m;
    size_t      pklen, size, dlen = 0;
    char       *data = NULL;
    cdc_event   withblock;

    if (dest_status_check(&k->st, err) < 0)
        return -1;
    if (k->nrecs >= (size_t) k->max_records || k->bytes >= k->max_bytes) {
        if (kin_pump(k, err) < 0)
            return -1;
        if (k->nrecs >= (size_t) k->max_records || k->bytes >= k->max_bytes)
            return cdc_err_set(err, CDC_E_QUEUE_FULL, "kinesis: %zu records (%zu bytes) wait "
                               "for Kinesis%s%s", k->nrecs, k->bytes,
                               k->st.failing ? ": " : "", k->st.failing ? k->st.lasterr : "");
    }
    sch_event_topic(ev, k->prefix, topic, sizeof(topic));
    sch_msg_bus_name(ev, k->prefix, '-', name, sizeof(name));
    st = kin_stream_get(k, name, false);
    if (kin_stream_ready(k, st, err) < 0)
        return -1;
    if (k->tx_on && sch_msg_tx_applies(ev)) {
        if (sch_msg_tx_due(k->enc, ev->pos.lsn, false)) {
            if (kin_tx_record(k, ev->txn, false, ev->pos, err) < 0)
                return -1;
            sch_msg_tx_written(k->enc, false);
        }
        withblock = *ev;
        withblock.tx_block = sch_msg_tx_count(k->enc, ev);
        ev = &withblock;
    }
    if (sch_msg_encode(k->enc, ev, topic, &m, err) < 0) {
        if (err->code == CDC_E_CONN || err->code == CDC_E_TIMEOUT) {
            if (dest_status_failing(&k->st, "Schema Registry: %s", err->msg))
                log_warn(KIN_FAC, "Schema Registry: %s; records wait", err->msg);
            err->code = CDC_E_QUEUE_FULL;
            return -1;
        }
        dest_status_fatal(&k->st, "%s", err->msg);
        return cdc_err_wrap(err, "kinesis: stream %s", name);
    }
    pklen = kin_pkey(&m, pkey, sizeof(pkey));
    if (kin_resume_has(k->resume, name, ev->lsn, pkey, pklen, m.null_value ? NULL : m.value,
                       m.null_value ? 0 : m.value_len)) {
        /* already in the stream (written before a crash): done at once */
        uint64_t t = dest_acks_push(&k->acks, ev->pos);

        dest_acks_done(&k->acks, t);
        k->nskipped++;
        return 0;
    }
    size = (m.null_value ? 0 : m.value_len) + pklen;
    to = st;
    if (size > DEST_KINESIS_MAX_RECORD) {
        char dname[400], kshow[120];

        kin_table_of(ev, table, sizeof(table));
        snprintf(kshow, sizeof(kshow), "%.*s%s", (int) (m.key_len < 100 ? m.key_len : 100),
                 m.null_key ? "null" : m.key, m.key_len > 100 ? "..." : "");
        if (!k->dlq_enabled) {
            dest_status_fatal(&k->st, "a record of table %s, key %s, is %zu bytes, over "
                              "Kinesis's 1 MiB limit, and dlq.enabled is false: stopping rather "
                              "than dropping it", table, kshow, size);
            log_error(KIN_FAC, "%s", k->st.lasterr);
            return cdc_err_set(err, CDC_E_DEST, "kinesis: %s", k->st.lasterr);
        }
        snprintf(dname, sizeof(dname), "%s-%s", name, k->dlq_suffix);
        to = kin_stream_get(k, dname, true);
        if (kin_stream_ready_as(k, to, true, err) < 0) {
            if (err->code == CDC_E_QUEUE_FULL)
                return -1;
            dest_status_fatal(&k->st, "a record of table %s, key %s, is %zu bytes, over "
                              "Kinesis's 1 MiB limit, and its dead-letter stream %s cannot be "
                              "used: %s", table, kshow, size, dname,
                              strncmp(err->msg, "kinesis: ", 9) == 0 ? err->msg + 9 : err->msg);
            log_error(KIN_FAC, "%s", k->st.lasterr);
            return cdc_err_set(err, CDC_E_DEST, "kinesis: %s", k->st.lasterr);
        }
        data = kin_dead_letter(k, ev, name, &m, size, &dlen);
        if (data == NULL)
            return cdc_err_set(err, CDC_E_NOMEM, "kinesis: out of memory");
        log_error(KIN_FAC, "a record of table %s, key %s, is %zu bytes, over Kinesis's 1 MiB "
                  "limit: a dead letter goes to %s in its place", table, kshow, size, dname);
    } else {
        data = kin_copy_value(&m, &dlen);
    }
    kin_queue(k, to, name, m.null_key, ev->pos, pkey, pklen, data, dlen,
              dest_acks_push(&k->acks, ev->pos));
    k->written = ev->pos;
    return kin_pump(k, err);
}

static int
kin_commit_txn(cdc_dest *d, const cdc_txn *txn, cdc_err *err)
{
    kinesis *k = d->impl;
    uint64_t t;

    /* Debezium writes BEGIN for every transaction pgoutput sends, even one whose events
       were all skipped, and END at its commit */
    if (k->tx_on && txn->xid != 0 && txn->begin_lsn != 0) {
        cdc_pos last = { txn->commit_lsn, txn->nevents };

        if (sch_msg_tx_due(k->enc, txn->commit_lsn, false)) {
            if (kin_tx_record(k, txn, false, last, err) < 0)
                return -1;
            sch_msg_tx_written(k->enc, false);
        }
        if (sch_msg_tx_due(k->enc, txn->commit_lsn, true)) {
            if (kin_tx_record(k, txn, true, last, err) < 0)
                return -1;
            sch_msg_tx_written(k->enc, true);
        }
    }
    t = dest_acks_push(&k->acks, (cdc_pos) { txn->commit_lsn, CDC_SEQ_END });
    dest_acks_done(&k->acks, t);
    return kin_pump(k, err);
}

static int
kin_progress(cdc_dest *d, cdc_pos *durable, cdc_err *err)
{
    kinesis *k = d->impl;

    if (dest_status_check(&k->st, err) < 0)
        return -1;
    if (kin_pump(k, err) < 0)
        return -1;
    if (k->ckpt) {
        cdc_err e = { 0 };

        (void) kinesis_ckpt_flush(k->ckpt, k->written, false, &e);  /* logs its failures */
    }
    *durable = k->acks.durable;
    return 0;
}

static int
kin_flush(cdc_dest *d, int timeout_ms, cdc_err *err)
{
    kinesis *k = d->impl;
    int64_t  deadline = cdc_mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);

    for (;;) {
        int64_t now, wait = 100, due;

        if (dest_status_check(&k->st, err) < 0)
            return -1;
        if (kin_pump(k, err) < 0)
            return -1;
        now = cdc_mono_ms();
        if (k->nrecs == 0 && k->stream_wait_ms > now) {
            /* nothing queued, but write() waits for a stream: do not spin the router */
            cdc_sleep_ms((k->stream_wait_ms < deadline ? k->stream_wait_ms : deadline) - now);
            k->stream_wait_ms = 0;
            if (cdc_mono_ms() >= deadline)
                return cdc_err_set(err, CDC_E_TIMEOUT, "kinesis: %s", k->st.lasterr);
            return 0;
        }
        if (k->nrecs == 0) {
            cdc_err e = { 0 };

            /* a checkpoint only shortens the next restart's read: never fails a flush */
            if (k->ckpt)
                (void) kinesis_ckpt_flush(k->ckpt, k->written, true, &e);
            return 0;
        }
        now = cdc_mono_ms();
        if (now >= deadline)
            return cdc_err_set(err, CDC_E_TIMEOUT, "kinesis: %zu records not written within "
                               "%d ms%s%s", k->nrecs, timeout_ms, k->st.failing ? ": " : "",
                               k->st.failing ? k->st.lasterr : "");
        due = dest_keyq_due_ms(k->q);
        if (k->inflight == 0 && due > now && due - now < wait)
            wait = due - now;
        if (deadline - now < wait)
            wait = deadline - now;
        if (k->inflight > 0)
            cdc_http_multi_poll(k->multi, (int) (wait > 0 ? wait : 1));
        else
            cdc_sleep_ms(wait > 0 ? wait : 1);
    }
}

static void
kin_health(cdc_dest *d, cdc_health *h)
{
    kinesis *k = d->impl;

    dest_status_health(&k->st, h);
    if (h->state == CDC_DEST_OK)
        snprintf(h->detail, sizeof(h->detail), "%s: %llu records in %llu requests, %llu "
                 "retried (%llu throttled), %llu dead letters, %llu skipped, %zu waiting",
                 k->label, (unsigned long long) k->nput, (unsigned long long) k->nreq,
                 (unsigned long long) k->nretries, (unsigned long long) k->nthrottled,
                 (unsigned long long) k->ndlq, (unsigned long long) k->nskipped, k->nrecs);
}

static void
kin_free_item(void *item)
{
    kin_rec_free(item);
}

static void
kin_close(cdc_dest *d)
{
    kinesis *k = d->impl;

    if (k == NULL)
        return;
    if (k->nrecs > 0)
        log_warn(KIN_FAC, "closing with %zu records not written (PostgreSQL sends them again "
                 "after the restart)", k->nrecs);
    if (k->nreq > 0 || k->nskipped > 0)
        log_info(KIN_FAC, "%llu records in %llu PutRecords requests, %llu retried (%llu "
                 "throttled), %llu dead letters, %llu skipped (already in the stream)",
                 (unsigned long long) k->nput, (unsigned long long) k->nreq,
                 (unsigned long long) k->nretries, (unsigned long long) k->nthrottled,
                 (unsigned long long) k->ndlq, (unsigned long long) k->nskipped);
    while (k->running) {
        kin_req *r = k->running;

        k->running = r->next;
        cdc_http_multi_remove(k->multi, r->x);
        for (int i = 0; i < r->n; i++)
            kin_rec_free(r->recs[i]);
        kin_req_free(r);
    }
    while (k->free_reqs) {
        kin_req *r = k->free_reqs;

        k->free_reqs = r->next;
        kin_req_free(r);
    }
    while (k->streams) {
        kin_stream *s = k->streams;

        k->streams = s->next;
        free(s->name);
        free(s);
    }
    if (k->q)
        dest_keyq_free(k->q, kin_free_item);
    kin_resume_free(k->resume);
    kinesis_ckpt_close(k->ckpt);
    cdc_aws_json_free(k->kj);
    cdc_aws_json_free(k->ddb);
    for (int i = 0; i < k->ntstreams; i++)
        free(k->tstreams[i]);
    free(k->tstreams);
    cdc_http_multi_free(k->multi);
    sch_msg_enc_free(k->enc);
    cdc_aws_provider_free(k->aws);
    dest_acks_free(&k->acks);
    free(k->endpoint);
    free(k->label);
    free(k->region);
    free(k->prefix);
    free(k->database);
    free(k->dlq_suffix);
    free(k->sink_id);
    free(k);
    d->impl = NULL;
    cdc_http_global_cleanup();
}

const cdc_dest_ops dest_kinesis_ops = {
    .kind = "kinesis",
    .open = kin_open,
    .resume_from = kin_resume_from,
    .write = kin_write,
    .commit_txn = kin_commit_txn,
    .progress = kin_progress,
    .flush = kin_flush,
    .health = kin_health,
    .heartbeat = kin_heartbeat,
    .close = kin_close,
};

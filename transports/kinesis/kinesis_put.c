/*
 * PutRecords: which records go together, and what comes back.
 *
 * Records wait in dest_keyq (agent/core/dest/keyq.h), one FIFO per key (the
 * stream and the partition key).  kin_schedule() takes the ready keys in the
 * order they became ready and ONE record of each: a key is busy until its
 * record is back, so a request never holds two records of one key and no two
 * requests in flight do either.  That is the whole ordering argument: Kinesis
 * does not order the records of one PutRecords call, and a partial failure
 * can refuse an earlier record while a later one lands, so a key's next
 * record must not be sent before the previous one has its SequenceNumber.
 * The records of a request are of one stream (the API names one); each
 * stream fills its own request, up to batch_size (<= 500) records and 5 MiB
 * (data + partition keys).  A request goes out as soon as it cannot grow any
 * more in this pass: records never wait for a batch to fill, so under light
 * load the latency is one round trip, and under load requests fill up while
 * max_in_flight others run.
 *
 * What comes back, per record: a SequenceNumber (done: the key is free, the
 * ring ticket is done, the checkpoint notes shard and sequence number) or an
 * ErrorCode (ProvisionedThroughputExceededException, InternalFailure): the
 * record goes back to the head of its key with backoff (retry.*), its key's
 * later records wait, other keys go on.  A request that failed as a whole (no
 * answer, 5xx, 4xx, an answer that is not PutRecords' JSON) sends all its
 * records back the same way.  Nothing is ever given up: a record is retried
 * until it lands, the slot does not move past it meanwhile, and health says
 * why.  The cost: a single hot key moves one record per round trip.
 */
#include "transports/kinesis/kinesis_int.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/core/cdc_clock.h"
#include "agent/core/cdc_log.h"
#include "agent/core/cdc_mem.h"

/* Standard base64 of p[0..n), appended to b. */
static void
kin_b64(cdc_buf *b, const void *p, size_t n)
{
    static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *s = p;
    char                 q[4];
    size_t               i;

    if (!cdc_buf_reserve(b, (n + 2) / 3 * 4))
        return;
    for (i = 0; i + 2 < n; i += 3) {
        q[0] = al[s[i] >> 2];
        q[1] = al[((s[i] & 3) << 4) | (s[i + 1] >> 4)];
        q[2] = al[((s[i + 1] & 15) << 2) | (s[i + 2] >> 6)];
        q[3] = al[s[i + 2] & 63];
        cdc_buf_put(b, q, 4);
    }
    if (i < n) {
        q[0] = al[s[i] >> 2];
        if (i + 1 < n) {
            q[1] = al[((s[i] & 3) << 4) | (s[i + 1] >> 4)];
            q[2] = al[(s[i + 1] & 15) << 2];
        } else {
            q[1] = al[(s[i] & 3) << 4];
            q[2] = '=';
        }
        q[3] = '=';
        cdc_buf_put(b, q, 4);
    }
}

void
kin_rec_free(kin_rec *r)
{
    if (r == NULL)
        return;
    free(r->pkey);
    free(r->data);
    free(r);
}

static size_t
kin_rec_bytes(const kin_rec *r)
{
    return r->dlen + r->pklen;
}

void
kin_req_free(kin_req *r)
{
    if (r == NULL)
        return;
    cdc_aws_call_free(&r->call);
    cdc_http_xfer_free(r->x);
    free(r->recs);
    free(r);
}

static kin_req *
kin_req_new(kinesis *k, kin_stream *st)
{
    kin_req *r = k->free_reqs;

    if (r) {
        k->free_reqs = r->next;
    } else {
        r = cdc_xcalloc(1, sizeof(*r));
        cdc_aws_call_init(&r->call);
    }
    r->next = NULL;
    r->st = st;
    r->n = 0;
    r->bytes = 0;
    return r;
}

/* Back to the free list; its xfer is kept (and with it the connection). */
static void
kin_req_recycle(kinesis *k, kin_req *r)
{
    cdc_aws_call_free(&r->call);
    cdc_aws_call_init(&r->call);
    r->n = 0;
    r->st = NULL;
    r->next = k->free_reqs;
    k->free_reqs = r;
}

static void
kin_req_add(kin_req *r, kin_rec *rec)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 16;
        r->recs = cdc_xrealloc(r->recs, (size_t) r->cap * sizeof(*r->recs));
    }
    r->recs[r->n++] = rec;
    r->bytes += kin_rec_bytes(rec);
}

/* The record failed this attempt: back to the head of its key, held for the backoff. */
static void
kin_retry_rec(kinesis *k, kin_rec *rec, int64_t at_least_ms, int64_t now)
{
    dest_keyq_key *key = rec->key;
    void          *item = rec;
    size_t         bytes = kin_rec_bytes(rec);
    int64_t        wait;

    if (rec->ticket == KIN_NO_TICKET) {
        /* a heartbeat carries no change: a failed one is counted, not retried */
        dest_keyq_done(k->q, key);
        k->nrecs--;
        k->bytes -= bytes;
        k->nhb_lost++;
        kin_rec_free(rec);
        return;
    }
    rec->attempts++;
    wait = cdc_retry_delay_ms(&k->retry, rec->attempts, &k->rng);
    if (at_least_ms > wait)
        wait = at_least_ms;
    rec->key = NULL;
    dest_keyq_retry(k->q, key, &item, &bytes, 1, now + wait);
    k->nretries++;
}

static void
kin_ok_rec(kinesis *k, kin_rec *rec, const char *shard, const char *seqno)
{
    if (k->ckpt && !rec->st->dlq && !rec->st->hb && shard && seqno)
        kinesis_ckpt_note(k->ckpt, rec->st->name, shard, rec->pos, seqno);
    dest_keyq_done(k->q, rec->key);
    if (rec->ticket != KIN_NO_TICKET)
        dest_acks_done(&k->acks, rec->ticket);
    else
        k->nhb++;
    k->nrecs--;
    k->bytes -= kin_rec_bytes(rec);
    k->nput++;
    if (rec->st->dlq)
        k->ndlq++;
    kin_rec_free(rec);
}

/* Every record of r failed (the request as a whole). */
static void
kin_fail_all(kinesis *k, kin_req *r, const char *why, int64_t at_least_ms)
{
    int64_t now = cdc_mono_ms();

    if (dest_status_failing(&k->st, "PutRecords to %s: %s", r->st->name, why))
        log_warn(KIN_FAC, "PutRecords to %s failed: %s; %d records retried with backoff, "
                 "later records of their keys wait", r->st->name, why, r->n);
    for (int i = 0; i < r->n; i++)
        kin_retry_rec(k, r->recs[i], at_least_ms, now);
}

static void
kin_body(kin_req *r)
{
    cdc_buf *b = &r->call.body;

    cdc_buf_reset(b);
    cdc_buf_puts(b, "{\"StreamName\":");
    kin_json_str(b, r->st->name, strlen(r->st->name));
    cdc_buf_puts(b, ",\"Records\":[");
    for (int i = 0; i < r->n; i++) {
        const kin_rec *rec = r->recs[i];

        cdc_buf_puts(b, i ? ",{\"Data\":\"" : "{\"Data\":\"");
        kin_b64(b, rec->data, rec->dlen);
        cdc_buf_puts(b, "\",\"PartitionKey\":");
        kin_json_str(b, rec->pkey, rec->pklen);
        cdc_buf_putc(b, '}');
    }
    cdc_buf_puts(b, "]}");
}

static int
kin_send(kinesis *k, kin_req *r, cdc_err *err)
{
    cdc_err e = { 0 };

    kin_body(r);
    if (cdc_buf_failed(&r->call.body))
        return cdc_err_set(err, CDC_E_NOMEM, "kinesis: out of memory building a request");
    if (cdc_aws_json_sign(k->kj, &r->call, "PutRecords", &e) < 0) {
        /* credentials could not be fetched now (metadata endpoint down...): later */
        if (e.code == CDC_E_NOMEM)
            return cdc_err_set(err, CDC_E_NOMEM, "%s", e.msg);
        kin_fail_all(k, r, e.msg, 0);
        kin_req_recycle(k, r);
        return 0;
    }
    if (r->x == NULL && (r->x = cdc_http_xfer_new(err)) == NULL)
        return -1;
    cdc_http_xfer_set_user(r->x, r);
    /* no "Expect: 100-continue" round trip before a large body */
    if ((r->call.hdrs = cdc_http_hdrs_add(r->call.hdrs, "Expect:")) == NULL)
        return cdc_err_set(err, CDC_E_NOMEM, "kinesis: out of memory building a request");
    r->call.req.hdrs = r->call.hdrs;
    if (cdc_http_multi_add(k->multi, r->x, &r->call.req, err) < 0)
        return cdc_err_wrap(err, "kinesis");
    r->sent_ms = cdc_mono_ms();
    r->next = k->running;
    k->running = r;
    k->inflight++;
    k->nreq++;
    return 0;
}

/* A PutRecords answer: per record, landed or back to its key. */
static int
kin_done(kinesis *k, kin_req *r)
{
    cdc_aws_result res = { 0 };
    cdc_err        e = { 0 };
    json_t        *recs;
    char           why[400];
    int64_t        now = cdc_mono_ms();
    int            failed = 0;
    const char    *code1 = NULL, *msg1 = NULL;

    for (kin_req **pp = &k->running; *pp; pp = &(*pp)->next)
        if (*pp == r) {
            *pp = r->next;
            break;
        }
    r->next = NULL;
    k->inflight--;
    if (cdc_aws_json_finish(k->kj, &r->call, cdc_http_xfer_resp(r->x), &res, &e) < 0) {
        /* the request as a whole: no answer, 5xx, 4xx, throttled, garbage */
        if (res.throttled)
            k->nthrottled += (uint64_t) r->n;
        if (strcmp(res.code, "ResourceNotFoundException") == 0 && r->st->ready) {
            /* the stream went away (deleted, or a test server restarted empty): its
               records wait until it is there again (kin_schedule makes it) */
            log_warn(KIN_FAC, "stream %s is gone: %s; it is created again", r->st->name,
                     res.message);
            r->st->ready = false;
            r->st->next_try_ms = 0;
        }
        kin_fail_all(k, r, e.msg, res.retry_after_s * 1000);
        cdc_aws_result_clear(&res);
        kin_req_recycle(k, r);
        return 0;
    }
    recs = json_object_get(res.json, "Records");
    if (!json_is_array(recs) || json_array_size(recs) != (size_t) r->n) {
        snprintf(why, sizeof(why), "HTTP 200 but not a PutRecords answer for %d records", r->n);
        kin_fail_all(k, r, why, 0);
        cdc_aws_result_clear(&res);
        kin_req_recycle(k, r);
        return 0;
    }
    for (int i = 0; i < r->n; i++) {
        json_t     *en = json_array_get(recs, (size_t) i);
        const char *seq = json_string_value(json_object_get(en, "SequenceNumber"));
        const char *shard = json_string_value(json_object_get(en, "ShardId"));
        const char *c = json_string_value(json_object_get(en, "ErrorCode"));

        if (seq && c == NULL) {
            kin_ok_rec(k, r->recs[i], shard, seq);
            continue;
        }
        failed++;
        if (code1 == NULL) {
            code1 = c;
            msg1 = json_string_value(json_object_get(en, "ErrorMessage"));
        }
        if (c && strcmp(c, "ProvisionedThroughputExceededException") == 0)
            k->nthrottled++;
        kin_retry_rec(k, r->recs[i], 0, now);
    }
    if (failed) {
        snprintf(why, sizeof(why), "%d of %d records refused (%s: %s)", failed, r->n,
                 code1 ? code1 : "no ErrorCode", msg1 ? msg1 : "");
        if (dest_status_failing(&k->st, "PutRecords to %s: %s", r->st->name, why))
            log_warn(KIN_FAC, "PutRecords to %s: %s; they are retried with backoff, later "
                     "records of their keys wait", r->st->name, why);
    } else {
        k->last_ok_ms = now;
        if (dest_status_ok(&k->st))
            log_info(KIN_FAC, "PutRecords to %s succeeds again", r->st->name);
    }
    cdc_aws_result_clear(&res);
    kin_req_recycle(k, r);
    return 0;
}

/* A stream that went away, made again when due; -1 while it is not there. */
static int
kin_stream_again(kinesis *k, kin_stream *st, int64_t now)
{
    cdc_err e = { 0 };

    if (now < st->next_try_ms)
        return -1;
    if (kin_stream_ensure(k, st, false, &e) == 0)
        return 0;
    st->next_try_ms = now + KIN_ENSURE_RETRY_MS;
    if (dest_status_failing(&k->st, "%s", e.msg))
        log_warn(KIN_FAC, "%s; its records wait", e.msg);
    return -1;
}

/* Fills requests from the ready keys and sends them (see the top of the file). */
static int
kin_schedule(kinesis *k, int64_t now, cdc_err *err)
{
    kin_req       *building = NULL;
    int            nb = 0;
    dest_keyq_key *key;

    if (k->inflight >= k->max_inflight)
        return 0;
    while ((key = dest_keyq_next(k->q, now)) != NULL) {
        size_t      b;
        kin_rec    *rec = dest_keyq_peek(key, &b);
        kin_stream *st = rec->st;
        kin_req    *r = st->building;

        if (!st->ready && kin_stream_again(k, st, now) < 0) {
            /* not there yet: the key waits (others go on) */
            void *item = dest_keyq_take(k->q, key);

            dest_keyq_retry(k->q, key, &item, &b, 1, st->next_try_ms);
            continue;
        }
        if (r && (r->n >= k->batch_max || r->bytes + kin_rec_bytes(rec) > DEST_KINESIS_MAX_REQUEST)) {
            kin_req **pp = &building;

            while (*pp != r)
                pp = &(*pp)->next;
            *pp = r->next;
            nb--;
            st->building = NULL;
            if (kin_send(k, r, err) < 0) {
                dest_keyq_release(k->q, key);
                return -1;
            }
            r = NULL;
        }
        if (r == NULL) {
            if (k->inflight + nb >= k->max_inflight) {
                dest_keyq_release(k->q, key);
                break;
            }
            r = kin_req_new(k, st);
            r->next = building;
            building = r;
            st->building = r;
            nb++;
        }
        dest_keyq_take(k->q, key);
        rec->key = key;
        kin_req_add(r, rec);
    }
    while (building) {
        kin_req *r = building;

        building = r->next;
        r->next = NULL;
        r->st->building = NULL;
        if (kin_send(k, r, err) < 0)
            return -1;
    }
    return 0;
}

int
kin_pump(kinesis *k, cdc_err *err)
{
    cdc_http_xfer *x;

    cdc_http_multi_perform(k->multi);
    while ((x = cdc_http_multi_done(k->multi)) != NULL)
        kin_done(k, cdc_http_xfer_user(x));
    if (kin_schedule(k, cdc_mono_ms(), err) < 0)
        return -1;
    cdc_http_multi_perform(k->multi);
    return 0;
}

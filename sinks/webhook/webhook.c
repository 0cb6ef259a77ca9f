/*
 * The webhook sink (see webhook.h for what goes over the wire).
 *
 * Requests wait in one FIFO list in position order.  Each holds one event
 * or a batch, the body it sends, a ticket in the durability ring
 * (agent/core/dest/acks.h) and the key hashes of its events.  pump() walks the list
 * from the head and starts every request that is due, while fewer than
 * max_in_flight are running, unless an earlier request in the list (in
 * flight, or waiting for a retry) shares a key with it: that is what keeps
 * the changes of one row in order while different rows go in parallel.
 * A finished request (2xx, or dead-lettered) leaves the list and marks its
 * ticket done; the ring's head then gives the durable position.  The end of
 * a transaction is a ticket with no request, done at once.
 *
 * Nothing blocks: the requests run in one cdc_http_multi
 * (agent/core/net/http.h) that only does what the sockets allow, and flush()
 * waits in cdc_http_multi_poll() with a deadline.  A batch closes by count
 * or age (agent/core/dest/batch.h).
 */
#include "sinks/webhook/webhook.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/core/cdc_clock.h"
#include "agent/core/cdc_log.h"
#include "agent/core/cdc_lsn.h"
#include "agent/core/cdc_mem.h"
#include "agent/core/dest/batch.h"
#include "agent/core/dest/status.h"
#include "agent/core/net/http.h"
#include "schemas/record.h"
#include "schemas/topic.h"

#define WH_FAC       "dest.webhook"

typedef struct wh_item {
    cdc_pos  pos;
    uint64_t offset;        /* the change's LSN: metadata.offset */
    uint64_t khash;         /* topic + key JSON */
    char    *topic;         /* owned: for dead letters */
    size_t   start, len;    /* the payload inside the request body */
} wh_item;

typedef struct wh_req {
    struct wh_req     *next;
    cdc_buf            body;
    wh_item           *items;
    int                nitems, cap;
    uint64_t           ticket;
    int                attempts;        /* finished attempts */
    int64_t            next_at_ms;      /* due time (monotonic) */
    cdc_http_xfer     *x;               /* non-NULL while in flight */
    char               idem[160];
} wh_req;

typedef struct webhook {
    char                *url, *label, *method, *auth, *ca, *cert, *key, *keypass;
    cdc_http_hdrs       *base_hdrs;     /* Content-Type, configured headers, Authorization */
    cdc_http_tls         tls;           /* points at ca, cert, key, keypass */
    int                  timeout_ms, batch_max, max_inflight, max_queued;
    cdc_retry_conf      retry;
    dest_dlq            *dlq;
    char                *sink_id, *pipeline_id, *prefix, *database;
    sch_json_opts        jopts;
    cdc_http_multi      *multi;
    wh_req              *head, *tail;   /* closed requests, position order */
    wh_req              *open;          /* the batch being filled, not yet in the list */
    dest_batch           batch;         /* ... and its count and age */
    int                  inflight;
    size_t               queued;        /* events in requests not finished */
    dest_acks            acks;
    uint64_t             rng;
    uint64_t            *seen;          /* key-hash set for one pump() walk */
    size_t               seen_cap;
    uint64_t             nsent, nok, nretries, ndead;
    dest_status          st;
} webhook;

static uint64_t
wh_fnv(uint64_t h, const void *p, size_t n)
{
    const uint8_t *s = p;

    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 1099511628211ull;
    return h;
}

size_t
dest_webhook_idempotency_key(const char *pipeline_id, cdc_pos pos, char *out, size_t n)
{
    int r = snprintf(out, n, "%s-%016" PRIX64 "-%" PRIu64, pipeline_id ? pipeline_id : "",
                     pos.lsn, pos.seq);

    if (r < 0)
        return 0;
    return (size_t) r < n ? (size_t) r : n ? n - 1 : 0;
}

static void
wh_req_free(wh_req *r)
{
    if (r == NULL)
        return;
    for (int i = 0; i < r->nitems; i++)
        free(r->items[i].topic);
    free(r->items);
    cdc_buf_free(&r->body);
    cdc_http_xfer_free(r->x);
    free(r);
}

/* A copy of s, or NULL when s is NULL or empty (an empty config value means unset). */
static char *
wh_dup_set(const char *s)
{
    return s && s[0] ? cdc_xstrdup(s) : NULL;
}

static int
wh_fail(webhook *w, cdc_err *err, cdc_rc code, const char *fmt, const char *detail)
{
    dest_status_fatal(&w->st, fmt, detail);
    return cdc_err_set(err, code, "webhook %s: %s", w->label, w->st.lasterr);
}

/* 0, or -1 with err naming the fatal failure. */
static int
wh_check(const webhook *w, cdc_err *err)
{
    if (!w->st.fatal)
        return 0;
    return cdc_err_set(err, CDC_E_DEST, "webhook %s: %s", w->label, w->st.lasterr);
}

/* The request for body (the shared headers plus extra) as the sink sends it. */
static cdc_http_req
wh_request(const webhook *w, const void *body, size_t len, const char *extra)
{
    return (cdc_http_req) { .url = w->url, .method = w->method, .hdrs = w->base_hdrs,
                            .extra_hdr = extra, .body = body, .body_len = len,
                            .timeout_ms = w->timeout_ms, .tls = &w->tls };
}

static int
wh_open(cdc_dest *d, const void *conf, const cdc_dest_env *env, cdc_err *err)
{
    const dest_webhook_conf *c = conf;
    webhook                 *w;

    if (c == NULL || c->url == NULL || c->url[0] == '\0')
        return cdc_err_set(err, CDC_E_CONFIG, "webhook: url is required");
    if (c->method && strcmp(c->method, "POST") != 0 && strcmp(c->method, "PUT") != 0 &&
        strcmp(c->method, "PATCH") != 0)
        return cdc_err_set(err, CDC_E_CONFIG, "webhook: method must be POST, PUT or PATCH, not %s",
                           c->method);
    if (cdc_http_global_init(err) < 0)
        return cdc_err_wrap(err, "webhook");
    w = cdc_xcalloc(1, sizeof(*w));
    w->url = cdc_xstrdup(c->url);
    w->label = cdc_http_url_label(c->url);
    dest_status_init(&w->st, w->label);
    w->method = cdc_xstrdup(c->method ? c->method : "POST");
    w->auth = c->auth_token && c->auth_token[0] ? cdc_xstrdup(c->auth_token) : NULL;
    w->ca = wh_dup_set(c->ca_file);
    w->cert = wh_dup_set(c->client_cert);
    w->key = wh_dup_set(c->client_key);
    w->keypass = wh_dup_set(c->key_password);
    w->tls = (cdc_http_tls) { .ca_file = w->ca, .client_cert = w->cert, .client_key = w->key,
                              .key_password = w->keypass, .insecure = c->tls_insecure };
    w->timeout_ms = c->timeout_ms > 0 ? c->timeout_ms : 10000;
    w->batch_max = c->batch_max > 1 ? c->batch_max : 1;
    dest_batch_init(&w->batch, &(dest_batch_limits) {
                                   .max_count = w->batch_max,
                                   .max_age_ms = c->batch_ms > 0 ? c->batch_ms : 100 });
    w->max_inflight = c->max_in_flight > 0 ? c->max_in_flight : 8;
    w->max_queued = c->max_queued > 0 ? c->max_queued : 10000;
    w->retry = c->retry;
    if (w->retry.max_attempts <= 0)
        w->retry.max_attempts = 5;
    w->dlq = c->dlq;
    w->sink_id = cdc_xstrdup(d->id ? d->id : "webhook");
    w->pipeline_id = cdc_xstrdup(env && env->pipeline_id ? env->pipeline_id : "cdcagent");
    w->prefix = cdc_xstrdup(env && env->topic_prefix ? env->topic_prefix : "");
    sch_json_opts_for(&w->jopts, env ? env->encode_opts : NULL, w->prefix,
                      env ? env->database : NULL, &w->database);
    w->base_hdrs = cdc_http_hdrs_add(NULL, "Content-Type: application/json");
    w->base_hdrs = cdc_http_hdrs_add(w->base_hdrs, "Expect:");    /* no 100-continue round trip */
    for (int i = 0; i < c->nheaders && w->base_hdrs; i++)
        w->base_hdrs = cdc_http_hdrs_addf(w->base_hdrs, "%s: %s", c->headers[i].name,
                                          c->headers[i].value);
    if (w->auth && w->base_hdrs)
        w->base_hdrs = cdc_http_hdrs_addf(w->base_hdrs, "Authorization: Bearer %s", w->auth);
    w->multi = cdc_http_multi_new(NULL);
    if (w->multi == NULL || w->base_hdrs == NULL) {
        d->impl = w;
        d->ops->close(d);
        return cdc_err_set(err, CDC_E_NOMEM, "webhook: out of memory setting up libcurl");
    }
    w->seen_cap = 1;
    while (w->seen_cap < (size_t) w->max_queued * 2 + 16)
        w->seen_cap <<= 1;
    w->seen = cdc_xcalloc(w->seen_cap, sizeof(*w->seen));
    w->rng = cdc_rng_seed();
    dest_acks_init(&w->acks, (cdc_pos) { 0, 0 });
    d->impl = w;
    if (!(env && env->replay_only))     /* `dlq replay` sends one request at a time */
        log_info(WH_FAC, "%s: %s, up to %d requests in flight, %s", w->label, w->method,
                 w->max_inflight, w->batch_max > 1 ? "batched" : "one event per request");
    if (w->tls.insecure)
        log_warn(WH_FAC, "%s: ssl_verify is false: the receiver's certificate and host name "
                 "are not checked", w->label);
    return 0;
}

/* The receiver holds whatever it holds; its Idempotency-Key check drops replays. */
static int
wh_resume_from(cdc_dest *d, cdc_pos *last_done, cdc_err *err)
{
    (void) d;
    (void) err;
    last_done->lsn = last_done->seq = 0;
    return 0;
}

/* Moves the open batch into the list. */
static void
wh_close_batch(webhook *w)
{
    wh_req *r = w->open;

    if (r == NULL)
        return;
    w->open = NULL;
    dest_batch_reset(&w->batch);
    if (w->batch_max > 1)
        cdc_buf_putc(&r->body, ']');
    if (r->nitems == 1)
        dest_webhook_idempotency_key(w->pipeline_id, r->items[0].pos, r->idem, sizeof(r->idem));
    else
        snprintf(r->idem, sizeof(r->idem), "%s-%016" PRIX64 "-%" PRIu64 "-%016" PRIX64 "-%" PRIu64,
                 w->pipeline_id, r->items[0].pos.lsn, r->items[0].pos.seq,
                 r->items[r->nitems - 1].pos.lsn, r->items[r->nitems - 1].pos.seq);
    r->next_at_ms = 0;
    if (w->tail)
        w->tail->next = r;
    else
        w->head = r;
    w->tail = r;
}

static int
wh_start(webhook *w, wh_req *r, cdc_err *err)
{
    char          idem[200];
    cdc_http_req  req;

    snprintf(idem, sizeof(idem), "Idempotency-Key: %s", r->idem);
    req = wh_request(w, r->body.data, r->body.len, idem);
    if (r->x == NULL && (r->x = cdc_http_xfer_new(err)) == NULL)
        return cdc_err_wrap(err, "webhook %s", w->label);
    cdc_http_xfer_set_user(r->x, r);
    if (cdc_http_multi_add(w->multi, r->x, &req, err) < 0) {
        cdc_http_xfer_free(r->x);
        r->x = NULL;
        return cdc_err_wrap(err, "webhook %s", w->label);
    }
    w->inflight++;
    w->nsent++;
    return 0;
}

/* Adds h to the walk's key set; @returns true when it was there already. */
static bool
wh_seen_add(webhook *w, uint64_t h, bool add)
{
    size_t mask = w->seen_cap - 1, i;

    if (h == 0)
        h = 1;
    for (i = (size_t) h & mask; w->seen[i] != 0; i = (i + 1) & mask)
        if (w->seen[i] == h)
            return true;
    if (add)
        w->seen[i] = h;
    return false;
}

/* Starts the requests that are due and free of key conflicts (see the top of the file). */
static int
wh_schedule(webhook *w, int64_t now, cdc_err *err)
{
    memset(w->seen, 0, w->seen_cap * sizeof(*w->seen));
    for (wh_req *r = w->head; r && w->inflight < w->max_inflight; r = r->next) {
        bool blocked = false;

        for (int i = 0; i < r->nitems && !blocked; i++)
            blocked = wh_seen_add(w, r->items[i].khash, false);
        if (!blocked && r->x == NULL && now >= r->next_at_ms && wh_start(w, r, err) < 0)
            return -1;
        for (int i = 0; i < r->nitems; i++)
            wh_seen_add(w, r->items[i].khash, true);
    }
    return 0;
}

static void
wh_unlink(webhook *w, wh_req *r)
{
    wh_req **pp = &w->head, *prev = NULL;

    while (*pp && *pp != r) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    if (*pp == NULL)
        return;
    *pp = r->next;
    if (w->tail == r)
        w->tail = prev;
}

static void
wh_finish(webhook *w, wh_req *r)
{
    wh_unlink(w, r);
    w->queued -= (size_t) r->nitems;
    dest_acks_done(&w->acks, r->ticket);
    wh_req_free(r);
}

static int
wh_dead_letter(webhook *w, wh_req *r, const char *type, const char *msg, cdc_err *err)
{
    if (w->dlq == NULL)
        return wh_fail(w, err, CDC_E_DEST, "receiver rejected an event and no dead-letter file "
                       "is configured: %s", msg);
    for (int i = 0; i < r->nitems; i++) {
        const wh_item *it = &r->items[i];
        dest_dlq_rec   rec = {
            .sink_id = w->sink_id, .topic = it->topic, .partition = 0, .offset = it->offset,
            .pos = it->pos, .error_type = type, .error_message = msg, .code = CDC_E_DEST,
            .where = "sinks/webhook/webhook.c:wh_done",
            .record = (const char *) r->body.data + it->start, .record_len = it->len,
        };

        if (dest_dlq_append(w->dlq, &rec, err) < 0)
            return -1;
        w->ndead++;
    }
    return 0;
}

/* A request came back: done, retried later, or dead-lettered. */
static int
wh_done(webhook *w, wh_req *r, cdc_err *err)
{
    cdc_http_resp  res = *cdc_http_xfer_resp(r->x);
    long           status = res.status;
    char           msg[400];
    int64_t        wait;
    cdc_http_class cls = cdc_http_classify(&res);

    cdc_http_xfer_free(r->x);
    r->x = NULL;
    w->inflight--;
    r->attempts++;
    if (cls == CDC_HTTP_OK) {
        if (dest_status_ok(&w->st))
            log_info(WH_FAC, "%s: delivering again (HTTP %ld)", w->label, status);
        w->nok += (uint64_t) r->nitems;
        wh_finish(w, r);
        return 0;
    }
    cdc_http_resp_describe(&res, msg, sizeof(msg));
    if (cls == CDC_HTTP_FINAL || (res.answered && r->attempts >= w->retry.max_attempts)) {
        char type[40];

        snprintf(type, sizeof(type), "http_status_%ld", status);
        if (wh_dead_letter(w, r, type, msg, err) < 0) {
            if (w->st.fatal)
                return -1;
            /* The dead-letter file failed: send again later and try it again then. */
            log_error(WH_FAC, "%s: %s", w->label, err ? err->msg : "dead-letter write failed");
            r->next_at_ms = cdc_mono_ms() + cdc_retry_delay_ms(&w->retry, r->attempts, &w->rng);
            return 0;
        }
        wh_finish(w, r);
        return 0;
    }
    wait = cdc_retry_delay_ms(&w->retry, r->attempts, &w->rng);
    if (res.retry_after_s > 0 && res.retry_after_s * 1000 > wait)
        wait = res.retry_after_s * 1000;
    r->next_at_ms = cdc_mono_ms() + wait;
    w->nretries++;
    if (!w->st.failing || r->attempts == 1)
        log_warn(WH_FAC, "%s: request %s failed (attempt %d): %s; retrying in %lld ms",
                 w->label, r->idem, r->attempts, msg, (long long) wait);
    dest_status_failing(&w->st, "%s", msg);
    return 0;
}

/* Everything that can happen without waiting. */
static int
wh_pump(webhook *w, cdc_err *err)
{
    cdc_http_xfer *x;

    if (w->open && dest_batch_expired(&w->batch, cdc_mono_ms()))
        wh_close_batch(w);
    cdc_http_multi_perform(w->multi);
    while ((x = cdc_http_multi_done(w->multi)) != NULL)
        if (wh_done(w, cdc_http_xfer_user(x), err) < 0)
            return -1;
    if (wh_schedule(w, cdc_mono_ms(), err) < 0)
        return -1;
    cdc_http_multi_perform(w->multi);
    return 0;
}

static int
wh_write(cdc_dest *d, const cdc_event *ev, cdc_err *err)
{
    webhook *w = d->impl;
    wh_req  *r;
    wh_item *it;
    char     topic[300];
    size_t   kstart, kend;

    if (wh_check(w, err) < 0)
        return -1;
    if (w->queued >= (size_t) w->max_queued) {
        if (wh_pump(w, err) < 0)
            return -1;
        if (w->queued >= (size_t) w->max_queued)
            return cdc_err_set(err, CDC_E_QUEUE_FULL, "webhook %s: %zu events waiting",
                               w->label, w->queued);
    }
    if (w->open == NULL) {
        r = cdc_xcalloc(1, sizeof(*r));
        r->ticket = dest_acks_push(&w->acks, ev->pos);
        if (w->batch_max > 1)
            cdc_buf_putc(&r->body, '[');
        w->open = r;
    }
    r = w->open;
    if (r->nitems == r->cap) {
        r->cap = r->cap ? r->cap * 2 : (w->batch_max > 1 ? 16 : 1);
        r->items = cdc_xrealloc(r->items, (size_t) r->cap * sizeof(*r->items));
    }
    if (r->nitems > 0)
        cdc_buf_putc(&r->body, ',');
    it = &r->items[r->nitems];
    sch_event_topic(ev, w->prefix, topic, sizeof(topic));
    *it = (wh_item) { .pos = ev->pos, .offset = ev->lsn, .topic = cdc_xstrdup(topic),
                      .start = r->body.len };
    sch_record_put(&r->body, ev, &w->jopts, topic, cdc_wall_us(), 0, &kend);
    if (cdc_buf_failed(&r->body))
        return wh_fail(w, err, CDC_E_NOMEM, "%s", "out of memory encoding an event");
    it->len = r->body.len - it->start;
    kstart = it->start + 7;     /* after {"key": */
    it->khash = wh_fnv(wh_fnv(14695981039346656037ull, topic, strlen(topic)),
                       r->body.data + kstart, kend - kstart);
    r->nitems++;
    w->queued++;
    dest_acks_update(&w->acks, r->ticket, ev->pos);
    dest_batch_add(&w->batch, it->len, cdc_mono_ms());
    if (dest_batch_full(&w->batch))
        wh_close_batch(w);
    return 0;
}

static int
wh_commit_txn(cdc_dest *d, const cdc_txn *txn, cdc_err *err)
{
    webhook *w = d->impl;
    uint64_t t = dest_acks_push(&w->acks, (cdc_pos) { txn->commit_lsn, CDC_SEQ_END });

    dest_acks_done(&w->acks, t);
    return wh_pump(w, err);
}

static int
wh_progress(cdc_dest *d, cdc_pos *durable, cdc_err *err)
{
    webhook *w = d->impl;

    if (wh_check(w, err) < 0)
        return -1;
    if (wh_pump(w, err) < 0)
        return -1;
    *durable = w->acks.durable;
    return 0;
}

static int
wh_flush(cdc_dest *d, int timeout_ms, cdc_err *err)
{
    webhook *w = d->impl;
    int64_t  deadline = cdc_mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);

    wh_close_batch(w);
    for (;;) {
        int64_t now, wait = 100;

        if (wh_check(w, err) < 0)
            return -1;
        if (wh_pump(w, err) < 0)
            return -1;
        if (w->head == NULL)
            return 0;
        now = cdc_mono_ms();
        if (now >= deadline)
            return cdc_err_set(err, CDC_E_TIMEOUT, "webhook %s: %zu events not delivered "
                               "within %d ms%s%s", w->label, w->queued, timeout_ms,
                               w->st.failing ? ": " : "", w->st.failing ? w->st.lasterr : "");
        if (deadline - now < wait)
            wait = deadline - now;
        cdc_http_multi_poll(w->multi, (int) wait);
    }
}

static void
wh_health(cdc_dest *d, cdc_health *h)
{
    webhook *w = d->impl;

    dest_status_health(&w->st, h);
    if (h->state == CDC_DEST_OK)
        snprintf(h->detail, sizeof(h->detail),
                 "%s: %llu delivered, %llu retries, %llu dead letters, %zu waiting", w->label,
                 (unsigned long long) w->nok, (unsigned long long) w->nretries,
                 (unsigned long long) w->ndead, w->queued);
}

/*
 * A dead letter again, synchronously: the stored body byte for byte, with the
 * sink's headers, auth and TLS and the Idempotency-Key of the letter's
 * position, so a receiver that kept the first attempt drops this one.
 * Messages never name the URL (it may hold credentials).
 */
static int
wh_replay(cdc_dest *d, const cdc_dest_letter *l, cdc_err *err)
{
    webhook       *w = d->impl;
    char           key[160], idem[200], body[CDC_HTTP_HEAD_MAX + 1];
    cdc_http_req   req;
    cdc_http_resp  res;
    cdc_http_xfer *x = cdc_http_xfer_new(err);
    int            rc = -1;

    if (x == NULL)
        return -1;
    dest_webhook_idempotency_key(w->pipeline_id, l->pos, key, sizeof(key));
    snprintf(idem, sizeof(idem), "Idempotency-Key: %s", key);
    req = wh_request(w, l->record, l->len, idem);
    if (cdc_http_perform(x, &req, &res, err) < 0)
        goto out;
    if (!res.answered) {
        cdc_err_set(err, CDC_E_CONN, "webhook request failed: %s", res.error);
        goto out;
    }
    if (cdc_http_classify(&res) != CDC_HTTP_OK) {
        cdc_http_resp_line(&res, body, sizeof(body));
        cdc_err_set(err, CDC_E_DEST, "receiver answered HTTP %ld: %s", res.status, body);
        goto out;
    }
    rc = 0;
out:
    cdc_http_xfer_free(x);
    return rc;
}

static void
wh_close(cdc_dest *d)
{
    webhook *w = d->impl;

    if (w == NULL)
        return;
    if (w->open)
        wh_close_batch(w);
    if (w->queued > 0)
        log_warn(WH_FAC, "%s: closing with %zu events not delivered (they are re-sent after "
                 "the restart)", w->label, w->queued);
    while (w->head) {
        wh_req *r = w->head;

        w->head = r->next;
        if (r->x)
            cdc_http_multi_remove(w->multi, r->x);
        wh_req_free(r);
    }
    cdc_http_multi_free(w->multi);
    cdc_http_hdrs_free(w->base_hdrs);
    dest_acks_free(&w->acks);
    free(w->seen);
    free(w->url);
    free(w->label);
    free(w->method);
    free(w->auth);
    free(w->ca);
    free(w->cert);
    free(w->key);
    free(w->keypass);
    free(w->sink_id);
    free(w->pipeline_id);
    free(w->prefix);
    free(w->database);
    free(w);
    d->impl = NULL;
    cdc_http_global_cleanup();
}

const cdc_dest_ops dest_webhook_ops = {
    .kind = "webhook",
    .open = wh_open,
    .resume_from = wh_resume_from,
    .write = wh_write,
    .commit_txn = wh_commit_txn,
    .progress = wh_progress,
    .flush = wh_flush,
    .health = wh_health,
    .replay = wh_replay,
    .close = wh_close,
};

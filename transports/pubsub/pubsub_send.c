/*
 * The Pub/Sub destination (see pubsub_int.h): publish requests.  Runs of one
 * key are taken from the key queue (agent/core/dest/keyq.h) into one request
 * each, up to max_in_flight at once on one cdc_http_multi; dead letters and
 * heartbeats are "loose" requests of one message outside the key queue.
 *
 * A scheduling pass (taking ready keys) runs when a unit finished (its key's
 * later messages have waited a round trip already), when batch_size messages
 * wait, when the first message since the last pass is batch_timeout old, when
 * a held key's retry is due, or while flushing: so quiet streams wait at most
 * batch_timeout_seconds and busy ones fill their requests.
 *
 * Answers: 2xx with one messageId per message: durable.  No answer, 401, 408,
 * 429, 5xx, or a 2xx without the ids: the run goes back to its key's head and
 * the key is held for the backoff; nothing is given up.  400 INVALID_ARGUMENT
 * (or 413) for a run of several: each is sent alone; for one message: it goes
 * to the dead-letter topic.  403, 404 and any other refusal: the destination
 * fails for good, naming the topic (the agent stops; the slot stays).
 */
#include "transports/pubsub/pubsub_int.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/core/cdc_clock.h"
#include "agent/core/cdc_log.h"
#include "agent/core/cdc_mem.h"

#define PS_RESP_MAX (4u << 20)

static void
ps_req_add(ps_req *r, ps_msg *m, size_t bytes)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 8;
        r->items = cdc_xrealloc(r->items, r->cap * sizeof(*r->items));
        r->bytes = cdc_xrealloc(r->bytes, r->cap * sizeof(*r->bytes));
    }
    r->items[r->n] = m;
    r->bytes[r->n++] = bytes;
}

void
ps_req_free(ps_req *r)
{
    if (r == NULL)
        return;
    free(r->items);
    free(r->bytes);
    cdc_buf_free(&r->body);
    cdc_buf_free(&r->resp);
    cdc_http_xfer_free(r->x);
    free(r);
}

bool
ps_busy(const pubsub *p)
{
    return dest_keyq_items(p->q) > 0 || p->inflight > 0 || p->loose != NULL;
}

int
ps_next_ms(const pubsub *p)
{
    int64_t now = cdc_mono_ms(), at = now + 1000, due = dest_keyq_due_ms(p->q), a;

    if (p->wait_since_ms && p->wait_since_ms + p->linger_ms < at)
        at = p->wait_since_ms + p->linger_ms;
    if (due < at)
        at = due;
    for (const ps_req *r = p->loose; r; r = r->next)
        if (r->x == NULL && r->next_at_ms < at)
            at = r->next_at_ms;
    if ((a = cdc_gcp_auth_next_ms(p->auth)) >= 0 && now + a < at)
        at = now + a;
    return at <= now ? 0 : (int) (at - now);
}

/* The request for r's body, with the Authorization line (NULL with the emulator). */
static int
ps_start(pubsub *p, ps_req *r, const char *auth, cdc_err *err)
{
    cdc_http_req req = {
        .url = r->url, .method = "POST", .hdrs = p->hdrs, .extra_hdr = auth,
        .body = r->body.data, .body_len = r->body.len, .timeout_ms = p->timeout_ms,
        .body_out = &r->resp, .body_max = PS_RESP_MAX,
    };

    cdc_buf_reset(&r->resp);
    if (r->x == NULL && (r->x = cdc_http_xfer_new(err)) == NULL)
        return -1;
    cdc_http_xfer_set_user(r->x, r);
    if (cdc_http_multi_add(p->multi, r->x, &req, err) < 0) {
        cdc_http_xfer_free(r->x);
        r->x = NULL;
        return -1;
    }
    p->nreqs++;
    return 0;
}

/* A run of k's messages within the limits, as one request (k stays busy). */
static ps_req *
ps_take(pubsub *p, dest_keyq_key *k)
{
    ps_req *r = cdc_xcalloc(1, sizeof(*r));
    ps_msg *m;
    size_t  b, wire = 0;

    r->kind = PS_REQ_DATA;
    r->k = k;
    cdc_buf_puts(&r->body, PS_BODY_HEAD);
    while ((m = dest_keyq_peek(k, &b)) != NULL) {
        if (r->n > 0 &&
            (m->solo || ((ps_msg *) r->items[0])->solo || r->n >= (size_t) p->batch_max ||
             r->body.len + m->len + 3 > PS_MAX_BODY ||
             wire + m->wire + strlen(m->t->path) + 8 > PS_MAX_REQ_BYTES))
            break;
        dest_keyq_take(p->q, k);
        if (r->n > 0)
            cdc_buf_putc(&r->body, ',');
        cdc_buf_put(&r->body, m->json, m->len);
        wire += m->wire;
        ps_req_add(r, m, b);
    }
    cdc_buf_puts(&r->body, "]}");
    if (r->n == 0 || cdc_buf_failed(&r->body)) {
        if (r->n > 0)
            dest_keyq_retry(p->q, k, r->items, r->bytes, r->n, 0);
        else
            dest_keyq_release(p->q, k);
        ps_req_free(r);
        return NULL;
    }
    r->url = ((ps_msg *) r->items[0])->t->url;
    r->topic = ((ps_msg *) r->items[0])->t->name;
    return r;
}

static int
ps_schedule(pubsub *p, int64_t now, cdc_err *err)
{
    const char    *auth = NULL;
    cdc_err        e = { 0 };
    dest_keyq_key *k;
    bool           pass;

    pass = p->kick || p->flushing || dest_keyq_items(p->q) >= (size_t) p->batch_max ||
           (p->wait_since_ms && now - p->wait_since_ms >= p->linger_ms) ||
           dest_keyq_due_ms(p->q) <= now;
    if (!pass && p->loose == NULL)
        return 0;
    if (cdc_gcp_auth_header(p->auth, &auth, &e) < 0) {
        if (dest_status_failing(&p->st, "no access token (%s): %s",
                                cdc_gcp_auth_describe(p->auth), e.msg))
            log_warn(PS_FAC, "%s", p->st.lasterr);
        return 0;
    }
    for (ps_req *r = p->loose; r; r = r->next)
        if (r->x == NULL && r->next_at_ms <= now) {
            if (ps_start(p, r, auth, err) < 0)
                return -1;
            p->loose_inflight++;
        }
    if (!pass)
        return 0;
    while (p->inflight < p->max_inflight && (k = dest_keyq_next(p->q, now)) != NULL) {
        ps_req *r = ps_take(p, k);

        if (r == NULL)
            return cdc_err_set(err, CDC_E_NOMEM, "pubsub: out of memory building a request");
        if (ps_start(p, r, auth, err) < 0) {
            dest_keyq_retry(p->q, k, r->items, r->bytes, r->n, now);
            ps_req_free(r);
            return -1;
        }
        r->next = p->flying;
        p->flying = r;
        p->inflight++;
    }
    p->kick = false;
    p->wait_since_ms = 0;
    return 0;
}

/* The number of messageIds in a publish answer; -1 when it is not one. */
static long
ps_count_ids(const cdc_buf *b)
{
    json_error_t je;
    json_t      *root = b->len ? json_loadb((const char *) b->data, b->len, 0, &je) : NULL;
    json_t      *ids = root ? json_object_get(root, "messageIds") : NULL;
    long         n = -1;

    if (json_is_array(ids)) {
        n = (long) json_array_size(ids);
        for (size_t i = 0; i < json_array_size(ids); i++)
            if (!json_is_string(json_array_get(ids, i)))
                n = -1;
    }
    json_decref(root);
    return n;
}

/* Google's error status ("INVALID_ARGUMENT", ...) of an answer, or "". */
static void
ps_google_status(const cdc_buf *b, const cdc_http_resp *res, char *out, size_t n)
{
    json_error_t je;
    const char  *text = b->len ? (const char *) b->data : res->head;
    size_t       len = b->len ? b->len : res->head_len;
    json_t      *root = json_loadb(text, len, 0, &je);
    const char  *s = json_string_value(json_object_get(json_object_get(root, "error"), "status"));

    snprintf(out, n, "%s", s ? s : "");
    json_decref(root);
}

/* "HTTP 503 UNAVAILABLE: <Google's message>" when the answer is Google's error
   shape, else the client's description: short enough for /readyz. */
static void
ps_describe(const cdc_buf *b, const cdc_http_resp *res, char *out, size_t n)
{
    json_error_t je;
    json_t      *root = res->answered && b->len
                            ? json_loadb((const char *) b->data, b->len, 0, &je) : NULL;
    json_t      *e = json_object_get(root, "error");
    const char  *st = json_string_value(json_object_get(e, "status"));
    const char  *msg = json_string_value(json_object_get(e, "message"));

    if (st || msg)
        snprintf(out, n, "HTTP %ld %s: %s", res->status, st ? st : "",
                 msg ? msg : "");
    else
        cdc_http_resp_describe(res, out, n);
    json_decref(root);
}

static void
ps_data_ok(pubsub *p, ps_req *r)
{
    for (size_t i = 0; i < r->n; i++) {
        ps_msg *m = r->items[i];

        dest_acks_done(&p->acks, m->ticket);
        ps_msg_free(p, m);
    }
    p->nmsgs += r->n;
    dest_keyq_done(p->q, r->k);
    if (dest_status_ok(&p->st))
        log_info(PS_FAC, "publishing again (%s)", r->topic);
}

static void
ps_data_retry(pubsub *p, ps_req *r, const cdc_http_resp *res, const char *msg, int64_t at)
{
    ps_msg *m0 = r->items[0];
    int64_t wait = 0;

    if (at < 0) {
        m0->attempts++;
        wait = cdc_retry_delay_ms(&p->retry, m0->attempts, &p->rng);
        if (res && res->retry_after_s > 0 && res->retry_after_s * 1000 > wait)
            wait = res->retry_after_s * 1000;
        at = cdc_mono_ms() + wait;
        p->nretries++;
        if (dest_status_failing(&p->st, "publish to %s failed: %s; retrying (attempt %d)",
                                r->topic, msg, m0->attempts))
            log_warn(PS_FAC, "publish of %zu messages to %s failed: %s; retrying in %lld ms, "
                     "later messages of the key wait", r->n, r->topic, msg, (long long) wait);
        else
            log_debug(PS_FAC, "publish to %s failed again (attempt %d): %s", r->topic,
                      m0->attempts, msg);
    }
    dest_keyq_retry(p->q, r->k, r->items, r->bytes, r->n, at);
}

static int
ps_data_done(pubsub *p, ps_req *r, const cdc_http_resp *res, cdc_err *err)
{
    cdc_http_class cls = cdc_http_classify(res);
    char           msg[400], gs[40];
    long           ids;

    p->inflight--;
    p->kick = true;
    if (cls == CDC_HTTP_OK) {
        if ((ids = ps_count_ids(&r->resp)) == (long) r->n) {
            ps_data_ok(p, r);
            return 0;
        }
        snprintf(msg, sizeof(msg), "HTTP %ld answered %ld messageIds for %zu messages",
                 res->status, ids, r->n);
        ps_data_retry(p, r, res, msg, -1);
        return 0;
    }
    ps_describe(&r->resp, res, msg, sizeof(msg));
    if (cls == CDC_HTTP_RETRY || res->status == 401) {
        ps_data_retry(p, r, res, msg, -1);
        return 0;
    }
    ps_google_status(&r->resp, res, gs, sizeof(gs));
    if ((res->status == 400 && strcmp(gs, "FAILED_PRECONDITION") != 0) || res->status == 413) {
        ps_msg *m = r->items[0];
        char    type[64];

        if (r->n > 1) {
            for (size_t i = 0; i < r->n; i++)
                ((ps_msg *) r->items[i])->solo = true;
            p->nsolo++;
            log_warn(PS_FAC, "%s refused a request of %zu messages (%s); sending them one "
                     "at a time to find the one it refuses", r->topic, r->n, msg);
            ps_data_retry(p, r, res, msg, 0);
            return 0;
        }
        dest_keyq_done(p->q, r->k);
        snprintf(type, sizeof(type), "http_status_%ld%s%s", res->status, gs[0] ? "_" : "", gs);
        return ps_dead_letter(p, m, type, msg, false, err);
    }
    if (res->status == 404)
        ps_fatal(p, "pubsub topic %s does not exist any more (deleted while the agent ran?): "
                 "%s; the slot stays before its messages", r->topic, msg);
    else if (res->status == 403)
        ps_fatal(p, "pubsub: permission denied publishing to %s (%s): %s",
                 r->topic, cdc_gcp_auth_describe(p->auth), msg);
    else
        ps_fatal(p, "pubsub: publish to %s refused: %s", r->topic, msg);
    /* The run goes back so close() frees it with the queue. */
    dest_keyq_retry(p->q, r->k, r->items, r->bytes, r->n, INT64_MAX);
    return dest_status_check(&p->st, err);
}

static void
ps_loose_unlink(pubsub *p, ps_req *r)
{
    for (ps_req **pp = &p->loose; *pp; pp = &(*pp)->next)
        if (*pp == r) {
            *pp = r->next;
            return;
        }
}

void
ps_loose_add(pubsub *p, ps_req *r)
{
    r->next = p->loose;
    p->loose = r;
}

static int
ps_loose_done(pubsub *p, ps_req *r, const cdc_http_resp *res, cdc_err *err)
{
    cdc_http_class cls = cdc_http_classify(res);
    char           msg[400];
    ps_msg        *m = r->n ? r->items[0] : NULL;

    p->loose_inflight--;
    if (cls == CDC_HTTP_OK && ps_count_ids(&r->resp) == (long) (r->n ? r->n : 1)) {
        ps_loose_unlink(p, r);
        if (m) {
            dest_acks_done(&p->acks, m->ticket);
            ps_msg_free(p, m);
        } else {
            p->nheartbeats++;
        }
        ps_req_free(r);
        return 0;
    }
    if (cls == CDC_HTTP_OK)
        snprintf(msg, sizeof(msg), "HTTP %ld without the messageId", res->status);
    else
        ps_describe(&r->resp, res, msg, sizeof(msg));
    if (r->kind == PS_REQ_HEARTBEAT) {
        /* Outside the event stream: a lost heartbeat loses no change. */
        log_warn(PS_FAC, "heartbeat to %s not delivered: %s", r->topic, msg);
        ps_loose_unlink(p, r);
        ps_req_free(r);
        return 0;
    }
    if (cls == CDC_HTTP_FINAL && (res->status == 400 || res->status == 413) && r->with_data) {
        /* Refused with the record's data: once more without it (the attributes and the
           position still say which record it was). */
        char why[sizeof(r->why) + 60];

        snprintf(why, sizeof(why), "%s; the dead letter was refused with its data", r->why);
        log_warn(PS_FAC, "%s refused the dead letter of table %s, key %s (%s); sending it "
                 "without its data", r->topic, m->table, m->keytxt, msg);
        r->with_data = false;
        cdc_buf_reset(&r->body);
        cdc_buf_puts(&r->body, PS_BODY_HEAD);
        ps_msg_dead_letter(p, m, &r->body, r->type, why, true);
        cdc_buf_puts(&r->body, "]}");
        r->next_at_ms = 0;
        return 0;
    }
    if (cls == CDC_HTTP_FINAL && res->status != 401) {
        ps_fatal(p, "pubsub dead-letter topic %s refused the record of table %s, key %s "
                 "(%zu bytes) too: %s; stopping before the slot moves past it", r->topic,
                 m->table, m->keytxt, m->value_len, msg);
        return dest_status_check(&p->st, err);
    }
    r->attempts++;
    r->next_at_ms = cdc_mono_ms() + cdc_retry_delay_ms(&p->retry, r->attempts, &p->rng);
    if (dest_status_failing(&p->st, "dead letter to %s failed: %s; retrying", r->topic, msg))
        log_warn(PS_FAC, "%s", p->st.lasterr);
    return 0;
}

int
ps_dead_letter(pubsub *p, ps_msg *m, const char *type, const char *why, bool drop_data,
               cdc_err *err)
{
    ps_req *r;

    if (!p->dlq_enabled) {
        ps_fatal(p, "pubsub topic %s refused the record of table %s, key %s (%zu bytes): %s; "
                 "dlq.enabled is false, so the agent stops before the slot moves past it",
                 m->t->name, m->table, m->keytxt, m->value_len, why);
        ps_msg_free(p, m);
        return dest_status_check(&p->st, err);
    }
    r = cdc_xcalloc(1, sizeof(*r));
    r->kind = PS_REQ_DLQ;
    r->url = m->t->dlq_url;
    r->topic = m->t->dlq_name;
    ps_req_add(r, m, m->len);
    r->with_data = !drop_data;
    snprintf(r->type, sizeof(r->type), "%s", type);
    snprintf(r->why, sizeof(r->why), "%s", why);
    cdc_buf_puts(&r->body, PS_BODY_HEAD);
    ps_msg_dead_letter(p, m, &r->body, type, why, drop_data);
    cdc_buf_puts(&r->body, "]}");
    if (cdc_buf_failed(&r->body)) {
        ps_req_free(r);
        return cdc_err_set(err, CDC_E_NOMEM, "pubsub: out of memory building a dead letter");
    }
    ps_loose_add(p, r);
    p->ndlq++;
    log_error(PS_FAC, "%s: the record of table %s, key %s (%zu bytes) was refused (%s: %s); "
              "sending it to %s%s", m->t->name, m->table, m->keytxt, m->value_len, type, why,
              m->t->dlq_name, drop_data ? " without its data" : "");
    return 0;
}

static int
ps_done(pubsub *p, ps_req *r, cdc_err *err)
{
    cdc_http_resp res = *cdc_http_xfer_resp(r->x);
    int           rc;

    cdc_http_xfer_free(r->x);
    r->x = NULL;
    if (r->kind != PS_REQ_DATA)
        return ps_loose_done(p, r, &res, err);
    for (ps_req **pp = &p->flying; *pp; pp = &(*pp)->next)
        if (*pp == r) {
            *pp = r->next;
            break;
        }
    rc = ps_data_done(p, r, &res, err);
    ps_req_free(r);     /* the messages are in the ring, the queue or a dead letter */
    return rc;
}

int
ps_pump(pubsub *p, cdc_err *err)
{
    cdc_http_xfer *x;

    if (dest_status_check(&p->st, err) < 0)
        return -1;
    cdc_gcp_auth_step(p->auth);
    cdc_http_multi_perform(p->multi);
    while ((x = cdc_http_multi_done(p->multi)) != NULL)
        if (ps_done(p, cdc_http_xfer_user(x), err) < 0)
            return -1;
    if (ps_schedule(p, cdc_mono_ms(), err) < 0)
        return -1;
    cdc_http_multi_perform(p->multi);
    return 0;
}

/*
 * The Pub/Sub destination (see pubsub_int.h): the synchronous calls, made at
 * start and when a table's topic is first needed.
 *
 * Start: a token (agent/core/net/gcp_auth.h, so wrong credentials fail here),
 * then topics.list of the project with pageSize 1: 404 means the project does
 * not exist, 401/403 that the credentials are refused for it.  Each error
 * names the project, the credentials' source and the service's answer.
 *
 * What is created for a table's topic T (each 409 ALREADY_EXISTS left as it
 * is, each creation logged):
 *   topic T;
 *   with dlq.enabled, topic "T-<dlq suffix>" and its subscription
 *   "T-<dlq suffix>-<group>" (Pub/Sub keeps a message only for subscriptions
 *   that exist when it is published: without one the dead letters would be
 *   dropped by the service);
 *   subscription "T-<group>" with enableMessageOrdering = ordering_enabled,
 *   ackDeadlineSeconds and, with dlq.enabled, deadLetterPolicy {T-<dlq suffix>,
 *   maxDeliveryAttempts}.
 * <group> is pubsub.group_id (the platform's consumer group name).
 */
#include "transports/pubsub/pubsub_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/core/cdc_clock.h"
#include "agent/core/cdc_log.h"
#include "agent/core/cdc_mem.h"
#include "schemas/json.h"

/*
 * One call to <base>/v1/<path>, retried after no answer, 408, 429 or 5xx up
 * to `attempts` times with the backoff.  @returns 0 when answered (*status,
 * desc: "HTTP 404: ..."), -1 with err when it could not be reached.
 */
static int
ps_call(pubsub *p, const char *method, const char *path, const char *body, int attempts,
        long *status, char *desc, size_t dn, cdc_err *err)
{
    char          *url = NULL;
    cdc_buf        u = CDC_BUF_INIT;
    cdc_http_resp  res;
    const char    *auth = NULL;

    cdc_buf_printf(&u, "%s/v1/%s", p->base, path);
    url = (char *) u.data;
    for (int attempt = 1;; attempt++) {
        cdc_http_req req = {
            .url = url, .method = method, .hdrs = p->hdrs, .body = body,
            .body_len = body ? strlen(body) : 0,
            .timeout_ms = p->started ? PS_ADMIN_LOOP_MS : p->timeout_ms,
        };

        if (cdc_gcp_auth_fetch(p->auth, err) < 0 || cdc_gcp_auth_header(p->auth, &auth, err) < 0) {
            cdc_buf_free(&u);
            return cdc_err_wrap(err, "pubsub: credentials (%s)", cdc_gcp_auth_describe(p->auth));
        }
        req.extra_hdr = auth;
        if (cdc_http_perform(p->admin, &req, &res, err) < 0) {
            cdc_buf_free(&u);
            return -1;
        }
        if (cdc_http_classify(&res) != CDC_HTTP_RETRY || attempt >= attempts)
            break;
        cdc_sleep_ms(cdc_retry_delay_ms(&p->retry, attempt, &p->rng));
    }
    cdc_http_resp_describe(&res, desc, dn);
    *status = res.answered ? res.status : 0;
    if (!res.answered) {
        char *label = cdc_http_url_label(url);

        cdc_err_set(err, res.timed_out ? CDC_E_TIMEOUT : CDC_E_CONN, "pubsub %s %s: %s",
                    method, label, desc);
        free(label);
        cdc_buf_free(&u);
        return -1;
    }
    cdc_buf_free(&u);
    return 0;
}

int
ps_admin_check(pubsub *p, cdc_err *err)
{
    char path[400], desc[400];
    long st;

    snprintf(path, sizeof(path), "projects/%s/topics?pageSize=1", p->project);
    if (ps_call(p, "GET", path, NULL, p->retry.max_attempts, &st, desc, sizeof(desc), err) < 0)
        return cdc_err_wrap(err, "pubsub: checking project %s at %s", p->project, p->base);
    if (st / 100 == 2)
        return 0;
    if (st == 404)
        return cdc_err_set(err, CDC_E_CONFIG, "pubsub.project_id \"%s\": no such project at %s "
                           "(%s)", p->project, p->base, desc);
    if (st == 401 || st == 403)
        return cdc_err_set(err, CDC_E_CONFIG, "pubsub: the credentials (%s) were refused for "
                           "project %s: %s", cdc_gcp_auth_describe(p->auth), p->project, desc);
    return cdc_err_set(err, CDC_E_DEST, "pubsub: checking project %s at %s: %s", p->project,
                       p->base, desc);
}

/* PUT of a topic or subscription: created (logged), or already there. */
static int
ps_put(pubsub *p, const char *what, const char *path, const char *body, int attempts,
       cdc_err *err)
{
    char desc[400];
    long st;

    if (ps_call(p, "PUT", path, body, attempts, &st, desc, sizeof(desc), err) < 0)
        return cdc_err_wrap(err, "pubsub: creating %s %s", what, path);
    if (st / 100 == 2) {
        log_info(PS_FAC, "created %s %s", what, path);
        return 0;
    }
    if (st == 409) {
        log_debug(PS_FAC, "%s %s exists; left as it is", what, path);
        return 0;
    }
    return cdc_err_set(err, st == 401 || st == 403 || st == 404 || st == 400 ? CDC_E_CONFIG
                                                                             : CDC_E_DEST,
                       "pubsub: creating %s %s: %s", what, path, desc);
}

/* Pub/Sub's rule for topic and subscription ids: 3..255 characters of
   [A-Za-z0-9-_.~+%], starting with a letter, not with "goog". */
static bool
ps_valid_id(const char *s)
{
    size_t n = strlen(s);

    if (n < 3 || n > 255 || !isalpha((unsigned char) s[0]) || strncmp(s, "goog", 4) == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char) s[i]) && !strchr("-_.~+%", s[i]))
            return false;
    return true;
}

static int
ps_subscription(pubsub *p, const char *topic_path, const char *sub, const char *dlq_path,
                int attempts, cdc_err *err)
{
    cdc_buf b = CDC_BUF_INIT;
    char    path[600];
    int     rc;

    snprintf(path, sizeof(path), "projects/%s/subscriptions/%s", p->project, sub);
    cdc_buf_puts(&b, "{\"topic\":");
    sch_json_put_string(&b, topic_path, strlen(topic_path));
    cdc_buf_printf(&b, ",\"ackDeadlineSeconds\":%d,\"enableMessageOrdering\":%s",
                   p->ack_deadline, p->ordering ? "true" : "false");
    if (dlq_path) {
        cdc_buf_puts(&b, ",\"deadLetterPolicy\":{\"deadLetterTopic\":");
        sch_json_put_string(&b, dlq_path, strlen(dlq_path));
        cdc_buf_printf(&b, ",\"maxDeliveryAttempts\":%d}", p->max_delivery);
    }
    cdc_buf_putc(&b, '}');
    rc = ps_put(p, "subscription", path, cdc_buf_str(&b), attempts, err);
    cdc_buf_free(&b);
    return rc;
}

static char *
ps_printf(const char *fmt, const char *a, const char *b, const char *c)
{
    size_t n = strlen(fmt) + strlen(a) + strlen(b) + strlen(c) + 1;
    char  *s = cdc_xmalloc(n);

    snprintf(s, n, fmt, a, b, c);
    return s;
}

static void
ps_topic_free(ps_topic *t)
{
    free(t->name);
    free(t->path);
    free(t->url);
    free(t->dlq_name);
    free(t->dlq_path);
    free(t->dlq_url);
    free(t);
}

static uint32_t
ps_hash(const char *s)
{
    uint32_t h = 2166136261u;

    for (; *s; s++)
        h = (h ^ (uint8_t) *s) * 16777619u;
    return h % PS_TOPIC_BUCKETS;
}

/* Creates t, its dead-letter topic and the subscriptions (see the top). */
static int
ps_topic_create(pubsub *p, ps_topic *t, int attempts, cdc_err *err)
{
    char sub[600];

    if (ps_put(p, "topic", t->path, "{}", attempts, err) < 0)
        return -1;
    if (p->dlq_enabled) {
        if (ps_put(p, "topic", t->dlq_path, "{}", attempts, err) < 0)
            return -1;
        snprintf(sub, sizeof(sub), "%s-%s", t->dlq_name, p->group);
        if (ps_subscription(p, t->dlq_path, sub, NULL, attempts, err) < 0)
            return -1;
    }
    snprintf(sub, sizeof(sub), "%s-%s", t->name, p->group);
    return ps_subscription(p, t->path, sub, p->dlq_enabled ? t->dlq_path : NULL, attempts, err);
}

ps_topic *
ps_topic_get(pubsub *p, const char *name, cdc_err *err)
{
    uint32_t  h = ps_hash(name);
    ps_topic *t;
    char      sub[600];

    for (t = p->topics[h]; t; t = t->next)
        if (strcmp(t->name, name) == 0)
            return t;
    snprintf(sub, sizeof(sub), "%s-%s-%s", name, p->dlq_suffix, p->group);
    if (!ps_valid_id(name) || !ps_valid_id(sub)) {
        cdc_err_set(err, CDC_E_CONFIG, "pubsub: \"%s\" (or its subscription \"%s\") is not a "
                    "valid Pub/Sub name: 3 to 255 characters of letters, digits and -_.~+%%, "
                    "starting with a letter, not with \"goog\" (topic_prefix \"%s\")", name, sub,
                    p->prefix);
        return NULL;
    }
    t = cdc_xcalloc(1, sizeof(*t));
    t->name = cdc_xstrdup(name);
    t->path = ps_printf("projects/%s/topics/%s%s", p->project, name, "");
    t->url = ps_printf("%s/v1/%s:publish%s", p->base, t->path, "");
    t->dlq_name = ps_printf("%s-%s%s", name, p->dlq_suffix, "");
    t->dlq_path = ps_printf("projects/%s/topics/%s%s", p->project, t->dlq_name, "");
    t->dlq_url = ps_printf("%s/v1/%s:publish%s", p->base, t->dlq_path, "");
    /* At start the calls are retried with the backoff; later (a new table, on
       the agent's loop) one attempt each with a shorter timeout: the router
       offers the event again, and the loop is not held long. */
    if (ps_topic_create(p, t, p->started ? 1 : p->retry.max_attempts, err) < 0) {
        ps_topic_free(t);
        return NULL;
    }
    t->next = p->topics[h];
    p->topics[h] = t;
    return t;
}

void
ps_topics_free(pubsub *p)
{
    for (int i = 0; i < PS_TOPIC_BUCKETS; i++)
        while (p->topics[i]) {
            ps_topic *t = p->topics[i];

            p->topics[i] = t->next;
            ps_topic_free(t);
        }
}

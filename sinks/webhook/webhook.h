/*
 * The HTTP webhook sink: each event goes to a URL as the platform's payload
 *   {"key":K,"value":V,"metadata":{"topic":T,"partition":0,"offset":<lsn>,
 *    "commit_lsn":N,"seq":N}}
 * (K and V as Kafka's JsonConverter writes them, schemas/json.h), one per
 * request, or as a JSON array of them when batching is on.
 *
 * Every request carries `Idempotency-Key: <pipeline_id>-<commit_lsn as 16
 * hex digits>-<seq>` (a batch: first and last position,
 * "<pipeline_id>-<lsn>-<seq>-<lsn>-<seq>"), the same on every replay, so a
 * receiver can drop what it already has: after a crash the agent re-sends
 * from the last confirmed LSN and this sink cannot know what the receiver
 * kept (resume_from() reports nothing).
 *
 * Delivery is asynchronous (libcurl's multi interface, driven from
 * progress() and flush()), with up to max_in_flight requests at once but
 * never two for the same key (topic + key JSON), so changes to one row
 * arrive in order.  2xx makes an event durable.  Connection errors and
 * timeouts mean the receiver is down: they are retried for ever with
 * backoff, and the agent waits (backpressure).  408, 429 and 5xx are
 * retried with backoff (at least Retry-After) up to retry.max_attempts,
 * then dead-lettered; any other status (3xx, 4xx) is dead-lettered at once.
 * A dead-lettered event counts as durable.  Secrets (auth token, header
 * values, URL credentials and query) never appear in logs.
 */
#ifndef CDC_SINKS_WEBHOOK_WEBHOOK_H
#define CDC_SINKS_WEBHOOK_WEBHOOK_H

#include <stdbool.h>
#include <stddef.h>

#include "agent/core/cdc_buf.h"
#include "agent/core/dest/cdc_dest.h"
#include "schemas/json.h"
#include "agent/core/dest/acks.h"
#include "agent/core/dest/dlq.h"

typedef struct dest_webhook_header {
    const char *name;
    const char *value;
} dest_webhook_header;

/* The sink's configuration (cfg_webhook + retry + dlq); copied by open(). */
typedef struct dest_webhook_conf {
    const char                *url;
    const char                *method;          /* POST (NULL), PUT or PATCH */
    const dest_webhook_header *headers;
    int                        nheaders;
    int                        timeout_ms;      /* whole request; <= 0: 10000 */
    const char                *auth_token;      /* "Authorization: Bearer ..."; NULL: none */
    const char                *ca_file;         /* CA bundle; NULL: the system's */
    const char                *client_cert;     /* PEM client certificate; NULL: none */
    const char                *client_key;      /* PEM key of client_cert */
    const char                *key_password;    /* passphrase of client_key; NULL: none */
    bool                       tls_insecure;    /* skip certificate checks (off by default) */
    int                        batch_max;       /* events per request; <= 1: one each */
    int                        batch_ms;        /* longest wait filling a batch; <= 0: 100 */
    int                        max_in_flight;   /* <= 0: 8 */
    int                        max_queued;      /* events not yet durable; <= 0: 10000 */
    cdc_retry_conf            retry;
    dest_dlq                  *dlq;             /* borrowed; NULL: a rejected event stops
                                                   the sink with an error */
} dest_webhook_conf;

/* open() takes a const dest_webhook_conf *; env as for dest_jsonl_ops.  replay()
   sends a dead letter's body again as the sink sent it (same headers, auth, TLS
   and Idempotency-Key); 0 only on a 2xx. */
extern const cdc_dest_ops dest_webhook_ops;

/* "<pipeline_id>-<lsn:%016X>-<seq>" into out; @returns its length (truncated to n-1). */
size_t dest_webhook_idempotency_key(const char *pipeline_id, cdc_pos pos, char *out, size_t n);

#endif

/*
 * The Pub/Sub destination's inside, shared by its files and by nothing outside
 * transports/pubsub/ (the interface is pubsub.h):
 *   pubsub.c        the operations: open, write, commit_txn, progress, flush,
 *                   heartbeat, health, close; the backpressure bound
 *   pubsub_msg.c    one event as one PubsubMessage (JSON for the REST API):
 *                   base64 data, attributes, ordering key, and the limits;
 *                   freeing messages and the fatal state (used by every file)
 *   pubsub_send.c   publish requests on cdc_http_multi: taking runs of one
 *                   key from the key queue, answers, retries, dead letters
 *   pubsub_admin.c  the synchronous calls of start-up and of a new table: the
 *                   project check, topics, dead-letter topics, subscriptions
 *
 * Design (and why):
 *   - REST v1 over agent/core/net/http.h, several requests in flight on one
 *     cdc_http_multi driven from the agent's loop (never a thread, never a
 *     blocking wait outside start-up, a new table's creation and flush).
 *   - Every message waits in agent/core/dest/keyq.h under a key: the topic and
 *     the ordering key with pubsub.ordering_enabled, the topic alone without.
 *     One publish request per key in flight, holding a run of that key's
 *     messages (Pub/Sub takes one ordering key per request): a later message
 *     of a key is never sent before the earlier ones are acknowledged, a failed
 *     run goes back to the key's head and the key is held for the backoff
 *     (cdc_retry.h) while other keys go on.  Without ordering the unit is the
 *     topic, so different tables still go in parallel and a table's messages
 *     keep their order anyway (one lane per topic is the throughput price:
 *     docs/pubsub.md).
 *   - Every message has its own ticket in the in-flight ring
 *     (agent/core/dest/acks.h), because keys finish out of position order; the
 *     ring's finished prefix is what progress() reports durable.
 *   - A message counts as durable when its request answered 2xx with as many
 *     messageIds as it carried; anything else is not durable.
 *   - Limits are checked before sending (1,000 messages and 10,000,000
 *     serialized bytes a request, a 10 MiB JSON body, 10 MB a message,
 *     attribute values <= 1024 bytes, ordering keys <= 1024 bytes): a message
 *     that cannot be sent even alone goes to the dead-letter topic without its
 *     data; a request the service refuses as INVALID_ARGUMENT is sent again one
 *     message at a time so the refusal names one message, which then goes to
 *     the dead-letter topic.
 */
#ifndef CDC_TRANSPORTS_PUBSUB_PUBSUB_INT_H
#define CDC_TRANSPORTS_PUBSUB_PUBSUB_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/core/cdc_buf.h"
#include "agent/core/cdc_err.h"
#include "agent/core/cdc_event.h"
#include "agent/core/cdc_retry.h"
#include "agent/core/dest/acks.h"
#include "agent/core/dest/cdc_dest.h"
#include "agent/core/dest/keyq.h"
#include "agent/core/dest/status.h"
#include "agent/core/net/gcp_auth.h"
#include "agent/core/net/http.h"
#include "schemas/message.h"
#include "transports/pubsub/pubsub.h"

#define PS_FAC            "dest.pubsub"
#define PS_MAX_MSGS       1000          /* messages a publish request */
#define PS_MAX_REQ_BYTES  10000000      /* serialized PublishRequest */
#define PS_MAX_BODY       10485760      /* REST body (JSON), 10 MiB */
#define PS_MAX_MSG_BYTES  10000000      /* one message: data + attributes + ordering key */
#define PS_MAX_ATTR_VAL   1024
#define PS_MAX_ORDER_KEY  1024
#define PS_NULL_KEY       "default"     /* Debezium Server's pubsub null.key default */
#define PS_BODY_HEAD      "{\"messages\":["
#define PS_TOPIC_BUCKETS  256
#define PS_ADMIN_LOOP_MS  5000          /* an admin call once running (a new table) */

/* A topic this destination writes, with its dead-letter companion. */
typedef struct ps_topic {
    struct ps_topic *next;      /* bucket chain */
    char            *name;      /* "cdc-public-customers" */
    char            *path;      /* "projects/<p>/topics/<name>" */
    char            *url;       /* <base>/v1/<path>:publish */
    char            *dlq_name, *dlq_path, *dlq_url;
} ps_topic;

/* One event as one PubsubMessage. */
typedef struct ps_msg {
    ps_topic *t;
    cdc_pos   pos;
    uint64_t  lsn;              /* the change's own LSN (dlq.source_offset) */
    uint64_t  ticket;           /* in the acks ring */
    char     *json;             /* {"data":"..","attributes":{..}[,"orderingKey":".."]} */
    size_t    len;
    size_t    data_end;         /* offset just after the data string's closing quote */
    size_t    attrs_off;        /* offset of the attributes' members (after '{') */
    size_t    attrs_end;        /* offset of the '}' closing the attributes */
    size_t    wire;             /* its share of the serialized PublishRequest */
    size_t    value_len;        /* the record value's bytes (before base64) */
    char      table[96];        /* "schema.table", for messages */
    char      keytxt[96];       /* the key's start, for messages */
    int       attempts;         /* failed attempts of the unit it heads */
    bool      solo;             /* publish alone: a batch with it was refused */
} ps_msg;

enum { PS_REQ_DATA = 0, PS_REQ_DLQ, PS_REQ_HEARTBEAT };

/* One publish request: a run of one key, a dead letter or a heartbeat. */
typedef struct ps_req {
    struct ps_req  *next;       /* the loose list (dead letters, heartbeats) or flying */
    int             kind;
    dest_keyq_key  *k;          /* PS_REQ_DATA: its key (busy while in flight) */
    void          **items;      /* ps_msg *, in position order (dest_keyq_retry takes void **) */
    size_t         *bytes;
    size_t          n, cap;
    const char     *url;        /* borrowed from the topic */
    const char     *topic;      /* its name, for messages */
    cdc_buf         body, resp;
    cdc_http_xfer  *x;
    int             attempts;
    int64_t         next_at_ms;
    bool            with_data;  /* PS_REQ_DLQ: the record's data is in the dead letter */
    char            type[64];   /* PS_REQ_DLQ: dlq.error_type and dlq.error_message */
    char            why[400];
} ps_req;

typedef struct pubsub {
    const char     *id;
    char           *project, *prefix, *database, *group, *dlq_suffix;
    bool            ordering, dlq_enabled, tx_on;
    int             ack_deadline, max_delivery;
    int             batch_max, max_inflight, timeout_ms;
    int64_t         linger_ms;
    size_t          max_bytes;
    cdc_retry_conf  retry;
    uint64_t        rng;
    cdc_gcp_auth   *auth;
    const char     *base;       /* the service's base URL (owned by auth) */
    cdc_http_multi *multi;
    cdc_http_hdrs  *hdrs;       /* Content-Type, no Expect */
    cdc_http_xfer  *admin;      /* synchronous calls */
    sch_msg_enc    *enc;
    sch_json_opts   jopts;
    ps_topic       *topics[PS_TOPIC_BUCKETS];
    ps_topic       *hb_topic;
    dest_keyq      *q;
    dest_acks       acks;
    ps_req         *loose;      /* dead letters and heartbeats (in flight or waiting) */
    ps_req         *flying;     /* publish requests of the key queue in flight */
    int             inflight, loose_inflight;
    size_t          held_bytes; /* every message alive: queued, in flight, dead-lettering */
    size_t          held_msgs;
    int64_t         wait_since_ms;  /* first push since the last scheduling pass; 0: none */
    bool            kick;       /* a unit finished: schedule at once */
    bool            flushing;
    bool            started;    /* open() finished: admin calls run on the agent's loop */
    cdc_buf         kbuf;       /* the key queue's key of the message being written */
    uint64_t        nmsgs, nreqs, nretries, ndlq, nsolo, ndropped_attrs, nheartbeats;
    uint64_t        ntombstones_skipped;
    char          **tables;
    int             ntables;
    dest_status     st;
} pubsub;

/* pubsub_msg.c */
/* Fails the destination for good; the first cause is kept and logged. */
void    ps_fatal(pubsub *p, const char *fmt, ...) CDC_PRINTF(2, 3);
/* Frees a message counted in p's memory bound; _release one that is not (closing). */
void    ps_msg_free(pubsub *p, ps_msg *m);
void    ps_msg_release(ps_msg *m);
/* Builds the message of m (the encoded record) for topic t; the key queue's key
   goes into p->kbuf.  @returns the message (never NULL: allocation aborts). */
ps_msg *ps_msg_build(pubsub *p, ps_topic *t, const cdc_event *ev, const sch_msg *m);
/* Could the message go in a publish request alone? */
bool    ps_msg_fits_alone(const ps_topic *t, const ps_msg *m);
/* Appends its dead letter (no ordering key, the dlq.* attributes added; the data
   left out when drop_data) to b. */
void    ps_msg_dead_letter(pubsub *p, const ps_msg *m, cdc_buf *b, const char *type,
                           const char *why, bool drop_data);
void    ps_base64(cdc_buf *b, const void *p, size_t n);

/* pubsub_send.c */
/* Everything that can be done without waiting: answers, retries, new requests. */
int  ps_pump(pubsub *p, cdc_err *err);
/* Sends m to its dead-letter topic (asynchronously; its ticket is done once that
   is acknowledged), or fails the destination when dlq is off.  Takes m. */
int  ps_dead_letter(pubsub *p, ps_msg *m, const char *type, const char *why, bool drop_data,
                    cdc_err *err);
/* Queues a loose request (heartbeat) whose body is ready. */
void ps_loose_add(pubsub *p, ps_req *r);
void ps_req_free(ps_req *r);
/* Work left: messages queued or in flight, loose requests. */
bool ps_busy(const pubsub *p);
/* Milliseconds until ps_pump has timed work (0: now; capped at 1000). */
int  ps_next_ms(const pubsub *p);

/* pubsub_admin.c */
int       ps_admin_check(pubsub *p, cdc_err *err);
/* The topic named name (created with its companions when new); NULL with err. */
ps_topic *ps_topic_get(pubsub *p, const char *name, cdc_err *err);
void      ps_topics_free(pubsub *p);

#endif

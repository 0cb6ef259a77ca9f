/*
 * The record every bus carries (see message.h): the key, the value and the
 * headers of one event, encoded as the Kafka transport has always encoded
 * them, so that Kafka, Pub/Sub and Kinesis carry the same bytes.
 *
 * JSON.  Without schemas the payloads come straight from sch_json_key and
 * sch_json_value.  With schemas (JsonConverter's schemas.enable) the Connect
 * schema nodes of a relation version are rendered once and cached (they cost
 * more than the payload), and each record is {"schema":S,"payload":P}.
 * Logical messages and events without a relation are wrapped by the JSON
 * encoder itself.
 *
 * Null rules.  JSON: a null key for truncates, relations without key columns
 * and events with no row at all (sch_json_key's rule; a logical message has
 * its MessageKey), a null value for tombstones.  Avro: what the encoder
 * leaves empty is null (AvroConverter writes no bytes).
 *
 * Headers.  cdc.commit_lsn and cdc.seq (the event's position: what a restart
 * looks for), cdc.xid when the event has a transaction, and Debezium's
 * __debezium.newkey / __debezium.oldkey for a primary-key change: the key as
 * Connect's SimpleHeaderConverter writes it (payload only, characters outside
 * the BMP left raw).
 */
#include "schemas/message.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/core/cdc_buf.h"
#include "agent/core/cdc_clock.h"
#include "agent/core/cdc_mem.h"
#include "agent/core/cdc_retry.h"
#include "schemas/avro_reg.h"
#include "schemas/topic.h"
#include "schemas/txmeta.h"

#define MSG_SCHEMA_BUCKETS 256
#define MSG_CT_JSON        "application/json"
#define MSG_CT_AVRO        "application/avro"

/* JSON with schemas: the Connect schema nodes of one relation version, rendered once. */
typedef struct msg_schemas {
    struct msg_schemas *next;
    uint32_t            relid, version;
    char               *key, *value;
} msg_schemas;

struct sch_msg_enc {
    sch_json_opts jopts;        /* the converter's options */
    sch_json_opts key_opts;     /* the same, payload only: payloads under a cached schema */
    msg_schemas  *schemas[MSG_SCHEMA_BUCKETS];
    cdc_buf       kbuf, vbuf;
    cdc_buf       newkey, oldkey;   /* __debezium.newkey / oldkey */
    char          lsn[24], seq[24], xid[16];
    sch_avro_reg *avro;         /* Avro with the Schema Registry; NULL: JSON */
    sch_txm       tx;           /* transaction metadata: the transaction being counted */
    uint32_t      tx_key_id, tx_value_id;   /* Avro: its subjects' ids, once registered */
    bool          tx_registered;
    bool          ctx_headers;  /* 3.5+: __debezium.context.* on data change records */
    char          run_id[37];   /* __debezium.context.runId: a new UUID per encoder */
};

/* What the profile adds outside the converters: counted messages, the context headers. */
static void
msg_profile_init(sch_msg_enc *e, sch_avro_profile p)
{
    sch_dbz_shape sh = sch_dbz_profile_shape(p);
    uint64_t      rng = cdc_rng_seed(), hi = cdc_rng_next(&rng), lo = cdc_rng_next(&rng);

    e->tx.count_messages = sh.message_tx;
    e->ctx_headers = sh.context_headers;
    /* Debezium's runId is a version 7 UUID: 48 bits of Unix milliseconds, then random */
    hi = (uint64_t) (cdc_wall_us() / 1000) << 16 | 0x7000 | (hi & 0xFFF);
    lo = (lo & ~((uint64_t) 3 << 62)) | (uint64_t) 2 << 62;
    snprintf(e->run_id, sizeof(e->run_id), "%08" PRIx64 "-%04" PRIx64 "-%04" PRIx64 "-%04" PRIx64
             "-%012" PRIx64, hi >> 32, hi >> 16 & 0xFFFF, hi & 0xFFFF, lo >> 48,
             lo & (uint64_t) 0xFFFFFFFFFFFF);
}

sch_msg_enc *
sch_msg_enc_new(const sch_msg_conf *c, cdc_err *err)
{
    sch_msg_enc *e;

    if (c == NULL) {
        cdc_err_set(err, CDC_E_INVAL, "schemas/message: no configuration");
        return NULL;
    }
    if (c->registry != NULL && c->avro == NULL) {
        cdc_err_set(err, CDC_E_INVAL, "schemas/message: Avro needs its options with the registry");
        return NULL;
    }
    e = cdc_xcalloc(1, sizeof(*e));
    e->jopts = c->json;
    e->key_opts = c->json;
    e->key_opts.schemas_enable = false;
    msg_profile_init(e, c->avro ? c->avro->profile : (sch_avro_profile) c->json.profile);
    if (c->registry != NULL &&
        (e->avro = sch_avro_reg_new(c->registry, c->avro, c->stop_on_incompatible, err)) == NULL) {
        free(e);
        return NULL;
    }
    return e;
}

void
sch_msg_enc_free(sch_msg_enc *e)
{
    if (e == NULL)
        return;
    for (int b = 0; b < MSG_SCHEMA_BUCKETS; b++)
        for (msg_schemas *sc = e->schemas[b], *next; sc; sc = next) {
            next = sc->next;
            free(sc->key);
            free(sc->value);
            free(sc);
        }
    cdc_buf_free(&e->kbuf);
    cdc_buf_free(&e->vbuf);
    cdc_buf_free(&e->newkey);
    cdc_buf_free(&e->oldkey);
    sch_avro_reg_free(e->avro);
    sch_txm_free(&e->tx);
    free(e);
}

/* ------------------------------------------------------------------ */
/* JSON                                                                */
/* ------------------------------------------------------------------ */

/* The record has a null key: no key columns, truncate (sch_json_key's rule). */
static bool
msg_null_key(const cdc_event *ev)
{
    if (ev->op == CDC_OP_MESSAGE)
        return false;
    return ev->op == CDC_OP_TRUNCATE || ev->rel == NULL || ev->rel->nkeys == 0 ||
           (ev->key == NULL && ev->after == NULL && ev->before == NULL);
}

static char *
msg_render(void (*fn)(cdc_buf *, const cdc_rel *, const sch_json_opts *), const cdc_rel *rel,
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

/* The cached schema nodes of a relation version. */
static const msg_schemas *
msg_schemas_get(sch_msg_enc *e, const cdc_rel *rel)
{
    unsigned     b = (rel->relid * 2654435761u ^ rel->version) % MSG_SCHEMA_BUCKETS;
    msg_schemas *sc;

    for (sc = e->schemas[b]; sc; sc = sc->next)
        if (sc->relid == rel->relid && sc->version == rel->version)
            return sc;
    sc = cdc_xcalloc(1, sizeof(*sc));
    sc->relid = rel->relid;
    sc->version = rel->version;
    sc->key = msg_render(sch_json_key_schema, rel, &e->jopts);
    sc->value = msg_render(sch_json_value_schema, rel, &e->jopts);
    if (sc->key == NULL || sc->value == NULL) {
        free(sc->key);
        free(sc->value);
        free(sc);
        return NULL;
    }
    sc->next = e->schemas[b];
    e->schemas[b] = sc;
    return sc;
}

/* JsonConverter with schemas.enable: {"schema":<cached>,"payload":<this event>}. */
static void
msg_json_cached(sch_msg_enc *e, const cdc_event *ev, const msg_schemas *sc, bool nullkey,
                bool nullval)
{
    if (!nullkey) {
        cdc_buf_puts(&e->kbuf, "{\"schema\":");
        cdc_buf_puts(&e->kbuf, sc->key);
        cdc_buf_puts(&e->kbuf, ",\"payload\":");
        sch_json_key(&e->kbuf, ev, &e->key_opts);
        cdc_buf_putc(&e->kbuf, '}');
    }
    if (!nullval) {
        cdc_buf_puts(&e->vbuf, "{\"schema\":");
        cdc_buf_puts(&e->vbuf, sc->value);
        cdc_buf_puts(&e->vbuf, ",\"payload\":");
        sch_json_value(&e->vbuf, ev, &e->key_opts, cdc_wall_us());
        cdc_buf_putc(&e->vbuf, '}');
    }
}

/* Renders a key struct as JsonConverter's payload JSON into b. */
static void
msg_key_header(sch_msg_enc *e, cdc_buf *b, const cdc_event *ev, const cdc_value *key)
{
    cdc_event     tmp = *ev;
    sch_json_opts o = e->key_opts;

    /* SimpleHeaderConverter leaves characters outside the BMP raw (seen in 260) */
    o.raw_non_bmp = true;
    tmp.op = CDC_OP_CREATE;
    tmp.key = key;
    cdc_buf_reset(b);
    sch_json_key(b, &tmp, &o);
}

static void
msg_hdr(sch_msg *m, const char *name, const char *value, size_t len)
{
    m->hdrs[m->nhdrs++] = (sch_hdr) { name, value, len };
}

/* The position, transaction and key-change headers of ev. */
static void
msg_headers(sch_msg_enc *e, const cdc_event *ev, sch_msg *m)
{
    snprintf(e->lsn, sizeof(e->lsn), "%" PRIu64, ev->pos.lsn);
    msg_hdr(m, "cdc.commit_lsn", e->lsn, strlen(e->lsn));
    snprintf(e->seq, sizeof(e->seq), "%" PRIu64, ev->pos.seq);
    msg_hdr(m, "cdc.seq", e->seq, strlen(e->seq));
    if (ev->txn) {
        snprintf(e->xid, sizeof(e->xid), "%" PRIu32, ev->txn->xid);
        msg_hdr(m, "cdc.xid", e->xid, strlen(e->xid));
    }
    if (ev->pk_change_newkey) {
        msg_key_header(e, &e->newkey, ev, ev->pk_change_newkey);
        msg_hdr(m, "__debezium.newkey", (const char *) e->newkey.data, e->newkey.len);
    }
    if (ev->pk_change_oldkey) {
        msg_key_header(e, &e->oldkey, ev, ev->pk_change_oldkey);
        msg_hdr(m, "__debezium.oldkey", (const char *) e->oldkey.data, e->oldkey.len);
    }
    /* EventDispatcher.getExtendedHeaders (extended.headers.enabled, on by default):
       after the emitter's headers, on change records (snapshot, streaming, their
       tombstones), not on logical messages, heartbeats or transaction records (op 0). */
    if (e->ctx_headers && ev->op != CDC_OP_MESSAGE && ev->op != 0) {
        const char *name = e->jopts.server_name ? e->jopts.server_name : "";

        msg_hdr(m, "__debezium.context.connectorLogicalName", name, strlen(name));
        msg_hdr(m, "__debezium.context.taskId", "0", 1);
        msg_hdr(m, "__debezium.context.connectorName", "postgresql", 10);
        msg_hdr(m, "__debezium.context.runId", e->run_id, strlen(e->run_id));
    }
}

static bool
msg_failed(sch_msg_enc *e)
{
    if (!cdc_buf_failed(&e->kbuf) && !cdc_buf_failed(&e->vbuf) &&
        !cdc_buf_failed(&e->newkey) && !cdc_buf_failed(&e->oldkey))
        return false;
    cdc_buf_free(&e->kbuf);
    cdc_buf_free(&e->vbuf);
    cdc_buf_free(&e->newkey);
    cdc_buf_free(&e->oldkey);
    return true;
}

/* The schema id of a record in Confluent's wire format (magic 0, id big-endian); 0: none. */
static uint32_t
msg_frame_id(const cdc_buf *b)
{
    const uint8_t *p = (const uint8_t *) b->data;

    if (b->len < 5 || p[0] != 0)
        return 0;
    return (uint32_t) p[1] << 24 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 8 | p[4];
}

static void
msg_finish(sch_msg_enc *e, sch_msg *m, bool nullkey, bool nullval)
{
    m->null_key = nullkey;
    m->key = nullkey ? NULL : (const char *) e->kbuf.data;
    m->key_len = nullkey ? 0 : e->kbuf.len;
    m->null_value = nullval;
    m->value = nullval ? NULL : (const char *) e->vbuf.data;
    m->value_len = nullval ? 0 : e->vbuf.len;
    m->content_type = e->avro ? MSG_CT_AVRO : MSG_CT_JSON;
    if (e->avro) {
        m->key_schema_id = nullkey ? 0 : msg_frame_id(&e->kbuf);
        m->value_schema_id = nullval ? 0 : msg_frame_id(&e->vbuf);
    }
}

int
sch_msg_encode(sch_msg_enc *e, const cdc_event *ev, const char *topic, sch_msg *m,
               cdc_err *err)
{
    bool nullkey = msg_null_key(ev), nullval = ev->op == CDC_OP_TOMBSTONE;

    memset(m, 0, sizeof(*m));
    cdc_buf_reset(&e->kbuf);
    cdc_buf_reset(&e->vbuf);
    if (e->avro) {
        if (sch_avro_reg_encode(e->avro, ev, topic, cdc_wall_us(), &e->kbuf, &e->vbuf, err) < 0)
            return -1;
        nullkey = e->kbuf.len == 0;
        nullval = e->vbuf.len == 0;
    } else if (e->jopts.schemas_enable && ev->rel && ev->op != CDC_OP_MESSAGE) {
        const msg_schemas *sc = msg_schemas_get(e, ev->rel);

        if (sc == NULL)
            return cdc_err_set(err, CDC_E_NOMEM, "%s: out of memory rendering schemas",
                               topic ? topic : "?");
        msg_json_cached(e, ev, sc, nullkey, nullval);
    } else {
        if (!nullkey)
            sch_json_key(&e->kbuf, ev, &e->jopts);
        if (!nullval)
            sch_json_value(&e->vbuf, ev, &e->jopts, cdc_wall_us());
    }
    msg_headers(e, ev, m);
    if (msg_failed(e)) {
        memset(m, 0, sizeof(*m));
        return cdc_err_set(err, CDC_E_NOMEM, "%s: out of memory encoding an event",
                           topic ? topic : "?");
    }
    msg_finish(e, m, nullkey, nullval);
    return 0;
}

/* JsonConverter's rendering of ServerNameKey{serverName} and Heartbeat{ts_ms}. */
static void
msg_heartbeat_json(sch_msg_enc *e, const char *server_name, int64_t ts_ms)
{
    bool with_schema = e->jopts.schemas_enable;

    if (with_schema)
        cdc_buf_puts(&e->kbuf, "{\"schema\":{\"type\":\"struct\",\"fields\":[{\"type\":\"string\","
                     "\"optional\":false,\"field\":\"serverName\"}],\"optional\":false,"
                     "\"name\":\"io.debezium.connector.common.ServerNameKey\",\"version\":1},"
                     "\"payload\":");
    cdc_buf_puts(&e->kbuf, "{\"serverName\":");
    sch_json_put_string(&e->kbuf, server_name, strlen(server_name));
    cdc_buf_putc(&e->kbuf, '}');
    if (with_schema) {
        cdc_buf_putc(&e->kbuf, '}');
        cdc_buf_puts(&e->vbuf, "{\"schema\":{\"type\":\"struct\",\"fields\":[{\"type\":\"int64\","
                     "\"optional\":false,\"field\":\"ts_ms\"}],\"optional\":false,"
                     "\"name\":\"io.debezium.connector.common.Heartbeat\",\"version\":1},"
                     "\"payload\":");
    }
    cdc_buf_printf(&e->vbuf, "{\"ts_ms\":%" PRId64 "}", ts_ms);
    if (with_schema)
        cdc_buf_putc(&e->vbuf, '}');
}

int
sch_msg_heartbeat(sch_msg_enc *e, const char *topic, const char *server_name, int64_t ts_ms,
                  sch_msg *m, cdc_err *err)
{
    memset(m, 0, sizeof(*m));
    cdc_buf_reset(&e->kbuf);
    cdc_buf_reset(&e->vbuf);
    if (server_name == NULL)
        server_name = "";
    if (e->avro) {
        if (sch_avro_reg_heartbeat(e->avro, topic, server_name, ts_ms, &e->kbuf, &e->vbuf,
                                   err) < 0)
            return -1;
    } else {
        msg_heartbeat_json(e, server_name, ts_ms);
    }
    if (msg_failed(e))
        return cdc_err_set(err, CDC_E_NOMEM, "%s: out of memory encoding a heartbeat",
                           topic ? topic : "?");
    msg_finish(e, m, false, false);
    return 0;
}

/* ------------------------------------------------------------------ */
/* names                                                               */
/* ------------------------------------------------------------------ */

char *
sch_msg_bus_name(const cdc_event *ev, const char *prefix, char sep, char *out, size_t outsz)
{
    sch_event_topic(ev, prefix, out, outsz);
    for (char *p = out; *p; p++)
        if (*p == '.')
            *p = sep;
    return out;
}

/* ------------------------------------------------------------------ */
/* transaction metadata                                                */
/* ------------------------------------------------------------------ */

char *
sch_msg_tx_name(const char *prefix, char sep, char *out, size_t outsz)
{
    snprintf(out, outsz, "%s.%s", prefix ? prefix : "", SCH_MSG_TX_TOPIC);
    for (char *p = out; *p; p++)
        if (*p == '.')
            *p = sep;
    return out;
}

bool
sch_msg_tx_applies(const cdc_event *ev)
{
    return sch_txm_applies(ev);
}

bool
sch_msg_tx_due(sch_msg_enc *e, uint64_t commit_lsn, bool end)
{
    sch_txm_enter(&e->tx, commit_lsn);
    return end ? !e->tx.ended : !e->tx.begun;
}

void
sch_msg_tx_written(sch_msg_enc *e, bool end)
{
    if (end)
        e->tx.ended = true;
    else
        e->tx.begun = true;
}

const cdc_tx_block *
sch_msg_tx_count(sch_msg_enc *e, const cdc_event *ev)
{
    return sch_txm_count(&e->tx, ev);
}

int
sch_msg_tx_record(sch_msg_enc *e, const cdc_txn *txn, bool end, const char *topic, sch_msg *m,
                  cdc_err *err)
{
    char      id[48];
    int64_t   ts_ms = txn->commit_ts_us / 1000;
    cdc_event hev = { .txn = txn };

    memset(m, 0, sizeof(*m));
    if (txn->commit_ts_us < 0 && txn->commit_ts_us % 1000)
        ts_ms--;        /* Instant.toEpochMilli floors */
    sch_txm_id(id, sizeof(id), txn->xid, end ? txn->end_lsn : txn->begin_lsn);
    cdc_buf_reset(&e->kbuf);
    cdc_buf_reset(&e->vbuf);
    if (e->avro) {
        if (!e->tx_registered) {
            if (sch_avro_reg_register_pair(e->avro, topic, sch_txm_avro_key_schema,
                                           sch_txm_avro_value_schema, &e->tx_key_id,
                                           &e->tx_value_id, err) < 0)
                return -1;
            e->tx_registered = true;
        }
        sch_txm_avro(&e->kbuf, &e->vbuf, &e->tx, end, id, ts_ms, e->tx_key_id, e->tx_value_id);
    } else {
        sch_txm_json(&e->kbuf, &e->vbuf, &e->tx, end, id, ts_ms, e->jopts.schemas_enable);
    }
    hev.pos = (cdc_pos) { txn->commit_lsn, end ? SCH_MSG_SEQ_TX_END : SCH_MSG_SEQ_TX_BEGIN };
    msg_headers(e, &hev, m);
    if (msg_failed(e)) {
        memset(m, 0, sizeof(*m));
        return cdc_err_set(err, CDC_E_NOMEM, "%s: out of memory encoding a record",
                           topic ? topic : "?");
    }
    msg_finish(e, m, false, false);
    return 0;
}

/*
 * The Kinesis transport's records other than the plain change: partition
 * keys (JSON text, Avro bytes), the queue every record enters (per-key order:
 * dest_keyq), the dead letter that stands in for a record over 1 MiB,
 * transaction metadata (BEGIN/END) and Debezium's heartbeat.  The design is
 * in kinesis.c's top comment.
 */
#include "transports/kinesis/kinesis_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/core/cdc_clock.h"
#include "agent/core/cdc_log.h"
#include "agent/core/cdc_mem.h"
#include "agent/core/net/aws_sigv4.h"

size_t
dest_kinesis_partition_key(const char *key, size_t klen, bool null_key, char *out, size_t outsz)
{
    size_t chars = 0;

    if (outsz == 0)
        return 0;
    if (null_key || key == NULL || klen == 0)
        return (size_t) snprintf(out, outsz, "%s", "default");
    for (size_t i = 0; i < klen; i++)
        chars += ((unsigned char) key[i] & 0xC0) != 0x80;
    if (chars <= DEST_KINESIS_MAX_PKEY && klen < outsz) {
        memcpy(out, key, klen);
        out[klen] = '\0';
        return klen;
    }
    if (outsz < 65) {
        out[0] = '\0';
        return 0;
    }
    cdc_sha256_hex(key, klen, out);
    return 64;
}

size_t
dest_kinesis_partition_key_bin(const void *key, size_t klen, char *out, size_t outsz)
{
    static const char    al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *p = key;
    size_t               n = 0;

    if (klen >= 5 && p[0] == 0) {       /* Confluent framing */
        p += 5;
        klen -= 5;
    }
    if (klen == 0)
        return dest_kinesis_partition_key(NULL, 0, true, out, outsz);
    if ((klen + 2) / 3 * 4 > DEST_KINESIS_MAX_PKEY || (klen + 2) / 3 * 4 >= outsz) {
        if (outsz < 65)
            return 0;
        cdc_sha256_hex(p, klen, out);
        return 64;
    }
    for (size_t i = 0; i < klen; i += 3) {
        unsigned v = (unsigned) p[i] << 16 | (i + 1 < klen ? (unsigned) p[i + 1] << 8 : 0) |
                     (i + 2 < klen ? p[i + 2] : 0);

        out[n++] = al[v >> 18 & 63];
        out[n++] = al[v >> 12 & 63];
        out[n++] = i + 1 < klen ? al[v >> 6 & 63] : '=';
        out[n++] = i + 2 < klen ? al[v & 63] : '=';
    }
    out[n] = '\0';
    return n;
}

/* The partition key of a record (JSON text, or Avro bytes: see kinesis.h). */
size_t
kin_pkey(const sch_msg *m, char *out, size_t outsz)
{
    if (!m->null_key && m->content_type && strstr(m->content_type, "avro"))
        return dest_kinesis_partition_key_bin(m->key, m->key_len, out, outsz);
    return dest_kinesis_partition_key(m->key, m->key_len, m->null_key, out, outsz);
}


/* The dead letter standing in for a record too large for Kinesis. */
char *
kin_dead_letter(kinesis *k, const cdc_event *ev, const char *stream, const sch_msg *m,
                size_t size, size_t *len)
{
    cdc_buf   b = CDC_BUF_INIT;
    char      ts[40], base[32], msg[200], hex[65];
    time_t    secs;
    struct tm tm;
    int64_t   ms = cdc_wall_ms();

    secs = (time_t) (ms / 1000);
    gmtime_r(&secs, &tm);
    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts, sizeof(ts), "%s.%03dZ", base, (int) (ms % 1000));
    snprintf(msg, sizeof(msg), "record of %zu bytes (data and partition key) is over "
             "Kinesis's %u-byte limit", size, DEST_KINESIS_MAX_RECORD);
    cdc_buf_puts(&b, "{\"dlq.source_topic\":");
    kin_json_str(&b, stream, strlen(stream));
    cdc_buf_printf(&b, ",\"dlq.source_partition\":0,\"dlq.source_offset\":%" PRIu64, ev->lsn);
    cdc_buf_puts(&b, ",\"dlq.error_type\":\"record_too_large\",\"dlq.error_message\":");
    kin_json_str(&b, msg, strlen(msg));
    cdc_buf_puts(&b, ",\"dlq.stacktrace\":\"CDC_E_DEST at transports/kinesis/kinesis.c:"
                 "kin_write\",\"dlq.timestamp\":");
    kin_json_str(&b, ts, strlen(ts));
    cdc_buf_puts(&b, ",\"dlq.sink_id\":");
    kin_json_str(&b, k->sink_id, strlen(k->sink_id));
    cdc_buf_printf(&b, ",\"commit_lsn\":%" PRIu64 ",\"seq\":%" PRIu64 ",\"lsn\":%" PRIu64
                   ",\"op\":\"%c\"", ev->pos.lsn, ev->pos.seq, ev->lsn, (char) ev->op);
    if (ev->txn)
        cdc_buf_printf(&b, ",\"xid\":%" PRIu32, ev->txn->xid);
    cdc_buf_puts(&b, ",\"content_type\":");
    kin_json_str(&b, m->content_type ? m->content_type : "", m->content_type ? strlen(m->content_type) : 0);
    if (m->null_key)
        cdc_buf_puts(&b, ",\"key\":null");
    else if (m->key_len <= 65536 && m->content_type && strstr(m->content_type, "json")) {
        cdc_buf_puts(&b, ",\"key\":");
        cdc_buf_put(&b, m->key, m->key_len);        /* JSON text as it is */
    } else {
        cdc_sha256_hex(m->key, m->key_len, hex);
        cdc_buf_printf(&b, ",\"key_size\":%zu,\"key_sha256\":\"%s\"", m->key_len, hex);
    }
    cdc_sha256_hex(m->value ? m->value : "", m->value_len, hex);
    cdc_buf_printf(&b, ",\"value_size\":%zu,\"value_sha256\":\"%s\"}", m->value_len, hex);
    if (cdc_buf_failed(&b)) {
        cdc_buf_free(&b);
        return NULL;
    }
    *len = b.len;
    return (char *) b.data;
}

/* "schema.table" of ev, for messages. */
void
kin_table_of(const cdc_event *ev, char *out, size_t n)
{
    if (ev->rel)
        snprintf(out, n, "%s.%s", ev->rel->nspname, ev->rel->relname);
    else
        snprintf(out, n, "(logical message)");
}

/*
 * Queues a record behind the earlier ones of its unit of order: the stream `order` (the
 * table's, also for its dead letter) and the partition key; with keyless, the position
 * alone (no key, no order to keep).  Takes data.  ticket: its slot in the ring, or
 * KIN_NO_TICKET.
 */
void
kin_queue(kinesis *k, kin_stream *to, const char *order, bool keyless, cdc_pos pos,
          const char *pkey, size_t pklen, char *data, size_t dlen, uint64_t ticket)
{
    kin_rec *rec = cdc_xcalloc(1, sizeof(*rec));
    size_t   olen = strlen(order) + 1, klen = olen + (keyless ? sizeof(cdc_pos) : pklen);
    char    *qkey = cdc_xmalloc(klen);

    rec->pos = pos;
    rec->st = to;
    rec->pkey = cdc_xstrndup(pkey, pklen);
    rec->pklen = pklen;
    rec->data = data;
    rec->dlen = dlen;
    rec->ticket = ticket;
    memcpy(qkey, order, olen);
    if (keyless)
        memcpy(qkey + olen, &pos, sizeof(cdc_pos));
    else
        memcpy(qkey + olen, pkey, pklen);
    dest_keyq_push(k->q, qkey, klen, rec, dlen + pklen);
    free(qkey);
    k->nrecs++;
    k->bytes += dlen + pklen;
}

/* A copy of the value's bytes; NULL for a tombstone or an empty value. */
char *
kin_copy_value(const sch_msg *m, size_t *len)
{
    char *p;

    *len = 0;
    if (m->null_value || m->value_len == 0)
        return NULL;
    p = cdc_xmalloc(m->value_len);
    memcpy(p, m->value, m->value_len);
    *len = m->value_len;
    return p;
}

/*
 * A BEGIN or END record of txn (source.provide_transaction_metadata) in
 * "<prefix>-transaction", partition key the transaction's id key (so one
 * transaction's BEGIN and END are in order); its slot in the ring at
 * ring_pos, as the Kafka transport does.
 */
int
kin_tx_record(kinesis *k, const cdc_txn *txn, bool end, cdc_pos ring_pos, cdc_err *err)
{
    char        topic[300], name[300], pkey[DEST_KINESIS_MAX_PKEY * 4 + 1];
    kin_stream *st;
    sch_msg     m;
    size_t      pklen, dlen;
    char       *data;

    sch_msg_tx_name(k->prefix, '.', topic, sizeof(topic));
    sch_msg_tx_name(k->prefix, '-', name, sizeof(name));
    st = kin_stream_get(k, name, false);
    if (kin_stream_ready(k, st, err) < 0)
        return -1;
    if (sch_msg_tx_record(k->enc, txn, end, topic, &m, err) < 0) {
        if (err->code == CDC_E_CONN || err->code == CDC_E_TIMEOUT)
            err->code = CDC_E_QUEUE_FULL;
        else
            dest_status_fatal(&k->st, "%s", err->msg);
        return -1;
    }
    pklen = kin_pkey(&m, pkey, sizeof(pkey));
    if (kin_resume_has(k->resume, name, 0, pkey, pklen, m.null_value ? NULL : m.value,
                       m.null_value ? 0 : m.value_len)) {
        dest_acks_done(&k->acks, dest_acks_push(&k->acks, ring_pos));
        k->nskipped++;
        return 0;
    }
    data = kin_copy_value(&m, &dlen);
    kin_queue(k, st, name, false, ring_pos, pkey, pklen, data, dlen,
              dest_acks_push(&k->acks, ring_pos));
    return 0;
}

/*
 * Debezium's heartbeat record (ServerNameKey, Heartbeat{ts_ms}) in
 * "__debezium-heartbeat-<prefix>" (Debezium's "__debezium-heartbeat.<prefix>"
 * named as the platform names streams; created with 1 shard).  Outside the
 * event stream: no ticket in the ring, not checkpointed, not read back, and a
 * failed one is counted, never retried or fatal.
 */
int
kin_heartbeat(cdc_dest *d, int64_t ts_ms, cdc_err *err)
{
    kinesis    *k = d->impl;
    char        topic[300], name[300], pkey[DEST_KINESIS_MAX_PKEY * 4 + 1];
    kin_stream *st;
    sch_msg     m;
    size_t      pklen, dlen;
    char       *data;
    int64_t     now = cdc_mono_ms();

    if (dest_status_check(&k->st, err) < 0)
        return -1;
    if (k->nrecs >= (size_t) k->max_records || k->bytes >= k->max_bytes)
        return cdc_err_set(err, CDC_E_QUEUE_FULL, "kinesis: %zu records wait: heartbeat "
                           "skipped", k->nrecs);
    snprintf(topic, sizeof(topic), "%s.%s", KIN_HB_PREFIX, k->prefix);
    snprintf(name, sizeof(name), "%s-%s", KIN_HB_PREFIX, k->prefix);
    st = kin_stream_get(k, name, false);
    st->hb = true;
    if (!st->ready) {
        if (now < st->next_try_ms)
            return cdc_err_set(err, CDC_E_CONN, "kinesis: heartbeat stream %s not ready", name);
        if (kin_stream_ensure(k, st, false, err) < 0) {
            st->next_try_ms = now + KIN_ENSURE_RETRY_MS;
            return -1;
        }
    }
    if (sch_msg_heartbeat(k->enc, topic, k->prefix, ts_ms, &m, err) < 0)
        return -1;
    pklen = kin_pkey(&m, pkey, sizeof(pkey));
    data = kin_copy_value(&m, &dlen);
    kin_queue(k, st, name, false, (cdc_pos) { 0, 0 }, pkey, pklen, data, dlen, KIN_NO_TICKET);
    return kin_pump(k, err);
}


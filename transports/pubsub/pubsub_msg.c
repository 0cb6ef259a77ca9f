/*
 * The Pub/Sub destination (see pubsub_int.h): one event as one PubsubMessage
 * in the JSON of the REST API, and the service's limits; the messages' memory
 * and the failure state that every other file uses.
 *
 *   data         the record's value, base64 ("" for a tombstone: Pub/Sub takes
 *                a message with empty data when it has attributes)
 *   attributes   the headers of the record (schemas/message.h: cdc.commit_lsn,
 *                cdc.seq, cdc.xid, __debezium.newkey, __debezium.oldkey), then
 *                cdc.content_type, and with Avro cdc.key_schema_id and
 *                cdc.value_schema_id.  A value over 1,024 bytes (a long
 *                __debezium.newkey/oldkey) cannot be sent: that attribute is left
 *                out and cdc.dropped_attributes names it; the message is sent.
 *   orderingKey  with ordering: the serialized key as Debezium Server sets it
 *                (the key's JSON text), "default" for a null key (Debezium
 *                Server's null.key), and "sha256:<hex of the key>" when the key
 *                is longer than 1,024 bytes or is binary (Avro).
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
#include "agent/core/net/aws_sigv4.h"
#include "schemas/json.h"

void
ps_fatal(pubsub *p, const char *fmt, ...)
{
    char    msg[sizeof(p->st.lasterr)];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (dest_status_fatal(&p->st, "%s", msg))
        log_error(PS_FAC, "%s", msg);
}

void
ps_msg_release(ps_msg *m)
{
    free(m->json);
    free(m);
}

void
ps_msg_free(pubsub *p, ps_msg *m)
{
    p->held_bytes -= m->len;
    p->held_msgs--;
    ps_msg_release(m);
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void
ps_base64(cdc_buf *b, const void *p, size_t n)
{
    const uint8_t *s = p;
    size_t         i = 0;
    char          *o;

    if (!cdc_buf_reserve(b, (n + 2) / 3 * 4))
        return;
    o = (char *) b->data + b->len;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t) s[i] << 16 | (uint32_t) s[i + 1] << 8 | s[i + 2];

        *o++ = b64[v >> 18];
        *o++ = b64[(v >> 12) & 63];
        *o++ = b64[(v >> 6) & 63];
        *o++ = b64[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t) s[i] << 16 | (i + 1 < n ? (uint32_t) s[i + 1] << 8 : 0);

        *o++ = b64[v >> 18];
        *o++ = b64[(v >> 12) & 63];
        *o++ = i + 1 < n ? b64[(v >> 6) & 63] : '=';
        *o++ = '=';
    }
    b->len = (size_t) (o - (char *) b->data);
}

/* One attribute "name":"value"; @returns its share of the serialized size. */
static size_t
ps_attr(cdc_buf *b, bool *first, const char *name, const char *v, size_t n)
{
    if (!*first)
        cdc_buf_putc(b, ',');
    *first = false;
    sch_json_put_string(b, name, strlen(name));
    cdc_buf_putc(b, ':');
    sch_json_put_string(b, v, n);
    return strlen(name) + n + 8;    /* map entry: tags and lengths */
}

static void
ps_copy_text(char *out, size_t outsz, const char *s, size_t n)
{
    size_t k = n < outsz - 1 ? n : outsz - 1;

    for (size_t i = 0; i < k; i++)
        out[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
    out[k] = '\0';
    if (n > k && outsz > 4)
        memcpy(out + outsz - 4, "...", 4);
}

ps_msg *
ps_msg_build(pubsub *p, ps_topic *t, const cdc_event *ev, const sch_msg *m)
{
    ps_msg *pm = cdc_xcalloc(1, sizeof(*pm));
    cdc_buf b = { 0 };
    bool    first = true, binary_key;
    char    dropped[200] = "", tmp[24];
    size_t  wire = 0;

    pm->t = t;
    pm->pos = ev->pos;
    pm->lsn = ev->lsn;
    if (ev->rel)
        snprintf(pm->table, sizeof(pm->table), "%s.%s", ev->rel->nspname, ev->rel->relname);
    else
        snprintf(pm->table, sizeof(pm->table), "%s", t->name);
    binary_key = m->content_type && strstr(m->content_type, "avro") != NULL;
    if (m->null_key || m->key == NULL)
        snprintf(pm->keytxt, sizeof(pm->keytxt), "null");
    else if (binary_key)
        snprintf(pm->keytxt, sizeof(pm->keytxt), "(Avro key of %zu bytes)", m->key_len);
    else
        ps_copy_text(pm->keytxt, sizeof(pm->keytxt), m->key, m->key_len);

    cdc_buf_puts(&b, "{\"data\":\"");
    if (!m->null_value && m->value) {
        ps_base64(&b, m->value, m->value_len);
        pm->value_len = m->value_len;
        wire += m->value_len + 6;
    }
    cdc_buf_putc(&b, '"');
    pm->data_end = b.len;
    cdc_buf_puts(&b, ",\"attributes\":{");
    pm->attrs_off = b.len;
    for (int i = 0; i < m->nhdrs; i++) {
        const sch_hdr *h = &m->hdrs[i];

        if (h->len > PS_MAX_ATTR_VAL) {
            size_t dl = strlen(dropped);

            snprintf(dropped + dl, sizeof(dropped) - dl, "%s%s", dl ? "," : "", h->name);
            p->ndropped_attrs++;
            continue;
        }
        wire += ps_attr(&b, &first, h->name, h->value, h->len);
    }
    if (m->content_type)
        wire += ps_attr(&b, &first, "cdc.content_type", m->content_type,
                        strlen(m->content_type));
    if (m->key_schema_id) {
        snprintf(tmp, sizeof(tmp), "%" PRIu32, m->key_schema_id);
        wire += ps_attr(&b, &first, "cdc.key_schema_id", tmp, strlen(tmp));
    }
    if (m->value_schema_id) {
        snprintf(tmp, sizeof(tmp), "%" PRIu32, m->value_schema_id);
        wire += ps_attr(&b, &first, "cdc.value_schema_id", tmp, strlen(tmp));
    }
    if (dropped[0])
        wire += ps_attr(&b, &first, "cdc.dropped_attributes", dropped, strlen(dropped));
    pm->attrs_end = b.len;
    cdc_buf_putc(&b, '}');

    /* The key queue's key: the topic, then (ordering) the ordering key. */
    cdc_buf_reset(&p->kbuf);
    cdc_buf_puts(&p->kbuf, t->name);
    cdc_buf_putc(&p->kbuf, '\0');
    if (p->ordering) {
        const char *ok = PS_NULL_KEY;
        size_t      on = strlen(PS_NULL_KEY);
        char        hex[72];

        if (!m->null_key && m->key) {
            if (binary_key || m->key_len > PS_MAX_ORDER_KEY || m->key_len == 0) {
                memcpy(hex, "sha256:", 7);
                cdc_sha256_hex(m->key, m->key_len, hex + 7);
                ok = hex;
                on = strlen(hex);
            } else {
                ok = m->key;
                on = m->key_len;
            }
        }
        cdc_buf_puts(&b, ",\"orderingKey\":");
        sch_json_put_string(&b, ok, on);
        cdc_buf_put(&p->kbuf, ok, on);
        wire += on + 4;
    }
    cdc_buf_putc(&b, '}');
    pm->wire = wire + 8;
    pm->len = b.len;
    if (cdc_buf_failed(&b))
        abort();                    /* as cdc_xmalloc does: out of memory */
    pm->json = cdc_xrealloc(b.data, b.len + 1);     /* the buffer's bytes are ours now */
    p->held_bytes += pm->len;
    p->held_msgs++;
    return pm;
}

bool
ps_msg_fits_alone(const ps_topic *t, const ps_msg *m)
{
    size_t body = sizeof(PS_BODY_HEAD) + m->len + 2;

    return m->wire <= PS_MAX_MSG_BYTES && m->wire + strlen(t->path) + 8 <= PS_MAX_REQ_BYTES &&
           body <= PS_MAX_BODY;
}

void
ps_msg_dead_letter(pubsub *p, const ps_msg *m, cdc_buf *b, const char *type, const char *why,
                   bool drop_data)
{
    bool first = m->attrs_end == m->attrs_off;
    char tmp[32];

    if (drop_data)
        cdc_buf_puts(b, "{\"data\":\"\"");
    else
        cdc_buf_put(b, m->json, m->data_end);
    cdc_buf_puts(b, ",\"attributes\":{");
    cdc_buf_put(b, m->json + m->attrs_off, m->attrs_end - m->attrs_off);
    ps_attr(b, &first, "dlq.source_topic", m->t->name, strlen(m->t->name));
    ps_attr(b, &first, "dlq.source_partition", "0", 1);
    snprintf(tmp, sizeof(tmp), "%" PRIu64, m->lsn);
    ps_attr(b, &first, "dlq.source_offset", tmp, strlen(tmp));
    ps_attr(b, &first, "dlq.error_type", type, strlen(type));
    ps_attr(b, &first, "dlq.error_message", why, strlen(why) < 1000 ? strlen(why) : 1000);
    ps_attr(b, &first, "dlq.stacktrace", "", 0);
    snprintf(tmp, sizeof(tmp), "%" PRId64, cdc_wall_ms());
    ps_attr(b, &first, "dlq.timestamp", tmp, strlen(tmp));
    ps_attr(b, &first, "dlq.sink_id", p->id ? p->id : "pubsub",
            strlen(p->id ? p->id : "pubsub"));
    cdc_buf_puts(b, "}}");
}

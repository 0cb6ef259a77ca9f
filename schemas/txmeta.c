#include "schemas/txmeta.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/core/cdc_mem.h"
#include "agent/core/cdc_retry.h"
#include "schemas/json.h"
#include "schemas/avro_reg.h"

bool
sch_txm_applies(const cdc_event *ev)
{
    if (ev->txn == NULL || ev->txn->xid == 0 || ev->snapshot != NULL)
        return false;
    return !(ev->op == CDC_OP_MESSAGE && !ev->msg_transactional);
}

void
sch_txm_enter(sch_txm *t, uint64_t commit_lsn)
{
    if (t->commit_lsn == commit_lsn)
        return;
    for (size_t i = 0; i < t->ncolls; i++)
        free(t->colls[i].name);
    t->ncolls = 0;
    t->commit_lsn = commit_lsn;
    t->begun = t->ended = false;
    t->total = 0;
    t->have_last = false;
}

/*
 * Java's String.hashCode: 31*h + c over the UTF-16 code units.  Names come
 * from the catalog as UTF-8; a malformed byte counts as itself.
 */
static uint32_t
java_hash(const char *s)
{
    const unsigned char *p = (const unsigned char *) s;
    uint32_t             h = 0;

    while (*p) {
        uint32_t cp = *p++;
        int      more = 0;

        if (cp >= 0xF0 && cp < 0xF8)
            cp &= 0x07, more = 3;
        else if (cp >= 0xE0)
            cp &= 0x0F, more = 2;
        else if (cp >= 0xC0)
            cp &= 0x1F, more = 1;
        for (; more > 0 && (*p & 0xC0) == 0x80; more--)
            cp = cp << 6 | (*p++ & 0x3F);
        if (cp > 0xFFFF) {
            cp -= 0x10000;
            h = 31 * h + (0xD800 + (cp >> 10));
            h = 31 * h + (0xDC00 + (cp & 0x3FF));
        } else {
            h = 31 * h + cp;
        }
    }
    return h;
}

/* nsp.rel, or rel alone when nsp is NULL. */
static sch_txm_coll *
coll_get(sch_txm *t, const char *nsp, const char *rel)
{
    size_t        n = (nsp ? strlen(nsp) + 1 : 0) + strlen(rel) + 1, need = 16;
    char         *name = cdc_xmalloc(n);
    sch_txm_coll *c;

    snprintf(name, n, "%s%s%s", nsp ? nsp : "", nsp ? "." : "", rel);
    for (size_t i = 0; i < t->ncolls; i++)
        if (strcmp(t->colls[i].name, name) == 0) {
            free(name);
            return &t->colls[i];
        }
    if (t->ncolls == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 8;
        t->colls = cdc_xrealloc(t->colls, t->cap * sizeof(*t->colls));
    }
    c = &t->colls[t->ncolls++];
    *c = (sch_txm_coll) { .name = name, .hash = java_hash(name) };
    /* HashMap doubles its table (16 at first) once it holds more than 3/4 of
       it, and clear() keeps the table: the capacity only grows. */
    while (t->ncolls * 4 > need * 3)
        need *= 2;
    if (need > t->hash_cap)
        t->hash_cap = need;
    return c;
}

const cdc_tx_block *
sch_txm_count(sch_txm *t, const cdc_event *ev)
{
    sch_txm_coll *c;

    switch (ev->op) {
    case CDC_OP_CREATE:
    case CDC_OP_UPDATE:
    case CDC_OP_DELETE:
    case CDC_OP_TRUNCATE:
        if (ev->rel == NULL)
            return NULL;
        break;
    case CDC_OP_MESSAGE:
        if (!t->count_messages)
            return NULL;
        break;
    default:
        return NULL;
    }
    if (!sch_txm_applies(ev))
        return NULL;
    if (t->have_last && cdc_pos_cmp(t->last, ev->pos) == 0)
        return &t->block;
    if (ev->op == CDC_OP_MESSAGE) {
        char     name[sizeof(SCH_TXM_MESSAGE_ID) + 8];
        uint32_t ih;

        if (t->rng == 0)
            t->rng = cdc_rng_seed() | 1;
        ih = (uint32_t) (cdc_rng_next(&t->rng) & 0x7FFFFFFF);
        snprintf(name, sizeof(name), "%s%" PRIx32, SCH_TXM_MESSAGE_ID, ih ? ih : 1u);
        c = coll_get(t, NULL, name);
    } else {
        c = coll_get(t, ev->rel->nspname, ev->rel->relname);
    }
    c->count++;
    t->total++;
    sch_txm_id(t->block.id, sizeof(t->block.id), ev->txn->xid, ev->lsn);
    t->block.total_order = t->total;
    t->block.data_collection_order = c->count;
    t->last = ev->pos;
    t->have_last = true;
    return &t->block;
}

void
sch_txm_id(char *out, size_t outsz, uint32_t xid, uint64_t lsn)
{
    snprintf(out, outsz, "%" PRIu32 ":%" PRIu64, xid, lsn);
}

/* Java HashMap's bucket for a String key at capacity cap. */
static size_t
bucket(uint32_t h, size_t cap)
{
    return (size_t) (h ^ (h >> 16)) & (cap - 1);
}

/*
 * The order Debezium lists data_collections in: its counts live in a
 * java.util.HashMap, whose iteration goes by bucket, then by insertion
 * within a bucket (a resize keeps that order).  Buckets that would turn
 * into trees (9 names in one) are not modelled.
 */
static size_t *
coll_order(const sch_txm *t)
{
    size_t *ix = cdc_xcalloc(t->ncolls ? t->ncolls : 1, sizeof(*ix));
    size_t  cap = t->hash_cap ? t->hash_cap : 16;

    for (size_t i = 0; i < t->ncolls; i++) {
        size_t j = i;

        /* insertion sort by bucket; stable, so insertion order within one */
        while (j > 0 && bucket(t->colls[ix[j - 1]].hash, cap) > bucket(t->colls[i].hash, cap)) {
            ix[j] = ix[j - 1];
            j--;
        }
        ix[j] = i;
    }
    return ix;
}

/* ---- JsonConverter ---------------------------------------------------- */

#define KTX_NS "io.debezium.connector.common"

void
sch_txm_json(cdc_buf *kbuf, cdc_buf *vbuf, const sch_txm *t, bool end, const char *id,
             int64_t ts_ms, bool schemas_enable)
{
    if (schemas_enable)
        cdc_buf_puts(kbuf, "{\"schema\":{\"type\":\"struct\",\"fields\":[{\"type\":\"string\","
                     "\"optional\":false,\"field\":\"id\"}],\"optional\":false,\"name\":\""
                     KTX_NS ".TransactionMetadataKey\",\"version\":1},\"payload\":");
    cdc_buf_puts(kbuf, "{\"id\":");
    sch_json_put_string(kbuf, id, strlen(id));
    cdc_buf_puts(kbuf, schemas_enable ? "}}" : "}");

    if (schemas_enable)
        cdc_buf_puts(vbuf, "{\"schema\":{\"type\":\"struct\",\"fields\":["
                     "{\"type\":\"string\",\"optional\":false,\"field\":\"status\"},"
                     "{\"type\":\"string\",\"optional\":false,\"field\":\"id\"},"
                     "{\"type\":\"int64\",\"optional\":true,\"field\":\"event_count\"},"
                     "{\"type\":\"array\",\"items\":{\"type\":\"struct\",\"fields\":["
                     "{\"type\":\"string\",\"optional\":false,\"field\":\"data_collection\"},"
                     "{\"type\":\"int64\",\"optional\":false,\"field\":\"event_count\"}],"
                     "\"optional\":true,\"name\":\"event.collection\",\"version\":1},"
                     "\"optional\":true,\"field\":\"data_collections\"},"
                     "{\"type\":\"int64\",\"optional\":false,\"field\":\"ts_ms\"}],"
                     "\"optional\":false,\"name\":\"" KTX_NS ".TransactionMetadataValue\","
                     "\"version\":1},\"payload\":");
    cdc_buf_puts(vbuf, end ? "{\"status\":\"END\",\"id\":" : "{\"status\":\"BEGIN\",\"id\":");
    sch_json_put_string(vbuf, id, strlen(id));
    if (end) {
        size_t *ix = coll_order(t);

        cdc_buf_printf(vbuf, ",\"event_count\":%" PRId64 ",\"data_collections\":[", t->total);
        for (size_t i = 0; i < t->ncolls; i++) {
            const sch_txm_coll *c = &t->colls[ix[i]];

            cdc_buf_puts(vbuf, i ? ",{\"data_collection\":" : "{\"data_collection\":");
            sch_json_put_string(vbuf, c->name, strlen(c->name));
            cdc_buf_printf(vbuf, ",\"event_count\":%" PRId64 "}", c->count);
        }
        cdc_buf_putc(vbuf, ']');
        free(ix);
    } else {
        cdc_buf_puts(vbuf, ",\"event_count\":null,\"data_collections\":null");
    }
    cdc_buf_printf(vbuf, ",\"ts_ms\":%" PRId64 "}", ts_ms);
    if (schemas_enable)
        cdc_buf_putc(vbuf, '}');
}

/* ---- Avro ------------------------------------------------------------- */

/* AvroConverter: an optional Connect field is a ["null", T] union with default null; the
   array's items are optional structs, so they are unions too. */
const char sch_txm_avro_key_schema[] =
    "{\"type\":\"record\",\"name\":\"TransactionMetadataKey\",\"namespace\":\"" KTX_NS "\","
    "\"fields\":[{\"name\":\"id\",\"type\":\"string\"}],"
    "\"connect.version\":1,\"connect.name\":\"" KTX_NS ".TransactionMetadataKey\"}";
const char sch_txm_avro_value_schema[] =
    "{\"type\":\"record\",\"name\":\"TransactionMetadataValue\",\"namespace\":\"" KTX_NS "\","
    "\"fields\":[{\"name\":\"status\",\"type\":\"string\"},{\"name\":\"id\",\"type\":\"string\"},"
    "{\"name\":\"event_count\",\"type\":[\"null\",\"long\"],\"default\":null},"
    "{\"name\":\"data_collections\",\"type\":[\"null\",{\"type\":\"array\",\"items\":[\"null\","
    "{\"type\":\"record\",\"name\":\"collection\",\"namespace\":\"event\",\"fields\":["
    "{\"name\":\"data_collection\",\"type\":\"string\"},{\"name\":\"event_count\","
    "\"type\":\"long\"}],\"connect.version\":1,\"connect.name\":\"event.collection\"}]}],"
    "\"default\":null},{\"name\":\"ts_ms\",\"type\":\"long\"}],"
    "\"connect.version\":1,\"connect.name\":\"" KTX_NS ".TransactionMetadataValue\"}";

static void
avro_string(cdc_buf *b, const char *s)
{
    size_t n = strlen(s);

    sch_avro_reg_put_long(b, (int64_t) n);
    cdc_buf_put(b, s, n);
}

void
sch_txm_avro(cdc_buf *kbuf, cdc_buf *vbuf, const sch_txm *t, bool end, const char *id,
             int64_t ts_ms, uint32_t key_id, uint32_t value_id)
{
    cdc_buf_put_u8(kbuf, 0);
    cdc_buf_put_u32be(kbuf, key_id);
    avro_string(kbuf, id);

    cdc_buf_put_u8(vbuf, 0);
    cdc_buf_put_u32be(vbuf, value_id);
    avro_string(vbuf, end ? "END" : "BEGIN");
    avro_string(vbuf, id);
    if (end) {
        size_t *ix = coll_order(t);

        sch_avro_reg_put_long(vbuf, 1);                   /* event_count: the long branch */
        sch_avro_reg_put_long(vbuf, t->total);
        sch_avro_reg_put_long(vbuf, 1);                   /* data_collections: the array branch */
        if (t->ncolls > 0) {
            sch_avro_reg_put_long(vbuf, (int64_t) t->ncolls);
            for (size_t i = 0; i < t->ncolls; i++) {
                sch_avro_reg_put_long(vbuf, 1);           /* the item: the record branch */
                avro_string(vbuf, t->colls[ix[i]].name);
                sch_avro_reg_put_long(vbuf, t->colls[ix[i]].count);
            }
        }
        sch_avro_reg_put_long(vbuf, 0);                   /* end of the array */
        free(ix);
    } else {
        sch_avro_reg_put_long(vbuf, 0);                   /* event_count: null */
        sch_avro_reg_put_long(vbuf, 0);                   /* data_collections: null */
    }
    sch_avro_reg_put_long(vbuf, ts_ms);
}

void
sch_txm_free(sch_txm *t)
{
    for (size_t i = 0; i < t->ncolls; i++)
        free(t->colls[i].name);
    free(t->colls);
    memset(t, 0, sizeof(*t));
}

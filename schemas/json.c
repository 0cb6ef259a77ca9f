/*
 * Debezium events as Kafka Connect's JsonConverter writes them, appended
 * straight into a cdc_buf: no JSON tree, no printf for integers.  This file
 * holds the payloads (key, Envelope, MessageValue, source block);
 * json_value.c writes each value (strings, numbers, bytes) and json_schema.c
 * the schema nodes that schemas.enable=true adds.
 *
 * What is copied, and from where (see docs/debezium-compat.md for more):
 * - JsonConverter.convertToJson (apache/kafka connect/json): integers as
 *   numbers, BYTES (bytea, Decimal, Bits) as base64, structs as objects in
 *   field order, a null field replaced by its schema default when
 *   replace.null.with.default is on (CONTRACT.md 3.5).
 * - Jackson's generator (FasterXML/jackson-core, WriterBasedJsonGenerator /
 *   UTF8JsonGenerator.writeNumber): a FLOAT64 goes through Double.toString,
 *   a FLOAT32 through Float.toString (it is not widened), and NaN/Infinity
 *   are written as the JSON *strings* "NaN", "Infinity", "-Infinity"
 *   (QUOTE_NON_NUMERIC_NUMBERS is on by default).  String escapes follow
 *   Jackson's table: \" \\ \b \t \n \f \r, other controls as \u00XX with
 *   upper-case hex, nothing else escaped (not '/', not U+2028) except
 *   characters outside the BMP, which UTF8JsonGenerator writes as their two
 *   UTF-16 surrogates escaped ("\uD83D\uDE00"); other non-ASCII stays raw
 *   UTF-8.
 * - Debezium's UnchangedToastedPlaceholder for unchanged TOAST values
 *   (CONTRACT.md 4.6).
 */
#include "schemas/json.h"

#include <inttypes.h>
#include <string.h>

#include "agent/core/cdc_mem.h"
#include "schemas/avro.h"
#include "schemas/debezium.h"
#include "schemas/json_int.h"
#include "schemas/topic.h"

#define JSON_VERSION_DEFAULT     "2.7.3.Final"
#define JSON_PLACEHOLDER_DEFAULT "__debezium_unavailable_value"
/* UUID.nameUUIDFromBytes("__debezium_unavailable_value"): what Debezium puts
   into a uuid[] whose TOAST value was not sent. */
#define JSON_PLACEHOLDER_UUID "b68a35a7-17ad-35b3-af2a-ae46edb4545a"

void
sch_json_opts_default(sch_json_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->version = JSON_VERSION_DEFAULT;
    /* JsonConverter's own default is schemas.enable=true; the agent's config
       sets this explicitly.  Payload-only is the cheaper default here. */
    o->schemas_enable = false;
    o->replace_null_with_default = true;
    o->unavailable_placeholder = JSON_PLACEHOLDER_DEFAULT;
}

void
sch_json_opts_for(sch_json_opts *o, const void *given, const char *prefix,
                  const char *database, char **owned)
{
    if (given) {
        *o = *(const sch_json_opts *) given;
        return;
    }
    sch_json_opts_default(o);
    *owned = cdc_xstrdup(database ? database : "");
    o->server_name = prefix;
    o->database = *owned;
}

static void
put_cstr(cdc_buf *b, const char *s)
{
    sch_json_put_string(b, s ? s : "", s ? strlen(s) : 0);
}

static void
put_ts_ns(cdc_buf *b, int64_t us)
{
    if (sch_dbz_ns_fits(us))
        cdc_buf_put_i64(b, us * 1000);
    else
        cdc_buf_puts(b, "null");
}

/* The event's ts_ms, ts_us and ts_ns; the last text per thread is kept, as the
   rows of a snapshot share their time (cdc_wall_us_bulk) in runs. */
static void
put_timestamps(cdc_buf *b, int64_t us)
{
    static _Thread_local struct { bool set; int64_t us; size_t len; char text[96]; } last;
    size_t start = b->len;

    if (last.set && last.us == us) {
        cdc_buf_put(b, last.text, last.len);
        return;
    }
    cdc_buf_puts(b, "\"ts_ms\":");
    cdc_buf_put_i64(b, cdc_us_to_ms(us));
    cdc_buf_puts(b, ",\"ts_us\":");
    cdc_buf_put_i64(b, us);
    cdc_buf_puts(b, ",\"ts_ns\":");
    put_ts_ns(b, us);
    /* kept only when no drain can have emptied the buffer meanwhile (at most 86 bytes) */
    last.set = false;
    if (!b->failed && (b->drain == NULL || start + sizeof(last.text) <= b->drain_at) &&
        b->len - start <= sizeof(last.text)) {
        last.len = b->len - start;
        memcpy(last.text, b->data + start, last.len);
        last.us = us;
        last.set = true;
    }
}

/* ------------------------------------------------------------------ */
/* Values                                                              */
/* ------------------------------------------------------------------ */

/*
 * An unchanged TOAST value that the old tuple could not supply
 * (UnchangedToastedPlaceholder, CONTRACT.md 4.6): strings (text, json, xml,
 * hstore-as-json, ...) get the placeholder, BYTES its bytes (this includes
 * Decimal and Bits, whose Debezium placeholder is unverified), text-like
 * arrays [placeholder], int arrays the placeholder's byte values, uuid[]
 * the name-based UUID of the placeholder.  Anything else (a numeric without
 * typmod, arrays of other types) is written as null: a string there would
 * not fit the field's schema.
 */
static void
put_unavailable(cdc_buf *b, const cdc_ctype *ct, const sch_json_opts *o)
{
    const char *ph = o->unavailable_placeholder ? o->unavailable_placeholder
                                                : JSON_PLACEHOLDER_DEFAULT;
    size_t      n = strlen(ph);

    switch ((cdc_ctkind) ct->kind) {
    case CDC_CT_STRING:
        sch_json_put_string(b, ph, n);
        return;
    case CDC_CT_BYTES:
        sch_json_put_base64(b, ph, n);
        return;
    case CDC_CT_ARRAY:
        if (ct->elem_kind == CDC_CT_STRING) {
            cdc_buf_putc(b, '[');
            if (ct->elem_sem == CDC_SEM_UUID && strcmp(ph, JSON_PLACEHOLDER_DEFAULT) == 0)
                cdc_buf_puts(b, "\"" JSON_PLACEHOLDER_UUID "\"");
            else
                sch_json_put_string(b, ph, n);
            cdc_buf_putc(b, ']');
            return;
        }
        if (ct->elem_kind == CDC_CT_INT16 || ct->elem_kind == CDC_CT_INT32 ||
            ct->elem_kind == CDC_CT_INT64) {
            cdc_buf_putc(b, '[');
            for (size_t i = 0; i < n; i++) {
                if (i > 0)
                    cdc_buf_putc(b, ',');
                cdc_buf_put_i64(b, (signed char) ph[i]);    /* Java bytes are signed */
            }
            cdc_buf_putc(b, ']');
            return;
        }
        break;
    default:
        break;
    }
    cdc_buf_puts(b, "null");
}

/*
 * The value Debezium puts into a required field that has no value and no
 * default (a NOT NULL column missing from a key-only old tuple):
 * JdbcValueConverters' per-type fallback.  Only the common shapes are
 * reproduced; the rest is null.
 */
static void
put_fallback(cdc_buf *b, const cdc_ctype *ct)
{
    static const uint8_t zero = 0;

    switch ((cdc_ctkind) ct->kind) {
    case CDC_CT_BOOLEAN:
        cdc_buf_puts(b, "false");
        return;
    case CDC_CT_INT8:
    case CDC_CT_INT16:
    case CDC_CT_INT32:
    case CDC_CT_INT64:
        cdc_buf_putc(b, '0');
        return;
    case CDC_CT_FLOAT32:
    case CDC_CT_FLOAT64:
        cdc_buf_puts(b, "0.0");
        return;
    case CDC_CT_STRING:
        if (ct->sem == CDC_SEM_ZONED_TIMESTAMP) {
            cdc_buf_puts(b, "\"1970-01-01T00:00:00");
            if (ct->length > 0) {
                cdc_buf_putc(b, '.');
                for (int i = 0; i < ct->length && i < 9; i++)
                    cdc_buf_putc(b, '0');
            }
            cdc_buf_puts(b, "Z\"");
        } else if (ct->sem == CDC_SEM_ZONED_TIME) {
            cdc_buf_puts(b, "\"00:00:00Z\"");
        } else {
            cdc_buf_puts(b, "\"\"");
        }
        return;
    case CDC_CT_BYTES:
        sch_json_put_base64(b, &zero, ct->sem == CDC_SEM_DECIMAL ? 1 : 0);
        return;
    case CDC_CT_ARRAY:
        cdc_buf_puts(b, "[]");
        return;
    default:
        cdc_buf_puts(b, "null");
        return;
    }
}

static void
put_col_value(cdc_buf *b, const cdc_col *col, const cdc_value *v, const sch_json_opts *o)
{
    switch ((cdc_vstate) v->state) {
    case CDC_VAL_PRESENT:
        sch_json_put_present(b, &col->ctype, v, o);
        return;
    case CDC_VAL_UNCHANGED:
        put_unavailable(b, &col->ctype, o);
        return;
    case CDC_VAL_NULL:
    default:
        break;
    }
    /* A required field holds its default (or fallback) already in
       Debezium's Struct, whatever the converter's replace option says. */
    if (col->has_default && (o->replace_null_with_default || col->not_null))
        sch_json_put_present(b, &col->ctype, &col->def, o);
    else if (col->not_null)
        put_fallback(b, &col->ctype);
    else
        cdc_buf_puts(b, "null");
}

/* The {topic}.Value struct: every supported column, in ordinal order. */
static void
put_row(cdc_buf *b, const cdc_rel *rel, const cdc_value *vals, const sch_json_opts *o,
        bool streamed)
{
    bool first = true, xesc;

    if (vals == NULL) {
        cdc_buf_puts(b, "null");
        return;
    }
    xesc = sch_json_names_xesc(rel);     /* after the null: a read or insert has no before */
    cdc_buf_putc(b, '{');
    for (int i = 0; i < rel->ncols; i++) {
        const cdc_col *col = &rel->cols[i];

        if (!col->ctype.supported)
            continue;
        if (!first)
            cdc_buf_putc(b, ',');
        first = false;
        sch_json_put_name(b, col->name, xesc, o);
        /*
         * Debezium 2.7 writes null for every streamed `name` column (its pgoutput
         * value resolver has no case for the type); its snapshot has the text.
         * Seen in test/integration/250_debezium_reference.sh.
         */
        if (streamed && (col->catalog_known ? col->base_oid : col->type_oid) == 19)
            cdc_buf_puts(b, "null");
        else
            put_col_value(b, col, &vals[i], o);
    }
    cdc_buf_putc(b, '}');
}

/* ------------------------------------------------------------------ */
/* Key                                                                 */
/* ------------------------------------------------------------------ */

static const char *
json_topic(const cdc_rel *rel, const sch_json_opts *o, char *tmp, size_t n)
{
    if (rel->topic)
        return rel->topic;
    return sch_topic_name(o->server_name, rel->nspname, rel->relname, tmp, n);
}

/* Key columns in key_pos order. */
static void
put_key_payload(cdc_buf *b, const cdc_rel *rel, const cdc_value *vals, const sch_json_opts *o)
{
    bool xesc = sch_json_names_xesc(rel);

    cdc_buf_putc(b, '{');
    for (int k = 0, i, n = 0; (i = sch_dbz_key_next(rel, &k)) >= 0; n++) {
        if (n > 0)
            cdc_buf_putc(b, ',');
        sch_json_put_name(b, rel->cols[i].name, xesc, o);
        put_col_value(b, &rel->cols[i], &vals[i], o);
    }
    cdc_buf_putc(b, '}');
}

static void
put_message_key(cdc_buf *b, const cdc_event *ev, const sch_json_opts *o)
{
    if (o->schemas_enable) {
        cdc_buf_puts(b, "{\"schema\":");
        sch_json_schema_message_key(b);
        cdc_buf_puts(b, ",\"payload\":");
    }
    cdc_buf_puts(b, "{\"prefix\":");
    if (ev->msg_prefix)
        put_cstr(b, ev->msg_prefix);
    else
        cdc_buf_puts(b, "null");
    cdc_buf_putc(b, '}');
    if (o->schemas_enable)
        cdc_buf_putc(b, '}');
}

void
sch_json_key_schema(cdc_buf *b, const cdc_rel *rel, const sch_json_opts *o)
{
    char tmp[256];

    sch_json_schema_key(b, rel, json_topic(rel, o, tmp, sizeof(tmp)), o);
}

void
sch_json_value_schema(cdc_buf *b, const cdc_rel *rel, const sch_json_opts *o)
{
    char tmp[256];

    sch_json_schema_envelope(b, rel, json_topic(rel, o, tmp, sizeof(tmp)), o);
}

void
sch_json_key(cdc_buf *b, const cdc_event *ev, const sch_json_opts *o)
{
    const cdc_rel   *rel = ev->rel;
    const cdc_value *vals;
    char             tmp[256];

    if (ev->op == CDC_OP_MESSAGE) {
        put_message_key(b, ev, o);
        return;
    }
    vals = ev->key ? ev->key : ev->after ? ev->after : ev->before;
    /* A null key (and null key schema) is a null record key for
       JsonConverter, with or without schemas. */
    if (ev->op == CDC_OP_TRUNCATE || rel == NULL || rel->nkeys == 0 || vals == NULL) {
        cdc_buf_puts(b, "null");
        return;
    }
    if (o->schemas_enable) {
        cdc_buf_puts(b, "{\"schema\":");
        sch_json_schema_key(b, rel, json_topic(rel, o, tmp, sizeof(tmp)), o);
        cdc_buf_puts(b, ",\"payload\":");
    }
    put_key_payload(b, rel, vals, o);
    if (o->schemas_enable)
        cdc_buf_putc(b, '}');
}

/* ------------------------------------------------------------------ */
/* Value                                                               */
/* ------------------------------------------------------------------ */

/* source.sequence (debezium.c), itself written as a JSON string. */
static void
put_sequence(cdc_buf *b, const cdc_event *ev)
{
    char seq[SCH_DBZ_SEQUENCE_MAX];

    sch_json_put_string(b, seq, sch_dbz_sequence(ev, seq));
}

static void put_source_text(cdc_buf *b, const cdc_event *ev, const sch_json_opts *o,
                            const char *schema, const char *table);

/*
 * The source block of the last event written by this thread, with what it
 * was made of: the rows of a snapshot table (and the changes of one
 * transaction, but for their LSN) share it, and it was a fifth of a
 * snapshot row's CPU (docs/snapshots.md, Benchmark).  Fixed arrays, so that
 * a thread that ends leaves nothing allocated.
 */
enum { SRC_STRS_MAX = 100, SRC_TEXT_MAX = 1024 };
typedef struct src_memo {
    size_t   textlen;           /* 0: empty */
    uint64_t nums[6];
    uint16_t off[6];            /* where each string is in strs; 0xFFFF: NULL */
    char     strs[SRC_STRS_MAX];
    char     text[SRC_TEXT_MAX];
} src_memo;

/* What put_source_text writes depends on: numbers, and strings (NULL and "" differ). */
static void
src_parts(const cdc_event *ev, const sch_json_opts *o, const char *schema, const char *table,
          uint64_t nums[6], const char *strs[6])
{
    bool txid = sch_dbz_source_has_txid(ev), lsn = sch_dbz_source_has_lsn(ev);

    nums[0] = (uint64_t) ev->source_ts_us;
    nums[1] = txid ? ev->txn->xid : 0;
    nums[2] = (uint64_t) txid | (uint64_t) lsn << 1;
    nums[3] = (ev->txn && ev->snapshot == NULL) ? ev->txn->prev_commit_lsn : 0;
    nums[4] = ev->lsn;
    nums[5] = (uint64_t) o->profile;
    strs[0] = o->version;
    strs[1] = o->server_name;
    strs[2] = o->database;
    strs[3] = schema;
    strs[4] = table;
    strs[5] = ev->snapshot ? ev->snapshot : "false";
}

/* Does m hold the text of these parts?  One pass over each string. */
static bool
src_same(const src_memo *m, const uint64_t nums[6], const char *const strs[6])
{
    if (m->textlen == 0 || memcmp(m->nums, nums, sizeof(m->nums)) != 0)
        return false;
    for (int i = 0; i < 6; i++) {
        if ((strs[i] == NULL) != (m->off[i] == 0xFFFF))
            return false;
        if (strs[i] != NULL && strcmp(m->strs + m->off[i], strs[i]) != 0)
            return false;
    }
    return true;
}

/* Keeps the parts in m; false when the strings are too long to keep. */
static bool
src_keep(src_memo *m, const uint64_t nums[6], const char *const strs[6])
{
    size_t n = 0;

    for (int i = 0; i < 6; i++) {
        size_t len = strs[i] ? strlen(strs[i]) + 1 : 0;

        if (n + len > SRC_STRS_MAX)
            return false;
        m->off[i] = strs[i] ? (uint16_t) n : 0xFFFF;
        if (len)
            memcpy(m->strs + n, strs[i], len);
        n += len;
    }
    memcpy(m->nums, nums, sizeof(m->nums));
    return true;
}

static void
put_source(cdc_buf *b, const cdc_event *ev, const sch_json_opts *o, const char *schema,
           const char *table)
{
    static _Thread_local src_memo memo;
    uint64_t                      nums[6];
    const char                   *strs[6];
    size_t                        start = b->len;
    bool                          keep;

    src_parts(ev, o, schema, table, nums, strs);
    if (src_same(&memo, nums, strs)) {
        cdc_buf_put(b, memo.text, memo.textlen);
        return;
    }
    /* kept only when no drain can empty the buffer while it is written: the strings
       (at most SRC_STRS_MAX bytes) escape to at most 600, the rest is under 400 */
    memo.textlen = 0;
    keep = (b->drain == NULL || start + SRC_TEXT_MAX <= b->drain_at) &&
           src_keep(&memo, nums, strs);
    put_source_text(b, ev, o, schema, table);
    if (!keep || b->failed || b->len <= start || b->len - start > SRC_TEXT_MAX)
        return;
    memcpy(memo.text, b->data + start, b->len - start);
    memo.textlen = b->len - start;
}

static void
put_source_text(cdc_buf *b, const cdc_event *ev, const sch_json_opts *o, const char *schema,
                const char *table)
{
    cdc_buf_puts(b, "{\"version\":");
    put_cstr(b, o->version);
    cdc_buf_puts(b, ",\"connector\":\"postgresql\",\"name\":");
    put_cstr(b, o->server_name);
    cdc_buf_puts(b, ",\"ts_ms\":");
    cdc_buf_put_i64(b, cdc_us_to_ms(ev->source_ts_us));
    cdc_buf_puts(b, ",\"snapshot\":");
    put_cstr(b, ev->snapshot ? ev->snapshot : "false");
    cdc_buf_puts(b, ",\"db\":");
    put_cstr(b, o->database);
    cdc_buf_puts(b, ",\"sequence\":");
    put_sequence(b, ev);
    cdc_buf_puts(b, ",\"ts_us\":");
    cdc_buf_put_i64(b, ev->source_ts_us);
    cdc_buf_puts(b, ",\"ts_ns\":");
    put_ts_ns(b, ev->source_ts_us);
    cdc_buf_puts(b, ",\"schema\":");
    put_cstr(b, schema);
    cdc_buf_puts(b, ",\"table\":");
    put_cstr(b, table);
    cdc_buf_puts(b, ",\"txId\":");
    if (sch_dbz_source_has_txid(ev))
        cdc_buf_put_u64(b, ev->txn->xid);
    else
        cdc_buf_puts(b, "null");
    cdc_buf_puts(b, ",\"lsn\":");
    if (sch_dbz_source_has_lsn(ev))
        cdc_buf_put_u64(b, ev->lsn);
    else
        cdc_buf_puts(b, "null");
    cdc_buf_puts(b, ",\"xmin\":null");
    /* 3.5+: the replication origin of the change; the agent's decoder keeps none (and
       Debezium writes null for a change made without one). */
    if (sch_dbz_profile_shape((sch_avro_profile) o->profile).origin)
        cdc_buf_puts(b, ",\"origin\":null,\"origin_lsn\":null");
    cdc_buf_putc(b, '}');
}

static void put_tx_block(cdc_buf *b, const cdc_tx_block *t);

/*
 * MessageValue: op, ts_ms, source, (transaction,) message.  CONTRACT.md 2.6
 * lists a transaction block; Debezium 2.7.4's records have none, 3.6.1's
 * have it (sch_dbz_shape.message_tx).
 */
static void
put_message_value(cdc_buf *b, const cdc_event *ev, const sch_json_opts *o, int64_t now_us)
{
    if (o->schemas_enable) {
        cdc_buf_puts(b, "{\"schema\":");
        sch_json_schema_message_value(b, o);
        cdc_buf_puts(b, ",\"payload\":");
    }
    cdc_buf_puts(b, "{\"op\":\"m\",\"ts_ms\":");
    cdc_buf_put_i64(b, cdc_us_to_ms(now_us));
    cdc_buf_puts(b, ",\"source\":");
    put_source(b, ev, o, "", "");
    if (sch_dbz_profile_shape((sch_avro_profile) o->profile).message_tx) {
        cdc_buf_puts(b, ",\"transaction\":");
        put_tx_block(b, ev->tx_block);
    }
    cdc_buf_puts(b, ",\"message\":{\"prefix\":");
    if (ev->msg_prefix)
        put_cstr(b, ev->msg_prefix);
    else
        cdc_buf_puts(b, "null");
    cdc_buf_puts(b, ",\"content\":");
    if (ev->msg_content || ev->msg_len == 0)
        sch_json_put_base64(b, ev->msg_content, ev->msg_len);
    else
        cdc_buf_puts(b, "null");
    cdc_buf_puts(b, "}}");
    if (o->schemas_enable)
        cdc_buf_putc(b, '}');
}

/* The envelope's "transaction" (struct event.block), or null. */
static void
put_tx_block(cdc_buf *b, const cdc_tx_block *t)
{
    if (t == NULL) {
        cdc_buf_puts(b, "null");
        return;
    }
    cdc_buf_puts(b, "{\"id\":");
    sch_json_put_string(b, t->id, strlen(t->id));
    cdc_buf_printf(b, ",\"total_order\":%" PRId64 ",\"data_collection_order\":%" PRId64 "}",
                   t->total_order, t->data_collection_order);
}

void
sch_json_value(cdc_buf *b, const cdc_event *ev, const sch_json_opts *o, int64_t now_us)
{
    const cdc_rel *rel = ev->rel;
    char           tmp[256];
    char           op[] = "\"c\"";

    if (ev->op == CDC_OP_MESSAGE) {
        put_message_value(b, ev, o, now_us);
        return;
    }
    if (ev->op == CDC_OP_TOMBSTONE || rel == NULL) {
        cdc_buf_puts(b, "null");
        return;
    }
    if (o->schemas_enable) {
        cdc_buf_puts(b, "{\"schema\":");
        sch_json_schema_envelope(b, rel, json_topic(rel, o, tmp, sizeof(tmp)), o);
        cdc_buf_puts(b, ",\"payload\":");
    }
    /* 2.7 order: before, after, source, transaction, op, ts_ms, ts_us, ts_ns */
    cdc_buf_puts(b, "{\"before\":");
    put_row(b, rel, ev->op == CDC_OP_TRUNCATE ? NULL : ev->before, o, ev->snapshot == NULL);
    cdc_buf_puts(b, ",\"after\":");
    put_row(b, rel, ev->op == CDC_OP_TRUNCATE ? NULL : ev->after, o, ev->snapshot == NULL);
    cdc_buf_puts(b, ",\"source\":");
    put_source(b, ev, o, rel->nspname, rel->relname);
    cdc_buf_puts(b, ",\"transaction\":");
    put_tx_block(b, ev->tx_block);
    cdc_buf_puts(b, ",\"op\":");
    op[1] = (char) ev->op;
    cdc_buf_puts(b, op);
    cdc_buf_putc(b, ',');
    put_timestamps(b, now_us);
    cdc_buf_putc(b, '}');
    if (o->schemas_enable)
        cdc_buf_putc(b, '}');
}

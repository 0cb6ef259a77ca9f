/*
 * The replica's dead-letter record made only when a row is refused.
 *
 * sch_record_put() needs the event, its relation and its transaction, all
 * borrowed: the relation cache frees a relation's description at once when
 * its table changes (decoder/relcache.c), so nothing of the event may be
 * kept past pg_write.  pg_evcopy_new() copies what the encoder can read
 * into one allocation: the relation with every column (names, catalog
 * facts, type descriptors, defaults), the rows' values (strings, bytes and
 * array items included), the transaction, the transaction block and the
 * snapshot marker, and the wall-clock time the record's ts_ms would have
 * had.  pg_evcopy_record() then appends the same bytes sch_record_put()
 * wrote at pg_write time.  A copy is one size pass and one copy pass over
 * the same walk, so it is a single malloc (far cheaper than the JSON).
 */
#include <stdalign.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "agent/core/cdc_buf.h"
#include "agent/core/cdc_mem.h"
#include "schemas/record.h"
#include "sinks/postgres/pg_int.h"

struct pg_evcopy {
    cdc_event ev;
    int64_t   now_us;
};

/* A bump allocator over one block; base NULL: only counts. */
typedef struct ec_arena {
    char  *base;
    size_t off;
} ec_arena;

static void *
ec_take(ec_arena *a, size_t n, size_t align)
{
    void *p;

    a->off = (a->off + align - 1) & ~(align - 1);
    p = a->base ? a->base + a->off : NULL;
    a->off += n;
    return p;
}

static const void *
ec_bytes(ec_arena *a, const void *s, size_t n)
{
    void *d;

    if (s == NULL)
        return NULL;
    d = ec_take(a, n, 1);
    if (d && n)
        memcpy(d, s, n);
    return d;
}

static char *
ec_str(ec_arena *a, const char *s)
{
    return s ? (char *) ec_bytes(a, s, strlen(s) + 1) : NULL;
}

static void ec_value(ec_arena *a, const cdc_ctype *ct, const cdc_value *v, cdc_value *d);

/* n values presented as ct (each copied into d[i] when copying). */
static cdc_value *
ec_values_as(ec_arena *a, const cdc_ctype *ct, const cdc_value *v, size_t n)
{
    cdc_value *d = ec_take(a, n * sizeof(cdc_value), alignof(cdc_value));

    for (size_t i = 0; i < n; i++)
        ec_value(a, ct, &v[i], d ? &d[i] : NULL);
    return d;
}

/* The pointers of a value are what its presentation (json_value.c) reads. */
static void
ec_value(ec_arena *a, const cdc_ctype *ct, const cdc_value *v, cdc_value *d)
{
    if (d)
        *d = *v;
    if (v->state != CDC_VAL_PRESENT)
        return;
    switch ((cdc_ctkind) ct->kind) {
    case CDC_CT_STRING:
    case CDC_CT_BYTES:
    case CDC_CT_STRUCT: {   /* VARIABLE_DECIMAL: s; POINT: pt (s.p is then not a pointer) */
        const void *p;

        if (ct->kind == CDC_CT_STRUCT && ct->sem != CDC_SEM_VARIABLE_DECIMAL)
            break;
        p = ec_bytes(a, v->u.s.p, v->u.s.n);
        if (d)
            d->u.s.p = p;
        break;
    }
    case CDC_CT_ARRAY: {
        cdc_ctype  e = cdc_ctype_elem(ct);
        cdc_value *items = v->u.arr.items ? ec_values_as(a, &e, v->u.arr.items, v->u.arr.n)
                                          : NULL;

        if (d)
            d->u.arr.items = items;
        break;
    }
    default:
        break;
    }
}

/* A row of rel->ncols values, each presented as its column. */
static const cdc_value *
ec_row(ec_arena *a, const cdc_rel *rel, const cdc_value *v)
{
    cdc_value *d;

    if (v == NULL)
        return NULL;
    d = ec_take(a, (size_t) rel->ncols * sizeof(cdc_value), alignof(cdc_value));
    for (int i = 0; i < rel->ncols; i++)
        ec_value(a, &rel->cols[i].ctype, &v[i], d ? &d[i] : NULL);
    return d;
}

/* A string field of column c copied into d (when copying). */
#define EC_STR(field) do { \
        char *s_ = ec_str(a, c->field); \
        if (d) \
            d->field = s_; \
    } while (0)

static const cdc_rel *
ec_rel(ec_arena *a, const cdc_rel *rel)
{
    cdc_rel *r = ec_take(a, sizeof(*r), alignof(cdc_rel));
    cdc_col *cols = ec_take(a, (size_t) rel->ncols * sizeof(cdc_col), alignof(cdc_col));
    char    *nsp = ec_str(a, rel->nspname), *name = ec_str(a, rel->relname);
    char    *topic = ec_str(a, rel->topic);

    if (r) {
        *r = *rel;
        r->cols = cols;
        r->nspname = nsp;
        r->relname = name;
        r->topic = topic;
        memcpy(cols, rel->cols, (size_t) rel->ncols * sizeof(cdc_col));
    }
    for (int i = 0; i < rel->ncols; i++) {
        const cdc_col *c = &rel->cols[i];
        cdc_col       *d = cols ? &cols[i] : NULL;

        EC_STR(name);
        EC_STR(type_name);
        EC_STR(typname);
        EC_STR(enum_labels);
        EC_STR(default_expr);
        EC_STR(ctype.src_type);
        EC_STR(ctype.src_column);
        if (c->has_default)
            ec_value(a, &c->ctype, &c->def, d ? &d->def : NULL);
    }
    return r;
}

#undef EC_STR

/* Walks ev once: counts (a->base NULL) or copies into a->base. */
static void
ec_event(ec_arena *a, const cdc_event *ev, pg_evcopy *c)
{
    cdc_event  t = *ev;
    cdc_txn   *txn = NULL;
    cdc_tx_block *txb = NULL;

    if (ev->txn) {
        txn = ec_take(a, sizeof(*txn), alignof(cdc_txn));
        if (txn)
            *txn = *ev->txn;
    }
    if (ev->tx_block) {
        txb = ec_take(a, sizeof(*txb), alignof(cdc_tx_block));
        if (txb)
            *txb = *ev->tx_block;
    }
    t.txn = txn;
    t.tx_block = txb;
    t.snapshot = ec_str(a, ev->snapshot);
    t.msg_prefix = ec_str(a, ev->msg_prefix);
    t.msg_content = ec_bytes(a, ev->msg_content, ev->msg_len);
    if (ev->rel) {
        t.rel = ec_rel(a, ev->rel);
        t.before = ec_row(a, ev->rel, ev->before);
        t.after = ec_row(a, ev->rel, ev->after);
        /* the key is most often the after (or before) row itself */
        t.key = ev->key == ev->after ? t.after : ev->key == ev->before ? t.before
                                               : ec_row(a, ev->rel, ev->key);
    } else {    /* without a relation the encoder reads no row */
        t.before = t.after = t.key = NULL;
    }
    /* Kafka's key-change headers (schemas/message.c); the record has none */
    t.pk_change_newkey = t.pk_change_oldkey = NULL;
    if (c)
        c->ev = t;
}

pg_evcopy *
pg_evcopy_new(const cdc_event *ev, int64_t now_us)
{
    ec_arena   a = { NULL, sizeof(pg_evcopy) };
    pg_evcopy *c;

    ec_event(&a, ev, NULL);
    c = cdc_xmalloc(a.off);
    a = (ec_arena) { (char *) c, sizeof(pg_evcopy) };
    ec_event(&a, ev, c);
    c->now_us = now_us;
    return c;
}

void
pg_evcopy_record(cdc_buf *b, const pg_evcopy *c, const sch_json_opts *o, const char *topic)
{
    sch_record_put(b, &c->ev, o, topic, c->now_us, 0, NULL);
}

void
pg_evcopy_free(pg_evcopy *c)
{
    free(c);
}

/*
 * verify against an iceberg sink, the table's side: values in their
 * canonical form (each column's single-value serialization in hex) and
 * rendered for messages, and the table's live rows read into the state
 * (upsert, append, or a multiset without a key; see verify_iceberg.c).
 */
#include "agent/cmd/verify_int.h"
#include "agent/cmd/verify.h"
#include "agent/cmd/verify_iceberg_int.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/core/cdc_arena.h"
#include "agent/core/cdc_buf.h"
#include "agent/core/cdc_mem.h"
#include "agent/core/net/pgconn.h"
#include "agent/pipeline/dest_registry.h"
#include "agent/source/pg_source.h"
#include "decoder/pgtype.h"
#include "decoder/values.h"
#include "sinks/iceberg/ice_commit.h"
#include "sinks/iceberg/ice_open.h"
#include "sinks/iceberg/ice_scan.h"
#include "sinks/iceberg/ice_table.h"
#include "sinks/iceberg/ice_value.h"

/* ---------------------------------------------------------------- values */

static void
hex_put(cdc_buf *out, const uint8_t *p, size_t n)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        cdc_buf_putc(out, digits[p[i] >> 4]);
        cdc_buf_putc(out, digits[p[i] & 15]);
    }
}

char *
verify_ice_hex_of(const uint8_t *p, size_t n)
{
    cdc_buf b = CDC_BUF_INIT;
    char   *s;

    hex_put(&b, p, n);
    s = cdc_xstrdup(cdc_buf_str(&b));
    cdc_buf_free(&b);
    return s;
}

static int
hex_digit(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : 0;
}

/* n hex digits of h as bytes into out (reset first). */
static void
unhex(const char *h, size_t n, cdc_buf *out)
{
    cdc_buf_reset(out);
    for (size_t i = 0; i + 1 < n; i += 2)
        cdc_buf_putc(out, (char) (hex_digit(h[i]) << 4 | hex_digit(h[i + 1])));
}

/* Appends column i's canonical form of v to b. */
void
verify_ice_canon_put(cdc_buf *b, cdc_buf *tmp, int i, const ice_type *t, const ice_value *v)
{
    if (i > 0)
        cdc_buf_putc(b, ',');
    if (v->null) {
        cdc_buf_putc(b, '-');
        return;
    }
    cdc_buf_reset(tmp);
    ice_value_bound(tmp, t, v);
    hex_put(b, tmp->data, tmp->len);
}

/* A value read from the table as text, for the report (PostgreSQL's forms where simple). */
static json_t *
render_value(const ice_type *t, const ice_value *v)
{
    char    buf[64];
    cdc_buf b = CDC_BUF_INIT;
    json_t *j;

    if (v->null)
        return json_null();
    switch (t->kind) {
    case ICE_BOOLEAN:
        return json_string(v->b ? "t" : "f");
    case ICE_INT:
    case ICE_LONG:
        snprintf(buf, sizeof(buf), "%" PRId64, v->i);
        return json_string(buf);
    case ICE_STRING:
        return json_stringn((const char *) v->p, v->n);
    case ICE_UUID:
        if (v->n == 16) {
            const uint8_t *u = v->p;

            snprintf(buf, sizeof(buf), "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
                     "%02x%02x%02x%02x%02x%02x", u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7],
                     u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
            return json_string(buf);
        }
        break;
    case ICE_DECIMAL: {
        uint8_t d[16];
        size_t  n = ice_decimal_bytes(v->d, d);

        ice_decimal_text(d, n, t->scale, &b);
        j = json_string(cdc_buf_str(&b));
        cdc_buf_free(&b);
        return j;
    }
    case ICE_DATE: {
        time_t    secs = (time_t) v->i * 86400;
        struct tm tm;

        if (gmtime_r(&secs, &tm) && strftime(buf, sizeof(buf), "%Y-%m-%d", &tm) > 0)
            return json_string(buf);
        break;
    }
    default:
        break;
    }
    /* Anything else: its serialization, as hex. */
    ice_value_bound(&b, t, v);
    {
        char *h = verify_ice_hex_of(b.data, b.len);

        j = json_sprintf("0x%s", h);
        free(h);
    }
    cdc_buf_free(&b);
    return j;
}

/* A value of type t from its serialization (bytes), as render_value() shows it. */
static json_t *
render_bytes(const ice_type *t, const uint8_t *p, size_t n)
{
    ice_value iv = { 0 };
    cdc_err   e;

    if (ice_value_from_bound(t, p, n, &iv, &e) < 0) {
        char   *h = verify_ice_hex_of(p, n);
        json_t *j = json_sprintf("0x%s", h);

        free(h);
        return j;
    }
    return render_value(t, &iv);
}

/* The report's key object of a key in hex (ice_key_put's length-prefixed parts). */
json_t *
verify_ice_render_key(vtab *v, const char *kh)
{
    json_t *key = json_object();
    size_t  at = 0;

    unhex(kh, strlen(kh), &v->tmp);
    for (int i = 0; i < v->nkeys && at + 4 <= v->tmp.len; i++) {
        const uint8_t *p = v->tmp.data + at;
        size_t         n = (size_t) p[0] << 24 | (size_t) p[1] << 16 | (size_t) p[2] << 8 | p[3];

        if (at + 4 + n > v->tmp.len)
            break;
        json_object_set_new(key, v->rel->cols[v->cols[i].rc].name,
                            render_bytes(&v->cols[i].f->type, p + 4, n));
        at += 4 + n;
    }
    return key;
}

/* Column i's field of a canonical row: start and length. */
const char *
verify_ice_canon_field(const char *c, int i, size_t *n)
{
    for (; i > 0 && c; i--)
        if ((c = strchr(c, ',')) != NULL)
            c++;
    if (c == NULL) {
        *n = 0;
        return "";
    }
    *n = strcspn(c, ",");
    return c;
}

/* The report's text of a canonical row: "(1,two,)" (null empty). */
char *
verify_ice_render_row(vtab *v, const char *canon)
{
    cdc_buf b = CDC_BUF_INIT;
    cdc_buf bytes = CDC_BUF_INIT;
    char   *s;

    cdc_buf_putc(&b, '(');
    for (int i = 0; i < v->ncols; i++) {
        size_t      n;
        const char *f = verify_ice_canon_field(canon, i, &n);

        if (i > 0)
            cdc_buf_putc(&b, ',');
        if (n == 1 && (*f == '-' || *f == '!'))
            continue;
        unhex(f, n, &bytes);
        {
            json_t *j = render_bytes(&v->cols[i].f->type, bytes.data, bytes.len);

            if (json_is_string(j))
                cdc_buf_puts(&b, json_string_value(j));
            json_decref(j);
        }
    }
    cdc_buf_putc(&b, ')');
    s = cdc_xstrdup(cdc_buf_str(&b));
    cdc_buf_free(&b);
    cdc_buf_free(&bytes);
    return s;
}

/* ---------------------------------------------------------------- the table's rows */

/* The position this pipeline's newest snapshot recorded, walking back from the current one
   through its parents (a maintenance job's snapshot carries none); as the sink reads it. */
const char *
verify_ice_meta_position(const ice_meta *m, const char *pipeline_id)
{
    const ice_snapshot *s = ice_meta_current(m);

    for (int guard = 0; s != NULL && guard <= m->nsnapshots; guard++) {
        const char *pid = ice_snapshot_get(s, "cdc.pipeline");
        const char *pos = ice_snapshot_get(s, "cdc.position");
        int64_t     parent = s->parent_id;

        if (pid && pos && strcmp(pid, pipeline_id) == 0)
            return pos;
        s = NULL;
        for (int i = 0; i < m->nsnapshots && parent >= 0; i++)
            if (m->snapshots[i].id == parent)
                s = &m->snapshots[i];
    }
    return NULL;
}

/* Adds n (+1 or -1) copies of a canonical row to a multiset state. */
static void
multiset_add(json_t *state, const char *canon, json_int_t n)
{
    json_t *e = json_object_get(state, canon);

    if (e == NULL)
        json_object_set_new(state, canon, json_integer(n));
    else
        json_integer_set(e, json_integer_value(e) + n);
}

/* Append: the (_cdc_lsn, _cdc_offset, _cdc_op) of a row (metadata after the columns). */
static void
row_meta(const vtab *v, const ice_value *vals, int64_t *lsn, int64_t *off, char *op)
{
    const ice_value *m = &vals[v->ncols];

    *lsn = m[0].null ? 0 : m[0].i;
    *off = m[1].null ? 0 : m[1].i;
    *op = m[2].null || m[2].n == 0 ? '?' : (char) m[2].p[0];
}

/* A row written twice: counted and listed (key or row text). */
static void
duplicate(vtab *v, const char *kh, const char *canon, int64_t lsn, int64_t off, char op)
{
    char detail[160];

    v->dups++;
    v->t->keys_differing++;
    snprintf(detail, sizeof(detail), "duplicate row: _cdc_lsn %" PRId64 ", _cdc_offset %"
             PRId64 ", _cdc_op %c written twice", lsn, off, op);
    if (v->t->ndiffs >= VERIFY_MAX_DIFFS) {
        v->t->more = true;
        return;
    }
    verify_add_diff(v->t, VERIFY_EXTRA, kh ? verify_ice_render_key(v, kh) : NULL,
                    kh ? NULL : verify_ice_render_row(v, canon), cdc_xstrdup(detail));
}

/*
 * Append, a table without a key: a multiset of row images.  c and r add the
 * row, d removes its before image (the whole row: such a table needs REPLICA
 * IDENTITY FULL for deletes); u cannot be replayed (the row holds no before
 * image), so it is counted and the table is not compared.  Rows are applied
 * in any order: counts add up the same.
 */
static void
scan_row_multiset(vtab *v, const char *canon, int64_t lsn, int64_t off, char op)
{
    if (op == 'u') {
        v->updates++;
        return;
    }
    if (op != 'r') {
        /* A streamed change has its own offset: the same (lsn, offset, op) twice is a row
           written twice.  Snapshot rows share one position and may be equal rows. */
        char seen[100];

        snprintf(seen, sizeof(seen), "%" PRId64 ":%" PRId64 ":%c", lsn, off, op);
        if (json_object_get(v->seen, seen))
            duplicate(v, NULL, canon, lsn, off, op);
        else
            json_object_set_new(v->seen, seen, json_true());
    }
    multiset_add(v->state, canon, op == 'd' ? -1 : 1);
}

/* Orders key values vals (the key columns, key order) against bound j. */
static int
key_cmp(const vtab *v, const ice_value *vals, int j)
{
    for (int i = 0; i < v->nkeys; i++) {
        int c = ice_value_cmp(&v->cols[i].f->type, &vals[i], &v->rg->bv[j * v->nkeys + i]);

        if (c != 0)
            return c;
    }
    return 0;
}

/* Whether the key of vals is in the range being compared (a null key is: scan_row fails it). */
static bool
in_range(const vtab *v, const ice_value *vals)
{
    const vranges *rg = v->rg;

    for (int i = 0; i < v->nkeys; i++)
        if (vals[i].null)
            return true;
    return (rg->cur == 0 || key_cmp(v, vals, rg->cur - 1) > 0) &&
           (rg->cur == rg->nb || key_cmp(v, vals, rg->cur) <= 0);
}

int
verify_ice_scan_row(void *arg, const char *file, int64_t pos, const ice_value *vals, cdc_err *err)
{
    vtab       *v = arg;
    const char *canon;
    char       *kh;
    json_t     *e;
    int64_t     lsn = 0, off = 0;
    char        op = '?';

    if (v->rg != NULL && !in_range(v, vals))
        return 0;
    v->rows++;
    cdc_buf_reset(&v->cb);
    for (int i = 0; i < v->ncols; i++)
        verify_ice_canon_put(&v->cb, &v->tmp, i, &v->cols[i].f->type, &vals[i]);
    if (v->append)
        row_meta(v, vals, &lsn, &off, &op);
    if (cdc_buf_failed(&v->cb) || cdc_buf_failed(&v->tmp))
        return cdc_err_set(err, CDC_E_NOMEM, "verify: out of memory");
    canon = cdc_buf_str(&v->cb);
    if (v->nkeys == 0) {
        scan_row_multiset(v, canon, lsn, off, op);
        return 0;
    }
    cdc_buf_reset(&v->kb);
    for (int i = 0; i < v->nkeys; i++) {
        if (vals[i].null)
            return cdc_err_set(err, CDC_E_STATE, "%s row %lld: key column \"%s\" is null",
                               file, (long long) pos, v->cols[i].f->name);
        ice_key_put(&v->kb, &v->cols[i].f->type, &vals[i]);
    }
    if (cdc_buf_failed(&v->kb))
        return cdc_err_set(err, CDC_E_NOMEM, "verify: out of memory");
    kh = verify_ice_hex_of(v->kb.data, v->kb.len);
    e = json_object_get(v->state, kh);
    if (v->append) {
        char head[100];
        char seen[160];
        char *sk;

        snprintf(seen, sizeof(seen), "%" PRId64 ":%" PRId64 ":%c:", lsn, off, op);
        sk = cdc_xmalloc(strlen(seen) + strlen(kh) + 1);
        strcpy(sk, seen);
        strcat(sk, kh);
        if (json_object_get(v->seen, sk))
            duplicate(v, kh, NULL, lsn, off, op);
        else
            json_object_set_new(v->seen, sk, json_true());
        free(sk);
        if (e != NULL) {
            long long elsn = 0, eoff = 0;

            sscanf(json_string_value(e), "%lld:%lld:", &elsn, &eoff);
            if (elsn > lsn || (elsn == lsn && eoff >= off)) {
                free(kh);
                return 0;   /* an older image (or the same one again) */
            }
        }
        snprintf(head, sizeof(head), "%" PRId64 ":%" PRId64 ":%c|", lsn, off, op);
        json_object_set_new(v->state, kh, json_sprintf("%s%s", head, canon));
    } else if (e != NULL) {
        /* An upsert table must hold a key once. */
        json_t *n = json_object_get(v->dupn, kh);

        json_object_set_new(v->dupn, kh, json_integer(n ? json_integer_value(n) + 1 : 2));
    } else {
        json_object_set_new(v->state, kh, json_string(canon));
    }
    free(kh);
    return 0;
}

/* The canonical row of a state entry (append: after the "lsn:off:op|" head). */
const char *
verify_ice_entry_row(const vtab *v, const json_t *e)
{
    const char *s = json_string_value(e);
    const char *bar = v->append ? strchr(s, '|') : NULL;

    return bar ? bar + 1 : s;
}

/* Append: a key whose last change is a delete is gone. */
void
verify_ice_drop_deleted(json_t *state)
{
    const char *k;
    json_t     *e;
    void       *tmp;

    json_object_foreach_safe(state, tmp, k, e) {
        const char *bar = strchr(json_string_value(e), '|');

        if (bar && bar[-1] == 'd')
            json_object_del(state, k);
    }
}

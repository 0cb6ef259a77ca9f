/*
 * verify against an iceberg sink: each captured table's Iceberg table is
 * loaded through the sink's catalog and warehouse (sinks/iceberg/ice_open.h,
 * opened as the sink opens them, without its write probe), its live rows
 * read with ice_scan_rows() (data files minus position deletes, as
 * pyiceberg reads them), and compared with the source key by key.
 *
 * Values are compared as Iceberg values: a source value's text (a plain
 * SELECT, under the agent's session settings) goes through the agent's own
 * path, pgo_value_from_text() then ice_value_from_cdc() with the Iceberg
 * field's type, exactly as the sink converts a change; a value read from the
 * table comes typed by the table's current schema.  Both are then turned
 * into their single-value serialization (ice_value_bound), and equal bytes
 * mean equal values.
 *
 * upsert: the live rows are the table; a key held twice is reported.
 * append: the rows are changes; the state of a key is its row with the
 * highest (_cdc_lsn, _cdc_offset), gone when that row is a delete (_cdc_op
 * "d").  A row whose (_cdc_lsn, _cdc_offset, _cdc_op, key) repeats is a
 * change written twice and is reported as a duplicate.  The key takes part
 * because snapshot rows share one position and a key change writes "d" of
 * the old key and "c" of the new one at the same offset.
 *
 * An append table without a key is a multiset of rows: c and r add one, d
 * removes one (its before image is the whole row under REPLICA IDENTITY
 * FULL); a table holding u rows cannot be replayed (no before image) and is
 * not compared.  An upsert table always has a key (the sink refuses others).
 *
 * The table's state is held in memory, compactly (struct vtab); the source
 * is streamed row by row in a repeatable-read read-only transaction.  With
 * key ranges (--ranges, or a large table) the state holds one range at a
 * time: the source's key bounds as verify_pg.c computes them, the Iceberg
 * rows of the range only, data files skipped by their bounds of a
 * single-column key (struct vranges).
 */
#include "agent/cmd/verify_int.h"
#include "agent/cmd/verify.h"

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

/* One compared column: the source column and the Iceberg field it maps to. */
typedef struct vcol {
    int              rc;        /* index in rel->cols */
    const ice_field *f;
} vcol;

/*
 * The state of the table, compact (a table of millions of rows is held):
 * a row's values are one "canonical" string, each column's single-value
 * serialization in hex, "-" for null, "!" for a source value the sink cannot
 * convert, joined with ','.  Keys are their ice_key_put() bytes in hex.
 */
typedef struct vtab {
    const cdc_rel    *rel;
    const ice_schema *s;
    vcol             *cols;     /* compared columns, key columns first in key order */
    int               ncols, nkeys;
    bool              append;
    int32_t          *ids;      /* field ids scanned: cols, then _cdc_lsn, _cdc_offset, _cdc_op */
    int               nids;
    /* keyed, upsert: key hex -> canonical row; append: -> "lsn:offset:op|canonical row";
       without a key: canonical row -> count */
    json_t           *state;
    json_t           *dupn;     /* upsert: key hex -> times the table holds it, when > 1 */
    json_t           *seen;     /* append: "lsn:off:op:keyhex" of every row */
    int64_t           rows, dups;
    int               nmissing; /* source columns the table does not have */
    int64_t           updates;  /* append rows of a table without a key with _cdc_op u */
    verify_table     *t;
    struct vranges   *rg;       /* key ranges (--ranges); NULL: one pass over everything */
    cdc_buf           kb, cb, tmp;
} vtab;

/*
 * Key ranges: the source's keys cut as verify_pg.c cuts them (every step-th key, in the
 * source's key order, text keys in "C"), range r being the keys > bound r-1 and <= bound r
 * (the first without a lower, the last without an upper bound).  A key read from the table
 * belongs to range r by ice_value_cmp() against the bounds parsed as Iceberg values, which
 * orders as PostgreSQL does only for plain types (plain_order()).  With a single key column,
 * each data file's lower/upper bounds of that column (its manifest entry) tell whether the
 * file can hold keys of the range; with more, every file is read per range.
 */
typedef struct vfile {
    char     *path;
    bool      bounded;          /* both bounds known */
    ice_value lo, hi;           /* pointing into lb, ub */
    uint8_t  *lb, *ub;
} vfile;

typedef struct vranges {
    pg_sql       sql;           /* the source's key order */
    PGresult    *b;             /* the bounds' text: nb rows of nkeys columns */
    int          nb, cur;       /* ranges: nb + 1; cur: the one being compared */
    ice_value   *bv;            /* nb * nkeys bounds as Iceberg values */
    uint8_t    (*uuid)[16];     /* their UUID bytes */
    vfile       *files;         /* single key column: every live data file and its bounds */
    int          nfiles;
    bool         by_files;
    int64_t      files_read;    /* over all ranges */
    cdc_buf      differing;     /* "3 (id > 100 and <= 200), ..." for the note */
} vranges;

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

static char *
hex_of(const uint8_t *p, size_t n)
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
static void
canon_put(cdc_buf *b, cdc_buf *tmp, int i, const ice_type *t, const ice_value *v)
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
        char *h = hex_of(b.data, b.len);

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
        char   *h = hex_of(p, n);
        json_t *j = json_sprintf("0x%s", h);

        free(h);
        return j;
    }
    return render_value(t, &iv);
}

/* The report's key object of a key in hex (ice_key_put's length-prefixed parts). */
static json_t *
render_key(vtab *v, const char *kh)
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
static const char *
canon_field(const char *c, int i, size_t *n)
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
static char *
render_row(vtab *v, const char *canon)
{
    cdc_buf b = CDC_BUF_INIT;
    cdc_buf bytes = CDC_BUF_INIT;
    char   *s;

    cdc_buf_putc(&b, '(');
    for (int i = 0; i < v->ncols; i++) {
        size_t      n;
        const char *f = canon_field(canon, i, &n);

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
static const char *
meta_position(const ice_meta *m, const char *pipeline_id)
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
    verify_add_diff(v->t, VERIFY_EXTRA, kh ? render_key(v, kh) : NULL,
                    kh ? NULL : render_row(v, canon), cdc_xstrdup(detail));
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

static int
scan_row(void *arg, const char *file, int64_t pos, const ice_value *vals, cdc_err *err)
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
        canon_put(&v->cb, &v->tmp, i, &v->cols[i].f->type, &vals[i]);
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
    kh = hex_of(v->kb.data, v->kb.len);
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
static const char *
entry_row(const vtab *v, const json_t *e)
{
    const char *s = json_string_value(e);
    const char *bar = v->append ? strchr(s, '|') : NULL;

    return bar ? bar + 1 : s;
}

/* Append: a key whose last change is a delete is gone. */
static void
drop_deleted(json_t *state)
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

/* ---------------------------------------------------------------- the source's rows */

/* @returns whether a row filter was put (a further condition then starts with AND). */
static bool
put_select(cdc_buf *q, const verify_ctx *vc, const vtab *v)
{
    PGconn        *conn = vc->src;
    const cdc_rel *rel = v->rel;
    char           ident[300];

    cdc_buf_puts(q, "SELECT ");
    for (int i = 0; i < v->ncols; i++)
        cdc_buf_printf(q, "%s%s", i ? ", " : "",
                       agent_pg_quote_ident(conn, rel->cols[v->cols[i].rc].name, ident,
                                            sizeof(ident)));
    cdc_buf_printf(q, " FROM %s.", agent_pg_quote_ident(conn, rel->nspname, ident, sizeof(ident)));
    cdc_buf_puts(q, agent_pg_quote_ident(conn, rel->relname, ident, sizeof(ident)));
    return verify_put_row_filter(vc, rel, q);
}

/* Column names whose canonical values differ. */
static char *
differing_columns(const vtab *v, const char *src, const char *dst)
{
    cdc_buf b = CDC_BUF_INIT;
    char   *s;

    for (int i = 0; i < v->ncols; i++) {
        size_t      ns, nd;
        const char *fs = canon_field(src, i, &ns);
        const char *fd = canon_field(dst, i, &nd);

        if (ns != nd || memcmp(fs, fd, ns) != 0)
            cdc_buf_printf(&b, "%s%s", b.len ? ", " : "", v->rel->cols[v->cols[i].rc].name);
    }
    s = cdc_xstrdup(cdc_buf_str(&b));
    cdc_buf_free(&b);
    return s;
}

/* A table without a key: one copy of the row is taken from the state. */
static void
source_row_multiset(vtab *v, PGresult *res, const char *canon)
{
    json_t *e = json_object_get(v->state, canon);

    if (e != NULL && json_integer_value(e) > 0) {
        json_integer_set(e, json_integer_value(e) - 1);
    } else {
        cdc_buf b = CDC_BUF_INIT;

        cdc_buf_putc(&b, '(');
        for (int i = 0; i < v->ncols; i++)
            cdc_buf_printf(&b, "%s%s", i ? "," : "", PQgetisnull(res, 0, i) ? ""
                           : PQgetvalue(res, 0, i));
        cdc_buf_putc(&b, ')');
        v->t->keys_differing++;
        verify_add_diff(v->t, VERIFY_MISSING, NULL, cdc_xstrdup(cdc_buf_str(&b)), NULL);
        cdc_buf_free(&b);
    }
}

/* The source's key as its columns' text. */
static json_t *
source_key(const vtab *v, PGresult *res)
{
    json_t *key = json_object();

    for (int i = 0; i < v->nkeys; i++)
        json_object_set_new(key, v->rel->cols[v->cols[i].rc].name, PQgetisnull(res, 0, i)
                            ? json_null() : json_string(PQgetvalue(res, 0, i)));
    return key;
}

/* One source row: its key and canonical values, matched against the state. */
static int
source_row(verify_ctx *vc, vtab *v, PGresult *res, cdc_arena *a, cdc_buf *scratch,
           cdc_err *err)
{
    const pgo_type_opts *topts = agent_capture_type_opts(vc->cap);
    const cdc_rel       *rel = v->rel;
    const char          *canon;
    json_t              *e, *dn;
    char                *kh;

    cdc_buf_reset(&v->kb);
    cdc_buf_reset(&v->cb);
    for (int i = 0; i < v->ncols; i++) {
        const cdc_col *col = &rel->cols[v->cols[i].rc];
        cdc_value      val = { 0 };
        ice_value      iv = { .null = true };

        if (!PQgetisnull(res, 0, i)) {
            cdc_err verr = { 0 };

            if (pgo_value_from_text(col, PQgetvalue(res, 0, i), (size_t) PQgetlength(res, 0, i),
                                    topts, a, &val, err) < 0)
                return cdc_err_wrap(err, "table %s.%s column \"%s\"", rel->nspname,
                                    rel->relname, col->name);
            if (ice_value_from_cdc(&v->cols[i].f->type, &col->ctype, &val, scratch, &iv,
                                   &verr) < 0) {
                /* A value Iceberg cannot hold (the sink refused it): a difference. */
                if (i < v->nkeys) {
                    *err = verr;
                    return cdc_err_wrap(err, "table %s.%s key column \"%s\"", rel->nspname,
                                        rel->relname, col->name);
                }
                cdc_buf_puts(&v->cb, i > 0 ? ",!" : "!");
                continue;
            }
        }
        if (i < v->nkeys)
            ice_key_put(&v->kb, &v->cols[i].f->type, &iv);
        canon_put(&v->cb, &v->tmp, i, &v->cols[i].f->type, &iv);
    }
    if (cdc_buf_failed(&v->cb) || cdc_buf_failed(&v->kb) || cdc_buf_failed(&v->tmp))
        return cdc_err_set(err, CDC_E_NOMEM, "verify: out of memory");
    canon = cdc_buf_str(&v->cb);
    v->t->src_rows++;
    if (v->nkeys == 0) {
        source_row_multiset(v, res, canon);
        return 0;
    }
    kh = hex_of(v->kb.data, v->kb.len);
    e = json_object_get(v->state, kh);
    if (e == NULL) {
        v->t->keys_differing++;
        verify_add_diff(v->t, VERIFY_MISSING, source_key(v, res), NULL, NULL);
    } else {
        const char *drow = entry_row(v, e);

        if (strcmp(canon, drow) != 0) {
            v->t->keys_differing++;
            verify_add_diff(v->t, VERIFY_DIFFERS, source_key(v, res), NULL,
                            differing_columns(v, canon, drow));
        }
        if ((dn = json_object_get(v->dupn, kh)) != NULL) {
            char detail[80];

            v->t->keys_differing++;
            snprintf(detail, sizeof(detail), "the table holds the key %lld times",
                     (long long) json_integer_value(dn));
            verify_add_diff(v->t, VERIFY_EXTRA, source_key(v, res), NULL, cdc_xstrdup(detail));
            json_object_del(v->dupn, kh);
        }
        json_object_del(v->state, kh);
    }
    free(kh);
    return 0;
}

/* Opens the source's repeatable-read snapshot for the table and notes its WAL position. */
static int
source_begin(verify_ctx *vc, vtab *v, cdc_err *err)
{
    static const char begin[] = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";
    PGresult         *res;
    cdc_err           ignored;

    if (agent_pg_exec(vc->src, begin, "verify: source", err) < 0)
        return -1;
    /* Where the source is: the WAL position of the snapshot read below, to set against the
       table's cdc.position (a standby replays, a primary writes). */
    res = agent_pg_query(vc->src, "SELECT " AGENT_PG_WAL_LSN_SQL "::text",
                         0, NULL, "verify: source WAL position", err);
    if (res == NULL) {
        agent_pg_exec(vc->src, "ROLLBACK", "verify", &ignored);
        return -1;
    }
    if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0))
        snprintf(v->t->source_lsn, sizeof(v->t->source_lsn), "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return 0;
}

/* Streams the source's rows (single-row mode; of the range being compared, if any). */
static int
source_rows(verify_ctx *vc, vtab *v, cdc_err *err)
{
    const cdc_rel    *rel = v->rel;
    const vranges    *rg = v->rg;
    cdc_buf           q = CDC_BUF_INIT, scratch = CDC_BUF_INIT;
    const char      **params = NULL;
    int               np = 0;
    cdc_arena        *a;
    PGresult         *res;
    int               rc = 0;
    bool              filtered;

    a = cdc_arena_new(64 * 1024);
    filtered = put_select(&q, vc, v);
    if (rg != NULL && rg->nb > 0) {
        params = cdc_xcalloc(2 * (size_t) v->nkeys + 1, sizeof(*params));
        cdc_buf_puts(&q, filtered ? " AND " : " WHERE ");
        if (rg->cur > 0) {
            verify_pg_key_cmp(&q, &rg->sql, ">", np + 1);
            for (int k = 0; k < v->nkeys; k++)
                params[np++] = PQgetvalue(rg->b, rg->cur - 1, k);
        }
        if (rg->cur < rg->nb) {
            cdc_buf_puts(&q, np ? " AND " : "");
            verify_pg_key_cmp(&q, &rg->sql, "<=", np + 1);
            for (int k = 0; k < v->nkeys; k++)
                params[np++] = PQgetvalue(rg->b, rg->cur, k);
        }
    }
    if (!PQsendQueryParams(vc->src, cdc_buf_str(&q), np, NULL, params, NULL, NULL, 0) ||
        !PQsetSingleRowMode(vc->src))
        rc = cdc_err_set(err, CDC_E_PG, "reading %s.%s: %s", rel->nspname, rel->relname,
                         PQerrorMessage(vc->src));
    while ((res = PQgetResult(vc->src)) != NULL) {
        if (rc == 0 && PQresultStatus(res) == PGRES_SINGLE_TUPLE) {
            cdc_arena_reset(a);
            rc = source_row(vc, v, res, a, &scratch, err);
        } else if (rc == 0 && PQresultStatus(res) != PGRES_TUPLES_OK) {
            rc = cdc_err_set(err, CDC_E_PG, "reading %s.%s: %s", rel->nspname, rel->relname,
                             PQresultErrorMessage(res));
        }
        PQclear(res);   /* an error above still drains the rest */
    }
    free(params);
    cdc_arena_free(a);
    cdc_buf_free(&scratch);
    cdc_buf_free(&q);
    return rc;
}

/* What is left in the state is in the table only. */
static void
extras(vtab *v)
{
    const char *k;
    json_t     *e;

    json_object_foreach(v->state, k, e) {
        char detail[80];

        if (v->nkeys == 0) {
            json_int_t n = json_integer_value(e);

            if (n == 0)
                continue;
            v->t->keys_differing++;
            if (v->t->ndiffs >= VERIFY_MAX_DIFFS) {
                v->t->more = true;
                continue;
            }
            snprintf(detail, sizeof(detail), n > 0 ? "%lld copies" : "deleted %lld times more "
                     "than inserted", (long long) (n > 0 ? n : -n));
            verify_add_diff(v->t, VERIFY_EXTRA, NULL, render_row(v, k),
                            n != 1 ? cdc_xstrdup(detail) : NULL);
            continue;
        }
        v->t->keys_differing++;
        if (v->t->ndiffs >= VERIFY_MAX_DIFFS) {
            v->t->more = true;
            continue;
        }
        {
            json_t *dn = json_object_get(v->dupn, k);

            snprintf(detail, sizeof(detail), "%lld copies",
                     (long long) (dn ? json_integer_value(dn) : 1));
            verify_add_diff(v->t, VERIFY_EXTRA, render_key(v, k), NULL,
                            dn ? cdc_xstrdup(detail) : NULL);
        }
    }
}

/* The source's row count alone (a table that is not compared). */
static int
count_source(verify_ctx *vc, const cdc_rel *rel, verify_table *t, cdc_err *err)
{
    char      a[300], b[300];
    cdc_buf   q = CDC_BUF_INIT;
    PGresult *res;

    cdc_buf_printf(&q, "SELECT count(*) FROM %s.%s",
                   agent_pg_quote_ident(vc->src, rel->nspname, a, sizeof(a)),
                   agent_pg_quote_ident(vc->src, rel->relname, b, sizeof(b)));
    verify_put_row_filter(vc, rel, &q);
    res = agent_pg_query(vc->src, cdc_buf_str(&q), 0, NULL, "verify: source", err);
    cdc_buf_free(&q);
    if (res == NULL)
        return -1;
    t->src_rows = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return 0;
}

static int64_t
multiset_rows(json_t *state)
{
    const char *k;
    json_t     *e;
    int64_t     n = 0;

    json_object_foreach(state, k, e)
        if (json_integer_value(e) > 0)
            n += json_integer_value(e);
    return n;
}

/* ---------------------------------------------------------------- one table */

/* Maps the source's columns to the table's fields; what cannot be compared goes to the note. */
static int
map_columns(vtab *v, cdc_buf *note)
{
    const cdc_rel *rel = v->rel;

    v->cols = cdc_xcalloc((size_t) rel->ncols + 1, sizeof(*v->cols));
    /* Key columns first, in key order, then the others in table order. */
    for (int kp = 1; kp <= rel->nkeys + 1; kp++)
        for (int c = 0; c < rel->ncols; c++) {
            const cdc_col   *col = &rel->cols[c];
            bool             key = kp <= rel->nkeys;
            const ice_field *f;

            if (key ? col->key_pos != kp : col->key_pos != 0 || !col->ctype.supported)
                continue;
            f = ice_schema_find(v->s, col->name);
            if (f == NULL) {
                cdc_buf_printf(note, "%scolumn %s is not in the Iceberg table",
                               note->len ? "; " : "", col->name);
                v->nmissing++;
                if (key)
                    return -1;
                continue;
            }
            if (f->type.kind == ICE_LIST && !key) {
                cdc_buf_printf(note, "%scolumn %s (a list) is not compared",
                               note->len ? "; " : "", col->name);
                continue;
            }
            v->cols[v->ncols].rc = c;
            v->cols[v->ncols++].f = f;
            v->nkeys += key;
        }
    return 0;
}

/* The table's name in the catalog, as the sink names it. */
static void
table_ident(const verify_ctx *vc, const cdc_rel *rel, verify_table *t, char *ns, size_t nssz,
            char *name, size_t namesz)
{
    const cfg_iceberg *ic = &vc->sink->iceberg;

    snprintf(ns, nssz, "%s", ic->table_namespace && *ic->table_namespace
             ? ic->table_namespace : "default");
    if (ic->table_name && *ic->table_name)
        snprintf(name, namesz, "%s", ic->table_name);
    else
        snprintf(name, namesz, "%s_%s", rel->nspname, rel->relname);
    snprintf(t->dest_name, sizeof(t->dest_name), "%s.%s", ns, name);
}

/*
 * Loads rel's Iceberg table into *m and notes which snapshot and position it is at.
 * @returns 0 (*m NULL: the table does not exist, t->note says so), -1 with err set.
 */
static int
load_table(verify_ctx *vc, ice_cat *cat, ice_store *st, const cdc_rel *rel, verify_table *t,
           ice_meta **m, cdc_err *err)
{
    char                ns[200], name[300];
    ice_cat_ident       id = { ns, name };
    char               *loc = NULL;
    const ice_snapshot *snap;
    const char         *pos;
    int                 lr;

    *m = NULL;
    t->snapshot_id = -1;
    table_ident(vc, rel, t, ns, sizeof(ns), name, sizeof(name));
    lr = ice_commit_load(cat, st, &id, m, &loc, err);
    free(loc);
    if (lr == ICE_CAT_NOT_FOUND) {
        *m = NULL;
        snprintf(t->note, sizeof(t->note), "the Iceberg table %s does not exist", t->dest_name);
        return 0;
    }
    if (lr != ICE_CAT_OK)
        return cdc_err_wrap(err, "sink %s: loading Iceberg table %s", vc->sink->sink_id,
                            t->dest_name);
    if ((snap = ice_meta_current(*m)) != NULL)
        t->snapshot_id = snap->id;
    if ((pos = meta_position(*m, vc->cfg->pipeline.pipeline_id)) != NULL)
        snprintf(t->position, sizeof(t->position), "%s", pos);
    return 0;
}

/* The field ids to scan: the compared columns, then append's _cdc_lsn, _cdc_offset, _cdc_op. */
static int
scan_ids(const verify_ctx *vc, vtab *v, cdc_err *err)
{
    static const char *const meta[] = { "_cdc_lsn", "_cdc_offset", "_cdc_op" };

    v->nids = v->ncols + (v->append ? 3 : 0);
    v->ids = cdc_xcalloc((size_t) v->nids + 1, sizeof(*v->ids));
    for (int i = 0; i < v->ncols; i++)
        v->ids[i] = v->cols[i].f->id;
    for (int i = 0; v->append && i < 3; i++) {
        const ice_field *f = ice_schema_find(v->s, meta[i]);

        if (f == NULL)
            return cdc_err_set(err, CDC_E_STATE, "Iceberg table %s has no column %s: was it "
                               "written in upsert mode? (sink %s has write_mode append)",
                               v->t->dest_name, meta[i], vc->sink->sink_id);
        v->ids[v->ncols + i] = f->id;
    }
    return 0;
}

static void vranges_free(vranges *rg);

static void
vtab_clear(vtab *v)
{
    json_decref(v->state);
    json_decref(v->dupn);
    json_decref(v->seen);
    vranges_free(v->rg);
    free(v->cols);
    free(v->ids);
    cdc_buf_free(&v->kb);
    cdc_buf_free(&v->cb);
    cdc_buf_free(&v->tmp);
}

/* ------------------------------------------------------------- key ranges */

/* Without --ranges a table of up to this many source rows is compared in one pass (about
   150 MiB for five columns); a larger one in ranges of about this many rows. */
#define VERIFY_ICE_ONE_PASS_ROWS 200000

/* Whether PostgreSQL orders column c (as verify_pg.c orders keys: collated ones in "C") as
   ice_value_cmp() orders its Iceberg values of field f. */
static bool
plain_order(const cdc_col *c, const ice_field *f)
{
    ice_kind k = f->type.kind;

    if (!c->catalog_known || c->typtype != 'b' || c->type_oid != c->base_oid)
        return false;       /* unknown, a domain, an enum: verify_pg.c orders those as text */
    switch (c->base_oid) {
    case PGO_OID_INT2:
    case PGO_OID_INT4:
    case PGO_OID_INT8:
        return k == ICE_INT || k == ICE_LONG;
    case PGO_OID_TEXT:
    case PGO_OID_VARCHAR:   /* "C": bytewise, a prefix first, as Iceberg orders strings */
        return k == ICE_STRING;
    case PGO_OID_DATE:
        return k == ICE_DATE;
    case PGO_OID_TIME:
        return k == ICE_TIME;
    case PGO_OID_TIMESTAMP:
        return k == ICE_TIMESTAMP;
    case PGO_OID_TIMESTAMPTZ:
        return k == ICE_TIMESTAMPTZ;
    case PGO_OID_UUID:
        return k == ICE_UUID;
    case PGO_OID_BOOL:
        return k == ICE_BOOLEAN;
    default:
        return false;
    }
}

static void
vranges_free(vranges *rg)
{
    if (rg == NULL)
        return;
    verify_pg_sql_free(&rg->sql);
    PQclear(rg->b);
    free(rg->bv);
    free(rg->uuid);
    for (int i = 0; i < rg->nfiles; i++) {
        free(rg->files[i].path);
        free(rg->files[i].lb);
        free(rg->files[i].ub);
    }
    free(rg->files);
    cdc_buf_free(&rg->differing);
    free(rg);
}

/* A file's bound of the key column; false when it does not read back (the file is then read
   in every range).  A file written before an int column became a long holds 4-byte bounds. */
static bool
file_bound(const ice_type *t, const uint8_t *p, size_t n, ice_value *out)
{
    static const ice_type int_type = { .kind = ICE_INT };
    cdc_err               e;

    if (ice_value_from_bound(t, p, n, out, &e) == 0)
        return true;
    return t->kind == ICE_LONG && n == 4 && ice_value_from_bound(&int_type, p, n, out, &e) == 0;
}

static int
add_file(void *arg, const char *path, int64_t records, const uint8_t *lower, size_t lower_n,
         const uint8_t *upper, size_t upper_n, cdc_err *err)
{
    vtab    *v = arg;
    vranges *rg = v->rg;
    vfile   *f;

    (void) records;
    (void) err;
    rg->files = cdc_xrealloc(rg->files, ((size_t) rg->nfiles + 1) * sizeof(*rg->files));
    f = &rg->files[rg->nfiles++];
    memset(f, 0, sizeof(*f));
    f->path = cdc_xstrdup(path);
    if (lower == NULL || upper == NULL)
        return 0;
    f->lb = cdc_xmalloc(lower_n + 1);
    f->ub = cdc_xmalloc(upper_n + 1);
    memcpy(f->lb, lower, lower_n);
    memcpy(f->ub, upper, upper_n);
    f->bounded = file_bound(&v->cols[0].f->type, f->lb, lower_n, &f->lo) &&
                 file_bound(&v->cols[0].f->type, f->ub, upper_n, &f->hi);
    return 0;
}

/* The data files that may hold keys of the range being compared (all: by_files false). */
static const char **
range_files(vtab *v, int *n)
{
    vranges     *rg = v->rg;
    const char **fs = cdc_xcalloc((size_t) rg->nfiles + 1, sizeof(*fs));
    const ice_type *t = &v->cols[0].f->type;

    *n = 0;
    for (int i = 0; i < rg->nfiles; i++) {
        const vfile *f = &rg->files[i];

        if (rg->by_files && f->bounded &&
            ((rg->cur > 0 && ice_value_cmp(t, &f->hi, &rg->bv[rg->cur - 1]) <= 0) ||
             (rg->cur < rg->nb && ice_value_cmp(t, &f->lo, &rg->bv[rg->cur]) > 0)))
            continue;   /* every key of the file is <= the lower bound or > the upper one */
        fs[(*n)++] = f->path;
    }
    return fs;
}

/*
 * Decides how the table is read: v->rg set (key ranges: bounds from the source, files with
 * their key bounds) or left NULL (one pass).  Runs in the source's snapshot.
 */
static int
plan_ranges(verify_ctx *vc, ice_store *st, const ice_meta *m, vtab *v, cdc_buf *note,
            cdc_err *err)
{
    verify_ctx rv = *vc;
    vranges   *rg;
    int64_t    n;
    int        bad = -1;

    if (v->nkeys == 0)
        return 0;   /* a multiset: one pass */
    for (int i = 0; i < v->nkeys && bad < 0; i++)
        if (!plain_order(&v->rel->cols[v->cols[i].rc], v->cols[i].f))
            bad = i;
    rg = cdc_xcalloc(1, sizeof(*rg));
    v->rg = rg;
    if (verify_pg_sql_init(&rg->sql, vc->src, v->rel, err) < 0 ||
        (n = verify_pg_count(vc->src, "source", &rg->sql, err)) < 0)
        return -1;
    if (!vc->ranges_set) {
        if (n <= VERIFY_ICE_ONE_PASS_ROWS || bad >= 0)
            goto one_pass;
        rv.ranges = (int) ((n + VERIFY_ICE_ONE_PASS_ROWS - 1) / VERIFY_ICE_ONE_PASS_ROWS);
        if (rv.ranges > AGENT_VERIFY_RANGES_MAX)
            rv.ranges = AGENT_VERIFY_RANGES_MAX;
    } else if (bad >= 0) {
        const cdc_col *c = &v->rel->cols[v->cols[bad].rc];

        cdc_buf_printf(note, "%s--ranges not applied: key column %s (%s) is not ordered the "
                       "same in PostgreSQL and in Iceberg; compared in one pass",
                       note->len ? "; " : "", c->name, c->type_name ? c->type_name : "?");
        goto one_pass;
    }
    if ((rg->b = verify_pg_bounds(&rv, &rg->sql, n, err)) == NULL)
        return -1;
    rg->nb = PQntuples(rg->b);
    rg->bv = cdc_xcalloc((size_t) (rg->nb * v->nkeys) + 1, sizeof(*rg->bv));
    rg->uuid = cdc_xcalloc((size_t) (rg->nb * v->nkeys) + 1, sizeof(*rg->uuid));
    for (int j = 0; j < rg->nb; j++)
        for (int i = 0; i < v->nkeys; i++)
            if (ice_value_parse(&v->cols[i].f->type, PQgetvalue(rg->b, j, i),
                                rg->uuid[j * v->nkeys + i], &rg->bv[j * v->nkeys + i], err) < 0)
                return cdc_err_wrap(err, "table %s.%s: key range bound of column \"%s\"",
                                    v->rel->nspname, v->rel->relname,
                                    v->rel->cols[v->cols[i].rc].name);
    rg->by_files = v->nkeys == 1;
    if (ice_scan_data_file_bounds(st, m, v->cols[0].f->id, add_file, v, err) < 0)
        return cdc_err_wrap(err, "sink %s: reading Iceberg table %s", vc->sink->sink_id,
                            v->t->dest_name);
    v->t->method = "key_ranges";
    v->t->ranges = rg->nb + 1;
    return 0;
one_pass:
    vranges_free(rg);
    v->rg = NULL;
    return 0;
}

/* Appends "4 (id > 1875 and <= 2500)" for the range being compared, the first few only. */
static void
range_text(const vtab *v, cdc_buf *b)
{
    const vranges *rg = v->rg;
    bool           multi = v->nkeys > 1;

    if (v->t->ranges_differing > 5) {
        if (v->t->ranges_differing == 6)
            cdc_buf_puts(b, ", ...");
        return;
    }
    cdc_buf_printf(b, "%s%d", b->len ? ", " : "", rg->cur + 1);
    if (rg->nb == 0)
        return;
    cdc_buf_printf(b, " (%s%s%s", multi ? "(" : "", v->t->keycols, multi ? ")" : "");
    for (int side = 0; side < 2; side++) {
        int j = side == 0 ? rg->cur - 1 : rg->cur;

        if (j < 0 || j >= rg->nb)
            continue;
        cdc_buf_puts(b, side == 0 ? " > " : j > 0 && rg->cur > 0 ? " and <= " : " <= ");
        cdc_buf_puts(b, multi ? "(" : "");
        for (int i = 0; i < v->nkeys; i++)
            cdc_buf_printf(b, "%s%.40s", i ? ", " : "", PQgetvalue(rg->b, j, i));
        cdc_buf_puts(b, multi ? ")" : "");
    }
    cdc_buf_putc(b, ')');
}

/* ------------------------------------------------------------- comparing */

/* Reads the table's live rows (of the range being compared) into the state, then streams the
   source's rows of the range against it; what is left is extra.  Frees the state after. */
static int
compare_range(verify_ctx *vc, ice_store *st, const ice_meta *m, vtab *v, cdc_buf *note,
              cdc_err *err)
{
    verify_table *t = v->t;
    int64_t       before = t->keys_differing;
    int           rc;

    v->state = json_object();
    v->seen = json_object();
    v->dupn = json_object();
    if (v->rg == NULL) {
        rc = ice_scan_rows(st, m, v->ids, v->nids, scan_row, v, NULL, err);
    } else {
        int          nf;
        const char **fs = range_files(v, &nf);

        v->rg->files_read += nf;
        rc = ice_scan_rows_in(st, m, fs, nf, v->ids, v->nids, scan_row, v, NULL, err);
        free(fs);
    }
    if (rc < 0)
        return cdc_err_wrap(err, "sink %s: reading Iceberg table %s", vc->sink->sink_id,
                            t->dest_name);
    if (v->updates > 0) {
        cdc_buf_printf(note, "%sthe table has no key and %lld of its %lld change rows are "
                       "updates, which hold no before image: its rows cannot be replayed, "
                       "not compared", note->len ? "; " : "", (long long) v->updates,
                       (long long) v->rows);
        t->method = NULL;
        t->dst_rows = v->rows;
        return count_source(vc, v->rel, t, err);
    }
    if (v->nkeys > 0 && v->append)
        drop_deleted(v->state);
    t->dst_rows += v->nkeys > 0 ? (int64_t) json_object_size(v->state)
                                : multiset_rows(v->state);
    if (source_rows(vc, v, err) < 0)
        return -1;
    extras(v);
    if (v->rg != NULL && t->keys_differing > before) {
        t->ranges_differing++;
        range_text(v, &v->rg->differing);
    }
    json_decref(v->state);
    json_decref(v->seen);
    json_decref(v->dupn);
    v->state = v->seen = v->dupn = NULL;
    return 0;
}

/* The table against the source, in one pass or range by range, in one source snapshot. */
static int
compare_rows(verify_ctx *vc, ice_store *st, const ice_meta *m, vtab *v, cdc_buf *note,
             cdc_err *err)
{
    verify_table *t = v->t;
    vranges      *rg;
    cdc_err       ignored;
    int           rc;

    if (source_begin(vc, v, err) < 0)
        return -1;
    rc = plan_ranges(vc, st, m, v, note, err);
    rg = v->rg;
    for (int r = 0; rc == 0 && r <= (rg ? rg->nb : 0); r++) {
        if (rg)
            rg->cur = r;
        rc = compare_range(vc, st, m, v, note, err);
        if (t->method == NULL)
            break;      /* not compared (no key, updates): the note says why */
    }
    agent_pg_exec(vc->src, "COMMIT", "verify", &ignored);
    if (rc < 0 || t->method == NULL)
        return rc;
    if (v->append)
        cdc_buf_printf(note, "%sappend table: %lld change rows replayed %s%s",
                       note->len ? "; " : "", (long long) v->rows, v->nkeys > 0
                       ? "by key (highest _cdc_lsn, _cdc_offset)"
                       : "as a multiset (c and r add a row, d removes one)",
                       v->dups ? ", some written twice" : "");
    if (rg != NULL) {
        cdc_buf_printf(note, "%s%d key ranges; data files read per range: %.1f of %d on "
                       "average (%s)", note->len ? "; " : "", rg->nb + 1,
                       (double) rg->files_read / (rg->nb + 1), rg->nfiles, rg->by_files
                       ? "skipped by their bounds of the key" : "every file: a key of several "
                       "columns");
        if (rg->differing.len)
            cdc_buf_printf(note, "; ranges differing: %s", cdc_buf_str(&rg->differing));
    }
    t->equal = t->keys_differing == 0 && v->nmissing == 0;
    return 0;
}

static int
compare_table(verify_ctx *vc, ice_cat *cat, ice_store *st, const cdc_rel *rel, verify_table *t,
              cdc_err *err)
{
    const cfg_iceberg *ic = &vc->sink->iceberg;
    ice_meta          *m = NULL;
    vtab               v = { .rel = rel, .t = t };
    cdc_buf            note = CDC_BUF_INIT;
    int                rc = -1;

    v.append = !(ic->write_mode && strcmp(ic->write_mode, "upsert") == 0);
    verify_key_names(rel, t->keycols, sizeof(t->keycols));
    if (load_table(vc, cat, st, rel, t, &m, err) < 0)
        return -1;
    if (m == NULL)
        return 0;
    v.s = ice_meta_schema(m, m->current_schema_id);
    if (v.s == NULL) {
        cdc_err_set(err, CDC_E_STATE, "Iceberg table %s: its metadata has no current schema",
                    t->dest_name);
    } else if (rel->nkeys == 0 && !v.append) {
        cdc_buf_puts(&note, "the table has no key (an upsert table needs one)");
        rc = 0;
    } else if (map_columns(&v, &note) < 0) {
        rc = 0;     /* a key column is missing: the note says which */
    } else if (scan_ids(vc, &v, err) == 0) {
        t->method = rel->nkeys > 0 ? "keys" : "multiset";
        rc = compare_rows(vc, st, m, &v, &note, err);
    }
    snprintf(t->note, sizeof(t->note), "%s", cdc_buf_str(&note));
    vtab_clear(&v);
    cdc_buf_free(&note);
    ice_meta_free(m);
    return rc;
}

int
verify_iceberg_tables(verify_ctx *vc, cdc_rel *const *rels, int n, verify_table *ts,
                      cdc_err *err)
{
    const cfg_iceberg *ic = &vc->sink->iceberg;
    dest_iceberg_conf  c;
    char              *wh = cdc_xstrdup(ic->warehouse ? ic->warehouse : "");
    size_t             wn = strlen(wh);
    ice_store         *st = NULL;
    ice_cat           *cat = NULL;
    cdc_aws_provider  *aws = NULL;
    int                rc = -1;

    agent_iceberg_conf(vc->sink, NULL, &c);
    while (wn > 0 && wh[wn - 1] == '/')
        wh[--wn] = '\0';
    if (ice_open_store(&c, wh, NULL, &st, &aws, err) < 0 ||
        ice_open_catalog(&c, wh, &cat, err) < 0) {
        cdc_err_wrap(err, "sink %s", vc->sink->sink_id);
        goto out;
    }
    for (int i = 0; i < n; i++)
        if (compare_table(vc, cat, st, rels[i], &ts[i], err) < 0)
            goto out;
    rc = 0;
out:
    ice_cat_close(cat);
    ice_store_free(st);
    cdc_aws_provider_free(aws);
    free(wh);
    return rc;
}

/*
 * verify against a postgres sink in replica mode: the mirror table of the
 * same schema and name in the target database is compared with the source
 * in SQL, so no table travels to the agent.
 *
 * Both sides compute, per range of key values, count(*) and the md5 of the
 * rows' text forms (ROW(c1, ...)::text over the source's published columns,
 * in key order, so extra columns or another column order on the target do
 * not matter).  Range boundaries are every k-th key of the source.  The
 * connections carry the same session settings (TimeZone UTC, DateStyle ISO,
 * IntervalStyle postgres, extra_float_digits 3, bytea_output hex), so equal
 * values print equal text.  Keys are ordered in the "C" collation (and
 * enum, domain and composite keys, which the replica stores as text, by
 * their text), so both sides agree on the order whatever their collations.
 *
 * A range that differs is narrowed down: both sides list (key, md5 of the
 * row) for it, in key order, and the lists are merged; for a key whose
 * values differ the columns are compared one by one.  Tables without a key
 * are compared as multisets: count and md5 of the sorted row texts, then
 * rows grouped by their md5.
 */
#include "agent/cmd/verify_int.h"

#include <stdlib.h>
#include <string.h>

#include "agent/core/cdc_buf.h"
#include "agent/core/cdc_mem.h"
#include "agent/core/net/pgconn.h"

/* One row of a range listing: key text, md5 of the row. */
typedef struct pg_entry {
    int pos;                    /* merge position: 2*source index, or 2*anchor+1 */
    int src, dst;               /* row in the listing of each side, -1 if absent */
} pg_entry;

static bool
replica_stores_text(const cdc_col *c)
{
    /* As sinks/postgres/postgres.c types the mirror's columns (pg_put_coltype). */
    return !c->catalog_known || c->type_name == NULL || c->enum_labels != NULL ||
           c->typtype == 'e' || c->typtype == 'c' || c->typtype == 'd';
}

static PGresult *
query(PGconn *conn, const char *side, const cdc_buf *q, int n, const char *const *params,
      const pg_sql *s, cdc_err *err)
{
    char what[200];

    if (cdc_buf_failed(q)) {
        cdc_err_set(err, CDC_E_NOMEM, "verify %s: out of memory", s->from);
        return NULL;
    }
    snprintf(what, sizeof(what), "verify %s on the %s", s->from, side);
    return agent_pg_query(conn, cdc_buf_str(q), n, params, what, err);
}

/* The table as one side reads it: the source through source.row_filters (src_from). */
static const char *
side_from(const pg_sql *s, const char *side)
{
    return s->src_from != NULL && strcmp(side, "source") == 0 ? s->src_from : s->from;
}

/* Which columns of the source have a collation (text-like keys are ordered in "C"). */
static PGresult *
collated_columns(PGconn *conn, const pg_sql *s, cdc_err *err)
{
    cdc_buf q = CDC_BUF_INIT;
    char    relid[16];
    const char *p[1] = { relid };
    PGresult *res;

    snprintf(relid, sizeof(relid), "%u", s->rel->relid);
    cdc_buf_puts(&q, "SELECT attname FROM pg_attribute WHERE attrelid = $1::oid AND attnum > 0 "
                     "AND attcollation <> 0");
    res = query(conn, "source", &q, 1, p, s, err);
    cdc_buf_free(&q);
    return res;
}

static bool
in_result(PGresult *res, const char *name)
{
    for (int i = 0; i < PQntuples(res); i++)
        if (strcmp(PQgetvalue(res, i, 0), name) == 0)
            return true;
    return false;
}

static void
put_key_order(pg_sql *s, PGconn *conn, PGresult *collated)
{
    char ident[300];

    for (int k = 0; k < s->nkeys; k++) {
        const cdc_col *c = &s->rel->cols[s->keycol[k]];

        agent_pg_quote_ident(conn, c->name, ident, sizeof(ident));
        cdc_buf_printf(&s->keyrow, "%s%s", k ? ", " : "ROW(", ident);
        /* aliased: ORDER BY "id" would otherwise sort by this text output column */
        cdc_buf_printf(&s->keytext, "%s%s::text AS cdcagent_t%d", k ? ", " : "", ident, k);
        s->ord[k] = cdc_xmalloc(strlen(ident) + 32);
        sprintf(s->ord[k], "%s%s", ident, replica_stores_text(c) ? "::text COLLATE \"C\""
                                          : in_result(collated, c->name) ? " COLLATE \"C\"" : "");
        cdc_buf_printf(&s->order, "%s%s", k ? ", " : "", s->ord[k]);
    }
    cdc_buf_puts(&s->keyrow, ")::text");
}

int
verify_pg_sql_init(pg_sql *s, PGconn *conn, const cdc_rel *rel, cdc_err *err)
{
    char      ident[300], nsp[300];
    bool      first = true;
    PGresult *collated;

    memset(s, 0, sizeof(*s));
    s->rel = rel;
    agent_pg_quote_ident(conn, rel->nspname, nsp, sizeof(nsp));
    agent_pg_quote_ident(conn, rel->relname, ident, sizeof(ident));
    snprintf(s->from, sizeof(s->from), "%s.%s", nsp, ident);
    cdc_buf_puts(&s->row, "ROW(");
    for (int i = 0; i < rel->ncols; i++) {
        if (!rel->cols[i].ctype.supported)
            continue;   /* the replica has no column for it */
        agent_pg_quote_ident(conn, rel->cols[i].name, ident, sizeof(ident));
        cdc_buf_printf(&s->row, "%s%s", first ? "" : ", ", ident);
        cdc_buf_printf(&s->cols, "%s%s::text", first ? "" : ", ", ident);
        first = false;
    }
    cdc_buf_puts(&s->row, ")::text");
    s->keycol = cdc_xcalloc((size_t) rel->nkeys + 1, sizeof(int));
    s->ord = cdc_xcalloc((size_t) rel->nkeys + 1, sizeof(char *));
    for (int k = 1; k <= rel->nkeys; k++)
        for (int i = 0; i < rel->ncols; i++)
            if (rel->cols[i].key_pos == k)
                s->keycol[s->nkeys++] = i;
    if (s->nkeys == 0)
        return 0;
    collated = collated_columns(conn, s, err);
    if (collated == NULL)
        return -1;
    put_key_order(s, conn, collated);
    PQclear(collated);
    return 0;
}

void
verify_pg_sql_free(pg_sql *s)
{
    cdc_buf_free(&s->row);
    cdc_buf_free(&s->cols);
    cdc_buf_free(&s->keyrow);
    cdc_buf_free(&s->keytext);
    cdc_buf_free(&s->order);
    free(s->src_from);
    s->src_from = NULL;
    for (int k = 0; k < s->nkeys; k++)
        free(s->ord[k]);
    free(s->ord);
    free(s->keycol);
}

/* "(e1, e2) op ($p, $p+1)": the key against parameters, row-wise. */
void
verify_pg_key_cmp(cdc_buf *q, const pg_sql *s, const char *op, int first_param)
{
    cdc_buf_printf(q, "(%s) %s (", cdc_buf_str(&s->order), op);
    for (int k = 0; k < s->nkeys; k++)
        cdc_buf_printf(q, "%s$%d", k ? ", " : "", first_param + k);
    cdc_buf_putc(q, ')');
}

int64_t
verify_pg_count(PGconn *conn, const char *side, const pg_sql *s, cdc_err *err)
{
    cdc_buf   q = CDC_BUF_INIT;
    PGresult *res;
    int64_t   n = -1;

    cdc_buf_printf(&q, "SELECT count(*) FROM %s", side_from(s, side));
    res = query(conn, side, &q, 0, NULL, s, err);
    if (res != NULL)
        n = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    cdc_buf_free(&q);
    return n;
}

/*
 * The destination's table and the columns compared: a missing table or
 * column is a difference that no checksum can describe.
 * @returns 1 when the comparison can go on, 0 when t says why not, -1 on error.
 */
static int
check_target(verify_ctx *vc, const pg_sql *s, verify_table *t, cdc_err *err)
{
    cdc_buf     q = CDC_BUF_INIT;
    const char *p[1] = { s->from };
    PGresult   *res;
    bool        exists;

    cdc_buf_puts(&q, "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass($1) "
                     "AND attnum > 0 AND NOT attisdropped");
    res = query(vc->dst, "destination", &q, 1, p, s, err);
    cdc_buf_free(&q);
    if (res == NULL)
        return -1;
    exists = PQntuples(res) > 0;
    if (!exists)
        snprintf(t->note, sizeof(t->note), "table %s does not exist in the destination",
                 t->name);
    for (int i = 0; i < s->rel->ncols && exists; i++) {
        size_t len = strlen(t->note);

        if (!s->rel->cols[i].ctype.supported || in_result(res, s->rel->cols[i].name))
            continue;
        snprintf(t->note + len, sizeof(t->note) - len, "%s%s",
                 len ? ", " : "columns missing in the destination: ", s->rel->cols[i].name);
    }
    PQclear(res);
    if (t->note[0] == '\0')
        return 1;
    t->src_rows = verify_pg_count(vc->src, "source", s, err);
    if (t->src_rows >= 0 && exists)
        t->dst_rows = verify_pg_count(vc->dst, "destination", s, err);
    return t->src_rows < 0 || t->dst_rows < 0 ? -1 : 0;
}

/* Every step-th key of the source (ordered as the ranges are): the upper bounds. */
PGresult *
verify_pg_bounds(verify_ctx *vc, const pg_sql *s, int64_t n, cdc_err *err)
{
    cdc_buf   q = CDC_BUF_INIT;
    int64_t   step = (n + vc->ranges - 1) / vc->ranges;
    PGresult *res;

    if (step < 1)
        step = 1;
    cdc_buf_printf(&q, "SELECT %s FROM (SELECT *, row_number() OVER (ORDER BY %s) AS "
                   "cdcagent_rn FROM %s) s WHERE cdcagent_rn %% %lld = 0 AND cdcagent_rn < %lld "
                   "ORDER BY cdcagent_rn", cdc_buf_str(&s->keytext), cdc_buf_str(&s->order),
                   side_from(s, "source"), (long long) step, (long long) n);
    res = query(vc->src, "source", &q, 0, NULL, s, err);
    cdc_buf_free(&q);
    return res;
}

/* The boundaries as parameters, row after row. */
static const char **
bound_params(PGresult *b, int nkeys)
{
    int          nb = PQntuples(b);
    const char **p = cdc_xcalloc((size_t) (nb * nkeys) + 1, sizeof(*p));

    for (int i = 0; i < nb; i++)
        for (int k = 0; k < nkeys; k++)
            p[i * nkeys + k] = PQgetvalue(b, i, k);
    return p;
}

/* Per range: count and md5 of the row texts in key order (ranges without rows are absent). */
static PGresult *
range_sums(PGconn *conn, const char *side, const pg_sql *s, int nb, const char **params,
           cdc_err *err)
{
    cdc_buf   q = CDC_BUF_INIT;
    PGresult *res;

    cdc_buf_puts(&q, "SELECT r, count(*), md5(string_agg(t, E'\\n' ORDER BY ");
    for (int k = 0; k < s->nkeys; k++)
        cdc_buf_printf(&q, "%scdcagent_k%d", k ? ", " : "", k);
    cdc_buf_puts(&q, ")) FROM (SELECT ");
    if (nb > 0)
        cdc_buf_puts(&q, "CASE");
    for (int i = 0; i < nb; i++) {
        cdc_buf_puts(&q, " WHEN ");
        verify_pg_key_cmp(&q, s, "<=", i * s->nkeys + 1);
        cdc_buf_printf(&q, " THEN %d", i);
    }
    cdc_buf_printf(&q, nb > 0 ? " ELSE %d END AS r" : "%d AS r", nb);
    cdc_buf_printf(&q, ", %s AS t", cdc_buf_str(&s->row));
    for (int k = 0; k < s->nkeys; k++)   /* the aggregate sorts as the ranges do */
        cdc_buf_printf(&q, ", %s AS cdcagent_k%d", s->ord[k], k);
    cdc_buf_printf(&q, " FROM %s) s GROUP BY r ORDER BY r", side_from(s, side));
    res = query(conn, side, &q, nb * s->nkeys, params, s, err);
    cdc_buf_free(&q);
    return res;
}

/* The {"column": "text"} object of a key, from ncols text columns starting at col. */
static json_t *
key_object(const pg_sql *s, PGresult *res, int row, int col)
{
    json_t *k = json_object();

    for (int i = 0; i < s->nkeys; i++)
        json_object_set_new(k, s->rel->cols[s->keycol[i]].name,
                            json_string(PQgetvalue(res, row, col + i)));
    return k;
}

/* The supported columns whose values differ for one key, "a, b". */
static char *
column_diff(verify_ctx *vc, const pg_sql *s, PGresult *keys, int row, cdc_err *err)
{
    cdc_buf      q = CDC_BUF_INIT, out = CDC_BUF_INIT;
    const char **p = cdc_xcalloc((size_t) s->nkeys + 1, sizeof(*p));
    PGresult    *a = NULL, *b = NULL;
    char        *names = NULL;

    for (int k = 0; k < s->nkeys; k++)
        p[k] = PQgetvalue(keys, row, 2 + k);
    cdc_buf_printf(&q, "SELECT %s FROM %s WHERE ", cdc_buf_str(&s->cols), s->from);
    verify_pg_key_cmp(&q, s, "=", 1);
    a = query(vc->src, "source", &q, s->nkeys, p, s, err);
    b = a ? query(vc->dst, "destination", &q, s->nkeys, p, s, err) : NULL;
    if (b != NULL && PQntuples(a) == 1 && PQntuples(b) == 1) {
        for (int c = 0, n = 0; c < s->rel->ncols; c++) {
            if (!s->rel->cols[c].ctype.supported)
                continue;
            if (PQgetisnull(a, 0, n) != PQgetisnull(b, 0, n) ||
                strcmp(PQgetvalue(a, 0, n), PQgetvalue(b, 0, n)) != 0)
                cdc_buf_printf(&out, "%s%s", out.len ? ", " : "", s->rel->cols[c].name);
            n++;
        }
        names = cdc_xstrdup(cdc_buf_str(&out));
    } else if (b != NULL) {
        names = cdc_xstrdup("");
    }
    PQclear(a);
    PQclear(b);
    cdc_buf_free(&q);
    cdc_buf_free(&out);
    free(p);
    return names;
}

/* (key row text, md5 of the row, key columns as text) of one range, in key order. */
static PGresult *
range_rows(PGconn *conn, const char *side, const pg_sql *s, int r, int nb, PGresult *b,
           cdc_err *err)
{
    cdc_buf      q = CDC_BUF_INIT;
    const char **p = cdc_xcalloc((size_t) (2 * s->nkeys) + 1, sizeof(*p));
    int          np = 0;
    PGresult    *res;

    cdc_buf_printf(&q, "SELECT %s, md5(%s), %s FROM %s WHERE true", cdc_buf_str(&s->keyrow),
                   cdc_buf_str(&s->row), cdc_buf_str(&s->keytext), side_from(s, side));
    if (r > 0) {
        cdc_buf_puts(&q, " AND ");
        verify_pg_key_cmp(&q, s, ">", np + 1);
        for (int k = 0; k < s->nkeys; k++)
            p[np++] = PQgetvalue(b, r - 1, k);
    }
    if (r < nb) {
        cdc_buf_puts(&q, " AND ");
        verify_pg_key_cmp(&q, s, "<=", np + 1);
        for (int k = 0; k < s->nkeys; k++)
            p[np++] = PQgetvalue(b, r, k);
    }
    cdc_buf_printf(&q, " ORDER BY %s", cdc_buf_str(&s->order));
    res = query(conn, side, &q, np, p, s, err);
    cdc_buf_free(&q);
    free(p);
    return res;
}

static int
entry_cmp(const void *a, const void *b)
{
    const pg_entry *x = a, *y = b;

    if (x->pos != y->pos)
        return x->pos < y->pos ? -1 : 1;
    return (x->dst > y->dst) - (x->dst < y->dst);
}

/*
 * Both listings are in the same key order, so a key only in the destination
 * sits right after the last key before it that both sides have (its anchor):
 * that places it among the source's keys without comparing keys in C.
 */
static pg_entry *
merge_listings(PGresult *sr, PGresult *dr, int *nentries)
{
    int       ns = PQntuples(sr), nd = PQntuples(dr), n = 0, anchor = -1;
    json_t   *where = json_object();
    int      *matched = cdc_xcalloc((size_t) nd + 1, sizeof(int));
    pg_entry *e = cdc_xcalloc((size_t) (ns + nd) + 1, sizeof(*e));

    for (int j = 0; j < nd; j++) {
        matched[j] = -1;
        json_object_set_new(where, PQgetvalue(dr, j, 0), json_integer(j));
    }
    for (int i = 0; i < ns; i++) {
        json_t *jv = json_object_get(where, PQgetvalue(sr, i, 0));
        int     j = jv ? (int) json_integer_value(jv) : -1;

        if (j >= 0)
            matched[j] = i;
        if (j < 0 || strcmp(PQgetvalue(sr, i, 1), PQgetvalue(dr, j, 1)) != 0)
            e[n++] = (pg_entry) { 2 * i, i, j };
    }
    for (int j = 0; j < nd; j++) {
        if (matched[j] >= 0)
            anchor = matched[j];
        else
            e[n++] = (pg_entry) { 2 * anchor + 1, -1, j };
    }
    qsort(e, (size_t) n, sizeof(*e), entry_cmp);
    json_decref(where);
    free(matched);
    *nentries = n;
    return e;
}

/* Lists the differing keys of range r (as many as there is room for). */
static int
narrow(verify_ctx *vc, const pg_sql *s, verify_table *t, int r, int nb, PGresult *b,
       cdc_err *err)
{
    PGresult *sr = range_rows(vc->src, "source", s, r, nb, b, err);
    PGresult *dr = sr ? range_rows(vc->dst, "destination", s, r, nb, b, err) : NULL;
    pg_entry *e = NULL;
    int       n = 0, rc = -1;

    if (dr == NULL)
        goto out;
    e = merge_listings(sr, dr, &n);
    for (int i = 0; i < n; i++) {
        char *detail = NULL;

        if (t->ndiffs == VERIFY_MAX_DIFFS) {
            t->more = true;
            break;
        }
        if (e[i].src >= 0 && e[i].dst >= 0 &&
            (detail = column_diff(vc, s, sr, e[i].src, err)) == NULL)
            goto out;
        verify_add_diff(t, e[i].dst < 0 ? VERIFY_MISSING : e[i].src < 0 ? VERIFY_EXTRA
                                                                         : VERIFY_DIFFERS,
                        e[i].src >= 0 ? key_object(s, sr, e[i].src, 2)
                                      : key_object(s, dr, e[i].dst, 2), NULL, detail);
    }
    rc = 0;
out:
    free(e);
    PQclear(sr);
    PQclear(dr);
    return rc;
}

/* Index of range r in a range_sums result, or -1 when it has no rows. */
static int
find_range(PGresult *res, int r)
{
    for (int i = 0; i < PQntuples(res); i++)
        if (atoi(PQgetvalue(res, i, 0)) == r)
            return i;
    return -1;
}

static void
tally_ranges(verify_table *t, PGresult *ss, PGresult *ds, int nb, bool *differs)
{
    for (int r = 0; r <= nb; r++) {
        int         i = find_range(ss, r), j = find_range(ds, r);
        const char *sc = i >= 0 ? PQgetvalue(ss, i, 1) : "0";
        const char *dc = j >= 0 ? PQgetvalue(ds, j, 1) : "0";
        const char *sm = i >= 0 ? PQgetvalue(ss, i, 2) : "";
        const char *dm = j >= 0 ? PQgetvalue(ds, j, 2) : "";

        t->src_rows += strtoll(sc, NULL, 10);
        t->dst_rows += strtoll(dc, NULL, 10);
        differs[r] = strcmp(sc, dc) != 0 || strcmp(sm, dm) != 0;
        t->ranges_differing += differs[r];
    }
}

static int
compare_ranges(verify_ctx *vc, const pg_sql *s, verify_table *t, cdc_err *err)
{
    int64_t      n = verify_pg_count(vc->src, "source", s, err);
    PGresult    *b = n >= 0 ? verify_pg_bounds(vc, s, n, err) : NULL;
    PGresult    *ss = NULL, *ds = NULL;
    const char **params = NULL;
    bool        *differs = NULL;
    int          nb, rc = -1;

    if (b == NULL)
        return -1;
    nb = PQntuples(b);
    params = bound_params(b, s->nkeys);
    ss = range_sums(vc->src, "source", s, nb, params, err);
    ds = ss ? range_sums(vc->dst, "destination", s, nb, params, err) : NULL;
    if (ds == NULL)
        goto out;
    t->method = "key_ranges";
    t->ranges = nb + 1;
    t->keys_differing = -1;
    differs = cdc_xcalloc((size_t) nb + 1, sizeof(bool));
    tally_ranges(t, ss, ds, nb, differs);
    for (int r = 0; r <= nb; r++) {
        if (!differs[r])
            continue;
        if (t->ndiffs == VERIFY_MAX_DIFFS) {
            t->more = true;
            break;
        }
        if (narrow(vc, s, t, r, nb, b, err) < 0)
            goto out;
    }
    t->equal = t->ranges_differing == 0;
    rc = 0;
out:
    free(differs);
    free(params);
    PQclear(b);
    PQclear(ss);
    PQclear(ds);
    return rc;
}

/* Without a key: (md5, copies, text) of every distinct row. */
static PGresult *
row_groups(PGconn *conn, const char *side, const pg_sql *s, cdc_err *err)
{
    cdc_buf   q = CDC_BUF_INIT;
    PGresult *res;

    cdc_buf_printf(&q, "SELECT md5(t), count(*), min(t) FROM (SELECT %s AS t FROM %s) s "
                   "GROUP BY 1 ORDER BY min(t) COLLATE \"C\"", cdc_buf_str(&s->row),
                   side_from(s, side));
    res = query(conn, side, &q, 0, NULL, s, err);
    cdc_buf_free(&q);
    return res;
}

static void
multiset_diff(verify_table *t, PGresult *sg, PGresult *dg)
{
    json_t *where = json_object();
    char    detail[120];

    for (int j = 0; j < PQntuples(dg); j++)
        json_object_set_new(where, PQgetvalue(dg, j, 0), json_integer(j));
    for (int i = 0; i < PQntuples(sg); i++) {
        json_t   *jv = json_object_get(where, PQgetvalue(sg, i, 0));
        long long cs = strtoll(PQgetvalue(sg, i, 1), NULL, 10), cd = 0;

        if (jv != NULL) {
            cd = strtoll(PQgetvalue(dg, (int) json_integer_value(jv), 1), NULL, 10);
            json_object_del(where, PQgetvalue(sg, i, 0));
        }
        if (cs == cd)
            continue;
        t->keys_differing++;
        snprintf(detail, sizeof(detail), "%lld in the source, %lld in the destination", cs, cd);
        verify_add_diff(t, cs > cd ? VERIFY_MISSING : VERIFY_EXTRA, NULL,
                        cdc_xstrdup(PQgetvalue(sg, i, 2)), cdc_xstrdup(detail));
    }
    for (int j = 0; j < PQntuples(dg); j++) {
        if (json_object_get(where, PQgetvalue(dg, j, 0)) == NULL)
            continue;
        t->keys_differing++;
        snprintf(detail, sizeof(detail), "0 in the source, %s in the destination",
                 PQgetvalue(dg, j, 1));
        verify_add_diff(t, VERIFY_EXTRA, NULL, cdc_xstrdup(PQgetvalue(dg, j, 2)),
                        cdc_xstrdup(detail));
    }
    json_decref(where);
}

/* Without a key: count and md5 of the sorted row texts. */
static PGresult *
multiset_sum(PGconn *conn, const char *side, const pg_sql *s, cdc_err *err)
{
    cdc_buf   q = CDC_BUF_INIT;
    PGresult *res;

    cdc_buf_printf(&q, "SELECT count(*), coalesce(md5(string_agg(t, E'\\n' ORDER BY t COLLATE "
                   "\"C\")), '') FROM (SELECT %s AS t FROM %s) s", cdc_buf_str(&s->row),
                   side_from(s, side));
    res = query(conn, side, &q, 0, NULL, s, err);
    cdc_buf_free(&q);
    return res;
}

static int
compare_multiset(verify_ctx *vc, const pg_sql *s, verify_table *t, cdc_err *err)
{
    PGresult *ss = multiset_sum(vc->src, "source", s, err);
    PGresult *ds = ss ? multiset_sum(vc->dst, "destination", s, err) : NULL;
    PGresult *sg = NULL, *dg = NULL;
    bool      same;

    if (ds == NULL) {
        PQclear(ss);
        return -1;
    }
    t->method = "multiset";
    same = strcmp(PQgetvalue(ss, 0, 0), PQgetvalue(ds, 0, 0)) == 0 &&
           strcmp(PQgetvalue(ss, 0, 1), PQgetvalue(ds, 0, 1)) == 0;
    t->src_rows = strtoll(PQgetvalue(ss, 0, 0), NULL, 10);
    t->dst_rows = strtoll(PQgetvalue(ds, 0, 0), NULL, 10);
    PQclear(ss);
    PQclear(ds);
    t->equal = same;
    if (same)
        return 0;
    /* only now is every distinct row listed, to say which ones differ */
    sg = row_groups(vc->src, "source", s, err);
    dg = sg ? row_groups(vc->dst, "destination", s, err) : NULL;
    if (dg == NULL) {
        PQclear(sg);
        return -1;
    }
    multiset_diff(t, sg, dg);
    t->equal = false;
    PQclear(sg);
    PQclear(dg);
    return 0;
}

int
verify_pg_table(verify_ctx *vc, const cdc_rel *rel, verify_table *t, cdc_err *err)
{
    pg_sql s;
    int    rc;

    if (verify_pg_sql_init(&s, vc->src, rel, err) < 0) {
        verify_pg_sql_free(&s);
        return -1;
    }
    verify_key_names(rel, t->keycols, sizeof(t->keycols));
    if (cfg_row_filter(&vc->cfg->pipeline.source, rel->nspname, rel->relname) != NULL) {
        cdc_buf b = CDC_BUF_INIT;

        cdc_buf_printf(&b, "(SELECT * FROM %s", s.from);
        verify_put_row_filter(vc, rel, &b);
        cdc_buf_puts(&b, ") AS cdcagent_f");
        s.src_from = cdc_xstrdup(cdc_buf_str(&b));
        cdc_buf_free(&b);
    }
    t->method = s.nkeys > 0 ? "key_ranges" : "multiset";
    rc = check_target(vc, &s, t, err);
    if (rc > 0)
        rc = s.nkeys > 0 ? compare_ranges(vc, &s, t, err) : compare_multiset(vc, &s, t, err);
    else
        t->method = NULL;   /* not compared: t->note says why */
    verify_pg_sql_free(&s);
    return rc < 0 ? -1 : 0;
}

/*
 * verify against an iceberg sink, the source's side: its rows selected
 * (with the row filter and the range), converted as the sink converts a
 * change, and streamed against the state; what is left is extra.
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
        const char *fs = verify_ice_canon_field(src, i, &ns);
        const char *fd = verify_ice_canon_field(dst, i, &nd);

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
        verify_ice_canon_put(&v->cb, &v->tmp, i, &v->cols[i].f->type, &iv);
    }
    if (cdc_buf_failed(&v->cb) || cdc_buf_failed(&v->kb) || cdc_buf_failed(&v->tmp))
        return cdc_err_set(err, CDC_E_NOMEM, "verify: out of memory");
    canon = cdc_buf_str(&v->cb);
    v->t->src_rows++;
    if (v->nkeys == 0) {
        source_row_multiset(v, res, canon);
        return 0;
    }
    kh = verify_ice_hex_of(v->kb.data, v->kb.len);
    e = json_object_get(v->state, kh);
    if (e == NULL) {
        v->t->keys_differing++;
        verify_add_diff(v->t, VERIFY_MISSING, source_key(v, res), NULL, NULL);
    } else {
        const char *drow = verify_ice_entry_row(v, e);

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
int
verify_ice_source_begin(verify_ctx *vc, vtab *v, cdc_err *err)
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
int
verify_ice_source_rows(verify_ctx *vc, vtab *v, cdc_err *err)
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
void
verify_ice_extras(vtab *v)
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
            verify_add_diff(v->t, VERIFY_EXTRA, NULL, verify_ice_render_row(v, k),
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
            verify_add_diff(v->t, VERIFY_EXTRA, verify_ice_render_key(v, k), NULL,
                            dn ? cdc_xstrdup(detail) : NULL);
        }
    }
}

/* The source's row count alone (a table that is not compared). */
int
verify_ice_count_source(verify_ctx *vc, const cdc_rel *rel, verify_table *t, cdc_err *err)
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

int64_t
verify_ice_multiset_rows(json_t *state)
{
    const char *k;
    json_t     *e;
    int64_t     n = 0;

    json_object_foreach(state, k, e)
        if (json_integer_value(e) > 0)
            n += json_integer_value(e);
    return n;
}

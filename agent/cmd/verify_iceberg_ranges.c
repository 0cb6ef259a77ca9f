/*
 * verify against an iceberg sink, key ranges (--ranges, or a large table):
 * the source's key bounds as verify_pg.c cuts them, parsed as Iceberg
 * values, and for a single key column the data files each range may touch.
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

void
verify_ice_vranges_free(vranges *rg)
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
const char **
verify_ice_range_files(vtab *v, int *n)
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
int
verify_ice_plan_ranges(verify_ctx *vc, ice_store *st, const ice_meta *m, vtab *v, cdc_buf *note,
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
    verify_ice_vranges_free(rg);
    v->rg = NULL;
    return 0;
}

/* Appends "4 (id > 1875 and <= 2500)" for the range being compared, the first few only. */
void
verify_ice_range_text(const vtab *v, cdc_buf *b)
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

#include "agent/source/catalog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/core/cdc_log.h"
#include "agent/core/cdc_mem.h"
#include "agent/core/net/pgconn.h"
#include "decoder/values.h"

/*
 * The table's columns, stored generated ones included: the snapshot reads
 * them, as Debezium's does (its JDBC query selects every column), although
 * pgoutput does not publish them before PostgreSQL 18, so the streamed
 * relation has them no more (docs/debezium-compat.md, "Generated columns").
 * A generated column's expression is read as its default, as Debezium reads
 * JDBC's COLUMN_DEF: ('n'::text || a) gives the default "n" (seen in 260).
 */
static const char cols_sql[] =
    "SELECT a.attname, a.attnotnull, a.atttypid, a.atttypmod,"
    "       pg_get_expr(d.adbin, d.adrelid),"
    "       format_type(a.atttypid, a.atttypmod), a.attgenerated <> '',"
    "       (SELECT t.typname FROM pg_type t WHERE t.oid = a.atttypid)"
    "  FROM pg_attribute a"
    "  LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum"
    " WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped"
    " ORDER BY a.attnum";

/* Key candidates: the primary key first, then unique indexes by name (JDBC getIndexInfo order). */
static const char key_sql[] =
    "SELECT c.relname, a.attname"
    "  FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
    "  CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)"
    "  JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum"
    " WHERE i.indrelid = $1 AND i.indisunique AND i.indisvalid AND i.indexprs IS NULL"
    " ORDER BY i.indisprimary DESC, c.relname, k.ord";

static const char type_sql[] =
    "SELECT typtype, typbasetype, typtypmod, typelem, typcategory FROM pg_type WHERE oid = $1";

static const char enum_sql[] =
    "SELECT string_agg(enumlabel, ',' ORDER BY enumsortorder) FROM pg_enum WHERE enumtypid = $1";

typedef struct type_info {
    uint32_t base;      /* after domain resolution */
    int32_t  typmod;    /* a domain's own typmod, -1 if none */
    char     typtype;
    char     category;
    uint32_t elem;
} type_info;

static int
read_type(PGconn *conn, uint32_t oid, type_info *ti, cdc_err *err)
{
    char        buf[16];
    const char *p[1] = { buf };
    PGresult   *res;

    ti->base = oid;
    ti->typmod = -1;
    /* Follow a domain chain to its root base type; the outermost typmod wins. */
    for (int depth = 0; depth < 32; depth++) {
        snprintf(buf, sizeof(buf), "%u", ti->base);
        res = agent_pg_query(conn, type_sql, 1, p, "reading pg_type", err);
        if (res == NULL)
            return -1;
        if (PQntuples(res) != 1) {
            PQclear(res);
            return cdc_err_set(err, CDC_E_PG, "type %u not found in pg_type", ti->base);
        }
        ti->typtype = PQgetvalue(res, 0, 0)[0];
        ti->category = PQgetvalue(res, 0, 4)[0];
        ti->elem = (uint32_t) strtoul(PQgetvalue(res, 0, 3), NULL, 10);
        if (ti->typtype != 'd') {
            PQclear(res);
            return 0;
        }
        if (ti->typmod < 0)
            ti->typmod = (int32_t) strtol(PQgetvalue(res, 0, 2), NULL, 10);
        ti->base = (uint32_t) strtoul(PQgetvalue(res, 0, 1), NULL, 10);
        PQclear(res);
    }
    return cdc_err_set(err, CDC_E_PG, "type %u: domain chain too deep", oid);
}

static char *
read_enum_labels(PGconn *conn, cdc_rel *rel, uint32_t oid, cdc_err *err, int *rc)
{
    char        buf[16];
    const char *p[1] = { buf };
    PGresult   *res;
    char       *labels = NULL;

    snprintf(buf, sizeof(buf), "%u", oid);
    res = agent_pg_query(conn, enum_sql, 1, p, "reading pg_enum", err);
    if (res == NULL) {
        *rc = -1;
        return NULL;
    }
    if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0))
        labels = pgo_rel_strdup(rel, PQgetvalue(res, 0, 0));
    PQclear(res);
    return labels;
}

static cdc_col *
find_col(cdc_rel *rel, const char *name)
{
    for (int i = 0; i < rel->ncols; i++)
        if (strcmp(rel->cols[i].name, name) == 0)
            return &rel->cols[i];
    return NULL;
}

static int
enrich_types(PGconn *conn, cdc_rel *rel, cdc_col *col, cdc_err *err)
{
    type_info ti, ei;
    int       rc = 0;

    if (read_type(conn, col->type_oid, &ti, err) < 0)
        return -1;
    col->base_oid = ti.base;
    col->typtype = ti.typtype;
    if (col->typmod < 0 && ti.typmod >= 0)
        col->typmod = ti.typmod;
    col->elem_oid = 0;
    if (ti.category == 'A' && ti.elem != 0) {
        if (read_type(conn, ti.elem, &ei, err) < 0)
            return -1;
        col->elem_oid = ei.base;
        if (ei.typtype == 'e')
            col->enum_labels = read_enum_labels(conn, rel, ei.base, err, &rc);
    } else if (ti.typtype == 'e') {
        col->enum_labels = read_enum_labels(conn, rel, ti.base, err, &rc);
    }
    return rc;
}

static int
enrich_key(PGconn *conn, cdc_rel *rel, const char *relid, cdc_err *err)
{
    const char *p[1] = { relid };
    PGresult   *res = agent_pg_query(conn, key_sql, 1, p, "reading the table's key", err);
    const char *first;
    int         pos = 0;

    if (res == NULL)
        return -1;
    rel->nkeys = 0;
    for (int i = 0; i < rel->ncols; i++)
        rel->cols[i].key_pos = 0;
    first = PQntuples(res) > 0 ? PQgetvalue(res, 0, 0) : NULL;
    for (int r = 0; r < PQntuples(res); r++) {
        cdc_col *col;

        if (strcmp(PQgetvalue(res, r, 0), first) != 0)
            break;
        col = find_col(rel, PQgetvalue(res, r, 1));
        if (col == NULL) {
            /* The key uses a column pgoutput does not publish: no usable key. */
            for (int i = 0; i < rel->ncols; i++)
                rel->cols[i].key_pos = 0;
            pos = 0;
            break;
        }
        col->key_pos = ++pos;
    }
    rel->nkeys = pos;
    PQclear(res);
    return 0;
}

/* Without the catalog, the replica identity columns are the best key there is. */
static void
key_from_replident(cdc_rel *rel)
{
    int pos = 0;

    if (rel->replident == 'f' || rel->replident == 'n')
        return;
    for (int i = 0; i < rel->ncols; i++)
        rel->cols[i].key_pos = rel->cols[i].replident ? ++pos : 0;
    rel->nkeys = pos;
}

/*
 * A database whose encoding is not UTF8 (SQL_ASCII) can hold bytes that are
 * not UTF-8: turn the decoder's check on and look at the column names
 * (decoder/values_utf8.c).  The snapshot and the stream both come here
 * before decoding a row of rel.
 */
static void
encoding_check(PGconn *conn, const cdc_rel *rel)
{
    /* agent_pg_connect() has every other encoding converted to UTF8; SQL_ASCII cannot be */
    const char *enc = PQparameterStatus(conn, "client_encoding");

    if (enc != NULL && strcmp(enc, "UTF8") != 0 && !pgo_utf8_check_on()) {
        log_warn("catalog", "the source database's encoding is %s, not UTF8: text that is not "
                 "valid UTF-8 is written with U+FFFD in its place, warned once per column and "
                 "counted in cdcagent_invalid_utf8_values_total", enc);
        pgo_utf8_check_set(true);
    }
    if (rel != NULL)
        pgo_utf8_check_names(rel);
}

int
agent_catalog_enrich(PGconn *conn, cdc_rel *rel, cdc_err *err)
{
    char        relid[16];
    const char *p[1] = { relid };
    PGresult   *res;
    int         rc = -1;

    snprintf(relid, sizeof(relid), "%u", rel->relid);
    res = agent_pg_query(conn, cols_sql, 1, p, "reading the table's columns", err);
    if (res == NULL)
        goto out;
    if (PQntuples(res) == 0) {
        log_warn("catalog", "table %s.%s (oid %u) is gone from the catalog; keying it by its "
                 "replica identity", rel->nspname, rel->relname, rel->relid);
        key_from_replident(rel);
        rc = 0;
        goto out;
    }
    for (int r = 0; r < PQntuples(res); r++) {
        cdc_col *col = find_col(rel, PQgetvalue(res, r, 0));

        if (col == NULL)
            continue; /* added after this Relation message; a new one will follow */
        col->not_null = PQgetvalue(res, r, 1)[0] == 't';
        col->default_expr = PQgetisnull(res, r, 4) ? NULL : pgo_rel_strdup(rel, PQgetvalue(res, r, 4));
        col->type_name = pgo_rel_strdup(rel, PQgetvalue(res, r, 5));
        col->generated = PQgetvalue(res, r, 6)[0] == 't';
        col->typname = pgo_rel_strdup(rel, PQgetvalue(res, r, 7));
        if (enrich_types(conn, rel, col, err) < 0)
            goto out;
        col->catalog_known = true;
    }
    rc = enrich_key(conn, rel, relid, err);
    encoding_check(conn, rel);
out:
    if (rc < 0)
        cdc_err_wrap(err, "table %s.%s", rel->nspname, rel->relname);
    PQclear(res);
    return rc;
}

static const char rel_sql[] =
    "SELECT c.oid, c.relreplident FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
    " WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')";

/* Columns of the replica identity index (or primary key), as pgoutput flags them. */
static const char ident_sql[] =
    "SELECT a.attname FROM pg_index i"
    "  JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)"
    " WHERE i.indrelid = $1 AND (CASE WHEN $2 = 'i' THEN i.indisreplident ELSE i.indisprimary END)";

cdc_rel *
agent_catalog_install(PGconn *conn, pgo_relcache *rc, const char *schema, const char *table,
                      cdc_err *err)
{
    const char *p2[2] = { schema, table };
    PGresult   *res = NULL, *cres = NULL, *ires = NULL;
    cdc_col    *cols = NULL;
    cdc_rel    *rel = NULL;
    char        relid[16], ident;
    bool        changed;
    int         n;

    res = agent_pg_query(conn, rel_sql, 2, p2, "looking up a captured table", err);
    if (res == NULL)
        goto out;
    if (PQntuples(res) != 1) {
        cdc_err_set(err, CDC_E_CONFIG, "table %s.%s does not exist in the source database",
                    schema, table);
        goto out;
    }
    snprintf(relid, sizeof(relid), "%s", PQgetvalue(res, 0, 0));
    ident = PQgetvalue(res, 0, 1)[0];
    {
        const char *p1[1] = { relid };
        const char *pi[2] = { relid, ident == 'i' ? "i" : "d" };

        cres = agent_pg_query(conn, cols_sql, 1, p1, "reading the table's columns", err);
        if (cres == NULL)
            goto out;
        ires = agent_pg_query(conn, ident_sql, 2, pi, "reading the replica identity", err);
        if (ires == NULL)
            goto out;
    }
    n = PQntuples(cres);
    cols = cdc_xcalloc((size_t) n, sizeof(*cols));
    for (int r = 0; r < n; r++) {
        cols[r].name = PQgetvalue(cres, r, 0);
        cols[r].type_oid = (uint32_t) strtoul(PQgetvalue(cres, r, 2), NULL, 10);
        cols[r].typmod = (int32_t) strtol(PQgetvalue(cres, r, 3), NULL, 10);
        cols[r].replident = ident == 'f';
        for (int k = 0; k < PQntuples(ires) && !cols[r].replident; k++)
            cols[r].replident = ident != 'n' && strcmp(PQgetvalue(ires, k, 0), cols[r].name) == 0;
    }
    rel = pgo_rel_install(rc, (uint32_t) strtoul(relid, NULL, 10), schema, table, ident, n, cols,
                          &changed);
    for (int r = 0; rel != NULL && r < n && r < rel->ncols; r++)
        rel->cols[r].generated = PQgetvalue(cres, r, 6)[0] == 't';
    if (rel != NULL && changed)
        rel->from_catalog = true;
    if (rel != NULL)
        encoding_check(conn, rel);
out:
    free(cols);
    PQclear(res);
    PQclear(cres);
    PQclear(ires);
    return rel;
}

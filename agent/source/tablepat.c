/*
 * Tables by pattern (see tablepat.h).  Debezium 2.7.4 sources followed:
 * RelationalTableFilters (system schemas left out), Selectors.
 * TableSelectionPredicateBuilder (include or exclude, schema AND table),
 * Predicates.includes/excludes (Pattern.CASE_INSENSITIVE, matcher.matches()).
 */
#include "agent/source/tablepat.h"

#include <stdlib.h>
#include <string.h>

#include "agent/core/cdc_buf.h"
#include "agent/core/cdc_log.h"
#include "agent/core/cdc_mem.h"
#include "agent/core/net/pgconn.h"
#include "agent/source/colfilter.h"

enum { PAT_TI, PAT_TE, PAT_SI, PAT_SE, PAT_N };

static const char *const pat_keys[PAT_N] = {
    "source.table_include_list", "source.table_exclude_list",
    "source.schema_include_list", "source.schema_exclude_list",
};

typedef struct pats {
    agent_relist l[PAT_N];
    bool         set[PAT_N];
} pats;

static void
pats_free(pats *p)
{
    for (int i = 0; i < PAT_N; i++)
        agent_relist_free(&p->l[i]);
}

static int
pats_compile(const cfg_source *src, pats *p, cdc_err *err)
{
    const char *v[PAT_N] = { src->table_include_list, src->table_exclude_list,
                             src->schema_include_list, src->schema_exclude_list };

    memset(p, 0, sizeof(*p));
    for (int i = 0; i < PAT_N; i++) {
        p->set[i] = v[i] && *v[i];
        if (p->set[i] && agent_relist_compile(&p->l[i], v[i], pat_keys[i], err) < 0) {
            pats_free(p);
            return -1;
        }
    }
    return 0;
}

/* Debezium's filter: (schema include or exclude) AND (table include or exclude). */
static bool
pats_match(const pats *p, const char *schema, const char *table)
{
    char name[2 * 256 + 2];
    bool ok = true;

    snprintf(name, sizeof(name), "%s.%s", schema, table);
    if (p->set[PAT_SI])
        ok = agent_relist_match(&p->l[PAT_SI], schema);
    else if (p->set[PAT_SE])
        ok = !agent_relist_match(&p->l[PAT_SE], schema);
    if (!ok)
        return false;
    if (p->set[PAT_TI])
        return agent_relist_match(&p->l[PAT_TI], name);
    if (p->set[PAT_TE])
        return !agent_relist_match(&p->l[PAT_TE], name);
    return true;
}

int
agent_tablepat_check(const cfg_source *src, cdc_err *err)
{
    pats p;

    if (pats_compile(src, &p, err) < 0)
        return -1;
    pats_free(&p);
    return 0;
}

bool
agent_tablepat_matches(const cfg_source *src, const char *schema, const char *table)
{
    pats p;
    bool m;

    if (pats_compile(src, &p, NULL) < 0)
        return false;
    m = pats_match(&p, schema, table);
    pats_free(&p);
    return m;
}

char *
agent_tablepat_spell(const char *schema, const char *table)
{
    const char *part[2] = { schema, table };
    cdc_buf     b = CDC_BUF_INIT;
    char       *s;

    for (int i = 0; i < 2; i++) {
        bool quote = strpbrk(part[i], ".\"") != NULL;

        if (i)
            cdc_buf_putc(&b, '.');
        if (quote)
            cdc_buf_putc(&b, '"');
        for (const char *c = part[i]; *c; c++) {
            if (*c == '"')
                cdc_buf_putc(&b, '"');
            cdc_buf_putc(&b, *c);
        }
        if (quote)
            cdc_buf_putc(&b, '"');
    }
    s = cdc_xstrdup(cdc_buf_str(&b));
    cdc_buf_free(&b);
    return s;
}

/*
 * The tables Debezium's PostgreSQL connector sees (ordinary and partitioned), without its
 * SystemTablesPredicate's (pg_catalog, information_schema, pg_temp*, PostGIS's
 * spatial_ref_sys), with the partition root of a partition (PostgreSQL 12+).
 */
static const char tables_sql[] =
    "SELECT n.nspname, c.relname, rn.nspname, r.relname, c.relkind = 'p'"
    "  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
    "  LEFT JOIN pg_class r ON c.relispartition AND r.oid = pg_partition_root(c.oid)"
    "  LEFT JOIN pg_namespace rn ON rn.oid = r.relnamespace"
    " WHERE c.relkind IN ('r', 'p') AND lower(n.nspname) NOT IN ('pg_catalog', 'information_schema')"
    "   AND n.nspname !~ '^pg_(toast|temp)' AND lower(c.relname) <> 'spatial_ref_sys'"
    " ORDER BY n.nspname, c.relname";

static bool
listed(const cfg_source *src, const char *schema, const char *table)
{
    for (int i = 0; i < src->ntables; i++) {
        char s[CFG_NAME_MAX + 1], t[CFG_NAME_MAX + 1];

        if (cfg_table_split(src->tables[i], s, t) == NULL && strcmp(s, schema) == 0 &&
            strcmp(t, table) == 0)
            return true;
    }
    return false;
}

/* Appends the matching tables src does not list; their number, or -1. */
static int
add_matching(PGconn *conn, cfg_source *src, pats *p, cdc_err *err)
{
    PGresult *res = agent_pg_query(conn, tables_sql, 0, NULL, "reading the tables that "
                                   "source.table_include_list and the like choose from", err);
    int       added = 0;

    if (res == NULL)
        return -1;
    for (int r = 0; r < PQntuples(res); r++) {
        const char *schema = PQgetvalue(res, r, 0), *table = PQgetvalue(res, r, 1);
        bool        part = !PQgetisnull(res, r, 3);
        bool        root_matches = part && pats_match(p, PQgetvalue(res, r, 2),
                                                      PQgetvalue(res, r, 3));

        if (listed(src, schema, table))
            continue;
        if (PQserverVersion(conn) < 130000) {
            /* no partitioned table in a publication: its partitions instead */
            if (PQgetvalue(res, r, 4)[0] == 't' ||
                !(pats_match(p, schema, table) || root_matches))
                continue;
        } else if (!pats_match(p, schema, table) || root_matches)
            continue;       /* a partition whose root matches: the root captures its rows */
        src->tables = cdc_xrealloc(src->tables, (size_t) (src->ntables + 1) *
                                   sizeof(*src->tables));
        src->tables[src->ntables++] = agent_tablepat_spell(schema, table);
        added++;
    }
    PQclear(res);
    return added;
}

int
agent_tablepat_resolve(PGconn *conn, cfg_source *src, cdc_err *err)
{
    pats        p;
    int         rc = 0;
    const char *re;

    if (!cfg_source_by_pattern(src))
        return 0;
    if (pats_compile(src, &p, err) < 0)
        return -1;
    if (add_matching(conn, src, &p, err) < 0)
        rc = -1;
    for (int i = 0; i < PAT_N && rc == 0; i++) {
        if (!p.set[i] || (re = agent_relist_unmatched(&p.l[i])) == NULL)
            continue;
        if (i == PAT_TI || i == PAT_SI)
            rc = cdc_err_set(err, CDC_E_CONFIG, "%s: \"%s\" matches no table of database "
                             "%s (regexes are matched whole and case-insensitively against "
                             "%s)", pat_keys[i], re, src->database,
                             i == PAT_TI ? "schema.table" : "the schema name");
        else
            log_warn("agent", "%s: \"%s\" matches no table of database %s", pat_keys[i], re,
                     src->database);
    }
    if (rc == 0 && src->ntables == 0)
        rc = cdc_err_set(err, CDC_E_CONFIG, "%s and the other pattern keys choose no table "
                         "of database %s", pat_keys[p.set[PAT_TI] ? PAT_TI
                                                    : p.set[PAT_TE] ? PAT_TE
                                                    : p.set[PAT_SI] ? PAT_SI : PAT_SE],
                         src->database);
    for (int i = 0; i < src->row_filters.n && rc == 0; i++) {
        char s[CFG_NAME_MAX + 1], t[CFG_NAME_MAX + 1];

        if (cfg_table_split(src->row_filters.items[i].key, s, t) == NULL && !listed(src, s, t))
            rc = cdc_err_set(err, CDC_E_CONFIG, "source.row_filters: table %s is not one "
                             "of the tables source.table_include_list and the like choose",
                             src->row_filters.items[i].key);
    }
    if (rc == 0) {
        cdc_buf b = CDC_BUF_INIT;

        for (int i = 0; i < src->ntables; i++)
            cdc_buf_printf(&b, "%s%s", i ? ", " : "", src->tables[i]);
        log_info("agent", "tables chosen by pattern (%d): %s", src->ntables, cdc_buf_str(&b));
        cdc_buf_free(&b);
    }
    pats_free(&p);
    return rc;
}

int
agent_tablepat_new_tables(PGconn *conn, cfg_source *src, cdc_err *err)
{
    pats p;
    int  n;

    if (!cfg_source_by_pattern(src))
        return 0;
    if (pats_compile(src, &p, err) < 0)
        return -1;
    n = add_matching(conn, src, &p, err);
    pats_free(&p);
    return n;
}

/*
 * The publication that tells pgoutput which tables to send, and the table
 * privileges the agent's role needs, both checked before any slot exists.
 * See publication.h for the rules; docs/dba.md ("Privileges") for what a DBA
 * grants.
 */
#include "agent/source/publication.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/core/cdc_buf.h"
#include "agent/core/cdc_log.h"
#include "agent/core/net/pgconn.h"
#include "agent/source/colfilter.h"
#include "agent/source/pg_source.h"

#define SQLSTATE_INSUFFICIENT_PRIVILEGE "42501"
#define SQLSTATE_UNIQUE_VIOLATION       "23505"
#define SQLSTATE_DUPLICATE_OBJECT       "42710"

/* One configured table as the server sees it; has is false when it does not exist. */
typedef struct table_access {
    bool has;
    bool schema_usage;      /* USAGE on its schema */
    bool select;            /* SELECT on the table */
    bool partitioned;       /* relkind 'p': captured through its root */
} table_access;

static const char access_sql[] =
    "SELECT has_schema_privilege(n.oid, 'USAGE'), has_table_privilege(c.oid, 'SELECT'),"
    "       c.relkind = 'p'"
    "  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
    " WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')";

/* The partitioned tables a table is a partition of, nearest first (PostgreSQL 12+). */
static const char ancestors_sql[] =
    "SELECT an.nspname, ac.relname"
    "  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
    "  CROSS JOIN LATERAL pg_partition_ancestors(c.oid) WITH ORDINALITY AS a(relid, ord)"
    "  JOIN pg_class ac ON ac.oid = a.relid JOIN pg_namespace an ON an.oid = ac.relnamespace"
    " WHERE n.nspname = $1 AND c.relname = $2 AND a.relid <> c.oid AND c.relispartition"
    " ORDER BY a.ord";

/* "schema"."table", quoted as SQL needs it, into out (at least 270 bytes). */
static char *
quoted_table(PGconn *conn, const char *schema, const char *table, char *out, size_t outsz)
{
    (void) conn;
    return agent_pg_quote_table(schema, table, out, outsz);
}

static int
read_access(PGconn *conn, const char *qualified, table_access *ta, cdc_err *err)
{
    char        schema[64], table[64];
    const char *p[2] = { schema, table };
    PGresult   *res;

    if (agent_pg_split_table(qualified, schema, table, err) < 0)
        return -1;
    res = agent_pg_query(conn, access_sql, 2, p, "reading the privileges on a captured table",
                         err);
    if (res == NULL)
        return cdc_err_wrap(err, "table %s", qualified);
    ta->has = PQntuples(res) == 1;
    ta->schema_usage = ta->has && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    ta->select = ta->has && strcmp(PQgetvalue(res, 0, 1), "t") == 0;
    ta->partitioned = ta->has && strcmp(PQgetvalue(res, 0, 2), "t") == 0;
    PQclear(res);
    return 0;
}

/*
 * A partition and a partitioned table it belongs to, both listed: the root
 * already captures the partition's rows (the snapshot reads them through
 * it, and publish_via_partition_root sends its changes as the root's), so
 * they would be captured twice.
 */
static int
check_not_nested(PGconn *conn, const cfg_source *src, int i, cdc_err *err)
{
    char        schema[64], table[64];
    const char *p[2] = { schema, table };
    PGresult   *res;
    int         rc = 0;

    if (agent_pg_split_table(src->tables[i], schema, table, err) < 0)
        return -1;
    res = agent_pg_query(conn, ancestors_sql, 2, p, "reading the partition tree of a captured "
                         "table", err);
    if (res == NULL)
        return cdc_err_wrap(err, "table %s", src->tables[i]);
    for (int r = 0; r < PQntuples(res) && rc == 0; r++)
        for (int j = 0; j < src->ntables && rc == 0; j++) {
            char js[64], jt[64];

            if (j != i && cfg_table_split(src->tables[j], js, jt) == NULL &&
                strcmp(js, PQgetvalue(res, r, 0)) == 0 && strcmp(jt, PQgetvalue(res, r, 1)) == 0)
                rc = cdc_err_set(err, CDC_E_CONFIG, "table %s (source.tables) is a partition "
                                 "of %s, also listed: its rows would be captured twice; list "
                                 "only %s", src->tables[i], src->tables[j], src->tables[j]);
        }
    PQclear(res);
    return rc;
}

/*
 * The initial snapshot COPYs every table, which needs USAGE on its schema
 * and SELECT on it.  Checked here, before the slot is created, so a missing
 * grant stops the first start with the statement that fixes it instead of
 * failing half-way through a snapshot.  Streaming itself needs neither (the
 * walsender decodes as the REPLICATION role), so with snapshot_mode never a
 * missing grant is only a warning.
 */
static int
check_table_access(PGconn *conn, const cfg_source *src, bool *partitioned, cdc_err *err)
{
    const char *role = PQuser(conn);
    bool        needed = src->snapshot_mode != CFG_SNAPSHOT_NEVER;

    for (int i = 0; i < src->ntables; i++) {
        const char  *t = src->tables[i];
        table_access ta = { 0 };
        char         schema[64], table[64];

        if (read_access(conn, t, &ta, err) < 0)
            return -1;
        char         qs[140], qt[300];

        if (!ta.has)
            return cdc_err_set(err, CDC_E_CONFIG, "table %s (source.tables) does not exist in "
                               "database %s", t, src->database);
        *partitioned = *partitioned || ta.partitioned;
        if (ta.partitioned && PQserverVersion(conn) < 130000)
            return cdc_err_set(err, CDC_E_CONFIG, "table %s is partitioned, and PostgreSQL "
                               "before 13 cannot publish a partitioned table: list its "
                               "partitions in source.tables instead", t);
        if (ta.partitioned && PQserverVersion(conn) < 150000)
            log_warn("agent", "table %s is partitioned: PostgreSQL before 15 does not tell a "
                     "running walsender about ATTACH or DETACH PARTITION; run ALTER PUBLICATION "
                     "... SET (publish_via_partition_root = true) in the same transaction "
                     "(docs/dba.md, Partitioned tables)", t);
        if (PQserverVersion(conn) >= 120000 && check_not_nested(conn, src, i, err) < 0)
            return -1;
        if (ta.schema_usage && ta.select)
            continue;
        agent_pg_split_table(t, schema, table, NULL);   /* read_access() checked the name */
        agent_pg_quote_ident(conn, schema, qs, sizeof(qs));
        quoted_table(conn, schema, table, qt, sizeof(qt));
        if (!needed) {
            log_warn("agent", "table %s: role %s lacks %s; snapshot_mode never does not need "
                     "it, but any later snapshot will", t, role,
                     ta.schema_usage ? "the SELECT privilege" : "USAGE on its schema");
            continue;
        }
        if (!ta.schema_usage)
            return cdc_err_set(err, CDC_E_CONFIG, "table %s: role %s lacks the USAGE privilege "
                               "on schema %s, which the snapshot needs; as the schema's owner "
                               "run: GRANT USAGE ON SCHEMA %s TO %s; GRANT SELECT ON %s TO %s;",
                               t, role, schema, qs, role, qt, role);
        return cdc_err_set(err, CDC_E_CONFIG, "table %s: role %s lacks the SELECT privilege on "
                           "it, which the snapshot needs; as the table's owner run: GRANT "
                           "SELECT ON %s TO %s;", t, role, qt, role);
    }
    return 0;
}

/*
 * The columns of one table that source.column_include_list / column_exclude_list keep,
 * and those of its replica identity, which UPDATE and DELETE need published
 * (a column list that leaves one out makes PostgreSQL refuse the application's
 * UPDATEs).  Generated columns come first as unpublishable before PostgreSQL 18.
 */
static const char pubcols_sql[] =
    "SELECT a.attname, a.attgenerated <> '', c.relreplident,"
    "       EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid"
    "                  AND a.attnum = ANY (i.indkey::int2[])"
    "                  AND ((c.relreplident = 'd' AND i.indisprimary)"
    "                       OR (c.relreplident = 'i' AND i.indisreplident)))"
    "  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
    "  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped"
    " WHERE n.nspname = $1 AND c.relname = $2"
    " ORDER BY a.attnum";

/*
 * PostgreSQL 15+: " (col, ...)" after a table whose column filter leaves columns out, so
 * they never leave the server; nothing when every column stays, or when the table's
 * replica identity is FULL (every column is then needed).
 */
static int
put_column_list(PGconn *conn, const agent_colfilter *f, const char *schema, const char *table,
                cdc_buf *b, cdc_err *err)
{
    const char *p[2] = { schema, table };
    PGresult   *res;
    cdc_buf     cols = CDC_BUF_INIT;
    char        ident[300];
    int         n, kept = 0, dropped = 0;

    if (f == NULL || !agent_colfilter_filters(f) || PQserverVersion(conn) < 150000)
        return 0;
    res = agent_pg_query(conn, pubcols_sql, 2, p, "reading the table's columns", err);
    if (res == NULL)
        return -1;
    n = PQntuples(res);
    if (n > 0 && PQgetvalue(res, 0, 2)[0] == 'f') {
        log_info("agent", "table %s.%s has REPLICA IDENTITY FULL: the publication carries all "
                 "its columns and the agent leaves out those of source.column_*_list", schema,
                 table);
        n = 0;
    }
    for (int r = 0; r < n; r++) {
        const char *col = PQgetvalue(res, r, 0);
        bool        gen = PQgetvalue(res, r, 1)[0] == 't';
        bool        ident_col = PQgetvalue(res, r, 3)[0] == 't';

        if (gen && PQserverVersion(conn) < 180000)
            continue;
        if (!ident_col && !agent_colfilter_keeps(f, schema, table, col)) {
            dropped++;
            continue;
        }
        cdc_buf_printf(&cols, "%s%s", kept++ ? ", " : "",
                       agent_pg_quote_ident(conn, col, ident, sizeof(ident)));
    }
    if (dropped > 0 && kept > 0)
        cdc_buf_printf(b, " (%s)", cdc_buf_str(&cols));
    PQclear(res);
    cdc_buf_free(&cols);
    return 0;
}

/* "s"."t" [(cols)] [WHERE (cond)] of source.tables[i] into b; -1 with err set. */
static int
put_table(PGconn *conn, const agent_colfilter *f, const cfg_source *src, int i, cdc_buf *b,
          cdc_err *err)
{
    char schema[64], table[64], ident[300];

    if (agent_pg_split_table(src->tables[i], schema, table, err) < 0)
        return -1;
    cdc_buf_puts(b, agent_pg_quote_table(schema, table, ident, sizeof(ident)));
    if (put_column_list(conn, f, schema, table, b, err) < 0)
        return -1;
    if (cfg_row_filter(src, schema, table) == NULL)
        return 0;
    if (PQserverVersion(conn) < 150000)
        return cdc_err_set(err, CDC_E_UNSUPPORTED, "source.row_filters: table %s: row "
                           "filters need PostgreSQL 15 or later (publication row "
                           "filters); this server is %d.%d, and cdcagent does not "
                           "filter rows itself", src->tables[i],
                           PQserverVersion(conn) / 10000, PQserverVersion(conn) % 10000 / 100);
    cdc_buf_printf(b, " WHERE (%s)", cfg_row_filter(src, schema, table));
    return 0;
}

/* "CREATE PUBLICATION "pub" FOR TABLE "s"."t", ..." into @p b; -1 with err set on a bad name. */
static int
build_create(PGconn *conn, const cfg_source *src, bool partitioned, cdc_buf *b, cdc_err *err)
{
    char             ident[300];
    agent_colfilter *f = agent_colfilter_new(src, err);
    int              rc = 0;

    if (f == NULL)
        return -1;
    cdc_buf_printf(b, "CREATE PUBLICATION %s FOR TABLE ",
                   agent_pg_quote_ident(conn, src->publication_name, ident, sizeof(ident)));
    for (int i = 0; i < src->ntables && rc == 0; i++) {
        if (i)
            cdc_buf_puts(b, ", ");
        rc = put_table(conn, f, src, i, b, err);
    }
    agent_colfilter_free(f);
    if (rc < 0)
        return -1;
    /* The signal table's rows arrive through the stream (agent/pipeline/incr.h). */
    if (src->signal_data_collection && *src->signal_data_collection) {
        char schema[64], table[64];
        bool listed = false;

        for (int i = 0; i < src->ntables; i++)
            listed = listed || strcmp(src->tables[i], src->signal_data_collection) == 0;
        if (agent_pg_split_table(src->signal_data_collection, schema, table, err) < 0)
            return cdc_err_wrap(err, "source.signal_data_collection");
        if (!listed)
            cdc_buf_printf(b, ", %s", agent_pg_quote_table(schema, table, ident, sizeof(ident)));
    }
    /*
     * A listed partitioned table's changes carry its own name, not its
     * partitions' (what Debezium's events name with this setting), and a
     * partition attached or created later is captured with it.  PostgreSQL
     * 12 has no such option (nor partitioned tables in publications).  It
     * changes nothing for other tables, so the statement says it only when
     * it matters.
     */
    /*
     * PostgreSQL 18 can publish stored generated columns: then streamed rows
     * carry them as snapshot rows do (the snapshot selects every column), and
     * a table's events keep one schema (docs/postgresql-versions.md).  An
     * existing publication is left as its owner made it.
     */
    bool via_root = partitioned && PQserverVersion(conn) >= 130000;
    bool gen = PQserverVersion(conn) >= 180000;

    if (via_root || gen)
        cdc_buf_printf(b, " WITH (%s%s%s)", via_root ? "publish_via_partition_root = true" : "",
                       via_root && gen ? ", " : "", gen ? "publish_generated_columns = stored" : "");
    if (cdc_buf_failed(b))
        return cdc_err_set(err, CDC_E_NOMEM, "publication %s: out of memory",
                           src->publication_name);
    return 0;
}

/*
 * A role that may not create the publication (CREATE on the database and
 * ownership of every table, or superuser) is the least-privilege setup:
 * say so, with the statement for the owner to run.
 */
static int
report_cannot_create(PGconn *conn, const cfg_source *src, const char *stmt, const char *why,
                     cdc_err *err)
{
    cdc_err_set(err, CDC_E_CONFIG, "publication %s does not exist and role %s cannot create it "
                "(%s); as the tables' owner run: %s;", src->publication_name, PQuser(conn),
                why, stmt);
    if (strlen(err->msg) + 1 >= sizeof(err->msg))
        log_error("agent", "publication %s: the statement in full: %s;", src->publication_name,
                  stmt);
    return -1;
}

static int check_publication(PGconn *conn, const cfg_source *src, cdc_err *err);

/*
 * The comment that marks a publication the agent created.  Only such a publication is kept in
 * step with the configuration at start: tables no longer in source.tables (or no longer chosen
 * by pattern) are dropped from it.  One made by someone else is never shrunk.
 */
#define PUB_MANAGED_COMMENT "cdcagent: created by cdcagent, which drops the tables no longer " \
                            "configured from it at start"

static int
mark_managed(PGconn *conn, const cfg_source *src, cdc_err *err)
{
    char    ident[300];
    cdc_buf b = CDC_BUF_INIT;
    int     rc;

    cdc_buf_printf(&b, "COMMENT ON PUBLICATION %s IS '%s'",
                   agent_pg_quote_ident(conn, src->publication_name, ident, sizeof(ident)),
                   PUB_MANAGED_COMMENT);
    rc = cdc_buf_failed(&b) ? cdc_err_set(err, CDC_E_NOMEM, "publication %s: out of memory",
                                          src->publication_name)
                            : agent_pg_exec(conn, cdc_buf_str(&b), "marking the publication "
                                            "as created by cdcagent", err);
    cdc_buf_free(&b);
    return rc;
}

/* schema.table is one of source.tables, or the signal table. */
static bool
configured(const cfg_source *src, const char *schema, const char *table)
{
    char s[64], t[64];

    for (int i = 0; i < src->ntables; i++)
        if (agent_pg_split_table(src->tables[i], s, t, NULL) == 0 && strcmp(s, schema) == 0 &&
            strcmp(t, table) == 0)
            return true;
    return src->signal_data_collection && *src->signal_data_collection &&
           agent_pg_split_table(src->signal_data_collection, s, t, NULL) == 0 &&
           strcmp(s, schema) == 0 && strcmp(t, table) == 0;
}

/* The tables a publication the agent created holds itself (not through a partition root). */
static const char managed_rel_sql[] =
    "SELECT n.nspname, c.relname FROM pg_publication p"
    "  JOIN pg_publication_rel pr ON pr.prpubid = p.oid JOIN pg_class c ON c.oid = pr.prrelid"
    "  JOIN pg_namespace n ON n.oid = c.relnamespace"
    " WHERE p.pubname = $1 AND obj_description(p.oid, 'pg_publication') = $2 ORDER BY 1, 2";

/*
 * A publication the agent created drops the tables no longer configured
 * (ALTER PUBLICATION ... DROP TABLE), each logged.  Their changes would be
 * ignored anyway: a failure (a lock held for 2 s, another owner) is warned
 * about and the start goes on.
 * @returns 1 when the publication is the agent's, 0 when not, -1 with err set.
 */
static int
drop_unconfigured(PGconn *conn, const cfg_source *src, cdc_err *err)
{
    const char *p[2] = { src->publication_name, PUB_MANAGED_COMMENT };
    PGresult   *res = agent_pg_query(conn, managed_rel_sql, 2, p,
                                     "reading the publication's tables", err), *managed;
    cdc_buf     b = CDC_BUF_INIT;
    char        ident[300];
    int         ndrop = 0, rc;
    cdc_err     why;

    if (res == NULL)
        return -1;
    managed = agent_pg_query(conn, "SELECT 1 FROM pg_publication WHERE pubname = $1 AND "
                             "obj_description(oid, 'pg_publication') = $2", 2, p,
                             "reading the publication", err);
    if (managed == NULL) {
        PQclear(res);
        return -1;
    }
    rc = PQntuples(managed) > 0;
    PQclear(managed);
    cdc_buf_printf(&b, "ALTER PUBLICATION %s DROP TABLE ",
                   agent_pg_quote_ident(conn, src->publication_name, ident, sizeof(ident)));
    for (int r = 0; r < PQntuples(res); r++)
        if (!configured(src, PQgetvalue(res, r, 0), PQgetvalue(res, r, 1)))
            cdc_buf_printf(&b, "%s%s", ndrop++ ? ", " : "",
                           agent_pg_quote_table(PQgetvalue(res, r, 0), PQgetvalue(res, r, 1),
                                                ident, sizeof(ident)));
    if (ndrop > 0 && !cdc_buf_failed(&b) &&
        agent_pg_exec(conn, "SET lock_timeout = '2s'", "dropping tables from the publication",
                      &why) == 0) {
        if (agent_pg_exec(conn, cdc_buf_str(&b), "dropping the tables no longer configured",
                          &why) == 0) {
            for (int r = 0; r < PQntuples(res); r++)
                if (!configured(src, PQgetvalue(res, r, 0), PQgetvalue(res, r, 1)))
                    log_info("agent", "publication %s: dropped table %s.%s (no longer in "
                             "source.tables or chosen by the table patterns)",
                             src->publication_name, PQgetvalue(res, r, 0),
                             PQgetvalue(res, r, 1));
        } else
            log_warn("agent", "publication %s: could not drop the tables no longer configured "
                     "(%s): %s; their changes are ignored", src->publication_name,
                     cdc_buf_str(&b), why.msg);
        agent_pg_exec(conn, "RESET lock_timeout", "dropping tables from the publication", &why);
    }
    PQclear(res);
    cdc_buf_free(&b);
    return rc;
}

/*
 * Creates the publication.  Someone else creating it between our lookup and
 * this statement (another tool, a DBA: two agents are kept apart by the
 * slot's lock) makes PostgreSQL refuse with 42710, or 23505 when both
 * inserts met in the catalog's unique index: then it exists, and is checked
 * like any existing one.
 */
/*
 * The columns each row filter of the publication uses (the Vars of pg_publication_rel.prqual)
 * and the table's replica identity: PostgreSQL accepts a filter on other columns, then
 * refuses every UPDATE and DELETE of the table, the application's included.
 */
static const char prqual_sql[] =
    "SELECT n.nspname, c.relname, c.relreplident, pr.prqual::text,"
    "       ARRAY(SELECT unnest(i.indkey::int2[]) FROM pg_index i"
    "              WHERE i.indrelid = c.oid AND ((c.relreplident = 'd' AND i.indisprimary)"
    "                    OR (c.relreplident = 'i' AND i.indisreplident)))::text, c.oid"
    "  FROM pg_publication p JOIN pg_publication_rel pr ON pr.prpubid = p.oid"
    "  JOIN pg_class c ON c.oid = pr.prrelid JOIN pg_namespace n ON n.oid = c.relnamespace"
    " WHERE p.pubname = $1 AND pr.prqual IS NOT NULL";

static int
check_filter_identity(PGconn *conn, const cfg_source *src, cdc_err *err)
{
    const char *p[1] = { src->publication_name };
    PGresult   *res = agent_pg_query(conn, prqual_sql, 1, p, "reading the row filters", err);
    int         rc = 0;

    if (res == NULL)
        return -1;
    for (int r = 0; r < PQntuples(res) && rc == 0; r++) {
        const char *ri = PQgetvalue(res, r, 2), *q = PQgetvalue(res, r, 3);
        const char *ident = PQgetvalue(res, r, 4);      /* "{1,2}" */

        if (ri[0] == 'f')
            continue;
        for (const char *v = strstr(q, ":varattno "); v && rc == 0;
             v = strstr(v + 1, ":varattno ")) {
            long att = strtol(v + 10, NULL, 10);
            bool in = false;

            for (const char *x = ident; *x && !in;) {   /* the int2[] as text: {1,2} */
                char *end;
                long  k;

                x += strspn(x, "{,}");
                if (!*x)
                    break;
                k = strtol(x, &end, 10);
                in = end != x && k == att;
                x = end != x ? end : x + 1;
            }
            if (!in) {
                char        attno[16];
                const char *pa[2] = { PQgetvalue(res, r, 5), attno };
                PGresult   *an;

                snprintf(attno, sizeof(attno), "%ld", att);
                an = agent_pg_query(conn, "SELECT attname FROM pg_attribute WHERE attrelid = "
                                    "$1::oid AND attnum = $2::int2", 2, pa,
                                    "reading a column's name", err);
                if (an == NULL) {
                    rc = -1;
                    break;
                }
                rc = cdc_err_set(err, CDC_E_CONFIG, "source.row_filters: the row filter of "
                                 "table %s.%s uses column %s, which is not in the table's "
                                 "replica identity: PostgreSQL would then refuse every UPDATE "
                                 "and DELETE of the table (\"cannot update table\"); filter "
                                 "on replica identity columns, or give the table REPLICA "
                                 "IDENTITY FULL", PQgetvalue(res, r, 0), PQgetvalue(res, r, 1),
                                 PQntuples(an) ? PQgetvalue(an, 0, 0) : attno);
                PQclear(an);
            }
        }
    }
    PQclear(res);
    return rc;
}

/* Tables with a row filter, "s.t: cond; ...", for a message. */
static void
row_filters_text(const cfg_source *src, char *out, size_t outsz)
{
    size_t n = 0;

    out[0] = '\0';
    for (int i = 0; i < src->row_filters.n && n < outsz; i++)
        n += (size_t) snprintf(out + n, outsz - n, "%s%s: %s", i ? "; " : "",
                               src->row_filters.items[i].key, src->row_filters.items[i].value);
}

/* PostgreSQL refused CREATE PUBLICATION with source.row_filters (@p res): its reason. */
static int
report_filters_refused(PGconn *conn, const cfg_source *src, const PGresult *res, cdc_err *err)
{
    const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    const char *detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
    char        filters[400];

    row_filters_text(src, filters, sizeof(filters));
    return cdc_err_set(err, CDC_E_CONFIG, "source.row_filters: PostgreSQL refused the "
                       "publication %s with the row filters (%s): %s%s%s",
                       src->publication_name, filters, msg ? msg : PQerrorMessage(conn),
                       detail ? ": " : "", detail ? detail : "");
}

static int
create_publication(PGconn *conn, const cfg_source *src, bool partitioned, cdc_err *err)
{
    cdc_buf     b = CDC_BUF_INIT;
    PGresult   *res = NULL;
    const char *state;
    char        why[160];
    int         rc = -1;

    if (build_create(conn, src, partitioned, &b, err) < 0)
        goto out;
    /* With row filters, the publication is made and checked in one transaction. */
    if (src->row_filters.n > 0 && agent_pg_exec(conn, "BEGIN", "creating the publication",
                                                err) < 0)
        goto out;
    res = PQexec(conn, cdc_buf_str(&b));
    if (src->row_filters.n > 0) {
        cdc_err ignored;

        if (PQresultStatus(res) == PGRES_COMMAND_OK && check_filter_identity(conn, src, err) == 0 &&
            mark_managed(conn, src, err) == 0 &&
            agent_pg_exec(conn, "COMMIT", "creating the publication", err) == 0) {
            log_info("agent", "publication %s: created for %d tables, with row filters",
                     src->publication_name, src->ntables);
            rc = 0;
            goto out;
        }
        if (PQresultStatus(res) != PGRES_COMMAND_OK)
            report_filters_refused(conn, src, res, err);
        agent_pg_exec(conn, "ROLLBACK", "creating the publication", &ignored);
        goto out;
    }
    if (PQresultStatus(res) == PGRES_COMMAND_OK) {
        cdc_err why_not;

        log_info("agent", "publication %s: created for %d tables", src->publication_name,
                 src->ntables);
        if (mark_managed(conn, src, &why_not) < 0)
            log_warn("agent", "publication %s: %s; it will not drop the tables no longer "
                     "configured", src->publication_name, why_not.msg);
        rc = 0;
        goto out;
    }
    state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    snprintf(why, sizeof(why), "%s", res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY)
                                         : PQerrorMessage(conn));
    why[strcspn(why, "\n")] = '\0';
    if (state && (strcmp(state, SQLSTATE_DUPLICATE_OBJECT) == 0 ||
                  strcmp(state, SQLSTATE_UNIQUE_VIOLATION) == 0)) {
        log_info("agent", "publication %s: created by someone else a moment ago (%s); "
                 "checking it", src->publication_name, why);
        rc = check_publication(conn, src, err);
    } else if (state && strcmp(state, SQLSTATE_INSUFFICIENT_PRIVILEGE) == 0)
        report_cannot_create(conn, src, cdc_buf_str(&b), why, err);
    else
        cdc_err_set(err, PQstatus(conn) == CONNECTION_BAD ? CDC_E_CONN : CDC_E_PG,
                    "creating publication %s: %s%s%s%s", src->publication_name, why,
                    state ? " (SQLSTATE " : "", state ? state : "", state ? ")" : "");
out:
    PQclear(res);
    cdc_buf_free(&b);
    return rc;
}

static const char pub_tables_sql[] =
    "SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = $1";

/*
 * Publishes @p schema.table: by name, as pg_publication_tables lists it
 * (with publish_via_partition_root a partitioned table is listed itself,
 * without it only its leaf partitions are).
 */
static bool
publishes(PGresult *tabs, const char *schema, const char *table)
{
    for (int r = 0; r < PQntuples(tabs); r++)
        if (strcmp(PQgetvalue(tabs, r, 0), schema) == 0 &&
            strcmp(PQgetvalue(tabs, r, 1), table) == 0)
            return true;
    return false;
}

static int
report_missing(PGconn *conn, const cfg_source *src, const char *t, const char *schema,
               const char *table, cdc_err *err)
{
    table_access ta = { 0 };
    char         qp[140], qt[300];

    agent_pg_quote_ident(conn, src->publication_name, qp, sizeof(qp));
    quoted_table(conn, schema, table, qt, sizeof(qt));
    if (read_access(conn, t, &ta, err) < 0)
        return -1;
    if (ta.partitioned) {
        const char *p[1] = { src->publication_name };
        PGresult   *res = agent_pg_query(conn, "SELECT pubviaroot FROM pg_publication WHERE "
                                         "pubname = $1", 1, p, "reading the publication", err);
        bool        viaroot;

        if (res == NULL)
            return -1;
        viaroot = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
        PQclear(res);
        /* Its changes would come under its partitions' names: captured by no listed table. */
        if (!viaroot)
            return cdc_err_set(err, CDC_E_CONFIG, "publication %s publishes partitioned table "
                               "%s through its partitions: run ALTER PUBLICATION %s SET "
                               "(publish_via_partition_root = true) or name another publication "
                               "(cdcagent does not alter existing ones)", src->publication_name,
                               t, qp);
    }
    return cdc_err_set(err, CDC_E_CONFIG, "publication %s exists but does not publish %s; "
                       "add it (ALTER PUBLICATION %s ADD TABLE %s) or name another "
                       "publication: cdcagent does not alter existing publications",
                       src->publication_name, t, qp, qt);
}

/* An existing publication is not altered: a table of source.row_filters must have a row
   filter there already (PostgreSQL 15+), or the agent would capture rows it should not. */
static int
check_existing_filters(PGconn *conn, const cfg_source *src, cdc_err *err)
{
    const char *p[1] = { src->publication_name };
    PGresult   *res;
    int         rc = 0;

    if (PQserverVersion(conn) < 150000)
        return cdc_err_set(err, CDC_E_UNSUPPORTED, "source.row_filters: row filters need "
                           "PostgreSQL 15 or later (publication row filters); cdcagent does "
                           "not filter rows itself");
    res = agent_pg_query(conn, "SELECT schemaname, tablename FROM pg_publication_tables "
                         "WHERE pubname = $1 AND rowfilter IS NOT NULL", 1, p,
                         "reading the publication's row filters", err);
    if (res == NULL)
        return -1;
    for (int i = 0; i < src->row_filters.n && rc == 0; i++) {
        char schema[CFG_NAME_MAX + 1], table[CFG_NAME_MAX + 1];

        if (cfg_table_split(src->row_filters.items[i].key, schema, table) == NULL &&
            !publishes(res, schema, table))
            rc = cdc_err_set(err, CDC_E_CONFIG, "source.row_filters: publication %s exists "
                             "and publishes table %s without a row filter; cdcagent never "
                             "alters a publication: run ALTER PUBLICATION %s SET TABLE ... "
                             "WHERE (%s), or drop it to have it made", src->publication_name,
                             src->row_filters.items[i].key, src->publication_name,
                             src->row_filters.items[i].value);
    }
    if (rc == 0)
        rc = check_filter_identity(conn, src, err);
    PQclear(res);
    return rc;
}

/* An existing publication must publish every configured table; it is never altered. */
static int
check_publication(PGconn *conn, const cfg_source *src, cdc_err *err)
{
    const char *p[1] = { src->publication_name };
    PGresult   *tabs;
    int         rc = 0, managed = drop_unconfigured(conn, src, err);

    if (managed < 0)
        return -1;
    tabs = agent_pg_query(conn, pub_tables_sql, 1, p, "reading the publication's tables", err);
    if (tabs == NULL)
        return -1;
    for (int i = 0; i < src->ntables && rc == 0; i++) {
        char schema[64], table[64];

        if (agent_pg_split_table(src->tables[i], schema, table, err) < 0)
            rc = -1;
        else if (!publishes(tabs, schema, table) && (cfg_source_by_pattern(src) || managed))
            rc = agent_publication_add_tables(conn, src, i, i + 1, err);
        else if (!publishes(tabs, schema, table))
            rc = report_missing(conn, src, src->tables[i], schema, table, err);
    }
    if (rc == 0 && src->row_filters.n > 0)
        rc = check_existing_filters(conn, src, err);
    if (rc == 0 && PQntuples(tabs) > src->ntables)
        log_warn("agent", "publication %s publishes %d tables, %d configured: changes to the "
                 "others are ignored", src->publication_name, PQntuples(tabs),
                 src->ntables);
    PQclear(tabs);
    return rc;
}

int
agent_ensure_publication(PGconn *conn, const cfg_source *src, cdc_err *err)
{
    const char *p[1] = { src->publication_name };
    PGresult   *pub;
    bool        exists, partitioned = false;

    if (check_table_access(conn, src, &partitioned, err) < 0)
        return -1;
    pub = agent_pg_query(conn, "SELECT 1 FROM pg_publication WHERE pubname = $1", 1, p,
                         "reading the publication", err);
    if (pub == NULL)
        return -1;
    exists = PQntuples(pub) > 0;
    PQclear(pub);
    return exists ? check_publication(conn, src, err)
                  : create_publication(conn, src, partitioned, err);
}

int
agent_publication_add_tables(PGconn *conn, const cfg_source *src, int from, int to,
                             cdc_err *err)
{
    char             ident[300];
    agent_colfilter *f = agent_colfilter_new(src, err);
    cdc_buf          b = CDC_BUF_INIT;
    int              rc = 0;

    if (f == NULL)
        return -1;
    cdc_buf_printf(&b, "ALTER PUBLICATION %s ADD TABLE ",
                   agent_pg_quote_ident(conn, src->publication_name, ident, sizeof(ident)));
    for (int i = from; i < to && rc == 0; i++) {
        if (i > from)
            cdc_buf_puts(&b, ", ");
        rc = put_table(conn, f, src, i, &b, err);
    }
    agent_colfilter_free(f);
    if (rc == 0 && cdc_buf_failed(&b))
        rc = cdc_err_set(err, CDC_E_NOMEM, "publication %s: out of memory",
                         src->publication_name);
    /* ADD TABLE takes a lock on each table: a long transaction on one must not stall the
       stream, so the statement waits at most lock_timeout (then CDC_E_TIMEOUT) */
    if (rc == 0 && agent_pg_exec(conn, "SET lock_timeout = '2s'", "adding tables chosen by "
                                 "pattern to the publication", err) < 0)
        rc = -1;
    if (rc == 0 && agent_pg_exec(conn, cdc_buf_str(&b), "adding tables chosen by pattern to "
                                 "the publication", err) < 0) {
        if (strstr(err->msg, "(SQLSTATE 55P03)") != NULL) {
            err->code = CDC_E_TIMEOUT;
            rc = cdc_err_wrap(err, "publication %s: another transaction holds a lock on a "
                              "table chosen by pattern (%s waited 2 s)", src->publication_name,
                              cdc_buf_str(&b));
        } else
            rc = cdc_err_wrap(err, "publication %s (source.table_include_list and the like: "
                              "the role must own the tables; or add them as their owner: %s)",
                              src->publication_name, cdc_buf_str(&b));
    }
    if (rc == 0 || err->code == CDC_E_TIMEOUT) {
        cdc_err ignored;

        agent_pg_exec(conn, "RESET lock_timeout", "adding tables to the publication", &ignored);
    }
    if (rc == 0)
        for (int i = from; i < to; i++)
            log_info("agent", "publication %s: added table %s (%s); its changes are captured "
                     "from here on", src->publication_name, src->tables[i],
                     cfg_source_by_pattern(src) ? "chosen by pattern" : "in source.tables");
    cdc_buf_free(&b);
    return rc;
}

int
agent_publication_check(PGconn *conn, const cfg_source *src, cdc_err *err)
{
    const char *p[1] = { src->publication_name };
    PGresult   *res;
    bool        exists, partitioned = false;
    cfg_source  trial = *src;
    cdc_buf     b = CDC_BUF_INIT;
    cdc_err     ignored;
    const char *state;
    int         rc;

    if (check_table_access(conn, src, &partitioned, err) < 0)
        return -1;
    res = agent_pg_query(conn, "SELECT 1 FROM pg_publication WHERE pubname = $1", 1, p,
                         "reading the publication", err);
    if (res == NULL)
        return -1;
    exists = PQntuples(res) > 0;
    PQclear(res);
    if (src->row_filters.n == 0)
        return 0;
    if (exists)
        return check_existing_filters(conn, src, err);
    /* The publication run would create, made and checked in a transaction rolled back. */
    trial.publication_name = "cdcagent_validate_trial";
    if (build_create(conn, &trial, partitioned, &b, err) < 0 ||
        agent_pg_exec(conn, "BEGIN", "trying the row filters", err) < 0) {
        cdc_buf_free(&b);
        return -1;
    }
    res = PQexec(conn, cdc_buf_str(&b));
    state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    if (PQresultStatus(res) == PGRES_COMMAND_OK)
        rc = check_filter_identity(conn, &trial, err);
    else if (state && strcmp(state, SQLSTATE_INSUFFICIENT_PRIVILEGE) == 0) {
        log_warn("agent", "publication %s: role %s may not create it, so the row filters are "
                 "checked when its owner has: %s", src->publication_name, PQuser(conn),
                 PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY));
        rc = 0;
    } else
        rc = report_filters_refused(conn, src, res, err);
    PQclear(res);
    agent_pg_exec(conn, "ROLLBACK", "trying the row filters", &ignored);
    cdc_buf_free(&b);
    return rc;
}

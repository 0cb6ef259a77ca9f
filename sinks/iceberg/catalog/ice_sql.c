/*
 * The SQL catalog of ice_sql.h on SQLite (libsqlite3) and PostgreSQL
 * (agent/core/net/pgconn.h).  Every statement is written once with $1..$n
 * parameters, which both databases take (SQLite binds them by name), and runs
 * through db_run(); everything else is the same for both.
 */
#include "sinks/iceberg/catalog/ice_sql.h"

#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/core/net/pgconn.h"

#define DEFAULT_CATALOG "default"

typedef struct ice_sql {
    ice_cat         base;
    ice_sql_backend backend;
    sqlite3        *lite;
    PGconn         *pg;
    char           *catalog;  /* catalog_name */
    bool            v1;       /* iceberg_tables has iceberg_type (pyiceberg's "v1" schema) */
} ice_sql;

/* One row of a query: vals[i] is NULL for SQL NULL. */
typedef int (*row_fn)(void *ud, int ncol, const char *const *vals);

/* ---------------------------------------------------------------- URIs */

/*
 * uri without secrets, for messages: the password of the userinfo (up to the LAST '@' of
 * the authority, so an '@' inside the password is hidden too) and the values of the query
 * parameters password and sslpassword become "***".
 */
static void
redact(const char *uri, char *out, size_t outsz)
{
    const char *auth, *end, *at = NULL, *colon = NULL, *q, *p;
    size_t      o = 0;

    if (out == NULL || outsz == 0)
        return;
    out[0] = '\0';
#define PUT(str, len)                                                                  \
    do {                                                                               \
        size_t n_ = (len);                                                             \
        if (o + n_ >= outsz)                                                           \
            n_ = outsz - 1 - o;                                                        \
        memcpy(out + o, (str), n_);                                                    \
        o += n_;                                                                       \
        out[o] = '\0';                                                                 \
    } while (0)
    auth = strstr(uri, "://");
    auth = auth != NULL ? auth + 3 : uri;
    end = auth + strcspn(auth, "/?");
    for (p = auth; p < end; p++)
        if (*p == '@')
            at = p;
    if (at != NULL)
        colon = memchr(auth, ':', (size_t)(at - auth));
    if (colon != NULL) {
        PUT(uri, (size_t)(colon - uri));
        PUT(":***", 4);
        p = at;
    } else {
        p = uri;
    }
    q = strchr(end, '?');
    if (q == NULL) {
        PUT(p, strlen(p));
        return;
    }
    PUT(p, (size_t)(q - p));
    while (*q != '\0') {
        const char *param = q + 1, *amp = param + strcspn(param, "&");
        size_t      klen = strcspn(param, "=&");

        PUT(q, 1);  /* '?' or '&' */
        if (param[klen] == '=' && ((klen == 8 && strncmp(param, "password", 8) == 0) ||
                                   (klen == 11 && strncmp(param, "sslpassword", 11) == 0))) {
            PUT(param, klen + 1);
            PUT("***", 3);
        } else {
            PUT(param, (size_t)(amp - param));
        }
        q = amp;
    }
#undef PUT
}

int
ice_sql_parse_uri(const char *uri, ice_sql_backend *backend, char **target, char *redacted,
                  size_t redsz, cdc_err *err)
{
    char        red[512];
    const char *rest;

    *target = NULL;
    if (uri == NULL || uri[0] == '\0')
        return cdc_err_set(err, CDC_E_CONFIG, "iceberg catalog_uri is empty: give "
                           "sqlite:////path/catalog.db or postgresql://user@host:port/db");
    redact(uri, red, sizeof(red));
    if (redacted != NULL)
        snprintf(redacted, redsz, "%s", red);

    if (strncmp(uri, "sqlite:", 7) == 0 || strncmp(uri, "sqlite+pysqlite:", 16) == 0) {
        rest = strchr(uri, ':') + 1;
        if (strcmp(rest, "//") == 0) {
            rest = ":memory:";
        } else if (strncmp(rest, "///", 3) == 0) {
            rest += 3;  /* sqlite:///rel.db -> rel.db; sqlite:////abs.db -> /abs.db */
        } else {
            return cdc_err_set(err, CDC_E_CONFIG, "iceberg catalog_uri %s: a SQLite URI is "
                               "sqlite:///relative/path.db or sqlite:////absolute/path.db (three "
                               "slashes, then the path)", red);
        }
        if (rest[0] == '\0')
            rest = ":memory:";
        if (strchr(rest, '?') != NULL)
            return cdc_err_set(err, CDC_E_CONFIG, "iceberg catalog_uri %s: query parameters "
                               "are not supported for SQLite", red);
        *backend = ICE_SQL_SQLITE;
        *target = strdup(rest);
    } else if (strncmp(uri, "postgresql", 10) == 0 || strncmp(uri, "postgres:", 9) == 0) {
        const char *sep = strstr(uri, "://");
        const char *plus = strchr(uri, '+');
        size_t      n;

        if (sep == NULL)
            return cdc_err_set(err, CDC_E_CONFIG, "iceberg catalog_uri %s: expected "
                               "postgresql://user:password@host:port/database", red);
        if (plus != NULL && plus < sep) {
            if (strncmp(plus, "+psycopg2://", 12) != 0 && strncmp(plus, "+psycopg://", 11) != 0 &&
                strncmp(plus, "+pg8000://", 10) != 0)
                return cdc_err_set(err, CDC_E_CONFIG, "iceberg catalog_uri %s: unknown "
                                   "PostgreSQL driver \"%.*s\"", red, (int)(sep - plus - 1),
                                   plus + 1);
        } else if (!(sep == uri + 10 || sep == uri + 8)) {
            return cdc_err_set(err, CDC_E_CONFIG, "iceberg catalog_uri %s: expected "
                               "postgresql://user:password@host:port/database", red);
        }
        n = strlen("postgresql") + strlen(sep) + 1;
        *target = malloc(n);
        if (*target != NULL)
            snprintf(*target, n, "postgresql%s", sep);
        *backend = ICE_SQL_POSTGRES;
    } else {
        return cdc_err_set(err, CDC_E_CONFIG, "iceberg catalog_uri %s: the SQL catalog takes "
                           "sqlite:///... or postgresql://... URIs", red);
    }
    if (*target == NULL)
        return cdc_err_set(err, CDC_E_NOMEM, "iceberg catalog_uri %s: out of memory", red);
    return 0;
}

/* ---------------------------------------------------------------- running statements */

/*
 * Runs sql with n text parameters ($1..$n); calls cb for each row; *changes (may be NULL)
 * gets the rows an INSERT, UPDATE or DELETE changed.  what names the statement in errors.
 * @returns 0, or -1 with err set (CDC_E_CONN when the database went away, CDC_E_TIMEOUT when
 * SQLite stayed locked, CDC_E_PG otherwise; cb's -1 is passed on).
 */
static int
db_run(ice_sql *s, const char *what, const char *sql, int n, const char *const *p, row_fn cb,
       void *ud, long *changes, cdc_err *err)
{
    if (changes != NULL)
        *changes = 0;
    if (s->backend == ICE_SQL_SQLITE) {
        sqlite3_stmt *st = NULL;
        int           rc, i;

        rc = sqlite3_prepare_v2(s->lite, sql, -1, &st, NULL);
        if (rc != SQLITE_OK)
            return cdc_err_set(err, CDC_E_PG, "%s: %s: %s", s->base.what, what,
                               sqlite3_errmsg(s->lite));
        for (i = 0; i < n; i++) {
            char name[16];
            int  at;

            snprintf(name, sizeof(name), "$%d", i + 1);
            at = sqlite3_bind_parameter_index(st, name);
            if (at > 0 && sqlite3_bind_text(st, at, p[i], -1, SQLITE_TRANSIENT) != SQLITE_OK) {
                cdc_err_set(err, CDC_E_PG, "%s: %s: %s", s->base.what, what,
                            sqlite3_errmsg(s->lite));
                sqlite3_finalize(st);
                return -1;
            }
        }
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            const char *vals[8];
            int         ncol = sqlite3_column_count(st);

            if (ncol > 8)
                ncol = 8;
            for (i = 0; i < ncol; i++)
                vals[i] = (const char *)sqlite3_column_text(st, i);
            if (cb != NULL && cb(ud, ncol, vals) != 0) {
                sqlite3_finalize(st);
                return cdc_err_ensure(err, "%s: %s", s->base.what, what);
            }
        }
        if (rc != SQLITE_DONE) {
            cdc_err_set(err, rc == SQLITE_BUSY || rc == SQLITE_LOCKED ? CDC_E_TIMEOUT : CDC_E_PG,
                        "%s: %s: %s", s->base.what, what, sqlite3_errmsg(s->lite));
            sqlite3_finalize(st);
            return -1;
        }
        if (changes != NULL)
            *changes = sqlite3_changes(s->lite);
        sqlite3_finalize(st);
        return 0;
    } else {
        PGresult *res;
        int       r;

        if (PQstatus(s->pg) != CONNECTION_OK)
            PQreset(s->pg);
        if (PQstatus(s->pg) != CONNECTION_OK) {
            char msg[256];

            snprintf(msg, sizeof(msg), "%s", PQerrorMessage(s->pg));
            msg[strcspn(msg, "\n")] = '\0';
            return cdc_err_set(err, CDC_E_CONN, "%s: %s: not connected: %s", s->base.what, what,
                               msg);
        }
        res = PQexecParams(s->pg, sql, n, NULL, p, NULL, NULL, 0);
        if (res == NULL || (PQresultStatus(res) != PGRES_TUPLES_OK &&
                            PQresultStatus(res) != PGRES_COMMAND_OK)) {
            char        msg[256];
            const char *state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

            snprintf(msg, sizeof(msg), "%s", PQerrorMessage(s->pg));
            msg[strcspn(msg, "\n")] = '\0';
            cdc_err_set(err, PQstatus(s->pg) == CONNECTION_BAD ? CDC_E_CONN : CDC_E_PG,
                        "%s: %s: %s%s%s%s", s->base.what, what, msg, state ? " (SQLSTATE " : "",
                        state ? state : "", state ? ")" : "");
            PQclear(res);
            return -1;
        }
        if (PQresultStatus(res) == PGRES_TUPLES_OK) {
            int rows = PQntuples(res), ncol = PQnfields(res), i, j;

            if (ncol > 8)
                ncol = 8;
            for (i = 0; i < rows && cb != NULL; i++) {
                const char *vals[8];

                for (j = 0; j < ncol; j++)
                    vals[j] = PQgetisnull(res, i, j) ? NULL : PQgetvalue(res, i, j);
                if (cb(ud, ncol, vals) != 0) {
                    PQclear(res);
                    return cdc_err_ensure(err, "%s: %s", s->base.what, what);
                }
            }
        } else if (changes != NULL) {
            *changes = atol(PQcmdTuples(res));
        }
        r = 0;
        PQclear(res);
        return r;
    }
}

/* First column of the first row, strdup'ed ("found" set even when it is NULL). */
typedef struct first_val {
    bool  found;
    bool  oom;
    char *val;
} first_val;

static int
take_first(void *ud, int ncol, const char *const *vals)
{
    first_val *f = ud;

    if (f->found || ncol < 1)
        return 0;
    f->found = true;
    if (vals[0] != NULL && (f->val = strdup(vals[0])) == NULL)
        f->oom = true;
    return 0;
}

/* ---------------------------------------------------------------- schema */

static const char DDL_TABLES[] =
    "CREATE TABLE IF NOT EXISTS iceberg_tables (\n"
    "\tcatalog_name VARCHAR(255) NOT NULL, \n"
    "\ttable_namespace VARCHAR(255) NOT NULL, \n"
    "\ttable_name VARCHAR(255) NOT NULL, \n"
    "\tmetadata_location VARCHAR(1000), \n"
    "\tprevious_metadata_location VARCHAR(1000), \n"
    "\ticeberg_type VARCHAR(5), \n"
    "\tPRIMARY KEY (catalog_name, table_namespace, table_name)\n"
    ")";

static const char DDL_NAMESPACES[] =
    "CREATE TABLE IF NOT EXISTS iceberg_namespace_properties (\n"
    "\tcatalog_name VARCHAR(255) NOT NULL, \n"
    "\tnamespace VARCHAR(255) NOT NULL, \n"
    "\tproperty_key VARCHAR(255) NOT NULL, \n"
    "\tproperty_value VARCHAR(1000) NOT NULL, \n"
    "\tPRIMARY KEY (catalog_name, namespace, property_key)\n"
    ")";

static int
schema_check(ice_sql *s, bool no_create, cdc_err *err)
{
    cdc_err probe;
    bool    absent = false;

    cdc_err_clear(&probe);
    if (db_run(s, "probing iceberg_tables", "SELECT 1 FROM iceberg_tables LIMIT 0", 0, NULL,
               NULL, NULL, NULL, &probe) != 0 ||
        db_run(s, "probing iceberg_namespace_properties",
               "SELECT 1 FROM iceberg_namespace_properties LIMIT 0", 0, NULL, NULL, NULL, NULL,
               &probe) != 0) {
        if (probe.code == CDC_E_CONN || probe.code == CDC_E_TIMEOUT) {
            *err = probe;
            return -1;
        }
        absent = true;
    }
    if (absent) {
        if (no_create)
            return cdc_err_set(err, CDC_E_STATE, "%s: the catalog's tables are missing (%s); "
                               "create them with pyiceberg's SqlCatalog or let the agent create "
                               "them", s->base.what, probe.msg);
        if (db_run(s, "creating iceberg_tables", DDL_TABLES, 0, NULL, NULL, NULL, NULL, err) != 0 ||
            db_run(s, "creating iceberg_namespace_properties", DDL_NAMESPACES, 0, NULL, NULL, NULL,
                   NULL, err) != 0)
            return -1;
    }
    /* The columns we use, each by name: a table of that name with another layout stops here. */
    if (db_run(s, "checking the columns of iceberg_tables",
               "SELECT catalog_name, table_namespace, table_name, metadata_location, "
               "previous_metadata_location FROM iceberg_tables LIMIT 0", 0, NULL, NULL, NULL, NULL,
               &probe) != 0 ||
        db_run(s, "checking the columns of iceberg_namespace_properties",
               "SELECT catalog_name, namespace, property_key, property_value "
               "FROM iceberg_namespace_properties LIMIT 0", 0, NULL, NULL, NULL, NULL,
               &probe) != 0) {
        *err = probe;
        if (probe.code == CDC_E_PG)
            err->code = CDC_E_STATE;
        return cdc_err_wrap(err, "not the layout of pyiceberg's SqlCatalog");
    }
    /* pyiceberg's "v1" schema has iceberg_type; a "v0" catalog is used as it is. */
    s->v1 = db_run(s, "probing iceberg_type", "SELECT iceberg_type FROM iceberg_tables LIMIT 0",
                   0, NULL, NULL, NULL, NULL, &probe) == 0;
    return 0;
}

/* ---------------------------------------------------------------- operations */

static const char *
type_filter(const ice_sql *s)
{
    return s->v1 ? " AND (iceberg_type = 'TABLE' OR iceberg_type IS NULL)" : "";
}

/* The current metadata location: ICE_CAT_OK with *loc, ICE_CAT_NOT_FOUND, or -1. */
static int
current_location(ice_sql *s, const ice_cat_ident *id, char **loc, cdc_err *err)
{
    const char *p[3] = { s->catalog, id->ns, id->name };
    char        sql[512];
    first_val   f = { 0 };
    char        what[600];

    *loc = NULL;
    snprintf(what, sizeof(what), "loading %s.%s", id->ns, id->name);
    snprintf(sql, sizeof(sql), "SELECT metadata_location FROM iceberg_tables WHERE "
             "catalog_name = $1 AND table_namespace = $2 AND table_name = $3%s", type_filter(s));
    if (db_run(s, what, sql, 3, p, take_first, &f, NULL, err) != 0) {
        free(f.val);
        return -1;
    }
    if (f.oom)
        return cdc_err_set(err, CDC_E_NOMEM, "%s: %s: out of memory", s->base.what, what);
    if (!f.found) {
        cdc_err_set(err, CDC_E_STATE, "%s: table %s.%s does not exist", s->base.what, id->ns,
                    id->name);
        return ICE_CAT_NOT_FOUND;
    }
    if (f.val == NULL || f.val[0] == '\0') {
        free(f.val);
        return cdc_err_set(err, CDC_E_STATE, "%s: table %s.%s has no metadata_location",
                           s->base.what, id->ns, id->name);
    }
    *loc = f.val;
    return ICE_CAT_OK;
}

static int
sql_load(ice_cat *c, const ice_cat_ident *id, ice_cat_table *out, cdc_err *err)
{
    return current_location((ice_sql *)c, id, &out->metadata_location, err);
}

/* Escapes LIKE's wildcards with '!', as pyiceberg's namespace_exists. */
static char *
like_prefix(const char *ns)
{
    size_t n = strlen(ns), i, o = 0;
    char  *out = malloc(2 * n + 3);

    if (out == NULL)
        return NULL;
    for (i = 0; i < n; i++) {
        if (ns[i] == '!' || ns[i] == '_' || ns[i] == '%')
            out[o++] = '!';
        out[o++] = ns[i];
    }
    out[o++] = '.';
    out[o++] = '%';
    out[o] = '\0';
    return out;
}

/* Creates the namespace when no table or property row names it or a namespace under it. */
static int
ensure_namespace(ice_sql *s, const char *ns, cdc_err *err)
{
    char       *like = like_prefix(ns);
    const char *p[3] = { s->catalog, ns, like };
    first_val   f = { 0 };
    char        what[400];
    int         rc;

    if (like == NULL)
        return cdc_err_set(err, CDC_E_NOMEM, "%s: namespace %s: out of memory", s->base.what, ns);
    snprintf(what, sizeof(what), "looking up namespace %s", ns);
    rc = db_run(s, what,
                "SELECT 1 FROM iceberg_tables WHERE catalog_name = $1 AND "
                "(table_namespace = $2 OR table_namespace LIKE $3 ESCAPE '!') "
                "UNION ALL SELECT 1 FROM iceberg_namespace_properties WHERE catalog_name = $1 "
                "AND (namespace = $2 OR namespace LIKE $3 ESCAPE '!') LIMIT 1",
                3, p, take_first, &f, NULL, err);
    free(like);
    free(f.val);
    if (rc != 0 || f.found)
        return rc;
    snprintf(what, sizeof(what), "creating namespace %s", ns);
    return db_run(s, what,
                  "INSERT INTO iceberg_namespace_properties "
                  "(catalog_name, namespace, property_key, property_value) "
                  "VALUES ($1, $2, 'exists', 'true') ON CONFLICT DO NOTHING",
                  2, p, NULL, NULL, NULL, err);
}

static int
sql_create(ice_cat *c, const ice_cat_ident *id, const ice_cat_new_table *nt, ice_cat_table *out,
           cdc_err *err)
{
    ice_sql    *s = (ice_sql *)c;
    const char *p[4] = { s->catalog, id->ns, id->name, nt->metadata_location };
    char        what[600];
    long        changed;

    if (nt->metadata_location == NULL || nt->metadata_location[0] == '\0')
        return cdc_err_set(err, CDC_E_INVAL, "%s: creating %s.%s: no metadata location",
                           s->base.what, id->ns, id->name);
    if (ensure_namespace(s, id->ns, err) != 0)
        return -1;
    snprintf(what, sizeof(what), "creating table %s.%s", id->ns, id->name);
    if (db_run(s, what, s->v1 ?
               "INSERT INTO iceberg_tables (catalog_name, table_namespace, table_name, "
               "metadata_location, previous_metadata_location, iceberg_type) "
               "VALUES ($1, $2, $3, $4, NULL, 'TABLE') ON CONFLICT DO NOTHING" :
               "INSERT INTO iceberg_tables (catalog_name, table_namespace, table_name, "
               "metadata_location, previous_metadata_location) "
               "VALUES ($1, $2, $3, $4, NULL) ON CONFLICT DO NOTHING",
               4, p, NULL, NULL, &changed, err) != 0)
        return -1;
    if (changed == 0) {
        cdc_err_set(err, CDC_E_STATE, "%s: table %s.%s already exists", s->base.what, id->ns,
                    id->name);
        return ICE_CAT_EXISTS;
    }
    if ((out->metadata_location = strdup(nt->metadata_location)) == NULL)
        return cdc_err_set(err, CDC_E_NOMEM, "%s: %s: out of memory", s->base.what, what);
    return ICE_CAT_OK;
}

static int
sql_commit(ice_cat *c, const ice_cat_ident *id, const ice_cat_change *cm, ice_cat_table *out,
           cdc_err *err)
{
    ice_sql    *s = (ice_sql *)c;
    const char *p[5] = { s->catalog, id->ns, id->name, cm->base_location, cm->new_location };
    char        sql[600], what[600], *now = NULL;
    long        changed = 0;
    int         rc, tries;

    if (cm->base_location == NULL || cm->base_location[0] == '\0' || cm->new_location == NULL ||
        cm->new_location[0] == '\0')
        return cdc_err_set(err, CDC_E_INVAL, "%s: commit to %s.%s needs the base and the new "
                           "metadata location", s->base.what, id->ns, id->name);
    if (strcmp(cm->base_location, cm->new_location) == 0)
        return cdc_err_set(err, CDC_E_INVAL, "%s: commit to %s.%s: the new metadata location is "
                           "the base %s", s->base.what, id->ns, id->name, cm->base_location);
    snprintf(what, sizeof(what), "committing to %s.%s", id->ns, id->name);
    snprintf(sql, sizeof(sql), "UPDATE iceberg_tables SET metadata_location = $5, "
             "previous_metadata_location = $4 WHERE catalog_name = $1 AND table_namespace = $2 "
             "AND table_name = $3 AND metadata_location = $4%s", type_filter(s));
    for (tries = 0;; tries++) {
        cdc_err run_err, re;

        cdc_err_clear(&run_err);
        if (db_run(s, what, sql, 5, p, NULL, NULL, &changed, &run_err) == 0)
            break;
        if (run_err.code != CDC_E_CONN) {
            if (err != NULL)
                *err = run_err;
            return -1;
        }
        if (tries > 0)
            return cdc_err_set(err, CDC_E_CONN, "%s; whether it was applied is unknown: once "
                               "the catalog answers, the commit took effect if the table's "
                               "metadata location is %s", run_err.msg, cm->new_location);
        /*
         * The connection broke around the UPDATE (PostgreSQL): it may have been applied or
         * not.  Ask on a new connection (current_location reconnects): ours -> done; still
         * the base -> not applied, once more; anything else -> someone else's commit.
         */
        cdc_err_clear(&re);
        rc = current_location(s, id, &now, &re);
        if (rc != ICE_CAT_OK) {
            if (rc == ICE_CAT_NOT_FOUND) {
                if (err != NULL)
                    *err = re;
                cdc_err_wrap(err, "commit to %s.%s", id->ns, id->name);
                return ICE_CAT_NOT_FOUND;
            }
            return cdc_err_set(err, CDC_E_CONN, "%s; and whether it was applied is unknown: %s; "
                               "once the catalog answers, the commit took effect if the "
                               "table's metadata location is %s", run_err.msg, re.msg,
                               cm->new_location);
        }
        if (strcmp(now, cm->new_location) == 0) {
            free(now);
            now = NULL;
            changed = 1;  /* it was applied before the connection broke */
            break;
        }
        if (strcmp(now, cm->base_location) != 0)
            break;  /* changed stays 0: a concurrent commit, reported below */
        free(now);
        now = NULL;
    }
    free(now);
    now = NULL;
    if (changed == 1) {
        if (out != NULL && (out->metadata_location = strdup(cm->new_location)) == NULL)
            return cdc_err_set(err, CDC_E_NOMEM, "%s: %s: out of memory", s->base.what, what);
        return ICE_CAT_OK;
    }
    /* Nothing changed: someone else moved the pointer, or dropped the table. */
    rc = current_location(s, id, &now, err);
    if (rc == ICE_CAT_OK) {
        cdc_err_set(err, CDC_E_STATE, "%s: commit to %s.%s lost to a concurrent commit: the "
                    "table's metadata is now %s, not %s it was built on; reload and retry",
                    s->base.what, id->ns, id->name, now, cm->base_location);
        free(now);
        return ICE_CAT_CONFLICT;
    }
    if (rc == ICE_CAT_NOT_FOUND)
        cdc_err_wrap(err, "commit to %s.%s", id->ns, id->name);
    return rc;
}

typedef struct list_ctx {
    ice_cat_name_cb cb;
    void           *ud;
    int             rc;
} list_ctx;

static int
list_row(void *ud, int ncol, const char *const *vals)
{
    list_ctx *l = ud;

    if (ncol < 1 || vals[0] == NULL)
        return 0;
    l->rc = l->cb(l->ud, vals[0]);
    return l->rc != 0 ? 1 : 0;
}

static int
sql_list(ice_cat *c, const char *ns, ice_cat_name_cb cb, void *ud, cdc_err *err)
{
    ice_sql    *s = (ice_sql *)c;
    const char *p[2] = { s->catalog, ns };
    char        sql[400], what[300];
    list_ctx    l = { cb, ud, 0 };
    cdc_err     cb_err;

    snprintf(what, sizeof(what), "listing namespace %s", ns);
    snprintf(sql, sizeof(sql), "SELECT table_name FROM iceberg_tables WHERE catalog_name = $1 "
             "AND table_namespace = $2%s ORDER BY table_name", type_filter(s));
    cdc_err_clear(&cb_err);
    if (db_run(s, what, sql, 2, p, list_row, &l, NULL, &cb_err) != 0) {
        if (l.rc != 0)
            return l.rc;  /* the callback stopped the listing */
        if (err != NULL)
            *err = cb_err;
        return -1;
    }
    return ICE_CAT_OK;
}

static int
sql_drop(ice_cat *c, const ice_cat_ident *id, cdc_err *err)
{
    ice_sql    *s = (ice_sql *)c;
    const char *p[3] = { s->catalog, id->ns, id->name };
    char        what[600];
    long        changed;

    snprintf(what, sizeof(what), "dropping %s.%s", id->ns, id->name);
    if (db_run(s, what, "DELETE FROM iceberg_tables WHERE catalog_name = $1 AND "
               "table_namespace = $2 AND table_name = $3", 3, p, NULL, NULL, &changed, err) != 0)
        return -1;
    if (changed == 0) {
        cdc_err_set(err, CDC_E_STATE, "%s: table %s.%s does not exist", s->base.what, id->ns,
                    id->name);
        return ICE_CAT_NOT_FOUND;
    }
    return ICE_CAT_OK;
}

static void
sql_close(ice_cat *c)
{
    ice_sql *s = (ice_sql *)c;

    if (s->lite != NULL)
        sqlite3_close(s->lite);
    if (s->pg != NULL)
        PQfinish(s->pg);
    free(s->catalog);
    free(s);
}

static const ice_cat_ops sql_ops = {
    .kind = "sql",
    .load = sql_load,
    .create = sql_create,
    .commit = sql_commit,
    .list = sql_list,
    .drop = sql_drop,
    .close = sql_close,
};

/* ---------------------------------------------------------------- opening */

static int
open_pg(ice_sql *s, const char *conninfo, const char *red, cdc_err *err)
{
    PQconninfoOption *opts, *o;
    const char       *keys[64], *vals[64];
    char             *perr = NULL;
    int               n = 0;
    cdc_pg_target     who = { "localhost", 5432, "", "", false };

    opts = PQconninfoParse(conninfo, &perr);
    if (opts == NULL) {
        char msg[256];

        snprintf(msg, sizeof(msg), "%s", perr != NULL ? perr : "out of memory");
        msg[strcspn(msg, "\n")] = '\0';
        PQfreemem(perr);
        return cdc_err_set(err, CDC_E_CONFIG, "iceberg catalog_uri %s: %s", red, msg);
    }
    for (o = opts; o->keyword != NULL && n < 63; o++) {
        if (o->val == NULL)
            continue;
        keys[n] = o->keyword;
        vals[n] = o->val;
        n++;
        if (strcmp(o->keyword, "host") == 0)
            who.host = o->val;
        else if (strcmp(o->keyword, "port") == 0)
            who.port = atoi(o->val);
        else if (strcmp(o->keyword, "dbname") == 0)
            who.database = o->val;
        else if (strcmp(o->keyword, "user") == 0)
            who.username = o->val;
    }
    keys[n] = NULL;
    vals[n] = NULL;
    s->pg = cdc_pg_connect(keys, vals, &who, err);
    PQconninfoFree(opts);
    if (s->pg == NULL)
        return cdc_err_wrap(err, "iceberg SQL catalog %s", red);
    return 0;
}

int
ice_sql_open(const ice_sql_conf *conf, ice_cat **out, cdc_err *err)
{
    ice_sql    *s;
    char       *target = NULL;
    char        red[200];
    const char *name;
    int         rc;

    *out = NULL;
    if (conf == NULL)
        return cdc_err_set(err, CDC_E_INVAL, "iceberg SQL catalog: no configuration");
    s = calloc(1, sizeof(*s));
    if (s == NULL)
        return cdc_err_set(err, CDC_E_NOMEM, "iceberg SQL catalog: out of memory");
    s->base.ops = &sql_ops;
    if (ice_sql_parse_uri(conf->uri, &s->backend, &target, red, sizeof(red), err) != 0) {
        free(s);
        return -1;
    }
    name = conf->catalog_name != NULL && conf->catalog_name[0] != '\0' ? conf->catalog_name :
           DEFAULT_CATALOG;
    snprintf(s->base.what, sizeof(s->base.what), "SQL catalog %s at %s", name, red);
    s->catalog = strdup(name);
    if (s->catalog == NULL) {
        free(target);
        free(s);
        return cdc_err_set(err, CDC_E_NOMEM, "iceberg SQL catalog: out of memory");
    }
    if (s->backend == ICE_SQL_SQLITE) {
        rc = sqlite3_open_v2(target, &s->lite, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                             SQLITE_OPEN_FULLMUTEX, NULL);
        if (rc != SQLITE_OK) {
            cdc_err_set(err, CDC_E_CONFIG, "%s: cannot open the SQLite file %s: %s",
                        s->base.what, target, s->lite != NULL ? sqlite3_errmsg(s->lite) :
                        sqlite3_errstr(rc));
            free(target);
            sql_close(&s->base);
            return -1;
        }
        sqlite3_busy_timeout(s->lite, conf->busy_timeout_ms > 0 ? conf->busy_timeout_ms : 5000);
        sqlite3_extended_result_codes(s->lite, 0);
    } else if (open_pg(s, target, red, err) != 0) {
        free(target);
        sql_close(&s->base);
        return -1;
    }
    free(target);
    if (schema_check(s, conf->no_create, err) != 0) {
        sql_close(&s->base);
        return -1;
    }
    *out = &s->base;
    return 0;
}

/*
 * Unit tests for sinks/iceberg/catalog/ (ice_catalog.c, ice_sql.c) on SQLite
 * files in a temporary folder: catalog_uri forms, the tables created with
 * pyiceberg's layout, create (namespace included), load, compare-and-swap
 * commits (a stale base is a "concurrent commit", nothing changes), the
 * reload-and-retry loop, list, drop, the errors at open, and a catalog locked
 * by another writer (a retriable timeout).  The same code
 * against pyiceberg itself, on SQLite and PostgreSQL: test/integration/640_*.sh.
 */
#include <check.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sinks/iceberg/catalog/ice_catalog.h"
#include "sinks/iceberg/catalog/ice_sql.h"

static char dir[] = "/tmp/test_ice_sql.XXXXXX";
static char db[300];
static char uri[320];

static void
setup(void)
{
    static int n;

    if (dir[sizeof(dir) - 7] == 'X')
        ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(db, sizeof(db), "%s/cat%d.db", dir, ++n);
    unlink(db);
    snprintf(uri, sizeof(uri), "sqlite:///%s", db);  /* dir is absolute: four slashes */
}

static ice_cat *
open_cat(const char *name)
{
    ice_sql_conf conf = { .uri = uri, .catalog_name = name };
    ice_cat     *c = NULL;
    cdc_err      err;

    cdc_err_clear(&err);
    ck_assert_msg(ice_sql_open(&conf, &c, &err) == 0, "%s", err.msg);
    return c;
}

/* The rows of a query on db, each "a|b|c", joined by ';'. */
static void
q(const char *sql, char *out, size_t outsz)
{
    sqlite3      *h;
    sqlite3_stmt *st;
    size_t        o = 0;

    out[0] = '\0';
    ck_assert_int_eq(sqlite3_open(db, &h), SQLITE_OK);
    ck_assert_msg(sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK, "%s", sqlite3_errmsg(h));
    while (sqlite3_step(st) == SQLITE_ROW) {
        int i;

        for (i = 0; i < sqlite3_column_count(st); i++) {
            const char *v = (const char *)sqlite3_column_text(st, i);

            o += (size_t)snprintf(out + o, outsz - o, "%s%s", i ? "|" : (o ? ";" : ""),
                                  v ? v : "NULL");
        }
    }
    sqlite3_finalize(st);
    sqlite3_close(h);
}

static void
x(const char *sql)
{
    sqlite3 *h;
    char    *e = NULL;

    ck_assert_int_eq(sqlite3_open(db, &h), SQLITE_OK);
    ck_assert_msg(sqlite3_exec(h, sql, NULL, NULL, &e) == SQLITE_OK, "%s", e ? e : "?");
    sqlite3_close(h);
}

START_TEST(uri_forms)
{
    ice_sql_backend b;
    char           *t = NULL, red[200];
    cdc_err         err;

    ck_assert_int_eq(ice_sql_parse_uri("sqlite:////tmp/c.db", &b, &t, red, sizeof(red), &err), 0);
    ck_assert_int_eq(b, ICE_SQL_SQLITE);
    ck_assert_str_eq(t, "/tmp/c.db");
    free(t);
    ck_assert_int_eq(ice_sql_parse_uri("sqlite:///rel/c.db", &b, &t, NULL, 0, &err), 0);
    ck_assert_str_eq(t, "rel/c.db");
    free(t);
    ck_assert_int_eq(ice_sql_parse_uri("sqlite://", &b, &t, NULL, 0, &err), 0);
    ck_assert_str_eq(t, ":memory:");
    free(t);
    ck_assert_int_eq(ice_sql_parse_uri("sqlite:///:memory:", &b, &t, NULL, 0, &err), 0);
    ck_assert_str_eq(t, ":memory:");
    free(t);

    ck_assert_int_eq(ice_sql_parse_uri("postgresql://cat:s3cret@db.example:5433/iceberg", &b, &t,
                                       red, sizeof(red), &err), 0);
    ck_assert_int_eq(b, ICE_SQL_POSTGRES);
    ck_assert_str_eq(t, "postgresql://cat:s3cret@db.example:5433/iceberg");
    ck_assert_str_eq(red, "postgresql://cat:***@db.example:5433/iceberg");
    free(t);
    ck_assert_int_eq(ice_sql_parse_uri("postgresql+psycopg2://u:p@h/d?sslmode=require", &b, &t,
                                       red, sizeof(red), &err), 0);
    ck_assert_str_eq(t, "postgresql://u:p@h/d?sslmode=require");
    ck_assert_str_eq(red, "postgresql+psycopg2://u:***@h/d?sslmode=require");
    free(t);
    /* An '@' in the password, a password in the query: hidden too. */
    ck_assert_int_eq(ice_sql_parse_uri("postgresql://u:p@ss@h:5432/d?sslmode=require&password=x1"
                                       "&sslpassword=x2&application_name=a", &b, &t, red,
                                       sizeof(red), &err), 0);
    ck_assert_str_eq(red, "postgresql://u:***@h:5432/d?sslmode=require&password=***"
                          "&sslpassword=***&application_name=a");
    free(t);
    ck_assert_int_eq(ice_sql_parse_uri("postgresql://h/d?password=x1", &b, &t, red, sizeof(red),
                                       &err), 0);
    ck_assert_str_eq(red, "postgresql://h/d?password=***");
    free(t);
    ck_assert_int_eq(ice_sql_parse_uri("postgres://h/d", &b, &t, red, sizeof(red), &err), 0);
    ck_assert_str_eq(t, "postgresql://h/d");
    ck_assert_str_eq(red, "postgres://h/d");
    free(t);

    /* Refusals name the URI without its password, and what is wrong. */
    ck_assert_int_eq(ice_sql_parse_uri("mysql://u:pw@h/d", &b, &t, NULL, 0, &err), -1);
    ck_assert_int_eq(err.code, CDC_E_CONFIG);
    ck_assert_ptr_nonnull(strstr(err.msg, "mysql://u:***@h/d"));
    ck_assert_ptr_null(strstr(err.msg, "pw"));
    ck_assert_int_eq(ice_sql_parse_uri("sqlite:/tmp/c.db", &b, &t, NULL, 0, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "three slashes"));
    ck_assert_int_eq(ice_sql_parse_uri("postgresql+mysqldb://u:pw@h/d", &b, &t, NULL, 0, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "unknown PostgreSQL driver \"mysqldb\""));
    ck_assert_int_eq(ice_sql_parse_uri("", &b, &t, NULL, 0, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "catalog_uri is empty"));
}
END_TEST

START_TEST(open_creates_pyiceberg_layout)
{
    ice_cat *c = open_cat(NULL);
    char     out[2000];

    ck_assert_str_eq(c->ops->kind, "sql");
    ck_assert_ptr_nonnull(strstr(c->what, "SQL catalog default at sqlite:///"));
    q("SELECT name, type, \"notnull\", pk FROM pragma_table_info('iceberg_tables') ORDER BY cid",
      out, sizeof(out));
    ck_assert_str_eq(out, "catalog_name|VARCHAR(255)|1|1;table_namespace|VARCHAR(255)|1|2;"
                          "table_name|VARCHAR(255)|1|3;metadata_location|VARCHAR(1000)|0|0;"
                          "previous_metadata_location|VARCHAR(1000)|0|0;"
                          "iceberg_type|VARCHAR(5)|0|0");
    q("SELECT name, type, \"notnull\", pk FROM pragma_table_info('iceberg_namespace_properties') "
      "ORDER BY cid", out, sizeof(out));
    ck_assert_str_eq(out, "catalog_name|VARCHAR(255)|1|1;namespace|VARCHAR(255)|1|2;"
                          "property_key|VARCHAR(255)|1|3;property_value|VARCHAR(1000)|1|0");
    ice_cat_close(c);
    /* A second open finds them and changes nothing. */
    c = open_cat(NULL);
    ice_cat_close(c);
}
END_TEST

START_TEST(create_load_commit)
{
    ice_cat          *c = open_cat("lake");
    ice_cat_ident     id = { "db", "orders" };
    ice_cat_new_table nt = { "file:///w/db/orders/metadata/00000-a.metadata.json", "{}" };
    ice_cat_table     t;
    ice_cat_change    cm = { 0 };
    cdc_err           err;
    char              out[2000];

    cdc_err_clear(&err);
    ck_assert_int_eq(ice_cat_load(c, &id, &t, &err), ICE_CAT_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(err.msg, "table db.orders does not exist"));
    ck_assert_int_eq(ice_cat_create(c, &id, &nt, &t, &err), ICE_CAT_OK);
    ck_assert_str_eq(t.metadata_location, nt.metadata_location);
    ck_assert_ptr_null(t.metadata_json);
    ice_cat_table_free(&t);
    /* The namespace came with it, as pyiceberg's create_namespace writes it. */
    q("SELECT catalog_name, namespace, property_key, property_value FROM "
      "iceberg_namespace_properties", out, sizeof(out));
    ck_assert_str_eq(out, "lake|db|exists|true");
    q("SELECT * FROM iceberg_tables", out, sizeof(out));
    ck_assert_str_eq(out, "lake|db|orders|file:///w/db/orders/metadata/00000-a.metadata.json|NULL|"
                          "TABLE");

    ck_assert_int_eq(ice_cat_create(c, &id, &nt, &t, &err), ICE_CAT_EXISTS);
    ck_assert_ptr_nonnull(strstr(err.msg, "table db.orders already exists"));

    ck_assert_int_eq(ice_cat_load(c, &id, &t, &err), ICE_CAT_OK);
    cm.base_location = t.metadata_location;
    cm.new_location = "file:///w/db/orders/metadata/00001-b.metadata.json";
    ck_assert_int_eq(ice_cat_commit(c, &id, &cm, NULL, &err), ICE_CAT_OK);
    ice_cat_table_free(&t);
    q("SELECT metadata_location, previous_metadata_location FROM iceberg_tables", out,
      sizeof(out));
    ck_assert_str_eq(out, "file:///w/db/orders/metadata/00001-b.metadata.json|"
                          "file:///w/db/orders/metadata/00000-a.metadata.json");

    /* A commit built on the old metadata loses and changes nothing. */
    cm.base_location = "file:///w/db/orders/metadata/00000-a.metadata.json";
    cm.new_location = "file:///w/db/orders/metadata/00001-c.metadata.json";
    ck_assert_int_eq(ice_cat_commit(c, &id, &cm, &t, &err), ICE_CAT_CONFLICT);
    ck_assert_ptr_nonnull(strstr(err.msg, "concurrent commit"));
    ck_assert_ptr_nonnull(strstr(err.msg, "00001-b.metadata.json"));
    ck_assert_ptr_nonnull(strstr(err.msg, "lake"));
    ck_assert_ptr_null(t.metadata_location);
    q("SELECT metadata_location FROM iceberg_tables", out, sizeof(out));
    ck_assert_str_eq(out, "file:///w/db/orders/metadata/00001-b.metadata.json");

    /* The same table name in another catalog is another table. */
    ice_cat_close(c);
    c = open_cat("other");
    ck_assert_int_eq(ice_cat_load(c, &id, &t, &err), ICE_CAT_NOT_FOUND);
    ice_cat_close(c);
}
END_TEST

START_TEST(namespaces)
{
    ice_cat          *c = open_cat(NULL);
    ice_cat_ident     a = { "a.b", "t1" }, b = { "a", "t2" }, d = { "a_b", "t3" };
    ice_cat_new_table nt = { "file:///m1.json", NULL };
    ice_cat_table     t;
    cdc_err           err;
    char              out[2000];

    /* A namespace that pyiceberg made with properties of its own is reused as it is. */
    x("INSERT INTO iceberg_namespace_properties VALUES ('default', 'a.b', 'owner', 'me')");
    ck_assert_int_eq(ice_cat_create(c, &a, &nt, &t, &err), ICE_CAT_OK);
    ice_cat_table_free(&t);
    /* "a" exists as the parent of a.b (pyiceberg's namespace_exists): no row for it. */
    ck_assert_int_eq(ice_cat_create(c, &b, &nt, &t, &err), ICE_CAT_OK);
    ice_cat_table_free(&t);
    /* "a_b" is not "a.b" nor under "a" (the '_' of LIKE is escaped). */
    ck_assert_int_eq(ice_cat_create(c, &d, &nt, &t, &err), ICE_CAT_OK);
    ice_cat_table_free(&t);
    q("SELECT namespace, property_key FROM iceberg_namespace_properties ORDER BY namespace", out,
      sizeof(out));
    ck_assert_str_eq(out, "a.b|owner;a_b|exists");
    ice_cat_close(c);
}
END_TEST

static int
collect(void *ud, const char *name)
{
    strcat(ud, name);
    strcat(ud, ",");
    return 0;
}

static int
stop_at_b(void *ud, const char *name)
{
    (void)ud;
    return strcmp(name, "b") == 0 ? 7 : 0;
}

START_TEST(list_and_drop)
{
    ice_cat          *c = open_cat(NULL);
    ice_cat_ident     ids[3] = { { "ns", "c" }, { "ns", "a" }, { "ns", "b" } };
    ice_cat_new_table nt = { "file:///m.json", NULL };
    ice_cat_table     t;
    cdc_err           err;
    char              names[100] = "";
    int               i;

    for (i = 0; i < 3; i++) {
        ck_assert_int_eq(ice_cat_create(c, &ids[i], &nt, &t, &err), ICE_CAT_OK);
        ice_cat_table_free(&t);
    }
    x("INSERT INTO iceberg_tables VALUES ('default', 'ns', 'v', 'file:///v.json', NULL, 'VIEW')");
    ck_assert_int_eq(ice_cat_list(c, "ns", collect, names, &err), ICE_CAT_OK);
    ck_assert_str_eq(names, "a,b,c,");  /* sorted; the view is not a table */
    ck_assert_int_eq(ice_cat_list(c, "ns", stop_at_b, NULL, &err), 7);
    ck_assert_int_eq(ice_cat_load(c, &(ice_cat_ident){ "ns", "v" }, &t, &err), ICE_CAT_NOT_FOUND);
    ck_assert_int_eq(ice_cat_drop(c, &ids[1], &err), ICE_CAT_OK);
    ck_assert_int_eq(ice_cat_drop(c, &ids[1], &err), ICE_CAT_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(err.msg, "ns.a does not exist"));
    names[0] = '\0';
    ck_assert_int_eq(ice_cat_list(c, "ns", collect, names, &err), ICE_CAT_OK);
    ck_assert_str_eq(names, "b,c,");
    names[0] = '\0';
    ck_assert_int_eq(ice_cat_list(c, "none", collect, names, &err), ICE_CAT_OK);
    ck_assert_str_eq(names, "");
    ice_cat_close(c);
}
END_TEST

/* The builder of commit_retry: the first time, another catalog handle (another writer)
   commits between our load and our commit. */
typedef struct race {
    ice_cat *other;
    int      builds;
    char     base[200], next[200];
} race;

static int
build(void *ud, const ice_cat_table *cur, ice_cat_change *cm, cdc_err *err)
{
    race         *r = ud;
    ice_cat_ident id = { "db", "t" };

    r->builds++;
    snprintf(r->base, sizeof(r->base), "%s", cur->metadata_location);
    snprintf(r->next, sizeof(r->next), "file:///ours-%d.json", r->builds);
    if (r->builds == 1) {
        ice_cat_change theirs = { cur->metadata_location, "file:///theirs.json", NULL, NULL, NULL };

        ck_assert_int_eq(ice_cat_commit(r->other, &id, &theirs, NULL, err), ICE_CAT_OK);
    }
    cm->base_location = r->base;
    cm->new_location = r->next;
    return 0;
}

START_TEST(commit_retry_reloads)
{
    ice_cat          *c = open_cat(NULL), *other = open_cat(NULL);
    ice_cat_ident     id = { "db", "t" };
    ice_cat_new_table nt = { "file:///first.json", NULL };
    ice_cat_table     t;
    race              r = { other, 0, "", "" };
    cdc_err           err;
    char              out[2000];

    ck_assert_int_eq(ice_cat_create(c, &id, &nt, &t, &err), ICE_CAT_OK);
    ice_cat_table_free(&t);
    ck_assert_int_eq(ice_cat_commit_retry(c, &id, 3, build, &r, &t, &err), ICE_CAT_OK);
    ck_assert_int_eq(r.builds, 2);
    ck_assert_str_eq(r.base, "file:///theirs.json");  /* rebuilt on what they committed */
    ck_assert_str_eq(t.metadata_location, "file:///ours-2.json");
    ice_cat_table_free(&t);
    q("SELECT metadata_location, previous_metadata_location FROM iceberg_tables", out,
      sizeof(out));
    ck_assert_str_eq(out, "file:///ours-2.json|file:///theirs.json");

    /* Every attempt losing: a conflict after max_attempts, saying so. */
    r.builds = 0;
    ck_assert_int_eq(ice_cat_commit_retry(c, &id, 1, build, &r, NULL, &err), ICE_CAT_CONFLICT);
    ck_assert_ptr_nonnull(strstr(err.msg, "gave up after 1 attempts"));
    ck_assert_ptr_nonnull(strstr(err.msg, "concurrent commit"));
    ice_cat_close(other);
    ice_cat_close(c);
}
END_TEST

START_TEST(open_errors)
{
    ice_sql_conf conf = { .uri = uri, .no_create = true };
    ice_cat     *c = NULL;
    cdc_err      err;

    /* Tables missing and not to be created. */
    ck_assert_int_eq(ice_sql_open(&conf, &c, &err), -1);
    ck_assert_ptr_null(c);
    ck_assert_int_eq(err.code, CDC_E_STATE);
    ck_assert_ptr_nonnull(strstr(err.msg, "the catalog's tables are missing"));

    /* A table of that name with another layout. */
    x("CREATE TABLE iceberg_tables (id INTEGER)");
    x("CREATE TABLE iceberg_namespace_properties (id INTEGER)");
    conf.no_create = false;
    ck_assert_int_eq(ice_sql_open(&conf, &c, &err), -1);
    ck_assert_int_eq(err.code, CDC_E_STATE);
    ck_assert_ptr_nonnull(strstr(err.msg, "not the layout of pyiceberg's SqlCatalog"));
    ck_assert_ptr_nonnull(strstr(err.msg, "catalog_name"));

    /* A file that cannot be opened. */
    conf.uri = "sqlite:////nonexistent-dir/x/c.db";
    ck_assert_int_eq(ice_sql_open(&conf, &c, &err), -1);
    ck_assert_int_eq(err.code, CDC_E_CONFIG);
    ck_assert_ptr_nonnull(strstr(err.msg, "cannot open the SQLite file /nonexistent-dir/x/c.db"));

    /* PostgreSQL that is not there: retriable, named, no password. */
    conf.uri = "postgresql://u:topsecret@127.0.0.1:1/db";
    ck_assert_int_eq(ice_sql_open(&conf, &c, &err), -1);
    ck_assert_int_eq(err.code, CDC_E_CONN);
    ck_assert_ptr_nonnull(strstr(err.msg, "127.0.0.1"));
    ck_assert_ptr_null(strstr(err.msg, "topsecret"));
}
END_TEST

START_TEST(v0_catalog)
{
    ice_cat          *c;
    ice_cat_ident     id = { "db", "t" };
    ice_cat_new_table nt = { "file:///m.json", NULL };
    ice_cat_table     t;
    cdc_err           err;
    char              out[500];

    /* pyiceberg before 0.10 made iceberg_tables without iceberg_type: used as it is. */
    x("CREATE TABLE iceberg_tables (catalog_name VARCHAR(255) NOT NULL, table_namespace "
      "VARCHAR(255) NOT NULL, table_name VARCHAR(255) NOT NULL, metadata_location "
      "VARCHAR(1000), previous_metadata_location VARCHAR(1000), PRIMARY KEY (catalog_name, "
      "table_namespace, table_name))");
    x("CREATE TABLE iceberg_namespace_properties (catalog_name VARCHAR(255) NOT NULL, namespace "
      "VARCHAR(255) NOT NULL, property_key VARCHAR(255) NOT NULL, property_value VARCHAR(1000) "
      "NOT NULL, PRIMARY KEY (catalog_name, namespace, property_key))");
    c = open_cat(NULL);
    ck_assert_int_eq(ice_cat_create(c, &id, &nt, &t, &err), ICE_CAT_OK);
    ice_cat_table_free(&t);
    ck_assert_int_eq(ice_cat_load(c, &id, &t, &err), ICE_CAT_OK);
    ck_assert_str_eq(t.metadata_location, "file:///m.json");
    ice_cat_table_free(&t);
    q("SELECT * FROM iceberg_tables", out, sizeof(out));
    ck_assert_str_eq(out, "default|db|t|file:///m.json|NULL");
    ice_cat_close(c);
}
END_TEST

START_TEST(bad_arguments)
{
    ice_cat          *c = open_cat(NULL);
    ice_cat_ident     noname = { "db", "" };
    ice_cat_ident     id = { "db", "t" };
    ice_cat_new_table nt = { "file:///m.json", NULL };
    ice_cat_table     t;
    ice_cat_change    same = { "file:///m.json", "file:///m.json", NULL, NULL, NULL };
    cdc_err           err;

    ck_assert_int_eq(ice_cat_load(c, &noname, &t, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "needs a namespace and a name"));
    ck_assert_int_eq(ice_cat_create(c, &id, &nt, &t, &err), ICE_CAT_OK);
    ice_cat_table_free(&t);
    ck_assert_int_eq(ice_cat_commit(c, &id, &same, NULL, &err), -1);
    ck_assert_int_eq(err.code, CDC_E_INVAL);
    ice_cat_close(c);
    ice_cat_close(NULL);
    ice_cat_table_free(NULL);
}
END_TEST

START_TEST(locked_catalog_times_out)
{
    ice_sql_conf      conf = { .uri = uri, .busy_timeout_ms = 200 };
    ice_cat          *c = NULL;
    ice_cat_ident     id = { "db", "t" };
    ice_cat_new_table nt = { "file:///m0.json", NULL };
    ice_cat_change    cm = { "file:///m0.json", "file:///m1.json", NULL, NULL, NULL };
    ice_cat_table     t;
    sqlite3          *other;
    cdc_err           err;
    char              out[200];

    ck_assert_msg(ice_sql_open(&conf, &c, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(ice_cat_create(c, &id, &nt, &t, &err), ICE_CAT_OK);
    ice_cat_table_free(&t);
    /* Another writer holds the database: we wait busy_timeout_ms, then a retriable error. */
    ck_assert_int_eq(sqlite3_open(db, &other), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(other, "BEGIN EXCLUSIVE", NULL, NULL, NULL), SQLITE_OK);
    ck_assert_int_eq(ice_cat_commit(c, &id, &cm, NULL, &err), -1);
    ck_assert_int_eq(err.code, CDC_E_TIMEOUT);
    ck_assert(cdc_rc_retriable(err.code));
    ck_assert_ptr_nonnull(strstr(err.msg, "committing to db.t"));
    ck_assert_ptr_nonnull(strstr(err.msg, "database is locked"));
    ck_assert_int_eq(sqlite3_exec(other, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(other);
    /* Free again: the same commit goes through. */
    ck_assert_int_eq(ice_cat_commit(c, &id, &cm, NULL, &err), ICE_CAT_OK);
    q("SELECT metadata_location FROM iceberg_tables", out, sizeof(out));
    ck_assert_str_eq(out, "file:///m1.json");
    ice_cat_close(c);
}
END_TEST

static Suite *
ice_sql_suite(void)
{
    Suite *s = suite_create("ice_sql");
    TCase *tc = tcase_create("sqlite");

    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, uri_forms);
    tcase_add_test(tc, open_creates_pyiceberg_layout);
    tcase_add_test(tc, create_load_commit);
    tcase_add_test(tc, namespaces);
    tcase_add_test(tc, list_and_drop);
    tcase_add_test(tc, commit_retry_reloads);
    tcase_add_test(tc, open_errors);
    tcase_add_test(tc, v0_catalog);
    tcase_add_test(tc, bad_arguments);
    tcase_add_test(tc, locked_catalog_times_out);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(ice_sql_suite());
    int      nfailed;

    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_ENV);
    nfailed = srunner_ntests_failed(sr);
    srunner_free(sr);
    /* The temporary folder and its files. */
    {
        char cmd[400];

        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            nfailed++;
    }
    return nfailed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

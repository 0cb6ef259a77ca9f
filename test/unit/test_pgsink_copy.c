/*
 * Suite "pgsink_copy": what the PostgreSQL sink sends by COPY (sinks/postgres/pg_sql.c, no
 * server needed).  Fields in COPY's text format as PostgreSQL's documentation of COPY
 * defines it (backslash, tab, newline and carriage return escaped, \N for NULL, UTF-8 as it
 * is); the staging statements of a replica run, built from its INSERT even when the quoted
 * table and column names hold parentheses; the event log's statements with and without
 * upsert; the replica's upsert text kept per relation (pg_sql_upsert's cache).  Integration
 * tests 310, 330 and 340 send them to a server.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "sinks/postgres/pg_int.h"
#include "test/lib/suite_main.h"

static const struct {
    const char *in, *out;
} fields[] = {
    { "plain", "plain" },
    { "", "" },
    { "tab\there", "tab\\there" },
    { "two\nlines\r\n", "two\\nlines\\r\\n" },
    { "back\\slash", "back\\\\slash" },
    { "\\N", "\\\\N" },                    /* the text \N is not NULL */
    { "caf\xc3\xa9 \"q\" 'q'", "caf\xc3\xa9 \"q\" 'q'" },
    { "{\"a\": \"x\\\"y\"}", "{\"a\": \"x\\\\\"y\"}" },
};

START_TEST(copy_field)
{
    cdc_buf b = CDC_BUF_INIT;

    pg_copy_field(&b, fields[_i].in);
    ck_assert_uint_eq(b.len, strlen(fields[_i].out));
    ck_assert(b.len == 0 || memcmp(b.data, fields[_i].out, b.len) == 0);
    cdc_buf_free(&b);
}
END_TEST

START_TEST(copy_row_null)
{
    cdc_buf b = CDC_BUF_INIT;
    char    a[] = "1", c[] = "x\ty";
    char   *row[] = { a, NULL, c };

    pg_copy_row(&b, row, 3);
    cdc_buf_putc(&b, '\0');
    ck_assert_str_eq((const char *) b.data, "1\t\\N\tx\\ty\n");
    cdc_buf_free(&b);
}
END_TEST

/* An op shaped as pg_sql_upsert() makes it: offsets found in the text. */
static pg_op
upsert_op(const char *sql)
{
    pg_op op;

    memset(&op, 0, sizeof(op));
    op.sql = (char *) sql;
    op.cols_at = (int) (strstr(sql, "\" (") - sql) + 3;
    op.values_at = (int) (strstr(sql, ") VALUES (") - sql) + 2;
    op.tail_at = (int) (strstr(sql + op.values_at, ")") - sql) + 1;
    return op;
}

START_TEST(stage_replica)
{
    pg_op op = upsert_op("INSERT INTO \"public\".\"t(1)\" (\"id\", \"v)\") VALUES ($1, $2) "
                         "ON CONFLICT (\"id\") DO UPDATE SET \"v)\" = EXCLUDED.\"v)\"");
    char *create, *copy, *apply;

    pg_sql_stage_replica(&op, "pg_temp.s1", &create, &copy, &apply);
    ck_assert_str_eq(create, "CREATE TEMP TABLE IF NOT EXISTS pg_temp.s1 ON COMMIT DELETE ROWS "
                     "AS SELECT \"id\", \"v)\" FROM \"public\".\"t(1)\" WITH NO DATA");
    ck_assert_str_eq(copy, "COPY pg_temp.s1 FROM STDIN");
    ck_assert_str_eq(apply, "WITH s AS (DELETE FROM pg_temp.s1 RETURNING *) INSERT INTO "
                     "\"public\".\"t(1)\" (\"id\", \"v)\") SELECT * FROM s ON CONFLICT (\"id\") "
                     "DO UPDATE SET \"v)\" = EXCLUDED.\"v)\"");
    free(create);
    free(copy);
    free(apply);
    copy = pg_sql_copy_replica(&op);        /* the fast path: into the table itself */
    ck_assert_str_eq(copy, "COPY \"public\".\"t(1)\" (\"id\", \"v)\") FROM STDIN");
    free(copy);
}
END_TEST

/* A refused event-log row's dead-letter record, made from its parameters (a tombstone). */
START_TEST(event_log_record)
{
    char   *params[7] = { strdup("{\"id\":1}"), NULL, strdup("it.\"x\"\\y"), strdup("0"),
                          strdup("123"), strdup("456"), strdup("7") };
    pg_op   op;
    char   *rec;

    memset(&op, 0, sizeof(op));
    op.nparams = 7;
    op.params = params;
    rec = pg_sql_event_log_record(&op);
    ck_assert_str_eq(rec, "{\"key\":{\"id\":1},\"value\":null,\"metadata\":{\"topic\":"
                     "\"it.\\\"x\\\"\\\\y\",\"partition\":0,\"offset\":123,\"commit_lsn\":456,"
                     "\"seq\":7}}");
    free(rec);
    for (int i = 0; i < 7; i++)
        free(params[i]);
}
END_TEST

START_TEST(stage_replica_no_key)
{
    pg_op op = upsert_op("INSERT INTO \"s\".\"t\" (\"a\") VALUES ($1)");
    char *create, *copy, *apply;

    pg_sql_stage_replica(&op, "pg_temp.s2", &create, &copy, &apply);
    ck_assert_str_eq(apply, "WITH s AS (DELETE FROM pg_temp.s2 RETURNING *) INSERT INTO "
                     "\"s\".\"t\" (\"a\") SELECT * FROM s");
    free(create);
    free(copy);
    free(apply);
}
END_TEST

START_TEST(stage_event_log)
{
    pgsink p;
    char  *create, *copy, *apply;

    memset(&p, 0, sizeof(p));
    p.table = (char *) "\"public\".\"ev\"";
    pg_sql_stage_event_log(&p, "pg_temp.s3", &create, &copy, &apply);
    ck_assert_ptr_null(create);
    ck_assert_ptr_null(apply);
    ck_assert_str_eq(copy, "COPY \"public\".\"ev\" (event_key, event_value, source_topic, "
                     "source_partition, source_offset, commit_lsn, seq) FROM STDIN");
    free(copy);
    p.upsert = true;
    pg_sql_stage_event_log(&p, "pg_temp.s3", &create, &copy, &apply);
    ck_assert_ptr_nonnull(strstr(create, "CREATE TEMP TABLE IF NOT EXISTS pg_temp.s3 ("));
    ck_assert_str_eq(copy, "COPY pg_temp.s3 FROM STDIN");
    ck_assert_ptr_nonnull(strstr(apply, "WITH s AS (DELETE FROM pg_temp.s3 RETURNING *) "
                                 "INSERT INTO \"public\".\"ev\" (event_key, "));
    ck_assert_ptr_nonnull(strstr(apply, " SELECT * FROM s ON CONFLICT (source_topic, "
                                 "source_partition, source_offset, seq) DO UPDATE SET "));
    free(create);
    free(copy);
    free(apply);
}
END_TEST

/*
 * The upsert text of a row comes from the sink's cache while relation and present columns
 * are the same; a row without its unchanged TOAST column, a renamed column (new relation
 * version) and another relation in the same cache slot each get their own text, and the
 * text always equals what a sink with an empty cache builds.
 */
static cdc_col ucols[3] = {
    { .name = "id", .type_name = "integer", .catalog_known = true, .key_pos = 1,
      .ctype = { .supported = true, .kind = CDC_CT_INT32 } },
    { .name = "name", .type_name = "text", .catalog_known = true,
      .ctype = { .supported = true, .kind = CDC_CT_STRING } },
    { .name = "note", .type_name = "text", .catalog_known = true,
      .ctype = { .supported = true, .kind = CDC_CT_STRING } },
};

static char *
upsert_sql(pgsink *p, const cdc_rel *rel, bool toast)
{
    cdc_value vals[3] = {
        { .state = CDC_VAL_PRESENT, .u.i = 7 },
        { .state = CDC_VAL_PRESENT, .u.s = { "n", 1, 0 } },
        { .state = toast ? CDC_VAL_UNCHANGED : CDC_VAL_PRESENT, .u.s = { "t", 1, 0 } },
    };
    cdc_event ev = { .op = CDC_OP_UPDATE, .rel = rel, .after = vals };
    pg_op     op;
    char     *sql;

    memset(&op, 0, sizeof(op));
    pg_queue_replica(p, &ev, &op);
    ck_assert_ptr_nonnull(op.sql);
    ck_assert_int_eq(strncmp(op.sql + op.values_at, "VALUES (", 8), 0);
    sql = strdup(op.sql);
    pg_op_free(&op);
    return sql;
}

/* The text with a cache of its own (empty), and again from the shared cache p. */
static void
check_upsert(pgsink *p, const cdc_rel *rel, bool toast, const char *want_cols)
{
    pgsink fresh;
    char  *a, *b;

    memset(&fresh, 0, sizeof(fresh));
    a = upsert_sql(&fresh, rel, toast);
    b = upsert_sql(p, rel, toast);
    ck_assert_str_eq(b, a);
    ck_assert_ptr_nonnull(strstr(a, want_cols));
    free(a);
    free(b);
    for (int i = 0; i < PG_SQLC; i++)
        pg_sqlc_free(&fresh.sqlc[i]);
}

START_TEST(upsert_cache)
{
    pgsink  p;
    cdc_col renamed[3];
    cdc_rel rel = { .relid = 5, .nspname = "public", .relname = "t", .ncols = 3, .cols = ucols,
                    .version = 1, .nkeys = 1 };
    cdc_rel rel2 = rel, other = rel;

    memset(&p, 0, sizeof(p));
    check_upsert(&p, &rel, false, "\"public\".\"t\" (\"id\", \"name\", \"note\")");
    check_upsert(&p, &rel, false, "(\"id\", \"name\", \"note\")");
    check_upsert(&p, &rel, true, "(\"id\", \"name\") VALUES ($1, $2)");
    check_upsert(&p, &rel, false, "\"note\" = EXCLUDED.\"note\"");
    memcpy(renamed, ucols, sizeof(renamed));
    renamed[2].name = "remark";
    rel2.cols = renamed;        /* even under the same version number: the names are compared */
    check_upsert(&p, &rel2, false, "(\"id\", \"name\", \"remark\")");
    rel2.version = 2;
    check_upsert(&p, &rel2, false, "\"remark\" = EXCLUDED.\"remark\"");
    check_upsert(&p, &rel, false, "(\"id\", \"name\", \"note\")");
    other.relname = "u";        /* same relid and version, another table */
    check_upsert(&p, &other, false, "INSERT INTO \"public\".\"u\" (");
    other.relid = 5 + PG_SQLC;          /* the same slot */
    check_upsert(&p, &other, false, "INSERT INTO \"public\".\"u\" (");
    check_upsert(&p, &rel, false, "INSERT INTO \"public\".\"t\" (\"id\", \"name\", \"note\")");
    for (int i = 0; i < PG_SQLC; i++)
        pg_sqlc_free(&p.sqlc[i]);
}
END_TEST

static Suite *
pgsink_copy_suite(void)
{
    Suite *s = suite_create("pgsink_copy");
    TCase *tc = tcase_create("copy");

    tcase_add_loop_test(tc, copy_field, 0, (int) (sizeof(fields) / sizeof(fields[0])));
    tcase_add_test(tc, copy_row_null);
    tcase_add_test(tc, stage_replica);
    tcase_add_test(tc, stage_replica_no_key);
    tcase_add_test(tc, stage_event_log);
    tcase_add_test(tc, upsert_cache);
    tcase_add_test(tc, event_log_record);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return suite_main(pgsink_copy_suite(), false);
}

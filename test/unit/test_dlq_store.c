/*
 * Suite "dlq_store": the dead-letter stores of agent/core/dest/dlq.h keep the record
 * byte for byte.  The record holds numbers that a decode/encode through
 * jansson changes or refuses (1.1, 1e300, -0.0, 12345678901234567890); it
 * must come back identical through the file (agent_dlq_read) and through
 * the table (agent_dlq_read_table, and the event_key/event_value json
 * columns).  Also: the raw JSON member finder, records that are not JSON,
 * a table store whose database is down (append fails, nothing counted), a
 * conninfo libpq cannot parse, the dead-letter counter.
 *
 * The table cases need a PostgreSQL: they run when CDC_TEST_DLQ_CONNINFO
 * is set (test/integration/340_dlq_postgres.sh runs this binary so) and
 * are left out, with a note, otherwise.
 */
#include <check.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/core/cdc_counters.h"
#include "agent/cmd/dlq_cli.h"
#include "agent/core/dest/dlq.h"

/* Every number here changes or is refused when jansson decodes and re-encodes it. */
static const char exact_key[] = "{\"id\":12345678901234567890}";
static const char exact_value[] =
    "{\"a\":1.1,\"b\":1e300,\"c\":-0.0,\"d\":[1.1,{\"e\":-0.0,\"f\":\"x\\\"}y\"}],"
    "\"g\":0.1E-5,\"h\":\"\\u00e9\\n\"}";
static char exact_record[512];

static void
make_record(void)
{
    snprintf(exact_record, sizeof(exact_record),
             "{\"key\":%s,\"value\":%s,\"metadata\":{\"topic\":\"cdc.public.t\",\"record\":1}}",
             exact_key, exact_value);
}

static dest_dlq_rec
rec_of(const char *sink, uint64_t lsn, uint64_t seq, const char *record)
{
    return (dest_dlq_rec) {
        .sink_id = sink, .topic = "cdc.public.t", .partition = 0, .offset = lsn - 8,
        .pos = { lsn, seq }, .error_type = "http_status_400",
        .error_message = "HTTP 400: {\"error\":\"no\"}", .code = CDC_E_DEST,
        .where = "test_dlq_store.c", .record = record,
        .record_len = record ? strlen(record) : 0,
    };
}

/* ---------------------------------------------------------------- framing */

START_TEST(json_member_finds_raw_values)
{
    static const struct {
        const char *text, *name;
        int         rc;
        const char *want;
    } cases[] = {
        { "{\"key\":{\"id\":1},\"value\":null}", "key", 1, "{\"id\":1}" },
        { "{\"key\":{\"id\":1},\"value\":null}", "value", 1, "null" },
        { "{\"key\":1}", "value", 0, NULL },
        { " { \"a\" : \"}\\\"\" , \"b\" : [1.10, {\"c\":\"]\"}] } ", "b", 1,
          "[1.10, {\"c\":\"]\"}]" },
        { "{\"a\":{\"key\":5},\"key\":-0.0}", "key", 1, "-0.0" },   /* the top level only */
        { "{\"k\\\"ey\":1,\"key\":2}", "key", 1, "2" },
        { "{}", "key", 0, NULL },
        { "[1]", "key", -1, NULL },
        { "{\"key\":{\"id\":1}", "value", -1, NULL },                 /* torn */
        { "{\"key\" 1}", "key", -1, NULL },
    };

    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        size_t off = 0, len = 0;
        int    rc = dest_dlq_json_member(cases[c].text, strlen(cases[c].text), cases[c].name,
                                         &off, &len);

        ck_assert_msg(rc == cases[c].rc, "case %zu: rc %d, want %d", c, rc, cases[c].rc);
        if (rc == 1)
            ck_assert_msg(len == strlen(cases[c].want) &&
                          memcmp(cases[c].text + off, cases[c].want, len) == 0,
                          "case %zu: got '%.*s'", c, (int) len, cases[c].text + off);
    }
}
END_TEST

START_TEST(record_is_json)
{
    make_record();
    ck_assert(dest_dlq_record_is_json(exact_record, strlen(exact_record)));
    ck_assert(dest_dlq_record_is_json("{\"a\":1, \"b\":2}", 14));
    ck_assert(!dest_dlq_record_is_json("{\"a\":1,\n\"b\":2}", 14));      /* a line break */
    ck_assert(!dest_dlq_record_is_json("{\"a\":", 5));
    ck_assert(!dest_dlq_record_is_json(NULL, 0));
}
END_TEST

/* The test would be pointless if jansson kept these numbers: show that it does not. */
START_TEST(jansson_would_change_the_record)
{
    json_t *v;
    char   *again;

    make_record();
    ck_assert_ptr_null(json_loads(exact_record, 0, NULL));     /* 12345678901234567890 */
    v = json_loads(exact_value, 0, NULL);
    ck_assert_ptr_nonnull(v);
    again = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);
    ck_assert_str_ne(again, exact_value);
    free(again);
    json_decref(v);
}
END_TEST

/* ---------------------------------------------------------------- the file */

static char path[64];

static void
file_setup(void)
{
    int fd;

    strcpy(path, "/tmp/test_dlq_store_XXXXXX");
    fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    make_record();
}

static void
file_teardown(void)
{
    unlink(path);
}

START_TEST(file_round_trip_is_exact)
{
    static const char not_json[] = "not json\n{\"a\":1.10}";
    cdc_err           err = { 0 };
    dest_dlq         *q = dest_dlq_open(path, &err);
    dest_dlq_rec      r1 = rec_of("hook", 0x1000000, 3, exact_record);
    dest_dlq_rec      r2 = rec_of("hook", 0x1000000, 4, not_json);
    dest_dlq_rec      r3 = rec_of("hook", 0x1000000, 5, NULL);
    uint64_t          before = cdc_counter_total(CDC_CTR_DLQ);
    agent_dlq_set     set;

    ck_assert_ptr_nonnull(q);
    ck_assert_msg(dest_dlq_append(q, &r1, &err) == 0, "%s", err.msg);
    ck_assert_msg(dest_dlq_append(q, &r2, &err) == 0, "%s", err.msg);
    ck_assert_msg(dest_dlq_append(q, &r3, &err) == 0, "%s", err.msg);
    ck_assert_msg(dest_dlq_append(q, &r1, &err) == 0, "%s", err.msg);    /* after a crash */
    ck_assert_uint_eq(dest_dlq_count(q), 4);
    ck_assert_uint_eq(cdc_counter_total(CDC_CTR_DLQ) - before, 4);
    ck_assert_int_eq(dest_dlq_mark_replayed(q, "hook", r2.pos, &err), 0);
    dest_dlq_close(q);

    ck_assert_msg(agent_dlq_read(path, &set, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(set.n, 3);
    ck_assert_int_eq(set.nbad, 0);
    ck_assert_str_eq(set.v[0].id, "hook-0000000001000000-3");
    ck_assert_str_eq(set.v[0].record, exact_record);
    ck_assert_str_eq(set.v[0].stacktrace, "CDC_E_DEST at test_dlq_store.c");
    ck_assert_str_eq(set.v[0].error_message, "HTTP 400: {\"error\":\"no\"}");
    ck_assert(!set.v[0].replayed);
    ck_assert_str_eq(set.v[1].record, not_json);
    ck_assert(set.v[1].replayed);
    ck_assert_ptr_null(set.v[2].record);
    agent_dlq_set_free(&set);
}
END_TEST

/* Each line of the file is JSON that a reader which keeps numbers exact can take. */
START_TEST(file_lines_are_json)
{
    cdc_err       err = { 0 };
    dest_dlq     *q = dest_dlq_open(path, &err);
    dest_dlq_rec  r = rec_of("hook", 0x2000000, 0, exact_record);
    FILE         *f;
    char          line[2048];
    int           n = 0;

    ck_assert_int_eq(dest_dlq_append(q, &r, &err), 0);
    ck_assert_int_eq(dest_dlq_mark_replayed(q, "hook", r.pos, &err), 0);
    dest_dlq_close(q);
    f = fopen(path, "r");
    while (fgets(line, sizeof(line), f)) {
        json_t *v = json_loads(line, JSON_DECODE_INT_AS_REAL, NULL);

        ck_assert_msg(v != NULL, "not JSON: %s", line);
        json_decref(v);
        n++;
    }
    fclose(f);
    ck_assert_int_eq(n, 2);
    ck_assert_ptr_nonnull(strstr(line, "\"replayed\":\"hook-0000000002000000-0\""));
}
END_TEST

/* ---------------------------------------------------------------- the table */

START_TEST(table_bad_conninfo_is_config_error)
{
    cdc_err err = { 0 };

    ck_assert_ptr_null(dest_dlq_open_pg("host=x port", "t", &err));
    ck_assert_int_eq(err.code, CDC_E_CONFIG);
    ck_assert_ptr_null(strstr(err.msg, "host=x"));      /* the text is never shown */
    ck_assert_ptr_null(dest_dlq_open_pg("host=x", "", &err));
    ck_assert_int_eq(err.code, CDC_E_CONFIG);
}
END_TEST

START_TEST(table_down_fails_append)
{
    cdc_err      err = { 0 };
    dest_dlq    *q;
    dest_dlq_rec r;
    uint64_t     before = cdc_counter_total(CDC_CTR_DLQ);

    make_record();
    r = rec_of("hook", 0x3000000, 0, exact_record);
    /* port 1 on loopback: refused at once */
    q = dest_dlq_open_pg("host=127.0.0.1 port=1 password=s3cret", "dlq", &err);
    ck_assert_ptr_nonnull(q);
    ck_assert(dest_dlq_is_table(q));
    ck_assert_str_eq(dest_dlq_path(q), "table dlq");
    ck_assert_int_eq(dest_dlq_append(q, &r, &err), -1);
    ck_assert_int_eq(err.code, CDC_E_CONN);
    ck_assert_ptr_nonnull(strstr(err.msg, "cannot connect"));
    ck_assert_ptr_null(strstr(err.msg, "s3cret"));
    ck_assert_uint_eq(dest_dlq_count(q), 0);
    ck_assert_uint_eq(cdc_counter_total(CDC_CTR_DLQ), before);
    dest_dlq_close(q);
}
END_TEST

static const char *conninfo;
static char        table[64];

static void
table_setup(void)
{
    snprintf(table, sizeof(table), "dlq_unit_%d", (int) getpid());
    make_record();
}

/* One text value from the test's own connection. */
static char *
query1(const char *sql)
{
    PGconn   *c = PQconnectdb(conninfo);
    PGresult *res;
    char     *out = NULL;

    ck_assert_msg(PQstatus(c) == CONNECTION_OK, "%s", PQerrorMessage(c));
    res = PQexec(c, sql);
    ck_assert_msg(PQresultStatus(res) == PGRES_TUPLES_OK || PQresultStatus(res) ==
                  PGRES_COMMAND_OK, "%s: %s", sql, PQerrorMessage(c));
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) > 0 && !PQgetisnull(res, 0, 0))
        out = strdup(PQgetvalue(res, 0, 0));
    PQclear(res);
    PQfinish(c);
    return out;
}

static void
table_teardown(void)
{
    char sql[128];

    snprintf(sql, sizeof(sql), "DROP TABLE IF EXISTS %s", table);
    free(query1(sql));
}

static void
expect_sql(const char *what, const char *sql_fmt, const char *want)
{
    char  sql[512];
    char *got;

    snprintf(sql, sizeof(sql), sql_fmt, table);
    got = query1(sql);
    ck_assert_msg(got != NULL && strcmp(got, want) == 0, "%s: got '%s', want '%s'", what,
                  got ? got : "(null)", want);
    free(got);
}

START_TEST(table_round_trip_is_exact)
{
    static const char bad_utf8[] = "HTTP 400: caf\xC3";     /* cut inside a character */
    cdc_err           err = { 0 };
    dest_dlq         *q = dest_dlq_open_pg(conninfo, table, &err);
    dest_dlq_rec      r1 = rec_of("hook", 0x1000000, 3, exact_record);
    dest_dlq_rec      r2 = rec_of("pg", 0x1000000, 3, "not json\n");
    agent_dlq_set     set;

    ck_assert_msg(q != NULL, "%s", err.msg);
    r2.error_message = bad_utf8;
    r2.error_type = "pg_22P02";
    ck_assert_msg(dest_dlq_append(q, &r1, &err) == 0, "%s", err.msg);
    ck_assert_msg(dest_dlq_append(q, &r1, &err) == 0, "%s", err.msg);  /* re-sent: one row */
    ck_assert_msg(dest_dlq_append(q, &r2, &err) == 0, "%s", err.msg);
    expect_sql("rows", "SELECT count(*) FROM %s", "2");
    expect_sql("event_key", "SELECT event_key::text FROM %s WHERE sink_id = 'hook'", exact_key);
    expect_sql("event_value", "SELECT event_value::text FROM %s WHERE sink_id = 'hook'",
               exact_value);
    expect_sql("no key for a record that is not JSON",
               "SELECT coalesce(event_key::text, 'none') FROM %s WHERE sink_id = 'pg'", "none");
    expect_sql("diagnostics", "SELECT concat_ws('|', source_topic, source_partition, "
               "source_offset, commit_lsn, seq, error_type, stacktrace, replayed_at IS NULL) "
               "FROM %s WHERE sink_id = 'hook'",
               "cdc.public.t|0|16777208|16777216|3|http_status_400|CDC_E_DEST at "
               "test_dlq_store.c|t");
    expect_sql("invalid UTF-8 replaced", "SELECT error_message FROM %s WHERE sink_id = 'pg'",
               "HTTP 400: caf\xEF\xBF\xBD");

    ck_assert_msg(agent_dlq_read_table(q, &set, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(set.n, 2);
    ck_assert_str_eq(set.v[0].id, "hook-0000000001000000-3");
    ck_assert_int_gt(set.v[0].row_id, 0);
    ck_assert_str_eq(set.v[0].record, exact_record);
    ck_assert_str_eq(set.v[0].topic, "cdc.public.t");
    ck_assert_uint_eq(set.v[0].offset, 0x1000000 - 8);
    ck_assert_uint_eq(set.v[0].commit_lsn, 0x1000000);
    ck_assert_uint_eq(set.v[0].seq, 3);
    ck_assert_str_eq(set.v[0].error_message, "HTTP 400: {\"error\":\"no\"}");
    ck_assert_int_eq((int) strlen(set.v[0].timestamp), 24);     /* 2024-01-01T00:00:00.000Z */
    ck_assert(!set.v[0].replayed);
    ck_assert_str_eq(set.v[1].record, "not json\n");
    agent_dlq_set_free(&set);

    ck_assert_int_eq(dest_dlq_mark_replayed(q, "hook", r1.pos, &err), 0);
    ck_assert_int_eq(dest_dlq_mark_replayed(q, "hook", r1.pos, &err), 0);   /* no-op */
    ck_assert_msg(agent_dlq_read_table(q, &set, &err) == 0, "%s", err.msg);
    ck_assert(set.v[0].replayed);
    ck_assert_ptr_nonnull(set.v[0].replayed_at);
    ck_assert(!set.v[1].replayed);
    agent_dlq_set_free(&set);
    dest_dlq_close(q);
}
END_TEST

/* The store reconnects by itself when its connection was closed under it. */
START_TEST(table_reconnects)
{
    cdc_err       err = { 0 };
    dest_dlq     *q = dest_dlq_open_pg(conninfo, table, &err);
    dest_dlq_rec  r = rec_of("hook", 0x5000000, 1, exact_record);
    char         *n;

    ck_assert_msg(q != NULL, "%s", err.msg);
    /* the store's connection is gone (waited for) before the append */
    n = query1("SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 10000)) FROM "
               "pg_stat_activity WHERE application_name = 'cdcagent-dlq'");
    ck_assert_str_eq(n, "1");
    free(n);
    ck_assert_msg(dest_dlq_append(q, &r, &err) == 0, "%s", err.msg);
    expect_sql("stored after the reconnect", "SELECT count(*) FROM %s", "1");
    dest_dlq_close(q);
}
END_TEST

static Suite *
dlq_store_suite(void)
{
    Suite *s = suite_create("dlq_store");
    TCase *tc;

    tc = tcase_create("framing");
    tcase_add_test(tc, json_member_finds_raw_values);
    tcase_add_test(tc, record_is_json);
    tcase_add_test(tc, jansson_would_change_the_record);
    suite_add_tcase(s, tc);

    tc = tcase_create("file");
    tcase_add_checked_fixture(tc, file_setup, file_teardown);
    tcase_add_test(tc, file_round_trip_is_exact);
    tcase_add_test(tc, file_lines_are_json);
    suite_add_tcase(s, tc);

    tc = tcase_create("table_offline");
    tcase_add_test(tc, table_bad_conninfo_is_config_error);
    tcase_add_test(tc, table_down_fails_append);
    suite_add_tcase(s, tc);

    conninfo = getenv("CDC_TEST_DLQ_CONNINFO");
    if (conninfo && *conninfo) {
        tc = tcase_create("table");
        tcase_add_checked_fixture(tc, table_setup, table_teardown);
        tcase_add_test(tc, table_round_trip_is_exact);
        tcase_add_test(tc, table_reconnects);
        suite_add_tcase(s, tc);
    } else {
        printf("# dlq_store: the table cases need CDC_TEST_DLQ_CONNINFO (340_dlq_postgres.sh "
               "sets it); left out\n");
    }
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(dlq_store_suite());
    int      failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

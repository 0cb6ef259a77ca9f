/*
 * Unit tests for agent/pipeline/snapshot_progress.c: the progress file's path, what a
 * snapshot's reports leave in it and in /metrics, and that slot status ignores a file
 * written for another database.  No PostgreSQL: the WAL figure's connection goes to a
 * closed port and the figure is then -1 (unknown).
 */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/core/cdc_buf.h"
#include "agent/pipeline/snapshot_progress.h"
#include "test/lib/suite_main.h"

static char dir[] = "/tmp/cdc-snapprog-XXXXXX";

static void
setup(void)
{
    strcpy(dir, "/tmp/cdc-snapprog-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void
teardown(void)
{
    char cmd[100];

    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}

START_TEST(path_joins_dir_and_slot)
{
    char out[200];

    agent_snapshot_progress_path("/var/lib/cdc", "s1", out, sizeof(out));
    ck_assert_str_eq(out, "/var/lib/cdc/cdcagent-s1.snapshot.json");
    agent_snapshot_progress_path("/var/lib/cdc/", "s1", out, sizeof(out));
    ck_assert_str_eq(out, "/var/lib/cdc/cdcagent-s1.snapshot.json");
    agent_snapshot_progress_path("", "s1", out, sizeof(out));
    ck_assert_str_eq(out, "cdcagent-s1.snapshot.json");
}
END_TEST

START_TEST(reports_reach_file_and_metrics)
{
    cdc_config         cfg;
    cfg_source        *src = &cfg.pipeline.source;
    agent_metrics     *m = agent_metrics_new("p", "s1");
    agent_snapshot_env env = { .metrics = m, .state_dir = dir, .every_s = 1000 };
    snap_progress     *p;
    json_t            *o;
    cdc_buf            text = CDC_BUF_INIT;

    memset(&cfg, 0, sizeof(cfg));
    src->slot_name = "s1";
    src->host = "127.0.0.1";
    src->port = 1;              /* nothing listens: the WAL figure is unknown */
    src->database = "db";
    src->username = "u";
    src->password = "secret";
    src->sslmode = "disable";
    cfg.platform.agent.state_dir = dir;

    p = snap_progress_new(&env, src, 2, 150);
    o = agent_snapshot_progress_load(&cfg);
    ck_assert_ptr_nonnull(o);
    ck_assert_str_eq(json_string_value(json_object_get(o, "state")), "running");
    ck_assert_int_eq(json_integer_value(json_object_get(o, "tables_total")), 2);
    json_decref(o);

    snap_progress_table(p, 0, "public.a");
    snap_progress_rows(p, 100);
    snap_progress_table_done(p, 100, 100);
    snap_progress_table(p, 1, "public.b");
    o = agent_snapshot_progress_load(&cfg);
    ck_assert_int_eq(json_integer_value(json_object_get(o, "tables_done")), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(o, "rows")), 100);
    ck_assert_str_eq(json_string_value(json_object_get(o, "table")), "public.b");
    ck_assert_int_eq(json_integer_value(json_object_get(o, "wal_retained_bytes")), -1);
    json_decref(o);

    agent_metrics_render(m, &text);     /* the figures reach the registry */
    ck_assert(strstr(cdc_buf_str(&text), "\ncdcagent_snapshot_rows_total 100\n") != NULL);
    ck_assert(strstr(cdc_buf_str(&text), "\ncdcagent_snapshot_tables{state=\"done\"} 1\n") != NULL);
    cdc_buf_free(&text);

    snap_progress_table_done(p, 40, 140);
    snap_progress_end(p, "done", 140);
    o = agent_snapshot_progress_load(&cfg);
    ck_assert_str_eq(json_string_value(json_object_get(o, "state")), "done");
    ck_assert_int_eq(json_integer_value(json_object_get(o, "tables_done")), 2);
    ck_assert_int_eq(json_integer_value(json_object_get(o, "rows")), 140);
    ck_assert_ptr_null(json_object_get(o, "table"));
    json_decref(o);

    /* the same slot name on another database or server: not this slot's snapshot */
    src->database = "other";
    ck_assert_ptr_null(agent_snapshot_progress_load(&cfg));
    src->database = "db";
    src->port = 2;
    ck_assert_ptr_null(agent_snapshot_progress_load(&cfg));
    agent_metrics_free(m);
}
END_TEST

static int service_calls, service_rc;

static int
count_service(void *arg, cdc_err *err)
{
    (void) arg;
    service_calls++;
    return service_rc < 0 ? cdc_err_set(err, CDC_E_CONN, "walsender gone") : 0;
}

/* The replication connection's service while streaming is paused: at most once a second,
   and its failure is the caller's. */
START_TEST(service_at_most_once_a_second)
{
    cfg_source         src;
    agent_metrics     *m = agent_metrics_new("p", "s1");
    agent_snapshot_env env = { .metrics = m, .state_dir = dir, .every_s = 1000,
                               .service = count_service };
    snap_progress     *p;
    cdc_err            err = { 0 };

    memset(&src, 0, sizeof(src));
    src.slot_name = "s1";
    src.host = "127.0.0.1";
    src.port = 1;
    src.database = "db";
    src.username = "u";
    src.sslmode = "disable";
    service_calls = service_rc = 0;
    p = snap_progress_new(&env, &src, 1, 10);
    ck_assert_int_eq(snap_progress_service(p, &err), 0);
    ck_assert_int_eq(service_calls, 1);
    for (int i = 0; i < 100; i++)
        ck_assert_int_eq(snap_progress_service(p, &err), 0);
    ck_assert_int_eq(service_calls, 1);
    snap_progress_end(p, "done", 10);
    service_calls = 0;
    service_rc = -1;
    p = snap_progress_new(&env, &src, 1, 10);
    ck_assert_int_lt(snap_progress_service(p, &err), 0);
    ck_assert_str_eq(err.msg, "walsender gone");
    ck_assert_int_eq(service_calls, 1);
    snap_progress_end(p, "failed", 0);
    env.service = NULL;         /* none (the initial snapshot): nothing to call */
    p = snap_progress_new(&env, &src, 1, 10);
    ck_assert_int_eq(snap_progress_service(p, &err), 0);
    ck_assert_int_eq(service_calls, 1);
    snap_progress_end(p, "done", 0);
    agent_metrics_free(m);
}
END_TEST

static Suite *
progress_suite(void)
{
    Suite *s = suite_create("snapshot_progress");
    TCase *tc = tcase_create("progress");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, path_joins_dir_and_slot);
    tcase_add_test(tc, reports_reach_file_and_metrics);
    tcase_add_test(tc, service_at_most_once_a_second);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return suite_main(progress_suite(), false);
}

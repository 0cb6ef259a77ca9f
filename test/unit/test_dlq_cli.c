/*
 * Suite "dlq_cli": `cdcagent dlq list|replay` (agent/cmd/dlq_cli.c) against a
 * hand-written dead-letter file: the fields read back, a letter refused
 * twice kept once, markers (also one written by dest_dlq_mark_replayed), a
 * torn last line skipped, the filters, and replay's refusals (replica mode,
 * a sink no longer configured, a receiver that is down) which leave the
 * letter unmarked.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/cmd/dlq_cli.h"
#include "agent/core/dest/dlq.h"

static char path[64];

/* Two webhook letters (one refused twice), one postgres letter, a marker, a torn line. */
static const char file_text[] =
    "{\"id\":\"hook-0000000001000000-0\",\"sink_id\":\"hook\",\"commit_lsn\":16777216,\"seq\":0,"
    "\"headers\":{\"dlq.source_topic\":\"cdc.public.customers\",\"dlq.source_partition\":\"0\","
    "\"dlq.source_offset\":\"16777000\",\"dlq.error_type\":\"http_status_400\","
    "\"dlq.error_message\":\"HTTP 400: bad\",\"dlq.stacktrace\":\"CDC_E_DEST at x\","
    "\"dlq.timestamp\":\"2024-01-01T00:00:00.000Z\",\"dlq.sink_id\":\"hook\"},"
    "\"record\":{\"key\":{\"id\":1},\"value\":{\"op\":\"c\"},\"metadata\":{\"topic\":"
    "\"cdc.public.customers\",\"partition\":0,\"offset\":16777000}}}\n"
    "{\"id\":\"hook-0000000001000000-1\",\"sink_id\":\"hook\",\"commit_lsn\":16777216,\"seq\":1,"
    "\"headers\":{\"dlq.source_topic\":\"cdc.public.orders\",\"dlq.source_partition\":\"0\","
    "\"dlq.source_offset\":\"16777100\",\"dlq.error_type\":\"http_status_422\","
    "\"dlq.error_message\":\"HTTP 422\",\"dlq.timestamp\":\"2024-01-01T00:00:01.000Z\"},"
    "\"record\":{\"key\":{\"id\":2},\"value\":null,\"metadata\":{}}}\n"
    "{\"id\":\"pg-0000000002000000-0\",\"sink_id\":\"pg\",\"commit_lsn\":33554432,\"seq\":0,"
    "\"headers\":{\"dlq.source_topic\":\"cdc.public.customers\",\"dlq.source_partition\":\"0\","
    "\"dlq.source_offset\":\"33554000\",\"dlq.error_type\":\"pg_23505\","
    "\"dlq.error_message\":\"duplicate key\",\"dlq.timestamp\":\"2024-01-01T00:00:02.000Z\"},"
    "\"record\":{\"key\":{\"id\":1},\"value\":{\"op\":\"u\"},\"metadata\":{}}}\n"
    "{\"replayed\":\"hook-0000000001000000-1\",\"timestamp\":\"2024-01-02T00:00:00.000Z\"}\n"
    "\n"
    "{\"id\":\"hook-0000000001000000-0\",\"sink_id\":\"hook\",\"commit_lsn\":16777216,\"seq\":0,"
    "\"headers\":{\"dlq.source_topic\":\"cdc.public.customers\"},\"record\":null}\n"
    "{\"id\":\"hook-00000000";

static void
setup(void)
{
    FILE *f;
    int   fd;

    strcpy(path, "/tmp/test_dlq_cli_XXXXXX");
    fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    f = fdopen(fd, "w");
    ck_assert_ptr_nonnull(f);
    fputs(file_text, f);
    fclose(f);
}

static void
teardown(void)
{
    unlink(path);
}

static agent_dlq_set
read_set(void)
{
    agent_dlq_set set;
    cdc_err       err = { 0 };

    ck_assert_msg(agent_dlq_read(path, &set, &err) == 0, "%s", err.msg);
    return set;
}

START_TEST(fields_read_back)
{
    agent_dlq_set           set = read_set();
    const agent_dlq_letter *l;

    ck_assert_int_eq(set.n, 3);             /* the duplicate is one letter */
    ck_assert_int_eq(set.nbad, 1);          /* the torn last line */
    l = &set.v[0];
    ck_assert_str_eq(l->id, "hook-0000000001000000-0");
    ck_assert_str_eq(l->sink_id, "hook");
    ck_assert_str_eq(l->topic, "cdc.public.customers");
    ck_assert_int_eq(l->partition, 0);
    ck_assert_uint_eq(l->offset, 16777000);
    ck_assert_uint_eq(l->commit_lsn, 16777216);
    ck_assert_uint_eq(l->seq, 0);
    ck_assert_str_eq(l->error_type, "http_status_400");
    ck_assert_str_eq(l->error_message, "HTTP 400: bad");
    ck_assert_str_eq(l->timestamp, "2024-01-01T00:00:00.000Z");
    ck_assert_str_eq(l->record, "{\"key\":{\"id\":1},\"value\":{\"op\":\"c\"},\"metadata\":"
                     "{\"topic\":\"cdc.public.customers\",\"partition\":0,\"offset\":16777000}}");
    ck_assert(!l->replayed);
    ck_assert_int_eq(l->line, 1);
    ck_assert(set.v[1].replayed);
    ck_assert_str_eq(set.v[1].replayed_at, "2024-01-02T00:00:00.000Z");
    ck_assert(!set.v[2].replayed);
    agent_dlq_set_free(&set);
}
END_TEST

START_TEST(missing_file_is_empty)
{
    agent_dlq_set set;
    cdc_err       err = { 0 };

    ck_assert_int_eq(agent_dlq_read("/nonexistent/dir/x.dlq.jsonl", &set, &err), 0);
    ck_assert_int_eq(set.n, 0);
    agent_dlq_set_free(&set);
}
END_TEST

/* Table-driven: which letters each filter selects, as a bit per letter. */
START_TEST(filters)
{
    static const char *const ids_pg[] = { "pg-0000000002000000-0" };
    static const char *const ids_two[] = { "hook-0000000001000000-1", "pg-0000000002000000-0" };
    static const struct {
        agent_dlq_filter f;
        unsigned         want;
    } cases[] = {
        { { 0 }, 0x5 },                                             /* not replayed */
        { { .all = true }, 0x7 },
        { { .sink_id = "hook" }, 0x1 },
        { { .sink_id = "hook", .all = true }, 0x3 },
        { { .table = "public.customers" }, 0x5 },
        { { .table = "public.orders", .all = true }, 0x2 },
        { { .table = "customers" }, 0x5 },                          /* a suffix after a dot */
        { { .table = "ublic.customers" }, 0x0 },
        { { .error_type = "pg_23505" }, 0x4 },
        { { .ids = ids_pg, .nids = 1 }, 0x4 },
        { { .ids = ids_two, .nids = 2 }, 0x4 },                     /* replayed: needs --all */
        { { .ids = ids_two, .nids = 2, .all = true }, 0x6 },
        { { .sink_id = "nope", .all = true }, 0x0 },
    };
    agent_dlq_set set = read_set();

    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        unsigned got = 0;

        for (int i = 0; i < set.n; i++)
            got |= agent_dlq_match(&set.v[i], &cases[c].f) ? 1u << i : 0;
        ck_assert_msg(got == cases[c].want, "case %zu: got 0x%x, want 0x%x", c, got,
                      cases[c].want);
    }
    agent_dlq_set_free(&set);
}
END_TEST

START_TEST(mark_replayed_read_back)
{
    cdc_err       err = { 0 };
    dest_dlq     *q;
    agent_dlq_set set;

    /* finish the torn line first, as the next append after a crash would not */
    FILE *f = fopen(path, "a");

    fputs("\n", f);
    fclose(f);
    q = dest_dlq_open(path, &err);
    ck_assert_ptr_nonnull(q);
    ck_assert_int_eq(dest_dlq_mark_replayed(q, "pg", (cdc_pos) { 0x2000000, 0 }, &err), 0);
    dest_dlq_close(q);
    set = read_set();
    ck_assert_int_eq(set.n, 3);
    ck_assert(set.v[2].replayed);
    ck_assert_ptr_nonnull(set.v[2].replayed_at);
    agent_dlq_set_free(&set);
}
END_TEST

/* A pipeline with the hook (webhook, down) and pg (replica) sinks, dead letters at path. */
static void
make_cfg(cdc_config *cfg, cfg_sink *sinks)
{
    memset(cfg, 0, sizeof(*cfg));
    memset(sinks, 0, 2 * sizeof(*sinks));
    sinks[0].sink_id = "hook";
    sinks[0].sink_type = CFG_SINK_WEBHOOK;
    sinks[0].enabled = true;
    sinks[0].webhook.url = "http://127.0.0.1:1/refused";
    sinks[0].webhook.timeout_seconds = 2;
    sinks[1].sink_id = "pg";
    sinks[1].sink_type = CFG_SINK_POSTGRES;
    sinks[1].enabled = true;
    sinks[1].postgres.mode = CFG_PG_SINK_REPLICA;
    cfg->pipeline.pipeline_id = "p";
    cfg->pipeline.sinks = sinks;
    cfg->pipeline.nsinks = 2;
    cfg->pipeline_path = "pipeline.yaml";
    cfg->platform.dlq.enabled = true;
    cfg->platform.dlq.path = path;
}

START_TEST(replay_refusals_leave_letters_unmarked)
{
    cdc_config    cfg;
    cfg_sink      sinks[2];
    cdc_err       err = { 0 };
    int           failed = -1;
    agent_dlq_set set;

    make_cfg(&cfg, sinks);
    /* dry run: the replica letter is refused, the webhook one would go */
    ck_assert_int_eq(agent_dlq_replay(&cfg, NULL, true, &failed, &err), 0);
    ck_assert_int_eq(failed, 1);
    /* for real: the receiver is down, the replica letter refused: nothing marked */
    ck_assert_int_eq(agent_dlq_replay(&cfg, NULL, false, &failed, &err), 0);
    ck_assert_int_eq(failed, 2);
    set = read_set();
    ck_assert(!set.v[0].replayed);
    ck_assert(!set.v[2].replayed);
    agent_dlq_set_free(&set);
    /* a sink the pipeline no longer has */
    cfg.pipeline.nsinks = 1;
    {
        static const char *const ids[] = { "pg-0000000002000000-0" };
        agent_dlq_filter         f = { .ids = ids, .nids = 1 };

        ck_assert_int_eq(agent_dlq_replay(&cfg, &f, false, &failed, &err), 0);
        ck_assert_int_eq(failed, 1);
    }
}
END_TEST

START_TEST(list_runs)
{
    cdc_config cfg;
    cfg_sink   sinks[2];
    cdc_err    err = { 0 };

    make_cfg(&cfg, sinks);
    ck_assert_int_eq(agent_dlq_list(&cfg, NULL, false, &err), 0);
    ck_assert_int_eq(agent_dlq_list(&cfg, &(agent_dlq_filter) { .all = true }, true, &err), 0);
    cfg.platform.dlq.path = NULL;   /* <pipeline_id>.dlq.jsonl: absent, so empty */
    ck_assert_int_eq(agent_dlq_list(&cfg, NULL, true, &err), 0);
}
END_TEST

START_TEST(default_path)
{
    cdc_config cfg;
    cfg_sink   sinks[2];
    char       p[64];

    make_cfg(&cfg, sinks);
    agent_dlq_file_path(&cfg, p, sizeof(p));
    ck_assert_str_eq(p, path);
    cfg.platform.dlq.path = "";
    agent_dlq_file_path(&cfg, p, sizeof(p));
    ck_assert_str_eq(p, "p.dlq.jsonl");
}
END_TEST

static Suite *
dlq_cli_suite(void)
{
    Suite *s = suite_create("dlq_cli");
    TCase *tc;

    tc = tcase_create("read");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, fields_read_back);
    tcase_add_test(tc, missing_file_is_empty);
    tcase_add_test(tc, filters);
    tcase_add_test(tc, mark_replayed_read_back);
    suite_add_tcase(s, tc);

    tc = tcase_create("commands");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, replay_refusals_leave_letters_unmarked);
    tcase_add_test(tc, list_runs);
    tcase_add_test(tc, default_path);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(dlq_cli_suite());
    int      failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

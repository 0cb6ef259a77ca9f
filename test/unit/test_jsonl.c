/*
 * Suite "jsonl": the JSON-lines destination (sinks/jsonl/jsonl.c) against a
 * temporary file: lines and metadata, progress only after a write-out and
 * fsync, resume_from after reopening, a torn last line cut away, events
 * already in the file skipped, and I/O errors that name the path and keep
 * the data buffered.
 */
#include <check.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "schemas/json.h"
#include "sinks/jsonl/jsonl.h"
#include "test/lib/model.h"

static char     path[64];
static cdc_col  cols[2];
static cdc_rel  rel;
static cdc_txn  txn;
static cdc_value row[2];
static sch_json_opts jopts;
static const cdc_dest_env env = { .pipeline_id = "p", .topic_prefix = "dbserver1",
                                  .database = "appdb", .encode_opts = &jopts };

static void
setup(void)
{
    int fd;

    strcpy(path, "/tmp/test_jsonl_XXXXXX");
    fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    memset(cols, 0, sizeof(cols));
    cols[0] = (cdc_col) { .name = "id", .not_null = true, .key_pos = 1,
                          .ctype = { .supported = true, .kind = CDC_CT_INT32 } };
    cols[1] = (cdc_col) { .name = "name", .ctype = { .supported = true, .kind = CDC_CT_STRING } };
    rel = (cdc_rel) { .nspname = "public", .relname = "customers", .ncols = 2, .cols = cols,
                      .nkeys = 1, .topic = "dbserver1.public.customers" };
    sch_json_opts_default(&jopts);
    jopts.server_name = "dbserver1";
    jopts.database = "appdb";
}

static void
teardown(void)
{
    unlink(path);
}

static cdc_dest
open_dest(const char *p, bool fsync_on, int flush_ms)
{
    dest_jsonl_conf conf = { .path = p, .fsync = fsync_on, .flush_interval_ms = flush_ms };
    cdc_dest        d = { .ops = &dest_jsonl_ops, .id = "jsonl-test" };
    cdc_err         err = { 0 };

    ck_assert_msg(d.ops->open(&d, &conf, &env, &err) == 0, "open: %s", err.msg);
    return d;
}

/* Event seq of the transaction committing at commit_lsn. */
static cdc_event
ev_at(uint64_t commit_lsn, uint64_t seq)
{
    row[0] = tm_int((int64_t) seq);
    row[1] = tm_bytes("x", 1);
    return tm_insert(&txn, &rel, row, 500, commit_lsn, seq);
}

static void
write_txn(cdc_dest *d, uint64_t commit_lsn, uint64_t from, uint64_t n, bool commit)
{
    cdc_err err = { 0 };

    for (uint64_t s = from; s < from + n; s++) {
        cdc_event ev = ev_at(commit_lsn, s);

        ck_assert_msg(cdc_dest_write(d, &ev, &err) == 0, "write: %s", err.msg);
    }
    if (commit)
        ck_assert_int_eq(cdc_dest_commit_txn(d, &txn, &err), 0);
}

static char *
slurp(const char *p, size_t *len)
{
    FILE  *f = fopen(p, "rb");
    char  *buf;
    long   n;

    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t) n + 1);
    ck_assert_uint_eq(fread(buf, 1, (size_t) n, f), (size_t) n);
    buf[n] = '\0';
    fclose(f);
    if (len)
        *len = (size_t) n;
    return buf;
}

static int
count_lines(const char *text)
{
    int n = 0;

    for (; *text; text++)
        n += *text == '\n';
    return n;
}

/* Every line of text is one JSON object. */
static void
assert_lines_parse(const char *text)
{
    for (const char *p = text, *nl; *p; p = nl + 1) {
        json_t *j;

        nl = strchr(p, '\n');
        ck_assert_ptr_nonnull(nl);
        j = json_loadb(p, (size_t) (nl - p), 0, NULL);
        ck_assert_msg(json_is_object(j), "bad line: %.*s", (int) (nl - p), p);
        json_decref(j);
    }
}

START_TEST(lines_and_metadata)
{
    cdc_dest d = open_dest(path, true, 60000);
    cdc_err  err = { 0 };
    json_t  *j, *md;
    char    *text, *nl, *key;

    write_txn(&d, 0x16E8000, 0, 2, true);
    ck_assert_int_eq(cdc_dest_flush(&d, 1000, &err), 0);
    text = slurp(path, NULL);
    ck_assert_int_eq(count_lines(text), 2);
    nl = strchr(text, '\n');
    *nl = '\0';
    j = json_loads(text, 0, NULL);
    ck_assert_ptr_nonnull(j);
    key = json_dumps(json_object_get(j, "key"), JSON_COMPACT);
    ck_assert_str_eq(key, "{\"id\":0}");
    free(key);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "value"), "op")), "c");
    md = json_object_get(j, "metadata");
    ck_assert_str_eq(json_string_value(json_object_get(md, "topic")),
                     "dbserver1.public.customers");
    ck_assert_int_eq(json_integer_value(json_object_get(md, "partition")), 0);
    ck_assert_int_eq(json_integer_value(json_object_get(md, "offset")), 0x16E8000 - 100);
    ck_assert_str_eq(json_string_value(json_object_get(md, "lsn")), "0/16E7F9C");
    ck_assert_int_eq(json_integer_value(json_object_get(md, "commit_lsn")), 0x16E8000);
    ck_assert_int_eq(json_integer_value(json_object_get(md, "seq")), 0);
    ck_assert_int_eq(json_integer_value(json_object_get(md, "xid")), 500);
    ck_assert_str_eq(json_string_value(json_object_get(md, "op")), "c");
    /* the line starts with key, value, metadata in that order */
    ck_assert(strncmp(text, "{\"key\":{\"id\":0},\"value\":{\"before\":null,", 39) == 0);
    json_decref(j);
    free(text);
    d.ops->close(&d);
}
END_TEST

START_TEST(progress_only_after_flush)
{
    cdc_dest d = open_dest(path, true, 60000);
    cdc_err  err = { 0 };
    cdc_pos  p = { 1, 1 };
    char    *text;

    write_txn(&d, 1000, 0, 3, true);
    ck_assert_int_eq(cdc_dest_progress(&d, &p, &err), 0);
    ck_assert_uint_eq(p.lsn, 0);    /* buffered is not durable */
    text = slurp(path, NULL);
    ck_assert_int_eq(count_lines(text), 0);
    free(text);

    ck_assert_int_eq(cdc_dest_flush(&d, 1000, &err), 0);
    ck_assert_int_eq(cdc_dest_progress(&d, &p, &err), 0);
    ck_assert_uint_eq(p.lsn, 1000);
    ck_assert(p.seq == CDC_SEQ_END);

    /* an uncommitted transaction's events are durable one by one */
    write_txn(&d, 2000, 0, 2, false);
    ck_assert_int_eq(cdc_dest_flush(&d, 1000, &err), 0);
    ck_assert_int_eq(cdc_dest_progress(&d, &p, &err), 0);
    ck_assert_uint_eq(p.lsn, 2000);
    ck_assert_uint_eq(p.seq, 1);
    d.ops->close(&d);
}
END_TEST

START_TEST(progress_writes_out_after_interval)
{
    cdc_dest d = open_dest(path, true, 0);
    cdc_err  err = { 0 };
    cdc_pos  p = { 0, 0 };
    char    *text;

    write_txn(&d, 3000, 0, 2, true);
    ck_assert_int_eq(cdc_dest_progress(&d, &p, &err), 0);
    ck_assert_uint_eq(p.lsn, 3000);
    text = slurp(path, NULL);
    ck_assert_int_eq(count_lines(text), 2);
    free(text);
    d.ops->close(&d);
}
END_TEST

START_TEST(large_buffer_written_out)
{
    cdc_dest d = open_dest(path, false, 60000);
    struct stat st;

    /* about 400 bytes a line: 1 MiB is passed after ~2700 events */
    write_txn(&d, 5000, 0, 4000, false);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_gt(st.st_size, 1 << 20);
    d.ops->close(&d);       /* close writes the rest */
    ck_assert_int_eq(stat(path, &st), 0);
    {
        char *text = slurp(path, NULL);

        ck_assert_int_eq(count_lines(text), 4000);
        free(text);
    }
}
END_TEST

START_TEST(resume_after_reopen)
{
    cdc_dest d = open_dest(path, true, 60000);
    cdc_err  err = { 0 };
    cdc_pos  last;

    ck_assert_int_eq(d.ops->resume_from(&d, &last, &err), 0);
    ck_assert_uint_eq(last.lsn, 0);     /* empty file */
    write_txn(&d, 7000, 0, 3, true);
    write_txn(&d, 8000, 0, 4, false);
    d.ops->close(&d);

    d = open_dest(path, true, 60000);
    ck_assert_int_eq(d.ops->resume_from(&d, &last, &err), 0);
    ck_assert_uint_eq(last.lsn, 8000);
    ck_assert_uint_eq(last.seq, 3);
    ck_assert_int_eq(cdc_dest_progress(&d, &last, &err), 0);
    ck_assert_uint_eq(last.lsn, 8000);
    ck_assert_uint_eq(last.seq, 3);
    d.ops->close(&d);
}
END_TEST

START_TEST(torn_line_truncated)
{
    cdc_dest d = open_dest(path, true, 60000);
    cdc_err  err = { 0 };
    cdc_pos  last;
    size_t   before, after;
    char    *text;
    FILE    *f;

    write_txn(&d, 9000, 0, 2, true);
    d.ops->close(&d);
    free(slurp(path, &before));
    f = fopen(path, "ab");
    fputs("{\"key\":{\"id\":2},\"value\":{\"bef", f);    /* a crash mid-write */
    fclose(f);

    d = open_dest(path, true, 60000);
    ck_assert_int_eq(d.ops->resume_from(&d, &last, &err), 0);
    ck_assert_uint_eq(last.lsn, 9000);
    ck_assert_uint_eq(last.seq, 1);
    text = slurp(path, &after);
    ck_assert_uint_eq(after, before);
    ck_assert_int_eq(count_lines(text), 2);
    free(text);

    /* the next line lands after the cut */
    write_txn(&d, 9500, 0, 1, true);
    ck_assert_int_eq(cdc_dest_flush(&d, 1000, &err), 0);
    text = slurp(path, NULL);
    ck_assert_int_eq(count_lines(text), 3);
    assert_lines_parse(text);
    free(text);
    d.ops->close(&d);
}
END_TEST

START_TEST(torn_only_line)
{
    cdc_dest d;
    cdc_err  err = { 0 };
    cdc_pos  last = { 5, 5 };
    size_t   len;
    FILE    *f = fopen(path, "wb");

    fputs("{\"key\":", f);
    fclose(f);
    d = open_dest(path, true, 60000);
    ck_assert_int_eq(d.ops->resume_from(&d, &last, &err), 0);
    ck_assert_uint_eq(last.lsn, 0);
    free(slurp(path, &len));
    ck_assert_uint_eq(len, 0);
    d.ops->close(&d);
}
END_TEST

START_TEST(skips_events_already_present)
{
    cdc_dest d = open_dest(path, true, 60000);
    cdc_err  err = { 0 };
    cdc_pos  last;
    char    *text;

    /* before the crash: txn 7000 complete, txn 8000 events 0..1 of 0..3 */
    write_txn(&d, 7000, 0, 3, true);
    write_txn(&d, 8000, 0, 2, false);
    d.ops->close(&d);

    d = open_dest(path, true, 60000);
    ck_assert_int_eq(d.ops->resume_from(&d, &last, &err), 0);
    /* the server re-sends both transactions */
    write_txn(&d, 7000, 0, 3, true);
    write_txn(&d, 8000, 0, 4, true);
    ck_assert_int_eq(cdc_dest_flush(&d, 1000, &err), 0);
    ck_assert_int_eq(cdc_dest_progress(&d, &last, &err), 0);
    ck_assert_uint_eq(last.lsn, 8000);
    ck_assert(last.seq == CDC_SEQ_END);
    d.ops->close(&d);

    text = slurp(path, NULL);
    ck_assert_int_eq(count_lines(text), 7);     /* 3 + 4, no duplicates */
    ck_assert_ptr_nonnull(strstr(text, "\"commit_lsn\":8000,\"seq\":2,"));
    ck_assert_ptr_nonnull(strstr(text, "\"commit_lsn\":8000,\"seq\":3,"));
    {
        /* seq 0 and 1 of 8000 appear exactly once */
        char *first = strstr(text, "\"commit_lsn\":8000,\"seq\":1,");

        ck_assert_ptr_nonnull(first);
        ck_assert_ptr_null(strstr(first + 1, "\"commit_lsn\":8000,\"seq\":1,"));
    }
    free(text);
}
END_TEST

START_TEST(message_topic)
{
    cdc_dest  d = open_dest(path, true, 60000);
    cdc_err   err = { 0 };
    cdc_event ev = { .op = CDC_OP_MESSAGE, .pos = { 100, 0 }, .lsn = 90, .msg_prefix = "p",
                     .msg_content = (const uint8_t *) "x", .msg_len = 1 };
    char     *text;

    ck_assert_int_eq(cdc_dest_write(&d, &ev, &err), 0);
    ck_assert_int_eq(cdc_dest_flush(&d, 1000, &err), 0);
    text = slurp(path, NULL);
    ck_assert_ptr_nonnull(strstr(text, "\"topic\":\"dbserver1.message\""));
    ck_assert_ptr_nonnull(strstr(text, "\"xid\":null,\"op\":\"m\"}}\n"));
    free(text);
    d.ops->close(&d);
}
END_TEST

START_TEST(unwritable_path_named)
{
    dest_jsonl_conf conf = { .path = "/nonexistent-dir/out.jsonl", .fsync = true };
    cdc_dest        d = { .ops = &dest_jsonl_ops };
    cdc_err         err = { 0 };

    ck_assert_int_eq(d.ops->open(&d, &conf, &env, &err), -1);
    ck_assert_int_eq(err.code, CDC_E_IO);
    ck_assert_ptr_nonnull(strstr(err.msg, "/nonexistent-dir/out.jsonl"));
}
END_TEST

/* /dev/full: every write fails with ENOSPC. */
START_TEST(disk_full_keeps_data)
{
    cdc_dest   d = open_dest("/dev/full", false, 0);
    cdc_err    err = { 0 };
    cdc_pos    p = { 9, 9 };
    cdc_health h;

    write_txn(&d, 4000, 0, 2, true);
    ck_assert_int_eq(cdc_dest_flush(&d, 1000, &err), -1);
    ck_assert_int_eq(err.code, CDC_E_IO);
    ck_assert_ptr_nonnull(strstr(err.msg, "/dev/full"));
    ck_assert_ptr_nonnull(strstr(err.msg, "No space"));
    ck_assert_int_eq(cdc_dest_progress(&d, &p, &err), 0);
    ck_assert_uint_eq(p.lsn, 0);    /* nothing durable */
    d.ops->health(&d, &h);
    ck_assert_int_eq(h.state, CDC_DEST_DEGRADED);
    ck_assert_ptr_nonnull(strstr(h.detail, "/dev/full"));
    d.ops->close(&d);
}
END_TEST

static Suite *
jsonl_suite(void)
{
    Suite *s = suite_create("jsonl");
    TCase *tc;

    tc = tcase_create("write");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, lines_and_metadata);
    tcase_add_test(tc, progress_only_after_flush);
    tcase_add_test(tc, progress_writes_out_after_interval);
    tcase_add_test(tc, large_buffer_written_out);
    tcase_add_test(tc, message_topic);
    suite_add_tcase(s, tc);

    tc = tcase_create("resume");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, resume_after_reopen);
    tcase_add_test(tc, torn_line_truncated);
    tcase_add_test(tc, torn_only_line);
    tcase_add_test(tc, skips_events_already_present);
    suite_add_tcase(s, tc);

    tc = tcase_create("errors");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, unwritable_path_named);
    tcase_add_test(tc, disk_full_keeps_data);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(jsonl_suite());
    int      failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

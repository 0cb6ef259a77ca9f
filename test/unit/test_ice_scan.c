/*
 * Suite "ice_scan": sinks/iceberg/ice_scan on a small table written here in a
 * temporary file:// warehouse with our own writers (parquet.h, ice_manifest,
 * ice_meta): the unit-level (and ASan) companion of
 * test/integration/625_iceberg_scan_pyiceberg.sh, which compares with pyiceberg.
 *   snapshot 1 (sequence 1): data file A (ids 0..9, a row group per two rows,
 *              column n written as INT32) and position-delete file D: (A, 3),
 *              (A, 7), (A, 7) again, and (C, 0) naming a file not yet there;
 *   snapshot 2 (sequence 2): data file C (ids 10..14).
 *   rows      the live rows, positions, n read as the schema's long, a field
 *             the files lack (added later) as null, D not applied to C;
 *   row       ice_scan_row by file and position, past the end, all fields;
 *   row_list  ice_scan_row_list: a list<int> read as the schema's list<long>,
 *             a null element, a null list; not a list; lists in the other calls;
 *   stop      a callback stopping the scan, and one failing it;
 *   errors    an unknown field id, an equality-delete file, a data file gone.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/core/cdc_buf.h"
#include "sinks/iceberg/ice_commit.h"
#include "sinks/iceberg/ice_manifest.h"
#include "sinks/iceberg/ice_meta.h"
#include "sinks/iceberg/ice_scan.h"
#include "sinks/iceberg/parquet/parquet.h"
#include "sinks/iceberg/store/store.h"
#include "test/lib/suite_main.h"

static char       dir[256];
static char       loc[300];
static ice_store *st;

static void
put(const char *uri, const cdc_buf *b)
{
    cdc_err err = { 0 };

    ck_assert_msg(ice_store_put(st, uri, b->data, b->len, &err) == 0, "%s", err.msg);
}

/* Data file: ids from..from+n-1, name "n<id>" (null for id 4), n = id * 10 as INT32. */
static int64_t
write_data(const char *uri, int first, int n)
{
    static const parquet_column cols[] = {
        { .name = "id", .kind = PARQUET_INT64, .field_id = 1 },
        { .name = "name", .kind = PARQUET_STRING, .field_id = 2, .optional = true },
        { .name = "n", .kind = PARQUET_INT32, .field_id = 3, .optional = true },
        { .name = "tags", .kind = PARQUET_INT32, .field_id = 5, .optional = true,
          .is_list = true, .element_field_id = 6, .element_optional = true },
    };
    cdc_buf         b = CDC_BUF_INIT;
    parquet_options o = { .codec = PARQUET_ZSTD, .row_group_bytes = 1, .sink_buf = &b };
    cdc_err         err = { 0 };
    parquet_writer *w = parquet_writer_new(cols, 4, &o, &err);
    parquet_result  res;
    int64_t         size;

    ck_assert_msg(w != NULL, "%s", err.msg);
    for (int i = first; i < first + n; i++) {
        char name[16];

        snprintf(name, sizeof(name), "n%d", i);
        ck_assert_int_eq(parquet_put_i64(w, 0, i, &err), 0);
        if (i == 4)
            ck_assert_int_eq(parquet_put_null(w, 1, &err), 0);
        else
            ck_assert_int_eq(parquet_put_bytes(w, 1, name, strlen(name), &err), 0);
        ck_assert_int_eq(parquet_put_i32(w, 2, i * 10, &err), 0);
        /* tags: null when i % 3 == 0, else i % 3 elements i, null, ... */
        if (i % 3 == 0) {
            ck_assert_int_eq(parquet_put_null(w, 3, &err), 0);
        } else {
            ck_assert_int_eq(parquet_list_begin(w, 3, &err), 0);
            for (int k = 0; k < i % 3; k++)
                ck_assert_int_eq(k == 1 ? parquet_put_null(w, 3, &err)
                                        : parquet_put_i32(w, 3, i, &err), 0);
            ck_assert_int_eq(parquet_list_end(w, 3, &err), 0);
        }
        ck_assert_int_eq(parquet_end_row(w, &err), 0);
    }
    ck_assert_int_eq(parquet_close(w, &res, &err), 0);
    parquet_result_free(&res);
    parquet_writer_free(w);
    put(uri, &b);
    size = (int64_t) b.len;
    cdc_buf_free(&b);
    return size;
}

static int64_t
write_deletes(const char *uri, const char *const *paths, const int64_t *pos, int n)
{
    static const parquet_column cols[] = {
        { .name = "file_path", .kind = PARQUET_STRING, .field_id = ICE_FIELD_ID_DELETE_FILE_PATH },
        { .name = "pos", .kind = PARQUET_INT64, .field_id = ICE_FIELD_ID_DELETE_POS },
    };
    cdc_buf         b = CDC_BUF_INIT;
    parquet_options o = { .codec = PARQUET_SNAPPY, .sink_buf = &b };
    cdc_err         err = { 0 };
    parquet_writer *w = parquet_writer_new(cols, 2, &o, &err);
    parquet_result  res;
    int64_t         size;

    ck_assert(w != NULL);
    for (int i = 0; i < n; i++) {
        ck_assert_int_eq(parquet_put_bytes(w, 0, paths[i], strlen(paths[i]), &err), 0);
        ck_assert_int_eq(parquet_put_i64(w, 1, pos[i], &err), 0);
        ck_assert_int_eq(parquet_end_row(w, &err), 0);
    }
    ck_assert_int_eq(parquet_close(w, &res, &err), 0);
    parquet_result_free(&res);
    parquet_writer_free(w);
    put(uri, &b);
    size = (int64_t) b.len;
    cdc_buf_free(&b);
    return size;
}

/* A manifest of one file; mf filled. */
static void
manifest(const ice_schema *s, const ice_spec *sp, int content, int fcontent, const char *path,
         int64_t records, int64_t size, int64_t sid, const char *uri, ice_manifest_file *mf)
{
    cdc_err              err = { 0 };
    ice_manifest_writer *w = ice_manifest_writer_new(s, sp, content, sid, &err);
    cdc_buf              b = CDC_BUF_INIT;
    static const int32_t eq_ids[] = { 1 };
    ice_entry            e = { .status = ICE_STATUS_ADDED, .snapshot_id = sid,
                               .sequence_number = -1, .file_sequence_number = -1,
                               .file = { .content = fcontent, .path = path,
                                         .record_count = records, .file_size = size,
                                         .sort_order_id = fcontent ? -1 : 0 } };

    if (fcontent == ICE_CONTENT_EQ_DELETES) {
        e.file.equality_ids = eq_ids;
        e.file.neq = 1;
    }
    ck_assert_msg(w != NULL, "%s", err.msg);
    ck_assert_msg(ice_manifest_add(w, &e, &err) == 0, "%s", err.msg);
    ck_assert_msg(ice_manifest_finish(w, uri, &b, mf, &err) == 0, "%s", err.msg);
    ice_manifest_writer_free(w);
    put(uri, &b);
    cdc_buf_free(&b);
}

static void
snapshot(ice_meta *m, ice_manifest_file *mfs, int n, int64_t sid, const char *list_uri)
{
    cdc_err             err = { 0 };
    cdc_buf             b = CDC_BUF_INIT;
    const ice_snapshot *cur = ice_meta_current(m);
    int64_t             seq = m->last_sequence_number + 1;
    ice_snapshot        snap = { .id = sid, .parent_id = cur ? cur->id : -1,
                                 .sequence_number = seq, .timestamp_ms = 1000 + seq,
                                 .manifest_list = (char *) list_uri, .schema_id = 0 };
    ice_summary_delta   d = { 0 };

    ck_assert_int_eq(ice_manifest_list_write(mfs, n, sid, snap.parent_id, seq, &b, &err), 0);
    put(list_uri, &b);
    cdc_buf_free(&b);
    for (int i = 0; i < n; i++) {
        if (mfs[i].sequence_number < 0)
            mfs[i].sequence_number = seq;
        if (mfs[i].min_sequence_number < 0)
            mfs[i].min_sequence_number = seq;
    }
    ice_snapshot_summarize(&snap, "append", cur, &d, NULL, 0);
    ck_assert_msg(ice_meta_add_snapshot(m, &snap, &err) == 0, "%s", err.msg);
    snap.manifest_list = NULL;
    ice_snapshot_clear(&snap);
}

static ice_schema *
make_schema(int32_t *last)
{
    cdc_err     err = { 0 };
    ice_schema *s = ice_schema_new(0);
    ice_type    lt = { .kind = ICE_LONG }, st_ = { .kind = ICE_STRING };

    *last = 0;
    ck_assert_int_eq(ice_schema_add(s, "id", &lt, true, last, &err), 0);
    ck_assert_int_eq(ice_schema_add(s, "name", &st_, false, last, &err), 0);
    ck_assert_int_eq(ice_schema_add(s, "n", &lt, false, last, &err), 0);      /* int, widened */
    ck_assert_int_eq(ice_schema_add(s, "extra", &st_, false, last, &err), 0); /* added later */
    {
        ice_type tt = { .kind = ICE_LIST, .elem_kind = ICE_LONG };   /* list<int> widened */

        ck_assert_int_eq(ice_schema_add(s, "tags", &tt, false, last, &err), 0);
        ck_assert_int_eq(s->fields[4].id, 5);
        ck_assert_int_eq(s->fields[4].type.elem_id, 6);
    }
    return s;
}

static char a_uri[400], c_uri[400], d_uri[400];

/* The table of the suite's comment; eq: snapshot 2 adds an equality-delete file instead. */
static ice_meta *
make_table(bool eq)
{
    int32_t             last;
    ice_schema         *s = make_schema(&last);
    ice_spec           *sp = ice_spec_new(0);
    ice_meta           *m = ice_meta_new(loc, s, sp, last, 999, NULL, 1000);
    ice_manifest_file   mfs[3];
    char                uri[400];
    const char *const   dpaths[] = { a_uri, a_uri, a_uri, c_uri };
    static const int64_t dpos[] = { 3, 7, 7, 0 };
    int64_t             asz, csz, dsz;

    snprintf(a_uri, sizeof(a_uri), "%s/data/a.parquet", loc);
    snprintf(c_uri, sizeof(c_uri), "%s/data/c.parquet", loc);
    snprintf(d_uri, sizeof(d_uri), "%s/data/d.parquet", loc);
    asz = write_data(a_uri, 0, 10);
    dsz = write_deletes(d_uri, dpaths, dpos, 4);
    snprintf(uri, sizeof(uri), "%s/metadata/m0.avro", loc);
    manifest(s, sp, 0, ICE_CONTENT_DATA, a_uri, 10, asz, 11, uri, &mfs[0]);
    snprintf(uri, sizeof(uri), "%s/metadata/m1.avro", loc);
    manifest(s, sp, 1, ICE_CONTENT_POS_DELETES, d_uri, 4, dsz, 11, uri, &mfs[1]);
    snprintf(uri, sizeof(uri), "%s/metadata/l1.avro", loc);
    snapshot(m, mfs, 2, 11, uri);
    if (!eq) {
        csz = write_data(c_uri, 10, 5);
        snprintf(uri, sizeof(uri), "%s/metadata/m2.avro", loc);
        manifest(s, sp, 0, ICE_CONTENT_DATA, c_uri, 5, csz, 22, uri, &mfs[2]);
    } else {
        snprintf(uri, sizeof(uri), "%s/metadata/m2e.avro", loc);
        manifest(s, sp, 1, ICE_CONTENT_EQ_DELETES, d_uri, 4, dsz, 22, uri, &mfs[2]);
    }
    snprintf(uri, sizeof(uri), "%s/metadata/l2%s.avro", loc, eq ? "e" : "");
    snapshot(m, mfs, 3, 22, uri);
    for (int i = 0; i < 3; i++)
        ice_manifest_file_clear(&mfs[i]);
    ice_spec_free(sp);
    ice_schema_free(s);
    return m;
}

static void
setup(void)
{
    ice_store_conf c = { .no_fsync = true };
    cdc_err        err = { 0 };
    const char    *tmp = getenv("TMPDIR");

    snprintf(dir, sizeof(dir), "%s/ice_scan_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    ck_assert(mkdtemp(dir) != NULL);
    snprintf(loc, sizeof(loc), "file://%s/t", dir);
    st = ice_store_new(&c, &err);
    ck_assert_msg(st != NULL, "%s", err.msg);
}

static void
teardown(void)
{
    char cmd[600];

    ice_store_free(st);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

typedef struct seen {
    int     n;
    int64_t ids[32], pos[32], nval[32];
    bool    name_null[32], extra_null[32];
    char    files[32][16];
    int     stop_after;     /* > 0: return 1 after that many rows */
    bool    fail;
} seen;

static int
on_row(void *arg, const char *file, int64_t pos, const ice_value *v, cdc_err *err)
{
    seen *s = arg;

    if (s->fail)
        return cdc_err_set(err, CDC_E_DEST, "callback says no");
    ck_assert_int_lt(s->n, 32);
    s->ids[s->n] = v[0].i;
    s->pos[s->n] = pos;
    s->nval[s->n] = v[2].i;
    s->name_null[s->n] = v[1].null;
    s->extra_null[s->n] = v[3].null;
    if (!v[1].null)
        ck_assert(v[1].n == (size_t) snprintf(NULL, 0, "n%lld", (long long) v[0].i));
    snprintf(s->files[s->n], sizeof(s->files[0]), "%s", strrchr(file, '/') + 1);
    s->n++;
    return s->stop_after > 0 && s->n >= s->stop_after ? 1 : 0;
}

static const int32_t all_ids[] = { 1, 2, 3, 4 };

START_TEST(rows)
{
    ice_meta      *m = make_table(false);
    seen           s = { 0 };
    ice_scan_stats stats;
    cdc_err        err = { 0 };
    static const int64_t want[] = { 0, 1, 2, 4, 5, 6, 8, 9, 10, 11, 12, 13, 14 };

    ck_assert_msg(ice_scan_rows(st, m, all_ids, 4, on_row, &s, &stats, &err) == 0, "%s",
                  err.msg);
    ck_assert_int_eq(s.n, 13);
    for (int i = 0; i < 13; i++) {
        ck_assert_int_eq(s.ids[i], want[i]);
        ck_assert_int_eq(s.pos[i], want[i] < 10 ? want[i] : want[i] - 10);
        ck_assert_str_eq(s.files[i], want[i] < 10 ? "a.parquet" : "c.parquet");
        ck_assert_int_eq(s.nval[i], want[i] * 10);
        ck_assert(s.name_null[i] == (want[i] == 4));
        ck_assert(s.extra_null[i]);
    }
    ck_assert_int_eq(stats.data_files, 2);
    ck_assert_int_eq(stats.delete_files, 1);
    ck_assert_int_eq(stats.rows, 13);
    ck_assert_int_eq(stats.deleted, 2);
    ice_meta_free(m);
}
END_TEST

START_TEST(row)
{
    ice_meta *m = make_table(false);
    ice_value v[5];
    cdc_buf   mem = CDC_BUF_INIT;
    cdc_err   err = { 0 };
    static const int32_t name_id[] = { 2 };

    ck_assert_msg(ice_scan_row(st, m, c_uri, 2, NULL, 0, v, &mem, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(v[0].i, 12);
    ck_assert(v[1].n == 3 && memcmp(v[1].p, "n12", 3) == 0);
    ck_assert_int_eq(v[2].i, 120);
    ck_assert(v[3].null);
    ck_assert_int_eq(ice_scan_row(st, m, a_uri, 5, name_id, 1, v, &mem, &err), 0);
    ck_assert(v[0].n == 2 && memcmp(v[0].p, "n5", 2) == 0);
    ck_assert_int_eq(ice_scan_row(st, m, a_uri, 10, name_id, 1, v, &mem, &err), 1);
    ck_assert_msg(strstr(err.msg, "has no row 10"), "%s", err.msg);
    cdc_buf_free(&mem);
    ice_meta_free(m);
}
END_TEST

START_TEST(row_list)
{
    ice_meta  *m = make_table(false);
    ice_value *el;
    size_t     n;
    bool       is_null;
    cdc_buf    mem = CDC_BUF_INIT;
    cdc_err    err = { 0 };
    ice_value  v[5];

    /* C's position 1 is id 11: 11 % 3 == 2 elements, 11 and null */
    ck_assert_msg(ice_scan_row_list(st, m, c_uri, 1, 5, &is_null, &el, &n, &mem, &err) == 0,
                  "%s", err.msg);
    ck_assert(!is_null);
    ck_assert_uint_eq(n, 2);
    ck_assert(!el[0].null && el[0].i == 11);
    ck_assert(el[1].null);
    free(el);
    /* id 12: null */
    ck_assert_int_eq(ice_scan_row_list(st, m, c_uri, 2, 5, &is_null, &el, &n, &mem, &err), 0);
    ck_assert(is_null);
    ck_assert_uint_eq(n, 0);
    ck_assert_ptr_null(el);
    /* not a list field; past the end */
    ck_assert_int_eq(ice_scan_row_list(st, m, c_uri, 2, 2, &is_null, &el, &n, &mem, &err), -1);
    ck_assert_int_eq(err.code, CDC_E_INVAL);
    ck_assert_int_eq(ice_scan_row_list(st, m, c_uri, 5, 5, &is_null, &el, &n, &mem, &err), 1);
    /* ice_scan_row of every field reads the list as null */
    ck_assert_int_eq(ice_scan_row(st, m, c_uri, 1, NULL, 0, v, &mem, &err), 0);
    ck_assert(v[4].null);
    /* and ice_scan_rows refuses it, naming the column */
    {
        static const int32_t tag_id[] = { 5 };
        seen                 sn = { 0 };

        ck_assert_int_eq(ice_scan_rows(st, m, tag_id, 1, on_row, &sn, NULL, &err), -1);
        ck_assert_msg(strstr(err.msg, "tags") && strstr(err.msg, "not supported yet"), "%s",
                      err.msg);
    }
    cdc_buf_free(&mem);
    ice_meta_free(m);
}
END_TEST

START_TEST(stop)
{
    ice_meta *m = make_table(false);
    seen      s = { .stop_after = 3 };
    cdc_err   err = { 0 };

    ck_assert_int_eq(ice_scan_rows(st, m, all_ids, 4, on_row, &s, NULL, &err), 0);
    ck_assert_int_eq(s.n, 3);
    s = (seen) { .fail = true };
    ck_assert_int_eq(ice_scan_rows(st, m, all_ids, 4, on_row, &s, NULL, &err), -1);
    ck_assert_str_eq(err.msg, "callback says no");
    ice_meta_free(m);
}
END_TEST

START_TEST(errors)
{
    ice_meta *m = make_table(false);
    seen      s = { 0 };
    cdc_err   err = { 0 };
    static const int32_t bad_id[] = { 1, 42 };
    char      path[600];

    ck_assert_int_eq(ice_scan_rows(st, m, bad_id, 2, on_row, &s, NULL, &err), -1);
    ck_assert_int_eq(err.code, CDC_E_INVAL);
    ck_assert_msg(strstr(err.msg, "no field id 42"), "%s", err.msg);

    snprintf(path, sizeof(path), "%s/t/data/c.parquet", dir);
    ck_assert_int_eq(unlink(path), 0);
    ck_assert_int_eq(ice_scan_rows(st, m, all_ids, 4, on_row, &s, NULL, &err), -1);
    ck_assert_msg(strstr(err.msg, "c.parquet"), "%s", err.msg);
    ice_meta_free(m);

    m = make_table(true);
    ck_assert_int_eq(ice_scan_rows(st, m, all_ids, 4, on_row, &s, NULL, &err), -1);
    ck_assert_int_eq(err.code, CDC_E_UNSUPPORTED);
    ck_assert_msg(strstr(err.msg, "equality deletes") && strstr(err.msg, "d.parquet"), "%s",
                  err.msg);
    ice_meta_free(m);
}
END_TEST

static Suite *
ice_scan_suite(void)
{
    Suite *su = suite_create("ice_scan");
    TCase *tc = tcase_create("all");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, rows);
    tcase_add_test(tc, row);
    tcase_add_test(tc, row_list);
    tcase_add_test(tc, stop);
    tcase_add_test(tc, errors);
    suite_add_tcase(su, tc);
    return su;
}

int
main(void)
{
    return suite_main(ice_scan_suite(), false);
}

/*
 * Compaction's file choice (ice_compact_choose) and the commit it needs: files removed
 * (ice_commit_remove_file) on a base snapshot (ice_commit_set_base), on a SQLite catalog and
 * a local warehouse.  The rewrite itself is checked against pyiceberg by
 * test/integration/705_iceberg_compact.sh.
 */
#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sinks/iceberg/catalog/ice_sql.h"
#include "sinks/iceberg/ice_commit.h"
#include "sinks/iceberg/ice_compact.h"
#include "sinks/iceberg/ice_meta.h"
#include "sinks/iceberg/ice_table.h"

/* ---- the choice ---- */

static int
picks(const ice_compact_file *f, int n, char *out)
{
    int k = 0;

    for (int i = 0; i < n; i++)
        out[i] = f[i].pick ? 'x' : '.';
    out[n] = '\0';
    for (int i = 0; i < n; i++)
        k += f[i].pick;
    return k;
}

START_TEST(choose_threshold)
{
    ice_compact_file f[12];
    char s[16];

    for (int i = 0; i < 12; i++)
        f[i] = (ice_compact_file) { .group = i < 9 ? 0 : 1, .size = 1000, .records = 10 };
    /* group 0 has 9 files, group 1 has 3: below 10, nothing */
    ck_assert_int_eq(ice_compact_choose(f, 12, 10, 1000, 1 << 20), 0);
    /* threshold 9: group 0 only */
    ck_assert_int_eq(ice_compact_choose(f, 12, 9, 1000, 1 << 20), 9);
    picks(f, 12, s);
    ck_assert_str_eq(s, "xxxxxxxxx...");
    /* threshold 3: both groups */
    ck_assert_int_eq(ice_compact_choose(f, 12, 3, 1000, 1 << 20), 12);
    /* a file of an older spec (group < 0) is never picked nor counted */
    f[0].group = -1;
    ck_assert_int_eq(ice_compact_choose(f, 12, 9, 1000, 1 << 20), 0);
    ck_assert_int_eq(ice_compact_choose(f, 12, 3, 1000, 1 << 20), 11);
    picks(f, 12, s);
    ck_assert_str_eq(s, ".xxxxxxxxxxx");
}
END_TEST

START_TEST(choose_big_files_stay)
{
    ice_compact_file f[5];
    char s[8];

    /* target 1000: small is below 750 */
    for (int i = 0; i < 5; i++)
        f[i] = (ice_compact_file) { .group = 0, .size = i % 2 ? 900 : 100, .records = 1 };
    ck_assert_int_eq(ice_compact_choose(f, 5, 5, 1000, 1000), 3);
    picks(f, 5, s);
    ck_assert_str_eq(s, "x.x.x");
    /* only one small file: rewriting it alone gains nothing */
    f[2].size = f[4].size = 800;
    ck_assert_int_eq(ice_compact_choose(f, 5, 5, 1000, 1000), 0);
}
END_TEST

START_TEST(choose_max_rows)
{
    ice_compact_file f[6];
    char s[8];

    for (int i = 0; i < 6; i++)
        f[i] = (ice_compact_file) { .group = i < 4 ? 0 : 1, .size = 10, .records = 100 };
    /* 250 rows a pass: the two oldest of group 0, then nothing fits */
    ck_assert_int_eq(ice_compact_choose(f, 6, 2, 250, 1 << 20), 2);
    picks(f, 6, s);
    ck_assert_str_eq(s, "xx....");
    /* 500: group 0 (400), then group 1 would be one file only: left */
    ck_assert_int_eq(ice_compact_choose(f, 6, 2, 500, 1 << 20), 4);
    picks(f, 6, s);
    ck_assert_str_eq(s, "xxxx..");
    /* a single file over the limit is never picked: nothing to do */
    ck_assert_int_eq(ice_compact_choose(f, 6, 2, 50, 1 << 20), 0);
}
END_TEST

/* ---- the key index after a compaction ---- */

static void
expect_at(ice_tbl *t, const char *key, const char *file, int64_t pos)
{
    int32_t f;
    int64_t p;

    ck_assert_msg(ice_kidx_get(t->kidx, (const uint8_t *) key, strlen(key), &f, &p), "%s", key);
    ck_assert_str_eq(t->paths[f], file);
    ck_assert_int_eq(p, pos);
}

START_TEST(moves_applied)
{
    ice_tbl *t = ice_tbl_new("t", "file:///w/t");
    ice_compact_moves *mv = ice_compact_moves_new();
    cdc_err err;

    ck_assert_int_eq(ice_tbl_index_put(t, (const uint8_t *) "k1", 2, "A", 0), 0);
    ck_assert_int_eq(ice_tbl_index_put(t, (const uint8_t *) "k2", 2, "A", 2), 0);
    ck_assert_int_eq(ice_tbl_index_put(t, (const uint8_t *) "k3", 2, "B", 1), 0);
    ck_assert_int_eq(ice_tbl_index_put(t, (const uint8_t *) "k4", 2, "C", 5), 0);
    /* A:1 and B:0 were deleted rows: not moved */
    ck_assert_int_eq(ice_compact_moves_add(mv, "A", 0, "N", 0, &err), 0);
    ck_assert_int_eq(ice_compact_moves_add(mv, "A", 2, "N", 1, &err), 0);
    ck_assert_int_eq(ice_compact_moves_add(mv, "B", 1, "M", 0, &err), 0);
    ck_assert_int_eq(ice_compact_moves_add(mv, "B", 300, "M", 1, &err), 0);   /* grows */
    ck_assert_int_ne(ice_compact_moves_add(mv, "B", -1, "M", 2, &err), 0);
    ck_assert_int_eq(ice_compact_moves_count(mv), 4);
    ck_assert_int_eq(ice_tbl_apply_moves(t, mv, &err), 0);
    expect_at(t, "k1", "N", 0);
    expect_at(t, "k2", "N", 1);
    expect_at(t, "k3", "M", 0);
    expect_at(t, "k4", "C", 5);     /* not rewritten: as it was */
    ck_assert_int_eq(ice_tbl_keys(t), 4);
    /* an index pointing at a row the compaction did not move: refused, named */
    ck_assert_int_eq(ice_tbl_index_put(t, (const uint8_t *) "k5", 2, "A", 1), 0);
    cdc_err_clear(&err);
    ck_assert_int_eq(ice_tbl_apply_moves(t, mv, &err), -1);
    ck_assert_int_eq(err.code, CDC_E_STATE);
    ck_assert_msg(strstr(err.msg, "row 1 of A") != NULL, "%s", err.msg);
    ice_compact_moves_free(mv);
    ice_tbl_free(t);
}
END_TEST

/* ---- removing files ---- */

static char dir[512], uri[600], wh[600];
static ice_cat *cat;
static ice_store *st;
static const ice_cat_ident tid = { "db", "t" };

static void
setup(void)
{
    const char *tmp = getenv("TMPDIR");
    cdc_err err;

    snprintf(dir, sizeof(dir), "%s/test_ice_compact.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(uri, sizeof(uri), "sqlite:///%s/cat.db", dir);
    snprintf(wh, sizeof(wh), "file://%s/wh/db/t", dir);
    cdc_err_clear(&err);
    ice_sql_conf conf = { .uri = uri };

    ck_assert_msg(ice_sql_open(&conf, &cat, &err) == 0, "%s", err.msg);
    ice_store_conf sc = { .no_fsync = true };

    ck_assert_ptr_nonnull(st = ice_store_new(&sc, &err));

    ice_schema *s = ice_schema_new(0);
    ice_type tl = { .kind = ICE_LONG };
    int32_t last = 0;
    ice_spec *sp = ice_spec_new(0);

    ck_assert_int_eq(ice_schema_add(s, "id", &tl, true, &last, &err), 0);
    ck_assert_msg(ice_commit_create_table(cat, st, &tid, wh, s, sp, NULL, 0, NULL, &err) ==
                  ICE_CAT_OK, "%s", err.msg);
    ice_schema_free(s);
    ice_spec_free(sp);
}

static void
teardown(void)
{
    char cmd[700];

    ice_cat_close(cat);
    ice_store_free(st);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

static const char *
path_of(const char *name)
{
    static char p[4][800];
    static int k;

    k = (k + 1) % 4;
    snprintf(p[k], sizeof(p[k]), "%s/data/%s.parquet", wh, name);
    return p[k];
}

static void
add_data(ice_commit *c, const char *name, int64_t rows)
{
    ice_datafile f = { .content = ICE_CONTENT_DATA, .path = path_of(name), .record_count = rows,
                       .file_size = 100 * rows, .sort_order_id = 0 };
    cdc_err err;

    ck_assert_msg(ice_commit_add_file(c, &f, &err) == 0, "%s", err.msg);
}

/* A position-delete file (really written) deleting row 0 of each named data file. */
static void
add_posdel(ice_commit *c, const char *name, const char *const *targets, int n)
{
    ice_posdel *pd = ice_posdel_new();
    ice_datafile df;
    cdc_err err;

    for (int i = 0; i < n; i++)
        ck_assert_int_eq(ice_posdel_add(pd, path_of(targets[i]), 0, &err), 0);
    ck_assert_msg(ice_posdel_write(pd, st, path_of(name), &df, &err) == 0, "%s", err.msg);
    ck_assert_msg(ice_commit_add_file(c, &df, &err) == 0, "%s", err.msg);
    ice_posdel_free(pd);
}

static int64_t
run(ice_commit *c, int expect_rc, cdc_rc expect_code, const char *expect_msg)
{
    ice_meta *m = NULL;
    cdc_err err;
    int64_t id = -1;

    cdc_err_clear(&err);
    int rc = ice_commit_run(c, 3, &m, &err);

    ck_assert_msg(rc == expect_rc, "rc %d: %s", rc, err.msg);
    if (rc == ICE_CAT_OK) {
        id = ice_meta_current(m)->id;
    } else {
        ck_assert_int_eq(err.code, expect_code);
        ck_assert_msg(strstr(err.msg, expect_msg) != NULL, "%s", err.msg);
    }
    ice_meta_free(m);
    ice_commit_free(c);
    return id;
}

static ice_commit *
new_commit(void)
{
    cdc_err err;
    ice_commit *c = ice_commit_new(cat, st, &tid, &err);

    ck_assert_ptr_nonnull(c);
    return c;
}

/* "name,name,..." of the live files, in scan order of the manifests */
static void
live(char *out, size_t n)
{
    ice_meta *m = NULL;
    cdc_err err;
    cdc_buf b = CDC_BUF_INIT;
    ice_manifest_file *mfs = NULL;
    int nmf = 0;
    size_t o = 0;

    out[0] = '\0';
    ck_assert_int_eq(ice_commit_load(cat, st, &tid, &m, NULL, &err), ICE_CAT_OK);
    const ice_snapshot *cur = ice_meta_current(m);

    ck_assert_int_eq(ice_store_get(st, cur->manifest_list, 0, -1, &b, 0, &err), 0);
    ck_assert_int_eq(ice_manifest_list_read(b.data, b.len, "list", &mfs, &nmf, &err), 0);
    for (int i = 0; i < nmf; i++) {
        ice_read_entry *es = NULL;
        int nes = 0;

        cdc_buf_reset(&b);
        ck_assert_int_eq(ice_store_get(st, mfs[i].path, 0, -1, &b, 0, &err), 0);
        ck_assert_int_eq(ice_manifest_read(b.data, b.len, "m", &mfs[i], NULL, 0, &es, &nes, &err), 0);
        for (int k = 0; k < nes; k++) {
            if (es[k].status == ICE_STATUS_DELETED)
                continue;
            const char *base = strrchr(es[k].path, '/') + 1;

            o += (size_t) snprintf(out + o, n - o, "%s%.*s", o ? "," : "",
                                   (int) (strlen(base) - 8), base);
        }
        ice_read_entries_free(es, nes);
    }
    ice_manifest_files_free(mfs, nmf);
    cdc_buf_free(&b);
    ice_meta_free(m);
}

/* The deletes of a batch being filled follow the rows a compaction moved. */
START_TEST(moves_posdel)
{
    ice_compact_moves *mv = ice_compact_moves_new();
    ice_posdel        *pd = ice_posdel_new();
    ice_posdel        *one = ice_posdel_new();
    ice_datafile       out;
    char               u[700];
    cdc_err            err;
    int64_t            moved = -1;

    ck_assert_int_eq(ice_compact_moves_add(mv, "file:///w/A", 0, "file:///w/N", 0, &err), 0);
    ck_assert_int_eq(ice_compact_moves_add(mv, "file:///w/A", 2, "file:///w/N", 1, &err), 0);
    ck_assert_int_eq(ice_compact_moves_add(mv, "file:///w/B", 1, "file:///w/M", 0, &err), 0);
    ck_assert_int_eq(ice_posdel_add(pd, "file:///w/A", 0, &err), 0);
    ck_assert_int_eq(ice_posdel_add(pd, "file:///w/A", 1, &err), 0);   /* gone: dropped */
    ck_assert_int_eq(ice_posdel_add(pd, "file:///w/C", 5, &err), 0);   /* not rewritten */
    ck_assert_int_eq(ice_posdel_add(pd, "file:///w/B", 1, &err), 0);
    ck_assert_int_eq(ice_compact_moves_posdel(mv, pd, &moved), 1);
    ck_assert_int_eq(moved, 2);
    ck_assert_int_eq(ice_posdel_count(pd), 3);
    /* every row of A moved to N: the written delete file names N alone */
    ck_assert_int_eq(ice_posdel_add(one, "file:///w/A", 2, &err), 0);
    ck_assert_int_eq(ice_posdel_add(one, "file:///w/A", 0, &err), 0);
    ck_assert_int_eq(ice_compact_moves_posdel(mv, one, &moved), 0);
    ck_assert_int_eq(moved, 2);
    memset(&out, 0, sizeof(out));
    snprintf(u, sizeof(u), "%s/pd-moved.parquet", wh);
    ck_assert_msg(ice_posdel_write(one, st, u, &out, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(out.record_count, 2);
    ck_assert_ptr_nonnull(out.referenced_data_file);
    ck_assert_str_eq(out.referenced_data_file, "file:///w/N");
    ice_posdel_free(one);
    ice_posdel_free(pd);
    ice_compact_moves_free(mv);
}
END_TEST

START_TEST(remove_and_replace)
{
    cdc_err err;
    char s[400];
    const char *ab[] = { "a", "b" }, *c1[] = { "c" };

    ice_commit *c = new_commit();

    add_data(c, "a", 3);
    add_data(c, "b", 4);
    add_data(c, "c", 5);
    int64_t s1 = run(c, ICE_CAT_OK, 0, NULL);

    c = new_commit();
    add_posdel(c, "d-ab", ab, 2);
    add_posdel(c, "d-c", c1, 1);
    int64_t s2 = run(c, ICE_CAT_OK, 0, NULL);

    /* a rewrite planned on s1 that removes a: d-ab (committed since) may apply to it */
    c = new_commit();
    add_data(c, "ab", 5);
    ck_assert_int_eq(ice_commit_remove_file(c, path_of("a"), &err), 0);
    ice_commit_set_base(c, s1);
    run(c, -1, CDC_E_STATE, "d-ab.parquet, committed after snapshot");

    /* on s1, removing c only: d-c names c (referenced_data_file): refused as well */
    c = new_commit();
    ck_assert_int_eq(ice_commit_remove_file(c, path_of("c"), &err), 0);
    ice_commit_set_base(c, s1);
    run(c, -1, CDC_E_STATE, "may apply to");

    /* planned on s2: a and b and their delete file go, ab comes */
    c = new_commit();
    add_data(c, "ab", 5);
    ck_assert_int_eq(ice_commit_remove_file(c, path_of("a"), &err), 0);
    ck_assert_int_eq(ice_commit_remove_file(c, path_of("b"), &err), 0);
    ck_assert_int_eq(ice_commit_remove_file(c, path_of("d-ab"), &err), 0);
    ice_commit_set_base(c, s2);
    int64_t s3 = run(c, ICE_CAT_OK, 0, NULL);

    ck_assert_int_gt(s3, 0);
    live(s, sizeof(s));
    ck_assert_str_eq(s, "ab,c,d-c");

    ice_meta *m = NULL;

    ck_assert_int_eq(ice_commit_load(cat, st, &tid, &m, NULL, &err), ICE_CAT_OK);
    const ice_snapshot *cur = ice_meta_current(m);

    ck_assert_str_eq(ice_snapshot_get(cur, "operation"), "replace");
    ck_assert_str_eq(ice_snapshot_get(cur, "deleted-data-files"), "2");
    ck_assert_str_eq(ice_snapshot_get(cur, "deleted-records"), "7");
    ck_assert_str_eq(ice_snapshot_get(cur, "removed-delete-files"), "1");
    ck_assert_str_eq(ice_snapshot_get(cur, "total-data-files"), "2");
    ck_assert_str_eq(ice_snapshot_get(cur, "total-delete-files"), "1");
    ck_assert_str_eq(ice_snapshot_get(cur, "total-records"), "10");
    ice_meta_free(m);

    /* a file no longer in the table */
    c = new_commit();
    ck_assert_int_eq(ice_commit_remove_file(c, path_of("a"), &err), 0);
    run(c, -1, CDC_E_STATE, "no longer in the table");
    live(s, sizeof(s));
    ck_assert_str_eq(s, "ab,c,d-c");
}
END_TEST

START_TEST(run_nothing_to_do_and_refusals)
{
    ice_compact_stats stats;
    ice_compact_opts o = { .file_threshold = 3 };
    cdc_err err;

    /* no snapshot yet: nothing */
    cdc_err_clear(&err);
    ck_assert_msg(ice_compact_run(cat, st, &tid, &o, NULL, NULL, &stats, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(stats.snapshot_id, -1);

    /* two files, below the threshold: nothing (the files are never opened) */
    ice_commit *c = new_commit();

    add_data(c, "a", 3);
    add_data(c, "b", 4);
    run(c, ICE_CAT_OK, 0, NULL);
    ck_assert_msg(ice_compact_run(cat, st, &tid, &o, NULL, NULL, &stats, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(stats.snapshot_id, -1);
    ck_assert_int_eq(stats.data_files_before, 2);

    /* a table missing from the catalog: named */
    ice_cat_ident nope = { "db", "nope" };

    ck_assert_int_eq(ice_compact_run(cat, st, &nope, &o, NULL, NULL, &stats, &err), -1);
    ck_assert_msg(strstr(err.msg, "db.nope") != NULL, "%s", err.msg);

    /* a list column: refused, naming it (before any file is read) */
    ice_schema *s = ice_schema_new(0);
    ice_type tl = { .kind = ICE_LONG };
    ice_type tlist = { .kind = ICE_LIST, .elem_kind = ICE_STRING, .elem_id = 3 };
    int32_t last = 0;
    ice_spec *sp = ice_spec_new(0);
    ice_cat_ident lt = { "db", "lists" };
    char loc[700];

    ck_assert_int_eq(ice_schema_add(s, "id", &tl, true, &last, &err), 0);
    ck_assert_int_eq(ice_schema_add(s, "tags", &tlist, false, &last, &err), 0);
    snprintf(loc, sizeof(loc), "file://%s/wh/db/lists", dir);
    ck_assert_msg(ice_commit_create_table(cat, st, &lt, loc, s, sp, NULL, 0, NULL, &err) ==
                  ICE_CAT_OK, "%s", err.msg);
    ice_schema_free(s);
    ice_spec_free(sp);
    c = ice_commit_new(cat, st, &lt, &err);
    add_data(c, "x", 3);
    add_data(c, "y", 4);
    add_data(c, "z", 5);
    run(c, ICE_CAT_OK, 0, NULL);
    ck_assert_int_eq(ice_compact_run(cat, st, &lt, &o, NULL, NULL, &stats, &err), -1);
    ck_assert_int_eq(err.code, CDC_E_UNSUPPORTED);
    ck_assert_msg(strstr(err.msg, "db.lists") && strstr(err.msg, "column tags is a list"), "%s",
                  err.msg);
}
END_TEST

static Suite *
ice_compact_suite(void)
{
    Suite *s = suite_create("ice_compact");
    TCase *tc = tcase_create("choose");

    tcase_add_test(tc, choose_threshold);
    tcase_add_test(tc, choose_big_files_stay);
    tcase_add_test(tc, choose_max_rows);
    suite_add_tcase(s, tc);
    tcase_add_test(tc, moves_applied);
    tc = tcase_create("remove");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, remove_and_replace);
    tcase_add_test(tc, moves_posdel);
    tcase_add_test(tc, run_nothing_to_do_and_refusals);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(ice_compact_suite());
    int nfailed;

    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_ENV);
    nfailed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return nfailed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

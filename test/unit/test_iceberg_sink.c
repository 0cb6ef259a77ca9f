/*
 * The Iceberg sink's parts that need no service: the position text of the
 * snapshot summary, one table's schema from a relation (append's _cdc_*
 * columns, evolution with stable ids, refusals naming the column), rows
 * into the in-memory Parquet file (a value Iceberg cannot hold leaves no
 * trace), and the manifest's description of the closed file (bounds as
 * Iceberg's single-value serialization, long strings cut).
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/core/cdc_mem.h"
#include "decoder/typemap.h"
#include "sinks/iceberg/catalog/ice_sql.h"
#include "sinks/iceberg/ice_commit.h"
#include "sinks/iceberg/ice_table.h"
#include "sinks/iceberg/ice_worker.h"
#include "sinks/iceberg/ice_value.h"

START_TEST(position_text)
{
    cdc_pos p = { 0x16B374D848ULL, 12 }, q;
    char    s[64];

    ice_pos_format(p, s, sizeof(s));
    ck_assert_str_eq(s, "16/B374D848:12");
    ck_assert_int_eq(ice_pos_parse(s, &q), 0);
    ck_assert(cdc_pos_cmp(p, q) == 0);
    p = (cdc_pos) { 0x1000, CDC_SEQ_END };
    ice_pos_format(p, s, sizeof(s));
    ck_assert_str_eq(s, "0/1000:18446744073709551615");
    ck_assert_int_eq(ice_pos_parse(s, &q), 0);
    ck_assert(q.seq == CDC_SEQ_END && q.lsn == 0x1000);
    ck_assert_int_eq(ice_pos_parse("0/1000", &q), -1);
    ck_assert_int_eq(ice_pos_parse("0/1000:12x", &q), -1);
    ck_assert_int_eq(ice_pos_parse("", &q), -1);
    ck_assert_int_eq(ice_pos_parse(NULL, &q), -1);
    ck_assert_int_eq(ice_pos_parse("zz/1:1", &q), -1);
}
END_TEST

static cdc_col cols[] = {
    { .name = "id", .type_oid = 23, .typmod = -1, .catalog_known = true, .base_oid = 23,
      .key_pos = 1, .not_null = true, .typtype = 'b' },
    { .name = "name", .type_oid = 25, .typmod = -1, .catalog_known = true, .base_oid = 25,
      .typtype = 'b' },
    { .name = "amount", .type_oid = 1700, .typmod = ((10 << 16) | 2) + 4, .catalog_known = true,
      .base_oid = 1700, .typtype = 'b' },
};

static void
typed(cdc_rel *r)
{
    pgo_type_opts o = { .decimal_mode = PGO_DECIMAL_PRECISE, .time_mode = PGO_TIME_ADAPTIVE,
                        .money_fraction_digits = 2 };
    cdc_err       err = { 0 };

    ck_assert_int_eq(pgo_typemap_rel(r, &o, &err), 0);
}

START_TEST(append_schema_rows_and_stats)
{
    cdc_col   c[3];
    cdc_rel   rel = { .relid = 7, .nspname = "public", .relname = "orders", .ncols = 3,
                      .cols = c, .nkeys = 1, .version = 1 };
    cdc_txn   txn = { .commit_lsn = 0x5000, .commit_ts_us = 1700000000000000LL };
    cdc_err   err = { 0 };
    ice_tbl  *t = ice_tbl_new("public_orders", "file:///w/default.db/public_orders");
    uint8_t   amt[2] = { 0x04, 0xd2 };  /* 1234 -> 12.34 */
    const char *longname = "a name much longer than sixteen characters";
    bool      toast = false;

    memcpy(c, cols, sizeof(c));
    typed(&rel);
    ck_assert_int_eq(ice_tbl_set_rel(t, &rel, true, &err), 0);
    ck_assert_int_eq(t->schema->nfields, 3 + ICE_META_N);
    ck_assert_str_eq(t->schema->fields[3].name, "_cdc_topic");
    ck_assert_str_eq(t->schema->fields[8].name, "_cdc_ts");
    ck_assert_int_eq(t->schema->fields[8].type.kind, ICE_TIMESTAMPTZ);
    ck_assert(!t->schema->fields[0].required);      /* append: no identifier fields */
    ck_assert_int_eq(t->schema->nident, 0);
    ck_assert_int_eq(t->last_column_id, 9);
    ck_assert(!t->schema_dirty);

    for (int i = 0; i < 2; i++) {
        cdc_value row[3] = {
            { .state = CDC_VAL_PRESENT, .u.i = i == 0 ? 5 : -3 },
            { .state = CDC_VAL_PRESENT, .u.s = { i == 0 ? "bob" : longname,
                                                 strlen(i == 0 ? "bob" : longname), 0 } },
            { .state = i == 0 ? CDC_VAL_PRESENT : CDC_VAL_UNCHANGED,
              .u.s = { (const char *) amt, 2, 2 } },
        };
        cdc_event ev = { .op = i == 0 ? CDC_OP_CREATE : CDC_OP_UPDATE,
                         .pos = { 0x5000, (uint64_t) i }, .txn = &txn, .lsn = 0x4f00 + i,
                         .rel = &rel, .after = row };

        ck_assert_msg(ice_tbl_put_row(t, &ev, row, "cdc.public.orders", PARQUET_ZSTD, &toast,
                                      &err) == 0, "%s", err.msg);
    }
    ck_assert(toast);
    ck_assert_int_eq(t->rows, 2);

    /* A decimal beyond its precision: refused, leaves nothing in the file. */
    {
        uint8_t   big[8] = { 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
        cdc_value row[3] = {
            { .state = CDC_VAL_PRESENT, .u.i = 99 },
            { .state = CDC_VAL_NULL },
            { .state = CDC_VAL_PRESENT, .u.s = { (const char *) big, 8, 2 } },
        };
        cdc_event ev = { .op = CDC_OP_CREATE, .pos = { 0x5000, 2 }, .txn = &txn, .rel = &rel,
                         .after = row };

        ck_assert_int_eq(ice_tbl_put_row(t, &ev, row, "x", PARQUET_ZSTD, &toast, &err), -1);
        ck_assert_int_eq(err.code, CDC_E_DECODE);
        ck_assert_msg(strstr(err.msg, "amount") != NULL, "%s", err.msg);
        ck_assert_int_eq(t->rows, 2);
    }

    ck_assert_int_eq(ice_tbl_close_file(t, &err), 0);
    ck_assert_int_eq(t->nfiles, 1);
    {
        ice_file    *f = &t->files[0];
        ice_datafile df;
        ice_colstat *cs = NULL;
        cdc_buf      store = CDC_BUF_INIT;
        int          seen = 0;

        ck_assert(f->bytes.len > 8);
        ck_assert(memcmp(f->bytes.data, "PAR1", 4) == 0);
        ck_assert(memcmp(f->bytes.data + f->bytes.len - 4, "PAR1", 4) == 0);
        ck_assert_ptr_nonnull(strstr(f->uri, "file:///w/default.db/public_orders/data/"));
        ck_assert_int_eq(ice_tbl_datafile(f, &df, &cs, &store, &err), 0);
        ck_assert_int_eq(df.record_count, 2);
        ck_assert_int_eq(df.file_size, (int64_t) f->bytes.len);
        ck_assert_int_eq(df.content, ICE_CONTENT_DATA);
        for (int i = 0; i < df.ncols; i++) {
            const ice_colstat *s = &df.cols[i];

            if (s->field_id == 1) {         /* id: int, 4 bytes little-endian */
                int32_t lo, hi;

                ck_assert_int_eq((int) s->lower_n, 4);
                memcpy(&lo, s->lower, 4);
                memcpy(&hi, s->upper, 4);
                ck_assert_int_eq(lo, -3);
                ck_assert_int_eq(hi, 5);
                seen++;
            } else if (s->field_id == 2) {  /* name: cut to 16 characters */
                ck_assert_int_eq((int) s->lower_n, 16);
                ck_assert(memcmp(s->lower, longname, 16) == 0);
                ck_assert_int_eq((int) s->upper_n, 3);
                ck_assert(memcmp(s->upper, "bob", 3) == 0);
                seen++;
            } else if (s->field_id == 3) {  /* amount: one value 1234, one null */
                ck_assert_int_eq((int) s->nulls, 1);
                ck_assert_int_eq((int) s->lower_n, 2);
                ck_assert(memcmp(s->lower, amt, 2) == 0);
                seen++;
            } else if (s->field_id == 7) {  /* _cdc_op */
                ck_assert(memcmp(s->lower, "c", 1) == 0 && memcmp(s->upper, "u", 1) == 0);
                seen++;
            }
        }
        ck_assert_int_eq(seen, 4);
        free(cs);
        cdc_buf_free(&store);
    }
    ice_tbl_free(t);
}
END_TEST

START_TEST(evolution_keeps_ids)
{
    cdc_col  c[3], c2[3];
    cdc_rel  rel = { .relid = 7, .nspname = "public", .relname = "orders", .ncols = 3,
                     .cols = c, .nkeys = 1, .version = 1 };
    cdc_rel  rel2 = rel;
    cdc_err  err = { 0 };
    ice_tbl *t = ice_tbl_new("orders", "file:///w/t");

    memcpy(c, cols, sizeof(c));
    typed(&rel);
    ck_assert_int_eq(ice_tbl_set_rel(t, &rel, true, &err), 0);
    /* "name" dropped, "note" added: a new id above last-column-id, the others keep theirs */
    memcpy(c2, cols, sizeof(c2));
    c2[1].name = "note";
    rel2.cols = c2;
    rel2.version = 2;
    typed(&rel2);
    ck_assert_int_eq(ice_tbl_set_rel(t, &rel2, true, &err), 0);
    ck_assert(t->schema_dirty);
    ck_assert_int_eq(t->schema->schema_id, 1);
    ck_assert_ptr_null(ice_schema_find(t->schema, "name"));
    ck_assert_int_eq(ice_schema_find(t->schema, "note")->id, 10);
    ck_assert_int_eq(ice_schema_find(t->schema, "amount")->id, 3);
    ck_assert_int_eq(ice_schema_find(t->schema, "_cdc_lsn")->id, 8);

    /* a table someone else made (no snapshot of this pipeline) is not evolved: refused,
       naming the column */
    {
        ice_tbl *f = ice_tbl_new("theirs", "file:///w/x");

        ck_assert_int_eq(ice_tbl_set_rel(f, &rel, true, &err), 0);
        f->foreign = true;
        ck_assert_int_eq(ice_tbl_set_rel(f, &rel2, true, &err), -1);
        ck_assert_msg(strstr(err.msg, "theirs") && strstr(err.msg, "\"note\"") &&
                      strstr(err.msg, "no change of this pipeline"), "%s", err.msg);
        ice_tbl_free(f);
    }

    /* amount numeric -> text: refused, naming table, column and both types */
    c2[2].type_oid = c2[2].base_oid = 25;
    c2[2].typmod = -1;
    rel2.version = 3;
    typed(&rel2);
    ck_assert_int_eq(ice_tbl_set_rel(t, &rel2, true, &err), -1);
    ck_assert_msg(strstr(err.msg, "amount") && strstr(err.msg, "decimal(10, 2)") &&
                  strstr(err.msg, "string") && strstr(err.msg, "orders"), "%s", err.msg);
    ice_tbl_free(t);
}
END_TEST

START_TEST(upsert_needs_key_and_reserved_names)
{
    cdc_col  c[3];
    cdc_rel  rel = { .relid = 7, .nspname = "public", .relname = "nokey", .ncols = 3,
                     .cols = c, .nkeys = 0, .version = 1 };
    cdc_err  err = { 0 };
    ice_tbl *t = ice_tbl_new("nokey", "file:///w/t");

    memcpy(c, cols, sizeof(c));
    c[0].key_pos = 0;
    typed(&rel);
    ck_assert_int_eq(ice_tbl_set_rel(t, &rel, false, &err), -1);
    ck_assert_msg(strstr(err.msg, "public.nokey") && strstr(err.msg, "primary key"), "%s",
                  err.msg);
    c[1].name = "_cdc_op";
    ck_assert_int_eq(ice_tbl_set_rel(t, &rel, true, &err), -1);
    ck_assert_msg(strstr(err.msg, "_cdc_op") != NULL, "%s", err.msg);
    ice_tbl_free(t);
}
END_TEST


START_TEST(upsert_index_and_deletes)
{
    cdc_col  c[3];
    cdc_rel  rel = { .relid = 7, .nspname = "public", .relname = "orders", .ncols = 3,
                     .cols = c, .nkeys = 1, .version = 1 };
    cdc_txn  txn = { .commit_lsn = 0x6000 };
    cdc_err  err = { 0 };
    ice_tbl *t = ice_tbl_new("orders", "file:///w/t");
    struct { char op; int id; int newid; } steps[] = {
        { 'c', 1, 0 }, { 'c', 2, 0 }, { 'u', 1, 0 }, { 'u', 1, 0 }, { 'd', 2, 0 },
        { 'c', 2, 0 }, { 'd', 9, 0 },
    };

    memcpy(c, cols, sizeof(c));
    typed(&rel);
    ck_assert_int_eq(ice_tbl_set_rel(t, &rel, false, &err), 0);
    ck_assert(t->schema->fields[0].required);
    ck_assert_int_eq(t->schema->nident, 1);
    ck_assert_int_eq(t->schema->nfields, 3);        /* no _cdc_* columns */
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        cdc_value row[3] = {
            { .state = CDC_VAL_PRESENT, .u.i = steps[i].id },
            { .state = CDC_VAL_PRESENT, .u.s = { "x", 1, 0 } },
            { .state = CDC_VAL_NULL },
        };
        cdc_event ev = { .op = (cdc_op) steps[i].op, .pos = { 0x6000, i }, .txn = &txn,
                         .rel = &rel, .after = steps[i].op == 'd' ? NULL : row,
                         .before = steps[i].op == 'd' ? row : NULL };

        ck_assert_msg(ice_tbl_upsert(t, &ev, "t", PARQUET_ZSTD, &err) == 0, "%s", err.msg);
    }
    /* rows written: c1 c2 u1 u1 c2 = 5; deletes: u1 (row 0), u1 (row 2), d2 (row 1),
       d9 nothing; keys 1 and 2 live */
    ck_assert_int_eq(t->rows, 5);
    ck_assert_int_eq(t->ndeletes, 3);
    ck_assert_int_eq(ice_posdel_count(t->pd), 3);
    ck_assert_int_eq(ice_tbl_keys(t), 2);

    /* an unchanged TOAST value without a before image: refused in upsert */
    {
        cdc_value row[3] = {
            { .state = CDC_VAL_PRESENT, .u.i = 1 },
            { .state = CDC_VAL_UNCHANGED },
            { .state = CDC_VAL_NULL },
        };
        cdc_event ev = { .op = CDC_OP_UPDATE, .pos = { 0x6000, 50 }, .txn = &txn, .rel = &rel,
                         .after = row };

        ck_assert_int_eq(ice_tbl_upsert(t, &ev, "t", PARQUET_ZSTD, &err), -1);
        ck_assert_int_eq(err.code, CDC_E_UNSUPPORTED);
        ck_assert_msg(strstr(err.msg, "\"name\"") && strstr(err.msg, "REPLICA IDENTITY FULL"),
                      "%s", err.msg);
        ck_assert_int_eq(t->rows, 5);
        ck_assert_int_eq(ice_tbl_keys(t), 2);
    }
    ice_tbl_free(t);
}
END_TEST


/* The commit thread on a SQLite catalog and a file:// warehouse: two batches, the second with
   a schema change; the position becomes durable only when committed, and is the summary's. */
START_TEST(worker_commits_batches)
{
    char            dir[] = "/tmp/cdc_ice_sinkXXXXXX";
    char            uri[300], wh[300];
    cdc_err         err = { 0 };
    ice_cat        *cat = NULL;
    ice_store      *st;
    ice_store_conf  sc = { .no_fsync = true };
    ice_worker     *w;
    cdc_col         c[3], c2[3];
    cdc_rel         rel = { .relid = 7, .nspname = "public", .relname = "orders", .ncols = 3,
                            .cols = c, .nkeys = 1, .version = 1 };
    cdc_rel         rel2;
    cdc_txn         txn = { .commit_lsn = 0x7000, .commit_ts_us = 1 };
    ice_tbl        *t;
    cdc_pos         durable;
    ice_cat_ident   id = { "default", "public_orders" };
    ice_meta       *m = NULL;
    char           *loc = NULL;

    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(uri, sizeof(uri), "sqlite:///%s/cat.db", dir);
    snprintf(wh, sizeof(wh), "file://%s/wh", dir);
    ice_sql_conf cc = { .uri = uri };
    ck_assert_int_eq(ice_sql_open(&cc, &cat, &err), 0);
    st = ice_store_new(&sc, &err);
    ck_assert_ptr_nonnull(st);
    ice_worker_conf wc = { .cat = cat, .store = st, .ns = "default", .pipeline_id = "p1",
                           .sink_id = "lake", .label = "test", .auto_create = true,
                           .retry = { .initial_ms = 10, .max_ms = 20 } };
    w = ice_worker_start(&wc, &err);
    ck_assert_ptr_nonnull(w);

    memcpy(c, cols, sizeof(c));
    typed(&rel);
    char loc0[400];
    snprintf(loc0, sizeof(loc0), "%s/default.db/public_orders", wh);
    t = ice_tbl_new("public_orders", loc0);
    for (int b = 0; b < 2; b++) {
        ice_batch *bt = cdc_xcalloc(1, sizeof(*bt));
        bool       toast = false;

        if (b == 1) {               /* ADD COLUMN note text */
            memcpy(c2, cols, sizeof(c2));
            rel2 = rel;
            rel2.ncols = 3;
            rel2.cols = c2;
            c2[2].name = "note";
            c2[2].type_oid = c2[2].base_oid = 25;
            c2[2].typmod = -1;
            rel2.version = 2;
            typed(&rel2);
            ck_assert_int_eq(ice_tbl_set_rel(t, &rel2, true, &err), 0);
        } else {
            ck_assert_int_eq(ice_tbl_set_rel(t, &rel, true, &err), 0);
        }
        for (int i = 0; i < 3; i++) {
            cdc_value row[3] = {
                { .state = CDC_VAL_PRESENT, .u.i = b * 10 + i },
                { .state = CDC_VAL_PRESENT, .u.s = { "x", 1, 0 } },
                { .state = CDC_VAL_NULL },
            };
            cdc_event ev = { .op = CDC_OP_CREATE, .pos = { 0x7000 + (uint64_t) b, (uint64_t) i },
                             .txn = &txn, .rel = b ? &rel2 : &rel, .after = row };

            ck_assert_int_eq(ice_tbl_put_row(t, &ev, row, "cdc.public.orders", PARQUET_ZSTD,
                                             &toast, &err), 0);
        }
        ck_assert_int_eq(ice_tbl_close_file(t, &err), 0);
        bt->pos = (cdc_pos) { 0x7000 + (uint64_t) b, CDC_SEQ_END };
        bt->t = cdc_xcalloc(1, sizeof(*bt->t));
        bt->n = 1;
        bt->t[0] = (ice_wtable) { .name = cdc_xstrdup(t->name), .location = cdc_xstrdup(loc0),
                                  .schema = ice_schema_dup(t->schema),
                                  .set_schema = t->schema_dirty, .is_new = b == 0,
                                  .files = t->files, .nfiles = t->nfiles, .rows = t->rows };
        t->files = NULL;
        t->nfiles = 0;
        t->schema_dirty = false;
        ck_assert(ice_worker_idle(w));
        {
            cdc_pos want = bt->pos;     /* the worker frees bt */

            ice_worker_submit(w, bt);
            ck_assert(ice_worker_wait(w, 20000));
            ck_assert_msg(ice_worker_poll(w, &durable, &err) == 0, "%s", err.msg);
            ck_assert(cdc_pos_cmp(durable, want) == 0);
        }
    }
    ck_assert_int_eq(durable.lsn, 0x7001);

    /* the table as the catalog has it now: 2 snapshots, summary with the position */
    ice_store *st2 = ice_store_new(&sc, &err);
    ice_cat   *cat2 = NULL;
    ck_assert_int_eq(ice_sql_open(&cc, &cat2, &err), 0);
    ck_assert_int_eq(ice_commit_load(cat2, st2, &id, &m, &loc, &err), ICE_CAT_OK);
    ck_assert_int_eq(m->nsnapshots, 2);
    ck_assert_str_eq(ice_snapshot_get(ice_meta_current(m), "cdc.position"),
                     "0/7001:18446744073709551615");
    ck_assert_str_eq(ice_snapshot_get(ice_meta_current(m), "cdc.pipeline"), "p1");
    ck_assert_ptr_nonnull(ice_schema_find(ice_meta_schema(m, m->current_schema_id), "note"));
    ice_meta_free(m);
    free(loc);
    ice_cat_close(cat2);
    ice_store_free(st2);
    ice_worker_stop(w);
    ice_tbl_free(t);
    {
        char cmd[400];

        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        ck_assert_int_eq(system(cmd), 0);
    }
}
END_TEST

static Suite *
sink_suite(void)
{
    Suite *s = suite_create("iceberg_sink");
    TCase *tc = tcase_create("table");

    tcase_add_test(tc, position_text);
    tcase_add_test(tc, append_schema_rows_and_stats);
    tcase_add_test(tc, evolution_keeps_ids);
    tcase_add_test(tc, upsert_needs_key_and_reserved_names);
    tcase_add_test(tc, upsert_index_and_deletes);
    tcase_add_test(tc, worker_commits_batches);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(sink_suite());
    int      failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

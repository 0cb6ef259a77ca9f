/*
 * Unit tests for sinks/iceberg/ice_commit.c and ice_posdel.c on a SQLite SQL
 * catalog and a file:// warehouse in a temporary folder: create (and create
 * again: exists), load, two appends (manifest lists carry the earlier
 * manifests, sequence numbers, summaries with totals and the caller's pairs,
 * snapshot and metadata logs, metadata file versions), a position-delete
 * file and its commit, a schema change, a concurrent writer committing
 * between our load and our commit (we rebuild on top: both snapshots stay),
 * and a commit whose outcome was unknown (run again: not committed twice).
 * What is checked here is read back with our own readers; pyiceberg reads
 * the same tables in test/integration/645_iceberg_commit_pyiceberg.sh.
 */
#include <check.h>
#include <errno.h>
#include <jansson.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/core/cdc_buf.h"
#include "sinks/iceberg/catalog/ice_catalog.h"
#include "sinks/iceberg/catalog/ice_sql.h"
#include "sinks/iceberg/ice_commit.h"
#include "sinks/iceberg/ice_manifest.h"
#include "sinks/iceberg/ice_meta.h"
#include "sinks/iceberg/ice_value.h"
#include "sinks/iceberg/store/store.h"

static char dir[512];
static char uri[600];
static char wh[600];
static ice_cat *cat;
static ice_store *st;
static const ice_cat_ident tid = { "db", "t" };

/* ---- warehouse writes that fail: a rename onto a target containing fail_rename_on ---- */

int __real_rename(const char *from, const char *to);
int __wrap_rename(const char *from, const char *to);
static const char *fail_rename_on;

int
__wrap_rename(const char *from, const char *to)
{
    if (fail_rename_on && strstr(to, fail_rename_on)) {
        errno = EIO;
        return -1;
    }
    return __real_rename(from, to);
}

/* ---- a catalog that wraps the SQLite one to stage races and lost answers ---- */

enum { WRAP_PASS, WRAP_RACE, WRAP_LOST_ANSWER, WRAP_FAIL_BEFORE, WRAP_APPLIED_CONFLICT };

typedef struct wrap {
    ice_cat  head;
    ice_cat *inner;
    int      mode;
    int      commits;       /* commits that reached the inner catalog */
    void   (*race)(void);   /* WRAP_RACE: another writer's commit, made before ours */
} wrap;

static wrap W;

static int
w_load(ice_cat *c, const ice_cat_ident *id, ice_cat_table *out, cdc_err *err)
{
    return ice_cat_load(((wrap *) c)->inner, id, out, err);
}

static int
w_create(ice_cat *c, const ice_cat_ident *id, const ice_cat_new_table *nt, ice_cat_table *out,
         cdc_err *err)
{
    return ice_cat_create(((wrap *) c)->inner, id, nt, out, err);
}

static int
w_commit(ice_cat *c, const ice_cat_ident *id, const ice_cat_change *cm, ice_cat_table *out,
         cdc_err *err)
{
    wrap *w = (wrap *) c;
    int rc;

    if (w->mode == WRAP_RACE) {
        w->mode = WRAP_PASS;
        w->race();
    }
    if (w->mode == WRAP_FAIL_BEFORE) {
        w->mode = WRAP_PASS;
        return cdc_err_set(err, CDC_E_CONN, "catalog down (staged)");
    }
    rc = ice_cat_commit(w->inner, id, cm, out, err);
    if (rc == ICE_CAT_OK)
        w->commits++;
    if (w->mode == WRAP_APPLIED_CONFLICT && rc == ICE_CAT_OK) {
        /* a client that sent the commit again after a lost answer: the second one fails its
           requirements (409) although the first went in */
        w->mode = WRAP_PASS;
        ice_cat_table_free(out);
        cdc_err_set(err, CDC_E_DEST, "concurrent commit (staged)");
        return ICE_CAT_CONFLICT;
    }
    if (w->mode == WRAP_LOST_ANSWER && rc == ICE_CAT_OK) {
        w->mode = WRAP_PASS;
        ice_cat_table_free(out);
        return cdc_err_set(err, CDC_E_CONN, "whether it was applied is unknown (staged)");
    }
    return rc;
}

static int
w_list(ice_cat *c, const char *ns, ice_cat_name_cb cb, void *ud, cdc_err *err)
{
    return ice_cat_list(((wrap *) c)->inner, ns, cb, ud, err);
}

static int
w_drop(ice_cat *c, const ice_cat_ident *id, cdc_err *err)
{
    return ice_cat_drop(((wrap *) c)->inner, id, err);
}

static void
w_close(ice_cat *c)
{
    (void) c;
}

static const ice_cat_ops wrap_ops = { "sql", w_load, w_create, w_commit, w_list, w_drop, w_close };

static char *rest_req, *rest_upd;

static int
r_commit(ice_cat *c, const ice_cat_ident *id, const ice_cat_change *cm, ice_cat_table *out,
         cdc_err *err)
{
    (void) c;
    (void) id;
    (void) err;
    free(rest_req);
    free(rest_upd);
    rest_req = cm->requirements_json ? strdup(cm->requirements_json) : NULL;
    rest_upd = cm->updates_json ? strdup(cm->updates_json) : NULL;
    if (out)
        memset(out, 0, sizeof(*out));
    return ICE_CAT_OK;
}

static const ice_cat_ops rest_ops = { "rest", w_load, w_create, r_commit, w_list, w_drop, w_close };

/* ---- helpers ---- */

static void
setup(void)
{
    static int n;
    const char *tmp = getenv("TMPDIR");
    cdc_err err;

    snprintf(dir, sizeof(dir), "%s/test_ice_commit.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(uri, sizeof(uri), "sqlite:///%s/cat%d.db", dir, ++n);
    snprintf(wh, sizeof(wh), "file://%s/wh/db/t", dir);
    cdc_err_clear(&err);
    ice_sql_conf conf = { .uri = uri };
    ice_cat *inner = NULL;

    ck_assert_msg(ice_sql_open(&conf, &inner, &err) == 0, "%s", err.msg);
    memset(&W, 0, sizeof(W));
    W.head.ops = &wrap_ops;
    snprintf(W.head.what, sizeof(W.head.what), "wrapped %s", inner->what);
    W.inner = inner;
    cat = &W.head;
    ice_store_conf sc = { .no_fsync = true };
    ck_assert_ptr_nonnull(st = ice_store_new(&sc, &err));
}

static void
teardown(void)
{
    char cmd[700];

    ice_cat_close(W.inner);
    ice_store_free(st);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

static ice_schema *
schema2(int32_t *last)
{
    ice_schema *s = ice_schema_new(0);
    ice_type tl = { .kind = ICE_LONG }, ts = { .kind = ICE_STRING };
    cdc_err err;

    *last = 0;
    ck_assert_int_eq(ice_schema_add(s, "id", &tl, true, last, &err), 0);
    ck_assert_int_eq(ice_schema_add(s, "name", &ts, false, last, &err), 0);
    s->ident_ids = calloc(1, sizeof(int32_t));
    s->ident_ids[0] = 1;
    s->nident = 1;
    return s;
}

static void
create_table(void)
{
    int32_t last;
    ice_schema *s = schema2(&last);
    ice_spec *sp = ice_spec_new(0);
    ice_kv props[1] = { { "write.format.default", "parquet" } };
    ice_meta *m = NULL;
    cdc_err err;

    cdc_err_clear(&err);
    ck_assert_msg(ice_commit_create_table(cat, st, &tid, wh, s, sp, props, 1, &m, &err) == ICE_CAT_OK,
                  "%s", err.msg);
    ck_assert_ptr_nonnull(m);
    ck_assert_int_eq(m->current_snapshot_id, -1);
    ck_assert_int_eq(m->last_column_id, 2);
    ck_assert_str_eq(ice_meta_prop(m, "write.format.default"), "parquet");
    ice_meta_free(m);
    ice_schema_free(s);
    ice_spec_free(sp);
}

/* A data file (not really there: the commit only names it) with bounds on id. */
static void
add_data(ice_commit *c, const char *name, int64_t rows, int64_t lo, int64_t hi)
{
    char path[800];
    cdc_buf lb = CDC_BUF_INIT, ub = CDC_BUF_INIT;
    ice_type tl = { .kind = ICE_LONG };
    ice_value v = { 0 };
    cdc_err err;

    v.i = lo;
    ice_value_bound(&lb, &tl, &v);
    v.i = hi;
    ice_value_bound(&ub, &tl, &v);
    ice_colstat cs = { .field_id = 1, .size = 10, .values = rows, .nulls = 0, .nans = -1,
                       .lower = lb.data, .lower_n = lb.len, .upper = ub.data, .upper_n = ub.len };
    snprintf(path, sizeof(path), "%s/data/%s.parquet", wh, name);
    ice_datafile f = { .content = ICE_CONTENT_DATA, .path = path, .record_count = rows,
                       .file_size = 100 * rows, .ncols = 1, .cols = &cs, .sort_order_id = 0 };

    cdc_err_clear(&err);
    ck_assert_msg(ice_commit_add_file(c, &f, &err) == 0, "%s", err.msg);
    cdc_buf_free(&lb);   /* copied by add_file */
    cdc_buf_free(&ub);
}

static ice_meta *
commit_files(const char *const *names, const int64_t *rows, int n, const char *pos)
{
    cdc_err err;
    ice_commit *c;
    ice_meta *m = NULL;

    cdc_err_clear(&err);
    ck_assert_ptr_nonnull(c = ice_commit_new(cat, st, &tid, &err));
    for (int i = 0; i < n; i++)
        add_data(c, names[i], rows[i], 1, rows[i]);
    if (pos)
        ck_assert_int_eq(ice_commit_summary(c, "cdc.position", pos, &err), 0);
    ck_assert_msg(ice_commit_run(c, 0, &m, &err) == ICE_CAT_OK, "%s", err.msg);
    ice_commit_free(c);
    return m;
}

/* A new table with one snapshot: data file a.parquet (3 rows) at position 0/100. */
static void
table_with_a(void)
{
    const char   *names[] = { "a" };
    const int64_t rows[] = { 3 };

    create_table();
    ice_meta_free(commit_files(names, rows, 1, "0/100"));
}

static ice_meta *
load(char **loc)
{
    ice_meta *m = NULL;
    cdc_err err;

    cdc_err_clear(&err);
    ck_assert_msg(ice_commit_load(cat, st, &tid, &m, loc, &err) == ICE_CAT_OK, "%s", err.msg);
    return m;
}

/* The live files of the current snapshot, "content:basename:seq" sorted and joined by ' '. */
static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}

static void
live_files(const ice_meta *m, char *out, size_t outsz)
{
    const ice_snapshot *cur = ice_meta_current(m);
    cdc_buf lb = CDC_BUF_INIT;
    ice_manifest_file *mfs = NULL;
    int nmf = 0;
    char *items[64];
    int ni = 0;
    cdc_err err;

    out[0] = '\0';
    ck_assert_ptr_nonnull(cur);
    ck_assert_int_eq(ice_store_get(st, cur->manifest_list, 0, -1, &lb, 0, &err), 0);
    ck_assert_msg(ice_manifest_list_read(lb.data, lb.len, cur->manifest_list, &mfs, &nmf, &err) == 0,
                  "%s", err.msg);
    for (int i = 0; i < nmf; i++) {
        cdc_buf mb = CDC_BUF_INIT;
        ice_read_entry *es = NULL;
        int nes = 0;

        ck_assert_int_eq(ice_store_get(st, mfs[i].path, 0, -1, &mb, 0, &err), 0);
        ck_assert_msg(ice_manifest_read(mb.data, mb.len, mfs[i].path, &mfs[i], NULL, 0, &es, &nes,
                                        &err) == 0, "%s", err.msg);
        for (int k = 0; k < nes; k++) {
            char buf[300];
            const char *base = strrchr(es[k].path, '/');

            if (es[k].status == ICE_STATUS_DELETED)
                continue;
            snprintf(buf, sizeof(buf), "%d:%s:%" PRId64, es[k].content, base ? base + 1 : es[k].path,
                     es[k].sequence_number);
            ck_assert_int_lt(ni, 64);
            items[ni++] = strdup(buf);
        }
        ice_read_entries_free(es, nes);
        cdc_buf_free(&mb);
    }
    qsort(items, (size_t) ni, sizeof(char *), cmp_str);
    size_t o = 0;

    for (int i = 0; i < ni; i++) {
        o += (size_t) snprintf(out + o, outsz - o, "%s%s", i ? " " : "", items[i]);
        free(items[i]);
    }
    ice_manifest_files_free(mfs, nmf);
    cdc_buf_free(&lb);
}

static int
count_cb(void *arg, const char *u, int64_t size)
{
    int *n = arg;

    (void) size;
    if (strstr(u, ".metadata.json"))
        n[0]++;
    else if (strstr(u, "/snap-"))
        n[1]++;
    else
        n[2]++;
    return 0;
}

/* Files under the table's metadata/: "<metadata.json> <manifest lists> <manifests>" */
static void
metadata_files(char *out, size_t outsz)
{
    char prefix[700];
    int n[3] = { 0, 0, 0 };
    cdc_err err;

    snprintf(prefix, sizeof(prefix), "%s/metadata/", wh);
    ck_assert_int_eq(ice_store_list(st, prefix, count_cb, n, &err), 0);
    snprintf(out, outsz, "%d %d %d", n[0], n[1], n[2]);
}

/* ---- tests ---- */

START_TEST(create_and_load)
{
    cdc_err err;
    char *loc = NULL;

    create_table();
    ice_meta *m = load(&loc);

    ck_assert_ptr_nonnull(strstr(loc, "/wh/db/t/metadata/00000-"));
    ck_assert_int_eq(m->current_snapshot_id, -1);
    ck_assert_int_eq(m->nschemas, 1);
    ck_assert_int_eq(m->schemas[0]->nident, 1);
    ice_meta_free(m);
    free(loc);

    /* again: exists, the table unchanged */
    int32_t last;
    ice_schema *s = schema2(&last);
    ice_spec *sp = ice_spec_new(0);

    cdc_err_clear(&err);
    ck_assert_int_eq(ice_commit_create_table(cat, st, &tid, wh, s, sp, NULL, 0, NULL, &err),
                     ICE_CAT_EXISTS);
    ice_schema_free(s);
    ice_spec_free(sp);
    char files[64];

    metadata_files(files, sizeof(files));
    ck_assert_str_eq(files, "1 0 0");   /* the losing create's metadata file is gone */

    /* a table that is not there */
    ice_cat_ident other = { "db", "nope" };
    ice_meta *none = NULL;

    ck_assert_int_eq(ice_commit_load(cat, st, &other, &none, NULL, &err), ICE_CAT_NOT_FOUND);
    ck_assert_ptr_null(none);
}
END_TEST

START_TEST(two_appends)
{
    char files[2000], *loc = NULL;
    const char *n1[] = { "a", "b" }, *n2[] = { "c" };
    const int64_t r1[] = { 3, 4 }, r2[] = { 5 };

    create_table();
    ice_meta *m1 = commit_files(n1, r1, 2, "0/100");
    const ice_snapshot *s1 = ice_meta_current(m1);

    ck_assert_ptr_nonnull(s1);
    ck_assert_int_eq(s1->sequence_number, 1);
    ck_assert_int_eq(s1->parent_id, -1);
    ck_assert_str_eq(ice_snapshot_get(s1, "operation"), "append");
    ck_assert_str_eq(ice_snapshot_get(s1, "added-data-files"), "2");
    ck_assert_str_eq(ice_snapshot_get(s1, "added-records"), "7");
    ck_assert_str_eq(ice_snapshot_get(s1, "total-records"), "7");
    ck_assert_str_eq(ice_snapshot_get(s1, "cdc.position"), "0/100");
    int64_t id1 = s1->id;

    ice_meta *m2 = commit_files(n2, r2, 1, "0/200");
    const ice_snapshot *s2 = ice_meta_current(m2);

    ck_assert_int_eq(s2->sequence_number, 2);
    ck_assert_int_eq(s2->parent_id, id1);
    ck_assert_str_eq(ice_snapshot_get(s2, "total-records"), "12");
    ck_assert_str_eq(ice_snapshot_get(s2, "total-data-files"), "3");
    ck_assert_str_eq(ice_snapshot_get(s2, "cdc.position"), "0/200");
    ice_meta_free(m1);
    ice_meta_free(m2);

    /* as the catalog has it now */
    ice_meta *m = load(&loc);

    ck_assert_ptr_nonnull(strstr(loc, "/metadata/00002-"));
    ck_assert_int_eq(m->nsnapshots, 2);
    ck_assert_int_eq(m->last_sequence_number, 2);
    ck_assert_int_eq(m->nsnaplog, 2);
    ck_assert_int_eq(m->nmetalog, 2);
    ck_assert_ptr_nonnull(strstr(m->metalog[0].file, "/metadata/00000-"));
    ck_assert_ptr_nonnull(strstr(m->metalog[1].file, "/metadata/00001-"));
    live_files(m, files, sizeof(files));
    ck_assert_str_eq(files, "0:a.parquet:1 0:b.parquet:1 0:c.parquet:2");
    ice_meta_free(m);
    free(loc);
}
END_TEST

START_TEST(position_deletes)
{
    char files[2000], p1[800], p2[800], del[800];
    const char *n1[] = { "a", "b" };
    const int64_t r1[] = { 3, 4 };
    cdc_err err;
    ice_datafile df;

    create_table();
    ice_meta_free(commit_files(n1, r1, 2, "0/100"));
    snprintf(p1, sizeof(p1), "%s/data/a.parquet", wh);
    snprintf(p2, sizeof(p2), "%s/data/b.parquet", wh);
    snprintf(del, sizeof(del), "%s/data/del-1.parquet", wh);

    ice_posdel *pd = ice_posdel_new();

    cdc_err_clear(&err);
    ck_assert_int_eq(ice_posdel_add(pd, p2, 3, &err), 0);
    ck_assert_int_eq(ice_posdel_add(pd, p1, 2, &err), 0);
    ck_assert_int_eq(ice_posdel_add(pd, p1, 0, &err), 0);
    ck_assert_int_ne(ice_posdel_add(pd, p1, -1, &err), 0);
    ck_assert_int_eq(ice_posdel_count(pd), 3);
    ck_assert_msg(ice_posdel_write(pd, st, del, &df, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(df.content, ICE_CONTENT_POS_DELETES);
    ck_assert_int_eq(df.record_count, 3);
    ck_assert_ptr_null(df.referenced_data_file);    /* two data files */
    ck_assert_int_eq(df.ncols, 2);
    ck_assert_int_eq(df.cols[0].field_id, ICE_FIELD_ID_DELETE_FILE_PATH);
    ck_assert_int_eq((int) df.cols[0].lower_n, (int) strlen(p1));
    ck_assert_int_eq(memcmp(df.cols[0].lower, p1, strlen(p1)), 0);
    ck_assert_int_eq(memcmp(df.cols[0].upper, p2, strlen(p2)), 0);
    ck_assert_int_eq(df.cols[1].field_id, ICE_FIELD_ID_DELETE_POS);
    ck_assert_int_eq(df.cols[1].lower[0], 0);
    ck_assert_int_eq(df.cols[1].upper[0], 3);
    int64_t size = 0;

    ck_assert_int_eq(ice_store_exists(st, del, &size, &err), 1);
    ck_assert_int_eq(size, df.file_size);

    ice_commit *c = ice_commit_new(cat, st, &tid, &err);

    ck_assert_int_eq(ice_commit_add_file(c, &df, &err), 0);
    ice_posdel_free(pd);   /* the commit holds its own copy */
    ck_assert_int_eq(ice_commit_summary(c, "cdc.position", "0/300", &err), 0);
    ice_meta *m = NULL;

    ck_assert_msg(ice_commit_run(c, 0, &m, &err) == ICE_CAT_OK, "%s", err.msg);
    ice_commit_free(c);
    const ice_snapshot *s = ice_meta_current(m);

    ck_assert_str_eq(ice_snapshot_get(s, "operation"), "delete");
    ck_assert_str_eq(ice_snapshot_get(s, "added-position-deletes"), "3");
    ck_assert_str_eq(ice_snapshot_get(s, "total-position-deletes"), "3");
    ck_assert_str_eq(ice_snapshot_get(s, "total-delete-files"), "1");
    ck_assert_str_eq(ice_snapshot_get(s, "total-records"), "7");
    ice_meta_free(m);
    m = load(NULL);
    live_files(m, files, sizeof(files));
    ck_assert_str_eq(files, "0:a.parquet:1 0:b.parquet:1 1:del-1.parquet:2");
    ice_meta_free(m);

    /* one data file: referenced_data_file; data and deletes together: "overwrite" */
    pd = ice_posdel_new();
    snprintf(del, sizeof(del), "%s/data/del-2.parquet", wh);
    ck_assert_int_eq(ice_posdel_add(pd, p1, 1, &err), 0);
    ck_assert_int_eq(ice_posdel_add(pd, p1, 1, &err), 0);   /* twice: written once */
    ck_assert_int_eq(ice_posdel_write(pd, st, del, &df, &err), 0);
    ck_assert_str_eq(df.referenced_data_file, p1);
    ck_assert_int_eq(df.record_count, 1);
    c = ice_commit_new(cat, st, &tid, &err);
    ck_assert_int_eq(ice_commit_add_file(c, &df, &err), 0);
    add_data(c, "d", 2, 8, 9);
    ck_assert_msg(ice_commit_run(c, 0, &m, &err) == ICE_CAT_OK, "%s", err.msg);
    ck_assert_str_eq(ice_snapshot_get(ice_meta_current(m), "operation"), "overwrite");
    ck_assert_str_eq(ice_snapshot_get(ice_meta_current(m), "total-position-deletes"), "4");
    ice_commit_free(c);
    ice_posdel_free(pd);
    ice_meta_free(m);
    m = load(NULL);
    live_files(m, files, sizeof(files));
    ck_assert_str_eq(files, "0:a.parquet:1 0:b.parquet:1 0:d.parquet:3 1:del-1.parquet:2 "
                            "1:del-2.parquet:3");
    ice_meta_free(m);
}
END_TEST

START_TEST(schema_change)
{
    int32_t last;
    ice_schema *s = schema2(&last);
    ice_type ti = { .kind = ICE_INT };
    cdc_err err;

    table_with_a();
    cdc_err_clear(&err);
    ck_assert_int_eq(ice_schema_add(s, "age", &ti, false, &last, &err), 0);
    ck_assert_int_eq(last, 3);

    ice_commit *c = ice_commit_new(cat, st, &tid, &err);
    ice_meta *m = NULL;

    ck_assert_int_eq(ice_commit_set_schema(c, s, &err), 0);
    add_data(c, "b", 2, 4, 5);
    ck_assert_msg(ice_commit_run(c, 0, &m, &err) == ICE_CAT_OK, "%s", err.msg);
    ice_commit_free(c);
    ice_meta_free(m);

    m = load(NULL);
    ck_assert_int_eq(m->nschemas, 2);
    ck_assert_int_eq(m->current_schema_id, 1);
    ck_assert_int_eq(m->last_column_id, 3);
    ck_assert_int_eq(ice_meta_current(m)->schema_id, 1);
    const ice_schema *cur = ice_meta_schema(m, 1);

    ck_assert_int_eq(cur->nfields, 3);
    ck_assert_str_eq(cur->fields[2].name, "age");
    ck_assert_int_eq(cur->fields[2].id, 3);
    ck_assert_int_eq(ice_meta_schema(m, 0)->nfields, 2);
    ice_meta_free(m);

    /* the same schema again, alone: nothing to commit, the table stays as it is */
    char *loc1 = NULL, *loc2 = NULL;

    ice_meta_free(load(&loc1));
    c = ice_commit_new(cat, st, &tid, &err);
    ck_assert_int_eq(ice_commit_set_schema(c, s, &err), 0);
    ck_assert_msg(ice_commit_run(c, 0, NULL, &err) == ICE_CAT_OK, "%s", err.msg);
    ice_commit_free(c);
    ice_meta_free(load(&loc2));
    ck_assert_str_eq(loc1, loc2);

    /* a column dropped: a third schema without "name" */
    ice_schema *s3 = ice_schema_new(0);
    ice_type tl = { .kind = ICE_LONG };
    int32_t l3 = 0;

    ck_assert_int_eq(ice_schema_add(s3, "id", &tl, true, &l3, &err), 0);
    ck_assert_int_eq(ice_schema_add(s3, "age", &ti, false, &l3, &err), 0);
    s3->fields[1].id = 3;   /* "age" keeps its id, as ice_schema_evolve hands it over */
    c = ice_commit_new(cat, st, &tid, &err);
    ck_assert_int_eq(ice_commit_set_schema(c, s3, &err), 0);
    ck_assert_int_eq(ice_commit_summary(c, "cdc.position", "0/400", &err), 0);
    ck_assert_msg(ice_commit_run(c, 0, &m, &err) == ICE_CAT_OK, "%s", err.msg);
    ck_assert_int_eq(m->current_schema_id, 2);
    ck_assert_int_eq(m->last_column_id, 3);
    ck_assert_int_eq(ice_meta_schema(m, 2)->nfields, 2);
    ck_assert_str_eq(ice_snapshot_get(ice_meta_current(m), "cdc.position"), "0/400");
    ice_commit_free(c);
    ice_meta_free(m);

    /* a schema built before another writer added a column: its new column's id is taken */
    ice_schema *mine = ice_schema_dup(s3), *theirs = ice_schema_dup(s3);
    int32_t lm = 3, lt = 3;
    ice_type ts = { .kind = ICE_STRING };

    ck_assert_int_eq(ice_schema_add(theirs, "x", &ts, false, &lt, &err), 0);
    ck_assert_int_eq(ice_schema_add(mine, "y", &ti, false, &lm, &err), 0);
    ck_assert_int_eq(lm, lt);   /* both took id 4 */
    c = ice_commit_new(cat, st, &tid, &err);
    ck_assert_int_eq(ice_commit_set_schema(c, theirs, &err), 0);
    ck_assert_msg(ice_commit_run(c, 0, NULL, &err) == ICE_CAT_OK, "%s", err.msg);
    ice_commit_free(c);
    c = ice_commit_new(cat, st, &tid, &err);
    ck_assert_int_eq(ice_commit_set_schema(c, mine, &err), 0);
    add_data(c, "y", 1, 1, 1);
    cdc_err_clear(&err);
    ck_assert_int_eq(ice_commit_run(c, 0, NULL, &err), -1);
    ck_assert_int_eq(err.code, CDC_E_STATE);
    ck_assert_msg(strstr(err.msg, "field id 4 is column x (string) in the table and column y (int)")
                  && strstr(err.msg, "db.t"), "%s", err.msg);
    ice_commit_free(c);
    /* a dropped column's id is not taken again either */
    ice_schema *drop = ice_schema_dup(s3), *reuse = ice_schema_dup(s3);
    int32_t l5 = 3;

    c = ice_commit_new(cat, st, &tid, &err);
    ck_assert_int_eq(ice_commit_set_schema(c, drop, &err), 0);   /* x (4) dropped */
    ck_assert_msg(ice_commit_run(c, 0, NULL, &err) == ICE_CAT_OK, "%s", err.msg);
    ice_commit_free(c);
    ck_assert_int_eq(ice_schema_add(reuse, "z", &ti, false, &l5, &err), 0);   /* id 4 again */
    c = ice_commit_new(cat, st, &tid, &err);
    ck_assert_int_eq(ice_commit_set_schema(c, reuse, &err), 0);
    ck_assert_int_eq(ice_commit_run(c, 0, NULL, &err), -1);
    ck_assert_msg(strstr(err.msg, "field id 4 is column x"), "%s", err.msg);
    ice_commit_free(c);
    ice_schema_free(drop);
    ice_schema_free(reuse);
    ice_schema_free(mine);
    ice_schema_free(theirs);
    ice_schema_free(s3);
    ice_schema_free(s);
    free(loc1);
    free(loc2);
}
END_TEST

/* the other writer of the race: a commit of its own, straight through the inner catalog */
static int64_t other_id;

static void
other_writer(void)
{
    cdc_err err;
    ice_commit *o = ice_commit_new(W.inner, st, &tid, &err);
    ice_meta *m = NULL;

    ck_assert_ptr_nonnull(o);
    add_data(o, "theirs", 6, 1, 6);
    ck_assert_int_eq(ice_commit_summary(o, "writer", "other", &err), 0);
    ck_assert_msg(ice_commit_run(o, 0, &m, &err) == ICE_CAT_OK, "%s", err.msg);
    other_id = ice_meta_current(m)->id;
    ice_meta_free(m);
    ice_commit_free(o);
}

START_TEST(conflict_rebuilds)
{
    char files[2000];
    cdc_err err;

    table_with_a();
    ice_meta *m0 = load(NULL);
    int64_t first = ice_meta_current(m0)->id;

    ice_meta_free(m0);

    W.mode = WRAP_RACE;
    W.race = other_writer;
    ice_commit *c = ice_commit_new(cat, st, &tid, &err);
    ice_meta *m = NULL;

    add_data(c, "ours", 2, 7, 8);
    ck_assert_int_eq(ice_commit_summary(c, "cdc.position", "0/500", &err), 0);
    ck_assert_msg(ice_commit_run(c, 3, &m, &err) == ICE_CAT_OK, "%s", err.msg);
    ck_assert_int_eq(W.commits, 2);   /* theirs, then ours rebuilt (the first try lost) */
    const ice_snapshot *s = ice_meta_current(m);

    ck_assert_int_eq(s->parent_id, other_id);
    ck_assert_int_eq(s->sequence_number, 3);
    ck_assert_str_eq(ice_snapshot_get(s, "total-records"), "11");
    ck_assert_str_eq(ice_snapshot_get(s, "cdc.position"), "0/500");
    ck_assert_ptr_null(ice_snapshot_get(s, "writer"));
    ice_commit_free(c);
    ice_meta_free(m);

    m = load(NULL);
    ck_assert_int_eq(m->nsnapshots, 3);
    ck_assert_int_eq(m->snapshots[0].id, first);
    ck_assert_int_eq(m->snapshots[1].id, other_id);
    ck_assert_int_eq(m->nmetalog, 3);
    live_files(m, files, sizeof(files));
    ck_assert_str_eq(files, "0:a.parquet:1 0:ours.parquet:3 0:theirs.parquet:2");
    ice_meta_free(m);
    /* the lost attempt's list and metadata file are gone; our manifest was written once */
    metadata_files(files, sizeof(files));
    ck_assert_str_eq(files, "4 3 3");
}
END_TEST

START_TEST(unknown_outcome_not_twice)
{
    char files[2000];
    cdc_err err;

    table_with_a();

    /* the catalog applied the commit, the answer was lost */
    W.mode = WRAP_LOST_ANSWER;
    ice_commit *c = ice_commit_new(cat, st, &tid, &err);
    ice_meta *m = NULL;

    add_data(c, "b", 2, 4, 5);
    ck_assert_int_eq(ice_commit_summary(c, "cdc.position", "0/600", &err), 0);
    cdc_err_clear(&err);
    ck_assert_int_eq(ice_commit_run(c, 0, &m, &err), -1);
    ck_assert(cdc_rc_retriable(err.code));
    ck_assert_ptr_null(m);
    ck_assert_int_eq(W.commits, 2);
    /* called again: it finds its snapshot and does not commit again */
    ck_assert_msg(ice_commit_run(c, 0, &m, &err) == ICE_CAT_OK, "%s", err.msg);
    ck_assert_int_eq(W.commits, 2);
    ck_assert_ptr_nonnull(m);
    ck_assert_str_eq(ice_snapshot_get(ice_meta_current(m), "cdc.position"), "0/600");
    ice_meta_free(m);
    ice_commit_free(c);

    /* applied, then reported as a conflict: the reload finds our snapshot, not made twice */
    W.mode = WRAP_APPLIED_CONFLICT;
    c = ice_commit_new(cat, st, &tid, &err);
    add_data(c, "b2", 1, 7, 7);
    ck_assert_msg(ice_commit_run(c, 0, &m, &err) == ICE_CAT_OK, "%s", err.msg);
    ck_assert_int_eq(W.commits, 3);
    ck_assert_str_eq(ice_snapshot_get(ice_meta_current(m), "total-records"), "6");
    ice_meta_free(m);
    ice_commit_free(c);

    /* the catalog was down before the commit: the second run commits */
    W.mode = WRAP_FAIL_BEFORE;
    c = ice_commit_new(cat, st, &tid, &err);
    add_data(c, "c", 1, 9, 9);
    ck_assert_int_eq(ice_commit_run(c, 0, NULL, &err), -1);
    ck_assert(cdc_rc_retriable(err.code));
    ck_assert_int_eq(W.commits, 3);
    ck_assert_msg(ice_commit_run(c, 0, NULL, &err) == ICE_CAT_OK, "%s", err.msg);
    ck_assert_int_eq(W.commits, 4);
    ice_commit_free(c);

    m = load(NULL);
    ck_assert_int_eq(m->nsnapshots, 4);
    live_files(m, files, sizeof(files));
    ck_assert_str_eq(files, "0:a.parquet:1 0:b.parquet:2 0:b2.parquet:3 0:c.parquet:4");
    ck_assert_str_eq(ice_snapshot_get(ice_meta_current(m), "total-records"), "7");
    ice_meta_free(m);
}
END_TEST

/* Many rows over several files, added out of order, written twice (more rows after the
   first write): sorted, deduplicated paths, bounds. */
START_TEST(posdel_rewrite)
{
    ice_posdel *pd = ice_posdel_new();
    ice_datafile df;
    cdc_err err;
    char duri[800], p[8][64];

    cdc_err_clear(&err);
    for (int i = 0; i < 8; i++)
        snprintf(p[i], sizeof(p[i]), "file:///d/f%d.parquet", 7 - i);   /* f7 .. f0 */
    for (int i = 0; i < 4000; i++)
        ck_assert_int_eq(ice_posdel_add(pd, p[(i * 5) % 8], (int64_t) ((i * 7919) % 4001), &err), 0);
    snprintf(duri, sizeof(duri), "%s/data/pd1.parquet", wh);
    ck_assert_msg(ice_posdel_write(pd, st, duri, &df, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(df.record_count, 4000);
    ck_assert_ptr_null(df.referenced_data_file);
    ck_assert_int_eq((int) df.cols[0].lower_n, (int) strlen("file:///d/f0.parquet"));
    ck_assert_int_eq(memcmp(df.cols[0].lower, "file:///d/f0.parquet", df.cols[0].lower_n), 0);
    ck_assert_int_eq(memcmp(df.cols[0].upper, "file:///d/f7.parquet", df.cols[0].upper_n), 0);
    ice_posdel_free(pd);

    pd = ice_posdel_new();
    ck_assert_int_eq(ice_posdel_add(pd, p[3], 5, &err), 0);
    ck_assert_int_eq(ice_posdel_add(pd, p[3], 2, &err), 0);
    ck_assert_int_eq(ice_posdel_write(pd, st, duri, &df, &err), 0);
    ck_assert_str_eq(df.referenced_data_file, p[3]);
    ck_assert_int_eq(ice_posdel_add(pd, p[3], 1, &err), 0);   /* the same file after a write */
    ck_assert_int_eq(ice_posdel_write(pd, st, duri, &df, &err), 0);
    ck_assert_int_eq(df.record_count, 3);
    ck_assert_str_eq(df.referenced_data_file, p[3]);
    ck_assert_int_eq(df.cols[1].lower[0], 1);
    ck_assert_int_eq(df.cols[1].upper[0], 5);
    ck_assert_int_eq(ice_posdel_add(pd, p[0], 9, &err), 0);
    ck_assert_int_eq(ice_posdel_write(pd, st, duri, &df, &err), 0);
    ck_assert_ptr_null(df.referenced_data_file);
    ck_assert_int_eq(df.record_count, 4);
    ck_assert_int_eq(memcmp(df.cols[0].lower, p[3], strlen(p[3])), 0);   /* f4 < f7 */
    ice_posdel_free(pd);
}
END_TEST

/* A table partitioned by identity(name) and bucket(4, id): partition tuples copied by
   add_file, written to the manifest, read back; changed-partition-count. */
START_TEST(partitioned)
{
    int32_t last, lastp = 999;
    ice_schema *s = schema2(&last);
    const char *pb[] = { "name", "bucket(4, id)" };
    cdc_err err;

    cdc_err_clear(&err);
    ice_spec *sp = ice_spec_from_partition_by(pb, 2, s, "db.t", 0, &lastp, &err);

    ck_assert_msg(sp != NULL, "%s", err.msg);
    ck_assert_int_eq(ice_commit_create_table(cat, st, &tid, wh, s, sp, NULL, 0, NULL, &err),
                     ICE_CAT_OK);
    ice_commit *c = ice_commit_new(cat, st, &tid, &err);
    const char *names[3] = { "x", "y", "x" };
    const int32_t buckets[3] = { 1, 2, 1 };

    for (int i = 0; i < 3; i++) {
        char path[800], name[8];
        ice_value pv[2];

        memset(pv, 0, sizeof(pv));
        snprintf(name, sizeof(name), "%s", names[i]);   /* freed below: add_file copies */
        pv[0].p = (const uint8_t *) name;
        pv[0].n = strlen(name);
        pv[1].i = buckets[i];
        snprintf(path, sizeof(path), "%s/data/p%d.parquet", wh, i);
        ice_datafile f = { .content = ICE_CONTENT_DATA, .path = path, .partition = pv,
                           .record_count = 1, .file_size = 10 };

        ck_assert_msg(ice_commit_add_file(c, &f, &err) == 0, "%s", err.msg);
        memset(name, 0, sizeof(name));
    }
    ice_meta *m = NULL;

    ck_assert_msg(ice_commit_run(c, 0, &m, &err) == ICE_CAT_OK, "%s", err.msg);
    ck_assert_str_eq(ice_snapshot_get(ice_meta_current(m), "changed-partition-count"), "2");
    ice_commit_free(c);

    /* read back with the spec's types */
    const ice_snapshot *cur = ice_meta_current(m);
    cdc_buf lb = CDC_BUF_INIT, mb = CDC_BUF_INIT;
    ice_manifest_file *mfs = NULL;
    int nmf = 0, nes = 0;
    ice_read_entry *es = NULL;
    ice_type pt[2];

    ck_assert_int_eq(ice_spec_types(ice_meta_spec(m, 0), ice_meta_schema(m, 0), pt, &err), 0);
    ck_assert_int_eq(ice_store_get(st, cur->manifest_list, 0, -1, &lb, 0, &err), 0);
    ck_assert_int_eq(ice_manifest_list_read(lb.data, lb.len, "list", &mfs, &nmf, &err), 0);
    ck_assert_int_eq(nmf, 1);
    ck_assert_int_eq(mfs[0].nparts, 2);
    ck_assert_int_eq(ice_store_get(st, mfs[0].path, 0, -1, &mb, 0, &err), 0);
    ck_assert_msg(ice_manifest_read(mb.data, mb.len, "m", &mfs[0], pt, 2, &es, &nes, &err) == 0,
                  "%s", err.msg);
    ck_assert_int_eq(nes, 3);
    for (int i = 0; i < 3; i++) {
        int k = es[i].path[strlen(es[i].path) - 9] - '0';   /* "p<k>.parquet" */

        ck_assert_int_eq(es[i].npart, 2);
        ck_assert_int_eq((int) es[i].partition[0].n, 1);
        ck_assert_int_eq(es[i].partition[0].p[0], names[k][0]);
        ck_assert_int_eq(es[i].partition[1].i, buckets[k]);
    }
    ice_read_entries_free(es, nes);
    ice_manifest_files_free(mfs, nmf);
    cdc_buf_free(&lb);
    cdc_buf_free(&mb);
    ice_meta_free(m);

    /* a file without a partition tuple on a partitioned table: refused, naming it */
    c = ice_commit_new(cat, st, &tid, &err);
    add_data(c, "nopart", 1, 1, 1);
    ck_assert_int_eq(ice_commit_run(c, 0, NULL, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "nopart.parquet"));
    ck_assert_ptr_nonnull(strstr(err.msg, "partitioned"));
    ice_commit_free(c);
    ice_spec_free(sp);
    ice_schema_free(s);
}
END_TEST

/* The delete manifest's write fails after the data manifest's went through: the run fails;
   run again, every file is in the table once (the first data manifest is not kept twice). */
START_TEST(manifest_write_fails_halfway)
{
    char files[2000], p1[800], del[800];
    cdc_err err;
    ice_datafile df;

    table_with_a();
    snprintf(p1, sizeof(p1), "%s/data/a.parquet", wh);
    snprintf(del, sizeof(del), "%s/data/del.parquet", wh);
    ice_posdel *pd = ice_posdel_new();

    cdc_err_clear(&err);
    ck_assert_int_eq(ice_posdel_add(pd, p1, 1, &err), 0);
    ck_assert_int_eq(ice_posdel_write(pd, st, del, &df, &err), 0);
    ice_commit *c = ice_commit_new(cat, st, &tid, &err);

    add_data(c, "b", 2, 4, 5);
    ck_assert_int_eq(ice_commit_add_file(c, &df, &err), 0);
    fail_rename_on = "-m1.avro";
    ck_assert_int_eq(ice_commit_run(c, 0, NULL, &err), -1);
    fail_rename_on = NULL;
    ck_assert_msg(strstr(err.msg, "-m1.avro") && strstr(err.msg, "db.t"), "%s", err.msg);
    ck_assert_int_eq(W.commits, 1);
    ck_assert_msg(ice_commit_run(c, 0, NULL, &err) == ICE_CAT_OK, "%s", err.msg);
    ice_commit_free(c);
    ice_posdel_free(pd);
    ice_meta *m = load(NULL);

    live_files(m, files, sizeof(files));
    ck_assert_str_eq(files, "0:a.parquet:1 0:b.parquet:2 1:del.parquet:2");
    ck_assert_str_eq(ice_snapshot_get(ice_meta_current(m), "total-records"), "5");
    ice_meta_free(m);

    /* the metadata file's write fails: nothing committed, the next run commits once */
    c = ice_commit_new(cat, st, &tid, &err);
    add_data(c, "c", 1, 9, 9);
    fail_rename_on = ".metadata.json";
    ck_assert_int_eq(ice_commit_run(c, 0, NULL, &err), -1);
    fail_rename_on = NULL;
    ck_assert_int_eq(W.commits, 2);
    ck_assert_msg(ice_commit_run(c, 0, NULL, &err) == ICE_CAT_OK, "%s", err.msg);
    ck_assert_int_eq(W.commits, 3);
    ice_commit_free(c);
    m = load(NULL);
    live_files(m, files, sizeof(files));
    ck_assert_str_eq(files, "0:a.parquet:1 0:b.parquet:2 0:c.parquet:3 1:del.parquet:2");
    ice_meta_free(m);
}
END_TEST

/* Manifests merged as Java's MergeAppend does (min-count-to-merge 3 here): entries of earlier
   snapshots kept as EXISTING with their sequence numbers and metrics, ours ADDED. */
START_TEST(manifests_merged)
{
    int32_t last;
    ice_schema *s = schema2(&last);
    ice_spec *sp = ice_spec_new(0);
    ice_kv props[1] = { { "commit.manifest.min-count-to-merge", "3" } };
    char files[2000], name[8];
    cdc_err err;
    int nlist[5];

    cdc_err_clear(&err);
    ck_assert_int_eq(ice_commit_create_table(cat, st, &tid, wh, s, sp, props, 1, NULL, &err),
                     ICE_CAT_OK);
    for (int i = 0; i < 5; i++) {
        const char *nm[1] = { name };
        const int64_t rows[1] = { i + 1 };

        snprintf(name, sizeof(name), "%c", 'a' + i);
        ice_meta *m = commit_files(nm, rows, 1, "0/1");
        cdc_buf lb = CDC_BUF_INIT;
        ice_manifest_file *mfs = NULL;

        ck_assert_int_eq(ice_store_get(st, ice_meta_current(m)->manifest_list, 0, -1, &lb, 0, &err), 0);
        ck_assert_int_eq(ice_manifest_list_read(lb.data, lb.len, "l", &mfs, &nlist[i], &err), 0);
        if (i == 4) {
            ck_assert_int_eq(mfs[0].sequence_number, 5);
            ck_assert_int_eq(mfs[0].min_sequence_number, 1);
            ck_assert_int_eq(mfs[0].added_files, 1);
            ck_assert_int_eq(mfs[0].existing_files, 4);
            ck_assert_int_eq(mfs[0].existing_rows, 1 + 2 + 3 + 4);
            /* metrics kept: file a's bounds on id are 1 .. 1 */
            cdc_buf mb = CDC_BUF_INIT;
            ice_read_entry *es = NULL;
            int nes = 0;

            ck_assert_int_eq(ice_store_get(st, mfs[0].path, 0, -1, &mb, 0, &err), 0);
            ck_assert_int_eq(ice_manifest_read(mb.data, mb.len, "m", &mfs[0], NULL, 0, &es, &nes,
                                               &err), 0);
            ck_assert_int_eq(nes, 5);
            for (int k = 0; k < nes; k++) {
                ck_assert_int_eq(es[k].ncols, 1);
                ck_assert_int_eq(es[k].cols[0].field_id, 1);
                ck_assert_int_eq(es[k].cols[0].values, es[k].record_count);
                ck_assert_int_eq((int) es[k].cols[0].lower_n, 8);
                ck_assert_int_eq(es[k].cols[0].lower[0], 1);
                ck_assert_int_eq(es[k].cols[0].upper[0], (int) es[k].record_count);
                ck_assert_int_eq(es[k].status, es[k].sequence_number == 5 ? ICE_STATUS_ADDED
                                                                           : ICE_STATUS_EXISTING);
                ck_assert_int_eq(es[k].sort_order_id, 0);
            }
            ice_read_entries_free(es, nes);
            cdc_buf_free(&mb);
        }
        ice_manifest_files_free(mfs, nlist[i]);
        cdc_buf_free(&lb);
        ice_meta_free(m);
    }
    /* 1, 2 (below the count), 3 -> merged, 2, 3 -> merged */
    ck_assert_int_eq(nlist[0], 1);
    ck_assert_int_eq(nlist[1], 2);
    ck_assert_int_eq(nlist[2], 1);
    ck_assert_int_eq(nlist[3], 2);
    ck_assert_int_eq(nlist[4], 1);
    ice_meta *m = load(NULL);

    live_files(m, files, sizeof(files));
    ck_assert_str_eq(files, "0:a.parquet:1 0:b.parquet:2 0:c.parquet:3 0:d.parquet:4 0:e.parquet:5");
    /* 6 metadata files, 5 lists; manifests: a, b, merged(c,b,a), d, merged(e,d,...): c's and
       e's own, merged at once, were removed */
    metadata_files(files, sizeof(files));
    ck_assert_str_eq(files, "6 5 5");
    ck_assert_str_eq(ice_snapshot_get(ice_meta_current(m), "total-records"), "15");
    ice_meta_free(m);
    ice_schema_free(s);
    ice_spec_free(sp);
}
END_TEST

/* What a commit sends to a REST catalog: requirements and updates. */
START_TEST(rest_requirements_and_updates)
{
    cdc_err err;
    json_error_t je;

    table_with_a();
    ice_meta *base = load(NULL);
    int64_t parent = ice_meta_current(base)->id;
    wrap rest = W;

    rest.head.ops = &rest_ops;
    ice_commit *c = ice_commit_new(&rest.head, st, &tid, &err);
    int32_t last;
    ice_schema *s = schema2(&last);
    ice_type ti = { .kind = ICE_INT };

    last = 2;
    ck_assert_int_eq(ice_schema_add(s, "age", &ti, false, &last, &err), 0);
    ck_assert_int_eq(ice_commit_set_schema(c, s, &err), 0);
    add_data(c, "b", 2, 4, 5);
    ck_assert_int_eq(ice_commit_summary(c, "cdc.position", "0/200", &err), 0);
    cdc_err_clear(&err);
    ck_assert_msg(ice_commit_run(c, 0, NULL, &err) == ICE_CAT_OK, "%s", err.msg);
    int64_t sid = 0;
    json_t *req = json_loads(rest_req, 0, &je), *upd = json_loads(rest_upd, 0, &je), *x;

    ck_assert_ptr_nonnull(req);
    ck_assert_ptr_nonnull(upd);
    ck_assert_int_eq(json_array_size(req), 3);
    x = json_array_get(req, 0);
    ck_assert_str_eq(json_string_value(json_object_get(x, "type")), "assert-table-uuid");
    ck_assert_str_eq(json_string_value(json_object_get(x, "uuid")), base->uuid);
    x = json_array_get(req, 1);
    ck_assert_str_eq(json_string_value(json_object_get(x, "type")), "assert-ref-snapshot-id");
    ck_assert_str_eq(json_string_value(json_object_get(x, "ref")), "main");
    ck_assert_int_eq(json_integer_value(json_object_get(x, "snapshot-id")), parent);
    x = json_array_get(req, 2);
    ck_assert_str_eq(json_string_value(json_object_get(x, "type")), "assert-current-schema-id");
    ck_assert_int_eq(json_integer_value(json_object_get(x, "current-schema-id")), 0);

    ck_assert_int_eq(json_array_size(upd), 4);
    x = json_array_get(upd, 0);
    ck_assert_str_eq(json_string_value(json_object_get(x, "action")), "add-schema");
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(x, "schema"), "schema-id")), 1);
    ck_assert_int_eq(json_array_size(json_object_get(json_object_get(x, "schema"), "fields")), 3);
    x = json_array_get(upd, 1);
    ck_assert_str_eq(json_string_value(json_object_get(x, "action")), "set-current-schema");
    ck_assert_int_eq(json_integer_value(json_object_get(x, "schema-id")), -1);
    x = json_array_get(upd, 2);
    ck_assert_str_eq(json_string_value(json_object_get(x, "action")), "add-snapshot");
    json_t *snap = json_object_get(x, "snapshot");

    sid = json_integer_value(json_object_get(snap, "snapshot-id"));
    ck_assert_int_eq(json_integer_value(json_object_get(snap, "parent-snapshot-id")), parent);
    ck_assert_int_eq(json_integer_value(json_object_get(snap, "sequence-number")), 2);
    ck_assert_int_eq(json_integer_value(json_object_get(snap, "schema-id")), 1);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(snap, "summary"), "operation")), "append");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(snap, "summary"), "cdc.position")), "0/200");
    ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(snap, "manifest-list")), "/metadata/snap-"));
    x = json_array_get(upd, 3);
    ck_assert_str_eq(json_string_value(json_object_get(x, "action")), "set-snapshot-ref");
    ck_assert_str_eq(json_string_value(json_object_get(x, "ref-name")), "main");
    ck_assert_int_eq(json_integer_value(json_object_get(x, "snapshot-id")), sid);
    json_decref(req);
    json_decref(upd);
    ice_commit_free(c);
    ice_schema_free(s);
    ice_meta_free(base);
    free(rest_req);
    free(rest_upd);
    rest_req = rest_upd = NULL;
}
END_TEST

START_TEST(bad_arguments)
{
    cdc_err err;
    ice_datafile f = { .content = ICE_CONTENT_EQ_DELETES, .path = "file:///x" };

    create_table();
    cdc_err_clear(&err);
    ck_assert_ptr_null(ice_commit_new(NULL, st, &tid, &err));
    ice_commit *c = ice_commit_new(cat, st, &tid, &err);

    ck_assert_int_ne(ice_commit_add_file(c, &f, &err), 0);
    ck_assert_ptr_nonnull(strstr(err.msg, "db.t"));
    ice_commit_free(c);
    ice_commit_free(NULL);
    ice_posdel_free(NULL);
    ice_posdel *pd = ice_posdel_new();
    ice_datafile out;

    ck_assert_int_ne(ice_posdel_write(pd, st, "file:///nowhere/x.parquet", &out, &err), 0);
    ice_posdel_free(pd);

    /* a table dropped meanwhile */
    ice_cat_ident gone = { "db", "gone" };

    c = ice_commit_new(cat, st, &gone, &err);
    add_data(c, "x", 1, 1, 1);
    ck_assert_int_eq(ice_commit_run(c, 0, NULL, &err), ICE_CAT_NOT_FOUND);
    ice_commit_free(c);
}
END_TEST

/* A commit of data file `name` by pipeline `pipeline` at position pos; returns ice_commit_run's
   result (err filled). */
static int
commit_by(const char *name, const char *pipeline, const char *pos, cdc_err *err)
{
    ice_commit *c;
    int         rc;

    cdc_err_clear(err);
    ck_assert_ptr_nonnull(c = ice_commit_new(cat, st, &tid, err));
    add_data(c, name, 2, 1, 2);
    ck_assert_int_eq(ice_commit_summary(c, "cdc.position", pos, err), 0);
    ck_assert_int_eq(ice_commit_summary(c, "cdc.pipeline", pipeline, err), 0);
    rc = ice_commit_run(c, 0, NULL, err);
    ice_commit_free(c);
    return rc;
}

START_TEST(set_main_rollback)
{
    cdc_err err;
    char files[2000], *loc = NULL;
    json_error_t je;

    create_table();
    ck_assert_msg(commit_by("a", "p", "0/100:0", &err) == ICE_CAT_OK, "%s", err.msg);
    ice_meta *m = load(NULL);
    int64_t id1 = m->current_snapshot_id;

    ice_meta_free(m);
    ck_assert_msg(commit_by("b", "p", "0/200:0", &err) == ICE_CAT_OK, "%s", err.msg);
    m = load(NULL);
    int64_t id2 = m->current_snapshot_id;
    int nsnaplog = m->nsnaplog, nmetalog = m->nmetalog;

    ice_meta_free(m);

    /* the table moved since the caller looked: nothing changes */
    cdc_err_clear(&err);
    ck_assert_int_eq(ice_commit_set_main(cat, st, &tid, id1, id1, NULL, &err), ICE_CAT_CONFLICT);
    ck_assert_ptr_nonnull(strstr(err.msg, "someone committed meanwhile"));
    /* an unknown snapshot */
    cdc_err_clear(&err);
    ck_assert_int_eq(ice_commit_set_main(cat, st, &tid, 42, id2, NULL, &err), -1);
    ck_assert_int_eq(err.code, CDC_E_INVAL);
    m = load(NULL);
    ck_assert(m->current_snapshot_id == id2);
    ice_meta_free(m);

    /* rollback to id1: current, refs.main, snapshot-log, metadata-log; both snapshots kept */
    ice_meta *after = NULL;

    cdc_err_clear(&err);
    ck_assert_msg(ice_commit_set_main(cat, st, &tid, id1, id2, &after, &err) == ICE_CAT_OK, "%s",
                  err.msg);
    ck_assert(after->current_snapshot_id == id1);
    ice_meta_free(after);
    m = load(&loc);
    ck_assert(m->current_snapshot_id == id1);
    ck_assert_int_eq(m->nsnapshots, 2);
    ck_assert_int_eq(m->nsnaplog, nsnaplog + 1);
    ck_assert(m->snaplog[m->nsnaplog - 1].snapshot_id == id1);
    ck_assert_int_eq(m->nmetalog, nmetalog + 1);
    ck_assert_ptr_nonnull(strstr(loc, "/metadata/00003-"));
    live_files(m, files, sizeof(files));
    ck_assert_str_eq(files, "0:a.parquet:1");
    ice_meta_free(m);
    free(loc);
    loc = NULL;

    /* the same pipeline's next commit is refused (its snapshot id2 is off main)... */
    ck_assert_int_eq(commit_by("c", "p", "0/300:0", &err), -1);
    ck_assert_int_eq(err.code, CDC_E_STATE);
    ck_assert_ptr_nonnull(strstr(err.msg, "rolled back under the sink"));
    m = load(NULL);
    ck_assert(m->current_snapshot_id == id1);
    ice_meta_free(m);

    /* ...after rolling forward it goes in */
    cdc_err_clear(&err);
    ck_assert_int_eq(ice_commit_set_main(cat, st, &tid, id2, id1, NULL, &err), ICE_CAT_OK);
    ck_assert_msg(commit_by("c", "p", "0/300:0", &err) == ICE_CAT_OK, "%s", err.msg);
    m = load(NULL);
    live_files(m, files, sizeof(files));
    ck_assert_str_eq(files, "0:a.parquet:1 0:b.parquet:2 0:c.parquet:3");
    int64_t id3 = m->current_snapshot_id;

    ice_meta_free(m);

    /* REST: set-snapshot-ref main under assert-table-uuid and assert-ref-snapshot-id */
    wrap rest = W;

    rest.head.ops = &rest_ops;
    cdc_err_clear(&err);
    ck_assert_int_eq(ice_commit_set_main(&rest.head, st, &tid, id1, id3, NULL, &err), ICE_CAT_OK);
    json_t *req = json_loads(rest_req, 0, &je), *upd = json_loads(rest_upd, 0, &je), *x;

    ck_assert_int_eq(json_array_size(req), 2);
    x = json_array_get(req, 1);
    ck_assert_str_eq(json_string_value(json_object_get(x, "type")), "assert-ref-snapshot-id");
    ck_assert_str_eq(json_string_value(json_object_get(x, "ref")), "main");
    ck_assert(json_integer_value(json_object_get(x, "snapshot-id")) == id3);
    ck_assert_int_eq(json_array_size(upd), 1);
    x = json_array_get(upd, 0);
    ck_assert_str_eq(json_string_value(json_object_get(x, "action")), "set-snapshot-ref");
    ck_assert_str_eq(json_string_value(json_object_get(x, "ref-name")), "main");
    ck_assert(json_integer_value(json_object_get(x, "snapshot-id")) == id1);
    json_decref(req);
    json_decref(upd);
}
END_TEST

static Suite *
ice_commit_suite(void)
{
    Suite *s = suite_create("ice_commit");
    TCase *tc = tcase_create("sqlite");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, create_and_load);
    tcase_add_test(tc, two_appends);
    tcase_add_test(tc, position_deletes);
    tcase_add_test(tc, schema_change);
    tcase_add_test(tc, conflict_rebuilds);
    tcase_add_test(tc, unknown_outcome_not_twice);
    tcase_add_test(tc, posdel_rewrite);
    tcase_add_test(tc, partitioned);
    tcase_add_test(tc, manifest_write_fails_halfway);
    tcase_add_test(tc, manifests_merged);
    tcase_add_test(tc, rest_requirements_and_updates);
    tcase_add_test(tc, bad_arguments);
    tcase_add_test(tc, set_main_rollback);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(ice_commit_suite());
    int nfailed;

    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_ENV);
    nfailed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return nfailed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/*
 * Unit tests for sinks/iceberg/ice_expire.c: which snapshots are kept (the current one, its
 * ancestors down to this pipeline's newest cdc.position, ref targets, young ones, after a
 * rollback this pipeline's snapshots ahead of the branch), which
 * files are unreferenced, and a whole expiry on a SQLite SQL catalog and a file://
 * warehouse: a table rolled back to its first snapshot, with a tag on the second, loses the
 * third (another pipeline's) snapshot, its manifest list and its data file, keeps every file the others reach,
 * keeps the tag, logs the previous metadata file, and the orphan pass removes an
 * unreferenced file old enough; metadata files before the metadata-log go whatever their
 * age, a fresh orphan stays under the default safety age; a concurrent commit makes the
 * expiry rebuild on top of it and drop its lost metadata file.  A REST catalog gets a
 * remove-snapshots update, and nothing is deleted while the table still names the snapshot.
 * pyiceberg reads tables after expiry in test/integration/700 and 701.
 */
#include <check.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/core/cdc_buf.h"
#include "agent/core/cdc_clock.h"
#include "sinks/iceberg/catalog/ice_catalog.h"
#include "sinks/iceberg/catalog/ice_sql.h"
#include "sinks/iceberg/ice_commit.h"
#include "sinks/iceberg/ice_expire.h"
#include "sinks/iceberg/ice_meta.h"
#include "sinks/iceberg/store/store.h"

/* ---- selection on metadata built in memory ---- */

static ice_meta *
chain_meta(int n, const int64_t *ts, const char *const *pipeline)
{
    ice_schema *s = ice_schema_new(0);
    ice_type    tl = { .kind = ICE_LONG };
    int32_t     last = 0;
    cdc_err     err;
    ice_spec   *sp = ice_spec_new(0);

    ck_assert_int_eq(ice_schema_add(s, "id", &tl, true, &last, &err), 0);
    ice_meta *m = ice_meta_new("file:///w/t", s, sp, last, 999, NULL, 1000);

    for (int i = 0; i < n; i++) {
        ice_snapshot snap = { .id = 100 + i, .parent_id = i ? 100 + i - 1 : -1,
                              .sequence_number = i + 1, .timestamp_ms = ts[i],
                              .manifest_list = (char *) "file:///w/t/metadata/snap.avro",
                              .schema_id = 0 };
        char   pos[32];

        snprintf(pos, sizeof(pos), "0/%X:0", (unsigned) (i + 1) * 16);
        ice_kv extra[3] = { { (char *) "cdc.position", pos },
                            { (char *) "cdc.pipeline", (char *) (pipeline[i] ? pipeline[i] : "") },
                            { (char *) "cdc.sink", (char *) "lake" } };

        ice_snapshot_summarize(&snap, "append", NULL, &(ice_summary_delta) { 0 }, extra,
                               pipeline[i] ? 3 : 0);
        ck_assert_msg(ice_meta_add_snapshot(m, &snap, &err) == 0, "%s", err.msg);
        snap.manifest_list = NULL;
        ice_snapshot_clear(&snap);
    }
    ice_schema_free(s);
    ice_spec_free(sp);
    return m;
}

static bool
has(const int64_t *ids, int n, int64_t id)
{
    for (int i = 0; i < n; i++)
        if (ids[i] == id)
            return true;
    return false;
}

START_TEST(select_keeps)
{
    /* 100..106: our position at 102, 103..106 carry none (maintenance commits); 106 current */
    const int64_t ts[] = { 10, 20, 30, 40, 50, 60, 5000 };
    const char   *pl[] = { "p", "p", "p", NULL, NULL, NULL, NULL };
    ice_meta     *m = chain_meta(7, ts, pl);
    int64_t      *out = NULL;
    int64_t       tag = 100;
    ice_expire_conf c = { .now_ms = 6000, .older_than_ms = 2000, .pipeline_id = "p" };
    int           n = ice_expire_select(m, &tag, 1, &c, &out);

    /* 106 is young and current; 105..102 are the walk to our position; 100 is tagged: 101
       alone goes */
    ck_assert_int_eq(n, 1);
    ck_assert(has(out, n, 101));
    free(out);

    /* another pipeline's id: the walk finds nothing of ours and keeps the whole chain */
    c.pipeline_id = "other";
    n = ice_expire_select(m, NULL, 0, &c, &out);
    ck_assert_int_eq(n, 0);
    free(out);

    /* no pipeline: the current one alone is kept, the young age keeps nothing else */
    c.pipeline_id = NULL;
    n = ice_expire_select(m, NULL, 0, &c, &out);
    ck_assert_int_eq(n, 6);
    ck_assert(!has(out, n, 106));
    free(out);

    /* nothing is old enough */
    c.older_than_ms = 100000;
    n = ice_expire_select(m, NULL, 0, &c, &out);
    ck_assert_int_eq(n, 0);
    ck_assert_ptr_null(out);
    ice_meta_free(m);
}
END_TEST

START_TEST(select_keeps_after_rollback)
{
    /* 100..104 all ours, positions rising; main rolled back to 101 */
    const int64_t ts[] = { 10, 20, 30, 40, 50 };
    const char   *pl[] = { "p", "p", "p", "p", "p" };
    ice_meta     *m = chain_meta(5, ts, pl);
    int64_t      *out = NULL;
    ice_expire_conf c = { .now_ms = 6000, .older_than_ms = 2000, .pipeline_id = "p" };

    m->current_snapshot_id = 101;
    int n = ice_expire_select(m, NULL, 0, &c, &out);

    /* 101 current (its position found at once); 102..104 are ahead of it: the evidence the
       sink refuses to resume on; 100 alone goes */
    ck_assert_int_eq(n, 1);
    ck_assert(has(out, n, 100));
    free(out);
    /* rolled back before any snapshot of ours (the branch at a foreign snapshot): all of
       ours stay */
    c.pipeline_id = "p";
    ice_snapshot_clear(&m->snapshots[0]);
    m->snapshots[0].manifest_list = strdup("file:///w/t/metadata/snap.avro");
    m->current_snapshot_id = 100;
    n = ice_expire_select(m, NULL, 0, &c, &out);
    ck_assert_int_eq(n, 0);
    free(out);
    ice_meta_free(m);
}
END_TEST

START_TEST(unreferenced)
{
    const char *gone[] = { "file:///w/t/data/a.parquet", "file:/w/t/data/b.parquet",
                           "file:///w/t/metadata/snap-1.avro", "file:///w/t/data/b.parquet",
                           "s3a://bkt/t/x.parquet" };
    const char *kept[] = { "file:/w/t/data/a.parquet", "s3://bkt/t/x.parquet" };
    const char **out = NULL;
    int n = ice_expire_unreferenced(gone, 5, kept, 2, &out);

    /* a.parquet is kept under another spelling, b.parquet counted once, x under s3a */
    ck_assert_msg(n == 2, "%d: %s %s %s", n, out[0], out[1], n > 2 ? out[2] : "");
    ck_assert_str_eq(out[0], "file:/w/t/data/b.parquet");
    ck_assert_str_eq(out[1], "file:///w/t/metadata/snap-1.avro");
    free(out);
}
END_TEST

/* ---- a whole expiry on SQLite and file:// ---- */

static char dir[512], uri[600], wh[600];
static ice_cat *cat;
static ice_store *st;
static const ice_cat_ident tid = { "db", "t" };

static void
setup(void)
{
    static int n;
    const char *tmp = getenv("TMPDIR");
    cdc_err err;

    snprintf(dir, sizeof(dir), "%s/test_ice_expire.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(uri, sizeof(uri), "sqlite:///%s/cat%d.db", dir, ++n);
    snprintf(wh, sizeof(wh), "file://%s/wh/db/t", dir);
    cdc_err_clear(&err);
    ice_sql_conf conf = { .uri = uri };

    ck_assert_msg(ice_sql_open(&conf, &cat, &err) == 0, "%s", err.msg);
    ice_store_conf sc = { .no_fsync = true };
    ck_assert_ptr_nonnull(st = ice_store_new(&sc, &err));
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

static void
create_table(void)
{
    ice_schema *s = ice_schema_new(0);
    ice_type    tl = { .kind = ICE_LONG };
    int32_t     last = 0;
    ice_spec   *sp = ice_spec_new(0);
    cdc_err     err;

    ck_assert_int_eq(ice_schema_add(s, "id", &tl, true, &last, &err), 0);
    cdc_err_clear(&err);
    ck_assert_msg(ice_commit_create_table(cat, st, &tid, wh, s, sp, NULL, 0, NULL, &err) ==
                  ICE_CAT_OK, "%s", err.msg);
    ice_schema_free(s);
    ice_spec_free(sp);
}

static const char *commit_pipeline = "p";

/* Commits data file <name>.parquet (a few bytes really put, so that deletes show) with our
   pipeline's position; returns the snapshot id. */
static int64_t
commit_one(const char *name, const char *pos)
{
    char        path[800];
    cdc_err     err;
    ice_commit *c;
    ice_meta   *m = NULL;

    snprintf(path, sizeof(path), "%s/data/%s.parquet", wh, name);
    cdc_err_clear(&err);
    ck_assert_int_eq(ice_store_put(st, path, "PAR1", 4, &err), 0);
    ice_datafile f = { .content = ICE_CONTENT_DATA, .path = path, .record_count = 1,
                       .file_size = 4, .sort_order_id = -1 };

    ck_assert_ptr_nonnull(c = ice_commit_new(cat, st, &tid, &err));
    ck_assert_int_eq(ice_commit_add_file(c, &f, &err), 0);
    ck_assert_int_eq(ice_commit_summary(c, "cdc.position", pos, &err), 0);
    ck_assert_int_eq(ice_commit_summary(c, "cdc.pipeline", commit_pipeline, &err), 0);
    ck_assert_msg(ice_commit_run(c, 0, &m, &err) == ICE_CAT_OK, "%s", err.msg);
    ice_commit_free(c);
    int64_t id = m->current_snapshot_id;

    ice_meta_free(m);
    return id;
}

static bool
exists(const char *u)
{
    cdc_err err;
    int     rc = ice_store_exists(st, u, NULL, &err);

    ck_assert_int_ge(rc, 0);
    return rc == 1;
}

static ice_meta *
load(char **loc)
{
    ice_meta *m = NULL;
    cdc_err   err;

    cdc_err_clear(&err);
    ck_assert_msg(ice_commit_load(cat, st, &tid, &m, loc, &err) == ICE_CAT_OK, "%s", err.msg);
    return m;
}

/* What a `lakehouse rollback` does: main back to snapshot `to`, and a tag on `tagged`. */
static void
rollback_and_tag(int64_t to, int64_t tagged)
{
    char     *loc = NULL, *text, nl[900];
    ice_meta *m = load(&loc);
    cdc_err   err;
    json_t   *j;

    m->current_snapshot_id = to;
    ice_meta_log_previous(m, loc, m->last_updated_ms);
    ck_assert_ptr_nonnull(text = ice_meta_to_json(m, &err));
    ck_assert_ptr_nonnull(j = json_loads(text, 0, NULL));
    free(text);
    json_object_set_new(json_object_get(j, "refs"), "keep",
                        json_pack("{s:I, s:s}", "snapshot-id", (json_int_t) tagged, "type", "tag"));
    text = json_dumps(j, JSON_INDENT(2));
    json_decref(j);
    snprintf(nl, sizeof(nl), "%s/metadata/00099-rollback.metadata.json", wh);
    ck_assert_int_eq(ice_store_put(st, nl, text, strlen(text), &err), 0);
    ice_cat_change cm = { .base_location = loc, .new_location = nl, .new_metadata_json = text };

    cdc_err_clear(&err);
    ck_assert_msg(ice_cat_commit(cat, &tid, &cm, NULL, &err) == ICE_CAT_OK, "%s", err.msg);
    free(text);
    free(loc);
    ice_meta_free(m);
}

START_TEST(sql_expiry_and_files)
{
    int64_t a, b, c3;
    char    pa[800], pb[800], pc[800], orphan[800], young[800];
    cdc_err err;

    create_table();
    a = commit_one("a", "0/10:0");
    b = commit_one("b", "0/20:0");
    commit_pipeline = "q";      /* another pipeline's: not evidence of a rollback of ours */
    c3 = commit_one("c", "0/30:0");
    commit_pipeline = "p";
    ice_meta *m = load(NULL);
    char     *list_b = strdup(m->snapshots[1].manifest_list);
    char     *list_c = strdup(m->snapshots[2].manifest_list);

    ck_assert_int_eq(m->snapshots[2].id, c3);
    ice_meta_free(m);
    rollback_and_tag(a, b);
    snprintf(pa, sizeof(pa), "%s/data/a.parquet", wh);
    snprintf(pb, sizeof(pb), "%s/data/b.parquet", wh);
    snprintf(pc, sizeof(pc), "%s/data/c.parquet", wh);
    snprintf(orphan, sizeof(orphan), "%s/data/orphan.parquet", wh);
    snprintf(young, sizeof(young), "%s/data/young.txt", wh);
    ck_assert_int_eq(ice_store_put(st, orphan, "x", 1, &err), 0);
    ck_assert_int_eq(ice_store_put(st, young, "x", 1, &err), 0);

    /* everything is old; the orphan pass takes files older than 0 ms */
    ice_expire_conf   ec = { .now_ms = cdc_wall_ms() + 1000, .older_than_ms = 0,
                             .orphan_age_ms = 0, .pipeline_id = "p" };
    ice_expire_result r;
    ice_meta         *after = NULL;

    cdc_err_clear(&err);
    ck_assert_msg(ice_expire_table(cat, st, &tid, &ec, &r, &after, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(r.snapshots_expired, 1);
    ck_assert_int_eq(r.snapshots_kept, 2);
    ck_assert_ptr_nonnull(after);
    ck_assert_int_eq(after->nsnapshots, 2);
    ck_assert_int_eq(after->current_snapshot_id, a);
    ice_meta_free(after);

    /* c's list and data file went; a and b (current, tagged) are whole */
    ck_assert(!exists(list_c));
    ck_assert(!exists(pc));
    ck_assert(exists(list_b));
    ck_assert(exists(pa));
    ck_assert(exists(pb));
    ck_assert_int_ge(r.files_removed, 2);   /* the list, c.parquet, c's own manifest */
    /* the orphan went, a file that is none of ours stayed */
    ck_assert(!exists(orphan));
    ck_assert(exists(young));
    ck_assert_int_eq(r.orphans_removed, 1);

    /* the catalog's metadata: the tag, no c, the rollback file in the metadata-log */
    char *loc = NULL;

    m = load(&loc);
    ck_assert_int_eq(m->nsnapshots, 2);
    for (int i = 0; i < m->nsnapshots; i++)
        ck_assert(m->snapshots[i].id != c3);
    /* the log was a (main), b, c: c is gone, and so is the history before it */
    ck_assert_int_eq(m->nsnaplog, 0);
    ck_assert_int_ge(m->nmetalog, 1);
    ck_assert_ptr_nonnull(strstr(m->metalog[m->nmetalog - 1].file, "00099-rollback"));
    ck_assert_ptr_nonnull(strstr(loc, "/00100-"));
    {
        cdc_buf tb = CDC_BUF_INIT;
        json_t *j;

        ck_assert_int_eq(ice_store_get(st, loc, 0, -1, &tb, 0, &err), 0);
        ck_assert_ptr_nonnull(j = json_loadb((const char *) tb.data, tb.len, 0, NULL));
        ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(
                             json_object_get(j, "refs"), "keep"), "snapshot-id")), b);
        json_decref(j);
        cdc_buf_free(&tb);
    }
    free(loc);
    ice_meta_free(m);

    /* again: nothing to expire, nothing deleted */
    cdc_err_clear(&err);
    ck_assert_msg(ice_expire_table(cat, st, &tid, &ec, &r, NULL, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(r.snapshots_expired, 0);
    ck_assert_int_eq(r.files_removed, 0);
    ck_assert(exists(pa));
    ck_assert(exists(pb));
    free(list_b);
    free(list_c);
}
END_TEST

START_TEST(sql_position_chain_kept)
{
    cdc_err err;

    create_table();
    (void) commit_one("a", "0/10:0");
    (void) commit_one("b", "0/20:0");
    int64_t c3 = commit_one("c", "0/30:0");
    ice_meta *m = load(NULL);
    char     *list_a = strdup(m->snapshots[0].manifest_list);
    char     *list_c = strdup(m->snapshots[2].manifest_list);
    char      pa[800];

    ice_meta_free(m);
    snprintf(pa, sizeof(pa), "%s/data/a.parquet", wh);
    ice_expire_conf   ec = { .now_ms = cdc_wall_ms() + 1000, .older_than_ms = 0,
                             .orphan_age_ms = -1, .pipeline_id = "p" };
    ice_expire_result r;

    cdc_err_clear(&err);
    ck_assert_msg(ice_expire_table(cat, st, &tid, &ec, &r, NULL, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(r.snapshots_expired, 2);
    m = load(NULL);
    ck_assert_int_eq(m->nsnapshots, 1);
    ck_assert_int_eq(m->current_snapshot_id, c3);
    ck_assert_str_eq(ice_snapshot_get(ice_meta_current(m), "cdc.position"), "0/30:0");
    ck_assert_int_eq(m->nsnaplog, 1);
    ck_assert_int_eq(m->snaplog[0].snapshot_id, c3);
    ice_meta_free(m);
    /* a's list went; a.parquet is still live in c's snapshot */
    ck_assert(!exists(list_a));
    ck_assert(exists(list_c));
    ck_assert(exists(pa));
    free(list_a);
    free(list_c);
}
END_TEST

/* The metadata-log trimmed to its last entries (as after 100 commits): the files before it
   go whatever their age; a fresh orphan stays under the default safety age. */
START_TEST(sql_old_metadata_and_safe_orphans)
{
    cdc_err err;
    char   *loc = NULL, *text, nl[900], orphan[800], first[900], second[900];

    create_table();
    (void) commit_one("a", "0/10:0");
    (void) commit_one("b", "0/20:0");
    (void) commit_one("c", "0/30:0");
    ice_meta *m = load(&loc);

    /* log: 00000 (create), 00001 (a), 00002 (b); keep 00002 and the current one only */
    ck_assert_int_eq(m->nmetalog, 3);
    snprintf(first, sizeof(first), "%s", m->metalog[0].file);
    snprintf(second, sizeof(second), "%s", m->metalog[1].file);
    free(m->metalog[0].file);
    free(m->metalog[1].file);
    m->metalog[0] = m->metalog[2];
    m->nmetalog = 1;
    ice_meta_log_previous(m, loc, m->last_updated_ms);
    ck_assert_ptr_nonnull(text = ice_meta_to_json(m, &err));
    snprintf(nl, sizeof(nl), "%s/metadata/00004-trimmed.metadata.json", wh);
    ck_assert_int_eq(ice_store_put(st, nl, text, strlen(text), &err), 0);
    ice_cat_change cm = { .base_location = loc, .new_location = nl, .new_metadata_json = text };

    cdc_err_clear(&err);
    ck_assert_msg(ice_cat_commit(cat, &tid, &cm, NULL, &err) == ICE_CAT_OK, "%s", err.msg);
    free(text);
    free(loc);
    ice_meta_free(m);
    snprintf(orphan, sizeof(orphan), "%s/data/fresh-orphan.parquet", wh);
    ck_assert_int_eq(ice_store_put(st, orphan, "x", 1, &err), 0);

    ice_expire_conf   ec = { .now_ms = cdc_wall_ms() + 1000, .older_than_ms = 0,
                             .orphan_age_ms = ICE_EXPIRE_ORPHAN_AGE_MS_DEFAULT,
                             .pipeline_id = "p" };
    ice_expire_result r;

    cdc_err_clear(&err);
    ck_assert_msg(ice_expire_table(cat, st, &tid, &ec, &r, NULL, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(r.snapshots_expired, 2);
    ck_assert(!exists(first));
    ck_assert(!exists(second));
    ck_assert_int_eq(r.orphans_removed, 2);
    ck_assert(exists(orphan));
    ck_assert(exists(nl));
    m = load(&loc);
    for (int i = 0; i < m->nmetalog; i++)
        ck_assert_msg(exists(m->metalog[i].file), "%s", m->metalog[i].file);
    ck_assert(exists(loc));
    free(loc);
    ice_meta_free(m);
}
END_TEST

/* ---- a concurrent commit between our load and our commit: rebuilt on top of it ---- */

static bool race_pending;

static int
race_load(ice_cat *c, const ice_cat_ident *id, ice_cat_table *out, cdc_err *err)
{
    (void) c;
    return ice_cat_load(cat, id, out, err);
}

static int
race_commit(ice_cat *c, const ice_cat_ident *id, const ice_cat_change *cm, ice_cat_table *out,
            cdc_err *err)
{
    (void) c;
    if (race_pending) {
        race_pending = false;
        (void) commit_one("d", "0/40:0");     /* another writer's commit, before ours */
    }
    return ice_cat_commit(cat, id, cm, out, err);
}

static void
race_close(ice_cat *c)
{
    (void) c;
}

static const ice_cat_ops race_ops = { "sql", race_load, NULL, race_commit, NULL, NULL,
                                      race_close };

typedef struct mlist {
    char *files[64];
    int   n;
} mlist;

static int
mlist_fn(void *arg, const char *u, int64_t size)
{
    mlist *l = arg;

    (void) size;
    if (strstr(u, ".metadata.json") && l->n < 64)
        l->files[l->n++] = strdup(u);
    return 0;
}

START_TEST(sql_conflict_rebuilds)
{
    cdc_err err;
    ice_cat rc = { .ops = &race_ops, .what = "racing SQL catalog" };
    char    pfx[800], *loc = NULL;

    create_table();
    (void) commit_one("a", "0/10:0");
    (void) commit_one("b", "0/20:0");
    ice_expire_conf   ec = { .now_ms = cdc_wall_ms() + 60000, .older_than_ms = 0,
                             .orphan_age_ms = -1, .pipeline_id = "p" };
    ice_expire_result r;

    race_pending = true;
    cdc_err_clear(&err);
    ck_assert_msg(ice_expire_table(&rc, st, &tid, &ec, &r, NULL, &err) == 0, "%s", err.msg);
    ck_assert(!race_pending);
    /* the second build chose again on the table with d: a, b go, d (current) stays */
    ck_assert_int_eq(r.snapshots_expired, 2);
    ice_meta *m = load(&loc);

    ck_assert_int_eq(m->nsnapshots, 1);
    ck_assert_str_eq(ice_snapshot_get(ice_meta_current(m), "cdc.position"), "0/40:0");
    /* the first attempt's metadata file is gone: every metadata file is the current one or
       in its log */
    mlist l = { .n = 0 };

    snprintf(pfx, sizeof(pfx), "%s/metadata/", wh);
    ck_assert_int_eq(ice_store_list(st, pfx, mlist_fn, &l, &err), 0);
    ck_assert_int_eq(l.n, m->nmetalog + 1);
    for (int i = 0; i < l.n; i++) {
        bool found = strcmp(l.files[i], loc) == 0;

        for (int k = 0; k < m->nmetalog && !found; k++)
            found = strcmp(l.files[i], m->metalog[k].file) == 0;
        ck_assert_msg(found, "%s: named by nothing", l.files[i]);
        free(l.files[i]);
    }
    free(loc);
    ice_meta_free(m);
}
END_TEST

/* ---- REST: the update sent; nothing deleted while the table still names the snapshot ---- */

static char *rest_upd;

static int
r_load(ice_cat *c, const ice_cat_ident *id, ice_cat_table *out, cdc_err *err)
{
    (void) c;
    return ice_cat_load(cat, id, out, err);
}

static int
r_commit(ice_cat *c, const ice_cat_ident *id, const ice_cat_change *cm, ice_cat_table *out,
         cdc_err *err)
{
    (void) c;
    (void) id;
    (void) err;
    free(rest_upd);
    rest_upd = cm->updates_json ? strdup(cm->updates_json) : NULL;
    if (out)
        memset(out, 0, sizeof(*out));
    return ICE_CAT_OK;
}

static void
r_close(ice_cat *c)
{
    (void) c;
}

static const ice_cat_ops rest_ops = { "rest", r_load, NULL, r_commit, NULL, NULL, r_close };

START_TEST(rest_remove_snapshots)
{
    cdc_err err;
    ice_cat rc = { .ops = &rest_ops, .what = "staged REST catalog" };

    create_table();
    int64_t a = commit_one("a", "0/10:0");

    (void) commit_one("b", "0/20:0");
    ice_meta *m = load(NULL);
    char     *list_a = strdup(m->snapshots[0].manifest_list);

    ice_meta_free(m);
    ice_expire_conf   ec = { .now_ms = cdc_wall_ms() + 1000, .older_than_ms = 0,
                             .orphan_age_ms = -1, .pipeline_id = "p" };
    ice_expire_result r;
    char              want[100];

    cdc_err_clear(&err);
    ck_assert_msg(ice_expire_table(&rc, st, &tid, &ec, &r, NULL, &err) == 0, "%s", err.msg);
    ck_assert_ptr_nonnull(rest_upd);
    snprintf(want, sizeof(want), "\"snapshot-ids\":[%" PRId64 "]", a);
    ck_assert_msg(strstr(rest_upd, "remove-snapshots") && strstr(rest_upd, want), "%s", rest_upd);
    /* the staged server changed nothing: the snapshot is still there, so are its files */
    ck_assert_int_eq(r.files_removed, 0);
    ck_assert(exists(list_a));
    free(list_a);
    free(rest_upd);
    rest_upd = NULL;
}
END_TEST

static Suite *
expire_suite(void)
{
    Suite *s = suite_create("ice_expire");
    TCase *tc = tcase_create("select");

    tcase_add_test(tc, select_keeps);
    tcase_add_test(tc, select_keeps_after_rollback);
    tcase_add_test(tc, unreferenced);
    suite_add_tcase(s, tc);
    tc = tcase_create("table");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, sql_expiry_and_files);
    tcase_add_test(tc, sql_position_chain_kept);
    tcase_add_test(tc, sql_old_metadata_and_safe_orphans);
    tcase_add_test(tc, sql_conflict_rebuilds);
    tcase_add_test(tc, rest_remove_snapshots);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(expire_suite());
    int      failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/*
 * ice_commit_drive: drives sinks/iceberg/ice_commit.h for
 * test/integration/645_iceberg_commit_pyiceberg.sh: tables created, Parquet
 * data files written with parquet.h and committed, position deletes
 * committed, a column added, all through one catalog (SQL on SQLite or
 * PostgreSQL, or REST) and a file:// warehouse.
 *
 *   ice_commit_drive CAT create NS NAME LOCATION [PARTITION_BY...] [KEY=VALUE...]
 *       a table (id long required, the identifier field; name string), partitioned by the
 *       partition_by entries given ("bucket(4, id)", "name", ...), with the table properties
 *       given; prints "created" or "exists"
 *   ice_commit_drive CAT append NS NAME FILE_URI JSON_ROWS [KEY=VALUE...]
 *       writes the rows ([{"id": 1, "name": "a"}, ...]; a column of the table's current
 *       schema that a row leaves out is null) as a Parquet data file at FILE_URI and
 *       commits it with the summary pairs; the file's partition tuple is the first row's
 *       (the rows of one file must share it)
 *   ice_commit_drive CAT delete NS NAME DELETE_URI [part:JSON_ROW] DATA_URI:POS[,POS...]...
 *                    [KEY=VALUE...]
 *       writes a position-delete file and commits it; in a partitioned table its partition
 *       is JSON_ROW's (the data files' one), as a delete file applies to its partition only
 *   ice_commit_drive CAT addcol NS NAME COLUMN TYPE [KEY=VALUE...]
 *       the current schema plus an optional column (TYPE: long, int, string); with pairs
 *       the commit also makes a snapshot (no files) carrying them
 *   ice_commit_drive CAT snapshot NS NAME
 *       prints "<current snapshot id> <sequence number> <schema id> <operation>"
 *
 * Each commit prints "committed snapshot=ID seq=N op=OP" on success.  With $ICE_DRIVE_RACE set,
 * that shell command (another writer's commit) runs once just before our first commit call
 * reaches the catalog, after our load and build: ours then loses, reloads and rebuilds on top;
 * "attempts N" (catalog commit calls) goes to stderr.
 * CAT: sqlite:///..., postgresql://... (the SQL catalog, catalog name $ICE_CATALOG_NAME or
 * "lake") or http://... (REST; $ICE_REST_CREDENTIAL as in ice_rest_drive).
 * Warehouse URIs may be s3://: the client takes AWS's chain from the environment
 * (AWS_ENDPOINT_URL_S3 for moto).
 * Exit status: 0, 1 error, 5 conflict after every attempt.
 */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/core/cdc_buf.h"
#include "agent/core/cdc_mem.h"
#include "agent/core/net/aws_creds.h"
#include "agent/core/net/http.h"
#include "sinks/iceberg/catalog/ice_catalog.h"
#include "sinks/iceberg/catalog/ice_rest.h"
#include "sinks/iceberg/catalog/ice_sql.h"
#include "sinks/iceberg/ice_commit.h"
#include "sinks/iceberg/ice_meta.h"
#include "sinks/iceberg/ice_schema.h"
#include "sinks/iceberg/ice_transform.h"
#include "sinks/iceberg/ice_value.h"
#include "sinks/iceberg/parquet/parquet.h"
#include "sinks/iceberg/store/store.h"

static void
die(const char *what, const cdc_err *err)
{
    fprintf(stderr, "ice_commit_drive: %s%s%s\n", what, err ? ": " : "", err ? err->msg : "");
    exit(1);
}

/* A catalog in front of the real one: runs $ICE_DRIVE_RACE before the first commit. */
typedef struct race_cat {
    ice_cat     head;
    ice_cat    *inner;
    ice_cat_ops ops;
    const char *race;
    int         commits;
} race_cat;

static race_cat RC;

static int
rc_load(ice_cat *c, const ice_cat_ident *id, ice_cat_table *out, cdc_err *err)
{
    return ice_cat_load(((race_cat *) c)->inner, id, out, err);
}

static int
rc_create(ice_cat *c, const ice_cat_ident *id, const ice_cat_new_table *nt, ice_cat_table *out,
          cdc_err *err)
{
    return ice_cat_create(((race_cat *) c)->inner, id, nt, out, err);
}

static int
rc_commit(ice_cat *c, const ice_cat_ident *id, const ice_cat_change *cm, ice_cat_table *out,
          cdc_err *err)
{
    race_cat *r = (race_cat *) c;

    if (r->commits++ == 0 && r->race && *r->race) {
        int st = system(r->race);

        if (st != 0)
            fprintf(stderr, "ice_commit_drive: the race command exited %d\n", st);
    }
    return ice_cat_commit(r->inner, id, cm, out, err);
}

static int
rc_list(ice_cat *c, const char *ns, ice_cat_name_cb cb, void *ud, cdc_err *err)
{
    return ice_cat_list(((race_cat *) c)->inner, ns, cb, ud, err);
}

static int
rc_drop(ice_cat *c, const ice_cat_ident *id, cdc_err *err)
{
    return ice_cat_drop(((race_cat *) c)->inner, id, err);
}

static void
rc_close(ice_cat *c)
{
    ice_cat_close(((race_cat *) c)->inner);
    free((char *) ((race_cat *) c)->race);
}

static ice_cat *
wrap_cat(ice_cat *inner)
{
    RC.inner = inner;
    RC.ops = (ice_cat_ops) { inner->ops->kind, rc_load, rc_create, rc_commit, rc_list, rc_drop,
                             rc_close };
    RC.head.ops = &RC.ops;
    snprintf(RC.head.what, sizeof(RC.head.what), "%s", inner->what);
    if (getenv("ICE_DRIVE_RACE")) {
        /* the other writer does not race in turn (it may be this tool) */
        RC.race = cdc_xstrdup(getenv("ICE_DRIVE_RACE"));
        unsetenv("ICE_DRIVE_RACE");
    }
    return &RC.head;
}

static ice_cat *
open_inner(const char *uri);

static ice_cat *
open_cat(const char *uri)
{
    return wrap_cat(open_inner(uri));
}

static ice_cat *
open_inner(const char *uri)
{
    cdc_err err = { 0 };
    ice_cat *c = NULL;

    if (strncmp(uri, "http://", 7) == 0 || strncmp(uri, "https://", 8) == 0) {
        ice_rest_conf conf = { 0 };

        conf.uri = uri;
        conf.credential = getenv("ICE_REST_CREDENTIAL");
        conf.retry.max_attempts = 5;
        conf.retry.initial_ms = 100;
        conf.retry.max_ms = 1000;
        if ((c = ice_rest_cat_open(&conf, &err)) == NULL)
            die("REST catalog", &err);
        return c;
    }
    const char *name = getenv("ICE_CATALOG_NAME");
    ice_sql_conf conf = { .uri = uri, .catalog_name = name && *name ? name : "lake" };

    if (ice_sql_open(&conf, &c, &err) != 0)
        die("SQL catalog", &err);
    return c;
}

static int
run_commit(ice_commit *c)
{
    cdc_err err = { 0 };
    ice_meta *m = NULL;
    int rc = ice_commit_run(c, 10, &m, &err);

    if (rc == ICE_CAT_CONFLICT) {
        fprintf(stderr, "ice_commit_drive: conflict: %s\n", err.msg);
        return 5;
    }
    if (RC.race && *RC.race)
        fprintf(stderr, "attempts %d\n", RC.commits);
    if (rc != ICE_CAT_OK)
        die("commit", &err);
    const ice_snapshot *s = ice_meta_current(m);

    if (s)
        printf("committed snapshot=%" PRId64 " seq=%" PRId64 " op=%s\n", s->id, s->sequence_number,
               ice_snapshot_get(s, "operation"));
    else
        printf("committed schema=%d\n", m->current_schema_id);
    ice_meta_free(m);
    return 0;
}

static void
pairs(ice_commit *c, int argc, char **argv, int from)
{
    cdc_err err = { 0 };

    for (int i = from; i < argc; i++) {
        char *eq = strchr(argv[i], '=');

        if (eq == NULL)
            die("a summary pair is KEY=VALUE", NULL);
        *eq = '\0';
        if (ice_commit_summary(c, argv[i], eq + 1, &err) != 0)
            die("summary", &err);
    }
}

static ice_meta *
load(ice_cat *cat, ice_store *st, const ice_cat_ident *id)
{
    cdc_err err = { 0 };
    ice_meta *m = NULL;

    if (ice_commit_load(cat, st, id, &m, NULL, &err) != ICE_CAT_OK)
        die("load", &err);
    return m;
}

/* The partition tuple of a row (a JSON object) under the table's default spec (caller frees;
   strings point into the row). */
static ice_value *
partition_of(const ice_meta *m, json_t *row)
{
    const ice_schema *s = ice_meta_schema(m, m->current_schema_id);
    const ice_spec *sp = ice_meta_spec(m, m->default_spec_id);
    ice_value *pv = cdc_xcalloc((size_t) sp->nfields + 1, sizeof(ice_value));

    for (int k = 0; k < sp->nfields; k++) {
        const ice_field *src = ice_schema_find_id(s, sp->fields[k].source_id);
        json_t *v = json_object_get(row, src->name);
        ice_value in = { .null = true };

        if (json_is_string(v))
            in = (ice_value) { .p = (const uint8_t *) json_string_value(v),
                               .n = strlen(json_string_value(v)) };
        else if (json_is_integer(v))
            in = (ice_value) { .i = json_integer_value(v) };
        ice_transform_apply(&sp->fields[k].tr, &src->type, &in, &pv[k]);
    }
    return pv;
}

static int
cmd_append(ice_cat *cat, ice_store *st, const ice_cat_ident *id, const char *file_uri,
           const char *rows_json, int argc, char **argv)
{
    cdc_err err = { 0 };
    json_error_t je;
    json_t *rows = json_loads(rows_json, 0, &je), *row;
    ice_meta *m = load(cat, st, id);
    const ice_schema *s = ice_meta_schema(m, m->current_schema_id);
    parquet_column *cols = cdc_xcalloc((size_t) s->nfields, sizeof(parquet_column));
    cdc_buf file = CDC_BUF_INIT;
    char *schema_text;
    json_t *sj = ice_schema_to_json(s);
    size_t ri;

    if (!json_is_array(rows))
        die("JSON_ROWS is not a JSON array", NULL);
    schema_text = json_dumps(sj, JSON_COMPACT);
    json_decref(sj);
    parquet_kv kv[1] = { { "iceberg.schema", schema_text } };
    parquet_options opts = { .codec = PARQUET_ZSTD, .kv = kv, .nkv = 1, .sink_buf = &file };

    for (int i = 0; i < s->nfields; i++) {
        const ice_field *f = &s->fields[i];

        cols[i].name = f->name;
        cols[i].field_id = f->id;
        cols[i].optional = !f->required;
        switch (f->type.kind) {
        case ICE_LONG: cols[i].kind = PARQUET_INT64; break;
        case ICE_INT: cols[i].kind = PARQUET_INT32; break;
        case ICE_STRING: cols[i].kind = PARQUET_STRING; break;
        default: die("the tool writes long, int and string columns only", NULL);
        }
    }
    parquet_writer *w = parquet_writer_new(cols, (size_t) s->nfields, &opts, &err);

    if (w == NULL)
        die("parquet", &err);
    json_array_foreach(rows, ri, row) {
        for (int i = 0; i < s->nfields; i++) {
            json_t *v = json_object_get(row, s->fields[i].name);
            int rc;

            if (v == NULL || json_is_null(v))
                rc = parquet_put_null(w, (size_t) i, &err);
            else if (cols[i].kind == PARQUET_STRING)
                rc = parquet_put_bytes(w, (size_t) i, json_string_value(v),
                                       strlen(json_string_value(v)), &err);
            else
                rc = parquet_put_i64(w, (size_t) i, json_integer_value(v), &err);
            if (rc != 0)
                die("row", &err);
        }
        if (parquet_end_row(w, &err) != 0)
            die("row", &err);
    }
    parquet_result res = { 0 };

    if (parquet_close(w, &res, &err) != 0)
        die("parquet", &err);
    parquet_writer_free(w);
    if (ice_store_put(st, file_uri, file.data, file.len, &err) != 0)
        die("store", &err);

    ice_colstat *cs = cdc_xcalloc(res.ncols + 1, sizeof(ice_colstat));

    for (size_t i = 0; i < res.ncols; i++) {
        const parquet_col_stats *p = &res.cols[i];

        cs[i] = (ice_colstat) { .field_id = p->field_id, .size = p->compressed_size,
                                .values = p->value_count, .nulls = p->null_count, .nans = -1 };
        if (p->has_bounds) {
            cs[i].lower = p->min;
            cs[i].lower_n = p->min_len;
            cs[i].upper = p->max;
            cs[i].upper_n = p->max_len;
        }
    }
    ice_value *pv = partition_of(m, json_array_get(rows, 0));

    ice_datafile df = { .content = ICE_CONTENT_DATA, .path = file_uri, .partition = pv,
                        .record_count = res.row_count, .file_size = (int64_t) res.file_size,
                        .ncols = (int) res.ncols, .cols = cs,
                        .split_offsets = res.split_offsets, .nsplit = (int) res.nrow_groups,
                        .sort_order_id = 0 };
    ice_commit *c = ice_commit_new(cat, st, id, &err);

    if (c == NULL || ice_commit_add_file(c, &df, &err) != 0)
        die("add file", &err);
    pairs(c, argc, argv, 0);
    int rc = run_commit(c);

    ice_commit_free(c);
    parquet_result_free(&res);
    free(pv);
    free(cs);
    free(cols);
    free(schema_text);
    cdc_buf_free(&file);
    json_decref(rows);
    ice_meta_free(m);
    return rc;
}

static int
cmd_delete(ice_cat *cat, ice_store *st, const ice_cat_ident *id, const char *del_uri, int argc,
           char **argv)
{
    cdc_err err = { 0 };
    ice_posdel *pd = ice_posdel_new();
    ice_datafile df;
    int i;
    json_t *part = NULL;
    json_error_t je;

    if (argc > 0 && strncmp(argv[0], "part:", 5) == 0) {
        if ((part = json_loads(argv[0] + 5, 0, &je)) == NULL)
            die("part:JSON_ROW does not parse", NULL);
        argc--;
        argv++;
    }
    for (i = 0; i < argc && strchr(argv[i], '=') == NULL; i++) {
        char *colon = strrchr(argv[i], ':');

        if (colon == NULL)
            die("DATA_URI:POS[,POS...]", NULL);
        *colon = '\0';
        for (char *p = colon + 1; *p;) {
            char *end;
            long long pos = strtoll(p, &end, 10);

            if (end == p)
                die("a position is a number", NULL);
            if (ice_posdel_add(pd, argv[i], pos, &err) != 0)
                die("position delete", &err);
            p = *end == ',' ? end + 1 : end;
        }
    }
    if (ice_posdel_write(pd, st, del_uri, &df, &err) != 0)
        die("position delete file", &err);
    ice_meta *m = load(cat, st, id);
    ice_value *pv = part ? partition_of(m, part) : NULL;

    df.partition = pv;
    ice_commit *c = ice_commit_new(cat, st, id, &err);

    if (c == NULL || ice_commit_add_file(c, &df, &err) != 0)
        die("add file", &err);
    pairs(c, argc, argv, i);
    int rc = run_commit(c);

    ice_commit_free(c);
    ice_posdel_free(pd);
    free(pv);
    ice_meta_free(m);
    json_decref(part);
    return rc;
}

static int
cmd_addcol(ice_cat *cat, ice_store *st, const ice_cat_ident *id, const char *col,
           const char *type, int argc, char **argv)
{
    cdc_err err = { 0 };
    ice_meta *m = load(cat, st, id);
    ice_schema *s = ice_schema_dup(ice_meta_schema(m, m->current_schema_id));
    ice_type t;
    int32_t last = m->last_column_id;

    if (ice_type_parse(type, &t, &err) != 0 || ice_schema_add(s, col, &t, false, &last, &err) != 0)
        die("column", &err);
    ice_commit *c = ice_commit_new(cat, st, id, &err);

    if (c == NULL || ice_commit_set_schema(c, s, &err) != 0)
        die("schema", &err);
    pairs(c, argc, argv, 0);
    int rc = run_commit(c);

    ice_commit_free(c);
    ice_schema_free(s);
    ice_meta_free(m);
    return rc;
}

int
main(int argc, char **argv)
{
    cdc_err err = { 0 };

    if (argc < 5) {
        fprintf(stderr, "usage: ice_commit_drive CAT create|append|delete|addcol|snapshot NS NAME ...\n");
        return 2;
    }
    ice_cat *cat = open_cat(argv[1]);
    ice_store_conf sc = { 0 };
    cdc_aws_provider *prov = NULL;
    const char *akey = getenv("AWS_ACCESS_KEY_ID");

    if (cdc_http_global_init(&err) < 0)
        die("http", &err);
    if (akey && *akey) {
        cdc_aws_opts ao = { 0 };

        if ((prov = cdc_aws_provider_new(&ao, &err)) == NULL)
            die("AWS credentials", &err);
        sc.s3.provider = prov;
        sc.s3.retry = (cdc_retry_conf) { .max_attempts = 5, .initial_ms = 200, .max_ms = 1000 };
    }
    ice_store *st = ice_store_new(&sc, &err);
    ice_cat_ident id = { argv[3], argv[4] };
    const char *cmd = argv[2];
    int rc = 0;

    if (st == NULL)
        die("store", &err);
    if (strcmp(cmd, "create") == 0 && argc >= 6) {
        ice_schema *s = ice_schema_new(0);
        ice_type tl = { .kind = ICE_LONG }, ts = { .kind = ICE_STRING };
        int32_t last = 0, lastp = 999;
        ice_kv props[16] = { { "write.format.default", "parquet" } };
        int nprops = 1, npb = 0;
        const char *pb[16];

        for (int i = 6; i < argc; i++) {
            char *eq = strchr(argv[i], '=');

            if (eq && nprops < 16) {
                *eq = '\0';
                props[nprops++] = (ice_kv) { argv[i], eq + 1 };
            } else if (!eq && npb < 16) {
                pb[npb++] = argv[i];
            }
        }
        ice_schema_add(s, "id", &tl, true, &last, &err);
        ice_schema_add(s, "name", &ts, false, &last, &err);
        s->ident_ids = cdc_xcalloc(1, sizeof(int32_t));
        s->ident_ids[0] = 1;
        s->nident = 1;
        ice_spec *sp = ice_spec_from_partition_by(pb, npb, s, argv[4], 0, &lastp, &err);

        if (sp == NULL)
            die("partition_by", &err);
        rc = ice_commit_create_table(cat, st, &id, argv[5], s, sp, props, nprops, NULL, &err);
        if (rc == ICE_CAT_OK)
            printf("created\n");
        else if (rc == ICE_CAT_EXISTS)
            printf("exists\n");
        else
            die("create", &err);
        rc = 0;
        ice_schema_free(s);
        ice_spec_free(sp);
    } else if (strcmp(cmd, "append") == 0 && argc >= 7) {
        rc = cmd_append(cat, st, &id, argv[5], argv[6], argc - 7, argv + 7);
    } else if (strcmp(cmd, "delete") == 0 && argc >= 7) {
        rc = cmd_delete(cat, st, &id, argv[5], argc - 6, argv + 6);
    } else if (strcmp(cmd, "addcol") == 0 && argc >= 7) {
        rc = cmd_addcol(cat, st, &id, argv[5], argv[6], argc - 7, argv + 7);
    } else if (strcmp(cmd, "snapshot") == 0 && argc == 5) {
        ice_meta *m = load(cat, st, &id);
        const ice_snapshot *s = ice_meta_current(m);

        if (s)
            printf("%" PRId64 " %" PRId64 " %d %s\n", s->id, s->sequence_number, s->schema_id,
                   ice_snapshot_get(s, "operation"));
        else
            printf("none\n");
        ice_meta_free(m);
    } else {
        fprintf(stderr, "ice_commit_drive: bad command line\n");
        rc = 2;
    }
    ice_store_free(st);
    cdc_aws_provider_free(prov);
    ice_cat_close(cat);
    return rc;
}

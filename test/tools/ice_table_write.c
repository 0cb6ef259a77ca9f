/*
 * ice_table_write: writes the Iceberg metadata of a table whose Parquet data
 * files someone else wrote (test/integration/620_iceberg_meta_pyiceberg.sh
 * writes them with pyarrow), using sinks/iceberg/ only: the schema from a
 * PostgreSQL column list, the partition spec from partition_by, a manifest
 * per snapshot, manifest lists carrying the earlier manifests, and the
 * metadata JSON.
 *
 *   ice_table_write schema IN.json     prints the table's schema JSON
 *   ice_table_write write IN.json      writes the table, prints the metadata file's path
 *   ice_table_write read META.json KEY prints "<current snapshot id> <summary KEY>"
 *   ice_table_write files META.json    prints every entry of the current snapshot's manifests
 *                                      (ours or another writer's), one JSON object a line
 *
 * IN.json: {"location": "file:///...", "columns": [{"name", "oid", "typmod", "key",
 * "elem_oid"}], "partition_by": [...], "snapshots": [{"summary": {...}, "files":
 * [{"content", "path", "size", "records", "partition_source": {col: text},
 * "referenced_data_file", "stats": {col: {"size", "values", "nulls", "min", "max"}}}]}]}
 * Values are PostgreSQL-style text (ice_value_parse).
 */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agent/core/cdc_buf.h"
#include "agent/core/cdc_mem.h"
#include "sinks/iceberg/ice_manifest.h"
#include "sinks/iceberg/ice_meta.h"
#include "sinks/iceberg/ice_schema.h"
#include "sinks/iceberg/ice_transform.h"

static int
die(const char *what, const cdc_err *err)
{
    fprintf(stderr, "ice_table_write: %s%s%s\n", what, err ? ": " : "", err ? err->msg : "");
    exit(1);
}

/* file:///a/b -> /a/b */
static const char *
local_path(const char *uri)
{
    if (strncmp(uri, "file://", 7) != 0)
        die("only file:// locations", NULL);
    return uri + 7;
}

static void
write_file(const char *uri, const cdc_buf *b)
{
    const char *p = local_path(uri);
    FILE *f = fopen(p, "wb");

    if (f == NULL || fwrite(b->data, 1, b->len, f) != b->len || fclose(f) != 0) {
        fprintf(stderr, "ice_table_write: %s: %s\n", p, strerror(errno));
        exit(1);
    }
}

static json_t *
load(const char *path)
{
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);

    if (j == NULL) {
        fprintf(stderr, "ice_table_write: %s:%d: %s\n", path, je.line, je.text);
        exit(1);
    }
    return j;
}

typedef struct table {
    cdc_rel     rel;
    ice_schema *schema;
    ice_spec   *spec;
    int32_t     last_col, last_part;
} table;

static void
table_from(json_t *in, table *t)
{
    json_t *cols = json_object_get(in, "columns"), *pb = json_object_get(in, "partition_by"), *c;
    size_t i;
    cdc_err err = { 0 };
    const char **entries;

    memset(t, 0, sizeof(*t));
    t->rel.nspname = "public";
    t->rel.relname = "t";
    t->rel.ncols = (int) json_array_size(cols);
    t->rel.cols = cdc_xcalloc((size_t) t->rel.ncols + 1, sizeof(cdc_col));
    json_array_foreach(cols, i, c) {
        cdc_col *col = &t->rel.cols[i];

        col->name = (char *) json_string_value(json_object_get(c, "name"));
        col->type_oid = col->base_oid = (uint32_t) json_integer_value(json_object_get(c, "oid"));
        col->typmod = json_object_get(c, "typmod") ? (int32_t) json_integer_value(json_object_get(c, "typmod")) : -1;
        col->key_pos = (int) json_integer_value(json_object_get(c, "key"));
        col->elem_oid = (uint32_t) json_integer_value(json_object_get(c, "elem_oid"));
        col->catalog_known = true;
        col->typtype = 'b';
        if (col->key_pos)
            t->rel.nkeys++;
    }
    t->schema = ice_schema_from_rel(&t->rel, 0, true, &t->last_col, &err);
    if (t->schema == NULL)
        die("schema", &err);
    entries = cdc_xcalloc(json_array_size(pb) + 1, sizeof(char *));
    json_array_foreach(pb, i, c) entries[i] = json_string_value(c);
    t->last_part = 999;
    t->spec = ice_spec_from_partition_by(entries, (int) json_array_size(pb), t->schema, "public.t",
                                         0, &t->last_part, &err);
    free(entries);
    if (t->spec == NULL)
        die("partition_by", &err);
}

/* Keeps parsed values' bytes alive until the program ends (a test tool). */
static uint8_t *
scratch16(void)
{
    return cdc_xcalloc(1, 16);
}

static ice_value
parse(const ice_field *f, const char *text)
{
    ice_value v;
    cdc_err err = { 0 };

    if (ice_value_parse(&f->type, text, scratch16(), &v, &err) != 0)
        die(f->name, &err);
    return v;
}

static uint8_t *
bound(const ice_field *f, const char *text, size_t *n)
{
    cdc_buf b = CDC_BUF_INIT;
    ice_value v = parse(f, text);

    ice_value_bound(&b, &f->type, &v);
    *n = b.len;
    return b.data;  /* kept: the tool exits soon */
}

static void
add_file(ice_manifest_writer *w, const table *t, json_t *jf, int64_t snapshot_id)
{
    json_t *stats = json_object_get(jf, "stats"), *ps = json_object_get(jf, "partition_source");
    ice_colstat *cs = cdc_xcalloc((size_t) t->schema->nfields + 1, sizeof(ice_colstat));
    ice_value *pv = cdc_xcalloc((size_t) t->spec->nfields + 1, sizeof(ice_value));
    int n = 0;
    cdc_err err = { 0 };
    json_t *content = json_object_get(jf, "content");

    for (int i = 0; i < t->schema->nfields && json_is_object(stats); i++) {
        const ice_field *f = &t->schema->fields[i];
        json_t *s = json_object_get(stats, f->name), *x;

        if (s == NULL)
            continue;
        ice_colstat *c = &cs[n++];
        c->field_id = f->id;
        c->size = (x = json_object_get(s, "size")) ? json_integer_value(x) : -1;
        c->values = (x = json_object_get(s, "values")) ? json_integer_value(x) : -1;
        c->nulls = (x = json_object_get(s, "nulls")) ? json_integer_value(x) : -1;
        c->nans = (x = json_object_get(s, "nans")) ? json_integer_value(x) : -1;
        if (json_is_string(x = json_object_get(s, "min")))
            c->lower = bound(f, json_string_value(x), &c->lower_n);
        if (json_is_string(x = json_object_get(s, "max")))
            c->upper = bound(f, json_string_value(x), &c->upper_n);
    }
    for (int k = 0; k < t->spec->nfields; k++) {
        const ice_field *src = ice_schema_find_id(t->schema, t->spec->fields[k].source_id);
        json_t *x = json_object_get(ps, src->name);
        ice_value in = { .null = true };

        if (json_is_string(x))
            in = parse(src, json_string_value(x));
        ice_transform_apply(&t->spec->fields[k].tr, &src->type, &in, &pv[k]);
    }
    ice_entry e = {
        .status = ICE_STATUS_ADDED, .snapshot_id = snapshot_id, .sequence_number = -1,
        .file_sequence_number = -1,
        .file = { .content = content ? (int) json_integer_value(content) : 0,
                  .path = json_string_value(json_object_get(jf, "path")),
                  .partition = pv,
                  .record_count = json_integer_value(json_object_get(jf, "records")),
                  .file_size = json_integer_value(json_object_get(jf, "size")),
                  .ncols = n, .cols = cs, .sort_order_id = content && json_integer_value(content) ? -1 : 0,
                  .referenced_data_file = json_string_value(json_object_get(jf, "referenced_data_file")) },
    };
    if (ice_manifest_add(w, &e, &err) != 0)
        die("manifest entry", &err);
}

static int
cmd_write(const char *in_path)
{
    json_t *in = load(in_path), *snaps = json_object_get(in, "snapshots"), *js;
    const char *loc = json_string_value(json_object_get(in, "location"));
    table t;
    cdc_err err = { 0 };
    char path[4096];
    size_t si;
    ice_manifest_file *mfs = NULL;
    int nmf = 0;
    int64_t now = 1700000000000;

    table_from(in, &t);
    snprintf(path, sizeof(path), "%s/metadata", local_path(loc));
    mkdir(path, 0755);

    ice_meta *m = ice_meta_new(loc, t.schema, t.spec, t.last_col, t.last_part, NULL, now);
    ice_meta_set_prop(m, "write.format.default", "parquet");

    json_array_foreach(snaps, si, js) {
        int64_t sid = ice_new_snapshot_id();
        int64_t seq = m->last_sequence_number + 1;
        const ice_snapshot *cur = ice_meta_current(m);
        int64_t parent = cur ? cur->id : -1;
        json_t *files = json_object_get(js, "files"), *jf;
        size_t fi;
        int64_t added_rows = 0, added_files = 0, added_del = 0, added_del_rows = 0, added_size = 0;

        /* one manifest for the data files, one for delete files, as Java writes them */
        for (int content = 0; content <= 1; content++) {
            ice_manifest_writer *w = NULL;
            int n = 0;

            json_array_foreach(files, fi, jf) {
                json_t *c = json_object_get(jf, "content");
                int fc = c ? (int) json_integer_value(c) : 0;

                if ((fc != 0) != (content != 0))
                    continue;
                if (w == NULL && (w = ice_manifest_writer_new(t.schema, t.spec, content, sid, &err)) == NULL)
                    die("manifest", &err);
                /* the second snapshot leaves its entries' snapshot id null: inherited */
                add_file(w, &t, jf, si == 1 ? -1 : sid);
                n++;
                added_size += json_integer_value(json_object_get(jf, "size"));
                if (content == 0) {
                    added_rows += json_integer_value(json_object_get(jf, "records"));
                    added_files++;
                } else {
                    added_del++;
                    added_del_rows += json_integer_value(json_object_get(jf, "records"));
                }
            }
            if (w == NULL)
                continue;
            cdc_buf b = CDC_BUF_INIT;
            char uri[4200], uuid[37];

            ice_uuid4(uuid);
            snprintf(uri, sizeof(uri), "%s/metadata/%s-m%d.avro", loc, uuid, content);
            mfs = cdc_xrealloc(mfs, ((size_t) nmf + 1) * sizeof(*mfs));
            if (ice_manifest_finish(w, uri, &b, &mfs[nmf], &err) != 0)
                die("manifest", &err);
            ice_manifest_writer_free(w);
            write_file(uri, &b);
            cdc_buf_free(&b);
            nmf++;
            (void) n;
        }
        /* the new manifests get seq in the list; remember it for the next snapshots */
        cdc_buf lb = CDC_BUF_INIT;
        char list_uri[4200], uuid[37];

        ice_uuid4(uuid);
        snprintf(list_uri, sizeof(list_uri), "%s/metadata/snap-%" PRId64 "-1-%s.avro", loc, sid, uuid);
        if (ice_manifest_list_write(mfs, nmf, sid, parent, seq, &lb, &err) != 0)
            die("manifest list", &err);
        write_file(list_uri, &lb);
        cdc_buf_free(&lb);
        for (int k = 0; k < nmf; k++) {
            if (mfs[k].sequence_number < 0)
                mfs[k].sequence_number = seq;
            if (mfs[k].min_sequence_number < 0)
                mfs[k].min_sequence_number = seq;
        }

        ice_kv extra[16];
        int ne = 0;
        const char *k;
        json_t *v;
        ice_summary_delta d = { .added_data_files = added_files, .added_records = added_rows,
                                .added_files_size = added_size,
                                .added_delete_files = added_del,
                                .added_position_delete_files = added_del,
                                .added_position_deletes = added_del_rows,
                                .changed_partitions = (int64_t) json_array_size(files) };

        json_object_foreach(json_object_get(js, "summary"), k, v) {
            if (ne < 16)
                extra[ne++] = (ice_kv) { (char *) k, (char *) json_string_value(v) };
        }
        ice_snapshot snap = { .id = sid, .parent_id = parent, .sequence_number = seq,
                              .timestamp_ms = now + (int64_t) si * 1000, .manifest_list = list_uri,
                              .schema_id = t.schema->schema_id };
        ice_snapshot_summarize(&snap, added_del ? "overwrite" : "append", cur, &d, extra, ne);
        if (ice_meta_add_snapshot(m, &snap, &err) != 0)
            die("snapshot", &err);
        snap.manifest_list = NULL;      /* the tool's buffer */
        ice_snapshot_clear(&snap);
    }

    char *text = ice_meta_to_json(m, &err);
    if (text == NULL)
        die("metadata", &err);
    char uri[4200], uuid[37];
    cdc_buf b = CDC_BUF_INIT;

    ice_uuid4(uuid);
    snprintf(uri, sizeof(uri), "%s/metadata/00001-%s.metadata.json", loc, uuid);
    cdc_buf_puts(&b, text);
    write_file(uri, &b);
    printf("%s\n", local_path(uri));
    cdc_buf_free(&b);
    free(text);
    for (int k = 0; k < nmf; k++)
        ice_manifest_file_clear(&mfs[k]);
    free(mfs);
    ice_meta_free(m);
    json_decref(in);
    return 0;
}

static void
slurp(const char *path, cdc_buf *b)
{
    FILE *f = fopen(path, "rb");
    char chunk[65536];
    size_t n;

    if (f == NULL) {
        fprintf(stderr, "ice_table_write: %s: %s\n", path, strerror(errno));
        exit(1);
    }
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        cdc_buf_put(b, chunk, n);
    fclose(f);
}

static int
cmd_files(const char *meta_path)
{
    cdc_buf b = CDC_BUF_INIT, lb = CDC_BUF_INIT;
    cdc_err err = { 0 };
    ice_manifest_file *mfs = NULL;
    int nmf = 0;

    slurp(meta_path, &b);
    ice_meta *m = ice_meta_from_json((const char *) b.data, b.len, meta_path, &err);
    if (m == NULL)
        die("read", &err);
    const ice_snapshot *cur = ice_meta_current(m);
    const ice_schema *s = ice_meta_schema(m, m->current_schema_id);
    if (cur == NULL)
        return 0;
    slurp(local_path(cur->manifest_list), &lb);
    if (ice_manifest_list_read(lb.data, lb.len, cur->manifest_list, &mfs, &nmf, &err) != 0)
        die("manifest list", &err);
    for (int i = 0; i < nmf; i++) {
        const ice_spec *sp = ice_meta_spec(m, mfs[i].spec_id);
        cdc_buf mb = CDC_BUF_INIT;
        ice_read_entry *es = NULL;
        int nes = 0;

        if (sp == NULL)
            die("manifest names an unknown spec", NULL);
        ice_type *pt = cdc_xcalloc((size_t) sp->nfields + 1, sizeof(ice_type));
        if (ice_spec_types(sp, s, pt, &err) != 0)
            die("spec", &err);
        slurp(local_path(mfs[i].path), &mb);
        if ((int64_t) mb.len != mfs[i].length)
            die("manifest_length differs from the file's size", NULL);
        if (ice_manifest_read(mb.data, mb.len, mfs[i].path, &mfs[i], pt, sp->nfields, &es, &nes,
                              &err) != 0)
            die("manifest", &err);
        for (int k = 0; k < nes; k++) {
            json_t *part = json_array();

            for (int f = 0; f < es[k].npart; f++) {
                const ice_value *v = &es[k].partition[f];

                if (v->null)
                    json_array_append_new(part, json_null());
                else if (pt[f].kind == ICE_STRING)
                    json_array_append_new(part, json_stringn((const char *) v->p, v->n));
                else if (pt[f].kind == ICE_BOOLEAN)
                    json_array_append_new(part, json_boolean(v->b));
                else
                    json_array_append_new(part, json_integer(v->i));
            }
            json_t *o = json_pack("{s:i, s:i, s:I, s:I, s:I, s:I, s:I, s:s, s:o, s:i}",
                                  "content", es[k].content, "status", es[k].status,
                                  "sequence_number", (json_int_t) es[k].sequence_number,
                                  "file_sequence_number", (json_int_t) es[k].file_sequence_number,
                                  "snapshot_id", (json_int_t) es[k].snapshot_id,
                                  "record_count", (json_int_t) es[k].record_count,
                                  "file_size", (json_int_t) es[k].file_size, "path", es[k].path,
                                  "partition", part, "manifest_content", mfs[i].content);
            char *line = json_dumps(o, JSON_COMPACT);

            printf("%s\n", line);
            free(line);
            json_decref(o);
        }
        ice_read_entries_free(es, nes);
        free(pt);
        cdc_buf_free(&mb);
    }
    ice_manifest_files_free(mfs, nmf);
    ice_meta_free(m);
    cdc_buf_free(&b);
    cdc_buf_free(&lb);
    return 0;
}

int
main(int argc, char **argv)
{
    cdc_err err = { 0 };

    if (argc == 3 && strcmp(argv[1], "schema") == 0) {
        json_t *in = load(argv[2]);
        table t;

        table_from(in, &t);
        json_t *j = ice_schema_to_json(t.schema);
        char *s = json_dumps(j, JSON_COMPACT);

        printf("%s\n", s);
        free(s);
        json_decref(j);
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "write") == 0)
        return cmd_write(argv[2]);
    if (argc == 3 && strcmp(argv[1], "files") == 0)
        return cmd_files(argv[2]);
    if (argc == 4 && strcmp(argv[1], "read") == 0) {
        FILE *f = fopen(argv[2], "rb");
        cdc_buf b = CDC_BUF_INIT;
        char chunk[65536];
        size_t n;

        if (f == NULL)
            die(argv[2], NULL);
        while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
            cdc_buf_put(&b, chunk, n);
        fclose(f);
        ice_meta *m = ice_meta_from_json((const char *) b.data, b.len, argv[2], &err);
        if (m == NULL)
            die("read", &err);
        const ice_snapshot *cur = ice_meta_current(m);
        const char *v = cur ? ice_snapshot_get(cur, argv[3]) : NULL;

        printf("%" PRId64 " %s\n", cur ? cur->id : -1, v ? v : "(none)");
        ice_meta_free(m);
        cdc_buf_free(&b);
        return 0;
    }
    fprintf(stderr, "usage: ice_table_write schema|write IN.json | read META.json KEY | files META.json\n");
    return 2;
}

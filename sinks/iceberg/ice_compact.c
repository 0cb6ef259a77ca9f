/*
 * Compaction of an Iceberg table: see ice_compact.h.
 */
#include "sinks/iceberg/ice_compact.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agent/core/cdc_buf.h"
#include "agent/core/cdc_mem.h"
#include "sinks/iceberg/ice_commit.h"
#include "sinks/iceberg/ice_manifest.h"
#include "sinks/iceberg/ice_meta.h"
#include "sinks/iceberg/ice_scan.h"
#include "sinks/iceberg/ice_table.h"
#include "sinks/iceberg/parquet/parquet_read.h"

/* ---------------------------------------------------------------- the choice */

int
ice_compact_choose(ice_compact_file *files, int n, int file_threshold, int64_t max_rows,
                   int64_t target_bytes)
{
    int64_t rows = 0, small = target_bytes / 4 * 3;
    int picked = 0, maxg = -1;

    if (file_threshold <= 0)
        file_threshold = 10;
    if (max_rows <= 0)
        max_rows = 500000;
    for (int i = 0; i < n; i++) {
        files[i].pick = false;
        if (files[i].group > maxg)
            maxg = files[i].group;
    }
    for (int g = 0; g <= maxg; g++) {
        int count = 0, got = 0;
        int64_t grows = 0;

        for (int i = 0; i < n; i++)
            count += files[i].group == g;   /* a negative group (another spec) never counts */
        if (count < file_threshold)
            continue;
        for (int i = 0; i < n; i++) {
            ice_compact_file *f = &files[i];

            if (f->group != g || f->size >= small)
                continue;
            if (rows + grows + f->records > max_rows)
                break;      /* oldest first: a later file is not taken past an older one */
            f->pick = true;
            grows += f->records;
            got++;
        }
        if (got < 2) {      /* one file rewritten alone gains nothing */
            for (int i = 0; i < n; i++)
                if (files[i].group == g)
                    files[i].pick = false;
            continue;
        }
        rows += grows;
        picked += got;
    }
    return picked;
}

/* ---------------------------------------------------------------- the table's files */

typedef struct cfile {
    char      *path;
    int        content;
    int64_t    seq;
    int64_t    size;
    int64_t    records;
    int        group;       /* -1: another spec, not compacted */
    ice_value *tuple;       /* the group's first file's (view into an entry) */
    char     **targets;     /* position deletes: the data files it names */
    int        ntargets;
    bool       pick;
} cfile;

typedef struct cplan {
    ice_read_entry **es;    /* per manifest, kept for the tuples */
    int             *nes;
    int              nmf;
    cfile           *data, *dels;
    int              ndata, ndels;
    int              ngroups;
    int              npart;
    const ice_spec  *spec;
} cplan;

static void
cplan_free(cplan *p)
{
    for (int i = 0; i < p->nmf; i++)
        ice_read_entries_free(p->es[i], p->nes[i]);
    free(p->es);
    free(p->nes);
    for (int i = 0; i < p->ndata; i++)
        free(p->data[i].path);
    for (int i = 0; i < p->ndels; i++) {
        free(p->dels[i].path);
        for (int k = 0; k < p->dels[i].ntargets; k++)
            free(p->dels[i].targets[k]);
        free(p->dels[i].targets);
    }
    free(p->data);
    free(p->dels);
    memset(p, 0, sizeof(*p));
}

static bool
tuple_eq(const ice_value *a, const ice_value *b, int n)
{
    for (int i = 0; i < n; i++) {
        if (a[i].null != b[i].null)
            return false;
        if (a[i].null)
            continue;
        if (a[i].b != b[i].b || a[i].i != b[i].i || a[i].f != b[i].f || a[i].n != b[i].n ||
            memcmp(&a[i].d, &b[i].d, sizeof(a[i].d)) != 0)
            return false;
        if (a[i].n && memcmp(a[i].p, b[i].p, a[i].n) != 0)
            return false;
    }
    return true;
}

static int
get_whole(ice_store *st, const char *uri, cdc_buf *b, cdc_err *err)
{
    cdc_buf_reset(b);
    int rc = ice_store_get(st, uri, 0, -1, b, 0, err);

    if (rc == 1)
        return cdc_err_set(err, CDC_E_DEST, "iceberg file %s does not exist", uri);
    return rc;
}

typedef struct store_src {
    ice_store  *st;
    const char *uri;
} store_src;

static int
store_read(void *arg, uint64_t off, size_t n, cdc_buf *out, cdc_err *err)
{
    store_src *s = arg;

    cdc_buf_reset(out);
    int rc = ice_store_get(s->st, s->uri, (int64_t) off, (int64_t) n, out, n > 0 ? n : 1, err);

    if (rc == 1)
        return cdc_err_set(err, CDC_E_DEST, "iceberg file %s is gone", s->uri);
    return rc;
}

/* The distinct data files position-delete file d names (its file_path column). */
static int
read_targets(ice_store *st, cfile *d, cdc_err *err)
{
    store_src src = { st, d->path };
    parquet_reader *rd = parquet_reader_open(d->path, (uint64_t) d->size, store_read, &src, err);
    parquet_chunk ch = PARQUET_CHUNK_INIT;
    int rc = 0;

    if (rd == NULL)
        return -1;
    int col = parquet_read_find_id(rd, ICE_FIELD_ID_DELETE_FILE_PATH);

    if (col < 0) {
        parquet_reader_free(rd);
        return cdc_err_set(err, CDC_E_DECODE, "position delete file %s: no file_path column "
                           "(field id %d)", d->path, ICE_FIELD_ID_DELETE_FILE_PATH);
    }
    for (size_t g = 0; g < parquet_read_nrow_groups(rd) && rc == 0; g++) {
        if (parquet_read_chunk(rd, g, (size_t) col, &ch, err) != 0) {
            rc = -1;
            break;
        }
        for (int64_t r = 0; r < ch.nrows; r++) {
            const parquet_cell *c = &ch.cells[r];

            if (c->null)
                continue;
            bool seen = false;

            /* rows are sorted by file_path: a new name differs from the last one */
            if (d->ntargets > 0) {
                const char *last = d->targets[d->ntargets - 1];

                seen = strlen(last) == c->n && memcmp(last, c->p, c->n) == 0;
            }
            for (int k = 0; k < d->ntargets && !seen; k++)
                seen = strlen(d->targets[k]) == c->n && memcmp(d->targets[k], c->p, c->n) == 0;
            if (seen)
                continue;
            char *s = cdc_xmalloc(c->n + 1);

            memcpy(s, c->p, c->n);
            s[c->n] = '\0';
            d->targets = cdc_xrealloc(d->targets, ((size_t) d->ntargets + 1) * sizeof(char *));
            d->targets[d->ntargets++] = s;
        }
    }
    parquet_chunk_free(&ch);
    parquet_reader_free(rd);
    return rc;
}

static int
plan_files(ice_store *st, const ice_meta *m, const ice_schema *s, cplan *p, cdc_err *err)
{
    const ice_snapshot *cur = ice_meta_current(m);
    cdc_buf b = CDC_BUF_INIT;
    ice_manifest_file *mfs = NULL;
    int nmf = 0, rc = 0;

    p->spec = ice_meta_spec(m, m->default_spec_id);
    p->npart = p->spec ? p->spec->nfields : 0;
    if (cur == NULL)
        return 0;
    if (get_whole(st, cur->manifest_list, &b, err) != 0 ||
        ice_manifest_list_read(b.data, b.len, cur->manifest_list, &mfs, &nmf, err) != 0) {
        cdc_buf_free(&b);
        return cdc_err_wrap(err, "snapshot %" PRId64, cur->id);
    }
    p->es = cdc_xcalloc((size_t) nmf + 1, sizeof(*p->es));
    p->nes = cdc_xcalloc((size_t) nmf + 1, sizeof(int));
    p->nmf = nmf;
    for (int i = 0; i < nmf && rc == 0; i++) {
        const ice_spec *sp = ice_meta_spec(m, mfs[i].spec_id);

        if (sp == NULL) {
            rc = cdc_err_set(err, CDC_E_DECODE, "manifest %s names partition spec %d, which the "
                             "metadata lacks", mfs[i].path, mfs[i].spec_id);
            break;
        }
        ice_type *pt = cdc_xcalloc((size_t) sp->nfields + 1, sizeof(*pt));

        if (ice_spec_types(sp, s, pt, err) != 0 || get_whole(st, mfs[i].path, &b, err) != 0 ||
            ice_manifest_read(b.data, b.len, mfs[i].path, &mfs[i], pt, sp->nfields, &p->es[i],
                              &p->nes[i], err) != 0) {
            free(pt);
            rc = -1;
            break;
        }
        free(pt);
        bool dflt = mfs[i].spec_id == m->default_spec_id;

        for (int k = 0; k < p->nes[i] && rc == 0; k++) {
            ice_read_entry *e = &p->es[i][k];

            if (e->status == ICE_STATUS_DELETED)
                continue;
            if (e->content == ICE_CONTENT_EQ_DELETES) {
                rc = cdc_err_set(err, CDC_E_UNSUPPORTED, "it has equality deletes (%s): not "
                                 "compacted, since pyiceberg does not apply them", e->path);
                break;
            }
            if (e->format != NULL && strcasecmp(e->format, "PARQUET") != 0) {
                rc = cdc_err_set(err, CDC_E_UNSUPPORTED, "file %s is %s: only Parquet is "
                                 "compacted", e->path, e->format);
                break;
            }
            cfile f = { .path = cdc_xstrdup(e->path), .content = e->content,
                        .seq = e->sequence_number, .size = e->file_size,
                        .records = e->record_count, .group = -1 };

            if (dflt && e->npart == p->npart && e->content == ICE_CONTENT_DATA) {
                for (int j = 0; j < p->ndata && f.group < 0; j++)
                    if (p->data[j].group >= 0 && tuple_eq(p->data[j].tuple, e->partition, p->npart)) {
                        f.group = p->data[j].group;
                        f.tuple = p->data[j].tuple;
                    }
                if (f.group < 0) {
                    f.group = p->ngroups++;
                    f.tuple = e->partition;
                }
            } else if (dflt && e->npart == p->npart) {
                f.group = -2;   /* placed below, once every data file is known */
                f.tuple = e->partition;
            }
            if (e->content == ICE_CONTENT_DATA) {
                p->data = cdc_xrealloc(p->data, ((size_t) p->ndata + 1) * sizeof(cfile));
                p->data[p->ndata++] = f;
            } else {
                p->dels = cdc_xrealloc(p->dels, ((size_t) p->ndels + 1) * sizeof(cfile));
                p->dels[p->ndels++] = f;
            }
        }
    }
    /* a delete file's group is that of the data files of its partition */
    for (int i = 0; i < p->ndels && rc == 0; i++) {
        cfile *d = &p->dels[i];
        bool placed = d->group != -2;

        for (int j = 0; j < p->ndata && !placed; j++)
            if (p->data[j].group >= 0 && tuple_eq(p->data[j].tuple, d->tuple, p->npart)) {
                d->group = p->data[j].group;
                placed = true;
            }
        if (!placed)
            d->group = -1;
    }
    ice_manifest_files_free(mfs, nmf);
    cdc_buf_free(&b);
    return rc;
}

/* Data files in table order: oldest (smallest sequence number) first. */
static int
cmp_seq(const void *a, const void *b)
{
    const cfile *x = a, *y = b;

    if (x->seq != y->seq)
        return x->seq < y->seq ? -1 : 1;
    return strcmp(x->path, y->path);
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/* ---------------------------------------------------------------- writing */

typedef struct move {
    int32_t old_file, new_file;     /* into picked paths / added files */
    int64_t old_pos, new_pos;
} move;

typedef struct out_file {
    ice_file f;                 /* uri, bytes, res, schema, partition (a view) */
    bool     put;               /* uploaded */
} out_file;

typedef struct writer {
    ice_store         *st;
    const ice_meta    *m;
    const ice_schema  *s;
    parquet_column    *cols;
    parquet_codec      codec;
    char              *jschema;
    int64_t            target;
    const ice_value   *tuple;   /* the group being written */
    parquet_writer    *w;
    cdc_buf           *wbuf;
    char              *wuri;
    int64_t            wrows;
    out_file          *outs;
    int                nouts;
    const char *const *picked;
    int                npicked;
    int                cur_old;     /* index in picked of the last file seen */
    move              *moves;
    size_t             nmoves, cap_moves;
    int64_t            rows;
} writer;

static int
close_out(writer *wr, cdc_err *err)
{
    if (wr->w == NULL)
        return 0;
    out_file o;

    memset(&o, 0, sizeof(o));
    if (parquet_close(wr->w, &o.f.res, err) < 0) {
        parquet_writer_free(wr->w);
        wr->w = NULL;
        return cdc_err_wrap(err, "closing %s", wr->wuri);
    }
    parquet_writer_free(wr->w);
    wr->w = NULL;
    o.f.bytes = *wr->wbuf;
    free(wr->wbuf);
    wr->wbuf = NULL;
    o.f.uri = wr->wuri;
    wr->wuri = NULL;
    o.f.schema = ice_schema_dup(wr->s);
    o.f.partition = (ice_value *) wr->tuple;
    /* durable before the commit names it; the bytes are not needed any more */
    if (ice_store_put(wr->st, o.f.uri, o.f.bytes.data, o.f.bytes.len, err) != 0) {
        cdc_err_wrap(err, "writing %s", o.f.uri);
        o.f.partition = NULL;
        ice_file_clear(&o.f);
        return -1;
    }
    o.put = true;
    cdc_buf_free(&o.f.bytes);
    wr->outs = cdc_xrealloc(wr->outs, ((size_t) wr->nouts + 1) * sizeof(out_file));
    wr->outs[wr->nouts++] = o;
    return 0;
}

static int
open_out(writer *wr, cdc_err *err)
{
    parquet_kv kv = { "iceberg.schema", wr->jschema };
    parquet_options o = { .codec = wr->codec, .kv = &kv, .nkv = 1 };
    char uuid[37];
    cdc_buf u = CDC_BUF_INIT;

    wr->wbuf = cdc_xcalloc(1, sizeof(cdc_buf));
    o.sink_buf = wr->wbuf;
    wr->w = parquet_writer_new(wr->cols, (size_t) wr->s->nfields, &o, err);
    if (wr->w == NULL) {
        free(wr->wbuf);
        wr->wbuf = NULL;
        return cdc_err_wrap(err, "Parquet writer");
    }
    ice_uuid4(uuid);
    cdc_buf_printf(&u, "%s/data/00000-c-%s.parquet", wr->m->location, uuid);
    wr->wuri = cdc_xstrdup(cdc_buf_str(&u));
    cdc_buf_free(&u);
    wr->wrows = 0;
    return 0;
}

static int
write_row(void *arg, const char *file, int64_t pos, const ice_value *vals, cdc_err *err)
{
    writer *wr = arg;

    if (wr->w == NULL && open_out(wr, err) != 0)
        return -1;
    for (int i = 0; i < wr->s->nfields; i++)
        if (ice_parquet_put(wr->w, (size_t) i, &wr->s->fields[i].type, &vals[i], err) != 0)
            return cdc_err_wrap(err, "%s row %" PRId64 ", column %s", file, pos,
                                wr->s->fields[i].name);
    if (parquet_end_row(wr->w, err) != 0)
        return cdc_err_wrap(err, "%s row %" PRId64, file, pos);
    if (wr->cur_old < 0 || strcmp(wr->picked[wr->cur_old], file) != 0) {
        wr->cur_old = -1;
        for (int i = 0; i < wr->npicked && wr->cur_old < 0; i++)
            if (strcmp(wr->picked[i], file) == 0)
                wr->cur_old = i;
    }
    if (wr->nmoves == wr->cap_moves) {
        wr->cap_moves = wr->cap_moves ? 2 * wr->cap_moves : 1024;
        wr->moves = cdc_xrealloc(wr->moves, wr->cap_moves * sizeof(move));
    }
    wr->moves[wr->nmoves++] = (move) { wr->cur_old, wr->nouts, pos, wr->wrows };
    wr->wrows++;
    wr->rows++;
    if ((int64_t) parquet_estimated_size(wr->w) >= wr->target)
        return close_out(wr, err);
    return 0;
}

static void
writer_drop_outs(writer *wr, bool delete_files)
{
    cdc_err ignored;

    for (int i = 0; i < wr->nouts; i++) {
        if (delete_files && wr->outs[i].put)
            (void) ice_store_delete(wr->st, wr->outs[i].f.uri, &ignored);
        wr->outs[i].f.partition = NULL;
        ice_file_clear(&wr->outs[i].f);
    }
    free(wr->outs);
    wr->outs = NULL;
    wr->nouts = 0;
    if (wr->w) {
        parquet_writer_free(wr->w);
        wr->w = NULL;
    }
    if (wr->wbuf) {
        cdc_buf_free(wr->wbuf);
        free(wr->wbuf);
        wr->wbuf = NULL;
    }
    free(wr->wuri);
    wr->wuri = NULL;
    free(wr->moves);
    wr->moves = NULL;
    wr->nmoves = wr->cap_moves = 0;
    wr->rows = 0;
}

/* ---------------------------------------------------------------- a pass */

static int64_t
target_of(const ice_meta *m, const ice_compact_opts *o)
{
    if (o && o->target_bytes > 0)
        return o->target_bytes;
    const char *v = ice_meta_prop(m, "write.target-file-size-bytes");
    char *end;

    if (v && *v) {
        long long x = strtoll(v, &end, 10);

        if (*end == '\0' && x > 0)
            return (int64_t) x;
    }
    return ICE_COMPACT_TARGET_DEFAULT;
}

/* One plan: 0 committed or nothing to do, 1 abandoned (replan), -1 error. */
static int
pass(ice_cat *cat, ice_store *st, const ice_cat_ident *id, const ice_compact_opts *o,
     ice_compact_moved_fn *moved, void *arg, ice_compact_stats *stats, cdc_err *err)
{
    ice_meta *m = NULL;
    cplan p;
    writer wr;
    ice_commit *c = NULL;
    ice_meta *done = NULL;
    ice_compact_file *cf = NULL;
    const char **picked = NULL;
    int npicked = 0, rc = -1, r;
    int32_t *ids = NULL;

    memset(&p, 0, sizeof(p));
    memset(&wr, 0, sizeof(wr));
    if ((r = ice_commit_load(cat, st, id, &m, NULL, err)) != ICE_CAT_OK) {
        if (r == ICE_CAT_NOT_FOUND)
            cdc_err_set(err, CDC_E_DEST, "no such table");
        return -1;
    }
    const ice_schema *s = ice_meta_schema(m, m->current_schema_id);
    const ice_snapshot *base = ice_meta_current(m);

    if (s == NULL) {
        cdc_err_set(err, CDC_E_DECODE, "no current schema");
        goto out;
    }
    if (base == NULL) {
        rc = 0;
        goto out;
    }
    if (plan_files(st, m, s, &p, err) != 0)
        goto out;
    qsort(p.data, (size_t) p.ndata, sizeof(cfile), cmp_seq);
    stats->data_files_before = p.ndata;
    stats->delete_files_before = p.ndels;

    int64_t target = target_of(m, o);

    cf = cdc_xcalloc((size_t) p.ndata + 1, sizeof(*cf));
    for (int i = 0; i < p.ndata; i++)
        cf[i] = (ice_compact_file) { .group = p.data[i].group >= 0 ? p.data[i].group : -1,
                                     .size = p.data[i].size, .records = p.data[i].records };
    if (ice_compact_choose(cf, p.ndata, o->file_threshold, o->max_rows, target) == 0) {
        rc = 0;
        goto out;
    }
    for (int i = 0; i < s->nfields; i++)
        if (s->fields[i].type.kind == ICE_LIST) {
            cdc_err_set(err, CDC_E_UNSUPPORTED, "column %s is a list: compacting tables with "
                        "list columns is not supported yet", s->fields[i].name);
            goto out;
        }

    /* the writer */
    json_t *js = ice_schema_to_json(s);

    wr.jschema = js ? json_dumps(js, JSON_COMPACT) : NULL;
    json_decref(js);
    if (wr.jschema == NULL) {
        cdc_err_set(err, CDC_E_NOMEM, "schema JSON");
        goto out;
    }
    wr.st = st;
    wr.m = m;
    wr.s = s;
    wr.codec = o->codec;
    wr.target = target;
    wr.cur_old = -1;
    wr.cols = cdc_xcalloc((size_t) s->nfields + 1, sizeof(parquet_column));
    ids = cdc_xcalloc((size_t) s->nfields + 1, sizeof(int32_t));
    for (int i = 0; i < s->nfields; i++) {
        const ice_field *f = &s->fields[i];

        ids[i] = f->id;
        wr.cols[i] = (parquet_column) {
            .name = f->name, .field_id = f->id, .optional = !f->required,
            .kind = ice_parquet_kind(f->type.kind), .precision = f->type.precision,
            .scale = f->type.scale,
            .fixed_len = f->type.kind == ICE_UUID ? 16 : f->type.length,
        };
    }
    picked = cdc_xcalloc((size_t) p.ndata + 1, sizeof(char *));
    for (int i = 0; i < p.ndata; i++)
        if (cf[i].pick) {
            p.data[i].pick = true;
            picked[npicked++] = p.data[i].path;
        }
    wr.picked = picked;
    wr.npicked = npicked;

    /* position-delete files of the compacted groups: removed when every file they name is
       picked or no longer live (an earlier pass removed it) */
    const char **live = cdc_xcalloc((size_t) p.ndata + 1, sizeof(char *));

    for (int i = 0; i < p.ndata; i++)
        live[i] = p.data[i].path;
    qsort(live, (size_t) p.ndata, sizeof(char *), cmp_str);
    for (int i = 0; i < p.ndels; i++) {
        cfile *d = &p.dels[i];
        bool group_hit = false;

        for (int k = 0; k < p.ndata && !group_hit; k++)
            group_hit = p.data[k].pick && p.data[k].group == d->group && d->group >= 0;
        if (!group_hit)
            continue;
        if (read_targets(st, d, err) != 0) {
            free(live);
            goto out;
        }
        d->pick = d->ntargets > 0;
        for (int t = 0; t < d->ntargets && d->pick; t++) {
            const char *key = d->targets[t];
            bool in = bsearch(&key, live, (size_t) p.ndata, sizeof(char *), cmp_str) == NULL;

            for (int k = 0; k < npicked && !in; k++)
                in = strcmp(picked[k], d->targets[t]) == 0;
            d->pick = in;
        }
    }
    free(live);

    /* rewrite group by group (one set of files per partition tuple) */
    for (int g = 0; g < p.ngroups; g++) {
        const char **gp = cdc_xcalloc((size_t) npicked + 1, sizeof(char *));
        int ng = 0;

        for (int i = 0; i < p.ndata; i++)
            if (p.data[i].pick && p.data[i].group == g) {
                gp[ng++] = p.data[i].path;
                wr.tuple = p.npart > 0 ? p.data[i].tuple : NULL;
                stats->bytes_read += p.data[i].size;
            }
        if (ng == 0) {
            free(gp);
            continue;
        }
        stats->partitions++;
        r = ice_scan_rows_in(st, m, gp, ng, ids, s->nfields, write_row, &wr, NULL, err);
        free(gp);
        if (r != 0 || close_out(&wr, err) != 0) {
            writer_drop_outs(&wr, true);
            goto out;
        }
    }

    /* the commit */
    if ((c = ice_commit_new(cat, st, id, err)) == NULL)
        goto drop;
    for (int i = 0; i < wr.nouts; i++) {
        ice_datafile df;
        ice_colstat *cols = NULL;
        cdc_buf store = CDC_BUF_INIT;

        r = ice_tbl_datafile(&wr.outs[i].f, &df, &cols, &store, err);
        if (r == 0)
            r = ice_commit_add_file(c, &df, err);
        free(cols);
        cdc_buf_free(&store);
        if (r != 0)
            goto drop;
        stats->bytes_written += (int64_t) wr.outs[i].f.res.file_size;
    }
    for (int i = 0; i < npicked; i++)
        if (ice_commit_remove_file(c, picked[i], err) != 0)
            goto drop;
    int ndel = 0;

    for (int i = 0; i < p.ndels; i++)
        if (p.dels[i].pick) {
            if (ice_commit_remove_file(c, p.dels[i].path, err) != 0)
                goto drop;
            ndel++;
        }
    ice_commit_set_base(c, base->id);
    if (o->before_commit)
        o->before_commit(o->hook_arg);
    r = ice_commit_run(c, o->max_attempts > 0 ? o->max_attempts : 4, &done, err);
    if (r == ICE_CAT_CONFLICT || (r == -1 && err->code == CDC_E_STATE)) {
        /* the table changed in a way this plan cannot take: plan again.  A build's
           CDC_E_STATE comes before anything is sent, and an SQL catalog's conflict is
           certain: nothing names the new files.  A REST conflict may answer a request sent
           again whose first copy went in: the files stay (orphans at worst). */
        bool rest = cat->ops && cat->ops->kind && strcmp(cat->ops->kind, "rest") == 0;

        writer_drop_outs(&wr, !(r == ICE_CAT_CONFLICT && rest));
        rc = 1;
        goto out;
    }
    if (r != ICE_CAT_OK) {
        if (r == ICE_CAT_NOT_FOUND)
            cdc_err_set(err, CDC_E_DEST, "the table was dropped during compaction");
        writer_drop_outs(&wr, false);   /* the outcome may be unknown: orphans at worst */
        goto out;
    }
    stats->snapshot_id = done ? ice_meta_current(done)->id : -1;
    stats->data_files_removed = npicked;
    stats->delete_files_removed = ndel;
    stats->files_added = wr.nouts;
    stats->rows = wr.rows;
    rc = 0;
    for (size_t i = 0; moved && i < wr.nmoves; i++) {
        const move *mv = &wr.moves[i];

        if (moved(arg, mv->old_file >= 0 ? picked[mv->old_file] : "", mv->old_pos,
                  wr.outs[mv->new_file].f.uri, mv->new_pos, err) != 0) {
            rc = cdc_err_ensure(err, "the compaction's moved-row callback");
            break;
        }
    }
    writer_drop_outs(&wr, false);
    goto out;
drop:
    writer_drop_outs(&wr, true);
out:
    ice_commit_free(c);
    ice_meta_free(done);
    free(wr.cols);
    free(wr.jschema);
    free(ids);
    free(picked);
    free(cf);
    cplan_free(&p);
    ice_meta_free(m);
    return rc;
}

int
ice_compact_run(ice_cat *cat, ice_store *st, const ice_cat_ident *id,
                const ice_compact_opts *opts, ice_compact_moved_fn *moved, void *arg,
                ice_compact_stats *stats, cdc_err *err)
{
    ice_compact_opts o = opts ? *opts : (ice_compact_opts) { 0 };
    ice_compact_stats local;
    int replans = o.max_replans > 0 ? o.max_replans : 3;

    if (stats == NULL)
        stats = &local;
    if (cat == NULL || st == NULL || id == NULL)
        return cdc_err_set(err, CDC_E_INVAL, "compaction: catalog, store and table are required");
    for (int attempt = 0;; attempt++) {
        memset(stats, 0, sizeof(*stats));
        stats->snapshot_id = -1;
        stats->replans = attempt;
        int rc = pass(cat, st, id, &o, moved, arg, stats, err);

        if (rc == 0)
            return 0;
        if (rc < 0)
            return cdc_err_wrap(err, "compacting table %s.%s", id->ns, id->name);
        if (attempt >= replans)
            return cdc_err_wrap(err, "compacting table %s.%s: given up after %d plans, the "
                                "table kept changing", id->ns, id->name, attempt + 1);
        cdc_err_clear(err);
    }
}

/* ---------------------------------------------------------------- moves for the key index */

typedef struct moved_to {
    int32_t file;   /* into mv->news; -1: not moved */
    int64_t pos;
} moved_to;

typedef struct mv_old {
    char     *path;
    moved_to *at;   /* by old position */
    int64_t   n;
} mv_old;

struct ice_compact_moves {
    mv_old   *olds;
    int       nolds;
    char    **news;
    int       nnews;
    int64_t   count;
};

ice_compact_moves *
ice_compact_moves_new(void)
{
    return cdc_xcalloc(1, sizeof(ice_compact_moves));
}

void
ice_compact_moves_free(ice_compact_moves *mv)
{
    if (mv == NULL)
        return;
    for (int i = 0; i < mv->nolds; i++) {
        free(mv->olds[i].path);
        free(mv->olds[i].at);
    }
    free(mv->olds);
    for (int i = 0; i < mv->nnews; i++)
        free(mv->news[i]);
    free(mv->news);
    free(mv);
}

int64_t
ice_compact_moves_count(const ice_compact_moves *mv)
{
    return mv ? mv->count : 0;
}

int
ice_compact_moves_add(void *arg, const char *old_file, int64_t old_pos, const char *new_file,
                      int64_t new_pos, cdc_err *err)
{
    ice_compact_moves *mv = arg;
    mv_old *o = NULL;
    int32_t nf = -1;

    if (old_pos < 0 || new_pos < 0)
        return cdc_err_set(err, CDC_E_INVAL, "compaction moves: position %" PRId64 " -> %" PRId64,
                           old_pos, new_pos);
    /* moves come file by file: the last old and new files first */
    for (int i = mv->nolds - 1; i >= 0 && o == NULL; i--)
        if (strcmp(mv->olds[i].path, old_file) == 0)
            o = &mv->olds[i];
    if (o == NULL) {
        mv->olds = cdc_xrealloc(mv->olds, ((size_t) mv->nolds + 1) * sizeof(mv_old));
        o = &mv->olds[mv->nolds++];
        *o = (mv_old) { .path = cdc_xstrdup(old_file) };
    }
    for (int i = mv->nnews - 1; i >= 0 && nf < 0; i--)
        if (strcmp(mv->news[i], new_file) == 0)
            nf = i;
    if (nf < 0) {
        mv->news = cdc_xrealloc(mv->news, ((size_t) mv->nnews + 1) * sizeof(char *));
        mv->news[mv->nnews] = cdc_xstrdup(new_file);
        nf = mv->nnews++;
    }
    if (old_pos >= o->n) {
        int64_t n = o->n ? o->n : 64;

        while (n <= old_pos)
            n *= 2;
        o->at = cdc_xrealloc(o->at, (size_t) n * sizeof(moved_to));
        for (int64_t i = o->n; i < n; i++)
            o->at[i] = (moved_to) { -1, -1 };
        o->n = n;
    }
    o->at[old_pos] = (moved_to) { nf, new_pos };
    mv->count++;
    return 0;
}

typedef struct remap {
    ice_tbl                 *t;
    const ice_compact_moves *mv;
    int32_t                 *old_of;    /* per t->paths index (before): into mv->olds, or -1 */
    int32_t                  nold;
    int32_t                 *new_idx;   /* per mv->news: t->paths index */
    bool                    *tupled;
    const char              *bad_file;
    int64_t                  bad_pos;
} remap;

static int
remap_one(void *arg, int32_t file, int64_t pos, int32_t *nfile, int64_t *npos)
{
    remap *r = arg;

    if (file < 0 || file >= r->nold || r->old_of[file] < 0)
        return 0;
    const mv_old *o = &r->mv->olds[r->old_of[file]];

    if (pos < 0 || pos >= o->n || o->at[pos].file < 0) {
        r->bad_file = o->path;
        r->bad_pos = pos;
        return -1;
    }
    int32_t k = o->at[pos].file;

    *nfile = r->new_idx[k];
    *npos = o->at[pos].pos;
    if (!r->tupled[k]) {
        r->tupled[k] = true;
        if (r->t->ptuples && r->t->ptuples[file])
            ice_tbl_path_tuple(r->t, *nfile, r->t->ptuples[file]);
    }
    return 1;
}

static int
posdel_one(void *arg, const char *path, int64_t pos, const char **npath, int64_t *npos)
{
    const ice_compact_moves *mv = arg;

    for (int k = 0; k < mv->nolds; k++) {
        const mv_old *o = &mv->olds[k];

        if (strcmp(o->path, path) != 0)
            continue;
        if (pos < 0 || pos >= o->n || o->at[pos].file < 0)
            return -1;
        *npath = mv->news[o->at[pos].file];
        *npos = o->at[pos].pos;
        return 1;
    }
    return 0;
}

int64_t
ice_compact_moves_posdel(const ice_compact_moves *mv, ice_posdel *pd, int64_t *moved)
{
    if (moved)
        *moved = 0;
    if (mv == NULL || pd == NULL || mv->nolds == 0)
        return 0;
    return ice_posdel_remap(pd, posdel_one, (void *) mv, moved);
}

int
ice_tbl_apply_moves(ice_tbl *t, const ice_compact_moves *mv, cdc_err *err)
{
    if (t == NULL || mv == NULL || t->kidx == NULL || mv->nolds == 0)
        return 0;
    remap r = { .t = t, .mv = mv, .nold = t->npaths };
    int rc = 0;

    r.old_of = cdc_xcalloc((size_t) t->npaths + 1, sizeof(int32_t));
    for (int i = 0; i < t->npaths; i++) {
        r.old_of[i] = -1;
        for (int k = 0; k < mv->nolds && r.old_of[i] < 0; k++)
            if (strcmp(t->paths[i], mv->olds[k].path) == 0)
                r.old_of[i] = k;
    }
    r.new_idx = cdc_xcalloc((size_t) mv->nnews + 1, sizeof(int32_t));
    r.tupled = cdc_xcalloc((size_t) mv->nnews + 1, sizeof(bool));
    for (int k = 0; k < mv->nnews; k++)
        r.new_idx[k] = ice_tbl_path(t, mv->news[k]);
    if (ice_kidx_remap(t->kidx, remap_one, &r) != 0)
        rc = cdc_err_set(err, CDC_E_STATE, "Iceberg table %s: the key index points at row %"
                         PRId64 " of %s, which the compaction did not move (deleted in the "
                         "table): rebuild the index from the table", t->name, r.bad_pos,
                         r.bad_file);
    free(r.old_of);
    free(r.new_idx);
    free(r.tupled);
    return rc;
}

/*
 * Snapshot expiry and file cleanup (ice_expire.h): select, commit the removal
 * through the catalog, then delete what the remaining snapshots do not reach,
 * then the orphan pass.
 */
#include "sinks/iceberg/ice_expire.h"

#include <inttypes.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agent/core/cdc_buf.h"
#include "agent/core/cdc_log.h"
#include "agent/core/cdc_mem.h"
#include "sinks/iceberg/catalog/ice_rest.h"
#include "sinks/iceberg/ice_commit.h"
#include "sinks/iceberg/ice_manifest.h"
#include "sinks/iceberg/ice_table.h"

#define ICE_FAC "iceberg"
#define METALOG_MAX 100   /* as ice_commit.c: write.metadata.previous-versions-max */

/* ---------------------------------------------------------------- a set of URIs */

typedef struct uset {
    char   **keys;    /* normalized */
    int64_t *sizes;
    char   **uris;    /* as first seen */
    size_t   cap, n;
} uset;

/* "file:/x", "file:///x" -> "/x"; s3a:// -> s3://; anything else as it is. */
static char *
norm_uri(const char *uri)
{
    ice_uri u;
    cdc_err ignored;

    if (ice_store_parse_uri(uri, &u, &ignored) == 0) {
        cdc_buf b = CDC_BUF_INIT;
        char   *s;

        if (u.scheme == ICE_URI_FILE)
            cdc_buf_printf(&b, "%s", u.path);
        else
            cdc_buf_printf(&b, "s3://%s/%s", u.bucket, u.key);
        s = cdc_xstrdup(cdc_buf_str(&b));
        cdc_buf_free(&b);
        return s;
    }
    return cdc_xstrdup(uri);
}

static uint64_t
hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL;

    for (; *s; s++)
        h = (h ^ (uint8_t) *s) * 1099511628211ULL;
    return h;
}

static void uset_add(uset *s, const char *uri, int64_t size);

static void
uset_grow(uset *s)
{
    uset old = *s;

    s->cap = old.cap ? old.cap * 2 : 64;
    s->keys = cdc_xcalloc(s->cap, sizeof(char *));
    s->uris = cdc_xcalloc(s->cap, sizeof(char *));
    s->sizes = cdc_xcalloc(s->cap, sizeof(int64_t));
    s->n = 0;
    for (size_t i = 0; i < old.cap; i++)
        if (old.keys[i]) {
            size_t k = hash_str(old.keys[i]) & (s->cap - 1);

            while (s->keys[k])
                k = (k + 1) & (s->cap - 1);
            s->keys[k] = old.keys[i];
            s->uris[k] = old.uris[i];
            s->sizes[k] = old.sizes[i];
            s->n++;
        }
    free(old.keys);
    free(old.uris);
    free(old.sizes);
}

static long
uset_find_key(const uset *s, const char *key)
{
    if (s->cap == 0)
        return -1;
    for (size_t k = hash_str(key) & (s->cap - 1); s->keys[k]; k = (k + 1) & (s->cap - 1))
        if (strcmp(s->keys[k], key) == 0)
            return (long) k;
    return -1;
}

static bool
uset_has(const uset *s, const char *uri)
{
    char *key = norm_uri(uri);
    bool  r = uset_find_key(s, key) >= 0;

    free(key);
    return r;
}

static void
uset_add(uset *s, const char *uri, int64_t size)
{
    char *key = norm_uri(uri);

    if (uset_find_key(s, key) >= 0) {
        free(key);
        return;
    }
    if ((s->n + 1) * 2 > s->cap)
        uset_grow(s);
    size_t k = hash_str(key) & (s->cap - 1);

    while (s->keys[k])
        k = (k + 1) & (s->cap - 1);
    s->keys[k] = key;
    s->uris[k] = cdc_xstrdup(uri);
    s->sizes[k] = size;
    s->n++;
}

static void
uset_free(uset *s)
{
    for (size_t i = 0; i < s->cap; i++) {
        free(s->keys[i]);
        free(s->uris[i]);
    }
    free(s->keys);
    free(s->uris);
    free(s->sizes);
    memset(s, 0, sizeof(*s));
}

int
ice_expire_unreferenced(const char *const *gone, int ngone, const char *const *kept, int nkept,
                        const char ***out)
{
    uset k = { 0 };
    int  n = 0;

    *out = cdc_xcalloc((size_t) ngone + 1, sizeof(char *));
    for (int i = 0; i < nkept; i++)
        uset_add(&k, kept[i], 0);
    for (int i = 0; i < ngone; i++) {
        bool dup = false;

        if (uset_has(&k, gone[i]))
            continue;
        for (int j = 0; j < n && !dup; j++) {
            char *a = norm_uri((*out)[j]), *b = norm_uri(gone[i]);

            dup = strcmp(a, b) == 0;
            free(a);
            free(b);
        }
        if (!dup)
            (*out)[n++] = gone[i];
    }
    uset_free(&k);
    return n;
}

/* ---------------------------------------------------------------- what expires */

static const ice_snapshot *
snap_by_id(const ice_meta *m, int64_t id)
{
    for (int i = 0; i < m->nsnapshots && id >= 0; i++)
        if (m->snapshots[i].id == id)
            return &m->snapshots[i];
    return NULL;
}

/* Whether s holds pipeline's position (*out). */
static bool
snap_pos(const ice_snapshot *s, const char *pipeline, cdc_pos *out)
{
    const char *pid = ice_snapshot_get(s, "cdc.pipeline");
    const char *pos = ice_snapshot_get(s, "cdc.position");

    return pid && pos && strcmp(pid, pipeline) == 0 && ice_pos_parse(pos, out) == 0;
}

int
ice_expire_select(const ice_meta *m, const int64_t *ref_ids, int nref, const ice_expire_conf *c,
                  int64_t **out)
{
    bool   *keep = cdc_xcalloc((size_t) m->nsnapshots + 1, sizeof(bool));
    int64_t cutoff = c->now_ms - c->older_than_ms;
    int     n = 0;
    bool    have_pos = false;
    cdc_pos pos = { 0, 0 }, p;

    *out = NULL;
    /* the current snapshot and its ancestors down to our newest position (found as the sink
       finds it at start: iceberg.c meta_position) */
    const ice_snapshot *s = ice_meta_current(m);

    for (int guard = 0; s != NULL && guard <= m->nsnapshots; guard++) {
        keep[s - m->snapshots] = true;
        if (c->pipeline_id == NULL)
            break;
        if (snap_pos(s, c->pipeline_id, &pos)) {
            have_pos = true;
            break;
        }
        s = snap_by_id(m, s->parent_id);
    }
    /* after a rollback: snapshots of ours at a newer position than the current branch's are
       the evidence the sink checks at start (it refuses to resume behind acknowledged
       changes); they stay until the table is rolled forward or re-snapshotted */
    for (int i = 0; i < m->nsnapshots && c->pipeline_id; i++)
        if (snap_pos(&m->snapshots[i], c->pipeline_id, &p) &&
            (!have_pos || cdc_pos_cmp(p, pos) > 0))
            keep[i] = true;
    for (int i = 0; i < nref; i++) {
        const ice_snapshot *r = snap_by_id(m, ref_ids[i]);

        if (r)
            keep[r - m->snapshots] = true;
    }
    for (int i = 0; i < m->nsnapshots; i++)
        if (!keep[i] && m->snapshots[i].timestamp_ms < cutoff) {
            *out = cdc_xrealloc(*out, ((size_t) n + 1) * sizeof(int64_t));
            (*out)[n++] = m->snapshots[i].id;
        }
    free(keep);
    return n;
}

/* ---------------------------------------------------------------- the commit */

typedef struct exp_build {
    ice_store             *st;
    const ice_cat_ident   *id;
    const ice_expire_conf *c;
    bool                   rest;
    /* per build */
    ice_meta              *before;      /* the table the last build started from */
    int64_t               *expired;
    int                    nexpired;
    char                  *new_location, *new_json, *req_json, *upd_json;
    bool                   nothing;
} exp_build;

static void
build_clear(exp_build *b)
{
    ice_meta_free(b->before);
    free(b->expired);
    free(b->new_location);
    free(b->new_json);
    free(b->req_json);
    free(b->upd_json);
    b->before = NULL;
    b->expired = NULL;
    b->nexpired = 0;
    b->new_location = b->new_json = b->req_json = b->upd_json = NULL;
}

/* The metadata document of a catalog answer, as text (caller frees). */
static char *
meta_text(ice_store *st, const ice_cat_table *t, cdc_err *err)
{
    if (t->metadata_json)
        return cdc_xstrdup(t->metadata_json);
    if (t->metadata_location == NULL) {
        cdc_err_set(err, CDC_E_DEST, "the catalog named no metadata file");
        return NULL;
    }
    cdc_buf b = CDC_BUF_INIT;
    int     rc = ice_store_get(st, t->metadata_location, 0, -1, &b, 0, err);

    if (rc != 0 || cdc_buf_failed(&b)) {
        if (rc == 1)
            err->code = CDC_E_DEST;
        else if (rc == 0)
            cdc_err_set(err, CDC_E_NOMEM, "out of memory reading %s", t->metadata_location);
        cdc_buf_free(&b);
        return NULL;
    }
    char *s = cdc_xstrdup(cdc_buf_str(&b));

    cdc_buf_free(&b);
    return s;
}

/* The snapshot ids the document's refs point at. */
static int
ref_ids_of(json_t *doc, int64_t **out)
{
    json_t     *refs = json_object_get(doc, "refs"), *v;
    const char *k;
    int         n = 0;

    *out = NULL;
    json_object_foreach(refs, k, v) {
        json_t *id = json_object_get(v, "snapshot-id");

        if (json_is_integer(id)) {
            *out = cdc_xrealloc(*out, ((size_t) n + 1) * sizeof(int64_t));
            (*out)[n++] = (int64_t) json_integer_value(id);
        }
    }
    return n;
}

static bool
in_ids(const int64_t *ids, int n, int64_t id)
{
    for (int i = 0; i < n; i++)
        if (ids[i] == id)
            return true;
    return false;
}

/* REST: remove-snapshots, asserting the table's uuid and main's snapshot. */
static int
rest_change(exp_build *b, const ice_meta *m, const ice_cat_table *current, ice_cat_change *cm,
            cdc_err *err)
{
    const ice_snapshot *cur = ice_meta_current(m);
    json_t             *ids = json_array(), *req = json_array(), *upd = json_array();
    int                 rc = -1;

    for (int i = 0; i < b->nexpired; i++)
        json_array_append_new(ids, json_integer((json_int_t) b->expired[i]));
    json_array_append_new(upd, json_pack("{s:s, s:o}", "action", "remove-snapshots",
                                         "snapshot-ids", ids));
    if (ice_rest_req_assert_uuid(req, m->uuid, err) != 0 ||
        ice_rest_req_assert_ref_snapshot(req, "main", cur ? cur->id : -1, err) != 0)
        goto done;
    b->req_json = json_dumps(req, JSON_COMPACT);
    b->upd_json = json_dumps(upd, JSON_COMPACT);
    if (b->req_json == NULL || b->upd_json == NULL) {
        cdc_err_set(err, CDC_E_NOMEM, "table %s.%s: expiry JSON", b->id->ns, b->id->name);
        goto done;
    }
    cm->base_location = current->metadata_location;
    cm->new_metadata_json = NULL;
    cm->requirements_json = b->req_json;
    cm->updates_json = b->upd_json;
    rc = 0;
done:
    json_decref(req);
    json_decref(upd);
    return rc;
}

/* m without the expired snapshots; the snapshot-log and metadata-log follow. */
static void
drop_expired(exp_build *b, ice_meta *m, const ice_cat_table *current)
{
    int     n = 0, nl = 0;
    int64_t base_updated = m->last_updated_ms;

    for (int i = 0; i < m->nsnapshots; i++) {
        if (in_ids(b->expired, b->nexpired, m->snapshots[i].id))
            ice_snapshot_clear(&m->snapshots[i]);
        else
            m->snapshots[n++] = m->snapshots[i];
    }
    m->nsnapshots = n;
    /* as Java's TableMetadata.removeSnapshots: an entry whose snapshot is gone drops the
       history before it too (an as-of read before the gap would find a wrong snapshot) */
    for (int i = 0; i < m->nsnaplog; i++)
        if (snap_by_id(m, m->snaplog[i].snapshot_id) == NULL)
            nl = 0;
        else
            m->snaplog[nl++] = m->snaplog[i];
    m->nsnaplog = nl;
    m->last_updated_ms = b->c->now_ms > m->last_updated_ms ? b->c->now_ms
                                                           : m->last_updated_ms + 1;
    if (current->metadata_location) {
        ice_meta_log_previous(m, current->metadata_location, base_updated);
        if (m->nmetalog > METALOG_MAX) {
            int drop = m->nmetalog - METALOG_MAX;

            for (int i = 0; i < drop; i++)
                free(m->metalog[i].file);
            memmove(m->metalog, m->metalog + drop, (size_t) METALOG_MAX * sizeof(ice_log_entry));
            m->nmetalog = METALOG_MAX;
        }
    }
}

/* SQL: the next metadata file without the expired snapshots, written and durable. */
static int
sql_change(exp_build *b, ice_meta *m, json_t *doc, const ice_cat_table *current,
           ice_cat_change *cm, cdc_err *err)
{
    json_error_t je;
    char        *mine;
    json_t      *nd, *refs_o = json_object_get(doc, "refs");

    drop_expired(b, m, current);
    if ((mine = ice_meta_to_json(m, err)) == NULL)
        return -1;
    /* the document's other refs (tags, branches) as they were: ice_meta writes main only */
    nd = json_loads(mine, 0, &je);
    free(mine);
    if (nd == NULL)
        return cdc_err_set(err, CDC_E_INVAL, "table %s.%s: our metadata does not parse: %s",
                           b->id->ns, b->id->name, je.text);
    if (json_is_object(refs_o))
        json_object_set(nd, "refs", refs_o);
    b->new_json = json_dumps(nd, JSON_INDENT(2));
    json_decref(nd);
    b->new_location = ice_meta_next_location(m->location, current->metadata_location);
    if (b->new_json == NULL)
        return cdc_err_set(err, CDC_E_NOMEM, "table %s.%s: metadata JSON", b->id->ns,
                           b->id->name);
    if (ice_store_put(b->st, b->new_location, b->new_json, strlen(b->new_json), err) != 0)
        return cdc_err_wrap(err, "table %s.%s: metadata", b->id->ns, b->id->name);
    cm->base_location = current->metadata_location;
    cm->new_location = b->new_location;
    cm->new_metadata_json = b->new_json;
    return 0;
}

static int
exp_build_fn(void *ud, const ice_cat_table *current, ice_cat_change *cm, cdc_err *err)
{
    exp_build *b = ud;
    char      *text = NULL;
    json_t    *doc = NULL;
    int64_t   *refs = NULL;
    int        nrefs, rc = -1;
    ice_meta  *m = NULL;
    json_error_t je;

    /* a metadata file of an attempt that lost the race (SQL): nothing names it */
    if (b->new_location) {
        cdc_err ignored;

        (void) ice_store_delete(b->st, b->new_location, &ignored);
    }
    build_clear(b);
    b->nothing = false;
    if ((text = meta_text(b->st, current, err)) == NULL)
        return cdc_err_wrap(err, "table %s.%s", b->id->ns, b->id->name);
    const char *where = current->metadata_location ? current->metadata_location : "metadata";

    if ((m = ice_meta_from_json(text, strlen(text), where, err)) == NULL ||
        (doc = json_loads(text, 0, &je)) == NULL) {
        if (m)
            cdc_err_set(err, CDC_E_DECODE, "%s: %s", where, je.text);
        cdc_err_wrap(err, "table %s.%s", b->id->ns, b->id->name);
        goto done;
    }
    if (m->format_version != 2) {
        cdc_err_set(err, CDC_E_DEST, "table %s.%s (%s) is Iceberg format version %d: expiry "
                    "here handles version 2 only", b->id->ns, b->id->name, m->location,
                    m->format_version);
        goto done;
    }
    nrefs = ref_ids_of(doc, &refs);
    b->nexpired = ice_expire_select(m, refs, nrefs, b->c, &b->expired);
    b->before = ice_meta_from_json(text, strlen(text), where, err);
    if (b->before == NULL)
        goto done;
    if (b->nexpired == 0) {
        b->nothing = true;
        cdc_err_set(err, CDC_E_STATE, "table %s.%s: no snapshot to expire", b->id->ns,
                    b->id->name);
        goto done;
    }
    rc = b->rest ? rest_change(b, m, current, cm, err) : sql_change(b, m, doc, current, cm, err);
done:
    json_decref(doc);
    free(refs);
    free(text);
    ice_meta_free(m);
    return rc;
}

/* ---------------------------------------------------------------- reachability */

static int
get_whole(ice_store *st, const char *uri, cdc_buf *b, cdc_err *err)
{
    int rc;

    cdc_buf_reset(b);
    rc = ice_store_get(st, uri, 0, -1, b, 0, err);
    if (rc == 0 && cdc_buf_failed(b))
        return cdc_err_set(err, CDC_E_NOMEM, "out of memory reading %s", uri);
    return rc;   /* 1: missing */
}

/*
 * Adds snapshot s's manifest list, manifests and files to `to`.  A manifest already in
 * `skip` (or in `to`) is not read again: its files are there already.
 * @returns 0, 1 when the manifest list is missing, -1 with err.
 */
static int
collect_snapshot(ice_store *st, const ice_meta *m, const ice_snapshot *s, uset *to,
                 const uset *skip, cdc_err *err)
{
    cdc_buf            b = CDC_BUF_INIT;
    ice_manifest_file *mfs = NULL;
    int                nmf = 0, rc;
    const ice_schema  *sc = ice_meta_schema(m, m->current_schema_id);
    int64_t            lsize = -1;

    if (s->manifest_list == NULL)
        return 0;
    rc = get_whole(st, s->manifest_list, &b, err);
    if (rc != 0) {
        cdc_buf_free(&b);
        return rc;
    }
    lsize = (int64_t) b.len;
    if (ice_manifest_list_read(b.data, b.len, s->manifest_list, &mfs, &nmf, err) != 0) {
        cdc_buf_free(&b);
        return -1;
    }
    uset_add(to, s->manifest_list, lsize);
    rc = 0;
    for (int i = 0; i < nmf && rc == 0; i++) {
        const ice_spec *sp = ice_meta_spec(m, mfs[i].spec_id);
        ice_type       *pt;
        ice_read_entry *es = NULL;
        int             nes = 0;

        if ((skip && uset_has(skip, mfs[i].path)) || uset_has(to, mfs[i].path))
            continue;
        if (sp == NULL || sc == NULL) {
            rc = cdc_err_set(err, CDC_E_DECODE, "manifest %s names partition spec %" PRId32
                             ", which the metadata lacks", mfs[i].path, mfs[i].spec_id);
            break;
        }
        pt = cdc_xcalloc((size_t) sp->nfields + 1, sizeof(*pt));
        if (ice_spec_types(sp, sc, pt, err) != 0 ||
            (rc = get_whole(st, mfs[i].path, &b, err)) != 0 ||
            ice_manifest_read(b.data, b.len, mfs[i].path, &mfs[i], pt, sp->nfields, &es, &nes,
                              err) != 0) {
            if (rc == 1)
                cdc_err_wrap(err, "a manifest of snapshot %" PRId64 " is missing", s->id);
            rc = -1;
        } else {
            uset_add(to, mfs[i].path, mfs[i].length);
            for (int k = 0; k < nes; k++)
                uset_add(to, es[k].path, es[k].file_size);
        }
        ice_read_entries_free(es, nes);
        free(pt);
    }
    ice_manifest_files_free(mfs, nmf);
    cdc_buf_free(&b);
    return rc;
}

/* Everything the table references now: its snapshots' files, its metadata files. */
static int
collect_kept(ice_store *st, const ice_meta *m, const char *meta_loc, uset *kept, cdc_err *err)
{
    for (int i = 0; i < m->nsnapshots; i++) {
        if (m->snapshots[i].manifest_list == NULL)
            return cdc_err_set(err, CDC_E_DEST, "table %s: snapshot %" PRId64 " has no manifest "
                               "list: nothing is deleted", m->location, m->snapshots[i].id);
        int rc = collect_snapshot(st, m, &m->snapshots[i], kept, NULL, err);

        if (rc == 1)
            return cdc_err_set(err, CDC_E_DEST, "table %s: the manifest list %s of snapshot %"
                               PRId64 " is missing: nothing is deleted", m->location,
                               m->snapshots[i].manifest_list, m->snapshots[i].id);
        if (rc != 0)
            return cdc_err_wrap(err, "table %s: snapshot %" PRId64 " (nothing is deleted)",
                                m->location, m->snapshots[i].id);
    }
    if (meta_loc)
        uset_add(kept, meta_loc, 0);
    for (int i = 0; i < m->nmetalog; i++)
        uset_add(kept, m->metalog[i].file, 0);
    return 0;
}

typedef struct deleter {
    ice_store             *st;
    const ice_expire_conf *c;
    int                    ndeleted;
} deleter;

static int
del_one(deleter *d, const char *uri, cdc_err *err)
{
    if (ice_store_delete(d->st, uri, err) != 0)
        return -1;
    d->ndeleted++;
    log_debug(ICE_FAC, "expiry: removed %s", uri);
    if (d->c->crash_after_deletes > 0 && d->ndeleted == d->c->crash_after_deletes) {
        log_warn(ICE_FAC, "CDCAGENT_TEST_ICEBERG_CRASH=during_expire: killing the process after "
                 "%d deletes", d->ndeleted);
        raise(SIGKILL);
    }
    return 0;
}

/* The orphan pass's list callback. */
typedef struct orphans {
    deleter     *d;
    const uset  *kept;
    int64_t      min_logged_version;  /* -1: no metadata-log */
    int64_t      removed, bytes;
    cdc_err     *err;
} orphans;

static bool
ends_with(const char *s, const char *suf)
{
    size_t n = strlen(s), k = strlen(suf);

    return n >= k && strcmp(s + n - k, suf) == 0;
}

static int
orphan_fn(void *arg, const char *uri, int64_t size)
{
    orphans *o = arg;
    bool     is_meta = ends_with(uri, ".metadata.json");
    ice_uri  u;
    cdc_err  perr;
    struct stat sb;

    if (!is_meta && !ends_with(uri, ".parquet") && !ends_with(uri, ".avro"))
        return 0;   /* not ours to judge (statistics, hints, other tools' files) */
    if (uset_has(o->kept, uri))
        return 0;
    if (ice_store_parse_uri(uri, &u, &perr) != 0 || u.scheme != ICE_URI_FILE)
        return 0;
    bool old_meta = is_meta && o->min_logged_version >= 0 && ice_meta_file_version(uri) >= 0 &&
                    ice_meta_file_version(uri) < o->min_logged_version;

    if (!old_meta) {
        if (stat(u.path, &sb) != 0)
            return 0;
        int64_t mtime_ms = (int64_t) sb.st_mtim.tv_sec * 1000 + sb.st_mtim.tv_nsec / 1000000;

        if (o->d->c->now_ms - mtime_ms < o->d->c->orphan_age_ms)
            return 0;
    }
    if (del_one(o->d, uri, o->err) != 0)
        return -1;
    o->removed++;
    o->bytes += size > 0 ? size : 0;
    return 0;
}

/* Deletes the files of gone that kept lacks: data and delete files first, then manifests,
   then lists (any order is safe, none is referenced; this one leaves the fewest dangling
   names in an interrupted run).  @returns 0 / -1 with err. */
static int
remove_gone(deleter *d, const uset *gone, const uset *kept, ice_expire_result *res,
            cdc_err *err)
{
    for (int pass = 0; pass < 3; pass++)
        for (size_t k = 0; k < gone->cap; k++) {
            const char *u = gone->uris[k];

            if (u == NULL || uset_has(kept, u))
                continue;
            bool list = strstr(u, "/metadata/snap-") != NULL;
            int  want = list ? 2 : ends_with(u, ".avro") ? 1 : 0;

            if (want != pass)
                continue;
            if (del_one(d, u, err) != 0)
                return -1;
            res->files_removed++;
            res->bytes_removed += gone->sizes[k] > 0 ? gone->sizes[k] : 0;
        }
    return 0;
}

/* The orphan pass over <location>/data/ and <location>/metadata/ only, where writers put a
   table's files: a location that holds other tables too (a table at the warehouse's root)
   does not expose theirs.  @returns 0 / -1 with err. */
static int
orphan_pass(deleter *d, const ice_meta *now, const uset *kept, ice_expire_result *res,
            cdc_err *err)
{
    orphans o = { .d = d, .kept = kept, .min_logged_version = -1, .err = err };
    cdc_buf pfx = CDC_BUF_INIT;
    int     rc = 0;

    for (int i = 0; i < now->nmetalog; i++) {
        int64_t v = ice_meta_file_version(now->metalog[i].file);

        if (v >= 0 && (o.min_logged_version < 0 || v < o.min_logged_version))
            o.min_logged_version = v;
    }
    for (int k = 0; k < 2 && rc == 0; k++) {
        cdc_buf_reset(&pfx);
        cdc_buf_printf(&pfx, "%s/%s/", now->location, k == 0 ? "data" : "metadata");
        rc = ice_store_list(d->st, cdc_buf_str(&pfx), orphan_fn, &o, err);
    }
    cdc_buf_free(&pfx);
    res->orphans_removed = o.removed;
    res->orphan_bytes_removed = o.bytes;
    return rc == 0 ? 0 : -1;
}

/* ---------------------------------------------------------------- the whole job */

int
ice_expire_table(ice_cat *cat, ice_store *st, const ice_cat_ident *id, const ice_expire_conf *c,
                 ice_expire_result *res, ice_meta **committed, cdc_err *err)
{
    exp_build     b = { .st = st, .id = id, .c = c };
    ice_cat_table out = { 0 };
    ice_meta     *now = NULL;
    char         *now_loc = NULL;
    uset          kept = { 0 }, gone = { 0 };
    deleter       d = { .st = st, .c = c };
    int           rc;

    memset(res, 0, sizeof(*res));
    if (committed)
        *committed = NULL;
    if (cat == NULL || st == NULL || id == NULL || c == NULL)
        return cdc_err_set(err, CDC_E_INVAL, "iceberg expiry: catalog, store, table and "
                           "configuration are required");
    b.rest = cat->ops && cat->ops->kind && strcmp(cat->ops->kind, "rest") == 0;
    rc = ice_cat_commit_retry(cat, id, 10, exp_build_fn, &b, &out, err);
    ice_cat_table_free(&out);
    if (rc == -1 && b.nothing) {
        /* nothing expired: no file became unreferenced; the orphan pass waits for the next
           expiry (reading every remaining snapshot's manifests each interval of an idle table
           would cost without finding anything new but a killed commit's files) */
        cdc_err_clear(err);
        build_clear(&b);
        return 0;
    } else if (rc != ICE_CAT_OK) {
        if (rc == ICE_CAT_CONFLICT && b.new_location && !b.rest) {
            cdc_err ignored;

            (void) ice_store_delete(st, b.new_location, &ignored);
        }
        build_clear(&b);
        return rc;
    } else {
        res->snapshots_expired = b.nexpired;
        log_info(ICE_FAC, "table %s.%s: %d snapshot(s) expired", id->ns, id->name, b.nexpired);
    }
    /* the table as it is now (another commit may have come after ours) */
    rc = ice_commit_load(cat, st, id, &now, &now_loc, err);
    if (rc != ICE_CAT_OK) {
        build_clear(&b);
        return rc;
    }
    res->snapshots_kept = now->nsnapshots;
    rc = collect_kept(st, now, now_loc, &kept, err);
    if (rc != 0)
        goto fail;
    /* the expired snapshots' files that nothing remaining references */
    for (int i = 0; i < b.nexpired && b.before; i++) {
        const ice_snapshot *s = snap_by_id(b.before, b.expired[i]);

        if (s == NULL || snap_by_id(now, s->id) != NULL)
            continue;   /* still there (a REST server that kept it): its files stay */
        rc = collect_snapshot(st, b.before, s, &gone, &kept, err);
        if (rc == 1) {          /* its list is gone already: an earlier, killed expiry */
            cdc_err_clear(err);
            rc = 0;
            continue;
        }
        if (rc != 0) {
            cdc_err_wrap(err, "table %s.%s: expired snapshot %" PRId64, id->ns, id->name, s->id);
            goto fail;
        }
    }
    if (remove_gone(&d, &gone, &kept, res, err) != 0) {
        cdc_err_wrap(err, "table %s.%s: removing an unreferenced file", id->ns, id->name);
        rc = -1;
        goto fail;
    }
    if (c->orphan_age_ms >= 0 && strncmp(now->location, "file:", 5) == 0 &&
        orphan_pass(&d, now, &kept, res, err) != 0) {
        cdc_err_wrap(err, "table %s.%s: orphan files", id->ns, id->name);
        rc = -1;
        goto fail;
    }
    rc = 0;
    if (committed) {
        *committed = now;
        now = NULL;
    }
fail:
    uset_free(&kept);
    uset_free(&gone);
    ice_meta_free(now);
    free(now_loc);
    build_clear(&b);
    return rc;
}

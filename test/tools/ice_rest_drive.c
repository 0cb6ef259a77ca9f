/*
 * Drives the Iceberg REST catalog client (sinks/iceberg/catalog/ice_rest.c) against a real
 * REST catalog (test/integration/650: Iceberg's RESTCatalogServer from test/lib/iceberg_rest.sh).
 *
 *   ice_rest_drive URI CMD ARGS...
 *     config                          prints "prefix=<prefix>"
 *     ns-ensure NS                    creates the namespace when missing; prints "ok"
 *     ns-exists NS                    prints "yes" or "no"
 *     create NS T LOCATION            creates T (format v2: id long required, the identifier
 *                                     field; name string; no partitions) through
 *                                     ice_rest_create_request_from_metadata; prints "created
 *                                     <metadata-location>" or "exists"
 *     load NS T                       prints "uuid=... current=<id|-1> snapshots=N
 *                                     last-seq=N schema=<id> location=<metadata-location>"
 *     append NS T ID MANIFEST_LIST [K=V...]
 *                                     ice_rest_commit_retry of one append snapshot ID on the
 *                                     current one (assert-table-uuid, assert-ref-snapshot-id,
 *                                     add-snapshot, set-snapshot-ref main); K=V go into its
 *                                     summary; prints "committed builds=N current=ID"
 *     race NS T OTHER_ID ID MANIFEST_LIST
 *                                     as append, but between the first load and its commit a
 *                                     second client commits OTHER_ID (the concurrent writer):
 *                                     the first commit gets 409, the loop reloads and builds
 *                                     again on OTHER_ID; prints "committed builds=N
 *                                     conflicts=N current=ID parent=OTHER_ID"
 *     race-cmd NS T ID CMD            as append, but the concurrent writer is the shell command
 *                                     CMD (run between the first load and its commit), and
 *                                     each build reuses the current snapshot's manifest list
 *                                     (an append of nothing that keeps every row); prints
 *                                     "committed builds=N conflicts=N current=ID parent=P"
 *     cat-race NS T OTHER_ID ID MANIFEST_LIST
 *                                     race through the catalog interface (ice_rest_cat_open,
 *                                     ice_cat_commit_retry); prints "committed builds=N
 *                                     current=ID"
 *     stale NS T BASE_ID ID MANIFEST_LIST   one commit asserting main is at BASE_ID;
 *                                     prints "conflict: <message>" or "ok"
 *     add-column NS T NAME TYPE       add-schema (current fields + NAME, a new id) and
 *                                     set-current-schema -1, asserting the current schema id;
 *                                     prints "schema=<id>"
 *     list NS                         one table name a line
 *     drop NS T                       prints "dropped" or "missing"
 *
 * The credential comes from ICE_REST_CREDENTIAL ("id:secret"), a token from ICE_REST_TOKEN;
 * ICE_REST_WAREHOUSE is sent to /v1/config.  Exit 1 with the error on stderr.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/core/cdc_clock.h"
#include "sinks/iceberg/catalog/ice_rest.h"

static const char *uri;

static ice_rest *
open_client(void)
{
    ice_rest_conf conf = { 0 };
    cdc_err       err = { 0 };
    ice_rest     *c;

    conf.uri = uri;
    conf.credential = getenv("ICE_REST_CREDENTIAL");
    conf.token = getenv("ICE_REST_TOKEN");
    conf.warehouse = getenv("ICE_REST_WAREHOUSE");
    conf.retry.max_attempts = 5;
    conf.retry.initial_ms = 100;
    conf.retry.max_ms = 1000;
    if ((c = ice_rest_new(&conf, &err)) == NULL) {
        fprintf(stderr, "ice_rest_drive: %s\n", err.msg);
        exit(1);
    }
    return c;
}

static int
die(const cdc_err *err)
{
    fprintf(stderr, "ice_rest_drive: %s\n", err->msg);
    return 1;
}

static int64_t
jint(json_t *o, const char *k, int64_t dflt)
{
    json_t *v = json_object_get(o, k);

    return json_is_integer(v) ? (int64_t) json_integer_value(v) : dflt;
}

/* One append snapshot on top of the loaded table. */
typedef struct append {
    int64_t      id;
    const char  *manifest_list;
    char *const *kv;
    int          nkv;
    int          builds;
    /* race: before the first commit, another client commits other_id */
    int64_t      other_id;
    ice_rest    *other;
    const char  *ns, *table;
    /* race-cmd: the other writer is a command; the manifest list is the parent's */
    const char  *other_cmd;
    char        *parent_ml;
} append;

static const char *
str_of(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));

    return s ? s : "";
}

static int build_append(void *ud, const ice_rest_table *cur, const ice_rest_build_info *info,
                        char **requirements, char **updates, cdc_err *err);

static char *
snapshot_json(const ice_rest_table *cur, int64_t id, const char *manifest_list, char *const *kv,
              int nkv)
{
    json_t *md = cur->metadata, *snap, *sum;
    int64_t parent = jint(md, "current-snapshot-id", -1);
    char   *s;
    int     i;

    sum = json_pack("{s:s}", "operation", "append");
    for (i = 0; i < nkv; i++) {
        const char *eq = strchr(kv[i], '=');

        if (eq) {
            char *k = strndup(kv[i], (size_t) (eq - kv[i]));

            json_object_set_new(sum, k, json_string(eq + 1));
            free(k);
        }
    }
    snap = json_pack("{s:I, s:I, s:I, s:s, s:o, s:i}", "snapshot-id", (json_int_t) id,
                     "sequence-number", (json_int_t) (jint(md, "last-sequence-number", 0) + 1),
                     "timestamp-ms", (json_int_t) cdc_wall_ms(), "manifest-list", manifest_list,
                     "summary", sum, "schema-id", (int) jint(md, "current-schema-id", 0));
    if (parent >= 0)
        json_object_set_new(snap, "parent-snapshot-id", json_integer(parent));
    s = json_dumps(snap, JSON_COMPACT);
    json_decref(snap);
    return s;
}

static int
build_append(void *ud, const ice_rest_table *cur, const ice_rest_build_info *info,
             char **requirements, char **updates, cdc_err *err)
{
    append     *a = ud;
    json_t     *req = json_array(), *upd = json_array();
    const char *uuid = json_string_value(json_object_get(cur->metadata, "table-uuid"));
    int64_t     base = jint(cur->metadata, "current-snapshot-id", -1);
    char       *snap;
    int         rc = -1;

    a->builds++;
    if (a->other_cmd) {   /* the current snapshot's manifest list */
        json_t *s;
        size_t  i;

        free(a->parent_ml);
        a->parent_ml = NULL;
        json_array_foreach(json_object_get(cur->metadata, "snapshots"), i, s) {
            if (jint(s, "snapshot-id", -2) == base)
                a->parent_ml = strdup(str_of(s, "manifest-list"));
        }
        if (a->parent_ml == NULL || a->parent_ml[0] == '\0') {
            json_decref(req);
            json_decref(upd);
            return cdc_err_set(err, CDC_E_INVAL, "race-cmd: the table has no current snapshot");
        }
        a->manifest_list = a->parent_ml;
    }
    if (info->state_unknown) {   /* did our snapshot land before the answer was lost? */
        json_t *s;
        size_t  i;

        json_array_foreach(json_object_get(cur->metadata, "snapshots"), i, s) {
            if (jint(s, "snapshot-id", -1) == a->id) {
                json_decref(req);
                json_decref(upd);
                return 1;
            }
        }
    }
    snap = snapshot_json(cur, a->id, a->manifest_list, a->kv, a->nkv);
    if (ice_rest_req_assert_uuid(req, uuid, err) == 0 &&
        ice_rest_req_assert_ref_snapshot(req, "main", base, err) == 0 &&
        ice_rest_upd_add_snapshot(upd, snap, err) == 0 &&
        ice_rest_upd_set_ref(upd, "main", a->id, err) == 0) {
        *requirements = json_dumps(req, JSON_COMPACT);
        *updates = json_dumps(upd, JSON_COMPACT);
        rc = 0;
    }
    free(snap);
    json_decref(req);
    json_decref(upd);
    if (rc == 0 && a->other_cmd && info->attempt == 1) {
        int st = system(a->other_cmd);

        if (st != 0) {
            free(*requirements);
            free(*updates);
            return cdc_err_set(err, CDC_E_INVAL, "the concurrent writer's command failed (%d)", st);
        }
    }
    if (rc == 0 && a->other && info->attempt == 1) {
        /* the concurrent writer commits between our load and our commit */
        append o = { .id = a->other_id, .manifest_list = a->manifest_list };
        cdc_err oerr = { 0 };

        if (ice_rest_commit_retry(a->other, a->ns, a->table, 1, build_append, &o, NULL, &oerr) != 0) {
            free(*requirements);
            free(*updates);
            return cdc_err_set(err, oerr.code, "the concurrent writer failed: %s", oerr.msg);
        }
    }
    return rc;
}

/* cat-race: the same append as an ice_cat builder. */
typedef struct cat_append {
    append  a;
    char   *req, *upd;
} cat_append;

static int
cat_build(void *ud, const ice_cat_table *cur, ice_cat_change *cm, cdc_err *err)
{
    cat_append         *ca = ud;
    ice_rest_table      t = { 0 };
    ice_rest_build_info info = { .attempt = ca->a.builds + 1 };
    int                 rc;

    free(ca->req);
    free(ca->upd);
    ca->req = ca->upd = NULL;
    if ((t.metadata = json_loads(cur->metadata_json, 0, NULL)) == NULL)
        return cdc_err_set(err, CDC_E_DEST, "the loaded metadata is not JSON");
    rc = build_append(&ca->a, &t, &info, &ca->req, &ca->upd, err);
    ice_rest_table_free(&t);
    cm->requirements_json = ca->req;
    cm->updates_json = ca->upd;
    return rc;
}

static int
print_name(void *ud, const char *name)
{
    (void) ud;
    printf("%s\n", name);
    return 0;
}

/* "committed builds=N conflicts=N current=ID parent=ID" for a's snapshot in t. */
static void
print_committed(ice_rest *c, const ice_rest_table *t, const append *a)
{
    ice_rest_stats st;
    json_t        *snap = NULL, *s;
    size_t         i;

    ice_rest_stats_get(c, &st);
    json_array_foreach(json_object_get(t->metadata, "snapshots"), i, s) {
        if (jint(s, "snapshot-id", -1) == a->id)
            snap = s;
    }
    printf("committed builds=%d conflicts=%" PRIu64 " current=%" PRId64 " parent=%" PRId64 "\n",
           a->builds, st.conflicts, jint(t->metadata, "current-snapshot-id", -1),
           snap ? jint(snap, "parent-snapshot-id", -1) : -1);
}

int
main(int argc, char **argv)
{
    cdc_err        err = { 0 };
    ice_rest      *c;
    ice_rest_table t = { 0 };
    const char    *cmd;
    int            rc = 0;

    if (argc < 3) {
        fprintf(stderr, "usage: ice_rest_drive URI CMD ARGS... (see the source)\n");
        return 2;
    }
    uri = argv[1];
    cmd = argv[2];
    if (cdc_http_global_init(&err) < 0)
        return die(&err);
    c = open_client();
    if (strcmp(cmd, "config") == 0) {
        printf("prefix=%s\n", ice_rest_prefix(c));
    } else if (strcmp(cmd, "ns-ensure") == 0 && argc == 4) {
        if (ice_rest_ns_ensure(c, argv[3], &err) < 0)
            rc = die(&err);
        else
            printf("ok\n");
    } else if (strcmp(cmd, "ns-exists") == 0 && argc == 4) {
        int r = ice_rest_ns_exists(c, argv[3], &err);

        if (r < 0)
            rc = die(&err);
        else
            printf("%s\n", r == 0 ? "yes" : "no");
    } else if (strcmp(cmd, "create") == 0 && argc == 6) {
        char  md[1024];
        char *req;
        int   r;

        snprintf(md, sizeof md,
                 "{\"format-version\":2,\"location\":\"%s\",\"current-schema-id\":0,"
                 "\"schemas\":[{\"type\":\"struct\",\"schema-id\":0,\"identifier-field-ids\":[1],"
                 "\"fields\":[{\"id\":1,\"name\":\"id\",\"required\":true,\"type\":\"long\"},"
                 "{\"id\":2,\"name\":\"name\",\"required\":false,\"type\":\"string\"}]}],"
                 "\"default-spec-id\":0,\"partition-specs\":[{\"spec-id\":0,\"fields\":[]}],"
                 "\"default-sort-order-id\":0,\"sort-orders\":[{\"order-id\":0,\"fields\":[]}],"
                 "\"properties\":{\"cdc.created-by\":\"ice_rest_drive\"}}", argv[5]);
        if ((req = ice_rest_create_request_from_metadata(md, &err)) == NULL)
            return die(&err);
        r = ice_rest_create(c, argv[3], argv[4], req, &t, &err);
        free(req);
        if (r == ICE_REST_EXISTS)
            printf("exists\n");
        else if (r != 0)
            rc = die(&err);
        else
            printf("created %s\n", t.metadata_location);
    } else if (strcmp(cmd, "load") == 0 && argc == 5) {
        int r = ice_rest_load(c, argv[3], argv[4], &t, &err);

        if (r == ICE_REST_NOT_FOUND)
            printf("missing\n");
        else if (r != 0)
            rc = die(&err);
        else
            printf("uuid=%s current=%" PRId64 " snapshots=%zu last-seq=%" PRId64
                   " schema=%" PRId64 " location=%s\n",
                   str_of(t.metadata, "table-uuid"), jint(t.metadata, "current-snapshot-id", -1),
                   json_array_size(json_object_get(t.metadata, "snapshots")),
                   jint(t.metadata, "last-sequence-number", 0),
                   jint(t.metadata, "current-schema-id", -1), t.metadata_location);
    } else if ((strcmp(cmd, "append") == 0 && argc >= 7) ||
               (strcmp(cmd, "race") == 0 && argc == 8)) {
        bool           race = strcmp(cmd, "race") == 0;
        append         a = { .ns = argv[3], .table = argv[4] };
        int            r;

        if (race) {
            a.other_id = strtoll(argv[5], NULL, 10);
            a.id = strtoll(argv[6], NULL, 10);
            a.manifest_list = argv[7];
            a.other = open_client();
        } else {
            a.id = strtoll(argv[5], NULL, 10);
            a.manifest_list = argv[6];
            a.kv = argv + 7;
            a.nkv = argc - 7;
        }
        r = ice_rest_commit_retry(c, argv[3], argv[4], 5, build_append, &a, &t, &err);
        ice_rest_free(a.other);
        if (r != 0)
            rc = die(&err);
        else
            print_committed(c, &t, &a);
    } else if (strcmp(cmd, "race-cmd") == 0 && argc == 7) {
        append a = { .ns = argv[3], .table = argv[4], .other_cmd = argv[6] };

        a.id = strtoll(argv[5], NULL, 10);
        if (ice_rest_commit_retry(c, argv[3], argv[4], 5, build_append, &a, &t, &err) != 0)
            rc = die(&err);
        else
            print_committed(c, &t, &a);
        free(a.parent_ml);
    } else if (strcmp(cmd, "cat-race") == 0 && argc == 8) {
        ice_rest_conf conf = { 0 };
        ice_cat      *cat;
        ice_cat_ident id = { argv[3], argv[4] };
        ice_cat_table ct = { 0 };
        cat_append    ca = { .a = { .ns = argv[3], .table = argv[4] } };

        conf.uri = uri;
        conf.credential = getenv("ICE_REST_CREDENTIAL");
        if ((cat = ice_rest_cat_open(&conf, &err)) == NULL)
            return die(&err);
        ca.a.other_id = strtoll(argv[5], NULL, 10);
        ca.a.id = strtoll(argv[6], NULL, 10);
        ca.a.manifest_list = argv[7];
        ca.a.other = open_client();
        if (ice_cat_commit_retry(cat, &id, 5, cat_build, &ca, &ct, &err) != 0)
            rc = die(&err);
        else {
            json_t *md = json_loads(ct.metadata_json, 0, NULL);

            printf("committed builds=%d current=%" PRId64 "\n", ca.a.builds,
                   jint(md, "current-snapshot-id", -1));
            json_decref(md);
        }
        ice_cat_table_free(&ct);
        ice_rest_free(ca.a.other);
        free(ca.req);
        free(ca.upd);
        ice_cat_close(cat);
    } else if (strcmp(cmd, "stale") == 0 && argc == 8) {
        ice_rest_table cur = { 0 };
        json_t        *req = json_array(), *upd = json_array();
        char          *snap, *rs, *us;
        int            r;

        if (ice_rest_load(c, argv[3], argv[4], &cur, &err) != 0)
            return die(&err);
        snap = snapshot_json(&cur, strtoll(argv[6], NULL, 10), argv[7], NULL, 0);
        ice_rest_req_assert_ref_snapshot(req, "main", strtoll(argv[5], NULL, 10), &err);
        ice_rest_upd_add_snapshot(upd, snap, &err);
        ice_rest_upd_set_ref(upd, "main", strtoll(argv[6], NULL, 10), &err);
        rs = json_dumps(req, JSON_COMPACT);
        us = json_dumps(upd, JSON_COMPACT);
        r = ice_rest_commit(c, argv[3], argv[4], rs, us, NULL, NULL, &err);
        if (r == ICE_REST_CONFLICT)
            printf("conflict: %s\n", err.msg);
        else if (r != 0)
            rc = die(&err);
        else
            printf("ok\n");
        free(snap);
        free(rs);
        free(us);
        json_decref(req);
        json_decref(upd);
        ice_rest_table_free(&cur);
    } else if (strcmp(cmd, "add-column") == 0 && argc == 7) {
        ice_rest_table cur = { 0 };
        json_t        *req = json_array(), *upd = json_array(), *schema, *s;
        int64_t        sid, max_id = 0;
        char          *ss, *rs, *us;
        size_t         i;
        int            r;

        if (ice_rest_load(c, argv[3], argv[4], &cur, &err) != 0)
            return die(&err);
        sid = jint(cur.metadata, "current-schema-id", 0);
        schema = NULL;
        json_array_foreach(json_object_get(cur.metadata, "schemas"), i, s) {
            if (jint(s, "schema-id", -1) == sid)
                schema = json_deep_copy(s);
        }
        max_id = jint(cur.metadata, "last-column-id", 0);
        json_object_del(schema, "schema-id");
        json_array_append_new(json_object_get(schema, "fields"),
                              json_pack("{s:I, s:s, s:b, s:s}", "id", (json_int_t) (max_id + 1),
                                        "name", argv[5], "required", 0, "type", argv[6]));
        ss = json_dumps(schema, JSON_COMPACT);
        ice_rest_req_assert_schema_id(req, (int) sid, &err);
        ice_rest_upd_add_schema(upd, ss, &err);
        ice_rest_upd_set_current_schema(upd, -1, &err);
        rs = json_dumps(req, JSON_COMPACT);
        us = json_dumps(upd, JSON_COMPACT);
        r = ice_rest_commit(c, argv[3], argv[4], rs, us, &t, NULL, &err);
        if (r != 0)
            rc = die(&err);
        else
            printf("schema=%" PRId64 "\n", jint(t.metadata, "current-schema-id", -1));
        free(ss);
        free(rs);
        free(us);
        json_decref(schema);
        json_decref(req);
        json_decref(upd);
        ice_rest_table_free(&cur);
    } else if (strcmp(cmd, "list") == 0 && argc == 4) {
        if (ice_rest_list(c, argv[3], print_name, NULL, &err) != 0)
            rc = die(&err);
    } else if (strcmp(cmd, "drop") == 0 && argc == 5) {
        int r = ice_rest_drop(c, argv[3], argv[4], &err);

        if (r == ICE_REST_NOT_FOUND)
            printf("missing\n");
        else if (r != 0)
            rc = die(&err);
        else
            printf("dropped\n");
    } else {
        fprintf(stderr, "ice_rest_drive: unknown command or wrong arguments: %s\n", cmd);
        rc = 2;
    }
    ice_rest_table_free(&t);
    ice_rest_free(c);
    cdc_http_global_cleanup();
    return rc;
}

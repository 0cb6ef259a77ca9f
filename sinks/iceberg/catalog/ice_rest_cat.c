/*
 * The REST catalog behind the catalog interface (ice_catalog.h): the ops call ice_rest.c.
 * See ice_rest.h, "the catalog interface".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sinks/iceberg/catalog/ice_rest.h"

typedef struct rest_cat {
    ice_cat   base;      /* first: an ice_cat * is a rest_cat * */
    ice_rest *client;
} rest_cat;

static const ice_cat_ops rest_ops;

static rest_cat *
rc_of(ice_cat *c)
{
    return (rest_cat *) c;
}

/* ICE_REST_* and ICE_CAT_* share their values; this keeps it explicit. */
static int
map_rc(int rc)
{
    switch (rc) {
    case ICE_REST_OK:        return ICE_CAT_OK;
    case ICE_REST_NOT_FOUND: return ICE_CAT_NOT_FOUND;
    case ICE_REST_EXISTS:    return ICE_CAT_EXISTS;
    case ICE_REST_CONFLICT:  return ICE_CAT_CONFLICT;
    default:                 return -1;
    }
}

static void
take(ice_rest_table *t, ice_cat_table *out)
{
    if (out) {
        out->metadata_location = t->metadata_location;
        out->metadata_json = t->metadata_json;
        t->metadata_location = NULL;
        t->metadata_json = NULL;
    }
    ice_rest_table_free(t);
}

static int
rest_load(ice_cat *c, const ice_cat_ident *id, ice_cat_table *out, cdc_err *err)
{
    ice_rest_table t = { 0 };
    int            rc = ice_rest_load(rc_of(c)->client, id->ns, id->name, &t, err);

    if (rc == 0)
        take(&t, out);
    return map_rc(rc);
}

/*
 * Creates the table as Iceberg's own RESTCatalog commits a create transaction: a commit with
 * the requirement assert-create and the table's updates (add-schema keeps the field ids; a
 * CreateTableRequest's schema is numbered afresh by the server, which differs from ours when
 * a list column is followed by another column).  A server that does not take a create through
 * a commit (404, 400, ...) gets the CreateTableRequest instead; the sink then compares the ids.
 */
static int
rest_create(ice_cat *c, const ice_cat_ident *id, const ice_cat_new_table *nt, ice_cat_table *out,
            cdc_err *err)
{
    ice_rest      *r = rc_of(c)->client;
    ice_rest_table t = { 0 };
    char          *req, *upd;
    int            rc;

    if (nt->metadata_json == NULL)
        return cdc_err_set(err, CDC_E_INVAL, "%s: create %s.%s: no metadata document to build "
                           "the CreateTableRequest from", c->what, id->ns, id->name);
    if ((req = ice_rest_create_request_from_metadata(nt->metadata_json, err)) == NULL)
        return cdc_err_wrap(err, "%s: create %s.%s", c->what, id->ns, id->name);
    if (ice_rest_ns_ensure(r, id->ns, err) < 0) {
        free(req);
        return -1;
    }
    if ((upd = ice_rest_create_updates_from_metadata(nt->metadata_json, NULL)) != NULL) {
        cdc_err e2 = { 0 };

        rc = ice_rest_commit(r, id->ns, id->name, "[{\"type\":\"assert-create\"}]", upd,
                             &t, NULL, &e2);
        free(upd);
        if (rc == ICE_REST_OK) {
            free(req);
            take(&t, out);
            return ICE_CAT_OK;
        }
        ice_rest_table_free(&t);
        if (rc == ICE_REST_CONFLICT) {     /* assert-create failed: the table exists */
            free(req);
            cdc_err_set(err, CDC_E_DEST, "%s: table %s.%s already exists", c->what, id->ns,
                        id->name);
            return ICE_CAT_EXISTS;
        }
        if (rc < 0 && (cdc_rc_retriable(e2.code) || e2.code == CDC_E_CONFIG)) {
            free(req);     /* unreachable, or our credentials refused: not a matter of the API */
            *err = e2;
            return -1;
        }
    }
    rc = ice_rest_create(r, id->ns, id->name, req, &t, err);
    free(req);
    if (rc == 0)
        take(&t, out);
    return map_rc(rc);
}

static int
rest_commit(ice_cat *c, const ice_cat_ident *id, const ice_cat_change *cm, ice_cat_table *out,
            cdc_err *err)
{
    ice_rest_table t = { 0 };
    int            rc;

    if (cm->updates_json == NULL)
        return cdc_err_set(err, CDC_E_INVAL, "%s: commit to %s.%s: the REST catalog commits "
                           "table updates, and the change has none (updates_json)", c->what,
                           id->ns, id->name);
    rc = ice_rest_commit(rc_of(c)->client, id->ns, id->name, cm->requirements_json,
                         cm->updates_json, out ? &t : NULL, NULL, err);
    if (rc == 0)
        take(&t, out);
    return map_rc(rc);
}

/* The caller's callback, and whether it stopped the listing (its return may be any value,
   ICE_REST_NOT_FOUND's included). */
typedef struct list_ctx {
    ice_cat_name_cb cb;
    void           *ud;
    bool            stopped;
} list_ctx;

static int
list_one(void *ud, const char *name)
{
    list_ctx *l = ud;
    int       rc = l->cb(l->ud, name);

    l->stopped = rc != 0;
    return rc;
}

static int
rest_list(ice_cat *c, const char *ns, ice_cat_name_cb cb, void *ud, cdc_err *err)
{
    list_ctx l = { cb, ud, false };
    int      rc = ice_rest_list(rc_of(c)->client, ns, list_one, &l, err);

    /* no such namespace: no tables (the interface's list has no NOT_FOUND) */
    return rc == ICE_REST_NOT_FOUND && !l.stopped ? ICE_CAT_OK : rc;
}

static int
rest_drop(ice_cat *c, const ice_cat_ident *id, cdc_err *err)
{
    return map_rc(ice_rest_drop(rc_of(c)->client, id->ns, id->name, err));
}

static void
rest_close(ice_cat *c)
{
    ice_rest_free(rc_of(c)->client);
    free(c);
}

static const ice_cat_ops rest_ops = {
    .kind = "rest",
    .load = rest_load,
    .create = rest_create,
    .commit = rest_commit,
    .list = rest_list,
    .drop = rest_drop,
    .close = rest_close,
};

ice_cat *
ice_rest_cat_open(const ice_rest_conf *conf, cdc_err *err)
{
    rest_cat *c;
    ice_rest *r = ice_rest_new(conf, err);

    if (r == NULL)
        return NULL;
    if ((c = calloc(1, sizeof *c)) == NULL) {
        ice_rest_free(r);
        cdc_err_set(err, CDC_E_NOMEM, "REST catalog: out of memory");
        return NULL;
    }
    c->base.ops = &rest_ops;
    snprintf(c->base.what, sizeof c->base.what, "%s", ice_rest_what(r));
    c->client = r;
    return &c->base;
}

ice_rest *
ice_rest_cat_client(ice_cat *c)
{
    return c && c->ops == &rest_ops ? rc_of(c)->client : NULL;
}

/*
 * The calls of ice_catalog.h through the ops table, and the reload-and-retry
 * loop every implementation shares.
 */
#include "sinks/iceberg/catalog/ice_catalog.h"

#include <stdlib.h>
#include <string.h>

static int
check(const ice_cat *c, const ice_cat_ident *id, const char *op, cdc_err *err)
{
    if (c == NULL || c->ops == NULL)
        return cdc_err_set(err, CDC_E_INVAL, "iceberg catalog %s: no catalog", op);
    if (id == NULL || id->ns == NULL || id->ns[0] == '\0' || id->name == NULL ||
        id->name[0] == '\0')
        return cdc_err_set(err, CDC_E_INVAL, "%s: %s: a table needs a namespace and a name "
                           "(got \"%s\".\"%s\")", c->what, op,
                           id != NULL && id->ns != NULL ? id->ns : "",
                           id != NULL && id->name != NULL ? id->name : "");
    return 0;
}

int
ice_cat_load(ice_cat *c, const ice_cat_ident *id, ice_cat_table *out, cdc_err *err)
{
    if (check(c, id, "load", err) != 0)
        return -1;
    if (out == NULL)
        return cdc_err_set(err, CDC_E_INVAL, "%s: load: no result", c->what);
    memset(out, 0, sizeof(*out));
    return c->ops->load(c, id, out, err);
}

int
ice_cat_create(ice_cat *c, const ice_cat_ident *id, const ice_cat_new_table *nt,
               ice_cat_table *out, cdc_err *err)
{
    if (check(c, id, "create", err) != 0)
        return -1;
    if (nt == NULL || out == NULL)
        return cdc_err_set(err, CDC_E_INVAL, "%s: create %s.%s: nothing to create", c->what,
                           id->ns, id->name);
    memset(out, 0, sizeof(*out));
    return c->ops->create(c, id, nt, out, err);
}

int
ice_cat_commit(ice_cat *c, const ice_cat_ident *id, const ice_cat_change *cm,
               ice_cat_table *out, cdc_err *err)
{
    if (check(c, id, "commit", err) != 0)
        return -1;
    if (cm == NULL)
        return cdc_err_set(err, CDC_E_INVAL, "%s: commit %s.%s: nothing to commit", c->what,
                           id->ns, id->name);
    if (out != NULL)
        memset(out, 0, sizeof(*out));
    return c->ops->commit(c, id, cm, out, err);
}

int
ice_cat_list(ice_cat *c, const char *ns, ice_cat_name_cb cb, void *ud, cdc_err *err)
{
    if (c == NULL || c->ops == NULL || ns == NULL || ns[0] == '\0' || cb == NULL)
        return cdc_err_set(err, CDC_E_INVAL, "iceberg catalog list: no catalog, namespace or "
                           "callback");
    return c->ops->list(c, ns, cb, ud, err);
}

int
ice_cat_drop(ice_cat *c, const ice_cat_ident *id, cdc_err *err)
{
    if (check(c, id, "drop", err) != 0)
        return -1;
    return c->ops->drop(c, id, err);
}

void
ice_cat_close(ice_cat *c)
{
    if (c != NULL && c->ops != NULL)
        c->ops->close(c);
}

void
ice_cat_table_free(ice_cat_table *t)
{
    if (t == NULL)
        return;
    free(t->metadata_location);
    free(t->metadata_json);
    t->metadata_location = NULL;
    t->metadata_json = NULL;
}

int
ice_cat_commit_retry(ice_cat *c, const ice_cat_ident *id, int max_attempts,
                     ice_cat_build_fn build, void *ud, ice_cat_table *out, cdc_err *err)
{
    ice_cat_table cur;
    int           attempt, rc;

    if (check(c, id, "commit", err) != 0)
        return -1;
    if (build == NULL)
        return cdc_err_set(err, CDC_E_INVAL, "%s: commit %s.%s: no builder", c->what, id->ns,
                           id->name);
    if (max_attempts <= 0)
        max_attempts = 10;
    for (attempt = 1;; attempt++) {
        ice_cat_change cm;

        rc = ice_cat_load(c, id, &cur, err);
        if (rc != ICE_CAT_OK)
            return rc;
        memset(&cm, 0, sizeof(cm));
        if (build(ud, &cur, &cm, err) != 0) {
            ice_cat_table_free(&cur);
            return cdc_err_ensure(err, "building the commit of %s.%s", id->ns, id->name);
        }
        if (cm.base_location == NULL)
            cm.base_location = cur.metadata_location;
        rc = ice_cat_commit(c, id, &cm, out, err);
        ice_cat_table_free(&cur);
        if (rc != ICE_CAT_CONFLICT)
            return rc;
        if (attempt >= max_attempts) {
            cdc_err_wrap(err, "gave up after %d attempts", attempt);
            return ICE_CAT_CONFLICT;
        }
    }
}

#include "sinks/iceberg/ice_open.h"

#include <stdio.h>
#include <string.h>

#include "sinks/iceberg/catalog/ice_rest.h"
#include "sinks/iceberg/catalog/ice_sql.h"

int
ice_open_catalog(const dest_iceberg_conf *c, const char *warehouse, ice_cat **cat,
                 cdc_err *err)
{
    const char *u = c->catalog_uri ? c->catalog_uri : "";

    if (strncmp(u, "sqlite:", 7) == 0 || strncmp(u, "postgresql", 10) == 0 ||
        strncmp(u, "postgres:", 9) == 0) {
        ice_sql_conf sc = { .uri = u, .catalog_name = c->catalog_name };

        return ice_sql_open(&sc, cat, err);
    }
    if (strncmp(u, "http://", 7) == 0 || strncmp(u, "https://", 8) == 0) {
        ice_rest_conf rc = { .uri = u, .warehouse = warehouse, .retry = c->retry,
                             .credential = c->rest_credential, .token = c->rest_token,
                             .scope = c->rest_scope, .oauth_uri = c->rest_oauth2_server_uri };

        *cat = ice_rest_cat_open(&rc, err);
        return *cat ? 0 : -1;
    }
    return cdc_err_set(err, CDC_E_CONFIG, "catalog_uri: \"%.40s...\" is none of the known forms "
                       "(sqlite:///path, postgresql://..., http(s)://... for a REST catalog)", u);
}

int
ice_open_store(const dest_iceberg_conf *c, const char *warehouse, const char *probe_id,
               ice_store **st, cdc_aws_provider **aws, cdc_err *err)
{
    ice_uri        u;
    ice_store_conf sc = { 0 };
    char           probe[1300];

    *st = NULL;
    *aws = NULL;
    if (ice_store_parse_uri(warehouse, &u, err) < 0)
        return cdc_err_wrap(err, "warehouse");
    sc.s3.endpoint = c->s3_endpoint && *c->s3_endpoint ? c->s3_endpoint : NULL;
    sc.s3.region = c->s3_region && *c->s3_region ? c->s3_region : NULL;
    sc.s3.retry = c->retry;
    if (c->s3_access_key_id && *c->s3_access_key_id) {
        sc.s3.access_key_id = c->s3_access_key_id;
        sc.s3.secret_access_key = c->s3_secret_access_key;
    } else if (u.scheme == ICE_URI_S3) {
        cdc_aws_opts ao = { .region = sc.s3.region };

        if ((*aws = cdc_aws_provider_new(&ao, err)) == NULL)
            return cdc_err_wrap(err, "warehouse %s: AWS credentials", warehouse);
        sc.s3.provider = *aws;
    }
    if ((*st = ice_store_new(&sc, err)) == NULL)
        return cdc_err_wrap(err, "warehouse %s", warehouse);
    if (probe_id == NULL)
        return 0;
    /* Writable?  A small file put and removed, where the tables go. */
    snprintf(probe, sizeof(probe), "%s/.cdcagent-probe-%s", warehouse, probe_id);
    if (ice_store_put(*st, probe, "probe\n", 6, err) < 0)
        return cdc_err_wrap(err, "the warehouse is not writable");
    if (ice_store_delete(*st, probe, err) < 0)
        return cdc_err_wrap(err, "the warehouse is not writable");
    return 0;
}

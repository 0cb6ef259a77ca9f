/*
 * Opening what an Iceberg sink's configuration names: its catalog
 * (catalog_uri: the SQL catalog on SQLite or PostgreSQL, or a REST catalog)
 * and its warehouse (file:// or s3://, credentials from the s3_* keys or the
 * AWS chain).  The sink (iceberg.c) and `cdcagent verify` (agent/cmd/
 * verify_iceberg.c) open them the same way through these.
 */
#ifndef CDC_SINKS_ICEBERG_ICE_OPEN_H
#define CDC_SINKS_ICEBERG_ICE_OPEN_H

#include "agent/core/cdc_err.h"
#include "agent/core/net/aws_creds.h"
#include "sinks/iceberg/catalog/ice_catalog.h"
#include "sinks/iceberg/iceberg.h"
#include "sinks/iceberg/store/store.h"

/*
 * The catalog of c->catalog_uri: sqlite:///path and postgresql://... (the
 * SQL catalog named c->catalog_name), http(s)://... (a REST catalog, given
 * `warehouse`).  @returns 0 with *cat set (ice_cat_close()), or -1 with err
 * set (an unknown form: CDC_E_CONFIG, without the URI's secrets).
 */
int ice_open_catalog(const dest_iceberg_conf *c, const char *warehouse, ice_cat **cat,
                     cdc_err *err);

/*
 * The store for `warehouse` (no trailing '/').  Without s3_access_key_id an
 * s3:// warehouse takes its credentials from the AWS chain: *aws then holds
 * the provider (free it with cdc_aws_provider_free() after the store), else
 * NULL.  probe_id non-NULL: the warehouse must be writable (a small file
 * <warehouse>/.cdcagent-probe-<probe_id> is put and removed); NULL: no
 * check, for a reader.  @returns 0 with *st set (ice_store_free()), or -1
 * with err set naming the warehouse.
 */
int ice_open_store(const dest_iceberg_conf *c, const char *warehouse, const char *probe_id,
                   ice_store **st, cdc_aws_provider **aws, cdc_err *err);

#endif

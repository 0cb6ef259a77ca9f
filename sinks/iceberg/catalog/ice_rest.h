/*
 * The Iceberg REST catalog client (the REST Catalog API, open-api/rest-catalog-open-api.yaml
 * of apache/iceberg), over agent/core/net/http.h.  What the sink needs of it:
 *
 *   GET  /v1/config[?warehouse=W]                        once, at ice_rest_new: the prefix
 *                                                        and uri the server hands out
 *   GET/POST /v1/{prefix}/namespaces[/{ns}]              namespaces, created when missing
 *   GET/POST/DELETE /v1/{prefix}/namespaces/{ns}/tables[/{t}]   load, create, list, drop
 *   POST /v1/{prefix}/namespaces/{ns}/tables/{t}         commit: requirements + updates
 *   POST /v1/oauth/tokens (or conf.oauth_uri)            OAuth2 client credentials
 *
 * Commits.  The REST model commits table UPDATES (add-snapshot, set-snapshot-ref, add-schema,
 * set-current-schema, ...) guarded by REQUIREMENTS (assert-table-uuid,
 * assert-ref-snapshot-id, ...); the server writes the new metadata file.  A failed
 * requirement is 409 CommitFailedException: ice_rest_commit returns ICE_REST_CONFLICT and
 * changes nothing; ice_rest_commit_retry reloads the table and has the caller rebuild its
 * updates on what the other writer committed, never an overwrite.
 *
 * Retries.  No answer, 408, 429 and 5xx are tried again after the program's backoff
 * (cdc_retry, conf.retry), blocking, up to conf.retry.max_attempts; then -1 with
 * CDC_E_CONN / CDC_E_TIMEOUT (retriable).  A commit retried after a 5xx or a lost answer may
 * have been applied by the first attempt (Iceberg's CommitStateUnknownException): the
 * requirements make the retry safe (it cannot apply twice: the ref has moved, so it is a
 * 409), and ice_rest_commit_retry then tells the builder through
 * ice_rest_build_info.state_unknown, so that it looks for its own snapshot in the reloaded
 * table before building again.
 *
 * Authentication.  conf.credential "client_id:client_secret" is exchanged for a token
 * (grant_type=client_credentials, scope conf.scope or "catalog"), cached and fetched again
 * ahead of its expires_in, and at once when the server answers 401 or 419; conf.token is a
 * bearer token used as it is (with a credential as well, the token is used first and the
 * credential after a 401).  Secrets: no message, log line or error built here contains the
 * credential, a token or URL userinfo; error bodies are quoted by their "error.message" only.
 *
 * Errors name the catalog (ice_rest_what: "REST catalog at http://host:port"), the call
 * and the table or namespace, and quote the server's ErrorModel (type and message).
 *
 * Namespaces are strings with levels joined by '.' ("db", "a.b", as pyiceberg writes them);
 * in a URL the levels are joined by the unit separator %1F, as the spec says.
 *
 * @locality one thread; a client owns its HTTP transfer.  The caller holds a
 * cdc_http_global_init() reference while a client lives.
 */
#ifndef CDC_SINKS_ICEBERG_CATALOG_ICE_REST_H
#define CDC_SINKS_ICEBERG_CATALOG_ICE_REST_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "agent/core/cdc_err.h"
#include "agent/core/cdc_retry.h"
#include "agent/core/net/http.h"
#include "sinks/iceberg/catalog/ice_catalog.h"

enum {
    ICE_REST_OK        = 0,
    ICE_REST_NOT_FOUND = 1,   /* 404 NoSuchTableException / NoSuchNamespaceException */
    ICE_REST_EXISTS    = 2,   /* 409 AlreadyExistsException on create */
    ICE_REST_CONFLICT  = 3,   /* 409 CommitFailedException on commit: nothing changed */
};

/* Settings; zero-initialise and set what differs. NULL or "" strings are unset. */
typedef struct ice_rest_conf {
    const char         *uri;          /* the catalog's base URL, e.g. http://127.0.0.1:8181
                                         (without /v1); required */
    const char         *warehouse;    /* sent as ?warehouse= to /v1/config */
    const char         *prefix;       /* overrides the config's "prefix" */
    const char         *credential;   /* OAuth2 "client_id:client_secret" (secret) */
    const char         *token;        /* a bearer token (secret) */
    const char         *scope;        /* OAuth2 scope; unset: "catalog" */
    const char         *oauth_uri;    /* token endpoint (pyiceberg's "oauth2-server-uri");
                                         unset: <uri>/v1/oauth/tokens */
    const cdc_http_tls *tls;          /* NULL: defaults */
    int                 timeout_ms;   /* one request; <= 0: 30000 */
    int                 refresh_early_s; /* fetch a new token this long before expiry; <= 0: 300
                                            (or at half its life when it is shorter than twice that) */
    cdc_retry_conf      retry;        /* answered 5xx/429/408 and unanswered requests */
} ice_rest_conf;

typedef struct ice_rest ice_rest;

/*
 * Checks conf, fetches a token when conf.credential is set, then GET /v1/config.
 * @returns the client, or NULL with err set: CDC_E_CONFIG (a bad setting, refused
 *          credentials, a config answer that is not JSON), CDC_E_CONN / CDC_E_TIMEOUT (the
 *          catalog could not be reached after the retries).
 */
ice_rest *ice_rest_new(const ice_rest_conf *conf, cdc_err *err);
void      ice_rest_free(ice_rest *c);   /* NULL is a no-op; wipes the token and credential */

/* "REST catalog at http://host:port" (no userinfo, query or secrets): for messages. */
const char *ice_rest_what(const ice_rest *c);
/* The prefix in use ("" when none). */
const char *ice_rest_prefix(const ice_rest *c);
/* The catalog's properties as /v1/config gave them: "defaults", then "overrides" over them
   (a JSON object owned by c; e.g. "s3.endpoint", "py-io-impl"). */
const json_t *ice_rest_properties(const ice_rest *c);

/* A table as load, create and commit return it; free with ice_rest_table_free. */
typedef struct ice_rest_table {
    char   *metadata_location;  /* the current metadata file */
    char   *metadata_json;      /* LoadTableResult's "metadata", compact JSON */
    json_t *metadata;           /* the same, parsed (owned) */
    json_t *config;             /* LoadTableResult's "config" (owned; {} when none): table-level
                                   settings such as vended storage credentials (s3.access-key-id,
                                   s3.secret-access-key, s3.session-token: secrets) or
                                   s3.endpoint, which override the catalog's */
} ice_rest_table;

void ice_rest_table_free(ice_rest_table *t);  /* frees, zeroes; NULL is fine */

/* Creates the namespace when it does not exist (a concurrent creation is fine). @returns 0/-1. */
int ice_rest_ns_ensure(ice_rest *c, const char *ns, cdc_err *err);
/* @returns 0 (exists), ICE_REST_NOT_FOUND, or -1. */
int ice_rest_ns_exists(ice_rest *c, const char *ns, cdc_err *err);

/* GET the table. @returns 0 with *out filled, ICE_REST_NOT_FOUND, or -1. */
int ice_rest_load(ice_rest *c, const char *ns, const char *name, ice_rest_table *out,
                  cdc_err *err);

/*
 * POST a CreateTableRequest (a JSON object: "name" is set here from name; "schema"
 * required; "location", "partition-spec", "write-order", "properties" optional).  The
 * namespace must exist (ice_rest_ns_ensure).  The server assigns fresh field ids in the
 * order of the schema; the sink reads them back from out.
 * @returns 0 with *out (may be NULL) filled, ICE_REST_EXISTS, or -1.
 */
int ice_rest_create(ice_rest *c, const char *ns, const char *name, const char *request_json,
                    ice_rest_table *out, cdc_err *err);

/*
 * A CreateTableRequest from a table metadata document (format v1/v2/v3): the current schema,
 * the default partition spec and sort order, location, properties, and format-version as a
 * property.  malloc'd JSON, or NULL with err (CDC_E_INVAL naming the missing field).
 */
char *ice_rest_create_request_from_metadata(const char *metadata_json, cdc_err *err);

/*
 * The same table as a create transaction's updates (a JSON array for ice_rest_commit with the
 * requirement assert-create, as Iceberg's own RESTCatalog commits createTransaction):
 * assign-uuid (table-uuid), upgrade-format-version, add-schema (the current schema, its field
 * ids KEPT: a CreateTableRequest's are assigned afresh by the server, breadth first, which
 * differs from the sink's numbering once a list column is followed by another column),
 * set-current-schema, add-spec, set-default-spec, add-sort-order, set-default-sort-order,
 * set-location, set-properties.  malloc'd JSON, or NULL with err (CDC_E_INVAL).
 */
char *ice_rest_create_updates_from_metadata(const char *metadata_json, cdc_err *err);

/*
 * POST a CommitTableRequest: requirements_json and updates_json are JSON arrays (NULL: []).
 * @returns 0 with *out (may be NULL) the committed table, ICE_REST_CONFLICT (a requirement
 *          failed: nothing changed), ICE_REST_NOT_FOUND (no such table), or -1.
 * *state_unknown (may be NULL) is set when an earlier attempt of this call got no answer or
 * a 5xx, so it may have been applied (see above).
 */
int ice_rest_commit(ice_rest *c, const char *ns, const char *name, const char *requirements_json,
                    const char *updates_json, ice_rest_table *out, bool *state_unknown,
                    cdc_err *err);

/* What ice_rest_commit_retry tells the builder. */
typedef struct ice_rest_build_info {
    int  attempt;           /* 1 for the first build */
    bool state_unknown;     /* the previous commit may have been applied: look for it in
                               current before building again */
} ice_rest_build_info;

/*
 * Builds the requirements and updates of a commit on top of current (the table just loaded);
 * *requirements and *updates are malloc'd JSON arrays (the loop frees them).  @returns 0;
 * 1 to stop without committing (nothing to do: the previous attempt was applied); -1 with err.
 */
typedef int (*ice_rest_build_fn)(void *ud, const ice_rest_table *current,
                                 const ice_rest_build_info *info, char **requirements,
                                 char **updates, cdc_err *err);

/*
 * Load, build, commit; on ICE_REST_CONFLICT load again and rebuild, up to max_attempts
 * (<= 0: 10) commits.
 * @returns 0 with *out (may be NULL) the committed (or, when build returned 1, the loaded)
 *          table; ICE_REST_CONFLICT when every attempt lost a race; ICE_REST_NOT_FOUND; -1.
 */
int ice_rest_commit_retry(ice_rest *c, const char *ns, const char *name, int max_attempts,
                          ice_rest_build_fn build, void *ud, ice_rest_table *out, cdc_err *err);

/* The table names of a namespace, one call of cb each (a non-zero return stops and is
   returned).  @returns 0, ICE_REST_NOT_FOUND (no such namespace), or -1. */
int ice_rest_list(ice_rest *c, const char *ns, int (*cb)(void *ud, const char *name), void *ud,
                  cdc_err *err);

/* DELETE the table (purgeRequested=false: its files stay). @returns 0, ICE_REST_NOT_FOUND, -1. */
int ice_rest_drop(ice_rest *c, const char *ns, const char *name, cdc_err *err);

/* ---- requirements and updates (TableRequirement, TableUpdate of the spec) ---------------
 * Each appends one object to the JSON array arr and returns 0, or -1 with err (out of
 * memory, or a JSON argument that does not parse).  snapshot_id < 0 means "none" (null:
 * assert-ref-snapshot-id then asserts that the ref does not exist yet). */
int ice_rest_req_assert_create(json_t *arr, cdc_err *err);
int ice_rest_req_assert_uuid(json_t *arr, const char *uuid, cdc_err *err);
int ice_rest_req_assert_ref_snapshot(json_t *arr, const char *ref, int64_t snapshot_id,
                                     cdc_err *err);
int ice_rest_req_assert_schema_id(json_t *arr, int schema_id, cdc_err *err);
int ice_rest_upd_add_snapshot(json_t *arr, const char *snapshot_json, cdc_err *err);
int ice_rest_upd_set_ref(json_t *arr, const char *ref, int64_t snapshot_id, cdc_err *err);
int ice_rest_upd_add_schema(json_t *arr, const char *schema_json, cdc_err *err);
int ice_rest_upd_set_current_schema(json_t *arr, int schema_id, cdc_err *err);  /* -1: the last added */
int ice_rest_upd_set_properties(json_t *arr, const char *key, const char *value, cdc_err *err);

/* Counters for metrics and tests. */
typedef struct ice_rest_stats {
    uint64_t requests;        /* HTTP requests sent to the catalog (tokens included) */
    uint64_t retries;         /* requests sent again after a retriable failure */
    uint64_t conflicts;       /* commits answered 409 */
    uint64_t tokens;          /* tokens fetched */
} ice_rest_stats;

void ice_rest_stats_get(const ice_rest *c, ice_rest_stats *st);

/* ---- the catalog interface (ice_catalog.h) ----------------------------------------------
 * ice_rest_cat_open opens a client (ice_rest_new) behind the ice_cat ops:
 *   load    -> ice_rest_load; ice_cat_table gets metadata_location and metadata_json
 *   create  -> ice_rest_ns_ensure, then ice_rest_create with the CreateTableRequest made from
 *              nt->metadata_json (nt->metadata_location is not used: the server writes the
 *              first metadata file and assigns the field ids afresh, so the sink takes the
 *              schema from out->metadata_json)
 *   commit  -> ice_rest_commit with cm->requirements_json and cm->updates_json (required:
 *              -1, CDC_E_INVAL without them); base_location, new_location and
 *              new_metadata_json are not used (the server writes the new file)
 *   list, drop, close.
 * Since ice_cat's builder is not told that a previous commit's outcome was unknown (a 5xx or
 * a lost answer, see above), a REST builder must always look for its own snapshot (its id, or
 * the position in its summary) in the table it is handed before building again. */
ice_cat  *ice_rest_cat_open(const ice_rest_conf *conf, cdc_err *err);
/* The client behind an ice_cat that ice_rest_cat_open made (NULL for another kind). */
ice_rest *ice_rest_cat_client(ice_cat *c);

#endif

/*
 * A client of the Confluent Schema Registry REST API (libcurl + jansson):
 * registers Avro schemas under {topic}-key / {topic}-value and caches the ids,
 * reads a subject's latest version, looks a schema up in a subject and asks
 * whether a schema is compatible with the latest version.  It is not an Avro
 * library: schemas go in and out as JSON text, and the registry decides what
 * is equal (it compares parsed schemas, CONTRACT.md 3.4).
 *
 * The API is documented at docs.confluent.io/platform/current/schema-registry/
 * develop/api.html; test/doubles/schema_registry.py is the double the tests
 * run against, and docs/schema-registry.md says how the agent uses this.
 *
 * Connection errors, timeouts, 5xx and 429 answers are retried with exponential
 * backoff and jitter, moving to the next URL of a comma-separated list; other 4xx
 * answers are final.  Messages name the registry URL with any user:password@
 * replaced by "***@", and never contain the basic-auth credentials.
 *
 * @thread main loop only: one curl easy handle, reused; calls block for at
 * most about max_attempts * (timeout_ms + max_wait_s).
 */
#ifndef CDC_SCHEMAS_REGISTRY_H
#define CDC_SCHEMAS_REGISTRY_H

#include <stdbool.h>
#include <stdint.h>

#include "agent/core/cdc_err.h"

typedef struct sr_client sr_client;

/* Zero-initialise; every zero means the default given in brackets. */
typedef struct sr_conf {
    const char *url;             /* "http://a:8081,http://b:8081"; required */
    const char *basic_auth_user; /* NULL: no Authorization header */
    const char *basic_auth_password;
    const char *ca_file;              /* PEM bundle for https (NULL: system store) */
    const char *cert_file, *key_file; /* client certificate for mutual TLS */
    bool        tls_insecure;         /* skip peer and host verification [false] */
    int         timeout_ms;           /* per request, connect included [30000] */
    int         max_attempts;         /* tries per call, first included [5] */
    double      initial_wait_s;       /* first backoff [0.5] */
    double      max_wait_s;           /* backoff cap [10] */
} sr_conf;

/* One version of a subject, as GET /subjects/{s}/versions/latest returns it. */
typedef struct sr_version {
    uint32_t id;      /* global schema id */
    int      version; /* 1, 2, ... within the subject */
    char    *schema;  /* schema JSON text; malloc'd, sr_version_clear() */
} sr_version;

/**
 * A client for conf->url; makes no request yet.
 * @param conf  borrowed: the strings are copied.
 * @returns a new client the caller frees with sr_client_free(), or NULL with
 *          err set (CDC_E_CONFIG for an empty or non-http(s) URL).
 */
sr_client *sr_client_new(const sr_conf *conf, cdc_err *err);
void       sr_client_free(sr_client *c); /* NULL is a no-op */

/**
 * Registers schema_json under subject (POST /subjects/{subject}/versions) and
 * sets *id.  A (subject, schema text) pair seen before is answered from the
 * cache without a request.  The registry itself returns the existing id for a
 * schema already in the subject, so registering is idempotent.
 * @returns 0, or -1 with err set: CDC_E_DEST when the registry rejects the
 *          schema (409 incompatible, 422 invalid), CDC_E_CONFIG for 401/403,
 *          CDC_E_CONN / CDC_E_TIMEOUT when it cannot be reached (retriable).
 */
int sr_register(sr_client *c, const char *subject, const char *schema_json, uint32_t *id,
                cdc_err *err);

/**
 * The subject's latest live version (GET /subjects/{subject}/versions/latest).
 * @param out  filled on 0; the caller frees out->schema with sr_version_clear().
 * @returns 0 found, 1 when the subject does not exist (40401), -1 with err set.
 */
int  sr_latest(sr_client *c, const char *subject, sr_version *out, cdc_err *err);
void sr_version_clear(sr_version *v);

/**
 * Is schema_json already a version of subject (POST /subjects/{subject})?
 * Used at start to learn whether the agent would register a new version.
 * @param out  filled on 0 (out->schema is the registry's text), as sr_latest.
 * @returns 0 found, 1 not registered in that subject (40401/40403), -1 error.
 */
int sr_lookup(sr_client *c, const char *subject, const char *schema_json, sr_version *out,
              cdc_err *err);

/**
 * Could schema_json be registered after the subject's latest version under the
 * subject's compatibility level (POST /compatibility/subjects/{s}/versions/latest)?
 * A subject with no versions is compatible.
 * @returns 0 with *compatible set, or -1 with err set (422 invalid: CDC_E_DEST).
 */
int sr_check_compatible(sr_client *c, const char *subject, const char *schema_json,
                        bool *compatible, cdc_err *err);

/* What sr_register_checked() did. */
typedef struct sr_change {
    uint32_t id;               /* the schema's id */
    int      previous_version; /* latest version before; 0 when the subject was new */
    int      version;          /* the schema's version in the subject */
    bool     changed;          /* this call added a version to the subject */
    bool     compatible;       /* readers of the version before can read this one */
} sr_change;

/**
 * sr_register() for a schema that may have changed (a Relation message after
 * ALTER TABLE), with the platform's stop_on_incompatible_schema check: after
 * registering, it asks the registry whether readers still on the version
 * before the latest can read the latest (the previous schema posted to
 * /compatibility/.../versions/latest, as the platform's SchemaMonitor does).
 * Logs "schema.version_changed" (info) when the subject gained a version and
 * "schema.incompatible_change_detected" (error with stop, else warn).  With
 * stop_on_incompatible an incompatible change returns -1 with CDC_E_DEST
 * before any record uses the new id, and is checked again on the next call
 * (and after a restart) rather than cached.  A cache hit makes no request.
 * @returns 0 with *out filled, or -1 with err set as sr_register().
 */
int sr_register_checked(sr_client *c, const char *subject, const char *schema_json,
                        bool stop_on_incompatible, sr_change *out, cdc_err *err);

/* Requests made since sr_client_new (retries included): for tests and metrics. */
uint64_t sr_requests(const sr_client *c);

#endif

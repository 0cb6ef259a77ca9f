/*
 * Google OAuth2 access tokens for the Google APIs we call (Pub/Sub), from one
 * of three sources, chosen once by cdc_gcp_auth_new() in this order:
 *
 *   1. the Pub/Sub emulator: PUBSUB_EMULATOR_HOST (host:port) is set.  No
 *      token at all, and the service's base URL becomes http://host:port.
 *   2. a service-account JSON key file: conf.key_file, else
 *      GOOGLE_APPLICATION_CREDENTIALS (Application Default Credentials, as the
 *      platform documents).  An RS256 JWT (iss = client_email, scope, aud =
 *      token_uri, iat, exp = iat + 1 h) signed with the key's private_key is
 *      exchanged at the key's token_uri (grant_type jwt-bearer) for a token.
 *   3. the metadata server (GCE, GKE Workload Identity): GET
 *      http://$GCE_METADATA_HOST/computeMetadata/v1/instance/service-accounts/
 *      default/token with "Metadata-Flavor: Google" (the host defaults to
 *      metadata.google.internal).
 *
 * The token is cached.  It is refreshed ahead of its expiry: 5 minutes early
 * (conf.refresh_early_s), or at half its life when it lives less than twice
 * that.  A failed refresh is tried again after the program's backoff
 * (cdc_retry.h) while the old token is still used until it really expires.
 *
 * Secrets: no message built here contains the private key, the JWT or an
 * access token; a key file's JSON syntax error names the line and column, not
 * the text near it (that may be key material).  Errors name the source and,
 * for a key file, its path.
 *
 * Typical use by a transport:
 *
 *     a = cdc_gcp_auth_new(&conf, err);          at open: resolves the source,
 *     cdc_gcp_auth_fetch(a, err);                 and fails early on bad credentials
 *     ... every loop iteration:
 *     cdc_gcp_auth_step(a);                       non-blocking refresh
 *     if (cdc_gcp_auth_header(a, &line, err) < 0) wait (err says why) ...
 *     req.extra_hdr = line;                       NULL with the emulator
 *
 * Requests go through agent/core/net/http.h: the caller holds a
 * cdc_http_global_init() reference while an auth lives.
 *
 * @locality one thread (the agent's loop); an auth owns its HTTP transfer.
 */
#ifndef CDC_AGENT_CORE_NET_GCP_AUTH_H
#define CDC_AGENT_CORE_NET_GCP_AUTH_H

#include <stdbool.h>
#include <stdint.h>

#include "agent/core/cdc_err.h"
#include "agent/core/cdc_retry.h"
#include "agent/core/net/http.h"

#define CDC_GCP_SCOPE_PUBSUB     "https://www.googleapis.com/auth/pubsub"
#define CDC_GCP_PUBSUB_URL       "https://pubsub.googleapis.com"
#define CDC_GCP_TOKEN_URI        "https://oauth2.googleapis.com/token"
#define CDC_GCP_METADATA_HOST    "metadata.google.internal"

typedef enum cdc_gcp_source {
    CDC_GCP_EMULATOR = 1,   /* no authentication */
    CDC_GCP_KEY_FILE,       /* service-account JSON key, JWT exchanged for a token */
    CDC_GCP_METADATA,       /* the metadata server's token */
} cdc_gcp_source;

/*
 * Settings; zero-initialise and set what differs.  A NULL string falls back
 * to its environment variable (when use_env), then to the default.
 */
typedef struct cdc_gcp_auth_conf {
    bool                use_env;        /* read the environment variables named below */
    const char         *emulator_host;  /* PUBSUB_EMULATOR_HOST; "" or NULL: none */
    const char         *key_file;       /* GOOGLE_APPLICATION_CREDENTIALS */
    const char         *metadata_host;  /* GCE_METADATA_HOST; default CDC_GCP_METADATA_HOST */
    const char         *scope;          /* NULL: CDC_GCP_SCOPE_PUBSUB */
    const char         *service_url;    /* base URL without emulator; NULL: CDC_GCP_PUBSUB_URL */
    int                 refresh_early_s;/* <= 0: 300 */
    int                 timeout_ms;     /* one token request; <= 0: 10000 */
    cdc_retry_conf      retry;          /* attempts of cdc_gcp_auth_fetch, waits of _step */
    const cdc_http_tls *tls;            /* for the token endpoint; NULL: defaults */
} cdc_gcp_auth_conf;

typedef struct cdc_gcp_auth cdc_gcp_auth;

/*
 * Chooses the source and, for a key file, reads and checks it (JSON, type
 * "service_account", client_email, an RSA private_key in PEM).  No network.
 * @returns the auth, or NULL with err set: CDC_E_CONFIG naming the variable or
 *          the file and what is wrong with it.
 */
cdc_gcp_auth *cdc_gcp_auth_new(const cdc_gcp_auth_conf *conf, cdc_err *err);
void          cdc_gcp_auth_free(cdc_gcp_auth *a);    /* NULL is a no-op; wipes key and token */

cdc_gcp_source cdc_gcp_auth_source(const cdc_gcp_auth *a);

/* "emulator localhost:8085", "service-account key /p/k.json (sa@p.iam.gserviceaccount.com)",
   "metadata server metadata.google.internal": for log lines. */
const char *cdc_gcp_auth_describe(const cdc_gcp_auth *a);

/* The base URL of the service, no trailing slash: http://<emulator> or conf.service_url. */
const char *cdc_gcp_auth_base_url(const cdc_gcp_auth *a);

/*
 * Gets a token now, blocking: up to conf.retry.max_attempts attempts while the
 * answer is retriable (no answer, 408, 429, 5xx), none more after a refusal.
 * Call it at start so wrong credentials fail there.  A no-op for the emulator
 * and while the cached token is not due for refresh.
 * @returns 0, or -1 with err: CDC_E_CONFIG when the endpoint refused the
 *          credentials or answered nonsense, CDC_E_CONN / CDC_E_TIMEOUT when it
 *          could not be reached.
 */
int cdc_gcp_auth_fetch(cdc_gcp_auth *a, cdc_err *err);

/*
 * Non-blocking: starts a refresh when one is due (and no backoff wait is
 * running), and drives a running one; a finished one replaces the token.  Call
 * it from the loop; cdc_gcp_auth_next_ms() says when it is next needed.
 */
void cdc_gcp_auth_step(cdc_gcp_auth *a);

/* Milliseconds until cdc_gcp_auth_step() has work (0: now, a transfer runs); -1: never. */
int64_t cdc_gcp_auth_next_ms(const cdc_gcp_auth *a);

/*
 * The header line for the next request: "Authorization: Bearer <token>", or
 * NULL with the emulator.  Valid until the next call of _step, _fetch or
 * _free (http.c copies a request's extra_hdr when the request starts).
 * @returns 0, or -1 with err when there is no unexpired token: the last
 *          failure (its code as in _fetch), or "no token yet" (CDC_E_CONN).
 */
int cdc_gcp_auth_header(cdc_gcp_auth *a, const char **line, cdc_err *err);

/* Counters and state for metrics, /readyz and tests. */
typedef struct cdc_gcp_auth_stats {
    uint64_t fetched;          /* tokens obtained */
    uint64_t failed;           /* token requests that failed */
    int64_t  expires_in_ms;    /* of the current token; <= 0: none or expired */
    bool     refreshing;       /* a request is running */
} cdc_gcp_auth_stats;

void cdc_gcp_auth_stats_get(const cdc_gcp_auth *a, cdc_gcp_auth_stats *st);

#endif

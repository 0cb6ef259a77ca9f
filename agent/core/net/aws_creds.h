/*
 * AWS credentials, region and endpoints, found the way AWS's SDKs find them,
 * for the Kinesis transport, the DynamoDB checkpoint table and S3.
 *
 * Credentials, first source that applies (then kept: a later refresh asks
 * the same source again):
 *   1. environment: AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY [+ AWS_SESSION_TOKEN];
 *   2. web identity (EKS IRSA): AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN
 *      [+ AWS_ROLE_SESSION_NAME], exchanged through STS AssumeRoleWithWebIdentity
 *      (endpoint: AWS_ENDPOINT_URL_STS, AWS_ENDPOINT_URL, else regional STS);
 *   3. the profile (opts.profile, AWS_PROFILE, else "default") in the shared
 *      credentials file (AWS_SHARED_CREDENTIALS_FILE, ~/.aws/credentials,
 *      sections [name]) and the config file (AWS_CONFIG_FILE, ~/.aws/config,
 *      sections [default] / [profile name]): aws_access_key_id,
 *      aws_secret_access_key, aws_session_token; or role_arn +
 *      web_identity_token_file (the same STS exchange); or role_arn +
 *      source_profile [+ external_id, role_session_name]: STS AssumeRole signed
 *      (SigV4) with the source profile's keys;
 *   4. container metadata (ECS, EKS Pod Identity): AWS_CONTAINER_CREDENTIALS_RELATIVE_URI
 *      (on http://169.254.170.2) or _FULL_URI (https, or http on a loopback or
 *      the ECS/EKS link-local hosts), with AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE
 *      or _TOKEN as Authorization;
 *   5. instance metadata (EC2): IMDSv2 token (PUT /latest/api/token), then the
 *      role's credentials; AWS_EC2_METADATA_SERVICE_ENDPOINT overrides the
 *      address, AWS_EC2_METADATA_DISABLED=true skips it.
 * Credentials that expire (2, 4, 5, and a profile's roles) are fetched
 * again when less than opts.refresh_before_s remain; when that refresh fails
 * while the old ones are still valid they are kept and the failure is kept for
 * cdc_aws_provider_last_error().  An explicit profile that is in neither file,
 * half a key in the environment, or AWS_WEB_IDENTITY_TOKEN_FILE without
 * AWS_ROLE_ARN is an error naming what and where, not a fall-through.
 *
 * Region: opts.region, AWS_REGION, AWS_DEFAULT_REGION, the profile's region.
 * Endpoints (cdc_aws_endpoint): AWS_ENDPOINT_URL_<SERVICE> (KINESIS, DYNAMODB,
 * STS, S3), AWS_ENDPOINT_URL, the profile's endpoint_url, else
 * https://<service>.<region>.amazonaws.com (.amazonaws.com.cn in cn-*);
 * AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true ignores the configured ones.
 *
 * Not built: chains of roles (a source_profile that is itself a role),
 * credential_source, SSO, credential_process, the config file's [services]
 * sections, FIPS/dual-stack endpoints.  A profile using them is an error
 * naming the profile, never silently skipped.
 *
 * Secrets: no message, log line or error built here holds a key, a secret, a
 * session token, a web identity token or a metadata token.
 *
 * @locality one provider per thread (the agent's loop); a refresh is a
 * blocking HTTP call bounded by opts.timeout_ms per request.
 */
#ifndef CDC_AGENT_CORE_NET_AWS_CREDS_H
#define CDC_AGENT_CORE_NET_AWS_CREDS_H

#include <stdbool.h>
#include <stdint.h>

#include "agent/core/cdc_err.h"
#include "agent/core/net/aws_sigv4.h"
#include "agent/core/net/http.h"

typedef struct cdc_aws_opts {
    const char         *profile;          /* NULL: AWS_PROFILE, else "default" */
    const char         *region;           /* NULL or "": from the environment or profile */
    int                 timeout_ms;       /* each STS/metadata request; <= 0: 5000 */
    int                 imds_timeout_ms;  /* instance metadata; <= 0: 1000 */
    int                 refresh_before_s; /* refresh this long before expiry; <= 0: 300 */
    const cdc_http_tls *tls;              /* for STS and https container endpoints */
    const char         *container_base;   /* RELATIVE_URI's base; NULL: http://169.254.170.2 */
} cdc_aws_opts;

typedef struct cdc_aws_provider cdc_aws_provider;

/*
 * Reads the environment and the shared files (the region, the profile), but
 * fetches nothing yet.  @returns the provider, or NULL with err set
 * (CDC_E_CONFIG for a user's mistake, naming the variable, file and profile).
 */
cdc_aws_provider *cdc_aws_provider_new(const cdc_aws_opts *o, cdc_err *err);
void              cdc_aws_provider_free(cdc_aws_provider *p);   /* wipes the secrets */

/*
 * Current credentials into *key (borrowed from p: valid until the next call
 * on p), fetched or refreshed as needed.  Call it before signing each
 * request (it is cheap when nothing is due).
 * @returns 0, or -1 with err set: CDC_E_CONFIG (no source, refused
 * credentials, a file missing), CDC_E_CONN / CDC_E_TIMEOUT (a metadata or
 * STS endpoint that did not answer: retriable).
 */
int cdc_aws_provider_get(cdc_aws_provider *p, cdc_aws_key *key, cdc_err *err);

/* The region ("" when none was found: the caller says which setting to set). */
const char *cdc_aws_provider_region(const cdc_aws_provider *p);
/* Where the current credentials came from ("environment", "web identity (role
   arn:...)", "shared credentials file /x/credentials, profile prod", ...); "" before. */
const char *cdc_aws_provider_source(const cdc_aws_provider *p);
/* When they expire (wall clock ms), 0: never. */
int64_t     cdc_aws_provider_expires_ms(const cdc_aws_provider *p);
/* The last refresh failure while older credentials were still served; NULL: none. */
const char *cdc_aws_provider_last_error(const cdc_aws_provider *p);

/*
 * The endpoint URL of a service ("kinesis", "dynamodb", "sts", "s3"): see the
 * top.  p may be NULL (no profile endpoint, region from the environment).
 * @returns a malloc'd URL without a trailing '/', or NULL with err set
 * (CDC_E_CONFIG: no region and no override).
 */
char *cdc_aws_endpoint(const cdc_aws_provider *p, const char *service, cdc_err *err);

/* "2019-11-09T13:34:41Z" (fraction and "+00:00" allowed) as Unix ms; -1 when malformed. */
int64_t cdc_aws_parse_time(const char *s);

#endif

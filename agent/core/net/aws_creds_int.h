/*
 * Between agent/core/net/aws_creds.c (the provider: the chain of sources, the region,
 * the API), agent/core/net/aws_fetch.c (the network sources: STS, the container
 * endpoint, IMDSv2) and agent/core/net/aws_profile.c (the shared config and credentials
 * files, the environment, the endpoints, small helpers).  aws_creds.c calls aws_fetch.c
 * and aws_profile.c; aws_fetch.c calls aws_profile.c.  Nothing else includes this header.
 */
#ifndef CDC_AGENT_CORE_NET_AWS_CREDS_INT_H
#define CDC_AGENT_CORE_NET_AWS_CREDS_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "agent/core/net/aws_creds.h"
#include "agent/core/net/http.h"

#define AWS_KV_MAX 64

typedef struct aws_kv {
    char *k[AWS_KV_MAX];
    char *v[AWS_KV_MAX];
    int   n;
    bool  found;   /* the section exists */
} aws_kv;

typedef enum src_kind {
    SRC_NONE = 0, SRC_ENV, SRC_WEBID, SRC_ASSUME, SRC_PROFILE, SRC_CONTAINER, SRC_IMDS
} src_kind;

struct cdc_aws_provider {
    cdc_aws_opts   o;
    char           profile[128];
    bool           profile_explicit;
    char           cred_path[1024];
    char           conf_path[1024];
    aws_kv         pcred;          /* the profile's section of the credentials file */
    aws_kv         pconf;          /* ... of the config file */
    char           region[64];
    src_kind       kind;
    /* web identity */
    char          *role_arn;
    char          *token_file;
    char          *session_name;
    /* AssumeRole: the source profile's long-term keys, the external id */
    char          *src_akid;
    char          *src_secret;
    char          *src_token;
    char          *external_id;
    char           src_profile[128];
    /* current credentials */
    char          *akid;
    char          *secret;
    char          *token;
    int64_t        expires_ms;
    char           source[320];
    char           last_error[512];
    bool           has_last_error;
    cdc_http_xfer *x;
    bool           http_init;
};

/* ---- aws_profile.c ----------------------------------------------------- */

/* The environment variable's value; NULL when unset or empty. */
const char *aws_env(const char *name);
/* Wipes and frees a secret (NULL: nothing). */
void aws_wipe_free(char *s);
/* Strips blanks and line ends at both ends, in place; @returns the start. */
char *aws_trim(char *s);
void aws_kv_clear(aws_kv *t);
const char *aws_kv_get(const aws_kv *t, const char *key);
/* The profile's value of key: credentials file first, then config file. */
const char *aws_prof(const cdc_aws_provider *p, const char *key);
/* Reads section `want` (or want2) of an INI file into t; a missing file is not an error. */
int aws_ini_read(const char *path, const char *want, const char *want2, aws_kv *t, cdc_err *err);
/* Reads a small file (a token) whole, trimmed; NULL with err set. */
char *aws_read_token_file(const char *path, const char *what, cdc_err *err);
/* Replaces p's current credentials (on out of memory: none). */
void aws_set_creds(cdc_aws_provider *p, const char *akid, const char *secret, const char *token,
               int64_t expires_ms);

/* ---- aws_fetch.c ------------------------------------------------------- */

/* Fetches (again) from p->kind's source into p's current credentials; static
   sources: nothing to do.  @returns 0, or -1 with err set. */
int aws_fetch(cdc_aws_provider *p, cdc_err *err);

#endif

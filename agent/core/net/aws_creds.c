/*
 * AWS credentials chain, region and endpoints: see aws_creds.h.  The shared files,
 * the environment and the endpoints are in aws_profile.c, the network sources in
 * aws_fetch.c (aws_creds_int.h).
 */
#include "agent/core/net/aws_creds.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agent/core/cdc_clock.h"
#include "agent/core/net/aws_creds_int.h"

/* ---- the chain --------------------------------------------------------- */

static int
set_webid(cdc_aws_provider *p, const char *role, const char *file, const char *session)
{
    char gen[64];

    snprintf(gen, sizeof(gen), "cdcagent-%lld", (long long) (cdc_wall_ms() / 1000));
    free(p->role_arn);
    free(p->token_file);
    free(p->session_name);
    p->role_arn = strdup(role);
    p->token_file = strdup(file);
    p->session_name = strdup(session ? session : gen);
    return p->role_arn && p->token_file && p->session_name ? 0 : -1;
}

/* role_arn + source_profile: the source profile must hold long-term keys (chains of
   roles are not followed).  Fetches the first credentials. */
static int
assume_setup(cdc_aws_provider *p, cdc_err *err)
{
    aws_kv      sc, sf;
    char        want[200];
    const char *src = aws_prof(p, "source_profile"), *id, *sec;
    int         rc = -1;

    snprintf(p->src_profile, sizeof(p->src_profile), "%s", src);
    snprintf(want, sizeof(want), "profile %s", src);
    if (aws_ini_read(p->cred_path, src, NULL, &sc, err) < 0)
        return -1;
    if (aws_ini_read(p->conf_path, strcmp(src, "default") == 0 ? "default" : want,
                 strcmp(src, "default") == 0 ? "profile default" : NULL, &sf, err) < 0) {
        aws_kv_clear(&sc);
        return -1;
    }
    id = aws_kv_get(&sc, "aws_access_key_id") ? aws_kv_get(&sc, "aws_access_key_id")
                                           : aws_kv_get(&sf, "aws_access_key_id");
    sec = aws_kv_get(&sc, "aws_secret_access_key") ? aws_kv_get(&sc, "aws_secret_access_key")
                                               : aws_kv_get(&sf, "aws_secret_access_key");
    if (id == NULL || sec == NULL) {
        cdc_err_set(err, CDC_E_CONFIG, "profile %s: source_profile %s has no "
                    "aws_access_key_id/aws_secret_access_key in %s or %s (chains of roles are "
                    "not supported)", p->profile, src, p->cred_path, p->conf_path);
        goto out;
    }
    aws_wipe_free(p->src_akid);
    aws_wipe_free(p->src_secret);
    aws_wipe_free(p->src_token);
    free(p->external_id);
    p->src_akid = strdup(id);
    p->src_secret = strdup(sec);
    p->src_token = aws_kv_get(&sc, "aws_session_token") ? strdup(aws_kv_get(&sc, "aws_session_token"))
                                                    : NULL;
    p->external_id = aws_prof(p, "external_id") ? strdup(aws_prof(p, "external_id")) : NULL;
    if (p->src_akid == NULL || p->src_secret == NULL ||
        set_webid(p, aws_prof(p, "role_arn"), "", aws_prof(p, "role_session_name")) < 0) {
        cdc_err_set(err, CDC_E_NOMEM, "out of memory");
        goto out;
    }
    p->kind = SRC_ASSUME;
    rc = aws_fetch(p, err);
out:
    aws_kv_clear(&sc);
    aws_kv_clear(&sf);
    return rc;
}

/* The profile's keys or web identity; @returns 0 (found), 1 (nothing for credentials
   there), -1 with err set. */
static int
from_profile(cdc_aws_provider *p, cdc_err *err)
{
    static const char *unsup[] = { "role_arn", "source_profile", "credential_source",
                                   "credential_process", "sso_start_url", "sso_session" };
    const char        *id = aws_prof(p, "aws_access_key_id");
    const char        *sec = aws_prof(p, "aws_secret_access_key");
    const char        *where = aws_kv_get(&p->pcred, "aws_access_key_id") ? p->cred_path
                                                                      : p->conf_path;

    if (id && sec) {
        aws_set_creds(p, id, sec, aws_prof(p, "aws_session_token"), 0);
        p->kind = SRC_PROFILE;
        snprintf(p->source, sizeof(p->source), "shared file %s, profile %s", where, p->profile);
        return p->akid ? 0 : cdc_err_set(err, CDC_E_NOMEM, "out of memory");
    }
    if (id || sec)
        return cdc_err_set(err, CDC_E_CONFIG, "profile %s in %s has %s but not %s", p->profile,
                           where, id ? "aws_access_key_id" : "aws_secret_access_key",
                           id ? "aws_secret_access_key" : "aws_access_key_id");
    if (aws_prof(p, "role_arn") && aws_prof(p, "web_identity_token_file")) {
        if (set_webid(p, aws_prof(p, "role_arn"), aws_prof(p, "web_identity_token_file"),
                      aws_prof(p, "role_session_name")) < 0)
            return cdc_err_set(err, CDC_E_NOMEM, "out of memory");
        p->kind = SRC_WEBID;
        return aws_fetch(p, err);
    }
    if (aws_prof(p, "role_arn") && aws_prof(p, "source_profile") && !aws_prof(p, "credential_source"))
        return assume_setup(p, err);
    for (size_t i = 0; i < sizeof(unsup) / sizeof(unsup[0]); i++)
        if (aws_prof(p, unsup[i]))
            return cdc_err_set(err, CDC_E_UNSUPPORTED,
                               "profile %s (%s, %s) uses %s: not supported yet; use keys, web "
                               "identity, or the container or instance role", p->profile,
                               p->cred_path, p->conf_path, unsup[i]);
    return 1;
}

/* Picks the first source that applies and fetches from it. */
static int
resolve(cdc_aws_provider *p, cdc_err *err)
{
    const char *a = aws_env("AWS_ACCESS_KEY_ID"), *s = aws_env("AWS_SECRET_ACCESS_KEY");
    const char *wf = aws_env("AWS_WEB_IDENTITY_TOKEN_FILE");
    char        imds_why[512];
    cdc_err     e2;

    /* 1. environment */
    if (a && s) {
        aws_set_creds(p, a, s, aws_env("AWS_SESSION_TOKEN"), 0);
        p->kind = SRC_ENV;
        snprintf(p->source, sizeof(p->source), "environment (AWS_ACCESS_KEY_ID)");
        return p->akid ? 0 : cdc_err_set(err, CDC_E_NOMEM, "out of memory");
    }
    if (a || s)
        return cdc_err_set(err, CDC_E_CONFIG, "%s is set in the environment but %s is not",
                           a ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
                           a ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
    /* 2. web identity from the environment */
    if (wf) {
        if (!aws_env("AWS_ROLE_ARN"))
            return cdc_err_set(err, CDC_E_CONFIG, "AWS_WEB_IDENTITY_TOKEN_FILE is set (%s) but "
                               "AWS_ROLE_ARN is not", wf);
        if (set_webid(p, aws_env("AWS_ROLE_ARN"), wf, aws_env("AWS_ROLE_SESSION_NAME")) < 0)
            return cdc_err_set(err, CDC_E_NOMEM, "out of memory");
        p->kind = SRC_WEBID;
        return aws_fetch(p, err);
    }
    /* 3. the profile in the shared files */
    if (p->pcred.found || p->pconf.found) {
        int rc = from_profile(p, err);

        if (rc <= 0)
            return rc;
    }
    /* 4. container */
    if (aws_env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") || aws_env("AWS_CONTAINER_CREDENTIALS_FULL_URI")) {
        p->kind = SRC_CONTAINER;
        return aws_fetch(p, err);
    }
    /* 5. instance metadata */
    {
        const char *dis = aws_env("AWS_EC2_METADATA_DISABLED");

        if (dis && strcasecmp(dis, "true") == 0) {
            snprintf(imds_why, sizeof(imds_why), "disabled by AWS_EC2_METADATA_DISABLED");
        } else {
            p->kind = SRC_IMDS;
            if (aws_fetch(p, &e2) == 0)
                return 0;
            p->kind = SRC_NONE;
            snprintf(imds_why, sizeof(imds_why), "%s", e2.msg);
        }
    }
    return cdc_err_set(err, CDC_E_CONFIG,
                       "no AWS credentials found: not in the environment (AWS_ACCESS_KEY_ID, "
                       "AWS_WEB_IDENTITY_TOKEN_FILE), not in profile %s (%s, %s), no container "
                       "endpoint (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI/_FULL_URI), instance "
                       "metadata: %s", p->profile, p->cred_path, p->conf_path, imds_why);
}

/* ---- API --------------------------------------------------------------- */

static int
check_region(const char *r, const char *where, cdc_err *err)
{
    for (const char *c = r; *c; c++)
        if (!(islower((unsigned char) *c) || isdigit((unsigned char) *c) || *c == '-'))
            return cdc_err_set(err, CDC_E_CONFIG, "AWS region '%.64s' (%s) is not a region name "
                               "(lowercase letters, digits and '-', like eu-west-1)", r, where);
    if (strlen(r) >= 64)
        return cdc_err_set(err, CDC_E_CONFIG, "AWS region (%s) is too long", where);
    return 0;
}

cdc_aws_provider *
cdc_aws_provider_new(const cdc_aws_opts *o, cdc_err *err)
{
    cdc_aws_provider *p = calloc(1, sizeof(*p));
    const char       *home = aws_env("HOME");
    const char       *prof_name, *rg, *where;
    char              want[200];

    if (p == NULL) {
        cdc_err_set(err, CDC_E_NOMEM, "out of memory");
        return NULL;
    }
    if (o)
        p->o = *o;
    if (p->o.timeout_ms <= 0)
        p->o.timeout_ms = 5000;
    if (p->o.imds_timeout_ms <= 0)
        p->o.imds_timeout_ms = 1000;
    if (p->o.refresh_before_s <= 0)
        p->o.refresh_before_s = 300;
    p->o.profile = p->o.region = NULL;   /* copied below; the caller's may go */

    prof_name = o && o->profile && o->profile[0] ? o->profile : aws_env("AWS_PROFILE");
    p->profile_explicit = prof_name != NULL;
    snprintf(p->profile, sizeof(p->profile), "%s", prof_name ? prof_name : "default");
    if (aws_env("AWS_SHARED_CREDENTIALS_FILE"))
        snprintf(p->cred_path, sizeof(p->cred_path), "%s", aws_env("AWS_SHARED_CREDENTIALS_FILE"));
    else
        snprintf(p->cred_path, sizeof(p->cred_path), "%s/.aws/credentials", home ? home : "");
    if (aws_env("AWS_CONFIG_FILE"))
        snprintf(p->conf_path, sizeof(p->conf_path), "%s", aws_env("AWS_CONFIG_FILE"));
    else
        snprintf(p->conf_path, sizeof(p->conf_path), "%s/.aws/config", home ? home : "");

    snprintf(want, sizeof(want), "profile %s", p->profile);
    if (aws_ini_read(p->cred_path, p->profile, NULL, &p->pcred, err) < 0 ||
        aws_ini_read(p->conf_path, strcmp(p->profile, "default") == 0 ? "default" : want,
                 strcmp(p->profile, "default") == 0 ? "profile default" : NULL, &p->pconf,
                 err) < 0)
        goto fail;
    if (p->profile_explicit && !p->pcred.found && !p->pconf.found) {
        cdc_err_set(err, CDC_E_CONFIG, "AWS profile '%s' (%s) is in neither %s nor %s",
                    p->profile, o && o->profile && o->profile[0] ? "configured" : "AWS_PROFILE",
                    p->cred_path, p->conf_path);
        goto fail;
    }

    if (o && o->region && o->region[0])
        rg = o->region, where = "the configured region";
    else if ((rg = aws_env("AWS_REGION")) != NULL)
        where = "AWS_REGION";
    else if ((rg = aws_env("AWS_DEFAULT_REGION")) != NULL)
        where = "AWS_DEFAULT_REGION";
    else if ((rg = aws_kv_get(&p->pconf, "region")) != NULL)
        where = p->conf_path;
    else
        rg = "", where = "";
    if (check_region(rg, where, err) < 0)
        goto fail;
    snprintf(p->region, sizeof(p->region), "%s", rg);
    if (cdc_http_global_init(err) < 0)
        goto fail;
    p->http_init = true;
    return p;
fail:
    cdc_aws_provider_free(p);
    return NULL;
}

void
cdc_aws_provider_free(cdc_aws_provider *p)
{
    if (p == NULL)
        return;
    aws_kv_clear(&p->pcred);
    aws_kv_clear(&p->pconf);
    free(p->role_arn);
    free(p->token_file);
    free(p->session_name);
    aws_wipe_free(p->src_akid);
    aws_wipe_free(p->src_secret);
    aws_wipe_free(p->src_token);
    free(p->external_id);
    aws_wipe_free(p->akid);
    aws_wipe_free(p->secret);
    aws_wipe_free(p->token);
    cdc_http_xfer_free(p->x);
    if (p->http_init)
        cdc_http_global_cleanup();
    free(p);
}

int
cdc_aws_provider_get(cdc_aws_provider *p, cdc_aws_key *key, cdc_err *err)
{
    int64_t now = cdc_wall_ms();

    memset(key, 0, sizeof(*key));
    if (p->kind == SRC_NONE || p->akid == NULL) {
        p->kind = SRC_NONE;
        if (resolve(p, err) < 0) {
            p->kind = SRC_NONE;   /* the next call looks again */
            return -1;
        }
    } else if (p->expires_ms != 0 &&
               now >= p->expires_ms - (int64_t) p->o.refresh_before_s * 1000) {
        cdc_err e2;

        if (aws_fetch(p, &e2) < 0) {
            if (now >= p->expires_ms) {
                if (err)
                    *err = e2;
                return cdc_err_wrap(err, "AWS credentials from %s expired and could not be "
                                    "refreshed", p->source);
            }
            snprintf(p->last_error, sizeof(p->last_error), "%s", e2.msg);
            p->has_last_error = true;
        } else {
            p->has_last_error = false;
        }
    }
    if (p->akid == NULL)
        return cdc_err_set(err, CDC_E_NOMEM, "out of memory");
    key->access_key_id = p->akid;
    key->secret_access_key = p->secret;
    key->session_token = p->token;
    return 0;
}

const char *
cdc_aws_provider_region(const cdc_aws_provider *p)
{
    return p->region;
}

const char *
cdc_aws_provider_source(const cdc_aws_provider *p)
{
    return p->source;
}

int64_t
cdc_aws_provider_expires_ms(const cdc_aws_provider *p)
{
    return p->expires_ms;
}

const char *
cdc_aws_provider_last_error(const cdc_aws_provider *p)
{
    return p->has_last_error ? p->last_error : NULL;
}

/*
 * AWS credentials: the shared config and credentials files (a profile's sections),
 * the environment, the service endpoints, and the small helpers the provider
 * (aws_creds.c) and the network sources (aws_fetch.c) share.  See aws_creds.h and
 * aws_creds_int.h.
 */
#include "agent/core/net/aws_creds_int.h"

#include <ctype.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "agent/core/cdc_buf.h"

/* ---- small helpers ----------------------------------------------------- */

const char *
aws_env(const char *name)
{
    const char *v = getenv(name);

    return v && v[0] ? v : NULL;
}

void
aws_wipe_free(char *s)
{
    if (s) {
        OPENSSL_cleanse(s, strlen(s));
        free(s);
    }
}

char *
aws_trim(char *s)
{
    char *e;

    while (*s == ' ' || *s == '\t')
        s++;
    e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
        *--e = '\0';
    return s;
}

void
aws_kv_clear(aws_kv *t)
{
    for (int i = 0; i < t->n; i++) {
        free(t->k[i]);
        aws_wipe_free(t->v[i]);
    }
    memset(t, 0, sizeof(*t));
}

const char *
aws_kv_get(const aws_kv *t, const char *key)
{
    for (int i = 0; i < t->n; i++)
        if (strcmp(t->k[i], key) == 0)
            return t->v[i][0] ? t->v[i] : NULL;
    return NULL;
}

/* The profile's value of key: credentials file first, then config file. */
const char *
aws_prof(const cdc_aws_provider *p, const char *key)
{
    const char *v = aws_kv_get(&p->pcred, key);

    return v ? v : aws_kv_get(&p->pconf, key);
}

/* Reads section `want` of an INI file into t; a missing file is not an error. */
int
aws_ini_read(const char *path, const char *want, const char *want2, aws_kv *t, cdc_err *err)
{
    FILE  *f = fopen(path, "r");
    char   line[4096];
    bool   in = false;
    int    lineno = 0;

    memset(t, 0, sizeof(*t));
    if (f == NULL) {
        if (errno == ENOENT)
            return 0;
        return cdc_err_set(err, CDC_E_CONFIG, "cannot read AWS file %s: %s", path,
                           strerror(errno));
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        char *s, *eq;

        lineno++;
        if (line[0] == ' ' || line[0] == '\t')
            continue;           /* a sub-property (s3 = ...\n  key = v): not used */
        s = aws_trim(line);
        if (*s == '\0' || *s == '#' || *s == ';')
            continue;
        if (*s == '[') {
            char *end = strchr(s, ']');
            char *name;

            if (end == NULL) {
                fclose(f);
                aws_kv_clear(t);
                return cdc_err_set(err, CDC_E_CONFIG, "%s:%d: section header without ']'",
                                   path, lineno);
            }
            *end = '\0';
            name = aws_trim(s + 1);
            {
                /* "profile   x" counts as "profile x" */
                char norm[256];

                if (strncmp(name, "profile", 7) == 0 && (name[7] == ' ' || name[7] == '\t'))
                    snprintf(norm, sizeof(norm), "profile %s", aws_trim(name + 8));
                else
                    snprintf(norm, sizeof(norm), "%s", name);
                in = strcmp(norm, want) == 0 || (want2 && strcmp(norm, want2) == 0);
            }
            if (in)
                t->found = true;
            continue;
        }
        if (!in)
            continue;
        eq = strchr(s, '=');
        if (eq == NULL) {
            fclose(f);
            aws_kv_clear(t);
            return cdc_err_set(err, CDC_E_CONFIG, "%s:%d: expected 'key = value' in [%s]",
                               path, lineno, want);
        }
        *eq = '\0';
        if (t->n < AWS_KV_MAX) {
            char *k = strdup(aws_trim(s)), *v = strdup(aws_trim(eq + 1));

            if (k == NULL || v == NULL) {
                free(k);
                free(v);
                fclose(f);
                aws_kv_clear(t);
                return cdc_err_set(err, CDC_E_NOMEM, "out of memory reading %s", path);
            }
            for (char *c = k; *c; c++)
                *c = (char) tolower((unsigned char) *c);
            t->k[t->n] = k;
            t->v[t->n] = v;
            t->n++;
        }
    }
    OPENSSL_cleanse(line, sizeof(line));
    fclose(f);
    return 0;
}

/* Reads a small file (a token) whole, trimmed; NULL with err set. */
char *
aws_read_token_file(const char *path, const char *what, cdc_err *err)
{
    FILE   *f = fopen(path, "rb");
    cdc_buf b = CDC_BUF_INIT;
    char    chunk[4096];
    size_t  n;
    char   *t;

    if (f == NULL) {
        cdc_err_set(err, CDC_E_CONFIG, "cannot read %s %s: %s", what, path, strerror(errno));
        return NULL;
    }
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0 && b.len < (1u << 20))
        cdc_buf_put(&b, chunk, n);
    OPENSSL_cleanse(chunk, sizeof(chunk));
    fclose(f);
    cdc_buf_putc(&b, '\0');
    if (b.failed) {
        free(b.data);
        cdc_err_set(err, CDC_E_NOMEM, "out of memory reading %s %s", what, path);
        return NULL;
    }
    t = aws_trim((char *) b.data);
    if (*t == '\0') {
        free(b.data);
        cdc_err_set(err, CDC_E_CONFIG, "%s %s is empty", what, path);
        return NULL;
    }
    memmove(b.data, t, strlen(t) + 1);
    return (char *) b.data;
}

int64_t
cdc_aws_parse_time(const char *s)
{
    struct tm   tm;
    const char *rest;
    time_t      t;

    if (s == NULL)
        return -1;
    memset(&tm, 0, sizeof(tm));
    rest = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (rest == NULL)
        return -1;
    if (*rest == '.')
        for (rest++; isdigit((unsigned char) *rest); rest++) {
        }
    if (!(*rest == 'Z' || strcmp(rest, "+00:00") == 0 || *rest == '\0'))
        return -1;
    t = timegm(&tm);
    return (int64_t) t * 1000;
}

void
aws_set_creds(cdc_aws_provider *p, const char *akid, const char *secret, const char *token,
          int64_t expires_ms)
{
    aws_wipe_free(p->akid);
    aws_wipe_free(p->secret);
    aws_wipe_free(p->token);
    p->akid = strdup(akid);
    p->secret = strdup(secret);
    p->token = token && token[0] ? strdup(token) : NULL;
    p->expires_ms = expires_ms;
    if (p->akid == NULL || p->secret == NULL) {   /* out of memory: no credentials */
        aws_wipe_free(p->akid);
        aws_wipe_free(p->secret);
        p->akid = p->secret = NULL;
    }
}

/* ---- endpoints --------------------------------------------------------- */

char *
cdc_aws_endpoint(const cdc_aws_provider *p, const char *service, cdc_err *err)
{
    const char *ign = aws_env("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
    bool        ignore = ign && strcasecmp(ign, "true") == 0;
    const char *url = NULL, *region;
    char        name[128], *out;
    size_t      i, n;

    if (!ignore && p) {
        const char *pi = aws_kv_get(&p->pconf, "ignore_configured_endpoint_urls");

        ignore = pi && strcasecmp(pi, "true") == 0;
    }
    n = (size_t) snprintf(name, sizeof(name), "AWS_ENDPOINT_URL_");
    for (i = 0; service[i] && n + 1 < sizeof(name); i++)
        name[n++] = service[i] == ' ' || service[i] == '-'
                        ? '_' : (char) toupper((unsigned char) service[i]);
    name[n] = '\0';
    if (!ignore) {
        url = aws_env(name);
        if (url == NULL)
            url = aws_env("AWS_ENDPOINT_URL");
        if (url == NULL && p)
            url = aws_kv_get(&p->pconf, "endpoint_url");
    }
    if (url) {
        out = strdup(url);
        if (out)
            for (n = strlen(out); n > 0 && out[n - 1] == '/'; n--)
                out[n - 1] = '\0';
    } else {
        region = p ? p->region : (aws_env("AWS_REGION") ? aws_env("AWS_REGION")
                                                    : aws_env("AWS_DEFAULT_REGION"));
        if (region == NULL || region[0] == '\0') {
            if (strcmp(service, "sts") == 0)
                return strdup("https://sts.amazonaws.com");
            cdc_err_set(err, CDC_E_CONFIG, "no AWS region for %s: set the region, AWS_REGION "
                        "or AWS_DEFAULT_REGION, or an endpoint with AWS_ENDPOINT_URL_%s",
                        service, name + strlen("AWS_ENDPOINT_URL_"));
            return NULL;
        }
        if (asprintf(&out, "https://%s.%s.amazonaws.com%s", service, region,
                     strncmp(region, "cn-", 3) == 0 ? ".cn" : "") < 0)
            out = NULL;
    }
    if (out == NULL)
        cdc_err_set(err, CDC_E_NOMEM, "out of memory");
    return out;
}

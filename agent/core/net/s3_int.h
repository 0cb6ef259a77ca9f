/*
 * The S3 client's state, shared by its files: s3.c (the client, URLs, one
 * signed request tried by the retry rule, bucket and single-part puts),
 * s3_xml.c (the small XML scanner, S3's error codes, s3:// URIs),
 * s3_multipart.c (multipart uploads, puts of a buffer or a file) and
 * s3_read.c (get, head, delete, listing objects and uploads).  Calls go one
 * way: s3_multipart.c and s3_read.c -> s3.c -> s3_xml.c.
 * Not for use outside agent/core/net/s3*.c.
 */
#ifndef CDC_AGENT_CORE_NET_S3_INT_H
#define CDC_AGENT_CORE_NET_S3_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/core/cdc_buf.h"
#include "agent/core/cdc_err.h"
#include "agent/core/net/s3.h"

struct cdc_s3 {
    cdc_aws_provider *provider;
    char             *endpoint;
    char             *region;
    char             *label;        /* the endpoint for messages (no credentials) */
    char             *akid;         /* explicit keys, or NULL */
    char             *secret;
    char             *token;
    bool              path_style;
    int               timeout_ms;
    const cdc_http_tls *tls;
    size_t            part_size;
    size_t            threshold;
    cdc_retry_conf    retry;
    uint64_t          rng;
    cdc_http_xfer    *x;
    cdc_buf           hdrs;         /* response headers of the last request */
    cdc_buf           ans;          /* response body when the caller keeps none */
};

/* One S3 operation, tried by the retry rule. */
typedef struct s3_call {
    const char *op;           /* "PutObject", for messages */
    const char *method;
    const char *bucket;
    const char *key;
    const char *query;        /* encoded, without '?'; NULL: none */
    const void *body;         /* NULL: none (GET, HEAD, DELETE) */
    size_t      body_len;
    const char *content_type; /* NULL: none */
    const char *range;        /* "bytes=a-b"; NULL: none */
    bool        head;
    cdc_buf    *out;          /* NULL: s->ans */
    size_t      out_max;
    /* outcome */
    long        status;
    char        code[64];
} s3_call;

/* s3_xml.c: codes that a user fixes in the configuration or the bucket's permissions */
bool cdc_s3_code_is_config(const char *code);

/* s3.c */
void cdc_s3_sleep(cdc_s3 *s, int attempt, int64_t retry_after_s);
int  cdc_s3_do(cdc_s3 *s, s3_call *c, cdc_err *err);
int  cdc_s3_put_object(cdc_s3 *s, const char *bucket, const char *key, const void *data,
                       size_t len, const char *ctype, cdc_err *err);

#endif

/*
 * AWS Signature Version 4 (header signing, AWS4-HMAC-SHA256) over OpenSSL's
 * libcrypto, for every AWS-compatible call the agent makes: Kinesis
 * PutRecords, DynamoDB, STS, S3.  Checked against AWS's published SigV4 test
 * suite (test/fixtures/sigv4/, test/unit/test_sigv4.c).
 *
 * A request is signed from what will be sent: the method, the URL (its host
 * and port become the signed `host` header, exactly as libcurl sends Host),
 * the caller's extra headers (Content-Type, X-Amz-Target, ...) and the body.
 * The signer adds x-amz-date, x-amz-security-token (session credentials) and,
 * when asked (S3 needs it), x-amz-content-sha256.
 *
 * Usual call (a Kinesis PutRecords):
 *
 *     cdc_sigv4_hdr h[] = { { "Content-Type", "application/x-amz-json-1.1" },
 *                           { "X-Amz-Target", "Kinesis_20131202.PutRecords" } };
 *     cdc_sigv4_req r = { .method = "POST", .url = url, .hdrs = h, .n_hdrs = 2,
 *                         .body = body, .body_len = n, .region = region,
 *                         .service = "kinesis" };
 *     cdc_http_hdrs *lines = cdc_sigv4_hdrs(&r, &key, &err);   // all lines to send
 *
 * Secrets: the secret access key is only ever an HMAC key.  The session token
 * is a header value (x-amz-security-token) and appears in the canonical
 * request: never log cdc_sigv4.canonical_request or the header lines.  No
 * message built here contains the secret key or the token.
 *
 * Why ours and not libcurl's CURLOPT_AWS_SIGV4 (Debian 12 ships libcurl
 * 7.88.1, which has it): compared with botocore on the same requests, 7.88.1
 * signs a request whose query is not already sorted ("/?b=2&a=1") and a path
 * that needs encoding ("/a%20b/") differently from AWS, so S3 listings and
 * query APIs would be refused (it agrees on "/" and a sorted query); it signs
 * inside the transfer, so neither the canonical request nor the signature can
 * be checked against the published vectors here; and the outcome would change
 * with the host's libcurl.  Ours is a small pure function, tested on the
 * vectors and on botocore's signatures of PutRecords, DynamoDB and S3 calls.
 */
#ifndef CDC_AGENT_CORE_NET_AWS_SIGV4_H
#define CDC_AGENT_CORE_NET_AWS_SIGV4_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/core/cdc_err.h"
#include "agent/core/net/http.h"

/* A key to sign with (borrowed); session_token NULL or "": long-term key. */
typedef struct cdc_aws_key {
    const char *access_key_id;
    const char *secret_access_key;
    const char *session_token;
} cdc_aws_key;

/* One header to sign and send, "Name: value" (name in any case). */
typedef struct cdc_sigv4_hdr {
    const char *name;
    const char *value;
} cdc_sigv4_hdr;

/* What is signed (all borrowed). */
typedef struct cdc_sigv4_req {
    const char          *method;     /* "POST", "GET", ... */
    const char          *url;        /* scheme://host[:port]/path[?query]; path as sent */
    const cdc_sigv4_hdr *hdrs;       /* extra headers, signed and sent; no Host needed */
    size_t               n_hdrs;
    const void          *body;       /* NULL: empty */
    size_t               body_len;
    const char          *region;     /* "eu-west-1" */
    const char          *service;    /* signing name: "kinesis", "dynamodb", "sts", "s3" */
    int64_t              time_s;     /* signing time, Unix seconds; <= 0: now */
    bool                 sign_body;  /* add x-amz-content-sha256 (S3; harmless elsewhere) */
    bool                 unsigned_payload; /* with sign_body: "UNSIGNED-PAYLOAD" (S3 only) */
    bool                 s3;         /* S3's rules: path neither normalized nor encoded
                                        again (the URL holds it encoded once) */
    bool                 omit_session_token; /* token sent but not signed (a few services) */
} cdc_sigv4_req;

/* The outcome; strings malloc'd, freed by cdc_sigv4_free(). */
typedef struct cdc_sigv4 {
    char  amz_date[17];          /* x-amz-date: 20150830T123600Z */
    char  payload_hash[65];      /* hex SHA-256 of the body (or UNSIGNED-PAYLOAD) */
    char *canonical_request;     /* may hold the session token: never log */
    char *string_to_sign;
    char *authorization;         /* the value of the Authorization header */
    char *host;                  /* the signed host value */
    bool  content_sha256;        /* send x-amz-content-sha256: payload_hash */
    const char *session_token;   /* borrowed from the key; NULL: none */
} cdc_sigv4;

/*
 * Signs r with k into *out (zeroed first).  @returns 0, or -1 with err set
 * (CDC_E_INVAL: a URL without a host, a missing key, region or service).
 */
int  cdc_sigv4_sign(const cdc_sigv4_req *r, const cdc_aws_key *k, cdc_sigv4 *out,
                    cdc_err *err);
void cdc_sigv4_free(cdc_sigv4 *s);   /* NULL and a zeroed struct are fine */

/* Appends the lines the signature needs (Authorization, X-Amz-Date and, when
   they apply, X-Amz-Security-Token and X-Amz-Content-Sha256) to h.  @returns
   the list, NULL when out of memory (h is then freed). */
cdc_http_hdrs *cdc_sigv4_add_lines(cdc_http_hdrs *h, const cdc_sigv4 *s);

/*
 * Signs r and returns every line to send: r's own headers, then the
 * signature's.  Pass it as cdc_http_req.hdrs with the same URL, method and
 * body.  @returns the list (free with cdc_http_hdrs_free), or NULL with err.
 */
cdc_http_hdrs *cdc_sigv4_hdrs(const cdc_sigv4_req *r, const cdc_aws_key *k, cdc_err *err);

/* Lowercase hex SHA-256 of p[0..n) into hex (65 bytes). */
void cdc_sha256_hex(const void *p, size_t n, char hex[65]);

/* HMAC-SHA256 of msg with key into out (32 bytes). */
void cdc_hmac_sha256(const void *key, size_t key_len, const void *msg, size_t msg_len,
                     unsigned char out[32]);

/* AWS's URI encoding (RFC 3986 unreserved kept, %XX uppercase) of s[0..n) appended to b;
   keep_slash keeps '/'. */
void cdc_aws_uri_encode(cdc_buf *b, const char *s, size_t n, bool keep_slash);

#endif

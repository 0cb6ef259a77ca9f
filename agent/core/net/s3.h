/*
 * A small S3 client for warehouses (the Iceberg sink's s3:// files): objects
 * put whole or in parts (from memory, or from a file one part at a time),
 * read whole or by byte range, checked, deleted and listed, and the
 * multipart uploads a killed writer left open listed and aborted, over http.h, signed with aws_sigv4.h, with the credentials, region
 * and endpoint of aws_creds.h or the explicit s3_* settings of the platform's
 * iceberg sink (s3_endpoint, s3_access_key_id, s3_secret_access_key,
 * s3_region).
 *
 * Addressing: a custom endpoint (s3_endpoint, AWS_ENDPOINT_URL_S3,
 * AWS_ENDPOINT_URL: MinIO, moto, Ceph...) is addressed path-style,
 * <endpoint>/<bucket>/<key>; AWS's own endpoint (a host ending in
 * .amazonaws.com or .amazonaws.com.cn) virtual-host style,
 * <scheme>://<bucket>.<host>/<key>, unless the bucket name holds a dot (its
 * certificate would not match) or path_style says otherwise.  Keys are
 * URI-encoded once, '/' kept.
 *
 * Every request carries x-amz-content-sha256 of its payload (a PUT or a part
 * is hashed whole: S3 checks it).  Objects of at least multipart_threshold
 * bytes go up as a multipart upload (CreateMultipartUpload, UploadPart of
 * part_size bytes, >= 5 MiB but the last, CompleteMultipartUpload); a failed
 * multipart upload is aborted (AbortMultipartUpload), and one whose upload id
 * the server no longer knows (NoSuchUpload: the server restarted), or whose
 * part still fails retriably after the retry rule, starts over, up to
 * retry.max_attempts times (so a long outage costs up to max_attempts^2
 * attempts of a part).
 *
 * Errors: S3's <Error><Code>..</Code><Message>..</Message></Error> is parsed
 * and named: "s3 PutObject s3://bucket/key at http://host:port: HTTP 403
 * SignatureDoesNotMatch: <message>".  No answer, 408, 429, 5xx and the codes
 * SlowDown, InternalError, ServiceUnavailable, RequestTimeout, ExpiredToken
 * are tried again by retry (cdc_retry.h, blocking sleeps between attempts,
 * Retry-After honoured up to 60 s); the last failure is returned with
 * CDC_E_CONN / CDC_E_TIMEOUT (CDC_E_QUEUE_FULL for SlowDown and 429).
 * Refused credentials and signatures, AccessDenied, any other 403 and a
 * missing bucket are CDC_E_CONFIG; other refusals CDC_E_DEST.  A ranged GET
 * answered 200 with the whole object keeps the asked bytes only.
 *
 * Secrets: no message holds a key, a secret, a session token or a signature;
 * S3's answer to a bad signature echoes the string to sign and the canonical
 * request in other elements, which are never read.
 *
 * XML: answers are read by a minimal scanner (cdc_s3_xml_*) that looks for
 * elements by name inside a bounded range, decodes the five entities and
 * numeric references, and never follows a DTD or an external reference.
 *
 * @locality one client per thread; every call is synchronous and blocking
 * (bounded by timeout_ms per request and the retry rule).  The caller holds a
 * cdc_http_global_init() reference.
 */
#ifndef CDC_AGENT_CORE_NET_S3_H
#define CDC_AGENT_CORE_NET_S3_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/core/cdc_buf.h"
#include "agent/core/cdc_err.h"
#include "agent/core/cdc_retry.h"
#include "agent/core/net/aws_creds.h"
#include "agent/core/net/http.h"

#define CDC_S3_MIN_PART      (5u << 20)     /* S3's smallest part but the last */
#define CDC_S3_DEFAULT_PART  (8u << 20)
#define CDC_S3_MAX_PARTS     10000

/* Settings; zero-initialise and set what differs.  Strings are copied. */
typedef struct cdc_s3_conf {
    cdc_aws_provider   *provider;       /* borrowed: the credential chain, region and
                                           endpoint; NULL: access_key_id is required */
    const char         *endpoint;       /* s3_endpoint; NULL/"": cdc_aws_endpoint(provider, "s3") */
    const char         *region;         /* s3_region; NULL/"": the provider's, else us-east-1
                                           with a custom endpoint */
    const char         *access_key_id;  /* s3_access_key_id: explicit keys win over the chain */
    const char         *secret_access_key;
    const char         *session_token;
    int                 path_style;     /* 0: by endpoint (see top); 1: path; -1: virtual host */
    int                 timeout_ms;     /* each request; <= 0: 60000 */
    const cdc_http_tls *tls;
    size_t              part_size;      /* < CDC_S3_MIN_PART: CDC_S3_DEFAULT_PART */
    size_t              multipart_threshold;   /* 0: part_size */
    cdc_retry_conf      retry;          /* retriable outcomes; zero: cdc_retry's defaults */
} cdc_s3_conf;

typedef struct cdc_s3 cdc_s3;

/* @returns the client, or NULL with err (CDC_E_CONFIG: no endpoint/region, half a key). */
cdc_s3 *cdc_s3_new(const cdc_s3_conf *c, cdc_err *err);
void    cdc_s3_free(cdc_s3 *s);   /* wipes the explicit secret */

const char *cdc_s3_endpoint(const cdc_s3 *s);   /* without a trailing '/' */
const char *cdc_s3_region(const cdc_s3 *s);
bool        cdc_s3_path_style(const cdc_s3 *s);

/* The URL of bucket/key (key may be "" for the bucket itself), malloc'd; NULL: out of memory. */
char *cdc_s3_url(const cdc_s3 *s, const char *bucket, const char *key);

/* PutObject of data[0..len), or a multipart upload when len >= multipart_threshold.
   content_type NULL: application/octet-stream.  @returns 0 or -1 with err. */
int cdc_s3_put(cdc_s3 *s, const char *bucket, const char *key, const void *data, size_t len,
               const char *content_type, cdc_err *err);

/*
 * The local file path as bucket/key, read part by part (memory: one part, or the
 * whole file when it is under the threshold and goes up as one PutObject).  The
 * file must not change during the upload.  @returns 0 or -1 with err.
 */
int cdc_s3_put_file(cdc_s3 *s, const char *bucket, const char *key, const char *path,
                    const char *content_type, cdc_err *err);

/* Always a multipart upload (parts of part_size), aborted on failure. */
int cdc_s3_put_multipart(cdc_s3 *s, const char *bucket, const char *key, const void *data,
                         size_t len, const char *content_type, cdc_err *err);

/*
 * GetObject into out (appended).  off >= 0 and len > 0: the bytes
 * [off, off+len) (Range; fewer when the object ends first); len < 0: from off
 * to the end (off 0: whole).  max: the largest answer taken (0: 256 MiB).
 * @returns 0, 1 when the object does not exist (NoSuchKey; err names it), -1 with err.
 */
int cdc_s3_get(cdc_s3 *s, const char *bucket, const char *key, int64_t off, int64_t len,
               cdc_buf *out, size_t max, cdc_err *err);

typedef struct cdc_s3_head {
    int64_t size;
    char    etag[80];            /* without quotes */
    char    last_modified[40];   /* as sent */
} cdc_s3_head;

/* HeadObject.  @returns 0 (found, *h filled; h may be NULL), 1 not found, -1 with err. */
int cdc_s3_head_object(cdc_s3 *s, const char *bucket, const char *key, cdc_s3_head *h,
                       cdc_err *err);

/* DeleteObject (a missing key is fine, as in S3).  @returns 0 or -1 with err. */
int cdc_s3_delete(cdc_s3 *s, const char *bucket, const char *key, cdc_err *err);

/* Called for each key of a listing; non-zero stops it (cdc_s3_list returns that value). */
typedef int cdc_s3_list_fn(void *arg, const char *key, int64_t size, const char *etag);

/* ListObjectsV2 of prefix (NULL: all), every page (continuation tokens), keys in S3's
   order.  @returns 0, fn's non-zero value, or -1 with err. */
int cdc_s3_list(cdc_s3 *s, const char *bucket, const char *prefix, cdc_s3_list_fn *fn,
                void *arg, cdc_err *err);

/* Called for each multipart upload still open (begun, neither completed nor aborted:
   a writer killed in the middle leaves one, and its parts cost storage); non-zero stops. */
typedef int cdc_s3_upload_fn(void *arg, const char *key, const char *upload_id,
                             const char *initiated);

/* ListMultipartUploads of prefix (NULL: all), every page.  @returns 0, fn's value, -1. */
int cdc_s3_list_uploads(cdc_s3 *s, const char *bucket, const char *prefix,
                        cdc_s3_upload_fn *fn, void *arg, cdc_err *err);

/* AbortMultipartUpload (an upload already gone is fine).  @returns 0 or -1 with err. */
int cdc_s3_abort_upload(cdc_s3 *s, const char *bucket, const char *key, const char *upload_id,
                        cdc_err *err);

/* CreateBucket (for tests and tools; warehouses are made by their owners).  An
   existing bucket of ours is fine.  @returns 0 or -1 with err. */
int cdc_s3_create_bucket(cdc_s3 *s, const char *bucket, cdc_err *err);

/* ---- the pure parts, for tests --------------------------------------------------- */

/*
 * The text of the first element <name> inside xml[0..n) (entities decoded)
 * into out (cut to fit).  *next, when non-NULL, gets the offset just past its
 * end tag.  @returns true when found.
 */
bool cdc_s3_xml_text(const char *xml, size_t n, const char *name, char *out, size_t out_n,
                     size_t *next);

/* The range [*b, *e) of the content of the first <name> element at or after from; false
   when there is none (or it is not closed). */
bool cdc_s3_xml_elem(const char *xml, size_t n, size_t from, const char *name, size_t *b,
                     size_t *e);

/* S3's error answer: code and message (one line) from <Error>; false when none. */
bool cdc_s3_xml_error(const char *xml, size_t n, char *code, size_t code_n, char *msg,
                      size_t msg_n);

/* True for the S3 error codes worth another attempt (see the top). */
bool cdc_s3_code_retryable(const char *code);

/* "s3://bucket/key" split into bucket and key (key may be "" for "s3://bucket" or
   "s3://bucket/"); false with err (CDC_E_CONFIG, naming the URI) when malformed. */
bool cdc_s3_parse_uri(const char *uri, char *bucket, size_t bucket_n, const char **key,
                      cdc_err *err);

#endif

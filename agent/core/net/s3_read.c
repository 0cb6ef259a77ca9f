/*
 * Reading S3 (see s3.h): get, head and delete an object, list objects, and
 * list or abort the incomplete multipart uploads under a prefix.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/core/cdc_clock.h"
#include "agent/core/cdc_mem.h"
#include "agent/core/net/aws_sigv4.h"
#include "agent/core/net/s3_int.h"

/* ---- reading ---------------------------------------------------------------------- */

static bool
not_found(const s3_call *c)
{
    return c->status == 404 && (strcmp(c->code, "NoSuchKey") == 0 ||
                                strcmp(c->code, "NotFound") == 0);
}

int
cdc_s3_get(cdc_s3 *s, const char *bucket, const char *key, int64_t off, int64_t len,
           cdc_buf *out, size_t max, cdc_err *err)
{
    char    range[64];
    s3_call c = { .op = "GetObject", .method = "GET", .bucket = bucket, .key = key,
                  .out = out, .out_max = max };
    size_t  start = out->len;

    if (off < 0)
        return cdc_err_set(err, CDC_E_INVAL, "s3 GetObject s3://%s/%s: negative offset",
                           bucket, key);
    if (len == 0)
        return 0;
    if (len > 0) {
        snprintf(range, sizeof(range), "bytes=%lld-%lld", (long long) off,
                 (long long) (off + len - 1));
        c.range = range;
    } else if (off > 0) {
        snprintf(range, sizeof(range), "bytes=%lld-", (long long) off);
        c.range = range;
    }
    if (cdc_s3_do(s, &c, err) < 0) {
        if (not_found(&c))
            return 1;
        if (c.status == 416)     /* a range past the end: nothing there */
        {
            cdc_err_clear(err);
            return 0;
        }
        return -1;
    }
    if (c.range && c.status == 200) {
        /* A server that ignores Range sends the whole object: keep the asked part. */
        size_t got = out->len - start, a = (size_t) off < got ? (size_t) off : got;
        size_t n = len < 0 || (uint64_t) len > got - a ? got - a : (size_t) len;

        memmove(out->data + start, out->data + start + a, n);
        out->len = start + n;
        out->data[out->len] = '\0';
    }
    return 0;
}

int
cdc_s3_head_object(cdc_s3 *s, const char *bucket, const char *key, cdc_s3_head *h,
                   cdc_err *err)
{
    s3_call c = { .op = "HeadObject", .method = "HEAD", .bucket = bucket, .key = key,
                  .head = true };
    char    v[80];

    if (cdc_s3_do(s, &c, err) < 0) {
        if (not_found(&c)) {
            cdc_err_set(err, CDC_E_DEST, "s3://%s/%s: no such object", bucket, key);
            return 1;
        }
        if (c.status == 403 && strcmp(c.code, "Forbidden") == 0 && err) {
            char first[sizeof(err->msg)];

            snprintf(first, sizeof(first), "%s", err->msg);
            cdc_err_set(err, err->code, "%s (S3 also answers 403 to a HEAD of a missing key "
                        "when s3:ListBucket is not granted)", first);
        }
        return -1;
    }
    if (h) {
        memset(h, 0, sizeof(*h));
        h->size = -1;
        if (cdc_http_hdr_value(cdc_buf_str(&s->hdrs), "Content-Length", v, sizeof(v)))
            h->size = strtoll(v, NULL, 10);
        if (cdc_http_hdr_value(cdc_buf_str(&s->hdrs), "ETag", v, sizeof(v))) {
            size_t l = strlen(v);

            if (l >= 2 && v[0] == '"' && v[l - 1] == '"')
                snprintf(h->etag, sizeof(h->etag), "%.*s", (int) (l - 2), v + 1);
            else
                snprintf(h->etag, sizeof(h->etag), "%s", v);
        }
        cdc_http_hdr_value(cdc_buf_str(&s->hdrs), "Last-Modified", h->last_modified,
                           sizeof(h->last_modified));
    }
    return 0;
}

int
cdc_s3_delete(cdc_s3 *s, const char *bucket, const char *key, cdc_err *err)
{
    s3_call c = { .op = "DeleteObject", .method = "DELETE", .bucket = bucket, .key = key };

    if (cdc_s3_do(s, &c, err) < 0) {
        if (not_found(&c)) {
            cdc_err_clear(err);
            return 0;
        }
        return -1;
    }
    return 0;
}

/* One page of a listing: the GET of c with query q (freed here), its answer copied into
   page.  @returns 0 or -1 with err. */
static int
get_page(cdc_s3 *s, s3_call *c, cdc_buf *q, cdc_buf *page, cdc_err *err)
{
    int rc;

    if (cdc_buf_failed(q)) {
        cdc_buf_free(q);
        return cdc_err_set(err, CDC_E_NOMEM, "s3: out of memory");
    }
    c->query = (const char *) q->data;
    rc = cdc_s3_do(s, c, err);
    cdc_buf_free(q);
    c->query = NULL;
    if (rc < 0)
        return -1;
    cdc_buf_reset(page);
    cdc_buf_put(page, s->ans.data ? s->ans.data : (const uint8_t *) "", s->ans.len);
    if (cdc_buf_failed(page))
        return cdc_err_set(err, CDC_E_NOMEM, "s3: out of memory");
    return 0;
}

/* Appends name=<value, encoded>&amp to a query. */
static void
put_param(cdc_buf *q, const char *name, const char *value, bool amp)
{
    cdc_buf_puts(q, name);
    cdc_buf_putc(q, '=');
    cdc_aws_uri_encode(q, value, strlen(value), false);
    if (amp)
        cdc_buf_putc(q, '&');
}

/* err for a listing answer we cannot follow; -1. */
static int
list_bad(const cdc_s3 *s, const s3_call *c, const char *prefix, const char *what, cdc_err *err)
{
    return cdc_err_set(err, CDC_E_DEST, "s3 %s s3://%s/%s at %s: %s", c->op, c->bucket,
                       prefix ? prefix : "", s->label, what);
}

/*
 * The content of a listing page's root element: (*xml)[*at, *end); -1 with err when the
 * page has no such element.
 */
static int
list_root(const cdc_s3 *s, const s3_call *c, const char *prefix, const cdc_buf *page,
          const char *root, const char **xml, size_t *at, size_t *end, cdc_err *err)
{
    char what[128];

    *xml = (const char *) page->data;
    if (*xml != NULL && cdc_s3_xml_elem(*xml, page->len, 0, root, at, end))
        return 0;
    snprintf(what, sizeof(what), "no %s in the answer", root);
    return list_bad(s, c, prefix, what, err);
}

/* Whether a listing page (xml[0..n)) says more pages follow. */
static bool
list_truncated(const char *xml, size_t n)
{
    char flag[8];

    return cdc_s3_xml_text(xml, n, "IsTruncated", flag, sizeof(flag), NULL) &&
           strcmp(flag, "true") == 0;
}

int
cdc_s3_list(cdc_s3 *s, const char *bucket, const char *prefix, cdc_s3_list_fn *fn,
            void *arg, cdc_err *err)
{
    char   *token = NULL;
    cdc_buf page = CDC_BUF_INIT;
    int     rc = 0;

    for (;;) {
        cdc_buf     q = CDC_BUF_INIT;
        s3_call     c = { .op = "ListObjectsV2", .method = "GET", .bucket = bucket, .key = "" };
        const char *xml;
        size_t      n, at, b, e;
        char        next[1024];

        if (token)
            put_param(&q, "continuation-token", token, true);
        cdc_buf_puts(&q, "list-type=2");
        if (prefix && *prefix) {
            cdc_buf_putc(&q, '&');
            put_param(&q, "prefix", prefix, false);
        }
        /* A page of our own: fn may use the client (delete what it lists). */
        if ((rc = get_page(s, &c, &q, &page, err)) < 0 ||
            (rc = list_root(s, &c, prefix, &page, "ListBucketResult", &xml, &at, &n, err)) < 0)
            break;
        while (cdc_s3_xml_elem(xml, n, at, "Contents", &b, &e)) {
            char key[1100], size[32], etag[80];

            if (!cdc_s3_xml_text(xml + b, e - b, "Key", key, sizeof(key), NULL)) {
                rc = list_bad(s, &c, prefix, "an entry without a Key", err);
                break;
            }
            cdc_s3_xml_text(xml + b, e - b, "Size", size, sizeof(size), NULL);
            cdc_s3_xml_text(xml + b, e - b, "ETag", etag, sizeof(etag), NULL);
            {
                size_t l = strlen(etag);

                if (l >= 2 && etag[0] == '"' && etag[l - 1] == '"') {
                    memmove(etag, etag + 1, l - 2);
                    etag[l - 2] = '\0';
                }
            }
            rc = fn(arg, key, size[0] ? strtoll(size, NULL, 10) : -1, etag);
            if (rc != 0)
                break;
            at = e;
        }
        if (rc != 0)
            break;
        if (!list_truncated(xml, n))
            break;
        if (!cdc_s3_xml_text(xml, n, "NextContinuationToken", next, sizeof(next), NULL) ||
            next[0] == '\0') {
            rc = list_bad(s, &c, prefix, "truncated without a NextContinuationToken", err);
            break;
        }
        if (token && strcmp(token, next) == 0) {   /* a server that would loop us forever */
            rc = list_bad(s, &c, prefix, "the same continuation token twice", err);
            break;
        }
        free(token);
        token = cdc_xstrdup(next);
    }
    free(token);
    cdc_buf_free(&page);
    return rc;
}

int
cdc_s3_abort_upload(cdc_s3 *s, const char *bucket, const char *key, const char *upload_id,
                    cdc_err *err)
{
    cdc_buf q = CDC_BUF_INIT;
    s3_call c = { .op = "AbortMultipartUpload", .method = "DELETE", .bucket = bucket,
                  .key = key };
    int     rc;

    cdc_buf_puts(&q, "uploadId=");
    cdc_aws_uri_encode(&q, upload_id, strlen(upload_id), false);
    if (cdc_buf_failed(&q))
        return cdc_err_set(err, CDC_E_NOMEM, "s3: out of memory");
    c.query = (const char *) q.data;
    rc = cdc_s3_do(s, &c, err);
    if (rc < 0 && strcmp(c.code, "NoSuchUpload") == 0) {
        cdc_err_clear(err);
        rc = 0;
    }
    cdc_buf_free(&q);
    return rc;
}

int
cdc_s3_list_uploads(cdc_s3 *s, const char *bucket, const char *prefix, cdc_s3_upload_fn *fn,
                    void *arg, cdc_err *err)
{
    char   *kmark = NULL, *umark = NULL;
    cdc_buf page = CDC_BUF_INIT;
    int     rc = 0;

    for (int pages = 0;; pages++) {
        cdc_buf     q = CDC_BUF_INIT;
        s3_call     c = { .op = "ListMultipartUploads", .method = "GET", .bucket = bucket,
                          .key = "" };
        const char *xml;
        size_t      n, at, b, e;
        char        nk[1100], nu[1100];

        if (kmark)
            put_param(&q, "key-marker", kmark, true);
        if (prefix && *prefix)
            put_param(&q, "prefix", prefix, true);
        if (umark)
            put_param(&q, "upload-id-marker", umark, true);
        cdc_buf_puts(&q, "uploads");
        if ((rc = get_page(s, &c, &q, &page, err)) < 0 ||
            (rc = list_root(s, &c, prefix, &page, "ListMultipartUploadsResult", &xml, &at, &n,
                            err)) < 0)
            break;
        while (cdc_s3_xml_elem(xml, n, at, "Upload", &b, &e)) {
            char key[1100], id[1100], when[64];

            if (!cdc_s3_xml_text(xml + b, e - b, "Key", key, sizeof(key), NULL) ||
                !cdc_s3_xml_text(xml + b, e - b, "UploadId", id, sizeof(id), NULL)) {
                rc = list_bad(s, &c, prefix, "an upload without Key or UploadId", err);
                break;
            }
            cdc_s3_xml_text(xml + b, e - b, "Initiated", when, sizeof(when), NULL);
            rc = fn(arg, key, id, when);
            if (rc != 0)
                break;
            at = e;
        }
        if (rc != 0)
            break;
        if (!list_truncated(xml, n))
            break;
        cdc_s3_xml_text(xml, n, "NextKeyMarker", nk, sizeof(nk), NULL);
        cdc_s3_xml_text(xml, n, "NextUploadIdMarker", nu, sizeof(nu), NULL);
        if (nk[0] == '\0' || pages > 100000 ||
            (kmark && strcmp(kmark, nk) == 0 && umark && strcmp(umark, nu) == 0)) {
            rc = list_bad(s, &c, prefix, "truncated without a new marker", err);
            break;
        }
        free(kmark);
        free(umark);
        kmark = cdc_xstrdup(nk);
        umark = nu[0] ? cdc_xstrdup(nu) : NULL;
    }
    free(kmark);
    free(umark);
    cdc_buf_free(&page);
    return rc;
}

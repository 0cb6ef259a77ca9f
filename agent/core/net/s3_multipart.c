/*
 * S3 multipart uploads (see s3.h): create, the parts, complete, abort on
 * failure; and the puts of a buffer or a file that choose between one
 * PutObject and a multipart upload.
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

/* ---- multipart ------------------------------------------------------------------- */

typedef struct mp_upload {
    char   *id;             /* UploadId */
    char   *qid;            /* "uploadId=<encoded>" */
    char  (*etags)[80];
    size_t  n_parts;
} mp_upload;

static void
mp_free(mp_upload *u)
{
    free(u->id);
    free(u->qid);
    free(u->etags);
    memset(u, 0, sizeof(*u));
}

static int
mp_create(cdc_s3 *s, const char *bucket, const char *key, const char *ctype, mp_upload *u,
          cdc_err *err)
{
    s3_call c = { .op = "CreateMultipartUpload", .method = "POST", .bucket = bucket,
                  .key = key, .query = "uploads", .body = "", .body_len = 0,
                  .content_type = ctype ? ctype : "application/octet-stream" };
    char    id[1024];
    cdc_buf q = CDC_BUF_INIT;

    if (cdc_s3_do(s, &c, err) < 0)
        return -1;
    if (!cdc_s3_xml_text((const char *) s->ans.data, s->ans.len, "UploadId", id, sizeof(id),
                         NULL) || id[0] == '\0')
        return cdc_err_set(err, CDC_E_DEST,
                           "s3 CreateMultipartUpload s3://%s/%s at %s: no UploadId in the "
                           "answer", bucket, key, s->label);
    u->id = cdc_xstrdup(id);
    cdc_buf_puts(&q, "uploadId=");
    cdc_aws_uri_encode(&q, id, strlen(id), false);
    if (cdc_buf_failed(&q))
        return cdc_err_set(err, CDC_E_NOMEM, "s3: out of memory");
    u->qid = (char *) q.data;
    return 0;
}

static void
mp_abort(cdc_s3 *s, const char *bucket, const char *key, const mp_upload *u, cdc_err *err)
{
    s3_call c = { .op = "AbortMultipartUpload", .method = "DELETE", .bucket = bucket,
                  .key = key, .query = u->qid };
    cdc_err e2 = { 0 };

    char    first[sizeof(err->msg)];

    if (cdc_s3_do(s, &c, &e2) < 0 && strcmp(c.code, "NoSuchUpload") != 0 && err) {
        snprintf(first, sizeof(first), "%s", err->msg);
        cdc_err_set(err, err->code, "%s; AbortMultipartUpload failed too, the parts stay "
                    "until a lifecycle rule removes them: %s", first, e2.msg);
    }
}

/* What an upload reads its bytes from: memory, or a file read part by part. */
typedef struct s3_src {
    const uint8_t *data;     /* NULL: fd */
    int            fd;
    const char    *name;     /* the file, for messages */
    size_t         len;
    uint8_t       *buf;      /* fd: one part */
    size_t         cap;
} s3_src;

/* Points *p at the bytes [off, off+n) of src.  @returns 0, or -1 with err. */
static int
src_get(s3_src *src, size_t off, size_t n, const void **p, cdc_err *err)
{
    size_t done = 0;

    if (src->data || n == 0) {
        *p = src->data ? (const void *) (src->data + off) : "";
        return 0;
    }
    if (n > src->cap) {
        free(src->buf);
        src->buf = cdc_xmalloc(n);
        src->cap = n;
    }
    while (done < n) {
        ssize_t r = pread(src->fd, src->buf + done, n - done, (off_t) (off + done));

        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return cdc_err_set(err, CDC_E_IO, "s3: reading %s at %zu: %s", src->name,
                               off + done, r < 0 ? strerror(errno) : "the file is shorter "
                               "than when the upload began");
        done += (size_t) r;
    }
    *p = src->buf;
    return 0;
}

/*
 * One whole multipart upload.  @returns 0, or -1 with err; *gone set when the
 * server no longer knows the upload (worth starting over).
 */
static int
mp_once(cdc_s3 *s, const char *bucket, const char *key, s3_src *src, size_t part,
        const char *ctype, bool *gone, cdc_err *err)
{
    size_t    len = src->len;
    mp_upload u = { 0 };
    cdc_buf   xml = CDC_BUF_INIT;
    int       rc = -1;

    *gone = false;
    if (mp_create(s, bucket, key, ctype, &u, err) < 0)
        goto out;
    u.n_parts = len == 0 ? 1 : (len + part - 1) / part;
    u.etags = cdc_xcalloc(u.n_parts, sizeof(*u.etags));
    for (size_t i = 0; i < u.n_parts; i++) {
        size_t  off = i * part, n = len - off < part ? len - off : part;
        char    q[1200];
        s3_call c = { .op = "UploadPart", .method = "PUT", .bucket = bucket, .key = key,
                      .query = q, .body_len = n };

        if (src_get(src, off, n, &c.body, err) < 0)
            goto abort;

        /* sorted as SigV4 wants it does not matter: the signer sorts */
        snprintf(q, sizeof(q), "partNumber=%zu&%s", i + 1, u.qid);
        if (cdc_s3_do(s, &c, err) < 0) {
            /* NoSuchUpload: the server lost the upload (S3's answer).  A part that still
               fails after the retry rule may have met the same (moto 5.2.6 answers 500 to
               a part of an upload it lost in a restart): both start over. */
            *gone = strcmp(c.code, "NoSuchUpload") == 0 || cdc_rc_retriable(err->code);
            cdc_err_wrap(err, "part %zu of %zu", i + 1, u.n_parts);
            goto abort;
        }
        if (!cdc_http_hdr_value(cdc_buf_str(&s->hdrs), "ETag", u.etags[i],
                                sizeof(u.etags[i])) || u.etags[i][0] == '\0') {
            cdc_err_set(err, CDC_E_DEST, "s3 UploadPart s3://%s/%s at %s: part %zu: no ETag "
                        "in the answer", bucket, key, s->label, i + 1);
            goto abort;
        }
    }
    cdc_buf_puts(&xml, "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/"
                       "2006-03-01/\">");
    for (size_t i = 0; i < u.n_parts; i++) {
        cdc_buf_printf(&xml, "<Part><PartNumber>%zu</PartNumber><ETag>", i + 1);
        for (const char *p = u.etags[i]; *p; p++)
            if (*p == '"')
                cdc_buf_puts(&xml, "&quot;");
            else if (*p == '&')
                cdc_buf_puts(&xml, "&amp;");
            else if (*p == '<')
                cdc_buf_puts(&xml, "&lt;");
            else
                cdc_buf_putc(&xml, *p);
        cdc_buf_puts(&xml, "</ETag></Part>");
    }
    cdc_buf_puts(&xml, "</CompleteMultipartUpload>");
    if (cdc_buf_failed(&xml)) {
        cdc_err_set(err, CDC_E_NOMEM, "s3: out of memory");
        goto abort;
    }
    {
        s3_call c = { .op = "CompleteMultipartUpload", .method = "POST", .bucket = bucket,
                      .key = key, .query = u.qid, .body = xml.data, .body_len = xml.len,
                      .content_type = "application/xml" };

        if (cdc_s3_do(s, &c, err) < 0) {
            *gone = strcmp(c.code, "NoSuchUpload") == 0;
            goto abort;
        }
    }
    rc = 0;
    goto out;
abort:
    mp_abort(s, bucket, key, &u, err);
out:
    cdc_buf_free(&xml);
    mp_free(&u);
    return rc;
}

static int
put_multipart(cdc_s3 *s, const char *bucket, const char *key, s3_src *src,
              const char *content_type, cdc_err *err)
{
    size_t len = src->len;
    size_t part = s->part_size;
    int    rounds = s->retry.max_attempts > 0 ? s->retry.max_attempts : 5;

    if (len / part >= CDC_S3_MAX_PARTS) {
        /* Larger parts, in whole MiB, so that the object fits in 10,000. */
        part = (len / (CDC_S3_MAX_PARTS - 1) + (1u << 20)) & ~(((size_t) 1 << 20) - 1);
    }
    for (int round = 1;; round++) {
        bool gone = false;

        if (mp_once(s, bucket, key, src, part, content_type, &gone, err) == 0)
            return 0;
        if (!gone || round >= rounds)
            return -1;
        /* The server lost the upload (restarted, or the upload expired): start over. */
        cdc_s3_sleep(s, round, 0);
    }
}

int
cdc_s3_put_multipart(cdc_s3 *s, const char *bucket, const char *key, const void *data,
                     size_t len, const char *content_type, cdc_err *err)
{
    s3_src src = { .data = data ? data : (const uint8_t *) "", .len = len };

    return put_multipart(s, bucket, key, &src, content_type, err);
}

int
cdc_s3_put(cdc_s3 *s, const char *bucket, const char *key, const void *data, size_t len,
           const char *content_type, cdc_err *err)
{
    if (len >= s->threshold)
        return cdc_s3_put_multipart(s, bucket, key, data, len, content_type, err);
    return cdc_s3_put_object(s, bucket, key, data, len, content_type, err);
}

int
cdc_s3_put_file(cdc_s3 *s, const char *bucket, const char *key, const char *path,
                const char *content_type, cdc_err *err)
{
    s3_src      src = { .fd = -1, .name = path };
    struct stat sb;
    int         rc;

    src.fd = open(path, O_RDONLY | O_CLOEXEC);
    if (src.fd < 0)
        return cdc_err_set(err, CDC_E_IO, "s3 PutObject s3://%s/%s: open %s: %s", bucket, key,
                           path, strerror(errno));
    if (fstat(src.fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
        close(src.fd);
        return cdc_err_set(err, CDC_E_IO, "s3 PutObject s3://%s/%s: %s is not a regular file",
                           bucket, key, path);
    }
    src.len = (size_t) sb.st_size;
    if (src.len >= s->threshold)
        rc = put_multipart(s, bucket, key, &src, content_type, err);
    else {
        const void *p;

        rc = src_get(&src, 0, src.len, &p, err);
        if (rc == 0)
            rc = cdc_s3_put_object(s, bucket, key, p, src.len, content_type, err);
        else
            cdc_err_wrap(err, "s3 PutObject s3://%s/%s", bucket, key);
    }
    close(src.fd);
    free(src.buf);
    return rc;
}

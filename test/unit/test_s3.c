/*
 * Suite "s3": the S3 client (agent/core/net/s3.c).  The pure parts: the XML
 * scanner (elements by name, entities, character references, empty and
 * unclosed elements, S3's <Error>), s3:// URIs, path-style and virtual-host
 * URLs.  Then the client against a small in-memory S3 double
 * (test/lib/httpd.h): put, get (whole, range), head, delete, list over
 * several pages, multipart with the parts and the completion checked,
 * multipart aborted when a part is refused, 503 SlowDown retried, and a
 * refused signature named without the secret.
 */
#include <check.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/core/cdc_buf.h"
#include "agent/core/net/s3.h"
#include "test/lib/httpd.h"
#include "test/lib/suite_main.h"

#define AKID   "AKIDS3TESTKEY0000001"
#define SECRET "s3-unit-secret/K7MDENG+bPxRfiCYSECRET"

/* ---- XML ----------------------------------------------------------------- */

START_TEST(xml_text_and_entities)
{
    const char *x = "<?xml version=\"1.0\"?><R xmlns=\"x\"><KeyCount>2</KeyCount>"
                    "<Key>a&amp;b &lt;c&gt; &quot;d&quot; &apos;e&apos; &#65;&#x42;&#xE9;"
                    "&#x1F600;</Key><Empty/><Bad>&bogus; &#0; &#xD800; & x</Bad></R>";
    char        out[128];
    size_t      next = 0;

    ck_assert(cdc_s3_xml_text(x, strlen(x), "Key", out, sizeof(out), &next));
    ck_assert_str_eq(out, "a&b <c> \"d\" 'e' AB\xc3\xa9\xf0\x9f\x98\x80");
    ck_assert_int_gt(next, 0);
    ck_assert(cdc_s3_xml_text(x, strlen(x), "KeyCount", out, sizeof(out), NULL));
    ck_assert_str_eq(out, "2");
    ck_assert(cdc_s3_xml_text(x, strlen(x), "Empty", out, sizeof(out), NULL));
    ck_assert_str_eq(out, "");
    /* what is not a known entity stays as it is */
    ck_assert(cdc_s3_xml_text(x, strlen(x), "Bad", out, sizeof(out), NULL));
    ck_assert_str_eq(out, "&bogus; &#0; &#xD800; & x");
    ck_assert(!cdc_s3_xml_text(x, strlen(x), "Missing", out, sizeof(out), NULL));
    ck_assert(!cdc_s3_xml_text(x, strlen(x), "Ke", out, sizeof(out), NULL));
    /* cut to fit */
    ck_assert(cdc_s3_xml_text(x, strlen(x), "Key", out, 4, NULL));
    ck_assert_str_eq(out, "a&b");
}
END_TEST

START_TEST(xml_bounded)
{
    const char *x = "<A><B>one</B><B>two</B></A><B>three";
    size_t      b, e, at = 0;
    int         n = 0;

    /* unclosed: not found, and nothing read past n */
    ck_assert(!cdc_s3_xml_elem(x, strlen(x), 27, "B", &b, &e));
    ck_assert(cdc_s3_xml_elem(x, strlen(x), 0, "A", &b, &e));
    {
        size_t ab = b, ae = e;

        while (cdc_s3_xml_elem(x, ae, at > ab ? at : ab, "B", &b, &e)) {
            n++;
            at = e;
        }
    }
    ck_assert_int_eq(n, 2);
    /* a length that cuts the document short */
    ck_assert(!cdc_s3_xml_elem(x, 8, 0, "B", &b, &e));
    ck_assert(!cdc_s3_xml_elem("<", 1, 0, "B", &b, &e));
    ck_assert(!cdc_s3_xml_elem("", 0, 0, "B", &b, &e));
}
END_TEST

START_TEST(xml_error)
{
    const char *x = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>"
                    "SignatureDoesNotMatch</Code><Message>The request signature we calculated\n"
                    "does not match</Message><StringToSign>AWS4-HMAC-SHA256 secret"
                    "</StringToSign><CanonicalRequest>x-amz-security-token:TOKEN"
                    "</CanonicalRequest></Error>";
    char        code[64], msg[256];

    ck_assert(cdc_s3_xml_error(x, strlen(x), code, sizeof(code), msg, sizeof(msg)));
    ck_assert_str_eq(code, "SignatureDoesNotMatch");
    ck_assert_str_eq(msg, "The request signature we calculated does not match");
    ck_assert(!cdc_s3_xml_error("<html>nope</html>", 17, code, sizeof(code), msg,
                                sizeof(msg)));
    ck_assert(!cdc_s3_xml_error(NULL, 0, code, sizeof(code), msg, sizeof(msg)));
    ck_assert(cdc_s3_code_retryable("SlowDown"));
    ck_assert(cdc_s3_code_retryable("InternalError"));
    ck_assert(!cdc_s3_code_retryable("NoSuchKey"));
}
END_TEST

START_TEST(header_values)
{
    const char *h = "Content-Length: 20971520\r\nETag:  \"d41d-3\" \r\n"
                    "x-amz-request-id: r1\r\nEtagX: no\r\n\r\n";
    char        v[16];

    ck_assert(cdc_http_hdr_value(h, "content-length", v, sizeof(v)));
    ck_assert_str_eq(v, "20971520");
    ck_assert(cdc_http_hdr_value(h, "ETag", v, sizeof(v)));
    ck_assert_str_eq(v, "\"d41d-3\"");
    ck_assert(!cdc_http_hdr_value(h, "Etag-", v, sizeof(v)));
    ck_assert(!cdc_http_hdr_value(h, "Last-Modified", v, sizeof(v)));
    ck_assert_str_eq(v, "");
    ck_assert(cdc_http_hdr_value(h, "x-amz-request-id", v, 2));   /* cut to fit */
    ck_assert_str_eq(v, "r");
    ck_assert(!cdc_http_hdr_value("", "ETag", v, sizeof(v)));
}
END_TEST

START_TEST(parse_uri)
{
    char        bucket[64];
    const char *key;
    cdc_err     err;

    ck_assert(cdc_s3_parse_uri("s3://my-bucket/wh/t/data/x.parquet", bucket, sizeof(bucket),
                               &key, &err));
    ck_assert_str_eq(bucket, "my-bucket");
    ck_assert_str_eq(key, "wh/t/data/x.parquet");
    ck_assert(cdc_s3_parse_uri("s3://my-bucket", bucket, sizeof(bucket), &key, &err));
    ck_assert_str_eq(key, "");
    ck_assert(cdc_s3_parse_uri("s3://my-bucket/", bucket, sizeof(bucket), &key, &err));
    ck_assert_str_eq(key, "");
    ck_assert(!cdc_s3_parse_uri("s3:/x/y", bucket, sizeof(bucket), &key, &err));
    ck_assert_ptr_nonnull(strstr(err.msg, "s3:/x/y"));
    ck_assert(!cdc_s3_parse_uri("s3://ab/k", bucket, sizeof(bucket), &key, &err));
    ck_assert_ptr_nonnull(strstr(err.msg, "3 to 63"));
    ck_assert(!cdc_s3_parse_uri("s3://bad!bucket/k", bucket, sizeof(bucket), &key, &err));
    ck_assert_ptr_nonnull(strstr(err.msg, "s3://bad!bucket/k"));
    ck_assert(!cdc_s3_parse_uri("s3://bucket/a\nb", bucket, sizeof(bucket), &key, &err));
    ck_assert_int_eq(err.code, CDC_E_CONFIG);
}
END_TEST

START_TEST(urls)
{
    cdc_s3_conf c = { .access_key_id = AKID, .secret_access_key = SECRET,
                      .endpoint = "https://s3.eu-west-1.amazonaws.com/", .region = "eu-west-1" };
    cdc_err     err;
    cdc_s3     *s;
    char       *u;

    ck_assert_int_eq(cdc_http_global_init(NULL), 0);
    s = cdc_s3_new(&c, &err);
    ck_assert_msg(s != NULL, "%s", err.msg);
    ck_assert(!cdc_s3_path_style(s));
    u = cdc_s3_url(s, "bkt", "a b/é+x=.parquet");
    ck_assert_str_eq(u, "https://bkt.s3.eu-west-1.amazonaws.com/a%20b/%C3%A9%2Bx%3D.parquet");
    free(u);
    u = cdc_s3_url(s, "b.with.dots", "k");   /* virtual host would break TLS */
    ck_assert_str_eq(u, "https://s3.eu-west-1.amazonaws.com/b.with.dots/k");
    free(u);
    cdc_s3_free(s);

    c.endpoint = "http://127.0.0.1:9000";
    c.region = NULL;
    s = cdc_s3_new(&c, &err);
    ck_assert_msg(s != NULL, "%s", err.msg);
    ck_assert(cdc_s3_path_style(s));
    ck_assert_str_eq(cdc_s3_region(s), "us-east-1");
    u = cdc_s3_url(s, "bkt", "wh/x");
    ck_assert_str_eq(u, "http://127.0.0.1:9000/bkt/wh/x");
    free(u);
    cdc_s3_free(s);

    /* half a key */
    c.secret_access_key = NULL;
    ck_assert_ptr_null(cdc_s3_new(&c, &err));
    ck_assert_int_eq(err.code, CDC_E_CONFIG);
    ck_assert_ptr_nonnull(strstr(err.msg, "s3_secret_access_key"));
    /* not http */
    c.secret_access_key = SECRET;
    c.endpoint = "ftp://x";
    ck_assert_ptr_null(cdc_s3_new(&c, &err));
    ck_assert_ptr_nonnull(strstr(err.msg, "ftp://x"));
    cdc_http_global_cleanup();
}
END_TEST

/* ---- the S3 double ------------------------------------------------------- */

#define NOBJ 16
#define NPART 8

static struct {
    char   key[256];
    char  *data;
    size_t len;
    bool   used;
} objs[NOBJ];

static struct {
    bool   open;
    char   key[256];
    char  *part[NPART];
    size_t part_len[NPART];
} up;

static volatile int slowdown_first;   /* that many 503 SlowDown answers first */
static volatile int refuse_part;      /* UploadPart with this number: 400 */
static volatile int refuse_sig;       /* every request: 403 SignatureDoesNotMatch */
static volatile int bad_list;         /* listings: 1 no result element, 2 the same token again */
static volatile int ignore_range;     /* answer 200 with the whole object to a Range */
static volatile int ignore_abort;     /* AbortMultipartUpload leaves the upload open */
static volatile int aborts, completes, lists, requests;
static char         complete_body[4096];
static test_httpd  *srv;
static char         endpoint[64];

static int
obj_find(const char *key)
{
    for (int i = 0; i < NOBJ; i++)
        if (objs[i].used && strcmp(objs[i].key, key) == 0)
            return i;
    return -1;
}

static void
obj_put(const char *key, const char *data, size_t len)
{
    int i = obj_find(key);

    if (i < 0)
        for (i = 0; i < NOBJ && objs[i].used; i++)
            ;
    ck_assert_int_lt(i, NOBJ);
    free(objs[i].data);
    objs[i].used = true;
    snprintf(objs[i].key, sizeof(objs[i].key), "%s", key);
    objs[i].data = malloc(len + 1);
    memcpy(objs[i].data, data, len);
    objs[i].len = len;
}

static enum MHD_Result
xml_reply(struct MHD_Connection *conn, unsigned status, const char *body)
{
    return test_httpd_reply(conn, status, body, "application/xml", NULL, NULL);
}

static enum MHD_Result
s3_error(struct MHD_Connection *conn, unsigned status, const char *code)
{
    char b[512];

    snprintf(b, sizeof(b), "<?xml version=\"1.0\"?><Error><Code>%s</Code><Message>injected "
             "%s</Message><StringToSign>%s</StringToSign></Error>", code, code, SECRET);
    return xml_reply(conn, status, b);
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}

static enum MHD_Result
on_s3(void *cls, const test_httpd_req *r)
{
    struct MHD_Connection *c = r->conn;
    const char *upid = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "uploadId");
    const char *partno = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "partNumber");
    const char *sha = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "x-amz-content-sha256");
    const char *key;

    (void) cls;
    requests++;
    if (refuse_sig)
        return s3_error(c, 403, "SignatureDoesNotMatch");
    if (slowdown_first > 0) {
        slowdown_first--;
        return s3_error(c, 503, "SlowDown");
    }
    /* every request carries the payload's hash, and it matches */
    {
        char hex[65];

        cdc_sha256_hex(r->body, r->body_len, hex);
        if (sha == NULL || strcmp(sha, hex) != 0)
            return s3_error(c, 400, "XAmzContentSHA256Mismatch");
    }
    if (strncmp(r->url, "/bkt", 4) != 0)
        return s3_error(c, 404, "NoSuchBucket");
    key = r->url[4] == '/' ? r->url + 5 : "";
    if (strcmp(r->method, "GET") == 0 && *key == '\0' && bad_list == 1)
        return xml_reply(c, 200, "<?xml version=\"1.0\"?><Other/>");
    if (strcmp(r->method, "GET") == 0 && *key == '\0' && bad_list == 2)
        return xml_reply(c, 200, "<ListBucketResult><Contents><Key>k</Key><ETag>&quot;e0&quot;</ETag>"
                                 "</Contents>"
                                 "<IsTruncated>true</IsTruncated><NextContinuationToken>t"
                                 "</NextContinuationToken></ListBucketResult>");
    if (strcmp(r->method, "GET") == 0 && *key == '\0' &&
        MHD_lookup_connection_value_n(c, MHD_GET_ARGUMENT_KIND, "uploads", 7, NULL, NULL) ==
            MHD_YES) {
        char b[768];

        snprintf(b, sizeof(b), "<ListMultipartUploadsResult><Bucket>bkt</Bucket>%s%s%s"
                 "<IsTruncated>false</IsTruncated></ListMultipartUploadsResult>",
                 up.open ? "<Upload><Key>" : "", up.open ? up.key : "",
                 up.open ? "</Key><UploadId>up+1/x=</UploadId><Initiated>2026-12-06T00:00:00Z"
                           "</Initiated></Upload>" : "");
        return xml_reply(c, 200, b);
    }
    if (strcmp(r->method, "GET") == 0 && *key == '\0') {     /* ListObjectsV2, 2 a page */
        const char *prefix = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "prefix");
        const char *tok = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND,
                                                      "continuation-token");
        char       *keys[NOBJ];
        int         n = 0, shown = 0;
        cdc_buf     b = CDC_BUF_INIT;
        enum MHD_Result res;

        lists++;
        for (int i = 0; i < NOBJ; i++)
            if (objs[i].used && (!prefix || strncmp(objs[i].key, prefix, strlen(prefix)) == 0))
                keys[n++] = objs[i].key;
        qsort(keys, (size_t) n, sizeof(keys[0]), cmp_str);
        cdc_buf_puts(&b, "<?xml version=\"1.0\"?><ListBucketResult><Name>bkt</Name>");
        for (int i = 0; i < n && shown < 2; i++) {
            if (tok && strcmp(keys[i], tok) <= 0)
                continue;
            cdc_buf_printf(&b, "<Contents><Key>%s</Key><Size>%zu</Size><ETag>&quot;e%d&quot;"
                           "</ETag></Contents>", keys[i], objs[obj_find(keys[i])].len, i);
            if (++shown == 2 && i + 1 < n)
                cdc_buf_printf(&b, "<IsTruncated>true</IsTruncated><NextContinuationToken>%s"
                               "</NextContinuationToken>", keys[i]);
        }
        cdc_buf_puts(&b, "</ListBucketResult>");
        res = xml_reply(c, 200, cdc_buf_str(&b));
        cdc_buf_free(&b);
        return res;
    }
    if (strcmp(r->method, "POST") == 0 && upid == NULL) {     /* CreateMultipartUpload */
        up.open = true;
        snprintf(up.key, sizeof(up.key), "%s", key);
        return xml_reply(c, 200, "<InitiateMultipartUploadResult><UploadId>up+1/x=</UploadId>"
                                 "</InitiateMultipartUploadResult>");
    }
    if (upid && strcmp(upid, "up+1/x=") != 0)
        return s3_error(c, 404, "NoSuchUpload");
    if (strcmp(r->method, "PUT") == 0 && partno) {
        int p = atoi(partno);
        char etag[32];

        if (!up.open || p < 1 || p > NPART)
            return s3_error(c, 404, "NoSuchUpload");
        if (p == refuse_part)
            return s3_error(c, 400, "InvalidPart");
        free(up.part[p - 1]);
        up.part[p - 1] = malloc(r->body_len + 1);
        memcpy(up.part[p - 1], r->body, r->body_len);
        up.part_len[p - 1] = r->body_len;
        snprintf(etag, sizeof(etag), "\"etag-%d\"", p);
        return test_httpd_reply(c, 200, "", NULL, "ETag", etag);
    }
    if (strcmp(r->method, "POST") == 0) {                     /* Complete */
        cdc_buf all = CDC_BUF_INIT;

        completes++;
        snprintf(complete_body, sizeof(complete_body), "%s", r->body);
        for (int i = 0; i < NPART && up.part[i]; i++)
            cdc_buf_put(&all, up.part[i], up.part_len[i]);
        obj_put(up.key, all.data ? (const char *) all.data : "", all.len);
        cdc_buf_free(&all);
        return xml_reply(c, 200, "<CompleteMultipartUploadResult><ETag>&quot;x-2&quot;</ETag>"
                                 "</CompleteMultipartUploadResult>");
    }
    if (strcmp(r->method, "DELETE") == 0 && upid) {
        aborts++;
        if (!ignore_abort)
            up.open = false;
        return test_httpd_reply(c, 204, "", NULL, NULL, NULL);
    }
    if (strcmp(r->method, "PUT") == 0) {
        obj_put(key, r->body, r->body_len);
        return test_httpd_reply(c, 200, "", NULL, "ETag", "\"abc\"");
    }
    if (strcmp(r->method, "DELETE") == 0) {
        int i = obj_find(key);

        if (i >= 0) {
            objs[i].used = false;
            free(objs[i].data);
            objs[i].data = NULL;
        }
        return test_httpd_reply(c, 204, "", NULL, NULL, NULL);
    }
    {
        int         i = obj_find(key);
        const char *range = ignore_range ? NULL
                                         : MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                                       "Range");
        size_t      a = 0, z;
        char       *copy;
        enum MHD_Result res;

        if (i < 0)
            return strcmp(r->method, "HEAD") == 0
                       ? test_httpd_reply(c, 404, "", NULL, NULL, NULL)
                       : s3_error(c, 404, "NoSuchKey");
        z = objs[i].len;
        if (range) {
            unsigned long long x = 0, y = 0;
            int                k = sscanf(range, "bytes=%llu-%llu", &x, &y);

            a = (size_t) x;
            if (k == 2 && (size_t) y + 1 < z)
                z = (size_t) y + 1;
            if (a >= objs[i].len)
                return s3_error(c, 416, "InvalidRange");
        }
        copy = malloc(z - a + 1);
        memcpy(copy, objs[i].data + a, z - a);
        copy[z - a] = '\0';
        res = test_httpd_reply(c, range ? 206 : 200, copy, "application/octet-stream", "ETag",
                               "\"abc\"");
        free(copy);
        return res;
    }
}

static void
s3_setup(void)
{
    ck_assert_int_eq(cdc_http_global_init(NULL), 0);
    memset(objs, 0, sizeof(objs));
    memset(&up, 0, sizeof(up));
    slowdown_first = refuse_part = refuse_sig = bad_list = ignore_range = ignore_abort = aborts = completes = lists = requests = 0;
    srv = test_httpd_start(on_s3, NULL);
    ck_assert_ptr_nonnull(srv);
    snprintf(endpoint, sizeof(endpoint), "http://127.0.0.1:%d", test_httpd_port(srv));
}

static void
s3_teardown(void)
{
    test_httpd_stop(srv);
    for (int i = 0; i < NOBJ; i++)
        free(objs[i].data);
    for (int i = 0; i < NPART; i++)
        free(up.part[i]);
    cdc_http_global_cleanup();
}

static cdc_s3 *
client(void)
{
    cdc_s3_conf c = { .access_key_id = AKID, .secret_access_key = SECRET, .endpoint = endpoint,
                      .timeout_ms = 5000,
                      .retry = { .max_attempts = 3, .initial_ms = 10, .max_ms = 20 } };
    cdc_err     err;
    cdc_s3     *s = cdc_s3_new(&c, &err);

    ck_assert_msg(s != NULL, "%s", err.msg);
    return s;
}

typedef struct seen {
    char   keys[NOBJ][256];
    int64_t sizes[NOBJ];
    int    n;
} seen;

static int
on_key(void *arg, const char *key, int64_t size, const char *etag)
{
    seen *s = arg;

    ck_assert_int_eq(etag[0], 'e');    /* quotes taken off */
    snprintf(s->keys[s->n], sizeof(s->keys[0]), "%s", key);
    s->sizes[s->n++] = size;
    return 0;
}

START_TEST(put_get_head_delete_list)
{
    cdc_s3     *s = client();
    cdc_err     err;
    cdc_buf     b = CDC_BUF_INIT;
    cdc_s3_head h;
    seen        l = { 0 };

    ck_assert_msg(cdc_s3_put(s, "bkt", "wh/a b.txt", "hello world", 11, NULL, &err) == 0, "%s",
                  err.msg);
    ck_assert_int_eq(obj_find("wh/a b.txt") >= 0, 1);   /* the double decoded %20 */
    ck_assert_int_eq(cdc_s3_get(s, "bkt", "wh/a b.txt", 0, -1, &b, 0, &err), 0);
    ck_assert_str_eq(cdc_buf_str(&b), "hello world");
    cdc_buf_reset(&b);
    ck_assert_int_eq(cdc_s3_get(s, "bkt", "wh/a b.txt", 6, 3, &b, 0, &err), 0);
    ck_assert_str_eq(cdc_buf_str(&b), "wor");
    cdc_buf_reset(&b);
    ck_assert_int_eq(cdc_s3_get(s, "bkt", "wh/a b.txt", 6, -1, &b, 0, &err), 0);
    ck_assert_str_eq(cdc_buf_str(&b), "world");
    cdc_buf_reset(&b);
    /* a server that ignores Range: the asked part all the same */
    ignore_range = 1;
    cdc_buf_puts(&b, "keep:");
    ck_assert_int_eq(cdc_s3_get(s, "bkt", "wh/a b.txt", 6, 3, &b, 0, &err), 0);
    ck_assert_str_eq(cdc_buf_str(&b), "keep:wor");
    cdc_buf_reset(&b);
    ck_assert_int_eq(cdc_s3_get(s, "bkt", "wh/a b.txt", 9, -1, &b, 0, &err), 0);
    ck_assert_str_eq(cdc_buf_str(&b), "ld");
    cdc_buf_reset(&b);
    ignore_range = 0;
    ck_assert_int_eq(cdc_s3_get(s, "bkt", "wh/none", 0, -1, &b, 0, &err), 1);
    ck_assert_uint_eq(b.len, 0);    /* the error body is not left in the caller's buffer */
    ck_assert_int_eq(cdc_s3_head_object(s, "bkt", "wh/a b.txt", &h, &err), 0);
    ck_assert_int_eq(h.size, 11);
    ck_assert_str_eq(h.etag, "abc");
    ck_assert_int_eq(cdc_s3_head_object(s, "bkt", "wh/none", &h, &err), 1);

    ck_assert_int_eq(cdc_s3_put(s, "bkt", "wh/b", "", 0, NULL, &err), 0);
    ck_assert_int_eq(cdc_s3_put(s, "bkt", "wh/c", "c", 1, NULL, &err), 0);
    ck_assert_int_eq(cdc_s3_put(s, "bkt", "other", "o", 1, NULL, &err), 0);
    ck_assert_int_eq(cdc_s3_put(s, "bkt", "wh/d", "dd", 2, NULL, &err), 0);
    ck_assert_msg(cdc_s3_list(s, "bkt", "wh/", on_key, &l, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(l.n, 4);
    ck_assert_int_eq(lists, 2);     /* two pages */
    ck_assert_str_eq(l.keys[0], "wh/a b.txt");
    ck_assert_str_eq(l.keys[1], "wh/b");
    ck_assert_str_eq(l.keys[2], "wh/c");
    ck_assert_str_eq(l.keys[3], "wh/d");
    ck_assert_int_eq(l.sizes[0], 11);
    ck_assert_int_eq(l.sizes[1], 0);

    ck_assert_int_eq(cdc_s3_delete(s, "bkt", "wh/c", &err), 0);
    ck_assert_int_eq(cdc_s3_delete(s, "bkt", "wh/c", &err), 0);    /* again: fine */
    ck_assert_int_eq(obj_find("wh/c"), -1);

    /* a missing bucket is the user's to fix, and named */
    ck_assert_int_eq(cdc_s3_put(s, "nob", "k", "x", 1, NULL, &err), -1);
    ck_assert_int_eq(err.code, CDC_E_CONFIG);
    ck_assert_ptr_nonnull(strstr(err.msg, "s3://nob/k"));
    ck_assert_ptr_nonnull(strstr(err.msg, "NoSuchBucket"));
    cdc_buf_free(&b);
    cdc_s3_free(s);
}
END_TEST

static int
on_upload(void *arg, const char *key, const char *id, const char *initiated)
{
    snprintf(arg, 128, "%s %s %s", key, id, initiated);
    return 0;
}

START_TEST(multipart_parts_and_complete)
{
    cdc_s3_conf c = { .access_key_id = AKID, .secret_access_key = SECRET, .endpoint = endpoint,
                      .timeout_ms = 5000, .part_size = CDC_S3_MIN_PART,
                      .retry = { .max_attempts = 3, .initial_ms = 10, .max_ms = 20 } };
    cdc_err     err;
    cdc_s3     *s = cdc_s3_new(&c, &err);
    size_t      len = 2 * CDC_S3_MIN_PART + 12345;
    char       *data = malloc(len);
    int         i;

    ck_assert_ptr_nonnull(s);
    for (size_t k = 0; k < len; k++)
        data[k] = (char) (k * 7 + k / 4096);
    ck_assert_msg(cdc_s3_put(s, "bkt", "wh/big.parquet", data, len, NULL, &err) == 0, "%s",
                  err.msg);
    ck_assert_int_eq(completes, 1);
    ck_assert_uint_eq(up.part_len[0], CDC_S3_MIN_PART);
    ck_assert_uint_eq(up.part_len[1], CDC_S3_MIN_PART);
    ck_assert_uint_eq(up.part_len[2], 12345);
    ck_assert_ptr_nonnull(strstr(complete_body, "<Part><PartNumber>3</PartNumber><ETag>"
                                                "&quot;etag-3&quot;</ETag></Part>"));
    i = obj_find("wh/big.parquet");
    ck_assert_int_ge(i, 0);
    ck_assert_uint_eq(objs[i].len, len);
    ck_assert(memcmp(objs[i].data, data, len) == 0);
    ck_assert_int_eq(aborts, 0);

    /* one part refused: the upload is aborted, the error names the part and the object */
    refuse_part = 2;
    ck_assert_int_eq(cdc_s3_put(s, "bkt", "wh/big2", data, len, NULL, &err), -1);
    ck_assert_int_eq(aborts, 1);
    ck_assert_ptr_nonnull(strstr(err.msg, "part 2 of 3"));
    ck_assert_ptr_nonnull(strstr(err.msg, "s3://bkt/wh/big2"));
    ck_assert_ptr_nonnull(strstr(err.msg, "InvalidPart"));
    ck_assert_int_eq(obj_find("wh/big2"), -1);

    /* an upload left open (the abort lost): listed, then aborted */
    ignore_abort = 1;
    ck_assert_int_eq(cdc_s3_put(s, "bkt", "wh/big3", data, len, NULL, &err), -1);
    ignore_abort = 0;
    {
        char got[128] = "";

        ck_assert_msg(cdc_s3_list_uploads(s, "bkt", "wh/", on_upload, got, &err) == 0, "%s",
                      err.msg);
        ck_assert_str_eq(got, "wh/big3 up+1/x= 2026-12-06T00:00:00Z");
        ck_assert_int_eq(cdc_s3_abort_upload(s, "bkt", "wh/big3", "up+1/x=", &err), 0);
        got[0] = '\0';
        ck_assert_int_eq(cdc_s3_list_uploads(s, "bkt", "wh/", on_upload, got, &err), 0);
        ck_assert_str_eq(got, "");
    }
    /* from a file, part by part; a small file as one PutObject */
    refuse_part = 0;
    {
        char  path[] = "/tmp/cdc-s3-put-XXXXXX";
        int   fd = mkstemp(path);
        FILE *f = fdopen(fd, "wb");

        ck_assert_ptr_nonnull(f);
        ck_assert_uint_eq(fwrite(data, 1, len, f), len);
        ck_assert_int_eq(fclose(f), 0);
        completes = 0;
        ck_assert_msg(cdc_s3_put_file(s, "bkt", "wh/file.parquet", path, NULL, &err) == 0,
                      "%s", err.msg);
        ck_assert_int_eq(completes, 1);
        i = obj_find("wh/file.parquet");
        ck_assert_int_ge(i, 0);
        ck_assert_uint_eq(objs[i].len, len);
        ck_assert(memcmp(objs[i].data, data, len) == 0);
        ck_assert_int_eq(truncate(path, 1000), 0);
        ck_assert_int_eq(cdc_s3_put_file(s, "bkt", "wh/small", path, NULL, &err), 0);
        ck_assert_int_eq(completes, 1);
        i = obj_find("wh/small");
        ck_assert_uint_eq(objs[i].len, 1000);
        ck_assert(memcmp(objs[i].data, data, 1000) == 0);
        unlink(path);
        ck_assert_int_eq(cdc_s3_put_file(s, "bkt", "wh/gone", path, NULL, &err), -1);
        ck_assert_ptr_nonnull(strstr(err.msg, path));
        ck_assert_ptr_nonnull(strstr(err.msg, "s3://bkt/wh/gone"));
    }
    free(data);
    cdc_s3_free(s);
}
END_TEST

START_TEST(slowdown_retried_and_signature_named)
{
    cdc_s3 *s = client();
    cdc_err err;

    slowdown_first = 2;      /* max_attempts 3: the third goes through */
    ck_assert_msg(cdc_s3_put(s, "bkt", "k", "v", 1, NULL, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(requests, 3);
    slowdown_first = 3;
    ck_assert_int_eq(cdc_s3_put(s, "bkt", "k", "v", 1, NULL, &err), -1);
    ck_assert_int_eq(err.code, CDC_E_QUEUE_FULL);
    ck_assert_ptr_nonnull(strstr(err.msg, "SlowDown"));
    ck_assert_ptr_nonnull(strstr(err.msg, "gave up"));

    refuse_sig = 1;
    requests = 0;
    ck_assert_int_eq(cdc_s3_put(s, "bkt", "wh/k", "v", 1, NULL, &err), -1);
    ck_assert_int_eq(requests, 1);       /* not retried */
    ck_assert_int_eq(err.code, CDC_E_CONFIG);
    ck_assert_ptr_nonnull(strstr(err.msg, "s3 PutObject s3://bkt/wh/k at http://127.0.0.1:"));
    ck_assert_ptr_nonnull(strstr(err.msg, "HTTP 403 SignatureDoesNotMatch"));
    ck_assert_msg(strstr(err.msg, SECRET) == NULL, "secret in: %s", err.msg);
    /* a HEAD's 403 has no body: named, with what else it may mean */
    ck_assert_int_eq(cdc_s3_head_object(s, "bkt", "wh/k", NULL, &err), -1);
    ck_assert_int_eq(err.code, CDC_E_CONFIG);
    ck_assert_ptr_nonnull(strstr(err.msg, "HTTP 403 Forbidden"));
    ck_assert_ptr_nonnull(strstr(err.msg, "s3:ListBucket"));
    cdc_s3_free(s);
}
END_TEST

/* Listing answers the client cannot follow: errors naming the operation, bucket and prefix. */
START_TEST(bad_listings_named)
{
    cdc_s3 *s = client();
    cdc_err err;
    seen    l = { 0 };
    char    upl[128] = "";

    bad_list = 1;
    ck_assert_int_eq(cdc_s3_list(s, "bkt", "wh/", on_key, &l, &err), -1);
    ck_assert_int_eq(err.code, CDC_E_DEST);
    ck_assert_msg(strstr(err.msg, "s3 ListObjectsV2 s3://bkt/wh/ at http://127.0.0.1:") &&
                  strstr(err.msg, ": no ListBucketResult in the answer"), "%s", err.msg);
    ck_assert_int_eq(cdc_s3_list_uploads(s, "bkt", "wh/", on_upload, upl, &err), -1);
    ck_assert_msg(strstr(err.msg, "s3 ListMultipartUploads s3://bkt/wh/ at ") &&
                  strstr(err.msg, ": no ListMultipartUploadsResult in the answer"), "%s",
                  err.msg);
    bad_list = 2;       /* page 1 gives token t, page 2 (asked with t) gives t again */
    ck_assert_int_eq(cdc_s3_list(s, "bkt", NULL, on_key, &l, &err), -1);
    ck_assert_msg(strstr(err.msg, "s3 ListObjectsV2 s3://bkt/ at ") &&
                  strstr(err.msg, ": the same continuation token twice"), "%s", err.msg);
    cdc_s3_free(s);
}
END_TEST

START_TEST(connection_refused_retried_then_named)
{
    cdc_s3_conf c = { .access_key_id = AKID, .secret_access_key = SECRET,
                      .timeout_ms = 2000,
                      .retry = { .max_attempts = 2, .initial_ms = 10, .max_ms = 20 } };
    char        ep[64];
    cdc_err     err;
    cdc_s3     *s;

    snprintf(ep, sizeof(ep), "http://127.0.0.1:%d", test_free_port());
    c.endpoint = ep;
    s = cdc_s3_new(&c, &err);
    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(cdc_s3_put(s, "bkt", "k", "v", 1, NULL, &err), -1);
    ck_assert_int_eq(err.code, CDC_E_CONN);
    ck_assert_ptr_nonnull(strstr(err.msg, "s3://bkt/k"));
    cdc_s3_free(s);
}
END_TEST

static Suite *
s3_suite(void)
{
    Suite *s = suite_create("s3");
    TCase *t = tcase_create("pure");
    TCase *d = tcase_create("double");

    tcase_add_test(t, xml_text_and_entities);
    tcase_add_test(t, xml_bounded);
    tcase_add_test(t, xml_error);
    tcase_add_test(t, header_values);
    tcase_add_test(t, parse_uri);
    tcase_add_test(t, urls);
    suite_add_tcase(s, t);
    tcase_add_checked_fixture(d, s3_setup, s3_teardown);
    tcase_add_test(d, put_get_head_delete_list);
    tcase_add_test(d, multipart_parts_and_complete);
    tcase_add_test(d, slowdown_retried_and_signature_named);
    tcase_add_test(d, connection_refused_retried_then_named);
    tcase_add_test(d, bad_listings_named);
    suite_add_tcase(s, d);
    return s;
}

int
main(void)
{
    return suite_main(s3_suite(), false);
}

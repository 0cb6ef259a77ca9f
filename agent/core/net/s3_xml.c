/*
 * S3's XML answers read by a small scanner (see s3.h), S3's error codes
 * (which are worth a retry, which a user fixes), and s3:// URIs.
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

/* ---- XML ------------------------------------------------------------------------- */

/* Offset of needle in hay[from..n), or n. */
static size_t
find(const char *hay, size_t n, size_t from, const char *needle)
{
    size_t l = strlen(needle);

    for (size_t i = from; i + l <= n; i++)
        if (hay[i] == needle[0] && memcmp(hay + i, needle, l) == 0)
            return i;
    return n;
}

bool
cdc_s3_xml_elem(const char *xml, size_t n, size_t from, const char *name, size_t *b,
                size_t *e)
{
    size_t nl = strlen(name);
    char   close[80];

    if (nl == 0 || nl + 4 > sizeof(close))
        return false;
    snprintf(close, sizeof(close), "</%s>", name);
    for (size_t i = from; i < n; i++) {
        size_t at = find(xml, n, i, "<"), gt;

        if (at + 1 + nl > n)
            return false;
        i = at;
        if (memcmp(xml + at + 1, name, nl) != 0)
            continue;
        /* "<Name>", "<Name attr=...>" or "<Name/>"; not "<NameOther>" */
        gt = at + 1 + nl;
        if (gt >= n)
            return false;
        if (xml[gt] != '>' && xml[gt] != ' ' && xml[gt] != '/' && xml[gt] != '\t' &&
            xml[gt] != '\r' && xml[gt] != '\n')
            continue;
        gt = find(xml, n, gt, ">");
        if (gt == n)
            return false;
        if (xml[gt - 1] == '/') {       /* empty element */
            *b = *e = gt + 1;
            return true;
        }
        *b = gt + 1;
        *e = find(xml, n, *b, close);
        return *e < n;
    }
    return false;
}

/* Appends xml[b..e) with entities and character references decoded into out (cut). */
static void
xml_decode(const char *s, size_t len, char *out, size_t out_n)
{
    size_t o = 0;

    if (out_n == 0)
        return;
    for (size_t i = 0; i < len && o + 1 < out_n;) {
        char   c = s[i];
        size_t semi;

        if (c != '&') {
            out[o++] = c;
            i++;
            continue;
        }
        semi = i + 1;
        while (semi < len && semi - i < 12 && s[semi] != ';')
            semi++;
        if (semi >= len || s[semi] != ';') {
            out[o++] = c;
            i++;
            continue;
        }
        {
            const char   *ent = s + i + 1;
            size_t        el = semi - i - 1;
            unsigned long cp = 0;
            bool          ok = true;

            if (el == 3 && memcmp(ent, "amp", 3) == 0)
                cp = '&';
            else if (el == 2 && memcmp(ent, "lt", 2) == 0)
                cp = '<';
            else if (el == 2 && memcmp(ent, "gt", 2) == 0)
                cp = '>';
            else if (el == 4 && memcmp(ent, "quot", 4) == 0)
                cp = '"';
            else if (el == 4 && memcmp(ent, "apos", 4) == 0)
                cp = '\'';
            else if (el >= 2 && ent[0] == '#') {
                bool hex = ent[1] == 'x' || ent[1] == 'X';

                for (size_t k = hex ? 2 : 1; k < el && ok; k++) {
                    int d = hex ? cdc_hexval(ent[k]) : (ent[k] >= '0' && ent[k] <= '9'
                                                        ? ent[k] - '0' : -1);

                    if (d < 0 || cp > 0x10FFFF)
                        ok = false;
                    else
                        cp = cp * (hex ? 16 : 10) + (unsigned long) d;
                }
                if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
                    ok = false;
            } else
                ok = false;
            if (!ok) {
                out[o++] = c;
                i++;
                continue;
            }
            /* UTF-8 */
            if (cp < 0x80) {
                out[o++] = (char) cp;
            } else {
                unsigned char u[4];
                size_t        k;

                if (cp < 0x800) {
                    u[0] = (unsigned char) (0xC0 | (cp >> 6));
                    u[1] = (unsigned char) (0x80 | (cp & 0x3F));
                    k = 2;
                } else if (cp < 0x10000) {
                    u[0] = (unsigned char) (0xE0 | (cp >> 12));
                    u[1] = (unsigned char) (0x80 | ((cp >> 6) & 0x3F));
                    u[2] = (unsigned char) (0x80 | (cp & 0x3F));
                    k = 3;
                } else {
                    u[0] = (unsigned char) (0xF0 | (cp >> 18));
                    u[1] = (unsigned char) (0x80 | ((cp >> 12) & 0x3F));
                    u[2] = (unsigned char) (0x80 | ((cp >> 6) & 0x3F));
                    u[3] = (unsigned char) (0x80 | (cp & 0x3F));
                    k = 4;
                }
                if (o + k >= out_n)
                    break;
                memcpy(out + o, u, k);
                o += k;
            }
            i = semi + 1;
        }
    }
    out[o] = '\0';
}

bool
cdc_s3_xml_text(const char *xml, size_t n, const char *name, char *out, size_t out_n,
                size_t *next)
{
    size_t b, e;

    if (out_n > 0)
        out[0] = '\0';
    if (xml == NULL || !cdc_s3_xml_elem(xml, n, 0, name, &b, &e))
        return false;
    xml_decode(xml + b, e - b, out, out_n);
    if (next)
        *next = e + strlen(name) + 3;
    return true;
}

bool
cdc_s3_xml_error(const char *xml, size_t n, char *code, size_t code_n, char *msg,
                 size_t msg_n)
{
    size_t b, e;

    if (code_n > 0)
        code[0] = '\0';
    if (msg_n > 0)
        msg[0] = '\0';
    if (xml == NULL || !cdc_s3_xml_elem(xml, n, 0, "Error", &b, &e))
        return false;
    if (!cdc_s3_xml_text(xml + b, e - b, "Code", code, code_n, NULL))
        return false;
    cdc_s3_xml_text(xml + b, e - b, "Message", msg, msg_n, NULL);
    for (char *p = msg; *p; p++)        /* one line */
        if (*p == '\r' || *p == '\n' || *p == '\t')
            *p = ' ';
    return true;
}

/* Whether code is one of the NULL-terminated codes. */
static bool
in_list(const char *code, const char *const *codes)
{
    for (int i = 0; codes[i]; i++)
        if (strcmp(code, codes[i]) == 0)
            return true;
    return false;
}

bool
cdc_s3_code_retryable(const char *code)
{
    static const char *const codes[] = {
        "SlowDown", "InternalError", "ServiceUnavailable", "RequestTimeout",
        "ExpiredToken", "RequestTimeTooSkewed", "OperationAborted", "Throttling",
        "ThrottlingException", "RequestThrottled", NULL,
    };

    return in_list(code, codes);
}

/* Codes that a user fixes in the configuration or the bucket's permissions. */
bool
cdc_s3_code_is_config(const char *code)
{
    static const char *const codes[] = {
        "SignatureDoesNotMatch", "InvalidAccessKeyId", "AccessDenied", "NoSuchBucket",
        "InvalidBucketName", "AuthorizationHeaderMalformed", "InvalidToken",
        "InvalidClientTokenId", "ExpiredToken", "AllAccessDisabled", "AccountProblem",
        "PermanentRedirect", "IllegalLocationConstraintException", NULL,
    };

    return in_list(code, codes);
}

bool
cdc_s3_parse_uri(const char *uri, char *bucket, size_t bucket_n, const char **key,
                 cdc_err *err)
{
    const char *b, *slash;
    size_t      bl;

    if (uri == NULL || strncmp(uri, "s3://", 5) != 0) {
        cdc_err_set(err, CDC_E_CONFIG, "%s: not an s3:// URI", uri ? uri : "(null)");
        return false;
    }
    b = uri + 5;
    slash = strchr(b, '/');
    bl = slash ? (size_t) (slash - b) : strlen(b);
    if (bl < 3 || bl > 63) {
        cdc_err_set(err, CDC_E_CONFIG, "%s: a bucket name has 3 to 63 characters", uri);
        return false;
    }
    for (size_t i = 0; i < bl; i++) {
        char c = b[i];

        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
              c == '_' || (c >= 'A' && c <= 'Z'))) {
            cdc_err_set(err, CDC_E_CONFIG,
                        "%s: bucket name holds '%c' (letters, digits, '-', '.' only)", uri, c);
            return false;
        }
    }
    if (bl + 1 > bucket_n) {
        cdc_err_set(err, CDC_E_CONFIG, "%s: bucket name too long", uri);
        return false;
    }
    memcpy(bucket, b, bl);
    bucket[bl] = '\0';
    *key = slash ? slash + 1 : b + bl;
    for (const char *p = *key; *p; p++)
        if ((unsigned char) *p < 0x20 || *p == 0x7f) {
            cdc_err_set(err, CDC_E_CONFIG, "%s: key holds a control character", uri);
            return false;
        }
    return true;
}

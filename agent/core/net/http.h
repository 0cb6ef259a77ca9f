/*
 * The one HTTP client of the program, over libcurl: whoever speaks HTTP (the
 * Schema Registry client, the webhook sink, and the Pub/Sub, Kinesis and
 * Iceberg REST destinations to come) goes through here, so TLS options,
 * timeouts, the retriable classes and the redaction of secrets mean the same
 * everywhere.
 *
 * One request is a cdc_http_xfer (a libcurl easy handle and what it keeps of
 * the answer).  It runs either synchronously (cdc_http_perform) or inside a
 * cdc_http_multi, driven from the agent's loop without blocking: add, then
 * cdc_http_multi_perform() and cdc_http_multi_done() whenever the loop comes
 * by, cdc_http_multi_poll() to wait with a bound.  An xfer may be reused for
 * the next request (the connection stays open).
 *
 * Classes of outcome (cdc_http_class): a 2xx is done; no answer (connection
 * refused, reset, timeout), 408, 429 and 5xx are worth another attempt; any
 * other status is the receiver's final word.  Retry-After (seconds) is kept.
 *
 * Secrets: no message built here contains URL userinfo, an Authorization
 * header's value or the value of a token/key/signature/password query
 * parameter.  Callers name a URL in their own messages through
 * cdc_http_redact_url() or cdc_http_url_label().
 *
 * @locality an xfer and a multi belong to one thread (the agent's loop or a
 * CLI); libcurl's global init is reference-counted by cdc_http_global_*.
 */
#ifndef CDC_AGENT_CORE_NET_HTTP_H
#define CDC_AGENT_CORE_NET_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/core/cdc_buf.h"
#include "agent/core/cdc_err.h"

#define CDC_HTTP_HEAD_MAX 300   /* bytes of a response body always kept, for messages */

/* TLS options; NULL or "" strings are unset.  libcurl copies them. */
typedef struct cdc_http_tls {
    const char *ca_file;        /* PEM CA bundle; unset: the system's store */
    const char *client_cert;    /* PEM client certificate */
    const char *client_key;     /* PEM key of client_cert */
    const char *key_password;   /* passphrase of client_key */
    bool        insecure;       /* skip peer and host checks (off by default) */
} cdc_http_tls;

/* A header list ("Name: value" lines), opaque; NULL is the empty list. */
typedef struct cdc_http_hdrs cdc_http_hdrs;

/* Appends a copy of line; @returns the list (NULL when out of memory: the old list is freed). */
cdc_http_hdrs *cdc_http_hdrs_add(cdc_http_hdrs *h, const char *line);
cdc_http_hdrs *cdc_http_hdrs_addf(cdc_http_hdrs *h, const char *fmt, ...) CDC_PRINTF(2, 3);
void           cdc_http_hdrs_free(cdc_http_hdrs *h);  /* NULL is a no-op */

/* Basic authentication (user:password), set through libcurl, never as a header line. */
typedef struct cdc_http_basic {
    const char *user;           /* NULL: none */
    const char *password;
} cdc_http_basic;

/* One request; borrowed until the transfer finishes (body and headers are not copied). */
typedef struct cdc_http_req {
    const char          *url;
    const char          *method;        /* NULL: POST with a body, GET without */
    const cdc_http_hdrs *hdrs;          /* the shared lines */
    const char          *extra_hdr;     /* one more line for this request only; NULL: none */
    const void          *body;          /* NULL: no body */
    size_t               body_len;
    int                  timeout_ms;    /* whole request; <= 0: 10000 */
    int                  connect_timeout_ms;  /* <= 0: min(timeout, 10000) */
    const cdc_http_tls  *tls;           /* NULL: defaults */
    cdc_http_basic       basic;
    const char          *user_agent;    /* NULL: libcurl's none */
    bool                 fresh_connect; /* do not reuse the kept connection */
    cdc_buf             *body_out;      /* NULL: keep only the head; else the whole body */
    size_t               body_max;      /* with body_out: a larger answer fails; 0: 16 MiB */
    cdc_buf             *hdrs_out;      /* NULL: response headers not kept; else emptied and
                                           given the final response's header lines, each
                                           "Name: value\r\n" as received (S3's ETag) */
    bool                 no_body;       /* HEAD: ask for no body (libcurl then waits for none) */
} cdc_http_req;

typedef enum cdc_http_class {
    CDC_HTTP_OK = 0,        /* 2xx */
    CDC_HTTP_RETRY,         /* no answer, 408, 429, 5xx */
    CDC_HTTP_FINAL,         /* any other status */
} cdc_http_class;

/* What came back. */
typedef struct cdc_http_resp {
    bool    answered;           /* a status line came back */
    long    status;             /* 0 when not answered */
    int     curl_code;          /* CURLcode; 0 when answered */
    bool    timed_out;          /* not answered within the timeout */
    bool    broken_setup;       /* no retry can help: bad URL, certificate, TLS option */
    bool    broke_midway;       /* the connection broke while sending or receiving, or in
                                   the TLS handshake (a refused client certificate, say) */
    int64_t retry_after_s;      /* Retry-After in seconds; 0: none */
    char    error[256];         /* not answered: why, one line, no secrets */
    char    head[CDC_HTTP_HEAD_MAX + 1];   /* the body's first bytes, NUL-terminated */
    size_t  head_len;
} cdc_http_resp;

/* Reference-counted curl_global_init / _cleanup: call once per user. */
int  cdc_http_global_init(cdc_err *err);
void cdc_http_global_cleanup(void);

/* The class of an outcome. */
cdc_http_class cdc_http_classify(const cdc_http_resp *r);

/*
 * The value of header name (any case) in hdrs, lines as kept by
 * cdc_http_req.hdrs_out, trimmed, into out.  @returns true when present
 * (out cut to n-1 bytes), false (out "") when not.
 */
bool cdc_http_hdr_value(const char *hdrs, const char *name, char *out, size_t n);

/* The first line of the kept body head into out (for messages). */
void cdc_http_resp_line(const cdc_http_resp *r, char *out, size_t n);

/* "HTTP 503: <first line>" or the transport error, into out. */
void cdc_http_resp_describe(const cdc_http_resp *r, char *out, size_t n);

/*
 * A copy of url safe for messages: user:password@ becomes ***@ and the values
 * of query parameters that look secret (token, key, signature, sig, password,
 * secret, auth, credential, as substrings of the name) become ***; the
 * fragment is dropped.  malloc'd (aborts when out of memory).
 */
char *cdc_http_redact_url(const char *url);

/* "scheme://host[:port]/path" of url, without credentials, query or fragment. malloc'd. */
char *cdc_http_url_label(const char *url);

/*
 * Sets t on a libcurl easy handle (CURL *) that the caller drives itself.
 * For code that has not moved onto cdc_http_xfer yet.
 */
void cdc_http_apply_tls(void *curl_easy, const cdc_http_tls *t);

/* ---- one transfer ------------------------------------------------------ */

typedef struct cdc_http_xfer cdc_http_xfer;

/* @returns a transfer, or NULL with err set (CDC_E_NOMEM). */
cdc_http_xfer *cdc_http_xfer_new(cdc_err *err);
void           cdc_http_xfer_free(cdc_http_xfer *x);   /* NULL is a no-op */

/* Caller data for multi use. */
void  cdc_http_xfer_set_user(cdc_http_xfer *x, void *user);
void *cdc_http_xfer_user(const cdc_http_xfer *x);

/* The outcome of the last finished request. */
const cdc_http_resp *cdc_http_xfer_resp(const cdc_http_xfer *x);

/* URL-escapes s (for a path segment); malloc'd, NULL when out of memory. */
char *cdc_http_escape(cdc_http_xfer *x, const char *s);

/*
 * Runs req synchronously and fills *resp (any outcome).
 * @returns 0 when the request could be made (answered or not: see resp),
 *          -1 with err set when it could not even start (out of memory).
 */
int cdc_http_perform(cdc_http_xfer *x, const cdc_http_req *req, cdc_http_resp *resp,
                     cdc_err *err);

/* ---- many transfers at once ------------------------------------------- */

typedef struct cdc_http_multi cdc_http_multi;

cdc_http_multi *cdc_http_multi_new(cdc_err *err);
void            cdc_http_multi_free(cdc_http_multi *m);   /* removes what is still in it */

/* Starts req on x inside m (does not block). */
int cdc_http_multi_add(cdc_http_multi *m, cdc_http_xfer *x, const cdc_http_req *req,
                       cdc_err *err);

/* Removes x from m without waiting for it (abandoned). */
void cdc_http_multi_remove(cdc_http_multi *m, cdc_http_xfer *x);

/* Does what the sockets allow now; @returns the number still running. */
int cdc_http_multi_perform(cdc_http_multi *m);

/* The next finished transfer (removed from m, its resp filled), or NULL. */
cdc_http_xfer *cdc_http_multi_done(cdc_http_multi *m);

/* Waits up to timeout_ms for activity on m's sockets. */
void cdc_http_multi_poll(cdc_http_multi *m, int timeout_ms);

#endif

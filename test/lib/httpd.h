/*
 * An HTTP server inside a unit test: libmicrohttpd on a loopback port, one
 * thread per connection.  It gathers each request's body, then calls the
 * test's handler once with the whole of it.  For tests of the HTTP client and
 * of what talks through it (tokens, credentials, signed calls).
 */
#ifndef CDC_TEST_LIB_HTTPD_H
#define CDC_TEST_LIB_HTTPD_H

#include <microhttpd.h>
#include <stddef.h>

typedef struct test_httpd test_httpd;

/* One request, body complete (NUL-terminated; body_len excludes the NUL). */
typedef struct test_httpd_req {
    struct MHD_Connection *conn;
    const char            *url;
    const char            *method;
    const char            *body;
    size_t                 body_len;
} test_httpd_req;

typedef enum MHD_Result (*test_httpd_fn)(void *cls, const test_httpd_req *r);

/* Starts a server on an ephemeral loopback port; NULL when it cannot. */
test_httpd *test_httpd_start(test_httpd_fn fn, void *cls);
int         test_httpd_port(const test_httpd *h);
void        test_httpd_stop(test_httpd *h);       /* NULL is a no-op */

/*
 * Queues a response: status, body (copied), and an optional header line
 * (hdr_name NULL: none); content_type NULL: none.
 */
enum MHD_Result test_httpd_reply(struct MHD_Connection *conn, unsigned status, const char *body,
                                 const char *content_type, const char *hdr_name,
                                 const char *hdr_value);

/* A loopback port nobody listens on (bound, then closed): for refused connections. */
int test_free_port(void);

#endif

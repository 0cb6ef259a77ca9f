#include "test/lib/httpd.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent/core/cdc_buf.h"

struct test_httpd {
    struct MHD_Daemon *d;
    test_httpd_fn      fn;
    void              *cls;
    int                port;
};

typedef struct upload {
    cdc_buf body;
} upload;

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
           const char *version, const char *data, size_t *data_size, void **state)
{
    test_httpd    *h = cls;
    upload        *u = *state;
    test_httpd_req r;

    (void) version;
    if (u == NULL) {
        *state = u = calloc(1, sizeof(*u));
        return u ? MHD_YES : MHD_NO;
    }
    if (*data_size > 0) {
        cdc_buf_put(&u->body, data, *data_size);
        *data_size = 0;
        return MHD_YES;
    }
    r = (test_httpd_req) { .conn = conn, .url = url, .method = method,
                           .body = cdc_buf_str(&u->body), .body_len = u->body.len };
    return h->fn(h->cls, &r);
}

static void
on_done(void *cls, struct MHD_Connection *conn, void **state, enum MHD_RequestTerminationCode t)
{
    upload *u = *state;

    (void) cls;
    (void) conn;
    (void) t;
    if (u) {
        cdc_buf_free(&u->body);
        free(u);
    }
    *state = NULL;
}

test_httpd *
test_httpd_start(test_httpd_fn fn, void *cls)
{
    test_httpd                 *h = calloc(1, sizeof(*h));
    const union MHD_DaemonInfo *info;

    if (h == NULL)
        return NULL;
    h->fn = fn;
    h->cls = cls;
    h->d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, 0,
                            NULL, NULL, on_request, h, MHD_OPTION_NOTIFY_COMPLETED, on_done, NULL,
                            MHD_OPTION_END);
    if (h->d == NULL || (info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT)) == NULL) {
        test_httpd_stop(h);
        return NULL;
    }
    h->port = info->port;
    return h;
}

int
test_httpd_port(const test_httpd *h)
{
    return h->port;
}

void
test_httpd_stop(test_httpd *h)
{
    if (h == NULL)
        return;
    if (h->d)
        MHD_stop_daemon(h->d);
    free(h);
}

enum MHD_Result
test_httpd_reply(struct MHD_Connection *conn, unsigned status, const char *body,
                 const char *content_type, const char *hdr_name, const char *hdr_value)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *) body,
                                                             MHD_RESPMEM_MUST_COPY);
    enum MHD_Result      ret;

    if (r == NULL)
        return MHD_NO;
    if (content_type)
        MHD_add_response_header(r, "Content-Type", content_type);
    if (hdr_name)
        MHD_add_response_header(r, hdr_name, hdr_value);
    ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

int
test_free_port(void)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t          len = sizeof(a);
    int                fd = socket(AF_INET, SOCK_STREAM, 0), p = 0;

    if (fd < 0)
        return 0;
    if (bind(fd, (struct sockaddr *) &a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *) &a, &len) == 0)
        p = ntohs(a.sin_port);
    close(fd);
    return p;
}

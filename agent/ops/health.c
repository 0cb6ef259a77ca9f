#include "agent/ops/health.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "agent/core/cdc_buf.h"
#include "agent/core/cdc_log.h"
#include "agent/core/cdc_mem.h"

/* Probes and scrapes are small and few: bound connections and their idle time. */
#define HEALTH_MAX_CONNECTIONS 32
#define HEALTH_CONN_TIMEOUT_S  10

struct agent_health {
    struct MHD_Daemon *daemon;
    agent_metrics     *m;       /* borrowed */
    int                port;
};

/* Queues one response holding a copy of @p body. */
static enum MHD_Result
reply(struct MHD_Connection *conn, unsigned status, const char *ctype, const cdc_buf *body)
{
    struct MHD_Response *resp;
    enum MHD_Result      rc;

    if (cdc_buf_failed(body)) {
        status = MHD_HTTP_INTERNAL_SERVER_ERROR;
        body = NULL;
    }
    resp = MHD_create_response_from_buffer(body ? body->len : 0,
                                           body ? (void *) cdc_buf_str(body) : (void *) "",
                                           MHD_RESPMEM_MUST_COPY);
    if (resp == NULL)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    rc = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return rc;
}

static enum MHD_Result
reply_text(struct MHD_Connection *conn, unsigned status, const char *text)
{
    cdc_buf b = CDC_BUF_INIT;
    enum MHD_Result rc;

    cdc_buf_puts(&b, text);
    rc = reply(conn, status, "text/plain; charset=utf-8", &b);
    cdc_buf_free(&b);
    return rc;
}

/*
 * libmicrohttpd's access handler: called on its thread, once per request
 * (GET has no body, so the first call can answer at once).
 */
static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
           const char *version, const char *upload_data, size_t *upload_data_size, void **req_cls)
{
    agent_health   *h = cls;
    cdc_buf         b = CDC_BUF_INIT;
    unsigned        status = MHD_HTTP_OK;
    const char     *ctype = "application/json";
    enum MHD_Result rc;

    (void) version;
    (void) upload_data;
    (void) req_cls;
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
        if (*upload_data_size > 0) {
            *upload_data_size = 0;      /* discard a body; answer on the last call */
            return MHD_YES;
        }
        return reply_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD\n");
    }
    if (strcmp(url, "/healthz") == 0) {
        cdc_buf_puts(&b, "{\"status\":\"ok\"}");
    } else if (strcmp(url, "/readyz") == 0) {
        if (!agent_metrics_render_health(h->m, &b))
            status = MHD_HTTP_SERVICE_UNAVAILABLE;
    } else if (strcmp(url, "/metrics") == 0) {
        agent_metrics_render(h->m, &b);
        ctype = "text/plain; version=0.0.4; charset=utf-8";
    } else {
        return reply_text(conn, MHD_HTTP_NOT_FOUND, "not found: try /healthz, /readyz, /metrics\n");
    }
    rc = reply(conn, status, ctype, &b);
    cdc_buf_free(&b);
    return rc;
}

/* Parses @p addr (IPv4 or IPv6 literal) and @p port into @p ss. */
static int
make_addr(const char *addr, int port, struct sockaddr_storage *ss, socklen_t *len, cdc_err *err)
{
    struct sockaddr_in  *v4 = (struct sockaddr_in *) ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *) ss;

    memset(ss, 0, sizeof(*ss));
    if (port < 0 || port > 65535)
        return cdc_err_set(err, CDC_E_CONFIG, "health_port %d is not a TCP port (0-65535)", port);
    if (inet_pton(AF_INET, addr, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t) port);
        *len = sizeof(*v4);
        return 0;
    }
    if (inet_pton(AF_INET6, addr, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t) port);
        *len = sizeof(*v6);
        return 0;
    }
    return cdc_err_set(err, CDC_E_CONFIG, "health server: \"%s\" is not an IPv4 or IPv6 address",
                       addr);
}

/*
 * Binds and listens ourselves rather than letting libmicrohttpd do it: its
 * MHD_start_daemon() returns only NULL, and an operator needs to read "port
 * in use" rather than "could not start".
 */
static int
open_listener(const char *addr, int port, int *bound_port, cdc_err *err)
{
    struct sockaddr_storage ss;
    socklen_t               len;
    int                     fd, one = 1;

    if (make_addr(addr, port, &ss, &len, err) < 0)
        return -1;
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return cdc_err_set(err, CDC_E_IO, "health server: socket: %s", strerror(errno));
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));  /* restart past TIME_WAIT */
    if (bind(fd, (struct sockaddr *) &ss, len) < 0) {
        int e = errno;

        close(fd);
        if (e == EADDRINUSE)
            return cdc_err_set(err, CDC_E_CONFIG, "health_port %d is in use on %s (another "
                               "process listens there; change health_port in platform.yaml)",
                               port, addr);
        return cdc_err_set(err, e == EADDRNOTAVAIL ? CDC_E_CONFIG : CDC_E_IO,
                           "health server: cannot bind %s port %d: %s", addr, port, strerror(e));
    }
    if (listen(fd, 64) < 0 || getsockname(fd, (struct sockaddr *) &ss, &len) < 0) {
        int e = errno;

        close(fd);
        return cdc_err_set(err, CDC_E_IO, "health server: listen on port %d: %s", port,
                           strerror(e));
    }
    *bound_port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *) &ss)->sin_port
                                                : ((struct sockaddr_in6 *) &ss)->sin6_port);
    return fd;
}

agent_health *
agent_health_start(const agent_health_conf *conf, agent_metrics *m, cdc_err *err)
{
    const char   *addr = conf->bind_address && *conf->bind_address ? conf->bind_address : "0.0.0.0";
    agent_health *h;
    int           fd, port = 0;

    if (m == NULL) {
        cdc_err_set(err, CDC_E_INVAL, "health server: no metrics registry");
        return NULL;
    }
    fd = open_listener(addr, conf->port, &port, err);
    if (fd < 0)
        return NULL;
    h = cdc_xcalloc(1, sizeof(*h));
    h->m = m;
    h->port = port;
    h->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ITC, 0, NULL, NULL,
                                 on_request, h,
                                 MHD_OPTION_LISTEN_SOCKET, (MHD_socket) fd,
                                 MHD_OPTION_CONNECTION_LIMIT, (unsigned) HEALTH_MAX_CONNECTIONS,
                                 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned) HEALTH_CONN_TIMEOUT_S,
                                 MHD_OPTION_END);
    if (h->daemon == NULL) {
        close(fd);
        free(h);
        cdc_err_set(err, CDC_E_IO, "health server: libmicrohttpd did not start on %s port %d",
                    addr, port);
        return NULL;
    }
    log_info("http", "health server on %s port %d: /healthz /readyz /metrics", addr, port);
    return h;
}

int
agent_health_port(const agent_health *h)
{
    return h ? h->port : 0;
}

void
agent_health_stop(agent_health *h)
{
    MHD_socket fd;

    if (h == NULL)
        return;
    /*
     * MHD_quiesce_daemon() hands the listen socket back ("the caller is
     * responsible for closing it", microhttpd.h) and MHD_stop_daemon() then
     * leaves it alone; without it, who closes a socket given through
     * MHD_OPTION_LISTEN_SOCKET is not documented.
     */
    fd = MHD_quiesce_daemon(h->daemon);
    MHD_stop_daemon(h->daemon);
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
    free(h);
}

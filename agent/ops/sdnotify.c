#include "agent/ops/sdnotify.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/core/cdc_clock.h"
#include "agent/core/cdc_log.h"

/* Read from the environment on first use; agent_sd_reset() forgets it. */
static struct {
    bool               inited;
    bool               enabled;     /* NOTIFY_SOCKET set and usable */
    bool               warned;      /* a failure has been logged */
    int                fd;
    struct sockaddr_un addr;
    socklen_t          len;
    uint64_t           wd_usec;     /* 0: no watchdog */
    int64_t            last_wd_ns;
} sd = { .fd = -1 };

int
agent_sd_address(const char *value, struct sockaddr_un *addr, socklen_t *len, cdc_err *err)
{
    size_t n;

    if (value == NULL || value[0] == '\0')
        return cdc_err_set(err, CDC_E_CONFIG, "NOTIFY_SOCKET is empty");
    if (value[0] != '/' && value[0] != '@')
        return cdc_err_set(err, CDC_E_CONFIG, "NOTIFY_SOCKET=%s: only an absolute socket path or "
                           "an abstract name (@name) is supported", value);
    n = strlen(value);
    if (n > sizeof(addr->sun_path) - (value[0] == '/'))    /* a path keeps its final NUL */
        return cdc_err_set(err, CDC_E_CONFIG, "NOTIFY_SOCKET=%s: longer than %zu bytes", value,
                           sizeof(addr->sun_path) - 1);
    memset(addr, 0, sizeof(*addr));
    addr->sun_family = AF_UNIX;
    memcpy(addr->sun_path, value, n);
    if (value[0] == '@')
        addr->sun_path[0] = '\0';   /* abstract: the length counts exactly the name's bytes */
    *len = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + n + (value[0] == '/'));
    return 0;
}

/* Reads WATCHDOG_USEC, honouring WATCHDOG_PID (set by systemd for the main process only). */
static uint64_t
read_watchdog(void)
{
    const char        *usec = getenv("WATCHDOG_USEC");
    const char        *pid = getenv("WATCHDOG_PID");
    char              *end;
    unsigned long long v;

    if (usec == NULL || *usec == '\0')
        return 0;
    if (pid != NULL && *pid != '\0' && strtol(pid, NULL, 10) != (long) getpid())
        return 0;
    errno = 0;
    v = strtoull(usec, &end, 10);
    if (errno != 0 || *end != '\0' || v == 0) {
        log_warn("systemd", "WATCHDOG_USEC=%s is not a positive number of microseconds; "
                 "not sending WATCHDOG=1", usec);
        return 0;
    }
    return (uint64_t) v;
}

static void
sd_init(void)
{
    const char *value = getenv("NOTIFY_SOCKET");
    cdc_err     err = { 0 };

    if (sd.inited)
        return;
    sd.inited = true;
    if (value == NULL)
        return;
    if (agent_sd_address(value, &sd.addr, &sd.len, &err) < 0) {
        log_warn("systemd", "%s; not notifying the service manager", err.msg);
        return;
    }
    sd.fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (sd.fd < 0) {
        log_warn("systemd", "NOTIFY_SOCKET=%s: socket: %s; not notifying the service manager",
                 value, strerror(errno));
        return;
    }
    sd.enabled = true;
    sd.wd_usec = read_watchdog();
    if (sd.wd_usec > 0)
        log_info("systemd", "watchdog: WATCHDOG=1 every %.3f s (WATCHDOG_USEC=%llu)",
                 (double) sd.wd_usec / 2e6, (unsigned long long) sd.wd_usec);
}

int
agent_sd_notify(const char *state)
{
    ssize_t n;

    sd_init();
    if (!sd.enabled)
        return 0;
    do
        n = sendto(sd.fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *) &sd.addr, sd.len);
    while (n < 0 && errno == EINTR);
    if (n >= 0)
        return 1;
    if (!sd.warned) {
        sd.warned = true;
        log_warn("systemd", "sending \"%.40s\" to NOTIFY_SOCKET %s%s: %s (further failures are "
                 "not logged)", state, sd.addr.sun_path[0] ? "" : "@",
                 sd.addr.sun_path[0] ? sd.addr.sun_path : sd.addr.sun_path + 1, strerror(errno));
    }
    return -1;
}

/* "<prefix>STATUS=<text>" with newlines in the text flattened, sent. */
static void
send_with_status(const char *prefix, const char *text)
{
    char msg[512];
    int  n = snprintf(msg, sizeof(msg), "%sSTATUS=%s", prefix, text ? text : "");

    if (n < 0)
        return;
    for (char *p = msg + strlen(prefix); *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    agent_sd_notify(msg);
}

/* Sends "<prefix>STATUS=<formatted text>" when notifying at all. */
static bool
send_formatted(const char *prefix, const char *fmt, va_list ap) CDC_PRINTF(2, 0);

static bool
send_formatted(const char *prefix, const char *fmt, va_list ap)
{
    char text[400];

    sd_init();
    if (!sd.enabled)
        return false;
    vsnprintf(text, sizeof(text), fmt, ap);
    send_with_status(prefix, text);
    return true;
}

void
agent_sd_status(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    send_formatted("", fmt, ap);
    va_end(ap);
}

void
agent_sd_ready(const char *fmt, ...)
{
    va_list ap;
    bool    sent;

    va_start(ap, fmt);
    sent = send_formatted("READY=1\n", fmt, ap);
    va_end(ap);
    if (sent)
        log_info("systemd", "notified the service manager: READY=1");
}

void
agent_sd_stopping(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    send_formatted("STOPPING=1\n", fmt, ap);
    va_end(ap);
}

uint64_t
agent_sd_watchdog_usec(void)
{
    sd_init();
    return sd.enabled ? sd.wd_usec : 0;
}

void
agent_sd_watchdog(void)
{
    int64_t now;

    if (agent_sd_watchdog_usec() == 0)
        return;
    now = cdc_mono_ns();
    if (sd.last_wd_ns != 0 && now - sd.last_wd_ns < (int64_t) (sd.wd_usec * 1000 / 2))
        return;
    sd.last_wd_ns = now;
    agent_sd_notify("WATCHDOG=1");
}

void
agent_sd_sleep(double seconds, volatile sig_atomic_t *stop)
{
    int64_t end = cdc_mono_ns() + (int64_t) (seconds * 1e9);
    int64_t slice = 250000000, left;

    /* Slices short enough that a ping is never more than a quarter interval late. */
    if (agent_sd_watchdog_usec() > 0 && (int64_t) (sd.wd_usec * 1000 / 4) < slice)
        slice = (int64_t) (sd.wd_usec * 1000 / 4);
    while ((stop == NULL || !*stop) && (left = end - cdc_mono_ns()) > 0) {
        agent_sd_watchdog();
        usleep((useconds_t) ((left < slice ? left : slice) / 1000));
    }
}

void
agent_sd_reset(void)
{
    if (sd.fd >= 0)
        close(sd.fd);
    memset(&sd, 0, sizeof(sd));
    sd.fd = -1;
}

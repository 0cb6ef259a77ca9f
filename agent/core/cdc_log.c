#include "cdc_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cdc_buf.h"

/*
 * Process-wide settings, written once at start-up by main before any thread
 * exists; everything else only reads them.
 */
static cdc_level      log_level = CDC_LOG_INFO;
static cdc_log_format log_format = CDC_LOG_TEXT;

static const char *const level_names[] = { "debug", "info", "warn", "error", "off" };

void
cdc_log_set_level(cdc_level lvl)
{
    log_level = lvl;
}

void
cdc_log_set_format(cdc_log_format fmt)
{
    log_format = fmt;
}

int
cdc_log_level_parse(const char *name, cdc_level *out)
{
    for (int i = 0; i <= CDC_LOG_OFF; i++) {
        if (strcmp(name, level_names[i]) == 0) {
            *out = (cdc_level) i;
            return 0;
        }
    }
    return -1;
}

bool
cdc_log_enabled(cdc_level lvl)
{
    return lvl >= log_level && lvl < CDC_LOG_OFF;
}

static void
put_json_string(cdc_buf *b, const char *s)
{
    cdc_buf_putc(b, '"');
    for (; *s; s++) {
        unsigned char c = (unsigned char) *s;

        if (c == '"' || c == '\\') {
            cdc_buf_putc(b, '\\');
            cdc_buf_putc(b, (char) c);
        } else if (c < 0x20) {
            cdc_buf_printf(b, "\\u%04x", c);
        } else {
            cdc_buf_putc(b, (char) c);
        }
    }
    cdc_buf_putc(b, '"');
}

void
cdc_log(cdc_level lvl, const char *fac, const char *fmt, ...)
{
    char            msg[2048];
    char            ts[40];
    struct timespec now;
    struct tm       tm;
    va_list         ap;
    cdc_buf         b = CDC_BUF_INIT;
    ssize_t         unused;

    if (!cdc_log_enabled(lvl))
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);

    if (log_format == CDC_LOG_JSON) {
        cdc_buf_printf(&b, "{\"ts\":\"%s.%03ldZ\",\"level\":\"%s\",\"logger\":", ts,
                       now.tv_nsec / 1000000, level_names[lvl]);
        put_json_string(&b, fac);
        cdc_buf_puts(&b, ",\"msg\":");
        put_json_string(&b, msg);
        cdc_buf_puts(&b, "}\n");
    } else {
        cdc_buf_printf(&b, "%s.%03ldZ %-5s [%s] %s\n", ts, now.tv_nsec / 1000000,
                       level_names[lvl], fac, msg);
    }
    if (!cdc_buf_failed(&b))
        unused = write(STDERR_FILENO, b.data, b.len);
    (void) unused;
    cdc_buf_free(&b);
}

#include "agent/core/cdc_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/core/cdc_buf.h"
#include "agent/core/cdc_clock.h"

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

/* The members of the JSON object text @p fields, spliced into a line. */
static void
put_fields(cdc_buf *b, const char *fields)
{
    size_t len;

    while (*fields == ' ' || *fields == '\n' || *fields == '\t')
        fields++;
    len = strlen(fields);
    while (len > 0 && (fields[len - 1] == ' ' || fields[len - 1] == '\n'))
        len--;
    if (len < 2 || fields[0] != '{' || fields[len - 1] != '}') {
        if (len > 0) {
            cdc_buf_puts(b, ",\"fields\":");
            put_json_string(b, fields);
        }
        return;
    }
    fields++;
    len -= 2;
    while (len > 0 && *fields == ' ') {
        fields++;
        len--;
    }
    if (len == 0)
        return;
    cdc_buf_putc(b, ',');
    cdc_buf_put(b, fields, len);
}

/* Formats and writes one line; event and fields may be NULL.  One write(2) per line. */
static void
log_line(cdc_level lvl, const char *fac, const char *event, const char *fields,
         const char *fmt, va_list ap) CDC_PRINTF(5, 0);

static void
log_line(cdc_level lvl, const char *fac, const char *event, const char *fields,
         const char *fmt, va_list ap)
{
    char            msg[2048];
    char            ts[40];
    int64_t         now_ms;
    time_t          sec;
    long            ms;
    struct tm       tm;
    cdc_buf         b = CDC_BUF_INIT;
    bool            has_event = event != NULL && event[0] != '\0';
    ssize_t         unused;

    vsnprintf(msg, sizeof(msg), fmt, ap);

    now_ms = cdc_wall_ms();
    sec = (time_t) (now_ms / 1000);
    ms = (long) (now_ms % 1000);
    gmtime_r(&sec, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);

    if (log_format == CDC_LOG_JSON) {
        cdc_buf_printf(&b, "{\"ts\":\"%s.%03ldZ\",\"level\":\"%s\",\"logger\":", ts,
                       ms, level_names[lvl]);
        put_json_string(&b, fac);
        if (has_event) {
            cdc_buf_puts(&b, ",\"event\":");
            put_json_string(&b, event);
        }
        if (fields != NULL)
            put_fields(&b, fields);
        cdc_buf_puts(&b, ",\"msg\":");
        put_json_string(&b, msg);
        cdc_buf_puts(&b, "}\n");
    } else {
        cdc_buf_printf(&b, "%s.%03ldZ %-5s [%s] %s%s%s\n", ts, ms,
                       level_names[lvl], fac, has_event ? event : "", has_event ? ": " : "",
                       msg);
    }
    if (!cdc_buf_failed(&b))
        unused = write(STDERR_FILENO, b.data, b.len);
    (void) unused;
    cdc_buf_free(&b);
}

void
cdc_log(cdc_level lvl, const char *fac, const char *fmt, ...)
{
    va_list ap;

    if (!cdc_log_enabled(lvl))
        return;
    va_start(ap, fmt);
    log_line(lvl, fac, NULL, NULL, fmt, ap);
    va_end(ap);
}

void
cdc_log_event(cdc_level lvl, const char *fac, const char *event, const char *fmt, ...)
{
    va_list ap;

    if (!cdc_log_enabled(lvl))
        return;
    va_start(ap, fmt);
    log_line(lvl, fac, event, NULL, fmt, ap);
    va_end(ap);
}

void
cdc_log_event_fields(cdc_level lvl, const char *fac, const char *event, const char *fields,
                     const char *fmt, ...)
{
    va_list ap;

    if (!cdc_log_enabled(lvl))
        return;
    va_start(ap, fmt);
    log_line(lvl, fac, event, fields, fmt, ap);
    va_end(ap);
}

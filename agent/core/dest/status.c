#include "agent/core/dest/status.h"

#include <stdarg.h>
#include <stdio.h>

void
dest_status_init(dest_status *s, const char *label)
{
    *s = (dest_status) { .label = label };
}

bool
dest_status_failing(dest_status *s, const char *fmt, ...)
{
    bool    started = !s->failing;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(s->lasterr, sizeof(s->lasterr), fmt, ap);
    va_end(ap);
    s->failing = true;
    return started;
}

bool
dest_status_ok(dest_status *s)
{
    bool ended = s->failing;

    s->failing = false;
    return ended;
}

bool
dest_status_fatal(dest_status *s, const char *fmt, ...)
{
    va_list ap;

    if (s->fatal)
        return false;
    va_start(ap, fmt);
    vsnprintf(s->lasterr, sizeof(s->lasterr), fmt, ap);
    va_end(ap);
    s->fatal = true;
    return true;
}

int
dest_status_check(const dest_status *s, cdc_err *err)
{
    if (!s->fatal)
        return 0;
    return cdc_err_set(err, CDC_E_DEST, "%s", s->lasterr);
}

void
dest_status_health(const dest_status *s, cdc_health *h)
{
    h->state = s->fatal ? CDC_DEST_ERROR : s->failing ? CDC_DEST_DEGRADED : CDC_DEST_OK;
    if (s->fatal || s->failing)
        snprintf(h->detail, sizeof(h->detail), "%s: %s", s->label ? s->label : "", s->lasterr);
}

#include "agent/source/slot_warn.h"

#include <stdarg.h>
#include <stdio.h>

void
agent_slot_warn(json_t *w, const char *fmt, ...)
{
    char    buf[640];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    json_array_append_new(w, json_string(buf));
}

#include "cdc_err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int
cdc_err_set(cdc_err *err, cdc_rc code, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL)
        return -1;
    err->code = code;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    return -1;
}

int
cdc_err_wrap(cdc_err *err, const char *fmt, ...)
{
    char    prefix[128];
    char    old[sizeof(err->msg)];
    va_list ap;

    if (err == NULL)
        return -1;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof(old));
    snprintf(err->msg, sizeof(err->msg), "%s: %s", prefix, old);
    return -1;
}

void
cdc_err_clear(cdc_err *err)
{
    if (err == NULL)
        return;
    err->code = CDC_OK;
    err->msg[0] = '\0';
}

bool
cdc_rc_retriable(cdc_rc code)
{
    return code == CDC_E_CONN || code == CDC_E_TIMEOUT || code == CDC_E_QUEUE_FULL;
}

const char *
cdc_rc_name(cdc_rc code)
{
    static const char *const names[CDC_RC__COUNT] = {
        [CDC_OK] = "CDC_OK",
        [CDC_E_NOMEM] = "CDC_E_NOMEM",
        [CDC_E_INVAL] = "CDC_E_INVAL",
        [CDC_E_CONFIG] = "CDC_E_CONFIG",
        [CDC_E_UNSUPPORTED] = "CDC_E_UNSUPPORTED",
        [CDC_E_PROTO] = "CDC_E_PROTO",
        [CDC_E_DECODE] = "CDC_E_DECODE",
        [CDC_E_PG] = "CDC_E_PG",
        [CDC_E_CONN] = "CDC_E_CONN",
        [CDC_E_IO] = "CDC_E_IO",
        [CDC_E_TIMEOUT] = "CDC_E_TIMEOUT",
        [CDC_E_QUEUE_FULL] = "CDC_E_QUEUE_FULL",
        [CDC_E_DEST] = "CDC_E_DEST",
        [CDC_E_STATE] = "CDC_E_STATE",
    };

    if ((unsigned) code >= CDC_RC__COUNT || names[code] == NULL)
        return "CDC_E_UNKNOWN";
    return names[code];
}

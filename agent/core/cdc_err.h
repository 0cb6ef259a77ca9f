/*
 * Error reporting shared by every layer: a return code and a one-line message
 * kept together, in the manner of librdkafka's errstr buffers.  Functions that
 * can fail return 0 or -1 and take a `cdc_err *` as their last parameter; a
 * NULL err is allowed and simply discards the message.  Only main() exits.
 */
#ifndef CDC_AGENT_CORE_CDC_ERR_H
#define CDC_AGENT_CORE_CDC_ERR_H

#include <stdbool.h>

#if defined(__GNUC__)
#define CDC_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define CDC_PRINTF(fmt, args)
#endif

typedef enum cdc_rc {
    CDC_OK = 0,
    CDC_E_NOMEM,        /* allocation failed */
    CDC_E_INVAL,        /* a caller passed something impossible */
    CDC_E_CONFIG,       /* configuration is wrong: the user must fix it */
    CDC_E_UNSUPPORTED,  /* valid request for something not built (yet) */
    CDC_E_PROTO,        /* malformed or unexpected replication protocol data */
    CDC_E_DECODE,       /* a column value that cannot be decoded */
    CDC_E_PG,           /* PostgreSQL reported an error */
    CDC_E_CONN,         /* connection lost or refused: retriable */
    CDC_E_IO,           /* file or socket I/O failed */
    CDC_E_TIMEOUT,      /* an operation ran out of time: retriable */
    CDC_E_QUEUE_FULL,   /* destination cannot take more now: retriable */
    CDC_E_DEST,         /* a destination refused an event */
    CDC_E_STATE,        /* persistent state disagrees with the server (e.g. slot gone) */
    CDC_RC__COUNT
} cdc_rc;

typedef struct cdc_err {
    cdc_rc code;
    char   msg[512];    /* one line, no trailing newline; long names are shortened to fit */
} cdc_err;

/*
 * Fills err (when non-NULL) and returns -1, so `return cdc_err_set(...)`
 * reads naturally.  A message too long for msg loses its middle (marked
 * "..."), never its end, where the reason is.
 */
int cdc_err_set(cdc_err *err, cdc_rc code, const char *fmt, ...) CDC_PRINTF(3, 4);

/* Prefixes err->msg with "<prefix>: " (context added on the way up); returns -1.
   What does not fit is cut from the middle, as in cdc_err_set(). */
int cdc_err_wrap(cdc_err *err, const char *fmt, ...) CDC_PRINTF(2, 3);

/*
 * The guard where a failure is reported: when err has no message (a bug: a
 * path returned -1 without cdc_err_set), fills it with "internal error:
 * <site> failed without a message" (code CDC_E_INVAL unless one is set), so
 * nothing ever fails with an empty message.  Leaves a message that is there
 * alone.  Returns -1.
 */
int cdc_err_ensure(cdc_err *err, const char *site_fmt, ...) CDC_PRINTF(2, 3);

void        cdc_err_clear(cdc_err *err);
bool        cdc_rc_retriable(cdc_rc code);
const char *cdc_rc_name(cdc_rc code);

#endif

#include "agent/core/cdc_err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Messages are one fixed buffer, and the reason a call failed is usually at
 * the end ("opening <path>: Permission denied"), after names and paths that
 * can be long, and after the context that each wrap prepends.  A message that
 * does not fit is therefore shortened where it is long: its long words (over
 * ERR_WORD_LONG characters: a path, a database name) lose their middle,
 * marked "...", longest first, down to ERR_WORD_KEEP characters each if need
 * be.  Ordinary words (a setting's name) are left whole.  Only a message that
 * still does not fit loses its own middle, keeping two thirds at the head
 * (what was being done) and the rest at the tail (why it failed).  Cuts fall
 * on UTF-8 character boundaries.
 */
#define ERR_CUT_MARK  "..."
#define ERR_WORD_LONG 48
#define ERR_WORD_KEEP 24

static bool
utf8_cont(char c)
{
    return ((unsigned char) c & 0xC0) == 0x80;
}

/* Shortens the longest word of s[0..len) by cutting its middle; @returns the new length. */
static size_t
err_cut_word(char *s, size_t len, size_t excess)
{
    size_t mark = sizeof(ERR_CUT_MARK) - 1;
    size_t best = 0, bestlen = 0, cut, keep, h, tail;

    for (size_t i = 0; i < len;) {
        size_t j = i;

        while (j < len && s[j] != ' ')
            j++;
        if (j - i > bestlen) {
            best = i;
            bestlen = j - i;
        }
        i = j + 1;
    }
    if (bestlen <= ERR_WORD_LONG)
        return len;                     /* nothing long enough to shorten */
    cut = excess + mark;
    if (cut > bestlen - ERR_WORD_KEEP)
        cut = bestlen - ERR_WORD_KEEP;
    keep = bestlen - cut;
    h = keep / 2;
    while (h > 0 && utf8_cont(s[best + h]))
        h--;
    tail = best + bestlen - (keep - keep / 2);
    while (tail < best + bestlen && utf8_cont(s[tail]))
        tail++;
    memcpy(s + best + h, ERR_CUT_MARK, mark);
    memmove(s + best + h + mark, s + tail, len - tail + 1);
    return best + h + mark + (len - tail);
}

/* Copies src (len bytes, NUL-terminated, modified) into dst of dstsz, shortened to fit. */
static void
err_fit(char *dst, size_t dstsz, char *src, size_t len)
{
    size_t mark = sizeof(ERR_CUT_MARK) - 1;
    size_t head, tail;

    while (len >= dstsz) {
        size_t shorter = err_cut_word(src, len, len - (dstsz - 1));

        if (shorter == len)
            break;
        len = shorter;
    }
    if (len < dstsz) {
        memcpy(dst, src, len + 1);
        return;
    }
    head = (dstsz - 1 - mark) * 2 / 3;
    tail = len - (dstsz - 1 - mark - head);
    while (head > 0 && utf8_cont(src[head]))
        head--;
    while (tail < len && utf8_cont(src[tail]))
        tail++;
    memcpy(dst, src, head);
    memcpy(dst + head, ERR_CUT_MARK, mark);
    memcpy(dst + head + mark, src + tail, len - tail + 1);
}

/* Formats into dst (a message buffer of dstsz) through a buffer as large as it takes. */
static void
err_vformat(char *dst, size_t dstsz, const char *fmt, va_list ap)
{
    char    stack[1024];
    char   *big = NULL;
    va_list ap2;
    int     n;

    va_copy(ap2, ap);
    n = vsnprintf(stack, sizeof(stack), fmt, ap);
    if (n < 0) {
        snprintf(dst, dstsz, "(unformattable message: %s)", fmt);
    } else if ((size_t) n < sizeof(stack)) {
        err_fit(dst, dstsz, stack, (size_t) n);
    } else if ((big = malloc((size_t) n + 1)) != NULL) {
        vsnprintf(big, (size_t) n + 1, fmt, ap2);
        err_fit(dst, dstsz, big, (size_t) n);
        free(big);
    } else {
        err_fit(dst, dstsz, stack, sizeof(stack) - 1);
    }
    va_end(ap2);
}

static void err_format(char *dst, size_t dstsz, const char *fmt, ...) CDC_PRINTF(3, 4);

static void
err_format(char *dst, size_t dstsz, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    err_vformat(dst, dstsz, fmt, ap);
    va_end(ap);
}

int
cdc_err_set(cdc_err *err, cdc_rc code, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL)
        return -1;
    err->code = code;
    va_start(ap, fmt);
    err_vformat(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    return -1;
}

int
cdc_err_wrap(cdc_err *err, const char *fmt, ...)
{
    char    prefix[sizeof(err->msg)];
    char    old[sizeof(err->msg)];
    va_list ap;

    if (err == NULL)
        return -1;
    va_start(ap, fmt);
    err_vformat(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof(old));
    if (old[0] == '\0')
        err_format(err->msg, sizeof(err->msg), "%s: failed without saying why (internal error)",
                   prefix);
    else
        err_format(err->msg, sizeof(err->msg), "%s: %s", prefix, old);
    return -1;
}

int
cdc_err_ensure(cdc_err *err, const char *fmt, ...)
{
    char    site[sizeof(err->msg)];
    va_list ap;

    if (err == NULL || err->msg[0] != '\0')
        return -1;
    va_start(ap, fmt);
    err_vformat(site, sizeof(site), fmt, ap);
    va_end(ap);
    if (err->code == CDC_OK)
        err->code = CDC_E_INVAL;
    err_format(err->msg, sizeof(err->msg), "internal error: %s failed without a message (%s)",
               site, cdc_rc_name(err->code));
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

/*
 * The error of a value decoder (values.c, values_num.c, values_time.c) when
 * a text is not what its type prints: in a file of its own, so that the
 * type-specific decoders do not call back into the dispatch in values.c.
 */
#include "decoder/values_int.h"

int
pgo_vfail(const pgo_vctx *vc, const char *what, const char *s, size_t n)
{
    int shown = n > 64 ? 64 : (int) n;

    return cdc_err_set(vc->err, CDC_E_DECODE, "column %s: %s: '%.*s'%s", vc->col->name, what,
                       shown, s, n > 64 ? "..." : "");
}

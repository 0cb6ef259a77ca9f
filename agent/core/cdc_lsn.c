#include "agent/core/cdc_lsn.h"

#include <stdio.h>
#include <stdlib.h>

int
cdc_lsn_parse(const char *s, uint64_t *out)
{
    char         *end;
    unsigned long hi, lo;

    if (s == NULL || *s == '\0')
        return -1;
    hi = strtoul(s, &end, 16);
    if (*end != '/' || end == s || hi > 0xFFFFFFFFUL)
        return -1;
    s = end + 1;
    lo = strtoul(s, &end, 16);
    if (*end != '\0' || end == s || lo > 0xFFFFFFFFUL)
        return -1;
    *out = ((uint64_t) hi << 32) | lo;
    return 0;
}

char *
cdc_lsn_format(uint64_t lsn, char *out)
{
    snprintf(out, CDC_LSN_STRLEN, "%X/%X", (unsigned) (lsn >> 32), (unsigned) lsn);
    return out;
}

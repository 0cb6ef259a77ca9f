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
    /* "%X/%X" by hand: every event's position is formatted */
    static const char hex[] = "0123456789ABCDEF";
    char             *o = out;

    for (int half = 1; half >= 0; half--) {
        uint32_t v = (uint32_t) (lsn >> (32 * half));
        int      sh = 28;

        while (sh > 0 && (v >> sh) == 0)
            sh -= 4;
        for (; sh >= 0; sh -= 4)
            *o++ = hex[(v >> sh) & 0xF];
        if (half)
            *o++ = '/';
    }
    *o = '\0';
    return out;
}

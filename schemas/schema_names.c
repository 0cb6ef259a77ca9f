/*
 * Debezium 2.7's SchemaNameAdjuster (schema.name.adjustment.mode) for the
 * schema names of every encoding: Avro full names (avro_schema.c) and the
 * JsonConverter schema's struct names (json_schema.c).  The expected names in
 * test/unit/test_avro.c were printed by Debezium's own class.
 */
#include <stdio.h>
#include <string.h>

#include "agent/core/cdc_utf8.h"
#include "schemas/avro.h"

/* One Java char (UTF-16 unit) c at position first or not, adjusted, appended to b. */
static void
adjust_char(cdc_buf *b, sch_avro_name_mode mode, uint32_t c, bool first)
{
    bool alpha = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
    bool digit = c >= '0' && c <= '9';
    char hex[16];
    int  hn;

    if (mode == SCH_AVRO_NAMES_AVRO_UNICODE) {
        /* UnicodeReplacementFunction: [A-Za-z] first, [A-Za-z0-9.] after ('_' too is
           escaped); "_u" and Integer.toHexString, "00"-padded when it has 1 or 2 digits */
        if (alpha || (!first && (digit || c == '.'))) {
            cdc_buf_putc(b, (char) c);
            return;
        }
        hn = snprintf(hex, sizeof(hex), "%x", (unsigned) c);
        cdc_buf_printf(b, "_u%s%s", hn <= 2 ? "00" : "", hex);
        return;
    }
    /* ReplacementFunction.UNDERSCORE_REPLACEMENT: [A-Za-z_] first, [A-Za-z0-9_.] after;
       a leading digit stays after its '_' */
    if (alpha || c == '_' || (!first && (digit || c == '.'))) {
        cdc_buf_putc(b, (char) c);
        return;
    }
    cdc_buf_putc(b, '_');
    if (first && digit)
        cdc_buf_putc(b, (char) c);
}

sch_avro_name_mode
sch_name_mode_parse(const char *mode)
{
    if (mode && strcmp(mode, "avro") == 0)
        return SCH_AVRO_NAMES_AVRO;
    if (mode && strcmp(mode, "avro_unicode") == 0)
        return SCH_AVRO_NAMES_AVRO_UNICODE;
    if (mode && strcmp(mode, "none") == 0)
        return SCH_AVRO_NAMES_NONE;
    return SCH_AVRO_NAMES_PROFILE;
}

size_t
sch_name_adjust(sch_avro_name_mode mode, const char *name, cdc_buf *b)
{
    size_t start = b->len, n = strlen(name);
    bool   first = true;

    if (mode != SCH_AVRO_NAMES_AVRO && mode != SCH_AVRO_NAMES_AVRO_UNICODE) {
        cdc_buf_puts(b, name);
        return b->len - start;
    }
    for (size_t i = 0; i < n;) {
        uint32_t cp;

        i += cdc_utf8_next(name + i, n - i, &cp);
        if (cp >= 0x10000) {    /* a Java String holds it as two chars */
            adjust_char(b, mode, 0xd800 + ((cp - 0x10000) >> 10), first);
            adjust_char(b, mode, 0xdc00 + ((cp - 0x10000) & 0x3ff), false);
        } else {
            adjust_char(b, mode, cp, first);
        }
        first = false;
    }
    return b->len - start;
}


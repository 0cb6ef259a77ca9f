/*
 * Debezium-presented column values (agent/core/cdc_value.h) turned back into
 * PostgreSQL input text, for the postgres sink's replica mode.  The text is
 * passed as an untyped query parameter, so the target column's input
 * function parses it.
 *
 * Faithful: integers, booleans, text and the string-presented types (json,
 * uuid, xml, enums, inet, ranges, ltree, zoned times, ISO intervals),
 * numeric (Decimal and VariableScaleDecimal bytes), money (as numeric
 * text), floats (17/9 significant digits, NaN and infinities), dates,
 * times and timestamps from their day/ms/us/ns counts, bytea, bit(n),
 * points, and arrays of these.  Lossy, and documented as such:
 * interval under interval.handling.mode=numeric (MicroDuration counts a
 * month as 30.4375 days: written back as microseconds); varbit loses
 * leading zero bits (Debezium's BitSet keeps no length); bytea under
 * binary.handling.mode base64/hex arrives as that text; numeric/timestamps
 * under decimal.handling.mode=double or time.precision.mode=connect
 * are as precise as Debezium left them; infinite dates and timestamps come
 * back as the sentinels Debezium chose for them.
 */
#ifndef CDC_SINKS_POSTGRES_PG_VALUES_H
#define CDC_SINKS_POSTGRES_PG_VALUES_H

#include "agent/core/cdc_buf.h"
#include "agent/core/cdc_rel.h"

/**
 * Appends present value @p v of column @p col to @p out as PostgreSQL text
 * (no quoting: it is a parameter, not a literal).
 * @returns 0, or -1 when the value cannot be converted (unsupported column).
 * @thread any.
 */
int dest_pg_value_text(const cdc_col *col, const cdc_value *v, cdc_buf *out);

/* Appends the unscaled big-endian two's-complement integer with @p scale as a decimal. */
void dest_pg_decimal_text(const uint8_t *p, size_t n, int32_t scale, cdc_buf *out);

/* Appends days since 1970-01-01 as YYYY-MM-DD (" BC" for years <= 0). */
void dest_pg_date_text(int64_t days, cdc_buf *out);

#endif

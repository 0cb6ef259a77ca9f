/*
 * Parquet's RLE / bit-packing hybrid (parquet-format Encodings.md, "Run
 * Length Encoding / Bit-Packing Hybrid"): definition and repetition levels
 * and dictionary indices.  A run of 8 or more equal values becomes an RLE run
 * (header varint(count << 1), then the value in ceil(bit_width / 8) bytes,
 * little-endian); everything else is bit-packed in groups of 8 values
 * (header varint(groups << 1 | 1), then the values packed from the least
 * significant bit), the last group padded with zeros.
 */
#ifndef CDC_SINKS_ICEBERG_PARQUET_PARQUET_RLE_H
#define CDC_SINKS_ICEBERG_PARQUET_PARQUET_RLE_H

#include <stddef.h>
#include <stdint.h>

#include "agent/core/cdc_buf.h"

/* The bits needed for values up to max (0 for 0). */
int parquet_bit_width(uint32_t max);

/*
 * Appends the n values (each below 2^bit_width, bit_width 0..32) to out,
 * without the 4-byte length prefix that levels of a V1 data page carry.
 */
void parquet_rle_encode(cdc_buf *out, const uint32_t *v, size_t n, int bit_width);

#endif

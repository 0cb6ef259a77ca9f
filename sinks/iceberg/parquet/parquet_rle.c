/*
 * RLE / bit-packing hybrid encoder: see parquet_rle.h.
 */
#include "sinks/iceberg/parquet/parquet_rle.h"

#include "sinks/iceberg/parquet/parquet_thrift.h"

int
parquet_bit_width(uint32_t max)
{
    int w = 0;

    while (max != 0) {
        w++;
        max >>= 1;
    }
    return w;
}

static size_t
run_at(const uint32_t *v, size_t n, size_t i)
{
    size_t j = i + 1;

    while (j < n && v[j] == v[i])
        j++;
    return j - i;
}

static void
put_rle(cdc_buf *out, uint32_t value, size_t count, int bit_width)
{
    int nbytes = (bit_width + 7) / 8;

    parquet_thrift_varint(out, (uint64_t) count << 1);
    for (int k = 0; k < nbytes; k++)
        cdc_buf_put_u8(out, (uint8_t) (value >> (8 * k)));
}

/* Values v[0..n) bit-packed; n is padded up to a multiple of 8 with zeros. */
static void
put_packed(cdc_buf *out, const uint32_t *v, size_t n, int bit_width)
{
    size_t   groups = (n + 7) / 8;
    uint64_t acc = 0;
    int      bits = 0;

    parquet_thrift_varint(out, ((uint64_t) groups << 1) | 1);
    for (size_t i = 0; i < groups * 8; i++) {
        uint64_t x = i < n ? v[i] : 0;

        acc |= x << bits;
        bits += bit_width;
        while (bits >= 8) {
            cdc_buf_put_u8(out, (uint8_t) acc);
            acc >>= 8;
            bits -= 8;
        }
    }
    /* groups * 8 * bit_width is a multiple of 8: nothing is left in acc. */
}

void
parquet_rle_encode(cdc_buf *out, const uint32_t *v, size_t n, int bit_width)
{
    size_t i = 0;

    while (i < n) {
        size_t run = run_at(v, n, i);
        size_t j;

        if (run >= 8) {
            put_rle(out, v[i], run, bit_width);
            i += run;
            continue;
        }
        /*
         * Bit-pack whole groups of 8 from i until a run of 8 or more starts
         * at a group boundary, or the values end (the last group padded).
         */
        j = i;
        while (j < n) {
            j += 8;
            if (j >= n) {
                j = n;
                break;
            }
            if (run_at(v, n, j) >= 8)
                break;
        }
        put_packed(out, v + i, j - i, bit_width);
        i = j;
    }
}

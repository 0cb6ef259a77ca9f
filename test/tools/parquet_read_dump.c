/*
 * parquet_read_dump FILE: reads FILE with sinks/iceberg/parquet/parquet_read
 * and prints it as one JSON object, for test/integration/605_parquet_read_pyarrow.sh
 * to compare with what pyarrow reads:
 *   {"rows": N, "row_groups": [n, ...], "columns": [{"name", "field_id",
 *    "physical", "logical", "precision", "scale", "unit", "utc", "optional",
 *    "values": [...]}]}
 * Values: null; true / false (BOOLEAN); integers (INT32, INT64, and decimals of
 * any physical type as their unscaled integer); "d:<16 hex digits>" for FLOAT and
 * DOUBLE (the little-endian bits of the value as a double: exact, NaN and -0.0
 * included); hex strings for BYTE_ARRAY and FIXED_LEN_BYTE_ARRAY.
 * A list column's value is a JSON array of its elements (or null).
 * On a read error: "error: <message>" on stderr and exit status 1.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sinks/iceberg/parquet/parquet_read.h"

__extension__ typedef __int128 i128;

static void
print_i128(i128 v)
{
    char               buf[48];
    int                n = 0;
    unsigned __int128  u;

    if (v < 0) {
        putchar('-');
        u = (unsigned __int128) 0 - (unsigned __int128) v;
    } else {
        u = (unsigned __int128) v;
    }
    do {
        buf[n++] = (char) ('0' + (int) (u % 10));
        u /= 10;
    } while (u != 0);
    while (n > 0)
        putchar(buf[--n]);
}

static void
print_cell(const parquet_read_col *c, const parquet_cell *x)
{
    if (x->null) {
        fputs("null", stdout);
        return;
    }
    switch (c->physical) {
    case PARQUET_PT_BOOLEAN:
        fputs(x->b ? "true" : "false", stdout);
        return;
    case PARQUET_PT_INT32:
    case PARQUET_PT_INT64:
        printf("%" PRId64, x->i);
        return;
    case PARQUET_PT_FLOAT:
    case PARQUET_PT_DOUBLE: {
        uint64_t u;

        memcpy(&u, &x->f, 8);
        printf("\"d:");
        for (int k = 0; k < 8; k++)
            printf("%02x", (unsigned) (u >> (8 * k)) & 0xff);
        putchar('"');
        return;
    }
    default:
        if (c->logical == PARQUET_LT_DECIMAL && x->n >= 1 && x->n <= 16) {
            i128 v = (x->p[0] & 0x80) ? -1 : 0;

            for (size_t k = 0; k < x->n; k++)
                v = (i128) (((unsigned __int128) v << 8) | x->p[k]);
            print_i128(v);
            return;
        }
        putchar('"');
        for (size_t k = 0; k < x->n; k++)
            printf("%02x", x->p[k]);
        putchar('"');
        return;
    }
}

int
main(int argc, char **argv)
{
    cdc_err         err = { 0 };
    parquet_reader *r;
    parquet_chunk   ch = PARQUET_CHUNK_INIT;
    size_t          ncol, nrg;

    if (argc != 2) {
        fprintf(stderr, "usage: parquet_read_dump FILE\n");
        return 2;
    }
    r = parquet_reader_open_file(argv[1], &err);
    if (r == NULL) {
        fprintf(stderr, "error: %s\n", err.msg);
        return 1;
    }
    ncol = parquet_read_ncolumns(r);
    nrg = parquet_read_nrow_groups(r);
    printf("{\"rows\": %" PRId64 ", \"row_groups\": [", parquet_read_rows(r));
    for (size_t g = 0; g < nrg; g++)
        printf("%s%" PRId64, g ? ", " : "", parquet_read_rg_rows(r, g));
    printf("], \"columns\": [");
    for (size_t i = 0; i < ncol; i++) {
        const parquet_read_col *c = parquet_read_column(r, i);
        bool                    first = true;

        printf("%s\n{\"name\": \"%s\", \"field_id\": %" PRId32 ", \"physical\": %d, "
               "\"logical\": %d, \"precision\": %" PRId32 ", \"scale\": %" PRId32
               ", \"unit\": %d, \"utc\": %s, \"optional\": %s, \"values\": [",
               i ? "," : "", c->name, c->field_id, c->physical, (int) c->logical, c->precision,
               c->scale, (int) c->unit, c->utc ? "true" : "false",
               c->optional ? "true" : "false");
        for (size_t g = 0; g < nrg; g++) {
            if (parquet_read_chunk(r, g, i, &ch, &err) != 0) {
                fflush(stdout);
                fprintf(stderr, "error: %s\n", err.msg);
                parquet_chunk_free(&ch);
                parquet_reader_free(r);
                return 1;
            }
            for (int64_t k = 0; k < ch.nrows; k++) {
                const parquet_cell *x = &ch.cells[k];

                if (!first)
                    fputs(", ", stdout);
                first = false;
                if (c->max_rep == 0 || x->null) {
                    print_cell(c, x);
                    continue;
                }
                putchar('[');
                for (size_t e = 0; e < x->n; e++) {
                    if (e > 0)
                        fputs(", ", stdout);
                    print_cell(c, &ch.elems[(size_t) x->i + e]);
                }
                putchar(']');
            }
        }
        printf("]}");
    }
    printf("]}\n");
    parquet_chunk_free(&ch);
    parquet_reader_free(r);
    return 0;
}

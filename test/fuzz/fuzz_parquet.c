/*
 * libFuzzer target: the Parquet reader (sinks/iceberg/parquet/parquet_read*.c)
 * on any bytes.  The input is a whole file: the footer is read, every column
 * listed, and every column chunk of every row group decoded (refusals such as
 * lists or unknown codecs are fine; a crash, leak or UBSan report is a bug).
 * Every cell's bytes are touched (a list's elements too), so a pointer outside the chunk's memory is
 * seen by ASan.  Seeds: test/fixtures/parquet/ (pyarrow's and our writer's
 * files), copied by make_corpus.sh.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/core/cdc_err.h"
#include "sinks/iceberg/parquet/parquet_read.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
touch(const parquet_cell *x, volatile uint8_t *sink)
{
    if (!x->null && x->n > 0)
        *sink ^= (uint8_t) (x->p[0] ^ x->p[x->n - 1]);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cdc_err         err = { 0 };
    parquet_reader *r = parquet_reader_open_mem("fuzz.parquet", data, size, &err);
    parquet_chunk   ch = PARQUET_CHUNK_INIT;
    volatile uint8_t sink = 0;

    if (r == NULL) {
        if (err.msg[0] == '\0')
            abort();    /* every failure has a message */
        return 0;
    }
    for (size_t c = 0; c < parquet_read_ncolumns(r); c++)
        (void) parquet_read_column(r, c)->name[0];
    (void) parquet_read_kv(r, "iceberg.schema");
    for (size_t g = 0; g < parquet_read_nrow_groups(r); g++) {
        for (size_t c = 0; c < parquet_read_ncolumns(r); c++) {
            const uint8_t *lo, *hi;
            size_t         lon, hin;

            if (parquet_read_chunk_bounds(r, g, c, &lo, &lon, &hi, &hin) && lon > 0 && hin > 0)
                sink ^= (uint8_t) (lo[lon - 1] ^ hi[hin - 1]);
            if (parquet_read_chunk(r, g, c, &ch, &err) != 0) {
                if (err.msg[0] == '\0')
                    abort();
                continue;
            }
            if (ch.nrows != parquet_read_rg_rows(r, g))
                abort();
            for (int64_t k = 0; k < ch.nrows; k++) {
                const parquet_cell *x = &ch.cells[k];

                if (parquet_read_column(r, c)->max_rep > 0) {
                    /* a list: n elements from elems[i] */
                    if (!x->null && (x->i < 0 || (size_t) x->i + x->n > ch.nelems))
                        abort();
                    for (size_t e = 0; !x->null && e < x->n; e++)
                        touch(&ch.elems[(size_t) x->i + e], &sink);
                } else {
                    touch(x, &sink);
                }
            }
        }
    }
    (void) sink;
    parquet_chunk_free(&ch);
    parquet_reader_free(r);
    return 0;
}

/*
 * Suite "parquet_read": the Parquet reader of sinks/iceberg/parquet/parquet_read.
 *   thrift    the compact decoder on hand-made bytes: short and long field
 *             headers, booleans in the type nibble, skipping unknown nested
 *             fields, lists, and cut-short or too-deep input failing cleanly.
 *   roundtrip files of our writer (parquet.h) read back: every flat kind,
 *             nulls, dictionary and plain, several row groups and pages, zstd,
 *             snappy and none; field ids, logical types, row positions; the
 *             values compared with the generator's (the writer and the reader
 *             share no code but the Thrift encoder's constants).  pyarrow and
 *             files it writes are test/integration/605's.
 *   lists     a list column (null lists, empty lists, null elements, over
 *             several pages) read back row by row.
 *   corrupt   every truncation of a file, and many single-byte changes,
 *             give an error naming the file, or values, never a crash (ASan
 *             in the sanitizer build).
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/core/cdc_buf.h"
#include "sinks/iceberg/parquet/parquet.h"
#include "sinks/iceberg/parquet/parquet_read.h"
#include "sinks/iceberg/parquet/parquet_thrift.h"
#include "test/lib/suite_main.h"

/* ---------------------------------------------------------------- thrift */

START_TEST(thrift_decode)
{
    /* 1: i32 150; 20: i32 1 (long form); 3: bool true; 4: struct { 1: binary "ab";
       2: list<i32> [1, -1] }; 5: i64 2^40; stop */
    static const uint8_t in[] = {
        0x15, 0xAC, 0x02, 0x05, 0x28, 0x02, 0x01, 0x06, 0x1C, 0x18, 0x02, 'a', 'b',
        0x19, 0x25, 0x02, 0x01, 0x00, 0x16, 0x80, 0x80, 0x80, 0x80, 0x80, 0x40, 0x00,
    };
    parquet_thrift_rd r;
    int16_t           id;
    uint8_t           ty;

    parquet_thrift_rd_init(&r, in, sizeof(in));
    ck_assert(parquet_thrift_rd_field(&r, &id, &ty));
    ck_assert_int_eq(id, 1);
    ck_assert_int_eq(ty, PARQUET_TT_I32);
    ck_assert_int_eq(parquet_thrift_rd_i32(&r), 150);
    ck_assert(parquet_thrift_rd_field(&r, &id, &ty));
    ck_assert_int_eq(id, 20);
    ck_assert_int_eq(parquet_thrift_rd_i32(&r), 1);
    ck_assert(parquet_thrift_rd_field(&r, &id, &ty));
    ck_assert_int_eq(id, 3);
    ck_assert_int_eq(ty, PARQUET_TT_BOOL_TRUE);
    ck_assert(parquet_thrift_rd_field(&r, &id, &ty));
    ck_assert_int_eq(id, 4);
    ck_assert_int_eq(ty, PARQUET_TT_STRUCT);
    parquet_thrift_rd_skip(&r, ty);     /* the whole nested struct */
    ck_assert(parquet_thrift_rd_field(&r, &id, &ty));
    ck_assert_int_eq(id, 5);
    ck_assert_int_eq(parquet_thrift_rd_int(&r), (int64_t) 1 << 40);
    ck_assert(!parquet_thrift_rd_field(&r, &id, &ty));
    ck_assert(!parquet_thrift_rd_failed(&r));

    /* every prefix fails cleanly or ends early, never reads past the end */
    for (size_t n = 0; n < sizeof(in); n++) {
        uint8_t *cut = malloc(n ? n : 1);

        memcpy(cut, in, n);
        parquet_thrift_rd_init(&r, cut, n);
        while (parquet_thrift_rd_field(&r, &id, &ty))
            parquet_thrift_rd_skip(&r, ty);
        ck_assert_msg(parquet_thrift_rd_failed(&r), "prefix %zu accepted", n);
        free(cut);
    }

    /* structs nested past the limit */
    {
        uint8_t deep[64];

        memset(deep, 0x1C, sizeof(deep));
        parquet_thrift_rd_init(&r, deep, sizeof(deep));
        ck_assert(parquet_thrift_rd_field(&r, &id, &ty));
        parquet_thrift_rd_skip(&r, ty);
        ck_assert(parquet_thrift_rd_failed(&r));
    }
}
END_TEST

/* ---------------------------------------------------------------- round trip */

enum { C_ID, C_BOOL, C_I32, C_I64, C_F, C_D, C_S, C_BIN, C_DEC9, C_DEC18, C_DEC38, C_DATE,
       C_TIME, C_TS, C_TSTZ, C_UUID, C_I16, C_FIXED, NCOLS };

static const parquet_column cols[NCOLS] = {
    [C_ID] = { .name = "id", .kind = PARQUET_INT64, .field_id = 1 },
    [C_BOOL] = { .name = "b", .kind = PARQUET_BOOLEAN, .field_id = 2, .optional = true },
    [C_I32] = { .name = "i32", .kind = PARQUET_INT32, .field_id = 3, .optional = true },
    [C_I64] = { .name = "i64", .kind = PARQUET_INT64, .field_id = 4, .optional = true },
    [C_F] = { .name = "f", .kind = PARQUET_FLOAT, .field_id = 5, .optional = true },
    [C_D] = { .name = "d", .kind = PARQUET_DOUBLE, .field_id = 6, .optional = true },
    [C_S] = { .name = "s", .kind = PARQUET_STRING, .field_id = 7, .optional = true },
    [C_BIN] = { .name = "bin", .kind = PARQUET_BINARY, .field_id = 8, .optional = true },
    [C_DEC9] = { .name = "dec9", .kind = PARQUET_DECIMAL, .field_id = 9, .optional = true,
                 .precision = 9, .scale = 2 },
    [C_DEC18] = { .name = "dec18", .kind = PARQUET_DECIMAL, .field_id = 10, .optional = true,
                  .precision = 18, .scale = 4 },
    [C_DEC38] = { .name = "dec38", .kind = PARQUET_DECIMAL, .field_id = 11, .optional = true,
                  .precision = 38, .scale = 10 },
    [C_DATE] = { .name = "dt", .kind = PARQUET_DATE, .field_id = 12, .optional = true },
    [C_TIME] = { .name = "tm", .kind = PARQUET_TIME_US, .field_id = 13, .optional = true },
    [C_TS] = { .name = "ts", .kind = PARQUET_TIMESTAMP_US, .field_id = 14, .optional = true },
    [C_TSTZ] = { .name = "tstz", .kind = PARQUET_TIMESTAMPTZ_US, .field_id = 15,
                 .optional = true },
    [C_UUID] = { .name = "u", .kind = PARQUET_UUID, .field_id = 16, .optional = true },
    [C_I16] = { .name = "i16", .kind = PARQUET_INT16, .field_id = 17, .optional = true },
    [C_FIXED] = { .name = "fx", .kind = PARQUET_FIXED, .field_id = 18, .optional = true,
                  .fixed_len = 3 },
};

/* The value of column c in row r, a pure function: v (ints), f, bytes in p/n; false: null. */
typedef struct gen {
    int64_t v;
    double  f;
    uint8_t p[64];
    size_t  n;
} gen;

static uint64_t
mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

static bool
gen_value(int c, int64_t r, bool low_card, gen *g)
{
    uint64_t h = mix((uint64_t) r * 131 + (uint64_t) c);

    memset(g, 0, sizeof(*g));
    if (c != C_ID && h % 7 == 0)
        return false;
    if (low_card)
        h = mix(h % 5);
    switch (c) {
    case C_ID: g->v = r; break;
    case C_BOOL: g->v = (int64_t) (h >> 11) & 1; break;
    case C_I32: case C_DATE: g->v = (int32_t) (h >> 7); break;
    case C_I16: g->v = (int16_t) (h >> 9); break;
    case C_I64: case C_TIME: case C_TS: case C_TSTZ:
        g->v = (int64_t) h;
        if (c == C_TIME)
            g->v = (int64_t) (h % 86400000000ULL);
        break;
    case C_DEC9: g->v = (int64_t) (h % 1999999999) - 999999999; break;
    case C_DEC18: g->v = (int64_t) (h % 1999999999999999999ULL) - 999999999999999999LL; break;
    case C_F: g->f = (float) ((double) (int64_t) h / 1e9); break;
    case C_D: g->f = (double) (int64_t) h / 3.0; if (h % 11 == 0) g->f = -0.0; break;
    case C_S: case C_BIN:
        g->n = h % 40;
        for (size_t k = 0; k < g->n; k++)
            g->p[k] = (uint8_t) (c == C_S ? 'a' + (h >> (k % 50)) % 26 : (h >> (k % 56)));
        break;
    case C_DEC38:
        g->n = 16;
        for (size_t k = 0; k < 16; k++)
            g->p[k] = (uint8_t) (mix(h + k) >> 8);
        g->p[0] = (uint8_t) ((g->p[0] & 0x0f) | ((h & 1) ? 0xf0 : 0x00));   /* < 10^38 */
        break;
    case C_UUID: case C_FIXED:
        g->n = c == C_UUID ? 16 : 3;
        for (size_t k = 0; k < g->n; k++)
            g->p[k] = (uint8_t) (mix(h + k) >> 3);
        break;
    default: break;
    }
    return true;
}

static void
write_file(cdc_buf *out, int64_t nrows, parquet_codec codec, bool no_dict, size_t rg_bytes,
           size_t page_bytes, bool low_card)
{
    parquet_options o = { .codec = codec, .no_dictionary = no_dict, .row_group_bytes = rg_bytes,
                          .page_bytes = page_bytes, .sink_buf = out };
    cdc_err         err = { 0 };
    parquet_writer *w = parquet_writer_new(cols, NCOLS, &o, &err);
    parquet_result  res;

    ck_assert_msg(w != NULL, "%s", err.msg);
    for (int64_t r = 0; r < nrows; r++) {
        for (int c = 0; c < NCOLS; c++) {
            gen g;
            int rc;

            if (!gen_value(c, r, low_card, &g)) {
                rc = parquet_put_null(w, (size_t) c, &err);
            } else if (c == C_BOOL) {
                rc = parquet_put_bool(w, (size_t) c, g.v != 0, &err);
            } else if (c == C_F) {
                rc = parquet_put_float(w, (size_t) c, (float) g.f, &err);
            } else if (c == C_D) {
                rc = parquet_put_double(w, (size_t) c, g.f, &err);
            } else if (g.n > 0 || c == C_S || c == C_BIN) {
                rc = parquet_put_bytes(w, (size_t) c, g.p, g.n, &err);
            } else {
                rc = parquet_put_i64(w, (size_t) c, g.v, &err);
            }
            ck_assert_msg(rc == 0, "row %lld col %d: %s", (long long) r, c, err.msg);
        }
        ck_assert_msg(parquet_end_row(w, &err) == 0, "%s", err.msg);
    }
    ck_assert_msg(parquet_close(w, &res, &err) == 0, "%s", err.msg);
    parquet_result_free(&res);
    parquet_writer_free(w);
}

static void
check_file(const cdc_buf *file, int64_t nrows, bool low_card, size_t min_rgs)
{
    cdc_err         err = { 0 };
    parquet_reader *r = parquet_reader_open_mem("t.parquet", file->data, file->len, &err);
    parquet_chunk   ch = PARQUET_CHUNK_INIT;
    int64_t         seen = 0;

    ck_assert_msg(r != NULL, "%s", err.msg);
    ck_assert_int_eq(parquet_read_rows(r), nrows);
    ck_assert_uint_eq(parquet_read_ncolumns(r), NCOLS);
    ck_assert_uint_ge(parquet_read_nrow_groups(r), min_rgs);
    for (int c = 0; c < NCOLS; c++) {
        const parquet_read_col *rc = parquet_read_column(r, (size_t) c);

        ck_assert_str_eq(rc->name, cols[c].name);
        ck_assert_int_eq(rc->field_id, cols[c].field_id);
        ck_assert_int_eq(parquet_read_find_id(r, cols[c].field_id), c);
        ck_assert(rc->optional == cols[c].optional);
    }
    ck_assert_int_eq(parquet_read_column(r, C_DEC38)->logical, PARQUET_LT_DECIMAL);
    ck_assert_int_eq(parquet_read_column(r, C_DEC38)->precision, 38);
    ck_assert_int_eq(parquet_read_column(r, C_DEC38)->scale, 10);
    ck_assert_int_eq(parquet_read_column(r, C_TSTZ)->logical, PARQUET_LT_TIMESTAMP);
    ck_assert(parquet_read_column(r, C_TSTZ)->utc);
    ck_assert(!parquet_read_column(r, C_TS)->utc);
    ck_assert_int_eq(parquet_read_column(r, C_TS)->unit, PARQUET_MICROS);
    ck_assert_int_eq(parquet_read_column(r, C_UUID)->logical, PARQUET_LT_UUID);
    ck_assert_int_eq(parquet_read_column(r, C_S)->logical, PARQUET_LT_STRING);
    ck_assert_int_eq(parquet_read_column(r, C_DATE)->logical, PARQUET_LT_DATE);
    ck_assert_int_eq(parquet_read_find_id(r, 999), -1);

    for (size_t g = 0; g < parquet_read_nrow_groups(r); g++) {
        int64_t first = parquet_read_rg_first_row(r, g);

        ck_assert_int_eq(first, seen);
        for (int c = 0; c < NCOLS; c++) {
            ck_assert_msg(parquet_read_chunk(r, g, (size_t) c, &ch, &err) == 0, "%s", err.msg);
            ck_assert_int_eq(ch.nrows, parquet_read_rg_rows(r, g));
            for (int64_t k = 0; k < ch.nrows; k++) {
                const parquet_cell *x = &ch.cells[k];
                gen                 w;
                bool                has = gen_value(c, first + k, low_card, &w);

                ck_assert_msg(x->null == !has, "row %lld col %s null", (long long) (first + k),
                              cols[c].name);
                if (!has)
                    continue;
                if (c == C_BOOL)
                    ck_assert(x->b == (w.v != 0));
                else if (c == C_F)
                    ck_assert(x->f == (double) (float) w.f);
                else if (c == C_D)
                    ck_assert(memcmp(&x->f, &w.f, 8) == 0);
                else if (w.n > 0 || c == C_S || c == C_BIN)
                    ck_assert_msg(x->n == w.n && memcmp(x->p, w.p, w.n) == 0,
                                  "row %lld col %s bytes", (long long) (first + k), cols[c].name);
                else
                    ck_assert_msg(x->i == w.v, "row %lld col %s: %lld, want %lld",
                                  (long long) (first + k), cols[c].name, (long long) x->i,
                                  (long long) w.v);
            }
        }
        seen += parquet_read_rg_rows(r, g);
    }
    ck_assert_int_eq(seen, nrows);
    parquet_chunk_free(&ch);
    parquet_reader_free(r);
}

START_TEST(roundtrip_zstd_dict)
{
    cdc_buf b = CDC_BUF_INIT;

    write_file(&b, 3000, PARQUET_ZSTD, false, 0, 0, true);
    check_file(&b, 3000, true, 1);
    cdc_buf_free(&b);
}
END_TEST

START_TEST(roundtrip_snappy_groups)
{
    cdc_buf b = CDC_BUF_INIT;

    write_file(&b, 5000, PARQUET_SNAPPY, false, 40000, 4096, false);
    check_file(&b, 5000, false, 3);
    cdc_buf_free(&b);
}
END_TEST

START_TEST(roundtrip_plain_none)
{
    cdc_buf b = CDC_BUF_INIT;

    write_file(&b, 2000, PARQUET_UNCOMPRESSED, true, 30000, 1000, false);
    check_file(&b, 2000, false, 2);
    cdc_buf_free(&b);
}
END_TEST

START_TEST(roundtrip_empty_and_one)
{
    cdc_buf b = CDC_BUF_INIT;

    write_file(&b, 0, PARQUET_ZSTD, false, 0, 0, false);
    check_file(&b, 0, false, 0);
    cdc_buf_reset(&b);
    write_file(&b, 1, PARQUET_SNAPPY, false, 0, 0, false);
    check_file(&b, 1, false, 1);
    cdc_buf_free(&b);
}
END_TEST

START_TEST(roundtrip_file)
{
    cdc_buf         b = CDC_BUF_INIT;
    char            path[] = "/tmp/parquet_read_XXXXXX";
    int             fd = mkstemp(path);
    FILE           *f;
    cdc_err         err = { 0 };
    parquet_reader *r;
    parquet_chunk   ch = PARQUET_CHUNK_INIT;

    ck_assert_int_ge(fd, 0);
    write_file(&b, 700, PARQUET_ZSTD, false, 20000, 0, false);
    f = fdopen(fd, "wb");
    ck_assert_uint_eq(fwrite(b.data, 1, b.len, f), b.len);
    fclose(f);
    r = parquet_reader_open_file(path, &err);
    ck_assert_msg(r != NULL, "%s", err.msg);
    ck_assert_int_eq(parquet_read_rows(r), 700);
    ck_assert_int_eq(parquet_read_chunk(r, parquet_read_nrow_groups(r) - 1, C_S, &ch, &err), 0);
    parquet_chunk_free(&ch);
    parquet_reader_free(r);
    unlink(path);
    r = parquet_reader_open_file(path, &err);
    ck_assert(r == NULL);
    ck_assert(strstr(err.msg, path) != NULL);
    cdc_buf_free(&b);
}
END_TEST

START_TEST(lists)
{
    static const parquet_column lc[] = {
        { .name = "id", .kind = PARQUET_INT32, .field_id = 1 },
        { .name = "tags", .kind = PARQUET_STRING, .field_id = 2, .optional = true,
          .is_list = true, .element_field_id = 3, .element_optional = true },
    };
    cdc_buf         b = CDC_BUF_INIT;
    parquet_options o = { .codec = PARQUET_ZSTD, .page_bytes = 64, .sink_buf = &b };
    cdc_err         err = { 0 };
    parquet_writer *w = parquet_writer_new(lc, 2, &o, &err);
    parquet_result  res;
    parquet_reader *r;
    parquet_chunk   ch = PARQUET_CHUNK_INIT;
    int64_t         e = 0;

    /* row i: null list (i % 4 == 1), empty (i % 4 == 2), else i % 5 elements "x<i>.<k>",
       the second one null */
    ck_assert(w != NULL);
    for (int i = 0; i < 200; i++) {
        ck_assert_int_eq(parquet_put_i32(w, 0, i, &err), 0);
        if (i % 4 == 1) {
            ck_assert_int_eq(parquet_put_null(w, 1, &err), 0);
        } else {
            ck_assert_int_eq(parquet_list_begin(w, 1, &err), 0);
            for (int k = 0; i % 4 != 2 && k < i % 5; k++) {
                char s[32];

                snprintf(s, sizeof(s), "x%d.%d", i, k);
                if (k == 1)
                    ck_assert_int_eq(parquet_put_null(w, 1, &err), 0);
                else
                    ck_assert_int_eq(parquet_put_bytes(w, 1, s, strlen(s), &err), 0);
            }
            ck_assert_int_eq(parquet_list_end(w, 1, &err), 0);
        }
        ck_assert_int_eq(parquet_end_row(w, &err), 0);
    }
    ck_assert_int_eq(parquet_close(w, &res, &err), 0);
    parquet_result_free(&res);
    parquet_writer_free(w);

    r = parquet_reader_open_mem("l.parquet", b.data, b.len, &err);
    ck_assert_msg(r != NULL, "%s", err.msg);
    ck_assert_uint_eq(parquet_read_ncolumns(r), 2);
    ck_assert_str_eq(parquet_read_column(r, 1)->name, "tags.list.element");
    ck_assert_int_eq(parquet_read_column(r, 1)->field_id, 3);
    ck_assert_int_eq(parquet_read_column(r, 1)->max_rep, 1);
    ck_assert_int_eq(parquet_read_column(r, 1)->max_def, 3);
    ck_assert_int_eq(parquet_read_column(r, 1)->rep_def, 2);
    ck_assert_uint_eq(parquet_read_nrow_groups(r), 1);
    ck_assert_int_eq(parquet_read_chunk(r, 0, 1, &ch, &err), 0);
    ck_assert_int_eq(ch.nrows, 200);
    for (int i = 0; i < 200; i++) {
        const parquet_cell *x = &ch.cells[i];
        int                 n = i % 4 == 1 || i % 4 == 2 ? 0 : i % 5;

        ck_assert_msg(x->null == (i % 4 == 1), "row %d", i);
        ck_assert_uint_eq(x->n, (size_t) n);
        ck_assert_int_eq(x->i, e);
        for (int k = 0; k < n; k++) {
            const parquet_cell *el = &ch.elems[e + k];
            char                s[32];

            snprintf(s, sizeof(s), "x%d.%d", i, k);
            ck_assert(el->null == (k == 1));
            if (k != 1)
                ck_assert(el->n == strlen(s) && memcmp(el->p, s, el->n) == 0);
        }
        e += n;
    }
    ck_assert_uint_eq(ch.nelems, (size_t) e);
    parquet_chunk_free(&ch);
    parquet_reader_free(r);
    cdc_buf_free(&b);
}
END_TEST

/* ---------------------------------------------------------------- corrupt input */

/* Reads everything; returns 0 or -1 (err set, naming the file). */
static int
read_all(const uint8_t *p, size_t n, cdc_err *err)
{
    parquet_reader *r = parquet_reader_open_mem("bad.parquet", p, n, err);
    parquet_chunk   ch = PARQUET_CHUNK_INIT;
    int             rc = 0;

    if (r == NULL)
        return -1;
    for (size_t g = 0; g < parquet_read_nrow_groups(r) && rc == 0; g++)
        for (size_t c = 0; c < parquet_read_ncolumns(r) && rc == 0; c++)
            rc = parquet_read_chunk(r, g, c, &ch, err);
    parquet_chunk_free(&ch);
    parquet_reader_free(r);
    return rc;
}

START_TEST(corrupt_truncated)
{
    cdc_buf b = CDC_BUF_INIT;

    write_file(&b, 300, PARQUET_SNAPPY, false, 8000, 1000, false);
    for (size_t n = 0; n < b.len; n++) {
        uint8_t *cut = malloc(n ? n : 1);
        cdc_err  err = { 0 };

        memcpy(cut, b.data, n);
        ck_assert_msg(read_all(cut, n, &err) == -1, "a file cut at %zu bytes read", n);
        ck_assert_msg(strstr(err.msg, "bad.parquet") != NULL, "cut at %zu: %s", n, err.msg);
        free(cut);
    }
    cdc_buf_free(&b);
}
END_TEST

START_TEST(corrupt_bytes)
{
    static const parquet_codec codecs[] = { PARQUET_UNCOMPRESSED, PARQUET_SNAPPY, PARQUET_ZSTD };
    uint64_t                   h = 12345;
    int                        failed = 0, total = 0;

    for (int k = 0; k < 3; k++) {
        cdc_buf  b = CDC_BUF_INIT;
        uint8_t *copy;

        write_file(&b, 200, codecs[k], k == 0, 6000, 800, k == 2);
        copy = malloc(b.len);
        for (int i = 0; i < 1500; i++) {
            cdc_err err = { 0 };
            size_t  at;

            memcpy(copy, b.data, b.len);
            /* one to three bytes changed, half of the time in the footer */
            for (int j = 0; j < 1 + (int) (h % 3); j++) {
                h = mix(h + 1);
                at = (h & 1) ? (size_t) (h >> 8) % b.len : b.len - 1 - (size_t) (h >> 8) % 400;
                copy[at] ^= (uint8_t) (1u << ((h >> 4) % 8));
            }
            total++;
            if (read_all(copy, b.len, &err) != 0) {
                failed++;
                ck_assert_msg(err.msg[0] != '\0', "an error without a message");
                ck_assert_msg(strstr(err.msg, "bad.parquet") != NULL, "%s", err.msg);
            }
        }
        free(copy);
        cdc_buf_free(&b);
    }
    /* many changes are caught; the rest changed a value, which no check can see */
    ck_assert_int_gt(failed, total / 4);
}
END_TEST

START_TEST(corrupt_handmade)
{
    cdc_err err = { 0 };
    /* "PAR1" + footer length 2^31 + "PAR1" */
    static const uint8_t big[] = { 'P', 'A', 'R', '1', 0, 0, 0, 0x80, 'P', 'A', 'R', '1' };
    static const uint8_t notpq[] = "this is not a parquet file at all";

    ck_assert_int_eq(read_all(big, sizeof(big), &err), -1);
    ck_assert_msg(strstr(err.msg, "footer length"), "%s", err.msg);
    ck_assert_int_eq(read_all(notpq, sizeof(notpq), &err), -1);
    ck_assert_msg(strstr(err.msg, "not a Parquet file"), "%s", err.msg);
    ck_assert_int_eq(err.code, CDC_E_DECODE);
}
END_TEST

static Suite *
parquet_read_suite(void)
{
    Suite *s = suite_create("parquet_read");
    TCase *tc = tcase_create("all");

    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, thrift_decode);
    tcase_add_test(tc, roundtrip_zstd_dict);
    tcase_add_test(tc, roundtrip_snappy_groups);
    tcase_add_test(tc, roundtrip_plain_none);
    tcase_add_test(tc, roundtrip_empty_and_one);
    tcase_add_test(tc, roundtrip_file);
    tcase_add_test(tc, lists);
    tcase_add_test(tc, corrupt_truncated);
    tcase_add_test(tc, corrupt_bytes);
    tcase_add_test(tc, corrupt_handmade);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return suite_main(parquet_read_suite(), false);
}

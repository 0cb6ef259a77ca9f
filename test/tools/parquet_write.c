/*
 * parquet_write OUTDIR: writes the Parquet files of the end-to-end test
 * (test/integration/600_parquet_pyarrow.sh) with sinks/iceberg/parquet, every
 * column kind, nulls, empty strings and lists, in several scenarios (codec,
 * dictionary or plain, dictionary fallback, several row groups and pages, a
 * page per row, an empty file); next to each NAME.parquet a NAME.json with the values written
 * and the writer's parquet_result, which test/tools/parquet_check.py compares
 * with what pyarrow reads.  Values come from a fixed-seed generator.
 * Bytes-like values are hex in the JSON, floats the hex of their
 * little-endian bytes (exact, NaN and -0.0 included).
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sinks/iceberg/parquet/parquet.h"

enum {
    C_BOOL, C_I32, C_I64, C_FLOAT, C_DOUBLE, C_STR, C_BIN, C_DEC9, C_DEC18, C_DEC38, C_DATE,
    C_TIME, C_TS, C_TSTZ, C_UUID, C_I8, C_I16, C_FIXED, C_INTS, C_STRS, C_DEC25, NCOLS
};

static const parquet_column cols[NCOLS] = {
    [C_BOOL] = { .name = "b", .kind = PARQUET_BOOLEAN, .field_id = 1, .optional = true },
    [C_I32] = { .name = "i32", .kind = PARQUET_INT32, .field_id = 2 },
    [C_I64] = { .name = "i64", .kind = PARQUET_INT64, .field_id = 3, .optional = true },
    [C_FLOAT] = { .name = "f", .kind = PARQUET_FLOAT, .field_id = 4, .optional = true },
    [C_DOUBLE] = { .name = "d", .kind = PARQUET_DOUBLE, .field_id = 5, .optional = true },
    [C_STR] = { .name = "s", .kind = PARQUET_STRING, .field_id = 6, .optional = true },
    [C_BIN] = { .name = "bin", .kind = PARQUET_BINARY, .field_id = 7, .optional = true },
    [C_DEC9] = { .name = "dec9", .kind = PARQUET_DECIMAL, .field_id = 8, .optional = true,
                 .precision = 9, .scale = 2 },
    [C_DEC18] = { .name = "dec18", .kind = PARQUET_DECIMAL, .field_id = 9, .optional = true,
                  .precision = 18, .scale = 4 },
    [C_DEC38] = { .name = "dec38", .kind = PARQUET_DECIMAL, .field_id = 10, .optional = true,
                  .precision = 38, .scale = 10 },
    [C_DATE] = { .name = "dt", .kind = PARQUET_DATE, .field_id = 11, .optional = true },
    [C_TIME] = { .name = "tm", .kind = PARQUET_TIME_US, .field_id = 12, .optional = true },
    [C_TS] = { .name = "ts", .kind = PARQUET_TIMESTAMP_US, .field_id = 13, .optional = true },
    [C_TSTZ] = { .name = "tstz", .kind = PARQUET_TIMESTAMPTZ_US, .field_id = 14,
                 .optional = true },
    [C_UUID] = { .name = "u", .kind = PARQUET_UUID, .field_id = 15, .optional = true },
    [C_I8] = { .name = "i8", .kind = PARQUET_INT8, .field_id = 16, .optional = true },
    [C_I16] = { .name = "i16", .kind = PARQUET_INT16, .field_id = 17, .optional = true },
    [C_FIXED] = { .name = "fx", .kind = PARQUET_FIXED, .field_id = 18, .optional = true,
                  .fixed_len = 3 },
    [C_INTS] = { .name = "ints", .kind = PARQUET_INT32, .field_id = 19, .optional = true,
                 .is_list = true, .element_field_id = 20, .element_optional = true },
    [C_STRS] = { .name = "strs", .kind = PARQUET_STRING, .field_id = 21, .is_list = true,
                 .element_field_id = 22 },
    [C_DEC25] = { .name = "dec25", .kind = PARQUET_DECIMAL, .field_id = 23, .optional = true,
                  .precision = 25, .scale = 0 },
};

static uint64_t rng;

static uint64_t
next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static unsigned
below(unsigned n)
{
    return (unsigned) (next() % n);
}

static void
hex(FILE *f, const uint8_t *p, size_t n)
{
    fputc('"', f);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%02x", p[i]);
    fputc('"', f);
}

static const char *const words[] = {
    "", "a", "ab", "abc", "Zebra", "zebra", "\xc3\xa9t\xc3\xa9", "\xe2\x82\xac", "~tilde",
    "with space", "0", "9", "\xf0\x9f\x98\x80", "A", "mango", "apple",
};
#define NWORDS (sizeof(words) / sizeof(words[0]))

typedef struct scenario {
    const char   *name;
    parquet_codec codec;
    bool          no_dict;
    size_t        rg_bytes, page_bytes, dict_max;
    int           rows;
    bool          wide_strings;     /* many distinct strings: dictionary fallback */
} scenario;

#define CK(x)                                                                          \
    do {                                                                               \
        if ((x) < 0) {                                                                 \
            fprintf(stderr, "parquet_write %s row %d: %s\n", sc->name, r, err.msg);    \
            return -1;                                                                 \
        }                                                                              \
    } while (0)

static int
sink(void *arg, const uint8_t *p, size_t n, cdc_err *err)
{
    if (fwrite(p, 1, n, arg) != n)
        return cdc_err_set(err, CDC_E_IO, "fwrite failed");
    return 0;
}

static int
write_one(const char *dir, const scenario *sc)
{
    char            path[4096];
    FILE           *pf, *jf;
    parquet_options o = { 0 };
    parquet_kv      kv[] = { { "iceberg.schema", "{\"type\":\"struct\"}" }, { "k", NULL } };
    parquet_writer *w;
    parquet_result  res;
    cdc_err         err = { 0 };
    int             r = 0;

    snprintf(path, sizeof(path), "%s/%s.parquet", dir, sc->name);
    pf = fopen(path, "wb");
    snprintf(path, sizeof(path), "%s/%s.json", dir, sc->name);
    jf = fopen(path, "w");
    if (pf == NULL || jf == NULL) {
        perror(path);
        return -1;
    }
    o.codec = sc->codec;
    o.no_dictionary = sc->no_dict;
    o.row_group_bytes = sc->rg_bytes;
    o.page_bytes = sc->page_bytes;
    o.dict_max_bytes = sc->dict_max;
    o.kv = kv;
    o.nkv = 2;
    o.sink = sink;
    o.sink_arg = pf;
    w = parquet_writer_new(cols, NCOLS, &o, &err);
    if (w == NULL) {
        fprintf(stderr, "parquet_write: %s\n", err.msg);
        return -1;
    }
    rng = 0x9E3779B97F4A7C15ull;
    fprintf(jf, "{\"name\":\"%s\",\"rows\":[\n", sc->name);
    for (r = 0; r < sc->rows; r++) {
        bool nul = below(7) == 0;   /* this row's optional columns are mostly null */

        if (r % 41 == 20) {
            /*
             * A row half written with values beyond every bound of the real ones, a
             * refused value, then taken back: nothing of it may reach the file, its
             * statistics or the result.
             */
            static const char big[] = "\xf4\x8f\xbf\xbf taken back";  /* U+10FFFF */

            CK(parquet_put_i64(w, C_I64, INT64_MAX, &err));
            if (parquet_put_bytes(w, C_STR, "\xff", 1, &err) == 0) {
                fprintf(stderr, "parquet_write: a string that is not UTF-8 was taken\n");
                return -1;
            }
            CK(parquet_put_bytes(w, C_STR, big, sizeof(big) - 1, &err));
            CK(parquet_put_double(w, C_DOUBLE, NAN, &err));
            CK(parquet_list_begin(w, C_INTS, &err));
            CK(parquet_put_i32(w, C_INTS, 1000, &err));
            CK(parquet_put_null(w, C_INTS, &err));
            if (parquet_put_i32(w, C_I16, 70000, &err) == 0) {
                fprintf(stderr, "parquet_write: int16 70000 was taken\n");
                return -1;
            }
            CK(parquet_abort_row(w, &err));
        }
        if (r % 13 == 0 && parquet_put_i64(w, C_I8, 300, &err) == 0) {
            fprintf(stderr, "parquet_write: int8 300 was taken\n");   /* refused, no trace */
            return -1;
        }

        fprintf(jf, "%s[", r ? ",\n" : "");
        for (int c = 0; c < NCOLS; c++) {
            bool isnull = cols[c].optional && !cols[c].is_list && (nul ? below(4) != 0
                                                                         : below(20) == 0);

            if (c > 0)
                fputc(',', jf);
            if (isnull) {
                CK(parquet_put_null(w, (size_t) c, &err));
                fputs("null", jf);
                continue;
            }
            switch (c) {
            case C_BOOL: {
                bool v = below(3) == 0;
                CK(parquet_put_bool(w, C_BOOL, v, &err));
                fputs(v ? "true" : "false", jf);
                break;
            }
            case C_I32: {
                int32_t v = r % 97 == 0 ? (r % 2 ? INT32_MIN : INT32_MAX)
                                        : (int32_t) below(2000) - 1000;
                CK(parquet_put_i32(w, C_I32, v, &err));
                fprintf(jf, "%" PRId32, v);
                break;
            }
            case C_I64: {
                int64_t v = (int64_t) next();
                if (below(3) == 0)
                    v = (int64_t) below(10) - 5;
                CK(parquet_put_i64(w, C_I64, v, &err));
                fprintf(jf, "%" PRId64, v);
                break;
            }
            case C_FLOAT: {
                float   v;
                uint8_t b[4];
                switch (below(10)) {
                case 0: v = NAN; break;
                case 1: v = -0.0f; break;
                case 2: v = 0.0f; break;
                default: v = ((float) below(100000) - 50000.0f) / 7.0f; break;
                }
                CK(parquet_put_float(w, C_FLOAT, v, &err));
                memcpy(b, &v, 4);
                hex(jf, b, 4);
                break;
            }
            case C_DOUBLE: {
                double  v;
                uint8_t b[8];
                switch (below(12)) {
                case 0: v = NAN; break;
                case 1: v = -0.0; break;
                case 2: v = 1e300; break;
                case 3: v = -INFINITY; break;
                default: v = ((double) (int64_t) next()) / 3.0; break;
                }
                CK(parquet_put_double(w, C_DOUBLE, v, &err));
                memcpy(b, &v, 8);
                hex(jf, b, 8);
                break;
            }
            case C_STR: {
                char        buf[64];
                const char *s = words[below(NWORDS)];
                if (sc->wide_strings) {
                    snprintf(buf, sizeof(buf), "%s-%08" PRIx64, s, next() & 0xffffffffu);
                    s = buf;
                }
                CK(parquet_put_bytes(w, C_STR, s, strlen(s), &err));
                hex(jf, (const uint8_t *) s, strlen(s));
                break;
            }
            case C_BIN: {
                uint8_t b[8];
                size_t  n = below(9);
                for (size_t i = 0; i < n; i++)
                    b[i] = (uint8_t) (below(3) == 0 ? 0xFF : below(3) == 0 ? 0 : next());
                CK(parquet_put_bytes(w, C_BIN, b, n, &err));
                hex(jf, b, n);
                break;
            }
            case C_DEC9: {
                int32_t v = (int32_t) (next() % 1999999999u) - 999999999;
                CK(parquet_put_i32(w, C_DEC9, v, &err));
                fprintf(jf, "%" PRId32, v);
                break;
            }
            case C_DEC18: {
                int64_t v = (int64_t) (next() % UINT64_C(1999999999999999999))
                            - INT64_C(999999999999999999);
                CK(parquet_put_i64(w, C_DEC18, v, &err));
                fprintf(jf, "%" PRId64, v);
                break;
            }
            case C_DEC38: {
                uint8_t b[16];
                size_t  n = below(4) == 0 ? 1 + below(8) : 16;
                for (size_t i = 0; i < n; i++)
                    b[i] = (uint8_t) next();
                if (n == 16)    /* |v| < 2^126 < 10^38 */
                    b[0] = (b[0] & 0x80) ? (uint8_t) (b[0] | 0xC0) : (uint8_t) (b[0] & 0x3F);
                CK(parquet_put_bytes(w, C_DEC38, b, n, &err));
                fputs("{\"be\":", jf);
                hex(jf, b, n);
                fputc('}', jf);
                break;
            }
            case C_DATE: {
                int32_t v = (int32_t) below(200 * 365) - 70 * 365;   /* 1900..2100 */
                CK(parquet_put_i32(w, C_DATE, v, &err));
                fprintf(jf, "%" PRId32, v);
                break;
            }
            case C_TIME: {
                int64_t v = (int64_t) (next() % UINT64_C(86400000000));
                CK(parquet_put_i64(w, C_TIME, v, &err));
                fprintf(jf, "%" PRId64, v);
                break;
            }
            case C_TS: case C_TSTZ: {
                int64_t v = (int64_t) (next() % (UINT64_C(200) * 365 * 86400000000))
                            - INT64_C(70) * 365 * 86400000000;
                CK(parquet_put_i64(w, (size_t) c, v, &err));
                fprintf(jf, "%" PRId64, v);
                break;
            }
            case C_UUID: {
                uint8_t b[16];
                for (int i = 0; i < 16; i++)
                    b[i] = (uint8_t) next();
                CK(parquet_put_bytes(w, C_UUID, b, 16, &err));
                hex(jf, b, 16);
                break;
            }
            case C_I8: {
                int32_t v = (int32_t) below(256) - 128;
                CK(parquet_put_i32(w, C_I8, v, &err));
                fprintf(jf, "%" PRId32, v);
                break;
            }
            case C_I16: {
                int32_t v = (int32_t) below(65536) - 32768;
                CK(parquet_put_i64(w, C_I16, v, &err));
                fprintf(jf, "%" PRId32, v);
                break;
            }
            case C_FIXED: {
                uint8_t b[3] = { (uint8_t) next(), (uint8_t) below(2), 0xFF };
                CK(parquet_put_bytes(w, C_FIXED, b, 3, &err));
                hex(jf, b, 3);
                break;
            }
            case C_INTS: {
                unsigned k = below(6);
                if (k == 5) {           /* a null list */
                    CK(parquet_put_null(w, C_INTS, &err));
                    fputs("null", jf);
                    break;
                }
                CK(parquet_list_begin(w, C_INTS, &err));
                fputc('[', jf);
                for (unsigned i = 0; i < k; i++) {
                    if (i > 0)
                        fputc(',', jf);
                    if (below(5) == 0) {
                        CK(parquet_put_null(w, C_INTS, &err));
                        fputs("null", jf);
                    } else {
                        int32_t v = (int32_t) below(100) - 50;
                        CK(parquet_put_i32(w, C_INTS, v, &err));
                        fprintf(jf, "%" PRId32, v);
                    }
                }
                CK(parquet_list_end(w, C_INTS, &err));
                fputc(']', jf);
                break;
            }
            case C_STRS: {
                unsigned k = below(4);
                CK(parquet_list_begin(w, C_STRS, &err));
                fputc('[', jf);
                for (unsigned i = 0; i < k; i++) {
                    const char *s = words[below(NWORDS)];
                    if (i > 0)
                        fputc(',', jf);
                    CK(parquet_put_bytes(w, C_STRS, s, strlen(s), &err));
                    hex(jf, (const uint8_t *) s, strlen(s));
                }
                CK(parquet_list_end(w, C_STRS, &err));
                fputc(']', jf);
                break;
            }
            case C_DEC25: {
                int64_t v = (int64_t) next();
                CK(parquet_put_i64(w, C_DEC25, v, &err));
                fprintf(jf, "%" PRId64, v);
                break;
            }
            }
        }
        fputc(']', jf);
        CK(parquet_end_row(w, &err));
    }
    if (parquet_close(w, &res, &err) < 0) {
        fprintf(stderr, "parquet_write %s: close: %s\n", sc->name, err.msg);
        return -1;
    }
    parquet_writer_free(w);
    fprintf(jf, "],\n\"result\":{\"file_size\":%" PRIu64 ",\"row_count\":%" PRId64
                ",\"split_offsets\":[", res.file_size, res.row_count);
    for (size_t i = 0; i < res.nrow_groups; i++)
        fprintf(jf, "%s%" PRId64, i ? "," : "", res.split_offsets[i]);
    fputs("],\"cols\":[", jf);
    for (size_t i = 0; i < res.ncols; i++) {
        const parquet_col_stats *s = &res.cols[i];

        fprintf(jf, "%s\n{\"name\":\"%s\",\"field_id\":%" PRId32 ",\"value_count\":%" PRId64
                    ",\"null_count\":%" PRId64 ",\"nan_count\":%" PRId64
                    ",\"compressed_size\":%" PRId64 ",\"uncompressed_size\":%" PRId64,
                i ? "," : "", s->name, s->field_id, s->value_count, s->null_count, s->nan_count,
                s->compressed_size, s->uncompressed_size);
        if (s->has_bounds) {
            fputs(",\"min\":", jf);
            hex(jf, s->min, s->min_len);
            fputs(",\"max\":", jf);
            hex(jf, s->max, s->max_len);
        }
        fputc('}', jf);
    }
    fputs("]}}\n", jf);
    parquet_result_free(&res);
    if (fclose(pf) != 0 || fclose(jf) != 0) {
        perror("fclose");
        return -1;
    }
    return 0;
}

int
main(int argc, char **argv)
{
    static const scenario scs[] = {
        { "zstd_dict", PARQUET_ZSTD, false, 0, 0, 0, 3000, false },
        { "snappy_dict_groups", PARQUET_SNAPPY, false, 48 << 10, 4 << 10, 0, 6000, false },
        { "plain_uncompressed", PARQUET_UNCOMPRESSED, true, 64 << 10, 8 << 10, 0, 4000, false },
        { "zstd_plain_groups", PARQUET_ZSTD, true, 32 << 10, 0, 0, 3000, false },
        { "zstd_dict_fallback", PARQUET_ZSTD, false, 0, 16 << 10, 2048, 5000, true },
        { "snappy_dict_one_row", PARQUET_SNAPPY, false, 0, 0, 0, 1, false },
        /* a page per row or per four nulls: all-null PLAIN pages before dictionary pages */
        { "zstd_dict_tiny_pages", PARQUET_ZSTD, false, 6 << 10, 1, 0, 1500, false },
        { "empty", PARQUET_ZSTD, false, 0, 0, 0, 0, false },
    };

    if (argc != 2) {
        fprintf(stderr, "usage: parquet_write OUTDIR\n");
        return 2;
    }
    for (size_t i = 0; i < sizeof(scs) / sizeof(scs[0]); i++)
        if (write_one(argv[1], &scs[i]) < 0)
            return 1;
    return 0;
}

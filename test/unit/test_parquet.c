/*
 * Suite "parquet": the Parquet writer of sinks/iceberg/parquet/.
 *   thrift   Thrift compact protocol bytes checked by hand against
 *            thrift-compact-protocol.md: field headers (short and long form,
 *            ids going down), zigzag varints, booleans in the type nibble,
 *            binary, lists (short and long header), nested structs, and a
 *            whole DataPage PageHeader.
 *   rle      the RLE / bit-packing hybrid: Encodings.md's bit-packing example,
 *            RLE runs of several widths, a mixed sequence, and random
 *            sequences decoded back by an independent decoder written here.
 *   writer   schema checks, every value error naming the column and leaving
 *            no trace, a row taken back (parquet_abort_row), the sticky
 *            failure of a sink, the file's frame (PAR1, footer length), the result's
 *            counts and bounds in each kind's order (unsigned bytes, signed
 *            decimals, -0.0/+0.0, NaN left out), row
 *            groups by size (with a dictionary small enough to fall back;
 *            600 checks those pages), a failing sink.
 * pyarrow reads the files back in test/integration/600_parquet_pyarrow.sh.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/core/cdc_buf.h"
#include "sinks/iceberg/parquet/parquet.h"
#include "sinks/iceberg/parquet/parquet_rle.h"
#include "sinks/iceberg/parquet/parquet_thrift.h"
#include "test/lib/suite_main.h"

static void
expect_bytes(const cdc_buf *b, const uint8_t *want, size_t n)
{
    ck_assert_uint_eq(b->len, n);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(b->data[i] == want[i], "byte %zu: 0x%02x, want 0x%02x", i, b->data[i],
                      want[i]);
}

/* ---------------------------------------------------------------- thrift */

START_TEST(thrift_scalars)
{
    cdc_buf        b = CDC_BUF_INIT;
    parquet_thrift t;
    /*
     * 1: i32 0 -> 0x15 0x00; 2: i32 -1 -> 0x15 0x01 (zigzag 1); 3: i32 150 ->
     * 0x15 0xAC 0x02 (zigzag 300); 20: i32 1 -> long form 0x05, zigzag(20) =
     * 40 = 0x28, then 0x02; 3: i16 -2 -> going down, long form 0x04 0x06 0x03;
     * 4: bool true -> 0x11 (delta 1, type 1); 5: bool false -> 0x12; 9: binary
     * "ab" -> 0x48 0x02 'a' 'b'; 10: i64 2^40 -> 0x16 then zigzag 2^41 as
     * varint 0x80 0x80 0x80 0x80 0x80 0x40; 11: i8 -1 -> 0x13 0xFF; stop.
     */
    static const uint8_t want[] = {
        0x15, 0x00, 0x15, 0x01, 0x15, 0xAC, 0x02, 0x05, 0x28, 0x02, 0x04, 0x06, 0x03,
        0x11, 0x12, 0x48, 0x02, 'a', 'b', 0x16, 0x80, 0x80, 0x80, 0x80, 0x80, 0x40,
        0x13, 0xFF, 0x00,
    };

    parquet_thrift_init(&t, &b);
    parquet_thrift_i32(&t, 1, 0);
    parquet_thrift_i32(&t, 2, -1);
    parquet_thrift_i32(&t, 3, 150);
    parquet_thrift_i32(&t, 20, 1);
    parquet_thrift_i16(&t, 3, -2);
    parquet_thrift_bool(&t, 4, true);
    parquet_thrift_bool(&t, 5, false);
    parquet_thrift_string(&t, 9, "ab");
    parquet_thrift_i64(&t, 10, INT64_C(1) << 40);
    parquet_thrift_i8(&t, 11, -1);
    parquet_thrift_end(&t);
    ck_assert(!parquet_thrift_failed(&t));
    expect_bytes(&b, want, sizeof(want));
    cdc_buf_free(&b);
}
END_TEST

START_TEST(thrift_lists_and_structs)
{
    cdc_buf        b = CDC_BUF_INIT;
    parquet_thrift t;
    /*
     * 2: list<i32> [1, 2, 3] -> 0x29 (delta 2, list), 0x35 (3 elements of i32),
     * 0x02 0x04 0x06; 3: list<binary> of 15 "" -> 0x19, long header 0xF8 0x0F,
     * fifteen 0x00; 4: struct { 1: i32 7, 2: empty struct } -> 0x1C, 0x15 0x0E,
     * 0x1C 0x00 (delta 1 inside the struct), stop 0x00; 5: i32 1 after the struct, delta 1 from 4 ->
     * 0x15 0x02; 6: list<struct> of one { 1: i32 -3 } -> 0x19 0x1C 0x15 0x05 0x00;
     * stop.
     */
    static const uint8_t want[] = {
        0x29, 0x35, 0x02, 0x04, 0x06,
        0x19, 0xF8, 0x0F, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0x1C, 0x15, 0x0E, 0x1C, 0x00, 0x00,
        0x15, 0x02,
        0x19, 0x1C, 0x15, 0x05, 0x00,
        0x00,
    };

    parquet_thrift_init(&t, &b);
    parquet_thrift_list(&t, 2, PARQUET_TT_I32, 3);
    parquet_thrift_elem_i32(&t, 1);
    parquet_thrift_elem_i32(&t, 2);
    parquet_thrift_elem_i32(&t, 3);
    parquet_thrift_list(&t, 3, PARQUET_TT_BINARY, 15);
    for (int i = 0; i < 15; i++)
        parquet_thrift_elem_binary(&t, "", 0);
    parquet_thrift_struct(&t, 4);
    parquet_thrift_i32(&t, 1, 7);
    parquet_thrift_empty(&t, 2);
    parquet_thrift_end(&t);
    parquet_thrift_i32(&t, 5, 1);
    parquet_thrift_list(&t, 6, PARQUET_TT_STRUCT, 1);
    parquet_thrift_elem_struct(&t);
    parquet_thrift_i32(&t, 1, -3);
    parquet_thrift_end(&t);
    parquet_thrift_end(&t);
    ck_assert(!parquet_thrift_failed(&t));
    expect_bytes(&b, want, sizeof(want));
    cdc_buf_free(&b);
}
END_TEST

START_TEST(thrift_page_header)
{
    cdc_buf        b = CDC_BUF_INIT;
    parquet_thrift t;
    /*
     * PageHeader { 1: type DATA_PAGE (0), 2: uncompressed 100, 3: compressed 50,
     * 5: DataPageHeader { 1: num_values 10, 2: PLAIN (0), 3: RLE (3), 4: RLE } }
     * = 0x15 0x00 | 0x15 0xC8 0x01 (zigzag 200) | 0x15 0x64 | 0x2C (delta 2,
     * struct) 0x15 0x14 0x15 0x00 0x15 0x06 0x15 0x06 0x00 | 0x00.
     */
    static const uint8_t want[] = {
        0x15, 0x00, 0x15, 0xC8, 0x01, 0x15, 0x64, 0x2C, 0x15, 0x14, 0x15, 0x00, 0x15, 0x06,
        0x15, 0x06, 0x00, 0x00,
    };

    parquet_thrift_init(&t, &b);
    parquet_thrift_i32(&t, 1, 0);
    parquet_thrift_i32(&t, 2, 100);
    parquet_thrift_i32(&t, 3, 50);
    parquet_thrift_struct(&t, 5);
    parquet_thrift_i32(&t, 1, 10);
    parquet_thrift_i32(&t, 2, 0);
    parquet_thrift_i32(&t, 3, 3);
    parquet_thrift_i32(&t, 4, 3);
    parquet_thrift_end(&t);
    parquet_thrift_end(&t);
    expect_bytes(&b, want, sizeof(want));
    cdc_buf_free(&b);
}
END_TEST

START_TEST(thrift_zigzag_and_depth)
{
    cdc_buf        b = CDC_BUF_INIT;
    parquet_thrift t;

    ck_assert_uint_eq(parquet_thrift_zigzag(0), 0);
    ck_assert_uint_eq(parquet_thrift_zigzag(-1), 1);
    ck_assert_uint_eq(parquet_thrift_zigzag(1), 2);
    ck_assert_uint_eq(parquet_thrift_zigzag(INT64_MAX), UINT64_MAX - 1);
    ck_assert_uint_eq(parquet_thrift_zigzag(INT64_MIN), UINT64_MAX);
    parquet_thrift_init(&t, &b);
    for (int i = 0; i < PARQUET_THRIFT_MAX_DEPTH + 1; i++)
        parquet_thrift_struct(&t, 1);
    ck_assert(parquet_thrift_failed(&t));
    cdc_buf_free(&b);
}
END_TEST

/* ---------------------------------------------------------------- rle */

START_TEST(rle_spec_bitpacking)
{
    /* Encodings.md: 0..7 with bit width 3 bit-pack to 10001000 11000110 11111010 */
    static const uint32_t v[] = { 0, 1, 2, 3, 4, 5, 6, 7 };
    static const uint8_t  want[] = { 0x03, 0x88, 0xC6, 0xFA };
    cdc_buf               b = CDC_BUF_INIT;

    parquet_rle_encode(&b, v, 8, 3);
    expect_bytes(&b, want, sizeof(want));
    cdc_buf_free(&b);
}
END_TEST

START_TEST(rle_runs)
{
    uint32_t v[100];
    cdc_buf  b = CDC_BUF_INIT;

    /* 100 ones, width 1: header varint(100 << 1) = 0xC8 0x01, the value in one byte */
    for (int i = 0; i < 100; i++)
        v[i] = 1;
    parquet_rle_encode(&b, v, 100, 1);
    expect_bytes(&b, (const uint8_t[]) { 0xC8, 0x01, 0x01 }, 3);

    /* 8 x 300, width 9: header 0x10, the value in two bytes little-endian */
    cdc_buf_reset(&b);
    for (int i = 0; i < 8; i++)
        v[i] = 300;
    parquet_rle_encode(&b, v, 8, 9);
    expect_bytes(&b, (const uint8_t[]) { 0x10, 0x2C, 0x01 }, 3);

    /* 10 ones then 0 1 0, width 1: RLE (0x14 0x01), then one padded group (0x03 0x02) */
    cdc_buf_reset(&b);
    for (int i = 0; i < 10; i++)
        v[i] = 1;
    v[10] = 0;
    v[11] = 1;
    v[12] = 0;
    parquet_rle_encode(&b, v, 13, 1);
    expect_bytes(&b, (const uint8_t[]) { 0x14, 0x01, 0x03, 0x02 }, 4);

    /* 0 1 then 9 twos, width 2: a run starting mid-group stays packed in its group:
       group 1 = 0 1 2 2 2 2 2 2, group 2 = 2 2 2 and five zeros of padding -> header
       0x05, then 0b10100100 0b10101010 0b00101010 0x00 */
    cdc_buf_reset(&b);
    v[0] = 0;
    v[1] = 1;
    for (int i = 2; i < 11; i++)
        v[i] = 2;
    parquet_rle_encode(&b, v, 11, 2);
    expect_bytes(&b, (const uint8_t[]) { 0x05, 0xA4, 0xAA, 0x2A, 0x00 }, 5);
    cdc_buf_free(&b);

    ck_assert_int_eq(parquet_bit_width(0), 0);
    ck_assert_int_eq(parquet_bit_width(1), 1);
    ck_assert_int_eq(parquet_bit_width(3), 2);
    ck_assert_int_eq(parquet_bit_width(4), 3);
    ck_assert_int_eq(parquet_bit_width(255), 8);
    ck_assert_int_eq(parquet_bit_width(256), 9);
    ck_assert_int_eq(parquet_bit_width(UINT32_MAX), 32);
}
END_TEST

/* An independent decoder of the hybrid, from Encodings.md's grammar. */
static size_t
rle_decode(const uint8_t *p, size_t len, int bw, uint32_t *out, size_t n)
{
    size_t i = 0, got = 0;

    while (i < len && got < n) {
        uint64_t h = 0;
        int      sh = 0;

        do {
            h |= (uint64_t) (p[i] & 0x7F) << sh;
            sh += 7;
        } while (p[i++] & 0x80);
        if (h & 1) {
            size_t   count = (size_t) (h >> 1) * 8;
            uint64_t bitpos = 0;

            for (size_t k = 0; k < count; k++) {
                uint32_t x = 0;

                for (int j = 0; j < bw; j++, bitpos++)
                    if (p[i + bitpos / 8] & (1u << (bitpos % 8)))
                        x |= 1u << j;
                if (got < n)
                    out[got++] = x;
            }
            i += (size_t) (h >> 1) * (size_t) bw;
        } else {
            size_t   count = (size_t) (h >> 1);
            uint32_t x = 0;

            for (int j = 0; j < (bw + 7) / 8; j++)
                x |= (uint32_t) p[i++] << (8 * j);
            for (size_t k = 0; k < count && got < n; k++)
                out[got++] = x;
        }
    }
    ck_assert_uint_eq(i, len);
    return got;
}

START_TEST(rle_roundtrip_random)
{
    uint64_t s = 88172645463325252ull;

    for (int trial = 0; trial < 300; trial++) {
        size_t    n = (size_t) (trial * 7 % 500);
        int       bw = trial % 33;
        uint32_t *v = malloc((n + 1) * sizeof(*v)), *back = malloc((n + 1) * sizeof(*back));
        uint32_t  mask = bw == 32 ? UINT32_MAX : (1u << bw) - 1;
        cdc_buf   b = CDC_BUF_INIT;

        for (size_t i = 0; i < n; i++) {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            /* runs of random length, so both RLE and packed segments occur */
            v[i] = (i > 0 && (s & 3) != 0) ? v[i - 1] : (uint32_t) (s >> 11) & mask;
        }
        parquet_rle_encode(&b, v, n, bw);
        ck_assert(!cdc_buf_failed(&b));
        ck_assert_uint_eq(rle_decode(b.data, b.len, bw, back, n), n);
        for (size_t i = 0; i < n; i++)
            ck_assert_msg(back[i] == v[i], "trial %d value %zu", trial, i);
        free(v);
        free(back);
        cdc_buf_free(&b);
    }
}
END_TEST

/* ---------------------------------------------------------------- writer */

static parquet_writer *
open_buf(const parquet_column *cols, size_t n, cdc_buf *out, parquet_options *o, cdc_err *err)
{
    o->sink_buf = out;
    return parquet_writer_new(cols, n, o, err);
}

START_TEST(writer_schema_checks)
{
    cdc_buf         out = CDC_BUF_INIT;
    parquet_options o = { 0 };
    cdc_err         err;
    parquet_column  c = { .name = "amount", .kind = PARQUET_DECIMAL, .field_id = 3,
                          .precision = 39, .scale = 2 };
    parquet_column  two[2] = { { .name = "a", .kind = PARQUET_INT32, .field_id = 1 },
                               { .name = "a", .kind = PARQUET_INT64, .field_id = 2 } };

    ck_assert_ptr_null(open_buf(&c, 1, &out, &o, &err));
    ck_assert_str_eq(err.msg, "parquet: column \"amount\" is decimal(39,2): precision must be "
                              "1..38 and scale 0..precision");
    c = (parquet_column) { .name = "id", .kind = PARQUET_INT64 };
    ck_assert_ptr_null(open_buf(&c, 1, &out, &o, &err));
    ck_assert_str_eq(err.msg, "parquet: column \"id\" has field id 0: Iceberg needs one > 0");
    c = (parquet_column) { .name = "tags", .kind = PARQUET_STRING, .field_id = 4,
                           .is_list = true };
    ck_assert_ptr_null(open_buf(&c, 1, &out, &o, &err));
    ck_assert_str_eq(err.msg, "parquet: list column \"tags\" has element field id 0: Iceberg "
                              "needs one > 0");
    c = (parquet_column) { .name = "h", .kind = PARQUET_FIXED, .field_id = 4 };
    ck_assert_ptr_null(open_buf(&c, 1, &out, &o, &err));
    ck_assert_str_eq(err.msg, "parquet: column \"h\" is fixed[0]");
    ck_assert_ptr_null(open_buf(two, 2, &out, &o, &err));
    ck_assert_str_eq(err.msg, "parquet: two columns are named \"a\"");
    ck_assert_ptr_null(parquet_writer_new(two, 1, &(parquet_options) { 0 }, &err));
    ck_assert_str_eq(err.msg, "parquet: no sink (a function or a cdc_buf)");
    cdc_buf_free(&out);
}
END_TEST

static const parquet_column small[] = {
    { .name = "id", .kind = PARQUET_INT64, .field_id = 1 },
    { .name = "name", .kind = PARQUET_STRING, .field_id = 2, .optional = true },
    { .name = "amount", .kind = PARQUET_DECIMAL, .field_id = 3, .optional = true,
      .precision = 5, .scale = 2 },
    { .name = "big", .kind = PARQUET_DECIMAL, .field_id = 4, .optional = true,
      .precision = 30, .scale = 0 },
    { .name = "x", .kind = PARQUET_DOUBLE, .field_id = 5, .optional = true },
    { .name = "tags", .kind = PARQUET_INT16, .field_id = 6, .optional = true, .is_list = true,
      .element_field_id = 7, .element_optional = true },
};

START_TEST(writer_value_errors)
{
    cdc_buf         out = CDC_BUF_INIT;
    parquet_options o = { 0 };
    cdc_err         err;
    parquet_writer *w;
    static const uint8_t wide[] = { 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 };

    w = open_buf(small, 6, &out, &o, &err);
    ck_assert_ptr_nonnull(w);
    ck_assert_int_eq(parquet_put_null(w, 0, &err), -1);
    ck_assert_str_eq(err.msg, "parquet: column \"id\" is required: null in row 0");
    ck_assert_int_eq(err.code, CDC_E_INVAL);
    /* a refused value leaves no trace: the column takes another one */
    ck_assert_int_eq(parquet_put_i64(w, 0, 1, &err), 0);
    ck_assert_int_eq(parquet_end_row(w, &err), -1);
    ck_assert_str_eq(err.msg, "parquet: column \"name\" has no value in row 0");
    parquet_writer_free(w);

    w = open_buf(small, 6, &out, &o, &err);
    ck_assert_int_eq(parquet_put_double(w, 1, 1.0, &err), -1);
    ck_assert_str_eq(err.msg, "parquet: column \"name\" is string: cannot take a double value");
    parquet_writer_free(w);

    w = open_buf(small, 6, &out, &o, &err);
    ck_assert_int_eq(parquet_put_i32(w, 2, 100000, &err), -1);
    ck_assert_str_eq(err.msg,
                     "parquet: column \"amount\" (decimal): 100000 is out of range -99999..99999");
    parquet_writer_free(w);

    w = open_buf(small, 6, &out, &o, &err);
    ck_assert_int_eq(parquet_put_bytes(w, 3, wide, sizeof(wide), &err), -1);
    ck_assert_str_eq(err.msg, "parquet: column \"big\": decimal(30,0) does not hold a 14-byte "
                              "unscaled value");
    parquet_writer_free(w);

    w = open_buf(small, 6, &out, &o, &err);
    ck_assert_int_eq(parquet_put_i64(w, 0, 1, &err), 0);
    ck_assert_int_eq(parquet_put_i64(w, 0, 2, &err), -1);
    ck_assert_str_eq(err.msg, "parquet: column \"id\" has a value already in row 0");
    parquet_writer_free(w);

    w = open_buf(small, 6, &out, &o, &err);
    ck_assert_int_eq(parquet_put_i64(w, 0, 1, &err), 0);
    ck_assert_int_eq(parquet_end_row(w, &err), -1);
    ck_assert_str_eq(err.msg, "parquet: column \"name\" has no value in row 0");
    parquet_writer_free(w);

    w = open_buf(small, 6, &out, &o, &err);
    ck_assert_int_eq(parquet_put_i32(w, 5, 1, &err), -1);
    ck_assert_str_eq(err.msg, "parquet: column \"tags\" is a list: int32 outside "
                              "list_begin/list_end");
    parquet_writer_free(w);

    w = open_buf(small, 6, &out, &o, &err);
    ck_assert_int_eq(parquet_list_begin(w, 5, &err), 0);
    ck_assert_int_eq(parquet_put_i32(w, 5, 40000, &err), -1);
    ck_assert_str_eq(err.msg, "parquet: column \"tags\" (int16): 40000 is out of range "
                              "-32768..32767");
    parquet_writer_free(w);
    cdc_buf_free(&out);
}
END_TEST

static uint32_t
le32(const uint8_t *p)
{
    return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

static void
row(parquet_writer *w, int64_t id, const char *name, int32_t amount, int64_t big, double x,
    int ntags)
{
    cdc_err err;

    ck_assert_int_eq(parquet_put_i64(w, 0, id, &err), 0);
    if (name != NULL)
        ck_assert_int_eq(parquet_put_bytes(w, 1, name, strlen(name), &err), 0);
    else
        ck_assert_int_eq(parquet_put_null(w, 1, &err), 0);
    ck_assert_int_eq(parquet_put_i32(w, 2, amount, &err), 0);
    ck_assert_int_eq(parquet_put_i64(w, 3, big, &err), 0);
    ck_assert_int_eq(parquet_put_double(w, 4, x, &err), 0);
    if (ntags < 0) {
        ck_assert_int_eq(parquet_put_null(w, 5, &err), 0);
    } else {
        ck_assert_int_eq(parquet_list_begin(w, 5, &err), 0);
        for (int i = 0; i < ntags; i++) {
            if (i == 1)
                ck_assert_int_eq(parquet_put_null(w, 5, &err), 0);
            else
                ck_assert_int_eq(parquet_put_i32(w, 5, (int32_t) (id + i), &err), 0);
        }
        ck_assert_int_eq(parquet_list_end(w, 5, &err), 0);
    }
    ck_assert_msg(parquet_end_row(w, &err) == 0, "%s", err.msg);
}

START_TEST(writer_file_and_result)
{
    cdc_buf         out = CDC_BUF_INIT;
    parquet_options o = { 0 };
    cdc_err         err;
    parquet_writer *w;
    parquet_result  res;
    double          d;
    int64_t         i64;
    int32_t         i32;

    w = open_buf(small, 6, &out, &o, &err);
    row(w, 5, "zebra", -250, -1, 0.0, 3);          /* tags 5 null 7 */
    row(w, -3, "\xc3\xa9t\xc3\xa9", 99999, 7, -0.0, 0);  /* an empty list */
    row(w, 9, "", 0, INT64_MIN, NAN, -1);           /* a null list */
    row(w, 1, NULL, -99999, INT64_MAX, 2.5, 1);
    ck_assert_int_eq(parquet_rows(w), 4);
    ck_assert_msg(parquet_close(w, &res, &err) == 0, "%s", err.msg);
    parquet_writer_free(w);

    /* the frame: PAR1, row group, footer, its length, PAR1 */
    ck_assert_uint_eq(res.file_size, out.len);
    ck_assert(memcmp(out.data, "PAR1", 4) == 0);
    ck_assert(memcmp(out.data + out.len - 4, "PAR1", 4) == 0);
    ck_assert_uint_lt(le32(out.data + out.len - 8), out.len - 12);
    ck_assert_int_eq(res.row_count, 4);
    ck_assert_uint_eq(res.nrow_groups, 1);
    ck_assert_int_eq(res.split_offsets[0], 4);
    ck_assert_uint_eq(res.ncols, 6);

    /* id: INT64 little-endian, signed */
    memcpy(&i64, res.cols[0].min, 8);
    ck_assert_int_eq(i64, -3);
    memcpy(&i64, res.cols[0].max, 8);
    ck_assert_int_eq(i64, 9);
    ck_assert_int_eq(res.cols[0].null_count, 0);
    ck_assert_int_eq(res.cols[0].value_count, 4);
    ck_assert_int_gt(res.cols[0].compressed_size, 0);
    /* name: unsigned bytes, so "été" (0xC3...) sorts after "zebra"; "" is the min */
    ck_assert_uint_eq(res.cols[1].min_len, 0);
    ck_assert_uint_eq(res.cols[1].max_len, 5);
    ck_assert(memcmp(res.cols[1].max, "\xc3\xa9t\xc3\xa9", 5) == 0);
    ck_assert_int_eq(res.cols[1].null_count, 1);
    /* amount: INT32 */
    memcpy(&i32, res.cols[2].min, 4);
    ck_assert_int_eq(i32, -99999);
    memcpy(&i32, res.cols[2].max, 4);
    ck_assert_int_eq(i32, 99999);
    /* big: FIXED(13) big-endian, signed: INT64_MIN sign-extended is the min */
    ck_assert_uint_eq(res.cols[3].min_len, 13);
    ck_assert_uint_eq(res.cols[3].min[0], 0xFF);
    ck_assert_uint_eq(res.cols[3].min[5], 0x80);
    ck_assert_uint_eq(res.cols[3].max[0], 0x00);
    ck_assert_uint_eq(res.cols[3].max[5], 0x7F);
    /* x: NaN counted and left out; 0.0 and -0.0 with 2.5: the min is -0.0 */
    ck_assert_int_eq(res.cols[4].nan_count, 1);
    memcpy(&d, res.cols[4].min, 8);
    ck_assert(d == 0.0 && signbit(d));
    memcpy(&d, res.cols[4].max, 8);
    ck_assert(d == 2.5);
    /* tags: entries 3 + 1 (empty) + 1 (null) + 1 = 6; nulls: null element, empty, null list */
    ck_assert_int_eq(res.cols[5].field_id, 7);
    ck_assert_int_eq(res.cols[5].value_count, 6);
    ck_assert_int_eq(res.cols[5].null_count, 3);
    memcpy(&i32, res.cols[5].min, 4);
    ck_assert_int_eq(i32, 1);
    memcpy(&i32, res.cols[5].max, 4);
    ck_assert_int_eq(i32, 7);
    parquet_result_free(&res);
    cdc_buf_free(&out);
}
END_TEST

START_TEST(writer_row_groups_and_fallback)
{
    cdc_buf         out = CDC_BUF_INIT;
    parquet_options o = { .codec = PARQUET_SNAPPY, .row_group_bytes = 4096,
                          .dict_max_bytes = 256 };
    cdc_err         err;
    parquet_writer *w;
    parquet_result  res;
    char            name[32];

    w = open_buf(small, 6, &out, &o, &err);
    for (int i = 0; i < 2000; i++) {
        snprintf(name, sizeof(name), "name-%d", i % 300);
        row(w, i, name, i % 1000, i, i / 3.0, i % 4);
    }
    ck_assert_uint_gt(parquet_estimated_size(w), 4);
    ck_assert_msg(parquet_close(w, &res, &err) == 0, "%s", err.msg);
    parquet_writer_free(w);
    ck_assert_uint_gt(res.nrow_groups, 3);
    ck_assert_int_eq(res.split_offsets[0], 4);
    for (size_t g = 1; g < res.nrow_groups; g++)
        ck_assert_int_gt(res.split_offsets[g], res.split_offsets[g - 1]);
    ck_assert_int_eq(res.row_count, 2000);
    ck_assert_int_eq(res.cols[1].value_count, 2000);
    ck_assert_uint_eq(res.file_size, out.len);
    parquet_result_free(&res);
    cdc_buf_free(&out);
}
END_TEST

/* Rows 1, 2 (amount refused, then null) and 3; with junk, an aborted row before row 2. */
static void
abort_rows(cdc_buf *out, bool junk, parquet_result *res)
{
    parquet_options o = { .dict_max_bytes = 64, .sink_buf = out };
    cdc_err         err;
    parquet_writer *w = parquet_writer_new(small, 6, &o, &err);
    const char     *longer = "\xf4\x8f\xbf\xbf and a string for the dictionary, longer than "
                             "its 64 bytes, by some way";

    ck_assert_uint_gt(strlen(longer), 64);
    row(w, 1, "b", 10, 5, 1.5, 2);
    if (junk) {
        /* extreme values, a new dictionary entry past dict_max_bytes, a list left open */
        ck_assert_int_eq(parquet_put_i64(w, 0, INT64_MAX, &err), 0);
        ck_assert_int_eq(parquet_put_bytes(w, 1, "\xff", 1, &err), -1);
        ck_assert_str_eq(err.msg, "parquet: column \"name\": a string of 1 bytes that is not "
                                  "UTF-8 (row 1)");
        ck_assert_int_eq(parquet_put_bytes(w, 1, longer, strlen(longer), &err), 0);
        ck_assert_int_eq(parquet_put_double(w, 4, NAN, &err), 0);
        ck_assert_int_eq(parquet_list_begin(w, 5, &err), 0);
        ck_assert_int_eq(parquet_put_i32(w, 5, 32000, &err), 0);
        ck_assert_int_eq(parquet_put_null(w, 5, &err), 0);
        ck_assert_int_eq(parquet_put_i32(w, 2, 123456, &err), -1);
        ck_assert_int_eq(parquet_abort_row(w, &err), 0);
    }
    /* a refused value replaced by a null: the rule "null plus a warning" */
    ck_assert_int_eq(parquet_put_i64(w, 0, 2, &err), 0);
    ck_assert_int_eq(parquet_put_bytes(w, 1, "a", 1, &err), 0);
    ck_assert_int_eq(parquet_put_i32(w, 2, 123456, &err), -1);
    ck_assert_int_eq(parquet_put_null(w, 2, &err), 0);
    ck_assert_int_eq(parquet_put_i64(w, 3, -5, &err), 0);
    ck_assert_int_eq(parquet_put_double(w, 4, -1.0, &err), 0);
    ck_assert_int_eq(parquet_put_null(w, 5, &err), 0);
    ck_assert_int_eq(parquet_end_row(w, &err), 0);
    ck_assert_int_eq(parquet_abort_row(w, &err), 0);   /* nothing under way: no-op */
    row(w, 3, "c", 20, 6, 2.5, 1);
    ck_assert_int_eq(parquet_rows(w), 3);
    ck_assert_msg(parquet_close(w, res, &err) == 0, "%s", err.msg);
    parquet_writer_free(w);
}

START_TEST(writer_abort_row)
{
    cdc_buf        clean = CDC_BUF_INIT, out = CDC_BUF_INIT;
    parquet_result res, res_clean;
    int32_t        i32;
    int64_t        i64;

    /* an aborted row leaves no trace at all: the file is byte for byte the same */
    abort_rows(&clean, false, &res_clean);
    abort_rows(&out, true, &res);
    ck_assert_uint_eq(out.len, clean.len);
    ck_assert(memcmp(out.data, clean.data, out.len) == 0);

    memcpy(&i64, res.cols[0].max, 8);
    ck_assert_int_eq(i64, 3);
    ck_assert_int_eq(res.cols[0].value_count, 3);
    ck_assert_uint_eq(res.cols[1].max_len, 1);
    ck_assert_uint_eq(res.cols[1].max[0], 'c');
    ck_assert_int_eq(res.cols[2].null_count, 1);
    ck_assert_int_eq(res.cols[4].nan_count, 0);
    /* tags: [1, null], null list, [3]: 4 entries, 2 of them null, max 3 */
    ck_assert_int_eq(res.cols[5].value_count, 4);
    ck_assert_int_eq(res.cols[5].null_count, 2);
    memcpy(&i32, res.cols[5].max, 4);
    ck_assert_int_eq(i32, 3);
    parquet_result_free(&res);
    parquet_result_free(&res_clean);
    cdc_buf_free(&out);
    cdc_buf_free(&clean);
}
END_TEST

static int
failing_sink(void *arg, const uint8_t *p, size_t n, cdc_err *err)
{
    (void) arg;
    (void) p;
    (void) n;
    return cdc_err_set(err, CDC_E_IO, "disk full at s3://bucket/data/f.parquet");
}

START_TEST(writer_sink_failure)
{
    parquet_options o = { .sink = failing_sink };
    cdc_err         err;
    parquet_writer *w = parquet_writer_new(small, 1, &o, &err);
    parquet_result  res;

    ck_assert_int_eq(parquet_put_i64(w, 0, 1, &err), 0);
    ck_assert_int_eq(parquet_end_row(w, &err), 0);
    ck_assert_int_eq(parquet_close(w, &res, &err), -1);
    ck_assert_int_eq(err.code, CDC_E_IO);
    ck_assert_str_eq(err.msg, "parquet: writing 4 bytes at offset 0: disk full at "
                              "s3://bucket/data/f.parquet");
    ck_assert_uint_eq(res.ncols, 0);
    parquet_writer_free(w);
}
END_TEST

START_TEST(writer_empty_file)
{
    cdc_buf         out = CDC_BUF_INIT;
    parquet_options o = { .codec = PARQUET_UNCOMPRESSED };
    cdc_err         err;
    parquet_writer *w = open_buf(small, 6, &out, &o, &err);
    parquet_result  res;

    ck_assert_int_eq(parquet_close(w, &res, &err), 0);
    ck_assert_int_eq(parquet_close(w, NULL, &err), -1);
    ck_assert_str_eq(err.msg, "parquet: closed twice");
    parquet_writer_free(w);
    ck_assert(memcmp(out.data, "PAR1", 4) == 0);
    ck_assert_uint_eq(out.len, 4 + le32(out.data + out.len - 8) + 8);
    ck_assert_int_eq(res.row_count, 0);
    ck_assert_uint_eq(res.nrow_groups, 0);
    ck_assert(!res.cols[0].has_bounds);
    parquet_result_free(&res);
    cdc_buf_free(&out);
}
END_TEST

static Suite *
parquet_suite(void)
{
    Suite *s = suite_create("parquet");
    TCase *tc = tcase_create("thrift");

    tcase_add_test(tc, thrift_scalars);
    tcase_add_test(tc, thrift_lists_and_structs);
    tcase_add_test(tc, thrift_page_header);
    tcase_add_test(tc, thrift_zigzag_and_depth);
    suite_add_tcase(s, tc);
    tc = tcase_create("rle");
    tcase_add_test(tc, rle_spec_bitpacking);
    tcase_add_test(tc, rle_runs);
    tcase_add_test(tc, rle_roundtrip_random);
    suite_add_tcase(s, tc);
    tc = tcase_create("writer");
    tcase_add_test(tc, writer_schema_checks);
    tcase_add_test(tc, writer_value_errors);
    tcase_add_test(tc, writer_file_and_result);
    tcase_add_test(tc, writer_row_groups_and_fallback);
    tcase_add_test(tc, writer_abort_row);
    tcase_add_test(tc, writer_sink_failure);
    tcase_add_test(tc, writer_empty_file);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return suite_main(parquet_suite(), false);
}

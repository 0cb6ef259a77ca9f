/*
 * The Iceberg upsert key index (sinks/iceberg/ice_kidx.c) against a trivial reference: an
 * array indexed by key number. Random set/del/get over keys of 0..40 bytes (many keys, so
 * hash tags and probe runs collide), growth, reuse of deleted keys' memory, the memory per
 * key at 1M and 2M keys (printed: docs/iceberg.md's Performance).
 */
#include <check.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sinks/iceberg/ice_table.h"
#include "test/lib/suite_main.h"

static uint64_t rng_state;

static uint64_t
rnd(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Key number id: 1 + id % 40 bytes (id < 10240: unique even at one byte), the first bytes
   id / 40, the rest a function of id; id == KEYS is the empty key. */
#define KEYS 10240

static size_t
make_key(uint32_t id, uint8_t *k)
{
    size_t   n, i;
    uint32_t q = id / 40;
    uint64_t z = id * 0x2545F4914F6CDD1DULL;

    if (id == KEYS)
        return 0;
    n = 1 + id % 40;
    for (i = 0; i < n && i < 4; i++)
        k[i] = (uint8_t) (q >> (8 * i));
    for (; i < n; i++) {
        z ^= z >> 13;
        z *= 0x9E3779B97F4A7C15ULL;
        k[i] = (uint8_t) (i < 12 ? 0xAB : z >> 56);   /* long shared middles */
    }
    return n;
}

typedef struct {
    bool    in;
    int32_t file;
    int64_t pos;
} ref_ent;

START_TEST(model)
{
    static ref_ent ref[KEYS + 1];
    ice_kidx      *x = ice_kidx_new();
    uint8_t        k[64];
    size_t         live = 0;

    memset(ref, 0, sizeof(ref));
    rng_state = 20;
    for (int op = 0; op < 200000; op++) {
        uint32_t id = (uint32_t) (rnd() % (KEYS + 1));
        size_t   n = make_key(id, k);
        uint64_t r = rnd() % 100;
        bool     had;
        int32_t  f = -7, of = -7;
        int64_t  p = -7, op_ = -7;

        if (r < 45) {
            f = (int32_t) (rnd() % 100000) - 1;         /* -1 too: no file yet */
            p = (int64_t) (rnd() % (UINT64_C(1) << 47));
            if (rnd() % 4 == 0)
                p = -(int64_t) (rnd() % 1000) - 1;
            ice_kidx_set(x, k, n, f, p, &had, &of, &op_);
            ck_assert_int_eq(had, ref[id].in);
            if (had) {
                ck_assert_int_eq(of, ref[id].file);
                ck_assert_int_eq(op_, ref[id].pos);
            } else {
                live++;
            }
            ref[id] = (ref_ent) { true, f, p };
        } else if (r < 70) {
            ice_kidx_del(x, k, n, &had, &of, &op_);
            ck_assert_int_eq(had, ref[id].in);
            if (had) {
                ck_assert_int_eq(of, ref[id].file);
                ck_assert_int_eq(op_, ref[id].pos);
                live--;
            }
            ref[id].in = false;
        } else {
            bool got = ice_kidx_get(x, k, n, &f, &p);

            ck_assert_int_eq(got, ref[id].in);
            if (got) {
                ck_assert_int_eq(f, ref[id].file);
                ck_assert_int_eq(p, ref[id].pos);
            }
        }
        ck_assert_uint_eq(ice_kidx_count(x), live);
        if (op % 20000 == 19999)
            for (uint32_t i = 0; i <= KEYS; i++) {
                bool got = ice_kidx_get(x, k, make_key(i, k), &f, &p);

                ck_assert_int_eq(got, ref[i].in);
                if (got) {
                    ck_assert_int_eq(f, ref[i].file);
                    ck_assert_int_eq(p, ref[i].pos);
                }
            }
    }
    ice_kidx_free(x);
}
END_TEST

static size_t
num_key(uint64_t i, uint8_t *k)
{
    memcpy(k, &i, 8);
    return 8;
}

/* 300,000 keys in, every one found; two thirds out, the rest found and the others not;
   back in with new values. */
START_TEST(growth)
{
    ice_kidx *x = ice_kidx_new();
    uint8_t   k[8];
    bool      had;
    int32_t   f, of;
    int64_t   p, op;
    size_t    n = 300000;

    ck_assert(!ice_kidx_get(x, k, num_key(1, k), &f, &p));
    /* the extremes of the packed value: file index 32 bits, position 48 bits signed */
    ice_kidx_set(x, k, num_key(1, k), INT32_MAX, (INT64_C(1) << 47) - 1, &had, &of, &op);
    ice_kidx_set(x, k, num_key(2, k), INT32_MIN, -(INT64_C(1) << 47), &had, &of, &op);
    ck_assert(ice_kidx_get(x, k, num_key(1, k), &f, &p));
    ck_assert(f == INT32_MAX && p == (INT64_C(1) << 47) - 1);
    ck_assert(ice_kidx_get(x, k, num_key(2, k), &f, &p));
    ck_assert(f == INT32_MIN && p == -(INT64_C(1) << 47));
    ice_kidx_del(x, k, num_key(1, k), &had, &of, &op);
    ck_assert(had && of == INT32_MAX);
    ice_kidx_del(x, k, num_key(2, k), &had, &of, &op);
    ck_assert(had && op == -(INT64_C(1) << 47));
    for (uint64_t i = 0; i < n; i++) {
        ice_kidx_set(x, k, num_key(i * 7919, k), (int32_t) (i % 1000), (int64_t) i, &had, &of,
                     &op);
        ck_assert(!had);
    }
    ck_assert_uint_eq(ice_kidx_count(x), n);
    for (uint64_t i = 0; i < n; i++) {
        ck_assert(ice_kidx_get(x, k, num_key(i * 7919, k), &f, &p));
        ck_assert_int_eq(f, (int32_t) (i % 1000));
        ck_assert_int_eq(p, (int64_t) i);
        ck_assert(!ice_kidx_get(x, k, num_key(i * 7919 + 1, k), &f, &p));
    }
    for (uint64_t i = 0; i < n; i++)
        if (i % 3) {
            ice_kidx_del(x, k, num_key(i * 7919, k), &had, &of, &op);
            ck_assert(had && op == (int64_t) i);
        }
    ck_assert_uint_eq(ice_kidx_count(x), n / 3);
    for (uint64_t i = 0; i < n; i++)
        ck_assert_int_eq(ice_kidx_get(x, k, num_key(i * 7919, k), &f, &p), i % 3 == 0);
    for (uint64_t i = 0; i < n; i++) {
        ice_kidx_set(x, k, num_key(i * 7919, k), 5, (int64_t) i + 1, &had, &of, &op);
        ck_assert_int_eq(had, i % 3 == 0);
    }
    for (uint64_t i = 0; i < n; i++) {
        ck_assert(ice_kidx_get(x, k, num_key(i * 7919, k), &f, &p));
        ck_assert(f == 5 && p == (int64_t) i + 1);
    }
    ice_kidx_free(x);
}
END_TEST

/* A million upserts of ever new keys, at most 1,000 alive: the memory stays bounded (the
   arena of deleted keys is compacted, slots are reused). Long keys too. */
START_TEST(reuse)
{
    ice_kidx *x = ice_kidx_new();
    uint8_t   k[300];
    bool      had;
    int32_t   of;
    int64_t   op;
    size_t    peak = 0;

    memset(k, 0x5a, sizeof(k));
    for (uint64_t i = 0; i < 1000000; i++) {
        size_t n = i % 10 == 0 ? 300 : 8;

        memcpy(k, &i, 8);
        ice_kidx_set(x, k, n, 1, (int64_t) i, &had, &of, &op);
        ck_assert(!had);
        if (i >= 1000) {
            uint64_t d = i - 1000;

            memcpy(k, &d, 8);
            ice_kidx_del(x, k, d % 10 == 0 ? 300 : 8, &had, &of, &op);
            ck_assert(had && op == (int64_t) d);
        }
        if (ice_kidx_bytes(x) > peak)
            peak = ice_kidx_bytes(x);
    }
    ck_assert_uint_eq(ice_kidx_count(x), 1000);
    printf("kidx reuse: 1M upserts, 1000 live keys: peak %zu bytes\n", peak);
    ck_assert_uint_lt(peak, 4u << 20);
    ice_kidx_free(x);
}
END_TEST

static size_t
heap_bytes(void)
{
    struct mallinfo2 m = mallinfo2();

    return m.uordblks + m.hblkhd;
}

/* Bytes per 8-byte key at 1M and 2M keys, by the index's own count and by malloc's. */
START_TEST(per_key)
{
    static const size_t counts[] = { 1000000, 2000000 };

    for (size_t c = 0; c < 2; c++) {
        size_t    before = heap_bytes(), mine, heap;
        ice_kidx *x = ice_kidx_new();
        uint8_t   k[8];
        bool      had;
        int32_t   of;
        int64_t   op;

        for (uint64_t i = 0; i < counts[c]; i++)
            ice_kidx_set(x, k, num_key(i * 0x9E3779B97F4A7C15ULL, k), (int32_t) (i >> 10),
                         (int64_t) i, &had, &of, &op);
        mine = ice_kidx_bytes(x);
        heap = heap_bytes() - before;
        printf("kidx per_key: %zu keys of 8 bytes: %zu bytes (%.1f per key), malloc %zu "
               "(%.1f per key)\n", counts[c], mine, (double) mine / (double) counts[c], heap,
               (double) heap / (double) counts[c]);
        ck_assert_uint_le(mine, counts[c] * 40);
        ck_assert_uint_le(heap, counts[c] * 41);
        ice_kidx_free(x);
    }
}
END_TEST

static Suite *
ice_kidx_suite(void)
{
    Suite *su = suite_create("ice_kidx");
    /* One test case each: test/valgrind.sh runs them as separate processes (CK_RUN_CASE),
       the longest binary under memcheck otherwise. */
    TCase *tc = tcase_create("model");

    tcase_add_test(tc, model);
    suite_add_tcase(su, tc);
    tc = tcase_create("growth");
    tcase_add_test(tc, growth);
    suite_add_tcase(su, tc);
    tc = tcase_create("reuse");
    tcase_add_test(tc, reuse);
    suite_add_tcase(su, tc);
    tc = tcase_create("per_key");
    tcase_add_test(tc, per_key);
    suite_add_tcase(su, tc);
    return su;
}

int
main(void)
{
    return suite_main(ice_kidx_suite(), false);
}

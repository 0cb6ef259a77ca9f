/*
 * Suite "kinesis": the pure parts of the Kinesis transport's write path
 * (transports/kinesis/kinesis.c): the partition key Kinesis gets for a
 * serialized key (the text up to 256 characters, counted as code points;
 * the hex SHA-256 of it above; "default" for a null key, as Debezium
 * Server's null.key; an Avro key as base64 of its Avro bytes, or their hash).
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "test/lib/suite_main.h"
#include "transports/kinesis/kinesis.h"

static size_t
pk(const char *key, bool null_key, char *out)
{
    return dest_kinesis_partition_key(key, key ? strlen(key) : 0, null_key, out,
                                      DEST_KINESIS_MAX_PKEY * 4 + 1);
}

START_TEST(short_key_is_the_text)
{
    char out[DEST_KINESIS_MAX_PKEY * 4 + 1];
    const char *k = "{\"schema\":{\"type\":\"struct\"},\"payload\":{\"id\":1}}";

    ck_assert_uint_eq(pk(k, false, out), strlen(k));
    ck_assert_str_eq(out, k);
}
END_TEST

START_TEST(null_or_empty_key_is_default)
{
    char out[DEST_KINESIS_MAX_PKEY * 4 + 1];

    ck_assert_uint_eq(pk(NULL, true, out), 7);
    ck_assert_str_eq(out, "default");
    ck_assert_uint_eq(pk("", false, out), 7);
    ck_assert_str_eq(out, "default");
}
END_TEST

START_TEST(long_key_is_hashed)
{
    char out[DEST_KINESIS_MAX_PKEY * 4 + 1], k[400];

    /* {"id":"aaa...a"} with 300 a: 311 characters; sha256 computed with Python's hashlib */
    memcpy(k, "{\"id\":\"", 7);
    memset(k + 7, 'a', 300);
    memcpy(k + 307, "\"}", 3);
    ck_assert_uint_eq(pk(k, false, out), 64);
    ck_assert_str_eq(out, "fb9167a448f168ab9b3fcfd0313262a330ec033d8ee0e55c630b73635267aa5c");
}
END_TEST

START_TEST(limit_counts_characters_not_bytes)
{
    char out[DEST_KINESIS_MAX_PKEY * 4 + 1], k[600];
    size_t n = 0;

    /* 256 two-byte characters (512 bytes): kept */
    for (int i = 0; i < 256; i++) {
        k[n++] = (char) 0xC3;
        k[n++] = (char) 0xA9;
    }
    k[n] = '\0';
    ck_assert_uint_eq(pk(k, false, out), 512);
    ck_assert_int_eq(memcmp(out, k, 512), 0);
    /* 257 characters: hashed */
    k[n++] = 'x';
    k[n] = '\0';
    ck_assert_uint_eq(pk(k, false, out), 64);
    /* exactly 256 ASCII characters: kept; 257: hashed */
    memset(k, 'k', 256);
    k[256] = '\0';
    ck_assert_uint_eq(pk(k, false, out), 256);
    k[256] = 'k';
    k[257] = '\0';
    ck_assert_uint_eq(pk(k, false, out), 64);
}
END_TEST

START_TEST(avro_key_is_base64_of_the_avro_bytes)
{
    char                out[DEST_KINESIS_MAX_PKEY * 4 + 1];
    const unsigned char k1[] = { 0, 0, 0, 0, 7, 0x02 };           /* id 1 as Avro int */
    const unsigned char k2[] = { 0, 0, 0, 0, 9, 0x02 };           /* same key, new schema id */
    const unsigned char k3[] = { 0, 0, 0, 0, 7, 0x02, 0x06, 'a', 'b', 'c' };
    unsigned char       big[5 + 200];

    ck_assert_uint_eq(dest_kinesis_partition_key_bin(k1, sizeof(k1), out, sizeof(out)), 4);
    ck_assert_str_eq(out, "Ag==");
    dest_kinesis_partition_key_bin(k2, sizeof(k2), out, sizeof(out));
    ck_assert_str_eq(out, "Ag==");
    dest_kinesis_partition_key_bin(k3, sizeof(k3), out, sizeof(out));
    ck_assert_str_eq(out, "AgZhYmM=");
    memset(big, 0, 5);
    memset(big + 5, 'z', 200);      /* 200 bytes: 268 base64 characters, over 256 */
    ck_assert_uint_eq(dest_kinesis_partition_key_bin(big, sizeof(big), out, sizeof(out)), 64);
    ck_assert_uint_eq(dest_kinesis_partition_key_bin(big, 5 + 192, out, sizeof(out)), 256);
}
END_TEST

static Suite *
kinesis_suite(void)
{
    Suite *s = suite_create("kinesis");
    TCase *tc = tcase_create("partition_key");

    tcase_add_test(tc, short_key_is_the_text);
    tcase_add_test(tc, null_or_empty_key_is_default);
    tcase_add_test(tc, long_key_is_hashed);
    tcase_add_test(tc, limit_counts_characters_not_bytes);
    tcase_add_test(tc, avro_key_is_base64_of_the_avro_bytes);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return suite_main(kinesis_suite(), false);
}

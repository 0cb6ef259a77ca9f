/*
 * Suite "colfilter": Debezium's column mappers and column lists
 * (agent/source/colfilter.c).  The expected hashes, masks and truncations
 * were printed by Debezium 2.7.4's own classes (MaskStrings with
 * HashingByteArrayStrategy V1 and V2, TruncateColumn) on OpenJDK 17 with
 * -Dfile.encoding=UTF-8: test/tools/MaskRef.java, compiled against
 * .cache/connect's debezium-core-2.7.4.Final.jar (see its header).  Column
 * length 20 is a varchar(20): the hash is cut to it.
 */
#include <check.h>
#include <regex.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/source/colfilter.h"
#include "schemas/avro.h"
#include "schemas/json.h"
#include "schemas/json_int.h"

/* Generated from the output of test/tools/MaskRef.java run against debezium-core 2.7.4.Final */
static const struct hash_case { const char *alg, *salt; int version; int32_t len; const char *value; size_t n; const char *want; } hash_cases[] = {
    { "SHA-256", "CzQMA0cB5K", 1, 2147483647, "", 0, "7b061bc77caec9afdc6b986ab6c4de894d58006b32ac0f7ea728404a5cf3a9e5" },
    { "SHA-256", "CzQMA0cB5K", 1, 2147483647, "alice@example.com", 17, "7d2ad8f83758f463ec20938c870cf0068a399d3fa46f3a4e6621a68927ead495" },
    { "SHA-256", "CzQMA0cB5K", 1, 2147483647, "Zo\303\253 \342\202\254 \346\227\245\346\234\254", 15, "b76eae59c32f794a2251dce90b98eb1c9c0362d657410910581157da450d30bb" },
    { "SHA-256", "CzQMA0cB5K", 1, 2147483647, "\360\237\230\200 smile", 10, "f3f83c933a7ab9590bf90c02b17d18a4c08b655a4b93568ef1167907190dfb6c" },
    { "SHA-256", "CzQMA0cB5K", 1, 2147483647, "nul\000byte", 8, "16ef8c759b185c0c22968bb8fef42ce3a7d0b2fd28551619fa82a0f9ff341cd4" },
    { "SHA-256", "CzQMA0cB5K", 1, 20, "", 0, "7b061bc77caec9afdc6b" },
    { "SHA-256", "CzQMA0cB5K", 1, 20, "alice@example.com", 17, "7d2ad8f83758f463ec20" },
    { "SHA-256", "CzQMA0cB5K", 1, 20, "Zo\303\253 \342\202\254 \346\227\245\346\234\254", 15, "b76eae59c32f794a2251" },
    { "SHA-256", "CzQMA0cB5K", 1, 20, "\360\237\230\200 smile", 10, "f3f83c933a7ab9590bf9" },
    { "SHA-256", "CzQMA0cB5K", 1, 20, "nul\000byte", 8, "16ef8c759b185c0c2296" },
    { "SHA-256", "CzQMA0cB5K", 2, 2147483647, "", 0, "38bc986eb4a5475fab16ac693f6c1b4c2445600da5c5aec3d04301e48d6d0d68" },
    { "SHA-256", "CzQMA0cB5K", 2, 2147483647, "alice@example.com", 17, "7404d2ed8506279b8038b571358626038ec8d8c769c367caf81eec0c02d58d97" },
    { "SHA-256", "CzQMA0cB5K", 2, 2147483647, "Zo\303\253 \342\202\254 \346\227\245\346\234\254", 15, "d78ee089064ca1d47375981302f0eb67f257f6e8d5e46ccaaef0a4d3633aed34" },
    { "SHA-256", "CzQMA0cB5K", 2, 2147483647, "\360\237\230\200 smile", 10, "6dc3255e49f9b91b8da5a88dc441eed519c9c1ee6ee83cafaf56da50a5e69c6a" },
    { "SHA-256", "CzQMA0cB5K", 2, 2147483647, "nul\000byte", 8, "5f0f24e415a0334da367829c087a9b54089562d6bb26486c3f8d9065f9c0716e" },
    { "SHA-256", "CzQMA0cB5K", 2, 20, "", 0, "38bc986eb4a5475fab16" },
    { "SHA-256", "CzQMA0cB5K", 2, 20, "alice@example.com", 17, "7404d2ed8506279b8038" },
    { "SHA-256", "CzQMA0cB5K", 2, 20, "Zo\303\253 \342\202\254 \346\227\245\346\234\254", 15, "d78ee089064ca1d47375" },
    { "SHA-256", "CzQMA0cB5K", 2, 20, "\360\237\230\200 smile", 10, "6dc3255e49f9b91b8da5" },
    { "SHA-256", "CzQMA0cB5K", 2, 20, "nul\000byte", 8, "5f0f24e415a0334da367" },
    { "MD5", "s", 1, 2147483647, "", 0, "0a7a61c3da1d33f0987e30ae4932b1b3" },
    { "MD5", "s", 1, 2147483647, "alice@example.com", 17, "23e3037f0a9abc791991788b30f666ab" },
    { "MD5", "s", 1, 2147483647, "Zo\303\253 \342\202\254 \346\227\245\346\234\254", 15, "4bdce6f179160b8e3ffe0c8785b09dc5" },
    { "MD5", "s", 1, 2147483647, "\360\237\230\200 smile", 10, "c1ba9db8ad8b895f4e5c51689859660f" },
    { "MD5", "s", 1, 2147483647, "nul\000byte", 8, "930c56f9fd9952337ba1f908bd657d93" },
    { "MD5", "s", 1, 20, "", 0, "0a7a61c3da1d33f0987e" },
    { "MD5", "s", 1, 20, "alice@example.com", 17, "23e3037f0a9abc791991" },
    { "MD5", "s", 1, 20, "Zo\303\253 \342\202\254 \346\227\245\346\234\254", 15, "4bdce6f179160b8e3ffe" },
    { "MD5", "s", 1, 20, "\360\237\230\200 smile", 10, "c1ba9db8ad8b895f4e5c" },
    { "MD5", "s", 1, 20, "nul\000byte", 8, "930c56f9fd9952337ba1" },
    { "MD5", "s", 2, 2147483647, "", 0, "03c7c0ace395d80182db07ae2c30f034" },
    { "MD5", "s", 2, 2147483647, "alice@example.com", 17, "8a3b026ffbb7e210158d1f4b3d02701f" },
    { "MD5", "s", 2, 2147483647, "Zo\303\253 \342\202\254 \346\227\245\346\234\254", 15, "4d128cb0c53117b4ac65164cc9749bd8" },
    { "MD5", "s", 2, 2147483647, "\360\237\230\200 smile", 10, "3d3b2645a68d3e33519d58e5b2c38ecd" },
    { "MD5", "s", 2, 2147483647, "nul\000byte", 8, "858ebec75940e5422de0fa990bcc06d8" },
    { "MD5", "s", 2, 20, "", 0, "03c7c0ace395d80182db" },
    { "MD5", "s", 2, 20, "alice@example.com", 17, "8a3b026ffbb7e210158d" },
    { "MD5", "s", 2, 20, "Zo\303\253 \342\202\254 \346\227\245\346\234\254", 15, "4d128cb0c53117b4ac65" },
    { "MD5", "s", 2, 20, "\360\237\230\200 smile", 10, "3d3b2645a68d3e33519d" },
    { "MD5", "s", 2, 20, "nul\000byte", 8, "858ebec75940e5422de0" },
    { "SHA-512", "", 1, 2147483647, "", 0, "074a94c60d533255dd34e63ec28890551625e262fbf2d9bdf297b87959c9ea82a9c38b8710684d49f851d7dd68b5ab69e94832f422a0b3b8463edb03a469f0b0" },
    { "SHA-512", "", 1, 2147483647, "alice@example.com", 17, "e6da2b350033305b59065961ebe1948ba34a6eeda7a7f81f5b06534ed3de999d9f47dfd77cf7542cfae85b8651bcdd4e771df35f97a2288b6f384dd5d09130ca" },
    { "SHA-512", "", 1, 2147483647, "Zo\303\253 \342\202\254 \346\227\245\346\234\254", 15, "12fdb1d48f20c8269e25d1fc851acc5d324b531d5f78a0d84e7adf44e314ae86598eac6f1bde642fe99106851230185aa90660e157081ac02027caf8c19c7c04" },
    { "SHA-512", "", 1, 2147483647, "\360\237\230\200 smile", 10, "3a607e50c87919cc18390bf2203e582f3561b8556d169d16fd0c39487c75126b8d9916895dc425789af0981eb1fc882d8bfefe7805ad611efcafdafea4778866" },
    { "SHA-512", "", 1, 2147483647, "nul\000byte", 8, "62d6bc3d421f03a57fbbf4d9c7cd97363d545ea74e0d4bd2d2d7814f7f6a0c6b873fed6b342d0ed0186d7e6e9274ecbf98f41eccd19eab00fcc5c44b76ba50ef" },
    { "SHA-512", "", 1, 20, "", 0, "074a94c60d533255dd34" },
    { "SHA-512", "", 1, 20, "alice@example.com", 17, "e6da2b350033305b5906" },
    { "SHA-512", "", 1, 20, "Zo\303\253 \342\202\254 \346\227\245\346\234\254", 15, "12fdb1d48f20c8269e25" },
    { "SHA-512", "", 1, 20, "\360\237\230\200 smile", 10, "3a607e50c87919cc1839" },
    { "SHA-512", "", 1, 20, "nul\000byte", 8, "62d6bc3d421f03a57fbb" },
    { "SHA-512", "", 2, 2147483647, "", 0, "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e" },
    { "SHA-512", "", 2, 2147483647, "alice@example.com", 17, "284475ccd5b97d7c67438ebead74e5e234be891dbc2cea85a3db97b00799e3ec7ce9a5cbd94dcf5f0ea332c5dbfbe3937ec0b020561ac465e18233e93c951941" },
    { "SHA-512", "", 2, 2147483647, "Zo\303\253 \342\202\254 \346\227\245\346\234\254", 15, "a7198d6cdc57258f0372b94dd2b2c2ae197356a749f908f28a8c4eed01d904d9105cdc442dceb0b6e3007ad07d39ae9926290606b70f567c0cd6b5eebf09c120" },
    { "SHA-512", "", 2, 2147483647, "\360\237\230\200 smile", 10, "b7bb48f0aaa50b256e73aca4bee89f47dfdd3770ca667b354b1b31e6f7fa69fc1ff54b3f44ac5fbbae7fbd5fe232abbdcef48948c7d8ed1f8fa5287fd227edb3" },
    { "SHA-512", "", 2, 2147483647, "nul\000byte", 8, "41810855d177dbdb042ab4bfd5cfae3df1fed58b38db3ca257ea1c63cc8059768cbce5c1167f3e0fc1d30d785ebd2a2eef0dcb05e02d884be69de784168e8c9d" },
    { "SHA-512", "", 2, 20, "", 0, "cf83e1357eefb8bdf154" },
    { "SHA-512", "", 2, 20, "alice@example.com", 17, "284475ccd5b97d7c6743" },
    { "SHA-512", "", 2, 20, "Zo\303\253 \342\202\254 \346\227\245\346\234\254", 15, "a7198d6cdc57258f0372" },
    { "SHA-512", "", 2, 20, "\360\237\230\200 smile", 10, "b7bb48f0aaa50b256e73" },
    { "SHA-512", "", 2, 20, "nul\000byte", 8, "41810855d177dbdb042a" },
    { "SHA-1", "salt\303\251", 1, 2147483647, "", 0, "de402513e080cbdf4eec02ede1dbc212b278ff38" },
    { "SHA-1", "salt\303\251", 1, 2147483647, "alice@example.com", 17, "465f2e29de1be24f89db0f1b4c75a22e30805995" },
    { "SHA-1", "salt\303\251", 1, 2147483647, "Zo\303\253 \342\202\254 \346\227\245\346\234\254", 15, "4d11cbc5503ce3f12e09dca79cd76fc2aabdff5c" },
    { "SHA-1", "salt\303\251", 1, 2147483647, "\360\237\230\200 smile", 10, "fcfcb4cce5f52b8788f0234a2bc150bba58a9da3" },
    { "SHA-1", "salt\303\251", 1, 2147483647, "nul\000byte", 8, "f176b66b918c588ea0cb50ad5e4e50fe3c402d71" },
    { "SHA-1", "salt\303\251", 1, 20, "", 0, "de402513e080cbdf4eec" },
    { "SHA-1", "salt\303\251", 1, 20, "alice@example.com", 17, "465f2e29de1be24f89db" },
    { "SHA-1", "salt\303\251", 1, 20, "Zo\303\253 \342\202\254 \346\227\245\346\234\254", 15, "4d11cbc5503ce3f12e09" },
    { "SHA-1", "salt\303\251", 1, 20, "\360\237\230\200 smile", 10, "fcfcb4cce5f52b8788f0" },
    { "SHA-1", "salt\303\251", 1, 20, "nul\000byte", 8, "f176b66b918c588ea0cb" },
    { "SHA-1", "salt\303\251", 2, 2147483647, "", 0, "70779b0a2ee9c094565879d55c96e7b5bef83ca1" },
    { "SHA-1", "salt\303\251", 2, 2147483647, "alice@example.com", 17, "7424cd526c8c3235c0d44a6c958ed446b878fe61" },
    { "SHA-1", "salt\303\251", 2, 2147483647, "Zo\303\253 \342\202\254 \346\227\245\346\234\254", 15, "f6698891c76f80d266ddf810177b1a8ce6fcea40" },
    { "SHA-1", "salt\303\251", 2, 2147483647, "\360\237\230\200 smile", 10, "e122a864deff512f8c8f47eeb58af9a7499d2029" },
    { "SHA-1", "salt\303\251", 2, 2147483647, "nul\000byte", 8, "dc8ab24f5bd43951b69690b00aaf496b9ff57af3" },
    { "SHA-1", "salt\303\251", 2, 20, "", 0, "70779b0a2ee9c0945658" },
    { "SHA-1", "salt\303\251", 2, 20, "alice@example.com", 17, "7424cd526c8c3235c0d4" },
    { "SHA-1", "salt\303\251", 2, 20, "Zo\303\253 \342\202\254 \346\227\245\346\234\254", 15, "f6698891c76f80d266dd" },
    { "SHA-1", "salt\303\251", 2, 20, "\360\237\230\200 smile", 10, "e122a864deff512f8c8f" },
    { "SHA-1", "salt\303\251", 2, 20, "nul\000byte", 8, "dc8ab24f5bd43951b696" },
};
static const struct trunc_case { const char *value; size_t n; const char *want; size_t wn; } trunc_cases[] = {
    { "", 0, "", 0 },
    { "alice@example.com", 17, "ali", 3 },
    { "Zo\303\253 \342\202\254 \346\227\245\346\234\254", 15, "Zo\303\253", 4 },
    { "\360\237\230\200 smile", 10, "\360\237\230\200 ", 5 },
    { "nul\000byte", 8, "nul", 3 },
};

/* 70,000 letters a..z: Java writes TC_LONGSTRING (0x7c, 8-byte length) beyond 65535 bytes */
static const char big_hash_v1[] =
    "09d6979b7c1f796662a4d80df0302e97d21c0465f63d1845e730f99693b0e98e";

START_TEST(hashes_match_debezium)
{
    for (size_t i = 0; i < sizeof(hash_cases) / sizeof(hash_cases[0]); i++) {
        const struct hash_case *c = &hash_cases[i];
        char                    out[129];
        int                     n = agent_hash_mask(c->alg, c->version, c->salt, c->value, c->n,
                                                    c->len, out);

        ck_assert_msg(n == (int) strlen(c->want) && strcmp(out, c->want) == 0,
                      "case %zu (%s v%d len %d): got %s, Debezium %s", i, c->alg, c->version,
                      c->len, n > 0 ? out : "(error)", c->want);
    }
}
END_TEST

START_TEST(hash_of_long_string_uses_tc_longstring)
{
    size_t n = 70000;
    char  *v = malloc(n), out[129];

    for (size_t i = 0; i < n; i++)
        v[i] = (char) ('a' + i % 26);
    ck_assert_int_eq(agent_hash_mask("SHA-256", 1, "k", v, n, 2147483647, out), 64);
    ck_assert_str_eq(out, big_hash_v1);
    free(v);
}
END_TEST

START_TEST(unknown_algorithm_is_refused)
{
    char out[129];

    ck_assert_int_eq(agent_hash_mask("SHA-999", 2, "s", "x", 1, 0, out), -1);
    ck_assert_int_eq(agent_hash_mask("sha-256", 2, "s", "x", 1, 0, out), 64);  /* Java: any case */
}
END_TEST

START_TEST(truncation_counts_utf16_units)
{
    for (size_t i = 0; i < sizeof(trunc_cases) / sizeof(trunc_cases[0]); i++) {
        const struct trunc_case *c = &trunc_cases[i];

        ck_assert_uint_eq(agent_utf16_prefix(c->value, c->n, 3), c->wn);
        ck_assert(memcmp(c->value, c->want, c->wn) == 0);
    }
    /* never half a surrogate pair: Debezium would keep a lone high surrogate here */
    ck_assert_uint_eq(agent_utf16_prefix("\360\237\230\200x", 5, 1), 0);
    ck_assert_uint_eq(agent_utf16_len("\360\237\230\200x\303\251", 7), 4);
}
END_TEST

START_TEST(lists_match_whole_names_case_insensitively)
{
    ck_assert(agent_colfilter_list_matches("public.customers.email", "public", "customers",
                                           "email"));
    ck_assert(agent_colfilter_list_matches("PUBLIC.Customers.EMAIL", "public", "customers",
                                           "email"));
    ck_assert(!agent_colfilter_list_matches("public.customers.email", "public", "customers",
                                            "email2"));     /* matches(), not find() */
    ck_assert(!agent_colfilter_list_matches("customers.email", "public", "customers", "email"));
    ck_assert(agent_colfilter_list_matches(" x.y.z , public\\..*\\.ssn", "public", "t", "ssn"));
    ck_assert(agent_colfilter_list_matches("public.t.c\\d", "public", "t", "c7"));
    ck_assert(!agent_colfilter_list_matches("public.t.c\\d", "public", "t", "cx"));
    /* "\," is a comma inside one regex, not a separator */
    ck_assert(agent_colfilter_list_matches("public.t.(a|b)\\,?", "public", "t", "a,"));
    ck_assert(agent_colfilter_list_matches("public.t.a{1\\,2}", "public", "t", "aa"));
}
END_TEST

/* A signal's data-collections entry: one regex (commas are not separators), the whole name,
   case-sensitive as Pattern.compile(x) (incr_collections.c). */
static bool
java_matches(const char *pattern, const char *name)
{
    regex_t re;
    cdc_err err = { 0 };
    bool    m;

    ck_assert_int_eq(agent_java_regex(&re, pattern, "data-collections", &err), 0);
    m = regexec(&re, name, 0, NULL, 0) == 0;
    regfree(&re);
    return m;
}

START_TEST(one_java_regex_matches_whole_names_case_sensitively)
{
    regex_t re;
    cdc_err err = { 0 };

    ck_assert(java_matches("public\\.orders_\\d", "public.orders_1"));
    ck_assert(!java_matches("public\\.orders_\\d", "public.orders_x"));
    ck_assert(!java_matches("public\\.orders_\\d", "public.orders_12"));   /* whole name */
    ck_assert(!java_matches("public\\.orders_\\d", "xpublic.orders_1"));
    ck_assert(!java_matches("PUBLIC\\.orders_1", "public.orders_1"));       /* case */
    ck_assert(java_matches("public.items", "public_items"));                /* . is any */
    ck_assert(java_matches("public\\.t{1,2}", "public.tt"));                /* no splitting */
    ck_assert(java_matches("a|public\\.b", "public.b"));                    /* ^(...)$ */
    ck_assert_int_eq(agent_java_regex(&re, "public.(bad", "data-collections", &err), -1);
    ck_assert_int_eq(err.code, CDC_E_CONFIG);
    ck_assert_ptr_nonnull(strstr(err.msg, "data-collections: the regular expression "
                                          "\"public.(bad\" is invalid"));
}
END_TEST

static cfg_kv    kvs[4];
static cfg_source src;

static void
set_masks(int n, ...)
{
    va_list ap;

    memset(&src, 0, sizeof(src));
    va_start(ap, n);
    for (int i = 0; i < n; i++) {
        kvs[i].key = va_arg(ap, char *);
        kvs[i].value = va_arg(ap, char *);
    }
    va_end(ap);
    src.column_masks.items = kvs;
    src.column_masks.n = n;
}

START_TEST(settings_are_checked_without_the_salt)
{
    cdc_err err = { 0 };

    set_masks(1, "column.mask.hash.SHA-999.with.salt.S3cretSalt", "public.t.c");
    ck_assert_int_eq(agent_colfilter_check(&src, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "SHA-999"));
    ck_assert_ptr_null(strstr(err.msg, "S3cretSalt"));
    set_masks(1, "column.mask.with.x.chars", "public.t.c");
    ck_assert_int_eq(agent_colfilter_check(&src, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "column.mask.with.x.chars"));
    set_masks(1, "column.mask.hash.v2.SHA-256.with.salt.S3cretSalt", "public.t.(");
    ck_assert_int_eq(agent_colfilter_check(&src, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "public.t.("));
    ck_assert_ptr_null(strstr(err.msg, "S3cretSalt"));
    set_masks(3, "column.truncate.to.3.chars", "public.t.a", "column.mask.with.4.chars",
              "public.t.b", "column.mask.hash.v2.MD5.with.salt.x.y", "public.t.c");
    ck_assert_int_eq(agent_colfilter_check(&src, &err), 0);
    src.column_include_list = "public.t.a";
    src.column_exclude_list = "public.t.b";
    ck_assert_int_eq(agent_colfilter_check(&src, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "column_include_list"));
}
END_TEST

static cdc_col cols[5];
static cdc_rel rel = { .nspname = "public", .relname = "t", .ncols = 5, .cols = cols };

static void
set_cols(void)
{
    static const char *const names[] = { "id", "a", "b", "c", "d" };

    memset(cols, 0, sizeof(cols));
    for (int i = 0; i < 5; i++) {
        cols[i].name = (char *) names[i];
        cols[i].type_oid = 25;      /* text */
        cols[i].typmod = -1;
        cols[i].ctype.supported = true;
        cols[i].ctype.kind = CDC_CT_STRING;
    }
    cols[0].type_oid = 23;
    cols[0].ctype.kind = CDC_CT_INT32;
    cols[0].key_pos = 1;
    rel.nkeys = 1;
}

START_TEST(rows_are_mapped_first_rule_first)
{
    cdc_err          err = { 0 };
    agent_colfilter *f;
    cdc_arena       *a = cdc_arena_new(4096);
    cdc_value        v[5] = {
        { .state = CDC_VAL_PRESENT, .u.i = 1 },
        { .state = CDC_VAL_PRESENT, .u.s = { "alice@example.com", 17, 0 } },
        { .state = CDC_VAL_NULL },
        { .state = CDC_VAL_PRESENT, .u.s = { "alice@example.com", 17, 0 } },
        { .state = CDC_VAL_UNCHANGED },
    };

    set_cols();
    /* d is listed by both: the truncation (registered first by Debezium) wins */
    set_masks(3, "column.mask.hash.SHA-256.with.salt.CzQMA0cB5K", "public.t.c",
              "column.mask.with.5.chars", "public.t.b,public.t.d",
              "column.truncate.to.3.chars", "public.t.a,public.t.d");
    src.column_exclude_list = "";
    f = agent_colfilter_new(&src, &err);
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(agent_colfilter_apply_rel(f, &rel, "bytes", &err), 0);
    ck_assert_int_eq(cols[1].ctype.mapped, CDC_MAP_TRUNCATED);
    ck_assert_int_eq(cols[1].ctype.trunc_len, 3);
    ck_assert_int_eq(cols[2].ctype.mapped, CDC_MAP_MASKED);
    ck_assert_int_eq(cols[3].ctype.mapped, CDC_MAP_MASKED);
    ck_assert_int_eq(cols[4].ctype.mapped, CDC_MAP_TRUNCATED);
    agent_colfilter_map_row(f, &rel, v, "__debezium_unavailable_value", a);
    ck_assert_int_eq(v[0].u.i, 1);
    ck_assert(v[1].u.s.n == 3 && memcmp(v[1].u.s.p, "ali", 3) == 0);
    ck_assert(v[2].state == CDC_VAL_PRESENT && v[2].u.s.n == 5 &&
              memcmp(v[2].u.s.p, "*****", 5) == 0);       /* Debezium masks NULL too */
    ck_assert(v[3].u.s.n == 64 && memcmp(v[3].u.s.p, "7d2ad8f83758f463ec20938c870cf006"
                                         "8a399d3fa46f3a4e6621a68927ead495", 64) == 0);
    ck_assert(v[4].state == CDC_VAL_PRESENT && v[4].u.s.n == 3 &&
              memcmp(v[4].u.s.p, "__d", 3) == 0);          /* the placeholder, truncated */
    agent_colfilter_free(f);
    cdc_arena_free(a);
}
END_TEST

START_TEST(key_columns_are_never_masked_or_filtered)
{
    cdc_err          err = { 0 };
    agent_colfilter *f;

    set_cols();
    set_masks(1, "column.mask.with.5.chars", "public.t.id");
    f = agent_colfilter_new(&src, &err);
    ck_assert_int_eq(agent_colfilter_apply_rel(f, &rel, "bytes", &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "column id of table public.t"));
    ck_assert_ptr_nonnull(strstr(err.msg, "column.mask.with.5.chars"));
    agent_colfilter_free(f);
    set_cols();
    set_masks(0);
    src.column_exclude_list = "public\\.t\\.(id|b)";
    f = agent_colfilter_new(&src, &err);
    ck_assert_int_eq(agent_colfilter_apply_rel(f, &rel, "bytes", &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "column id of table public.t"));
    agent_colfilter_free(f);
    set_cols();
    src.column_exclude_list = "public\\.t\\.b";
    f = agent_colfilter_new(&src, &err);
    ck_assert_int_eq(agent_colfilter_apply_rel(f, &rel, "bytes", &err), 0);
    ck_assert(cols[2].filtered && !cols[2].ctype.supported);
    ck_assert(!cols[1].filtered && cols[1].ctype.supported);
    agent_colfilter_free(f);
    set_cols();
    src.column_exclude_list = "";
    src.column_include_list = "public.t.id,public.t.a";
    f = agent_colfilter_new(&src, &err);
    ck_assert_int_eq(agent_colfilter_apply_rel(f, &rel, "bytes", &err), 0);
    ck_assert(!cols[0].filtered && !cols[1].filtered && cols[2].filtered && cols[3].filtered);
    agent_colfilter_free(f);
}
END_TEST

/* The mappers' schema parameters and the adjusted names in JsonConverter's schema. */
START_TEST(json_schema_carries_mapper_parameters_and_adjusted_names)
{
    cdc_err          err = { 0 };
    agent_colfilter *f;
    sch_json_opts    o;
    cdc_buf          b = CDC_BUF_INIT;

    set_cols();
    set_masks(2, "column.mask.with.5.chars", "public.t.b", "column.truncate.to.3.chars",
              "public.t.a");
    src.column_include_list = "";
    src.column_exclude_list = "public.t.d";
    f = agent_colfilter_new(&src, &err);
    ck_assert_int_eq(agent_colfilter_apply_rel(f, &rel, "bytes", &err), 0);
    sch_json_opts_default(&o);
    o.name_mode = SCH_AVRO_NAMES_AVRO;
    sch_json_schema_envelope(&b, &rel, "my-srv.public.t", &o);
    ck_assert_ptr_nonnull(strstr(cdc_buf_str(&b), "\"name\":\"my_srv.public.t.Envelope\""));
    ck_assert_ptr_nonnull(strstr(cdc_buf_str(&b), "\"name\":\"my_srv.public.t.Value\""));
    ck_assert_msg(strstr(cdc_buf_str(&b), "{\"type\":\"string\",\"optional\":true,"
                         "\"parameters\":{\"truncateLength\":\"3\"},\"field\":\"a\"}") != NULL,
                  "%s", cdc_buf_str(&b));
    ck_assert_ptr_nonnull(strstr(cdc_buf_str(&b), "{\"type\":\"string\",\"optional\":true,"
                                 "\"parameters\":{\"masked\":\"true\"},\"field\":\"b\"}"));
    ck_assert_ptr_null(strstr(cdc_buf_str(&b), "\"field\":\"d\""));
    cdc_buf_free(&b);
    {   /* Avro: AvroData puts Connect's parameters in connect.parameters */
        sch_avro_opts ao;
        char         *v;

        sch_avro_opts_default(&ao);
        ao.name_mode = SCH_AVRO_NAMES_AVRO;
        rel.topic = "my-srv.public.t";
        v = sch_avro_value_schema_json(&rel, &ao);
        ck_assert_ptr_nonnull(v);
        ck_assert_msg(strstr(v, "{\"type\":\"string\",\"connect.parameters\":"
                                "{\"truncateLength\":\"3\"}}") != NULL, "%s", v);
        ck_assert_ptr_nonnull(strstr(v, "{\"type\":\"string\",\"connect.parameters\":"
                                        "{\"masked\":\"true\"}}"));
        ck_assert_ptr_null(strstr(v, "\"name\":\"d\""));
        ck_assert_ptr_nonnull(strstr(v, "my_srv.public.t"));
        free(v);
        rel.topic = NULL;
    }
    agent_colfilter_free(f);
}
END_TEST

/* column.propagate.source.type / datatype.propagate.source.type: the parameters Debezium
   2.7.4 printed for these columns (test 832), in JSON and in Avro's connect.parameters;
   a character mask registered before them wins, a hash registered after them loses; the
   key's field has none. */
START_TEST(source_type_parameters_as_debezium_prints_them)
{
    cdc_err          err = { 0 };
    agent_colfilter *f;
    sch_json_opts    o;
    cdc_buf          b = CDC_BUF_INIT;
    const char      *j;

    set_cols();
    cols[0].typname = "int4";
    cols[1].typname = "varchar";
    cols[1].type_oid = 1043;
    cols[1].typmod = 24;            /* varchar(20) */
    cols[2].typname = "text";
    cols[3].typname = "timestamp";
    cols[3].type_oid = 1114;
    cols[3].typmod = 3;
    cols[4].typname = "text";
    set_masks(2, "column.mask.with.5.chars", "public.t.b",
              "column.mask.hash.SHA-256.with.salt.S", "public.t.d");
    src.column_include_list = "";
    src.column_exclude_list = "";
    src.column_propagate_source_type = "public\\.t\\.(id|a|b|d)";
    src.datatype_propagate_source_type = ".+\\.TIMESTAMP";
    f = agent_colfilter_new(&src, &err);
    ck_assert_msg(f != NULL, "%s", err.msg);
    ck_assert_int_eq(agent_colfilter_apply_rel(f, &rel, "bytes", &err), 0);
    ck_assert_int_eq(cols[2].ctype.mapped, CDC_MAP_MASKED);
    ck_assert_int_eq(cols[4].ctype.mapped, CDC_MAP_SOURCE_TYPE);
    ck_assert_int_eq(cols[4].mapper, 0);        /* the hash does not apply */
    ck_assert(!agent_colfilter_maps(&rel) || cols[2].mapper > 0);
    sch_json_opts_default(&o);
    sch_json_schema_envelope(&b, &rel, "srv.public.t", &o);
    j = cdc_buf_str(&b);
    ck_assert_msg(strstr(j, "{\"type\":\"int32\",\"optional\":true,\"parameters\":{"
                  "\"__debezium.source.column.type\":\"INT4\",\"__debezium.source.column.length\""
                  ":\"10\",\"__debezium.source.column.scale\":\"0\",\"__debezium.source.column."
                  "name\":\"id\"},\"field\":\"id\"}") != NULL, "%s", j);
    ck_assert_msg(strstr(j, "\"parameters\":{\"__debezium.source.column.type\":\"VARCHAR\","
                  "\"__debezium.source.column.length\":\"20\",\"__debezium.source.column.scale"
                  "\":\"0\",\"__debezium.source.column.name\":\"a\"}") != NULL, "%s", j);
    ck_assert_msg(strstr(j, "\"parameters\":{\"__debezium.source.column.type\":\"TIMESTAMP\","
                  "\"__debezium.source.column.length\":\"26\",\"__debezium.source.column.scale"
                  "\":\"3\",\"__debezium.source.column.name\":\"c\"}") != NULL, "%s", j);
    ck_assert_msg(strstr(j, "\"parameters\":{\"__debezium.source.column.type\":\"TEXT\","
                  "\"__debezium.source.column.length\":\"2147483647\",\"__debezium.source."
                  "column.scale\":\"0\",\"__debezium.source.column.name\":\"d\"}") != NULL,
                  "%s", j);
    ck_assert_ptr_nonnull(strstr(j, "\"parameters\":{\"masked\":\"true\"},\"field\":\"b\""));
    cdc_buf_free(&b);
    b = (cdc_buf) CDC_BUF_INIT;
    sch_json_schema_key(&b, &rel, "srv.public.t", &o);
    ck_assert_msg(strstr(cdc_buf_str(&b), "__debezium") == NULL, "%s", cdc_buf_str(&b));
    cdc_buf_free(&b);
    {
        sch_avro_opts ao;
        char         *v;

        sch_avro_opts_default(&ao);
        rel.topic = "srv.public.t";
        v = sch_avro_value_schema_json(&rel, &ao);
        ck_assert_ptr_nonnull(v);
        ck_assert_msg(strstr(v, "{\"type\":\"int\",\"connect.parameters\":{"
                      "\"__debezium.source.column.type\":\"INT4\",\"__debezium.source.column."
                      "length\":\"10\",\"__debezium.source.column.scale\":\"0\",\"__debezium."
                      "source.column.name\":\"id\"}") != NULL, "%s", v);
        free(v);
        v = sch_avro_key_schema_json(&rel, &ao);
        ck_assert_ptr_nonnull(v);
        ck_assert_msg(strstr(v, "__debezium") == NULL, "%s", v);
        free(v);
        rel.topic = NULL;
    }
    ck_assert_int_eq(agent_colfilter_unmatched(f, "public.t", &err), 0);
    ck_assert(!rel.renew);
    /* the snapshot's relation (from the catalog): JDBC's serial, and renewed by the stream */
    rel.from_catalog = true;
    cols[0].default_expr = "nextval('t_id_seq'::regclass)";
    ck_assert_int_eq(agent_colfilter_apply_rel(f, &rel, "bytes", &err), 0);
    ck_assert_str_eq(cols[0].ctype.src_type, "serial");
    ck_assert(rel.renew);
    rel.from_catalog = rel.renew = false;
    cols[0].default_expr = NULL;
    agent_colfilter_free(f);
    src.datatype_propagate_source_type = ".+\\.int8";
    f = agent_colfilter_new(&src, &err);
    set_cols();
    ck_assert_int_eq(agent_colfilter_apply_rel(f, &rel, "bytes", &err), 0);
    ck_assert_int_eq(agent_colfilter_unmatched(f, "public.t", &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "source.datatype_propagate_source_type: \".+\\.int8\""));
    agent_colfilter_free(f);
    src.column_propagate_source_type = NULL;
    src.datatype_propagate_source_type = NULL;
}
END_TEST

static Suite *
colfilter_suite(void)
{
    Suite *s = suite_create("colfilter");
    TCase *t = tcase_create("colfilter");

    tcase_add_test(t, hashes_match_debezium);
    tcase_add_test(t, hash_of_long_string_uses_tc_longstring);
    tcase_add_test(t, unknown_algorithm_is_refused);
    tcase_add_test(t, truncation_counts_utf16_units);
    tcase_add_test(t, lists_match_whole_names_case_insensitively);
    tcase_add_test(t, one_java_regex_matches_whole_names_case_sensitively);
    tcase_add_test(t, settings_are_checked_without_the_salt);
    tcase_add_test(t, rows_are_mapped_first_rule_first);
    tcase_add_test(t, key_columns_are_never_masked_or_filtered);
    tcase_add_test(t, json_schema_carries_mapper_parameters_and_adjusted_names);
    tcase_add_test(t, source_type_parameters_as_debezium_prints_them);
    suite_add_tcase(s, t);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(colfilter_suite());
    int      failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/*
 * Unit tests for decoder/relcache.c: lookups, the keep-or-replace rule of
 * pgo_rel_install, per-entry memory, growth, and iteration.  Suite
 * "relcache"; TCases: basics, replace (table-driven), memory.
 */
#include "decoder/relcache.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pgo_relcache *rc;

static void
setup(void)
{
    rc = pgo_relcache_new();
    ck_assert_ptr_nonnull(rc);
}

static void
teardown(void)
{
    pgo_relcache_free(rc);
    rc = NULL;
}

/* Two columns as a Relation message for public.orders would describe them. */
static void
base_cols(cdc_col cols[2], char name0[8], char name1[8])
{
    memset(cols, 0, 2 * sizeof(cdc_col));
    strcpy(name0, "id");
    strcpy(name1, "total");
    cols[0] = (cdc_col) { .name = name0, .type_oid = 23, .typmod = -1, .replident = true };
    cols[1] = (cdc_col) { .name = name1, .type_oid = 1700, .typmod = 655366 };
}

static cdc_rel *
install_base(uint32_t relid, bool *changed)
{
    cdc_col cols[2];
    char    n0[8], n1[8];

    base_cols(cols, n0, n1);
    return pgo_rel_install(rc, relid, "public", "orders", 'd', 2, cols, changed);
}

/* --- basics -------------------------------------------------------------- */

START_TEST(lookup_empty)
{
    ck_assert_ptr_null(pgo_rel_lookup(rc, 16384));
    ck_assert_ptr_null(pgo_rel_lookup(rc, 0));
}
END_TEST

START_TEST(install_copies)
{
    cdc_col  cols[2];
    char     n0[8], n1[8], nsp[] = "public", rel[] = "orders";
    bool     changed = false;
    cdc_rel *r;

    base_cols(cols, n0, n1);
    r = pgo_rel_install(rc, 16384, nsp, rel, 'd', 2, cols, &changed);
    ck_assert(changed);
    /* The caller's buffers may go away: the entry holds its own copies. */
    strcpy(n0, "XX");
    strcpy(nsp, "zzzzzz");
    cols[1].type_oid = 1;
    ck_assert_ptr_eq(pgo_rel_lookup(rc, 16384), r);
    ck_assert_uint_eq(r->relid, 16384);
    ck_assert_str_eq(r->nspname, "public");
    ck_assert_str_eq(r->relname, "orders");
    ck_assert_int_eq(r->replident, 'd');
    ck_assert_uint_eq(r->version, 1);
    ck_assert_int_eq(r->ncols, 2);
    ck_assert_str_eq(r->cols[0].name, "id");
    ck_assert(r->cols[0].replident);
    ck_assert_uint_eq(r->cols[1].type_oid, 1700);
    ck_assert_int_eq(r->cols[1].typmod, 655366);
    ck_assert(!r->cols[1].catalog_known);
}
END_TEST

/* The JSON encoder's "are the column names UTF-8" is known from the install on. */
START_TEST(install_checks_names_utf8)
{
    cdc_col  cols[2];
    char     n0[8], n1[8];
    cdc_rel *r;

    base_cols(cols, n0, n1);
    r = pgo_rel_install(rc, 16384, "public", "orders", 'd', 2, cols, NULL);
    ck_assert_uint_eq(r->names_utf8, 1);
    strcpy(n1, "caf\xe9");  /* SQL_ASCII: a byte that is not UTF-8 */
    r = pgo_rel_install(rc, 16384, "public", "orders", 'd', 2, cols, NULL);
    ck_assert_uint_eq(r->version, 2);
    ck_assert_uint_eq(r->names_utf8, 2);
}
END_TEST

/* Identical description: same entry, enrichment kept, changed false. */
START_TEST(identical_keeps_entry)
{
    bool     changed = true;
    cdc_rel *r = install_base(16384, NULL);
    cdc_rel *again;

    r->topic = pgo_rel_strdup(r, "cdc.public.orders");
    r->cols[0].catalog_known = true;
    r->cols[0].key_pos = 1;
    r->nkeys = 1;
    again = install_base(16384, &changed);
    ck_assert(!changed);
    ck_assert_ptr_eq(again, r);
    ck_assert_uint_eq(again->version, 1);
    ck_assert_str_eq(again->topic, "cdc.public.orders");
    ck_assert(again->cols[0].catalog_known);
    ck_assert_int_eq(again->nkeys, 1);
}
END_TEST

START_TEST(many_relations_grow)
{
    enum { N = 5000 };

    for (uint32_t i = 0; i < N; i++)
        install_base(16384 + i * 7, NULL);
    for (uint32_t i = 0; i < N; i++) {
        cdc_rel *r = pgo_rel_lookup(rc, 16384 + i * 7);

        ck_assert_ptr_nonnull(r);
        ck_assert_uint_eq(r->relid, 16384 + i * 7);
    }
    ck_assert_ptr_null(pgo_rel_lookup(rc, 16385));
}
END_TEST

START_TEST(extreme_relids)
{
    cdc_rel *a = install_base(0, NULL);
    cdc_rel *b = install_base(UINT32_MAX, NULL);

    ck_assert_ptr_ne(a, b);
    ck_assert_ptr_eq(pgo_rel_lookup(rc, 0), a);
    ck_assert_ptr_eq(pgo_rel_lookup(rc, UINT32_MAX), b);
}
END_TEST

START_TEST(zero_columns)
{
    bool     changed = false;
    cdc_rel *r = pgo_rel_install(rc, 20000, "s", "empty", 'n', 0, NULL, &changed);

    ck_assert(changed);
    ck_assert_int_eq(r->ncols, 0);
    ck_assert_ptr_eq(pgo_rel_install(rc, 20000, "s", "empty", 'n', 0, NULL, &changed), r);
    ck_assert(!changed);
}
END_TEST

static void
count_rel(cdc_rel *rel, void *arg)
{
    uint64_t *sum = arg;

    sum[0]++;
    sum[1] += rel->relid;
}

START_TEST(foreach_visits_each_once)
{
    uint64_t sum[2] = { 0, 0 };
    uint64_t want = 0;

    for (uint32_t i = 1; i <= 100; i++) {
        install_base(i * 1000, NULL);
        want += i * 1000;
    }
    install_base(5000, NULL);   /* re-install: still one entry */
    pgo_relcache_foreach(rc, count_rel, sum);
    ck_assert_uint_eq(sum[0], 100);
    ck_assert_uint_eq(sum[1], want);
}
END_TEST

/* --- replace: each kind of difference gives a new version ---------------- */

/* One row per field pgo_rel_install compares. */
static const char *const mutations[] = {
    "column name", "type oid", "typmod", "column replident flag",
    "replica identity", "namespace", "relation name", "column count",
};

/* Changes exactly the field mutations[which] names. */
static void
mutate(int which, cdc_col *cols, const char **nsp, const char **rel, char *ri, int *ncols)
{
    switch (which) {
    case 0: cols[1].name = (char *) "amount"; break;
    case 1: cols[1].type_oid = 701; break;
    case 2: cols[1].typmod = 786438; break;
    case 3: cols[1].replident = true; break;
    case 4: *ri = 'f'; break;
    case 5: *nsp = "sales"; break;
    case 6: *rel = "orders_v2"; break;
    case 7: *ncols = 1; break;
    default: ck_abort_msg("no mutation %d", which);
    }
}

START_TEST(difference_replaces)
{
    cdc_col     cols[2];
    char        n0[8], n1[8], ri = 'd';
    const char *nsp = "public", *rel = "orders";
    int         n = 2;
    bool        changed = false;
    cdc_rel    *r;

    install_base(16384, NULL);
    install_base(16384, NULL);   /* identical: still version 1 */
    base_cols(cols, n0, n1);
    mutate(_i, cols, &nsp, &rel, &ri, &n);
    r = pgo_rel_install(rc, 16384, nsp, rel, ri, n, cols, &changed);
    if (!changed)
        ck_abort_msg("a different %s was not a change", mutations[_i]);
    ck_assert_uint_eq(r->version, 2);
    ck_assert_ptr_eq(pgo_rel_lookup(rc, 16384), r);
    ck_assert_str_eq(r->nspname, nsp);
    ck_assert_str_eq(r->relname, rel);
    ck_assert_int_eq(r->ncols, n);
    /* The new entry starts without enrichment. */
    ck_assert_ptr_null(r->topic);
    /* And going back is a change too. */
    r = install_base(16384, &changed);
    ck_assert(changed);
    ck_assert_uint_eq(r->version, 3);
}
END_TEST

/* --- memory -------------------------------------------------------------- */

/* Run under ASan: the old entry's allocations go with it, the new one's stay valid. */
START_TEST(entry_memory_follows_entry)
{
    cdc_rel *r = install_base(16384, NULL);
    char    *big = pgo_rel_alloc(r, 1 << 16);
    cdc_col  cols[2];
    char     n0[8], n1[8];
    bool     changed;

    memset(big, 0xab, 1 << 16);
    for (int i = 0; i < 100; i++)
        r->cols[i % 2].type_name = pgo_rel_strdup(r, "numeric(10,2)");
    ck_assert_ptr_null(pgo_rel_strdup(r, NULL));
    ck_assert_ptr_nonnull(pgo_rel_alloc(r, 0));
    base_cols(cols, n0, n1);
    cols[1].type_oid = 20;
    r = pgo_rel_install(rc, 16384, "public", "orders", 'd', 2, cols, &changed);
    ck_assert(changed);
    r->cols[1].default_expr = pgo_rel_strdup(r, "0");
    ck_assert_str_eq(r->cols[1].default_expr, "0");
    ck_assert_ptr_null(r->cols[1].type_name);
}
END_TEST

START_TEST(free_null_is_noop)
{
    pgo_relcache_free(NULL);
}
END_TEST

static Suite *
relcache_suite(void)
{
    Suite *s = suite_create("relcache");
    TCase *tc;

    tc = tcase_create("basics");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, lookup_empty);
    tcase_add_test(tc, install_copies);
    tcase_add_test(tc, install_checks_names_utf8);
    tcase_add_test(tc, identical_keeps_entry);
    tcase_add_test(tc, many_relations_grow);
    tcase_add_test(tc, extreme_relids);
    tcase_add_test(tc, zero_columns);
    tcase_add_test(tc, foreach_visits_each_once);
    suite_add_tcase(s, tc);

    tc = tcase_create("replace");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, difference_replaces, 0,
                        (int) (sizeof(mutations) / sizeof(mutations[0])));
    suite_add_tcase(s, tc);

    tc = tcase_create("memory");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, entry_memory_follows_entry);
    tcase_add_test(tc, free_null_is_noop);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(relcache_suite());
    int      nfailed;

    srunner_run_all(sr, CK_NORMAL);
    nfailed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return nfailed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

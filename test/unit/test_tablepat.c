/*
 * Tables by pattern (agent/source/tablepat.c): Debezium 2.7's table.include.list /
 * table.exclude.list / schema.include.list / schema.exclude.list semantics
 * (Predicates.includes/excludes: Pattern.CASE_INSENSITIVE, matcher.matches() on
 * "schema.table" or the schema; TableSelectionPredicateBuilder: schema AND table), and the
 * spelling of the chosen tables as source.tables writes them.  The catalog side (which
 * tables exist, partitions, the publication) is test 835's, against psql.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "agent/source/tablepat.h"

static cfg_source
src_with(const char *ti, const char *te, const char *si, const char *se)
{
    cfg_source s;

    memset(&s, 0, sizeof(s));
    s.table_include_list = (char *) ti;
    s.table_exclude_list = (char *) te;
    s.schema_include_list = (char *) si;
    s.schema_exclude_list = (char *) se;
    return s;
}

START_TEST(table_include_is_whole_and_case_insensitive)
{
    cfg_source s = src_with("public\\.cust.* ,  sales\\.orders", NULL, NULL, NULL);

    ck_assert(cfg_source_by_pattern(&s));
    ck_assert(agent_tablepat_matches(&s, "public", "customers"));
    ck_assert(agent_tablepat_matches(&s, "PUBLIC", "Customers_EU"));
    ck_assert(agent_tablepat_matches(&s, "sales", "orders"));
    ck_assert(!agent_tablepat_matches(&s, "public", "xcustomers"));     /* matched whole */
    ck_assert(!agent_tablepat_matches(&s, "sales", "orders2"));
    ck_assert(!agent_tablepat_matches(&s, "archive", "customers"));
    /* '.' unescaped is any character, as in Java */
    s = src_with("public.orders", NULL, NULL, NULL);
    ck_assert(agent_tablepat_matches(&s, "public", "orders"));
    ck_assert(!agent_tablepat_matches(&s, "public", "order"));
}
END_TEST

START_TEST(schema_and_table_lists_combine)
{
    cfg_source s = src_with(NULL, "sales\\.items", "sales|archive", NULL);

    ck_assert(agent_tablepat_matches(&s, "sales", "orders"));
    ck_assert(agent_tablepat_matches(&s, "Archive", "old"));
    ck_assert(!agent_tablepat_matches(&s, "sales", "items"));
    ck_assert(!agent_tablepat_matches(&s, "public", "orders"));
    s = src_with(NULL, NULL, NULL, "public, sales");
    ck_assert(agent_tablepat_matches(&s, "archive", "x"));
    ck_assert(!agent_tablepat_matches(&s, "public", "x"));
    ck_assert(!agent_tablepat_matches(&s, "SALES", "x"));
    s = src_with("sales\\.o.*", NULL, NULL, "sales");         /* schema AND table */
    ck_assert(!agent_tablepat_matches(&s, "sales", "orders"));
    s = src_with(NULL, NULL, NULL, NULL);
    ck_assert(!cfg_source_by_pattern(&s));
}
END_TEST

START_TEST(invalid_regex_names_the_key)
{
    cfg_source s = src_with(NULL, NULL, "ok", NULL);
    cdc_err    err = { 0 };

    ck_assert_int_eq(agent_tablepat_check(&s, &err), 0);
    s = src_with(NULL, "public\\.(", NULL, NULL);
    ck_assert_int_eq(agent_tablepat_check(&s, &err), -1);
    ck_assert_msg(strstr(err.msg, "source.table_exclude_list: the regular expression "
                                  "\"public\\.(\" is invalid") != NULL, "%s", err.msg);
}
END_TEST

START_TEST(chosen_tables_are_spelt_as_source_tables_reads_them)
{
    const char *cases[][3] = {
        { "public", "customers", "public.customers" },
        { "Mixed", "Odd.Name", "Mixed.\"Odd.Name\"" },
        { "a\"b", "t", "\"a\"\"b\".t" },
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *s = agent_tablepat_spell(cases[i][0], cases[i][1]);
        char  schema[CFG_NAME_MAX + 1], table[CFG_NAME_MAX + 1];

        ck_assert_str_eq(s, cases[i][2]);
        ck_assert_ptr_null(cfg_table_split(s, schema, table));     /* and back */
        ck_assert_str_eq(schema, cases[i][0]);
        ck_assert_str_eq(table, cases[i][1]);
        free(s);
    }
}
END_TEST

int
main(void)
{
    Suite   *s = suite_create("tablepat");
    TCase   *t = tcase_create("tablepat");
    SRunner *sr;
    int      failed;

    tcase_add_test(t, table_include_is_whole_and_case_insensitive);
    tcase_add_test(t, schema_and_table_lists_combine);
    tcase_add_test(t, invalid_regex_names_the_key);
    tcase_add_test(t, chosen_tables_are_spelt_as_source_tables_reads_them);
    suite_add_tcase(s, t);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

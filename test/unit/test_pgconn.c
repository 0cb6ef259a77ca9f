/*
 * Suite "pgconn": the identifier quoters of agent/core/net/pgconn.c (no
 * server needed): quotes doubled, dots, case and non-ASCII kept, schema
 * optional, output cut to fit; and the configured name split then quoted.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "agent/core/net/pgconn.h"
#include "agent/source/pg_source.h"
#include "test/lib/suite_main.h"

static const struct {
    const char *in, *out;
} idents[] = {
    { "public", "\"public\"" },
    { "MyTable", "\"MyTable\"" },
    { "a.b", "\"a.b\"" },
    { "a\"b", "\"a\"\"b\"" },
    { "\"", "\"\"\"\"" },
    { "", "\"\"" },
    { "Café", "\"Café\"" },
    { "my table", "\"my table\"" },
};

START_TEST(quote_ident)
{
    char out[64];

    ck_assert_str_eq(agent_pg_quote_ident(NULL, idents[_i].in, out, sizeof(out)),
                     idents[_i].out);
}
END_TEST

static const struct {
    const char *schema, *table, *out;
} tables[] = {
    { "public", "orders", "\"public\".\"orders\"" },
    { "Sales", "Order\"Lines", "\"Sales\".\"Order\"\"Lines\"" },
    { "my.schema", "t.x", "\"my.schema\".\"t.x\"" },
    { NULL, "cdc_events", "\"cdc_events\"" },
    { "", "T", "\"T\"" },
};

START_TEST(quote_table)
{
    char out[128];

    ck_assert_str_eq(agent_pg_quote_table(tables[_i].schema, tables[_i].table, out, sizeof(out)),
                     tables[_i].out);
}
END_TEST

START_TEST(quote_cuts_to_fit)
{
    char out[6];

    ck_assert_str_eq(agent_pg_quote_ident(NULL, "abcdefgh", out, sizeof(out)), "\"abc\"");
    agent_pg_quote_table("abc", "def", out, sizeof(out));
    ck_assert_uint_le(strlen(out), 5);
    /* never half a doubled quote, and the closing quote stays */
    ck_assert_str_eq(agent_pg_quote_ident(NULL, "a\"\"\"\"", out, sizeof(out)), "\"a\"\"\"");
    ck_assert_str_eq(agent_pg_quote_ident(NULL, "x", out, 2), "");
}
END_TEST

/* The config's rules split, core/net quotes: the two together, as callers use them. */
static const struct {
    const char *spelled, *out;
} configured[] = {
    { "public.orders", "\"public\".\"orders\"" },
    { "public.\"my.table\"", "\"public\".\"my.table\"" },
    { "\"a\"\"b\".t", "\"a\"\"b\".\"t\"" },
    { "Sales.Orders", "\"Sales\".\"Orders\"" },
};

START_TEST(split_then_quote)
{
    char    schema[64], table[64], out[300];
    cdc_err err = { 0 };

    ck_assert_int_eq(agent_pg_split_table(configured[_i].spelled, schema, table, &err), 0);
    ck_assert_str_eq(agent_pg_quote_table(schema, table, out, sizeof(out)), configured[_i].out);
}
END_TEST

static Suite *
pgconn_suite(void)
{
    Suite   *s = suite_create("pgconn");
    TCase   *tc = tcase_create("quote");

    tcase_add_loop_test(tc, quote_ident, 0, (int) (sizeof(idents) / sizeof(idents[0])));
    tcase_add_loop_test(tc, quote_table, 0, (int) (sizeof(tables) / sizeof(tables[0])));
    tcase_add_test(tc, quote_cuts_to_fit);
    tcase_add_loop_test(tc, split_then_quote, 0,
                        (int) (sizeof(configured) / sizeof(configured[0])));
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return suite_main(pgconn_suite(), false);
}

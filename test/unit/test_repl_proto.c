/*
 * Suite "repl_proto": what the agent asks pgoutput for on each server
 * version (agent/source/repl.c, repl_proto_for; docs/postgresql-versions.md),
 * at each boundary: the option names and values are PostgreSQL's (pgoutput.c's
 * parse_output_parameters: proto_version, streaming on/parallel, messages, origin).
 */
#include <check.h>
#include <string.h>

#include "agent/source/repl.h"
#include "test/lib/suite_main.h"

static const struct {
    int         server;
    int         version;
    const char *streaming;
    bool        messages, origin_any;
} cases[] = {
    { 120000, 1, NULL, false, false },
    { 130022, 1, NULL, false, false },
    { 139999, 1, NULL, false, false },
    { 140000, 2, "on", true, false },
    { 150014, 2, "on", true, false },
    { 160000, 4, "parallel", true, true },
    { 170010, 4, "parallel", true, true },
    { 180004, 4, "parallel", true, true },
};

START_TEST(proto_for_version)
{
    repl_proto p = repl_proto_for(cases[_i].server);

    ck_assert_int_eq(p.version, cases[_i].version);
    if (cases[_i].streaming == NULL)
        ck_assert_ptr_null(p.streaming);
    else
        ck_assert_str_eq(p.streaming, cases[_i].streaming);
    ck_assert(p.messages == cases[_i].messages);
    ck_assert(p.origin_any == cases[_i].origin_any);
}
END_TEST

static Suite *
repl_proto_suite(void)
{
    Suite *s = suite_create("repl_proto");
    TCase *tc = tcase_create("versions");

    tcase_add_loop_test(tc, proto_for_version, 0, (int) (sizeof(cases) / sizeof(cases[0])));
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return suite_main(repl_proto_suite(), false);
}

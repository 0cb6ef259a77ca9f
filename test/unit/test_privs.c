/*
 * Unit tests for agent/ops/privs.c: the refuse-root rule of the container image,
 * as a table of (effective uid, CDCAGENT_REFUSE_ROOT value) -> refused or
 * not, and the wording an operator sees.
 */
#include <check.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/core/cdc_log.h"
#include "agent/ops/privs.h"

static const struct {
    uid_t       euid;
    const char *env;        /* NULL: unset */
    bool        refused;
} cases[] = {
    { 0, "1", true },
    { 0, NULL, false },     /* outside the image */
    { 0, "", false },
    { 0, "0", false },
    { 0, "yes", false },    /* only "1" turns it on */
    { 0, "11", false },
    { 10001, "1", false },  /* the image's own user */
    { 1, "1", false },
    { 65534, NULL, false },
};

START_TEST(rule_table)
{
    cdc_err err = { 0 };
    int     rc = agent_privs_check_root(cases[_i].euid, cases[_i].env, &err);

    ck_assert_msg((rc < 0) == cases[_i].refused, "euid %u env %s: rc %d",
                  (unsigned) cases[_i].euid, cases[_i].env ? cases[_i].env : "(unset)", rc);
    if (cases[_i].refused) {
        ck_assert_int_eq(err.code, CDC_E_CONFIG);
    } else {
        ck_assert_int_eq(err.code, CDC_OK);
        ck_assert_str_eq(err.msg, "");
    }
}
END_TEST

START_TEST(message_says_what_to_do)
{
    cdc_err err = { 0 };

    ck_assert_int_eq(agent_privs_check_root(0, "1", &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "refusing to run as root inside the container image"));
    ck_assert_ptr_nonnull(strstr(err.msg, "uid 10001"));
    ck_assert_ptr_nonnull(strstr(err.msg, "unset CDCAGENT_REFUSE_ROOT"));
}
END_TEST

/* The process-level wrapper reads the real environment. */
START_TEST(wrapper_reads_environment)
{
    cdc_err err = { 0 };
    int     want = geteuid() == 0 ? -1 : 0;

    ck_assert_int_eq(setenv(AGENT_PRIVS_REFUSE_ROOT_ENV, "1", 1), 0);
    ck_assert_int_eq(agent_privs_refuse_root(&err), want);
    ck_assert_int_eq(unsetenv(AGENT_PRIVS_REFUSE_ROOT_ENV), 0);
    ck_assert_int_eq(agent_privs_refuse_root(&err), 0);
}
END_TEST

static Suite *
privs_suite(void)
{
    Suite *s = suite_create("privs");
    TCase *tc = tcase_create("refuse_root");

    tcase_add_loop_test(tc, rule_table, 0, (int) (sizeof(cases) / sizeof(cases[0])));
    tcase_add_test(tc, message_says_what_to_do);
    tcase_add_test(tc, wrapper_reads_environment);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(privs_suite());
    int      nfailed;

    cdc_log_set_level(CDC_LOG_OFF);
    srunner_run_all(sr, CK_ENV);
    nfailed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return nfailed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

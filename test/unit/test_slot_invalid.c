/*
 * Suite "slot_invalid": an invalidated slot is named with its cause
 * (agent/source/slot_warn.c; docs/ha.md "A slot invalidated on the standby").
 * The refusals are the servers' own texts: the DETAIL lines below are in the
 * pinned 16.14, 17.10 and 18.4 `postgres` binaries (test/lib/pgver.sh), as
 * libpq's PQresultErrorMessage shows them; the reasons are 17's
 * pg_replication_slots.invalidation_reason values.  The start's refusal
 * (agent_snapshot_plan) carries the same cause.
 */
#include <check.h>
#include <string.h>

#include "agent/config/config.h"
#include "agent/core/cdc_err.h"
#include "agent/pipeline/snapshot.h"
#include "agent/source/slot_warn.h"
#include "test/lib/suite_main.h"

static const struct {
    const char *msg, *reason;
} refusals[] = {
    /* 16 and 17: a recovery conflict on a standby (rows_removed, wal_level_insufficient) */
    { "ERROR:  can no longer get changes from replication slot \"cdc_slot\" DETAIL:  This slot "
      "has been invalidated because it was conflicting with recovery.", "conflicting" },
    /* 16 and 17: max_slot_wal_keep_size */
    { "ERROR:  can no longer get changes from replication slot \"cdc_slot\" DETAIL:  This slot "
      "has been invalidated because it exceeded the maximum reserved size.", "wal_removed" },
    /* 18: the reason by name */
    { "ERROR:  can no longer get changes from replication slot \"cdc_slot\" DETAIL:  This "
      "replication slot has been invalidated due to \"rows_removed\".", "rows_removed" },
    { "ERROR:  can no longer get changes from replication slot \"cdc_slot\" DETAIL:  This "
      "replication slot has been invalidated due to \"wal_level_insufficient\".",
      "wal_level_insufficient" },
    /* 16-18: the standby ends the stream of a slot it invalidates (SQLSTATE 40001) */
    { "ERROR:  canceling statement due to conflict with recovery DETAIL:  User was using a "
      "logical replication slot that must be invalidated. ", "conflicting" },
    /* a 55000 that says nothing of the cause, an unterminated quote, no message */
    { "ERROR:  cannot read from logical replication slot \"cdc_slot\"", "" },
    { "ERROR:  invalidated due to \"rows_rem", "" },
    { NULL, "" },
};

START_TEST(reason_from_error)
{
    char out[40] = "junk";

    agent_slot_invalid_reason_from_error(refusals[_i].msg, out, sizeof(out));
    ck_assert_str_eq(out, refusals[_i].reason);
}
END_TEST

START_TEST(reason_too_long_for_buffer)
{
    char out[8] = "junk";

    agent_slot_invalid_reason_from_error("invalidated due to \"wal_level_insufficient\".", out,
                                         sizeof(out));
    ck_assert_str_eq(out, "");
}
END_TEST

static const struct {
    const char *reason, *has, *also;
} causes[] = {
    { NULL, "wal_status lost: it fell behind max_slot_wal_keep_size", "" },
    { "", "wal_status lost: it fell behind max_slot_wal_keep_size", "" },
    { "wal_removed", "invalidation_reason wal_removed: it fell behind max_slot_wal_keep_size", "" },
    { "rows_removed", "invalidation_reason rows_removed: a recovery conflict on the standby",
      "hot_standby_feedback off" },
    { "wal_level_insufficient", "invalidation_reason wal_level_insufficient: a recovery conflict "
      "on the standby", "wal_level went below logical" },
    { "idle_timeout", "invalidation_reason idle_timeout: inactive longer than "
      "idle_replication_slot_timeout", "" },
    { "conflicting", "conflicting with recovery: a recovery conflict on the standby",
      "docs/ha.md" },
    { "some_future_reason", "invalidation_reason some_future_reason", "" },
};

START_TEST(cause_names_reason)
{
    char buf[400];

    ck_assert_ptr_eq(agent_slot_invalid_cause(causes[_i].reason, buf, sizeof(buf)), buf);
    ck_assert_msg(strstr(buf, causes[_i].has) != NULL, "%s: %s", causes[_i].has, buf);
    ck_assert_msg(strstr(buf, causes[_i].also) != NULL, "%s: %s", causes[_i].also, buf);
}
END_TEST

START_TEST(start_refusal_names_cause)
{
    cfg_source       src = { .slot_name = "cdc_slot", .snapshot_mode = CFG_SNAPSHOT_INITIAL };
    agent_slot_facts f = { .exists = true, .lost = true, .invalid_reason = "wal_level_insufficient" };
    agent_slot_plan  plan = AGENT_SLOT_STREAM;
    cdc_err          err = { 0 };

    ck_assert_int_lt(agent_snapshot_plan(&src, &f, &plan, &err), 0);
    ck_assert_int_eq(err.code, CDC_E_STATE);
    ck_assert_msg(strstr(err.msg, "slot cdc_slot was invalidated by PostgreSQL (invalidation_reason "
                         "wal_level_insufficient: a recovery conflict on the standby") != NULL, "%s", err.msg);
    ck_assert_msg(strstr(err.msg, "snapshot_mode when_needed") != NULL, "%s", err.msg);

    /* 15 and older: wal_status lost only, the text 430 checks */
    f.invalid_reason = NULL;
    ck_assert_int_lt(agent_snapshot_plan(&src, &f, &plan, &err), 0);
    ck_assert_msg(strstr(err.msg, "(wal_status lost: it fell behind max_slot_wal_keep_size)") != NULL,
                  "%s", err.msg);
}
END_TEST

static Suite *
slot_invalid_suite(void)
{
    Suite *s = suite_create("slot_invalid");
    TCase *tc = tcase_create("cause");

    tcase_add_loop_test(tc, reason_from_error, 0, (int) (sizeof(refusals) / sizeof(refusals[0])));
    tcase_add_test(tc, reason_too_long_for_buffer);
    tcase_add_loop_test(tc, cause_names_reason, 0, (int) (sizeof(causes) / sizeof(causes[0])));
    tcase_add_test(tc, start_refusal_names_cause);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return suite_main(slot_invalid_suite(), false);
}

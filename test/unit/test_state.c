/*
 * Unit tests for agent/pipeline/state.c (the slot's record) and for the rule that
 * reads it, agent_snapshot_unproven() in agent/pipeline/snapshot.c: what is written is
 * read back; a record of another server or slot, or a damaged one, is refused
 * with its path; and a snapshot counts as delivered only on proof.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/pipeline/snapshot.h"
#include "agent/pipeline/state.h"

static char dir[] = "/tmp/cdc-state-XXXXXX";

static void
setup(void)
{
    strcpy(dir, "/tmp/cdc-state-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void
teardown(void)
{
    char cmd[100];

    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}

START_TEST(missing_file_is_no_record)
{
    agent_state st;
    cdc_err     err = { 0 };

    ck_assert_int_eq(agent_state_load(&st, dir, "123", "s1", &err), 0);
    ck_assert(!st.loaded);
    ck_assert(strstr(st.path, "/cdcagent-123-s1.state") != NULL);
}
END_TEST

START_TEST(round_trip)
{
    agent_state       st, back;
    agent_state_dest *d;
    cdc_err           err = { 0 };

    ck_assert_int_eq(agent_state_load(&st, dir, "7716", "slot_a", &err), 0);
    st.snapshot = AGENT_SNAP_PENDING;
    st.cp = 0x1ABA930;
    d = agent_state_dest_get(&st, "my sink", "jsonl", true);
    d->held = (cdc_pos) { 0x1ABA92F, CDC_SEQ_SNAPSHOT_LAST };
    d = agent_state_dest_get(&st, "mirror", "postgres", true);
    d->held = (cdc_pos) { 0x2000000, CDC_SEQ_END };
    ck_assert_int_eq(agent_state_save(&st, &err), 0);
    ck_assert_int_eq(agent_state_load(&back, dir, "7716", "slot_a", &err), 0);
    ck_assert(back.loaded);
    ck_assert_int_eq(back.snapshot, AGENT_SNAP_PENDING);
    ck_assert_uint_eq(back.cp, 0x1ABA930);
    ck_assert_int_eq(back.ndests, 2);
    d = agent_state_dest_get(&back, "my sink", "jsonl", false);
    ck_assert_ptr_nonnull(d);
    ck_assert_uint_eq(d->held.lsn, 0x1ABA92F);
    ck_assert_uint_eq(d->held.seq, CDC_SEQ_SNAPSHOT_LAST);
    d = agent_state_dest_get(&back, "mirror", "postgres", false);
    ck_assert_uint_eq(d->held.seq, CDC_SEQ_END);
    ck_assert_ptr_null(agent_state_dest_get(&back, "mirror", "jsonl", false));
}
END_TEST

/* The incremental snapshot's line (agent/pipeline/incr.c) comes back as written, longer
   than the other lines' buffer was. */
START_TEST(incr_line_round_trip)
{
    static agent_state st, back;
    cdc_err            err = { 0 };
    size_t             n;

    ck_assert_int_eq(agent_state_load(&st, dir, "7716", "slot_b", &err), 0);
    n = (size_t) snprintf(st.incr, sizeof(st.incr), "{\"id\":\"snap-1\",\"from\":[\"");
    memset(st.incr + n, 'k', 3000);
    snprintf(st.incr + n + 3000, sizeof(st.incr) - n - 3000, "\"]}");
    ck_assert_int_eq(agent_state_save(&st, &err), 0);
    ck_assert_int_eq(agent_state_load(&back, dir, "7716", "slot_b", &err), 0);
    ck_assert_str_eq(back.incr, st.incr);
    /* none: no line, and an empty field back */
    st.incr[0] = '\0';
    ck_assert_int_eq(agent_state_save(&st, &err), 0);
    ck_assert_int_eq(agent_state_load(&back, dir, "7716", "slot_b", &err), 0);
    ck_assert_str_eq(back.incr, "");
}
END_TEST

static void
write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

START_TEST(foreign_or_damaged_refused)
{
    agent_state st;
    cdc_err     err = { 0 };
    char        path[200];

    snprintf(path, sizeof(path), "%s/cdcagent-1-s.state", dir);
    write_file(path, "version 1\nsystem 2\nslot s\nsnapshot delivered 0/10\n");
    ck_assert_int_eq(agent_state_load(&st, dir, "1", "s", &err), -1);
    ck_assert_int_eq(err.code, CDC_E_STATE);
    ck_assert_msg(strstr(err.msg, "belongs to system 2") && strstr(err.msg, path), "%s", err.msg);
    write_file(path, "version 1\nsystem 1\nslot s\nsnapshot deliv");
    ck_assert_int_eq(agent_state_load(&st, dir, "1", "s", &err), -1);
    ck_assert_msg(strstr(err.msg, "cut off") && strstr(err.msg, "delete it"), "%s", err.msg);
    write_file(path, "version 1\nsystem 1\nslot s\nsnapshot maybe 0/10\n");
    ck_assert_int_eq(agent_state_load(&st, dir, "1", "s", &err), -1);
    ck_assert_msg(strstr(err.msg, "line 4"), "%s", err.msg);
}
END_TEST

START_TEST(unwritable_dir_named)
{
    agent_state st;
    cdc_err     err = { 0 };

    ck_assert_int_eq(agent_state_load(&st, "/nonexistent/dir", "1", "s", &err), 0);
    ck_assert_int_eq(agent_state_save(&st, &err), -1);
    ck_assert_msg(strstr(err.msg, "/nonexistent/dir/cdcagent-1-s.state") &&
                  strstr(err.msg, "agent.state_dir"), "%s", err.msg);
}
END_TEST

/* The rule, case by case: NULL means "proven, stream on". */
START_TEST(snapshot_proof)
{
    cfg_source  src;
    agent_state st;
    char        buf[600];

    memset(&src, 0, sizeof(src));
    memset(&st, 0, sizeof(st));
    src.snapshot_mode = CFG_SNAPSHOT_INITIAL;
    snprintf(st.path, sizeof(st.path), "/x/cdcagent-1-s.state");
    /* no record: destinations that all remember vouch; else only when_needed retakes it,
       every other mode keeps the slot (upgrade, lost state_dir) */
    ck_assert_ptr_null(agent_snapshot_unproven(&src, &st, 100, true, false, buf, sizeof(buf)));
    ck_assert_ptr_null(agent_snapshot_unproven(&src, &st, 100, false, false, buf, sizeof(buf)));
    src.snapshot_mode = CFG_SNAPSHOT_INITIAL_ONLY;
    ck_assert_ptr_null(agent_snapshot_unproven(&src, &st, 100, false, false, buf, sizeof(buf)));
    src.snapshot_mode = CFG_SNAPSHOT_WHEN_NEEDED;
    ck_assert_ptr_null(agent_snapshot_unproven(&src, &st, 100, true, false, buf, sizeof(buf)));
    ck_assert_ptr_nonnull(agent_snapshot_unproven(&src, &st, 100, false, false, buf, sizeof(buf)));
    ck_assert(strstr(buf, "no record") && strstr(buf, "/x/cdcagent-1-s.state"));
    src.snapshot_mode = CFG_SNAPSHOT_INITIAL;
    /* pending at cp 100 */
    st.loaded = true;
    st.snapshot = AGENT_SNAP_PENDING;
    st.cp = 100;
    ck_assert_ptr_nonnull(agent_snapshot_unproven(&src, &st, 100, false, false, buf, sizeof(buf)));
    ck_assert_ptr_null(agent_snapshot_unproven(&src, &st, 101, false, false, buf, sizeof(buf)));
    ck_assert_ptr_null(agent_snapshot_unproven(&src, &st, 100, true, true, buf, sizeof(buf)));
    ck_assert_ptr_nonnull(agent_snapshot_unproven(&src, &st, 100, false, true, buf, sizeof(buf)));
    /* pending, cp never recorded (a crash between the record and the slot) */
    st.cp = 0;
    ck_assert_ptr_nonnull(agent_snapshot_unproven(&src, &st, 500, true, true, buf, sizeof(buf)));
    /* delivered, none, or no snapshot wanted */
    st.snapshot = AGENT_SNAP_DELIVERED;
    ck_assert_ptr_null(agent_snapshot_unproven(&src, &st, 0, false, false, buf, sizeof(buf)));
    st.snapshot = AGENT_SNAP_NONE;
    ck_assert_ptr_null(agent_snapshot_unproven(&src, &st, 0, false, false, buf, sizeof(buf)));
    st.snapshot = AGENT_SNAP_PENDING;
    src.snapshot_mode = CFG_SNAPSHOT_NEVER;
    ck_assert_ptr_null(agent_snapshot_unproven(&src, &st, 0, false, false, buf, sizeof(buf)));
}
END_TEST

/* A directory whose record path would not fit is refused, naming it, not cut to another file. */
START_TEST(long_dir_refused)
{
    agent_state st;
    cdc_err     err = { 0 };
    char        longdir[1100];

    memset(longdir, 'd', sizeof(longdir) - 1);
    longdir[0] = '/';
    longdir[sizeof(longdir) - 1] = '\0';
    ck_assert_int_eq(agent_state_load(&st, longdir, "123", "s1", &err), -1);
    ck_assert_int_eq(err.code, CDC_E_CONFIG);
    ck_assert_msg(strstr(err.msg, "agent.state_dir") && strstr(err.msg, "shorter directory"),
                  "%s", err.msg);
}
END_TEST

static bool
keep_not_gone(void *arg, const char *id, const char *kind)
{
    (void) arg;
    (void) kind;
    return strcmp(id, "gone") != 0;
}

/* Entries of destinations no longer configured are dropped before a save. */
START_TEST(retain_prunes)
{
    agent_state st;
    cdc_err     err = { 0 };

    ck_assert_int_eq(agent_state_load(&st, dir, "1", "s", &err), 0);
    agent_state_dest_get(&st, "a", "jsonl", true);
    agent_state_dest_get(&st, "gone", "webhook", true);
    agent_state_dest_get(&st, "b", "postgres", true)->held = (cdc_pos) { 5, 6 };
    agent_state_retain(&st, keep_not_gone, NULL);
    ck_assert_int_eq(st.ndests, 2);
    ck_assert_str_eq(st.dests[0].id, "a");
    ck_assert_str_eq(st.dests[1].id, "b");
    ck_assert_uint_eq(st.dests[1].held.seq, 6);
    ck_assert_ptr_null(agent_state_dest_get(&st, "gone", "webhook", false));
}
END_TEST

static Suite *
state_suite(void)
{
    Suite *s = suite_create("state");
    TCase *tc = tcase_create("record");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, missing_file_is_no_record);
    tcase_add_test(tc, round_trip);
    tcase_add_test(tc, incr_line_round_trip);
    tcase_add_test(tc, foreign_or_damaged_refused);
    tcase_add_test(tc, unwritable_dir_named);
    tcase_add_test(tc, snapshot_proof);
    tcase_add_test(tc, long_dir_refused);
    tcase_add_test(tc, retain_prunes);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(state_suite());
    int      nfailed;

    srunner_run_all(sr, CK_ENV);
    nfailed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return nfailed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

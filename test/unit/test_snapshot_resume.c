/*
 * Unit tests for agent/pipeline/snapshot_resume.c without PostgreSQL: the initial
 * snapshot's durable progress in the slot's record (a chunk counts once every destination
 * acknowledged its last row, in order, with the row held back for the "last" marker), and
 * the tables added to source.tables queued as an incremental snapshot.
 */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/pipeline/snapshot_resume.h"
#include "agent/pipeline/watermark.h"
#include "test/lib/suite_main.h"

static char dir[] = "/tmp/cdc-snapres-XXXXXX";

static void
setup(void)
{
    strcpy(dir, "/tmp/cdc-snapres-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void
teardown(void)
{
    char cmd[100];

    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* The snap line of the record as the file holds it (read back from disk). */
static json_t *
saved_snap(void)
{
    agent_state st;
    cdc_err     err = { 0 };

    ck_assert_int_eq(agent_state_load(&st, dir, "7", "s1", &err), 0);
    ck_assert(st.loaded);
    return json_loads(st.snap, 0, NULL);
}

static agent_state *
new_state(void)
{
    agent_state *st = calloc(1, sizeof(*st));
    cdc_err      err = { 0 };

    ck_assert_int_eq(agent_state_load(st, dir, "7", "s1", &err), 0);
    return st;
}

START_TEST(chunk_durable_only_when_every_destination_has_its_last_row)
{
    char        *tables[] = { "public.a", "public.b" };
    cfg_source   src = { .tables = tables, .ntables = 2 };
    agent_state *st = new_state();
    agent_router router = { .ndests = 2 };
    snap_resume *r;
    cdc_err      err = { 0 };
    json_t      *o;

    router.wm = agent_wm_new(2, 16);
    st->cp = 1000;
    r = snap_resume_new(st, &router, &src, 1000);
    o = saved_snap();
    ck_assert_int_eq(json_integer_value(json_object_get(o, "cp")), 1000);
    ck_assert_int_eq(json_array_size(json_object_get(o, "tables")), 2);
    ck_assert_int_eq(json_array_size(json_object_get(o, "done")), 0);
    json_decref(o);

    snap_resume_table(r, "public.a");
    snap_resume_emitted(r, (cdc_pos) { 999, 0 });
    snap_resume_emitted(r, (cdc_pos) { 999, 1 });
    /* the chunk ends with its last row (seq 2) held back: its position is not known yet */
    snap_resume_chunk(r, "(\"k\") > ('3'::integer)", true);
    agent_wm_dest_progress(router.wm, 0, (cdc_pos) { 999, 9 });
    agent_wm_dest_progress(router.wm, 1, (cdc_pos) { 999, 9 });
    ck_assert_int_eq(snap_resume_poll(r, &err), 0);
    o = saved_snap();
    ck_assert_ptr_null(json_object_get(o, "rest"));
    json_decref(o);

    snap_resume_emitted(r, (cdc_pos) { 999, 2 });
    snap_resume_emitted(r, (cdc_pos) { 999, 3 });
    snap_resume_chunk(r, "(\"k\") > ('7'::integer)", false);    /* ends at seq 3 */
    /* seq 2 durable in one destination only: nothing durable */
    agent_wm_free(router.wm);
    router.wm = agent_wm_new(2, 16);
    agent_wm_dest_progress(router.wm, 0, (cdc_pos) { 999, 3 });
    agent_wm_dest_progress(router.wm, 1, (cdc_pos) { 999, 1 });
    ck_assert_int_eq(snap_resume_poll(r, &err), 0);
    o = saved_snap();
    ck_assert_ptr_null(json_object_get(o, "rest"));
    json_decref(o);
    /* both have seq 2: the first chunk is durable, not the second */
    agent_wm_dest_progress(router.wm, 1, (cdc_pos) { 999, 2 });
    ck_assert_int_eq(snap_resume_poll(r, &err), 0);
    o = saved_snap();
    ck_assert_str_eq(json_string_value(json_object_get(o, "table")), "public.a");
    ck_assert_str_eq(json_string_value(json_object_get(o, "rest")), "(\"k\") > ('3'::integer)");
    json_decref(o);
    /* the table ends at seq 3; both have it: the table is done */
    snap_resume_chunk(r, NULL, false);
    agent_wm_dest_progress(router.wm, 1, (cdc_pos) { 999, 3 });
    ck_assert_int_eq(snap_resume_poll(r, &err), 0);
    o = saved_snap();
    ck_assert_ptr_null(json_object_get(o, "rest"));
    ck_assert_ptr_null(json_object_get(o, "table"));
    ck_assert_int_eq(json_array_size(json_object_get(o, "done")), 1);
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(o, "done"), 0)), "public.a");
    json_decref(o);
    /* a table with no rows is durable at once (nothing of it to wait for) */
    snap_resume_table(r, "public.b");
    snap_resume_chunk(r, NULL, false);
    ck_assert_int_eq(snap_resume_poll(r, &err), 0);
    o = saved_snap();
    ck_assert_int_eq(json_array_size(json_object_get(o, "done")), 2);
    json_decref(o);
    snap_resume_free(r);
    agent_wm_free(router.wm);
    free(st);
}
END_TEST

START_TEST(added_tables_are_queued_incrementally)
{
    char        *tables[] = { "public.a", "public.c" };
    cfg_source   src = { .tables = tables, .ntables = 2, .snapshot_mode = CFG_SNAPSHOT_INITIAL,
                         .signal_data_collection = "public.sig", .slot_name = "s1" };
    agent_state *st = new_state();
    cdc_err      err = { 0 };
    json_t      *o, *inc;

    st->loaded = true;
    st->snapshot = AGENT_SNAP_DELIVERED;
    snprintf(st->snap, sizeof(st->snap), "{\"cp\":5,\"tables\":[\"public.a\"],\"done\":[]}");
    ck_assert_int_eq(agent_snapshot_added_tables(NULL, &src, st, &err), 0);
    inc = json_loads(st->incr, 0, NULL);
    ck_assert_ptr_nonnull(inc);
    ck_assert_int_eq(json_array_size(json_object_get(inc, "tables")), 1);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(inc,
                     "tables"), 0), "table")), "public.c");
    ck_assert(strncmp(json_string_value(json_object_get(inc, "id")), "added-tables-", 13) == 0);
    json_decref(inc);
    o = saved_snap();
    ck_assert_int_eq(json_array_size(json_object_get(o, "tables")), 2);
    json_decref(o);
    /* known now: a second start queues nothing more */
    ck_assert_int_eq(agent_snapshot_added_tables(NULL, &src, st, &err), 0);
    inc = json_loads(st->incr, 0, NULL);
    ck_assert_int_eq(json_array_size(json_object_get(inc, "tables")), 1);
    json_decref(inc);

    /* without a signal table, before PostgreSQL 14 (no connection: version 0): the list
       grows, nothing is queued */
    st->incr[0] = '\0';
    snprintf(st->snap, sizeof(st->snap), "{\"cp\":5,\"tables\":[\"public.a\"],\"done\":[]}");
    src.signal_data_collection = NULL;
    ck_assert_int_eq(agent_snapshot_added_tables(NULL, &src, st, &err), 0);
    ck_assert_str_eq(st->incr, "");
    o = saved_snap();
    ck_assert_int_eq(json_array_size(json_object_get(o, "tables")), 2);
    json_decref(o);
    free(st);
}
END_TEST

static Suite *
snapshot_resume_suite(void)
{
    Suite *s = suite_create("snapshot_resume");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, chunk_durable_only_when_every_destination_has_its_last_row);
    tcase_add_test(tc, added_tables_are_queued_incrementally);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return suite_main(snapshot_resume_suite(), false);
}

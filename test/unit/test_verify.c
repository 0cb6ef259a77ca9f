/*
 * Suite "verify": the JSON-lines replay behind `cdcagent verify` against a
 * jsonl sink (agent/cmd/verify_replay.c), on hand-written lines: last event per
 * key wins, deletes, truncate, tombstones and other topics ignored, the
 * schemas.enable wrapping, unchanged-TOAST placeholders filled from the
 * key's earlier row (and kept when there is none), tables without a key as
 * multisets, and the file reader (a torn last line, a line that is not JSON,
 * the 2^64-2 seq of the last snapshot row).
 */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/cmd/verify_int.h"

#define TOPIC "cdc.public.t"
#define PH    "\"__debezium_unavailable_value\""

/* One jsonl line: key K, value {"before":B,"after":A,"op":OP}, metadata topic TP. */
static char *
line(const char *tp, const char *k, const char *op, const char *b, const char *a)
{
    char *s = NULL;

    if (op == NULL)
        ck_assert_int_gt(asprintf(&s, "{\"key\":%s,\"value\":null,\"metadata\":{\"topic\":\"%s\","
                                  "\"partition\":0,\"offset\":1,\"seq\":0,\"op\":\"T\"}}", k, tp), 0);
    else
        ck_assert_int_gt(asprintf(&s, "{\"key\":%s,\"value\":{\"before\":%s,\"after\":%s,"
                                  "\"op\":\"%s\"},\"metadata\":{\"topic\":\"%s\",\"partition\":0,"
                                  "\"offset\":1,\"seq\":18446744073709551614,\"op\":\"%s\"}}",
                                  k, b, a, op, tp, op), 0);
    return s;
}

/* Replays the lines (NULL-terminated, freed) through verify_replay_file(); when
   *torn is true on entry the last line is written without its newline. */
static void
replay(verify_replay *r, char **lines, bool *torn, int want_rc)
{
    size_t  cap = 1;
    char   *text, *p;
    FILE   *f;
    cdc_err err = { 0 };

    for (int i = 0; lines[i]; i++)
        cap += strlen(lines[i]) + 1;
    text = p = calloc(1, cap);
    for (int i = 0; lines[i]; i++) {
        p += sprintf(p, "%s%s", lines[i], lines[i + 1] || !*torn ? "\n" : "");
        free(lines[i]);
    }
    f = fmemopen(text, strlen(text), "r");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(verify_replay_file(f, "t.jsonl", &r, 1, torn, &err), want_rc);
    fclose(f);
    free(text);
}

static json_t *
state_after(verify_replay *r, const char *key)
{
    return json_object_get(json_object_get(verify_replay_state(r), key), "after");
}

static void
assert_json(const json_t *got, const char *want)
{
    json_t *w = json_loads(want, JSON_DECODE_ANY, NULL);
    char   *g = got ? verify_canonical(got) : strdup("(none)");

    ck_assert_msg(w != NULL, "bad expectation %s", want);
    ck_assert_msg(got != NULL && json_equal(got, w), "got %s, want %s", g, want);
    free(g);
    json_decref(w);
}

START_TEST(last_event_per_key_wins)
{
    json_t        *ph = json_object();
    verify_replay *r = verify_replay_new(TOPIC, true, ph);
    bool           torn = false;
    char          *lines[] = {
        line(TOPIC, "{\"id\":1}", "r", "null", "{\"id\":1,\"v\":\"a\"}"),
        line(TOPIC, "{\"id\":2}", "c", "null", "{\"id\":2,\"v\":\"b\"}"),
        line(TOPIC, "{\"id\":3}", "c", "null", "{\"id\":3,\"v\":\"c\"}"),
        line(TOPIC, "{\"id\":1}", "u", "null", "{\"id\":1,\"v\":\"a2\"}"),
        line(TOPIC, "{\"id\":2}", "d", "{\"id\":2,\"v\":null}", "null"),
        line(TOPIC, "{\"id\":2}", NULL, NULL, NULL),                /* tombstone */
        line("cdc.public.other", "{\"id\":3}", "d", "{\"id\":3}", "null"),
        line(TOPIC, "{\"id\":4}", "c", "null", "{\"id\":4,\"v\":1.5}"),
        NULL,
    };

    replay(r, lines, &torn, 0);
    ck_assert(!torn);
    ck_assert_int_eq(json_object_size(verify_replay_state(r)), 3);
    assert_json(state_after(r, "{\"id\":1}"), "{\"id\":1,\"v\":\"a2\"}");
    ck_assert_ptr_null(state_after(r, "{\"id\":2}"));
    assert_json(state_after(r, "{\"id\":3}"), "{\"v\":\"c\",\"id\":3}");
    assert_json(state_after(r, "{\"id\":4}"), "{\"id\":4,\"v\":1.5}");
    verify_replay_free(r);
    json_decref(ph);
}
END_TEST

START_TEST(truncate_clears_the_table)
{
    verify_replay *r = verify_replay_new(TOPIC, true, NULL);
    bool           torn = false;
    char          *lines[] = {
        line(TOPIC, "{\"id\":1}", "c", "null", "{\"id\":1}"),
        line(TOPIC, "{\"id\":2}", "c", "null", "{\"id\":2}"),
        line(TOPIC, "null", "t", "null", "null"),
        line(TOPIC, "{\"id\":3}", "c", "null", "{\"id\":3}"),
        NULL,
    };

    replay(r, lines, &torn, 0);
    ck_assert_int_eq(json_object_size(verify_replay_state(r)), 1);
    ck_assert_ptr_nonnull(state_after(r, "{\"id\":3}"));
    verify_replay_free(r);
}
END_TEST

START_TEST(schemas_wrapping_is_unwrapped)
{
    verify_replay *r = verify_replay_new(TOPIC, true, NULL);
    json_t        *j = json_loads("{\"key\":{\"schema\":{\"type\":\"struct\"},\"payload\":{\"id\":7}},"
                                  "\"value\":{\"schema\":{\"type\":\"struct\"},\"payload\":{\"op\":"
                                  "\"c\",\"after\":{\"id\":7}}},\"metadata\":{\"topic\":\"" TOPIC
                                  "\"}}", 0, NULL);
    cdc_err        err = { 0 };

    ck_assert_int_eq(verify_replay_event(r, j, &err), 0);
    assert_json(state_after(r, "{\"id\":7}"), "{\"id\":7}");
    json_decref(j);
    verify_replay_free(r);
}
END_TEST

START_TEST(toast_placeholder_filled_from_earlier_row)
{
    json_t        *ph = json_pack("{s:s, s:[s]}", "big", "__debezium_unavailable_value", "arr",
                                  "__debezium_unavailable_value");
    verify_replay *r = verify_replay_new(TOPIC, true, ph);
    bool           torn = false;
    char          *lines[] = {
        line(TOPIC, "{\"id\":1}", "r", "null", "{\"id\":1,\"big\":\"x1\",\"arr\":[\"a\"],\"n\":1}"),
        line(TOPIC, "{\"id\":1}", "u", "null", "{\"id\":1,\"big\":" PH ",\"arr\":[" PH "],\"n\":2}"),
        line(TOPIC, "{\"id\":1}", "u", "null", "{\"id\":1,\"big\":" PH ",\"arr\":[\"b\"],\"n\":3}"),
        line(TOPIC, "{\"id\":2}", "u", "null", "{\"id\":2,\"big\":" PH ",\"arr\":null,\"n\":1}"),
        NULL,
    };

    replay(r, lines, &torn, 0);
    assert_json(state_after(r, "{\"id\":1}"), "{\"id\":1,\"big\":\"x1\",\"arr\":[\"b\"],\"n\":3}");
    /* nothing earlier for id 2: the placeholder stays, for the comparison to report */
    assert_json(state_after(r, "{\"id\":2}"), "{\"id\":2,\"big\":" PH ",\"arr\":null,\"n\":1}");
    ck_assert_int_eq(verify_replay_toast_merged(r), 3);
    verify_replay_free(r);
    json_decref(ph);
}
END_TEST

START_TEST(without_key_a_multiset)
{
    verify_replay *r = verify_replay_new(TOPIC, false, NULL);
    bool           torn = false;
    json_t        *e;
    char          *lines[] = {
        line(TOPIC, "null", "c", "null", "{\"a\":1}"),
        line(TOPIC, "null", "c", "null", "{\"a\":1}"),
        line(TOPIC, "null", "c", "null", "{\"a\":2}"),
        line(TOPIC, "null", "d", "{\"a\":1}", "null"),
        line(TOPIC, "null", "u", "{\"a\":2}", "{\"a\":3}"),
        line(TOPIC, "null", "d", "{\"a\":9}", "null"),              /* never there */
        NULL,
    };

    replay(r, lines, &torn, 0);
    ck_assert_int_eq(json_object_size(verify_replay_state(r)), 2);
    e = json_object_get(verify_replay_state(r), "{\"a\":1}");
    ck_assert_int_eq(json_integer_value(json_object_get(e, "n")), 1);
    e = json_object_get(verify_replay_state(r), "{\"a\":3}");
    ck_assert_int_eq(json_integer_value(json_object_get(e, "n")), 1);
    verify_replay_free(r);
}
END_TEST

START_TEST(torn_last_line_skipped)
{
    verify_replay *r = verify_replay_new(TOPIC, true, NULL);
    bool           torn = true;     /* ask replay() to leave the last newline out */
    char          *lines[] = {
        line(TOPIC, "{\"id\":1}", "c", "null", "{\"id\":1}"),
        strdup("{\"key\":{\"id\":2},\"value\":{\"op\":\"c\",\"aft"),
        NULL,
    };

    replay(r, lines, &torn, 0);
    ck_assert(torn);
    ck_assert_int_eq(json_object_size(verify_replay_state(r)), 1);
    verify_replay_free(r);
}
END_TEST

START_TEST(bad_line_names_its_number)
{
    verify_replay *r = verify_replay_new(TOPIC, true, NULL);
    cdc_err        err = { 0 };
    char           text[] = "{\"key\":null,\"value\":null,\"metadata\":{\"topic\":\"x\"}}\n\nnot json\n";
    FILE          *f = fmemopen(text, strlen(text), "r");
    bool           torn;

    ck_assert_int_eq(verify_replay_file(f, "t.jsonl", &r, 1, &torn, &err), -1);
    ck_assert_int_eq(err.code, CDC_E_DECODE);
    ck_assert_msg(strstr(err.msg, "t.jsonl:3:") != NULL, "%s", err.msg);
    fclose(f);
    verify_replay_free(r);
}
END_TEST

START_TEST(keyed_event_without_key_is_an_error)
{
    verify_replay *r = verify_replay_new(TOPIC, true, NULL);
    bool           torn = false;
    char          *lines[] = { line(TOPIC, "null", "c", "null", "{\"a\":1}"), NULL };

    replay(r, lines, &torn, -1);
    verify_replay_free(r);
}
END_TEST

START_TEST(canonical_ignores_field_order)
{
    json_t *a = json_loads("{\"b\":1,\"a\":[1,{\"y\":2,\"x\":\"s\"}]}", 0, NULL);
    json_t *b = json_loads("{ \"a\" : [1, {\"x\":\"s\", \"y\":2}], \"b\" : 1 }", 0, NULL);
    char   *ca = verify_canonical(a), *cb = verify_canonical(b);

    ck_assert_str_eq(ca, cb);
    ck_assert_str_eq(ca, "{\"a\":[1,{\"x\":\"s\",\"y\":2}],\"b\":1}");
    free(ca);
    free(cb);
    json_decref(a);
    json_decref(b);
}
END_TEST

static Suite *
verify_suite(void)
{
    Suite *s = suite_create("verify");
    TCase *tc;

    tc = tcase_create("replay");
    tcase_add_test(tc, last_event_per_key_wins);
    tcase_add_test(tc, truncate_clears_the_table);
    tcase_add_test(tc, schemas_wrapping_is_unwrapped);
    tcase_add_test(tc, toast_placeholder_filled_from_earlier_row);
    tcase_add_test(tc, without_key_a_multiset);
    suite_add_tcase(s, tc);

    tc = tcase_create("file");
    tcase_add_test(tc, torn_last_line_skipped);
    tcase_add_test(tc, bad_line_names_its_number);
    tcase_add_test(tc, keyed_event_without_key_is_an_error);
    tcase_add_test(tc, canonical_ignores_field_order);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(verify_suite());
    int      failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

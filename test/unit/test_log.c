/*
 * Unit tests for agent/core/cdc_log.c: the lines are captured by pointing
 * stderr at a temporary file, then parsed back with jansson (JSON format)
 * or matched as text.  Checks the members of a JSON line, the "event"
 * member of cdc_log_event(), escaping, level filtering and the text form.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "agent/core/cdc_log.h"

static int  saved_stderr = -1;
static FILE *capture;

static void
capture_begin(void)
{
    capture = tmpfile();
    ck_assert_ptr_nonnull(capture);
    saved_stderr = dup(STDERR_FILENO);
    ck_assert_int_ge(saved_stderr, 0);
    ck_assert_int_ge(dup2(fileno(capture), STDERR_FILENO), 0);
}

/* Restores stderr and returns everything written meanwhile (caller frees). */
static char *
capture_end(void)
{
    long  len;
    char *text;

    ck_assert_int_ge(dup2(saved_stderr, STDERR_FILENO), 0);
    close(saved_stderr);
    saved_stderr = -1;
    len = ftell(capture);
    ck_assert_int_ge(len, 0);
    text = calloc(1, (size_t) len + 1);
    ck_assert_ptr_nonnull(text);
    rewind(capture);
    ck_assert_uint_eq(fread(text, 1, (size_t) len, capture), (size_t) len);
    fclose(capture);
    capture = NULL;
    return text;
}

static void
setup(void)
{
    cdc_log_set_level(CDC_LOG_INFO);
    cdc_log_set_format(CDC_LOG_JSON);
}

static json_t *
parse_line(const char *line)
{
    json_error_t jerr;
    json_t      *j = json_loads(line, JSON_REJECT_DUPLICATES, &jerr);

    ck_assert_msg(j != NULL, "not JSON (%s): %s", jerr.text, line);
    ck_assert(json_is_object(j));
    return j;
}

static const char *
member(json_t *j, const char *key)
{
    json_t *v = json_object_get(j, key);

    ck_assert_msg(json_is_string(v), "member %s missing or not a string", key);
    return json_string_value(v);
}

START_TEST(json_event_line)
{
    char   *out;
    json_t *j;

    capture_begin();
    log_event_error("dest.dlq", "pipeline.sink_write_error", "sink %s: write failed (%d)",
                    "lake", 7);
    out = capture_end();

    /* Exactly one line, terminated by a newline. */
    ck_assert_uint_gt(strlen(out), 1);
    ck_assert_int_eq(out[strlen(out) - 1], '\n');
    ck_assert_ptr_eq(strchr(out, '\n'), out + strlen(out) - 1);

    j = parse_line(out);
    ck_assert_str_eq(member(j, "level"), "error");
    ck_assert_str_eq(member(j, "logger"), "dest.dlq");
    ck_assert_str_eq(member(j, "event"), "pipeline.sink_write_error");
    ck_assert_str_eq(member(j, "msg"), "sink lake: write failed (7)");
    /* 2024-01-02T03:04:05.678Z */
    ck_assert_uint_eq(strlen(member(j, "ts")), 24);
    ck_assert_int_eq(member(j, "ts")[23], 'Z');
    ck_assert_int_eq(member(j, "ts")[10], 'T');
    ck_assert_uint_eq(json_object_size(j), 5);
    json_decref(j);
    free(out);
}
END_TEST

START_TEST(json_plain_line_has_no_event)
{
    char   *out;
    json_t *j;

    capture_begin();
    log_info("repl", "slot %s streaming", "orders_slot");
    cdc_log_event(CDC_LOG_INFO, "repl", NULL, "no event");
    cdc_log_event(CDC_LOG_INFO, "repl", "", "empty event");
    out = capture_end();

    for (char *line = strtok(out, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        j = parse_line(line);
        ck_assert_ptr_null(json_object_get(j, "event"));
        ck_assert_uint_eq(json_object_size(j), 4);
        json_decref(j);
    }
    free(out);
}
END_TEST

START_TEST(json_escaping)
{
    char   *out;
    json_t *j;

    capture_begin();
    log_event_warn("schema\"x", "schema.version_changed", "quote \" back \\ nl \n tab \t end");
    out = capture_end();
    /* The embedded newline must not split the record. */
    ck_assert_ptr_eq(strchr(out, '\n'), out + strlen(out) - 1);
    j = parse_line(out);
    ck_assert_str_eq(member(j, "logger"), "schema\"x");
    ck_assert_str_eq(member(j, "event"), "schema.version_changed");
    ck_assert_str_eq(member(j, "msg"), "quote \" back \\ nl \n tab \t end");
    ck_assert_str_eq(member(j, "level"), "warn");
    json_decref(j);
    free(out);
}
END_TEST

START_TEST(level_filter)
{
    char *out;

    cdc_log_set_level(CDC_LOG_WARN);
    capture_begin();
    log_event_info("lag", "consumer.lag", "filtered out");
    log_debug("lag", "filtered out too");
    out = capture_end();
    ck_assert_str_eq(out, "");
    free(out);

    cdc_log_set_level(CDC_LOG_OFF);
    capture_begin();
    log_event_error("lag", "consumer.lag", "off means off");
    out = capture_end();
    ck_assert_str_eq(out, "");
    free(out);
}
END_TEST

START_TEST(text_event_prefix)
{
    char *out;
    char *tail;

    cdc_log_set_format(CDC_LOG_TEXT);
    capture_begin();
    log_event_info("lag", "consumer.lag", "total_lag=%d", 42);
    log_info("lag", "plain");
    out = capture_end();
    tail = strstr(out, " info  [lag] consumer.lag: total_lag=42\n");
    ck_assert_msg(tail != NULL, "text line: %s", out);
    ck_assert_msg(strstr(out, " info  [lag] plain\n") != NULL, "text line: %s", out);
    free(out);
}
END_TEST

static Suite *
log_suite(void)
{
    Suite *s = suite_create("log");
    TCase *tc = tcase_create("lines");

    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, json_event_line);
    tcase_add_test(tc, json_plain_line_has_no_event);
    tcase_add_test(tc, json_escaping);
    tcase_add_test(tc, level_filter);
    tcase_add_test(tc, text_event_prefix);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(log_suite());
    int      nfailed;

    srunner_run_all(sr, CK_ENV);
    nfailed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return nfailed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/*
 * Unit tests for agent/core/cdc_err.c: a message that does not fit keeps its
 * end (the reason) and its head (what was being done), whatever the length of
 * the names in between or of the context wrapped around it; and nothing is
 * ever reported with an empty message.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "agent/core/cdc_err.h"

static char *
repeat(char c, size_t n)
{
    char *s = malloc(n + 1);

    memset(s, c, n);
    s[n] = '\0';
    return s;
}

static bool
ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), m = strlen(tail);

    return n >= m && strcmp(s + n - m, tail) == 0;
}

/* Well-formed UTF-8 (no character cut in two). */
static bool
valid_utf8(const char *s)
{
    const unsigned char *p = (const unsigned char *) s;

    while (*p) {
        int n = *p < 0x80 ? 0 : (*p & 0xE0) == 0xC0 ? 1 : (*p & 0xF0) == 0xE0 ? 2
              : (*p & 0xF8) == 0xF0 ? 3 : -1;

        if (n < 0)
            return false;
        p++;
        for (int i = 0; i < n; i++, p++)
            if ((*p & 0xC0) != 0x80)
                return false;
    }
    return true;
}

START_TEST(short_message_unchanged)
{
    cdc_err e = { 0 };

    ck_assert_int_eq(cdc_err_set(&e, CDC_E_IO, "opening %s: %s", "/tmp/x", "No such file"), -1);
    ck_assert_str_eq(e.msg, "opening /tmp/x: No such file");
    ck_assert_int_eq(e.code, CDC_E_IO);
    cdc_err_wrap(&e, "sink %s", "out");
    ck_assert_str_eq(e.msg, "sink out: opening /tmp/x: No such file");
    ck_assert_int_eq(e.code, CDC_E_IO);
}
END_TEST

/* A 600-character path: the reason at the end survives, and so does the head. */
START_TEST(long_name_keeps_reason)
{
    cdc_err e = { 0 };
    char   *path = repeat('p', 600);

    cdc_err_set(&e, CDC_E_IO, "opening %s: %s", path, "Permission denied");
    ck_assert_uint_lt(strlen(e.msg), sizeof(e.msg));
    ck_assert_msg(ends_with(e.msg, ": Permission denied"), "reason cut off: %s", e.msg);
    ck_assert_msg(strncmp(e.msg, "opening ppp", 11) == 0, "head lost: %s", e.msg);
    ck_assert_ptr_nonnull(strstr(e.msg, "..."));
    free(path);
}
END_TEST

/* A name longer than the stack buffer the message is formatted in. */
START_TEST(very_long_name_keeps_reason)
{
    cdc_err e = { 0 };
    char   *db = repeat('d', 5000);

    cdc_err_set(&e, CDC_E_PG, "database %s: %s", db, "FATAL: too many connections");
    ck_assert_msg(ends_with(e.msg, "FATAL: too many connections"), "reason cut off: %s", e.msg);
    free(db);
}
END_TEST

/* Context wrapped around a full message: the innermost reason survives every wrap. */
START_TEST(wraps_keep_reason)
{
    cdc_err e = { 0 };
    char   *name = repeat('n', 200);

    cdc_err_set(&e, CDC_E_CONN, "connecting to %s: %s", name, "Connection refused");
    cdc_err_wrap(&e, "slot %s", name);
    cdc_err_wrap(&e, "database %s", name);
    cdc_err_wrap(&e, "pipeline %s", "it-1");
    ck_assert_msg(ends_with(e.msg, ": Connection refused"), "reason cut off: %s", e.msg);
    ck_assert_msg(strncmp(e.msg, "pipeline it-1: database nnn", 27) == 0, "context lost: %s",
                  e.msg);
    ck_assert_msg(strstr(e.msg, ": slot nnn") && strstr(e.msg, ": connecting to nnn"),
                  "the shortened names' context lost: %s", e.msg);
    ck_assert_int_eq(e.code, CDC_E_CONN);
    free(name);
}
END_TEST

/* Words of ordinary length (a setting's name) are never cut: seen in 420, where
 * "(agent.reconnect_max_attempts):" had become "(agent.recon...x_attempts):". */
START_TEST(ordinary_words_stay_whole)
{
    cdc_err e = { 0 };

    const char *hint = "Is the server running on that host and accepting TCP/IP connections? ";

    /* Longer than msg, with no long word in it. */
    cdc_err_set(&e, CDC_E_CONN, "cannot connect to PostgreSQL at 127.0.0.1:12088 database "
                "cdc_demo as cdc_user: connection to server at \"127.0.0.1\", port 12088 failed: "
                "Connection refused  %s%s%s%s%sconnections?", hint, hint, hint, hint, hint);
    cdc_err_wrap(&e, "giving up after %d reconnect attempts (agent.reconnect_max_attempts)", 3);
    ck_assert_msg(strncmp(e.msg, "giving up after 3 reconnect attempts "
                          "(agent.reconnect_max_attempts): cannot connect to PostgreSQL at "
                          "127.0.0.1:12088", 116) == 0, "%s", e.msg);
    ck_assert(ends_with(e.msg, "TCP/IP connections? connections?"));
    ck_assert_uint_lt(strlen(e.msg), sizeof(e.msg));
}
END_TEST

/* No long word to shorten: the message's own middle goes, its head and its end stay. */
START_TEST(many_words_keep_head_and_reason)
{
    cdc_err e = { 0 };
    char    words[1000] = "";

    for (int i = 0; i < 100; i++)
        strcat(words, "word ");
    cdc_err_set(&e, CDC_E_DEST, "registry said %s: the reason", words);
    ck_assert_uint_lt(strlen(e.msg), sizeof(e.msg));
    ck_assert_msg(strncmp(e.msg, "registry said word", 18) == 0, "head lost: %s", e.msg);
    ck_assert_msg(ends_with(e.msg, ": the reason"), "reason cut off: %s", e.msg);
}
END_TEST

/* The cut never splits a multi-byte character. */
START_TEST(cut_on_character_boundaries)
{
    cdc_err e = { 0 };
    char    name[3 * 400 + 1] = "";

    for (int i = 0; i < 400; i++)
        strcat(name, i % 2 ? "\xc3\xa9" "x" : "\xe2\x82\xac");     /* é x and € */
    for (int shift = 0; shift < 4; shift++) {
        cdc_err_set(&e, CDC_E_IO, "%.*s%s: %s", shift, "abc", name, "disk full");
        ck_assert_msg(valid_utf8(e.msg), "shift %d: invalid UTF-8 after the cut", shift);
        ck_assert(ends_with(e.msg, ": disk full"));
        cdc_err_wrap(&e, "%.*s%s", shift, "xyz", name);
        ck_assert_msg(valid_utf8(e.msg), "shift %d: invalid UTF-8 after the wrap", shift);
        ck_assert(ends_with(e.msg, ": disk full"));
    }
}
END_TEST

START_TEST(ensure_fills_an_empty_message)
{
    cdc_err e = { 0 };

    ck_assert_int_eq(cdc_err_ensure(&e, "handling the message at %s", "0/16B3748"), -1);
    ck_assert_str_eq(e.msg, "internal error: handling the message at 0/16B3748 failed without "
                     "a message (CDC_E_INVAL)");
    ck_assert_int_eq(e.code, CDC_E_INVAL);
    /* A code that was set is kept. */
    cdc_err_clear(&e);
    e.code = CDC_E_CONN;
    cdc_err_ensure(&e, "reading");
    ck_assert_int_eq(e.code, CDC_E_CONN);
    ck_assert_ptr_nonnull(strstr(e.msg, "reading failed without a message"));
    /* A message that is there is left alone. */
    cdc_err_set(&e, CDC_E_PG, "the real reason");
    cdc_err_ensure(&e, "somewhere");
    ck_assert_str_eq(e.msg, "the real reason");
    ck_assert_int_eq(cdc_err_ensure(NULL, "x"), -1);
}
END_TEST

/* Wrapping an empty message does not produce "context: " with nothing after it. */
START_TEST(wrap_of_empty_message)
{
    cdc_err e = { 0 };

    cdc_err_wrap(&e, "destination %s", "out");
    ck_assert_str_eq(e.msg, "destination out: failed without saying why (internal error)");
}
END_TEST

static Suite *
err_suite(void)
{
    Suite *s = suite_create("err");
    TCase *tc = tcase_create("messages");

    tcase_add_test(tc, short_message_unchanged);
    tcase_add_test(tc, long_name_keeps_reason);
    tcase_add_test(tc, very_long_name_keeps_reason);
    tcase_add_test(tc, wraps_keep_reason);
    tcase_add_test(tc, many_words_keep_head_and_reason);
    tcase_add_test(tc, ordinary_words_stay_whole);
    tcase_add_test(tc, cut_on_character_boundaries);
    tcase_add_test(tc, ensure_fills_an_empty_message);
    tcase_add_test(tc, wrap_of_empty_message);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(err_suite());
    int      nfailed;

    srunner_run_all(sr, CK_ENV);
    nfailed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return nfailed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/*
 * Suite "pubsub_msg": one event as one Pub/Sub message (transports/pubsub/
 * pubsub_msg.c): base64 data (RFC 4648 vectors), attributes from the record's
 * headers plus the content type, the ordering key (the key's JSON, "default"
 * for a null key, "sha256:<hex>" past 1,024 bytes), an attribute value past
 * 1,024 bytes left out and named, the key queue's key, the size rule, and the
 * dead letter (dlq.* attributes, no ordering key, data left out on request).
 */
#include <check.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "test/lib/suite_main.h"
#include "transports/pubsub/pubsub_int.h"

static ps_topic topic = { .name = "cdc-public-t", .path = "projects/p/topics/cdc-public-t",
                          .url = "http://x/v1/projects/p/topics/cdc-public-t:publish",
                          .dlq_name = "cdc-public-t-dlq" };

static const char *
b64(const char *s)
{
    static cdc_buf b;

    cdc_buf_reset(&b);
    ps_base64(&b, s, strlen(s));
    cdc_buf_putc(&b, '\0');
    return (const char *) b.data;
}

START_TEST(base64_rfc4648)
{
    ck_assert_str_eq(b64(""), "");
    ck_assert_str_eq(b64("f"), "Zg==");
    ck_assert_str_eq(b64("fo"), "Zm8=");
    ck_assert_str_eq(b64("foo"), "Zm9v");
    ck_assert_str_eq(b64("foob"), "Zm9vYg==");
    ck_assert_str_eq(b64("fooba"), "Zm9vYmE=");
    ck_assert_str_eq(b64("foobar"), "Zm9vYmFy");
}
END_TEST

/* A record with a key, a value and the position headers. */
static sch_msg
rec(const char *key, const char *value)
{
    sch_msg m = { .key = key, .key_len = key ? strlen(key) : 0, .null_key = key == NULL,
                  .value = value, .value_len = value ? strlen(value) : 0,
                  .null_value = value == NULL, .content_type = "application/json" };

    m.hdrs[0] = (sch_hdr) { "cdc.commit_lsn", "42", 2 };
    m.hdrs[1] = (sch_hdr) { "cdc.seq", "3", 1 };
    m.nhdrs = 2;
    return m;
}

static json_t *
build(pubsub *p, const sch_msg *m, ps_msg **out)
{
    cdc_event    ev = { .op = CDC_OP_UPDATE, .pos = { 42, 3 }, .lsn = 40 };
    json_error_t je;
    json_t      *j;

    *out = ps_msg_build(p, &topic, &ev, m);
    j = json_loadb((*out)->json, (*out)->len, 0, &je);
    ck_assert_msg(j != NULL, "not JSON: %s (%s)", (*out)->json, je.text);
    return j;
}

static const char *
attr(json_t *j, const char *name)
{
    return json_string_value(json_object_get(json_object_get(j, "attributes"), name));
}

START_TEST(message_with_ordering)
{
    pubsub   p = { .ordering = true };
    sch_msg  m = rec("{\"id\":2}", "{\"op\":\"u\"}");
    ps_msg  *pm;
    json_t  *j = build(&p, &m, &pm);

    ck_assert_str_eq(json_string_value(json_object_get(j, "data")), "eyJvcCI6InUifQ==");
    ck_assert_str_eq(json_string_value(json_object_get(j, "orderingKey")), "{\"id\":2}");
    ck_assert_str_eq(attr(j, "cdc.commit_lsn"), "42");
    ck_assert_str_eq(attr(j, "cdc.seq"), "3");
    ck_assert_str_eq(attr(j, "cdc.content_type"), "application/json");
    ck_assert_ptr_null(attr(j, "cdc.dropped_attributes"));
    ck_assert_uint_eq(p.kbuf.len, strlen("cdc-public-t") + 1 + strlen("{\"id\":2}"));
    ck_assert(memcmp(p.kbuf.data, "cdc-public-t\0{\"id\":2}", p.kbuf.len) == 0);
    ck_assert_uint_eq(p.held_msgs, 1);
    ck_assert(ps_msg_fits_alone(&topic, pm));
    ps_msg_free(&p, pm);
    ck_assert_uint_eq(p.held_msgs, 0);
    ck_assert_uint_eq(p.held_bytes, 0);
    json_decref(j);
    cdc_buf_free(&p.kbuf);
}
END_TEST

START_TEST(null_key_tombstone_and_no_ordering)
{
    pubsub  p = { .ordering = true };
    sch_msg m = rec(NULL, NULL);
    ps_msg *pm;
    json_t *j = build(&p, &m, &pm);

    ck_assert_str_eq(json_string_value(json_object_get(j, "data")), "");
    ck_assert_str_eq(json_string_value(json_object_get(j, "orderingKey")), "default");
    ps_msg_free(&p, pm);
    json_decref(j);
    p.ordering = false;
    m = rec("{\"id\":2}", "{}");
    j = build(&p, &m, &pm);
    ck_assert_ptr_null(json_object_get(j, "orderingKey"));
    ck_assert_uint_eq(p.kbuf.len, strlen("cdc-public-t") + 1);     /* one lane a topic */
    ps_msg_free(&p, pm);
    json_decref(j);
    cdc_buf_free(&p.kbuf);
}
END_TEST

START_TEST(long_key_hashed_long_attribute_dropped)
{
    pubsub      p = { .ordering = true };
    char       *key = malloc(1500), *hdr = malloc(1100);
    sch_msg     m;
    ps_msg     *pm;
    json_t     *j;
    const char *ok;

    memset(key, 'k', 1499);
    key[1499] = '\0';
    memset(hdr, 'h', 1100);
    m = rec(key, "{}");
    m.hdrs[m.nhdrs++] = (sch_hdr) { "__debezium.newkey", hdr, 1100 };
    j = build(&p, &m, &pm);
    ok = json_string_value(json_object_get(j, "orderingKey"));
    ck_assert_uint_eq(strlen(ok), 71);
    ck_assert(strncmp(ok, "sha256:", 7) == 0);
    ck_assert_ptr_null(attr(j, "__debezium.newkey"));
    ck_assert_str_eq(attr(j, "cdc.dropped_attributes"), "__debezium.newkey");
    ck_assert_str_eq(attr(j, "cdc.seq"), "3");
    ck_assert_uint_eq(p.ndropped_attrs, 1);
    ps_msg_free(&p, pm);
    json_decref(j);
    free(key);
    free(hdr);
    cdc_buf_free(&p.kbuf);
}
END_TEST

START_TEST(too_large_alone_and_dead_letter)
{
    pubsub      p = { .ordering = true, .id = "pubsub" };
    size_t      n = 8000000;    /* base64: 10,666,668 bytes, over the 10 MiB body */
    char       *big = malloc(n + 1);
    sch_msg     m;
    ps_msg     *pm;
    cdc_buf     dl = CDC_BUF_INIT;
    json_t     *j, *d, *msg;
    json_error_t je;

    memset(big, 'v', n);
    big[n] = '\0';
    m = rec("{\"id\":9}", big);
    j = build(&p, &m, &pm);
    ck_assert(!ps_msg_fits_alone(&topic, pm));
    ck_assert_uint_eq(pm->value_len, n);
    ps_msg_dead_letter(&p, pm, &dl, "message_too_large", "too \"big\"", true);
    d = json_loadb((const char *) dl.data, dl.len, 0, &je);
    ck_assert_msg(d != NULL, "dead letter not JSON: %s", je.text);
    msg = d;
    ck_assert_str_eq(json_string_value(json_object_get(msg, "data")), "");
    ck_assert_ptr_null(json_object_get(msg, "orderingKey"));
    ck_assert_str_eq(attr(msg, "dlq.source_topic"), "cdc-public-t");
    ck_assert_str_eq(attr(msg, "dlq.source_partition"), "0");
    ck_assert_str_eq(attr(msg, "dlq.source_offset"), "40");
    ck_assert_str_eq(attr(msg, "dlq.error_type"), "message_too_large");
    ck_assert_str_eq(attr(msg, "dlq.error_message"), "too \"big\"");
    ck_assert_str_eq(attr(msg, "dlq.sink_id"), "pubsub");
    ck_assert_str_eq(attr(msg, "cdc.commit_lsn"), "42");
    ck_assert_ptr_nonnull(attr(msg, "dlq.timestamp"));
    json_decref(d);
    /* With its data: the original base64 is kept. */
    cdc_buf_reset(&dl);
    ps_msg_dead_letter(&p, pm, &dl, "http_status_400", "x", false);
    d = json_loadb((const char *) dl.data, dl.len, 0, &je);
    ck_assert_ptr_nonnull(d);
    ck_assert_str_eq(json_string_value(json_object_get(d, "data")),
                     json_string_value(json_object_get(j, "data")));
    json_decref(d);
    json_decref(j);
    ps_msg_free(&p, pm);
    cdc_buf_free(&dl);
    cdc_buf_free(&p.kbuf);
    free(big);
}
END_TEST

static Suite *
pubsub_msg_suite(void)
{
    Suite *s = suite_create("pubsub_msg");
    TCase *tc = tcase_create("msg");

    tcase_add_test(tc, base64_rfc4648);
    tcase_add_test(tc, message_with_ordering);
    tcase_add_test(tc, null_key_tombstone_and_no_ordering);
    tcase_add_test(tc, long_key_hashed_long_attribute_dropped);
    tcase_add_test(tc, too_large_alone_and_dead_letter);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return suite_main(pubsub_msg_suite(), false);
}

/*
 * Unit tests for agent/ops/metrics.c and metrics_render.c: the Prometheus text (every
 * line a comment or a well-formed sample, counters that grow, label
 * escaping, cumulative histogram buckets ending in +Inf) and the /readyz
 * body and verdict.
 */
#include <check.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "agent/core/cdc_buf.h"
#include "agent/core/cdc_counters.h"
#include "agent/core/cdc_log.h"
#include "agent/ops/metrics.h"

static agent_metrics *m;

static void
setup(void)
{
    cdc_counters_reset();
    m = agent_metrics_new("orders-cdc", "orders_slot");
}

static void
teardown(void)
{
    agent_metrics_free(m);
    m = NULL;
}

/* The rendered text; the caller frees it. */
static char *
render(void)
{
    cdc_buf b = CDC_BUF_INIT;
    char   *s;

    agent_metrics_render(m, &b);
    ck_assert(!cdc_buf_failed(&b));
    s = strdup(cdc_buf_str(&b));
    cdc_buf_free(&b);
    return s;
}

/* The value of the sample whose name-and-labels part is exactly @p series; -1 if absent. */
static double
sample(const char *text, const char *series)
{
    size_t      n = strlen(series);
    const char *p = text;

    while ((p = strstr(p, series)) != NULL) {
        if ((p == text || p[-1] == '\n') && p[n] == ' ')
            return strtod(p + n + 1, NULL);
        p += n;
    }
    return -1;
}

/*
 * Checks one sample line: name, optional {label="value",...} with only the
 * three escapes, a space and a number.  A small version of the format's grammar.
 */
static bool
valid_sample(const char *line)
{
    const char *p = line;
    char       *end;

    if (!(isalpha((unsigned char) *p) || *p == '_' || *p == ':'))
        return false;
    while (isalnum((unsigned char) *p) || *p == '_' || *p == ':')
        p++;
    if (*p == '{') {
        p++;
        while (*p != '}') {
            if (!(isalpha((unsigned char) *p) || *p == '_'))
                return false;
            while (isalnum((unsigned char) *p) || *p == '_')
                p++;
            if (*p++ != '=' || *p++ != '"')
                return false;
            while (*p != '"') {
                if (*p == '\0' || *p == '\n')
                    return false;
                if (*p == '\\' && !(p[1] == '\\' || p[1] == '"' || p[1] == 'n'))
                    return false;
                p += *p == '\\' ? 2 : 1;
            }
            p++;
            if (*p == ',')
                p++;
            else if (*p != '}')
                return false;
        }
        p++;
    }
    if (*p++ != ' ')
        return false;
    if (strcmp(p, "+Inf") == 0 || strcmp(p, "-Inf") == 0 || strcmp(p, "NaN") == 0)
        return true;
    strtod(p, &end);
    return end != p && *end == '\0';
}

static void
populate(void)
{
    cdc_health ok = { CDC_DEST_OK, "" };
    int        d;

    agent_metrics_event(m, "cdc.public.orders", CDC_OP_CREATE);
    agent_metrics_event(m, "cdc.public.orders", CDC_OP_UPDATE);
    agent_metrics_event(m, NULL, CDC_OP_MESSAGE);
    agent_metrics_add_bytes(m, 1234);
    agent_metrics_error(m, CDC_E_CONN);
    agent_metrics_set_received_lsn(m, 0x16B3748);
    agent_metrics_set_server_lsn(m, 0x16B4000);
    agent_metrics_confirmed(m, 0x16B3000);
    d = agent_metrics_add_dest(m, "lake", "jsonl");
    agent_metrics_set_dest(m, d, (cdc_pos) { 0x16B3000, 4 }, &ok);
    agent_metrics_set_repl_state(m, AGENT_REPL_STREAMING, NULL);
    agent_metrics_observe_commit_to_durable(m, 0.02);
}

START_TEST(every_line_valid)
{
    char *text, *line, *save = NULL;
    int   n = 0;

    populate();
    text = render();
    ck_assert(strlen(text) > 0 && text[strlen(text) - 1] == '\n');
    for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save), n++) {
        if (strncmp(line, "# HELP ", 7) == 0 || strncmp(line, "# TYPE ", 7) == 0)
            continue;
        ck_assert_msg(line[0] != '#', "stray comment: %s", line);
        ck_assert_msg(valid_sample(line), "invalid sample line: %s", line);
    }
    ck_assert_int_gt(n, 40);
    free(text);
}
END_TEST

/* Every family has HELP and TYPE once, before its samples; counters end in _total. */
START_TEST(help_and_type_once)
{
    char *text, *p;

    populate();
    text = render();
    for (p = strstr(text, "# TYPE "); p; p = strstr(p + 1, "# TYPE ")) {
        char name[128], type[32], help[160];

        ck_assert_int_eq(sscanf(p, "# TYPE %127s %31s", name, type), 2);
        snprintf(help, sizeof(help), "# HELP %s ", name);
        ck_assert_msg(strstr(text, help) != NULL && strstr(text, help) < p, "HELP for %s", name);
        ck_assert_msg(strstr(p + 1, p) == NULL, "TYPE twice for %s", name);
        ck_assert_msg(strncmp(name, "cdcagent_", 9) == 0, "%s lacks the prefix", name);
        if (strcmp(type, "counter") == 0)
            ck_assert_msg(strlen(name) > 6 && strcmp(name + strlen(name) - 6, "_total") == 0,
                          "counter %s", name);
    }
    free(text);
}
END_TEST

START_TEST(counters_increase)
{
    char  *before, *after;
    double e0, e1, b0, b1;

    populate();
    before = render();
    agent_metrics_event(m, "cdc.public.orders", CDC_OP_CREATE);
    agent_metrics_event(m, "cdc.public.orders", CDC_OP_CREATE);
    agent_metrics_event(m, "cdc.public.orders", CDC_OP_TOMBSTONE);  /* not counted */
    agent_metrics_add_bytes(m, 100);
    cdc_metrics_dlq_inc("wh1");
    cdc_metrics_dlq_inc("wh1");
    cdc_metrics_dlq_inc("pg \"2\"");
    cdc_metrics_schema_registered("cdc.public.orders-value");
    agent_metrics_error(m, CDC_E_CONN);
    after = render();
    e0 = sample(before, "cdcagent_events_total{table=\"cdc.public.orders\",op=\"c\"}");
    e1 = sample(after, "cdcagent_events_total{table=\"cdc.public.orders\",op=\"c\"}");
    b0 = sample(before, "cdcagent_received_bytes_total");
    b1 = sample(after, "cdcagent_received_bytes_total");
    ck_assert(e0 == 1 && e1 == 3);
    ck_assert(b0 == 1234 && b1 == 1334);
    ck_assert(sample(after, "cdcagent_events_total{table=\"_message\",op=\"m\"}") == 1);
    ck_assert(sample(before, "cdcagent_errors_total{kind=\"conn\"}") == 1);
    ck_assert(sample(after, "cdcagent_errors_total{kind=\"conn\"}") == 2);
    ck_assert(sample(after, "cdcagent_errors_total{kind=\"proto\"}") == 0);
    /* No dead letter yet: the family is there, without samples. */
    ck_assert(strstr(before, "# TYPE cdcagent_dlq_events_total counter\n") != NULL);
    ck_assert(strstr(before, "cdcagent_dlq_events_total{") == NULL);
    ck_assert(sample(after, "cdcagent_dlq_events_total{sink=\"wh1\"}") == 2);
    ck_assert(sample(after, "cdcagent_dlq_events_total{sink=\"pg \\\"2\\\"\"}") == 1);
    ck_assert(sample(after, "cdcagent_schema_registrations_total{subject=\"cdc.public.orders-value\"}")
              == 1);
    ck_assert(strstr(after, "op=\"T\"") == NULL);
    free(before);
    free(after);
}
END_TEST

/* The writer remembers its last series by the name's pointer: a buffer reused for another
   name (a relation's topic freed and another allocated there) must count the other. */
START_TEST(same_pointer_other_name)
{
    char  name[32] = "cdc.public.a";
    char *text;

    agent_metrics_event(m, name, CDC_OP_CREATE);
    agent_metrics_event(m, name, CDC_OP_CREATE);
    snprintf(name, sizeof(name), "cdc.public.b");
    agent_metrics_event(m, name, CDC_OP_CREATE);
    agent_metrics_event(m, name, CDC_OP_UPDATE);
    agent_metrics_event(m, "cdc.public.a", CDC_OP_CREATE);
    text = render();
    ck_assert(sample(text, "cdcagent_events_total{table=\"cdc.public.a\",op=\"c\"}") == 3);
    ck_assert(sample(text, "cdcagent_events_total{table=\"cdc.public.b\",op=\"c\"}") == 1);
    ck_assert(sample(text, "cdcagent_events_total{table=\"cdc.public.b\",op=\"u\"}") == 1);
    free(text);
}
END_TEST

START_TEST(label_escaping)
{
    char *text;

    agent_metrics_event(m, "we\"ird\\topic\nname", CDC_OP_DELETE);
    agent_metrics_add_dest(m, "sink \"a\"", "jsonl");
    text = render();
    ck_assert_ptr_nonnull(strstr(text, "{table=\"we\\\"ird\\\\topic\\nname\",op=\"d\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(text, "destination=\"sink \\\"a\\\"\""));
    free(text);
}
END_TEST

START_TEST(histogram_cumulative)
{
    static const double obs[] = { 0.001, 0.004, 0.03, 0.2, 0.2, 3, 500 };
    char       *text, *p;
    double      prev = -1, inf = -1, count;
    int         nb = 0;

    for (size_t i = 0; i < sizeof(obs) / sizeof(obs[0]); i++)
        agent_metrics_observe_commit_to_durable(m, obs[i]);
    text = render();
    for (p = strstr(text, "cdcagent_commit_to_durable_seconds_bucket{le=\""); p;
         p = strstr(p + 1, "cdcagent_commit_to_durable_seconds_bucket{le=\"")) {
        const char *le = p + strlen("cdcagent_commit_to_durable_seconds_bucket{le=\"");
        double      v = strtod(strchr(le, '}') + 2, NULL);

        ck_assert_msg(v >= prev, "bucket %.20s decreases", le);
        prev = v;
        nb++;
        if (strncmp(le, "+Inf\"", 5) == 0)
            inf = v;
    }
    count = sample(text, "cdcagent_commit_to_durable_seconds_count");
    ck_assert_int_ge(nb, 10);
    ck_assert(inf == 7 && count == 7 && prev == inf);   /* +Inf last and equal to _count */
    ck_assert(sample(text, "cdcagent_commit_to_durable_seconds_bucket{le=\"0.005\"}") == 2);
    ck_assert(sample(text, "cdcagent_commit_to_durable_seconds_bucket{le=\"0.25\"}") == 5);
    ck_assert(sample(text, "cdcagent_commit_to_durable_seconds_bucket{le=\"120\"}") == 6);
    ck_assert(sample(text, "cdcagent_commit_to_durable_seconds_sum") > 503.4);
    free(text);
}
END_TEST

/* txn_committed/confirmed: observed once the flush LSN passes the transaction. */
START_TEST(commit_to_durable_from_confirmations)
{
    char *text;

    agent_metrics_txn_committed(m, 100);
    agent_metrics_txn_committed(m, 200);
    agent_metrics_confirmed(m, 150);
    text = render();
    ck_assert(sample(text, "cdcagent_commit_to_durable_seconds_count") == 1);
    ck_assert(sample(text, "cdcagent_confirmed_lsn") == 150);
    free(text);
    agent_metrics_confirmed(m, 200);
    agent_metrics_confirmed(m, 300);
    text = render();
    ck_assert(sample(text, "cdcagent_commit_to_durable_seconds_count") == 2);
    free(text);
}
END_TEST

START_TEST(lag_and_gauges)
{
    char *text;

    populate();
    agent_metrics_set_queue_depth(m, 7);
    agent_metrics_set_lag_seconds(m, 1.5);
    text = render();
    ck_assert(sample(text, "cdcagent_replication_lag_bytes") == 0x16B4000 - 0x16B3000);
    ck_assert(sample(text, "cdcagent_replication_lag_seconds") == 1.5);
    ck_assert(sample(text, "cdcagent_queue_depth") == 7);
    ck_assert(sample(text, "cdcagent_received_lsn") == 0x16B3748);
    ck_assert(sample(text, "cdcagent_destination_durable_lsn{destination=\"lake\",kind=\"jsonl\"}") ==
              0x16B3000);
    ck_assert(sample(text, "cdcagent_destination_state{destination=\"lake\",state=\"running\"}") == 1);
    ck_assert(sample(text, "cdcagent_destination_state{destination=\"lake\",state=\"error\"}") == 0);
    ck_assert(sample(text, "cdcagent_replication_state{state=\"streaming\"}") == 1);
    ck_assert(sample(text, "cdcagent_replication_state{state=\"connecting\"}") == 0);
    ck_assert_ptr_nonnull(strstr(text, "pipeline_id=\"orders-cdc\",slot=\"orders_slot\"} 1\n"));
    free(text);
}
END_TEST

/* Series are bounded: past the limit, events count under table="_overflow". */
START_TEST(series_bounded)
{
    char  name[64], *text;

    for (int i = 0; i < AGENT_METRICS_MAX_SERIES + 10; i++) {
        snprintf(name, sizeof(name), "cdc.public.t%d", i);
        agent_metrics_event(m, name, CDC_OP_CREATE);
    }
    agent_metrics_event(m, "cdc.public.t0", CDC_OP_CREATE);    /* existing: still counted */
    text = render();
    ck_assert(sample(text, "cdcagent_events_total{table=\"_overflow\",op=\"c\"}") == 10);
    ck_assert(sample(text, "cdcagent_events_total{table=\"cdc.public.t0\",op=\"c\"}") == 2);
    free(text);
}
END_TEST

/* The /readyz body and verdict. */
START_TEST(health_body)
{
    cdc_buf     b = CDC_BUF_INIT;
    cdc_health  bad = { CDC_DEST_ERROR, "disk full" }, ok = { CDC_DEST_OK, "" };
    json_t     *j;
    json_error_t je;

    populate();
    ck_assert(agent_metrics_render_health(m, &b));
    j = json_loads(cdc_buf_str(&b), 0, &je);
    ck_assert_ptr_nonnull(j);
    ck_assert_str_eq(json_string_value(json_object_get(j, "pipeline_id")), "orders-cdc");
    ck_assert_str_eq(json_string_value(json_object_get(j, "status")), "ok");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "source"), "slot")),
                     "orders_slot");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "source"), "state")),
                     "streaming");
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(j, "source"), "lag_bytes")),
                     0x16B4000 - 0x16B3000);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(j, "sinks"), 0),
                                                       "sink_id")), "lake");
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(json_object_get(j, "consumer_lag"), 0),
                                                        "lag")), 0x16B4000 - 0x16B3000);
    json_decref(j);

    agent_metrics_set_dest(m, 0, (cdc_pos) { 0x16B3000, 4 }, &bad);
    cdc_buf_reset(&b);
    ck_assert(!agent_metrics_render_health(m, &b));
    ck_assert_ptr_nonnull(strstr(cdc_buf_str(&b), "\"detail\":\"disk full\""));
    agent_metrics_set_dest(m, 0, (cdc_pos) { 0x16B3000, 4 }, &ok);
    cdc_buf_reset(&b);
    ck_assert(agent_metrics_render_health(m, &b));

    agent_metrics_set_repl_state(m, AGENT_REPL_ERROR, "slot orders_slot is gone");
    cdc_buf_reset(&b);
    ck_assert(!agent_metrics_render_health(m, &b));
    ck_assert_ptr_nonnull(strstr(cdc_buf_str(&b), "slot orders_slot is gone"));
    agent_metrics_set_repl_state(m, AGENT_REPL_RECONNECTING, "connection lost");
    cdc_buf_reset(&b);
    ck_assert(!agent_metrics_render_health(m, &b));     /* the source is unreachable */
    ck_assert_ptr_nonnull(strstr(cdc_buf_str(&b), "\"state\":\"reconnecting\""));
    ck_assert_ptr_nonnull(strstr(cdc_buf_str(&b), "connection lost"));
    agent_metrics_set_repl_state(m, AGENT_REPL_STREAMING, NULL);
    cdc_buf_reset(&b);
    ck_assert(agent_metrics_render_health(m, &b));
    agent_metrics_set_repl_state(m, AGENT_REPL_STOPPING, NULL);
    cdc_buf_reset(&b);
    ck_assert(!agent_metrics_render_health(m, &b));
    cdc_buf_free(&b);
}
END_TEST

/* Runs agent_metrics_lag_report() with stderr in a temporary file; returns what it logged. */
static char *
lag_report_output(double interval)
{
    FILE *f = tmpfile();
    int   saved = dup(STDERR_FILENO);
    long  len;
    char *text;

    ck_assert(f != NULL && saved >= 0);
    cdc_log_set_level(CDC_LOG_INFO);
    cdc_log_set_format(CDC_LOG_JSON);
    ck_assert_int_ge(dup2(fileno(f), STDERR_FILENO), 0);
    agent_metrics_lag_report(m, interval);
    dup2(saved, STDERR_FILENO);
    close(saved);
    cdc_log_set_level(CDC_LOG_OFF);
    len = ftell(f);
    text = calloc(1, (size_t) len + 1);
    rewind(f);
    ck_assert_uint_eq(fread(text, 1, (size_t) len, f), (size_t) len);
    fclose(f);
    return text;
}

/* consumer.lag: not before one interval has passed, then one JSON line with the figures.
   The interval is 0.5 s, long beside the few calls made "too soon" even under valgrind on
   a loaded machine (at 0.05 s, two memchecks at once made the second call come late). */
START_TEST(lag_report_line)
{
    cdc_health   ok = { CDC_DEST_OK, "" };
    char        *out;
    json_t      *j, *lag;
    json_error_t je;
    int          d;

    populate();
    d = agent_metrics_add_dest(m, "wh1", "webhook");
    agent_metrics_set_dest(m, d, (cdc_pos) { 0x16B3800, 2 }, &ok);
    out = lag_report_output(0.5);       /* the first call only starts the clock */
    ck_assert_str_eq(out, "");
    free(out);
    out = lag_report_output(0.5);       /* too soon */
    ck_assert_str_eq(out, "");
    free(out);
    usleep(550 * 1000);
    out = lag_report_output(0.5);
    ck_assert_ptr_eq(strchr(out, '\n'), out + strlen(out) - 1);
    j = json_loads(out, 0, &je);
    ck_assert_msg(j != NULL, "not JSON: %s", out);
    ck_assert_str_eq(json_string_value(json_object_get(j, "event")), "consumer.lag");
    ck_assert_str_eq(json_string_value(json_object_get(j, "level")), "info");
    /* server 0/16B4000 minus confirmed 0/16B3000 */
    ck_assert_int_eq(json_integer_value(json_object_get(j, "total_lag")), 0x1000);
    ck_assert_str_eq(json_string_value(json_object_get(j, "slot")), "orders_slot");
    lag = json_object_get(j, "lag");
    ck_assert_int_eq(json_array_size(lag), 2);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(lag, 0), "sink_id")), "lake");
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(lag, 0), "lag")), 0x1000);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(lag, 1), "sink_id")), "wh1");
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(lag, 1), "lag")), 0x800);
    ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(j, "msg")), "total_lag=4096"));
    json_decref(j);
    free(out);
    out = lag_report_output(0.5);       /* the interval starts again */
    ck_assert_str_eq(out, "");
    free(out);
}
END_TEST

/* The process-wide families stay bounded: label 65 and later count as _overflow. */
START_TEST(counter_families_bounded)
{
    char  name[32];
    char *text;

    for (int i = 0; i < CDC_COUNTERS_MAX_LABELS + 5; i++) {
        snprintf(name, sizeof(name), "sink%d", i);
        cdc_metrics_dlq_inc(name);
    }
    cdc_metrics_dlq_inc("sink0");
    text = render();
    ck_assert(sample(text, "cdcagent_dlq_events_total{sink=\"sink0\"}") == 2);
    ck_assert(sample(text, "cdcagent_dlq_events_total{sink=\"_overflow\"}") == 5);
    ck_assert_uint_eq(cdc_counter_total(CDC_CTR_DLQ), CDC_COUNTERS_MAX_LABELS + 6);
    ck_assert_uint_eq(cdc_counter_get(CDC_CTR_DLQ, "sink0"), 2);
    ck_assert_uint_eq(cdc_counter_get(CDC_CTR_DLQ, "sink70"), 0);     /* counted as overflow */
    ck_assert_uint_eq(cdc_counter_get(CDC_CTR_SCHEMA_REG, "sink0"), 0);
    free(text);
}
END_TEST

/* Every call accepts a NULL registry. */
START_TEST(snapshot_families)
{
    agent_snapshot_progress sp = { .rows = 100, .rows_estimated = 150, .tables_done = 1,
                                   .tables_total = 3, .remaining_seconds = 2.5,
                                   .wal_retained_bytes = -1 };
    char                   *t = render();

    /* before any snapshot: all zero */
    ck_assert(sample(t, "cdcagent_snapshot_rows_total") == 0);
    ck_assert(sample(t, "cdcagent_snapshot_tables{state=\"remaining\"}") == 0);
    free(t);
    agent_metrics_set_snapshot(m, &sp);
    t = render();
    ck_assert(sample(t, "cdcagent_snapshot_rows_total") == 100);
    ck_assert(sample(t, "cdcagent_snapshot_rows_estimated") == 150);
    ck_assert(sample(t, "cdcagent_snapshot_tables{state=\"done\"}") == 1);
    ck_assert(sample(t, "cdcagent_snapshot_tables{state=\"remaining\"}") == 2);
    ck_assert(sample(t, "cdcagent_snapshot_remaining_seconds") == 2.5);
    ck_assert(strstr(t, "\ncdcagent_snapshot_wal_retained_bytes -1\n") != NULL);
    free(t);
}
END_TEST

START_TEST(null_registry)
{
    agent_metrics_event(NULL, "t", CDC_OP_CREATE);
    agent_metrics_add_bytes(NULL, 1);
    agent_metrics_error(NULL, CDC_E_PG);
    agent_metrics_confirmed(NULL, 1);
    agent_metrics_txn_committed(NULL, 1);
    ck_assert_int_eq(agent_metrics_add_dest(NULL, "a", "b"), -1);
    agent_metrics_set_repl_state(NULL, AGENT_REPL_ERROR, "x");
    agent_metrics_lag_report(NULL, 1);
    agent_metrics_free(NULL);
}
END_TEST

static Suite *
metrics_suite(void)
{
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("exposition");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, every_line_valid);
    tcase_add_test(tc, help_and_type_once);
    tcase_add_test(tc, counters_increase);
    tcase_add_test(tc, same_pointer_other_name);
    tcase_add_test(tc, label_escaping);
    tcase_add_test(tc, histogram_cumulative);
    tcase_add_test(tc, commit_to_durable_from_confirmations);
    tcase_add_test(tc, lag_and_gauges);
    tcase_add_test(tc, series_bounded);
    suite_add_tcase(s, tc);

    tc = tcase_create("health");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, health_body);
    tcase_add_test(tc, lag_report_line);
    tcase_add_test(tc, counter_families_bounded);
    tcase_add_test(tc, snapshot_families);
    tcase_add_test(tc, null_registry);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(metrics_suite());
    int      nfailed;

    cdc_log_set_level(CDC_LOG_OFF);
    srunner_run_all(sr, CK_ENV);
    nfailed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return nfailed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/*
 * Unit tests for memory that must not follow the size of one large value
 * (issue 17): cdc_buf's drain, the jsonl sink writing a long line through a
 * small buffer and taking back a line that fails half-way, and the decoder's
 * string values (borrowed from the message) and quoted array elements.
 */
#include <check.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/core/cdc_arena.h"
#include "agent/core/cdc_buf.h"
#include "decoder/pgoutput.h"
#include "decoder/values.h"
#include "schemas/json.h"
#include "sinks/jsonl/jsonl.h"
#include "test/lib/model.h"

/* ---- cdc_buf's drain ---- */

typedef struct sink {
    cdc_buf got;
    int     calls;
    int     fail_at;    /* fail this call (1-based); 0 = never */
} sink;

static int
sink_fn(void *arg, const uint8_t *p, size_t n)
{
    sink *s = arg;

    if (++s->calls == s->fail_at)
        return -1;
    cdc_buf_put(&s->got, p, n);
    return 0;
}

START_TEST(buf_drain_keeps_buffer_small)
{
    cdc_buf b = CDC_BUF_INIT;
    sink    s = { CDC_BUF_INIT, 0, 0 };
    cdc_buf want = CDC_BUF_INIT;
    char   *big = malloc(1 << 20);

    ck_assert_ptr_nonnull(big);
    memset(big, 'z', 1 << 20);
    cdc_buf_set_drain(&b, sink_fn, &s, 4096);
    for (int i = 0; i < 1000; i++) {
        cdc_buf_printf(&b, "line %d;", i);
        cdc_buf_printf(&want, "line %d;", i);
        if (i % 100 == 0) {
            cdc_buf_put(&b, big, 1 << 20);   /* straight through, never copied */
            cdc_buf_put(&want, big, 1 << 20);
        }
        ck_assert_uint_le(b.cap, 8192);
    }
    ck_assert(!cdc_buf_failed(&b));
    cdc_buf_put(&s.got, b.data, b.len);     /* the rest, as the owner writes it out */
    ck_assert_uint_eq(s.got.len, want.len);
    ck_assert(memcmp(s.got.data, want.data, want.len) == 0);
    cdc_buf_free(&b);
    cdc_buf_free(&s.got);
    cdc_buf_free(&want);
    free(big);
}
END_TEST

START_TEST(buf_drain_failure_is_sticky)
{
    cdc_buf b = CDC_BUF_INIT;
    sink    s = { CDC_BUF_INIT, 0, 2 };

    cdc_buf_set_drain(&b, sink_fn, &s, 16);
    cdc_buf_puts(&b, "0123456789");
    cdc_buf_puts(&b, "0123456789");     /* drains the first ten */
    ck_assert(!cdc_buf_failed(&b));
    cdc_buf_puts(&b, "0123456789");     /* the second drain fails */
    ck_assert(cdc_buf_failed(&b));
    ck_assert_uint_eq(b.len, 10);       /* what the drain refused is still there */
    cdc_buf_puts(&b, "x");
    ck_assert_int_eq(s.calls, 2);
    cdc_buf_free(&b);
    cdc_buf_free(&s.got);
}
END_TEST

/* ---- the jsonl sink ---- */

#define BIG_LEN ((size_t) 10 << 20)

static char     path[64];
static cdc_col  cols[2];
static cdc_rel  rel;
static cdc_txn  txn;
static cdc_value row[2];
static sch_json_opts jopts;
static const cdc_dest_env env = { .pipeline_id = "p", .topic_prefix = "db",
                                  .database = "appdb", .encode_opts = &jopts };
static char    *bigtext;

static void
setup(void)
{
    int fd;

    strcpy(path, "/tmp/test_bigvalue_XXXXXX");
    fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    memset(cols, 0, sizeof(cols));
    cols[0] = (cdc_col) { .name = "id", .not_null = true, .key_pos = 1,
                          .ctype = { .supported = true, .kind = CDC_CT_INT32 } };
    cols[1] = (cdc_col) { .name = "body", .ctype = { .supported = true, .kind = CDC_CT_STRING } };
    rel = (cdc_rel) { .nspname = "public", .relname = "big", .ncols = 2, .cols = cols,
                      .nkeys = 1, .topic = "db.public.big" };
    sch_json_opts_default(&jopts);
    jopts.server_name = "db";
    jopts.database = "appdb";
    bigtext = malloc(BIG_LEN);
    ck_assert_ptr_nonnull(bigtext);
    for (size_t i = 0; i < BIG_LEN; i++)
        bigtext[i] = (char) ('a' + i % 26);
    bigtext[BIG_LEN / 2] = '"';     /* escaped: the line is one byte longer */
}

static void
teardown(void)
{
    unlink(path);
    free(bigtext);
}

static cdc_event
ev_at(uint64_t seq, const char *text, size_t n)
{
    cdc_event ev;

    row[0] = tm_int((int64_t) seq);
    row[1] = tm_bytes(text, n);
    ev = tm_insert(&txn, &rel, row, 7, 1000, seq);
    ev.key = row;
    return ev;
}

static off_t
file_size(void)
{
    struct stat st;

    ck_assert_int_eq(stat(path, &st), 0);
    return st.st_size;
}

/* "... N bytes buffered ..." from the sink's health detail. */
static size_t
buffered(cdc_dest *d)
{
    cdc_health  h = { 0 };
    const char *p;

    d->ops->health(d, &h);
    p = strstr(h.detail, " bytes buffered");
    ck_assert_msg(p != NULL, "health detail: %s", h.detail);
    while (p > h.detail && p[-1] >= '0' && p[-1] <= '9')
        p--;
    return (size_t) strtoull(p, NULL, 10);
}

START_TEST(jsonl_long_line_is_not_buffered_whole)
{
    dest_jsonl_conf conf = { .path = path, .fsync = false, .flush_interval_ms = 100000 };
    cdc_dest        d = { .ops = &dest_jsonl_ops, .id = "jsonl-test" };
    cdc_err         err = { 0 };
    cdc_event       ev;
    FILE           *f;
    char           *line = NULL;
    size_t          cap = 0;
    ssize_t         n;
    int             lines = 0;

    ck_assert_msg(d.ops->open(&d, &conf, &env, &err) == 0, "open: %s", err.msg);
    ev = ev_at(0, "small", 5);
    ck_assert_int_eq(cdc_dest_write(&d, &ev, &err), 0);
    ev = ev_at(1, bigtext, BIG_LEN);
    ck_assert_msg(cdc_dest_write(&d, &ev, &err) == 0, "write: %s", err.msg);
    /* Without the drain the whole 10 MiB line sits in the buffer until write-out. */
    ck_assert_uint_lt(buffered(&d), (size_t) 2 << 20);
    ev = ev_at(2, "after", 5);
    ck_assert_int_eq(cdc_dest_write(&d, &ev, &err), 0);
    ck_assert_int_eq(cdc_dest_commit_txn(&d, &txn, &err), 0);
    ck_assert_int_eq(d.ops->flush(&d, 1000, &err), 0);
    d.ops->close(&d);

    f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    while ((n = getline(&line, &cap, f)) > 0) {
        json_error_t jerr;
        json_t      *root = json_loadb(line, (size_t) n, 0, &jerr);
        json_t      *body;

        ck_assert_msg(root != NULL, "line %d: %s", lines + 1, jerr.text);
        body = json_object_get(json_object_get(json_object_get(root, "value"), "after"), "body");
        if (lines == 1) {
            ck_assert_uint_eq(json_string_length(body), BIG_LEN);
            ck_assert(memcmp(json_string_value(body), bigtext, BIG_LEN) == 0);
        } else {
            ck_assert_str_eq(json_string_value(body), lines == 0 ? "small" : "after");
        }
        json_decref(root);
        lines++;
    }
    ck_assert_int_eq(lines, 3);
    free(line);
    fclose(f);
}
END_TEST

/*
 * A write that fails half-way through a long line (here the file size limit,
 * EFBIG) takes the line back off the file: the file holds whole lines only,
 * the event is refused with the reason, and it can be written again later.
 */
START_TEST(jsonl_line_failing_half_way_is_cut_off)
{
    dest_jsonl_conf conf = { .path = path, .fsync = false, .flush_interval_ms = 100000 };
    cdc_dest        d = { .ops = &dest_jsonl_ops, .id = "jsonl-test" };
    cdc_err         err = { 0 };
    cdc_event       ev;
    struct rlimit   rl, old;
    off_t           before;
    char           *text;
    size_t          len;

    signal(SIGXFSZ, SIG_IGN);   /* write() then fails with EFBIG instead of killing us */
    ck_assert_msg(d.ops->open(&d, &conf, &env, &err) == 0, "open: %s", err.msg);
    ev = ev_at(0, "small", 5);
    ck_assert_int_eq(cdc_dest_write(&d, &ev, &err), 0);
    ck_assert_int_eq(d.ops->flush(&d, 1000, &err), 0);
    before = file_size();
    ck_assert_int_gt(before, 0);
    ev = ev_at(1, "buffered", 8);   /* a whole line still in the buffer */
    ck_assert_int_eq(cdc_dest_write(&d, &ev, &err), 0);

    ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
    rl = (struct rlimit) { (rlim_t) 4 << 20, old.rlim_max };   /* the soft limit only */
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
    ev = ev_at(2, bigtext, BIG_LEN);
    ck_assert_int_eq(cdc_dest_write(&d, &ev, &err), -1);
    ck_assert_int_eq(err.code, CDC_E_IO);
    ck_assert_msg(strstr(err.msg, "write") != NULL && strstr(err.msg, path) != NULL,
                  "error: %s", err.msg);
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &old), 0);

    /* The earlier lines are whole in the file, nothing of the failed one. */
    text = NULL;
    {
        FILE *f = fopen(path, "r");

        ck_assert_ptr_nonnull(f);
        text = calloc(1, (size_t) file_size() + 1);
        len = fread(text, 1, (size_t) file_size(), f);
        fclose(f);
    }
    ck_assert_int_gt(len, 0);
    ck_assert_int_eq(text[len - 1], '\n');
    ck_assert_ptr_nonnull(strstr(text, "\"small\""));
    ck_assert_ptr_nonnull(strstr(text, "\"buffered\""));
    ck_assert_ptr_null(strstr(text, "abcdefgh"));
    free(text);

    /* The retry goes through once the file may grow. */
    ck_assert_msg(cdc_dest_write(&d, &ev, &err) == 0, "retry: %s", err.msg);
    ck_assert_int_eq(d.ops->flush(&d, 1000, &err), 0);
    ck_assert_int_gt(file_size(), (off_t) BIG_LEN);
    d.ops->close(&d);
}
END_TEST

/* The descriptor this process holds on the same file as st (the sink's), other than not1/not2. */
static int
fd_of(const struct stat *st, int not1, int not2)
{
    for (int fd = 3; fd < 1024; fd++) {
        struct stat s2;

        if (fd != not1 && fd != not2 && fstat(fd, &s2) == 0 && s2.st_ino == st->st_ino &&
            s2.st_dev == st->st_dev)
            return fd;
    }
    return -1;
}

/*
 * lseek failing at a long line's first drain (here the sink's descriptor made a pipe for a
 * moment: ESPIPE) writes nothing: the event is refused with the reason and the sink is not
 * broken.  Before, the line was taken as begun at a stale position and cut there (on a pipe
 * the cut failed: 'cutting off a partly written line', broken for good; on a file it could
 * cut lines already confirmed).
 */
START_TEST(jsonl_lseek_failure_cuts_nothing)
{
    dest_jsonl_conf conf = { .path = path, .fsync = false, .flush_interval_ms = 100000 };
    cdc_dest        d = { .ops = &dest_jsonl_ops, .id = "jsonl-test" };
    cdc_err         err = { 0 };
    cdc_event       ev;
    struct stat     st;
    int             sfd, saved, q[2];
    off_t           before;

    ck_assert_msg(d.ops->open(&d, &conf, &env, &err) == 0, "open: %s", err.msg);
    ck_assert_int_eq(stat(path, &st), 0);
    sfd = fd_of(&st, -1, -1);
    ck_assert_int_ge(sfd, 0);
    ev = ev_at(0, "small", 5);
    ck_assert_int_eq(cdc_dest_write(&d, &ev, &err), 0);
    ck_assert_int_eq(d.ops->flush(&d, 1000, &err), 0);
    before = file_size();
    saved = dup(sfd);
    ck_assert_int_eq(pipe(q), 0);
    ck_assert_int_ge(dup2(q[1], sfd), 0);
    ev = ev_at(1, bigtext, (size_t) 2 << 20);
    ck_assert_int_eq(cdc_dest_write(&d, &ev, &err), -1);
    ck_assert_msg(strstr(err.msg, "finding the end of the file") != NULL &&
                  strstr(err.msg, "Illegal seek") != NULL, "error: %s", err.msg);
    ck_assert_int_ge(dup2(saved, sfd), 0);
    close(saved);
    close(q[0]);
    close(q[1]);
    ck_assert_int_eq(file_size(), before);
    ck_assert_msg(cdc_dest_write(&d, &ev, &err) == 0, "retry: %s", err.msg);
    ck_assert_int_eq(d.ops->flush(&d, 1000, &err), 0);
    ck_assert_int_gt(file_size(), before + (off_t) (2 << 20));
    d.ops->close(&d);
}
END_TEST

/*
 * A pipe that takes nothing (non-blocking, full: EAGAIN) when a long line's first drain
 * comes: the event is refused and the sink goes on once the reader catches up; the reader
 * gets every line once and whole.  Before, any failed drain on a pipe marked the sink
 * broken ('a line was cut short'), though no byte of the line had gone out.
 */
START_TEST(jsonl_pipe_refusing_a_line_is_not_broken)
{
    dest_jsonl_conf conf = { .path = NULL, .fsync = false, .flush_interval_ms = 100000 };
    cdc_dest        d = { .ops = &dest_jsonl_ops, .id = "jsonl-test" };
    cdc_err         err = { 0 };
    cdc_event       ev;
    struct stat     st;
    char            pipepath[64], chunk[4096];
    int             p[2], sfd, status;
    size_t          filled = 0, len;
    pid_t           child;
    char           *text;
    FILE           *f;

    ck_assert_int_eq(pipe(p), 0);
    snprintf(pipepath, sizeof(pipepath), "/proc/self/fd/%d", p[1]);
    conf.path = pipepath;
    ck_assert_msg(d.ops->open(&d, &conf, &env, &err) == 0, "open: %s", err.msg);
    ck_assert_int_eq(fstat(p[1], &st), 0);
    sfd = fd_of(&st, p[0], p[1]);
    ck_assert_int_ge(sfd, 0);
    ck_assert_int_eq(fcntl(sfd, F_SETFL, fcntl(sfd, F_GETFL) | O_NONBLOCK), 0);
    ck_assert_int_eq(fcntl(p[1], F_SETFL, fcntl(p[1], F_GETFL) | O_NONBLOCK), 0);
    memset(chunk, 'x', sizeof(chunk));
    for (;;) {     /* fill the pipe */
        ssize_t w = write(p[1], chunk, sizeof(chunk));

        if (w <= 0)
            break;
        filled += (size_t) w;
    }
    ev = ev_at(0, "small", 5);     /* buffered */
    ck_assert_int_eq(cdc_dest_write(&d, &ev, &err), 0);
    ev = ev_at(1, bigtext, (size_t) 2 << 20);
    ck_assert_int_eq(cdc_dest_write(&d, &ev, &err), -1);
    ck_assert_msg(strstr(err.msg, "write") != NULL && strstr(err.msg, "cut short") == NULL,
                  "error: %s", err.msg);

    /* A reader catches up: a child copies the pipe to the file. */
    child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0) {
        int     out = open(path, O_WRONLY | O_TRUNC);
        ssize_t r;

        close(p[1]);
        close(sfd);
        while ((r = read(p[0], chunk, sizeof(chunk))) > 0)
            if (write(out, chunk, (size_t) r) != r)
                _exit(1);
        _exit(r == 0 ? 0 : 1);
    }
    close(p[0]);
    close(p[1]);
    ck_assert_int_eq(fcntl(sfd, F_SETFL, fcntl(sfd, F_GETFL) & ~O_NONBLOCK), 0);
    ck_assert_msg(cdc_dest_write(&d, &ev, &err) == 0, "retry: %s", err.msg);
    ck_assert_int_eq(cdc_dest_commit_txn(&d, &txn, &err), 0);
    ck_assert_msg(d.ops->flush(&d, 1000, &err) == 0, "flush: %s", err.msg);
    d.ops->close(&d);
    ck_assert_int_eq(waitpid(child, &status, 0), child);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    len = (size_t) file_size();
    text = calloc(1, len + 1);
    ck_assert_uint_eq(fread(text, 1, len, f), len);
    fclose(f);
    ck_assert_uint_gt(len, filled);
    for (size_t i = 0; i < filled; i++)
        ck_assert_int_eq(text[i], 'x');
    {   /* then exactly two lines: small, then the long one */
        char   *l1 = text + filled, *nl1 = strchr(l1, '\n'), *nl2;
        json_t *a, *b;

        ck_assert_ptr_nonnull(nl1);
        nl2 = strchr(nl1 + 1, '\n');
        ck_assert_ptr_nonnull(nl2);
        ck_assert_uint_eq((size_t) (nl2 + 1 - text), len);
        a = json_loadb(l1, (size_t) (nl1 - l1), 0, NULL);
        b = json_loadb(nl1 + 1, (size_t) (nl2 - nl1 - 1), 0, NULL);
        ck_assert_ptr_nonnull(a);
        ck_assert_ptr_nonnull(b);
        ck_assert_str_eq(json_string_value(json_object_get(json_object_get(
                         json_object_get(a, "value"), "after"), "body")), "small");
        ck_assert_uint_eq(json_string_length(json_object_get(json_object_get(
                          json_object_get(b, "value"), "after"), "body")), (size_t) 2 << 20);
        json_decref(a);
        json_decref(b);
    }
    free(text);
}
END_TEST

/* ---- the decoder ---- */

START_TEST(tuple_strings_borrow_from_the_message)
{
    cdc_arena    *a = cdc_arena_new(4096);
    pgo_type_opts o = { 0 };
    pgo_datum     dat[2] = { { 't', 2, "42" }, { 't', (uint32_t) BIG_LEN, NULL } };
    pgo_tuple     tup = { 2, dat };
    cdc_err       err = { 0 };
    cdc_value    *v;

    cols[0].type_oid = 23;
    cols[1].type_oid = 25;
    dat[1].data = bigtext;
    v = pgo_tuple_values(&rel, &tup, &o, a, &err);
    ck_assert_msg(v != NULL, "%s", err.msg);
    ck_assert_ptr_eq(v[1].u.s.p, bigtext);
    ck_assert_uint_eq(v[1].u.s.n, BIG_LEN);
    ck_assert_uint_lt(cdc_arena_footprint(a), 64 * 1024);

    o.max_value_bytes = BIG_LEN - 1;
    ck_assert_ptr_null(pgo_tuple_values(&rel, &tup, &o, a, &err));
    ck_assert_int_eq(err.code, CDC_E_CONFIG);
    ck_assert_str_eq(err.msg, "public.big: column body: a value of 10.0 MB (10485760 bytes) is "
                     "over agent.max_value_mb (9); raise it in platform.yaml (at most 1024) to "
                     "capture the row");
    cdc_arena_free(a);
}
END_TEST

/* A text[] of 2,000 quoted elements: each used to get an allocation of the whole array. */
START_TEST(quoted_array_elements_sized_to_fit)
{
    cdc_arena    *a = cdc_arena_new(4096);
    pgo_type_opts o = { 0 };
    cdc_col       col = { .name = "tags", .type_oid = 1009,
                          .ctype = { .supported = true, .kind = CDC_CT_ARRAY,
                                     .elem_kind = CDC_CT_STRING } };
    cdc_buf       text = CDC_BUF_INIT;
    cdc_value     v;
    cdc_err       err = { 0 };

    cdc_buf_putc(&text, '{');
    for (int i = 0; i < 2000; i++)
        cdc_buf_printf(&text, "%s\"a b \\\"%0200d\"", i ? "," : "", i);
    cdc_buf_putc(&text, '}');
    ck_assert_msg(pgo_value_from_text(&col, (const char *) text.data, text.len, &o, a, &v,
                                      &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(v.u.arr.n, 2000);
    ck_assert_uint_eq(v.u.arr.items[1999].u.s.n, 205);
    ck_assert(memcmp(v.u.arr.items[1999].u.s.p, "a b \"", 5) == 0);
    /* Before: 2,000 x 420 kB = 840 MB of arena for a 420 kB array. */
    ck_assert_uint_lt(cdc_arena_footprint(a), 4 * text.len);
    cdc_buf_free(&text);
    cdc_arena_free(a);
}
END_TEST

/* bytea is decoded from hex straight into base64 / lower-case hex: every tail length. */
START_TEST(bytea_modes_without_a_decoded_copy)
{
    static const char *b64[] = { "", "AQ==", "AQI=", "AQID", "AQIDBA==", "AQIDBAU=",
                                 "AQIDBAUG", "AQIDBAUGBw==" };
    static const char *hexout[] = { "", "01", "0102", "010203", "01020304", "0102030405",
                                    "010203040506", "01020304050607" };
    cdc_arena    *a = cdc_arena_new(4096);
    pgo_type_opts o = { 0 };
    cdc_col       col = { .name = "b", .type_oid = 17,
                          .ctype = { .supported = true, .kind = CDC_CT_STRING } };
    cdc_value     v;
    cdc_err       err = { 0 };
    char          text[32];

    for (int n = 0; n < 8; n++) {
        strcpy(text, "\\x");
        for (int i = 0; i < n; i++)
            snprintf(text + 2 + 2 * i, 3, "%02X", i + 1);
        o.binary_mode = PGO_BINARY_BASE64;
        ck_assert_int_eq(pgo_value_from_text(&col, text, strlen(text), &o, a, &v, &err), 0);
        ck_assert_uint_eq(v.u.s.n, strlen(b64[n]));
        ck_assert(memcmp(v.u.s.p, b64[n], v.u.s.n) == 0);
        o.binary_mode = PGO_BINARY_HEX;
        ck_assert_int_eq(pgo_value_from_text(&col, text, strlen(text), &o, a, &v, &err), 0);
        ck_assert_uint_eq(v.u.s.n, strlen(hexout[n]));
        ck_assert(memcmp(v.u.s.p, hexout[n], v.u.s.n) == 0);
    }
    for (int m = 0; m < 3; m++) {
        o.binary_mode = m == 0 ? PGO_BINARY_BASE64 : m == 1 ? PGO_BINARY_HEX : PGO_BINARY_BYTES;
        ck_assert_int_eq(pgo_value_from_text(&col, "\\x0102zz04", 10, &o, a, &v, &err), -1);
        ck_assert_int_eq(err.code, CDC_E_DECODE);
        ck_assert_ptr_nonnull(strstr(err.msg, "not a hex bytea"));
    }
    cdc_arena_free(a);
}
END_TEST

/* The snapshot's decode: strings point into the text, a bytea is decoded over it. */
START_TEST(snapshot_decode_borrows_and_decodes_in_place)
{
    cdc_arena    *a = cdc_arena_new(4096);
    pgo_type_opts o = { 0 };
    cdc_col       bcol = { .name = "b", .type_oid = 17,
                           .ctype = { .supported = true, .kind = CDC_CT_BYTES } };
    cdc_col       tcol = { .name = "t", .type_oid = 25,
                           .ctype = { .supported = true, .kind = CDC_CT_STRING } };
    cdc_value     v;
    cdc_err       err = { 0 };
    char          hex[] = "\\xdeadBEEF00", bad[] = "\\xdeadzz", txt[] = "hello";

    ck_assert_int_eq(pgo_value_from_text_borrow(&bcol, hex, strlen(hex), &o, a, &v, &err), 0);
    ck_assert_ptr_eq(v.u.s.p, hex);
    ck_assert_uint_eq(v.u.s.n, 5);
    ck_assert(memcmp(v.u.s.p, "\xde\xad\xbe\xef\x00", 5) == 0);
    /* A bad digit is found before anything is overwritten: the error quotes the text. */
    ck_assert_int_eq(pgo_value_from_text_borrow(&bcol, bad, strlen(bad), &o, a, &v, &err), -1);
    ck_assert_str_eq(err.msg, "column b: not a hex bytea: '\\xdeadzz'");
    ck_assert_str_eq(bad, "\\xdeadzz");
    ck_assert_int_eq(pgo_value_from_text_borrow(&tcol, txt, 5, &o, a, &v, &err), 0);
    ck_assert_ptr_eq(v.u.s.p, txt);
    cdc_arena_free(a);
}
END_TEST

static Suite *
bigvalue_suite(void)
{
    Suite *s = suite_create("bigvalue");
    TCase *tc;

    tc = tcase_create("buf");
    tcase_add_test(tc, buf_drain_keeps_buffer_small);
    tcase_add_test(tc, buf_drain_failure_is_sticky);
    suite_add_tcase(s, tc);

    tc = tcase_create("jsonl");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, jsonl_long_line_is_not_buffered_whole);
    tcase_add_test(tc, jsonl_line_failing_half_way_is_cut_off);
    tcase_add_test(tc, jsonl_lseek_failure_cuts_nothing);
    tcase_add_test(tc, jsonl_pipe_refusing_a_line_is_not_broken);
    tcase_add_test(tc, tuple_strings_borrow_from_the_message);
    tcase_add_test(tc, quoted_array_elements_sized_to_fit);
    tcase_add_test(tc, bytea_modes_without_a_decoded_copy);
    tcase_add_test(tc, snapshot_decode_borrows_and_decodes_in_place);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(bigvalue_suite());
    int      nfailed;

    srunner_run_all(sr, CK_ENV);
    nfailed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return nfailed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

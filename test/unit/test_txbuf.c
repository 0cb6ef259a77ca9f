/*
 * Unit tests for agent/pipeline/txbuf.c: streamed transactions buffered in memory and
 * spill files.  Every case runs in a fresh temporary spill directory and
 * checks that it is empty again at the end (spill files are unlinked at once).
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/pipeline/txbuf.h"

static char spill_dir[] = "/tmp/cdc-txbuf-XXXXXX";

/* Entries in the spill directory other than . and .. */
static int
dir_entries(const char *dir)
{
    DIR           *d = opendir(dir);
    struct dirent *e;
    int            n = 0;

    ck_assert_msg(d != NULL, "opendir %s: %s", dir, strerror(errno));
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

static void
setup(void)
{
    strcpy(spill_dir, "/tmp/cdc-txbuf-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(spill_dir));
}

static void
teardown(void)
{
    ck_assert_int_eq(dir_entries(spill_dir), 0);
    rmdir(spill_dir);
}

/* ---- a collector of replayed messages, as "name@xid" joined by ',' ---- */

typedef struct collect {
    char     out[512];
    size_t   n;
    size_t   stop_after;    /* return -1 on this call (1-based); 0 = never */
    uint64_t last_lsn;
} collect;

static int
collect_fn(void *arg, uint32_t msg_xid, const uint8_t *msg, size_t len, uint64_t wal_lsn)
{
    collect *c = arg;
    size_t   used = strlen(c->out);

    snprintf(c->out + used, sizeof(c->out) - used, "%s%.*s@%u", used ? "," : "", (int) len,
             (const char *) msg, msg_xid);
    c->last_lsn = wal_lsn;
    if (++c->n == c->stop_after)
        return -1;
    return 0;
}

static void
append_str(agent_txbuf *tb, uint32_t top, uint32_t xid, const char *s, uint64_t lsn)
{
    cdc_err err = { 0 };

    ck_assert_msg(agent_txbuf_append(tb, top, xid, (const uint8_t *) s, strlen(s), lsn, &err) == 0,
                  "append %s: %s", s, err.msg);
}

static const char *
replay_str(agent_txbuf *tb, uint32_t xid, collect *c)
{
    cdc_err err = { 0 };

    memset(c, 0, sizeof(*c));
    ck_assert_msg(agent_txbuf_replay(tb, xid, collect_fn, c, &err) == 0, "replay: %s", err.msg);
    return c->out;
}

/*
 * Memory limits every table case runs under: all in memory, a limit of one
 * small block (older chunks in the file, a tail in memory), and nothing in
 * memory at all.
 */
static const size_t limits[] = { 1 << 20, 600, 0 };
#define NLIMITS (sizeof(limits) / sizeof(limits[0]))

/* ---- interleaving ---- */

START_TEST(interleaved_replay_in_order)
{
    cdc_err      err = { 0 };
    agent_txbuf *tb = agent_txbuf_new(limits[_i], spill_dir, &err);
    collect      c;
    char         msg[16];

    ck_assert_msg(tb != NULL, "%s", err.msg);
    /* Three transactions' chunks interleaved, as between Stream Start/Stop. */
    for (int chunk = 0; chunk < 30; chunk++)
        for (int k = 0; k < 3; k++) {
            snprintf(msg, sizeof(msg), "m%d", chunk * 3 + k);
            append_str(tb, (uint32_t) (700 + chunk % 3), (uint32_t) (700 + chunk % 3), msg,
                       (uint64_t) (chunk * 3 + k));
        }
    replay_str(tb, 701, &c);
    ck_assert_uint_eq(c.n, 30);
    ck_assert(strncmp(c.out, "m3@701,m4@701,m5@701,m12@701,", 29) == 0);
    ck_assert_uint_eq(c.last_lsn, 3 * 28 + 2);
    agent_txbuf_discard(tb, 701);
    ck_assert_uint_eq(replay_str(tb, 701, &c)[0], '\0');     /* gone */
    replay_str(tb, 700, &c);
    ck_assert_uint_eq(c.n, 30);
    ck_assert(strncmp(c.out, "m0@700,m1@700,m2@700,m9@700,", 28) == 0);
    replay_str(tb, 702, &c);                 /* replay does not consume */
    replay_str(tb, 702, &c);
    ck_assert_uint_eq(c.n, 30);
    agent_txbuf_free(tb);
}
END_TEST

/* ---- aborts: one stream, several aborts, each case under every limit ---- */

/* Top-level 100 with subtransactions 101 and 102; 200 interleaved. */
static const struct {
    uint32_t    top, xid;
    const char *msg;
} stream[] = {
    { 100, 100, "a" }, { 200, 200, "x" }, { 100, 101, "b" }, { 100, 101, "c" },
    { 100, 102, "d" }, { 200, 200, "y" }, { 100, 100, "e" }, { 100, 102, "f" },
};

static const struct {
    const char *name;
    uint32_t    abort_top[2], abort_sub[2];     /* up to two aborts, 0 = none */
    const char *want100, *want200;
} abort_cases[] = {
    { "none", { 0 }, { 0 }, "a@100,b@101,c@101,d@102,e@100,f@102", "x@200,y@200" },
    { "whole 100", { 100 }, { 100 }, "", "x@200,y@200" },
    { "whole 200", { 200 }, { 200 }, "a@100,b@101,c@101,d@102,e@100,f@102", "" },
    { "sub 101", { 100 }, { 101 }, "a@100,d@102,e@100,f@102", "x@200,y@200" },
    { "sub 102", { 100 }, { 102 }, "a@100,b@101,c@101,e@100", "x@200,y@200" },
    { "subs 102, 101", { 100, 100 }, { 102, 101 }, "a@100,e@100", "x@200,y@200" },
    { "sub 101 twice", { 100, 100 }, { 101, 101 }, "a@100,d@102,e@100,f@102", "x@200,y@200" },
    { "sub of the wrong top", { 200 }, { 101 }, "a@100,b@101,c@101,d@102,e@100,f@102",
      "x@200,y@200" },
    { "unknown top", { 999, 999 }, { 999, 998 }, "a@100,b@101,c@101,d@102,e@100,f@102",
      "x@200,y@200" },
};
#define NABORT_CASES (sizeof(abort_cases) / sizeof(abort_cases[0]))

START_TEST(abort_filters)
{
    size_t       ci = (size_t) _i / NLIMITS;
    size_t       limit = limits[(size_t) _i % NLIMITS];
    cdc_err      err = { 0 };
    agent_txbuf *tb = agent_txbuf_new(limit, spill_dir, &err);
    collect      c;

    ck_assert_msg(tb != NULL, "%s", err.msg);
    for (size_t k = 0; k < sizeof(stream) / sizeof(stream[0]); k++)
        append_str(tb, stream[k].top, stream[k].xid, stream[k].msg, k);
    for (int k = 0; k < 2 && abort_cases[ci].abort_top[k] != 0; k++)
        ck_assert_int_eq(agent_txbuf_abort(tb, abort_cases[ci].abort_top[k],
                                           abort_cases[ci].abort_sub[k], &err), 0);
    ck_assert_msg(strcmp(replay_str(tb, 100, &c), abort_cases[ci].want100) == 0,
                  "%s, limit %zu: xid 100 replayed \"%s\"", abort_cases[ci].name, limit, c.out);
    ck_assert_msg(strcmp(replay_str(tb, 200, &c), abort_cases[ci].want200) == 0,
                  "%s, limit %zu: xid 200 replayed \"%s\"", abort_cases[ci].name, limit, c.out);
    ck_assert_uint_le(agent_txbuf_mem(tb), limit);
    agent_txbuf_free(tb);
}
END_TEST

START_TEST(abort_whole_frees_memory)
{
    agent_txbuf *tb = agent_txbuf_new(1 << 20, spill_dir, NULL);

    append_str(tb, 5, 5, "hello", 1);
    ck_assert_uint_gt(agent_txbuf_mem(tb), 0);
    ck_assert_int_eq(agent_txbuf_abort(tb, 5, 5, NULL), 0);
    ck_assert_uint_eq(agent_txbuf_mem(tb), 0);
    agent_txbuf_free(tb);
}
END_TEST

/* ---- callback stop, argument errors ---- */

START_TEST(callback_stops_replay)
{
    agent_txbuf *tb = agent_txbuf_new(limits[_i], spill_dir, NULL);
    collect      c = { .stop_after = 2 };
    cdc_err      err = { 0 };

    append_str(tb, 9, 9, "one", 1);
    append_str(tb, 9, 9, "two", 2);
    append_str(tb, 9, 9, "three", 3);
    ck_assert_int_eq(agent_txbuf_replay(tb, 9, collect_fn, &c, &err), -1);
    ck_assert_uint_eq(c.n, 2);
    ck_assert_str_eq(c.out, "one@9,two@9");
    ck_assert_int_eq(err.code, CDC_OK);     /* fn's failure is fn's to report */
    agent_txbuf_free(tb);
}
END_TEST

START_TEST(invalid_arguments)
{
    cdc_err      err = { 0 };
    agent_txbuf *tb = agent_txbuf_new(4096, spill_dir, &err);
    collect      c;

    ck_assert_int_eq(agent_txbuf_append(tb, 0, 0, (const uint8_t *) "x", 1, 1, &err), -1);
    ck_assert_int_eq(err.code, CDC_E_INVAL);
    ck_assert_int_eq(agent_txbuf_abort(tb, 0, 0, &err), -1);
    ck_assert_int_eq(err.code, CDC_E_INVAL);
    ck_assert_int_eq(agent_txbuf_abort(tb, 42, 43, &err), 0);      /* unknown: fine */
    agent_txbuf_discard(tb, 42);
    ck_assert_str_eq(replay_str(tb, 42, &c), "");
    ck_assert_int_eq(agent_txbuf_append(tb, 7, 7, NULL, 0, 1, &err), 0);   /* empty message */
    ck_assert_str_eq(replay_str(tb, 7, &c), "@7");
    agent_txbuf_free(tb);
    agent_txbuf_free(NULL);
    ck_assert_ptr_null(agent_txbuf_new(4096, NULL, &err));
    ck_assert_int_eq(err.code, CDC_E_INVAL);
}
END_TEST

/* ---- spilling ---- */

#define BIG_N     1000000
#define BIG_LIMIT (1 << 20)

typedef struct big_check {
    uint32_t next;      /* index expected next */
    size_t   mem_seen;
} big_check;

/* Message i is its index (4 bytes) followed by i % 29 bytes of (i & 0xff). */
static size_t
big_msg(uint32_t i, uint8_t *buf)
{
    size_t pad = i % 29;

    memcpy(buf, &i, 4);
    memset(buf + 4, (int) (i & 0xff), pad);
    return 4 + pad;
}

static int
big_fn(void *arg, uint32_t msg_xid, const uint8_t *msg, size_t len, uint64_t wal_lsn)
{
    big_check *bc = arg;
    uint8_t    want[64];
    size_t     wlen = big_msg(bc->next, want);

    if (msg_xid != 1000 || len != wlen || memcmp(msg, want, len) != 0 ||
        wal_lsn != 0x1000000ULL + bc->next)
        return -1;
    bc->next++;
    return 0;
}

START_TEST(million_messages_spill_and_replay)
{
    cdc_err      err = { 0 };
    agent_txbuf *tb = agent_txbuf_new(BIG_LIMIT, spill_dir, &err);
    big_check    bc = { 0 };
    uint8_t      buf[64];
    collect      c;

    ck_assert_msg(tb != NULL, "%s", err.msg);
    for (uint32_t i = 0; i < BIG_N; i++) {
        size_t len = big_msg(i, buf);

        if (agent_txbuf_append(tb, 1000, 1000, buf, len, 0x1000000ULL + i, &err) != 0)
            ck_abort_msg("append %u: %s", i, err.msg);
        if (agent_txbuf_mem(tb) > BIG_LIMIT)
            ck_abort_msg("append %u: mem %zu over the limit", i, agent_txbuf_mem(tb));
        /* A small transaction interleaved, now and then. */
        if (i % 100000 == 0)
            append_str(tb, 2000, 2000, "s", i);
    }
    ck_assert_uint_gt(agent_txbuf_spilled(tb), (uint64_t) 10 * BIG_LIMIT);
    ck_assert_int_eq(dir_entries(spill_dir), 0);    /* spill files are unlinked */

    ck_assert_msg(agent_txbuf_replay(tb, 1000, big_fn, &bc, &err) == 0,
                  "replay stopped at message %u: %s", bc.next, err.code ? err.msg : "mismatch");
    ck_assert_uint_eq(bc.next, BIG_N);
    ck_assert_uint_le(agent_txbuf_mem(tb), BIG_LIMIT);
    replay_str(tb, 2000, &c);
    ck_assert_uint_eq(c.n, 10);
    agent_txbuf_discard(tb, 1000);
    agent_txbuf_discard(tb, 2000);
    ck_assert_uint_eq(agent_txbuf_mem(tb), 0);
    agent_txbuf_free(tb);
}
END_TEST

/* Messages larger than the limit and larger than the replay read chunk. */
START_TEST(oversized_messages)
{
    static const size_t sizes[] = { 10, 5000, 300 * 1024, 0, 70 * 1024, 3 };
    agent_txbuf *tb = agent_txbuf_new(4096, spill_dir, NULL);
    uint8_t     *buf = malloc(300 * 1024);
    collect      c;
    size_t       k = 0;

    ck_assert_ptr_nonnull(buf);
    for (k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        memset(buf, 'a' + (int) k, sizes[k]);
        ck_assert_int_eq(agent_txbuf_append(tb, 3, 3, buf, sizes[k], k, NULL), 0);
        ck_assert_uint_le(agent_txbuf_mem(tb), 4096);
    }
    memset(&c, 0, sizeof(c));
    ck_assert_int_eq(agent_txbuf_replay(tb, 3, collect_fn, &c, NULL), 0);
    ck_assert_uint_eq(c.n, k);
    ck_assert_uint_eq(c.last_lsn, k - 1);
    agent_txbuf_free(tb);
    free(buf);
}
END_TEST

typedef struct lens {
    size_t len[8];
    size_t n;
} lens;

static int
lens_fn(void *arg, uint32_t msg_xid, const uint8_t *msg, size_t len, uint64_t wal_lsn)
{
    lens *l = arg;

    (void) msg_xid;
    ck_assert_uint_lt(l->n, 8);
    ck_assert_uint_eq(wal_lsn, l->n);
    ck_assert_msg(len == 0 || (msg[0] == 'a' + (int) l->n && msg[len - 1] == 'a' + (int) l->n),
                  "message %zu has the wrong bytes", l->n);
    l->len[l->n++] = len;
    return 0;
}

/*
 * A message of 8 MiB or more goes straight to the spill file even when the
 * limit would hold it, so it is never in memory twice (the caller's copy and
 * ours); what was in memory before it is spilled first, to keep the order.
 */
START_TEST(large_message_goes_to_file)
{
    static const size_t sizes[] = { 100, 9u << 20, 200, 8u << 20, 5 };
    agent_txbuf *tb = agent_txbuf_new((size_t) 256 << 20, spill_dir, NULL);
    uint8_t     *buf = malloc(9u << 20);
    lens         l = { { 0 }, 0 };
    size_t       k;

    ck_assert_ptr_nonnull(buf);
    for (k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        memset(buf, 'a' + (int) k, sizes[k]);
        ck_assert_int_eq(agent_txbuf_append(tb, 9, 9, buf, sizes[k], k, NULL), 0);
        if (sizes[k] >= 8u << 20)
            ck_assert_uint_eq(agent_txbuf_mem(tb), 0);
        else
            ck_assert_uint_lt(agent_txbuf_mem(tb), 64 * 1024);
    }
    ck_assert_uint_ge(agent_txbuf_spilled(tb), (17u << 20) + 300);
    ck_assert_int_eq(agent_txbuf_replay(tb, 9, lens_fn, &l, NULL), 0);
    ck_assert_uint_eq(l.n, k);
    for (k = 0; k < l.n; k++)
        ck_assert_uint_eq(l.len[k], sizes[k]);
    agent_txbuf_free(tb);
    free(buf);
}
END_TEST

/* Enough transactions to grow the xid table, half of them discarded; all in
 * memory, then with most of them spilled. */
START_TEST(many_transactions)
{
    size_t       limit = _i == 0 ? 1 << 20 : 16 * 1024;
    agent_txbuf *tb = agent_txbuf_new(limit, spill_dir, NULL);
    collect      c;
    char         msg[16];

    for (int round = 0; round < 3; round++)
        for (uint32_t x = 1; x <= 300; x++) {
            snprintf(msg, sizeof(msg), "%u.%d", x, round);
            append_str(tb, x, x, msg, x);
            ck_assert_uint_le(agent_txbuf_mem(tb), limit);
        }
    ck_assert(_i == 0 ? agent_txbuf_spilled(tb) == 0 : agent_txbuf_spilled(tb) > 0);
    for (uint32_t x = 1; x <= 300; x += 2)
        agent_txbuf_discard(tb, x);
    for (uint32_t x = 1; x <= 300; x++) {
        char want[64] = "";

        if (x % 2 == 0)
            snprintf(want, sizeof(want), "%u.0@%u,%u.1@%u,%u.2@%u", x, x, x, x, x, x);
        ck_assert_str_eq(replay_str(tb, x, &c), want);
    }
    agent_txbuf_free(tb);
}
END_TEST

/* ---- spill directory errors ---- */

static const struct {
    const char *dir;
    const char *want;       /* substring of the message */
} bad_dirs[] = {
    { "/nonexistent-cdc-spill/dir", "/nonexistent-cdc-spill/dir" },
    { "/dev/null", "/dev/null: not a directory" },
    { "/dev/null/x", "/dev/null/x" },
};

START_TEST(spill_dir_unusable_at_start)
{
    cdc_err err = { 0 };

    ck_assert_ptr_null(agent_txbuf_new(4096, bad_dirs[_i].dir, &err));
    ck_assert_int_eq(err.code, CDC_E_IO);
    ck_assert_msg(strstr(err.msg, bad_dirs[_i].want) != NULL, "message: %s", err.msg);
}
END_TEST

/*
 * The directory goes away after start: the append that must spill fails
 * naming it, keeps what was stored, and works again once it is back.
 */
START_TEST(spill_dir_lost_later)
{
    cdc_err      err = { 0 };
    agent_txbuf *tb = agent_txbuf_new(1024, spill_dir, &err);
    uint8_t      buf[400];
    collect      c;
    int          rc = 0;
    uint32_t     i;

    ck_assert_msg(tb != NULL, "%s", err.msg);
    memset(buf, 'z', sizeof(buf));
    ck_assert_int_eq(rmdir(spill_dir), 0);
    for (i = 0; i < 20 && rc == 0; i++)
        rc = agent_txbuf_append(tb, 11, 11, buf, sizeof(buf), i, &err);
    ck_assert_int_eq(rc, -1);
    ck_assert_int_eq(err.code, CDC_E_IO);
    ck_assert_msg(strstr(err.msg, spill_dir) != NULL, "message: %s", err.msg);
    ck_assert_uint_le(agent_txbuf_mem(tb), 1024);

    ck_assert_int_eq(mkdir(spill_dir, 0700), 0);
    ck_assert_int_eq(agent_txbuf_append(tb, 11, 11, buf, sizeof(buf), 99, &err), 0);
    memset(&c, 0, sizeof(c));
    ck_assert_int_eq(agent_txbuf_replay(tb, 11, collect_fn, &c, &err), 0);
    ck_assert_uint_eq(c.n, i);      /* the i - 1 stored before the failure, plus one */
    ck_assert_uint_eq(c.last_lsn, 99);
    agent_txbuf_free(tb);
}
END_TEST

/* Permission bits do not stop root, so this case runs only as another user. */
START_TEST(spill_dir_read_only)
{
    cdc_err      err = { 0 };
    agent_txbuf *tb;
    uint8_t      buf[600] = { 0 };

    if (geteuid() == 0)
        return;
    tb = agent_txbuf_new(512, spill_dir, &err);
    ck_assert_msg(tb != NULL, "%s", err.msg);
    ck_assert_int_eq(chmod(spill_dir, 0500), 0);
    ck_assert_int_eq(agent_txbuf_append(tb, 1, 1, buf, sizeof(buf), 1, &err), -1);
    ck_assert_int_eq(err.code, CDC_E_IO);
    ck_assert_msg(strstr(err.msg, spill_dir) != NULL, "message: %s", err.msg);
    chmod(spill_dir, 0700);
    agent_txbuf_free(tb);
}
END_TEST

/*
 * A reconnect clears every open transaction, even one whose last message was
 * large enough to go straight to the file (nothing left in memory).
 */
START_TEST(clear_forgets_spilled_and_in_memory)
{
    cdc_err      err = { 0 };
    agent_txbuf *tb = agent_txbuf_new(1 << 20, spill_dir, &err);
    size_t       big = (size_t) 9 * 1024 * 1024;
    uint8_t     *buf = calloc(1, big);
    collect      c;

    ck_assert_msg(tb != NULL && buf != NULL, "%s", err.msg);
    append_str(tb, 100, 100, "a", 1);
    append_str(tb, 200, 200, "x", 2);
    ck_assert_int_eq(agent_txbuf_append(tb, 100, 100, buf, big, 3, &err), 0);
    free(buf);
    ck_assert_int_eq(agent_txbuf_count(tb), 2);
    agent_txbuf_clear(tb);
    ck_assert_int_eq(agent_txbuf_count(tb), 0);
    ck_assert_uint_eq(agent_txbuf_mem(tb), 0);
    ck_assert_str_eq(replay_str(tb, 100, &c), "");
    ck_assert_str_eq(replay_str(tb, 200, &c), "");
    /* Still usable: the re-sent first segment starts the transaction over. */
    append_str(tb, 100, 100, "a", 1);
    ck_assert_str_eq(replay_str(tb, 100, &c), "a@100");
    agent_txbuf_clear(NULL);
    agent_txbuf_free(tb);
}
END_TEST

static Suite *
txbuf_suite(void)
{
    Suite *s = suite_create("txbuf");
    TCase *tc;

    tc = tcase_create("replay");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, interleaved_replay_in_order, 0, (int) NLIMITS);
    tcase_add_loop_test(tc, callback_stops_replay, 0, (int) NLIMITS);
    tcase_add_test(tc, invalid_arguments);
    tcase_add_loop_test(tc, many_transactions, 0, 2);
    suite_add_tcase(s, tc);

    tc = tcase_create("abort");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, abort_filters, 0, (int) (NABORT_CASES * NLIMITS));
    tcase_add_test(tc, abort_whole_frees_memory);
    suite_add_tcase(s, tc);

    tc = tcase_create("spill");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, million_messages_spill_and_replay);
    tcase_add_test(tc, oversized_messages);
    tcase_add_test(tc, large_message_goes_to_file);
    tcase_add_test(tc, clear_forgets_spilled_and_in_memory);
    tcase_add_loop_test(tc, spill_dir_unusable_at_start, 0,
                        (int) (sizeof(bad_dirs) / sizeof(bad_dirs[0])));
    tcase_add_test(tc, spill_dir_lost_later);
    tcase_add_test(tc, spill_dir_read_only);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(txbuf_suite());
    int      nfailed;

    srunner_run_all(sr, CK_ENV);
    nfailed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return nfailed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

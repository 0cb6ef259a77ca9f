/*
 * Suite "keyq": per-key order (agent/core/dest/keyq.c): one unit in flight
 * per key, items of a key in push order, a failed unit back at the head of
 * its key and the key held until its retry time, ready keys FIFO, due held
 * keys at the front, idle keys freed.  A randomised model check (fixed seed)
 * compares every answer against a simple array-based reference.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/core/dest/keyq.h"
#include "test/lib/suite_main.h"

/* Items are small integers stored in the pointer: id + 1 (never NULL). */
#define IT(i)  ((void *) (uintptr_t) ((i) + 1))
#define ID(p)  ((long) ((uintptr_t) (p) - 1))

static void
push_s(dest_keyq *q, const char *key, long id, size_t bytes)
{
    dest_keyq_push(q, key, strlen(key), IT(id), bytes);
}

static void
ck_key(dest_keyq_key *k, const char *want)
{
    size_t      klen;
    const void *kb;

    ck_assert_ptr_nonnull(k);
    kb = dest_keyq_key_bytes(k, &klen);
    ck_assert_uint_eq(klen, strlen(want));
    ck_assert(memcmp(kb, want, klen) == 0);
}

START_TEST(one_unit_per_key_in_order)
{
    dest_keyq     *q = dest_keyq_new();
    dest_keyq_key *a, *b;
    size_t         by;

    ck_assert_ptr_null(dest_keyq_next(q, 0));
    push_s(q, "a", 1, 10);
    push_s(q, "b", 2, 20);
    push_s(q, "a", 3, 30);
    ck_assert_uint_eq(dest_keyq_items(q), 3);
    ck_assert_uint_eq(dest_keyq_bytes(q), 60);
    ck_assert_uint_eq(dest_keyq_keys(q), 2);

    a = dest_keyq_next(q, 0);
    ck_key(a, "a");
    ck_assert_uint_eq(dest_keyq_busy(q), 1);
    ck_assert_int_eq(ID(dest_keyq_peek(a, &by)), 1);
    ck_assert_uint_eq(by, 10);
    ck_assert_int_eq(ID(dest_keyq_take(q, a)), 1);
    ck_assert_uint_eq(dest_keyq_items(q), 2);
    ck_assert_uint_eq(dest_keyq_bytes(q), 50);

    b = dest_keyq_next(q, 0);
    ck_key(b, "b");
    ck_assert_int_eq(ID(dest_keyq_take(q, b)), 2);
    ck_assert_ptr_null(dest_keyq_peek(b, &by));
    ck_assert_ptr_null(dest_keyq_take(q, b));
    /* a is busy: its second item waits. */
    ck_assert_ptr_null(dest_keyq_next(q, 0));
    ck_assert_uint_eq(dest_keyq_busy(q), 2);

    /* b done with nothing waiting: freed. */
    dest_keyq_done(q, b);
    ck_assert_uint_eq(dest_keyq_keys(q), 1);
    ck_assert_uint_eq(dest_keyq_busy(q), 1);
    dest_keyq_done(q, a);
    ck_assert_uint_eq(dest_keyq_busy(q), 0);
    a = dest_keyq_next(q, 0);
    ck_key(a, "a");
    ck_assert_int_eq(ID(dest_keyq_take(q, a)), 3);
    dest_keyq_done(q, a);
    ck_assert_uint_eq(dest_keyq_keys(q), 0);
    ck_assert_uint_eq(dest_keyq_items(q), 0);
    ck_assert_uint_eq(dest_keyq_bytes(q), 0);
    ck_assert_ptr_null(dest_keyq_next(q, 0));
    dest_keyq_free(q, NULL);
}
END_TEST

/* Pub/Sub: a run of a key's items fails; items pushed meanwhile stay behind it. */
START_TEST(retry_puts_items_back_at_the_head)
{
    dest_keyq     *q = dest_keyq_new();
    dest_keyq_key *k;
    void          *it[2];
    size_t         by[2];

    push_s(q, "k", 1, 100);
    push_s(q, "k", 2, 200);
    k = dest_keyq_next(q, 1000);
    for (int i = 0; i < 2; i++) {
        ck_assert_ptr_nonnull(dest_keyq_peek(k, &by[i]));
        it[i] = dest_keyq_take(q, k);
    }
    push_s(q, "k", 3, 300);
    ck_assert_uint_eq(dest_keyq_items(q), 1);
    ck_assert_uint_eq(dest_keyq_bytes(q), 300);

    dest_keyq_retry(q, k, it, by, 2, 1500);
    ck_assert_uint_eq(dest_keyq_items(q), 3);
    ck_assert_uint_eq(dest_keyq_bytes(q), 600);
    ck_assert_uint_eq(dest_keyq_busy(q), 0);
    ck_assert_uint_eq(dest_keyq_held(q), 1);
    ck_assert_int_eq(dest_keyq_due_ms(q), 1500);
    ck_assert_ptr_null(dest_keyq_next(q, 1499));

    k = dest_keyq_next(q, 1500);
    ck_key(k, "k");
    ck_assert_uint_eq(dest_keyq_held(q), 0);
    ck_assert_int_eq(dest_keyq_due_ms(q), INT64_MAX);
    for (long want = 1; want <= 3; want++)
        ck_assert_int_eq(ID(dest_keyq_take(q, k)), want);
    dest_keyq_done(q, k);
    ck_assert_uint_eq(dest_keyq_keys(q), 0);
    dest_keyq_free(q, NULL);
}
END_TEST

/* A held key is skipped until due, others go on; when due it goes first. */
START_TEST(held_key_skipped_until_due)
{
    dest_keyq     *q = dest_keyq_new();
    dest_keyq_key *a, *k;
    void          *it;
    size_t         by = 5;

    push_s(q, "a", 1, 5);
    a = dest_keyq_next(q, 0);
    it = dest_keyq_take(q, a);
    push_s(q, "b", 2, 5);
    dest_keyq_retry(q, a, &it, &by, 1, 100);
    push_s(q, "a", 3, 5); /* behind the retried item, held too */
    push_s(q, "c", 4, 5);

    k = dest_keyq_next(q, 50);
    ck_key(k, "b");
    ck_assert_int_eq(ID(dest_keyq_take(q, k)), 2);
    dest_keyq_done(q, k);
    ck_assert_uint_eq(dest_keyq_held(q), 1);
    push_s(q, "d", 5, 5);

    /* Due: a goes ahead of c and d, which became ready before it. */
    k = dest_keyq_next(q, 100);
    ck_key(k, "a");
    ck_assert_int_eq(ID(dest_keyq_take(q, k)), 1);
    ck_key(dest_keyq_next(q, 100), "c");
    ck_key(dest_keyq_next(q, 100), "d");
    ck_assert_ptr_null(dest_keyq_next(q, 100));
    dest_keyq_free(q, NULL);
}
END_TEST

START_TEST(due_ms_and_due_order)
{
    dest_keyq     *q = dest_keyq_new();
    dest_keyq_key *ks[4];
    const char    *names[4] = { "w", "x", "y", "z" };
    int64_t        at[4] = { 300, 100, 300, 200 };
    size_t         by = 1;

    ck_assert_int_eq(dest_keyq_due_ms(q), INT64_MAX);
    for (int i = 0; i < 4; i++)
        push_s(q, names[i], i, 1);
    for (int i = 0; i < 4; i++) {
        ks[i] = dest_keyq_next(q, 0);
        ck_key(ks[i], names[i]);
    }
    for (int i = 0; i < 4; i++) {
        void *it = dest_keyq_take(q, ks[i]);

        dest_keyq_retry(q, ks[i], &it, &by, 1, at[i]);
    }
    ck_assert_uint_eq(dest_keyq_held(q), 4);
    ck_assert_int_eq(dest_keyq_due_ms(q), 100);
    push_s(q, "r", 9, 1);

    /* At 300 all are due: x (100), z (200), w and y (300, in the order held), then r. */
    {
        const char *want[5] = { "x", "z", "w", "y", "r" };

        for (int i = 0; i < 5; i++)
            ck_key(dest_keyq_next(q, 300), want[i]);
    }
    ck_assert_uint_eq(dest_keyq_held(q), 0);
    ck_assert_uint_eq(dest_keyq_busy(q), 5);
    ck_assert_int_eq(dest_keyq_due_ms(q), INT64_MAX);
    dest_keyq_free(q, NULL);
}
END_TEST

/* Kinesis: one record per key, a whole request of distinct keys is throttled. */
START_TEST(failed_request_keeps_key_order)
{
    enum { N = 500 };
    dest_keyq     *q = dest_keyq_new();
    dest_keyq_key *ks[N];
    void          *it[N];
    char           key[32];

    for (int round = 0; round < 2; round++)
        for (int i = 0; i < N; i++) {
            snprintf(key, sizeof(key), "key-%d", i);
            push_s(q, key, round * N + i, 10);
        }
    for (int i = 0; i < N; i++) {
        ks[i] = dest_keyq_next(q, 0);
        it[i] = dest_keyq_take(q, ks[i]);
        ck_assert_int_eq(ID(it[i]), i);
    }
    ck_assert_ptr_null(dest_keyq_next(q, 0));
    for (int i = 0; i < N; i++)
        dest_keyq_retry(q, ks[i], &it[i], NULL, 1, 40);
    ck_assert_uint_eq(dest_keyq_held(q), N);
    ck_assert_uint_eq(dest_keyq_items(q), 2 * N);
    ck_assert_uint_eq(dest_keyq_bytes(q), N * 10); /* the retried ones count 0 (NULL bytes) */
    ck_assert_ptr_null(dest_keyq_next(q, 39));
    for (int i = 0; i < N; i++) {
        dest_keyq_key *k = dest_keyq_next(q, 40);

        ck_assert_ptr_eq(k, ks[i]); /* the same key object, in the same order */
        ck_assert_int_eq(ID(dest_keyq_take(q, k)), i);
        dest_keyq_done(q, k);
    }
    for (int i = 0; i < N; i++) {
        dest_keyq_key *k = dest_keyq_next(q, 40);

        ck_assert_int_eq(ID(dest_keyq_take(q, k)), N + i);
        dest_keyq_done(q, k);
    }
    ck_assert_uint_eq(dest_keyq_keys(q), 0);
    ck_assert_uint_eq(dest_keyq_items(q), 0);
    dest_keyq_free(q, NULL);
}
END_TEST

/* Kinesis again, with a jittered backoff per record: the held keys come out by
   retry time, ties in the order they were held; the due ones ahead of the rest. */
static int64_t jit_at[5000];

static int
by_time_then_index(const void *a, const void *b)
{
    int ia = *(const int *) a, ib = *(const int *) b;

    if (jit_at[ia] != jit_at[ib])
        return jit_at[ia] < jit_at[ib] ? -1 : 1;
    return ia - ib;
}

START_TEST(jittered_retries_come_out_by_time)
{
    enum { N = 5000 };
    dest_keyq     *q = dest_keyq_new();
    static dest_keyq_key *ks[N];
    static int     order[N];
    uint64_t       x = 12345;
    char           key[32];
    int            out = 0;
    int64_t        now;

    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        push_s(q, key, i, 1);
    }
    for (int i = 0; i < N; i++) {
        void *it;

        ks[i] = dest_keyq_next(q, 0);
        it = dest_keyq_take(q, ks[i]);
        ck_assert_int_eq(ID(it), i);
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        jit_at[i] = 100 + (int64_t) ((x >> 33) % 200); /* many ties */
        dest_keyq_retry(q, ks[i], &it, NULL, 1, jit_at[i]);
        order[i] = i;
    }
    qsort(order, N, sizeof(order[0]), by_time_then_index);
    push_s(q, "late", N, 1);
    ck_assert_int_eq(dest_keyq_due_ms(q), jit_at[order[0]]);
    /* Time goes by in steps; at each step, the keys due so far, in order. */
    for (now = 0; out < N; now += 7) {
        dest_keyq_key *k;

        while (out < N && jit_at[order[out]] <= now) {
            k = dest_keyq_next(q, now);
            ck_assert_ptr_eq(k, ks[order[out]]);
            ck_assert_int_eq(ID(dest_keyq_take(q, k)), order[out]);
            dest_keyq_done(q, k);
            out++;
        }
        ck_assert_uint_eq(dest_keyq_held(q), (size_t) (N - out));
        if (out < N) {
            ck_assert_int_eq(dest_keyq_due_ms(q), jit_at[order[out]]);
            /* Only "late" is ready; take it once and give it back. */
            k = dest_keyq_next(q, now);
            ck_key(k, "late");
            dest_keyq_release(q, k);
        }
    }
    ck_key(dest_keyq_next(q, now), "late");
    ck_assert_uint_eq(dest_keyq_keys(q), 1);
    dest_keyq_free(q, NULL);
}
END_TEST

START_TEST(release_keeps_the_place)
{
    dest_keyq     *q = dest_keyq_new();
    dest_keyq_key *k;

    push_s(q, "a", 1, 1);
    push_s(q, "b", 2, 1);
    k = dest_keyq_next(q, 0);
    ck_key(k, "a");
    dest_keyq_release(q, k);
    ck_assert_uint_eq(dest_keyq_busy(q), 0);
    k = dest_keyq_next(q, 0);
    ck_key(k, "a");
    ck_assert_int_eq(ID(dest_keyq_take(q, k)), 1);
    dest_keyq_done(q, k);
    k = dest_keyq_next(q, 0);
    ck_key(k, "b");
    /* Released with nothing waiting (the caller took and sent it elsewhere): freed. */
    dest_keyq_take(q, k);
    dest_keyq_release(q, k);
    ck_assert_uint_eq(dest_keyq_keys(q), 0);
    dest_keyq_free(q, NULL);
}
END_TEST

/* retry with nothing: the key is held; what is pushed meanwhile waits; empty at due: freed. */
START_TEST(retry_with_nothing_holds_the_key)
{
    dest_keyq     *q = dest_keyq_new();
    dest_keyq_key *k;

    push_s(q, "a", 1, 1);
    k = dest_keyq_next(q, 0);
    dest_keyq_take(q, k);
    dest_keyq_retry(q, k, NULL, NULL, 0, 10);
    ck_assert_uint_eq(dest_keyq_held(q), 1);
    ck_assert_uint_eq(dest_keyq_keys(q), 1);
    ck_assert_ptr_null(dest_keyq_next(q, 9));
    ck_assert_ptr_null(dest_keyq_next(q, 10));
    ck_assert_uint_eq(dest_keyq_held(q), 0);
    ck_assert_uint_eq(dest_keyq_keys(q), 0);

    push_s(q, "a", 2, 1);
    k = dest_keyq_next(q, 20);
    dest_keyq_take(q, k);
    dest_keyq_retry(q, k, NULL, NULL, 0, 30);
    push_s(q, "a", 3, 1);
    ck_assert_ptr_null(dest_keyq_next(q, 29));
    k = dest_keyq_next(q, 30);
    ck_key(k, "a");
    ck_assert_int_eq(ID(dest_keyq_take(q, k)), 3);
    dest_keyq_done(q, k);
    dest_keyq_free(q, NULL);
}
END_TEST

/* Binary keys: the empty key, embedded NULs, a 2 KB key; the bytes stay put. */
START_TEST(binary_keys)
{
    dest_keyq     *q = dest_keyq_new();
    unsigned char  big[2048], nul[3] = { 'x', 0, 'y' }, nul2[3] = { 'x', 0, 'z' };
    dest_keyq_key *k;
    const void    *kb;
    size_t         klen;

    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (unsigned char) (i * 7);
    dest_keyq_push(q, "", 0, IT(0), 1);
    dest_keyq_push(q, nul, 3, IT(1), 1);
    dest_keyq_push(q, nul2, 3, IT(2), 1);
    dest_keyq_push(q, big, sizeof(big), IT(3), 1);
    dest_keyq_push(q, NULL, 0, IT(4), 1); /* the same empty key */
    ck_assert_uint_eq(dest_keyq_keys(q), 4);

    k = dest_keyq_next(q, 0);
    dest_keyq_key_bytes(k, &klen);
    ck_assert_uint_eq(klen, 0);
    ck_assert_int_eq(ID(dest_keyq_take(q, k)), 0);
    for (long want = 1; want <= 2; want++) {
        dest_keyq_key *o = dest_keyq_next(q, 0);

        kb = dest_keyq_key_bytes(o, &klen);
        ck_assert_uint_eq(klen, 3);
        ck_assert(memcmp(kb, want == 1 ? nul : nul2, 3) == 0);
        ck_assert_int_eq(ID(dest_keyq_take(q, o)), want);
        dest_keyq_done(q, o);
    }
    {
        dest_keyq_key *o = dest_keyq_next(q, 0);

        kb = dest_keyq_key_bytes(o, &klen);
        ck_assert_uint_eq(klen, sizeof(big));
        ck_assert(memcmp(kb, big, sizeof(big)) == 0);
        ck_assert_int_eq(ID(dest_keyq_take(q, o)), 3);
        memset(big, 0, sizeof(big)); /* the queue kept its own copy */
        dest_keyq_push(q, big, sizeof(big), IT(5), 1);
        kb = dest_keyq_key_bytes(o, &klen);
        ck_assert_int_eq(((const unsigned char *) kb)[1], 7);
        dest_keyq_done(q, o);
    }
    dest_keyq_done(q, k);
    k = dest_keyq_next(q, 0); /* big (zeros) became ready first (pushed while k was busy) */
    ck_assert_int_eq(ID(dest_keyq_take(q, k)), 5);
    dest_keyq_done(q, k);
    k = dest_keyq_next(q, 0);
    ck_assert_int_eq(ID(dest_keyq_take(q, k)), 4);
    dest_keyq_done(q, k);
    ck_assert_uint_eq(dest_keyq_keys(q), 0);
    dest_keyq_free(q, NULL);
}
END_TEST

static int freed[16];

static void
count_free(void *item)
{
    freed[ID(item)]++;
}

START_TEST(free_calls_free_item_on_queued_items)
{
    dest_keyq     *q = dest_keyq_new();
    dest_keyq_key *k, *h;
    void          *it;
    size_t         by = 1;

    memset(freed, 0, sizeof(freed));
    for (long i = 0; i < 8; i++)
        push_s(q, i % 2 ? "odd" : "even", i, 1);
    push_s(q, "held", 8, 1);
    k = dest_keyq_next(q, 0); /* even: busy */
    ck_assert_int_eq(ID(dest_keyq_take(q, k)), 0);
    dest_keyq_next(q, 0); /* odd: busy, nothing taken */
    h = dest_keyq_next(q, 0);
    ck_key(h, "held");
    it = dest_keyq_take(q, h);
    dest_keyq_retry(q, h, &it, &by, 1, 1000);
    dest_keyq_free(q, count_free);
    ck_assert_int_eq(freed[0], 0); /* in flight: the caller's */
    for (int i = 1; i <= 8; i++)
        ck_assert_int_eq(freed[i], 1);
    dest_keyq_free(NULL, count_free);
}
END_TEST

/*
 * The model check.  The reference keeps, per key, its waiting items in an
 * array and its state; the ready keys in an array (FIFO); the held keys in an
 * array kept sorted by (retry time, order held).  Every answer of the queue
 * is compared with it, and every item must come out exactly once, in push
 * order per key.
 */
enum { MK = 24, MI = 4096 };

typedef struct {
    long    items[MI]; /* waiting item ids, head first */
    size_t  bytes[MI];
    int     n;
    int     state; /* 0 idle (freed), 1 ready, 2 busy, 3 held */
    int64_t at;
    long    held_seq;
    long    taken[MI]; /* in flight */
    size_t  taken_bytes[MI];
    int     ntaken;
    dest_keyq_key *handle;
    long    next_out; /* the next item id this key must deliver */
} mkey;

static mkey mk[MK];
static int  ready[MK], nready, heldv[MK], nheldv;
static long item_key[MI * 4], item_rank[MI * 4], rank_next[MK];

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint32_t
rnd(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t) (rng % n);
}

static void
model_check_counts(dest_keyq *q)
{
    size_t items = 0, bytes = 0, busy = 0, keys = 0;

    for (int i = 0; i < MK; i++) {
        items += (size_t) mk[i].n;
        for (int j = 0; j < mk[i].n; j++)
            bytes += mk[i].bytes[j];
        busy += mk[i].state == 2;
        keys += mk[i].state != 0;
    }
    ck_assert_uint_eq(dest_keyq_items(q), items);
    ck_assert_uint_eq(dest_keyq_bytes(q), bytes);
    ck_assert_uint_eq(dest_keyq_busy(q), busy);
    ck_assert_uint_eq(dest_keyq_held(q), (size_t) nheldv);
    ck_assert_uint_eq(dest_keyq_keys(q), keys);
    ck_assert_int_eq(dest_keyq_due_ms(q), nheldv ? mk[heldv[0]].at : INT64_MAX);
}

START_TEST(model_check)
{
    dest_keyq *q = dest_keyq_new();
    int64_t    now = 0;
    long       next_id = 0, delivered = 0, held_seq = 0;
    char       name[16];

    memset(mk, 0, sizeof(mk));
    memset(rank_next, 0, sizeof(rank_next));
    nready = nheldv = 0;
    for (int step = 0; step < 200000; step++) {
        uint32_t op = rnd(100);

        if (op < 40 && next_id < MI * 4) { /* push */
            int    key = (int) rnd(MK);
            size_t by = rnd(1000);
            mkey  *m = &mk[key];

            snprintf(name, sizeof(name), "key:%d", key);
            dest_keyq_push(q, name, strlen(name), IT(next_id), by);
            item_key[next_id] = key;
            item_rank[next_id] = rank_next[key]++;
            m->items[m->n] = next_id;
            m->bytes[m->n] = by;
            m->n++;
            next_id++;
            if (m->state == 0) {
                m->state = 1;
                ready[nready++] = key;
            }
        } else if (op < 65) { /* next, then take one item or a run */
            dest_keyq_key *k = dest_keyq_next(q, now);
            int            j = 0, key;
            mkey          *m;

            /* The reference: due held keys to the front, earliest first. */
            while (j < nheldv && mk[heldv[j]].at <= now)
                j++;
            {
                int due[MK], nd = 0;

                for (int i = 0; i < j; i++) {
                    if (mk[heldv[i]].n == 0)
                        mk[heldv[i]].state = 0;
                    else
                        due[nd++] = heldv[i];
                }
                memmove(heldv, heldv + j, (size_t) (nheldv - j) * sizeof(int));
                nheldv -= j;
                memmove(ready + nd, ready, (size_t) nready * sizeof(int));
                for (int i = 0; i < nd; i++) {
                    ready[i] = due[i];
                    mk[due[i]].state = 1;
                }
                nready += nd;
            }
            if (nready == 0) {
                ck_assert_ptr_null(k);
                continue;
            }
            key = ready[0];
            memmove(ready, ready + 1, (size_t) --nready * sizeof(int));
            m = &mk[key];
            snprintf(name, sizeof(name), "key:%d", key);
            ck_key(k, name);
            ck_assert_int_eq(m->state, 1);
            ck_assert_int_gt(m->n, 0);
            m->state = 2;
            m->handle = k;
            {
                int run = rnd(4) == 0 ? 1 + (int) rnd(8) : 1;

                for (int i = 0; i < run && m->n > 0; i++) {
                    size_t by;
                    void  *it = dest_keyq_peek(k, &by);

                    ck_assert_int_eq(ID(it), m->items[0]);
                    ck_assert_uint_eq(by, m->bytes[0]);
                    ck_assert_ptr_eq(dest_keyq_take(q, k), it);
                    m->taken[m->ntaken] = m->items[0];
                    m->taken_bytes[m->ntaken++] = m->bytes[0];
                    memmove(m->items, m->items + 1, (size_t) (m->n - 1) * sizeof(long));
                    memmove(m->bytes, m->bytes + 1, (size_t) (m->n - 1) * sizeof(size_t));
                    m->n--;
                }
            }
        } else if (op < 97) { /* a busy key finishes: done, retry or (rarely) release */
            int   busy[MK], nb = 0, key;
            mkey *m;

            for (int i = 0; i < MK; i++)
                if (mk[i].state == 2)
                    busy[nb++] = i;
            if (nb == 0)
                continue;
            key = busy[rnd((uint32_t) nb)];
            m = &mk[key];
            if (m->ntaken == 0 && rnd(2) == 0) { /* release: keeps its place */
                dest_keyq_release(q, m->handle);
                if (m->n == 0) {
                    m->state = 0;
                } else {
                    memmove(ready + 1, ready, (size_t) nready * sizeof(int));
                    ready[0] = key;
                    nready++;
                    m->state = 1;
                }
            } else if (rnd(3) == 0) { /* retry */
                void   *its[MI];
                int64_t at = now + (int64_t) rnd(50);
                int     pos;

                for (int i = 0; i < m->ntaken; i++)
                    its[i] = IT(m->taken[i]);
                dest_keyq_retry(q, m->handle, its, m->taken_bytes, (size_t) m->ntaken, at);
                memmove(m->items + m->ntaken, m->items, (size_t) m->n * sizeof(long));
                memmove(m->bytes + m->ntaken, m->bytes, (size_t) m->n * sizeof(size_t));
                memcpy(m->items, m->taken, (size_t) m->ntaken * sizeof(long));
                memcpy(m->bytes, m->taken_bytes, (size_t) m->ntaken * sizeof(size_t));
                m->n += m->ntaken;
                m->ntaken = 0;
                m->state = 3;
                m->at = at;
                m->held_seq = held_seq++;
                for (pos = nheldv; pos > 0 && mk[heldv[pos - 1]].at > at; pos--)
                    ;
                memmove(heldv + pos + 1, heldv + pos, (size_t) (nheldv - pos) * sizeof(int));
                heldv[pos] = key;
                nheldv++;
            } else { /* done: the taken items are delivered */
                for (int i = 0; i < m->ntaken; i++) {
                    long id = m->taken[i];

                    ck_assert_int_eq(item_key[id], key);
                    ck_assert_int_eq(item_rank[id], m->next_out);
                    m->next_out++;
                    delivered++;
                }
                m->ntaken = 0;
                dest_keyq_done(q, m->handle);
                if (m->n == 0) {
                    m->state = 0;
                } else {
                    ready[nready++] = key;
                    m->state = 1;
                }
            }
        } else { /* time passes */
            now += rnd(20);
        }
        model_check_counts(q);
    }
    ck_assert_int_gt(delivered, MI);
    dest_keyq_free(q, NULL);
}
END_TEST

/* 1e5 keys, two items each, a tenth of the units retried once: all delivered
   in order, every key freed.  Quadratic behaviour would make this take minutes. */
START_TEST(stress_many_keys)
{
    enum { NK = 100000 };
    dest_keyq     *q = dest_keyq_new();
    char           key[48];
    static long    got[NK];
    long           delivered = 0;
    int64_t        now = 0;
    dest_keyq_key *k;

    memset(got, 0, sizeof(got));
    for (int round = 0; round < 2; round++)
        for (int i = 0; i < NK; i++) {
            int n = snprintf(key, sizeof(key), "public.customers:{\"id\":%d}", i);

            dest_keyq_push(q, key, (size_t) n, IT(round * NK + i), 100);
        }
    ck_assert_uint_eq(dest_keyq_keys(q), NK);
    ck_assert_uint_eq(dest_keyq_items(q), 2 * NK);
    while (dest_keyq_items(q) > 0) {
        dest_keyq_key *batch[500];
        int            nb = 0;

        while (nb < 500 && (k = dest_keyq_next(q, now)) != NULL)
            batch[nb++] = k;
        if (nb == 0) {
            now = dest_keyq_due_ms(q);
            ck_assert_int_ne(now, INT64_MAX);
            continue;
        }
        for (int i = 0; i < nb; i++) {
            void *it = dest_keyq_take(q, batch[i]);
            long  id = ID(it);
            int   i0 = (int) (id % NK);

            if (id % 10 == 3 && got[i0] == id / NK && !(got[i0] & 0x100)) {
                size_t by = 100;

                got[i0] |= 0x100; /* retried once */
                dest_keyq_retry(q, batch[i], &it, &by, 1, now + 1 + (id * 7919) % 50);
                continue;
            }
            ck_assert_int_eq(got[i0] & 0xff, id / NK); /* in order per key */
            got[i0] = (got[i0] & 0x100) | ((got[i0] & 0xff) + 1);
            delivered++;
            dest_keyq_done(q, batch[i]);
        }
    }
    while ((k = dest_keyq_next(q, INT64_MAX - 1)) != NULL) /* nothing left but in flight: none */
        ck_abort();
    ck_assert_int_eq(delivered, 2 * NK);
    ck_assert_uint_eq(dest_keyq_keys(q), 0);
    ck_assert_uint_eq(dest_keyq_busy(q), 0);
    ck_assert_uint_eq(dest_keyq_held(q), 0);
    dest_keyq_free(q, NULL);
}
END_TEST

static Suite *
keyq_suite(void)
{
    Suite *s = suite_create("keyq");
    TCase *tc = tcase_create("order");
    TCase *tm = tcase_create("model");

    tcase_add_test(tc, one_unit_per_key_in_order);
    tcase_add_test(tc, retry_puts_items_back_at_the_head);
    tcase_add_test(tc, held_key_skipped_until_due);
    tcase_add_test(tc, due_ms_and_due_order);
    tcase_add_test(tc, failed_request_keeps_key_order);
    tcase_add_test(tc, jittered_retries_come_out_by_time);
    tcase_add_test(tc, release_keeps_the_place);
    tcase_add_test(tc, retry_with_nothing_holds_the_key);
    tcase_add_test(tc, binary_keys);
    tcase_add_test(tc, free_calls_free_item_on_queued_items);
    suite_add_tcase(s, tc);
    tcase_add_test(tm, model_check);
    tcase_add_test(tm, stress_many_keys);
    suite_add_tcase(s, tm);
    return s;
}

int
main(void)
{
    return suite_main(keyq_suite(), false);
}

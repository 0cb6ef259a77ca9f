/*
 * Suite "pgsink_evcopy": the replica's dead-letter record made when a row is refused
 * (sinks/postgres/pg_evcopy.c) has the same bytes as the record sch_record_put() writes
 * from the live event, for a relation with a column of every type the fuzz fixture
 * knows (test/fuzz/fuzz_common.h: those of test/lib/every_type.sh's table and more,
 * arrays, enums, domains, ranges, extension types), under several handling modes, with
 * and without schemas, for c/u/d/r events with their source and transaction blocks.
 * The event's relation cache, value arena and transaction are freed and overwritten
 * before the copy is encoded, as a Relation message would free them (ASan sees any
 * pointer the copy kept into them).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "agent/core/cdc_arena.h"
#include "decoder/values.h"
#include "schemas/record.h"
#include "sinks/postgres/pg_int.h"
#include "test/fuzz/fuzz_common.h"
#include "test/lib/suite_main.h"

/* A text form the type's input accepts (the every_type rows' where they have one). */
static const char *
sample(uint32_t oid)
{
    static const struct {
        uint32_t    oid;
        const char *text;
    } s[] = {
        { 16, "t" }, { 17, "\\xdeadbeef00" }, { 18, "q" }, { 19, "some_name" },
        { 20, "9223372036854775807" }, { 21, "32767" }, { 23, "2147483647" },
        { 25, "line1\nline2 \"q\" \\ tab\t h\xc3\xa9llo \xe2\x9c\x93" }, { 26, "4294967295" },
        { 114, "{\"b\": 1,  \"a\": [1, 2]}" }, { 142, "<a x=\"1\">t&amp;</a>" },
        { 600, "(1.5,-2.25)" }, { 650, "10.0.0.0/8" }, { 700, "1.1" },
        { 701, "3.141592653589793" }, { 774, "08:00:2b:01:02:03:04:05" }, { 790, "$1,234.56" },
        { 829, "08:00:2b:01:02:03" }, { 869, "192.168.0.1/24" }, { 1042, "ab   " },
        { 1043, "h\xc3\xa9llo" }, { 1082, "2024-02-29" }, { 1083, "12:34:56.123456" },
        { 1114, "2024-05-01 10:15:30.123456" }, { 1184, "2024-05-01 10:15:30.123456+00" },
        { 1186, "1 year 2 mons 3 days 04:05:06.5" }, { 1266, "12:34:56.5+02" },
        { 1560, "101000000001" }, { 1562, "110011001100110011" }, { 1700, "12345678.90" },
        { 2950, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11" }, { 3802, "{\"a\": [1, 2], \"b\": 1}" },
        { 3904, "[2,11)" }, { 3906, "[1.5,2.5]" },
        { 3908, "[\"2024-01-01 00:00:00\",\"2024-01-02 00:00:00\")" },
        { 3910, "[\"2024-01-01 00:00:00+00\",\"2024-01-02 00:00:00+00\")" },
        { 3912, "[2024-01-01,2024-02-02)" }, { 3926, "[1,10000000000)" },
        { 16500, "happy" }, { 17000, "CiText" }, { 17010, "a.b.c" }, { 17103, "(1,\"x y\")" },
        { 99999, "???" },
    };

    for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++)
        if (s[i].oid == oid)
            return s[i].text;
    return NULL;
}

/* The text of type t: an array is {"<elem>",NULL,"<elem>"}. */
static char *
text_of(const fz_type *t, int variant)
{
    const char *e;
    cdc_buf     b = CDC_BUF_INIT;

    if (t->elem == 0) {
        e = sample(t->base);
        return e ? strdup(e) : NULL;
    }
    if ((e = sample(t->elem)) == NULL)
        return NULL;
    cdc_buf_putc(&b, '{');
    for (int k = 0; k < 3; k++) {
        if (k)
            cdc_buf_putc(&b, ',');
        if (k == 1 && variant) {
            cdc_buf_puts(&b, "NULL");
            continue;
        }
        cdc_buf_putc(&b, '"');
        for (const char *p = e; *p; p++) {
            if (*p == '"' || *p == '\\')
                cdc_buf_putc(&b, '\\');
            cdc_buf_putc(&b, *p);
        }
        cdc_buf_putc(&b, '"');
    }
    cdc_buf_putc(&b, '}');
    return pg_buf_take(&b);
}

/* Column defaults (CONTRACT.md 4.5: the schema's "default", replace.null.with.default). */
static const char *
default_of(uint32_t oid)
{
    switch (oid) {
    case 25:    return "'dflt'::text";
    case 23:    return "42";
    case 1700:  return "'1.50'::numeric";
    case 17:    return "'\\x0102'::bytea";
    case 16500: return "'ok'::mood";
    default:    return NULL;
    }
}

enum { NCOLS = FZ_NTYPES + 1 };

typedef struct fixture {
    pgo_relcache *rc;
    cdc_rel      *rel;
    cdc_arena    *arena;
    cdc_value    *before, *after;
    cdc_txn       txn;
    cdc_tx_block  txb;
    char         *snapshot;
    int           ndefaults;
    int           nbad;     /* values of supported columns not decoded (NULL instead) */
} fixture;

/* Column 0 is the key "id" int4; column i+1 is of fz_types[i]. */
static void
fixture_make(fixture *f, uint8_t mode)
{
    static char   names[NCOLS][12];
    cdc_col       cols[NCOLS];
    pgo_type_opts opts = fz_type_opts(mode);
    cdc_err       err;

    memset(cols, 0, sizeof(cols));
    memset(f, 0, sizeof(*f));
    for (int i = 0; i < NCOLS; i++) {
        snprintf(names[i], sizeof(names[i]), i ? "c_%d" : "id", i);
        cols[i].name = names[i];
        cols[i].type_oid = i ? fz_types[i - 1].oid : 23;
        cols[i].typmod = -1;
        cols[i].replident = i == 0;
    }
    f->rc = pgo_relcache_new();
    f->rel = pgo_rel_install(f->rc, 16384, "public", "every\"type", 'd', NCOLS, cols, NULL);
    fz_describe_col(f->rel, 0, &fz_types[6], -1, true, NULL);          /* integer */
    f->rel->cols[0].key_pos = 1;
    f->rel->cols[0].not_null = true;
    f->rel->nkeys = 1;
    for (int i = 1; i < NCOLS; i++)
        fz_describe_col(f->rel, i, &fz_types[i - 1], -1, true, default_of(fz_types[i - 1].oid));
    cdc_err_clear(&err);
    ck_assert_int_eq(pgo_typemap_rel(f->rel, &opts, &err), 0);
    f->rel->topic = pgo_rel_strdup(f->rel, "srv.public.every_type");
    /* a column mapper's schema parameters (agent/source/colfilter.c) */
    f->rel->cols[1].ctype.mapped = CDC_MAP_SOURCE_TYPE;
    f->rel->cols[1].ctype.src_type = pgo_rel_strdup(f->rel, "BOOL");
    f->rel->cols[1].ctype.src_column = pgo_rel_strdup(f->rel, "c_1");
    f->rel->cols[1].ctype.src_length = 1;
    f->rel->cols[1].ctype.src_scale = CDC_SRC_SCALE_NONE;

    f->arena = cdc_arena_new(1 << 20);   /* one block: fixture_drop overwrites it all */
    f->before = cdc_arena_zalloc(f->arena, NCOLS * sizeof(cdc_value));
    f->after = cdc_arena_zalloc(f->arena, NCOLS * sizeof(cdc_value));
    for (int i = 0; i < NCOLS; i++) {
        for (int r = 0; r < 2; r++) {
            cdc_value *v = r ? &f->after[i] : &f->before[i];
            char      *t = i ? text_of(&fz_types[i - 1], r) : strdup(r ? "5" : "4");

            cdc_err_clear(&err);
            if (t == NULL ||
                pgo_value_from_text(&f->rel->cols[i], t, strlen(t), &opts, f->arena, v,
                                    &err) != 0) {
                v->state = CDC_VAL_NULL;
                f->nbad += f->rel->cols[i].ctype.supported;
                if (getenv("EVCOPY_DEBUG"))
                    fprintf(stderr, "col %d %s: %s\n", i, i ? fz_types[i - 1].type_name : "id",
                            err.msg);
            }
            free(t);
        }
    }
    f->before[3].state = CDC_VAL_UNCHANGED;      /* an unchanged TOAST value */
    f->txn = (cdc_txn) { .xid = 770, .commit_lsn = 0x1569230, .begin_lsn = 0x1569100,
                         .end_lsn = 0x1569260, .commit_ts_us = INT64_C(1714558530123456),
                         .prev_commit_lsn = 0x1569118, .nevents = 9 };
    snprintf(f->txb.id, sizeof(f->txb.id), "770:23499312");
    f->txb.total_order = 3;
    f->txb.data_collection_order = 2;
    f->snapshot = strdup("last");
}

static void
wipe(char *s)
{
    if (s)
        memset(s, 'X', strlen(s));
}

/* Frees what the live event pointed to, after overwriting it. */
static void
fixture_drop(fixture *f)
{
    size_t left = cdc_arena_footprint(f->arena);

    for (int i = 0; i < f->rel->ncols; i++) {
        cdc_col *c = &f->rel->cols[i];

        wipe(c->name), wipe(c->type_name), wipe(c->typname), wipe(c->enum_labels);
        wipe(c->default_expr), wipe((char *) c->ctype.src_type);
        wipe((char *) c->ctype.src_column);
        if (c->has_default && (c->ctype.kind == CDC_CT_STRING || c->ctype.kind == CDC_CT_BYTES))
            memset((char *) c->def.u.s.p, 'X', c->def.u.s.n);
        f->ndefaults += c->has_default;
    }
    wipe(f->snapshot);
    free(f->snapshot);
    wipe(f->rel->nspname), wipe(f->rel->relname), wipe(f->rel->topic);
    memset(&f->txn, 0x5a, sizeof(f->txn));
    memset(&f->txb, 0x5a, sizeof(f->txb));
    /* the arena's blocks (values, strings, array items) overwritten before they go */
    cdc_arena_reset(f->arena);
    for (; left >= 256; left -= 256)
        memset(cdc_arena_alloc(f->arena, 256), 0x5a, 256);
    cdc_arena_free(f->arena);
    pgo_relcache_free(f->rc);
}

/* The record made from the copy, as the sink makes it on refusal. */
static char *
record_of(const pg_evcopy *c, const sch_json_opts *o)
{
    cdc_buf b = CDC_BUF_INIT;

    pg_evcopy_record(&b, c, o, "srv.public.every_type");
    return pg_buf_take(&b);
}

static const uint8_t modes[] = { 0x00, 0x15, 0x2a, 0x3f, 0x45, 0x80, 0xd6 };

START_TEST(every_type_record)
{
    static const cdc_op ops[] = { CDC_OP_CREATE, CDC_OP_UPDATE, CDC_OP_DELETE, CDC_OP_READ };
    int64_t             now = INT64_C(1714558531000123);

    for (size_t m = 0; m < sizeof(modes); m++)
        for (int schemas = 0; schemas < 2; schemas++)
            for (size_t k = 0; k < sizeof(ops) / sizeof(ops[0]); k++) {
                fixture       f;
                sch_json_opts o;
                cdc_event     ev = { 0 };
                cdc_buf       eager = CDC_BUF_INIT;
                pg_evcopy    *c;
                char         *lazy;

                fixture_make(&f, modes[m]);
                ck_assert_int_eq(f.nbad, 0);
                sch_json_opts_default(&o);
                o.server_name = "srv";
                o.database = "appdb";
                o.schemas_enable = schemas;
                o.replace_null_with_default = k & 1;
                ev.op = ops[k];
                ev.rel = f.rel;
                ev.lsn = 0x1569118 + k;
                ev.pos = (cdc_pos) { f.txn.commit_lsn, 3 + k };
                ev.txn = &f.txn;
                ev.source_ts_us = f.txn.commit_ts_us;
                ev.tx_block = k == 1 ? NULL : &f.txb;
                if (ev.op == CDC_OP_READ) {
                    ev.snapshot = f.snapshot;
                    ev.txn = NULL;
                    ev.tx_block = NULL;
                }
                if (ev.op != CDC_OP_DELETE)
                    ev.after = f.after;
                if (ev.op == CDC_OP_UPDATE || ev.op == CDC_OP_DELETE)
                    ev.before = f.before;
                ev.key = ev.op == CDC_OP_DELETE ? ev.before : ev.after;
                sch_record_put(&eager, &ev, &o, "srv.public.every_type", now, 0, NULL);
                c = pg_evcopy_new(&ev, now);
                fixture_drop(&f);
                ck_assert_int_ge(f.ndefaults, 3);
                lazy = record_of(c, &o);
                ck_assert_msg(eager.len > 1000, "record too short: %zu", eager.len);
                ck_assert_uint_eq(strlen(lazy), eager.len);
                ck_assert_msg(memcmp(lazy, eager.data, eager.len) == 0,
                              "mode %#x schemas %d op %c:\n%s\n%s", modes[m], schemas, ops[k],
                              (const char *) cdc_buf_str(&eager), lazy);
                free(lazy);
                pg_evcopy_free(c);
                cdc_buf_free(&eager);
            }
}
END_TEST

/* A relation without columns' values (truncate) and a key that is its own row. */
START_TEST(truncate_and_own_key)
{
    fixture       f;
    sch_json_opts o;
    cdc_event     ev = { 0 };
    cdc_value    *key;
    cdc_buf       eager = CDC_BUF_INIT;
    pg_evcopy    *c;
    char         *lazy;

    for (int t = 0; t < 2; t++) {
        fixture_make(&f, 0);
        sch_json_opts_default(&o);
        o.server_name = "srv";
        o.database = "appdb";
        memset(&ev, 0, sizeof(ev));
        ev.op = t ? CDC_OP_TRUNCATE : CDC_OP_DELETE;
        ev.rel = f.rel;
        ev.lsn = 77;
        ev.pos = (cdc_pos) { f.txn.commit_lsn, 0 };
        ev.txn = &f.txn;
        ev.source_ts_us = f.txn.commit_ts_us;
        key = cdc_arena_zalloc(f.arena, NCOLS * sizeof(cdc_value));
        key[0] = f.before[0];
        ev.key = t ? NULL : key;
        ev.before = t ? NULL : f.before;
        cdc_buf_reset(&eager);
        sch_record_put(&eager, &ev, &o, "srv.public.every_type", 5000, 0, NULL);
        c = pg_evcopy_new(&ev, 5000);
        fixture_drop(&f);
        lazy = record_of(c, &o);
        ck_assert_str_eq(lazy, (const char *) cdc_buf_str(&eager));
        free(lazy);
        pg_evcopy_free(c);
    }
    cdc_buf_free(&eager);
}
END_TEST

static Suite *
pgsink_evcopy_suite(void)
{
    Suite *s = suite_create("pgsink_evcopy");
    TCase *tc = tcase_create("evcopy");

    tcase_add_test(tc, every_type_record);
    tcase_add_test(tc, truncate_and_own_key);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return suite_main(pgsink_evcopy_suite(), false);
}

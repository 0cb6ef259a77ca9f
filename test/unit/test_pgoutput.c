/*
 * Unit tests for decoder/pgoutput.c against payloads captured from a real
 * PostgreSQL 15 (test/fixtures/pgoutput/regen.sh), plus hand-built bytes for
 * the forms that capture could not produce (protocol 4 STREAM ABORT) and
 * for malformed input.  Suite "pgoutput"; TCases: fixtures (table-driven),
 * begin_commit, relations, tuples, messages, stream, sequence, malformed.
 *
 * The expected values (xids, relids, LSNs) are those of the committed
 * capture; regenerating the fixtures means updating them here.
 */
#include "decoder/pgoutput.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/core/cdc_arena.h"
#include "test/lib/fixture.h"

/* Unix microseconds of 2020-01-01 and 2100-01-01: a sane commit time lies between. */
#define TS_2020 INT64_C(1577836800000000)
#define TS_2100 INT64_C(4102444800000000)

#define MAX_HELD 64

static pgo_decoder *dec;
static cdc_arena   *arena;
static cdc_err      err;
static fixture      held[MAX_HELD];     /* decoded messages point into these */
static int          nheld;

static void
setup_proto_opts(int proto, bool abort_info)
{
    pgo_opts o = { .proto_version = proto, .stream_abort_info = abort_info };

    dec = pgo_decoder_new(&o, &err);
    ck_assert_ptr_nonnull(dec);
    arena = cdc_arena_new(4096);
    cdc_err_clear(&err);
    nheld = 0;
}

static void
setup_proto(int proto)
{
    setup_proto_opts(proto, false);
}

static void
setup(void)
{
    setup_proto(2);
}

static void
teardown(void)
{
    for (int i = 0; i < nheld; i++)
        fixture_free(&held[i]);
    nheld = 0;
    pgo_decoder_free(dec);
    cdc_arena_free(arena);
    dec = NULL;
    arena = NULL;
}

static fixture *
hold(const char *name)
{
    char path[256];

    ck_assert_int_lt(nheld, MAX_HELD);
    snprintf(path, sizeof(path), "pgoutput/%s", name);
    held[nheld] = fixture_load(path);
    return &held[nheld++];
}

/* Decodes one fixture file; it must succeed. */
static void
decode_ok(const char *name, pgo_msg *m)
{
    fixture *f = hold(name);

    if (pgo_decode(dec, f->data, f->len, m, arena, &err) != 0)
        ck_abort_msg("%s: %s", name, err.msg);
}

/* Decodes raw bytes; returns pgo_decode's result. */
static int
decode_raw(const uint8_t *p, size_t n, pgo_msg *m)
{
    return pgo_decode(dec, p, n, m, arena, &err);
}

static void
ck_datum(const pgo_datum *d, char kind, const char *text)
{
    ck_assert_int_eq(d->kind, kind);
    if (text == NULL) {
        ck_assert_ptr_null(d->data);
        return;
    }
    ck_assert_uint_eq(d->len, strlen(text));
    ck_assert_int_eq(memcmp(d->data, text, d->len), 0);
}

/* --- fixtures: every captured message decodes to its type ---------------- */

static const struct {
    const char *file;
    const char *pre[3];     /* decoded first: Relation messages, STREAM START */
    pgo_msgtype type;
    uint32_t    xid;        /* expected msg->xid */
} cases[] = {
    { "begin.bin", { NULL }, PGO_BEGIN, 739 },
    { "commit.bin", { NULL }, PGO_COMMIT, 0 },
    { "origin.bin", { NULL }, PGO_ORIGIN, 0 },
    { "relation_customers.bin", { NULL }, PGO_RELATION, 0 },
    { "relation_events_v2.bin", { "relation_events.bin" }, PGO_RELATION, 0 },
    { "type_mood.bin", { NULL }, PGO_TYPE, 0 },
    { "insert_two_cols.bin", { "relation_customers.bin" }, PGO_INSERT, 0 },
    { "insert_nulls.bin", { "relation_nulls.bin" }, PGO_INSERT, 0 },
    { "insert_enum.bin", { "relation_moods.bin" }, PGO_INSERT, 0 },
    { "update_simple.bin", { "relation_customers.bin" }, PGO_UPDATE, 0 },
    { "update_key_change.bin", { "relation_accounts.bin" }, PGO_UPDATE, 0 },
    { "update_full.bin", { "relation_audit_full.bin" }, PGO_UPDATE, 0 },
    { "update_toast_unchanged.bin", { "relation_docs.bin" }, PGO_UPDATE, 0 },
    { "delete_key.bin", { "relation_customers.bin" }, PGO_DELETE, 0 },
    { "delete_full.bin", { "relation_audit_full.bin" }, PGO_DELETE, 0 },
    { "truncate_two.bin", { "relation_parents.bin", "relation_children.bin" }, PGO_TRUNCATE, 0 },
    { "message_transactional.bin", { NULL }, PGO_MESSAGE, 0 },
    { "message_nontransactional.bin", { NULL }, PGO_MESSAGE, 0 },
    { "stream_start.bin", { NULL }, PGO_STREAM_START, 764 },
    { "stream_relation_big.bin", { "stream_start.bin" }, PGO_RELATION, 764 },
    { "stream_insert.bin", { "stream_start.bin", "stream_relation_big.bin" }, PGO_INSERT, 764 },
    { "stream_stop.bin", { "stream_start.bin" }, PGO_STREAM_STOP, 0 },
    { "stream_commit.bin", { NULL }, PGO_STREAM_COMMIT, 764 },
    { "stream_abort_subxact.bin", { NULL }, PGO_STREAM_ABORT, 766 },
};
#define NCASES ((int) (sizeof(cases) / sizeof(cases[0])))

static void
decode_prereqs(int i)
{
    pgo_msg m;

    for (int k = 0; k < 3 && cases[i].pre[k] != NULL; k++)
        decode_ok(cases[i].pre[k], &m);
}

START_TEST(decodes_fixture)
{
    pgo_msg m;

    decode_prereqs(_i);
    decode_ok(cases[_i].file, &m);
    ck_assert_int_eq(m.type, cases[_i].type);
    ck_assert_uint_eq(m.xid, cases[_i].xid);
}
END_TEST

/* Every proper prefix of every fixture is malformed, and state survives it. */
START_TEST(truncated_fixture_fails)
{
    fixture *f;
    pgo_msg  m;

    decode_prereqs(_i);
    f = hold(cases[_i].file);
    for (size_t len = 0; len < f->len; len++) {
        /* A copy of exactly len bytes, so ASan sees any read past the end. */
        uint8_t *p = malloc(len ? len : 1);

        memcpy(p, f->data, len);
        cdc_err_clear(&err);
        if (pgo_decode(dec, p, len, &m, arena, &err) != -1)
            ck_abort_msg("%s cut to %zu bytes decoded", cases[_i].file, len);
        ck_assert_int_eq(err.code, CDC_E_PROTO);
        ck_assert_ptr_nonnull(strstr(err.msg, "offset"));
        free(p);
        cdc_arena_reset(arena);
    }
    ck_assert_int_eq(pgo_decode(dec, f->data, f->len, &m, arena, &err), 0);
    ck_assert_int_eq(m.type, cases[_i].type);
}
END_TEST

/* --- begin_commit ----------------------------------------------------- */

START_TEST(begin_matches_commit)
{
    pgo_msg b, c;

    decode_ok("begin.bin", &b);
    decode_ok("commit.bin", &c);
    ck_assert_uint_eq(b.u.begin.xid, 739);
    ck_assert_uint_eq(b.u.begin.final_lsn, c.u.commit.commit_lsn);
    ck_assert_uint_eq(b.u.begin.final_lsn, UINT64_C(0x1569200));
    ck_assert_uint_gt(c.u.commit.end_lsn, c.u.commit.commit_lsn);
    ck_assert_int_eq(c.u.commit.flags, 0);
    ck_assert_int_eq(b.u.begin.commit_ts_us, c.u.commit.commit_ts_us);
    /* Converted from the 2000 epoch: without it the year would be 1996 + 30. */
    ck_assert_int_gt(c.u.commit.commit_ts_us, TS_2020);
    ck_assert_int_lt(c.u.commit.commit_ts_us, TS_2100);
}
END_TEST

START_TEST(origin_fields)
{
    pgo_msg m;

    decode_ok("origin.bin", &m);
    ck_assert_str_eq(m.u.origin.name, "fxorigin");
    ck_assert_uint_eq(m.u.origin.lsn, UINT64_C(0xABCDEF));
}
END_TEST

/* --- relations ----------------------------------------------------------- */

START_TEST(relation_columns)
{
    pgo_msg        m;
    const cdc_rel *rel;

    decode_ok("relation_customers.bin", &m);
    rel = m.u.relation.rel;
    ck_assert(m.u.relation.changed);
    ck_assert_uint_eq(rel->relid, 16391);
    ck_assert_str_eq(rel->nspname, "public");
    ck_assert_str_eq(rel->relname, "customers");
    ck_assert_int_eq(rel->replident, 'd');
    ck_assert_uint_eq(rel->version, 1);
    ck_assert_int_eq(rel->ncols, 2);
    ck_assert_str_eq(rel->cols[0].name, "id");
    ck_assert_uint_eq(rel->cols[0].type_oid, 23);     /* int4 */
    ck_assert_int_eq(rel->cols[0].typmod, -1);
    ck_assert(rel->cols[0].replident);
    ck_assert_str_eq(rel->cols[1].name, "name");
    ck_assert_uint_eq(rel->cols[1].type_oid, 25);     /* text */
    ck_assert(!rel->cols[1].replident);
    ck_assert_ptr_eq(pgo_rel_lookup(pgo_decoder_relcache(dec), 16391), rel);
}
END_TEST

START_TEST(relation_resent_unchanged)
{
    pgo_msg        m;
    const cdc_rel *first;

    decode_ok("relation_customers.bin", &m);
    first = m.u.relation.rel;
    decode_ok("relation_customers.bin", &m);
    ck_assert(!m.u.relation.changed);
    ck_assert_ptr_eq(m.u.relation.rel, first);
    ck_assert_uint_eq(m.u.relation.rel->version, 1);
}
END_TEST

START_TEST(relation_add_column_bumps_version)
{
    pgo_msg m;

    decode_ok("relation_events.bin", &m);
    ck_assert_int_eq(m.u.relation.rel->ncols, 2);
    decode_ok("relation_events_v2.bin", &m);
    ck_assert(m.u.relation.changed);
    ck_assert_uint_eq(m.u.relation.rel->version, 2);
    ck_assert_int_eq(m.u.relation.rel->ncols, 3);
    ck_assert_str_eq(m.u.relation.rel->cols[2].name, "extra");
    ck_assert_uint_eq(m.u.relation.rel->cols[2].type_oid, 23);
}
END_TEST

START_TEST(type_and_enum_column)
{
    pgo_msg t, r, i;

    decode_ok("type_mood.bin", &t);
    ck_assert_str_eq(t.u.type.nspname, "public");
    ck_assert_str_eq(t.u.type.typname, "mood");
    decode_ok("relation_moods.bin", &r);
    ck_assert_uint_eq(r.u.relation.rel->cols[1].type_oid, t.u.type.oid);
    decode_ok("insert_enum.bin", &i);
    ck_datum(&i.u.change.newtup.cols[1], 't', "happy");
}
END_TEST

/* --- tuples -------------------------------------------------------------- */

START_TEST(insert_values)
{
    pgo_msg r, m;

    decode_ok("relation_customers.bin", &r);
    decode_ok("insert_two_cols.bin", &m);
    ck_assert_ptr_eq(m.u.change.rel, r.u.relation.rel);
    ck_assert_int_eq(m.u.change.old_kind, 0);
    ck_assert_int_eq(m.u.change.newtup.ncols, 2);
    ck_datum(&m.u.change.newtup.cols[0], 't', "1");
    ck_datum(&m.u.change.newtup.cols[1], 't', "alice");
}
END_TEST

START_TEST(nulls_are_n)
{
    pgo_msg m;

    decode_ok("relation_nulls.bin", &m);
    decode_ok("insert_nulls.bin", &m);
    ck_datum(&m.u.change.newtup.cols[0], 't', "1");
    ck_datum(&m.u.change.newtup.cols[1], 'n', NULL);
    ck_datum(&m.u.change.newtup.cols[2], 'n', NULL);
}
END_TEST

START_TEST(update_key_change_has_old_key)
{
    pgo_msg m;

    decode_ok("relation_accounts.bin", &m);
    decode_ok("update_key_change.bin", &m);
    ck_assert_int_eq(m.u.change.old_kind, 'K');
    ck_datum(&m.u.change.oldtup.cols[0], 't', "1");
    ck_datum(&m.u.change.oldtup.cols[1], 'n', NULL);   /* not in the key */
    ck_datum(&m.u.change.newtup.cols[0], 't', "2");
    ck_datum(&m.u.change.newtup.cols[1], 't', "a@example.com");
}
END_TEST

START_TEST(update_without_key_change_has_no_old)
{
    pgo_msg m;

    decode_ok("relation_customers.bin", &m);
    decode_ok("update_simple.bin", &m);
    ck_assert_int_eq(m.u.change.old_kind, 0);
    ck_datum(&m.u.change.newtup.cols[1], 't', "bob");
}
END_TEST

START_TEST(replica_identity_full)
{
    pgo_msg r, u, d;

    decode_ok("relation_audit_full.bin", &r);
    ck_assert_int_eq(r.u.relation.rel->replident, 'f');
    decode_ok("update_full.bin", &u);
    ck_assert_int_eq(u.u.change.old_kind, 'O');
    ck_datum(&u.u.change.oldtup.cols[1], 't', "before");
    ck_datum(&u.u.change.newtup.cols[1], 't', "after");
    decode_ok("delete_full.bin", &d);
    ck_assert_int_eq(d.u.change.old_kind, 'O');
    ck_datum(&d.u.change.oldtup.cols[1], 't', "after");
}
END_TEST

START_TEST(delete_by_key)
{
    pgo_msg m;

    decode_ok("relation_customers.bin", &m);
    decode_ok("delete_key.bin", &m);
    ck_assert_int_eq(m.u.change.old_kind, 'K');
    ck_datum(&m.u.change.oldtup.cols[0], 't', "1");
    ck_datum(&m.u.change.oldtup.cols[1], 'n', NULL);
    ck_assert_int_eq(m.u.change.newtup.ncols, 0);
}
END_TEST

/* Unchanged TOAST must stay distinct from NULL. */
START_TEST(toast_unchanged_is_u)
{
    pgo_msg m;

    decode_ok("relation_docs.bin", &m);
    decode_ok("update_toast_unchanged.bin", &m);
    ck_datum(&m.u.change.newtup.cols[1], 't', "final");
    ck_datum(&m.u.change.newtup.cols[2], 'u', NULL);
}
END_TEST

/* --- messages ------------------------------------------------------------ */

START_TEST(truncate_two_tables)
{
    pgo_msg m;

    decode_ok("relation_parents.bin", &m);
    decode_ok("relation_children.bin", &m);
    decode_ok("truncate_two.bin", &m);
    ck_assert_int_eq(m.u.truncate.options, 3);     /* CASCADE | RESTART IDENTITY */
    ck_assert_int_eq(m.u.truncate.nrels, 2);
    ck_assert_str_eq(m.u.truncate.rels[0]->relname, "parents");
    ck_assert_str_eq(m.u.truncate.rels[1]->relname, "children");
}
END_TEST

START_TEST(logical_messages)
{
    pgo_msg t, n;

    decode_ok("message_transactional.bin", &t);
    ck_assert(t.u.message.transactional);
    ck_assert_str_eq(t.u.message.prefix, "cdc");
    ck_assert_uint_eq(t.u.message.len, strlen("in a transaction"));
    ck_assert_int_eq(memcmp(t.u.message.content, "in a transaction", t.u.message.len), 0);
    decode_ok("message_nontransactional.bin", &n);
    ck_assert(!n.u.message.transactional);
    ck_assert_uint_eq(n.u.message.len, 7);
    ck_assert_int_eq(memcmp(n.u.message.content, "outside", 7), 0);
    ck_assert_uint_gt(n.u.message.lsn, t.u.message.lsn);
}
END_TEST

/* --- stream -------------------------------------------------------------- */

START_TEST(stream_session)
{
    pgo_msg s, r, i, e, s2, c;

    decode_ok("stream_start.bin", &s);
    ck_assert(s.u.stream_start.first_segment);
    decode_ok("stream_relation_big.bin", &r);
    ck_assert_str_eq(r.u.relation.rel->relname, "big");
    decode_ok("stream_insert.bin", &i);
    ck_assert_uint_eq(i.xid, s.xid);
    ck_datum(&i.u.change.newtup.cols[0], 't', "1");
    decode_ok("stream_stop.bin", &e);
    decode_ok("stream_start_next.bin", &s2);
    ck_assert(!s2.u.stream_start.first_segment);
    ck_assert_uint_eq(s2.xid, s.xid);
    decode_ok("stream_stop.bin", &e);
    decode_ok("stream_commit.bin", &c);
    ck_assert_uint_eq(c.xid, s.xid);
    ck_assert_uint_gt(c.u.stream_commit.end_lsn, c.u.stream_commit.commit_lsn);
    ck_assert_int_gt(c.u.stream_commit.commit_ts_us, TS_2020);
    ck_assert_int_lt(c.u.stream_commit.commit_ts_us, TS_2100);
}
END_TEST

START_TEST(stream_subxact_abort)
{
    pgo_msg a, c;

    decode_ok("stream_abort_subxact.bin", &a);
    ck_assert_uint_ne(a.u.stream_abort.subxid, a.xid);
    ck_assert_uint_eq(a.u.stream_abort.abort_lsn, 0);   /* not sent before protocol 4 */
    decode_ok("stream_commit_after_subabort.bin", &c);
    ck_assert_uint_eq(c.xid, a.xid);
}
END_TEST

/* Outside a stream the leading xid is read as the relid. */
START_TEST(streamed_change_outside_stream_fails)
{
    pgo_msg  m;
    fixture *f;

    decode_ok("stream_start.bin", &m);
    decode_ok("stream_relation_big.bin", &m);
    decode_ok("stream_stop.bin", &m);
    f = hold("stream_insert.bin");
    ck_assert_int_eq(decode_raw(f->data, f->len, &m), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "relation 764 not seen"));
}
END_TEST

START_TEST(stream_state_is_checked)
{
    pgo_msg m;
    fixture *f;

    f = hold("stream_stop.bin");
    ck_assert_int_eq(decode_raw(f->data, f->len, &m), -1);     /* STOP outside */
    decode_ok("stream_start.bin", &m);
    f = hold("stream_start.bin");
    ck_assert_int_eq(decode_raw(f->data, f->len, &m), -1);     /* START inside */
    f = hold("begin.bin");
    ck_assert_int_eq(decode_raw(f->data, f->len, &m), -1);     /* BEGIN inside */
    f = hold("stream_commit.bin");
    ck_assert_int_eq(decode_raw(f->data, f->len, &m), -1);     /* COMMIT inside */
    decode_ok("stream_stop.bin", &m);
    decode_ok("stream_commit.bin", &m);
}
END_TEST

/*
 * Top-level abort (xid == subxid) in both forms: protocol 4 under streaming
 * 'parallel' adds lsn and time (always), any other stream never does.
 */
START_TEST(stream_abort_forms)
{
    static const uint8_t shrt[] = { 'A', 0, 0, 3, 1, 0, 0, 3, 1 };
    static const uint8_t lng[] = { 'A', 0, 0, 3, 1, 0, 0, 3, 1,
                                   0, 0, 0, 0, 0x01, 0x02, 0x03, 0x04,
                                   0, 0, 0, 0, 0, 0, 0, 0 };
    pgo_msg m;

    ck_assert_int_eq(decode_raw(shrt, sizeof(shrt), &m), 0);
    ck_assert_uint_eq(m.xid, 769);
    ck_assert_uint_eq(m.u.stream_abort.subxid, 769);
    /* Protocol 2 has no abort_lsn: the long form is trailing garbage. */
    ck_assert_int_eq(decode_raw(lng, sizeof(lng), &m), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "trailing"));
    teardown();
    setup_proto(4);                     /* protocol 4 with streaming 'on': the short form */
    ck_assert_int_eq(decode_raw(shrt, sizeof(shrt), &m), 0);
    ck_assert_int_eq(decode_raw(lng, sizeof(lng), &m), -1);
    teardown();
    setup_proto_opts(4, true);          /* streaming 'parallel': the long form only */
    ck_assert_int_eq(decode_raw(lng, sizeof(lng), &m), 0);
    ck_assert_uint_eq(m.u.stream_abort.abort_lsn, UINT64_C(0x01020304));
    ck_assert_int_eq(m.u.stream_abort.abort_ts_us, INT64_C(946684800000000));
    ck_assert_int_eq(decode_raw(shrt, sizeof(shrt), &m), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "truncated"));
    ck_assert_int_eq(decode_raw(lng, sizeof(lng) - 1, &m), -1);
}
END_TEST

START_TEST(abort_info_needs_proto4)
{
    pgo_opts o = { .proto_version = 2, .stream_abort_info = true };

    ck_assert_ptr_null(pgo_decoder_new(&o, &err));
    ck_assert_ptr_nonnull(strstr(err.msg, "protocol 4"));
}
END_TEST

START_TEST(proto1_rejects_stream_messages)
{
    pgo_msg m;
    fixture *f;

    teardown();
    setup_proto(1);
    f = hold("stream_start.bin");
    ck_assert_int_eq(decode_raw(f->data, f->len, &m), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "unknown message type"));
}
END_TEST

/* --- sequence: one whole session through the relation cache ------------- */

START_TEST(session_sequence)
{
    fixture  *f = hold("session.seq");
    size_t    off = 0;
    int       counts[128] = { 0 };
    uint64_t  final_lsn = 0;
    pgo_msg   m;

    while (off < f->len) {
        size_t len;

        ck_assert_uint_ge(f->len - off, 4);
        len = ((size_t) f->data[off] << 24) | ((size_t) f->data[off + 1] << 16) |
              ((size_t) f->data[off + 2] << 8) | f->data[off + 3];
        off += 4;
        ck_assert_uint_le(len, f->len - off);
        if (pgo_decode(dec, f->data + off, len, &m, arena, &err) != 0)
            ck_abort_msg("session message at %zu: %s", off, err.msg);
        off += len;
        counts[m.type & 0x7f]++;
        if (m.type == PGO_BEGIN)
            final_lsn = m.u.begin.final_lsn;
        if (m.type == PGO_COMMIT)
            ck_assert_uint_eq(m.u.commit.commit_lsn, final_lsn);
        if (m.type == PGO_INSERT && strcmp(m.u.change.rel->relname, "events") == 0)
            ck_assert_int_eq(m.u.change.newtup.ncols, m.u.change.rel->ncols);
        cdc_arena_reset(arena);
    }
    ck_assert_int_eq(counts['B'], 2);
    ck_assert_int_eq(counts['C'], 2);
    ck_assert_int_eq(counts['I'], 3);
    ck_assert_int_eq(counts['U'], 1);
    ck_assert_int_eq(counts['D'], 1);
    ck_assert_int_eq(counts['T'], 1);
    ck_assert_int_eq(counts['M'], 1);
    ck_assert_int_eq(counts['R'], 4);
    ck_assert_uint_eq(pgo_rel_lookup(pgo_decoder_relcache(dec), 16448)->version, 2);
}
END_TEST

/* --- malformed ----------------------------------------------------------- */

/* Decodes a copy of fixture `name` with byte `at` set to `v`; expects CDC_E_PROTO. */
static void
expect_patched_fails(const char *name, size_t at, uint8_t v, const char *needle)
{
    fixture *f = hold(name);
    pgo_msg  m;

    ck_assert_uint_lt(at, f->len);
    f->data[at] = v;
    ck_assert_int_eq(decode_raw(f->data, f->len, &m), -1);
    ck_assert_int_eq(err.code, CDC_E_PROTO);
    if (strstr(err.msg, needle) == NULL)
        ck_abort_msg("error \"%s\" lacks \"%s\"", err.msg, needle);
}

START_TEST(unknown_message_byte)
{
    static const uint8_t z[] = { 'Z', 0, 0, 0, 0 };
    static const uint8_t prepare[] = { 'b', 0, 0, 0, 0 };   /* BEGIN PREPARE: never asked for */
    pgo_msg m;

    ck_assert_int_eq(decode_raw(z, sizeof(z), &m), -1);
    ck_assert_int_eq(err.code, CDC_E_PROTO);
    ck_assert_ptr_nonnull(strstr(err.msg, "0x5a 'Z'"));
    ck_assert_ptr_nonnull(strstr(err.msg, "offset 0"));
    ck_assert_int_eq(decode_raw(prepare, sizeof(prepare), &m), -1);
    ck_assert_int_eq(decode_raw(z, 0, &m), -1);
}
END_TEST

/* insert_two_cols: 'I' relid(4) 'N' ncols(2) 't' len(4) "1" 't' len(4) "alice" */
START_TEST(bad_tuple_marker)
{
    pgo_msg m;

    decode_ok("relation_customers.bin", &m);
    decode_ok("relation_accounts.bin", &m);
    expect_patched_fails("insert_two_cols.bin", 5, 'X', "offset 5 (byte 0x58 'X')");
    expect_patched_fails("insert_two_cols.bin", 8, 'q', "unknown column kind");
    expect_patched_fails("update_key_change.bin", 5, 'Q', "UPDATE: expected");
    expect_patched_fails("delete_key.bin", 5, 'N', "DELETE: expected");
}
END_TEST

START_TEST(relation_not_cached)
{
    fixture *f = hold("insert_two_cols.bin");
    pgo_msg  m;

    ck_assert_int_eq(decode_raw(f->data, f->len, &m), -1);
    ck_assert_int_eq(err.code, CDC_E_PROTO);
    ck_assert_ptr_nonnull(strstr(err.msg, "relation 16391 not seen in a Relation message"));
    f = hold("truncate_two.bin");
    ck_assert_int_eq(decode_raw(f->data, f->len, &m), -1);
}
END_TEST

START_TEST(column_count_mismatch)
{
    pgo_msg m;

    decode_ok("relation_customers.bin", &m);
    expect_patched_fails("insert_two_cols.bin", 7, 3, "tuple has 3 columns");
    /* The same insert against the three-column version of another table. */
    decode_ok("relation_events_v2.bin", &m);
    {
        fixture *f = hold("insert_two_cols.bin");

        f->data[3] = (uint8_t) (16448 >> 8);   /* relid 16391 -> 16448 (events) */
        f->data[4] = (uint8_t) 16448;
        ck_assert_int_eq(decode_raw(f->data, f->len, &m), -1);
        ck_assert_ptr_nonnull(strstr(err.msg, "relation public.events (16448) has 3"));
    }
}
END_TEST

START_TEST(trailing_garbage)
{
    fixture *f = hold("commit.bin");
    uint8_t  buf[64];
    pgo_msg  m;

    ck_assert_uint_lt(f->len, sizeof(buf));
    memcpy(buf, f->data, f->len);
    buf[f->len] = 0;
    ck_assert_int_eq(decode_raw(buf, f->len + 1, &m), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "trailing bytes"));
}
END_TEST

START_TEST(bad_flags)
{
    pgo_msg m;

    expect_patched_fails("commit.bin", 1, 1, "unknown COMMIT flags");
    expect_patched_fails("message_transactional.bin", 1, 3, "unknown MESSAGE flags");
    /* relation_customers: 'R' relid "public\0" "customers\0" replident */
    expect_patched_fails("relation_customers.bin", 22, 'x', "replica identity");
    expect_patched_fails("relation_customers.bin", 25, 2, "column flags");
    decode_ok("relation_parents.bin", &m);
    decode_ok("relation_children.bin", &m);
    expect_patched_fails("truncate_two.bin", 5, 4, "unknown TRUNCATE options");
    expect_patched_fails("truncate_two.bin", 4, 3, "TRUNCATE of 3 relations");
    expect_patched_fails("stream_start.bin", 5, 2, "first-segment");
    expect_patched_fails("stream_commit.bin", 5, 1, "unknown STREAM COMMIT flags");
}
END_TEST

/* A failed Relation message leaves the cache as it was. */
START_TEST(failed_relation_not_installed)
{
    fixture *f = hold("relation_customers.bin");
    pgo_msg  m;

    ck_assert_int_eq(decode_raw(f->data, f->len - 1, &m), -1);
    ck_assert_ptr_null(pgo_rel_lookup(pgo_decoder_relcache(dec), 16391));
}
END_TEST

START_TEST(bad_proto_version)
{
    pgo_opts o = { .proto_version = 5 };

    ck_assert_ptr_null(pgo_decoder_new(&o, &err));
    ck_assert_int_eq(err.code, CDC_E_INVAL);
    pgo_decoder_free(NULL);
}
END_TEST

static Suite *
pgoutput_suite(void)
{
    Suite *s = suite_create("pgoutput");
    TCase *tc;

    tc = tcase_create("fixtures");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, decodes_fixture, 0, NCASES);
    suite_add_tcase(s, tc);

    tc = tcase_create("begin_commit");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, begin_matches_commit);
    tcase_add_test(tc, origin_fields);
    suite_add_tcase(s, tc);

    tc = tcase_create("relations");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, relation_columns);
    tcase_add_test(tc, relation_resent_unchanged);
    tcase_add_test(tc, relation_add_column_bumps_version);
    tcase_add_test(tc, type_and_enum_column);
    suite_add_tcase(s, tc);

    tc = tcase_create("tuples");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, insert_values);
    tcase_add_test(tc, nulls_are_n);
    tcase_add_test(tc, update_key_change_has_old_key);
    tcase_add_test(tc, update_without_key_change_has_no_old);
    tcase_add_test(tc, replica_identity_full);
    tcase_add_test(tc, delete_by_key);
    tcase_add_test(tc, toast_unchanged_is_u);
    suite_add_tcase(s, tc);

    tc = tcase_create("messages");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, truncate_two_tables);
    tcase_add_test(tc, logical_messages);
    suite_add_tcase(s, tc);

    tc = tcase_create("stream");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, stream_session);
    tcase_add_test(tc, stream_subxact_abort);
    tcase_add_test(tc, streamed_change_outside_stream_fails);
    tcase_add_test(tc, stream_state_is_checked);
    tcase_add_test(tc, stream_abort_forms);
    tcase_add_test(tc, abort_info_needs_proto4);
    tcase_add_test(tc, proto1_rejects_stream_messages);
    suite_add_tcase(s, tc);

    tc = tcase_create("sequence");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, session_sequence);
    suite_add_tcase(s, tc);

    tc = tcase_create("malformed");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, truncated_fixture_fails, 0, NCASES);
    tcase_add_test(tc, unknown_message_byte);
    tcase_add_test(tc, bad_tuple_marker);
    tcase_add_test(tc, relation_not_cached);
    tcase_add_test(tc, column_count_mismatch);
    tcase_add_test(tc, trailing_garbage);
    tcase_add_test(tc, bad_flags);
    tcase_add_test(tc, failed_relation_not_installed);
    tcase_add_test(tc, bad_proto_version);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(pgoutput_suite());
    int      nfailed;

    srunner_run_all(sr, CK_NORMAL);
    nfailed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return nfailed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

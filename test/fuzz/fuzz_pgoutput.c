/*
 * libFuzzer target: pgoutput messages through the decoder (decoder/
 * pgoutput.c, relcache.c), and every decoded row on through the type
 * mapper, the value decoder and the JSON encoder, as agent/pipeline/capture.c does.
 *
 * Each input gets a fresh decoder whose relation cache is first seeded with
 * the captured Relation and Type messages in test/fixtures/pgoutput/ (read
 * once, at start-up), so arbitrary row messages can name a known relation.
 *
 * Input: [mode][modes][payload]
 *   mode   bits 0-1: protocol version - 1 (1..4)
 *          bit 2: payload is a sequence of messages, each [length: 4 bytes BE][bytes]
 *                 (the format of test/fixtures/pgoutput/session.seq; a length
 *                 past the end takes the rest); otherwise the payload is one message
 *          bit 3: no catalog enrichment (wire types only)
 *          bit 4: JSON with schemas.enable; bit 5: replace.null.with.default off
 *          bit 6: with protocol 4, STREAM ABORT carries its LSN and time (streaming parallel)
 *   modes  handling modes (fz_type_opts)
 * A decode failure must set err; a decoded change must decode to values or fail
 * with err set; what is encoded must parse as JSON.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/core/cdc_arena.h"
#include "agent/core/cdc_err.h"
#include "agent/core/cdc_log.h"
#include "decoder/pgoutput.h"
#include "decoder/values.h"
#include "test/fuzz/fuzz_event.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Messages decoded before each input: every captured Relation and Type outside a stream. */
static const char *const seed_names[] = {
    "relation_accounts.bin", "relation_audit_full.bin", "relation_children.bin",
    "relation_customers.bin", "relation_docs.bin", "relation_events.bin",
    "relation_moods.bin", "relation_nulls.bin", "relation_parents.bin", "type_mood.bin",
};
#define NSEEDS (sizeof(seed_names) / sizeof(seed_names[0]))

static uint8_t  *seed_data[NSEEDS];
static size_t    seed_len[NSEEDS];
static cdc_arena *fz_arena;
static volatile uint8_t fz_sink;

typedef struct fz_run {
    pgo_decoder  *dec;
    pgo_type_opts topts;
    bool          catalog, schemas, replace_null;
    cdc_txn       txn;
} fz_run;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    cdc_log_set_level(CDC_LOG_OFF);
    for (size_t i = 0; i < NSEEDS; i++) {
        char rel[128];

        snprintf(rel, sizeof(rel), "pgoutput/%s", seed_names[i]);
        seed_data[i] = fz_load(rel, &seed_len[i]);
    }
    fz_arena = cdc_arena_new(4096);
    return 0;
}

static void
fz_check_rc(int rc, const cdc_err *err)
{
    if (rc != 0 && (rc != -1 || err->code == CDC_OK || err->msg[0] == '\0'))
        abort();
}

/* Reads every byte a tuple's datums point to. */
static void
fz_touch_tuple(const pgo_tuple *t)
{
    uint8_t acc = 0;

    for (int i = 0; i < t->ncols; i++)
        for (uint32_t k = 0; t->cols[i].data && k < t->cols[i].len; k++)
            acc ^= (uint8_t) t->cols[i].data[k];
    fz_sink ^= acc;
}

/* Values of a tuple, or NULL with err checked. */
static cdc_value *
fz_values(fz_run *r, const cdc_rel *rel, const pgo_tuple *t)
{
    cdc_err    err;
    cdc_value *v;

    cdc_err_clear(&err);
    fz_touch_tuple(t);
    v = pgo_tuple_values(rel, t, &r->topts, fz_arena, &err);
    if (v == NULL)
        fz_check_rc(-1, &err);
    return v;
}

static void
fz_change(fz_run *r, const pgo_msg *m)
{
    cdc_rel  *rel = (cdc_rel *) m->u.change.rel;   /* the cache's entry: the agent edits it */
    cdc_event ev = { 0 };
    cdc_err   err;

    cdc_err_clear(&err);
    fz_check_rc(fz_prepare_rel(rel, &r->topts, r->catalog, &err), &err);
    ev.rel = rel;
    ev.txn = &r->txn;
    ev.lsn = 0x1000;
    ev.source_ts_us = r->txn.commit_ts_us;
    if (m->type != PGO_DELETE && (ev.after = fz_values(r, rel, &m->u.change.newtup)) == NULL)
        return;
    if (m->u.change.old_kind != 0 &&
        (ev.before = fz_values(r, rel, &m->u.change.oldtup)) == NULL)
        return;
    ev.op = m->type == PGO_INSERT ? CDC_OP_CREATE : m->type == PGO_UPDATE ? CDC_OP_UPDATE
                                                                           : CDC_OP_DELETE;
    ev.key = ev.after ? ev.after : ev.before;
    if (ev.key == NULL)
        return;                             /* a delete without an old tuple */
    fz_json_encode(&ev, r->schemas, r->replace_null);
}

static void
fz_other(fz_run *r, const pgo_msg *m)
{
    cdc_event ev = { 0 };
    uint8_t   acc = 0;

    ev.txn = &r->txn;
    switch (m->type) {
    case PGO_TRUNCATE:
        for (int i = 0; i < m->u.truncate.nrels; i++) {
            if (m->u.truncate.rels[i] == NULL)
                abort();
            ev.op = CDC_OP_TRUNCATE;
            ev.rel = m->u.truncate.rels[i];
            fz_json_encode(&ev, r->schemas, r->replace_null);
        }
        break;
    case PGO_MESSAGE:
        for (uint32_t k = 0; k < m->u.message.len; k++)
            acc ^= m->u.message.content[k];
        ev.op = CDC_OP_MESSAGE;
        ev.msg_prefix = m->u.message.prefix;
        ev.msg_content = m->u.message.content;
        ev.msg_len = m->u.message.len;
        ev.msg_transactional = m->u.message.transactional;
        fz_json_encode(&ev, r->schemas, r->replace_null);
        break;
    case PGO_BEGIN:
        r->txn.xid = m->u.begin.xid;
        r->txn.commit_lsn = m->u.begin.final_lsn;
        r->txn.commit_ts_us = m->u.begin.commit_ts_us;
        break;
    case PGO_ORIGIN:
        acc ^= (uint8_t) strlen(m->u.origin.name);
        break;
    case PGO_TYPE:
        acc ^= (uint8_t) (strlen(m->u.type.nspname) + strlen(m->u.type.typname));
        break;
    default:
        break;
    }
    fz_sink ^= acc;
}

/*
 * Decodes one message and takes it as far as the agent would.  The message
 * is copied to a buffer of its own size, so that ASan sees a read past it.
 */
static void
fz_message(fz_run *r, const uint8_t *data, size_t len)
{
    uint8_t *msg = malloc(len ? len : 1);
    pgo_msg  m;
    cdc_err  err;
    int      rc;

    memcpy(msg, data, len);
    cdc_err_clear(&err);
    rc = pgo_decode(r->dec, msg, len, &m, fz_arena, &err);
    fz_check_rc(rc, &err);
    if (rc == 0) {
        switch (m.type) {
        case PGO_INSERT:
        case PGO_UPDATE:
        case PGO_DELETE:
            fz_change(r, &m);
            break;
        case PGO_RELATION:
            cdc_err_clear(&err);
            fz_check_rc(fz_prepare_rel((cdc_rel *) m.u.relation.rel, &r->topts, r->catalog,
                                       &err), &err);
            break;
        default:
            fz_other(r, &m);
            break;
        }
    }
    cdc_arena_reset(fz_arena);
    free(msg);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_run   r;
    pgo_opts po = { 0 };
    cdc_err  err;

    if (size < 2)
        return 0;
    memset(&r, 0, sizeof(r));
    po.proto_version = (data[0] & 3) + 1;
    po.stream_abort_info = po.proto_version == 4 && (data[0] & 64);
    r.catalog = !(data[0] & 8);
    r.schemas = data[0] & 16;
    r.replace_null = !(data[0] & 32);
    r.topts = fz_type_opts(data[1]);
    r.txn.commit_ts_us = INT64_C(1700000000000000);
    if ((r.dec = pgo_decoder_new(&po, &err)) == NULL)
        abort();
    for (size_t i = 0; i < NSEEDS; i++) {
        pgo_msg m;

        if (pgo_decode(r.dec, seed_data[i], seed_len[i], &m, fz_arena, &err) != 0)
            abort();                        /* a captured fixture must decode */
        cdc_arena_reset(fz_arena);
    }
    if (data[0] & 4) {
        size_t off = 2;

        while (size - off >= 4) {
            size_t len = (size_t) data[off] << 24 | (size_t) data[off + 1] << 16 |
                         (size_t) data[off + 2] << 8 | data[off + 3];

            off += 4;
            if (len > size - off)
                len = size - off;
            fz_message(&r, data + off, len);
            off += len;
        }
    } else {
        fz_message(&r, data + 2, size - 2);
    }
    pgo_decoder_free(r.dec);
    return 0;
}

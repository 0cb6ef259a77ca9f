/*
 * The pgoutput decoder of pgoutput.h: one XLogData payload in, one pgo_msg
 * out.  One small reader per message, in wire order, after PostgreSQL's
 * src/backend/replication/logical/proto.c (the writers there are the
 * specification; the "Logical Replication Message Formats" chapter of the
 * manual describes the same bytes).  Strict: an unknown message type, a
 * flag bit or marker that is not defined, a tuple that does not match its
 * relation, or trailing bytes are protocol errors naming the offset (and
 * the byte), never skipped.
 *
 * The decoder keeps two pieces of state between messages: the relation
 * cache, which Relation messages fill and row messages resolve through, and
 * whether it is between STREAM START and STREAM STOP, where pgoutput puts
 * the (sub)transaction id in front of Relation, Type, row, Truncate and
 * Message bodies.  Both change only when a whole message decoded cleanly.
 *
 * Not handled: the two-phase messages of protocol 3 ('b', 'P', 'K', 'r',
 * 'p'), which pgoutput sends only when the agent asks for two_phase (it
 * never does); they are rejected as unknown.
 */
#include "decoder/pgoutput.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/core/cdc_mem.h"
#include "decoder/reader.h"

/* Microseconds from the Unix epoch to PostgreSQL's (2000-01-01). */
#define PGO_EPOCH_DIFF_US INT64_C(946684800000000)

/* Flag bits defined by proto.c; any other bit is an error. */
#define PGO_COL_REPLIDENT     0x01  /* LOGICALREP_IS_REPLICA_IDENTITY */
#define PGO_MSG_TRANSACTIONAL 0x01  /* MESSAGE_TRANSACTIONAL */
#define PGO_TRUNCATE_FLAGS    0x03  /* TRUNCATE_CASCADE | TRUNCATE_RESTART_SEQS */

/* Smallest wire size of one Relation column: flags, "" name, type oid, typmod. */
#define PGO_MIN_ATTR_LEN 10

struct pgo_decoder {
    pgo_relcache *rc;
    int           proto;
    bool          abort_info;   /* STREAM ABORT carries abort_lsn and time (pgo_opts) */
    bool          in_stream;    /* between STREAM START and STREAM STOP */

    /* Borrowed for the duration of one pgo_decode() call. */
    cdc_arena    *arena;
    char          why[160];     /* formatted failure text the reader points at */
};

pgo_decoder *
pgo_decoder_new(const pgo_opts *opts, cdc_err *err)
{
    int          proto = opts ? opts->proto_version : 1;
    pgo_decoder *dec;

    if (proto < 1 || proto > 4) {
        cdc_err_set(err, CDC_E_INVAL, "pgoutput: protocol version %d not supported (1..4)",
                    proto);
        return NULL;
    }
    if (opts && opts->stream_abort_info && proto < 4) {
        cdc_err_set(err, CDC_E_INVAL, "pgoutput: STREAM ABORT info needs protocol 4, not %d",
                    proto);
        return NULL;
    }
    dec = cdc_xcalloc(1, sizeof(*dec));
    dec->abort_info = opts && opts->stream_abort_info;
    dec->rc = pgo_relcache_new();
    dec->proto = proto;
    return dec;
}

void
pgo_decoder_free(pgo_decoder *dec)
{
    if (dec == NULL)
        return;
    pgo_relcache_free(dec->rc);
    free(dec);
}

pgo_relcache *
pgo_decoder_relcache(pgo_decoder *dec)
{
    return dec->rc;
}

/* Saturates instead of overflowing: no server sends such a time, but input is untrusted. */
static int64_t
pgo_unix_us(int64_t pg_us)
{
    if (pg_us > INT64_MAX - PGO_EPOCH_DIFF_US)
        return INT64_MAX;
    return pg_us + PGO_EPOCH_DIFF_US;
}

/* Records a failure whose text needs numbers; it lives in dec->why until the next decode. */
static int
pgo_failf(pgo_decoder *dec, pgo_rd *rd, size_t at, const char *fmt, ...) CDC_PRINTF(4, 5);

static int
pgo_failf(pgo_decoder *dec, pgo_rd *rd, size_t at, const char *fmt, ...)
{
    va_list ap;

    if (!pgo_rd_ok(rd))
        return -1;
    va_start(ap, fmt);
    vsnprintf(dec->why, sizeof(dec->why), fmt, ap);
    va_end(ap);
    return pgo_rd_fail_at(rd, at, dec->why);
}

/* proto.c sends pg_catalog as the empty string (logicalrep_write_namespace). */
static const char *
pgo_nspname(const char *wire)
{
    return wire[0] == '\0' ? "pg_catalog" : wire;
}

/* The leading xid of a message inside a stream; 0 outside one. */
static uint32_t
pgo_read_stream_xid(pgo_rd *rd)
{
    return rd->in_stream ? pgo_rd_u32(rd) : 0;
}

/* Reads a relid and resolves it through the cache. */
static const cdc_rel *
pgo_read_relid(pgo_decoder *dec, pgo_rd *rd)
{
    size_t         at = pgo_rd_offset(rd);
    uint32_t       relid = pgo_rd_u32(rd);
    const cdc_rel *rel;

    if (!pgo_rd_ok(rd))
        return NULL;
    rel = pgo_rel_lookup(dec->rc, relid);
    if (rel == NULL)
        pgo_failf(dec, rd, at, "relation %u not seen in a Relation message", relid);
    return rel;
}

/*
 * TupleData: ncols, then per column a kind byte; 't' and 'b' carry a length
 * and that many bytes.  Values stay in the message; the array is arena memory.
 */
static int
pgo_read_tuple(pgo_decoder *dec, pgo_rd *rd, const cdc_rel *rel, pgo_tuple *tup)
{
    size_t at = pgo_rd_offset(rd);
    int    ncols = pgo_rd_u16(rd);

    if (!pgo_rd_ok(rd))
        return -1;
    if (ncols != rel->ncols)
        return pgo_failf(dec, rd, at, "tuple has %d columns, relation %s.%s (%u) has %d", ncols,
                         rel->nspname, rel->relname, rel->relid, rel->ncols);
    if ((size_t) ncols > pgo_rd_left(rd))
        return pgo_rd_fail(rd, "message truncated");
    tup->ncols = ncols;
    tup->cols = ncols ? cdc_arena_zalloc(dec->arena, sizeof(pgo_datum) * (size_t) ncols) : NULL;
    for (int i = 0; i < ncols && pgo_rd_ok(rd); i++) {
        pgo_datum *d = &tup->cols[i];
        size_t     kind_at = pgo_rd_offset(rd);

        d->kind = (char) pgo_rd_u8(rd);
        switch (d->kind) {
        case 'n':
        case 'u':
            break;
        case 't':
        case 'b':
            d->len = pgo_rd_u32(rd);
            d->data = (const char *) pgo_rd_bytes(rd, d->len);
            break;
        default:
            return pgo_rd_reject(rd, kind_at, "unknown column kind (want n, u, t or b)");
        }
    }
    return pgo_rd_ok(rd) ? 0 : -1;
}

/* BEGIN: final_lsn, commit timestamp, xid. */
static int
pgo_read_begin(pgo_rd *rd, pgo_msg *out)
{
    out->u.begin.final_lsn = pgo_rd_u64(rd);
    out->u.begin.commit_ts_us = pgo_unix_us(pgo_rd_i64(rd));
    out->u.begin.xid = pgo_rd_u32(rd);
    out->xid = out->u.begin.xid;
    return pgo_rd_finish(rd);
}

/* The body of COMMIT and STREAM COMMIT: flags (none defined), commit_lsn, end_lsn, timestamp. */
static int
pgo_read_commit_body(pgo_rd *rd, pgo_commit *c, const char *bad_flags)
{
    size_t at = pgo_rd_offset(rd);

    c->flags = pgo_rd_u8(rd);
    if (c->flags != 0)
        return pgo_rd_reject(rd, at, bad_flags);
    c->commit_lsn = pgo_rd_u64(rd);
    c->end_lsn = pgo_rd_u64(rd);
    c->commit_ts_us = pgo_unix_us(pgo_rd_i64(rd));
    return pgo_rd_finish(rd);
}

/* COMMIT: flags (none defined), commit_lsn, end_lsn, commit timestamp. */
static int
pgo_read_commit(pgo_rd *rd, pgo_msg *out)
{
    return pgo_read_commit_body(rd, &out->u.commit, "unknown COMMIT flags");
}

/* ORIGIN: origin's commit LSN, origin name. */
static int
pgo_read_origin(pgo_rd *rd, pgo_msg *out)
{
    out->u.origin.lsn = pgo_rd_u64(rd);
    out->u.origin.name = pgo_rd_cstr(rd);
    return pgo_rd_finish(rd);
}

/* One Relation column: flags, name, type oid, typmod. */
static void
pgo_read_attr(pgo_rd *rd, cdc_col *col)
{
    size_t  at = pgo_rd_offset(rd);
    uint8_t flags = pgo_rd_u8(rd);

    if (flags & ~PGO_COL_REPLIDENT) {
        pgo_rd_reject(rd, at, "unknown RELATION column flags");
        return;
    }
    col->replident = (flags & PGO_COL_REPLIDENT) != 0;
    col->name = (char *) pgo_rd_cstr(rd);
    col->type_oid = pgo_rd_u32(rd);
    col->typmod = pgo_rd_i32(rd);
}

/*
 * RELATION: [xid] relid, namespace, name, replica identity, ncols, columns.
 * The cache is updated only once the whole message has been read.
 */
static int
pgo_read_relation(pgo_decoder *dec, pgo_rd *rd, pgo_msg *out)
{
    uint32_t    relid;
    const char *nspname, *relname;
    char        replident;
    int         ncols;
    size_t      at;
    cdc_col    *cols = NULL;

    out->xid = pgo_read_stream_xid(rd);
    relid = pgo_rd_u32(rd);
    nspname = pgo_nspname(pgo_rd_cstr(rd));
    relname = pgo_rd_cstr(rd);
    at = pgo_rd_offset(rd);
    replident = (char) pgo_rd_u8(rd);
    if (pgo_rd_ok(rd) && strchr("dnfi", replident) == NULL)
        return pgo_rd_reject(rd, at, "unknown replica identity (want d, n, f or i)");
    ncols = pgo_rd_u16(rd);
    if (!pgo_rd_ok(rd))
        return -1;
    /* Bound the allocation by what the message can hold. */
    if ((size_t) ncols > pgo_rd_left(rd) / PGO_MIN_ATTR_LEN)
        return pgo_rd_fail(rd, "message truncated");
    if (ncols > 0)
        cols = cdc_arena_zalloc(dec->arena, sizeof(cdc_col) * (size_t) ncols);
    for (int i = 0; i < ncols; i++)
        pgo_read_attr(rd, &cols[i]);
    if (pgo_rd_finish(rd) < 0)
        return -1;
    out->u.relation.rel = pgo_rel_install(dec->rc, relid, nspname, relname, replident, ncols,
                                          cols, &out->u.relation.changed);
    return 0;
}

/* TYPE: [xid] type oid, namespace, name. */
static int
pgo_read_type(pgo_rd *rd, pgo_msg *out)
{
    out->xid = pgo_read_stream_xid(rd);
    out->u.type.oid = pgo_rd_u32(rd);
    out->u.type.nspname = pgo_nspname(pgo_rd_cstr(rd));
    out->u.type.typname = pgo_rd_cstr(rd);
    return pgo_rd_finish(rd);
}

/* The head of INSERT, UPDATE and DELETE: [xid] relid, then a tuple marker (its offset in *at). */
static uint8_t
pgo_read_change_head(pgo_decoder *dec, pgo_rd *rd, pgo_msg *out, size_t *at)
{
    out->xid = pgo_read_stream_xid(rd);
    out->u.change.rel = pgo_read_relid(dec, rd);
    *at = pgo_rd_offset(rd);
    return pgo_rd_u8(rd);
}

/* The tuple that ends a change message, and the end of the message. */
static int
pgo_read_last_tuple(pgo_decoder *dec, pgo_rd *rd, pgo_msg *out, pgo_tuple *tup)
{
    if (pgo_read_tuple(dec, rd, out->u.change.rel, tup) < 0)
        return -1;
    return pgo_rd_finish(rd);
}

/* INSERT: [xid] relid 'N' tuple. */
static int
pgo_read_insert(pgo_decoder *dec, pgo_rd *rd, pgo_msg *out)
{
    size_t at;

    if (pgo_read_change_head(dec, rd, out, &at) != 'N')
        return pgo_rd_reject(rd, at, "INSERT: expected new-tuple marker 'N'");
    return pgo_read_last_tuple(dec, rd, out, &out->u.change.newtup);
}

/* UPDATE: [xid] relid, optionally 'K' or 'O' and the old tuple, then 'N' tuple. */
static int
pgo_read_update(pgo_decoder *dec, pgo_rd *rd, pgo_msg *out)
{
    size_t  at;
    uint8_t marker = pgo_read_change_head(dec, rd, out, &at);

    if (marker == 'K' || marker == 'O') {
        out->u.change.old_kind = (char) marker;
        if (pgo_read_tuple(dec, rd, out->u.change.rel, &out->u.change.oldtup) < 0)
            return -1;
        at = pgo_rd_offset(rd);
        marker = pgo_rd_u8(rd);
    }
    if (marker != 'N')
        return pgo_rd_reject(rd, at, "UPDATE: expected tuple marker 'K', 'O' or 'N'");
    return pgo_read_last_tuple(dec, rd, out, &out->u.change.newtup);
}

/* DELETE: [xid] relid, 'K' or 'O', old tuple. */
static int
pgo_read_delete(pgo_decoder *dec, pgo_rd *rd, pgo_msg *out)
{
    size_t  at;
    uint8_t marker = pgo_read_change_head(dec, rd, out, &at);

    if (marker != 'K' && marker != 'O')
        return pgo_rd_reject(rd, at, "DELETE: expected old-tuple marker 'K' or 'O'");
    out->u.change.old_kind = (char) marker;
    return pgo_read_last_tuple(dec, rd, out, &out->u.change.oldtup);
}

/* TRUNCATE: [xid] nrels, options, relids. */
static int
pgo_read_truncate(pgo_decoder *dec, pgo_rd *rd, pgo_msg *out)
{
    uint32_t nrels;
    size_t   at;

    out->xid = pgo_read_stream_xid(rd);
    nrels = pgo_rd_u32(rd);
    at = pgo_rd_offset(rd);
    out->u.truncate.options = pgo_rd_u8(rd);
    if (out->u.truncate.options & ~PGO_TRUNCATE_FLAGS)
        return pgo_rd_reject(rd, at, "unknown TRUNCATE options");
    if (!pgo_rd_ok(rd))
        return -1;
    if (nrels != pgo_rd_left(rd) / 4 || pgo_rd_left(rd) % 4 != 0)
        return pgo_failf(dec, rd, at - 4, "TRUNCATE of %u relations carries %zu bytes of relids",
                         nrels, pgo_rd_left(rd));
    out->u.truncate.nrels = (int) nrels;
    out->u.truncate.rels = cdc_arena_zalloc(dec->arena, sizeof(cdc_rel *) * (nrels ? nrels : 1));
    for (uint32_t i = 0; i < nrels && pgo_rd_ok(rd); i++)
        out->u.truncate.rels[i] = pgo_read_relid(dec, rd);
    return pgo_rd_finish(rd);
}

/* MESSAGE: [xid] flags, lsn, prefix, length, content. */
static int
pgo_read_message(pgo_rd *rd, pgo_msg *out)
{
    size_t  at;
    uint8_t flags;

    out->xid = pgo_read_stream_xid(rd);
    at = pgo_rd_offset(rd);
    flags = pgo_rd_u8(rd);
    if (flags & ~PGO_MSG_TRANSACTIONAL)
        return pgo_rd_reject(rd, at, "unknown MESSAGE flags");
    out->u.message.transactional = (flags & PGO_MSG_TRANSACTIONAL) != 0;
    out->u.message.lsn = pgo_rd_u64(rd);
    out->u.message.prefix = pgo_rd_cstr(rd);
    out->u.message.len = pgo_rd_u32(rd);
    out->u.message.content = pgo_rd_bytes(rd, out->u.message.len);
    return pgo_rd_finish(rd);
}

/* STREAM START: xid, first-segment flag (0 or 1). */
static int
pgo_read_stream_start(pgo_rd *rd, pgo_msg *out)
{
    size_t  at;
    uint8_t first;

    if (rd->in_stream)
        return pgo_rd_fail_at(rd, 0, "STREAM START inside a stream");
    out->xid = pgo_rd_u32(rd);
    at = pgo_rd_offset(rd);
    first = pgo_rd_u8(rd);
    if (first > 1)
        return pgo_rd_reject(rd, at, "STREAM START: first-segment flag is not 0 or 1");
    out->u.stream_start.first_segment = first == 1;
    return pgo_rd_finish(rd);
}

/* STREAM STOP: no body. */
static int
pgo_read_stream_stop(pgo_rd *rd)
{
    if (!rd->in_stream)
        return pgo_rd_fail_at(rd, 0, "STREAM STOP outside a stream");
    return pgo_rd_finish(rd);
}

/* STREAM COMMIT: xid, flags (none defined), commit_lsn, end_lsn, commit timestamp. */
static int
pgo_read_stream_commit(pgo_rd *rd, pgo_msg *out)
{
    if (rd->in_stream)
        return pgo_rd_fail_at(rd, 0, "STREAM COMMIT inside a stream");
    out->xid = pgo_rd_u32(rd);
    return pgo_read_commit_body(rd, &out->u.stream_commit, "unknown STREAM COMMIT flags");
}

/*
 * STREAM ABORT: xid, subxid, and with protocol 4 under streaming 'parallel'
 * abort_lsn and abort timestamp (write_abort_info in pgoutput_stream_abort
 * is data->streaming == LOGICALREP_STREAM_PARALLEL; pgo_opts says which).
 */
static int
pgo_read_stream_abort(pgo_decoder *dec, pgo_rd *rd, pgo_msg *out)
{
    if (rd->in_stream)
        return pgo_rd_fail_at(rd, 0, "STREAM ABORT inside a stream");
    out->xid = pgo_rd_u32(rd);
    out->u.stream_abort.subxid = pgo_rd_u32(rd);
    if (dec->abort_info) {
        out->u.stream_abort.abort_lsn = pgo_rd_u64(rd);
        out->u.stream_abort.abort_ts_us = pgo_unix_us(pgo_rd_i64(rd));
    }
    return pgo_rd_finish(rd);
}

static const char *
pgo_msg_name(uint8_t type)
{
    switch (type) {
    case PGO_BEGIN: return "BEGIN";
    case PGO_COMMIT: return "COMMIT";
    case PGO_ORIGIN: return "ORIGIN";
    case PGO_RELATION: return "RELATION";
    case PGO_TYPE: return "TYPE";
    case PGO_INSERT: return "INSERT";
    case PGO_UPDATE: return "UPDATE";
    case PGO_DELETE: return "DELETE";
    case PGO_TRUNCATE: return "TRUNCATE";
    case PGO_MESSAGE: return "MESSAGE";
    case PGO_STREAM_START: return "STREAM START";
    case PGO_STREAM_STOP: return "STREAM STOP";
    case PGO_STREAM_COMMIT: return "STREAM COMMIT";
    case PGO_STREAM_ABORT: return "STREAM ABORT";
    default: return NULL;
    }
}

/*
 * Dispatches on the message byte.  Stream messages exist from protocol 2;
 * under protocol 1 their bytes are unknown, as they are to the server.
 */
static int
pgo_dispatch(pgo_decoder *dec, pgo_rd *rd, uint8_t type, pgo_msg *out)
{
    bool streams = dec->proto >= 2;

    switch (type) {
    case PGO_BEGIN:
    case PGO_COMMIT:
        if (rd->in_stream)
            return pgo_rd_fail_at(rd, 0, "transaction boundary inside a stream");
        return type == PGO_BEGIN ? pgo_read_begin(rd, out) : pgo_read_commit(rd, out);
    case PGO_ORIGIN: return pgo_read_origin(rd, out);
    case PGO_RELATION: return pgo_read_relation(dec, rd, out);
    case PGO_TYPE: return pgo_read_type(rd, out);
    case PGO_INSERT: return pgo_read_insert(dec, rd, out);
    case PGO_UPDATE: return pgo_read_update(dec, rd, out);
    case PGO_DELETE: return pgo_read_delete(dec, rd, out);
    case PGO_TRUNCATE: return pgo_read_truncate(dec, rd, out);
    case PGO_MESSAGE: return pgo_read_message(rd, out);
    case PGO_STREAM_START:
        if (streams)
            return pgo_read_stream_start(rd, out);
        break;
    case PGO_STREAM_STOP:
        if (streams)
            return pgo_read_stream_stop(rd);
        break;
    case PGO_STREAM_COMMIT:
        if (streams)
            return pgo_read_stream_commit(rd, out);
        break;
    case PGO_STREAM_ABORT:
        if (streams)
            return pgo_read_stream_abort(dec, rd, out);
        break;
    default:
        break;
    }
    return pgo_rd_reject(rd, 0, "unknown message type");
}

static bool
pgo_printable(int c)
{
    return c >= 0x20 && c < 0x7f;
}

/* Turns the reader's recorded failure into err, naming the message, offset and byte. */
static int
pgo_report(const pgo_rd *rd, uint8_t type, size_t len, cdc_err *err)
{
    const char *name = pgo_msg_name(type);
    char        byte[24] = "";

    if (rd->fail_byte >= 0 && pgo_printable(rd->fail_byte))
        snprintf(byte, sizeof(byte), " (byte 0x%02x '%c')", (unsigned) rd->fail_byte,
                 rd->fail_byte);
    else if (rd->fail_byte >= 0)
        snprintf(byte, sizeof(byte), " (byte 0x%02x)", (unsigned) rd->fail_byte);
    return cdc_err_set(err, CDC_E_PROTO, "pgoutput %s message: %s at offset %zu%s (length %zu)",
                       name ? name : "unknown", rd->fail, rd->fail_at, byte, len);
}

int
pgo_decode(pgo_decoder *dec, const uint8_t *data, size_t len, pgo_msg *out, cdc_arena *arena,
           cdc_err *err)
{
    pgo_rd  rd;
    uint8_t type;

    memset(out, 0, sizeof(*out));
    if (len == 0)
        return cdc_err_set(err, CDC_E_PROTO, "pgoutput: empty message at offset 0");
    pgo_rd_init(&rd, data, len);
    rd.in_stream = dec->in_stream;
    dec->arena = arena;
    type = pgo_rd_u8(&rd);
    out->type = (pgo_msgtype) type;
    if (pgo_dispatch(dec, &rd, type, out) < 0 || !pgo_rd_ok(&rd)) {
        dec->arena = NULL;
        return pgo_report(&rd, type, len, err);
    }
    dec->arena = NULL;
    if (type == PGO_STREAM_START)
        dec->in_stream = true;
    else if (type == PGO_STREAM_STOP)
        dec->in_stream = false;
    return 0;
}

/*
 * pgoutput protocol decoder: one XLogData payload in, one protocol message
 * out.  Pure: no I/O, no catalog access.  Strict: an unknown message type,
 * flag, tuple marker or column kind is an error naming the byte and its
 * offset, never skipped.  Follows PostgreSQL's src/backend/replication/
 * logical/proto.c (protocol versions 1 through 4; the agent asks for 1, 2 or 4:
 * agent/source/repl.h, repl_proto_for)
 * and the "Logical Replication Message Formats" chapter of the manual.
 *
 * Relation messages update the decoder's relation cache (decoder/relcache.h);
 * row messages resolve their relation id through it, so a row for an
 * unknown relation is a protocol error.  Tuple data is left as text slices:
 * typed values come from decoder/values.h, which needs the enriched
 * relation.
 */
#ifndef CDC_DECODER_PGOUTPUT_H
#define CDC_DECODER_PGOUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/core/cdc_arena.h"
#include "agent/core/cdc_err.h"
#include "agent/core/cdc_rel.h"
#include "decoder/relcache.h"

/* Message types: the wire bytes, as in PostgreSQL's logicalproto.h. */
typedef enum pgo_msgtype {
    PGO_BEGIN = 'B',
    PGO_COMMIT = 'C',
    PGO_ORIGIN = 'O',
    PGO_RELATION = 'R',
    PGO_TYPE = 'Y',
    PGO_INSERT = 'I',
    PGO_UPDATE = 'U',
    PGO_DELETE = 'D',
    PGO_TRUNCATE = 'T',
    PGO_MESSAGE = 'M',
    PGO_STREAM_START = 'S',
    PGO_STREAM_STOP = 'E',
    PGO_STREAM_COMMIT = 'c',
    PGO_STREAM_ABORT = 'A'
} pgo_msgtype;

/* One column of a tuple as sent: kind is 'n' null, 'u' unchanged TOAST, 't' text, 'b' binary. */
typedef struct pgo_datum {
    char        kind;
    uint32_t    len;
    const char *data;   /* points into the message bytes (not NUL-terminated); NULL for n/u */
} pgo_datum;

typedef struct pgo_tuple {
    int        ncols;
    pgo_datum *cols;    /* arena memory */
} pgo_tuple;

/* The body of COMMIT and of STREAM COMMIT. */
typedef struct pgo_commit {
    uint8_t  flags;
    uint64_t commit_lsn, end_lsn;
    int64_t  commit_ts_us;
} pgo_commit;

typedef struct pgo_msg {
    pgo_msgtype type;
    uint32_t    xid;    /* streamed changes (inside STREAM START..STOP), stream messages */
    union {
        struct { uint64_t final_lsn; int64_t commit_ts_us; uint32_t xid; } begin;
        pgo_commit commit;
        struct { uint64_t lsn; const char *name; } origin;
        struct { const cdc_rel *rel; bool changed; } relation;  /* changed: columns differ from before */
        struct { uint32_t oid; const char *nspname, *typname; } type;
        struct {
            const cdc_rel *rel;
            char           old_kind;  /* 0 none, 'K' key only, 'O' full old row */
            pgo_tuple      oldtup;    /* valid when old_kind != 0 */
            pgo_tuple      newtup;    /* INSERT, UPDATE */
        } change;                     /* INSERT, UPDATE, DELETE */
        struct {
            uint8_t         options;  /* 1 CASCADE, 2 RESTART IDENTITY */
            int             nrels;
            const cdc_rel **rels;     /* arena memory */
        } truncate;
        struct {
            bool           transactional;
            uint64_t       lsn;
            const char    *prefix;
            const uint8_t *content;
            uint32_t       len;
        } message;
        struct { bool first_segment; } stream_start;
        pgo_commit stream_commit;
        struct { uint32_t subxid; uint64_t abort_lsn; int64_t abort_ts_us; } stream_abort;
    } u;
} pgo_msg;

typedef struct pgo_decoder pgo_decoder;

typedef struct pgo_opts {
    int  proto_version;     /* 1..4: decides which messages exist and the xid prefixes */
    /*
     * Protocol 4 only: the agent asked for streaming 'parallel', so every
     * STREAM ABORT carries abort_lsn and the abort time (pgoutput's
     * write_abort_info); without it no STREAM ABORT does.
     */
    bool stream_abort_info;
} pgo_opts;

/* @returns a decoder that owns a new relation cache, or NULL with err set. */
pgo_decoder *pgo_decoder_new(const pgo_opts *opts, cdc_err *err);
void         pgo_decoder_free(pgo_decoder *dec);        /* NULL is a no-op */

/* The decoder's relation cache (borrowed): the agent enriches entries in it. */
pgo_relcache *pgo_decoder_relcache(pgo_decoder *dec);

/*
 * Decodes one message.  Pointers in *out reference `data` (which must stay
 * valid while *out is used), the arena, or the relation cache.  Tracks
 * STREAM START/STOP itself, so streamed changes get their xid.
 * @returns 0, or -1 with err set (CDC_E_PROTO naming the offset).
 * @thread any, one decoder per thread.
 */
int pgo_decode(pgo_decoder *dec, const uint8_t *data, size_t len, pgo_msg *out,
               cdc_arena *arena, cdc_err *err);

#endif

/*
 * libFuzzer target: decoded values through the JSON encoder (schemas/
 * json.c, json_schema.c, json_value.c).  A relation of up to 8 columns of any type the
 * value decoder knows is built in a relation cache and type-mapped; text
 * values are decoded with pgo_value_from_text (failures become NULL, as a
 * skipped value); the event's key and value are encoded with and without
 * schemas, and jansson must parse each (a parse failure is a bug: abort).
 *
 * Input: [ncols][types: ncols bytes][typmods: ncols bytes][modes][flags][keys][defaults]
 *        [values, separated by NUL bytes]
 *   ncols    1 + (byte % 8)
 *   types    indexes into fz_types (fuzz_common.h)
 *   typmods  0: -1; numeric: precision 1 + b % 40, scale b / 40; else b - 1
 *   modes    handling modes (fz_type_opts)
 *   flags    bits 0-2: op c u d r t T m c; bit 3: schemas.enable;
 *            bit 4: replace.null.with.default off; bit 5: no catalog;
 *            bit 6: snapshot "last" instead of "true" for r
 *   keys     bit i: column i is a key column; defaults: bit i: column i has a
 *            default, whose pg_get_expr text is the next value
 *   values   defaults first, then the after row, then the before row; a value
 *            that is the single byte 01 is NULL, 02 unchanged TOAST.  For op m
 *            the first value is the prefix and the rest is the content.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/core/cdc_arena.h"
#include "agent/core/cdc_err.h"
#include "agent/core/cdc_log.h"
#include "decoder/relcache.h"
#include "decoder/values.h"
#include "test/fuzz/fuzz_event.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAXCOLS 8

static cdc_arena *fz_arena;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    cdc_log_set_level(CDC_LOG_OFF);
    fz_arena = cdc_arena_new(4096);
    return 0;
}

/* A cursor over the NUL-separated values. */
typedef struct fz_cur {
    const uint8_t *p, *end;
    bool           done;
} fz_cur;

/* The next field: false when none is left ("a" is one field, "a\0" two). */
static bool
fz_field(fz_cur *c, const char **s, size_t *n)
{
    const uint8_t *nul;

    if (c->done)
        return false;
    nul = memchr(c->p, '\0', (size_t) (c->end - c->p));
    *s = (const char *) c->p;
    *n = (size_t) ((nul ? nul : c->end) - c->p);
    if (nul)
        c->p = nul + 1;
    else
        c->done = true;
    return true;
}

static int32_t
fz_typmod(const fz_type *t, uint8_t b)
{
    if (b == 0)
        return -1;
    if (t->base == 1700 || t->elem == 1700)
        return (int32_t) (((uint32_t) (1 + b % 40) << 16) | (uint32_t) (b / 40)) + 4;
    return b - 1;
}

/* One row: ncols values, each decoded or NULL. */
static cdc_value *
fz_row(const cdc_rel *rel, const pgo_type_opts *opts, fz_cur *cur)
{
    const char *s;
    cdc_value *row = cdc_arena_zalloc(fz_arena, sizeof(cdc_value) * (size_t) rel->ncols);
    size_t     n;

    for (int i = 0; i < rel->ncols && fz_field(cur, &s, &n); i++) {
        cdc_err err;

        if (n == 1 && s[0] == 1)
            continue;
        if (n == 1 && s[0] == 2) {
            row[i].state = CDC_VAL_UNCHANGED;
            continue;
        }
        if (!rel->cols[i].ctype.supported)
            continue;
        cdc_err_clear(&err);
        if (pgo_value_from_text(&rel->cols[i], s, n, opts, fz_arena, &row[i], &err) != 0) {
            if (err.code == CDC_OK || err.msg[0] == '\0')
                abort();
            memset(&row[i], 0, sizeof(row[i]));
        }
    }
    return row;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const cdc_op ops[8] = { CDC_OP_CREATE, CDC_OP_UPDATE, CDC_OP_DELETE, CDC_OP_READ,
                                   CDC_OP_TRUNCATE, CDC_OP_TOMBSTONE, CDC_OP_MESSAGE,
                                   CDC_OP_CREATE };
    pgo_relcache  *rc;
    cdc_rel       *rel;
    cdc_col        cols[MAXCOLS];
    char           names[MAXCOLS][8];
    const fz_type *types[MAXCOLS];
    pgo_type_opts  opts;
    cdc_event      ev = { 0 };
    cdc_txn        txn = { .xid = 770, .commit_lsn = 0x1569230, .end_lsn = 0x1569260,
                           .commit_ts_us = INT64_C(1714558530123456),
                           .prev_commit_lsn = 0x1569118 };
    const uint8_t *p;
    fz_cur         cur;
    const char    *s;
    size_t         n;
    uint8_t        flags, keys, defs;
    int            ncols, nkeys = 0;
    cdc_err        err;

    if (size < 1)
        return 0;
    ncols = 1 + data[0] % MAXCOLS;
    if (size < 1 + 2 * (size_t) ncols + 4)
        return 0;
    p = data + 1;
    memset(cols, 0, sizeof(cols));
    for (int i = 0; i < ncols; i++) {
        types[i] = &fz_types[p[i] % FZ_NTYPES];
        snprintf(names[i], sizeof(names[i]), "c%d", i);
        cols[i].name = names[i];
        cols[i].type_oid = types[i]->oid;
        cols[i].typmod = fz_typmod(types[i], p[ncols + i]);
    }
    p += 2 * ncols;
    opts = fz_type_opts(p[0]);
    flags = p[1];
    keys = p[2];
    defs = p[3];
    p += 4;
    cur = (fz_cur) { p, data + size, false };

    rc = pgo_relcache_new();
    rel = pgo_rel_install(rc, 16384, "public", "fz\"tbl", 'd', ncols, cols, NULL);
    for (int i = 0; i < ncols; i++) {
        char *def = NULL;

        if ((defs >> i & 1) && fz_field(&cur, &s, &n)) {
            def = malloc(n + 1);
            memcpy(def, s, n);
            def[n] = '\0';
        }
        fz_describe_col(rel, i, types[i], cols[i].typmod, !(flags & 32), def);
        free(def);
        if (keys >> i & 1) {
            rel->cols[i].key_pos = ++nkeys;
            rel->cols[i].not_null = true;
        }
    }
    rel->nkeys = nkeys;
    cdc_err_clear(&err);
    if (pgo_typemap_rel(rel, &opts, &err) != 0)
        abort();                            /* only for impossible input */
    rel->topic = pgo_rel_strdup(rel, "fz.public.fz_tbl");

    ev.op = ops[flags & 7];
    ev.pos = (cdc_pos) { txn.commit_lsn, 3 };
    ev.txn = &txn;
    ev.lsn = 0x1569118;
    ev.source_ts_us = txn.commit_ts_us;
    ev.rel = rel;
    if (ev.op == CDC_OP_MESSAGE) {
        ev.rel = NULL;
        if (fz_field(&cur, &s, &n)) {
            char *prefix = cdc_arena_strndup(fz_arena, s, n);

            ev.msg_prefix = prefix;
            ev.msg_content = cur.done ? NULL : cur.p;
            ev.msg_len = cur.done ? 0 : (size_t) (cur.end - cur.p);
            ev.msg_transactional = flags & 64;
        }
    } else {
        if (ev.op == CDC_OP_READ) {
            ev.snapshot = flags & 64 ? "last" : "true";
            ev.txn = NULL;
        }
        if (ev.op != CDC_OP_DELETE)
            ev.after = fz_row(rel, &opts, &cur);
        if (ev.op == CDC_OP_UPDATE || ev.op == CDC_OP_DELETE || ev.op == CDC_OP_TOMBSTONE)
            ev.before = fz_row(rel, &opts, &cur);
        ev.key = ev.op == CDC_OP_DELETE ? ev.before : ev.after;
    }
    fz_json_encode(&ev, flags & 8, !(flags & 16));
    fz_json_encode(&ev, !(flags & 8), !(flags & 16));
    cdc_arena_reset(fz_arena);
    pgo_relcache_free(rc);
    return 0;
}

/*
 * libFuzzer target: one column value through the type mapper and the value
 * decoder (decoder/typemap.c, coldefault.c, values*.c), as the agent does it: a
 * relation in a relation cache, pgo_typemap_rel, pgo_value_from_text.
 *
 * Input: [type][typmod: 4 bytes, big-endian][modes][flags][text]
 *   type   index into fz_types (fuzz_common.h), modulo its size
 *   modes  handling modes (fz_type_opts: decimal, time, binary, interval, money digits)
 *   flags  bit 0: the text is also the column default (pg_get_expr text, up to a NUL)
 *          bit 1: no catalog: only the wire type OID, as before enrichment
 * Every input must give 0 or -1 with err set; a decoded value's memory is read
 * back whole so that a bad length is caught.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/core/cdc_arena.h"
#include "agent/core/cdc_err.h"
#include "agent/core/cdc_log.h"
#include "decoder/relcache.h"
#include "decoder/typemap.h"
#include "decoder/values.h"
#include "test/fuzz/fuzz_common.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static cdc_arena *fz_arena;
static volatile uint8_t fz_sink;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    cdc_log_set_level(CDC_LOG_OFF);
    fz_arena = cdc_arena_new(1024);
    return 0;
}

/* Reads every byte a value points to (ASan reports a length past its allocation). */
static void
fz_touch(const cdc_ctype *ct, const cdc_value *v, bool elem)
{
    uint8_t kind = elem ? ct->elem_kind : ct->kind, sem = elem ? ct->elem_sem : ct->sem;
    uint8_t acc = 0;

    if (v->state == CDC_VAL_UNCHANGED)
        abort();                            /* the text decoder never produces it */
    if (v->state != CDC_VAL_PRESENT)
        return;
    if (kind == CDC_CT_STRING || kind == CDC_CT_BYTES ||
        (kind == CDC_CT_STRUCT && sem == CDC_SEM_VARIABLE_DECIMAL)) {
        if (v->u.s.n > 0 && v->u.s.p == NULL)
            abort();
        for (size_t i = 0; i < v->u.s.n; i++)
            acc ^= (uint8_t) v->u.s.p[i];
    } else if (kind == CDC_CT_ARRAY) {
        if (elem || (v->u.arr.n > 0 && v->u.arr.items == NULL))
            abort();                        /* one-dimensional only */
        for (size_t i = 0; i < v->u.arr.n; i++)
            fz_touch(ct, &v->u.arr.items[i], true);
    }
    fz_sink ^= acc;
}

static void
fz_check_rc(int rc, const cdc_err *err)
{
    if (rc == 0)
        return;
    if (rc != -1 || err->code == CDC_OK || err->msg[0] == '\0')
        abort();                            /* failure without a message */
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pgo_relcache  *rc;
    cdc_rel       *rel;
    cdc_col        c0;
    cdc_value      v;
    cdc_err        err;
    pgo_type_opts  opts;
    const fz_type *t;
    const char    *text;
    char          *def = NULL;
    size_t         len;
    int32_t        typmod;
    uint8_t        flags;
    int            r;

    if (size < 7)
        return 0;
    t = &fz_types[data[0] % FZ_NTYPES];
    typmod = (int32_t) ((uint32_t) data[1] << 24 | (uint32_t) data[2] << 16 |
                        (uint32_t) data[3] << 8 | data[4]);
    opts = fz_type_opts(data[5]);
    flags = data[6];
    text = (const char *) data + 7;
    len = size - 7;

    rc = pgo_relcache_new();
    memset(&c0, 0, sizeof(c0));
    c0.name = "c";
    c0.type_oid = t->oid;
    c0.typmod = typmod;
    rel = pgo_rel_install(rc, 16384, "public", "fz", 'd', 1, &c0, NULL);
    if (flags & 1) {
        def = malloc(len + 1);
        memcpy(def, text, len);
        def[len] = '\0';
    }
    fz_describe_col(rel, 0, t, typmod, !(flags & 2), def);
    free(def);

    cdc_err_clear(&err);
    r = pgo_typemap_rel(rel, &opts, &err);
    fz_check_rc(r, &err);
    if (r == 0 && rel->cols[0].has_default)
        fz_touch(&rel->cols[0].ctype, &rel->cols[0].def, false);

    if (r == 0 && rel->cols[0].ctype.supported) {
        cdc_err_clear(&err);
        r = pgo_value_from_text(&rel->cols[0], text, len, &opts, fz_arena, &v, &err);
        fz_check_rc(r, &err);
        if (r == 0)
            fz_touch(&rel->cols[0].ctype, &v, false);
    }
    cdc_arena_reset(fz_arena);
    pgo_relcache_free(rc);
    return 0;
}

/*
 * The upsert key index of one Iceberg table (ice_table.h): key bytes -> data file (an index
 * into t->paths) and row position of the key's live row.
 *
 * Bounded memory (about 35 bytes per 8-byte key): open addressing with linear probing over
 * 16-byte slots at up to 85% load, the capacity growing by half (any size: the home slot is
 * the hash scaled to the capacity), deletion by backward shift (no removed markers). Keys
 * live in an arena of large blocks as a LEB128 length and the bytes, in 4-byte units; a
 * slot holds its key's reference (block, unit), a 16-bit hash tag, the file index (32 bits)
 * and the position (48 bits, signed). The arena is compacted when more than half of it
 * holds deleted keys. Beyond the limits (4095 blocks of up to 4 MiB of keys, 2^32 slots,
 * positions of 48 bits) the agent stops with a message saying so rather than mix rows up.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/core/cdc_mem.h"
#include "sinks/iceberg/ice_table.h"

/* ---------------------------------------------------------------- key index */

typedef struct kslot {
    uint32_t ref;       /* 0: empty; else (block + 1) << KIDX_OFF_BITS | unit in block */
    uint32_t file;
    uint32_t plo;       /* position, low 32 bits */
    uint16_t phi;       /* position, bits 32..47 */
    uint16_t tag;       /* hash bits 0..15 */
} kslot;

#define KIDX_OFF_BITS  20
#define KIDX_BLK_UNITS ((uint32_t) 1 << KIDX_OFF_BITS)     /* 4 MiB */
#define KIDX_MAX_BLKS  ((1u << (32 - KIDX_OFF_BITS)) - 1)
#define KIDX_POS_MAX   ((INT64_C(1) << 47) - 1)
#define KIDX_MIN_CAP   64

struct ice_kidx {
    kslot    *s;
    size_t    cap;      /* slots, any size */
    size_t    live;
    uint32_t **blk;     /* arena blocks of 4-byte units */
    uint32_t *bcap;     /* units in each block */
    uint32_t  nblk;
    uint32_t  bused;    /* units used in the last block */
    size_t    units;    /* units handed out, all blocks */
    size_t    dead;     /* of which deleted keys' */
    size_t    bytes;    /* slots + blocks, for ice_kidx_bytes */
};

_Static_assert(sizeof(kslot) == 16, "key index slots are 16 bytes");

static void
kidx_fatal(const char *what)
{
    fprintf(stderr, "FATAL: iceberg upsert key index: %s\n", what);
    abort();
}

static uint64_t
khash(const uint8_t *p, size_t n)
{
    uint64_t h = 1469598103934665603ULL ^ n;

    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    h ^= h >> 33;       /* murmur3's finalizer: every bit counts in tag and home */
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

static size_t
khome(const ice_kidx *x, uint64_t h)
{
    return (size_t) (((h >> 32) * (uint64_t) x->cap) >> 32);
}

static const uint8_t *
kref(const ice_kidx *x, uint32_t ref, size_t *n)
{
    const uint8_t *p = (const uint8_t *) (x->blk[(ref >> KIDX_OFF_BITS) - 1]
                                          + (ref & (KIDX_BLK_UNITS - 1)));
    size_t         len = 0;
    int            sh = 0;

    for (;; sh += 7) {
        uint8_t b = *p++;

        len |= (size_t) (b & 0x7f) << sh;
        if (!(b & 0x80))
            break;
    }
    *n = len;
    return p;
}

static size_t
kunits(size_t n)
{
    size_t hdr = 1;

    for (size_t v = n; v >= 0x80; v >>= 7)
        hdr++;
    return (hdr + n + 3) / 4;
}

/* Copies key k into the arena; its reference. */
static uint32_t
kstore(ice_kidx *x, const uint8_t *k, size_t n)
{
    size_t   u = kunits(n);
    uint8_t *p;
    uint32_t ref;

    if (x->nblk == 0 || x->bused + u > x->bcap[x->nblk - 1]) {
        size_t c = x->nblk ? (size_t) x->bcap[x->nblk - 1] * 2 : 1024;

        if (c > KIDX_BLK_UNITS)
            c = KIDX_BLK_UNITS;
        if (c < u)
            c = u;      /* a long key has a block of its own */
        if (x->nblk == KIDX_MAX_BLKS || c > UINT32_MAX)
            kidx_fatal("more keys than it can hold (16 GiB of key bytes)");
        x->blk = cdc_xrealloc(x->blk, (x->nblk + 1) * sizeof(*x->blk));
        x->bcap = cdc_xrealloc(x->bcap, (x->nblk + 1) * sizeof(*x->bcap));
        x->blk[x->nblk] = cdc_xmalloc(c * 4);
        x->bcap[x->nblk] = (uint32_t) c;
        x->nblk++;
        x->bused = 0;
        x->bytes += c * 4;
    }
    ref = (x->nblk << KIDX_OFF_BITS) | x->bused;
    p = (uint8_t *) (x->blk[x->nblk - 1] + x->bused);
    for (size_t v = n;; v >>= 7) {
        *p++ = (uint8_t) ((v & 0x7f) | (v >= 0x80 ? 0x80 : 0));
        if (v < 0x80)
            break;
    }
    if (n)
        memcpy(p, k, n);
    x->bused += (uint32_t) u;
    x->units += u;
    return ref;
}

static void
kput_pos(kslot *e, int32_t file, int64_t pos)
{
    if (pos < -KIDX_POS_MAX - 1 || pos > KIDX_POS_MAX)
        kidx_fatal("a row position beyond 2^47 in one data file");
    e->file = (uint32_t) file;
    e->plo = (uint32_t) ((uint64_t) pos & 0xffffffffu);
    e->phi = (uint16_t) (((uint64_t) pos >> 32) & 0xffffu);
}

static void
kget_pos(const kslot *e, int32_t *file, int64_t *pos)
{
    uint64_t v = (uint64_t) e->phi << 32 | e->plo;

    if (v & (UINT64_C(1) << 47))
        v |= UINT64_C(0xffff) << 48;    /* sign extension */
    *file = (int32_t) e->file;
    *pos = (int64_t) v;
}

static void
kidx_free_blocks(uint32_t **blk, uint32_t nblk)
{
    for (uint32_t i = 0; i < nblk; i++)
        free(blk[i]);
    free(blk);
}

void
ice_kidx_free(ice_kidx *x)
{
    if (x == NULL)
        return;
    kidx_free_blocks(x->blk, x->nblk);
    free(x->bcap);
    free(x->s);
    free(x);
}

/* The slot of key k (hash h), or of the empty slot ending its probe run; *found tells. */
static size_t
kidx_find(const ice_kidx *x, const uint8_t *k, size_t n, uint64_t h, bool *found)
{
    uint16_t tag = (uint16_t) h;

    for (size_t i = khome(x, h);; i = i + 1 == x->cap ? 0 : i + 1) {
        const kslot *e = &x->s[i];
        size_t       en;
        const uint8_t *ek;

        if (e->ref == 0) {
            *found = false;
            return i;
        }
        if (e->tag != tag)
            continue;
        ek = kref(x, e->ref, &en);
        if (en == n && (n == 0 || memcmp(ek, k, n) == 0)) {
            *found = true;
            return i;
        }
    }
}

static uint64_t
kslot_hash(const ice_kidx *x, const kslot *e)
{
    size_t         n;
    const uint8_t *k = kref(x, e->ref, &n);

    return khash(k, n);
}

/* Rebuilds the slots at capacity cap (keys stay where they are in the arena). */
static void
kidx_resize(ice_kidx *x, size_t cap)
{
    kslot *old = x->s;
    size_t ocap = x->cap;

    if (cap > UINT32_MAX)
        kidx_fatal("more than 2^32 slots");
    x->s = cdc_xcalloc(cap, sizeof(*x->s));
    x->cap = cap;
    x->bytes += cap * sizeof(kslot);
    for (size_t i = 0; i < ocap; i++) {
        size_t j;

        if (old[i].ref == 0)
            continue;
        for (j = khome(x, kslot_hash(x, &old[i])); x->s[j].ref; j = j + 1 == cap ? 0 : j + 1)
            ;
        x->s[j] = old[i];
    }
    free(old);
    x->bytes -= ocap * sizeof(kslot);
}

/* Moves the live keys into fresh blocks when most of the arena is deleted keys. */
static void
kidx_compact(ice_kidx *x)
{
    uint32_t **oblk = x->blk;
    uint32_t  *obcap = x->bcap;
    uint32_t   onblk = x->nblk;
    ice_kidx   o = *x;

    x->blk = NULL;
    x->bcap = NULL;
    x->nblk = 0;
    x->bused = 0;
    x->units = 0;
    x->dead = 0;
    for (uint32_t i = 0; i < onblk; i++)
        x->bytes -= (size_t) obcap[i] * 4;
    for (size_t i = 0; i < x->cap; i++)
        if (x->s[i].ref) {
            size_t         n;
            const uint8_t *k = kref(&o, x->s[i].ref, &n);

            x->s[i].ref = kstore(x, k, n);
        }
    kidx_free_blocks(oblk, onblk);
    free(obcap);
}

ice_kidx *
ice_kidx_new(void)
{
    return cdc_xcalloc(1, sizeof(ice_kidx));
}

/* Sets key -> (file, pos); *had gets the previous value when there was one. */
void
ice_kidx_set(ice_kidx *x, const uint8_t *k, size_t n, int32_t file, int64_t pos, bool *had,
             int32_t *ofile, int64_t *opos)
{
    uint64_t h = khash(k, n);
    size_t   i;
    kslot   *e;

    if ((x->live + 1) * 20 > x->cap * 17)       /* load above 85% */
        kidx_resize(x, x->cap < KIDX_MIN_CAP ? KIDX_MIN_CAP : x->cap + x->cap / 2);
    i = kidx_find(x, k, n, h, had);
    e = &x->s[i];
    if (*had) {
        kget_pos(e, ofile, opos);
    } else {
        kput_pos(e, file, pos);         /* refuses before anything changes */
        e->ref = kstore(x, k, n);
        e->tag = (uint16_t) h;
        x->live++;
    }
    kput_pos(e, file, pos);
}

/* Removes key; *had and the old value as kidx_set. */
void
ice_kidx_del(ice_kidx *x, const uint8_t *k, size_t n, bool *had, int32_t *ofile, int64_t *opos)
{
    size_t i, j;

    *had = false;
    if (x == NULL || x->live == 0)
        return;
    i = kidx_find(x, k, n, khash(k, n), had);
    if (!*had)
        return;
    kget_pos(&x->s[i], ofile, opos);
    {
        size_t kn;

        kref(x, x->s[i].ref, &kn);
        x->dead += kunits(kn);
    }
    x->s[i].ref = 0;
    x->live--;
    /* Backward shift: pull later members of the run into the hole when their home allows. */
    for (j = i + 1 == x->cap ? 0 : i + 1; x->s[j].ref; j = j + 1 == x->cap ? 0 : j + 1) {
        size_t home = khome(x, kslot_hash(x, &x->s[j]));
        bool   stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);

        if (stays)
            continue;
        x->s[i] = x->s[j];
        x->s[j].ref = 0;
        i = j;
    }
    if (x->dead * 2 > x->units && x->units >= 65536)
        kidx_compact(x);
}

bool
ice_kidx_get(ice_kidx *x, const uint8_t *k, size_t n, int32_t *file, int64_t *pos)
{
    bool   found;
    size_t i;

    if (x == NULL || x->live == 0)
        return false;
    i = kidx_find(x, k, n, khash(k, n), &found);
    if (found)
        kget_pos(&x->s[i], file, pos);
    return found;
}

size_t
ice_kidx_bytes(const ice_kidx *x)
{
    return x ? x->bytes + sizeof(*x) + x->nblk * (sizeof(*x->blk) + sizeof(*x->bcap)) : 0;
}

size_t
ice_kidx_count(const ice_kidx *x)
{
    return x ? x->live : 0;
}

int32_t
ice_tbl_path(ice_tbl *t, const char *uri)
{
    for (int i = t->npaths - 1; i >= 0; i--)
        if (strcmp(t->paths[i], uri) == 0)
            return i;
    t->paths = cdc_xrealloc(t->paths, (size_t) (t->npaths + 1) * sizeof(*t->paths));
    t->ptuples = cdc_xrealloc(t->ptuples, (size_t) (t->npaths + 1) * sizeof(*t->ptuples));
    t->paths[t->npaths] = cdc_xstrdup(uri);
    t->ptuples[t->npaths] = NULL;
    return t->npaths++;
}

ice_value *
ice_tuple_dup(const ice_value *v, int n)
{
    size_t     bytes = 0;
    ice_value *out;
    uint8_t   *blob;

    if (v == NULL)
        return NULL;
    for (int i = 0; i < n; i++)
        if (!v[i].null && v[i].p)
            bytes += v[i].n;
    out = cdc_xmalloc((size_t) n * sizeof(*out) + bytes + 1);
    blob = (uint8_t *) (out + n);
    for (int i = 0; i < n; i++) {
        out[i] = v[i];
        if (!v[i].null && v[i].p) {
            memcpy(blob, v[i].p, v[i].n);
            out[i].p = blob;
            blob += v[i].n;
        }
    }
    return out;
}

void
ice_tbl_path_tuple(ice_tbl *t, int32_t file, const ice_value *tuple)
{
    if (file < 0 || file >= t->npaths || t->spec == NULL || t->spec->nfields == 0)
        return;
    free(t->ptuples[file]);
    t->ptuples[file] = ice_tuple_dup(tuple, t->spec->nfields);
}

int64_t
ice_tbl_keys(const ice_tbl *t)
{
    return t->kidx ? (int64_t) t->kidx->live : 0;
}

int
ice_tbl_index_put(ice_tbl *t, const uint8_t *key, size_t klen, const char *file, int64_t pos)
{
    bool    had;
    int32_t of;
    int64_t op;

    if (t->kidx == NULL)
        t->kidx = ice_kidx_new();
    ice_kidx_set(t->kidx, key, klen, ice_tbl_path(t, file), pos, &had, &of, &op);
    return had ? 1 : 0;
}

int
ice_kidx_remap(ice_kidx *x, ice_kidx_remap_fn *fn, void *arg)
{
    for (size_t i = 0; x && i < x->cap; i++) {
        kslot  *e = &x->s[i];
        int32_t f, nf;
        int64_t p, np;

        if (e->ref == 0)
            continue;
        kget_pos(e, &f, &p);
        int r = fn(arg, f, p, &nf, &np);

        if (r < 0)
            return -1;
        if (r > 0)
            kput_pos(e, nf, np);
    }
    return 0;
}

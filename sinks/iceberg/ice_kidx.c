/*
 * The upsert key index of one Iceberg table (ice_table.h): key bytes -> data file (an index
 * into t->paths) and row position of the key's live row, open addressing with removed slots.
 */
#include <stdlib.h>
#include <string.h>

#include "agent/core/cdc_mem.h"
#include "sinks/iceberg/ice_table.h"

/* ---------------------------------------------------------------- key index */

typedef struct kent {
    uint64_t h;
    uint8_t *key;       /* NULL: empty; (uint8_t *) 1: removed */
    uint32_t klen;
    int32_t  file;
    int64_t  pos;
} kent;

struct ice_kidx {
    kent  *e;
    size_t cap;         /* a power of two */
    size_t used;        /* live + removed slots */
    size_t live;
};

#define KIDX_GONE ((uint8_t *) 1)

static uint64_t
khash(const uint8_t *p, size_t n)
{
    uint64_t h = 1469598103934665603ULL;

    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    return h ^ (h >> 29);
}

void
ice_kidx_free(ice_kidx *x)
{
    if (x == NULL)
        return;
    for (size_t i = 0; i < x->cap; i++)
        if (x->e[i].key && x->e[i].key != KIDX_GONE)
            free(x->e[i].key);
    free(x->e);
    free(x);
}

static kent *
kidx_find(ice_kidx *x, const uint8_t *k, size_t n, uint64_t h, bool for_insert)
{
    kent *gone = NULL;

    if (x == NULL || x->cap == 0)
        return NULL;
    for (size_t i = h & (x->cap - 1);; i = (i + 1) & (x->cap - 1)) {
        kent *e = &x->e[i];

        if (e->key == NULL)
            return for_insert ? (gone ? gone : e) : NULL;
        if (e->key == KIDX_GONE) {
            if (gone == NULL)
                gone = e;
            continue;
        }
        if (e->h == h && e->klen == n && memcmp(e->key, k, n) == 0)
            return e;
    }
}

static void
kidx_grow(ice_kidx *x)
{
    kent  *old = x->e;
    size_t ocap = x->cap;

    x->cap = ocap ? ocap * 2 : 1024;
    if (x->live * 4 < ocap)        /* mostly removed slots: same size, cleaned */
        x->cap = ocap;
    x->e = cdc_xcalloc(x->cap, sizeof(*x->e));
    x->used = x->live;
    for (size_t i = 0; i < ocap; i++) {
        kent *e = &old[i];

        if (e->key && e->key != KIDX_GONE)
            *kidx_find(x, e->key, e->klen, e->h, true) = *e;
    }
    free(old);
}

/* Sets key -> (file, pos); *had gets the previous value when there was one. */
void
ice_kidx_set(ice_kidx *x, const uint8_t *k, size_t n, int32_t file, int64_t pos, bool *had,
         int32_t *ofile, int64_t *opos)
{
    uint64_t h = khash(k, n);
    kent    *e;

    if ((x->used + 1) * 10 >= x->cap * 7)
        kidx_grow(x);
    e = kidx_find(x, k, n, h, true);
    *had = e->key != NULL && e->key != KIDX_GONE;
    if (*had) {
        *ofile = e->file;
        *opos = e->pos;
    } else {
        if (e->key == NULL)
            x->used++;
        e->key = cdc_xmalloc(n ? n : 1);
        memcpy(e->key, k, n);
        e->klen = (uint32_t) n;
        e->h = h;
        x->live++;
    }
    e->file = file;
    e->pos = pos;
}

/* Removes key; *had and the old value as kidx_set. */
void
ice_kidx_del(ice_kidx *x, const uint8_t *k, size_t n, bool *had, int32_t *ofile, int64_t *opos)
{
    kent *e = kidx_find(x, k, n, khash(k, n), false);

    *had = e != NULL;
    if (e == NULL)
        return;
    *ofile = e->file;
    *opos = e->pos;
    free(e->key);
    e->key = KIDX_GONE;
    x->live--;
}

int32_t
ice_tbl_path(ice_tbl *t, const char *uri)
{
    for (int i = t->npaths - 1; i >= 0; i--)
        if (strcmp(t->paths[i], uri) == 0)
            return i;
    t->paths = cdc_xrealloc(t->paths, (size_t) (t->npaths + 1) * sizeof(*t->paths));
    t->paths[t->npaths] = cdc_xstrdup(uri);
    return t->npaths++;
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

ice_kidx *
ice_kidx_new(void)
{
    return cdc_xcalloc(1, sizeof(ice_kidx));
}

bool
ice_kidx_get(ice_kidx *x, const uint8_t *k, size_t n, int32_t *file, int64_t *pos)
{
    kent *e = kidx_find(x, k, n, khash(k, n), false);

    if (e == NULL)
        return false;
    *file = e->file;
    *pos = e->pos;
    return true;
}

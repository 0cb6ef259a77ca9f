/*
 * The relation cache of relcache.h: relation id -> cdc_rel, filled from
 * pgoutput's Relation messages and enriched in place by the agent (catalog
 * facts, type mapping, topic).  It is an open-addressing hash table with
 * linear probing keyed by relid; entries are never removed, only replaced,
 * so no tombstones are needed.
 *
 * Memory.  Each entry owns its memory: the entry itself, its names and
 * columns, and everything the agent hangs off it through pgo_rel_alloc() /
 * pgo_rel_strdup() live in one per-entry list of allocations and are freed
 * together when the entry is replaced or the cache is freed.  This is the
 * role pgoutput's cachectx plays, but per relation, so that a changed table
 * does not leak its old description.
 *
 * The replacement rule.  A Relation message that describes a different
 * table frees the old entry at once.  That is safe only because the agent
 * processes one change at a time: a cdc_rel pointer taken from an event
 * must not be kept past the change that carried it (cdc_rel.h says so too).
 * pgoutput sends the new Relation message before the first row that uses
 * it, so by then every earlier row has been handed on.
 *
 * @thread one cache per decoder; not thread-safe.
 */
#include "decoder/relcache.h"

#include <stdalign.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "agent/core/cdc_mem.h"
#include "agent/core/cdc_utf8.h"

/* One allocation owned by an entry; data follows the header, aligned. */
typedef struct rc_chunk {
    struct rc_chunk *next;
    alignas(max_align_t) unsigned char data[];
} rc_chunk;

/*
 * An entry.  `rel` comes first so that a cdc_rel pointer handed out is also
 * a pointer to its entry (pgo_rel_alloc relies on that).
 */
typedef struct rc_entry {
    cdc_rel   rel;
    rc_chunk *chunks;
} rc_entry;

struct pgo_relcache {
    rc_entry **slots;   /* NULL = empty; capacity is a power of two */
    size_t     cap;
    size_t     count;
};

#define RC_INITIAL_CAP 64

static rc_entry *
rc_entry_of(cdc_rel *rel)
{
    return (rc_entry *) (void *) ((char *) rel - offsetof(rc_entry, rel));
}

/*
 * Relids are consecutive OIDs more often than not; the murmur3 finaliser
 * spreads them over the low bits the table uses.
 */
static size_t
rc_hash(uint32_t relid, size_t cap)
{
    uint32_t h = relid;

    h ^= h >> 16;
    h *= UINT32_C(0x85ebca6b);
    h ^= h >> 13;
    h *= UINT32_C(0xc2b2ae35);
    h ^= h >> 16;
    return (size_t) h & (cap - 1);
}

pgo_relcache *
pgo_relcache_new(void)
{
    pgo_relcache *rc = cdc_xcalloc(1, sizeof(*rc));

    rc->cap = RC_INITIAL_CAP;
    rc->slots = cdc_xcalloc(rc->cap, sizeof(*rc->slots));
    return rc;
}

static void
rc_entry_free(rc_entry *e)
{
    rc_chunk *c, *next;

    if (e == NULL)
        return;
    for (c = e->chunks; c != NULL; c = next) {
        next = c->next;
        free(c);
    }
    free(e);
}

void
pgo_relcache_free(pgo_relcache *rc)
{
    if (rc == NULL)
        return;
    for (size_t i = 0; i < rc->cap; i++)
        rc_entry_free(rc->slots[i]);
    free(rc->slots);
    free(rc);
}

/* The slot holding relid, or the empty slot where it would go. */
static rc_entry **
rc_find_slot(rc_entry **slots, size_t cap, uint32_t relid)
{
    size_t i = rc_hash(relid, cap);

    while (slots[i] != NULL && slots[i]->rel.relid != relid)
        i = (i + 1) & (cap - 1);
    return &slots[i];
}

/* Doubles the table; called before the load factor would pass 1/2. */
static void
rc_grow(pgo_relcache *rc)
{
    size_t     ncap = rc->cap * 2;
    rc_entry **nslots = cdc_xcalloc(ncap, sizeof(*nslots));

    for (size_t i = 0; i < rc->cap; i++) {
        if (rc->slots[i] != NULL)
            *rc_find_slot(nslots, ncap, rc->slots[i]->rel.relid) = rc->slots[i];
    }
    free(rc->slots);
    rc->slots = nslots;
    rc->cap = ncap;
}

cdc_rel *
pgo_rel_lookup(pgo_relcache *rc, uint32_t relid)
{
    rc_entry *e = *rc_find_slot(rc->slots, rc->cap, relid);

    return e ? &e->rel : NULL;
}

void *
pgo_rel_alloc(cdc_rel *rel, size_t n)
{
    rc_entry *e = rc_entry_of(rel);
    rc_chunk *c = cdc_xmalloc(sizeof(*c) + (n ? n : 1));

    c->next = e->chunks;
    e->chunks = c;
    return c->data;
}

char *
pgo_rel_strdup(cdc_rel *rel, const char *s)
{
    size_t n;
    char  *d;

    if (s == NULL)
        return NULL;
    n = strlen(s) + 1;
    d = pgo_rel_alloc(rel, n);
    memcpy(d, s, n);
    return d;
}

static bool
rc_streq(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

/* True when the entry already describes exactly what the message says. */
static bool
rc_same(const cdc_rel *rel, const char *nspname, const char *relname, char replident,
        int ncols, const cdc_col *cols)
{
    if (rel->replident != replident || rel->ncols != ncols || !rc_streq(rel->nspname, nspname) ||
        !rc_streq(rel->relname, relname))
        return false;
    for (int i = 0; i < ncols; i++) {
        const cdc_col *a = &rel->cols[i], *b = &cols[i];

        if (a->type_oid != b->type_oid || a->typmod != b->typmod ||
            a->replident != b->replident || !rc_streq(a->name, b->name))
            return false;
    }
    return true;
}

/*
 * A new entry holding copies of the message's fields.  Only what pgoutput
 * sends is copied; catalog and type-mapper fields start zeroed.
 */
static rc_entry *
rc_entry_new(uint32_t relid, const char *nspname, const char *relname, char replident,
             int ncols, const cdc_col *cols, uint32_t version)
{
    rc_entry *e = cdc_xcalloc(1, sizeof(*e));
    cdc_rel  *rel = &e->rel;

    rel->relid = relid;
    rel->nspname = pgo_rel_strdup(rel, nspname ? nspname : "");
    rel->relname = pgo_rel_strdup(rel, relname ? relname : "");
    rel->replident = replident;
    rel->ncols = ncols;
    rel->version = version;
    rel->cols = pgo_rel_alloc(rel, sizeof(cdc_col) * (size_t) (ncols > 0 ? ncols : 1));
    memset(rel->cols, 0, sizeof(cdc_col) * (size_t) (ncols > 0 ? ncols : 1));
    for (int i = 0; i < ncols; i++) {
        rel->cols[i].name = pgo_rel_strdup(rel, cols[i].name ? cols[i].name : "");
        rel->cols[i].type_oid = cols[i].type_oid;
        rel->cols[i].typmod = cols[i].typmod;
        rel->cols[i].replident = cols[i].replident;
    }
    rel->names_utf8 = 1;
    for (int i = 0; i < ncols; i++)
        if (!cdc_utf8_valid(rel->cols[i].name, strlen(rel->cols[i].name)))
            rel->names_utf8 = 2;
    return e;
}

cdc_rel *
pgo_rel_install(pgo_relcache *rc, uint32_t relid, const char *nspname, const char *relname,
                char replident, int ncols, const cdc_col *cols, bool *changed)
{
    rc_entry **slot = rc_find_slot(rc->slots, rc->cap, relid);
    rc_entry  *old = *slot;
    rc_entry  *e;

    if (old != NULL && !old->rel.renew &&
        rc_same(&old->rel, nspname, relname, replident, ncols, cols)) {
        if (changed != NULL)
            *changed = false;
        return &old->rel;
    }
    e = rc_entry_new(relid, nspname, relname, replident, ncols, cols,
                     old ? old->rel.version + 1 : 1);
    if (old != NULL) {
        /* See the replacement rule at the top of this file. */
        *slot = e;
        rc_entry_free(old);
    } else {
        if ((rc->count + 1) * 2 > rc->cap) {
            rc_grow(rc);
            slot = rc_find_slot(rc->slots, rc->cap, relid);
        }
        *slot = e;
        rc->count++;
    }
    if (changed != NULL)
        *changed = true;
    return &e->rel;
}

/* fn must not install entries: a replacement or a resize would move slots under it. */
void
pgo_relcache_foreach(pgo_relcache *rc, void (*fn)(cdc_rel *rel, void *arg), void *arg)
{
    for (size_t i = 0; i < rc->cap; i++) {
        if (rc->slots[i] != NULL)
            fn(&rc->slots[i]->rel, arg);
    }
}

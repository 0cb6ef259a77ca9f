/*
 * Relation cache: relation id -> cdc_rel, following Relation messages.  A
 * hash keyed by relid (not a list: lookups are on the per-change path).
 * Entries are replaced, never edited in place, when a Relation message
 * describes a different set of columns; `version` then increments.  Memory
 * for entries is the cache's own (like pgoutput's cachectx).
 */
#ifndef CDC_DECODER_RELCACHE_H
#define CDC_DECODER_RELCACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "agent/core/cdc_err.h"
#include "agent/core/cdc_rel.h"

typedef struct pgo_relcache pgo_relcache;

pgo_relcache *pgo_relcache_new(void);
void          pgo_relcache_free(pgo_relcache *rc);  /* NULL is a no-op */

/* @returns the entry (borrowed) or NULL. */
cdc_rel *pgo_rel_lookup(pgo_relcache *rc, uint32_t relid);

/*
 * Installs the description of a Relation message.  `cols` (names, types,
 * typmods, replident flags) is copied.  When an entry exists with the same
 * columns (names, types, typmods, flags) and names, it is kept as is,
 * catalog enrichment included, and *changed is false; otherwise the new
 * entry replaces it with version + 1 and *changed is true.
 * @returns the entry (borrowed), never NULL (allocation aborts).
 */
cdc_rel *pgo_rel_install(pgo_relcache *rc, uint32_t relid, const char *nspname,
                         const char *relname, char replident, int ncols,
                         const cdc_col *cols, bool *changed);

/* Visits every entry (order unspecified). */
void pgo_relcache_foreach(pgo_relcache *rc, void (*fn)(cdc_rel *rel, void *arg), void *arg);

/* Allocates from the entry's own memory (freed with the entry). */
char *pgo_rel_strdup(cdc_rel *rel, const char *s);
void *pgo_rel_alloc(cdc_rel *rel, size_t n);

#endif

/*
 * A bump allocator for per-change memory, in the role of pgoutput's
 * per-change memory context: decoded column values live here until every
 * destination has copied what it keeps, then cdc_arena_reset() frees them
 * all at once.  Reset per change or per small batch, never per transaction,
 * so a million-row transaction does not grow it.  Allocation aborts on OOM.
 * Arena memory must never be handed to a library that keeps it.
 */
#ifndef CDC_AGENT_CORE_CDC_ARENA_H
#define CDC_AGENT_CORE_CDC_ARENA_H

#include <stddef.h>

typedef struct cdc_arena cdc_arena;

cdc_arena *cdc_arena_new(size_t block_size);
void       cdc_arena_free(cdc_arena *a);               /* NULL is a no-op */

/* Memory aligned for any scalar type; valid until the next reset. */
void *cdc_arena_alloc(cdc_arena *a, size_t n);
void *cdc_arena_zalloc(cdc_arena *a, size_t n);
char *cdc_arena_strndup(cdc_arena *a, const char *s, size_t n);

/* Releases everything; keeps the first block for reuse, frees the rest. */
void   cdc_arena_reset(cdc_arena *a);
/* Bytes currently held from the system (for tests and metrics). */
size_t cdc_arena_footprint(const cdc_arena *a);

#endif

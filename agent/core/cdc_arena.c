#include "agent/core/cdc_arena.h"

#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/core/cdc_mem.h"

typedef struct arena_block {
    struct arena_block *next;
    size_t              size;   /* usable bytes after the header */
    size_t              used;
    alignas(max_align_t) unsigned char data[];
} arena_block;

struct cdc_arena {
    arena_block *head;          /* current block; older ones follow */
    size_t       block_size;
};

static arena_block *
block_new(size_t size)
{
    arena_block *b = cdc_xmalloc(sizeof(*b) + size);

    b->next = NULL;
    b->size = size;
    b->used = 0;
    return b;
}

cdc_arena *
cdc_arena_new(size_t block_size)
{
    cdc_arena *a = cdc_xmalloc(sizeof(*a));

    a->block_size = block_size ? block_size : 64 * 1024;
    a->head = block_new(a->block_size);
    return a;
}

void
cdc_arena_free(cdc_arena *a)
{
    arena_block *b, *next;

    if (a == NULL)
        return;
    for (b = a->head; b; b = next) {
        next = b->next;
        free(b);
    }
    free(a);
}

void *
cdc_arena_alloc(cdc_arena *a, size_t n)
{
    const size_t align = alignof(max_align_t);
    size_t       off = (a->head->used + align - 1) & ~(align - 1);
    arena_block *b;

    if (off + n <= a->head->size) {
        a->head->used = off + n;
        return a->head->data + off;
    }
    /* Large requests get a block of their own so the standard size stays small. */
    b = block_new(n > a->block_size ? n : a->block_size);
    b->next = a->head;
    a->head = b;
    b->used = n;
    return b->data;
}

void *
cdc_arena_zalloc(cdc_arena *a, size_t n)
{
    void *p = cdc_arena_alloc(a, n);

    memset(p, 0, n);
    return p;
}

char *
cdc_arena_strndup(cdc_arena *a, const char *s, size_t n)
{
    char *p = cdc_arena_alloc(a, n + 1);

    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

void
cdc_arena_reset(cdc_arena *a)
{
    arena_block *b = a->head, *next;

    /* Keep the oldest block (the one made by cdc_arena_new): the list ends there. */
    while (b->next) {
        next = b->next;
        free(b);
        b = next;
    }
    a->head = b;
    b->used = 0;
}

size_t
cdc_arena_footprint(const cdc_arena *a)
{
    size_t             n = 0;
    const arena_block *b;

    for (b = a->head; b; b = b->next)
        n += sizeof(*b) + b->size;
    return n;
}

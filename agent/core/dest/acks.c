/* The durability ring (see acks.h). */
#include "agent/core/dest/acks.h"

#include <stdlib.h>

#include "agent/core/cdc_mem.h"

struct dest_ack_slot {
    cdc_pos pos;
    bool    done;
};

void
dest_acks_init(dest_acks *a, cdc_pos start)
{
    *a = (dest_acks) { .durable = start };
}

void
dest_acks_free(dest_acks *a)
{
    free(a->slots);
    a->slots = NULL;
    a->cap = a->n = a->head = 0;
}

uint64_t
dest_acks_push(dest_acks *a, cdc_pos pos)
{
    if (a->n == a->cap) {
        size_t                ncap = a->cap ? a->cap * 2 : 64;
        struct dest_ack_slot *s = cdc_xmalloc(ncap * sizeof(*s));

        for (size_t i = 0; i < a->n; i++)
            s[i] = a->slots[(a->head + i) & (a->cap - 1)];
        free(a->slots);
        a->slots = s;
        a->cap = ncap;
        a->head = 0;
    }
    a->slots[(a->head + a->n) & (a->cap - 1)] = (struct dest_ack_slot) { pos, false };
    a->n++;
    return a->first_ticket + a->n - 1;
}

void
dest_acks_update(dest_acks *a, uint64_t ticket, cdc_pos pos)
{
    if (ticket >= a->first_ticket && ticket < a->first_ticket + a->n)
        a->slots[(a->head + (size_t) (ticket - a->first_ticket)) & (a->cap - 1)].pos = pos;
}

void
dest_acks_done(dest_acks *a, uint64_t ticket)
{
    if (ticket < a->first_ticket || ticket >= a->first_ticket + a->n)
        return;     /* already popped, or never pushed */
    a->slots[(a->head + (size_t) (ticket - a->first_ticket)) & (a->cap - 1)].done = true;
    while (a->n > 0 && a->slots[a->head].done) {
        if (cdc_pos_cmp(a->slots[a->head].pos, a->durable) > 0)
            a->durable = a->slots[a->head].pos;
        a->head = (a->head + 1) & (a->cap - 1);
        a->n--;
        a->first_ticket++;
    }
}

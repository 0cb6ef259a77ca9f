#include "agent/core/dest/batch.h"

void
dest_batch_init(dest_batch *b, const dest_batch_limits *lim)
{
    b->lim = *lim;
    dest_batch_reset(b);
}

void
dest_batch_reset(dest_batch *b)
{
    b->count = 0;
    b->bytes = 0;
    b->opened_ms = 0;
}

bool
dest_batch_fits(const dest_batch *b, size_t n)
{
    if (b->count == 0)
        return true;
    if (b->lim.max_count > 0 && b->count >= b->lim.max_count)
        return false;
    return b->lim.max_bytes == 0 || b->bytes + n <= b->lim.max_bytes;
}

void
dest_batch_add(dest_batch *b, size_t n, int64_t now_ms)
{
    if (b->count == 0)
        b->opened_ms = now_ms;
    b->count++;
    b->bytes += n;
}

bool
dest_batch_full(const dest_batch *b)
{
    return (b->lim.max_count > 0 && b->count >= b->lim.max_count) ||
           (b->lim.max_bytes > 0 && b->bytes >= b->lim.max_bytes);
}

bool
dest_batch_expired(const dest_batch *b, int64_t now_ms)
{
    return b->count > 0 && b->lim.max_age_ms > 0 && now_ms - b->opened_ms >= b->lim.max_age_ms;
}

int64_t
dest_batch_due_ms(const dest_batch *b)
{
    if (b->count == 0 || b->lim.max_age_ms <= 0)
        return INT64_MAX;
    return b->opened_ms + b->lim.max_age_ms;
}

#include "agent/core/cdc_retry.h"

#include <math.h>
#include <stdatomic.h>
#include <unistd.h>

#include "agent/core/cdc_clock.h"

uint64_t
cdc_rng_next(uint64_t *state)
{
    uint64_t x = *state ? *state : 0x9E3779B97F4A7C15ull;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1Dull;
}

uint64_t
cdc_rng_seed(void)
{
    static atomic_uint salt;
    uint64_t   s = (uint64_t) cdc_mono_ns() ^ ((uint64_t) getpid() << 32)
                 ^ (uint64_t) (uintptr_t) &salt ^ (uint64_t) (atomic_fetch_add(&salt, 1) + 1) * 0x9E3779B97F4A7C15ull;

    return s ? s : 1;
}

int64_t
cdc_retry_delay_ms(const cdc_retry_conf *c, int attempt, uint64_t *rng)
{
    double init = c->initial_ms > 0 ? c->initial_ms : 1000;
    double cap = c->max_ms > 0 ? c->max_ms : 60000;
    double mult = c->multiplier >= 1.0 ? c->multiplier : 2.0;
    double d;

    if (attempt < 1)
        attempt = 1;
    d = init * pow(mult, attempt - 1);
    if (!(d < cap))     /* also catches overflow to inf */
        d = cap;
    if (c->jitter && rng) {
        double u = (double) (cdc_rng_next(rng) >> 11) / 9007199254740992.0;   /* [0,1) */

        d = d / 2 + u * (d / 2);
    }
    return (int64_t) d;
}

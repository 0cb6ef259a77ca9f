#include "agent/core/cdc_clock.h"

#include <errno.h>
#include <time.h>

static int64_t
read_ns(clockid_t id)
{
    struct timespec ts;

    clock_gettime(id, &ts);
    return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t cdc_mono_ns(void) { return read_ns(CLOCK_MONOTONIC); }
int64_t cdc_mono_us(void) { return read_ns(CLOCK_MONOTONIC) / 1000; }
int64_t cdc_mono_ms(void) { return read_ns(CLOCK_MONOTONIC) / 1000000; }
double  cdc_mono_s(void)  { return (double) read_ns(CLOCK_MONOTONIC) / 1e9; }
int64_t cdc_wall_us(void) { return read_ns(CLOCK_REALTIME) / 1000; }
int64_t cdc_wall_ms(void) { return read_ns(CLOCK_REALTIME) / 1000000; }

int64_t
cdc_wall_us_bulk(void)
{
#ifdef CLOCK_REALTIME_COARSE
    static _Thread_local struct { int64_t coarse, us; unsigned left; } last;
    int64_t coarse = read_ns(CLOCK_REALTIME_COARSE);

    /* read before the fine clock: unchanged later means less than a tick since */
    if (last.left == 0 || coarse != last.coarse) {
        last.coarse = coarse;
        last.us = cdc_wall_us();
        last.left = 16;
    }
    last.left--;
    return last.us;
#else
    return cdc_wall_us();
#endif
}

void
cdc_sleep_ms(int64_t ms)
{
    struct timespec ts;

    if (ms <= 0)
        return;
    ts.tv_sec = (time_t) (ms / 1000);
    ts.tv_nsec = (long) (ms % 1000) * 1000000;
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;   /* a signal only sets a flag: finish the wait */
}

/*
 * The one clock of the program.  Monotonic time measures waits, timeouts and
 * durations; wall-clock time stamps what leaves the agent (ts_ms, headers,
 * log lines).  Never mix the two.
 */
#ifndef CDC_AGENT_CORE_CDC_CLOCK_H
#define CDC_AGENT_CORE_CDC_CLOCK_H

#include <stdint.h>

/* Monotonic, for deadlines and durations. */
int64_t cdc_mono_ns(void);
int64_t cdc_mono_us(void);
int64_t cdc_mono_ms(void);
double  cdc_mono_s(void);

/* Wall clock (UTC since the Unix epoch), for time stamps. */
int64_t cdc_wall_us(void);
int64_t cdc_wall_ms(void);
/*
 * cdc_wall_us() for time stamps taken in a burst (the rows of a snapshot):
 * read again when the coarse clock (CLOCK_REALTIME_COARSE, updated every
 * kernel tick: 4 ms here) has moved on, and at least every 16 calls of the
 * thread, else the last reading.  So at most one tick behind (less in a
 * burst: 16 calls), for about a fifth of the cost (a coarse read is a copy).
 */
int64_t cdc_wall_us_bulk(void);

/* Sleeps @p ms milliseconds, finishing the wait after signals (EINTR). */
void    cdc_sleep_ms(int64_t ms);

#endif

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

/* Sleeps @p ms milliseconds, finishing the wait after signals (EINTR). */
void    cdc_sleep_ms(int64_t ms);

#endif

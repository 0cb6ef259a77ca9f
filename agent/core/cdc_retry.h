/*
 * The one backoff rule (platform retry.*): capped exponential growth with
 * optional jitter, and the small PRNG that draws the jitter.  Every retry in
 * the program (destinations, the Schema Registry, reconnects to PostgreSQL)
 * waits by this rule, so retry.* means the same everywhere.
 */
#ifndef CDC_AGENT_CORE_CDC_RETRY_H
#define CDC_AGENT_CORE_CDC_RETRY_H

#include <stdbool.h>
#include <stdint.h>

/* Platform retry.* in milliseconds. */
typedef struct cdc_retry_conf {
    int    max_attempts;    /* attempts before an answered failure is final; <= 0: 5 */
    int    initial_ms;      /* first wait; <= 0: 1000 */
    int    max_ms;          /* cap; <= 0: 60000 */
    double multiplier;      /* < 1: 2.0 */
    bool   jitter;          /* wait a random time in [d/2, d] instead of d */
} cdc_retry_conf;

/* xorshift64*: fast, not for secrets.  Any state works; 0 is replaced. */
uint64_t cdc_rng_next(uint64_t *state);
/* A seed that differs between processes and calls (time, pid, address). */
uint64_t cdc_rng_seed(void);

/**
 * The wait before attempt @p attempt + 1 after @p attempt failures (>= 1):
 * initial * multiplier^(attempt-1), capped, then, with jitter, a uniform draw
 * from [d/2, d] using *rng (NULL: no jitter).
 */
int64_t cdc_retry_delay_ms(const cdc_retry_conf *c, int attempt, uint64_t *rng);

#endif

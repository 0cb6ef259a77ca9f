/*
 * The failure state every destination keeps: failing (the last attempt
 * failed and will be retried: degraded), fatal (failed for good: error), and
 * the message of the last failure.  The destination logs; these calls say
 * when: one episode of failures is logged when it starts and when it ends,
 * not at every retry.
 */
#ifndef CDC_AGENT_CORE_DEST_STATUS_H
#define CDC_AGENT_CORE_DEST_STATUS_H

#include <stdbool.h>

#include "agent/core/cdc_err.h"
#include "agent/core/dest/cdc_dest.h"

typedef struct dest_status {
    const char *label;          /* e.g. "webhook sink 'orders'"; borrowed; health's prefix */
    bool        failing;
    bool        fatal;
    char        lasterr[256];   /* the last failure (or the fatal one); "" when none */
} dest_status;

void dest_status_init(dest_status *s, const char *label);

/* An attempt failed and will be retried; keeps the message.
   @returns true when this call starts an episode (log it then). */
bool dest_status_failing(dest_status *s, const char *fmt, ...) CDC_PRINTF(2, 3);

/* An attempt succeeded.  @returns true when this ends an episode (log the recovery). */
bool dest_status_ok(dest_status *s);

/* The destination failed for good; the first cause is kept.
   @returns true the first time (log it then). */
bool dest_status_fatal(dest_status *s, const char *fmt, ...) CDC_PRINTF(2, 3);

/* 0, or -1 with err = CDC_E_DEST and the fatal message when fatal. */
int  dest_status_check(const dest_status *s, cdc_err *err);

/* Fills h: error when fatal, degraded when failing (with the last message). */
void dest_status_health(const dest_status *s, cdc_health *h);

#endif

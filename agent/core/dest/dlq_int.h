/*
 * Between agent/core/dest/dlq.c (the handle, the file store, the JSON framing) and
 * agent/core/dest/dlq_pg.c (the table store).  Nothing else includes this header.
 */
#ifndef CDC_AGENT_CORE_DEST_DLQ_INT_H
#define CDC_AGENT_CORE_DEST_DLQ_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "agent/core/dest/dlq.h"

typedef struct dlq_pg dlq_pg;

/* What dlq.c computes once for an append, whichever the store. */
typedef struct dlq_extra {
    const char *id;             /* dest_dlq_letter_id() */
    const char *timestamp;      /* dlq.timestamp */
    const char *stacktrace;     /* "<code name> at <where>" */
    bool        record_json;    /* dest_dlq_record_is_json(record) */
} dlq_extra;

dlq_pg *dlq_pg_open(const char *conninfo, const char *table, cdc_err *err);
/* @p dup is set when the row was already there (ON CONFLICT DO NOTHING). */
int dlq_pg_append(dlq_pg *p, const dest_dlq_rec *r, const dlq_extra *x, bool *dup,
                  cdc_err *err);
int dlq_pg_mark(dlq_pg *p, const char *sink_id, cdc_pos pos, cdc_err *err);
int dlq_pg_scan(dlq_pg *p, int (*fn)(void *arg, const dest_dlq_row *row), void *arg,
                cdc_err *err);
const char *dlq_pg_label(const dlq_pg *p);     /* "table <name>" */
void dlq_pg_close(dlq_pg *p);

#endif

/*
 * Debezium's record shapes that both encodings share (debezium.h).
 */
#include "schemas/debezium.h"

#include <string.h>

#include "schemas/avro.h"

/* A relation has few key columns, so a scan per position costs less than sorting. */
int
sch_dbz_key_next(const cdc_rel *rel, int *k)
{
    while (++*k <= rel->nkeys) {
        for (int i = 0; i < rel->ncols; i++)
            if (rel->cols[i].key_pos == *k && rel->cols[i].ctype.supported)
                return i;
    }
    return -1;
}

/* Appends v in decimal to a char array; returns the new end. */
static char *
fmt_u64(char *p, uint64_t v)
{
    char  tmp[24];
    char *t = tmp + sizeof(tmp);

    do {
        *--t = (char) ('0' + v % 10);
        v /= 10;
    } while (v);
    memcpy(p, t, (size_t) (tmp + sizeof(tmp) - t));
    return p + (tmp + sizeof(tmp) - t);
}

size_t
sch_dbz_sequence(const cdc_event *ev, char seq[SCH_DBZ_SEQUENCE_MAX])
{
    char    *p = seq;
    uint64_t prev = (ev->txn && ev->snapshot == NULL) ? ev->txn->prev_commit_lsn : 0;
    uint64_t lsns[2] = { prev, ev->lsn };

    *p++ = '[';
    for (int i = 0; i < 2; i++) {
        if (i > 0)
            *p++ = ',';
        if (lsns[i] == 0) {
            memcpy(p, "null", 4);
            p += 4;
        } else {
            *p++ = '"';
            p = fmt_u64(p, lsns[i]);
            *p++ = '"';
        }
    }
    *p++ = ']';
    return (size_t) (p - seq);
}

static bool
incremental(const cdc_event *ev)
{
    return ev->snapshot && strcmp(ev->snapshot, "incremental") == 0;
}

bool
sch_dbz_source_has_txid(const cdc_event *ev)
{
    return ev->txn && !incremental(ev) && !(ev->op == CDC_OP_MESSAGE && !ev->msg_transactional);
}

bool
sch_dbz_source_has_lsn(const cdc_event *ev)
{
    return ev->lsn && !incremental(ev);
}

void
sch_dbz_wkb_point(unsigned char out[21], double x, double y)
{
    uint64_t bx, by;

    memcpy(&bx, &x, sizeof(bx));
    memcpy(&by, &y, sizeof(by));
    out[0] = 1;     /* little-endian */
    out[1] = 1;     /* type 1: Point */
    out[2] = out[3] = out[4] = 0;
    for (int i = 0; i < 8; i++) {
        out[5 + i] = (unsigned char) (bx >> (8 * i));
        out[13 + i] = (unsigned char) (by >> (8 * i));
    }
}

/* Declared in avro.h; here so that json*.c and avro*.c both call down to it. */
sch_dbz_shape
sch_dbz_profile_shape(sch_avro_profile p)
{
    return (sch_dbz_shape) {
        .source_versioned = p == SCH_AVRO_DBZ_3_1 || p == SCH_AVRO_DBZ_3_5,
        .full_allowed = p == SCH_AVRO_DBZ_3_0 || p == SCH_AVRO_DBZ_3_1 || p == SCH_AVRO_DBZ_3_5,
        .origin = p == SCH_AVRO_DBZ_3_5,
        /* 2.7.4's MessageValue has none (seen by test/integration/250), 3.6.1's
           has one (861); Debezium's sources have it from 3.0, the profiles from 3.1. */
        .message_tx = p == SCH_AVRO_DBZ_3_1 || p == SCH_AVRO_DBZ_3_5,
        /* from 3.2 without runId; only 3.5+ is reproduced */
        .context_headers = p == SCH_AVRO_DBZ_3_5,
    };
}

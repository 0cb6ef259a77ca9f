/*
 * Test helpers shared by the unit suites: building the event model by hand
 * (agent/core/cdc_value.h, cdc_rel.h, cdc_event.h) without a decoder.
 *
 * Values: tm_int(1), tm_str("Alice"), tm_null(), ... are PRESENT values
 * (tm_null and tm_state excepted) that borrow their pointers.
 * Types: tm_ct(kind, sem) is a supported type with no precision (-1).
 * The customers table of CONTRACT.md 8 (id int key, name, email, balance
 * numeric(10,2), created_at timestamptz(6)) and its row for Alice, and events
 * with their transaction, as the schema and sink tests use them.
 */
#ifndef CDC_TEST_LIB_MODEL_H
#define CDC_TEST_LIB_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/core/cdc_event.h"
#include "agent/core/cdc_rel.h"
#include "agent/core/cdc_value.h"

/* ---- values ---- */
cdc_value tm_int(int64_t i);
cdc_value tm_f(double f);
cdc_value tm_bool(bool b);
cdc_value tm_bytes(const void *p, size_t n);
cdc_value tm_str(const char *s);                    /* tm_bytes(s, strlen(s)) */
cdc_value tm_null(void);
cdc_value tm_state(cdc_vstate st);                  /* no payload: NULL, UNCHANGED */
cdc_value tm_pt(double x, double y);                /* Point */
cdc_value tm_vsd(const void *p, size_t n, int32_t scale);   /* VariableScaleDecimal */
cdc_value tm_arr(const cdc_value *items, size_t n);

/* ---- column types ---- */
cdc_ctype tm_ct(cdc_ctkind kind, cdc_sem sem);
cdc_ctype tm_ct_dec(int32_t scale, int32_t precision);      /* Decimal (BYTES) */
cdc_ctype tm_ct_arr(cdc_ctkind elem_kind, cdc_sem elem_sem);
cdc_ctype tm_ct_len(cdc_ctkind kind, cdc_sem sem, int32_t length);

/* ---- the customers table of CONTRACT.md 8 ---- */

/* Fills rel and its five columns: relid 16384, public.customers, replica identity
   default, version 1, topic "dbserver1.public.customers". */
void tm_customers(cdc_rel *rel, cdc_col cols[5]);

/* Alice's row in row[5] (id 1, 'Alice', email, balance as two unscaled bytes,
   created_at 2024-05-01T10:15:30.123456Z); returns row. */
const cdc_value *tm_alice(cdc_value row[5], const char *email, const uint8_t balance[2]);

/* ---- events ---- */

/*
 * An event of rel at lsn in the transaction xid that commits at lsn + 100
 * (position (lsn + 100, 0)), after prev_commit; *txn is filled and borrowed.
 */
cdc_event tm_event(cdc_txn *txn, const cdc_rel *rel, cdc_op op, uint32_t xid,
                   uint64_t prev_commit, uint64_t lsn, int64_t ts_us);

/*
 * Insert number seq (position (commit_lsn, seq), lsn commit_lsn - 100 + seq)
 * of the transaction xid committing at commit_lsn, with after = row, at
 * 2024-05-01T10:15:30.200123Z; *txn is filled and borrowed.
 */
cdc_event tm_insert(cdc_txn *txn, const cdc_rel *rel, const cdc_value *row, uint32_t xid,
                    uint64_t commit_lsn, uint64_t seq);

#endif

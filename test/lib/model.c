#include "test/lib/model.h"

#include <string.h>

cdc_value
tm_int(int64_t i)
{
    cdc_value v = { .state = CDC_VAL_PRESENT };

    v.u.i = i;
    return v;
}

cdc_value
tm_f(double f)
{
    cdc_value v = { .state = CDC_VAL_PRESENT };

    v.u.f = f;
    return v;
}

cdc_value
tm_bool(bool b)
{
    cdc_value v = { .state = CDC_VAL_PRESENT };

    v.u.b = b;
    return v;
}

cdc_value
tm_bytes(const void *p, size_t n)
{
    cdc_value v = { .state = CDC_VAL_PRESENT };

    v.u.s.p = p;
    v.u.s.n = n;
    return v;
}

cdc_value
tm_str(const char *s)
{
    return tm_bytes(s, strlen(s));
}

cdc_value
tm_null(void)
{
    return tm_state(CDC_VAL_NULL);
}

cdc_value
tm_state(cdc_vstate st)
{
    cdc_value v = { .state = (uint8_t) st };

    return v;
}

cdc_value
tm_pt(double x, double y)
{
    cdc_value v = { .state = CDC_VAL_PRESENT };

    v.u.pt.x = x;
    v.u.pt.y = y;
    return v;
}

cdc_value
tm_vsd(const void *p, size_t n, int32_t scale)
{
    cdc_value v = tm_bytes(p, n);

    v.u.s.scale = scale;
    return v;
}

cdc_value
tm_arr(const cdc_value *items, size_t n)
{
    cdc_value v = { .state = CDC_VAL_PRESENT };

    v.u.arr.items = items;
    v.u.arr.n = n;
    return v;
}

cdc_ctype
tm_ct(cdc_ctkind kind, cdc_sem sem)
{
    cdc_ctype t = { .supported = true, .kind = (uint8_t) kind, .sem = (uint8_t) sem,
                    .precision = -1 };

    return t;
}

cdc_ctype
tm_ct_dec(int32_t scale, int32_t precision)
{
    cdc_ctype t = tm_ct(CDC_CT_BYTES, CDC_SEM_DECIMAL);

    t.scale = scale;
    t.precision = precision;
    return t;
}

cdc_ctype
tm_ct_arr(cdc_ctkind elem_kind, cdc_sem elem_sem)
{
    cdc_ctype t = tm_ct(CDC_CT_ARRAY, CDC_SEM_NONE);

    t.elem_kind = (uint8_t) elem_kind;
    t.elem_sem = (uint8_t) elem_sem;
    return t;
}

cdc_ctype
tm_ct_len(cdc_ctkind kind, cdc_sem sem, int32_t length)
{
    cdc_ctype t = tm_ct(kind, sem);

    t.length = length;
    return t;
}

void
tm_customers(cdc_rel *rel, cdc_col cols[5])
{
    memset(cols, 0, 5 * sizeof(*cols));
    cols[0] = (cdc_col) { .name = "id", .not_null = true, .key_pos = 1,
                          .ctype = tm_ct(CDC_CT_INT32, CDC_SEM_NONE), .has_default = true,
                          .def = tm_int(0) };
    cols[1] = (cdc_col) { .name = "name", .ctype = tm_ct(CDC_CT_STRING, CDC_SEM_NONE) };
    cols[2] = (cdc_col) { .name = "email", .ctype = tm_ct(CDC_CT_STRING, CDC_SEM_NONE) };
    cols[3] = (cdc_col) { .name = "balance", .ctype = tm_ct_dec(2, 10) };
    cols[4] = (cdc_col) { .name = "created_at",
                          .ctype = tm_ct_len(CDC_CT_STRING, CDC_SEM_ZONED_TIMESTAMP, 6) };
    *rel = (cdc_rel) { .relid = 16384, .nspname = "public", .relname = "customers",
                       .replident = 'd', .ncols = 5, .cols = cols, .nkeys = 1,
                       .version = 1, .topic = "dbserver1.public.customers" };
}

const cdc_value *
tm_alice(cdc_value row[5], const char *email, const uint8_t balance[2])
{
    row[0] = tm_int(1);
    row[1] = tm_str("Alice");
    row[2] = tm_str(email);
    row[3] = tm_bytes(balance, 2);
    row[4] = tm_str("2024-05-01T10:15:30.123456Z");
    return row;
}

cdc_event
tm_event(cdc_txn *txn, const cdc_rel *rel, cdc_op op, uint32_t xid, uint64_t prev_commit,
         uint64_t lsn, int64_t ts_us)
{
    cdc_event ev = { .op = op, .rel = rel, .lsn = lsn, .source_ts_us = ts_us };

    *txn = (cdc_txn) { .xid = xid, .commit_lsn = lsn + 100, .prev_commit_lsn = prev_commit };
    ev.txn = txn;
    ev.pos = (cdc_pos) { txn->commit_lsn, 0 };
    return ev;
}

cdc_event
tm_insert(cdc_txn *txn, const cdc_rel *rel, const cdc_value *row, uint32_t xid,
          uint64_t commit_lsn, uint64_t seq)
{
    cdc_event ev = { .op = CDC_OP_CREATE, .rel = rel, .after = row };

    *txn = (cdc_txn) { .xid = xid, .commit_lsn = commit_lsn };
    ev.txn = txn;
    ev.pos = (cdc_pos) { commit_lsn, seq };
    ev.lsn = commit_lsn - 100 + seq;
    ev.source_ts_us = 1714558530200123;
    return ev;
}

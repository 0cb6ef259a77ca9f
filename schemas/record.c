/* The {key,value,metadata} record (see record.h). */
#include "schemas/record.h"

#include <string.h>

#include "agent/core/cdc_lsn.h"

void
sch_record_put(cdc_buf *b, const cdc_event *ev, const sch_json_opts *o, const char *topic,
               int64_t now_us, unsigned flags, size_t *key_end)
{
    char lsn[CDC_LSN_STRLEN];

    cdc_buf_puts(b, "{\"key\":");
    sch_json_key(b, ev, o);
    if (key_end)
        *key_end = b->len;
    cdc_buf_puts(b, ",\"value\":");
    sch_json_value(b, ev, o, now_us);
    cdc_buf_puts(b, ",\"metadata\":{\"topic\":");
    sch_json_put_string(b, topic, strlen(topic));
    cdc_buf_puts(b, ",\"partition\":0,\"offset\":");
    cdc_buf_put_u64(b, ev->lsn);
    if (flags & SCH_RECORD_DETAIL) {
        cdc_buf_puts(b, ",\"lsn\":\"");
        cdc_buf_puts(b, cdc_lsn_format(ev->lsn, lsn));
        cdc_buf_putc(b, '"');
    }
    cdc_buf_puts(b, ",\"commit_lsn\":");
    cdc_buf_put_u64(b, ev->pos.lsn);
    cdc_buf_puts(b, ",\"seq\":");
    cdc_buf_put_u64(b, ev->pos.seq);
    if (flags & SCH_RECORD_DETAIL) {
        cdc_buf_puts(b, ",\"xid\":");
        if (ev->txn)
            cdc_buf_put_u64(b, ev->txn->xid);
        else
            cdc_buf_puts(b, "null");
        cdc_buf_puts(b, ",\"op\":\"");
        cdc_buf_putc(b, (char) ev->op);
        cdc_buf_putc(b, '"');
    }
    cdc_buf_puts(b, "}}");
}

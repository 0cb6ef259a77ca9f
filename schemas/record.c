/* The {key,value,metadata} record (see record.h). */
#include "schemas/record.h"

#include <string.h>

#include "agent/core/cdc_lsn.h"

/*
 * The metadata before and after "seq" of the last record this thread wrote:
 * a snapshot's rows (and a transaction's changes, but for their LSN) share
 * all of it but seq.  Kept with what it was made of; the topic as bytes,
 * since its address may come back holding another name.
 */
enum { META_TOPIC_MAX = 64, META_HEAD_MAX = 12 * META_TOPIC_MAX + 160, META_TAIL_MAX = 64 };
typedef struct meta_memo {
    bool     set;
    uint64_t lsn, commit_lsn, xid;
    bool     has_txn;
    char     op;
    unsigned flags;
    size_t   topiclen, headlen, taillen;
    char     topic[META_TOPIC_MAX];
    char     head[META_HEAD_MAX];       /* ,"metadata":{... "seq": */
    char     tail[META_TAIL_MAX];       /* ,"xid":...}} */
} meta_memo;

static void
put_meta_head(cdc_buf *b, const cdc_event *ev, const char *topic, size_t topiclen,
              unsigned flags)
{
    char lsn[CDC_LSN_STRLEN];

    cdc_buf_puts(b, ",\"metadata\":{\"topic\":");
    sch_json_put_string(b, topic, topiclen);
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
}

static void
put_meta_tail(cdc_buf *b, const cdc_event *ev, unsigned flags)
{
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

/* Appends the metadata as put_meta_head, seq, put_meta_tail would, from *m when it fits. */
static void
put_meta(cdc_buf *b, const cdc_event *ev, const char *topic, unsigned flags)
{
    static _Thread_local meta_memo m;
    size_t topiclen = strlen(topic), start = b->len, mid;
    bool   keep;

    if (m.set && m.lsn == ev->lsn && m.commit_lsn == ev->pos.lsn && m.op == (char) ev->op &&
        m.has_txn == (ev->txn != NULL) && (!ev->txn || m.xid == ev->txn->xid) &&
        m.flags == flags && m.topiclen == topiclen && memcmp(m.topic, topic, topiclen) == 0) {
        cdc_buf_put(b, m.head, m.headlen);
        cdc_buf_put_u64(b, ev->pos.seq);
        cdc_buf_put(b, m.tail, m.taillen);
        return;
    }
    /* kept when it fits and no drain can empty the buffer meanwhile (a topic byte
       escapes to at most 12) */
    keep = topiclen <= META_TOPIC_MAX && (b->drain == NULL ||
                                          start + META_HEAD_MAX + 20 + META_TAIL_MAX <=
                                          b->drain_at);
    m.set = false;
    put_meta_head(b, ev, topic, topiclen, flags);
    mid = b->len;
    if (keep && !b->failed && mid - start <= META_HEAD_MAX) {
        m.headlen = mid - start;
        memcpy(m.head, b->data + start, m.headlen);
    } else {
        keep = false;
    }
    cdc_buf_put_u64(b, ev->pos.seq);
    mid = b->len;
    put_meta_tail(b, ev, flags);
    if (!keep || b->failed || b->len - mid > META_TAIL_MAX)
        return;
    m.taillen = b->len - mid;
    memcpy(m.tail, b->data + mid, m.taillen);
    m.topiclen = topiclen;
    memcpy(m.topic, topic, topiclen);
    m.lsn = ev->lsn;
    m.commit_lsn = ev->pos.lsn;
    m.has_txn = ev->txn != NULL;
    m.xid = ev->txn ? ev->txn->xid : 0;
    m.op = (char) ev->op;
    m.flags = flags;
    m.set = true;
}

void
sch_record_put(cdc_buf *b, const cdc_event *ev, const sch_json_opts *o, const char *topic,
               int64_t now_us, unsigned flags, size_t *key_end)
{
    cdc_buf_puts(b, "{\"key\":");
    sch_json_key(b, ev, o);
    if (key_end)
        *key_end = b->len;
    cdc_buf_puts(b, ",\"value\":");
    sch_json_value(b, ev, o, now_us);
    put_meta(b, ev, topic, flags);
}

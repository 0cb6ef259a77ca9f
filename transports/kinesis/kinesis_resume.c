/*
 * Restart of the Kinesis transport: read each shard forward from its
 * checkpoint and build the multiset of the identities of what is there.  See
 * kinesis_resume.h for the identity and the choices.
 */
#include "transports/kinesis/kinesis_resume.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/core/cdc_buf.h"
#include "agent/core/cdc_log.h"
#include "agent/core/cdc_lsn.h"
#include "agent/core/cdc_mem.h"

#define RES_FAC "kinesis"

/* ---- a string-keyed hash map (counts, or a string value) --------------- */

typedef struct smap_ent {
    char    *key;       /* NULL: empty slot */
    size_t   count;
    char    *val;
    uint64_t hash;
} smap_ent;

typedef struct smap {
    smap_ent *e;
    size_t    cap, n, used;     /* used: live + deleted markers */
} smap;

static const char smap_gone[] = "";     /* a deleted slot's key */

static uint64_t
fnv(const char *s)
{
    uint64_t h = 1469598103934665603ull;

    for (; *s; s++)
        h = (h ^ (unsigned char) *s) * 1099511628211ull;
    return h;
}

static void smap_put_ent(smap *m, char *key, size_t count, char *val, uint64_t h);

static void
smap_grow(smap *m)
{
    smap_ent *old = m->e;
    size_t    oldcap = m->cap;

    m->cap = m->cap ? m->cap * 2 : 64;
    while (m->n * 2 >= m->cap)
        m->cap *= 2;
    m->e = cdc_xcalloc(m->cap, sizeof(*m->e));
    m->n = m->used = 0;
    for (size_t i = 0; i < oldcap; i++)
        if (old[i].key && old[i].key != smap_gone)
            smap_put_ent(m, old[i].key, old[i].count, old[i].val, old[i].hash);
    free(old);
}

static void
smap_put_ent(smap *m, char *key, size_t count, char *val, uint64_t h)
{
    size_t i;

    if ((m->used + 1) * 2 > m->cap)
        smap_grow(m);
    for (i = h & (m->cap - 1); m->e[i].key && m->e[i].key != smap_gone; i = (i + 1) & (m->cap - 1))
        ;
    if (m->e[i].key == NULL)
        m->used++;
    m->e[i] = (smap_ent) { key, count, val, h };
    m->n++;
}

static smap_ent *
smap_get(smap *m, const char *key)
{
    uint64_t h;

    if (m->n == 0)
        return NULL;
    h = fnv(key);
    for (size_t i = h & (m->cap - 1); m->e[i].key; i = (i + 1) & (m->cap - 1))
        if (m->e[i].key != smap_gone && m->e[i].hash == h && strcmp(m->e[i].key, key) == 0)
            return &m->e[i];
    return NULL;
}

static void
smap_del(smap *m, smap_ent *e)
{
    free(e->key);
    free(e->val);
    e->key = (char *) smap_gone;
    e->val = NULL;
    e->count = 0;
    m->n--;
}

/* Adds one to key's count. */
static void
smap_inc(smap *m, const char *key)
{
    smap_ent *e = smap_get(m, key);

    if (e)
        e->count++;
    else
        smap_put_ent(m, cdc_xstrdup(key), 1, NULL, fnv(key));
}

static void
smap_set(smap *m, const char *key, const char *val)
{
    smap_ent *e = smap_get(m, key);

    if (e) {
        free(e->val);
        e->val = cdc_xstrdup(val);
    } else {
        smap_put_ent(m, cdc_xstrdup(key), 0, cdc_xstrdup(val), fnv(key));
    }
}

static void
smap_free(smap *m)
{
    for (size_t i = 0; i < m->cap; i++)
        if (m->e[i].key && m->e[i].key != smap_gone) {
            free(m->e[i].key);
            free(m->e[i].val);
        }
    free(m->e);
    memset(m, 0, sizeof(*m));
}

/* ---- identities (pure) -------------------------------------------------- */

struct kin_ident_state {
    smap deletes;       /* "stream\x1fpkey" -> identity of its last delete */
};

kin_ident_state *
kin_ident_state_new(void)
{
    return cdc_xcalloc(1, sizeof(kin_ident_state));
}

void
kin_ident_state_free(kin_ident_state *s)
{
    if (s == NULL)
        return;
    smap_free(&s->deletes);
    free(s);
}

static char *
dkey(const char *stream, const char *pkey, size_t pklen)
{
    size_t sl = strlen(stream);
    char  *k = cdc_xmalloc(sl + 1 + pklen + 1);

    memcpy(k, stream, sl);
    k[sl] = '\x1f';
    memcpy(k + sl + 1, pkey, pklen);
    k[sl + 1 + pklen] = '\0';
    return k;
}

/* A JSON integer member as text ("-" when null or missing); false when it is something else. */
static bool
int_text(json_t *o, const char *name, char *out, size_t n, uint64_t *v)
{
    json_t *m = json_object_get(o, name);

    *v = 0;
    if (m == NULL || json_is_null(m)) {
        snprintf(out, n, "-");
        return true;
    }
    if (!json_is_integer(m) || json_integer_value(m) < 0)
        return false;
    *v = (uint64_t) json_integer_value(m);
    snprintf(out, n, "%" PRIu64, *v);
    return true;
}

kin_ident_kind
kin_ident(kin_ident_state *s, const char *stream, const char *pkey, size_t pklen,
          const void *data, size_t len, char *out, size_t n, uint64_t *lsn_out)
{
    const unsigned char *d = data;
    json_t              *root, *p, *src;
    const char          *op, *status, *id;
    char                 lsn[24], txid[24];
    uint64_t             lsnv = 0, txv = 0;
    kin_ident_kind       kind = KIN_IDENT_FOREIGN;

    if (lsn_out)
        *lsn_out = 0;
    if (n > 0)
        out[0] = '\0';
    if (pkey == NULL)
        pklen = 0;
    if (len == 0) {
        /* a tombstone: the identity of its key's delete, as "T" */
        char     *k = dkey(stream, pkey ? pkey : "", pklen);
        smap_ent *e = s ? smap_get(&s->deletes, k) : NULL;

        free(k);
        if (e == NULL)
            return KIN_IDENT_FOREIGN;
        snprintf(out, n, "%s", e->val);
        /* "<stream>\x1fd\x1f..." -> "<stream>\x1fT\x1f..." */
        if (strlen(stream) + 1 < n && out[strlen(stream) + 1] == 'd')
            out[strlen(stream) + 1] = 'T';
        if (lsn_out)
            *lsn_out = e->count;
        smap_del(&s->deletes, e);
        return KIN_IDENT_OK;
    }
    if (d[0] == 0x00 && len >= 5)
        return KIN_IDENT_AVRO;
    if (d[0] != '{')
        return KIN_IDENT_FOREIGN;
    root = json_loadb(data, len, 0, NULL);
    if (!json_is_object(root)) {
        json_decref(root);
        return KIN_IDENT_FOREIGN;
    }
    p = json_object_get(root, "payload");
    if (!json_is_object(p) || json_object_get(root, "schema") == NULL)
        p = root;
    status = json_string_value(json_object_get(p, "status"));
    id = json_string_value(json_object_get(p, "id"));
    op = json_string_value(json_object_get(p, "op"));
    src = json_object_get(p, "source");
    if (op == NULL && status && id) {
        /* the transaction topic: BEGIN / END of one transaction */
        snprintf(out, n, "%s\x1ftx\x1f%s\x1f%s", stream, status, id);
        kind = KIN_IDENT_OK;
    } else if (op && strlen(op) == 1 && json_is_object(src) &&
               int_text(src, "lsn", lsn, sizeof(lsn), &lsnv) &&
               int_text(src, "txId", txid, sizeof(txid), &txv) && (lsnv != 0 || txv != 0)) {
        if (op[0] == 'r')
            snprintf(out, n, "%s\x1f%s\x1f%s\x1f%s\x1f%.*s", stream, op, lsn, txid, (int) pklen,
                     pkey ? pkey : "");
        else
            snprintf(out, n, "%s\x1f%s\x1f%s\x1f%s", stream, op, lsn, txid);
        if (lsn_out)
            *lsn_out = lsnv;
        if (op[0] == 'd' && s) {
            char     *k = dkey(stream, pkey ? pkey : "", pklen);
            smap_ent *e;

            smap_set(&s->deletes, k, out);
            e = smap_get(&s->deletes, k);
            e->count = lsnv;        /* the delete's LSN, for the tombstone's lsn_out */
            free(k);
        }
        kind = KIN_IDENT_OK;
    }
    json_decref(root);
    return kind;
}

/* ---- the held set ------------------------------------------------------- */

struct kin_resume {
    smap             held;      /* identity -> copies held, not yet matched */
    smap             lsns;      /* the source.lsn of every identity read (decimal) */
    size_t           left;
    kin_ident_state *wstate;    /* write()'s side: the deletes it has seen */
    size_t           nread, nident, navro, nforeign, norphan;
    bool             avro_logged;
};

void
kin_resume_free(kin_resume *r)
{
    if (r == NULL)
        return;
    smap_free(&r->held);
    smap_free(&r->lsns);
    kin_ident_state_free(r->wstate);
    free(r);
}

size_t
kin_resume_left(const kin_resume *r)
{
    return r ? r->left : 0;
}

void
kin_resume_counts(const kin_resume *r, size_t *read, size_t *ident, size_t *avro,
                  size_t *foreign)
{
    *read = r ? r->nread : 0;
    *ident = r ? r->nident : 0;
    *avro = r ? r->navro : 0;
    *foreign = r ? r->nforeign : 0;
}

bool
kin_resume_has(kin_resume *r, const char *stream, uint64_t lsn, const char *pkey,
               size_t pklen, const void *data, size_t len)
{
    char           id[1024];
    smap_ent      *e;
    kin_ident_kind k;

    if (r == NULL || r->left == 0)
        return false;
    if (lsn != 0) {
        char l[24];

        snprintf(l, sizeof(l), "%" PRIu64, lsn);
        if (smap_get(&r->lsns, l) == NULL)
            return false;
    }
    k = kin_ident(r->wstate, stream, pkey, pklen, data, len, id, sizeof(id), NULL);
    if (k == KIN_IDENT_AVRO && !r->avro_logged) {
        r->avro_logged = true;
        log_warn(RES_FAC, "resume: Avro records cannot be identified without their schemas: "
                 "events in flight at the last stop may be written again (at-least-once "
                 "after a restart with Avro; docs/kinesis.md)");
    }
    if (k != KIN_IDENT_OK || (e = smap_get(&r->held, id)) == NULL || e->count == 0)
        return false;
    e->count--;
    r->left--;
    if (r->left == 0) {
        log_info(RES_FAC, "resume: every record found in the streams at start was matched; "
                 "from here on everything is new");
        /* the sets are no longer needed */
        smap_free(&r->held);
        smap_free(&r->lsns);
        kin_ident_state_free(r->wstate);
        r->wstate = kin_ident_state_new();
    }
    return true;
}

/* ---- reading the streams ------------------------------------------------ */

static int
b64val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

/* Standard base64 (padding optional) into out; false when malformed. */
static bool
b64dec(const char *s, cdc_buf *out)
{
    uint32_t acc = 0;
    int      bits = 0;

    cdc_buf_reset(out);
    for (; *s && *s != '='; s++) {
        int v = b64val((unsigned char) *s);

        if (v < 0)
            return false;
        acc = acc << 6 | (uint32_t) v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            cdc_buf_put_u8(out, (uint8_t) (acc >> bits & 0xff));
        }
    }
    return !cdc_buf_failed(out);
}

typedef struct loader {
    const kin_resume_conf *c;
    kin_resume            *r;
    kin_ident_state       *rstate;
    cdc_retry_conf         retry;
    cdc_pos                newest;
    uint64_t               maxlsn;      /* the newest source.lsn read */
    cdc_buf                data;
    bool                   collect;     /* resume_lsn > 0: keep identities */
} loader;

static int
call(loader *L, const char *op, json_t *req, cdc_aws_result *res, cdc_err *err)
{
    char *txt = json_dumps(req, JSON_COMPACT);
    int   rc;

    json_decref(req);
    if (txt == NULL)
        return cdc_err_set(err, CDC_E_NOMEM, "out of memory");
    rc = cdc_aws_json_call(L->c->kinesis, op, txt, strlen(txt), &L->retry, res, err);
    free(txt);
    return rc;
}

/* One record read back. */
static void
take(loader *L, const char *stream, json_t *rec)
{
    const char *d64 = json_string_value(json_object_get(rec, "Data"));
    const char *pk = json_string_value(json_object_get(rec, "PartitionKey"));
    char        id[1024];
    uint64_t    lsn = 0;

    L->r->nread++;
    if (d64 == NULL || !b64dec(d64, &L->data)) {
        L->r->nforeign++;
        return;
    }
    switch (kin_ident(L->rstate, stream, pk, pk ? strlen(pk) : 0, L->data.data, L->data.len, id,
                      sizeof(id), &lsn)) {
    case KIN_IDENT_OK:
        L->r->nident++;
        if (L->collect) {
            char l[24];

            smap_inc(&L->r->held, id);
            L->r->left++;
            snprintf(l, sizeof(l), "%" PRIu64, lsn);
            if (smap_get(&L->r->lsns, l) == NULL)
                smap_inc(&L->r->lsns, l);
        }
        if (lsn > L->newest.lsn)
            L->newest = (cdc_pos) { lsn, 0 };
        if (lsn > L->maxlsn)
            L->maxlsn = lsn;
        break;
    case KIN_IDENT_AVRO:
        L->r->navro++;
        break;
    default:
        /* A tombstone whose delete is before where the read began: the pair was made
           durable before the checkpoint, so neither is sent again; not another tool's. */
        if (L->data.len == 0)
            L->r->norphan++;
        else
            L->r->nforeign++;
        break;
    }
}

/* A shard iterator after seqno (NULL: TRIM_HORIZON) into *it (malloc'd; NULL: the shard is
   gone).  @returns 0, 1 when the sequence number cannot be used, or -1 with err set. */
static int
iterator(loader *L, const char *stream, const char *shard, const char *seqno, char **it,
         cdc_err *err)
{
    cdc_aws_result res = { 0 };
    json_t        *req;
    const char    *s;

    *it = NULL;
    req = json_pack("{s:s, s:s, s:s}", "StreamName", stream, "ShardId", shard,
                    "ShardIteratorType", seqno ? "AFTER_SEQUENCE_NUMBER" : "TRIM_HORIZON");
    if (seqno)
        json_object_set_new(req, "StartingSequenceNumber", json_string(seqno));
    if (call(L, "GetShardIterator", req, &res, err) < 0) {
        int rc = -1;

        if (seqno && strcmp(res.code, "InvalidArgumentException") == 0)
            rc = 1;
        else if (strcmp(res.code, "ResourceNotFoundException") == 0)
            rc = seqno ? 1 : 0;     /* the shard itself is gone (retention): nothing there */
        cdc_aws_result_clear(&res);
        if (rc < 0)
            cdc_err_wrap(err, "kinesis resume: %s %s", stream, shard);
        return rc;
    }
    if ((s = json_string_value(json_object_get(res.json, "ShardIterator"))) != NULL)
        *it = cdc_xstrdup(s);
    cdc_aws_result_clear(&res);
    return 0;
}

/* Reads one shard from gen (NULL: its start) to its end; @returns records read or -1. */
static long
read_shard(loader *L, const char *stream, const char *shard, const kin_ckpt_gen *gen,
           cdc_err *err)
{
    cdc_aws_result res = { 0 };
    char          *it = NULL, last[KIN_CKPT_SEQNO_MAX] = "";
    long           nread = 0;
    int            idle = 0, rc, renewed = 0;
    int            limit = L->c->get_limit > 0 ? L->c->get_limit : 10000;

    if (gen)
        snprintf(last, sizeof(last), "%s", gen->seqno);
    rc = iterator(L, stream, shard, gen ? last : NULL, &it, err);
    if (rc == 1) {
        /* the checkpoint's record is gone (retention): from what is left */
        log_warn(RES_FAC, "resume: %s %s: cannot read after the checkpoint's sequence number "
                 "(%s): reading the shard from its start", stream, shard, err ? err->msg : "?");
        last[0] = '\0';
        rc = iterator(L, stream, shard, NULL, &it, err);
    }
    if (rc < 0)
        return -1;
    while (it) {
        json_t     *recs, *e, *req;
        size_t      i;
        const char *next;
        json_int_t  behind;

        req = json_pack("{s:s, s:i}", "ShardIterator", it, "Limit", limit);
        free(it);
        it = NULL;
        if (call(L, "GetRecords", req, &res, err) < 0) {
            /* an iterator lives 5 minutes: a slow read (throttled) gets a new one */
            if (strcmp(res.code, "ExpiredIteratorException") == 0 && renewed++ < 10) {
                cdc_aws_result_clear(&res);
                if (iterator(L, stream, shard, last[0] ? last : NULL, &it, err) < 0)
                    return -1;
                continue;
            }
            cdc_aws_result_clear(&res);
            return cdc_err_wrap(err, "kinesis resume: reading %s %s", stream, shard);
        }
        recs = json_object_get(res.json, "Records");
        json_array_foreach(recs, i, e) {
            const char *sq = json_string_value(json_object_get(e, "SequenceNumber"));

            take(L, stream, e);
            nread++;
            if (sq && strlen(sq) < sizeof(last))
                snprintf(last, sizeof(last), "%s", sq);
        }
        next = json_string_value(json_object_get(res.json, "NextShardIterator"));
        behind = json_integer_value(json_object_get(res.json, "MillisBehindLatest"));
        if (json_array_size(recs) == 0)
            idle++;
        else
            idle = 0;
        /* the end: a closed shard's last page, or nothing more and not behind */
        if (next && !(json_array_size(recs) == 0 && behind == 0)) {
            if (idle < 100)
                it = cdc_xstrdup(next);
            else
                log_warn(RES_FAC, "resume: %s %s: 100 empty pages while %lld ms behind its "
                         "end: reading stops here (what lies beyond may be written again)",
                         stream, shard, (long long) behind);
        }
        cdc_aws_result_clear(&res);
        if (!L->collect && nread > 0)
            break;      /* no slot yet: only whether it holds anything */
    }
    free(it);
    return nread;
}

/* Reads every shard of one stream; a stream that does not exist holds nothing. */
static int
read_stream(loader *L, const char *stream, cdc_err *err)
{
    char *token = NULL;
    long  total = 0;
    int   nshards = 0, from_ckpt = 0;

    do {
        cdc_aws_result res = { 0 };
        json_t        *req = token ? json_pack("{s:s}", "NextToken", token)
                                   : json_pack("{s:s}", "StreamName", stream);
        json_t        *shards, *e;
        size_t         i;

        free(token);
        token = NULL;
        if (call(L, "ListShards", req, &res, err) < 0) {
            if (strcmp(res.code, "ResourceNotFoundException") == 0) {
                cdc_aws_result_clear(&res);
                return 0;
            }
            cdc_aws_result_clear(&res);
            return cdc_err_wrap(err, "kinesis resume: listing the shards of %s", stream);
        }
        shards = json_object_get(res.json, "Shards");
        json_array_foreach(shards, i, e) {
            const char         *sid = json_string_value(json_object_get(e, "ShardId"));
            const kin_ckpt_gen *g;
            long                n;

            if (sid == NULL)
                continue;
            g = L->collect ? kinesis_ckpt_start(L->c->ckpt, stream, sid, L->c->resume_lsn)
                           : NULL;
            if (g) {
                from_ckpt++;
                if (cdc_pos_cmp(g->pos, L->newest) > 0)
                    L->newest = g->pos;
            }
            n = read_shard(L, stream, sid, g, err);
            if (n < 0) {
                cdc_aws_result_clear(&res);
                return -1;
            }
            total += n;
            nshards++;
        }
        if (json_string_value(json_object_get(res.json, "NextToken")))
            token = cdc_xstrdup(json_string_value(json_object_get(res.json, "NextToken")));
        cdc_aws_result_clear(&res);
    } while (token);
    if (L->collect)
        log_info(RES_FAC, "resume: stream %s: %d shard(s), %d from their checkpoint, %ld "
                 "record(s) read", stream, nshards, from_ckpt, total);
    return 0;
}

static bool
is_dlq(const char *stream, const char *suffix)
{
    size_t sl = strlen(stream), xl = strlen(suffix);

    return sl > xl + 1 && stream[sl - xl - 1] == '-' && strcmp(stream + sl - xl, suffix) == 0;
}

kin_resume *
kin_resume_load(const kin_resume_conf *c, cdc_dest *d, cdc_err *err)
{
    loader               L = { .c = c };
    const kin_ckpt_item *items = NULL;
    size_t               nitems = kinesis_ckpt_items(c->ckpt, &items);
    const char          *suffix = c->dlq_suffix && c->dlq_suffix[0] ? c->dlq_suffix : "dlq";
    smap                 seen = { 0 };
    int                  rc = 0;

    if (c->kinesis == NULL) {
        cdc_err_set(err, CDC_E_INVAL, "kinesis resume: no Kinesis client");
        return NULL;
    }
    L.r = cdc_xcalloc(1, sizeof(*L.r));
    L.r->wstate = kin_ident_state_new();
    L.rstate = kin_ident_state_new();
    L.collect = c->resume_lsn > 0;
    L.retry = c->retry ? *c->retry
                       : (cdc_retry_conf) { .max_attempts = 8, .initial_ms = 200, .max_ms = 5000,
                                            .multiplier = 2, .jitter = true };
    for (int pass = 0; pass < 2 && rc == 0; pass++) {
        size_t n = pass == 0 ? (size_t) (c->nstreams > 0 ? c->nstreams : 0) : nitems;

        for (size_t i = 0; i < n && rc == 0; i++) {
            const char *s = pass == 0 ? c->streams[i] : items[i].stream;

            if (s == NULL || is_dlq(s, suffix) || smap_get(&seen, s))
                continue;
            smap_inc(&seen, s);
            rc = read_stream(&L, s, err);
        }
    }
    smap_free(&seen);
    kin_ident_state_free(L.rstate);
    cdc_buf_free(&L.data);
    if (rc < 0) {
        kin_resume_free(L.r);
        return NULL;
    }
    /* the newest change read back: checkpoints count again once the replay is past it */
    if (L.collect)
        kinesis_ckpt_hold(c->ckpt, L.maxlsn);
    if (d) {
        if (cdc_pos_cmp(L.newest, d->newest_held) > 0)
            d->newest_held = L.newest;
        if (L.r->nread > 0 || L.newest.lsn)
            d->held_unordered = true;
        if (L.r->nforeign > 0)
            d->holds_foreign = true;
    }
    if (L.collect)
        log_info(RES_FAC, "resume: %zu record(s) read after the checkpoints, %zu identified "
                 "(kept to skip what PostgreSQL sends again after the slot's position " CDC_LSN_FMT
                 ": %zu), %zu tombstone(s) of deletes before the checkpoints, %zu Avro, "
                 "%zu not ours", L.r->nread, L.r->nident, CDC_LSN_ARGS(c->resume_lsn),
                 L.r->left, L.r->norphan, L.r->navro, L.r->nforeign);
    if (L.r->navro > 0)
        log_warn(RES_FAC, "resume: %zu Avro record(s) cannot be identified without their "
                 "schemas: events in flight at the last stop may be written again "
                 "(at-least-once after a restart with Avro)", L.r->navro);
    return L.r;
}

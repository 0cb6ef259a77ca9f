/*
 * The Kinesis transport's DynamoDB checkpoint table: see kinesis_ckpt.h.
 */
#include "transports/kinesis/kinesis_ckpt.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/core/cdc_clock.h"
#include "agent/core/cdc_log.h"
#include "agent/core/cdc_lsn.h"
#include "agent/core/cdc_mem.h"

#define CKPT_FAC "kinesis"
#define TTL_ATTR "expires_at"

typedef struct ckpt_shard {
    kin_ckpt_item item;                         /* as last written or loaded */
    char          noted[KIN_CKPT_SEQNO_MAX];    /* newest sequence number noted */
    bool          dirty;                        /* noted since the last write */
} ckpt_shard;

struct kin_ckpt {
    cdc_aws_json  *ddb;
    char          *table;
    char          *pipeline;
    int            ttl_s;
    int            flush_every_ms;
    int            active_wait_ms;
    cdc_retry_conf retry;
    ckpt_shard    *sh;
    size_t         n, cap;
    kin_ckpt_item *view;        /* kinesis_ckpt_items(): copies of sh[].item */
    int64_t        last_flush_ms;
    bool           warned_condition;
    bool           failing;     /* the last write failed (logged once) */
    uint64_t       hold_lsn;    /* kinesis_ckpt_hold; 0: none */
    /* the one PutItem in flight (kinesis_ckpt_flush drives it without blocking) */
    cdc_http_multi *multi;
    cdc_http_xfer  *x;
    cdc_aws_call    call;
    kin_ckpt_item   put_item;   /* what it writes */
    size_t          put_ix;     /* of which shard */
    bool            in_flight;
    bool            round;      /* writing the changed shards, one after the other */
    size_t          next;       /* round-robin start */
    int             force_wait_ms;
};

/* ---- pure --------------------------------------------------------------- */

int
kin_seqno_cmp(const char *a, const char *b)
{
    size_t la, lb;
    int    c;

    while (*a == '0' && a[1])
        a++;
    while (*b == '0' && b[1])
        b++;
    la = strlen(a);
    lb = strlen(b);
    if (la != lb)
        return la < lb ? -1 : 1;
    c = strcmp(a, b);
    return c < 0 ? -1 : c > 0;
}

static json_t *
ddb_s(const char *s)
{
    return json_pack("{s:s}", "S", s);
}

static json_t *
ddb_n(uint64_t v)
{
    char b[24];

    snprintf(b, sizeof(b), "%" PRIu64, v);
    return json_pack("{s:s}", "N", b);
}

static char *
pk_of(const char *pipeline_id, const char *stream)
{
    char *s;

    if (asprintf(&s, "%s#%s", pipeline_id, stream) < 0)
        abort();
    return s;
}

void
kin_ckpt_put_body(const char *table, const char *pipeline_id, const kin_ckpt_item *it,
                  cdc_buf *out)
{
    json_t *item = json_object(), *req;
    char   *pk = pk_of(pipeline_id, it->stream), *txt;
    char    name[16];

    json_object_set_new(item, "pk", ddb_s(pk));
    json_object_set_new(item, "shard", ddb_s(it->shard));
    json_object_set_new(item, "stream", ddb_s(it->stream));
    for (int g = 0; g < it->ngen && g < KIN_CKPT_GENS; g++) {
        snprintf(name, sizeof(name), "seq%d", g);
        json_object_set_new(item, name, ddb_s(it->gen[g].seqno));
        snprintf(name, sizeof(name), "lsn%d", g);
        json_object_set_new(item, name, ddb_n(it->gen[g].pos.lsn));
        snprintf(name, sizeof(name), "pseq%d", g);
        json_object_set_new(item, name, ddb_n(it->gen[g].pos.seq));
        snprintf(name, sizeof(name), "at%d", g);
        json_object_set_new(item, name, ddb_n((uint64_t) it->gen[g].at_ms));
    }
    json_object_set_new(item, "wlsn", ddb_n(it->w.lsn));
    json_object_set_new(item, "wseq", ddb_n(it->w.seq));
    if (it->expires_s > 0)
        json_object_set_new(item, TTL_ATTR, ddb_n((uint64_t) it->expires_s));
    req = json_pack("{s:s, s:o, s:s, s:{s:o}}", "TableName", table, "Item", item,
                    "ConditionExpression", "attribute_not_exists(pk) OR wlsn <= :w",
                    "ExpressionAttributeValues", ":w", ddb_n(it->w.lsn));
    txt = json_dumps(req, JSON_COMPACT);
    cdc_buf_puts(out, txt);
    free(txt);
    json_decref(req);
    free(pk);
}

static const char *
attr_s(json_t *item, const char *name)
{
    return json_string_value(json_object_get(json_object_get(item, name), "S"));
}

static bool
attr_n(json_t *item, const char *name, uint64_t *out)
{
    const char *s = json_string_value(json_object_get(json_object_get(item, name), "N"));
    char       *end;

    if (s == NULL || *s == '\0' || *s == '-')
        return false;
    *out = strtoull(s, &end, 10);
    return *end == '\0';
}

bool
kin_ckpt_item_decode(const char *pipeline_id, json_t *item, kin_ckpt_item *it)
{
    const char *pk = attr_s(item, "pk"), *shard = attr_s(item, "shard");
    size_t      plen = strlen(pipeline_id);
    uint64_t    v;

    memset(it, 0, sizeof(*it));
    if (pk == NULL || shard == NULL || strncmp(pk, pipeline_id, plen) != 0 || pk[plen] != '#' ||
        strchr(pk + plen + 1, '#') != NULL || pk[plen + 1] == '\0' ||
        strlen(pk + plen + 1) >= sizeof(it->stream) || strlen(shard) >= sizeof(it->shard))
        return false;
    snprintf(it->stream, sizeof(it->stream), "%s", pk + plen + 1);
    snprintf(it->shard, sizeof(it->shard), "%s", shard);
    for (int g = 0; g < KIN_CKPT_GENS; g++) {
        char          name[16];
        const char   *seq;
        kin_ckpt_gen *gen = &it->gen[it->ngen];

        snprintf(name, sizeof(name), "seq%d", g);
        seq = attr_s(item, name);
        if (seq == NULL || strlen(seq) >= sizeof(gen->seqno) ||
            seq[strspn(seq, "0123456789")] != '\0' || seq[0] == '\0')
            break;
        snprintf(gen->seqno, sizeof(gen->seqno), "%s", seq);
        snprintf(name, sizeof(name), "lsn%d", g);
        if (!attr_n(item, name, &gen->pos.lsn))
            break;
        snprintf(name, sizeof(name), "pseq%d", g);
        if (!attr_n(item, name, &gen->pos.seq))
            break;
        snprintf(name, sizeof(name), "at%d", g);
        gen->at_ms = attr_n(item, name, &v) ? (int64_t) v : 0;
        it->ngen++;
    }
    it->expires_s = attr_n(item, TTL_ATTR, &v) ? (int64_t) v : 0;
    if (attr_n(item, "wlsn", &it->w.lsn))
        it->w.seq = attr_n(item, "wseq", &v) ? v : 0;
    return true;
}

void
kin_ckpt_item_push(kin_ckpt_item *it, const kin_ckpt_gen *g, int64_t spacing_ms)
{
    if (it->ngen > 0 && g->at_ms - it->gen[0].at_ms < spacing_ms) {
        /* keep the newest's time: the spacing counts from when a generation began */
        int64_t at = it->gen[0].at_ms;

        it->gen[0] = *g;
        it->gen[0].at_ms = at;
        return;
    }
    memmove(&it->gen[1], &it->gen[0], sizeof(it->gen[0]) * (KIN_CKPT_GENS - 1));
    it->gen[0] = *g;
    if (it->ngen < KIN_CKPT_GENS)
        it->ngen++;
}

/* ---- DynamoDB calls ----------------------------------------------------- */

/* One call with the start-up retry; body built from j (consumed).  *ans: the answer. */
static int
ddb_call(kin_ckpt *k, const char *op, json_t *j, const cdc_retry_conf *retry, cdc_aws_result *res,
         cdc_err *err)
{
    char *txt = json_dumps(j, JSON_COMPACT);
    int   rc;

    json_decref(j);
    if (txt == NULL)
        return cdc_err_set(err, CDC_E_NOMEM, "out of memory");
    rc = cdc_aws_json_call(k->ddb, op, txt, strlen(txt), retry, res, err);
    free(txt);
    return rc;
}

/* DescribeTable: 1 exists (status in *status), 0 missing, -1 error. */
static int
describe(kin_ckpt *k, char *status, size_t n, bool *keys_ok, cdc_err *err)
{
    cdc_aws_result res = { 0 };
    json_t        *t, *ks;
    size_t         i;
    json_t        *e;
    int            found = 0;

    if (ddb_call(k, "DescribeTable", json_pack("{s:s}", "TableName", k->table), &k->retry, &res,
                 err) < 0) {
        int rc = strcmp(res.code, "ResourceNotFoundException") == 0 ? 0 : -1;

        cdc_aws_result_clear(&res);
        if (rc < 0)
            cdc_err_wrap(err, "kinesis checkpoint table %s", k->table);
        else
            cdc_err_clear(err);     /* missing is an answer, not an error left for later */
        return rc;
    }
    t = json_object_get(res.json, "Table");
    snprintf(status, n, "%s", json_string_value(json_object_get(t, "TableStatus"))
                                  ? json_string_value(json_object_get(t, "TableStatus")) : "");
    ks = json_object_get(t, "KeySchema");
    json_array_foreach(ks, i, e) {
        const char *a = json_string_value(json_object_get(e, "AttributeName"));
        const char *kt = json_string_value(json_object_get(e, "KeyType"));

        if (a && kt && ((strcmp(a, "pk") == 0 && strcmp(kt, "HASH") == 0) ||
                        (strcmp(a, "shard") == 0 && strcmp(kt, "RANGE") == 0)))
            found++;
    }
    *keys_ok = found == 2 && json_array_size(ks) == 2;
    cdc_aws_result_clear(&res);
    return 1;
}

static int
create_table(kin_ckpt *k, cdc_err *err)
{
    cdc_aws_result res = { 0 };
    json_t        *j = json_pack("{s:s, s:[{s:s,s:s},{s:s,s:s}], s:[{s:s,s:s},{s:s,s:s}], s:s}",
                                 "TableName", k->table,
                                 "AttributeDefinitions", "AttributeName", "pk",
                                 "AttributeType", "S", "AttributeName", "shard",
                                 "AttributeType", "S",
                                 "KeySchema", "AttributeName", "pk", "KeyType", "HASH",
                                 "AttributeName", "shard", "KeyType", "RANGE",
                                 "BillingMode", "PAY_PER_REQUEST");

    if (ddb_call(k, "CreateTable", j, &k->retry, &res, err) < 0) {
        /* created meanwhile by another agent: fine */
        int rc = strcmp(res.code, "ResourceInUseException") == 0 ? 0 : -1;

        cdc_aws_result_clear(&res);
        if (rc < 0)
            return cdc_err_wrap(err, "kinesis: creating the checkpoint table %s", k->table);
        cdc_err_clear(err);
        return 0;
    }
    cdc_aws_result_clear(&res);
    log_info(CKPT_FAC, "created the DynamoDB checkpoint table %s (keys pk, shard; "
             "PAY_PER_REQUEST) at %s", k->table, cdc_aws_json_endpoint(k->ddb));
    return 1;
}

static int
enable_ttl(kin_ckpt *k, cdc_err *err)
{
    cdc_aws_result res = { 0 };
    json_t        *j = json_pack("{s:s, s:{s:b, s:s}}", "TableName", k->table,
                                 "TimeToLiveSpecification", "Enabled", 1, "AttributeName",
                                 TTL_ATTR);

    if (ddb_call(k, "UpdateTimeToLive", j, &k->retry, &res, err) < 0) {
        cdc_aws_result_clear(&res);
        return cdc_err_wrap(err, "kinesis: enabling TTL on the checkpoint table %s", k->table);
    }
    cdc_aws_result_clear(&res);
    log_info(CKPT_FAC, "checkpoint table %s: items expire %d s after their last write "
             "(TTL on %s)", k->table, k->ttl_s, TTL_ATTR);
    return 0;
}

static void
check_ttl(kin_ckpt *k)
{
    cdc_aws_result res = { 0 };
    cdc_err        err;
    const char    *st, *attr;

    if (ddb_call(k, "DescribeTimeToLive", json_pack("{s:s}", "TableName", k->table), NULL, &res,
                 &err) < 0) {
        log_warn(CKPT_FAC, "checkpoint table %s: cannot check its TTL: %s", k->table, err.msg);
        cdc_aws_result_clear(&res);
        return;
    }
    st = json_string_value(json_object_get(json_object_get(res.json, "TimeToLiveDescription"),
                                           "TimeToLiveStatus"));
    attr = json_string_value(json_object_get(json_object_get(res.json, "TimeToLiveDescription"),
                                             "AttributeName"));
    if (st == NULL || (strcmp(st, "ENABLED") != 0 && strcmp(st, "ENABLING") != 0) ||
        attr == NULL || strcmp(attr, TTL_ATTR) != 0)
        log_warn(CKPT_FAC, "checkpoint table %s exists without TTL on %s: items carry %s "
                 "(checkpoint_ttl_seconds %d) but will not expire; the table is left as it is",
                 k->table, TTL_ATTR, TTL_ATTR, k->ttl_s);
    cdc_aws_result_clear(&res);
}

static ckpt_shard *
find(kin_ckpt *k, const char *stream, const char *shard, bool add)
{
    for (size_t i = 0; i < k->n; i++)
        if (strcmp(k->sh[i].item.shard, shard) == 0 && strcmp(k->sh[i].item.stream, stream) == 0)
            return &k->sh[i];
    if (!add || strlen(stream) >= sizeof(k->sh[0].item.stream) ||
        strlen(shard) >= sizeof(k->sh[0].item.shard))
        return NULL;
    if (k->n == k->cap) {
        k->cap = k->cap ? k->cap * 2 : 16;
        k->sh = cdc_xrealloc(k->sh, k->cap * sizeof(*k->sh));
    }
    memset(&k->sh[k->n], 0, sizeof(k->sh[0]));
    snprintf(k->sh[k->n].item.stream, sizeof(k->sh[0].item.stream), "%s", stream);
    snprintf(k->sh[k->n].item.shard, sizeof(k->sh[0].item.shard), "%s", shard);
    return &k->sh[k->n++];
}

static int
load(kin_ckpt *k, cdc_err *err)
{
    json_t *start = NULL;
    char    prefix[300];

    snprintf(prefix, sizeof(prefix), "%s#", k->pipeline);
    for (;;) {
        cdc_aws_result res = { 0 };
        json_t        *req = json_pack("{s:s, s:s, s:{s:{s:s}}, s:b}", "TableName", k->table,
                                       "FilterExpression", "begins_with(pk, :p)",
                                       "ExpressionAttributeValues", ":p", "S", prefix,
                                       "ConsistentRead", 1);
        json_t        *items, *e;
        size_t         i;

        if (start)
            json_object_set_new(req, "ExclusiveStartKey", start);
        start = NULL;
        if (ddb_call(k, "Scan", req, &k->retry, &res, err) < 0) {
            cdc_aws_result_clear(&res);
            return cdc_err_wrap(err, "kinesis: reading the checkpoint table %s", k->table);
        }
        items = json_object_get(res.json, "Items");
        json_array_foreach(items, i, e) {
            kin_ckpt_item it;
            ckpt_shard   *s;

            if (!kin_ckpt_item_decode(k->pipeline, e, &it))
                continue;
            s = find(k, it.stream, it.shard, true);
            if (s == NULL)
                continue;
            s->item = it;
            if (it.ngen > 0)
                snprintf(s->noted, sizeof(s->noted), "%s", it.gen[0].seqno);
        }
        start = json_object_get(res.json, "LastEvaluatedKey");
        if (start)
            json_incref(start);
        cdc_aws_result_clear(&res);
        if (start == NULL || json_object_size(start) == 0) {
            json_decref(start);
            break;
        }
    }
    return 0;
}

kin_ckpt *
kinesis_ckpt_open(cdc_aws_json *ddb, const kin_ckpt_conf *c, cdc_err *err)
{
    kin_ckpt *k;
    char      status[32] = "";
    bool      keys_ok = false, created = false;
    int       ex;

    if (ddb == NULL || c == NULL || c->pipeline_id == NULL || c->pipeline_id[0] == '\0') {
        cdc_err_set(err, CDC_E_INVAL, "kinesis checkpoint: a DynamoDB client and the pipeline id "
                    "are required");
        return NULL;
    }
    k = cdc_xcalloc(1, sizeof(*k));
    k->ddb = ddb;
    k->table = cdc_xstrdup(c->table && c->table[0] ? c->table : KIN_CKPT_TABLE_DEFAULT);
    k->pipeline = cdc_xstrdup(c->pipeline_id);
    k->ttl_s = c->ttl_s > 0 ? c->ttl_s : 0;
    k->flush_every_ms = c->flush_every_ms > 0 ? c->flush_every_ms : 1000;
    k->active_wait_ms = c->active_wait_ms > 0 ? c->active_wait_ms : 60000;
    k->retry = c->retry ? *c->retry
                        : (cdc_retry_conf) { .max_attempts = 6, .initial_ms = 200,
                                             .max_ms = 5000, .multiplier = 2, .jitter = true };
    k->force_wait_ms = 10000;
    if ((k->multi = cdc_http_multi_new(err)) == NULL || (k->x = cdc_http_xfer_new(err)) == NULL)
        goto fail;
    ex = describe(k, status, sizeof(status), &keys_ok, err);
    if (ex < 0)
        goto fail;
    if (ex == 0) {
        int cr = create_table(k, err);

        if (cr < 0)
            goto fail;
        created = cr == 1;
    } else if (!keys_ok) {
        cdc_err_set(err, CDC_E_CONFIG, "kinesis: the checkpoint table %s at %s exists with "
                    "another key schema (expected partition key pk and sort key shard, both "
                    "strings): name another kinesis.checkpoint_table_name", k->table,
                    cdc_aws_json_endpoint(ddb));
        goto fail;
    }
    /* wait for ACTIVE */
    for (int64_t until = cdc_mono_ms() + k->active_wait_ms; strcmp(status, "ACTIVE") != 0;) {
        if (describe(k, status, sizeof(status), &keys_ok, err) < 0)
            goto fail;
        if (strcmp(status, "ACTIVE") == 0)
            break;
        if (cdc_mono_ms() > until) {
            cdc_err_set(err, CDC_E_TIMEOUT, "kinesis: the checkpoint table %s is %s, not ACTIVE, "
                        "after %d ms", k->table, status[0] ? status : "missing",
                        k->active_wait_ms);
            goto fail;
        }
        cdc_sleep_ms(250);
    }
    if (k->ttl_s > 0) {
        if (created) {
            if (enable_ttl(k, err) < 0)
                goto fail;
        } else {
            check_ttl(k);
        }
    }
    if (load(k, err) < 0)
        goto fail;
    log_info(CKPT_FAC, "checkpoint table %s: %zu shard checkpoint(s) of pipeline %s", k->table,
             k->n, k->pipeline);
    return k;
fail:
    kinesis_ckpt_close(k);
    return NULL;
}

void
kinesis_ckpt_close(kin_ckpt *k)
{
    if (k == NULL)
        return;
    if (k->multi && k->x && k->in_flight)
        cdc_http_multi_remove(k->multi, k->x);
    cdc_http_xfer_free(k->x);
    cdc_http_multi_free(k->multi);
    cdc_aws_call_free(&k->call);
    free(k->sh);
    free(k->view);
    free(k->table);
    free(k->pipeline);
    free(k);
}

void
kinesis_ckpt_hold(kin_ckpt *k, uint64_t lsn)
{
    if (k == NULL || lsn == 0)
        return;
    if (lsn > k->hold_lsn)
        k->hold_lsn = lsn;
    log_info(CKPT_FAC, "checkpoint table %s: new checkpoints count once the replay passes "
             CDC_LSN_FMT " (what the streams held at start)", k->table, CDC_LSN_ARGS(lsn));
}

const char *
kinesis_ckpt_table(const kin_ckpt *k)
{
    return k->table;
}

void
kinesis_ckpt_note(kin_ckpt *k, const char *stream, const char *shard, cdc_pos pos,
                  const char *seqno)
{
    ckpt_shard *s;

    (void) pos;     /* the bound written at flush covers it (see the header) */
    if (k == NULL || stream == NULL || shard == NULL || seqno == NULL || seqno[0] == '\0' ||
        strlen(seqno) >= KIN_CKPT_SEQNO_MAX || seqno[strspn(seqno, "0123456789")] != '\0')
        return;
    s = find(k, stream, shard, true);
    if (s == NULL)
        return;
    if (s->noted[0] == '\0' || kin_seqno_cmp(seqno, s->noted) > 0) {
        snprintf(s->noted, sizeof(s->noted), "%s", seqno);
        s->dirty = true;
    }
}

/* Starts the PutItem of shard i (nothing else in flight). */
static int
put_start(kin_ckpt *k, size_t i, cdc_pos written, cdc_err *err)
{
    ckpt_shard  *s = &k->sh[i];
    kin_ckpt_gen g = { .pos = written, .at_ms = cdc_wall_ms() };
    cdc_pos      w = written;

    /* the conditional write's guard never goes back */
    if (cdc_pos_cmp(w, s->item.w) < 0)
        w = s->item.w;
    /* a restart's replay not over: records before this sequence number may lie beyond */
    if (k->hold_lsn && written.lsn <= k->hold_lsn)
        g.pos = KIN_CKPT_UNUSABLE;
    else
        k->hold_lsn = 0;
    k->put_item = s->item;
    k->put_item.w = w;
    snprintf(g.seqno, sizeof(g.seqno), "%s", s->noted);
    kin_ckpt_item_push(&k->put_item, &g, KIN_CKPT_SPACING_MS);
    k->put_item.expires_s = k->ttl_s > 0 ? cdc_wall_ms() / 1000 + k->ttl_s : 0;
    cdc_aws_call_free(&k->call);
    cdc_aws_call_init(&k->call);
    kin_ckpt_put_body(k->table, k->pipeline, &k->put_item, &k->call.body);
    if (cdc_aws_json_sign(k->ddb, &k->call, "PutItem", err) < 0 ||
        cdc_http_multi_add(k->multi, k->x, &k->call.req, err) < 0)
        return -1;
    k->put_ix = i;
    k->in_flight = true;
    return 0;
}

/* The PutItem in flight finished: applies it.  @returns 0, or -1 with err (a failure). */
static int
put_done(kin_ckpt *k, cdc_err *err)
{
    ckpt_shard    *s = &k->sh[k->put_ix];
    cdc_aws_result res = { 0 };
    cdc_err        e;
    int            rc = 0;

    k->in_flight = false;
    if (cdc_aws_json_finish(k->ddb, &k->call, cdc_http_xfer_resp(k->x), &res, &e) == 0) {
        s->item = k->put_item;
    } else if (strcmp(res.code, "ConditionalCheckFailedException") == 0) {
        /* a newer checkpoint is there: another agent on this pipeline? */
        if (!k->warned_condition)
            log_warn(CKPT_FAC, "checkpoint table %s: the item of %s %s holds a newer "
                     "checkpoint than this agent's (" CDC_LSN_FMT "): is another agent "
                     "running pipeline %s?", k->table, s->item.stream, s->item.shard,
                     CDC_LSN_ARGS(k->put_item.w.lsn), k->pipeline);
        k->warned_condition = true;
        s->item = k->put_item;
    } else {
        rc = -1;
        if (err)
            *err = e;
        k->round = false;       /* the next round after flush_every_ms */
        if (!k->failing)
            log_warn(CKPT_FAC, "checkpoint table %s: %s; the checkpoints are written again "
                     "when DynamoDB answers (records are not held back: a checkpoint only "
                     "shortens the read at restart)", k->table, e.msg);
        k->failing = true;
    }
    if (rc == 0 && k->failing) {
        log_info(CKPT_FAC, "checkpoint table %s: written again", k->table);
        k->failing = false;
    }
    if (rc == 0 && strcmp(s->noted, k->put_item.gen[0].seqno) == 0)
        s->dirty = false;
    cdc_aws_result_clear(&res);
    return rc;
}

/* Drives the PutItem in flight and starts the next; @returns -1 on a failure. */
static int
step(kin_ckpt *k, cdc_pos written, cdc_err *err)
{
    cdc_err e;

    if (k->in_flight) {
        cdc_http_multi_perform(k->multi);
        if (cdc_http_multi_done(k->multi) == NULL)
            return 0;
        if (put_done(k, err) < 0)
            return -1;
    }
    if (!k->round)
        return 0;
    for (size_t n = 0; n < k->n; n++) {
        size_t i = (k->next + n) % k->n;

        if (!k->sh[i].dirty)
            continue;
        k->next = i + 1;
        if (put_start(k, i, written, &e) < 0) {
            k->round = false;
            if (!k->failing)
                log_warn(CKPT_FAC, "checkpoint table %s: %s; tried again later", k->table,
                         e.msg);
            k->failing = true;
            if (err)
                *err = e;
            return -1;
        }
        cdc_http_multi_perform(k->multi);
        return 0;
    }
    k->round = false;       /* every changed shard written */
    return 0;
}

static bool
any_dirty(const kin_ckpt *k)
{
    for (size_t i = 0; i < k->n; i++)
        if (k->sh[i].dirty)
            return true;
    return false;
}

int
kinesis_ckpt_flush(kin_ckpt *k, cdc_pos written, bool force, cdc_err *err)
{
    int64_t now = cdc_mono_ms(), until;

    if (k == NULL)
        return 0;
    if (!k->round && (force || now - k->last_flush_ms >= k->flush_every_ms) && any_dirty(k)) {
        k->round = true;
        k->last_flush_ms = now;
    }
    if (!force)
        return step(k, written, err);
    /* forced: until every changed shard is written, within a bound */
    until = now + k->force_wait_ms;
    while (k->in_flight || any_dirty(k)) {
        if (!k->round && !k->in_flight)
            k->round = true;
        if (step(k, written, err) < 0)
            return -1;
        if (cdc_mono_ms() > until)
            return cdc_err_set(err, CDC_E_TIMEOUT, "kinesis: writing the checkpoint table %s "
                               "took more than %d ms", k->table, k->force_wait_ms);
        if (k->in_flight)
            cdc_http_multi_poll(k->multi, 20);
    }
    return 0;
}

size_t
kinesis_ckpt_items(const kin_ckpt *k, const kin_ckpt_item **items)
{
    kin_ckpt *m = (kin_ckpt *) k;

    *items = NULL;
    if (k == NULL)
        return 0;
    free(m->view);
    m->view = cdc_xcalloc(k->n ? k->n : 1, sizeof(*m->view));
    for (size_t i = 0; i < k->n; i++)
        m->view[i] = k->sh[i].item;
    *items = m->view;
    return k->n;
}

const kin_ckpt_gen *
kinesis_ckpt_start(const kin_ckpt *k, const char *stream, const char *shard,
                   uint64_t resume_lsn)
{
    if (k == NULL)
        return NULL;
    for (size_t i = 0; i < k->n; i++) {
        const kin_ckpt_item *it = &k->sh[i].item;

        if (strcmp(it->shard, shard) != 0 || strcmp(it->stream, stream) != 0)
            continue;
        for (int g = 0; g < it->ngen; g++)
            if (it->gen[g].pos.lsn < resume_lsn)
                return &it->gen[g];
        return NULL;
    }
    return NULL;
}

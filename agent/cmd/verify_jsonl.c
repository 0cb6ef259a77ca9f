/*
 * verify against a jsonl sink: the file is replayed by key (verify_replay.c)
 * and the source's current rows are turned into what the agent would have
 * written for them, with the agent's own code: the text of each column
 * (a plain SELECT returns the same output-function text pgoutput and the
 * snapshot's COPY carry, under the same session settings) decoded by
 * pgo_value_from_text() and encoded by schemas/json.c as a snapshot row.
 * The two `after` objects of a key are then compared with json_equal(), so
 * field order and number formatting do not matter, and no Debezium encoding
 * (base64 decimals, epoch-based times) is ever decoded here.
 *
 * The destination's state is held in memory (one JSON object per key); the
 * source is streamed row by row and each row it matches is dropped from that
 * state, so what remains at the end is in the destination only.
 */
#include "agent/cmd/verify_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent/core/cdc_arena.h"
#include "agent/core/cdc_buf.h"
#include "agent/core/cdc_event.h"
#include "agent/core/cdc_mem.h"
#include "agent/core/net/pgconn.h"
#include "decoder/values.h"
#include "schemas/json.h"

static void
json_opts(const verify_ctx *vc, sch_json_opts *o)
{
    const cfg_source *src = &vc->cfg->pipeline.source;

    /* As agent/pipeline/run.c sets them for the sinks: only `after` is compared. */
    sch_json_opts_default(o);
    o->server_name = vc->cfg->pipeline.topic_prefix;
    o->database = src->database;
    o->unavailable_placeholder = src->unavailable_value_placeholder;
}

static json_t *
parse_buf(const cdc_buf *b, const char *what, const cdc_rel *rel, cdc_err *err)
{
    json_error_t jerr;
    json_t      *j = json_loadb((const char *) b->data, b->len, JSON_DECODE_ANY, &jerr);

    if (j == NULL || cdc_buf_failed(b))
        cdc_err_set(err, CDC_E_DECODE, "table %s.%s: the encoder's %s is not JSON: %s",
                    rel->nspname, rel->relname, what, jerr.text);
    return j;
}

/*
 * What the encoder writes for an unchanged TOAST value of each column: the
 * `after` of an update whose every value is unchanged.  Columns whose
 * placeholder is null are left out (null cannot be told from a real NULL).
 */
static json_t *
placeholders_for(const cdc_rel *rel, const sch_json_opts *o, cdc_err *err)
{
    cdc_value *vals = cdc_xcalloc((size_t) rel->ncols + 1, sizeof(*vals));
    cdc_event  ev = { .op = CDC_OP_UPDATE, .rel = rel, .after = vals };
    cdc_buf    b = CDC_BUF_INIT;
    json_t    *v, *after = NULL, *x;
    const char *col;
    void       *tmp;

    for (int i = 0; i < rel->ncols; i++)
        vals[i].state = CDC_VAL_UNCHANGED;
    sch_json_value(&b, &ev, o, 0);
    v = parse_buf(&b, "value", rel, err);
    if (v != NULL) {
        after = json_incref(json_object_get(v, "after"));
        json_object_foreach_safe(after, tmp, col, x)
            if (json_is_null(x))
                json_object_del(after, col);
    }
    json_decref(v);
    cdc_buf_free(&b);
    free(vals);
    return after;
}

/* Column names whose values differ, each with why when it is not plain. */
static char *
differing_columns(const json_t *src, const json_t *dst, const json_t *ph)
{
    cdc_buf     b = CDC_BUF_INIT;
    const char *col;
    json_t     *v;
    char       *names;

    json_object_foreach((json_t *) src, col, v) {
        const json_t *d = json_object_get(dst, col);

        if (d != NULL && json_equal(v, d))
            continue;
        cdc_buf_printf(&b, "%s%s", b.len ? ", " : "", col);
        if (d == NULL)
            cdc_buf_puts(&b, " (missing in the destination)");
        else if (ph && json_object_get(ph, col) && json_equal(d, json_object_get(ph, col)))
            cdc_buf_puts(&b, " (unchanged-TOAST placeholder in the destination, no earlier "
                             "value to take)");
    }
    json_object_foreach((json_t *) dst, col, v)
        if (json_object_get(src, col) == NULL)
            cdc_buf_printf(&b, "%s%s (only in the destination)", b.len ? ", " : "", col);
    names = cdc_xstrdup(cdc_buf_str(&b));
    cdc_buf_free(&b);
    return names;
}

/* Compares one encoded source row with the replayed state and drops what it matched. */
static void
match_row(verify_table *t, json_t *state, bool keyed, json_t *key, json_t *after,
          const json_t *ph)
{
    char   *canon = verify_canonical(keyed ? key : after);
    json_t *e = json_object_get(state, canon);

    if (e == NULL) {
        t->keys_differing++;
        verify_add_diff(t, VERIFY_MISSING, keyed ? json_incref(key) : NULL,
                        keyed ? NULL : cdc_xstrdup(canon), NULL);
    } else if (keyed) {
        const json_t *dafter = json_object_get(e, "after");

        if (!json_equal(after, dafter)) {
            t->keys_differing++;
            verify_add_diff(t, VERIFY_DIFFERS, json_incref(key), NULL,
                            differing_columns(after, dafter, ph));
        }
        json_object_del(state, canon);
    } else {
        json_int_t n = json_integer_value(json_object_get(e, "n")) - 1;

        if (n == 0)
            json_object_del(state, canon);
        else
            json_object_set_new(e, "n", json_integer(n));
    }
    free(canon);
}

/* Decodes one source row and encodes it as the snapshot would; NULLs stay NULL. */
static int
encode_row(const verify_ctx *vc, const cdc_rel *rel, PGresult *res, cdc_arena *a,
           const sch_json_opts *jo, json_t **key, json_t **after, cdc_err *err)
{
    const pgo_type_opts *topts = agent_capture_type_opts(vc->cap);
    cdc_value           *vals = cdc_arena_zalloc(a, sizeof(cdc_value) * (size_t) (rel->ncols + 1));
    cdc_event            ev = { .op = CDC_OP_READ, .rel = rel, .snapshot = "true" };
    cdc_buf              b = CDC_BUF_INIT;
    json_t              *v;

    for (int c = 0; c < rel->ncols; c++)
        if (!PQgetisnull(res, 0, c) && rel->cols[c].ctype.supported &&
            pgo_value_from_text(&rel->cols[c], PQgetvalue(res, 0, c),
                                (size_t) PQgetlength(res, 0, c), topts, a, &vals[c], err) < 0)
            return cdc_err_wrap(err, "table %s.%s", rel->nspname, rel->relname);
    ev.after = vals;
    ev.key = rel->nkeys > 0 ? vals : NULL;
    sch_json_key(&b, &ev, jo);
    *key = parse_buf(&b, "key", rel, err);
    cdc_buf_reset(&b);
    sch_json_value(&b, &ev, jo, 0);
    v = parse_buf(&b, "value", rel, err);
    cdc_buf_free(&b);
    *after = v ? json_incref(json_object_get(v, "after")) : NULL;
    json_decref(v);
    if (*key == NULL || *after == NULL) {
        json_decref(*key);
        json_decref(*after);
        return -1;
    }
    return 0;
}

static void
put_select(cdc_buf *q, const verify_ctx *vc, const cdc_rel *rel)
{
    PGconn *conn = vc->src;
    char    ident[300];

    cdc_buf_puts(q, "SELECT ");
    for (int i = 0; i < rel->ncols; i++)
        cdc_buf_printf(q, "%s%s", i ? ", " : "",
                       agent_pg_quote_ident(conn, rel->cols[i].name, ident, sizeof(ident)));
    cdc_buf_printf(q, " FROM %s.", agent_pg_quote_ident(conn, rel->nspname, ident, sizeof(ident)));
    cdc_buf_puts(q, agent_pg_quote_ident(conn, rel->relname, ident, sizeof(ident)));
    verify_put_row_filter(vc, rel, q);
    for (int k = 1, n = 0; k <= rel->nkeys; k++)
        for (int i = 0; i < rel->ncols; i++)
            if (rel->cols[i].key_pos == k)
                cdc_buf_printf(q, "%s%s", n++ ? ", " : " ORDER BY ",
                               agent_pg_quote_ident(conn, rel->cols[i].name, ident, sizeof(ident)));
}

/* Streams the source's rows (single-row mode: no table is held in memory). */
static int
source_rows(verify_ctx *vc, const cdc_rel *rel, const sch_json_opts *jo, json_t *state,
            const json_t *ph, verify_table *t, cdc_err *err)
{
    cdc_buf    q = CDC_BUF_INIT;
    cdc_arena *a = cdc_arena_new(64 * 1024);
    PGresult  *res;
    int        rc = 0;

    put_select(&q, vc, rel);
    if (!PQsendQuery(vc->src, cdc_buf_str(&q)) || !PQsetSingleRowMode(vc->src))
        rc = cdc_err_set(err, CDC_E_PG, "reading %s.%s: %s", rel->nspname, rel->relname,
                         PQerrorMessage(vc->src));
    while ((res = PQgetResult(vc->src)) != NULL) {
        json_t *key = NULL, *after = NULL;

        if (rc == 0 && PQresultStatus(res) == PGRES_SINGLE_TUPLE) {
            cdc_arena_reset(a);
            rc = encode_row(vc, rel, res, a, jo, &key, &after, err);
            if (rc == 0) {
                t->src_rows++;
                match_row(t, state, rel->nkeys > 0, key, after, ph);
            }
            json_decref(key);
            json_decref(after);
        } else if (rc == 0 && PQresultStatus(res) != PGRES_TUPLES_OK) {
            rc = cdc_err_set(err, CDC_E_PG, "reading %s.%s: %s", rel->nspname, rel->relname,
                             PQresultErrorMessage(res));
        }
        PQclear(res);   /* an error above still drains the rest */
    }
    cdc_arena_free(a);
    cdc_buf_free(&q);
    return rc;
}

/* What is left in the state is in the destination only. */
static void
extras(verify_table *t, json_t *state, bool keyed)
{
    const char *canon;
    json_t     *e;

    json_object_foreach(state, canon, e) {
        json_int_t n = keyed ? 1 : json_integer_value(json_object_get(e, "n"));
        char       detail[64];

        t->keys_differing++;
        snprintf(detail, sizeof(detail), "%lld copies", (long long) n);
        verify_add_diff(t, VERIFY_EXTRA, keyed ? json_incref(json_object_get(e, "key")) : NULL,
                        keyed ? NULL : cdc_xstrdup(canon), n > 1 ? cdc_xstrdup(detail) : NULL);
    }
}

static int64_t
state_rows(json_t *state, bool keyed)
{
    const char *canon;
    json_t     *e;
    int64_t     n = 0;

    if (keyed)
        return (int64_t) json_object_size(state);
    json_object_foreach(state, canon, e)
        n += json_integer_value(json_object_get(e, "n"));
    return n;
}

/* Columns verify.c describe() left out are not compared: stored generated ones (snapshot
   rows carry them), masked, hashed or truncated ones (they differ by design). */
static void
drop_uncompared(json_t *state, const cdc_rel *rel)
{
    const char *canon;
    json_t     *e;

    json_object_foreach(state, canon, e) {
        json_t *after = json_object_get(e, "after");

        for (int i = 0; json_is_object(after) && i < rel->ncols; i++)
            if (!rel->cols[i].ctype.supported)     /* generated, masked or truncated */
                json_object_del(after, rel->cols[i].name);
    }
}

static int
compare_table(verify_ctx *vc, const cdc_rel *rel, verify_replay *rp, const json_t *ph,
              const sch_json_opts *jo, verify_table *t, cdc_err *err)
{
    json_t *state = verify_replay_state(rp);
    bool    keyed = rel->nkeys > 0;

    if (keyed)
        drop_uncompared(state, rel);
    t->method = keyed ? "keys" : "multiset";
    verify_key_names(rel, t->keycols, sizeof(t->keycols));
    t->dst_rows = state_rows(state, keyed);
    t->toast_merged = verify_replay_toast_merged(rp);
    if (source_rows(vc, rel, jo, state, ph, t, err) < 0)
        return -1;
    extras(t, state, keyed);
    t->equal = t->keys_differing == 0;
    return 0;
}

static int
replay(verify_ctx *vc, verify_replay **rps, int n, verify_table *ts, cdc_err *err)
{
    const char *path = vc->sink->jsonl.path;
    FILE       *f = fopen(path, "r");
    bool        torn = false;
    int         rc;

    if (f == NULL)
        return cdc_err_set(err, CDC_E_IO, "sink %s: cannot open %s: %s", vc->sink->sink_id,
                           path, strerror(errno));
    rc = verify_replay_file(f, path, rps, n, &torn, err);
    fclose(f);
    for (int i = 0; rc == 0 && torn && i < n; i++)
        snprintf(ts[i].note, sizeof(ts[i].note), "the file's last line is incomplete (cut by "
                 "a crash; the sink removes it when it starts) and was not replayed");
    return rc;
}

int
verify_jsonl_tables(verify_ctx *vc, cdc_rel *const *rels, int n, verify_table *ts,
                    cdc_err *err)
{
    sch_json_opts   jo;
    verify_replay **rps = cdc_xcalloc((size_t) n + 1, sizeof(*rps));
    json_t        **phs = cdc_xcalloc((size_t) n + 1, sizeof(*phs));
    int             rc = -1;

    json_opts(vc, &jo);
    for (int i = 0; i < n; i++) {
        phs[i] = placeholders_for(rels[i], &jo, err);
        if (phs[i] == NULL)
            goto out;
        rps[i] = verify_replay_new(rels[i]->topic, rels[i]->nkeys > 0, phs[i]);
        for (int c = 0; c < rels[i]->ncols; c++)   /* see drop_uncompared() for keyed tables */
            if (!rels[i]->cols[c].ctype.supported)  /* as verify.c's describe() left it */
                verify_replay_ignore(rps[i], rels[i]->cols[c].name);
    }
    if (replay(vc, rps, n, ts, err) < 0)
        goto out;
    for (int i = 0; i < n; i++)
        if (compare_table(vc, rels[i], rps[i], phs[i], &jo, &ts[i], err) < 0)
            goto out;
    rc = 0;
out:
    for (int i = 0; i < n; i++) {
        verify_replay_free(rps[i]);
        json_decref(phs[i]);
    }
    free(rps);
    free(phs);
    return rc;
}

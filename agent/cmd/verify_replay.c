/*
 * A JSON-lines file (sinks/jsonl/jsonl.h) replayed into the state a consumer that
 * applies it by key ends up with, one table (topic) at a time:
 *
 *   c, u, r    the key's row becomes `after`
 *   d          the key's row is gone
 *   t          every row of the table is gone
 *   tombstone  (value null) nothing: it only tells Kafka's compaction to forget the key
 *
 * The last event of a key wins because the file is in commit order.  An
 * update that did not carry an unchanged TOAST value has the encoder's
 * placeholder in that field; the consumer's only way to the real value is
 * the key's previous row, so the replay takes it from there and counts it
 * (verify reports the count).  Without an earlier row the placeholder stays
 * and the comparison reports the field.
 *
 * Tables without a key have key null in every line: the state is then a
 * multiset of rows, `after` added and `before` (REPLICA IDENTITY FULL sends
 * it) removed.
 */
#include "agent/cmd/verify_int.h"

#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "agent/core/cdc_mem.h"

struct verify_replay {
    char         *topic;
    bool          keyed;
    const json_t *placeholders;
    json_t       *state;
    int64_t       merged;
    json_t       *ignored;      /* column names left out of multiset rows (or NULL) */
};

char *
verify_canonical(const json_t *v)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);

    if (s == NULL)      /* jansson fails only on allocation */
        s = cdc_xstrdup("?");
    return s;
}

verify_replay *
verify_replay_new(const char *topic, bool keyed, const json_t *placeholders)
{
    verify_replay *r = cdc_xcalloc(1, sizeof(*r));

    r->topic = cdc_xstrdup(topic);
    r->keyed = keyed;
    r->placeholders = placeholders;
    r->state = json_object();
    return r;
}

void
verify_replay_free(verify_replay *r)
{
    if (r == NULL)
        return;
    json_decref(r->state);
    json_decref(r->ignored);
    free(r->topic);
    free(r);
}

json_t *
verify_replay_state(verify_replay *r)
{
    return r->state;
}

int64_t
verify_replay_toast_merged(const verify_replay *r)
{
    return r->merged;
}

/* JsonConverter with schemas.enable=true wraps as {"schema":S,"payload":P}. */
static const json_t *
unwrap(const json_t *v)
{
    if (json_is_object(v) && json_object_size(v) == 2 && json_object_get(v, "schema") &&
        json_object_get(v, "payload"))
        return json_object_get(v, "payload");
    return v;
}

/* A copy of after whose placeholders are filled from prev where prev has the value. */
static json_t *
merge_toast(verify_replay *r, const json_t *after, const json_t *prev)
{
    json_t     *out = json_deep_copy(after);
    const char *col;
    json_t     *v;

    if (out == NULL || r->placeholders == NULL)
        return out;
    json_object_foreach(out, col, v) {
        const json_t *ph = json_object_get(r->placeholders, col);
        const json_t *old = prev ? json_object_get(prev, col) : NULL;

        if (ph == NULL || !json_equal(v, ph) || old == NULL || json_equal(old, ph))
            continue;
        json_object_set_new(out, col, json_deep_copy(old));
        r->merged++;
    }
    return out;
}

static int
apply_keyed(verify_replay *r, char op, const json_t *key, const json_t *after, cdc_err *err)
{
    char         *canon;
    const json_t *prev;
    json_t       *entry;

    if (!json_is_object(key))
        return cdc_err_set(err, CDC_E_DECODE, "topic %s: event without a key object, but the "
                           "table has a key", r->topic);
    canon = verify_canonical(key);
    if (op == 'd') {
        json_object_del(r->state, canon);
        free(canon);
        return 0;
    }
    prev = json_object_get(json_object_get(r->state, canon), "after");
    entry = json_pack("{s:O, s:o}", "key", key, "after", merge_toast(r, after, prev));
    json_object_set_new(r->state, canon, entry);
    free(canon);
    return 0;
}

static void
multiset_add(verify_replay *r, const json_t *row, int delta)
{
    char   *canon = verify_canonical(row);
    json_t *e = json_object_get(r->state, canon);

    if (e == NULL && delta > 0)
        json_object_set_new(r->state, canon, json_pack("{s:O, s:I}", "row", row, "n", (json_int_t) 1));
    else if (e != NULL) {
        json_int_t n = json_integer_value(json_object_get(e, "n")) + delta;

        if (n <= 0)
            json_object_del(r->state, canon);
        else
            json_object_set_new(e, "n", json_integer(n));
    }
    free(canon);
}

void
verify_replay_ignore(verify_replay *r, const char *column)
{
    if (r->ignored == NULL)
        r->ignored = json_array();
    json_array_append_new(r->ignored, json_string(column));
}

/* row without the ignored columns (a new reference), or row itself (borrowed) */
static json_t *
without_ignored(const verify_replay *r, const json_t *row)
{
    json_t *copy;
    size_t  i;
    json_t *name;

    if (r->ignored == NULL || !json_is_object(row))
        return json_incref((json_t *) row);
    copy = json_copy((json_t *) row);
    json_array_foreach(r->ignored, i, name)
        json_object_del(copy, json_string_value(name));
    return copy;
}

static void
apply_multiset(verify_replay *r, char op, const json_t *before, const json_t *after)
{
    json_t *row;

    if ((op == 'u' || op == 'd') && json_is_object(before)) {
        row = without_ignored(r, before);
        multiset_add(r, row, -1);
        json_decref(row);
    }
    if (op != 'd') {
        row = without_ignored(r, after);
        multiset_add(r, row, +1);
        json_decref(row);
    }
}

int
verify_replay_event(verify_replay *r, const json_t *line, cdc_err *err)
{
    const json_t *topic = json_object_get(json_object_get(line, "metadata"), "topic");
    const json_t *value = unwrap(json_object_get(line, "value"));
    const char   *op;
    const json_t *after;

    if (!json_is_string(topic) || strcmp(json_string_value(topic), r->topic) != 0)
        return 0;
    if (value == NULL || json_is_null(value))
        return 0;   /* a tombstone */
    op = json_string_value(json_object_get(value, "op"));
    if (op == NULL || op[0] == '\0' || op[1] != '\0')
        return cdc_err_set(err, CDC_E_DECODE, "topic %s: event without a one-letter value.op",
                           r->topic);
    if (op[0] == 't') {
        json_object_clear(r->state);
        return 0;
    }
    if (strchr("cur", op[0]) == NULL && op[0] != 'd')
        return 0;   /* nothing else changes rows */
    after = json_object_get(value, "after");
    if (op[0] != 'd' && !json_is_object(after))
        return cdc_err_set(err, CDC_E_DECODE, "topic %s: op %s without an after object",
                           r->topic, op);
    if (r->keyed)
        return apply_keyed(r, op[0], unwrap(json_object_get(line, "key")), after, err);
    apply_multiset(r, op[0], json_object_get(value, "before"), after);
    return 0;
}

/*
 * Parses one line.  The metadata's seq can be 2^64 - 2 (the last snapshot
 * row), beyond what jansson's integers hold, and JSON_DECODE_INT_AS_REAL on
 * the whole line would round large keys: so the metadata object, which
 * jsonl.h puts last and whose only string is a sanitised topic name, is cut
 * off and parsed on its own with integers as reals.
 */
static json_t *
parse_line(const char *line, size_t len, json_error_t *jerr)
{
    static const char mark[] = ",\"metadata\":{";
    const size_t      mlen = sizeof(mark) - 1;
    size_t            at = len;
    json_t           *main, *meta;
    char             *head;

    while (at >= mlen && memcmp(line + at - mlen, mark, mlen) != 0)
        at--;
    if (at < mlen || line[len - 1] != '}')
        return json_loadb(line, len, 0, jerr);
    at -= mlen;
    head = cdc_xmalloc(at + 2);
    memcpy(head, line, at);
    memcpy(head + at, "}", 2);
    main = json_loadb(head, at + 1, 0, jerr);
    free(head);
    meta = main ? json_loadb(line + at + mlen - 1, len - at - mlen, JSON_DECODE_INT_AS_REAL,
                             jerr) : NULL;
    if (meta == NULL || json_object_set_new(main, "metadata", meta) < 0) {
        json_decref(main);
        return NULL;
    }
    return main;
}

static int
replay_line(const char *line, size_t len, const char *label, long lineno, verify_replay **rs,
            int n, cdc_err *err)
{
    json_error_t jerr;
    json_t      *j = parse_line(line, len, &jerr);
    int          rc = 0;

    if (j == NULL)
        return cdc_err_set(err, CDC_E_DECODE, "%s:%ld: not a JSON line: %s", label, lineno,
                           jerr.text);
    for (int i = 0; i < n && rc == 0; i++)
        if (verify_replay_event(rs[i], j, err) < 0)
            rc = cdc_err_wrap(err, "%s:%ld", label, lineno);
    json_decref(j);
    return rc;
}

int
verify_replay_file(FILE *f, const char *label, verify_replay **rs, int n, bool *torn,
                   cdc_err *err)
{
    char   *line = NULL;
    size_t  cap = 0;
    ssize_t len;
    long    lineno = 0;
    int     rc = 0;

    *torn = false;
    while (rc == 0 && (len = getline(&line, &cap, f)) > 0) {
        lineno++;
        if (line[len - 1] != '\n') {
            *torn = true;   /* the last line, cut short by a crash */
            break;
        }
        if (len == 1)
            continue;
        rc = replay_line(line, (size_t) len - 1, label, lineno, rs, n, err);
    }
    if (rc == 0 && ferror(f))
        rc = cdc_err_set(err, CDC_E_IO, "%s: read error after line %ld", label, lineno);
    free(line);
    return rc;
}

/* Here, not in verify.c: the jsonl and Iceberg comparisons call it, and verify.c calls them. */
bool
verify_put_row_filter(const verify_ctx *vc, const cdc_rel *rel, cdc_buf *q)
{
    const char *cond = cfg_row_filter(&vc->cfg->pipeline.source, rel->nspname, rel->relname);

    if (cond == NULL)
        return false;
    cdc_buf_printf(q, " WHERE (%s)", cond);
    return true;
}

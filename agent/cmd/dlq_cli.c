/*
 * `cdcagent dlq list|replay` (see dlq_cli.h).  The file or the table is read
 * whole: dead letters are rare, so there are few.  A file line is read with
 * jansson, except its record, which is taken out first as raw text (jansson
 * would change its numbers).  Replay hands each letter to
 * the sink that refused it, opened for that alone (cdc_dest_env.replay_only),
 * through the sink's own replay() op: the stored record is already the
 * payload, so nothing is encoded again and the bytes sent are the bytes
 * refused.
 */
#include "agent/cmd/dlq_cli.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/core/cdc_buf.h"
#include "agent/core/cdc_log.h"
#include "agent/core/cdc_mem.h"
#include "agent/core/dest/dlq.h"
#include "agent/pipeline/dest_registry.h"

#define DLQ_FAC   "dlq"

void
agent_dlq_file_path(const cdc_config *cfg, char *out, size_t n)
{
    const char *p = cfg->platform.dlq.path;

    if (p && *p)
        snprintf(out, n, "%s", p);
    else
        snprintf(out, n, "%s.dlq.jsonl", cfg->pipeline.pipeline_id);
}

/* ---------------------------------------------------------------- reading */

static char *
dup_or_null(const char *s)
{
    return s ? cdc_xstrdup(s) : NULL;
}

static char *
hdr_str(json_t *hdr, const char *name)
{
    const char *s = json_string_value(json_object_get(hdr, name));

    return cdc_xstrdup(s ? s : "");
}

static agent_dlq_letter *
find_letter(agent_dlq_set *set, const char *id)
{
    for (int i = 0; i < set->n; i++)
        if (strcmp(set->v[i].id, id) == 0)
            return &set->v[i];
    return NULL;
}

static agent_dlq_letter *
new_letter(agent_dlq_set *set)
{
    agent_dlq_letter *l;

    if (set->n == set->cap) {
        set->cap = set->cap ? set->cap * 2 : 16;
        set->v = cdc_xrealloc(set->v, (size_t) set->cap * sizeof(*set->v));
    }
    l = &set->v[set->n++];
    memset(l, 0, sizeof(*l));
    return l;
}

/* @p raw: the line's record as written (NULL: none or null). */
static void
add_letter(agent_dlq_set *set, json_t *line, const char *raw, size_t rawlen, int lineno)
{
    json_t           *hdr = json_object_get(line, "headers");
    const char       *id = json_string_value(json_object_get(line, "id"));
    const char       *part = json_string_value(json_object_get(hdr, "dlq.source_partition"));
    const char       *off = json_string_value(json_object_get(hdr, "dlq.source_offset"));
    json_t           *text = json_object_get(line, "record_text");
    agent_dlq_letter *l;

    if (find_letter(set, id))       /* refused again after a crash re-sent it: one letter */
        return;
    l = new_letter(set);
    l->id = cdc_xstrdup(id);
    l->sink_id = dup_or_null(json_string_value(json_object_get(line, "sink_id")));
    if (l->sink_id == NULL)
        l->sink_id = hdr_str(hdr, "dlq.sink_id");
    l->topic = hdr_str(hdr, "dlq.source_topic");
    l->partition = (int) strtol(part ? part : "0", NULL, 10);
    l->offset = off ? strtoull(off, NULL, 10) : 0;
    l->commit_lsn = (uint64_t) json_integer_value(json_object_get(line, "commit_lsn"));
    l->seq = (uint64_t) json_integer_value(json_object_get(line, "seq"));
    l->error_type = hdr_str(hdr, "dlq.error_type");
    l->error_message = hdr_str(hdr, "dlq.error_message");
    l->stacktrace = hdr_str(hdr, "dlq.stacktrace");
    l->timestamp = hdr_str(hdr, "dlq.timestamp");
    if (json_is_string(text))
        l->record = cdc_xstrndup(json_string_value(text), json_string_length(text));
    else if (raw && !(rawlen == 4 && memcmp(raw, "null", 4) == 0))
        l->record = cdc_xstrndup(raw, rawlen);
    l->line = lineno;
}

/*
 * One line: the record's raw text is cut out first (replaced by null for
 * jansson, which reads the rest).  @returns the parsed line, or NULL.
 */
static json_t *
parse_line(const char *buf, size_t len, const char **raw, size_t *rawlen)
{
    size_t  off, n;
    char   *copy;
    json_t *line;

    *raw = NULL;
    *rawlen = 0;
    if (dest_dlq_json_member(buf, len, "record", &off, &n) != 1)
        return json_loadb(buf, len, 0, NULL);
    copy = cdc_xmalloc(len - n + 4);
    memcpy(copy, buf, off);
    memcpy(copy + off, "null", 4);
    memcpy(copy + off + 4, buf + off + n, len - off - n);
    line = json_loadb(copy, len - n + 4, 0, NULL);
    free(copy);
    *raw = buf + off;
    *rawlen = n;
    return line;
}

/* Applies one marker (markers are applied after the whole file is read). */
static void
mark_letter(agent_dlq_set *set, json_t *line)
{
    agent_dlq_letter *l = find_letter(set, json_string_value(json_object_get(line, "replayed")));
    const char       *ts = json_string_value(json_object_get(line, "timestamp"));

    if (l == NULL || l->replayed)
        return;
    l->replayed = true;
    l->replayed_at = dup_or_null(ts);
}

int
agent_dlq_read(const char *path, agent_dlq_set *set, cdc_err *err)
{
    FILE   *f;
    char   *buf = NULL;
    size_t  cap = 0;
    ssize_t len;
    int     lineno = 0;
    json_t *markers = json_array();

    memset(set, 0, sizeof(*set));
    f = fopen(path, "r");
    if (f == NULL) {
        json_decref(markers);
        if (errno == ENOENT)
            return 0;
        return cdc_err_set(err, CDC_E_IO, "dead-letter file %s: %s", path, strerror(errno));
    }
    while ((len = getline(&buf, &cap, f)) >= 0) {
        json_t     *line;
        const char *raw;
        size_t      rawlen;

        lineno++;
        if (strspn(buf, " \t\r\n") == (size_t) len)
            continue;
        line = parse_line(buf, (size_t) len, &raw, &rawlen);
        if (json_is_string(json_object_get(line, "replayed"))) {
            json_array_append(markers, line);   /* a letter is always before its marker,
                                                   but a duplicate may come after it */
        } else if (json_is_string(json_object_get(line, "id"))) {
            add_letter(set, line, raw, rawlen, lineno);
        } else {
            log_warn(DLQ_FAC, "%s:%d: not a dead letter (a torn line?); skipped", path, lineno);
            set->nbad++;
        }
        json_decref(line);
    }
    if (ferror(f)) {
        cdc_err_set(err, CDC_E_IO, "dead-letter file %s: read: %s", path, strerror(errno));
        free(buf);
        fclose(f);
        json_decref(markers);
        agent_dlq_set_free(set);
        return -1;
    }
    for (size_t i = 0; i < json_array_size(markers); i++)
        mark_letter(set, json_array_get(markers, i));
    free(buf);
    fclose(f);
    json_decref(markers);
    return 0;
}

void
agent_dlq_set_free(agent_dlq_set *set)
{
    if (set == NULL)
        return;
    for (int i = 0; i < set->n; i++) {
        agent_dlq_letter *l = &set->v[i];

        free(l->id);
        free(l->sink_id);
        free(l->topic);
        free(l->error_type);
        free(l->error_message);
        free(l->stacktrace);
        free(l->timestamp);
        free(l->record);
        free(l->replayed_at);
    }
    free(set->v);
    memset(set, 0, sizeof(*set));
}

bool
agent_dlq_uses_table(const cdc_config *cfg)
{
    const char *c = cfg->platform.dlq.postgres_conninfo;

    return c != NULL && c[0] != '\0';
}

static int
add_row(void *arg, const dest_dlq_row *row)
{
    agent_dlq_letter *l = new_letter(arg);
    char              id[200];

    dest_dlq_letter_id(row->sink_id, row->pos, id, sizeof(id));
    l->id = cdc_xstrdup(id);
    l->row_id = row->row_id;
    l->sink_id = cdc_xstrdup(row->sink_id);
    l->topic = cdc_xstrdup(row->topic);
    l->partition = row->partition;
    l->offset = row->offset;
    l->commit_lsn = row->pos.lsn;
    l->seq = row->pos.seq;
    l->error_type = cdc_xstrdup(row->error_type);
    l->error_message = cdc_xstrdup(row->error_message);
    l->stacktrace = cdc_xstrdup(row->stacktrace);
    l->timestamp = cdc_xstrdup(row->timestamp);
    l->record = dup_or_null(row->record);
    l->replayed = row->replayed_at != NULL;
    l->replayed_at = dup_or_null(row->replayed_at);
    return 0;
}

int
agent_dlq_read_table(dest_dlq *q, agent_dlq_set *set, cdc_err *err)
{
    memset(set, 0, sizeof(*set));
    if (dest_dlq_scan(q, add_row, set, err) < 0) {
        agent_dlq_set_free(set);
        return -1;
    }
    return 0;
}

/*
 * The dead letters of @p cfg, from the table or the file; @p where names the
 * store for messages.  *qp is the open table store (kept for marking), or NULL.
 */
static int
load_letters(const cdc_config *cfg, agent_dlq_set *set, dest_dlq **qp, char *where, size_t n,
             cdc_err *err)
{
    *qp = NULL;
    if (!agent_dlq_uses_table(cfg)) {
        agent_dlq_file_path(cfg, where, n);
        return agent_dlq_read(where, set, err);
    }
    *qp = dest_dlq_open_pg(cfg->platform.dlq.postgres_conninfo, cfg->platform.dlq.postgres_table,
                           err);
    if (*qp == NULL)
        return -1;
    snprintf(where, n, "%s", dest_dlq_path(*qp));
    if (agent_dlq_read_table(*qp, set, err) < 0) {
        dest_dlq_close(*qp);
        *qp = NULL;
        return -1;
    }
    return 0;
}

/* "schema.table" against a topic "<prefix>.schema.table" (or the bare "schema.table"). */
static bool
topic_is_table(const char *topic, const char *table)
{
    size_t tl = strlen(topic), n = strlen(table);

    if (tl == n)
        return strcmp(topic, table) == 0;
    return tl > n && topic[tl - n - 1] == '.' && strcmp(topic + tl - n, table) == 0;
}

bool
agent_dlq_match(const agent_dlq_letter *l, const agent_dlq_filter *f)
{
    bool id_ok;

    if (f == NULL)
        return !l->replayed;
    if (l->replayed && !f->all)
        return false;
    if (f->sink_id && strcmp(l->sink_id, f->sink_id) != 0)
        return false;
    if (f->table && !topic_is_table(l->topic, f->table))
        return false;
    if (f->error_type && strcmp(l->error_type, f->error_type) != 0)
        return false;
    id_ok = f->nids == 0;
    for (int i = 0; i < f->nids && !id_ok; i++) {
        char *end;
        long long row = strtoll(f->ids[i], &end, 10);

        id_ok = strcmp(l->id, f->ids[i]) == 0 ||
                (l->row_id > 0 && *f->ids[i] && *end == '\0' && row == l->row_id);
    }
    return id_ok;
}

/* ---------------------------------------------------------------- list */

/* One letter as a compact JSON object; the record goes in verbatim, last. */
static void
put_letter_json(cdc_buf *out, const agent_dlq_letter *l)
{
    json_t *o = json_object();
    char   *text;
    bool    raw = l->record && dest_dlq_record_is_json(l->record, strlen(l->record));

    json_object_set_new(o, "id", json_string(l->id));
    json_object_set_new(o, "row_id", l->row_id > 0 ? json_integer(l->row_id) : json_null());
    json_object_set_new(o, "sink_id", json_string(l->sink_id));
    json_object_set_new(o, "topic", json_string(l->topic));
    json_object_set_new(o, "partition", json_integer(l->partition));
    json_object_set_new(o, "offset", json_integer((json_int_t) l->offset));
    json_object_set_new(o, "commit_lsn", json_integer((json_int_t) l->commit_lsn));
    json_object_set_new(o, "seq", json_integer((json_int_t) l->seq));
    json_object_set_new(o, "error_type", json_string(l->error_type));
    json_object_set_new(o, "error_message", json_string(l->error_message));
    json_object_set_new(o, "stacktrace", json_string(l->stacktrace ? l->stacktrace : ""));
    json_object_set_new(o, "timestamp", json_string(l->timestamp));
    json_object_set_new(o, "replayed", json_boolean(l->replayed));
    json_object_set_new(o, "replayed_at", l->replayed_at ? json_string(l->replayed_at)
                                                         : json_null());
    if (l->record && !raw)      /* not JSON: shown as a string */
        json_object_set_new(o, "record_text", json_string(l->record));
    text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (text == NULL)
        return;
    cdc_buf_put(out, text, strlen(text) - 1);       /* without the closing brace */
    cdc_buf_puts(out, ",\"record\":");
    cdc_buf_puts(out, raw ? l->record : "null");
    cdc_buf_putc(out, '}');
    free(text);
}

int
agent_dlq_list(const cdc_config *cfg, const agent_dlq_filter *f, bool json, cdc_err *err)
{
    agent_dlq_set set;
    dest_dlq     *q;
    char          where[512];
    cdc_buf       arr = CDC_BUF_INIT;
    int           shown = 0, replayed = 0;

    if (load_letters(cfg, &set, &q, where, sizeof(where), err) < 0)
        return -1;
    dest_dlq_close(q);
    if (!json)
        printf("%-40s %-12s %-32s %-12s %-16s %-24s %-8s %s\n", "ID", "SINK", "TOPIC", "OFFSET",
               "ERROR TYPE", "TIME", "REPLAYED", "MESSAGE");
    cdc_buf_putc(&arr, '[');
    for (int i = 0; i < set.n; i++) {
        const agent_dlq_letter *l = &set.v[i];

        if (!agent_dlq_match(l, f))
            continue;
        replayed += l->replayed;
        if (json) {
            cdc_buf_puts(&arr, shown ? ",\n  " : "\n  ");
            put_letter_json(&arr, l);
        } else {
            printf("%-40s %-12s %-32s %-12" PRIu64 " %-16s %-24s %-8s %.100s\n", l->id,
                   l->sink_id, l->topic, l->offset, l->error_type, l->timestamp,
                   l->replayed ? "yes" : "no", l->error_message);
        }
        shown++;
    }
    cdc_buf_puts(&arr, "\n]\n");
    if (json) {
        fwrite(arr.data, 1, arr.len, stdout);
    } else {
        printf("%d dead letter%s in %s%s", shown, shown == 1 ? "" : "s", where,
               f && f->all ? "" : " (not replayed; --all shows every one)");
        if (f && f->all)
            printf(", %d replayed", replayed);
        printf("\n");
    }
    cdc_buf_free(&arr);
    agent_dlq_set_free(&set);
    return 0;
}

/* ---------------------------------------------------------------- replay */

typedef struct replay_ctx {
    const cdc_config *cfg;
    dest_dlq         *q;            /* the table (opened to read), or the file (opened on
                                       the first success) */
    cdc_dest        **dest;         /* one open destination per sink (index into cfg sinks) */
} replay_ctx;

static int
find_sink(const cdc_config *cfg, const char *id)
{
    for (int i = 0; i < cfg->pipeline.nsinks; i++)
        if (strcmp(cfg->pipeline.sinks[i].sink_id, id) == 0)
            return i;
    return -1;
}

/*
 * The sink @p si opened to replay (once, then kept), or NULL with why
 * filled: it cannot be opened, or refuses to replay (a postgres sink in
 * replica mode says so when opened), or its kind has no replay.
 */
static cdc_dest *
replay_dest(replay_ctx *c, int si, char *why, size_t n)
{
    const cfg_pipeline *pl = &c->cfg->pipeline;
    const cfg_sink     *s = &pl->sinks[si];
    cdc_dest_env        env = { .pipeline_id = pl->pipeline_id, .topic_prefix = pl->topic_prefix,
                                .database = pl->source.database, .replay_only = true };
    cdc_err             err = { 0 };
    cdc_dest           *d = c->dest[si];

    if (d == NULL) {
        d = agent_dest_open(s, &env, NULL, &err);
        if (d == NULL) {
            snprintf(why, n, "%s", err.msg);
            return NULL;
        }
        c->dest[si] = d;
    }
    if (d->ops->replay == NULL) {
        snprintf(why, n, "sink %s is a %s sink, which cannot replay dead letters", s->sink_id,
                 d->ops->kind);
        return NULL;
    }
    return d;
}

/*
 * Can this letter be replayed, and where to?  @returns the sink's
 * destination, or NULL with why filled: a sink the pipeline no longer has, a
 * letter without its record, a sink that cannot replay (replay_dest).
 */
static cdc_dest *
replay_target(replay_ctx *c, const agent_dlq_letter *l, char *why, size_t n)
{
    int si = find_sink(c->cfg, l->sink_id);

    if (si < 0) {
        snprintf(why, n, "sink %s is not in %s", l->sink_id, c->cfg->pipeline_path);
        return NULL;
    }
    if (l->record == NULL) {
        snprintf(why, n, "the dead letter holds no record to send");
        return NULL;
    }
    return replay_dest(c, si, why, n);
}

/* One letter back to its sink through the sink's own replay(). */
static int
replay_letter(cdc_dest *d, const agent_dlq_letter *l, char *why, size_t n)
{
    cdc_dest_letter dl = { .record = l->record, .len = strlen(l->record),
                           .pos = { l->commit_lsn, l->seq }, .topic = l->topic,
                           .partition = l->partition, .offset = l->offset };
    cdc_err         err = { 0 };

    if (d->ops->replay(d, &dl, &err) == 0)
        return 0;
    snprintf(why, n, "%s", err.msg);
    return -1;
}

int
agent_dlq_replay(const cdc_config *cfg, const agent_dlq_filter *f, bool dry_run, int *failed,
                 cdc_err *err)
{
    agent_dlq_set    set;
    agent_dlq_filter sel = f ? *f : (agent_dlq_filter) { 0 };
    char             path[512], why[512];
    replay_ctx       c = { .cfg = cfg };
    int              rc = -1, nok = 0, nskip = 0, nsel = 0;

    *failed = 0;
    sel.all = true;             /* see the replayed ones, to say they are skipped */
    if (load_letters(cfg, &set, &c.q, path, sizeof(path), err) < 0)
        return -1;
    c.dest = cdc_xcalloc((size_t) cfg->pipeline.nsinks + 1, sizeof(*c.dest));
    for (int i = 0; i < set.n; i++) {
        const agent_dlq_letter *l = &set.v[i];
        cdc_dest               *d;

        if (!agent_dlq_match(l, &sel))
            continue;
        nsel++;
        if (l->replayed) {
            nskip++;
            if (f && f->nids > 0)
                printf("%s: already replayed at %s; skipped\n", l->id,
                       l->replayed_at ? l->replayed_at : "?");
            continue;
        }
        d = replay_target(&c, l, why, sizeof(why));
        if (d == NULL) {
            fprintf(stderr, "cdcagent: dlq replay: %s: %s\n", l->id, why);
            (*failed)++;
            continue;
        }
        if (dry_run) {
            printf("would replay %s to sink %s (%s, topic %s, offset %" PRIu64 ")\n", l->id,
                   l->sink_id, d->ops->kind, l->topic, l->offset);
            continue;
        }
        if (replay_letter(d, l, why, sizeof(why)) < 0) {
            fprintf(stderr, "cdcagent: dlq replay: %s: not replayed: %s\n", l->id, why);
            (*failed)++;
            continue;
        }
        /* Delivered: only now the marker, so a crash in between re-sends (same key) */
        if (c.q == NULL && (c.q = dest_dlq_open(path, err)) == NULL)
            goto out;
        if (dest_dlq_mark_replayed(c.q, l->sink_id, (cdc_pos) { l->commit_lsn, l->seq },
                                   err) < 0) {
            cdc_err_wrap(err, "%s was delivered but could not be marked replayed", l->id);
            goto out;
        }
        nok++;
        printf("replayed %s to sink %s\n", l->id, l->sink_id);
    }
    if (set.n == 0)
        printf("no dead letters in %s\n", path);
    else if (dry_run)
        printf("%d to replay, %d already replayed, %d refused (dry run: nothing sent)\n",
               nsel - nskip - *failed, nskip, *failed);
    else
        printf("%d replayed, %d already replayed (skipped), %d failed\n", nok, nskip, *failed);
    rc = 0;
out:
    for (int i = 0; i < cfg->pipeline.nsinks; i++) {
        if (c.dest[i]) {
            c.dest[i]->ops->close(c.dest[i]);
            free(c.dest[i]);
        }
    }
    free(c.dest);
    dest_dlq_close(c.q);
    agent_dlq_set_free(&set);
    return rc;
}

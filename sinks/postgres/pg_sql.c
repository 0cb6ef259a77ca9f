/*
 * The statements of the PostgreSQL sink (see postgres.h): identifiers
 * quoted, and each event turned into an op, SQL text with text parameters
 * (or a dead letter decided up front), which postgres.c applies.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/core/cdc_clock.h"
#include "agent/core/cdc_mem.h"
#include "sinks/postgres/pg_int.h"
#include "sinks/postgres/pg_values.h"

static void
pg_quote_ident(cdc_buf *b, const char *s, size_t n)
{
    cdc_buf_putc(b, '"');
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"')
            cdc_buf_putc(b, '"');
        cdc_buf_putc(b, s[i]);
    }
    cdc_buf_putc(b, '"');
}

static void
pg_put_ident(cdc_buf *b, const char *s)
{
    pg_quote_ident(b, s, strlen(s));
}

/*
 * [schema.]table from the configuration (SQL spelling, checked by the
 * config): each part quoted, a part already in double quotes kept as it is
 * ("" inside it is a quote, a dot inside it is part of the name).
 */
char *
pg_quote_qualified(const char *name)
{
    cdc_buf     b = CDC_BUF_INIT;
    const char *p = name;

    for (;;) {
        const char *start = p;

        if (*p == '"') {
            for (p++; *p && !(*p == '"' && p[1] != '"'); p += *p == '"' ? 2 : 1)
                ;
            if (*p == '"')
                p++;
            cdc_buf_put(&b, start, (size_t) (p - start));
        } else {
            p += strcspn(p, ".");
            pg_quote_ident(&b, start, (size_t) (p - start));
        }
        if (*p != '.')
            break;
        cdc_buf_putc(&b, *p++);
    }
    cdc_buf_putc(&b, '\0');
    return (char *) b.data;
}

void
pg_op_free(pg_op *op)
{
    for (int i = 0; i < op->nparams; i++)
        free(op->params[i]), free(op->pnames[i]);
    free(op->params);
    free(op->pnames);
    free(op->sql);
    free(op->deadmsg);
    free(op->topic);
    free(op->record);
    pg_evcopy_free(op->evc);
    memset(op, 0, sizeof(*op));
}

pg_op *
pg_op_new(pgsink *p, cdc_pos pos)
{
    if (p->nops == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 64;
        p->ops = cdc_xrealloc(p->ops, (size_t) p->cap * sizeof(*p->ops));
    }
    if (p->nops == 0)
        p->first_ms = cdc_mono_ms();
    memset(&p->ops[p->nops], 0, sizeof(pg_op));
    p->ops[p->nops].pos = pos;
    return &p->ops[p->nops++];
}

static void
pg_op_param(pg_op *op, const char *s, size_t n)
{
    op->params = cdc_xrealloc(op->params, (size_t) (op->nparams + 1) * sizeof(char *));
    op->pnames = cdc_xrealloc(op->pnames, (size_t) (op->nparams + 1) * sizeof(char *));
    op->pnames[op->nparams] = NULL;
    op->params[op->nparams++] = s ? cdc_xstrndup(s, n) : NULL;
}

char *
pg_buf_take(cdc_buf *b)
{
    char *s;

    cdc_buf_putc(b, '\0');
    s = (char *) b->data;
    *b = (cdc_buf) CDC_BUF_INIT;
    return s;
}

/*
 * The event_log's unique index: <table>_cdc_position_key, from the table part of the
 * configured name as the server knows it (quotes removed, "" a quote, a dot inside quotes
 * part of it), quoted.  A name over PostgreSQL's 63 bytes is shortened (at a character's
 * start) and given a hash of the whole table name, so two long names that begin alike do
 * not get the same index name (CREATE UNIQUE INDEX IF NOT EXISTS would skip the second).
 */
char *
pg_index_name(const char *name)
{
    static const char suffix[] = "_cdc_position_key";
    cdc_buf     rel = CDC_BUF_INIT, b = CDC_BUF_INIT;
    const char *p = name, *r;
    size_t      n;

    for (;;) {      /* the last part: parsed as pg_quote_qualified() splits */
        cdc_buf_reset(&rel);
        if (*p == '"') {
            for (p++; *p && !(*p == '"' && p[1] != '"'); p++) {
                if (*p == '"')
                    p++;
                cdc_buf_putc(&rel, *p);
            }
            if (*p == '"')
                p++;
        } else {
            n = strcspn(p, ".");
            cdc_buf_put(&rel, p, n);
            p += n;
        }
        if (*p != '.')
            break;
        p++;
    }
    r = rel.data ? (const char *) rel.data : "";
    n = rel.len;
    if (n + sizeof(suffix) - 1 <= 63) {
        cdc_buf_put(&b, r, n);
    } else {
        uint32_t h = 0x811c9dc5u;

        for (size_t i = 0; i < n; i++)
            h = (h ^ (uint8_t) r[i]) * 0x01000193u;
        n = 63 - (sizeof(suffix) - 1) - 9;
        while (n > 0 && ((uint8_t) r[n] & 0xC0) == 0x80)
            n--;        /* not inside a UTF-8 character */
        cdc_buf_put(&b, r, n);
        cdc_buf_printf(&b, "_%08x", h);
    }
    cdc_buf_puts(&b, suffix);
    cdc_buf_reset(&rel);
    pg_quote_ident(&rel, (const char *) b.data, b.len);
    cdc_buf_free(&b);
    return pg_buf_take(&rel);
}

static void
pg_put_table(cdc_buf *b, const cdc_rel *rel)
{
    pg_put_ident(b, rel->nspname);
    cdc_buf_putc(b, '.');
    pg_put_ident(b, rel->relname);
}

/* The target type of a column: the source's, or text for types the target lacks. */
static void
pg_put_coltype(cdc_buf *b, const cdc_col *c)
{
    bool user = !c->catalog_known || c->type_name == NULL || c->enum_labels != NULL ||
                c->typtype == 'e' || c->typtype == 'c' || c->typtype == 'd';

    if (!user)
        cdc_buf_puts(b, c->type_name);
    else
        cdc_buf_puts(b, c->ctype.kind == CDC_CT_ARRAY ? "text[]" : "text");
}

/* CREATE TABLE IF NOT EXISTS + ADD COLUMN IF NOT EXISTS, when the relation version is new. */
void
pg_queue_ddl(pgsink *p, const cdc_event *ev)
{
    const cdc_rel *rel = ev->rel;
    cdc_buf        b = CDC_BUF_INIT;
    pg_op         *op;
    bool           first = true;
    int            i;

    for (i = 0; i < p->nknown; i++)
        if (p->known[i].relid == rel->relid)
            break;
    if (i < p->nknown && p->known[i].version == rel->version)
        return;
    if (i == p->nknown) {
        p->known = cdc_xrealloc(p->known, (size_t) (p->nknown + 1) * sizeof(*p->known));
        p->nknown++;
    }
    p->known[i] = (pg_relver) { rel->relid, rel->version };
    cdc_buf_puts(&b, "CREATE SCHEMA IF NOT EXISTS ");
    pg_put_ident(&b, rel->nspname);
    cdc_buf_puts(&b, "; CREATE TABLE IF NOT EXISTS ");
    pg_put_table(&b, rel);
    cdc_buf_puts(&b, " (");
    for (int c = 0; c < rel->ncols; c++) {
        /* a stored generated column (in snapshot rows only) is left to the target to compute */
        if (!rel->cols[c].ctype.supported || (rel->cols[c].generated && !rel->cols[c].key_pos))
            continue;
        if (!first)
            cdc_buf_puts(&b, ", ");
        first = false;
        pg_put_ident(&b, rel->cols[c].name);
        cdc_buf_putc(&b, ' ');
        pg_put_coltype(&b, &rel->cols[c]);
    }
    if (rel->nkeys > 0) {
        cdc_buf_puts(&b, ", PRIMARY KEY (");
        for (int k = 1, n = 0; k <= rel->nkeys; k++)
            for (int c = 0; c < rel->ncols; c++)
                if (rel->cols[c].key_pos == k) {
                    if (n++)
                        cdc_buf_puts(&b, ", ");
                    pg_put_ident(&b, rel->cols[c].name);
                }
        cdc_buf_putc(&b, ')');
    }
    cdc_buf_puts(&b, "); ALTER TABLE ");
    pg_put_table(&b, rel);
    first = true;
    for (int c = 0; c < rel->ncols; c++) {
        if (!rel->cols[c].ctype.supported || (rel->cols[c].generated && !rel->cols[c].key_pos))
            continue;
        cdc_buf_puts(&b, first ? " ADD COLUMN IF NOT EXISTS " : ", ADD COLUMN IF NOT EXISTS ");
        first = false;
        pg_put_ident(&b, rel->cols[c].name);
        cdc_buf_putc(&b, ' ');
        pg_put_coltype(&b, &rel->cols[c]);
    }
    op = pg_op_new(p, ev->pos);
    op->ddl = true;
    op->sql = pg_buf_take(&b);
}

/* Adds a value as a parameter; @returns -1 when it cannot be converted. */
static int
pg_param_value(pg_op *op, const cdc_col *col, const cdc_value *v)
{
    cdc_buf t = CDC_BUF_INIT;

    if (v->state == CDC_VAL_NULL) {
        pg_op_param(op, NULL, 0);
        return 0;
    }
    if (dest_pg_value_text(col, v, &t) < 0 || cdc_buf_failed(&t)) {
        cdc_buf_free(&t);
        return -1;
    }
    pg_op_param(op, (const char *) t.data ? (const char *) t.data : "", t.len);
    op->pnames[op->nparams - 1] = cdc_xstrdup(col->name);
    cdc_buf_free(&t);
    return 0;
}

/* FNV-1a over a parameter (NULL distinct from every string), chained from h. */
static uint64_t
pg_hash_param(uint64_t h, const char *s)
{
    if (s == NULL)
        return (h ^ 0xffu) * 0x100000001b3ull;
    for (; *s; s++)
        h = (h ^ (uint8_t) *s) * 0x100000001b3ull;
    return (h ^ 0x1fu) * 0x100000001b3ull;     /* separator */
}

/*
 * The upsert statement of a row depends only on the relation (names, keys)
 * and on which columns the row carries, so the last one of each relation
 * slot is kept (p->sqlc) and reused while both are the same: building it
 * quoted every name twice per row.  The entry holds what it was built from
 * (names, key positions, columns present) and is compared in full, so a
 * relation that changed, or another one in the same slot, never reuses it.
 */
static bool
pg_sqlc_match(const pg_sqlc *e, const cdc_rel *rel, const uint8_t *incl)
{
    const char *s = e->ident;

    if (e->sql == NULL || e->relid != rel->relid || e->version != rel->version ||
        e->ncols != rel->ncols || memcmp(e->incl, incl, (size_t) rel->ncols) != 0 ||
        strcmp(s, rel->nspname) != 0 || strcmp(s += strlen(s) + 1, rel->relname) != 0)
        return false;
    s += strlen(s) + 1;
    for (int c = 0; c < rel->ncols; c++) {
        if (!incl[c])
            continue;
        if (strcmp(s, rel->cols[c].name) != 0 || (uint8_t) s[strlen(s) + 1] != rel->cols[c].key_pos)
            return false;
        s += strlen(s) + 2;
    }
    return true;
}

static void
pg_sqlc_store(pg_sqlc *e, const cdc_rel *rel, const uint8_t *incl, const pg_op *op)
{
    cdc_buf b = CDC_BUF_INIT;

    pg_sqlc_free(e);
    cdc_buf_put(&b, rel->nspname, strlen(rel->nspname) + 1);
    cdc_buf_put(&b, rel->relname, strlen(rel->relname) + 1);
    for (int c = 0; c < rel->ncols; c++)
        if (incl[c]) {
            cdc_buf_put(&b, rel->cols[c].name, strlen(rel->cols[c].name) + 1);
            cdc_buf_putc(&b, (char) rel->cols[c].key_pos);
        }
    e->ident = pg_buf_take(&b);
    e->incl = cdc_xmalloc((size_t) rel->ncols + 1);
    memcpy(e->incl, incl, (size_t) rel->ncols);
    e->relid = rel->relid;
    e->version = rel->version;
    e->ncols = rel->ncols;
    e->sql = cdc_xstrdup(op->sql);
    e->cols_at = op->cols_at;
    e->values_at = op->values_at;
    e->tail_at = op->tail_at;
}

void
pg_sqlc_free(pg_sqlc *e)
{
    free(e->ident);
    free(e->incl);
    free(e->sql);
    memset(e, 0, sizeof(*e));
}

/* The statement text of an upsert of the columns incl (n of them). */
static void
pg_sql_upsert_text(pg_op *op, const cdc_rel *rel, const uint8_t *incl)
{
    cdc_buf b = CDC_BUF_INIT, sets = CDC_BUF_INIT;
    int     n = 0;

    cdc_buf_puts(&b, "INSERT INTO ");
    pg_put_table(&b, rel);
    cdc_buf_puts(&b, " (");
    op->cols_at = (int) b.len;
    for (int c = 0; c < rel->ncols; c++) {
        const cdc_col *col = &rel->cols[c];

        if (!incl[c])
            continue;
        if (n++)
            cdc_buf_puts(&b, ", ");
        pg_put_ident(&b, col->name);
        if (col->key_pos == 0) {
            cdc_buf_puts(&sets, sets.len ? ", " : "");
            pg_put_ident(&sets, col->name);
            cdc_buf_puts(&sets, " = EXCLUDED.");
            pg_put_ident(&sets, col->name);
        }
    }
    cdc_buf_puts(&b, ") ");
    op->values_at = (int) b.len;
    cdc_buf_puts(&b, "VALUES (");
    for (int i = 1; i <= n; i++)
        cdc_buf_printf(&b, i > 1 ? ", $%d" : "$%d", i);
    cdc_buf_putc(&b, ')');
    op->tail_at = (int) b.len;
    if (rel->nkeys > 0) {
        cdc_buf_puts(&b, " ON CONFLICT (");
        for (int k = 1, m = 0; k <= rel->nkeys; k++)
            for (int c = 0; c < rel->ncols; c++)
                if (rel->cols[c].key_pos == k) {
                    if (m++)
                        cdc_buf_puts(&b, ", ");
                    pg_put_ident(&b, rel->cols[c].name);
                }
        cdc_buf_puts(&b, sets.len ? ") DO UPDATE SET " : ") DO NOTHING");
        if (sets.len)
            cdc_buf_put(&b, sets.data, sets.len);
    }
    op->sql = pg_buf_take(&b);
    cdc_buf_free(&sets);
}

static void
pg_sql_upsert(pgsink *p, pg_op *op, const cdc_event *ev, const char **why)
{
    const cdc_rel *rel = ev->rel;
    pg_sqlc       *e = &p->sqlc[rel->relid % PG_SQLC];
    uint8_t        stack[256], *incl = rel->ncols <= 256 ? stack : cdc_xmalloc((size_t) rel->ncols);
    int            n = 0;
    uint64_t       h = 0xcbf29ce484222325ull;

    for (int c = 0; c < rel->ncols; c++) {
        const cdc_col *col = &rel->cols[c];

        incl[c] = 0;
        if (!col->ctype.supported || ev->after[c].state == CDC_VAL_UNCHANGED ||
            (col->generated && !col->key_pos))
            continue;
        if (pg_param_value(op, col, &ev->after[c]) < 0) {
            *why = "a value cannot be converted to PostgreSQL text";
            goto out;
        }
        incl[c] = 1;
        n++;
        if (col->key_pos != 0)
            h = pg_hash_param(h, op->params[op->nparams - 1]);
    }
    op->upsert = n > 0;
    op->keyed = rel->nkeys > 0;
    op->khash = h | 1;              /* 0 marks a free slot of gset */
    if (pg_sqlc_match(e, rel, incl)) {
        op->sql = cdc_xstrdup(e->sql);
        op->cols_at = e->cols_at;
        op->values_at = e->values_at;
        op->tail_at = e->tail_at;
    } else {
        pg_sql_upsert_text(op, rel, incl);
        pg_sqlc_store(e, rel, incl, op);
    }
out:
    if (incl != stack)
        free(incl);
}

static void
pg_sql_delete(pg_op *op, const cdc_event *ev, const char **why)
{
    const cdc_rel   *rel = ev->rel;
    const cdc_value *kv = ev->key ? ev->key : ev->before;
    cdc_buf          b = CDC_BUF_INIT;
    int              n = 0;

    cdc_buf_puts(&b, "DELETE FROM ");
    pg_put_table(&b, rel);
    for (int c = 0; c < rel->ncols; c++) {
        if (rel->cols[c].key_pos == 0)
            continue;
        if (kv == NULL || pg_param_value(op, &rel->cols[c], &kv[c]) < 0) {
            *why = "the delete carries no usable key";
            goto out;
        }
        cdc_buf_puts(&b, n++ ? " AND " : " WHERE ");
        pg_put_ident(&b, rel->cols[c].name);
        cdc_buf_printf(&b, " = $%d", n);
    }
    op->sql = pg_buf_take(&b);
out:
    cdc_buf_free(&b);
}

/*
 * The delete half of a key change (the create with the new key follows):
 * move the row to its new key instead of deleting it, so that the columns
 * the create does not carry (unchanged TOAST) keep their values.  If the
 * target has no row at the old key, nothing happens and the create inserts.
 */
static void
pg_sql_rekey(pg_op *op, const cdc_event *ev, const char **why)
{
    const cdc_rel   *rel = ev->rel;
    const cdc_value *kv = ev->key ? ev->key : ev->before;
    cdc_buf          b = CDC_BUF_INIT;
    int              n = 0;

    cdc_buf_puts(&b, "UPDATE ");
    pg_put_table(&b, rel);
    for (int c = 0; c < rel->ncols; c++) {
        if (rel->cols[c].key_pos == 0)
            continue;
        if (pg_param_value(op, &rel->cols[c], &ev->pk_change_newkey[c]) < 0) {
            *why = "the key change carries no usable new key";
            goto out;
        }
        cdc_buf_puts(&b, n++ ? ", " : " SET ");
        pg_put_ident(&b, rel->cols[c].name);
        cdc_buf_printf(&b, " = $%d", n);
    }
    for (int c = 0, m = 0; c < rel->ncols; c++) {
        if (rel->cols[c].key_pos == 0)
            continue;
        if (kv == NULL || pg_param_value(op, &rel->cols[c], &kv[c]) < 0) {
            *why = "the key change carries no usable old key";
            goto out;
        }
        cdc_buf_puts(&b, m++ ? " AND " : " WHERE ");
        pg_put_ident(&b, rel->cols[c].name);
        cdc_buf_printf(&b, " = $%d", n + m);
    }
    op->sql = pg_buf_take(&b);
out:
    cdc_buf_free(&b);
}

void
pg_queue_replica(pgsink *p, const cdc_event *ev, pg_op *op)
{
    const char *why = NULL;
    cdc_buf     b = CDC_BUF_INIT;

    switch (ev->op) {
    case CDC_OP_CREATE:
    case CDC_OP_READ:
    case CDC_OP_UPDATE:
        if (ev->rel->nkeys == 0 && ev->op == CDC_OP_UPDATE)
            why = "the table has no primary key: updates cannot be mirrored";
        else if (ev->after == NULL)
            why = "the change carries no new row";
        else
            pg_sql_upsert(p, op, ev, &why);
        op->insert = ev->op != CDC_OP_UPDATE;
        break;
    case CDC_OP_DELETE:
        if (ev->rel->nkeys == 0)
            why = "the table has no primary key: deletes cannot be mirrored";
        else if (ev->pk_change_newkey)
            pg_sql_rekey(op, ev, &why);
        else
            pg_sql_delete(op, ev, &why);
        break;
    case CDC_OP_TRUNCATE:
        cdc_buf_puts(&b, "TRUNCATE ");
        pg_put_table(&b, ev->rel);
        op->sql = pg_buf_take(&b);
        break;
    default:
        break;
    }
    if (why && op->sql == NULL)
        op->deadmsg = cdc_xstrdup(why);
}

void
pg_queue_event_log(pgsink *p, const cdc_event *ev, pg_op *op)
{
    cdc_buf b = CDC_BUF_INIT;
    char    num[24];

    sch_json_key(&b, ev, &p->jopts);
    pg_op_param(op, b.len == 4 && !memcmp(b.data, "null", 4) ? NULL : (const char *) b.data,
                b.len);
    cdc_buf_reset(&b);
    sch_json_value(&b, ev, &p->jopts, cdc_wall_us());
    pg_op_param(op, b.len == 4 && !memcmp(b.data, "null", 4) ? NULL : (const char *) b.data,
                b.len);
    cdc_buf_free(&b);
    pg_op_param(op, op->topic, strlen(op->topic));
    pg_op_param(op, "0", 1);
    snprintf(num, sizeof(num), "%" PRIu64, ev->lsn);
    pg_op_param(op, num, strlen(num));
    snprintf(num, sizeof(num), "%" PRId64, (int64_t) ev->pos.lsn);
    pg_op_param(op, num, strlen(num));
    snprintf(num, sizeof(num), "%" PRId64, (int64_t) ev->pos.seq);
    pg_op_param(op, num, strlen(num));
}

/*
 * The dead-letter record of an event_log op, {key, value, metadata} as
 * sch_record_put() writes it, made from the op's parameters when a row is
 * refused instead of for every row (it holds the value JSON a second time).
 */
char *
pg_sql_event_log_record(const pg_op *op)
{
    cdc_buf b = CDC_BUF_INIT;

    if (op->nparams != 7)
        return NULL;
    cdc_buf_printf(&b, "{\"key\":%s,\"value\":%s,\"metadata\":{\"topic\":",
                   op->params[0] ? op->params[0] : "null", op->params[1] ? op->params[1] : "null");
    sch_json_put_string(&b, op->params[2], strlen(op->params[2]));
    cdc_buf_printf(&b, ",\"partition\":0,\"offset\":%s,\"commit_lsn\":%s,\"seq\":%s}}",
                   op->params[4], op->params[5], op->params[6]);
    return pg_buf_take(&b);
}

#define PG_LOG_COLS "(event_key, event_value, source_topic, source_partition, source_offset, " \
    "commit_lsn, seq)"
#define PG_LOG_UPSERT " ON CONFLICT (source_topic, source_partition, source_offset, seq) " \
    "DO UPDATE SET event_key = EXCLUDED.event_key, event_value = EXCLUDED.event_value, " \
    "commit_lsn = EXCLUDED.commit_lsn"

/* The event_log INSERT of nrows rows of parameters (dead letters replayed, careful mode). */
char *
pg_sql_event_log(pgsink *p, int nrows)
{
    cdc_buf b = CDC_BUF_INIT;

    cdc_buf_printf(&b, "INSERT INTO %s " PG_LOG_COLS " VALUES ", p->table);
    for (int r = 0; r < nrows; r++)
        cdc_buf_printf(&b, "%s($%d::jsonb, $%d::jsonb, $%d, $%d::integer, $%d::bigint, "
                       "$%d::bigint, $%d::bigint)", r ? ", " : "", r * 7 + 1, r * 7 + 2,
                       r * 7 + 3, r * 7 + 4, r * 7 + 5, r * 7 + 6, r * 7 + 7);
    if (p->upsert)
        cdc_buf_puts(&b, PG_LOG_UPSERT);
    return pg_buf_take(&b);
}

/* COPY of event_log rows into the table itself. */
char *
pg_sql_copy_event_log(const pgsink *p)
{
    cdc_buf b = CDC_BUF_INIT;

    cdc_buf_printf(&b, "COPY %s " PG_LOG_COLS " FROM STDIN", p->table);
    return pg_buf_take(&b);
}

/*
 * The event_log's runs of rows: without upsert, *copy fills the table itself and *create
 * and *apply are NULL; with upsert, *copy fills the staging table stage (made by *create,
 * emptied at every commit) and *apply moves its rows into the table, emptying it.
 */
void
pg_sql_stage_event_log(const pgsink *p, const char *stage, char **create, char **copy,
                       char **apply)
{
    cdc_buf b = CDC_BUF_INIT;

    *create = *apply = NULL;
    if (!p->upsert) {
        *copy = pg_sql_copy_event_log(p);
        return;
    }
    cdc_buf_printf(&b, "CREATE TEMP TABLE IF NOT EXISTS %s (event_key jsonb, event_value jsonb, "
                   "source_topic text, source_partition integer, source_offset bigint, "
                   "commit_lsn bigint, seq bigint) ON COMMIT DELETE ROWS", stage);
    *create = pg_buf_take(&b);
    cdc_buf_printf(&b, "COPY %s FROM STDIN", stage);
    *copy = pg_buf_take(&b);
    cdc_buf_printf(&b, "WITH s AS (DELETE FROM %s RETURNING *) INSERT INTO %s " PG_LOG_COLS
                   " SELECT * FROM s" PG_LOG_UPSERT, stage, p->table);
    *apply = pg_buf_take(&b);
}

/*
 * One field of COPY's text format: NULL as \N; backslash, tab, newline and
 * carriage return escaped, everything else (UTF-8 included) as it is.  The
 * server reads the field with the type's input function, as it reads a text
 * parameter, so a value means the same either way.
 */
void
pg_copy_field(cdc_buf *b, const char *s)
{
    if (s == NULL) {
        cdc_buf_puts(b, "\\N");
        return;
    }
    for (const char *run = s;; s++) {
        const char *esc = *s == '\\' ? "\\\\" : *s == '\t' ? "\\t" : *s == '\n' ? "\\n"
                        : *s == '\r' ? "\\r" : NULL;

        if (esc == NULL && *s != '\0')
            continue;
        cdc_buf_put(b, run, (size_t) (s - run));
        if (*s == '\0')
            return;
        cdc_buf_puts(b, esc);
        run = s + 1;
    }
}

/* One COPY text row of n fields, ended by a newline. */
void
pg_copy_row(cdc_buf *b, char *const *fields, int n)
{
    for (int i = 0; i < n; i++) {
        if (i)
            cdc_buf_putc(b, '\t');
        pg_copy_field(b, fields[i]);
    }
    cdc_buf_putc(b, '\n');
}

/*
 * The statements of a replica upsert group through a staging table named
 * stage (quoted by the caller): *copy fills it, *create makes it, with the types of the
 * target's columns the op sets and no constraint, emptied at every commit;
 * *apply moves its rows into the target with the op's own INSERT ... ON
 * CONFLICT and empties it in the same statement, so a second group of the
 * same shape in one transaction starts from an empty table.
 */
void
pg_sql_stage_replica(const pg_op *op, const char *stage, char **create, char **copy,
                     char **apply)
{
    cdc_buf     b = CDC_BUF_INIT;
    const char *head = op->sql + strlen("INSERT INTO ");     /* <table> (<cols>) VALUES */
    const char *cols = op->sql + op->cols_at;                  /* <cols>) VALUES */

    cdc_buf_printf(&b, "CREATE TEMP TABLE IF NOT EXISTS %s ON COMMIT DELETE ROWS AS SELECT ",
                   stage);
    cdc_buf_put(&b, cols, (size_t) (op->values_at - 2 - op->cols_at));
    cdc_buf_puts(&b, " FROM ");
    cdc_buf_put(&b, head, (size_t) (cols - 2 - head));
    cdc_buf_puts(&b, " WITH NO DATA");
    *create = pg_buf_take(&b);
    cdc_buf_printf(&b, "COPY %s FROM STDIN", stage);
    *copy = pg_buf_take(&b);
    cdc_buf_printf(&b, "WITH s AS (DELETE FROM %s RETURNING *) ", stage);
    cdc_buf_put(&b, op->sql, (size_t) op->values_at);
    cdc_buf_puts(&b, "SELECT * FROM s");
    cdc_buf_puts(&b, op->sql + op->tail_at);
    *apply = pg_buf_take(&b);
}

/* COPY of a replica upsert's rows into its table itself: "COPY <table> (<cols>) FROM STDIN". */
char *
pg_sql_copy_replica(const pg_op *op)
{
    cdc_buf     b = CDC_BUF_INIT;
    const char *head = op->sql + strlen("INSERT INTO ");     /* <table> (<cols>) VALUES */

    cdc_buf_puts(&b, "COPY ");
    cdc_buf_put(&b, head, (size_t) (op->sql + op->values_at - 1 - head));
    cdc_buf_puts(&b, " FROM STDIN");
    return pg_buf_take(&b);
}

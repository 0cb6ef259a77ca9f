/*
 * The configuration loader: libyaml's document API turns each file into a
 * node tree, and one generic walker matches every mapping key against the
 * key tables in config_keys.c, converting scalars in place.  What the walker
 * cannot know from one row (a sink's type section, duplicate sink ids, the
 * transport's sections) is checked right after the object it belongs to,
 * while the YAML marks are still at hand, so every format error names
 * file:line:col.  Typed scalars are converted in config_value.c; cfg_validate()
 * is separate (config_check.c): it says whether this build can run a
 * well-formed configuration.
 *
 * Not here: merging of several platform files (the platform merges its
 * built-in defaults with one override file, which is what the table
 * defaults plus one file give us) and YAML merge keys (`<<`), which the
 * platform's files do not use and which are rejected as unknown keys.
 */
#include "agent/config/config.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "agent/config/config_int.h"
#include "agent/core/cdc_buf.h"
#include "agent/core/cdc_mem.h"

#define SHOW_MAX 40      /* characters of a bad value quoted in a message */
/* All of a file's values after ${VAR} substitution: 80,000 references to a 100 kB
   variable would otherwise take 8 GB before anything else looked at them. */
#define CFG_MAX_EXPANDED (16u << 20)  /* 16 MiB */
#define NAME_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_"

typedef struct cfg_ctx {
    const char      *path;      /* the file, as the caller named it */
    const cfg_table *other;     /* the other file's table: its keys are misplaced here */
    const char      *other_kind;  /* "platform" or "pipeline" */
    yaml_document_t  doc;
    const cfg_retry *retry;     /* platform retry: each sink's defaults */
    cdc_err         *err;
    size_t           expanded;  /* bytes of this file's values after ${VAR}, so far */
} cfg_ctx;

/* What one walk over an object saw: for each row of its table, given and where. */
typedef struct cfg_seen {
    bool        *given;
    yaml_mark_t *mark;
    yaml_mark_t  start;         /* the object's own mapping */
} cfg_seen;

static int walk_map(cfg_ctx *c, yaml_node_t *map, const cfg_table *t, void *obj,
                    const char *tprefix, const char *dprefix, cfg_seen *seen);

/* ---- messages ---- */

static int
fail_at(cfg_ctx *c, yaml_mark_t m, const char *key, const char *fmt, ...) CDC_PRINTF(4, 5);

static int
fail_at(cfg_ctx *c, yaml_mark_t m, const char *key, const char *fmt, ...)
{
    char    what[200];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    return cdc_err_set(c->err, CDC_E_CONFIG, "%s:%zu:%zu: %s%s%s", c->path, m.line + 1,
                       m.column + 1, key, *key ? ": " : "", what);
}

/* Says what went wrong with a value, quoting it unless the key is secret. */
static int
fail_value(cfg_ctx *c, const yaml_node_t *n, const cfg_key *k, const char *key,
           const char *why, const char *text)
{
    if ((k->flags & CFG_F_SECRET) || text == NULL)
        return fail_at(c, n->start_mark, key, "%s", why);
    return fail_at(c, n->start_mark, key, "%s, got \"%.*s%s\"", why, SHOW_MAX, text,
                   strlen(text) > SHOW_MAX ? "..." : "");
}

static const char *
node_kind(const yaml_node_t *n)
{
    return n->type == YAML_MAPPING_NODE ? "a mapping" : n->type == YAML_SEQUENCE_NODE
                                                            ? "a list" : "a scalar";
}

/* ---- scalars ---- */

static bool
is_null(const yaml_node_t *n)
{
    static const char *const nulls[] = { "", "~", "null", "Null", "NULL" };
    const char *v = (const char *) n->data.scalar.value;

    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    for (size_t i = 0; i < sizeof(nulls) / sizeof(nulls[0]); i++)
        if (strcmp(v, nulls[i]) == 0)
            return true;
    return false;
}

/*
 * ${VAR} and ${VAR:-default}, as the platform's loader does it (its regex is
 * \$\{([^}:]+)(?::-((?:[^}\\]|\\.)*))?}): an empty variable counts as set,
 * "\}" in a default is "}", and text that does not form a reference stays as
 * it is.  Two differences: VAR must be a shell name ([A-Za-z_][A-Za-z0-9_]*),
 * and "$${" writes a literal "${".  Returns a malloc'd string, or NULL with
 * the error set.  The file's values together may grow to CFG_MAX_EXPANDED: the
 * check follows every substitution, so memory stays near the limit.
 */
static char *
expand_env(cfg_ctx *c, const yaml_node_t *n, const char *key)
{
    const char *s = (const char *) n->data.scalar.value;
    cdc_buf     b = CDC_BUF_INIT;
    char       *out = NULL;

    while (*s) {
        const char *name, *name_end, *def = NULL, *def_end = NULL, *val;

        if (s[0] == '$' && s[1] == '$' && s[2] == '{') {
            cdc_buf_puts(&b, "${");
            s += 3;
            continue;
        }
        if (s[0] != '$' || s[1] != '{') {
            cdc_buf_putc(&b, *s++);
            continue;
        }
        name = s + 2;
        name_end = name;
        if (*name && strchr(NAME_CHARS, *name) != NULL && !(*name >= '0' && *name <= '9'))
            name_end += strspn(name, NAME_CHARS);
        if (name_end > name && name_end[0] == ':' && name_end[1] == '-') {
            def = def_end = name_end + 2;
            while (*def_end && *def_end != '}')
                def_end += (def_end[0] == '\\' && def_end[1]) ? 2 : 1;
        }
        if (name_end == name || (def ? *def_end : *name_end) != '}') {
            cdc_buf_putc(&b, *s++);             /* not a reference: keep the '$' */
            continue;
        }
        {
            char var[128];

            snprintf(var, sizeof(var), "%.*s", (int) (name_end - name), name);
            val = getenv(var);
            if (val != NULL) {
                if (c->expanded + b.len + strlen(val) > CFG_MAX_EXPANDED)
                    goto too_large;
                cdc_buf_puts(&b, val);
            } else if (def != NULL) {
                for (const char *p = def; p < def_end; p++)
                    cdc_buf_putc(&b, (p[0] == '\\' && p[1] == '}') ? *++p : *p);
            } else {
                fail_at(c, n->start_mark, key, "environment variable %s is not set "
                        "(write ${%s:-default} for a fallback)", var, var);
                goto out;
            }
        }
        if (c->expanded + b.len > CFG_MAX_EXPANDED)
            goto too_large;
        s = (def ? def_end : name_end) + 1;
    }
    cdc_buf_putc(&b, '\0');
    if (cdc_buf_failed(&b)) {
        cdc_err_set(c->err, CDC_E_NOMEM, "%s: out of memory", c->path);
        goto out;
    }
    if (c->expanded + b.len > CFG_MAX_EXPANDED)
        goto too_large;
    c->expanded += b.len;
    out = cdc_xstrdup(cdc_buf_str(&b));
out:
    cdc_buf_free(&b);
    return out;
too_large:
    fail_at(c, n->start_mark, key, "with ${VAR} substituted, this file's values exceed "
            "%u MiB, the limit for a configuration file (docs/configuration.md)",
            CFG_MAX_EXPANDED >> 20);
    goto out;
}

/* ---- one key's value ---- */

static int
scalar_value(cfg_ctx *c, yaml_node_t *n, const cfg_key *k, void *field, const char *key)
{
    char        why[160];
    const char *bad;
    char       *text;

    if (n->type != YAML_SCALAR_NODE)
        return fail_at(c, n->start_mark, key, "expected %s, got %s",
                       k->type == CFG_INT ? "an integer" : k->type == CFG_DOUBLE ? "a number"
                       : k->type == CFG_BOOL ? "true or false" : "a string", node_kind(n));
    if (is_null(n)) {
        if (k->type == CFG_STR && k->def == NULL && !(k->flags & CFG_F_REQUIRED)) {
            free(*(char **) field);
            *(char **) field = NULL;
            return 0;
        }
        return fail_at(c, n->start_mark, key, "a value is required here, got null");
    }
    if ((text = expand_env(c, n, key)) == NULL)
        return -1;
    bad = cfg_store_scalar(k, field, text, why, sizeof(why));
    if (bad != NULL)
        fail_value(c, n, k, key, bad, text);
    free(text);
    return bad ? -1 : 0;
}

static int
strlist_value(cfg_ctx *c, yaml_node_t *n, const cfg_key *k, void *obj, const char *key)
{
    char  ***items = (char ***) ((char *) obj + k->off);
    int     *count = (int *) ((char *) obj + k->off_n);
    char     ikey[160];

    if (n->type != YAML_SEQUENCE_NODE)
        return fail_at(c, n->start_mark, key, "expected a list, got %s", node_kind(n));
    *items = cdc_xrealloc(*items, ((size_t) *count + 1 + (size_t) (n->data.sequence.items.top -
                                   n->data.sequence.items.start)) * sizeof(char *));
    for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
        yaml_node_t *in = yaml_document_get_node(&c->doc, *it);
        const char  *bad;
        char        *text;

        snprintf(ikey, sizeof(ikey), "%s[%d]", key, *count);
        if (in->type != YAML_SCALAR_NODE || is_null(in))
            return fail_at(c, in->start_mark, ikey, "expected a string, got %s",
                           in->type == YAML_SCALAR_NODE ? "null" : node_kind(in));
        if ((text = expand_env(c, in, ikey)) == NULL)
            return -1;
        if (k->check && (bad = k->check(text)) != NULL) {
            fail_value(c, in, k, ikey, bad, text);
            free(text);
            return -1;
        }
        (*items)[(*count)++] = text;
    }
    return 0;
}

/* For finding duplicate keys of a map by sorting: a key and where it is. */
typedef struct cfg_mkey {
    const char *name;
    size_t      pos;            /* index in the mapping */
    yaml_mark_t mark;
} cfg_mkey;

static int
mkey_cmp(const void *a, const void *b)
{
    const cfg_mkey *x = a, *y = b;
    int             r = strcmp(x->name, y->name);

    return r ? r : (x->pos > y->pos) - (x->pos < y->pos);
}

/*
 * The first key of the mapping (in file order) that repeats an earlier one,
 * with that earlier one in *first; NULL when all differ.  Sorting keeps a map
 * of many keys from costing n^2 comparisons.
 */
static const cfg_mkey *
first_duplicate(cfg_mkey *keys, size_t n, const cfg_mkey **first)
{
    const cfg_mkey *dup = NULL;

    qsort(keys, n, sizeof(*keys), mkey_cmp);
    for (size_t i = 1; i < n; i++) {
        if (strcmp(keys[i].name, keys[i - 1].name) != 0)
            continue;
        if (dup == NULL || keys[i].pos < dup->pos) {
            size_t j = i - 1;

            while (j > 0 && strcmp(keys[j - 1].name, keys[i].name) == 0)
                j--;
            dup = &keys[i];
            *first = &keys[j];
        }
    }
    return dup;
}

static int
strmap_value(cfg_ctx *c, yaml_node_t *n, const cfg_key *k, cfg_strmap *m, const char *key)
{
    char            ikey[200];
    size_t          cap;
    cfg_mkey       *keys;
    const cfg_mkey *dup, *first = NULL;
    int             rc = -1;

    if (n->type != YAML_MAPPING_NODE)
        return fail_at(c, n->start_mark, key, "expected a mapping, got %s", node_kind(n));
    cap = (size_t) (n->data.mapping.pairs.top - n->data.mapping.pairs.start);
    keys = cdc_xcalloc(cap ? cap : 1, sizeof(*keys));
    m->items = cdc_xrealloc(m->items, ((size_t) m->n + cap + 1) * sizeof(cfg_kv));
    for (size_t i = 0; i < cap; i++) {
        yaml_node_pair_t *p = &n->data.mapping.pairs.start[i];
        yaml_node_t      *kn = yaml_document_get_node(&c->doc, p->key);
        yaml_node_t      *vn = yaml_document_get_node(&c->doc, p->value);
        const char       *name;
        char             *text;

        if (kn->type != YAML_SCALAR_NODE) {
            fail_at(c, kn->start_mark, key, "keys must be strings, got %s", node_kind(kn));
            goto out;
        }
        name = (const char *) kn->data.scalar.value;
        snprintf(ikey, sizeof(ikey), "%s.%s", key, name);
        if (vn->type != YAML_SCALAR_NODE || is_null(vn)) {
            fail_at(c, vn->start_mark, ikey, "expected a string, got %s",
                    vn->type == YAML_SCALAR_NODE ? "null" : node_kind(vn));
            goto out;
        }
        if ((text = expand_env(c, vn, ikey)) == NULL)
            goto out;
        keys[i] = (cfg_mkey) { .name = name, .pos = i, .mark = kn->start_mark };
        m->items[m->n].key = cdc_xstrdup(name);
        m->items[m->n++].value = text;
    }
    if ((dup = first_duplicate(keys, cap, &first)) != NULL) {
        snprintf(ikey, sizeof(ikey), "%s.%s", key, dup->name);
        fail_at(c, dup->mark, ikey, "duplicate key (first at line %zu)", first->mark.line + 1);
        goto out;
    }
    rc = 0;
out:
    free(keys);
    (void) k;
    return rc;
}

/* ---- objects ---- */

static int
key_index(const cfg_table *t, const char *name)
{
    for (int i = 0; t->keys[i].name; i++)
        if (strcmp(t->keys[i].name, name) == 0)
            return i;
    return -1;
}

static size_t
table_len(const cfg_table *t)
{
    size_t n = 0;

    while (t->keys[n].name)
        n++;
    return n;
}

static void
seen_init(cfg_seen *s, const cfg_table *t, yaml_mark_t start)
{
    size_t n = table_len(t);

    s->given = cdc_xcalloc(n, sizeof(bool));
    s->mark = cdc_xcalloc(n, sizeof(yaml_mark_t));
    s->start = start;
}

static void
seen_free(cfg_seen *s)
{
    free(s->given);
    free(s->mark);
}

static int
apply_defaults(const cfg_table *t, void *obj, cdc_err *err)
{
    char        why[160];
    const char *bad;

    for (const cfg_key *k = t->keys; k->name; k++) {
        if (k->def == NULL || k->type == CFG_SECTION)
            continue;
        if ((bad = cfg_store_scalar(k, (char *) obj + k->off, k->def, why, sizeof(why))) != NULL)
            return cdc_err_set(err, CDC_E_INVAL, "built-in default of %s: %s", k->name, bad);
    }
    return 0;
}

/* Keys the walk did not see: an error when required and their section was given. */
static int
check_required(cfg_ctx *c, const cfg_table *t, const cfg_seen *s, const char *dprefix)
{
    char key[200];

    for (int i = 0; t->keys[i].name; i++) {
        const cfg_key *k = &t->keys[i];
        const char    *dot = strrchr(k->name, '.');
        yaml_mark_t    at = s->start;

        if (!(k->flags & CFG_F_REQUIRED) || s->given[i])
            continue;
        if (dot != NULL) {
            char parent[128];
            int  pi;

            snprintf(parent, sizeof(parent), "%.*s", (int) (dot - k->name), k->name);
            pi = key_index(t, parent);
            if (pi < 0 || !s->given[pi])
                continue;
            at = s->mark[pi];
        }
        snprintf(key, sizeof(key), "%s%s", dprefix, k->name);
        return fail_at(c, at, key, "required %s is missing",
                       k->type == CFG_SECTION ? "section" : "key");
    }
    return 0;
}

/* After one sink: its type's section is given, and no other type's. */
static int
check_sink(cfg_ctx *c, const cfg_sink *sk, const cfg_seen *s, const char *dprefix)
{
    const char *type = cfg_sink_type_name(sk->sink_type);
    char        key[200];

    for (int t = CFG_SINK_WEBHOOK; t <= CFG_SINK_JSONL; t++) {
        const char *name = cfg_sink_type_name((cfg_sink_type) t);
        int         i = key_index(&cfg_sink_table, name);

        snprintf(key, sizeof(key), "%s%s", dprefix, name);
        if (t == (int) sk->sink_type && !s->given[i])
            return fail_at(c, s->start, key, "required for sink_type %s", type);
        if (t != (int) sk->sink_type && s->given[i])
            return fail_at(c, s->mark[i], key, "section does not match sink_type %s", type);
    }
    return 0;
}

/*
 * A list of objects.  The walk is generic, but the checks after each element
 * are a sink's (its type section, unique sink_id, the platform's retry as
 * defaults): sinks are the only list of objects in either file.
 */
static int
list_value(cfg_ctx *c, yaml_node_t *n, const cfg_key *k, void *obj, const char *key)
{
    void       **items = (void **) ((char *) obj + k->off);
    int         *count = (int *) ((char *) obj + k->off_n);
    const cfg_table *t = k->sub;
    yaml_mark_t *id_marks;
    size_t       cap;
    int          rc = -1;

    if (n->type != YAML_SEQUENCE_NODE)
        return fail_at(c, n->start_mark, key, "expected a list, got %s", node_kind(n));
    cap = (size_t) (n->data.sequence.items.top - n->data.sequence.items.start);
    *items = cdc_xcalloc(cap ? cap : 1, t->size);
    id_marks = cdc_xcalloc(cap ? cap : 1, sizeof(yaml_mark_t));
    for (size_t i = 0; i < cap; i++) {
        yaml_node_t *en = yaml_document_get_node(&c->doc, n->data.sequence.items.start[i]);
        cfg_sink    *sk = (cfg_sink *) ((char *) *items + i * t->size);
        char         prefix[64];
        cfg_seen     s;
        int          erc;

        if (en->type != YAML_MAPPING_NODE) {
            snprintf(prefix, sizeof(prefix), "%s[%zu]", key, i);
            fail_at(c, en->start_mark, prefix, "expected a mapping, got %s", node_kind(en));
            goto out;
        }
        snprintf(prefix, sizeof(prefix), "%s[%zu].", key, i);
        (*count)++;                              /* owned by cfg from here: cfg_free frees it */
        if (apply_defaults(t, sk, c->err) != 0)
            goto out;
        sk->retry = *c->retry;
        seen_init(&s, t, en->start_mark);
        erc = walk_map(c, en, t, sk, "", prefix, &s);
        if (erc == 0)
            erc = check_required(c, t, &s, prefix);
        if (erc == 0)
            erc = check_sink(c, sk, &s, prefix);
        id_marks[i] = s.mark[key_index(t, "sink_id")];
        seen_free(&s);
        if (erc != 0)
            goto out;
        for (size_t j = 0; j < i; j++) {
            const cfg_sink *prev = (const cfg_sink *) ((char *) *items + j * t->size);

            if (strcmp(prev->sink_id, sk->sink_id) == 0) {
                snprintf(prefix, sizeof(prefix), "%s[%zu].sink_id", key, i);
                fail_at(c, id_marks[i], prefix, "duplicate sink_id \"%s\" (first at line %zu)",
                        sk->sink_id, id_marks[j].line + 1);
                goto out;
            }
        }
    }
    rc = 0;
out:
    free(id_marks);
    return rc;
}

/*
 * Walks one mapping: every key must be a row of t named tprefix + key.
 * Messages name keys as dprefix + key ("sinks[1].webhook.url").
 */
static int
walk_map(cfg_ctx *c, yaml_node_t *map, const cfg_table *t, void *obj, const char *tprefix,
         const char *dprefix, cfg_seen *seen)
{
    char tname[160], dname[200];

    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        yaml_node_t   *kn = yaml_document_get_node(&c->doc, p->key);
        yaml_node_t   *vn = yaml_document_get_node(&c->doc, p->value);
        const char    *name = (const char *) kn->data.scalar.value;
        const cfg_key *k;
        int            i, rc;

        if (kn->type != YAML_SCALAR_NODE)
            return fail_at(c, kn->start_mark, dprefix, "keys must be strings, got %s",
                           node_kind(kn));
        snprintf(tname, sizeof(tname), "%s%s", tprefix, name);
        snprintf(dname, sizeof(dname), "%s%s", dprefix, name);
        i = strchr(name, '.') ? -1 : key_index(t, tname);
        if (i < 0) {
            if (*tprefix == '\0' && c->other && key_index(c->other, name) >= 0)
                return fail_at(c, kn->start_mark, dname, "is a %s setting; it belongs in %s.yaml",
                               c->other_kind, c->other_kind);
            return fail_at(c, kn->start_mark, dname, "unknown key");
        }
        if (seen->given[i])
            return fail_at(c, kn->start_mark, dname, "duplicate key (first at line %zu)",
                           seen->mark[i].line + 1);
        k = &t->keys[i];
        seen->given[i] = true;
        seen->mark[i] = kn->start_mark;
        switch (k->type) {
        case CFG_SECTION:
            if (is_null(vn)) {
                seen->given[i] = false;          /* "webhook:" alone is an absent section */
                continue;
            }
            if (vn->type != YAML_MAPPING_NODE)
                return fail_at(c, vn->start_mark, dname, "expected a mapping, got %s",
                               node_kind(vn));
            snprintf(tname, sizeof(tname), "%s%s.", tprefix, name);
            snprintf(dname, sizeof(dname), "%s%s.", dprefix, name);
            rc = walk_map(c, vn, t, obj, tname, dname, seen);
            break;
        case CFG_STRLIST:
            rc = strlist_value(c, vn, k, obj, dname);
            break;
        case CFG_STRMAP:
            rc = strmap_value(c, vn, k, (cfg_strmap *) ((char *) obj + k->off), dname);
            break;
        case CFG_LIST:
            rc = list_value(c, vn, k, obj, dname);
            break;
        default:
            rc = scalar_value(c, vn, k, (char *) obj + k->off, dname);
            break;
        }
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* ---- files ---- */

/*
 * Limits that keep a hostile file from costing more than a normal one: the
 * size bounds time and memory, the depth keeps the walk of the event stream
 * flat (no key of either file is deeper than 5 levels), and the anchor count
 * bounds libyaml's alias resolution, which searches the anchors one by one
 * for every alias.  Aliases themselves cost nothing more: the document API
 * shares the anchored node, and no key takes a nested value twice.
 */
#define CFG_MAX_BYTES   (1u << 20)  /* 1 MiB, also the size limit of a Kubernetes ConfigMap */
#define CFG_MAX_DEPTH   32
#define CFG_MAX_ANCHORS 100

/*
 * libyaml's error, at its line:col.  A reader error (bad UTF-8, a control
 * character) comes with a byte offset and no mark: count the lines up to it.
 */
static int
yaml_fail(cfg_ctx *c, const yaml_parser_t *parser, const unsigned char *text, size_t len)
{
    size_t line = parser->problem_mark.line, col = parser->problem_mark.column;

    if (parser->error == YAML_READER_ERROR) {
        size_t off = parser->problem_offset < len ? parser->problem_offset : len;

        line = col = 0;
        for (size_t i = 0; i < off; i++, col++)
            if (text[i] == '\n')
                line++, col = (size_t) -1;
        if (parser->problem_value >= 0)
            return cdc_err_set(c->err, CDC_E_CONFIG, "%s:%zu:%zu: invalid YAML: %s (byte 0x%02X "
                               "at offset %zu)", c->path, line + 1, col + 1,
                               parser->problem ? parser->problem : "read error",
                               (unsigned) parser->problem_value & 0xFFu, off);
    }
    return cdc_err_set(c->err, CDC_E_CONFIG, "%s:%zu:%zu: invalid YAML: %s%s%s", c->path,
                       line + 1, col + 1, parser->problem ? parser->problem : "parse error",
                       parser->context ? " " : "", parser->context ? parser->context : "");
}

/* Reads the whole file into *text (NUL-terminated, malloc'd); at most CFG_MAX_BYTES. */
static int
read_file(cfg_ctx *c, unsigned char **text, size_t *len)
{
    FILE *f;
    int   bad;

    if ((f = fopen(c->path, "rb")) == NULL)
        return cdc_err_set(c->err, CDC_E_IO, "%s: cannot open: %s", c->path, strerror(errno));
    *text = cdc_xmalloc(CFG_MAX_BYTES + 2);
    *len = fread(*text, 1, CFG_MAX_BYTES + 1, f);   /* one more: tells "too large" */
    bad = ferror(f);
    fclose(f);
    if (bad)
        cdc_err_set(c->err, CDC_E_IO, "%s: cannot read: %s", c->path, strerror(errno));
    else if (*len > CFG_MAX_BYTES)
        cdc_err_set(c->err, CDC_E_CONFIG, "%s: file is larger than %u bytes (1 MiB), the limit "
                    "for a configuration file", c->path, CFG_MAX_BYTES);
    if (bad || *len > CFG_MAX_BYTES) {
        free(*text);
        *text = NULL;
        return -1;
    }
    (*text)[*len] = '\0';
    return 0;
}

/* One pass over the events before the document is built: depth and anchors. */
static int
prescan(cfg_ctx *c, const unsigned char *text, size_t len)
{
    yaml_parser_t parser;
    yaml_event_t  ev;
    int           depth = 0, anchors = 0, rc = -1;
    bool          done = false;

    if (!yaml_parser_initialize(&parser))
        return cdc_err_set(c->err, CDC_E_NOMEM, "%s: out of memory", c->path);
    yaml_parser_set_input_string(&parser, text, len);
    while (!done) {
        const yaml_char_t *anchor = NULL;

        if (!yaml_parser_parse(&parser, &ev)) {
            yaml_fail(c, &parser, text, len);
            goto out;
        }
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        case YAML_MAPPING_START_EVENT:
            anchor = ev.data.mapping_start.anchor;
            depth++;
            break;
        case YAML_SEQUENCE_START_EVENT:
            anchor = ev.data.sequence_start.anchor;
            depth++;
            break;
        case YAML_MAPPING_END_EVENT:
        case YAML_SEQUENCE_END_EVENT:
            depth--;
            break;
        case YAML_SCALAR_EVENT:
            anchor = ev.data.scalar.anchor;
            if (strlen((const char *) ev.data.scalar.value) != ev.data.scalar.length) {
                /* "\0" in a quoted scalar: the C string would end there */
                fail_at(c, ev.start_mark, "", "a value contains a NUL character (\\0)");
                yaml_event_delete(&ev);
                goto out;
            }
            break;
        default:
            break;
        }
        if (depth > CFG_MAX_DEPTH || (anchor && ++anchors > CFG_MAX_ANCHORS)) {
            fail_at(c, ev.start_mark, "", depth > CFG_MAX_DEPTH
                    ? "nested deeper than %d levels; no setting is nested like that"
                    : "more than %d anchors (&name); a configuration file needs few",
                    depth > CFG_MAX_DEPTH ? CFG_MAX_DEPTH : CFG_MAX_ANCHORS);
            yaml_event_delete(&ev);
            goto out;
        }
        yaml_event_delete(&ev);
    }
    rc = 0;
out:
    yaml_parser_delete(&parser);
    return rc;
}

/*
 * Loads path's single document into c->doc.  Returns 1 with a root mapping
 * (the caller deletes c->doc), 0 for an empty file, -1 with the error set.
 */
static int
load_doc(cfg_ctx *c)
{
    yaml_parser_t   parser;
    yaml_document_t extra;
    yaml_node_t    *root;
    unsigned char  *text = NULL;
    size_t          len = 0;
    int             rc = -1;

    if (read_file(c, &text, &len) != 0)
        return -1;
    if (prescan(c, text, len) != 0) {
        free(text);
        return -1;
    }
    if (!yaml_parser_initialize(&parser)) {
        free(text);
        return cdc_err_set(c->err, CDC_E_NOMEM, "%s: out of memory", c->path);
    }
    yaml_parser_set_input_string(&parser, text, len);
    if (!yaml_parser_load(&parser, &c->doc)) {
        yaml_fail(c, &parser, text, len);
        goto out_parser;
    }
    root = yaml_document_get_root_node(&c->doc);
    if (root == NULL) {
        rc = 0;
        goto out;
    }
    if (!yaml_parser_load(&parser, &extra)) {
        yaml_fail(c, &parser, text, len);
        goto out;
    }
    if (yaml_document_get_root_node(&extra) != NULL) {
        fail_at(c, extra.start_mark, "", "only one YAML document is allowed");
        yaml_document_delete(&extra);
        goto out;
    }
    yaml_document_delete(&extra);
    if (root->type != YAML_MAPPING_NODE) {
        fail_at(c, root->start_mark, "", "expected a mapping of keys at the top, got %s",
                node_kind(root));
        goto out;
    }
    rc = 1;
out:
    if (rc != 1)
        yaml_document_delete(&c->doc);   /* the caller keeps it only with a root mapping */
out_parser:
    yaml_parser_delete(&parser);
    free(text);
    return rc;
}

/* Platform checks that span keys: what each transport and auth mechanism needs. */
static int
check_platform(cfg_ctx *c, const cfg_platform *pf, const cfg_seen *s)
{
    const cfg_table *t = &cfg_platform_table;
    int              tm = key_index(t, "transport_mode");
    const char      *mech = pf->kafka.auth_mechanism;
    int              am = key_index(t, "kafka.auth_mechanism");

    if (pf->transport_mode == CFG_TRANSPORT_PUBSUB || pf->transport_mode == CFG_TRANSPORT_KINESIS) {
        const char *need = pf->transport_mode == CFG_TRANSPORT_PUBSUB ? "pubsub" : "kinesis";

        if (!s->given[key_index(t, need)])
            return fail_at(c, s->mark[tm], need, "section required when transport_mode is %s",
                           need);
        if (!s->given[key_index(t, "wal_reader")])
            return fail_at(c, s->mark[tm], "wal_reader",
                           "section required when transport_mode is %s", need);
    }
    if (strcmp(mech, "sasl_iam") == 0 && pf->kafka.aws_region == NULL)
        return fail_at(c, s->mark[am], "kafka.aws_region", "required when auth_mechanism is %s",
                       mech);
    if (strncmp(mech, "sasl_plain", 10) == 0 || strncmp(mech, "sasl_scram", 10) == 0) {
        if (pf->kafka.sasl_username == NULL || pf->kafka.sasl_password == NULL)
            return fail_at(c, s->mark[am], "kafka.sasl_username",
                           "sasl_username and sasl_password are required when "
                           "auth_mechanism is %s", mech);
    }
    return 0;
}

static int
check_pipeline(cfg_ctx *c, const cfg_pipeline *pl, const cfg_seen *s)
{
    const cfg_table *t = &cfg_pipeline_table;
    int              ti = key_index(t, "source.tables");

    static const char *const pats[] = { "source.table_include_list", "source.table_exclude_list",
                                        "source.schema_include_list", "source.schema_exclude_list" };
    const cfg_source  *src = &pl->source;
    const char        *vals[] = { src->table_include_list, src->table_exclude_list,
                                  src->schema_include_list, src->schema_exclude_list };
    int                pat = -1;

    for (int i = 0; i < 4 && pat < 0; i++)
        if (vals[i] && *vals[i])
            pat = i;
    /* Debezium refuses an include list beside its exclude list; tables by name and by
       pattern are one or the other (the patterns choose the whole list) */
    for (int i = 0; i < 4; i += 2)
        if (vals[i] && *vals[i] && vals[i + 1] && *vals[i + 1])
            return fail_at(c, s->mark[key_index(t, pats[i + 1])], pats[i + 1],
                           "cannot be set with %s (Debezium refuses both lists of one kind)",
                           pats[i]);
    if (pat >= 0 && src->ntables > 0)
        return fail_at(c, s->mark[ti], "source.tables", "cannot be set with %s: list the "
                       "tables by name or choose them by pattern, not both", pats[pat]);
    if (pl->source.ntables == 0 && pat < 0)
        return fail_at(c, s->given[ti] ? s->mark[ti] : s->mark[key_index(t, "source")],
                       "source.tables", "at least one table is required (or "
                       "table_include_list and the other pattern keys): cdcagent captures "
                       "an explicit list of tables");
    for (int i = 1; i < pl->source.ntables; i++) {
        char si[CFG_NAME_MAX + 1], ti_[CFG_NAME_MAX + 1], sj[CFG_NAME_MAX + 1],
             tj[CFG_NAME_MAX + 1];

        if (cfg_table_split(pl->source.tables[i], si, ti_) != NULL)
            continue;       /* the key's check reported it */
        for (int j = 0; j < i; j++)
            if (cfg_table_split(pl->source.tables[j], sj, tj) == NULL && strcmp(si, sj) == 0 &&
                strcmp(ti_, tj) == 0)
                return fail_at(c, s->mark[ti], "source.tables", "\"%s\" and \"%s\" name the "
                               "same table", pl->source.tables[j], pl->source.tables[i]);
    }
    return 0;
}

static int
parse_file(cfg_ctx *c, const cfg_table *t, void *obj)
{
    yaml_mark_t top = { 0, 0, 0 };
    cfg_seen    s;
    int         rc, loaded;

    if (apply_defaults(t, obj, c->err) != 0)
        return -1;
    loaded = c->path ? load_doc(c) : 0;
    if (loaded < 0)
        return -1;
    seen_init(&s, t, loaded ? yaml_document_get_root_node(&c->doc)->start_mark : top);
    rc = loaded ? walk_map(c, yaml_document_get_root_node(&c->doc), t, obj, "", "", &s) : 0;
    if (rc == 0)
        rc = check_required(c, t, &s, "");
    if (rc == 0 && t == &cfg_platform_table)
        rc = check_platform(c, obj, &s);
    if (rc == 0 && t == &cfg_pipeline_table)
        rc = check_pipeline(c, obj, &s);
    seen_free(&s);
    if (loaded)
        yaml_document_delete(&c->doc);
    return rc;
}

/*
 * With transport_mode pubsub or kinesis the platform's wal_reader block names
 * the slot and the publication (the platform's own WAL reader reads it there):
 * the capture side uses them, like source.* with kafka and direct.  What
 * source.* said is replaced, and the log says so when it differed.
 */
static void
apply_wal_reader(cdc_config *cfg)
{
    cfg_source           *src = &cfg->pipeline.source;
    const cfg_wal_reader *w = &cfg->platform.wal_reader;

    if (cfg->platform.transport_mode != CFG_TRANSPORT_PUBSUB &&
        cfg->platform.transport_mode != CFG_TRANSPORT_KINESIS)
        return;
    if (strcmp(src->slot_name, w->slot_name) != 0 ||
        strcmp(src->publication_name, w->publication_name) != 0)
        log_info("config", "transport_mode %s: slot %s and publication %s come from %s's "
                 "wal_reader (the pipeline's source.slot_name %s and source.publication_name "
                 "%s are not used)", cfg_transport_mode_name(cfg->platform.transport_mode),
                 w->slot_name, w->publication_name,
                 cfg->platform_path ? cfg->platform_path : "platform.yaml", src->slot_name,
                 src->publication_name);
    free(src->slot_name);
    free(src->publication_name);
    src->slot_name = cdc_xstrdup(w->slot_name);
    src->publication_name = cdc_xstrdup(w->publication_name);
}

int
cfg_parse(cdc_config *cfg, const char *pipeline_path, const char *platform_path, cdc_err *err)
{
    cfg_ctx c = { .err = err };

    memset(cfg, 0, sizeof(*cfg));
    if (pipeline_path == NULL)
        return cdc_err_set(err, CDC_E_INVAL, "no pipeline file given");
    cfg->pipeline_path = cdc_xstrdup(pipeline_path);
    cfg->platform_path = platform_path ? cdc_xstrdup(platform_path) : NULL;

    /* The platform first: its retry.* are the defaults of each sink's retry. */
    c.path = platform_path;
    c.expanded = 0;
    c.other = &cfg_pipeline_table;
    c.other_kind = "pipeline";
    if (parse_file(&c, &cfg_platform_table, &cfg->platform) != 0)
        goto fail;

    c.path = pipeline_path;
    c.expanded = 0;
    c.other = &cfg_platform_table;
    c.other_kind = "platform";
    c.retry = &cfg->platform.retry;
    if (parse_file(&c, &cfg_pipeline_table, &cfg->pipeline) != 0)
        goto fail;
    apply_wal_reader(cfg);
    return 0;
fail:
    cfg_free(cfg);
    return -1;
}

int
cfg_load(cdc_config *cfg, const char *pipeline_path, const char *platform_path, cdc_err *err)
{
    if (cfg_parse(cfg, pipeline_path, platform_path, err) != 0)
        return -1;
    if (cfg_validate(cfg, err) != 0) {
        cfg_free(cfg);
        return -1;
    }
    return 0;
}

/* ---- freeing ---- */

static void
free_obj(const cfg_table *t, void *obj)
{
    for (const cfg_key *k = t->keys; k->name; k++) {
        void *field = (char *) obj + k->off;

        switch (k->type) {
        case CFG_STR:
            free(*(char **) field);
            break;
        case CFG_STRLIST: {
            char **items = *(char ***) field;
            int    n = *(int *) ((char *) obj + k->off_n);

            for (int i = 0; i < n; i++)
                free(items[i]);
            free(items);
            break;
        }
        case CFG_STRMAP: {
            cfg_strmap *m = field;

            for (int i = 0; i < m->n; i++) {
                free(m->items[i].key);
                free(m->items[i].value);
            }
            free(m->items);
            break;
        }
        case CFG_LIST: {
            char *items = *(char **) field;
            int   n = *(int *) ((char *) obj + k->off_n);

            for (int i = 0; i < n; i++)
                free_obj(k->sub, items + (size_t) i * k->sub->size);
            free(items);
            break;
        }
        default:
            break;
        }
    }
}

void
cfg_free(cdc_config *cfg)
{
    if (cfg == NULL)
        return;
    free_obj(&cfg_pipeline_table, &cfg->pipeline);
    free_obj(&cfg_platform_table, &cfg->platform);
    free(cfg->pipeline_path);
    free(cfg->platform_path);
    memset(cfg, 0, sizeof(*cfg));
}

/*
 * Debezium's column filter and column mappers (see colfilter.h).  Sources
 * followed (Debezium 2.7.4): Tables.ColumnNameFilterFactory, Predicates.includes
 * (Pattern.CASE_INSENSITIVE, matcher.matches()), Strings.RegExSplitter,
 * ColumnMappers.create, MaskStrings (MaskingValueConverter, HashValueConverter,
 * HashingByteArrayStrategy V1/V2) and TruncateColumn.
 */
#include "agent/source/colfilter.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/core/cdc_buf.h"
#include "agent/core/cdc_log.h"
#include "agent/core/cdc_mem.h"
#include "agent/core/cdc_utf8.h"

#define CF_FAC "colfilter"
#define JAVA_INT_MAX 2147483647

typedef agent_relist relist;

typedef enum rule_kind { RULE_TRUNCATE, RULE_MASK, RULE_HASH } rule_kind;

typedef struct rule {
    rule_kind kind;
    int       chars;        /* truncate / mask: N */
    int       version;      /* hash: 1 or 2 */
    char     *alg;          /* hash: Java's algorithm name */
    char     *salt;         /* hash: never printed */
    char     *mask;         /* mask: N asterisks */
    char     *what;         /* the property, salt replaced by "***", for messages */
    relist    cols;
} rule;

struct agent_colfilter {
    bool   has_include, has_exclude;
    relist include, exclude;
    relist keycols;     /* message.key.columns: one regex per "table.column", in order */
    relist propcol;     /* column.propagate.source.type: schema.table.column */
    relist proptype;    /* datatype.propagate.source.type: schema.table.typname */
    rule  *rules;
    int    nrules;
};

/* ---- Debezium's regex lists ---- */

/* Java regex to an anchored POSIX ERE, with the escapes POSIX lacks (\d, \D) spelled out. */
static char *
java_to_ere(const char *s, size_t n)
{
    cdc_buf b = { 0 };
    char   *ere;

    cdc_buf_puts(&b, "^(");
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\\' && i + 1 < n) {
            if (s[i + 1] == 'd')
                cdc_buf_puts(&b, "[0-9]");
            else if (s[i + 1] == 'D')
                cdc_buf_puts(&b, "[^0-9]");
            else
                cdc_buf_put(&b, s + i, 2);
            i++;
        } else {
            cdc_buf_putc(&b, s[i]);
        }
    }
    cdc_buf_puts(&b, ")$");
    ere = cdc_xstrdup(cdc_buf_str(&b));
    cdc_buf_free(&b);
    return ere;
}

static void
relist_free(relist *l)
{
    for (int i = 0; i < l->n; i++) {
        regfree(&l->re[i]);
        free(l->src[i]);
    }
    free(l->re);
    free(l->src);
    free(l->hits);
    l->re = NULL;
    l->src = NULL;
    l->hits = NULL;
    l->n = 0;
}

/*
 * Strings.RegExSplitter: commas split unless a backslash escapes them; each
 * part trimmed, "\," made ",", empty parts skipped.  what names the setting.
 */
static int
relist_compile(relist *l, const char *list, const char *what, cdc_err *err)
{
    const char *p = list;

    while (*p) {
        const char *start = p, *end;
        char       *part, *q, *ere;
        size_t      len;
        int         rc;

        while (*p && *p != ',') {
            if (*p == '\\' && p[1])
                p++;
            p++;
        }
        end = p;
        if (*p == ',')
            p++;
        while (start < end && isspace((unsigned char) *start))
            start++;
        while (end > start && isspace((unsigned char) end[-1]))
            end--;
        if (end == start)
            continue;
        part = cdc_xstrndup(start, (size_t) (end - start));
        for (q = part; (q = strstr(q, "\\,")) != NULL;)
            memmove(q, q + 1, strlen(q));
        len = strlen(part);
        ere = java_to_ere(part, len);
        l->re = cdc_xrealloc(l->re, (size_t) (l->n + 1) * sizeof(*l->re));
        l->src = cdc_xrealloc(l->src, (size_t) (l->n + 1) * sizeof(*l->src));
        l->hits = cdc_xrealloc(l->hits, (size_t) (l->n + 1) * sizeof(*l->hits));
        l->hits[l->n] = 0;
        rc = regcomp(&l->re[l->n], ere, REG_EXTENDED | REG_ICASE | REG_NOSUB);
        free(ere);
        if (rc != 0) {
            char why[128];

            regerror(rc, &l->re[l->n], why, sizeof(why));
            cdc_err_set(err, CDC_E_CONFIG, "%s: the regular expression \"%s\" is invalid: %s",
                        what, part, why);
            free(part);
            return -1;
        }
        l->src[l->n++] = part;
    }
    return 0;
}

/* Whether a regex of l matches schema.table.column; every one that does counts a hit. */
static bool
relist_matches(const relist *l, const char *schema, const char *table, const char *column)
{
    char name[3 * 256 + 3];

    snprintf(name, sizeof(name), "%s.%s.%s", schema, table, column);
    return agent_relist_match(l, name);
}

static const char *relist_unmatched(const relist *l);

bool
agent_relist_match(const relist *l, const char *name)
{
    bool m = false;

    for (int i = 0; i < l->n; i++)
        if (regexec(&l->re[i], name, 0, NULL, 0) == 0) {
            l->hits[i]++;
            m = true;
        }
    return m;
}

int
agent_relist_compile(relist *l, const char *list, const char *what, cdc_err *err)
{
    int rc = relist_compile(l, list, what, err);

    if (rc < 0)
        relist_free(l);
    return rc;
}

const char *
agent_relist_unmatched(const relist *l)
{
    return relist_unmatched(l);
}

void
agent_relist_free(relist *l)
{
    relist_free(l);
}

int
agent_java_regex(regex_t *re, const char *pattern, const char *what, cdc_err *err)
{
    char *ere = java_to_ere(pattern, strlen(pattern));
    int   rc = regcomp(re, ere, REG_EXTENDED | REG_NOSUB);

    free(ere);
    if (rc != 0) {
        char why[128];

        regerror(rc, re, why, sizeof(why));
        return cdc_err_set(err, CDC_E_CONFIG, "%s: the regular expression \"%s\" is invalid: "
                           "%s", what, pattern, why);
    }
    return 0;
}

/* The first regex of l that matched no column, or NULL. */
static const char *
relist_unmatched(const relist *l)
{
    for (int i = 0; i < l->n; i++)
        if (l->hits[i] == 0)
            return l->src[i];
    return NULL;
}

int
agent_colfilter_unmatched(const agent_colfilter *f, const char *tables, cdc_err *err)
{
    const char *re;

    if ((re = relist_unmatched(&f->include)) != NULL ||
        (re = relist_unmatched(&f->exclude)) != NULL)
        return cdc_err_set(err, CDC_E_CONFIG, "source.column_%s_list: \"%s\" matches no column "
                           "of the captured tables (%s); names are schema.table.column",
                           relist_unmatched(&f->include) ? "include" : "exclude", re, tables);
    if ((re = relist_unmatched(&f->propcol)) != NULL ||
        (re = relist_unmatched(&f->proptype)) != NULL)
        return cdc_err_set(err, CDC_E_CONFIG, "source.%s_propagate_source_type: \"%s\" matches "
                           "no column of the captured tables (%s); names are "
                           "schema.table.%s", relist_unmatched(&f->propcol) ? "column"
                           : "datatype", re, tables, relist_unmatched(&f->propcol) ? "column"
                           : "typename (int4, varchar, ...)");
    if ((re = relist_unmatched(&f->keycols)) != NULL)
        return cdc_err_set(err, CDC_E_CONFIG, "source.message_key_columns: \"%s\" matches no "
                           "column of the captured tables (%s); names are "
                           "schema.table.column", re, tables);
    for (int r = 0; r < f->nrules; r++)
        if ((re = relist_unmatched(&f->rules[r].cols)) != NULL)
            return cdc_err_set(err, CDC_E_CONFIG, "source.column_masks: %s: \"%s\" matches no "
                               "column of the captured tables (%s); names are "
                               "schema.table.column", f->rules[r].what, re, tables);
    return 0;
}

bool
agent_colfilter_list_matches(const char *list, const char *schema, const char *table,
                             const char *column)
{
    relist l = { 0 };
    bool   m = false;

    if (relist_compile(&l, list, "list", NULL) == 0)
        m = relist_matches(&l, schema, table, column);
    relist_free(&l);
    return m;
}

/* ---- the mappers ---- */

/* Java's MessageDigest names and OpenSSL's. */
static const char *
openssl_alg(const char *java)
{
    static const char *const names[][2] = {
        { "MD5", "MD5" },           { "SHA", "SHA1" },         { "SHA-1", "SHA1" },
        { "SHA1", "SHA1" },         { "SHA-224", "SHA224" },   { "SHA-256", "SHA256" },
        { "SHA-384", "SHA384" },    { "SHA-512", "SHA512" },   { "SHA-512/224", "SHA512-224" },
        { "SHA-512/256", "SHA512-256" }, { "SHA3-224", "SHA3-224" }, { "SHA3-256", "SHA3-256" },
        { "SHA3-384", "SHA3-384" }, { "SHA3-512", "SHA3-512" },
    };

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcasecmp(java, names[i][0]) == 0)
            return names[i][1];
    return NULL;
}

size_t
agent_utf16_len(const char *s, size_t n)
{
    size_t units = 0;

    for (size_t i = 0; i < n;) {
        uint32_t cp;

        i += cdc_utf8_next(s + i, n - i, &cp);
        units += cp >= 0x10000 ? 2 : 1;
    }
    return units;
}

size_t
agent_utf16_prefix(const char *s, size_t n, size_t max)
{
    size_t units = 0, i = 0;

    while (i < n) {
        uint32_t cp;
        size_t   k = cdc_utf8_next(s + i, n - i, &cp);
        size_t   u = cp >= 0x10000 ? 2 : 1;

        if (units + u > max)
            break;
        units += u;
        i += k;
    }
    return i;
}

/* Java's modified UTF-8 (DataOutput.writeUTF): U+0000 as C0 80, beyond the BMP as two
   three-byte surrogates. */
static void
put_modified_utf8(cdc_buf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        uint32_t      cp;
        size_t        k = cdc_utf8_next(s + i, n - i, &cp);
        unsigned char u[6];
        size_t        m = 0;

        if (cp == 0) {
            u[m++] = 0xc0, u[m++] = 0x80;
        } else if (cp < 0x80) {
            u[m++] = (unsigned char) cp;
        } else if (cp < 0x800) {
            u[m++] = (unsigned char) (0xc0 | (cp >> 6));
            u[m++] = (unsigned char) (0x80 | (cp & 0x3f));
        } else if (cp < 0x10000) {
            u[m++] = (unsigned char) (0xe0 | (cp >> 12));
            u[m++] = (unsigned char) (0x80 | ((cp >> 6) & 0x3f));
            u[m++] = (unsigned char) (0x80 | (cp & 0x3f));
        } else {
            uint32_t hi = 0xd800 + ((cp - 0x10000) >> 10), lo = 0xdc00 + ((cp - 0x10000) & 0x3ff);

            u[m++] = (unsigned char) (0xe0 | (hi >> 12));
            u[m++] = (unsigned char) (0x80 | ((hi >> 6) & 0x3f));
            u[m++] = (unsigned char) (0x80 | (hi & 0x3f));
            u[m++] = (unsigned char) (0xe0 | (lo >> 12));
            u[m++] = (unsigned char) (0x80 | ((lo >> 6) & 0x3f));
            u[m++] = (unsigned char) (0x80 | (lo & 0x3f));
        }
        cdc_buf_put(b, u, m);
        i += k;
    }
}

/* ObjectOutputStream.writeObject(String): stream header, TC_STRING (or TC_LONGSTRING
   beyond 65535 bytes) and the modified UTF-8 with its length. */
static void
java_serialize_string(cdc_buf *out, const char *s, size_t n)
{
    static const unsigned char header[] = { 0xac, 0xed, 0x00, 0x05 };
    cdc_buf                    mu = { 0 };
    unsigned char              len[9];

    put_modified_utf8(&mu, s, n);
    cdc_buf_put(out, header, sizeof(header));
    if (mu.len <= 0xffff) {
        len[0] = 0x74;
        len[1] = (unsigned char) (mu.len >> 8);
        len[2] = (unsigned char) mu.len;
        cdc_buf_put(out, len, 3);
    } else {
        len[0] = 0x7c;
        for (int i = 0; i < 8; i++)
            len[1 + i] = (unsigned char) ((uint64_t) mu.len >> (56 - 8 * i));
        cdc_buf_put(out, len, 9);
    }
    cdc_buf_put(out, mu.data, mu.len);
    cdc_buf_free(&mu);
}

int
agent_hash_mask(const char *alg, int version, const char *salt, const char *value, size_t len,
                int32_t max_len, char out[129])
{
    const char    *name = openssl_alg(alg);
    const EVP_MD  *md = name ? EVP_get_digestbyname(name) : NULL;
    EVP_MD_CTX    *ctx;
    unsigned char  dg[EVP_MAX_MD_SIZE];
    unsigned int   dlen = 0;
    cdc_buf        bytes = { 0 };
    int            n;

    if (md == NULL)
        return -1;
    if (version == 1)
        java_serialize_string(&bytes, value, len);
    else
        cdc_buf_put(&bytes, value, len);
    ctx = EVP_MD_CTX_new();
    if (ctx == NULL || EVP_DigestInit_ex(ctx, md, NULL) != 1 ||
        EVP_DigestUpdate(ctx, salt, strlen(salt)) != 1 ||
        EVP_DigestUpdate(ctx, bytes.data ? (const void *) bytes.data : "", bytes.len) != 1 ||
        EVP_DigestFinal_ex(ctx, dg, &dlen) != 1)
        dlen = 0;
    EVP_MD_CTX_free(ctx);
    cdc_buf_free(&bytes);
    if (dlen == 0 || dlen > 64)
        return -1;
    for (unsigned i = 0; i < dlen; i++)
        snprintf(out + 2 * i, 3, "%02x", dg[i]);
    n = (int) (2 * dlen);
    if (max_len > 0 && n > max_len) {
        n = max_len;
        out[n] = '\0';
    }
    return n;
}

/* ---- settings ---- */

static void
rule_free(rule *r)
{
    free(r->alg);
    free(r->salt);
    free(r->mask);
    free(r->what);
    relist_free(&r->cols);
}

void
agent_colfilter_free(agent_colfilter *f)
{
    if (f == NULL)
        return;
    relist_free(&f->include);
    relist_free(&f->exclude);
    relist_free(&f->keycols);
    relist_free(&f->propcol);
    relist_free(&f->proptype);
    for (int i = 0; i < f->nrules; i++)
        rule_free(&f->rules[i]);
    free(f->rules);
    free(f);
}

/* "N" of a property, a non-negative int ending at *end; -1 otherwise. */
static int
parse_chars(const char *s, const char *suffix)
{
    char *end;
    long  v;

    if (!isdigit((unsigned char) *s))
        return -1;
    v = strtol(s, &end, 10);
    if (strcmp(end, suffix) != 0 || v < 0 || v > JAVA_INT_MAX)
        return -1;
    return (int) v;
}

/* One key of source.column_masks into r; returns -1 with err when it is not one of Debezium's. */
static int
parse_rule(const char *key, rule *r, cdc_err *err)
{
    static const char trunc[] = "column.truncate.to.", mask[] = "column.mask.with.",
                      hash[] = "column.mask.hash.", v2[] = "v2.", ws[] = ".with.salt.";
    const char       *p, *w;

    memset(r, 0, sizeof(*r));
    if (strncmp(key, trunc, sizeof(trunc) - 1) == 0) {
        r->kind = RULE_TRUNCATE;
        r->chars = parse_chars(key + sizeof(trunc) - 1, ".chars");
    } else if (strncmp(key, mask, sizeof(mask) - 1) == 0) {
        r->kind = RULE_MASK;
        r->chars = parse_chars(key + sizeof(mask) - 1, ".chars");
    } else if (strncmp(key, hash, sizeof(hash) - 1) == 0) {
        r->kind = RULE_HASH;
        p = key + sizeof(hash) - 1;
        r->version = 1;
        if (strncmp(p, v2, sizeof(v2) - 1) == 0 && strstr(p, ws) != p + 2) {
            r->version = 2;
            p += sizeof(v2) - 1;
        }
        w = strstr(p, ws);
        if (w == NULL || w == p || memchr(p, '.', (size_t) (w - p)) != NULL ||
            w[sizeof(ws) - 1] == '\0')
            return cdc_err_set(err, CDC_E_CONFIG, "source.column_masks: a key starting with "
                               "\"column.mask.hash.\" must be column.mask.hash.ALGORITHM."
                               "with.salt.SALT or column.mask.hash.v2.ALGORITHM.with.salt.SALT");
        r->alg = cdc_xstrndup(p, (size_t) (w - p));
        r->salt = cdc_xstrdup(w + sizeof(ws) - 1);
        {
            char what[160];

            snprintf(what, sizeof(what), "column.mask.hash.%s%s.with.salt.***",
                     r->version == 2 ? "v2." : "", r->alg);
            r->what = cdc_xstrdup(what);
        }
        if (openssl_alg(r->alg) == NULL || EVP_get_digestbyname(openssl_alg(r->alg)) == NULL)
            return cdc_err_set(err, CDC_E_CONFIG, "source.column_masks: %s: unknown hash "
                               "algorithm \"%s\" (MD5, SHA-1, SHA-224, SHA-256, SHA-384, "
                               "SHA-512, SHA-512/224, SHA-512/256, SHA3-224 .. SHA3-512)",
                               r->what, r->alg);
        return 0;
    } else {
        return cdc_err_set(err, CDC_E_CONFIG, "source.column_masks: \"%s\" is not one of "
                           "Debezium's column properties (column.truncate.to.N.chars, "
                           "column.mask.with.N.chars, column.mask.hash[.v2].ALGORITHM.with."
                           "salt.SALT)", strstr(key, ".with.salt.") ? "column.mask...." : key);
    }
    if (r->chars < 0)
        return cdc_err_set(err, CDC_E_CONFIG, "source.column_masks: \"%s\": N must be a "
                           "whole number of characters", key);
    r->what = cdc_xstrdup(key);
    if (r->kind == RULE_MASK) {
        r->mask = cdc_xmalloc((size_t) r->chars + 1);
        memset(r->mask, '*', (size_t) r->chars);
        r->mask[r->chars] = '\0';
    }
    return 0;
}

/*
 * Key.CustomKeyMapper: "t1:c1,c2;t2:c3" becomes the regexes "t1.c1", "t1.c2", "t2.c3"
 * (split at ';', then ':', then ','; each then read as a regex list, so trimmed), in
 * that order.
 */
static int
parse_key_columns(relist *l, const char *v, cdc_err *err)
{
    const char *p = v ? v : "";

    while (*p) {
        size_t      len = strcspn(p, ";");
        const char *colon = memchr(p, ':', len);
        const char *c, *end = p + len;

        if (colon == NULL)
            return cdc_err_set(err, CDC_E_CONFIG, "source.message_key_columns: \"%.*s\" has "
                               "no ':' (schema.table:col1,col2;...)", (int) len, p);
        for (c = colon + 1; c < end;) {
            size_t clen = strcspn(c, ",;");
            char  *re;
            int    rc;

            if (c + clen > end)
                clen = (size_t) (end - c);
            if (clen > 0) {
                size_t tl = (size_t) (colon - p);

                re = cdc_xmalloc(tl + 1 + clen + 1);
                memcpy(re, p, tl);
                re[tl] = '.';
                memcpy(re + tl + 1, c, clen);
                re[tl + 1 + clen] = '\0';
                rc = relist_compile(l, re, "source.message_key_columns", err);
                free(re);
                if (rc < 0)
                    return -1;
            }
            c += clen + 1;
        }
        p = *end ? end + 1 : end;
    }
    return 0;
}

static int
kind_order(const rule *r)
{
    return r->kind == RULE_TRUNCATE ? 0 : r->kind == RULE_MASK ? 1 : 1 + r->version;
}

agent_colfilter *
agent_colfilter_new(const cfg_source *src, cdc_err *err)
{
    agent_colfilter *f = cdc_xcalloc(1, sizeof(*f));
    const char      *inc = src->column_include_list, *exc = src->column_exclude_list;

    f->has_include = inc && *inc;
    f->has_exclude = exc && *exc;
    if (f->has_include && f->has_exclude) {
        cdc_err_set(err, CDC_E_CONFIG, "source.column_include_list and "
                    "source.column_exclude_list are both set: Debezium takes one or the other");
        goto fail;
    }
    if ((f->has_include &&
         relist_compile(&f->include, inc, "source.column_include_list", err) < 0) ||
        (f->has_exclude &&
         relist_compile(&f->exclude, exc, "source.column_exclude_list", err) < 0))
        goto fail;
    if (parse_key_columns(&f->keycols, src->message_key_columns, err) < 0)
        goto fail;
    if ((src->column_propagate_source_type &&
         relist_compile(&f->propcol, src->column_propagate_source_type,
                        "source.column_propagate_source_type", err) < 0) ||
        (src->datatype_propagate_source_type &&
         relist_compile(&f->proptype, src->datatype_propagate_source_type,
                        "source.datatype_propagate_source_type", err) < 0))
        goto fail;
    f->rules = cdc_xcalloc((size_t) src->column_masks.n + 1, sizeof(*f->rules));
    /* Debezium registers truncations, then masks, then v1 and v2 hashes: the first wins */
    for (int order = 0; order < 4; order++) {
        for (int i = 0; i < src->column_masks.n; i++) {
            const cfg_kv *kv = &src->column_masks.items[i];
            rule          r;

            if (parse_rule(kv->key, &r, err) < 0) {
                rule_free(&r);
                goto fail;
            }
            if (kind_order(&r) != order) {
                rule_free(&r);
                continue;
            }
            if (relist_compile(&r.cols, kv->value, r.what, err) < 0) {
                cdc_err_wrap(err, "source.column_masks");
                rule_free(&r);
                goto fail;
            }
            f->rules[f->nrules++] = r;
        }
    }
    return f;
fail:
    agent_colfilter_free(f);
    return NULL;
}

int
agent_colfilter_check(const cfg_source *src, cdc_err *err)
{
    agent_colfilter *f = agent_colfilter_new(src, err);

    agent_colfilter_free(f);
    return f ? 0 : -1;
}

/* MaskStrings acts on JDBC CHAR/VARCHAR/LONGVARCHAR columns: PostgreSQL's text,
   varchar, bpchar, "char" and name. */
static bool
is_text_type(const cdc_col *col)
{
    switch (col->type_oid) {
    case 25: case 1043: case 1042: case 18: case 19:
        return true;
    default:
        return false;
    }
}

/* Column.length() as the PostgreSQL connector has it (pgjdbc's precision). */
static int32_t
column_length(const cdc_col *col)
{
    if ((col->type_oid == 1043 || col->type_oid == 1042) && col->typmod >= 4)
        return col->typmod - 4;
    if (col->type_oid == 18)
        return 1;
    return JAVA_INT_MAX;
}

static bool
is_plain_bytes(const cdc_col *col)
{
    return col->ctype.kind == CDC_CT_BYTES && col->ctype.sem == CDC_SEM_NONE;
}

/* The message key from message.key.columns, when one of its regexes names a column of rel:
   candidates in the order of the regexes, each column once; the table's key otherwise. */
static void
apply_key_columns(const agent_colfilter *f, cdc_rel *rel)
{
    int *pos, n = 0;

    if (f->keycols.n == 0 || rel->ncols == 0)
        return;
    pos = cdc_xcalloc((size_t) rel->ncols, sizeof(*pos));
    for (int k = 0; k < f->keycols.n; k++) {
        relist one = { &f->keycols.re[k], &f->keycols.src[k], &f->keycols.hits[k], 1 };

        for (int i = 0; i < rel->ncols; i++)
            if (pos[i] == 0 && relist_matches(&one, rel->nspname, rel->relname,
                                              rel->cols[i].name))
                pos[i] = ++n;
    }
    if (n > 0) {
        for (int i = 0; i < rel->ncols; i++)
            rel->cols[i].key_pos = pos[i];
        rel->nkeys = n;
    }
    free(pos);
}

/*
 * pgjdbc's TypeInfoCache as Debezium's PostgreSQL connector reads it for a streamed
 * relation (PostgresType.length/scale: the precision, or the display size when it is 0;
 * an array's are its element's).  oid is the type, typmod the column's modifier.
 */
static int32_t
pg_display_size(uint32_t oid, int32_t typmod)
{
    int32_t secs = typmod == -1 ? 7 : typmod == 0 ? 0 : typmod == 1 ? 3 : typmod + 1;

    switch (oid) {
    case 1082: return 13;                       /* date */
    case 1083: return 8 + secs;                 /* time */
    case 1266: return 8 + secs + 6;             /* timetz */
    case 1114: return 22 + secs;                /* timestamp */
    case 1184: return 22 + secs + 6;            /* timestamptz */
    case 1186: return 49;                       /* interval */
    case 1700: return 131089;                   /* numeric without precision */
    default:   return JAVA_INT_MAX;
    }
}

static int32_t
pg_precision(uint32_t oid, int32_t typmod)
{
    switch (oid) {
    case 21:   return 5;                        /* int2 */
    case 23: case 26: return 10;                /* int4, oid */
    case 20:   return 19;                       /* int8 */
    case 700:  return 8;                        /* float4 */
    case 701:  return 17;                       /* float8 */
    case 1700: return typmod == -1 ? 0 : ((typmod - 4) >> 16) & 0xffff;
    case 18: case 16: return 1;                 /* "char", bool */
    case 1042: case 1043: return typmod == -1 ? JAVA_INT_MAX : typmod - 4;
    case 1082: case 1083: case 1266: case 1114: case 1184: case 1186:
        return pg_display_size(oid, typmod);
    case 1560: return typmod;                   /* bit */
    case 1562: return typmod == -1 ? JAVA_INT_MAX : typmod;
    default:   return JAVA_INT_MAX;
    }
}

static int32_t
pg_scale(uint32_t oid, int32_t typmod)
{
    switch (oid) {
    case 700:  return 8;
    case 701:  return 17;
    case 1700: return typmod == -1 ? 0 : (typmod - 4) & 0xffff;
    case 1083: case 1266: case 1114: case 1184: return typmod == -1 ? 6 : typmod;
    case 1186: return typmod == -1 ? 6 : typmod & 0xffff;
    default:   return 0;
    }
}

/* Counts the hits of every mapper regex on a kept column, the first rule's and those
   it shadows: a regex that names a column is not "matching nothing". */
static void
count_hits(const agent_colfilter *f, const cdc_rel *rel, const cdc_col *col)
{
    char name[3 * 256 + 3];

    for (int r = 0; r < f->nrules; r++)
        relist_matches(&f->rules[r].cols, rel->nspname, rel->relname, col->name);
    relist_matches(&f->propcol, rel->nspname, rel->relname, col->name);
    snprintf(name, sizeof(name), "%s.%s.%s", rel->nspname, rel->relname,
             col->typname ? col->typname : "");
    agent_relist_match(&f->proptype, name);
}

/*
 * The type name Debezium's snapshot reads from JDBC (DatabaseMetaData.getColumns): pgjdbc
 * calls an integer column whose default calls nextval() serial, bigserial or smallserial.
 */
static const char *
jdbc_typname(const cdc_col *col, const char *typname)
{
    if (col->default_expr == NULL || strstr(col->default_expr, "nextval(") == NULL)
        return typname;
    return col->type_oid == 23 ? "serial" : col->type_oid == 20 ? "bigserial"
         : col->type_oid == 21 ? "smallserial" : typname;
}

static bool
propagate_match(const agent_colfilter *f, const cdc_rel *rel, const cdc_col *col,
                const char *typname)
{
    char name[3 * 256 + 3];

    if (relist_matches(&f->propcol, rel->nspname, rel->relname, col->name))
        return true;
    snprintf(name, sizeof(name), "%s.%s.%s", rel->nspname, rel->relname, typname);
    return agent_relist_match(&f->proptype, name);
}

/*
 * column.propagate.source.type / datatype.propagate.source.type on a column of rel.
 * Debezium's stream takes the type from the relation (pgjdbc's TypeInfoCache), its
 * snapshot from JDBC's getColumns: a serial's name, an unbounded numeric's length 0 and no
 * scale.  A relation the snapshot installed from the catalog gets the snapshot's values and
 * is renewed by the stream's first Relation message when they differ, as Debezium's
 * schema changes there.
 */
static bool
propagates(const agent_colfilter *f, cdc_rel *rel, cdc_col *col)
{
    const char *typname = col->typname ? col->typname : "";
    const char *snap = rel->from_catalog ? jdbc_typname(col, typname) : typname;
    uint32_t    oid = col->elem_oid ? col->elem_oid : col->base_oid ? col->base_oid
                                                                     : col->type_oid;
    bool        unbounded = oid == 1700 && col->typmod == -1 && !col->elem_oid;
    bool        m = propagate_match(f, rel, col, snap);

    if (rel->from_catalog && (snap != typname || unbounded) &&
        (m || propagate_match(f, rel, col, typname)))
        rel->renew = true;
    if (!m)
        return false;
    /* a domain: its base type's (Debezium's TypeRegistry walks the hierarchy) */
    col->ctype.mapped = CDC_MAP_SOURCE_TYPE;
    col->ctype.src_type = snap;                 /* written in upper case */
    col->ctype.src_length = pg_precision(oid, col->typmod);
    col->ctype.src_scale = pg_scale(oid, col->typmod);
    if (rel->from_catalog && unbounded)
        col->ctype.src_scale = CDC_SRC_SCALE_NONE;      /* JDBC: length 0, scale null */
    else if (col->ctype.src_length == 0)
        col->ctype.src_length = pg_display_size(oid, col->typmod);
    col->ctype.src_column = col->name;
    return true;
}

int
agent_colfilter_apply_rel(const agent_colfilter *f, cdc_rel *rel, const char *binary_mode,
                          cdc_err *err)
{
    apply_key_columns(f, rel);
    for (int i = 0; i < rel->ncols; i++) {
        cdc_col *col = &rel->cols[i];
        bool     out = false;

        col->filtered = false;
        col->mapper = 0;
        if (f->has_include)
            out = !relist_matches(&f->include, rel->nspname, rel->relname, col->name);
        else if (f->has_exclude)
            out = relist_matches(&f->exclude, rel->nspname, rel->relname, col->name);
        if (out && col->key_pos > 0)
            return cdc_err_set(err, CDC_E_CONFIG, "source.column_%s_list leaves out column %s "
                               "of table %s.%s, which is in the message key: cdcagent keeps "
                               "key columns (Debezium would keep it in the key and drop it "
                               "from the value only); change the list or "
                               "source.message_key_columns", f->has_include ? "include"
                               : "exclude", col->name, rel->nspname, rel->relname);
        if (out) {
            col->filtered = true;
            col->ctype.supported = false;
            continue;
        }
        /* Debezium's order: truncations, masks, the source type settings, then hashes */
        bool prop_done = false;

        count_hits(f, rel, col);
        for (int r = 0; r <= f->nrules; r++) {
            const rule *ru = r < f->nrules ? &f->rules[r] : NULL;

            if (!prop_done && (ru == NULL || ru->kind == RULE_HASH)) {
                prop_done = true;
                if (col->ctype.supported && propagates(f, rel, col))
                    break;
            }
            if (ru == NULL)
                break;
            if (!relist_matches(&ru->cols, rel->nspname, rel->relname, col->name))
                continue;
            if (col->key_pos > 0)
                return cdc_err_set(err, CDC_E_CONFIG, "source.column_masks: %s matches column "
                                   "%s of table %s.%s, which is in the message key: Debezium "
                                   "sends key columns unmasked, so cdcagent refuses; change "
                                   "the list or source.message_key_columns", ru->what,
                                   col->name, rel->nspname, rel->relname);
            if (!col->ctype.supported)
                break;
            if (ru->kind == RULE_TRUNCATE) {
                int32_t len = column_length(col);

                if (!is_text_type(col) && !is_plain_bytes(col))
                    return cdc_err_set(err, CDC_E_UNSUPPORTED, "source.column_masks: %s "
                                       "matches column %s of table %s.%s, of type %s: cdcagent "
                                       "truncates text and bytea columns only", ru->what,
                                       col->name, rel->nspname, rel->relname,
                                       col->type_name ? col->type_name : "?");
                if (is_plain_bytes(col) && binary_mode && strcmp(binary_mode, "bytes") != 0)
                    return cdc_err_set(err, CDC_E_UNSUPPORTED, "source.column_masks: %s "
                                       "matches bytea column %s of table %s.%s: with "
                                       "binary_handling_mode %s Debezium truncates the encoded "
                                       "text, which cdcagent does not do", ru->what, col->name,
                                       rel->nspname, rel->relname, binary_mode);
                if (len <= ru->chars)
                    break;      /* TruncateColumn.isTruncationPossible: no mapper at all */
                col->ctype.mapped = CDC_MAP_TRUNCATED;
                col->ctype.trunc_len = ru->chars;
            } else {
                col->ctype.mapped = CDC_MAP_MASKED;
                if (!is_text_type(col))
                    log_warn(CF_FAC, "%s matches column %s of table %s.%s, of type %s: as in "
                             "Debezium, only text columns are masked; its schema says "
                             "masked but its values pass unchanged", ru->what, col->name,
                             rel->nspname, rel->relname, col->type_name ? col->type_name : "?");
            }
            col->mapper = (int16_t) (r + 1);
            break;
        }
    }
    return 0;
}

bool
agent_colfilter_filters(const agent_colfilter *f)
{
    return f->has_include || f->has_exclude;
}

bool
agent_colfilter_keeps(const agent_colfilter *f, const char *schema, const char *table,
                      const char *column)
{
    if (f->has_include)
        return relist_matches(&f->include, schema, table, column);
    if (f->has_exclude)
        return !relist_matches(&f->exclude, schema, table, column);
    return true;
}

bool
agent_colfilter_maps(const cdc_rel *rel)
{
    for (int i = 0; i < rel->ncols; i++)
        if (rel->cols[i].mapper > 0)
            return true;
    return false;
}

void
agent_colfilter_map_row(const agent_colfilter *f, const cdc_rel *rel, cdc_value *vals,
                        const char *placeholder, cdc_arena *a)
{
    for (int i = 0; i < rel->ncols; i++) {
        const cdc_col *col = &rel->cols[i];
        const rule    *ru;
        cdc_value     *v = &vals[i];
        const char    *s;
        size_t         n;

        if (col->mapper <= 0 || col->mapper > f->nrules || !col->ctype.supported)
            continue;
        ru = &f->rules[col->mapper - 1];
        if (ru->kind != RULE_TRUNCATE && !is_text_type(col))
            continue;                   /* MaskStrings passes other types through */
        if (v->state == CDC_VAL_NULL) {
            if (ru->kind == RULE_MASK) {  /* MaskingValueConverter returns the mask for null too */
                v->state = CDC_VAL_PRESENT;
                v->u.s.p = ru->mask;
                v->u.s.n = (size_t) ru->chars;
            }
            continue;
        }
        if (v->state == CDC_VAL_UNCHANGED) {  /* Debezium's converters see the placeholder */
            s = placeholder ? placeholder : "__debezium_unavailable_value";
            n = strlen(s);
        } else {
            s = v->u.s.p;
            n = v->u.s.n;
        }
        v->state = CDC_VAL_PRESENT;
        switch (ru->kind) {
        case RULE_MASK:
            v->u.s.p = ru->mask;
            v->u.s.n = (size_t) ru->chars;
            break;
        case RULE_HASH: {
            char hex[129];
            int  h = agent_hash_mask(ru->alg, ru->version, ru->salt, s, n, column_length(col),
                                     hex);

            v->u.s.p = cdc_arena_strndup(a, hex, h > 0 ? (size_t) h : 0);
            v->u.s.n = h > 0 ? (size_t) h : 0;
            break;
        }
        case RULE_TRUNCATE:
            v->u.s.p = s;
            v->u.s.n = is_plain_bytes(col) ? (n > (size_t) ru->chars ? (size_t) ru->chars : n)
                                           : agent_utf16_prefix(s, n, (size_t) ru->chars);
            break;
        }
    }
}

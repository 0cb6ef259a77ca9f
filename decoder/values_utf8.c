/*
 * Text that is not UTF-8, from a database whose server_encoding is not UTF8
 * (SQL_ASCII stores whatever bytes a client sent).  pgoutput and COPY hand
 * those bytes over unconverted; the JSON encoder must still write valid
 * UTF-8, so it replaces each maximal ill-formed subpart of a value by U+FFFD
 * (mostly as Java's decoder does; agent/core/cdc_utf8.h says where not) and
 * writes an ill-formed column name with \xNN escapes (docs/debezium-compat.md,
 * "Text that is not UTF-8").  This file makes that visible: a warning once
 * per table and column, and the count of such values per table in /metrics
 * (cdcagent_invalid_utf8_values_total).
 *
 * Checking costs a scan of every string value, so it runs only once the
 * agent has seen a source whose encoding is not UTF8 (pgo_utf8_check_set).
 */
#include "decoder/values.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "agent/core/cdc_counters.h"
#include "agent/core/cdc_log.h"
#include "agent/core/cdc_utf8.h"

static atomic_bool g_check;

/* The (table, column) pairs already warned about: FNV-1a hashes, bounded. */
#define WARNED_MAX 1024
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static uint64_t        g_warned[WARNED_MAX];
static int             g_nwarned;

void
pgo_utf8_check_set(bool on)
{
    atomic_store(&g_check, on);
}

bool
pgo_utf8_check_on(void)
{
    return atomic_load_explicit(&g_check, memory_order_relaxed);
}

/*
 * s with the bytes that are not UTF-8 and controls as \xNN, cut to fit out (at a character's
 * end): valid non-ASCII text ('café') stays as it is, in the warnings and the metric's label.
 */
static const char *
shown(const char *s, char *out, size_t cap)
{
    static const char    hex[] = "0123456789ABCDEF";
    const unsigned char *p = (const unsigned char *) s, *end = p + strlen(s);
    size_t               o = 0;

    while (p < end) {
        size_t n = 1;

        if (*p >= 0x80) {   /* the sequence its lead byte announces, if it is valid */
            n = *p >= 0xF0 ? 4 : *p >= 0xE0 ? 3 : 2;
            if ((size_t) (end - p) < n || !cdc_utf8_valid((const char *) p, n))
                n = 1;
        }
        if (*p >= 0x20 && (*p < 0x80 || n >= 2)) {
            if (o + n >= cap)
                break;
            memcpy(out + o, p, n);
            o += n;
            p += n;
            continue;
        }
        if (o + 5 > cap)
            break;
        out[o++] = '\\';
        out[o++] = 'x';
        out[o++] = hex[*p >> 4];
        out[o++] = hex[*p & 0xF];
        p++;
    }
    out[o] = '\0';
    return out;
}

/* True the first time (rel, column, what) is seen. */
static bool
first_time(const cdc_rel *rel, const char *col, const char *what)
{
    const char *parts[4] = { rel->nspname, rel->relname, col, what };
    uint64_t    h = 1469598103934665603ULL;
    bool        first = true;

    for (int i = 0; i < 4; i++) {
        for (const unsigned char *p = (const unsigned char *) (parts[i] ? parts[i] : ""); *p; p++)
            h = (h ^ *p) * 1099511628211ULL;
        h = (h ^ 0xFF) * 1099511628211ULL;
    }
    pthread_mutex_lock(&g_mu);
    for (int i = 0; i < g_nwarned; i++)
        if (g_warned[i] == h)
            first = false;
    if (first && g_nwarned < WARNED_MAX)
        g_warned[g_nwarned++] = h;
    else if (first)
        first = false;  /* past the bound: the counter still counts */
    pthread_mutex_unlock(&g_mu);
    return first;
}

void
pgo_utf8_check_names(const cdc_rel *rel)
{
    char raw[200], tn[200], cn[200];

    if (!pgo_utf8_check_on())
        return;
    for (int i = 0; i < rel->ncols; i++) {
        const char *name = rel->cols[i].name;

        if (name == NULL || cdc_utf8_valid(name, strlen(name)) || !first_time(rel, name, "name"))
            continue;
        snprintf(raw, sizeof(raw), "%s.%s", rel->nspname, rel->relname);
        shown(raw, tn, sizeof(tn));
        shown(name, cn, sizeof(cn));
        log_warn("pgo", "table %s: column name \"%s\" is not valid UTF-8 (the database's "
                 "encoding is not UTF8): JSON writes its invalid bytes as \\xNN", tn, cn);
    }
}

static bool
value_valid(const cdc_ctype *ct, const cdc_value *v)
{
    if (v->state != CDC_VAL_PRESENT)
        return true;
    if (ct->kind == CDC_CT_STRING)
        return cdc_utf8_valid(v->u.s.p, v->u.s.n);
    if (ct->kind == CDC_CT_ARRAY && ct->elem_kind == CDC_CT_STRING) {
        for (size_t i = 0; i < v->u.arr.n; i++)
            if (v->u.arr.items[i].state == CDC_VAL_PRESENT &&
                !cdc_utf8_valid(v->u.arr.items[i].u.s.p, v->u.arr.items[i].u.s.n))
                return false;
    }
    return true;
}

/* after: an update's new row, already checked (vals is then its old row). */
static void
check_row(const cdc_rel *rel, const cdc_value *vals, const cdc_value *after)
{
    char raw[CDC_COUNTERS_LABEL_MAX], label[CDC_COUNTERS_LABEL_MAX], cn[200];

    if (vals == NULL || !pgo_utf8_check_on())
        return;
    for (int i = 0; i < rel->ncols; i++) {
        const cdc_col *col = &rel->cols[i];

        if (!col->ctype.supported || value_valid(&col->ctype, &vals[i]) ||
            (after && !value_valid(&col->ctype, &after[i])))
            continue;   /* valid, or counted with the new row: once per column and event */
        snprintf(raw, sizeof(raw), "%s.%s", rel->nspname, rel->relname);
        shown(raw, label, sizeof(label));
        cdc_counter_add(CDC_CTR_INVALID_UTF8, label, 1);
        if (first_time(rel, col->name, "value")) {
            shown(col->name, cn, sizeof(cn));
            log_warn("pgo", "table %s: column %s holds text that is not valid UTF-8 (the "
                     "database's encoding is not UTF8): each invalid sequence is written as "
                     "U+FFFD; counted in cdcagent_invalid_utf8_values_total, warned once",
                     label, cn);
        }
    }
}

void
pgo_utf8_check_row(const cdc_rel *rel, const cdc_value *vals)
{
    check_row(rel, vals, NULL);
}

void
pgo_utf8_check_old_row(const cdc_rel *rel, const cdc_value *vals, const cdc_value *after)
{
    check_row(rel, vals, after);
}

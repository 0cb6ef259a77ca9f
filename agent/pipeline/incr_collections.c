/*
 * The tables a signal names (agent/pipeline/incr_int.h): Debezium's
 * expandDataCollectionIds and its additional-conditions, each entry a Java
 * regular expression (Pattern.compile(x).matcher(id).matches(): the whole
 * "schema.table", case-sensitive), run as a POSIX extended one
 * (agent_java_regex); and the list of tables a snapshot reads.
 */
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "agent/core/cdc_err.h"
#include "agent/core/cdc_log.h"
#include "agent/core/cdc_mem.h"
#include "agent/pipeline/incr_int.h"
#include "agent/source/colfilter.h"

void
incr_tables_free(agent_incr *in)
{
    for (int i = 0; i < in->ntables; i++) {
        free(in->tables[i].name);
        free(in->tables[i].cond);
    }
    free(in->tables);
    in->tables = NULL;
    in->ntables = 0;
}

void
incr_table_add(agent_incr *in, const char *name, const char *cond)
{
    in->tables = cdc_xrealloc(in->tables, (size_t) (in->ntables + 1) * sizeof(*in->tables));
    in->tables[in->ntables].name = cdc_xstrdup(name);
    in->tables[in->ntables].cond = cond && *cond ? cdc_xstrdup(cond) : NULL;
    in->ntables++;
}

static bool
listed(json_t *names, const char *name)
{
    json_t *v;
    size_t  i;

    json_array_foreach(names, i, v)
        if (strcmp(json_string_value(v), name) == 0)
            return true;
    return false;
}

json_t *
incr_expand(const agent_incr *in, const char *id, json_t *dcs)
{
    json_t *out = json_array(), *v;
    size_t  i;

    json_array_foreach(dcs, i, v) {
        const char *pat = json_string_value(v);
        regex_t     re;
        cdc_err     err = { 0 };
        int         hits = 0;
        bool        exact = false;

        if (pat == NULL) {
            log_warn("incr", "signal %s: data-collections entry %zu is not a string: skipped", id,
                     i);
            continue;
        }
        if (agent_java_regex(&re, pat, "data-collections", &err) < 0) {
            log_warn("incr", "signal %s: %s: skipped", id, err.msg);
            cdc_err_clear(&err);
            continue;
        }
        for (int t = 0; t < in->src->ntables; t++) {
            const char *name = in->src->tables[t];

            exact = exact || strcmp(name, pat) == 0;
            if (regexec(&re, name, 0, NULL, 0) != 0)
                continue;
            hits++;
            if (!listed(out, name))
                json_array_append_new(out, json_string(name));
        }
        regfree(&re);
        if (hits == 0 && exact) {
            /* Debezium keeps an entry that matches nothing as a name. */
            if (!listed(out, pat))
                json_array_append_new(out, json_string(pat));
        } else if (hits == 0) {
            log_warn("incr", "signal %s: data collection \"%s\" matches no table of "
                     "source.tables (as a regular expression over the whole schema.table, "
                     "case-sensitive): skipped", id, pat);
        } else if (hits > 1 || !exact) {
            log_info("incr", "signal %s: data collection \"%s\" matches %d table(s) of "
                     "source.tables", id, pat, hits);
        }
    }
    return out;
}

const char *
incr_condition_for(const agent_incr *in, const char *id, json_t *data, const char *name)
{
    json_t *conds = json_object_get(data, "additional-conditions"), *c;
    size_t  i;

    (void) in;
    json_array_foreach(conds, i, c) {
        const char *dc = json_string_value(json_object_get(c, "data-collection"));
        regex_t     re;
        cdc_err     err = { 0 };
        bool        match;

        if (dc == NULL)
            continue;
        if (agent_java_regex(&re, dc, "additional-conditions data-collection", &err) < 0) {
            log_warn("incr", "signal %s: %s: that condition is not applied", id, err.msg);
            cdc_err_clear(&err);
            continue;
        }
        match = regexec(&re, name, 0, NULL, 0) == 0;
        regfree(&re);
        if (match)
            return json_string_value(json_object_get(c, "filter"));
    }
    return json_string_value(json_object_get(data, "additional-condition"));
}

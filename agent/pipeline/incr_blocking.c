/* The blocking snapshot asked for by an execute-snapshot signal (agent/pipeline/incr.h). */
#include <jansson.h>
#include <stdio.h>

#include "agent/core/cdc_log.h"
#include "agent/pipeline/incr_int.h"

/* The blocking snapshot's tables: the snapshot's own list swapped in, so its helpers serve. */
static void
blocking_swap(agent_incr *in)
{
    incr_table *t = in->tables;
    int         n = in->ntables;

    in->tables = in->blk;
    in->ntables = in->nblk;
    in->blk = t;
    in->nblk = n;
}

void
incr_blocking_clear(agent_incr *in)
{
    blocking_swap(in);
    incr_tables_free(in);
    blocking_swap(in);
    in->blk_id[0] = '\0';
}

void
incr_blocking_add(agent_incr *in, const char *name, const char *cond)
{
    blocking_swap(in);
    incr_table_add(in, name, cond);
    blocking_swap(in);
}

int
agent_incr_blocking(const agent_incr *in, const char **tables, const char **conds, int max)
{
    int n = 0;

    if (in == NULL || in->blk_id[0] == '\0')
        return 0;
    for (int i = 0; i < in->nblk && n < max; i++, n++) {
        tables[n] = in->blk[i].name;
        conds[n] = in->blk[i].cond;
    }
    return n;
}

int
incr_blocking_request(agent_incr *in, const char *id, json_t *data)
{
    json_t *v, *names;
    size_t  i;

    if (in->blk_id[0] != '\0') {
        log_warn("incr", "signal %s: a blocking snapshot (%s) is already waiting: ignored", id,
                 in->blk_id);
        return 0;
    }
    names = incr_expand(in, id, json_object_get(data, "data-collections"));
    json_array_foreach(names, i, v) {
        const char *name = json_string_value(v);

        incr_blocking_add(in, name, incr_condition_for(in, id, data, name));
    }
    json_decref(names);
    if (in->nblk == 0) {
        log_warn("incr", "signal %s: blocking execute-snapshot without a table of "
                 "source.tables: ignored", id);
        return 0;
    }
    snprintf(in->blk_id, sizeof(in->blk_id), "%s", id);
    log_info("incr", "signal %s: blocking snapshot of %d table(s): streaming pauses after this "
             "transaction while they are read", id, in->nblk);
    return 1;
}

/*
 * The verify report: what one comparison found for one table, filled by
 * verify_pg.c and verify_jsonl.c and printed by verify.c.  Calls go one way:
 * verify.c -> verify_pg.c / verify_jsonl.c -> verify_report.c.
 */
#include "agent/cmd/verify_report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
verify_add_diff(verify_table *t, verify_kind kind, json_t *key, char *row, char *detail)
{
    if (t->ndiffs == VERIFY_MAX_DIFFS) {
        t->more = true;
        json_decref(key);
        free(row);
        free(detail);
        return;
    }
    t->diffs[t->ndiffs++] = (verify_diff) { kind, key, row, detail };
}

void
verify_table_clear(verify_table *t)
{
    for (int i = 0; i < t->ndiffs; i++) {
        json_decref(t->diffs[i].key);
        free(t->diffs[i].row);
        free(t->diffs[i].detail);
    }
    memset(t, 0, sizeof(*t));
}

void
verify_key_names(const cdc_rel *rel, char *out, size_t outsz)
{
    size_t len = 0;

    out[0] = '\0';
    for (int k = 1; k <= rel->nkeys; k++)
        for (int i = 0; i < rel->ncols; i++)
            if (rel->cols[i].key_pos == k && len < outsz) {
                snprintf(out + len, outsz - len, "%s%s", len ? ", " : "", rel->cols[i].name);
                len = strlen(out);
            }
}

/*
 * LSNs (WAL positions) as PostgreSQL writes them: "X/Y", two hex halves.
 */
#ifndef CDC_AGENT_CORE_CDC_LSN_H
#define CDC_AGENT_CORE_CDC_LSN_H

#include <stdint.h>

#define CDC_LSN_STRLEN 18   /* "FFFFFFFF/FFFFFFFF" plus NUL */

/* Parses "X/Y"; returns 0, or -1 when s is not an LSN. */
int   cdc_lsn_parse(const char *s, uint64_t *out);
/* Writes "X/Y" into out (at least CDC_LSN_STRLEN bytes); returns out. */
char *cdc_lsn_format(uint64_t lsn, char *out);

#endif

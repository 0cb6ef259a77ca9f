/*
 * What the JSON (json*.c) and Avro (avro*.c) encodings share of Debezium's
 * record shapes: the key columns in key order, the source block's sequence
 * text and which of its optional fields are present, the WKB bytes of a
 * Point, and where nanosecond time stamps stop fitting.  One rule each, so
 * that both encodings of an event say the same thing.
 */
#ifndef CDC_SCHEMAS_DEBEZIUM_H
#define CDC_SCHEMAS_DEBEZIUM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/core/cdc_event.h"
#include "agent/core/cdc_rel.h"

/*
 * The key columns in key order: from *k = 0, each call moves *k to the next
 * key position (up to rel->nkeys) that has a supported column and @returns
 * that column's index in rel->cols, then -1 when there is none left.
 *   for (int k = 0, i; (i = sch_dbz_key_next(rel, &k)) >= 0; ) ...
 */
int sch_dbz_key_next(const cdc_rel *rel, int *k);

/* Room for sch_dbz_sequence's text: two quoted 20-digit LSNs and punctuation. */
#define SCH_DBZ_SEQUENCE_MAX 64

/*
 * source.sequence: the JSON text ["<lastCommitLsn>","<lsn>"] (compact
 * Jackson output of a String[]); a zero LSN is unknown and becomes null,
 * and snapshot rows have no previous commit.  Written to out (not
 * NUL-terminated).  @returns its length.
 */
size_t sch_dbz_sequence(const cdc_event *ev, char out[SCH_DBZ_SEQUENCE_MAX]);

/*
 * source.txId and source.lsn: incremental snapshot rows carry neither
 * (CONTRACT 2.3), and a non-transactional logical message has no txId.
 */
bool sch_dbz_source_has_txid(const cdc_event *ev);
bool sch_dbz_source_has_lsn(const cdc_event *ev);

/* The 21-byte little-endian WKB point Debezium's Point.buildWKBPoint writes. */
void sch_dbz_wkb_point(unsigned char out[21], double x, double y);

/* Past about 2262 AD nanoseconds do not fit in a long: the optional ts_ns field is null. */
static inline bool
sch_dbz_ns_fits(int64_t us)
{
    return us <= INT64_MAX / 1000 && us >= INT64_MIN / 1000;
}

#endif

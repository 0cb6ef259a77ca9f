/*
 * Column values from pgoutput's text format to typed cdc_values, for every
 * type in CONTRACT.md's mapping: exact numerics (with NaN and infinities),
 * arrays, enums, json/jsonb, uuid, bytea, bit strings, every date/time type,
 * intervals, geometric points, and the unchanged-TOAST marker.  Text is
 * what PostgreSQL's output functions print under the session settings the
 * agent forces on its connections (DateStyle ISO, IntervalStyle postgres,
 * bytea_output hex, extra_float_digits 3, TimeZone UTC).
 */
#ifndef CDC_DECODER_VALUES_H
#define CDC_DECODER_VALUES_H

#include <stdbool.h>
#include <stddef.h>

#include "agent/core/cdc_arena.h"
#include "agent/core/cdc_err.h"
#include "agent/core/cdc_rel.h"
#include "agent/core/cdc_value.h"
#include "decoder/pgoutput.h"
#include "decoder/typemap.h"

/*
 * Decodes one text datum of `col` (whose ctype is set) into *out.
 * Memory for strings and bytes comes from the arena.
 * @returns 0, or -1 with err set (CDC_E_DECODE naming the column and the text).
 */
int pgo_value_from_text(const cdc_col *col, const char *text, size_t len,
                        const pgo_type_opts *opts, cdc_arena *arena, cdc_value *out,
                        cdc_err *err);

/*
 * The same, but a string value may point into text instead of being copied,
 * and a bytea (binary_handling_mode bytes) is decoded over the text itself:
 * for a caller whose text lives as long as the values and is not needed
 * after (agent/pipeline/snapshot.c unescapes each COPY field into the arena the
 * values live in).
 */
int pgo_value_from_text_borrow(const cdc_col *col, char *text, size_t len,
                               const pgo_type_opts *opts, cdc_arena *arena, cdc_value *out,
                               cdc_err *err);

/*
 * Decodes a whole tuple into rel->ncols values (arena memory): 'n' gives
 * CDC_VAL_NULL, 'u' gives CDC_VAL_UNCHANGED, 't' is decoded; 'b' (binary)
 * is refused since the agent never asks for it.  Columns whose ctype is not
 * supported are left CDC_VAL_NULL.  String values point into the tuple's
 * data (the message), so the message must outlive the values.  A value over
 * opts->max_value_bytes (bytea counted in bytes, not hex) is refused with
 * CDC_E_CONFIG naming agent.max_value_mb.
 * @returns the values, or NULL with err set (naming the relation and column).
 */
cdc_value *pgo_tuple_values(const cdc_rel *rel, const pgo_tuple *tup,
                            const pgo_type_opts *opts, cdc_arena *arena, cdc_err *err);
/*
 * The old row of an update (REPLICA IDENTITY FULL, or the key of a key change), decoded as
 * pgo_tuple_values() does, after its new row `after`: a column whose text is not UTF-8 in
 * both rows is counted once for the event (in cdcagent_invalid_utf8_values_total), not twice.
 */
cdc_value *pgo_tuple_values_old(const cdc_rel *rel, const pgo_tuple *tup,
                                const cdc_value *after, const pgo_type_opts *opts,
                                cdc_arena *arena, cdc_err *err);

/*
 * Text that is not UTF-8 (values_utf8.c).  pgo_utf8_check_set(true) once a
 * source's server_encoding is not UTF8; then pgo_utf8_check_row() counts
 * every string value (or string array) of a decoded row that is not valid
 * UTF-8 in cdcagent_invalid_utf8_values_total{table} and warns once per
 * table and column, and pgo_utf8_check_names() warns once per column name
 * that is not.  Both do nothing while the check is off.
 */
void pgo_utf8_check_set(bool on);
bool pgo_utf8_check_on(void);
void pgo_utf8_check_row(const cdc_rel *rel, const cdc_value *vals);
/* As pgo_utf8_check_row() for an update's old row: columns also invalid in after not counted. */
void pgo_utf8_check_old_row(const cdc_rel *rel, const cdc_value *vals, const cdc_value *after);
void pgo_utf8_check_names(const cdc_rel *rel);

#endif

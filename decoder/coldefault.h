/*
 * The schema default a column's default expression gives (CONTRACT.md
 * section 4.5), for the type mapper (typemap.c) once col->ctype is set.
 */
#ifndef CDC_DECODER_COLDEFAULT_H
#define CDC_DECODER_COLDEFAULT_H

#include "agent/core/cdc_rel.h"
#include "decoder/typemap.h"

/*
 * Sets col->has_default and col->def from col->default_expr (memory from
 * pgo_rel_alloc on rel).  An expression that gives no default leaves none;
 * one whose literal does not decode is logged as a warning and left out.
 * @returns 0.
 */
int pgo_coldefault_set(cdc_rel *rel, cdc_col *col, const pgo_type_opts *o);

#endif

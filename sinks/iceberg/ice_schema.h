/*
 * Iceberg types and schemas (format spec, "Schemas and Data Types", and
 * Appendix C for the JSON): the table schema built from a captured
 * PostgreSQL table, its JSON form, and the evolution rules the sink applies
 * when the table changes (new columns get new ids, dropped ones disappear,
 * only the widenings Iceberg allows are accepted).
 *
 * docs/iceberg-types.md is the table ice_type_from_pg() implements.
 *
 * Ownership: an ice_schema owns its fields and their names; the _from_
 * functions return a new schema the caller frees with ice_schema_free().
 */
#ifndef CDC_SINKS_ICEBERG_ICE_SCHEMA_H
#define CDC_SINKS_ICEBERG_ICE_SCHEMA_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/core/cdc_err.h"
#include "agent/core/cdc_rel.h"

typedef enum ice_kind {
    ICE_NONE = 0,
    ICE_BOOLEAN,
    ICE_INT,
    ICE_LONG,
    ICE_FLOAT,
    ICE_DOUBLE,
    ICE_DECIMAL,        /* precision 1..38, scale 0..precision */
    ICE_DATE,           /* days since 1970-01-01 */
    ICE_TIME,           /* microseconds since midnight */
    ICE_TIMESTAMP,      /* microseconds since the epoch, no zone */
    ICE_TIMESTAMPTZ,    /* microseconds since the epoch, UTC */
    ICE_STRING,
    ICE_UUID,
    ICE_FIXED,          /* length bytes */
    ICE_BINARY,
    ICE_LIST            /* of a primitive element (elem_kind, with precision/scale/length) */
} ice_kind;

/* Iceberg's decimal(38) needs 128 bits. */
__extension__ typedef __int128 ice_i128;

#define ICE_DECIMAL_MAX_PRECISION 38

typedef struct ice_type {
    uint8_t kind;           /* ice_kind */
    uint8_t elem_kind;      /* ICE_LIST: the element's kind */
    bool    elem_required;  /* ICE_LIST */
    int32_t elem_id;        /* ICE_LIST: the element's field id */
    int32_t precision;      /* DECIMAL (or a list of them) */
    int32_t scale;
    int32_t length;         /* FIXED */
} ice_type;

typedef struct ice_field {
    int32_t  id;
    char    *name;
    bool     required;
    ice_type type;
} ice_field;

typedef struct ice_schema {
    int32_t    schema_id;
    int        nfields;
    ice_field *fields;
    int        nident;
    int32_t   *ident_ids;   /* identifier-field-ids: the primary key */
} ice_schema;

/* "long", "decimal(10,2)", "fixed[16]", "list<int>": the spec's spelling of
   a primitive (the JSON form), and for messages also of a list.  Returns buf. */
const char *ice_type_str(const ice_type *t, char *buf, size_t size);

/* Parses the JSON spelling of a primitive type ("decimal(10, 2)" included). */
int ice_type_parse(const char *s, ice_type *t, cdc_err *err);

bool ice_type_equal(const ice_type *a, const ice_type *b);

/* Whether a column of type `from` may become `to` (equal types included):
   int to long, float to double, decimal(P,S) to decimal(P2,S) with P2 > P,
   and the same on list elements. */
bool ice_type_promotable(const ice_type *from, const ice_type *to);

/*
 * The Iceberg type of a PostgreSQL column (its domain's base type, its
 * array's element type; type OIDs as pgoutput sends them, typmod for
 * numeric).  Returns NULL when the type maps exactly, or a short note saying
 * what the fallback is ("numeric beyond precision 38: string"), which the
 * caller may log once per column.  Every column maps to something: a type
 * this table does not know becomes a string holding PostgreSQL's text output.
 */
const char *ice_type_from_pg(const cdc_col *col, ice_type *out);

/* ---- schemas ---- */

ice_schema *ice_schema_new(int32_t schema_id);
void        ice_schema_free(ice_schema *s);               /* NULL is a no-op */
ice_schema *ice_schema_dup(const ice_schema *s);

/* Appends a field with id ++*last_column_id (and one more for a list's element).
   Fails on a duplicate name. */
int ice_schema_add(ice_schema *s, const char *name, const ice_type *t, bool required,
                   int32_t *last_column_id, cdc_err *err);

const ice_field *ice_schema_find(const ice_schema *s, const char *name);
const ice_field *ice_schema_find_id(const ice_schema *s, int32_t id);

/*
 * The schema of a captured table: one field per column in column order, key
 * columns required and listed in identifier-field-ids (in key order) when
 * `identifier` is set, every other column optional.  Columns the type
 * mapper left unsupported are mapped too (as strings).  Ids come from
 * *last_column_id, which it advances.
 */
ice_schema *ice_schema_from_rel(const cdc_rel *rel, int32_t schema_id, bool identifier,
                                int32_t *last_column_id, cdc_err *err);

/*
 * The next schema of a table whose source changed: `want` is the schema the
 * new relation maps to (ice_schema_from_rel with a scratch id counter; its
 * ids are ignored).  Columns are matched by name: a known column keeps its
 * id and may widen (ice_type_promotable), a new one gets ++*last_column_id
 * and is optional, a missing one is dropped (a renamed column is both: the
 * name is all that matches).  Anything else fails with a CDC_E_DEST message
 * naming the table, the column and both types; so does a new primary key
 * that takes in a column the table holds as optional (identifier fields must
 * be required, and optional never becomes required).
 * *changed tells whether the result differs from `cur`.
 */
ice_schema *ice_schema_evolve(const ice_schema *cur, const ice_schema *want, const char *table,
                              int32_t new_schema_id, int32_t *last_column_id, bool *changed,
                              cdc_err *err);

/* Same fields (ids, names, types, required) and identifier fields. */
bool ice_schema_equal(const ice_schema *a, const ice_schema *b);

/* The highest field id the schema uses (list element ids included). */
int32_t ice_schema_max_id(const ice_schema *s);

/* {"type":"struct","schema-id":..,"identifier-field-ids":[..],"fields":[..]} */
json_t     *ice_schema_to_json(const ice_schema *s);
ice_schema *ice_schema_from_json(const json_t *j, cdc_err *err);

#endif

/*
 * The relation model shared by the decoder, the schema layer and the
 * destinations: one captured table as pgoutput describes it in a Relation
 * message, enriched by the agent from the catalog (primary key, NOT NULL,
 * defaults, domain base types, enum labels) and by the type mapper with the
 * Connect type each column is presented as.
 *
 * Ownership: a cdc_rel and everything it points to belong to the decoder's
 * relation cache (decoder/relcache.c); events borrow it.  A Relation message
 * that changes a table replaces the entry and bumps `version`, so holders of
 * the old pointer must not keep it past the change that referenced it.
 */
#ifndef CDC_AGENT_CORE_CDC_REL_H
#define CDC_AGENT_CORE_CDC_REL_H

#include <stdbool.h>
#include <stdint.h>

#include "agent/core/cdc_value.h"

typedef struct cdc_col {
    char    *name;
    uint32_t type_oid;      /* as sent by pgoutput */
    int32_t  typmod;        /* -1 when none */
    bool     replident;     /* pgoutput flag: part of the replica identity */

    /* --- from the catalog (agent/source/catalog.c); zero when not looked up --- */
    bool     catalog_known; /* the fields below are filled */
    bool     not_null;
    int      key_pos;       /* 1-based position in the message key, 0 if not a key column */
    uint32_t base_oid;      /* root base type for domains; type_oid otherwise */
    uint32_t elem_oid;      /* element type of an array (after domain resolution), else 0 */
    char     typtype;       /* pg_type.typtype of base_oid: 'b','e','r','c','d','m','p' */
    char    *type_name;     /* format_type() text, e.g. "numeric(10,2)" */
    char    *typname;       /* pg_type.typname, e.g. "int4", "_int4", an enum's or domain's */
    char    *enum_labels;   /* enum (or array of enum): labels comma-joined in sort order */
    char    *default_expr;  /* pg_get_expr() of the column default, NULL if none */
    bool     generated;     /* a stored generated column: read by the snapshot, which
                               Debezium includes; not published by pgoutput before PG 18 */

    /* --- from the type mapper (decoder/typemap.c) --- */
    cdc_ctype ctype;        /* how the column is presented; ctype.supported false = omitted */
    bool      has_default;  /* def holds the Connect default (4.5 of CONTRACT.md) */
    cdc_value def;          /* values point into memory owned by the relcache entry */

    /* --- from the agent's column filter and mappers (agent/source/colfilter.c) --- */
    bool      filtered;     /* column.include/exclude.list left it out (ctype.supported false) */
    int16_t   mapper;       /* 1-based rule of a mask or truncation, 0 when none */
} cdc_col;

typedef struct cdc_rel {
    uint32_t relid;
    char    *nspname;
    char    *relname;
    char     replident;     /* 'd' default, 'n' nothing, 'f' full, 'i' index */
    int      ncols;
    cdc_col *cols;
    uint32_t version;       /* increments each time a Relation message changes the table */
    int      nkeys;         /* columns with key_pos > 0 */
    char    *topic;         /* set by the agent: "{prefix}.{schema}.{table}", sanitised */
    bool     excluded;      /* published but not configured for capture: changes are ignored */
    bool     from_catalog;  /* installed from the catalog (the snapshot), not a Relation message */
    bool     renew;         /* the next Relation message replaces it even if it says the same
                               (the snapshot's schema differs from the stream's: colfilter.c) */
    uint8_t  names_utf8;    /* set with the names by the relation cache: 1 every column name is
                               UTF-8, 2 some is not; 0 not known (a rel made by hand): the
                               JSON encoder checks per row */
} cdc_rel;

#endif

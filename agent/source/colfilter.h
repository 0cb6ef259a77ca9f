/*
 * Debezium's column settings, applied where events are built, so that every
 * destination sees the same thing:
 *
 *   source.column_include_list / source.column_exclude_list
 *       (column.include.list / column.exclude.list): comma-separated regexes,
 *       matched whole and case-insensitively against "schema.table.column";
 *       a column left out is absent from the value and its schema, as in
 *       Debezium's TableSchemaBuilder (key columns stay in the key).
 *   source.column_masks: a map whose keys are Debezium's property names and
 *       whose values are the column regex lists:
 *         column.truncate.to.N.chars
 *         column.mask.with.N.chars
 *         column.mask.hash.ALGORITHM.with.salt.SALT     (HashingByteArrayStrategy V1)
 *         column.mask.hash.v2.ALGORITHM.with.salt.SALT  (V2)
 *       The first matching rule of a column wins, in Debezium's order:
 *       truncations, character masks, v1 hashes, v2 hashes.
 *
 * The regexes are Java's as Debezium reads them (split at commas that no
 * backslash escapes), run as POSIX extended regexes: the common subset
 * (., [], *, +, ?, {}, |, (), \. and \d, \w, \s) behaves the same.
 */
#ifndef CDC_AGENT_PIPELINE_COLFILTER_H
#define CDC_AGENT_PIPELINE_COLFILTER_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/config/config.h"
#include "agent/core/cdc_arena.h"
#include "agent/core/cdc_err.h"
#include "agent/core/cdc_rel.h"
#include "agent/core/cdc_value.h"

typedef struct agent_colfilter agent_colfilter;

/* Compiles the settings of src; NULL and err when one is wrong (named, salt-free).
   Returns an empty filter when nothing is set. */
agent_colfilter *agent_colfilter_new(const cfg_source *src, cdc_err *err);
void             agent_colfilter_free(agent_colfilter *f);   /* NULL is a no-op */

/* Checks src's settings without keeping them: for `cdcagent validate`. */
int agent_colfilter_check(const cfg_source *src, cdc_err *err);

/*
 * Marks rel's columns: filtered ones lose ctype.supported, mapped ones get
 * col->mapper and their schema parameter.  A mask or truncation on a key
 * column, or a filter that leaves out a key column, is an error naming the
 * column, the table and the setting.  @param binary_mode source.binary_handling_mode.
 */
int agent_colfilter_apply_rel(const agent_colfilter *f, cdc_rel *rel, const char *binary_mode,
                              cdc_err *err);

/*
 * After agent_colfilter_apply_rel() on every captured table: the first regex
 * that matched no column is an error naming the setting and the regex.
 * tables lists the captured tables for the message.
 */
int agent_colfilter_unmatched(const agent_colfilter *f, const char *tables, cdc_err *err);

/* Whether a column list is set, and whether it keeps schema.table.column
   (the publication's column lists, agent/source/publication.c). */
bool agent_colfilter_filters(const agent_colfilter *f);
bool agent_colfilter_keeps(const agent_colfilter *f, const char *schema, const char *table,
                           const char *column);

/* True when some column of rel has a mapper. */
bool agent_colfilter_maps(const cdc_rel *rel);

/*
 * Replaces the mapped values of one row (ncols values of rel) with what
 * Debezium's mappers make of them; new strings come from arena a.
 * placeholder stands for unchanged TOAST values, as Debezium's converters see it.
 */
void agent_colfilter_map_row(const agent_colfilter *f, const cdc_rel *rel, cdc_value *vals,
                             const char *placeholder, cdc_arena *a);

/* True when the column list (Debezium's regex list) names schema.table.column. */
bool agent_colfilter_list_matches(const char *list, const char *schema, const char *table,
                                  const char *column);

/* ---- Debezium's regex lists, for other settings (agent/source/tablepat.c) ---- */

/* A compiled list: Strings.RegExSplitter's parts, each matched whole and case-insensitively. */
typedef struct agent_relist {
    regex_t *re;
    char   **src;       /* each regex as written, for messages */
    int     *hits;      /* names each regex matched */
    int      n;
} agent_relist;

/* Compiles list into l (zeroed first by the caller); -1 with err naming what and the regex. */
int         agent_relist_compile(agent_relist *l, const char *list, const char *what,
                                 cdc_err *err);
bool        agent_relist_match(const agent_relist *l, const char *name);   /* counts hits */
const char *agent_relist_unmatched(const agent_relist *l);   /* the first with no hit */
void        agent_relist_free(agent_relist *l);

/* One Java regex as Pattern.compile(pattern) reads it (case-sensitive, no list splitting),
   for a whole-name match with regexec; -1 with err naming what and the regex (nothing to free). */
int agent_java_regex(regex_t *re, const char *pattern, const char *what, cdc_err *err);

/* ---- the value mappers themselves (exposed for the unit tests) ---- */

/*
 * Debezium's MaskStrings.HashValueConverter: lower-case hex of
 * digest(salt || bytes(value)), bytes as HashingByteArrayStrategy makes them
 * (v1: Java serialization of the String; v2: its UTF-8 bytes), cut to
 * max_len characters when max_len > 0.  alg is Java's name (SHA-256, MD5, ...).
 * Returns the hex length, or -1 when alg is unknown.  out holds 129 bytes.
 */
int agent_hash_mask(const char *alg, int version, const char *salt, const char *value,
                    size_t len, int32_t max_len, char out[129]);

/* Java's String.length() of UTF-8 text: UTF-16 code units. */
size_t agent_utf16_len(const char *s, size_t n);

/* The byte length of the first max UTF-16 units of s (never half a surrogate pair). */
size_t agent_utf16_prefix(const char *s, size_t n, size_t max);

#endif

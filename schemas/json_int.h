/*
 * Internals shared by the parts of the JSON encoder: json_value.c (one
 * value), json.c (payloads) and json_schema.c (JsonConverter schema nodes,
 * schemas.enable=true); avro_schema.c writes defaults with json_value.c
 * too.  Calls go one way: json.c -> json_schema.c -> json_value.c.  Not for
 * use outside schemas/.
 */
#ifndef CDC_SCHEMAS_JSON_INT_H
#define CDC_SCHEMAS_JSON_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "agent/core/cdc_buf.h"
#include "agent/core/cdc_rel.h"
#include "schemas/json.h"

/* Appends a column name of rel as a JSON string: as sch_json_put_string(),
   except that bytes which are not UTF-8 (a SQL_ASCII database) become the
   text \xNN rather than U+FFFD, and in a table where some name holds such
   bytes a backslash becomes \x5C, so distinct names stay distinct keys. */
void sch_json_put_field_name(cdc_buf *b, const cdc_rel *rel, const char *name);

/* Does a column name of rel hold bytes that are not UTF-8 (a SQL_ASCII database)? */
bool sch_json_names_xesc(const cdc_rel *rel);

/* Appends `"name":` for a column of a payload, as sch_json_put_field_name() writes
   it (xesc: sch_json_names_xesc() of its table, asked once per row) and as o asks. */
void sch_json_put_name(cdc_buf *b, const char *name, bool xesc, const sch_json_opts *o);

/* Appends the bytes as a quoted standard-alphabet base64 string (Jackson's
   MIME_NO_LINEFEEDS variant, which JsonConverter uses for BYTES). */
void sch_json_put_base64(cdc_buf *b, const void *p, size_t n);

/* Appends `"key":"<v>"`: a Connect schema parameter, whose values are strings. */
void sch_json_put_param_int(cdc_buf *b, const char *key, int64_t v);

/*
 * Closes a parameters object that holds nparams parameters, after adding the
 * one a column mapper gives ("masked":"true", "truncateLength":"N"); opens it
 * with open (",\"parameters\":{" or ",\"connect.parameters\":{") when
 * nparams is 0 and there is a mapper.  Nothing at all for neither.
 */
void sch_json_close_params(cdc_buf *b, const cdc_ctype *ct, int nparams, const char *open);

/* Appends a present value of type ct (a column's default, or a payload value). */
void sch_json_put_present(cdc_buf *b, const cdc_ctype *ct, const cdc_value *v,
                          const sch_json_opts *o);

/* Appends the schema node of the key struct "{topic}.Key". */
void sch_json_schema_key(cdc_buf *b, const cdc_rel *rel, const char *topic,
                         const sch_json_opts *o);
/* Appends the schema node of the value struct "{topic}.Envelope". */
void sch_json_schema_envelope(cdc_buf *b, const cdc_rel *rel, const char *topic,
                              const sch_json_opts *o);
/* Appends the schema nodes of MessageKey and MessageValue (op m, CONTRACT 2.6). */
void sch_json_schema_message_key(cdc_buf *b);
void sch_json_schema_message_value(cdc_buf *b, const sch_json_opts *o);

#endif

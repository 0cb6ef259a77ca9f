/*
 * The "schema" half of JsonConverter's {"schema":S,"payload":P} envelope
 * (schemas.enable=true), as JsonConverter.asJsonSchema writes a Connect
 * schema: keys in the order type, fields|items, optional, name, version,
 * doc, parameters, default, and for a struct member "field" last
 * (CONTRACT.md 3.6).  The Connect schemas themselves are Debezium 2.7's:
 * Envelope v2 with transaction before op, Source without a version, the
 * snapshot Enum listing "true,last,false,incremental" (CONTRACT.md 0.1, 2.2,
 * 2.3, 8.3), and the column types of CONTRACT.md section 4.
 */
#include "schemas/json_int.h"

#include <string.h>

#include "schemas/avro.h"
#include "schemas/debezium.h"

/* Connect schema type names, by cdc_ctkind. */
static const char *const kind_names[] = {
    [CDC_CT_NONE] = "string",   /* not reached: unsupported columns are omitted */
    [CDC_CT_BOOLEAN] = "boolean", [CDC_CT_INT8] = "int8",     [CDC_CT_INT16] = "int16",
    [CDC_CT_INT32] = "int32",     [CDC_CT_INT64] = "int64",   [CDC_CT_FLOAT32] = "float",
    [CDC_CT_FLOAT64] = "double",  [CDC_CT_STRING] = "string", [CDC_CT_BYTES] = "bytes",
    [CDC_CT_ARRAY] = "array",     [CDC_CT_MAP] = "map",       [CDC_CT_STRUCT] = "struct",
};

/* Semantic type names (all version 1) and docs, by cdc_sem. */
static const struct {
    const char *name;
    const char *doc;
} sem_info[CDC_SEM__COUNT] = {
    [CDC_SEM_DECIMAL] = { "org.apache.kafka.connect.data.Decimal", NULL },
    [CDC_SEM_VARIABLE_DECIMAL] = { "io.debezium.data.VariableScaleDecimal",
                                   "Variable scaled decimal" },
    [CDC_SEM_BITS] = { "io.debezium.data.Bits", NULL },
    [CDC_SEM_JSON] = { "io.debezium.data.Json", NULL },
    [CDC_SEM_XML] = { "io.debezium.data.Xml", NULL },
    [CDC_SEM_UUID] = { "io.debezium.data.Uuid", NULL },
    [CDC_SEM_ENUM] = { "io.debezium.data.Enum", NULL },
    [CDC_SEM_LTREE] = { "io.debezium.data.Ltree", NULL },
    [CDC_SEM_DATE] = { "io.debezium.time.Date", NULL },
    [CDC_SEM_TIME] = { "io.debezium.time.Time", NULL },
    [CDC_SEM_MICRO_TIME] = { "io.debezium.time.MicroTime", NULL },
    [CDC_SEM_NANO_TIME] = { "io.debezium.time.NanoTime", NULL },
    [CDC_SEM_ZONED_TIME] = { "io.debezium.time.ZonedTime", NULL },
    [CDC_SEM_TIMESTAMP] = { "io.debezium.time.Timestamp", NULL },
    [CDC_SEM_MICRO_TIMESTAMP] = { "io.debezium.time.MicroTimestamp", NULL },
    [CDC_SEM_NANO_TIMESTAMP] = { "io.debezium.time.NanoTimestamp", NULL },
    [CDC_SEM_ZONED_TIMESTAMP] = { "io.debezium.time.ZonedTimestamp", NULL },
    [CDC_SEM_MICRO_DURATION] = { "io.debezium.time.MicroDuration", NULL },
    [CDC_SEM_INTERVAL] = { "io.debezium.time.Interval", NULL },
    [CDC_SEM_CONNECT_DATE] = { "org.apache.kafka.connect.data.Date", NULL },
    [CDC_SEM_CONNECT_TIME] = { "org.apache.kafka.connect.data.Time", NULL },
    [CDC_SEM_CONNECT_TIMESTAMP] = { "org.apache.kafka.connect.data.Timestamp", NULL },
    [CDC_SEM_POINT] = { "io.debezium.data.geometry.Point", "Geometry (POINT)" },
};

/* io.debezium.connector.postgresql.Source, as a struct member: 2.7's, and what
   sch_dbz_profile_shape changes (3.6.1's: version 1, the full `allowed` list, origin). */
static const char source_schema_head[] =
    "{\"type\":\"struct\",\"fields\":["
    "{\"type\":\"string\",\"optional\":false,\"field\":\"version\"},"
    "{\"type\":\"string\",\"optional\":false,\"field\":\"connector\"},"
    "{\"type\":\"string\",\"optional\":false,\"field\":\"name\"},"
    "{\"type\":\"int64\",\"optional\":false,\"field\":\"ts_ms\"},"
    "{\"type\":\"string\",\"optional\":true,\"name\":\"io.debezium.data.Enum\",\"version\":1,"
    "\"parameters\":{\"allowed\":\"";
static const char source_schema_mid[] =
    "\"},\"default\":\"false\","
    "\"field\":\"snapshot\"},"
    "{\"type\":\"string\",\"optional\":false,\"field\":\"db\"},"
    "{\"type\":\"string\",\"optional\":true,\"field\":\"sequence\"},"
    "{\"type\":\"int64\",\"optional\":true,\"field\":\"ts_us\"},"
    "{\"type\":\"int64\",\"optional\":true,\"field\":\"ts_ns\"},"
    "{\"type\":\"string\",\"optional\":false,\"field\":\"schema\"},"
    "{\"type\":\"string\",\"optional\":false,\"field\":\"table\"},"
    "{\"type\":\"int64\",\"optional\":true,\"field\":\"txId\"},"
    "{\"type\":\"int64\",\"optional\":true,\"field\":\"lsn\"},"
    "{\"type\":\"int64\",\"optional\":true,\"field\":\"xmin\"}";
static const char source_schema_origin[] =
    ",{\"type\":\"string\",\"optional\":true,\"field\":\"origin\"},"
    "{\"type\":\"int64\",\"optional\":true,\"field\":\"origin_lsn\"}";

static void
put_source_schema(cdc_buf *b, const sch_json_opts *o)
{
    sch_dbz_shape sh = sch_dbz_profile_shape((sch_avro_profile) o->profile);

    cdc_buf_puts(b, source_schema_head);
    cdc_buf_puts(b, sh.full_allowed ? SCH_DBZ_ALLOWED_FULL : SCH_DBZ_ALLOWED_OLD);
    cdc_buf_puts(b, source_schema_mid);
    if (sh.origin)
        cdc_buf_puts(b, source_schema_origin);
    cdc_buf_puts(b, "],\"optional\":false,\"name\":\"io.debezium.connector.postgresql.Source\",");
    if (sh.source_versioned)
        cdc_buf_puts(b, "\"version\":1,");
    cdc_buf_puts(b, "\"field\":\"source\"}");
}

/* event.block v1, optional, as a struct member. */
static const char transaction_schema[] =
    "{\"type\":\"struct\",\"fields\":["
    "{\"type\":\"string\",\"optional\":false,\"field\":\"id\"},"
    "{\"type\":\"int64\",\"optional\":false,\"field\":\"total_order\"},"
    "{\"type\":\"int64\",\"optional\":false,\"field\":\"data_collection_order\"}],"
    "\"optional\":true,\"name\":\"event.block\",\"version\":1,\"field\":\"transaction\"}";

static const char variable_decimal_fields[] =
    "{\"type\":\"int32\",\"optional\":false,\"field\":\"scale\"},"
    "{\"type\":\"bytes\",\"optional\":false,\"field\":\"value\"}";

static const char point_fields[] =
    "{\"type\":\"double\",\"optional\":false,\"field\":\"x\"},"
    "{\"type\":\"double\",\"optional\":false,\"field\":\"y\"},"
    "{\"type\":\"bytes\",\"optional\":true,\"field\":\"wkb\"},"
    "{\"type\":\"int32\",\"optional\":true,\"field\":\"srid\"}";

/* A column mapper's parameter comes last: Debezium's mappers alter the schema builder
   after the type converter made it.  See json_int.h. */
void
sch_json_close_params(cdc_buf *b, const cdc_ctype *ct, int nparams, const char *open)
{
    if (ct->mapped != CDC_MAP_NONE) {
        cdc_buf_puts(b, nparams ? "," : open);
        if (ct->mapped == CDC_MAP_MASKED)
            cdc_buf_puts(b, "\"masked\":\"true\"");
        else if (ct->mapped == CDC_MAP_TRUNCATED)
            sch_json_put_param_int(b, "truncateLength", ct->trunc_len);
        else {
            /* PropagateSourceMetadataToSchemaParameter.alterFieldSchema's order */
            /* typeName().toUpperCase(Locale.ENGLISH): type names are ASCII in practice */
            char   up[256];
            size_t n = 0;

            for (; ct->src_type[n] && n < sizeof(up); n++)
                up[n] = (char) (ct->src_type[n] >= 'a' && ct->src_type[n] <= 'z'
                                ? ct->src_type[n] - 'a' + 'A' : ct->src_type[n]);
            cdc_buf_puts(b, "\"__debezium.source.column.type\":");
            sch_json_put_string(b, up, n);
            cdc_buf_putc(b, ',');
            sch_json_put_param_int(b, "__debezium.source.column.length", ct->src_length);
            if (ct->src_scale != CDC_SRC_SCALE_NONE) {
                cdc_buf_putc(b, ',');
                sch_json_put_param_int(b, "__debezium.source.column.scale", ct->src_scale);
            }
            cdc_buf_puts(b, ",\"__debezium.source.column.name\":");
            sch_json_put_string(b, ct->src_column, strlen(ct->src_column));
        }
        nparams++;
    }
    if (nparams)
        cdc_buf_putc(b, '}');
}

static void
put_parameters(cdc_buf *b, const cdc_ctype *ct, const char *enum_labels)
{
    static const char open[] = ",\"parameters\":{";
    int               n = 0;

    switch ((cdc_sem) ct->sem) {
    case CDC_SEM_DECIMAL:
        cdc_buf_puts(b, open);
        sch_json_put_param_int(b, "scale", ct->scale);
        if (ct->precision >= 0) {   /* money has none */
            cdc_buf_putc(b, ',');
            sch_json_put_param_int(b, "connect.decimal.precision", ct->precision);
        }
        n = 1;
        break;
    case CDC_SEM_BITS:
        cdc_buf_puts(b, open);
        sch_json_put_param_int(b, "length", ct->length);
        n = 1;
        break;
    case CDC_SEM_ENUM:
        cdc_buf_puts(b, ",\"parameters\":{\"allowed\":");
        sch_json_put_string(b, enum_labels ? enum_labels : "",
                            enum_labels ? strlen(enum_labels) : 0);
        n = 1;
        break;
    default:
        break;
    }
    sch_json_close_params(b, ct, n, open);
}

/*
 * Appends the schema node of a column type, open: the caller adds
 * ",\"field\":..." and the closing brace.  def is the default, or NULL.
 */
static void
put_type_open(cdc_buf *b, const cdc_ctype *ct, bool optional, const char *enum_labels,
              const cdc_value *def, const sch_json_opts *o)
{
    unsigned kind = ct->kind < sizeof(kind_names) / sizeof(kind_names[0]) ? ct->kind : 0;
    unsigned sem = ct->sem < CDC_SEM__COUNT ? ct->sem : 0;

    cdc_buf_puts(b, "{\"type\":\"");
    cdc_buf_puts(b, kind_names[kind]);
    cdc_buf_putc(b, '"');
    if (kind == CDC_CT_STRUCT) {
        cdc_buf_puts(b, ",\"fields\":[");
        if (sem == CDC_SEM_VARIABLE_DECIMAL)
            cdc_buf_puts(b, variable_decimal_fields);
        else if (sem == CDC_SEM_POINT)
            cdc_buf_puts(b, point_fields);
        cdc_buf_putc(b, ']');
    } else if (kind == CDC_CT_ARRAY) {
        cdc_ctype e = cdc_ctype_elem(ct);   /* the array's parameters are not its items' */

        cdc_buf_puts(b, ",\"items\":");
        /* Debezium makes every element optional except an enum's (Enum.builder, no .optional()). */
        put_type_open(b, &e, e.sem != CDC_SEM_ENUM, enum_labels, NULL, o);
        cdc_buf_putc(b, '}');
    }
    cdc_buf_puts(b, optional ? ",\"optional\":true" : ",\"optional\":false");
    if (sem_info[sem].name) {
        cdc_buf_puts(b, ",\"name\":\"");
        cdc_buf_puts(b, sem_info[sem].name);
        cdc_buf_puts(b, "\",\"version\":1");
    }
    if (sem_info[sem].doc) {
        cdc_buf_puts(b, ",\"doc\":\"");
        cdc_buf_puts(b, sem_info[sem].doc);
        cdc_buf_putc(b, '"');
    }
    put_parameters(b, ct, enum_labels);
    if (def) {
        cdc_buf_puts(b, ",\"default\":");
        sch_json_put_present(b, ct, def, o);
    }
}

/* The key's fields carry no source type parameters: Debezium's key schema has no mapper. */
static void
put_col_field(cdc_buf *b, const cdc_rel *rel, const cdc_col *col, bool key,
              const sch_json_opts *o)
{
    cdc_ctype ct = col->ctype;

    if (key && ct.mapped == CDC_MAP_SOURCE_TYPE)
        ct.mapped = CDC_MAP_NONE;
    put_type_open(b, &ct, !col->not_null, col->enum_labels,
                  col->has_default ? &col->def : NULL, o);
    cdc_buf_puts(b, ",\"field\":");
    sch_json_put_field_name(b, rel, col->name);
    cdc_buf_putc(b, '}');
}

static void
put_struct_name(cdc_buf *b, const char *topic, const char *suffix, const sch_json_opts *o)
{
    size_t  tn = strlen(topic), sn = strlen(suffix);
    char    name[512];
    cdc_buf adj = CDC_BUF_INIT;

    /* topic names are at most 249 characters, so this always fits */
    if (tn + sn >= sizeof(name))
        tn = sizeof(name) - sn - 1;
    memcpy(name, topic, tn);
    memcpy(name + tn, suffix, sn);
    name[tn + sn] = '\0';
    sch_name_adjust((sch_avro_name_mode) o->name_mode, name, &adj);   /* as the Avro names */
    sch_json_put_string(b, cdc_buf_str(&adj), adj.len);
    cdc_buf_free(&adj);
}

void
sch_json_schema_key(cdc_buf *b, const cdc_rel *rel, const char *topic, const sch_json_opts *o)
{
    cdc_buf_puts(b, "{\"type\":\"struct\",\"fields\":[");
    for (int k = 0, i, n = 0; (i = sch_dbz_key_next(rel, &k)) >= 0; n++) {
        if (n > 0)
            cdc_buf_putc(b, ',');
        put_col_field(b, rel, &rel->cols[i], true, o);
    }
    cdc_buf_puts(b, "],\"optional\":false,\"name\":");
    put_struct_name(b, topic, ".Key", o);
    cdc_buf_putc(b, '}');
}

/* The optional {topic}.Value struct, as the member `field`. */
static void
put_value_struct(cdc_buf *b, const cdc_rel *rel, const char *topic, const char *field,
                 const sch_json_opts *o)
{
    bool first = true;

    cdc_buf_puts(b, "{\"type\":\"struct\",\"fields\":[");
    for (int i = 0; i < rel->ncols; i++) {
        if (!rel->cols[i].ctype.supported)
            continue;
        if (!first)
            cdc_buf_putc(b, ',');
        first = false;
        put_col_field(b, rel, &rel->cols[i], false, o);
    }
    cdc_buf_puts(b, "],\"optional\":true,\"name\":");
    put_struct_name(b, topic, ".Value", o);
    cdc_buf_puts(b, ",\"field\":\"");
    cdc_buf_puts(b, field);
    cdc_buf_puts(b, "\"}");
}

void
sch_json_schema_envelope(cdc_buf *b, const cdc_rel *rel, const char *topic,
                         const sch_json_opts *o)
{
    cdc_buf_puts(b, "{\"type\":\"struct\",\"fields\":[");
    put_value_struct(b, rel, topic, "before", o);
    cdc_buf_putc(b, ',');
    put_value_struct(b, rel, topic, "after", o);
    cdc_buf_putc(b, ',');
    put_source_schema(b, o);
    cdc_buf_putc(b, ',');
    cdc_buf_puts(b, transaction_schema);
    cdc_buf_puts(b, ",{\"type\":\"string\",\"optional\":false,\"field\":\"op\"}"
                    ",{\"type\":\"int64\",\"optional\":true,\"field\":\"ts_ms\"}"
                    ",{\"type\":\"int64\",\"optional\":true,\"field\":\"ts_us\"}"
                    ",{\"type\":\"int64\",\"optional\":true,\"field\":\"ts_ns\"}"
                    "],\"optional\":false,\"name\":");
    put_struct_name(b, topic, ".Envelope", o);
    cdc_buf_puts(b, ",\"version\":2}");
}

void
sch_json_schema_message_key(cdc_buf *b)
{
    cdc_buf_puts(b, "{\"type\":\"struct\",\"fields\":["
                    "{\"type\":\"string\",\"optional\":true,\"field\":\"prefix\"}],"
                    "\"optional\":false,\"name\":\"io.debezium.connector.postgresql.MessageKey\","
                    "\"version\":1}");
}

void
sch_json_schema_message_value(cdc_buf *b, const sch_json_opts *o)
{
    cdc_buf_puts(b, "{\"type\":\"struct\",\"fields\":["
                    "{\"type\":\"string\",\"optional\":false,\"field\":\"op\"},"
                    "{\"type\":\"int64\",\"optional\":true,\"field\":\"ts_ms\"},");
    put_source_schema(b, o);
    /* Debezium 2.7.4's MessageValue has no transaction block (seen in its output), 3.6.1's has. */
    if (sch_dbz_profile_shape((sch_avro_profile) o->profile).message_tx) {
        cdc_buf_putc(b, ',');
        cdc_buf_puts(b, transaction_schema);
    }
    cdc_buf_puts(b, ",{\"type\":\"struct\",\"fields\":["
                    "{\"type\":\"string\",\"optional\":true,\"field\":\"prefix\"},"
                    "{\"type\":\"bytes\",\"optional\":true,\"field\":\"content\"}],"
                    "\"optional\":false,\"name\":\"io.debezium.connector.postgresql.Message\","
                    "\"version\":1,\"field\":\"message\"}],"
                    "\"optional\":false,\"name\":\"io.debezium.connector.postgresql.MessageValue\","
                    "\"version\":1}");
}

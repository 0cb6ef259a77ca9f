/*
 * Shared by fuzz_pgoutput.c and fuzz_json.c: prepares a relcache entry the
 * way agent/pipeline/capture.c does (catalog enrichment, here faked from the type
 * table, then pgo_typemap_rel and the topic), and encodes an event with the
 * JSON encoder, checking that jansson parses what it wrote.  Header-only,
 * not a public interface.
 */
#ifndef CDC_TEST_FUZZ_FUZZ_EVENT_H
#define CDC_TEST_FUZZ_FUZZ_EVENT_H

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "agent/core/cdc_buf.h"
#include "agent/core/cdc_event.h"
#include "schemas/json.h"
#include "schemas/topic.h"
#include "test/fuzz/fuzz_common.h"

/* Parses one JSON text that the encoder wrote; anything jansson refuses is a bug. */
static inline void
fz_json_must_parse(const cdc_buf *b, const char *what)
{
    json_error_t jerr;
    json_t      *j;

    if (cdc_buf_failed(b))
        abort();
    j = json_loadb((const char *) cdc_buf_str(b), b->len, JSON_DECODE_ANY | JSON_ALLOW_NUL,
                   &jerr);
    if (j == NULL) {
        fprintf(stderr, "fuzz: %s is not valid JSON: %s at %d:%d (byte %d)\n%.*s\n", what,
                jerr.text, jerr.line, jerr.column, jerr.position,
                (int) (b->len > 4000 ? 4000 : b->len), cdc_buf_str(b));
        abort();
    }
    json_decref(j);
}

/* Encodes ev's key and value with both schemas settings; each must parse. */
static inline void
fz_json_encode(const cdc_event *ev, bool schemas, bool replace_null)
{
    sch_json_opts o;
    cdc_buf       b = CDC_BUF_INIT;

    sch_json_opts_default(&o);
    o.server_name = "fz";
    o.database = "fzdb";
    o.schemas_enable = schemas;
    o.replace_null_with_default = replace_null;
    sch_json_key(&b, ev, &o);
    fz_json_must_parse(&b, "key");
    cdc_buf_reset(&b);
    sch_json_value(&b, ev, &o, INT64_C(1700000000000000));
    fz_json_must_parse(&b, "value");
    cdc_buf_free(&b);
}

/* Fake catalog: columns whose wire type is in fz_types get its description. */
static inline void
fz_fake_catalog(cdc_rel *rel)
{
    int key = 0;

    for (int i = 0; i < rel->ncols; i++) {
        cdc_col *c = &rel->cols[i];

        for (int k = 0; k < FZ_NTYPES; k++) {
            if (fz_types[k].oid == c->type_oid) {
                fz_describe_col(rel, i, &fz_types[k], c->typmod, true, NULL);
                break;
            }
        }
        c->key_pos = c->replident ? ++key : 0;
        c->not_null = c->replident;
    }
    rel->nkeys = key;
}

/*
 * What agent_capture_prepare_rel does once per relation version: enrich,
 * type-map, name the topic.  @returns pgo_typemap_rel's result.
 */
static inline int
fz_prepare_rel(cdc_rel *rel, const pgo_type_opts *opts, bool catalog, cdc_err *err)
{
    char topic[256];
    int  r;

    if (rel->topic != NULL)
        return 0;
    if (catalog)
        fz_fake_catalog(rel);
    r = pgo_typemap_rel(rel, opts, err);
    sch_topic_name("fz", rel->nspname, rel->relname, topic, sizeof(topic));
    rel->topic = pgo_rel_strdup(rel, topic);
    return r;
}

#endif

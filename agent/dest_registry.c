#include "agent/dest_registry.h"

#include <stdlib.h>

#include "agent/core/cdc_mem.h"
#include "sinks/jsonl.h"

static int
open_jsonl(cdc_dest *d, const cfg_sink *sink, const cdc_dest_env *env, cdc_err *err)
{
    dest_jsonl_conf c = {
        .path = sink->jsonl.path,
        .fsync = sink->jsonl.fsync,
        .flush_interval_ms = sink->jsonl.flush_interval_ms,
    };

    d->ops = &dest_jsonl_ops;
    return d->ops->open(d, &c, env, err);
}

static const struct {
    cfg_sink_type type;
    int (*open)(cdc_dest *d, const cfg_sink *sink, const cdc_dest_env *env, cdc_err *err);
} registry[] = {
    { CFG_SINK_JSONL, open_jsonl },
};

cdc_dest *
agent_dest_open(const cfg_sink *sink, const cdc_dest_env *env, cdc_err *err)
{
    cdc_dest *d = cdc_xcalloc(1, sizeof(*d));

    d->id = sink->sink_id;
    for (size_t i = 0; i < sizeof(registry) / sizeof(registry[0]); i++) {
        if (registry[i].type != sink->sink_type)
            continue;
        if (registry[i].open(d, sink, env, err) < 0) {
            cdc_err_wrap(err, "sink %s", sink->sink_id);
            free(d);
            return NULL;
        }
        return d;
    }
    cdc_err_set(err, CDC_E_UNSUPPORTED, "sink %s: this sink type is not supported yet",
                sink->sink_id);
    free(d);
    return NULL;
}

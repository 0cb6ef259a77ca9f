#include "schemas/avro_reg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/core/cdc_log.h"
#include "agent/core/cdc_mem.h"

#define AR_BUCKETS 256
#define AR_FAC     "schemas.avro"

/* One relation version (or the logical-message pseudo-relation: relid 0). */
typedef struct ar_entry {
    struct ar_entry *next;
    uint32_t         relid, version;
    sch_avro_writer *w;
    bool             has_key;
    uint32_t         key_id, value_id;
} ar_entry;

struct sch_avro_reg {
    sr_client     *sr;
    sch_avro_opts  opts;
    bool           stop_on_incompatible;
    ar_entry      *buckets[AR_BUCKETS];
    uint64_t       registrations;
    uint32_t       hb_key_id, hb_value_id;  /* heartbeat subjects' ids */
    bool           hb_key_ok, hb_value_ok;  /* ... once registered */
};

sch_avro_reg *
sch_avro_reg_new(const sr_conf *rc, const sch_avro_opts *o, bool stop_on_incompatible, cdc_err *err)
{
    sch_avro_reg *ar = cdc_xcalloc(1, sizeof(*ar));

    ar->sr = sr_client_new(rc, err);
    if (ar->sr == NULL) {
        free(ar);
        return NULL;
    }
    ar->opts = *o;
    ar->stop_on_incompatible = stop_on_incompatible;
    return ar;
}

void
sch_avro_reg_free(sch_avro_reg *ar)
{
    if (ar == NULL)
        return;
    for (int b = 0; b < AR_BUCKETS; b++) {
        ar_entry *e = ar->buckets[b], *next;

        for (; e; e = next) {
            next = e->next;
            sch_avro_writer_free(e->w);
            free(e);
        }
    }
    sr_client_free(ar->sr);
    free(ar);
}

uint64_t
sch_avro_reg_registrations(const sch_avro_reg *ar)
{
    return ar->registrations;
}

static int
register_one(sch_avro_reg *ar, const char *topic, const char *suffix, const char *schema,
             uint32_t *id, cdc_err *err)
{
    char      subject[320];
    sr_change ch = { 0 };

    snprintf(subject, sizeof(subject), "%s-%s", topic, suffix);
    if (sr_register_checked(ar->sr, subject, schema, ar->stop_on_incompatible, &ch, err) < 0)
        return cdc_err_wrap(err, "subject %s", subject);
    *id = ch.id;
    if (ch.changed)
        ar->registrations++;
    log_info(AR_FAC, "subject %s: schema id %u (version %d%s)", subject, ch.id, ch.version,
             ch.changed ? ", new" : "");
    return 0;
}

static char *
value_schema_for(const cdc_rel *rel, const sch_avro_opts *o)
{
    return rel ? sch_avro_value_schema_json(rel, o) : sch_avro_message_value_schema_json(o);
}

/*
 * Taking over from Debezium: before the first registration of a subject that
 * already exists, say which Debezium profile its latest version matches, so a
 * wrong kafka.debezium_version shows up before it adds a surprise version.
 * The registry judges equality (POST /subjects/{subject}).  Best effort: a
 * registry that cannot be asked here is asked again at registration.
 */
static void
report_profile(sch_avro_reg *ar, const cdc_rel *rel, const char *topic, const char *ours)
{
    char       subject[320];
    sr_version latest = { 0 }, hit = { 0 };
    cdc_err    err = { 0 };

    snprintf(subject, sizeof(subject), "%s-value", topic);
    if (sr_latest(ar->sr, subject, &latest, &err) != 0)
        return; /* a new subject, or no answer */
    if (sr_lookup(ar->sr, subject, ours, &hit, &err) == 0 && hit.version == latest.version) {
        log_info(AR_FAC, "subject %s: latest version %d matches the configured Debezium "
                 "%s profile", subject, latest.version, sch_avro_profile_name(ar->opts.profile));
        goto out;
    }
    for (int p = SCH_AVRO_DBZ_2_7; p <= SCH_AVRO_DBZ_3_5; p++) {
        sch_avro_opts o = ar->opts;
        char         *txt;
        int           rc;

        if (p == (int) ar->opts.profile)
            continue;
        o.profile = (sch_avro_profile) p;
        txt = value_schema_for(rel, &o);
        sr_version_clear(&hit);
        rc = txt ? sr_lookup(ar->sr, subject, txt, &hit, &err) : -1;
        free(txt);
        if (rc == 0 && hit.version == latest.version) {
            log_warn(AR_FAC, "subject %s: latest version %d was written by Debezium's %s "
                     "profile, not the configured %s: set kafka.debezium_version to match, or "
                     "the next record registers version %d", subject, latest.version,
                     sch_avro_profile_name((sch_avro_profile) p),
                     sch_avro_profile_name(ar->opts.profile), latest.version + 1);
            goto out;
        }
    }
    log_warn(AR_FAC, "subject %s: latest version %d matches no Debezium profile for this "
             "table; the next record registers a new version", subject, latest.version);
out:
    sr_version_clear(&latest);
    sr_version_clear(&hit);
}

/* The encoder of ev's relation version, made and registered on first use. */
static ar_entry *
entry_get(sch_avro_reg *ar, const cdc_event *ev, const char *topic, cdc_err *err)
{
    uint32_t  relid = ev->rel ? ev->rel->relid : 0, version = ev->rel ? ev->rel->version : 0;
    unsigned  b = (relid * 2654435761u ^ version) % AR_BUCKETS;
    ar_entry *e;

    for (e = ar->buckets[b]; e; e = e->next)
        if (e->relid == relid && e->version == version)
            return e;
    e = cdc_xcalloc(1, sizeof(*e));
    e->relid = relid;
    e->version = version;
    e->w = sch_avro_writer_new(ev->rel, &ar->opts, err);
    if (e->w == NULL)
        goto fail;
    e->has_key = sch_avro_writer_key_schema(e->w) != NULL;
    report_profile(ar, ev->rel, topic, sch_avro_writer_value_schema(e->w));
    if (e->has_key &&
        register_one(ar, topic, "key", sch_avro_writer_key_schema(e->w), &e->key_id, err) < 0)
        goto fail;
    if (register_one(ar, topic, "value", sch_avro_writer_value_schema(e->w), &e->value_id,
                     err) < 0)
        goto fail;
    e->next = ar->buckets[b];
    ar->buckets[b] = e;
    return e;
fail:
    /* Nothing is cached, so a registry that was unreachable is asked again next time. */
    sch_avro_writer_free(e->w);
    free(e);
    return NULL;
}

int
sch_avro_reg_encode(sch_avro_reg *ar, const cdc_event *ev, const char *topic, int64_t now_us,
                  cdc_buf *kbuf, cdc_buf *vbuf, cdc_err *err)
{
    ar_entry *e = entry_get(ar, ev, topic, err);

    if (e == NULL)
        return -1;
    if (e->has_key && sch_avro_encode_key(e->w, ev, e->key_id, kbuf, err) < 0)
        return -1;
    return sch_avro_encode_value(e->w, ev, e->value_id, now_us, vbuf, err);
}

/* ------------------------------------------------------------------ */
/* Heartbeats: Debezium's ServerNameKey / Heartbeat records           */
/* ------------------------------------------------------------------ */

#define HB_NS "io.debezium.connector.common"

static const char hb_key_schema[] =
    "{\"type\":\"record\",\"name\":\"ServerNameKey\",\"namespace\":\"" HB_NS "\","
    "\"fields\":[{\"name\":\"serverName\",\"type\":\"string\"}],"
    "\"connect.version\":1,\"connect.name\":\"" HB_NS ".ServerNameKey\"}";
static const char hb_value_schema[] =
    "{\"type\":\"record\",\"name\":\"Heartbeat\",\"namespace\":\"" HB_NS "\","
    "\"fields\":[{\"name\":\"ts_ms\",\"type\":\"long\"}],"
    "\"connect.version\":1,\"connect.name\":\"" HB_NS ".Heartbeat\"}";

int
sch_avro_reg_register_pair(sch_avro_reg *ar, const char *topic, const char *key_schema,
                         const char *value_schema, uint32_t *key_id, uint32_t *value_id,
                         cdc_err *err)
{
    if (register_one(ar, topic, "key", key_schema, key_id, err) < 0)
        return -1;
    return register_one(ar, topic, "value", value_schema, value_id, err);
}

/* Avro's long: zig-zag, then base-128 little-endian groups. */
void
sch_avro_reg_put_long(cdc_buf *b, int64_t v)
{
    uint64_t z = ((uint64_t) v << 1) ^ (uint64_t) (v >> 63);

    while (z >= 0x80) {
        cdc_buf_put_u8(b, (uint8_t) (z | 0x80));
        z >>= 7;
    }
    cdc_buf_put_u8(b, (uint8_t) z);
}

static void
put_confluent_header(cdc_buf *b, uint32_t id)
{
    cdc_buf_put_u8(b, 0);
    cdc_buf_put_u32be(b, id);
}

int
sch_avro_reg_heartbeat(sch_avro_reg *ar, const char *topic, const char *server_name, int64_t ts_ms,
                     cdc_buf *kbuf, cdc_buf *vbuf, cdc_err *err)
{
    size_t n = strlen(server_name);

    if (!ar->hb_key_ok) {
        if (register_one(ar, topic, "key", hb_key_schema, &ar->hb_key_id, err) < 0)
            return -1;
        ar->hb_key_ok = true;
    }
    if (!ar->hb_value_ok) {
        if (register_one(ar, topic, "value", hb_value_schema, &ar->hb_value_id, err) < 0)
            return -1;
        ar->hb_value_ok = true;
    }
    put_confluent_header(kbuf, ar->hb_key_id);
    sch_avro_reg_put_long(kbuf, (int64_t) n);
    cdc_buf_put(kbuf, server_name, n);
    put_confluent_header(vbuf, ar->hb_value_id);
    sch_avro_reg_put_long(vbuf, ts_ms);
    return 0;
}

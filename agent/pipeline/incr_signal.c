/*
 * Debezium's signals (agent/pipeline/incr.h): rows of the signal table and the
 * window markers the stream brings, through capture's change hook.
 */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "agent/core/cdc_arena.h"
#include "agent/core/cdc_log.h"
#include "agent/core/cdc_lsn.h"
#include "agent/pipeline/capture.h"
#include "agent/pipeline/incr_int.h"

static const char *
datum_text(const pgo_tuple *t, int i, cdc_arena *a)
{
    char *s;

    if (i >= t->ncols || t->cols[i].kind != 't')
        return NULL;
    s = cdc_arena_alloc(a, t->cols[i].len + 1);
    memcpy(s, t->cols[i].data, t->cols[i].len);
    s[t->cols[i].len] = '\0';
    return s;
}

static int
execute_snapshot(agent_incr *in, agent_capture *cap, const char *id, json_t *data, cdc_err *err)
{
    json_t     *dcs = json_object_get(data, "data-collections"), *v, *names;
    const char *type = json_string_value(json_object_get(data, "type"));
    size_t      i;
    int         added = 0;

    if (type && strcasecmp(type, "incremental") != 0 && strcasecmp(type, "blocking") != 0) {
        log_warn("incr", "signal %s: execute-snapshot of type %s is not supported (incremental "
                 "or blocking): ignored", id, type);
        return 0;
    }
    if (!json_is_array(dcs) || json_array_size(dcs) == 0) {
        log_warn("incr", "signal %s: execute-snapshot without data-collections: ignored", id);
        return 0;
    }
    if (type && strcasecmp(type, "blocking") == 0)
        return incr_blocking_request(in, id, data) > 0 ? incr_save(in, err) : 0;
    if (!in->running) {
        incr_tables_free(in);
        snprintf(in->id, sizeof(in->id), "%s", id);
        in->rows_emitted = in->rows_dropped = in->chunks_done = 0;
        in->tables_done = 0;
    }
    names = incr_expand(in, id, dcs);
    json_array_foreach(names, i, v) {
        const char *name = json_string_value(v);

        incr_table_add(in, name, incr_condition_for(in, id, data, name));
        added++;
    }
    json_decref(names);
    if (added == 0)
        return 0;
    log_info("incr", "signal %s: incremental snapshot of %d table(s) (chunks of %d rows)", id,
             added, in->src->incremental_snapshot_chunk_size);
    in->running = true;
    if (incr_save(in, err) < 0)
        return -1;
    return incr_read_chunk(in, cap, err);
}

static int
stop_snapshot(agent_incr *in, const char *id, json_t *data, cdc_err *err)
{
    json_t *dcs = json_object_get(data, "data-collections"), *v;
    size_t  i;

    if (!in->running) {
        log_info("incr", "signal %s: stop-snapshot with no incremental snapshot running", id);
        return 0;
    }
    if (!json_is_array(dcs) || json_array_size(dcs) == 0) {
        log_info("incr", "signal %s: incremental snapshot %s stopped", id, in->id);
        incr_tables_free(in);
    } else {
        json_t *names = incr_expand(in, id, dcs);

        json_array_foreach(names, i, v) {
            for (int t = in->ntables - 1; t >= 0; t--) {
                if (strcmp(in->tables[t].name, json_string_value(v)) != 0)
                    continue;
                log_info("incr", "signal %s: incremental snapshot of %s stopped", id,
                         in->tables[t].name);
                incr_drop_table(in, t);
            }
        }
        json_decref(names);
    }
    if (in->ntables == 0)
        incr_stopped(in);
    return incr_save(in, err);
}

int
agent_incr_signal(agent_incr *in, agent_capture *cap, const pgo_tuple *row, uint64_t commit_lsn,
                  uint64_t lsn, cdc_err *err)
{
    cdc_arena   *a = in->emit_arena;
    const char  *id, *type, *text;
    json_t      *data = NULL;
    json_error_t je;
    cdc_pos      at = { commit_lsn, lsn };
    int          rc = 0;

    cdc_arena_reset(a);
    id = datum_text(row, 0, a);
    type = datum_text(row, 1, a);
    text = datum_text(row, 2, a);
    if (id == NULL || type == NULL) {
        log_warn("incr", "signal table %s: a row without id or type at " CDC_LSN_FMT ": ignored",
                 in->src->signal_data_collection, CDC_LSN_ARGS(lsn));
        return 0;
    }
    /* Our own watermarks. id/type/text live in emit_arena, which emitting resets: not used
       past here. */
    if (strcmp(type, "snapshot-window-open") == 0 || strcmp(type, "snapshot-window-close") == 0)
        return incr_window_mark(in, cap, id, strlen(id), commit_lsn, lsn, err);
    if (cdc_pos_cmp(at, in->signal) <= 0) {
        log_debug("incr", "signal %s (%s) at " CDC_LSN_FMT " was handled before", id, type,
                  CDC_LSN_ARGS(lsn));
        return 0;
    }
    in->signal = at;
    if (text && *text) {
        data = json_loads(text, 0, &je);
        if (data == NULL || !json_is_object(data)) {
            log_warn("incr", "signal %s (%s): its data is not a JSON object (%s): ignored", id,
                     type, data ? "not an object" : je.text);
            json_decref(data);
            return incr_save(in, err);
        }
    }
    if (strcmp(type, "log") == 0) {
        const char *msg = json_string_value(json_object_get(data, "message"));

        log_info("signal", "%s", msg ? msg : "(log signal without message)");
        rc = incr_save(in, err);
    } else if (strcmp(type, "execute-snapshot") == 0) {
        rc = execute_snapshot(in, cap, id, data, err);
        if (rc == 0 && !in->running)
            rc = incr_save(in, err);
    } else if (strcmp(type, "stop-snapshot") == 0) {
        rc = stop_snapshot(in, id, data, err);
        /* The table being read stopped: the next one is read (Debezium's nextDataCollection). */
        if (rc == 0)
            rc = incr_read_chunk(in, cap, err);
    } else if (strcmp(type, "pause-snapshot") == 0) {
        if (in->running && !in->paused)
            log_info("incr", "signal %s: incremental snapshot %s paused", id, in->id);
        in->paused = in->running;
        rc = incr_save(in, err);
    } else if (strcmp(type, "resume-snapshot") == 0) {
        if (in->paused)
            log_info("incr", "signal %s: incremental snapshot %s resumed", id, in->id);
        in->paused = false;
        rc = incr_save(in, err);
        if (rc == 0)
            rc = incr_read_chunk(in, cap, err);
    } else {
        log_warn("incr", "signal %s: unknown type %s: ignored", id, type);
        rc = incr_save(in, err);
    }
    json_decref(data);
    return rc;
}

int
agent_incr_on_change(void *arg, agent_capture *cap, const pgo_msg *m, uint64_t commit_lsn,
                     uint64_t lsn, cdc_err *err)
{
    agent_incr    *in = arg;
    const cdc_rel *rel;

    if (m->type == PGO_MESSAGE) {
        /* A window marker of ours (AGENT_CAPTURE_WM_PREFIX): "<slot>/<chunk id>-open|close";
           another agent's (its slot's name differs) is not ours. */
        size_t      sl = strlen(in->src->slot_name);
        const char *c = (const char *) m->u.message.content;

        if (!in->msg_marks || m->u.message.len <= sl + 1 ||
            memcmp(c, in->src->slot_name, sl) != 0 || c[sl] != '/')
            return 0;
        return incr_window_mark(in, cap, c + sl + 1, m->u.message.len - sl - 1, commit_lsn, lsn, err);
    }
    rel = m->u.change.rel;
    /* A streamed change wins over the open window's row of the same key. */
    if (m->type != PGO_INSERT && m->u.change.old_kind)
        agent_incr_seen(in, rel, &m->u.change.oldtup, commit_lsn);
    if (m->type != PGO_DELETE)
        agent_incr_seen(in, rel, &m->u.change.newtup, commit_lsn);
    if (m->type == PGO_INSERT && agent_incr_is_signal(in, rel))
        return agent_incr_signal(in, cap, &m->u.change.newtup, commit_lsn, lsn, err);
    return 0;
}

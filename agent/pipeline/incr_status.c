/*
 * `cdcagent slot status`: the incremental snapshot's progress, read from the
 * `incr` line of the slot's record (agent/pipeline/state.h), which the agent
 * writes at each signal and chunk (agent/pipeline/incr.c).
 */
#include "agent/pipeline/incr_status.h"

#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/core/cdc_mem.h"
#include "agent/core/net/pgconn.h"
#include "agent/pipeline/state.h"
#include "agent/source/pg_source.h"

/*
 * The server's system identifier names the record.  pg_control_system() may
 * be refused to the agent's user: then the one record of this slot in
 * state_dir, when there is exactly one.
 */
static int
system_id(const cdc_config *cfg, char *out, size_t n)
{
    const cfg_source *src = &cfg->pipeline.source;
    cdc_err           err = { 0 };
    PGconn           *conn = agent_pg_connect(src, false, &err);
    PGresult         *res;
    const char       *dir = cfg->platform.agent.state_dir;
    char              pat[1200];
    glob_t            g;
    int               rc = -1;

    if (conn != NULL) {
        res = PQexec(conn, "SELECT system_identifier::text FROM pg_control_system()");
        if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
            snprintf(out, n, "%s", PQgetvalue(res, 0, 0));
            rc = 0;
        }
        PQclear(res);
        PQfinish(conn);
        if (rc == 0)
            return 0;
    }
    snprintf(pat, sizeof(pat), "%s%scdcagent-*-%s.state", dir && *dir ? dir : "",
             dir && *dir && dir[strlen(dir) - 1] != '/' ? "/" : "", src->slot_name);
    if (glob(pat, 0, NULL, &g) == 0 && g.gl_pathc == 1) {
        const char *base = strrchr(g.gl_pathv[0], '/');
        const char *sys = (base ? base + 1 : g.gl_pathv[0]) + strlen("cdcagent-");
        const char *end = strchr(sys, '-');

        if (end && (size_t) (end - sys) < n) {
            memcpy(out, sys, (size_t) (end - sys));
            out[end - sys] = '\0';
            rc = 0;
        }
    }
    globfree(&g);
    return rc;
}

json_t *
agent_incr_status_load(const cdc_config *cfg)
{
    agent_state *st;
    cdc_err      err = { 0 };
    char         sys[32];
    json_t      *rec, *out = NULL, *tabs, *v;
    size_t       i;

    /* Without a signal table too: a resumed initial snapshot runs there. */
    if (system_id(cfg, sys, sizeof(sys)) < 0)
        return NULL;
    st = cdc_xcalloc(1, sizeof(*st));
    if (agent_state_load(st, cfg->platform.agent.state_dir, sys, cfg->pipeline.source.slot_name,
                         &err) < 0 || !st->loaded || st->incr[0] == '\0') {
        free(st);
        return NULL;
    }
    rec = json_loads(st->incr, 0, NULL);
    if (json_is_object(rec)) {
        bool running;

        tabs = json_object_get(rec, "tables");
        running = json_array_size(tabs) > 0;
        out = json_object();
        json_object_set_new(out, "state", json_string(!running ? "idle" :
                            json_is_true(json_object_get(rec, "paused")) ? "paused" : "running"));
        json_object_set(out, "id", json_object_get(rec, "id"));
        json_object_set_new(out, "tables_remaining", json_array());
        json_array_foreach(tabs, i, v)
            json_array_append(json_object_get(out, "tables_remaining"),
                              json_object_get(v, "table"));
        json_object_set_new(out, "tables_done",
                            json_integer(json_integer_value(json_object_get(rec, "tables_done"))));
        json_object_set_new(out, "chunks",
                            json_integer(json_integer_value(json_object_get(rec, "chunks"))));
        json_object_set_new(out, "rows",
                            json_integer(json_integer_value(json_object_get(rec, "rows"))));
        if (running) {
            json_object_set(out, "table", json_object_get(json_array_get(tabs, 0), "table"));
            json_object_set(out, "after_key", json_object_get(rec, "from"));
            json_object_set(out, "max_key", json_object_get(rec, "max"));
        }
        json_object_set_new(out, "chunks_not_durable",
                            json_integer((json_int_t) json_array_size(json_object_get(rec, "pending"))));
        json_object_set_new(out, "record", json_string(st->path));
    }
    json_decref(rec);
    free(st);
    return out;
}

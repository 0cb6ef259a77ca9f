#include "agent/source/failover.h"

#include <stdio.h>
#include <string.h>

#include "agent/core/cdc_log.h"
#include "agent/core/net/pgconn.h"
#include "agent/source/pg_source.h"
#include "agent/source/slot_warn.h"

/* "host:port" of a connection, for messages. */
static const char *
where(PGconn *conn, char *out, size_t n)
{
    snprintf(out, n, "%s:%s", PQhost(conn), PQport(conn));
    return out;
}

/* 1 on a standby, 0 on a primary, -1 with err set. */
static int
in_recovery(PGconn *conn, cdc_err *err)
{
    PGresult *res = agent_pg_query(conn, "SELECT pg_is_in_recovery()", 0, NULL,
                                   "checking whether the server is a standby", err);
    int       rc;

    if (res == NULL)
        return -1;
    rc = PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    return rc;
}

/*
 * The primary's side: synchronized_standby_slots and the physical slots of
 * its standbys, into obj (when not NULL) and warnings.
 */
static void
primary_side(PGconn *conn, const cfg_source *src, bool failover, json_t *obj, json_t *w)
{
    cdc_err     err = { 0 };
    PGresult   *res;
    json_t     *phys = json_array();
    char        sss[256] = "", names[256] = "", at[300];
    size_t      used = 0;
    int         nactive = 0, n;

    res = agent_pg_query(conn, "SELECT current_setting('synchronized_standby_slots')", 0, NULL,
                         "reading synchronized_standby_slots", &err);
    if (res != NULL) {
        snprintf(sss, sizeof(sss), "%s", PQgetvalue(res, 0, 0));
        PQclear(res);
    }
    res = agent_pg_query(conn, "SELECT slot_name::text, active, restart_lsn::text"
                               "  FROM pg_replication_slots WHERE slot_type = 'physical'"
                               " ORDER BY 1", 0, NULL, "reading the physical slots", &err);
    n = res ? PQntuples(res) : 0;
    for (int r = 0; r < n; r++) {
        json_t *s = json_object();
        bool    active = PQgetvalue(res, r, 1)[0] == 't';

        json_object_set_new(s, "slot_name", json_string(PQgetvalue(res, r, 0)));
        json_object_set_new(s, "active", json_boolean(active));
        json_object_set_new(s, "restart_lsn", PQgetisnull(res, r, 2) ? json_null()
                                              : json_string(PQgetvalue(res, r, 2)));
        json_array_append_new(phys, s);
        nactive += active;
        if (used < sizeof(names))
            used += (size_t) snprintf(names + used, sizeof(names) - used, "%s%s",
                                      used ? ", " : "", PQgetvalue(res, r, 0));
    }
    PQclear(res);
    if (err.msg[0])
        agent_slot_warn(w, "could not read the standby side on %s: %s",
                        where(conn, at, sizeof(at)), err.msg);
    if (obj) {
        json_object_set_new(obj, "synchronized_standby_slots", json_string(sss));
        json_object_set(obj, "physical_slots", phys);
    }
    json_decref(phys);
    if (!failover) {
        if (src->slot_failover || n > 0)
            agent_slot_warn(w, "slot %s has failover off: no standby gets a copy of it, so a "
                            "failover now loses the slot and the changes it holds; set "
                            "source.slot_failover: true (PostgreSQL 17+; the agent turns it on at "
                            "its next start)", src->slot_name);
        return;
    }
    if (n == 0)
        agent_slot_warn(w, "slot %s has failover on, but no standby replicates through a physical "
                        "slot of %s: a standby gets the slot only with primary_slot_name, "
                        "sync_replication_slots = on and hot_standby_feedback = on; a failover now "
                        "loses it (docs/ha.md)", src->slot_name, where(conn, at, sizeof(at)));
    else if (nactive == 0)
        agent_slot_warn(w, "no standby is connected to its physical slot (%s) on %s: slot %s is "
                        "not being synchronised, and a failover now finds it behind or missing",
                        names, where(conn, at, sizeof(at)), src->slot_name);
    if (n > 0 && sss[0] == '\0')
        agent_slot_warn(w, "synchronized_standby_slots is empty on %s: the agent may receive "
                        "changes before any standby has them, and a failover then loses them from "
                        "the new primary; set it to the standbys' physical slots (%s)",
                        where(conn, at, sizeof(at)), names);
}

/* One standby of source.host: its copy of the slot and the settings that sync it. */
static void
standby_side(const cfg_source *src, const char *host, json_t *list, json_t *w)
{
    cfg_source  one = *src;
    cdc_err     err = { 0 };
    const char *p[1] = { src->slot_name };
    PGconn     *conn;
    PGresult   *res;
    json_t     *s;

    one.host = (char *) host;
    one.target_session_attrs = (char *) "any";
    conn = agent_pg_connect(&one, false, &err);
    s = json_object();
    json_object_set_new(s, "host", json_string(host));
    if (conn == NULL) {
        json_object_set_new(s, "error", json_string(err.msg));
        json_array_append_new(list, s);
        return;
    }
    res = agent_pg_query(conn, "SELECT pg_is_in_recovery(),"
                               "       current_setting('sync_replication_slots'),"
                               "       current_setting('hot_standby_feedback'),"
                               "       current_setting('primary_slot_name')",
                         0, NULL, "reading the standby's settings", &err);
    if (res == NULL || PQgetvalue(res, 0, 0)[0] != 't') {
        /* The primary itself (or an error): not a standby. */
        PQclear(res);
        PQfinish(conn);
        json_decref(s);
        return;
    }
    json_object_set_new(s, "sync_replication_slots", json_string(PQgetvalue(res, 0, 1)));
    json_object_set_new(s, "hot_standby_feedback", json_string(PQgetvalue(res, 0, 2)));
    json_object_set_new(s, "primary_slot_name", json_string(PQgetvalue(res, 0, 3)));
    if (strcmp(PQgetvalue(res, 0, 1), "on") != 0 || strcmp(PQgetvalue(res, 0, 2), "on") != 0 ||
        PQgetvalue(res, 0, 3)[0] == '\0')
        agent_slot_warn(w, "standby %s does not synchronise slots (sync_replication_slots = %s, "
                        "hot_standby_feedback = %s, primary_slot_name = '%s'; all three are "
                        "needed): a failover to it loses slot %s", host, PQgetvalue(res, 0, 1),
                        PQgetvalue(res, 0, 2), PQgetvalue(res, 0, 3), src->slot_name);
    PQclear(res);
    res = agent_pg_query(conn, "SELECT failover, synced, temporary, confirmed_flush_lsn::text,"
                               "       invalidation_reason"
                               "  FROM pg_replication_slots WHERE slot_name = $1",
                         1, p, "reading the slot on the standby", &err);
    if (res == NULL) {
        json_object_set_new(s, "error", json_string(err.msg));
    } else if (PQntuples(res) == 0) {
        json_object_set_new(s, "slot", json_null());
        agent_slot_warn(w, "standby %s has no copy of slot %s: a failover to it now loses the "
                        "slot (is the slot's failover on? docs/ha.md)", host, src->slot_name);
    } else {
        json_t *c = json_object();

        json_object_set_new(c, "failover", json_boolean(PQgetvalue(res, 0, 0)[0] == 't'));
        json_object_set_new(c, "synced", json_boolean(PQgetvalue(res, 0, 1)[0] == 't'));
        json_object_set_new(c, "temporary", json_boolean(PQgetvalue(res, 0, 2)[0] == 't'));
        json_object_set_new(c, "confirmed_flush_lsn", PQgetisnull(res, 0, 3) ? json_null()
                                                      : json_string(PQgetvalue(res, 0, 3)));
        json_object_set_new(c, "invalidation_reason", PQgetisnull(res, 0, 4) ? json_null()
                                                      : json_string(PQgetvalue(res, 0, 4)));
        json_object_set_new(s, "slot", c);
        if (!PQgetisnull(res, 0, 4))
            agent_slot_warn(w, "the copy of slot %s on standby %s is invalidated (%s): a failover "
                            "to it loses the slot", src->slot_name, host, PQgetvalue(res, 0, 4));
        else if (PQgetvalue(res, 0, 1)[0] != 't' || PQgetvalue(res, 0, 2)[0] == 't')
            agent_slot_warn(w, "the copy of slot %s on standby %s is not ready (synced %s, "
                            "temporary %s: it waits for the slot to move past what the standby "
                            "holds): a failover to it now loses the slot", src->slot_name, host,
                            PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2));
    }
    PQclear(res);
    PQfinish(conn);
    json_array_append_new(list, s);
}

void
agent_failover_status(PGconn *conn, const cfg_source *src, bool failover, json_t *obj,
                      json_t *warnings)
{
    char      hosts[CFG_HOSTS_MAX], ports[CFG_HOSTS_MAX / 4];
    int       n;
    json_t   *standbys;
    cdc_err   err = { 0 };
    int       standby;

    if (PQserverVersion(conn) < AGENT_PG_FAILOVER_VERSION)
        return;
    /* Capture from a standby: the slot stays there; no failover to speak of. */
    standby = in_recovery(conn, &err);
    json_object_set_new(obj, "in_recovery", json_boolean(standby != 0));
    if (standby != 0)
        return;
    primary_side(conn, src, failover, obj, warnings);
    if (cfg_host_list(src->host, src->port, hosts, sizeof(hosts), ports, sizeof(ports), &n) != NULL ||
        n < 2)
        return;
    standbys = json_array();
    for (char *h = hosts, *pt = ports, *hn, *pn; h != NULL; h = hn, pt = pn) {
        char one[300];

        hn = strchr(h, ',');
        pn = strchr(pt, ',');
        if (hn)
            *hn++ = '\0';
        if (pn)
            *pn++ = '\0';
        snprintf(one, sizeof(one), strchr(h, ':') ? "[%s]:%s" : "%s:%s", h, pt);
        standby_side(src, one, standbys, warnings);
    }
    json_object_set_new(obj, "standbys", standbys);
}

void
agent_standby_slot_note(PGconn *sql, const char *slot)
{
    cdc_err err = { 0 };
    char    at[300];

    if (in_recovery(sql, &err) == 1)
        log_info("failover", "creating slot %s on standby %s: PostgreSQL waits for the "
                 "primary's next running-transactions record (every 15 s while it writes); "
                 "SELECT pg_log_standby_snapshot() on the primary writes one now (docs/ha.md)",
                 slot, where(sql, at, sizeof(at)));
}

int
agent_failover_prepare(PGconn *sql, PGconn *repl, const cfg_source *src, bool slot_exists,
                       cdc_err *err)
{
    const char *p[1] = { src->slot_name };
    PGresult   *res;
    json_t     *w;
    char        at[300];
    bool        failover;
    int         standby;

    if (!src->slot_failover)
        return 0;
    if (PQserverVersion(sql) < AGENT_PG_FAILOVER_VERSION) {
        const char *v = PQparameterStatus(sql, "server_version");

        return cdc_err_set(err, CDC_E_CONFIG, "source.slot_failover: true needs PostgreSQL 17 "
                           "or newer (failover slots), and %s runs PostgreSQL %s; set it to "
                           "false, or capture from a 17+ server (docs/ha.md)",
                           where(sql, at, sizeof(at)), v ? v : "?");
    }
    standby = in_recovery(sql, err);
    if (standby < 0)
        return -1;
    if (standby)
        return cdc_err_set(err, CDC_E_CONFIG, "source.slot_failover: true, but %s is a standby: "
                           "PostgreSQL gives failover only to slots on a primary; capturing "
                           "from a standby needs source.slot_failover: false (docs/ha.md)",
                           where(sql, at, sizeof(at)));
    failover = true;
    if (slot_exists) {
        res = agent_pg_query(sql, "SELECT failover FROM pg_replication_slots WHERE slot_name = $1",
                             1, p, "reading the slot's failover", err);
        if (res == NULL)
            return -1;
        failover = PQntuples(res) == 0 || PQgetvalue(res, 0, 0)[0] == 't';
        PQclear(res);
    }
    if (!failover) {
        char ident[160], cmd[256];

        snprintf(cmd, sizeof(cmd), "ALTER_REPLICATION_SLOT %s (FAILOVER true)",
                 agent_pg_quote_ident(repl, src->slot_name, ident, sizeof(ident)));
        if (agent_pg_exec(repl, cmd, "turning the slot's failover on (source.slot_failover)",
                          err) < 0)
            return -1;
        log_info("failover", "slot %s: failover turned on (source.slot_failover)", src->slot_name);
    }
    w = json_array();
    primary_side(sql, src, true, NULL, w);
    for (size_t i = 0; i < json_array_size(w); i++)
        log_warn("failover", "%s", json_string_value(json_array_get(w, i)));
    json_decref(w);
    return 0;
}

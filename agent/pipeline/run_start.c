/*
 * `cdcagent run`, start-up: the server's settings, the slot and what the
 * destinations hold, the slot's record (agent/pipeline/state.h), and the
 * snapshot, taken and made durable before streaming begins.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/core/cdc_buf.h"
#include "agent/core/cdc_clock.h"
#include "agent/core/cdc_log.h"
#include "agent/core/cdc_lsn.h"
#include "agent/core/net/pgconn.h"
#include "agent/pipeline/run_int.h"
#include "agent/pipeline/snapshot.h"
#include "agent/pipeline/snapshot_resume.h"
#include "agent/source/failover.h"
#include "agent/source/pg_source.h"
#include "agent/source/publication.h"
#include "agent/source/slot.h"

static int
check_server(agent *ag, cdc_err *err)
{
    PGresult *res = agent_pg_query(ag->sql, "SELECT current_setting('wal_level')", 0, NULL,
                                   "checking wal_level", err);
    int       rc = 0;

    if (res == NULL)
        return -1;
    if (strcmp(PQgetvalue(res, 0, 0), "logical") != 0)
        rc = cdc_err_set(err, CDC_E_CONFIG, "PostgreSQL at %s:%s has wal_level=%s; logical "
                         "replication needs wal_level=logical (set it and restart the server)",
                         PQhost(ag->sql), PQport(ag->sql), PQgetvalue(res, 0, 0));
    PQclear(res);
    return rc;     /* a server older than 12 was refused at connect (agent_pg_connect) */
}

int
run_read_slot(agent *ag, slot_row *out, cdc_err *err)
{
    const char *p[1] = { ag->src->slot_name };
    PGresult   *res;
    int         rc = 0;
    /* wal_status is 13's; before it nothing invalidates a slot (no max_slot_wal_keep_size).
       Why: 16's conflicting (a recovery conflict on a standby), 17's invalidation_reason. */
    int         v = PQserverVersion(ag->sql);
    char        q[400];

    snprintf(q, sizeof(q), "SELECT plugin, database, active, active_pid, confirmed_flush_lsn, "
             "slot_type, %s, %s FROM pg_replication_slots WHERE slot_name = $1",
             v >= 130000 ? "wal_status" : "''",
             v >= 170000 ? "coalesce(invalidation_reason, '')"
             : v >= 160000 ? "CASE WHEN conflicting THEN 'conflicting' ELSE '' END" : "''");
    res = agent_pg_query(ag->sql, q, 1, p, "reading the replication slot", err);
    if (res == NULL)
        return -1;
    out->exists = PQntuples(res) == 1;
    out->confirmed = 0;
    out->lost = false;
    out->invalid_reason[0] = '\0';
    if (!out->exists)
        goto out;
    snprintf(out->invalid_reason, sizeof(out->invalid_reason), "%s", PQgetvalue(res, 0, 7));
    out->lost = strcmp(PQgetvalue(res, 0, 6), "lost") == 0 || out->invalid_reason[0] != '\0';
    if (strcmp(PQgetvalue(res, 0, 5), "logical") != 0 || strcmp(PQgetvalue(res, 0, 0), "pgoutput") != 0)
        rc = cdc_err_set(err, CDC_E_CONFIG, "slot %s exists but is a %s slot with plugin %s; "
                         "cdcagent needs a logical pgoutput slot", ag->src->slot_name,
                         PQgetvalue(res, 0, 5), PQgetvalue(res, 0, 0));
    else if (strcmp(PQgetvalue(res, 0, 1), ag->src->database) != 0)
        rc = cdc_err_set(err, CDC_E_CONFIG, "slot %s belongs to database %s, not %s",
                         ag->src->slot_name, PQgetvalue(res, 0, 1), ag->src->database);
    else if (PQgetvalue(res, 0, 2)[0] == 't')
        rc = cdc_err_set(err, CDC_E_CONN, "slot %s is in use by another process (pid %s)",
                         ag->src->slot_name, PQgetvalue(res, 0, 3));
    else if (!PQgetisnull(res, 0, 4))
        cdc_lsn_parse(PQgetvalue(res, 0, 4), &out->confirmed);
out:
    PQclear(res);
    return rc;
}

static int
drop_slot(agent *ag, cdc_err *err)
{
    char ident[160], sql[200];

    snprintf(sql, sizeof(sql), "DROP_REPLICATION_SLOT %s",
             agent_pg_quote_ident(repl_conn(ag->rs), ag->src->slot_name, ident, sizeof(ident)));
    return agent_pg_exec(repl_conn(ag->rs), sql, "dropping the slot", err);
}

/*
 * Snapshot rows sit at (consistent point - 1, ordinal) and the slot does not
 * move until something after the snapshot is confirmed, so a destination
 * whose last event is a snapshot row of this slot, other than the last one,
 * shows a snapshot that never finished.
 */
static bool
snapshot_interrupted(const agent *ag, const slot_row *slot)
{
    /* always: the start reads every table again, after what the slot holds */
    if (ag->src->snapshot_mode == CFG_SNAPSHOT_NEVER ||
        ag->src->snapshot_mode == CFG_SNAPSHOT_ALWAYS || slot->confirmed == 0)
        return false;
    for (int i = 0; i < ag->router.ndests; i++) {
        const cdc_dest *d = ag->router.dests[i];
        cdc_pos         p = ag->router.written[i];

        if (cdc_pos_cmp(d->newest_held, p) > 0)
            p = d->newest_held;
        if (p.lsn + 1 != slot->confirmed)
            continue;
        /* Kafka: partitions fill independently, so even the last snapshot row
           does not prove the others arrived; the slot has not moved since. */
        if (d->held_unordered || (p.seq != CDC_SEQ_SNAPSHOT_LAST && p.seq != CDC_SEQ_END))
            return true;
    }
    return false;
}

/* What destination i holds at start: its resume position, or beyond (Kafka's partitions). */
static cdc_pos
held_at_start(const agent *ag, int i)
{
    cdc_pos p = ag->router.written[i];

    if (cdc_pos_cmp(ag->router.dests[i]->newest_held, p) > 0)
        p = ag->router.dests[i]->newest_held;
    return p;
}

/* The slot and what the destinations hold, for agent_snapshot_plan(). */
static int
plan_slot(agent *ag, const slot_row *slot, agent_slot_plan *plan, cdc_err *err)
{
    agent_slot_facts f = { .exists = slot->exists, .lost = slot->lost,
                           .invalid_reason = slot->invalid_reason,
                           .dests_remember = agent_snapshot_dests_remember(ag->cfg) };
    cdc_pos          last = { ag->state.cp - 1, CDC_SEQ_SNAPSHOT_LAST };
    bool             all_last = ag->state.cp != 0;
    char             why[600];

    for (int i = 0; i < ag->router.ndests; i++) {
        /* Kafka reports {0,0} as written and what its partitions hold apart. */
        uint64_t lsn = ag->router.written[i].lsn > ag->router.dests[i]->newest_held.lsn
                           ? ag->router.written[i].lsn : ag->router.dests[i]->newest_held.lsn;

        if (lsn > f.held_lsn) {
            f.held_lsn = lsn;
            f.held_by = ag->router.dests[i]->id;
        }
        if (ag->router.dests[i]->holds_foreign && f.held_by == NULL) {
            f.held_foreign = true;
            f.held_by = ag->router.dests[i]->id;
        }
        /* In stream order, holding the snapshot's last row means holding all of it. */
        if (ag->router.dests[i]->held_unordered || cdc_pos_cmp(held_at_start(ag, i), last) < 0)
            all_last = false;
    }
    if (!slot->exists && ag->state.loaded && ag->state.snapshot == AGENT_SNAP_PENDING &&
        ag->state.cp != 0 && f.held_lsn != 0 && f.held_lsn < ag->state.cp && !f.held_foreign) {
        /*
         * The slot is gone but its record says its snapshot never finished, and no
         * destination holds anything after that snapshot's rows: the agent dropped
         * the slot itself when it stopped during the snapshot.  Nothing streamed was
         * delivered, so a new slot and a new snapshot lose nothing.
         */
        log_warn("agent", "slot %s does not exist and destination %s holds only rows of its "
                 "snapshot, which never finished (record %s): taking the snapshot again on a "
                 "new slot (rows already delivered arrive a second time, op r)",
                 ag->src->slot_name, f.held_by ? f.held_by : "?", ag->state.path);
        f.held_lsn = 0;
        f.held_by = NULL;
    }
    if (slot->exists && !slot->lost)
        f.snapshot_unproven = agent_snapshot_unproven(ag->src, &ag->state, slot->confirmed,
                                                      f.dests_remember, all_last, why,
                                                      sizeof(why));
    if (slot->exists && !slot->lost && !ag->state.loaded && f.snapshot_unproven != NULL) {
        /*
         * No record, under when_needed: a destination that reports, holding the
         * snapshot's last row as its newest event, with the slot confirmed past
         * that snapshot's consistent point, is the proof there is (the slot moves
         * past it only once every destination made the snapshot durable).
         */
        for (int i = 0; i < ag->router.ndests; i++) {
            cdc_pos p = held_at_start(ag, i);

            if (!ag->remembers[i] || ag->router.dests[i]->held_unordered ||
                p.seq != CDC_SEQ_SNAPSHOT_LAST || p.lsn == 0 || slot->confirmed <= p.lsn + 1)
                continue;
            log_info("agent", "slot %s: no record of its snapshot (%s), but destination %s holds "
                     "the snapshot's last row and the slot is confirmed past it (" CDC_LSN_FMT
                     "): the snapshot was delivered", ag->src->slot_name, ag->state.path,
                     ag->router.dests[i]->id, CDC_LSN_ARGS(slot->confirmed));
            f.snapshot_unproven = NULL;
            break;
        }
    }
    if (slot->exists && !slot->lost && !ag->state.loaded && !f.dests_remember &&
        f.snapshot_unproven == NULL && ag->src->snapshot_mode != CFG_SNAPSHOT_WHEN_NEEDED && ag->src->snapshot_mode != CFG_SNAPSHOT_NEVER &&
        ag->src->snapshot_mode != CFG_SNAPSHOT_ALWAYS) {
        char names[300] = "";
        size_t used = 0;

        for (int i = 0; i < ag->router.ndests && used < sizeof(names); i++)
            if (!ag->remembers[i])
                used += (size_t) snprintf(names + used, sizeof(names) - used, "%s%s (%s)",
                                          used ? ", " : "", ag->router.dests[i]->id,
                                          ag->router.dests[i]->ops->kind);
        log_warn("agent", "slot %s exists but there is no record of its snapshot (%s): the "
                 "first start after upgrading from a version that kept none, or agent.state_dir "
                 "is not on persistent storage. Destination(s) %s cannot say what they hold, so "
                 "nothing proves they received the snapshot; keeping the slot (dropping it would "
                 "lose the changes it holds) and assuming the snapshot was delivered, as earlier "
                 "versions did. To give them the snapshot again: cdcagent slot drop PIPELINE "
                 "--yes, then start with snapshot_mode when_needed", ag->src->slot_name,
                 ag->state.path, names);
    }
    return agent_snapshot_plan(ag->src, &f, plan, err);
}

/* The server's system identifier: the record of a slot is named after it and the slot. */
static int
read_system(agent *ag, char *out, size_t n, cdc_err *err)
{
    PGresult *res = PQexec(repl_conn(ag->rs), "IDENTIFY_SYSTEM");
    int       rc = 0;

    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
        rc = cdc_err_set(err, CDC_E_PG, "IDENTIFY_SYSTEM on %s:%s: %s",
                         PQhost(repl_conn(ag->rs)), PQport(repl_conn(ag->rs)),
                         PQresultErrorMessage(res));
    else
        snprintf(out, n, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return rc;
}

/*
 * A destination that holds less than the record says it held went backwards:
 * a file cut short or emptied, a database restored from an older backup.  The
 * slot sends again only transactions that commit at or after its confirmed
 * LSN, so what the destination lost before that never comes back: the loss is
 * proven when the newest event it was known to hold lies before the confirmed
 * LSN.  (That the slot is confirmed past the newest event a destination holds
 * proves nothing by itself: idle confirms and transactions with no published
 * row move it too; the record is the evidence.)
 */
static int
check_dests_held(agent *ag, const slot_row *slot, cdc_err *err)
{
    for (int i = 0; i < ag->router.ndests; i++) {
        const cdc_dest   *d = ag->router.dests[i];
        agent_state_dest *sd = agent_state_dest_get(&ag->state, d->id, d->ops->kind, false);
        cdc_pos           now = held_at_start(ag, i);

        if (sd == NULL || !ag->remembers[i] || cdc_pos_cmp(now, sd->held) >= 0)
            continue;
        if (now.lsn >= slot->confirmed) {
            log_warn("agent", "destination %s holds events up to " CDC_LSN_FMT " #%llu, less "
                     "than the " CDC_LSN_FMT " #%llu it held before (%s); the slot sends "
                     "everything after " CDC_LSN_FMT " again, so nothing is missing",
                     d->id, CDC_LSN_ARGS(now.lsn), (unsigned long long) now.seq,
                     CDC_LSN_ARGS(sd->held.lsn), (unsigned long long) sd->held.seq,
                     ag->state.path, CDC_LSN_ARGS(slot->confirmed));
            continue;
        }
        if (sd->held.lsn >= slot->confirmed) {
            log_warn("agent", "destination %s holds events up to " CDC_LSN_FMT " #%llu, less "
                     "than the " CDC_LSN_FMT " #%llu it held before (%s); the slot sends again "
                     "what committed from " CDC_LSN_FMT " on: events between its last one and "
                     "that may be missing from it", d->id, CDC_LSN_ARGS(now.lsn),
                     (unsigned long long) now.seq, CDC_LSN_ARGS(sd->held.lsn),
                     (unsigned long long) sd->held.seq, ag->state.path,
                     CDC_LSN_ARGS(slot->confirmed));
            continue;
        }
        log_error("agent", "destination %s (%s) holds events up to " CDC_LSN_FMT " #%llu%s, but "
                  "it held events up to " CDC_LSN_FMT " #%llu (agent record %s) and slot %s is "
                  "confirmed up to " CDC_LSN_FMT ", so PostgreSQL will not send the missing "
                  "events again. Something removed them (a file cut short or emptied, a database "
                  "restored from an older backup). To recover: restore the destination to what "
                  "it held; or drop the slot (cdcagent slot drop PIPELINE --yes) and start with "
                  "snapshot_mode when_needed to take a new snapshot (rows arrive again as op r); "
                  "or, to accept the loss and go on from what it holds, delete %s",
                  d->id, d->ops->kind, CDC_LSN_ARGS(now.lsn), (unsigned long long) now.seq,
                  now.lsn == 0 ? " (nothing)" : "", CDC_LSN_ARGS(sd->held.lsn),
                  (unsigned long long) sd->held.seq, ag->state.path, ag->src->slot_name,
                  CDC_LSN_ARGS(slot->confirmed), ag->state.path);
        return cdc_err_set(err, CDC_E_STATE, "destination %s went backwards: it holds events up "
                           "to " CDC_LSN_FMT " but held up to " CDC_LSN_FMT ", and the slot will "
                           "not send the rest again; not starting (the log says how to recover)",
                           d->id, CDC_LSN_ARGS(now.lsn), CDC_LSN_ARGS(sd->held.lsn));
    }
    return 0;
}

/*
 * Starts keeping the record: what each destination that reports its position
 * holds now is evidence too.  Written before anything else happens, so that
 * an unwritable agent.state_dir stops the start rather than a later restart.
 */
static bool
dest_configured(void *arg, const char *id, const char *kind)
{
    const agent *ag = arg;

    for (int i = 0; i < ag->router.ndests; i++)
        if (strcmp(ag->router.dests[i]->id, id) == 0 &&
            strcmp(ag->router.dests[i]->ops->kind, kind) == 0)
            return true;
    return false;
}

/*
 * A write of the record at start.  When a destination cannot say what it
 * holds, the record is the only proof of the snapshot: a failure stops the
 * start.  When every destination reports its position, the record is only
 * evidence (of a destination that went backwards): warn and go on.
 */
static int
save_at_start(agent *ag, cdc_err *err)
{
    cdc_err e = { 0 };

    if (agent_state_save(&ag->state, &e) == 0)
        return 0;
    cdc_err_ensure(&e, "writing the state record %s", ag->state.path);
    if (!agent_snapshot_dests_remember(ag->cfg)) {
        *err = e;
        return -1;
    }
    if (!ag->state_failing)
        log_warn("agent", "%s; every destination reports what it holds, so the agent goes on "
                 "without its record (a destination that goes backwards may then go unnoticed)",
                 e.msg);
    ag->state_failing = true;
    return 0;
}

static int
start_state(agent *ag, cdc_err *err)
{
    for (int i = 0; i < ag->router.ndests; i++) {
        cdc_pos           now = held_at_start(ag, i);
        agent_state_dest *sd;

        if (!ag->remembers[i] || now.lsn == 0)
            continue;
        sd = agent_state_dest_get(&ag->state, ag->router.dests[i]->id,
                                  ag->router.dests[i]->ops->kind, true);
        if (sd && cdc_pos_cmp(now, sd->held) > 0)
            sd->held = now;
    }
    /* Destinations no longer configured: their entries would stand for nothing. */
    agent_state_retain(&ag->state, dest_configured, ag);
    if (save_at_start(ag, err) < 0)
        return -1;
    ag->state_on = true;
    ag->state_saved_ms = cdc_mono_ms();
    return 0;
}

/*
 * The record lists every destination the snapshot was delivered to (those that
 * cannot report positions too, with none).  One configured since has only the
 * changes from its first start on: said once, when warn is set, with the way
 * to give it the snapshot.
 */
static void
note_snapshot_dests(agent *ag, bool warn)
{
    for (int i = 0; i < ag->router.ndests; i++) {
        const cdc_dest *d = ag->router.dests[i];

        if (agent_state_dest_get(&ag->state, d->id, d->ops->kind, false) != NULL)
            continue;
        if (warn)
            log_warn("agent", "destination %s (%s) was added after slot %s's snapshot was "
                     "delivered: it gets the changes from now on, not the rows from before. To "
                     "give it the snapshot, drop the slot (cdcagent slot drop PIPELINE --yes) "
                     "and start with snapshot_mode when_needed (every destination then gets the "
                     "rows again as op r)", d->id, d->ops->kind, ag->src->slot_name);
        agent_state_dest_get(&ag->state, d->id, d->ops->kind, true);
    }
}

/*
 * The snapshot's rows are all handed out: wait until every destination made
 * them durable, then record it, before streaming.  Until then a restart must
 * take the snapshot again, since the slot cannot send those rows (nothing
 * after the snapshot is read meanwhile, so nothing else waits on this).
 * @returns 0, 1 when a stop came first, or -1 with err set.
 */
static int
wait_snapshot_durable(agent *ag, uint64_t cp, cdc_err *err)
{
    cdc_pos target = { cp - 1, CDC_SEQ_END };
    int64_t since = cdc_mono_ms(), logged = since;
    bool    flushed = false;

    for (;;) {
        int slow = -1;

        if (agent_router_poll(&ag->router, err) < 0)
            return -1;
        for (int i = 0; i < ag->router.ndests && slow < 0; i++)
            if (cdc_pos_cmp(agent_wm_dest_pos(ag->wm, i), target) < 0)
                slow = i;
        if (slow < 0)
            break;
        if (*ag->stop) {
            /* As at any stop: give the destinations shutdown_timeout to make it durable;
               if they do, the snapshot is delivered and this is a normal stop. */
            int     timeout = (int) (ag->cfg->platform.agent.shutdown_timeout_seconds * 1000);
            cdc_err ferr = { 0 };

            if (flushed) {
                log_error("agent", "snapshot: destination %s did not make every row durable "
                          "within agent.shutdown_timeout_seconds of the stop; the next start "
                          "reads again what is not durable (docs/snapshots.md, \"After a crash\")",
                          ag->router.dests[slow]->id);
                return 1;
            }
            flushed = true;
            log_info("agent", "stop requested while the snapshot is made durable; flushing the "
                     "destinations (at most %d ms)", timeout);
            if (agent_router_flush(&ag->router, timeout, &ferr) < 0)
                log_warn("agent", "flushing the destinations at stop: %s",
                         ferr.msg[0] ? ferr.msg : "failed");
            continue;       /* poll once more, then decide */
        }
        if (cdc_mono_ms() - logged >= 10000) {
            logged = cdc_mono_ms();
            log_info("agent", "snapshot: waiting %lld s for destination %s to make every row "
                     "durable before streaming", (long long) ((logged - since) / 1000),
                     ag->router.dests[slow]->id);
        }
        /* Each destination makes things durable at its own pace (flush intervals, batches,
           retries): poll, do not force a flush.  While streaming (snapshot_mode always with
           an existing slot), the wait hook also keeps the replication connection alive. */
        run_update_metrics(ag);
        if (ag->router.wait_hook && ag->router.wait_hook(ag->router.wait_arg, err) < 0)
            return -1;
        cdc_sleep_ms(20);
    }
    ag->state.snapshot = AGENT_SNAP_DELIVERED;
    note_snapshot_dests(ag, false);
    run_note_state(ag, true);
    log_info("agent", "snapshot: every row durable in every destination");
    return 0;
}

static int reread_existing_slot(agent *ag, const slot_row *slot, cdc_err *err);

int
run_prepare_source(agent *ag, bool *snapshot_only_done, cdc_err *err)
{
    const cfg_source *src = ag->src;
    slot_row          slot;
    agent_slot_plan   plan;
    uint64_t          cp = 0;
    char              snapname[128] = "", sysid[32];
    bool              snap;
    int               rc, resumed = 0;

    *snapshot_only_done = false;
    if (check_server(ag, err) < 0 || agent_ensure_publication(ag->sql, ag->src, err) < 0 || run_read_slot(ag, &slot, err) < 0)
        return -1;
    if (read_system(ag, sysid, sizeof(sysid), err) < 0 ||
        agent_state_load(&ag->state, ag->cfg->platform.agent.state_dir, sysid, src->slot_name,
                         err) < 0)
        return -1;
    for (int i = 0; i < ag->router.ndests; i++)
        ag->remembers[i] = agent_snapshot_dest_remembers(ag->cfg, ag->router.dests[i]->id);
    if (agent_failover_prepare(ag->sql, repl_conn(ag->rs), src, slot.exists && !slot.lost, err) < 0)
        return -1;
    if (slot.exists && !slot.lost && check_dests_held(ag, &slot, err) < 0)
        return -1;
    /* An initial snapshot that did not finish, its slot still there: the rest is read as an
       incremental snapshot while streaming (snapshot_resume.h); the record then says
       delivered, so the slot is kept. */
    if (slot.exists && !slot.lost &&
        (resumed = agent_snapshot_resume(ag->sql, ag->cap, src, &ag->state, slot.confirmed,
                                         err)) < 0)
        return -1;
    if (plan_slot(ag, &slot, &plan, err) < 0)
        return -1;
    if (plan == AGENT_SLOT_RECREATE) {
        if (drop_slot(ag, err) < 0)
            return -1;
        slot.exists = false;
    }
    /* The record's "delivered" outranks what a destination's last event suggests: a
       resumed snapshot's rows stay the newest a destination holds until the stream's first
       change is durable. */
    if (slot.exists && !(ag->state.loaded && ag->state.snapshot == AGENT_SNAP_DELIVERED) &&
        snapshot_interrupted(ag, &slot)) {
        /*
         * A destination holds part of the snapshot and nothing after it: the
         * run that created the slot died mid-snapshot.  Streaming from the slot
         * would lose the rows never read, so take the snapshot again on a new
         * slot; the rows already delivered arrive a second time.
         */
        log_warn("agent", "slot %s: the previous run stopped during the snapshot; dropping the "
                 "slot and taking the snapshot again (rows already delivered are delivered "
                 "again)", src->slot_name);
        if (drop_slot(ag, err) < 0)
            return -1;
        slot.exists = false;
    }
    if (slot.exists) {
        if (src->snapshot_mode == CFG_SNAPSHOT_ALWAYS)
            return reread_existing_slot(ag, &slot, err);
        log_info("agent", "slot %s: exists, confirmed up to " CDC_LSN_FMT, src->slot_name,
                 CDC_LSN_ARGS(slot.confirmed));
        /* Streaming on means the snapshot is proven (agent_snapshot_unproven said so), or,
           without a record, vouched for by destinations that all remember. */
        note_snapshot_dests(ag, !resumed && ag->state.loaded &&
                                ag->state.snapshot == AGENT_SNAP_DELIVERED);
        if (!ag->state.loaded || ag->state.snapshot == AGENT_SNAP_PENDING)
            ag->state.snapshot = src->snapshot_mode == CFG_SNAPSHOT_NEVER && !ag->state.loaded
                                     ? AGENT_SNAP_NONE : AGENT_SNAP_DELIVERED;
        if (agent_snapshot_added_tables(ag->sql, src, &ag->state, err) < 0)
            return -1;
        if (start_state(ag, err) < 0)
            return -1;
        agent_wm_set_start(ag->wm, slot.confirmed);
        *snapshot_only_done = src->snapshot_mode == CFG_SNAPSHOT_INITIAL_ONLY;
        return 0;
    }
    snap = src->snapshot_mode != CFG_SNAPSHOT_NEVER;
    /* Recorded before the slot exists: a crash between the two leaves "pending", which a
       restart reads as "not delivered", never an older slot's "delivered". */
    ag->state.snapshot = snap ? AGENT_SNAP_PENDING : AGENT_SNAP_NONE;
    ag->state.cp = 0;
    ag->state.incr[0] = '\0';     /* an incremental snapshot belonged to the old slot */
    ag->state.snap[0] = '\0';     /* and so did the old snapshot's progress */
    /* What the destinations held belongs to the old slot: kept, a kill before the new
       snapshot's first durable row would read an emptied destination as gone backwards. */
    for (int i = 0; i < ag->state.ndests; i++)
        ag->state.dests[i].held = (cdc_pos) { 0, 0 };
    if (start_state(ag, err) < 0)
        return -1;
    agent_standby_slot_note(ag->sql, src->slot_name);
    if (repl_create_slot(ag->rs, src->slot_name, snap, src->slot_failover, &cp, snapname, sizeof(snapname), err) < 0)
        return -1;
    ag->state.cp = cp;
    if (save_at_start(ag, err) < 0)
        return -1;
    agent_wm_set_start(ag->wm, cp);
    if (!snap)
        return 0;
    {
        agent_snapshot_env env = { .metrics = ag->metrics,
                                   .state_dir = ag->cfg->platform.agent.state_dir,
                                   .every_s = ag->cfg->platform.agent.status_interval_seconds,
                                   .state = &ag->state };

        rc = agent_snapshot_run(ag->cap, ag->sql, src, snapname, cp, ag->stop, &env, err);
    }
    if (rc != 0) {
        cdc_err keep = *err;

        /* A half-taken snapshot cannot be resumed: drop the slot so the next start redoes it. */
        cdc_err ignored;

        log_error("agent", "snapshot %s; dropping slot %s so the next start takes it again",
                  rc > 0 ? "interrupted" : "failed", src->slot_name);
        drop_slot(ag, &ignored);
        if (rc > 0)
            return cdc_err_set(err, CDC_E_STATE, "stopped during the snapshot; it starts over "
                               "on the next run");
        *err = keep;
        return -1;
    }
    rc = wait_snapshot_durable(ag, cp, err);
    if (rc > 0)
        return cdc_err_set(err, CDC_E_STATE, "stopped before every destination had made the "
                           "snapshot durable; the next start reads again what is not durable");
    if (rc < 0)
        return cdc_err_wrap(err, "waiting for the snapshot to be durable");
    *snapshot_only_done = src->snapshot_mode == CFG_SNAPSHOT_INITIAL_ONLY;
    return 0;
}

/*
 * snapshot_mode always with an existing slot: every table is read again, in
 * the snapshot exported by a temporary slot created now on a second
 * replication connection, consistent at L.  The durable slot streams on from
 * its confirmed position: every transaction that committed before L is
 * emitted first (deletes made while the agent was down too), then, when the
 * stream reaches L (run_snapshot_due), the rows, at positions (L - 1, n),
 * then the transactions from L on.  The rows show exactly the transactions
 * before L, so nothing is missing and nothing is emitted twice.  A stop or
 * crash before the rows are durable leaves the record pending at L: the next
 * start (always) reads every table again.
 */
/* The temporary slot whose exported snapshot the rows are read in, consistent at snap_at. */
static int
open_temp_snapshot(agent *ag, const char *what, cdc_err *err)
{
    char name[64];

    ag->snap_tmp = repl_open(ag->src, err);
    if (ag->snap_tmp == NULL)
        return cdc_err_wrap(err, "%s: opening a second replication connection", what);
    snprintf(name, sizeof(name), "cdcagent_snap_%ld", (long) getpid());
    if (repl_create_temp_slot(ag->snap_tmp, name, &ag->snap_at, ag->snap_name,
                              sizeof(ag->snap_name), err) < 0)
        return cdc_err_wrap(err, "%s (the agent's user needs REPLICATION and a free "
                            "max_replication_slots entry for a temporary slot)", what);
    return 0;
}

static int
reread_existing_slot(agent *ag, const slot_row *slot, cdc_err *err)
{
    log_info("agent", "slot %s: exists, confirmed up to " CDC_LSN_FMT "; snapshot_mode always: "
             "reading every table again in the snapshot of a temporary slot, when the stream "
             "reaches it", ag->src->slot_name, CDC_LSN_ARGS(slot->confirmed));
    note_snapshot_dests(ag, false);
    if (open_temp_snapshot(ag, "snapshot_mode always", err) < 0)
        return -1;
    /* Pending at L: a restart under another mode takes the snapshot again on a new slot,
       since the rows of this one may be in the destinations in part, ahead of the slot. */
    ag->state.snapshot = AGENT_SNAP_PENDING;
    ag->state.cp = ag->snap_at;
    if (start_state(ag, err) < 0)
        return -1;
    agent_wm_set_start(ag->wm, slot->confirmed);
    return 0;
}

/*
 * Whether PostgreSQL takes the table and its condition: a table gone or a condition
 * it refuses (SQLSTATE classes 22 and 42) is the signal's error, logged, and the table
 * is left out.  @returns 1 ok, 0 left out, -1 on another error.
 */
static int
blocking_table_ok(agent *ag, const char *table, const char *cond, cdc_err *err)
{
    char        schema[64], name[64], q[300];
    cdc_buf     sql = CDC_BUF_INIT;
    PGresult   *res;
    const char *state;
    int         rc = 1;

    if (agent_pg_split_table(table, schema, name, err) < 0)
        return -1;
    cdc_buf_printf(&sql, "SELECT 1 FROM %s WHERE (%s) LIMIT 0",
                   agent_pg_quote_table(schema, name, q, sizeof(q)), cond ? cond : "true");
    res = PQexec(ag->sql, cdc_buf_str(&sql));
    cdc_buf_free(&sql);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        if (state && (strncmp(state, "42", 2) == 0 || strncmp(state, "22", 2) == 0)) {
            log_error("agent", "blocking snapshot: table %s%s%s: %s; the table is left out",
                      table, cond ? " with condition " : "", cond ? cond : "",
                      PQresultErrorMessage(res));
            rc = 0;
        } else {
            rc = cdc_err_set(err, CDC_E_PG, "blocking snapshot: checking table %s: %s", table,
                             PQresultErrorMessage(res));
        }
    }
    PQclear(res);
    return rc;
}

int
run_blocking_check(agent *ag, cdc_err *err)
{
    const char *tabs[RUN_BLOCKING_MAX], *conds[RUN_BLOCKING_MAX];
    int         n, k = 0;

    if (ag->incr == NULL || ag->snap_tmp != NULL || agent_capture_in_txn(ag->cap))
        return 0;
    n = agent_incr_blocking(ag->incr, tabs, conds, RUN_BLOCKING_MAX);
    if (n == 0)
        return 0;
    for (int i = 0; i < n; i++) {
        int ok = blocking_table_ok(ag, tabs[i], conds[i], err);

        if (ok < 0)
            return -1;
        if (ok == 0)
            continue;
        ag->snap_tables[k] = (char *) tabs[i];
        ag->snap_conds[k++] = conds[i];
    }
    if (k == 0) {
        log_warn("agent", "blocking snapshot: no table left to read; the signal is done");
        return agent_incr_blocking_done(ag->incr, err);
    }
    n = k;
    ag->snap_sub = *ag->src;
    ag->snap_sub.tables = ag->snap_tables;
    ag->snap_sub.ntables = n;
    ag->snap_blocking = true;
    if (open_temp_snapshot(ag, "blocking snapshot", err) < 0)
        return -1;
    log_info("agent", "blocking snapshot of %d table(s): the stream goes on to " CDC_LSN_FMT
             " (the temporary slot's consistent point), then pauses while they are read", n,
             CDC_LSN_ARGS(ag->snap_at));
    return 0;
}

static uint64_t
be64_at(const uint8_t *p)
{
    uint64_t v = 0;

    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

bool
run_snapshot_due(const agent *ag, const repl_msg *m)
{
    if (ag->snap_tmp == NULL || agent_capture_in_txn(ag->cap))
        return false;
    if (m == NULL)
        return ag->received >= ag->snap_at;
    if (m->kind != 'w')
        return m->wal_end >= ag->snap_at;
    /* pgoutput: Begin 'B' final LSN; Stream Commit 'c' xid, flags, commit LSN; a
       non-transactional Message 'M' at its own LSN.  Commit order is stream order. */
    if (m->len >= 9 && m->data[0] == 'B')
        return be64_at(m->data + 1) >= ag->snap_at;
    if (m->len >= 14 && m->data[0] == 'c')
        return be64_at(m->data + 6) >= ag->snap_at;
    return m->len >= 1 && m->data[0] == 'M' && m->data_start >= ag->snap_at;
}

int
run_pending_snapshot(agent *ag, cdc_err *err)
{
    /* No durable chunk progress (.state NULL): a crash runs this read again whole. */
    /* Streaming is paused, not over: the service keeps the walsender answered. */
    agent_snapshot_env env = { .metrics = ag->metrics,
                               .state_dir = ag->cfg->platform.agent.state_dir,
                               .every_s = ag->cfg->platform.agent.status_interval_seconds,
                               .service = ag->router.wait_hook,
                               .service_arg = ag->router.wait_arg };
    const char        *what = ag->snap_blocking ? "blocking snapshot" : "snapshot_mode always";
    agent_snap_state   keep = ag->state.snapshot;
    uint64_t           cp = ag->snap_at;
    int                rc;

    log_info("agent", "%s: the stream reached " CDC_LSN_FMT ", the temporary slot's consistent "
             "point; streaming pauses while the tables are read", what, CDC_LSN_ARGS(cp));
    rc = agent_snapshot_run_where(ag->cap, ag->sql, ag->snap_blocking ? &ag->snap_sub : ag->src,
                                  ag->snap_name, cp, ag->stop, &env,
                                  ag->snap_blocking ? ag->snap_conds : NULL, err);
    repl_close(ag->snap_tmp);   /* the temporary slot and its snapshot go with it */
    ag->snap_tmp = NULL;
    if (rc > 0)
        return cdc_err_set(err, CDC_E_STATE, "stopped during the %s; slot %s was kept, the "
                           "next start reads the tables again", what, ag->src->slot_name);
    if (rc < 0)
        return cdc_err_wrap(err, "%s (slot %s was kept)", what, ag->src->slot_name);
    rc = wait_snapshot_durable(ag, cp, err);
    if (rc > 0)
        return cdc_err_set(err, CDC_E_STATE, "stopped before every destination had made the "
                           "%s durable; the next start takes it again", what);
    if (rc < 0)
        return cdc_err_wrap(err, "waiting for the %s to be durable", what);
    if (!ag->snap_blocking)
        return 0;
    /* The slot's own snapshot is what the record's snapshot state is about. */
    ag->state.snapshot = keep;
    ag->snap_blocking = false;
    log_info("agent", "blocking snapshot done; streaming resumes");
    return agent_incr_blocking_done(ag->incr, err);
}

#!/usr/bin/env bash
# Two agents started at the same instant on one slot (and one publication, neither existing
# yet), several times: exactly one streams, the other exits 1 saying the slot is in use by
# another agent and naming that agent's connection (pid), never with a raw PostgreSQL race
# message (duplicate key value violates unique constraint, replication slot ... already
# exists, ... is active for PID). The winner captures every row once, and its jsonl file
# holds whole lines (the other agent stops before it opens the sinks: a jsonl sink's repair of
# a torn last line at open once cut the winner's line being written in half).
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"
need_agent

ROUNDS=${ROUNDS:-6}
pg_up
sql "CREATE TABLE items (id int PRIMARY KEY, v text)" \
    "INSERT INTO items SELECT i, 'v' || i FROM generate_series(1, 2000) i"
P_TABLES=public.items
write_platform

pids=()
for r in $(seq "$ROUNDS"); do
    P_SLOT=race_$r P_PUB=race_pub_$r P_OUT=$T/out_$r.jsonl
    EVENTS=$T/out_$r.jsonl
    write_pipeline
    : >"$T/a_$r.log"; : >"$T/b_$r.log"
    # both at once: started by one subshell, no wait in between
    "$CDCAGENT" run "$T/pipeline.yaml" --platform-config "$T/platform.yaml" 2>"$T/a_$r.log" &
    pa=$!
    "$CDCAGENT" run "$T/pipeline.yaml" --platform-config "$T/platform.yaml" 2>"$T/b_$r.log" &
    pb=$!
    # one of them exits by itself; the other streams (slot active) until stopped
    alive=2
    for _ in $(seq 600); do
        alive=0
        kill -0 "$pa" 2>/dev/null && alive=$((alive + 1))
        kill -0 "$pb" 2>/dev/null && alive=$((alive + 1))
        [ "$alive" -le 1 ] && [ "$(slot_field "race_$r" active)" = t ] && break
        [ "$alive" -eq 0 ] && break
        sleep 0.1
    done
    expect_eq "round $r: one agent left running, streaming from race_$r" \
        "$alive $(slot_field "race_$r" active)" "1 t"
    if kill -0 "$pa" 2>/dev/null; then win=$pa; lose=$pb; wl=a; ll=b; else win=$pb; lose=$pa; wl=b; ll=a; fi
    lrc=0; wait "$lose" || lrc=$?
    sql "INSERT INTO items VALUES (100000 + $r, 'after')"
    want=$(sql "SELECT count(*) FROM items")
    wait_lines "$T/out_$r.jsonl" "$want" 60
    kill -TERM "$win"
    wrc=0; wait "$win" || wrc=$?
    lerr=$(grep -E 'error|cdcagent:' "$T/${ll}_$r.log" | tail -n 3)
    note "round $r: loser: $(tail -n 1 "$T/${ll}_$r.log")"
    expect_eq "round $r: the other agent exits 1" "$lrc" 1
    expect_contains "round $r: it says the slot is in use by another agent" "$lerr" \
        "slot race_$r is in use by another agent"
    expect_contains "round $r: and names that agent's connection" "$lerr" "pid "
    expect_eq "round $r: no raw race message" \
        "$(grep -cE 'duplicate key|already exists|is active for PID' "$T/${ll}_$r.log" || true)" 0
    expect_eq "round $r: the agent that streamed stops with 0" "$wrc" 0
    expect_eq "round $r: every row once (the snapshot's rows and the insert)" \
        "$(python3 -c '
import json, sys
ids = [json.loads(l)["key"]["id"] for l in open(sys.argv[1]) if json.loads(l)["value"]]
print(len(ids), len(set(ids)))' "$T/out_$r.jsonl")" "$want $want"
done

# The lock held by a session of another role (here a superuser's psql, as a DBA could): the
# agent names what it may see of it, the pid and the role.
note "the lock held by another role's session"
P_SLOT=race_held P_PUB=race_pub_held P_OUT=$T/out_held.jsonl
write_pipeline
sql_su "SELECT pg_advisory_lock(hashtext('cdcagent replication slot'), hashtext('race_held'))" \
    "SELECT pg_sleep(30)" >/dev/null 2>&1 &
BG_PIDS+=($!)
for _ in $(seq 100); do
    [ "$(sql_su "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted")" -ge 1 ] && break
    sleep 0.1
done
cdc run "$T/pipeline.yaml" --platform-config "$T/platform.yaml"
expect_eq "held elsewhere: exit 1" "$CDC_RC" 1
expect_contains "held elsewhere: names the pid and the role" "$(tail -n 1 "$T/cdc.err")" \
    "slot race_held is in use by another agent (pid "
expect_contains "held elsewhere: the role" "$(tail -n 1 "$T/cdc.err")" "on the server, role "
expect_eq "held elsewhere: the slot was not created" "$(slot_field race_held slot_name)" ""

# A publication created by someone else between the agent's lookup and its CREATE
# PUBLICATION: a transaction creates it and waits; the agent's CREATE waits on the catalog's
# unique index; the commit makes it fail with 23505. The agent checks that publication instead.
note "the publication created by another session at the same moment"
P_SLOT=race_pubtx P_PUB=race_pub_tx P_OUT=$T/out_pubtx.jsonl
write_pipeline
mkfifo "$T/psql.in"
PGPASSWORD=cdc_password "$PG_BIN/psql" -X -q -h 127.0.0.1 -p "$PORT" -U cdc_user -d cdc_demo \
    <"$T/psql.in" >"$T/psql.out" 2>&1 &
BG_PIDS+=($!)
exec 7>"$T/psql.in"
echo "BEGIN; CREATE PUBLICATION race_pub_tx FOR TABLE public.items;" >&7
for _ in $(seq 100); do
    [ "$(sql_su "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname = 'pg_publication'")" -ge 1 ] && break
    sleep 0.1
done
AGENT_NO_WAIT=1 agent_start
for _ in $(seq 300); do
    [ "$(sql_su "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'CREATE PUBLICATION%'")" -ge 1 ] && break
    agent_alive || break
    sleep 0.1
done
expect_eq "the agent's CREATE PUBLICATION waits on the other transaction" \
    "$(sql_su "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'CREATE PUBLICATION%'")" 1
echo "COMMIT;" >&7
exec 7>&-
wait_lines "$T/out_pubtx.jsonl" "$(sql "SELECT count(*) FROM items")" 60
agent_stop
expect_contains "it says someone else created the publication, and goes on" \
    "$(grep 'race_pub_tx' "$T/agent.log")" "created by someone else a moment ago"
expect_eq "no error logged" "$(grep -c '"level":"error"' "$T/agent.log" || true)" 0
done_testing

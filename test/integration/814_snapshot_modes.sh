#!/usr/bin/env bash
# 814: source.snapshot_mode, each value against a fresh slot and an existing one, counted
# against psql.  initial: rows as op r, then changes; initial_only: the snapshot, then the
# agent exits 0 (with an existing slot: at once, nothing emitted); never and no_data: no op r
# at all; always with an existing slot: every start reads every table again, in the snapshot
# of a temporary slot, and streams from where that snapshot ends: a writer that bumps a
# counter during the restart shows no gap (replaying the file gives psql's table) and no
# overlap (no key's counter ever goes back), also after a kill -9 while the tables are read
# again (the slot is kept, the next start reads them again); when_needed: after the slot was dropped (the
# start under initial is refused), a new slot and a new snapshot.  An unknown value is
# refused at validate, naming the key and the accepted values.
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"

pg_up
sql "CREATE TABLE t (id int PRIMARY KEY, n int NOT NULL)" \
    "INSERT INTO t SELECT i, 0 FROM generate_series(1, 40) i"
write_platform

# ops FILE: the ops of FILE's events, one word each.
ops() { jl_eval "$1" '" ".join(get(e, "value.op") for e in data)'; }
# count_r FILE: how many op r events.
count_r() { jl_eval "$1" 'sum(1 for e in data if get(e, "value.op") == "r")'; }
rows() { sql "SELECT count(*) FROM t"; }
ndata() { jl_eval "$1" 'len(data)'; }

note "unknown value: refused at validate"
P_SNAPSHOT=sometimes P_TABLES=public.t write_pipeline
cdc validate "$T/pipeline.yaml" --platform-config "$T/platform.yaml"
expect_eq "validate exits 2" "$CDC_RC" 2
expect_contains "names the key" "$(cat "$T/cdc.err" "$T/cdc.out")" "source.snapshot_mode"
expect_contains "lists the accepted values" "$(cat "$T/cdc.err" "$T/cdc.out")" "initial_only"
expect_contains "lists no_data too" "$(cat "$T/cdc.err" "$T/cdc.out")" "no_data"

note "initial_only, fresh slot: the snapshot, then exit 0"
F=$T/only.jsonl
P_OUT=$F; P_SLOT=s_only; P_SNAPSHOT=initial_only P_TABLES=public.t write_pipeline
AGENT_NO_WAIT=1 agent_start
agent_wait_exit 60
expect_eq "initial_only: exit status 0" "$AGENT_RC" 0
expect_eq "initial_only: one op r per row psql counts" "$(count_r "$F")" "$(rows)"
expect_eq "initial_only: only op r" "$(ops "$F" | tr ' ' '\n' | sort -u | tr -d '\n')" r
expect_eq "initial_only: the slot stays" "$(slot_field s_only 'count(*)')" 1
note "initial_only, existing slot: nothing more, exit 0"
sql "INSERT INTO t VALUES (41, 0)"
AGENT_NO_WAIT=1 agent_start
agent_wait_exit 60
expect_eq "initial_only again: exit status 0" "$AGENT_RC" 0
expect_eq "initial_only again: nothing emitted" "$(line_count "$F")" 40
sql_su "SELECT pg_drop_replication_slot('s_only')" >/dev/null

note "never, fresh slot: no op r"
F=$T/never.jsonl
P_OUT=$F; P_SLOT=s_never; P_SNAPSHOT=never P_TABLES=public.t write_pipeline
agent_start
sql "INSERT INTO t VALUES (42, 0)"
wait_lines "$F" 1 30
agent_stop
expect_eq "never: only the change made after the start" "$(ops "$F")" c
note "no_data, existing slot: streams on, no op r"
sql "UPDATE t SET n = n + 1 WHERE id = 42"
P_OUT=$F; P_SLOT=s_never; P_SNAPSHOT=no_data P_TABLES=public.t write_pipeline
agent_start
sql "INSERT INTO t VALUES (43, 0)"
wait_lines "$F" 3 30
agent_stop
expect_eq "no_data: the change made while down, then the new one" "$(ops "$F")" "c u c"
sql_su "SELECT pg_drop_replication_slot('s_never')" >/dev/null

note "no_data, fresh slot"
F=$T/nodata.jsonl
P_OUT=$F; P_SLOT=s_nodata; P_SNAPSHOT=no_data P_TABLES=public.t write_pipeline
agent_start
sql "DELETE FROM t WHERE id = 43"
wait_lines "$F" 1 30
agent_stop
expect_eq "no_data fresh: only the delete" "$(ops "$F")" d
sql_su "SELECT pg_drop_replication_slot('s_nodata')" >/dev/null

note "always, fresh slot: a snapshot like initial"
F=$T/always.jsonl
P_OUT=$F; P_SLOT=s_always; P_SNAPSHOT=always P_TABLES=public.t write_pipeline
agent_start
wait_lines "$F" "$(rows)" 30
sql "UPDATE t SET n = n + 1 WHERE id = 1"
wait_lines "$F" $(($(rows) + 1)) 30
agent_stop
expect_eq "always fresh: one op r per row, then the update" "$(count_r "$F")" "$(rows)"

note "always, existing slot: every table read again, twice, with a writer running"
sql "UPDATE t SET n = n + 1 WHERE id = 2" "DELETE FROM t WHERE id = 3" "INSERT INTO t VALUES (50, 0)"
sql "CREATE TABLE writer_stop (x int)"
cat >"$T/writer.sql" <<'SQL'
DO $$
BEGIN
  FOR i IN 1..100000 LOOP
    UPDATE t SET n = n + 1 WHERE id = 1 + i % 40;
    COMMIT;
    PERFORM pg_sleep(0.002);
    EXIT WHEN i > 300 AND EXISTS (SELECT FROM writer_stop);
  END LOOP;
END $$;
SQL
bg load_file "$T/writer.sql"
for run in 1 2; do
    before=$(ndata "$F")
    agent_start
    sleep 1
    agent_stop
    jl_eval "$F" "sum(1 for e in data[$before:] if get(e, 'value.op') == 'r')" >"$T/r.$run"
    note "always run $run: $(cat "$T/r.$run") op r of $(($(ndata "$F") - before)) events"
    expect_eq "always run $run: the log says the tables are read again" \
        "$(grep -c 'snapshot_mode always: reading every table again' "$T/agent.log")" "$run"
    jl_check "always run $run: one op r per row psql counts, once per key, in one block" "$F" \
        "(lambda ev: (lambda ix: len(ix) == $(rows) and ix == list(range(ix[0], ix[0] + len(ix))) and len(set(ev[i]['key']['id'] for i in ix)) == len(ix))([i for i, e in enumerate(ev) if get(e, 'value.op') == 'r']))(data[$before:])"
    if [ "$run" = 1 ]; then
        jl_check "always run 1: the changes made while the agent was down come first (u 2, d 3, c 50)" "$F" \
            "[(get(e, 'value.op'), e['key']['id']) for e in data[$before:$before + 3]] == [('u', 2), ('d', 3), ('c', 50)]"
    fi
done
sql "INSERT INTO writer_stop VALUES (1)"
for ((i = 0; i < 300; i++)); do grep -q "loader exit" "$T/loader.log" && break; sleep 0.1; done
expect_contains "the writer ran and stopped" "$(cat "$T/loader.log")" "loader exit 0"
agent_start
sql "INSERT INTO t VALUES (60, 0)"
wait_grep "$F" '"id":60' 30
agent_stop
expect_eq "always: replaying the file gives psql's table (no gap)" "$(jl_replay "$F" t)" "$(psql_id_n t)"
jl_check "always: positions strictly increasing over the whole file" "$F" \
    'all((get(a, "metadata.commit_lsn"), get(a, "metadata.seq")) < (get(b, "metadata.commit_lsn"), get(b, "metadata.seq")) for a, b in zip(data, data[1:]))'
expect_eq "always: no key's counter goes back (no overlap)" "$(jl_backwards "$F")" ""
note "always: kill -9 while the tables are read again (held by a row-level security policy that waits for the test's advisory lock)"
sql "DELETE FROM t WHERE id = 4" "UPDATE t SET n = n + 1 WHERE id = 5"   # while down
sql_su "ALTER TABLE t ENABLE ROW LEVEL SECURITY" "ALTER TABLE t FORCE ROW LEVEL SECURITY" \
    "CREATE POLICY wait_for_the_test ON t USING ((SELECT true FROM pg_advisory_xact_lock_shared(814)))"
hold_lock() { sql_su "SELECT pg_advisory_lock(814), pg_sleep(3600)" >/dev/null 2>&1 || true; }
bg hold_lock
deadline=$((SECONDS + 30))
until [ "$(sql_su "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 814 AND granted")" = 1 ]; do
    [ $SECONDS -lt $deadline ] || fail "the test's advisory lock was never granted"
    sleep 0.1
done
AGENT_NO_WAIT=1 agent_start
deadline=$((SECONDS + 60))
until [ "$(sql_su "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 814 AND NOT granted")" -ge 1 ]; do
    [ $SECONDS -lt $deadline ] || fail "the re-read never reached table t"
    agent_alive || fail "the agent exited"
    sleep 0.2
done
agent_kill9
sql_su "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND objid = 814 AND granted" >/dev/null
deadline=$((SECONDS + 30))
while [ "$(slot_field s_always active)" = t ]; do
    [ "$SECONDS" -lt "$deadline" ] || fail "slot still active 30 s after kill -9"
    sleep 0.1
done
sql_su "DROP POLICY wait_for_the_test ON t" "ALTER TABLE t DISABLE ROW LEVEL SECURITY"
sql "INSERT INTO t VALUES (61, 0)"
agent_start
wait_grep "$F" '"id":61' 30
agent_stop
expect_eq "always after the kill: the slot was kept (not dropped and created again)" \
    "$(grep -c 'dropping the slot' "$T/agent.log" || true)" 0
expect_eq "always after the kill: replaying the file gives psql's table" "$(jl_replay "$F" t)" "$(psql_id_n t)"
expect_eq "always after the kill: no key's counter goes back" "$(jl_backwards "$F")" ""
expect_eq "always: the durable slot was kept" "$(slot_field s_always 'count(*)')" 1
expect_eq "always: no temporary slot left" "$(sql_su "SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE 'cdcagent_snap_%'")" 0
sql_su "SELECT pg_drop_replication_slot('s_always')" >/dev/null

note "when_needed: the slot was dropped while the agent was down"
F=$T/wn.jsonl
P_OUT=$F; P_SLOT=s_wn; P_SNAPSHOT=initial P_TABLES=public.t write_pipeline
agent_start
wait_lines "$F" "$(rows)" 30
agent_stop
n1=$(ndata "$F")
sql_su "SELECT pg_drop_replication_slot('s_wn')" >/dev/null
sql "INSERT INTO t VALUES (70, 0)"
AGENT_NO_WAIT=1 agent_start
agent_wait_exit 60
expect_eq "initial, slot dropped: exit status 1" "$AGENT_RC" 1
expect_contains "initial, slot dropped: the error names the slot and the mode to use" \
    "$(cat "$T/agent.log")" "slot s_wn does not exist, but destination local holds events"
P_OUT=$F; P_SLOT=s_wn; P_SNAPSHOT=when_needed P_TABLES=public.t write_pipeline
agent_start
wait_lines "$F" $((n1 + $(rows))) 30
agent_stop
expect_eq "when_needed: a new snapshot, one op r per row psql counts" \
    "$(jl_eval "$F" "sum(1 for e in data[$n1:] if get(e, 'value.op') == 'r')")" "$(rows)"
expect_eq "when_needed: it is a warning naming the slot" \
    "$(grep -c '"level":"warn".*slot s_wn does not exist.*when_needed: creating it and taking a new snapshot' "$T/agent.log")" 1

done_testing

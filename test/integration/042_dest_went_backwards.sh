#!/usr/bin/env bash
# 042: a destination that holds less than it did goes noticed (issue 17, "a destination that
# holds less than the slot confirmed").  With the agent stopped: the last three lines of the
# jsonl file removed, the file emptied, and the PostgreSQL sink's database restored from an
# older copy.  Each time the agent must refuse to start (exit 1), naming the destination, what
# it holds, what it held and the ways out, and change nothing (the slot stays where it was).
# Restored destinations start normally, with every event once.  Ordinary restarts, after an
# idle confirm and after transactions with no published row moved the slot past the sinks'
# last event, must not be mistaken for a loss.  A webhook added after the snapshot was
# delivered is named once, with the way to give it the snapshot.  A new slot (the old one
# dropped, the file emptied) killed before any row of its snapshot is durable: the next
# start resumes the snapshot, it does not call the file's emptiness a loss.
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"

TGT=$T/tgt
trap 'rc=$?; pg_cleanup "$TGT"; set +e; (exit $rc); _cleanup' EXIT

pg_up
TPORT=$(free_port)
pg_start "$TGT" "$TPORT" >/dev/null || fail "target PostgreSQL did not start"
pg_psql "$TPORT" cdc_demo "CREATE DATABASE mirror" >/dev/null
sql "CREATE TABLE customers (id int PRIMARY KEY, name text)" \
    "CREATE TABLE orders (id int PRIMARY KEY)" \
    "CREATE TABLE unpublished (id int)" \
    "INSERT INTO customers SELECT i, 'c' || i FROM generate_series(1, 20) i"

P_TABLES="public.customers, public.orders" write_pipeline
add_pg_replica mirror "$TPORT" mirror
write_platform

catch_up() {
    local target deadline
    target=$(sql_su "SELECT pg_current_wal_lsn()")
    deadline=$((SECONDS + 60))
    until [ "$(sql_su "SELECT confirmed_flush_lsn >= '$target' FROM pg_replication_slots WHERE slot_name = 'cdc_slot'")" = t ]; do
        [ "$SECONDS" -lt "$deadline" ] || fail "confirmed_flush_lsn did not reach $target in 60 s"
        agent_alive || fail "the agent died while catching up"
        sleep 0.2
    done
}

this_run() { sed -n "/^=== run $AGENT_RUNS /,\$p" "$T/agent.log"; }

# expect_refusal DESTINATION: the agent exits 1 at start naming DESTINATION, slot unmoved
expect_refusal() {
    local dest=$1 before log
    before=$(slot_field cdc_slot confirmed_flush_lsn)
    AGENT_NO_WAIT=1 agent_start
    agent_wait_exit 30
    expect_eq "refused to start: exit status" "$AGENT_RC" 1
    log=$(this_run)
    expect_contains "the error names the destination" "$log" "destination $dest went backwards: it holds events up to"
    expect_contains "the log says what it held and how to recover" "$log" "Something removed them"
    expect_contains "... restore" "$log" "restore the destination to what it held"
    expect_contains "... or a new snapshot" "$log" "cdcagent slot drop PIPELINE --yes) and start with snapshot_mode when_needed"
    expect_contains "... or delete the record" "$log" "to accept the loss and go on from what it holds, delete $T/cdcagent-"
    case "$log" in
        *"snapshot was never delivered"*|*"dropping the slot"*) fail "the refused start touched the slot: $log" ;;
    esac
    expect_eq "the slot stayed where it was" "$(slot_field cdc_slot confirmed_flush_lsn)" "$before"
}

# ---------------------------------------------------------------- a pipeline with history
agent_start
sql "INSERT INTO customers SELECT i, 'c' || i FROM generate_series(21, 30) i" \
    "UPDATE customers SET name = name || '+' WHERE id <= 5" \
    "DELETE FROM customers WHERE id = 30" \
    "INSERT INTO orders VALUES (1), (2)"
wait_lines "$EVENTS" 38 30
# Transactions with no published row move the slot past the sinks' last event.
for i in 1 2 3; do sql "INSERT INTO unpublished VALUES ($i)"; done
catch_up
agent_stop
note "$(line_count "$EVENTS") lines; slot at $(slot_field cdc_slot confirmed_flush_lsn)"

note "an ordinary restart, the slot confirmed past the last event: no loss to see"
agent_start
sleep 2
agent_stop
check "no refusal on an ordinary restart" bash -c "! grep -q 'went backwards' '$T/agent.log'"

# ---------------------------------------------------------------- jsonl: 3 lines removed
note "jsonl: the last three lines removed"
cp "$EVENTS" "$T/events.bak"
head -n -3 "$T/events.bak" >"$EVENTS"
expect_refusal local
cp "$T/events.bak" "$EVENTS"
agent_start
sql "INSERT INTO customers VALUES (100, 'after')"
wait_lines "$EVENTS" $(($(line_count "$T/events.bak") + 1)) 30
agent_stop
jl_check "restored: every event once, then the new one" "$EVENTS" \
    "len(set((e['metadata']['commit_lsn'], e['metadata']['seq']) for e in evs)) == len(evs) and data[-1]['key'] == {'id': 100}"

# ---------------------------------------------------------------- jsonl: emptied
note "jsonl: the file emptied"
cp "$EVENTS" "$T/events.bak"
: >"$EVENTS"
expect_refusal local
cp "$T/events.bak" "$EVENTS"

# ---------------------------------------------------------------- postgres: older copy
note "postgres sink: its database restored from an older copy"
pg_psql "$TPORT" cdc_demo "CREATE DATABASE mirror_bak TEMPLATE mirror" >/dev/null
agent_start
sql "INSERT INTO customers VALUES (101, 'later'), (102, 'later')"
wait_lines "$EVENTS" $(($(line_count "$T/events.bak") + 2)) 30
catch_up
agent_stop
pg_psql "$TPORT" cdc_demo "DROP DATABASE mirror" "CREATE DATABASE mirror TEMPLATE mirror_bak" >/dev/null
expect_refusal mirror
expect_contains "... naming the kind" "$(this_run)" "destination mirror (postgres) holds events up to"
pg_psql "$TPORT" cdc_demo "DROP DATABASE mirror" >/dev/null
note "recovery by a new snapshot: slot drop, snapshot_mode when_needed"
cdc slot drop "$T/pipeline.yaml" --platform-config "$T/platform.yaml" --yes
expect_eq "slot drop" "$CDC_RC" 0
pg_psql "$TPORT" cdc_demo "CREATE DATABASE mirror" >/dev/null
sed -i 's/snapshot_mode: initial/snapshot_mode: when_needed/' "$T/pipeline.yaml"
agent_start
catch_up
agent_stop
expect_eq "the new snapshot filled the replica again" \
    "$(pg_psql "$TPORT" mirror "SELECT count(*) FROM public.customers")" \
    "$(sql "SELECT count(*) FROM customers")"

note "a webhook added after the snapshot was delivered: said once, with the way to give it the snapshot"
rm -f "$T/rport"
bg python3 "$CDC_SRC/test/doubles/webhook_receiver.py" --log "$T/req.jsonl" --port-file "$T/rport"
for _ in $(seq 50); do [ -s "$T/rport" ] && break; sleep 0.1; done
cat >>"$T/pipeline.yaml" <<YAML
  - sink_id: late
    sink_type: webhook
    webhook:
      url: http://127.0.0.1:$(cat "$T/rport")/late
YAML
agent_start
sql "INSERT INTO customers VALUES (103, 'for the late one')"
for _ in $(seq 100); do [ "$(line_count "$T/req.jsonl")" -ge 1 ] && break; sleep 0.1; done
agent_stop
expect_contains "the added webhook is named, with the way to give it the snapshot" "$(this_run)" \
    "destination late (webhook) was added after slot cdc_slot's snapshot was delivered"
jl_check "it got the change made after it was added" "$T/req.jsonl" \
    "[get(e, 'body.key.id') for e in evs if e['status'] == 200] == [103]"
agent_start
agent_stop
expect_eq "said once: the next start knows it" "$(this_run | grep -c 'was added after slot' || true)" 0

note "a new slot, the file emptied, a kill before any row of the new snapshot is durable"
# The record kept each destination's position from the old slot: the next start refused
# ("went backwards") where it must take the snapshot again. The jsonl sink's lines wait
# 10 minutes in its buffer, so nothing reaches the file before the kill.
cdc slot drop "$T/pipeline.yaml" --platform-config "$T/platform.yaml" --yes
expect_eq "slot drop" "$CDC_RC" 0
: >"$EVENTS"
cp "$T/pipeline.yaml" "$T/pipeline.yaml.keep"
sed -i "s|^      path: \"$EVENTS\"\$|&\n      flush_interval_ms: 600000|" "$T/pipeline.yaml"
grep -q 'flush_interval_ms: 600000' "$T/pipeline.yaml" || fail "could not set the jsonl flush interval"
AGENT_NO_WAIT=1 agent_start
for _ in $(seq 300); do
    this_run | grep -q 'snapshot.*done: ' && break
    agent_alive || fail "the agent exited during the snapshot"
    sleep 0.1
done
this_run | grep -q 'snapshot.*done: ' || fail "the snapshot was not read within 30 s"
expect_eq "the new slot exists" "$(slot_field cdc_slot slot_name)" cdc_slot
expect_eq "nothing of the new snapshot is in the file" "$(line_count "$EVENTS")" 0
kill -KILL "$AGENT_PID"
wait "$AGENT_PID" 2>/dev/null || true
AGENT_PID=
cp "$T/pipeline.yaml.keep" "$T/pipeline.yaml"
agent_start
wait_lines "$EVENTS" "$(sql "SELECT count(*) FROM customers")" 60
log=$(this_run)
check "no refusal: nothing went backwards" bash -c "! grep -q 'went backwards' <<<\"\$1\"" _ "$log"
expect_contains "the snapshot is resumed on the same slot (nothing of it was durable)" "$log" \
    "did not finish; resuming it"
catch_up
agent_stop

pg_cleanup "$TGT"
done_testing

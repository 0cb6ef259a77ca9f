#!/usr/bin/env bash
# 842: capture from a hot standby (PostgreSQL 16, docs/ha.md).  A primary and a physical
# standby (cold copy); the publication and the table are made on the primary (a standby
# cannot write them).  The agent, pointed at the standby only, creates its slot there: that
# waits for a running-transactions record from the primary, which the test hurries along
# with pg_log_standby_snapshot() on the primary (otherwise up to 15 s, the bgwriter's
# interval).  It snapshots the standby (50 rows) and streams what the primary's workload
# writes.  Checked: the slot is on the standby, not on the primary (psql); the jsonl file
# holds every row of the primary exactly once, 50 op r then the streamed ones; `slot status`
# works on the standby (its current LSN is what the standby has replayed); and
# source.slot_failover: true against the standby is refused with the reason (below 17: the
# version; PG_MAJOR=17: that failover needs a primary).
PG_MAJOR=${PG_MAJOR:-16}
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"
# shellcheck source=SCRIPTDIR/../lib/ha.sh
. "$CDC_SRC/test/lib/ha.sh"

ha_up standby1
ha_standby_setup "CREATE TABLE items (id int PRIMARY KEY, payload text)" \
    "INSERT INTO items SELECT g, 'before' FROM generate_series(1, 50) g"
P_TABLES=public.items write_pipeline
PLATFORM_EXTRA=$'retry:\n  initial_wait_seconds: 0.25\n  max_wait_seconds: 1\n  multiplier: 2\n  jitter: false' \
    write_platform

# The slot's creation on the standby waits for a running-transactions record.
ha_standby_agent_start
expect_contains "the log says what the slot's creation on the standby waits for" "$(cat "$T/agent.log")" \
    "creating slot cdc_slot on standby 127.0.0.1:$SB_PORT: PostgreSQL waits for the primary's next running-transactions record"
expect_eq "the slot is on the standby (psql)" \
    "$(sb_sql "SELECT slot_type || ' ' || plugin FROM pg_replication_slots WHERE slot_name = 'cdc_slot'")" \
    "logical pgoutput"
expect_eq "and not on the primary" \
    "$(pg_psql "$PRIMARY_PORT" cdc_demo "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'cdc_slot'")" 0
wait_lines "$EVENTS" 50 30

for ((b = 0; b < 20; b++)); do
    pg_psql "$PRIMARY_PORT" cdc_demo \
        "INSERT INTO items SELECT g, 'streamed' FROM generate_series($((1000 + b * 10)), $((1009 + b * 10))) g" \
        "UPDATE items SET payload = 'updated' WHERE id = $((1 + b))" \
        "DELETE FROM items WHERE id = $((30 + b))"
done
n_ins=200
n_upd=20
n_del=20
# 50 + 200 inserts + 20 updates + 20 deletes (and their 20 tombstones)
wait_lines "$EVENTS" $((50 + n_ins + n_upd + n_del * 2)) 60
sleep 1
pg_psql "$PRIMARY_PORT" cdc_demo "COPY (SELECT id, payload FROM items ORDER BY id) TO STDOUT" >"$T/rows.txt"
jl_check "the jsonl file, replayed, equals the primary's table (psql)" "$EVENTS" "
(lambda rows: sorted(rows.items()) == sorted((int(l.split('\t')[0]), l.split('\t')[1]) for l in open('$T/rows.txt').read().splitlines()))(
  __import__('functools').reduce(lambda acc, e: (acc.pop(e['key']['id'], None), acc)[1] if e['value']['op'] == 'd' else (acc.__setitem__(e['key']['id'], e['value']['after']['payload']), acc)[1], data, {}))"
jl_check "50 op r first, then 200 c, 20 u and 20 d, each once" "$EVENTS" \
    "[get(e, 'value.op') for e in data][:50] == ['r'] * 50 and sorted(get(e, 'value.op') for e in data[50:]) == ['c'] * 200 + ['d'] * 20 + ['u'] * 20"

cdc slot status "$T/pipeline.yaml" --platform-config "$T/platform.yaml" --json
expect_eq "slot status works on the standby (exit 0 or 3)" "$(case $CDC_RC in 0|3) echo ok ;; *) echo "$CDC_RC: $(cat "$T/cdc.err")" ;; esac)" ok
replay=$(sb_sql "SELECT pg_last_wal_replay_lsn()")
cur=$(python3 -c "import json,sys; o=json.load(open(sys.argv[1])); print(o['slot_name'], o['current_lsn'])" "$T/cdc.out")
expect_eq "slot status's current LSN is what the standby replayed (psql)" "$cur" "cdc_slot $replay"
agent_stop

P_TABLES=public.items P_SOURCE_EXTRA="slot_failover: true" write_pipeline
if [ "$(pg_server_major)" -lt 17 ]; then
    agent_start_refused "slot_failover on a $(pg_server_major) standby" \
        "source.slot_failover: true needs PostgreSQL 17 or newer (failover slots), and 127.0.0.1:$SB_PORT runs PostgreSQL $(pg_server_major)"
else
    agent_start_refused "slot_failover on a standby" \
        "source.slot_failover: true, but 127.0.0.1:$SB_PORT is a standby: PostgreSQL gives failover only to slots on a primary"
fi
done_testing

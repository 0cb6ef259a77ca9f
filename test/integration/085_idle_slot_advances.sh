#!/usr/bin/env bash
# 085: an idle publication must not make the slot retain WAL.  With the agent streaming and
# nothing in flight, WAL written for tables outside the publication must become confirmed
# (from the server's keepalives), with no write by the agent to the database.
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"

pg_up
sql "CREATE TABLE captured (id int PRIMARY KEY)" \
    "CREATE TABLE elsewhere (id int PRIMARY KEY, payload text)"
P_TABLES=public.captured P_SNAPSHOT=never write_pipeline
write_platform
agent_start

sql "INSERT INTO elsewhere SELECT i, repeat('x', 200) FROM generate_series(1, 5000) i"
target=$(sql_su "SELECT pg_current_wal_lsn()")
note "WAL written outside the publication up to $target"
deadline=$((SECONDS + 30))
until [ "$(sql_su "SELECT confirmed_flush_lsn >= '$target' FROM pg_replication_slots WHERE slot_name = 'cdc_slot'")" = t ]; do
    [ "$SECONDS" -lt "$deadline" ] || fail "confirmed_flush_lsn $(slot_field cdc_slot confirmed_flush_lsn) did not reach $target in 30 s"
    sleep 0.5
done
ok "the slot confirmed past WAL of uncaptured tables: $(slot_field cdc_slot confirmed_flush_lsn)"
expect_eq "no event was written" "$(line_count "$EVENTS")" 0
agent_stop
done_testing

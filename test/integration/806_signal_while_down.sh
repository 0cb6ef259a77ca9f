#!/usr/bin/env bash
# 806: signals sent while the agent is down are executed when it comes back (they are in the
# WAL after the slot's confirmed position), and a signal already executed is not executed
# again after a restart.  The agent streams public.items and public.other (snapshot_mode
# never); it is stopped; a `log` signal, an `execute-snapshot` of both tables (items with an
# additional condition) and rows changed meanwhile go into the database; the agent restarts.
# Checks: the log message is logged; every row of other and every row of items with
# id % 3 = 0 (the condition) arrives exactly once as an incremental `r`, equal to psql's row,
# and no other row of items does; a third start executes nothing again.
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"

N=${IT_ROWS:-2000}
pg_up
sql "CREATE TABLE items (id int PRIMARY KEY, v text)"
sql "CREATE TABLE other (a int, b text, c int, PRIMARY KEY (a, b))"
sql "CREATE TABLE dbz_signal (id varchar(64) PRIMARY KEY, type varchar(32) NOT NULL, data varchar(2048))"
sql "INSERT INTO items SELECT g, 'v' || g FROM generate_series(1, $N) g"
sql "INSERT INTO other SELECT g % 7, 'b' || g, g FROM generate_series(1, 500) g"

P_TABLES="public.items, public.other" P_SNAPSHOT=never \
    P_SOURCE_EXTRA="signal_data_collection: public.dbz_signal
incremental_snapshot_chunk_size: 128" write_pipeline
agent_start
sql "INSERT INTO items VALUES ($((N + 1)), 'streamed')"
wait_lines "$EVENTS" 1 60
agent_stop

sql "INSERT INTO dbz_signal VALUES ('while-down-log', 'log', '{\"message\": \"sent while down\"}')"
sql "UPDATE items SET v = 'changed while down' WHERE id <= 10"
sql "INSERT INTO dbz_signal VALUES ('while-down-snap', 'execute-snapshot', '{\"data-collections\": [\"public.items\", \"public.other\"], \"type\": \"incremental\", \"additional-conditions\": [{\"data-collection\": \"public.items\", \"filter\": \"id % 3 = 0\"}]}')"
agent_start
wait_grep "$T/agent.log" 'incremental snapshot while-down-snap done' 120
expect_contains "the log signal sent while down is logged" "$(cat "$T/agent.log")" "sent while down"
sql "INSERT INTO items VALUES ($((N + 2)), 'after')"
wait_grep "$EVENTS" '"v":"after"' 60
agent_stop
before=$(line_count "$EVENTS")
# A third start: the signals are confirmed, nothing runs again.
agent_start
sql "INSERT INTO items VALUES ($((N + 3)), 'third run')"
wait_grep "$EVENTS" '"v":"third run"' 60
sleep 1
agent_stop
expect_eq "the third run added only its one change" "$(line_count "$EVENTS")" $((before + 1))
expect_eq "the log signal ran once" "$(grep -c 'sent while down' "$T/agent.log")" 1

sql "COPY (SELECT id, v FROM items WHERE id % 3 = 0 AND id <= $((N + 1)) ORDER BY id) TO STDOUT WITH CSV" >"$T/items.csv"
sql "COPY (SELECT a, b, c FROM other ORDER BY a, b) TO STDOUT WITH CSV" >"$T/other.csv"
F=$EVENTS
jl_check "items: the r events are exactly the rows of the condition, once each, as psql shows them" "$F" "
sorted((get(e, 'value.after.id'), get(e, 'value.after.v')) for e in data if get(e, 'value.op') == 'r' and get(e, 'value.source.table') == 'items')
== [(int(a), b) for a, b in (l.rstrip('\n').split(',', 1) for l in open('$T/items.csv'))]"
jl_check "other (a two-column key): every row once as r, as psql shows it" "$F" "
sorted((get(e, 'value.after.a'), get(e, 'value.after.b'), get(e, 'value.after.c')) for e in data if get(e, 'value.op') == 'r' and get(e, 'value.source.table') == 'other')
== sorted((int(a), b, int(c)) for a, b, c in (l.rstrip('\n').split(',', 2) for l in open('$T/other.csv')))"
jl_check "the r events say incremental" "$F" \
    'all(get(e, "value.source.snapshot") == "incremental" for e in data if get(e, "value.op") == "r")'
done_testing

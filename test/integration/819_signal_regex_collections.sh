#!/usr/bin/env bash
# 819: the data-collections of execute-snapshot and stop-snapshot signals, and the
# data-collection of additional-conditions, are regular expressions matched against the
# whole schema.table, case-sensitive, as Debezium's expandDataCollectionIds does
# (Pattern.compile(x).matcher(id).matches()); docs/snapshots.md, "Incremental and ad-hoc
# snapshots".  Tables orders_1, orders_2, orders_x and items are in source.tables; the
# signal asks for "public\.orders_\d" (not orders_x), "public.items" (a plain name),
# "PUBLIC\.orders_1" (case: matches nothing), "public\.nosuch.*" (nothing) and "public.(bad"
# (does not compile), with the condition id <= 3 on "public\.orders_.*".
# Checks against psql: the r events are exactly orders_1's and orders_2's rows with id <= 3
# and every row of items; none of orders_x; the log names the pattern that matches nothing,
# the one that does not compile, and the expansion.  Then a stop-snapshot by regex
# ("public\.ord.*"), in the transaction of an execute-snapshot of every table
# ("public\.(orders_.|items)"), leaves only items read.
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"

pg_up
for t in orders_1 orders_2 orders_x; do
    sql "CREATE TABLE $t (id int PRIMARY KEY, note text)" \
        "INSERT INTO $t SELECT g, '$t ' || g FROM generate_series(1, 10) g"
done
sql "CREATE TABLE items (id int PRIMARY KEY, note text)" \
    "INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 7) g" \
    "CREATE TABLE dbz_signal (id varchar(64) PRIMARY KEY, type varchar(32) NOT NULL, data varchar(2048))"

P_TABLES=public.orders_1,public.orders_2,public.orders_x,public.items P_SNAPSHOT=never \
P_SOURCE_EXTRA="signal_data_collection: public.dbz_signal
incremental_snapshot_chunk_size: 2" write_pipeline
agent_start

sql "INSERT INTO dbz_signal VALUES ('rx-1', 'execute-snapshot', '{\"type\": \"incremental\", \"data-collections\": [\"public\\\\.orders_\\\\d\", \"public.items\", \"PUBLIC\\\\.orders_1\", \"public\\\\.nosuch.*\", \"public.(bad\"], \"additional-conditions\": [{\"data-collection\": \"public\\\\.orders_.*\", \"filter\": \"id <= 3\"}]}')"
wait_grep "$T/agent.log" 'incremental snapshot rx-1 done' 60
sql "SELECT data FROM dbz_signal WHERE id = 'rx-1'" >"$T/signal.txt"
note "signal: $(cat "$T/signal.txt")"
{
    for t in orders_1 orders_2; do sql "SELECT '$t', id FROM $t WHERE id <= 3"; done
    sql "SELECT 'items', id FROM items"
} | LC_ALL=C sort >"$T/want.txt"
jl_eval "$EVENTS" "'\\n'.join(sorted('%s|%d' % (get(e, 'value.source.table'), get(e, 'key.id')) for e in data if get(e, 'value.op') == 'r'))" >"$T/got.txt"
expect_eq "the r events are the rows psql selects for the expanded tables and condition" \
    "$(cat "$T/got.txt")" "$(cat "$T/want.txt")"
check "no r event of orders_x (\\d does not match x)" bash -c "! grep -q '^orders_x|' '$T/got.txt'"
# log_has TEXT: a line of the agent's log (JSON) whose message contains TEXT.
log_has() {
    python3 -c 'import json, sys
sys.exit(0 if any(sys.argv[2] in json.loads(l).get("msg", "") for l in open(sys.argv[1])
                  if l.startswith("{")) else 1)' "$T/agent.log" "$1"
}
check "the log names the pattern that matches nothing (case-sensitive)" \
    log_has 'data collection "PUBLIC\.orders_1" matches no table'
check "the log names the pattern that matches nothing" \
    log_has 'data collection "public\.nosuch.*" matches no table'
check "the log names the pattern that does not compile" \
    log_has 'the regular expression "public.(bad" is invalid'
check "the log shows the expansion" \
    log_has 'data collection "public\.orders_\d" matches 2 table(s)'

# stop-snapshot by regex, in the transaction of the execute-snapshot of every table: the
# orders tables leave the snapshot before its first window closes; only items is read.
before=$(line_count "$EVENTS")
sql "INSERT INTO dbz_signal VALUES ('rx-2', 'execute-snapshot', '{\"data-collections\": [\"public\\\\.(orders_.|items)\"]}');
     INSERT INTO dbz_signal VALUES ('st-2', 'stop-snapshot', '{\"data-collections\": [\"public\\\\.ord.*\"]}')"
wait_grep "$T/agent.log" 'incremental snapshot rx-2 done' 60
agent_stop
jl_eval "$EVENTS" "'\\n'.join(sorted('%s|%d' % (get(e, 'value.source.table'), get(e, 'key.id')) for e in evs[$before:] if e.get('value') and get(e, 'value.op') == 'r'))" >"$T/got2.txt"
sql "SELECT 'items', id FROM items" | LC_ALL=C sort >"$T/want2.txt"
expect_eq "after a stop-snapshot by regex only items is read" "$(cat "$T/got2.txt")" "$(cat "$T/want2.txt")"
done_testing

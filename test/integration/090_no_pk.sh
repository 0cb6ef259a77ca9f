#!/usr/bin/env bash
# 090: a table without a primary key (or unique index): events have a null key; inserts
# stream as usual; updates and deletes need REPLICA IDENTITY FULL and then carry the whole
# old row.
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"

pg_up
sql "CREATE TABLE nopk (a int, b text)"

P_TABLES=public.nopk P_SNAPSHOT=never write_pipeline
write_platform
agent_start

sql "INSERT INTO nopk VALUES (1, 'one'), (2, 'two')"
wait_lines "$EVENTS" 2 60
if sql "UPDATE nopk SET b = 'uno' WHERE a = 1" 2>"$T/update.err"; then
    fail "PostgreSQL accepted an UPDATE on a published table without replica identity"
else
    expect_contains "PostgreSQL refuses UPDATE without replica identity" \
        "$(cat "$T/update.err")" "replica identity"
fi
sql "ALTER TABLE nopk REPLICA IDENTITY FULL"
sql "UPDATE nopk SET b = 'uno' WHERE a = 1"
sql "DELETE FROM nopk WHERE a = 2"
wait_lines "$EVENTS" 4 60
sleep 1
agent_stop

F=$EVENTS
note "events: $(jl_ops "$F")"
expect_eq "ops: c c u d" "$(jl_ops "$F")" "c c u d"
jl_check "every key is null" "$F" 'all(e["key"] is None for e in evs)'
jl_check "inserts carry the rows" "$F" \
    '[get(e, "value.after") for e in data[:2]] == [{"a": 1, "b": "one"}, {"a": 2, "b": "two"}]'
jl_check "update: before and after are whole rows" "$F" \
    'get(data[2], "value.before") == {"a": 1, "b": "one"} and get(data[2], "value.after") == {"a": 1, "b": "uno"}'
jl_check "delete: before is the whole row" "$F" \
    'get(data[3], "value.before") == {"a": 2, "b": "two"} and get(data[3], "value.after") is None'
jl_check "topic cdc.public.nopk" "$F" 'all(get(e, "metadata.topic") == "cdc.public.nopk" for e in evs)'

done_testing

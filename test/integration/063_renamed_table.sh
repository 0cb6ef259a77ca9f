#!/usr/bin/env bash
# 063: a listed table renamed is still the table the user asked for (issue 17: never ignore a
# change of a listed table).  Renamed while the agent streams, its changes keep coming, under
# the name each change was written with; renamed while the agent is stopped and listed under
# its new name, the changes written before the rename (which PostgreSQL decodes with the old
# name) are captured too, not dropped; so is a rename before the table's first change in a session.
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"

pg_up
sql "CREATE TABLE t (id int PRIMARY KEY, v text)" "CREATE TABLE other (id int PRIMARY KEY)"

P_TABLES=public.t P_SNAPSHOT=never write_pipeline
write_platform
agent_start
sql "INSERT INTO t VALUES (1, 'before rename')"
wait_lines "$EVENTS" 1 60
sql "ALTER TABLE t RENAME TO t2"
sql "INSERT INTO t2 VALUES (2, 'after rename')"
wait_lines "$EVENTS" 2 60
sleep 1
agent_stop
jl_check "renamed while streaming: both inserts, each under its name at the time" "$EVENTS" \
    '[(get(e, "value.source.table"), e["key"]["id"]) for e in data] == [("t", 1), ("t2", 2)]'
expect_contains "the log says the table was renamed" "$(cat "$T/agent.log")" \
    "table public.t2 (oid"

# Stopped: changes written, then renamed again; the pipeline lists the new name.
sql "INSERT INTO t2 VALUES (3, 'while stopped')"
sql "ALTER TABLE t2 RENAME TO t3"
sql "INSERT INTO t3 VALUES (4, 'as t3')"
sql "INSERT INTO other VALUES (1)"      # published nowhere: not captured
P_TABLES=public.t3 P_SNAPSHOT=never write_pipeline
agent_start
wait_lines "$EVENTS" 4 60
sleep 1
agent_stop
jl_check "after the restart: the change written as t2 and the one as t3, once each" "$EVENTS" \
    '[(get(e, "value.source.table"), e["key"]["id"]) for e in data] == [("t", 1), ("t2", 2), ("t2", 3), ("t3", 4)]'

# Renamed while the agent runs, before it saw any change of the table in this session: it knew
# the table's oid from the start, so the change under the new name is still captured.
agent_start
sql "ALTER TABLE t3 RENAME TO t4"
sql "INSERT INTO t4 VALUES (5, 'as t4')"
wait_lines "$EVENTS" 5 60
sleep 1
agent_stop
jl_check "renamed before its first change in the session: captured as t4" "$EVENTS" \
    '[(get(e, "value.source.table"), e["key"]["id"]) for e in data][4:] == [("t4", 5)]'

done_testing

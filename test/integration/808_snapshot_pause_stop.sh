#!/usr/bin/env bash
# 808: pause-snapshot, resume-snapshot and stop-snapshot (Debezium's signals, issue 22).
# Signals in one transaction are handled in order, so the test is deterministic:
#   1. execute-snapshot of a and pause-snapshot in one transaction: the first chunk (its
#      window was opened by the first signal) is emitted, then nothing; a restart keeps it
#      paused (the record says so); resume-snapshot reads the rest: every row of a once.
#   2. execute-snapshot of b and c with stop-snapshot of c in one transaction: b is read,
#      c never; then stop-snapshot with no list ends a running snapshot of a.
#   3. an additional condition that does not parse: the table is skipped with an error that
#      names the signal, the table and the column, and the agent goes on.
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"

CH=100
pg_up
for t in a b c; do
    sql "CREATE TABLE $t (id int PRIMARY KEY, v text)"
    sql "INSERT INTO $t SELECT g, '$t' || g FROM generate_series(1, 1000) g"
done
sql "CREATE TABLE dbz_signal (id varchar(64) PRIMARY KEY, type varchar(32) NOT NULL, data varchar(2048))"
P_TABLES="public.a, public.b, public.c" P_SNAPSHOT=never \
    P_SOURCE_EXTRA="signal_data_collection: public.dbz_signal
incremental_snapshot_chunk_size: $CH" write_pipeline
agent_start

r_count() {   # r_count TABLE: r events of TABLE in the file
    jl_eval "$EVENTS" "sum(1 for e in data if get(e, 'value.op') == 'r' and get(e, 'value.source.table') == '$1')"
}
marker() {    # marker TEXT: a log signal, and the wait for it (everything before it is handled)
    sql "INSERT INTO dbz_signal VALUES ('m-$RANDOM$RANDOM', 'log', '{\"message\": \"$1\"}')"
    wait_grep "$T/agent.log" "$1" 60
}

sql "BEGIN; INSERT INTO dbz_signal VALUES ('snap-a', 'execute-snapshot', '{\"data-collections\": [\"public.a\"]}'); INSERT INTO dbz_signal VALUES ('pause-1', 'pause-snapshot', NULL); COMMIT;"
wait_grep "$T/agent.log" 'incremental snapshot snap-a paused' 60
marker "after pause one"
marker "after pause two"
agent_stop
expect_eq "paused: only the first chunk of a was emitted" "$(r_count a)" $CH
agent_start
expect_contains "the restart keeps the snapshot paused" "$(sed -n '/^=== run 2 /,$p' "$T/agent.log")" "incremental snapshot snap-a resumes: 1 table(s) left, paused"
marker "after restart"
expect_eq "still paused after the restart" "$(r_count a)" $CH
sql "INSERT INTO dbz_signal VALUES ('resume-1', 'resume-snapshot', NULL)"
wait_grep "$T/agent.log" 'incremental snapshot snap-a done' 60
marker "after resume"
jl_check "a: every row once as r" "$EVENTS" \
    "sorted(get(e, 'key.id') for e in data if get(e, 'value.op') == 'r' and get(e, 'value.source.table') == 'a') == list(range(1, 1001))"

sql "BEGIN; INSERT INTO dbz_signal VALUES ('snap-bc', 'execute-snapshot', '{\"data-collections\": [\"public.b\", \"public.c\"]}'); INSERT INTO dbz_signal VALUES ('stop-c', 'stop-snapshot', '{\"data-collections\": [\"public.c\"], \"type\": \"incremental\"}'); COMMIT;"
wait_grep "$T/agent.log" 'incremental snapshot snap-bc done' 60
marker "after b"
jl_check "b: every row once as r" "$EVENTS" \
    "sorted(get(e, 'key.id') for e in data if get(e, 'value.op') == 'r' and get(e, 'value.source.table') == 'b') == list(range(1, 1001))"
expect_eq "c: stopped before it was read" "$(r_count c)" 0

sql "BEGIN; INSERT INTO dbz_signal VALUES ('snap-a2', 'execute-snapshot', '{\"data-collections\": [\"public.a\"]}'); INSERT INTO dbz_signal VALUES ('stop-all', 'stop-snapshot', NULL); COMMIT;"
wait_grep "$T/agent.log" 'signal stop-all: incremental snapshot snap-a2 stopped' 60
marker "after stop"
# A condition that does not parse is the user's error: that table is skipped, the agent goes on.
sql "INSERT INTO dbz_signal VALUES ('snap-bad', 'execute-snapshot', '{\"data-collections\": [\"public.c\"], \"additional-conditions\": [{\"data-collection\": \"public.c\", \"filter\": \"no_such_column > 0\"}]}')"
wait_grep "$T/agent.log" 'incremental snapshot snap-bad of public.c: reading its largest key: .*no_such_column.*the table is skipped' 60
marker "after a bad condition"
check "the agent still runs after a bad condition" agent_alive
expect_eq "c: nothing read with the bad condition" "$(r_count c)" 0
agent_stop
expect_eq "a: the stopped snapshot emitted at most its open chunk" "$(( $(r_count a) <= 1000 + CH ))" 1
done_testing

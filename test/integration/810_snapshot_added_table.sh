#!/usr/bin/env bash
# 810: a table added to source.tables while the agent is down is snapshotted by itself at
# the next start (docs/snapshots.md, "A table added to source.tables"), as an incremental
# snapshot, while the other tables stream.  The tables come from a pattern
# (source.table_include_list), so the agent also adds the new table to its publication.
# Checks: the log says the table is added to the publication and snapshotted by itself; the
# other tables' rows are not read again (each id once as op r); every row of the new table
# arrives as op r (source.snapshot "incremental"), equal to psql's row, or is superseded by
# a streamed change; changes made to every table during its snapshot stream (op c/u/d);
# `cdcagent verify` finds the file equal to the source.
# 813 runs this with IT_810_NO_SIGNAL=1: no source.signal_data_collection, so the windows'
# markers are logical decoding messages (PostgreSQL 14+); then the signal table stays empty
# and no watermark message reaches the file.
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"

N=${IT_ROWS:-3000}
pg_up
sql "CREATE TABLE t_a (id int PRIMARY KEY, v text)" "CREATE TABLE t_b (id int PRIMARY KEY, v text)" \
    "INSERT INTO t_a SELECT g, 'a' || g FROM generate_series(1, $N) g" \
    "INSERT INTO t_b SELECT g, 'b' || g FROM generate_series(1, $N) g" \
    "CREATE TABLE dbz_signal (id varchar(64) PRIMARY KEY, type varchar(32) NOT NULL, data varchar(2048))"
SIGNAL_LINE=$'\nsignal_data_collection: public.dbz_signal'
[ "${IT_810_NO_SIGNAL:-0}" = 1 ] && SIGNAL_LINE=
P_NO_TABLES=1 P_SOURCE_EXTRA='table_include_list: "public\\.t_.*"
incremental_snapshot_chunk_size: 200'"$SIGNAL_LINE" write_pipeline
write_platform
agent_start
wait_lines "$EVENTS" $((2 * N)) 60
agent_stop

# While the agent is down: a new table that the pattern matches, and a change to t_a.
sql "CREATE TABLE t_c (id int PRIMARY KEY, v text, n int NOT NULL DEFAULT 0)" \
    "INSERT INTO t_c SELECT g, 'c' || g FROM generate_series(1, $N) g" \
    "UPDATE t_a SET v = 'changed while down' WHERE id = 1"
writer() {
    local i=0
    while [ ! -e "$T/stop" ]; do
        i=$((i + 1))
        user_psql -c "UPDATE t_c SET n = n + 1 WHERE id = $(( (i * 37) % N + 1 ))" \
            -c "DELETE FROM t_c WHERE id = $(( (i * 101) % N + 1 ))" \
            -c "INSERT INTO t_c VALUES ($((N + i)), 'new $i')" \
            -c "UPDATE t_b SET v = 'w$i' WHERE id = $(( (i * 13) % N + 1 ))" >/dev/null 2>>"$T/writer.log" || true
        sleep 0.02
    done
    touch "$T/loader.done"
}
bg writer
agent_start
wait_grep "$T/agent.log" 'incremental snapshot added-tables-.* done' 120
loader_stop
sql "INSERT INTO t_a VALUES (0, 'after')"
cdc verify "$T/pipeline.yaml" --platform-config "$T/platform.yaml" --sink local --wait 60
expect_eq "verify: the file equals the source ($(head -c 300 "$T/cdc.err"))" "$CDC_RC" 0
agent_stop

log2=$(sed -n '/^=== run 2 /,$p' "$T/agent.log")
expect_contains "the table is added to the publication" "$log2" "added table public.t_c (chosen by pattern)"
expect_contains "the log says it is snapshotted by itself" "$log2" \
    "table public.t_c was added to source.tables after slot cdc_slot's snapshot: reading it by itself"
expect_eq "one incremental snapshot ran" "$(grep -c 'incremental snapshot added-tables-[0-9a-f]*: reading table' "$T/agent.log")" 1
F=$EVENTS
jl_check "the other tables' rows arrive once each as op r (not read again)" "$F" \
    "sorted((get(e, 'value.source.table'), get(e, 'key.id')) for e in data if get(e, 'value.op') == 'r' and get(e, 'value.source.table') != 't_c') == sorted([('t_a', i) for i in range(1, $N + 1)] + [('t_b', i) for i in range(1, $N + 1)])"
jl_check "the new table's rows come as incremental r events only" "$F" \
    "{get(e, 'value.source.snapshot') for e in data if get(e, 'value.op') == 'r' and get(e, 'value.source.table') == 't_c'} == {'incremental'}"
jl_check "the change made while down to t_a streams as op u" "$F" \
    "[get(e, 'value.after.v') for e in data if get(e, 'value.op') == 'u' and get(e, 'value.source.table') == 't_a'] == ['changed while down']"
sql "COPY (SELECT id, v FROM t_c WHERE id <= $N ORDER BY id) TO STDOUT WITH CSV" >"$T/t_c.csv"
jl_check "each original t_c row still there arrives as r or is changed by the stream, with psql's v" "$F" "
(lambda r, chg: all((int(a) in r and r[int(a)] == b) or int(a) in chg for a, b in (l.rstrip('\n').split(',', 1) for l in open('$T/t_c.csv'))))(
 {get(e, 'key.id'): get(e, 'value.after.v') for e in data if get(e, 'value.op') == 'r' and get(e, 'value.source.table') == 't_c'},
 {get(e, 'key.id') for e in data if get(e, 'value.op') in ('c', 'u') and get(e, 'value.source.table') == 't_c'})"
jl_check "changes to t_c streamed during its snapshot" "$F" \
    "len([e for e in data if get(e, 'value.op') in ('u', 'd') and get(e, 'value.source.table') == 't_c']) > 0"
if [ "${IT_810_NO_SIGNAL:-0}" = 1 ]; then
    expect_eq "no window marker in the signal table" "$(sql "SELECT count(*) FROM dbz_signal")" 0
    expect_eq "no watermark message reached the file" "$(grep -c 'cdcagent-watermark' "$F" || true)" 0
    jl_check "no message event at all" "$F" "not [e for e in data if get(e, 'value.op') == 'm']"
fi
done_testing

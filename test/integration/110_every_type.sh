#!/usr/bin/env bash
# 110: one table with a column of every type CONTRACT.md 4.1 maps (default settings).  Four
# rows are inserted while the agent streams (snapshot_mode never); then an embedded Python
# script computes, independently of the agent, the Debezium 2.7 JSON value of every column
# of every row from a SELECT of the same rows (text forms, read with the agent's session
# settings; test/lib/every_type.sh), and compares it field by field with the `after` of each op c event.  Every
# mismatch is listed (column, row, expected, got) before the test fails.
#
# Debezium sources behind the less obvious expectations (v2.7.4.Final):
#  - bit(n>1)/varbit: PostgresValueConverter.convertBits re-sizes to the content
#    (BitSet.toByteArray, little-endian; all-zero bits give an empty byte array).
#  - interval: MicroDuration.durationMicros, double arithmetic, 30.4375 days a month.
#  - money: pgoutput text -> PGmoney (double) -> BigDecimal.valueOf(d).setScale(2, HALF_UP).
#  - date 'infinity': PostgresValueConverter.POSITIVE_INFINITY_LOCAL_DATE = -5877611-06-21
#    (DateTimeFormat.date), whose epoch day is what io.debezium.time.Date carries.
#  - timetz: OffsetTime at UTC formatted with ISO_OFFSET_TIME (seconds always, fraction
#    trimmed of trailing zeros, none when zero).
#  - JSON converter: NaN/Infinity floats as strings; a null in a column whose Connect
#    schema has a default is replaced by the default (replace.null.with.default).
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"
# shellcheck source=SCRIPTDIR/../fixtures/debezium_workload.sh
. "$CDC_SRC/test/fixtures/debezium_workload.sh"
# shellcheck source=SCRIPTDIR/../lib/every_type.sh
. "$CDC_SRC/test/lib/every_type.sh"

pg_up
fixture_every_type_table   # test/fixtures/debezium_workload.sh, shared with 250/260

P_TABLES=public.every_type P_SNAPSHOT=never write_pipeline
write_platform
agent_start

# Row 1: ordinary values.  Row 2: negatives, NaN, a huge numeric, a BC date, a time-zone
# wrap, empty strings and arrays.  Row 3: infinities, date 'infinity', all-zero bit strings
# (empty bytes), a zero numeric with a scale.  Row 4: NULL everywhere it is allowed (c_nn
# takes its default, c_dflt is an explicit NULL).  Row 5, in its own transaction after
# the others: an empty varbit (B''), which Debezium turns into an empty byte array.
sql "INSERT INTO every_type VALUES $ROW1, $ROW2, $ROW3, $ROW4"   # the fixture's rows
sql "INSERT INTO every_type (id, c_varbit) VALUES (5, B'')"
wait_lines "$EVENTS" 4 60
# Row 5 is checked after the comparison of rows 1-4, so that an agent that dies on it
# still has rows 1-4 compared.
deadline=$((SECONDS + 15))
while [ "$(line_count "$EVENTS")" -lt 5 ] && agent_alive && [ "$SECONDS" -lt "$deadline" ]; do
    sleep 0.1
done
DIED=
if agent_alive; then
    sleep 0.5
    agent_stop
else
    rc=0
    wait "$AGENT_PID" || rc=$?
    AGENT_PID=
    DIED="the agent exited with status $rc ($(grep -o '"level":"error".*' "$T/agent.log" | tail -n 1 | cut -c1-300))"
    note "$DIED"
fi

F=$EVENTS
jl_check "the first four events are op c for public.every_type ids 1..4" "$F" \
    '[(get(e, "value.op"), get(e, "value.after.id"), get(e, "value.source.table")) for e in data[:4]]
     == [("c", i, "every_type") for i in (1, 2, 3, 4)]'

SRC=$T/source.jsonl
every_type_source "$SRC"
expect_eq "five source rows selected" "$(line_count "$SRC")" 5

# The comparison (test/lib/every_type_check.py).
every_type_compare "$SRC" "$F"
expect_eq "rows 1-4: every column was compared (4 rows x 55 columns)" "$ET_CMP" 220
expect_eq "rows 1-4: no mismatches between the Debezium values computed from the source and the agent's after" "$ET_BAD" 0
if [ -n "$DIED" ]; then
    fail "row 5 (c_varbit = B'', Debezium value \"\"): no event, $DIED"
fi
expect_eq "row 5 (an empty varbit): every column compared" "$ET_CMP5" 55
expect_eq "row 5 (an empty varbit): no mismatches (c_varbit \"\")" "$ET_BAD5" 0

done_testing

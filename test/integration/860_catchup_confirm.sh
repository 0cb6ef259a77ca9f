#!/usr/bin/env bash
# 860: after a backlog, the slot shows the server's WAL end promptly (issue 25, "catch-up as
# the database sees it").  The backlog is one large transaction and 300 small ones, then a
# transaction on a table outside the publication: WAL the walsender reads and sends nothing
# for (PostgreSQL 15 skips empty transactions) but a keepalive carrying its end.  That
# keepalive arrives while the jsonl sink is still making the backlog durable; the agent used
# to drop it, and the slot stayed at the last commit until the walsender's next ping
# (wal_sender_timeout / 2 = 30 s here) or a running_xacts record.  Checked with the server's
# own figures: confirmed_flush_lsn reaches the pg_current_wal_insert_lsn() read after the
# backlog within 2 x status_interval_seconds + 5 s of the last row's delivery (printed), and
# every row was delivered once.
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"

ROWS=${ROWS:-200000}
SMALL=300
STATUS=1                          # common.sh's agent.status_interval_seconds
BOUND=$((2 * STATUS + 5))

pg_up
sql "CREATE TABLE bulk (id int PRIMARY KEY, v text); CREATE TABLE other (id int)" >/dev/null
P_TABLES=public.bulk P_SNAPSHOT=never write_pipeline
write_platform
agent_start                       # creates the slot and the publication
agent_stop

sql "INSERT INTO bulk SELECT g, repeat('x', 40) FROM generate_series(1, $ROWS) g" >/dev/null
for ((i = 1; i <= SMALL; i++)); do
    echo "INSERT INTO bulk VALUES ($((ROWS + i)), 'small');"
done | user_psql >/dev/null
sql "INSERT INTO other SELECT generate_series(1, 100)" >/dev/null
END=$(sql_su "SELECT pg_current_wal_insert_lsn()")
LAST=$(slot_field cdc_slot confirmed_flush_lsn)
note "backlog of $((ROWS + SMALL)) rows between $LAST and $END ($(sql_su "SELECT pg_wal_lsn_diff('$END', '$LAST')") bytes)"

agent_start
wait_lines "$EVENTS" $((ROWS + SMALL)) 300
t0=$(date +%s.%N)
deadline=$((SECONDS + 90))
while [ "$(slot_field cdc_slot "confirmed_flush_lsn >= '$END'")" != t ]; do
    [ "$SECONDS" -lt "$deadline" ] || break
    sleep 0.05
done
t1=$(date +%s.%N)
took=$(python3 -c "print('%.3f' % ($t1 - $t0))")
note "confirmed_flush_lsn $(slot_field cdc_slot confirmed_flush_lsn) (server end $END) $took s after the last row was delivered (bound $BOUND s)"
check "the slot reaches the server's WAL end within $BOUND s of the last row" \
    python3 -c "import sys; sys.exit(0 if $took < $BOUND else 1)"

expect_eq "every row delivered once" \
    "$(jl_eval "$EVENTS" 'len({get(e, "value.after.id") for e in data})')" $((ROWS + SMALL))
expect_eq "no more lines than rows" "$(line_count "$EVENTS")" $((ROWS + SMALL))
agent_stop
done_testing

#!/usr/bin/env bash
# 836: the publication follows tables by pattern while the agent streams: a table created
# later that source.table_include_list matches is added to the publication at the next
# catalog check (source.table_pattern_check_ms) and its changes committed after that are
# captured; a row written in the transaction that created it (before the agent could add
# it) is not (that is an incremental snapshot's job); a new table the pattern does not
# match is never added.  A new table another transaction holds locked is added once the lock
# is free (the agent's ALTER PUBLICATION waits 2 s, warns, and tries again at the next check,
# streaming on).  The publication's tables are compared with psql's catalog; the
# captured rows with psql's rows.  A restart then finds the publication complete, and
# snapshots the new table by itself (it joined the configuration while the agent ran).
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"

pg_up
sql "CREATE TABLE customers (id int PRIMARY KEY, name text)" \
    "INSERT INTO customers VALUES (1, 'first')"
P_NO_TABLES=1 P_SOURCE_EXTRA="$(printf '%s\n%s' 'table_include_list: "public\\.cust.*"' \
    'table_pattern_check_ms: 200')" write_pipeline
write_platform
agent_start
wait_lines "$EVENTS" 1 60

# one transaction creates the table and writes row 1: committed before the agent can see it
sql "BEGIN; CREATE TABLE customers_new (id int PRIMARY KEY, name text);
     INSERT INTO customers_new VALUES (1, 'before the publication'); COMMIT"
sql "CREATE TABLE notes (id int PRIMARY KEY, body text)"
for _ in $(seq 1 300); do
    [ "$(sql_su "SELECT count(*) FROM pg_publication_tables WHERE pubname = 'cdc_publication'
                   AND tablename = 'customers_new'")" = 1 ] && break
    sleep 0.1
done
expect_eq "the publication's tables are the catalog's matches" \
    "$(sql_su "SELECT schemaname || '.' || tablename FROM pg_publication_tables
                WHERE pubname = 'cdc_publication' ORDER BY 1")" \
    "$(sql_su "SELECT n.nspname || '.' || c.relname FROM pg_class c
                 JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE c.relkind = 'r' AND (n.nspname || '.' || c.relname) ~* '^(public\\.cust.*)\$'
                ORDER BY 1")"
sql "INSERT INTO customers_new VALUES (2, 'after')" "INSERT INTO notes VALUES (1, 'never')" \
    "UPDATE customers_new SET name = 'changed' WHERE id = 1" \
    "INSERT INTO customers VALUES (2, 'second')"
wait_lines "$EVENTS" 4 60
sleep 1
agent_stop

F=$EVENTS
expect_eq "events: the snapshot row, then the new table's insert and update, then customers" \
    "$(jl_eval "$F" '" ".join(get(e, "value.op") + ":" + get(e, "value.source.table")
                               for e in data)')" \
    "r:customers c:customers_new u:customers_new c:customers"
expect_eq "the new table's rows as psql has them (row 1 only from its update)" \
    "$(jl_eval "$F" '"\n".join(str(get(e, "value.after.id")) + "|" + get(e, "value.after.name")
                               for e in data if get(e, "value.source.table") == "customers_new"
                               and get(e, "value.op") == "c")')" \
    "$(sql_su "SELECT id || '|' || name FROM customers_new WHERE id = 2")"
expect_contains "the addition is logged" "$(cat "$T/agent.log")" \
    "publication cdc_publication: added table public.customers_new (chosen by pattern)"

note "a restart finds the publication complete"
# The table joined while the agent streamed, so the start sees it as added to the
# configuration: it is snapshotted by itself, incrementally (row 1, written before the
# publication had it, arrives that way), as any table added to source.tables.
agent_start
wait_grep "$T/agent.log" 'incremental snapshot added-tables-.* done' 60
sql "INSERT INTO customers_new VALUES (3, 'after restart')"
wait_lines "$EVENTS" 7 60
expect_eq "after the restart: the new table's snapshot (its rows as psql has them), then its insert" \
    "$(jl_eval "$F" '" ".join("%s:%s:%s" % (get(e, "value.op"), get(e, "value.after.id"), get(e, "value.after.name")) for e in data[4:] if get(e, "value.source.table") == "customers_new")')" \
    "r:1:changed r:2:after c:3:after restart"

note "a session holding a new table's lock: the agent waits 2 s, warns, tries again"
# the agent is stopped (SIGSTOP) while the table is created and locked, so that its next
# catalog check finds the table already locked
kill -STOP "$AGENT_PID"
sql "CREATE TABLE customers_late (id int PRIMARY KEY)"
holder() {  # ends when terminated below: its failure is expected
    PGAPPNAME=it836_holder pg_psql "$PORT" cdc_demo \
        "BEGIN; LOCK TABLE customers_late IN SHARE MODE; SELECT pg_sleep(120)" \
        >/dev/null 2>&1 || true
}
bg holder
for _ in $(seq 1 300); do
    [ "$(sql_su "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'it836_holder'
                   AND wait_event = 'PgSleep'")" = 1 ] && break
    sleep 0.1
done
kill -CONT "$AGENT_PID"
for _ in $(seq 1 600); do
    grep -q 'customers_late.*trying again' "$T/agent.log" && break
    sleep 0.1
done
expect_contains "the lock timeout is warned about, with the table" "$(cat "$T/agent.log")" \
    'another transaction holds a lock on a table chosen by pattern (ALTER PUBLICATION \"cdc_publication\" ADD TABLE \"public\".\"customers_late\" waited 2 s): adding tables chosen by pattern to the publication: ERROR:  canceling statement due to lock timeout (SQLSTATE 55P03); trying again in 200 ms'
expect_eq "customers_late is not in the publication while the lock is held" \
    "$(sql_su "SELECT count(*) FROM pg_publication_tables WHERE pubname = 'cdc_publication'
                AND tablename = 'customers_late'")" 0
sql_su "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE application_name = 'it836_holder'" >/dev/null
for _ in $(seq 1 300); do
    [ "$(sql_su "SELECT count(*) FROM pg_publication_tables WHERE pubname = 'cdc_publication'
                   AND tablename = 'customers_late'")" = 1 ] && break
    sleep 0.1
done
sql "INSERT INTO customers_late VALUES (9)"
wait_lines "$EVENTS" 6 60
agent_stop
expect_eq "once the lock is free the table is added and its insert captured" \
    "$(jl_eval "$F" 'get(data[-1], "value.source.table") + ":" + str(get(data[-1], "value.after.id"))')" \
    "customers_late:9"

done_testing

#!/usr/bin/env bash
# 851: a publication the agent created follows the configuration at start (issue 24): a table
# removed from source.tables, and a table that no longer matches source.table_include_list
# (renamed), is dropped from it (ALTER PUBLICATION ... DROP TABLE), logged; psql's
# pg_publication_tables is the reference.  After the drop, the dropped table's changes are not
# captured and the configured table's are; put back in source.tables, the table is added back
# (logged), snapshotted by itself as any table added to source.tables, and captured from
# then on.  A publication someone else made (no cdcagent
# comment) is never shrunk: its extra table stays, with the existing warning.
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"

pg_up
sql "CREATE TABLE customers (id int PRIMARY KEY, name text)" \
    "CREATE TABLE orders (id int PRIMARY KEY, amount int)" \
    "CREATE TABLE cust_eu (id int PRIMARY KEY, name text)" \
    "CREATE TABLE cust_us (id int PRIMARY KEY, name text)"
pub_tables() {
    sql_su "SELECT string_agg(schemaname || '.' || tablename, ' ' ORDER BY 1)
              FROM pg_publication_tables WHERE pubname = '$1'"
}

note "source.tables: orders removed"
P_TABLES="public.customers, public.orders" write_pipeline
agent_start
agent_stop
expect_eq "the agent made the publication with both tables" "$(pub_tables cdc_publication)" \
    "public.customers public.orders"
expect_contains "it is marked as the agent's" \
    "$(sql_su "SELECT obj_description(oid, 'pg_publication') FROM pg_publication
               WHERE pubname = 'cdc_publication'")" "cdcagent: created by cdcagent"
P_TABLES="public.customers" write_pipeline
agent_start
expect_eq "orders was dropped from it at start" "$(pub_tables cdc_publication)" "public.customers"
expect_contains "the drop is logged" "$(cat "$T/agent.log")" \
    "publication cdc_publication: dropped table public.orders (no longer in source.tables"
sql "INSERT INTO orders VALUES (1, 10)" "INSERT INTO customers VALUES (1, 'a')"
wait_lines "$EVENTS" 1 30
sleep 1
agent_stop
expect_eq "customers' insert is captured, orders' is not" \
    "$(jl_eval "$EVENTS" '" ".join(get(e, "value.source.table") for e in data)')" "customers"
P_TABLES="public.customers, public.orders" write_pipeline
agent_start
# a table added to source.tables is snapshotted by itself, incrementally (docs/snapshots.md)
wait_grep "$T/agent.log" 'incremental snapshot added-tables-.* done' 60
sql "INSERT INTO orders VALUES (2, 20)"
wait_lines "$EVENTS" 3 30
agent_stop
expect_eq "orders back in source.tables: added back to the agent's publication" \
    "$(pub_tables cdc_publication)" "public.customers public.orders"
expect_contains "the addition is logged" "$(cat "$T/agent.log")" \
    "publication cdc_publication: added table public.orders (in source.tables)"
expect_eq "orders back: its row written while it was out comes from its snapshot (op r), its later insert is captured" \
    "$(jl_eval "$EVENTS" '" ".join("%s:%s:%s" % (get(e, "value.source.table"), get(e, "value.after.id"), get(e, "value.op")) for e in data)')" \
    "customers:1:c orders:1:r orders:2:c"

note "a pattern: cust_us renamed, so it no longer matches"
EVENTS=$T/pat.jsonl
P_NO_TABLES=1 P_PUB=pub_pat P_SLOT=slot_pat P_SOURCE_EXTRA='table_include_list: "public\\.cust_.*"' \
    write_pipeline
P_SLOT=slot_pat agent_start
agent_stop
expect_eq "the pattern's publication" "$(pub_tables pub_pat)" "public.cust_eu public.cust_us"
sql "ALTER TABLE cust_us RENAME TO us_customers"
P_SLOT=slot_pat agent_start
agent_stop
expect_eq "the renamed table was dropped from it" "$(pub_tables pub_pat)" "public.cust_eu"
expect_contains "logged" "$(cat "$T/agent.log")" \
    "publication pub_pat: dropped table public.us_customers"

note "a publication someone else made keeps its tables"
EVENTS=$T/dba.jsonl
sql "CREATE PUBLICATION pub_dba FOR TABLE customers, orders"
P_PUB=pub_dba P_SLOT=slot_dba P_TABLES="public.customers" write_pipeline
P_SLOT=slot_dba agent_start
agent_stop
expect_eq "pub_dba still publishes both" "$(pub_tables pub_dba)" "public.customers public.orders"
expect_contains "the extra table is warned about" "$(cat "$T/agent.log")" \
    "publication pub_dba publishes 2 tables, 1 configured"

done_testing

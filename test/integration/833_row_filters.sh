#!/usr/bin/env bash
# 833: source.row_filters on PostgreSQL 15: the publication the agent creates carries the
# row filter (pg_publication_tables.rowfilter), the snapshot reads only the matching rows, and
# the stream carries only them: an UPDATE that moves a row into the filter arrives as a
# create, one that moves it out as a delete (PostgreSQL's publication semantics, which a
# Debezium connector on the same publication sees too), each compared with psql's rows.
# Refusals, each naming the key and the table: a table not in source.tables (validate), a
# mutable function (PostgreSQL's own error), a column outside the replica identity (which
# PostgreSQL would accept, then refuse the application's UPDATEs).
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"

pg_up
sql "CREATE TABLE orders (id int PRIMARY KEY, region text NOT NULL, amount int)" \
    "ALTER TABLE orders REPLICA IDENTITY FULL" \
    "CREATE TABLE customers (id int PRIMARY KEY, region text, name text)" \
    "INSERT INTO orders VALUES (1, 'eu', 10), (2, 'us', 20), (3, 'eu', 30)" \
    "INSERT INTO customers VALUES (1, 'eu', 'Alice')"

P_SOURCE_EXTRA="row_filters:
  public.orders: region = 'eu'" write_pipeline
write_platform
cdc validate "$T/pipeline.yaml" --platform-config "$T/platform.yaml"
expect_eq "validate accepts the filter" "$CDC_RC" 0
agent_start
expect_eq "the publication carries the row filter" \
    "$(sql_su "SELECT tablename || ' ' || coalesce(rowfilter, '-') FROM pg_publication_tables
               WHERE pubname = 'cdc_publication' ORDER BY 1")" \
    "$(printf 'customers -\norders (region = '"'"'eu'"'"'::text)')"
sql "INSERT INTO orders VALUES (4, 'eu', 40), (5, 'us', 50)" \
    "UPDATE orders SET region = 'eu' WHERE id = 2" \
    "UPDATE orders SET region = 'us' WHERE id = 3" \
    "UPDATE orders SET amount = 11 WHERE id = 1" \
    "UPDATE orders SET amount = 51 WHERE id = 5" \
    "DELETE FROM orders WHERE id = 4" \
    "DELETE FROM orders WHERE id = 5" \
    "INSERT INTO customers VALUES (2, 'us', 'Bob')"
wait_lines "$EVENTS" 11 60
sleep 1
agent_stop

F=$EVENTS
jl_check "snapshot: the eu rows only (1, 3) and the unfiltered customers row" "$F" \
    'sorted((get(e, "value.source.table"), e["key"]["id"]) for e in data if get(e, "value.op") == "r") ==
     [("customers", 1), ("orders", 1), ("orders", 3)]'
expect_eq "stream of orders: c 4, c 2 (moved in), d 3 (moved out), u 1, d 4; nothing of 5" \
    "$(jl_eval "$F" '" ".join("%s%d" % (get(e, "value.op"), e["key"]["id"]) for e in data
                              if get(e, "value.source.table") == "orders" and get(e, "value.op") != "r")')" \
    "c4 c2 d3 u1 d4"
jl_check "the row moved out arrives as a delete with its old row (REPLICA IDENTITY FULL)" "$F" \
    '[get(e, "value.before") for e in data if get(e, "value.op") == "d" and e["key"]["id"] == 3] ==
     [{"id": 3, "region": "eu", "amount": 30}]'
jl_check "the row moved in arrives as a create with its new row" "$F" \
    '[get(e, "value.after") for e in data if get(e, "value.op") == "c" and e["key"]["id"] == 2
      and get(e, "value.source.table") == "orders"] == [{"id": 2, "region": "eu", "amount": 20}]'
expect_eq "the orders the filter keeps, as psql has them, are the last images the agent sent" \
    "$(sql_su "SELECT string_agg(id || ':' || amount, ' ' ORDER BY id) FROM orders WHERE region = 'eu'")" \
    "$(jl_eval "$F" '" ".join("%d:%d" % (k, v["amount"]) for k, v in sorted(
        {e["key"]["id"]: get(e, "value.after") for e in data
         if get(e, "value.source.table") == "orders"}.items()) if v)')"
jl_check "customers is not filtered" "$F" \
    '[e["key"]["id"] for e in data if get(e, "value.source.table") == "customers"] == [1, 2]'

note "refusals"
P_PUB=pub_bad1 P_SLOT=slot_bad1 P_SOURCE_EXTRA="row_filters:
  public.nosuch: id > 0" write_pipeline
cdc validate "$T/pipeline.yaml" --platform-config "$T/platform.yaml"
expect_eq "a table outside source.tables fails validate with exit 2" "$CDC_RC" 2
expect_contains "it names the key and the table" "$(cat "$T/cdc.err")" \
    "source.row_filters: table public.nosuch is not in source.tables"
P_PUB=pub_bad2 P_SLOT=slot_bad2 P_SOURCE_EXTRA="row_filters:
  public.orders: amount > random()" write_pipeline
agent_start_refused "a mutable function" \
    "source.row_filters: PostgreSQL refused the publication pub_bad2 with the row filters (public.orders: amount > random())"
expect_contains "PostgreSQL's reason is in the message" "$(cat "$T/agent.log")" \
    "invalid publication WHERE expression: User-defined or built-in mutable functions are not allowed"
P_PUB=pub_bad3 P_SLOT=slot_bad3 P_SOURCE_EXTRA="row_filters:
  public.customers: region = 'eu'" write_pipeline
agent_start_refused "a column outside the replica identity" \
    "the row filter of table public.customers uses column region, which is not in the table's replica identity"
expect_eq "no publication was left behind by the refusals" \
    "$(sql_su "SELECT count(*) FROM pg_publication WHERE pubname LIKE 'pub_bad%'")" 0
sql "UPDATE customers SET name = 'A' WHERE id = 1"
ok "the application's UPDATE still works"

note "the row filter on a parallel snapshot (two threads, 1 MB ranges: the ranges' ctid bounds are ANDed to the filter)"
sql "CREATE TABLE big (id int PRIMARY KEY, region text NOT NULL, pad text)" \
    "ALTER TABLE big REPLICA IDENTITY FULL" \
    "INSERT INTO big SELECT g, CASE WHEN g % 3 = 0 THEN 'eu' ELSE 'us' END, repeat('x', 200)
     FROM generate_series(1, 30000) g"
P_PUB=pub_par P_SLOT=slot_par P_TABLES="public.big" P_OUT=$T/par.jsonl P_SOURCE_EXTRA="snapshot_max_threads: 2
snapshot_chunk_mb: 1
row_filters:
  public.big: region = 'eu'" write_pipeline
P_SLOT=slot_par agent_start
wait_lines "$T/par.jsonl" 10000 120
agent_stop
expect_eq "the table spans more than three 1 MB ranges" \
    "$(sql_su "SELECT pg_relation_size('big') > 3 * 1024 * 1024")" t
expect_contains "read with two threads" "$(cat "$T/agent.log")" "2 threads"
expect_eq "the snapshot holds exactly the eu rows, each once, as psql has them" \
    "$(jl_eval "$T/par.jsonl" '" ".join(str(x) for x in (len(data), len({e["key"]["id"] for e in data}),
        sum(e["key"]["id"] for e in data)))')" \
    "$(sql_su "SELECT count(*) || ' ' || count(*) || ' ' || sum(id) FROM big WHERE region = 'eu'")"
jl_check "every row of it is an eu row read by the snapshot" "$T/par.jsonl" \
    'all(get(e, "value.op") == "r" and get(e, "value.after.region") == "eu" for e in data)'

done_testing

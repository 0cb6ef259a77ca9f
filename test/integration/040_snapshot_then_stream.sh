#!/usr/bin/env bash
# 040: snapshot_mode initial: rows present before the start come first as op r, with the
# source.snapshot markers first ... last; rows written after come as op c.  No row is
# missing and none is duplicated.
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"

pg_up
sql "CREATE TABLE customers (id serial PRIMARY KEY, name text, email varchar(255),
                             balance numeric(10,2), created_at timestamptz)" \
    "CREATE TABLE orders (id serial PRIMARY KEY, customer_id int, amount numeric(10,2),
                          status text NOT NULL)" \
    "INSERT INTO customers (name, email, balance, created_at)
     SELECT 'c' || i, 'c' || i || '@example.com', i, '2024-01-01 00:00:00+00'
       FROM generate_series(1, 50) i" \
    "INSERT INTO orders (customer_id, amount, status)
     SELECT i, i * 2, 'new' FROM generate_series(1, 20) i"

P_SNAPSHOT=initial write_pipeline
write_platform
agent_start
sql "INSERT INTO customers (name, email, balance, created_at)
     SELECT 'c' || i, 'c' || i || '@example.com', i, '2024-01-01 00:00:00+00'
       FROM generate_series(51, 55) i"
sql "INSERT INTO orders (customer_id, amount, status) VALUES (51, 1, 'late')"
wait_lines "$EVENTS" 76 90
sleep 1
agent_stop

F=$EVENTS
expect_eq "76 events in all" "$(line_count "$F")" 76
jl_check "70 snapshot events (op r) come first, then 6 streamed (op c)" "$F" \
    '[get(e, "value.op") for e in data] == ["r"] * 70 + ["c"] * 6'
jl_check "snapshot rows: every customers id 1..50 exactly once" "$F" \
    'sorted(e["key"]["id"] for e in data if get(e, "value.op") == "r" and get(e, "value.source.table") == "customers") == list(range(1, 51))'
jl_check "snapshot rows: every orders id 1..20 exactly once" "$F" \
    'sorted(e["key"]["id"] for e in data if get(e, "value.op") == "r" and get(e, "value.source.table") == "orders") == list(range(1, 21))'
jl_check "streamed rows: customers 51..55 and orders 21, once each" "$F" \
    'sorted((get(e, "value.source.table"), e["key"]["id"]) for e in data if get(e, "value.op") == "c") == [("customers", i) for i in range(51, 56)] + [("orders", 21)]'
jl_check "snapshot rows have before null and the row in after" "$F" \
    'all(get(e, "value.before") is None and get(e, "value.after.id") == e["key"]["id"] for e in data if get(e, "value.op") == "r")'
jl_check "a snapshot row's values: customers 7" "$F" \
    '[get(e, "value.after") for e in data if get(e, "value.op") == "r" and get(e, "value.source.table") == "customers" and e["key"]["id"] == 7] == [{"id": 7, "name": "c7", "email": "c7@example.com", "balance": "Arw=", "created_at": "2024-01-01T00:00:00.000000Z"}]'
jl_check "snapshot markers as Debezium 2.7 sets them: first, true..., last_in_data_collection, first_in_data_collection, true..., last" "$F" \
    '[get(e, "value.source.snapshot") for e in data[:70]] == ["first"] + ["true"] * 48 + ["last_in_data_collection", "first_in_data_collection"] + ["true"] * 18 + ["last"]'
jl_check "streamed events are marked \"false\"" "$F" \
    'all(get(e, "value.source.snapshot") == "false" for e in data[70:])'
jl_check "snapshot events share one lsn (the consistent point) and one txId" "$F" \
    'len(set(get(e, "value.source.lsn") for e in data[:70])) == 1 and len(set(get(e, "value.source.txId") for e in data[:70])) == 1'
jl_check "streamed changes come after the consistent point" "$F" \
    'all(get(e, "value.source.lsn") > get(data[0], "value.source.lsn") for e in data[70:])'
jl_check "positions strictly increasing" "$F" \
    'all((get(a, "metadata.commit_lsn"), get(a, "metadata.seq")) < (get(b, "metadata.commit_lsn"), get(b, "metadata.seq")) for a, b in zip(data, data[1:]))'

done_testing

#!/usr/bin/env bash
# 020: insert, update and delete stream out as c, u, d events in commit order, with
# Debezium's values: decimal as base64 of the unscaled bytes, timestamptz as ISO-8601 UTC,
# key {"id":N}, before null on update and key-only before on delete (REPLICA IDENTITY
# DEFAULT).  The sink writes to stdout (path "-").
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"

pg_up
sql "CREATE TABLE customers (id serial PRIMARY KEY, name text, email varchar(255),
                             balance numeric(10,2), created_at timestamptz)" \
    "CREATE TABLE orders (id serial PRIMARY KEY, customer_id int, amount numeric(10,2),
                          status text NOT NULL)"

P_SNAPSHOT=never P_OUT=- write_pipeline
write_platform
agent_start

sql "INSERT INTO customers (name, email, balance, created_at)
     VALUES ('Alice', 'alice@example.com', 12.50, '2024-05-01 10:15:30.123456+00')"
sql "BEGIN" \
    "INSERT INTO customers (name, email, balance, created_at)
     VALUES ('Bob', NULL, -12.50, '2024-05-01 12:00:00+02')" \
    "INSERT INTO orders (customer_id, amount, status) VALUES (2, 0, 'new')" \
    "COMMIT"
sql "UPDATE customers SET balance = 99.99, email = 'a@x.io' WHERE id = 1"
sql "DELETE FROM customers WHERE id = 1"
wait_lines "$EVENTS" 5 60
sleep 1                          # a tombstone after the delete, if the sink writes one
agent_stop

F=$EVENTS
note "events: $(jl_ops "$F")"
expect_eq "five data events c c c u d, in commit order" "$(jl_ops "$F")" "c c c u d"
jl_check "every line has key, value and metadata" "$F" \
    'all(set(e) >= {"key", "value", "metadata"} for e in evs)'
jl_check "a tombstone, if any, comes right after the delete with its key" "$F" \
    'all(i > 0 and get(evs[i-1], "value.op") == "d" and e["key"] == {"id": 1}
         for i, e in enumerate(evs) if e["value"] is None)'

note "insert"
jl_check "insert: key {\"id\":1}" "$F" 'data[0]["key"] == {"id": 1}'
jl_check "insert: before is null" "$F" 'get(data[0], "value.before") is None'
jl_check "insert: after has Debezium values (12.50 -> BOI=)" "$F" \
    'get(data[0], "value.after") == {"id": 1, "name": "Alice", "email": "alice@example.com",
                                     "balance": "BOI=", "created_at": "2024-05-01T10:15:30.123456Z"}'
jl_check "insert: -12.50 -> +x4=, NULL stays null, time in UTC" "$F" \
    'get(data[1], "value.after") == {"id": 2, "name": "Bob", "email": None,
                                     "balance": "+x4=", "created_at": "2024-05-01T10:00:00.000000Z"}'
jl_check "insert: source block" "$F" \
    'all(get(data[0], "value.source." + k) == v for k, v in
         {"connector": "postgresql", "name": "cdc", "db": "cdc_demo", "schema": "public",
          "table": "customers", "snapshot": "false"}.items())'
jl_check "orders row: topic, key, after" "$F" \
    'get(data[2], "metadata.topic") == "cdc.public.orders" and data[2]["key"] == {"id": 1}
     and get(data[2], "value.after") == {"id": 1, "customer_id": 2, "amount": "AA==", "status": "new"}'
jl_check "customers topic is cdc.public.customers" "$F" \
    'all(get(e, "metadata.topic") == "cdc.public.customers" for e in data if get(e, "value.source.table") == "customers")'

note "update"
jl_check "update: key {\"id\":1}, before null (REPLICA IDENTITY DEFAULT)" "$F" \
    'data[3]["key"] == {"id": 1} and get(data[3], "value.before") is None'
jl_check "update: after has the new values (99.99 -> Jw8=)" "$F" \
    'get(data[3], "value.after") == {"id": 1, "name": "Alice", "email": "a@x.io",
                                     "balance": "Jw8=", "created_at": "2024-05-01T10:15:30.123456Z"}'

note "delete"
jl_check "delete: key {\"id\":1}, after null" "$F" \
    'data[4]["key"] == {"id": 1} and get(data[4], "value.after") is None'
jl_check "delete: before has the key only, other columns null" "$F" \
    'get(data[4], "value.before") == {"id": 1, "name": None, "email": None, "balance": None,
                                      "created_at": None}'

note "positions"
jl_check "metadata.op equals value.op" "$F" 'all(get(e, "metadata.op") == get(e, "value.op") for e in data)'
jl_check "metadata.lsn (text) equals value.source.lsn (number)" "$F" \
    'all(lsn(get(e, "metadata.lsn")) == get(e, "value.source.lsn") > 0 for e in data)'
jl_check "metadata.xid equals value.source.txId" "$F" \
    'all(get(e, "metadata.xid") == get(e, "value.source.txId") for e in data)'
jl_check "the two rows of one transaction share txId and commit_lsn" "$F" \
    'get(data[1], "metadata.xid") == get(data[2], "metadata.xid") and
     get(data[1], "metadata.commit_lsn") == get(data[2], "metadata.commit_lsn")'
jl_check "four transactions, four txIds, increasing" "$F" \
    '[get(data[i], "metadata.xid") for i in (0, 1, 3, 4)] == sorted(set(get(data[i], "metadata.xid") for i in (0, 1, 3, 4)))'
jl_check "commit_lsn >= lsn of each change" "$F" \
    'all(get(e, "metadata.commit_lsn") >= get(e, "value.source.lsn") for e in data)'
jl_check "(commit_lsn, seq) strictly increasing" "$F" \
    'all((get(a, "metadata.commit_lsn"), get(a, "metadata.seq")) < (get(b, "metadata.commit_lsn"), get(b, "metadata.seq"))
         for a, b in zip(data, data[1:]))'
jl_check "offsets strictly increasing per topic" "$F" \
    'all(get(a, "metadata.offset") < get(b, "metadata.offset") for a, b in zip(data, data[1:])
         if get(a, "metadata.topic") == get(b, "metadata.topic"))'
jl_check "ts_ms present on every envelope" "$F" 'all(isinstance(get(e, "value.ts_ms"), int) for e in data)'

done_testing

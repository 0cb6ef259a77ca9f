#!/usr/bin/env bash
# 030: with REPLICA IDENTITY FULL the before image of updates and deletes is the complete
# old row.
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"

pg_up
sql "CREATE TABLE customers (id serial PRIMARY KEY, name text, email varchar(255),
                             balance numeric(10,2), created_at timestamptz)" \
    "ALTER TABLE customers REPLICA IDENTITY FULL"

P_TABLES=public.customers P_SNAPSHOT=never write_pipeline
write_platform
agent_start

sql "INSERT INTO customers (name, email, balance, created_at)
     VALUES ('Alice', 'alice@example.com', 12.50, '2024-05-01 10:15:30.123456+00')"
sql "UPDATE customers SET balance = 99.99, email = 'a@x.io' WHERE id = 1"
sql "UPDATE customers SET id = 7 WHERE id = 1"
sql "DELETE FROM customers WHERE id = 7"
wait_lines "$EVENTS" 4 60
sleep 1
agent_stop

F=$EVENTS
OLD='{"id": 1, "name": "Alice", "email": "alice@example.com", "balance": "BOI=", "created_at": "2024-05-01T10:15:30.123456Z"}'
NEW='{"id": 1, "name": "Alice", "email": "a@x.io", "balance": "Jw8=", "created_at": "2024-05-01T10:15:30.123456Z"}'
MOVED='{"id": 7, "name": "Alice", "email": "a@x.io", "balance": "Jw8=", "created_at": "2024-05-01T10:15:30.123456Z"}'
note "events: $(jl_ops "$F")"
# A primary-key change is a delete of the old key and a create of the new one (Debezium).
expect_eq "ops: c u (d c for the key change) d" "$(jl_ops "$F")" "c u d c d"
jl_check "update: before is the complete old row" "$F" "get(data[1], 'value.before') == $OLD"
jl_check "update: after is the complete new row" "$F" "get(data[1], 'value.after') == $NEW"
jl_check "key change: d with the old key and full before" "$F" \
    "data[2]['key'] == {'id': 1} and get(data[2], 'value.before') == $NEW and get(data[2], 'value.after') is None"
jl_check "key change: c with the new key" "$F" \
    "data[3]['key'] == {'id': 7} and get(data[3], 'value.after') == $MOVED and get(data[3], 'value.before') is None"
jl_check "key change: both halves in one transaction" "$F" \
    "get(data[2], 'metadata.xid') == get(data[3], 'metadata.xid')"
jl_check "delete: before is the complete row, after null" "$F" \
    "get(data[4], 'value.before') == $MOVED and get(data[4], 'value.after') is None"
jl_check "delete: key {\"id\":7}" "$F" "data[4]['key'] == {'id': 7}"

done_testing

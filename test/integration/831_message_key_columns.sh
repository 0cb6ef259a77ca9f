#!/usr/bin/env bash
# 831: source.message_key_columns (Debezium's message.key.columns) on a jsonl sink: a table
# without a primary key gets the chosen key, in the order the setting lists its columns
# (Key.CustomKeyMapper: one regex per column, candidates in that order), a table with one
# gets its key replaced, a table the setting does not name keeps its primary key; the
# snapshot and the stream agree; the keys are compared with psql's rows.  A key regex that
# matches no column stops the start, named.
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"

pg_up
sql "CREATE TABLE customers (id serial PRIMARY KEY, name text, email text)" \
    "CREATE TABLE orders (region text NOT NULL, id int NOT NULL, amount int)" \
    "CREATE TABLE notes (id serial PRIMARY KEY, body text)" \
    "ALTER TABLE orders REPLICA IDENTITY FULL"
sql "INSERT INTO customers (name, email) VALUES ('Alice', 'alice@example.com')" \
    "INSERT INTO orders VALUES ('eu', 1, 10)"

P_TABLES="public.customers, public.orders, public.notes" \
P_SOURCE_EXTRA="message_key_columns: \"public.orders:id,region;public\\\\.cust.*:email\"" \
    write_pipeline
write_platform
agent_start
sql "INSERT INTO customers (name, email) VALUES ('Bob', 'bob@example.com')" \
    "INSERT INTO orders VALUES ('us', 2, 20)" \
    "INSERT INTO notes (body) VALUES ('n')" \
    "UPDATE orders SET amount = 11 WHERE id = 1" \
    "DELETE FROM orders WHERE id = 2"
wait_lines "$EVENTS" 7 60
sleep 1
agent_stop

F=$EVENTS
expect_eq "ops: r r c c c u d" "$(jl_ops "$F")" "r r c c c u d"
keys=$(sql_su "COPY (SELECT json_build_object('email', email)::text FROM customers ORDER BY id)
               TO STDOUT")
expect_eq "customers: the key is email alone, as psql has it" \
    "$(jl_eval "$F" '"\n".join(json.dumps(e["key"], separators=(",", ":"))
                               for e in data if get(e, "value.source.table") == "customers")')" \
    "$(printf '%s' "$keys" | tr -d ' ')"
jl_check "orders: key {id, region} in the setting's order, not the table's" "$F" \
    '[list(e["key"].items()) for e in data if get(e, "value.source.table") == "orders"] ==
     [[("id", 1), ("region", "eu")], [("id", 2), ("region", "us")], [("id", 1), ("region", "eu")],
      [("id", 2), ("region", "us")]]'
jl_check "notes keeps its primary key" "$F" \
    '[e["key"] for e in data if get(e, "value.source.table") == "notes"] == [{"id": 1}]'
jl_check "the tombstone after the delete carries the chosen key" "$F" \
    'evs[-1]["value"] is None and evs[-1]["key"] == {"id": 2, "region": "us"}'

note "a key column regex that names nothing"
P_TABLES="public.customers, public.orders, public.notes" \
P_SOURCE_EXTRA="message_key_columns: \"public.orders:id,regoin\"" write_pipeline
agent_start_refused "a key regex that names no column" \
    'source.message_key_columns: "public.orders.regoin" matches no column of the captured tables'

done_testing

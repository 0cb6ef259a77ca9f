#!/usr/bin/env bash
# 060: ALTER TABLE while streaming: after ADD COLUMN the next events carry the new column,
# after DROP COLUMN they no longer carry the dropped one.
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"

pg_up
sql "CREATE TABLE customers (id serial PRIMARY KEY, name text, email varchar(255))"

P_TABLES=public.customers P_SNAPSHOT=never write_pipeline
write_platform
agent_start

sql "INSERT INTO customers (name, email) VALUES ('Alice', 'alice@example.com')"
wait_lines "$EVENTS" 1 60
sql "ALTER TABLE customers ADD COLUMN tier text"
sql "INSERT INTO customers (name, email, tier) VALUES ('Bob', 'bob@example.com', 'gold')"
sql "UPDATE customers SET name = 'Alicia' WHERE id = 1"
sql "ALTER TABLE customers ADD COLUMN score int NOT NULL DEFAULT 5"
sql "INSERT INTO customers (name, email, tier, score) VALUES ('Carol', NULL, 'silver', 9)"
sql "ALTER TABLE customers DROP COLUMN email"
sql "INSERT INTO customers (name, tier) VALUES ('Dave', 'bronze')"
sql "UPDATE customers SET tier = 'platinum' WHERE id = 2"
wait_lines "$EVENTS" 6 60
sleep 1
agent_stop

F=$EVENTS
note "events: $(jl_ops "$F")"
expect_eq "ops: c c u c c u" "$(jl_ops "$F")" "c c u c c u"
jl_check "before ALTER: the original columns" "$F" \
    'get(data[0], "value.after") == {"id": 1, "name": "Alice", "email": "alice@example.com"}'
jl_check "after ADD COLUMN tier: insert has tier" "$F" \
    'get(data[1], "value.after") == {"id": 2, "name": "Bob", "email": "bob@example.com", "tier": "gold"}'
jl_check "after ADD COLUMN tier: update of an older row has tier null" "$F" \
    'get(data[2], "value.after") == {"id": 1, "name": "Alicia", "email": "alice@example.com", "tier": None}'
jl_check "after ADD COLUMN score: insert has score" "$F" \
    'get(data[3], "value.after") == {"id": 3, "name": "Carol", "email": None, "tier": "silver", "score": 9}'
jl_check "after DROP COLUMN email: insert has no email" "$F" \
    'get(data[4], "value.after") == {"id": 4, "name": "Dave", "tier": "bronze", "score": 5}'
jl_check "after DROP COLUMN email: update has no email" "$F" \
    'get(data[5], "value.after") == {"id": 2, "name": "Bob", "tier": "platinum", "score": 5}'
jl_check "column order follows the table" "$F" \
    'list(get(data[3], "value.after")) == ["id", "name", "email", "tier", "score"]'

done_testing

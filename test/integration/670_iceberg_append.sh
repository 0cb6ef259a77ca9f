#!/usr/bin/env bash
# 670: cdcagent with sink_type iceberg, write_mode append, on pyiceberg's SQL catalog on SQLite
# and a file:// warehouse.  Two captured tables (one Iceberg table each, <schema>_<table>),
# a snapshot, then inserts, updates, deletes, NULLs, a multi-statement transaction and
# most mapped types.  A jsonl sink in the same pipeline sees the same events.  pyiceberg
# (test/tools/iceberg_sink_check.py) reads the tables back:
# - every change the jsonl sink got is in Iceberg exactly once (op, change LSN, key), with
#   _cdc_topic, _cdc_partition, _cdc_lsn, _cdc_ts;
# - the last image per key equals SELECT of the source, column by column;
# - every snapshot's summary holds cdc.position and cdc.pipeline, positions never go back;
# - ALTER TABLE: a column added (new field id), widened (int to long), dropped;
# - a restart writes nothing twice (the tables' positions are read back at start);
# - a type change Iceberg does not allow stops the agent naming table, column and both
#   types, and the slot does not move past it.
. "$(dirname "$0")/common.sh"
. "$CDC_SRC/test/lib/iceberg.sh"

iceberg_install || fail "could not install pyiceberg $ICEBERG_VERSION (see above)"
pg_up

WH=file://$T/wh
CAT_URI=sqlite:///$T/catalog.db

sql "CREATE TABLE items (id int PRIMARY KEY, b boolean, i2 smallint, i8 bigint, r real,
       d double precision, n numeric(12,3), nv numeric, txt text, vc varchar(20), dt date,
       tm time, ts timestamp, tstz timestamptz, u uuid, by bytea, j jsonb, arr int[],
       tarr text[])" \
    "CREATE TABLE notes (id int PRIMARY KEY, body text)" \
    "INSERT INTO items (id, b, i2, i8, r, d, n, nv, txt, vc, dt, tm, ts, tstz, u, by, j, arr, tarr)
     VALUES (1, true, -7, 9000000000, 1.5, 2.25, 12.345, 3.14159265358979, 'one', 'v1',
             '2024-02-29', '12:34:56.789', '2024-01-02 03:04:05.123456',
             '2024-01-02 03:04:05.5+02', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '\\x00ff10',
             '{\"a\": [1, 2]}', '{1,NULL,3}', '{x,y}'),
            (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
             NULL, NULL, NULL, NULL, NULL)" \
    "INSERT INTO notes VALUES (1, 'first')"

P_TABLES="public.items, public.notes" P_SNAPSHOT=initial write_pipeline
cat >>"$T/pipeline.yaml" <<YAML
  - sink_id: lake
    sink_type: iceberg
    iceberg:
      catalog_uri: "$CAT_URI"
      warehouse: "$WH"
      write_mode: append
      batch_size: 5
      flush_interval_seconds: 0.5
YAML
write_platform
agent_start

sql "INSERT INTO items (id, txt, n, dt) VALUES (3, 'three', -0.5, '1970-01-01')" \
    "UPDATE items SET txt = 'uno', n = 999999999.999 WHERE id = 1" \
    "DELETE FROM items WHERE id = 2" \
    "BEGIN; INSERT INTO items (id, txt) VALUES (4, 'four'); UPDATE items SET txt = 'FOUR', i2 = 4 WHERE id = 4;
     UPDATE items SET tstz = '1969-12-31 23:59:59.999999+00', ts = '0001-01-01 00:00:00' WHERE id = 3;
     INSERT INTO notes VALUES (2, 'second'); DELETE FROM notes WHERE id = 1; COMMIT" \
    "INSERT INTO items (id, txt) SELECT g, 'bulk ' || g FROM generate_series(10, 39) g" \
    "UPDATE items SET i8 = id * 1000 WHERE id BETWEEN 10 AND 20" \
    "DELETE FROM items WHERE id BETWEEN 30 AND 35" \
    "ALTER TABLE notes ADD COLUMN extra int" \
    "INSERT INTO notes VALUES (3, 'third', 42)" \
    "ALTER TABLE notes ALTER COLUMN extra TYPE bigint" \
    "INSERT INTO notes VALUES (4, 'fourth', 5000000000)" \
    "ALTER TABLE items DROP COLUMN vc" \
    "UPDATE items SET txt = 'after drop' WHERE id = 3" \
    "INSERT INTO notes VALUES (99, 'sentinel')"

# Wait for the sentinel in the jsonl sink, then for Iceberg to hold as many changes.
wait_lines "$EVENTS" 1 30 >/dev/null
for _ in $(seq 150); do grep -q '"sentinel"' "$EVENTS" && break; sleep 0.2; done
grep -q '"sentinel"' "$EVENTS" || fail "the sentinel never reached the jsonl sink"
# changes only: a tombstone's metadata says "op":"T"
changes() { grep "\"topic\":\"$1\"" "$EVENTS" | grep -vc '"op":"T"}}$'; }
n_items=$(changes cdc.public.items)
n_notes=$(changes cdc.public.notes)
for _ in $(seq 150); do
    [ "$(chk default.public_items count)" = "$n_items" ] && [ "$(chk default.public_notes count)" = "$n_notes" ] && break
    sleep 0.2
done
expect_eq "Iceberg holds as many items changes as the jsonl sink ($n_items)" "$(chk default.public_items count)" "$n_items"
expect_eq "... and notes changes ($n_notes)" "$(chk default.public_notes count)" "$n_notes"
agent_stop

pgjson items >"$T/items.pg"
pgjson notes >"$T/notes.pg"
check "items: every change once, last image per key == SELECT" \
    chk default.public_items append --events "$EVENTS" --topic cdc.public.items --pg "$T/items.pg"
check "notes: every change once, last image per key == SELECT" \
    chk default.public_notes append --events "$EVENTS" --topic cdc.public.notes --pg "$T/notes.pg"
check "snapshot summaries hold cdc.position and cdc.pipeline" \
    chk default.public_items summaries --pipeline "it-$IT_NUM"
expect_contains "the log says the tables were created" "$(cat "$T/agent.log")" "created Iceberg table default.public_items"

note "restart: nothing is written twice"
agent_start
sql "INSERT INTO notes VALUES (100, 'after restart')"
for _ in $(seq 150); do [ "$(chk default.public_notes count)" = "$((n_notes + 1))" ] && break; sleep 0.2; done
agent_stop
expect_eq "notes: one more change, nothing twice" "$(chk default.public_notes count)" "$((n_notes + 1))"
expect_eq "items: unchanged" "$(chk default.public_items count)" "$n_items"
pgjson notes >"$T/notes.pg"
check "notes after the restart == SELECT, every change once" \
    chk default.public_notes append --events "$EVENTS" --topic cdc.public.notes --pg "$T/notes.pg"
expect_contains "the start read the tables' positions back" "$(cat "$T/agent.log")" "holds changes up to"
check "schema evolution: extra added as a new field and widened to long, vc dropped" \
    "$ICEBERG_PY" - "$CAT_URI" "$WH" <<'PY'
import sys
from pyiceberg.catalog.sql import SqlCatalog
cat = SqlCatalog("default", uri=sys.argv[1], warehouse=sys.argv[2])
n = cat.load_table("default.public_notes")
f = n.schema().find_field("extra")
assert str(f.field_type) == "long", f
assert f.field_id > max(x.field_id for x in n.schemas()[0].fields), f
assert len(n.schemas()) >= 2, n.schemas()   # both changes may land in one commit
i = cat.load_table("default.public_items").schema()
assert "vc" not in [x.name for x in i.fields], i
PY

note "a type change Iceberg cannot follow stops the agent, slot unmoved"
agent_start
sql "ALTER TABLE notes ALTER COLUMN extra TYPE text"
before=$(sql_su "SELECT pg_current_wal_lsn()")     # the ALTER itself carries no change
sql "INSERT INTO notes VALUES (101, 'x', 'abc')"
agent_wait_exit 60
[ "$AGENT_RC" != 0 ] && ok "the agent stopped (exit $AGENT_RC)" || fail "the agent went on"
expect_contains "the message names table, column and both types" "$(grep -i "extra" "$T/agent.log" | tail -3)" "long"
expect_contains "... string" "$(grep -i "extra" "$T/agent.log" | tail -3)" "string"
expect_eq "the slot did not move past the change (confirmed before its transaction)" \
    "$(sql_su "SELECT confirmed_flush_lsn <= '$before'::pg_lsn FROM pg_replication_slots WHERE slot_name = 'cdc_slot'")" t
done_testing

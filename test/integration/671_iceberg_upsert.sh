#!/usr/bin/env bash
# 671: cdcagent with sink_type iceberg, write_mode upsert, on pyiceberg's SQL catalog in
# PostgreSQL (postgresql://, the test's own server) and a file:// warehouse.  The workload has
# inserts, updates, deletes, NULLs, a primary-key change, several changes to one key in one
# transaction (and across the batches of batch_size 5), a key deleted and inserted again, and
# an unchanged TOAST column in a REPLICA IDENTITY FULL table (taken from the before image) and
# in a default-identity table (read back from the table's current row, also when that row is
# still in the batch being filled, and after a restart).  pyiceberg
# (test/tools/iceberg_sink_check.py) scans every table -- data files minus the position
# deletes -- and it must equal SELECT * of the source, no key twice; no equality deletes.
. "$(dirname "$0")/common.sh"
. "$CDC_SRC/test/lib/iceberg.sh"

iceberg_install || fail "could not install pyiceberg $ICEBERG_VERSION (see above)"
pg_up

WH=file://$T/wh
CAT_URI=$(iceberg_pg_uri "$PORT")

sql "CREATE TABLE items (id int PRIMARY KEY, txt text, n numeric(10,2), ts timestamptz,
       flag boolean, tags text[], u uuid)" \
    "CREATE TABLE docs (id int PRIMARY KEY, big text, n int)" \
    "ALTER TABLE docs REPLICA IDENTITY FULL" \
    "CREATE TABLE docs2 (id int PRIMARY KEY, big text, n int, arr text[])" \
    "INSERT INTO items SELECT g, 'item ' || g, g * 1.25, '2024-05-06 07:08:09+00'::timestamptz + g * interval '1 hour',
       g % 2 = 0, ARRAY['a' || g, NULL], md5(g::text)::uuid FROM generate_series(1, 8) g"

P_TABLES="public.items, public.docs, public.docs2" P_SNAPSHOT=initial write_pipeline
cat >>"$T/pipeline.yaml" <<YAML
  - sink_id: lake
    sink_type: iceberg
    iceberg:
      catalog_uri: "$CAT_URI"
      warehouse: "$WH"
      table_namespace: cdc
      write_mode: upsert
      batch_size: 5
      flush_interval_seconds: 0.5
YAML
write_platform
agent_start

sql "UPDATE items SET txt = 'one', n = NULL WHERE id = 1" \
    "DELETE FROM items WHERE id = 8" \
    "BEGIN; UPDATE items SET n = 1 WHERE id = 3; UPDATE items SET n = 2 WHERE id = 3;
     UPDATE items SET n = 3, flag = NULL WHERE id = 3; UPDATE items SET id = 100 WHERE id = 2;
     DELETE FROM items WHERE id = 4; INSERT INTO items (id, txt) VALUES (4, 'four again');
     INSERT INTO items (id, txt) VALUES (5000, 'new'); UPDATE items SET txt = 'newer' WHERE id = 5000;
     DELETE FROM items WHERE id = 5000; COMMIT" \
    "INSERT INTO items (id, txt, n) SELECT g, 'bulk ' || g, g FROM generate_series(10, 59) g" \
    "UPDATE items SET n = n * 2, tags = ARRAY['x'] WHERE id % 3 = 0" \
    "DELETE FROM items WHERE id BETWEEN 40 AND 45" \
    "UPDATE items SET id = id + 1000 WHERE id BETWEEN 50 AND 52" \
    "INSERT INTO docs SELECT 1, string_agg(md5(g::text), ''), 0 FROM generate_series(1, 400) g" \
    "UPDATE docs SET n = 1 WHERE id = 1" \
    "UPDATE docs SET n = 2 WHERE id = 1" \
    "INSERT INTO docs2 SELECT 1, string_agg(md5(g::text), ''), 0, array_agg(md5((g * 3)::text)) FROM generate_series(1, 2000) g" \
    "UPDATE docs2 SET n = 1 WHERE id = 1" \
    "INSERT INTO docs2 SELECT 2, string_agg(md5((g * 7)::text), ''), 0 FROM generate_series(1, 2000) g" \
    "BEGIN; UPDATE docs2 SET n = 2 WHERE id = 1; UPDATE docs2 SET n = 3 WHERE id = 2; COMMIT" \
    "INSERT INTO docs VALUES (999, 'sentinel', 0)"

for _ in $(seq 150); do grep -q '"sentinel"' "$EVENTS" && break; sleep 0.2; done
grep -q '"sentinel"' "$EVENTS" || fail "the sentinel never reached the jsonl sink"
pgjson items >"$T/items.pg"
pgjson docs >"$T/docs.pg"
pgjson docs2 >"$T/docs2.pg"
for _ in $(seq 100); do
    chk cdc.public_items upsert --pg "$T/items.pg" >/dev/null 2>&1 &&
        chk cdc.public_docs upsert --pg "$T/docs.pg" >/dev/null 2>&1 &&
        chk cdc.public_docs2 upsert --pg "$T/docs2.pg" >/dev/null 2>&1 && break
    sleep 0.3
done
agent_stop

check "items == SELECT * (updates, deletes, key change, collapsed changes)" \
    chk cdc.public_items upsert --pg "$T/items.pg"
check "docs == SELECT * (unchanged TOAST taken from the full before image)" \
    chk cdc.public_docs upsert --pg "$T/docs.pg"
check "docs2 == SELECT * (unchanged TOAST read back from the table)" \
    chk cdc.public_docs2 upsert --pg "$T/docs2.pg"
check "snapshot summaries hold cdc.position and cdc.pipeline" \
    chk cdc.public_items summaries --pipeline "it-$IT_NUM"
check "the table's identifier field is the primary key" "$ICEBERG_PY" - "$CAT_URI" "$WH" <<'PY'
import sys
from pyiceberg.catalog.sql import SqlCatalog
t = SqlCatalog("default", uri=sys.argv[1], warehouse=sys.argv[2]).load_table("cdc.public_items")
s = t.schema()
assert [s.find_field(i).name for i in s.identifier_field_ids] == ["id"], s
PY
check "position deletes only, no equality deletes" "$ICEBERG_PY" - "$CAT_URI" "$WH" <<'PY'
import sys
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.manifest import DataFileContent
t = SqlCatalog("default", uri=sys.argv[1], warehouse=sys.argv[2]).load_table("cdc.public_items")
kinds = {}
for task in t.scan().plan_files():
    for d in task.delete_files:
        kinds[d.content] = kinds.get(d.content, 0) + 1
assert DataFileContent.EQUALITY_DELETES not in kinds, kinds
assert kinds.get(DataFileContent.POSITION_DELETES, 0) > 0, kinds
PY

note "restart: the key index is rebuilt from the table (ice_scan), old rows are updated in place"
agent_start
sql "UPDATE items SET txt = 'after restart' WHERE id IN (1, 3, 100, 10, 1050)" \
    "DELETE FROM items WHERE id IN (4, 11)" \
    "UPDATE items SET id = 7000 WHERE id = 12" \
    "UPDATE docs2 SET n = 5 WHERE id = 1" \
    "INSERT INTO docs VALUES (1000, 'sentinel 2', 0)"
for _ in $(seq 150); do grep -q '"sentinel 2"' "$EVENTS" && break; sleep 0.2; done
pgjson items >"$T/items.pg"
pgjson docs >"$T/docs.pg"
pgjson docs2 >"$T/docs2.pg"
for _ in $(seq 100); do
    chk cdc.public_items upsert --pg "$T/items.pg" >/dev/null 2>&1 &&
        chk cdc.public_docs upsert --pg "$T/docs.pg" >/dev/null 2>&1 &&
        chk cdc.public_docs2 upsert --pg "$T/docs2.pg" >/dev/null 2>&1 && break
    sleep 0.3
done
agent_stop
check "items == SELECT * after the restart (no key twice)" chk cdc.public_items upsert --pg "$T/items.pg"
check "docs2 == SELECT * after the restart (TOAST read from a file the restart found)" \
    chk cdc.public_docs2 upsert --pg "$T/docs2.pg"
check "docs == SELECT * after the restart" chk cdc.public_docs upsert --pg "$T/docs.pg"
expect_contains "the start rebuilt the key index" "$(cat "$T/agent.log")" "key index rebuilt"
done_testing

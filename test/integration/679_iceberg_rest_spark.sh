#!/usr/bin/env bash
# 679: cdcagent's Iceberg sink on a real Iceberg REST catalog server (Apache Iceberg's
# RESTCatalogServer, test/lib/iceberg_rest.sh: a JdbcCatalog on SQLite, kept across restarts)
# with a file:// warehouse, read back by two independent engines: pyiceberg 0.12 (RestCatalog)
# and Spark 3.5 with Iceberg's Java runtime (test/lib/spark.sh, one Spark start for all reads).
# - two iceberg sinks in one pipeline capture the same table: `lake_up` (write_mode upsert,
#   namespace up) and `lake_ap` (append, namespace ap, partitioned by bucket(4, id) and
#   day(tstz));
# - the workload: a snapshot, inserts, updates, deletes, NULLs, a primary-key change, several
#   changes to one key in one transaction, a key deleted and inserted again, over many types:
#   int, bigint, smallint, boolean, real, double, numeric(12,3), numeric (a string in Iceberg),
#   text, varchar, date, timestamp, timestamptz, uuid, bytea, jsonb, int[] and text[] (NaN and
#   -Infinity in the floats, 29 digits in the unconstrained numeric).  No
#   time column: Spark 3.5's Iceberg runtime cannot read a table that has one at all ("Spark
#   does not support time fields", see 690).
# - the sink creates both tables through the server with a commit (assert-create) that keeps
#   its field ids; the table check below asserts them (a CreateTableRequest has the server
#   renumber them, and a list column followed by another column then stopped the sink).
# - the REST server is killed (SIGKILL) in the middle of the load and started again on the
#   same catalog database: meanwhile the agent keeps running, each sink warns and waits, the
#   slot stays before the changes not yet committed; afterwards the tables converge and the
#   slot moves past them.
# - upsert table == SELECT * of the source (test/tools/iceberg_sink_check.py, pyiceberg), no
#   key twice; append table == every change of the jsonl sink once, last image per key ==
#   SELECT *; Spark's rows (test/tools/spark_read.py) == pyiceberg's rows
#   (test/tools/iceberg_read.py) byte for byte, for both tables.
. "$(dirname "$0")/common.sh"
. "$CDC_SRC/test/lib/spark.sh"
. "$CDC_SRC/test/lib/iceberg_rest.sh"

spark_install || fail "could not install pyspark / the Iceberg Spark runtime (see above)"
icerest_install || fail "could not install Iceberg's REST catalog server (see above)"
RT=$T/rest
trap '_rc=$?; icerest_kill "$RT" >/dev/null 2>&1; set +e; (exit $_rc); _cleanup' EXIT
RPORT=$(free_port)
# CATALOG_CLIENTS=1: the server's JdbcCatalog keeps one SQLite connection (its "clients", 2 by
# default).  With two, the two sinks' commits after the restart left SQLite locked for good:
# every commit answered 500 UncheckedSQLException ([SQLITE_BUSY] database is locked) and the
# agent waited forever -- the fixture's limit (SQLite with a pool), not the sink's.
CATALOG_CLIENTS=1 icerest_start "$RT" "$RPORT" || fail "the REST catalog server did not start"
note "REST catalog server at $ICEREST_URL"
pg_up

CAT_URI=$ICEREST_URL
WH=file://$RT/warehouse
# changes of the items table in the jsonl sink (a tombstone's metadata says "op":"T")
changes() { grep '"topic":"cdc.public.items"' "$EVENTS" | grep -vc '"op":"T"}}$' || true; }

sql "CREATE TABLE items (id int PRIMARY KEY, b boolean, i2 smallint, i8 bigint, r real,
       d double precision, n numeric(12,3), nv numeric, txt text, vc varchar(20), dt date,
       ts timestamp, tstz timestamptz, u uuid, by bytea, j jsonb, arr int[], tarr text[])" \
    "INSERT INTO items SELECT g, g % 2 = 0, g - 50, g * 100000000000, g / 8.0, g * 1.1,
       g * 1.125, g / 7.0, 'item ' || g || ' é', 'v' || g, '2024-02-29'::date + g,
       '2024-01-02 03:04:05.123456'::timestamp + g * interval '1 day 1 microsecond',
       '1969-12-31 23:00:00+00'::timestamptz + g * interval '77 minutes',
       md5(g::text)::uuid, decode(md5(g::text), 'hex'), jsonb_build_object('g', g, 'a', ARRAY[g, 1]),
       ARRAY[g, NULL, -g], ARRAY['a' || g, NULL, '']
     FROM generate_series(1, 12) g" \
    "INSERT INTO items (id) VALUES (13)"

P_TABLES="public.items" P_SNAPSHOT=initial write_pipeline
for mode in up ap; do
    cat >>"$T/pipeline.yaml" <<YAML
  - sink_id: lake_$mode
    sink_type: iceberg
    iceberg:
      catalog_uri: "$CAT_URI"
      warehouse: "$WH"
      table_namespace: $mode
      write_mode: $([ $mode = up ] && echo upsert || echo append)
      batch_size: 7
      flush_interval_seconds: 0.3
YAML
    if [ $mode = ap ]; then
        echo '      partition_by: ["bucket(4, id)", "day(tstz)"]' >>"$T/pipeline.yaml"
    fi
done
PLATFORM_EXTRA="retry:
  initial_wait_seconds: 0.3
  max_wait_seconds: 1" write_platform
agent_start

sql "UPDATE items SET txt = 'one', n = NULL, arr = NULL WHERE id = 1" \
    "DELETE FROM items WHERE id = 12" \
    "BEGIN; UPDATE items SET n = 1 WHERE id = 3; UPDATE items SET n = 2.5 WHERE id = 3;
     UPDATE items SET n = 3, b = NULL, tstz = '2000-01-01 00:00:00.000001+00' WHERE id = 3;
     UPDATE items SET id = 100 WHERE id = 2;
     DELETE FROM items WHERE id = 4; INSERT INTO items (id, txt) VALUES (4, 'four again');
     INSERT INTO items (id, txt) VALUES (5000, 'new'); UPDATE items SET txt = 'newer' WHERE id = 5000;
     DELETE FROM items WHERE id = 5000; COMMIT" \
    "INSERT INTO items (id, txt, n, by, u) SELECT g, 'bulk ' || g, g, '\\x00ff', NULL
     FROM generate_series(20, 49) g" \
    "UPDATE items SET i8 = -id, tarr = ARRAY['x', id::text] WHERE id % 3 = 0"

# first part committed by both sinks, then the REST server goes away
pgjson items >"$T/items.pg"
for _ in $(seq 150); do
    chk up.public_items upsert --pg "$T/items.pg" >/dev/null 2>&1 && break
    sleep 0.2
done
check "upsert table == SELECT * before the REST server's restart" \
    chk up.public_items upsert --pg "$T/items.pg"
n1=$(changes)
for _ in $(seq 150); do [ "$(chk ap.public_items count)" = "$n1" ] && break; sleep 0.2; done
expect_eq "append table holds the $n1 changes before the restart" "$(chk ap.public_items count)" "$n1"

log0=$(($(wc -l <"$T/agent.log") + 1))
{ icerest_kill "$RT"; } 2>/dev/null   # (no "Killed" line from the shell)
note "REST catalog server killed (SIGKILL)"
lsn=$(sql_su "SELECT pg_current_wal_lsn()")
# slot_vs OP: whether the slot's confirmed_flush_lsn OP $lsn
slot_vs() { slot_field cdc_slot "confirmed_flush_lsn $1 '$lsn'::pg_lsn"; }
sql "UPDATE items SET txt = 'while down', dt = NULL WHERE id BETWEEN 20 AND 29" \
    "DELETE FROM items WHERE id BETWEEN 40 AND 44" \
    "UPDATE items SET id = id + 1000 WHERE id IN (45, 46)" \
    "BEGIN; UPDATE items SET r = 'NaN', d = '-Infinity' WHERE id = 5; UPDATE items SET r = -0.5 WHERE id = 5;
     INSERT INTO items (id, nv, j) VALUES (60, 12345678901234567890.123456789, '[1, \"x\", null]'); COMMIT"
for _ in $(seq 50); do grep -q '"id":60' "$EVENTS" && break; sleep 0.2; done
# both sinks' commits fail (each after the REST client's own retries) and are tried again
waits() {
    tail -n "+$log0" "$T/agent.log" | grep -c "iceberg sink 'lake_$1'.*(attempt 1, again in" || true
}
for _ in $(seq 300); do [ "$(waits up)" -ge 1 ] && [ "$(waits ap)" -ge 1 ] && break; sleep 0.2; done
expect_eq "both sinks wait for the catalog (a warning each)" "$(waits up) $(waits ap)" "1 1"
agent_alive || fail "the agent exited while the REST server was down"
expect_eq "the slot stays before the changes made while the REST server is down" \
    "$(slot_vs '<=')" t

CATALOG_CLIENTS=1 icerest_start "$RT" "$RPORT" || fail "the REST catalog server did not start again"
note "REST catalog server back"
sql "UPDATE items SET txt = 'after', vc = NULL WHERE id IN (1, 3, 100, 1045)" \
    "INSERT INTO items (id, txt) VALUES (999, 'sentinel')"
for _ in $(seq 150); do grep -q '"sentinel"' "$EVENTS" && break; sleep 0.2; done
grep -q '"sentinel"' "$EVENTS" || fail "the sentinel never reached the jsonl sink"
pgjson items >"$T/items.pg"
n=$(changes)
for _ in $(seq 150); do
    chk up.public_items upsert --pg "$T/items.pg" >/dev/null 2>&1 &&
        [ "$(chk ap.public_items count)" = "$n" ] && break
    sleep 0.2
done
agent_stop
expect_eq "the slot moved past everything once committed" \
    "$(slot_vs '>')" t

check "upsert table == SELECT * (updates, deletes, key changes, collapsed changes, NULLs)" \
    chk up.public_items upsert --pg "$T/items.pg"
check "append table: each of the $n changes once, last image per key == SELECT *" \
    chk ap.public_items append --events "$EVENTS" --topic cdc.public.items --pg "$T/items.pg"
check "upsert snapshots' summaries hold cdc.position, never going back" \
    chk up.public_items summaries --pipeline "it-$IT_NUM"
check "append snapshots' summaries hold cdc.position, never going back" \
    chk ap.public_items summaries --pipeline "it-$IT_NUM"

check "the tables as the REST server keeps them: our field ids (one schema), partition spec, \
key = id, no equality deletes" \
    "$ICEBERG_PY" - "$CAT_URI" <<'PY'
import sys
from pyiceberg.catalog.rest import RestCatalog
from pyiceberg.manifest import DataFileContent
cat = RestCatalog("lake", uri=sys.argv[1])
for name in ("up.public_items", "ap.public_items"):
    t = cat.load_table(name)
    md = t.metadata
    assert md.format_version == 2 and len(md.schemas) == 1, (name, md.format_version, md.schemas)
    s = t.schema()
    # the sink numbers a list's element right after its column (a CreateTableRequest would
    # have had the server number every column first)
    assert s.find_field("arr").field_id + 1 == s.find_field("arr").field_type.element_id, s
    assert s.find_field("tarr").field_id == s.find_field("arr").field_id + 2, s
    if name.startswith("ap."):   # created with its partition spec in the same commit
        assert [str(f.transform) for f in t.spec().fields] == ["bucket[4]", "day"], t.spec()
        assert len({task.file.partition for task in t.scan().plan_files()}) > 4, "partitions"
    if name.startswith("up."):
        assert [s.find_field(i).name for i in s.identifier_field_ids] == ["id"], s
        kinds = {d.content for task in t.scan().plan_files() for d in task.delete_files}
        assert DataFileContent.EQUALITY_DELETES not in kinds, kinds
        assert DataFileContent.POSITION_DELETES in kinds, kinds
PY

# pyiceberg and Spark, each on its own, through the REST server
mkdir -p "$T/py"
# sorted by the key (upsert) and by the change's position (append: sorting by every column
# would not be a total order, a NaN never compares)
iceberg_read --uri "$CAT_URI" --warehouse "$WH" rows up.public_items >"$T/py/up.public_items" ||
    fail "pyiceberg could not read up.public_items"
iceberg_read --uri "$CAT_URI" --warehouse "$WH" rows ap.public_items --key _cdc_lsn,_cdc_offset \
    >"$T/py/ap.public_items" || fail "pyiceberg could not read ap.public_items"
t1=$(date +%s)
spark_read --uri "$CAT_URI" --warehouse "$WH" --catalog lake steps "$T/spark" \
    rows:up.public_items rows:ap.public_items:_cdc_lsn,_cdc_offset \
    "save:count_up:SELECT count(*) AS n FROM lake.up.public_items" \
    "save:ap_5:SELECT count(*) AS n FROM lake.ap.public_items WHERE id = 5" \
    "save:ap_day:SELECT count(*) AS n FROM lake.ap.public_items WHERE tstz >= '2000-01-01' AND tstz < '2000-01-02'" \
    2>"$T/spark.err" ||
    { tail -n 20 "$T/spark.err" | sed 's/^/# /'; fail "Spark could not read the tables"; }
note "one Spark session read both tables in $(($(date +%s) - t1)) s"
expect_eq "pyiceberg reads $(wc -l <"$T/items.pg") rows in the upsert table" \
    "$(wc -l <"$T/py/up.public_items")" "$(wc -l <"$T/items.pg")"
expect_eq "Spark counts them too" "$(cat "$T/spark/count_up")" "{\"n\": $(wc -l <"$T/items.pg")}"
# filtered reads, which Spark plans with the partition values and bounds in our manifests
expect_eq "Spark finds id 5's changes in the append table (a filter on the bucket source)" \
    "$(cat "$T/spark/ap_5")" \
    "{\"n\": $(grep -c '"id": 5,' "$T/py/ap.public_items")}"
expect_eq "... and the changes of 2000-01-01 (a filter on the day source)" "$(cat "$T/spark/ap_day")" \
    "{\"n\": $(grep -c '"tstz": "2000-01-01T' "$T/py/ap.public_items")}"
for t in up.public_items ap.public_items; do
    expect_eq "Spark read $t" "$(cat "$T/spark/$t.rc")" 0
    if diff "$T/py/$t" "$T/spark/$t" >"$T/diff"; then
        ok "$t: Spark's rows == pyiceberg's rows, byte for byte ($(wc -l <"$T/py/$t") rows)"
    else
        sed 's/^/# /' "$T/diff" | head -n 20
        fail "$t: Spark's rows differ from pyiceberg's"
    fi
done
expect_contains "the log says the tables were created" "$(cat "$T/agent.log")" \
    "created Iceberg table up.public_items"
if grep -q "secret\|Bearer" "$T/agent.log"; then fail "a secret or token in the agent's log"; fi
done_testing

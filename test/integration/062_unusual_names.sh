#!/usr/bin/env bash
# 062: tables with unusual but legal names (issue 17): a schema and a table with spaces, a dot
# and a double quote in a name, non-ASCII letters, mixed case - written in source.tables either
# as they are or SQL-quoted.  validate accepts them, the publication and the catalog find them,
# the snapshot and the stream carry their real names, topics follow Debezium's sanitising
# ([A-Za-z0-9._-], anything else '_'), and a restart goes on where it stopped.
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"

pg_up
sql 'CREATE SCHEMA "my schema"' \
    'CREATE TABLE "my schema"."my table" (id int PRIMARY KEY, v text)' \
    'CREATE TABLE "my schema"."second table" (id int PRIMARY KEY, v text)' \
    'CREATE TABLE public."my.table" (id int PRIMARY KEY, v text)' \
    'CREATE TABLE public."quo""te" (id int PRIMARY KEY, v text)' \
    'CREATE SCHEMA "ünï"' \
    'CREATE TABLE "ünï"."tåble" (id int PRIMARY KEY, v text)' \
    'CREATE TABLE public."MixedCase" (id int PRIMARY KEY, v text)' \
    'CREATE TABLE public.mixedcase (id int PRIMARY KEY, v text)'
for t in '"my schema"."my table"' '"my schema"."second table"' 'public."my.table"' \
         'public."quo""te"' '"ünï"."tåble"' 'public."MixedCase"' 'public.mixedcase'; do
    sql "INSERT INTO $t VALUES (1, 'snap')"
done

# Quoted and plain spellings; public.MixedCase is the table "MixedCase" (case kept, not folded),
# public.mixedcase (not listed) must not be captured.
P_TABLES="'\"my schema\".\"my table\"', my schema.second table, 'public.\"my.table\"', 'public.\"quo\"\"te\"', ünï.tåble, public.MixedCase" \
    P_SNAPSHOT=initial write_pipeline
write_platform
cdc validate "$T/pipeline.yaml" --platform-config "$T/platform.yaml"
expect_eq "validate accepts every spelling" "$CDC_RC" 0
expect_contains "validate counts 6 tables" "$(cat "$T/cdc.out")" "6 tables"

agent_start
wait_lines "$EVENTS" 6 60
expect_eq "the publication publishes the six tables" \
    "$(sql_su "SELECT string_agg(schemaname || '|' || tablename, ',' ORDER BY schemaname, tablename)
                 FROM pg_publication_tables WHERE pubname = 'cdc_publication'")" \
    'my schema|my table,my schema|second table,public|MixedCase,public|my.table,public|quo"te,ünï|tåble'
for t in '"my schema"."my table"' '"my schema"."second table"' 'public."my.table"' \
         'public."quo""te"' '"ünï"."tåble"' 'public."MixedCase"' 'public.mixedcase'; do
    sql "INSERT INTO $t VALUES (2, 'stream')" "UPDATE $t SET v = 'upd' WHERE id = 1" \
        "DELETE FROM $t WHERE id = 2"
done
# 6 snapshot rows + 6 x (c, u, d, tombstone)
wait_lines "$EVENTS" 30 60
sleep 1
agent_stop

F=$EVENTS
expect_eq "30 events" "$(line_count "$F")" 30
NAMES='[("my schema", "my table"), ("my schema", "second table"), ("public", "my.table"), ("public", "quo\"te"), ("ünï", "tåble"), ("public", "MixedCase")]'
jl_check "snapshot: one row of each table, named as in the catalog" "$F" \
    "sorted((get(e, 'value.source.schema'), get(e, 'value.source.table')) for e in data if get(e, 'value.op') == 'r') == sorted($NAMES)"
jl_check "stream: c u d of each table, named as in the catalog" "$F" \
    "sorted((get(e, 'value.source.schema'), get(e, 'value.source.table'), get(e, 'value.op')) for e in data if get(e, 'value.op') != 'r') == sorted((s, t, op) for s, t in $NAMES for op in 'cud')"
jl_check "public.mixedcase (not listed) is not captured" "$F" \
    "all(get(e, 'value.source.table') != 'mixedcase' for e in data)"
jl_check "topics as Debezium sanitises them" "$F" \
    "sorted(set(get(e, 'metadata.topic') for e in evs)) == sorted(['cdc.my_schema.my_table', 'cdc.my_schema.second_table', 'cdc.public.my.table', 'cdc.public.quo_te', 'cdc._n_.t_ble', 'cdc.public.MixedCase'])"

# Restart: no new snapshot, streaming goes on for every table.
agent_start
for t in '"my schema"."my table"' 'public."quo""te"' '"ünï"."tåble"'; do
    sql "INSERT INTO $t VALUES (3, 'after restart')"
done
wait_lines "$EVENTS" 33 60
sleep 1
agent_stop
expect_eq "after the restart: three more events, no second snapshot" "$(line_count "$F")" 33
jl_check "the inserts after the restart carry their tables' names" "$F" \
    "sorted(get(e, 'value.source.table') for e in evs[-3:]) == sorted(['my table', 'quo\"te', 'tåble'])"

# slot status reads the publication's tables with these names too.
cdc slot status "$T/pipeline.yaml" --platform-config "$T/platform.yaml" --json
check "slot status runs (exit $CDC_RC: 0, or 3 for warnings)" [ "$CDC_RC" -eq 0 -o "$CDC_RC" -eq 3 ]
expect_contains "slot status lists a table with a quote in its name" "$(cat "$T/cdc.out")" 'quo\"te'

# verify reads the same tables from the source and from the file, each by its real name; a
# table named on the command line in another spelling is the same table.
cdc verify "$T/pipeline.yaml" --platform-config "$T/platform.yaml" --sink local
expect_eq "verify: every table equal in the file and the source ($(head -c 300 "$T/cdc.err"))" "$CDC_RC" 0
cdc verify "$T/pipeline.yaml" --platform-config "$T/platform.yaml" --sink local \
    --table 'my schema."second table"' --table '"public"."my.table"'
expect_eq "verify --table in another spelling ($(head -c 300 "$T/cdc.err"))" "$CDC_RC" 0

done_testing

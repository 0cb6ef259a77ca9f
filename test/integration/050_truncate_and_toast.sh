#!/usr/bin/env bash
# 050: an unchanged TOASTed value (> 8 KB, stored out of line) in an update comes out as
# "__debezium_unavailable_value" under REPLICA IDENTITY DEFAULT, and as the real value under
# FULL (taken from the old row); TRUNCATE gives an op t event when skipped_operations is "".
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"

pg_up
# EXTERNAL: out of line and never compressed; md5 hex chained is incompressible anyway.
sql "CREATE TABLE docs (id int PRIMARY KEY, body text, note text)" \
    "ALTER TABLE docs ALTER COLUMN body SET STORAGE EXTERNAL" \
    "CREATE TABLE other (id int PRIMARY KEY)"

P_TABLES="public.docs, public.other" P_SNAPSHOT=never P_SOURCE_EXTRA='skipped_operations: none' \
    write_pipeline
write_platform
agent_start

sql "INSERT INTO docs
     SELECT 1, string_agg(md5(i::text || random()::text), '' ORDER BY i), 'v1'
       FROM generate_series(1, 400) i"
BODY_MD5=$(sql "SELECT md5(body) FROM docs WHERE id = 1")
BODY_LEN=$(sql "SELECT length(body) FROM docs WHERE id = 1")
EXT=$(sql "SELECT pg_column_size(body) FROM docs WHERE id = 1")
note "body: $BODY_LEN chars, $EXT bytes stored, toast table $(sql "SELECT reltoastrelid::regclass FROM pg_class WHERE relname = 'docs'")"
sql "UPDATE docs SET note = 'v2' WHERE id = 1"
sql "ALTER TABLE docs REPLICA IDENTITY FULL"
sql "UPDATE docs SET note = 'v3' WHERE id = 1"
sql "INSERT INTO other VALUES (1)"
sql "TRUNCATE docs"
sql "INSERT INTO other VALUES (2)"
wait_lines "$EVENTS" 6 60
sleep 1
agent_stop

F=$EVENTS
note "events: $(jl_ops "$F")"
expect_eq "ops: c u u c t c" "$(jl_ops "$F")" "c u u c t c"
expect_eq "body is 12800 chars" "$BODY_LEN" 12800
jl_check "insert carries the whole body" "$F" \
    "__import__('hashlib').md5(get(data[0], 'value.after.body').encode()).hexdigest() == '$BODY_MD5'"
jl_check "update (identity DEFAULT): unchanged TOAST body is the placeholder" "$F" \
    'get(data[1], "value.after") == {"id": 1, "body": "__debezium_unavailable_value", "note": "v2"}'
jl_check "update (identity FULL): unchanged TOAST body comes from the old row" "$F" \
    "__import__('hashlib').md5(get(data[2], 'value.after.body').encode()).hexdigest() == '$BODY_MD5' and get(data[2], 'value.after.note') == 'v3'"
jl_check "update (identity FULL): before has the whole old row" "$F" \
    "__import__('hashlib').md5(get(data[2], 'value.before.body').encode()).hexdigest() == '$BODY_MD5' and get(data[2], 'value.before.note') == 'v2'"
jl_check "truncate: op t on cdc.public.docs, key null, before and after null" "$F" \
    'data[4]["key"] is None and get(data[4], "metadata.topic") == "cdc.public.docs" and get(data[4], "value.before") is None and get(data[4], "value.after") is None'
jl_check "truncate: source names the table and has txId and lsn" "$F" \
    'get(data[4], "value.source.table") == "docs" and get(data[4], "value.source.schema") == "public" and get(data[4], "value.source.txId") > 0 and get(data[4], "value.source.lsn") > 0'
jl_check "events around the truncate in order" "$F" \
    'data[3]["key"] == {"id": 1} and data[5]["key"] == {"id": 2}'

done_testing

#!/usr/bin/env bash
# 111: a SQL_ASCII database (createdb -E SQL_ASCII -T template0 -l C) stores whatever bytes a
# client sends, and pgoutput and COPY pass them on unconverted.  A table has two columns whose
# names differ only in a byte that is not UTF-8 (0xE9 and 0xE8, Latin-1 é and è) and text
# values holding such bytes, in the snapshot and streamed.  Expected (docs/debezium-compat.md,
# "Text that is not UTF-8"):
#   - every line of the jsonl sink is valid UTF-8 JSON with no duplicate key: the two names
#     are written "caf\\xE9" and "caf\\xE8" (the bytes as \xNN text), values with U+FFFD;
#   - one warning per table and column (not per row), one per invalid column name;
#   - /metrics counts the invalid values: cdcagent_invalid_utf8_values_total{table=...}.
# Part 1b: a REPLICA IDENTITY FULL update counts an unchanged invalid value once; warnings
# and labels keep valid non-ASCII text.
# Part 2: a LATIN1 database, which the agent reads converted to UTF8: no U+FFFD, no warning.
# Part 3: a UTF8 database with PGCLIENTENCODING=LATIN1 in the agent's environment: the same.
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"

pg_up
pg_psql "$PORT" postgres \
    "CREATE DATABASE cdc_ascii OWNER cdc_user ENCODING 'SQL_ASCII' TEMPLATE template0 LC_COLLATE 'C' LC_CTYPE 'C'"
expect_eq "the database's encoding" "$(pg_psql "$PORT" cdc_ascii "SHOW server_encoding")" SQL_ASCII

# Raw bytes reach the server only from a client that does not convert them: SQL in files,
# psql with client_encoding SQL_ASCII.
asql() {  # asql FILE: runs the SQL file in cdc_ascii as cdc_user
    PGCLIENTENCODING=SQL_ASCII PGPASSWORD=cdc_password "$PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 \
        -h 127.0.0.1 -p "$PORT" -U cdc_user -d cdc_ascii -f "$1"
}
printf 'CREATE TABLE t (id int PRIMARY KEY, "caf\xe9" text, "caf\xe8" text, ok text, arr text[]);\n' >"$T/ddl.sql"
printf "INSERT INTO t VALUES (1, 'a\xffb', 'caf\xe9', 'plain', '{\"x\xfey\",ok}'), (2, 'fine', NULL, 'fine', NULL);\n" >"$T/snap.sql"
asql "$T/ddl.sql"
asql "$T/snap.sql"

HPORT=$(free_port)
P_TABLES=public.t write_pipeline
sed -i 's/^  database: cdc_demo$/  database: cdc_ascii/' "$T/pipeline.yaml"
grep -q '^  database: cdc_ascii$' "$T/pipeline.yaml" || fail "could not point the pipeline at cdc_ascii"
PLATFORM_EXTRA="health_port: $HPORT" write_platform
sed -i 's/^health_enabled: false$/health_enabled: true/' "$T/platform.yaml"
agent_start

# Streamed: two more rows with invalid bytes in both name-twin columns, and an update.
printf "INSERT INTO t VALUES (3, 'x\xe9', 'y\xe8', 'plain', NULL);\nUPDATE t SET ok = 'changed', \"caf\xe8\" = 'z\xfa' WHERE id = 2;\nINSERT INTO t VALUES (4, 'last', 'last', 'last', NULL);\n" >"$T/stream.sql"
asql "$T/stream.sql"
wait_lines "$EVENTS" 5 30 || fail "expected 5 events (2 snapshot rows, 2 inserts, 1 update)"

# Every line: UTF-8, JSON, no object with a key twice.
python3 - "$EVENTS" >"$T/check.out" 2>&1 <<'PY' || { sed 's/^/# /' "$T/check.out"; fail "the jsonl lines"; }
import json, sys
dups = []
def pairs(kv):
    keys = [k for k, _ in kv]
    if len(keys) != len(set(keys)):
        dups.append(keys)
    return dict(kv)
rows = {}
for raw in open(sys.argv[1], "rb"):
    e = json.loads(raw.decode("utf-8"), object_pairs_hook=pairs)   # strict UTF-8
    if e["value"] and e["value"]["after"]:
        rows[e["value"]["after"]["id"]] = e["value"]["after"]
assert not dups, "duplicate keys: %r" % dups
after = rows[1]
assert set(after) == {"id", "caf\\xE9", "caf\\xE8", "ok", "arr"}, sorted(after)
assert after["caf\\xE9"] == "a\ufffdb", repr(after["caf\\xE9"])
assert after["caf\\xE8"] == "caf\ufffd", repr(after["caf\\xE8"])
assert after["arr"] == ["x\ufffdy", "ok"], repr(after["arr"])
assert rows[3]["caf\\xE9"] == "x\ufffd" and rows[3]["caf\\xE8"] == "y\ufffd", repr(rows[3])
assert rows[2]["caf\\xE8"] == "z\ufffd" and rows[2]["ok"] == "changed", repr(rows[2])
print("ok")
PY
ok "every line is UTF-8 JSON without a duplicate key; the names are caf\\xE9 and caf\\xE8, the values carry U+FFFD"

# Warnings: the encoding once, each invalid name once, each column with invalid values once.
log=$T/agent.log
expect_eq "one warning about the database's encoding" "$(grep -c 'encoding is SQL_ASCII, not UTF8' "$log")" 1
expect_eq "one warning per invalid column name (2 names)" "$(grep -c 'column name .*is not valid UTF-8' "$log")" 2
# (the JSON log escapes the backslash of \xNN: caf\\xE9 in the file)
for c in 'caf\\xE9' 'caf\\xE8' arr; do
    expect_eq "one warning for the values of column $c, whatever the number of rows" \
        "$(grep -cF "column $c holds text that is not valid UTF-8" "$log")" 1
done
expect_eq "no warning for the clean column ok" "$(grep -c 'column ok holds text' "$log" || true)" 0

# /metrics: 1 snapshot row with 3 invalid values, row 3 with 2, the update of row 2 with 1.
metric=$(curl -s -m 5 "http://127.0.0.1:$HPORT/metrics" | grep '^cdcagent_invalid_utf8_values_total' || true)
expect_eq "/metrics counts the invalid values of public.t" "$metric" \
    'cdcagent_invalid_utf8_values_total{table="public.t"} 6'
agent_stop

# Part 1b: a REPLICA IDENTITY FULL table whose column name is valid UTF-8 (naïve) and whose
# value is not.  An update that leaves that value as it is carries it in the old and the new
# row: one event, counted once (before: twice).  The warning and the metric label show valid
# non-ASCII text as it is (before: na\xC3\xAFve) and only the invalid bytes as \xNN.
printf 'CREATE TABLE "t\xc3\xa9" (id int PRIMARY KEY, "na\xc3\xafve" text, n int);\nALTER TABLE "t\xc3\xa9" REPLICA IDENTITY FULL;\n' >"$T/ddl2.sql"
asql "$T/ddl2.sql"
EVENTS=$T/full.jsonl
: >"$EVENTS"
HPORT=$(free_port)
P_TABLES='public.té' P_SLOT=full_slot P_PUB=full_pub write_pipeline
sed -i 's/^  database: cdc_demo$/  database: cdc_ascii/' "$T/pipeline.yaml"
PLATFORM_EXTRA="health_port: $HPORT" write_platform
sed -i 's/^health_enabled: false$/health_enabled: true/' "$T/platform.yaml"
: >"$T/agent.log"
P_SLOT=full_slot agent_start
printf 'INSERT INTO "t\xc3\xa9" VALUES (1, '"'"'bad\xff'"'"', 0);\nUPDATE "t\xc3\xa9" SET n = 1;\n' >"$T/full.sql"
asql "$T/full.sql"
wait_lines "$EVENTS" 2 30
jl_check "identity FULL: the update carries the value in before and after" "$EVENTS" \
    '[((e["value"]["before"] or {}).get("na\u00efve"), e["value"]["after"]["na\u00efve"]) for e in data] == [(None, "bad\ufffd"), ("bad\ufffd", "bad\ufffd")]'
metric=$(curl -s -m 5 "http://127.0.0.1:$HPORT/metrics" | grep '^cdcagent_invalid_utf8_values_total' || true)
expect_eq "/metrics: the insert and the update, one each (not 3: the old row counted too)" "$metric" \
    'cdcagent_invalid_utf8_values_total{table="public.té"} 2'
expect_eq "the warning names the column as it is (naïve), once" \
    "$(grep -c 'table public.té: column naïve holds text that is not valid UTF-8' "$T/agent.log")" 1
agent_stop

# Part 2, the same cause in another encoding: a LATIN1 database holds é as the byte 0xE9.
# The agent asks the server to convert to UTF8 (agent_pg_connect), so names and values
# arrive as UTF-8 (before: U+FFFD in their place, silently), and nothing is warned or counted.
pg_psql "$PORT" postgres \
    "CREATE DATABASE cdc_latin1 OWNER cdc_user ENCODING 'LATIN1' TEMPLATE template0 LC_COLLATE 'C' LC_CTYPE 'C'"
lsql() {
    PGCLIENTENCODING=LATIN1 PGPASSWORD=cdc_password "$PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 \
        -h 127.0.0.1 -p "$PORT" -U cdc_user -d cdc_latin1 -f "$1"
}
printf 'CREATE TABLE l (id int PRIMARY KEY, "caf\xe9" text);\nINSERT INTO l VALUES (1, '"'"'d\xe9j\xe0'"'"');\n' >"$T/l1.sql"
lsql "$T/l1.sql"
EVENTS=$T/latin1.jsonl
: >"$EVENTS"
P_TABLES=public.l P_SLOT=latin1_slot P_PUB=latin1_pub write_pipeline
sed -i 's/^  database: cdc_demo$/  database: cdc_latin1/' "$T/pipeline.yaml"
: >"$T/agent.log"
P_SLOT=latin1_slot agent_start
printf 'INSERT INTO l VALUES (2, '"'"'\xe7a'"'"');\n' >"$T/l2.sql"
lsql "$T/l2.sql"
wait_lines "$EVENTS" 2 30
jl_check "LATIN1: names and values arrive as UTF-8 (snapshot and stream)" "$EVENTS" \
    '[get(e, "value.after") for e in data] == [{"id": 1, "caf\u00e9": "d\u00e9j\u00e0"}, {"id": 2, "caf\u00e9": "\u00e7a"}]'
expect_eq "LATIN1: no warning about text that is not UTF-8" "$(grep -c 'not valid UTF-8\|not UTF8' "$T/agent.log" || true)" 0
agent_stop

# Part 3: a UTF8 database read by an agent whose environment says PGCLIENTENCODING=LATIN1.
# The agent asks for UTF8 whatever the client encoding is (before, only for a database not
# in UTF8: the server converted to LATIN1 and 'café' reached the JSON as caf\ufffd, warned
# as text that is not UTF-8).
sql "CREATE TABLE u (id int PRIMARY KEY, name text)" "INSERT INTO u VALUES (1, 'café')"
EVENTS=$T/utf8.jsonl
: >"$EVENTS"
P_TABLES=public.u P_SLOT=utf8_slot P_PUB=utf8_pub write_pipeline
: >"$T/agent.log"
PGCLIENTENCODING=LATIN1 P_SLOT=utf8_slot agent_start
sql "INSERT INTO u VALUES (2, 'déjà')"
wait_lines "$EVENTS" 2 30
jl_check "PGCLIENTENCODING=LATIN1: values arrive as UTF-8 (snapshot and stream)" "$EVENTS" \
    '[get(e, "value.after") for e in data] == [{"id": 1, "name": "caf\u00e9"}, {"id": 2, "name": "d\u00e9j\u00e0"}]'
expect_eq "PGCLIENTENCODING=LATIN1: no warning about text that is not UTF-8" "$(grep -c 'not valid UTF-8\|not UTF8' "$T/agent.log" || true)" 0
agent_stop
done_testing

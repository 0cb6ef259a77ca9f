#!/usr/bin/env bash
# 930: cdcagent verify.  One agent run feeds two sinks from the same source: a JSON-lines
# file and a PostgreSQL replica in a second, real PostgreSQL 15 (the target).  The source
# has a table with many types (int, numeric with and without scale, text, timestamptz,
# bytea, jsonb, a NULL, text[], a TOASTed text that an update leaves unchanged) and a table
# without a key.  After snapshot rows and streamed c/u/d, both sinks must verify equal
# (exit 0, --wait while the agent is still running).  Then each destination is tampered
# with in known ways, and verify must exit 4 and name exactly those keys and rows, in the
# text output and in --json (parsed by Python), whatever the number of ranges.
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"

TGT=$T/tgt
trap 'rc=$?; set +e; pg_cleanup "$TGT"; (exit $rc); _cleanup' EXIT
pg_up
TPORT=$(free_port)
pg_start "$TGT" "$TPORT" >/dev/null || fail "target PostgreSQL did not start"
tsql() { pg_psql "$TPORT" cdc_demo "$@"; }

# ---------------------------------------------------------------- source, agent
sql "CREATE TABLE items (id int PRIMARY KEY, amount numeric(12,3), ratio numeric,
       name text, ts timestamptz, data bytea, doc jsonb, tags text[], note text, big text)" \
    "CREATE TABLE nopk (a int, b text)" \
    "CREATE TABLE pairs (region text, n int, v text, PRIMARY KEY (region, n))" \
    "ALTER TABLE nopk REPLICA IDENTITY FULL"
BIG="(SELECT string_agg(md5(g::text), '') FROM generate_series(1, 400) g)"
# snapshot rows: ids 1..6
sql "INSERT INTO items SELECT i, i * 1.125, i / 7.0, 'name ' || i,
       '2024-03-01 12:00:00.123456+02'::timestamptz + i * interval '1 day',
       decode(md5(i::text), 'hex'), jsonb_build_object('i', i, 'arr', jsonb_build_array(i, 'x')),
       ARRAY['a' || i, NULL, 'c'], NULL, $BIG FROM generate_series(1, 6) i" \
    "INSERT INTO nopk VALUES (1, 'one'), (2, 'two'), (2, 'two')" \
    "INSERT INTO pairs SELECT r, n, r || n FROM unnest(ARRAY['a', 'B', 'b', 'ä']) r,
       generate_series(1, 3) n"

P_TABLES="public.items, public.nopk, public.pairs" write_pipeline
PL_HEAD=$(sed '/^sinks:/,$d' "$T/pipeline.yaml")
cat >"$T/pipeline.yaml" <<YAML
$PL_HEAD
sinks:
  - sink_id: file
    sink_type: jsonl
    jsonl:
      path: "$EVENTS"
  - sink_id: mirror
    sink_type: postgres
    postgres:
      host: 127.0.0.1
      port: $TPORT
      database: cdc_demo
      username: postgres
      mode: replica
      batch_size: 10
YAML
write_platform
agent_start
# streamed: inserts 7..12, updates (one leaves the TOASTed column unchanged), a delete
sql "INSERT INTO items SELECT i, -i * 0.5, NULL, 'new ' || i, now(), '\\x00ff'::bytea,
       '{\"k\": [1, 2.5, null]}', '{}', NULL, 'short' FROM generate_series(7, 12) i" \
    "UPDATE items SET name = 'renamed', amount = 99.999 WHERE id = 2" \
    "UPDATE items SET note = 'now set', tags = ARRAY['z'] WHERE id = 4" \
    "UPDATE items SET name = 'seven b' WHERE id = 7" \
    "DELETE FROM items WHERE id = 6" \
    "INSERT INTO nopk VALUES (3, NULL)"
V="$CDCAGENT verify $T/pipeline.yaml --platform-config $T/platform.yaml"

# ---------------------------------------------------------------- equal
cdc verify "$T/pipeline.yaml" --platform-config "$T/platform.yaml" --sink mirror --wait 60
expect_eq "replica: verify --wait exits 0 once the sink caught up (agent running)" "$CDC_RC" 0
cdc verify "$T/pipeline.yaml" --platform-config "$T/platform.yaml" --sink file --wait 60
expect_eq "jsonl: verify --wait exits 0 once the sink caught up (agent running)" "$CDC_RC" 0
agent_stop
jl_check "the file holds an update whose TOASTed column is the placeholder" "$EVENTS" \
    'any(get(e, "value.op") == "u" and get(e, "value.after.big") == "__debezium_unavailable_value" for e in data)'

for sink in mirror file; do
    cdc verify "$T/pipeline.yaml" --platform-config "$T/platform.yaml" --sink "$sink"
    expect_eq "$sink: verify exits 0 after the agent stopped" "$CDC_RC" 0
    expect_contains "$sink: items reported equal" "$(cat "$T/cdc.out")" "table public.items: equal"
    expect_contains "$sink: nopk compared as a multiset" "$(cat "$T/cdc.out")" "as a multiset of rows"
done
expect_contains "jsonl: the filled TOAST placeholder is reported" "$(cat "$T/cdc.out")" \
    "2 unchanged-TOAST placeholders were filled"
cdc verify "$T/pipeline.yaml" --platform-config "$T/platform.yaml" --sink mirror --json
expect_eq "replica --json: exit 0" "$CDC_RC" 0
SRC_ITEMS=$(sql "SELECT count(*) FROM items")
python3 - "$T/cdc.out" "$SRC_ITEMS" <<'PY' || fail "replica --json (equal) has the expected shape"
import json, sys
r = json.load(open(sys.argv[1], encoding="utf-8"))
t = {x["table"]: x for x in r["tables"]}
assert r["equal"] is True and r["tables_differing"] == 0 and r["sink_type"] == "postgres", r
i = t["public.items"]
assert i["method"] == "key_ranges" and i["key_columns"] == "id", i
assert i["source_rows"] == int(sys.argv[2]) == i["destination_rows"], i
assert i["ranges"] == 11 and i["ranges_differing"] == 0 and i["differences"] == [], i
assert t["public.nopk"]["method"] == "multiset" and t["public.nopk"]["source_rows"] == 4, t
PY
ok "replica --json (equal): 11 rows in 11 ranges, nopk 4 rows as a multiset"

# ---------------------------------------------------------------- tamper with the replica
tsql "DELETE FROM public.items WHERE id = 3" \
     "UPDATE public.items SET amount = amount + 1 WHERE id = 5" \
     "UPDATE public.items SET doc = '{\"i\": 8}' , note = 'x' WHERE id = 8" \
     "INSERT INTO public.items (id, name) VALUES (1000, 'extra'), (0, 'before all')" \
     "DELETE FROM public.nopk WHERE ctid = (SELECT min(ctid) FROM public.nopk WHERE a = 2)" \
     "INSERT INTO public.nopk VALUES (9, 'nine')" \
     "UPDATE public.pairs SET v = 'changed' WHERE region = 'b' AND n = 2" \
     "DELETE FROM public.pairs WHERE region = 'ä' AND n = 3"
for ranges in 1 3 16 1000; do
    cdc verify "$T/pipeline.yaml" --platform-config "$T/platform.yaml" --sink mirror \
        --ranges "$ranges" --json
    expect_eq "replica tampered, --ranges $ranges: exit 4" "$CDC_RC" 4
    python3 - "$T/cdc.out" <<'PY' || fail "replica tampered, --ranges $ranges: the differences named"
import json, sys
r = json.load(open(sys.argv[1], encoding="utf-8"))
t = {x["table"]: x for x in r["tables"]}
i = t["public.items"]
got = [(d["kind"], d["key"]["id"], d.get("detail")) for d in i["differences"]]
want = [("extra", "0", None), ("missing", "3", None), ("differs", "5", "amount"),
        ("differs", "8", "doc, note"), ("extra", "1000", None)]
assert got == want, got
assert i["source_rows"] == 11 and i["destination_rows"] == 12 and not i["more"], i
assert r["tables_differing"] == 3 and r["equal"] is False, r
p = t["public.pairs"]
got = [(d["kind"], d["key"], d.get("detail")) for d in p["differences"]]
assert got == [("differs", {"region": "b", "n": "2"}, "v"),
               ("missing", {"region": "ä", "n": "3"}, None)], got
assert p["key_columns"] == "region, n" and p["source_rows"] == 12, p
n = t["public.nopk"]
got = sorted((d["kind"], d["row"], d["detail"]) for d in n["differences"])
assert got == [("extra", "(9,nine)", "0 in the source, 1 in the destination"),
               ("missing", "(2,two)", "2 in the source, 1 in the destination")], got
PY
    ok "replica tampered, --ranges $ranges: keys 0, 3, 5 (amount), 8 (doc, note), 1000, two nopk rows, (b,2) and (ä,3) of pairs"
done
cdc verify "$T/pipeline.yaml" --platform-config "$T/platform.yaml" --sink mirror --table public.items
expect_eq "replica tampered, text output: exit 4" "$CDC_RC" 4
OUT=$(cat "$T/cdc.out")
sed 's/^/#   /' "$T/cdc.out"
expect_contains "text: names the missing key" "$OUT" "id=3  missing in the destination"
expect_contains "text: names the differing column" "$OUT" "id=5  values differ: amount"
expect_contains "text: names the extra key" "$OUT" "id=1000  extra in the destination"
expect_contains "text: --table limits the tables" "$OUT" "1 of 1 tables differ"
cdc verify "$T/pipeline.yaml" --platform-config "$T/platform.yaml" --sink mirror --wait 2 --json
expect_eq "--wait on a lasting difference: exit 4" "$CDC_RC" 4
expect_eq "--wait compared more than once" \
    "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1], encoding="utf-8"))["attempts"] > 1)' "$T/cdc.out")" True

tsql "DROP TABLE public.pairs" "ALTER TABLE public.items DROP COLUMN note"
cdc verify "$T/pipeline.yaml" --platform-config "$T/platform.yaml" --sink mirror \
    --table public.pairs --table public.items
expect_eq "replica without a table and a column: exit 4" "$CDC_RC" 4
expect_contains "the missing table is named" "$(cat "$T/cdc.out")" \
    "note         table public.pairs does not exist in the destination"
expect_contains "the missing column is named" "$(cat "$T/cdc.out")" \
    "note         columns missing in the destination: note"

# ---------------------------------------------------------------- tamper with the file
# Remove the line of the last event of id 7 (its update) and every line of id 9.
python3 - "$EVENTS" <<'PY'
import json, sys
lines = open(sys.argv[1]).read().splitlines(True)
def key(l):
    e = json.loads(l)
    return (e["key"] or {}).get("id"), (e["value"] or {}).get("op")
last7 = max(n for n, l in enumerate(lines) if key(l) == (7, "u"))
out = [l for n, l in enumerate(lines) if n != last7 and key(l)[0] != 9]
open(sys.argv[1], "w").writelines(out)
PY
cdc verify "$T/pipeline.yaml" --platform-config "$T/platform.yaml" --sink file --json
expect_eq "jsonl tampered: exit 4" "$CDC_RC" 4
python3 - "$T/cdc.out" <<'PY' || fail "jsonl tampered: the differences named"
import json, sys
r = json.load(open(sys.argv[1], encoding="utf-8"))
t = {x["table"]: x for x in r["tables"]}
i = t["public.items"]
got = [(d["kind"], d["key"], d.get("detail")) for d in i["differences"]]
assert got == [("differs", {"id": 7}, "name"), ("missing", {"id": 9}, None)], got
assert i["keys_differing"] == 2 and i["source_rows"] == 11 and i["destination_rows"] == 10, i
assert i["toast_merged"] == 2, i
assert t["public.nopk"]["equal"] is True and t["public.pairs"]["equal"] is True, t
PY
ok "jsonl tampered: id 7 (name) differs, id 9 missing, nopk still equal"
# A placeholder without an earlier event to take the value from is reported.
python3 - "$EVENTS" <<'PY'
import json, sys
lines = open(sys.argv[1]).read().splitlines(True)
def k(l):
    e = json.loads(l)
    return (e["key"] or {}).get("id"), (e["value"] or {}).get("op")
open(sys.argv[1], "w").writelines(l for l in lines if k(l) != (4, "r"))
PY
cdc verify "$T/pipeline.yaml" --platform-config "$T/platform.yaml" --sink file --table public.items
expect_eq "jsonl, placeholder without history: exit 4" "$CDC_RC" 4
expect_contains "the unresolved placeholder is named" "$(cat "$T/cdc.out")" \
    "id=4  values differ: big (unchanged-TOAST placeholder in the destination"

# ---------------------------------------------------------------- errors
cdc verify "$T/pipeline.yaml" --platform-config "$T/platform.yaml"
expect_eq "two sinks and no --sink: exit 2" "$CDC_RC" 2
expect_contains "... says to choose" "$(cat "$T/cdc.err")" "choose one with --sink"
cdc verify "$T/pipeline.yaml" --platform-config "$T/platform.yaml" --sink file --table public.nope
expect_eq "--table not in source.tables: exit 2" "$CDC_RC" 2
cdc verify "$T/pipeline.yaml" --platform-config "$T/platform.yaml" --sink file --ranges 0
expect_eq "--ranges 0: exit 2" "$CDC_RC" 2
sed -e 's/sink_type: jsonl/sink_type: webhook/' -e "s|jsonl:|webhook:|" \
    -e "s|path: \"$EVENTS\"|url: http://127.0.0.1:9/hook|" "$T/pipeline.yaml" >"$T/webhook.yaml"
cdc verify "$T/webhook.yaml" --platform-config "$T/platform.yaml" --sink file
expect_eq "webhook sink: exit 2" "$CDC_RC" 2
expect_contains "... names the sink type" "$(cat "$T/cdc.err")" "verify does not support sink type webhook"
pg_stop "$TGT"
cdc verify "$T/pipeline.yaml" --platform-config "$T/platform.yaml" --sink mirror
expect_eq "target down: exit 1" "$CDC_RC" 1
expect_contains "... names the target" "$(cat "$T/cdc.err")" "127.0.0.1:$TPORT"
pg_cleanup "$TGT"
done_testing

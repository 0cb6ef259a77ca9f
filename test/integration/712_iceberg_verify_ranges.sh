#!/usr/bin/env bash
# 712: cdcagent verify --ranges against an Iceberg upsert table (SQLite catalog, file://
# warehouse).  items (int key) gets 3,000 rows in six transactions and later updates, so the
# table has several data files and position deletes; pairs has a two-column key (int, text);
# names a text key whose C order differs from a linguistic one (upper case first).
# - `verify --ranges 8` exits 0 on the equal tables, reports 8 ranges, reads fewer data
#   files per range than the table has for the single-column keys (file bounds), every file
#   for the two-column key, and finds what the one-pass default finds;
# - after pyiceberg deletes id=1234 and the source's id=2900 is changed behind the stopped
#   agent's back, it exits 4 naming exactly those keys, and the ranges said to differ are the
#   ones psql puts those keys in (every ceil(n/8)-th id as an upper bound, as verify_pg.c
#   cuts a replica's ranges);
# - a text key range: a pyiceberg-deleted key is found in the range psql's "C" order gives;
# - an append sink of the same tables (change rows replayed by key, range by range) is equal,
#   then differs in id=2900 only, in one range;
# - a numeric key is compared in one pass, and the note says --ranges was not applied.
. "$(dirname "$0")/common.sh"
. "$CDC_SRC/test/lib/iceberg.sh"

iceberg_install || fail "could not install pyiceberg $ICEBERG_VERSION (see above)"
pg_up

WH=file://$T/wh
URI=sqlite:///$T/cat.db

sql "CREATE TABLE items (id int PRIMARY KEY, txt text, n numeric(10,2), ts timestamptz)" \
    "CREATE TABLE pairs (a int, b text, v bigint, PRIMARY KEY (a, b))" \
    "CREATE TABLE names (k text PRIMARY KEY, v int)" \
    "CREATE TABLE decs (d numeric(8,2) PRIMARY KEY, v int)" \
    "INSERT INTO decs SELECT g * 1.5, g FROM generate_series(1, 40) g" \
    "INSERT INTO pairs SELECT g % 50, 'p' || g, g FROM generate_series(1, 400) g" \
    "INSERT INTO names SELECT k, ord FROM unnest(ARRAY['apple', 'Banana', 'banana', 'Cherry',
       'cherry', '_under', 'Zed', 'zed', 'éclair', 'eclair', 'a', 'B', 'b1', 'b10', 'b9'])
       WITH ORDINALITY AS x(k, ord)"

P_TABLES="public.items, public.pairs, public.names, public.decs" P_SNAPSHOT=initial write_pipeline
cat >>"$T/pipeline.yaml" <<YAML
  - sink_id: lake
    sink_type: iceberg
    iceberg:
      catalog_uri: "$URI"
      warehouse: "$WH"
      table_namespace: ups
      write_mode: upsert
      batch_size: 400
      flush_interval_seconds: 0.3
  - sink_id: lake_a
    sink_type: iceberg
    iceberg:
      catalog_uri: "sqlite:///$T/cat_a.db"
      warehouse: "$WH"
      table_namespace: app
      write_mode: append
      batch_size: 400
      flush_interval_seconds: 0.3
YAML
write_platform
agent_start

V="verify $T/pipeline.yaml --platform-config $T/platform.yaml --sink lake"
# One commit (data file) per transaction: each waits until the table holds it.
for i in 0 1 2 3 4 5; do
    sql "INSERT INTO items SELECT g, 'item ' || g, g * 1.25, timestamptz '2024-01-01 00:00+00'
           + g * interval '1 minute' FROM generate_series($((i * 500 + 1)), $((i * 500 + 500))) g"
    # shellcheck disable=SC2086
    cdc $V --table public.items --wait 60
    [ "$CDC_RC" = 0 ] || fail "the sink did not take insert $i within 60 s"
done
sql "UPDATE items SET txt = 'updated ' || id WHERE id % 97 = 0" \
    "DELETE FROM items WHERE id BETWEEN 2001 AND 2010" \
    "UPDATE pairs SET v = -v WHERE a = 7"

# shellcheck disable=SC2086
cdc $V --wait 120
expect_eq "the one-pass verify exits 0 once the sink caught up" "$CDC_RC" 0
[ "$CDC_RC" = 0 ] || cat "$T/cdc.out" "$T/cdc.err"
VA="verify $T/pipeline.yaml --platform-config $T/platform.yaml --sink lake_a"
# shellcheck disable=SC2086
cdc $VA --wait 120
expect_eq "append: the one-pass verify exits 0 once the sink caught up" "$CDC_RC" 0
agent_stop

# shellcheck disable=SC2086
cdc $VA --ranges 8 --table public.items
expect_eq "append: verify --ranges 8 exits 0" "$CDC_RC" 0
expect_contains "append: 8 ranges of change rows replayed by key" "$(cat "$T/cdc.out")" \
    "8 ranges of key (id): 0 differ, 0 keys differ"

# shellcheck disable=SC2086
cdc $V --ranges 8
out=$(cat "$T/cdc.out")
printf '%s\n' "$out"
expect_eq "verify --ranges 8 exits 0 on equal tables" "$CDC_RC" 0
expect_contains "items: 8 ranges, none differs" "$out" "8 ranges of key (id): 0 differ, 0 keys differ"
expect_contains "pairs: 8 ranges of the two-column key" "$out" "8 ranges of key (a, b): 0 differ"
expect_contains "pairs: every file read per range" "$out" "every file: a key of several columns"
expect_contains "decs: a numeric key is compared in one pass" "$out" \
    "--ranges not applied: key column d (numeric(8,2)) is not ordered the same"
expect_contains "decs: key by key" "$out" "key by key (d): 0 keys differ"
# shellcheck disable=SC2086
cdc $V --ranges 8 --json
expect_eq "--json: exit 0" "$CDC_RC" 0
check "items: key_ranges, 8 ranges, fewer data files read per range than the table has" \
    python3 - "$T/cdc.out" <<'PY'
import json, re, sys
r = json.load(open(sys.argv[1]))
t = {x["table"]: x for x in r["tables"]}
it = t["public.items"]
assert it["method"] == "key_ranges" and it["ranges"] == 8 and it["ranges_differing"] == 0, it
assert it["source_rows"] == it["destination_rows"] == 2990, it
m = re.search(r"data files read per range: ([0-9.]+) of (\d+) on average \(skipped", it["note"])
assert m, it["note"]
per, total = float(m.group(1)), int(m.group(2))
print("items: %.1f of %d data files read per range" % (per, total))
assert total >= 6 and per < total, (per, total)
assert t["public.names"]["ranges"] == 8 and t["public.names"]["equal"], t["public.names"]
PY

note "the damage: pyiceberg deletes id=1234 and k=Cherry; the source's id=2900 changes behind the agent's back"
"$ICEBERG_PY" - "$URI" "$WH" <<'PY' || fail "pyiceberg could not change the tables"
import sys
from pyiceberg.catalog.sql import SqlCatalog
cat = SqlCatalog("default", uri=sys.argv[1], warehouse=sys.argv[2])
cat.load_table("ups.public_items").delete("id == 1234")
cat.load_table("ups.public_names").delete("k == 'Cherry'")
PY
sql "UPDATE items SET txt = 'behind the agent' WHERE id = 2900"

# shellcheck disable=SC2086
cdc $V --ranges 8
out=$(cat "$T/cdc.out")
printf '%s\n' "$out"
expect_eq "verify --ranges 8 exits 4 after the damage" "$CDC_RC" 4
expect_contains "id=1234 is missing" "$out" "id=1234  missing in the destination"
expect_contains "id=2900 differs in txt" "$out" "id=2900  values differ: txt"
expect_contains "two ranges and two keys differ" "$out" "8 ranges of key (id): 2 differ, 2 keys differ"
expect_contains "k=Cherry is missing" "$out" "k=Cherry  missing in the destination"
expect_contains "pairs is still equal" "$out" "table public.pairs: equal"
# shellcheck disable=SC2086
cdc $V --ranges 8 --json
expect_eq "--json after the damage: exit 4" "$CDC_RC" 4
cp "$T/cdc.out" "$T/ranges.json"
# psql's own order gives the reference ranges: every step-th key is an upper bound.
sql "SELECT string_agg(id::text, ',' ORDER BY id) FROM items" >"$T/ids.txt"
sql "SELECT string_agg(k, ',' ORDER BY k COLLATE \"C\") FROM names" >"$T/names.txt"
check "the ranges reported as differing are the ones psql puts the keys in" \
    python3 - "$T/ranges.json" "$T/ids.txt" "$T/names.txt" <<'PY'
import json, re, sys
r = json.load(open(sys.argv[1]))
t = {x["table"]: x for x in r["tables"]}
def ref_range(keys, key, nranges=8):
    step = -(-len(keys) // nranges)
    bounds = [k for i, k in enumerate(keys, 1) if i % step == 0 and i < len(keys)]
    return next((i + 1 for i, b in enumerate(bounds) if key <= b), len(bounds) + 1), bounds
ids = [int(x) for x in open(sys.argv[2]).read().split(",")]
it = t["public.items"]
assert sorted((d["kind"], d["key"]["id"]) for d in it["differences"]) == \
    [("differs", "2900"), ("missing", "1234")], it["differences"]
assert it["ranges_differing"] == 2 and it["keys_differing"] == 2, it
want = sorted({ref_range(ids, 1234)[0], ref_range(ids, 2900)[0]})
got = sorted(int(x) for x in re.findall(r"(?:: |, )(\d+) \(id", it["note"]))
assert got == want, (got, want, it["note"])
names = open(sys.argv[3]).read().strip().split(",")
cname = lambda s: s.encode()
nm = t["public.names"]
assert [(d["kind"], d["key"]["k"]) for d in nm["differences"]] == [("missing", "Cherry")], nm
want = ref_range([cname(k) for k in names], cname("Cherry"))[0]
got = [int(x) for x in re.findall(r"(?:: |, )(\d+) \(k", nm["note"])]
assert got == [want], (got, want, nm["note"])
print("names: range", got[0], "as psql orders the keys in C")
PY

# shellcheck disable=SC2086
cdc $VA --ranges 8 --table public.items
out=$(cat "$T/cdc.out")
printf '%s\n' "$out"
expect_eq "append: exit 4 after the source changed behind the agent" "$CDC_RC" 4
expect_contains "append: id=2900 differs, in one range" "$out" \
    "8 ranges of key (id): 1 differ, 1 keys differ"
expect_contains "append: id=2900 differs in txt" "$out" "id=2900  values differ: txt"

# shellcheck disable=SC2086
cdc $V --json
expect_eq "the one-pass default also exits 4" "$CDC_RC" 4
check "one pass and --ranges 8 find the same keys" python3 - "$T/cdc.out" "$T/ranges.json" <<'PY'
import json, sys
one, rng = (json.load(open(f)) for f in sys.argv[1:3])
key = lambda r: sorted((t["table"], d["kind"], json.dumps(d["key"], sort_keys=True))
                       for t in r["tables"] for d in t["differences"])
assert key(one) == key(rng), (key(one), key(rng))
m = {t["table"]: t["method"] for t in one["tables"]}
assert m["public.items"] == "keys", m
PY
done_testing

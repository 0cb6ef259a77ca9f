#!/usr/bin/env bash
# 640: the SQL catalog (sinks/iceberg/catalog/ice_sql.c) and pyiceberg 0.12's SqlCatalog share
# one catalog, on SQLite and on PostgreSQL (this test's PostgreSQL 15, database cdc_demo):
# - the catalog tables either side creates have the same columns, types, nullability and
#   primary key, and the other side works on them;
# - pyiceberg creates a table and appends -> our load finds pyiceberg's metadata location;
# - we commit a new metadata file (a copy with a counted property, test/tools/ice_cat_tool
#   bump) -> pyiceberg loads it, its rows still there;
# - a commit built on a stale location is refused ("concurrent commit"), nothing changes;
# - races: pyiceberg commits between our load and our swap -> ours reloads and wins on top
#   of it; we commit between pyiceberg's load and its swap -> pyiceberg's
#   CommitFailedException, reported (its own retries off), or with pyiceberg's own retry
#   (on by default in 0.12) a second attempt that wins on top of ours;
# - both writers in parallel (6 commits each): no commit lost (every pyiceberg row there,
#   our counter counted 6 times);
# - our create in a new namespace, read by pyiceberg; list and drop;
# - PostgreSQL: the server ends the catalog's connection just before a commit: it
#   reconnects, sees the table still at its base and commits.
. "$(dirname "$0")/common.sh"
. "$CDC_SRC/test/lib/iceberg.sh"

BUILD=${CDC_BUILD:-$(dirname "$CDCAGENT")}
TOOL=$BUILD/ice_cat_tool
[ -x "$TOOL" ] || fail "no $TOOL: build the tree first"
iceberg_install || fail "could not install pyiceberg $ICEBERG_VERSION (see above)"
ok "pyiceberg $("$ICEBERG_PY" -c 'import pyiceberg; print(pyiceberg.__version__)') in $ICEBERG_VENV"
pg_up

CAT=lake
# ids URI WH TABLE: the ids of the table's rows, as pyiceberg reads them, space separated
ids() {
    iceberg_read --uri "$1" --warehouse "$2" --catalog "$CAT" rows "$3" |
        "$ICEBERG_PY" -c 'import json,sys; print(" ".join(str(json.loads(l)["id"]) for l in sys.stdin))'
}

# state URI WH TABLE: one pyiceberg process reads the table once: ST_LOC (the metadata
# location), ST_PROP (the property cdcagent.test-commit) and ST_IDS (the ids, as ids prints
# them).  Where a check needs more than one of them, one start of pyiceberg instead of three.
state() {
    local out
    out=$(iceberg_read --uri "$1" --warehouse "$2" --catalog "$CAT" state "$3" \
        --property cdcagent.test-commit --column id) || fail "pyiceberg could not read $3"
    { IFS= read -r ST_LOC; IFS= read -r ST_PROP; IFS= read -r ST_IDS; } <<<"$out"
}

# The catalog tables' layout: columns (name, type, length, nullable) and primary key.
layout_sqlite() {
    python3 - "$1" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
for t in ("iceberg_tables", "iceberg_namespace_properties"):
    for cid, name, typ, notnull, dflt, pk in c.execute(f"PRAGMA table_info({t})"):
        print(t, name, typ.upper(), notnull, pk)
PY
}
layout_pg() {
    pg_psql "$PORT" "$1" "SELECT c.table_name, c.column_name, c.data_type, c.character_maximum_length,
        c.is_nullable, coalesce(k.ordinal_position, 0)
      FROM information_schema.columns c
      LEFT JOIN information_schema.key_column_usage k ON k.table_name = c.table_name
        AND k.column_name = c.column_name AND k.table_schema = c.table_schema
      WHERE c.table_schema = 'public' AND c.table_name LIKE 'iceberg%'
      ORDER BY c.table_name, c.ordinal_position"
}

run_backend() {
    local be=$1 uri=$2 uri_c=$3 wh=$4
    local r l0 l1 l2 l3 out rc
    note "---- $be: ${uri/:cdc_password@/:***@}"
    mkdir -p "${wh#file://}"
    r=(--uri "$uri" --warehouse "$wh" --catalog "$CAT")

    # pyiceberg creates the catalog tables, the namespace and the table.
    l0=$(iceberg_write "${r[@]}" create db.people)
    l1=$("$TOOL" "$uri" "$CAT" load db people)
    expect_eq "$be: our load finds the table pyiceberg created" "$l1" "$l0"
    iceberg_write "${r[@]}" append db.people 1 one >/dev/null
    l1=$(iceberg_read "${r[@]}" location db.people)
    [ "$l1" != "$l0" ] || fail "$be: pyiceberg's append did not move the metadata location"
    expect_eq "$be: our load follows pyiceberg's commit" "$("$TOOL" "$uri" "$CAT" load db people)" "$l1"

    # Our commit: a new metadata file, swapped in; pyiceberg sees it with its rows.
    l2=$("$TOOL" "$uri" "$CAT" bump db people 2>"$T/bump.err")
    expect_eq "$be: our commit took one attempt" "$(cat "$T/bump.err")" "attempts 1"
    state "$uri" "$wh" db.people
    expect_eq "$be: pyiceberg loads our metadata" "$ST_LOC" "$l2"
    expect_eq "$be: ... with our property" "$ST_PROP" 1
    expect_eq "$be: ... and its rows" "$ST_IDS" "1"

    # A commit built on a stale location changes nothing.
    rc=0
    out=$("$TOOL" "$uri" "$CAT" commit db people "$l1" "${l1%/*}/99999-stale.metadata.json" 2>&1) || rc=$?
    expect_eq "$be: a stale commit exits 5 (conflict)" "$rc" 5
    expect_contains "$be: ... saying concurrent commit" "$out" "concurrent commit"
    expect_contains "$be: ... naming the current location" "$out" "$l2"
    expect_eq "$be: ... and the table stays at ours" "$(iceberg_read "${r[@]}" location db.people)" "$l2"

    # Race 1: pyiceberg commits between our load and our swap: ours reloads and wins on top.
    l3=$("$TOOL" "$uri_c" "$CAT" bump db people \
        "$ICEBERG_PY $CDC_SRC/test/tools/iceberg_write.py --uri '$uri' --warehouse '$wh' --catalog $CAT append db.people 2 two >/dev/null" \
        2>"$T/bump.err")
    expect_eq "$be: racing pyiceberg, our commit lost once and retried" "$(cat "$T/bump.err")" "attempts 2"
    state "$uri" "$wh" db.people
    expect_eq "$be: ... pyiceberg sees ours as current" "$ST_LOC" "$l3"
    expect_eq "$be: ... built on pyiceberg's commit (its row is there)" "$ST_IDS" "1 2"
    expect_eq "$be: ... our counter went on from ours" "$ST_PROP" 2

    # Race 2: we commit between pyiceberg's load and its swap: pyiceberg's commit fails.
    rc=0
    iceberg_write "${r[@]}" append db.people 3 three --retries 0 --race "$TOOL '$uri_c' $CAT bump db people >/dev/null 2>&1" \
        >"$T/w.out" 2>"$T/w.err" || rc=$?
    expect_eq "$be: pyiceberg losing the race reports it (exit 5)" "$rc" 5
    expect_contains "$be: ... CommitFailedException" "$(cat "$T/w.err")" "CommitFailedException"
    state "$uri" "$wh" db.people
    expect_eq "$be: ... its row is not in the table" "$ST_IDS" "1 2"
    expect_eq "$be: ... ours is" "$ST_PROP" 3
    iceberg_write "${r[@]}" append db.people 4 four \
        --race "$TOOL '$uri_c' $CAT bump db people >/dev/null 2>&1" >"$T/w.out" 2>"$T/w.err"
    expect_contains "$be: pyiceberg losing with its own retries on retries" "$(cat "$T/w.err")" \
        "Commit failed due to a concurrent update, retrying (1/4)"
    state "$uri" "$wh" db.people
    expect_eq "$be: ... its row and ours both there" "$ST_IDS" "1 2 4"
    expect_eq "$be: ... our counter too" "$ST_PROP" 4

    # Both in parallel: pyiceberg appends 6 rows one after the other while we commit in a loop
    # for as long as that lasts; nothing lost on either side.
    rm -f "$T/py.done"
    (n=0; while [ ! -f "$T/py.done" ]; do
        "$TOOL" "$uri_c" "$CAT" bump db people >/dev/null 2>>"$T/par-c.err" || exit 1
        n=$((n + 1)); done; echo "$n" >"$T/par-c.n") &
    local cpid=$!
    (for i in 11 12 13 14 15 16; do iceberg_write "${r[@]}" append db.people "$i" "p$i" --retries 30 \
        >/dev/null 2>>"$T/par-py.err" || { touch "$T/py.done"; exit 1; }; done; touch "$T/py.done") &
    local ppid=$!
    wait "$ppid" || fail "$be: pyiceberg's parallel commits failed: $(tail -3 "$T/par-py.err")"
    wait "$cpid" || fail "$be: our parallel commits failed: $(tail -3 "$T/par-c.err")"
    local n
    n=$(cat "$T/par-c.n")
    note "$be: parallel: $n commits of ours, $(grep -vc '^attempts 1$' "$T/par-c.err" || true) of them retried; pyiceberg retried $(grep -c 'retrying' "$T/par-py.err" || true) times"
    [ "$n" -ge 3 ] || fail "$be: only $n commits of ours ran beside pyiceberg's"
    state "$uri" "$wh" db.people
    expect_eq "$be: in parallel, every pyiceberg commit kept" "$ST_IDS" "1 2 4 11 12 13 14 15 16"
    expect_eq "$be: ... and every one of ours ($n)" "$ST_PROP" $((4 + n))
    rm -f "$T/par-c.err" "$T/par-py.err" "$T/par-c.n" "$T/py.done"
    iceberg_read "${r[@]}" snapshots db.people >"$T/snaps.jsonl"
    expect_eq "$be: the snapshots: pyiceberg's 9 appends, the current one holding 9 records" \
        "$("$ICEBERG_PY" -c 'import json,sys
s = [json.loads(l) for l in open(sys.argv[1])]
cur = [x for x in s if x["current"]]
print(len([x for x in s if x["operation"] == "append"]), len(cur), cur[0]["summary"]["total-records"])' "$T/snaps.jsonl")" \
        "9 1 9"

    # Our create, in a namespace that does not exist yet: a table registered at a copy of
    # people's current metadata file (as state read it above; nothing committed since);
    # pyiceberg finds the namespace and reads the rows.
    l3=${ST_LOC#file://}
    cp "$l3" "${l3%/*}/00000-ours-copy.metadata.json"
    "$TOOL" "$uri_c" "$CAT" create cdc copy "file://${l3%/*}/00000-ours-copy.metadata.json" >/dev/null
    expect_eq "$be: pyiceberg sees the namespace we created" \
        "$(iceberg_read "${r[@]}" tables cdc)" "copy"
    expect_eq "$be: ... and reads the table we created" "$(ids "$uri" "$wh" cdc.copy)" "1 2 4 11 12 13 14 15 16"
    rc=0
    out=$("$TOOL" "$uri_c" "$CAT" create cdc copy "file://${l3%/*}/00000-other.metadata.json" 2>&1) || rc=$?
    expect_eq "$be: creating it again exits 4 (exists)" "$rc" 4
    expect_contains "$be: ... saying so" "$out" "table cdc.copy already exists"

    # list and drop, seen by pyiceberg.
    iceberg_write "${r[@]}" create db.other >/dev/null
    expect_eq "$be: our list" "$("$TOOL" "$uri" "$CAT" list db | tr '\n' ' ')" "other people "
    "$TOOL" "$uri" "$CAT" drop db other
    expect_eq "$be: pyiceberg after our drop" "$(iceberg_read "${r[@]}" tables db | tr '\n' ' ')" "people "
    rc=0
    "$TOOL" "$uri" "$CAT" load db other 2>/dev/null || rc=$?
    expect_eq "$be: loading a dropped table exits 3" "$rc" 3
}

# ---- SQLite: pyiceberg's URI, and the same file named as an absolute sqlite://// path.
run_backend sqlite "sqlite:///$T/catalog.db" "sqlite:///$T/catalog.db" "file://$T/wh-sqlite"

# ---- PostgreSQL: pyiceberg through psycopg2, ours through libpq; the driver form too.
PGURI=$(iceberg_pg_uri "$PORT")
run_backend postgresql "$PGURI" "${PGURI/postgresql:/postgresql+psycopg2:}" "file://$T/wh-pg"

# ---- PostgreSQL: the catalog's connection ends just before our UPDATE (the server ends it):
# the commit reconnects, finds the table still at its base, and commits on the new connection.
l0=$(iceberg_read --uri "$PGURI" --warehouse "file://$T/wh-pg" --catalog "$CAT" location db.people)
cp "${l0#file://}" "${l0#file://}.next.metadata.json"
KILL="PGCONNECT_TIMEOUT=10 $PG_BIN/psql -X -q -At -h 127.0.0.1 -p $PORT -U $PG_SUPERUSER -d cdc_demo -c \"SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE usename = 'cdc_user' AND datname = 'cdc_demo'\" >/dev/null"
"$TOOL" "$PGURI" "$CAT" commit db people "$l0" "$l0.next.metadata.json" "$KILL" >/dev/null 2>"$T/kill.err" ||
    fail "a commit whose connection was ended failed: $(cat "$T/kill.err")"
expect_eq "postgresql: the server ended the catalog's connection" \
    "$(grep -c "cdc_user@cdc_demo FATAL:  terminating connection due to administrator command" "$PGDIR/log/postgresql.log")" 1
expect_eq "postgresql: a commit whose connection was ended reconnects and commits" \
    "$(iceberg_read --uri "$PGURI" --warehouse "file://$T/wh-pg" --catalog "$CAT" location db.people)" \
    "$l0.next.metadata.json"

# ---- The other way round: our code creates the catalog tables, pyiceberg uses them.
"$TOOL" "sqlite:///$T/ours.db" "$CAT" list db >/dev/null
expect_eq "sqlite: the tables we create have pyiceberg's layout" \
    "$(layout_sqlite "$T/ours.db")" "$(layout_sqlite "$T/catalog.db")"
iceberg_write --uri "sqlite:///$T/ours.db" --warehouse "file://$T/wh-sqlite" --catalog "$CAT" \
    create db.t >/dev/null 2>"$T/py.err"
expect_eq "sqlite: pyiceberg works on them without a word" "$(cat "$T/py.err")" ""
expect_eq "sqlite: ... and we load what it created" "$("$TOOL" "sqlite:///$T/ours.db" "$CAT" load db t)" \
    "$(iceberg_read --uri "sqlite:///$T/ours.db" --warehouse "file://$T/wh-sqlite" --catalog "$CAT" location db.t)"

pg_psql "$PORT" postgres "CREATE DATABASE cdc_cat2 OWNER cdc_user" >/dev/null
PGURI2=postgresql://cdc_user:cdc_password@127.0.0.1:$PORT/cdc_cat2
"$TOOL" "$PGURI2" "$CAT" list db >/dev/null
expect_eq "postgresql: the tables we create have pyiceberg's layout" \
    "$(layout_pg cdc_cat2)" "$(layout_pg cdc_demo)"
iceberg_write --uri "$PGURI2" --warehouse "file://$T/wh-pg" --catalog "$CAT" create db.t >/dev/null 2>"$T/py.err"
expect_eq "postgresql: pyiceberg works on them without a word" "$(cat "$T/py.err")" ""

# ---- Errors a user can cause name what and where, never the password.
rc=0
out=$("$TOOL" "postgresql://cdc_user:wrong-secret-pw@127.0.0.1:$PORT/cdc_demo" "$CAT" load db people 2>&1) || rc=$?
expect_eq "a wrong password fails" "$rc" 1
expect_contains "... naming the server" "$out" "127.0.0.1:$PORT"
case "$out" in *wrong-secret-pw*) fail "the password is in the message: $out" ;; *) ok "... without the password" ;; esac

done_testing

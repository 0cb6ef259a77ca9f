#!/usr/bin/env bash
# 650: the Iceberg REST catalog client (sinks/iceberg/catalog/ice_rest.c, driven by
# test/tools/ice_rest_drive) against Iceberg's own REST catalog server (RESTCatalogServer
# 1.10.0, test/lib/iceberg_rest.sh: JDBC catalog on SQLite, file:// warehouse), with an OAuth2
# client credential: a two-level namespace made when missing, a v2 table created from a
# metadata document (identifier field kept), a snapshot committed with assert-table-uuid and
# assert-ref-snapshot-id and read back by a reload and by pyiceberg's RestCatalog (scan
# included: the manifest lists are empty ones written with fastavro); a concurrent writer
# between our load and our commit -> 409 -> reload and rebuild on its snapshot; a commit on a
# stale base is refused and changes nothing; add-schema; the same race through the catalog
# interface (ice_catalog.h); the catalog keeps all of it across a server restart; pyiceberg
# appends rows and then races our commit, which lands on top of its snapshot with its rows
# kept; a catalog that is down is a retriable error naming it, without the secret.
. "$(dirname "$0")/common.sh"
. "$CDC_SRC/test/lib/iceberg_rest.sh"

RDIR=$T/rest
trap '_rc=$?; icerest_kill "$RDIR" >/dev/null 2>&1; set +e; (exit $_rc); _cleanup' EXIT

DRIVE=${CDC_BUILD:-$CDC_SRC/build}/ice_rest_drive
[ -x "$DRIVE" ] || fail "no $DRIVE: build first"
SECRET=cdc-secret-650
export ICE_REST_CREDENTIAL="cdc-client:$SECRET"

RPORT=$(free_port)
icerest_start "$RDIR" "$RPORT" || fail "the REST catalog server did not start"
ok "Iceberg RESTCatalogServer 1.10.0 at $ICEREST_URL"
expect_eq "it listens on loopback only" "$(ss -ltnH "sport = :$RPORT" | awk '{print $4}' | sed 's/^\[::ffff:\(.*\)\]/\1/' | sort -u)" "127.0.0.1:$RPORT"
iceberg_install || fail "the pyiceberg venv (test/lib/iceberg.sh)"
U=$ICEREST_URL
drive() { "$DRIVE" "$U" "$@"; }
ML=$T/ml
mkdir -p "$ML"
# empty manifest lists, one per snapshot, where pyiceberg will read them
icerest_read empty-manifest-list "$ML/1001.avro" 1001 1
icerest_read empty-manifest-list "$ML/2002.avro" 2002 2 1001

expect_eq "config: no prefix from this server" "$(drive config)" "prefix="
expect_eq "namespace cdc.public is missing" "$(drive ns-exists cdc.public)" "no"
expect_eq "ns-ensure creates it (parents first)" "$(drive ns-ensure cdc.public)" "ok"
expect_eq "and both levels are there" "$(drive ns-exists cdc)/$(drive ns-exists cdc.public)" "yes/yes"
expect_eq "ns-ensure again is a no-op" "$(drive ns-ensure cdc.public)" "ok"

out=$(drive create cdc.public items "file://$RDIR/warehouse/cdc/public/items")
expect_contains "create: the server wrote the first metadata file" "$out" "created file:$RDIR/warehouse/cdc/public/items/metadata/00000-"
expect_eq "create again: exists" "$(drive create cdc.public items "file://$RDIR/warehouse/x")" "exists"
load=$(drive load cdc.public items)
expect_contains "load: no snapshot yet" "$load" "current=-1 snapshots=0 last-seq=0 schema=0"
UUID=$(sed -n 's/^uuid=\([^ ]*\) .*/\1/p' <<<"$load")

out=$(drive append cdc.public items 1001 "file://$ML/1001.avro" cdc.lsn=0/16B3748 cdc.pipeline=p650)
expect_eq "append commits snapshot 1001 in one build" "$out" "committed builds=1 conflicts=0 current=1001 parent=-1"
expect_contains "a reload sees it" "$(drive load cdc.public items)" "uuid=$UUID current=1001 snapshots=1 last-seq=1 schema=0"

py=$(icerest_read table "$U" cdc.public.items)
check "pyiceberg's RestCatalog sees snapshot 1001, its summary, the schema and the key" \
    "$ICEBERG_PY" - "$py" "$UUID" <<'PY'
import json, sys
t = json.loads(sys.argv[1])
assert t["uuid"] == sys.argv[2], t
assert t["format_version"] == 2, t
assert t["current_snapshot_id"] == 1001, t
assert t["fields"] == [[1, "id", "long", True], [2, "name", "string", False]], t["fields"]
assert t["identifier_field_ids"] == [1], t
(s,) = t["snapshots"]
assert s[0] == 1001 and s[1] is None and s[2] == 1 and s[3] == "append", s
assert s[4]["cdc.lsn"] == "0/16B3748" and s[4]["cdc.pipeline"] == "p650", s
assert t["rows"] == 0, t
PY

out=$(drive race cdc.public items 2002 3003 "file://$ML/2002.avro")
expect_eq "a concurrent commit (2002) between load and commit: 409, reload, rebuild on it" \
    "$out" "committed builds=2 conflicts=1 current=3003 parent=2002"   # both on 2002.avro

out=$(drive stale cdc.public items 1001 4004 "file://$ML/1001.avro")
expect_contains "a commit on a stale base is refused" "$out" "conflict: REST catalog at $U: commit to table cdc.public.items: a concurrent commit changed the table (HTTP 409 CommitFailedException: Requirement failed: branch main has changed"
expect_contains "and changes nothing" "$(drive load cdc.public items)" "current=3003 snapshots=3 last-seq=3 schema=0"

expect_eq "add-schema + set-current-schema" "$(drive add-column cdc.public items note string)" "schema=1"
expect_eq "the same race through the catalog interface (ice_cat_commit_retry)" \
    "$(drive cat-race cdc.public items 6006 7007 "file://$ML/2002.avro")" "committed builds=2 current=7007"

icerest_stop "$RDIR"
icerest_start "$RDIR" "$RPORT" || fail "the REST catalog server did not start again"
expect_contains "after a server restart the catalog still points at 7007 and schema 1" \
    "$(drive load cdc.public items)" "uuid=$UUID current=7007 snapshots=5 last-seq=5 schema=1"

py=$(icerest_read table "$U" cdc.public.items)
check "pyiceberg reads the chain 1001 <- 2002 <- 3003 <- 6006 <- 7007 and the new column" \
    "$ICEBERG_PY" - "$py" <<'PY'
import json, sys
t = json.loads(sys.argv[1])
chain = [(s[0], s[1], s[2]) for s in t["snapshots"]]
assert chain == [(1001, None, 1), (2002, 1001, 2), (3003, 2002, 3), (6006, 3003, 4),
                 (7007, 6006, 5)], chain
assert t["current_snapshot_id"] == 7007, t
assert t["fields"][-1] == [3, "note", "string", False], t["fields"]
assert t["rows"] == 0, t
PY
# pyiceberg writes rows through the same catalog on top of our snapshots; then it is the
# concurrent writer of our next commit, which must land on top of its snapshot, rows kept.
PYS1=$(icerest_read append "$U" cdc.public.items 1 3)
out=$(drive race-cmd cdc.public items 8008 \
    "'$ICEBERG_PY' '$CDC_SRC/test/tools/iceberg_rest_read.py' append '$U' cdc.public.items 10 2 >'$T/pys2'")
PYS2=$(cat "$T/pys2")
expect_eq "pyiceberg commits between our load and our commit: 409, rebuilt on its snapshot" \
    "$out" "committed builds=2 conflicts=1 current=8008 parent=$PYS2"
py=$(icerest_read table "$U" cdc.public.items)
check "pyiceberg: its two appends on 7007 and ours on top, all 5 rows there" \
    "$ICEBERG_PY" - "$py" "$PYS1" "$PYS2" <<'PY'
import json, sys
t = json.loads(sys.argv[1])
s1, s2 = int(sys.argv[2]), int(sys.argv[3])
chain = [(s[0], s[1]) for s in t["snapshots"]][-3:]
assert chain == [(s1, 7007), (s2, s1), (8008, s2)], chain
assert t["current_snapshot_id"] == 8008, t
assert t["rows"] == 5, t
PY
expect_eq "tables of cdc.public, by the client and by pyiceberg" \
    "$(drive list cdc.public)/$(icerest_read tables "$U" cdc.public)" "items/items"

expect_eq "drop" "$(drive drop cdc.public items)" "dropped"
expect_eq "load after drop: missing" "$(drive load cdc.public items)" "missing"

icerest_stop "$RDIR"
if err=$(drive load cdc.public items 2>&1); then fail "load with the catalog down succeeded: $err"; fi
expect_contains "catalog down: names the catalog and the call" "$err" "REST catalog at $U:"
expect_contains "  after the retries" "$err" "no answer after 5 attempts"
case "$err" in *"$SECRET"*) fail "the secret is in: $err" ;; *) ok "no secret in the message" ;; esac
done_testing

#!/usr/bin/env bash
# 250: DIFFERENTIAL test against the reference.  Debezium 2.7 (Kafka Connect standalone,
# JsonConverter with schemas) and cdcagent (transport_mode direct, jsonl sink) capture the
# same database at the same time, each with its own slot and publication: a snapshot of
# pre-existing rows, then a workload that covers every mapped type of CONTRACT.md 4.1, NULLs,
# NaN/±Infinity, arrays, enums, a domain, REPLICA IDENTITY DEFAULT and FULL, a table without
# a primary key, a primary-key change, an unchanged TOAST value, TRUNCATE, logical decoding
# messages and ALTER TABLE ADD/DROP COLUMN mid-stream.
#
# The two outputs are compared topic by topic, record by record, in order: the key payload
# and the value payload (Debezium's JsonConverter "payload" part against the jsonl line's
# "key"/"value") must be equal, except for the fields in ALLOW below, which are run-specific
# (processing time, version string, snapshot-run positions).  Each is justified in
# docs/debezium-differences.md.  Every other difference fails the test and is printed as
#   topic, index, path, debezium value, cdcagent value.
# Debezium's Connect schemas are kept in $T/dbz_schemas.json for reference; comparing them
# is a TODO for the Kafka transport (the jsonl sink carries no schema).
#
# Needs: java 17, mvn (Maven Central), pip (PyPI); everything is cached in $CDC_CACHE.
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"
# shellcheck source=SCRIPTDIR/../lib/connect.sh
. "$CDC_SRC/test/lib/connect.sh"
# shellcheck source=SCRIPTDIR/../lib/py.sh
. "$CDC_SRC/test/lib/py.sh"
if [ -f "$CDC_SRC/test/lib/kafka.sh" ]; then
    # shellcheck source=SCRIPTDIR/../lib/kafka.sh
    . "$CDC_SRC/test/lib/kafka.sh"
fi

# ---------------------------------------------------------------- the allow-list
# One entry per line: OPS PATH.  OPS is a comma-separated list of value.op codes ("*": any
# record).  PATH is a dotted path in the value payload; "*" matches one segment.  A listed
# field may differ between the two tools; everything else must be equal.
ALLOW='
*     ts_ms
*     ts_us
*     ts_ns
*     source.version
r     source.ts_ms
r     source.ts_us
r     source.ts_ns
r     source.txId
r     source.lsn
r     source.sequence
r     after.c_date
'
# after.c_date for op r only: this table's snapshot rows hold a BC date and 'infinity'.
# Debezium's snapshot reads dates through JDBC, which drops the era (0044-03-15 BC becomes
# -703383) and maps infinity to -622191234, while its own streaming path (and cdcagent, in
# both paths) gives -735160 and -2147472692.  cdcagent keeps one answer for both paths;
# streamed dates are compared exactly.  See docs/debezium-differences.md.
# The prefix shared by both tools (Debezium topic.prefix = cdcagent topic_prefix).
PREFIX=cdc
TABLES="public.every_type, public.customers, public.full_t, public.docs, public.nopk, public.trunc_t, public.fence"

need_agent
connect_install || fail "connect_install (Kafka Connect + Debezium from Maven Central)"
py_env || fail "py_env (confluent-kafka from PyPI)"
# The shared broker helper when it is there and usable (it needs its probe tool, built from
# test/tools/kafka_probe.c); else connect.sh's private one.
if declare -F kafka_install >/dev/null && kafka_probe_bin >/dev/null 2>&1; then
    kafka_install || fail "kafka_install"
    KAFKA_START=kafka_start KAFKA_STOP=kafka_stop
else
    note "test/lib/kafka.sh or its kafka_probe not available: using connect.sh's private broker (_dbz_kafka_start)"
    KAFKA_START=_dbz_kafka_start KAFKA_STOP=_dbz_kafka_stop
fi
ok "Kafka Connect $KAFKA_CONNECT_VERSION, Debezium $DBZ_VERSION, $("$PY" -c 'import confluent_kafka as c; print("confluent-kafka", c.version()[0])') installed"

KDIR=$T/kafka
CDIR=$T/connect
_it250_cleanup() {
    local rc=$?
    set +e
    connect_stop "$CDIR" 2>/dev/null
    "$KAFKA_STOP" "$KDIR" 2>/dev/null
    (exit "$rc")
    _cleanup
}
trap _it250_cleanup EXIT

# ---------------------------------------------------------------- schema and snapshot rows
pg_up
sql "CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')" \
    "CREATE DOMAIN dom_num AS numeric(8,3)" \
    "CREATE TABLE every_type (
        id int PRIMARY KEY,
        c_bool bool, c_bit1 bit(1), c_bit12 bit(12), c_varbit varbit,
        c_int2 int2, c_int4 int4, c_int8 int8, c_oid oid,
        c_float4 float4, c_float8 float8,
        c_num102 numeric(10,2), c_num numeric, c_money money,
        c_char5 char(5), c_varchar varchar(20), c_text text, c_name name,
        c_bytea bytea, c_json json, c_jsonb jsonb, c_xml xml, c_uuid uuid,
        c_date date, c_time3 time(3), c_time time, c_timetz timetz,
        c_ts3 timestamp(3), c_ts timestamp, c_tstz timestamptz, c_tstz3 timestamptz(3),
        c_interval interval,
        c_inet inet, c_cidr cidr, c_macaddr macaddr, c_macaddr8 macaddr8,
        c_int4range int4range, c_int8range int8range, c_numrange numrange,
        c_tsrange tsrange, c_tstzrange tstzrange, c_daterange daterange,
        c_enum mood, c_point point,
        c_int4arr int4[], c_textarr text[], c_numarr numeric(5,2)[], c_boolarr bool[],
        c_uuidarr uuid[], c_datearr date[], c_tstzarr timestamptz[], c_enumarr mood[],
        c_dom dom_num,
        c_nn int NOT NULL DEFAULT 42,
        c_dflt text DEFAULT 'dflt')" \
    "CREATE TABLE customers (id int PRIMARY KEY, name text, balance numeric(10,2),
                             created_at timestamptz, status text NOT NULL DEFAULT 'new')" \
    "CREATE TABLE full_t (id int PRIMARY KEY, v text, n numeric(6,1), f float8, body text)" \
    "ALTER TABLE full_t REPLICA IDENTITY FULL" \
    "ALTER TABLE full_t ALTER COLUMN body SET STORAGE EXTERNAL" \
    "CREATE TABLE docs (id int PRIMARY KEY, body text, note text, tags text[])" \
    "ALTER TABLE docs ALTER COLUMN body SET STORAGE EXTERNAL" \
    "CREATE TABLE nopk (a int, b text, c timestamp)" \
    "CREATE TABLE trunc_t (id bigserial PRIMARY KEY, v text)" \
    "CREATE TABLE fence (id int PRIMARY KEY)"

# The 110_every_type rows.  Rows 1-4 are read by the snapshots and streamed again as ids
# 11-14 (Debezium reads snapshot values through JDBC and streamed ones from pgoutput text,
# so both paths are compared); row 5 is streamed only.
ROW1="(1, true, B'1', B'101000000001', B'110011001100110011',
  32767, 2147483647, 9223372036854775807, 4294967295,
  1.1, 3.141592653589793,
  12345678.90, 123.4500, 1234.56,
  'ab', 'héllo ✓', E'line1\nline2 \"q\" \\\\ tab\t', 'some_name',
  '\\xdeadbeef00', '{\"b\": 1,  \"a\": [1, 2]}', '{\"b\": 1,  \"a\": [1, 2]}',
  '<a x=\"1\">t&amp;</a>', 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11',
  '2024-02-29', '12:34:56.789', '12:34:56.123456', '12:34:56.5+02',
  '2024-05-01 10:15:30.123', '2024-05-01 10:15:30.123456',
  '2024-05-01 12:15:30.123456+02', '2024-05-01 10:15:30.123+00',
  '1 year 2 mons 3 days 04:05:06.5',
  '192.168.0.1/24', '10.0.0.0/8', '08:00:2b:01:02:03', '08:00:2b:01:02:03:04:05',
  '(1,10]', '[1,10000000000)', '[1.5,2.5]',
  '[2024-01-01 00:00,2024-01-02 00:00)', '[2024-01-01 00:00+02,2024-01-02 00:00+02)',
  '[2024-01-01,2024-02-01]',
  'happy', '(1.5,-2.25)',
  '{1,2,3}', '{\"a,b\",\"say \\\"hi\\\"\",NULL,\"NULL\",\"\",x}', '{1.5,-2.25,NULL}', '{t,f,NULL}',
  '{A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11,00000000-0000-0000-0000-000000000000}',
  '{2024-01-01,1969-12-31,NULL}', '{\"2024-01-01 00:00:00.123456+02\",NULL}', '{sad,happy}',
  12345.678, DEFAULT, DEFAULT)"
ROW2="(2, false, B'0', B'000000000101', B'1',
  -32768, -2147483648, -9223372036854775808, 0,
  'Infinity', 'NaN',
  -99999999.99, '-123456789012345678901234567890.123456789012', -0.99,
  'abcde', '', '', '',
  '\\x', '[]', '{\"k\": null}', '<empty/>', '00000000-0000-0000-0000-000000000000',
  '0044-03-15 BC', '00:00:00', '00:00:00.000001', '23:30:00-05:30',
  '1960-01-01 00:00:00', '1900-01-01 00:00:00.000001',
  '1999-12-31 23:59:59+00', '2024-05-01 10:15:30+05',
  '-1 days -02:00:00.25',
  '::1', '2001:db8::/32', '00:00:00:00:00:00', '00:00:00:00:00:00:00:00',
  'empty', '(,5]', '(,)',
  'empty', '[2024-01-01 00:00+00,)', '[,2024-01-01)',
  'sad', '(0,0)',
  '{}', '{}', '{0.00}', '{}', '{}', '{}', '{}', '{}',
  -0.001, 7, 'set')"
ROW3="(3, NULL, NULL, B'000000000000', B'000',
  0, 0, 0, 1,
  '-Infinity', '-Infinity',
  0, '0.000', 0,
  NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL,
  'infinity', '23:59:59.999', '23:59:59.999999', '00:00:00.123456+00',
  '2000-02-29 23:59:59.999', '1970-01-01 00:00:00',
  '1970-01-01 00:00:00+00', '1969-12-31 23:59:59.999+00',
  '3 mons 1 day 100:00:00.000001',
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  'ok', '(1e300,-1e-300)',
  '{NULL,-5}', '{NULL}', NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, -1, 'x')"
ROW4="(4, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, DEFAULT, NULL)"
BIG="(SELECT string_agg(md5(i::text), '' ORDER BY i) FROM generate_series(1, 400) i)"
sql "INSERT INTO every_type VALUES $ROW1, $ROW2, $ROW3, $ROW4" \
    "INSERT INTO customers VALUES (1, 'Alice', 12.50, '2024-05-01 10:15:30.123456+00', 'vip'),
                                  (2, 'Bob', -0.5, NULL, DEFAULT), (3, NULL, NULL, NULL, 'x')" \
    "INSERT INTO full_t VALUES (1, 'one', 1.5, 1e-5, $BIG), (2, NULL, NULL, 'NaN', 'short')" \
    "INSERT INTO docs VALUES (1, $BIG, 'v1', '{a,b}'), (2, 'small', NULL, NULL)" \
    "INSERT INTO nopk VALUES (1, 'x', '2024-01-01 00:00:00'), (NULL, NULL, NULL)" \
    "INSERT INTO trunc_t (v) VALUES ('a'), ('b')"

# ---------------------------------------------------------------- Kafka, Debezium, cdcagent
port_pair() {   # a free port P with P+1 free too
    local p i
    for ((i = 0; i < 50; i++)); do
        p=$(free_port)
        if _port_free $((p + 1)); then echo "$p"; return 0; fi
    done
    return 1
}
KPORT=$(port_pair) || fail "no free port for Kafka"
"$KAFKA_START" "$KDIR" "$KPORT" || fail "Kafka broker on 127.0.0.1:$KPORT"
BOOT=127.0.0.1:$KPORT
ok "Kafka broker on $BOOT"

CPORT=$(free_port)
DBZ_PORT=$PORT DBZ_PREFIX=$PREFIX DBZ_TABLES=${TABLES// /} DBZ_SLOT=dbz_slot DBZ_PUB=dbz_publication \
    DBZ_SNAPSHOT=initial DBZ_SKIPPED=none connect_start "$CDIR" "$BOOT" "$CPORT" \
    || fail "Kafka Connect with the Debezium connector (log: $CDIR/connect.log)"
# Debezium streams (its slot is active) once its snapshot is done.
deadline=$((SECONDS + 90))
while [ "$(slot_field dbz_slot active)" != t ]; do
    [ "$SECONDS" -lt "$deadline" ] || fail "Debezium's slot dbz_slot not active after 90 s"
    case "$(connect_status "$CPORT" || true)" in *FAILED*) fail "Debezium connector failed: $(connect_status "$CPORT" | head -c 2000)" ;; esac
    sleep 0.3
done
ok "Debezium $DBZ_VERSION snapshotted and streams from dbz_slot (Connect REST on $CPORT)"

P_TABLES=$TABLES P_SNAPSHOT=initial P_SLOT=cdc_slot P_SOURCE_EXTRA='skipped_operations: none' write_pipeline
sed -i "s/^topic_prefix: .*/topic_prefix: $PREFIX/" "$T/pipeline.yaml"
write_platform
agent_start
ok "cdcagent snapshotted and streams from cdc_slot"

# ---------------------------------------------------------------- the workload
sql "INSERT INTO every_type VALUES ${ROW1/#(1,/(11,}, ${ROW2/#(2,/(12,}"
sql "INSERT INTO every_type VALUES ${ROW3/#(3,/(13,}, ${ROW4/#(4,/(14,}"
sql "INSERT INTO every_type (id, c_varbit) VALUES (5, B'')"
sql "UPDATE every_type SET c_text = 'updated', c_int4 = c_int4 - 1, c_float8 = '-Infinity' WHERE id = 1"
sql "DELETE FROM every_type WHERE id = 2"
# REPLICA IDENTITY FULL: whole old rows, NaN in the old row, unchanged TOAST from the old row.
sql "INSERT INTO full_t VALUES (3, 'three', -3.3, 'Infinity', NULL)"
sql "UPDATE full_t SET v = 'uno' WHERE id = 1"
sql "UPDATE full_t SET n = 2.5, f = 0.1 WHERE id = 2"
sql "DELETE FROM full_t WHERE id = 3"
sql "BEGIN" "UPDATE full_t SET id = 20 WHERE id = 2" "INSERT INTO customers VALUES (4, 'Dan', 1, now(), 'new')" "COMMIT"
# REPLICA IDENTITY DEFAULT: a primary-key change, deletes with key-only before images.
sql "UPDATE customers SET id = 10, name = 'Alice2' WHERE id = 1"
sql "DELETE FROM customers WHERE id = 2"
sql "UPDATE customers SET balance = NULL, status = 'gone' WHERE id = 3"
# Unchanged TOAST under DEFAULT: the placeholder; a changed one: the value.
sql "UPDATE docs SET note = 'v2' WHERE id = 1"
sql "UPDATE docs SET body = 'replaced', tags = '{c}' WHERE id = 1"
sql "DELETE FROM docs WHERE id = 2"
# Logical decoding messages, transactional and not.
sql "BEGIN" "SELECT pg_logical_emit_message(true, 'pfx', 'in a transaction')" \
    "INSERT INTO nopk VALUES (2, 'with a message', NULL)" "COMMIT" >/dev/null
sql "SELECT pg_logical_emit_message(false, 'pfx2', convert_to('non-transactional ✓', 'UTF8'))" >/dev/null
# A table without primary key (key null), then with REPLICA IDENTITY FULL.
sql "INSERT INTO nopk VALUES (3, 'three', '1999-12-31 23:59:59.5')"
sql "ALTER TABLE nopk REPLICA IDENTITY FULL"
sql "UPDATE nopk SET b = 'THREE' WHERE a = 3"
sql "DELETE FROM nopk WHERE a = 1"
# TRUNCATE.
sql "TRUNCATE trunc_t"
sql "INSERT INTO trunc_t (v) VALUES ('after truncate')"
# ALTER TABLE mid-stream.
sql "ALTER TABLE customers ADD COLUMN extra text DEFAULT 'x'"
sql "INSERT INTO customers (id, name, status) VALUES (5, 'Eve', 'new')"
sql "UPDATE customers SET extra = NULL WHERE id = 5"
sql "ALTER TABLE customers ADD COLUMN added_int int NOT NULL DEFAULT 7"
sql "INSERT INTO customers (id, name) VALUES (6, 'Fay')"
sql "ALTER TABLE customers DROP COLUMN balance"
sql "INSERT INTO customers (id, name, created_at) VALUES (7, 'Gil', '2024-12-31 23:00:00-01')"
sql "DELETE FROM customers WHERE id = 5"
# The fence: the last change of the workload.
sql "INSERT INTO fence VALUES (1)"

# ---------------------------------------------------------------- collect both outputs
DBZ_OUT=$T/debezium.jsonl
deadline=$((SECONDS + 60))
until grep -q "\"topic\":\"$PREFIX.public.fence\"" "$EVENTS" 2>/dev/null; do
    [ "$SECONDS" -lt "$deadline" ] || fail "cdcagent: no fence event after 60 s"
    agent_alive || fail "cdcagent exited during the workload"
    sleep 0.2
done
deadline=$((SECONDS + 60))
until "$PY" "$CDC_SRC/test/lib/kafka_dump.py" --bootstrap "$BOOT" --timeout 10 "$PREFIX.public.fence" 2>/dev/null | grep -q .; do
    [ "$SECONDS" -lt "$deadline" ] || fail "Debezium: no record on $PREFIX.public.fence after 60 s"
    sleep 0.5
done
sleep 1          # the records Connect's producer has in flight for other partitions
"$PY" "$CDC_SRC/test/lib/kafka_dump.py" --bootstrap "$BOOT" --prefix "$PREFIX." >"$DBZ_OUT" \
    || fail "kafka_dump of the $PREFIX.* topics"
agent_stop
connect_stop "$CDIR"
note "Debezium: $(line_count "$DBZ_OUT") records, cdcagent: $(line_count "$EVENTS") lines (dumps in $T)"

# ---------------------------------------------------------------- compare
python3 - "$DBZ_OUT" "$EVENTS" "$ALLOW" "$T/dbz_schemas.json" >"$T/compare.out" 2>&1 <<'PY' || true
import fnmatch, json, sys
from collections import OrderedDict

dbz_path, cdc_path, allow_text, schemas_path = sys.argv[1:5]
allow = []
for line in allow_text.splitlines():
    if line.strip():
        ops, path = line.split()
        allow.append((ops.split(","), path.split(".")))

def allowed(op, path):
    for ops, pat in allow:
        if ("*" in ops or op in ops) and len(pat) == len(path) and \
                all(p == "*" or p == str(s) for p, s in zip(pat, path)):
            return True
    return False

dbz = OrderedDict()
schemas = {}
for line in open(dbz_path):
    r = json.loads(line)
    k, v = r["key"], r["value"]
    dbz.setdefault(r["topic"], []).append({
        "key": None if k is None else k["payload"],
        "value": None if v is None else v["payload"],
        "headers": r["headers"]})
    s = schemas.setdefault(r["topic"], {})
    if k is not None:
        s.setdefault("key", k["schema"])
    if v is not None:
        s.setdefault("value", [])
        if v["schema"] not in s["value"]:
            s["value"].append(v["schema"])
json.dump(schemas, open(schemas_path, "w"), indent=1)

cdc = OrderedDict()
for line in open(cdc_path):
    if line.strip():
        e = json.loads(line)
        cdc.setdefault(e["metadata"]["topic"], []).append({"key": e["key"], "value": e["value"]})

diffs = []
def show(v):
    return json.dumps(v, ensure_ascii=False)[:300]
def walk(topic, idx, op, where, path, a, b):
    if isinstance(a, dict) and isinstance(b, dict):
        for k in list(a) + [k for k in b if k not in a]:
            p = path + [k]
            if k not in a:
                if not allowed(op, p):
                    diffs.append((topic, idx, where + "." + ".".join(map(str, p)), "<absent>", show(b[k])))
            elif k not in b:
                if not allowed(op, p):
                    diffs.append((topic, idx, where + "." + ".".join(map(str, p)), show(a[k]), "<absent>"))
            else:
                walk(topic, idx, op, where, p, a[k], b[k])
        if list(a) != list(b) and set(a) == set(b):
            diffs.append((topic, idx, where + "." + ".".join(map(str, path)) + " (field order)",
                          show(list(a)), show(list(b))))
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            walk(topic, idx, op, where, path + [i], x, y)
    else:
        # JSON types must match too: 1 and 1.0 differ (a double written as an integer).
        same = type(a) is type(b) and a == b
        if not same and not allowed(op, path):
            diffs.append((topic, idx, where + ("." if path else "") + ".".join(map(str, path)), show(a), show(b)))

compared = 0
for topic in sorted(set(dbz) | set(cdc)):
    d, c = dbz.get(topic, []), cdc.get(topic, [])
    if len(d) != len(c):
        diffs.append((topic, "-", "(record count)", str(len(d)), str(len(c))))
    for i, (x, y) in enumerate(zip(d, c)):
        compared += 1
        op = (x["value"] or {}).get("op") or (y["value"] or {}).get("op") or "tombstone"
        walk(topic, i, op, "key", [], x["key"], y["key"])
        walk(topic, i, op, "value", [], x["value"], y["value"])
    if len(d) != len(c):
        # show the ops side by side so a missing/extra record is easy to spot
        ops = lambda rs: " ".join((r["value"] or {}).get("op", "-") if r["value"] is not None else "T" for r in rs)
        print("# %s debezium ops: %s" % (topic, ops(d)))
        print("# %s cdcagent ops: %s" % (topic, ops(y for y in c)))
for t in diffs:
    print("# DIFF topic=%s index=%s path=%s debezium=%s cdcagent=%s" % t)
print("RESULT %d %d %d" % (len(set(dbz) | set(cdc)), compared, len(diffs)))
PY
grep '^# ' "$T/compare.out" | head -n "${DIFF_LINES:-400}" || true
result=$(grep '^RESULT ' "$T/compare.out" || true)
if [ -z "$result" ]; then
    sed 's/^/# /' "$T/compare.out"
    fail "the comparison script did not finish"
fi
read -r _ n_topics n_cmp n_diff <<<"$result"
note "$n_topics topics, $n_cmp record pairs compared, $n_diff differences outside the allow-list"
[ "$n_cmp" -gt 50 ] || fail "only $n_cmp record pairs compared"
expect_eq "Debezium and cdcagent agree on every key and value, apart from the allow-list" "$n_diff" 0

done_testing

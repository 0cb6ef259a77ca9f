#!/usr/bin/env bash
# 260: the DIFFERENTIAL test over KAFKA.  The workload of 250 (snapshot rows, then every mapped
# type, NULLs, NaN/±Infinity, arrays, enums, a domain, REPLICA IDENTITY DEFAULT and FULL, a table
# without a primary key, a primary-key change, unchanged TOAST, TRUNCATE, logical decoding
# messages, ALTER TABLE ADD/DROP COLUMN, transactions over several tables) (test/fixtures/debezium_workload.sh,
# with text outside the BMP, stored generated columns and the cases of EXPECT) is captured at the
# same time, with transaction metadata and heartbeats on, by
#   - Debezium 2.7.4 (Kafka Connect 3.7.1 standalone, JsonConverter schemas.enable=true, topics
#     created by Connect with 3 partitions) into broker A, and
#   - cdcagent (transport_mode kafka, serialization json, json_schemas_enable true,
#     topic_num_partitions 3) into a SEPARATE broker B, and
#   - a second cdcagent (serialization avro, the Schema Registry double, its own slot) into
#     a third broker C,
# with the same topic prefix.  Then, read back from both brokers:
#   - the set of data topics ({prefix}.*, {prefix}.transaction included) must be the same,
#     with the same partition counts;
#     cdcagent's {topic}.dlq topics are an allowed addition when they are empty;
#   - per topic the same number of records, paired in the stream's logical order (snapshot
#     rows, then source LSN; see pair_key below) and, for every record:
#       * the key: the FULL JsonConverter JSON (schema and payload), number and string
#         spellings included (the key bytes choose the partition);
#       * the value: the FULL JsonConverter JSON (schema and payload), spellings included,
#         except the payload fields on ALLOW (the same list as 250, run-specific);
#       * the partition number (records with a null key excepted: Debezium's producer puts
#         them on a "sticky" partition of its own choosing);
#       * the headers other than cdc.* (e.g. __debezium.oldkey / __debezium.newkey), byte
#         for byte and in order; cdc.* headers are cdcagent's documented addition;
#   - per partition, both brokers hold the paired records in the same offset order.
# Every difference is printed as topic, partition, index, path, debezium value, cdcagent
# value (identical differences repeated over many records are grouped; $T/compare.out lists
# each one).  Allowances are justified in docs/debezium-differences.md ("The Kafka
# differential test").
#
# Needs: java 17, mvn (Maven Central), pip (PyPI); everything is cached in $CDC_CACHE.
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"
# shellcheck source=SCRIPTDIR/../lib/connect.sh
. "$CDC_SRC/test/lib/connect.sh"
# shellcheck source=SCRIPTDIR/../lib/py.sh
. "$CDC_SRC/test/lib/py.sh"
# shellcheck source=SCRIPTDIR/../fixtures/debezium_workload.sh
. "$CDC_SRC/test/fixtures/debezium_workload.sh"
# shellcheck source=SCRIPTDIR/../lib/kafka.sh
. "$CDC_SRC/test/lib/kafka.sh"

# ---------------------------------------------------------------- the allow-list
# As in 250: OPS PATH per line; OPS is a comma-separated list of value.op codes ("*": any
# record), PATH a dotted path in the VALUE PAYLOAD ("*" matches one segment).  Nothing in a
# key, a schema, a header or a partition number is on it.
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
# Documented differences (docs/debezium-differences.md): where Debezium is wrong and cdcagent
# keeps the right value.  One per line: TOPIC | PATH | DEBEZIUM | CDCAGENT, PATH relative to the
# value payload, values as printed in DIFF lines.  Such a difference is accepted only with
# exactly these two values, and each line must be seen (so a fix on either side shows up).
# A caller (861) may set EXPECT and EXPECT_AVRO itself, for another Debezium release.
# KNOWN_GAPS and KNOWN_GAPS_AVRO (empty here; 861 sets them) list differences where cdcagent's
# profile does not yet reproduce that release, one per line: TOPIC_REGEX | PATH_REGEX (full
# paths as in the DIFF lines, both regexes matching whole; "(headers)" covers only Debezium's
# extra __debezium.context.* headers, the others must still be equal).  Each must be seen
# at least once, so a fix shows up; docs/debezium-differences.md lists them.
# The diverge table's snapshot rows: money at its limits (Debezium's JDBC snapshot reads money
# through a double), timestamps before the common era (Debezium's snapshot is two days off).
if [ -z "${EXPECT+set}" ]; then EXPECT='
cdc.public.diverge | after.m    | "AIAAAAAAAADA"                  | "f/////////8="
cdc.public.diverge | after.m    | "/3////////9A"                  | "gAAAAAAAAAA="
cdc.public.diverge | after.ts   | -63517959870000000              | -63517787070000000
cdc.public.diverge | after.ts   | -62167392000000000              | -62167219200000000
cdc.public.diverge | after.tstz | "-0043-03-13T10:15:30.000000Z"  | "-0043-03-15T10:15:30.000000Z"
cdc.public.diverge | after.tstz | "0000-12-29T23:59:59.500000Z"   | "0000-12-31T23:59:59.500000Z"
'; fi
# The same differences as the AvroDeserializer's values (Python reprs).
if [ -z "${EXPECT_AVRO+set}" ]; then EXPECT_AVRO="
cdc.public.diverge | after.m    | Decimal('92233720368547760.00')  | Decimal('92233720368547758.07')
cdc.public.diverge | after.m    | Decimal('-92233720368547760.00') | Decimal('-92233720368547758.08')
cdc.public.diverge | after.ts   | -63517959870000000               | -63517787070000000
cdc.public.diverge | after.ts   | -62167392000000000               | -62167219200000000
cdc.public.diverge | after.tstz | '-0043-03-13T10:15:30.000000Z'   | '-0043-03-15T10:15:30.000000Z'
cdc.public.diverge | after.tstz | '0000-12-29T23:59:59.500000Z'    | '0000-12-31T23:59:59.500000Z'
"; fi
PREFIX=cdc
TABLES=$FIXTURE_TABLES
# The agents' kafka.debezium_version profile: 861 runs this test against Debezium 3.6.1.
AGENT_DBZ_PROFILE=${AGENT_DBZ_PROFILE:-2.7}
NPARTS=3

need_agent
connect_install || fail "connect_install (Kafka Connect + Debezium from Maven Central)"
py_env || fail "py_env (confluent-kafka from PyPI)"
kafka_probe_bin >/dev/null || fail "test/tools/kafka_probe is not built (ninja -C build)"
kafka_install || fail "kafka_install"
ok "Kafka Connect $KAFKA_CONNECT_VERSION, Debezium $DBZ_VERSION, $("$PY" -c 'import confluent_kafka as c; print("confluent-kafka", c.version()[0])') installed"

KDIR_A=$T/kafka-a          # Debezium's broker
KDIR_B=$T/kafka-b          # cdcagent's broker
CDIR=$T/connect
KDIR_C=$T/kafka-c          # the Avro cdcagent's broker
AVRO_PID=
_it260_cleanup() {
    local rc=$?
    set +e
    [ -n "$AVRO_PID" ] && kill -KILL "$AVRO_PID" 2>/dev/null
    connect_stop "$CDIR" 2>/dev/null
    kafka_stop "$KDIR_A" 2>/dev/null
    kafka_stop "$KDIR_B" 2>/dev/null
    kafka_stop "$KDIR_C" 2>/dev/null
    (exit "$rc")
    _cleanup
}
trap _it260_cleanup EXIT

# ---------------------------------------------------------------- schema and snapshot rows
pg_up
fixture_schema
fixture_snapshot_rows

# ---------------------------------------------------------------- two brokers, Debezium, cdcagent
port_pair() {   # a free port P with P+1 free too, not in $1
    local p i
    for ((i = 0; i < 50; i++)); do
        p=$(free_port)
        case " ${1:-} " in *" $p "* | *" $((p + 1)) "* | *" $((p - 1)) "*) continue ;; esac
        if _port_free $((p + 1)); then echo "$p"; return 0; fi
    done
    return 1
}
KPORT_A=$(port_pair) || fail "no free port for broker A"
KPORT_B=$(port_pair "$KPORT_A") || fail "no free port for broker B"
KPORT_C=$(port_pair "$KPORT_A $KPORT_B") || fail "no free port for broker C"
kafka_start "$KDIR_A" "$KPORT_A" &
ka_pid=$!
kafka_start "$KDIR_C" "$KPORT_C" &
kc_pid=$!
kafka_start "$KDIR_B" "$KPORT_B" || fail "Kafka broker B on 127.0.0.1:$KPORT_B"
wait "$ka_pid" || fail "Kafka broker A on 127.0.0.1:$KPORT_A"
wait "$kc_pid" || fail "Kafka broker C on 127.0.0.1:$KPORT_C"
BOOT_A=127.0.0.1:$KPORT_A
BOOT_B=127.0.0.1:$KPORT_B
BOOT_C=127.0.0.1:$KPORT_C
SRPORT=$(free_port)
bg python3 "$CDC_SRC/test/doubles/schema_registry.py" --port "$SRPORT" >"$T/registry.out"
SR=http://127.0.0.1:$SRPORT
for _ in $(seq 50); do curl -sf "$SR/subjects" >/dev/null && break; sleep 0.1; done
ok "Kafka brokers: A (Debezium) on $BOOT_A, B (cdcagent, JSON) on $BOOT_B, C (cdcagent, Avro; registry double $SR) on $BOOT_C"

CPORT=$(free_port)
DBZ_EXTRA="topic.creation.default.partitions=$NPARTS
topic.creation.default.replication.factor=1
heartbeat.interval.ms=500
provide.transaction.metadata=true" \
DBZ_PORT=$PORT DBZ_PREFIX=$PREFIX DBZ_TABLES=${TABLES// /} DBZ_SLOT=dbz_slot DBZ_PUB=dbz_publication \
    DBZ_SNAPSHOT=initial DBZ_SKIPPED=none connect_start "$CDIR" "$BOOT_A" "$CPORT" \
    || fail "Kafka Connect with the Debezium connector (log: $CDIR/connect.log)"
connect_wait_streaming "$CPORT" dbz_slot
ok "Debezium $DBZ_VERSION snapshotted and streams from dbz_slot (Connect REST on $CPORT)"

P_TABLES=$TABLES P_SNAPSHOT=initial P_SLOT=cdc_slot P_SOURCE_EXTRA='skipped_operations: none
heartbeat_interval_ms: 500
provide_transaction_metadata: true' write_pipeline
sed -i "s/^topic_prefix: .*/topic_prefix: $PREFIX/" "$T/pipeline.yaml"
cat >"$T/platform.yaml" <<YAML
transport_mode: kafka
health_enabled: false
kafka:
  bootstrap_servers: $BOOT_B
  debezium_version: "$AGENT_DBZ_PROFILE"
  serialization: json
  json_schemas_enable: true
  topic_num_partitions: $NPARTS
agent:
  log_level: info
  status_interval_seconds: 1
YAML
# The same pipeline with its own slot and publication, serialization avro, into broker C.
sed -e 's/^pipeline_id: .*/pipeline_id: it-260-avro/' -e 's/slot_name: .*/slot_name: av_slot/' \
    -e 's/publication_name: .*/publication_name: av_publication/' "$T/pipeline.yaml" >"$T/avro-pipeline.yaml"
cat >"$T/avro-platform.yaml" <<YAML
transport_mode: kafka
health_enabled: false
kafka:
  bootstrap_servers: $BOOT_C
  debezium_version: "$AGENT_DBZ_PROFILE"
  schema_registry_url: $SR
  topic_num_partitions: $NPARTS
agent:
  log_level: info
  status_interval_seconds: 1
YAML
"$CDCAGENT" run "$T/avro-pipeline.yaml" --platform-config "$T/avro-platform.yaml" \
    >"$T/avro-agent.stdout" 2>"$T/avro-agent.log" &
AVRO_PID=$!
agent_start
deadline=$((SECONDS + 60))
while [ "$(slot_field av_slot active)" != t ]; do
    kill -0 "$AVRO_PID" 2>/dev/null || fail "the Avro cdcagent exited (see $T/avro-agent.log)"
    [ "$SECONDS" -lt "$deadline" ] || fail "slot av_slot not active after 60 s"
    sleep 0.2
done
ok "cdcagent snapshotted and streams from cdc_slot into broker B (JSON) and from av_slot into broker C (Avro)"

# ---------------------------------------------------------------- the workload
fixture_workload           # test/fixtures/debezium_workload.sh; ends with the fence row

# ---------------------------------------------------------------- wait for the fence on both brokers
fence_seen() {
    "$PY" "$CDC_SRC/test/lib/kafka_dump.py" --bootstrap "$1" --timeout 10 "$PREFIX.public.fence" 2>/dev/null | grep -q .
}
deadline=$((SECONDS + 60))
until fence_seen "$BOOT_B"; do
    [ "$SECONDS" -lt "$deadline" ] || fail "cdcagent: no record on $PREFIX.public.fence (broker B) after 60 s"
    agent_alive || fail "cdcagent exited during the workload"
    sleep 0.5
done
deadline=$((SECONDS + 60))
until fence_seen "$BOOT_A"; do
    [ "$SECONDS" -lt "$deadline" ] || fail "Debezium: no record on $PREFIX.public.fence (broker A) after 60 s"
    sleep 0.5
done
deadline=$((SECONDS + 60))
until fence_seen "$BOOT_C"; do
    [ "$SECONDS" -lt "$deadline" ] || fail "cdcagent (Avro): no record on $PREFIX.public.fence (broker C) after 60 s"
    kill -0 "$AVRO_PID" 2>/dev/null || fail "the Avro cdcagent exited during the workload"
    sleep 0.5
done
agent_stop                 # SIGTERM drains the producer
kill -TERM "$AVRO_PID"
avro_rc=0
wait "$AVRO_PID" || avro_rc=$?
AVRO_PID=
expect_eq "the Avro cdcagent exits with status 0 on SIGTERM" "$avro_rc" 0
connect_stop "$CDIR"       # the same for Connect's producer
ok "both tools wrote the fence; both stopped"

# ---------------------------------------------------------------- read both brokers and compare
"$PY" - "$BOOT_A" "$BOOT_B" "$PREFIX" "$ALLOW" "$T" "$BOOT_C" "$SR" "$EXPECT" "$EXPECT_AVRO" \
    "${KNOWN_GAPS:-}" "${KNOWN_GAPS_AVRO:-}" >"$T/compare.out" 2>&1 <<'PY' || true
import base64, json, math, re, struct, sys, time
from collections import OrderedDict, defaultdict
from decimal import Decimal
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext

boot_a, boot_b, prefix, allow_text, tdir, boot_c, sr_url, expect_text, expect_avro_text = sys.argv[1:10]
gaps_text, gaps_avro_text = sys.argv[10:12]
def take_gaps(diffs, text, topic_path, label):
    """Removes the known gaps (TOPIC_REGEX | PATH_REGEX); one never seen is a difference."""
    gaps = [tuple(re.compile(f.strip()) for f in l.split(" | ")) for l in text.splitlines() if l.strip()]
    seen, rest = [0] * len(gaps), []
    for d in diffs:
        t, path = topic_path(d)
        for n, (gt, gp) in enumerate(gaps):
            if gt.fullmatch(t) and gp.fullmatch(path):
                seen[n] += 1
                break
        else:
            rest.append(d)
    for n, (gt, gp) in enumerate(gaps):
        print("# KNOWN GAP %s topic=%s path=%s: seen %d time(s)" % (label, gt.pattern, gp.pattern, seen[n]))
    return rest, [(gt.pattern, gp.pattern) for n, (gt, gp) in enumerate(gaps) if seen[n] == 0]
def expect_list(text):
    out = []
    for line in text.splitlines():
        if line.strip():
            out.append(tuple(f.strip() for f in line.split(" | ")))
    return out
def take_expected(diffs, expected, path_of, label):
    """Removes the documented differences from diffs; a documented one not seen is a difference."""
    seen = [0] * len(expected)
    rest = []
    for d in diffs:
        t, path, a, b = path_of(d)
        for n, (et, ep, ea, eb) in enumerate(expected):
            if t == et and path == ep and a == ea and b == eb:
                seen[n] += 1
                break
        else:
            rest.append(d)
    for n, e in enumerate(expected):
        print("# EXPECTED %s topic=%s path=%s debezium=%s cdcagent=%s: seen %d time(s)" % ((label,) + e + (seen[n],)))
    missing = [e for n, e in enumerate(expected) if seen[n] == 0]
    return rest, missing, sum(1 for n in seen if n)
allow = []
for line in allow_text.splitlines():
    if line.strip():
        ops, path = line.split()
        allow.append((ops.split(","), path.split(".")))

def allowed(op, path):
    # path: the full path of a value field, e.g. ["payload", "source", "ts_ms"]
    if len(path) < 2 or path[0] != "payload" or op in ("BEGIN", "END"):
        return False        # nothing of the transaction topic's records may differ
    path = path[1:]
    for ops, pat in allow:
        if ("*" in ops or op in ops) and len(pat) == len(path) and \
                all(p == "*" or p == str(s) for p, s in zip(pat, path)):
            return True
    return False

# ---- read every record of every topic of a broker
def read_broker(boot):
    c = Consumer({"bootstrap.servers": boot, "group.id": "it260", "enable.auto.commit": False,
                  "auto.offset.reset": "earliest", "enable.partition.eof": False})
    md = c.list_topics(timeout=30)
    topics = {t: len(m.partitions) for t, m in md.topics.items()}
    recs = {}
    deadline = time.monotonic() + 60
    for t in sorted(topics):
        if not t.startswith(prefix + "."):
            continue
        out = recs.setdefault(t, [])
        for p in sorted(md.topics[t].partitions):
            lo, hi = c.get_watermark_offsets(TopicPartition(t, p), timeout=30)
            if hi <= lo:
                continue
            c.assign([TopicPartition(t, p, lo)])
            nxt = lo
            while nxt < hi:
                if time.monotonic() > deadline:
                    sys.exit("timed out reading %s %s[%d]" % (boot, t, p))
                m = c.poll(0.5)
                if m is None:
                    continue
                if m.error():
                    sys.exit("%s %s[%d]: %s" % (boot, t, p, m.error()))
                nxt = m.offset() + 1
                out.append({"partition": p, "offset": m.offset(), "key": m.key(), "value": m.value(),
                            "headers": list(m.headers() or []), "timestamp": m.timestamp()})
            c.unassign()
    c.close()
    return topics, recs

topics_a, dbz = read_broker(boot_a)
topics_b, cdc = read_broker(boot_b)

def raw_dump(recs, path):
    with open(path, "w") as f:
        for t in sorted(recs):
            for r in recs[t]:
                f.write(json.dumps({"topic": t, "partition": r["partition"], "offset": r["offset"],
                                    "timestamp": list(r["timestamp"]),
                                    "key": None if r["key"] is None else r["key"].decode("utf-8", "replace"),
                                    "value": None if r["value"] is None else r["value"].decode("utf-8", "replace"),
                                    "headers": [[k, None if v is None else v.decode("utf-8", "replace")] for k, v in r["headers"]]},
                                   ensure_ascii=False) + "\n")
raw_dump(dbz, tdir + "/debezium.jsonl")
raw_dump(cdc, tdir + "/cdcagent.jsonl")

# ---- JSON with the spelling of every scalar kept: numbers as Num (their text), strings
# compared decoded and, separately, as raw tokens.
class Num(str):
    pass
STR_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"')
def parse(b):
    if b is None:
        return None
    s = b.decode("utf-8")
    return json.loads(s, parse_float=Num, parse_int=Num, parse_constant=Num)
def str_tokens(b):
    return [] if b is None else STR_TOKEN.findall(b.decode("utf-8"))

diffs = []          # (topic, partition, index, path, dbz, cdc)
def show(v):
    if isinstance(v, Num):
        return str(v)
    return json.dumps(v, ensure_ascii=False)[:400]
def walk(ctx, op, where, path, a, b):
    if isinstance(a, dict) and isinstance(b, dict):
        for k in list(a) + [k for k in b if k not in a]:
            p = path + [k]
            if k not in a:
                if not (where == "value" and allowed(op, p)):
                    diffs.append(ctx + (where + "." + ".".join(map(str, p)), "<absent>", show(b[k])))
            elif k not in b:
                if not (where == "value" and allowed(op, p)):
                    diffs.append(ctx + (where + "." + ".".join(map(str, p)), show(a[k]), "<absent>"))
            else:
                walk(ctx, op, where, p, a[k], b[k])
        if list(a) != list(b) and set(a) == set(b):
            diffs.append(ctx + (where + "." + ".".join(map(str, path)) + " (field order)",
                                show(list(a)), show(list(b))))
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            walk(ctx, op, where, path + [i], x, y)
    else:
        # Same JSON type and, for numbers, the same spelling (1 and 1.0, 1e-05 and 1.0E-5 differ).
        same = type(a) is type(b) and a == b
        if not same and not (where == "value" and allowed(op, path)):
            diffs.append(ctx + (where + ("." if path else "") + ".".join(map(str, path)), show(a), show(b)))

def payload(j):
    return j.get("payload") if isinstance(j, dict) else None

# ---- the logical order of a topic's records, the same rule on both sides: snapshot rows
# first (by key payload), then by source LSN; within one LSN (a primary-key change) the
# d record, its tombstone, then the c record.  A tombstone takes the place of the record
# before it (Debezium: in its partition; cdcagent: by its cdc.commit_lsn/cdc.seq headers).
def hdr(r, name):
    for k, v in r["headers"]:
        if k == name and v is not None:
            return v.decode()
    return None
def pair_key(r, prev):
    v, k = parse(r["value"]), parse(r["key"])
    keytext = json.dumps(payload(k), sort_keys=True) if k is not None else ""
    if v is None:
        if prev is None:
            return (9, 0, 1, keytext)
        return prev[:2] + (1, keytext)
    pv = payload(v) or {}
    op = pv.get("op")
    lsn = int(str((pv.get("source") or {}).get("lsn") or 0))
    return (0 if op == "r" else 1, lsn, 0 if op == "d" else 2, keytext)

def order(recs, side):
    if side == "cdc":
        def pos(r):
            return (int(hdr(r, "cdc.commit_lsn") or 0), int(hdr(r, "cdc.seq") or 0), r["partition"], r["offset"])
        seq = sorted(recs, key=pos)
        prev, keyed = None, []
        for r in seq:
            pk = pair_key(r, prev)
            if r["value"] is not None:
                prev = pk
            keyed.append((pk, pos(r), r))
    else:
        prev_in_part, keyed = {}, []
        for r in sorted(recs, key=lambda r: (r["partition"], r["offset"])):
            pk = pair_key(r, prev_in_part.get(r["partition"]))
            if r["value"] is not None:
                prev_in_part[r["partition"]] = pk
            keyed.append((pk, (r["timestamp"][1], r["partition"], r["offset"]), r))
    keyed.sort(key=lambda x: (x[0], x[1]))
    return [r for _, _, r in keyed]

# ---- topics
def data_topics(ts):
    return {t: n for t, n in ts.items() if t.startswith(prefix + ".")}
ta, tb = data_topics(topics_a), data_topics(topics_b)
print("# broker A topics: %s" % " ".join("%s(%d)" % (t, n) for t, n in sorted(topics_a.items())))
print("# broker B topics: %s" % " ".join("%s(%d)" % (t, n) for t, n in sorted(topics_b.items())))
for t in sorted(tb):
    if t.endswith(".dlq") and t not in ta:
        if cdc.get(t):
            diffs.append((t, "-", "-", "(dlq topic not empty)", "<absent>", str(len(cdc[t]))))
        del tb[t]
        cdc.pop(t, None)
for t in sorted(set(ta) | set(tb)):
    if t not in tb:
        diffs.append((t, "-", "-", "(topic)", "present", "<absent>"))
    elif t not in ta:
        diffs.append((t, "-", "-", "(topic)", "<absent>", "present"))
    elif ta[t] != tb[t]:
        diffs.append((t, "-", "-", "(partition count)", str(ta[t]), str(tb[t])))

# ---- run-specific values (3.5+, docs/debezium-differences.md "Debezium 3.6.1"), on both sides:
# - the __debezium.context.runId header is a version 7 UUID made per run (Debezium: per task
#   start; cdcagent: per destination start): each must have that form, one per broker;
# - an END record names each transactional logical message's data collection by a JVM
#   identity hash ("...LogicalDecodingMessageId@1a2b3c"), random, so its place in the HashMap
#   order is too: those entries are compared by their count alone, after the tables.
RUN_ID = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
MSG_COLL = re.compile(r"io\.debezium\.connector\.postgresql\.LogicalDecodingMessageMonitor"
                      r"\$LogicalDecodingMessageId@[0-9a-f]{1,8}")
run_ids = {"dbz": set(), "cdc": set()}
def run_headers(h, side):
    out = []
    for k, v in h:
        if k == "__debezium.context.runId" and v is not None and RUN_ID.fullmatch(v):
            run_ids[side].add(v)
            v = b"<run id: a version 7 UUID>"
        out.append((k, v))
    return out
def run_values(topic, v):
    p = v.get("payload") if isinstance(v, dict) else None
    if not topic.endswith(".transaction") or not isinstance(p, dict) or not p.get("data_collections"):
        return v
    dc = p["data_collections"]
    msg = [dict(e, data_collection="<LogicalDecodingMessageId@identity hash>") for e in dc
           if isinstance(e, dict) and MSG_COLL.fullmatch(str(e.get("data_collection")))]
    p["data_collections"] = [e for e in dc if not (isinstance(e, dict) and
                                                   MSG_COLL.fullmatch(str(e.get("data_collection"))))] + msg
    return v

# ---- records
compared = 0
for t in sorted(set(ta) & set(tb)):
    d, c = order(dbz.get(t, []), "dbz"), order(cdc.get(t, []), "cdc")
    if len(d) != len(c):
        diffs.append((t, "-", "-", "(record count)", str(len(d)), str(len(c))))
        ops = lambda rs: " ".join(((payload(parse(r["value"])) or {}).get("op", "?") if r["value"] is not None else "T") for r in rs)
        print("# %s debezium ops: %s" % (t, ops(d)))
        print("# %s cdcagent ops: %s" % (t, ops(c)))
    where_d, where_c = {}, {}
    for i, (x, y) in enumerate(zip(d, c)):
        compared += 1
        kx, ky, vx, vy = parse(x["key"]), parse(y["key"]), parse(x["value"]), parse(y["value"])
        vx, vy = run_values(t, vx), run_values(t, vy)
        op = (payload(vx) or {}).get("op") or (payload(vy) or {}).get("op") or \
            (payload(vx) or {}).get("status") or "tombstone"
        ctx = (t, "%s/%s" % (x["partition"], y["partition"]), i)
        walk(ctx, op, "key", [], kx, ky)
        walk(ctx, op, "value", [], vx, vy)
        # string spellings (escapes) where the decoded strings are equal
        for where, a, b in (("key", x["key"], y["key"]), ("value", x["value"], y["value"])):
            sa, sb = str_tokens(a), str_tokens(b)
            if len(sa) == len(sb):
                for ra, rb in zip(sa, sb):
                    if ra != rb and json.loads(ra) == json.loads(rb):
                        diffs.append(ctx + (where + " (string spelling)", ra[:200], rb[:200]))
        if x["key"] is not None and x["partition"] != y["partition"]:
            diffs.append(ctx + ("(partition)", str(x["partition"]), str(y["partition"])))
        hx = run_headers(x["headers"], "dbz")
        hy = run_headers([(k, v) for k, v in y["headers"] if not k.startswith("cdc.")], "cdc")
        if gaps_text and "(headers)" in gaps_text and hx != hy:
            hx_ctx = [(k, v) for k, v in hx if not k.startswith("__debezium.context.")]
            if hx_ctx == hy:
                diffs.append(ctx + ("(headers)", "__debezium.context.*", "-"))
                hx = hy
        if hx != hy:
            sh = lambda h: json.dumps([[k, None if v is None else v.decode("utf-8", "replace")] for k, v in h], ensure_ascii=False)
            diffs.append(ctx + ("(headers)", sh(hx), sh(hy)))
        where_d.setdefault(x["partition"], []).append((i, x))
        where_c.setdefault(y["partition"], []).append((i, y))
    # per partition: the keyed records in the same offset order on both brokers
    for p in sorted(set(where_d) | set(where_c)):
        od = [i for i, r in sorted(where_d.get(p, []), key=lambda z: z[1]["offset"]) if r["key"] is not None]
        oc = [i for i, r in sorted(where_c.get(p, []), key=lambda z: z[1]["offset"]) if r["key"] is not None]
        if od != oc:
            diffs.append((t, p, "-", "(offset order of keyed records, as pair indices)", str(od)[:300], str(oc)[:300]))

def json_path(d):
    t, p, i, path, a, b = d
    return t, path[len("value.payload."):] if path.startswith("value.payload.") else path, a, b
diffs, missing, n_expected = take_expected(diffs, expect_list(expect_text), json_path, "JSON")
for e in missing:
    diffs.append((e[0], "-", "-", "(documented difference not seen) " + e[1], e[2], e[3]))
for side, ids in run_ids.items():
    if len(ids) > 1:
        diffs.append(("-", "-", "-", "(headers) __debezium.context.runId: one per run", side, str(len(ids))))
diffs, missing = take_gaps(diffs, gaps_text, lambda d: (d[0], d[3]), "JSON")
for e in missing:
    diffs.append((e[0], "-", "-", "(known gap not seen) " + e[1], "-", "-"))
for x in diffs:
    print("DIFF topic=%s partition=%s index=%s path=%s debezium=%s cdcagent=%s" % x)
# grouped: the same path and the same two values over many records
groups = OrderedDict()
for t, p, i, path, a, b in diffs:
    groups.setdefault((t, path, a, b), []).append("%s#%s" % (p, i))
for (t, path, a, b), where in groups.items():
    print("# DIFF topic=%s path=%s debezium=%s cdcagent=%s  [in %d record(s), partition(dbz/cdc)#index: %s]"
          % (t, path, a, b, len(where), " ".join(where[:12]) + (" ..." if len(where) > 12 else "")))
# ---- Avro (broker C): every value the platform's AvroDeserializer reads back must equal the
# value Debezium wrote (its JSON read through its own Connect schema), record by record in
# the same pairing; the same allow-list applies.  Schemas and spellings are not compared
# here (JSON and Avro spell them differently); the registered schemas are checked elsewhere.
topics_c, avr_raw = read_broker(boot_c)
src = SchemaRegistryClient({"url": sr_url})
deser = AvroDeserializer(src)
def jsonable(o):
    if isinstance(o, bytes):
        return {"$bytes": base64.b64encode(o).decode()}
    if isinstance(o, Decimal):
        return {"$decimal": str(o)}
    if isinstance(o, float) and not math.isfinite(o):
        return {"$float": repr(o)}
    if isinstance(o, dict):
        return {k: jsonable(v) for k, v in o.items()}
    if isinstance(o, list):
        return [jsonable(v) for v in o]
    return o
avr = {}
for t, rs in avr_raw.items():
    out = avr.setdefault(t, [])
    for r in rs:
        k = None if r["key"] is None else deser(r["key"], SerializationContext(t, MessageField.KEY))
        v = None if r["value"] is None else deser(r["value"], SerializationContext(t, MessageField.VALUE))
        out.append(dict(r, key=None if r["key"] is None else json.dumps({"payload": jsonable(k)}).encode(),
                        value=None if r["value"] is None else json.dumps({"payload": jsonable(v)}).encode()))
def canon(schema, v):
    """Debezium's JSON value v, read through its Connect schema, as a comparable value."""
    if v is None:
        return None
    t = schema.get("type")
    if t == "struct":
        return {f["field"]: canon(f, v.get(f["field"])) for f in schema["fields"]}
    if t == "array":
        return [canon(schema["items"], x) for x in v]
    if t == "bytes":
        b = base64.b64decode(v)
        if schema.get("name") == "org.apache.kafka.connect.data.Decimal":
            return Decimal(int.from_bytes(b, "big", signed=True)).scaleb(-int(schema["parameters"]["scale"]))
        return b
    if t in ("float", "double"):
        f = float(str(v))
        return ("f32", struct.pack(">f", f)) if t == "float" else ("f64", struct.pack(">d", f))
    if t in ("int8", "int16", "int32", "int64"):
        return int(str(v))
    return v
def canon_avro(schema, v):
    """The AvroDeserializer's value, as canon() makes Debezium's."""
    if v is None:
        return None
    t = schema.get("type")
    if t == "struct":
        return {f["field"]: canon_avro(f, v.get(f["field"])) for f in schema["fields"]}
    if t == "array":
        return [canon_avro(schema["items"], x) for x in v]
    if isinstance(v, dict) and "$bytes" in v:
        return base64.b64decode(v["$bytes"])
    if isinstance(v, dict) and "$decimal" in v:
        return Decimal(v["$decimal"])
    if isinstance(v, dict) and "$float" in v:
        v = v["$float"]
    if t in ("float", "double"):    # parse() keeps numbers as their text (Num)
        f = float(str(v))
        return ("f32", struct.pack(">f", f)) if t == "float" else ("f64", struct.pack(">d", f))
    if t in ("int8", "int16", "int32", "int64"):
        return int(str(v))
    return v
def walk_avro(ctx, op, path, a, b):
    if isinstance(a, dict) and isinstance(b, dict):
        for k in set(a) | set(b):
            walk_avro(ctx, op, path + [k], a.get(k), b.get(k))
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            walk_avro(ctx, op, path + [i], x, y)
    elif a == b and a is not None:
        avro_leaves[0] += 1
    elif not (a == b or (isinstance(a, Decimal) and isinstance(b, Decimal) and a.compare_total(b) == 0)):
        if a is not None:
            avro_leaves[0] += 1
        if not allowed(op, ["payload"] + path):
            avro_diffs.append(ctx + (".".join(map(str, path)), repr(a)[:200], repr(b)[:200]))
avro_diffs, avro_compared, avro_leaves = [], 0, [0]
for t in sorted(set(dbz) | set(avr)):
    if not t.startswith(prefix + ".") or t.endswith(".dlq"):
        continue
    d, c = order(dbz.get(t, []), "dbz"), order(avr.get(t, []), "cdc")
    if len(d) != len(c):
        avro_diffs.append((t, "-", "(record count)", str(len(d)), str(len(c))))
        continue
    for i, (x, y) in enumerate(zip(d, c)):
        avro_compared += 1
        for part in ("key", "value"):
            jx, jy = parse(x[part]), parse(y[part])
            if part == "value":
                jx, jy = run_values(t, jx), run_values(t, jy)
            if jx is None or jy is None:
                if (jx is None) != (jy is None):
                    avro_diffs.append((t, i, part, str(jx)[:80], str(jy)[:80]))
                continue
            op = (jx["payload"] or {}).get("op") or (jx["payload"] or {}).get("status") or "-"
            walk_avro((t, i), op if part == "value" else "-", [part] if part == "key" else [],
                      canon(jx["schema"], jx["payload"]), canon_avro(jx["schema"], jy["payload"]))
avro_diffs, missing, n_avro_expected = take_expected(
    avro_diffs, expect_list(expect_avro_text), lambda d: (d[0], d[2], d[3], d[4]), "AVRO")
for e in missing:
    avro_diffs.append((e[0], "-", "(documented difference not seen) " + e[1], e[2], e[3]))
avro_diffs, missing = take_gaps(avro_diffs, gaps_avro_text, lambda d: (d[0], d[2]), "AVRO")
for e in missing:
    avro_diffs.append((e[0], "-", "(known gap not seen) " + e[1], "-", "-"))
for x in avro_diffs:
    print("# AVRO DIFF topic=%s index=%s path=%s debezium=%s cdcagent-avro=%s" % x)
print("AVRO %d %d %d" % (avro_compared, len(avro_diffs), avro_leaves[0]))

txt = prefix + ".transaction"
blocks = sum(1 for r in cdc.get(prefix + ".public.customers", [])
             if (payload(parse(r["value"])) or {}).get("transaction") is not None)
print("TX %d %d %d" % (len(dbz.get(txt, [])), len(cdc.get(txt, [])), blocks))
print("EXPECTED %d %d" % (n_expected, n_avro_expected))
print("RESULT %d %d %d %d" % (len(set(ta) | set(tb)), compared, len(diffs), len(groups)))
PY
grep '^# ' "$T/compare.out" | head -n "${DIFF_LINES:-600}" || true
result=$(grep '^RESULT ' "$T/compare.out" || true)
if [ -z "$result" ]; then
    sed 's/^/# /' "$T/compare.out" | tail -n 40
    fail "the comparison script did not finish"
fi
read -r _ n_topics n_cmp n_diff n_groups <<<"$result"
note "$n_topics data topics, $n_cmp record pairs compared, $n_diff differences ($n_groups distinct) outside the allow-list; every one in $T/compare.out"
[ "$n_cmp" -gt 50 ] || fail "only $n_cmp record pairs compared"
expect_eq "Debezium (broker A) and cdcagent (broker B) agree on topics, partitions, keys, values, schemas and headers, apart from the allow-list" "$n_diff" 0
read -r _ n_exp n_exp_avro <<<"$(grep '^EXPECTED ' "$T/compare.out")"
check "every documented difference (docs/debezium-differences.md) was seen, with its two values, in JSON and in Avro" \
    test "${n_exp:-0}" -eq "$(grep -c ' | ' <<<"$EXPECT" || true)" -a \
        "${n_exp_avro:-0}" -eq "$(grep -c ' | ' <<<"$EXPECT_AVRO" || true)"
read -r _ n_tx_dbz n_tx_cdc n_blocks <<<"$(grep '^TX ' "$T/compare.out")"
note "$PREFIX.transaction: $n_tx_dbz records from Debezium, $n_tx_cdc from cdcagent; $n_blocks $PREFIX.public.customers events carry a transaction block"
check "both tools wrote BEGIN/END records (so the comparison above covered them)" \
    test "${n_tx_dbz:-0}" -gt 10 -a "${n_tx_cdc:-0}" -gt 10
check "streamed events carry the transaction block" test "${n_blocks:-0}" -gt 5
read -r _ n_avro n_avro_diff n_leaves <<<"$(grep '^AVRO ' "$T/compare.out")"
grep '^# AVRO DIFF' "$T/compare.out" | head -n 60 || true
note "Avro: $n_avro record pairs ($n_leaves non-null values) read back by AvroDeserializer and compared with Debezium's"
check "Avro pairs compared" test "${n_avro:-0}" -gt 50 -a "${n_leaves:-0}" -gt 1500
expect_eq "the Avro topics (broker C) decode to the values Debezium wrote, apart from the allow-list" "${n_avro_diff:-x}" 0
# Stored generated columns: the snapshot's relation has them, the streamed one not, so the
# value subject has two versions (both registered, the stream's compatible), the key one.
expect_eq "cdc.public.gen_t-value: a version for the snapshot and one for the stream" \
    "$(curl -s "$SR/subjects/cdc.public.gen_t-value/versions" | tr -d ' ')" "[1,2]"
expect_eq "cdc.public.gen_t-key: one version (the key does not change at the switch)" \
    "$(curl -s "$SR/subjects/cdc.public.gen_t-key/versions" | tr -d ' ')" "[1]"

# Heartbeats (heartbeat.interval.ms=500 on both): the first record of each tool's heartbeat
# topic, minus the wall-clock ts_ms, must be the same (topic, partition, key, value schema,
# headers).  The number of beats differs with timing and is not compared.
for side in A B; do
    boot=$BOOT_A; [ "$side" = B ] && boot=$BOOT_B
    "$PY" "$CDC_SRC/test/lib/kafka_dump.py" --bootstrap "$boot" --timeout 10 \
        "__debezium-heartbeat.$PREFIX" >"$T/hb_$side.jsonl" 2>/dev/null || true
done
hb_shape() {
    python3 -c '
import json, sys
r = json.loads(open(sys.argv[1]).readline())
assert isinstance(r["value"]["payload"]["ts_ms"], int)
r["value"]["payload"]["ts_ms"] = "<ts>"
print(json.dumps({k: r[k] for k in ("topic", "partition", "key", "value", "headers")}, sort_keys=True))' "$1"
}
[ -s "$T/hb_A.jsonl" ] || fail "Debezium wrote no heartbeat to __debezium-heartbeat.$PREFIX"
[ -s "$T/hb_B.jsonl" ] || fail "cdcagent wrote no heartbeat to __debezium-heartbeat.$PREFIX"
expect_eq "heartbeat records: cdcagent's equal Debezium's (ts_ms aside)" "$(hb_shape "$T/hb_B.jsonl")" "$(hb_shape "$T/hb_A.jsonl")"

done_testing

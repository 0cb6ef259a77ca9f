#!/usr/bin/env bash
# The Kafka producer's compression: none by default, like Debezium's producer (Kafka
# Connect's compression.type), so every consumer that read Debezium's topics reads ours,
# including clients without an lz4 codec (kafkajs fails with "LZ4 compression not
# implemented"). The check reads the compression attribute (bits 0-2) of every record batch
# in the broker's own log segments, and kafkajs 2.2.4 (npm, pinned, cached in .cache/; it has
# no lz4 codec unless kafkajs-lz4 is added) reads every record. `kafka.properties:
# {compression.codec: lz4}` turns lz4 on (docs/kafka.md): the second run checks that, which
# also shows that the check sees it, and that kafkajs then fails as the issue reported.
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"
. "$CDC_SRC/test/lib/kafka.sh"

BUILD=${CDC_BUILD:-$CDC_SRC/build}
KAFKA_PROBE=$BUILD/kafka_probe
KDIR=$T/kafka
trap '_rc=$?; kafka_kill "$KDIR" >/dev/null 2>&1; set +e; (exit $_rc); _cleanup' EXIT
[ -x "$KAFKA_PROBE" ] || fail "no $KAFKA_PROBE (set CDC_BUILD to the build directory)"
KPORT=$(free_port)
kafka_start "$KDIR" "$KPORT"
B=127.0.0.1:$KPORT
ok "kafka on $B"

# kafkajs, once: npm install into the cache (a consumer the platform's users run)
KJS=${CDC_CACHE:-$CDC_SRC/.cache}/kafkajs-2.2.4
if [ ! -f "$KJS/.complete" ]; then
    mkdir -p "$KJS"
    (cd "$KJS" && npm install --no-audit --no-fund --no-save kafkajs@2.2.4 >"$KJS/npm.log" 2>&1) ||
        fail "npm install kafkajs@2.2.4 failed: $(tail -n 5 "$KJS/npm.log")"
    touch "$KJS/.complete"
fi
cat >"$T/kjs.js" <<'JS'
// node kjs.js BROKER TOPIC N: reads TOPIC from the start with a kafkajs consumer group;
// prints "read N" once N records parsed as JSON, or the error that stopped it.
const { Kafka, logLevel } = require(process.env.KJS + "/node_modules/kafkajs");
const [broker, topic, want] = process.argv.slice(2);
const kafka = new Kafka({ brokers: [broker], clientId: "it450", logLevel: logLevel.NOTHING });
const consumer = kafka.consumer({ groupId: "it450-" + topic, retry: { retries: 0 } });
let n = 0, over = false;
function done(msg, code) {
    if (over) return;
    over = true;
    console.log(msg);
    consumer.disconnect().finally(() => process.exit(code));
}
setTimeout(() => done("timeout after " + n + " records", 3), 60000);
consumer.on(consumer.events.CRASH, (e) => done("crash: " + e.payload.error.message, 2));
(async () => {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => {
        JSON.parse(message.value.toString());
        if (++n >= Number(want)) done("read " + n, 0);
    } });
})().catch((e) => done("error: " + e.message, 2));
JS
kjs() { KJS=$KJS timeout 90 node "$T/kjs.js" "$B" "$1.public.items" "$2" 2>&1 || true; }

pg_up
sql "CREATE TABLE items (id int PRIMARY KEY, v text)" \
    "INSERT INTO items SELECT i, repeat('v', 200) || i FROM generate_series(1, 200) i"
P_TABLES=public.items

# codecs PREFIX: the compression codec of every record batch of PREFIX.public.items, as
# "name=count" (0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd), read from the segment files.
codecs() {
    python3 - "$KDIR/data" "$1.public.items" <<'PY'
import collections, glob, os, struct, sys
names = {0: "none", 1: "gzip", 2: "snappy", 3: "lz4", 4: "zstd"}
c = collections.Counter()
for d in glob.glob(os.path.join(sys.argv[1], sys.argv[2] + "-*")):
    for seg in glob.glob(os.path.join(d, "*.log")):
        b = open(seg, "rb").read()
        off = 0
        while off + 23 <= len(b):
            # baseOffset int64, batchLength int32, partitionLeaderEpoch int32, magic int8,
            # crc uint32, attributes int16 (KIP-98 record batch, magic 2)
            length, = struct.unpack_from(">i", b, off + 8)
            magic = b[off + 16]
            attrs, = struct.unpack_from(">h", b, off + 21)
            if length <= 0 or magic != 2:
                break
            c[names.get(attrs & 7, str(attrs & 7))] += 1
            off += 12 + length
print(" ".join("%s=%d" % kv for kv in sorted(c.items())) or "no batches")
PY
}

# run_with PREFIX [PROPERTIES_YAML]: a snapshot of the table, then 50 inserts, through the
# agent on its own slot; every record of PREFIX.public.items read back.
run_with() {
    local prefix=$1 n want
    want=$(( $(sql "SELECT count(*) FROM items") + 50 ))
    write_pipeline
    sed -i "s/^topic_prefix: cdc/topic_prefix: $prefix/; s/^  slot_name: .*/  slot_name: s_$prefix/; s/^  publication_name: .*/  publication_name: p_$prefix/" "$T/pipeline.yaml"
    {
        cat <<YAML
transport_mode: kafka
health_enabled: false
kafka:
  bootstrap_servers: $B
  serialization: json
  topic_num_partitions: 2
YAML
        if [ -n "${2:-}" ]; then printf '%s\n' "$2"; fi
        printf 'agent:\n  status_interval_seconds: 1\n'
    } >"$T/platform.yaml"
    P_SLOT=s_$prefix agent_start
    sql "INSERT INTO items SELECT max(id) + i, repeat('w', 200) FROM items, generate_series(1, 50) i GROUP BY i"
    for _ in $(seq 150); do
        n=$("$KAFKA_PROBE" -b "$B" dump "$prefix.public.items" 2>/dev/null | wc -l)
        [ "$n" -ge "$want" ] && break
        sleep 0.2
    done
    P_SLOT=s_$prefix agent_stop
    expect_eq "$prefix: every row once ($want records)" "$n" "$want"
    WANT=$want
}

note "1. defaults: no compression, as Debezium's producer"
run_with k1
expect_contains "every batch uncompressed" "$(codecs k1)" "none="
expect_eq "no compressed batch" "$(codecs k1 | tr ' ' '\n' | grep -vc '^none=' || true)" 0
expect_eq "kafkajs (no lz4 codec) reads every record" "$(kjs k1 "$WANT")" "read $WANT"

note "2. kafka.properties compression.codec: lz4 turns lz4 on"
run_with k2 '  properties:
    compression.codec: lz4'
expect_contains "batches are lz4" "$(codecs k2)" "lz4="
expect_eq "no uncompressed batch" "$(codecs k2 | tr ' ' '\n' | grep -c '^none=' || true)" 0
expect_contains "kafkajs without kafkajs-lz4 cannot read them (why lz4 is not the default)" \
    "$(kjs k2 "$WANT")" "LZ4 compression not implemented"
done_testing

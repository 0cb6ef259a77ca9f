#!/usr/bin/env bash
# 448: hostile configuration files.  Each file below is generated into $T and given to
# `cdcagent validate` (a few also to `cdcagent run`): huge files, deep nesting (flow and
# block), alias bombs, many anchors, invalid UTF-8, NUL bytes, ${VAR} expansions that refer
# to each other, a key repeated 100,000 times, a map of 60,000 keys, 15,000 sinks, a stream
# of 1000 documents, tabs as indentation, and top levels that are not a mapping.
# Each must end with exit 2 and one line on stderr naming the file (with line:col where
# there is a place to point at), within 10 s and 300 MB of resident memory (GNU time).
# No server is needed.
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"

need_agent
PORT=5499
write_pipeline
write_platform
GOOD_PL=$T/pipeline.yaml
GOOD_PF=$T/platform.yaml
MAX_S=10
MAX_KB=$((300 * 1024))

# The files, written by Python so that the sizes and bytes are exact.
python3 - "$T" <<'PY'
import os, sys
T = sys.argv[1]
HEAD = ("pipeline_id: demo\ntopic_prefix: cdc\nsource:\n  host: h\n  database: d\n"
        "  tables: [public.t]\n")
SINK = "sinks:\n  - sink_id: l\n    sink_type: jsonl\n    jsonl: {path: out.jsonl}\n"
def w(name, data):
    with open(os.path.join(T, "h_" + name + ".yaml"), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())
D = 10000
# 50 MB: a valid head, then 50 MB of tables; and 10 MB in one string value
with open(os.path.join(T, "h_huge.yaml"), "w") as f:
    f.write(HEAD.replace("tables: [public.t]", "tables:\n") )
    line = "".join("    - public.t%07d\n" % i for i in range(1000))
    for _ in range((50 << 20) // len(line) + 1):
        f.write(line)
    f.write(SINK)
w("long_string", HEAD.replace("host: h", "host: " + "h" * (10 << 20)) + SINK)
# 900 KB in one value, under the size limit: the message quotes only its start
w("long_value", HEAD.replace("host: h", "host: h\n  port: " + "9" * (900 << 10)) + SINK)
# 10,000 levels: flow sequences, flow mappings, block sequences ("- - - x")
w("deep_flow", HEAD + SINK + "x: " + "[" * D + "]" * D + "\n")
w("deep_flow_map", HEAD + SINK + "x: " + "{a: " * D + "b" + "}" * D + "\n")
w("deep_block", HEAD + SINK + "x:\n" + "- " * D + "x\n")
w("deep_valid_key", HEAD.replace("tables: [public.t]", "tables: " + "[" * D + "]" * D) + SINK)
# billion laughs: 10 anchors, each a list of 10 aliases to the one before
lol = ['l0: &l0 "lol"'] + ["l%d: &l%d [%s]" % (i, i, ", ".join(["*l%d" % (i - 1)] * 10))
                           for i in range(1, 10)]
w("alias_bomb", "\n".join(lol) + "\n" + HEAD + SINK)
flow = "&l0 [lol]"
for i in range(1, 10):   # the same bomb as the value of a real key
    flow = "&l%d [%s, %s]" % (i, flow, ", ".join(["*l%d" % (i - 1)] * 9))
w("alias_bomb_tables", HEAD.replace("tables: [public.t]", "tables: " + flow) + SINK)
w("many_anchors", HEAD.replace("tables: [public.t]", "tables:\n" +
  "".join("    - &a%d public.t%d\n" % (i, i) for i in range(15000)) +
  "".join("    - *a%d\n" % i for i in range(20000))) + SINK)
w("bad_utf8_key", HEAD.encode() + b"sou\xff\xferce: x\n" + SINK.encode())
w("bad_utf8_value", HEAD.replace("host: h", "host: h\xc3\x28st").encode("latin1") + SINK.encode())
w("nul_raw", HEAD.replace("database: d", "database: d\0x").encode() + SINK.encode())
w("nul_escaped", HEAD.replace("database: d", 'database: "d\\0x"') + SINK)
w("env_loop", HEAD.replace("host: h", "host: h\n  port: ${LOOP_A}") + SINK)
# 80,000 references to a 100 kB variable (8 GB once substituted) in one value; 50,000 values
# that are each one reference (5 GB)
w("env_big_value", HEAD.replace("host: h", "host: h\n  password: " + "${BIG}" * 80000) + SINK)
w("env_big_platform", "transport_mode: direct\nkafka:\n  properties:\n" +
  "".join("    k%d: ${BIG}\n" % i for i in range(50000)))
w("repeated_key", "pipeline_id: demo\ntopic_prefix: cdc\n"
  "source: {host: h, database: d, tables: [public.t], " + "port: 1, " * 100000 + "}\n" + SINK)
w("repeated_prop", "transport_mode: direct\nkafka:\n  properties: {" + "k: v, " * 100000 + "}\n")
w("distinct_props", "transport_mode: direct\nkafka:\n  properties:\n" +
  "".join("    k%d: v\n" % i for i in range(60000)) + "    k17: again\n")
w("many_sinks", HEAD + "sinks:\n" + "".join(
  "- {sink_id: s%d, sink_type: jsonl, jsonl: {path: x}}\n" % i for i in range(15000)) +
  "- {sink_id: s7, sink_type: jsonl, jsonl: {path: x}}\n")
w("docs_1000", "".join("---\n" + HEAD + SINK for _ in range(1000)))
w("tab_indent", HEAD.replace("  host: h", "\thost: h") + SINK)
w("tab_nested", HEAD + SINK.replace("    sink_type", "\t\tsink_type"))
w("top_list", "- pipeline_id: demo\n- topic_prefix: cdc\n")
w("top_scalar", "pipeline_id\n")
w("empty", "")
w("only_comments", "# a pipeline\n# with nothing in it\n")
PY
ok "hostile files generated ($(du -sm "$T" | cut -f1) MB)"

# hostile KIND NAME NEEDLE [LINE:COL] : validate h_NAME.yaml as the KIND file (pipeline or
# platform, the other one good); expect exit 2, one line on stderr naming the file, NEEDLE,
# LINE:COL (when given), in bounded time and memory.
hostile() {
    local kind=$1 name=$2 needle=$3 where=${4:-} f=$T/h_$2.yaml err s kb
    if [ "$kind" = pipeline ]; then set -- "$f" --platform-config "$GOOD_PF"
    else set -- "$GOOD_PL" --platform-config "$f"; fi
    CDC_RC=0
    # HOSTILE_VLIMIT_KB: also limit the address space (not under ASan, which reserves
    # terabytes), so that a file that would take gigabytes fails early here too.
    (if [ -n "${HOSTILE_VLIMIT_KB:-}" ] && ! grep -q __asan_init "$CDCAGENT"; then
        ulimit -v "$HOSTILE_VLIMIT_KB"
     fi
     LOOP_A='${LOOP_B}' LOOP_B='${LOOP_A}' exec /usr/bin/time -o "$T/time" -f '%e %M' \
        "$CDCAGENT" validate "$@") >"$T/cdc.out" 2>"$T/cdc.err" || CDC_RC=$?
    read -r s kb < <(tail -n 1 "$T/time")
    err=$(cat "$T/cdc.err")
    note "$name: ${s}s ${kb}KB: $(printf '%s' "$err" | head -c 300)"
    expect_eq "$name: exit 2" "$CDC_RC" 2
    expect_eq "$name: one line on stderr" "$(wc -l <"$T/cdc.err" | tr -d ' ')" 1
    expect_contains "$name: stderr names the file" "$err" "cdcagent: $f"
    expect_contains "$name: stderr says what is wrong" "$err" "$needle"
    if [ -n "$where" ]; then expect_contains "$name: at $where" "$err" "$f:$where: "; fi
    check "$name: done in ${s}s (< ${MAX_S}s)" awk -v s="$s" -v m="$MAX_S" 'BEGIN { exit !(s < m) }'
    check "$name: max RSS ${kb} KB (< ${MAX_KB} KB)" test "$kb" -lt "$MAX_KB"
}

note "size"
hostile pipeline huge "larger than 1048576 bytes"
hostile pipeline long_string "larger than 1048576 bytes"
hostile pipeline long_value 'source.port: expected an integer, got "999999999999' 5:9
expect_eq "long_value: the bad value is quoted only in part" \
    "$(($(wc -c <"$T/cdc.err") < 300))" 1
hostile platform huge "larger than 1048576 bytes"

note "nesting"
hostile pipeline deep_flow "nested deeper than 32 levels" 11:35
hostile pipeline deep_flow_map "nested deeper than 32 levels" 11:128
hostile pipeline deep_block "nested deeper than 32 levels" 12:63
hostile pipeline deep_valid_key "nested deeper than 32 levels" 6:41
hostile platform deep_flow "nested deeper than 32 levels" 11:35

note "aliases and anchors"
hostile pipeline alias_bomb "l0: unknown key" 1:1
hostile pipeline alias_bomb_tables "source.tables[0]: expected a string, got a list" 6:16
hostile pipeline many_anchors "more than 100 anchors" 107:7

note "bytes"
hostile pipeline bad_utf8_key "invalid leading UTF-8 octet (byte 0xFF" 7:4
hostile pipeline bad_utf8_value "invalid trailing UTF-8 octet (byte 0x28" 4:11
hostile pipeline nul_raw "control characters are not allowed (byte 0x00" 5:14
hostile pipeline nul_escaped "a value contains a NUL character" 5:13
hostile platform bad_utf8_key "invalid leading UTF-8 octet" 7:4

note "\${VAR} that refer to each other: expanded once, never again"
hostile pipeline env_loop 'source.port: expected an integer, got "${LOOP_B}"' 5:9

note "\${VAR} substituted past 16 MiB per file: stopped at the limit, not after gigabytes"
BIG=$(head -c 100000 /dev/zero | tr '\0' x)
export BIG
HOSTILE_VLIMIT_KB=$((1024 * 1024))   # 1 GiB of address space: 8 GB would fail here
hostile pipeline env_big_value "source.password: with \${VAR} substituted, this file's values exceed 16 MiB" 5:13
hostile platform env_big_platform "kafka.properties.k167: with \${VAR} substituted, this file's values exceed 16 MiB" 171:11
HOSTILE_VLIMIT_KB=
unset BIG

note "repeated and numerous keys"
hostile pipeline repeated_key "source.port: duplicate key (first at line 3)" 3:61
hostile platform repeated_prop "kafka.properties.k: duplicate key (first at line 3)" 3:22
hostile platform distinct_props "kafka.properties.k17: duplicate key (first at line 21)" 60004:5
hostile pipeline many_sinks 'sinks[15000].sink_id: duplicate sink_id "s7" (first at line 15)' \
    15008:4

note "documents, tabs, top level"
hostile pipeline docs_1000 "only one YAML document is allowed" 12:1
hostile pipeline tab_indent "found character that cannot start any token" 4:1
hostile pipeline tab_nested "found a tab character that violates indentation" 9:1
hostile pipeline top_list "expected a mapping of keys at the top, got a list" 1:1
hostile pipeline top_scalar "expected a mapping of keys at the top, got a scalar" 1:1
hostile pipeline empty "pipeline_id: required key is missing" 1:1
hostile pipeline only_comments "pipeline_id: required key is missing" 1:1
hostile platform top_list "expected a mapping of keys at the top, got a list" 1:1

# run reads the files the same way, before it connects to anything: same exit, same line.
note "cdcagent run"
for name in huge deep_flow alias_bomb_tables nul_escaped; do
    CDC_RC=0
    timeout 20 "$CDCAGENT" run "$T/h_$name.yaml" --platform-config "$GOOD_PF" \
        >"$T/cdc.out" 2>"$T/cdc.err" || CDC_RC=$?
    expect_eq "run $name: exit 2" "$CDC_RC" 2
    expect_contains "run $name: stderr names the file" "$(cat "$T/cdc.err")" "$T/h_$name.yaml"
done
check "run wrote no events" test ! -s "$T/out.jsonl"

# The limits do not reject what a real file needs: 20,000 tables, a few anchors.
python3 - "$T" <<'PY'
import sys
T = sys.argv[1]
with open(T + "/big_ok.yaml", "w") as f:
    f.write("pipeline_id: demo\ntopic_prefix: cdc\nsource:\n  host: &h db.example\n"
            "  database: d\n  tables:\n")
    f.write("".join("    - public.table_with_a_long_name_%05d\n" % i for i in range(20000)))
    f.write("sinks:\n  - sink_id: a\n    sink_type: webhook\n    webhook:\n      url: http://x/\n"
            "      headers: &hd {X-A: '1', X-B: '2'}\n"
            "  - sink_id: b\n    sink_type: webhook\n    webhook:\n      url: http://y/\n"
            "      headers: *hd\n")
PY
cdc validate "$T/big_ok.yaml" --platform-config "$GOOD_PF"
expect_eq "a 900 KB pipeline with 20,000 tables and an alias validates" "$CDC_RC" 0
expect_contains "all 20,000 tables counted" "$(cat "$T/cdc.out")" "20000 tables"
done_testing

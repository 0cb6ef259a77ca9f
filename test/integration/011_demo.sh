#!/usr/bin/env bash
# The README's first command, deploy/local/demo.sh, run as a newcomer would (with a short
# pause, on a free port, its files in this test's directory): it exits 0, shows every
# change, and shows decimals as numbers people read ("12.50"), not Debezium's precise
# base64 bytes ("BOI="). CDC_DEMO_RAW=1 prints the JSON lines themselves: decimals are
# strings there too (the demo pipeline's decimal_handling_mode: string), the rest of the
# envelope stays Debezium's.
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"
need_agent

demo() {   # demo OUTFILE [ENV...]: runs the demo, its exit status in DEMO_RC
    local out=$1
    shift
    DEMO_RC=0
    env CDCAGENT="$CDCAGENT" CDC_DEMO_PORT="$(free_port)" CDC_DEMO_PAUSE=0.3 \
        CDC_DEMO_WORK="$T/demo" "$@" bash "$CDC_SRC/deploy/local/demo.sh" >"$out" 2>&1 || DEMO_RC=$?
}

demo "$T/demo.out"
expect_eq "demo.sh exits 0" "$DEMO_RC" 0
out=$(cat "$T/demo.out")
expect_contains "the snapshot shows Alice's balance as 12.50" "$out" '"balance": "12.50"'
expect_contains "Carol's insert shows 7.25" "$out" '"balance": "7.25"'
expect_contains "an order amount shows 19.99" "$out" '"amount": "19.99"'
expect_contains "Alice's update shows 22.50" "$out" '"balance": "22.50"'
expect_eq "no base64 decimal (BOI= is 12.50 in precise mode)" "$(grep -c 'BOI=' "$T/demo.out" || true)" 0
expect_eq "every change shown: 2 snapshot rows, 3 inserts, 2 updates, 2 deletes" \
    "$(grep -cE '^  (snapshot|insert|update|delete) ' "$T/demo.out" || true)" 9
expect_eq "the demo removed its files" "$(if [ -e "$T/demo" ]; then echo left; else echo removed; fi)" removed

demo "$T/raw.out" CDC_DEMO_RAW=1
expect_eq "demo.sh (raw) exits 0" "$DEMO_RC" 0
expect_eq "raw lines: Debezium's envelope, decimals as strings" "$(python3 - "$T/raw.out" <<'PY'
import json, sys
bad = n = 0
for l in open(sys.argv[1]):
    if not l.startswith("{"):
        continue
    e = json.loads(l)
    v = e["value"]
    if v is None:
        continue
    n += 1
    row = v["after"] or v["before"]
    if sorted(v) != ["after", "before", "op", "source", "transaction", "ts_ms", "ts_ns", "ts_us"]:
        bad += 1
    for k in ("balance", "amount"):
        if row.get(k) is not None and not isinstance(row[k], str) or \
           (isinstance(row.get(k), str) and not row[k].replace(".", "").isdigit()):
            bad += 1
print("rows=%d bad=%d" % (n, bad))
PY
)" "rows=9 bad=0"
done_testing

#!/usr/bin/env bash
# 320: `cdcagent dlq list` and `cdcagent dlq replay` (agent/cmd/dlq_cli.c).  The agent runs
# with transport_mode direct and sink_type webhook against a receiver
# (test/doubles/webhook_receiver.py) that answers 400 to rows 2 and 4: those two events
# are dead-lettered to $T/dlq.jsonl and `dlq list --json` shows them.  Then a receiver
# that accepts everything: `dlq replay` re-sends each stored body exactly once with its
# original Idempotency-Key, a second replay sends nothing, and `dlq list --all` shows
# both replayed.  A replay against a receiver that is down fails with status 1 and
# marks nothing.
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"

RECV=$CDC_SRC/test/doubles/webhook_receiver.py
need_agent

recv_start() {   # recv_start LOG ARGS...: sets RPORT, RPID
    local log=$1
    shift
    rm -f "$T/rport"
    bg python3 "$RECV" --log "$log" --port-file "$T/rport" "$@"
    RPID=$!
    for _ in $(seq 50); do [ -s "$T/rport" ] && break; sleep 0.1; done
    RPORT=$(cat "$T/rport")
}

write_hook_pipeline() {   # the pipeline with one webhook sink at port $1
    P_SNAPSHOT=never P_TABLES=public.customers write_pipeline
    PL_HEAD=$(sed '/^sinks:/,$d' "$T/pipeline.yaml")
    cat >"$T/pipeline.yaml" <<YAML
$PL_HEAD
sinks:
  - sink_id: hook
    sink_type: webhook
    webhook:
      url: http://127.0.0.1:$1/cdc
      timeout_seconds: 5
YAML
}

pg_up
sql "CREATE TABLE customers (id int PRIMARY KEY, name text)"
recv_start "$T/req1.jsonl" --reject '"key":{"id":2}' --reject '"key":{"id":4}'
write_hook_pipeline "$RPORT"
PLATFORM_EXTRA="retry:
  initial_wait_seconds: 0.1
  max_wait_seconds: 0.5" write_platform
DLQ=$T/dlq.jsonl

note "dead letters from a receiver that refuses rows 2 and 4"
agent_start
sql "INSERT INTO customers VALUES (1, 'a'), (2, 'b'), (3, 'c'), (4, 'd'), (5, 'e')"
for _ in $(seq 150); do [ "$(line_count "$DLQ")" -ge 2 ] && [ "$(line_count "$T/req1.jsonl")" -ge 5 ] && break; sleep 0.2; done
agent_stop
kill -TERM "$RPID" 2>/dev/null || true
expect_eq "two dead letters" "$(line_count "$DLQ")" 2

cdc dlq list "$T/pipeline.yaml" --platform-config "$T/platform.yaml" --json
expect_eq "dlq list exits 0" "$CDC_RC" 0
cp "$T/cdc.out" "$T/list1.json"
python3 - "$T/list1.json" <<'PY' || fail "dlq list --json: $(cat "$T/list1.json")"
import json, sys
ls = json.load(open(sys.argv[1]))
assert len(ls) == 2, ls
assert sorted(l["record"]["key"]["id"] for l in ls) == [2, 4], ls
for l in ls:
    assert l["sink_id"] == "hook" and l["topic"] == "cdc.public.customers", l
    assert l["error_type"] == "http_status_400" and l["replayed"] is False, l
    assert l["record"]["value"]["op"] == "c" and l["id"].startswith("hook-"), l
PY
ok "dlq list --json shows rows 2 and 4, not replayed, with their records"

cdc dlq list "$T/pipeline.yaml" --platform-config "$T/platform.yaml" --error-type http_status_500 --json
expect_eq "a filter that selects nothing gives []" "$(tr -d ' \n' <"$T/cdc.out")" "[]"
cdc dlq list "$T/pipeline.yaml" --platform-config "$T/platform.yaml" --table public.customers
expect_contains "the table lists both" "$(cat "$T/cdc.out")" "2 dead letters"

note "replay against a receiver that is down: status 1, nothing marked"
write_hook_pipeline "$(free_port)"
cdc dlq replay "$T/pipeline.yaml" --platform-config "$T/platform.yaml"
expect_eq "replay to a dead receiver exits 1" "$CDC_RC" 1
expect_contains "each failure is named" "$(cat "$T/cdc.err")" "not replayed: webhook request failed"
expect_eq "no marker written" "$(line_count "$DLQ")" 2

note "replay against a receiver that accepts everything"
recv_start "$T/req2.jsonl"
write_hook_pipeline "$RPORT"
cdc dlq replay "$T/pipeline.yaml" --platform-config "$T/platform.yaml" --dry-run
expect_eq "dry run exits 0" "$CDC_RC" 0
expect_eq "dry run sends nothing" "$(line_count "$T/req2.jsonl")" 0
expect_contains "dry run says what it would do" "$(cat "$T/cdc.out")" "2 to replay"
cdc dlq replay "$T/pipeline.yaml" --platform-config "$T/platform.yaml"
expect_eq "replay exits 0" "$CDC_RC" 0
expect_contains "replay reports two" "$(cat "$T/cdc.out")" "2 replayed, 0 already replayed"
jl_check "each dead letter delivered exactly once" "$T/req2.jsonl" \
    'sorted(e["body"]["key"]["id"] for e in evs) == [2, 4] and all(e["status"] == 200 for e in evs)'
jl_check "with the stored body and its original Idempotency-Key" "$T/req2.jsonl" \
    'all(e["headers"]["Idempotency-Key"] == "it-320-%016X-%d" % (e["body"]["metadata"]["commit_lsn"], e["body"]["metadata"]["seq"])
         and e["body"]["value"]["op"] == "c" and e["body"]["metadata"]["topic"] == "cdc.public.customers" for e in evs)'
python3 - "$T/req1.jsonl" "$T/req2.jsonl" <<'PY' || fail "replayed bodies differ from the refused ones"
import json, sys
refused = {json.dumps(e["body"], sort_keys=True) for e in map(json.loads, open(sys.argv[1])) if e["status"] == 400}
again = {json.dumps(e["body"], sort_keys=True) for e in map(json.loads, open(sys.argv[2]))}
assert refused == again, (refused, again)
PY
ok "the replayed bodies are the refused ones"

cdc dlq replay "$T/pipeline.yaml" --platform-config "$T/platform.yaml"
expect_eq "second replay exits 0" "$CDC_RC" 0
expect_contains "second replay skips both" "$(cat "$T/cdc.out")" "0 replayed, 2 already replayed"
expect_eq "second replay delivers nothing" "$(line_count "$T/req2.jsonl")" 2

cdc dlq list "$T/pipeline.yaml" --platform-config "$T/platform.yaml" --all --json
cp "$T/cdc.out" "$T/list2.json"
python3 - "$T/list2.json" <<'PY' || fail "dlq list --all --json: $(cat "$T/list2.json")"
import json, sys
ls = json.load(open(sys.argv[1]))
assert len(ls) == 2 and all(l["replayed"] is True and l["replayed_at"] for l in ls), ls
PY
ok "dlq list --all shows both replayed"
cdc dlq list "$T/pipeline.yaml" --platform-config "$T/platform.yaml" --json
expect_eq "dlq list (not replayed) is empty" "$(tr -d ' \n' <"$T/cdc.out")" "[]"

cdc dlq frob "$T/pipeline.yaml" --platform-config "$T/platform.yaml"
expect_eq "an unknown dlq command is a usage error" "$CDC_RC" 2
done_testing

#!/usr/bin/env bash
# /metrics through Prometheus's own code: test/tools/metrics_dump renders a populated
# registry (every family, escaped labels, the overflow series) and
#   - promtool check metrics (Prometheus's parser plus its promlint naming rules), when a
#     promtool is on PATH or in .cache/gobin (see "promtool" below), and
#   - prometheus_client's parser (text_string_to_metric_families), installed pinned into
#     a venv under .cache, which also lets us check types, values and label round trips.
# Needs no PostgreSQL.  A validator that cannot be obtained (no network) is a TAP SKIP.
#
# promtool: `go install .../cmd/promtool@vX` is refused (Prometheus's go.mod has replace
# directives), so it is built from the downloaded module; that takes minutes and a lot
# of disk, so it only happens with CDC_BUILD_PROMTOOL=1:
#   CDC_BUILD_PROMTOOL=1 bash test/integration/900_metrics_format.sh
. "$(dirname "$0")/common.sh"

PROM_VERSION=v0.54.1                 # Prometheus 2.54.1
PROMCLIENT_VERSION=0.20.0
CACHE=$CDC_SRC/.cache
BUILD=${CDC_BUILD:-$CDC_SRC/build}

# ---------------------------------------------------------------- the dump
if [ ! -x "$BUILD/metrics_dump" ] || [ -f "$BUILD/build.ninja" ]; then
    cmake --build "$BUILD" --target metrics_dump >"$T/build.log" 2>&1 ||
        fail "building metrics_dump in $BUILD (see $T/build.log): $(tail -3 "$T/build.log")"
fi
"$BUILD/metrics_dump" >"$T/metrics.txt"
ok "metrics_dump rendered $(wc -l <"$T/metrics.txt") lines"
rc=0
"$BUILD/metrics_dump" --health >"$T/health.json" || rc=$?
expect_eq "readiness of the populated registry" "$rc" 0

# ---------------------------------------------------------------- promtool
promtool=$(command -v promtool || true)
[ -n "$promtool" ] || promtool=$CACHE/gobin/promtool
if [ ! -x "$promtool" ] && [ "${CDC_BUILD_PROMTOOL:-0}" = 1 ] && command -v go >/dev/null; then
    note "building promtool $PROM_VERSION into $CACHE/gobin (once)"
    mkdir -p "$CACHE/gobin"
    dir=$(go mod download -json "github.com/prometheus/prometheus@$PROM_VERSION" |
          python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])') &&
        (cd "$dir" && go build -o "$CACHE/gobin/promtool" ./cmd/promtool) >"$T/promtool-build.log" 2>&1 ||
        note "promtool build failed: $(tail -3 "$T/promtool-build.log")"
fi
if [ -x "$promtool" ]; then
    if "$promtool" check metrics <"$T/metrics.txt" >"$T/promtool.out" 2>&1; then
        ok "promtool check metrics: no problems ($("$promtool" --version 2>&1 | head -1))"
    else
        fail "promtool check metrics: $(head -c 3000 "$T/promtool.out")"
    fi
else
    ok "# SKIP promtool not available (CDC_BUILD_PROMTOOL=1 builds it into .cache/gobin)"
fi

# ---------------------------------------------------------------- prometheus_client
VENV=$CACHE/venv-promclient-$PROMCLIENT_VERSION
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import prometheus_client' 2>/dev/null; then
    note "installing prometheus-client==$PROMCLIENT_VERSION into $VENV"
    python3 -m venv "$VENV" >"$T/venv.log" 2>&1 &&
        "$VENV/bin/pip" install --quiet --disable-pip-version-check \
            "prometheus-client==$PROMCLIENT_VERSION" >>"$T/venv.log" 2>&1 ||
        note "could not install prometheus-client: $(tail -2 "$T/venv.log")"
fi
if ! "$VENV/bin/python" -c 'import prometheus_client' 2>/dev/null; then
    ok "# SKIP prometheus_client not available"
    done_testing
    exit 0
fi

"$VENV/bin/python" - "$T/metrics.txt" "$T/health.json" >"$T/parse.out" 2>&1 <<'PY' ||
import json, math, sys
from prometheus_client.parser import text_string_to_metric_families

text = open(sys.argv[1]).read()
fams = {f.name: f for f in text_string_to_metric_families(text)}

def samples(name):
    return [s for f in fams.values() for s in f.samples if s.name == name]

def value(name, **labels):
    got = [s.value for s in samples(name) if s.labels == labels]
    assert len(got) == 1, f"{name}{labels}: {len(got)} samples"
    return got[0]

expected = {
    "cdcagent_info": "gauge", "cdcagent_start_time_seconds": "gauge", "cdcagent_ready": "gauge",
    "cdcagent_events": "counter", "cdcagent_received_bytes": "counter",
    "cdcagent_errors": "counter", "cdcagent_dlq_events": "counter",
    "cdcagent_schema_registrations": "counter",
    "cdcagent_invalid_utf8_values": "counter",
    "cdcagent_iceberg_expired_snapshots": "counter",
    "cdcagent_iceberg_removed_files": "counter", "cdcagent_iceberg_removed_bytes": "counter",
    "cdcagent_iceberg_compactions": "counter", "cdcagent_iceberg_compacted_files": "counter",
    "cdcagent_iceberg_compacted_rows": "counter",
    "cdcagent_iceberg_data_files": "gauge", "cdcagent_iceberg_delete_files": "gauge",
    "cdcagent_replication_lag_bytes": "gauge", "cdcagent_replication_lag_seconds": "gauge",
    "cdcagent_confirmed_lsn": "gauge", "cdcagent_received_lsn": "gauge",
    "cdcagent_queue_depth": "gauge", "cdcagent_replication_state": "gauge",
    "cdcagent_destination_durable_lsn": "gauge", "cdcagent_destination_state": "gauge",
    "cdcagent_commit_to_durable_seconds": "histogram",
    "cdcagent_snapshot_rows": "counter", "cdcagent_snapshot_rows_estimated": "gauge",
    "cdcagent_snapshot_tables": "gauge", "cdcagent_snapshot_remaining_seconds": "gauge",
    "cdcagent_snapshot_wal_retained_bytes": "gauge",
    "cdcagent_incremental_snapshot_running": "gauge",
    "cdcagent_incremental_snapshot_tables": "gauge",
    "cdcagent_incremental_snapshot_chunks": "counter",
    "cdcagent_incremental_snapshot_rows": "counter",
}
for name, typ in expected.items():
    assert name in fams, f"family {name} missing; have {sorted(fams)}"
    assert fams[name].type == typ, f"{name}: type {fams[name].type}, expected {typ}"
    assert fams[name].documentation, f"{name}: no HELP"
extra = set(fams) - set(expected)
assert not extra, f"families not in the expected list (add them to docs/operations.md): {extra}"

assert value("cdcagent_events_total", table="cdc.public.table_2", op="c") == 3
assert value("cdcagent_events_total", table='cdc.public."quoted\\name"\nx', op="c") == 1, \
    "escaped label did not round-trip"
assert value("cdcagent_events_total", table="_overflow", op="c") > 0
assert value("cdcagent_errors_total", kind="conn") == 1
assert value("cdcagent_dlq_events_total", sink='wh "1"') == 2
assert value("cdcagent_dlq_events_total", sink="pg-audit") == 1
assert value("cdcagent_schema_registrations_total", subject="cdc.public.table_0-value") == 1
assert value("cdcagent_schema_registrations_total", subject="_overflow") == 4
assert value("cdcagent_destination_state", destination='wh "1"', state="degraded") == 1
assert value("cdcagent_replication_lag_bytes") == 0x3000100 - 0x3000020
assert value("cdcagent_replication_lag_seconds") == 0.125

buckets = [(float(s.labels["le"]), s.value) for s in samples("cdcagent_commit_to_durable_seconds_bucket")]
les = [le for le, _ in buckets]
assert les == sorted(les) and math.isinf(les[-1]), f"bucket bounds {les}"
counts = [v for _, v in buckets]
assert counts == sorted(counts), f"buckets not cumulative: {counts}"
assert counts[-1] == value("cdcagent_commit_to_durable_seconds_count") == 5
assert value("cdcagent_commit_to_durable_seconds_bucket", le="120") == 4

h = json.load(open(sys.argv[2]))
assert h["pipeline_id"] == "orders-cdc" and h["status"] == "ok"
assert h["source"]["slot"] == "orders_cdc_slot" and h["source"]["state"] == "streaming"
assert [s["sink_id"] for s in h["sinks"]] == ["iceberg-lake", 'wh "1"']
assert [(c["sink_id"], c["lag"]) for c in h["consumer_lag"]] == \
    [("iceberg-lake", 0x3000100 - 0x3000020), ('wh "1"', 0x3000100 - 0x3000020)]
print(f"{len(fams)} families, {sum(len(f.samples) for f in fams.values())} samples")
PY
    fail "prometheus_client checks: $(cat "$T/parse.out")"
ok "prometheus_client $PROMCLIENT_VERSION parses it: $(tail -1 "$T/parse.out")"
done_testing

# shellcheck shell=bash
# Helpers shared by the benchmarks under test/bench/ (sourced; not used by the tests).
#
#   bench_port_pair        a free TCP port P on 127.0.0.1 with P+1 free too (a Kafka
#                          broker takes P+1 for its controller)
#   bench_broker_jvm DIR   the pid of the broker JVM that kafka_start DIR started:
#                          kafka_start records the pid of the shell function it
#                          backgrounds, which may be the JVM's parent
#   bench_stop_servers KDIR BROKER_PID PGDIR   the broker and PostgreSQL down, for cleanup
#   bench_cluster_cpu PGDIR    CPU seconds (user + system) a PostgreSQL server used so far,
#                          its backends and walsenders included (exited ones too)
#   bench_proc_sql fill|steady   the CREATE PROCEDURE of the benches' source procedures on
#                          public.bench (id bigint PRIMARY KEY, k int, payload text,
#                          amount numeric(12,2), at timestamptz):
#                            fill(first, n, per_txn): n rows from id first, per_txn a commit
#                            steady(first, rate, secs, per_txn): rate rows/s for secs seconds,
#                              a commit every per_txn rows, paced by pg_sleep

bench_port_pair() {
    python3 - <<'PY'
import socket
for _ in range(100):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close()
    if p >= 65535:
        continue
    try:
        t = socket.socket(); t.bind(("127.0.0.1", p + 1)); t.close()
    except OSError:
        continue
    print(p); break
PY
}

bench_broker_jvm() {
    local pid
    pid=$(cat "${1:?bench_broker_jvm DIR}/pid") || return 1
    if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" != java ]; then
        pid=$(pgrep -P "$pid" -x java | head -n 1)
    fi
    [ -n "$pid" ] && echo "$pid"
}

# bench_stop_servers KDIR BROKER_PID PGDIR: kills the broker (its JVM too: kafka_kill
# signals the recorded pid, which may be the shell around it) and stops PostgreSQL.
bench_stop_servers() {
    kafka_kill "$1" >/dev/null 2>&1
    if [ -n "$2" ] && kill -0 "$2" 2>/dev/null; then
        kill -KILL "$2" 2>/dev/null
    fi
    pg_stop "$3" >/dev/null 2>&1 || pg_kill "$3" >/dev/null 2>&1
}

# bench_cluster_cpu DIR: CPU seconds (user + system) the server in DIR used so far, its exited
# backends and walsenders included (the postmaster reaps them: cutime/cstime).
bench_cluster_cpu() {
    local pm pids
    pm=$(head -1 "$1/data/postmaster.pid")
    pids="$pm $(ps -o pid= --ppid "$pm" | tr '\n' ' ')"
    # shellcheck disable=SC2086
    # A backend may exit between ps and cat: no error (pipefail would fail the caller).
    for p in $pids; do cat "/proc/$p/stat" 2>/dev/null || true; done |
        awk -v tick="$(getconf CLK_TCK)" -v pm="$pm" '
            { sub(/^.*\) /, ""); t += $12 + $13; if ($0 != "" && NR == 1) t += $14 + $15 }
            END { printf "%.2f\n", t / tick }'
}

bench_proc_sql() {
    case "$1" in
    fill) cat <<'SQL' ;;
CREATE PROCEDURE fill(first bigint, n bigint, per_txn int) LANGUAGE plpgsql AS $$
BEGIN
    FOR t IN 0 .. (n + per_txn - 1) / per_txn - 1 LOOP
        INSERT INTO public.bench (id, k, payload, amount)
            SELECT g, g % 1000, md5(g::text), (g % 10000) / 100.0
              FROM generate_series(first + t * per_txn, least(first + n, first + (t + 1) * per_txn) - 1) g;
        COMMIT;
    END LOOP;
END $$
SQL
    steady) cat <<'SQL' ;;
CREATE PROCEDURE steady(first bigint, rate int, secs int, per_txn int) LANGUAGE plpgsql AS $$
DECLARE
    t0 timestamptz := clock_timestamp();
    tick float8 := per_txn::float8 / rate;
    ntx bigint := (rate::bigint * secs) / per_txn;
    wait float8;
BEGIN
    FOR t IN 0 .. ntx - 1 LOOP
        INSERT INTO public.bench (id, k, payload, amount)
            SELECT g, g % 1000, md5(g::text), (g % 10000) / 100.0
              FROM generate_series(first + t * per_txn, first + (t + 1) * per_txn - 1) g;
        COMMIT;
        wait := (t + 1) * tick - extract(epoch FROM clock_timestamp() - t0);
        IF wait > 0 THEN PERFORM pg_sleep(wait); END IF;
    END LOOP;
END $$
SQL
    *) echo "bench_proc_sql: fill|steady" >&2; return 2 ;;
    esac
}

# bench_stats_summary NAME LOG: one line from the agent's "kafka statistics:" log lines
# (transports/kafka/kafka_stats.c): over the intervals in which records were sent, the means
# of the gauges (requests and records waiting for a response, records and KiB queued in the
# producer), the sample-weighted means of the windows (rtt, batch sizes) and the maximum of
# the rtt's p99s; from the counters, records and bytes per Produce request.  int_latency is
# left out: librdkafka 2.0.2 (Debian's) reports nonsense for it (averages of 10^7 ms, p99 0).
bench_stats_summary() {
    python3 - "$1" "$2" <<'PY'
import re, sys
name, log = sys.argv[1], sys.argv[2]
prod, topic = [], []
for line in open(log):
    i = line.find("kafka statistics: ")
    if i < 0:
        continue
    kv = dict(t.split("=", 1) for t in line[i + 18:].split() if "=" in t)
    (topic if "topic" in kv else prod).append(kv)
if not prod:
    print("%-28s no statistics (statistics.interval.ms, log_level info?)" % name); sys.exit()
f = lambda v: float(v)
def gsum(kv, pat):
    return sum(f(v) for k, v in kv.items() if re.fullmatch(pat, k))
act, last = [], 0
for i, kv in enumerate(prod):
    if f(kv["txmsgs"]) > last:
        act.append(i)
    last = f(kv["txmsgs"])
def mean(vals):
    vals = list(vals)
    return sum(vals) / len(vals) if vals else float("nan")
def wmean(rows, key):   # windows: avg weighted by their sample count
    num = sum(gsum(kv, r"(b\d+\.)?%s_avg(_ms)?" % key) * gsum(kv, r"(b\d+\.)?%s_n" % key) for kv in rows)
    den = sum(gsum(kv, r"(b\d+\.)?%s_n" % key) for kv in rows)
    p99 = max([gsum(kv, r"(b\d+\.)?%s_p99(_ms)?" % key) for kv in rows] or [float("nan")])
    return (num / den if den else float("nan")), p99
A = [prod[i] for i in act]
reqs = gsum(prod[-1], r"b\d+\.produce_reqs")
msgs, wire = f(prod[-1]["txmsgs"]), f(prod[-1]["txmsg_bytes"])
TA = [kv for kv in topic if gsum(kv, r"batchcnt_n") > 0]
rtt, rtt99 = wmean(A, "rtt")
bs, bs99 = wmean(TA, "batchsize")
bc, bc99 = wmean(TA, "batchcnt")
print("%-28s %5d %7.0f %7.1f %6.2f %6.0f %7.1f %7.1f %6.0f %6.0f %7.0f %8.0f" % (
    name, len(act), msgs / reqs if reqs else float("nan"), wire / reqs / 1024 if reqs else float("nan"),
    mean(gsum(kv, r"b\d+\.waitresp") for kv in A),
    mean(gsum(kv, r"b\d+\.waitresp_msgs") for kv in A),
    rtt, rtt99, bc, bs / 1024, mean(f(kv["msgq"]) for kv in A),
    mean(f(kv["msgq_kb"]) for kv in A)))
PY
}
bench_stats_header() {
    printf '%-28s %5s %7s %7s %6s %6s %7s %7s %6s %6s %7s %8s\n' "librdkafka statistics" \
        "n" "rec/req" "KiB/req" "inflt" "infl_r" "rtt ms" "rtt p99" "batch" "KiB/b" \
        "queued" "qd KiB"
}

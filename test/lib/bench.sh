# shellcheck shell=bash
# Helpers shared by the benchmarks under test/bench/ (sourced; not used by the tests).
#
#   bench_port_pair        a free TCP port P on 127.0.0.1 with P+1 free too (a Kafka
#                          broker takes P+1 for its controller)
#   bench_broker_jvm DIR   the pid of the broker JVM that kafka_start DIR started:
#                          kafka_start records the pid of the shell function it
#                          backgrounds, which may be the JVM's parent
#   bench_stop_servers KDIR BROKER_PID PGDIR   the broker and PostgreSQL down, for cleanup

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

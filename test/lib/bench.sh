# shellcheck shell=bash
# Helpers shared by the benchmarks under test/bench/ (sourced; not used by the tests).
#
#   bench_port_pair        a free TCP port P on 127.0.0.1 with P+1 free too (a Kafka
#                          broker takes P+1 for its controller)
#   bench_broker_jvm DIR   the pid of the broker JVM that kafka_start DIR started:
#                          kafka_start records the pid of the shell function it
#                          backgrounds, which may be the JVM's parent

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

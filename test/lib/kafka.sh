# shellcheck shell=bash
# A real Apache Kafka broker for the tests, without Docker: the jars come from Maven
# Central (pinned, cached under ${CDC_CACHE:-$REPO/.cache}/kafka-$KAFKA_VERSION/), and the
# broker runs in KRaft mode (combined broker + controller, one node) on loopback.
#
#   . test/lib/kafka.sh
#   kafka_install                  # once: mvn dependency:copy-dependencies into the cache
#   kafka_start "$T/kafka" 19092   # broker on 127.0.0.1:19092, controller on 19093
#   kafka_stop  "$T/kafka"         # SIGTERM, waits; kafka_kill: SIGKILL
#   kafka_start_tls "$T/kafka" 19092 19094 "$T/tls"
#                                  # the same, plus an SSL listener on 19094 (client
#                                  # certificate required) and SASL_SSL with SCRAM-SHA-512
#                                  # on 19095; certificates from test/lib/tls.sh's tls_make
#
# When kafka_start formats a new DIR, it appends $KAFKA_EXTRA_PROPERTIES (lines; later keys
# win) to server.properties and passes $KAFKA_FORMAT_SCRAM to the storage format as
# --add-scram; both are unset by default.
#
# Pinned: org.apache.kafka:kafka_2.13:3.7.1 (the Kafka Debezium 2.7 is built against) with
# its runtime dependencies, and org.slf4j:slf4j-reload4j:1.7.36 as the log binding.
# Needs java (17) and mvn on PATH.  Heap is 512 MiB.

KAFKA_VERSION=${KAFKA_VERSION:-3.7.1}
KAFKA_SCALA=${KAFKA_SCALA:-2.13}
_KAFKA_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
KAFKA_HOME=${KAFKA_HOME:-${CDC_CACHE:-$_KAFKA_REPO/.cache}/kafka-$KAFKA_VERSION}

_kafka_err() { echo "kafka.sh: $*" >&2; }

# Fetches the broker's jars once; later calls only check the marker file.
kafka_install() {
    local pom
    [ -f "$KAFKA_HOME/.complete" ] && return 0
    command -v java >/dev/null || { _kafka_err "java is not installed"; return 1; }
    command -v mvn >/dev/null || { _kafka_err "mvn is not installed"; return 1; }
    mkdir -p "$KAFKA_HOME/libs"
    pom=$KAFKA_HOME/pom.xml
    cat >"$pom" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>cdcagent.test</groupId>
  <artifactId>kafka-broker</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_$KAFKA_SCALA</artifactId>
      <version>$KAFKA_VERSION</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-metadata</artifactId>
      <version>$KAFKA_VERSION</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-raft</artifactId>
      <version>$KAFKA_VERSION</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-storage</artifactId>
      <version>$KAFKA_VERSION</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-server-common</artifactId>
      <version>$KAFKA_VERSION</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-group-coordinator</artifactId>
      <version>$KAFKA_VERSION</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-tools-api</artifactId>
      <version>$KAFKA_VERSION</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-reload4j</artifactId>
      <version>1.7.36</version></dependency>
  </dependencies>
</project>
EOF
    if ! mvn -q -B -f "$pom" dependency:copy-dependencies -DincludeScope=runtime \
            -DoutputDirectory="$KAFKA_HOME/libs" >"$KAFKA_HOME/mvn.log" 2>&1; then
        _kafka_err "mvn dependency:copy-dependencies failed; see $KAFKA_HOME/mvn.log"
        tail -n 20 "$KAFKA_HOME/mvn.log" >&2
        return 1
    fi
    ls "$KAFKA_HOME/libs" >"$KAFKA_HOME/.complete"
}

# _kafka_java [--exec] DIR ARGS...: --exec replaces the calling (background) subshell with
# java, so that "_kafka_java --exec ... &" leaves java's own pid in $! (without it, $! is a
# subshell's: kafka_stop/kafka_kill signalled that subshell and the broker kept running).
_kafka_java() {
    local exec=
    if [ "$1" = --exec ]; then exec=exec; shift; fi
    # -Xmx small: the tests move megabytes, not gigabytes.
    $exec java -Xms128m -Xmx512m -XX:+UseSerialGC -Djava.awt.headless=true \
        -Dlog4j.configuration="file:$1/log4j.properties" -cp "$KAFKA_HOME/libs/*" "${@:2}"
}

# kafka_start DIR PORT: formats DIR and starts the broker; returns once it answers.
kafka_start() {
    local dir=${1:?kafka_start DIR PORT} port=${2:?kafka_start DIR PORT} cport id i
    cport=$((port + 1))
    kafka_install || return 1
    mkdir -p "$dir/data"
    dir=$(cd "$dir" && pwd)
    if [ ! -f "$dir/server.properties" ]; then
        cat >"$dir/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$dir/data
num.partitions=1
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
log.segment.bytes=16777216
log.retention.check.interval.ms=300000
EOF
        # Later lines win in a .properties file, so these can also override the above.
        if [ -n "${KAFKA_EXTRA_PROPERTIES:-}" ]; then
            printf '%s\n' "$KAFKA_EXTRA_PROPERTIES" >>"$dir/server.properties"
        fi
        cat >"$dir/log4j.properties" <<EOF
log4j.rootLogger=INFO, F
log4j.appender.F=org.apache.log4j.FileAppender
log4j.appender.F.File=$dir/server.log
log4j.appender.F.layout=org.apache.log4j.PatternLayout
log4j.appender.F.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka=INFO
log4j.logger.org.apache.kafka=INFO
EOF
        id=$(_kafka_java "$dir" kafka.tools.StorageTool random-uuid 2>>"$dir/format.log" | tail -n 1)
        _kafka_java "$dir" kafka.tools.StorageTool format -t "$id" -c "$dir/server.properties" \
            ${KAFKA_FORMAT_SCRAM:+--add-scram "$KAFKA_FORMAT_SCRAM"} >>"$dir/format.log" 2>&1 || { _kafka_err "format failed: $(tail -n 5 "$dir/format.log")"; return 1; }
    fi
    echo "$port" >"$dir/port"
    _kafka_java --exec "$dir" kafka.Kafka "$dir/server.properties" >"$dir/stdout.log" 2>&1 &
    echo $! >"$dir/pid"
    for ((i = 0; i < 600; i++)); do
        if ! kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
            _kafka_err "broker exited; last lines of $dir/stdout.log and server.log:"
            tail -n 20 "$dir/stdout.log" "$dir/server.log" >&2 2>/dev/null
            return 1
        fi
        if grep -q "Kafka Server started" "$dir/server.log" 2>/dev/null &&
           kafka_probe_ok "127.0.0.1:$port"; then
            return 0
        fi
        sleep 0.2
    done
    _kafka_err "broker on 127.0.0.1:$port not ready after 120 s"
    return 1
}

# The probe tool (test/tools/kafka_probe.c), from $CDC_BUILD or build/.
kafka_probe_bin() {
    local b
    for b in "${KAFKA_PROBE:-}" "${CDC_BUILD:-}/kafka_probe" "$_KAFKA_REPO/build/kafka_probe"; do
        [ -n "$b" ] && [ -x "$b" ] && { echo "$b"; return 0; }
    done
    _kafka_err "kafka_probe not built (set KAFKA_PROBE or CDC_BUILD)"
    return 1
}

# kafka_probe_ok BOOTSTRAP: the broker answers a metadata request.
kafka_probe_ok() { "$(kafka_probe_bin)" -b "$1" topics >/dev/null 2>&1; }

_kafka_signal() {
    local dir=$1 sig=$2 pid i
    [ -f "$dir/pid" ] || return 0
    pid=$(cat "$dir/pid")
    kill "-$sig" "$pid" 2>/dev/null || { rm -f "$dir/pid"; return 0; }
    for ((i = 0; i < 300; i++)); do
        kill -0 "$pid" 2>/dev/null || { rm -f "$dir/pid"; return 0; }
        sleep 0.1
    done
    _kafka_err "broker $pid still running after SIG$sig; killing"
    kill -KILL "$pid" 2>/dev/null || true
    rm -f "$dir/pid"
}

kafka_stop() { _kafka_signal "${1:?kafka_stop DIR}" TERM; }
kafka_kill() { _kafka_signal "${1:?kafka_kill DIR}" KILL; }

# kafka_restart DIR: starts a stopped broker again on its port, keeping its data.
kafka_restart() { kafka_start "$1" "$(cat "$1/port")"; }

# kafka_start_tls DIR PORT SSLPORT TLSDIR: kafka_start DIR PORT (PLAINTEXT on PORT, which
# the broker also uses to talk to itself and kafka_probe_ok to see it is up), with two more
# listeners on 127.0.0.1 that present TLSDIR/server.p12 (tls_make, test/lib/tls.sh):
#   SSL      on SSLPORT:   the client must present a certificate signed by TLSDIR/ca.pem
#   SASL_SSL on SSLPORT+1: SCRAM-SHA-512, user $KAFKA_SCRAM_USER / $KAFKA_SCRAM_PASSWORD
#                          (created when the storage is formatted); no client certificate
# KAFKA_EXTRA_PROPERTIES, if set, still comes last.
KAFKA_SCRAM_USER=${KAFKA_SCRAM_USER:-cdcagent}
KAFKA_SCRAM_PASSWORD=${KAFKA_SCRAM_PASSWORD:-cdcagent-scram-secret}
kafka_start_tls() {
    local dir=${1:?kafka_start_tls DIR PORT SSLPORT TLSDIR} port=${2:?} sport=${3:?} tls=${4:?}
    local props
    if [ ! -f "$tls/server.p12" ] || [ ! -f "$tls/ca.pem" ]; then
        _kafka_err "no $tls/server.p12 or $tls/ca.pem (tls_make, test/lib/tls.sh)"
        return 1
    fi
    tls=$(cd "$tls" && pwd)
    props="listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$((port + 1)),SSL://127.0.0.1:$sport,SASL_SSL://127.0.0.1:$((sport + 1))
advertised.listeners=PLAINTEXT://127.0.0.1:$port,SSL://127.0.0.1:$sport,SASL_SSL://127.0.0.1:$((sport + 1))
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SSL:SSL,SASL_SSL:SASL_SSL
ssl.keystore.type=PKCS12
ssl.keystore.location=$tls/server.p12
ssl.keystore.password=${TLS_PASS:?TLS_PASS (test/lib/tls.sh)}
ssl.key.password=$TLS_PASS
ssl.truststore.type=PEM
ssl.truststore.location=$tls/ca.pem
listener.name.ssl.ssl.client.auth=required
listener.name.sasl_ssl.ssl.client.auth=none
sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;"
    if [ -n "${KAFKA_EXTRA_PROPERTIES:-}" ]; then props="$props
$KAFKA_EXTRA_PROPERTIES"; fi
    KAFKA_EXTRA_PROPERTIES=$props \
        KAFKA_FORMAT_SCRAM="SCRAM-SHA-512=[name=$KAFKA_SCRAM_USER,password=$KAFKA_SCRAM_PASSWORD]" \
        kafka_start "$dir" "$port"
}

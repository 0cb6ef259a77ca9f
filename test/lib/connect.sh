# shellcheck shell=bash
# Kafka Connect (standalone) with Debezium's PostgreSQL connector: the reference the agent's
# output is diffed against.  Source it, then:
#
#   connect_install                  Kafka Connect 3.7.1 and Debezium $DBZ_VERSION jars from
#                                    Maven Central into $CDC_CACHE/connect (once; reused)
#
# DBZ_VERSION picks the Debezium release, one of the pinned ones: 2.7.4.Final (the default,
# what the platform runs) or 3.6.1.Final (the current release, issue 25; its connector loads in
# the same Connect 3.7.1 worker).  Each has its own plugin directory and a SHA-256 of the
# Debezium jars checked after every install; mvn runs with --strict-checksums (Maven Central's
# .sha1 of every artifact).
#   connect_start DIR BOOTSTRAP PORT starts ConnectStandalone (REST on 127.0.0.1:PORT), worker
#                                    and connector config in DIR, offsets in DIR, log in
#                                    DIR/connect.log; waits until the connector task runs.
#                                    Connector settings come from DBZ_* variables (below).
#   connect_stop DIR                 SIGTERM, waits (then SIGKILL)
#   connect_status PORT              the connector's status JSON from the REST API
#
# Connector variables (connect_start): DBZ_HOST (127.0.0.1), DBZ_PORT (required), DBZ_DB,
# DBZ_USER, DBZ_PASSWORD, DBZ_PREFIX (topic.prefix), DBZ_TABLES (table.include.list),
# DBZ_SLOT (slot.name, default dbz_slot), DBZ_PUB (publication.name, default dbz_publication,
# autocreate mode "filtered"), DBZ_SNAPSHOT (snapshot.mode, initial), DBZ_SKIPPED
# (skipped.operations, "none"), DBZ_EXTRA (more "key=value" lines for the connector).
#
# Layout: the worker's classpath is $CDC_CACHE/connect/lib (Kafka Connect and its
# dependencies); the connector lives in its own plugin directory
# $CDC_CACHE/connect/plugins/debezium-connector-postgres, loaded through plugin.path, as Connect
# expects.  Both are resolved by Maven from generated poms (mvn dependency:copy-dependencies,
# with a private local repository under the cache).

CDC_CACHE=${CDC_CACHE:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/.cache}
KAFKA_CONNECT_VERSION=3.7.1
DBZ_VERSION=${DBZ_VERSION:-2.7.4.Final}   # 2.7.4: the newest 2.7.x on Maven Central
CONNECT_HOME=$CDC_CACHE/connect
# SHA-256 of the Debezium jars of each pinned release (sha256sum of the installed files; from
# 3.6 on debezium-core is an empty pointer module, the code is in debezium-connector-common).
declare -gA _DBZ_SHA256=(
    [debezium-connector-postgres-2.7.4.Final.jar]=2b1096239bc616c64a3842a9542541702762198bb9c259a14f7c786fd2cfe3d2
    [debezium-core-2.7.4.Final.jar]=5d751d9ba623a5b9dbaecfa37bea7a0a5193e8bb064307ddf31859468fdb4ac5
    [debezium-connector-postgres-3.6.1.Final.jar]=e7bb97f00f97ec78d7c39b19e2b0797739438433b6acaa0941e18dbc2da0d854
    [debezium-connector-common-3.6.1.Final.jar]=365a695d512b085cff2cd12e28e44a7a3e733b43bfb27f3608508d7800e2de45
)
# connect_select VERSION: DBZ_VERSION and its plugin directory DBZ_PLUGINS (Connect's
# plugin.path); 1 for a release that is not pinned.
connect_select() {
    DBZ_VERSION=$1
    case $DBZ_VERSION in
        2.7.4.Final) DBZ_PLUGINS=$CONNECT_HOME/plugins ;;      # the layout before issue 25
        3.6.1.Final) DBZ_PLUGINS=$CONNECT_HOME/plugins-$DBZ_VERSION ;;
        *) echo "connect.sh: DBZ_VERSION $DBZ_VERSION is not pinned (2.7.4.Final or 3.6.1.Final)" >&2
           DBZ_PLUGINS=$CONNECT_HOME/plugins-unpinned
           return 1 ;;
    esac
}
connect_select "$DBZ_VERSION" || true     # connect_install refuses an unpinned one

# _connect_verify: every pinned Debezium jar of $DBZ_VERSION is installed, with its SHA-256.
_connect_verify() {
    local dir=$DBZ_PLUGINS/debezium-connector-postgres jar got n=0
    for jar in "${!_DBZ_SHA256[@]}"; do
        case $jar in *-"$DBZ_VERSION".jar) ;; *) continue ;; esac
        [ -f "$dir/$jar" ] || { _connect_err "$dir/$jar is missing"; return 1; }
        got=$(sha256sum "$dir/$jar" | cut -d' ' -f1)
        [ "$got" = "${_DBZ_SHA256[$jar]}" ] ||
            { _connect_err "$dir/$jar: SHA-256 $got, pinned ${_DBZ_SHA256[$jar]}"; return 1; }
        n=$((n + 1))
    done
    [ "$n" -ge 1 ] || { _connect_err "no pinned SHA-256 for Debezium $DBZ_VERSION"; return 1; }
}

_connect_err() { echo "connect.sh: $*" >&2; }

# _connect_mvn_copy DIR OUT: resolve the pom in DIR and copy its runtime dependencies to OUT.
_connect_mvn_copy() {
    local dir=$1 out=$2
    rm -rf "$out.tmp"
    if ! mvn -B -q --strict-checksums -f "$dir/pom.xml" -Dmaven.repo.local="$CONNECT_HOME/m2" \
            dependency:copy-dependencies -DincludeScope=runtime \
            -DoutputDirectory="$out.tmp" >"$dir/mvn.log" 2>&1; then
        _connect_err "maven failed, see $dir/mvn.log:"
        tail -n 20 "$dir/mvn.log" >&2
        return 1
    fi
    rm -rf "$out" && mv "$out.tmp" "$out"
}

connect_install() {
    local stamp=$CONNECT_HOME/.installed-$KAFKA_CONNECT_VERSION-$DBZ_VERSION
    [ -f "$stamp" ] && { _connect_verify; return; }
    command -v mvn >/dev/null || { _connect_err "mvn not found (apt-get install maven)"; return 1; }
    command -v java >/dev/null || { _connect_err "java not found (apt-get install openjdk-17-jre-headless)"; return 1; }
    mkdir -p "$CONNECT_HOME/pom-worker" "$CONNECT_HOME/pom-dbz-$DBZ_VERSION" || return 1
    cat >"$CONNECT_HOME/pom-worker/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>cdcagent.test</groupId><artifactId>connect-worker</artifactId><version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>connect-runtime</artifactId><version>$KAFKA_CONNECT_VERSION</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>connect-json</artifactId><version>$KAFKA_CONNECT_VERSION</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>connect-api</artifactId><version>$KAFKA_CONNECT_VERSION</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>connect-transforms</artifactId><version>$KAFKA_CONNECT_VERSION</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-reload4j</artifactId><version>1.7.36</version></dependency>
  </dependencies>
</project>
POM
    # The connector's own jars: Connect's API and the Kafka client are provided by the worker.
    cat >"$CONNECT_HOME/pom-dbz-$DBZ_VERSION/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>cdcagent.test</groupId><artifactId>connect-dbz</artifactId><version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>io.debezium</groupId><artifactId>debezium-connector-postgres</artifactId><version>$DBZ_VERSION</version>
      <exclusions>
        <exclusion><groupId>org.apache.kafka</groupId><artifactId>*</artifactId></exclusion>
        <exclusion><groupId>org.slf4j</groupId><artifactId>*</artifactId></exclusion>
      </exclusions>
    </dependency>
  </dependencies>
</project>
POM
    echo "connect.sh: fetching Kafka Connect $KAFKA_CONNECT_VERSION and Debezium $DBZ_VERSION from Maven Central" >&2
    if [ ! -f "$CONNECT_HOME/.installed-worker-$KAFKA_CONNECT_VERSION" ] &&
        ! ls "$CONNECT_HOME"/.installed-"$KAFKA_CONNECT_VERSION"-* >/dev/null 2>&1; then
        _connect_mvn_copy "$CONNECT_HOME/pom-worker" "$CONNECT_HOME/lib" || return 1
    fi
    touch "$CONNECT_HOME/.installed-worker-$KAFKA_CONNECT_VERSION"
    mkdir -p "$DBZ_PLUGINS" || return 1
    _connect_mvn_copy "$CONNECT_HOME/pom-dbz-$DBZ_VERSION" "$DBZ_PLUGINS/debezium-connector-postgres" || return 1
    ls "$DBZ_PLUGINS/debezium-connector-postgres/debezium-connector-postgres-$DBZ_VERSION.jar" >/dev/null || return 1
    _connect_verify || return 1
    touch "$stamp"
}

# connect_status PORT [NAME]: the connector's status (JSON) from Connect's REST API.
connect_status() {
    curl -sf --max-time 5 "http://127.0.0.1:$1/connectors/${2:-dbz-ref}/status"
}

# connect_wait_streaming PORT SLOT: until the connector streams from SLOT (active once its
# snapshot is done), at most 90 s; fails the test when the connector FAILED.  Needs common.sh.
connect_wait_streaming() {
    local port=$1 slot=$2 deadline=$((SECONDS + 90))
    while [ "$(slot_field "$slot" active)" != t ]; do
        [ "$SECONDS" -lt "$deadline" ] || fail "Debezium's slot $slot not active after 90 s"
        case "$(connect_status "$port" || true)" in
            *FAILED*) fail "Debezium connector failed: $(connect_status "$port" | head -c 2000)" ;;
        esac
        sleep 0.3
    done
}

connect_start() {
    local dir=${1:?connect_start DIR BOOTSTRAP PORT} bootstrap=${2:?connect_start DIR BOOTSTRAP PORT}
    local port=${3:?connect_start DIR BOOTSTRAP PORT} deadline st
    connect_install || return 1
    mkdir -p "$dir" || return 1
    dir=$(cd "$dir" && pwd) || return 1
    : "${DBZ_PORT:?connect_start: set DBZ_PORT (PostgreSQL port)}"
    cat >"$dir/worker.properties" <<PROPS
bootstrap.servers=$bootstrap
key.converter=org.apache.kafka.connect.json.JsonConverter
value.converter=org.apache.kafka.connect.json.JsonConverter
key.converter.schemas.enable=true
value.converter.schemas.enable=true
offset.storage.file.filename=$dir/connect.offsets
offset.flush.interval.ms=1000
listeners=http://127.0.0.1:$port
rest.advertised.host.name=127.0.0.1
plugin.path=$DBZ_PLUGINS
task.shutdown.graceful.timeout.ms=5000
producer.linger.ms=0
PROPS
    {
        cat <<PROPS
name=dbz-ref
connector.class=io.debezium.connector.postgresql.PostgresConnector
tasks.max=1
plugin.name=pgoutput
database.hostname=${DBZ_HOST:-127.0.0.1}
database.port=$DBZ_PORT
database.dbname=${DBZ_DB:-cdc_demo}
database.user=${DBZ_USER:-cdc_user}
database.password=${DBZ_PASSWORD:-cdc_password}
topic.prefix=${DBZ_PREFIX:-cdc}
slot.name=${DBZ_SLOT:-dbz_slot}
publication.name=${DBZ_PUB:-dbz_publication}
publication.autocreate.mode=filtered
snapshot.mode=${DBZ_SNAPSHOT:-initial}
skipped.operations=${DBZ_SKIPPED:-none}
topic.creation.default.replication.factor=1
topic.creation.default.partitions=1
PROPS
        if [ -n "${DBZ_TABLES:-}" ]; then echo "table.include.list=$DBZ_TABLES"; fi
        if [ -n "${DBZ_EXTRA:-}" ]; then printf '%s\n' "$DBZ_EXTRA"; fi
    } >"$dir/connector.properties"
    cat >"$dir/log4j.properties" <<PROPS
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File=$dir/connect.log
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.org.reflections=ERROR
PROPS
    # Quick start over peak speed: C1 only, serial GC, CDS on (CONNECT_JAVA_OPTS replaces
    # these: test/bench/snapshot_bench.sh runs Debezium with the JVM's own defaults).
    # shellcheck disable=SC2086
    java ${CONNECT_JAVA_OPTS:--Xmx512m -Xms64m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto} \
        -Dlog4j.configuration="file:$dir/log4j.properties" \
        -cp "$CONNECT_HOME/lib/*" org.apache.kafka.connect.cli.ConnectStandalone \
        "$dir/worker.properties" "$dir/connector.properties" \
        >"$dir/connect.stdout" 2>&1 &
    echo $! >"$dir/connect.pid"
    deadline=$((SECONDS + ${CONNECT_START_TIMEOUT:-90}))
    while :; do
        if ! kill -0 "$(cat "$dir/connect.pid")" 2>/dev/null; then
            _connect_err "Kafka Connect exited during start; last lines of $dir/connect.log:"
            tail -n 30 "$dir/connect.log" "$dir/connect.stdout" >&2 2>/dev/null
            return 1
        fi
        st=$(connect_status "$port" 2>/dev/null || true)
        case "$st" in
            *'"tasks":[{"id":0,"state":"RUNNING"'*) return 0 ;;
            *FAILED*)
                _connect_err "connector failed: $(printf '%s' "$st" | head -c 3000)"
                return 1 ;;
        esac
        if [ "$SECONDS" -ge "$deadline" ]; then
            _connect_err "connector not running after ${CONNECT_START_TIMEOUT:-90}s; status: $st"
            tail -n 30 "$dir/connect.log" >&2
            return 1
        fi
        sleep 0.3
    done
}

connect_stop() {
    local dir=${1:?connect_stop DIR} pid i
    [ -f "$dir/connect.pid" ] || return 0
    pid=$(cat "$dir/connect.pid")
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < 200; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        if kill -0 "$pid" 2>/dev/null; then
            _connect_err "Kafka Connect did not stop within 20 s, killing it"
            kill -KILL "$pid" 2>/dev/null || true
        fi
        wait "$pid" 2>/dev/null || true
    fi
    rm -f "$dir/connect.pid"
}

# ---------------------------------------------------------------- private broker fallback
# Used only when test/lib/kafka.sh (the shared broker helper) is missing: a KRaft single node
# from the same Maven Central jars (org.apache.kafka:kafka_2.13:$KAFKA_CONNECT_VERSION).

_dbz_kafka_install() {
    local stamp=$CONNECT_HOME/.broker-installed-$KAFKA_CONNECT_VERSION
    [ -f "$stamp" ] && return 0
    mkdir -p "$CONNECT_HOME/pom-broker" || return 1
    cat >"$CONNECT_HOME/pom-broker/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>cdcagent.test</groupId><artifactId>broker</artifactId><version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$KAFKA_CONNECT_VERSION</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-reload4j</artifactId><version>1.7.36</version></dependency>
  </dependencies>
</project>
POM
    _connect_mvn_copy "$CONNECT_HOME/pom-broker" "$CONNECT_HOME/broker-lib" || return 1
    touch "$stamp"
}

# _dbz_kafka_start DIR PORT: a broker+controller on 127.0.0.1:PORT (controller on PORT+1).
_dbz_kafka_start() {
    local dir=${1:?} port=${2:?} cid deadline
    _dbz_kafka_install || return 1
    mkdir -p "$dir" && dir=$(cd "$dir" && pwd) || return 1
    cat >"$dir/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$((port + 1))
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$((port + 1))
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$dir/data
num.partitions=1
auto.create.topics.enable=false
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
PROPS
    cat >"$dir/log4j.properties" <<PROPS
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File=$dir/kafka.log
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
PROPS
    cid=$(python3 -c 'import base64,uuid;print(base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("="))')
    java -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Dlog4j.configuration="file:$dir/log4j.properties" \
        -cp "$CONNECT_HOME/broker-lib/*" kafka.tools.StorageTool format -t "$cid" \
        -c "$dir/server.properties" >"$dir/format.log" 2>&1 || { cat "$dir/format.log" >&2; return 1; }
    java -Xmx384m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Dlog4j.configuration="file:$dir/log4j.properties" \
        -cp "$CONNECT_HOME/broker-lib/*" kafka.Kafka "$dir/server.properties" >"$dir/kafka.stdout" 2>&1 &
    echo $! >"$dir/kafka.pid"
    deadline=$((SECONDS + 60))
    until grep -q 'Kafka Server started' "$dir/kafka.log" 2>/dev/null; do
        kill -0 "$(cat "$dir/kafka.pid")" 2>/dev/null || { _connect_err "broker exited"; tail -n 30 "$dir/kafka.log" "$dir/kafka.stdout" >&2; return 1; }
        [ "$SECONDS" -lt "$deadline" ] || { _connect_err "broker not started after 60 s"; return 1; }
        sleep 0.2
    done
}

_dbz_kafka_stop() {
    local dir=${1:?} pid i
    [ -f "$dir/kafka.pid" ] || return 0
    pid=$(cat "$dir/kafka.pid")
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 200; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    rm -f "$dir/kafka.pid"
}

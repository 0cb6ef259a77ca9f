# shellcheck shell=bash
# Apache Iceberg's own REST catalog server (RESTCatalogServer from iceberg-open-api's test
# fixtures on Maven Central, the server behind the apache/iceberg-rest-fixture image) for the
# REST catalog tests: a real server, not a double.
#
#   . test/lib/iceberg_rest.sh
#   icerest_install              once: the server's classpath (test/lib/iceberg_rest/pom.xml,
#                                versions pinned) resolved with mvn into $ICEREST_HOME (cache),
#                                and test/lib/iceberg_rest/LoopbackRESTServer.java compiled there
#   icerest_start DIR PORT       the server on 127.0.0.1:PORT with its JDBC catalog in DIR/catalog.db
#                                (SQLite, kept across restarts) and its warehouse in
#                                file://DIR/warehouse; log DIR/server.log, pid DIR/pid;
#                                returns once GET /v1/config answers; then ICEREST_URL is
#                                http://127.0.0.1:PORT
#   icerest_stop DIR             SIGTERM, waits (then SIGKILL); icerest_kill DIR: SIGKILL
#   icerest_read ARGS            test/tools/iceberg_rest_read.py ARGS in test/lib/iceberg.sh's venv
#                                (pyiceberg's RestCatalog, pyarrow, fastavro; iceberg_install first)
#
# Facts (read in the 1.10.0 jars with javap, and checked by 650_iceberg_rest_catalog.sh):
# - RESTCatalogServer builds a JdbcCatalog (jdbc.schema-version V1) from the environment:
#   CATALOG_<KEY> becomes the catalog property <key> ("_" -> ".", "__" -> "-"), e.g.
#   CATALOG_URI, CATALOG_WAREHOUSE, CATALOG_REST_PORT (rest.port, default 8181).  FileIO is
#   HadoopFileIO (hadoop-client-api/-runtime on the classpath), so file:// warehouses work.
# - RESTCatalogServer.start() hands Jetty's Server(port) its servlet, which binds every
#   interface; LoopbackRESTServer does what start() does with the same classes (reached by
#   reflection where they are package-private) but binds 127.0.0.1 only.  Nothing in the
#   server checks credentials: POST /v1/oauth/tokens (client_credentials)
#   hands out a token for any client id and secret, and any bearer token is accepted.
# - A commit whose requirements fail (assert-ref-snapshot-id, assert-table-uuid) answers
#   409 CommitFailedException; errors are {"error": {"message", "type", "code"}}.

_ICEREST_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CDC_CACHE=${CDC_CACHE:-$_ICEREST_REPO/.cache}
ICEREST_POM=$_ICEREST_REPO/test/lib/iceberg_rest/pom.xml
ICEREST_LAUNCHER=$_ICEREST_REPO/test/lib/iceberg_rest/LoopbackRESTServer.java
ICEREST_HOME=$CDC_CACHE/iceberg-rest-1.10.0
ICEREST_URL=
# shellcheck source=SCRIPTDIR/iceberg.sh
. "$_ICEREST_REPO/test/lib/iceberg.sh"

_icerest_err() { echo "iceberg_rest.sh: $*" >&2; }

icerest_install() {
    local stage=$CDC_CACHE/iceberg-rest-dl
    if [ -f "$ICEREST_HOME/.complete" ] && cmp -s "$ICEREST_POM" "$ICEREST_HOME/pom.xml" &&
            cmp -s "$ICEREST_LAUNCHER" "$ICEREST_HOME/LoopbackRESTServer.java"; then
        return 0
    fi
    command -v java >/dev/null || { _icerest_err "java is not installed"; return 1; }
    command -v javac >/dev/null || { _icerest_err "javac is not installed (a JDK)"; return 1; }
    command -v mvn >/dev/null || { _icerest_err "mvn is not installed"; return 1; }
    rm -rf "$stage" "$ICEREST_HOME.tmp" && mkdir -p "$stage" "$ICEREST_HOME.tmp/lib"
    if ! mvn -B -q -f "$ICEREST_POM" -Dmaven.repo.local="$stage/m2" dependency:copy-dependencies \
            -DincludeScope=runtime -DoutputDirectory="$ICEREST_HOME.tmp/lib" \
            >"$stage/mvn.log" 2>&1; then
        _icerest_err "the classpath of $ICEREST_POM did not resolve; see $stage/mvn.log"
        tail -n 5 "$stage/mvn.log" >&2
        return 1
    fi
    mkdir -p "$ICEREST_HOME.tmp/classes"
    if ! javac -d "$ICEREST_HOME.tmp/classes" -cp "$ICEREST_HOME.tmp/lib/*" "$ICEREST_LAUNCHER" \
            >"$stage/javac.log" 2>&1; then
        _icerest_err "javac $ICEREST_LAUNCHER failed; see $stage/javac.log"
        tail -n 5 "$stage/javac.log" >&2
        return 1
    fi
    cp "$ICEREST_LAUNCHER" "$ICEREST_HOME.tmp/LoopbackRESTServer.java"
    cp "$ICEREST_POM" "$ICEREST_HOME.tmp/pom.xml"
    rm -rf "$ICEREST_HOME" && mv "$ICEREST_HOME.tmp" "$ICEREST_HOME" && rm -rf "$stage"
    ls "$ICEREST_HOME/lib" >"$ICEREST_HOME/.complete"
}

icerest_start() {
    local dir=${1:?icerest_start DIR} port=${2:?icerest_start DIR PORT} i
    icerest_install || return 1
    mkdir -p "$dir/warehouse" && dir=$(cd "$dir" && pwd)
    (cd "$dir" && exec env CATALOG_URI="jdbc:sqlite:file:$dir/catalog.db" \
        CATALOG_WAREHOUSE="file://$dir/warehouse" \
        CATALOG_REST_PORT="$port" \
        java -Xms64m -Xmx384m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
        -cp "$ICEREST_HOME/lib/*:$ICEREST_HOME/classes" LoopbackRESTServer \
        >>"$dir/server.log" 2>&1) &
    echo $! >"$dir/pid"
    for ((i = 0; i < 600; i++)); do
        if ! kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
            _icerest_err "the REST catalog server exited; last lines of $dir/server.log:"
            tail -n 20 "$dir/server.log" >&2
            return 1
        fi
        if curl -sf -o /dev/null "http://127.0.0.1:$port/v1/config"; then
            ICEREST_URL=http://127.0.0.1:$port
            return 0
        fi
        sleep 0.1
    done
    _icerest_err "the REST catalog server did not answer on port $port within 60 s; see $dir/server.log"
    return 1
}

_icerest_signal() {
    local dir=$1 sig=$2 pid i
    [ -f "$dir/pid" ] || return 0
    pid=$(cat "$dir/pid")
    kill "-$sig" "$pid" 2>/dev/null || { rm -f "$dir/pid"; return 0; }
    for ((i = 0; i < 300; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    rm -f "$dir/pid"
}
icerest_stop() { _icerest_signal "${1:?icerest_stop DIR}" TERM; }
icerest_kill() { _icerest_signal "${1:?icerest_kill DIR}" KILL; }

icerest_read() { "$ICEBERG_PY" "$_ICEREST_REPO/test/tools/iceberg_rest_read.py" "$@"; }

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
#   icerest_py_env               once: a venv with pyiceberg 0.12.0 (RestCatalog, pyarrow) and
#                                fastavro, every package pinned; afterwards $ICEREST_PY is its
#                                python3 and icerest_read ARGS runs test/tools/iceberg_rest_read.py
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

# The set pip resolved for pyiceberg[pyarrow]==0.12.0 and fastavro on Python 3.11 (manylinux
# wheels only), all pinned: a new release of a dependency never changes what the tests read with.
ICEREST_PY_PACKAGES=(
    "pyiceberg[pyarrow]==0.12.0" pyarrow==26.0.1 fastavro==1.9.7
    annotated-types==0.8.0 cachetools==8.0.3 certifi==2026.10.19.post1 charset-normalizer==3.5.3
    click==8.5.1 fsspec==2026.9.0 idna==3.21 markdown-it-py==4.3.0 mdurl==0.1.2 mmh3==5.3.1
    pydantic==2.14.4 pydantic_core==2.50.5 Pygments==2.21.0 pyparsing==3.3.3 pyroaring==1.2.0
    python-dateutil==4.0.0 requests==2.34.2 rich==15.0.0 strictyaml==1.7.3 tenacity==9.2.1
    typing-inspection==0.4.5 typing_extensions==4.16.0 tzdata==2026.6 urllib3==2.8.0
    zstandard==0.25.0
)
ICEREST_VENV=$CDC_CACHE/venv-icerest-pyiceberg-0.12.0
ICEREST_PY=$ICEREST_VENV/bin/python3

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

icerest_py_env() {
    local stamp=$ICEREST_VENV/.installed log=$ICEREST_VENV.log
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "${ICEREST_PY_PACKAGES[*]}" ]; then return 0; fi
    mkdir -p "$CDC_CACHE" || return 1
    rm -rf "$ICEREST_VENV"
    if ! python3 -m venv "$ICEREST_VENV" >"$log" 2>&1; then
        _icerest_err "python3 -m venv failed (apt-get install python3-venv); see $log"
        return 1
    fi
    if ! "$ICEREST_PY" -m pip install -q --disable-pip-version-check --only-binary=:all: \
            "${ICEREST_PY_PACKAGES[@]}" >>"$log" 2>&1; then
        _icerest_err "pip install ${ICEREST_PY_PACKAGES[*]} failed; see $log"
        tail -n 10 "$log" >&2
        return 1
    fi
    echo "${ICEREST_PY_PACKAGES[*]}" >"$stamp"
}

icerest_read() { "$ICEREST_PY" "$_ICEREST_REPO/test/tools/iceberg_rest_read.py" "$@"; }

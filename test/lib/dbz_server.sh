# shellcheck shell=bash
# Debezium Server 2.7 with its Kinesis sink, for the reference run against moto (issue 19).
#
#   . test/lib/dbz_server.sh
#   dbzs_install                  once: io.debezium:debezium-server-dist:$DBZS_VERSION:tar.gz from
#                                 Maven Central (~450 MB) unpacked into $DBZS_HOME (cache)
#   dbzs_start DIR                runs it with DIR/application.properties written from the DBZ_*
#                                 variables below and the moto endpoint in $AWS_ENDPOINT_URL
#                                 (moto.sh's moto_env); offsets in DIR; log DIR/server.log;
#                                 returns once the connector streams
#   dbzs_stop DIR                 SIGTERM, waits (then SIGKILL)
#
# Variables: DBZ_PORT (PostgreSQL port, required), DBZ_HOST, DBZ_DB, DBZ_USER, DBZ_PASSWORD,
# DBZ_PREFIX (topic.prefix, default "cdc"), DBZ_TABLES, DBZ_SLOT (dbz_slot), DBZ_PUB
# (dbz_publication), DBZ_SNAPSHOT (initial), DBZ_EXTRA (more debezium.* lines).
#
# Facts (read in debezium-server-kinesis-2.7.3.Final.jar, KinesisChangeConsumer):
# - Server 2.7.4.Final is not on Maven Central (its dist and kinesis artifacts are missing);
#   2.7.3.Final is, with debezium-connector-postgres 2.7.3.Final and AWS SDK v2 2.13.13.
# - The sink sends ONE PutRecord per event (PutRecords batching came in 3.0.1), retrying a
#   failed one in place, so per-key order holds but throughput is one request per event.
# - Stream name = the event's destination (topic) name, "{prefix}.{schema}.{table}"; the
#   streams must exist (the sink creates none): dbzs_start does not create them either.
# - Partition key = the record key as a string; events without a key use
#   debezium.sink.kinesis.null.key (default "default").
# - Settings: debezium.sink.kinesis.region, .endpoint (endpointOverride), and
#   .credentials.profile (ProfileCredentialsProvider, default "default"): credentials come
#   from a shared credentials FILE only, not from AWS_ACCESS_KEY_ID; SDK 2.13 also ignores
#   AWS_ENDPOINT_URL (newer SDKs read it), hence the explicit endpoint here.
# - Key and value are JsonConverter's JSON with {schema, payload}: Debezium Server 2.7's
#   ConverterBuilder sets no schemas.enable default, so JsonConverter's own (true) holds;
#   dbzs_start sets key and value schemas.enable=true explicitly all the same.

_DBZS_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CDC_CACHE=${CDC_CACHE:-$_DBZS_REPO/.cache}
DBZS_VERSION=${DBZS_VERSION:-2.7.3.Final}
DBZS_HOME=$CDC_CACHE/debezium-server-$DBZS_VERSION

_dbzs_err() { echo "dbz_server.sh: $*" >&2; }

dbzs_install() {
    local stage=$CDC_CACHE/debezium-server-dl
    [ -f "$DBZS_HOME/.complete" ] && return 0
    command -v java >/dev/null || { _dbzs_err "java is not installed"; return 1; }
    command -v mvn >/dev/null || { _dbzs_err "mvn is not installed"; return 1; }
    mkdir -p "$stage"
    if ! mvn -B -q -Dmaven.repo.local="$stage/m2" dependency:copy \
            -Dartifact="io.debezium:debezium-server-dist:$DBZS_VERSION:tar.gz" \
            -DoutputDirectory="$stage" >"$stage/mvn.log" 2>&1; then
        _dbzs_err "io.debezium:debezium-server-dist:$DBZS_VERSION:tar.gz did not resolve; see $stage/mvn.log"
        tail -n 5 "$stage/mvn.log" >&2
        return 1
    fi
    rm -rf "$DBZS_HOME.tmp" && mkdir -p "$DBZS_HOME.tmp"
    tar -xzf "$stage/debezium-server-dist-$DBZS_VERSION.tar.gz" -C "$DBZS_HOME.tmp" || return 1
    rm -rf "$DBZS_HOME" && mv "$DBZS_HOME.tmp/debezium-server" "$DBZS_HOME" && rm -rf "$DBZS_HOME.tmp"
    # The tarball and the private Maven repository are not needed once unpacked.
    rm -rf "$stage"
    ls "$DBZS_HOME/lib/debezium-server-kinesis-$DBZS_VERSION.jar" >"$DBZS_HOME/.complete"
}

dbzs_start() {
    local dir=${1:?dbzs_start DIR} i
    : "${DBZ_PORT:?dbzs_start: set DBZ_PORT (PostgreSQL port)}"
    : "${AWS_ENDPOINT_URL:?dbzs_start: AWS_ENDPOINT_URL not set (moto.sh moto_start)}"
    dbzs_install || return 1
    mkdir -p "$dir/conf" && dir=$(cd "$dir" && pwd)
    # The sink reads credentials from a profile file only.
    printf '[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n' \
        "${AWS_ACCESS_KEY_ID:?}" "${AWS_SECRET_ACCESS_KEY:?}" >"$dir/credentials"
    chmod 600 "$dir/credentials"
    {
        cat <<PROPS
debezium.sink.type=kinesis
debezium.sink.kinesis.region=${AWS_REGION:-us-east-1}
debezium.sink.kinesis.endpoint=$AWS_ENDPOINT_URL
debezium.sink.kinesis.credentials.profile=default
debezium.source.connector.class=io.debezium.connector.postgresql.PostgresConnector
debezium.source.plugin.name=pgoutput
debezium.source.offset.storage.file.filename=$dir/offsets.dat
debezium.source.offset.flush.interval.ms=1000
debezium.source.database.hostname=${DBZ_HOST:-127.0.0.1}
debezium.source.database.port=$DBZ_PORT
debezium.source.database.dbname=${DBZ_DB:-cdc_demo}
debezium.source.database.user=${DBZ_USER:-cdc_user}
debezium.source.database.password=${DBZ_PASSWORD:-cdc_password}
debezium.source.topic.prefix=${DBZ_PREFIX:-cdc}
debezium.source.slot.name=${DBZ_SLOT:-dbz_slot}
debezium.source.publication.name=${DBZ_PUB:-dbz_publication}
debezium.source.publication.autocreate.mode=filtered
debezium.source.snapshot.mode=${DBZ_SNAPSHOT:-initial}
debezium.format.key=json
debezium.format.value=json
debezium.format.key.schemas.enable=true
debezium.format.value.schemas.enable=true
quarkus.http.port=${DBZS_HTTP_PORT:-0}
quarkus.log.console.json=false
PROPS
        if [ -n "${DBZ_TABLES:-}" ]; then echo "debezium.source.table.include.list=$DBZ_TABLES"; fi
        if [ -n "${DBZ_EXTRA:-}" ]; then printf '%s\n' "$DBZ_EXTRA"; fi
    } >"$dir/conf/application.properties"
    # Debezium Server reads conf/application.properties relative to its working directory.
    # aws.cborEnabled=false: SDK v2 speaks CBOR to Kinesis by default, which moto cannot read
    # (it answers 500 to every CBOR PutRecord).
    (cd "$dir" && AWS_SHARED_CREDENTIALS_FILE=$dir/credentials AWS_CONFIG_FILE=/dev/null \
        AWS_CBOR_ENABLED=false \
        exec java -Xms128m -Xmx512m -XX:+UseSerialGC -Daws.cborEnabled=false -cp "$DBZS_HOME/debezium-server-dist-$DBZS_VERSION-runner.jar:$dir/conf:$DBZS_HOME/lib/*" \
        io.debezium.server.Main >"$dir/server.log" 2>&1) &
    echo $! >"$dir/pid"
    for ((i = 0; i < 900; i++)); do
        if ! kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
            _dbzs_err "Debezium Server exited; last lines of $dir/server.log:"
            tail -n 30 "$dir/server.log" >&2
            return 1
        fi
        if grep -q "Starting streaming" "$dir/server.log" 2>/dev/null; then return 0; fi
        sleep 0.2
    done
    _dbzs_err "Debezium Server not streaming after 180 s; see $dir/server.log"
    return 1
}

dbzs_stop() {
    local dir=${1:?dbzs_stop DIR} pid i
    [ -f "$dir/pid" ] || return 0
    pid=$(cat "$dir/pid")
    kill -TERM "$pid" 2>/dev/null || { rm -f "$dir/pid"; return 0; }
    for ((i = 0; i < 300; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    rm -f "$dir/pid"
}

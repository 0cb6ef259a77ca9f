#!/usr/bin/env bash
# Installs every pinned test tool into the git-ignored cache, one after the other:
#
#   bash test/lib/prefetch.sh
#
# The integration tests install what they use on first use, and most of those installers
# (a venv made afresh, mvn copying jars into a directory) are not safe to run twice at the
# same time.  test/run.sh calls this once before it runs the integration tests two at a
# time, so that no two tests can install the same tool at once.  Each installer returns at
# once when its tool is there already.  Each failure is named; the tests that need the tool
# fail later with the same message.
set -uo pipefail

_PREFETCH_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export CDC_CACHE=${CDC_CACHE:-$_PREFETCH_REPO/.cache}
LIB=$_PREFETCH_REPO/test/lib
failed=()

# fetch WHAT COMMAND...: runs COMMAND, remembers WHAT when it fails.
fetch() {
    local what=$1 t0=$SECONDS
    shift
    if "$@"; then
        echo "prefetch: $what ready ($((SECONDS - t0)) s)"
    else
        echo "prefetch: $what FAILED" >&2
        failed+=("$what")
    fi
}

. "$LIB/py.sh"
fetch "python client venv (confluent-kafka, fastavro)" py_env
. "$LIB/kafka.sh"
fetch "Kafka $KAFKA_VERSION" kafka_install
. "$LIB/connect.sh"
for v in 2.7.4.Final 3.6.1.Final; do
    connect_select "$v" && fetch "Kafka Connect with Debezium $v" connect_install
done
. "$LIB/dbz_server.sh"
fetch "Debezium Server $DBZS_VERSION" dbzs_install
. "$LIB/moto.sh"
fetch "moto" moto_install
. "$LIB/iceberg_rest.sh"       # sources iceberg.sh
fetch "pyiceberg venv" iceberg_install
fetch "Iceberg REST catalog" icerest_install
. "$LIB/spark.sh"
fetch "pyspark" spark_install
. "$LIB/pgver.sh"
for major in 11 12 13 14 16 17 18; do
    fetch "PostgreSQL $major" eval 'pgver_install "$major" >/dev/null'
done

if [ "${#failed[@]}" -gt 0 ]; then
    echo "prefetch: not installed: ${failed[*]} (the tests that need them will fail)" >&2
    exit 1
fi

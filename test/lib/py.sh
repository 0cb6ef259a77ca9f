# shellcheck shell=bash
# A Python virtual environment with the test-only client libraries, in the git-ignored cache.
#
#   py_env     creates (once) $CDC_CACHE/venv-$PY_ENV_TAG with the pinned packages below and
#              prints nothing; afterwards $PY is its python3.
#
# confluent-kafka is the platform's own Kafka client (librdkafka inside its manylinux wheel);
# fastavro decodes Avro independently of the agent.

CDC_CACHE=${CDC_CACHE:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/.cache}
PY_PACKAGES=("confluent-kafka[avro]==2.5.3" fastavro==1.9.7)
PY_ENV_TAG=1
PY_VENV=$CDC_CACHE/venv-$PY_ENV_TAG
PY=$PY_VENV/bin/python3

py_env() {
    local stamp=$PY_VENV/.installed
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "${PY_PACKAGES[*]}" ]; then return 0; fi
    mkdir -p "$CDC_CACHE" || return 1
    rm -rf "$PY_VENV"
    if ! python3 -m venv "$PY_VENV" >"$CDC_CACHE/venv-$PY_ENV_TAG.log" 2>&1; then
        echo "py.sh: python3 -m venv failed (apt-get install python3-venv); see $CDC_CACHE/venv-$PY_ENV_TAG.log" >&2
        return 1
    fi
    if ! "$PY" -m pip install -q --disable-pip-version-check --only-binary=:all: "${PY_PACKAGES[@]}" \
            >>"$CDC_CACHE/venv-$PY_ENV_TAG.log" 2>&1; then
        echo "py.sh: pip install ${PY_PACKAGES[*]} failed; see $CDC_CACHE/venv-$PY_ENV_TAG.log" >&2
        tail -n 10 "$CDC_CACHE/venv-$PY_ENV_TAG.log" >&2
        return 1
    fi
    echo "${PY_PACKAGES[*]}" >"$stamp"
}

# The Iceberg and Parquet readers (pyiceberg, pyarrow, fastavro, DuckDB) are in test/lib/iceberg.sh's
# venv (iceberg_install, $ICEBERG_PY), the one environment for them.

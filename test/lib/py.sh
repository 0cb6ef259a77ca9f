# shellcheck shell=bash
# A Python virtual environment with the test-only client libraries, in the git-ignored cache.
#
#   py_env     creates (once) $CDC_CACHE/venv-$PY_ENV_TAG with the pinned packages below and
#              prints nothing; afterwards $PY is its python3.
#   py_venv_install WHO VENV STAMP LOG [--into] [PIP_OPTION...] -- PACKAGE...
#              the one way the test libraries install Python packages (py_env, iceberg.sh's
#              iceberg_install, moto.sh's moto_install, spark.sh's spark_install): the pinned
#              PACKAGEs from PyPI, binary wheels only (PIP_OPTIONs such as --no-binary=NAME
#              add to that), into the venv VENV made afresh, or with --into added to the
#              existing VENV.  Nothing to do when STAMP already lists the PACKAGEs; STAMP is
#              written once they are in.  Output goes to LOG; a failure says "WHO: ..." on
#              stderr (with LOG's last lines when pip failed) and returns 1.
#
# confluent-kafka is the platform's own Kafka client (librdkafka inside its manylinux wheel);
# fastavro decodes Avro independently of the agent.

CDC_CACHE=${CDC_CACHE:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/.cache}
PY_PACKAGES=("confluent-kafka[avro]==2.5.3" fastavro==1.9.7)
PY_ENV_TAG=1
PY_VENV=$CDC_CACHE/venv-$PY_ENV_TAG
PY=$PY_VENV/bin/python3

py_venv_install() {
    local who=$1 venv=$2 stamp=$3 log=$4 into= opts=()
    shift 4
    if [ "${1-}" = --into ]; then into=1; shift; fi
    while [ $# -gt 0 ] && [ "$1" != -- ]; do opts+=("$1"); shift; done
    [ "${1-}" = -- ] || { echo "$who: py_venv_install: no -- before the packages" >&2; return 1; }
    shift
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$*" ]; then return 0; fi
    if [ -z "$into" ]; then
        mkdir -p "$(dirname "$venv")" || return 1
        rm -rf "$venv"
        if ! python3 -m venv "$venv" >"$log" 2>&1; then
            echo "$who: python3 -m venv failed (apt-get install python3-venv); see $log" >&2
            return 1
        fi
    else
        : >"$log"
    fi
    if ! "$venv/bin/python3" -m pip install -q --disable-pip-version-check --only-binary=:all: \
            "${opts[@]}" "$@" >>"$log" 2>&1; then
        echo "$who: pip install $* failed; see $log" >&2
        tail -n 10 "$log" >&2
        return 1
    fi
    echo "$*" >"$stamp"
}

py_env() { py_venv_install py.sh "$PY_VENV" "$PY_VENV/.installed" "$PY_VENV.log" -- "${PY_PACKAGES[@]}"; }

# The Iceberg and Parquet readers (pyiceberg, pyarrow, fastavro, DuckDB) are in test/lib/iceberg.sh's
# venv (iceberg_install, $ICEBERG_PY), the one environment for them.

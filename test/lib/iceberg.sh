# shellcheck shell=bash
# The one Python environment for everything Iceberg and Parquet in the tests (PyPI, pinned,
# cached): pyiceberg, the platform's own Iceberg reader and writer, with its SqlCatalog on
# SQLite and PostgreSQL (SQLAlchemy, psycopg2) and its RestCatalog; pyarrow, the independent
# Parquet reader and writer; fastavro, which reads manifests and manifest lists independently
# of avro-c; DuckDB, a second Parquet reader with code of its own.  test/lib/spark.sh adds
# pyspark to this same venv.
#
#   . test/lib/iceberg.sh
#   iceberg_install            once: a venv $ICEBERG_VENV with the pins below (git-ignored
#                              cache); afterwards $ICEBERG_PY is its python3
#   iceberg_read ARGS...       $ICEBERG_PY test/tools/iceberg_read.py ARGS (rows sorted by key
#                              as JSON lines, snapshots and their summaries, the metadata
#                              location; see its --help)
#   iceberg_write ARGS...      $ICEBERG_PY test/tools/iceberg_write.py ARGS (create a table,
#                              append with pyiceberg's own commit, optionally racing another
#                              writer; see its --help)
#   iceberg_pg_uri PORT        the catalog_uri of test/lib/pg.sh's cdc_demo database as
#                              cdc_user: postgresql://cdc_user:cdc_password@127.0.0.1:PORT/cdc_demo
#
# The pins are the set pip resolved for pyiceberg[sql-sqlite,sql-postgres,pyarrow]==0.12.0 on
# Python 3.11 (manylinux wheels only), every one of them pinned so that a new release of a
# dependency never changes what the tests read with; except SQLAlchemy: 2.0.59, the last of
# 2.0, not the 2.1.9 pip picks, because SQLAlchemy 2.1 reads a plain postgresql:// URI (the
# platform's catalog_uri form) as psycopg 3, which pyiceberg's sql-postgres extra does not
# install (it brings psycopg2): with 2.1 only postgresql+psycopg2:// works.  fastavro 1.12.1
# and DuckDB 1.1.3 (no dependencies; DuckDB reads Parquet files by path, it needs no numpy).
# ICEBERG_ENV_TAG names the venv's directory: a change of the pins gets a new directory, so a
# checkout with the old pins sharing the same cache keeps its own venv instead of rebuilding
# the other's in turn.

CDC_CACHE=${CDC_CACHE:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/.cache}
_ICEBERG_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=SCRIPTDIR/py.sh
. "$_ICEBERG_REPO/test/lib/py.sh"    # py_venv_install
ICEBERG_VERSION=0.12.0
ICEBERG_PACKAGES=(
    "pyiceberg[sql-sqlite,sql-postgres,pyarrow]==$ICEBERG_VERSION"
    SQLAlchemy==2.0.59 greenlet==3.5.6 psycopg2-binary==2.9.13 pyarrow==26.0.1
    annotated-types==0.8.0 cachetools==8.0.3 certifi==2026.10.19.post1 charset-normalizer==3.5.3
    click==8.5.1 fsspec==2026.9.0 idna==3.21 markdown-it-py==4.3.0 mdurl==0.1.2 mmh3==5.3.1
    pydantic==2.14.4 pydantic_core==2.50.5 Pygments==2.21.0 pyparsing==3.3.3 pyroaring==1.2.0
    python-dateutil==4.0.0 requests==2.34.2 rich==15.0.0 strictyaml==1.7.3 tenacity==9.2.1
    typing-inspection==0.4.5 typing_extensions==4.16.0 tzdata==2026.6 urllib3==2.8.0
    zstandard==0.25.0
    fastavro==1.12.1 duckdb==1.1.3
)
ICEBERG_ENV_TAG=2
ICEBERG_VENV=$CDC_CACHE/venv-iceberg-$ICEBERG_VERSION-$ICEBERG_ENV_TAG
ICEBERG_PY=$ICEBERG_VENV/bin/python3

# For the tests of the sink, called at check time: chk ARGS... runs
# test/tools/iceberg_sink_check.py against the catalog $CAT_URI and warehouse $WH (plus
# ICE_CHK_ARGS: --rest, --s3-endpoint URL); pgjson TABLE prints the source table's rows as
# JSON, ordered by id (needs common.sh's sql).
ICE_CHK_ARGS=()
chk() {
    "$ICEBERG_PY" "$_ICEBERG_REPO/test/tools/iceberg_sink_check.py" "${ICE_CHK_ARGS[@]}" \
        --uri "$CAT_URI" --warehouse "$WH" "$@"
}
pgjson() { PGTZ=UTC sql "SELECT row_to_json(t) FROM $1 t ORDER BY id"; }

iceberg_install() {
    py_venv_install iceberg.sh "$ICEBERG_VENV" "$ICEBERG_VENV/.installed" "$ICEBERG_VENV.log" \
        -- "${ICEBERG_PACKAGES[@]}"
}

iceberg_read()  { "$ICEBERG_PY" "$_ICEBERG_REPO/test/tools/iceberg_read.py" "$@"; }
iceberg_write() { "$ICEBERG_PY" "$_ICEBERG_REPO/test/tools/iceberg_write.py" "$@"; }

iceberg_pg_uri() {
    echo "postgresql://cdc_user:cdc_password@127.0.0.1:${1:?iceberg_pg_uri PORT}/cdc_demo"
}

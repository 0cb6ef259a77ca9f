# shellcheck shell=bash
# Apache Spark with Iceberg's Spark runtime, the second engine that reads (and writes) the
# Iceberg tests' tables beside pyiceberg: pyspark from PyPI in test/lib/iceberg.sh's venv (the
# one Iceberg environment), the Iceberg runtime jar and the JDBC drivers of the SQL catalog from
# Maven Central, all pinned and cached in the git-ignored .cache; nothing is downloaded at test
# time once installed (spark.jars points at the cached jars: no Ivy resolution).
#
#   . test/lib/spark.sh
#   spark_install          once: iceberg_install, then pyspark $SPARK_VERSION (+ py4j) into
#                          $ICEBERG_VENV and test/lib/spark/pom.xml's jars into $SPARK_JARS_DIR;
#                          exports SPARK_ICEBERG_JARS and JAVA_HOME (a Java 17, or 11)
#   spark_read ARGS...     $ICEBERG_PY test/tools/spark_read.py ARGS (rows as iceberg_read.py
#                          prints them; Spark SQL statements; see its --help)
#
# Pins: pyspark 3.5.6 (an sdist only on PyPI: the one package built from source, pure Python
# with Spark's jars inside, about 320 MB installed) and py4j 0.10.9.7 (what it requires);
# iceberg-spark-runtime-3.5_2.12 1.10.0 (Iceberg 1.10.0 is built against Spark 3.5.6, Scala
# 2.12 as pyspark's jars); sqlite-jdbc 3.49.1.0 (as test/lib/iceberg_rest/pom.xml) and
# postgresql 42.7.7.  Java: Spark 3.5 runs on 8, 11 and 17 (the launcher adds the --add-opens
# 17 needs), not on 21+; deploy/local/deps.sh installs openjdk-17-jdk-headless.

_SPARK_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=SCRIPTDIR/iceberg.sh
. "$_SPARK_REPO/test/lib/iceberg.sh"
SPARK_VERSION=3.5.6
SPARK_PY_PACKAGES=("pyspark==$SPARK_VERSION" py4j==0.10.9.7)
SPARK_POM=$_SPARK_REPO/test/lib/spark/pom.xml
SPARK_JARS_DIR=$CDC_CACHE/spark-iceberg-jars-1
SPARK_ICEBERG_JARS=

_spark_err() { echo "spark.sh: $*" >&2; }

# A Java Spark 3.5 runs on: java on PATH if it is 8, 11 or 17, else an installed 17 or 11.
_spark_java_home() {
    local j v
    for j in "$(command -v java 2>/dev/null)" /usr/lib/jvm/java-17-openjdk-*/bin/java \
            /usr/lib/jvm/java-11-openjdk-*/bin/java; do
        [ -n "$j" ] && [ -x "$j" ] || continue
        v=$("$j" -version 2>&1 | sed -n 's/.*version "\([0-9]*\)\.\([0-9]*\).*/\1.\2/p' | head -n 1)
        case $v in
            1.8 | 11.* | 17.*)
                j=$(readlink -f "$j")
                echo "${j%/bin/java}"
                return 0
                ;;
        esac
    done
    return 1
}

spark_install() {
    local stage jh
    iceberg_install || return 1
    if ! jh=$(_spark_java_home); then
        _spark_err "no Java 8, 11 or 17 for Spark $SPARK_VERSION (apt-get install openjdk-17-jdk-headless)"
        return 1
    fi
    export JAVA_HOME=$jh
    # pyspark is an sdist: built here (pure Python); everything else stays binary only
    py_venv_install spark.sh "$ICEBERG_VENV" "$ICEBERG_VENV/.spark-installed" \
        "$ICEBERG_VENV.spark.log" --into --no-binary=pyspark -- "${SPARK_PY_PACKAGES[@]}" ||
        return 1
    if ! [ -f "$SPARK_JARS_DIR/.complete" ] || ! cmp -s "$SPARK_POM" "$SPARK_JARS_DIR/pom.xml"; then
        command -v mvn >/dev/null || { _spark_err "mvn is not installed"; return 1; }
        stage=$CDC_CACHE/spark-iceberg-dl
        rm -rf "$stage" "$SPARK_JARS_DIR.tmp" && mkdir -p "$stage" "$SPARK_JARS_DIR.tmp"
        if ! mvn -B -q -f "$SPARK_POM" -Dmaven.repo.local="$stage/m2" \
                dependency:copy-dependencies -DexcludeTransitive=true \
                -DoutputDirectory="$SPARK_JARS_DIR.tmp" >"$stage/mvn.log" 2>&1; then
            _spark_err "the jars of $SPARK_POM did not resolve; see $stage/mvn.log"
            tail -n 5 "$stage/mvn.log" >&2
            return 1
        fi
        cp "$SPARK_POM" "$SPARK_JARS_DIR.tmp/pom.xml"
        rm -rf "$SPARK_JARS_DIR" && mv "$SPARK_JARS_DIR.tmp" "$SPARK_JARS_DIR" && rm -rf "$stage"
        (cd "$SPARK_JARS_DIR" && ls ./*.jar) >"$SPARK_JARS_DIR/.complete"
    fi
    SPARK_ICEBERG_JARS=$(find "$SPARK_JARS_DIR" -maxdepth 1 -name '*.jar' | sort | paste -sd:)
    export SPARK_ICEBERG_JARS
}

spark_read() { "$ICEBERG_PY" "$_SPARK_REPO/test/tools/spark_read.py" "$@"; }

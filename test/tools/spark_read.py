#!/usr/bin/env python3
"""Reads (and writes) Iceberg tables with Apache Spark and Iceberg's own Java runtime, the
second engine beside pyiceberg: Spark's Iceberg SparkCatalog over Iceberg's JdbcCatalog (the
same iceberg_tables rows pyiceberg's SqlCatalog keeps) or RESTCatalog.

    spark_read.py --uri URI --warehouse WH [--catalog NAME] rows NS.TABLE [--key a,b]
        every row of the current snapshot as one JSON object per line, sorted by the key
        columns (default: the table's identifier fields, else every column in order): the
        same lines test/tools/iceberg_read.py prints for pyiceberg (its rendering, its sort),
        so that the two outputs can be compared with diff
    spark_read.py ... sql STATEMENT...
        runs each Spark SQL statement in order (tables are CATALOG.NS.TABLE); the rows of the
        last one are printed as JSON lines, in Spark's order (values as Spark hands them)
    spark_read.py ... steps DIR STEP...
        several in one Spark session, in order: a STEP "sql:STATEMENT" runs the statement (an
        error stops all, exit 1), "save:NAME:STATEMENT" too and writes its rows (as `sql`
        prints them) to DIR/NAME; "rows:NS.TABLE[:KEY]" writes the lines `rows` prints to
        DIR/NS.TABLE, its exit status (0, 3, 4) to DIR/NS.TABLE.rc, its message to .err

URI is the platform's catalog_uri: sqlite:////abs.db, postgresql://user:pass@host:port/db
(Iceberg's JdbcCatalog with the xerial SQLite or the PostgreSQL JDBC driver), or
http://host:port (Iceberg's RESTCatalog; ICE_REST_CREDENTIAL "id:secret" as its OAuth2
credential).  CATALOG is the catalog_name column of the SQL catalog (default "default") and
the catalog's name in Spark SQL (quote it with backticks where it is a keyword).
Exit 3 when the table does not exist, 4 when Spark cannot read one of its types (time).

Runs in test/lib/iceberg.sh's venv with pyspark added by test/lib/spark.sh, which sets
SPARK_ICEBERG_JARS (the runtime jar and the JDBC drivers, colon-separated) and JAVA_HOME.
Spark runs in local[1] with a small driver, no UI, no Hive, logs at ERROR on stderr.
Values: Spark hands timestamptz as a naive local time; this process runs in UTC and marks
them UTC; Spark has no uuid type (a string) and no time type (a table with a time column
cannot be read by Spark 3.5's Iceberg runtime at all); both are put back in pyiceberg's
Python types from the table's Iceberg schema before rendering.
"""
import argparse
import datetime
import json
import os
import shutil
import sys
import tempfile
import time
import urllib.parse
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from iceberg_read import plain, sort_key  # noqa: E402  (the same rendering as pyiceberg's)

os.environ["TZ"] = "UTC"
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
time.tzset()


def catalog_conf(name, uri, warehouse):
    """The Spark properties of catalog NAME for the platform's catalog_uri."""
    p = "spark.sql.catalog." + name
    conf = {p: "org.apache.iceberg.spark.SparkCatalog"}
    if warehouse:
        conf[p + ".warehouse"] = warehouse
    u = urllib.parse.urlsplit(uri)
    if u.scheme in ("http", "https"):
        conf[p + ".type"] = "rest"
        conf[p + ".uri"] = uri
        if os.environ.get("ICE_REST_CREDENTIAL"):
            conf[p + ".credential"] = os.environ["ICE_REST_CREDENTIAL"]
        return conf
    conf[p + ".catalog-impl"] = "org.apache.iceberg.jdbc.JdbcCatalog"
    # pyiceberg's SqlCatalog keeps an iceberg_type column: Iceberg's schema V1
    conf[p + ".jdbc.schema-version"] = "V1"
    if u.scheme == "sqlite":
        # sqlite:////abs/path.db -> jdbc:sqlite:/abs/path.db (SQLAlchemy: 3 slashes + path)
        path = uri[len("sqlite:///"):]
        conf[p + ".uri"] = "jdbc:sqlite:" + path
    elif u.scheme.startswith("postgresql"):
        host = u.hostname or "localhost"
        port = ":%d" % u.port if u.port else ""
        conf[p + ".uri"] = "jdbc:postgresql://%s%s%s" % (host, port, u.path)
        if u.username:
            conf[p + ".jdbc.user"] = urllib.parse.unquote(u.username)
        if u.password:
            conf[p + ".jdbc.password"] = urllib.parse.unquote(u.password)
    else:
        raise SystemExit("spark_read: catalog uri scheme %r is not sqlite, postgresql or http"
                         % u.scheme)
    return conf


def session(args):
    from pyspark.sql import SparkSession
    jars = os.environ.get("SPARK_ICEBERG_JARS", "")
    if not jars:
        raise SystemExit("spark_read: SPARK_ICEBERG_JARS is not set (. test/lib/spark.sh; spark_install)")
    local = tempfile.mkdtemp(prefix="spark-local-")
    log4j = os.path.join(local, "log4j2.properties")
    with open(log4j, "w") as f:
        f.write("rootLogger.level = error\nrootLogger.appenderRef.stderr.ref = console\n"
                "appender.console.type = Console\nappender.console.name = console\n"
                "appender.console.target = SYSTEM_ERR\n"
                "appender.console.layout.type = PatternLayout\n"
                "appender.console.layout.pattern = spark: %p %c{1}: %m%n%ex\n"
                # the level of pyspark's gateway (an "interpreter" to Spark): ERROR, as the root,
                # or Spark announces "Setting default log level to WARN" and lowers the root
                "logger.gw.name = org.apache.spark.api.python.PythonGatewayServer\n"
                "logger.gw.level = error\n")
    b = (SparkSession.builder.master("local[1]").appName("spark_read")
         .config("spark.jars", ",".join(jars.split(":")))
         .config("spark.driver.memory", os.environ.get("SPARK_DRIVER_MEMORY", "512m"))
         .config("spark.driver.extraJavaOptions",
                 "-Dlog4j.configurationFile=file:%s -XX:+UseSerialGC -XX:TieredStopAtLevel=1"
                 % log4j)
         .config("spark.ui.enabled", "false")
         .config("spark.ui.showConsoleProgress", "false")
         .config("spark.sql.shuffle.partitions", "1")
         .config("spark.default.parallelism", "1")
         .config("spark.local.dir", local)
         .config("spark.sql.warehouse.dir", os.path.join(local, "spark-warehouse"))
         .config("spark.sql.catalogImplementation", "in-memory")
         .config("spark.sql.session.timeZone", "UTC")
         .config("spark.sql.extensions",
                 "org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions"))
    for k, v in catalog_conf(args.catalog, args.uri, args.warehouse).items():
        b = b.config(k, v)
    spark = b.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark, local


def quoted(catalog, table):
    return ".".join("`%s`" % p.replace("`", "``") for p in [catalog] + table.split("."))


def iceberg_schema(spark, name):
    """The table's Iceberg schema as Iceberg's own JSON (types, identifier-field-ids)."""
    jvm = spark.sparkContext._jvm
    t = jvm.org.apache.iceberg.spark.Spark3Util.loadIcebergTable(spark._jsparkSession, name)
    return json.loads(jvm.org.apache.iceberg.SchemaParser.toJson(t.schema()))


def to_pyiceberg(typ, v):
    """A value as Spark hands it -> the Python value pyiceberg's to_arrow().to_pylist() gives."""
    if v is None:
        return None
    if isinstance(typ, dict):
        if typ.get("type") == "list":
            return [to_pyiceberg(typ["element"], x) for x in v]
        if typ.get("type") == "struct":
            return {f["name"]: to_pyiceberg(f["type"], v[f["name"]]) for f in typ["fields"]}
        if typ.get("type") == "map":
            return [(to_pyiceberg(typ["key"], k), to_pyiceberg(typ["value"], x))
                    for k, x in v.items()]
        return v
    if typ == "timestamptz":
        return v.replace(tzinfo=datetime.timezone.utc)
    if typ == "uuid":
        return uuid.UUID(v)
    if typ.startswith("fixed[") or typ == "binary":
        return bytes(v)
    return v


def read_rows(spark, catalog, table, key):
    """(exit status, lines, message): the table's rows as iceberg_read.py prints them."""
    name = quoted(catalog, table)
    try:
        schema = iceberg_schema(spark, "%s.%s" % (catalog, table))
        df = spark.table(name)
    except Exception as e:  # AnalysisException, or py4j's error of loadIcebergTable
        msg = str(e)
        if any(s in msg for s in ("TABLE_OR_VIEW_NOT_FOUND", "NoSuchTable", "Cannot find table")):
            return 3, [], "spark_read: %s: no such table" % table
        if "does not support" in msg:  # e.g. "Spark does not support time fields"
            return 4, [], "spark_read: %s: Spark cannot read it: %s" % (
                table, msg.strip().splitlines()[0])
        raise
    types = {f["name"]: f["type"] for f in schema["fields"]}
    rows = [{k: to_pyiceberg(types[k], v) for k, v in r.asDict(recursive=True).items()}
            for r in df.collect()]
    if key:
        cols = key.split(",")
    else:
        byid = {f["id"]: f["name"] for f in schema["fields"]}
        cols = [byid[i] for i in schema.get("identifier-field-ids", [])] or \
            [f["name"] for f in schema["fields"]]
    rows.sort(key=lambda row: sort_key(row, cols))
    return 0, [json.dumps(plain(row), sort_keys=True) for row in rows], ""


def cmd_rows(spark, args):
    rc, lines, msg = read_rows(spark, args.catalog, args.table, args.key)
    for line in lines:
        print(line)
    if msg:
        print(msg, file=sys.stderr)
    return rc


def sql_lines(spark, statements):
    out = None
    for stmt in statements:
        out = spark.sql(stmt).collect()
    return [json.dumps(plain(r.asDict(recursive=True)), sort_keys=True, default=str)
            for r in out or []]


def cmd_sql(spark, args):
    for line in sql_lines(spark, args.statements):
        print(line)
    return 0


def cmd_steps(spark, args):
    """Several reads and statements in one Spark session (one JVM start, about 5 s, instead
    of one each)."""
    os.makedirs(args.dir, exist_ok=True)
    for step in args.steps:
        kind, _, rest = step.partition(":")
        if kind == "sql":
            sql_lines(spark, [rest])
        elif kind == "save":
            name, _, stmt = rest.partition(":")
            with open(os.path.join(args.dir, name), "w") as f:
                f.write("".join(line + "\n" for line in sql_lines(spark, [stmt])))
        elif kind == "rows":
            table, _, key = rest.partition(":")
            rc, lines, msg = read_rows(spark, args.catalog, table, key)
            base = os.path.join(args.dir, table)
            with open(base, "w") as f:
                f.write("".join(line + "\n" for line in lines))
            with open(base + ".rc", "w") as f:
                f.write("%d\n" % rc)
            with open(base + ".err", "w") as f:
                f.write(msg + "\n" if msg else "")
        else:
            raise SystemExit("spark_read: step %r is not sql:..., save:... or rows:..." % step)
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--uri", required=True)
    ap.add_argument("--warehouse", default="")
    ap.add_argument("--catalog", default="default")
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("rows")
    r.add_argument("table")
    r.add_argument("--key", default="")
    q = sub.add_parser("sql")
    q.add_argument("statements", nargs="+")
    st = sub.add_parser("steps")
    st.add_argument("dir")
    st.add_argument("steps", nargs="+")
    args = ap.parse_args()
    spark, local = session(args)
    try:
        return {"rows": cmd_rows, "sql": cmd_sql, "steps": cmd_steps}[args.cmd](spark, args)
    finally:
        spark.stop()
        shutil.rmtree(local, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

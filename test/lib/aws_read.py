#!/usr/bin/env python3
"""Test-side AWS client for moto (test/lib/moto.sh): Kinesis streams, DynamoDB tables, STS.

Run it with moto.sh's $MOTO_PY (boto3 is in that venv). The endpoint, region and dummy
credentials come from the environment that moto_env exports (AWS_ENDPOINT_URL, AWS_REGION,
AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY); boto3 honours AWS_ENDPOINT_URL itself.

  aws_read.py create-stream NAME SHARDS     create (if missing) and wait until ACTIVE
  aws_read.py describe-stream NAME          one JSON object: name, status, shards
  aws_read.py put-records NAME              JSON lines {"key":..,"data":..} on stdin, sent
                                            with PutRecords in requests of at most 500;
                                            prints one JSON line per record: shard, seq, key
  aws_read.py read NAME [--after SHARD=SEQ]... [--at SHARD=SEQ]...
                                            every record of every shard, from TRIM_HORIZON
                                            (or after / at a sequence number for the shards
                                            named), until caught up; one JSON line per record:
                                            {"stream","shard","seq","key","data_b64","data"}
                                            ("data" is the UTF-8 text, or null if not UTF-8),
                                            shards in ListShards order, records in shard order
  aws_read.py scan TABLE                    every item of a DynamoDB table as a JSON line
                                            (plain JSON: numbers as int or float, sorted keys)
  aws_read.py describe-table TABLE          key schema and billing mode as JSON

Errors name the stream or table and the AWS error code, exit 1.
"""

import base64
import json
import os
import sys
import time
from decimal import Decimal


def _boto3():
    try:
        import boto3  # noqa: PLC0415
        from botocore.config import Config  # noqa: PLC0415
    except ImportError:
        sys.exit("aws_read.py: boto3 is missing: run it with moto.sh's $MOTO_PY")
    return boto3, Config


def client(service):
    boto3, Config = _boto3()
    if not os.environ.get("AWS_ENDPOINT_URL") and not os.environ.get(
            "AWS_ENDPOINT_URL_" + service.upper()):
        sys.exit("aws_read.py: AWS_ENDPOINT_URL is not set (source test/lib/moto.sh, moto_env)")
    # No retries: a test wants to see the first error, not a slow success.
    return boto3.client(service, config=Config(retries={"total_max_attempts": 1, "mode": "standard"}))


def die(what, err):
    code = getattr(err, "response", {}).get("Error", {}).get("Code", type(err).__name__)
    msg = getattr(err, "response", {}).get("Error", {}).get("Message", str(err))
    sys.exit(f"aws_read.py: {what}: {code}: {msg}")


def out(obj):
    sys.stdout.write(json.dumps(obj, sort_keys=True) + "\n")


# ------------------------------------------------------------------ Kinesis

def list_shards(k, name):
    shards, token = [], None
    while True:
        args = {"NextToken": token} if token else {"StreamName": name}
        resp = k.list_shards(**args)
        shards += resp["Shards"]
        token = resp.get("NextToken")
        if not token:
            return shards


def describe_stream(k, name):
    s = k.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    return {
        "name": s["StreamName"],
        "status": s["StreamStatus"],
        "open_shards": s["OpenShardCount"],
        "retention_hours": s["RetentionPeriodHours"],
        "shards": [{"id": sh["ShardId"],
                    "hash": [sh["HashKeyRange"]["StartingHashKey"],
                             sh["HashKeyRange"]["EndingHashKey"]],
                    "seq": [sh["SequenceNumberRange"]["StartingSequenceNumber"],
                            sh["SequenceNumberRange"].get("EndingSequenceNumber")]}
                   for sh in list_shards(k, name)],
    }


def cmd_create_stream(name, shards):
    k = client("kinesis")
    try:
        k.create_stream(StreamName=name, ShardCount=int(shards))
    except k.exceptions.ResourceInUseException:
        pass
    except Exception as e:  # noqa: BLE001
        die(f"create stream {name} with {shards} shards", e)
    for _ in range(100):
        d = describe_stream(k, name)
        if d["status"] == "ACTIVE":
            out(d)
            return
        time.sleep(0.1)
    sys.exit(f"aws_read.py: stream {name} not ACTIVE after 10 s")


def cmd_describe_stream(name):
    k = client("kinesis")
    try:
        out(describe_stream(k, name))
    except Exception as e:  # noqa: BLE001
        die(f"describe stream {name}", e)


def cmd_put_records(name):
    k = client("kinesis")
    recs = [json.loads(line) for line in sys.stdin if line.strip()]
    for i in range(0, len(recs), 500):
        chunk = recs[i:i + 500]
        try:
            resp = k.put_records(StreamName=name, Records=[
                {"PartitionKey": r["key"], "Data": r["data"].encode()} for r in chunk])
        except Exception as e:  # noqa: BLE001
            die(f"PutRecords to {name} (records {i}..{i + len(chunk) - 1})", e)
        for r, res in zip(chunk, resp["Records"]):
            out({"key": r["key"], "shard": res.get("ShardId"), "seq": res.get("SequenceNumber"),
                 "error": res.get("ErrorCode")})


def _pos_args(argv):
    pos = {}
    i = 0
    while i < len(argv):
        flag = argv[i]
        if flag not in ("--after", "--at") or i + 1 >= len(argv) or "=" not in argv[i + 1]:
            sys.exit(f"aws_read.py read: bad argument {flag!r}: want --after|--at SHARD=SEQ")
        shard, seq = argv[i + 1].split("=", 1)
        pos[shard] = ("AFTER_SEQUENCE_NUMBER" if flag == "--after" else "AT_SEQUENCE_NUMBER", seq)
        i += 2
    return pos


def cmd_read(name, argv):
    pos = _pos_args(argv)
    k = client("kinesis")
    try:
        shards = list_shards(k, name)
    except Exception as e:  # noqa: BLE001
        die(f"list shards of {name}", e)
    unknown = set(pos) - {s["ShardId"] for s in shards}
    if unknown:
        sys.exit(f"aws_read.py: stream {name} has no shard {sorted(unknown)}")
    for sh in shards:
        sid = sh["ShardId"]
        args = {"StreamName": name, "ShardId": sid, "ShardIteratorType": "TRIM_HORIZON"}
        if sid in pos:
            args["ShardIteratorType"], args["StartingSequenceNumber"] = pos[sid]
        try:
            it = k.get_shard_iterator(**args)["ShardIterator"]
            while it:
                resp = k.get_records(ShardIterator=it, Limit=10000)
                for r in resp["Records"]:
                    data = r["Data"]
                    try:
                        text = data.decode("utf-8")
                    except UnicodeDecodeError:
                        text = None
                    out({"stream": name, "shard": sid, "seq": r["SequenceNumber"],
                         "key": r["PartitionKey"],
                         "data_b64": base64.b64encode(data).decode(), "data": text})
                it = resp.get("NextShardIterator")
                # Caught up: an open shard answers an empty page with MillisBehindLatest 0;
                # a closed shard ends with no NextShardIterator.
                if not resp["Records"] and resp.get("MillisBehindLatest", 0) == 0:
                    break
        except Exception as e:  # noqa: BLE001
            die(f"read shard {sid} of {name}", e)


# ------------------------------------------------------------------ DynamoDB

def _plain(v):
    if isinstance(v, Decimal):
        return int(v) if v == v.to_integral_value() else float(v)
    if isinstance(v, (bytes, bytearray)):
        return {"b64": base64.b64encode(bytes(v)).decode()}
    if hasattr(v, "value") and type(v).__name__ == "Binary":
        return {"b64": base64.b64encode(v.value).decode()}
    if isinstance(v, dict):
        return {kk: _plain(vv) for kk, vv in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, set):
        return sorted(_plain(x) for x in v)
    return v


def cmd_scan(table):
    from boto3.dynamodb.types import TypeDeserializer  # noqa: PLC0415
    d = client("dynamodb")
    des = TypeDeserializer()
    args = {"TableName": table, "ConsistentRead": True}
    try:
        while True:
            resp = d.scan(**args)
            for item in resp["Items"]:
                out({kk: _plain(des.deserialize(vv)) for kk, vv in item.items()})
            if "LastEvaluatedKey" not in resp:
                return
            args["ExclusiveStartKey"] = resp["LastEvaluatedKey"]
    except Exception as e:  # noqa: BLE001
        die(f"scan table {table}", e)


def cmd_describe_table(table):
    d = client("dynamodb")
    try:
        t = d.describe_table(TableName=table)["Table"]
    except Exception as e:  # noqa: BLE001
        die(f"describe table {table}", e)
    out({"name": t["TableName"], "status": t["TableStatus"],
         "keys": [[k["AttributeName"], k["KeyType"]] for k in t["KeySchema"]],
         "attributes": {a["AttributeName"]: a["AttributeType"] for a in t["AttributeDefinitions"]},
         "billing": t.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED")})


def main(argv):
    cmds = {
        "create-stream": (cmd_create_stream, 2),
        "describe-stream": (cmd_describe_stream, 1),
        "put-records": (cmd_put_records, 1),
        "scan": (cmd_scan, 1),
        "describe-table": (cmd_describe_table, 1),
    }
    if len(argv) >= 2 and argv[0] == "read":
        return cmd_read(argv[1], argv[2:])
    if not argv or argv[0] not in cmds or len(argv) - 1 != cmds[argv[0]][1]:
        sys.exit(__doc__)
    fn, _ = cmds[argv[0]]
    return fn(*argv[1:])


if __name__ == "__main__":
    main(sys.argv[1:])

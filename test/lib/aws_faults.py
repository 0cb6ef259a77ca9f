#!/usr/bin/env python3
"""A fault-injecting HTTP proxy in front of moto (moto itself injects nothing: see moto.sh).

  aws_faults.py LISTEN_PORT UPSTREAM_PORT [LOG]

Listens on 127.0.0.1:LISTEN_PORT and forwards every request to moto on
127.0.0.1:UPSTREAM_PORT, except those a rule picks.  Rules are set and read over HTTP on the
same port (moto.sh's moto_fault and moto_fault_log wrap these):

  POST /__faults   body: a JSON list of rules (replaces the current ones; [] clears)
  GET  /__faults   {"rules": [...with "hits" counted...], "requests": N}
  GET  /__health   200 "ok"

A rule is a JSON object:
  "match"   the X-Amz-Target it applies to, whole or its action after the dot:
            "PutRecords", "Kinesis_20131202.PutRecords", "DynamoDB_20120810.PutItem",
            "*" (any request), "sts:ACTION" for the Query API (Action=... in the body), or
            "s3:OPERATION" for S3's REST calls, named from the method and the query:
            s3:PutObject, s3:GetObject, s3:HeadObject, s3:DeleteObject, s3:ListObjectsV2,
            s3:CreateBucket, s3:CreateMultipartUpload, s3:UploadPart,
            s3:CompleteMultipartUpload, s3:AbortMultipartUpload.
  "fault"   "throttle"  400 ProvisionedThroughputExceededException (Kinesis and DynamoDB;
                        ThrottlingException with "code" to override), nothing forwarded
            "partial"   PutRecords only: the records picked by "fail" are removed from the
                        request, the rest forwarded to moto (so they ARE stored, as AWS does),
                        and the answer has the removed ones back in place with ErrorCode
                        ProvisionedThroughputExceededException (or "code") and
                        FailedRecordCount set
            "http"      answer "status" (default 500) with "body" (default a JSON
                        InternalFailure), nothing forwarded
            "garbage"   200 with a body that is not JSON, nothing forwarded
            "drop"      close the connection without an answer, nothing forwarded
            "delay"     sleep "seconds" (default 2), then forward normally
  "times"   how many matching requests to hit (default 1; 0 = no limit)
  "after"   matching requests to let through first (default 0)
  "rate"    hit only this fraction of the matching requests (seeded: "seed", default 1)
  "fail"    for "partial": "every:N" (records 0, N, 2N, ... of the request), "index:I,J",
            "keys:K1,K2" (every record with one of those partition keys), or "first:N"
  "code"    error code to answer ("throttle", "partial")

Every injected fault is logged as a JSON line to LOG (default stderr): rule index, fault,
target, and for "partial" the failed indexes and keys.  The proxy rewrites bodies, so it
cannot be combined with moto's signature checking (INITIAL_NO_AUTH_ACTION_COUNT).
"""

import http.client
import http.server
import json
import random
import sys
import threading
import time
import urllib.parse

LOCK = threading.Lock()
STATE = {"rules": [], "requests": 0}
UPSTREAM = None
LOG = sys.stderr


def log(obj):
    with LOCK:
        LOG.write(json.dumps(obj, sort_keys=True) + "\n")
        LOG.flush()


def s3_target(method, path):
    """S3's operation of a REST request (path style: /bucket[/key]), or ""."""
    url = urllib.parse.urlsplit(path)
    q = urllib.parse.parse_qs(url.query, keep_blank_values=True)
    parts = url.path.lstrip("/").split("/", 1)
    has_key = len(parts) == 2 and parts[1] != ""
    if not parts[0] or parts[0].startswith("__") or parts[0] == "moto-api":
        return ""
    if method == "POST" and "uploads" in q:
        return "s3:CreateMultipartUpload"
    if "uploadId" in q:
        if method == "PUT":
            return "s3:UploadPart"
        if method == "POST":
            return "s3:CompleteMultipartUpload"
        if method == "DELETE":
            return "s3:AbortMultipartUpload"
        return "s3:ListParts"
    if not has_key:
        return {"GET": "s3:ListObjectsV2" if q.get("list-type") == ["2"] else "s3:ListObjects",
                "PUT": "s3:CreateBucket", "HEAD": "s3:HeadBucket",
                "DELETE": "s3:DeleteBucket"}.get(method, "")
    return {"GET": "s3:GetObject", "PUT": "s3:PutObject", "HEAD": "s3:HeadObject",
            "DELETE": "s3:DeleteObject"}.get(method, "")


def target_of(headers, body, method="POST", path="/"):
    t = headers.get("X-Amz-Target")
    if t:
        return t
    if body and b"Action=" in body:
        q = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
        if "Action" in q:
            return "sts:" + q["Action"][0]
    return s3_target(method, path)


def matches(rule, target):
    m = rule.get("match", "*")
    return m == "*" or m == target or (target.split(".", 1)[-1] == m and "." in target)


def pick_rule(target):
    """The first rule that fires for this request, counting its matches; None if none."""
    with LOCK:
        STATE["requests"] += 1
        for i, r in enumerate(STATE["rules"]):
            if not matches(r, target):
                continue
            r["seen"] = r.get("seen", 0) + 1
            if r["seen"] <= r.get("after", 0):
                continue
            times = r.get("times", 1)
            if times and r.get("hits", 0) >= times:
                continue
            if "rate" in r and r["_rng"].random() >= r["rate"]:
                continue
            r["hits"] = r.get("hits", 0) + 1
            return i, r
    return None


def failed_indexes(rule, records):
    spec = rule.get("fail", "every:2")
    kind, _, arg = spec.partition(":")
    n = len(records)
    if kind == "every":
        step = max(1, int(arg))
        return [i for i in range(n) if i % step == 0]
    if kind == "index":
        return sorted({int(x) for x in arg.split(",") if x and int(x) < n})
    if kind == "first":
        return list(range(min(n, int(arg))))
    if kind == "keys":
        keys = set(arg.split(","))
        return [i for i, r in enumerate(records) if r.get("PartitionKey") in keys]
    raise ValueError(f"bad fail spec {spec!r}")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):  # quiet: moto logs the requests
        pass

    def answer(self, status, body, ctype="application/x-amz-json-1.1", extra=None):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        if "Content-Length" not in (extra or {}):   # a HEAD's is the object's, kept
            self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def forward(self, body):
        conn = http.client.HTTPConnection("127.0.0.1", UPSTREAM, timeout=60)
        headers = {k: v for k, v in self.headers.items()
                   if k.lower() not in ("content-length", "connection", "transfer-encoding")}
        headers["Content-Length"] = str(len(body))
        conn.request(self.command, self.path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        hdrs = {k: v for k, v in resp.getheaders()
                if k.lower() not in ("content-length", "connection", "transfer-encoding",
                                     "content-type", "date", "server")}
        ctype = resp.getheader("Content-Type", "application/x-amz-json-1.1")
        if self.command == "HEAD" and resp.getheader("Content-Length"):
            hdrs["Content-Length"] = resp.getheader("Content-Length")
        conn.close()
        return resp.status, data, ctype, hdrs

    def control(self, body):
        if self.command == "POST":
            try:
                rules = json.loads(body or b"[]")
                assert isinstance(rules, list)
                for r in rules:
                    r["_rng"] = random.Random(r.get("seed", 1))
                    if r.get("fault") not in ("throttle", "partial", "http", "garbage",
                                              "drop", "delay"):
                        raise ValueError(f"unknown fault {r.get('fault')!r}")
            except (ValueError, AssertionError) as e:
                return self.answer(400, f"bad rules: {e}\n".encode(), "text/plain")
            with LOCK:
                STATE["rules"] = rules
        with LOCK:
            out = {"requests": STATE["requests"],
                   "rules": [{k: v for k, v in r.items() if not k.startswith("_")}
                             for r in STATE["rules"]]}
        return self.answer(200, json.dumps(out, sort_keys=True).encode(), "application/json")

    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        path = self.path.split("?", 1)[0]
        if path == "/__faults":
            return self.control(body)
        if path == "/__health":
            return self.answer(200, b"ok\n", "text/plain")
        target = target_of(self.headers, body, self.command, self.path)
        hit = pick_rule(target)
        if hit is None:
            return self.answer(*self.forward(body))
        idx, rule = hit
        fault = rule["fault"]
        entry = {"rule": idx, "fault": fault, "target": target}
        if fault == "throttle":
            code = rule.get("code", "ProvisionedThroughputExceededException")
            log(entry)
            return self.answer(400, json.dumps({"__type": code,
                                                "message": "Rate exceeded (injected)"}).encode())
        if fault == "http":
            status = int(rule.get("status", 500))
            log(dict(entry, status=status))
            body_out = rule.get("body", json.dumps({"__type": "InternalFailure",
                                                    "message": "injected"}))
            return self.answer(status, body_out.encode())
        if fault == "garbage":
            log(entry)
            return self.answer(200, b"<html>this is not JSON</html>", "text/html")
        if fault == "drop":
            log(entry)
            self.close_connection = True
            self.connection.shutdown(2)
            return None
        if fault == "delay":
            log(dict(entry, seconds=rule.get("seconds", 2)))
            time.sleep(float(rule.get("seconds", 2)))
            return self.answer(*self.forward(body))
        # partial
        req = json.loads(body)
        records = req.get("Records", [])
        failed = failed_indexes(rule, records)
        keep = [r for i, r in enumerate(records) if i not in set(failed)]
        if keep:
            status, data, ctype, hdrs = self.forward(json.dumps(dict(req, Records=keep)).encode())
            if status != 200:
                return self.answer(status, data, ctype, hdrs)
            done = iter(json.loads(data)["Records"])
        else:
            done, ctype, hdrs = iter(()), "application/x-amz-json-1.1", {}
        code = rule.get("code", "ProvisionedThroughputExceededException")
        merged = []
        for i in range(len(records)):
            if i in set(failed):
                merged.append({"ErrorCode": code,
                               "ErrorMessage": "Rate exceeded for shard (injected)"})
            else:
                merged.append(next(done))
        log(dict(entry, failed=failed, keys=[records[i].get("PartitionKey") for i in failed],
                 records=len(records)))
        return self.answer(200, json.dumps({"FailedRecordCount": len(failed),
                                            "Records": merged}).encode(), ctype, hdrs)

    do_POST = do_GET = do_PUT = do_DELETE = do_HEAD = handle_any


def main():
    global UPSTREAM, LOG
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    listen, UPSTREAM = int(sys.argv[1]), int(sys.argv[2])
    if len(sys.argv) == 4:
        LOG = open(sys.argv[3], "a", encoding="utf-8")
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", listen), Handler)
    srv.daemon_threads = True
    srv.serve_forever()


if __name__ == "__main__":
    main()

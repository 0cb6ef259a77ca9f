#!/usr/bin/env python3
"""A webhook receiver for the tests (a test double, not a product).

Records every request it gets, one JSON line per request in --log:
  {"n": N, "method": "POST", "path": "/x", "headers": {...}, "body": <parsed JSON or text>,
   "raw": <the body's text as received>, "status": <what it answered>, "t": <unix time>}
and answers 200 unless told otherwise:
  --fail-first N        answer --fail-status (default 500) to the first N requests
  --fail-while FILE     answer --fail-status to every request while FILE exists
  --fail-status S
  --retry-after SEC     add Retry-After: SEC to those failures
  --reject SUBSTR       answer 400 to any request whose body contains SUBSTR (repeatable)
  --sleep-ms MS         wait MS before answering every request
  --slow-first N        only the first N requests sleep
The port is --port (0 picks one); it is written to --port-file once listening.
HTTPS instead of HTTP (off unless --cert is given):
  --cert PEM --key PEM  the server's certificate (chain) and key
  --client-ca PEM       require a client certificate signed by this CA; each logged
                        request then also has "client_cn": the certificate's CN
A failed TLS handshake is reported on stderr and logs no request.
Runs until SIGTERM.
"""
import argparse
import json
import os
import signal
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ap = argparse.ArgumentParser()
ap.add_argument("--port", type=int, default=0)
ap.add_argument("--port-file")
ap.add_argument("--log", required=True)
ap.add_argument("--fail-first", type=int, default=0)
ap.add_argument("--fail-status", type=int, default=500)
ap.add_argument("--fail-while")
ap.add_argument("--retry-after", type=int, default=0)
ap.add_argument("--reject", action="append", default=[])
ap.add_argument("--sleep-ms", type=int, default=0)
ap.add_argument("--slow-first", type=int, default=-1)
ap.add_argument("--cert")
ap.add_argument("--key")
ap.add_argument("--client-ca")
args = ap.parse_args()
if (args.key or args.client_ca) and not args.cert:
    ap.error("--key and --client-ca need --cert")

lock = threading.Lock()
count = 0
log = open(args.log, "a", buffering=1)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *a):  # quiet
        pass

    def handle_any(self):
        global count
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        with lock:
            count += 1
            n = count
        if args.sleep_ms and (args.slow_first < 0 or n <= args.slow_first):
            time.sleep(args.sleep_ms / 1000.0)
        text = raw.decode("utf-8", "replace")
        status, extra = 200, {}
        if n <= args.fail_first or (args.fail_while and os.path.exists(args.fail_while)):
            status = args.fail_status
            if args.retry_after:
                extra["Retry-After"] = str(args.retry_after)
        elif any(s in text for s in args.reject):
            status = 400
        try:
            body = json.loads(text)
        except ValueError:
            body = text
        rec = {"n": n, "method": self.command, "path": self.path,
               "headers": {k: v for k, v in self.headers.items()},
               "body": body, "raw": text, "status": status, "t": time.time()}
        if args.client_ca:
            subject = dict(kv for rdn in self.request.getpeercert().get("subject", ()) for kv in rdn)
            rec["client_cn"] = subject.get("commonName")
        with lock:
            log.write(json.dumps(rec) + "\n")
        reply = b'{"ok":true}' if status < 300 else b'{"error":"refused by the test receiver"}'
        self.send_response(status)
        for k, v in extra.items():
            self.send_header(k, v)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    do_POST = do_PUT = do_PATCH = handle_any


class TLSServer(ThreadingHTTPServer):
    """Handshakes in the request's thread, so that a failing client holds up no other."""

    def finish_request(self, request, client_address):
        try:
            request.do_handshake()
        except (ssl.SSLError, OSError) as e:
            print("webhook_receiver: TLS handshake with %s:%d failed: %s" % (client_address + (e,)),
                  file=sys.stderr, flush=True)
            return
        super().finish_request(request, client_address)


srv = (TLSServer if args.cert else ThreadingHTTPServer)(("127.0.0.1", args.port), Handler)
srv.daemon_threads = True
if args.cert:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    if args.client_ca:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(args.client_ca)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True, do_handshake_on_connect=False)
if args.port_file:
    with open(args.port_file + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    import os
    os.rename(args.port_file + ".tmp", args.port_file)
signal.signal(signal.SIGTERM, lambda *a: threading.Thread(target=srv.shutdown).start())
srv.serve_forever()
sys.exit(0)

#!/usr/bin/env python3
"""moto's server (python -m moto.server, same arguments), with one request at a time.

moto's Kinesis numbers a shard's records with "last + 1" and says itself that this "is not
safe for concurrency" (kinesis/models.py, Shard.put_record); its server is threaded
(run_simple(threaded=True) in moto/server.py).  Measured: 8 clients sending PutRecords to one
shard at once, 12,000 records accepted, 11,983 stored: two records got the same sequence
number and one replaced the other, while both were answered as stored.  A transport test that
counts "0 lost" would then fail because of moto.  This wrapper keeps the threaded server
(connections are still accepted while a request runs) but runs the application under one
lock, body included, so moto handles one request at a time.
"""

import sys
import threading

import moto.server as server

_LOCK = threading.Lock()
_run_simple = server.run_simple


def _serialized(app):
    def wrapped(environ, start_response):
        with _LOCK:
            it = app(environ, start_response)
            try:
                body = b"".join(it)
            finally:
                close = getattr(it, "close", None)
                if close:
                    close()
        return [body]
    return wrapped


def _run_simple_serialized(host, port, app, **kw):
    return _run_simple(host, port, _serialized(app), **kw)


server.run_simple = _run_simple_serialized

if __name__ == "__main__":
    server.main(sys.argv[1:])
